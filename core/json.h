/*
 * json.h -- private: the one JSON writer of the engine, over uh_buf.
 * Keys are written in the order the caller gives them; every caller gives
 * them sorted, so all JSON unhook prints or stores is deterministic.
 */
#ifndef UNHOOK_JSON_H
#define UNHOOK_JSON_H

#include <stddef.h>
#include <lua.h>

#include "unhook.h"
#include "util.h"

/*
 * Escapes beyond the ones JSON requires ('"', '\\' and every control byte
 * as \u00XX).  The texts unhook wrote before there was one writer differ
 * only here, and each keeps its bytes: list/show/history and "k=v" pairs
 * use none, export lines UH_JSON_ESC_NRT, unhook.json.encode all.
 */
enum {
    UH_JSON_ESC_NONE = 0,
    UH_JSON_ESC_NRT = 1,        /* \n \r \t as two-character escapes */
    UH_JSON_ESC_BF = 2,         /* \b \f likewise */
    UH_JSON_ESC_DEL = 4,        /* DEL (0x7f) as \u007f */
    UH_JSON_ESC_LUA = UH_JSON_ESC_NRT | UH_JSON_ESC_BF | UH_JSON_ESC_DEL
};

/* A string of n bytes, quoted and escaped (esc: UH_JSON_ESC_* bits). */
void uh_json_str(uh_buf *b, const char *s, size_t n, int esc);

/*
 * Containers: *count is the number of members written so far.  A member
 * opens the container (open: '{' or '[') when it is the first, else
 * writes a comma; uh_json_end writes "{}" or "[]" for an empty one.
 */
void uh_json_member(uh_buf *b, int *count, char open);
void uh_json_key(uh_buf *b, int *count, const char *k, size_t n, int esc);
void uh_json_end(uh_buf *b, int count, char open, char close);

void uh_json_int(uh_buf *b, long long v);
/* A time (or any number) to the millisecond, without trailing zeros. */
void uh_json_time(uh_buf *b, double v);
/* JSON text as it is; NULL is null. */
void uh_json_raw(uh_buf *b, const char *json);

/*
 * One line of `unhook export` (keys connection, connector, desired, event,
 * id, options, registration, state; options and registration are JSON
 * text).  Appends to b; b->oom tells whether it fit.
 */
void uh_json_export_line(uh_buf *b, const unhook_instance *i);

/*
 * Encode the Lua value at idx as unhook.json.encode does: object keys
 * sorted, whole numbers exact, other numbers with 17 digits, cjson.null
 * (a NULL light userdata) as null, an empty table whose metatable is
 * named "unhook.json.array" as [], nesting limited to 100.  Appends to
 * out and returns 0; or returns -1 with the message in err and out as it
 * was.  Runs protected: raises no error, leaves the stack as it was.
 */
int uh_json_encode_lua(lua_State *L, int idx, uh_buf *out, char *err, size_t errsz);

#endif
