/*
 * status.h -- the exit statuses of the unhook command, and GO_ON.  The
 * bottom of the command's modules: it includes nothing.
 */
#ifndef UNHOOK_CLI_STATUS_H
#define UNHOOK_CLI_STATUS_H

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INVALID = 3,
       EXIT_STORE = 4, EXIT_PENDING = 75 };

/* Not an exit status: what a step returns when the command carries on. */
#define GO_ON (-1)

#endif
