/*
 * url.h -- private: URL templates, escaping, resolution and the origin
 * rules (which host a request may go to, where credentials may go).
 * Bottom layer.
 */
#ifndef UNHOOK_URL_H
#define UNHOOK_URL_H

#include "util.h"

/* Percent-encode everything but RFC 3986 unreserved characters. */
void uh_url_escape(uh_buf *out, const char *s, size_t n);

/*
 * Expand "{name}" placeholders in tmpl with escaped values given by the
 * lookup function.  Returns 0, or -1 with a message in err when a name
 * has no value or a brace is not closed.
 */
typedef const char *(*uh_url_lookup)(void *ud, const char *name, size_t n,
                                     size_t *vlen);
int uh_url_expand(uh_buf *out, const char *tmpl, uh_url_lookup fn, void *ud,
                  uh_buf *err);

/*
 * Resolve a reference against a base URL: an absolute http(s) URL is
 * kept; "/x" and "x" are appended to the base (its path is a prefix, as
 * connector builders do), with exactly one slash between.
 */
void uh_url_resolve(uh_buf *out, const char *base, const char *ref);

/* Host (without port) of an http(s) URL into out; 0, or -1 if none. */
int uh_url_host(const char *url, char *out, size_t outsz);

/* Scheme, host and port all equal: where credentials may go. */
int uh_url_same_origin(const char *a, const char *b);

/* url's host is base's, or one of hosts ("\n"-separated lines). */
int uh_url_host_allowed(const char *url, const char *base, const char *hosts);

#endif
