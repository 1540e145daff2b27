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
#include <time.h>
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
    i->expires_at = 0;          /* a new subscription says when it lapses */
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

/* Where a dead letter goes back to: toward what the user wants; a
 * subscription whose renewal failed (it holds an expiry) is renewed. */
static uh_state requeued_state(const uh_inst *i)
{
    if (i->desired == UH_WANT_OFF)
        return UH_DEREGISTERING;
    return i->expires_at > 0 ? UH_REGISTERED : UH_REGISTERING;
}

static uh_verdict on_retry(uh_inst *i, uh_trans *t)
{
    if (i->state != UH_FAILED)
        return UH_V_NOT_FAILED;
    requeue(i, requeued_state(i), t->now);
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

/* When a subscription that lapses at expires is renewed: `before`
 * seconds ahead (the event's renewal), but not before halfway there, so
 * that subscriptions that live shorter than `before` are renewed at half
 * their life rather than over and over.  0: not renewed. */
static double renewal_due(const uh_policy *p, double expires, double now)
{
    double due, half;

    if (p->renew_before < 0 || expires <= 0)
        return 0;
    due = expires - p->renew_before;
    half = now + (expires - now) / 2;
    return due > half ? due : half;
}

/* Registered, or renewed: the new data, and its renewal on time. */
static void now_registered(uh_inst *i, uh_trans *t)
{
    i->state = UH_REGISTERED;
    set_str(&i->registration, t->res->registration);
    i->expires_at = t->res->expires_at;
    i->next_attempt_at = renewal_due(&t->policy, i->expires_at, t->now);
}

/* The attempt reached its goal (done, or gone at the provider). */
static void ended(uh_inst *i, uh_trans *t)
{
    int renewal = i->state == UH_REGISTERED;

    i->next_attempt_at = 0;
    i->attempts = 0;
    if (i->state == UH_REGISTERING || (renewal && t->res->outcome == UNHOOK_OUTCOME_DONE)) {
        now_registered(i, t);
    } else if (renewal) {       /* the provider no longer has it: it lapsed */
        i->state = UH_EXPIRED;
        i->last_error = error_text(t->res, 0, 0);
    } else {
        i->state = UH_OFF;
        t->released = i->registration;     /* moves to history */
        i->registration = NULL;
        i->expires_at = 0;
    }
}

static void dead_letter(uh_inst *i, uh_trans *t, int gave_up)
{
    i->last_error = error_text(t->res, gave_up, i->attempts);
    i->state = UH_FAILED;
    i->next_attempt_at = 0;
    if (gave_up)
        t->outcome = unhook_outcome_name(UNHOOK_OUTCOME_FAILED);
}

static void retry_later(uh_inst *i, uh_trans *t)
{
    if (i->attempts >= t->policy.max_attempts) {
        dead_letter(i, t, 1);
        return;
    }
    i->next_attempt_at = t->now + backoff_ms(t, i->attempts) / 1000.0;
    /* a renewal is tried at the latest when the subscription lapses:
     * then it is found expired (uh_settled) */
    if (i->state == UH_REGISTERED && i->expires_at > 0 && i->next_attempt_at > i->expires_at)
        i->next_attempt_at = i->expires_at;
    i->last_error = error_text(t->res, 0, 0);
}

static uh_verdict on_outcome(uh_inst *i, uh_trans *t)
{
    i->attempts++;
    i->updated_at = t->now;
    set_str(&i->last_error, NULL);
    t->outcome = unhook_outcome_name(t->res->outcome);
    switch (t->res->outcome) {
    case UNHOOK_OUTCOME_DONE:
    case UNHOOK_OUTCOME_GONE:
        ended(i, t);
        break;
    case UNHOOK_OUTCOME_RETRY:
        retry_later(i, t);
        break;
    default:
        dead_letter(i, t, 0);
        break;
    }
    return UH_V_RECORD;
}

/* Turned off while registering (or renewing): deregister what was
 * registered; an expired subscription follows the event's choice when
 * its deregistration runs. */
static uh_verdict on_desired(uh_inst *i, uh_trans *t)
{
    if (i->desired == UH_WANT_OFF && (i->state == UH_REGISTERED || i->state == UH_EXPIRED)) {
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
    i->next_attempt_at = 0;     /* nothing to renew */
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

int uh_bulk_disable(const char *reason, uh_bulk out[UH_BULK_MAX])
{
    const char *why = reason ? reason : "disabled";

    /* on, with registration data: deregister; without: nothing to do */
    out[0] = (uh_bulk){.desired = UH_WANT_ON, .registered = 1, .expiring = -1,
                       .to_desired = UH_WANT_OFF, .to = UH_DEREGISTERING,
                       .reason = why, .reset = 1, .clear_error = 1};
    out[1] = (uh_bulk){.desired = UH_WANT_ON, .registered = 0, .expiring = -1,
                       .to_desired = UH_WANT_OFF, .to = UH_OFF, .reason = why};
    return 2;
}

int uh_bulk_requeue(uh_bulk out[UH_BULK_MAX])
{
    /* dead letters go back toward what the user wants, as requeued_state
     * says: off, deregister; on, renew what holds an expiry, else register */
    out[0] = (uh_bulk){.from = 1u << UH_FAILED, .desired = UH_WANT_OFF,
                       .registered = -1, .expiring = -1, .to_desired = -1,
                       .to = UH_DEREGISTERING, .reset = 1, .unclaim = 1};
    out[1] = (uh_bulk){.from = 1u << UH_FAILED, .desired = UH_WANT_ON,
                       .registered = -1, .expiring = 1, .to_desired = -1,
                       .to = UH_REGISTERED, .reset = 1, .unclaim = 1};
    out[2] = (uh_bulk){.from = 1u << UH_FAILED, .desired = UH_WANT_ON,
                       .registered = -1, .expiring = 0, .to_desired = -1,
                       .to = UH_REGISTERING, .reset = 1, .unclaim = 1};
    return 3;
}

/* A lapsed subscription's time, for messages. */
static void when_text(double t, char *buf, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int uh_settled(const uh_inst *i, const uh_policy *p, double now,
               unhook_flow_result *res)
{
    char when[32], msg[160];

    if (i->expires_at <= 0 || i->expires_at > now)
        return 0;
    when_text(i->expires_at, when, sizeof when);
    if (i->state == UH_REGISTERED)
        snprintf(msg, sizeof msg, "the subscription lapsed at %s before it was renewed", when);
    else if (i->state == UH_DEREGISTERING && p->expired_gone)
        snprintf(msg, sizeof msg, "the subscription lapsed at %s: already gone "
                 "(expired = \"gone\")", when);
    else
        return 0;
    memset(res, 0, sizeof *res);
    res->outcome = UNHOOK_OUTCOME_GONE;
    res->code = uh_strdup("expired");
    res->message = uh_strdup(msg);
    res->retry_after = -1;
    return 1;
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

int uh_claimed_elsewhere(const uh_inst *i, const char *me, double now)
{
    return i->claim_owner && i->claimed_until > now &&
           strcmp(i->claim_owner, me) != 0 && uh_owner_alive(i->claim_owner);
}
