-- The common case in C and the Lua path agree: a run's set-up (options,
-- inputs, registration data: lsetup.c, else runner.lua and schema.lua)
-- and ctx.http's common request (lquick.c, else http.lua's request()).
-- Each case runs once the common way and once forced down the Lua path,
-- and compares what the flow saw and what the provider received.
local H = require "helpers"

local report = H.report   -- the flow's last POST to /api/report, decoded

describe("a run's set-up, in C and in Lua", function()
  before_each(function() H.reset() end)

  local dir = H.flow_connector([[
    return {
      inputs = {
        colour = { type = "string", required = true },
        size = { type = "integer" },
        ratio = { type = "number" },
        flag = { type = "boolean", default = false },
        fixed = { type = "string" },
        extra = { type = "string", default = "x" },
        free = { type = "any" },
      },
      run = function(ctx, input)
        ctx.http.post("/api/report", { json = { input = input,
          options = ctx.instance.options, registration = ctx.registration,
          rtype = type(ctx.registration) } })
      end,
    }]], {
    options = [[{ colour = { type = "string", required = true },
      size = { type = "integer", default = 3 }, ratio = { type = "number" },
      flag = { type = "boolean" }, free = { type = "any" } }]],
    inputs = [[{ colour = option "colour", size = option "size", ratio = option "ratio",
      flag = option "flag", free = option "free", fixed = "static" }]],
  })

  -- once as given (the C set-up when it can), once with an empty
  -- overrides table (inputs_json "{}": always the Lua path)
  local function both(args)
    local a = { options = args.options, registration = args.registration }
    local res = H.run(dir, a)
    assert.equal("done", res.outcome)
    local fast = report()
    a.inputs = {}
    res = H.run(dir, a)
    assert.equal("done", res.outcome)
    return fast, report()
  end

  it("gives the flow the same inputs and options", function()
    local fast, slow = both { options = { colour = "red", size = 5, ratio = 1.5, flag = true } }
    assert.same(slow, fast)
    assert.same({ colour = "red", size = 5, ratio = 1.5, flag = true, fixed = "static", extra = "x" },
      fast.input)
  end)

  it("applies defaults the same way", function()
    local fast, slow = both { options = { colour = "red" } }
    assert.same(slow, fast)
    assert.same({ colour = "red", size = 3, flag = false, fixed = "static", extra = "x" }, fast.input)
  end)

  it("takes values that need coercion or are tables the Lua way", function()
    local fast, slow = both { options = { colour = "red", size = "7", free = { a = { 1, 2 } } } }
    assert.same(slow, fast)
    assert.equal(7, fast.input.size)
    assert.same({ a = { 1, 2 } }, fast.input.free)
  end)

  it("decodes registration data the same way", function()
    for _, reg in ipairs({ '{"id": 12}', '  [1, 2]', '"text"', "plain text", "" }) do
      local fast, slow = both { options = { colour = "red" }, registration = reg }
      assert.same(slow, fast)
    end
    local fast = both { options = { colour = "red" }, registration = ' {"id": 12}' }
    assert.same({ id = 12 }, fast.registration)
  end)

  it("decodes flat JSON objects in C as cjson does (floats, strings, booleans)", function()
    -- what ctx.registration holds, each value with its exact type: one
    -- source, loaded here and put in the flow (which runs in its own state)
    local DESCRIBE = [[
      local function describe(v)
        if type(v) ~= "table" then return type(v) .. ":" .. tostring(v) end
        local ks, out = {}, {}
        for k in pairs(v) do ks[#ks + 1] = k end
        table.sort(ks)
        for _, k in ipairs(ks) do
          local x = v[k]
          out[#out + 1] = k .. "=" .. type(x) .. ":" .. (math.type(x) or "")
            .. ":" .. (type(x) == "table" and describe(x)
            or type(x) == "userdata" and "null" or string.format("%q", x))
        end
        return "{" .. table.concat(out, ",") .. "}"
      end
    ]]
    local describe = assert(load(DESCRIBE .. " return describe"))()
    local flow = H.flow_connector(DESCRIBE .. [[
      return { run = function(ctx)
        ctx.http.post("/api/report", { json = { d = describe(ctx.registration) } })
      end }]])
    local cjson = require "cjson"
    for _, reg in ipairs({ '{"id": 12}', '{}', ' { } ', '{"id":0}', '{"id":-0}', '{"id": -12}',
        '{"id": 123456789012345}', '{"id": 1234567890123456}', '{"id": 1.5}', '{"id": 1e3}',
        '{"id": 012}', '{"a": "x", "b": true, "c": false}', '{"a": 1, "a": "two"}',
        '{"a": "caf\195\169"}', '{"a": "q\\"q"}', '{"a": null}', '{"a": {"b": 1}}',
        '{"a": [1]}', '{"1": 1}', '{"a": 1,}', '{"a": 1} x', '{"a" 1}', '{"a": tru}' }) do
      local ok, want = pcall(cjson.decode, reg)
      local res, err = H.run(flow, { registration = reg })
      if ok then
        assert.equal("done", res.outcome, reg)
        assert.equal(describe(want), report().d, reg)
      else
        assert.is_nil(res, reg)
        assert.matches("registration data: invalid JSON", err, 1, true)
      end
    end
  end)

  it("words the same errors", function()
    local _, e1 = H.run(dir, { options = { colour = "red", size = "big" } })
    local _, e2 = H.run(dir, { options = { colour = "red", size = "big" }, inputs = {} })
    assert.equal(e2, e1)
    assert.matches("option 'size': expected integer, got string", e1, 1, true)
    _, e1 = H.run(dir, { options = { colour = "red", nope = 1 } })
    _, e2 = H.run(dir, { options = { colour = "red", nope = 1 }, inputs = {} })
    assert.equal(e2, e1)
    assert.matches("has no option 'nope'", e1, 1, true)
    _, e1 = H.run(dir, { options = { colour = "red" }, registration = '{"id": ' })
    _, e2 = H.run(dir, { options = { colour = "red" }, registration = '{"id": ', inputs = {} })
    assert.equal(e2, e1)
    assert.matches("registration data: invalid JSON", e1, 1, true)
  end)
end)

describe("ctx.http's common request, in C and in Lua", function()
  before_each(function() H.reset() end)

  -- call: Lua source of the request, with M the method wrapper's name;
  -- the flow reports the response (or the error) it got.
  local function run(call)
    local dir = H.flow_connector([[
      return { run = function(ctx)
        local ok, r = pcall(function() return ]] .. call .. [[ end)
        local out
        if not ok and type(r) == "string" then
          out = { err = true, message = r }
        elseif ok then
          out = { status = r.status, body = r.body, json = r.json, method = r.method,
                  url = r.url, ctype = r.headers["content-type"] }
        else
          out = { err = true, code = r.code, status = r.status, message = r.message,
                  method = r.method, url = r.url, body = r.body, gone = r.gone }
        end
        ctx.http.post("/api/report", { json = out })
      end }]], { headers = '{ ["X-Default"] = "d" }' })
    local res = H.run(dir)
    assert.equal("done", res.outcome)
    local log = H.requests()
    local sent = log[#log - 1] or {}     -- none when the flow sent nothing
    return report(), { method = sent.method, path = sent.path, query = sent.query, body = sent.body,
                       default = H.header(sent, "X-Default"), auth = H.header(sent, "Authorization") }
  end

  -- the wrapper (C when it can) against request{} (always Lua)
  local function both(method, url, opts)
    local o = opts or "nil"
    local fast = { run(("ctx.http.%s(%q, %s)"):format(method, url, o)) }
    local req = opts and opts:gsub("^{", ("{ method = %q, url = %q, "):format(method:upper(), url))
      or ("{ method = %q, url = %q }"):format(method:upper(), url)
    local slow = { run("ctx.http.request(" .. req .. ")") }
    return fast, slow
  end

  it("sends the same request and reads the same answer", function()
    H.script("DELETE", "/api/things/a%20b/7/7/0", { { status = 200, body = '{"ok": true}',
      headers = { ["Content-Type"] = "application/json" } } })
    H.script("DELETE", "/api/things/a%20b/7/7/0", { { status = 200, body = '{"ok": true}',
      headers = { ["Content-Type"] = "application/json" } } })
    local fast, slow = both("delete", "/api/things/{a}/{b}/{c}/{d}",
      '{ path = { a = "a b", b = 7, c = 7.0, d = -0.0 }, body = "hi" }')
    assert.same(slow, fast)
    assert.same({ ok = true }, fast[1].json)
    assert.equal("hi", fast[2].body)
    assert.equal("d", fast[2].default)
    assert.equal("Bearer " .. H.token, fast[2].auth)
  end)

  it("leaves a body that is not JSON undecoded, the same way", function()
    for _, ct in ipairs({ "text/html", "text/plain; charset=utf-8", "application/problem+json" }) do
      H.script("GET", "/api/page", { { status = 200, body = '{"a": 1}', headers = { ["Content-Type"] = ct } } })
      H.script("GET", "/api/page", { { status = 200, body = '{"a": 1}', headers = { ["Content-Type"] = ct } } })
      local fast, slow = both("get", "/api/page")
      assert.same(slow, fast)
    end
  end)

  it("raises the same error for a status outside 2xx", function()
    H.script("DELETE", "/api/gone", { { status = 404, body = '{"message": "Not Found"}' } })
    H.script("DELETE", "/api/gone", { { status = 404, body = '{"message": "Not Found"}' } })
    local fast, slow = both("delete", "/api/gone")
    assert.same(slow, fast)
    assert.is_true(fast[1].err)
    assert.equal(404, fast[1].status)
    assert.equal("http", fast[1].code)
  end)

  it("fills the URL template the same way, and words a missing value the same", function()
    -- (C fills the template once, before the request goes out)
    for _, opts in ipairs({ "nil", "{ path = {} }", '{ path = { other = "x" } }' }) do
      H.reset()
      local fast, slow = both("delete", "/api/x/{id}", opts ~= "nil" and opts or nil)
      assert.same(slow[1], fast[1])
      assert.is_true(fast[1].err)
      assert.equal("usage", fast[1].code)
      assert.matches("no value for {id} in path", fast[1].message, 1, true)
      assert.equal(2, #H.requests())    -- the two reports: nothing else sent
    end
    local want = "/api/x/%2E%2E/y/7/-12/9007199254740991/-9223372036854775808"
    H.script("DELETE", want, { { status = 204 } })
    H.script("DELETE", want, { { status = 204 } })
    local fast, slow = both("delete", "/api/x/{a}/y/{b}/{c}/{d}/{e}",
      '{ path = { a = "..", b = 7, c = -12, d = 2^53 - 1, e = math.mininteger } }')
    assert.same(slow, fast)
    assert.equal(204, fast[1].status)
    assert.equal(want, fast[2].path)
  end)

  it("leaves what it does not take to the Lua path (misuse worded there)", function()
    local fast = run('ctx.http.delete("/api/x/{id}", { path = { id = {} } })')
    assert.matches("ctx.http.delete: path.id: expected string or number, got table", fast.message, 1, true)
    fast = run('ctx.http.delete("/api/x/{id}", { path = { id = true } })')
    assert.matches("/api/x/true$", fast.url)
    -- (these paths answer 404: the error object names the URL sent)
    fast = run('ctx.http.delete("/api/x/{id}", { path = { id = 1.5 } })')
    assert.equal("DELETE", fast.method)
    assert.matches("/api/x/1.5$", fast.url)
    -- a proxy table is read through its metamethods, as pairs() does
    fast = run('ctx.http.delete("/api/x/{id}", setmetatable({}, { __pairs = function() '
      .. 'return next, { path = { id = "p" } } end }))')
    assert.matches("/api/x/p$", fast.url)
  end)

  it("takes a field by its whole name (\"body\\0x\" is no body, \"path\\0\" no path)", function()
    H.script("DELETE", "/api/x", { { status = 204 } })
    local fast, sent = run('ctx.http.delete("/api/x", { ["body\\0x"] = "b" })')
    assert.is_true(fast.err)
    assert.matches("ctx.http.delete: unknown request field 'body", fast.message, 1, true)
    assert.is_nil(sent.method)          -- nothing sent
    fast = run('ctx.http.delete("/api/x/{id}", { ["path\\0"] = { id = "p" } })')
    assert.matches("ctx.http.delete: unknown request field 'path", fast.message, 1, true)
  end)
end)

describe("a reused transfer handle", function()
  before_each(function() H.reset() end)

  it("carries nothing of the request before it (method, body, HEAD, credentials)", function()
    local dir = H.flow_connector([[
      return { run = function(ctx)
        ctx.http.post("/api/log/1", { body = "first" })
        ctx.http.get("/api/log/2")
        ctx.http.head("/api/log/3")
        ctx.http.get("/api/log/4")
        ctx.http.delete("/api/log/5")
        ctx.http.get("/api/log/6")
      end }]])
    local answers = {}
    for i = 1, 6 do answers[i] = { status = 204 } end
    H.script(nil, "/api/log/*", answers)
    local res = H.run(dir)
    assert.equal("done", res.outcome, res.message)
    local seen = {}
    for _, r in ipairs(H.requests()) do
      if r.path:match("^/api/log/") then seen[#seen + 1] = r.method .. " " .. r.path .. " " .. r.body end
    end
    assert.same({ "POST /api/log/1 first", "GET /api/log/2 ", "HEAD /api/log/3 ", "GET /api/log/4 ",
                  "DELETE /api/log/5 ", "GET /api/log/6 " }, seen)
  end)

  it("does not send one connection's basic credentials with the next request", function()
    local dir = H.flow_connector([[
      return { run = function(ctx) ctx.http.get("/api/who", { ok = { 401, 404 } }) end }]])
    local basic = H.connection { auth = { type = "basic", username = "u", password = "p-secret" } }
    assert.equal("done", H.run(dir, { connection = basic }).outcome)
    assert.equal("done", H.run(dir).outcome)
    local log = H.requests()
    assert.matches("^Basic ", H.header(log[#log - 1], "Authorization"))
    assert.equal("Bearer " .. H.token, H.header(log[#log], "Authorization"))
  end)
end)
