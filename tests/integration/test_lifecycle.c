/*
 * test_lifecycle.c -- instances and their lifecycle through the public C
 * API: enable, disable, retry, bulk disable, due work, import and export,
 * against the fixture provider whose URL is in UNHOOK_TEST_URL
 * (tests/run.sh starts it; without it every test is skipped).
 *
 * Each test has a scratch folder with its own database (unhook_config.db,
 * or with UNHOOK_TEST_PG a PostgreSQL database of its own: the same tests
 * run against both stores, tests/pg/run.sh)
 * and a connection file pointing at the provider (bearer test-token);
 * the provider is reset first.  The bundled github connector is found on
 * the search path scripts/connectors (run from the repo root); small
 * connectors written into the scratch folder give custom retry policies,
 * limits and flows that call unhook.retry or unhook.fail.  The provider
 * is driven through its /_control/ routes (provider_control, tests/support).
 *
 * UNHOOK_TEST_FILTER=PATTERN runs only the tests whose names match.
 */
#include "support.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <curl/curl.h>

#include "unhook.h"

#define FIRST_ID 12345678L        /* the provider's first hook id after a reset */
#define OPTS "{\"owner\":\"o\",\"repo\":\"r\",\"url\":\"https://example.test/hook\"}"

static const char *provider;      /* UNHOOK_TEST_URL */
static char connectors[PATH_MAX]; /* absolute scripts/connectors */

/* ---- the fixture provider's control routes ------------------------------ */

/* How many requests with this method the provider logged. */
static int requests_with_method(const char *method)
{
    char *log, pat[32];
    int n = 0;

    assert_int_equal(provider_control("GET", "/_control/requests", NULL, &log), 200);
    snprintf(pat, sizeof pat, "\"%s\"", method);
    for (const char *p = log; (p = strstr(p, pat)); p += strlen(pat))
        n++;
    free(log);
    return n;
}

/* ---- per-test scratch folder and engine ----------------------------------- */

typedef struct fixture {
    char dir[256];            /* scratch folder */
    char db[320];             /* DIR/unhook_config.db */
    char conn[320];           /* DIR/conn.json: bearer test-token */
    char cdir[320];           /* DIR/c: a connector written by the test */
    unhook_engine *E;
    unhook_flow_result res;
} fixture;

/* A connection file DIR/name; extra is more JSON members (", ..."). */
static void write_connection(fixture *f, const char *name, const char *extra,
                             char *path, size_t size)
{
    char text[1024];

    snprintf(path, size, "%s/%s", f->dir, name);
    snprintf(text, sizeof text, "{\"base_url\": \"%s\", \"auth\": {\"type\": "
             "\"bearer\", \"token\": \"test-token\"}%s}\n", provider,
             extra ? extra : "");
    support_write_at(path, text);
}

static unhook_engine *open_engine(fixture *f, int concurrency)
{
    unhook_config cfg = {0};
    unhook_engine *E = NULL;

    cfg.connectors = connectors;
    cfg.db = f->db;
    cfg.concurrency = concurrency;
    assert_int_equal(unhook_engine_open(&E, &cfg), UNHOOK_OK);
    assert_non_null(E);
    return E;
}

static void reopen(fixture *f, int concurrency)
{
    unhook_engine_close(f->E);
    f->E = open_engine(f, concurrency);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-lifecycle-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    /* the same tests against either store (tests/pg/run.sh sets UNHOOK_TEST_PG) */
    if (!support_pg_db(f->db, sizeof f->db))
        snprintf(f->db, sizeof f->db, "%s/unhook_config.db", f->dir);
    snprintf(f->cdir, sizeof f->cdir, "%s/c", f->dir);
    write_connection(f, "conn.json", NULL, f->conn, sizeof f->conn);
    if (provider_control("POST", "/_control/reset", NULL, NULL) != 200)
        return -1;
    f->E = open_engine(f, 0);
    f->res.retry_after = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unhook_flow_result_free(&f->res);
    unhook_engine_close(f->E);
    support_rm_tree(f->dir);
    free(f);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A connector at DIR/c, events "push" (deregistration: dereg_flow) and
 * "other" (the same flows), both with options owner and repo.  The
 * registration flow creates a hook at the provider.  event_extra goes
 * into each event ("retry = {...},"), top_extra into the manifest.
 */
static void write_connector(fixture *f, const char *top_extra,
                            const char *event_extra, const char *dereg_flow)
{
    char path[400], text[4096];
    static const char *const reg =
        "return {\n"
        "  inputs = { owner = { type = \"string\", required = true },\n"
        "             repo = { type = \"string\", required = true } },\n"
        "  run = function(ctx, input)\n"
        "    return ctx.http.post(\"/repos/{owner}/{repo}/hooks\", {\n"
        "      path = { owner = input.owner, repo = input.repo },\n"
        "      json = { config = { url = \"https://example.test/hook\" } },\n"
        "    }).json\n"
        "  end,\n"
        "}\n";
    static const char *const dereg =
        "return {\n"
        "  inputs = { owner = { type = \"string\", required = true },\n"
        "             repo = { type = \"string\", required = true } },\n"
        "  run = function(ctx, input)\n"
        "    ctx.http.delete(\"/repos/{owner}/{repo}/hooks/{id}\", {\n"
        "      path = { owner = input.owner, repo = input.repo,\n"
        "               id = ctx.registration.id },\n"
        "    })\n"
        "  end,\n"
        "}\n";

#define EVENT(name)                                                          \
    "    " name " = {\n"                                                     \
    "      options = { owner = { type = \"string\", required = true },\n"     \
    "                  repo = { type = \"string\", required = true } },\n"    \
    "      registration = { flow = \"flows/register.lua\",\n"                \
    "        inputs = { owner = option \"owner\", repo = option \"repo\" } },\n" \
    "      deregistration = { flow = \"flows/deregister.lua\",\n"            \
    "        inputs = { owner = option \"owner\", repo = option \"repo\" } },\n" \
    "      %s\n"                                                             \
    "    },\n"
    snprintf(path, sizeof path, "%s/connector.lua", f->cdir);
    snprintf(text, sizeof text,
             "return {\n"
             "  name = \"t\",\n"
             "  auth = \"bearer\",\n"
             "  %s\n"
             "  events = {\n" EVENT("push") EVENT("other") "  },\n"
             "}\n", top_extra ? top_extra : "",
             event_extra ? event_extra : "", event_extra ? event_extra : "");
#undef EVENT
    support_write_at(path, text);
    snprintf(path, sizeof path, "%s/flows/register.lua", f->cdir);
    support_write_at(path, reg);
    snprintf(path, sizeof path, "%s/flows/deregister.lua", f->cdir);
    support_write_at(path, dereg_flow ? dereg_flow : dereg);
}

/* Enable id with the github connector (event push) or, with own set, the
 * test's connector; the provider creates the next hook. */
static int enable_as(fixture *f, const char *id, int own, const char *options)
{
    unhook_flow_request req = {0};

    req.connector = own ? f->cdir : "github";
    req.event = "push";
    req.options_json = options;
    req.connection = f->conn;
    unhook_flow_result_free(&f->res);
    return unhook_instance_enable(f->E, id, &req, &f->res);
}

static void enable_ok(fixture *f, const char *id, int own)
{
    int rc = enable_as(f, id, own, own ? "{\"owner\":\"o\",\"repo\":\"r\"}" : OPTS);

    if (rc != UNHOOK_OK)
        print_message("enable %s: %s\n", id, unhook_errmsg(f->E));
    assert_int_equal(rc, UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
}

static int disable(fixture *f, const char *id)
{
    unhook_flow_result_free(&f->res);
    return unhook_instance_disable(f->E, id, NULL, &f->res);
}

static unhook_instance *get(fixture *f, const char *id)
{
    unhook_instance *i = NULL;

    assert_int_equal(unhook_instance_get(f->E, id, &i), UNHOOK_OK);
    assert_non_null(i);
    return i;
}

static void assert_state(fixture *f, const char *id, const char *state)
{
    unhook_instance *i = get(f, id);

    assert_string_equal(i->state, state);
    unhook_instance_free(i);
}

/* desired, state and whether registration data is held, checked after
 * the instance is released (a failing check leaks nothing). */
static void assert_inst(fixture *f, const char *id, const char *desired,
                        const char *state, int has_registration)
{
    unhook_instance *i = get(f, id);
    char d[32], st[32];
    int reg = i->registration != NULL;

    snprintf(d, sizeof d, "%s", i->desired);
    snprintf(st, sizeof st, "%s", i->state);
    unhook_instance_free(i);
    assert_string_equal(d, desired);
    assert_string_equal(st, state);
    assert_int_equal(reg, has_registration);
}

/* The hook id in registration data (its top-level "id"), or -1. */
static long reg_hook_id(const char *json)
{
    const char *p;

    if (!json || !(p = strstr(json, "\"id\"")))
        return -1;
    p += 4;
    while (*p == ' ' || *p == ':')
        p++;
    return strtol(p, NULL, 10);
}

/* ---- history -------------------------------------------------------------- */

typedef struct hline {
    char *action, *outcome, *message, *registration;
    int status, attempt;
} hline;

typedef struct hist {
    int n;
    hline l[64];
} hist;

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int hist_add(void *ud, const unhook_history *h)
{
    hist *x = ud;
    hline *l;

    if (x->n >= 64)
        return 1;
    l = &x->l[x->n++];
    l->action = dup_or_null(h->action);
    l->outcome = dup_or_null(h->outcome);
    l->message = dup_or_null(h->message);
    l->registration = dup_or_null(h->registration);
    l->status = h->status;
    l->attempt = h->attempt;
    return 0;
}

static void hist_load(fixture *f, const char *id, hist *x)
{
    memset(x, 0, sizeof *x);
    assert_int_equal(unhook_history_list(f->E, id, hist_add, x), UNHOOK_OK);
}

static void hist_free(hist *x)
{
    for (int i = 0; i < x->n; i++) {
        free(x->l[i].action);
        free(x->l[i].outcome);
        free(x->l[i].message);
        free(x->l[i].registration);
    }
    x->n = 0;
}

/* The last line with this action, or NULL. */
static const hline *hist_last(const hist *x, const char *action)
{
    for (int i = x->n - 1; i >= 0; i--)
        if (x->l[i].action && strcmp(x->l[i].action, action) == 0)
            return &x->l[i];
    return NULL;
}

static int hist_count(const hist *x, const char *action)
{
    int n = 0;

    for (int i = 0; i < x->n; i++)
        if (x->l[i].action && strcmp(x->l[i].action, action) == 0)
            n++;
    return n;
}

/* ---- instance lists ----------------------------------------------------- */

typedef struct tally {
    long n, off, registered, deregistering, failed, with_reg;
} tally;

static int tally_one(void *ud, const unhook_instance *i)
{
    tally *t = ud;

    t->n++;
    t->off += strcmp(i->state, "off") == 0;
    t->registered += strcmp(i->state, "registered") == 0;
    t->deregistering += strcmp(i->state, "deregistering") == 0;
    t->failed += strcmp(i->state, "failed") == 0;
    t->with_reg += i->registration != NULL;
    return 0;
}

static tally tally_of(unhook_engine *E, const unhook_filter *flt)
{
    tally t = {0};

    assert_int_equal(unhook_instance_list(E, flt, tally_one, &t), UNHOOK_OK);
    return t;
}


/* ---- enable ----------------------------------------------------------------- */

static void test_enable_stores_registration(void **state)
{
    fixture *f = *state;
    unhook_instance *i;
    hist h;

    enable_ok(f, "i1", 0);
    i = get(f, "i1");
    assert_string_equal(i->id, "i1");
    assert_string_equal(i->connector, "github");
    assert_string_equal(i->event, "push");
    assert_string_equal(i->desired, "on");
    assert_string_equal(i->state, "registered");
    assert_non_null(i->registration);
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    assert_non_null(strstr(i->options, "\"owner\""));
    assert_null(i->last_error);
    assert_int_equal(i->attempts, 0);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "enable"), 1);
    assert_non_null(hist_last(&h, "register"));
    assert_string_equal(hist_last(&h, "register")->outcome, "done");
    hist_free(&h);
    assert_int_equal(requests_with_method("POST"), 1);
}

/* The result of an enable carries the registration data, as the result
 * of a registration flow run does (unhook_flow_result.registration). */
static void test_enable_result_carries_registration(void **state)
{
    fixture *f = *state;

    enable_ok(f, "i1", 0);
    assert_non_null(f->res.registration);
    assert_int_equal(reg_hook_id(f->res.registration), FIRST_ID);
}

/* Enable again after a disable: a new registration. */
static void test_enable_after_disable(void **state)
{
    fixture *f = *state;
    unhook_instance *i;
    hist h;

    enable_ok(f, "i1", 0);
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    enable_ok(f, "i1", 0);
    i = get(f, "i1");
    assert_string_equal(i->desired, "on");
    assert_string_equal(i->state, "registered");
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID + 1);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "enable"), 2);
    assert_int_equal(hist_count(&h, "register"), 2);
    assert_int_equal(hist_count(&h, "deregister"), 1);
    hist_free(&h);
}

static void test_enable_missing_option_stores_nothing(void **state)
{
    fixture *f = *state;
    unhook_instance *i = (unhook_instance *)1;

    assert_int_equal(enable_as(f, "i1", 0, "{\"owner\":\"o\",\"url\":\"https://x.test/h\"}"),
                     UNHOOK_USAGE);
    assert_non_null(strstr(unhook_errmsg(f->E), "repo"));
    assert_int_equal(unhook_instance_get(f->E, "i1", &i), UNHOOK_NOTFOUND);
    assert_null(i);
    assert_int_equal(tally_of(f->E, NULL).n, 0);
    assert_int_equal(requests_with_method("POST"), 0);
}

/* Enabling the same instance twice is idempotent: nothing runs. */
static void test_enable_twice_is_already_on(void **state)
{
    fixture *f = *state;

    enable_ok(f, "i1", 0);
    assert_int_equal(enable_as(f, "i1", 0, OPTS), UNHOOK_OK);
    assert_int_equal(f->res.note, UNHOOK_NOTE_ALREADY_ON);
    assert_string_equal(f->res.code, "already_on");
    assert_int_equal(requests_with_method("POST"), 1);
}

/* With other options it is refused, and points to update. */
static void test_enable_twice_with_other_options_is_usage(void **state)
{
    fixture *f = *state;
    unhook_instance *i;

    enable_ok(f, "i1", 0);
    assert_int_equal(enable_as(f, "i1", 0, "{\"owner\":\"o\",\"repo\":\"r\","
                               "\"url\":\"https://example.test/other\"}"), UNHOOK_USAGE);
    assert_non_null(strstr(unhook_errmsg(f->E), "unhook update i1"));
    i = get(f, "i1");
    assert_string_equal(i->state, "registered");
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    unhook_instance_free(i);
    assert_int_equal(requests_with_method("POST"), 1);
}

/* ---- disable: one attempt and its outcome --------------------------------- */

static void test_disable_done(void **state)
{
    fixture *f = *state;
    unhook_instance *i;
    const hline *l;
    char *reg;
    hist h;

    enable_ok(f, "i1", 0);
    i = get(f, "i1");
    reg = strdup(i->registration);
    unhook_instance_free(i);

    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    assert_null(f->res.code);
    i = get(f, "i1");
    assert_string_equal(i->state, "off");
    assert_string_equal(i->desired, "off");
    assert_null(i->registration);
    assert_null(i->last_error);
    assert_string_equal(i->reason, "disabled");
    unhook_instance_free(i);

    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "disable"), 1);
    assert_int_equal(hist_count(&h, "deregister"), 1);
    l = hist_last(&h, "deregister");
    assert_string_equal(l->outcome, "done");
    assert_int_equal(l->attempt, 1);
    assert_non_null(l->registration);
    assert_string_equal(l->registration, reg);
    hist_free(&h);
    free(reg);
    assert_int_equal(requests_with_method("DELETE"), 1);
}

static void disable_gone(fixture *f, int status)
{
    char resp[128];
    unhook_instance *i;
    hist h;

    enable_ok(f, "i1", 0);
    snprintf(resp, sizeof resp, "[{\"status\":%d,\"body\":{\"message\":\"Not Found\"}}]",
             status);
    provider_script("DELETE", "/repos/o/r/hooks/", resp);
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_GONE);
    assert_int_equal(f->res.status, status);
    i = get(f, "i1");
    assert_string_equal(i->state, "off");
    assert_null(i->registration);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "gone");
    assert_int_equal(hist_last(&h, "deregister")->status, status);
    assert_int_equal(reg_hook_id(hist_last(&h, "deregister")->registration), FIRST_ID);
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 1);
}

static void test_disable_404_is_gone(void **state) { disable_gone(*state, 404); }
static void test_disable_410_is_gone(void **state) { disable_gone(*state, 410); }

static void test_disable_429_retry_after(void **state)
{
    fixture *f = *state;
    unhook_instance *i;
    double before, after;
    hist h;

    enable_ok(f, "i1", 0);
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"status\":429,\"headers\":{\"Retry-After\":\"120\"},"
           "\"body\":{\"message\":\"slow down\"}}]");
    before = now_s();
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    after = now_s();
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_int_equal(f->res.status, 429);
    assert_true(f->res.retry_after == 120);
    i = get(f, "i1");
    assert_string_equal(i->state, "deregistering");
    assert_string_equal(i->desired, "off");
    assert_true(i->next_attempt_at >= before + 119);
    assert_true(i->next_attempt_at <= after + 121);
    assert_non_null(i->last_error);
    assert_non_null(strstr(i->last_error, "429"));
    assert_non_null(i->registration);
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    assert_int_equal(i->attempts, 1);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "retry");
    assert_int_equal(hist_last(&h, "deregister")->status, 429);
    assert_null(hist_last(&h, "deregister")->registration);
    hist_free(&h);
}

/* Every descriptor under a low limit taken (into hoard; *was the limit
 * before); how many. */
static int hoard_descriptors(int *hoard, int max, struct rlimit *was)
{
    struct rlimit low;
    int n = 0, fd;

    assert_int_equal(getrlimit(RLIMIT_NOFILE, was), 0);
    low = *was;
    if (low.rlim_cur == RLIM_INFINITY || low.rlim_cur > 256)
        low.rlim_cur = 256;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (n < max && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        hoard[n++] = fd;
    assert_int_equal(errno, EMFILE);
    return n;
}

static void free_descriptors(int *hoard, int n, const struct rlimit *was)
{
    while (n > 0)
        close(hoard[--n]);
    setrlimit(RLIMIT_NOFILE, was);
}

/* The connector's files cannot be read because the process has no file
 * descriptor left: nothing is wrong with the connector, so the attempt
 * is retried (code "resources", the registration data kept) rather than
 * dead-lettered as an invalid connector, and it succeeds once there are
 * descriptors again. */
static void test_disable_short_of_descriptors_retries(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    unhook_instance *i;
    struct rlimit was;
    int hoard[512], n, rc;
    hist h;

    enable_ok(f, "i1", 0);
    n = hoard_descriptors(hoard, 512, &was);
    rc = disable(f, "i1");
    free_descriptors(hoard, n, &was);   /* before any assertion can leave */
    assert_int_equal(rc, UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_string_equal(f->res.code, "resources");
    assert_non_null(strstr(f->res.message, "Too many open files"));
    i = get(f, "i1");
    assert_string_equal(i->state, "deregistering");
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    unhook_instance_free(i);
    assert_int_equal(requests_with_method("DELETE"), 0);

    assert_int_equal(unhook_engine_run(f->E, NULL, 10000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.done, 1);
    assert_int_equal(stats.failed, 0);
    assert_state(f, "i1", "off");
    hist_load(f, "i1", &h);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "done");
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 1);
}

typedef struct later_free {
    int *hoard, n;
    struct rlimit was;
} later_free;

static void *free_later(void *arg)
{
    later_free *l = arg;

    usleep(300 * 1000);
    free_descriptors(l->hoard, l->n, &l->was);
    return NULL;
}

/* Descriptors run short while a run works and come back before it ends:
 * the run reads the connector again before its next start (work.c
 * start_queued) and the retry succeeds in the same run, rather than
 * failing the same way until its attempts run out. */
static void test_run_reads_connector_again_when_descriptors_return(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    later_free l;
    pthread_t th;
    int hoard[512], rc;
    hist h;

    enable_ok(f, "i1", 0);
    /* a first attempt that leaves the instance due at once */
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"status\":503,\"headers\":{\"Retry-After\":\"0\"},\"body\":\"busy\"}]");
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.status, 503);
    /* the run starts short of descriptors; they come back 300 ms on */
    l.hoard = hoard;
    l.n = hoard_descriptors(hoard, 512, &l.was);
    if (pthread_create(&th, NULL, free_later, &l) != 0) {
        free_descriptors(hoard, l.n, &l.was);
        fail_msg("pthread_create failed");
    }
    rc = unhook_engine_run(f->E, NULL, 20000, 1, &stats, NULL, NULL);
    pthread_join(th, NULL);
    assert_int_equal(rc, UNHOOK_OK);
    assert_int_equal(stats.done, 1);
    assert_int_equal(stats.failed, 0);
    assert_state(f, "i1", "off");
    hist_load(f, "i1", &h);
    for (rc = 0; rc < h.n; rc++)        /* an attempt in the run was short */
        if (h.l[rc].message && strstr(h.l[rc].message, "Too many open files"))
            break;
    assert_true(rc < h.n);
    assert_string_equal(h.l[rc].outcome, "retry");
    assert_string_equal(hist_last(&h, "deregister")->outcome, "done");
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 2);
}

static void test_disable_503_then_run_succeeds(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    unhook_instance *i;
    hist h;

    enable_ok(f, "i1", 0);
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"status\":503,\"headers\":{\"Retry-After\":\"0\"},\"body\":\"busy\"}]");
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_int_equal(f->res.status, 503);
    assert_state(f, "i1", "deregistering");

    assert_int_equal(unhook_engine_run(f->E, NULL, 10000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.done, 1);
    assert_int_equal(stats.pending, 0);
    assert_int_equal(stats.failed, 0);
    assert_int_equal(stats.total, 1);
    i = get(f, "i1");
    assert_string_equal(i->state, "off");
    assert_null(i->registration);
    assert_null(i->last_error);
    assert_true(i->next_attempt_at == 0);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "deregister"), 2);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "done");
    assert_int_equal(hist_last(&h, "deregister")->attempt, 2);
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 2);
}

static void test_disable_400_fails_then_retry(void **state)
{
    fixture *f = *state;
    unhook_instance *i;
    hist h;

    enable_ok(f, "i1", 0);
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"status\":400,\"body\":{\"message\":\"Bad Request\"}}]");
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_FAILED);
    assert_int_equal(f->res.status, 400);
    i = get(f, "i1");
    assert_string_equal(i->state, "failed");
    assert_string_equal(i->desired, "off");
    assert_non_null(i->registration);
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    assert_non_null(i->last_error);
    assert_non_null(strstr(i->last_error, "400"));
    assert_true(i->next_attempt_at == 0);
    unhook_instance_free(i);

    /* the provider has recovered (the script is used up) */
    unhook_flow_result_free(&f->res);
    assert_int_equal(unhook_instance_retry(f->E, "i1", &f->res), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    i = get(f, "i1");
    assert_string_equal(i->state, "off");
    assert_null(i->registration);
    assert_null(i->last_error);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "retry"), 1);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "done");
    assert_int_equal(reg_hook_id(hist_last(&h, "deregister")->registration), FIRST_ID);
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 2);

    /* retrying what is not failed does nothing */
    unhook_flow_result_free(&f->res);
    assert_int_equal(unhook_instance_retry(f->E, "i1", &f->res), UNHOOK_OK);
    assert_string_equal(f->res.code, "not_failed");
    assert_int_equal(requests_with_method("DELETE"), 2);
}

static void test_disable_dropped_connection_is_transport(void **state)
{
    fixture *f = *state;
    unhook_instance *i;

    enable_ok(f, "i1", 0);
    /* a fresh engine: libcurl resends a request once by itself when a
     * reused keep-alive connection closes before any answer */
    reopen(f, 0);
    provider_script("DELETE", "/repos/o/r/hooks/", "[{\"drop\":true}]");
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_non_null(f->res.code);
    assert_string_equal(f->res.code, "transport");
    i = get(f, "i1");
    assert_string_equal(i->state, "deregistering");
    assert_non_null(i->registration);
    assert_non_null(strstr(i->last_error, "transport"));
    assert_true(i->next_attempt_at > 0);
    unhook_instance_free(i);
    assert_int_equal(requests_with_method("DELETE"), 1);
}

static void test_disable_timeout(void **state)
{
    fixture *f = *state;
    char slow_conn[400];
    unhook_flow_request req = {0};
    unhook_instance *i;
    double t0;

    write_connection(f, "slow.json", ", \"timeout_ms\": 300", slow_conn,
                     sizeof slow_conn);
    req.connector = "github";
    req.event = "push";
    req.options_json = OPTS;
    req.connection = slow_conn;
    assert_int_equal(unhook_instance_enable(f->E, "i1", &req, &f->res), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    /* a canned status after the delay: the late answer deletes nothing */
    provider_script("DELETE", "/repos/o/r/hooks/", "[{\"delay_ms\":2000,\"status\":503}]");
    t0 = mono_s();
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_true(mono_s() - t0 < 1.9);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_non_null(f->res.code);
    assert_string_equal(f->res.code, "timeout");
    i = get(f, "i1");
    assert_string_equal(i->state, "deregistering");
    assert_non_null(i->registration);
    assert_non_null(strstr(i->last_error, "timeout"));
    unhook_instance_free(i);
}

static void test_attempts_exhausted(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    unhook_instance *i;
    hist h;

    write_connector(f, NULL, "retry = { max_attempts = 2, base_ms = 1, max_ms = 1 },", NULL);
    enable_ok(f, "i1", 1);
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"status\":503},{\"status\":503},{\"status\":503},{\"status\":503},"
           "{\"status\":503}]");
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_state(f, "i1", "deregistering");

    assert_int_equal(unhook_engine_run(f->E, NULL, 10000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.failed, 1);
    assert_int_equal(stats.done, 0);
    assert_int_equal(stats.pending, 0);
    i = get(f, "i1");
    assert_string_equal(i->state, "failed");
    assert_non_null(i->last_error);
    assert_non_null(strstr(i->last_error, "gave up after 2 attempts"));
    assert_non_null(i->registration);
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    assert_true(i->next_attempt_at == 0);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "deregister"), 2);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "failed");
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 2);
}

/* The default policy: 8 attempts (Retry-After: 0 keeps it quick). */
static void test_attempts_exhausted_default_policy(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    unhook_flow_result res = {0};
    unhook_instance *i;
    hist h;

    enable_ok(f, "i1", 0);
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}},"
           "{\"status\":503,\"headers\":{\"Retry-After\":\"0\"}}]");
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_int_equal(unhook_engine_run(f->E, NULL, 20000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.failed, 1);
    assert_int_equal(stats.pending, 0);
    assert_int_equal(stats.total, 1);
    i = get(f, "i1");
    assert_string_equal(i->state, "failed");
    assert_non_null(strstr(i->last_error, "gave up after 8 attempts"));
    assert_int_equal(reg_hook_id(i->registration), FIRST_ID);
    unhook_instance_free(i);
    hist_load(f, "i1", &h);
    assert_int_equal(hist_count(&h, "deregister"), 8);
    assert_string_equal(hist_last(&h, "deregister")->outcome, "failed");
    assert_int_equal(hist_last(&h, "deregister")->attempt, 8);
    hist_free(&h);
    assert_int_equal(requests_with_method("DELETE"), 8);

    /* the dead letter is re-queued with its attempts reset: the ninth
     * answer is the last 503, which is only a retry again */
    assert_int_equal(unhook_instance_retry(f->E, "i1", &res), UNHOOK_OK);
    assert_int_equal(res.outcome, UNHOOK_OUTCOME_RETRY);
    unhook_flow_result_free(&res);
    i = get(f, "i1");
    assert_string_equal(i->state, "deregistering");
    assert_int_equal(i->attempts, 1);
    unhook_instance_free(i);
}

/* An event's own gone list replaces the default {404, 410}. */
static void test_custom_gone_statuses(void **state)
{
    fixture *f = *state;

    write_connector(f, NULL, "gone = { 404, 409 },", NULL);
    enable_ok(f, "a", 1);
    enable_ok(f, "b", 1);
    provider_script("DELETE", "/repos/o/r/hooks/", "[{\"status\":409},{\"status\":410}]");
    assert_int_equal(disable(f, "a"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_GONE);
    assert_state(f, "a", "off");
    assert_int_equal(disable(f, "b"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_FAILED);
    assert_state(f, "b", "failed");
}

static void test_flow_retry_and_fail(void **state)
{
    fixture *f = *state;
    unhook_instance *i;
    char text[2048];
    long count = 0;
    double before;

    write_connector(f, NULL, NULL,
                    "return {\n"
                    "  inputs = { owner = { type = \"string\" }, repo = { type = \"string\" } },\n"
                    "  run = function(ctx)\n"
                    "    if ctx.instance.event == \"push\" then unhook.retry(\"busy\", 0) end\n"
                    "    unhook.fail(\"no\")\n"
                    "  end,\n"
                    "}\n");
    snprintf(text, sizeof text,
             "{\"id\":\"r\",\"connector\":\"%s\",\"event\":\"push\","
             "\"options\":{\"owner\":\"o\",\"repo\":\"r\"},\"connection\":\"%s\","
             "\"registration\":{\"id\":1}}\n"
             "{\"id\":\"f\",\"connector\":\"%s\",\"event\":\"other\","
             "\"options\":{\"owner\":\"o\",\"repo\":\"r\"},\"connection\":\"%s\","
             "\"registration\":{\"id\":2}}\n", f->cdir, f->conn, f->cdir, f->conn);
    assert_int_equal(unhook_import(f->E, text, strlen(text), &count), UNHOOK_OK);
    assert_int_equal(count, 2);

    before = now_s();
    assert_int_equal(disable(f, "r"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    assert_non_null(f->res.message);
    assert_non_null(strstr(f->res.message, "busy"));
    i = get(f, "r");
    assert_string_equal(i->state, "deregistering");
    assert_string_equal(i->desired, "off");
    assert_non_null(strstr(i->last_error, "busy"));
    assert_true(i->next_attempt_at >= before - 1 && i->next_attempt_at <= now_s() + 1);
    assert_string_equal(i->registration, "{\"id\":1}");
    unhook_instance_free(i);

    assert_int_equal(disable(f, "f"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_FAILED);
    assert_non_null(strstr(f->res.message, "no"));
    i = get(f, "f");
    assert_string_equal(i->state, "failed");
    assert_non_null(i->last_error);
    assert_non_null(strstr(i->last_error, "no"));
    assert_string_equal(i->registration, "{\"id\":2}");
    unhook_instance_free(i);
    assert_int_equal(requests_with_method("DELETE"), 0);
}

static void test_disable_never_registered(void **state)
{
    fixture *f = *state;
    unhook_instance *i;

    provider_script("POST", "/repos/o/r/hooks", "[{\"status\":400,\"body\":{\"message\":\"nope\"}}]");
    assert_int_equal(enable_as(f, "i1", 0, OPTS), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_FAILED);
    i = get(f, "i1");
    assert_string_equal(i->state, "failed");
    assert_string_equal(i->desired, "on");
    assert_null(i->registration);
    unhook_instance_free(i);

    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    assert_non_null(f->res.code);
    assert_string_equal(f->res.code, "not_registered");
    i = get(f, "i1");
    assert_string_equal(i->state, "off");
    assert_string_equal(i->desired, "off");
    assert_null(i->registration);
    unhook_instance_free(i);

    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    assert_non_null(f->res.code);
    assert_string_equal(f->res.code, "already_off");
    assert_state(f, "i1", "off");
    assert_int_equal(requests_with_method("DELETE"), 0);
}

/* A retryable registration failure leaves the instance registering with
 * nothing registered; disabling it then turns it off without a request,
 * and the engine does not run the registration again. */
static void test_disable_while_registration_retries(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    unhook_instance *i;

    provider_script("POST", "/repos/o/r/hooks",
           "[{\"status\":500,\"headers\":{\"Retry-After\":\"0\"}}]");
    assert_int_equal(enable_as(f, "i1", 0, OPTS), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_RETRY);
    i = get(f, "i1");
    assert_string_equal(i->desired, "on");
    assert_string_equal(i->state, "registering");
    assert_null(i->registration);
    unhook_instance_free(i);

    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    assert_string_equal(f->res.code, "not_registered");
    assert_state(f, "i1", "off");
    assert_int_equal(unhook_engine_run(f->E, NULL, 1000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.total, 0);
    assert_state(f, "i1", "off");
    assert_int_equal(requests_with_method("POST"), 1);
    assert_int_equal(requests_with_method("DELETE"), 0);
}

/* Disable records desired "off" even when the state already is off. */
static void test_disable_imported_off_records_desired_off(void **state)
{
    /* desired "on" with state "off" would never converge: import refuses
     * it; an instance imported off is reported as already off */
    fixture *f = *state;
    static const char bad[] =
        "{\"id\":\"x\",\"connector\":\"github\",\"event\":\"push\","
        "\"state\":\"off\",\"desired\":\"on\"}\n";
    static const char good[] =
        "{\"id\":\"x\",\"connector\":\"github\",\"event\":\"push\","
        "\"state\":\"off\"}\n";
    long count = 0;

    assert_int_equal(unhook_import(f->E, bad, strlen(bad), &count), UNHOOK_USAGE);
    assert_non_null(strstr(unhook_errmsg(f->E), "desired 'on' does not go with state 'off'"));
    assert_int_equal(unhook_import(f->E, good, strlen(good), &count), UNHOOK_OK);
    assert_int_equal(disable(f, "x"), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    assert_string_equal(f->res.code, "already_off");
    assert_inst(f, "x", "off", "off", 0);
    assert_int_equal(requests_with_method("DELETE"), 0);
}

static void test_disable_unknown_id(void **state)
{
    fixture *f = *state;

    assert_int_equal(disable(f, "nosuch"), UNHOOK_NOTFOUND);
    assert_non_null(strstr(unhook_errmsg(f->E), "nosuch"));
    assert_int_equal(requests_with_method("DELETE"), 0);
}

/* ---- import and export ------------------------------------------------------ */

typedef struct lines {
    int n;
    char *l[16];
} lines;

static int line_add(void *ud, const char *line, size_t len)
{
    lines *x = ud;

    if (x->n >= 16)
        return 1;
    x->l[x->n] = malloc(len + 1);
    memcpy(x->l[x->n], line, len);
    x->l[x->n][len] = '\0';
    x->n++;
    return 0;
}

static void lines_free(lines *x)
{
    for (int i = 0; i < x->n; i++)
        free(x->l[i]);
    x->n = 0;
}

static void test_import_export_round_trip(void **state)
{
    fixture *f = *state;
    static const char *const want[3] = {
        "{\"connection\":null,\"connector\":\"github\",\"desired\":\"on\","
        "\"event\":\"push\",\"id\":\"a\",\"options\":{\"owner\":\"o\",\"repo\":\"r\"},"
        "\"registration\":{\"id\":1},\"state\":\"registered\"}",
        "{\"connection\":\"/etc/conn.json\",\"connector\":\"github\",\"desired\":\"off\","
        "\"event\":\"issues\",\"id\":\"b\",\"options\":{\"owner\":\"o\",\"repo\":\"s\"},"
        "\"registration\":null,\"state\":\"off\"}",
        "{\"connection\":null,\"connector\":\"github\",\"desired\":\"off\","
        "\"event\":\"push\",\"id\":\"c\",\"options\":{\"owner\":\"o\",\"repo\":\"r\"},"
        "\"registration\":{\"id\":3},\"state\":\"deregistering\"}",
    };
    char text[2048];
    unhook_instance *i;
    lines out = {0};
    long count = 0;

    /* the export lines are importable as they are */
    snprintf(text, sizeof text, "%s\n%s\n\n%s\n", want[2], want[0], want[1]);
    assert_int_equal(unhook_import(f->E, text, strlen(text), &count), UNHOOK_OK);
    assert_int_equal(count, 3);
    assert_int_equal(unhook_export(f->E, line_add, &out), UNHOOK_OK);
    assert_int_equal(out.n, 3);
    for (int k = 0; k < 3; k++)
        assert_string_equal(out.l[k], want[k]);
    lines_free(&out);

    i = get(f, "c");
    assert_string_equal(i->state, "deregistering");
    assert_string_equal(i->desired, "off");
    assert_string_equal(i->registration, "{\"id\":3}");
    unhook_instance_free(i);
    i = get(f, "b");
    assert_string_equal(i->connection, "/etc/conn.json");
    assert_null(i->registration);
    unhook_instance_free(i);
}

static void test_import_bad_line_imports_nothing(void **state)
{
    fixture *f = *state;
    static const char text[] =
        "{\"id\":\"a\",\"connector\":\"github\",\"event\":\"push\",\"registration\":{\"id\":1}}\n"
        "{\"id\":\"b\",\"connector\":\"github\",\"event\":\"push\",\"registration\":{\"id\":2}\n"
        "{\"id\":\"c\",\"connector\":\"github\",\"event\":\"push\",\"registration\":{\"id\":3}}\n";
    unhook_instance *i = NULL;
    long count = -1;

    assert_int_equal(unhook_import(f->E, text, strlen(text), &count), UNHOOK_USAGE);
    assert_int_equal(count, 0);
    assert_non_null(strstr(unhook_errmsg(f->E), "line 2"));
    assert_int_equal(unhook_instance_get(f->E, "a", &i), UNHOOK_NOTFOUND);
    assert_null(i);
    assert_int_equal(tally_of(f->E, NULL).n, 0);
}

static void test_import_existing_id_imports_nothing(void **state)
{
    fixture *f = *state;
    static const char first[] =
        "{\"id\":\"a\",\"connector\":\"github\",\"event\":\"push\",\"registration\":{\"id\":1}}\n";
    static const char second[] =
        "{\"id\":\"z\",\"connector\":\"github\",\"event\":\"push\",\"registration\":{\"id\":9}}\n"
        "{\"id\":\"a\",\"connector\":\"github\",\"event\":\"issues\",\"registration\":{\"id\":2}}\n";
    unhook_instance *i = NULL;
    long count = -1;
    hist h;

    assert_int_equal(unhook_import(f->E, first, strlen(first), &count), UNHOOK_OK);
    assert_int_equal(count, 1);
    assert_int_equal(unhook_import(f->E, second, strlen(second), &count), UNHOOK_USAGE);
    assert_int_equal(count, 0);
    assert_non_null(strstr(unhook_errmsg(f->E), "'a'"));
    assert_int_equal(unhook_instance_get(f->E, "z", &i), UNHOOK_NOTFOUND);
    assert_null(i);
    i = get(f, "a");
    assert_string_equal(i->event, "push");
    assert_string_equal(i->registration, "{\"id\":1}");
    unhook_instance_free(i);
    assert_int_equal(tally_of(f->E, NULL).n, 1);
    hist_load(f, "a", &h);
    assert_int_equal(hist_count(&h, "import"), 1);
    hist_free(&h);
}

/* ---- bulk work ----------------------------------------------------------------- */

static void test_disable_all_200(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    int counts[200], entries;
    tally t;

    provider_seed(200);
    reopen(f, 8);
    provider_import(f->E, f->conn, "i", 0, 200, "github", "push");
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    assert_int_equal(stats.total, 200);
    assert_int_equal(stats.done, 200);
    assert_int_equal(stats.gone, 0);
    assert_int_equal(stats.pending, 0);
    assert_int_equal(stats.failed, 0);
    assert_int_equal(stats.skipped, 0);
    t = tally_of(f->E, NULL);
    assert_int_equal(t.n, 200);
    assert_int_equal(t.off, 200);
    assert_int_equal(t.with_reg, 0);
    entries = provider_delete_counts(FIRST_ID, counts, 200);
    assert_int_equal(entries, 200);
    for (int k = 0; k < 200; k++)
        assert_int_equal(counts[k], 1);
}

static void test_disable_all_filter(void **state)
{
    fixture *f = *state;
    unhook_filter flt = {0};
    unhook_stats stats;
    int counts[9];
    tally t;

    write_connector(f, NULL, NULL, NULL);
    provider_seed(9);
    provider_import(f->E, f->conn, "gp", 0, 4, "github", "push");
    provider_import(f->E, f->conn, "gi", 4, 3, "github", "issues");
    provider_import(f->E, f->conn, "tp", 7, 2, f->cdir, "push");

    flt.connector = "github";
    flt.event = "issues";
    assert_int_equal(unhook_instance_disable_all(f->E, &flt, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    assert_int_equal(stats.total, 3);
    assert_int_equal(stats.done, 3);
    t = tally_of(f->E, &(unhook_filter){.event = "issues"});
    assert_int_equal(t.off, 3);
    t = tally_of(f->E, NULL);
    assert_int_equal(t.off, 3);
    assert_int_equal(t.registered, 6);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 9), 3);
    for (int k = 0; k < 9; k++)
        assert_int_equal(counts[k], k >= 4 && k < 7);

    memset(&flt, 0, sizeof flt);
    flt.connector = f->cdir;
    assert_int_equal(unhook_instance_disable_all(f->E, &flt, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    assert_int_equal(stats.total, 2);
    assert_int_equal(stats.done, 2);
    t = tally_of(f->E, NULL);
    assert_int_equal(t.off, 5);
    assert_int_equal(t.registered, 4);
    t = tally_of(f->E, &(unhook_filter){.connector = "github", .event = "push"});
    assert_int_equal(t.registered, 4);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 9), 5);
    for (int k = 0; k < 9; k++)
        assert_int_equal(counts[k], k >= 4);
}

static void test_per_second_limit(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    int counts[10];
    double t0, took;
    tally t;

    write_connector(f, "limits = { per_second = 20 },", NULL, NULL);
    provider_seed(10);
    provider_import(f->E, f->conn, "i", 0, 10, f->cdir, "push");
    t0 = mono_s();
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    took = mono_s() - t0;
    /* 10 starts at 20 a second: the last one no earlier than 0.45 s in */
    assert_true(took >= 0.4);
    assert_int_equal(stats.done, 10);
    t = tally_of(f->E, NULL);
    assert_int_equal(t.off, 10);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 10), 10);
    for (int k = 0; k < 10; k++)
        assert_int_equal(counts[k], 1);
}

static void test_concurrency_limit(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    int counts[4];
    double t0, took;

    write_connector(f, "limits = { concurrency = 1 },", NULL, NULL);
    reopen(f, 8);
    provider_seed(4);
    provider_import(f->E, f->conn, "i", 0, 4, f->cdir, "push");
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"delay_ms\":200,\"pass\":true},{\"delay_ms\":200,\"pass\":true},"
           "{\"delay_ms\":200,\"pass\":true},{\"delay_ms\":200,\"pass\":true}]");
    t0 = mono_s();
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    took = mono_s() - t0;
    /* one at a time: four answers of 0.2 s each, one after the other */
    assert_true(took >= 0.75);
    assert_int_equal(stats.done, 4);
    assert_int_equal(tally_of(f->E, NULL).off, 4);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 4), 4);
    for (int k = 0; k < 4; k++)
        assert_int_equal(counts[k], 1);
}

typedef struct racer {
    fixture *f;
    unhook_engine *E;
    pthread_barrier_t *start;
    unhook_stats stats;
    int rc;
    char err[512];
} racer;

static void *race(void *ud)
{
    racer *r = ud;

    pthread_barrier_wait(r->start);
    r->rc = unhook_instance_disable_all(r->E, NULL, NULL, &r->stats, NULL, NULL);
    snprintf(r->err, sizeof r->err, "%s", unhook_errmsg(r->E));
    return NULL;
}

static void test_two_engines_share_one_database(void **state)
{
    fixture *f = *state;
    pthread_barrier_t start;
    pthread_t th[2];
    racer r[2];
    int counts[300], entries;
    tally t;

    provider_seed(300);
    provider_import(f->E, f->conn, "i", 0, 300, "github", "push");
    pthread_barrier_init(&start, NULL, 2);
    for (int k = 0; k < 2; k++) {
        memset(&r[k], 0, sizeof r[k]);
        r[k].f = f;
        r[k].E = open_engine(f, 8);
        r[k].start = &start;
    }
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, race, &r[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < 2; k++) {
        if (r[k].rc != UNHOOK_OK)
            print_message("engine %d: %s: %s\n", k, unhook_strerror(r[k].rc), r[k].err);
        assert_int_not_equal(r[k].rc, UNHOOK_STORE);
        assert_int_equal(r[k].rc, UNHOOK_OK);
        unhook_engine_close(r[k].E);
    }
    assert_int_equal(r[0].stats.done + r[1].stats.done, 300);
    assert_int_equal(r[0].stats.failed + r[1].stats.failed, 0);
    t = tally_of(f->E, NULL);
    assert_int_equal(t.n, 300);
    assert_int_equal(t.off, 300);
    entries = provider_delete_counts(FIRST_ID, counts, 300);
    assert_int_equal(entries, 300);
    for (int k = 0; k < 300; k++)
        assert_int_equal(counts[k], 1);
}

/* ---- two engines on one instance ----------------------------------------- */

typedef struct bg {
    unhook_engine *E;
    fixture *f;
    const char *id;
    int what;                   /* 0: enable, 1: engine_run */
    unhook_flow_result res;
    unhook_stats stats;
    int rc;
} bg;

static void *bg_run(void *ud)
{
    bg *b = ud;

    if (b->what == 0) {
        unhook_flow_request req = {0};
        req.connector = "github";
        req.event = "push";
        req.options_json = OPTS;
        req.connection = b->f->conn;
        b->rc = unhook_instance_enable(b->E, b->id, &req, &b->res);
    } else {
        b->rc = unhook_engine_run(b->E, NULL, 10000, 1, &b->stats, NULL, NULL);
    }
    return NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/*
 * Disable while another engine is still registering the instance: the
 * user's "off" wins.  Once both calls have returned and due work has
 * run, the instance is off and the provider holds no hook.
 */
static void test_disable_during_registration_elsewhere(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    int empty;
    pthread_t th;
    bg b = {0};
    char *hooks;

    b.E = open_engine(f, 0);
    b.f = f;
    b.id = "i1";
    b.what = 0;
    provider_script("POST", "/repos/o/r/hooks", "[{\"delay_ms\":1500,\"pass\":true}]");
    assert_int_equal(pthread_create(&th, NULL, bg_run, &b), 0);
    /* until the registration request is in flight */
    for (int k = 0; k < 1000 && requests_with_method("POST") == 0; k++)
        sleep_ms(10);
    assert_int_equal(requests_with_method("POST"), 1);
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, UNHOOK_OK);
    unhook_flow_result_free(&b.res);
    unhook_engine_close(b.E);

    assert_int_equal(unhook_engine_run(f->E, NULL, 10000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_inst(f, "i1", "off", "off", 0);
    assert_int_equal(provider_control("GET", "/_control/hooks", NULL, &hooks), 200);
    empty = strstr(hooks, "\"o/r\": []") != NULL;
    free(hooks);
    assert_true(empty);
}

/*
 * Disable while another engine has the deregistration in flight: the
 * hook is deleted once, not a second time alongside, and the instance
 * ends off.
 */
static void test_disable_during_deregistration_elsewhere(void **state)
{
    fixture *f = *state;
    pthread_t th;
    bg b = {0};
    int counts[1];
    char line[512];
    long count = 0;

    provider_seed(1);
    snprintf(line, sizeof line,
             "{\"id\":\"i1\",\"connector\":\"github\",\"event\":\"push\","
             "\"options\":{\"owner\":\"o\",\"repo\":\"r\"},\"connection\":\"%s\","
             "\"registration\":{\"id\":%ld},\"state\":\"deregistering\"}\n",
             f->conn, FIRST_ID);
    assert_int_equal(unhook_import(f->E, line, strlen(line), &count), UNHOOK_OK);
    provider_script("DELETE", "/repos/o/r/hooks/", "[{\"delay_ms\":1500,\"pass\":true}]");
    b.E = open_engine(f, 0);
    b.f = f;
    b.what = 1;
    assert_int_equal(pthread_create(&th, NULL, bg_run, &b), 0);
    /* until the other engine's request is in flight */
    for (int k = 0; k < 1000 && requests_with_method("DELETE") == 0; k++)
        sleep_ms(10);
    assert_int_equal(requests_with_method("DELETE"), 1);
    assert_int_equal(disable(f, "i1"), UNHOOK_OK);
    pthread_join(th, NULL);
    assert_int_equal(b.rc, UNHOOK_OK);
    unhook_engine_close(b.E);
    assert_inst(f, "i1", "off", "off", 0);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 1), 1);
    assert_int_equal(counts[0], 1);
}

static void test_run_with_nothing_due(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};

    assert_int_equal(unhook_engine_run(f->E, NULL, 1000, 0, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.total, 0);
    /* a registered instance is not due work either */
    enable_ok(f, "i1", 0);
    memset(&stats, 0, sizeof stats);
    assert_int_equal(unhook_engine_run(f->E, NULL, 1000, 1, &stats, NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.total, 0);
    assert_int_equal(stats.done, 0);
    assert_state(f, "i1", "registered");
    assert_int_equal(requests_with_method("DELETE"), 0);
}


/*
 * An event that renews (renewal.expires = "expires_at", epoch seconds):
 * the registration's subscription lives 2 s, the first renewal's 2 s, a
 * later one's an hour.  Each renewal POSTs to /api/renewals, so the
 * provider's script can refuse one.
 */
static void write_renewing_connector(fixture *f)
{
    char path[400];

    snprintf(path, sizeof path, "%s/connector.lua", f->cdir);
    support_write_at(path,
        "return {\n"
        "  name = \"r\", auth = \"bearer\",\n"
        "  events = { sub = {\n"
        "    registration = { flow = \"flows/subscribe.lua\" },\n"
        "    renewal = { flow = \"flows/renew.lua\", expires = \"expires_at\", before = 60 },\n"
        "    deregistration = { flow = \"flows/unsubscribe.lua\" },\n"
        "  } },\n"
        "}\n");
    snprintf(path, sizeof path, "%s/flows/subscribe.lua", f->cdir);
    support_write_at(path, "return { run = function(ctx)\n"
                           "  return { id = \"s1\", expires_at = os.time() + 2 }\n"
                           "end }\n");
    snprintf(path, sizeof path, "%s/flows/renew.lua", f->cdir);
    support_write_at(path, "return { run = function(ctx)\n"
                           "  ctx.http.post(\"/api/renewals\", { json = { id = ctx.registration.id } })\n"
                           "  local n = (ctx.registration.n or 0) + 1\n"
                           "  return { id = ctx.registration.id, n = n,\n"
                           "           expires_at = os.time() + (n == 1 and 2 or 3600) }\n"
                           "end }\n");
    snprintf(path, sizeof path, "%s/flows/unsubscribe.lua", f->cdir);
    support_write_at(path, "return { run = function(ctx) end }\n");
}

/* Wait until id's renewal is due, then run due work once. */
static void run_when_due(fixture *f, const char *id, unhook_stats *s)
{
    unhook_instance *i = get(f, id);
    double due = i->next_attempt_at;

    unhook_instance_free(i);
    assert_true(due > 0);
    while (now_s() < due)
        usleep(50000);
    memset(s, 0, sizeof *s);
    assert_int_equal(unhook_engine_run(f->E, NULL, -1, 0, s, NULL, NULL), UNHOOK_OK);
}

static void test_renewal_dead_letter_is_renewed_by_retry(void **state)
{
    fixture *f = *state;
    unhook_flow_request req = {.event = "sub"};
    unhook_instance *i;
    unhook_stats s;
    long count = 0;
    double t0 = now_s();
    hist h;

    write_renewing_connector(f);
    req.connector = f->cdir;
    req.connection = f->conn;
    assert_int_equal(unhook_instance_enable(f->E, "r1", &req, &f->res), UNHOOK_OK);
    assert_true(f->res.expires_at > t0 && f->res.expires_at < t0 + 4);
    i = get(f, "r1");
    assert_string_equal(i->state, "registered");
    /* due halfway to the expiry (before = 60 is longer than its life) */
    assert_true(i->next_attempt_at > t0 && i->next_attempt_at < i->expires_at);
    unhook_instance_free(i);

    /* the first renewal is refused for good: dead letter, data kept */
    provider_script("POST", "/api/renewals", "[{\"status\":400,\"body\":{\"error\":\"no\"}}]");
    run_when_due(f, "r1", &s);
    assert_int_equal(s.failed, 1);
    i = get(f, "r1");
    assert_string_equal(i->state, "failed");
    assert_string_equal(i->desired, "on");
    assert_non_null(strstr(i->registration, "\"s1\""));
    assert_true(i->expires_at > 0);
    unhook_instance_free(i);

    /* retry renews (it does not register anew) */
    unhook_flow_result_free(&f->res);
    assert_int_equal(unhook_instance_retry(f->E, "r1", &f->res), UNHOOK_OK);
    assert_int_equal(f->res.outcome, UNHOOK_OUTCOME_DONE);
    i = get(f, "r1");
    assert_string_equal(i->state, "registered");
    assert_non_null(strstr(i->registration, "\"n\":1"));
    unhook_instance_free(i);

    /* the second renewal fails too; retry --failed (set-based) renews */
    provider_script("POST", "/api/renewals", "[{\"status\":400,\"body\":{\"error\":\"no\"}}]");
    run_when_due(f, "r1", &s);
    assert_int_equal(s.failed, 1);
    assert_int_equal(unhook_instance_retry_all(f->E, NULL, &count), UNHOOK_OK);
    assert_int_equal(count, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(unhook_engine_run(f->E, NULL, -1, 0, &s, NULL, NULL), UNHOOK_OK);
    assert_int_equal(s.renewed, 1);
    assert_int_equal(s.total, 1);
    i = get(f, "r1");
    assert_string_equal(i->state, "registered");
    assert_non_null(strstr(i->registration, "\"n\":2"));
    assert_true(i->expires_at > now_s() + 3000);
    assert_true(i->next_attempt_at > now_s() + 3000 && i->next_attempt_at < i->expires_at);
    unhook_instance_free(i);

    hist_load(f, "r1", &h);
    assert_int_equal(hist_count(&h, "register"), 1);
    assert_int_equal(hist_count(&h, "renew"), 4);
    assert_string_equal(hist_last(&h, "renew")->outcome, "done");
    assert_non_null(strstr(hist_last(&h, "renew")->registration, "\"n\":2"));
    hist_free(&h);
    assert_int_equal(requests_with_method("POST"), 4);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_enable_stores_registration),
        T(test_enable_result_carries_registration),
        T(test_enable_after_disable),
        T(test_enable_missing_option_stores_nothing),
        T(test_enable_twice_is_already_on),
        T(test_enable_twice_with_other_options_is_usage),
        T(test_disable_done),
        T(test_disable_404_is_gone),
        T(test_disable_410_is_gone),
        T(test_disable_429_retry_after),
        T(test_disable_short_of_descriptors_retries),
        T(test_run_reads_connector_again_when_descriptors_return),
        T(test_disable_503_then_run_succeeds),
        T(test_disable_400_fails_then_retry),
        T(test_disable_dropped_connection_is_transport),
        T(test_disable_timeout),
        T(test_attempts_exhausted),
        T(test_attempts_exhausted_default_policy),
        T(test_custom_gone_statuses),
        T(test_flow_retry_and_fail),
        T(test_disable_never_registered),
        T(test_disable_while_registration_retries),
        T(test_disable_imported_off_records_desired_off),
        T(test_disable_unknown_id),
        T(test_import_export_round_trip),
        T(test_import_bad_line_imports_nothing),
        T(test_import_existing_id_imports_nothing),
        T(test_disable_all_200),
        T(test_disable_all_filter),
        T(test_per_second_limit),
        T(test_concurrency_limit),
        T(test_two_engines_share_one_database),
        T(test_disable_during_registration_elsewhere),
        T(test_disable_during_deregistration_elsewhere),
        T(test_run_with_nothing_due),
        T(test_renewal_dead_letter_is_renewed_by_retry),
    };
#undef T
    int rc;

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !*provider) {
        printf("test_lifecycle: UNHOOK_TEST_URL is not set: skipped (run it through "
               "sh tests/run.sh integration, which starts the fixture provider)\n");
        return 0;
    }
    if (!realpath("scripts/connectors", connectors)) {
        printf("test_lifecycle: scripts/connectors not found: run from the repo root\n");
        return 1;
    }
    if (getenv("UNHOOK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("UNHOOK_TEST_FILTER"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("lifecycle", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
