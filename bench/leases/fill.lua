-- bench/leases/fill.lua — creates LEASES service tokens (each with a
-- lease) through POST /v1/auth/token/create, then stops. TTL from
-- LEASE_TTL (default 720h); the token from TROVE_TOKEN.
dofile("bench/lib/count.lua")

local token = os.getenv("TROVE_TOKEN") or ""
local ttl = os.getenv("LEASE_TTL") or "720h"
local total = tonumber(os.getenv("LEASES") or "100000")

wrk.method = "POST"
wrk.path = "/v1/auth/token/create"
wrk.body = '{"policies":["default"],"ttl":"' .. ttl .. '"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = token

local base_response = response
local per_thread = total
function init(args)
	bad = 0
	first_bad = nil
	counter = 0
	per_thread = math.ceil(total / tonumber(args[1] or "1"))
end

function response(status, headers, body)
	base_response(status, headers, body)
	counter = counter + 1
	if counter >= per_thread then
		wrk.thread:stop()
	end
end
