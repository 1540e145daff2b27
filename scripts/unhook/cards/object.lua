-- Object cards.  Paths are dotted, with 0-based list indices as in the
-- connector builders: "data.hooks.0.id" is data.hooks[1].id.
local name, core = ...

local card = require "unhook.card"
local unhook = require "unhook"

local type, pairs, ipairs, tostring, error = type, pairs, ipairs, tostring, error
local getmetatable, setmetatable = getmetatable, setmetatable
local fmt, concat, sort, remove = string.format, table.concat, table.sort, table.remove
local tonumber = tonumber
local array_mt, null = unhook.json.array_mt, unhook.json.null

-- The segments of a path, or nil and a message.
local function segments(path)
  local segs = {}
  if path == "" then return segs end
  for seg in (path .. "."):gmatch("([^%.]*)%.") do
    if seg == "" then return nil, fmt("empty segment in '%s'", path) end
    segs[#segs + 1] = seg
  end
  return segs
end

local function is_list(t)
  return getmetatable(t) == array_mt or t[1] ~= nil
end

-- The list position of a segment ("0" -> 1), or nil.
local function position(seg)
  return seg:match("^%d+$") and tonumber(seg) + 1 or nil
end

-- One step down: a key of an object, else a 0-based index of a list.
local function step(node, seg)
  if type(node) ~= "table" then return nil end
  local v = node[seg]
  if v == nil and is_list(node) then
    local i = position(seg)
    if i then v = node[i] end
  end
  return v
end

-- The value at path, or nil; nil and a message for a bad path.
local function get(obj, path)
  local segs, err = segments(path)
  if not segs then return nil, err end
  local node = obj
  for _, seg in ipairs(segs) do
    node = step(node, seg)
    if node == nil then return nil end
  end
  if node == null then return nil end
  return node
end

local function copy(v, seen)
  if type(v) ~= "table" then return v end
  if seen[v] then return seen[v] end
  local t = {}
  seen[v] = t
  for k, x in pairs(v) do t[copy(k, seen)] = copy(x, seen) end
  return setmetatable(t, getmetatable(v))
end

local function kind(v)
  if v == null then return "null" end
  return type(v)
end

return {
  card.new {
    name = "object.get",
    description = "The value at a dotted path (\"data.hooks.0.id\"), or nil when there is none.",
    inputs = { { name = "object", type = "object", required = true },
               { name = "path", type = "string", required = true } },
    outputs = { { name = "value" } },
    run = function(obj, path)
      local v, err = get(obj, path)
      if err then error("object.get: input 'path': " .. err, 2) end
      return v
    end,
  },
  card.new {
    name = "object.set",
    description = "A copy of the object with the value set at a dotted path, making the objects on the way; nil removes.",
    inputs = { { name = "object", type = "object", required = true },
               { name = "path", type = "string", required = true },
               { name = "value", type = "any" } },
    outputs = { { name = "object", type = "object" } },
    run = function(obj, path, value)
      local segs, err = segments(path)
      if not segs then error("object.set: input 'path': " .. err, 2) end
      if #segs == 0 then error("object.set: input 'path': expected a non-empty path", 2) end
      local root = copy(obj, {})
      local node = root
      for i, seg in ipairs(segs) do
        local key = seg
        if node[seg] == nil and is_list(node) then
          key = position(seg)
          if not key then
            error(fmt("object.set: input 'path': '%s' is a list, '%s' is not an index",
              concat(segs, ".", 1, i - 1), seg), 2)
          end
          if key > #node + 1 then
            error(fmt("object.set: input 'path': index %s is past the end of '%s' (%d item%s)",
              seg, concat(segs, ".", 1, i - 1), #node, #node == 1 and "" or "s"), 2)
          end
        end
        if i == #segs then
          if value == nil and type(key) == "number" then remove(node, key)
          else node[key] = value end
        else
          local nxt = node[key]
          if nxt == nil or nxt == null then
            nxt = {}
            node[key] = nxt
          elseif type(nxt) ~= "table" then
            error(fmt("object.set: input 'path': '%s' is a %s, not an object",
              concat(segs, ".", 1, i), kind(nxt)), 2)
          end
          node = nxt
        end
      end
      return root
    end,
  },
  card.new {
    name = "object.merge",
    description = "A new object with the fields of a, then those of b (b wins; not deep).",
    inputs = { { name = "a", type = "object", required = true },
               { name = "b", type = "object", required = true } },
    outputs = { { name = "object", type = "object" } },
    run = function(a, b)
      local t = {}
      for k, v in pairs(a) do t[k] = v end
      for k, v in pairs(b) do t[k] = v end
      return t
    end,
  },
  card.new {
    name = "object.keys",
    description = "The keys of an object, sorted.",
    inputs = { { name = "object", type = "object", required = true } },
    outputs = { { name = "keys", type = "array" } },
    run = function(obj)
      local ks = {}
      for k in pairs(obj) do ks[#ks + 1] = tostring(k) end
      sort(ks)
      return setmetatable(ks, array_mt)
    end,
  },
  card.new {
    name = "object.has",
    description = "Whether there is a value (not nil, not null) at a dotted path.",
    inputs = { { name = "object", type = "object", required = true },
               { name = "path", type = "string", required = true } },
    outputs = { { name = "present", type = "boolean" } },
    run = function(obj, path)
      local v, err = get(obj, path)
      if err then error("object.has: input 'path': " .. err, 2) end
      return v ~= nil
    end,
  },
}
