/*
 * userlist.h — the auth_file: PgBouncer's userlist.txt format.
 *
 *   "user" "secret"        one per line; "" inside quotes is a literal "
 *   ; or # start comments; blank lines ignored
 *
 * A secret is plain text, an md5 hash ("md5" + 32 hex digits) or a SCRAM
 * verifier ("SCRAM-SHA-256$iter:salt$storedkey:serverkey").
 *
 * An empty password ("" or the md5 hash of "") is no password, as in
 * PostgreSQL: the load warns about it (file, line, user) and client_auth
 * refuses every login that checks a password against it.
 *
 * INTERFACE ROUTINES
 *   userlist_load(path, &ul, err, errlen)   parse a file ("file:line: reason")
 *   userlist_parse(text, len, name, &ul, err, errlen)   same, from memory
 *   userlist_find(ul, user)                 entry or NULL
 *   userlist_copy(ul)                       a copy sharing nothing (NULL:
 *                                           out of memory)
 *   userlist_secret_empty(user, secret)     "" or md5("" + user)
 *   userlist_free(ul)
 */
#ifndef SLUICE_USERLIST_H
#define SLUICE_USERLIST_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

enum secret_kind { SECRET_PLAIN = 0, SECRET_MD5, SECRET_SCRAM };

struct user_entry {
	char *name;
	char *secret;
	int kind;            /* enum secret_kind */
	int line;            /* where the secret was read (the later line wins) */
};

struct userlist {
	struct user_entry *users;
	size_t n;
};

bool userlist_load(const char *path, struct userlist **out, char *err, size_t errlen) MUST_CHECK;
bool userlist_parse(const char *text, size_t len, const char *name,
		    struct userlist **out, char *err, size_t errlen) MUST_CHECK;
const struct user_entry *userlist_find(const struct userlist *ul, const char *user);
struct userlist *userlist_copy(const struct userlist *ul);
void userlist_free(struct userlist *ul);
int userlist_secret_kind(const char *secret);
bool userlist_secret_empty(const char *user, const char *secret);

#endif
