/*
 * lifecycle.c -- the state machine, once.  Desired state is what the user
 * asked; actual state is what the engine achieved; each event moves an
 * instance (one function an event) and tells the caller what to do next.
 * Nothing here touches the store or runs a flow.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lifecycle.h"

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? uh_strdup(v) : NULL;
}

/* Due now, from the first attempt. */
static void requeue(uh_inst *i, uh_state to, double now)
{
    i->state = to;
    i->attempts = 0;
    i->next_attempt_at = now;
    i->updated_at = now;
}

static uh_verdict on_enable(uh_inst *i, uh_trans *t)
{
    i->desired = UH_WANT_ON;
    requeue(i, UH_REGISTERING, t->now);
    return UH_V_RUN;
}

static uh_verdict on_disable(uh_inst *i, uh_trans *t)
{
    set_str(&i->reason, t->reason ? t->reason : "disabled");
    i->updated_at = t->now;
    if (i->state == UH_OFF) {
        if (i->desired == UH_WANT_OFF)
            return UH_V_NOTHING;
        i->desired = UH_WANT_OFF;
        return UH_V_ALREADY_OFF;
    }
    i->desired = UH_WANT_OFF;
    if (t->busy)                /* the other process's outcome carries it on */
        return UH_V_IN_PROGRESS;
    if (!i->registration) {     /* never registered: nothing to tell the provider */
        i->state = UH_OFF;
        i->next_attempt_at = 0;
        return UH_V_NOT_REGISTERED;
    }
    requeue(i, UH_DEREGISTERING, t->now);
    return UH_V_RUN;
}

static uh_verdict on_retry(uh_inst *i, uh_trans *t)
{
    if (i->state != UH_FAILED)
        return UH_V_NOT_FAILED;
    requeue(i, i->desired == UH_WANT_OFF ? UH_DEREGISTERING : UH_REGISTERING, t->now);
    set_str(&i->last_error, NULL);
    if (i->desired == UH_WANT_OFF)
        set_str(&i->reason, "retry");
    return UH_V_RUN;
}

static char *error_text(const unhook_flow_result *res, int gave_up, int attempts)
{
    uh_buf b = {0};

    if (gave_up)
        uh_buf_printf(&b, "gave up after %d attempts: ", attempts);
    uh_buf_printf(&b, "%s: %s", res->code ? res->code : "error",
                  res->message ? res->message : "");
    return uh_buf_take(&b);
}

/* Exponential backoff with full jitter, or what the provider asks (up to
 * a day: a hostile Retry-After must not put a deregistration off for ever). */
static double backoff_ms(const uh_trans *t, int attempts)
{
    double delay = t->policy.base_ms * pow(2.0, (double)(attempts - 1));

    if (delay > t->policy.max_ms)
        delay = t->policy.max_ms;
    if (t->res->retry_after >= 0)
        return (t->res->retry_after < 86400.0 ? t->res->retry_after : 86400.0) * 1000.0;
    return delay * t->jitter;
}

static uh_verdict on_outcome(uh_inst *i, uh_trans *t)
{
    const unhook_flow_result *res = t->res;
    int reg = i->state == UH_REGISTERING;

    i->attempts++;
    i->updated_at = t->now;
    set_str(&i->last_error, NULL);
    t->outcome = unhook_outcome_name(res->outcome);
    switch (res->outcome) {
    case UNHOOK_OUTCOME_DONE:
    case UNHOOK_OUTCOME_GONE:
        i->next_attempt_at = 0;
        i->attempts = 0;
        if (reg) {
            i->state = UH_REGISTERED;
            set_str(&i->registration, res->registration);
        } else {
            i->state = UH_OFF;
            t->released = i->registration;     /* moves to history */
            i->registration = NULL;
        }
        break;
    case UNHOOK_OUTCOME_RETRY:
        if (i->attempts >= t->policy.max_attempts) {
            i->last_error = error_text(res, 1, i->attempts);
            i->state = UH_FAILED;
            i->next_attempt_at = 0;
            t->outcome = unhook_outcome_name(UNHOOK_OUTCOME_FAILED);
            break;
        }
        i->next_attempt_at = t->now + backoff_ms(t, i->attempts) / 1000.0;
        i->last_error = error_text(res, 0, 0);
        break;
    default:
        i->state = UH_FAILED;
        i->next_attempt_at = 0;
        i->last_error = error_text(res, 0, 0);
        break;
    }
    return UH_V_RECORD;
}

/* Turned off while registering: deregister what was just registered. */
static uh_verdict on_desired(uh_inst *i, uh_trans *t)
{
    if (i->desired == UH_WANT_OFF && i->state == UH_REGISTERED) {
        requeue(i, UH_DEREGISTERING, t->now);
        if (!i->reason)
            set_str(&i->reason, "disabled");
    }
    return UH_V_RECORD;
}

/* Reconcile found no webhook for an instance that is on: it is lost
 * (registration data kept for the record); anything else is left alone. */
static uh_verdict on_lost(uh_inst *i, uh_trans *t)
{
    if (i->desired != UH_WANT_ON || i->state != UH_REGISTERED)
        return UH_V_NOTHING;
    i->state = UH_LOST;
    i->updated_at = t->now;
    return UH_V_RECORD;
}

uh_verdict uh_transition(uh_inst *i, uh_trans *t)
{
    static uh_verdict (*const handlers[UH_NEVENTS])(uh_inst *, uh_trans *) = {
        [UH_EV_ENABLE] = on_enable,   [UH_EV_DISABLE] = on_disable,
        [UH_EV_RETRY] = on_retry,     [UH_EV_OUTCOME] = on_outcome,
        [UH_EV_DESIRED] = on_desired, [UH_EV_LOST] = on_lost,
    };

    return handlers[t->ev](i, t);
}

int uh_bulk_disable(const char *reason, uh_bulk out[2])
{
    const char *why = reason ? reason : "disabled";

    /* on, with registration data: deregister; without: nothing to do */
    out[0] = (uh_bulk){.desired = UH_WANT_ON, .registered = 1,
                       .to_desired = UH_WANT_OFF, .to = UH_DEREGISTERING,
                       .reason = why, .reset = 1, .clear_error = 1};
    out[1] = (uh_bulk){.desired = UH_WANT_ON, .registered = 0,
                       .to_desired = UH_WANT_OFF, .to = UH_OFF, .reason = why};
    return 2;
}

int uh_bulk_requeue(uh_bulk out[2])
{
    /* dead letters go back toward what the user wants */
    out[0] = (uh_bulk){.from = 1u << UH_FAILED, .desired = UH_WANT_OFF,
                       .registered = -1, .to_desired = -1,
                       .to = UH_DEREGISTERING, .reset = 1, .unclaim = 1};
    out[1] = (uh_bulk){.from = 1u << UH_FAILED, .desired = UH_WANT_ON,
                       .registered = -1, .to_desired = -1,
                       .to = UH_REGISTERING, .reset = 1, .unclaim = 1};
    return 2;
}

int uh_owner_alive(const char *owner)
{
    char host[64] = "";
    size_t n;
    long pid;

    gethostname(host, sizeof host - 1);
    n = strlen(host);
    if (!owner || strncmp(owner, host, n) != 0 || owner[n] != ':')
        return 1;               /* another host's: trust its lease */
    pid = strtol(owner + n + 1, NULL, 10);
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH);
}

int uh_claimed_elsewhere(const uh_inst *i, const char *me, double now,
                         int lease_only)
{
    return i->claim_owner && i->claimed_until > now &&
           strcmp(i->claim_owner, me) != 0 &&
           (lease_only || uh_owner_alive(i->claim_owner));
}

typedef struct owners {
    char **v;
    int n;
} owners;

static void add_dead(void *ud, const char *owner)
{
    owners *dead = ud;
    char **p;

    if (uh_owner_alive(owner) || !(p = realloc(dead->v, (size_t)(dead->n + 1) * sizeof *p)))
        return;
    dead->v = p;
    if ((p[dead->n] = uh_strdup(owner)))
        dead->n++;
}

int uh_release_dead(uh_store *s, double now)
{
    owners dead = {0};
    int rc = s->ops->owners(s, now, add_dead, &dead);

    for (int i = 0; i < dead.n; i++) {
        s->ops->release(s, dead.v[i]);
        free(dead.v[i]);
    }
    free(dead.v);
    return rc;
}

double uh_jitter(unhook_engine *E)
{
    E->rng ^= E->rng << 13;
    E->rng ^= E->rng >> 7;
    E->rng ^= E->rng << 17;
    return (double)(E->rng >> 11) / 9007199254740992.0;
}
