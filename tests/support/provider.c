/* provider.c -- the C tests' client of the fixture provider's control
 * routes (support.h), over libcurl's easy interface. */
#include "support.h"

#include <curl/curl.h>

#include "unhook.h"

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    return fwrite(p, size, n, (FILE *)ud);
}

long provider_control(const char *method, const char *path, const char *body,
                      char **out)
{
    const char *provider = getenv("UNHOOK_TEST_URL");
    char url[512], *text = NULL;
    size_t len = 0;
    long status = 0;
    CURL *c = curl_easy_init();
    FILE *mem = open_memstream(&text, &len);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");

    assert_non_null(provider);
    assert_non_null(c);
    assert_non_null(mem);
    snprintf(url, sizeof url, "%s%s", provider, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(mem);
    if (out)
        *out = text;
    else
        free(text);
    return status;
}

/* Seed count GitHub hooks under o/r: ids 12345678.. after a reset. */
void provider_seed(int count)
{
    char body[128], *got;

    snprintf(body, sizeof body, "{\"owner\":\"o\",\"repo\":\"r\",\"count\":%d}", count);
    assert_int_equal(provider_control("POST", "/_control/seed", body, &got), 200);
    assert_non_null(strstr(got, "12345678"));
    free(got);
}

/* Queue canned answers for METHOD (NULL: any) under path prefix. */
void provider_script(const char *method, const char *prefix, const char *responses)
{
    char body[2048], m[64] = "";

    if (method)
        snprintf(m, sizeof m, "\"method\":\"%s\",", method);
    snprintf(body, sizeof body, "{%s\"prefix\":\"%s\",\"responses\":%s}", m,
             prefix, responses);
    assert_int_equal(provider_control("POST", "/_control/script", body, NULL), 200);
}

/* The provider's delete_counts: counts[k] for id first + k (0..n-1);
 * returns how many ids the map holds in all. */
int provider_delete_counts(long first, int *counts, int n)
{
    char *stats, *p;
    int entries = 0;

    memset(counts, 0, (size_t)n * sizeof *counts);
    assert_int_equal(provider_control("GET", "/_control/stats", NULL, &stats), 200);
    p = strstr(stats, "\"delete_counts\"");
    assert_non_null(p);
    p = strchr(p, '{');
    assert_non_null(p);
    p++;
    for (;;) {
        char *end;
        long id, count;
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '}')
            break;
        assert_int_equal(*p, '"');
        id = strtol(p + 1, &end, 10);
        assert_int_equal(*end, '"');
        p = strchr(end, ':');
        assert_non_null(p);
        count = strtol(p + 1, &p, 10);
        if (id >= first && id < first + n)
            counts[id - first] = (int)count;
        entries++;
    }
    free(stats);
    return entries;
}


void provider_import(unhook_engine *E, const char *conn, const char *prefix,
                     int first, int n, const char *connector, const char *event)
{
    size_t cap = (size_t)n * 512 + 1, len = 0;
    char *text = malloc(cap);
    long count = -1;

    assert_non_null(text);
    for (int k = 0; k < n; k++)
        len += (size_t)snprintf(text + len, cap - len,
                                "{\"id\":\"%s%04d\",\"connector\":\"%s\",\"event\":\"%s\","
                                "\"options\":{\"owner\":\"o\",\"repo\":\"r\"},"
                                "\"connection\":\"%s\",\"registration\":{\"id\":%ld},"
                                "\"state\":\"registered\"}\n",
                                prefix, first + k, connector, event, conn,
                                PROVIDER_FIRST_ID + first + k);
    assert_int_equal(unhook_import(E, text, len, &count), UNHOOK_OK);
    assert_int_equal(count, n);
    free(text);
}
