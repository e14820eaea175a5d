-- bench/lmdb_write/write.lua — wrk script for the durable-write workloads:
-- WORKLOAD=token-create posts to /v1/auth/token/create, WORKLOAD=kv-write
-- writes a new kv-v2 secret per request. The token comes from TROVE_TOKEN.
-- Non-200 answers are counted so that a run that only measured errors is
-- never mistaken for a result.
local token = os.getenv("TROVE_TOKEN") or ""
local workload = os.getenv("WORKLOAD") or "token-create"
local body = os.getenv("TOKEN_BODY") or '{"policies":["default"],"ttl":"1h"}'

wrk.method = "POST"
wrk.path = "/v1/auth/token/create"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = token

local threads = {}
local next_id = 0

function setup(thread)
	next_id = next_id + 1
	thread:set("id", next_id)
	table.insert(threads, thread)
end

function init(args)
	bad = 0
	first_bad = nil
	counter = 0
end

if workload == "kv-write" then
	-- A distinct secret per request: writes to one secret serialise.
	local kv_body = '{"data":{"username":"app","password":"0123456789abcdef01234567"}}'
	function request()
		counter = counter + 1
		return wrk.format("POST", "/v1/secret/data/bench/t" .. id .. "-" .. counter, nil, kv_body)
	end
end

function response(status, headers, resp_body)
	if status ~= 200 then
		bad = bad + 1
		if first_bad == nil then
			first_bad = status .. " " .. string.sub(resp_body or "", 1, 200)
		end
	end
end

function done(summary, latency, requests)
	local total_bad = 0
	for _, t in ipairs(threads) do
		total_bad = total_bad + (t:get("bad") or 0)
		local fb = t:get("first_bad")
		if fb ~= nil then
			io.stderr:write("first non-200: " .. fb .. "\n")
		end
	end
	io.write(string.format("non200=%d requests=%d rate=%.1f\n", total_bad, summary.requests,
		summary.requests / (summary.duration / 1e6)))
end
