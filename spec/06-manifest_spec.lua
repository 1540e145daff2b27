-- unhook.check: manifest and flow validation, reported as
-- "file:line: message".
local H = require "helpers"
local unhook = require "unhook"   -- the C module helpers registered

-- A flow with one required input, id.
local FLOW = table.concat({
  "return {",                                                   -- 1
  '  inputs = { id = { type = "string", required = true } },',  -- 2
  "  run = function(ctx, input) end,",                          -- 3
  "}",                                                          -- 4
}, "\n")

local function lines(t) return table.concat(t, "\n") .. "\n" end

-- check dir; returns its error with the folder written as DIR.
local function check_error(files)
  local dir = H.connector(files)
  local ok, err = unhook.check(dir)
  assert.is_nil(ok)
  assert.is_string(err)
  return (err:gsub(dir:gsub("%p", "%%%0"), "DIR")), dir
end

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

  it("reports an unknown connector", function()
    local ok, err = unhook.check("no-such-connector-here")
    assert.is_nil(ok)
    assert.matches("connector 'no-such-connector-here' not found", err, 1, true)
    ok, err = unhook.check("/no/such/folder")
    assert.is_nil(ok)
    assert.equal("/no/such/folder: no such connector folder", err)
  end)

  it("reports a folder without connector.lua", function()
    local err = check_error { ["flows/d.lua"] = FLOW }
    assert.equal("DIR: no connector.lua in this folder", err)
  end)

  it("reports a syntax error in the manifest", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                                                   -- 1
        '  name = "x",',                                              -- 2
        "  events = {",                                               -- 3
        '    e = { deregistration = { flow = "flows/d.lua" } ',       -- 4
        "  },",                                                       -- 5
        "}",                                                          -- 6
      },
      ["flows/d.lua"] = FLOW,
    }
    assert.equal("DIR/connector.lua:7: '}' expected (to close '{' at line 1) near <eof>", err)
  end)

  it("reports a syntax error in a flow", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",
        '  name = "x",',
        '  events = { e = { deregistration = { flow = "flows/d.lua", inputs = { id = "1" } } } },',
        "}",
      },
      ["flows/d.lua"] = lines {
        "return {",                      -- 1
        "  run = function(ctx)",         -- 2
        "    if then",                   -- 3
        "  end,",                        -- 4
        "}",                             -- 5
      },
    }
    assert.equal("DIR/flows/d.lua:3: unexpected symbol near 'then'", err)
  end)

  it("reports an error raised while loading a flow", function()
    local err = check_error {
      ["connector.lua"] = 'return { name = "x", events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
      ["flows/d.lua"] = lines { "local t = {}", "", 'error("flow cannot load")', "return t" },
    }
    assert.equal("DIR/flows/d.lua:3: flow cannot load", err)
  end)

  it("reports an unknown top-level key with a suggestion", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                                                                            -- 1
        '  name = "x",',                                                                       -- 2
        "  evnts = {},",                                                                       -- 3
        '  events = { e = { deregistration = { flow = "flows/d.lua", inputs = { id = "1" } } } },', -- 4
        "}",
      },
      ["flows/d.lua"] = FLOW,
    }
    assert.equal("DIR/connector.lua:3: unknown key 'evnts' (did you mean 'events'?); expected one of: "
      .. "auth, base_url, description, events, headers, hosts, limits, name, version", err)
  end)

  it("reports an unknown nested key with a suggestion", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                                                                  -- 1
        '  name = "x",',                                                             -- 2
        "  events = {",                                                              -- 3
        "    e = {",                                                                 -- 4
        '      deregistraton = { flow = "flows/d.lua" },',                           -- 5
        '      deregistration = { flow = "flows/d.lua", inputs = { id = "1" } },',   -- 6
        "    },",
        "  },",
        "}",
      },
      ["flows/d.lua"] = FLOW,
    }
    assert.equal("DIR/connector.lua:5: unknown key 'deregistraton' in events.e (did you mean "
      .. "'deregistration'?); expected one of: deregistration, description, gone, options, "
      .. "registration, retry", err)
  end)

  it("reports a missing flow file", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                              -- 1
        '  name = "x",',                         -- 2
        "  events = {",                          -- 3
        "    e = {",                             -- 4
        "      deregistration = {",              -- 5
        '        flow = "flows/nope.lua",',      -- 6
        "      },",
        "    },",
        "  },",
        "}",
      },
    }
    assert.equal("DIR/connector.lua:6: events.e.deregistration.flow: file 'flows/nope.lua' not found in DIR", err)
  end)

  it("reports an input mapped from an undeclared option", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                                          -- 1
        '  name = "x",',                                     -- 2
        "  events = {",                                      -- 3
        "    e = {",                                         -- 4
        '      options = { owner = { type = "string" } },',  -- 5
        "      deregistration = {",                          -- 6
        '        flow = "flows/d.lua",',                     -- 7
        "        inputs = {",                                -- 8
        '          id = option "hook",',                     -- 9
        "        },",
        "      },",
        "    },",
        "  },",
        "}",
      },
      ["flows/d.lua"] = FLOW,
    }
    assert.equal("DIR/connector.lua:9: events.e.deregistration.inputs.id: option 'hook' is not "
      .. "declared in events.e.options", err)
  end)

  it("reports a required flow input that is not mapped", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                        -- 1
        '  name = "x",',                   -- 2
        "  events = {",                    -- 3
        "    e = {",                       -- 4
        "      deregistration = {",        -- 5
        '        flow = "flows/d.lua",',   -- 6
        "        inputs = {},",            -- 7
        "      },",
        "    },",
        "  },",
        "}",
      },
      ["flows/d.lua"] = FLOW,
    }
    assert.equal("DIR/connector.lua:7: events.e.deregistration.inputs: required input 'id' of "
      .. "flows/d.lua is not mapped", err)
  end)

  it("reports an input the flow does not declare, with a suggestion", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                                                                    -- 1
        '  name = "x",',                                                               -- 2
        "  events = {",                                                                -- 3
        "    e = {",                                                                   -- 4
        "      deregistration = {",                                                    -- 5
        '        flow = "flows/d.lua",',                                               -- 6
        '        inputs = { id = "1",',                                                -- 7
        '          idd = "2" },',                                                      -- 8
        "      },",
        "    },",
        "  },",
        "}",
      },
      ["flows/d.lua"] = FLOW,
    }
    assert.equal("DIR/connector.lua:8: events.e.deregistration.inputs.idd: the flow flows/d.lua "
      .. "declares no input 'idd' (did you mean 'id'?)", err)
  end)

  it("reports wrong types and a missing deregistration, one line each", function()
    local err = check_error {
      ["connector.lua"] = lines {
        "return {",                         -- 1
        "  name = 7,",                      -- 2
        '  auth = "oauth9",',               -- 3
        "  events = {",                     -- 4
        "    e = {",                        -- 5
        '      description = "no flows",',  -- 6
        "    },",
        "  },",
        "}",
      },
    }
    local got = {}
    for line in err:gmatch("[^\n]+") do got[#got + 1] = line end
    table.sort(got)
    assert.same({
      "DIR/connector.lua:2: name: expected string, got number",
      "DIR/connector.lua:3: auth: 'oauth9' is not one of: basic, bearer, header, none, query",
      "DIR/connector.lua:5: missing required key 'deregistration' in events.e",
    }, got)
  end)

  it("reports a flow that does not return a table", function()
    local err = check_error {
      ["connector.lua"] = 'return { name = "x", events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
      ["flows/d.lua"] = "return 42",
    }
    assert.matches("^DIR/flows/d.lua:1: a flow must return a table", err)
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
