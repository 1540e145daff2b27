/*
 * conn.c -- connections: freed, and the list of their secrets that
 * everything leaving the engine is masked with.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"

static void oauth_free(uh_oauth *o)
{
    if (!o)
        return;
    if (o->live_free)
        o->live_free(o);
    free(o->token_url);
    free(o->client_id);
    free(o->client_secret);
    free(o->scope);
    free(o->audience);
    free(o->refresh_token);
    free(o->access_token);
    free(o);
}

void uh_conn_free(uh_conn *c)
{
    if (!c)
        return;
    oauth_free(c->oauth);
    free(c->base_url);
    free(c->auth_name);
    free(c->username);
    free(c->secret);
    for (int i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->headers);
    free(c->ca_file);
    for (int i = 0; i < c->secrets.n; i++)
        free(c->secrets.v[i]);
    free(c->secrets.v);
    memset(c, 0, sizeof *c);
}

void uh_conn_add_secret(uh_conn *c, const char *s)
{
    char **p;

    if (!s || !*s)
        return;
    /* OAuth2 adds the current tokens each time it reads the stored row
     * (every 50 ms while another process refreshes): once is enough */
    for (int i = 0; i < c->secrets.n; i++)
        if (strcmp(c->secrets.v[i], s) == 0)
            return;
    p = realloc(c->secrets.v, (size_t)(c->secrets.n + 1) * sizeof *p);
    if (!p)
        return;
    c->secrets.v = p;
    p[c->secrets.n] = uh_strdup(s);
    if (p[c->secrets.n])
        c->secrets.n++;
}

const char *uh_conn_auth_name(const uh_conn *c)
{
    return c && c->auth ? c->auth->name : "none";
}

void uh_auth_req_free(uh_auth_req *a)
{
    free(a->header);
    memset(a, 0, sizeof *a);
}
