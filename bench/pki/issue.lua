-- bench/pki/issue.lua — wrk script: POST pki/issue/<ROLE> for one name
-- with the token in TOKEN.
dofile("bench/lib/count.lua")

wrk.method = "POST"
wrk.path = "/v1/pki/issue/" .. (os.getenv("ROLE") or "bench-ec")
wrk.body = '{"common_name":"svc.bench.test","ttl":"1h"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = os.getenv("TOKEN") or ""
