-- wrk-report.lua: wrk's summary as one machine-readable line, for
-- bench/serve.sh:
--   WRK requests=N duration_us=N bytes=N p99_us=N status_errors=N socket_errors=N
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d bytes=%d p99_us=%d status_errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, summary.bytes, latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
