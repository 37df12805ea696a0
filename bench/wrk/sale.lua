-- POST /v1/sales/record: one line of one unit, at a random level (or the hot one).
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common")

setup = c.setup
init = c.init
done = c.done

function request()
  local location, sku = c.pick()
  local body = string.format(
    '{"location_id":"%s","lines":[{"sku":"%s","quantity":1,' ..
    '"unit_price":{"amount":"10.00","currency":"USD"}}]}', location, sku)
  local extra = nil
  if c.idempotent then
    counter = counter + 1
    extra = {["Idempotency-Key"] = string.format("bench-%d-%d-%d", thread_no or 0,
                                                 os.time(), counter)}
  end
  return wrk.format("POST", "/v1/sales/record", c.headers(extra), body)
end

function response(status)
  c.count(status, 201)
end
