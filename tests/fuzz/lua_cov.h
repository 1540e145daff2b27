/*
 * lua_cov.h -- coverage of Lua code for libFuzzer.  The parsers of
 * connection files and import lines are Lua (scripts/unhook/), run by
 * the system's liblua, which is not instrumented: without this, libFuzzer
 * would see none of their branches.
 */
#ifndef UNHOOK_FUZZ_LUA_COV_H
#define UNHOOK_FUZZ_LUA_COV_H

#include <lua.h>

/*
 * Count every pair of consecutive lines L runs (an edge, like
 * SanitizerCoverage's) in libFuzzer's extra counters.  Replaces L's hook:
 * use it only on the engine's host state, whose run has no deadline, so
 * its own hook does nothing.
 */
void uh_fuzz_lua_coverage(lua_State *L);

#endif
