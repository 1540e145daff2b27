/*
 * state.c -- the names of states, as the store keeps them and users
 * see them.
 */
#include <string.h>

#include "state.h"

static const char *const state_names[UH_NSTATES] = {
#define UH_STATE_NAME_(name, value, text) [value] = text,
    UH_STATES(UH_STATE_NAME_)
#undef UH_STATE_NAME_
};

const char *uh_state_name(uh_state s)
{
    return (unsigned)s < UH_NSTATES ? state_names[s] : "unknown";
}

const char *uh_desired_name(uh_desired d)
{
    return d == UH_WANT_ON ? "on" : "off";
}

int uh_state_parse(const char *name)
{
    for (int i = 0; name && i < UH_NSTATES; i++)
        if (strcmp(state_names[i], name) == 0)
            return i;
    return -1;
}

int uh_desired_parse(const char *name)
{
    return !name ? -1 : strcmp(name, "on") == 0 ? UH_WANT_ON
         : strcmp(name, "off") == 0 ? UH_WANT_OFF : -1;
}

const char *unhook_outcome_name(unhook_outcome o)
{
    static const char *const names[] = {"done", "gone", "retry", "failed"};

    return (unsigned)o < 4 ? names[o] : "unknown";
}
