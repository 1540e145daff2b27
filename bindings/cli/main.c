/*
 * main.c -- the unhook command: global options, then one command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "unhook.h"
#include "cli.h"

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
    "  reconcile CONNECTOR EVENT  compare the provider's webhooks with the store\n"
    "  update ID                  change an instance's options, make-before-break\n"
    "  edit ID                    replace an instance's registration data by hand\n"
    "  forget ID                  remove an instance that is off (history kept)\n"
    "  migrate --to LOCATION      copy the store into another (SQLite, PostgreSQL)\n"
    "  connection check FILE      test a connection file (oauth2: get a token now)\n"
    "  serve [--listen ADDR:PORT] the always-on worker, HTTP API, metrics, status page\n"
    "  new NAME [--auth TYPE]     write a connector skeleton with a spec\n"
    "\n"
    "options:\n"
    "  --db PATH|URL      the store: a SQLite file or a postgresql:// URL\n"
    "                     (default: $UNHOOK_DB, else ./unhook.db)\n"
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

static const struct command {
    const char *name;
    command_fn fn;
} commands[] = {
    {"check", cmd_check}, {"run", cmd_run}, {"register", cmd_register},
    {"enable", cmd_enable}, {"disable", cmd_disable}, {"list", cmd_list},
    {"show", cmd_show}, {"history", cmd_history}, {"retry", cmd_retry},
    {"resume", cmd_resume}, {"import", cmd_import}, {"export", cmd_export},
    {"reconcile", cmd_reconcile}, {"update", cmd_update}, {"edit", cmd_edit},
    {"forget", cmd_forget},
    {"migrate", cmd_migrate},
    {"connection", cmd_connection},
    {"serve", cmd_serve},
    {"new", cmd_new},
};

/* --memory-mb N or --timeout-ms N at argv[*i]: GO_ON or the status. */
static int limit_option(cli *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    char *end = NULL;
    long v = *i + 1 < argc ? strtol(argv[*i + 1], &end, 10) : 0;

    if (!end || *end || v <= 0 || v > 1000000)
        return bad_usage(a[2] == 'm' ? "--memory-mb needs a positive number"
                                     : "--timeout-ms needs a positive number",
                         NULL, usage_main);
    if (a[2] == 'm')
        c->cfg.memory_mb = (int)v;
    else
        c->cfg.timeout_ms = (int)v;
    (*i)++;
    return GO_ON;
}

/* The global option at argv[*i] (its value taken too): GO_ON or the
 * exit status. */
static int global_option(cli *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    int has_value = *i + 1 < argc;

    if (strcmp(a, "--version") == 0) {
        printf("unhook %s\n", unhook_version());
        return EXIT_DONE;
    } else if (is_help(a)) {
        fputs(usage_main, stdout);
        return EXIT_DONE;
    } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
        c->cfg.log_level = UNHOOK_LOG_TRACE;
    } else if (strcmp(a, "--json") == 0) {
        c->json = 1;
    } else if (strcmp(a, "--connectors") == 0 && has_value) {
        c->cfg.connectors = argv[++*i];
    } else if (strcmp(a, "--connectors") == 0) {
        return bad_usage("--connectors needs a folder", NULL, usage_main);
    } else if (strcmp(a, "--db") == 0 && has_value) {
        c->cfg.db = argv[++*i];
    } else if (strcmp(a, "--db") == 0) {
        return bad_usage("--db needs a path", NULL, usage_main);
    } else if (strcmp(a, "--memory-mb") == 0 || strcmp(a, "--timeout-ms") == 0) {
        return limit_option(c, argc, argv, i);
    } else {
        return bad_usage("unknown option", a, usage_main);
    }
    return GO_ON;
}

int main(int argc, char **argv)
{
    cli c;
    size_t k;
    int i, status = GO_ON;

#ifdef __GLIBC__
    /* A bulk run frees and allocates the same few MB over and over: keep
     * what was freed (glibc would hand the heap's top back each time and
     * fault it in again, a system call and page faults per turn), and
     * grow it in larger steps.  A process-wide choice: the command's,
     * not the library's (core/README.md, Conventions). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_TOP_PAD, 4 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
    memset(&c, 0, sizeof c);
    c.cfg.log = on_log;
    c.cfg.log_level = UNHOOK_LOG_INFO;
    for (i = 1; i < argc && argv[i][0] == '-' && status == GO_ON; i++)
        status = global_option(&c, argc, argv, &i);
    if (status != GO_ON)
        return status;
    if (i >= argc)
        return bad_usage("missing COMMAND", NULL, usage_main);
    for (k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            status = commands[k].fn(&c, argc - i, argv + i);
    if (status == GO_ON)
        status = bad_usage("unknown command", argv[i], usage_main);
    if (close_session(&c) != 0 && status == EXIT_DONE)
        status = EXIT_USAGE;    /* the flow ran, but the cassette is not whole */
    return status;
}
