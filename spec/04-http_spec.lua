-- ctx.http and the ctx a flow sees, through test connectors run against
-- the fixture provider.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

-- A connector whose deregistration flow runs body (Lua statements, with
-- ctx, input and json = unhook.json in scope).
-- opts as for H.flow_connector, plus inputs_schema (source of the
-- flow's inputs declaration).
local function flow(body, opts)
  return H.flow_connector(table.concat({
    "local json = unhook.json",
    "return { inputs = " .. (opts and opts.inputs_schema or "{}") .. ", run = function(ctx, input)",
    body,
    "end }",
  }, "\n"), opts)
end

local report = H.report   -- the flow's last POST to /api/report, decoded

-- (ok = {401}: the report is logged even when the connection's
-- credentials are wrong for the provider)
local REPORT = 'ctx.http.post("/api/report", { json = %s, ok = { 401 } })'

local function find_in(v, needle, path, seen, found)
  seen, found, path = seen or {}, found or {}, path or "ctx"
  if type(v) == "string" then
    if v:find(needle, 1, true) then found[#found + 1] = path end
  elseif type(v) == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      find_in(k, needle, path .. "[key]", seen, found)
      find_in(x, needle, path .. "." .. tostring(k), seen, found)
    end
  end
  return found
end

describe("ctx.http", function()
  before_each(function() H.reset() end)

  describe("URLs", function()
    it("percent-encodes path placeholders", function()
      local dir = flow('ctx.http.get("/api/x/{id}/{n}", { path = { id = "a/b c%?#", n = 7 } })')
      local res = H.run(dir)
      assert.equal("done", res.outcome)
      local r = H.last_request()
      assert.equal("/api/x/a%2Fb%20c%25%3F%23/7", r.path)
      assert.same({}, r.query)
    end)

    it("keeps a placeholder of dots one segment ('..' from registration data walks up no path)", function()
      local dir = flow([[
        ctx.http.delete("/api/x/{id}/y", { path = { id = ctx.registration.id } })
        ctx.http.request { method = "DELETE", url = "/api/x/{id}/y", path = { id = "." } }
        ctx.http.delete("/api/x/{a}{b}/y", { path = { a = ".", b = "." } })
        ctx.http.get("/api/x/{id}", { path = { id = "v1.2..3" } })]])
      H.script(nil, "/api/*", { { status = 204 }, { status = 204 }, { status = 204 }, { status = 204 } })
      local res = H.run(dir, { registration = '{"id": ".."}' })
      assert.equal("done", res.outcome, res.message)
      local seen = {}
      for _, r in ipairs(H.requests()) do seen[#seen + 1] = r.method .. " " .. r.path end
      assert.same({ "DELETE /api/x/%2E%2E/y", "DELETE /api/x/%2E/y", "DELETE /api/x/%2E%2E/y",
                    "GET /api/x/v1.2..3" }, seen)
    end)

    it("resolves relative URLs against base_url, keeping its path", function()
      local dir = flow('ctx.http.get("/v1/hooks") ; ctx.http.get("v2/hooks")')
      local res = H.run(dir, { connection = H.connection { base_url = H.url .. "/api/" } })
      assert.equal("done", res.outcome)
      local log = H.requests()
      assert.equal("/api/v1/hooks", log[1].path)
      assert.equal("/api/v2/hooks", log[2].path)
    end)

    it("uses the manifest base_url when the connection has none", function()
      local dir = flow('ctx.http.get("/v1/hooks")', { base_url = H.url .. "/api" })
      local res = H.run(dir, { connection = H.connection { base_url = false } })
      assert.equal("done", res.outcome)
      assert.equal("/api/v1/hooks", H.last_request().path)
    end)

    it("encodes query tables sorted, with lists repeated and numbers as text", function()
      local dir = flow([[
        local r = ctx.http.get("/api/q", { query = {
          b = "2", a = { "x", "y" }, n = 5, f = 1.5, g = 2.0, t = true, s = "a b&c=d" } })
        unhook.fail("URL " .. r.url)]])
      local res = H.run(dir)
      assert.equal("failed", res.outcome)
      assert.equal(H.url .. "/api/q?a=x&a=y&b=2&f=1.5&g=2&n=5&s=a%20b%26c%3Dd&t=true",
        res.message:match("URL (.*)$"))
      local q = H.last_request().query
      assert.same({ a = "y", b = "2", f = "1.5", g = "2", n = "5", s = "a b&c=d", t = "true" }, q)
    end)

    it("appends the query to a URL that already has one", function()
      local dir = flow('ctx.http.get("/api/q?z=1", { query = { a = 2 } })')
      assert.equal("done", H.run(dir).outcome)
      assert.same({ z = "1", a = "2" }, H.last_request().query)
    end)
  end)

  describe("headers and bodies", function()
    local HEADERS = '{ Accept = "application/vnd.test+json", ["X-Default"] = "d" }'

    it("sends the manifest's default headers", function()
      local dir = flow('ctx.http.get("/api/h")', { headers = HEADERS })
      assert.equal("done", H.run(dir).outcome)
      local r = H.last_request()
      assert.equal("application/vnd.test+json", H.header(r, "Accept"))
      assert.equal("d", H.header(r, "X-Default"))
    end)

    it("lets request headers replace default headers whatever their case", function()
      local dir = flow('ctx.http.get("/api/h", { headers = { accept = "text/plain", ["x-extra"] = 1 } })',
        { headers = HEADERS })
      assert.equal("done", H.run(dir).outcome)
      local r = H.last_request()
      local accepts = {}
      for k, v in pairs(r.headers) do
        if k:lower() == "accept" then accepts[#accepts + 1] = v end
      end
      assert.same({ "text/plain" }, accepts)
      assert.equal("d", H.header(r, "X-Default"))
      assert.equal("1", H.header(r, "X-Extra"))
    end)

    it("json = sends a JSON body with Content-Type application/json", function()
      local dir = flow('ctx.http.post("/api/j", { json = { b = 1, a = { 1, 2 }, s = "x/y" } })')
      assert.equal("done", H.run(dir).outcome)
      local r = H.last_request()
      assert.equal("POST", r.method)
      assert.equal("application/json", H.header(r, "Content-Type"))
      assert.equal('{"a":[1,2],"b":1,"s":"x/y"}', r.body)
      assert.equal(201, r.status)
    end)

    it("json = keeps a Content-Type the request gives", function()
      local dir = flow([[ctx.http.patch("/api/j/x", { json = { a = 1 }, ok = { 405 },
        headers = { ["content-type"] = "application/merge-patch+json" } })]])
      assert.equal("done", H.run(dir).outcome)
      local r = H.last_request()
      assert.equal("PATCH", r.method)
      assert.equal("application/merge-patch+json", H.header(r, "Content-Type"))
      assert.equal('{"a":1}', r.body)
    end)

    it("body = sends the string as is", function()
      local dir = flow([[ctx.http.put("/api/r", { body = "a=1&b=2\n", ok = { 405 },
        headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } })]])
      assert.equal("done", H.run(dir).outcome)
      local r = H.last_request()
      assert.equal("PUT", r.method)
      assert.equal("a=1&b=2\n", r.body)
      assert.equal("application/x-www-form-urlencoded", H.header(r, "Content-Type"))
      assert.equal(405, r.status)
    end)

    it("decodes a JSON response into resp.json", function()
      local dir = flow([[
        local id = ctx.http.post("/api/j", { json = { url = "u" } }).json.id
        local r = ctx.http.get("/api/j/{id}", { path = { id = id } })
        ]] .. REPORT:format("{ status = r.status, url = r.json.url, ctype = r.headers['content-type'] }"))
      assert.equal("done", H.run(dir).outcome)
      local rep = report()
      assert.equal(200, rep.status)
      assert.equal("u", rep.url)
      assert.matches("application/json", rep.ctype, 1, true)
    end)
  end)

  -- A response's headers, url, method and duration_ms are set when the
  -- flow first reads one of them (response.c); the flow sees the same.
  describe("the response table", function()
    local CALLS = {
      quick = 'ctx.http.delete("/api/r/{id}", { path = { id = 7 } })',
      lua = 'ctx.http.request { method = "DELETE", url = "/api/r/{id}", path = { id = 7 }, query = { q = 1 } }',
    }
    local function answer()
      H.script("DELETE", "/api/r/7", { { status = 204, headers = { ["X-Custom"] = "v1", ["Retry-After"] = "5" } } })
    end

    for how, call in pairs(CALLS) do
      it("gives headers (lower case), url, method and duration_ms when read (" .. how .. ")", function()
        answer()
        local dir = flow("local r = " .. call .. "\n" .. REPORT:format([[{
          raw_before = rawget(r, "headers") == nil and rawget(r, "url") == nil,
          retry_eager = rawget(r, "retry_after"),
          status = r.status, body = r.body, x = r.headers["x-custom"], upper = r.headers["X-Custom"],
          url = r.url, method = r.method, ms = type(r.duration_ms),
          raw_after = type(rawget(r, "headers")), json = r.json, other = r.nothing }]]))
        assert.equal("done", H.run(dir).outcome)
        local rep = report()
        assert.is_true(rep.raw_before)
        assert.equal(5, rep.retry_eager)
        assert.equal(204, rep.status)
        assert.equal("", rep.body)
        assert.equal("v1", rep.x)
        assert.is_nil(rep.upper)
        assert.matches("^" .. H.url:gsub("%p", "%%%0") .. "/api/r/7", rep.url)
        assert.equal("DELETE", rep.method)
        assert.equal("number", rep.ms)
        assert.equal("table", rep.raw_after)
        assert.is_nil(rep.json)
        assert.is_nil(rep.other)
      end)
    end

    it("lists every field to pairs and unhook.json.encode before any is read", function()
      answer()
      answer()
      local dir = flow("local r = " .. CALLS.quick .. "\nlocal r2 = " .. CALLS.quick .. "\n" .. [[
        local names = {}
        for k in pairs(r) do names[#names + 1] = k end
        table.sort(names)
        local enc = json.decode(json.encode(r2))
        ]] .. REPORT:format("{ names = table.concat(names, ','), x = enc.headers['x-custom'], method = enc.method }"))
      assert.equal("done", H.run(dir).outcome)
      local rep = report()
      assert.equal("body,duration_ms,headers,method,retry_after,status,url", rep.names)
      assert.equal("v1", rep.x)
      assert.equal("DELETE", rep.method)
    end)

    it("keeps its fields when the flow replaces its metatable, or writes one first", function()
      answer()
      answer()
      local dir = flow("local r = " .. CALLS.quick .. "\nlocal r2 = " .. CALLS.quick .. "\n" .. [[
        local mt = getmetatable(r)
        mt.__index = function() return "spoiled" end    -- a copy: no other response sees it
        setmetatable(r, { __index = function() return "mine" end })
        r2.url = "written"
        ]] .. REPORT:format([[{ x = rawget(r, "headers")["x-custom"], extra = r.extra,
          url = r2.url, x2 = r2.headers["x-custom"], m2 = r2.method, other = r2.other }]]))
      assert.equal("done", H.run(dir).outcome)
      local rep = report()
      assert.equal("v1", rep.x)
      assert.equal("mine", rep.extra)
      assert.equal("written", rep.url)
      assert.equal("v1", rep.x2)
      assert.equal("DELETE", rep.m2)
      assert.is_nil(rep.other)
    end)
  end)

  describe("statuses and errors", function()
    it("ok = {404} returns a 404 response to the flow", function()
      local dir = flow([[
        local r = ctx.http.delete("/api/v1/hooks/hk_9", { ok = { 404 } })
        if r.status ~= 404 or r.json.error ~= "not found" then unhook.fail("got " .. r.status) end]])
      local res = H.run(dir)
      assert.equal("done", res.outcome)
      assert.is_nil(res.message)
      assert.equal(404, H.last_request().status)
    end)

    it("without ok a 404 raises and the outcome is gone", function()
      local dir = flow('ctx.http.delete("/api/v1/hooks/hk_9")')
      local res = H.run(dir)
      assert.equal("gone", res.outcome)
      assert.equal(404, res.status)
    end)

    it("gives the flow an error object with code, status, body, headers and retry_after", function()
      H.script("GET", "/api/e", { {
        status = 503, headers = { ["Retry-After"] = "7", ["X-Custom"] = "v" }, body = "busy now",
      } })
      local dir = flow([[
        local ok, e = pcall(ctx.http.get, "/api/e")
        local names = {}
        for k in pairs(e.headers) do names[#names + 1] = k end
        table.sort(names)
        unhook.fail(string.format("ok=%s error=%s code=%s status=%d body=%s ra=%d x=%s ct=%s names=%s str=%s",
          tostring(ok), tostring(unhook.is_error(e)), e.code, e.status, e.body, e.retry_after,
          e.headers["x-custom"], e.headers["content-type"], table.concat(names, ","), tostring(e)))]])
      local res = H.run(dir)
      assert.equal("failed", res.outcome)
      assert.equal("fail", res.code)
      local m = res.message
      assert.matches("ok=false error=true code=http status=503 body=busy now ra=7 x=v ct=text/plain", m, 1, true)
      assert.matches("names=[a-z0-9,-]+ str=", m)
      assert.matches(",x%-custom[, ]", m)
      assert.matches("str=HTTP 503 from GET " .. H.url .. "/api/e: busy now", m, 1, true)
    end)

    it("lets a flow turn an HTTP error into a retry", function()
      H.script("GET", "/api/e", { { status = 400, body = { message = "not yet" } } })
      local dir = flow([[
        local ok, e = pcall(ctx.http.get, "/api/e")
        if not ok and e.status == 400 then unhook.retry("later: " .. e.body, 12) end]])
      local res = H.run(dir)
      assert.equal("retry", res.outcome)
      assert.equal("retry", res.code)
      assert.equal(12, res.retry_after)
      assert.matches("later: {", res.message, 1, true)
    end)

    it("reports transport errors to the flow with code transport", function()
      H.script("GET", "/api/drop", { { drop = true } })
      local dir = flow([[
        local ok, e = pcall(ctx.http.get, "/api/drop")
        unhook.fail("code=" .. tostring(e.code) .. " status=" .. tostring(e.status))]])
      local res = H.new_engine().run { connector = dir, event = "e", connection = H.connection() }
      assert.equal("failed", res.outcome)
      assert.matches("code=transport status=nil$", res.message)
    end)

    it("gives up after the request's timeout with code timeout, and retries", function()
      H.script("GET", "/api/slow", { { delay_ms = 1500, status = 200 } })
      local dir = flow('ctx.http.get("/api/slow", { timeout = 0.2 })')
      local t0 = os.time()
      local res = H.run(dir)
      assert.equal("retry", res.outcome)
      assert.equal("timeout", res.code)
      assert.matches("GET " .. H.url .. "/api/slow", res.message, 1, true)
      assert.is_true(os.time() - t0 <= 1)
    end)

    it("reads Retry-After given as an HTTP date", function()
      H.script("GET", "/api/e", {
        { status = 503, headers = { ["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT" } },
        { status = 503, headers = { ["Retry-After"] = os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 120) } },
        { status = 503, headers = { ["Retry-After"] = "soon" } },
      })
      local dir = flow('ctx.http.get("/api/e")')
      local res = H.run(dir)
      assert.equal("retry", res.outcome)
      assert.equal(0, res.retry_after)
      res = H.run(dir)
      assert.is_true(res.retry_after > 100 and res.retry_after <= 120, tostring(res.retry_after))
      res = H.run(dir)
      assert.equal("retry", res.outcome)
      assert.is_nil(res.retry_after)
    end)

    for _, c in ipairs {
      { "{ 404 }", 404, "gone" }, { "{ 404 }", 410, "failed" },
      { "{}", 404, "failed" }, { "{ 409 }", 409, "gone" },
    } do
      it(("with gone = %s an HTTP %d is %s"):format(c[1], c[2], c[3]), function()
        H.script("DELETE", "/api/g", { { status = c[2] } })
        local dir = flow('ctx.http.delete("/api/g")', { event = "gone = " .. c[1] .. "," })
        assert.same({ true }, { unhook.check(dir) })
        local res = H.run(dir)
        assert.equal(c[3], res.outcome)
        assert.equal(c[2], res.status)
      end)
    end

    for _, s in ipairs { 408, 425, 429, 502, 503, 504 } do
      it("retries on HTTP " .. s, function()
        H.script("DELETE", "/api/g", { { status = s } })
        local res = H.run(flow('ctx.http.delete("/api/g")'))
        assert.equal("retry", res.outcome)
        assert.equal(s, res.status)
      end)
    end

    for _, s in ipairs { 400, 401, 403, 405, 409 } do
      it("fails on HTTP " .. s, function()
        H.script("DELETE", "/api/g", { { status = s } })
        local res = H.run(flow('ctx.http.delete("/api/g")'))
        assert.equal("failed", res.outcome)
        assert.equal(s, res.status)
      end)
    end
  end)

  describe("misuse", function()
    local cases = {
      { "ctx.http.get(42)", "ctx.http.get: url: expected string, got number" },
      { 'ctx.http.get("/x", 42)', "ctx.http.get: options: expected table, got number" },
      { 'ctx.http.request{ url = "/x", bogus = 1 }', "ctx.http.request: unknown request field 'bogus'" },
      { 'ctx.http.post("/x", { body = "a", json = {} })', "ctx.http.post: give body or json, not both" },
      { 'ctx.http.get("/x/{id}", { path = { id = {} } })', "ctx.http.get: path.id: expected string or number, got table" },
      { 'ctx.http.get("/x", { query = { a = {} , [1] = 2 } })', "ctx.http.get: query: keys must be strings, got number" },
      { 'ctx.http.get("/x", { timeout = -1 })', "ctx.http.get: timeout: expected a positive number of seconds" },
      { 'ctx.http.get("/x", { headers = { A = {} } })', "ctx.http.get: headers.A: expected string, got table" },
      { 'ctx.http.get("/x/{id}")', 'URL template "/x/{id}": no value for {id} in path' },
    }
    for _, c in ipairs(cases) do
      it("names the argument: " .. c[1], function()
        local res = H.run(flow(c[1]))
        assert.equal("failed", res.outcome)
        assert.matches(c[2], res.message, 1, true)
        assert.same({}, H.requests())
      end)
    end

    -- the checks of the request's parts run a call deeper than the others
    for _, c in ipairs({ cases[1], cases[4], cases[5], cases[8] }) do
      it("points at the flow's line: " .. c[1], function()
        local res = H.run(flow(c[1]))
        assert.matches("%.lua:3: " .. c[2]:gsub("%p", "%%%0"), res.message)
      end)
    end

    it("refuses a request from where the flow cannot wait", function()
      local res = H.run(flow('local t = { 3, 1, 2 }\ntable.sort(t, function(a, b) ctx.http.get("/api/s"); return a < b end)'))
      assert.equal("failed", res.outcome)
      assert.matches("requests must be made from the flow itself", res.message, 1, true)
      assert.same({}, H.requests())
    end)

    it("refuses an absolute URL that is not http(s) instead of appending it to base_url", function()
      local res = H.run(flow('ctx.http.get("ftp://example.com/x")'))
      assert.equal("failed", res.outcome)
      assert.matches("not an http(s) URL", res.message, 1, true)
      assert.same({}, H.requests())
    end)

    it("refuses header values with CR or LF (no header injection)", function()
      local res = H.run(flow('ctx.http.get("/api/h", { headers = { ["X-A"] = "1\\r\\nX-Injected: yes" } })'))
      for _, r in ipairs(H.requests()) do
        assert.is_nil(H.header(r, "X-Injected"))
      end
      assert.equal("failed", res.outcome)
      assert.matches("headers.X-A", res.message, 1, true)
    end)

    it("refuses a method that is not a token", function()
      local res = H.run(flow('ctx.http.request{ method = "GET /api/m HTTP/1.1\\r\\nX-B: 1\\r\\n\\r\\nGET", url = "/api/z" }'))
      assert.equal("failed", res.outcome)
      -- refused before anything is sent: no HTTP status
      assert.is_nil(res.status)
      assert.matches("method", res.message, 1, true)
      assert.same({}, H.requests())
    end)

    it("reports the flow's line for a misused request", function()
      local res = H.run(flow("\n\nctx.http.get(42)"))
      assert.equal("failed", res.outcome)
      -- line 1 is `local json`, line 2 `return {`, the call is on line 5
      assert.matches("flows/d.lua:5: ctx.http.get: url: expected string", res.message, 1, true)
    end)
  end)

  describe("credentials", function()
    local GET = flow('ctx.http.get("/api/v1/hooks")')

    local cases = {
      { "basic", { type = "basic", username = "user", password = "pass" },
        function(r) assert.equal("Basic dXNlcjpwYXNz", H.header(r, "Authorization")) end },
      { "header", { type = "header", name = "X-Api-Key", value = "test-token" },
        function(r)
          assert.equal("test-token", H.header(r, "X-Api-Key"))
          assert.is_nil(H.header(r, "Authorization"))
        end },
      { "query", { type = "query", name = "api_key", value = "test-token" },
        function(r)
          assert.equal("test-token", r.query.api_key)
          assert.is_nil(H.header(r, "Authorization"))
        end },
      { "bearer", { type = "bearer", token = "test-token" },
        function(r) assert.equal("Bearer test-token", H.header(r, "Authorization")) end },
    }
    for _, c in ipairs(cases) do
      it("are accepted by the provider with auth type " .. c[1], function()
        local res = H.run(GET, { connection = H.connection { auth = c[2] } })
        assert.equal("done", res.outcome)
        local r = H.last_request()
        assert.equal(200, r.status)
        c[3](r)
      end)
    end

    it("are masked when the service echoes them in an error body", function()
      H.script("GET", "/api/v1/hooks", { { status = 422, body = { message = "bad token test-token" } } })
      local res = H.run(GET)
      assert.equal("failed", res.outcome)
      assert.is_nil(res.message:find("test-token", 1, true))
      assert.matches("bad token ***", res.message, 1, true)
    end)

    it("are needed: with auth none the provider answers 401", function()
      local res = H.run(GET, { connection = H.connection { auth = { type = "none" } } })
      assert.equal("failed", res.outcome)
      assert.equal(401, res.status)
      assert.is_nil(H.header(H.last_request(), "Authorization"))
    end)

    it("are masked in messages, also inside URLs", function()
      local res = H.run(GET, { connection = H.connection {
        auth = { type = "query", name = "api_key", value = "wrong secret/1" } } })
      assert.equal("failed", res.outcome)
      assert.equal(401, res.status)
      assert.is_nil(res.message:find("wrong secret/1", 1, true))
      assert.is_nil(res.message:find("wrong%20secret%2F1", 1, true))
      assert.matches("api_key=***", res.message, 1, true)
    end)

    for _, c in ipairs(cases) do
      it("are not sent to another host (" .. c[1] .. ")", function()
        local other = "http://localhost:" .. H.port .. "/api/v1/hooks"
        local dir = flow('ctx.http.get("' .. other .. '")')
        local res = H.run(dir, { connection = H.connection { auth = c[2] } })
        assert.equal("failed", res.outcome)
        for _, r in ipairs(H.requests()) do
          assert.is_nil(H.header(r, "Authorization"))
          assert.is_nil(H.header(r, "X-Api-Key"))
          assert.is_nil(r.query.api_key)
          assert.equal(401, r.status)
        end
      end)
    end

    it("requests only hosts of base_url and the manifest's hosts list", function()
      -- DESIGN.md, Sandbox: "requests limited to the connector's base URL
      -- host plus the hosts the manifest lists"
      local other = "http://localhost:" .. H.port .. "/api/v1/hooks"
      local dir = H.flow_connector('return { run = function(ctx) ctx.http.get("' .. other .. '") end }')
      local res = H.run(dir, { connection = H.connection { auth = { type = "none" } } })
      assert.equal("failed", res.outcome)
      assert.same({}, H.requests())
    end)
  end)
end)

describe("connections", function()
  before_each(function() H.reset() end)
  local GET = flow('ctx.http.get("/api/v1/hooks")')

  it("expands ${NAME} from the environment", function()
    local res = H.run(GET, { connection = H.connection {
      base_url = "${UNHOOK_TEST_URL}", auth = { type = "bearer", token = "test-${UNHOOK_SPEC_NO_SUCH_VAR_X}" } } })
    assert.is_nil(res)
    local res2, err = H.run(GET, { connection = H.connection { base_url = "${UNHOOK_TEST_URL}/api" } })
    assert.is_nil(err)
    assert.equal("done", res2.outcome)
    assert.equal("/api/api/v1/hooks", H.last_request().path)
  end)

  it("names an unset environment variable", function()
    local res, err = H.run(GET, { connection = H.connection { auth = {
      type = "bearer", token = "${UNHOOK_SPEC_NO_SUCH_VAR_X}" } } })
    assert.is_nil(res)
    assert.matches("auth.token: environment variable UNHOOK_SPEC_NO_SUCH_VAR_X is not set", err, 1, true)
    assert.same({}, H.requests())
  end)

  it("reports a missing connection file", function()
    local res, err = H.run(GET, { connection = "/no/such/conn.json" })
    assert.is_nil(res)
    assert.matches("/no/such/conn.json: cannot read connection file", err, 1, true)
  end)

  it("reports an unknown auth type and unknown keys", function()
    local res, err = H.run(GET, { connection = H.connection { auth = { type = "oauth9" } } })
    assert.is_nil(res)
    assert.matches("auth.type must be one of: basic, bearer, header, none, oauth2, query (got oauth9)", err, 1, true)
    res, err = H.run(GET, { connection = H.connection { tokne = "x" } })
    assert.is_nil(res)
    assert.matches("unknown key 'tokne'", err, 1, true)
  end)

  it("sends the connection's headers", function()
    local res = H.run(GET, { connection = H.connection { headers = { ["X-Tenant"] = "acme" } } })
    assert.equal("done", res.outcome)
    assert.equal("acme", H.header(H.last_request(), "X-Tenant"))
  end)
end)

describe("registration flows", function()
  before_each(function() H.reset() end)

  local function reg_connector(src)
    return H.connector {
      ["connector.lua"] = [[return { name = "r", events = { e = {
        registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/d.lua" } } } }]],
      ["flows/r.lua"] = "return { run = function(ctx) " .. src .. " end }",
      ["flows/d.lua"] = [[return { run = function(ctx)
        ctx.http.post("/api/report", { json = { reg = ctx.registration, t = type(ctx.registration) } })
      end }]],
    }
  end

  local function register(dir)
    return unhook.register { connector = dir, event = "e", connection = H.connection() }
  end

  it("see reason enabled", function()
    local res = register(reg_connector('return { reason = ctx.reason }'))
    assert.equal("done", res.outcome)
    assert.equal('{"reason":"enabled"}', res.registration)
  end)

  it("round-trip string data to the deregistration flow as a string", function()
    local dir = reg_connector('return "12345"')
    local res = register(dir)
    assert.equal("done", res.outcome)
    assert.equal("done", unhook.run { connector = dir, event = "e", connection = H.connection(),
      registration = res.registration }.outcome)
    local rep = report()
    assert.equal("string", rep.t)
    assert.equal("12345", rep.reg)
  end)

  it("round-trip table data", function()
    local dir = reg_connector('return { id = 7, tags = { "a" }, nested = { ok = true } }')
    local res = register(dir)
    assert.equal("done", unhook.run { connector = dir, event = "e", connection = H.connection(),
      registration = res.registration }.outcome)
    assert.same({ id = 7, tags = { "a" }, nested = { ok = true } }, report().reg)
  end)

  it("fail when they return no data", function()
    local res = register(reg_connector("return nil"))
    assert.equal("failed", res.outcome)
    assert.matches("must return the registration data (a table or a string), got nil", res.message, 1, true)
  end)

  it("fail when the data cannot be stored as JSON", function()
    local res = register(reg_connector("return { f = print }"))
    assert.equal("failed", res.outcome)
    assert.matches("registration data cannot be stored as JSON", res.message, 1, true)
  end)

  it("are refused for an event without one", function()
    local res, err = unhook.register { connector = flow("return"), event = "e", connection = H.connection() }
    assert.is_nil(res)
    assert.matches("has no registration flow", err, 1, true)
  end)
end)

describe("ctx", function()
  before_each(function() H.reset() end)

  local CTX = flow(REPORT:format([[{
      reason = ctx.reason, instance = ctx.instance, connection = ctx.connection,
      input = ctx.input, registration = ctx.registration,
      regtype = type(ctx.registration), same_input = rawequal(ctx.input, input) }]]), {
    options = '{ colour = { type = "string", required = true }, size = { type = "integer", default = 3 } }',
    inputs = '{ colour = option "colour", fixed = "static" }',
    inputs_schema = '{ colour = { type = "string" }, fixed = { type = "string" } }',
  })

  local function run(args)
    local req = { options = { colour = "red" } }
    for k, v in pairs(args or {}) do req[k] = v end
    local res = H.run(CTX, req)
    assert.equal("done", res.outcome, res.message)
    return report()
  end

  it("has reason disabled by default, or the one given", function()
    assert.equal("disabled", run().reason)
    assert.equal("deleted", run({ reason = "deleted" }).reason)
  end)

  it("describes the instance", function()
    local inst = run({ instance = "inst-42" }).instance
    assert.equal("inst-42", inst.id)
    assert.equal("t", inst.connector)
    assert.equal("e", inst.event)
    assert.same({ colour = "red", size = 3 }, inst.options)
    assert.is_string(run().instance.id)
  end)

  it("passes the mapped inputs as ctx.input and as the second argument", function()
    local rep = run()
    assert.same({ colour = "red", fixed = "static" }, rep.input)
    assert.is_true(rep.same_input)
  end)

  it("takes inputs given to unhook.run over the mapped ones", function()
    assert.same({ colour = "red", fixed = "over" }, run({ inputs = { fixed = "over" } }).input)
  end)

  it("refuses an input the flow does not declare", function()
    local res, err = H.run(CTX, { options = { colour = "red" }, inputs = { nope = 1 } })
    assert.is_nil(res)
    assert.matches("has no input 'nope' (inputs: colour, fixed)", err, 1, true)
  end)

  it("refuses an option of the wrong type", function()
    local res, err = H.run(CTX, { options = { colour = "red", size = "big" } })
    assert.is_nil(res)
    assert.matches("option 'size': expected integer, got string", err, 1, true)
  end)

  it("shows the connection without any secret", function()
    for _, auth in ipairs {
      { type = "bearer", token = "test-token" },
      { type = "header", name = "X-Api-Key", value = "test-token" },
      { type = "query", name = "api_key", value = "test-token" },
      { type = "basic", username = "user", password = "test-token" },
    } do
      H.reset()
      local rep = run({ connection = H.connection { auth = auth, headers = { ["X-Trace"] = "t1" } } })
      assert.equal(H.url, rep.connection.base_url)
      assert.same({}, find_in(rep.connection, "test-token"))
    end
  end)

  it("keeps secrets out of everything in ctx", function()
    local dir = flow([[
      local found, seen = {}, {}
      local function scan(v, path)
        if type(v) == "string" and v:find("test-token", 1, true) then found[#found + 1] = path end
        if type(v) == "table" and not seen[v] then
          seen[v] = true
          for k, x in pairs(v) do scan(k, path .. "[k]"); scan(x, path .. "." .. tostring(k)) end
        end
      end
      scan(ctx, "ctx")
      ]] .. REPORT:format("{ found = found, n = #found }"))
    assert.equal("done", H.run(dir).outcome)
    assert.equal(0, report().n)
  end)

  it("decodes JSON registration data", function()
    local rep = run({ registration = '{"id": 5, "nested": {"a": [1, 2]}}' })
    assert.equal("table", rep.regtype)
    assert.same({ id = 5, nested = { a = { 1, 2 } } }, rep.registration)
    rep = run({ registration = { id = "x" } })
    assert.same({ id = "x" }, rep.registration)
    rep = run({ registration = '"quoted"' })
    assert.equal("string", rep.regtype)
    assert.equal("quoted", rep.registration)
  end)

  it("passes non-JSON registration text as a string", function()
    local rep = run({ registration = "hook 7" })
    assert.equal("string", rep.regtype)
    assert.equal("hook 7", rep.registration)
  end)

  it("passes a string registration given from Lua as a string", function()
    -- unhook.run{registration = "12345678"}: "a string is passed as is"
    local rep = run({ registration = "12345678" })
    assert.equal("string", rep.regtype)
    assert.equal("12345678", rep.registration)
  end)

  it("fails before the flow on registration data that is broken JSON", function()
    local res, err = H.run(CTX, { options = { colour = "red" }, registration = '{"id": ' })
    assert.is_nil(res)
    assert.matches("registration data: invalid JSON", err, 1, true)
    assert.same({}, H.requests())
  end)
end)

teardown(H.cleanup)
