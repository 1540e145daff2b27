/*
 * test_secretbox.c -- sealing tokens at rest (core/secretbox.c): boxes
 * that open only with their key and where they are kept, the operator's
 * key from the environment or a file; and oauth2 connection files as
 * `unhook connection check` reads them (no network: every case fails
 * before a token request).
 */
#include "support.h"
#include <fcntl.h>
#include <unistd.h>

#include "secretbox.h"
#include "unhook.h"

static const unsigned char key1[UH_KEY_BYTES] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[UH_KEY_BYTES] = "fedcba9876543210fedcba987654321";

static void test_sealed_box_opens_with_its_key_and_row(void **state)
{
    unsigned char *box;
    size_t n, m;
    char *pt;

    (void)state;
    assert_int_equal(uh_secretbox_seal(key1, "row-a", "rt_secret", 9, &box, &n), 0);
    assert_int_equal(n, 12 + 9 + 16);
    for (size_t i = 0; i + 9 <= n; i++)
        assert_memory_not_equal(box + i, "rt_secret", 9);
    assert_int_equal(uh_secretbox_open(key1, "row-a", box, n, &pt, &m), 0);
    assert_int_equal(m, 9);
    assert_string_equal(pt, "rt_secret");
    free(pt);
    free(box);
}

static void test_box_does_not_open_with_another_key_row_or_byte(void **state)
{
    unsigned char *box;
    size_t n, m;
    char *pt = NULL;

    (void)state;
    assert_int_equal(uh_secretbox_seal(key1, "row-a", "token", 5, &box, &n), 0);
    assert_int_equal(uh_secretbox_open(key2, "row-a", box, n, &pt, &m), -1);
    assert_int_equal(uh_secretbox_open(key1, "row-b", box, n, &pt, &m), -1);
    box[14] ^= 1;
    assert_int_equal(uh_secretbox_open(key1, "row-a", box, n, &pt, &m), -1);
    assert_int_equal(uh_secretbox_open(key1, "row-a", box, 20, &pt, &m), -1);
    assert_null(pt);
    free(box);
}

static void test_two_boxes_of_one_secret_differ(void **state)
{
    unsigned char *a, *b;
    size_t na, nb;

    (void)state;
    assert_int_equal(uh_secretbox_seal(key1, "r", "same", 4, &a, &na), 0);
    assert_int_equal(uh_secretbox_seal(key1, "r", "same", 4, &b, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_not_equal(a, b, na);      /* a fresh nonce each time */
    free(a);
    free(b);
}

static void test_key_from_hex_base64_file_or_none(void **state)
{
    unsigned char k[UH_KEY_BYTES];
    char err[300], path[] = "/tmp/unhook-key-XXXXXX";
    int fd;

    (void)state;
    unsetenv("UNHOOK_SECRET_KEY_FILE");
    unsetenv("UNHOOK_SECRET_KEY");
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), 1);
    setenv("UNHOOK_SECRET_KEY",
           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), 0);
    assert_int_equal(k[0], 0);
    assert_int_equal(k[31], 0x1f);
    setenv("UNHOOK_SECRET_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1);
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), 0);
    assert_int_equal(k[31], 0x1f);
    setenv("UNHOOK_SECRET_KEY", "too short", 1);
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), -1);
    assert_non_null(strstr(err, "64 hex digits"));
    unsetenv("UNHOOK_SECRET_KEY");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, key2, UH_KEY_BYTES), UH_KEY_BYTES);
    close(fd);
    setenv("UNHOOK_SECRET_KEY_FILE", path, 1);
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), 0);
    assert_memory_equal(k, key2, UH_KEY_BYTES);
    /* 32 characters of text are a password, not 32 random bytes */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "passwordpasswordpasswordpassword", 32), 32);
    close(fd);
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a 32-character password"));
    unlink(path);
    assert_int_equal(uh_secretbox_key(k, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    unsetenv("UNHOOK_SECRET_KEY_FILE");
}

/* connection check of a file holding text: the code and the message */
static void assert_check(const char *text, int want, const char *msg)
{
    char dir[] = "/tmp/unhook-oauth-XXXXXX", path[128], db[128];
    unhook_engine *E;
    unhook_config cfg = {0};
    char *who = (char *)"unset";

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/conn.json", dir);
    snprintf(db, sizeof db, "%s/unhook.db", dir);
    support_write_at(path, text);
    chmod(path, 0600);
    cfg.db = db;
    assert_int_equal(unhook_engine_open(&E, &cfg), UNHOOK_OK);
    assert_int_equal(unhook_connection_check(E, path, &who), want);
    assert_null(who);
    if (!strstr(unhook_errmsg(E), msg))
        fail_msg("message '%s' lacks '%s'", unhook_errmsg(E), msg);
    assert_null(strstr(unhook_errmsg(E), "s3cr3t"));
    unhook_engine_close(E);
    support_rm_tree(dir);
}

#define OAUTH(fields) "{\"base_url\": \"http://127.0.0.1:9\", \"auth\": {\"type\": " \
    "\"oauth2\", \"token_url\": \"http://127.0.0.1:9/token\", \"client_id\": \"c\", " \
    "\"client_secret\": \"s3cr3t\"" fields "}}"

static void test_oauth2_file_is_checked(void **state)
{
    (void)state;
    setenv("UNHOOK_SECRET_KEY",
           "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    assert_check(OAUTH(", \"grant\": \"refresh_token\""), UNHOOK_USAGE,
                 "auth: grant refresh_token needs 'refresh_token'");
    assert_check(OAUTH(", \"grant\": \"password\""), UNHOOK_USAGE,
                 "auth.grant: must be one of: refresh_token, client_credentials (got password)");
    assert_check(OAUTH(", \"client_auth\": \"jwt\", \"refresh_token\": \"r\""), UNHOOK_USAGE,
                 "auth.client_auth: must be one of: basic, post (got jwt)");
    assert_check(OAUTH(", \"expires_at\": \"soon\", \"refresh_token\": \"r\""), UNHOOK_USAGE,
                 "auth.expires_at: expected number, got string");
    assert_check("{\"auth\": {\"type\": \"oauth2\", \"token_url\": \"ftp://x/t\", "
                 "\"client_id\": \"c\", \"refresh_token\": \"r\"}}", UNHOOK_USAGE,
                 "auth.token_url: expected an http(s) URL");
    assert_check("{\"auth\": {\"type\": \"oauth2\", \"client_id\": \"c\"}}", UNHOOK_USAGE,
                 "auth: type oauth2 needs 'token_url'");
    unsetenv("UNHOOK_SECRET_KEY");
    assert_check(OAUTH(", \"refresh_token\": \"r\""), UNHOOK_USAGE,
                 "set UNHOOK_SECRET_KEY");
    /* nothing listens on port 9: a transport error, retryable in a flow */
    assert_check(OAUTH(", \"grant\": \"client_credentials\""), UNHOOK_ERROR,
                 "token endpoint http://127.0.0.1:9/token");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_box_opens_with_its_key_and_row),
        cmocka_unit_test(test_box_does_not_open_with_another_key_row_or_byte),
        cmocka_unit_test(test_two_boxes_of_one_secret_differ),
        cmocka_unit_test(test_key_from_hex_base64_file_or_none),
        cmocka_unit_test(test_oauth2_file_is_checked),
    };

    return cmocka_run_group_tests_name("secretbox", tests, NULL, NULL);
}
