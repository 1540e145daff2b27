/*
 * store_lock.c -- one store shared by the threads of a bulk run
 * (crew.c).  While shared, the store's ops are replaced by ones that hold
 * one recursive lock around the store's own, from begin to commit or
 * rollback for a transaction; every holder of the store (the engines of
 * the threads, a connection's OAuth2 token rows) goes through them.  For
 * a store that is this process's file (SQLite): a connection per thread
 * would re-read the pages the other threads' commits changed, and wait
 * for their write lock in sleeps; one connection taken in turn does
 * neither.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct uh_store_shared {
    pthread_mutex_t mu;         /* recursive: a transaction's ops nest */
    const uh_store_ops *own;    /* the store's own ops, restored after */
    uh_store_ops ops;           /* the locked ones (the optional: if it has them) */
};

/* The thread's transaction holds the lock (one shared store at a time: a
 * bulk run's threads run no other). */
static _Thread_local int in_tx;

#define SH(s) ((s)->sh)
#define OWN(s) (SH(s)->own)

static void lock(uh_store *s)
{
    pthread_mutex_lock(&SH(s)->mu);
}

static int unlock_rc(uh_store *s, int rc)
{
    pthread_mutex_unlock(&SH(s)->mu);
    return rc;
}

/* A transaction keeps the lock from its begin to its end. */
static int tx_begin(uh_store *s, int (*begin)(uh_store *))
{
    int rc;

    lock(s);
    rc = begin(s);
    if (rc == UNHOOK_OK) {
        in_tx = 1;              /* held until commit or rollback */
        return rc;
    }
    return unlock_rc(s, rc);
}

static int lk_begin(uh_store *s)
{
    return tx_begin(s, OWN(s)->begin);
}

static int lk_begin_lazy(uh_store *s)
{
    return tx_begin(s, OWN(s)->begin_lazy);
}

/* A commit that failed keeps the transaction's lock: the caller's
 * rollback ends both. */
static int tx_end(uh_store *s, int rc)
{
    if (rc == UNHOOK_OK && in_tx) {
        in_tx = 0;
        pthread_mutex_unlock(&SH(s)->mu);
    }
    return unlock_rc(s, rc);
}

static int lk_commit(uh_store *s)
{
    lock(s);
    return tx_end(s, OWN(s)->commit(s));
}

static int lk_commit_lazy(uh_store *s, unsigned long long *ticket)
{
    lock(s);
    return tx_end(s, OWN(s)->commit_lazy(s, ticket));
}

static void lk_rollback(uh_store *s)
{
    lock(s);
    OWN(s)->rollback(s);
    if (in_tx) {
        in_tx = 0;
        pthread_mutex_unlock(&SH(s)->mu);
    }
    pthread_mutex_unlock(&SH(s)->mu);
}

/* Every other op: the lock around the store's own. */
#define OP(name, params, args)                                        \
    static int lk_##name params                                       \
    {                                                                 \
        lock(s);                                                      \
        return unlock_rc(s, OWN(s)->name args);                       \
    }

OP(get, (uh_store *s, const char *id, uh_inst *out), (s, id, out))
OP(put, (uh_store *s, const uh_inst *in), (s, in))
OP(intent, (uh_store *s, const uh_inst *in), (s, in))
OP(finish, (uh_store *s, const uh_inst *in, const char *owner, double now, int *cas),
   (s, in, owner, now, cas))
OP(list, (uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud), (s, f, fn, ud))
OP(history_add, (uh_store *s, const unhook_history *h), (s, h))
OP(history_list, (uh_store *s, const char *id, unhook_history_fn fn, void *ud),
   (s, id, fn, ud))
OP(bulk, (uh_store *s, const uh_bulk *b, const unhook_filter *f, double now, long *count),
   (s, b, f, now, count))
OP(claim, (uh_store *s, const unhook_filter *f, double now, const char *owner,
           double lease, int max, uh_inst *out, int *n),
   (s, f, now, owner, lease, max, out, n))
OP(unclaim, (uh_store *s, const char *id), (s, id))
OP(owners, (uh_store *s, double now, uh_owner_fn fn, void *ud), (s, now, fn, ud))
OP(release, (uh_store *s, const char *owner), (s, owner))
OP(remove, (uh_store *s, const char *id), (s, id))
OP(next_due, (uh_store *s, const unhook_filter *f, double *when), (s, f, when))
OP(token_get, (uh_store *s, const char *key, uh_token_row *out), (s, key, out))
OP(token_cas, (uh_store *s, const uh_token_row *in, long long expect, int *cas),
   (s, in, expect, cas))
OP(renew, (uh_store *s, const char *owner, double until), (s, owner, until))
OP(wait, (uh_store *s, double timeout_s), (s, timeout_s))
OP(finish_many, (uh_store *s, const uh_inst *const *in, int n, const char *owner,
                 double now, int *cas),
   (s, in, n, owner, now, cas))
OP(history_bulk, (uh_store *s, const uh_bulk *b, int n, const unhook_filter *f,
                  const unhook_history *h, long *rows),
   (s, b, n, f, h, rows))
OP(durable, (uh_store *s, unsigned long long ticket, int wait), (s, ticket, wait))

/* Not while shared: the crew ends the sharing first (uh_store_unshare). */
static void lk_close(uh_store *s)
{
    OWN(s)->close(s);
}

#define OPT(name) (in->name ? lk_##name : NULL)

int uh_store_share(uh_store *s)
{
    uh_store_shared *sh = calloc(1, sizeof *sh);
    const uh_store_ops *in = s->ops;
    pthread_mutexattr_t a;

    if (!sh)
        return UNHOOK_NOMEM;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&sh->mu, &a);
    pthread_mutexattr_destroy(&a);
    sh->own = in;
    sh->ops = (uh_store_ops){
        .begin = lk_begin, .commit = lk_commit, .rollback = lk_rollback,
        .get = lk_get, .put = lk_put, .intent = lk_intent, .finish = lk_finish,
        .list = lk_list, .history_add = lk_history_add,
        .history_list = lk_history_list, .bulk = lk_bulk, .claim = lk_claim,
        .unclaim = lk_unclaim, .owners = lk_owners, .release = lk_release,
        .remove = lk_remove, .next_due = lk_next_due, .close = lk_close,
        .token_get = lk_token_get, .token_cas = lk_token_cas,
        .renew = OPT(renew), .wait = OPT(wait), .finish_many = OPT(finish_many),
        .history_bulk = OPT(history_bulk), .begin_lazy = OPT(begin_lazy),
        .commit_lazy = OPT(commit_lazy), .durable = OPT(durable),
    };
    s->sh = sh;
    s->ops = &sh->ops;
    return UNHOOK_OK;
}

void uh_store_unshare(uh_store *s)
{
    uh_store_shared *sh = s ? s->sh : NULL;

    if (!sh)
        return;
    s->ops = sh->own;
    s->sh = NULL;
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}
