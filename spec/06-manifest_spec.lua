-- unhook.check: manifest and flow validation, reported as
-- "file:line: message".  The table of manifest errors and their messages
-- is tests/manifest-errors.lua, run by tests/unit/test_manifest.c through
-- the same C check; here, what the Lua module adds.
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

describe("unhook module", function()
  it("is the engine's C module under busted", function()
    assert.is_function(unhook.check)
    assert.is_function(unhook.run)
    assert.is_function(unhook.register)
    assert.is_string(unhook.version)
    assert.is_function(unhook.json.decode)
  end)

  insulate("require", function()
    it('require "unhook" with the .busted paths finds the C module', function()
      -- .busted puts scripts/?/init.lua on package.path, which Lua searches
      -- before package.cpath: a spec's require "unhook" must still get the
      -- engine, not the runtime's scripts/unhook/init.lua
      package.loaded.unhook = nil
      local ok, m = pcall(require, "unhook")
      assert.is_true(ok, tostring(m))
      assert.is_function(m.run)
    end)
  end)
end)

describe("unhook.check", function()
  it("accepts the bundled connectors by name and by path", function()
    assert.same({ true }, { unhook.check("github") })
    assert.same({ true }, { unhook.check("generic") })
    assert.same({ true }, { unhook.check("scripts/connectors/github/") })
  end)

  it("accepts a minimal connector", function()
    local dir = H.connector {
      ["connector.lua"] = 'return { name = "m", events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
      ["flows/d.lua"] = "return { run = function() end }",
    }
    assert.same({ true }, { unhook.check(dir) })
  end)

  it("makes run refuse a broken connector with the same message", function()
    local dir = H.connector {
      ["connector.lua"] = 'return {\n  name = "x",\n  evnts = {},\n}',
    }
    local _, cerr = unhook.check(dir)
    local res, err, code = unhook.run { connector = dir, event = "e", connection = H.connection() }
    assert.is_nil(res)
    assert.equal(cerr, err)
    assert.is_number(code)
    assert.matches(dir .. "/connector.lua:3: unknown key 'evnts'", err, 1, true)
  end)
end)

teardown(H.cleanup)
