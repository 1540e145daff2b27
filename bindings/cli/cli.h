/*
 * cli.h -- what the parts of the unhook command share: exit statuses,
 * the session (configuration and engine) and the commands.  The command
 * is a client of the public API (unhook.h) alone.
 */
#ifndef UNHOOK_CLI_H
#define UNHOOK_CLI_H

#include <stddef.h>

#include "unhook.h"
#include "args.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INVALID = 3,
       EXIT_STORE = 4, EXIT_PENDING = 75 };

/* Not an exit status: what a step returns when the command carries on. */
#define GO_ON (-1)

extern const char *const prog;

typedef struct cli {
    unhook_config cfg;          /* filled by the global and command options */
    unhook_engine *E;           /* opened once the command's options are in */
    int json;
} cli;

/* ---- session.c: the engine, files, memory ------------------------------- */

/* Open the engine with the search path: GO_ON or the exit status. */
int open_engine(cli *c);

/* Parse (see parse_args), then open the engine: GO_ON or the exit status. */
int start(cli *c, int argc, char **argv, const char *usage, const opt *opts,
          const char **pos, const char *const *names, int nreq);

/* The exit status of a result code, after printing the engine's message. */
int api_error(cli *c, int rc);
int exit_for(int rc);

/* The connector's folder, or NULL after printing why. */
char *connector_dir(cli *c, const char *connector);

/* A whole file (path NULL: standard input); NULL with errno set. */
char *read_all(const char *path, size_t *lenp);

/* realloc, or exit after saying memory ran out; p NULL: malloc. */
void *xrealloc(void *p, size_t n);
/* p, or exit as xrealloc does when it is NULL. */
void *xcheck(void *p);

void on_log(void *ud, int level, const char *line);

/* ---- the commands (argv[0] is the command's name) ----------------------- */

typedef int (*command_fn)(cli *c, int argc, char **argv);

int cmd_check(cli *c, int argc, char **argv);
int cmd_run(cli *c, int argc, char **argv);
int cmd_register(cli *c, int argc, char **argv);
int cmd_enable(cli *c, int argc, char **argv);
int cmd_disable(cli *c, int argc, char **argv);
int cmd_retry(cli *c, int argc, char **argv);
int cmd_resume(cli *c, int argc, char **argv);
int cmd_list(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_history(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_migrate(cli *c, int argc, char **argv);

#endif
