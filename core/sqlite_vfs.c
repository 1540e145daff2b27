/*
 * sqlite_vfs.c -- the SQLite backend's files: SQLite's own (its default
 * VFS, "unix"), with the writes of a commit to the WAL gathered into one.
 *
 * SQLite writes each frame to the WAL in two calls, its 24-byte header
 * then its page, each a pwrite(2) of its own: a batch of outcomes is some
 * fifteen frames, thirty system calls.  Only while the store runs its
 * COMMIT (uh_sq_vfs_gather, around it in sqlite_tx.c) does a WAL opened
 * here keep the frames it is given, each header followed by its page, in
 * file order from the first, and write them out in one call as soon as the
 * page of the commit's frame is in (the frame whose header gives the
 * database's size after the commit, which no other frame does:
 * https://sqlite.org/fileformat2.html#walformat).  That is within the
 * commit's own write, so before SQLite makes the commit visible (it then
 * updates the WAL index in shared memory) and before it syncs, while the
 * connection holds the WAL's write lock; other connections and processes
 * see the same bytes at the same moments as without the buffer.  From the
 * commit frame on, until the next COMMIT, every write goes straight to the
 * file: SQLite may then write frame headers again, earlier in the file
 * (walRewriteChecksums, after a spilled page was written twice), and those
 * must be there when the commit is.  Frames a transaction spills before
 * its COMMIT are never kept: a ROLLBACK releases the lock without touching
 * the WAL, and another writer's frames would come next at their offsets.
 * Any other write, and any other use of the file (a read, a sync, its
 * size, a truncation, a file control, the close), writes the buffer out
 * first (to make room, too); a commit frame that goes out unkept (no memory
 * for it) ends the gathering all the same.  After a COMMIT nothing is
 * left in the buffer; what one that failed left was never part of the
 * WAL's index and is dropped when it returns.  A process killed with
 * frames in the buffer loses frames of a commit that had not happened, as
 * it would have in the middle of the writes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"

#define WAL_HDR 32              /* the WAL's own header, at its start */
#define FRAME_HDR 24            /* a frame's header, before its page */
#define KEEP_MAX (256 * 1024)   /* written out when it would grow past this */
#define WRITE_MAX 0x1f000       /* SQLite's file writes less than 128 KiB a
                                   call (os_unix.c, seekAndWriteFd) */

typedef struct wal_file {
    sqlite3_file base;          /* its methods: wal_io */
    sqlite3_file *real;         /* SQLite's own file, after this struct */
    unsigned char *buf;
    size_t len, cap;
    sqlite3_int64 at;           /* where buf[0] goes in the file */
    int page;                   /* the page size, from the first frame */
    int want_page;              /* the last write kept was a frame header */
    int commit;                 /* ... of a commit's frame */
    int gather;                 /* inside the store's COMMIT */
    int done;                   /* ... and its commit frame is out */
} wal_file;

static sqlite3_vfs vfs;         /* "unhook": a copy of the default, xOpen ours */
static sqlite3_vfs *real_vfs;

/* Rounded up so that SQLite's file, after ours, is aligned. */
#define OURS ((sizeof(wal_file) + 15) & ~(size_t)15)

static int out(wal_file *w)
{
    int rc = SQLITE_OK;

    for (size_t k = 0; k < w->len && rc == SQLITE_OK; k += WRITE_MAX) {
        size_t n = w->len - k < WRITE_MAX ? w->len - k : WRITE_MAX;
        rc = w->real->pMethods->xWrite(w->real, w->buf + k, (int)n,
                                       w->at + (sqlite3_int64)k);
    }
    w->len = 0;
    w->want_page = w->commit = 0;
    return rc;
}

/* Room for n more bytes (up to KEEP_MAX in all). */
static int room(wal_file *w, size_t n)
{
    size_t cap;
    unsigned char *p;

    if (w->len + n > KEEP_MAX)
        return 0;
    if (w->len + n <= w->cap)
        return 1;
    cap = w->cap ? w->cap : 32 * 1024;
    while (cap < w->len + n)
        cap *= 2;
    if (!(p = realloc(w->buf, cap)))
        return 0;
    w->buf = p;
    w->cap = cap;
    return 1;
}

static int page_size_ok(const wal_file *w, int n)
{
    return w->page ? n == w->page : n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

/* A frame header's bytes 4-7: the database's size after a commit, else 0 */
static int commit_header(const unsigned char *h)
{
    return (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int wal_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 at)
{
    wal_file *w = (wal_file *)f;
    const unsigned char *h = p;
    int rc;

    if (w->want_page) {
        /* the page of the header kept last, right after it */
        if (at == w->at + (sqlite3_int64)w->len && page_size_ok(w, n) && room(w, (size_t)n)) {
            memcpy(w->buf + w->len, p, (size_t)n);
            w->len += (size_t)n;
            w->page = n;
            w->want_page = 0;
            if (!w->commit)
                return SQLITE_OK;
            w->done = 1;        /* what follows goes straight to the file */
            return out(w);
        }
    } else if (n == FRAME_HDR && at >= WAL_HDR && w->gather && !w->done &&
               (!w->page || (at - WAL_HDR) % (FRAME_HDR + w->page) == 0)) {
        /* a frame's header: kept, right after the frames kept before it
         * (which go out first when it does not follow them, or when a
         * frame more would not fit) */
        if (w->len && (at != w->at + (sqlite3_int64)w->len ||
                       w->len + FRAME_HDR + 65536 > KEEP_MAX) && (rc = out(w)) != SQLITE_OK)
            return rc;
        if (room(w, FRAME_HDR + 65536)) {
            if (!w->len)
                w->at = at;
            memcpy(w->buf + w->len, p, FRAME_HDR);
            w->len += FRAME_HDR;
            w->want_page = 1;
            w->commit = commit_header(h);
            return SQLITE_OK;
        }
    }
    if ((rc = out(w)) != SQLITE_OK)
        return rc;
    /* a commit frame's header not kept (no memory for it): nothing more
     * is kept in this COMMIT either */
    if (n == FRAME_HDR && w->gather && commit_header(h))
        w->done = 1;
    return w->real->pMethods->xWrite(w->real, p, n, at);
}

static int wal_close(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;
    int rc = out(w), rc2 = w->real->pMethods->xClose(w->real);

    free(w->buf);
    w->buf = NULL;
    w->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *f, void *p, int n, sqlite3_int64 at)
{
    wal_file *w = (wal_file *)f;
    int rc = out(w);

    return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, p, n, at);
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    wal_file *w = (wal_file *)f;
    int rc = out(w);

    return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
    wal_file *w = (wal_file *)f;
    int rc = out(w);

    return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    wal_file *w = (wal_file *)f;
    int rc = out(w);

    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int wal_lock(sqlite3_file *f, int level)
{
    wal_file *w = (wal_file *)f;

    return w->real->pMethods->xLock(w->real, level);
}

static int wal_unlock(sqlite3_file *f, int level)
{
    wal_file *w = (wal_file *)f;

    return w->real->pMethods->xUnlock(w->real, level);
}

static int wal_check_reserved(sqlite3_file *f, int *out_)
{
    wal_file *w = (wal_file *)f;

    return w->real->pMethods->xCheckReservedLock(w->real, out_);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
    wal_file *w = (wal_file *)f;
    int rc = out(w);

    return rc != SQLITE_OK ? rc : w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wal_sector_size(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;

    return w->real->pMethods->xSectorSize(w->real);
}

static int wal_device(sqlite3_file *f)
{
    wal_file *w = (wal_file *)f;

    return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* The version 1 methods only: SQLite maps no WAL into memory and keeps
 * the WAL index beside the database file, whose methods are its own. */
static const sqlite3_io_methods wal_io = {
    1, wal_close, wal_read, wal_write, wal_truncate, wal_sync, wal_file_size,
    wal_lock, wal_unlock, wal_check_reserved, wal_file_control, wal_sector_size,
    wal_device, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* A WAL is opened inside ours; any other file in f itself, with SQLite's
 * own methods (its struct is larger than the default's: never mind). */
static int vfs_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags,
                    int *out_flags)
{
    wal_file *w = (wal_file *)f;
    int rc;

    (void)v;
    if (!(flags & SQLITE_OPEN_WAL))
        return real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
    memset(w, 0, sizeof *w);
    w->real = (sqlite3_file *)((char *)f + OURS);
    rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out_flags);
    /* SQLite closes a file whose methods are set, whatever the result */
    w->base.pMethods = w->real->pMethods ? &wal_io : NULL;
    return rc;
}

/* db's WAL (its journal, in WAL mode), when opened here; or NULL */
static wal_file *wal_of(sqlite3 *db)
{
    sqlite3_file *f = NULL;

    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK ||
        !f || f->pMethods != &wal_io)
        return NULL;
    return (wal_file *)f;
}

void uh_sq_vfs_gather(sqlite3 *db)
{
    wal_file *w = wal_of(db);

    if (w) {
        w->gather = 1;
        w->done = 0;
    }
}

void uh_sq_vfs_gathered(sqlite3 *db, int committed)
{
    wal_file *w = wal_of(db);

    if (!w)
        return;
    w->gather = w->done = 0;
    /* Nothing is left after a commit: its frame's page wrote the buffer
     * out, and nothing was kept after it.  Should anything be, it is the
     * commit's and goes to the file.  After a COMMIT that failed before
     * its frame, what is left never made the WAL's index: dropped. */
    if (committed)
        out(w);
    w->len = 0;
    w->want_page = w->commit = 0;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered;

static void register_vfs(void)
{
    if (!(real_vfs = sqlite3_vfs_find(NULL)))
        return;
    vfs = *real_vfs;
    vfs.pNext = NULL;
    vfs.zName = "unhook";
    vfs.szOsFile = (int)OURS + real_vfs->szOsFile;
    vfs.xOpen = vfs_open;
    registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *uh_sq_vfs(void)
{
    pthread_once(&once, register_vfs);
    return registered ? vfs.zName : NULL;
}
