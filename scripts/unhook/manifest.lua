-- Connector manifests: load connector.lua and its flows in the sandbox and
-- validate them, reporting each problem as "file:line: message".
local name, core = ...

local unhook = require "unhook"
local schema = require "unhook.schema"
local card = require "unhook.card"
local chunks = require "unhook.chunks"
local connection = require "unhook.connection"
local RETRY = require("unhook.codes").RETRY

local _M = {}

local type, pairs, ipairs, next, tostring, pcall = type, pairs, ipairs, next, tostring, pcall
local setmetatable, getmetatable, rawget = setmetatable, getmetatable, rawget
local fmt, concat, sort = string.format, table.concat, table.sort

-- `option "name"` in a manifest maps an input to an option's value.
local Option = { __name = "unhook.Option" }
Option.__tostring = function(o) return 'option "' .. o.name .. '"' end

function _M.option(oname)
  if type(oname) ~= "string" then
    error("option: expected the option's name (string), got " .. type(oname), 2)
  end
  return setmetatable({ name = oname }, Option)
end

function _M.is_option(v) return getmetatable(v) == Option end

-- A fresh global table for connector code: globals it sets stay its own.
-- The safe globals, captured once; every environment gets copies of the
-- library tables, so that nothing connector code changes reaches the
-- runtime, another run, or another connector in the same Lua state.
local BASE, LIBS = {}, {}
for k, v in pairs(_G) do
  if type(v) == "table" then
    if k ~= "_G" then LIBS[k] = v end
  elseif k ~= "require" then
    BASE[k] = v
  end
end

-- An environment's library tables are empty tables reading through to
-- the real ones: what a run writes (rawset included) stays in its own
-- table.  The metatables are shared and protected (__metatable).
local LIB_MT = {}
for k, v in pairs(LIBS) do LIB_MT[k] = { __index = v, __metatable = false } end
local BASE_MT = { __index = BASE, __metatable = false }

-- What connector code sees as `unhook` and `require "unhook"`.
local UNHOOK = { card = card.new }
for _, k in ipairs({ "version", "fail", "retry", "error", "is_error", "null" }) do
  UNHOOK[k] = unhook[k]
end
local JSON_MT = { __index = { encode = unhook.json.encode, decode = unhook.json.decode,
                              null = unhook.json.null },
                  __metatable = false }
local array_mt = unhook.json.array_mt

-- unhook for one environment; more(k) may supply fields (the runner's
-- cards: the running ctx's, asked each time, never kept).  Its
-- empty_array is the environment's own: a table every run in the Lua
-- state shared would carry what one run wrote into it to the others.
function _M.public_unhook(more)
  local json = setmetatable({ empty_array = setmetatable({}, array_mt) }, JSON_MT)
  return setmetatable({ json = json }, {
    __index = function(_, k)
      local v = UNHOOK[k]
      if v == nil and more then v = more(k) end
      return v
    end,
    __metatable = false,
  })
end

-- Metatables the runtime shares between all runs in a Lua state (error
-- objects', cards', JSON arrays', options'): getmetatable gives connector
-- code a copy of its own instead, so that nothing it writes there
-- reaches another run (for another connection) or the runtime.
local SHARED_MT = { [unhook.Error] = true, [card.Card] = true, [array_mt] = true, [Option] = true }

-- Another runtime metatable shared by every run (the runner's ctx's).
function _M.share_mt(mt) SHARED_MT[mt] = true end

-- dir: the connector's folder, whose own modules require finds
-- ("lib.util" is DIR/lib/util.lua), loaded into this same environment.
function _M.env(extra, more, dir)
  local env = setmetatable({}, BASE_MT)
  for k, mt in pairs(LIB_MT) do env[k] = setmetatable({}, mt) end
  local u = _M.public_unhook(more)
  local loaded = {}
  env.unhook = u
  env.require = function(modname)
    if modname == "unhook" then return u end
    if loaded[modname] ~= nil then return loaded[modname] end
    if dir and type(modname) == "string" and modname:match("^[%w_]+[%w_%.]*$")
       and not modname:find("..", 1, true) then
      local path = dir .. "/" .. modname:gsub("%.", "/") .. ".lua"
      if core.isfile(path) then
        local v, err = _M.run_file(path, env)
        if err then error(err, 2) end
        if v == nil then v = true end
        loaded[modname] = v
        return v
      end
    end
    error("module '" .. tostring(modname) .. "' not found: flows may require only \"unhook\" "
      .. "and the connector's own modules", 2)
  end
  -- the strings' metatable is shared by the whole state: hand out a copy
  local string_mt = { __index = env.string }
  local real_getmetatable = BASE.getmetatable
  local copies = {}
  env.getmetatable = function(v)
    if type(v) == "string" then return string_mt end
    local mt = real_getmetatable(v)
    if SHARED_MT[mt] then
      local c = copies[mt]
      if not c then
        c = {}
        for k, x in pairs(mt) do c[k] = x end
        copies[mt] = c
      end
      return c
    end
    return mt
  end
  env._G = env
  if extra then for k, v in pairs(extra) do env[k] = v end end
  return env
end

-- Shapes: each field's type, and nested shapes for tables.
local OPTION = { fields = {
  type = { type = "string" }, required = { type = "boolean" }, default = {},
  description = { type = "string" }, secret = { type = "boolean" },
} }
local ENTRY = { fields = {
  flow = { type = "string", required = true }, inputs = { type = "table" },
} }
-- renewal of expiring subscriptions: the flow, the registration-data field
-- that holds the expiry, and how many seconds before it to renew
local RENEWAL = { fields = {
  flow = { type = "string", required = true }, inputs = { type = "table" },
  expires = { type = "string", required = true }, before = { type = "number" },
} }
local EXPIRED = { gone = true, call = true }
local EVENT = { fields = {
  description = { type = "string" },
  options = { type = "table", each = OPTION },
  registration = { type = "table", shape = ENTRY },
  deregistration = { type = "table", shape = ENTRY, required = true },
  -- reconcile: the provider's webhooks, how they match instances, which are ours
  list = { type = "table", shape = ENTRY },
  match = {},
  owned = { type = "function" },
  gone = { type = "table", array_of = "integer" },
  renewal = { type = "table", shape = RENEWAL },
  expired = { type = "string", one_of = EXPIRED },
  retry = { type = "table", shape = { fields = {
    max_attempts = { type = "integer" }, base_ms = { type = "integer" },
    max_ms = { type = "integer" } } } },
} }
local MANIFEST = { fields = {
  name = { type = "string", required = true },
  version = { type = "string" },
  description = { type = "string" },
  base_url = { type = "string" },
  auth = { type = "string", one_of = connection.AUTH_TYPES },
  -- with auth = "oauth2": what connections of this connector may leave out
  oauth2 = { type = "table", shape = { fields = {
    token_url = { type = "string" }, scope = { type = "string" },
    audience = { type = "string" } } } },
  headers = { type = "table", map_of = "string" },
  hosts = { type = "table", array_of = "string" },
  limits = { type = "table", shape = { fields = {
    concurrency = { type = "integer" }, per_second = { type = "number" },
    memory_mb = { type = "integer" }, timeout_ms = { type = "integer" } } } },
  events = { type = "table", required = true, each = EVENT },
} }
local FLOW = { fields = {
  description = { type = "string" },
  inputs = { type = "table", each = OPTION },
  outputs = { type = "table", each = OPTION },
  run = { type = "function", required = true },
} }

local function sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  sort(ks)
  return ks
end

local function distance(a, b)
  if #a > 20 or #b > 20 then return 99 end
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggest(key, choices)
  local best, bd = nil, 3
  for _, c in ipairs(choices) do
    local d = distance(key, c)
    if d < bd then best, bd = c, d end
  end
  return best and fmt(" (did you mean '%s'?)", best) or ""
end

local function join(path, k)
  return path == "" and tostring(k) or path .. "." .. tostring(k)
end

local function tname(v)
  if _M.is_option(v) then return "option" end
  return type(v)
end

local function has_type(v, t)
  if t == "integer" then return math.type(v) == "integer" end
  return tname(v) == t
end

-- Walk value t against shape; report(path, message) for each problem.
local function check_shape(t, shape, path, report)
  local names = sorted_keys(shape.fields)
  for k, v in pairs(t) do
    local f = type(k) == "string" and shape.fields[k]
    if not f then
      report(join(path, k), fmt("unknown key '%s'%s%s; expected one of: %s",
        tostring(k), path ~= "" and (" in " .. path) or "",
        suggest(tostring(k), names), concat(names, ", ")))
    else
      local p = join(path, k)
      if f.type and not has_type(v, f.type) then
        report(p, fmt("%s: expected %s, got %s", p, f.type, tname(v)))
      elseif f.one_of and not f.one_of[v] then
        report(p, fmt("%s: '%s' is not one of: %s", p, tostring(v),
          concat(sorted_keys(f.one_of), ", ")))
      elseif f.shape then
        check_shape(v, f.shape, p, report)
      elseif f.each then
        for ek, ev in pairs(v) do
          local ep = join(p, ek)
          if type(ev) ~= "table" then
            report(ep, fmt("%s: expected table, got %s", ep, tname(ev)))
          else
            check_shape(ev, f.each, ep, report)
          end
        end
      elseif f.array_of or f.map_of then
        for ek, ev in pairs(v) do
          local want = f.array_of or f.map_of
          if not schema.matches(ev, want) then
            report(join(p, ek), fmt("%s: expected %s, got %s", join(p, ek), want, schema.kind(ev)))
          end
        end
      end
    end
  end
  for _, k in ipairs(names) do
    if shape.fields[k].required and t[k] == nil then
      report(path, fmt("missing required key '%s'%s", k, path ~= "" and (" in " .. path) or ""))
    end
  end
  -- declared types of options and inputs
  if shape == OPTION and t.type ~= nil and type(t.type) == "string"
     and not schema.TYPES[t.type] then
    report(join(path, "type"), fmt("%s: unknown type '%s'; expected one of: %s",
      join(path, "type"), t.type, concat(sorted_keys(schema.TYPES), ", ")))
  end
end

-- Run a connector file's chunk in a fresh environment.
-- Returns its value, or nil and "file:line: message".
function _M.run_file(path, env)
  local src, err = core.readfile(path)
  if not src then return nil, err, nil end
  chunks.register(path)
  local fn, lerr = core.loadtext(src, "@" .. path, env or _M.env())
  if not fn then return nil, chunks.expand(lerr), src end
  local ok, v = pcall(fn)
  if not ok then return nil, chunks.expand(tostring(v)), src end
  return v, nil, src, fn
end

-- The source map is built only when there is a problem to report.
local function where_in(file, src, path)
  local srcmap = require "unhook.srcmap"
  return fmt("%s:%d", file, srcmap.line(srcmap.build(src), path))
end

-- Load and validate a flow file.  Returns flow or nil, errors.
function _M.load_flow(dir, rel, errs)
  local file = dir .. "/" .. rel
  if not core.isfile(file) then return nil end
  local flow, err, src, chunk = _M.run_file(file, _M.env(nil, nil, dir))
  if err then errs[#errs + 1] = err; return nil end
  if type(flow) ~= "table" then
    errs[#errs + 1] = fmt("%s:1: a flow must return a table { inputs = ..., run = function(ctx, input) ... end }, got %s",
      file, type(flow))
    return nil
  end
  local n = #errs
  check_shape(flow, FLOW, "", function(p, msg)
    errs[#errs + 1] = where_in(file, src, p) .. ": " .. msg
  end)
  if #errs > n then return nil end
  flow.inputs = flow.inputs or {}
  return flow, chunk
end

-- A flow entry of an event (events.E.registration, say): its flow file,
-- loaded once per connector, and its input mapping against the flow's
-- inputs and the event's options.
local function check_entry(m, ep, kind, entry, opts, errs, report)
  local dir, p = m.dir, ep .. "." .. kind
  local flow = m.flows[entry.flow]
  if flow == nil then
    if not core.isfile(dir .. "/" .. entry.flow) then
      report(p .. ".flow", fmt("%s.flow: file '%s' not found in %s", p, entry.flow, dir))
    else
      local chunk
      flow, chunk = _M.load_flow(dir, entry.flow, errs)
      m.chunks[entry.flow] = chunk
    end
    m.flows[entry.flow] = flow or false   -- a broken flow is reported once
  end
  flow = flow or nil
  local inputs = entry.inputs or {}
  for iname, v in pairs(inputs) do
    local ip = p .. ".inputs." .. tostring(iname)
    if _M.is_option(v) and opts[v.name] == nil then
      report(ip, fmt("%s: option '%s' is not declared in %s.options", ip, v.name, ep))
    end
    if flow and flow.inputs[iname] == nil then
      report(ip, fmt("%s: the flow %s declares no input '%s'%s", ip, entry.flow,
        tostring(iname), suggest(tostring(iname), sorted_keys(flow.inputs))))
    elseif flow and not _M.is_option(v) then
      -- a static value is checked as the run checks it (text is converted)
      local t = flow.inputs[iname].type or "any"
      local cv, cerr = schema.coerce(v, t, unhook.json)
      if cerr or not schema.matches(cv, t) then
        report(ip, fmt("%s: static value: input '%s' of %s expects %s, got %s", ip,
          tostring(iname), entry.flow, t, schema.kind(v)))
      end
    end
  end
  if flow then
    for _, iname in ipairs(sorted_keys(flow.inputs)) do
      local spec = flow.inputs[iname]
      if spec.required and spec.default == nil and inputs[iname] == nil then
        report(p .. ".inputs", fmt("%s.inputs: required input '%s' of %s is not mapped",
          p, iname, entry.flow))
      end
    end
  end
end

-- A path into registration data: "id", "config.url".
local function is_path(s)
  return s:match("^[%w_]+[%w_%.]*$") and not s:find("..", 1, true) and s:sub(-1) ~= "."
end

-- match: "id", a path into the registration data ("config.url"), or a
-- function(data) returning the key; match and owned need a list flow.
local function check_reconcile(ev, ep, report)
  local mt = type(ev.match)
  if ev.match ~= nil and mt ~= "string" and mt ~= "function" then
    report(ep .. ".match", fmt("%s.match: expected a registration-data path (string) or a function, got %s",
      ep, tname(ev.match)))
  elseif mt == "string" and not is_path(ev.match) then
    report(ep .. ".match", fmt("%s.match: '%s' is not a path like \"id\" or \"config.url\"", ep, ev.match))
  end
  for _, k in ipairs({ "match", "owned" }) do
    if ev[k] ~= nil and ev.list == nil then
      report(ep .. "." .. k, fmt("%s.%s: needs a list flow (%s.list)", ep, k, ep))
    end
  end
end

-- renewal.expires: a path into the registration data; before: seconds,
-- not negative; expired ("gone" or "call") only with a renewal.
local function check_renewal(ev, ep, report)
  local r, p = ev.renewal, ep .. ".renewal"
  if r and not is_path(r.expires) then
    report(p .. ".expires", fmt("%s.expires: '%s' is not a path like \"expires_at\" or \"subscription.expires\"",
      p, r.expires))
  end
  if r and r.before ~= nil and (r.before < 0 or r.before ~= r.before) then
    report(p .. ".before", fmt("%s.before: expected seconds before the expiry (0 or more), got %s",
      p, tostring(r.before)))
  end
  if r and not ev.registration then
    report(p, fmt("%s: needs a registration flow (%s.registration) to renew", p, ep))
  end
  if ev.expired ~= nil and not r then
    report(ep .. ".expired", fmt("%s.expired: needs a renewal (%s.renewal)", ep, ep))
  end
end

local function check_events(m, errs, report)
  if next(m.events) == nil then report("events", "events: declare at least one event") end
  for ename, ev in pairs(m.events) do
    for _, kind in ipairs({ "registration", "deregistration", "list", "renewal" }) do
      if ev[kind] then
        check_entry(m, "events." .. ename, kind, ev[kind], ev.options or {}, errs, report)
      end
    end
    check_reconcile(ev, "events." .. ename, report)
    check_renewal(ev, "events." .. ename, report)
  end
end

-- The names in a folder of the connector ({} when there is none); a
-- folder that is there but cannot be read is a problem, not an empty one.
local function listdir(m, sub, errs)
  local names, err = core.listdir(m.dir .. "/" .. sub)
  if not names then errs[#errs + 1] = err end
  return names or {}
end

-- Helper flows: flows/*.lua that no event names.
local function load_helper_flows(m, errs)
  for _, fname in ipairs(listdir(m, "flows", errs)) do
    local rel = "flows/" .. fname
    if fname:match("%.lua$") and m.flows[rel] == nil then
      local flow, chunk = _M.load_flow(m.dir, rel, errs)
      m.flows[rel], m.chunks[rel] = flow or false, chunk
    end
  end
end

-- The connector's own cards: cards/*.lua, one card a file.
local function load_cards(m, errs)
  m.cards, m.card_chunks = {}, {}
  local names, cards, builtin = {}, require "unhook.cards", nil
  for _, fname in ipairs(listdir(m, "cards", errs)) do
    local rel = "cards/" .. fname
    if fname:match("%.lua$") then
      builtin = builtin or cards.names()    -- loads the built-in cards
      local file = m.dir .. "/" .. rel
      local c, cerr, _, chunk = _M.run_file(file, _M.env(nil, nil, m.dir))
      if cerr then
        errs[#errs + 1] = cerr
      elseif not card.is_card(c) then
        errs[#errs + 1] = fmt("%s:1: a card file must return unhook.card{ name = ..., inputs = ..., outputs = ..., run = ... }, got %s",
          file, type(c))
      elseif names[c.def.name] then
        errs[#errs + 1] = fmt("%s:1: card '%s' is also defined in %s", file, c.def.name, names[c.def.name])
      elseif cards.conflict(builtin, { c.def.name }) then
        errs[#errs + 1] = fmt("%s:1: card '%s' takes the name of a built-in card (%s)", file, c.def.name,
          cards.conflict(builtin, { c.def.name }))
      else
        names[c.def.name] = rel
        m.cards[rel], m.card_chunks[rel] = c, chunk
      end
    end
  end
end

-- Load a connector folder.  Returns manifest (with .flows by path), or
-- nil and a list of "file:line: message".
function _M.load(dir)
  local file = dir .. "/connector.lua"
  local errs = {}
  if not core.isfile(file) then
    return nil, { fmt("%s: no connector.lua in this folder", dir) }
  end
  local m, err, src = _M.run_file(file, _M.env({ option = _M.option }))
  if err then return nil, { err } end
  if type(m) ~= "table" then
    return nil, { fmt("%s:1: the manifest must return a table, got %s", file, type(m)) }
  end
  local function report(p, msg) errs[#errs + 1] = where_in(file, src, p) .. ": " .. msg end
  check_shape(m, MANIFEST, "", report)
  if #errs > 0 then return nil, _M.sorted(errs) end

  m.dir, m.file, m.flows, m.chunks = dir, file, {}, {}
  check_events(m, errs, report)
  load_helper_flows(m, errs)
  load_cards(m, errs)
  if #errs > 0 then return nil, _M.sorted(errs) end
  return m
end

-- Problems in file and line order, so that output does not depend on
-- the order of table traversal.
function _M.sorted(errs)
  local function key(e)
    local file, line = e:match("^(.-):(%d+):")
    return file or e, tonumber(line) or 0
  end
  table.sort(errs, function(a, b)
    local fa, la = key(a)
    local fb, lb = key(b)
    if fa ~= fb then return fa < fb end
    if la ~= lb then return la < lb end
    return a < b
  end)
  return errs
end

-- A retry setting as the scheduler uses it: the default (core.RETRY)
-- unless the event sets a positive value.
local function resolved(v, default)
  if v ~= nil and v > 0 then return v end
  return default
end

-- Seconds before the expiry to renew when the event does not say.
_M.RENEW_BEFORE = 3600

-- What the scheduler needs of a connector: its limits and, per event,
-- the retry policy with defaults applied, and its renewal (renew_before:
-- seconds, -1 for none; expired_gone: an expired subscription counts as
-- gone without calling the provider).  Returns a table, or nil and
-- the problems as text.
function _M.summary(dir)
  local m, errs = _M.load(dir)
  if not m then return nil, table.concat(errs, "\n") end
  local limits = m.limits or {}
  local out = { concurrency = limits.concurrency or 0, per_second = limits.per_second or 0,
                events = {}, oauth2 = m.auth == "oauth2" and m.oauth2 or nil }
  for ename, ev in pairs(m.events) do
    local r = ev.retry or {}
    out.events[ename] = { max_attempts = resolved(r.max_attempts, RETRY.max_attempts),
                          base_ms = resolved(r.base_ms, RETRY.base_ms),
                          max_ms = resolved(r.max_ms, RETRY.max_ms),
                          renew_before = ev.renewal and (ev.renewal.before or _M.RENEW_BEFORE) or -1,
                          expired_gone = ev.expired == "gone" }
  end
  return out
end

return _M
