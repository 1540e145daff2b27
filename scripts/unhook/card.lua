-- Function cards: a declared name, inputs, outputs and a function.
--
-- The one calling convention: a card is called with positional arguments,
-- in the order of its declared inputs, and returns its declared outputs,
-- in order.  The last input may be `variadic` (any number of values of
-- its type).  A card checks its inputs before it runs and fails naming
-- itself and the input: "text.concatenate: input 2: expected string, got
-- table", "object.get: input 'path': expected string, got nil".
local name, core = ...

local schema = require "unhook.schema"

local _M = {}

local type, select, error, ipairs, pairs, tostring = type, select, error, ipairs, pairs, tostring
local fmt, concat, unpack = string.format, table.concat, table.unpack

-- shared by every run in a Lua state: no __index reaches it from a card
-- (connector code sees a copy, see manifest.env)
local Card = { __name = "unhook.Card" }
_M.Card = Card

local SPEC_KEYS = { name = true, type = true, required = true, default = true,
                    description = true, variadic = true }
local CARD_KEYS = { name = true, description = true, inputs = true, outputs = true,
                    run = true, context = true }

local function bad(msg, level) error(msg, level or 3) end

-- Check a card definition; returns nil or a message.
local function check_def(def)
  if type(def) ~= "table" then return "a card is a table, got " .. type(def) end
  for k in pairs(def) do
    if not CARD_KEYS[k] then
      return fmt("card %s: unknown key '%s' (expected: context, description, inputs, name, outputs, run)",
        tostring(def.name), tostring(k))
    end
  end
  if type(def.name) ~= "string" or not def.name:match("^[%a_][%w_]*[%.%w_]*$") then
    return "card: name: expected a name like \"acme.sign\", got " .. tostring(def.name)
  end
  if type(def.run) ~= "function" then
    return fmt("card %s: run: expected function, got %s", def.name, type(def.run))
  end
  for _, field in ipairs({ "inputs", "outputs" }) do
    local list = def[field] or {}
    if type(list) ~= "table" then return fmt("card %s: %s: expected a list", def.name, field) end
    for i, spec in ipairs(list) do
      if type(spec) ~= "table" or type(spec.name) ~= "string" then
        return fmt("card %s: %s[%d]: expected { name = ..., type = ... }", def.name, field, i)
      end
      for k in pairs(spec) do
        if not SPEC_KEYS[k] then
          return fmt("card %s: %s.%s: unknown key '%s'", def.name, field, spec.name, tostring(k))
        end
      end
      if spec.type and not schema.TYPES[spec.type] then
        return fmt("card %s: %s.%s: unknown type '%s'", def.name, field, spec.name, tostring(spec.type))
      end
      if spec.variadic and (field ~= "inputs" or i ~= #list) then
        return fmt("card %s: only the last input may be variadic", def.name)
      end
    end
  end
  return nil
end
_M.check = check_def

-- JSON numbers arrive as floats: a whole one is an integer.
local function whole(v, spec)
  if spec.type == "integer" and math.type(v) == "float" then
    return math.tointeger(v) or v
  end
  return v
end

local function check_value(cardname, label, spec, v)
  local t = spec.type or "any"
  if v == nil then
    if spec.required then bad(fmt("%s: %s: expected %s, got nil", cardname, label, t), 5) end
    return
  end
  if not schema.matches(v, t) then
    bad(fmt("%s: %s: expected %s, got %s", cardname, label, t, schema.kind(v)), 5)
  end
end

-- Validate the arguments of a call; returns them with defaults applied.
local function check_args(def, n, args)
  local inputs = def.inputs or {}
  for i, spec in ipairs(inputs) do
    if spec.variadic then
      for k = i, n do
        args[k] = whole(args[k], spec)
        check_value(def.name, "input " .. k, spec, args[k])
      end
      if spec.required and n < i then
        bad(fmt("%s: input %d: expected %s, got nil", def.name, i, spec.type or "any"), 4)
      end
      return args, n
    end
    local v = whole(args[i], spec)
    if v == nil and spec.default ~= nil then v = spec.default end
    args[i] = v
    check_value(def.name, "input '" .. spec.name .. "'", spec, v)
  end
  if n > #inputs then
    bad(fmt("%s: takes %d input%s, got %d", def.name, #inputs, #inputs == 1 and "" or "s", n), 4)
  end
  return args, math.max(n, #inputs)
end

-- unhook.card{ ... }: a card value (what a cards/*.lua file returns).
function _M.new(def)
  local err = check_def(def)
  if err then error(err, 2) end
  return setmetatable({ def = def }, Card)
end

function _M.is_card(v) return getmetatable(v) == Card end

-- The function a flow calls.  A card declared with `context = true`
-- receives ctx before its inputs.
function _M.bind(c, ctx)
  local def = c.def
  if def.context then
    return function(...)
      local args, n = check_args(def, select("#", ...), { ... })
      return def.run(ctx, unpack(args, 1, n))
    end
  end
  return function(...)
    local args, n = check_args(def, select("#", ...), { ... })
    return def.run(unpack(args, 1, n))
  end
end

-- Put fn at the dotted name in tree: "text.concatenate" -> tree.text.concatenate.
function _M.place(tree, dotted, fn)
  local node = tree
  local parts = {}
  for part in dotted:gmatch("[^%.]+") do parts[#parts + 1] = part end
  for i = 1, #parts - 1 do
    local p = parts[i]
    if node[p] == nil then node[p] = {} end
    if type(node[p]) ~= "table" then
      return nil, fmt("card %s: '%s' is already a card", dotted, concat(parts, ".", 1, i))
    end
    node = node[p]
  end
  if node[parts[#parts]] ~= nil then
    return nil, fmt("card %s is defined twice", dotted)
  end
  node[parts[#parts]] = fn
  return true
end

return _M
