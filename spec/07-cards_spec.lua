-- Every card, called from real flows: the harness connector
-- (spec/fixtures/cards/harness) has a registration flow that calls the
-- card at a dotted path over ctx.cards with a JSON array of arguments and
-- returns the outputs as { out = { ... } }; dedicated flows there cover
-- the cards that take functions, flow.call and a connector's own card.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered
local json = unhook.json
local null = json.null

local HARNESS = "spec/fixtures/cards/harness"

local function register(event, inputs, req)
  local r = { connector = HARNESS, event = event, inputs = inputs, connection = H.connection() }
  for k, v in pairs(req or {}) do r[k] = v end
  local res, err = unhook.register(r)
  assert(res, err)
  return res
end

-- The outputs of a card (JSON null stays json.null), or an error naming
-- what the flow reported.
local function call(card, args)
  local res = register("call", { card = card, args = args or {} })
  if res.outcome ~= "done" then
    error(string.format("%s failed (%s): %s", card, tostring(res.code), tostring(res.message)), 2)
  end
  return H.decode(res.registration).out
end

-- The message a card failed with, without the "file:line: " in front (a
-- card's own errors point at the flow's line; see the last describe).
local function strip(msg)
  return (msg:gsub("^%[unhook%] [%w%.]+:%d+: ", ""):gsub("^%S-/flows/[%w_]+%.lua:%d+: ", ""))
end

local function fails(card, args)
  local res = register("call", { card = card, args = args or {} })
  assert.equal("failed", res.outcome, res.registration)
  assert.equal("script", res.code)
  return strip(res.message)
end

-- A registration flow whose run body is src (ctx, input and null in
-- scope), in a temporary connector; returns its { out = ... } decoded.
local function snippet(src)
  local dir = H.connector {
    ["connector.lua"] = [[return { name = "snippet", events = { e = {
      registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/r.lua" } } } }]],
    ["flows/r.lua"] = "local null = unhook.json.null\nreturn { run = function(ctx, input)\n"
      .. src .. "\nend }",
  }
  local res, err = unhook.register { connector = dir, event = "e" }
  assert(res, err)
  assert.equal("done", res.outcome, res.message)
  return H.decode(res.registration).out
end

describe("cards", function()
  before_each(function() H.reset() end)
  teardown(function() H.cleanup() end)

  it("the harness connector passes check", function()
    assert(unhook.check(HARNESS))
  end)

  describe("calling convention", function()
    it("takes positional inputs and returns the declared outputs in order", function()
      assert.same({ { id = "b" }, 1 }, call("list.find", { { { id = "a" }, { id = "b" } }, { id = "b" } }))
    end)

    it("refuses more inputs than declared", function()
      assert.equal("text.trim: takes 1 input, got 2", fails("text.trim", { " a ", "b" }))
      assert.equal("date.now: takes 0 inputs, got 1", fails("date.now", { 1 }))
      assert.equal("branching.if_else: takes 3 inputs, got 4", fails("branching.if_else", { true, 1, 2, 3 }))
    end)

    it("applies defaults to omitted trailing inputs", function()
      assert.same({ "ab" }, call("text.join", { { "a", "b" } }))
      assert.same({ "1970-01-01T00:01:00Z" }, call("date.add", { 0, 60 }))
    end)
  end)

  describe("text", function()
    it("concatenate joins any number of strings", function()
      assert.same({ "abc" }, call("text.concatenate", { "a", "b", "c" }))
      assert.same({ "" }, call("text.concatenate"))
      assert.equal("text.concatenate: input 2: expected string, got array",
        fails("text.concatenate", { "a", { 1 } }))
      assert.equal("text.concatenate: input 3: expected string, got integer",
        fails("text.concatenate", { "a", "b", 5 }))
    end)

    it("compose fills {{name}} placeholders, dotted names reaching into objects", function()
      assert.same({ "Hook 5 of octo/hello (true)" }, call("text.compose",
        { "Hook {{id}} of {{ repo.owner }}/{{repo.name}} ({{active}})",
          { id = 5, active = true, repo = { owner = "octo", name = "hello" } } }))
      assert.same({ "no placeholders" }, call("text.compose", { "no placeholders" }))
      assert.equal("text.compose: input 'values': no value for '{{owner}}'",
        fails("text.compose", { "{{id}} {{owner}}", { id = 1 } }))
      assert.equal("text.compose: input 'values': 'ids' is a table, not text, a number or a boolean",
        fails("text.compose", { "{{ids}}", { ids = { 1, 2 } } }))
      assert.equal("text.compose: input 'template': expected string, got nil", fails("text.compose"))
    end)

    it("replace replaces every occurrence of plain text", function()
      assert.same({ "a+b+c" }, call("text.replace", { "a-b-c", "-", "+" }))
      assert.same({ "1,5%" }, call("text.replace", { "1.5%", ".", "," }))
      assert.same({ "x%1x" }, call("text.replace", { "%a%1%a", "%a", "x" }))
      assert.same({ "ab" }, call("text.replace", { "a--b", "-" }))
      assert.equal("text.replace: input 'find': expected a non-empty string",
        fails("text.replace", { "abc", "", "x" }))
      assert.equal("text.replace: input 'find': expected string, got integer",
        fails("text.replace", { "a1", 1, "b" }))
    end)

    it("split cuts at each separator; an empty one gives the characters", function()
      assert.same({ { "a", "b", "", "c" } }, call("text.split", { "a,b,,c", "," }))
      assert.same({ { "a", "b" } }, call("text.split", { "a.b", "." }))
      assert.same({ { "x" } }, call("text.split", { "x", "::" }))
      assert.same({ { "h", "é", "!" } }, call("text.split", { "hé!", "" }))
      assert.same({ { "" } }, call("text.split", { "", "," }))
      assert.equal("text.split: input 'separator': expected string, got nil", fails("text.split", { "a" }))
    end)

    it("join puts a separator between strings and numbers", function()
      assert.same({ "a, b, 3" }, call("text.join", { { "a", "b", 3 }, ", " }))
      assert.same({ "" }, call("text.join", { {}, "," }))
      assert.equal("text.join: input 'list': item 2: expected string or number, got table",
        fails("text.join", { { "a", { x = 1 } } }))
      assert.equal("text.join: input 'list': expected array, got object",
        fails("text.join", { { a = 1 } }))
    end)

    it("trim removes white space at both ends", function()
      assert.same({ "a b" }, call("text.trim", { " \t a b \n" }))
      assert.same({ "" }, call("text.trim", { "   " }))
      assert.equal("text.trim: input 'text': expected string, got integer", fails("text.trim", { 5 }))
    end)

    it("length counts UTF-8 characters", function()
      assert.same({ 5 }, call("text.length", { "héllo" }))
      assert.same({ 0 }, call("text.length", { "" }))
      assert.equal("text.length: input 'text': invalid UTF-8 at byte 2",
        fails("text.length", { "a\255b" }))
      assert.equal("text.length: input 'text': expected string, got boolean", fails("text.length", { true }))
    end)

    it("url_encode keeps only the unreserved characters", function()
      assert.same({ "a%20b%2Fc%3Fd%3D%C3%A9%2B~-._" }, call("text.url_encode", { "a b/c?d=é+~-._" }))
      assert.equal("text.url_encode: input 'text': expected string, got nil", fails("text.url_encode"))
    end)

    it("url_decode decodes %XX escapes and rejects broken ones", function()
      assert.same({ "a b/c+é/" }, call("text.url_decode", { "a%20b%2Fc+%C3%A9%2f" }))
      assert.equal("text.url_decode: input 'text': bad percent escape '%' at byte 4",
        fails("text.url_decode", { "100%" }))
      assert.equal("text.url_decode: input 'text': bad percent escape '%zz' at byte 3",
        fails("text.url_decode", { "ab%zz1" }))
      assert.equal("text.url_decode: input 'text': bad percent escape '%4' at byte 1",
        fails("text.url_decode", { "%4" }))
    end)

    it("base64_encode and base64_decode follow RFC 4648 (standard alphabet, padding)", function()
      local vectors = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
                        fooba = "Zm9vYmE=", foobar = "Zm9vYmFy", ["\255\254?"] = "//4/" }
      for plain, coded in pairs(vectors) do
        assert.same({ coded }, call("text.base64_encode", { plain }))
        assert.same({ plain }, call("text.base64_decode", { coded }))
      end
      assert.equal("text.base64_encode: input 'text': expected string, got boolean",
        fails("text.base64_encode", { true }))
    end)

    it("base64_decode rejects what is not padded base64", function()
      assert.equal("text.base64_decode: input 'text': not base64: length 3 is not a multiple of 4",
        fails("text.base64_decode", { "Zm9" }))
      assert.equal("text.base64_decode: input 'text': not base64: unexpected '$' at byte 4",
        fails("text.base64_decode", { "Zm9$" }))
      assert.equal("text.base64_decode: input 'text': not base64: unexpected '=' at byte 3",
        fails("text.base64_decode", { "Zm==Zm9v" }))
      assert.equal("text.base64_decode: input 'text': not base64: unexpected '=' at byte 2",
        fails("text.base64_decode", { "Z===" }))
      assert.equal("text.base64_decode: input 'text': expected string, got nil",
        fails("text.base64_decode"))
    end)
  end)

  describe("json", function()
    it("parse decodes JSON text", function()
      assert.same({ { a = { 1, 2 }, b = "x" } }, call("json.parse", { '{"a":[1,2],"b":"x"}' }))
      assert.equal("json.parse: input 'text': invalid JSON: Expected value but found T_END at character 4",
        fails("json.parse", { "[1," }))
      assert.equal("json.parse: input 'text': expected string, got integer", fails("json.parse", { 5 }))
    end)

    it("stringify encodes with object keys sorted", function()
      assert.same({ '{"a":[true,"x"],"b":1}' }, call("json.stringify", { { b = 1, a = { true, "x" } } }))
      assert.same({ "null" }, call("json.stringify"))
      local out = snippet [[
        local ok, err = pcall(ctx.cards.json.stringify, { f = print })
        return { out = { ok, tostring(err) } } ]]
      assert.same({ false, "json.stringify: input 'value': cannot encode a function as JSON" },
        { out[1], strip(out[2]) })
    end)
  end)

  describe("object", function()
    local doc = { data = { hooks = { { id = "a" }, { id = "b", config = { url = "u" } } } },
                  ["0"] = "zero", gone = null }

    it("get follows dotted paths, list indices from 0", function()
      assert.same({ "b" }, call("object.get", { doc, "data.hooks.1.id" }))
      assert.same({ "u" }, call("object.get", { doc, "data.hooks.1.config.url" }))
      assert.same({ "zero" }, call("object.get", { doc, "0" }))
      assert.same({ { id = "a" } }, call("object.get", { doc, "data.hooks.0" }))
      assert.same({ doc }, call("object.get", { doc, "" }))
    end)

    it("get gives nil for what is not there", function()
      assert.same({ null }, call("object.get", { doc, "data.nope.x" }))
      assert.same({ null }, call("object.get", { doc, "data.hooks.2.id" }))
      assert.same({ null }, call("object.get", { doc, "data.hooks.0.id.x" }))
      assert.same({ null }, call("object.get", { doc, "gone" }))
    end)

    it("get rejects bad input", function()
      assert.equal("object.get: input 'path': empty segment in 'a..b'", fails("object.get", { doc, "a..b" }))
      assert.equal("object.get: input 'object': expected object, got string", fails("object.get", { "x", "a" }))
      assert.equal("object.get: input 'path': expected string, got nil", fails("object.get", { doc }))
    end)

    it("set returns a new object and leaves the given one alone", function()
      local out = snippet [[
        local given = { a = { b = 1 }, list = { 1, 2 } }
        local changed = ctx.cards.object.set(given, "a.b", 2)
        return { out = { given, changed, given.list ~= changed.list } } ]]
      assert.same({ { a = { b = 1 }, list = { 1, 2 } }, { a = { b = 2 }, list = { 1, 2 } }, true }, out)
    end)

    it("set makes the objects on the way and indexes lists from 0", function()
      assert.same({ { x = { y = { z = true } } } }, call("object.set", { {}, "x.y.z", true }))
      assert.same({ { hooks = { { id = "z" }, { id = "b" } } } },
        call("object.set", { { hooks = { { id = "a" }, { id = "b" } } }, "hooks.0.id", "z" }))
      assert.same({ { hooks = { "a", "b" } } }, call("object.set", { { hooks = { "a" } }, "hooks.1", "b" }))
      assert.same({ { b = 2 } }, call("object.set", { { a = 1, b = 2 }, "a" }))
      assert.same({ { l = { "b" } } }, call("object.set", { { l = { "a", "b" } }, "l.0" }))
    end)

    it("set rejects paths it cannot follow", function()
      assert.equal("object.set: input 'path': index 5 is past the end of 'hooks' (1 item)",
        fails("object.set", { { hooks = { "a" } }, "hooks.5", "x" }))
      assert.equal("object.set: input 'path': 'hooks' is a list, 'first' is not an index",
        fails("object.set", { { hooks = { "a" } }, "hooks.first", "x" }))
      assert.equal("object.set: input 'path': 'a' is a string, not an object",
        fails("object.set", { { a = "s" }, "a.b", 1 }))
      assert.equal("object.set: input 'path': expected a non-empty path", fails("object.set", { {}, "", 1 }))
      assert.equal("object.set: input 'object': expected object, got nil", fails("object.set"))
    end)

    it("merge is shallow and b wins", function()
      assert.same({ { a = 1, b = { y = 2 }, c = 3 } },
        call("object.merge", { { a = 1, b = { x = 1 } }, { b = { y = 2 }, c = 3 } }))
      assert.equal("object.merge: input 'b': expected object, got nil", fails("object.merge", { { a = 1 } }))
    end)

    it("keys are sorted", function()
      assert.same({ { "a", "b", "c" } }, call("object.keys", { { c = 1, a = 2, b = 3 } }))
      assert.same({ {} }, call("object.keys", { {} }))
      assert.equal("object.keys: input 'object': expected object, got string", fails("object.keys", { "x" }))
    end)

    it("has tells whether a path leads to a value", function()
      assert.same({ true }, call("object.has", { doc, "data.hooks.1.config" }))
      assert.same({ false }, call("object.has", { doc, "data.hooks.1.secret" }))
      assert.same({ false }, call("object.has", { doc, "gone" }))
      assert.equal("object.has: input 'path': empty segment in '.a'", fails("object.has", { doc, ".a" }))
    end)
  end)

  describe("list", function()
    local hooks = { { id = "a", url = "https://a.test/x", active = false },
                    { id = "b", url = "https://b.test/y", active = true },
                    { id = "c", url = "https://c.test/x", active = true } }

    it("length counts items", function()
      assert.same({ 3 }, call("list.length", { hooks }))
      assert.same({ 0 }, call("list.length", { {} }))
      assert.equal("list.length: input 'list': expected array, got object", fails("list.length", { { a = 1 } }))
    end)

    it("at indexes from 0, negative from the end", function()
      assert.same({ "a" }, call("list.at", { { "a", "b", "c" }, 0 }))
      assert.same({ "c" }, call("list.at", { { "a", "b", "c" }, -1 }))
      assert.same({ "a" }, call("list.at", { { "a", "b", "c" }, -3 }))
      assert.same({ null }, call("list.at", { { "a", "b", "c" }, 3 }))
      assert.same({ null }, call("list.at", { { "a", "b", "c" }, -4 }))
      assert.equal("list.at: input 'index': expected integer, got number", fails("list.at", { { "a" }, 1.5 }))
      assert.equal("list.at: input 'index': expected number, got string", fails("list.at", { { "a" }, "1" }))
    end)

    it("find with an object matches every field", function()
      assert.same({ hooks[2], 1 }, call("list.find", { hooks, { active = true } }))
      assert.same({ hooks[3], 2 }, call("list.find", { hooks, { active = true, url = "https://c.test/x" } }))
      assert.same({ { id = 1, config = { url = "u" } }, 0 },
        call("list.find", { { { id = 1, config = { url = "u" } } }, { config = { url = "u" } } }))
      assert.same({ null, null }, call("list.find", { hooks, { id = "z" } }))
      assert.equal("list.find: input 'match': expected function or object, got string",
        fails("list.find", { hooks, "b" }))
      assert.equal("list.find: input 'match': expected function or object, got array",
        fails("list.find", { hooks, { 1 } }))
    end)

    it("find with a function gets each item and its 0-based index", function()
      local res = register("find_fn", { list = hooks, needle = "c.test" })
      assert.same({ hooks[3], 2, { 0, 1, 2 } }, H.decode(res.registration).out)
      res = register("find_fn", { list = hooks, needle = "b.test" })
      assert.same({ hooks[2], 1, { 0, 1 } }, H.decode(res.registration).out)
      res = register("find_fn", { list = hooks, needle = "nowhere" })
      assert.same({ null, null, { 0, 1, 2 } }, H.decode(res.registration).out)
    end)

    it("filter keeps what matches, in a new list", function()
      assert.same({ { hooks[2], hooks[3] } }, call("list.filter", { hooks, { active = true } }))
      assert.same({ {} }, call("list.filter", { hooks, { id = "z" } }))
      local res = register("filter_fn", { list = hooks })
      assert.same({ { hooks[3] }, 1 }, H.decode(res.registration).out)
      assert.equal("list.filter: input 'match': expected function or object, got boolean",
        fails("list.filter", { hooks, true }))
    end)

    it("map calls the function with each item and its index", function()
      local res = register("map_fn", { list = { { id = "a" }, { url = "no id" }, { id = "c" } } })
      assert.same({ { "0:a", null, "2:c" }, 3 }, H.decode(res.registration).out)
      assert.equal("list.map: input 'fn': expected function, got string", fails("list.map", { hooks, "id" }))
      assert.equal("list.map: input 'list': expected array, got nil", fails("list.map"))
    end)

    it("pluck takes a field of each item", function()
      assert.same({ { "a", "b", "c" } }, call("list.pluck", { hooks, "id" }))
      assert.same({ { false, null, null } }, call("list.pluck", { { { x = false }, { y = 1 }, "s" }, "x" }))
      assert.equal("list.pluck: input 'field': expected string, got integer", fails("list.pluck", { hooks, 5 }))
    end)
  end)

  describe("branching", function()
    it("if_else picks a value", function()
      assert.same({ "yes" }, call("branching.if_else", { true, "yes", "no" }))
      assert.same({ "no" }, call("branching.if_else", { false, "yes", "no" }))
    end)

    it("continue_if ends a deregistration flow as done, before its request", function()
      local res = unhook.run { connector = HARNESS, event = "stop", inputs = { go = false },
                               connection = H.connection() }
      assert.equal("done", res.outcome)
      assert.same({}, H.requests())
      res = unhook.run { connector = HARNESS, event = "stop", inputs = { go = true },
                         connection = H.connection() }
      assert.equal("done", res.outcome)
      assert.equal("/api/stop/hk_1", H.last_request().path)
    end)

    it("continue_if stopping a registration flow leaves no data", function()
      local res = register("call", { card = "branching.continue_if", args = { false, "no repo" } })
      assert.equal("failed", res.outcome)
      assert.equal("stop", res.code)
      assert.equal("the registration flow stopped without registration data: no repo", res.message)
      assert.same({}, H.decode(register("call",
        { card = "branching.continue_if", args = { true } }).registration).out)
      assert.equal("branching.continue_if: input 'message': expected string, got integer",
        fails("branching.continue_if", { true, 5 }))
    end)

    it("lookup maps a key, with a default", function()
      assert.same({ 2 }, call("branching.lookup", { "b", { a = 1, b = 2 } }))
      assert.same({ "d" }, call("branching.lookup", { "z", { a = 1 }, "d" }))
      assert.same({ null }, call("branching.lookup", { "z", { a = 1 } }))
      assert.equal("branching.lookup: input 'table': expected object, got nil", fails("branching.lookup", { "a" }))
    end)
  end)

  describe("error", function()
    it("return_error fails the flow with its status and message", function()
      local res = register("call", { card = "error.return_error", args = { 409, "already exists" } })
      assert.equal("failed", res.outcome)
      assert.equal("fail", res.code)
      assert.equal(409, res.status)
      assert.equal("already exists", res.message)
      assert.equal("error.return_error: input 'status': expected integer, got string",
        fails("error.return_error", { "409", "x" }))
      assert.equal("error.return_error: input 'message': expected string, got nil",
        fails("error.return_error", { 409 }))
    end)

    it("if_error returns the function's result, or nil and the error object", function()
      local function out(case) return H.decode(register("if_error", { case = case }).registration).out end
      assert.same({ "x+y", null }, out("value"))
      assert.same({ null, { code = "fail", message = "conflict", status = 409 } }, out("card"))
      assert.same({ null, { code = "script", message = "boom", status = null } }, out("lua"))
      local o = out("http")
      assert.equal("http", o[2].code)
      assert.equal(404, o[2].status)
      assert.equal("error.if_error: input 'fn': expected function, got string", fails("error.if_error", { "f" }))
    end)

    it("retry asks for another attempt after a delay", function()
      local res = register("call", { card = "error.retry", args = { "busy", 30 } })
      assert.equal("retry", res.outcome)
      assert.equal("retry", res.code)
      assert.equal("busy", res.message)
      assert.equal(30, res.retry_after)
      assert.equal("error.retry: input 'message': expected string, got integer", fails("error.retry", { 5 }))
      assert.equal("error.retry: input 'delay': expected number, got string", fails("error.retry", { "m", "5" }))
    end)
  end)

  describe("http", function()
    it("raw_request returns any status without raising", function()
      local out = call("http.raw_request", { { method = "GET", url = "/api/cards/hk_9" } })
      assert.equal(404, out[1].status)
      assert.same({ error = "not found" }, out[1].json)
      out = call("http.raw_request", { { method = "POST", url = "/api/cards", json = { url = "u" } } })
      assert.equal(201, out[1].status)
      assert.equal("u", out[1].json.url)
      assert.equal("Bearer " .. H.token, H.header(H.last_request(), "Authorization"))
      assert.equal("http.raw_request: input 'request': expected object, got string",
        fails("http.raw_request", { "GET" }))
    end)

    it("get returns a 2xx response and raises on another", function()
      local id = H.seed_collection("/api/cards", 1)[1]
      local out = call("http.get", { "/api/cards/" .. id })
      assert.equal(200, out[1].status)
      assert.equal(id, out[1].json.id)
      local res = register("call", { card = "http.get", args = { "/api/cards/hk_999" } })
      assert.equal("failed", res.outcome)
      assert.equal("http", res.code)
      assert.equal(404, res.status)
      assert.equal("http.get: input 'url': expected string, got integer", fails("http.get", { 5 }))
    end)

    it("post sends options such as json", function()
      local out = call("http.post", { "/api/cards", { json = { url = "https://x.test" } } })
      assert.equal(201, out[1].status)
      assert.equal("https://x.test", out[1].json.url)
      assert.same({ url = "https://x.test" }, H.decode(H.last_request().body))
      assert.equal("http.post: input 'options': expected object, got string",
        fails("http.post", { "/api/cards", "body" }))
    end)

    it("put and patch send their method and body", function()
      for _, m in ipairs({ "put", "patch" }) do
        H.script(m:upper(), "/api/cards/hk_1", { { status = 200, body = { ok = m } } })
        local out = call("http." .. m, { "/api/cards/hk_1", { json = { active = false } } })
        assert.equal(200, out[1].status)
        assert.same({ ok = m }, out[1].json)
        local r = H.last_request()
        assert.equal(m:upper(), r.method)
        assert.same({ active = false }, H.decode(r.body))
        assert.equal("http." .. m .. ": input 'url': expected string, got nil", fails("http." .. m))
      end
    end)

    it("delete removes, then raises 404", function()
      local id = H.seed_collection("/api/cards", 1)[1]
      assert.equal(204, call("http.delete", { "/api/cards/" .. id })[1].status)
      local res = register("call", { card = "http.delete", args = { "/api/cards/" .. id } })
      assert.equal("failed", res.outcome)
      assert.equal(404, res.status)
      assert.equal("http.delete: input 'options': expected object, got integer",
        fails("http.delete", { "/api/cards/x", 1 }))
    end)
  end)

  describe("date", function()
    it("now is ISO 8601 in UTC, close to the clock", function()
      local now = call("date.now")[1]
      assert.truthy(now:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$"), now)
      local secs = call("date.parse", { now })[1]
      assert.is_true(math.abs(secs - os.time()) <= 5, now)
    end)

    it("parse gives Unix seconds", function()
      assert.same({ 1795935052 }, call("date.parse", { "2026-11-29T06:50:52Z" }))
      assert.same({ 1795935052 }, call("date.parse", { "2026-11-29T08:50:52+02:00" }))
      assert.same({ 1795935052 }, call("date.parse", { "2026-11-29T01:20:52-0530" }))
      assert.same({ 1795935052.25 }, call("date.parse", { "2026-11-29T06:50:52.250Z" }))
      assert.same({ 1795910400 }, call("date.parse", { "2026-11-29" }))
      assert.same({ 0 }, call("date.parse", { "1970-01-01T00:00:00Z" }))
      assert.same({ -1 }, call("date.parse", { "1969-12-31T23:59:59Z" }))
      assert.same({ 1709164800 }, call("date.parse", { "2024-02-29T00:00:00Z" }))
      assert.same({ 951868800 }, call("date.parse", { "2000-03-01T00:00:00Z" }))
    end)

    it("parse rejects what is not an ISO 8601 date", function()
      assert.equal("date.parse: input 'text': '2026-02-29T00:00:00Z': day 29 is out of range for 2026-02",
        fails("date.parse", { "2026-02-29T00:00:00Z" }))
      assert.equal("date.parse: input 'text': '2026-11-29T06:50:52': no time zone (end with Z or an offset like +02:00)",
        fails("date.parse", { "2026-11-29T06:50:52" }))
      assert.equal("date.parse: input 'text': 'yesterday': expected a date like 2026-11-29T06:50:52Z",
        fails("date.parse", { "yesterday" }))
      assert.equal("date.parse: input 'text': '2026-11-29T24:00:00Z': time 24:00:00 is out of range",
        fails("date.parse", { "2026-11-29T24:00:00Z" }))
      assert.equal("date.parse: input 'text': '2026-13-01': month 13 is out of range",
        fails("date.parse", { "2026-13-01" }))
      assert.equal("date.parse: input 'text': '2026-11-29T06:50:52 UTC': bad time zone ' UTC' (expected Z or an offset like +02:00)",
        fails("date.parse", { "2026-11-29T06:50:52 UTC" }))
      assert.equal("date.parse: input 'text': expected string, got integer", fails("date.parse", { 5 }))
    end)

    it("format uses os.date patterns in UTC", function()
      assert.same({ "2026/11/29 06:50" }, call("date.format", { 1795935052, "%Y/%m/%d %H:%M" }))
      assert.same({ "06:50" }, call("date.format", { "2026-11-29T08:50:52+02:00", "%H:%M" }))
      assert.same({ "2026-11-29T06:50:52Z" }, call("date.format", { 1795935052 }))
      assert.equal("date.format: input 'date': expected ISO 8601 text or Unix seconds, got object",
        fails("date.format", { {} }))
      assert.equal("date.format: input 'pattern': '*t' makes a table, not text", fails("date.format", { 0, "*t" }))
      assert.equal("date.format: input 'pattern': invalid conversion specifier '%Q'",
        fails("date.format", { 0, "%Q" }))
    end)

    it("add moves a date by seconds, minutes, hours or days", function()
      assert.same({ "2026-11-30T06:50:52Z" }, call("date.add", { "2026-11-29T06:50:52Z", 1, "days" }))
      assert.same({ "2026-11-29T05:20:52Z" }, call("date.add", { "2026-11-29T06:50:52Z", -90, "minutes" }))
      assert.same({ "2024-02-29T12:00:00Z" }, call("date.add", { "2024-02-28T12:00:00Z", 24, "hours" }))
      assert.same({ "2027-01-01T00:00:00Z" }, call("date.add", { "2026-12-31T23:59:59Z", 1 }))
      assert.same({ "1970-01-01T00:00:01.500Z" }, call("date.add", { 0, 1.5, "seconds" }))
      assert.same({ "1969-12-31T00:00:00Z" }, call("date.add", { 0, -1, "days" }))
      assert.equal("date.add: input 'unit': expected seconds, minutes, hours or days, got 'weeks'",
        fails("date.add", { 0, 1, "weeks" }))
      assert.equal("date.add: input 'amount': expected number, got string", fails("date.add", { 0, "1" }))
      assert.equal("date.add: input 'date': '2026-11-31': day 31 is out of range for 2026-11",
        fails("date.add", { "2026-11-31", 1 }))
    end)

    it("diff is the second date minus the first, in a unit", function()
      assert.same({ 2.5 }, call("date.diff", { "2026-11-29T00:00:00Z", "2026-12-01T12:00:00Z", "days" }))
      assert.same({ 60 }, call("date.diff", { "2026-11-29T00:00:00Z", "2026-12-01T12:00:00Z", "hours" }))
      assert.same({ -90 }, call("date.diff", { "2026-11-29T01:30:00Z", "2026-11-29T00:00:00Z", "minutes" }))
      assert.same({ 7200 }, call("date.diff", { "2026-11-29T08:00:00+02:00", 1795932000 + 7200 }))
      assert.equal("date.diff: input 'from': 'x': expected a date like 2026-11-29T06:50:52Z",
        fails("date.diff", { "x", 0 }))
      assert.equal("date.diff: input 'to': expected ISO 8601 text or Unix seconds, got boolean",
        fails("date.diff", { 0, true }))
      assert.equal("date.diff: input 'unit': expected seconds, minutes, hours or days, got 'day'",
        fails("date.diff", { 0, 0, "day" }))
    end)
  end)

  describe("crypto", function()
    it("sha256 in hex (default) and base64", function()
      assert.same({ "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        call("crypto.sha256", { "abc" }))
      assert.same({ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        call("crypto.sha256", { "", "hex" }))
      assert.same({ "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" }, call("crypto.sha256", { "abc", "base64" }))
      assert.equal('crypto.sha256: input \'encoding\': expected "hex" or "base64", got "HEX"',
        fails("crypto.sha256", { "abc", "HEX" }))
      assert.equal("crypto.sha256: input 'text': expected string, got nil", fails("crypto.sha256"))
    end)

    it("hmac_sha256 (RFC 4231 test case 2)", function()
      local key, data = "Jefe", "what do ya want for nothing?"
      assert.same({ "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        call("crypto.hmac_sha256", { key, data }))
      assert.same({ "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=" },
        call("crypto.hmac_sha256", { key, data, "base64" }))
      assert.equal("crypto.hmac_sha256: input 'text': expected string, got nil",
        fails("crypto.hmac_sha256", { key }))
      assert.equal('crypto.hmac_sha256: input \'encoding\': expected "hex" or "base64", got "b64"',
        fails("crypto.hmac_sha256", { key, data, "b64" }))
    end)
  end)

  describe("flow.call", function()
    it("runs a helper flow with inputs (defaults applied) and returns its declared outputs", function()
      -- "extra" is not a declared output: dropped
      assert.same({ { sum = 11, label = "call:sum" } }, call("flow.call", { "flows/h_sum.lua", { a = 1 } }))
      assert.same({ { sum = 3, label = "call:sum" } }, call("flow.call", { "flows/h_sum.lua", { a = 1, b = 2 } }))
    end)

    it("gives the helper ctx, with the connection's credentials on its requests", function()
      local id = H.seed_collection("/api/helper", 1)[1]
      local out = call("flow.call", { "flows/h_fetch.lua", { path = "/api/helper/" .. id } })
      assert.equal(200, out[1].status)
      assert.equal(id, out[1].body.id)
      H.script("GET", "/api/helper/x", { { status = 503, body = { message = "down" } } })
      local res = register("call", { card = "flow.call", args = { "flows/h_fetch.lua", { path = "/api/helper/x" } } })
      assert.equal("retry", res.outcome)
      assert.equal("server error", res.message)
    end)

    it("checks inputs and outputs", function()
      assert.equal("flow.call: flows/h_sum.lua: input 'a': expected integer, got string",
        fails("flow.call", { "flows/h_sum.lua", { a = "x" } }))
      assert.equal("flow.call: flows/h_sum.lua: input 'a' is required",
        fails("flow.call", { "flows/h_sum.lua" }))
      assert.equal("flow.call: flows/h_sum.lua has no input 'c'",
        fails("flow.call", { "flows/h_sum.lua", { a = 1, c = 1 } }))
      assert.equal("flow.call: flows/h_missing.lua: output 'id' is required",
        fails("flow.call", { "flows/h_missing.lua" }))
      assert.equal("flow.call: input 'flow': no helper flow 'flows/nope.lua' in " .. HARNESS,
        fails("flow.call", { "flows/nope.lua" }))
      assert.equal("flow.call: input 'flow': expected string, got integer", fails("flow.call", { 1 }))
    end)
  end)

  describe("custom cards", function()
    it("a connector's cards/*.lua card is called like a built-in one", function()
      assert.same({ "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        call("acme.sign", { "Jefe", "what do ya want for nothing?" }))
      assert.equal("acme.sign: input 'payload': expected string, got integer", fails("acme.sign", { "k", 5 }))
    end)

    local MANIFEST = [[return { name = "dup", events = { e = {
      registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/r.lua" } } } }]]
    local FLOW = [[return { run = function(ctx) return { ctx.cards.text.trim(" a ") } end }]]
    local CARD = [[return unhook.card { name = "%s", run = function() return "mine" end }]]

    it("two cards with one name: check fails naming both files", function()
      local dir = H.connector { ["connector.lua"] = MANIFEST, ["flows/r.lua"] = FLOW,
                                ["cards/a.lua"] = CARD:format("acme.x"),
                                ["cards/b.lua"] = CARD:format("acme.x") }
      local ok, err = unhook.check(dir)
      assert.is_nil(ok)
      assert.equal(dir .. "/cards/b.lua:1: card 'acme.x' is also defined in cards/a.lua", err)
    end)

    it("a card may not replace a built-in card", function()
      local dir = H.connector { ["connector.lua"] = MANIFEST, ["flows/r.lua"] = FLOW,
                                ["cards/a.lua"] = CARD:format("text.trim") }
      local res, err = unhook.register { connector = dir, event = "e" }
      assert.is_not.equal("done", res and res.outcome)
      assert.matches("card text.trim is defined twice", res and res.message or err, 1, true)
    end)

    it("a card file must return unhook.card{...}", function()
      local dir = H.connector { ["connector.lua"] = MANIFEST, ["flows/r.lua"] = FLOW,
                                ["cards/a.lua"] = "return { name = 'acme.x' }" }
      local ok, err = unhook.check(dir)
      assert.is_nil(ok)
      assert.equal(dir .. "/cards/a.lua:1: a card file must return unhook.card{ name = ..., inputs = ..., "
        .. "outputs = ..., run = ... }, got table", err)
    end)
  end)

  describe("in a flow", function()
    it("a card's own error points at the flow's line", function()
      local res = register("call", { card = "text.compose", args = { "{{x}}" } })
      assert.matches("^" .. HARNESS:gsub("%p", "%%%0") .. "/flows/call%.lua:%d+: text%.compose: ", res.message)
    end)

    it("ctx.cards and unhook.cards are the same cards in a flow", function()
      assert.same({ true, "a" }, snippet [[
        return { out = { unhook.cards == ctx.cards, unhook.cards.text.trim(" a ") } } ]])
    end)
  end)
end)
