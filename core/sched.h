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
/* Drive every run until all are done. */
void uh_sched_drain(uh_sched *s);

#endif
