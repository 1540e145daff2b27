-- Date cards, in UTC.  A date is ISO 8601 text ("2026-11-29T06:50:52Z")
-- or a number of Unix seconds.  Calendar arithmetic is done here, from
-- civil dates: os.time{...} reads its table as local time.
local name, core = ...

local card = require "unhook.card"
local schema = require "unhook.schema"

local type, error, tonumber, tostring, pcall = type, error, tonumber, tostring, pcall
local fmt, floor, tointeger = string.format, math.floor, math.tointeger
local os_date, os_time = os.date, os.time

local ISO = "%Y-%m-%dT%H:%M:%SZ"
local UNITS = { seconds = 1, minutes = 60, hours = 3600, days = 86400 }

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
local function parse(text)
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
local function iso(secs)
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
local function seconds(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return nil, "expected a finite number of seconds"
    end
    return v
  end
  if type(v) == "string" then
    local secs, err = parse(v)
    if not secs then return nil, fmt("'%s': %s", v, err) end
    return secs
  end
  return nil, "expected ISO 8601 text or Unix seconds, got " .. schema.kind(v)
end

-- Whole numbers as integers: 2.0 days reads as 2.
local function tidy(x)
  return tointeger(x) or x
end

local function unit_of(unit)
  local n = UNITS[unit]
  if n then return n end
  return nil, fmt("expected seconds, minutes, hours or days, got '%s'", unit)
end

return {
  card.new {
    name = "date.now",
    description = "The current time as ISO 8601 text in UTC.",
    inputs = {},
    outputs = { { name = "date", type = "string" } },
    run = function()
      return iso(os_time())
    end,
  },
  card.new {
    name = "date.parse",
    description = "Unix seconds of ISO 8601 text (Z or an offset; fractional seconds kept).",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "seconds", type = "number" } },
    run = function(text)
      local secs, err = parse(text)
      if not secs then error(fmt("date.parse: input 'text': '%s': %s", text, err), 2) end
      return secs
    end,
  },
  card.new {
    name = "date.format",
    description = "Format a date in UTC with an os.date pattern (default ISO 8601).",
    inputs = { { name = "date", type = "any", required = true },
               { name = "pattern", type = "string", default = ISO } },
    outputs = { { name = "text", type = "string" } },
    run = function(date, pattern)
      local secs, err = seconds(date)
      if not secs then error("date.format: input 'date': " .. err, 2) end
      if pattern:sub(1, 2) == "*t" then
        error("date.format: input 'pattern': '*t' makes a table, not text", 2)
      end
      local ok, s = pcall(os_date, "!" .. pattern, floor(secs))
      if not ok or type(s) ~= "string" then
        local why = tostring(s):gsub("^bad argument #1 to '[^']*' %((.*)%)$", "%1")
        error("date.format: input 'pattern': " .. why, 2)
      end
      return s
    end,
  },
  card.new {
    name = "date.add",
    description = "The date plus an amount (negative: minus) of seconds, minutes, hours or days, as ISO 8601.",
    inputs = { { name = "date", type = "any", required = true },
               { name = "amount", type = "number", required = true },
               { name = "unit", type = "string", default = "seconds" } },
    outputs = { { name = "date", type = "string" } },
    run = function(date, amount, unit)
      local secs, err = seconds(date)
      if not secs then error("date.add: input 'date': " .. err, 2) end
      local n, uerr = unit_of(unit)
      if not n then error("date.add: input 'unit': " .. uerr, 2) end
      return iso(secs + amount * n)
    end,
  },
  card.new {
    name = "date.diff",
    description = "to minus from, in seconds, minutes, hours or days (a number, fractional when it has to be).",
    inputs = { { name = "from", type = "any", required = true },
               { name = "to", type = "any", required = true },
               { name = "unit", type = "string", default = "seconds" } },
    outputs = { { name = "difference", type = "number" } },
    run = function(from, to, unit)
      local a, aerr = seconds(from)
      if not a then error("date.diff: input 'from': " .. aerr, 2) end
      local b, berr = seconds(to)
      if not b then error("date.diff: input 'to': " .. berr, 2) end
      local n, uerr = unit_of(unit)
      if not n then error("date.diff: input 'unit': " .. uerr, 2) end
      if n == 1 then return tidy(b - a) end
      return tidy((b - a) / n)
    end,
  },
}
