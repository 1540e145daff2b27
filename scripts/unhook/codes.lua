-- The numbers C and Lua exchange, defined once, in C, from its enums:
-- core.OUTCOME (unhook_outcome, plus `setup`: the flow could not start),
-- core.RC (the UNHOOK_CODES X-macro, lower case: ok, usage, invalid, ...)
-- and core.RETRY (the default retry policy).  Runtime modules read them
-- here and nowhere else.
local name, core = ...

local _M = {}

-- Transitional: the same numbers, for an engine whose C does not provide
-- the tables yet.  Delete with LEGACY below once it does.
local FALLBACK = {
  OUTCOME = { done = 0, gone = 1, retry = 2, failed = 3, setup = 4 },
  RC = { ok = 0, error = 1, usage = 2, invalid = 3, store = 4, nomem = 5,
         notfound = 6, io = 7, pending = 75 },
  RETRY = { max_attempts = 8, base_ms = 1000, max_ms = 3600000 },
}

_M.OUTCOME = core.OUTCOME or FALLBACK.OUTCOME
_M.RC = core.RC or FALLBACK.RC
_M.RETRY = core.RETRY or FALLBACK.RETRY

local function names_of(t)
  local n = {}
  for k, v in pairs(t) do n[v] = k end
  return n
end

-- Transitional: a C that provides no core.OUTCOME reads the outcome as
-- its name and a setup failure's result code from `code`.
local LEGACY = core.OUTCOME == nil and {
  outcome = names_of(_M.OUTCOME), rc = names_of(_M.RC),
}

-- A runner result as this engine's C reads it (see the runner).
function _M.result(res)
  if LEGACY then
    if res.rc ~= nil then res.code, res.rc = LEGACY.rc[res.rc], nil end
    res.outcome = LEGACY.outcome[res.outcome]
  end
  return res
end

return _M
