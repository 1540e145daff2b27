/*
 * cli.c -- the unhook command.  Uses the public API (unhook.h) only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unhook.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INVALID = 3,
       EXIT_STORE = 4, EXIT_PENDING = 75 };

static const char *prog = "unhook";

static const char usage_main[] =
    "usage: unhook [--connectors DIR] [-v] COMMAND [ARGS]\n"
    "\n"
    "Runs webhook deregistration flows written in Lua.\n"
    "\n"
    "commands:\n"
    "  check CONNECTOR            validate a connector's manifest, flows and cards\n"
    "  run CONNECTOR EVENT ...    run an event's deregistration flow once (no store)\n"
    "  register CONNECTOR EVENT   run an event's registration flow once, print the data\n"
    "\n"
    "options:\n"
    "  --connectors DIR   search DIR for connectors by name (also UNHOOK_CONNECTORS)\n"
    "  -v, --verbose      trace every HTTP request and response (secrets masked)\n"
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
        j->text = realloc(j->text, cap);
        if (!j->text) {
            fprintf(stderr, "%s: out of memory\n", prog);
            exit(EXIT_FAILED);
        }
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

/* Add "k=v" to a JSON object of strings; -1 if there is no "k=". */
static int jpair(jsonobj *j, const char *kv)
{
    const char *eq = strchr(kv, '=');

    if (!eq || eq == kv)
        return -1;
    jadd(j, j->n++ ? "," : "{", 1);
    jstr(j, kv, (size_t)(eq - kv));
    jadd(j, ":", 1);
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

static int cmd_check(unhook_engine *E, int argc, char **argv)
{
    char *dir;
    int rc;

    if (argc == 2 && is_help(argv[1])) {
        fputs(usage_check, stdout);
        return EXIT_DONE;
    }
    if (argc != 2)
        return bad_usage(argc < 2 ? "check: missing CONNECTOR" : "check: unexpected argument",
                         argc < 2 ? NULL : argv[2], usage_check);
    if (argv[1][0] == '-')
        return bad_usage("check: unknown option", argv[1], usage_check);
    dir = unhook_connector_path(E, argv[1]);
    if (!dir) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(E));
        return EXIT_INVALID;
    }
    rc = unhook_connector_check(E, dir);
    if (rc == UNHOOK_OK)
        printf("%s: ok\n", dir);
    else
        fprintf(stderr, "%s\n", unhook_errmsg(E));
    free(dir);
    return rc == UNHOOK_OK ? EXIT_DONE
         : rc == UNHOOK_INVALID || rc == UNHOOK_NOTFOUND ? EXIT_INVALID
         : exit_for(rc);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;

    if (!f)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            char *p;
            cap = cap ? cap * 2 : 8192;
            p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        n = fread(buf + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* run and register share their arguments. */
static int cmd_flow(unhook_engine *E, int argc, char **argv, int reg)
{
    const char *usage = reg ? usage_register : usage_run;
    const char *cmd = reg ? "register" : "run";
    jsonobj opts = {0}, inputs = {0};
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    char *regfile = NULL, *dir = NULL;
    int i, rc, pos = 0, status = EXIT_USAGE;
    char msg[128];

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;

        if (is_help(a)) {
            fputs(usage, stdout);
            status = EXIT_DONE;
            goto out;
        } else if (strcmp(a, "--option") == 0 || strcmp(a, "--input") == 0) {
            if (!has_val) {
                snprintf(msg, sizeof msg, "%s: %s needs NAME=VALUE", cmd, a);
                status = bad_usage(msg, NULL, usage);
                goto out;
            }
            if (jpair(a[2] == 'o' ? &opts : &inputs, argv[i + 1]) < 0) {
                snprintf(msg, sizeof msg, "%s: %s expects NAME=VALUE, got '%.40s'",
                         cmd, a, argv[i + 1]);
                status = bad_usage(msg, NULL, usage);
                goto out;
            }
            i++;
        } else if (strcmp(a, "--registration") == 0 && !reg) {
            if (!has_val) {
                status = bad_usage("run: --registration needs JSON or @FILE", NULL, usage);
                goto out;
            }
            req.registration = argv[++i];
            if (req.registration[0] == '@') {
                regfile = read_all(req.registration + 1);
                if (!regfile) {
                    fprintf(stderr, "%s: %s: cannot read registration file: %s\n",
                            prog, req.registration + 1, strerror(errno));
                    goto out;
                }
                req.registration = regfile;
            }
        } else if (strcmp(a, "--connection") == 0 || strcmp(a, "--reason") == 0 ||
                   strcmp(a, "--instance") == 0) {
            if (!has_val) {
                snprintf(msg, sizeof msg, "%s: %s needs a value", cmd, a);
                status = bad_usage(msg, NULL, usage);
                goto out;
            }
            if (a[2] == 'c')
                req.connection = argv[++i];
            else if (a[2] == 'r' && !reg)
                req.reason = argv[++i];
            else if (a[2] == 'i')
                req.instance_id = argv[++i];
            else {
                snprintf(msg, sizeof msg, "%s: unknown option", cmd);
                status = bad_usage(msg, a, usage);
                goto out;
            }
        } else if (a[0] == '-' && a[1]) {
            snprintf(msg, sizeof msg, "%s: unknown option", cmd);
            status = bad_usage(msg, a, usage);
            goto out;
        } else if (pos == 0) {
            req.connector = a;
            pos++;
        } else if (pos == 1) {
            req.event = a;
            pos++;
        } else {
            snprintf(msg, sizeof msg, "%s: unexpected argument", cmd);
            status = bad_usage(msg, a, usage);
            goto out;
        }
    }
    if (pos < 2) {
        snprintf(msg, sizeof msg, "%s: missing %s", cmd, pos ? "EVENT" : "CONNECTOR");
        status = bad_usage(msg, NULL, usage);
        goto out;
    }
    dir = unhook_connector_path(E, req.connector);
    if (!dir) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(E));
        status = EXIT_INVALID;
        goto out;
    }
    req.connector = dir;
    req.options_json = jdone(&opts);
    req.inputs_json = jdone(&inputs);

    rc = reg ? unhook_flow_register(E, &req, &res)
             : unhook_flow_deregister(E, &req, &res);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_errmsg(E));
        status = rc == UNHOOK_NOTFOUND ? EXIT_USAGE : exit_for(rc);
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
    if (slash)
        *slash = '\0';
    len = (flag ? strlen(flag) : 0) + (env ? strlen(env) : 0) + strlen(exe) + 64;
    out = malloc(len);
    if (!out)
        return NULL;
    snprintf(out, len, "%s%s%s%s%s/../share/unhook/connectors",
             flag ? flag : "", flag ? ":" : "", env ? env : "", env ? ":" : "",
             slash ? exe : ".");
    return out;
}

int main(int argc, char **argv)
{
    unhook_config cfg = {0};
    unhook_engine *E = NULL;
    char *path;
    int i, rc, status;

    cfg.log = on_log;
    cfg.log_level = UNHOOK_LOG_INFO;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--version") == 0) {
            printf("unhook %s\n", unhook_version());
            return EXIT_DONE;
        } else if (is_help(a)) {
            fputs(usage_main, stdout);
            return EXIT_DONE;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            cfg.log_level = UNHOOK_LOG_TRACE;
        } else if (strcmp(a, "--connectors") == 0 && i + 1 < argc) {
            cfg.connectors = argv[++i];
        } else if (strcmp(a, "--connectors") == 0) {
            return bad_usage("--connectors needs a folder", NULL, usage_main);
        } else {
            return bad_usage("unknown option", a, usage_main);
        }
    }
    if (i >= argc)
        return bad_usage("missing COMMAND", NULL, usage_main);
    path = search_path(cfg.connectors);
    cfg.connectors = path;
    rc = unhook_engine_open(&E, &cfg);
    free(path);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "%s: %s\n", prog, unhook_strerror(rc));
        return EXIT_FAILED;
    }
    if (strcmp(argv[i], "check") == 0)
        status = cmd_check(E, argc - i, argv + i);
    else if (strcmp(argv[i], "run") == 0)
        status = cmd_flow(E, argc - i, argv + i, 0);
    else if (strcmp(argv[i], "register") == 0)
        status = cmd_flow(E, argc - i, argv + i, 1);
    else
        status = bad_usage("unknown command", argv[i], usage_main);
    unhook_engine_close(E);
    return status;
}
