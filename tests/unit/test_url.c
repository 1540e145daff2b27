/*
 * test_url.c -- the pure URL helpers of core/url.c: uh_url_escape,
 * uh_url_expand (URL templates), uh_url_resolve (reference against a
 * base URL) and uh_url_host.  No engine, no network.
 */
#include "support.h"

#include "url.h"

/* ---- helpers ---------------------------------------------------------- */

static char *escape(const char *s, size_t n)
{
    uh_buf b = {0};

    uh_url_escape(&b, s, n);
    return uh_buf_take(&b);
}

/* A lookup over NULL-terminated name/value pairs; records the names asked. */
struct vars {
    const char *const *kv;
    char asked[256];
};

static const char *lookup(void *ud, const char *name, size_t n, size_t *vlen)
{
    struct vars *v = ud;
    size_t used = strlen(v->asked);

    snprintf(v->asked + used, sizeof v->asked - used, "%s%.*s",
             used ? "," : "", (int)n, name);
    for (const char *const *p = v->kv; p[0]; p += 2)
        if (strlen(p[0]) == n && memcmp(p[0], name, n) == 0) {
            *vlen = strlen(p[1]);
            return p[1];
        }
    return NULL;
}

/* Expand tmpl; returns the rc and stores output and error text. */
static int expand(const char *tmpl, const char *const *kv, char **out,
                  char **err, char *asked, size_t askedsz)
{
    struct vars v = {kv, ""};
    uh_buf o = {0}, e = {0};
    int rc = uh_url_expand(&o, tmpl, lookup, &v, &e);

    *out = uh_buf_take(&o);
    *err = uh_buf_take(&e);
    if (asked)
        snprintf(asked, askedsz, "%s", v.asked);
    return rc;
}

static void assert_expands(const char *tmpl, const char *const *kv,
                           const char *want)
{
    char *out, *err;

    assert_int_equal(expand(tmpl, kv, &out, &err, NULL, 0), 0);
    assert_string_equal(out, want);
    assert_string_equal(err, "");
    free(out);
    free(err);
}

static void assert_expand_fails(const char *tmpl, const char *const *kv,
                                const char *want_err)
{
    char *out, *err;

    assert_int_equal(expand(tmpl, kv, &out, &err, NULL, 0), -1);
    assert_string_equal(err, want_err);
    free(out);
    free(err);
}

static void assert_resolves(const char *base, const char *ref, const char *want)
{
    uh_buf b = {0};
    char *got;

    uh_url_resolve(&b, base, ref);
    got = uh_buf_take(&b);
    if (strcmp(got, want) != 0)
        print_error("resolve(\"%s\", \"%s\")\n", base ? base : "(null)", ref);
    assert_string_equal(got, want);
    free(got);
}

static void assert_host(const char *url, const char *want)
{
    char host[256];

    memset(host, 'X', sizeof host);
    if (uh_url_host(url, host, sizeof host) != 0)
        print_error("uh_url_host(\"%s\") failed\n", url);
    assert_int_equal(uh_url_host(url, host, sizeof host), 0);
    assert_string_equal(host, want);
}

static void assert_no_host(const char *url)
{
    char host[256] = "untouched";

    assert_int_equal(uh_url_host(url, host, sizeof host), -1);
}

/* ---- uh_url_escape ------------------------------------------------------ */

static void test_escape_keeps_unreserved_characters(void **state)
{
    const char *s = "ABCXYZabcxyz0189-._~";
    char *got = escape(s, strlen(s));

    (void)state;
    assert_string_equal(got, s);
    free(got);
}

static void test_escape_encodes_space_and_slash(void **state)
{
    char *got = escape("a b/c", 5);

    (void)state;
    assert_string_equal(got, "a%20b%2Fc");
    free(got);
}

static void test_escape_encodes_reserved_characters(void **state)
{
    const char *s = "?&=#+:@!$'()*,;[]";
    char *got = escape(s, strlen(s));

    (void)state;
    assert_string_equal(got, "%3F%26%3D%23%2B%3A%40%21%24%27%28%29%2A%2C%3B%5B%5D");
    free(got);
}

static void test_escape_encodes_percent_sign(void **state)
{
    char *got = escape("100%", 4);

    (void)state;
    assert_string_equal(got, "100%25");
    free(got);
}

static void test_escape_encodes_utf8_bytes_with_uppercase_hex(void **state)
{
    /* U+00E9 and U+20AC as UTF-8, then a lone high byte */
    const char *s = "\xc3\xa9\xe2\x82\xac\xff";
    char *got = escape(s, strlen(s));

    (void)state;
    assert_string_equal(got, "%C3%A9%E2%82%AC%FF");
    free(got);
}

static void test_escape_encodes_control_and_nul_bytes_within_length(void **state)
{
    char *got = escape("a\0b\n\x7f", 5);

    (void)state;
    assert_string_equal(got, "a%00b%0A%7F");
    free(got);
}

static void test_escape_appends_to_buffer(void **state)
{
    uh_buf b = {0};
    char *got;

    (void)state;
    uh_buf_puts(&b, "q=");
    uh_url_escape(&b, "a b", 3);
    got = uh_buf_take(&b);
    assert_string_equal(got, "q=a%20b");
    free(got);
}

static void test_escape_of_nothing_adds_nothing(void **state)
{
    uh_buf b = {0};

    (void)state;
    uh_url_escape(&b, "ignored", 0);
    assert_int_equal(b.len, 0);
    uh_buf_free(&b);
}

/* ---- uh_url_expand ------------------------------------------------------ */

static const char *const no_vars[] = {NULL};

static void test_expand_without_placeholders_copies_template(void **state)
{
    (void)state;
    assert_expands("/repos/o/r/hooks", no_vars, "/repos/o/r/hooks");
    assert_expands("", no_vars, "");
}

static void test_expand_fills_placeholder(void **state)
{
    static const char *const kv[] = {"id", "42", NULL};

    (void)state;
    assert_expands("/hooks/{id}", kv, "/hooks/42");
    assert_expands("{id}", kv, "42");
}

static void test_expand_escapes_slash_in_value(void **state)
{
    static const char *const kv[] = {"id", "../admin/x", NULL};

    (void)state;
    assert_expands("/hooks/{id}", kv, "/hooks/..%2Fadmin%2Fx");
}

static void test_expand_escapes_space_query_and_unicode_in_value(void **state)
{
    static const char *const kv[] = {"name", "a b?c=d&e#\xc3\xa9", NULL};

    (void)state;
    assert_expands("/x/{name}/y", kv, "/x/a%20b%3Fc%3Dd%26e%23%C3%A9/y");
}

static void test_expand_does_not_expand_braces_inside_values(void **state)
{
    static const char *const kv[] = {"a", "{b}", "b", "never", NULL};

    (void)state;
    assert_expands("/{a}", kv, "/%7Bb%7D");
}

static void test_expand_fills_several_placeholders(void **state)
{
    static const char *const kv[] = {"owner", "octo cat", "repo", "hello",
                                     "hook_id", "12345678", NULL};
    char *out, *err, asked[256];

    (void)state;
    assert_int_equal(expand("/repos/{owner}/{repo}/hooks/{hook_id}", kv, &out,
                            &err, asked, sizeof asked), 0);
    assert_string_equal(out, "/repos/octo%20cat/hello/hooks/12345678");
    /* each name is looked up once, in order, with its exact length */
    assert_string_equal(asked, "owner,repo,hook_id");
    free(out);
    free(err);
}

static void test_expand_fills_repeated_and_adjacent_placeholders(void **state)
{
    static const char *const kv[] = {"a", "1", "b", "2", NULL};

    (void)state;
    assert_expands("{a}{b}/{a}", kv, "12/1");
}

static void test_expand_empty_value_gives_empty_segment(void **state)
{
    static const char *const kv[] = {"id", "", NULL};

    (void)state;
    assert_expands("/hooks/{id}/x", kv, "/hooks//x");
}

static void test_expand_missing_name_fails_naming_it(void **state)
{
    static const char *const kv[] = {"owner", "o", NULL};

    (void)state;
    assert_expand_fails("/repos/{owner}/{repo}", kv,
                        "URL template \"/repos/{owner}/{repo}\": no value for "
                        "{repo} in path");
}

static void test_expand_without_lookup_function_fails(void **state)
{
    uh_buf o = {0}, e = {0};
    char *err;

    (void)state;
    assert_int_equal(uh_url_expand(&o, "/x/{id}", NULL, NULL, &e), -1);
    err = uh_buf_take(&e);
    assert_string_equal(err, "URL template \"/x/{id}\": no value for {id} in path");
    free(err);
    uh_buf_free(&o);
}

static void test_expand_unclosed_brace_fails(void **state)
{
    static const char *const kv[] = {"id", "1", NULL};

    (void)state;
    assert_expand_fails("/hooks/{id", kv,
                        "unclosed '{' in URL template \"/hooks/{id\"");
    assert_expand_fails("/hooks/{id}/{", kv,
                        "unclosed '{' in URL template \"/hooks/{id}/{\"");
}

static void test_expand_empty_braces_fail(void **state)
{
    static const char *const kv[] = {"", "never", NULL};

    (void)state;
    assert_expand_fails("/hooks/{}", kv, "empty '{}' in URL template \"/hooks/{}\"");
}

/* ---- uh_url_resolve ----------------------------------------------------- */

static void test_resolve_keeps_absolute_reference(void **state)
{
    (void)state;
    assert_resolves("https://api.test/v1", "http://other.test/x?a=1",
                    "http://other.test/x?a=1");
    assert_resolves("https://api.test/v1", "https://other.test",
                    "https://other.test");
}

static void test_resolve_keeps_reference_with_any_scheme(void **state)
{
    (void)state;
    /* never glued to the base, whatever the scheme or its case */
    assert_resolves("https://api.test/v1", "ftp://other.test/x", "ftp://other.test/x");
    assert_resolves("https://api.test/v1", "HTTPS://other.test/x", "HTTPS://other.test/x");
    assert_resolves("https://api.test/v1", "git+ssh://other.test", "git+ssh://other.test");
    /* a colon without "//", or after a slash, is part of a relative path */
    assert_resolves("https://api.test/v1", "items:batch", "https://api.test/v1/items:batch");
    assert_resolves("https://api.test/v1", "/a/b://c", "https://api.test/v1/a/b://c");
}

static void test_resolve_without_base_keeps_reference(void **state)
{
    (void)state;
    assert_resolves(NULL, "/x", "/x");
    assert_resolves("", "x", "x");
}

static void test_resolve_host_only_base_has_one_slash(void **state)
{
    (void)state;
    assert_resolves("https://h.test", "/x", "https://h.test/x");
    assert_resolves("https://h.test", "x", "https://h.test/x");
    assert_resolves("https://h.test/", "/x", "https://h.test/x");
    assert_resolves("https://h.test/", "x", "https://h.test/x");
}

static void test_resolve_keeps_base_path_as_prefix(void **state)
{
    (void)state;
    assert_resolves("https://h.test/api/v3", "/x", "https://h.test/api/v3/x");
    assert_resolves("https://h.test/api/v3", "x", "https://h.test/api/v3/x");
    assert_resolves("https://h.test/api/v3/", "/x", "https://h.test/api/v3/x");
    assert_resolves("https://h.test/api/v3/", "x", "https://h.test/api/v3/x");
}

static void test_resolve_keeps_port_and_reference_query(void **state)
{
    (void)state;
    assert_resolves("http://127.0.0.1:8080", "/repos/o/r/hooks?per_page=100",
                    "http://127.0.0.1:8080/repos/o/r/hooks?per_page=100");
    assert_resolves("http://127.0.0.1:8080/api/", "hooks/1",
                    "http://127.0.0.1:8080/api/hooks/1");
}

static void test_resolve_collapses_repeated_trailing_slashes_of_base(void **state)
{
    (void)state;
    /* "/x" already strips every trailing slash of the base ... */
    assert_resolves("https://h.test/api//", "/x", "https://h.test/api/x");
    /* ... and "x" must give the same URL: exactly one slash between */
    assert_resolves("https://h.test/api//", "x", "https://h.test/api/x");
}

/* ---- uh_url_host -------------------------------------------------------- */

static void test_host_of_plain_urls(void **state)
{
    (void)state;
    assert_host("http://example.test/x/y", "example.test");
    assert_host("https://example.test", "example.test");
    assert_host("https://example.test?x=1", "example.test");
    assert_host("https://example.test#frag", "example.test");
}

static void test_host_drops_port(void **state)
{
    (void)state;
    assert_host("http://127.0.0.1:8080/x", "127.0.0.1");
    assert_host("https://api.test:443", "api.test");
}

static void test_host_skips_userinfo(void **state)
{
    (void)state;
    assert_host("https://user:p%40ss@api.test:8443/x", "api.test");
    assert_host("https://trusted.test@evil.test/x", "evil.test");
}

static void test_host_ignores_at_sign_after_authority(void **state)
{
    (void)state;
    assert_host("https://api.test/x?who=a@evil.test", "api.test");
    assert_host("https://api.test#@evil.test", "api.test");
}

static void test_host_keeps_ipv6_brackets_and_drops_port(void **state)
{
    (void)state;
    assert_host("http://[::1]:8080/x", "[::1]");
    assert_host("https://[2001:db8::1]/", "[2001:db8::1]");
    assert_host("https://u@[::1]", "[::1]");
}

static void test_host_rejects_unclosed_ipv6_bracket(void **state)
{
    (void)state;
    assert_no_host("http://[::1/x");
}

static void test_host_rejects_non_http_urls(void **state)
{
    (void)state;
    assert_no_host("ftp://example.test/x");
    assert_no_host("file:///etc/passwd");
    assert_no_host("example.test/x");
    assert_no_host("/x");
    assert_no_host("");
}

static void test_host_rejects_empty_host(void **state)
{
    (void)state;
    assert_no_host("http:///x");
    assert_no_host("http://:8080/x");
    assert_no_host("https://user@/x");
}

static void test_host_rejects_host_longer_than_buffer(void **state)
{
    char small[12];

    (void)state;
    /* "example.test" is 12 bytes: it needs 13 with the NUL */
    assert_int_equal(uh_url_host("https://example.test/", small, sizeof small), -1);
    assert_int_equal(uh_url_host("https://example.tes/", small, sizeof small), 0);
    assert_string_equal(small, "example.tes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_keeps_unreserved_characters),
        cmocka_unit_test(test_escape_encodes_space_and_slash),
        cmocka_unit_test(test_escape_encodes_reserved_characters),
        cmocka_unit_test(test_escape_encodes_percent_sign),
        cmocka_unit_test(test_escape_encodes_utf8_bytes_with_uppercase_hex),
        cmocka_unit_test(test_escape_encodes_control_and_nul_bytes_within_length),
        cmocka_unit_test(test_escape_appends_to_buffer),
        cmocka_unit_test(test_escape_of_nothing_adds_nothing),
        cmocka_unit_test(test_expand_without_placeholders_copies_template),
        cmocka_unit_test(test_expand_fills_placeholder),
        cmocka_unit_test(test_expand_escapes_slash_in_value),
        cmocka_unit_test(test_expand_escapes_space_query_and_unicode_in_value),
        cmocka_unit_test(test_expand_does_not_expand_braces_inside_values),
        cmocka_unit_test(test_expand_fills_several_placeholders),
        cmocka_unit_test(test_expand_fills_repeated_and_adjacent_placeholders),
        cmocka_unit_test(test_expand_empty_value_gives_empty_segment),
        cmocka_unit_test(test_expand_missing_name_fails_naming_it),
        cmocka_unit_test(test_expand_without_lookup_function_fails),
        cmocka_unit_test(test_expand_unclosed_brace_fails),
        cmocka_unit_test(test_expand_empty_braces_fail),
        cmocka_unit_test(test_resolve_keeps_absolute_reference),
        cmocka_unit_test(test_resolve_keeps_reference_with_any_scheme),
        cmocka_unit_test(test_resolve_without_base_keeps_reference),
        cmocka_unit_test(test_resolve_host_only_base_has_one_slash),
        cmocka_unit_test(test_resolve_keeps_base_path_as_prefix),
        cmocka_unit_test(test_resolve_keeps_port_and_reference_query),
        cmocka_unit_test(test_resolve_collapses_repeated_trailing_slashes_of_base),
        cmocka_unit_test(test_host_of_plain_urls),
        cmocka_unit_test(test_host_drops_port),
        cmocka_unit_test(test_host_skips_userinfo),
        cmocka_unit_test(test_host_ignores_at_sign_after_authority),
        cmocka_unit_test(test_host_keeps_ipv6_brackets_and_drops_port),
        cmocka_unit_test(test_host_rejects_unclosed_ipv6_bracket),
        cmocka_unit_test(test_host_rejects_non_http_urls),
        cmocka_unit_test(test_host_rejects_empty_host),
        cmocka_unit_test(test_host_rejects_host_longer_than_buffer),
    };

    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
