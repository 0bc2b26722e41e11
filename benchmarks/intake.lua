-- wrk script: POST /v1/referrals, a valid adult referral (tests/support/referrals.py's
-- adult_referral) with a police reference and an Idempotency-Key of its own on every request.
--
--   BENCH_API_KEY=<police key for thames-valley> BENCH_RUN=<tag> \
--     wrk -t1 -c4 -d10s -s benchmarks/intake.lua http://127.0.0.1:8000
--
-- BENCH_RUN (default: the time) keeps references unique across runs on one database; each
-- thread numbers its own requests. Every answer other than 201 is counted, and `done` prints
-- one line of JSON (prefixed "bench-result ") that scripts/bench.py reads.

local threads = {}
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
  table.insert(threads, thread)
end

local body_format
local headers = {}
local run
local sent = 0
non_201 = 0 -- a global: `done` reads it from each thread

function init(args)
  run = os.getenv("BENCH_RUN") or tostring(os.time())
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
  local now = os.time()
  local today = os.date("!*t", now)
  -- Two hours ago (the encounter), and someone turning 30 on the encounter's day at the latest.
  local occurred_at = os.date("!%Y-%m-%dT%H:%M:%SZ", now - 2 * 3600)
  local born = string.format("%04d-%02d-%02d", today.year - 30, today.month, math.min(today.day, 28))
  -- %s: the police reference (the only '%' in it).
  body_format = [[{"police_reference": "%s",]]
    .. [["encounter": {"occurred_at": "]] .. occurred_at .. [[", "district": "reading", "postcode": "RG1 1AA"},]]
    .. [["drugs": [{"name": "cannabis", "class": "B"}],]]
    .. [["body_worn_video_reference": "BWV-TEST-0001",]]
    .. [["officer": {"collar_number": "TV0001", "name": "PC Test Officer", "email": "pc.test@police.example"},]]
    .. [["subject": {"given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "]] .. born .. [[",]]
    .. [["sex": "female", "ethnicity": "W1",]]
    .. [["address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"},]]
    .. [["phone": "07700 900001", "email": "sam.synthetic@person.example",]]
    .. [["contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": false}},]]
    .. [["checks": {"identity_confirmed": true, "pnc_checked": true, "niche_checked": true},]]
    .. [["previous_diversions": 0, "consent_to_share": true}]]
end

function request()
  sent = sent + 1
  -- At most 40 characters of [A-Za-z0-9/_-] (ReferralCreate.police_reference).
  local reference = string.format("B%s/%d/%d", run, thread_id, sent)
  headers["Idempotency-Key"] = "bench-" .. reference
  return wrk.format("POST", "/v1/referrals", headers, string.format(body_format, reference))
end

function response(status, response_headers, body)
  if status ~= 201 then
    non_201 = non_201 + 1
    if non_201 <= 3 then
      io.stderr:write(string.format("answer %d: %s\n", status, body))
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non_201")
  end
  local errors = summary.errors
  io.write(string.format(
    'bench-result {"requests": %d, "duration_us": %d, "non_201": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, bad, errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max
  ))
end
