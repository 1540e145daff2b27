/*
 * test_manifest.c -- connector validation through the public API only
 * (unhook_connector_check + unhook_errmsg).  Each test writes a small
 * connector (connector.lua and flows/NAME.lua) to a scratch folder and pins
 * the exact "file:line: message" the check reports.  Run from the repo
 * root, so that the bundled connectors are found under scripts/.
 *
 * UNHOOK_TEST_SLOW=N stretches the time budgets N times (for valgrind).
 */
#include "support.h"

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include <unistd.h>

#include "unhook.h"

/* ---- helpers ---------------------------------------------------------- */

typedef struct fixture {
    char root[256];           /* scratch folder */
    char dir[512];            /* the connector: ROOT/c */
    unhook_engine *E;
} fixture;

static int open_fixture(void **state, int timeout_ms, int memory_mb)
{
    fixture *f = calloc(1, sizeof *f);
    unhook_config cfg = {0};

    if (!f)
        return -1;
    cfg.timeout_ms = timeout_ms;
    cfg.memory_mb = memory_mb;
    snprintf(f->root, sizeof f->root, "/tmp/unhook-manifest-XXXXXX");
    if (!mkdtemp(f->root) || unhook_engine_open(&f->E, &cfg) != UNHOOK_OK) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof f->dir, "%s/c", f->root);
    mkdir(f->dir, 0700);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return open_fixture(state, 0, 0);
}

/* Small budgets, for connector code that never ends. */
static int setup_limited(void **state)
{
    const char *slow = getenv("UNHOOK_TEST_SLOW");

    return open_fixture(state, 300 * (slow && atoi(slow) > 1 ? atoi(slow) : 1), 8);
}

static int teardown(void **state)
{
    fixture *f = *state;

    unhook_engine_close(f->E);
    support_rm_tree(f->root);
    free(f);
    return 0;
}

/* Write text to DIR/rel, creating folders on the way. */
static void write_at(const char *dir, const char *rel, const char *text)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/%s", dir, rel);
    support_write_at(path, text);
}

static void write_file(fixture *f, const char *rel, const char *text)
{
    write_at(f->dir, rel, text);
}

/* want with every "DIR" replaced by the connector folder dir. */
static char *with_dir(const char *want, const char *dir)
{
    size_t n = 0;
    char *out, *o;
    const char *p;

    for (p = strstr(want, "DIR"); p; p = strstr(p + 3, "DIR"))
        n++;
    out = o = malloc(strlen(want) + n * strlen(dir) + 1);
    assert_non_null(out);
    for (p = want; *p;) {
        if (strncmp(p, "DIR", 3) == 0) {
            o += sprintf(o, "%s", dir);
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Check the connector in dir: rc and exact message ("DIR" = dir). */
static void assert_check_at(unhook_engine *E, const char *dir, int rc,
                            const char *want)
{
    char *w = with_dir(want, dir);
    int got = unhook_connector_check(E, dir);

    if (got != rc)
        print_error("check %s: rc %d, message:\n%s\n", dir, got, unhook_errmsg(E));
    assert_int_equal(got, rc);
    assert_string_equal(unhook_errmsg(E), w);
    free(w);
}

static void assert_check(fixture *f, int rc, const char *want)
{
    assert_check_at(f->E, f->dir, rc, want);
}

/* A connector whose one event maps option "collection" to the flow. */
#define VALID_MANIFEST                                                   \
    "return {\n"                                                         \
    "  name = \"demo\",\n"                                               \
    "  base_url = \"http://127.0.0.1:1\",\n"                             \
    "  events = {\n"                                                     \
    "    hook = {\n"                                                     \
    "      options = { collection = { type = \"string\", required = true } },\n" \
    "      deregistration = {\n"                                         \
    "        flow = \"flows/deregister.lua\",\n"                         \
    "        inputs = { collection = option \"collection\" },\n"         \
    "      },\n"                                                         \
    "    },\n"                                                           \
    "  },\n"                                                             \
    "}\n"

#define VALID_FLOW                                                       \
    "return {\n"                                                         \
    "  inputs = { collection = { type = \"string\", required = true } },\n" \
    "  run = function(ctx, input)\n"                                     \
    "    ctx.http.delete(\"/api/{c}/1\", { path = { c = input.collection } })\n" \
    "  end,\n"                                                           \
    "}\n"

/* The same event, with this text for its deregistration table. */
#define EVENT_MANIFEST(options, dereg)                                   \
    "return {\n"                                                         \
    "  name = \"demo\",\n"                                               \
    "  events = {\n"                                                     \
    "    hook = {\n"                                                     \
    "      options = " options ",\n"                                     \
    "      deregistration = " dereg ",\n"                                \
    "    },\n"                                                           \
    "  },\n"                                                             \
    "}\n"

static void write_valid(fixture *f)
{
    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua", VALID_FLOW);
}

/* ---- valid connectors ---------------------------------------------------- */

static void test_valid_connector_is_ok(void **state)
{
    fixture *f = *state;

    write_valid(f);
    assert_check(f, UNHOOK_OK, "");
}

static void test_ok_check_clears_previous_message(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", "return 1\n");
    assert_int_equal(unhook_connector_check(f->E, f->dir), UNHOOK_INVALID);
    assert_string_not_equal(unhook_errmsg(f->E), "");
    write_valid(f);
    assert_check(f, UNHOOK_OK, "");
}

static void test_bundled_github_connector_is_ok(void **state)
{
    fixture *f = *state;

    assert_check_at(f->E, "scripts/connectors/github", UNHOOK_OK, "");
    assert_check_at(f->E, "github", UNHOOK_OK, "");
}

static void test_bundled_generic_connector_is_ok(void **state)
{
    fixture *f = *state;

    assert_check_at(f->E, "scripts/connectors/generic", UNHOOK_OK, "");
}

/* ---- connector.lua -------------------------------------------------------- */

static void test_manifest_syntax_error_names_file_and_line(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  events = {\n"
               "    hook = {\n"
               "      deregistration = { flow = \"flows/deregister.lua\" }\n"
               "      gone = { 404 },\n"
               "    },\n"
               "  },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:6: '}' expected (to close '{' at line 4) "
                 "near 'gone'");
}

static void test_manifest_runtime_error_names_file_and_line(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "local settings = nil\n"
               "return { name = settings.name }\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:2: attempt to index a nil value (local "
                 "'settings')");
}

static void test_manifest_must_return_table(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", "return \"github\"\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:1: the manifest must return a table, got string");
}

static void test_unknown_key_suggests_closest_key(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  auht = \"bearer\",\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\", "
               "inputs = { collection = \"x\" } } } },\n"
               "}\n");
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:3: unknown key 'auht' (did you mean 'auth'?); "
                 "expected one of: auth, base_url, description, events, headers, "
                 "hosts, limits, name, oauth2, version");
}

static void test_unknown_key_far_from_any_key_has_no_suggestion(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\", "
               "inputs = { collection = \"x\" } } } },\n"
               "  frobnicate = true,\n"
               "}\n");
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:4: unknown key 'frobnicate'; expected one of: "
                 "auth, base_url, description, events, headers, hosts, limits, "
                 "name, oauth2, version");
}

static void test_misspelt_event_key_is_reported_with_missing_required_key(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  events = {\n"
               "    hook = {\n"
               "      deregistraton = { flow = \"flows/deregister.lua\" },\n"
               "    },\n"
               "  },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:4: missing required key 'deregistration' in "
                 "events.hook\n"
                 "DIR/connector.lua:5: unknown key 'deregistraton' in events.hook "
                 "(did you mean 'deregistration'?); expected one of: "
                 "deregistration, description, expired, gone, list, match, options, "
                 "owned, registration, renewal, retry");
}

static void test_wrong_type_names_key_and_types(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = 42,\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\" } } },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:2: name: expected string, got number");
}

static void test_auth_outside_known_types_is_listed(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  auth = \"oauth\",\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\" } } },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:3: auth: 'oauth' is not one of: basic, bearer, "
                 "header, none, oauth2, query");
}

static void test_wrong_element_types_in_lists_and_maps(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  events = {\n"
               "    hook = {\n"
               "      deregistration = { flow = \"flows/deregister.lua\" },\n"
               "      gone = {\n"
               "        \"404\",\n"
               "      },\n"
               "    },\n"
               "  },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:7: events.hook.gone.1: expected integer, got string");
}

static void test_missing_name_is_reported_at_the_table(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "-- no name\n"
               "return {\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\" } } },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID, "DIR/connector.lua:2: missing required key 'name'");
}

static void test_connector_without_events_is_invalid(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  events = {},\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:3: events: declare at least one event");
}

static void test_unknown_option_type_lists_types(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               EVENT_MANIFEST("{ collection = { type = \"strng\" } }",
                              "{ flow = \"flows/deregister.lua\" }"));
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:5: events.hook.options.collection.type: unknown "
                 "type 'strng'; expected one of: any, array, boolean, integer, "
                 "number, object, string");
}

/* ---- flows named by the manifest ----------------------------------------- */

static void test_missing_flow_file(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               EVENT_MANIFEST("{}", "{\n        flow = \"flows/delete.lua\" }"));
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:7: events.hook.deregistration.flow: file "
                 "'flows/delete.lua' not found in DIR");
}

/* A cards/ (or flows/) folder that is there but cannot be read is a
 * problem the check names, not a connector without cards. */
static void test_unreadable_cards_folder_is_reported(void **state)
{
    fixture *f = *state;
    char path[600];

    write_valid(f);
    snprintf(path, sizeof path, "%s/cards", f->dir);
    assert_int_equal(symlink("cards", path), 0);     /* a loop */
    assert_check(f, UNHOOK_INVALID,
                 "DIR/cards: Too many levels of symbolic links");
}

static void test_option_referenced_but_not_declared(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               EVENT_MANIFEST("{ collection = { type = \"string\" } }",
                              "{\n        flow = \"flows/deregister.lua\",\n"
                              "        inputs = {\n"
                              "          collection = option \"colection\",\n"
                              "        },\n      }"));
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:9: events.hook.deregistration.inputs.collection: "
                 "option 'colection' is not declared in events.hook.options");
}

static void test_mapped_input_the_flow_does_not_declare(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               EVENT_MANIFEST("{}",
                              "{\n        flow = \"flows/deregister.lua\",\n"
                              "        inputs = {\n"
                              "          colection = \"hooks\",\n"
                              "        },\n      }"));
    write_file(f, "flows/deregister.lua",
               "return {\n"
               "  inputs = { collection = { type = \"string\", default = \"x\" } },\n"
               "  run = function(ctx, input) end,\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:9: events.hook.deregistration.inputs.colection: "
                 "the flow flows/deregister.lua declares no input 'colection' "
                 "(did you mean 'collection'?)");
}

static void test_required_flow_input_left_unmapped(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               EVENT_MANIFEST("{}",
                              "{\n        flow = \"flows/deregister.lua\",\n"
                              "        inputs = {},\n      }"));
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:8: events.hook.deregistration.inputs: required "
                 "input 'collection' of flows/deregister.lua is not mapped");
}

static void test_required_input_with_default_may_stay_unmapped(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               EVENT_MANIFEST("{}", "{ flow = \"flows/deregister.lua\" }"));
    write_file(f, "flows/deregister.lua",
               "return {\n"
               "  inputs = { collection = { type = \"string\", required = true, "
               "default = \"hooks\" } },\n"
               "  run = function(ctx, input) end,\n"
               "}\n");
    assert_check(f, UNHOOK_OK, "");
}

static void test_flow_syntax_error_names_flow_file_and_line(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua",
               "return {\n"
               "  inputs = { collection = { type = \"string\", required = true } },\n"
               "  run = function(ctx, input)\n"
               "    if input.collection == nil\n"
               "      unhook.fail(\"no collection\")\n"
               "    end\n"
               "  end,\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/flows/deregister.lua:5: 'then' expected near 'unhook'");
}

static void test_flow_runtime_error_while_loading(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua",
               "local helpers = nil\n"
               "local retry = helpers.retry\n"
               "return { run = function() end }\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/flows/deregister.lua:2: attempt to index a nil value (local "
                 "'helpers')");
}

static void test_flow_without_run(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua",
               "-- forgot run\n"
               "return {\n"
               "  inputs = { collection = { type = \"string\", required = true } },\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/flows/deregister.lua:2: missing required key 'run'");
}

static void test_flow_run_of_wrong_type(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua",
               "return {\n"
               "  inputs = { collection = { type = \"string\", required = true } },\n"
               "  run = \"delete it\",\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/flows/deregister.lua:3: run: expected function, got string");
}

static void test_flow_must_return_table(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua", "local run = function() end\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/flows/deregister.lua:1: a flow must return a table { inputs = "
                 "..., run = function(ctx, input) ... end }, got nil");
}

static void test_flow_unknown_key_suggests_closest_key(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", VALID_MANIFEST);
    write_file(f, "flows/deregister.lua",
               "return {\n"
               "  inputs = { collection = { type = \"string\", required = true } },\n"
               "  run = function() end,\n"
               "  ouputs = {},\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/flows/deregister.lua:4: unknown key 'ouputs' (did you mean "
                 "'outputs'?); expected one of: description, inputs, outputs, run");
}

static void test_message_names_full_path_of_deep_folder(void **state)
{
    /* Lua shortens chunk names past 60 bytes to "...tail"; the check must
     * still print the whole path. */
    fixture *f = *state;
    char deep[512];

    snprintf(deep, sizeof deep, "%s/a-rather-long-folder-name/"
             "another-long-folder-name/connectors/demo", f->root);
    write_at(deep, "connector.lua", VALID_MANIFEST);
    write_at(deep, "flows/deregister.lua",
             "return {\n"
             "  run = function(ctx)\n"
             "    if x\n"
             "  end,\n"
             "}\n");
    assert_check_at(f->E, deep, UNHOOK_INVALID,
                    "DIR/flows/deregister.lua:4: 'then' expected near 'end'");
}

/* ---- limits on connector code -------------------------------------------- */

static void test_manifest_that_never_ends_is_stopped(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua", "while true do end\n");
    assert_check(f, UNHOOK_INVALID,
                 "connector code ran past its time budget while loading");
    /* the engine stays usable */
    write_valid(f);
    assert_check(f, UNHOOK_OK, "");
}

static void test_pcall_cannot_swallow_the_time_budget(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "while true do pcall(function() while true do end end) end\n");
    assert_check(f, UNHOOK_INVALID,
                 "connector code ran past its time budget while loading");
}

static void test_manifest_that_allocates_without_end_is_stopped(void **state)
{
    fixture *f = *state;
    char msg[512];

    write_file(f, "connector.lua",
               "local t = {}\n"
               "while true do t[#t + 1] = string.rep(\"x\", 4096) .. #t end\n");
    assert_int_equal(unhook_connector_check(f->E, f->dir), UNHOOK_INVALID);
    snprintf(msg, sizeof msg, "%s", unhook_errmsg(f->E));
    /* the engine stays usable */
    write_valid(f);
    assert_check(f, UNHOOK_OK, "");
    assert_string_equal(msg, "connector code ran past its memory limit while loading");
}

/* ---- isolation and known bugs ---------------------------------------------- */

static void test_broken_flow_shared_by_two_events_is_reported_once(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  events = {\n"
               "    a = { deregistration = { flow = \"flows/d.lua\" } },\n"
               "    b = { deregistration = { flow = \"flows/d.lua\" } },\n"
               "  },\n"
               "}\n");
    write_file(f, "flows/d.lua",
               "return {\n"
               "  run = function(ctx)\n"
               "    if x then\n"
               "  end,\n"
               "}\n");
    assert_check(f, UNHOOK_INVALID, "DIR/flows/d.lua:4: unexpected symbol near ','");
}

static void test_several_problems_are_reported_in_line_order(void **state)
{
    fixture *f = *state;

    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  aaaa = 1,\n"
               "  bbbb = 2,\n"
               "  cccc = 3,\n"
               "  dddd = 4,\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\", "
               "inputs = { collection = \"x\" } } } },\n"
               "}\n");
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    /* the same answer from every engine: Lua's hash seed differs per state */
    for (int i = 0; i < 8; i++) {
        unhook_engine *E;
        assert_int_equal(unhook_engine_open(&E, NULL), UNHOOK_OK);
        assert_check_at(E, f->dir, UNHOOK_INVALID,
            "DIR/connector.lua:3: unknown key 'aaaa'; expected one of: auth, "
            "base_url, description, events, headers, hosts, limits, name, oauth2, version\n"
            "DIR/connector.lua:4: unknown key 'bbbb'; expected one of: auth, "
            "base_url, description, events, headers, hosts, limits, name, oauth2, version\n"
            "DIR/connector.lua:5: unknown key 'cccc'; expected one of: auth, "
            "base_url, description, events, headers, hosts, limits, name, oauth2, version\n"
            "DIR/connector.lua:6: unknown key 'dddd'; expected one of: auth, "
            "base_url, description, events, headers, hosts, limits, name, oauth2, version");
        unhook_engine_close(E);
    }
}

static void test_one_connector_cannot_change_how_another_is_checked(void **state)
{
    fixture *f = *state;
    char other[600];

    snprintf(other, sizeof other, "%s/poison", f->root);
    write_at(other, "connector.lua",
             "math.min = nil\n"
             "return { name = \"poison\", events = { e = { deregistration = "
             "{ flow = \"flows/d.lua\" } } } }\n");
    write_at(other, "flows/d.lua", "return { run = function() end }\n");
    write_file(f, "connector.lua",
               "return {\n"
               "  name = \"demo\",\n"
               "  auht = \"bearer\",\n"
               "  events = { hook = { deregistration = { flow = \"flows/deregister.lua\", "
               "inputs = { collection = \"x\" } } } },\n"
               "}\n");
    write_file(f, "flows/deregister.lua", VALID_FLOW);
    assert_check_at(f->E, other, UNHOOK_OK, "");
    assert_check(f, UNHOOK_INVALID,
                 "DIR/connector.lua:3: unknown key 'auht' (did you mean 'auth'?); "
                 "expected one of: auth, base_url, description, events, headers, "
                 "hosts, limits, name, oauth2, version");
}

/* ---- the table of manifest errors (tests/manifest-errors.lua) ------------ */

#define ERROR_TABLE "tests/manifest-errors.lua"

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text with its lines sorted (to free). */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), *line[64], *out, *save = NULL;
    size_t n = 0, len = strlen(text) + 2;

    assert_non_null(copy);
    for (char *l = strtok_r(copy, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save))
        line[n++] = l;
    qsort(line, n, sizeof *line, cmp_lines);
    out = calloc(1, len);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? "\n" : "", line[i]);
    free(copy);
    return out;
}

/* Case at the top of L's stack: write its files into a fresh folder under
 * f->root, check it; returns 0 when rc and message are as the case says,
 * else prints why. */
static int run_error_case(fixture *f, lua_State *L, int k)
{
    char dir[600], *want, *got;
    const char *name, *target, *rcname;
    int rc, ok, prefix, sort;

    lua_getfield(L, -1, "name");
    name = luaL_checkstring(L, -1);
    lua_pop(L, 1);
    snprintf(dir, sizeof dir, "%s/case%d", f->root, k);
    mkdir(dir, 0700);
    lua_getfield(L, -1, "files");
    if (lua_istable(L, -1)) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, luaL_checkstring(L, -2));
            support_write_at(path, luaL_checkstring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "connector");
    target = lua_tostring(L, -1);
    {
        char *t = with_dir(target ? target : "DIR", dir);
        lua_pop(L, 1);
        lua_getfield(L, -1, "rc");
        rcname = luaL_optstring(L, -1, "INVALID");
        lua_getfield(L, -2, "prefix");
        prefix = lua_toboolean(L, -1);
        lua_getfield(L, -3, "sort_lines");
        sort = lua_toboolean(L, -1);
        lua_getfield(L, -4, "want");
        want = with_dir(luaL_checkstring(L, -1), dir);
        rc = unhook_connector_check(f->E, t);
        free(t);
    }
    got = strdup(unhook_errmsg(f->E));
    assert_non_null(got);
    if (sort) {
        char *a = sorted_lines(got), *b = sorted_lines(want);
        free(got);
        free(want);
        got = a;
        want = b;
    }
    ok = prefix ? strncmp(got, want, strlen(want)) == 0 : strcmp(got, want) == 0;
    if (strcmp(rcname, "INVALID") == 0)
        ok = ok && rc == UNHOOK_INVALID;
    else if (strcmp(rcname, "NOTFOUND") == 0)
        ok = ok && rc == UNHOOK_NOTFOUND;
    else
        ok = 0;
    if (!ok)
        print_error("%s: case %d (%s): rc %d (want %s), message:\n%s\nwant%s:\n%s\n",
                    ERROR_TABLE, k, name, rc, rcname, got, prefix ? " a prefix" : "", want);
    else
        print_message("ok: %s\n", name);
    lua_pop(L, 4);
    free(got);
    free(want);
    return ok ? 0 : -1;
}

/* Every case of the table, each reported; fails if any case fails. */
static void test_manifest_error_table(void **state)
{
    fixture *f = *state;
    lua_State *L = luaL_newstate();
    int failed = 0, n;

    assert_non_null(L);
    luaL_openlibs(L);
    if (luaL_dofile(L, ERROR_TABLE) != LUA_OK)
        fail_msg("%s", lua_tostring(L, -1));
    assert_true(lua_istable(L, -1));
    n = (int)luaL_len(L, -1);
    assert_true(n > 0);
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, -1, k);
        if (run_error_case(f, L, k) < 0)
            failed++;
        lua_pop(L, 1);
    }
    lua_close(L);
    if (failed)
        fail_msg("%d of %d cases of %s failed", failed, n, ERROR_TABLE);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define TL(fn) cmocka_unit_test_setup_teardown(fn, setup_limited, teardown)
    const struct CMUnitTest tests[] = {
        T(test_valid_connector_is_ok),
        T(test_manifest_error_table),
        T(test_ok_check_clears_previous_message),
        T(test_bundled_github_connector_is_ok),
        T(test_bundled_generic_connector_is_ok),
        T(test_manifest_syntax_error_names_file_and_line),
        T(test_manifest_runtime_error_names_file_and_line),
        T(test_manifest_must_return_table),
        T(test_unknown_key_suggests_closest_key),
        T(test_unknown_key_far_from_any_key_has_no_suggestion),
        T(test_misspelt_event_key_is_reported_with_missing_required_key),
        T(test_wrong_type_names_key_and_types),
        T(test_auth_outside_known_types_is_listed),
        T(test_wrong_element_types_in_lists_and_maps),
        T(test_missing_name_is_reported_at_the_table),
        T(test_connector_without_events_is_invalid),
        T(test_unknown_option_type_lists_types),
        T(test_missing_flow_file),
        T(test_unreadable_cards_folder_is_reported),
        T(test_option_referenced_but_not_declared),
        T(test_mapped_input_the_flow_does_not_declare),
        T(test_required_flow_input_left_unmapped),
        T(test_required_input_with_default_may_stay_unmapped),
        T(test_flow_syntax_error_names_flow_file_and_line),
        T(test_flow_runtime_error_while_loading),
        T(test_flow_without_run),
        T(test_flow_run_of_wrong_type),
        T(test_flow_must_return_table),
        T(test_flow_unknown_key_suggests_closest_key),
        T(test_message_names_full_path_of_deep_folder),
        TL(test_manifest_that_never_ends_is_stopped),
        TL(test_pcall_cannot_swallow_the_time_budget),
        TL(test_manifest_that_allocates_without_end_is_stopped),
        T(test_broken_flow_shared_by_two_events_is_reported_once),
        T(test_several_problems_are_reported_in_line_order),
        T(test_one_connector_cannot_change_how_another_is_checked),
    };
#undef T
#undef TL

    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
