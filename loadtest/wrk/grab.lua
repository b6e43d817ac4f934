-- wrk script for playcore's grab: every request is a new user, so every answer is a new
-- durable order (not an idempotent replay).
--   ACTIVITY=<id> wrk -t1 -c256 -d15s -s loadtest/wrk/grab.lua http://127.0.0.1:8080
local threads = 0

function setup(thread)
  thread:set("thread_number", threads)
  threads = threads + 1
end

function init(args)
  activity = os.getenv("ACTIVITY") or "1"
  prefix = "wrk" .. thread_number .. "-" .. tostring(os.time()) .. "-"
  counter = 0
  path = "/api/v1/activities/" .. activity .. "/orders"
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  counter = counter + 1
  local body = '{"userId":"' .. prefix .. counter .. '","requestId":"r0"}'
  return wrk.format("POST", path, headers, body)
end
