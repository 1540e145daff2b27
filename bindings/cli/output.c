/*
 * output.c -- tables, JSON arrays, times and the progress bar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unhook.h"
#include "mem.h"
#include "output.h"

void strlist_push(strlist *l, char *owned)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = owned;
}

void strlist_free(strlist *l, void (*release)(void *))
{
    size_t i;

    for (i = 0; i < l->n; i++)
        release(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

void json_array_print(const strlist *elems)
{
    size_t i;

    if (!elems->n) {
        puts("[]");
        return;
    }
    for (i = 0; i < elems->n; i++)
        printf("%s%s", i ? ",\n" : "[\n", elems->v[i]);
    puts("\n]");
}

/* ---- tables ------------------------------------------------------------- */

/* Characters, not bytes: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static char *cell_text(const char *s, size_t max)
{
    size_t n, i, w = 0;
    char *out;

    if (!s || !*s)
        s = "-";
    n = strlen(s);
    if (max > 3 && text_width(s) > max) {
        /* keep max - 3 characters: stop at the lead byte of the next one */
        for (n = 0; s[n]; n++)
            if (((unsigned char)s[n] & 0xC0) != 0x80 && w++ == max - 3)
                break;
    }
    out = xrealloc(NULL, n + 4);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    strcpy(out + n, s[n] ? "..." : "");
    return out;
}

void grid_add(grid *t, const char *s, size_t max)
{
    strlist_push(&t->cells, cell_text(s, max));
}

void grid_print(const grid *t)
{
    char **cells = t->cells.v;
    size_t w[16] = {0}, i;
    int col;

    for (i = 0; i < t->cells.n; i++) {
        size_t tw = text_width(cells[i]);
        col = (int)(i % (size_t)t->ncol);
        if (tw > w[col])
            w[col] = tw;
    }
    for (i = 0; i < t->cells.n; i++) {
        col = (int)(i % (size_t)t->ncol);
        fputs(cells[i], stdout);
        if (col == t->ncol - 1)
            putchar('\n');
        else
            printf("%*s", (int)(w[col] - text_width(cells[i]) + 2), "");
    }
}

/* ---- times -------------------------------------------------------------- */

static double clock_secs(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double wall_now(void)
{
    return clock_secs(CLOCK_REALTIME);
}

long secs_until(double at)
{
    double d = at - clock_secs(CLOCK_REALTIME);

    return d > 0 ? (long)(d + 0.5) : 0;
}

const char *iso_time(double t, char *buf, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;

    if (t <= 0 || !gmtime_r(&s, &tm))
        return "-";
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

const char *next_text(double at, char *buf, size_t n)
{
    long d = secs_until(at);

    if (at <= 0)
        return "-";
    if (d <= 0)
        return "due";
    if (d < 60)
        snprintf(buf, n, "in %lds", d);
    else if (d < 3600)
        snprintf(buf, n, "in %ldm", (d + 30) / 60);
    else if (d < 86400)
        snprintf(buf, n, "in %ldh", (d + 1800) / 3600);
    else
        snprintf(buf, n, "in %ldd", (d + 43200) / 86400);
    return buf;
}

/* ---- progress ----------------------------------------------------------- */

void progress_start(progress *p, const char *label)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->tty = isatty(2);
    p->start = p->last = clock_secs(CLOCK_MONOTONIC);
}

/* The bar redrawn in place: known total or not. */
static void draw_bar(progress *p, const unhook_stats *s, long n, double rate, int known)
{
    if (known) {
        char bar[21];
        int fill = (int)(20 * n / s->total);
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '-', (size_t)(20 - fill));
        bar[20] = '\0';
        fprintf(stderr, "\r[%s] %ld/%ld  %.0f/s", bar, n, s->total, rate);
        if (rate > 0)
            fprintf(stderr, "  ETA %.0fs", (double)(s->total - n) / rate);
    } else {
        fprintf(stderr, "\r%ld done  %.0f/s", n, rate);
    }
    fputs("\033[K", stderr);
    fflush(stderr);
    p->drawn = 1;
}

/*
 * A bar redrawn in place on a terminal; otherwise (a log file) a plain
 * line at most once a second.  resume learns its total only at the end.
 */
void on_progress(void *ud, const unhook_stats *s)
{
    progress *p = ud;
    long n = s->done + s->gone + s->pending + s->failed + s->skipped + s->registered;
    double now = clock_secs(CLOCK_MONOTONIC), secs = now - p->start;
    double rate = secs > 0 ? (double)n / secs : 0;
    int known = s->total > 0 && s->total >= n;

    if (p->tty) {
        draw_bar(p, s, n, rate, known);
    } else if (now - p->last >= 1.0) {
        if (known)
            fprintf(stderr, "%s: %ld/%ld done (%.0f/s)\n", p->label, n, s->total, rate);
        else
            fprintf(stderr, "%s: %ld done (%.0f/s)\n", p->label, n, rate);
        p->last = now;
    }
}

void progress_end(progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);
}
