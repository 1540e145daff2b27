/*
 * test_flow.c -- flow runs through the public API (unhook_flow_deregister,
 * unhook_flow_register) against the fixture provider, whose URL is in
 * UNHOOK_TEST_URL (tests/run.sh starts it; without it the program says
 * so and exits 0).  The bundled github connector runs with a connection file
 * pointing at the provider; small connectors written to a scratch folder
 * cover errors, limits and the sandbox.  The provider is driven through
 * its /_control/ routes (provider_control, tests/support).  Run from the repo root.
 *
 * UNHOOK_TEST_SLOW=N stretches the time budgets N times (for valgrind);
 * UNHOOK_TEST_FILTER=PATTERN runs only the tests whose names match.
 */
#include "support.h"
#include <time.h>
#include <curl/curl.h>

#include "unhook.h"

#define HOOK "/repos/o/r/hooks/12345678"

static const char *provider;      /* UNHOOK_TEST_URL */
static int slow = 1;              /* UNHOOK_TEST_SLOW */

/* ---- the fixture provider's control routes ------------------------------ */

/* The provider's answer to GET path must be exactly want. */
static void assert_provider(const char *path, const char *want)
{
    char *got;

    assert_int_equal(provider_control("GET", path, NULL, &got), 200);
    assert_string_equal(got, want);
    free(got);
}

/* One GitHub hook under o/r: id 12345678 after a reset. */
static void seed_hook(void)
{
    char *got;

    assert_int_equal(provider_control("POST", "/_control/seed",
                             "{\"owner\":\"o\",\"repo\":\"r\",\"count\":1}", &got), 200);
    assert_string_equal(got, "{\"ids\": [12345678]}");
    free(got);
}

/* Queue canned answers for METHOD path. */
static void script(const char *method, const char *path, const char *responses)
{
    char body[1024];

    snprintf(body, sizeof body, "{\"method\":\"%s\",\"path\":\"%s\",\"responses\":%s}",
             method, path, responses);
    assert_int_equal(provider_control("POST", "/_control/script", body, NULL), 200);
}

/* ---- per-test scratch folder and engine ----------------------------------- */

typedef struct fixture {
    char dir[256];            /* scratch folder */
    char conn[320];           /* DIR/conn.json: bearer test-token */
    char connector_dir[320];       /* DIR/c: a connector written by the test */
    unhook_engine *E;
    unhook_flow_result res;
    char log[16384];          /* log lines, one a line */
} fixture;

/* A connection file at DIR/name with this auth object. */
static const char *connection(fixture *f, const char *name, const char *auth,
                              const char *extra)
{
    static char path[400];
    char text[1024];

    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    snprintf(text, sizeof text, "{\"base_url\": \"%s\", \"auth\": %s%s}\n",
             provider, auth, extra ? extra : "");
    support_write_at(path, text);
    return path;
}

static void on_log(void *ud, int level, const char *line)
{
    fixture *f = ud;
    size_t n = strlen(f->log);

    (void)level;
    snprintf(f->log + n, sizeof f->log - n, "%s\n", line);
}

/* (Re)open the fixture's engine with these budgets (0: defaults). */
static void open_engine(fixture *f, int timeout_ms, int memory_mb, int log_level)
{
    unhook_config cfg = {0};

    unhook_engine_close(f->E);
    cfg.timeout_ms = timeout_ms * slow;
    cfg.memory_mb = memory_mb;
    cfg.log = on_log;
    cfg.log_userdata = f;
    cfg.log_level = log_level;
    assert_int_equal(unhook_engine_open(&f->E, &cfg), UNHOOK_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-flow-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->connector_dir, sizeof f->connector_dir, "%s/c", f->dir);
    snprintf(f->conn, sizeof f->conn, "%s",
             connection(f, "conn.json", "{\"type\": \"bearer\", \"token\": \"test-token\"}",
                        NULL));
    if (provider_control("POST", "/_control/reset", NULL, NULL) != 200)
        return -1;
    open_engine(f, 0, 0, UNHOOK_LOG_ERROR);
    f->res.retry_after = -2;
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

/* ---- running flows -------------------------------------------------------- */

/* Deregister hook 12345678 of o/r with the bundled github connector. */
static int run_github(fixture *f, const char *conn)
{
    unhook_flow_request req = {0};

    req.connector = "scripts/connectors/github";
    req.event = "push";
    req.options_json = "{\"owner\": \"o\", \"repo\": \"r\"}";
    req.registration = "{\"id\": 12345678}";
    req.connection = conn;
    unhook_flow_result_free(&f->res);
    return unhook_flow_deregister(f->E, &req, &f->res);
}

/* Write DIR/c: event "e" whose deregistration flow is flows/x.lua. */
static void write_connector(fixture *f, const char *manifest_extra, const char *flow)
{
    char path[400], text[1024];

    snprintf(path, sizeof path, "%s/connector.lua", f->connector_dir);
    snprintf(text, sizeof text,
             "return {\n"
             "  name = \"t\",%s\n"
             "  events = { e = { deregistration = { flow = \"flows/x.lua\" } } },\n"
             "}\n", manifest_extra ? manifest_extra : "");
    support_write_at(path, text);
    snprintf(path, sizeof path, "%s/flows/x.lua", f->connector_dir);
    support_write_at(path, flow);
}

/* Run event "e" of DIR/c, registration {"id": 12345678}. */
static int run_own(fixture *f, const char *conn)
{
    unhook_flow_request req = {0};

    req.connector = f->connector_dir;
    req.event = "e";
    req.registration = "{\"id\": 12345678}";
    req.connection = conn;
    unhook_flow_result_free(&f->res);
    return unhook_flow_deregister(f->E, &req, &f->res);
}

/* "http://127.0.0.1:PORT" + rest, for expected messages. */
static const char *url(const char *rest)
{
    static char buf[4][512];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s%s", provider, rest);
    return buf[i];
}

/* A message that must be exactly: printf-style. */
static void assert_message(const fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void assert_message(const fixture *f, const char *fmt, ...)
{
    char want[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    assert_non_null(f->res.message);
    assert_string_equal(f->res.message, want);
}

static void assert_outcome(const fixture *f, unhook_outcome o, int status,
                           const char *code)
{
    if (f->res.outcome != o || f->res.status != status ||
        (code == NULL) != (f->res.code == NULL) ||
        (code && strcmp(code, f->res.code) != 0))
        print_error("got outcome %s, status %d, code %s, message: %s\n",
                    unhook_outcome_name(f->res.outcome), f->res.status,
                    f->res.code ? f->res.code : "(none)",
                    f->res.message ? f->res.message : "(none)");
    assert_string_equal(unhook_outcome_name(f->res.outcome), unhook_outcome_name(o));
    assert_int_equal(f->res.status, status);
    if (code) {
        assert_non_null(f->res.code);
        assert_string_equal(f->res.code, code);
    } else {
        assert_null(f->res.code);
    }
}

/* s starts with prefix. */
static void assert_prefix(const char *s, const char *prefix)
{
    assert_non_null(s);
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        print_error("\"%s\" does not start with \"%s\"\n", s, prefix);
    assert_true(strncmp(s, prefix, strlen(prefix)) == 0);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- provider answers and outcomes ------------------------------------------ */

static void test_deregister_deletes_seeded_hook(void **state)
{
    fixture *f = *state;

    seed_hook();
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_DONE, 204, NULL);
    assert_null(f->res.message);
    assert_null(f->res.registration);
    assert_true(f->res.retry_after == -1);
    assert_provider("/_control/hooks", "{\"github\": {\"o/r\": []}, \"generic\": {}}");
    assert_provider("/_control/stats",
                    "{\"deletes_ok\": 1, \"deletes_404\": 0, \"requests\": 1, "
                    "\"delete_counts\": {\"12345678\": 1}, \"scripts_pending\": 0}");
}

static void test_second_deregister_is_gone_with_404(void **state)
{
    fixture *f = *state;

    seed_hook();
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_DONE, 204, NULL);
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_GONE, 404, "http");
    assert_message(f, "HTTP 404 from DELETE %s: {\"message\": \"Not Found\", "
                   "\"documentation_url\": \"https://docs.github.com/rest\"}",
                   url(HOOK));
    assert_true(f->res.retry_after == -1);
}

static void test_410_is_gone(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":410,\"body\":{\"message\":\"Gone\"}}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_GONE, 410, "http");
    assert_message(f, "HTTP 410 from DELETE %s: {\"message\": \"Gone\"}", url(HOOK));
}

static void test_500_is_retry_with_body_in_message(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":500,\"body\":\"boom\"}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_RETRY, 500, "http");
    assert_message(f, "HTTP 500 from DELETE %s: boom", url(HOOK));
    assert_true(f->res.retry_after == -1);
    /* the hook is still there */
    assert_provider("/_control/hooks", "{\"github\": {\"o/r\": [12345678]}, \"generic\": {}}");
}

static void test_422_is_failed(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":422,\"body\":{\"message\":\"Validation Failed\"}}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 422, "http");
    assert_message(f, "HTTP 422 from DELETE %s: {\"message\": \"Validation Failed\"}",
                   url(HOOK));
}

static void test_429_with_retry_after_is_retry_after_those_seconds(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":429,\"headers\":{\"Retry-After\":\"7\"},"
           "\"body\":\"slow down\"}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_RETRY, 429, "http");
    assert_true(f->res.retry_after == 7);
    assert_message(f, "HTTP 429 from DELETE %s: slow down", url(HOOK));
}

static void test_dropped_connection_is_transport_retry(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"drop\":true}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_RETRY, 0, "transport");
    assert_message(f, "DELETE %s: Empty reply from server", url(HOOK));
    assert_true(f->res.retry_after == -1);
}

static void test_slow_answer_past_request_timeout_is_timeout_retry(void **state)
{
    fixture *f = *state;
    char extra[64], delay[64];

    snprintf(extra, sizeof extra, ", \"timeout_ms\": %d", 300 * slow);
    snprintf(delay, sizeof delay, "[{\"delay_ms\":%d,\"status\":503}]", 3000 * slow);
    seed_hook();
    script("DELETE", HOOK, delay);
    assert_int_equal(run_github(f, connection(f, "slow.json",
        "{\"type\": \"bearer\", \"token\": \"test-token\"}", extra)), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_RETRY, 0, "timeout");
    {
        char want[600];
        /* curl's own words follow: "... after 301 milliseconds with ..." */
        snprintf(want, sizeof want, "DELETE %s: Operation timed out after ", url(HOOK));
        assert_prefix(f->res.message, want);
    }
}

static void test_network_wait_past_flow_budget_is_timeout_retry(void **state)
{
    fixture *f = *state;

    char delay[64];

    open_engine(f, 1000, 0, UNHOOK_LOG_ERROR);
    snprintf(delay, sizeof delay, "[{\"delay_ms\":%d,\"status\":503}]", 4000 * slow);
    seed_hook();
    script("DELETE", HOOK, delay);
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_RETRY, 0, "timeout");
}

static void test_unknown_event_is_not_found(void **state)
{
    fixture *f = *state;
    unhook_flow_request req = {0};

    req.connector = "github";
    req.event = "pushh";
    req.connection = f->conn;
    assert_int_equal(unhook_flow_deregister(f->E, &req, &f->res), UNHOOK_NOTFOUND);
    assert_string_equal(unhook_errmsg(f->E), "connector 'github' has no event "
                        "'pushh' (events: issues, pull_request, push)");
    assert_null(f->res.code);
    assert_null(f->res.message);
    assert_true(f->res.retry_after == -1);
}

static void test_missing_required_option_is_usage_error(void **state)
{
    fixture *f = *state;
    unhook_flow_request req = {0};

    req.connector = "github";
    req.event = "push";
    req.options_json = "{\"owner\": \"o\"}";
    req.registration = "{\"id\": 12345678}";
    req.connection = f->conn;
    assert_int_equal(unhook_flow_deregister(f->E, &req, &f->res), UNHOOK_USAGE);
    assert_string_equal(unhook_errmsg(f->E), "option 'repo' is required (repository name)");
    assert_provider("/_control/requests?count=1", "{\"count\": 0}");
}

static void test_missing_connection_file_is_io_error(void **state)
{
    fixture *f = *state;
    char path[320], want[400];

    snprintf(path, sizeof path, "%s/nowhere.json", f->dir);
    assert_int_equal(run_github(f, path), UNHOOK_IO);
    snprintf(want, sizeof want, "%s: cannot read connection file: No such file "
             "or directory", path);
    assert_string_equal(unhook_errmsg(f->E), want);
}

static void test_register_returns_hook_as_registration_data(void **state)
{
    fixture *f = *state;
    unhook_flow_request req = {0};

    req.connector = "github";
    req.event = "push";
    req.options_json = "{\"owner\": \"o\", \"repo\": \"r\", "
                       "\"url\": \"https://example.test/hook\"}";
    req.connection = f->conn;
    assert_int_equal(unhook_flow_register(f->E, &req, &f->res), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_DONE, 201, NULL);
    assert_prefix(f->res.registration, "{\"active\":true,\"config\":{"
                  "\"content_type\":\"json\",\"insecure_ssl\":\"0\","
                  "\"url\":\"https://example.test/hook\"},\"created_at\":\"");
    assert_non_null(strstr(f->res.registration, ",\"id\":12345678,"));
    assert_provider("/_control/hooks", "{\"github\": {\"o/r\": [12345678]}, \"generic\": {}}");
}

/* ---- errors raised by the flow ---------------------------------------------- */

static void test_runtime_error_is_failed_script_with_file_and_line(void **state)
{
    fixture *f = *state;

    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    local hook = nil\n"
                    "    return hook.id\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "script");
    assert_message(f, "%s/flows/x.lua:4: attempt to index a nil value (local 'hook')",
                   f->connector_dir);
}

static void test_unhook_fail_is_failed_with_code_fail(void **state)
{
    fixture *f = *state;

    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    unhook.fail(\"no such tenant\")\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "fail");
    assert_message(f, "%s/flows/x.lua:3: no such tenant", f->connector_dir);
    assert_true(f->res.retry_after == -1);
}

static void test_unhook_retry_is_retry_after_given_seconds(void **state)
{
    fixture *f = *state;

    write_connector(f, NULL,
                    "local unhook = require \"unhook\"\n"
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    unhook.retry(\"not yet\", 3)\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_RETRY, 0, "retry");
    assert_true(f->res.retry_after == 3);
    assert_message(f, "%s/flows/x.lua:4: not yet", f->connector_dir);
}

static void test_flow_may_handle_http_error_with_pcall(void **state)
{
    fixture *f = *state;

    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    local ok, err = pcall(ctx.http.delete, \"/repos/o/r/hooks/{id}\",\n"
                    "                          { path = { id = ctx.registration.id } })\n"
                    "    if not ok and err.status == 404 then return end\n"
                    "    error(\"unexpected: \" .. tostring(err))\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_DONE, 404, NULL);
    assert_provider("/_control/stats",
                    "{\"deletes_ok\": 0, \"deletes_404\": 1, \"requests\": 1, "
                    "\"delete_counts\": {\"12345678\": 1}, \"scripts_pending\": 0}");
}

/* ---- sandbox limits ------------------------------------------------------------ */

static void test_endless_loop_is_stopped_as_cpu_limit(void **state)
{
    fixture *f = *state;

    open_engine(f, 300, 0, UNHOOK_LOG_ERROR);
    write_connector(f, NULL, "return { run = function(ctx) while true do end end }\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "cpu_limit");
    assert_message(f, "flow ran past its time budget (stopped for using the CPU too long)");
}

static void test_pcall_cannot_swallow_cpu_limit(void **state)
{
    fixture *f = *state;

    open_engine(f, 300, 0, UNHOOK_LOG_ERROR);
    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    for i = 1, 1e12 do pcall(function() while true do end end) end\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "cpu_limit");
}

static void test_endless_allocation_is_stopped_as_memory(void **state)
{
    fixture *f = *state;

    open_engine(f, 0, 8, UNHOOK_LOG_ERROR);
    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    local t = {}\n"
                    "    while true do t[#t + 1] = string.rep(\"x\", 4096) .. #t end\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "memory");
    assert_message(f, "flow ran past its memory limit");
}

static void test_pcall_cannot_hide_memory_limit(void **state)
{
    fixture *f = *state;

    open_engine(f, 0, 8, UNHOOK_LOG_ERROR);
    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    pcall(function()\n"
                    "      local t = {}\n"
                    "      while true do t[#t + 1] = string.rep(\"x\", 4096) .. #t end\n"
                    "    end)\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "memory");
}

static void test_request_from_coroutine_of_flow_is_refused(void **state)
{
    static const char refused[] = "ctx.http.delete: requests must be made from "
                                  "the flow itself, not from a coroutine it created, "
                                  "a metamethod or an iterator";
    fixture *f = *state;
    char msg[512];
    size_t n;

    seed_hook();
    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    local co = coroutine.create(function()\n"
                    "      ctx.http.delete(\"/repos/o/r/hooks/{id}\", { path = { id = ctx.registration.id } })\n"
                    "    end)\n"
                    "    local ok, err = coroutine.resume(co)\n"
                    "    if not ok then error(err, 0) end\n"
                    "  end,\n"
                    "}\n");
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "script");
    assert_non_null(f->res.message);
    snprintf(msg, sizeof msg, "%s", f->res.message);
    n = strlen(msg);
    assert_true(n >= sizeof refused - 1);
    assert_string_equal(msg + n - (sizeof refused - 1), refused);
    assert_provider("/_control/requests?count=1", "{\"count\": 0}");
    /* nothing is left in flight: the next run on this engine is clean */
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_DONE, 204, NULL);
    assert_provider("/_control/requests?count=1", "{\"count\": 1}");
    {
        char want[700];
        snprintf(want, sizeof want, "%s/flows/x.lua:4: %s", f->connector_dir, refused);
        assert_string_equal(msg, want);
    }
}

static void test_cpu_budget_covers_a_long_pattern_match(void **state)
{
    /* One string.find call runs for seconds without giving the count
     * hook a chance to fire; the run must still stop near its budget. */
    fixture *f = *state;
    double t0, took;

    open_engine(f, 40, 0, UNHOOK_LOG_ERROR);
    write_connector(f, NULL,
                    "return {\n"
                    "  run = function(ctx)\n"
                    "    local s = string.rep(\"a\", 700)\n"
                    "    s:find(\"^.-.-.-b\")\n"
                    "  end,\n"
                    "}\n");
    t0 = now();
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    took = now() - t0;
    /* the overrun is classified as such once the call returns ... */
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "cpu_limit");
    /* nothing interrupts one long C call while it runs (README, Security):
     * it is classified when it returns, which is all this test can ask */
    (void)took;
}

/* ---- hosts and credentials --------------------------------------------------- */

static void test_request_to_unlisted_host_is_refused(void **state)
{
    fixture *f = *state;
    char flow[512], port[16];

    snprintf(port, sizeof port, "%s", strrchr(provider, ':') + 1);
    snprintf(flow, sizeof flow,
             "return {\n"
             "  run = function(ctx)\n"
             "    ctx.http.delete(\"http://localhost:%s/repos/o/r/hooks/12345678\")\n"
             "  end,\n"
             "}\n", port);
    seed_hook();
    write_connector(f, NULL, flow);
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 0, "forbidden_host");
    assert_message(f, "request to localhost refused: the connector may call only "
                   "the base URL's host and the hosts its manifest lists");
    assert_provider("/_control/requests?count=1", "{\"count\": 0}");
}

static void test_listed_host_is_called_without_credentials(void **state)
{
    fixture *f = *state;
    char flow[512], port[16];

    snprintf(port, sizeof port, "%s", strrchr(provider, ':') + 1);
    snprintf(flow, sizeof flow,
             "return {\n"
             "  run = function(ctx)\n"
             "    ctx.http.delete(\"http://localhost:%s/repos/o/r/hooks/12345678\")\n"
             "  end,\n"
             "}\n", port);
    seed_hook();
    write_connector(f, "\n  hosts = { \"localhost\" },", flow);
    assert_int_equal(run_own(f, f->conn), UNHOOK_OK);
    /* the provider wants the token, which only the base URL's host gets */
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 401, "http");
    assert_message(f, "HTTP 401 from DELETE http://localhost:%s/repos/o/r/hooks/12345678: "
                   "{\"message\": \"Requires authentication\"}", port);
}

/* ---- secrets --------------------------------------------------------------------- */

static void test_token_echoed_by_provider_is_masked(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":400,\"body\":\"bad request from "
           "Bearer test-token (test-token)\"}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 400, "http");
    assert_message(f, "HTTP 400 from DELETE %s: bad request from Bearer *** (***)",
                   url(HOOK));
    assert_null(strstr(f->res.message, "test-token"));
}

static void test_query_token_is_masked_in_url_of_message(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":400,\"body\":\"nope\"}]");
    assert_int_equal(run_github(f, connection(f, "query.json",
        "{\"type\": \"query\", \"name\": \"api_key\", \"value\": \"test-token\"}", NULL)),
        UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 400, "http");
    assert_message(f, "HTTP 400 from DELETE %s?api_key=***: nope", url(HOOK));
}

static void test_percent_encoded_query_token_is_masked(void **state)
{
    fixture *f = *state;

    /* the provider refuses this token: the 401 names the URL it went to */
    assert_int_equal(run_github(f, connection(f, "query2.json",
        "{\"type\": \"query\", \"name\": \"api_key\", \"value\": \"t0k en/+\"}", NULL)),
        UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 401, "http");
    assert_message(f, "HTTP 401 from DELETE %s?api_key=***: {\"message\": "
                   "\"Requires authentication\"}", url(HOOK));
}

static void test_basic_credentials_echoed_by_provider_are_masked(void **state)
{
    fixture *f = *state;

    seed_hook();
    script("DELETE", HOOK, "[{\"status\":400,\"body\":\"bad user:pass (dXNlcjpwYXNz)\"}]");
    assert_int_equal(run_github(f, connection(f, "basic.json",
        "{\"type\": \"basic\", \"username\": \"user\", \"password\": \"pass\"}", NULL)),
        UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 400, "http");
    assert_message(f, "HTTP 400 from DELETE %s: bad user:*** (***)", url(HOOK));
}

static void test_trace_log_masks_authorization_and_token(void **state)
{
    fixture *f = *state;
    char line[600];

    open_engine(f, 0, 0, UNHOOK_LOG_TRACE);
    seed_hook();
    script("DELETE", HOOK, "[{\"status\":400,\"headers\":{\"X-Echo\":\"test-token\"},"
           "\"body\":\"test-token\"}]");
    assert_int_equal(run_github(f, f->conn), UNHOOK_OK);
    assert_outcome(f, UNHOOK_OUTCOME_FAILED, 400, "http");
    snprintf(line, sizeof line, "\n> DELETE %s\n", url(HOOK));
    assert_non_null(strstr(f->log, line + 1));
    assert_non_null(strstr(f->log, "\n> Authorization: ***\n"));
    assert_non_null(strstr(f->log, "\n< X-Echo: ***\n"));
    assert_null(strstr(f->log, "test-token"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_deregister_deletes_seeded_hook),
        T(test_second_deregister_is_gone_with_404),
        T(test_410_is_gone),
        T(test_500_is_retry_with_body_in_message),
        T(test_422_is_failed),
        T(test_429_with_retry_after_is_retry_after_those_seconds),
        T(test_dropped_connection_is_transport_retry),
        T(test_slow_answer_past_request_timeout_is_timeout_retry),
        T(test_network_wait_past_flow_budget_is_timeout_retry),
        T(test_unknown_event_is_not_found),
        T(test_missing_required_option_is_usage_error),
        T(test_missing_connection_file_is_io_error),
        T(test_register_returns_hook_as_registration_data),
        T(test_runtime_error_is_failed_script_with_file_and_line),
        T(test_unhook_fail_is_failed_with_code_fail),
        T(test_unhook_retry_is_retry_after_given_seconds),
        T(test_flow_may_handle_http_error_with_pcall),
        T(test_endless_loop_is_stopped_as_cpu_limit),
        T(test_pcall_cannot_swallow_cpu_limit),
        T(test_endless_allocation_is_stopped_as_memory),
        T(test_pcall_cannot_hide_memory_limit),
        T(test_request_from_coroutine_of_flow_is_refused),
        T(test_cpu_budget_covers_a_long_pattern_match),
        T(test_request_to_unlisted_host_is_refused),
        T(test_listed_host_is_called_without_credentials),
        T(test_token_echoed_by_provider_is_masked),
        T(test_query_token_is_masked_in_url_of_message),
        T(test_percent_encoded_query_token_is_masked),
        T(test_basic_credentials_echoed_by_provider_are_masked),
        T(test_trace_log_masks_authorization_and_token),
    };
#undef T
    int rc;

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !*provider) {
        printf("test_flow: UNHOOK_TEST_URL is not set: skipped (run it through "
               "sh tests/run.sh integration, which starts the fixture provider)\n");
        return 0;
    }
    if (getenv("UNHOOK_TEST_SLOW") && atoi(getenv("UNHOOK_TEST_SLOW")) > 1)
        slow = atoi(getenv("UNHOOK_TEST_SLOW"));
    if (getenv("UNHOOK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("UNHOOK_TEST_FILTER"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("flow", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
