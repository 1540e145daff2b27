-- What the Lua runtime and C share: the outcome and result code tables
-- (unhook.codes), the auth types (unhook.connection) and the JSON encoder
-- used until C provides core.json_encode (unhook.jsonenc).  Runtime
-- modules are loaded from scripts/ with a core table made here, as the
-- engine calls them: (name, core).
local cjson = require "cjson"

local function runtime(name, core)
  local path = "scripts/" .. name:gsub("%.", "/") .. ".lua"
  return assert(loadfile(path))(name, core)
end

describe("unhook.codes", function()
  it("has the numbers of unhook_outcome and UNHOOK_CODES while C provides none", function()
    local codes = runtime("unhook.codes", {})
    assert.same({ done = 0, gone = 1, retry = 2, failed = 3, setup = 4 }, codes.OUTCOME)
    assert.same({ ok = 0, error = 1, usage = 2, invalid = 3, store = 4, nomem = 5,
                  notfound = 6, io = 7, pending = 75 }, codes.RC)
    assert.same({ max_attempts = 8, base_ms = 1000, max_ms = 3600000 }, codes.RETRY)
  end)

  it("takes C's tables when core provides them", function()
    local core = { OUTCOME = { done = 10, gone = 11, retry = 12, failed = 13, setup = 14 },
                   RC = { ok = 0, usage = 22, invalid = 23, notfound = 26 },
                   RETRY = { max_attempts = 3, base_ms = 5, max_ms = 7 } }
    local codes = runtime("unhook.codes", core)
    assert.equal(core.OUTCOME, codes.OUTCOME)
    assert.equal(core.RC, codes.RC)
    assert.equal(core.RETRY, codes.RETRY)
  end)

  it("hands C that provides the tables the numbers as they are", function()
    local core = { OUTCOME = { done = 0, gone = 1, retry = 2, failed = 3, setup = 4 },
                   RC = { ok = 0, usage = 2, invalid = 3, notfound = 6 } }
    local codes = runtime("unhook.codes", core)
    assert.same({ outcome = 2, code = "http", status = 503 },
      codes.result({ outcome = codes.OUTCOME.retry, code = "http", status = 503 }))
    assert.same({ outcome = 4, rc = 6, message = "no event" },
      codes.result({ outcome = codes.OUTCOME.setup, rc = codes.RC.notfound, message = "no event" }))
  end)

  it("hands C that provides none the names it compares", function()
    local codes = runtime("unhook.codes", {})
    assert.same({ outcome = "gone", code = "http", status = 404 },
      codes.result({ outcome = codes.OUTCOME.gone, code = "http", status = 404 }))
    assert.same({ outcome = "setup", code = "usage", message = "bad option" },
      codes.result({ outcome = codes.OUTCOME.setup, rc = codes.RC.usage, message = "bad option" }))
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
    assert.same({ "basic.password", "bearer.token", "header.value", "query.value" }, secret)
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
    assert.equal("c.json: auth.type must be one of: apikey, basic, bearer, header, none, query (got oauth9)", err)
  end)
end)

describe("unhook.jsonenc (until core.json_encode)", function()
  local array_mt = {}
  local encode = runtime("unhook.jsonenc", {}).new(cjson.null, array_mt)

  it("sorts keys, keeps whole numbers exact and marks empty arrays", function()
    assert.equal('{"a":[1,2],"b":{"c":null},"d":[],"e":{},"f":"x/y","g":0.5,"h":12345678901}',
      encode({ h = 12345678901, g = 0.5, f = "x/y", e = {}, d = setmetatable({}, array_mt),
               b = { c = cjson.null }, a = { 1, 2.0 } }))
  end)

  it("raises the message for what JSON cannot hold", function()
    local ok, err = pcall(encode, { f = print })
    assert.is_false(ok)
    assert.equal("cannot encode a function as JSON", err)
    ok, err = pcall(encode, { [true] = 1 })
    assert.equal("cannot encode JSON: object key of type boolean", err)
    local t = {}
    t.t = t
    ok, err = pcall(encode, t)
    assert.equal("cannot encode JSON: nesting deeper than 100 (a cycle?)", err)
  end)
end)
