/*
 * store.c -- instances as every backend hands them out.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

void uh_inst_clear(uh_inst *i)
{
    free(i->id);
    free(i->connector);
    free(i->event);
    free(i->options);
    free(i->connection);
    free(i->registration);
    free(i->reason);
    free(i->last_error);
    free(i->claim_owner);
    memset(i, 0, sizeof *i);
}

void uh_inst_view(const uh_inst *i, unhook_instance *o)
{
    o->id = i->id;
    o->connector = i->connector;
    o->event = i->event;
    o->options = i->options;
    o->connection = i->connection;
    o->registration = i->registration;
    o->desired = uh_desired_name(i->desired);
    o->state = uh_state_name(i->state);
    o->reason = i->reason;
    o->last_error = i->last_error;
    o->attempts = i->attempts;
    o->next_attempt_at = i->next_attempt_at;
    o->created_at = i->created_at;
    o->updated_at = i->updated_at;
}

void uh_token_row_clear(uh_token_row *r)
{
    free(r->key);
    free(r->sealed);
    memset(r, 0, sizeof *r);
}
