/*
 * fuzz_connection.c -- connection files: uh_conn_load (core/conn.c) and
 * the parser it runs, scripts/unhook/connection.lua.
 *
 * Input: the file's bytes.  They are written to one temporary file per
 * process, mode 0600 (removed after each load), and loaded through the
 * runtime of an engine opened once with defaults.  Two
 * environment variables are set for "${VAR}" values:
 * UNHOOK_FUZZ_TOKEN and UNHOOK_FUZZ_USER.
 *
 * Checks: the result is UNHOOK_OK or UNHOOK_USAGE; a refusal has a clear
 * message (it begins with the file's name, not a Lua error); a loaded
 * connection's auth is NULL or an entry of auth.c's table, and complete
 * for its type (what its apply hands a request is there); it lists every
 * secret for redaction, and redaction hides each of them; nothing that
 * becomes a request header line (connection headers, the line the auth
 * type's apply builds) contains CR, LF or an invalid header name;
 * everything is freed (LeakSanitizer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "conn.h"
#include "lifecycle.h"
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
    uh_fuzz_lua_coverage(E->rt.host);
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
    for (int i = 0; i < c->secrets.n; i++)
        if (strcmp(c->secrets.v[i], s) == 0)
            return 1;
    return 0;
}

/* A secret made only of the mask's own characters cannot be hidden. */
static int maskable(const char *s)
{
    return s[strspn(s, "<*>")] != '\0';
}

static int is(const uh_conn *c, const char *type)
{
    return c->auth && strcmp(c->auth->name, type) == 0;
}

/* s is hidden by redaction with c's secrets. */
static void check_hidden(const uh_conn *c, const char *what, const char *s)
{
    uh_buf in = {0};
    char *out;

    if (!s || !s[0] || !maskable(s))
        return;
    uh_buf_printf(&in, "<%s>", s);
    out = uh_redact(&c->secrets, in.data);
    CHECK(out && !strstr(out, s), "%s \"%s\" survives redaction: \"%s\"", what,
          shown(s), out ? shown(out) : "(null)");
    free(out);
    uh_buf_free(&in);
}

static void check_loaded(const uh_conn *c)
{
    uh_auth_req req = {0};

    /* the auth type is one of auth.c's table, found by its own name */
    CHECK(!c->auth || (c->auth->name && uh_auth_find(c->auth->name) == c->auth),
          "auth %p is not an entry of the table", (const void *)c->auth);
    CHECK(c->auth || strcmp(uh_conn_auth_name(c), "none") == 0, "no auth but a name");
    CHECK(c->nheaders >= 0 && (c->nheaders == 0 || c->headers), "headers");
    CHECK(c->secrets.n >= 0 && (c->secrets.n == 0 || c->secrets.v), "secrets");
    if (is(c, "bearer"))
        CHECK(c->secret, "bearer without a token");
    else if (is(c, "basic"))
        CHECK(c->username && c->secret, "basic without username or password");
    else if (is(c, "header") || is(c, "query"))
        CHECK(c->auth_name && c->secret, "%s auth without name or value",
              c->auth->name);
    else
        CHECK(!c->auth && !c->secret, "a secret without a known auth type (%s)",
              uh_conn_auth_name(c));
    for (int i = 0; i < c->secrets.n; i++)
        CHECK(c->secrets.v[i] && c->secrets.v[i][0], "secret %d is empty", i);
    if (c->secret && c->secret[0])
        CHECK(listed(c, c->secret), "the secret is not listed for redaction");

    for (int i = 0; i < c->nheaders; i++)
        check_header_line("headers", c->headers[i]);

    /* what a request to the origin carries, as the auth type builds it */
    if (c->auth && c->auth->apply) {
        c->auth->apply(c, &req);
        if (req.header) {
            check_header_line(c->auth->name, req.header);
            check_hidden(c, "the auth header's value", strchr(req.header, ':') + 1);
        }
        if (req.query_name)
            CHECK(req.query_value && req.query_name[0],
                  "query auth: empty parameter name or no value");
        if (req.user)
            CHECK(req.password, "basic auth: a user without a password");
        CHECK(req.header || req.query_name || req.user,
              "auth type %s gives a request no credentials", c->auth->name);
        uh_auth_req_free(&req);
    }

    /* every secret is hidden, alone and among the others */
    for (int i = 0; i < c->secrets.n; i++)
        check_hidden(c, "secret", c->secrets.v[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f;
    uh_conn c;
    int fd, rc;

    if (!E)
        setup();
    /* 0600: a file others may write is refused when it holds a secret */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    f = fd < 0 ? NULL : fdopen(fd, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "fuzz_connection: cannot write %s\n", path);
        abort();
    }
    rc = uh_conn_load(&E->rt, path, &c);
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
