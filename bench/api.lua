-- bench/api.lua - wrk's script for bench/api: POST the message in the
-- file $GW_API_BODY to /v1/messages with the key $GW_API_KEY, on
-- keep-alive connections, and count the 202s (each one a message
-- committed to gwd's queue) and the rest.
local f = assert(io.open(os.getenv("GW_API_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("GW_API_KEY")

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	accepted = 0
	other = 0
end

function response(status, headers, body)
	if status == 202 then
		accepted = accepted + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local a, o = 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("accepted")
		o = o + t:get("other")
	end
	io.write(string.format("accepted=%d other=%d errors=%d " ..
	    "p50_ms=%.2f p99_ms=%.2f\n", a, o,
	    summary.errors.connect + summary.errors.read +
	    summary.errors.write + summary.errors.status +
	    summary.errors.timeout,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
