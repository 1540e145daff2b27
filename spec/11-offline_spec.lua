-- The bundled github connector's flows through the real engine with no
-- server: answers are given inline (http = {...}) or replayed from a
-- cassette file.  The base URL is a host that does not exist, and in
-- replay no request reaches the network anyway: one the spec did not
-- answer fails the flow with replay_miss, which these tests check for.

-- the C module (package.path would find the runtime's scripts/unhook first)
local path = assert(package.searchpath("unhook", package.cpath))
local unhook = package.loaded.unhook
if type(unhook) ~= "table" or not unhook.run then
  unhook = assert(package.loadlib(path, "luaopen_unhook"))("unhook", path)
  package.loaded.unhook = unhook
end

local API = "https://github.offline.invalid"
local CONN = { base_url = API, auth = { type = "bearer", token = "s3cret-t0ken" } }
local HOOK = API .. "/repos/octo/hello/hooks"

local function deregister(http, extra)
  local t = { connector = "github", event = "push", options = { owner = "octo", repo = "hello" },
              registration = { id = 42 }, connection = CONN, http = http }
  for k, v in pairs(extra or {}) do t[k] = v end
  return assert(unhook.run(t))
end

local function no_network(res)
  assert.are_not.equal("replay_miss", res.code, res.message)
  assert.are_not.equal("transport", res.code, res.message)
end

describe("github connector offline", function()
  it("registers: the POST answered inline", function()
    local res = assert(unhook.register {
      connector = "github", event = "push",
      options = { owner = "octo", repo = "hello", url = "https://example.test/in" },
      connection = CONN,
      http = { { method = "POST", url = HOOK, status = 201, json = { id = 7, events = { "push" } } } },
    })
    no_network(res)
    assert.equal("done", res.outcome)
    assert.equal(7, math.tointeger(unhook.json.decode(res.registration).id))
    assert.equal(1, #res.requests)
    local sent = unhook.json.decode(res.requests[1].request_body)
    assert.same({ "push" }, sent.events)
    assert.equal("https://example.test/in", sent.config.url)
  end)

  it("deregisters: DELETE answered 204 is done, the token never shown", function()
    local res = deregister { { method = "DELETE", url = HOOK .. "/42", status = 204 } }
    no_network(res)
    assert.equal("done", res.outcome)
    assert.equal("DELETE", res.requests[1].method)
    assert.equal("***", res.requests[1].request_headers.Authorization)
    assert.is_nil(unhook.json.encode(res.requests):find("s3cret-t0ken", 1, true))
  end)

  it("is already gone on a 404 or 410, retries on 503 with Retry-After, fails on 422", function()
    assert.equal("gone", deregister { { method = "DELETE", url = HOOK .. "/42", status = 404 } }.outcome)
    assert.equal("gone", deregister { { method = "DELETE", url = HOOK .. "/42", status = 410 } }.outcome)
    local res = deregister { { method = "DELETE", url = HOOK .. "/42", status = 503,
                               headers = { ["Retry-After"] = "30" }, body = "maintenance" } }
    assert.equal("retry", res.outcome)
    assert.equal(30, res.retry_after)
    res = deregister { { method = "DELETE", url = HOOK .. "/42", status = 422, json = { message = "locked" } } }
    assert.equal("failed", res.outcome)
    assert.matches("HTTP 422", res.message, 1, true)
  end)

  it("matches an answer written with the secret as it is (query credentials)", function()
    local res = deregister({ { method = "DELETE", url = HOOK .. "/42?api_key=k3y-value", status = 204 } },
      { connection = { base_url = API, auth = { type = "query", name = "api_key", value = "k3y-value" } } })
    assert.equal("done", res.outcome, res.message)
    assert.equal(HOOK .. "/42?api_key=***", res.requests[1].url)
  end)

  it("shows an API key in a connection's headers as ***, and keeps a response's page token", function()
    local res = deregister({ { method = "DELETE", url = HOOK .. "/42", status = 204,
                               headers = { ["X-Next-Token"] = "pg2" } } },
      { connection = { base_url = API, auth = { type = "none" },
                       headers = { ["X-Api-Key"] = "plain-k3y", ["Private-Token"] = "p2", ["X-Tenant"] = "acme" } } })
    assert.equal("done", res.outcome, res.message)
    local h = res.requests[1].request_headers
    assert.equal("***", h["X-Api-Key"])
    assert.equal("***", h["Private-Token"])
    assert.equal("acme", h["X-Tenant"])
    assert.equal("pg2", res.requests[1].headers["x-next-token"] or res.requests[1].headers["X-Next-Token"])
  end)

  it("masks a Basic user that is the key (empty password), as Stripe's sk_... is", function()
    local res = deregister({ { method = "DELETE", url = HOOK .. "/42", status = 401,
                               body = "Invalid API Key provided: sk_test_4eC39" } },
      { connection = { base_url = API, auth = { type = "basic", username = "sk_test_4eC39", password = "" } } })
    assert.equal("failed", res.outcome)
    assert.matches("provided: ***", res.message, 1, true)
    assert.is_nil(unhook.json.encode(res.requests):find("sk_test_4eC39", 1, true))
  end)

  it("fails with replay_miss, naming the request, instead of going to the network", function()
    local res = deregister {}
    assert.equal("failed", res.outcome)
    assert.equal("replay_miss", res.code)
    assert.matches("DELETE " .. HOOK .. "/42", res.message, 1, true)
  end)

  it("replays a cassette file as unhook run --record writes it", function()
    local file = os.tmpname()
    local f = assert(io.open(file, "w"))
    f:write(unhook.json.encode { method = "DELETE", url = HOOK .. "/42", status = 204, body = "",
                                  headers = { Server = "recorded" } }, "\n")
    f:close()
    local res = deregister(nil, { replay = file })
    os.remove(file)
    no_network(res)
    assert.equal("done", res.outcome)
    assert.equal("recorded", res.requests[1].headers.server or res.requests[1].headers.Server)
  end)

  it("reports a bad cassette, and the next run is not left replaying", function()
    local res, err = unhook.run { connector = "github", event = "push",
      options = { owner = "octo", repo = "hello" }, registration = { id = 42 },
      connection = CONN, http = { { method = "DELETE" } } }
    assert.is_nil(res)
    assert.matches("'url' is required", err, 1, true)
    -- the next run goes to the network: a closed port on loopback
    res = deregister(nil, { connection = { base_url = "http://127.0.0.1:1" } })
    assert.equal("transport", res.code)
  end)

  it("reports a status that is no integer (1e999) or a line that is a list, without a traceback", function()
    local file = os.tmpname()
    for _, status in ipairs { "1e999", "-1e999", "204.5" } do
      local f = assert(io.open(file, "w"))
      f:write('{"method": "DELETE", "url": "', HOOK, '/42", "status": ', status, '}\n')
      f:close()
      local res, err = unhook.run { connector = "github", event = "push",
        options = { owner = "octo", repo = "hello" }, registration = { id = 42 },
        connection = CONN, replay = file }
      assert.is_nil(res)
      assert.matches("status: expected an integer", err, 1, true)
    end
    os.remove(file)
    local res, err = unhook.run { connector = "github", event = "push",
      options = { owner = "octo", repo = "hello" }, registration = { id = 42 },
      connection = CONN, http = { { HOOK } } }
    assert.is_nil(res)
    assert.matches("expected an object", err, 1, true)
  end)

  it("fails an answer over the 8 MiB body limit as a live one would", function()
    local res = deregister { { method = "DELETE", url = HOOK .. "/42", status = 500,
                               body = string.rep("x", (8 << 20) + 1) } }
    assert.equal("response_too_large", res.code, res.message)
  end)

  it("asks no OAuth2 token endpoint for a replayed request", function()
    local res = deregister({ { method = "DELETE", url = HOOK .. "/42", status = 204 } },
      { connection = { base_url = API, auth = { type = "oauth2", grant = "client_credentials",
        token_url = "https://token.offline.invalid/oauth/token", client_id = "cid", client_secret = "cs3cret" } } })
    no_network(res)
    assert.equal("done", res.outcome, res.message)
  end)

  it("refuses a cassette that is a folder or endless (/dev/zero)", function()
    local res, err = unhook.run { connector = "github", event = "push", registration = { id = 42 },
      options = { owner = "octo", repo = "hello" }, connection = CONN, replay = "spec" }
    assert.is_nil(res)
    assert.matches("spec: cannot read the cassette", err, 1, true)
    res, err = unhook.run { connector = "github", event = "push", registration = { id = 42 },
      options = { owner = "octo", repo = "hello" }, connection = CONN, replay = "/dev/zero" }
    assert.is_nil(res)
    assert.matches("over 256 MiB", err, 1, true)
  end)

  it("refuses keys it does not know, and a connection of the wrong type", function()
    assert.has_error(function() deregister({}, { mock = 1 }) end,
      "unhook.run: unknown key 'mock' (keys: connection, connector, event, http, inputs, "
      .. "instance, options, reason, registration, replay)")
    assert.has_error(function() deregister({}, { connection = 5 }) end)
  end)

  it("names a connection table, not a temporary file, in its errors; leaks no secret of it", function()
    local res, err = unhook.run { connector = "github", event = "push", registration = { id = 42 },
      options = { owner = "octo", repo = "hello" }, http = {},
      connection = { base_url = API, auth = { type = "bearer", token = "t" }, extra = 1 } }
    assert.is_nil(res)
    assert.matches("^connection: unknown key 'extra'", err)
    res = deregister { { method = "DELETE", url = HOOK .. "/42", status = 500,
                         body = "bad token s3cret-t0ken", headers = { ["X-Echo"] = "s3cret-t0ken" } } }
    local all = unhook.json.encode(res.requests) .. table.concat(res.log, "\n") .. res.message
    assert.is_nil(all:find("s3cret-t0ken", 1, true))
  end)

  it("offers the built-in cards to specs as unhook.cards", function()
    assert.equal("a-b", unhook.cards.text.concatenate("a", "-", "b"))
    local hook = unhook.cards.list.find({ { id = 1, url = "x" }, { id = 2, url = "y" } }, { url = "y" })
    assert.equal(2, math.tointeger(hook.id))
    assert.has_error(function() unhook.cards.no.such() end, "no card no.such")
    assert.has_error(function() unhook.cards.http.get("/x") end)
  end)

  it("offers unhook.fail and unhook.retry to specs", function()
    local ok, e = pcall(unhook.fail, "no hook id")
    assert.is_false(ok)
    assert.is_true(unhook.is_error(e))
    assert.equal("fail", e.code)
    ok, e = pcall(unhook.retry, "later", 5)
    assert.equal("retry", e.code)
    assert.equal(5, e.retry_after)
  end)
end)
