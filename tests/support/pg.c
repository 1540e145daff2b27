/*
 * pg.c -- the store tests run against PostgreSQL too: with UNHOOK_TEST_PG
 * set (tests/pg/cluster.sh sets it to a private cluster's URL), every
 * test gets a database of its own.
 */
#include "support.h"
#include <unistd.h>
#include <libpq-fe.h>

int support_pg_db(char *url, size_t size)
{
    static int counter;
    const char *base = getenv("UNHOOK_TEST_PG");
    const char *q;
    char name[64], sql[128];
    PGconn *c;
    PGresult *r;
    int ok;

    if (!base || !*base)
        return 0;
    snprintf(name, sizeof name, "uh_test_%ld_%d", (long)getpid(), ++counter);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    c = PQconnectdb(base);
    r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "support_pg_db: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    assert_true(ok);
    /* the base names database "postgres": postgresql:///postgres?host=... */
    q = strchr(base, '?');
    snprintf(url, size, "postgresql:///%s%s", name, q ? q : "");
    return 1;
}
