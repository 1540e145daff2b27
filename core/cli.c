/*
 * cli.c -- the unhook command.  Uses the public API (unhook.h) only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unhook.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INVALID = 3,
       EXIT_STORE = 4, EXIT_PENDING = 75 };

/* Not an exit status: what a step returns when the command carries on. */
#define GO_ON (-1)

static const char *prog = "unhook";

static const char usage_main[] =
    "usage: unhook [--db PATH] [--connectors DIR] [-v] [--json] COMMAND [ARGS]\n"
    "\n"
    "Runs webhook deregistration flows written in Lua.\n"
    "\n"
    "commands:\n"
    "  check CONNECTOR            validate a connector's manifest, flows and cards\n"
    "  run CONNECTOR EVENT ...    run an event's deregistration flow once (no store)\n"
    "  register CONNECTOR EVENT   run an event's registration flow once, print the data\n"
    "  enable ID ...              register an instance and store its registration data\n"
    "  disable ID | --all         deregister one instance, or every one that is on\n"
    "  list                       list instances and their states\n"
    "  show ID                    show one instance and its registration data\n"
    "  history ID                 every attempt and change of an instance\n"
    "  retry ID | --failed        re-queue dead-lettered instances and run them\n"
    "  resume [--wait]            run every due attempt (after a crash, or retries)\n"
    "  import FILE                add instances from JSON Lines ('-': standard input)\n"
    "  export                     print every instance as JSON Lines\n"
    "\n"
    "options:\n"
    "  --db PATH          the store (default: $UNHOOK_DB, else ./unhook.db)\n"
    "  --connectors DIR   search DIR for connectors by name (also UNHOOK_CONNECTORS)\n"
    "  --memory-mb N      memory cap of each flow (default 64, or the manifest's)\n"
    "  --timeout-ms N     wall-clock budget of each flow (default 30000, or the manifest's)\n"
    "  -v, --verbose      trace every HTTP request and response (secrets masked)\n"
    "  --json             list, show and history print JSON\n"
    "  -h, --help         this help; 'unhook COMMAND --help' for a command\n"
    "  --version          print the version\n"
    "\n"
    "exit codes: 0 done, 1 flow failed, 2 usage, 3 connector or script invalid,\n"
    "            4 store error, 75 work left pending for retry\n";

static const char usage_check[] =
    "usage: unhook check CONNECTOR\n"
    "\n"
    "Validates connector.lua, every flow it names and every card.  Problems are\n"
    "printed as FILE:LINE: MESSAGE.  Exit 0 when valid, 3 when not.\n"
    "CONNECTOR is a folder, or a name on the connector search path.\n";

static const char usage_run[] =
    "usage: unhook run CONNECTOR EVENT [--option K=V]... [--input K=V]...\n"
    "                  [--registration JSON|@FILE] [--connection FILE]\n"
    "                  [--reason R] [--instance ID]\n"
    "\n"
    "Runs the event's deregistration flow once, without the store (the\n"
    "\"test\" button of a connector builder).  Registration data given as JSON\n"
    "is decoded for the flow; anything else is passed as a string.\n"
    "Exit 0 when deregistered or already gone, 1 when the flow failed.\n";

static const char usage_register[] =
    "usage: unhook register CONNECTOR EVENT [--option K=V]... [--input K=V]...\n"
    "                       [--connection FILE] [--instance ID]\n"
    "\n"
    "Runs the event's registration flow once, without the store, and prints\n"
    "the registration data as JSON on standard output.\n";

static const char usage_enable[] =
    "usage: unhook enable ID --connector C --event E [--option K=V]...\n"
    "                     [--connection FILE]\n"
    "\n"
    "Stores instance ID (desired on), runs the event's registration flow and\n"
    "stores the registration data before reporting success.  The path of the\n"
    "connection file is stored, never its secrets.\n"
    "Exit 0 when registered, 1 when the flow failed, 75 when the registration\n"
    "is pending retry ('unhook resume'), 2 for a bad argument or an instance\n"
    "that is already on, 3 when the connector is not found, 4 for a store error.\n";

static const char usage_disable[] =
    "usage: unhook disable ID [--reason R] [--connection FILE]\n"
    "       unhook disable --all [--connector C] [--event E] [--concurrency N]\n"
    "                      [--reason R] [--connection FILE]\n"
    "\n"
    "Records desired off (before any request), then runs one deregistration\n"
    "attempt now.  --all does so for every instance that is on and matches\n"
    "--connector and --event, N at a time (default 16), with progress on\n"
    "standard error and a summary on standard output.  --connection FILE is\n"
    "used instead of each instance's own connection.\n"
    "Exit 0 when deregistered, already gone or nothing to do; 1 when a flow\n"
    "failed (the registration data is kept: see 'unhook retry'); 75 when work\n"
    "is left pending for retry ('unhook resume'); 2 for an unknown ID.\n";

static const char usage_list[] =
    "usage: unhook list [--state S] [--connector C] [--event E] [--json]\n"
    "\n"
    "Lists instances by id: state, desired state, connector, event, attempts,\n"
    "next attempt and last error.  States: registering, registered,\n"
    "deregistering, off, failed.  With --json, a JSON array of instances.\n";

static const char usage_show[] =
    "usage: unhook show ID [--json]\n"
    "\n"
    "Prints one instance: options, connection file, states, attempts, next\n"
    "attempt, last error and registration data.  With --json, a JSON object.\n"
    "Exit 2 for an unknown ID.\n";

static const char usage_history[] =
    "usage: unhook history ID [--json]\n"
    "\n"
    "Prints every attempt and change of an instance, oldest first: time,\n"
    "action, outcome, HTTP status, attempt and message, and the registration\n"
    "data an attempt stored or released.  With --json, a JSON array.\n"
    "Exit 2 for an unknown ID.\n";

static const char usage_retry[] =
    "usage: unhook retry ID [--connection FILE]\n"
    "       unhook retry --failed [--connector C] [--event E] [--concurrency N]\n"
    "                    [--connection FILE]\n"
    "\n"
    "Re-queues a dead-lettered (failed) instance with its attempts reset and\n"
    "runs it now.  --failed re-queues every failed instance that matches, then\n"
    "runs every due attempt, with progress and a summary as 'disable --all'.\n"
    "Exit codes as for disable.\n";

static const char usage_resume[] =
    "usage: unhook resume [--wait] [--concurrency N] [--connection FILE]\n"
    "\n"
    "Runs every due attempt: instances a crash left registering or\n"
    "deregistering, and retries whose time has come.  With --wait, also waits\n"
    "for scheduled retries until nothing is pending.\n"
    "Exit 0 when done or nothing to do, 1 when a flow failed, 75 when work is\n"
    "left pending for retry.\n";

static const char usage_import[] =
    "usage: unhook import FILE\n"
    "\n"
    "Adds instances from JSON Lines (FILE, or - for standard input), one object\n"
    "a line: id, connector, event, options, connection, registration, state,\n"
    "desired.  All or nothing: a bad line, or an id that exists already, fails\n"
    "the whole import.  Exit 0 when imported, 2 for a bad file, 4 for a store\n"
    "error.\n";

static const char usage_export[] =
    "usage: unhook export\n"
    "\n"
    "Prints every instance as JSON Lines, the format import reads: for\n"
    "migration and backup.  Exit 4 for a store error.\n";

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_FAILED);
    }
    return p;
}

/* A JSON text under construction; n counts the members of the open object. */
typedef struct jsonobj {
    char *text;
    size_t len, cap;
    int n;
} jsonobj;

static void jadd(jsonobj *j, const char *s, size_t n)
{
    if (j->len + n + 2 > j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        while (cap < j->len + n + 2)
            cap *= 2;
        j->text = xrealloc(j->text, cap);
        j->cap = cap;
    }
    memcpy(j->text + j->len, s, n);
    j->len += n;
    j->text[j->len] = '\0';
}

static void jstr(jsonobj *j, const char *s, size_t n)
{
    size_t i;

    jadd(j, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            jadd(j, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jadd(j, esc, 6);
        } else {
            jadd(j, (const char *)&s[i], 1);
        }
    }
    jadd(j, "\"", 1);
}

/* Open the object or separate the member, then write "key":. */
static void jkey(jsonobj *j, const char *k, size_t n)
{
    jadd(j, j->n++ ? "," : "{", 1);
    jstr(j, k, n);
    jadd(j, ":", 1);
}

/* Add "k=v" to a JSON object of strings; -1 if there is no "k=". */
static int jpair(jsonobj *j, const char *kv)
{
    const char *eq = strchr(kv, '=');

    if (!eq || eq == kv)
        return -1;
    jkey(j, kv, (size_t)(eq - kv));
    jstr(j, eq + 1, strlen(eq + 1));
    return 0;
}

static const char *jdone(jsonobj *j)
{
    if (!j->n)
        return NULL;
    jadd(j, "}", 1);
    return j->text;
}

/* A string member; raw: v is JSON text already.  NULL is null. */
static void jfield(jsonobj *j, const char *k, const char *v, int raw)
{
    jkey(j, k, strlen(k));
    if (!v)
        jadd(j, "null", 4);
    else if (raw)
        jadd(j, v, strlen(v));
    else
        jstr(j, v, strlen(v));
}

/* A number to the millisecond (times), without trailing zeros. */
static void jnum(jsonobj *j, const char *k, double v)
{
    char buf[64];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%.3f", v);

    while (n > 0 && buf[n - 1] == '0')
        n--;
    if (n > 0 && buf[n - 1] == '.')
        n--;
    jkey(j, k, strlen(k));
    jadd(j, buf, n);
}

/* Append one element to a JSON array in a; n counts the elements. */
static void jelem(jsonobj *a, long n, const jsonobj *elem)
{
    jadd(a, n ? ",\n" : "[\n", 2);
    jadd(a, elem->text, elem->len);
}

static void jarray_print(jsonobj *a, long n)
{
    if (n)
        jadd(a, "\n]", 2);
    else
        jadd(a, "[]", 2);
    puts(a->text);
}

static void on_log(void *ud, int level, const char *line)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};

    (void)ud;
    if (level >= UNHOOK_LOG_TRACE)
        fprintf(stderr, "%s\n", line);
    else
        fprintf(stderr, "[%s] %s\n", names[level], line);
}

static int exit_for(int rc)
{
    switch (rc) {
    case UNHOOK_OK: return EXIT_DONE;
    case UNHOOK_ERROR: return EXIT_FAILED;
    case UNHOOK_INVALID: return EXIT_INVALID;
    case UNHOOK_STORE: return EXIT_STORE;
    case UNHOOK_PENDING: return EXIT_PENDING;
    default: return EXIT_USAGE;
    }
}

static int bad_usage(const char *msg, const char *arg, const char *usage)
{
    fprintf(stderr, "%s: %s%s%s\n\n%s", prog, msg, arg ? " " : "",
            arg ? arg : "", usage);
    return EXIT_USAGE;
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

/* ---- arguments ---------------------------------------------------------- */

enum { OPT_FLAG, OPT_STR, OPT_PAIR, OPT_COUNT };

/* One option of a command; dst is an int, a const char * or a jsonobj. */
typedef struct opt {
    const char *name;
    int kind;
    void *dst;
    const char *what;           /* the value, for "needs ..."; NULL: "a value" */
} opt;

#define OPT_END {NULL, 0, NULL, NULL}

static const opt no_opts[] = {OPT_END};

static int count_arg(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    return errno || *end || end == s || v <= 0 || v > 100000 ? -1 : (int)v;
}

/*
 * Parse a command's arguments (argv[0] is its name): options from opts,
 * positionals into pos, named by names (NULL-terminated), the first nreq
 * of them required.  Returns GO_ON, or the exit status after printing the
 * help or a usage error.
 */
static int parse_args(int argc, char **argv, const char *usage, const opt *opts,
                      const char **pos, const char *const *names, int nreq)
{
    const char *cmd = argv[0];
    char msg[160];
    int i, npos = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const opt *o;

        if (is_help(a)) {
            fputs(usage, stdout);
            return EXIT_DONE;
        }
        if (a[0] != '-' || !a[1]) {
            if (!names[npos]) {
                snprintf(msg, sizeof msg, "%s: unexpected argument", cmd);
                return bad_usage(msg, a, usage);
            }
            pos[npos++] = a;
            continue;
        }
        for (o = opts; o->name && strcmp(o->name, a) != 0; o++)
            ;
        if (!o->name) {
            snprintf(msg, sizeof msg, "%s: unknown option", cmd);
            return bad_usage(msg, a, usage);
        }
        if (o->kind == OPT_FLAG) {
            *(int *)o->dst = 1;
            continue;
        }
        if (!v) {
            snprintf(msg, sizeof msg, "%s: %s needs %s", cmd, a,
                     o->what ? o->what : "a value");
            return bad_usage(msg, NULL, usage);
        }
        i++;
        if (o->kind == OPT_STR) {
            *(const char **)o->dst = v;
        } else if (o->kind == OPT_PAIR && jpair(o->dst, v) < 0) {
            snprintf(msg, sizeof msg, "%s: %s expects NAME=VALUE, got '%.40s'",
                     cmd, a, v);
            return bad_usage(msg, NULL, usage);
        } else if (o->kind == OPT_COUNT && (*(int *)o->dst = count_arg(v)) < 0) {
            snprintf(msg, sizeof msg, "%s: %s expects a positive number, got '%.40s'",
                     cmd, a, v);
            return bad_usage(msg, NULL, usage);
        }
    }
    if (npos < nreq) {
        snprintf(msg, sizeof msg, "%s: missing %s", cmd, names[npos]);
        return bad_usage(msg, NULL, usage);
    }
    return GO_ON;
}

/* ---- the engine --------------------------------------------------------- */

typedef struct cli {
    unhook_config cfg;          /* filled by the global and command options */
    unhook_engine *E;           /* opened once the command's options are in */
    int json;
} cli;

/*
 * The search path: --connectors, UNHOOK_CONNECTORS, then the connectors
 * installed beside this binary (PREFIX/share/unhook/connectors), so an
 * installed tree works wherever it was copied to.
 */
static char *search_path(const char *flag)
{
    const char *env = getenv("UNHOOK_CONNECTORS");
    char exe[4096], *slash, *out;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    size_t len;

    exe[n > 0 ? n : 0] = '\0';
    slash = strrchr(exe, '/');
    if (slash) {
        char *up;
        *slash = '\0';
        /* the folder above bin/ (or build/), without "/.." in messages */
        slash = strrchr(exe, '/');
        if (slash && slash != exe)
            *slash = '\0';
        up = realpath(exe, NULL);
        if (up) {
            snprintf(exe, sizeof exe, "%s", up);
            free(up);
        }
    }
    len = (flag ? strlen(flag) : 0) + (env ? strlen(env) : 0) + 2 * strlen(exe) + 96;
    out = malloc(len);
    if (!out)
        return NULL;
    /* installed: PREFIX/bin/unhook; in the build tree: build/unhook */
    snprintf(out, len, "%s%s%s%s%s/share/unhook/connectors:%s/scripts/connectors",
             flag ? flag : "", flag ? ":" : "", env ? env : "", env ? ":" : "",
             slash ? exe : ".", slash ? exe : ".");
    return out;
}

static int open_engine(cli *c)
{
    unhook_config cfg = c->cfg;
    char *path = search_path(cfg.connectors);
    int rc;

    cfg.connectors = path;
    rc = unhook_engine_open(&c->E, &cfg);
    free(path);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_strerror(rc));
        return EXIT_FAILED;
    }
    return GO_ON;
}

/* Parse, then open the engine: GO_ON or the exit status. */
static int start(cli *c, int argc, char **argv, const char *usage, const opt *opts,
                 const char **pos, const char *const *names, int nreq)
{
    int st = parse_args(argc, argv, usage, opts, pos, names, nreq);

    return st == GO_ON ? open_engine(c) : st;
}

static int api_error(cli *c, int rc)
{
    fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
    return exit_for(rc);
}

/* A whole file (path NULL: standard input); NULL with errno set. */
static char *read_all(const char *path, size_t *lenp)
{
    FILE *f = path ? fopen(path, "rb") : stdin;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    int err;

    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = xrealloc(buf, cap);
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    err = ferror(f) ? errno : 0;
    if (f != stdin)
        fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

/* ---- check, run, register: no store ------------------------------------- */

static int cmd_check(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"CONNECTOR", NULL};
    const char *pos[1] = {NULL};
    char *dir;
    int rc, st = start(c, argc, argv, usage_check, no_opts, pos, names, 1);

    if (st != GO_ON)
        return st;
    dir = unhook_connector_path(c->E, pos[0]);
    if (!dir) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
        return EXIT_INVALID;
    }
    rc = unhook_connector_check(c->E, dir);
    if (rc == UNHOOK_OK)
        printf("%s: ok\n", dir);
    else
        fprintf(stderr, "%s\n", unhook_errmsg(c->E));
    free(dir);
    return rc == UNHOOK_OK ? EXIT_DONE
         : rc == UNHOOK_INVALID || rc == UNHOOK_NOTFOUND ? EXIT_INVALID
         : exit_for(rc);
}

/* run and register share their arguments. */
static int cmd_flow(cli *c, int argc, char **argv, int reg)
{
    static const char *const names[] = {"CONNECTOR", "EVENT", NULL};
    const char *usage = reg ? usage_register : usage_run;
    jsonobj opts = {0}, inputs = {0};
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    const char *pos[2] = {NULL, NULL};
    const opt run_opts[] = {
        {"--option", OPT_PAIR, &opts, "NAME=VALUE"},
        {"--input", OPT_PAIR, &inputs, "NAME=VALUE"},
        {"--connection", OPT_STR, &req.connection, NULL},
        {"--instance", OPT_STR, &req.instance_id, NULL},
        /* register ends its options here */
        {reg ? NULL : "--registration", OPT_STR, &req.registration, "JSON or @FILE"},
        {"--reason", OPT_STR, &req.reason, NULL},
        OPT_END
    };
    char *regfile = NULL, *dir = NULL;
    int rc, status = start(c, argc, argv, usage, run_opts, pos, names, 2);

    if (status != GO_ON)
        goto out;
    status = EXIT_USAGE;
    if (req.registration && req.registration[0] == '@') {
        regfile = read_all(req.registration + 1, NULL);
        if (!regfile) {
            fprintf(stderr, "%s: %s: cannot read registration file: %s\n",
                    prog, req.registration + 1, strerror(errno));
            goto out;
        }
        req.registration = regfile;
    }
    dir = unhook_connector_path(c->E, pos[0]);
    if (!dir) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
        status = EXIT_INVALID;
        goto out;
    }
    req.connector = dir;
    req.event = pos[1];
    req.options_json = jdone(&opts);
    req.inputs_json = jdone(&inputs);

    rc = reg ? unhook_flow_register(c->E, &req, &res)
             : unhook_flow_deregister(c->E, &req, &res);
    if (rc != UNHOOK_OK) {
        status = api_error(c, rc);
        goto out;
    }
    switch (res.outcome) {
    case UNHOOK_OUTCOME_DONE:
        if (reg)
            printf("%s\n", res.registration ? res.registration : "null");
        else
            printf("deregistered\n");
        status = EXIT_DONE;
        break;
    case UNHOOK_OUTCOME_GONE:
        printf("already gone: %s\n", res.message ? res.message : "");
        status = EXIT_DONE;
        break;
    case UNHOOK_OUTCOME_RETRY:
        fprintf(stderr, "%s: failed (retryable, %s): %s\n", prog,
                res.code ? res.code : "error", res.message ? res.message : "");
        if (res.retry_after >= 0)
            fprintf(stderr, "%s: the provider asks to retry after %.0f s\n",
                    prog, res.retry_after);
        status = EXIT_FAILED;
        break;
    default:
        fprintf(stderr, "%s: failed (%s): %s\n", prog,
                res.code ? res.code : "error", res.message ? res.message : "");
        status = EXIT_FAILED;
    }
out:
    unhook_flow_result_free(&res);
    free(opts.text);
    free(inputs.text);
    free(regfile);
    free(dir);
    return status;
}

static int cmd_run(cli *c, int argc, char **argv)
{
    return cmd_flow(c, argc, argv, 0);
}

static int cmd_register(cli *c, int argc, char **argv)
{
    return cmd_flow(c, argc, argv, 1);
}

/* ---- one instance: enable, disable, retry ------------------------------- */

/* Whole seconds from now until at (a Unix time), rounded; 0 if past. */
static long secs_until(double at)
{
    struct timespec ts;
    double d;

    clock_gettime(CLOCK_REALTIME, &ts);
    d = at - ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);

    return d > 0 ? (long)(d + 0.5) : 0;
}

/*
 * Report the outcome of one attempt on instance id (enable, disable,
 * retry).  The instance as stored afterwards tells a registration from a
 * deregistration, and when the next attempt is.
 */
static int report_one(cli *c, const char *id, int rc, const unhook_flow_result *res)
{
    const char *code = res->code ? res->code : "error";
    const char *msg = res->message ? res->message : "";
    unhook_instance *inst = NULL;
    int reg, status;

    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    unhook_instance_get(c->E, id, &inst);
    reg = inst && strcmp(inst->desired, "on") == 0;
    switch (res->outcome) {
    case UNHOOK_OUTCOME_DONE:
        if (res->code && strcmp(res->code, "already_off") == 0)
            printf("%s: already off\n", id);
        else if (res->code && strcmp(res->code, "not_registered") == 0)
            printf("%s: never registered; now off\n", id);
        else if (res->code && strcmp(res->code, "not_failed") == 0)
            printf("%s: not failed; nothing to retry\n", id);
        else
            printf("%s: %s\n", id, reg ? "registered" : "deregistered");
        status = EXIT_DONE;
        break;
    case UNHOOK_OUTCOME_GONE:
        if (res->status)
            printf("%s: already gone (HTTP %d)\n", id, res->status);
        else
            printf("%s: already gone\n", id);
        status = EXIT_DONE;
        break;
    case UNHOOK_OUTCOME_RETRY:
        printf("%s: %spending retry (%s): %s", id, reg ? "registration " : "",
               code, msg);
        if (inst && inst->next_attempt_at > 0)
            printf(" \xe2\x80\x94 next attempt in %ld s", secs_until(inst->next_attempt_at));
        putchar('\n');
        status = EXIT_PENDING;
        break;
    default:
        fprintf(stderr, "%s: %s: %sfailed (%s): %s\n", prog, id,
                reg ? "registration " : "", code, msg);
        if (inst && inst->registration)
            fprintf(stderr, "%s: %s: registration data kept; 'unhook retry %s' "
                    "re-queues it\n", prog, id, id);
        status = EXIT_FAILED;
    }
    unhook_instance_free(inst);
    return status;
}

static int cmd_enable(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    jsonobj opts = {0};
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    const opt table[] = {
        {"--connector", OPT_STR, &req.connector, NULL},
        {"--event", OPT_STR, &req.event, NULL},
        {"--option", OPT_PAIR, &opts, "NAME=VALUE"},
        {"--connection", OPT_STR, &req.connection, NULL},
        OPT_END
    };
    char *dir;
    int st = parse_args(argc, argv, usage_enable, table, pos, names, 1);

    if (st == GO_ON && (!req.connector || !req.event))
        st = bad_usage(req.connector ? "enable: missing --event"
                       : "enable: missing --connector", NULL, usage_enable);
    if (st == GO_ON)
        st = open_engine(c);
    if (st != GO_ON)
        goto out;
    /* the store keeps the name as given (a folder is made absolute) */
    dir = unhook_connector_path(c->E, req.connector);
    if (!dir) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
        st = EXIT_INVALID;
        goto out;
    }
    free(dir);
    req.options_json = jdone(&opts);
    st = report_one(c, pos[0], unhook_instance_enable(c->E, pos[0], &req, &res), &res);
out:
    unhook_flow_result_free(&res);
    free(opts.text);
    return st;
}

/* ---- bulk work: progress and summary ------------------------------------ */

typedef struct progress {
    const char *label;          /* names the plain lines: "disable --all" */
    int tty, drawn;
    double start, last;
} progress;

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_start(progress *p, const char *label)
{
    memset(p, 0, sizeof *p);
    p->label = label;
    p->tty = isatty(2);
    p->start = p->last = mono_now();
}

/*
 * A bar redrawn in place on a terminal; otherwise (a log file) a plain
 * line at most once a second.  resume learns its total only at the end.
 */
static void on_progress(void *ud, const unhook_stats *s)
{
    progress *p = ud;
    long n = s->done + s->gone + s->pending + s->failed + s->skipped + s->registered;
    double now = mono_now(), secs = now - p->start;
    double rate = secs > 0 ? (double)n / secs : 0;
    int known = s->total > 0 && s->total >= n;

    if (p->tty) {
        if (known) {
            char bar[21];
            int fill = (int)(20 * n / s->total);
            memset(bar, '#', (size_t)fill);
            memset(bar + fill, '-', (size_t)(20 - fill));
            bar[20] = '\0';
            fprintf(stderr, "\r[%s] %ld/%ld  %.0f/s", bar, n, s->total, rate);
            if (rate > 0)
                fprintf(stderr, "  ETA %.0fs", (double)(s->total - n) / rate);
        } else {
            fprintf(stderr, "\r%ld done  %.0f/s", n, rate);
        }
        fputs("\033[K", stderr);
        fflush(stderr);
        p->drawn = 1;
    } else if (now - p->last >= 1.0) {
        if (known)
            fprintf(stderr, "%s: %ld/%ld done (%.0f/s)\n", p->label, n, s->total, rate);
        else
            fprintf(stderr, "%s: %ld done (%.0f/s)\n", p->label, n, rate);
        p->last = now;
    }
}

/* Clear the bar, then the error or the summary; none: what no work says. */
static int bulk_end(cli *c, progress *p, int rc, const unhook_stats *s,
                    const char *none)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    if (none && s->total == 0) {
        puts(none);
        return EXIT_DONE;
    }
    if (s->registered > 0)
        printf("registered %ld, ", s->registered);
    printf("deregistered %ld, already gone %ld, pending retry %ld, failed %ld",
           s->done, s->gone, s->pending, s->failed);
    if (s->skipped > 0)
        printf(", never registered %ld", s->skipped);
    putchar('\n');
    return s->failed > 0 ? EXIT_FAILED : s->pending > 0 ? EXIT_PENDING : EXIT_DONE;
}

/*
 * disable and retry: one ID now, or in bulk (--all, --failed) every
 * instance the filter options match.
 */
static int cmd_converge(cli *c, int argc, char **argv, int retry)
{
    static const char *const names[] = {"ID", NULL};
    const char *cmd = retry ? "retry" : "disable", *flag = retry ? "--failed" : "--all";
    const char *usage = retry ? usage_retry : usage_disable;
    const char *pos[1] = {NULL}, *reason = NULL;
    unhook_filter f = {0};
    unhook_stats stats = {0};
    unhook_flow_result res = {0};
    progress p;
    long count;
    int bulk = 0, rc;
    char msg[160];
    const opt table[] = {
        {flag, OPT_FLAG, &bulk, NULL},
        {"--connector", OPT_STR, &f.connector, NULL},
        {"--event", OPT_STR, &f.event, NULL},
        {"--concurrency", OPT_COUNT, &c->cfg.concurrency, "N"},
        {"--connection", OPT_STR, &c->cfg.connection, NULL},
        /* retry ends its options here */
        {retry ? NULL : "--reason", OPT_STR, &reason, NULL},
        OPT_END
    };
    int st = parse_args(argc, argv, usage, table, pos, names, 0);

    if (st != GO_ON)
        return st;
    msg[0] = '\0';
    if (bulk && pos[0])
        snprintf(msg, sizeof msg, "%s: give an ID or %s, not both", cmd, flag);
    else if (!bulk && !pos[0])
        snprintf(msg, sizeof msg, "%s: missing ID (or %s)", cmd, flag);
    else if (!bulk && (f.connector || f.event || c->cfg.concurrency))
        snprintf(msg, sizeof msg, "%s: --connector, --event and --concurrency "
                 "need %s", cmd, flag);
    if (msg[0])
        return bad_usage(msg, NULL, usage);
    if ((st = open_engine(c)) != GO_ON)
        return st;
    if (!bulk) {
        rc = retry ? unhook_instance_retry(c->E, pos[0], &res)
                   : unhook_instance_disable(c->E, pos[0], reason, &res);
        st = report_one(c, pos[0], rc, &res);
        unhook_flow_result_free(&res);
        return st;
    }
    if (retry) {
        rc = unhook_instance_retry_all(c->E, &f, &count);
        if (rc != UNHOOK_OK)
            return api_error(c, rc);
        printf("re-queued %ld\n", count);
        fflush(stdout);
        /* the run counts into stats; a total of the re-queued gives a bar */
        stats.total = count;
    }
    progress_start(&p, retry ? "retry --failed" : "disable --all");
    rc = retry ? unhook_engine_run(c->E, &f, -1, 0, &stats, on_progress, &p)
               : unhook_instance_disable_all(c->E, &f, reason, &stats, on_progress, &p);
    return bulk_end(c, &p, rc, &stats, NULL);
}

static int cmd_disable(cli *c, int argc, char **argv)
{
    return cmd_converge(c, argc, argv, 0);
}

static int cmd_retry(cli *c, int argc, char **argv)
{
    return cmd_converge(c, argc, argv, 1);
}

static int cmd_resume(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    unhook_stats stats = {0};
    progress p;
    int wait = 0, rc;
    const opt table[] = {
        {"--wait", OPT_FLAG, &wait, NULL},
        {"--concurrency", OPT_COUNT, &c->cfg.concurrency, "N"},
        {"--connection", OPT_STR, &c->cfg.connection, NULL},
        OPT_END
    };
    int st = start(c, argc, argv, usage_resume, table, NULL, names, 0);

    if (st != GO_ON)
        return st;
    progress_start(&p, "resume");
    rc = unhook_engine_run(c->E, NULL, -1, wait, &stats, on_progress, &p);
    return bulk_end(c, &p, rc, &stats, "nothing to do");
}

/* ---- inspection: list, show, history ------------------------------------ */

/* Rows of cells printed as columns two spaces apart, each as wide as its
 * widest cell (the last one unpadded). */
typedef struct grid {
    char **cells;
    size_t n, cap;
    int ncol;
} grid;

/* Characters, not bytes: UTF-8 continuation bytes take no column. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* A copy fit for one cell: "-" for nothing, control characters as
 * spaces, cut to max characters (0: no limit) ending in "...". */
static char *cell_text(const char *s, size_t max)
{
    size_t n, i, w = 0;
    char *out;

    if (!s || !*s)
        s = "-";
    n = strlen(s);
    if (max > 3 && text_width(s) > max) {
        /* keep max - 3 characters: stop at the lead byte of the next one */
        for (n = 0; s[n]; n++)
            if (((unsigned char)s[n] & 0xC0) != 0x80 && w++ == max - 3)
                break;
    }
    out = xrealloc(NULL, n + 4);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    strcpy(out + n, s[n] ? "..." : "");
    return out;
}

static void grid_add(grid *t, const char *s, size_t max)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->cells = xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    t->cells[t->n++] = cell_text(s, max);
}

static void grid_print(grid *t)
{
    size_t w[16] = {0}, i;
    int col;

    for (i = 0; i < t->n; i++) {
        size_t tw = text_width(t->cells[i]);
        col = (int)(i % (size_t)t->ncol);
        if (tw > w[col])
            w[col] = tw;
    }
    for (i = 0; i < t->n; i++) {
        col = (int)(i % (size_t)t->ncol);
        fputs(t->cells[i], stdout);
        if (col == t->ncol - 1)
            putchar('\n');
        else
            printf("%*s", (int)(w[col] - text_width(t->cells[i]) + 2), "");
    }
}

static void grid_free(grid *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->cells[i]);
    free(t->cells);
}

static const char *iso_time(double t, char *buf, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;

    if (t <= 0 || !gmtime_r(&s, &tm))
        return "-";
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static const char *next_text(double at, char *buf, size_t n)
{
    long d = secs_until(at);

    if (at <= 0)
        return "-";
    if (d <= 0)
        return "due";
    if (d < 60)
        snprintf(buf, n, "in %lds", d);
    else if (d < 3600)
        snprintf(buf, n, "in %ldm", (d + 30) / 60);
    else if (d < 86400)
        snprintf(buf, n, "in %ldh", (d + 1800) / 3600);
    else
        snprintf(buf, n, "in %ldd", (d + 43200) / 86400);
    return buf;
}

/* Every field of an instance, keys sorted like all JSON unhook prints. */
static void json_instance(jsonobj *j, const unhook_instance *i)
{
    j->n = 0;
    jnum(j, "attempts", i->attempts);
    jfield(j, "connection", i->connection, 0);
    jfield(j, "connector", i->connector, 0);
    jnum(j, "created_at", i->created_at);
    jfield(j, "desired", i->desired, 0);
    jfield(j, "event", i->event, 0);
    jfield(j, "id", i->id, 0);
    jfield(j, "last_error", i->last_error, 0);
    jnum(j, "next_attempt_at", i->next_attempt_at);
    jfield(j, "options", i->options, 1);
    jfield(j, "reason", i->reason, 0);
    jfield(j, "registration", i->registration, 1);
    jfield(j, "state", i->state, 0);
    jnum(j, "updated_at", i->updated_at);
    jadd(j, "}", 1);
}

static void json_history(jsonobj *j, const unhook_history *h)
{
    j->n = 0;
    jfield(j, "action", h->action, 0);
    jnum(j, "at", h->at);
    jnum(j, "attempt", h->attempt);
    jfield(j, "instance_id", h->instance_id, 0);
    jfield(j, "message", h->message, 0);
    jfield(j, "outcome", h->outcome, 0);
    jfield(j, "registration", h->registration, 1);
    jnum(j, "status", h->status);
    jadd(j, "}", 1);
}

/* Rows collected before anything is printed: widths need every row, and
 * a failure half-way prints nothing but the error. */
typedef struct rows {
    int json;
    long n;
    jsonobj array, elem;
    grid t;
} rows;

static int list_row(void *ud, const unhook_instance *i)
{
    rows *r = ud;
    char buf[32];

    if (r->json) {
        r->elem.len = 0;
        json_instance(&r->elem, i);
        jelem(&r->array, r->n++, &r->elem);
        return 0;
    }
    snprintf(buf, sizeof buf, "%d", i->attempts);
    grid_add(&r->t, i->id, 0);
    grid_add(&r->t, i->state, 0);
    grid_add(&r->t, i->desired, 0);
    grid_add(&r->t, i->connector, 0);
    grid_add(&r->t, i->event, 0);
    grid_add(&r->t, buf, 0);
    grid_add(&r->t, next_text(i->next_attempt_at, buf, sizeof buf), 0);
    grid_add(&r->t, i->last_error, 60);
    r->n++;
    return 0;
}

static int history_row(void *ud, const unhook_history *h)
{
    rows *r = ud;
    char buf[64];
    const char *m = h->message ? h->message : "-";
    jsonobj msg = {0};

    if (r->json) {
        r->elem.len = 0;
        json_history(&r->elem, h);
        jelem(&r->array, r->n++, &r->elem);
        return 0;
    }
    grid_add(&r->t, iso_time(h->at, buf, sizeof buf), 0);
    grid_add(&r->t, h->action, 0);
    grid_add(&r->t, h->outcome, 0);
    snprintf(buf, sizeof buf, "%d", h->status);
    grid_add(&r->t, h->status ? buf : NULL, 0);
    snprintf(buf, sizeof buf, "attempt %d", h->attempt);
    grid_add(&r->t, h->attempt ? buf : NULL, 0);
    jadd(&msg, m, strlen(m));
    if (h->registration) {
        jadd(&msg, " (registration data: ", 21);
        jadd(&msg, h->registration, strlen(h->registration));
        jadd(&msg, ")", 1);
    }
    grid_add(&r->t, msg.text, 0);
    free(msg.text);
    r->n++;
    return 0;
}

/* Print what list or history collected, or the error. */
static int rows_end(cli *c, rows *r, int rc, const char *none)
{
    int st = EXIT_DONE;

    if (rc != UNHOOK_OK)
        st = api_error(c, rc);
    else if (r->json)
        jarray_print(&r->array, r->n);
    else if (r->n == 0 && none)
        puts(none);
    else
        grid_print(&r->t);
    free(r->array.text);
    free(r->elem.text);
    grid_free(&r->t);
    return st;
}

static int cmd_list(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    static const char *const header[] = {"ID", "STATE", "DESIRED", "CONNECTOR",
        "EVENT", "ATTEMPTS", "NEXT", "LAST ERROR"};
    static const char *const states[] = {"registering", "registered",
        "deregistering", "off", "failed", NULL};
    unhook_filter f = {0};
    rows r;
    size_t k;
    const opt table[] = {
        {"--state", OPT_STR, &f.state, NULL},
        {"--connector", OPT_STR, &f.connector, NULL},
        {"--event", OPT_STR, &f.event, NULL},
        {"--json", OPT_FLAG, &c->json, NULL},
        OPT_END
    };
    int st = parse_args(argc, argv, usage_list, table, NULL, names, 0);

    /* a mistyped state would list nothing, silently */
    for (k = 0; st == GO_ON && f.state && states[k]; k++)
        if (strcmp(f.state, states[k]) == 0)
            break;
    if (st == GO_ON && f.state && !states[k])
        st = bad_usage("list: --state expects registering, registered, "
                       "deregistering, off or failed, got", f.state, usage_list);
    if (st == GO_ON)
        st = open_engine(c);
    if (st != GO_ON)
        return st;
    memset(&r, 0, sizeof r);
    r.json = c->json;
    r.t.ncol = 8;
    for (k = 0; k < 8; k++)
        grid_add(&r.t, header[k], 0);
    return rows_end(c, &r, unhook_instance_list(c->E, &f, list_row, &r),
                    "no instances");
}

static int cmd_history(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    rows r;
    const opt table[] = {{"--json", OPT_FLAG, &c->json, NULL}, OPT_END};
    int st = start(c, argc, argv, usage_history, table, pos, names, 1);

    if (st != GO_ON)
        return st;
    memset(&r, 0, sizeof r);
    r.json = c->json;
    r.t.ncol = 6;
    return rows_end(c, &r, unhook_history_list(c->E, pos[0], history_row, &r), NULL);
}

static int cmd_show(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"ID", NULL};
    const char *pos[1] = {NULL};
    unhook_instance *i;
    jsonobj j = {0};
    char t1[32], t2[32], t3[32];
    const opt table[] = {{"--json", OPT_FLAG, &c->json, NULL}, OPT_END};
    int rc, st = start(c, argc, argv, usage_show, table, pos, names, 1);

    if (st != GO_ON)
        return st;
    rc = unhook_instance_get(c->E, pos[0], &i);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    if (c->json) {
        json_instance(&j, i);
        puts(j.text);
        free(j.text);
    } else {
        printf("id: %s\nconnector: %s\nevent: %s\noptions: %s\nconnection: %s\n"
               "desired: %s\nstate: %s\nattempts: %d\nnext attempt: %s\n"
               "last error: %s\nreason: %s\ncreated: %s\nupdated: %s\n"
               "registration data: %s\n",
               i->id, i->connector, i->event, i->options ? i->options : "{}",
               i->connection ? i->connection : "-", i->desired, i->state,
               i->attempts, iso_time(i->next_attempt_at, t1, sizeof t1),
               i->last_error ? i->last_error : "-", i->reason ? i->reason : "-",
               iso_time(i->created_at, t2, sizeof t2),
               iso_time(i->updated_at, t3, sizeof t3),
               i->registration ? i->registration : "-");
    }
    unhook_instance_free(i);
    return EXIT_DONE;
}

/* ---- import and export -------------------------------------------------- */

static int cmd_import(cli *c, int argc, char **argv)
{
    static const char *const names[] = {"FILE", NULL};
    const char *pos[1] = {NULL};
    char *text;
    size_t len;
    long count;
    int rc, st = start(c, argc, argv, usage_import, no_opts, pos, names, 1);

    if (st != GO_ON)
        return st;
    text = read_all(strcmp(pos[0], "-") == 0 ? NULL : pos[0], &len);
    if (!text) {
        fprintf(stderr, "%s: %s: %s\n", prog, pos[0], strerror(errno));
        return EXIT_USAGE;
    }
    rc = unhook_import(c->E, text, len, &count);
    free(text);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(c->E));
        return rc == UNHOOK_STORE ? EXIT_STORE : EXIT_USAGE;
    }
    printf("imported %ld instances\n", count);
    return EXIT_DONE;
}

static int export_line(void *ud, const char *line, size_t len)
{
    (void)ud;
    fwrite(line, 1, len, stdout);
    putchar('\n');
    return ferror(stdout) ? -1 : 0;
}

static int cmd_export(cli *c, int argc, char **argv)
{
    static const char *const names[] = {NULL};
    int rc, st = start(c, argc, argv, usage_export, no_opts, NULL, names, 0);

    if (st != GO_ON)
        return st;
    rc = unhook_export(c->E, export_line, NULL);
    if (rc != UNHOOK_OK)
        return api_error(c, rc);
    /* a backup cut short by a full disk must not look complete */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: export: cannot write: %s\n", prog, strerror(errno));
        return EXIT_FAILED;
    }
    return EXIT_DONE;
}

/* ---- main --------------------------------------------------------------- */

static const struct command {
    const char *name;
    int (*fn)(cli *c, int argc, char **argv);
} commands[] = {
    {"check", cmd_check}, {"run", cmd_run}, {"register", cmd_register},
    {"enable", cmd_enable}, {"disable", cmd_disable}, {"list", cmd_list},
    {"show", cmd_show}, {"history", cmd_history}, {"retry", cmd_retry},
    {"resume", cmd_resume}, {"import", cmd_import}, {"export", cmd_export},
};

int main(int argc, char **argv)
{
    cli c;
    size_t k;
    int i, status;

    memset(&c, 0, sizeof c);
    c.cfg.log = on_log;
    c.cfg.log_level = UNHOOK_LOG_INFO;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("unhook %s\n", unhook_version());
            return EXIT_DONE;
        } else if (is_help(a)) {
            fputs(usage_main, stdout);
            return EXIT_DONE;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            c.cfg.log_level = UNHOOK_LOG_TRACE;
        } else if (strcmp(a, "--json") == 0) {
            c.json = 1;
        } else if (strcmp(a, "--connectors") == 0 && i + 1 < argc) {
            c.cfg.connectors = argv[++i];
        } else if (strcmp(a, "--connectors") == 0) {
            return bad_usage("--connectors needs a folder", NULL, usage_main);
        } else if (strcmp(a, "--db") == 0 && i + 1 < argc) {
            c.cfg.db = argv[++i];
        } else if (strcmp(a, "--db") == 0) {
            return bad_usage("--db needs a path", NULL, usage_main);
        } else if (strcmp(a, "--memory-mb") == 0 || strcmp(a, "--timeout-ms") == 0) {
            char *end = NULL;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (!end || *end || v <= 0 || v > 1000000)
                return bad_usage(a[2] == 'm' ? "--memory-mb needs a positive number"
                                             : "--timeout-ms needs a positive number",
                                 NULL, usage_main);
            if (a[2] == 'm')
                c.cfg.memory_mb = (int)v;
            else
                c.cfg.timeout_ms = (int)v;
            i++;
        } else {
            return bad_usage("unknown option", a, usage_main);
        }
    }
    if (i >= argc)
        return bad_usage("missing COMMAND", NULL, usage_main);
    status = GO_ON;
    for (k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            status = commands[k].fn(&c, argc - i, argv + i);
    if (status == GO_ON)
        status = bad_usage("unknown command", argv[i], usage_main);
    unhook_engine_close(c.E);
    return status;
}
