/*
 * uv_host.c -- a libuv program that embeds unhook the way a server with
 * its own event loop would: one uv loop drives two engines, each on its
 * own store, through unhook_engine_drive (a uv_poll_t per socket the
 * engine asks for, a uv_timer_t per engine), while a host timer of its
 * own must fire every 10 ms.  N deregistrations (half per engine) run;
 * the program checks that every one completed (the done callback, and
 * state "off" in each store) and, unless told not to, that the engines
 * never make the host timer 5 ms late.
 *
 * What is measured, in three phases:
 *   1. calibration: the host timer alone for CALIBRATE_S, no engine
 *      driven: its own lateness (libuv's millisecond clock, the OS's
 *      wakeups, other processes);
 *   2. warm-up (not timed): each engine deregisters CONCURRENCY instances
 *      at once, the provider holding each answer 200 ms, so that every
 *      Lua state the engine will use is made, and the connector read
 *      (the first run of a connector on a state takes a few ms in one
 *      action, once);
 *   3. the N deregistrations with the host timer running.  Every call
 *      into an engine (unhook_engine_action, _timeout_action) is timed by
 *      this thread's CPU clock and by the wall clock, and so is every
 *      tick's lateness.  The engine work that delayed a tick is the CPU
 *      time of the engine calls that ran while the tick was due.
 *
 * The bound: for every tick, the engine work that delayed it, plus the
 * timer's own lateness (the calibration's 90th percentile: what an idle
 * loop shows; libuv's clock counts whole milliseconds), stays under 5 ms.
 * CPU time, because the wall clock of a call also holds the time the OS
 * gave other processes; in a virtual machine even CPU time can hold a
 * stall of the virtual CPU, so a run over the bound is made once more
 * with new instances, and the program fails when both are (an engine
 * whose own work overruns does so in every run).  The raw lateness of
 * the timer with the engines running is measured and printed, not
 * bounded: on a loaded machine the OS alone makes it late by more than
 * the bound (the calibration's worst shows by how much).
 *
 * usage: uv_host CONNECTION DB1 DB2 N [--no-timing]
 * (the connectors come from UNHOOK_CONNECTORS; the fixture provider's URL
 * is UNHOOK_TEST_URL, and it must hold the GitHub hooks 12345678 ..
 * 12345678+2*CONCURRENCY+2*N-1 of octo/hello)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>
#include <unhook.h>

#define FIRST_ID 12345678L
#define CONCURRENCY 16
#define TICK_MS 10
#define LATE_MS 5.0
#define CALIBRATE_S 2.0
#define RING 64                 /* engine calls remembered for a tick */

typedef struct engine engine;

/* One socket an engine asked the loop to watch. */
typedef struct watch {
    uv_poll_t poll;
    engine *owner;
    int fd;
    struct watch *next;
} watch;

struct engine {
    unhook_engine *e;
    uv_timer_t timer;
    uv_idle_t soon;             /* the engine's timer of 0 */
    watch *watches;
    long done, off;
    const char *name;
};

/* One timed call into an engine. */
typedef struct call {
    double start, end, cpu;     /* ms (wall, monotonic), ms of CPU */
} call;

static uv_loop_t *loop;
static uv_timer_t tick;
static double last_tick;        /* ms */
static int timing = 1, failures, ticking;
static long total;

/* What a phase measured. */
static struct {
    long ticks, calls;
    double worst_late, worst_engine, worst_call_cpu, worst_call_wall;
    double late[100000];        /* each tick's lateness (ms), for percentiles */
} m;
static call ring[RING];
static int ring_n;

static double wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Time one call into an engine (rc: its result, which must be OK). */
#define TIMED(expr)                                                      \
    do {                                                                 \
        double w0_ = wall_ms(), c0_ = cpu_ms();                          \
        if ((expr) != UNHOOK_OK)                                         \
            failures++;                                                  \
        timed(w0_, c0_);                                                 \
    } while (0)

static void timed(double w0, double c0)
{
    call *c = &ring[ring_n++ % RING];

    c->start = w0;
    c->end = wall_ms();
    c->cpu = cpu_ms() - c0;
    if (!ticking)
        return;
    m.calls++;
    if (c->cpu > m.worst_call_cpu)
        m.worst_call_cpu = c->cpu;
    if (c->end - c->start > m.worst_call_wall)
        m.worst_call_wall = c->end - c->start;
}

/* The engine work done while a tick due at `due` waited: the CPU time of
 * the calls that ended after it (for one that began before, its part
 * after due at most). */
static double engine_since(double due)
{
    double sum = 0;

    for (int k = 0; k < RING && k < ring_n; k++) {
        const call *c = &ring[k];
        if (c->end <= due)
            continue;
        sum += c->start >= due ? c->cpu
             : c->cpu < c->end - due ? c->cpu : c->end - due;
    }
    return sum;
}

static void on_tick(uv_timer_t *t)
{
    double now = wall_ms(), late = now - last_tick - TICK_MS, eng;

    (void)t;
    if (late < 0)
        late = 0;
    eng = engine_since(last_tick + TICK_MS);
    if (m.ticks < (long)(sizeof m.late / sizeof m.late[0]))
        m.late[m.ticks] = late;
    m.ticks++;
    if (late > m.worst_late)
        m.worst_late = late;
    if (eng > m.worst_engine)
        m.worst_engine = eng;
    last_tick = now;
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    watch *w = p->data;
    int ev = 0;

    if (status < 0)
        ev = UNHOOK_POLL_IN | UNHOOK_POLL_OUT;  /* let curl find the error */
    if (events & UV_READABLE)
        ev |= UNHOOK_POLL_IN;
    if (events & UV_WRITABLE)
        ev |= UNHOOK_POLL_OUT;
    TIMED(unhook_engine_action(w->owner->e, w->fd, ev));
}

static void on_socket(void *ud, int fd, int what)
{
    engine *g = ud;
    watch **pp, *w;
    int ev = 0;

    for (pp = &g->watches; (w = *pp) && w->fd != fd; pp = &w->next)
        ;
    if (what & UNHOOK_POLL_REMOVE) {
        if (w) {
            *pp = w->next;
            uv_poll_stop(&w->poll);
            w->poll.data = w;
            uv_close((uv_handle_t *)&w->poll, on_closed);
        }
        return;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w || uv_poll_init(loop, &w->poll, fd) != 0) {
            fprintf(stderr, "uv_host: cannot watch fd %d\n", fd);
            failures++;
            free(w);
            return;
        }
        w->owner = g;
        w->fd = fd;
        w->poll.data = w;
        w->next = g->watches;
        g->watches = w;
    }
    if (what & UNHOOK_POLL_IN)
        ev |= UV_READABLE;
    if (what & UNHOOK_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&w->poll, ev, on_poll);
}

static void on_engine_timer(uv_timer_t *t)
{
    engine *g = t->data;

    TIMED(unhook_engine_timeout_action(g->e));
}

static void on_soon(uv_idle_t *i)
{
    engine *g = i->data;

    uv_idle_stop(i);
    TIMED(unhook_engine_timeout_action(g->e));
}

/* A timer of 0 is an idle handle: the loop polls I/O (without waiting)
 * and runs due timers first.  (A uv timer started at 0 from a timer
 * callback runs again in the same pass of the timers, before any I/O or
 * other timer: the engine asks for 0 often.) */
static void on_timer(void *ud, long ms)
{
    engine *g = ud;

    uv_idle_stop(&g->soon);
    uv_timer_stop(&g->timer);
    if (ms == 0)
        uv_idle_start(&g->soon, on_soon);
    else if (ms > 0)
        uv_timer_start(&g->timer, on_engine_timer, (uint64_t)ms, 0);
}

static void on_done(void *ud, const char *id, const char *state,
                    const unhook_flow_result *res)
{
    engine *g = ud;

    g->done++;
    total++;
    if (strcmp(state, "off") == 0)
        g->off++;
    else
        fprintf(stderr, "uv_host: %s %s: %s (%s)\n", g->name, id, state,
                res->message ? res->message : "");
}

static void on_stop(uv_timer_t *t)
{
    (void)t;
    uv_stop(loop);
}

/* Instances PREFIX-k for hooks first .. first+n-1, registered; then the
 * intent for all of them (the loop runs them). */
static int queue(engine *g, const char *conn, long first, long n, const char *prefix)
{
    size_t cap = (size_t)n * 400 + 1, len = 0;
    char *text = malloc(cap);
    unhook_stats st;
    long count = 0;
    int rc;

    if (!text)
        return UNHOOK_NOMEM;
    for (long k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap - len,
            "{\"id\":\"%s-%ld\",\"connector\":\"github\",\"event\":\"push\","
            "\"options\":{\"owner\":\"octo\",\"repo\":\"hello\"},\"connection\":\"%s\","
            "\"registration\":{\"id\":%ld},\"state\":\"registered\",\"desired\":\"on\"}\n",
            prefix, k, conn, first + k);
    rc = unhook_import(g->e, text, len, &count);
    free(text);
    if (rc != UNHOOK_OK || count != n) {
        fprintf(stderr, "uv_host: import: %s\n", unhook_errmsg(g->e));
        return UNHOOK_ERROR;
    }
    rc = unhook_instance_disable_all(g->e, NULL, "disabled", &st, NULL, NULL);
    if (rc != UNHOOK_OK)
        fprintf(stderr, "uv_host: disable_all: %s\n", unhook_errmsg(g->e));
    return rc;
}

/* Run the loop until `until` completions have arrived in all. */
static void run_until(long until)
{
    while (total < until && uv_run(loop, UV_RUN_ONCE))
        ;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The p-th percentile of the ticks' lateness measured. */
static double percentile(double p)
{
    long n = m.ticks < (long)(sizeof m.late / sizeof m.late[0])
           ? m.ticks : (long)(sizeof m.late / sizeof m.late[0]);

    if (n == 0)
        return 0;
    qsort(m.late, (size_t)n, sizeof m.late[0], by_value);
    return m.late[(long)((double)(n - 1) * p)];
}

static void start_ticks(void)
{
    memset(&m, 0, sizeof m);
    ticking = 1;
    uv_update_time(loop);
    last_tick = wall_ms();
    uv_timer_start(&tick, on_tick, TICK_MS, TICK_MS);
}

/* Phase 1: the host timer alone; returns its 90th percentile lateness. */
static double calibrate(void)
{
    uv_timer_t stop;
    double p90;

    start_ticks();
    uv_timer_init(loop, &stop);
    uv_timer_start(&stop, on_stop, (uint64_t)(CALIBRATE_S * 1000), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&stop, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    ticking = 0;
    p90 = percentile(0.9);
    printf("uv_host: calibration (no engine, %.0f s): %ld ticks, lateness median "
           "%.3f ms, 90th percentile %.3f ms, 99th percentile %.3f ms, worst %.3f ms\n", CALIBRATE_S,
           m.ticks, percentile(0.5), p90, percentile(0.99), m.worst_late);
    return p90;
}

/* Phase 3: n deregistrations from hook `first` on (half per engine) with
 * the host timer running; returns whether the bound held. */
static int measure(engine *g, const char *conn, long first, long n, int run,
                   double base)
{
    long half = n / 2, before = total;
    char prefix[16];
    double t0, secs, bound;

    snprintf(prefix, sizeof prefix, "run%d", run);
    for (int k = 0; k < 2; k++)
        if (queue(&g[k], conn, first + k * half, k ? n - half : half, prefix) != UNHOOK_OK)
            return failures++, 0;
    t0 = wall_ms();
    start_ticks();
    run_until(before + n);
    uv_timer_stop(&tick);
    ticking = 0;
    secs = (wall_ms() - t0) / 1e3;
    bound = m.worst_engine + base;
    printf("uv_host: run %d: %ld deregistrations in %.2f s on one loop, two engines, "
           "%ld engine calls; longest call %.3f ms of CPU (%.3f ms by the wall "
           "clock); host timer: %ld ticks, worst engine work while a tick was due "
           "%.3f ms of CPU, + its own lateness %.3f = %.3f ms (bound %.0f); raw "
           "lateness median %.3f ms, worst %.3f ms\n", run, total - before, secs,
           m.calls, m.worst_call_cpu, m.worst_call_wall, m.ticks, m.worst_engine,
           base, bound, LATE_MS, percentile(0.5), m.worst_late);
    return bound < LATE_MS;
}

/* Phase 2: every Lua state each engine will use is made (the provider
 * holds these answers 200 ms: run.sh scripts it). */
static int warm_up(engine *g, const char *conn, long first)
{
    for (int k = 0; k < 2; k++)
        if (queue(&g[k], conn, first + k * CONCURRENCY, CONCURRENCY, "warm") != UNHOOK_OK)
            return 0;
    run_until(2 * CONCURRENCY);
    printf("uv_host: warm-up done (%d deregistrations at once on each engine)\n",
           CONCURRENCY);
    return total == 2 * CONCURRENCY;
}

static int count_off(void *ud, const unhook_instance *i)
{
    (void)i;
    (*(long *)ud)++;
    return 0;
}

/* Stop driving (the fds and timers are handed back), check each store. */
static void finish(engine *g)
{
    for (int k = 0; k < 2; k++) {
        unhook_filter f = {.state = "off"};
        long off = 0;
        unhook_engine_undrive(g[k].e);
        unhook_instance_list(g[k].e, &f, count_off, &off);
        printf("uv_host: engine %s: %ld completed, %ld off in its store\n",
               g[k].name, g[k].done, off);
        if (off != g[k].done || g[k].off != g[k].done)
            failures++;
        uv_close((uv_handle_t *)&g[k].timer, NULL);
        uv_close((uv_handle_t *)&g[k].soon, NULL);
        unhook_engine_close(g[k].e);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_DEFAULT);       /* the closes */
    uv_loop_close(loop);
}

int main(int argc, char **argv)
{
    engine g[2] = {{.name = "a"}, {.name = "b"}};
    unhook_config cfg = {.concurrency = CONCURRENCY};
    long n, first = FIRST_ID + 2 * CONCURRENCY;
    double base;
    int ok, runs;

    if (argc < 5) {
        fprintf(stderr, "usage: uv_host CONNECTION DB1 DB2 N [--no-timing]\n");
        return 2;
    }
    n = atol(argv[4]);
    timing = !(argc > 5 && strcmp(argv[5], "--no-timing") == 0);
    loop = uv_default_loop();
    uv_timer_init(loop, &tick);
    base = calibrate();
    for (int k = 0; k < 2; k++) {
        unhook_driver d = {on_socket, on_timer, on_done, &g[k]};
        cfg.db = argv[2 + k];
        if (unhook_engine_open(&g[k].e, &cfg) != UNHOOK_OK)
            return 1;
        uv_timer_init(loop, &g[k].timer);
        g[k].timer.data = &g[k];
        uv_idle_init(loop, &g[k].soon);
        g[k].soon.data = &g[k];
        if (unhook_engine_drive(g[k].e, &d) != UNHOOK_OK) {
            fprintf(stderr, "uv_host: drive: %s\n", unhook_errmsg(g[k].e));
            return 1;
        }
    }
    if (!warm_up(g, argv[1], FIRST_ID))
        failures++;
    ok = measure(g, argv[1], first, n, 1, base);
    runs = 1;
    if (!ok && timing && !failures) {
        printf("uv_host: run 1 was over the bound: once more\n");
        ok = measure(g, argv[1], first + n, n, ++runs, base);
    }
    finish(g);
    if (total != 2 * CONCURRENCY + runs * n)
        failures++;
    if (timing && !ok) {
        fprintf(stderr, "uv_host: the engines' work delayed the host timer past "
                "%.0f ms\n", LATE_MS);
        failures++;
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
