-- The engine object of require "unhook": a Lua host embeds unhook as a C
-- host does (bindings/lengine.c).  Same semantics and errors as the C API:
-- operational failures return nil, message, code (unhook.codes); misuse
-- raises.  Against the fixture provider, each test with its own store.
local H = require "helpers"
local unhook = H.unhook
local codes = unhook.codes

local OPTS = { owner = "octo", repo = "hello", url = "https://example.test/hook" }

describe("unhook.open", function()
  local dir, conn, e

  before_each(function()
    H.reset()
    dir = H.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. H.shell_quote(dir))
    conn = H.connection()
    e = assert(unhook.open { db = dir .. "/unhook.db", connectors = "scripts/connectors" })
  end)

  after_each(function()
    e:close()
    H.cleanup()
  end)

  local function enable(id, opts)
    return e:enable(id, { connector = "github", event = "push", options = opts or OPTS,
      connection = conn })
  end

  describe("open and close", function()
    it("refuses options of the wrong type, naming them", function()
      assert.has_error(function() unhook.open { db = 42 } end, "db: expected string, got number")
      assert.has_error(function() unhook.open { concurrency = "many" } end,
        "concurrency: expected integer, got string")
    end)

    it("refuses a key it does not know (a misspelt db would open ./unhook.db)", function()
      assert.has_error(function() unhook.open { dbb = "x.db" } end,
        "unhook.open: unknown key 'dbb' (keys: concurrency, connection, connectors, db, memory_mb, threads, timeout_ms)")
    end)

    it("closes once, and a closed engine raises", function()
      local other = assert(unhook.open { db = dir .. "/other.db" })
      other:close()
      other:close()
      assert.has_error(function() other:list() end, "unhook.Engine: the engine is closed")
    end)

    it("reports a store that cannot be opened with the store code", function()
      local bad = assert(unhook.open { db = dir .. "/no/such/folder/u.db" })
      -- reading a store that does not exist yet finds nothing (and makes none)
      assert.same({}, bad:list())
      local res, msg, code = bad:disable("a")
      assert.is_nil(res)
      assert.equals(codes.STORE, code)
      assert.is_string(msg)
      bad:close()
    end)

    it("has the C API's codes", function()
      assert.same({ OK = 0, ERROR = 1, USAGE = 2, INVALID = 3, STORE = 4, NOMEM = 5,
        NOTFOUND = 6, IO = 7, PENDING = 75 }, codes)
    end)
  end)

  describe("enable", function()
    it("runs the registration flow and stores the registration data", function()
      local res = assert(enable("a"))
      assert.equals("done", res.outcome)
      assert.equals(12345678, H.json.decode(res.registration).id)
      local i = assert(e:show("a"))
      assert.equals("registered", i.state)
      assert.equals("on", i.desired)
      assert.equals(12345678, math.tointeger(i.registration.id))
      assert.equals("octo", i.options.owner)
    end)

    it("says already_on for the same instance twice", function()
      assert(enable("a"))
      local res = assert(enable("a"))
      assert.equals("already_on", res.code)
    end)

    it("refuses a missing required option with the usage code, storing nothing", function()
      local res, msg, code = enable("a", { owner = "octo" })
      assert.is_nil(res)
      assert.equals(codes.USAGE, code)
      assert.matches("repo", msg)
      local i, _, c2 = e:show("a")
      assert.is_nil(i)
      assert.equals(codes.NOTFOUND, c2)
    end)

    it("says not found for an unknown connector", function()
      local res, _, code = e:enable("a", { connector = "nosuch", event = "push", options = {} })
      assert.is_nil(res)
      assert.equals(codes.NOTFOUND, code)
    end)

    it("raises on misuse", function()
      assert.has_error(function() e:enable("a", { event = "push" }) end)
      assert.has_error(function() e:enable(nil, {}) end)
    end)
  end)

  describe("disable", function()
    it("deregisters: off, registration data to history", function()
      assert(enable("a"))
      local res = assert(e:disable("a"))
      assert.equals("done", res.outcome)
      local i = e:show("a")
      assert.equals("off", i.state)
      assert.is_nil(i.registration)
      assert.equals("already_off", e:disable("a").code)
    end)

    it("keeps the registration data and schedules a retry on a 503", function()
      assert(enable("a"))
      H.script("DELETE", "/repos/octo/hello/hooks/*", { { status = 503, body = "down" } })
      local res = assert(e:disable("a", "deleted"))
      assert.equals("retry", res.outcome)
      assert.equals(503, math.tointeger(res.status))
      local i = e:show("a")
      assert.equals("deregistering", i.state)
      assert.equals("deleted", i.reason)
      assert.is_number(i.next_attempt_at)
    end)

    it("says not found for an unknown instance", function()
      local res, msg, code = e:disable("nosuch")
      assert.is_nil(res)
      assert.equals(codes.NOTFOUND, code)
      assert.matches("nosuch", msg)
    end)
  end)

  describe("retry", function()
    it("re-queues a dead letter and runs it", function()
      assert(enable("a"))
      H.script("DELETE", "/repos/octo/hello/hooks/*", { { status = 400, body = "locked" } })
      assert.equals("failed", e:disable("a").outcome)
      assert.equals("failed", e:show("a").state)
      local res = assert(e:retry("a"))
      assert.equals("done", res.outcome)
      assert.equals("off", e:show("a").state)
    end)

    it("leaves an instance that is not failed alone", function()
      assert(enable("a"))
      assert.equals("not_failed", e:retry("a").code)
      assert.equals("registered", e:show("a").state)
    end)

    it("says not found for an unknown instance", function()
      local _, _, code = e:retry("nosuch")
      assert.equals(codes.NOTFOUND, code)
    end)
  end)

  describe("show, list and history", function()
    it("lists by id, filtered by state", function()
      assert(enable("b"))
      assert(enable("a"))
      assert(e:disable("b"))
      local all = e:list()
      assert.same({ "a", "b" }, { all[1].id, all[2].id })
      local off = e:list { state = "off" }
      assert.equals(1, #off)
      assert.equals("b", off[1].id)
      assert.has_error(function() e:list { state = 1 } end, "state: expected string, got number")
    end)

    it("shows every attempt and change, oldest first", function()
      assert(enable("a"))
      assert(e:disable("a"))
      local actions = {}
      for _, h in ipairs(e:history("a")) do actions[#actions + 1] = h.action .. ":" .. tostring(h.outcome) end
      assert.same({ "enable:nil", "register:done", "disable:nil", "deregister:done" }, actions)
      local last = e:history("a")[4]
      assert.equals(204, last.status)
      assert.equals(1, last.attempt)
      assert.equals(12345678, math.tointeger(last.registration.id))
    end)

    it("raises for a show without an id", function()
      assert.has_error(function() e:show() end)
    end)
  end)

  describe("resume and disable_all", function()
    it("runs what is due, and with wait the scheduled retries", function()
      assert(enable("a"))
      H.script("DELETE", "/repos/octo/hello/hooks/*",
        { { status = 503, headers = { ["Retry-After"] = "1" } } })
      assert.equals("retry", e:disable("a").outcome)
      local s = assert(e:resume { wait = true })
      assert.equals(1, s.done)
      assert.equals(0, s.pending)
      assert.equals("off", e:show("a").state)
    end)

    it("raises for a reason that is not a string, and the engine stays usable", function()
      assert(enable("a"))
      assert.has_error(function() e:disable_all(nil, {}) end)
      assert.equals(1, #e:list())
      assert.equals(1, assert(e:disable_all()).done)
      local other = assert(unhook.open { db = dir .. "/other.db" })
      pcall(other.disable_all, other, nil, {})
      other:close()
      assert.has_error(function() other:list() end, "unhook.Engine: the engine is closed")
    end)

    it("disables every instance that is on", function()
      assert(enable("a"))
      assert(enable("b"))
      local s = assert(e:disable_all())
      assert.same({ total = 2, done = 2, gone = 0, pending = 0, failed = 0, skipped = 0,
        registered = 0, renewed = 0, expired = 0 }, s)
      assert.equals(2, #e:list { state = "off" })
    end)
  end)

  describe("card", function()
    local function card_connector()
      return H.connector {
        ["connector.lua"] = [[return { name = "carded", auth = "bearer", events = { e = {
          options = { word = { type = "string", required = true } },
          registration = { flow = "flows/r.lua", inputs = { word = option "word" } },
          deregistration = { flow = "flows/d.lua", inputs = {} } } } }]],
        ["flows/r.lua"] = [[return { inputs = { word = { type = "string" } },
          run = function(ctx, input)
            local twice, n = ctx.cards.twice(input.word)
            return { word = twice, n = n }
          end }]],
        ["flows/d.lua"] = "return { run = function() end }",
      }
    end

    it("calls a Lua function from a flow, through JSON", function()
      local seen
      assert.is_true(e:card("twice", function(w) seen = w; return w .. w, #w end))
      local res = assert(e:enable("c", { connector = card_connector(), event = "e",
        options = { word = "ab" }, connection = conn }))
      assert.equals("done", res.outcome)
      assert.equals("ab", seen)
      local data = e:show("c").registration
      assert.equals("abab", data.word)
      assert.equals(2, math.tointeger(data.n))
    end)

    it("fails the flow with the card's error, and the engine goes on", function()
      e:card("twice", function() error("no words today", 0) end)
      local res = assert(e:enable("c", { connector = card_connector(), event = "e",
        options = { word = "ab" }, connection = conn }))
      assert.equals("failed", res.outcome)
      assert.matches("no words today", res.message)
      assert(enable("a"))
    end)

    it("fails the flow when a card calls its own engine, which raises", function()
      e:card("twice", function() return e:list() end)
      local res = assert(e:enable("c", { connector = card_connector(), event = "e",
        options = { word = "ab" }, connection = conn }))
      assert.equals("failed", res.outcome)
      assert.matches("called from its own card", res.message)
      assert.equals(1, #e:list())
    end)

    it("fails the flow when a card yields, also with the engine used from a coroutine", function()
      e:card("twice", function(w) coroutine.yield(w); return w end)
      local co = coroutine.wrap(function()
        return e:enable("c", { connector = card_connector(), event = "e",
          options = { word = "ab" }, connection = conn })
      end)
      local res = assert(co())
      assert.equals("failed", res.outcome)
      assert.matches("yield", res.message)
      assert(enable("a"))
    end)

    it("fails the flow when a card returns what JSON cannot hold", function()
      e:card("twice", function() return print end)
      local res = assert(e:enable("c", { connector = card_connector(), event = "e",
        options = { word = "ab" }, connection = conn }))
      assert.equals("failed", res.outcome)
      assert(enable("a"))
    end)

    it("raises for a card that is not a function", function()
      assert.has_error(function() e:card("twice", 3) end)
    end)
  end)
end)
