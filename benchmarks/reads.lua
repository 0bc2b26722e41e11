-- wrk script: GETs of paths read from a file, one per line, taken at random (make bench-scale).
--
--   BENCH_API_KEY=<key> BENCH_PATHS_FILE=<file> wrk -t1 -c1 -d10s -s benchmarks/reads.lua http://127.0.0.1:8000
--
-- Every answer other than 200 is counted; `done` prints one line of JSON ("bench-result ...").

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local paths = {}
local headers = {}
non_200 = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS_FILE")) do
    table.insert(paths, line)
  end
  headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
  math.randomseed(os.time())
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function response(status, response_headers, body)
  if status ~= 200 then
    non_200 = non_200 + 1
    if non_200 <= 3 then
      io.stderr:write(string.format("answer %d: %s\n", status, body))
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non_200")
  end
  local errors = summary.errors
  io.write(string.format(
    'bench-result {"requests": %d, "duration_us": %d, "non_200": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, bad, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
