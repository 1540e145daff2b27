/*
 * cli.h -- the commands of unhook, and (for them) the headers of the
 * modules below: status, mem, args, session.  The top of the command's
 * modules: only main.c and the cmd_*.c files include it.  The command is
 * a client of the public API (unhook.h) alone.
 */
#ifndef UNHOOK_CLI_H
#define UNHOOK_CLI_H

#include "unhook.h"
#include "status.h"
#include "mem.h"
#include "args.h"
#include "session.h"

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
int cmd_reconcile(cli *c, int argc, char **argv);
int cmd_update(cli *c, int argc, char **argv);
int cmd_edit(cli *c, int argc, char **argv);
int cmd_forget(cli *c, int argc, char **argv);
int cmd_migrate(cli *c, int argc, char **argv);
int cmd_connection(cli *c, int argc, char **argv);
int cmd_serve(cli *c, int argc, char **argv);
int cmd_new(cli *c, int argc, char **argv);

/* disable --dry-run of one id, or of every instance that is on and
 * matches f (cmd_dry.c): the exit status. */
int dry_disable(cli *c, const unhook_filter *f, const char *id, const char *reason);

#endif
