/*
 * manage.h -- private: what instance management (manage.c: update, edit,
 * forget, enable --again), reconcile (reconcile.c) and the public
 * lifecycle API (instance.c) share.  Lifecycle layer.
 */
#ifndef UNHOOK_MANAGE_H
#define UNHOOK_MANAGE_H

#include "lifecycle.h"

/* may_enable's verdict when the same instance is on already. */
#define UH_ALREADY_ON (-1)

/* The connector as an instance names it (a folder made absolute), malloc'd;
 * NULL when a folder cannot be found (instance.c). */
char *uh_connector_key(unhook_engine *E, const char *connector);

/*
 * An instance that is on, enabled again with req: UH_ALREADY_ON when
 * connector, event, options and connection are the same, else
 * UNHOOK_USAGE with a message pointing to 'unhook update' (manage.c).
 */
int uh_enable_same(unhook_engine *E, const uh_inst *i, const unhook_flow_request *req);

/* Whether two JSON texts hold the same value (the host state decodes). */
int uh_json_same(unhook_engine *E, const char *a, const char *b);

/* Put i and a history line in one transaction (h.instance_id is i's). */
int uh_put_noted(unhook_engine *E, uh_store *s, const uh_inst *i, unhook_history h);

#endif
