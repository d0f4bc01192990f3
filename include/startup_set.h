/*
 * startup_set.h — a client's startup parameters as one shared, counted
 * value: the settings a server connection is opened with, so that
 * PostgreSQL itself holds them as the session's reset values (RESET,
 * RESET ALL, DISCARD ALL go back to them, as they do without sluice).
 *
 * Sets are interned: clients with the same settings share one set, and
 * two sets are equal exactly when their pointers are (the empty set is
 * NULL). A pool prefers an idle server whose set is its client's own.
 *
 * INTERFACE ROUTINES
 *   startup_builder_init(b) / startup_builder_free(b)
 *   startup_builder_add(b, name, value, from_options)
 *                          one setting; an explicit startup parameter
 *                          wins over the same name from `options`, as in
 *                          PostgreSQL; a later one of the same kind wins
 *   startup_builder_add_options(b, text)   the -c name=value and
 *                          --name=value settings of `options`
 *   startup_builder_remove(b, name)
 *   startup_set_intern(b, &set)   the shared set of b's settings (NULL when
 *                          empty), counted once more; false: out of memory
 *   startup_set_unshared(b, &set)   b's settings as one client's own set,
 *                          not shared, until startup_set_filter makes
 *                          the shared one (NULL when empty); false: out
 *                          of memory. Only filter, get and put take it.
 *   startup_set_filter(set, keep, arg, &out)   the set of the settings
 *                          keep() says yes to, with their origin forgotten
 *   startup_set_ref(set) / startup_set_put(set)
 *   startup_set_get(set, name)   a setting's value, or NULL
 *   startup_set_tracked(set)     bit i set: varcache parameter i is in set
 *   startup_set_learn(set, vars) remember the values a server opened with
 *                          the set reported for its tracked parameters
 *                          (PostgreSQL's spelling: "ISO, DMY", "UTF8")
 */
#ifndef SLUICE_STARTUP_SET_H
#define SLUICE_STARTUP_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "htab.h"
#include "varcache.h"

/* A client may send many parameters; each costs a server's startup packet
 * and a SET. Beyond these the client is refused (doc/security.md). */
#define STARTUP_SET_PARAMS_MAX 32     /* settings */
#define STARTUP_SET_BYTES_MAX  4096   /* their names and values together */
#define STARTUP_NAME_MAX       63     /* NAMEDATALEN - 1 */

struct startup_pair {
	const char *name;            /* lower case */
	const char *value;
	bool from_options;           /* came from `options` (-c name=value) */
};

struct startup_set {
	struct htab_node node;       /* in the table of all sets, by its key's hash */
	unsigned refs;
	unsigned n;
	bool shared;                 /* in the table (startup_set_intern, _filter) */
	bool canon_known;            /* a server opened with it has logged in */
	struct varcache canon;       /* ...and reported these for its tracked names */
	char *key;                   /* the pairs, sorted, as one string */
	size_t keylen;
	struct startup_pair pairs[]; /* sorted by name; strings point into key */
};

struct startup_builder {
	unsigned n;
	size_t bytes;
	struct {
		char name[STARTUP_NAME_MAX + 1];   /* lower case (name_ok: at most 63 bytes) */
		char *value;
		bool from_options;
	} p[STARTUP_SET_PARAMS_MAX];
};

enum startup_add {
	STARTUP_ADD_OK,
	STARTUP_ADD_TOO_MANY,        /* more than STARTUP_SET_PARAMS_MAX settings */
	STARTUP_ADD_TOO_LONG,        /* more than STARTUP_SET_BYTES_MAX bytes, or a long name */
	STARTUP_ADD_BAD_OPTIONS,     /* `options` holds what is not -c name=value */
	STARTUP_ADD_NOMEM,
};

void startup_builder_init(struct startup_builder *b);
void startup_builder_free(struct startup_builder *b);
enum startup_add startup_builder_add(struct startup_builder *b, const char *name, const char *value,
				     bool from_options) MUST_CHECK;
enum startup_add startup_builder_add_options(struct startup_builder *b, const char *text) MUST_CHECK;
void startup_builder_remove(struct startup_builder *b, const char *name);

bool startup_set_intern(const struct startup_builder *b, struct startup_set **out) MUST_CHECK;
bool startup_set_unshared(const struct startup_builder *b, struct startup_set **out) MUST_CHECK;
bool startup_set_filter(struct startup_set *set, bool (*keep)(const struct startup_pair *, void *),
			void *arg, struct startup_set **out) MUST_CHECK;
struct startup_set *startup_set_ref(struct startup_set *set);
void startup_set_put(struct startup_set *set);
const char *startup_set_get(const struct startup_set *set, const char *name);
uint32_t startup_set_tracked(const struct startup_set *set);
void startup_set_learn(struct startup_set *set, const struct varcache *vars);
/* Sets alive (for tests and SHOW). */
size_t startup_set_count(void);

#endif
