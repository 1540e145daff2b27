/*
 * pg_token.c -- the PostgreSQL store's OAuth2 token rows (pg.h; table
 * oauth_tokens, migration 2): read, and compare-and-set on the row's
 * version, as store.h describes token_get and token_cas.  The sealed bytes
 * travel as hex (encode/decode), whatever the server's bytea_output.
 */
#include <string.h>

#include "pg.h"

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* hex text -> bytes (malloc, never NULL on success): their count, or -1
 * when out of memory, -2 for text that is not hex */
static long unhex(const char *hex, unsigned char **out)
{
    size_t n = strlen(hex) / 2;
    unsigned char *b = malloc(n ? n : 1);

    *out = NULL;
    if (!b)
        return -1;
    for (size_t k = 0; k < n; k++) {
        int hi = hexval(hex[2 * k]), lo = hexval(hex[2 * k + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -2;
        }
        b[k] = (unsigned char)(hi << 4 | lo);
    }
    *out = b;
    return (long)n;
}

static char *tohex(const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *h = malloc(2 * n + 1);

    if (!h)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        h[2 * k] = digits[b[k] >> 4];
        h[2 * k + 1] = digits[b[k] & 15];
    }
    h[2 * n] = '\0';
    return h;
}

int uh_pg_token_get(uh_store *s, const char *key, uh_token_row *out)
{
    const char *p[1] = {key};
    PGresult *r;
    long n;
    int rc = UNHOOK_OK;

    memset(out, 0, sizeof *out);
    r = uh_pg_run(s, "SELECT version, encode(sealed, 'hex'), lease_until"
                     " FROM oauth_tokens WHERE key = $1", 1, p);
    if (!r)
        return UNHOOK_STORE;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return UNHOOK_NOTFOUND;
    }
    out->key = uh_strdup(key);
    out->version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    out->lease_until = uh_pg_col_num(r, 0, 2);
    n = unhex(PQgetvalue(r, 0, 1), &out->sealed);
    if (!out->key || n < 0) {
        rc = n == -2 ? uh_pg_failmsg(s, "a token row that is not hex") : uh_pg_oom(s);
        uh_token_row_clear(out);
    } else {
        out->len = (size_t)n;
    }
    PQclear(r);
    return rc;
}

int uh_pg_token_cas(uh_store *s, const uh_token_row *in, long long expect,
                    int *cas)
{
    uh_pg_params p = {.n = 0};
    char *hex = tohex(in->sealed, in->len);
    long rows = 0;
    int rc;

    *cas = UH_CAS_LOST;
    if (!hex)
        return uh_pg_oom(s);
    uh_pg_text(&p, hex);
    uh_pg_num(&p, in->lease_until);
    uh_pg_num(&p, uh_wall_now());
    uh_pg_text(&p, in->key);
    if (expect != 0)
        uh_pg_int(&p, expect);
    rc = uh_pg_cmd(s, expect == 0
        ? "INSERT INTO oauth_tokens (sealed, lease_until, updated_at, key, version)"
          " VALUES (decode($1, 'hex'), $2, $3, $4, 1) ON CONFLICT (key) DO NOTHING"
        : "UPDATE oauth_tokens SET sealed = decode($1, 'hex'), lease_until = $2,"
          " updated_at = $3, version = version + 1 WHERE key = $4 AND version = $5",
        p.n, p.v, &rows);
    free(hex);
    if (rc == UNHOOK_OK && rows == 1)
        *cas = UH_CAS_OK;
    return rc;
}
