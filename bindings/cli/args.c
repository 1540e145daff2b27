/*
 * args.c -- the options and positionals of a command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "status.h"
#include "mem.h"
#include "args.h"

const opt no_opts[] = {OPT_END};

int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

int bad_usage(const char *msg, const char *arg, const char *usage)
{
    fprintf(stderr, "%s: %s%s%s\n\n%s", prog, msg, arg ? " " : "",
            arg ? arg : "", usage);
    return EXIT_USAGE;
}

static int count_arg(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    return errno || *end || end == s || v <= 0 || v > 100000 ? -1 : (int)v;
}

/* Keep "k=v"; -1 if there is no "k=" (unhook_pairs_json's rule). */
static int pairs_add(pairs *p, const char *kv)
{
    const char *eq = strchr(kv, '=');

    if (!eq || eq == kv)
        return -1;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = kv;
    return 0;
}

char *pairs_json(const pairs *p)
{
    return p->n ? xcheck(unhook_pairs_json(p->v, p->n)) : NULL;
}

void pairs_free(pairs *p)
{
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* Store the value v of option o: GO_ON, or the usage error's status. */
static int set_value(const char *cmd, const opt *o, const char *v, const char *usage)
{
    char msg[160];

    if (o->kind == OPT_STR) {
        *(const char **)o->dst = v;
    } else if (o->kind == OPT_PAIR && pairs_add(o->dst, v) < 0) {
        snprintf(msg, sizeof msg, "%s: %s expects NAME=VALUE, got '%.40s'",
                 cmd, o->name, v);
        return bad_usage(msg, NULL, usage);
    } else if (o->kind == OPT_COUNT && (*(int *)o->dst = count_arg(v)) < 0) {
        snprintf(msg, sizeof msg, "%s: %s expects a number from 1 to 100000, got '%.40s'",
                 cmd, o->name, v);
        return bad_usage(msg, NULL, usage);
    }
    return GO_ON;
}

/* The option named a, or NULL after the usage error (status in *st). */
static const opt *find_opt(const char *cmd, const opt *opts, const char *a,
                           const char *usage, int *st)
{
    char msg[160];

    for (; opts->name; opts++)
        if (strcmp(opts->name, a) == 0)
            return opts;
    snprintf(msg, sizeof msg, "%s: unknown option", cmd);
    *st = bad_usage(msg, a, usage);
    return NULL;
}

int parse_args(int argc, char **argv, const char *usage, const opt *opts,
               const char **pos, const char *const *names, int nreq)
{
    const char *cmd = argv[0];
    char msg[160];
    int i, st = GO_ON, npos = 0;

    for (i = 1; i < argc && st == GO_ON; i++) {
        const char *a = argv[i];
        const opt *o;

        if (is_help(a)) {
            fputs(usage, stdout);
            return EXIT_DONE;
        }
        if (a[0] != '-' || !a[1]) {
            if (!names[npos]) {
                snprintf(msg, sizeof msg, "%s: unexpected argument", cmd);
                return bad_usage(msg, a, usage);
            }
            pos[npos++] = a;
        } else if (!(o = find_opt(cmd, opts, a, usage, &st))) {
            return st;
        } else if (o->kind == OPT_FLAG) {
            *(int *)o->dst = 1;
        } else if (i + 1 >= argc) {
            snprintf(msg, sizeof msg, "%s: %s needs %s", cmd, a,
                     o->what ? o->what : "a value");
            return bad_usage(msg, NULL, usage);
        } else {
            st = set_value(cmd, o, argv[++i], usage);
        }
    }
    if (st == GO_ON && npos < nreq) {
        snprintf(msg, sizeof msg, "%s: missing %s", cmd, names[npos]);
        return bad_usage(msg, NULL, usage);
    }
    return st;
}
