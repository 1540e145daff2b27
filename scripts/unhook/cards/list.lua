-- List cards.  Indices are 0-based, as in the connector builders.  A
-- match is a function(item, index) or an object of field = value pairs
-- that an item must all have.
local name, core = ...

local card = require "unhook.card"
local schema = require "unhook.schema"
local unhook = require "unhook"

local type, pairs, ipairs, error, setmetatable = type, pairs, ipairs, error, setmetatable
local fmt, tointeger = string.format, math.tointeger
local array_mt, null = unhook.json.array_mt, unhook.json.null

local function list(t) return setmetatable(t, array_mt) end

local function equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do
    if not equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- A predicate for match, or nil and a message.
local function matcher(match)
  if type(match) == "function" then return match end
  if type(match) == "table" and schema.kind(match) == "object" then
    return function(item)
      if type(item) ~= "table" then return false end
      for k, v in pairs(match) do
        if not equal(item[k], v) then return false end
      end
      return true
    end
  end
  return nil, fmt("expected function or object, got %s", match == null and "null" or schema.kind(match))
end

return {
  card.new {
    name = "list.length",
    description = "The number of items in a list.",
    inputs = { { name = "list", type = "array", required = true } },
    outputs = { { name = "length", type = "integer" } },
    run = function(items)
      return #items
    end,
  },
  card.new {
    name = "list.at",
    description = "The item at a 0-based index (negative counts from the end: -1 is the last), or nil.",
    inputs = { { name = "list", type = "array", required = true },
               { name = "index", type = "number", required = true } },
    outputs = { { name = "item" } },
    run = function(items, index)
      local i = tointeger(index)
      if not i then error("list.at: input 'index': expected integer, got number", 2) end
      if i < 0 then i = #items + i end
      if i < 0 then return nil end
      local v = items[i + 1]
      if v == null then return nil end
      return v
    end,
  },
  card.new {
    name = "list.find",
    description = "The first item that matches, and its 0-based index; nil, nil when none does.",
    inputs = { { name = "list", type = "array", required = true },
               { name = "match", type = "any", required = true } },
    outputs = { { name = "item" }, { name = "index", type = "integer" } },
    run = function(items, match)
      local pred, err = matcher(match)
      if not pred then error("list.find: input 'match': " .. err, 2) end
      for i, v in ipairs(items) do
        if pred(v, i - 1) then return v, i - 1 end
      end
      return nil, nil
    end,
  },
  card.new {
    name = "list.filter",
    description = "A new list of the items that match.",
    inputs = { { name = "list", type = "array", required = true },
               { name = "match", type = "any", required = true } },
    outputs = { { name = "list", type = "array" } },
    run = function(items, match)
      local pred, err = matcher(match)
      if not pred then error("list.filter: input 'match': " .. err, 2) end
      local out = {}
      for i, v in ipairs(items) do
        if pred(v, i - 1) then out[#out + 1] = v end
      end
      return list(out)
    end,
  },
  card.new {
    name = "list.map",
    description = "A new list of fn(item, index) for each item; nil results become JSON null.",
    inputs = { { name = "list", type = "array", required = true },
               { name = "fn", type = "any", required = true } },
    outputs = { { name = "list", type = "array" } },
    run = function(items, fn)
      if type(fn) ~= "function" then
        error("list.map: input 'fn': expected function, got " .. schema.kind(fn), 2)
      end
      local out = {}
      for i, v in ipairs(items) do
        local r = fn(v, i - 1)
        if r == nil then r = null end
        out[i] = r
      end
      return list(out)
    end,
  },
  card.new {
    name = "list.pluck",
    description = "A new list of item[field] for each item; JSON null where an item has none.",
    inputs = { { name = "list", type = "array", required = true },
               { name = "field", type = "string", required = true } },
    outputs = { { name = "list", type = "array" } },
    run = function(items, field)
      local out = {}
      for i, v in ipairs(items) do
        local r
        if type(v) == "table" then r = v[field] end
        if r == nil then r = null end
        out[i] = r
      end
      return list(out)
    end,
  },
}
