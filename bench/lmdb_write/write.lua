-- bench/lmdb_write/write.lua — wrk script for the durable-write workloads:
-- WORKLOAD=token-create posts to /v1/auth/token/create, WORKLOAD=kv-write
-- writes a new kv-v2 secret per request. The token comes from TROVE_TOKEN.
dofile("bench/lib/count.lua")

local token = os.getenv("TROVE_TOKEN") or ""
local workload = os.getenv("WORKLOAD") or "token-create"
local body = os.getenv("TOKEN_BODY") or '{"policies":["default"],"ttl":"1h"}'

wrk.method = "POST"
wrk.path = "/v1/auth/token/create"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = token

if workload == "kv-write" then
	-- A distinct secret per request: writes to one secret serialise.
	local kv_body = '{"data":{"username":"app","password":"0123456789abcdef01234567"}}'
	function request()
		counter = counter + 1
		return wrk.format("POST", "/v1/secret/data/bench/t" .. id .. "-" .. counter, nil, kv_body)
	end
end
