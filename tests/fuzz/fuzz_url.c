/*
 * fuzz_url.c -- URL templates, escaping, resolution and host extraction
 * (core/url.c).
 *
 * Input, one item a line:
 *   line 1   a URL template ("/repos/{owner}/hooks/{id}")
 *   line 2   a base URL ("https://api.example.com/v3")
 *   line 3+  path values, "name=value" (at most 8)
 *
 * Checks: escaping equals libcurl's curl_easy_escape and decodes back
 * (curl_easy_unescape) to the input; a successful expansion equals the
 * one a small reference expander below computes, and a failed one says
 * what the reference says is wrong; a relative reference never changes
 * the base's host; uh_url_host stays inside its buffer and names the host
 * libcurl would connect to.
 *
 * The oracles are written independently of core/url.c on purpose: the
 * escaping one is libcurl's, the expansion one is a one-pass state
 * machine, and "absolute" is a POSIX regular expression, so that a slip
 * in the engine's code is not repeated in the check.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <regex.h>

#include <curl/curl.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUES 8

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "fuzz_url: check failed: %s\n  ", #cond);    \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            abort();                                                     \
        }                                                                \
    } while (0)

typedef struct span {
    const char *p;
    size_t n;
} span;

typedef struct values {
    span name[MAX_VALUES], value[MAX_VALUES];
    int n;
    const char *tmpl;         /* to check that names point into it */
    size_t tmpl_len;
} values;

static const char *lookup(void *ud, const char *name, size_t n, size_t *vlen)
{
    values *v = ud;

    CHECK(n > 0, "empty placeholder name passed to the lookup");
    CHECK(name >= v->tmpl && name + n <= v->tmpl + v->tmpl_len,
          "placeholder name outside the template");
    CHECK(memchr(name, '}', n) == NULL, "name \"%.*s\" contains '}'", (int)n, name);
    for (int i = 0; i < v->n; i++)
        if (v->name[i].n == n && memcmp(v->name[i].p, name, n) == 0) {
            *vlen = v->value[i].n;
            return v->value[i].p;
        }
    return NULL;
}

static const span *find(const values *v, const char *name, size_t n)
{
    for (int i = 0; i < v->n; i++)
        if (v->name[i].n == n && memcmp(v->name[i].p, name, n) == 0)
            return &v->value[i];
    return NULL;
}

/* The reference escaping: libcurl's (RFC 3986: ALPHA DIGIT - . _ ~ kept,
 * every other byte as %HH), as a buffer the caller frees with free(). */
static char *ref_escape(const char *s, size_t n, size_t *len)
{
    char *e = curl_easy_escape(NULL, n ? s : "", (int)n), *copy;

    CHECK(e != NULL, "curl_easy_escape failed on %zu bytes", n);
    *len = strlen(e);
    copy = malloc(*len + 1);
    CHECK(copy != NULL, "out of memory");
    memcpy(copy, e, *len + 1);
    curl_free(e);
    return copy;
}

/* Escaping: the same bytes as libcurl's, and they decode back to s. */
static void check_escape(const char *s, size_t n)
{
    uh_buf b = {0};
    size_t wlen;
    char *want = ref_escape(s, n, &wlen), *back;
    int blen = 0;

    uh_url_escape(&b, s, n);
    CHECK(!b.oom, "out of memory escaping %zu bytes", n);
    CHECK(b.len == wlen && (wlen == 0 || memcmp(b.data, want, wlen) == 0),
          "escaped \"%.*s\" as \"%.*s\", libcurl says \"%s\"", (int)n, s,
          (int)b.len, b.data ? b.data : "", want);
    back = curl_easy_unescape(NULL, b.data ? b.data : "", (int)b.len, &blen);
    CHECK(back && (size_t)blen == n && memcmp(back, s, n) == 0,
          "escaped form does not decode to the input");
    curl_free(back);
    free(want);
    uh_buf_free(&b);
}

/*
 * The reference expander: one pass over the template, outside or inside
 * braces.  Appends the expansion to a fresh buffer and returns NULL, or
 * returns what is wrong ("unclosed '{'", "empty '{}'", "no value for {").
 */
static const char *ref_expand(const char *tmpl, const values *v, uh_buf *out)
{
    size_t name_at = 0, i;
    int inside = 0;

    for (i = 0; tmpl[i]; i++) {
        char c = tmpl[i];
        if (!inside) {
            if (c == '{') {
                inside = 1;
                name_at = i + 1;
            } else {
                uh_buf_add(out, &c, 1);
            }
        } else if (c == '}') {
            const span *val;
            char *e;
            size_t elen;
            if (i == name_at)
                return "empty '{}'";
            val = find(v, tmpl + name_at, i - name_at);
            if (!val)
                return "no value for {";
            e = ref_escape(val->p, val->n, &elen);
            uh_buf_add(out, e, elen);
            free(e);
            inside = 0;
        }
    }
    return inside ? "unclosed '{'" : NULL;
}

/* The host libcurl's URL parser sees, as a new string, or NULL. */
static char *curl_host(const char *url)
{
    CURLU *u = curl_url();
    char *h = NULL, *copy = NULL;

    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url,
                     CURLU_NON_SUPPORT_SCHEME | CURLU_GUESS_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
        copy = uh_strdup(h);
    curl_free(h);
    curl_url_cleanup(u);
    return copy;
}

/*
 * uh_url_host into a heap buffer of exactly outsz bytes, so that ASan
 * sees a write past it.  Returns the host (owned by the caller) or NULL.
 */
static char *host_of(const char *url, size_t outsz)
{
    char *buf = malloc(outsz);
    int rc;

    if (!buf)
        return NULL;
    memset(buf, 'X', outsz);
    rc = uh_url_host(url, buf, outsz);
    CHECK(rc == 0 || rc == -1, "uh_url_host returned %d", rc);
    if (rc < 0) {
        free(buf);
        return NULL;
    }
    CHECK(memchr(buf, '\0', outsz) != NULL, "host not terminated in %zu bytes", outsz);
    CHECK(buf[0] != '\0', "empty host for \"%s\"", url);
    CHECK(strstr(url, buf) != NULL, "host \"%s\" is not part of \"%s\"", buf, url);
    CHECK(strpbrk(buf, "/?#") == NULL, "host \"%s\" has a path, query or fragment",
          buf);
    return buf;
}

/*
 * The host check the engine makes (uh_url_host) must name the host
 * libcurl connects to; otherwise a URL can pass the allow-list and go
 * elsewhere.  Hosts are compared after libcurl's own normalisation.
 */
static void check_host_agrees_with_curl(const char *url)
{
    char *mine = host_of(url, 256), *theirs, *canon = NULL;

    if (!mine)
        return;
    theirs = curl_host(url);
    if (theirs) {
        uh_buf u = {0};
        uh_buf_printf(&u, "http://%s/", mine);
        canon = u.data ? curl_host(u.data) : NULL;
        uh_buf_free(&u);
        CHECK(canon && strcasecmp(canon, theirs) == 0,
              "URL \"%s\": the engine checks host \"%s\", libcurl connects to \"%s\"",
              url, mine, theirs);
    }
    free(canon);
    free(theirs);
    free(mine);
}

/* "scheme://" at the start (RFC 3986 scheme), by a regular expression. */
static int is_absolute(const char *u)
{
    static regex_t re;
    static int ready;

    if (!ready) {
        CHECK(regcomp(&re, "^[A-Za-z][-A-Za-z0-9+.]*://", REG_EXTENDED | REG_NOSUB) == 0,
              "regcomp");
        ready = 1;
    }
    return regexec(&re, u, 0, NULL, 0) == 0;
}

static void check_resolve(const char *base, const char *ref)
{
    uh_buf out = {0};
    size_t rlen = strlen(ref), olen;

    uh_url_resolve(&out, base, ref);
    CHECK(!out.oom, "out of memory resolving");
    olen = out.len;
    CHECK(olen >= rlen && memcmp(out.data + olen - rlen, ref, rlen) == 0,
          "\"%s\" + \"%s\" = \"%s\" does not end with the reference", base, ref,
          out.data ? out.data : "");
    if (is_absolute(ref) || !*base) {
        CHECK(olen == rlen, "absolute \"%s\" changed to \"%s\"", ref, out.data);
    } else {
        char *bh = host_of(base, 256), *rh;
        CHECK(olen <= strlen(base) + 1 + rlen, "\"%s\" + \"%s\" grew to \"%s\"", base,
              ref, out.data);
        /* a relative reference stays on the base's host */
        if (bh) {
            rh = host_of(out.data, 256);
            CHECK(rh && strcmp(bh, rh) == 0,
                  "\"%s\" + \"%s\" = \"%s\" left host \"%s\" for \"%s\"", base, ref,
                  out.data, bh, rh ? rh : "(none)");
            free(rh);
        }
        free(bh);
    }
    check_host_agrees_with_curl(out.data ? out.data : "");
    uh_buf_free(&out);
}

/* Split data into NUL-terminated lines in a copy (freed by the caller). */
static char *split(const uint8_t *data, size_t size, span *lines, int *nlines,
                   int max)
{
    char *copy = malloc(size + 1), *p, *end;

    if (!copy)
        return NULL;
    memcpy(copy, data, size);
    copy[size] = '\0';
    *nlines = 0;
    for (p = copy, end = copy + size; *nlines < max;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        lines[*nlines].p = p;
        lines[*nlines].n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        (*nlines)++;
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    span lines[2 + MAX_VALUES];
    values v;
    int nlines;
    char *copy;
    const char *tmpl, *base, *why;
    uh_buf out = {0}, err = {0}, want = {0};
    int rc;

    check_escape((const char *)data, size);
    copy = split(data, size, lines, &nlines, 2 + MAX_VALUES);
    if (!copy)
        return 0;
    tmpl = lines[0].p;
    base = nlines > 1 ? lines[1].p : "";
    memset(&v, 0, sizeof v);
    v.tmpl = tmpl;
    v.tmpl_len = strlen(tmpl);
    for (int i = 2; i < nlines; i++) {
        const char *eq = memchr(lines[i].p, '=', lines[i].n);
        if (!eq)
            continue;
        v.name[v.n].p = lines[i].p;
        v.name[v.n].n = (size_t)(eq - lines[i].p);
        v.value[v.n].p = eq + 1;                 /* may hold NUL bytes */
        v.value[v.n].n = lines[i].n - v.name[v.n].n - 1;
        v.n++;
    }

    rc = uh_url_expand(&out, tmpl, lookup, &v, &err);
    why = ref_expand(tmpl, &v, &want);
    CHECK(!out.oom && !err.oom && !want.oom, "out of memory expanding");
    if (rc == 0) {
        CHECK(why == NULL, "template \"%s\" expanded although: %s", tmpl, why);
        CHECK(err.len == 0, "error text on success: %s", err.data);
        CHECK(out.len == want.len && (want.len == 0 || memcmp(out.data, want.data, want.len) == 0),
              "template \"%s\" expanded to \"%s\", the reference says \"%s\"",
              tmpl, out.data ? out.data : "", want.data ? want.data : "");
    } else {
        CHECK(rc == -1, "uh_url_expand returned %d", rc);
        CHECK(why != NULL, "template \"%s\" failed: %s", tmpl,
              err.data ? err.data : "(no message)");
        CHECK(err.data && strstr(err.data, why),
              "template \"%s\": message \"%s\" does not say \"%s\"", tmpl,
              err.data ? err.data : "", why);
    }

    check_resolve(base, rc == 0 && out.data ? out.data : tmpl);
    check_resolve(base, "");

    /* host extraction into buffers of every small size */
    for (size_t sz = 1; sz <= 8; sz++)
        free(host_of(base, sz));
    check_host_agrees_with_curl(base);

    uh_buf_free(&out);
    uh_buf_free(&err);
    uh_buf_free(&want);
    free(copy);
    return 0;
}
