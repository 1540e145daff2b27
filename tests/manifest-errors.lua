-- The manifest-error cases: what `check` reports for a broken connector,
-- as "file:line: message".  One table, run by one harness:
-- tests/unit/test_manifest.c (test_manifest_error_table), through the
-- public C API (unhook_connector_check + unhook_errmsg), which the CLI's
-- `check` and the Lua module's unhook.check share.  What the CLI adds
-- (stderr, exit 3, the folder as typed, "unhook: " before a not-found
-- message) is tests/e2e's check_error_framing and check_unknown_connector;
-- a new message case goes here, not there.
--
-- Each case: name; files = { [relative path] = text } written to a fresh
-- connector folder DIR; want = the exact message, with the folder written
-- as DIR; rc = "INVALID" (default) or "NOTFOUND".  Optional:
--   connector = what to check instead of DIR ("DIR" in it is replaced);
--   sort_lines = true: compare the message's lines as a set (sorted);
--   prefix = true: the message starts with want.

-- A flow with one required input, id.
local FLOW = table.concat({
  "return {",                                                   -- 1
  '  inputs = { id = { type = "string", required = true } },',  -- 2
  "  run = function(ctx, input) end,",                          -- 3
  "}",                                                          -- 4
}, "\n")

local function lines(t) return table.concat(t, "\n") .. "\n" end

-- An event with a list flow and one reconcile rule, on line 7.
local function reconcile_event(rule)
  return {
    ["connector.lua"] = lines {
      "return {",                                                   -- 1
      '  name = "x",',                                              -- 2
      "  events = {",                                               -- 3
      "    e = {",                                                  -- 4
      '      deregistration = { flow = "flows/d.lua", inputs = { id = "1" } },', -- 5
      '      list = { flow = "flows/l.lua" },',                     -- 6
      rule,                                                         -- 7
      "    },",                                                     -- 8
      "  },",                                                       -- 9
      "}",                                                          -- 10
    },
    ["flows/d.lua"] = FLOW,
    ["flows/l.lua"] = "return { run = function(ctx) return {} end }\n",
  }
end

-- An event that renews its subscriptions: registration on line 6, the
-- renewal (or what replaces it) on line 7, a further key on line 8.
local function renewal_event(renewal, extra, registration)
  return {
    ["connector.lua"] = lines {
      "return {",                                                   -- 1
      '  name = "x",',                                              -- 2
      "  events = {",                                               -- 3
      "    e = {",                                                  -- 4
      '      deregistration = { flow = "flows/d.lua", inputs = { id = "1" } },', -- 5
      registration or '      registration = { flow = "flows/r.lua" },', -- 6
      renewal,                                                      -- 7
      extra or "",                                                  -- 8
      "    },",                                                     -- 9
      "  },",                                                       -- 10
      "}",                                                          -- 11
    },
    ["flows/d.lua"] = FLOW,
    ["flows/r.lua"] = "return { run = function(ctx) return { id = 1 } end }\n",
    ["flows/renew.lua"] = "return { run = function(ctx) return ctx.registration end }\n",
  }
end

return {
  {
    name = "an unknown connector name",
    connector = "no-such-connector-here",
    rc = "NOTFOUND",
    prefix = true,
    want = "connector 'no-such-connector-here' not found",
  },
  {
    name = "an unknown connector name: the search path in the message",
    connector = "no-such-connector",
    rc = "NOTFOUND",
    want = "connector 'no-such-connector' not found (searched "
      .. "--connectors, UNHOOK_CONNECTORS and the bundled connectors)",
  },
  {
    name = "a connector folder that does not exist, under an existing one",
    connector = "DIR/nowhere",
    rc = "NOTFOUND",
    want = "DIR/nowhere: no such connector folder",
  },
  {
    name = "a connector folder that does not exist",
    connector = "/no/such/folder",
    rc = "NOTFOUND",
    want = "/no/such/folder: no such connector folder",
  },
  {
    name = "an empty folder",
    files = {},
    want = "DIR: no connector.lua in this folder",
  },
  {
    name = "a folder without connector.lua",
    files = { ["flows/d.lua"] = FLOW },
    want = "DIR: no connector.lua in this folder",
  },
  {
    name = "a syntax error in the manifest at end of file",
    files = {
      ["connector.lua"] = lines {
        "return {",                                                   -- 1
        '  name = "x",',                                              -- 2
        "  events = {",                                               -- 3
        '    e = { deregistration = { flow = "flows/d.lua" } ',       -- 4
        "  },",                                                       -- 5
        "}",                                                          -- 6
      },
      ["flows/d.lua"] = FLOW,
    },
    want = "DIR/connector.lua:7: '}' expected (to close '{' at line 1) near <eof>",
  },
  {
    -- (was the e2e case check_manifest_syntax_error)
    name = "a missing comma between two fields of the manifest",
    files = {
      ["connector.lua"] = lines {
        "return {",                                                 -- 1
        '  name = "x",',                                            -- 2
        "  events = {",                                             -- 3
        "    e = {",                                                -- 4
        '      deregistration = { flow = "flows/d.lua" }',          -- 5
        "      gone = { 404 },",                                    -- 6
        "    },",                                                   -- 7
        "  },",                                                     -- 8
        "}",                                                        -- 9
      },
      ["flows/d.lua"] = FLOW,
    },
    want = "DIR/connector.lua:6: '}' expected (to close '{' at line 4) near 'gone'",
  },
  {
    name = "a syntax error in a flow",
    files = {
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
    },
    want = "DIR/flows/d.lua:3: unexpected symbol near 'then'",
  },
  {
    -- (was the e2e case check_flow_syntax_error)
    name = "a missing 'then' in a flow, reported at the line Lua stops on",
    files = {
      ["connector.lua"] = 'return { name = "x", events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
      ["flows/d.lua"] = lines {
        "return {",                                   -- 1
        "  inputs = {},",                             -- 2
        "  run = function(ctx, input)",               -- 3
        "    if ctx.registration == nil",             -- 4
        '      unhook.fail("no registration data")',  -- 5
        "    end",                                    -- 6
        "  end,",                                     -- 7
        "}",                                          -- 8
      },
    },
    want = "DIR/flows/d.lua:5: 'then' expected near 'unhook'",
  },
  {
    name = "an error raised while loading a flow",
    files = {
      ["connector.lua"] = 'return { name = "x", events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
      ["flows/d.lua"] = lines { "local t = {}", "", 'error("flow cannot load")', "return t" },
    },
    want = "DIR/flows/d.lua:3: flow cannot load",
  },
  {
    name = "an unknown top-level key, with a suggestion",
    files = {
      ["connector.lua"] = lines {
        "return {",                                                                            -- 1
        '  name = "x",',                                                                       -- 2
        "  evnts = {},",                                                                       -- 3
        '  events = { e = { deregistration = { flow = "flows/d.lua", inputs = { id = "1" } } } },', -- 4
        "}",
      },
      ["flows/d.lua"] = FLOW,
    },
    want = "DIR/connector.lua:3: unknown key 'evnts' (did you mean 'events'?); expected one of: "
      .. "auth, base_url, description, events, headers, hosts, limits, name, oauth2, version",
  },
  {
    name = "an unknown nested key, with a suggestion",
    files = {
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
    },
    want = "DIR/connector.lua:5: unknown key 'deregistraton' in events.e (did you mean "
      .. "'deregistration'?); expected one of: deregistration, description, expired, gone, list, "
      .. "match, options, owned, registration, renewal, retry",
  },
  {
    name = "a missing flow file",
    files = {
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
    },
    want = "DIR/connector.lua:6: events.e.deregistration.flow: file 'flows/nope.lua' not found in DIR",
  },
  {
    name = "an input mapped from an undeclared option",
    files = {
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
    },
    want = "DIR/connector.lua:9: events.e.deregistration.inputs.id: option 'hook' is not "
      .. "declared in events.e.options",
  },
  {
    name = "a required flow input that is not mapped",
    files = {
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
    },
    want = "DIR/connector.lua:7: events.e.deregistration.inputs: required input 'id' of "
      .. "flows/d.lua is not mapped",
  },
  {
    name = "an input the flow does not declare, with a suggestion",
    files = {
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
    },
    want = "DIR/connector.lua:8: events.e.deregistration.inputs.idd: the flow flows/d.lua "
      .. "declares no input 'idd' (did you mean 'id'?)",
  },
  {
    name = "wrong types and a missing deregistration, one line each",
    files = {
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
    },
    sort_lines = true,
    want = "DIR/connector.lua:2: name: expected string, got number\n"
      .. "DIR/connector.lua:3: auth: 'oauth9' is not one of: basic, bearer, header, none, oauth2, query\n"
      .. "DIR/connector.lua:5: missing required key 'deregistration' in events.e",
  },
  {
    name = "a flow that does not return a table",
    files = {
      ["connector.lua"] = 'return { name = "x", events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
      ["flows/d.lua"] = "return 42",
    },
    prefix = true,
    want = "DIR/flows/d.lua:1: a flow must return a table",
  },
  {
    name = "an owned rule that is not a function",
    files = reconcile_event('      owned = "yes",'),
    want = "DIR/connector.lua:7: events.e.owned: expected function, got string",
  },
  {
    name = "reconcile rules without a list flow",
    files = {
      ["connector.lua"] = lines {
        "return {",                                                   -- 1
        '  name = "x",',                                              -- 2
        "  events = {",                                               -- 3
        "    f = {",                                                  -- 4
        '      deregistration = { flow = "flows/d.lua", inputs = { id = "1" } },', -- 5
        '      match = "config..url",',                               -- 6
        "      owned = function() return true end,",                  -- 7
        "    },",                                                     -- 8
        "  },",                                                       -- 9
        "}",                                                          -- 10
      },
      ["flows/d.lua"] = FLOW,
    },
    sort_lines = true,
    want = table.concat({
      "DIR/connector.lua:6: events.f.match: 'config..url' is not a path like \"id\" or \"config.url\"",
      "DIR/connector.lua:6: events.f.match: needs a list flow (events.f.list)",
      "DIR/connector.lua:7: events.f.owned: needs a list flow (events.f.list)",
    }, "\n"),
  },
  {
    name = "a match that is neither a path nor a function",
    files = reconcile_event("      match = 42,"),
    want = "DIR/connector.lua:7: events.e.match: expected a registration-data path (string) or a function, got number",
  },
  {
    name = "a renewal that renews too late",
    files = renewal_event('      renewal = { flow = "flows/renew.lua", expires = "expires_at", before = -60 },'),
    want = "DIR/connector.lua:7: events.e.renewal.before: expected seconds before the expiry (0 or more), got -60",
  },
  {
    name = "a renewal whose expires is not a path",
    files = renewal_event('      renewal = { flow = "flows/renew.lua", expires = "sub..expires" },'),
    want = "DIR/connector.lua:7: events.e.renewal.expires: 'sub..expires' is not a path like \"expires_at\" or \"subscription.expires\"",
  },
  {
    name = "a renewal without the expiry's field",
    files = renewal_event('      renewal = { flow = "flows/renew.lua" },'),
    want = "DIR/connector.lua:7: missing required key 'expires' in events.e.renewal",
  },
  {
    name = "a renewal whose before is not a number",
    files = renewal_event('      renewal = { flow = "flows/renew.lua", expires = "expires_at", before = "1h" },'),
    want = "DIR/connector.lua:7: events.e.renewal.before: expected number, got string",
  },
  {
    name = "a renewal flow that is not there",
    files = renewal_event('      renewal = { flow = "flows/renw.lua", expires = "expires_at" },'),
    prefix = true,
    want = "DIR/connector.lua:7: events.e.renewal.flow: file 'flows/renw.lua' not found in DIR",
  },
  {
    name = "a renewal without a registration flow",
    files = renewal_event('      renewal = { flow = "flows/renew.lua", expires = "expires_at" },', nil, "      -- no registration"),
    want = "DIR/connector.lua:7: events.e.renewal: needs a registration flow (events.e.registration) to renew",
  },
  {
    name = "an expired choice that is neither gone nor call",
    files = renewal_event('      renewal = { flow = "flows/renew.lua", expires = "expires_at" },', '      expired = "ignore",'),
    want = "DIR/connector.lua:8: events.e.expired: 'ignore' is not one of: call, gone",
  },
  {
    name = "an expired choice without a renewal",
    files = renewal_event("      -- no renewal", '      expired = "gone",'),
    want = "DIR/connector.lua:8: events.e.expired: needs a renewal (events.e.renewal)",
  },
}
