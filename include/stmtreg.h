/*
 * stmtreg.h — the statement registry behind prepared.c: the statements of
 * each pool, and each client's names for them. For prepared.c and its
 * parts (prepared_idle.c) only.
 *
 * A registry entry is one statement text with its parameter types, per
 * pool (database and user: the same text can mean another thing in
 * another database), with sluice's id for it ("sluice_<id>" on servers)
 * and PostgreSQL's last description of it. It is held by the client names
 * that refer to it and by the servers that have it prepared, and goes
 * when the last lets go.
 *
 * INTERFACE ROUTINES
 *   stmtreg_find(pool, rest, len)   the entry, or NULL (no reference taken)
 *   stmtreg_get(pool, rest, len)    the entry, made if new, one reference more
 *   stmtreg_hold(ps) / stmtreg_put(ps)  take / drop a reference
 *   stmtreg_names(c)                c's names (made on first need)
 *   stmtreg_name_find/add/del       one of c's names
 *   stmtreg_name_room(c, n, t)      room for one more name (fails c if none)
 *   stmtreg_named(c, cname)         c's statement by name, or NULL
 *   stmtreg_set_shape(&slot, sh)    point a shape slot at sh (references kept right)
 */
#ifndef SLUICE_STMTREG_H
#define SLUICE_STMTREG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "htab.h"

/* sluice's names for statements on servers: STMT_NAME_PREFIX "<id>" */
#define STMT_NAME_PREFIX "sluice_"

struct client;
struct pool;
struct shape;
struct sqlscan;

struct pstmt {
	struct htab_node node;    /* in the registry */
	uint64_t id;
	const struct pool *pool;  /* whose statement (compared, never followed) */
	uint8_t *rest;            /* Parse body after the name */
	size_t rest_len;
	unsigned refs;            /* client names and servers that hold it */
	bool ok;                  /* PostgreSQL has accepted its Parse */
	struct shape *params, *rows;   /* the last Describe of it PostgreSQL answered */
};

struct cstmt {
	struct htab_node node;    /* in its client's names */
	char *name;
	struct pstmt *ps;
	struct shape *told_params, *told_rows;   /* what Describe told the client */
	bool checking;          /* its Parse is judged by PostgreSQL: not usable until then */
};

struct client_stmts {
	struct htab names;      /* struct cstmt by name */
	struct cstmt *bound;    /* the statement its last Bind to the unnamed portal named
	                         * (cleared when that name goes) */
	struct sqlscan *scan;   /* a Query streamed in pieces (prepared_sql.c), made on first need */
	bool scan_streaming;    /* ...one is in passage */
	size_t bytes;           /* the bytes of its names and their texts */
};

struct pstmt *stmtreg_find(const struct pool *pool, const uint8_t *rest, size_t len);
struct pstmt *stmtreg_get(const struct pool *pool, const uint8_t *rest, size_t len);
void stmtreg_hold(struct pstmt *ps);
void stmtreg_put(struct pstmt *ps);

struct client_stmts *stmtreg_names(struct client *c);
struct cstmt *stmtreg_name_find(struct client_stmts *cs, const char *name);
/* Takes over the caller's reference to ps; NULL when out of memory. */
struct cstmt *stmtreg_name_add(struct client_stmts *cs, const char *name, struct pstmt *ps);
void stmtreg_name_del(struct client_stmts *cs, const char *name);
/* One of cs's names for statement `id`, or NULL (a walk: for errors). */
const char *stmtreg_name_of(const struct client_stmts *cs, uint64_t id);
/* May c name one more statement (name and text of these lengths) under
 * max_client_prepared_statements and _bytes? If not, c is failed (54000). */
bool stmtreg_name_room(struct client *c, size_t name_len, size_t text_len) MUST_CHECK;
/* c's statement `cname`, or NULL (unnamed, or not one of c's). */
struct cstmt *stmtreg_named(struct client *c, const char *cname);

void stmtreg_set_shape(struct shape **slot, struct shape *sh);

#endif
