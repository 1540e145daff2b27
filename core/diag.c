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
#include "url.h"

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

/* Replace every occurrence of needle in b by "***". */
static void mask(uh_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    uh_buf out = {0};
    const char *p, *hit, *end;

    if (n == 0 || !b->data || !memmem(b->data, b->len, needle, n))
        return;
    p = b->data;
    end = b->data + b->len;
    while ((hit = memmem(p, (size_t)(end - p), needle, n))) {
        uh_buf_add(&out, p, (size_t)(hit - p));
        uh_buf_add(&out, "***", 3);
        p = hit + n;
    }
    uh_buf_add(&out, p, (size_t)(end - p));
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
    qsort(order, (size_t)n, sizeof *order, longer_first);
    for (int i = 0; i < n; i++) {
        uh_buf esc = {0};
        mask(b, order[i]);
        /* the same secret as it appears percent-encoded in a URL */
        uh_url_escape(&esc, order[i], strlen(order[i]));
        if (esc.data && strcmp(esc.data, order[i]) != 0)
            mask(b, esc.data);
        uh_buf_free(&esc);
    }
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
