/*
 * session.c -- the engine a command runs on, and what every command
 * needs around it: errors, files, the log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unhook.h"
#include "status.h"
#include "mem.h"
#include "args.h"
#include "session.h"

void on_log(void *ud, int level, const char *line)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    (void)ud;
    if (level >= UNHOOK_LOG_TRACE)
        fprintf(stderr, "%s\n", line);
    else
        fprintf(stderr, "[%s] %s\n", names[level], line);
}

int exit_for(int rc)
{
    switch (rc) {
    case UNHOOK_OK: return EXIT_DONE;
    case UNHOOK_ERROR: return EXIT_FAILED;
    case UNHOOK_INVALID: return EXIT_INVALID;
    case UNHOOK_STORE: return EXIT_STORE;
    case UNHOOK_PENDING: return EXIT_PENDING;
    default: return EXIT_USAGE;
    }
}

int api_error(cli *c, int rc)
{
    fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
    return exit_for(rc);
}

/*
 * The search path: --connectors, UNHOOK_CONNECTORS, then the connectors
 * installed beside this binary (PREFIX/share/unhook/connectors), so an
 * installed tree works wherever it was copied to.
 */
static char *search_path(const char *flag)
{
    const char *env = getenv("UNHOOK_CONNECTORS");
    char exe[4096], *slash, *out;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t len;

    exe[n > 0 ? n : 0] = '\0';
    slash = strrchr(exe, '/');
    if (slash) {
        char *up;
        *slash = '\0';
        /* the folder above bin/ (or build/), without "/.." in messages */
        slash = strrchr(exe, '/');
        if (slash && slash != exe)
            *slash = '\0';
        up = realpath(exe, NULL);
        if (up) {
            snprintf(exe, sizeof exe, "%s", up);
            free(up);
        }
    }
    len = (flag ? strlen(flag) : 0) + (env ? strlen(env) : 0) + 2 * strlen(exe) + 96;
    out = malloc(len);
    if (!out)
        return NULL;
    /* installed: PREFIX/bin/unhook; in the build tree: build/unhook */
    snprintf(out, len, "%s%s%s%s%s/share/unhook/connectors:%s/scripts/connectors",
             flag ? flag : "", flag ? ":" : "", env ? env : "", env ? ":" : "",
             slash ? exe : ".", slash ? exe : ".");
    return out;
}

int open_engine(cli *c)
{
    unhook_config cfg = c->cfg;
    char *path = search_path(cfg.connectors);
    int rc;

    cfg.connectors = path;
    rc = unhook_engine_open(&c->E, &cfg);
    free(path);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_strerror(rc));
        return EXIT_FAILED;
    }
    return GO_ON;
}

char *connector_dir(cli *c, const char *connector)
{
    char *dir = unhook_connector_path(c->E, connector);

    if (!dir)
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
    return dir;
}

char *read_all(const char *path, size_t *lenp)
{
    FILE *f = path ? fopen(path, "rb") : stdin;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    int err;

    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap);
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    err = ferror(f) ? errno : 0;
    if (f != stdin)
        fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

int start(cli *c, int argc, char **argv, const char *usage, const opt *opts,
          const char **pos, const char *const *names, int nreq)
{
    int st = parse_args(argc, argv, usage, opts, pos, names, nreq);

    return st == GO_ON ? open_engine(c) : st;
}
