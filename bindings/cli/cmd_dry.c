/*
 * cmd_dry.c -- disable --dry-run: what disable would do, with nothing
 * stored and no request sent but GET and HEAD.  Each instance's
 * deregistration flow runs once, as 'unhook run' would run it with the
 * instance's connector, options, registration data and connection; the
 * engine's dry run answers every other request with a synthetic 204 and
 * logs it ("ID dry run: DELETE URL not sent").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"

typedef struct ids {
    char **v;
    size_t n, cap;
} ids;

static int collect(void *ud, const unhook_instance *inst)
{
    ids *l = ud;

    if (strcmp(inst->desired, "on") != 0)
        return 0;               /* --all turns off what is on */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = xcheck(strdup(inst->id));
    return 0;
}

/* One instance, as disable would treat it; counts into s. */
static void dry_one(cli *c, const char *id, const char *reason, unhook_stats *s)
{
    unhook_instance *inst = NULL;
    unhook_flow_result res = {0};
    unhook_flow_request req = {0};
    int rc = unhook_instance_get(c->E, id, &inst);

    s->total++;
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s: %s\n", prog, id, unhook_errmsg(c->E));
        s->failed++;
        return;
    }
    if (strcmp(inst->desired, "off") == 0 && strcmp(inst->state, "off") == 0) {
        printf("%s: already off\n", id);
    } else if (!inst->registration) {
        printf("%s: never registered; would be off\n", id);
        s->skipped++;
    } else {
        req.connector = inst->connector;
        req.event = inst->event;
        req.options_json = inst->options;
        req.registration = inst->registration;
        req.connection = c->cfg.connection ? c->cfg.connection : inst->connection;
        req.instance_id = inst->id;
        req.reason = reason;
        rc = unhook_flow_deregister(c->E, &req, &res);
        if (rc != UNHOOK_OK) {
            fprintf(stderr, "%s: %s: cannot run: %s\n", prog, id, unhook_errmsg(c->E));
            s->failed++;
        } else if (res.outcome == UNHOOK_OUTCOME_DONE) {
            printf("%s: would be deregistered\n", id);
            s->done++;
        } else if (res.outcome == UNHOOK_OUTCOME_GONE) {
            printf("%s: already gone: %s\n", id, res.message ? res.message : "");
            s->gone++;
        } else {
            printf("%s: would %s (%s): %s\n", id, res.outcome == UNHOOK_OUTCOME_RETRY
                   ? "be retried" : "fail", res.code ? res.code : "error",
                   res.message ? res.message : "");
            *(res.outcome == UNHOOK_OUTCOME_RETRY ? &s->pending : &s->failed) += 1;
        }
        unhook_flow_result_free(&res);
    }
    unhook_instance_free(inst);
}

int dry_disable(cli *c, const unhook_filter *f, const char *id, const char *reason)
{
    unhook_stats s = {0};
    ids l = {0};
    int rc = UNHOOK_OK;

    if (id)
        dry_one(c, id, reason, &s);
    else
        rc = unhook_instance_list(c->E, f, collect, &l);
    for (size_t k = 0; k < l.n; k++) {
        dry_one(c, l.v[k], reason, &s);
        free(l.v[k]);
    }
    free(l.v);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    printf("dry run: would deregister %ld, already gone %ld, would retry %ld, "
           "would fail %ld", s.done, s.gone, s.pending, s.failed);
    if (s.skipped)
        printf(", never registered %ld", s.skipped);
    printf("; nothing was stored, and no request but GET and HEAD was sent\n");
    return s.failed ? EXIT_FAILED : EXIT_DONE;
}
