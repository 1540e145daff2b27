-- Reconcile: the provider's webhooks (what an event's list flow returned)
-- compared with the stored instances.  Runs inside the list flow's run
-- (the event's match and owned rules are connector code, so they run
-- under the flow's limits); the C half (core/reconcile.c) acts on the
-- report.  Also the comparisons the instance-management calls need
-- (same options, registration data that is JSON), in the host state.
local name, core = ...

local json = require("unhook").json

local _M = {}

local type, pairs, ipairs, tostring, pcall, xpcall = type, pairs, ipairs, tostring, pcall, xpcall
local fmt, sort = string.format, table.sort

local function deep_equal(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not deep_equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function decode(text)
  if text == nil then return nil end
  local ok, v = pcall(json.decode, text)
  if ok then return v end
  return text
end

-- A key as text: JSON numbers decode as floats, 42.0 is "42".
function _M.key_text(v)
  if v == nil or v == json.null or type(v) == "table" then return nil end
  if type(v) == "number" and math.tointeger(v) then return string.format("%d", math.tointeger(v)) end
  return tostring(v)
end

-- The key of registration data under the event's match rule (default
-- "id"): a path into it, or what a function returns.  nil: no key.
local function key_of(match, data, ctx)
  if type(match) == "function" then
    local ok, k = xpcall(match, tostring, data, ctx)
    if not ok then error(fmt("match: %s", tostring(k)), 0) end
    return _M.key_text(k)
  end
  local v = data
  for part in (match or "id"):gmatch("[^%.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return _M.key_text(v)
end

-- Whether an instance's options select the same provider-side collection
-- as the reconcile's: the options the list flow's inputs are mapped from.
local function in_scope(inst_options, options, scope)
  for _, oname in ipairs(scope) do
    if not deep_equal(inst_options[oname], options[oname]) then return false end
  end
  return true
end

-- hooks: the list flow's array; stored: { id, registration (JSON text),
-- desired, state, options (JSON text) } of the event's instances; ev: the
-- manifest's event; scope: option names the list flow's inputs map;
-- options: the reconcile's own.  Returns the report: { owned_rule =
-- bool, items = { { status, key, id, state, data } } }, sorted by status
-- then key, data as JSON text.
function _M.compare(hooks, stored, ev, scope, options, ctx)
  local by_key, items = {}, {}
  for _, inst in ipairs(stored or {}) do
    local iopts = decode(inst.options)
    if type(iopts) ~= "table" then iopts = {} end
    if inst.registration and in_scope(iopts, options, scope) then
      local k = key_of(ev.match, decode(inst.registration), ctx)
      if k then by_key[k] = inst end
    end
  end
  local seen = {}
  for i, hook in ipairs(hooks) do
    if type(hook) ~= "table" then
      error(fmt("the list flow returned a %s at position %d; expected a table per webhook", type(hook), i), 0)
    end
    local k = key_of(ev.match, hook, ctx)
    local inst = k and by_key[k]
    local item = { key = k, data = json.encode(hook) }
    if inst then
      seen[k] = true
      item.id, item.state = inst.id, inst.state
    end
    local owned = true
    if ev.owned then
      local ok, v = xpcall(ev.owned, tostring, hook, ctx)
      if not ok then error(fmt("owned: %s", tostring(v)), 0) end
      owned = v and true or false
    end
    if inst and inst.desired == "on" then
      item.status = "ok"
    elseif not owned then
      item.status = "foreign"
    else
      item.status = "orphan"   -- no instance holds it, or its instance is off
    end
    items[#items + 1] = item
  end
  for k, inst in pairs(by_key) do
    if not seen[k] and inst.desired == "on" and
       (inst.state == "registered" or inst.state == "lost") then
      items[#items + 1] = { status = "missing", key = k, id = inst.id, state = inst.state,
                            data = inst.registration }
    end
  end
  local order = { orphan = 1, missing = 2, ok = 3, foreign = 4 }
  sort(items, function(a, b)
    if a.status ~= b.status then return order[a.status] < order[b.status] end
    return (a.key or "") < (b.key or "")
  end)
  return { owned_rule = ev.owned ~= nil, items = items }
end

-- The option names the entry's inputs are mapped from, sorted.
function _M.scope(entry, is_option)
  local out = {}
  for _, v in pairs(entry.inputs or {}) do
    if is_option(v) then out[#out + 1] = v.name end
  end
  sort(out)
  return out
end

-- For C (host state): the report's items as a Lua array.
function _M.items(text)
  local r = json.decode(text)
  return r.items or {}, r.owned_rule and true or false
end

-- Whether two JSON texts hold the same value (options as stored).
function _M.same(a, b)
  local ok1, x = pcall(json.decode, a or "{}")
  local ok2, y = pcall(json.decode, b or "{}")
  return ok1 and ok2 and deep_equal(x, y)
end

-- Options b given over the stored a (JSON objects): the merged object.
function _M.merge(a, b)
  local ok1, x = pcall(json.decode, a or "{}")
  local ok2, y = pcall(json.decode, b or "{}")
  if not ok1 or not ok2 or type(x) ~= "table" or type(y) ~= "table" then
    return nil, "options: expected JSON objects"
  end
  for k, v in pairs(y) do x[k] = v end
  return json.encode(x)
end

-- Registration data given by hand: JSON text, returned as stored.
function _M.registration(text)
  local ok, v = pcall(json.decode, text)
  if not ok then return nil, "registration data: invalid JSON: " .. tostring(v) end
  return json.encode(v)
end

return _M
