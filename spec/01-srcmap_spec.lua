if not pcall(require, "unhook.srcmap") then
  package.path = "scripts/?.lua;" .. package.path
end
local srcmap = require "unhook.srcmap"

-- Builds a chunk from numbered lines, so `lines[n]` is source line n.
local function chunk(lines) return table.concat(lines, "\n") end

describe("unhook.srcmap", function()
  describe("build", function()
    it("maps nested tables of the returned constructor", function()
      local map = srcmap.build(chunk {
        'local unhook = require "unhook"',      -- 1
        "",                                     -- 2
        "return {",                             -- 3
        '  name = "github",',                   -- 4
        "  events = {",                         -- 5
        "    push = {",                         -- 6
        "      deregistration = {",             -- 7
        '        flow = "delete",',             -- 8
        "      },",                             -- 9
        "      options = { owner = { type = 'string' } },", -- 10
        "    },",                               -- 11
        "  };",                                 -- 12
        "  empty = {},",                        -- 13
        "}",                                    -- 14
      })
      assert.same({
        [""] = 3,
        name = 4,
        events = 5,
        ["events.push"] = 6,
        ["events.push.deregistration"] = 7,
        ["events.push.deregistration.flow"] = 8,
        ["events.push.options"] = 10,
        ["events.push.options.owner"] = 10,
        ["events.push.options.owner.type"] = 10,
        empty = 13,
      }, map)
    end)

    it("maps bracketed string and number keys, skipping computed ones", function()
      local map = srcmap.build(chunk {
        "return {",                                  -- 1
        "  headers = {",                             -- 2
        '    ["X-GitHub-Api-Version"] = "2022",',    -- 3
        "    [ 'a\\\"b' ] = 1,",                      -- 4
        "    [10] = 1, [0x10] = 2,",                 -- 5
        "    [1.0] = 3, [2.5] = 4,",                 -- 6
        "    [k] = { inner = 1 }, [-1] = 5,",        -- 7
        '    [ [[long]] ] = 6, ["x" .. y] = 7,',     -- 8
        "    after = 8,",                            -- 9
        "  },",                                      -- 10
        "}",                                         -- 11
      })
      assert.same({
        [""] = 1,
        headers = 2,
        ["headers.X-GitHub-Api-Version"] = 3,
        ['headers.a"b'] = 4,
        ["headers.10"] = 5,
        ["headers.16"] = 5,
        ["headers.1"] = 6,
        ["headers.2.5"] = 6,
        ["headers.long"] = 8,
        ["headers.after"] = 9,
      }, map)
    end)

    it("numbers positional entries at the line where each value starts", function()
      local map = srcmap.build(chunk {
        "return {",                   -- 1
        "  gone = {",                 -- 2
        '    "a", "b",',              -- 3
        "    {",                      -- 4
        "      x = 1,",               -- 5
        "    },",                     -- 6
        "    [9] = 'explicit',",      -- 7
        "    named = 1;",             -- 8
        "    f(1, 2)",                -- 9
        "  },",                       -- 10
        "}",                          -- 11
      })
      assert.same({
        [""] = 1,
        gone = 2,
        ["gone.1"] = 3,
        ["gone.2"] = 3,
        ["gone.3"] = 4,
        ["gone.3.x"] = 5,
        ["gone.9"] = 7, -- explicit keys do not advance the positional index
        ["gone.named"] = 8,
        ["gone.4"] = 9,
      }, map)
    end)

    it("is not confused by comments and strings holding braces, newlines and =", function()
      local map = srcmap.build(chunk {
        "-- return { fake = 1 }",                -- 1
        "--[[ return {",                         -- 2
        "  fake = 2 } ]]",                       -- 3
        "return { -- { x = 1",                   -- 4
        "  --[==[ ]] } = {",                     -- 5
        "  ]==]",                                -- 6
        '  a = "}", b = \'{ c = 1\',',           -- 7
        "  d = [[ { e = 1 }",                    -- 8
        "  ]], f = [=[ ]] ]=],",                 -- 9
        '  g = "--[[", h = 1 == 2 and 3 ~= 4,',  -- 10
        "  i = 1",                               -- 11
        "}",                                     -- 12
      })
      assert.same({
        [""] = 4, a = 7, b = 7, d = 8, f = 9, g = 10, h = 10, i = 11,
      }, map)
    end)

    it("skips call values but walks NAME{...} and NAME({...})", function()
      local map = srcmap.build(chunk {
        "return unhook.card {",                          -- 1
        '  owner = option "owner",',                     -- 2
        "  repo = option {",                             -- 3
        '    type = "string",',                          -- 4
        "  },",                                          -- 5
        "  paren = f({ y = 1 }),",                       -- 6
        "  args = f({ no = 1 }, 2),",                    -- 7
        "  chained = helper.make \"x\" { no = 1 },",     -- 8
        "  method = obj:m{ k = 1 },",                    -- 9
        "  str = f[[ { no = 1 } ]],",                    -- 10
        "  expr = (g or h)({ no = 1 }),",                -- 11
        "  neg = not { no = 1 },",                       -- 12
        "}",                                             -- 13
      })
      assert.same({
        [""] = 1,
        owner = 2,
        repo = 3,
        ["repo.type"] = 4,
        paren = 6,
        ["paren.y"] = 6,
        args = 7,
        chained = 8,
        method = 9,
        ["method.k"] = 9,
        str = 10,
        expr = 11,
        neg = 12,
      }, map)
    end)

    it("does not record anything inside function values", function()
      local map = srcmap.build(chunk {
        "return {",                                      -- 1
        "  run = function(ctx) local t = { a = 1 } end,", -- 2
        "  other = function(ctx)",                       -- 3
        "    if ctx then return 1, { b = 2 } end",       -- 4
        "    for i = 1, 2 do local u = { c = i } end",   -- 5
        "    while false do end",                        -- 6
        "    repeat local v = { d = 1 } until true",     -- 7
        "    do local w = {} end",                       -- 8
        "  end,",                                        -- 9
        "  after = 1,",                                  -- 10
        "}",                                             -- 11
      })
      assert.same({ [""] = 1, run = 2, other = 3, after = 10 }, map)
      assert.is_nil(map["run.a"])
    end)

    it("maps only the returned table, not locals before it", function()
      local map = srcmap.build(chunk {
        "local x = { a = 1 }",                          -- 1
        "local function f() return { c = 1 } end",      -- 2
        "if x then return { d = 1 } end",               -- 3
        "return {",                                     -- 4
        "  b = 2,",                                     -- 5
        "}",                                            -- 6
      })
      assert.same({ [""] = 4, b = 5 }, map)
    end)

    it("falls back to the first top-level { when return has no constructor", function()
      local map = srcmap.build(chunk {
        "local f = g({ no = 1 })", -- 1
        "local M = {",             -- 2
        "  a = 1,",                -- 3
        "}",                       -- 4
        "M.b = { no = 2 }",        -- 5
        "return M",                -- 6
      })
      assert.same({ [""] = 2, a = 3 }, map)
    end)

    it("counts newlines inside multiline strings and escapes", function()
      local map = srcmap.build(chunk {
        "return {",                  -- 1
        '  a = "one\\',              -- 2  (backslash-newline continuation)
        'two",',                     -- 3
        '  b = "x\\z',               -- 4
        "",                          -- 5
        '      y\\x41\\65\\u{48}",', -- 6
        "  c = [[",                  -- 7
        "",                          -- 8
        "]],",                       -- 9
        "  d = '\\\\', e = \"\\\"\",", -- 10
        "  n = 0x1p4 + 1e-5 + .5 // 2 << 1 .. 'z',", -- 11
        "  [\"k\\u{20AC}\\65\"] = 1,", -- 12
        "  z = ...,",                -- 13
        "}",                         -- 14
      })
      assert.same({
        [""] = 1, a = 2, b = 4, c = 7, d = 10, e = 10, n = 11, ["k\u{20AC}A"] = 12, z = 13,
      }, map)
    end)

    it("handles CRLF line endings", function()
      local map = srcmap.build("return {\r\n  a = 1,\r\n  b = [[\r\n]],\r\n  c = 2 }")
      assert.same({ [""] = 1, a = 2, b = 3, c = 5 }, map)
    end)

    it("records only paths that exist in the real table", function()
      local source = chunk {
        "local option = function(x) return { option = x } end",
        "return {",
        "  name = 'x', list = { 1, { deep = true }, option 'y' },",
        "  [ [[k]] ] = { ['a-b'] = { [3] = 0 } },",
        "  run = function() return { no = 1 } end,",
        "}",
      }
      local real = assert(load(source))()
      local count = 0
      for path in pairs(srcmap.build(source)) do
        local node = real
        for seg in path:gmatch("[^.]+") do node = node[seg] or node[tonumber(seg)] end
        assert.is_not_nil(node, path)
        count = count + 1
      end
      assert.equal(11, count)
    end)
  end)

  describe("line", function()
    local map = srcmap.build(chunk {
      "-- manifest",       -- 1
      "return {",          -- 2
      "  events = {",      -- 3
      "    push = {",      -- 4
      "      a = 1,",      -- 5
      "    },",            -- 6
      "  },",              -- 7
      "}",                 -- 8
    })

    it("returns the line of a recorded path", function()
      assert.equal(5, srcmap.line(map, "events.push.a"))
      assert.equal(4, srcmap.line(map, "events.push"))
      assert.equal(2, srcmap.line(map, ""))
    end)

    it("falls back to the longest recorded prefix", function()
      assert.equal(4, srcmap.line(map, "events.push.deregistration.flow"))
      assert.equal(3, srcmap.line(map, "events.pull"))
      assert.equal(2, srcmap.line(map, "nothing.here")) -- the root brace
    end)

    it("returns 1 when nothing matches", function()
      assert.equal(1, srcmap.line({}, "a.b"))
      assert.equal(1, srcmap.line({ other = 9 }, "a"))
      assert.equal(1, srcmap.line(srcmap.build(""), "x"))
    end)
  end)

  describe("malformed input", function()
    it("does not raise and returns what was found", function()
      local cases = {
        { "return {\n  a = 1,\n  b = \"unterminated\n  c = 3 }", { [""] = 1, a = 2, b = 3 } },
        { "return {\n  a = {\n    b = 1,\n", { [""] = 1, a = 2, ["a.b"] = 3 } },
        { "return {\n  a = 1,\n  b = [[ never closed", { [""] = 1, a = 2, b = 3 } },
        { "return {\n  a = 1, --[[ open comment\n b = 2 }", { [""] = 1, a = 2 } },
        { "return {\n  a = 1,\n  b = f(1, 2 }", { [""] = 1, a = 2, b = 3 } },
        { "return {\n  a = 1 ) b = 2 }", { [""] = 1, a = 2 } },
        { "return {\n  [a = 1 }", { [""] = 1 } },
        { "return {\n  a = 'x\\", { [""] = 1, a = 2 } },
        { "}}} end end return", {} },
        { "", {} },
      }
      for _, case in ipairs(cases) do
        local ok, map = pcall(srcmap.build, case[1])
        assert.is_true(ok, case[1])
        assert.same(case[2], map)
      end
      assert.same({}, srcmap.build(nil))
    end)

    it("survives truncation at every byte and deep nesting", function()
      local source = chunk {
        'return unhook.card { a = "s\\z  t", b = [==[ ]] ]==], -- c',
        "  c = { 1, f({ d = 2 }), function() if x then end end }, ['e'] = 0x1p-2 }",
      }
      for i = 1, #source do
        assert.is_true((pcall(srcmap.build, source:sub(1, i))))
        assert.is_true((pcall(srcmap.build, source:sub(i))))
      end
      local map = srcmap.build("return " .. ("{ a = "):rep(5000) .. ("}"):rep(5000))
      assert.equal(1, map["a.a.a"])
      assert.is_true((pcall(srcmap.build, "return " .. ("{"):rep(100000))))
    end)
  end)
end)
