/*
 * cmd_migrate.c -- migrate --to URL: the store copied into another
 * (SQLite to PostgreSQL, and back).
 */
#include <stdio.h>

#include "unhook.h"
#include "cli.h"

static const char usage_migrate[] =
    "usage: unhook migrate --to LOCATION\n"
    "\n"
    "Copies the store (--db, $UNHOOK_DB or ./unhook.db) into LOCATION: a\n"
    "postgresql://... URL or a SQLite file, created if need be, which must\n"
    "hold no instance yet.  Every instance and its whole history are copied;\n"
    "claims are not.  Stop the workers first.  'unhook export' then\n"
    "'unhook --db LOCATION import' does the same for instances alone.\n"
    "Exit 0 when copied, 2 when the target is not empty, 4 for a store error.\n";

int cmd_migrate(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    const char *to = NULL;
    long count = 0;
    const opt table[] = {
        {"--to", OPT_STR, &to, "LOCATION"},
        OPT_END
    };
    int rc, st = start(c, argc, argv, usage_migrate, table, NULL, names, 0);

    if (st != GO_ON)
        return st;
    if (!to) {
        fprintf(stderr, "%s: migrate: --to LOCATION is required\n%s", prog, usage_migrate);
        return EXIT_USAGE;
    }
    rc = unhook_store_migrate(c->E, to, &count);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    printf("migrated %ld instances\n", count);
    return EXIT_DONE;
}
