-- The sandbox flows run in: what is out of reach, what does not survive
-- a run, and where errors point.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

-- Run a deregistration flow whose run function is body.
local function run_body(body, args)
  local dir = H.flow_connector("return { run = function(ctx, input)\n" .. body .. "\nend }")
  return H.run(dir, args)
end

local function fails_with(body, ...)
  local res = run_body(body)
  assert.equal("failed", res.outcome, res.message)
  for _, s in ipairs { ... } do
    assert.matches(s, res.message, 1, true)
  end
  return res
end

describe("sandbox", function()
  before_each(function() H.reset() end)

  describe("unavailable", function()
    local cases = {
      { "io", 'io.open("/etc/passwd")', "attempt to index a nil value (global 'io')" },
      { "io.write", 'io.write("x")', "attempt to index a nil value (global 'io')" },
      { "os.execute", 'os.execute("touch /tmp/unhook-sandbox-escape")', "attempt to call a nil value (field 'execute')" },
      { "os.getenv", 'return os.getenv("HOME")', "attempt to call a nil value (field 'getenv')" },
      { "os.exit", "os.exit(3)", "attempt to call a nil value (field 'exit')" },
      { "os.remove", 'os.remove("/tmp/x")', "attempt to call a nil value (field 'remove')" },
      { "os.tmpname", "os.tmpname()", "attempt to call a nil value (field 'tmpname')" },
      { "debug", "debug.getinfo(1)", "attempt to index a nil value (global 'debug')" },
      { "dofile", 'dofile("/etc/passwd")', "attempt to call a nil value (global 'dofile')" },
      { "loadfile", 'loadfile("/etc/passwd")', "attempt to call a nil value (global 'loadfile')" },
      { "string.dump", "string.dump(function() end)", "attempt to call a nil value (field 'dump')" },
      { "package", 'package.loadlib("libc.so.6", "system")', "attempt to index a nil value (global 'package')" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local res = fails_with(c[2], c[3])
        assert.equal("script", res.code)
        assert.matches("flows/d.lua:2: ", res.message, 1, true)
      end)
    end

    it("does not run a command through os.execute", function()
      os.remove("/tmp/unhook-sandbox-escape")
      run_body('pcall(function() os.execute("touch /tmp/unhook-sandbox-escape") end)')
      assert.is_nil(io.open("/tmp/unhook-sandbox-escape"))
    end)

    it("keeps the time functions of os", function()
      local res = run_body([[
        assert(type(os.time()) == "number" and type(os.clock()) == "number")
        assert(os.date("!%Y", 0) == "1970" and os.difftime(2, 1) == 1)]])
      assert.equal("done", res.outcome, res.message)
    end)

    it("load refuses binary chunks", function()
      fails_with('assert(load("\\27Lua\\x54\\0", "bin", "b", {}))',
        "bad argument #3 to 'load' (only text chunks (\"t\") are allowed)")
      fails_with('assert(load("\\27Lua\\x54\\0", "bin", "bt", {}))', "only text chunks")
      fails_with('assert(load("\\27Lua\\x54\\0", "bin", "t", {}))',
        "attempt to load a binary chunk (mode is 't')")
    end)

    it("load wants an explicit environment", function()
      fails_with('load("return 1")', "bad argument #4 to 'load' (an explicit environment is required)")
      fails_with('load("return 1", "c", "t")', "an explicit environment is required")
    end)

    it("load of text with an environment works, and sees only that environment", function()
      local res = run_body([[
        local f = assert(load("return x + 1, io, os, require", "c", "t", { x = 41 }))
        local v, a, b, c = f()
        if v ~= 42 or a or b or c then unhook.fail("load leaked: " .. tostring(v)) end]])
      assert.equal("done", res.outcome, res.message)
    end)

    local requires = {
      { "os", "module 'os' not found: flows may require only \"unhook\"" },
      { "io", "module 'io' not found: flows may require only \"unhook\"" },
      { "debug", "module 'debug' not found" },
      { "socket", "module 'socket' not found" },
      { "cjson", "module 'cjson' not found" },
      { "unhook.runner", "module 'unhook.runner' not found" },
      { "unhook.manifest", "module 'unhook.manifest' not found" },
      { "unhook.connection", "module 'unhook.connection' not found" },
    }
    for _, c in ipairs(requires) do
      it('require "' .. c[1] .. '"', function()
        local res = fails_with('require "' .. c[1] .. '"', c[2])
        assert.matches("flows/d.lua:2: ", res.message, 1, true)
      end)
    end

    it('allows require "unhook", the same table as the global', function()
      local res = run_body([[
        local u = require "unhook"
        if u ~= unhook or type(u.fail) ~= "function" or type(u.json.encode) ~= "function" then
          unhook.fail("require 'unhook' gave something else")
        end]])
      assert.equal("done", res.outcome, res.message)
    end)

    it("has no way to the runtime's require through _G or the environment", function()
      local res = run_body([[
        local seen = {}
        for _, t in ipairs { _G, _ENV, getmetatable(_ENV) and getmetatable(_ENV).__index or {} } do
          if type(t) == "table" and type(t.require) == "function" then
            local ok = pcall(t.require, "unhook.runner")
            if ok then seen[#seen + 1] = "runner" end
          end
        end
        if #seen > 0 then unhook.fail("reached the runtime require") end]])
      assert.equal("done", res.outcome, res.message)
    end)
  end)

  describe("limits", function()
    it("stops a flow that allocates past the memory cap", function()
      local res = run_body('local t = {} for i = 1, 1e8 do t[i] = ("x"):rep(64) .. i end')
      assert.equal("failed", res.outcome)
      assert.equal("memory", res.code)
      assert.matches("memory", res.message, 1, true)
    end)

    it("stops one huge string", function()
      local res = run_body('local s = ("x"):rep(100 * 2^20)')
      assert.equal("failed", res.outcome)
      assert.equal("memory", res.code)
    end)

    it("still runs the next flow after a memory stop", function()
      run_body('local s = ("x"):rep(100 * 2^20)')
      assert.equal("done", run_body("local s = ('x'):rep(1000)").outcome)
    end)

    -- `while true do end` and pcall loops are stopped by the 30 s default
    -- time budget, which cannot be lowered from Lua; the C tests cover them.
    pending("stops `while true do end` (30 s default budget)")
    pending("stops a pcall loop (30 s default budget)")

    it("refuses a bare coroutine.yield at the top of a flow", function()
      fails_with("coroutine.yield()", "coroutine.yield() outside a coroutine of the flow")
    end)

    it("lets a flow use coroutines of its own", function()
      local res = run_body([[
        local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
        if co(1) ~= 2 or co(5) ~= 10 then unhook.fail("coroutines broken") end]])
      assert.equal("done", res.outcome, res.message)
    end)
  end)

  describe("isolation between runs", function()
    it("does not keep globals, library or module changes from one run to the next", function()
      local dir = H.flow_connector([[
        return { run = function(ctx)
          if ctx.reason == "first" then
            LEAKED = 1; _G.leaked_g = 1; string.leaked = 1; table.leaked = 1
            unhook.leaked = 1; unhook.json.leaked = 1
            getmetatable("").__index.leaked_mt = 1
            return
          end
          local left = {}
          if LEAKED then left[#left + 1] = "LEAKED" end
          if rawget(_G, "leaked_g") or leaked_g then left[#left + 1] = "_G" end
          if string.leaked then left[#left + 1] = "string" end
          if table.leaked then left[#left + 1] = "table" end
          if unhook.leaked then left[#left + 1] = "unhook" end
          if unhook.json.leaked then left[#left + 1] = "unhook.json" end
          if ("").leaked_mt then left[#left + 1] = "string metatable" end
          if #left > 0 then unhook.fail("left over: " .. table.concat(left, ", ")) end
        end }]])
      assert.equal("done", H.run(dir, { reason = "first" }).outcome)
      local res = H.run(dir, { reason = "second" })
      assert.equal("done", res.outcome, res.message)
    end)

    it("does not let a checked connector change how later runs parse connections", function()
      -- unhook.check runs connector code in the engine's long-lived host
      -- state, the same state that parses connection files for every run.
      local engine = H.new_engine()
      local evil = H.connector {
        ["connector.lua"] = [[
          local S = getmetatable("").__index
          local gsub = S.gsub
          S.gsub = function(s, p, r, n)
            if type(s) == "string" and s:find("^http://") and not s:find("/evil") then
              s = s .. "/evil"
            end
            return gsub(s, p, r, n)
          end
          return { name = "evil", events = {} }]],
      }
      assert.is_nil((engine.check(evil)))
      local id = H.seed("octo", "hello", 1)[1]
      local res = engine.run {
        connector = "github", event = "push", options = { owner = "octo", repo = "hello" },
        registration = { id = id }, connection = H.connection(),
      }
      assert.equal("/repos/octo/hello/hooks/" .. id, H.last_request().path)
      assert.equal("done", res.outcome)
    end)

    it("never hands one run's pending response to another run", function()
      -- a request made inside a coroutine of the flow is still in flight
      -- when that run ends; a later run must get its own response
      H.script("GET", "/api/slow", { { delay_ms = 300, status = 200, body = { who = "slow" } } })
      H.script("GET", "/api/fast", { { delay_ms = 800, status = 200, body = { who = "fast" } } })
      local dir = H.flow_connector([[
        return { run = function(ctx)
          if ctx.reason == "first" then
            local co = coroutine.wrap(function() return ctx.http.get("/api/slow") end)
            co()
            return
          end
          local r = ctx.http.get("/api/fast")
          unhook.fail("got " .. tostring(r.json and r.json.who) .. " from " .. r.url)
        end }]])
      -- in a separate process: the engine may touch freed memory here
      local out = H.lua_subprocess(string.format([[
        local H = require "helpers"
        local a = H.unhook.run { connector = %q, event = "e", connection = H.connection(), reason = "first" }
        print("first", a and a.outcome, a and a.message)
        local b = H.unhook.run { connector = %q, event = "e", connection = H.connection(), reason = "second" }
        print("second", b and b.outcome, b and b.message)
        H.cleanup()
      ]], dir, dir))
      assert.matches("second\tfailed\t[^\n]*got fast from " .. H.url:gsub("%p", "%%%0") .. "/api/fast", out)
    end)
  end)

  describe("error locations", function()
    it("reports flows/<file>.lua:N: for error()", function()
      local res = run_body('local a = 1\n\nerror("boom " .. a)')
      assert.equal("failed", res.outcome)
      assert.equal("script", res.code)
      assert.matches("/flows/d%.lua:4: boom 1$", res.message)
    end)

    it("reports flows/<file>.lua:N: for a runtime error", function()
      local res = run_body('local t\nlocal x = t.field')
      assert.matches("/flows/d%.lua:3: attempt to index a nil value %(local 't'%)$", res.message)
    end)

    it("reports flows/<file>.lua:N: for unhook.fail, with one space", function()
      local res = run_body('\nunhook.fail("nope")')
      assert.equal("fail", res.code)
      assert.matches("/flows/d%.lua:3: nope$", res.message)
    end)

    it("reports the line in another flow file of the connector", function()
      local dir = H.connector {
        ["connector.lua"] = [[
          return { name = "t", events = { e = { deregistration = { flow = "flows/other_name.lua" } } } }]],
        ["flows/other_name.lua"] = 'return {\n  run = function()\n    local n = nil\n    return n + 1\n  end }',
      }
      local res = H.run(dir)
      assert.equal("failed", res.outcome)
      assert.matches("/flows/other_name%.lua:4: attempt to perform arithmetic on a nil value %(local 'n'%)$",
        res.message)
      assert.equal(dir .. "/flows/other_name.lua:4:", res.message:match("^(%S+:4:)"))
    end)
  end)
end)

teardown(H.cleanup)
