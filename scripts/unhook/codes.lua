-- The numbers C and Lua exchange, defined once, in C, from its enums:
-- core.OUTCOME (unhook_outcome, plus `setup`: the flow could not start),
-- core.RC (the UNHOOK_CODES X-macro, lower case: ok, usage, invalid, ...)
-- and core.RETRY (the default retry policy).  Runtime modules read them
-- here and nowhere else.
local name, core = ...

local _M = {}

_M.OUTCOME = assert(core.OUTCOME, "core.OUTCOME missing")
_M.RC = assert(core.RC, "core.RC missing")
_M.RETRY = assert(core.RETRY, "core.RETRY missing")

return _M
