/*
 * cmd_reconcile.c -- reconcile: the provider's webhooks compared with the
 * store; a dry run unless --apply or --adopt.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"
#include "output.h"

static const char usage_reconcile[] =
    "usage: unhook reconcile CONNECTOR EVENT [--option K=V]... [--input K=V]...\n"
    "                        [--connection FILE] [--apply | --adopt] [--json]\n"
    "\n"
    "Lists the provider's webhooks with the event's list flow and compares\n"
    "them with the stored instances: ok (an instance that is on holds it),\n"
    "orphan (ours by the event's owned rule, held by no instance that is on),\n"
    "missing (an instance is on, the provider has no such webhook), foreign\n"
    "(not ours: never touched).  A dry run by default: nothing changes.\n"
    "--apply deregisters every orphan through the event's deregistration flow,\n"
    "each recorded as an instance 'orphan-KEY' (reason orphan), and marks\n"
    "missing instances lost ('unhook enable --again ID' registers one anew);\n"
    "it is refused for an event without an owned rule.  --adopt stores\n"
    "orphans as instances 'adopted-KEY' that are on instead.\n"
    "Exit 0 when done, 1 when listing or a deregistration failed (a failed\n"
    "listing changes nothing), 75 when a deregistration is pending retry,\n"
    "2 for a bad argument, 3 when the connector is invalid.\n";

typedef struct report {
    int json;
    strlist elems;
    grid t;
    long counts[4], done, pending, failed;
} report;

static int on_item(void *ud, const unhook_reconcile_item *x)
{
    static const char *const names[] = {"ok", "orphan", "missing", "foreign"};
    report *r = ud;
    const char *a = x->action;

    for (int k = 0; k < 4; k++)
        if (strcmp(x->status, names[k]) == 0)
            r->counts[k]++;
    if (a && (strcmp(a, "pending retry") == 0))
        r->pending++;
    else if (a && (strcmp(a, "failed") == 0 || strcmp(a, "could not run") == 0))
        r->failed++;
    else if (a)
        r->done++;
    if (r->json) {
        strlist_push(&r->elems, xcheck(unhook_reconcile_item_json(x)));
        return 0;
    }
    grid_add(&r->t, x->status, 0);
    grid_add(&r->t, x->key, 0);
    grid_add(&r->t, x->instance_id, 0);
    grid_add(&r->t, a, 0);
    return 0;
}

int cmd_reconcile(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"CONNECTOR", "EVENT", NULL};
    const char *pos[2] = {NULL, NULL};
    pairs opts = {0}, inputs = {0};
    unhook_flow_request req = {0};
    report r;
    int apply = 0, adopt = 0, rc;
    const opt table[] = {
        {"--option", OPT_PAIR, &opts, "NAME=VALUE"},
        {"--input", OPT_PAIR, &inputs, "NAME=VALUE"},
        {"--connection", OPT_STR, &req.connection, NULL},
        {"--apply", OPT_FLAG, &apply, NULL},
        {"--adopt", OPT_FLAG, &adopt, NULL},
        {"--json", OPT_FLAG, &c->json, NULL},
        OPT_END
    };
    char *ojson = NULL, *ijson = NULL;
    int st = parse_args(argc, argv, usage_reconcile, table, pos, names, 2);

    if (st == GO_ON && apply && adopt)
        st = bad_usage("reconcile: give --apply or --adopt, not both", NULL,
                       usage_reconcile);
    if (st == GO_ON)
        st = open_engine(c);
    if (st != GO_ON)
        goto out;
    memset(&r, 0, sizeof r);
    r.json = c->json;
    r.t.ncol = 4;
    grid_add(&r.t, "STATUS", 0);
    grid_add(&r.t, "KEY", 0);
    grid_add(&r.t, "INSTANCE", 0);
    grid_add(&r.t, "ACTION", 0);
    req.connector = pos[0];
    req.event = pos[1];
    req.options_json = ojson = pairs_json(&opts);
    req.inputs_json = ijson = pairs_json(&inputs);
    rc = unhook_reconcile(c->E, &req, (apply ? UNHOOK_RECONCILE_APPLY : 0) |
                          (adopt ? UNHOOK_RECONCILE_ADOPT : 0), on_item, &r);
    if (rc != UNHOOK_OK) {
        st = api_error(c, rc);
    } else {
        if (r.json) {
            json_array_print(&r.elems);
        } else {
            grid_print(&r.t);
            printf("ok %ld, orphan %ld, missing %ld, foreign %ld",
                   r.counts[0], r.counts[1], r.counts[2], r.counts[3]);
            if (!apply && !adopt && (r.counts[1] || r.counts[2]))
                printf(" (dry run: nothing changed; --apply deregisters orphans"
                       " and marks missing instances lost, --adopt stores orphans)");
            putchar('\n');
        }
        st = r.failed ? EXIT_FAILED : r.pending ? EXIT_PENDING : EXIT_DONE;
    }
    strlist_free(&r.elems, unhook_free);
    strlist_free(&r.t.cells, free);
out:
    pairs_free(&opts);
    pairs_free(&inputs);
    free(ojson);
    free(ijson);
    return st;
}
