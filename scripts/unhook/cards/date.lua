-- Date cards, in UTC.  A date is ISO 8601 text ("2026-11-29T06:50:52Z")
-- or a number of Unix seconds, read and written by unhook.isotime.
local name, core = ...

local card = require "unhook.card"
local schema = require "unhook.schema"
local isotime = require "unhook.isotime"

local type, error, tonumber, tostring, pcall = type, error, tonumber, tostring, pcall
local fmt, floor, tointeger = string.format, math.floor, math.tointeger
local os_date, os_time = os.date, os.time

local ISO = "%Y-%m-%dT%H:%M:%SZ"
local UNITS = { seconds = 1, minutes = 60, hours = 3600, days = 86400 }

local parse, iso, seconds = isotime.parse, isotime.iso, isotime.seconds

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
