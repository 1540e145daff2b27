/*
 * sqlite_sync.c -- the SQLite store's group commit (sqlite_db.h).  A
 * transaction begun with uh_sq_begin_lazy commits at synchronous =
 * NORMAL: into the WAL, without waiting for the disk.  A thread of the
 * store's own then syncs the WAL file (fdatasync on a descriptor of its
 * own: the sync is the inode's), and a ticket says when a commit, and
 * every one before it, is on disk.  The work loop reports an outcome only
 * then (work.c), so "committed before it is counted" holds as with FULL,
 * while the loop goes on with its requests during the sync and several
 * commits share one.
 *
 * A power loss before the sync loses those commits as it would lose them
 * before a FULL commit returned: nothing was reported yet, and the
 * instances are still pending (their intents were synced before any
 * request).  Every other transaction is FULL, as before.  A sync that
 * fails is final: the kernel may have dropped the pages it could not
 * write, and a later sync that succeeds proves nothing about them (nor,
 * as WAL frames are checksummed in a chain, about the commits after
 * them), so from then on every write transaction of the store fails and
 * the work stops; what was not counted is pending, run again by resume.
 *
 * The stores of one process on one database file (the threads of bulk
 * work, core/crew.c) share one syncer: a sync of the WAL file covers
 * every commit written to it before, whichever connection wrote it, so a
 * syncer per store would only sync the same file twice as often.  A
 * failed sync breaks them all, as it should: the pages lost are the
 * file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_db.h"

struct sq_sync {
    pthread_mutex_t mu;
    pthread_cond_t asked_cv;    /* to the thread: a commit to sync, a checkpoint */
    pthread_cond_t done_cv;     /* to waiters: synced moved, or err */
    pthread_t thread;
    int fd;                     /* the WAL file, read-only */
    char *path;                 /* the database, for the thread's connection */
    sqlite3 *db;                /* that connection: checkpoints (the thread's) */
    unsigned long long asked;   /* the last commit's ticket */
    unsigned long long synced;  /* every ticket up to this is on disk */
    int waiting;                /* callers waiting for a ticket (durable) */
    int idle;                   /* the thread waits for work (not the gap) */
    int err;                    /* errno of a failed sync: sticky */
    int ckpt;                   /* a checkpoint is asked for */
    int ckpt_due;               /* and a sync was made since: its turn */
    int ckpt_restart;           /* the WAL passed SQ_WAL_CAP: RESTART it */
    int stop;
    dev_t dev;                  /* the WAL file's identity, */
    ino_t ino;
    int refs;                   /* the stores sharing it (under registry_mu) */
    struct sq_sync *next;       /* in the registry */
};

/* The process's syncers, one a WAL file. */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static sq_sync *registry;

/*
 * Copy the WAL into the database on the thread's own connection.
 * PASSIVE waits for no reader or writer; but SQLite writes the WAL from
 * its start again only when a transaction begins with every frame
 * copied, and the loop's commits keep coming while a checkpoint runs, so
 * a WAL past SQ_WAL_CAP gets a RESTART: it waits (the busy handler) for
 * the writer of the moment, copies the rest, and holds new writers until
 * the readers left the WAL, so that the next commit starts it anew.  A
 * checkpoint that fails or stops early leaves the frames in the WAL,
 * where readers find them.
 */
/* A RESTART waits for the loop's writer in 100 us steps (SQLite's own
 * handler sleeps for milliseconds, in which the loop commits again), up
 * to 50 ms: while it waits for readers it holds writers back, and a
 * reader that stays (another process's long read) must not stall the
 * loop; it is tried again at the next 1,000 pages. */
static int restart_wait(void *ud, int n)
{
    (void)ud;
    if (n >= 500)
        return 0;
    usleep(100);
    return 1;
}

static void checkpoint(sq_sync *y, int restart)
{
    /* a connection knows the file is in WAL mode once it has read it */
    if (!y->db && (sqlite3_open_v2(y->path, &y->db, SQLITE_OPEN_READWRITE |
                                   SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
                   sqlite3_exec(y->db, "PRAGMA journal_mode", NULL, NULL, NULL) != SQLITE_OK)) {
        sqlite3_close(y->db);
        y->db = NULL;
        return;
    }
    sqlite3_busy_handler(y->db, restart ? restart_wait : NULL, NULL);
    sqlite3_wal_checkpoint_v2(y->db, "main", restart ? SQLITE_CHECKPOINT_RESTART
                              : SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/*
 * Syncs are at least SQ_SYNC_GAP apart while nobody waits for one: each
 * costs the machine far more than the commits it covers (on a virtual
 * machine ~0.4 ms of CPU, a device notification), and commits that come
 * meanwhile share the next.  A caller that waits (durable with wait, the
 * end of the work, the stop) ends the gap at once; the gap only delays
 * when outcomes are counted, never the work.
 */
#define SQ_SYNC_GAP_NS 20000000L        /* 20 ms */

static void after_gap(struct timespec *at, const struct timespec *from)
{
    *at = *from;
    at->tv_nsec += SQ_SYNC_GAP_NS;
    if (at->tv_nsec >= 1000000000L) {
        at->tv_sec++;
        at->tv_nsec -= 1000000000L;
    }
}

static void *sync_main(void *arg)
{
    sq_sync *y = arg;
    struct timespec last = {0, 0}, until;

    pthread_mutex_lock(&y->mu);
    for (;;) {
        unsigned long long target;
        int r;

        y->idle = 1;
        while (!y->stop && !y->err && y->asked == y->synced && !y->ckpt)
            pthread_cond_wait(&y->asked_cv, &y->mu);
        y->idle = 0;
        if (y->err || (y->asked == y->synced && !y->ckpt))
            break;              /* stopped with nothing left, or failed */
        /* a sync: not before the gap has passed, unless asked to hurry */
        after_gap(&until, &last);
        while (!y->stop && !y->waiting && !y->ckpt && y->asked != y->synced &&
               pthread_cond_timedwait(&y->asked_cv, &y->mu, &until) == 0)
            ;
        /* a checkpoint asked for waits for one sync at most: commits
         * that keep coming (the loop's, while requests are in flight)
         * would otherwise put it off for as long as they come */
        if (y->ckpt && (y->asked == y->synced || y->ckpt_due)) {
            int restart = y->ckpt_restart;
            y->ckpt = y->ckpt_due = y->ckpt_restart = 0;
            pthread_mutex_unlock(&y->mu);
            checkpoint(y, restart);
            pthread_mutex_lock(&y->mu);
            continue;
        }
        target = y->asked;
        pthread_mutex_unlock(&y->mu);
        clock_gettime(CLOCK_MONOTONIC, &last);
        r = fdatasync(y->fd);
        pthread_mutex_lock(&y->mu);
        if (r != 0)
            y->err = errno ? errno : EIO;
        else
            y->synced = target;
        y->ckpt_due = y->ckpt;
        pthread_cond_broadcast(&y->done_cv);
    }
    pthread_cond_broadcast(&y->done_cv);
    pthread_mutex_unlock(&y->mu);
    sqlite3_close(y->db);
    return NULL;
}

/* The syncer failed: from now on every write transaction of the store
 * fails (uh_sq_begin); 1 when it has. */
static int failed(sq_store *q)
{
    sq_sync *y = q->sync;

    if (!y || q->broken)
        return q->broken != 0;
    pthread_mutex_lock(&y->mu);
    q->broken = y->err;
    pthread_mutex_unlock(&y->mu);
    return q->broken != 0;
}

static void sync_free(sq_sync *y)
{
    pthread_cond_destroy(&y->done_cv);
    pthread_cond_destroy(&y->asked_cv);
    pthread_mutex_destroy(&y->mu);
    close(y->fd);
    free(y->path);
    free(y);
}

/* The syncer, started on first use, or the one another store of this
 * process already runs for the same WAL file; NULL when it cannot be (no
 * WAL file, no thread): the caller commits at FULL instead. */
static sq_sync *syncer(sq_store *q)
{
    const char *wal;
    sq_sync *y;
    sigset_t all, old;
    struct stat st;
    int started, fd;

    if (q->sync)
        return failed(q) ? NULL : q->sync;
    if (q->sync_failed)
        return NULL;
    q->sync_failed = 1;         /* until it works */
    wal = sqlite3_filename_wal(sqlite3_db_filename(q->db, "main"));
    if (!wal || (fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0)
        return NULL;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    pthread_mutex_lock(&registry_mu);
    for (y = registry; y; y = y->next)
        if (y->dev == st.st_dev && y->ino == st.st_ino)
            break;
    if (y) {
        y->refs++;
        pthread_mutex_unlock(&registry_mu);
        close(fd);
        q->sync = y;
        q->sync_failed = 0;
        return failed(q) ? NULL : y;
    }
    if (!(y = calloc(1, sizeof *y)) ||
        !(y->path = uh_strdup(sqlite3_db_filename(q->db, "main")))) {
        pthread_mutex_unlock(&registry_mu);
        free(y);
        close(fd);
        return NULL;
    }
    y->fd = fd;
    y->dev = st.st_dev;
    y->ino = st.st_ino;
    pthread_mutex_init(&y->mu, NULL);
    {
        pthread_condattr_t ca;  /* the gap is timed on the monotonic clock */
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&y->asked_cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_cond_init(&y->done_cv, NULL);
    /* the thread takes no signals: they stay the host's threads' */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    started = pthread_create(&y->thread, NULL, sync_main, y) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        pthread_mutex_unlock(&registry_mu);
        sync_free(y);
        return NULL;
    }
    y->refs = 1;
    y->next = registry;
    registry = y;
    pthread_mutex_unlock(&registry_mu);
    q->sync = y;
    q->sync_failed = 0;
    return y;
}

int uh_sq_begin_lazy(uh_store *s)
{
    sq_store *q = SQ(s);
    int rc;

    /* SQLite changes the level only outside a transaction */
    if (syncer(q) && uh_sq_run(s, "PRAGMA synchronous = NORMAL") == UNHOOK_OK)
        q->lazy = 1;
    rc = uh_sq_begin(s);
    if (rc != UNHOOK_OK && q->lazy) {
        q->lazy = 0;
        uh_sq_run(s, "PRAGMA synchronous = FULL");
    }
    return rc;
}

int uh_sq_commit_lazy(uh_store *s, unsigned long long *ticket)
{
    sq_store *q = SQ(s);
    int rc = uh_sq_commit(s);

    *ticket = 0;                /* 0: on disk already (a FULL commit) */
    if (!q->lazy)
        return rc;
    /* a commit that failed may leave the transaction open (a statement
     * undone, not the transaction), where the level cannot change: the
     * caller's rollback sets FULL again (q->lazy stays) */
    if (rc != UNHOOK_OK && !sqlite3_get_autocommit(q->db))
        return rc;
    q->lazy = 0;
    if (rc == UNHOOK_OK) {
        sq_sync *y = q->sync;
        pthread_mutex_lock(&y->mu);
        *ticket = ++y->asked;
        q->last_ticket = *ticket;
        if (y->idle)            /* in the gap it wakes by itself */
            pthread_cond_signal(&y->asked_cv);
        pthread_mutex_unlock(&y->mu);
    }
    /* every other transaction is FULL; if the level stays NORMAL the
     * store cannot keep that promise: an error, the work stops */
    if (uh_sq_run(s, "PRAGMA synchronous = FULL") != UNHOOK_OK && rc == UNHOOK_OK)
        rc = UNHOOK_STORE;
    return rc;
}

int uh_sq_durable(uh_store *s, unsigned long long ticket, int wait)
{
    sq_sync *y = SQ(s)->sync;
    int r, err;

    if (ticket == 0)
        return 1;
    if (!y)
        return UNHOOK_STORE;    /* no ticket without a syncer */
    pthread_mutex_lock(&y->mu);
    if (wait && !y->err && y->synced < ticket) {
        y->waiting++;
        pthread_cond_signal(&y->asked_cv);      /* no gap: sync now */
        while (!y->err && y->synced < ticket)
            pthread_cond_wait(&y->done_cv, &y->mu);
        y->waiting--;
    }
    err = y->err;
    r = y->synced >= ticket;
    pthread_mutex_unlock(&y->mu);
    if (r)
        return 1;
    if (!err)
        return 0;
    failed(SQ(s));
    uh_sq_broken_msg(s);
    return UNHOOK_STORE;
}

void uh_sq_sync_stop(sq_store *q)
{
    sq_sync *y = q->sync, **pp;

    if (!y)
        return;
    pthread_mutex_lock(&registry_mu);
    if (y->refs > 1) {
        /* the others go on with it: this store's commits are on disk
         * before it closes, as with a syncer of its own */
        y->refs--;
        pthread_mutex_unlock(&registry_mu);
        if (q->last_ticket)
            uh_sq_durable(&q->base, q->last_ticket, 1);
        q->sync = NULL;
        return;
    }
    for (pp = &registry; *pp; pp = &(*pp)->next)
        if (*pp == y) {
            *pp = y->next;
            break;
        }
    pthread_mutex_unlock(&registry_mu);
    pthread_mutex_lock(&y->mu);
    y->stop = 1;
    pthread_cond_signal(&y->asked_cv);
    pthread_mutex_unlock(&y->mu);
    pthread_join(y->thread, NULL);  /* after the last sync asked for */
    sync_free(y);
    q->sync = NULL;
}

/*
 * The WAL hook (in place of SQLite's automatic checkpoint, with its
 * threshold): once the WAL holds SQ_CKPT_PAGES pages after a commit, the
 * syncer checkpoints it on its thread, so that the copy and its two syncs
 * are not the committing loop's time (the intent of disable --all, a few
 * MB, is the first).  Without a syncer it is done here, as SQLite does.
 */
#define SQ_CKPT_PAGES 1000
#define SQ_WAL_CAP 4000         /* pages (16 MB at 4 KB): a RESTART then */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
    sq_store *q = ud;
    sq_sync *y;

    /* once a threshold's worth more (the WAL restarts from 0 only when
     * no reader is in it: a busy one often stays above the threshold) */
    if (pages >= q->ckpt_pages && pages < q->ckpt_pages + SQ_CKPT_PAGES)
        return SQLITE_OK;
    q->ckpt_pages = pages < SQ_CKPT_PAGES ? 0 : pages;
    if (pages < SQ_CKPT_PAGES)
        return SQLITE_OK;
    if ((y = syncer(q))) {
        pthread_mutex_lock(&y->mu);
        y->ckpt = 1;
        y->ckpt_restart |= pages >= SQ_WAL_CAP;
        pthread_cond_signal(&y->asked_cv);
        pthread_mutex_unlock(&y->mu);
    } else {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    return SQLITE_OK;
}

void uh_sq_sync_hook(sq_store *q)
{
    sqlite3_wal_hook(q->db, wal_hook, q);
}
