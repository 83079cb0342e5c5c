-- wrk script: each request places one order at its own address through the provider API.
-- Environment: COS_BENCH_IDS (file of address ids, one per order), COS_BENCH_THREADS, COS_BENCH_TOKEN,
-- COS_BENCH_MARKETPLACE, COS_BENCH_PRODUCT, COS_BENCH_AMOUNT, COS_BENCH_RUN (makes idempotency keys and e-mails
-- unique per call). A thread that runs out of addresses stops and is counted as `exhausted` (the caller gives more).
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  ids = {}
  for line in io.lines(os.getenv("COS_BENCH_IDS")) do ids[#ids + 1] = line end
  nthreads = tonumber(os.getenv("COS_BENCH_THREADS"))
  token = os.getenv("COS_BENCH_TOKEN")
  marketplace = os.getenv("COS_BENCH_MARKETPLACE")
  product = os.getenv("COS_BENCH_PRODUCT")
  amount = os.getenv("COS_BENCH_AMOUNT")
  run = os.getenv("COS_BENCH_RUN")
  counter = 0
  exhausted = 0
end

function request()
  counter = counter + 1
  local address = ids[tid + (counter - 1) * nthreads + 1]
  if address == nil then
    exhausted = 1
    wrk.thread:stop()
    address = ids[tid + 1]
  end
  local key = "bench-" .. run .. "-" .. tid .. "-" .. counter
  local body = '{"customer": {"customer_type": "residential", "first_name": "Bench", "last_name": "Customer", '
    .. '"email": "' .. key .. '@bench.example", "billing_street": "Benchvägen 1", "billing_postal_code": "11111", '
    .. '"billing_city": "Benchby"}, "address": ' .. address .. ', "marketplace": ' .. marketplace
    .. ', "lines": [{"product": ' .. product .. ', "monthly_amount": "' .. amount .. '", "currency": "SEK"}], '
    .. '"terms_accepted": true}'
  return wrk.format("POST", "/api/v1/orders/", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Token " .. token,
    ["Idempotency-Key"] = key,
  }, body)
end

function done(summary, latency, requests)
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  local out = 0
  for _, thread in ipairs(threads) do out = out + thread:get("exhausted") end
  io.write(string.format("COS requests=%d non2xx=%d socket_errors=%d duration_us=%d exhausted=%d\n",
    summary.requests, summary.errors.status, failed, summary.duration, out))
  io.write(string.format("COS p50_us=%d p95_us=%d p99_us=%d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
