-- What the Lua runtime and C share: the outcome and result code tables
-- (unhook.codes) and the auth types (unhook.connection).  Runtime
-- modules are loaded from scripts/ with a core table made here, as the
-- engine calls them: (name, core).
local cjson = require "cjson"

local function runtime(name, core)
  local path = "scripts/" .. name:gsub("%.", "/") .. ".lua"
  return assert(loadfile(path))(name, core)
end

describe("unhook.codes", function()
  it("takes C's tables from core", function()
    local core = { OUTCOME = { done = 10, gone = 11, retry = 12, failed = 13, setup = 14 },
                   RC = { ok = 0, usage = 22, invalid = 23, notfound = 26 },
                   RETRY = { max_attempts = 3, base_ms = 5, max_ms = 7 } }
    local codes = runtime("unhook.codes", core)
    assert.equal(core.OUTCOME, codes.OUTCOME)
    assert.equal(core.RC, codes.RC)
    assert.equal(core.RETRY, codes.RETRY)
  end)

  it("refuses to load without them", function()
    assert.has_error(function() runtime("unhook.codes", {}) end)
  end)
end)

describe("unhook.connection auth types", function()
  local function connection()
    return runtime("unhook.connection", { json = cjson, getenv = os.getenv,
                                          isfile = function() return true end })
  end

  it("lists the types and the secret fields of each", function()
    local types = connection().AUTH_TYPES
    local secret = {}
    for tname, t in pairs(types) do
      for _, f in ipairs(t.fields) do
        if f.secret then secret[#secret + 1] = tname .. "." .. f.name end
      end
    end
    table.sort(secret)
    assert.same({ "basic.password", "bearer.token", "header.value", "oauth2.access_token",
                  "oauth2.client_secret", "oauth2.refresh_token", "query.value" }, secret)
  end)

  it("accepts a type added to the table, and names it among the types", function()
    local conn = connection()
    conn.AUTH_TYPES.apikey = { fields = { { name = "key", required = true, secret = true },
                                          { name = "region" } } }
    local c = assert(conn.parse('{"auth": {"type": "apikey", "key": "k1"}}', "c.json"))
    assert.equal("apikey", c.auth.type)
    assert.same({ "k1" }, c.secrets)
    local _, err = conn.parse('{"auth": {"type": "apikey"}}', "c.json")
    assert.equal("c.json: auth: type apikey needs 'key'", err)
    _, err = conn.parse('{"auth": {"type": "oauth9"}}', "c.json")
    assert.equal("c.json: auth.type must be one of: apikey, basic, bearer, header, none, oauth2, query (got oauth9)", err)
  end)
end)
