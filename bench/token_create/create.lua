-- bench/token_create/create.lua — wrk script: POST /v1/auth/token/create
-- with the token in TROVE_TOKEN, counting non-200 answers so that a run
-- that only measured errors is never mistaken for a result.
local token = os.getenv("TROVE_TOKEN") or ""
local body = os.getenv("TOKEN_BODY") or '{"policies":["default"],"ttl":"1h"}'

wrk.method = "POST"
wrk.path = "/v1/auth/token/create"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = token

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	bad = 0
	first_bad = nil
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
