/*
 * serve_json.c -- a strict reader of the API's request bodies: one JSON
 * object whose values are kept as decoded strings (for strings) or as
 * their raw JSON text (numbers, literals, nested objects and arrays,
 * checked for syntax and handed to the engine as they are).  Duplicate
 * keys, trailing text and anything that is not JSON are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "serve.h"

#define MAX_DEPTH 32

typedef struct reader {
    const char *start, *s, *end;
    char *err;
    size_t errsz;
} reader;

static int fail(reader *r, const char *what)
{
    snprintf(r->err, r->errsz, "malformed JSON at byte %ld: %s",
             (long)(r->s - r->start), what);
    return -1;
}

static void blank(reader *r)
{
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' ||
                             *r->s == '\r'))
        r->s++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void utf8(text *t, unsigned cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | cp >> 6); b[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) { b[0] = (char)(0xE0 | cp >> 12); b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                             b[2] = (char)(0x80 | (cp & 0x3F)); n = 3; }
    else { b[0] = (char)(0xF0 | cp >> 18); b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
           b[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); b[3] = (char)(0x80 | (cp & 0x3F)); n = 4; }
    text_add(t, b, n);
}

/* A \u escape at r->s (after the backslash and 'u'), pairs joined. */
static int unicode_escape(reader *r, text *out)
{
    unsigned cp, lo;

    if (r->end - r->s < 4 || hex4(r->s, &cp) != 0)
        return fail(r, "bad \\u escape");
    r->s += 4;
    if (cp >= 0xD800 && cp < 0xDC00) {
        if (r->end - r->s < 6 || r->s[0] != '\\' || r->s[1] != 'u' ||
            hex4(r->s + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
            return fail(r, "lone surrogate");
        r->s += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(r, "lone surrogate");
    }
    if (cp == 0)
        return fail(r, "NUL in a string");
    utf8(out, cp);
    return 0;
}

/* A string at r->s (at its quote); decoded into out when out is set. */
static int string(reader *r, text *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

    r->s++;
    while (r->s < r->end && *r->s != '"') {
        unsigned char c = (unsigned char)*r->s;
        if (c < 0x20)
            return fail(r, "control character in a string");
        if (c != '\\') {
            if (out)
                text_add(out, r->s, 1);
            r->s++;
            continue;
        }
        if (++r->s >= r->end)
            break;
        const char *k = strchr(from, *r->s);
        if (*r->s == 'u') {
            text scratch = {0};
            r->s++;
            int rc = unicode_escape(r, out ? out : &scratch);
            text_free(&scratch);
            if (rc != 0)
                return rc;
            continue;
        }
        if (!k || !*r->s)
            return fail(r, "bad escape");
        if (out)
            text_add(out, &to[k - from], 1);
        r->s++;
    }
    if (r->s >= r->end)
        return fail(r, "unterminated string");
    r->s++;
    return 0;
}

static int number(reader *r)
{
    const char *p = r->s;

    if (p < r->end && *p == '-')
        p++;
    if (p >= r->end || *p < '0' || *p > '9')
        return fail(r, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    if (p < r->end && *p == '.') {
        if (++p >= r->end || *p < '0' || *p > '9')
            return fail(r, "bad number");
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= r->end || *p < '0' || *p > '9')
            return fail(r, "bad number");
        while (p < r->end && *p >= '0' && *p <= '9')
            p++;
    }
    r->s = p;
    return 0;
}

static int literal(reader *r, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(r->end - r->s) < n || memcmp(r->s, word, n) != 0)
        return fail(r, "unexpected character");
    r->s += n;
    return 0;
}

/* Any value (syntax only); *type receives its kind. */
static int value(reader *r, int depth, int *type)
{
    blank(r);
    if (r->s >= r->end)
        return fail(r, "unexpected end");
    if (depth > MAX_DEPTH)
        return fail(r, "nested too deep");
    switch (*r->s) {
    case '"': *type = JV_STRING; return string(r, NULL);
    case 't': *type = JV_BOOL; return literal(r, "true");
    case 'f': *type = JV_BOOL; return literal(r, "false");
    case 'n': *type = JV_NULL; return literal(r, "null");
    case '{': case '[': {
        char close = *r->s == '{' ? '}' : ']';
        int obj = close == '}', first = 1, t;
        *type = obj ? JV_OBJECT : JV_ARRAY;
        r->s++;
        for (;;) {
            blank(r);
            if (r->s < r->end && *r->s == close && first) {
                r->s++;
                return 0;
            }
            if (obj) {
                if (r->s >= r->end || *r->s != '"')
                    return fail(r, "expected a key");
                if (string(r, NULL) != 0)
                    return -1;
                blank(r);
                if (r->s >= r->end || *r->s++ != ':')
                    return fail(r, "expected ':'");
            }
            if (value(r, depth + 1, &t) != 0)
                return -1;
            blank(r);
            first = 0;
            if (r->s < r->end && *r->s == ',') {
                r->s++;
                continue;
            }
            if (r->s < r->end && *r->s == close) {
                r->s++;
                return 0;
            }
            return fail(r, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    default:
        *type = JV_NUMBER;
        return number(r);
    }
}

static int field(reader *r, jobj *out)
{
    text key = {0}, val = {0};
    const char *start;
    jfield *f;
    int type;

    if (r->s >= r->end || *r->s != '"')
        return fail(r, "expected a key");
    if (string(r, &key) != 0)
        goto bad;
    blank(r);
    if (r->s >= r->end || *r->s++ != ':') {
        fail(r, "expected ':'");
        goto bad;
    }
    blank(r);
    start = r->s;
    if (r->s < r->end && *r->s == '"') {
        type = JV_STRING;
        if (string(r, &val) != 0)
            goto bad;
    } else {
        if (value(r, 1, &type) != 0)
            goto bad;
        text_add(&val, start, (size_t)(r->s - start));
    }
    if (jobj_get(out, text_str(&key))) {
        snprintf(r->err, r->errsz, "duplicate field '%s'", key.p);
        goto bad;
    }
    out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    f = &out->v[out->n++];
    f->key = xcheck(strdup(text_str(&key)));
    f->type = type;
    f->str = xcheck(strdup(text_str(&val)));
    text_free(&key);
    text_free(&val);
    return 0;
bad:
    text_free(&key);
    text_free(&val);
    return -1;
}

int jobj_parse(const char *s, size_t len, jobj *out, char *err, size_t errsz)
{
    reader r = {s, s, s + len, err, errsz};

    memset(out, 0, sizeof *out);
    blank(&r);
    if (r.s >= r.end || *r.s != '{') {
        snprintf(err, errsz, "the body must be a JSON object");
        return -1;
    }
    r.s++;
    blank(&r);
    if (r.s < r.end && *r.s == '}') {
        r.s++;
    } else {
        for (;;) {
            blank(&r);
            if (field(&r, out) != 0)
                goto bad;
            blank(&r);
            if (r.s < r.end && *r.s == ',') {
                r.s++;
                continue;
            }
            if (r.s < r.end && *r.s == '}') {
                r.s++;
                break;
            }
            fail(&r, "expected ',' or '}'");
            goto bad;
        }
    }
    blank(&r);
    if (r.s != r.end) {
        fail(&r, "text after the object");
        goto bad;
    }
    return 0;
bad:
    jobj_free(out);
    return -1;
}

const jfield *jobj_get(const jobj *o, const char *key)
{
    for (size_t k = 0; k < o->n; k++)
        if (strcmp(o->v[k].key, key) == 0)
            return &o->v[k];
    return NULL;
}

void jobj_free(jobj *o)
{
    for (size_t k = 0; k < o->n; k++) {
        free(o->v[k].key);
        free(o->v[k].str);
    }
    free(o->v);
    memset(o, 0, sizeof *o);
}
