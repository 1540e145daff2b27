/*
 * diag.c -- the last error message, the log, and masking of secrets in
 * everything that leaves the engine.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static char *vformat(const char *fmt, va_list ap)
{
    va_list cp;
    char *p;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0 || !(p = malloc((size_t)n + 1)))
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

void uh_seterr(uh_diag *d, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = vformat(fmt, ap);
    va_end(ap);
    free(d->errmsg);
    d->errmsg = p ? p : uh_strdup("");
}

void uh_log(uh_diag *d, const uh_secrets *sec, int level, const char *fmt, ...)
{
    va_list ap;
    uh_buf b = {0};
    char *line;

    if (!d || !d->log || level > d->log_level)
        return;
    va_start(ap, fmt);
    line = vformat(fmt, ap);
    va_end(ap);
    if (!line)
        return;
    uh_buf_puts(&b, line);
    free(line);
    uh_mask_buf(sec, &b);
    if (b.data)
        d->log(d->log_ud, level, b.data);
    uh_buf_free(&b);
}

static int hexval(char h)
{
    return h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
         : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
}

static int hexbyte(const char *p, int digits)
{
    int v = 0;

    for (int k = 0; k < digits; k++) {
        int d = hexval(p[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/*
 * How many bytes at p (before end) spell the byte c: c itself, a percent
 * escape (%2F or %2f), a JSON escape (\u002f, \/, \\, \"); 0 if none.
 * A provider that echoes a secret may re-encode it any of these ways.
 */
static size_t spells(const char *p, const char *end, unsigned char c)
{
    if ((unsigned char)*p == c)
        return 1;
    if (*p == '%' && end - p >= 3 && hexbyte(p + 1, 2) == c)
        return 3;
    if (*p == '\\' && end - p >= 2) {
        if (p[1] == (char)c && (c == '/' || c == '\\' || c == '"'))
            return 2;
        if (p[1] == 'u' && end - p >= 6 && hexbyte(p + 2, 4) == c)
            return 6;
    }
    return 0;
}

/* The length of the text at p that spells all of s, or 0. */
static size_t spells_all(const char *p, const char *end, const char *s)
{
    const char *q = p;

    for (; *s; s++) {
        size_t n = q < end ? spells(q, end, (unsigned char)*s) : 0;
        if (!n)
            return 0;
        q += n;
    }
    return (size_t)(q - p);
}

/* Replace every spelling of secret in b by "***". */
static void mask(uh_buf *b, const char *secret)
{
    uh_buf out = {0};
    const char *p, *from, *end, *nc, *np, *nb;
    unsigned char c0 = (unsigned char)secret[0];
    int hit = 0;

    if (!c0 || !b->data)
        return;
    nc = memchr(b->data, c0, b->len);
    np = memchr(b->data, '%', b->len);
    nb = memchr(b->data, '\\', b->len);
    from = p = b->data;
    end = b->data + b->len;
    while (p < end) {
        size_t n;
        /* a spelling starts with the secret's first byte, '%' or '\\':
         * the nearest of them (memchr scans far faster than a loop) */
        if (nc && nc < p)
            nc = memchr(p, c0, (size_t)(end - p));
        if (np && np < p)
            np = memchr(p, '%', (size_t)(end - p));
        if (nb && nb < p)
            nb = memchr(p, '\\', (size_t)(end - p));
        p = nc;
        if (np && (!p || np < p))
            p = np;
        if (nb && (!p || nb < p))
            p = nb;
        if (!p)
            break;
        n = spells_all(p, end, secret);
        if (!n) {
            p++;
            continue;
        }
        uh_buf_add(&out, from, (size_t)(p - from));
        uh_buf_add(&out, "***", 3);
        p += n;
        from = p;
        hit = 1;
    }
    if (!hit)
        return;
    uh_buf_add(&out, from, (size_t)(end - from));
    if (out.oom) {
        /* never hand out what could not be masked */
        uh_buf_free(&out);
        b->len = 0;
        if (b->data)
            b->data[0] = '\0';
        return;
    }
    uh_buf_free(b);
    *b = out;
}

static int longer_first(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

    return la < lb ? 1 : la > lb ? -1 : 0;
}

/*
 * Longer secrets first: a secret inside another (a password inside its
 * Basic header) masked first would leave the rest of the longer one.
 * Each is found however it is spelt: as written, percent-encoded (either
 * case), JSON-escaped.
 */
void uh_mask_buf(const uh_secrets *sec, uh_buf *b)
{
    const char *stack[8], **order = stack;
    int n;

    if (!sec || sec->n == 0)
        return;
    n = sec->n;
    if (n > 8 && !(order = malloc((size_t)n * sizeof *order))) {
        order = stack;
        n = 8;
    }
    for (int i = 0; i < n; i++)
        order[i] = sec->v[i];
    if (n > 1)
        qsort(order, (size_t)n, sizeof *order, longer_first);
    for (int i = 0; i < n; i++)
        mask(b, order[i]);
    if (order != stack)
        free(order);
}

char *uh_redact(const uh_secrets *sec, const char *s)
{
    uh_buf b = {0};

    uh_buf_puts(&b, s ? s : "");
    uh_mask_buf(sec, &b);
    if (b.oom) {
        uh_buf_free(&b);
        return NULL;
    }
    return uh_buf_take(&b);
}

const char *unhook_strerror(int code)
{
    switch (code) {
#define UH_CASE_(name, value, text) case value: return text;
    UNHOOK_CODES(UH_CASE_)
#undef UH_CASE_
    }
    return "unknown result code";
}
