/*
 * serve_text.c -- a growing text for the service's answers, with JSON
 * strings written by the library's one JSON writer (unhook_pairs_json)
 * and HTML escaping for the status page.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "serve.h"

void text_add(text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->n + n + 1)
            cap *= 2;
        t->p = xrealloc(t->p, cap);
        t->cap = cap;
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

void text_puts(text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

void text_printf(text *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        text_add(t, small, (size_t)n);
        return;
    }
    char *big = xcheck(malloc((size_t)n + 1));
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    text_add(t, big, (size_t)n);
    free(big);
}

void text_jstr(text *t, const char *key, const char *value)
{
    text pair = {0};
    const char *one[1];
    char *obj;
    size_t n;

    if (!value) {
        /* a key is one of ours: plain ASCII without quotes */
        text_printf(t, "\"%s\":null", key);
        return;
    }
    text_printf(&pair, "%s=%s", key, value);
    one[0] = text_str(&pair);
    obj = xcheck(unhook_pairs_json(one, 1));
    n = strlen(obj);
    /* {"key":"value"} without its braces */
    text_add(t, obj + 1, n >= 2 ? n - 2 : 0);
    unhook_free(obj);
    text_free(&pair);
}

void text_html(text *t, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': text_puts(t, "&amp;"); break;
        case '<': text_puts(t, "&lt;"); break;
        case '>': text_puts(t, "&gt;"); break;
        case '"': text_puts(t, "&quot;"); break;
        case '\'': text_puts(t, "&#39;"); break;
        default: text_add(t, s, 1); break;
        }
    }
}

void text_url(text *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            text_add(t, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            text_add(t, e, 3);
        }
    }
}

void text_html_mix(text *t, const char *const *parts, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (k % 2 == 0)
            text_puts(t, parts[k]);
        else
            text_html(t, parts[k] ? parts[k] : "-");
    }
}

const char *text_str(text *t)
{
    if (!t->p)
        text_add(t, "", 0);
    return t->p;
}

void text_free(text *t)
{
    free(t->p);
    memset(t, 0, sizeof *t);
}
