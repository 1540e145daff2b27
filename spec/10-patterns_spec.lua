-- The sandbox's string.find, match, gmatch and gsub (core/lpattern.c):
-- Lua 5.4's matcher that checks the run's time budget while it works.
-- The same calls run in a flow and in a stock lua5.4 process (Lua's own
-- lstrlib.c) must give the same results and errors; and one call that
-- would run for ever is stopped with cpu_limit.
local H = require "helpers"

-- Runs every case; returns one line per call.  The same text runs in the
-- flow and in lua5.4, so errors it raises itself use level 0.
local CASES = [==[
local out = {}
local function ser(...)
  local t = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    t[i] = type(v) == "string" and (string.format("%q", v):gsub("\\\n", "\\n"))
      or (type(v) == "table" or type(v) == "function") and type(v)
      or (math.type(v) or type(v)) .. ":" .. tostring(v)
  end
  return table.concat(t, ",")
end
local function call(name, f, ...)
  local r = table.pack(pcall(f, ...))
  local args = ser(...)
  out[#out + 1] = name .. "(" .. args .. ") -> " ..
    (r[1] and ser(table.unpack(r, 2, r.n)) or "error: " .. ser(r[2]))
end
local function gm(s, p, init)
  local acc, it = {}, string.gmatch(s, p, init)
  while #acc < 200 do
    local r = table.pack(it())
    if r[1] == nil then break end
    acc[#acc + 1] = "{" .. ser(table.unpack(r, 1, r.n)) .. "}"
  end
  return table.concat(acc, ";")
end
local function mfind(s, ...) return s:find(...) end
local function mmatch(s, ...) return s:match(...) end
local function mgsub(s, ...) return s:gsub(...) end
local function mgm(s, p)
  local acc = {}
  for a, b in s:gmatch(p) do acc[#acc + 1] = ser(a, b) end
  return table.concat(acc, ";")
end

local subjects = {
  "", "a", "aaa", "hello world", "  x = 10, y = 20  ", "abc(def)ghi[jkl]",
  "f(a(b)c)d)", "THE (quick) brown_fox 42", "x\0y\0z", "1.5e10 -3 0x1F",
  "\xff\xfe\x80A", "a.b.c", "key=val; k2=v2", "[]^$-%", "\n\t\r ", "abab",
}
local patterns = {
  "", "a", "^a", "a$", "^$", ".", ".-", ".*", "a*", "a+", "a-", "a?", "^.-$",
  "%a+", "%d+", "%s*", "%w+", "%W", "%p", "%x+", "%c", "%g+", "%l+", "%u+",
  "%z", "%S+", "%A", "%D%D", "[aeiou]", "[^aeiou]+", "[a-f]+", "[%a_][%w_]*",
  "[]]", "[^]]+", "[a-]", "[-a]", "[%]]", "[%a-z]", "[a-%%]", "[z-a]",
  "[^%s%d]+", "(%w+)=(%w+)", "()a()", "(a*(.)%w(%s*))", "%b()", "%b[]",
  "%bxy", "%f[%w]%w+", "%f[%W]", "%f[%a]", "%f[%z]", "(.)%1", "(%a)(%a)%2%1",
  "(l)%1", "x\0y", "%.", "a.b", "%%", "$a", "a^", "^", "$", "^(.-)$",
  "(h)(e)(l)(l)(o)", "(h)(e)()", "%d+%.?%d*", "[+-]?%d+", "0x%x+",
  "(%a+) (%a+)", "^%s*(.-)%s*$", "X", "(X)", "b?", ".-b", "(.-)%)",
  "[%w%.]+", "[\0-\31]", "[\128-\255]+", "\255", "%\255",
  -- malformed, and the limits
  "[a", "[^", "%", "(", ")", "%b", "%ba", "%f", "%fa", "(()", "%1", "(a)%2",
  "%0", "a)", "((a)", "[%", string.rep("()", 33), string.rep("()", 32),
}
local inits = { 2, -3, 0, 100 }
local repls = {
  "<%0>", "%1-%1", "%%", "%2", "%x", "", 7,
  { hello = "HI", a = "A", l = false, x = 1.5, [1] = "ONE", [2] = "TWO" },
  function(a, b) if a == "a" then return nil end
    if a == "l" then return false end
    if a == "e" then return 12 end
    return "[" .. tostring(a) .. (b and "|" .. tostring(b) or "") .. "]" end,
}
for _, s in ipairs(subjects) do
  for _, p in ipairs(patterns) do
    call("find", string.find, s, p)
    call("match", string.match, s, p)
    call("gmatch", gm, s, p)
    call("gsub", string.gsub, s, p, "<%0>")
    call("find/plain", string.find, s, p, 1, true)
    for _, i in ipairs(inits) do
      call("find", string.find, s, p, i)
      call("match", string.match, s, p, i)
      call("gmatch", gm, s, p, i)
    end
    for k, r in ipairs(repls) do
      call("gsub" .. k, string.gsub, s, p, r)
    end
    for _, n in ipairs({ 0, 2 }) do
      call("gsub/n", string.gsub, s, p, "#", n)
    end
  end
end

-- methods, numbers as strings, argument errors, replacement errors
call("mfind", mfind, "hello", "l+")
call("mfind", mfind, "hello", "l", 1, true)
call("mmatch", mmatch, "key = value", "(%w+)%s*=%s*(%w+)")
call("mgsub", mgsub, "hello world", "o", "0")
call("mgm", mgm, "a=1, b=2, c=3", "(%w+)=(%w+)")
call("find", string.find, 12345, 34)
call("find", string.find, 12345, 34, -2)
call("gsub", string.gsub, 123, 2, 9)
call("match", string.match, 3.5, "%d")
call("find", string.find, "abc", "b", "x")
call("find", string.find, "abc", "b", 1.5)
call("find", string.find, "abc")
call("find", string.find, nil, "a")
call("match", string.match, {}, "a")
call("gmatch", string.gmatch, "abc")
call("gsub", string.gsub, "abc", "b")
call("gsub", string.gsub, "abc", "b", true)
call("gsub", string.gsub, "abc", "b", "x", "y")
call("gsub", string.gsub, "abc", "%w", { a = {} })
call("gsub", string.gsub, "abc", "%w", function() return {} end)
call("gsub", string.gsub, "abc", "%w", function() error("boom", 0) end)
call("gsub", string.gsub, "abc", "%w", function() error(42) end)
call("gsub", string.gsub, "abc", "()", "%1")
call("gsub", string.gsub, "abc", "()", { [1] = "one", [2] = "two" })
call("gsub", string.gsub, "abc", "(b)", "%0%1%")
call("gsub", string.gsub, "hello world", "(o)", "[%1]", 1.0)
call("gsub", string.gsub, "hello world", "(o)", "[%1]", 1.5)
call("gsub", string.gsub, "abc", "", "-")
call("gsub", string.gsub, "abc", ".-", "-")
call("gsub", string.gsub, "abc", "^", ">")
call("gsub", string.gsub, "abc", "$", "<")
call("gsub", string.gsub, "a,b,,c", ",*", "|")
call("gmatch", gm, "abc", "")
call("gmatch", gm, "abc", "^a")
call("gmatch", gm, "a,b,,c", "[^,]*")
call("gmatch", gm, "one two three", "%a+", 5)
call("gmatch", gm, "one two three", "%a+", -5)
call("gmatch", gm, "one two three", "()%a+()", 100)

-- the recursion limit (MAXCCALLS) and deep captures
call("find", string.find, string.rep("a", 250), string.rep("a?", 250))
call("find", string.find, string.rep("a", 190), string.rep("a?", 190))
call("find", string.find, string.rep("a", 300), string.rep("(a)", 10) .. ".-$")
call("match", string.match, string.rep("(", 199) .. string.rep(")", 199), "%b()")
call("match", string.match, string.rep("x", 500), "^(x*)(x-)(x+)$")

-- long subjects, long needles: many checks of the limits along the way
local long = string.rep("ab", 100000) .. "needle" .. string.rep("c", 1000)
call("find/plain", string.find, long, "needle")
call("find/plain", string.find, long, "needle", -900)
call("find/plain", string.find, long, string.rep("ab", 1000) .. "needle")
call("find/plain", string.find, long, string.rep("ab", 1000) .. "needlx")
call("find", string.find, long, "n(e+)dle")
call("find", string.find, long, "%f[n]%a+")
call("match", string.match, long, "(b)(n.-)(c+)$")
call("find", string.find, long, "(a)b%1b%1bn")
local n1, c1 = string.gsub(long, "%w", "%0%0")
out[#out + 1] = "long gsub: " .. #n1 .. " " .. c1 .. " " .. n1:sub(-1010, -990)
local k = 0
for _ in string.gmatch(long, "ab") do k = k + 1 end
out[#out + 1] = "long gmatch: " .. k
out[#out + 1] = "long balance: " .. tostring(string.find(
  "(" .. string.rep("()", 50000) .. ")", "%b()"))
return table.concat(out, "\n")
]==]

-- Expected: the same cases in a stock lua5.4 (its own lstrlib.c).
local function expected()
  local f = H.tmpname()
  local h = assert(io.open(f, "wb"))
  h:write("io.write(assert(load(", string.format("%q", CASES), ', "=cases"))())')
  h:close()
  local p = assert(io.popen("lua5.4 " .. f .. " 2>&1", "r"))
  local text = p:read("a")
  local ok = p:close()
  assert(ok, "lua5.4 failed: " .. text)
  return text
end

-- A connector whose flow runs body; manifest limits as Lua source.
local function connector(body, limits)
  return H.connector {
    ["connector.lua"] = 'return { name = "p", auth = "bearer", ' ..
      (limits and "limits = " .. limits .. ", " or "") ..
      'events = { e = { deregistration = { flow = "flows/d.lua" } } } }',
    ["flows/d.lua"] = body,
  }
end

describe("pattern functions in the sandbox", function()
  before_each(function() H.reset() end)

  it("give the results and errors of Lua 5.4's", function()
    local want = expected()
    local n = select(2, want:gsub("\n", "")) + 1
    assert.is_true(n > 10000, "too few cases: " .. n)
    local body = "local src, want = " .. string.format("%q", CASES) .. ", "
      .. string.format("%q", want) .. [[

      return { run = function()
        local got = assert(load(src, "=cases", "t", _ENV))()
        if got == want then return end
        local g, w, diffs = {}, {}, {}
        for l in (got .. "\n"):gmatch("(.-)\n") do g[#g + 1] = l end
        for l in (want .. "\n"):gmatch("(.-)\n") do w[#w + 1] = l end
        for i = 1, math.max(#g, #w) do
          if g[i] ~= w[i] and #diffs < 10 then
            diffs[#diffs + 1] = "line " .. i .. ":\n  got  " .. tostring(g[i])
              .. "\n  want " .. tostring(w[i])
          end
        end
        error("differs from Lua 5.4 (" .. #g .. " lines, " .. #w .. " wanted):\n"
          .. table.concat(diffs, "\n"), 0)
      end }]]
    local res = H.run(connector(body))
    assert.equal("done", res.outcome, res.message)
  end)

  describe("stop a call that would run for ever, with cpu_limit", function()
    local hang = 'local s = ("a"):rep(1e5) local p = ".-.-.-.-b"\n'
    local cases = {
      { "string.find", "string.find(s, p)" },
      { "the :find method", "s:find(p)" },
      { "string.match", "string.match(s, p)" },
      { "string.gmatch", "for _ in string.gmatch(s, p) do end" },
      { "string.gsub", "string.gsub(s, p, 'x')" },
      { "a match under pcall, again and again", "while true do pcall(string.find, s, p) end" },
      { "a plain find of a long needle",
        'local h, n = ("a"):rep(4e6), ("a"):rep(1e5) .. "b" h:find(n, 1, true)' },
      { "a back reference", 'local h = ("a"):rep(1e5) h:find("(a*)%1b")' },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local dir = connector("return { run = function()\n" .. hang .. c[2] .. "\nend }",
          "{ timeout_ms = 500 }")
        local t0 = os.time()
        local res = H.run(dir)
        assert.equal("failed", res.outcome, res.message)
        assert.equal("cpu_limit", res.code, res.message)
        assert.is_true(os.time() - t0 <= 2, "took " .. (os.time() - t0) .. " s")
      end)
    end

    it("and the next flow runs as usual", function()
      H.run(connector("return { run = function()\n" .. hang .. "s:find(p)\nend }",
        "{ timeout_ms = 300 }"))
      local res = H.run(connector([[return { run = function()
        assert(("hello"):find("l+") == 3 and ("a=1"):match("(%w)=(%d)") == "a")
      end }]]))
      assert.equal("done", res.outcome, res.message)
    end)
  end)
end)
