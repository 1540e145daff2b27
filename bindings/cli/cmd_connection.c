/*
 * cmd_connection.c -- connection check: a connection file read, and its
 * OAuth2 credentials tried against the token endpoint.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"

static const char usage_connection[] =
    "usage: unhook connection check FILE\n"
    "\n"
    "Reads and checks a connection file.  An oauth2 connection gets a token\n"
    "from its token endpoint now (a rotated refresh token is stored, as a\n"
    "flow would): the output says who the token belongs to when the provider\n"
    "says.  Exit 0 when the connection works, 1 when the provider refused or\n"
    "could not be reached, 2 for a bad file or a missing key, 4 when the\n"
    "stored tokens cannot be read (a wrong UNHOOK_SECRET_KEY).\n";

int cmd_connection(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"FILE", NULL};
    const char *pos[1] = {NULL};
    char *who = NULL;
    int rc, st;

    if (argc < 2 || is_help(argv[1])) {
        if (argc >= 2) {
            fputs(usage_connection, stdout);
            return EXIT_DONE;
        }
        return bad_usage("connection: missing subcommand", NULL, usage_connection);
    }
    if (strcmp(argv[1], "check") != 0)
        return bad_usage("connection: unknown subcommand", argv[1], usage_connection);
    st = start(c, argc - 1, argv + 1, usage_connection, no_opts, pos, names, 1);
    if (st != GO_ON)
        return st;
    rc = unhook_connection_check(c->E, pos[0], &who);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    if (who)
        printf("%s: ok (the token is for %s)\n", pos[0], who);
    else
        printf("%s: ok\n", pos[0]);
    free(who);
    return EXIT_DONE;
}
