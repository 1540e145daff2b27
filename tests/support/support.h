/*
 * support.h -- what the C tests (tests/unit, tests/integration) share:
 * the headers every cmocka test includes, in the order cmocka wants them,
 * and scratch-folder helpers.  Include it first.
 */
#ifndef UNHOOK_TEST_SUPPORT_H
#define UNHOOK_TEST_SUPPORT_H

#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

/* Write text to path, creating the folders on the way (fails the test
 * if the file cannot be written). */
void support_write_at(const char *path, const char *text);

/* Remove dir and everything below it. */
void support_rm_tree(const char *dir);

/* METHOD path at the fixture provider (UNHOOK_TEST_URL), with an optional
 * JSON body; returns the HTTP status and, if out is given, the answer (to
 * free).  Fails the test when the provider cannot be reached.  The
 * provider's /_control/ routes are described in tests/provider/README.md. */
long provider_control(const char *method, const char *path, const char *body,
                      char **out);

/* Seed count GitHub hooks under o/r (ids PROVIDER_FIRST_ID.. after a reset). */
#define PROVIDER_FIRST_ID 12345678L
void provider_seed(int count);
/* Import n registered instances PREFIX0000.. (numbered from first) of
 * connector and event into E: options owner o, repo r, connection file
 * conn, registration data the hook id PROVIDER_FIRST_ID + first + k. */
typedef struct unhook_engine unhook_engine;
void provider_import(unhook_engine *E, const char *conn, const char *prefix,
                     int first, int n, const char *connector, const char *event);
/* Queue canned answers for METHOD (NULL: any) under the path prefix. */
void provider_script(const char *method, const char *prefix, const char *responses);
/* The provider's delete_counts: counts[k] for hook id first + k (0..n-1);
 * returns how many ids the map holds in all. */
int provider_delete_counts(long first, int *counts, int n);

/* With UNHOOK_TEST_PG set: a new database there, its URL in url; returns
 * 1 (0 without UNHOOK_TEST_PG: the caller uses SQLite). */
int support_pg_db(char *url, size_t size);

#endif
