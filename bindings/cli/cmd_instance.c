/*
 * cmd_instance.c -- enable, disable, retry and resume: instances toward
 * their desired state, one at a time or in bulk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"
#include "output.h"

static const char usage_enable[] =
    "usage: unhook enable ID --connector C --event E [--option K=V]...\n"
    "                     [--connection FILE]\n"
    "       unhook enable --again ID\n"
    "\n"
    "Stores instance ID (desired on), runs the event's registration flow and\n"
    "stores the registration data before reporting success.  The path of the\n"
    "connection file is stored, never its secrets.  Enabling an instance that\n"
    "is on with the same connector, event, options and connection does nothing\n"
    "(exit 0, 'already on'); with others it is refused: see 'unhook update'.\n"
    "--again registers anew an instance that reconcile marked lost, or whose\n"
    "subscription expired.\n"
    "Exit 0 when registered, 1 when the flow failed, 75 when the registration\n"
    "is pending retry ('unhook resume'), 2 for a bad argument or an instance\n"
    "that is on with other options, 3 when the connector is not found, 4 for a\n"
    "store error.\n";

static const char usage_disable[] =
    "usage: unhook disable ID [--reason R] [--connection FILE] [--no-wait]\n"
    "       unhook disable --all [--connector C] [--event E] [--concurrency N]\n"
    "                      [--threads N] [--reason R] [--connection FILE] [--no-wait]\n"
    "                      [--expect-gone]\n"
    "       (both also take --record FILE, --replay FILE, as 'unhook run',\n"
    "       and --dry-run)\n"
    "\n"
    "Records desired off (before any request), then runs one deregistration\n"
    "attempt now.  --all does so for every instance that is on and matches\n"
    "--connector and --event, N at a time (default 16), with progress on\n"
    "standard error and a summary on standard output.  --threads N shares\n"
    "them among N threads (default: one a processor, two a processor from 64\n"
    "of the N a processor on, at most 4, each with 8 or more of the N at a\n"
    "time).  --connection FILE is\n"
    "used instead of each instance's own connection.  404 and 410 answer a\n"
    "DELETE as \"already gone\"; when the first 20 outcomes of one connector\n"
    "are all already gone, --all stops that connector and leaves the rest\n"
    "pending (check its base_url), unless --expect-gone.  --dry-run stores\n"
    "nothing and sends only GET and HEAD requests: every other request is\n"
    "logged and answered with a synthetic 204; it prints what would happen.\n"
    "--no-wait records the intent only and returns at once ('queued'):\n"
    "'unhook serve' (or resume) does the rest.\n"
    "Exit 0 when deregistered, already gone or nothing to do; 1 when a flow\n"
    "failed (the registration data is kept: see 'unhook retry'); 75 when work\n"
    "is left pending for retry ('unhook resume'); 2 for an unknown ID.\n";

static const char usage_retry[] =
    "usage: unhook retry ID [--connection FILE]\n"
    "       unhook retry --failed [--connector C] [--event E] [--concurrency N]\n"
    "                    [--threads N] [--connection FILE] [--expect-gone]\n"
    "\n"
    "Re-queues a dead-lettered (failed) instance with its attempts reset and\n"
    "runs it now.  --failed re-queues every failed instance that matches, then\n"
    "runs every due attempt, with progress and a summary as 'disable --all'\n"
    "(--concurrency and --threads as there).\n"
    "Exit codes as for disable.\n";

static const char usage_resume[] =
    "usage: unhook resume [--wait] [--concurrency N] [--threads N] [--connection FILE]\n"
    "                     [--expect-gone] [--record FILE] [--replay FILE]\n"
    "\n"
    "Runs every due attempt: instances a crash left registering or\n"
    "deregistering, and retries whose time has come.  With --wait, also waits\n"
    "for scheduled retries until nothing is pending.  --concurrency and\n"
    "--threads as for 'disable --all'.\n"
    "Exit 0 when done or nothing to do, 1 when a flow failed, 75 when work is\n"
    "left pending for retry.\n";

/*
 * What an attempt that had nothing to do says, by its result code
 * (the codes are strings of the engine's results for now); NULL for an
 * attempt that did something.
 */
static const char *nothing_done(unhook_note note)
{
    switch (note) {
    case UNHOOK_NOTE_ALREADY_OFF: return "already off";
    case UNHOOK_NOTE_NOT_REGISTERED: return "never registered; now off";
    case UNHOOK_NOTE_NOT_FAILED: return "not failed; nothing to retry";
    case UNHOOK_NOTE_ALREADY_ON: return "already on";
    default: return NULL;
    }
}

/* Print the outcome of a failed or retried attempt on inst; its status. */
static int report_failure(const char *id, const unhook_instance *inst, int reg,
                          const unhook_flow_result *res)
{
    const char *code = res->code ? res->code : "error";
    const char *msg = res->message ? res->message : "";

    if (res->outcome == UNHOOK_OUTCOME_RETRY) {
        printf("%s: %spending retry (%s): %s", id, reg ? "registration " : "",
               code, msg);
        if (inst && inst->next_attempt_at > 0)
            printf(" \xe2\x80\x94 next attempt in %ld s", secs_until(inst->next_attempt_at));
        putchar('\n');
        return EXIT_PENDING;
    }
    fprintf(stderr, "%s: %s: %sfailed (%s): %s\n", prog, id,
            reg ? "registration " : "", code, msg);
    if (inst && inst->registration)
        fprintf(stderr, "%s: %s: registration data kept; 'unhook retry %s' "
                "re-queues it\n", prog, id, id);
    return EXIT_FAILED;
}

/*
 * Report the outcome of one attempt on instance id (enable, disable,
 * retry).  The instance as stored afterwards tells a registration from a
 * deregistration, and when the next attempt is.
 */
static int report_one(cli *c, const char *id, int rc, const unhook_flow_result *res)
{
    unhook_instance *inst = NULL;
    const char *none;
    int reg, st = EXIT_DONE;

    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    unhook_instance_get(c->E, id, &inst);
    reg = inst && strcmp(inst->desired, "on") == 0;
    if (res->outcome == UNHOOK_OUTCOME_DONE && (none = nothing_done(res->note)))
        printf("%s: %s\n", id, none);
    else if (res->outcome == UNHOOK_OUTCOME_DONE)
        printf("%s: %s\n", id, reg ? "registered" : "deregistered");
    else if (res->outcome == UNHOOK_OUTCOME_GONE && res->status)
        printf("%s: already gone (HTTP %d)\n", id, res->status);
    else if (res->outcome == UNHOOK_OUTCOME_GONE)
        printf("%s: already gone\n", id);
    else
        st = report_failure(id, inst, reg, res);
    unhook_instance_free(inst);
    return st;
}

int cmd_enable(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    pairs opts = {0};
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    int again = 0;
    const opt table[] = {
        {"--connector", OPT_STR, &req.connector, NULL},
        {"--event", OPT_STR, &req.event, NULL},
        {"--option", OPT_PAIR, &opts, "NAME=VALUE"},
        {"--connection", OPT_STR, &req.connection, NULL},
        {"--again", OPT_FLAG, &again, NULL},
        OPT_END
    };
    char *dir = NULL, *ojson = NULL;
    int st = parse_args(argc, argv, usage_enable, table, pos, names, 1);

    if (st == GO_ON && again && (req.connector || req.event || opts.n || req.connection))
        st = bad_usage("enable --again: takes only the ID (the stored instance is "
                       "registered anew as it is)", NULL, usage_enable);
    if (st == GO_ON && again) {
        st = open_engine(c);
        if (st == GO_ON)
            st = report_one(c, pos[0], unhook_instance_enable_again(c->E, pos[0], &res),
                            &res);
        unhook_flow_result_free(&res);
        pairs_free(&opts);
        return st;
    }
    if (st == GO_ON && (!req.connector || !req.event))
        st = bad_usage(req.connector ? "enable: missing --event"
                       : "enable: missing --connector", NULL, usage_enable);
    if (st == GO_ON)
        st = open_engine(c);
    /* the store keeps the name as given (a folder is made absolute) */
    if (st == GO_ON && !(dir = connector_dir(c, req.connector)))
        st = EXIT_INVALID;
    if (st == GO_ON) {
        req.options_json = ojson = pairs_json(&opts);
        st = report_one(c, pos[0], unhook_instance_enable(c->E, pos[0], &req, &res),
                        &res);
    }
    unhook_flow_result_free(&res);
    pairs_free(&opts);
    free(ojson);
    free(dir);
    return st;
}

/* Clear the bar, then the error or the summary; none: what no work says. */
static int bulk_end(cli *c, progress *p, int rc, const unhook_stats *s,
                    const char *none)
{
    progress_end(p);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    if (none && s->total == 0) {
        puts(none);
        return EXIT_DONE;
    }
    if (s->registered > 0)
        printf("registered %ld, ", s->registered);
    printf("deregistered %ld, already gone %ld, pending retry %ld, failed %ld",
           s->done, s->gone, s->pending, s->failed);
    if (s->skipped > 0)
        printf(", never registered %ld", s->skipped);
    if (s->renewed > 0)
        printf(", renewed %ld", s->renewed);
    if (s->expired > 0)
        printf(", expired %ld", s->expired);
    putchar('\n');
    return s->failed > 0 ? EXIT_FAILED : s->pending > 0 ? EXIT_PENDING : EXIT_DONE;
}

/* disable --all, retry --failed: every instance the filter matches. */
static int converge_all(cli *c, const unhook_filter *f, const char *reason, int retry)
{
    unhook_stats stats = {0};
    progress p;
    long count;
    int rc;

    if (retry) {
        rc = unhook_instance_retry_all(c->E, f, &count);
        if (rc != UNHOOK_OK)
            return api_error(c, rc);
        printf("re-queued %ld\n", count);
        fflush(stdout);
        /* the run counts into stats; a total of the re-queued gives a bar */
        stats.total = count;
    }
    progress_start(&p, retry ? "retry --failed" : "disable --all");
    rc = retry ? unhook_engine_run(c->E, f, -1, 0, &stats, on_progress, &p)
               : unhook_instance_disable_all(c->E, f, reason, &stats, on_progress, &p);
    return bulk_end(c, &p, rc, &stats, NULL);
}

/* disable --no-wait: the intent recorded, nothing run. */
static int queue_off(cli *c, const unhook_filter *f, int bulk, const char *id,
                     const char *reason)
{
    unhook_flow_result res;
    unhook_stats s;
    const char *none;
    int rc;

    if (bulk) {
        if ((rc = unhook_instance_request_off_all(c->E, f, reason, &s)) != UNHOOK_OK)
            return api_error(c, rc);
        printf("queued %ld", s.pending);
        if (s.skipped > 0)
            printf(", never registered %ld (now off)", s.skipped);
        putchar('\n');
        return EXIT_DONE;
    }
    rc = unhook_instance_request_off(c->E, id, reason, &res);
    if (rc != UNHOOK_OK) {
        unhook_flow_result_free(&res);
        return api_error(c, rc);
    }
    none = nothing_done(res.note);
    printf("%s: %s\n", id, none ? none : "queued");
    unhook_flow_result_free(&res);
    return EXIT_DONE;
}

/* The usage error of disable or retry arguments that do not go together. */
static int converge_misuse(const cli *c, const unhook_filter *f, int bulk,
                           const char *id, int retry)
{
    const char *cmd = retry ? "retry" : "disable", *flag = retry ? "--failed" : "--all";
    char msg[160];

    msg[0] = '\0';
    if (bulk && id)
        snprintf(msg, sizeof msg, "%s: give an ID or %s, not both", cmd, flag);
    else if (!bulk && !id)
        snprintf(msg, sizeof msg, "%s: missing ID (or %s)", cmd, flag);
    else if (!bulk && (f->connector || f->event || c->cfg.concurrency ||
                       c->cfg.threads || c->cfg.expect_gone))
        snprintf(msg, sizeof msg, "%s: --connector, --event, --concurrency, "
                 "--threads and --expect-gone need %s", cmd, flag);
    return msg[0] ? bad_usage(msg, NULL, retry ? usage_retry : usage_disable) : GO_ON;
}

/*
 * disable and retry: one ID now, or in bulk (--all, --failed) every
 * instance the filter options match.
 */
static int cmd_converge(cli *c, int argc, char **argv, int retry)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL}, *reason = NULL;
    char *key;
    unhook_filter f = {0};
    unhook_flow_result res = {0};
    int bulk = 0, no_wait = 0, rc;
    const opt table[] = {
        {retry ? "--failed" : "--all", OPT_FLAG, &bulk, NULL},
        {"--connector", OPT_STR, &f.connector, NULL},
        {"--event", OPT_STR, &f.event, NULL},
        {"--concurrency", OPT_COUNT, &c->cfg.concurrency, "N"},
        {"--threads", OPT_COUNT, &c->cfg.threads, "N"},
        {"--connection", OPT_STR, &c->cfg.connection, NULL},
        {"--expect-gone", OPT_FLAG, &c->cfg.expect_gone, NULL},
        /* retry ends its options here */
        {retry ? NULL : "--record", OPT_STR, &c->record, "FILE"},
        {"--replay", OPT_STR, &c->replay, "FILE"},
        {"--dry-run", OPT_FLAG, &c->dry_run, NULL},
        {retry ? NULL : "--reason", OPT_STR, &reason, NULL},
        {"--no-wait", OPT_FLAG, &no_wait, NULL},
        OPT_END
    };
    int st = parse_args(argc, argv, retry ? usage_retry : usage_disable, table,
                        pos, names, 0);

    if (st == GO_ON)
        st = converge_misuse(c, &f, bulk, pos[0], retry);
    if (st == GO_ON)
        st = open_engine(c);
    if (st != GO_ON)
        return st;
    key = filter_connector(c, &f);
    if (c->dry_run) {
        st = dry_disable(c, &f, bulk ? NULL : pos[0], reason);
    } else if (no_wait) {
        st = queue_off(c, &f, bulk, pos[0], reason);
    } else if (bulk) {
        st = converge_all(c, &f, reason, retry);
    } else {
        rc = retry ? unhook_instance_retry(c->E, pos[0], &res)
                   : unhook_instance_disable(c->E, pos[0], reason, &res);
        st = report_one(c, pos[0], rc, &res);
        unhook_flow_result_free(&res);
    }
    free(key);
    return st;
}

int cmd_disable(cli *c, int argc, char **argv)
{
    return cmd_converge(c, argc, argv, 0);
}

int cmd_retry(cli *c, int argc, char **argv)
{
    return cmd_converge(c, argc, argv, 1);
}

int cmd_resume(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    unhook_stats stats = {0};
    progress p;
    int wait = 0, rc;
    const opt table[] = {
        {"--wait", OPT_FLAG, &wait, NULL},
        {"--expect-gone", OPT_FLAG, &c->cfg.expect_gone, NULL},
        {"--concurrency", OPT_COUNT, &c->cfg.concurrency, "N"},
        {"--threads", OPT_COUNT, &c->cfg.threads, "N"},
        {"--connection", OPT_STR, &c->cfg.connection, NULL},
        OPTS_TAPE(c),
        OPT_END
    };
    int st = start(c, argc, argv, usage_resume, table, NULL, names, 0);

    if (st != GO_ON)
        return st;
    progress_start(&p, "resume");
    rc = unhook_engine_run(c->E, NULL, -1, wait, &stats, on_progress, &p);
    return bulk_end(c, &p, rc, &stats, "nothing to do");
}
