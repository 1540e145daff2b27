/*
 * host.c -- a program that embeds unhook the way an integration platform
 * would, built against the installed tree with nothing but
 * `pkg-config --cflags --libs unhook`.  It registers a C card, enables and
 * disables instances against the fixture provider, and checks every
 * outcome through the API; then it shows that two engines with two
 * databases do not see each other.
 *
 * usage: host CONNECTORS_DIR CONNECTION_FILE DB1 DB2 PROVIDER_URL
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unhook.h>

static int failures;

#define CHECK(cond) do {                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "host.c:%d: check failed: %s\n", __LINE__, #cond); \
            failures++;                                                   \
        }                                                                 \
    } while (0)

/* host.sign(text) -> "sig:" .. text */
static int sign(void *ud, const char *args, char **out)
{
    const char *q1 = strchr(args, '"'), *q2 = q1 ? strchr(q1 + 1, '"') : NULL;

    (*(int *)ud)++;
    if (!q1 || !q2)
        return UNHOOK_USAGE;
    *out = malloc(16 + (size_t)(q2 - q1));
    if (!*out)
        return UNHOOK_NOMEM;
    sprintf(*out, "[\"sig:%.*s\"]", (int)(q2 - q1 - 1), q1 + 1);
    return UNHOOK_OK;
}

static void on_log(void *ud, int level, const char *line)
{
    (void)ud;
    if (level <= UNHOOK_LOG_WARN)
        fprintf(stderr, "log: %s\n", line);
}

static const char *state_of(unhook_engine *e, const char *id, char *buf, size_t n)
{
    unhook_instance *inst = NULL;

    if (unhook_instance_get(e, id, &inst) != UNHOOK_OK)
        return "(none)";
    snprintf(buf, n, "%s/%s", inst->desired, inst->state);
    unhook_instance_free(inst);
    return buf;
}

static int count(void *ud, const unhook_instance *inst)
{
    (void)inst;
    (*(int *)ud)++;
    return 0;
}

int main(int argc, char **argv)
{
    unhook_config cfg = {0};
    unhook_engine *a = NULL, *b = NULL;
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    unhook_instance *inst = NULL;
    unhook_stats stats = {0};
    int signs = 0, n;
    char buf[64];

    if (argc != 6) {
        fprintf(stderr, "usage: host CONNECTORS CONNECTION DB1 DB2 URL\n");
        return 2;
    }
    printf("unhook %s (header %s)\n", unhook_version(), UNHOOK_VERSION);
    cfg.connectors = argv[1];
    cfg.log = on_log;
    cfg.log_level = UNHOOK_LOG_WARN;
    cfg.db = argv[3];
    CHECK(unhook_engine_open(&a, &cfg) == UNHOOK_OK);
    cfg.db = argv[4];
    CHECK(unhook_engine_open(&b, &cfg) == UNHOOK_OK);
    if (!a || !b)
        return 1;
    CHECK(unhook_card_register(a, "host.sign", sign, &signs) == UNHOOK_OK);
    CHECK(unhook_card_register(b, "host.sign", sign, &signs) == UNHOOK_OK);

    req.connector = "embedded";
    req.event = "changed";
    req.options_json = "{\"space\": \"embed\"}";
    req.connection = argv[2];

    /* enable: registered, the C card's output in the registration data */
    CHECK(unhook_instance_enable(a, "one", &req, &res) == UNHOOK_OK);
    CHECK(res.outcome == UNHOOK_OUTCOME_DONE);
    unhook_flow_result_free(&res);
    CHECK(unhook_instance_get(a, "one", &inst) == UNHOOK_OK);
    if (inst) {
        printf("one: %s/%s %s\n", inst->desired, inst->state, inst->registration);
        CHECK(strcmp(inst->state, "registered") == 0);
        CHECK(strstr(inst->registration, "\"signature\":\"sig:one\"") != NULL);
        unhook_instance_free(inst);
    }
    CHECK(signs == 1);

    /* enabling the same instance again runs nothing: already on */
    CHECK(unhook_instance_enable(a, "one", &req, &res) == UNHOOK_OK);
    CHECK(res.note == UNHOOK_NOTE_ALREADY_ON);
    printf("again: %s\n", res.code ? res.code : "");
    unhook_flow_result_free(&res);
    CHECK(signs == 1);

    /* disable: deregistered, registration data released */
    CHECK(unhook_instance_disable(a, "one", "deleted", &res) == UNHOOK_OK);
    CHECK(res.outcome == UNHOOK_OUTCOME_DONE && res.status == 204);
    unhook_flow_result_free(&res);
    printf("one: %s\n", state_of(a, "one", buf, sizeof buf));
    CHECK(strcmp(state_of(a, "one", buf, sizeof buf), "off/off") == 0);

    /* a second engine, a second database: independent */
    CHECK(unhook_instance_enable(b, "two", &req, &res) == UNHOOK_OK);
    unhook_flow_result_free(&res);
    CHECK(unhook_instance_get(a, "two", &inst) == UNHOOK_NOTFOUND);
    CHECK(unhook_instance_get(b, "one", &inst) == UNHOOK_NOTFOUND);
    n = 0;
    CHECK(unhook_instance_list(a, NULL, count, &n) == UNHOOK_OK && n == 1);
    n = 0;
    CHECK(unhook_instance_list(b, NULL, count, &n) == UNHOOK_OK && n == 1);

    /* bulk disable in b, run due work in a: nothing left anywhere */
    CHECK(unhook_instance_disable_all(b, NULL, NULL, &stats, NULL, NULL) == UNHOOK_OK);
    printf("b: total %ld done %ld failed %ld\n", stats.total, stats.done, stats.failed);
    CHECK(stats.total == 1 && stats.done == 1);
    memset(&stats, 0, sizeof stats);
    CHECK(unhook_engine_run(a, NULL, 1000, 0, &stats, NULL, NULL) == UNHOOK_OK);
    CHECK(stats.total == 0);
    printf("two: %s\n", state_of(b, "two", buf, sizeof buf));
    CHECK(signs == 2);

    /* errors have a code and a message */
    CHECK(unhook_instance_disable(a, "nosuch", NULL, &res) == UNHOOK_NOTFOUND);
    printf("nosuch: %s (%s)\n", unhook_errmsg(a), unhook_strerror(UNHOOK_NOTFOUND));
    unhook_flow_result_free(&res);

    unhook_engine_close(a);
    unhook_engine_close(b);
    unhook_engine_close(NULL);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
