/*
 * test_redact.c -- secrets of a connection (core/conn.c): uh_redact and
 * uh_redact_buf with hand-filled uh_conn structs, and uh_conn_load
 * through an engine, from connection files written to a scratch folder.
 */
#include "support.h"
#include <limits.h>
#include <unistd.h>

#include "lifecycle.h"

/* ---- helpers ---------------------------------------------------------- */

/* A connection with the given secrets (NULL-terminated), filled by hand. */
static uh_conn conn_with(const char *const *secrets)
{
    uh_conn c;
    int n = 0;

    memset(&c, 0, sizeof c);
    while (secrets[n])
        n++;
    c.secrets.v = calloc((size_t)n + 1, sizeof *c.secrets.v);
    assert_non_null(c.secrets.v);
    for (int i = 0; i < n; i++)
        c.secrets.v[i] = strdup(secrets[i]);
    c.secrets.n = n;
    return c;
}

static void assert_redacts(const uh_conn *c, const char *in, const char *want)
{
    char *got = uh_redact(UH_SECRETS(c), in);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Per-test scratch folder and engine. */
typedef struct fixture {
    char dir[256];
    unhook_engine *E;
    uh_conn conn;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);

    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-redact-XXXXXX");
    if (!mkdtemp(f->dir) || unhook_engine_open(&f->E, NULL) != UNHOOK_OK) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    uh_conn_free(&f->conn);
    unhook_engine_close(f->E);
    support_rm_tree(f->dir);
    free(f);
    return 0;
}

/* Write text to DIR/rel (folders created); returns the full path. */
static const char *write_file(fixture *f, const char *rel, const char *text)
{
    static char path[PATH_MAX];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", f->dir, rel);
    for (char *s = strchr(path + strlen(f->dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(path, 0700);
        *s = '/';
    }
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Load a connection file with this text; returns uh_conn_load's rc. */
static int load(fixture *f, const char *text, char *path, size_t pathsz)
{
    const char *p = write_file(f, "conn.json", text);

    snprintf(path, pathsz, "%s", p);
    return uh_conn_load(&f->E->rt, path, &f->conn);
}

/* Assert loading text fails with rc and exactly "PATH<suffix>". */
static void assert_load_fails(fixture *f, const char *text, int rc,
                              const char *suffix)
{
    char path[PATH_MAX], want[PATH_MAX + 512];

    assert_int_equal(load(f, text, path, sizeof path), rc);
    snprintf(want, sizeof want, "%s%s", path, suffix);
    assert_string_equal(unhook_errmsg(f->E), want);
    /* nothing half-filled is left behind */
    assert_null(f->conn.base_url);
    assert_null(f->conn.secret);
    assert_int_equal(f->conn.secrets.n, 0);
}

/* ---- uh_redact / uh_redact_buf ------------------------------------------ */

static void test_redact_replaces_every_occurrence(void **state)
{
    static const char *const s[] = {"s3cret", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    assert_redacts(&c, "token s3cret, again s3cret.", "token ***, again ***.");
    assert_redacts(&c, "s3crets3cret", "******");
    assert_redacts(&c, "s3cret", "***");
    uh_conn_free(&c);
}

static void test_redact_replaces_every_secret(void **state)
{
    static const char *const s[] = {"alpha-1", "beta-2", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    assert_redacts(&c, "beta-2 then alpha-1", "*** then ***");
    uh_conn_free(&c);
}

static void test_redact_leaves_text_without_secret_unchanged(void **state)
{
    static const char *const s[] = {"s3cret", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    assert_redacts(&c, "HTTP 404 from DELETE /x: s3cre t", "HTTP 404 from DELETE /x: s3cre t");
    assert_redacts(&c, "", "");
    uh_conn_free(&c);
}

static void test_redact_replaces_percent_encoded_form(void **state)
{
    static const char *const s[] = {"p@ss w/rd", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    assert_redacts(&c, "GET https://h.test/x?api_key=p%40ss%20w%2Frd&a=1",
                   "GET https://h.test/x?api_key=***&a=1");
    assert_redacts(&c, "raw p@ss w/rd and encoded p%40ss%20w%2Frd",
                   "raw *** and encoded ***");
    uh_conn_free(&c);
}

static void test_redact_with_null_conn_leaves_text_unchanged(void **state)
{
    uh_buf b = {0};

    (void)state;
    assert_redacts(NULL, "token s3cret", "token s3cret");
    uh_buf_puts(&b, "token s3cret");
    uh_mask_buf(NULL, &b);
    assert_string_equal(b.data, "token s3cret");
    assert_int_equal(b.len, strlen("token s3cret"));
    uh_buf_free(&b);
}

static void test_redact_of_null_text_is_empty_string(void **state)
{
    static const char *const s[] = {"s3cret", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    assert_redacts(&c, NULL, "");
    uh_conn_free(&c);
}

static void test_redact_ignores_empty_secret(void **state)
{
    static const char *const s[] = {"", "tok", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    assert_redacts(&c, "a tok b", "a *** b");
    assert_redacts(&c, "nothing here", "nothing here");
    uh_conn_free(&c);
}

/* the same secret added again (OAuth2 tokens read from the store each
 * time) is not listed again */
static void test_add_secret_keeps_one_of_each(void **state)
{
    static const char *const s[] = {"tok", NULL};
    uh_conn c = conn_with(s);

    (void)state;
    for (int i = 0; i < 100; i++) {
        uh_conn_add_secret(&c, "tok");
        uh_conn_add_secret(&c, "rt_other");
    }
    assert_int_equal(c.secrets.n, 2);
    assert_redacts(&c, "a tok rt_other b", "a *** *** b");
    uh_conn_free(&c);
}

static void test_redact_with_no_secrets_leaves_text_unchanged(void **state)
{
    uh_conn c;

    (void)state;
    memset(&c, 0, sizeof c);
    assert_redacts(&c, "Bearer abc", "Bearer abc");
}

static void test_redact_buf_rewrites_buffer_in_place(void **state)
{
    static const char *const s[] = {"s3cret", NULL};
    uh_conn c = conn_with(s);
    uh_buf b = {0}, empty = {0};

    (void)state;
    uh_buf_puts(&b, "x=s3cret&y=s3cret");
    uh_mask_buf(&c.secrets, &b);
    assert_string_equal(b.data, "x=***&y=***");
    assert_int_equal(b.len, strlen("x=***&y=***"));
    uh_buf_add(&b, "!", 1);         /* still a working buffer */
    assert_string_equal(b.data, "x=***&y=***!");
    uh_mask_buf(&c.secrets, &empty);      /* nothing allocated: stays so */
    assert_null(empty.data);
    assert_int_equal(empty.len, 0);
    uh_buf_free(&b);
    uh_conn_free(&c);
}

static void test_redact_masks_longer_secret_that_contains_a_shorter_one(void **state)
{
    /* Basic auth of admin:aW46 -- the password occurs inside the base64
     * of "admin:aW46", and uh_conn_load lists the password first. */
    static const char *const s[] = {"aW46", "YWRtaW46YVc0Ng==", NULL};
    uh_conn c;

    (void)state;
    c = conn_with(s);
    assert_redacts(&c, "Authorization: Basic YWRtaW46YVc0Ng==",
                   "Authorization: Basic ***");
    uh_conn_free(&c);
}

/* ---- uh_conn_load -------------------------------------------------------- */

static void test_load_without_path_gives_empty_connection(void **state)
{
    fixture *f = *state;

    assert_int_equal(uh_conn_load(&f->E->rt, NULL, &f->conn), UNHOOK_OK);
    assert_null(f->conn.base_url);
    assert_null(f->conn.auth);
    assert_int_equal(f->conn.secrets.n, 0);
    assert_int_equal(f->conn.nheaders, 0);
}

static void test_load_bearer(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"base_url\": \"https://api.test/v3\", "
                          "\"auth\": {\"type\": \"bearer\", \"token\": \"tok-1\"}}",
                          path, sizeof path), UNHOOK_OK);
    assert_string_equal(f->conn.base_url, "https://api.test/v3");
    assert_string_equal(uh_conn_auth_name(&f->conn), "bearer");
    assert_string_equal(f->conn.secret, "tok-1");
    assert_null(f->conn.username);
    assert_null(f->conn.auth_name);
    assert_int_equal(f->conn.secrets.n, 1);
    assert_string_equal(f->conn.secrets.v[0], "tok-1");
}

static void test_load_basic_registers_password_and_encoded_credentials(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"auth\": {\"type\": \"basic\", \"username\": "
                          "\"user\", \"password\": \"pass\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_string_equal(uh_conn_auth_name(&f->conn), "basic");
    assert_string_equal(f->conn.username, "user");
    assert_string_equal(f->conn.secret, "pass");
    assert_int_equal(f->conn.secrets.n, 2);
    assert_string_equal(f->conn.secrets.v[0], "pass");
    assert_string_equal(f->conn.secrets.v[1], "dXNlcjpwYXNz");   /* user:pass */
}

static void test_load_basic_base64_pads_short_credentials(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    /* "a:bc" is 4 bytes (2 padding chars), "ab:cd" 5 bytes (1 padding char) */
    assert_int_equal(load(f, "{\"auth\": {\"type\": \"basic\", \"username\": "
                          "\"a\", \"password\": \"bc\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_int_equal(f->conn.secrets.n, 2);
    assert_string_equal(f->conn.secrets.v[1], "YTpiYw==");
    uh_conn_free(&f->conn);
    assert_int_equal(load(f, "{\"auth\": {\"type\": \"basic\", \"username\": "
                          "\"ab\", \"password\": \"cd\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_string_equal(f->conn.secrets.v[1], "YWI6Y2Q=");
}

static void test_load_header_auth(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"auth\": {\"type\": \"header\", \"name\": "
                          "\"X-Api-Key\", \"value\": \"k-123\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_string_equal(uh_conn_auth_name(&f->conn), "header");
    assert_string_equal(f->conn.auth_name, "X-Api-Key");
    assert_string_equal(f->conn.secret, "k-123");
    assert_int_equal(f->conn.secrets.n, 1);
    assert_string_equal(f->conn.secrets.v[0], "k-123");
}

static void test_load_query_auth(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"auth\": {\"type\": \"query\", \"name\": "
                          "\"api_key\", \"value\": \"q v\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_string_equal(uh_conn_auth_name(&f->conn), "query");
    assert_string_equal(f->conn.auth_name, "api_key");
    assert_string_equal(f->conn.secret, "q v");
    assert_int_equal(f->conn.secrets.n, 1);
    assert_string_equal(f->conn.secrets.v[0], "q v");
}

static void test_load_none_auth_has_no_secret(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"base_url\": \"http://h.test\", \"auth\": "
                          "{\"type\": \"none\"}}", path, sizeof path), UNHOOK_OK);
    assert_null(f->conn.auth);
    assert_null(f->conn.secret);
    assert_int_equal(f->conn.secrets.n, 0);
}

static void test_load_headers_timeout_ca_file_and_insecure(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"headers\": {\"X-Tenant\": \"acme\", "
                          "\"Accept\": \"application/json\"}, \"timeout_ms\": 2500, "
                          "\"ca_file\": \"/etc/hosts\", \"insecure\": true}",
                          path, sizeof path), UNHOOK_OK);
    assert_int_equal(f->conn.nheaders, 2);
    assert_string_equal(f->conn.headers[0], "Accept: application/json");
    assert_string_equal(f->conn.headers[1], "X-Tenant: acme");
    assert_int_equal(f->conn.timeout_ms, 2500);
    assert_string_equal(f->conn.ca_file, "/etc/hosts");   /* must exist: checked at load */
    assert_int_equal(f->conn.insecure, 1);
    assert_null(f->conn.auth);
}

static void test_load_reads_variables_from_environment(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    setenv("UNHOOK_TEST_TOKEN_A", "from-env", 1);
    setenv("UNHOOK_TEST_HOST_A", "api.test", 1);
    assert_int_equal(load(f, "{\"base_url\": \"https://${UNHOOK_TEST_HOST_A}/v1\", "
                          "\"headers\": {\"X-Id\": \"id-${UNHOOK_TEST_TOKEN_A}\"}, "
                          "\"auth\": {\"type\": \"bearer\", \"token\": "
                          "\"${UNHOOK_TEST_TOKEN_A}\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_string_equal(f->conn.base_url, "https://api.test/v1");
    assert_string_equal(f->conn.headers[0], "X-Id: id-from-env");
    assert_string_equal(f->conn.secret, "from-env");
    assert_int_equal(f->conn.secrets.n, 1);
    assert_string_equal(f->conn.secrets.v[0], "from-env");
    unsetenv("UNHOOK_TEST_TOKEN_A");
    unsetenv("UNHOOK_TEST_HOST_A");
}

static void test_load_unset_variable_fails_naming_it(void **state)
{
    unsetenv("UNHOOK_TEST_UNSET_VAR");
    assert_load_fails(*state, "{\"auth\": {\"type\": \"bearer\", \"token\": "
                      "\"${UNHOOK_TEST_UNSET_VAR}\"}}", UNHOOK_USAGE,
                      ": auth.token: environment variable UNHOOK_TEST_UNSET_VAR "
                      "is not set");
}

static void test_load_malformed_json_names_file_and_line(void **state)
{
    assert_load_fails(*state,
                      "{\n"
                      "  \"base_url\": \"http://127.0.0.1:1\",\n"
                      "  \"auth\": {\"type\": \"bearer\", \"token\": \"test-token\",}\n"
                      "}\n",
                      UNHOOK_USAGE,
                      ":3: invalid JSON: Expected object key string but found "
                      "T_OBJ_END at character 90");
}

static void test_load_non_object_json_fails(void **state)
{
    assert_load_fails(*state, "\"just a string\"", UNHOOK_USAGE,
                      ":1: a connection must be a JSON object");
}

static void test_load_unknown_key_fails_listing_known_keys(void **state)
{
    assert_load_fails(*state, "{\"baseurl\": \"https://api.test\"}", UNHOOK_USAGE,
                      ": unknown key 'baseurl' (expected: auth, base_url, "
                      "ca_file, headers, insecure, timeout_ms)");
}

static void test_load_wrong_value_type_fails(void **state)
{
    assert_load_fails(*state, "{\"timeout_ms\": \"soon\"}", UNHOOK_USAGE,
                      ": timeout_ms: expected number, got string");
}

static void test_load_bad_auth_type_fails_listing_types(void **state)
{
    assert_load_fails(*state, "{\"auth\": {\"type\": \"oauth3\", \"token\": \"t\"}}",
                      UNHOOK_USAGE,
                      ": auth.type must be one of: basic, bearer, header, none, "
                      "oauth2, query (got oauth3)");
}

static void test_load_auth_field_of_other_type_fails(void **state)
{
    assert_load_fails(*state, "{\"auth\": {\"type\": \"bearer\", \"password\": \"p\"}}",
                      UNHOOK_USAGE, ": auth: unknown key 'password' for type bearer");
}

static void test_load_auth_missing_field_fails(void **state)
{
    assert_load_fails(*state, "{\"auth\": {\"type\": \"basic\", \"username\": \"u\"}}",
                      UNHOOK_USAGE, ": auth: type basic needs 'password'");
}

static void test_load_missing_file_is_io_error(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32], want[PATH_MAX + 128];

    snprintf(path, sizeof path, "%s/nowhere.json", f->dir);
    assert_int_equal(uh_conn_load(&f->E->rt, path, &f->conn), UNHOOK_IO);
    snprintf(want, sizeof want, "%s: cannot read connection file: No such file "
             "or directory", path);
    assert_string_equal(unhook_errmsg(f->E), want);
    assert_null(f->conn.base_url);
}

static void test_loaded_secrets_are_redacted(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];

    assert_int_equal(load(f, "{\"auth\": {\"type\": \"basic\", \"username\": "
                          "\"user\", \"password\": \"pass\"}}", path, sizeof path),
                     UNHOOK_OK);
    assert_redacts(&f->conn, "Authorization: Basic dXNlcjpwYXNz (pass)",
                   "Authorization: Basic *** (***)");
}

static void test_checked_connector_cannot_see_secrets_of_later_connections(void **state)
{
    /* Connector code run by unhook_connector_check must not be able to
     * watch the engine parse a connection file and hand the secret back. */
    fixture *f = *state;
    char dir[PATH_MAX + 16], path[PATH_MAX], want[PATH_MAX + 64];

    write_file(f, "steal/connector.lua",
               "local gsub = string.gsub\n"
               "string.gsub = function(s, ...)\n"
               "  string.seen = (string.seen or '') .. ' ' .. tostring(s)\n"
               "  return gsub(s, ...)\n"
               "end\n"
               "return { name = 'steal', events = { e = { deregistration = "
               "{ flow = 'flows/d.lua' } } } }\n");
    write_file(f, "steal/flows/d.lua", "return { run = function() end }\n");
    write_file(f, "reveal/connector.lua", "error('seen:' .. tostring(string.seen))\n");
    snprintf(dir, sizeof dir, "%s/steal", f->dir);
    assert_int_equal(unhook_connector_check(f->E, dir), UNHOOK_OK);
    assert_int_equal(load(f, "{\"auth\": {\"type\": \"bearer\", \"token\": "
                          "\"s3cr3t-token\"}}", path, sizeof path), UNHOOK_OK);
    snprintf(dir, sizeof dir, "%s/reveal", f->dir);
    assert_int_equal(unhook_connector_check(f->E, dir), UNHOOK_INVALID);
    snprintf(want, sizeof want, "%s/connector.lua:1: seen:nil", dir);
    assert_string_equal(unhook_errmsg(f->E), want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_replaces_every_occurrence),
        cmocka_unit_test(test_redact_replaces_every_secret),
        cmocka_unit_test(test_redact_leaves_text_without_secret_unchanged),
        cmocka_unit_test(test_redact_replaces_percent_encoded_form),
        cmocka_unit_test(test_redact_with_null_conn_leaves_text_unchanged),
        cmocka_unit_test(test_redact_of_null_text_is_empty_string),
        cmocka_unit_test(test_redact_ignores_empty_secret),
        cmocka_unit_test(test_add_secret_keeps_one_of_each),
        cmocka_unit_test(test_redact_with_no_secrets_leaves_text_unchanged),
        cmocka_unit_test(test_redact_buf_rewrites_buffer_in_place),
        cmocka_unit_test(test_redact_masks_longer_secret_that_contains_a_shorter_one),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_load_without_path_gives_empty_connection),
        T(test_load_bearer),
        T(test_load_basic_registers_password_and_encoded_credentials),
        T(test_load_basic_base64_pads_short_credentials),
        T(test_load_header_auth),
        T(test_load_query_auth),
        T(test_load_none_auth_has_no_secret),
        T(test_load_headers_timeout_ca_file_and_insecure),
        T(test_load_reads_variables_from_environment),
        T(test_load_unset_variable_fails_naming_it),
        T(test_load_malformed_json_names_file_and_line),
        T(test_load_non_object_json_fails),
        T(test_load_unknown_key_fails_listing_known_keys),
        T(test_load_wrong_value_type_fails),
        T(test_load_bad_auth_type_fails_listing_types),
        T(test_load_auth_field_of_other_type_fails),
        T(test_load_auth_missing_field_fails),
        T(test_load_missing_file_is_io_error),
        T(test_loaded_secrets_are_redacted),
        T(test_checked_connector_cannot_see_secrets_of_later_connections),
#undef T
    };

    return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
