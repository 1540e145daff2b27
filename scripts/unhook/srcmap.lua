-- unhook.srcmap: map dotted key paths of a Lua table constructor to source lines.
--
-- Why: validators report problems by path (`events.push.deregistration.flow`)
-- but people fix files by line (`connector.lua:14`). The sandbox has no
-- `debug`/`load`/`io`, so this is a small tolerant tokenizer plus a walker over
-- the returned table constructor. It never raises: malformed input just ends
-- the walk and whatever was found so far is returned.

local _M = {}

local byte, char, find, sub, match, gsub, gmatch = string.byte, string.char,
  string.find, string.sub, string.match, string.gsub, string.gmatch
local concat = table.concat
local tointeger = math.tointeger

local ESC = { a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v",
  ["\\"] = "\\", ['"'] = '"', ["'"] = "'", ["\n"] = "\n" }
local function set(words)
  local t = {}
  for w in gmatch(words, "%S+") do t[w] = true end
  return t
end
local OPS2 = set "== ~= <= >= .. :: // << >>"
-- Everything that nests; `while`/`for` blocks are opened by their `do`.
local OPEN, CLOSE = set "( [ { function if do repeat", set ") ] } end until"
local KEYWORD = set [[and break do else elseif end false for function goto if in local nil
  not or repeat return then true until while]]
local FIELD_END, RBRACKET, RBRACE = set ", ; } ) ]", set "]", set "}"
local MAX_DEPTH = 100 -- deeper tables are skipped, not walked (keeps recursion bounded)

-- \u{XXX} as UTF-8, the way Lua's lexer encodes it (up to 0x7FFFFFFF).
local function utf8char(c)
  if c < 0x80 then return char(c) end
  local out, mfb = "", 0x3f
  repeat
    out = char(0x80 | (c & 0x3f)) .. out
    c, mfb = c >> 6, mfb >> 1
  until c <= mfb
  return char(((~mfb << 1) | c) & 0xff) .. out
end

-- Returns parallel arrays: kind ("name"|"op"|"lit"|"eof"), tok (text of names
-- and operators), lit (value of string/number literals), line (start line).
local function tokenize(src)
  local kind, tok, lit, line = {}, {}, {}, {}
  local n, pos, ln, len = 0, 1, 1, #src
  local function emit(k, t, l, at)
    n = n + 1
    kind[n], tok[n], lit[n], line[n] = k, t, l, at or ln
  end
  local function newlines(i, j)
    local _, c = gsub(sub(src, i, j), "\n", "")
    return c
  end
  local function space(p) -- index after the whitespace at p, counting its newlines
    local after = match(src, "^%s*()", p)
    ln = ln + newlines(p, after - 1)
    return after
  end
  -- Long bracket at p: body, end index; nil if none there; false if unterminated.
  local function long(p)
    local eq = match(src, "^%[(=*)%[", p)
    if not eq then return nil end
    local from = p + #eq + 2
    local s, e = find(src, "]" .. eq .. "]", from, true)
    if not s then return false end
    local body = sub(src, from, s - 1)
    ln = ln + newlines(from, s - 1)
    if byte(body, 1) == 10 then body = sub(body, 2) end
    return body, e
  end
  -- Short string starting at the quote at p: value, end index; nil if unterminated.
  local function short(p)
    local q = sub(src, p, p)
    local pat, buf = q == '"' and '[\\\n"]' or "[\\\n']", {}
    p = p + 1
    while true do
      local s = find(src, pat, p)
      if not s or byte(src, s) == 10 then return nil end
      buf[#buf + 1] = sub(src, p, s - 1)
      local e = sub(src, s + 1, s + 1)
      if sub(src, s, s) == q then return concat(buf), s end
      p = s + 2
      if ESC[e] then
        buf[#buf + 1] = ESC[e]
        if e == "\n" then ln = ln + 1 end
      elseif e == "z" then
        p = space(p)
      elseif e == "x" then
        local h = match(src, "^%x%x", p)
        if h then buf[#buf + 1], p = char(tonumber(h, 16)), p + 2 end
      elseif find(e, "^%d") then
        local d = match(src, "^%d%d?%d?", s + 1)
        if tonumber(d) <= 255 then buf[#buf + 1] = char(tonumber(d)) end
        p = s + 1 + #d
      elseif e == "u" then
        local h, after = match(src, "^{(%x+)}()", p)
        if h then
          local c = #h <= 8 and tonumber(h, 16)
          if c and c <= 0x7FFFFFFF then buf[#buf + 1] = utf8char(c) end
          p = after
        end
      end
    end
  end

  while pos <= len do
    local c = sub(src, pos, pos)
    if find(c, "^%s") then
      pos = space(pos)
    elseif find(c, "^[%a_]") then
      local name = match(src, "^[%a_][%w_]*", pos)
      emit("name", name); pos = pos + #name
    elseif find(src, "^%.?%d", pos) then
      local hex = find(src, "^0[xX]", pos)
      local expo, p = hex and "^[pP][+-]?()" or "^[eE][+-]?()", hex and pos + 2 or pos
      while true do -- like Lua's read_numeral: digits, dots, exponents with sign
        local q = match(src, expo, p) or match(src, "^[%x.]()", p)
        if not q then break end
        p = q
      end
      local v = tonumber(sub(src, pos, p - 1)) -- as a key, 1.0 is 1 (like Lua)
      emit("lit", nil, v and tostring(tointeger(v) or v)); pos = p
    elseif c == "-" and sub(src, pos + 1, pos + 1) == "-" then
      local body, e = long(pos + 2)
      if body == false then break end -- unterminated long comment
      pos = e and e + 1 or find(src, "\n", pos, true) or len + 1
    elseif c == '"' or c == "'" or (c == "[" and find(src, "^%[=*%[", pos)) then
      local l0 = ln
      local v, e
      if c == "[" then v, e = long(pos) else v, e = short(pos) end
      if not v then break end -- unterminated string
      emit("lit", nil, v, l0); pos = e + 1
    else
      local t = sub(src, pos, pos + 2) == "..." and "..." or sub(src, pos, pos + 1)
      if not OPS2[t] and t ~= "..." then t = c end
      emit("op", t); pos = pos + #t
    end
  end
  emit("eof", "<eof>")
  return kind, tok, lit, line, n
end

function _M.build(source)
  local map = {}
  if type(source) ~= "string" then return map end
  source = gsub(gsub(source, "\r\n", "\n"), "\r", "\n")
  local kind, tok, lit, line, n = tokenize(source)

  -- Index of the depth-0 token in `stop` from i on (or of eof / an unmatched closer).
  local function skip(i, stop)
    local depth = 0
    while kind[i] ~= "eof" do
      local t = tok[i]
      if depth == 0 and stop[t] then return i end
      if OPEN[t] then
        depth = depth + 1
      elseif CLOSE[t] then
        depth = depth - 1
        if depth < 0 then return i end
      end
      i = i + 1
    end
    return i
  end

  -- `{`, `NAME {`, `NAME({ })` (NAME may be dotted or a method) at i:
  -- index of the `{` to walk and whether it is wrapped in parentheses.
  local function table_at(i)
    if tok[i] == "{" then return i, false end
    if kind[i] ~= "name" or KEYWORD[tok[i]] then return nil end
    i = i + 1
    while (tok[i] == "." or tok[i] == ":") and kind[i + 1] == "name" do i = i + 2 end
    if tok[i] == "{" then return i, false end
    if tok[i] == "(" and tok[i + 1] == "{" and tok[skip(i + 2, RBRACE) + 1] == ")" then
      return i + 1, true
    end
  end

  local walk
  -- Skips the field value at i (walking it when it is a table); returns the
  -- index of the token that ends it, or nil on eof inside a nested table.
  local function value(i, path, depth)
    if path and depth < MAX_DEPTH then
      local t, paren = table_at(i)
      if t then
        i = walk(t, path, depth + 1)
        if not i then return nil end
        if paren then i = i + 1 end
      end
    end
    return skip(i, FIELD_END)
  end

  -- Walks the constructor whose `{` is at i; returns the index after its `}`.
  function walk(i, path, depth)
    local prefix, pos = path == "" and "" or path .. ".", 0
    i = i + 1
    while true do
      local t, key, at = tok[i], nil, line[i]
      if kind[i] == "eof" then return nil end
      if t == "}" then return i + 1 end
      if t == "[" then
        if kind[i + 1] == "lit" and tok[i + 2] == "]" and tok[i + 3] == "=" then
          key, at, i = lit[i + 1], line[i + 1], i + 4
        else -- computed key: not recorded, but its value is still skipped
          local j = skip(i + 1, RBRACKET)
          if tok[j] ~= "]" or tok[j + 1] ~= "=" then return nil end
          i = j + 2
        end
      elseif kind[i] == "name" and tok[i + 1] == "=" then
        key, i = t, i + 2
      else
        pos = pos + 1
        key = tostring(pos)
      end
      local p = key and prefix .. key
      if p then map[p] = at end
      i = value(i, p, depth)
      if not i then return nil end
      t = tok[i]
      if t == "," or t == ";" then
        i = i + 1
      elseif t ~= "}" then
        return nil
      end
    end
  end

  -- Root: the constructor right after the last top-level `return`,
  -- else the first top-level `{`.
  local depth, ret, first = 0, nil, nil
  for i = 1, n do
    local t = tok[i]
    if depth == 0 then
      if t == "return" then ret = i elseif t == "{" and not first then first = i end
    end
    if OPEN[t] then depth = depth + 1 elseif CLOSE[t] and depth > 0 then depth = depth - 1 end
  end
  local root = ret and table_at(ret + 1) or first
  if root then
    map[""] = line[root]
    walk(root, "", 0)
  end
  return map
end

-- Line of `path`, else of its longest recorded prefix, else 1.
function _M.line(map, path)
  path = path and tostring(path) or ""
  while true do
    local l = map and map[path]
    if l then return l end
    if path == "" then return 1 end
    path = match(path, "^(.*)%.") or ""
  end
end

return _M
