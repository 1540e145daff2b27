/*
 * job.h -- private: one attempt of the work loop (a job) and the work it
 * belongs to.  work.c claims, schedules and commits; job.c starts a job,
 * reads its end, applies the state machine's verdict and reports it.
 */
#ifndef UNHOOK_JOB_H
#define UNHOOK_JOB_H

#include "idset.h"
#include "pace.h"

#define BATCH 64                /* outcomes per commit at most */

/* A connector as the work loop schedules it (pace.c). */
typedef uh_pace cinfo;

/* How often a connection file in use is looked at for edits (seconds). */
#define UH_CONN_RECHECK_S 1.0

typedef struct conncache {
    char *path;
    char stamp[96];             /* the file as it was read: inode, size, mtime */
    double checked;             /* when stamp was last compared (uh_now) */
    const cinfo *ci;            /* the connector it serves (its defaults) */
    uh_conn conn;
    int rc;
    char *error;
    struct conncache *next;
} conncache;

/* What an attempt runs: by the state it was claimed in. */
typedef enum uh_job_kind {
    UH_JOB_REGISTER = 0,        /* registering */
    UH_JOB_DEREGISTER,          /* deregistering */
    UH_JOB_RENEW                /* registered, its renewal due */
} uh_job_kind;

typedef struct job {
    uh_run run;                 /* first: the run's done callback finds us */
    uh_inst inst;
    unhook_flow_result res;
    char *released;             /* registration data moved to history */
    cinfo *ci;
    uh_job_kind kind;
    int lost;                   /* its claim was lost: outcome not recorded */
    int attempt;                /* the number of this attempt */
    double started;             /* when it started (uh_now), for observers */
    unhook_history h;           /* its line of history; strings point into it */
    struct job *next;
} job;

typedef struct work {
    unhook_engine *E;
    uh_store *s;
    const unhook_filter *f;
    const char *only_id;
    cinfo *infos;
    conncache *conns;
    job *queue;                 /* claimed, not started */
    job *held;                  /* claimed for a stopped connector: given back */
    job *finished;              /* run, outcome not yet committed */
    int nfinished, active;
    double last_flush, last_progress, last_renew;
    double lease;               /* seconds a claim lasts */
    const char *owner;
    unhook_stats *stats;
    unhook_progress_fn progress;
    void *ud;
    unhook_flow_result *capture; /* the single job's result, for one-id work */
    uh_idset pending;           /* ids counted in stats->pending */
    int rc;
    uh_report_fn report;        /* each committed outcome (driven), or NULL */
    void *report_ud;
    double next_retry;          /* earliest next attempt committed (wall), or 0 */
    int claiming;             /* the loop may claim more (work.c) */
    int lazy;                   /* outcomes by group commit (store.h): uh_work */
    struct unsynced *unsynced;  /* committed, not yet on disk: oldest first */
    struct unsynced **unsynced_end;
} work;


/* The connector named key as the work loop schedules it (cached). */
cinfo *uh_job_info(work *w, const char *key);
/* The kind of attempt an instance claimed in state st needs. */
uh_job_kind uh_job_kind_of(uh_state st);
/* Start j (a claimed instance): its flow runs, or its end is known now. */
void uh_job_start(work *w, job *j);
void uh_job_free(job *j);
/* The new states of the instances of the jobs in list from their
 * results, written under their claims (in the caller's transaction):
 * BATCH at a time when the store can (finish_many), else one by one.
 * Fills each job's h, whose strings point into the job. */
int uh_jobs_commit(work *w, job *list, double now);
/* j's committed (or not) outcome: the observer, the report, the stats,
 * the capture. */
void uh_job_report(work *w, job *j, int committed, double now);
/* Count id pending (add) or not: 1 if the set of pending ids changed
 * (w's own, or in a team the team's). */
int uh_job_pending(work *w, const char *id, int add);
/* Free the caches of w (connectors, connections). */
void uh_job_caches_free(work *w);

#endif
