-- wrk script for test/load/gate: one GET repeated, with the credential of
-- the variant taken from the environment (never from a command line).
--   LOAD_AUTHORIZATION  the Authorization header value, or empty
--   LOAD_COOKIE         the Cookie header value, or empty
-- No request()/response() hooks, as in ../wrk.lua: wrk builds the request
-- once and the generator stays cheap.

wrk.method = "GET"

local auth = os.getenv("LOAD_AUTHORIZATION") or ""
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local cookie = os.getenv("LOAD_COOKIE") or ""
if cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

-- The same machine-readable line as ../wrk.lua.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOAD_RESULT requests=%d duration_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
