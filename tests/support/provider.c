/* provider.c -- the C tests' client of the fixture provider's control
 * routes (support.h), over libcurl's easy interface. */
#include "support.h"

#include <curl/curl.h>

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
