/*
 * test_cards.c -- cards written in C, registered by a host program with
 * unhook_card_register() and called from a flow exactly like built-in
 * and Lua cards.  Runs registration flows (no network) and reads back
 * the registration data they return.
 */
#include "support.h"
#include <unistd.h>

#include "unhook.h"

typedef struct fixture {
    char dir[64];
    unhook_engine *E;
    unhook_flow_result res;
    int calls;
} fixture;

static void write_file(const char *dir, const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A connector whose registration flow returns { out = <body's value> }. */
static void write_connector(fixture *f, const char *body)
{
    char flow[2048];

    write_file(f->dir, "connector.lua",
               "return { name = 'cards', events = { e = {\n"
               "  registration = { flow = 'flows/reg.lua' },\n"
               "  deregistration = { flow = 'flows/reg.lua' } } } }\n");
    snprintf(flow, sizeof flow,
             "return { run = function(ctx)\n  return { out = %s }\nend }\n", body);
    write_file(f->dir, "flows/reg.lua", flow);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char flows[96];

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-cards-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(flows, sizeof flows, "%s/flows", f->dir);
    assert_int_equal(mkdir(flows, 0700), 0);
    assert_int_equal(unhook_engine_open(&f->E, NULL), UNHOOK_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char cmd[128];

    unhook_flow_result_free(&f->res);
    unhook_engine_close(f->E);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int run(fixture *f)
{
    unhook_flow_request req = {0};

    unhook_flow_result_free(&f->res);
    req.connector = f->dir;
    req.event = "e";
    return unhook_flow_register(f->E, &req, &f->res);
}

/* acme.sign(text) -> "signed:" .. text, counting calls */
static int sign(void *ud, const char *args, char **out)
{
    fixture *f = ud;
    const char *q1 = strchr(args, '"'), *q2 = q1 ? strchr(q1 + 1, '"') : NULL;

    f->calls++;
    if (!q1 || !q2) {
        *out = strdup("expected one string");
        return UNHOOK_ERROR;
    }
    *out = malloc(64 + (size_t)(q2 - q1));
    sprintf(*out, "[\"signed:%.*s\", %d]", (int)(q2 - q1 - 1), q1 + 1, f->calls);
    return UNHOOK_OK;
}

static void test_c_card_is_called_from_a_flow_like_any_card(void **state)
{
    fixture *f = *state;

    assert_int_equal(unhook_card_register(f->E, "acme.sign", sign, f), UNHOOK_OK);
    write_connector(f, "{ ctx.cards.acme.sign('payload') }");
    assert_int_equal(run(f), UNHOOK_OK);
    assert_string_equal(unhook_outcome_name(f->res.outcome), "done");
    assert_string_equal(f->res.registration, "{\"out\":[\"signed:payload\",1]}");
    assert_int_equal(f->calls, 1);
}

static void test_c_card_and_builtin_card_share_the_convention(void **state)
{
    fixture *f = *state;

    assert_int_equal(unhook_card_register(f->E, "acme.sign", sign, f), UNHOOK_OK);
    write_connector(f, "{ ctx.cards.json.stringify({ a = ctx.cards.acme.sign('x') }),"
                       "  unhook.cards.json.parse('[1]')[1] }");
    assert_int_equal(run(f), UNHOOK_OK);
    assert_string_equal(f->res.registration, "{\"out\":[\"{\\\"a\\\":\\\"signed:x\\\"}\",1]}");
}

static void test_c_card_error_fails_the_flow_naming_the_card(void **state)
{
    fixture *f = *state;

    assert_int_equal(unhook_card_register(f->E, "acme.sign", sign, f), UNHOOK_OK);
    write_connector(f, "{ ctx.cards.acme.sign(42) }");
    assert_int_equal(run(f), UNHOOK_OK);
    assert_string_equal(unhook_outcome_name(f->res.outcome), "failed");
    assert_string_equal(f->res.code, "script");
    assert_non_null(strstr(f->res.message, "acme.sign: expected one string"));
    assert_non_null(strstr(f->res.message, "flows/reg.lua:2:"));
}

static void test_register_refuses_bad_and_duplicate_names(void **state)
{
    fixture *f = *state;

    assert_int_equal(unhook_card_register(f->E, "acme.sign", sign, f), UNHOOK_OK);
    assert_int_equal(unhook_card_register(f->E, "acme.sign", sign, f), UNHOOK_USAGE);
    assert_string_equal(unhook_errmsg(f->E), "card 'acme.sign' is already registered");
    assert_int_equal(unhook_card_register(f->E, "acme..sign", sign, f), UNHOOK_USAGE);
    assert_int_equal(unhook_card_register(f->E, "bad name", sign, f), UNHOOK_USAGE);
    assert_int_equal(unhook_card_register(f->E, "", sign, f), UNHOOK_USAGE);
    assert_int_equal(unhook_card_register(f->E, "x", NULL, f), UNHOOK_USAGE);
}

static void test_c_card_may_not_shadow_a_builtin(void **state)
{
    fixture *f = *state;

    assert_int_equal(unhook_card_register(f->E, "json.parse", sign, f), UNHOOK_OK);
    write_connector(f, "{ 1 }");
    assert_int_equal(run(f), UNHOOK_INVALID);
    assert_string_equal(unhook_errmsg(f->E), "card json.parse is defined twice");
    assert_int_equal(f->calls, 0);
}

static void test_engines_keep_their_own_cards(void **state)
{
    fixture *f = *state;
    unhook_engine *other = NULL;
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};

    assert_int_equal(unhook_card_register(f->E, "acme.sign", sign, f), UNHOOK_OK);
    assert_int_equal(unhook_engine_open(&other, NULL), UNHOOK_OK);
    write_connector(f, "{ ctx.cards.acme ~= nil }");
    req.connector = f->dir;
    req.event = "e";
    assert_int_equal(unhook_flow_register(other, &req, &res), UNHOOK_OK);
    assert_string_equal(res.registration, "{\"out\":[false]}");
    unhook_flow_result_free(&res);
    unhook_engine_close(other);
    assert_int_equal(run(f), UNHOOK_OK);
    assert_string_equal(f->res.registration, "{\"out\":[true]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_c_card_is_called_from_a_flow_like_any_card, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_card_and_builtin_card_share_the_convention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_card_error_fails_the_flow_naming_the_card, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_refuses_bad_and_duplicate_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_c_card_may_not_shadow_a_builtin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engines_keep_their_own_cards, setup, teardown),
    };

    return cmocka_run_group_tests_name("cards", tests, NULL, NULL);
}
