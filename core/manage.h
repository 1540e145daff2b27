/*
 * manage.h -- private: what reconcile (reconcile.c) takes from instance
 * management (manage.c: update, edit, forget, enable --again).  Lifecycle
 * layer.
 */
#ifndef UNHOOK_MANAGE_H
#define UNHOOK_MANAGE_H

#include "lifecycle.h"

/* An id no instance has: STEM (when bare), else STEM SEP 1 (or 2 after a
 * bare STEM), ...; NULL on a store error (manage.c). */
char *uh_free_id(uh_store *s, const char *stem, char sep, int bare);

/* Put i and a history line in one transaction (h.instance_id is i's). */
int uh_put_noted(unhook_engine *E, uh_store *s, const uh_inst *i, unhook_history h);

#endif
