-- HTTP cards: raw_request never raises on a status; get, post, put,
-- patch and delete raise on a status outside 200-299, like ctx.http.
local name, core = ...

local card = require "unhook.card"

local cards = {}

local function response(resp)
  return { status = resp.status, headers = resp.headers, body = resp.body, json = resp.json }
end

local ANY = {}
for s = 100, 599 do ANY[#ANY + 1] = s end

cards[#cards + 1] = card.new {
  name = "http.raw_request",
  description = "Send a request; returns { status, headers, body, json } whatever the status.",
  context = true,
  inputs = { { name = "request", type = "object", required = true } },
  outputs = { { name = "response", type = "object" } },
  run = function(ctx, req)
    local r = {}
    for k, v in pairs(req) do r[k] = v end
    r.ok = ANY
    return response(ctx.http.request(r))
  end,
}

for _, m in ipairs({ "get", "post", "put", "patch", "delete" }) do
  cards[#cards + 1] = card.new {
    name = "http." .. m,
    description = "Send a " .. m:upper() .. " request; raises an HTTP error object on a status outside 200-299.",
    context = true,
    inputs = { { name = "url", type = "string", required = true },
               { name = "options", type = "object", default = {} } },
    outputs = { { name = "response", type = "object" } },
    run = function(ctx, url, opts)
      return response(ctx.http[m](url, opts))
    end,
  }
end

return cards
