-- Shared by the Stockline wrk scripts: settings from the environment, one random generator
-- per thread, status counts gathered from every thread, and a one-line JSON summary.
local M = {}

M.key = os.getenv("BENCH_KEY") or ""
M.skus = tonumber(os.getenv("BENCH_SKUS") or "1000")
M.locations = tonumber(os.getenv("BENCH_LOCATIONS") or "1")
M.hot = os.getenv("BENCH_HOT") == "1"
M.idempotent = os.getenv("BENCH_IDEMPOTENT") == "1"

local threads = {}

function M.setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function M.init()
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919 + math.floor(os.clock() * 1e6))
  ok, unexpected, counter = 0, 0, 0
end

function M.pick()
  if M.hot then
    return "BENCH-L000", "BENCH-000000"
  end
  return string.format("BENCH-L%03d", math.random(0, M.locations - 1)),
         string.format("BENCH-%06d", math.random(0, M.skus - 1))
end

function M.headers(extra)
  local h = {["X-API-Key"] = M.key, ["Content-Type"] = "application/json"}
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

function M.count(status, expected)
  if status == expected then ok = ok + 1 else unexpected = unexpected + 1 end
end

function M.done(summary, latency)
  local good, bad = 0, 0
  for _, t in ipairs(threads) do
    good = good + t:get("ok")
    bad = bad + t:get("unexpected")
  end
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "ok": %d, "unexpected": %d, "socket_errors": %d, ' ..
    '"duration_us": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, good, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.duration, latency:percentile(50),
    latency:percentile(99)))
end

return M
