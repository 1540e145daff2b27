/*
 * util.h -- private: the bottom layer's small helpers: growable buffers,
 * strings, files and clocks.  Depends on nothing of the engine.
 */
#ifndef UNHOOK_UTIL_H
#define UNHOOK_UTIL_H

#include <stddef.h>

/* A growable buffer; zero-initialised is empty. */
typedef struct uh_buf {
    char *data;
    size_t len, cap;
    int oom;                  /* a grow failed: contents are truncated */
} uh_buf;

void uh_buf_add(uh_buf *b, const char *s, size_t n);
void uh_buf_puts(uh_buf *b, const char *s);
void uh_buf_printf(uh_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *uh_buf_take(uh_buf *b);  /* NUL-terminated; buffer is reset */
void uh_buf_free(uh_buf *b);

char *uh_strdup(const char *s);
char *uh_strndup(const char *s, size_t n);
/* path's bytes (NUL-terminated) in *out, malloc'd; 0 or an errno value
 * (EFBIG: longer than max bytes, when max is not 0). */
int uh_read_file(const char *path, size_t max, char **out, size_t *len);
double uh_now(void);           /* monotonic seconds */
double uh_wall_now(void);      /* seconds since the epoch */

#endif
