/*
 * same.h -- private: what makes two instances the same one (same.c).
 * Lifecycle layer, below instance.c, manage.c and reconcile.c.
 */
#ifndef UNHOOK_SAME_H
#define UNHOOK_SAME_H

#include "lifecycle.h"

/* may_enable's verdict when the same instance is on already. */
#define UH_ALREADY_ON (-1)

/* The connector as an instance names it (a folder made absolute), malloc'd;
 * NULL when a folder cannot be found. */
char *uh_connector_key(unhook_engine *E, const char *connector);

/*
 * An instance that is on, enabled again with req: UH_ALREADY_ON when
 * connector, event, options and connection are the same, else
 * UNHOOK_USAGE with a message pointing to 'unhook update'.
 */
int uh_enable_same(unhook_engine *E, const uh_inst *i, const unhook_flow_request *req);

/* Whether two JSON texts hold the same value. */
int uh_json_same(unhook_engine *E, const char *a, const char *b);

/*
 * reconcile.FN(a, b) of scripts/unhook/reconcile.lua in the host state: the
 * string it returns (malloc'd), "1" for true, or NULL (false, or an error
 * whose message is the engine's).
 */
char *uh_host_compare(unhook_engine *E, const char *fn, const char *a, const char *b);

#endif
