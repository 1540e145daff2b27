/*
 * cmd_flow.c -- check, run and register: connectors and flows, no store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"

static const char usage_check[] =
    "usage: unhook check CONNECTOR\n"
    "\n"
    "Validates connector.lua, every flow it names and every card.  Problems are\n"
    "printed as FILE:LINE: MESSAGE.  Exit 0 when valid, 3 when not.\n"
    "CONNECTOR is a folder, or a name on the connector search path.\n";

static const char usage_run[] =
    "usage: unhook run CONNECTOR EVENT [--option K=V]... [--input K=V]...\n"
    "                  [--registration JSON|@FILE] [--connection FILE]\n"
    "                  [--reason R] [--instance ID]\n"
    "                  [--record FILE] [--replay FILE] [--dry-run]\n"
    "\n"
    "Runs the event's deregistration flow once, without the store (the\n"
    "\"test\" button of a connector builder).  Registration data given as JSON\n"
    "is decoded for the flow; anything else is passed as a string.\n"
    "--record FILE writes every HTTP exchange to FILE as JSON Lines, secrets\n"
    "masked; --replay FILE answers requests from such a file, never the\n"
    "network (a request it does not hold fails with replay_miss).  --dry-run\n"
    "sends GET and HEAD requests only; every other one is logged and answered\n"
    "with a synthetic 204.\n"
    "Exit 0 when deregistered or already gone, 1 when the flow failed.\n";

static const char usage_register[] =
    "usage: unhook register CONNECTOR EVENT [--option K=V]... [--input K=V]...\n"
    "                       [--connection FILE] [--instance ID]\n"
    "                       [--record FILE] [--replay FILE]\n"
    "\n"
    "Runs the event's registration flow once, without the store, and prints\n"
    "the registration data as JSON on standard output.  --record and\n"
    "--replay as for 'unhook run'.\n";

int cmd_check(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"CONNECTOR", NULL};
    const char *pos[1] = {NULL};
    char *dir;
    int rc, st = start(c, argc, argv, usage_check, no_opts, pos, names, 1);

    if (st != GO_ON)
        return st;
    if (!(dir = connector_dir(c, pos[0])))
        return EXIT_INVALID;
    rc = unhook_connector_check(c->E, dir);
    if (rc == UNHOOK_OK)
        printf("%s: ok\n", dir);
    else
        fprintf(stderr, "%s\n", unhook_errmsg(c->E));
    free(dir);
    return rc == UNHOOK_OK ? EXIT_DONE
         : rc == UNHOOK_INVALID || rc == UNHOOK_NOTFOUND ? EXIT_INVALID
         : exit_for(rc);
}

/* Print what one run or registration did; its exit status. */
static int flow_outcome(const unhook_flow_result *res, int reg, int dry)
{
    const char *code = res->code ? res->code : "error";
    const char *msg = res->message ? res->message : "";

    switch (res->outcome) {
    case UNHOOK_OUTCOME_DONE:
        if (reg)
            printf("%s\n", res->registration ? res->registration : "null");
        else
            printf("deregistered%s\n", dry ? " (dry run: nothing but GET and "
                   "HEAD was sent)" : "");
        return EXIT_DONE;
    case UNHOOK_OUTCOME_GONE:
        printf("already gone: %s\n", msg);
        return EXIT_DONE;
    case UNHOOK_OUTCOME_RETRY:
        fprintf(stderr, "%s: failed (retryable, %s): %s\n", prog, code, msg);
        if (res->retry_after >= 0)
            fprintf(stderr, "%s: the provider asks to retry after %.0f s\n",
                    prog, res->retry_after);
        return EXIT_FAILED;
    default:
        fprintf(stderr, "%s: failed (%s): %s\n", prog, code, msg);
        return EXIT_FAILED;
    }
}

/* Replace "@FILE" registration data by the file's text (owned: *file). */
static int registration_file(unhook_flow_request *req, char **file)
{
    if (!req->registration || req->registration[0] != '@')
        return GO_ON;
    *file = read_all(req->registration + 1, NULL);
    if (!*file) {
        fprintf(stderr, "%s: %s: cannot read registration file: %s\n",
                prog, req->registration + 1, strerror(errno));
        return EXIT_USAGE;
    }
    req->registration = *file;
    return GO_ON;
}

/* run and register share their arguments. */
static int cmd_flow(cli *c, int argc, char **argv, int reg)
{
    static const char *const names[] = {"CONNECTOR", "EVENT", NULL};
    pairs opts = {0}, inputs = {0};
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    const char *pos[2] = {NULL, NULL};
    const opt run_opts[] = {
        {"--option", OPT_PAIR, &opts, "NAME=VALUE"},
        {"--input", OPT_PAIR, &inputs, "NAME=VALUE"},
        {"--connection", OPT_STR, &req.connection, NULL},
        {"--instance", OPT_STR, &req.instance_id, NULL},
        OPTS_TAPE(c),
        /* register ends its options here */
        {reg ? NULL : "--registration", OPT_STR, &req.registration, "JSON or @FILE"},
        {"--reason", OPT_STR, &req.reason, NULL},
        {"--dry-run", OPT_FLAG, &c->dry_run, NULL},
        OPT_END
    };
    char *regfile = NULL, *dir = NULL, *ojson = NULL, *ijson = NULL;
    int rc, st = start(c, argc, argv, reg ? usage_register : usage_run, run_opts,
                       pos, names, 2);

    if (st == GO_ON)
        st = registration_file(&req, &regfile);
    if (st == GO_ON && !(dir = connector_dir(c, pos[0])))
        st = EXIT_INVALID;
    if (st == GO_ON) {
        req.connector = dir;
        req.event = pos[1];
        req.options_json = ojson = pairs_json(&opts);
        req.inputs_json = ijson = pairs_json(&inputs);
        rc = reg ? unhook_flow_register(c->E, &req, &res)
                 : unhook_flow_deregister(c->E, &req, &res);
        st = rc != UNHOOK_OK ? api_error(c, rc) : flow_outcome(&res, reg, c->dry_run);
    }
    unhook_flow_result_free(&res);
    pairs_free(&opts);
    pairs_free(&inputs);
    free(ojson);
    free(ijson);
    free(regfile);
    free(dir);
    return st;
}

int cmd_run(cli *c, int argc, char **argv)
{
    return cmd_flow(c, argc, argv, 0);
}

int cmd_register(cli *c, int argc, char **argv)
{
    return cmd_flow(c, argc, argv, 1);
}
