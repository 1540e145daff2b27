/*
 * session.h -- the session a command runs in (configuration and engine)
 * and what every command needs around it: errors, files, the log.
 */
#ifndef UNHOOK_CLI_SESSION_H
#define UNHOOK_CLI_SESSION_H

#include <stddef.h>
#include <stdio.h>

#include "unhook.h"
#include "args.h"

typedef struct cli {
    unhook_config cfg;          /* filled by the global and command options */
    unhook_engine *E;           /* opened once the command's options are in */
    int json;
    const char *record;         /* --record FILE */
    const char *replay;         /* --replay FILE */
    int dry_run;                /* --dry-run */
    FILE *record_file;
    int record_errno;           /* the first failure to write it */
} cli;

/* The options --record FILE and --replay FILE, for a command's table. */
#define OPTS_TAPE(c) \
    {"--record", OPT_STR, &(c)->record, "FILE"}, \
    {"--replay", OPT_STR, &(c)->replay, "FILE"}

/* A --connector filter that is a folder (holds '/') as instances store it,
 * its absolute path, put in f; the string to free() after, or NULL. */
char *filter_connector(cli *c, unhook_filter *f);

/* Close the engine and the record file: 0, or -1 (said on stderr) when
 * the cassette could not be written in full. */
int close_session(cli *c);

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
/* The same, refusing (NULL, errno EFBIG) a file longer than max bytes. */
char *read_upto(const char *path, size_t max, size_t *lenp);

void on_log(void *ud, int level, const char *line);

#endif
