/*
 * fuzz_import.c -- JSON Lines import: unhook_import (core/lifecycle.c)
 * and the parser it runs, scripts/unhook/records.lua; unhook_export.
 *
 * Input: the JSON Lines text.  It is imported into an engine whose store
 * is a temporary file; the store is deleted and the engine reopened every
 * RESET_EVERY runs so that it stays small.
 *
 * Checks: all or nothing -- a successful import adds exactly `count`
 * instances (export has `count` more lines), a failed one adds none,
 * reports count 0 and says why, naming the line ("line N: ..."; a Lua
 * error escaping the parser names none; "instance 'x' already exists"
 * is the store's one message); every exported line is one line; every
 * imported instance exports with its connector, event, options and
 * registration unchanged, compared as JSON values (nothing is lost);
 * what export writes imports again, into a fresh store, and exports to
 * the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>
#include <lua-cjson.h>

#include "lifecycle.h"
#include "lua_cov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESET_EVERY 1000

/* The stores are removed before abort(): atexit handlers do not run. */
#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "fuzz_import: check failed: %s\n  ", #cond); \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            remove_dbs();                                                \
            abort();                                                     \
        }                                                                \
    } while (0)

typedef struct store {
    unhook_engine *E;
    char path[4096];
} store;

static store main_db, trip_db;   /* the fuzzed one; the round trip's */
static long rows;                /* instances in main_db */
static unsigned runs;

static void remove_db(const char *p)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char f[4200];

    if (!p[0])
        return;
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        snprintf(f, sizeof f, "%s%s", p, ext[i]);
        unlink(f);
    }
}

static void remove_dbs(void)
{
    remove_db(main_db.path);
    remove_db(trip_db.path);
}

/* Close s's engine, delete its store, open a new one on an empty file. */
static void reopen(store *s)
{
    unhook_config cfg;

    unhook_engine_close(s->E);
    s->E = NULL;
    remove_db(s->path);
    memset(&cfg, 0, sizeof cfg);
    cfg.db = s->path;
    if (unhook_engine_open(&s->E, &cfg) != UNHOOK_OK) {
        fprintf(stderr, "fuzz_import: cannot open an engine on %s\n", s->path);
        abort();
    }
    uh_fuzz_lua_coverage(s->E->rt.host);
}

static lua_State *plain;         /* for check_kept */

static void cleanup(void)
{
    if (plain)
        lua_close(plain);
    plain = NULL;
    unhook_engine_close(main_db.E);
    unhook_engine_close(trip_db.E);
    main_db.E = trip_db.E = NULL;
    remove_dbs();
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");

    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(main_db.path, sizeof main_db.path, "%s/unhook-fuzz-import-%ld.db",
             tmp, (long)getpid());
    snprintf(trip_db.path, sizeof trip_db.path, "%s/unhook-fuzz-trip-%ld.db",
             tmp, (long)getpid());
    reopen(&main_db);
    atexit(cleanup);
}

typedef struct lines {
    uh_buf text;
    long n;
} lines;

static int on_line(void *ud, const char *line, size_t len)
{
    lines *l = ud;

    CHECK(line && strlen(line) == len, "exported line with a NUL byte or wrong length");
    CHECK(memchr(line, '\n', len) == NULL && memchr(line, '\r', len) == NULL,
          "exported line breaks the JSON Lines format: %s", line);
    uh_buf_add(&l->text, line, len);
    uh_buf_add(&l->text, "\n", 1);
    l->n++;
    return 0;
}

static void export_all(unhook_engine *E, lines *l)
{
    int rc;

    memset(l, 0, sizeof *l);
    rc = unhook_export(E, on_line, l);
    CHECK(rc == UNHOOK_OK, "export failed (%d): %s", rc, unhook_errmsg(E));
    CHECK(!l->text.oom, "out of memory exporting");
}

/* What export wrote imports into an empty store and exports the same. */
static void check_round_trip(const lines *before)
{
    lines after;
    long count = -1;
    int rc;

    reopen(&trip_db);
    rc = unhook_import(trip_db.E, before->text.data ? before->text.data : "",
                       before->text.len, &count);
    CHECK(rc == UNHOOK_OK, "exported text does not import again (%d): %s\n%s", rc,
          unhook_errmsg(trip_db.E), before->text.data);
    CHECK(count == before->n, "re-import counted %ld of %ld", count, before->n);
    export_all(trip_db.E, &after);
    CHECK(after.text.len == before->text.len &&
              memcmp(after.text.data, before->text.data, after.text.len) == 0,
          "export -> import -> export changed the text:\n%s---\n%s",
          before->text.data, after.text.data);
    uh_buf_free(&after.text);
}

/*
 * Compare what was imported with what export gives back, as JSON values
 * decoded by lua-cjson in a plain Lua state of our own: returns nil, or
 * a message naming the first difference.
 */
static const char kept_lua[] =
    "local json, input, output = ...\n"
    "local null = json.null\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local out = {}\n"
    "for line in output:gmatch('[^\\n]+') do\n"
    "  local r = json.decode(line); out[r.id] = r\n"
    "end\n"
    "for line in (input .. '\\n'):gmatch('(.-)\\r?\\n') do\n"
    "  if line:match('%S') then\n"
    "    local r = json.decode(line)\n"
    "    local e = out[r.id]\n"
    "    if not e then return 'instance ' .. r.id .. ' was not exported' end\n"
    "    for _, k in ipairs({ 'connector', 'event' }) do\n"
    "      if e[k] ~= r[k] then return r.id .. ': ' .. k .. ' changed' end\n"
    "    end\n"
    "    local reg = r.registration; if reg == nil then reg = null end\n"
    "    if not same(r.options or {}, e.options) then\n"
    "      return r.id .. ': options changed: ' .. line\n"
    "    end\n"
    "    if not same(reg, e.registration) then\n"
    "      return r.id .. ': registration changed: ' .. line\n"
    "    end\n"
    "  end\n"
    "end\n";

/* Every imported instance exports with the data it was imported with. */
static void check_kept(const uint8_t *data, size_t size, const lines *l)
{
    int top;

    if (memchr(data, '\0', size))
        return;                   /* NUL bytes: checked by the round trip */
    for (size_t i = 0; i + 6 <= size; i++)
        if (memcmp(data + i, "\\u0000", 6) == 0)
            return;
    if (!plain) {
        plain = luaL_newstate();
        CHECK(plain, "no Lua state");
        luaL_openlibs(plain);
    }
    top = lua_gettop(plain);
    CHECK(luaL_loadbuffer(plain, kept_lua, sizeof kept_lua - 1, "=kept") == LUA_OK,
          "%s", lua_tostring(plain, -1));
    luaopen_cjson(plain);
    lua_pushlstring(plain, (const char *)data, size);
    lua_pushlstring(plain, l->text.data ? l->text.data : "", l->text.len);
    CHECK(lua_pcall(plain, 3, 1, 0) == LUA_OK, "comparing: %s", lua_tostring(plain, -1));
    CHECK(lua_isnil(plain, -1), "import did not keep what it was given: %s",
          lua_tostring(plain, -1));
    lua_settop(plain, top);
}

/* "line N: ...", as records.lua reports a bad line. */
static int names_line(const char *msg)
{
    const char *p = msg;

    if (strncmp(p, "line ", 5) != 0)
        return 0;
    for (p += 5; *p >= '0' && *p <= '9'; p++)
        ;
    return p > msg + 5 && p[0] == ':' && p[1] == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lines l;
    long count = -1;
    int rc;

    if (!main_db.E)
        setup();
    if (++runs % RESET_EVERY == 0) {
        reopen(&main_db);
        rows = 0;
    }

    rc = unhook_import(main_db.E, (const char *)data, size, &count);
    export_all(main_db.E, &l);
    if (rc == UNHOOK_OK) {
        CHECK(count >= 0, "count %ld", count);
        CHECK(l.n == rows + count, "imported %ld into %ld, export has %ld lines",
              count, rows, l.n);
        rows = l.n;
        if (count > 0) {
            check_kept(data, size, &l);
            check_round_trip(&l);
        }
    } else {
        const char *msg = unhook_errmsg(main_db.E);
        CHECK(count == 0, "failed import (%d) counted %ld", rc, count);
        CHECK(l.n == rows, "failed import (%d) changed the store: %ld -> %ld lines",
              rc, rows, l.n);
        CHECK(rc == UNHOOK_USAGE, "import returned %d: %s", rc, msg);
        CHECK(names_line(msg) || strncmp(msg, "instance '", 10) == 0,
              "message names no line (a Lua error escaped the parser?): %s", msg);
    }
    uh_buf_free(&l.text);
    return 0;
}
