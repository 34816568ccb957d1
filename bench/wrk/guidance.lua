-- wrk script for bench/load.py: POST the cases of a file in turn, stop after a fixed total.
--
--   wrk -t T -c C -d 3600s -s bench/wrk/guidance.lua URL/v1/guidance -- CASES TOTAL T DIR
--
-- CASES holds one JSON body per line. Each of the T threads sends its share of TOTAL and
-- stops when it has that many answers, writing DIR/done-<thread> with its start and stop
-- times (ns). wrk's main thread sleeps for the whole -d, so the caller sends SIGINT once
-- every thread is done, and takes the duration from those files (wrk's own includes the
-- wait). Then one JSON line is written to stdout: answers, non-200 answers, wrk's error
-- counts and the latency percentiles.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  local total, count = tonumber(args[2]), tonumber(args[3])
  quota = math.floor(total / count)
  if id <= total % count then quota = quota + 1 end
  answers, non_200 = 0, 0
  statuses, first_bad = {}, ""
  prepared = {}
  local headers = {["Content-Type"] = "application/json"}
  for line in io.lines(args[1]) do
    if #line > 0 then
      table.insert(prepared, wrk.format("POST", nil, headers, line))
    end
  end
  position = ((id - 1) * 7) % #prepared  -- the threads start at different cases
  marker = args[4] .. "/done-" .. id
  started = now_ns()
end

function now_ns()
  local clock = io.popen("date +%s%N")
  local value = clock:read("*l")
  clock:close()
  return value
end

function request()
  position = position % #prepared + 1
  return prepared[position]
end

function response(status, headers, body)
  answers = answers + 1
  if status ~= 200 then
    non_200 = non_200 + 1
    statuses[status] = (statuses[status] or 0) + 1
    if first_bad == "" then first_bad = string.sub(body, 1, 300) end
  end
  if answers == quota then
    local stopped = now_ns()
    local file = io.open(marker, "w")
    file:write(started, " ", stopped, "\n")
    file:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local answered, bad, by_status, sample = 0, 0, {}, ""
  for _, thread in ipairs(threads) do
    answered = answered + thread:get("answers")
    bad = bad + thread:get("non_200")
    for code, count in pairs(thread:get("statuses")) do
      by_status[code] = (by_status[code] or 0) + count
    end
    if sample == "" then sample = thread:get("first_bad") end
  end
  local parts = {}
  for code, count in pairs(by_status) do
    table.insert(parts, string.format('"%d":%d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    '{"answers":%d,"non_200":%d,"statuses":{%s},"first_bad":%q,' ..
    '"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    answered, bad, table.concat(parts, ","), sample,
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
