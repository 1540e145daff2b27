/*
 * oauth.c -- OAuth2 access tokens of "oauth2" connections: cached until
 * they expire, refreshed by a transfer on the scheduler's multi handle
 * (one in flight per connection; runs that need the token wait for it),
 * refreshed once more when the origin answers 401.  Grant refresh_token
 * keeps its tokens in the store, sealed (secretbox.c), so that a rotated
 * refresh token survives the process; before refreshing, a process takes
 * a lease in the row by compare-and-set on its version, and the others
 * wait for the new tokens instead of spending a refresh token that is
 * about to be rotated (providers revoke the whole family on reuse).
 *
 * The refresh is a small state machine: IDLE, LEASE (another process is
 * refreshing: poll the row), FETCH (our token request is in flight).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "oauth.h"
#include "oauth_token.h"
#include "secretbox.h"

#define MARGIN_S 60.0           /* refresh this long before expiry ... */
#define MARGIN_PART 0.1         /* ... or this part of a short lifetime */
#define MAX_LIFETIME_S (366.0 * 86400)
#define POLL_S 0.05             /* another process's refresh: look again */

enum { PH_IDLE, PH_LEASE, PH_FETCH };

typedef struct uh_oauth_live {
    int phase;
    uh_diag *diag;
    char *file;                 /* the connection file, for messages */
    uh_sched *sched;            /* where our token request runs */
    uh_transfer *xfer;          /* in flight, or NULL */
    /* grant refresh_token: the store, the key and the row */
    uh_store *store;
    unsigned char key[UH_KEY_BYTES];
    char row[2 * 32 + 1];       /* SHA-256 of token URL, client, first token */
    long long version;          /* of the row as we last saw or wrote it */
    char *refresh;              /* the refresh token to use next */
    double poll_at;             /* PH_LEASE: monotonic */
    char *rejected;             /* the access token a 401 refused */
    int force;                  /* refresh even if the row has a token */
    int revoked;                /* the provider refused the grant or the
                                   client: no more token requests here */
    int dead;                   /* it refused the refresh token (kept in
                                   the row; a wrong client secret is not) */
    char *code, *msg;           /* how the last refresh ended (NULL: ok) */
    char *subject;              /* who the token is for, if said */
    long requests;              /* token requests made */
} uh_oauth_live;

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? uh_strdup(v) : NULL;
}

static void drive(uh_sched *s, uh_oauth *o);

static void live_free(uh_oauth *o)
{
    uh_oauth_live *lv = o->live;

    if (!lv)
        return;
    /* a token request still in flight (its runs ran out of time) may have
     * spent the refresh token: its answer, the rotated one, is awaited
     * (bounded by the request's timeout) and stored, not thrown away */
    if (lv->phase == PH_FETCH && lv->xfer && lv->sched)
        drive(lv->sched, o);
    uh_token_request_free(lv->sched, lv->xfer);
    memset(lv->key, 0, sizeof lv->key);
    free(lv->file);
    free(lv->refresh);
    free(lv->rejected);
    free(lv->code);
    free(lv->msg);
    free(lv->subject);
    free(lv);
    o->live = NULL;
}

/*
 * The row's key: a digest of the token URL, the client and the refresh
 * token the file gives (a new one from the operator starts a new row).
 * Not keyed by the operator's key: a wrong key must find the row and fail
 * to open it, not start over with a refresh token long rotated.
 */
static void row_key(uh_oauth *o, uh_oauth_live *lv)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    uh_buf b = {0};

    uh_buf_printf(&b, "unhook-oauth2\n%s\n%s\n%s", o->token_url, o->client_id,
                  o->refresh_token ? o->refresh_token : "");
    EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL);
    for (unsigned int i = 0; i < n && i < 32; i++)
        snprintf(lv->row + 2 * i, 3, "%02x", md[i]);
    uh_buf_free(&b);
}

int uh_oauth_open(uh_conn *c, uh_store *s, uh_diag *d, const char *file)
{
    uh_oauth *o = c->oauth;
    uh_oauth_live *lv;
    char err[300];
    int k;

    if (!o)
        return UNHOOK_OK;
    if (!o->token_url || !o->client_id) {
        uh_seterr(d, "%s: out of memory reading the oauth2 connection", file);
        return UNHOOK_NOMEM;
    }
    lv = calloc(1, sizeof *lv);
    if (!lv || !(lv->file = uh_strdup(file ? file : "connection"))) {
        free(lv);
        uh_seterr(d, "out of memory");
        return UNHOOK_NOMEM;
    }
    o->live = lv;
    o->live_free = live_free;
    lv->diag = d;
    if (o->client_credentials)
        return UNHOOK_OK;
    k = uh_secretbox_key(lv->key, err, sizeof err);
    if (k != 0) {
        if (k > 0)
            uh_seterr(d, "%s: an oauth2 connection with grant refresh_token "
                      "keeps its rotating tokens in the store, encrypted: set "
                      "UNHOOK_SECRET_KEY (64 hex digits, e.g. from `openssl "
                      "rand -hex 32`) or UNHOOK_SECRET_KEY_FILE", file);
        else
            uh_seterr(d, "%s: %s", file, err);
        return UNHOOK_USAGE;
    }
    if (!s || !s->ops->token_get || !s->ops->token_cas) {
        uh_seterr(d, "%s: an oauth2 connection with grant refresh_token needs "
                  "a store that keeps OAuth2 tokens (%s)", file,
                  s ? "this backend does not yet" : "none is open");
        return UNHOOK_STORE;
    }
    lv->store = s;
    lv->refresh = uh_strdup(o->refresh_token);
    row_key(o, lv);
    return UNHOOK_OK;
}

/* ---- the sealed row: "1\naccess\nexpires_at\nrefresh\nrevoked\n" ------- */

static int seal_row(uh_oauth *o, uh_oauth_live *lv, double lease,
                    uh_token_row *out)
{
    uh_buf b = {0};
    int rc;

    uh_buf_printf(&b, "1\n%s\n%.3f\n%s\n%d\n",
                  o->access_token ? o->access_token : "", o->expires_at,
                  lv->refresh ? lv->refresh : "", lv->dead);
    memset(out, 0, sizeof *out);
    out->key = lv->row;
    out->lease_until = lease;
    rc = b.oom ? -1 : uh_secretbox_seal(lv->key, lv->row, b.data, b.len,
                                        &out->sealed, &out->len);
    if (b.data)
        memset(b.data, 0, b.len);
    uh_buf_free(&b);
    return rc;
}

/* Write our tokens (lease: until then, 0: none) if the row is still at
 * the version we know.  1 written, 0 lost, -1 error (lv->msg). */
static int write_row(uh_oauth *o, uh_oauth_live *lv, double lease)
{
    uh_token_row row;
    int cas = UH_CAS_LOST, rc;

    if (seal_row(o, lv, lease, &row) != 0) {
        set_str(&lv->code, "store");
        set_str(&lv->msg, "cannot seal the OAuth2 tokens (libcrypto failed)");
        return -1;
    }
    rc = lv->store->ops->token_cas(lv->store, &row, lv->version, &cas);
    free(row.sealed);
    if (rc != UNHOOK_OK) {
        set_str(&lv->code, "store");
        set_str(&lv->msg, lv->store->errmsg);
        return -1;
    }
    if (cas != UH_CAS_OK)
        return 0;
    lv->version++;
    return 1;
}

/* Give the lease back (tokens unchanged), keeping lv->code and lv->msg:
 * how the refresh ended comes first. */
static void release_lease(uh_oauth *o, uh_oauth_live *lv)
{
    char *code = lv->code, *msg = lv->msg;

    lv->code = lv->msg = NULL;
    if (write_row(o, lv, 0) == 0)
        uh_log(lv->diag, NULL, UNHOOK_LOG_WARN, "%s: another process took over "
               "the OAuth2 token refresh while ours ran (lease expired?); the new "
               "tokens were not stored", lv->file);
    if (code || !lv->code) {
        free(lv->code);
        free(lv->msg);
        lv->code = code;
        lv->msg = msg;
    } else {
        free(code);
        free(msg);
    }
}

/* The tokens of a row opened into o and lv.  0, or -1 (not ours). */
static int adopt_row(uh_oauth *o, uh_oauth_live *lv, char *text)
{
    char *f[5], *p = text;
    int i;

    for (i = 0; i < 5; i++) {
        char *nl = strchr(p, '\n');
        if (!nl)
            return -1;
        *nl = '\0';
        f[i] = p;
        p = nl + 1;
    }
    if (strcmp(f[0], "1") != 0)
        return -1;
    set_str(&o->access_token, *f[1] ? f[1] : NULL);
    o->expires_at = strtod(f[2], NULL);
    set_str(&lv->refresh, *f[3] ? f[3] : NULL);
    lv->dead = lv->revoked = f[4][0] == '1';
    uh_conn_add_secret(o->conn, o->access_token);
    uh_conn_add_secret(o->conn, lv->refresh);
    return 0;
}

static int fresh(const uh_oauth *o)
{
    const uh_oauth_live *lv = o->live;

    return o->access_token && (o->expires_at <= 0 || uh_wall_now() < o->expires_at) &&
           !(lv->rejected && strcmp(lv->rejected, o->access_token) == 0);
}

/* ---- the token request ------------------------------------------------- */

/* Start the token request: phase FETCH.  0, or -1 (lv->code, lv->msg). */
static int fetch(uh_oauth *o, uh_oauth_live *lv)
{
    uh_transfer *t = uh_token_request(lv->sched, o, lv->refresh);

    if (!t) {
        set_str(&lv->code, "memory");
        set_str(&lv->msg, "out of memory starting a token request");
        return -1;
    }
    if (curl_multi_add_handle(lv->sched->multi, t->easy) != CURLM_OK) {
        uh_token_request_free(NULL, t);
        set_str(&lv->code, "auth_unavailable");
        set_str(&lv->msg, "cannot start the token request");
        return -1;
    }
    lv->requests++;
    lv->xfer = t;
    lv->phase = PH_FETCH;
    uh_log(lv->diag, &o->conn->secrets, UNHOOK_LOG_TRACE, "> POST %s (oauth2 %s)",
           t->url, o->client_credentials ? "client_credentials" : "refresh_token");
    return 0;
}

/*
 * Grant refresh_token: read the row; use its token if another process
 * refreshed it, wait if one is refreshing, else take the lease and fetch.
 * 1 a token is current, 0 wait, -1 failed (lv->code, lv->msg).
 */
static int sync_row(uh_oauth *o, uh_oauth_live *lv)
{
    uh_token_row row;
    char *text = NULL;
    size_t n;
    int rc = lv->store->ops->token_get(lv->store, lv->row, &row);

    if (rc != UNHOOK_OK && rc != UNHOOK_NOTFOUND) {
        set_str(&lv->code, "store");
        set_str(&lv->msg, lv->store->errmsg);
        return -1;
    }
    if (rc == UNHOOK_OK) {
        if (uh_secretbox_open(lv->key, lv->row, row.sealed, row.len, &text, &n) != 0 ||
            adopt_row(o, lv, text) != 0) {
            uh_buf m = {0};
            uh_buf_printf(&m, "%s: cannot decrypt the stored OAuth2 tokens of this "
                          "connection: is UNHOOK_SECRET_KEY the key they were "
                          "stored with? (nothing was changed)", lv->file);
            set_str(&lv->code, "store");
            set_str(&lv->msg, m.data);
            uh_buf_free(&m);
            if (text)
                memset(text, 0, n);
            free(text);
            uh_token_row_clear(&row);
            return -1;
        }
        memset(text, 0, n);
        free(text);
        lv->version = row.version;
    } else {
        lv->version = 0;
    }
    if (lv->revoked) {
        uh_token_row_clear(&row);
        set_str(&lv->code, "auth_revoked");
        set_str(&lv->msg, "the OAuth2 provider refused this connection's refresh "
                "token earlier: re-authorize, put the new refresh_token in the "
                "connection file, then retry");
        return -1;
    }
    if (fresh(o) && !lv->force) {
        uh_token_row_clear(&row);
        return 1;
    }
    if (rc == UNHOOK_OK && row.lease_until > uh_wall_now()) {
        uh_token_row_clear(&row);
        lv->phase = PH_LEASE;
        lv->poll_at = uh_now() + POLL_S;
        return 0;
    }
    uh_token_row_clear(&row);
    {
        long timeout = o->conn->timeout_ms > 0 ? o->conn->timeout_ms
                                               : UH_DEFAULT_HTTP_TIMEOUT_MS;
        int w = write_row(o, lv, uh_wall_now() + timeout / 1000.0 + 5);
        if (w < 0)
            return -1;
        if (w == 0) {           /* another process took it first */
            lv->phase = PH_LEASE;
            lv->poll_at = uh_now() + POLL_S;
            return 0;
        }
    }
    if (fetch(o, lv) == 0)
        return 0;
    release_lease(o, lv);
    return -1;
}

/* Begin getting a token: 1 current, 0 wait, -1 failed (lv->code). */
static int begin(uh_oauth *o, uh_sched *s)
{
    uh_oauth_live *lv = o->live;

    lv->sched = s;
    if (lv->revoked) {           /* refused once: no more token requests */
        set_str(&lv->code, "auth_revoked");
        if (!lv->msg)
            set_str(&lv->msg, "the OAuth2 provider refused this connection's "
                    "credentials: re-authorize, then retry");
        return -1;
    }
    set_str(&lv->code, NULL);
    set_str(&lv->msg, NULL);
    if (!lv->store)
        return fetch(o, lv);
    return sync_row(o, lv);
}

/* The refresh ended (lv->code NULL: a token is current): resume every
 * run that waited for it. */
static void wake(uh_oauth *o)
{
    uh_oauth_live *lv = o->live;

    lv->phase = PH_IDLE;
    if (!lv->sched)
        return;
    for (uh_run *r = lv->sched->runs; r; r = r->next)
        if (r->token_wait == 1 && r->conn == o->conn) {
            r->token_wait = 2;
            r->token_fresh = lv->code == NULL;
            set_str(&r->token_code, lv->code);
            set_str(&r->token_msg, lv->msg);
            r->state = UH_RUN_READY;
            r->ready_since = uh_now();
        }
}

/* nil and an error object { code, message }, as http.c pushes them */
static void push_wait_error(lua_State *L, uh_oauth_live *lv)
{
    lua_pushnil(L);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, lv->code ? lv->code : "auth_unavailable");
    lua_setfield(L, -2, "code");
    lua_pushstring(L, lv->msg ? lv->msg : "no OAuth2 token");
    lua_setfield(L, -2, "message");
}

int uh_oauth_ready(lua_State *L, uh_run *r)
{
    uh_oauth *o = r->conn->oauth;
    uh_oauth_live *lv = o->live;
    int k;

    if (!lv)
        return 1;               /* not opened: requests go without a token */
    if (r->token_fresh && o->access_token) {
        r->token_fresh = 0;     /* just refreshed for us: use it, however short */
        return 1;
    }
    r->token_fresh = 0;
    if (lv->phase == PH_IDLE && !lv->revoked && fresh(o))
        return 1;
    if (lv->phase == PH_IDLE) {
        k = begin(o, r->sched);
        if (k != 0) {
            lv->phase = PH_IDLE;
            if (k < 0) {
                push_wait_error(L, lv);
                return -1;
            }
            return 1;
        }
    }
    r->token_wait = 1;
    return 0;
}

int uh_oauth_rejected(uh_run *r, const char *auth_line)
{
    uh_oauth *o = r->conn->oauth;
    uh_oauth_live *lv = o->live;
    const char *used = strstr(auth_line, "Bearer ");

    if (r->auth_retried || !lv)
        return 0;
    r->auth_retried = 1;
    used = used ? used + 7 : "";
    if (o->access_token && strcmp(o->access_token, used) == 0)
        set_str(&lv->rejected, used);
    uh_log(lv->diag, &o->conn->secrets, UNHOOK_LOG_DEBUG, "%s: the origin "
           "refused the access token (401): refreshing it once", lv->file);
    return 1;
}

/* ---- the token endpoint's answer --------------------------------------- */

/* What the request brought, into o and lv: lv->code NULL and the tokens
 * current, or the error in lv->code and lv->msg. */
static void take_answer(uh_oauth *o, uh_oauth_live *lv, uh_token_answer *a)
{
    double life = a->life;

    if (a->code) {
        if (strcmp(a->code, "auth_revoked") == 0) {
            lv->revoked = 1;
            lv->dead = a->grant_dead;
        }
        set_str(&lv->code, a->code);
        set_str(&lv->msg, a->msg);
        return;
    }
    uh_conn_add_secret(o->conn, a->access);
    uh_conn_add_secret(o->conn, a->refresh);
    free(o->access_token);
    o->access_token = a->access;
    a->access = NULL;
    if (life >= 0) {
        if (life > MAX_LIFETIME_S)
            life = MAX_LIFETIME_S;
        o->expires_at = uh_wall_now() + life -
                        (life * MARGIN_PART < MARGIN_S ? life * MARGIN_PART : MARGIN_S);
    } else {
        o->expires_at = 0;      /* good until the origin refuses it */
    }
    if (a->refresh) {
        free(lv->refresh);
        lv->refresh = a->refresh;
        a->refresh = NULL;
    }
    if (a->subject && !lv->subject) {
        lv->subject = a->subject;
        a->subject = NULL;
    }
    set_str(&lv->rejected, NULL);
    set_str(&lv->code, NULL);
    set_str(&lv->msg, NULL);
}

void uh_oauth_done(uh_sched *s, uh_transfer *t, CURLcode rc)
{
    uh_oauth *o = t->oauth;
    uh_oauth_live *lv = o->live;
    uh_token_answer a;
    long status = 0;

    lv->xfer = NULL;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    uh_log(lv->diag, &o->conn->secrets, UNHOOK_LOG_TRACE, "< %ld from the token "
           "endpoint (%.1f ms)", status, (uh_now() - t->t0) * 1000.0);
    uh_token_read(o, lv->file, t, rc, &a);
    take_answer(o, lv, &a);
    uh_token_answer_clear(&a);
    uh_token_request_free(s, t);
    /* the new refresh token is stored before anyone could use the old
     * one again: the lease is ours until this write */
    if (lv->store)
        release_lease(o, lv);
    wake(o);
}

void uh_oauth_tick(uh_oauth *o)
{
    uh_oauth_live *lv = o->live;
    int k;

    if (!lv || lv->phase != PH_LEASE || uh_now() < lv->poll_at)
        return;
    lv->phase = PH_IDLE;
    k = sync_row(o, lv);
    if (k != 0)
        wake(o);
}

/* Drive the multi handle until our token request ends: a check runs no
 * flows, so every transfer that finishes is a token request. */
static void drive(uh_sched *s, uh_oauth *o)
{
    uh_oauth_live *lv = o->live;
    CURLMsg *m;
    int running;

    while (lv->phase != PH_IDLE) {
        uh_oauth_tick(o);
        s->move(s, 0);
        while ((m = curl_multi_info_read(s->multi, &running))) {
            uh_transfer *t = NULL;
            CURLcode rc = m->data.result;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (t && t->oauth)
                uh_oauth_done(s, t, rc);
        }
        if (lv->phase != PH_IDLE)
            s->move(s, 50);
    }
}

int uh_oauth_check(uh_sched *s, uh_conn *c, uh_diag *d, char **subject)
{
    uh_oauth *o = c->oauth;
    uh_oauth_live *lv = o ? o->live : NULL;

    *subject = NULL;
    if (!lv)
        return UNHOOK_OK;
    /* a check proves the credentials: refresh even if a token is cached */
    lv->force = 1;
    if (begin(o, s) == 0)
        drive(s, o);
    lv->force = 0;
    lv->phase = PH_IDLE;
    if (lv->code) {
        uh_seterr(d, "%s", lv->msg ? lv->msg : lv->code);
        return strcmp(lv->code, "store") == 0 ? UNHOOK_STORE : UNHOOK_ERROR;
    }
    if (lv->subject)
        *subject = uh_strdup(lv->subject);
    return UNHOOK_OK;
}
