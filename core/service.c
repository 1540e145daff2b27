/*
 * service.c -- the work loop as a service: unhook_engine_serve keeps
 * claiming due work (new intents from any process, retries as they come
 * due) until the host sets its stop flag, so a slow flow in flight never
 * holds up the work behind it.  The loop itself is work.c's.
 */
#include "lifecycle.h"

int unhook_engine_serve(unhook_engine *E, const unhook_filter *f,
                        const volatile int *stop, unhook_stats *stats)
{
    int rc;

    if (!stop) {
        uh_seterr(&E->diag, "unhook_engine_serve needs a stop flag");
        return UNHOOK_USAGE;
    }
    E->stop = stop;
    rc = unhook_engine_run(E, f, -1, 1, stats, NULL, NULL);
    E->stop = NULL;
    return rc;
}
