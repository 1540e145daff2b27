-- A cold-start Lua host: the whole engine through unhook.open
-- (scripts/README.md, "Embedding the engine in a Lua host"), written from
-- the docs alone.  Plain lua5.4:
--
--   lua5.4 tests/cold/engine.lua PORT [MODULE_DIR]
--
-- PORT: a running fixture provider (tests/provider/provider.py);
-- MODULE_DIR: where unhook.so is (default build/lua).
local port = assert(tonumber(arg[1]), "usage: engine.lua PORT [MODULE_DIR]")
local here = arg[0]:match("^(.*)/[^/]*$") or "."
package.cpath = (arg[2] or "build/lua") .. "/?.so;" .. package.cpath
local unhook = require "unhook"

local failures = 0
local function check(ok, what, ...)
  if ok then
    print("ok   " .. what)
  else
    failures = failures + 1
    print("FAIL " .. what, ...)
  end
end

local B = "http://127.0.0.1:" .. port
local function control(method, path, body)
  local cmd = string.format("curl -s -X %s %s%s", method, B, path)
  if body then cmd = cmd .. " -d '" .. body .. "'" end
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  f:close()
  return out
end

local tmp = os.tmpname()
os.remove(tmp)
assert(os.execute("mkdir -p " .. tmp))
local connection = tmp .. "/connection.json"
do
  local f = assert(io.open(connection, "w"))
  f:write(string.format('{ "base_url": "%s", "auth": { "type": "bearer", "token": "test-token" } }\n', B))
  f:close()
  os.execute("chmod 600 " .. connection)
end
control("POST", "/_control/reset")

-- errors of unhook.open ------------------------------------------------------
-- A store that cannot be opened: "the store is opened on first use", so
-- open succeeds; reading calls answer as for an empty store (reading never
-- creates a database), and the first call that writes fails with STORE.
do
  local bad = assert(unhook.open { db = "/nonexistent/dir/unhook.db" })
  local r, msg, code = bad:list()
  check(type(r) == "table" and #r == 0, "bad store path: list is empty", r, msg, code)
  r, msg, code = bad:show("x")
  check(r == nil and code == unhook.codes.NOTFOUND, "bad store path: show is NOTFOUND", msg, code)
  r, msg, code = bad:enable("x", { connector = "coldcard", event = "thing",
                                   options = { space = "cold" }, connection = connection })
  check(r == nil and code == unhook.codes.STORE, "bad store path: enable is STORE", msg, code)
  print("     message: " .. tostring(msg))
  r, msg, code = bad:resume()
  check(r == nil and code == unhook.codes.STORE, "bad store path: resume is STORE", msg, code)
  bad:close()
end
check(not pcall(unhook.open, { db = 42 }), "open{db = 42} raises (misuse)")
-- Not documented either way; unhook.run rejects unknown keys, open does not.
print("NOTE open{dbb = ...} (a typo) raises: " .. tostring(not pcall(unhook.open, { dbb = "x.db" })))

-- an engine ----------------------------------------------------------------
local e = assert(unhook.open { db = tmp .. "/unhook.db", connectors = here, concurrency = 4 })

local tagged = 0
check(e:card("cold.tag", function(id)
  tagged = tagged + 1
  return "[" .. tostring(id) .. "]", tagged
end) == true, "e:card returns true")
do
  local r, msg, code = e:card("cold.tag", function() end)
  check(r == nil and code == unhook.codes.USAGE, "e:card twice: nil, message, USAGE", msg, code)
  r, msg, code = e:card("a..b", function() end)
  check(r == nil and code == unhook.codes.USAGE, "e:card malformed name: USAGE", msg, code)
end

local opts = { connector = "coldcard", event = "thing", options = { space = "cold" },
               connection = connection }

-- enable
for _, id in ipairs { "a", "b", "c", "d" } do
  local res, msg, code = e:enable(id, opts)
  check(res and res.outcome == "done", "enable " .. id, msg, code)
end
check(e:show("a").state == "registered", "show a: registered")
check(type(e:show("a").registration) == "table" and e:show("a").registration.id ~= nil,
      "show a: registration decoded", e:show("a").registration)
check(e:enable("a", opts).code == "already_on", "enable a again: already_on")
check(#e:list() == 4, "list: 4")
check(#e:list { state = "registered" } == 4, "list{state=registered}: 4")
check(#e:list { id = "b" } == 1, "list{id=b}: 1")

-- enable errors
do
  local r, msg, code = e:enable("x", { connector = "coldcard", event = "nosuch",
                                       options = { space = "cold" }, connection = connection })
  check(r == nil and code == unhook.codes.NOTFOUND, "enable unknown event: NOTFOUND", msg, code)
  r, msg, code = e:enable("x", { connector = "coldcard", event = "thing", options = {},
                                 connection = connection })
  check(r == nil and code == unhook.codes.USAGE, "enable without required option: USAGE", msg, code)
  r, msg, code = e:enable("x", { connector = "nosuch", event = "thing", options = {},
                                 connection = connection })
  check(r == nil and code == unhook.codes.NOTFOUND, "enable unknown connector: NOTFOUND", msg, code)
end

-- disable: the flow calls the host's card
local res = assert(e:disable("a"))
check(res.outcome == "done", "disable a: done", res.outcome, res.message)
check(tagged == 1, "the card ran once", tagged)
check(e:show("a").state == "off", "show a: off")
check(e:disable("a").code == "already_off", "disable a again: already_off")
local h = e:history("a")
check(#h >= 3, "history a has lines", #h)
for _, l in ipairs(h) do
  print(string.format("     %s %s %s %s", l.action, tostring(l.outcome), tostring(l.status),
                      tostring(l.message)))
end

-- retry: a 400 dead-letters b, retry re-runs it
control("POST", "/_control/script",
        '{"method":"DELETE","prefix":"/api/cold/hooks/","responses":[{"status":400,"body":{"message":"locked"}}]}')
res = assert(e:disable("b"))
check(res.outcome == "failed" and e:show("b").state == "failed", "disable b under 400: failed",
      res.outcome, res.message)
check(e:retry("a").code == "not_failed", "retry a (off): not_failed")
res = assert(e:retry("b"))
check(res.outcome == "done" and e:show("b").state == "off", "retry b: done", res.outcome, res.message)

-- resume: a 503 with Retry-After leaves c pending; resume{wait} drains it
control("POST", "/_control/script",
        '{"method":"DELETE","prefix":"/api/cold/hooks/","responses":[{"status":503,"headers":{"Retry-After":"1"},"body":"busy"}]}')
res = assert(e:disable("c"))
check(res.outcome == "retry" and e:show("c").state == "deregistering",
      "disable c under 503: retry, deregistering", res.outcome, res.retry_after)
local st, msg, code = e:resume { wait = true }
check(st and st.done == 1 and e:show("c").state == "off", "resume{wait}: c done",
      st and st.done, msg, code)

-- a card that raises fails the flow with its message; the engine goes on
local e2 = assert(unhook.open { db = tmp .. "/unhook.db", connectors = here })
e2:card("cold.tag", function() error("card says no") end)
res = assert(e2:disable("d"))
check(res.outcome == "failed" and tostring(res.message):find("card says no", 1, true),
      "card raising: flow failed with its message", res.outcome, res.message)
-- a card that calls its own engine raises
e2:card("cold.other", function() end)
e2:close()
local e3 = assert(unhook.open { db = tmp .. "/unhook.db", connectors = here })
e3:card("cold.tag", function() return e3:show("d").state end)
res = assert(e3:retry("d"))
check(res.outcome == "failed", "card calling its own engine: flow failed", res.outcome, res.message)
e3:close()
res = assert(e:retry("d"))
check(res.outcome == "done", "retry d with a good card: done", res.outcome, res.message)

-- disable_all
for _, id in ipairs { "e1", "e2", "e3" } do assert(e:enable(id, opts)) end
st = assert(e:disable_all({ connector = "coldcard" }, "bulk"))
check(st.total == 3 and st.done == 3, "disable_all: 3 done", st.total, st.done)

-- errors: a bad id
do
  local r, m, c = e:show("nosuch")
  check(r == nil and c == unhook.codes.NOTFOUND, "show nosuch: nil, message, NOTFOUND", r, m, c)
  r, m, c = e:retry("nosuch")
  check(r == nil and c == unhook.codes.NOTFOUND, "retry nosuch: NOTFOUND", m, c)
  r, m, c = e:disable("nosuch")
  check(r == nil and c == unhook.codes.NOTFOUND, "disable nosuch: NOTFOUND", m, c)
  r, m, c = e:history("nosuch")
  print("     history nosuch:", r and #r, m, c)
  r, m, c = e:enable("", opts)
  print("     enable '':", r and r.outcome, m, c)
  check(r == nil and c == unhook.codes.USAGE, "enable '': USAGE", m, c)
  local ok, err = pcall(function() return e:show({}) end)
  check(not ok, "show({}) raises naming the argument", err)
  print("     " .. tostring(err))
end

-- close, twice, then misuse
e:close()
e:close()
local ok, err = pcall(function() return e:show("a") end)
check(not ok, "a closed engine raises", err)
print("     " .. tostring(err))
do
  local e4 <close> = assert(unhook.open { db = tmp .. "/unhook.db", connectors = here })
  check(#e4:list { state = "off" } == 7, "to-be-closed engine: 7 off")
end

control("POST", "/_control/reset")
os.execute("rm -rf " .. tmp)
print(failures == 0 and "all ok" or (failures .. " failed"))
os.exit(failures == 0 and 0 or 1)
