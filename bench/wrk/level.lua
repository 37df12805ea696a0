-- GET /v1/inventory/{location}/{sku}: one level, at random.
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local c = require("common")

setup = c.setup
init = c.init
done = c.done

function request()
  local location, sku = c.pick()
  return wrk.format("GET", "/v1/inventory/" .. location .. "/" .. sku, c.headers(), nil)
end

function response(status)
  c.count(status, 200)
end
