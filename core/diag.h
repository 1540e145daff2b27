/*
 * diag.h -- private: the last error message and the log, with secrets
 * masked.  Bottom layer: every part reports through a uh_diag that the
 * engine owns.
 */
#ifndef UNHOOK_DIAG_H
#define UNHOOK_DIAG_H

#include "unhook.h"
#include "util.h"

typedef struct uh_diag {
    char *errmsg;             /* never NULL once the engine is open */
    unhook_log_fn log;
    void *log_ud;
    int log_level;
} uh_diag;

/* The secrets to mask in a message: a connection's, or none. */
typedef struct uh_secrets {
    char **v;
    int n;
} uh_secrets;

/* The engine's last error.  Not masked here: callers pass text a flow or
 * a provider could not have filled with a secret, or mask it first
 * (uh_redact), as run.c does with what a flow returns. */
void uh_seterr(uh_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One log line at level, secrets (may be NULL) masked. */
void uh_log(uh_diag *d, const uh_secrets *sec, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Replace every secret in b by "***": longer ones first, each however it
 * is spelt (as written, percent-encoded, JSON-escaped). */
void uh_mask_buf(const uh_secrets *sec, uh_buf *b);
/* s with secrets masked (malloc'd), or NULL on out of memory. */
char *uh_redact(const uh_secrets *sec, const char *s);

#endif
