/*
 * fuzz_connection.c -- connection files: uh_conn_load (core/conn.c) and
 * the parser it runs, scripts/unhook/connection.lua.
 *
 * Input: the file's bytes.  They are written to one temporary file per
 * process (removed after each load) and loaded through an engine opened
 * once with defaults.  Two
 * environment variables are set for "${VAR}" values:
 * UNHOOK_FUZZ_TOKEN and UNHOOK_FUZZ_USER.
 *
 * Checks: the result is UNHOOK_OK or UNHOOK_USAGE; a refusal has a clear
 * message (it begins with the file's name, not a Lua error); a loaded
 * connection is complete for its auth type, lists every secret for
 * redaction, and redaction hides each of them; nothing that becomes a
 * request header line (connection headers, Bearer or custom auth
 * header) contains CR, LF or an invalid header name; everything is
 * freed (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "lua_cov.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "fuzz_connection: check failed: %s\n  ",     \
                    #cond);                                              \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            abort();                                                     \
        }                                                                \
    } while (0)

static unhook_engine *E;
static char path[4096];

static void cleanup(void)
{
    unhook_engine_close(E);
    E = NULL;
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(path, sizeof path, "%s/unhook-fuzz-conn-%ld.json",
             tmp && *tmp ? tmp : "/tmp", (long)getpid());
    setenv("UNHOOK_FUZZ_TOKEN", "fuzz-token-0123456789", 1);
    setenv("UNHOOK_FUZZ_USER", "fuzz-user", 1);
    if (unhook_engine_open(&E, NULL) != UNHOOK_OK) {
        fprintf(stderr, "fuzz_connection: cannot open an engine\n");
        abort();
    }
    uh_fuzz_lua_coverage(E->host);
    atexit(cleanup);
}

/* RFC 9110 token characters, as connection.lua accepts header names. */
static int is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || strchr("!#$%&'*+.^_`|~-", c)))
            return 0;
    }
    return 1;
}

/* s with control bytes as \xHH, for messages (static buffer). */
static const char *shown(const char *s)
{
    static char out[1024];
    size_t k = 0;

    for (; *s && k + 5 < sizeof out; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            k += (size_t)snprintf(out + k, sizeof out - k, "\\x%02X", c);
        else
            out[k++] = (char)c;
    }
    out[k] = '\0';
    return out;
}

/* A header line as it goes to libcurl: "Name: value", no CR or LF. */
static void check_header_line(const char *what, const char *line)
{
    const char *colon = strchr(line, ':');

    CHECK(colon && is_token(line, (size_t)(colon - line)),
          "%s: \"%s\" has no valid header name", what, shown(line));
    CHECK(strpbrk(line, "\r\n") == NULL,
          "%s: header line \"%s\" contains CR or LF (header injection)", what,
          shown(line));
}

static int listed(const uh_conn *c, const char *s)
{
    for (int i = 0; i < c->nsecrets; i++)
        if (strcmp(c->secrets[i], s) == 0)
            return 1;
    return 0;
}

/* A secret made only of the mask's own characters cannot be hidden. */
static int maskable(const char *s)
{
    return s[strspn(s, "<*>")] != '\0';
}

static void check_loaded(const uh_conn *c)
{
    CHECK(c->auth >= UH_AUTH_NONE && c->auth <= UH_AUTH_QUERY, "auth %d", c->auth);
    CHECK(c->nheaders >= 0 && (c->nheaders == 0 || c->headers), "headers");
    CHECK(c->nsecrets >= 0 && (c->nsecrets == 0 || c->secrets), "secrets");
    switch (c->auth) {
    case UH_AUTH_BEARER:
        CHECK(c->secret, "bearer without a token");
        break;
    case UH_AUTH_BASIC:
        CHECK(c->username && c->secret, "basic without username or password");
        break;
    case UH_AUTH_HEADER:
    case UH_AUTH_QUERY:
        CHECK(c->auth_name && c->secret, "%s auth without name or value",
              c->auth == UH_AUTH_HEADER ? "header" : "query");
        break;
    default:
        CHECK(!c->secret, "a secret without auth");
    }
    for (int i = 0; i < c->nsecrets; i++)
        CHECK(c->secrets[i] && c->secrets[i][0], "secret %d is empty", i);
    if (c->secret && c->secret[0])
        CHECK(listed(c, c->secret), "the secret is not listed for redaction");

    for (int i = 0; i < c->nheaders; i++)
        check_header_line("headers", c->headers[i]);
    if (c->auth == UH_AUTH_BEARER) {
        uh_buf h = {0};
        uh_buf_printf(&h, "Authorization: Bearer %s", c->secret);
        check_header_line("auth.token", h.data ? h.data : "");
        uh_buf_free(&h);
    } else if (c->auth == UH_AUTH_HEADER) {
        uh_buf h = {0};
        uh_buf_printf(&h, "%s: %s", c->auth_name, c->secret);
        check_header_line("auth.name/auth.value", h.data ? h.data : "");
        uh_buf_free(&h);
    }

    /* every secret is hidden, alone and among the others */
    for (int i = 0; i < c->nsecrets; i++) {
        uh_buf in = {0};
        char *out;
        if (!maskable(c->secrets[i]))
            continue;
        uh_buf_printf(&in, "<%s>", c->secrets[i]);
        out = uh_redact(c, in.data);
        CHECK(out && !strstr(out, c->secrets[i]),
              "secret \"%s\" survives redaction: \"%s\"", c->secrets[i],
              out ? out : "(null)");
        free(out);
        uh_buf_free(&in);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f;
    uh_conn c;
    int rc;

    if (!E)
        setup();
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "fuzz_connection: cannot write %s\n", path);
        abort();
    }
    rc = uh_conn_load(E, path, &c);
    unlink(path);             /* a failed check aborts: leave nothing behind */
    if (rc == UNHOOK_OK) {
        check_loaded(&c);
    } else {
        const char *msg = unhook_errmsg(E);
        CHECK(rc == UNHOOK_USAGE, "uh_conn_load returned %d: %s", rc, msg);
        /* a Lua error escaping the parser would name its chunk instead */
        CHECK(strncmp(msg, path, strlen(path)) == 0 && msg[strlen(path)] == ':',
              "message does not name the file: %s", msg);
    }
    uh_conn_free(&c);
    return 0;
}
