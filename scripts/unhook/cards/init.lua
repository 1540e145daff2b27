-- The card registry: the built-in cards, a connector's own cards and the
-- host program's C cards, bound to one run's ctx as ctx.cards.
local name, core = ...

local card = require "unhook.card"
local json = require("unhook").json

local _M = {}

local MODULES = { "text", "json", "object", "list", "branching", "error", "http", "date", "flow",
                  "crypto" }

local builtins

-- Every built-in card, loaded once per Lua state.
function _M.builtins()
  if builtins then return builtins end
  builtins = {}
  for _, m in ipairs(MODULES) do
    for _, c in ipairs(require("unhook.cards." .. m)) do
      builtins[#builtins + 1] = c
    end
  end
  return builtins
end

-- Every card name, built-in and the connector's (a set of names).
function _M.names(custom)
  local set = {}
  for _, c in ipairs(_M.builtins()) do set[c.def.name] = true end
  for _, c in pairs(custom or {}) do set[c.def.name] = true end
  return set
end

-- A message if one of the host's C card names collides with a card.
function _M.conflict(names, cnames)
  for _, cname in ipairs(cnames or {}) do
    for existing in pairs(names) do
      if existing == cname then return "card " .. cname .. " is defined twice" end
      if existing:sub(1, #cname + 1) == cname .. "." or cname:sub(1, #existing + 1) == existing .. "." then
        return "card " .. cname .. " collides with card " .. existing
      end
    end
  end
end

-- ctx.cards for one run: built-ins, then the connector's cards (a list of
-- card values), then the host's C cards (names).  Returns the tree, or
-- nil and a message when two cards share a name.
function _M.bind(ctx, custom, cnames)
  local tree = {}
  for _, c in ipairs(_M.builtins()) do
    assert(card.place(tree, c.def.name, card.bind(c, ctx)))
  end
  for _, c in ipairs(custom or {}) do
    local ok, err = card.place(tree, c.def.name, card.bind(c, ctx))
    if not ok then return nil, err end
  end
  for _, cname in ipairs(cnames or {}) do
    local ok, err = card.place(tree, cname, function(...)
      local n, args = select("#", ...), { ... }
      for i = 1, n do if args[i] == nil then args[i] = json.null end end
      local eok, text = pcall(json.encode, args)
      if not eok then error(cname .. ": cannot pass the inputs as JSON: " .. tostring(text), 2) end
      if n == 0 then text = "[]" end
      local out, cerr = core.call_card(cname, text)
      if not out then error(cname .. ": " .. tostring(cerr), 2) end
      local dok, res = pcall(json.decode, out)
      if not dok or type(res) ~= "table" then
        error(cname .. ": the card must return a JSON array of outputs", 2)
      end
      return table.unpack(res, 1, #res)
    end)
    if not ok then return nil, err end
  end
  return tree
end

return _M
