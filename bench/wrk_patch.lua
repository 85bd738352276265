-- wrk script: keep-alive PATCH /.../v3/contact_card?phone_number=%2B1415NNNNNNN with a JSON body and
-- the bearer token, cycling over COUNT numbers. Requests are built once in init(), and there is no
-- response() callback, so wrk stays the cheap side of the measurement.
-- usage: wrk -t1 -c64 -d5s -s bench/wrk_patch.lua http://127.0.0.1:PORT/api/partner/v3/contact_card -- [TOKEN] [COUNT]
local requests = {}
local next_index = 0

function init(args)
  local token = args[1] or "mock-key"
  local count = tonumber(args[2] or "10000")
  local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
  for n = 1, count do
    local target = wrk.path .. "?phone_number=" .. string.format("%%2B1415%07d", n)
    local body = string.format(
      '{"first_name":"Bench","last_name":"User %d","image_url":"https://cdn.example.com/cards/%d.jpg"}', n, n)
    requests[n] = wrk.format("PATCH", target, headers, body)
  end
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
