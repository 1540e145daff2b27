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

-- One built-in card called with JSON arguments, outside any run (the C
-- API's unhook_card_call, for specs): its outputs as a JSON array, or nil
-- and a message.  Cards that need a run (http.*, flow.*) fail.
local spec_tree
function _M.call_json(cardname, args_json)
  -- cards that reach ctx (http.*, flow.*) say that they need a run
  spec_tree = spec_tree or assert(_M.bind(setmetatable({}, { __index = function(_, k)
    error("this card needs a flow run (ctx." .. tostring(k) .. ")", 0)
  end }), nil, nil))
  local fn = spec_tree
  for part in tostring(cardname):gmatch("[^%.]+") do
    fn = type(fn) == "table" and fn[part] or nil
  end
  if type(fn) ~= "function" then return nil, "no card " .. tostring(cardname) end
  local ok, args = pcall(json.decode, args_json)
  if not ok or type(args) ~= "table" then return nil, cardname .. ": the arguments must be a JSON array" end
  local n = 0
  for k in pairs(args) do if math.type(k) == "integer" and k > n then n = k end end
  for i = 1, n do if args[i] == json.null then args[i] = nil end end
  local res = table.pack(pcall(fn, table.unpack(args, 1, n)))
  if not res[1] then
    local msg = tostring(res[2])
    if msg:sub(1, #cardname + 1) ~= cardname .. ":" then msg = cardname .. ": " .. msg end
    return nil, msg
  end
  local out = {}
  for i = 2, res.n do out[i - 1] = res[i] == nil and json.null or res[i] end
  local eok, text = pcall(json.encode, setmetatable(out, json.array_mt))
  if not eok then return nil, cardname .. ": its outputs are not JSON: " .. tostring(text) end
  return text
end

return _M
