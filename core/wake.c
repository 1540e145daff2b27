/*
 * wake.c -- an engine's wakeup: an eventfd that unhook_engine_wakeup
 * writes from any thread, which a host's loop watches (drive.c) and the
 * work loop's idle waits poll (work.c); and the refusal of calls that
 * would wait for flows while a host's loop drives the engine.
 */
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "lifecycle.h"

void uh_wake_drain(unhook_engine *E)
{
    uint64_t n;

    while (E->wakefd >= 0 && read(E->wakefd, &n, sizeof n) > 0)
        ;
}

int unhook_engine_wakeup(unhook_engine *E)
{
    uint64_t one = 1;

    if (!E || E->wakefd < 0)
        return UNHOOK_USAGE;
    /* both are safe from any thread: a write (the scheduler's epoll set
     * holds the fd), and curl's own wakeup of curl_multi_poll (its wait
     * when transfers move by perform and poll, sched.c) */
    if (write(E->wakefd, &one, sizeof one) < 0)
        return UNHOOK_IO;
    curl_multi_wakeup(E->rt.sched->multi);
    return UNHOOK_OK;
}

void uh_engine_nap(unhook_engine *E, long ms)
{
    struct pollfd p = {.fd = E->wakefd, .events = POLLIN};

    if (ms <= 0)
        return;
    if (E->wakefd < 0)
        usleep((useconds_t)ms * 1000);
    else if (poll(&p, 1, (int)ms) > 0)
        uh_wake_drain(E);
}

int uh_refuse_driven(unhook_engine *E, const char *what)
{
    if (!E || !E->drive)
        return UNHOOK_OK;
    uh_seterr(&E->diag, "%s waits for flows, and this engine is driven by its "
              "host's loop (unhook_engine_drive): use unhook_engine_undrive first",
              what);
    return UNHOOK_USAGE;
}
