/*
 * args.h -- the options and positionals of a command.
 */
#ifndef UNHOOK_CLI_ARGS_H
#define UNHOOK_CLI_ARGS_H

#include <stddef.h>

enum { OPT_FLAG, OPT_STR, OPT_PAIR, OPT_COUNT };

/* "NAME=VALUE" arguments in the order given, for unhook_pairs_json(). */
typedef struct pairs {
    const char **v;
    size_t n, cap;
} pairs;

/* One option of a command; dst is an int, a const char * or a pairs. */
typedef struct opt {
    const char *name;
    int kind;
    void *dst;
    const char *what;           /* the value, for "needs ..."; NULL: "a value" */
} opt;

#define OPT_END {NULL, 0, NULL, NULL}

extern const opt no_opts[];

int is_help(const char *a);

/* Print "unhook: msg arg" and the usage; returns the usage exit status. */
int bad_usage(const char *msg, const char *arg, const char *usage);

/*
 * Parse a command's arguments (argv[0] is its name): options from opts,
 * positionals into pos, named by names (NULL-terminated), the first nreq
 * of them required.  Returns GO_ON, or the exit status after printing the
 * help or a usage error.
 */
int parse_args(int argc, char **argv, const char *usage, const opt *opts,
               const char **pos, const char *const *names, int nreq);

/* The pairs as a JSON object, NULL when there are none; free() it. */
char *pairs_json(const pairs *p);
void pairs_free(pairs *p);

#endif
