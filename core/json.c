/*
 * json.c -- the JSON writer, the JSON renderings of the public API and
 * the encoder of Lua values (unhook.json.encode).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "json.h"

/* ---- the writer ------------------------------------------------------- */

/* The two-character escape of c under esc, or 0. */
static char short_escape(unsigned char c, int esc)
{
    switch (c) {
    case '\n': return esc & UH_JSON_ESC_NRT ? 'n' : 0;
    case '\r': return esc & UH_JSON_ESC_NRT ? 'r' : 0;
    case '\t': return esc & UH_JSON_ESC_NRT ? 't' : 0;
    case '\b': return esc & UH_JSON_ESC_BF ? 'b' : 0;
    case '\f': return esc & UH_JSON_ESC_BF ? 'f' : 0;
    default: return 0;
    }
}

void uh_json_str(uh_buf *b, const char *s, size_t n, int esc)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    uh_buf_add(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[6] = {'\\', short_escape(c, esc), '0', '0', 0, 0};

        if (c >= 0x20 && c != '"' && c != '\\' && !(c == 0x7f && esc & UH_JSON_ESC_DEL))
            continue;
        uh_buf_add(b, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\')
            e[1] = (char)c;
        if (e[1]) {
            uh_buf_add(b, e, 2);
            continue;
        }
        e[1] = 'u';
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        uh_buf_add(b, e, 6);
    }
    uh_buf_add(b, s + run, n - run);
    uh_buf_add(b, "\"", 1);
}

void uh_json_member(uh_buf *b, int *count, char open)
{
    uh_buf_add(b, (*count)++ ? "," : &open, 1);
}

void uh_json_key(uh_buf *b, int *count, const char *k, size_t n, int esc)
{
    uh_json_member(b, count, '{');
    uh_json_str(b, k, n, esc);
    uh_buf_add(b, ":", 1);
}

void uh_json_end(uh_buf *b, int count, char open, char close)
{
    if (!count)
        uh_buf_add(b, &open, 1);
    uh_buf_add(b, &close, 1);
}

void uh_json_int(uh_buf *b, long long v)
{
    uh_buf_printf(b, "%lld", v);
}

/* Seconds with milliseconds, trailing zeros cut.  A time no calendar
 * holds (an expiry of 1e300 a provider sent) would not fit the buffer in
 * fixed point: exponent form, which does; not a number: null. */
void uh_json_time(uh_buf *b, double v)
{
    char buf[64];
    size_t n;

    if (!isfinite(v)) {
        uh_buf_add(b, "null", 4);
        return;
    }
    if (fabs(v) >= 1e15) {
        n = (size_t)snprintf(buf, sizeof buf, "%.17g", v);
        uh_buf_add(b, buf, n < sizeof buf ? n : sizeof buf - 1);
        return;
    }
    n = (size_t)snprintf(buf, sizeof buf, "%.3f", v);
    while (n > 0 && buf[n - 1] == '0')
        n--;
    if (n > 0 && buf[n - 1] == '.')
        n--;
    uh_buf_add(b, buf, n);
}

void uh_json_raw(uh_buf *b, const char *json)
{
    uh_buf_puts(b, json ? json : "null");
}

/* ---- renderings of the public structs --------------------------------- */

/* A flat object under construction: its members and their escapes. */
typedef struct flat {
    uh_buf b;
    int n, esc;
} flat;

/* A string member (NULL is null); raw: v is JSON text already. */
static void field(flat *f, const char *k, const char *v, int raw)
{
    uh_json_key(&f->b, &f->n, k, strlen(k), f->esc);
    if (raw || !v)
        uh_json_raw(&f->b, v);
    else
        uh_json_str(&f->b, v, strlen(v), f->esc);
}

static void field_int(flat *f, const char *k, long long v)
{
    uh_json_key(&f->b, &f->n, k, strlen(k), f->esc);
    uh_json_int(&f->b, v);
}

static void field_time(flat *f, const char *k, double v)
{
    uh_json_key(&f->b, &f->n, k, strlen(k), f->esc);
    uh_json_time(&f->b, v);
}

/* Close the object and hand its text over; NULL if memory ran out. */
static char *flat_take(flat *f)
{
    uh_json_end(&f->b, f->n, '{', '}');
    if (f->b.oom) {
        uh_buf_free(&f->b);
        return NULL;
    }
    return uh_buf_take(&f->b);
}

char *unhook_instance_json(const unhook_instance *i)
{
    flat f = {{0}, 0, UH_JSON_ESC_NONE};

    field_int(&f, "attempts", i->attempts);
    field(&f, "connection", i->connection, 0);
    field(&f, "connector", i->connector, 0);
    field_time(&f, "created_at", i->created_at);
    field(&f, "desired", i->desired, 0);
    field(&f, "event", i->event, 0);
    if (i->expires_at > 0)
        field_time(&f, "expires_at", i->expires_at);
    field(&f, "id", i->id, 0);
    field(&f, "last_error", i->last_error, 0);
    field_time(&f, "next_attempt_at", i->next_attempt_at);
    field(&f, "options", i->options, 1);
    field(&f, "reason", i->reason, 0);
    field(&f, "registration", i->registration, 1);
    field(&f, "state", i->state, 0);
    field_time(&f, "updated_at", i->updated_at);
    return flat_take(&f);
}

char *unhook_history_json(const unhook_history *h)
{
    flat f = {{0}, 0, UH_JSON_ESC_NONE};

    field(&f, "action", h->action, 0);
    field_time(&f, "at", h->at);
    field_int(&f, "attempt", h->attempt);
    field(&f, "instance_id", h->instance_id, 0);
    field(&f, "message", h->message, 0);
    field(&f, "outcome", h->outcome, 0);
    field(&f, "registration", h->registration, 1);
    field_int(&f, "status", h->status);
    return flat_take(&f);
}

char *unhook_pairs_json(const char *const *pairs, size_t n)
{
    flat f = {{0}, 0, UH_JSON_ESC_NONE};
    size_t k;

    for (k = 0; k < n; k++) {
        const char *eq = strchr(pairs[k], '=');
        if (!eq || eq == pairs[k]) {
            uh_buf_free(&f.b);
            return NULL;
        }
        uh_json_key(&f.b, &f.n, pairs[k], (size_t)(eq - pairs[k]), f.esc);
        uh_json_str(&f.b, eq + 1, strlen(eq + 1), f.esc);
    }
    return flat_take(&f);
}

void unhook_free(void *p)
{
    free(p);
}

void uh_json_export_line(uh_buf *b, const unhook_instance *i)
{
    flat f = {{0}, 0, UH_JSON_ESC_NRT};

    f.b = *b;
    field(&f, "connection", i->connection, 0);
    field(&f, "connector", i->connector, 0);
    field(&f, "desired", i->desired, 0);
    field(&f, "event", i->event, 0);
    field(&f, "id", i->id, 0);
    field(&f, "options", i->options, 1);
    field(&f, "registration", i->registration, 1);
    field(&f, "state", i->state, 0);
    uh_json_end(&f.b, f.n, '{', '}');
    *b = f.b;
}

/* ---- Lua values ------------------------------------------------------- */

#define MAX_DEPTH 100

static int encode_value(lua_State *L, int idx, uh_buf *b, int depth);

/* Raise msg as the encoder's error (caught by uh_json_encode_lua). */
static int fail(lua_State *L, const char *msg)
{
    lua_pushstring(L, msg);
    return lua_error(L);
}

/* Whole numbers exactly (ids!), others with every digit a double has. */
static void encode_number(lua_State *L, int idx, uh_buf *b)
{
    lua_Number v;

    if (lua_isinteger(L, idx)) {
        uh_json_int(b, (long long)lua_tointeger(L, idx));
        return;
    }
    v = lua_tonumber(L, idx);
    if (isnan(v) || isinf(v)) {
        lua_pushvalue(L, idx);
        lua_pushfstring(L, "cannot encode %s as JSON", lua_tostring(L, -1));
        lua_error(L);
    }
    if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == floor(v))
        uh_json_int(b, (long long)v);
    else
        uh_buf_printf(b, "%.17g", v);
}

/* Whether the table at idx has the array marker for a metatable. */
static int has_array_marker(lua_State *L, int idx)
{
    int yes;

    if (!lua_getmetatable(L, idx))
        return 0;
    lua_pushliteral(L, "__name");
    lua_rawget(L, -2);
    yes = lua_type(L, -1) == LUA_TSTRING
          && strcmp(lua_tostring(L, -1), "unhook.json.array") == 0;
    lua_pop(L, 2);
    return yes;
}

/*
 * Push a new sequence of the keys of the table at idx, visited as pairs()
 * does (its __pairs metamethod if any); returns how many.
 */
static lua_Integer collect_keys(lua_State *L, int idx)
{
    lua_Integer n = 0;

    lua_newtable(L);                              /* stack: keys */
    if (luaL_getmetafield(L, idx, "__pairs") == LUA_TNIL) {
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_rawseti(L, -3, ++n);
        }
        return n;
    }
    lua_pushvalue(L, idx);
    lua_call(L, 1, 3);                            /* stack: keys f s ctl */
    for (;;) {
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_pushvalue(L, -3);
        lua_call(L, 2, 1);                        /* stack: keys f s ctl k */
        if (lua_isnil(L, -1))
            break;
        lua_pushvalue(L, -1);
        lua_rawseti(L, -6, ++n);
        lua_replace(L, -2);
    }
    lua_pop(L, 4);
    return n;
}

static void encode_array(lua_State *L, int idx, uh_buf *b, lua_Integer n, int depth)
{
    lua_Integer i;
    int count = 0;

    for (i = 1; i <= n; i++) {
        uh_json_member(b, &count, '[');
        lua_geti(L, idx, i);
        encode_value(L, lua_gettop(L), b, depth + 1);
        lua_pop(L, 1);
    }
    uh_json_end(b, count, '[', ']');
}

/* A key as text, for sorting: the string and its length. */
typedef struct key {
    const char *s;
    size_t len;
} key;

/* Lua's string order (strcoll, past embedded zeros), as table.sort uses. */
static int key_cmp(const void *pa, const void *pb)
{
    const key *a = pa, *b = pb;
    const char *l = a->s, *r = b->s;
    size_t ll = a->len, lr = b->len;

    for (;;) {
        int t = strcoll(l, r);
        size_t len;
        if (t != 0)
            return t;
        len = strlen(l);
        if (len == lr)
            return len == ll ? 0 : 1;
        if (len == ll)
            return -1;
        len++;
        l += len, ll -= len, r += len, lr -= len;
    }
}

/*
 * The keys of the table sequence at keys as strings (numbers as tostring
 * gives them), pinned in that sequence; NULL after raising for a key of
 * another type.
 */
static key *key_texts(lua_State *L, int keys, lua_Integer n)
{
    key *k = lua_newuserdatauv(L, (size_t)n * sizeof *k + 1, 0);
    lua_Integer i;

    for (i = 1; i <= n; i++) {
        int t = lua_rawgeti(L, keys, i);
        if (t != LUA_TSTRING && t != LUA_TNUMBER) {
            lua_pushfstring(L, "cannot encode JSON: object key of type %s",
                            lua_typename(L, t));
            lua_error(L);
        }
        k[i - 1].s = lua_tolstring(L, -1, &k[i - 1].len);
        lua_rawseti(L, keys, i);                  /* keep the string alive */
    }
    return k;
}

static void encode_object(lua_State *L, int idx, uh_buf *b, int keys, lua_Integer n,
                          int depth)
{
    key *k = key_texts(L, keys, n);               /* stack: ... keys texts */
    lua_Integer i;
    int count = 0;

    qsort(k, (size_t)n, sizeof *k, key_cmp);
    for (i = 0; i < n; i++) {
        uh_json_key(b, &count, k[i].s, k[i].len, UH_JSON_ESC_LUA);
        lua_pushlstring(L, k[i].s, k[i].len);
        if (lua_gettable(L, idx) == LUA_TNIL) {
            lua_pop(L, 1);
            /* v[tonumber(k)]; a string with a zero byte is no number */
            if (strlen(k[i].s) != k[i].len || !lua_stringtonumber(L, k[i].s))
                lua_pushnil(L);
            lua_gettable(L, idx);
        }
        encode_value(L, lua_gettop(L), b, depth + 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    uh_json_end(b, count, '{', '}');
}

static void encode_table(lua_State *L, int idx, uh_buf *b, int depth)
{
    lua_Integer n, count;

    if (depth > MAX_DEPTH)
        fail(L, "cannot encode JSON: nesting deeper than 100 (a cycle?)");
    luaL_checkstack(L, 8, "cannot encode JSON");
    n = luaL_len(L, idx);
    count = collect_keys(L, idx);                 /* stack: ... keys */
    if ((n > 0 && n == count) || (count == 0 && has_array_marker(L, idx)))
        encode_array(L, idx, b, n, depth);
    else
        encode_object(L, idx, b, lua_gettop(L), count, depth);
    lua_pop(L, 1);
}

static int encode_value(lua_State *L, int idx, uh_buf *b, int depth)
{
    size_t len;
    const char *s;

    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        uh_buf_puts(b, "null");
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL)  /* cjson.null is NULL */
            return fail(L, "cannot encode a userdata as JSON");
        uh_buf_puts(b, "null");
        break;
    case LUA_TBOOLEAN:
        uh_buf_puts(b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        encode_number(L, idx, b);
        break;
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        uh_json_str(b, s, len, UH_JSON_ESC_LUA);
        break;
    case LUA_TTABLE:
        encode_table(L, idx, b, depth);
        break;
    default:
        lua_pushfstring(L, "cannot encode a %s as JSON", luaL_typename(L, idx));
        return lua_error(L);
    }
    return 0;
}

/* stack: buffer (light userdata), value */
static int encode_main(lua_State *L)
{
    uh_buf *b = lua_touserdata(L, 1);

    encode_value(L, 2, b, 0);
    return 0;
}

int uh_json_encode_lua(lua_State *L, int idx, uh_buf *out, char *err, size_t errsz)
{
    size_t start = out->len;
    const char *msg = NULL;
    int st;

    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 3)) {
        snprintf(err, errsz, "cannot encode JSON: stack overflow");
        return -1;
    }
    lua_pushcfunction(L, encode_main);
    lua_pushlightuserdata(L, out);
    lua_pushvalue(L, idx);
    st = lua_pcall(L, 2, 0, 0);
    if (st == LUA_OK && out->oom)
        msg = "not enough memory";
    else if (st != LUA_OK)
        msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
              : "cannot encode JSON: error object is not a string";
    if (msg) {
        snprintf(err, errsz, "%s", msg);
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    if (st != LUA_OK)
        lua_pop(L, 1);
    return msg ? -1 : 0;
}
