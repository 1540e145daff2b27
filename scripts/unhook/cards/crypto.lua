-- Crypto cards: SHA-256 and HMAC-SHA256 from OpenSSL's libcrypto (core),
-- as lowercase hex or base64.
local name, core = ...

local card = require "unhook.card"

local error, ipairs = error, ipairs
local fmt, byte = string.format, string.byte

local base64
for _, c in ipairs(require "unhook.cards.text") do
  if c.def.name == "text.base64_encode" then base64 = c.def.run end
end

local function hex(s)
  return (s:gsub(".", function(c) return fmt("%02x", byte(c)) end))
end

-- The digest in the encoding, or nil when the encoding is not known.
local function encode(digest, encoding)
  if encoding == "hex" then return hex(digest) end
  if encoding == "base64" then return base64(digest) end
  return nil
end

local function bad_encoding(cardname, encoding)
  error(fmt("%s: input 'encoding': expected \"hex\" or \"base64\", got \"%s\"", cardname, encoding), 3)
end

return {
  card.new {
    name = "crypto.sha256",
    description = "The SHA-256 digest of text, as lowercase hex (default) or base64.",
    inputs = { { name = "text", type = "string", required = true },
               { name = "encoding", type = "string", default = "hex" } },
    outputs = { { name = "digest", type = "string" } },
    run = function(text, encoding)
      local d = encode(core.sha256(text), encoding)
      if not d then bad_encoding("crypto.sha256", encoding) end
      return d
    end,
  },
  card.new {
    name = "crypto.hmac_sha256",
    description = "The HMAC-SHA256 of text with key, as lowercase hex (default) or base64.",
    inputs = { { name = "key", type = "string", required = true },
               { name = "text", type = "string", required = true },
               { name = "encoding", type = "string", default = "hex" } },
    outputs = { { name = "mac", type = "string" } },
    run = function(key, text, encoding)
      local d = encode(core.hmac_sha256(key, text), encoding)
      if not d then bad_encoding("crypto.hmac_sha256", encoding) end
      return d
    end,
  },
}
