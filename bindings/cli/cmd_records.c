/*
 * cmd_records.c -- import and export: instances as JSON Lines, for
 * migration and backup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"

static const char usage_import[] =
    "usage: unhook import FILE [--replace]\n"
    "\n"
    "Adds instances from JSON Lines (FILE, or - for standard input), one object\n"
    "a line: id, connector, event, options, connection, registration, state,\n"
    "desired.  All or nothing: a bad line, or an id that exists already, fails\n"
    "the whole import; with --replace, an instance whose id exists is updated\n"
    "instead (its registration data kept in its history).  Exit 0 when\n"
    "imported, 2 for a bad file, 4 for a store error.\n";

static const char usage_export[] =
    "usage: unhook export\n"
    "\n"
    "Prints every instance as JSON Lines, the format import reads: for\n"
    "migration and backup.  Exit 4 for a store error.\n";

int cmd_import(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"FILE", NULL};
    const char *pos[1] = {NULL};
    char *text;
    size_t len;
    long count;
    int replace = 0;
    const opt table[] = {
        {"--replace", OPT_FLAG, &replace, NULL},
        OPT_END
    };
    int rc, st = start(c, argc, argv, usage_import, table, pos, names, 1);

    if (st != GO_ON)
        return st;
    text = read_all(strcmp(pos[0], "-") == 0 ? NULL : pos[0], &len);
    if (!text) {
        fprintf(stderr, "%s: %s: %s\n", prog, pos[0], strerror(errno));
        return EXIT_USAGE;
    }
    rc = unhook_import_with(c->E, text, len, replace ? UNHOOK_IMPORT_REPLACE : 0, &count);
    free(text);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
        return rc == UNHOOK_STORE ? EXIT_STORE : EXIT_USAGE;
    }
    printf("imported %ld instance%s\n", count, count == 1 ? "" : "s");
    return EXIT_DONE;
}

static int export_line(void *ud, const char *line, size_t len)
{
    (void)ud;
    fwrite(line, 1, len, stdout);
    putchar('\n');
    return ferror(stdout) ? -1 : 0;
}

int cmd_export(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    int rc, st = start(c, argc, argv, usage_export, no_opts, NULL, names, 0);

    if (st != GO_ON)
        return st;
    rc = unhook_export(c->E, export_line, NULL);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    /* a backup cut short by a full disk must not look complete */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: export: cannot write: %s\n", prog, strerror(errno));
        return EXIT_FAILED;
    }
    return EXIT_DONE;
}
