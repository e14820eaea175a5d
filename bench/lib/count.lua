-- bench/lib/count.lua — loaded by the wrk scripts (dofile): counts the
-- answers that were not 200, so that a run of errors is never mistaken
-- for a result, and prints "non200=N requests=N rate=R" at the end.
local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads)
end

function init(args)
	bad = 0
	first_bad = nil
	counter = 0
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
