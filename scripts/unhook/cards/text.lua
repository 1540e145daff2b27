-- Text cards.  Card errors name the card and the input; a card raises at
-- level 2, which is the flow's line (the card's wrapper tail-calls run).
local name, core = ...

local card = require "unhook.card"
local unhook = require "unhook"

local type, tostring, error, ipairs, pairs = type, tostring, error, ipairs, pairs
local fmt, concat, byte, char = string.format, table.concat, string.byte, string.char
local math_type, tointeger = math.type, math.tointeger
local array_mt, null = unhook.json.array_mt, unhook.json.null

local function list(t) return setmetatable(t, array_mt) end

-- A string, number or boolean as text (integral numbers without ".0").
local function as_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    local i = math_type(v) == "integer" and v or tointeger(v)
    if i then return fmt("%d", i) end
    return fmt("%.14g", v)
  end
  if t == "boolean" then return tostring(v) end
  return nil
end

-- The value at a dotted name in values ("hook.id"), or nil.
local function lookup(values, dotted)
  local node = values
  for part in dotted:gmatch("[^%.]+") do
    if type(node) ~= "table" then return nil end
    local v = node[part]
    if v == nil and part:match("^%d+$") and node[1] ~= nil then v = node[tonumber(part) + 1] end
    node = v
  end
  return node
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_INDEX = {}
for i = 1, 64 do B64_INDEX[byte(B64, i)] = i - 1 end

local function b64_encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1, c2 = n >> 18, (n >> 12) & 63
    local c3, c4 = (n >> 6) & 63, n & 63
    out[#out + 1] = B64:sub(c1 + 1, c1 + 1) .. B64:sub(c2 + 1, c2 + 1)
      .. (b and B64:sub(c3 + 1, c3 + 1) or "=") .. (c and B64:sub(c4 + 1, c4 + 1) or "=")
  end
  return concat(out)
end

-- nil and a message for text that is not padded standard base64.
local function b64_decode(s)
  if #s % 4 ~= 0 then
    return nil, fmt("not base64: length %d is not a multiple of 4", #s)
  end
  local out = {}
  for i = 1, #s, 4 do
    local q = { byte(s, i, i + 3) }
    local n, pad = 0, 0
    for j = 1, 4 do
      local v = B64_INDEX[q[j]]
      if q[j] == 61 and i + 3 == #s and (j == 4 or (j == 3 and q[4] == 61)) then
        v, pad = 0, pad + 1
      elseif not v then
        return nil, fmt("not base64: unexpected '%s' at byte %d", char(q[j]), i + j - 1)
      end
      n = n * 64 + v
    end
    out[#out + 1] = char(n >> 16, (n >> 8) & 255, n & 255):sub(1, 3 - pad)
  end
  return concat(out)
end

return {
  card.new {
    name = "text.concatenate",
    description = "Join strings end to end.",
    inputs = { { name = "strings", type = "string", variadic = true } },
    outputs = { { name = "text", type = "string" } },
    run = function(...)
      return concat({ ... })
    end,
  },
  card.new {
    name = "text.compose",
    description = "Fill the {{name}} placeholders of a template from an object of values.",
    inputs = { { name = "template", type = "string", required = true },
               { name = "values", type = "object", default = {} } },
    outputs = { { name = "text", type = "string" } },
    run = function(template, values)
      local missing, bad
      local text = template:gsub("{{%s*([%w_%.%-]+)%s*}}", function(key)
        local v = lookup(values, key)
        if v == nil or v == null then missing = missing or key; return "" end
        local s = as_text(v)
        if not s then bad = bad or { key, v }; return "" end
        return s
      end)
      if missing then
        error(fmt("text.compose: input 'values': no value for '{{%s}}'", missing), 2)
      end
      if bad then
        error(fmt("text.compose: input 'values': '%s' is a %s, not text, a number or a boolean",
          bad[1], type(bad[2])), 2)
      end
      return text
    end,
  },
  card.new {
    name = "text.replace",
    description = "Replace every occurrence of find (plain text, no patterns) with replacement.",
    inputs = { { name = "text", type = "string", required = true },
               { name = "find", type = "string", required = true },
               { name = "replacement", type = "string", default = "" } },
    outputs = { { name = "text", type = "string" } },
    run = function(text, find, replacement)
      if find == "" then error("text.replace: input 'find': expected a non-empty string", 2) end
      local out, pos = {}, 1
      while true do
        local s, e = text:find(find, pos, true)
        if not s then break end
        out[#out + 1] = text:sub(pos, s - 1)
        out[#out + 1] = replacement
        pos = e + 1
      end
      out[#out + 1] = text:sub(pos)
      return concat(out)
    end,
  },
  card.new {
    name = "text.split",
    description = "Split text at each separator (plain text); an empty separator splits into characters.",
    inputs = { { name = "text", type = "string", required = true },
               { name = "separator", type = "string", required = true } },
    outputs = { { name = "list", type = "array" } },
    run = function(text, sep)
      local out = {}
      if sep == "" then
        if not utf8.len(text) then error("text.split: input 'text': invalid UTF-8", 2) end
        for _, c in utf8.codes(text) do out[#out + 1] = utf8.char(c) end
        return list(out)
      end
      local pos = 1
      while true do
        local s, e = text:find(sep, pos, true)
        if not s then break end
        out[#out + 1] = text:sub(pos, s - 1)
        pos = e + 1
      end
      out[#out + 1] = text:sub(pos)
      return list(out)
    end,
  },
  card.new {
    name = "text.join",
    description = "Join a list of strings (or numbers) with a separator between them.",
    inputs = { { name = "list", type = "array", required = true },
               { name = "separator", type = "string", default = "" } },
    outputs = { { name = "text", type = "string" } },
    run = function(items, sep)
      local parts = {}
      for i, v in ipairs(items) do
        local s = type(v) ~= "boolean" and as_text(v)
        if not s then
          error(fmt("text.join: input 'list': item %d: expected string or number, got %s",
            i, v == null and "null" or type(v)), 2)
        end
        parts[i] = s
      end
      return concat(parts, sep)
    end,
  },
  card.new {
    name = "text.trim",
    description = "Remove white space from both ends.",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "text", type = "string" } },
    run = function(text)
      return (text:match("^%s*(.-)%s*$"))
    end,
  },
  card.new {
    name = "text.length",
    description = "The number of characters (UTF-8 code points) in text.",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "length", type = "integer" } },
    run = function(text)
      local n, at = utf8.len(text)
      if not n then error(fmt("text.length: input 'text': invalid UTF-8 at byte %d", at), 2) end
      return n
    end,
  },
  card.new {
    name = "text.url_encode",
    description = "Percent-encode text for a URL: all but A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved).",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "text", type = "string" } },
    run = function(text)
      return core.urlescape(text)
    end,
  },
  card.new {
    name = "text.url_decode",
    description = "Decode %XX escapes (a + stays a +).",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "text", type = "string" } },
    run = function(text)
      local at = text:find("%", 1, true)
      while at do
        if not text:find("^%x%x", at + 1) then
          error(fmt("text.url_decode: input 'text': bad percent escape '%s' at byte %d",
            text:sub(at, at + 2), at), 2)
        end
        at = text:find("%", at + 3, true)
      end
      return (text:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
    end,
  },
  card.new {
    name = "text.base64_encode",
    description = "Encode text as base64 (standard alphabet, with padding).",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "text", type = "string" } },
    run = function(text)
      return b64_encode(text)
    end,
  },
  card.new {
    name = "text.base64_decode",
    description = "Decode base64 (standard alphabet, with padding).",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "text", type = "string" } },
    run = function(text)
      local s, err = b64_decode(text)
      if not s then error("text.base64_decode: input 'text': " .. err, 2) end
      return s
    end,
  },
}
