-- Time as ISO 8601 text and Unix seconds, in UTC: what the date cards
-- read and write, and the expiry of a subscription an event renews
-- (renewal.expires).  Calendar arithmetic is done here, from civil dates:
-- os.time{...} reads its table as local time.
local schema = require "unhook.schema"

local _M = {}

local type, tonumber, tostring = type, tonumber, tostring
local fmt, floor = string.format, math.floor

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
-- days_from_civil).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_in_month(y, m)
  if m == 2 then
    return (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28
  end
  return (m == 4 or m == 6 or m == 9 or m == 11) and 30 or 31
end

-- Unix seconds of ISO 8601 text, or nil and why not.  Accepts a date
-- ("2026-11-29", midnight UTC) or a date and time with seconds, optional
-- fraction and a zone: "Z" or an offset "+hh:mm" / "-hh:mm" / "+hhmm".
function _M.parse(text)
  local y, mo, d, rest = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil, "expected a date like 2026-11-29T06:50:52Z" end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 then return nil, fmt("month %d is out of range", mo) end
  if d < 1 or d > days_in_month(y, mo) then
    return nil, fmt("day %d is out of range for %04d-%02d", d, y, mo)
  end
  local secs = days_from_civil(y, mo, d) * 86400
  if rest == "" then return secs end
  local h, mi, s, frac, zone = rest:match("^[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not h then return nil, "expected a time like T06:50:52 after the date" end
  if frac == "." then return nil, "expected digits after the decimal point" end
  h, mi, s = tonumber(h), tonumber(mi), tonumber(s)
  if h > 23 or mi > 59 or s > 59 then
    return nil, fmt("time %02d:%02d:%02d is out of range", h, mi, s)
  end
  local offset
  if zone == "Z" or zone == "z" then
    offset = 0
  else
    local sign, oh, om = zone:match("^([+-])(%d%d):?(%d%d)$")
    if not sign then
      if zone == "" then return nil, "no time zone (end with Z or an offset like +02:00)" end
      return nil, fmt("bad time zone '%s' (expected Z or an offset like +02:00)", zone)
    end
    oh, om = tonumber(oh), tonumber(om)
    if oh > 23 or om > 59 then return nil, fmt("offset %s is out of range", zone) end
    offset = (oh * 3600 + om * 60) * (sign == "-" and -1 or 1)
  end
  secs = secs + h * 3600 + mi * 60 + s - offset
  if frac ~= "" then secs = secs + tonumber("0" .. frac) end
  return secs
end

-- ISO 8601 text of Unix seconds, with milliseconds when not whole.
function _M.iso(secs)
  local whole = floor(secs)
  local ms = floor((secs - whole) * 1000 + 0.5)
  if ms == 1000 then whole, ms = whole + 1, 0 end
  local days, rem = whole // 86400, whole % 86400
  local y, m, d = civil_from_days(days)
  local s = fmt("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, rem // 3600, rem % 3600 // 60, rem % 60)
  if ms > 0 then s = s .. fmt(".%03d", ms) end
  return s .. "Z"
end

-- Unix seconds of a date input, or nil and a message.
function _M.seconds(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return nil, "expected a finite number of seconds"
    end
    return v
  end
  if type(v) == "string" then
    local secs, err = _M.parse(v)
    if not secs then return nil, fmt("'%s': %s", v, err) end
    return secs
  end
  return nil, "expected ISO 8601 text or Unix seconds, got " .. schema.kind(v)
end

-- The expiry in registration data at path ("expirationDateTime",
-- "subscription.expires_at"): ISO 8601 text, or epoch seconds as a
-- number or a string of digits.  Unix seconds, or nil and why not.
function _M.expiry(data, path)
  local v = data
  for part in path:gmatch("[^%.]+") do
    if type(v) ~= "table" then v = nil break end
    v = v[part]
  end
  if v == nil then return nil, fmt("no field '%s'", path) end
  if type(v) == "string" and v:match("^%d+%.?%d*$") then v = tonumber(v) end
  local secs, err = _M.seconds(v)
  if not secs then return nil, err end
  if secs <= 0 then return nil, fmt("%s is not a time", tostring(v)) end
  -- past 9999-12-31T23:59:59Z: no date, or epoch milliseconds (Google
  -- Drive's "expiration") taken for seconds, which would never renew
  if secs > 253402300799 then
    return nil, fmt("%s is after the year 9999 (epoch milliseconds? seconds are expected)",
      tostring(v))
  end
  return secs
end

return _M
