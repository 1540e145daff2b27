/*
 * engine.h -- private: the engine object.  The runtime half (uh_rt) is
 * what runs flows; the rest is the store and the work it holds.  Only
 * the lifecycle's files and engine.c see this struct.
 */
#ifndef UNHOOK_ENGINE_H
#define UNHOOK_ENGINE_H

#include "runtime.h"
#include "store.h"

struct unhook_engine {
    uh_diag diag;             /* last error, the log */
    uh_rt rt;                 /* Lua states, scheduler, cards */
    char *db_path;            /* NULL: $UNHOOK_DB or ./unhook.db */
    uh_store *store;          /* opened on first use */
    int concurrency;
    char *conn_override;      /* connection file for every instance */
    unsigned long long rng;   /* backoff jitter */
    char owner[96];           /* "host:pid:nonce": who holds this engine's claims */
    double last_reap;         /* when dead local claim owners were looked for */
};

/* The store, opened (and this engine's owner id set) on first use. */
int uh_engine_store(unhook_engine *E, uh_store **out);
/* For reading only: a store that does not exist yet is not created. */
int uh_store_missing(unhook_engine *E);

#endif
