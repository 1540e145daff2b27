/*
 * observe.c -- observers of an engine's work: the attempt callback that
 * a long-running host (`unhook serve`) uses for metrics and structured
 * logs.  The work loop (work.c) calls it after each outcome is committed.
 */
#include "lifecycle.h"

void unhook_engine_on_attempt(unhook_engine *E, unhook_attempt_fn fn, void *ud)
{
    if (!E)
        return;
    E->on_attempt = fn;
    E->attempt_ud = ud;
}
