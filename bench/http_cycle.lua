-- bench/http_cycle.lua - wrk script: full task cycles over HTTP keep-alive
-- against codeq-api (bench/http_run).  Each wrk thread holds one
-- connection and loops create -> claim -> result; with BATCH=N in the
-- environment, batch create of N -> batch claim of N -> batch results.
-- Counts finished tasks per thread; done() prints the total.
local token = os.getenv("TOKEN") or "secret-bench"
local queue = os.getenv("QUEUE") or "bench"
local batch = tonumber(os.getenv("BATCH") or "0")
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	step, done_tasks, claimed, refused = 0, 0, {}, 0
	headers = { ["Authorization"] = "Bearer " .. token,
		["Content-Type"] = "application/json" }
	local t = {}
	for i = 1, math.max(batch, 1) do
		t[i] = '{"command":"' .. queue .. '","payload":{"i":' .. i .. '}}'
	end
	create_batch = '{"tasks":[' .. table.concat(t, ",") .. ']}'
end

local function results_body()
	local r = {}
	for i, c in ipairs(claimed) do
		r[i] = '{"taskId":"' .. c[1] .. '","leaseToken":"' .. c[2] ..
		    '","status":"COMPLETED","result":{"ok":true}}'
	end
	return '{"results":[' .. table.concat(r, ",") .. ']}'
end

function request()
	if step == 0 and batch > 0 then
		return wrk.format("POST", "/v1/codeq/tasks/batch", headers, create_batch)
	elseif step == 0 then
		return wrk.format("POST", "/v1/codeq/tasks", headers,
		    '{"command":"' .. queue .. '","payload":{"n":1}}')
	elseif step == 1 and batch > 0 then
		return wrk.format("POST", "/v1/codeq/tasks/claim/batch", headers,
		    '{"commands":["' .. queue .. '"],"count":' .. batch .. '}')
	elseif step == 1 then
		return wrk.format("POST", "/v1/codeq/tasks/claim", headers,
		    '{"commands":["' .. queue .. '"]}')
	elseif batch > 0 then
		return wrk.format("POST", "/v1/codeq/tasks/batch/results", headers,
		    results_body())
	end
	local c = claimed[1]
	return wrk.format("POST", "/v1/codeq/tasks/" .. c[1] .. "/result", headers,
	    '{"status":"COMPLETED","result":{"ok":true},"leaseToken":"' .. c[2] .. '"}')
end

function response(status, hdrs, body)
	if status >= 300 and status ~= 204 then
		refused = refused + 1
	end
	if step == 0 then
		step = 1
	elseif step == 1 then
		claimed = {}
		for id, tok in string.gmatch(body or "", '"id":"([^"]+)".-"leaseToken":"([^"]+)"') do
			table.insert(claimed, { id, tok })
		end
		-- Nothing claimed (another thread took it): create again.
		step = #claimed > 0 and 2 or 0
	else
		done_tasks = done_tasks + #claimed
		step = 0
	end
end

function done(summary, latency, requests)
	local total, bad = 0, 0
	for _, t in ipairs(threads) do
		total = total + t:get("done_tasks")
		bad = bad + t:get("refused")
	end
	io.write(string.format("tasks %d seconds %.2f tasks/s %.0f requests/s %.0f errors %d\n",
	    total, summary.duration / 1e6, total / (summary.duration / 1e6),
	    summary.requests / (summary.duration / 1e6), bad))
end
