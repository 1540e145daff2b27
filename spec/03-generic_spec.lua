-- The bundled generic connector (a REST collection of hooks) against the
-- fixture provider's /api/ collections.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

local COLL = "/api/v1/hooks"

local function register(opts, conn)
  return unhook.register {
    connector = "generic", event = "hook", options = opts, connection = conn or H.connection(),
  }
end

local function deregister(registration, opts, conn)
  return unhook.run {
    connector = "generic", event = "hook", options = opts or { collection = COLL },
    registration = registration, connection = conn or H.connection(),
  }
end

describe("generic connector", function()
  before_each(function() H.reset() end)

  it("passes unhook.check", function()
    assert.same({ true }, { unhook.check("generic") })
  end)

  it("registers in the collection and deregisters with the registration data", function()
    local res, err = register { collection = COLL, url = "https://example.test/g", events = { "a", "b" } }
    assert.is_nil(err)
    assert.equal("done", res.outcome)
    local data = H.decode(res.registration)
    assert.equal("hk_1", data.id)
    assert.equal("https://example.test/g", data.url)
    assert.same({ "a", "b" }, data.events)

    local post = H.last_request()
    assert.equal("POST", post.method)
    assert.equal(COLL, post.path)
    assert.equal("Bearer test-token", H.header(post, "Authorization"))
    assert.same({ url = "https://example.test/g", events = { "a", "b" } }, H.decode(post.body))
    assert.same({ [COLL] = { "hk_1" } }, H.hooks().generic)

    local out = deregister(res.registration)
    assert.equal("done", out.outcome)
    local del = H.last_request()
    assert.equal("DELETE", del.method)
    assert.equal(COLL .. "/hk_1", del.path)
    assert.equal(204, del.status)
    assert.same({ [COLL] = {} }, H.hooks().generic)

    -- a second deregistration finds it gone
    local again = deregister(res.registration)
    assert.equal("gone", again.outcome)
    assert.equal(404, again.status)
  end)

  it("never hands a flow the connection's secrets, even inside other words of a response", function()
    -- basic auth with the provider's password "pass"; the hook's URL the
    -- provider answers with happens to contain "pass": the flow reads it
    -- masked (the price of never seeing an echoed secret), and stores
    -- what it read
    local conn = H.connection { auth = { type = "basic", username = "user", password = "pass" } }
    local res = register({ collection = COLL, url = "https://example.test/passport" }, conn)
    assert.equal("done", res.outcome)
    assert.equal("https://example.test/***port", H.decode(res.registration).url)
  end)

  it("sends events as a JSON array when none are given", function()
    local res = register { collection = COLL, url = "https://example.test/g" }
    assert.equal("done", res.outcome)
    local body = H.last_request().body
    assert.matches('"url":"https://example.test/g"', body, 1, true)
    -- the flow's default is {} (no events): that is an empty list, not an object
    assert.matches('"events":[]', body, 1, true)
  end)

  it("reads the id from the field named by id_field", function()
    local ids = H.seed_collection(COLL, 2)
    assert.same({ "hk_1", "hk_2" }, ids)
    local res = deregister({ id = "hk_1", hook_ref = "hk_2" }, { collection = COLL, id_field = "hook_ref" })
    assert.equal("done", res.outcome)
    assert.equal(COLL .. "/hk_2", H.last_request().path)
    assert.same({ [COLL] = { "hk_1" } }, H.hooks().generic)
  end)

  it("fails naming the id_field when the registration data lacks it", function()
    local res = deregister({ id = "hk_1" }, { collection = COLL, id_field = "uuid" })
    assert.equal("failed", res.outcome)
    assert.equal("fail", res.code)
    assert.matches("registration data has no 'uuid'", res.message, 1, true)
    assert.same({}, H.requests())
  end)

  it("takes a bare string registration as the id", function()
    H.seed_collection(COLL, 1)
    local res = deregister("hk_1")
    assert.equal("done", res.outcome)
    assert.equal(COLL .. "/hk_1", H.last_request().path)
  end)

  it("keeps the path of the connection's base_url as a prefix", function()
    H.seed_collection(COLL, 1)
    local res = deregister({ id = "hk_1" }, { collection = "/v1/hooks" },
      H.connection { base_url = H.url .. "/api/" })
    assert.equal("done", res.outcome)
    assert.equal(COLL .. "/hk_1", H.last_request().path)
  end)

  it("fails with a message about base_url when there is none", function()
    local res = deregister({ id = "hk_1" }, nil, H.connection { base_url = false })
    assert.equal("failed", res.outcome)
    assert.matches("base_url", res.message, 1, true)
    assert.same({}, H.requests())
  end)

  it("requires the collection option", function()
    local res, err = deregister({ id = "hk_1" }, {})
    assert.is_nil(res)
    assert.matches("option 'collection' is required", err, 1, true)
  end)

  it("maps a 401 from the service to failed", function()
    H.seed_collection(COLL, 1)
    local res = deregister({ id = "hk_1" }, nil, H.connection { auth = { type = "bearer", token = "wrong" } })
    assert.equal("failed", res.outcome)
    assert.equal(401, res.status)
    assert.matches("Requires authentication", res.message, 1, true)
  end)
end)

teardown(H.cleanup)
