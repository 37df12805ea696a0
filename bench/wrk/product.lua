-- GET /v1/products/{sku}: one product, at random.
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common")

setup = c.setup
init = c.init
done = c.done

function request()
  local _, sku = c.pick()
  return wrk.format("GET", "/v1/products/" .. sku, c.headers(), nil)
end

function response(status)
  c.count(status, 200)
end
