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

static int record_line(void *ud, const char *line, size_t len)
{
    cli *c = ud;
    FILE *f = c->record_file;

    fwrite(line, 1, len, f);
    fputc('\n', f);
    /* flushed: what was exchanged survives a crash; the first failure
     * (a full disk) is kept for close_session to report */
    if ((fflush(f) != 0 || ferror(f)) && !c->record_errno)
        c->record_errno = errno ? errno : EIO;
    return 0;
}

/* --record, --replay and --dry-run on the open engine: GO_ON or the status. */
static int open_tape(cli *c)
{
    char *text;
    size_t len;
    int rc;

    if (c->replay) {
        /* a cap, so that /dev/zero or a runaway file fails instead of
         * eating memory; a recorded body is at most 8 MiB */
        if (!(text = read_upto(c->replay, (size_t)256 << 20, &len))) {
            fprintf(stderr, "%s: %s: cannot read the cassette: %s\n", prog,
                    c->replay, strerror(errno));
            return EXIT_USAGE;
        }
        rc = unhook_engine_replay(c->E, text, len, c->replay);
        free(text);
        if (rc != UNHOOK_OK)
            return api_error(c, rc);
    }
    if (c->record) {
        if (!(c->record_file = fopen(c->record, "w"))) {
            fprintf(stderr, "%s: %s: cannot write the cassette: %s\n", prog,
                    c->record, strerror(errno));
            return EXIT_USAGE;
        }
        unhook_engine_record(c->E, record_line, c);
    }
    if (c->dry_run)
        unhook_engine_dry_run(c->E, 1);
    return GO_ON;
}

int close_session(cli *c)
{
    int bad = 0;

    unhook_engine_close(c->E);
    c->E = NULL;
    if (c->record_file) {
        if (fclose(c->record_file) != 0 && !c->record_errno)
            c->record_errno = errno ? errno : EIO;
        if ((bad = c->record_errno != 0))
            fprintf(stderr, "%s: %s: cannot write the cassette: %s\n", prog,
                    c->record, strerror(c->record_errno));
    }
    c->record_file = NULL;
    return bad ? -1 : 0;
}

/* --threads not given: one a processor, at most 4, each with 8 or more
 * of the concurrency (so 1 below 16); two a processor from 64 flows a
 * processor on: a loop stops for its store work (a claim, a commit of
 * outcomes) while the answers to its flows wait, and with that many in
 * flight more loops keep more requests going out */
static int auto_threads(int concurrency)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = concurrency > 0 ? concurrency / 8 : 16 / 8;

    if (cpus > 0 && concurrency >= 64 * cpus)
        cpus *= 2;
    if (cpus > 0 && n > cpus)
        n = (int)cpus;
    return n > 4 ? 4 : n < 1 ? 1 : n;
}

int open_engine(cli *c)
{
    unhook_config cfg = c->cfg;
    char *path = search_path(cfg.connectors);
    int rc;

    cfg.connectors = path;
    if (cfg.threads == 0)
        cfg.threads = auto_threads(cfg.concurrency);
    rc = unhook_engine_open(&c->E, &cfg);
    free(path);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_strerror(rc));
        return EXIT_FAILED;
    }
    return open_tape(c);
}

char *connector_dir(cli *c, const char *connector)
{
    char *dir = unhook_connector_path(c->E, connector);

    if (!dir)
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
    return dir;
}

char *filter_connector(cli *c, unhook_filter *f)
{
    char *dir, *abs;

    /* a folder is stored as its absolute path (a name as it is): ./acme
     * must match what enable ./acme stored */
    if (!f->connector || !strchr(f->connector, '/'))
        return NULL;
    if (!(dir = unhook_connector_path(c->E, f->connector)))
        return NULL;
    abs = realpath(dir, NULL);
    free(dir);
    if (abs)
        f->connector = abs;
    return abs;
}

char *read_all(const char *path, size_t *lenp)
{
    return read_upto(path, 0, lenp);
}

char *read_upto(const char *path, size_t max, size_t *lenp)
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
    } while (n > 0 && (!max || len <= max));
    err = ferror(f) ? errno : max && len > max ? EFBIG : 0;
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
