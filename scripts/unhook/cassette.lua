-- Cassettes: recorded HTTP exchanges as JSON Lines, one exchange a line
-- (method, url, request_headers, request_body, status, headers, body, or
-- error = {code, message}).  Runs in the engine's host state; checks
-- every line before the engine replays any.
local name, core = ...

local json = require("unhook").json

local _M = {}

local type, pairs, pcall, tostring, fmt = type, pairs, pcall, tostring, string.format

local FIELDS = { method = "string", url = "string", request_headers = "table",
                 request_body = "string", status = "number", headers = "table",
                 body = "string", json = true, error = "table", dry_run = "boolean" }

local function at(file, n)
  return file and (file .. ":" .. n) or ("line " .. n)
end

-- One exchange (a decoded line, or a table of unhook.run's http list):
-- the normalised entry, or nil and a message.
function _M.entry(r, where)
  if type(r) ~= "table" or r[1] ~= nil then return nil, fmt("%s: expected an object", where) end
  for k, v in pairs(r) do
    local want = FIELDS[k]
    if not want then
      return nil, fmt("%s: unknown field '%s' (fields: body, error, headers, json, method, "
        .. "request_body, request_headers, status, url)", where, tostring(k))
    end
    if want ~= true and type(v) ~= want then
      return nil, fmt("%s: %s: expected %s, got %s", where, k,
        want == "table" and "object" or want, type(v))
    end
  end
  if type(r.url) ~= "string" or r.url == "" then return nil, fmt("%s: 'url' is required", where) end
  if r.body ~= nil and r.json ~= nil then return nil, fmt("%s: give body or json, not both", where) end
  local e = { method = (r.method or "GET"):upper(), url = r.url, request_body = r.request_body }
  if r.error ~= nil then
    if type(r.error.code) ~= "string" then return nil, fmt("%s: error.code: expected string", where) end
    if r.error.message ~= nil and type(r.error.message) ~= "string" then
      return nil, fmt("%s: error.message: expected string", where)
    end
    e.err_code, e.err_msg = r.error.code, tostring(r.error.message or r.error.code)
    e.status, e.head, e.body = 0, "", ""
    return e
  end
  -- 200.0 is 200; 200.5, 1e999 (inf) and NaN are no status
  local status = math.tointeger(r.status or 200)
  if not status then
    return nil, fmt("%s: status: expected an integer", where)
  end
  e.status = status
  if e.status < 100 or e.status > 599 then return nil, fmt("%s: status: %d is no HTTP status", where, e.status) end
  local head, ctype = {}, false
  for k, v in pairs(r.headers or {}) do
    if type(k) ~= "string" or type(v) ~= "string" then
      return nil, fmt("%s: headers: names and values must be strings", where)
    end
    if k:find("[\r\n:]") or v:find("[\r\n]") then
      return nil, fmt("%s: headers.%s: contains CR, LF or ':'", where, k)
    end
    if k:lower() == "content-type" then ctype = true end
    head[#head + 1] = k:lower() .. ": " .. v .. "\r\n"
  end
  if r.json ~= nil then
    local ok, enc = pcall(json.encode, r.json)
    if not ok then return nil, fmt("%s: json: cannot encode: %s", where, tostring(enc)) end
    e.body = enc
    if not ctype then head[#head + 1] = "content-type: application/json\r\n" end
  else
    e.body = r.body or ""
  end
  table.sort(head)
  e.head = table.concat(head)
  return e
end

-- The entries of a cassette's text, or nil and "FILE:LINE: message".
function _M.parse(text, file)
  local list, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:find("%S") then
      local ok, r = pcall(json.decode, line)
      if not ok then return nil, fmt("%s: invalid JSON: %s", at(file, n), tostring(r)) end
      local e, err = _M.entry(r, at(file, n))
      if not e then return nil, err end
      list[#list + 1] = e
    end
  end
  return list
end

return _M
