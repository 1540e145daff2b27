-- The flow runner: from a run request to an outcome.  Loads the
-- connector, maps options to inputs, validates them, builds ctx, runs the
-- flow and classifies what happened.  Runs inside the flow's coroutine.
local name, core = ...

local unhook = require "unhook"
local schema = require "unhook.schema"
local manifest = require "unhook.manifest"
local http = require "unhook.http"
local chunks = require "unhook.chunks"
local cards = require "unhook.cards"
local helpers = require "unhook.helpers"
local codes = require "unhook.codes"
-- reconcile (list runs) and isotime (renewals) are loaded when first used

local _M = {}

local type, pairs, ipairs, tostring, pcall, xpcall = type, pairs, ipairs, tostring, pcall, xpcall
local fmt, concat, sort = string.format, table.concat, table.sort
local json = require("unhook").json

local OUTCOME, RC = codes.OUTCOME, codes.RC
local DEFAULT_GONE = { 404, 410 }

-- The flow could not start: rc is the API's result code.
local function setup(rc, message)
  return { outcome = OUTCOME.setup, rc = rc, message = message }
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

local function decode_object(text, what)
  if text == nil or text == "" then return {} end
  local ok, v = pcall(json.decode, text)
  if not ok or type(v) ~= "table" then
    return nil, fmt("%s: expected a JSON object: %s", what, ok and type(v) or tostring(v))
  end
  return v
end

-- Registration data: JSON is decoded (text starting with {, [ or "
-- after blanks), anything else stays a string (lsetup.c).
local decode_registration = core.registration
local core_setup = core.setup
local ctx_new = core.ctx_new

local function names(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  sort(ks)
  return concat(ks, ", ")
end

local LEVELS = { error = core.LOG_ERROR, warn = core.LOG_WARN, info = core.LOG_INFO, debug = core.LOG_DEBUG }

local function logger(prefix)
  local log = {}
  for lname, level in pairs(LEVELS) do
    log[lname] = function(...)
      local parts = { ... }
      for i = 1, select("#", ...) do parts[i] = tostring(parts[i]) end
      core.log(level, prefix .. concat(parts, " "))
    end
  end
  return setmetatable(log, { __call = function(_, ...) return log.info(...) end })
end

local function message_of(err)
  if type(err) == "table" then
    local mt = getmetatable(err)
    if mt and mt.__tostring then
      local ok, s = pcall(tostring, err)
      if ok then return s end
    end
    if type(err.message) == "string" then return err.message end
    local ok, s = pcall(json.encode, err)
    return ok and ("error " .. s) or "error object without a message"
  end
  return tostring(err)
end

-- A Lua state may serve many runs of one connector: the manifest is
-- loaded and checked once, flows are kept compiled, and each run gets its
-- own instance of the flow (a fresh environment).
local prepared = {}

-- Edited files are noticed: the cache holds the stamps of what it read.
local function stamps(dir, rels)
  local parts = { core.stamp(dir .. "/connector.lua") }
  for _, rel in ipairs(rels) do parts[#parts + 1] = core.stamp(dir .. "/" .. rel) end
  return concat(parts, "|")
end

local function prepare(dir)
  local p = prepared[dir]
  if p then
    -- look for edits at most once a second
    local now = core.now()
    if now - p.checked < 1 then return p end
    if stamps(dir, p.rels) == p.stamp then
      p.checked = now
      return p
    end
  end
  local m, errs = manifest.load(dir)
  if not m then
    prepared[dir] = nil
    return nil, concat(errs, "\n")
  end
  p = { m = m, code = {}, rels = {} }
  for rel, chunk in pairs(m.chunks) do
    p.code[rel] = core.dump(chunk)
    p.rels[#p.rels + 1] = rel
  end
  for rel, chunk in pairs(m.card_chunks) do
    p.code[rel] = core.dump(chunk)
    p.rels[#p.rels + 1] = rel
  end
  table.sort(p.rels)
  p.stamp = stamps(dir, p.rels)
  p.checked = core.now()
  p.instances, p.nconns = {}, 0   -- warm flow instances (load_flow)
  prepared[dir] = p
  return p
end

-- A fresh instance of a compiled connector file, in env.
local function load_fresh(p, rel, env)
  local path = p.m.dir .. "/" .. rel
  local fn, err = core.loadbin(p.code[rel], "@" .. path, env)
  if not fn then return nil, err end
  local ok, v = pcall(fn)
  if not ok then return nil, chunks.expand(tostring(v)) end
  return v
end

local function instantiate(p, rel, env)
  local flow, err = load_fresh(p, rel, env)
  if not flow then return nil, err end
  if type(flow) ~= "table" or type(flow.run) ~= "function" then
    return nil, p.m.dir .. "/" .. rel .. ": the flow no longer returns a table with run"
  end
  flow.inputs = flow.inputs or {}
  return flow
end

-- The connector's own cards, fresh for this run.
local function custom_cards(p, env)
  local list = {}
  for rel in pairs(p.m.cards) do
    local c, err = load_fresh(p, rel, env)
    if not c then return nil, err end
    list[#list + 1] = c
  end
  table.sort(list, function(a, b) return a.def.name < b.def.name end)
  return list
end

-- flow.call: run a helper flow of the same connector; its declared
-- outputs are what it returns.
local function helper_caller(p, ctx)
  return function(rel, input)
    if type(rel) ~= "string" or rel:find("..", 1, true) or not p.code[rel]
       or not rel:match("^flows/") then
      error(fmt("flow.call: input 'flow': no helper flow '%s' in %s", tostring(rel), p.m.dir), 3)
    end
    local flow, err = instantiate(p, rel, manifest.env(nil, function(k)
      if k == "cards" then return ctx.cards end
    end, p.m.dir))
    if not flow then error(err, 0) end
    local given = input or {}
    for k in pairs(given) do
      if flow.inputs[k] == nil then
        error(fmt("flow.call: %s has no input '%s'", rel, tostring(k)), 3)
      end
    end
    local checked, verr = schema.validate(given, flow.inputs, "input")
    if not checked then error(fmt("flow.call: %s: %s", rel, verr), 3) end
    local sub = setmetatable({ input = checked }, { __index = ctx })
    local out = flow.run(sub, checked)
    if flow.outputs then
      if type(out) ~= "table" then
        error(fmt("flow.call: %s must return its outputs as a table, got %s", rel, type(out)), 3)
      end
      local ok, oerr = schema.validate(out, flow.outputs, "output")
      if not ok then error(fmt("flow.call: %s: %s", rel, oerr), 3) end
      local result = {}
      for k in pairs(flow.outputs) do result[k] = out[k] end
      return result
    end
    return out
  end
end

-- ctx.http keeps no state of its own: one client per base URL serves
-- every run of the connector in this Lua state, as the metatable of a
-- table of the run's own (core.ctx_new), which keeps its writes.
local function client_mt(p, base)
  local clients = p.clients   -- (p is written only once: a write to an
  if not clients then         -- old table costs the collector a visit)
    clients = {}
    p.clients = clients
  end
  local key = base or ""
  local mt = clients[key]
  if not mt then
    mt = { __index = http.new(p.m, base), __metatable = false }
    clients[key] = mt
  end
  return mt
end

-- One run goes through phases, each a function of the run's state r
-- (r.spec, then what earlier phases found).  A phase returns nothing to
-- go on, or the result that ends the run.

-- The connector, the event and its flow entry.
local function resolve(r)
  local spec = r.spec
  local p, perr = prepare(spec.dir)
  if not p then return setup(RC.invalid, perr) end
  local m = p.m
  if m.limits then core.limits(m.limits.memory_mb, m.limits.timeout_ms) end
  local ev = m.events[spec.event]
  if not ev then
    return setup(RC.notfound, fmt("connector '%s' has no event '%s' (events: %s)",
      m.name, tostring(spec.event), names(m.events)))
  end
  local entry = ev[spec.kind]
  if not entry then
    return setup(RC.notfound, fmt("event '%s' of connector '%s' has no %s flow",
      spec.event, m.name, spec.kind))
  end
  r.p, r.m, r.ev, r.entry = p, m, ev, entry
end

-- The flow's instance for this run's connection.  Instances are warm:
-- one serves every run of the flow for one connection in this state, so
-- module-level values persist between those runs (per-run data lives in
-- ctx); a run for another connection gets an instance of its own.  Runs
-- of one connection in flight at once share it.  Its unhook.cards is the
-- running run's ctx's cards (core.ctx: the state's current run).
local MAX_CONNS = 64            -- connections with warm instances per state

local function load_flow(r)
  local p, rel = r.p, r.entry.flow
  local key = r.spec.conn_id or 0
  local byconn = p.instances[key]
  if not byconn then
    if p.nconns >= MAX_CONNS then p.instances, p.nconns = {}, 0 end
    byconn = {}
    p.instances[key] = byconn
    p.nconns = p.nconns + 1
  end
  local inst = byconn[rel]
  if not inst then
    local env = manifest.env(nil, function(k)
      local ctx = k == "cards" and core.ctx()
      if ctx then return ctx.cards end
    end, r.m.dir)
    local flow, ferr = instantiate(p, rel, env)
    if not flow then return setup(RC.invalid, ferr) end
    inst = { flow = flow }
    byconn[rel] = inst
  end
  r.flow = inst.flow
end

-- The declared options a run checks: all of them, except that a
-- deregistration does not demand a required option its flow does not
-- use (enable checked them all when the instance was stored).
local checked_cache = setmetatable({}, { __mode = "k" })   -- entry -> options

local function checked_options(r)
  local declared = r.ev.options or {}
  if r.spec.kind ~= "deregistration" then return declared end
  local cached = checked_cache[r.entry]
  if cached then return cached end
  local used = {}
  for _, v in pairs(r.entry.inputs or {}) do
    if manifest.is_option(v) then used[v.name] = true end
  end
  local out = {}
  for k, o in pairs(declared) do
    if o.required and not used[k] then
      local c = {}
      for f, x in pairs(o) do c[f] = x end
      c.required = nil
      o = c
    end
    out[k] = o
  end
  checked_cache[r.entry] = out
  return out
end

-- The set-up's plan for one flow entry, for core.setup (lsetup.c): the
-- options checked, the event's option names, the inputs' mapping and the
-- flow's inputs, each field { name, type code, default, required }.
local TYPE_CODES = { string = 1, number = 2, integer = 3, boolean = 4, any = 5 }

local function fields_of(specs)
  local list = {}
  for fname, s in pairs(specs) do
    list[#list + 1] = { fname, TYPE_CODES[s.type or "any"] or 0, s.default, s.required and true or false }
  end
  return list
end

local plans = setmetatable({}, { __mode = "k" })   -- flow -> entry -> plan

local function plan_of(r)
  local per = plans[r.flow]
  if not per then
    per = setmetatable({}, { __mode = "k" })
    plans[r.flow] = per
  end
  local plan = per[r.entry]
  if plan then return plan end
  local map, declared = {}, {}
  for iname, v in pairs(r.entry.inputs or {}) do
    if manifest.is_option(v) then map[#map + 1] = { iname, v.name }
    else map[#map + 1] = { iname, false, v } end
  end
  for k in pairs(r.ev.options or {}) do declared[k] = true end
  plan = { fields_of(checked_options(r)), declared, map, fields_of(r.flow.inputs) }
  per[r.entry] = plan
  return plan
end

-- The event's options, as given, checked against their declaration.
local function validate_options(r)
  local spec = r.spec
  local given, err = decode_object(spec.options_json, "options")
  if not given then return setup(RC.usage, err) end
  local declared = r.ev.options or {}
  for k in pairs(given) do
    if declared[k] == nil then
      return setup(RC.usage, fmt("event '%s' has no option '%s' (options: %s)",
        spec.event, tostring(k), names(declared)))
    end
  end
  local options
  options, err = schema.validate(given, checked_options(r), "option", json)
  if not options then return setup(RC.usage, err) end
  r.options = options
end

-- The flow's inputs: the entry's mapping, then the run's overrides,
-- checked against the flow's declaration.
local function map_inputs(r)
  local spec, entry, flow = r.spec, r.entry, r.flow
  local input = {}
  for iname, v in pairs(entry.inputs or {}) do
    if manifest.is_option(v) then input[iname] = copy(r.options[v.name])
    else input[iname] = copy(v) end
  end
  local overrides, err = decode_object(spec.inputs_json, "inputs")
  if not overrides then return setup(RC.usage, err) end
  for k, v in pairs(overrides) do
    if flow.inputs[k] == nil then
      return setup(RC.usage, fmt("the flow %s has no input '%s' (inputs: %s)",
        entry.flow, tostring(k), names(flow.inputs)))
    end
    input[k] = v
  end
  for iname, v in pairs(entry.inputs or {}) do
    local ispec = flow.inputs[iname]
    if manifest.is_option(v) and input[iname] == nil and ispec and ispec.required
       and ispec.default == nil then
      return setup(RC.usage, fmt("option '%s' is required by the %s flow (input '%s' of %s)",
        v.name, spec.kind, iname, entry.flow))
    end
  end
  input, err = schema.validate(input, flow.inputs, "input", json)
  if not input then return setup(RC.usage, err) end
  r.input = input
end

local function read_registration(r)
  if r.spec.kind == "list" then
    -- a list run's "registration" is the stored instances (reconcile.c)
    local ok, stored = pcall(json.decode, r.spec.registration or "[]")
    if not ok then return setup(RC.usage, "stored instances: " .. tostring(stored)) end
    r.stored = stored
    return
  end
  local registration, err = decode_registration(r.spec.registration)
  if err then return setup(RC.usage, err) end
  r.reg_data = registration
end

-- ctx: what every flow reads is set; the rest is built on first use
-- (most flows read neither log, instance, connection nor cards).
local LAZY = {
  log = function(r)
    return logger(fmt("%s %s: ", r.m.name, r.spec.instance_id or "test"))
  end,
  instance = function(r)
    local spec = r.spec
    return { id = spec.instance_id or "test", connector = r.m.name, event = spec.event,
             options = copy(r.options) }
  end,
  connection = function(r)
    local spec = r.spec       -- the connection's public fields (run.c)
    return { base_url = r.base, auth = spec.conn_auth, username = spec.conn_user,
             timeout_ms = spec.conn_timeout }
  end,
  cards = function(r, ctx)
    local custom, err = custom_cards(r.p, manifest.env(nil, nil, r.m.dir))
    if not custom then error(err, 3) end
    local tree, terr = cards.bind(ctx, custom, r.spec.ccards or {})
    if not tree then error(terr, 3) end
    return tree
  end,
}

local function reason_of(spec)
  return spec.reason or (spec.kind == "registration" and "enabled"
    or spec.kind == "list" and "reconcile" or spec.kind == "renewal" and "renewal"
    or "disabled")
end

-- ctx's metatable, one for every run: RUNS says whose a ctx is.  Shared
-- like the runtime's other metatables (manifest.share_mt): connector code
-- that asks for it gets a copy.
local RUNS = setmetatable({}, { __mode = "k" })   -- ctx -> the run's state r
local CTX_MT = { __index = function(t, k)
  local make = LAZY[k]
  local r = RUNS[t]
  if not make or not r then return nil end
  local v = make(r, t)
  rawset(t, k, v)
  return v
end }
manifest.share_mt(CTX_MT)
-- and the responses' (response.c: headers and url set when first read)
manifest.share_mt(core.response_mt)

-- flow.call's caller for a ctx, made when a card first asks
helpers.resolver(function(ctx)
  local r = RUNS[ctx]
  return r and helper_caller(r.p, ctx)
end)

local function build_ctx(r)
  local spec, p, m = r.spec, r.p, r.m
  local base = spec.conn_base or m.base_url
  local ccards = spec.ccards
  if ccards and ccards[1] then
    -- the names cards take, to refuse a C card that would shadow one (the
    -- built-in cards are loaded into a state only when a run needs them)
    p.card_names = p.card_names or cards.names(p.m.cards)
    local cerr = cards.conflict(p.card_names, ccards)
    if cerr then return setup(RC.invalid, cerr) end
  end
  r.base = base
  -- { input, registration, reason, http = a table over the client }
  local ctx = ctx_new(CTX_MT, r.input, r.reg_data, reason_of(spec), client_mt(p, base))
  RUNS[ctx] = r
  -- a connection of another auth type than the manifest's: say so before
  -- the provider answers 401
  local auth = spec.conn_auth
  if m.auth and m.auth ~= "none" and auth and auth ~= "none" and auth ~= m.auth then
    ctx.log.warn(fmt("the connector expects %s credentials but the connection gives %s; "
      .. "the provider will likely refuse them (401)", m.auth, auth))
  end
  r.ctx = ctx
  core.set_ctx(ctx)
end

-- What a registration flow returned: the data to store, as JSON.
local function registration_data(r, ret)
  local where = r.spec.dir .. "/" .. r.entry.flow
  local t = type(ret)
  if t ~= "table" and t ~= "string" then
    return { outcome = OUTCOME.failed, code = "script",
      message = fmt("%s: a registration flow must return the registration data (a table or a string), got %s",
        where, t) }
  end
  local eok, data = pcall(json.encode, ret)
  if not eok then
    return { outcome = OUTCOME.failed, code = "script",
      message = fmt("%s: registration data cannot be stored as JSON: %s", where, tostring(data)) }
  end
  return { outcome = OUTCOME.done, registration = data }
end

-- Registration data of an event that renews: when it expires
-- (res.expires_at).  New data from a renewal must say; a registration
-- that does not is kept, with a warning, and is not renewed.
local function with_expiry(r, res)
  local renewal = r.ev.renewal
  if not renewal or res.outcome ~= OUTCOME.done then return res end
  local at, err = require("unhook.isotime").expiry(json.decode(res.registration), renewal.expires)
  if at then
    res.expires_at = at
  elseif r.spec.kind == "renewal" then
    return { outcome = OUTCOME.failed, code = "script",
      message = fmt("%s: the renewed registration data's expiry (renewal.expires): %s",
        r.spec.dir .. "/" .. r.entry.flow, err) }
  else
    core.log(core.LOG_WARN, fmt("%s %s: not renewed: the registration data's expiry (renewal.expires): %s",
      r.m.name, r.spec.instance_id or "test", err))
  end
  return res
end

-- What a list flow returned, compared with the stored instances.
local function list_report(r, ret)
  local where = r.spec.dir .. "/" .. r.entry.flow
  if type(ret) ~= "table" then
    return { outcome = OUTCOME.failed, code = "script",
      message = fmt("%s: a list flow must return a list of webhooks (tables), got %s", where, type(ret)) }
  end
  local reconcile = require "unhook.reconcile"
  local ok, report = pcall(reconcile.compare, ret, r.stored, r.ev,
    reconcile.scope(r.entry, manifest.is_option), r.options, r.ctx)
  if not ok then
    return { outcome = OUTCOME.failed, code = "script", message = fmt("%s: %s", where, tostring(report)) }
  end
  return { outcome = OUTCOME.done, registration = json.encode(report) }
end

-- What the flow raised.
local function error_outcome(r, err)
  local kind = r.spec.kind
  if unhook.is_error(err) and err.code == "stop" then
    -- branching.continue_if: a deregistration ends done; a registration
    -- that stops has no data to store
    if kind ~= "deregistration" then
      return { outcome = OUTCOME.failed, code = "stop", message = "the " .. kind .. " flow stopped without "
        .. (kind == "list" and "a list" or "registration data") .. ": " .. tostring(err.message) }
    end
    return { outcome = OUTCOME.done }
  end
  -- a renewal answered 404/410: the subscription is gone (it lapsed)
  local gone = (kind == "deregistration" or kind == "renewal") and (r.ev.gone or DEFAULT_GONE) or {}
  local res = { outcome = http.classify(err, gone), message = message_of(err) }
  if unhook.is_error(err) then
    res.code, res.status, res.retry_after = err.code, err.status, err.retry_after
  else
    res.code = "script"
  end
  return res
end

local function call_flow(r)
  local ok, ret = xpcall(r.flow.run, chunks.expand, r.ctx, r.input)
  core.set_ctx(nil)
  if not ok then return error_outcome(r, ret) end
  if r.spec.kind == "registration" or r.spec.kind == "renewal" then
    return with_expiry(r, registration_data(r, ret))
  end
  if r.spec.kind == "list" then return list_report(r, ret) end
  return OUTCOME.done           -- a bare outcome: nothing more to say (run.c)
end

-- spec: { dir, event, kind, options_json, inputs_json, registration,
--         reason, instance_id, conn_base, conn_auth, conn_user,
--         conn_timeout (the connection's non-secret fields), conn_id,
--         ccards, validate_only }, a table of the run's own over the
--         fields runs share (run.c): it is the run's state r as well,
--         sized for the fields the phases add (r.spec is r).
-- Returns { outcome, code, message, status, retry_after, registration,
-- expires_at }, or an outcome alone (a deregistration done),
-- or, when the flow could not start, { outcome = OUTCOME.setup, rc,
-- message }, what C reads (run.c).
function _M.run(spec)
  local r = spec
  r.spec = spec
  local stop = resolve(r) or load_flow(r)
  if stop then return stop end
  local options, input = core_setup(plan_of(r), spec.options_json, spec.inputs_json)
  if options then
    r.options, r.input = options, input
  else
    stop = validate_options(r) or map_inputs(r)
  end
  stop = stop or read_registration(r)
  if stop then return stop end
  if spec.validate_only then return { outcome = OUTCOME.done } end
  stop = build_ctx(r)
  if stop then return stop end
  return call_flow(r)
end

return _M
