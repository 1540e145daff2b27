-- Connection files: where and as whom to call.  JSON, with "${NAME}"
-- values read from the environment.  Runs in the engine's host state.
local name, core = ...

local _M = {}

local type, pairs, ipairs, tostring, fmt, concat = type, pairs, ipairs, tostring, string.format, table.concat
local json = core.json

-- The auth types, by name: each one's fields in the order they are
-- checked, whether a connection must give them, which are secrets (never
-- shown; masked in logs and errors) and which must be an HTTP header name.
-- The manifest's `auth` accepts the same names.  A new type is one entry
-- here, and its handler in C.
local AUTH_TYPES = {
  none = { fields = {} },
  bearer = { fields = {
    { name = "token", required = true, secret = true } } },
  basic = { fields = {
    { name = "username", required = true },
    { name = "password", required = true, secret = true } } },
  header = { fields = {
    { name = "name", required = true, header_name = true },
    { name = "value", required = true, secret = true } } },
  query = { fields = {
    { name = "name", required = true },
    { name = "value", required = true, secret = true } } },
  -- tokens from token_url, refreshed and rotated by the engine (oauth.c)
  oauth2 = { fields = {
    { name = "token_url", required = true, url = true },
    { name = "client_id", required = true },
    { name = "client_secret", secret = true },
    { name = "grant", one_of = { "refresh_token", "client_credentials" } },
    { name = "refresh_token", secret = true },
    { name = "scope" },
    { name = "audience" },
    { name = "client_auth", one_of = { "basic", "post" } },
    { name = "access_token", secret = true },
    { name = "expires_at", type = "number" } },
    check = function(a)
      a.grant = a.grant or (a.refresh_token and "refresh_token" or "client_credentials")
      if a.grant == "refresh_token" and not a.refresh_token then
        return "grant refresh_token needs 'refresh_token'"
      end
    end },
}
_M.AUTH_TYPES = AUTH_TYPES

local HEADER_NAME = "^[%w!#$%%&'*+.^_`|~-]+$"
local TOP = { base_url = "string", auth = "table", headers = "table",
              timeout_ms = "number", ca_file = "string", insecure = "boolean" }

-- "character N" in a cjson message becomes "line L".
local function position(text, msg)
  local at = tonumber(msg:match("character (%d+)"))
  if not at then return 1 end
  local line = 1
  for _ in text:sub(1, at):gmatch("\n") do line = line + 1 end
  return line
end

local function expand(v, path, env_missing)
  if type(v) ~= "string" then return v end
  local out = v:gsub("%${([%w_]+)}", function(var)
    local val = core.getenv(var)
    if val == nil then env_missing[#env_missing + 1] = fmt("%s: environment variable %s is not set", path, var); return "" end
    return val
  end)
  return out
end

local function field_of(atype, k)
  for _, f in ipairs(atype.fields) do
    if f.name == k then return f end
  end
end

local function field_in(list, v)
  for _, x in ipairs(list) do
    if x == v then return true end
  end
  return false
end

local function sorted_names(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks)
  return concat(ks, ", ")
end

-- The top-level keys and their types.
local function check_top(c, file)
  for k, v in pairs(c) do
    if TOP[k] == nil then
      return fmt("%s: unknown key '%s' (expected: auth, base_url, ca_file, headers, insecure, timeout_ms)", file, tostring(k))
    end
    if type(v) ~= TOP[k] then
      return fmt("%s: %s: expected %s, got %s", file, k, TOP[k] == "table" and "object" or TOP[k], type(v))
    end
  end
end

-- headers: sorted "Name: value" lines into out.headers.
local function parse_headers(headers, file, missing, out)
  local hnames = {}
  for k, v in pairs(headers or {}) do
    if type(k) ~= "string" then
      return fmt("%s: headers: expected an object of name: value, got a list", file)
    end
    if type(v) ~= "string" then return fmt("%s: headers.%s: expected string, got %s", file, tostring(k), type(v)) end
    hnames[#hnames + 1] = k
  end
  table.sort(hnames)
  for i, k in ipairs(hnames) do
    local v = expand(headers[k], "headers." .. k, missing)
    if not k:match(HEADER_NAME) or v:find("[%z\r\n]") then
      return fmt("%s: headers.%s: not a valid header name or value", file, k)
    end
    out.headers[i] = k .. ": " .. v
  end
end

-- auth: its type's fields into out.auth, their secrets into out.secrets;
-- defaults (the manifest's, for oauth2) fill the fields the file leaves out.
local function parse_auth(auth, file, missing, out, defaults)
  local t = auth.type
  local atype = AUTH_TYPES[t]
  if not atype then
    return fmt("%s: auth.type must be one of: %s (got %s)", file, sorted_names(AUTH_TYPES), tostring(t))
  end
  out.auth.type = t
  for k, v in pairs(auth) do
    if k ~= "type" then
      local f = field_of(atype, k)
      if not f then return fmt("%s: auth: unknown key '%s' for type %s", file, tostring(k), t) end
      local want = f.type or "string"
      if type(v) ~= want then return fmt("%s: auth.%s: expected %s, got %s", file, k, want, type(v)) end
      local val = expand(v, "auth." .. k, missing)
      if want == "number" then val = tostring(val) end
      -- a value with a line break would add headers of its own
      if val:find("[%z\r\n]") then
        return fmt("%s: auth.%s: contains CR, LF or NUL", file, k)
      end
      if f.header_name and not val:match(HEADER_NAME) then
        return fmt("%s: auth.%s: '%s' is not a header name", file, k, val)
      end
      if f.one_of and not field_in(f.one_of, val) then
        return fmt("%s: auth.%s: must be one of: %s (got %s)", file, k, concat(f.one_of, ", "), val)
      end
      if f.url and not val:match("^https?://[^/]") then
        return fmt("%s: auth.%s: expected an http(s) URL, got '%s'", file, k, val)
      end
      out.auth[k] = want == "number" and v or val
      if f.secret and val ~= "" then
        out.secrets[#out.secrets + 1] = val
        -- written in the file, not (only) taken from the environment
        if v:gsub("%${[%w_]+}", "") ~= "" then out.literal_secret = true end
      end
    end
  end
  for k, v in pairs(t == "oauth2" and defaults or {}) do
    if out.auth[k] == nil and field_of(atype, k) then out.auth[k] = v end
  end
  for _, f in ipairs(atype.fields) do
    if f.required and out.auth[f.name] == nil then
      return fmt("%s: auth: type %s needs '%s'", file, t, f.name)
    end
  end
  local err = atype.check and atype.check(out.auth)
  if err then return fmt("%s: auth: %s", file, err) end
end

-- ca_file: relative to the connection file, wherever the engine runs from.
local function resolve_ca_file(out, file)
  if out.ca_file:sub(1, 1) ~= "/" then
    local folder = file:match("^(.*)/[^/]*$")
    if folder then out.ca_file = folder .. "/" .. out.ca_file end
  end
  if not core.isfile(out.ca_file) then
    return fmt("%s: ca_file: %s: no such file", file, out.ca_file)
  end
end

-- Returns a table { base_url, auth = { type, ... }, headers, timeout_ms,
-- ca_file, insecure, secrets = { ... }, literal_secret = true when a
-- secret is written in the file }, or nil and a message.
-- oauth2_defaults: the connector manifest's `oauth2` (token_url, scope,
-- audience), for an oauth2 connection that leaves them out; or nil.
function _M.parse(text, file, oauth2_defaults)
  local ok, c = pcall(json.decode, text)
  if not ok then
    return nil, fmt("%s:%d: invalid JSON: %s", file, position(text, tostring(c)), tostring(c))
  end
  if type(c) ~= "table" then
    return nil, fmt("%s:1: a connection must be a JSON object", file)
  end
  local err = check_top(c, file)
  if err then return nil, err end
  local missing = {}
  local out = { base_url = expand(c.base_url, "base_url", missing), headers = {},
                timeout_ms = c.timeout_ms, ca_file = expand(c.ca_file, "ca_file", missing),
                insecure = c.insecure, secrets = {}, auth = { type = "none" } }
  err = parse_headers(c.headers, file, missing, out)
    or (c.auth and parse_auth(c.auth, file, missing, out, oauth2_defaults))
  if err then return nil, err end
  if #missing > 0 then return nil, file .. ": " .. missing[1] end
  if out.ca_file then
    err = resolve_ca_file(out, file)
    if err then return nil, err end
  end
  return out
end

return _M
