/*
 * output.h -- what the commands print besides plain lines: tables, JSON
 * arrays, times, the progress of bulk work.
 */
#ifndef UNHOOK_CLI_OUTPUT_H
#define UNHOOK_CLI_OUTPUT_H

#include <stddef.h>

#include "unhook.h"

/* Owned strings in order. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist;

void strlist_push(strlist *l, char *owned);
/* Release every string with release (free, unhook_free), then the list. */
void strlist_free(strlist *l, void (*release)(void *));

/* Print JSON texts as one array, one element a line. */
void json_array_print(const strlist *elems);

/* Rows of cells printed as columns two spaces apart, each as wide as its
 * widest cell (the last one unpadded). */
typedef struct grid {
    strlist cells;
    int ncol;
} grid;

/* Add a cell: "-" for nothing, control characters as spaces, cut to max
 * characters (0: no limit) ending in "...". */
void grid_add(grid *t, const char *s, size_t max);
void grid_print(const grid *t);

/* Whole seconds from now until at (a Unix time), rounded; 0 if past. */
long secs_until(double at);
/* Unix time now, with its fraction (the engine's times have one). */
double wall_now(void);
/* "2024-01-02T03:04:05Z", or "-" for no time. */
const char *iso_time(double t, char *buf, size_t n);
/* "due", "in 5s", "in 3m", ..., or "-" for no time. */
const char *next_text(double at, char *buf, size_t n);

/* The progress of bulk work on standard error. */
typedef struct progress {
    const char *label;          /* names the plain lines: "disable --all" */
    int tty, drawn;
    double start, last;
} progress;

void progress_start(progress *p, const char *label);
/* An unhook_progress_fn; ud is a progress. */
void on_progress(void *ud, const unhook_stats *s);
/* Clear the bar, if one was drawn. */
void progress_end(progress *p);

#endif
