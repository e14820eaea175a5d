-- bench/approle/login.lua — wrk script: POST auth/approle/login with one
-- role ID and secret ID (from ROLE_ID and SECRET_ID).
dofile("bench/lib/count.lua")

wrk.method = "POST"
wrk.path = "/v1/auth/approle/login"
wrk.body = string.format('{"role_id":"%s","secret_id":"%s"}', os.getenv("ROLE_ID") or "",
	os.getenv("SECRET_ID") or "")
wrk.headers["Content-Type"] = "application/json"
