/*
 * serve_metrics.c -- the service's metrics: counters of the attempts this
 * process ran (fed by unhook_engine_on_attempt, from the worker thread),
 * gauges read from the store when scraped, and the Prometheus text
 * exposition format (version 0.0.4) of both.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unhook.h"
#include "serve.h"
#include "output.h"

const char *const state_names[NSTATES] = {
    "registering", "registered", "deregistering", "off", "failed", "lost", "expired",
};

static const char *const outcome_names[4] = {"done", "gone", "retry", "failed"};

static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                 1, 2.5, 5, 10, 30};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

/* Attempts by connector, event, action and outcome. */
typedef struct series {
    char *connector, *event;
    const char *action, *outcome;   /* static names */
    long count;
} series;

struct metrics {
    pthread_mutex_t lock;
    series *v;
    size_t n;
    long hist[NBUCKETS + 1];        /* last: +Inf */
    double sum;
    long attempts;
    long retries;                   /* attempts that scheduled another */
    long classes[6];                /* none, 1xx .. 5xx */
    long minute_at[60];             /* the minute each slot counts */
    long minute[60][4];
    double started;
};

metrics *metrics_new(void)
{
    metrics *m = xcheck(calloc(1, sizeof *m));

    pthread_mutex_init(&m->lock, NULL);
    m->started = (double)time(NULL);
    return m;
}

void metrics_free(metrics *m)
{
    if (!m)
        return;
    for (size_t k = 0; k < m->n; k++) {
        free(m->v[k].connector);
        free(m->v[k].event);
    }
    free(m->v);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int outcome_index(const char *o)
{
    for (int k = 0; k < 4; k++)
        if (o && strcmp(o, outcome_names[k]) == 0)
            return k;
    return 3;
}

static const char *const action_names[3] = {"register", "deregister", "renew"};

static series *series_for(metrics *m, const unhook_attempt *a, int oi)
{
    const char *action = action_names[1];

    for (int k = 0; k < 3; k++)
        if (strcmp(a->action, action_names[k]) == 0)
            action = action_names[k];

    for (size_t k = 0; k < m->n; k++) {
        series *s = &m->v[k];
        if (s->action == action && s->outcome == outcome_names[oi] &&
            strcmp(s->connector, a->connector) == 0 && strcmp(s->event, a->event) == 0)
            return s;
    }
    m->v = xrealloc(m->v, (m->n + 1) * sizeof *m->v);
    m->v[m->n] = (series){xcheck(strdup(a->connector)), xcheck(strdup(a->event)),
                          action, outcome_names[oi], 0};
    return &m->v[m->n++];
}

void metrics_attempt(metrics *m, const unhook_attempt *a)
{
    int oi = outcome_index(a->outcome), b = 0;
    long min = (long)(a->at / 60.0);

    pthread_mutex_lock(&m->lock);
    series_for(m, a, oi)->count++;
    while (b < (int)NBUCKETS && a->duration > buckets[b])
        b++;
    m->hist[b]++;
    m->sum += a->duration;
    m->attempts++;
    if (oi == 2)
        m->retries++;
    m->classes[a->status >= 100 && a->status < 600 ? a->status / 100 : 0]++;
    if (m->minute_at[min % 60] != min) {
        m->minute_at[min % 60] = min;
        memset(m->minute[min % 60], 0, sizeof m->minute[0]);
    }
    m->minute[min % 60][oi]++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_hour(metrics *m, long out[60][4])
{
    long now = (long)(time(NULL) / 60);

    pthread_mutex_lock(&m->lock);
    for (int k = 0; k < 60; k++) {
        long min = now - 59 + k;
        int slot = (int)(min % 60);
        for (int o = 0; o < 4; o++)
            out[k][o] = m->minute_at[slot] == min ? m->minute[slot][o] : 0;
    }
    pthread_mutex_unlock(&m->lock);
}

/* ---- the store's gauges ---------------------------------------------------- */

static int census_one(void *ud, const unhook_instance *i)
{
    census *c = ud;
    double now = wall_now();
    int pending = strcmp(i->state, "registering") == 0 ||
                  strcmp(i->state, "deregistering") == 0;

    for (int k = 0; k < NSTATES; k++)
        if (strcmp(i->state, state_names[k]) == 0)
            c->by_state[k]++;
    c->total++;
    if (pending && i->next_attempt_at <= now) {
        c->due++;
        if (c->oldest_due == 0 || i->next_attempt_at < c->oldest_due)
            c->oldest_due = i->next_attempt_at;
    } else if (pending) {
        c->scheduled++;
    }
    /* renewing events: renewals ahead, and subscriptions that lapsed */
    if (strcmp(i->state, "registered") == 0 && i->next_attempt_at > 0)
        c->renewals++;
    if (i->expires_at > 0 && i->expires_at <= now && strcmp(i->desired, "on") == 0)
        c->lapsed++;
    return 0;
}

int census_take(unhook_engine *E, census *c)
{
    memset(c, 0, sizeof *c);
    return unhook_instance_list(E, NULL, census_one, c);
}

/* ---- exposition ---------------------------------------------------------- */

/* A label value: backslash, quote and newline escaped. */
static void label(text *t, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\') text_puts(t, "\\\\");
        else if (*s == '"') text_puts(t, "\\\"");
        else if (*s == '\n') text_puts(t, "\\n");
        else text_add(t, s, 1);
    }
}

static void head(text *t, const char *name, const char *type, const char *help)
{
    text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauges(text *t, const census *c, int ok)
{
    double now = (double)time(NULL);

    head(t, "unhook_store_up", "gauge", "1 when the store answered this scrape.");
    text_printf(t, "unhook_store_up %d\n", ok);
    head(t, "unhook_instances", "gauge", "Instances by state.");
    for (int k = 0; k < NSTATES; k++)
        text_printf(t, "unhook_instances{state=\"%s\"} %ld\n", state_names[k],
                    c->by_state[k]);
    head(t, "unhook_queue_due", "gauge", "Instances whose attempt is due now.");
    text_printf(t, "unhook_queue_due %ld\n", c->due);
    head(t, "unhook_queue_lag_seconds", "gauge",
         "Age of the oldest due attempt (0 when nothing is due).");
    text_printf(t, "unhook_queue_lag_seconds %.3f\n",
                c->oldest_due > 0 && now > c->oldest_due ? now - c->oldest_due : 0.0);
    head(t, "unhook_retries_scheduled", "gauge",
         "Instances waiting for a scheduled retry.");
    text_printf(t, "unhook_retries_scheduled %ld\n", c->scheduled);
    head(t, "unhook_renewals_scheduled", "gauge",
         "Registered instances whose subscription is to be renewed.");
    text_printf(t, "unhook_renewals_scheduled %ld\n", c->renewals);
    head(t, "unhook_subscriptions_lapsed", "gauge",
         "Instances that are on and whose subscription's expiry has passed.");
    text_printf(t, "unhook_subscriptions_lapsed %ld\n", c->lapsed);
}

static void counters(text *t, metrics *m)
{
    static const char *const classes[6] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
    long cum = 0;

    head(t, "unhook_attempts_total", "counter",
         "Attempts this process ran, by connector, event, action and outcome.");
    for (size_t k = 0; k < m->n; k++) {
        text_puts(t, "unhook_attempts_total{connector=\"");
        label(t, m->v[k].connector);
        text_puts(t, "\",event=\"");
        label(t, m->v[k].event);
        text_printf(t, "\",action=\"%s\",outcome=\"%s\"} %ld\n", m->v[k].action,
                    m->v[k].outcome, m->v[k].count);
    }
    head(t, "unhook_retries_total", "counter",
         "Attempts that ended in a scheduled retry.");
    text_printf(t, "unhook_retries_total %ld\n", m->retries);
    head(t, "unhook_provider_responses_total", "counter",
         "HTTP status classes of the provider answers behind outcomes "
         "(none: no answer, or the flow returned without one).");
    for (int k = 0; k < 6; k++)
        text_printf(t, "unhook_provider_responses_total{class=\"%s\"} %ld\n",
                    classes[k], m->classes[k]);
    head(t, "unhook_attempt_duration_seconds", "histogram",
         "Wall-clock time of an attempt, flow and HTTP included.");
    for (size_t b = 0; b < NBUCKETS; b++) {
        cum += m->hist[b];
        text_printf(t, "unhook_attempt_duration_seconds_bucket{le=\"%g\"} %ld\n",
                    buckets[b], cum);
    }
    cum += m->hist[NBUCKETS];
    text_printf(t, "unhook_attempt_duration_seconds_bucket{le=\"+Inf\"} %ld\n", cum);
    text_printf(t, "unhook_attempt_duration_seconds_sum %.6f\n", m->sum);
    text_printf(t, "unhook_attempt_duration_seconds_count %ld\n", m->attempts);
    head(t, "unhook_process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch.");
    text_printf(t, "unhook_process_start_time_seconds %.0f\n", m->started);
}

void metrics_render(metrics *m, unhook_engine *E, text *out)
{
    census c;
    int ok = census_take(E, &c) == UNHOOK_OK;

    gauges(out, &c, ok);
    pthread_mutex_lock(&m->lock);
    counters(out, m);
    pthread_mutex_unlock(&m->lock);
    head(out, "unhook_build_info", "gauge", "The library version.");
    text_printf(out, "unhook_build_info{version=\"%s\"} 1\n", unhook_version());
}
