-- The bundled github connector, end to end against the fixture provider.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

local OPTIONS = { owner = "octo", repo = "hello" }

local function options(extra)
  local o = { owner = "octo", repo = "hello" }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function register(event, extra)
  return unhook.register {
    connector = "github", event = event or "push",
    options = options(extra or { url = "https://example.test/hook" }),
    connection = H.connection(),
  }
end

local function deregister(registration, event, opts)
  return unhook.run {
    connector = "github", event = event or "push", options = opts or OPTIONS,
    registration = registration, connection = H.connection(),
  }
end

describe("github connector", function()
  before_each(function() H.reset() end)

  it("passes unhook.check", function()
    assert.same({ true }, { unhook.check("github") })
    assert.same({ true }, { unhook.check("scripts/connectors/github") })
  end)

  describe("registration", function()
    it("creates the hook and returns its JSON as registration data", function()
      local res, err = register("push", { url = "https://example.test/hook" })
      assert.is_nil(err)
      assert.equal("done", res.outcome)
      assert.is_string(res.registration)
      local data = H.decode(res.registration)
      assert.equal(12345678, data.id)
      assert.same({ "push" }, data.events)

      local log = H.requests()
      assert.equal(1, #log)
      assert.equal("POST", log[1].method)
      assert.equal("/repos/octo/hello/hooks", log[1].path)
      assert.equal(201, log[1].status)
      assert.equal("application/json", H.header(log[1], "Content-Type"))
      assert.same({
        name = "web", active = true, events = { "push" },
        config = { url = "https://example.test/hook", content_type = "json" },
      }, H.decode(log[1].body))
      assert.same({ ["octo/hello"] = { 12345678 } }, H.hooks().github)
    end)

    it("subscribes to the card's event and takes no signing secret as an option", function()
      -- option values are stored and shown: a secret has no place there
      local res = register("issues", { url = "https://example.test/i" })
      assert.equal("done", res.outcome)
      local body = H.decode(H.last_request().body)
      assert.same({ "issues" }, body.events)
      assert.is_nil(body.config.secret)
      local _, err = register("issues", { url = "https://example.test/i", secret = "s3" })
      assert.matches("has no option 'secret'", err, 1, true)
    end)

    it("fails before any request when the url option is missing", function()
      local res, err = unhook.register {
        connector = "github", event = "push", options = OPTIONS, connection = H.connection(),
      }
      assert.is_nil(res)
      assert.matches("'url'", err, 1, true)
      assert.matches("required", err, 1, true)
      assert.same({}, H.requests())
    end)
  end)

  describe("deregistration", function()
    it("deletes the hook named by the registration data", function()
      local reg = assert(register())
      local id = H.decode(reg.registration).id
      H.control("DELETE", "/_control/requests")

      local res, err = deregister(reg.registration)
      assert.is_nil(err)
      assert.equal("done", res.outcome)
      assert.equal(204, res.status)   -- the last response the flow got
      assert.is_nil(res.message)

      local log = H.requests()
      assert.equal(1, #log)
      local r = log[1]
      assert.equal("DELETE", r.method)
      assert.equal("/repos/octo/hello/hooks/" .. id, r.path)
      assert.same({}, r.query)
      assert.equal("", r.body)
      assert.equal(204, r.status)
      assert.equal("Bearer test-token", H.header(r, "Authorization"))
      assert.equal("application/vnd.github+json", H.header(r, "Accept"))
      assert.equal("2022-11-28", H.header(r, "X-GitHub-Api-Version"))
      assert.same({ ["octo/hello"] = {} }, H.hooks().github)
    end)

    it("takes the registration data as a Lua table too", function()
      local id = H.seed("octo", "hello", 1)[1]
      local res = deregister({ id = id })
      assert.equal("done", res.outcome)
      assert.equal("/repos/octo/hello/hooks/" .. id, H.last_request().path)
    end)

    it("reports gone with status 404 when the hook is already deleted", function()
      local reg = assert(register())
      assert.equal("done", deregister(reg.registration).outcome)
      local res = deregister(reg.registration)
      assert.equal("gone", res.outcome)
      assert.equal(404, res.status)
      assert.equal("http", res.code)
      assert.matches("HTTP 404 from DELETE", res.message, 1, true)
      local log = H.requests()
      assert.equal(3, #log)
      assert.equal(404, log[3].status)
    end)

    it("reports gone on 410", function()
      local id = H.seed("octo", "hello", 1)[1]
      H.script("DELETE", "/repos/octo/hello/hooks/" .. id, { { status = 410, body = { message = "Gone" } } })
      local res = deregister({ id = id })
      assert.equal("gone", res.outcome)
      assert.equal(410, res.status)
    end)

    it("fails on 422 with the status and the body in the message", function()
      local id = H.seed("octo", "hello", 1)[1]
      H.script("DELETE", "/repos/octo/hello/hooks/" .. id,
        { { status = 422, body = { message = "Validation Failed: hook is locked" } } })
      local res = deregister({ id = id })
      assert.equal("failed", res.outcome)
      assert.equal(422, res.status)
      assert.equal("http", res.code)
      assert.matches("HTTP 422", res.message, 1, true)
      assert.matches("Validation Failed: hook is locked", res.message, 1, true)
      -- the hook is still there
      assert.same({ id }, H.hooks().github["octo/hello"])
    end)

    it("retries on 500", function()
      local id = H.seed("octo", "hello", 1)[1]
      H.script("DELETE", "/repos/octo/hello/hooks/" .. id, { { status = 500, body = "boom" } })
      local res = deregister({ id = id })
      assert.equal("retry", res.outcome)
      assert.equal(500, res.status)
      assert.is_nil(res.retry_after)
    end)

    it("retries on 429 honouring Retry-After", function()
      local id = H.seed("octo", "hello", 1)[1]
      H.script("DELETE", "/repos/octo/hello/hooks/" .. id,
        { { status = 429, headers = { ["Retry-After"] = "30" }, body = { message = "slow down" } } })
      local res = deregister({ id = id })
      assert.equal("retry", res.outcome)
      assert.equal(429, res.status)
      assert.equal(30, res.retry_after)
    end)

    it("retries with code transport when the connection is dropped", function()
      local id = H.seed("octo", "hello", 1)[1]
      H.script("DELETE", "/repos/octo/hello/hooks/" .. id, { { drop = true } })
      -- a new engine, so that the request goes out on a fresh connection
      -- (see the next test for a reused one)
      local res = H.new_engine().run {
        connector = "github", event = "push", options = OPTIONS, registration = { id = id },
        connection = H.connection(),
      }
      assert.equal("retry", res.outcome)
      assert.equal("transport", res.code)
      assert.is_nil(res.status)
      assert.matches("DELETE " .. H.url .. "/repos/octo/hello/hooks/" .. id, res.message, 1, true)
      assert.same({ id }, H.hooks().github["octo/hello"])
      assert.equal(1, #H.requests())
    end)

    it("does not silently resend a request dropped on a reused keep-alive connection", function()
      -- warm up a keep-alive connection to the provider
      assert.equal("done", deregister({ id = H.seed("octo", "hello", 1)[1] }).outcome)
      H.control("DELETE", "/_control/requests")
      H.script("POST", "/repos/octo/hello/hooks", { { drop = true } })
      local res = register()
      local posts = 0
      for _, r in ipairs(H.requests()) do
        if r.method == "POST" then posts = posts + 1 end
      end
      -- one attempt of a registration flow must not POST twice: a server
      -- may have created the hook before the connection died
      assert.equal(1, posts)
      assert.equal("retry", res.outcome)
      assert.equal("transport", res.code)
    end)

    for _, event in ipairs { "issues", "pull_request" } do
      it("uses the same deregistration flow for " .. event, function()
        local reg = assert(register(event))
        local id = H.decode(reg.registration).id
        assert.same({ event }, H.decode(reg.registration).events)
        local res = deregister(reg.registration, event)
        assert.equal("done", res.outcome)
        local r = H.last_request()
        assert.equal("DELETE", r.method)
        assert.equal("/repos/octo/hello/hooks/" .. id, r.path)
        assert.same({ ["octo/hello"] = {} }, H.hooks().github)
      end)
    end

    it("does not start without the required option owner", function()
      local res, err, code = deregister({ id = 1 }, "push", { repo = "hello" })
      assert.is_nil(res)
      assert.matches("option 'owner' is required", err, 1, true)
      assert.is_number(code)
      assert.same({}, H.requests())
    end)

    it("rejects an unknown option", function()
      local res, err = deregister({ id = 1 }, "push", { owner = "o", repo = "r", colour = "red" })
      assert.is_nil(res)
      assert.equal("event 'push' has no option 'colour' (options: owner, repo, url, url_prefix)", err)
    end)

    it("does not start for an unknown event and lists the events", function()
      local res, err = deregister({ id = 1 }, "release")
      assert.is_nil(res)
      assert.equal("connector 'github' has no event 'release' (events: issues, pull_request, push)", err)
      assert.same({}, H.requests())
    end)

    it("passes string registration data to the flow as is", function()
      local res = deregister("12345678")
      assert.equal("failed", res.outcome)
      assert.equal("fail", res.code)
      assert.matches("flows/deregister.lua:%d+: +registration data has no hook id$", res.message)
      assert.same({}, H.requests())
    end)
  end)
end)

teardown(H.cleanup)
