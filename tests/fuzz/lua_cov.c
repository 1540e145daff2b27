/*
 * lua_cov.c -- Lua line-pair coverage in libFuzzer's extra counters
 * (see lua_cov.h).
 */
#include <stdint.h>
#include <string.h>

#include "lua_cov.h"

#define NCOUNTERS (1u << 16)

/* libFuzzer reads every counter in this section after each input. */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t counters[NCOUNTERS];

static uint32_t prev;

/* The chunk's name, not its address: engines are reopened. */
static uint32_t where(const lua_Debug *ar)
{
    uint32_t h = 2166136261u;

    for (const char *p = ar->short_src; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (h ^ (uint32_t)ar->currentline) * 2654435761u;
}

static void line_hook(lua_State *L, lua_Debug *ar)
{
    uint32_t cur;

    if (ar->event != LUA_HOOKLINE || !lua_getinfo(L, "S", ar))
        return;
    cur = where(ar);
    if (counters[(cur ^ prev) % NCOUNTERS] < 255)
        counters[(cur ^ prev) % NCOUNTERS]++;
    prev = cur >> 1;
}

void uh_fuzz_lua_coverage(lua_State *L)
{
    prev = 0;
    lua_sethook(L, line_hook, LUA_MASKLINE, 0);
}
