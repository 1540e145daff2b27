/*
 * url.c -- URL templates, escaping and resolution against a base URL.
 * Pure functions: no Lua, no curl, so they are easy to test and fuzz.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "url.h"

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

void uh_url_escape(uh_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c)) {
            size_t j = i + 1;   /* the run of unreserved bytes at once */
            while (j < n && unreserved((unsigned char)s[j]))
                j++;
            uh_buf_add(out, s + i, j - i);
            i = j - 1;
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            uh_buf_add(out, e, 3);
        }
    }
}

/* A value of dots only, escaped: "." or ".." (alone, or beside another
 * such value) would be a dot segment, which libcurl removes, walking the
 * request up the path ({"id": ".."} in DELETE /hooks/{id}/x). */
static void dots(uh_buf *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        uh_buf_add(out, "%2E", 3);
}

int uh_url_expand(uh_buf *out, const char *tmpl, uh_url_lookup fn, void *ud,
                  uh_buf *err)
{
    const char *p = tmpl;

    while (*p) {
        const char *open = strchr(p, '{');
        const char *close, *val;
        size_t vlen;

        if (!open) {
            uh_buf_puts(out, p);
            break;
        }
        uh_buf_add(out, p, (size_t)(open - p));
        close = strchr(open + 1, '}');
        if (!close) {
            uh_buf_printf(err, "unclosed '{' in URL template \"%s\"", tmpl);
            return -1;
        }
        if (close == open + 1) {
            uh_buf_printf(err, "empty '{}' in URL template \"%s\"", tmpl);
            return -1;
        }
        val = fn ? fn(ud, open + 1, (size_t)(close - open - 1), &vlen) : NULL;
        if (!val) {
            uh_buf_printf(err, "URL template \"%s\": no value for {%.*s} in path",
                          tmpl, (int)(close - open - 1), open + 1);
            return -1;
        }
        if (vlen > 0 && strspn(val, ".") >= vlen)
            dots(out, vlen);
        else
            uh_url_escape(out, val, vlen);
        p = close + 1;
    }
    return 0;
}

/* "scheme://..." is absolute, whatever the scheme: never glue it to a base. */
static int is_absolute(const char *u)
{
    const char *p = u;

    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.')
        p++;
    return strncmp(p, "://", 3) == 0;
}

void uh_url_resolve(uh_buf *out, const char *base, const char *ref)
{
    const char *auth;
    size_t blen;

    if (is_absolute(ref) || !base || !*base) {
        uh_buf_puts(out, ref);
        return;
    }
    auth = strstr(base, "://");
    auth = auth ? auth + 3 : base;
    if (ref[0] == '/') {
        /* Keep the base's path as a prefix: "https://h/api" + "/x"
         * is "https://h/api/x", the way connector builders resolve. */
        blen = strlen(base);
        while (blen > (size_t)(auth - base) && base[blen - 1] == '/')
            blen--;
        uh_buf_add(out, base, blen);
        uh_buf_puts(out, ref);
        return;
    }
    blen = strlen(base);
    while (blen > (size_t)(auth - base) && base[blen - 1] == '/')
        blen--;
    uh_buf_add(out, base, blen);
    uh_buf_add(out, "/", 1);
    uh_buf_puts(out, ref);
}

int uh_url_host(const char *url, char *out, size_t outsz)
{
    const char *h, *end;
    size_t n;

    if (strncmp(url, "http://", 7) == 0)
        h = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        h = url + 8;
    else
        return -1;
    end = h + strcspn(h, "/?#");
    /* skip userinfo */
    {
        const char *at = memchr(h, '@', (size_t)(end - h));
        if (at)
            h = at + 1;
    }
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return -1;
        n = (size_t)(rb - h + 1);
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        n = (size_t)((colon ? colon : end) - h);
    }
    if (n == 0 || n >= outsz)
        return -1;
    memcpy(out, h, n);
    out[n] = '\0';
    return 0;
}

static int same_host(const char *a, const char *b)
{
    char ha[256], hb[256];

    return a && b && uh_url_host(a, ha, sizeof ha) == 0 &&
           uh_url_host(b, hb, sizeof hb) == 0 && strcasecmp(ha, hb) == 0;
}

int uh_url_same_origin(const char *a, const char *b)
{
    const char *ha, *hb, *pa[2];
    size_t la[2];

    if (!a || !b || !same_host(a, b))
        return 0;
    ha = strstr(a, "://");
    hb = strstr(b, "://");
    if ((size_t)(ha - a) != (size_t)(hb - b) || strncasecmp(a, b, (size_t)(ha - a)) != 0)
        return 0;
    /* the port: what follows the host, or the scheme's default */
    for (int k = 0; k < 2; k++) {
        const char *h = k ? hb + 3 : ha + 3, *end = h + strcspn(h, "/?#");
        const char *at = memchr(h, '@', (size_t)(end - h)), *colon;
        if (at)
            h = at + 1;
        if (*h == '[')
            h = memchr(h, ']', (size_t)(end - h)) ? (const char *)memchr(h, ']', (size_t)(end - h)) : end;
        colon = memchr(h, ':', (size_t)(end - h));
        if (colon && end - colon > 1) {
            pa[k] = colon + 1;
            la[k] = (size_t)(end - colon - 1);
        } else {
            pa[k] = strncasecmp(k ? b : a, "https", 5) == 0 ? "443" : "80";
            la[k] = strlen(pa[k]);
        }
    }
    return la[0] == la[1] && memcmp(pa[0], pa[1], la[0]) == 0;
}

int uh_url_host_allowed(const char *url, const char *base, const char *hosts)
{
    char host[256];
    const char *p;

    if (!base || same_host(url, base))
        return 1;
    if (uh_url_host(url, host, sizeof host) < 0)
        return 0;
    for (p = hosts; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (n == strlen(host) && strncasecmp(p, host, n) == 0)
            return 1;
        p += n + (p[n] == '\n');
    }
    return 0;
}
