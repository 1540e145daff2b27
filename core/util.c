/*
 * util.c -- small helpers: growable buffers, strings, files, clocks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

static int buf_reserve(uh_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->oom)
        return -1;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void uh_buf_add(uh_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void uh_buf_puts(uh_buf *b, const char *s)
{
    uh_buf_add(b, s, strlen(s));
}

void uh_buf_printf(uh_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *uh_buf_take(uh_buf *b)
{
    char *p = b->data;

    if (!p)
        p = uh_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return p;
}

void uh_buf_free(uh_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

char *uh_strndup(const char *s, size_t n)
{
    char *p;

    if (!s)
        return NULL;
    p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *uh_strdup(const char *s)
{
    return s ? uh_strndup(s, strlen(s)) : NULL;
}

/* Read a whole file.  Returns 0, or an errno value. */
int uh_read_file(const char *path, size_t max, char **out, size_t *len)
{
    uh_buf b = {0};
    char chunk[8192];
    size_t n;
    struct stat st;
    FILE *f = fopen(path, "rb");

    *out = NULL;
    if (len)
        *len = 0;
    if (!f)
        return errno ? errno : ENOENT;
    if (max && fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_size > max) {
        fclose(f);              /* longer than max, known without reading */
        return EFBIG;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && !(max && b.len + n > max))
        uh_buf_add(&b, chunk, n);
    if (n > 0 || ferror(f) || b.oom) {
        int e = n > 0 ? EFBIG : b.oom ? ENOMEM : (errno ? errno : EIO);
        fclose(f);
        uh_buf_free(&b);
        return e;
    }
    fclose(f);
    if (len)
        *len = b.len;
    *out = uh_buf_take(&b);
    return *out ? 0 : ENOMEM;
}

double uh_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double uh_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
