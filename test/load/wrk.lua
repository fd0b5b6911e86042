-- wrk script for test/load: one request repeated, its shape taken from the
-- environment so that tokens and secrets never appear on a command line.
--   LOAD_METHOD         GET or POST
--   LOAD_BODY           form body (sent as application/x-www-form-urlencoded)
--   LOAD_AUTHORIZATION  the Authorization header value
--   LOAD_COOKIE         the Cookie header value (test/load/gate)
-- No request()/response() hooks: wrk then builds the request once and does
-- not hand every response to Lua, so the generator stays cheap.

wrk.method = os.getenv("LOAD_METHOD") or "GET"

local body = os.getenv("LOAD_BODY") or ""
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local auth = os.getenv("LOAD_AUTHORIZATION") or ""
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local cookie = os.getenv("LOAD_COOKIE") or ""
if cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

-- One machine-readable line for the Go driver. wrk counts a response with a
-- status above 399 in errors.status; Caddy's own metrics, read by the
-- driver, catch any other non-2xx.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "LOAD_RESULT requests=%d duration_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
