-- wrk script: POST /v1/provider/events, each request a provider's event signed beforehand.
--
--   BENCH_API_KEY=<the provider's key> BENCH_EVENTS_FILE=<file> BENCH_THREADS=<wrk's -t> \
--     wrk -t1 -c4 -d10s -s benchmarks/events.lua http://127.0.0.1:8001
--
-- Signing is HMAC-SHA256 over id.timestamp.body (Standard Webhooks), which wrk's Lua cannot do,
-- so scripts/bench.py signs the events just before the run (the timestamp must be within five
-- minutes of the gateway's clock) and writes one per line: webhook-id, webhook-timestamp,
-- webhook-signature and the body, separated by tabs. Thread k of n sends lines k, k+n, k+2n...
-- A line is never sent twice (a repeated webhook-id would be answered as a duplicate, cheaply):
-- when a thread runs out it sends nothing more that counts, and `done` reports it.
--
-- 200: referral_api applied the event within the request. 202: it was kept, to be applied after
-- an earlier message about the same case (the answer is still the gateway's to give at once).
-- Anything else is counted as a failure. `done` prints one line of JSON ("bench-result ...").

local threads = {}
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
  table.insert(threads, thread)
end

local events = {}
local position
local stride
local headers = {}
answered_200 = 0 -- globals: `done` reads them from each thread
answered_202 = 0
failed = 0
exhausted = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_EVENTS_FILE")) do
    local id, timestamp, signature, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.+)$")
    table.insert(events, { id, timestamp, signature, body })
  end
  stride = tonumber(os.getenv("BENCH_THREADS") or "1")
  position = thread_id
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
end

function request()
  local event = events[position]
  if event == nil then
    exhausted = exhausted + 1
    return wrk.format("GET", "/health")
  end
  position = position + stride
  headers["webhook-id"] = event[1]
  headers["webhook-timestamp"] = event[2]
  headers["webhook-signature"] = event[3]
  return wrk.format("POST", "/v1/provider/events", headers, event[4])
end

function response(status, response_headers, body)
  if exhausted > 0 then
    return
  elseif status == 200 then
    answered_200 = answered_200 + 1
  elseif status == 202 then
    answered_202 = answered_202 + 1
  else
    failed = failed + 1
    if failed <= 3 then
      io.stderr:write(string.format("answer %d: %s\n", status, body))
    end
  end
end

function done(summary, latency, requests)
  local ok, queued, bad, short = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("answered_200")
    queued = queued + thread:get("answered_202")
    bad = bad + thread:get("failed")
    short = short + thread:get("exhausted")
  end
  local errors = summary.errors
  io.write(string.format(
    'bench-result {"requests": %d, "duration_us": %d, "answered_200": %d, "answered_202": %d, "failed": %d, '
      .. '"exhausted": %d, "socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, ok, queued, bad, short,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
