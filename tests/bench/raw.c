/*
 * raw.c -- the baseline of `make bench`: N DELETE requests through
 * libcurl's multi interface, at most C in flight, nothing else.
 *
 *   raw URL_PREFIX N C
 *
 * issues DELETE URL_PREFIX/1 .. URL_PREFIX/N over one multi handle with C
 * easy handles that are reused (so connections are kept alive), checks
 * that every answer is 204, and prints the wall time:
 *
 *   raw: N requests, C in flight, W s, R req/s
 *
 * The requests carry the headers unhook's github connector sends
 * (Authorization, Accept, X-GitHub-Api-Version, User-Agent), so the two
 * programs put the same bytes on the wire.  Exit 1 if any request fails.
 *
 * Build: cc -O2 raw.c $(pkg-config --cflags --libs libcurl) -o raw
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct slot {
    CURL *easy;
    long index;           /* request number, 1..N */
    char url[512];
} slot;

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start(CURLM *multi, slot *s, const char *prefix, long index)
{
    s->index = index;
    snprintf(s->url, sizeof s->url, "%s/%ld", prefix, index);
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_multi_add_handle(multi, s->easy);
}

int main(int argc, char **argv)
{
    const char *prefix;
    long n, c, next = 1, finished = 0, bad = 0, i;
    struct curl_slist *hdrs = NULL;
    CURLM *multi;
    slot *slots;
    int running = 0;
    double t0, t1;

    if (argc != 4) {
        fprintf(stderr, "usage: raw URL_PREFIX N C\n");
        return 2;
    }
    prefix = argv[1];
    n = atol(argv[2]);
    c = atol(argv[3]);
    if (n < 1 || c < 1) {
        fprintf(stderr, "raw: N and C must be positive\n");
        return 2;
    }
    if (c > n)
        c = n;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    hdrs = curl_slist_append(hdrs, "Accept: application/vnd.github+json");
    hdrs = curl_slist_append(hdrs, "Authorization: Bearer bench-token");
    hdrs = curl_slist_append(hdrs, "X-GitHub-Api-Version: 2022-11-28");
    multi = curl_multi_init();
    /* keep one connection per slot alive between requests */
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, c);
    slots = calloc((size_t)c, sizeof *slots);
    if (!multi || !slots || !hdrs)
        return 1;
    for (i = 0; i < c; i++) {
        CURL *e = curl_easy_init();
        if (!e)
            return 1;
        slots[i].easy = e;
        curl_easy_setopt(e, CURLOPT_PRIVATE, &slots[i]);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "unhook/0.1.0");
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 15000L);
    }

    t0 = now();
    for (i = 0; i < c; i++)
        start(multi, &slots[i], prefix, next++);
    /* perform, restart what finished, then wait: a finished slot is
     * refilled at once (curl_multi_add_handle makes the next poll return
     * at once), not after the next answer arrives */
    while (finished < n) {
        CURLMsg *m;
        int left;
        CURLMcode mc = curl_multi_perform(multi, &running);

        if (mc != CURLM_OK) {
            fprintf(stderr, "raw: %s\n", curl_multi_strerror(mc));
            return 1;
        }
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            slot *s;
            long status = 0;

            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (m->data.result != CURLE_OK || status != 204) {
                if (bad++ < 5)
                    fprintf(stderr, "raw: DELETE %s: %s, status %ld\n", s->url,
                            curl_easy_strerror(m->data.result), status);
            }
            finished++;
            curl_multi_remove_handle(multi, s->easy);
            if (next <= n)
                start(multi, s, prefix, next++);
        }
        if (finished < n && (mc = curl_multi_poll(multi, NULL, 0, 1000, NULL)) != CURLM_OK) {
            fprintf(stderr, "raw: %s\n", curl_multi_strerror(mc));
            return 1;
        }
    }
    t1 = now();

    printf("raw: %ld requests, %ld in flight, %.3f s, %.0f req/s\n",
           n, c, t1 - t0, (double)n / (t1 - t0));
    for (i = 0; i < c; i++)
        curl_easy_cleanup(slots[i].easy);
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    free(slots);
    curl_global_cleanup();
    if (bad) {
        fprintf(stderr, "raw: %ld of %ld requests did not answer 204\n", bad, n);
        return 1;
    }
    return 0;
}
