/*
 * serve_page.c -- the status page (/) and an instance's page
 * (/instances/ID): server-rendered HTML, no JavaScript, one inline
 * stylesheet, readable on a phone.  Counts by state, the queue, the
 * outcomes of the last hour as an inline SVG chart, the dead letters
 * with their last error and a retry form (it posts the token typed in).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unhook.h"
#include "serve.h"
#include "output.h"

#define MAX_DEAD 50

static const char style[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:60rem;"
    "padding:0 .8rem 2rem;color:#222}"
    "h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}"
    ".cards{display:flex;flex-wrap:wrap;gap:.5rem}"
    ".card{border:1px solid #ccc;border-radius:6px;padding:.4rem .7rem;min-width:6.5rem}"
    ".card b{display:block;font-size:1.4rem}.failed b{color:#b00020}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
    "padding:.3rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}"
    "svg{width:100%;height:auto;max-width:40rem}"
    "form{display:flex;gap:.3rem;flex-wrap:wrap}input{max-width:9rem}"
    ".muted{color:#666;font-size:.85rem}"
    "@media(max-width:36rem){.hide-sm{display:none}#dead thead{display:none}"
    "#dead tr,#dead td{display:block;border:0}#dead tr{border-bottom:1px solid #ddd;"
    "padding:.4rem 0}}";

static void page_head(text *t, const char *title)
{
    text_puts(t, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                 "<title>");
    text_html(t, title);
    text_printf(t, "</title><style>%s</style></head><body>\n", style);
}

static void cards(text *t, const census *c)
{
    double now = (double)time(NULL);

    text_puts(t, "<section class=\"cards\" id=\"counts\">\n");
    for (int k = 0; k < NSTATES; k++)
        text_printf(t, "<div class=\"card %s\" id=\"count-%s\"><b>%ld</b>%s</div>\n",
                    state_names[k], state_names[k], c->by_state[k], state_names[k]);
    text_printf(t, "<div class=\"card\" id=\"due\"><b>%ld</b>due now</div>\n", c->due);
    text_printf(t, "<div class=\"card\" id=\"lag\"><b>%.1f s</b>queue lag</div>\n",
                c->oldest_due > 0 && now > c->oldest_due ? now - c->oldest_due : 0.0);
    text_printf(t, "<div class=\"card\" id=\"scheduled\"><b>%ld</b>retries scheduled</div>\n",
                c->scheduled);
    text_puts(t, "</section>\n");
}

/* 60 stacked bars, one a minute: done, gone (green), retry (amber),
 * failed (red). */
static void chart(text *t, metrics *m)
{
    static const char *const colour[4] = {"#2e7d32", "#81c784", "#f9a825", "#c62828"};
    static const char *const name[4] = {"done", "gone", "retry", "failed"};
    long hour[60][4], top = 1, sum[4] = {0, 0, 0, 0};

    metrics_hour(m, hour);
    for (int k = 0; k < 60; k++) {
        long n = hour[k][0] + hour[k][1] + hour[k][2] + hour[k][3];
        if (n > top)
            top = n;
        for (int o = 0; o < 4; o++)
            sum[o] += hour[k][o];
    }
    text_puts(t, "<h2>Outcomes, last hour</h2>\n<svg id=\"chart\" viewBox=\"0 0 600 130\" "
                 "role=\"img\" aria-label=\"outcomes per minute over the last hour\">\n"
                 "<line x1=\"0\" y1=\"100\" x2=\"600\" y2=\"100\" stroke=\"#999\"/>\n");
    for (int k = 0; k < 60; k++) {
        double y = 100;
        for (int o = 0; o < 4; o++) {
            double h = 100.0 * (double)hour[k][o] / (double)top;
            if (hour[k][o] == 0)
                continue;
            y -= h;
            text_printf(t, "<rect x=\"%d\" y=\"%.1f\" width=\"8\" height=\"%.1f\" "
                        "fill=\"%s\"><title>%ld %s</title></rect>\n", k * 10 + 1, y, h,
                        colour[o], hour[k][o], name[o]);
        }
    }
    text_printf(t, "<text x=\"0\" y=\"118\" font-size=\"11\">-60 min</text>"
                   "<text x=\"560\" y=\"118\" font-size=\"11\">now</text>"
                   "<text x=\"0\" y=\"12\" font-size=\"11\">%ld/min</text>\n</svg>\n", top);
    text_puts(t, "<p class=\"muted\" id=\"legend\">");
    for (int o = 0; o < 4; o++)
        text_printf(t, "<span style=\"color:%s\">&#9632;</span> %s %ld &nbsp;", colour[o],
                    name[o], sum[o]);
    text_puts(t, "(attempts run by this process)</p>\n");
}

typedef struct dead {
    text rows;
    int n;
    int need_token;
} dead;

static int dead_one(void *ud, const unhook_instance *i)
{
    dead *d = ud;
    text *t = &d->rows;

    if (d->n++ >= MAX_DEAD)
        return 0;
    /* the id in a link: percent-encoded, so that '/', '?', '#' or '%' in
     * it name this instance and no other page */
    const char *const parts[] = {
        "\">", i->id, "</a><div class=\"muted\">", i->connector, " / ", i->event,
        "</div></td><td class=\"error\">", i->last_error,
        "</td><td><form method=\"post\" action=\"/instances/",
    };

    text_puts(t, "<tr class=\"dead\"><td><a href=\"/instances/");
    text_url(t, i->id);
    TEXT_HTML_MIX(t, parts);
    text_url(t, i->id);
    text_puts(t, "/retry\">");
    if (d->need_token)
        text_puts(t, "<input type=\"password\" name=\"token\" placeholder=\"API token\" "
                     "required aria-label=\"API token\">");
    else
        text_puts(t, "<input type=\"hidden\" name=\"token\" value=\"\">");
    text_puts(t, "<button type=\"submit\">Retry</button></form></td></tr>\n");
    return 0;
}

int page_status(service *sv, text *t)
{
    unhook_filter failed = {.state = "failed"};
    dead d = {{0}, 0, sv->token != NULL};
    census c;
    int rc = census_take(sv->api, &c);

    page_head(t, "unhook");
    text_printf(t, "<h1>unhook serve</h1>\n<p class=\"muted\">%ld instances &middot; "
                "unhook %s &middot; <a href=\"/metrics\">metrics</a></p>\n",
                c.total, unhook_version());
    if (rc != UNHOOK_OK) {
        text_puts(t, "<p id=\"store-error\">The store cannot be read: ");
        text_html(t, unhook_errmsg(sv->api));
        text_puts(t, "</p>\n");
    }
    cards(t, &c);
    chart(t, sv->m);
    unhook_instance_list(sv->api, &failed, dead_one, &d);
    text_printf(t, "<h2>Dead letters (%d)</h2>\n", d.n);
    if (d.n == 0) {
        text_puts(t, "<p id=\"no-dead\">None.</p>\n");
    } else {
        text_puts(t, "<table id=\"dead\"><thead><tr><th>instance</th><th>last error</th>"
                     "<th></th></tr></thead><tbody>\n");
        text_puts(t, text_str(&d.rows));
        text_puts(t, "</tbody></table>\n");
        if (d.n > MAX_DEAD)
            text_printf(t, "<p class=\"muted\">first %d shown; GET /v1/instances?state=failed "
                        "lists all</p>\n", MAX_DEAD);
    }
    text_free(&d.rows);
    text_puts(t, "</body></html>\n");
    return rc;
}

static int history_row(void *ud, const unhook_history *h)
{
    text *t = ud;
    char iso[40];

    text_printf(t, "<tr><td>%s</td><td>", iso_time(h->at, iso, sizeof iso));
    text_html(t, h->action);
    text_puts(t, "</td><td>");
    text_html(t, h->outcome ? h->outcome : "-");
    text_printf(t, "</td><td class=\"hide-sm\">%d</td><td>", h->status);
    text_html(t, h->message ? h->message : "");
    text_puts(t, "</td></tr>\n");
    return 0;
}

int page_instance(service *sv, const char *id, text *t)
{
    unhook_instance *i;
    char iso[40];
    int rc = unhook_instance_get(sv->api, id, &i);

    page_head(t, id);
    text_puts(t, "<p><a href=\"/\">&larr; status</a></p>\n<h1>");
    text_html(t, id);
    text_puts(t, "</h1>\n");
    if (rc != UNHOOK_OK) {
        text_puts(t, "<p>");
        text_html(t, unhook_errmsg(sv->api));
        text_puts(t, "</p></body></html>\n");
        return rc;
    }
    const char *const parts[] = {
        "<table id=\"instance\"><tbody><tr><th>state</th><td>", i->state,
        "</td></tr><tr><th>desired</th><td>", i->desired,
        "</td></tr><tr><th>connector / event</th><td>", i->connector, " / ", i->event,
    };
    TEXT_HTML_MIX(t, parts);
    text_printf(t, "</td></tr><tr><th>attempts</th><td>%d</td></tr>"
                "<tr><th>next attempt</th><td>%s</td></tr><tr><th>last error</th><td>",
                i->attempts, iso_time(i->next_attempt_at, iso, sizeof iso));
    text_html(t, i->last_error ? i->last_error : "-");
    text_puts(t, "</td></tr></tbody></table>\n<h2>History</h2>\n<table id=\"history\">"
                 "<thead><tr><th>at</th><th>action</th><th>outcome</th>"
                 "<th class=\"hide-sm\">HTTP</th><th>message</th></tr></thead><tbody>\n");
    unhook_instance_free(i);
    unhook_history_list(sv->api, id, history_row, t);
    text_puts(t, "</tbody></table></body></html>\n");
    return UNHOOK_OK;
}
