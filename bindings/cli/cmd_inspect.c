/*
 * cmd_inspect.c -- list, show and history: instances as stored, as
 * tables or JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "cli.h"
#include "output.h"

static const char usage_list[] =
    "usage: unhook list [--state S] [--connector C] [--event E] [--json]\n"
    "\n"
    "Lists instances by id: state, desired state, connector, event, attempts,\n"
    "next attempt and last error.  States: registering, registered,\n"
    "deregistering, off, failed, lost, expired.  With --json, a JSON array of instances.\n";

static const char usage_show[] =
    "usage: unhook show ID [--json]\n"
    "\n"
    "Prints one instance: options, connection file, states, attempts, next\n"
    "attempt, last error and registration data.  With --json, a JSON object.\n"
    "Exit 2 for an unknown ID.\n";

static const char usage_history[] =
    "usage: unhook history ID [--json]\n"
    "\n"
    "Prints every attempt and change of an instance, oldest first: time,\n"
    "action, outcome, HTTP status, attempt and message, and the registration\n"
    "data an attempt stored or released.  With --json, a JSON array.\n"
    "Exit 2 for an unknown ID.\n";

/* Rows collected before anything is printed: widths need every row, and
 * a failure half-way prints nothing but the error. */
typedef struct rows {
    int json;
    long n;
    strlist elems;              /* JSON texts */
    grid t;
} rows;

static int list_row(void *ud, const unhook_instance *i)
{
    rows *r = ud;
    char buf[32];

    r->n++;
    if (r->json) {
        strlist_push(&r->elems, xcheck(unhook_instance_json(i)));
        return 0;
    }
    snprintf(buf, sizeof buf, "%d", i->attempts);
    grid_add(&r->t, i->id, 0);
    grid_add(&r->t, i->state, 0);
    grid_add(&r->t, i->desired, 0);
    grid_add(&r->t, i->connector, 0);
    grid_add(&r->t, i->event, 0);
    grid_add(&r->t, buf, 0);
    grid_add(&r->t, next_text(i->next_attempt_at, buf, sizeof buf), 0);
    grid_add(&r->t, i->last_error, 60);
    return 0;
}

/* The message of a history line, with the registration data it moved. */
static char *history_message(const unhook_history *h)
{
    const char *m = h->message ? h->message : "-";
    const char *reg = h->registration ? h->registration : "";
    size_t n = strlen(m) + strlen(reg) + 32;
    char *s = xrealloc(NULL, n);

    snprintf(s, n, h->registration ? "%s (registration data: %s)" : "%s", m, reg);
    return s;
}

static int history_row(void *ud, const unhook_history *h)
{
    rows *r = ud;
    char buf[64], *msg;

    r->n++;
    if (r->json) {
        strlist_push(&r->elems, xcheck(unhook_history_json(h)));
        return 0;
    }
    grid_add(&r->t, iso_time(h->at, buf, sizeof buf), 0);
    grid_add(&r->t, h->action, 0);
    grid_add(&r->t, h->outcome, 0);
    snprintf(buf, sizeof buf, "%d", h->status);
    grid_add(&r->t, h->status ? buf : NULL, 0);
    snprintf(buf, sizeof buf, "attempt %d", h->attempt);
    grid_add(&r->t, h->attempt ? buf : NULL, 0);
    grid_add(&r->t, msg = history_message(h), 0);
    free(msg);
    return 0;
}

/* Print what list or history collected, or the error. */
static int rows_end(cli *c, rows *r, int rc, const char *none)
{
    int st = EXIT_DONE;

    if (rc != UNHOOK_OK)
        st = api_error(c, rc);
    else if (r->json)
        json_array_print(&r->elems);
    else if (r->n == 0 && none)
        puts(none);
    else
        grid_print(&r->t);
    strlist_free(&r->elems, unhook_free);
    strlist_free(&r->t.cells, free);
    return st;
}

/* A mistyped state would list nothing, silently: GO_ON or the status. */
static int check_state(const char *state)
{
    static const char *const states[] = {"registering", "registered",
        "deregistering", "off", "failed", "lost", "expired", NULL};
    size_t k;

    for (k = 0; state && states[k]; k++)
        if (strcmp(state, states[k]) == 0)
            return GO_ON;
    return !state ? GO_ON
         : bad_usage("list: --state expects registering, registered, "
                     "deregistering, off, failed, lost or expired, got", state, usage_list);
}

int cmd_list(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    static const char *const header[] = {"ID", "STATE", "DESIRED", "CONNECTOR",
        "EVENT", "ATTEMPTS", "NEXT", "LAST ERROR"};
    unhook_filter f = {0};
    rows r;
    size_t k;
    char *key;
    const opt table[] = {
        {"--state", OPT_STR, &f.state, NULL},
        {"--connector", OPT_STR, &f.connector, NULL},
        {"--event", OPT_STR, &f.event, NULL},
        {"--json", OPT_FLAG, &c->json, NULL},
        OPT_END
    };
    int st = parse_args(argc, argv, usage_list, table, NULL, names, 0);

    if (st == GO_ON)
        st = check_state(f.state);
    if (st == GO_ON)
        st = open_engine(c);
    if (st != GO_ON)
        return st;
    memset(&r, 0, sizeof r);
    r.json = c->json;
    r.t.ncol = 8;
    for (k = 0; k < 8; k++)
        grid_add(&r.t, header[k], 0);
    key = filter_connector(c, &f);
    st = rows_end(c, &r, unhook_instance_list(c->E, &f, list_row, &r), "no instances");
    free(key);
    return st;
}

int cmd_history(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    rows r;
    const opt table[] = {{"--json", OPT_FLAG, &c->json, NULL}, OPT_END};
    int st = start(c, argc, argv, usage_history, table, pos, names, 1);

    if (st != GO_ON)
        return st;
    memset(&r, 0, sizeof r);
    r.json = c->json;
    r.t.ncol = 6;
    return rows_end(c, &r, unhook_history_list(c->E, pos[0], history_row, &r), NULL);
}

static void show_text(const unhook_instance *i)
{
    char t1[32], t2[32], t3[32], t4[32];

    printf("id: %s\nconnector: %s\nevent: %s\noptions: %s\nconnection: %s\n"
           "desired: %s\nstate: %s\nattempts: %d\nnext attempt: %s\n"
           "last error: %s\nreason: %s\ncreated: %s\nupdated: %s\n"
           "registration data: %s\n",
           i->id, i->connector, i->event, i->options ? i->options : "{}",
           i->connection ? i->connection : "-", i->desired, i->state,
           i->attempts, iso_time(i->next_attempt_at, t1, sizeof t1),
           i->last_error ? i->last_error : "-", i->reason ? i->reason : "-",
           iso_time(i->created_at, t2, sizeof t2),
           iso_time(i->updated_at, t3, sizeof t3),
           i->registration ? i->registration : "-");
    /* an event that renews: when the subscription lapses, and whether it has */
    if (i->expires_at > 0)
        printf("expires: %s%s\n", iso_time(i->expires_at, t4, sizeof t4),
               i->expires_at <= wall_now() ? " (lapsed)" : "");
}

int cmd_show(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    unhook_instance *i;
    char *json;
    const opt table[] = {{"--json", OPT_FLAG, &c->json, NULL}, OPT_END};
    int rc, st = start(c, argc, argv, usage_show, table, pos, names, 1);

    if (st != GO_ON)
        return st;
    rc = unhook_instance_get(c->E, pos[0], &i);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    if (c->json) {
        json = xcheck(unhook_instance_json(i));
        puts(json);
        unhook_free(json);
    } else {
        show_text(i);
    }
    unhook_instance_free(i);
    return EXIT_DONE;
}
