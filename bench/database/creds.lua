-- bench/database/creds.lua — wrk script: GET database/creds/<ROLE> with
-- the token in TOKEN; each request makes a database user and a lease.
dofile("bench/lib/count.lua")

wrk.method = "GET"
wrk.path = "/v1/database/creds/" .. (os.getenv("ROLE") or "bench")
wrk.headers["X-Vault-Token"] = os.getenv("TOKEN") or ""
