-- Import records: JSON Lines, one instance a line.  Runs in the engine's
-- host state; checks every line before anything is written.
local name, core = ...

local json = require("unhook").json

local _M = {}

local type, pairs, pcall, tostring, fmt = type, pairs, pcall, tostring, string.format

local FIELDS = { id = "string", connector = "string", event = "string", options = "table",
                 connection = "string", registration = true, state = "string",
                 desired = "string" }
local STATES = { registered = "on", off = "off", deregistering = "off", failed = "off" }

local function at(file, n)
  return file and (file .. ":" .. n) or ("line " .. n)
end

local function one(line, n, file)
  local ok, r = pcall(json.decode, line)
  if not ok then return nil, fmt("%s: invalid JSON: %s", at(file, n), tostring(r)) end
  if type(r) ~= "table" or (next(r) ~= nil and #r > 0) then
    return nil, fmt("%s: expected a JSON object", at(file, n))
  end
  for k, v in pairs(r) do
    local want = FIELDS[k]
    if not want then
      return nil, fmt("%s: unknown field '%s' (fields: connection, connector, desired, event, id, options, registration, state)",
        at(file, n), tostring(k))
    end
    if want ~= true and v ~= json.null and type(v) ~= want then
      return nil, fmt("%s: %s: expected %s, got %s", at(file, n), k,
        want == "table" and "object" or want, type(v))
    end
  end
  for _, k in ipairs({ "id", "connector", "event" }) do
    if type(r[k]) ~= "string" or r[k] == "" then
      return nil, fmt("%s: '%s' is required", at(file, n), k)
    end
  end
  for _, k in ipairs({ "id", "connector", "event", "connection", "state", "desired" }) do
    if type(r[k]) == "string" and r[k]:find("%z") then
      return nil, fmt("%s: %s: contains a NUL character", at(file, n), k)
    end
  end
  local reg = r.registration
  if reg == json.null then reg = nil end
  local state = r.state or (reg ~= nil and "registered" or "off")
  if not STATES[state] then
    return nil, fmt("%s: state '%s' cannot be imported (registered, off, deregistering, failed)",
      at(file, n), tostring(state))
  end
  if reg == nil and state ~= "off" then
    return nil, fmt("%s: state '%s' needs registration data", at(file, n), state)
  end
  local desired = r.desired or STATES[state]
  if desired ~= "on" and desired ~= "off" then
    return nil, fmt("%s: desired must be \"on\" or \"off\"", at(file, n))
  end
  if (desired == "on") ~= (state == "registered") and state ~= "failed" then
    return nil, fmt("%s: desired '%s' does not go with state '%s'", at(file, n), desired, state)
  end
  local ok1, options = pcall(json.encode, r.options or {})
  local ok2, registration = true, nil
  if reg ~= nil then ok2, registration = pcall(json.encode, reg) end
  if not ok1 or not ok2 then
    return nil, fmt("%s: %s: %s", at(file, n), ok1 and "registration" or "options",
      tostring(ok1 and registration or options))
  end
  return {
    id = r.id, connector = r.connector, event = r.event,
    options = options,
    connection = r.connection ~= json.null and r.connection or nil,
    registration = registration,
    state = state, desired = desired,
  }
end

-- Returns a list of records, or nil and "FILE:LINE: message".
function _M.parse(text, file)
  local out, seen, n = {}, {}, 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    n = n + 1
    if line:match("%S") then
      local rec, err = one(line, n, file)
      if not rec then return nil, err end
      if seen[rec.id] then
        return nil, fmt("%s: id '%s' appears twice (first on line %d)", at(file, n), rec.id, seen[rec.id])
      end
      seen[rec.id] = n
      out[#out + 1] = rec
    end
  end
  return out
end

return _M
