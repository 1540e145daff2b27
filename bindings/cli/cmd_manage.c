/*
 * cmd_manage.c -- update, edit and forget: instances managed by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"

static const char usage_update[] =
    "usage: unhook update ID [--option K=V]... [--connection FILE]\n"
    "\n"
    "Changes the options (those given replace the stored ones of the same name)\n"
    "or the connection of an instance that is on, make-before-break: the\n"
    "registration flow runs first with the new values; only when it succeeds\n"
    "does the instance take the new registration data, and the old webhook is\n"
    "deregistered as an instance of its own, ID~N (reason update), retried\n"
    "like any deregistration.  If the new registration fails, nothing changes.\n"
    "Exit 0 when done, 1 when the new registration or the old deregistration\n"
    "failed, 75 when the old deregistration is pending retry, 2 for an\n"
    "instance that is not on.\n";

static const char usage_edit[] =
    "usage: unhook edit ID --registration JSON|@FILE\n"
    "\n"
    "Replaces an instance's stored registration data (JSON) by hand, to fix\n"
    "what a provider or an old flow got wrong; its history keeps the old\n"
    "value.  No flow runs.  Exit 2 for text that is not JSON or an instance\n"
    "that is off.\n";

static const char usage_forget[] =
    "usage: unhook forget ID [--force]\n"
    "\n"
    "Removes an instance that is off from the store; 'unhook history ID' still\n"
    "shows its history.  An instance that is not off is refused unless --force\n"
    "is given; then its webhook is left at the provider, and its registration\n"
    "data is printed.  Exit 2 for an instance that is not off without --force.\n";

/* "name: failed (code): message" for a flow result; its exit status. */
static int result_status(const unhook_flow_result *r)
{
    return r->outcome <= UNHOOK_OUTCOME_GONE ? EXIT_DONE
         : r->outcome == UNHOOK_OUTCOME_RETRY ? EXIT_PENDING : EXIT_FAILED;
}

int cmd_update(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    pairs opts = {0};
    unhook_flow_request ch = {0};
    unhook_flow_result reg = {0}, old = {0};
    const opt table[] = {
        {"--option", OPT_PAIR, &opts, "NAME=VALUE"},
        {"--connection", OPT_STR, &ch.connection, NULL},
        OPT_END
    };
    char *ojson = NULL, *retired = NULL;
    int rc, st = start(c, argc, argv, usage_update, table, pos, names, 1);

    if (st != GO_ON)
        goto out;
    ch.options_json = ojson = pairs_json(&opts);
    rc = unhook_instance_update(c->E, pos[0], &ch, &reg, &old, &retired);
    if (rc != UNHOOK_OK) {
        st = api_error(c, rc);
    } else if (reg.outcome != UNHOOK_OUTCOME_DONE) {
        fprintf(stderr, "%s: %s: new registration failed (%s): %s\n", prog, pos[0],
                reg.code ? reg.code : "error", reg.message ? reg.message : "");
        fprintf(stderr, "%s: %s: nothing changed: the old registration is kept\n",
                prog, pos[0]);
        st = EXIT_FAILED;
    } else {
        st = result_status(&old);
        printf("%s: registered anew; the old registration, now '%s', ", pos[0], retired);
        if (st == EXIT_DONE)
            printf("%s\n", old.outcome == UNHOOK_OUTCOME_GONE ? "was already gone"
                                                              : "is deregistered");
        else
            printf("%s (%s): %s\n", st == EXIT_PENDING ? "is pending retry" : "failed",
                   old.code ? old.code : "error", old.message ? old.message : "");
    }
out:
    unhook_flow_result_free(&reg);
    unhook_flow_result_free(&old);
    unhook_free(retired);
    pairs_free(&opts);
    free(ojson);
    return st;
}

int cmd_edit(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL}, *given = NULL;
    const opt table[] = {
        {"--registration", OPT_STR, &given, "JSON or @FILE"},
        OPT_END
    };
    char *text = NULL;
    size_t len;
    int rc, st = parse_args(argc, argv, usage_edit, table, pos, names, 1);

    if (st == GO_ON && !given)
        st = bad_usage("edit: missing --registration", NULL, usage_edit);
    if (st == GO_ON && given[0] == '@' && !(text = read_all(given + 1, &len))) {
        fprintf(stderr, "%s: %s: %s\n", prog, given + 1, strerror(errno));
        st = EXIT_USAGE;
    }
    if (st == GO_ON)
        st = open_engine(c);
    if (st == GO_ON) {
        rc = unhook_instance_edit(c->E, pos[0], text ? text : given);
        st = rc != UNHOOK_OK ? api_error(c, rc) : EXIT_DONE;
        if (rc == UNHOOK_OK)
            printf("%s: registration data replaced (the old value is in its history)\n",
                   pos[0]);
    }
    free(text);
    return st;
}

int cmd_forget(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    int force = 0, rc;
    const opt table[] = {
        {"--force", OPT_FLAG, &force, NULL},
        OPT_END
    };
    char *left = NULL;
    int st = start(c, argc, argv, usage_forget, table, pos, names, 1);

    if (st != GO_ON)
        return st;
    rc = unhook_instance_forget(c->E, pos[0], force, &left);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    printf("%s: forgotten (its history stays: 'unhook history %s')\n", pos[0], pos[0]);
    if (left)
        printf("%s: left at the provider: the webhook of registration data %s\n",
               pos[0], left);
    unhook_free(left);
    return EXIT_DONE;
}
