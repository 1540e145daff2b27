/*
 * store.c -- instances as every backend hands them out.
 */
#include <stdio.h>
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
    o->expires_at = i->expires_at;
}

/* ---- SQL shared by the backends that speak it --------------------------- */

static void param(uh_buf *b, char mark, int n)
{
    uh_buf_printf(b, "%c%d", mark, n);
}

void uh_sql_filter(uh_buf *b, char mark, const unhook_filter *f,
                   const char **vals, int *n)
{
    static const char *const cols[] = {"state", "connector", "event", "id"};
    const char *v[4] = {0};

    if (!f)
        return;
    v[0] = f->state, v[1] = f->connector, v[2] = f->event, v[3] = f->id;
    for (int k = 0; k < 4; k++)
        if (v[k]) {
            uh_buf_printf(b, " AND %s = ", cols[k]);
            vals[*n] = v[k];
            param(b, mark, ++*n);
        }
}

void uh_sql_bulk_where(uh_buf *b, char mark, const uh_bulk *bk,
                       const unhook_filter *f, const char **vals, int *n)
{
    int first = 1;

    uh_buf_puts(b, " WHERE 1 = 1");
    if (bk->from) {
        uh_buf_puts(b, " AND state IN (");
        for (int k = 0; k < UH_NSTATES; k++)
            if (bk->from & (1u << k)) {
                uh_buf_printf(b, "%s'%s'", first ? "" : ",", uh_state_name((uh_state)k));
                first = 0;
            }
        uh_buf_puts(b, ")");
    }
    if (bk->desired >= 0)
        uh_buf_printf(b, " AND desired = '%s'", uh_desired_name((uh_desired)bk->desired));
    if (bk->registered >= 0)
        uh_buf_puts(b, bk->registered ? " AND registration IS NOT NULL"
                                      : " AND registration IS NULL");
    if (bk->expiring >= 0)
        uh_buf_puts(b, bk->expiring ? " AND expires_at > 0" : " AND expires_at = 0");
    uh_sql_filter(b, mark, f, vals, n);
}

void uh_sql_bulk(uh_buf *b, char mark, const uh_bulk *bk, const unhook_filter *f,
                 const char **vals, int *n)
{
    /* 1: the new state, 2: now (the caller binds a time there) */
    vals[0] = uh_state_name(bk->to);
    vals[1] = NULL;
    *n = 2;
    /* SQLite ('?'): a constraint broken rolls the whole transaction back,
     * which is what the store does with any error here anyway, so that the
     * statement needs no journal of its own (a temporary file written
     * with every page it changes, the size of the table at a bulk
     * disable) */
    uh_buf_printf(b, "UPDATE %sinstances SET state = %c1, updated_at = %c2",
                  mark == '?' ? "OR ROLLBACK " : "", mark, mark);
    if (bk->to_desired >= 0) {
        uh_buf_puts(b, ", desired = ");
        vals[*n] = uh_desired_name((uh_desired)bk->to_desired);
        param(b, mark, ++*n);
    }
    if (bk->reason) {
        uh_buf_puts(b, ", reason = ");
        vals[*n] = bk->reason;
        param(b, mark, ++*n);
    }
    if (bk->reset)
        uh_buf_printf(b, ", attempts = 0, next_attempt_at = %c2", mark);
    if (bk->clear_error)
        uh_buf_puts(b, ", last_error = NULL");
    if (bk->unclaim)
        uh_buf_puts(b, ", claimed_until = 0");
    uh_sql_bulk_where(b, mark, bk, f, vals, n);
}

void uh_token_row_clear(uh_token_row *r)
{
    free(r->key);
    free(r->sealed);
    memset(r, 0, sizeof *r);
}
