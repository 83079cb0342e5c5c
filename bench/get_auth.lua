-- wrk script for the baseline: an authenticated GET of the trivial /api/v1/me/ endpoint.
function init(args)
  wrk.headers["Authorization"] = "Token " .. os.getenv("COS_BENCH_TOKEN")
end

function done(summary, latency, requests)
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("COS requests=%d non2xx=%d socket_errors=%d duration_us=%d\n",
    summary.requests, summary.errors.status, failed, summary.duration))
  io.write(string.format("COS p50_us=%d p95_us=%d p99_us=%d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
