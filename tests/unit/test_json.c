/*
 * test_json.c -- the JSON writer of core/json.c: strings and their
 * escapes, containers, numbers, the public renderings (instances,
 * history lines, name=value pairs), export lines, and the encoder of Lua
 * values, whose expected texts are what unhook.json.encode (the Lua
 * encoder of scripts/unhook/init.lua) produced for the same values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>

#include "json.h"

/* ---- the writer --------------------------------------------------------- */

static char *str(const char *s, size_t n, int esc)
{
    uh_buf b = {0};

    uh_json_str(&b, s, n, esc);
    return uh_buf_take(&b);
}

static void test_str_escapes_quote_backslash_and_control_bytes(void **state)
{
    static const char in[] = "a\"b\\c\n\t\x01\x7f/\xc3\xa9";
    char *s;

    (void)state;
    s = str(in, sizeof in - 1, UH_JSON_ESC_NONE);
    assert_string_equal(s, "\"a\\\"b\\\\c\\u000a\\u0009\\u0001\x7f/\xc3\xa9\"");
    free(s);
    s = str(in, sizeof in - 1, UH_JSON_ESC_NRT);
    assert_string_equal(s, "\"a\\\"b\\\\c\\n\\t\\u0001\x7f/\xc3\xa9\"");
    free(s);
    s = str(in, sizeof in - 1, UH_JSON_ESC_LUA);
    assert_string_equal(s, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f/\xc3\xa9\"");
    free(s);
}

static void test_str_keeps_embedded_zero_bytes(void **state)
{
    char *s = str("a\0b", 3, UH_JSON_ESC_NONE);

    (void)state;
    assert_string_equal(s, "\"a\\u0000b\"");
    free(s);
}

static void test_containers_open_separate_and_close(void **state)
{
    uh_buf b = {0};
    int obj = 0, arr = 0;
    char *s;

    (void)state;
    uh_json_key(&b, &obj, "a", 1, UH_JSON_ESC_NONE);
    uh_json_member(&b, &arr, '[');
    uh_json_int(&b, -42);
    uh_json_member(&b, &arr, '[');
    uh_json_raw(&b, NULL);
    uh_json_end(&b, arr, '[', ']');
    uh_json_key(&b, &obj, "b", 1, UH_JSON_ESC_NONE);
    arr = 0;
    uh_json_end(&b, arr, '[', ']');
    uh_json_key(&b, &obj, "c", 1, UH_JSON_ESC_NONE);
    uh_json_end(&b, 0, '{', '}');
    uh_json_end(&b, obj, '{', '}');
    s = uh_buf_take(&b);
    assert_string_equal(s, "{\"a\":[-42,null],\"b\":[],\"c\":{}}");
    free(s);
}

static void test_times_to_the_millisecond_without_trailing_zeros(void **state)
{
    static const struct { double v; const char *text; } cases[] = {
        {0, "0"}, {100, "100"}, {1700000000.5, "1700000000.5"},
        {1700000000.25, "1700000000.25"}, {1700000000.1234, "1700000000.123"},
        {1.0005, "1"}, {-2.5, "-2.5"},
        /* past any date (a provider's absurd expiry): exponent form, not
         * 300 digits out of a 64-byte buffer; not a number: null */
        {1e300, "1.0000000000000001e+300"}, {1e15, "1000000000000000"},
        {-1e20, "-1e+20"}, {HUGE_VAL, "null"},
    };
    size_t k;

    (void)state;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uh_buf b = {0};
        char *s;
        uh_json_time(&b, cases[k].v);
        s = uh_buf_take(&b);
        assert_string_equal(s, cases[k].text);
        free(s);
    }
}

/* ---- renderings ----------------------------------------------------------- */

static const unhook_instance inst = {
    "gh\n1", "github", "push", "{\"repo\":\"a/b\"}", NULL, "{\"id\":7}", "off",
    "failed", "disabled", "HTTP 500: \"oops\"", 3, 1700000060.5, 1700000000,
    1700000001.25, 0,
};

static void test_instance_json_has_every_field_sorted(void **state)
{
    char *s = unhook_instance_json(&inst);

    (void)state;
    assert_string_equal(s,
        "{\"attempts\":3,\"connection\":null,\"connector\":\"github\","
        "\"created_at\":1700000000,\"desired\":\"off\",\"event\":\"push\","
        "\"id\":\"gh\\u000a1\",\"last_error\":\"HTTP 500: \\\"oops\\\"\","
        "\"next_attempt_at\":1700000060.5,\"options\":{\"repo\":\"a/b\"},"
        "\"reason\":\"disabled\",\"registration\":{\"id\":7},\"state\":\"failed\","
        "\"updated_at\":1700000001.25}");
    unhook_free(s);
}

static void test_history_json_has_every_field_sorted(void **state)
{
    const unhook_history h = {"gh1", 1700000000.125, "deregister", "retry", 503,
                              2, "try later", NULL};
    char *s = unhook_history_json(&h);

    (void)state;
    assert_string_equal(s,
        "{\"action\":\"deregister\",\"at\":1700000000.125,\"attempt\":2,"
        "\"instance_id\":\"gh1\",\"message\":\"try later\",\"outcome\":\"retry\","
        "\"registration\":null,\"status\":503}");
    unhook_free(s);
}

static void test_pairs_json_keeps_order_and_duplicates(void **state)
{
    const char *const pairs[] = {"b=1", "a==x", "b=", "c=\"q\""};
    char *s = unhook_pairs_json(pairs, 4);

    (void)state;
    assert_string_equal(s, "{\"b\":\"1\",\"a\":\"=x\",\"b\":\"\",\"c\":\"\\\"q\\\"\"}");
    unhook_free(s);
    s = unhook_pairs_json(NULL, 0);
    assert_string_equal(s, "{}");
    unhook_free(s);
}

static void test_pairs_json_rejects_a_pair_without_name(void **state)
{
    const char *const no_eq[] = {"a=1", "b"};
    const char *const no_name[] = {"=1"};

    (void)state;
    assert_null(unhook_pairs_json(no_eq, 2));
    assert_null(unhook_pairs_json(no_name, 1));
}

static void test_export_line_has_the_import_fields(void **state)
{
    uh_buf b = {0};
    char *s;

    (void)state;
    uh_buf_puts(&b, "kept:");
    uh_json_export_line(&b, &inst);
    s = uh_buf_take(&b);
    assert_string_equal(s,
        "kept:{\"connection\":null,\"connector\":\"github\",\"desired\":\"off\","
        "\"event\":\"push\",\"id\":\"gh\\n1\",\"options\":{\"repo\":\"a/b\"},"
        "\"registration\":{\"id\":7},\"state\":\"failed\"}");
    free(s);
}

/* ---- Lua values ----------------------------------------------------------- */

/* A Lua value, the text unhook.json.encode gave for it (or its error). */
static const struct lua_case {
    const char *name, *expr;
    int rc;
    const char *out;
} lua_cases[] = {
    {"nil_is_null", "nil", 0, "null"},
    {"cjson_null_is_null", "cjson.null", 0, "null"},
    {"booleans", "{true, false}", 0, "[true,false]"},
    {"integers_exact", "{0, -1, 9007199254740993, math.maxinteger, math.mininteger}", 0, "[0,-1,9007199254740993,9223372036854775807,-9223372036854775808]"},
    {"whole_floats_as_integers", "{1.0, -0.0, 2^53, -2^53, 1e15}", 0, "[1,0,9007199254740992,-9007199254740992,1000000000000000]"},
    {"big_floats_with_17_digits", "{2^53 * 2, 1e300, -1.5e-7}", 0, "[18014398509481984,1.0000000000000001e+300,-1.4999999999999999e-07]"},
    {"fractions_with_17_digits", "{0.1, 2.5, 1/3}", 0, "[0.10000000000000001,2.5,0.33333333333333331]"},
    {"nan_is_an_error", "0/0", -1, "cannot encode -nan as JSON"},
    {"inf_is_an_error", "{a = {1/0}}", -1, "cannot encode inf as JSON"},
    {"minus_inf_is_an_error", "-math.huge", -1, "cannot encode -inf as JSON"},
    {"string_escapes", "'q\042b\134\134s/ \134b\134f\134n\134r\134t\1340\1341\13431\134127 \134195\134169'", 0, "\042q\134\042b\134\134s/ \134b\134f\134n\134r\134t\134u0000\134u0001\134u001f\134u007f é\042"},
    {"keys_sorted_and_escaped", "{b = 1, a = 2, ['c\134n'] = 3, B = 4, ['a\1340b'] = 5, ['a'..'\1340'] = 6}", 0, "{\042B\042:4,\042a\042:2,\042a\134u0000\042:6,\042a\134u0000b\042:5,\042b\042:1,\042c\134n\042:3}"},
    {"nested_tables", "{id = 'x', list = {1, {2, {3}}, {}}, obj = {z = cjson.null, y = false}}", 0, "{\042id\042:\042x\042,\042list\042:[1,[2,[3]],{}],\042obj\042:{\042y\042:false,\042z\042:null}}"},
    {"empty_table_is_object", "{}", 0, "{}"},
    {"empty_array_marker", "{a = setmetatable({}, array_mt), b = {}}", 0, "{\042a\042:[],\042b\042:{}}"},
    {"marker_on_non_empty_object", "setmetatable({x = 1}, array_mt)", 0, "{\042x\042:1}"},
    {"array_with_holes_is_object", "{1, 2, nil, 4}", 0, "{\0421\042:1,\0422\042:2,\0424\042:4}"},
    {"mixed_table_is_object", "{1, 2, x = 3}", 0, "{\0421\042:1,\0422\042:2,\042x\042:3}"},
    {"number_keys_as_strings", "{[1] = 'a', [3] = 'c', [1.5] = 'f', [-2] = 'm'}", 0, "{\042-2\042:\042m\042,\0421\042:\042a\042,\0421.5\042:\042f\042,\0423\042:\042c\042}"},
    {"string_and_number_key_alike", "{[1] = 'n', ['1'] = 's', [2] = 'two'}", 0, "{\0421\042:\042s\042,\0421\042:\042s\042,\0422\042:\042two\042}"},
    {"boolean_key_is_an_error", "{[true] = 1}", -1, "cannot encode JSON: object key of type boolean"},
    {"table_key_is_an_error", "{[{}] = 1, a = 1}", -1, "cannot encode JSON: object key of type table"},
    {"function_is_an_error", "{f = print}", -1, "cannot encode a function as JSON"},
    {"userdata_is_an_error", "{u = io.stdout}", -1, "cannot encode a userdata as JSON"},
    {"depth_100_is_fine", "deep(100)", 0, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
    {"depth_101_is_an_error", "deep(101)", -1, "cannot encode JSON: nesting deeper than 100 (a cycle\077)"},
    {"cycle_is_an_error", "cyc()", -1, "cannot encode JSON: nesting deeper than 100 (a cycle\077)"},
    {"len_metamethod_respected", "setmetatable({1, 2, 3}, {__len = function() return 3 end})", 0, "[1,2,3]"},
    {"pairs_metamethod_respected", "setmetatable({}, {__pairs = function(t) return function(_, k) if k == nil then return 'only', 1 end end, t, nil end, __index = function(_, k) return k == 'only' and 'v' or nil end})", 0, "{\042only\042:\042v\042}"},
    {"error_in_metamethod_is_returned", "setmetatable({}, {__len = function() error('len broke', 0) end})", -1, "len broke"},
};

static const char prelude[] =
    "local t = ...\n"
    "cjson = { null = t.null }\n"
    "array_mt = { __name = 'unhook.json.array' }\n"
    "function deep(n) local r = {} local t = r\n"
    "  for i = 1, n do t[1] = {} t = t[1] end return r end\n"
    "function cyc() local t = {} t.self = t return t end\n";

static int lua_setup(void **state)
{
    lua_State *L = luaL_newstate();

    luaL_openlibs(L);
    assert_int_equal(luaL_loadstring(L, prelude), LUA_OK);
    lua_newtable(L);
    lua_pushlightuserdata(L, NULL);           /* what lua-cjson's null is */
    lua_setfield(L, -2, "null");
    assert_int_equal(lua_pcall(L, 1, 0, 0), LUA_OK);
    *state = L;
    return 0;
}

static int lua_teardown(void **state)
{
    lua_close(*state);
    return 0;
}

static void test_lua_values_encode_as_unhook_json_encode_does(void **state)
{
    lua_State *L = *state;
    size_t k;

    for (k = 0; k < sizeof lua_cases / sizeof lua_cases[0]; k++) {
        const struct lua_case *c = &lua_cases[k];
        uh_buf b = {0};
        char err[256] = "", code[1024];
        int top, rc;

        snprintf(code, sizeof code, "return %s", c->expr);
        assert_int_equal(luaL_dostring(L, code), LUA_OK);
        lua_pushliteral(L, "above");
        top = lua_gettop(L);
        rc = uh_json_encode_lua(L, -2, &b, err, sizeof err);
        if (rc != c->rc || strcmp(rc == 0 ? b.data : err, c->out) != 0)
            print_message("case %s\n", c->name);
        assert_int_equal(lua_gettop(L), top);
        assert_string_equal(lua_tostring(L, -1), "above");
        assert_int_equal(rc, c->rc);
        assert_string_equal(rc == 0 ? (b.data ? b.data : "") : err, c->out);
        if (rc != 0)
            assert_int_equal(b.len, 0);
        uh_buf_free(&b);
        lua_pop(L, 2);
    }
}

static void test_lua_encoder_appends_and_restores_the_buffer_on_error(void **state)
{
    lua_State *L = *state;
    uh_buf b = {0};
    char err[128];

    uh_buf_puts(&b, "x=");
    lua_pushboolean(L, 1);
    assert_int_equal(uh_json_encode_lua(L, -1, &b, err, sizeof err), 0);
    assert_string_equal(b.data, "x=true");
    assert_int_equal(luaL_dostring(L, "return {ok = 1, bad = print}"), LUA_OK);
    assert_int_equal(uh_json_encode_lua(L, -1, &b, err, sizeof err), -1);
    assert_string_equal(err, "cannot encode a function as JSON");
    assert_string_equal(b.data, "x=true");
    assert_int_equal(b.len, 6);
    lua_pop(L, 2);
    uh_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_escapes_quote_backslash_and_control_bytes),
        cmocka_unit_test(test_str_keeps_embedded_zero_bytes),
        cmocka_unit_test(test_containers_open_separate_and_close),
        cmocka_unit_test(test_times_to_the_millisecond_without_trailing_zeros),
        cmocka_unit_test(test_instance_json_has_every_field_sorted),
        cmocka_unit_test(test_history_json_has_every_field_sorted),
        cmocka_unit_test(test_pairs_json_keeps_order_and_duplicates),
        cmocka_unit_test(test_pairs_json_rejects_a_pair_without_name),
        cmocka_unit_test(test_export_line_has_the_import_fields),
        cmocka_unit_test_setup_teardown(test_lua_values_encode_as_unhook_json_encode_does,
                                        lua_setup, lua_teardown),
        cmocka_unit_test_setup_teardown(test_lua_encoder_appends_and_restores_the_buffer_on_error,
                                        lua_setup, lua_teardown),
    };

    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
