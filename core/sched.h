/*
 * sched.h -- private: the scheduler: runs of flows resumed over one curl
 * multi handle (sched.c).  The part's contract is xfer.h.
 */
#ifndef UNHOOK_SCHED_H
#define UNHOOK_SCHED_H

#include "xfer.h"

/* ---- the scheduler (sched.c) --------------------------------------- */

uh_sched *uh_sched_new(void);
void uh_sched_free(uh_sched *s);
/* Add a prepared run (ready to resume). */
void uh_sched_add(uh_sched *s, uh_run *r);
/* One iteration: resume ready runs, move transfers, wait up to wait_ms
 * for activity.  Returns the number of runs still unfinished. */
int uh_sched_step(uh_sched *s, int wait_ms);
/* uh_sched_step in two halves: runs resumed, requests sent and answers
 * collected (*wait_ms: 0 when there is work at once); then the wait. */
int uh_sched_send(uh_sched *s, int *wait_ms);
void uh_sched_wait(uh_sched *s, int wait_ms);
/* Let transfers move, without waiting (curl_multi_perform's part). */
void uh_sched_perform(uh_sched *s);
/* Waits are cut short by wakefd (the engine's wakeup, an eventfd). */
void uh_sched_watch(uh_sched *s, int wakefd);
/* A host's loop takes curl's sockets over (drive.c): from now on
 * transfers move by curl_multi_perform and curl_multi_poll. */
void uh_sched_plain(uh_sched *s);
/* What uh_sched_resume did: ready runs left for later (out of budget);
 * a run ended (its done callback was called). */
#define UH_RESUME_LEFT 1
#define UH_RESUME_ENDED 2
/* Resume ready runs, each to the end of its slice, and call the done
 * callback of those that finished; with budget_s > 0, start no resume
 * after that long.  Returns UH_RESUME_* bits. */
int uh_sched_resume(uh_sched *s, double budget_s);
/* Hand finished transfers to their runs and expire runs waiting past
 * their budget, without waiting; lowers *wait_ms to when the next
 * deadline passes (0: a run is ready).  Returns the unfinished runs. */
int uh_sched_collect(uh_sched *s, int *wait_ms);
/* Resume r alone until it ends or waits for a transfer (others are left
 * as they are); 1 if it ended (its done callback was called). */
int uh_sched_run_alone(uh_sched *s, uh_run *r);
/* Drive every run until all are done. */
void uh_sched_drain(uh_sched *s);
/* Whether s records, replays or dry-runs its requests (a cassette). */
int uh_sched_taped(const uh_sched *s);

#endif
