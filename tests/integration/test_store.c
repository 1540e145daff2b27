/*
 * test_store.c -- the store interface (core/store.h) itself, below the
 * lifecycle: rows, every state read back, compare-and-set under a claim,
 * claims and leases, set-based transitions, history inside a transaction,
 * remove, and the optional ops (renew, history rows for a set-based
 * transition, OAuth2 token rows).
 *
 * The same tests against either backend: a SQLite file in a scratch
 * folder, or with UNHOOK_TEST_PG (tests/pg/run.sh) a PostgreSQL database
 * of its own for each test.  An op a backend does not offer (NULL) is
 * skipped there, but PostgreSQL must offer every one.
 */
#include "support.h"
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

typedef struct fixture {
    char dir[256], loc[PATH_MAX];
    int pg;
    uh_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[512];

    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->pg = support_pg_db(f->loc, sizeof f->loc);
    if (!f->pg)
        snprintf(f->loc, sizeof f->loc, "%s/unhook.db", f->dir);
    if (uh_store_open(f->loc, &f->s, err, sizeof err) != UNHOOK_OK) {
        fprintf(stderr, "open %s: %s\n", f->loc, err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    f->s->ops->close(f->s);
    support_rm_tree(f->dir);
    free(f);
    return 0;
}

static void put(uh_store *s, const char *id, const char *connector,
                uh_state st, uh_desired want, double next)
{
    uh_inst i = {0};

    i.id = (char *)id;
    i.connector = (char *)connector;
    i.event = (char *)"push";
    i.options = (char *)"{}";
    i.registration = (char *)"{\"id\":1}";
    i.state = st;
    i.desired = want;
    i.next_attempt_at = next;
    i.created_at = i.updated_at = 1000;
    assert_int_equal(s->ops->put(s, &i), UNHOOK_OK);
}

static uh_state state_of(uh_store *s, const char *id)
{
    uh_inst i;
    uh_state st;

    assert_int_equal(s->ops->get(s, id, &i), UNHOOK_OK);
    st = i.state;
    uh_inst_clear(&i);
    return st;
}

static void test_every_state_reads_back(void **state)
{
    fixture *f = *state;

    for (int k = 0; k < UH_NSTATES; k++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", k);
        put(f->s, id, "github", (uh_state)k, UH_WANT_ON, 0);
        assert_string_equal(uh_state_name(state_of(f->s, id)),
                            uh_state_name((uh_state)k));
    }
}

static void test_get_unknown_is_notfound(void **state)
{
    fixture *f = *state;
    uh_inst i;

    assert_int_equal(f->s->ops->get(f->s, "nope", &i), UNHOOK_NOTFOUND);
}

static int count_history(void *ud, const unhook_history *h)
{
    (void)h;
    ++*(int *)ud;
    return 0;
}

static void add_history(uh_store *s, const char *id, const char *action, int attempt)
{
    unhook_history h = {0};

    h.instance_id = id;
    h.at = 1000 + attempt;
    h.action = action;
    h.outcome = "done";
    h.status = 204;
    h.attempt = attempt;
    assert_int_equal(s->ops->history_add(s, &h), UNHOOK_OK);
}

static void test_remove_keeps_history(void **state)
{
    fixture *f = *state;
    uh_inst i;
    int n = 0;

    put(f->s, "a", "github", UH_OFF, UH_WANT_OFF, 0);
    add_history(f->s, "a", "deregister", 1);
    assert_int_equal(f->s->ops->remove(f->s, "a"), UNHOOK_OK);
    assert_int_equal(f->s->ops->get(f->s, "a", &i), UNHOOK_NOTFOUND);
    assert_int_equal(f->s->ops->remove(f->s, "a"), UNHOOK_NOTFOUND);
    assert_int_equal(f->s->ops->history_list(f->s, "a", count_history, &n), UNHOOK_OK);
    assert_int_equal(n, 1);
}

static int claim(uh_store *s, const char *owner, double now, double until, int max)
{
    uh_inst out[8];
    int n = 0;

    assert_int_equal(s->ops->claim(s, NULL, now, owner, until, max, out, &n), UNHOOK_OK);
    for (int k = 0; k < n; k++)
        uh_inst_clear(&out[k]);
    return n;
}

static void test_claim_skips_live_claims_takes_lapsed(void **state)
{
    fixture *f = *state;

    put(f->s, "d1", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    put(f->s, "d2", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    put(f->s, "later", "github", UH_DEREGISTERING, UH_WANT_OFF, 5000);
    put(f->s, "on", "github", UH_REGISTERED, UH_WANT_ON, 0);
    assert_int_equal(claim(f->s, "A:1:1", 100, 200, 1), 1);
    assert_int_equal(claim(f->s, "B:2:2", 100, 200, 8), 1);   /* the other one */
    assert_int_equal(claim(f->s, "C:3:3", 150, 250, 8), 0);   /* both held */
    assert_int_equal(claim(f->s, "C:3:3", 300, 400, 8), 2);   /* both lapsed */
}

static void test_finish_is_compare_and_set(void **state)
{
    fixture *f = *state;
    uh_inst i;
    int cas = -1;

    put(f->s, "d", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    assert_int_equal(claim(f->s, "A:1:1", 100, 200, 8), 1);
    assert_int_equal(f->s->ops->get(f->s, "d", &i), UNHOOK_OK);
    i.state = UH_OFF;
    assert_int_equal(f->s->ops->finish(f->s, &i, "B:2:2", 110, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_LOST);
    i.desired = UH_WANT_ON;     /* not what is stored: desired changed */
    assert_int_equal(f->s->ops->finish(f->s, &i, "A:1:1", 110, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_CHANGED);
    i.desired = UH_WANT_OFF;
    assert_int_equal(f->s->ops->finish(f->s, &i, "A:1:1", 110, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_OK);
    uh_inst_clear(&i);
    assert_int_equal(f->s->ops->get(f->s, "d", &i), UNHOOK_OK);
    assert_int_equal(i.state, UH_OFF);
    assert_null(i.claim_owner);
    uh_inst_clear(&i);
}

/* Outcomes written inside a transaction, as the work loop does, with the
 * rows a claim read: the claims are released for whatever reads next in
 * that transaction, and kept when it is rolled back. */
static void test_finish_in_transaction_releases_claims(void **state)
{
    fixture *f = *state;
    uh_inst out[8], got;
    int n = 0, cas = -1;

    put(f->s, "d1", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    put(f->s, "d2", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    assert_int_equal(f->s->ops->claim(f->s, NULL, 100, "A:1:1", 200, 8, out, &n), UNHOOK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    out[0].state = UH_OFF;
    assert_int_equal(f->s->ops->finish(f->s, &out[0], "A:1:1", 110, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_OK);
    assert_int_equal(f->s->ops->get(f->s, out[0].id, &got), UNHOOK_OK);
    assert_null(got.claim_owner);
    uh_inst_clear(&got);
    f->s->ops->rollback(f->s);
    assert_int_equal(f->s->ops->get(f->s, out[0].id, &got), UNHOOK_OK);
    assert_int_equal(got.state, UH_DEREGISTERING);
    assert_string_equal(got.claim_owner, "A:1:1");
    uh_inst_clear(&got);
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    for (int k = 0; k < 2; k++) {
        out[k].state = UH_OFF;
        assert_int_equal(f->s->ops->finish(f->s, &out[k], "A:1:1", 110, &cas), UNHOOK_OK);
        assert_int_equal(cas, UH_CAS_OK);
    }
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(f->s->ops->get(f->s, out[k].id, &got), UNHOOK_OK);
        assert_int_equal(got.state, UH_OFF);
        assert_null(got.claim_owner);
        uh_inst_clear(&got);
        uh_inst_clear(&out[k]);
    }
    put(f->s, "d3", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    assert_int_equal(claim(f->s, "B:2:2", 120, 220, 8), 1);     /* d3 alone */
}

static void test_finish_many_is_compare_and_set(void **state)
{
    fixture *f = *state;
    const char *ids[3] = {"ok", "changed", "lost"};
    uh_inst i[3];
    const uh_inst *in[3] = {&i[0], &i[1], &i[2]};
    int cas[3] = {-1, -1, -1};

    if (!f->s->ops->finish_many) {
        assert_false(f->pg);    /* PostgreSQL batches its outcomes */
        skip();
    }
    for (int k = 0; k < 3; k++)
        put(f->s, ids[k], "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    assert_int_equal(claim(f->s, "A:1:1", 100, 200, 2), 2);
    assert_int_equal(claim(f->s, "B:2:2", 100, 200, 8), 1);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(f->s->ops->get(f->s, ids[k], &i[k]), UNHOOK_OK);
        i[k].state = UH_OFF;
        i[k].attempts = 3;
        free(i[k].registration);
        i[k].registration = NULL;
    }
    /* B holds one of the three: swap so that in[2] is B's */
    for (int k = 0; k < 2; k++)
        if (i[k].claim_owner && strcmp(i[k].claim_owner, "B:2:2") == 0) {
            uh_inst t = i[k];
            i[k] = i[2];
            i[2] = t;
        }
    free(i[0].last_error);
    i[0].last_error = strdup("a \"quoted\" \\ {brace}, comma");
    i[1].desired = UH_WANT_ON;
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    assert_int_equal(f->s->ops->finish_many(f->s, in, 3, "A:1:1", 150, cas), UNHOOK_OK);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    assert_int_equal(cas[0], UH_CAS_OK);
    assert_int_equal(cas[1], UH_CAS_CHANGED);
    assert_int_equal(cas[2], UH_CAS_LOST);
    for (int k = 0; k < 3; k++) {
        uh_inst got;
        assert_int_equal(f->s->ops->get(f->s, i[k].id, &got), UNHOOK_OK);
        assert_int_equal(got.state, k == 0 ? UH_OFF : UH_DEREGISTERING);
        if (k == 0) {
            assert_null(got.registration);
            assert_null(got.claim_owner);
            assert_int_equal(got.attempts, 3);
            assert_string_equal(got.last_error, "a \"quoted\" \\ {brace}, comma");
        }
        uh_inst_clear(&got);
        uh_inst_clear(&i[k]);
    }
}

/* Who holds id's claim: 1 for owner, 0 for none, -1 for another. */
static int held_by(uh_store *s, const char *id, const char *owner)
{
    uh_inst i;
    int r;

    assert_int_equal(s->ops->get(s, id, &i), UNHOOK_OK);
    r = !i.claim_owner ? 0 : strcmp(i.claim_owner, owner) == 0 ? 1 : -1;
    uh_inst_clear(&i);
    return r;
}

/* n rows PREFIX0.. to deregister, all of them claimed by A:1:1 (at 100,
 * until 200) into out (room: 8); returns n. */
static int claim_new(uh_store *s, const char *prefix, int n, uh_inst *out)
{
    int got = 0;

    for (int k = 0; k < n; k++) {
        char id[16];
        snprintf(id, sizeof id, "%s%d", prefix, k);
        put(s, id, "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    }
    assert_int_equal(s->ops->claim(s, NULL, 100, "A:1:1", 200, 8, out, &got), UNHOOK_OK);
    assert_int_equal(got, n);
    return got;
}

/* The rows as a claim hands them out (uh_inst.row set), as the work loop
 * passes them: a batch of the common case, one with desired changed, and
 * one whose claim another owner took after A's lease ended. */
static void test_finish_many_of_claimed_rows(void **state)
{
    fixture *f = *state;
    uh_inst out[8];
    const uh_inst *in[8];
    int n = 0, cas[8];

    if (!f->s->ops->finish_many)
        skip();
    n = claim_new(f->s, "c", 5, out);
    for (int k = 0; k < n; k++) {
        out[k].state = UH_OFF;
        out[k].attempts = 1;
        in[k] = &out[k];
    }
    /* the common case, and desired changed: c0 and c1 written, c2 not */
    out[2].desired = UH_WANT_ON;
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    assert_int_equal(f->s->ops->finish_many(f->s, in, 3, "A:1:1", 150, cas), UNHOOK_OK);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    assert_int_equal(cas[0], UH_CAS_OK);
    assert_int_equal(cas[1], UH_CAS_OK);
    assert_int_equal(cas[2], UH_CAS_CHANGED);
    assert_int_equal(state_of(f->s, out[0].id), UH_OFF);
    assert_int_equal(held_by(f->s, out[0].id, "A:1:1"), 0);
    assert_int_equal(state_of(f->s, out[2].id), UH_DEREGISTERING);
    assert_int_equal(held_by(f->s, out[2].id, "A:1:1"), 1);
    /* A's leases end and B takes one of c2, c3, c4; A's batch of them */
    assert_int_equal(claim(f->s, "B:2:2", 300, 400, 1), 1);
    out[2].desired = UH_WANT_OFF;
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    assert_int_equal(f->s->ops->finish_many(f->s, in + 2, 3, "A:1:1", 310, cas), UNHOOK_OK);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    for (int k = 2, lost = 0; k < 5; k++) {
        int b = held_by(f->s, out[k].id, "B:2:2");
        lost += b == 1;
        assert_int_equal(cas[k - 2], b == 1 ? UH_CAS_LOST : UH_CAS_OK);
        assert_int_equal(state_of(f->s, out[k].id), b == 1 ? UH_DEREGISTERING : UH_OFF);
        assert_true(b == 1 || held_by(f->s, out[k].id, "A:1:1") == 0);
        assert_true(k < 4 || lost == 1);
    }
    for (int k = 0; k < n; k++)
        uh_inst_clear(&out[k]);
}

/* Outcomes that take the same values are written together (SQLite: one
 * UPDATE for the group); the others alone, each with its own values.  A
 * row of the group whose desired state changed meanwhile is not written
 * (compare-and-set), and the rest of the group is. */
static void test_finish_many_groups_by_values(void **state)
{
    fixture *f = *state;
    uh_inst out[8];
    const uh_inst *in[8];
    int n = 0, cas[8];

    if (!f->s->ops->finish_many)
        skip();
    n = claim_new(f->s, "g", 7, out);
    for (int k = 0; k < n; k++) {
        in[k] = &out[k];
        out[k].attempts = 1;
        if (k == 2 || k == 5) {         /* to retry, each at its own time */
            out[k].next_attempt_at = 500 + k;
            out[k].last_error = strdup(k == 2 ? "e2" : "e5");
        } else {                        /* done: off, registration let go */
            out[k].state = UH_OFF;
            free(out[k].registration);
            out[k].registration = NULL;
        }
    }
    {   /* the user turns g3 on again while its deregistration runs */
        uh_inst cur;
        assert_int_equal(f->s->ops->get(f->s, out[3].id, &cur), UNHOOK_OK);
        cur.desired = UH_WANT_ON;
        assert_int_equal(f->s->ops->intent(f->s, &cur), UNHOOK_OK);
        uh_inst_clear(&cur);
    }
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    assert_int_equal(f->s->ops->finish_many(f->s, in, n, "A:1:1", 150, cas), UNHOOK_OK);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    for (int k = 0; k < n; k++) {
        uh_inst got;
        assert_int_equal(cas[k], k == 3 ? UH_CAS_CHANGED : UH_CAS_OK);
        assert_int_equal(held_by(f->s, out[k].id, "A:1:1"), k == 3);
        assert_int_equal(f->s->ops->get(f->s, out[k].id, &got), UNHOOK_OK);
        assert_int_equal(got.attempts, k == 3 ? 0 : 1);
        if (k == 2 || k == 5) {
            assert_int_equal(got.state, UH_DEREGISTERING);
            assert_true(got.next_attempt_at == 500 + k);
            assert_string_equal(got.last_error, k == 2 ? "e2" : "e5");
            assert_non_null(got.registration);
        } else {
            assert_int_equal(got.state, k == 3 ? UH_DEREGISTERING : UH_OFF);
            assert_true(k == 3 ? got.registration != NULL : got.registration == NULL);
            assert_null(got.last_error);
            assert_true(k == 3 || got.updated_at == 150);
        }
        uh_inst_clear(&got);
    }
    for (int k = 0; k < n; k++)
        uh_inst_clear(&out[k]);
}

static void test_bulk_with_filter(void **state)
{
    fixture *f = *state;
    uh_bulk b = {0};
    unhook_filter flt = {0};
    long count = -1;

    put(f->s, "g1", "github", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "g2", "github", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "s1", "slack", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "g3", "github", UH_OFF, UH_WANT_OFF, 0);
    b.from = 1u << UH_REGISTERED;
    b.desired = -1;
    b.registered = 1;
    b.to_desired = UH_WANT_OFF;
    b.to = UH_DEREGISTERING;
    b.reason = "disabled";
    b.reset = 1;
    flt.connector = "github";
    assert_int_equal(f->s->ops->bulk(f->s, &b, &flt, 500, &count), UNHOOK_OK);
    assert_int_equal(count, 2);
    assert_int_equal(state_of(f->s, "g1"), UH_DEREGISTERING);
    assert_int_equal(state_of(f->s, "s1"), UH_REGISTERED);
    assert_int_equal(state_of(f->s, "g3"), UH_OFF);
    assert_int_equal(claim(f->s, "A:1:1", 600, 700, 8), 2);
}

static void test_history_in_transaction(void **state)
{
    fixture *f = *state;
    int n = 0;

    put(f->s, "h", "github", UH_OFF, UH_WANT_OFF, 0);
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    for (int k = 1; k <= 3; k++)
        add_history(f->s, "h", "deregister", k);
    /* read inside the transaction: the lines held so far are seen */
    assert_int_equal(f->s->ops->history_list(f->s, "h", count_history, &n), UNHOOK_OK);
    assert_int_equal(n, 3);
    add_history(f->s, "h", "deregister", 4);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    n = 0;
    assert_int_equal(f->s->ops->history_list(f->s, "h", count_history, &n), UNHOOK_OK);
    assert_int_equal(n, 4);
    /* a rolled-back transaction leaves no line */
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    add_history(f->s, "h", "deregister", 5);
    f->s->ops->rollback(f->s);
    n = 0;
    assert_int_equal(f->s->ops->history_list(f->s, "h", count_history, &n), UNHOOK_OK);
    assert_int_equal(n, 4);
}

/* The actions of an instance's history, in order, as "a,b,c". */
static int join_actions(void *ud, const unhook_history *h)
{
    char *out = ud;

    if (*out)
        strcat(out, ",");
    strcat(out, h->action);
    if (strcmp(h->action, "disable") == 0) {
        assert_null(h->outcome);
        assert_string_equal(h->message, "why");
        assert_true(h->at == 500);
    }
    return 0;
}

static void test_history_bulk_keeps_order(void **state)
{
    fixture *f = *state;
    uh_bulk b = {0};
    unhook_filter flt = {0};
    unhook_history h = {0};
    const char *ids[] = {"g1", "g2", "s1", "g3"};
    const char *want[] = {"enable,disable,deregister", "disable", "", ""};
    long rows = 0;

    if (!f->s->ops->history_bulk) {
        assert_false(f->pg);
        skip();
    }
    put(f->s, "g1", "github", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "g2", "github", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "s1", "slack", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "g3", "github", UH_OFF, UH_WANT_OFF, 0);
    b.desired = UH_WANT_ON;
    b.registered = 1;
    b.expiring = -1;
    flt.connector = "github";
    h.at = 500;
    h.action = "disable";
    h.message = "why";
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    add_history(f->s, "g1", "enable", 1);       /* held before, written before */
    assert_int_equal(f->s->ops->history_bulk(f->s, &b, 1, &flt, &h, &rows), UNHOOK_OK);
    assert_true(rows == (f->pg ? -1 : 2));
    add_history(f->s, "g1", "deregister", 2);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    for (int k = 0; k < 4; k++) {
        char got[128] = "";
        assert_int_equal(f->s->ops->history_list(f->s, ids[k], join_actions, got),
                         UNHOOK_OK);
        assert_string_equal(got, want[k]);
    }
}

/* An instance's lines as "action:outcome:message;..." */
static int join_lines(void *ud, const unhook_history *h)
{
    char *out = ud;

    snprintf(out + strlen(out), 256 - strlen(out), "%s:%s:%s;", h->action,
             h->outcome ? h->outcome : "-", h->message ? h->message : "-");
    assert_true(h->at == 700);
    return 0;
}

/* Two transitions told apart by registration data (disable --all's):
 * each instance gets its own transition's line, and only one. */
static void test_history_bulk_two_lines(void **state)
{
    fixture *f = *state;
    uh_bulk b[2] = {{0}, {0}};
    unhook_filter flt = {0};
    unhook_history h[2] = {{0}, {0}};
    const char *ids[] = {"w1", "n1", "w2", "s1", "off"};
    const char *want[] = {"disable:-:why;", "disable:done:nothing;",
                          "disable:-:why;", "", ""};
    uh_inst i = {0};
    long rows = 0;

    if (!f->s->ops->history_bulk) {
        assert_false(f->pg);
        skip();
    }
    put(f->s, "w1", "github", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "w2", "github", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "s1", "slack", UH_REGISTERED, UH_WANT_ON, 0);
    put(f->s, "off", "github", UH_OFF, UH_WANT_OFF, 0);
    i.id = (char *)"n1";                /* on, no registration data */
    i.connector = (char *)"github";
    i.event = (char *)"push";
    i.state = UH_REGISTERING;
    i.desired = UH_WANT_ON;
    i.created_at = i.updated_at = 1000;
    assert_int_equal(f->s->ops->put(f->s, &i), UNHOOK_OK);
    for (int k = 0; k < 2; k++) {
        b[k].desired = UH_WANT_ON;
        b[k].registered = !k;
        b[k].expiring = -1;
        b[k].to_desired = UH_WANT_OFF;
        h[k].at = 700;
        h[k].action = "disable";
    }
    h[0].message = "why";
    h[1].outcome = "done";
    h[1].message = "nothing";
    flt.connector = "github";
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    assert_int_equal(f->s->ops->history_bulk(f->s, b, 2, &flt, h, &rows), UNHOOK_OK);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    assert_true(rows == (f->pg ? -1 : 3));
    for (int k = 0; k < 5; k++) {
        char got[256] = "";
        assert_int_equal(f->s->ops->history_list(f->s, ids[k], join_lines, got),
                         UNHOOK_OK);
        assert_string_equal(got, want[k]);
    }
}

static void test_renew_extends_claims(void **state)
{
    fixture *f = *state;

    if (!f->s->ops->renew) {
        assert_false(f->pg);
        skip();
    }
    put(f->s, "d", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    assert_int_equal(claim(f->s, "A:1:1", 100, 200, 8), 1);
    assert_int_equal(f->s->ops->renew(f->s, "A:1:1", 1000), UNHOOK_OK);
    assert_int_equal(claim(f->s, "B:2:2", 300, 400, 8), 0);  /* still A's */
    assert_int_equal(claim(f->s, "B:2:2", 1100, 1200, 8), 1);
}

static void test_token_rows_compare_and_set(void **state)
{
    fixture *f = *state;
    static const unsigned char bytes[] = {0x00, 0xff, 0x10, 'a', 0x00, 0x7f};
    uh_token_row in = {0}, got;
    int cas = -1;

    if (!f->s->ops->token_get) {
        assert_false(f->pg);    /* PostgreSQL has token rows */
        skip();
    }
    assert_int_equal(f->s->ops->token_get(f->s, "k1", &got), UNHOOK_NOTFOUND);
    in.key = (char *)"k1";
    in.sealed = (unsigned char *)"first";
    in.len = 5;
    assert_int_equal(f->s->ops->token_cas(f->s, &in, 0, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_OK);
    assert_int_equal(f->s->ops->token_cas(f->s, &in, 0, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_LOST);         /* the row exists already */
    in.sealed = (unsigned char *)bytes;
    in.len = sizeof bytes;
    in.lease_until = 1234.5;
    assert_int_equal(f->s->ops->token_cas(f->s, &in, 2, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_LOST);         /* version is 1 */
    assert_int_equal(f->s->ops->token_cas(f->s, &in, 1, &cas), UNHOOK_OK);
    assert_int_equal(cas, UH_CAS_OK);
    assert_int_equal(f->s->ops->token_get(f->s, "k1", &got), UNHOOK_OK);
    assert_string_equal(got.key, "k1");
    assert_int_equal(got.version, 2);
    assert_int_equal(got.len, sizeof bytes);
    assert_memory_equal(got.sealed, bytes, sizeof bytes);
    assert_true(got.lease_until == 1234.5);
    uh_token_row_clear(&got);
}

/* A subscription's expiry is kept through put, claim and finish; a
 * registered instance is claimed only once its renewal is scheduled
 * (UH_CLAIMABLE_SQL); bulk matches on holding an expiry. */
static void expiring(uh_store *s, const char *id, double next, double exp)
{
    uh_inst i = {0};

    i.id = (char *)id;
    i.connector = (char *)"github";
    i.event = (char *)"push";
    i.options = (char *)"{}";
    i.registration = (char *)"{\"id\":1}";
    i.state = UH_REGISTERED;
    i.desired = UH_WANT_ON;
    i.next_attempt_at = next;
    i.expires_at = exp;
    i.created_at = i.updated_at = 1000;
    assert_int_equal(s->ops->put(s, &i), UNHOOK_OK);
}

static double expiry_of(uh_store *s, const char *id)
{
    uh_inst i;
    double e;

    assert_int_equal(s->ops->get(s, id, &i), UNHOOK_OK);
    e = i.expires_at;
    uh_inst_clear(&i);
    return e;
}

static void test_expiry_and_renewal_claims(void **state)
{
    fixture *f = *state;
    uh_inst out[8], *two[2];
    const uh_inst *in[2];
    uh_bulk b = {0};
    long count = -1;
    int n = 0, cas[2] = {-1, -1};

    expiring(f->s, "r1", 0, 5000);     /* registered, no renewal scheduled */
    expiring(f->s, "r2", 50, 5000);    /* its renewal due at 50 */
    expiring(f->s, "r3", 60, 6000);
    expiring(f->s, "r4", 0, 0);        /* no expiry */
    assert_true(expiry_of(f->s, "r1") == 5000);
    assert_int_equal(f->s->ops->claim(f->s, NULL, 100, "A:1:1", 200, 8, out, &n), UNHOOK_OK);
    assert_int_equal(n, 2);             /* r2 and r3 only */
    two[0] = strcmp(out[0].id, "r2") == 0 ? &out[0] : &out[1];
    two[1] = two[0] == &out[0] ? &out[1] : &out[0];
    assert_string_equal(two[1]->id, "r3");
    assert_true(two[0]->expires_at == 5000 && two[1]->expires_at == 6000);
    two[0]->expires_at = 9000;          /* renewed */
    two[0]->next_attempt_at = 0;
    two[1]->expires_at = 9500;
    two[1]->next_attempt_at = 0;
    in[0] = two[0];
    in[1] = two[1];
    assert_int_equal(f->s->ops->finish(f->s, in[0], "A:1:1", 150, &cas[0]), UNHOOK_OK);
    assert_int_equal(cas[0], UH_CAS_OK);
    if (f->s->ops->finish_many) {
        assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
        assert_int_equal(f->s->ops->finish_many(f->s, in + 1, 1, "A:1:1", 150, cas + 1),
                         UNHOOK_OK);
        assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    } else {
        assert_int_equal(f->s->ops->finish(f->s, in[1], "A:1:1", 150, &cas[1]), UNHOOK_OK);
    }
    assert_int_equal(cas[1], UH_CAS_OK);
    for (int k = 0; k < n; k++)
        uh_inst_clear(&out[k]);
    assert_true(expiry_of(f->s, "r2") == 9000);
    assert_true(expiry_of(f->s, "r3") == 9500);
    assert_int_equal(claim(f->s, "A:1:1", 300, 400, 8), 0);     /* none due */
    b.from = 1u << UH_REGISTERED;
    b.desired = -1;
    b.registered = -1;
    b.expiring = 1;
    b.to_desired = -1;
    b.to = UH_EXPIRED;
    assert_int_equal(f->s->ops->bulk(f->s, &b, NULL, 500, &count), UNHOOK_OK);
    assert_int_equal(count, 3);
    assert_int_equal(state_of(f->s, "r4"), UH_REGISTERED);
    assert_int_equal(state_of(f->s, "r1"), UH_EXPIRED);
}

/* Runs sql on the SQLite file at path; the first column of its last row
 * (malloc'd) when one is wanted. */
static char *sqlite_run(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    const char *tail = sql;
    char *out = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    while (*tail) {
        int rc;
        assert_int_equal(sqlite3_prepare_v2(db, tail, -1, &st, &tail), SQLITE_OK);
        if (!st)
            break;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            free(out);
            out = sqlite3_column_text(st, 0)
                ? strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
        }
        assert_int_equal(rc, SQLITE_DONE);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return out;
}

/* The attempt numbers of history lines, in the order listed. */
typedef struct attempts {
    int n, attempt[8];
} attempts;

static int note_attempt(void *ud, const unhook_history *h)
{
    attempts *a = ud;

    if (a->n < 8)
        a->attempt[a->n++] = h->attempt;
    return 0;
}

/* A store of schema version 6 (instances_wake keyed by
 * MAX(next_attempt_at, claimed_until), claimed rows in it, claims in the
 * columns claim_owner and claimed_until, instances_claimed) opened by
 * this unhook: migrations 7 and 8 keep every row and history line, and
 * claims (moved to the table claims), lapsed claims and the next due
 * time read as before. */
static void test_sqlite_migrations_keep_rows_and_claims(void **state)
{
    fixture *f = *state;
    char err[512], *v;
    double when = -1;
    attempts hist;

    if (f->pg)
        return;             /* SQLite's schema alone (PostgreSQL: tests/pg/schema.sh) */
    put(f->s, "d1", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    put(f->s, "d2", "github", UH_DEREGISTERING, UH_WANT_OFF, 10);
    put(f->s, "later", "github", UH_DEREGISTERING, UH_WANT_OFF, 5000);
    put(f->s, "on", "github", UH_REGISTERED, UH_WANT_ON, 0);
    assert_int_equal(claim(f->s, "A:1:1", 100, 200, 1), 1);
    add_history(f->s, "d1", "disable", 1);
    add_history(f->s, "d2", "disable", 1);
    add_history(f->s, "d1", "deregister", 2);
    f->s->ops->close(f->s);
    f->s = NULL;
    free(sqlite_run(f->loc, "UPDATE instances SET"
                    " claim_owner = (SELECT owner FROM claims WHERE rid = instances.rowid),"
                    " claimed_until = IFNULL((SELECT lease_end FROM claims"
                    " WHERE rid = instances.rowid), 0);"
                    "DROP TABLE claims;"
                    "DROP INDEX instances_wake;"
                    "CREATE INDEX instances_claimed ON instances(claimed_until)"
                    " WHERE claim_owner IS NOT NULL;"
                    "CREATE INDEX instances_wake ON instances("
                    "MAX(next_attempt_at, claimed_until)) WHERE " UH_CLAIMABLE_SQL ";"
                    "DROP INDEX history_instance;"
                    "CREATE INDEX history_instance ON history(instance_id, seq);"
                    "PRAGMA user_version = 6;"));
    v = sqlite_run(f->loc, "SELECT claim_owner FROM instances WHERE claim_owner IS NOT NULL");
    assert_string_equal(v, "A:1:1");
    free(v);
    assert_int_equal(uh_store_open(f->loc, &f->s, err, sizeof err), UNHOOK_OK);
    v = sqlite_run(f->loc, "PRAGMA user_version");
    assert_string_equal(v, "9");
    free(v);
    v = sqlite_run(f->loc, "SELECT sql FROM sqlite_master WHERE name = 'history_instance'");
    assert_string_equal(v, "CREATE INDEX history_instance ON history(instance_id)");
    free(v);
    v = sqlite_run(f->loc, "SELECT sql FROM sqlite_master WHERE name = 'instances_wake'");
    assert_non_null(strstr(v, "(next_attempt_at) WHERE (state IN"));
    free(v);
    v = sqlite_run(f->loc, "SELECT count(*) FROM sqlite_master WHERE name = 'instances_claimed'");
    assert_string_equal(v, "0");
    free(v);
    v = sqlite_run(f->loc, "SELECT owner || ' ' || lease_end FROM claims");
    assert_string_equal(v, "A:1:1 200.0");
    free(v);
    v = sqlite_run(f->loc, "SELECT count(*) FROM instances WHERE claim_owner IS NOT NULL"
                   " OR claimed_until != 0");
    assert_string_equal(v, "0");
    free(v);
    v = sqlite_run(f->loc, "SELECT count(*) FROM instances");
    assert_string_equal(v, "4");
    free(v);
    v = sqlite_run(f->loc, "PRAGMA integrity_check");
    assert_string_equal(v, "ok");
    free(v);
    assert_int_equal(state_of(f->s, "d1"), UH_DEREGISTERING);
    add_history(f->s, "d1", "deregister", 3);
    hist.n = 0;
    assert_int_equal(f->s->ops->history_list(f->s, "d1", note_attempt, &hist), UNHOOK_OK);
    assert_int_equal(hist.n, 3);        /* d1's lines, in the order written */
    assert_int_equal(hist.attempt[0] * 100 + hist.attempt[1] * 10 + hist.attempt[2], 123);
    assert_int_equal(claim(f->s, "B:2:2", 150, 250, 8), 1);     /* the other one */
    assert_int_equal(f->s->ops->next_due(f->s, NULL, &when), UNHOOK_OK);
    assert_true(when == 200);           /* A's lease ends first */
    assert_int_equal(claim(f->s, "C:3:3", 300, 400, 8), 2);     /* both lapsed */
    assert_int_equal(f->s->ops->next_due(f->s, NULL, &when), UNHOOK_OK);
    assert_true(when == 400);
    assert_int_equal(claim(f->s, "C:3:3", 6000, 7000, 8), 3);   /* and later */
}

/* Two connections opening one new file at once (serve's two engines):
 * each migration is applied once, whoever applies it, and both open. */
typedef struct opener {
    const char *path;
    pthread_barrier_t *go;
    int rc;
    uh_store *s;
} opener;

static void *open_at_once(void *arg)
{
    opener *o = arg;
    char err[512];

    pthread_barrier_wait(o->go);
    o->rc = uh_store_open(o->path, &o->s, err, sizeof err);
    if (o->rc != UNHOOK_OK)
        fprintf(stderr, "open %s: %s\n", o->path, err);
    return NULL;
}

static void test_sqlite_two_opens_migrate_once(void **state)
{
    fixture *f = *state;

    if (f->pg)
        return;             /* SQLite's migrations (PostgreSQL: tests/pg/schema.sh) */
    for (int round = 0; round < 20; round++) {
        char path[PATH_MAX], *sql, *version;
        pthread_barrier_t go;
        pthread_t th[2];
        opener o[2];
        uh_inst out[4];
        int n = 0;

        snprintf(path, sizeof path, "%s/race%d.db", f->dir, round);
        pthread_barrier_init(&go, NULL, 2);
        for (int k = 0; k < 2; k++) {
            o[k] = (opener){.path = path, .go = &go};
            assert_int_equal(pthread_create(&th[k], NULL, open_at_once, &o[k]), 0);
        }
        for (int k = 0; k < 2; k++)
            pthread_join(th[k], NULL);
        pthread_barrier_destroy(&go);
        assert_int_equal(o[0].rc, UNHOOK_OK);
        assert_int_equal(o[1].rc, UNHOOK_OK);
        /* the last migration's index, not an earlier one made again */
        sql = sqlite_run(path, "SELECT sql FROM sqlite_master WHERE name = 'instances_wake'");
        assert_non_null(sql);
        assert_null(strstr(sql, "claim_owner"));
        free(sql);
        version = sqlite_run(path, "PRAGMA user_version");
        assert_string_equal(version, "9");
        free(version);
        put(o[0].s, "r1", "github", UH_DEREGISTERING, UH_WANT_OFF, 1);
        assert_int_equal(o[1].s->ops->claim(o[1].s, NULL, 1e12, "me", 2e12, 4, out, &n),
                         UNHOOK_OK);
        assert_int_equal(n, 1);
        uh_inst_clear(&out[0]);
        for (int k = 0; k < 2; k++)
            o[k].s->ops->close(o[k].s);
    }
}

/* SQLite opens a temporary file (a statement journal, "etilqs_*") for
 * a statement of many rows inside a transaction that may fail halfway
 * and must then be undone alone, and copies every page it changes there
 * first.  The store rolls the whole transaction back on any error, and
 * its set-based statements say so (OR ROLLBACK): a bulk intent over a
 * table of some 150 pages opens no such file. */
static int temp_opens;
typedef int (*open_fn)(const char *, int, int);
static open_fn real_open;

static int count_open(const char *path, int flags, int mode)
{
    if (strstr(path, "etilqs_"))
        temp_opens++;
    return real_open(path, flags, mode);
}

static void test_sqlite_bulk_needs_no_statement_journal(void **state)
{
    fixture *f = *state;
    sqlite3_vfs *v = sqlite3_vfs_find("unix");
    uh_bulk b[2] = {{0}, {0}};
    unhook_history h[2] = {{0}, {0}};
    char id[32], opts[1100];
    long rows = 0, count = 0;
    uh_inst i = {0};

    if (f->pg)
        return;                 /* a SQLite matter */
    memset(opts, 0, sizeof opts);
    snprintf(opts, sizeof opts, "{\"pad\": \"%01000d\"}", 0);
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    for (int k = 0; k < 500; k++) {
        snprintf(id, sizeof id, "big-%04d", k);
        i.id = id;
        i.connector = (char *)"github";
        i.event = (char *)"push";
        i.options = opts;
        i.registration = (char *)"{\"id\":1}";
        i.state = UH_REGISTERED;
        i.desired = UH_WANT_ON;
        i.created_at = i.updated_at = 1000;
        assert_int_equal(f->s->ops->put(f->s, &i), UNHOOK_OK);
    }
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    for (int k = 0; k < 2; k++) {
        b[k].from = 1u << UH_REGISTERED;
        b[k].desired = UH_WANT_ON;
        b[k].registered = !k;
        b[k].expiring = -1;
        b[k].to_desired = UH_WANT_OFF;
        b[k].to = k ? UH_OFF : UH_DEREGISTERING;
        b[k].reason = "disabled";
        h[k].at = 700;
        h[k].action = "disable";
    }
    real_open = (open_fn)v->xGetSystemCall(v, "open");
    v->xSetSystemCall(v, "open", (sqlite3_syscall_ptr)count_open);
    temp_opens = 0;
    assert_int_equal(f->s->ops->begin(f->s), UNHOOK_OK);
    assert_int_equal(f->s->ops->history_bulk(f->s, b, 2, NULL, h, &rows), UNHOOK_OK);
    assert_int_equal(f->s->ops->bulk(f->s, &b[0], NULL, 700, &count), UNHOOK_OK);
    assert_int_equal(f->s->ops->commit(f->s), UNHOOK_OK);
    v->xSetSystemCall(v, "open", NULL);
    assert_int_equal(rows, 500);
    assert_int_equal(count, 500);
    assert_int_equal(state_of(f->s, "big-0123"), UH_DEREGISTERING);
    assert_int_equal(temp_opens, 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_state_reads_back),
        T(test_get_unknown_is_notfound),
        T(test_remove_keeps_history),
        T(test_claim_skips_live_claims_takes_lapsed),
        T(test_finish_is_compare_and_set),
        T(test_finish_in_transaction_releases_claims),
        T(test_finish_many_is_compare_and_set),
        T(test_finish_many_of_claimed_rows),
        T(test_finish_many_groups_by_values),
        T(test_bulk_with_filter),
        T(test_history_in_transaction),
        T(test_history_bulk_keeps_order),
        T(test_history_bulk_two_lines),
        T(test_renew_extends_claims),
        T(test_token_rows_compare_and_set),
        T(test_expiry_and_renewal_claims),
        T(test_sqlite_migrations_keep_rows_and_claims),
        T(test_sqlite_two_opens_migrate_once),
        T(test_sqlite_bulk_needs_no_statement_journal),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
