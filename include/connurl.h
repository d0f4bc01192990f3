/*
 * connurl.h — a PostgreSQL connection URI, read by libpq's rules:
 *
 *   postgresql://[user[:password]@][host][:port][/dbname][?name=value[&...]]
 *
 * (`postgres://` too). Every part is optional and percent-decoded; an IPv6
 * host is written in brackets (`[::1]:5432`); a unix socket directory is a
 * percent-encoded host (`%2Fvar%2Frun%2Fpostgresql`) or `?host=/dir`. The
 * query parameters `host`, `port`, `dbname`, `user` and `password` stand
 * for those parts and win over them, as in libpq; every other parameter is
 * handed back, in order, for the caller to map or refuse. Pure: no I/O,
 * nothing of the configuration; the caller says what a parameter means.
 *
 * Stricter than libpq: a port must be 1..65535, a bad percent escape or a
 * %00 is an error, and several hosts (`h1,h2`) are refused. More lenient
 * in one way: the login ends at the last `@` of the authority, so an
 * unencoded `@` in a password still works (libpq stops at the first).
 * Error texts name the part and never quote the password.
 *
 * INTERFACE ROUTINES
 *   connurl_is_url(text)              starts with postgresql:// or postgres://?
 *   connurl_parse(text, &u, err, l)   text into u (connurl_free it, also
 *                                     after a failure)
 *   connurl_free(&u)                  free, wiping the password first
 *   connurl_build(&u)                 the URL of u's user, password, host,
 *                                     port and dbname, each part encoded
 *                                     as it needs (malloc'd; NULL: out of
 *                                     memory)
 *   connurl_scrub(text)               overwrite the password(s) in text
 *                                     with '*', in place (for argv and the
 *                                     environment: what ps shows)
 */
#ifndef SLUICE_CONNURL_H
#define SLUICE_CONNURL_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

#define CONNURL_PARAMS_MAX 64

struct connurl_param {
	char *name;
	char *value;
};

struct connurl {
	char *user;          /* NULL: none given (an empty one is none) */
	char *password;      /* NULL: none given; "": given, empty */
	char *host;          /* NULL: none; "/dir": unix socket directory;
	                      * an IPv6 address without its brackets */
	int port;            /* -1: none given */
	char *dbname;        /* NULL: none given */
	struct connurl_param *params;   /* the other query parameters */
	size_t nparams;
};

bool connurl_is_url(const char *text);
bool connurl_parse(const char *text, struct connurl *u, char *err, size_t errlen) MUST_CHECK;
void connurl_free(struct connurl *u);
char *connurl_build(const struct connurl *u);
void connurl_scrub(char *text);

#endif
