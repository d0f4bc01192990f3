/*
 * prepared_internal.h — shared by prepared.c (a server's statements and
 * the queue of answers it owes; the server side) and prepared_client.c
 * (the client side) only. Others use prepared.h.
 */
#ifndef SLUICE_PREPARED_INTERNAL_H
#define SLUICE_PREPARED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "list.h"
#include "stmtreg.h"

struct client;
struct server;

#define NAME_PREFIX STMT_NAME_PREFIX
/* A name no statement ever has (ids start at 1): a Bind of it fails on
 * the server, which then skips to the next Sync as for any error. */
#define NO_SUCH_NAME NAME_PREFIX "0"
/* where PostgreSQL judges a Parse sluice cannot answer for sure */
#define CHECK_NAME NAME_PREFIX "check"
#define MSG_CACHED_PLAN "cached plan must not change result type"


/* ---- a server's statements and the responses it owes ---- */

enum rq_kind {
	RQ_PARSE,          /* client's Parse, forwarded (id: ours, 0: unnamed) */
	RQ_PARSE_DUP,      /* client re-Parsed a name it has: the server refuses */
	RQ_PARSE_CHECK,    /* client's Parse of a statement the server has, judged
	                    * there under CHECK_NAME (its answer is the client's) */
	RQ_BIND,           /* client's Bind (id: of a statement of sluice's) */
	RQ_CLOSE, RQ_DESCRIBE, RQ_EXECUTE, RQ_SYNC,   /* plain: owed in an RQ_RUN */
	RQ_QUERY, RQ_FUNC,
	RQ_DESCRIBE_STMT,  /* client's Describe of its statement `cname` */
	RQ_DESCRIBE_PORTAL,/* client's Describe of the unnamed portal bound to `cname` */
	RQ_BIND_MISMATCH,  /* a Bind sluice made fail: its error becomes 0A000 */
	RQ_OWN_PARSE,      /* sluice's Parse: its ParseComplete is dropped */
	RQ_OWN_DESCRIBE,   /* sluice's Describe of what it prepared: kept, dropped */
	RQ_OWN_CLOSE,      /* sluice's Close: its CloseComplete is dropped */
	RQ_ANSWER_PARSE,   /* sluice owes the client a ParseComplete */
	RQ_ANSWER_CLOSE,   /* sluice owes the client a CloseComplete */
	RQ_RUN,            /* plain answers in a row (below) */
	RQ_READIES,        /* n ReadyForQuery owed to Queries not queued (below) */
};

/*
 * Plain answers: those of the client's messages that sluice neither
 * rewrites nor learns from (a Parse, Bind or Describe without a statement
 * of sluice's, an Execute, a Close of a portal or of the unnamed
 * statement, a Sync). prepared_owe() keeps a row of them in one RQ_RUN
 * entry: `n` answers that each end in one of the completion messages
 * (ParseComplete, BindComplete, CloseComplete, RowDescription, NoData,
 * CommandComplete, EmptyQueryResponse, PortalSuspended: every one of
 * these messages answers exactly one of them), then, when `sync`, the
 * ReadyForQuery of the Sync that closed the row. A message that ends in
 * anything else, or that sluice must see answered, gets an entry of its
 * own. An unnamed Parse, Bind, Describe, Execute and Sync, an extended
 * query as most drivers send it, owe one entry instead of five.
 *
 * A Query sent while nothing is owed gets no entry at all: its answers
 * pass the relay with no hook of this module (link_server_spec), and
 * s->unqueued_readies counts the ReadyForQuery still owed to such
 * Queries (prepared_server_ready counts each off). They all come before
 * anything queued later; the first entry queued while some are owed is
 * an RQ_READIES standing for them, so that nothing of sluice's overtakes
 * their answers.
 */
#define RQ_RUN_MAX UINT32_MAX

struct rq_entry {
	uint8_t kind;
	bool sync;         /* RQ_RUN: a ReadyForQuery after its n answers */
	bool executes;     /* RQ_RUN: an Execute is among them */
	uint32_t n;        /* RQ_RUN: completion messages still owed;
	                    * RQ_READIES: ReadyForQuery messages still owed */
	uint64_t id;
	char *cname;       /* the client's name: RQ_PARSE / RQ_ANSWER_PARSE (to
	                    * forget if PostgreSQL fails or skips the Parse),
	                    * RQ_DESCRIBE_* (to note what the client was told) */
};

struct sstmt {
	struct pstmt *ps;              /* holds a reference */
	struct shape *params, *rows;   /* what this server said; NULL until it did */
	bool described;                /* its Describe was answered (shapes NULL: unreadable) */
	bool stale;                    /* its plan's result type changed: prepare again */
	bool parse_owed;               /* sluice's Parse of it is not answered yet: a Bind
	                                * of it sent now may find nothing */
	struct list lru;
	struct htab_node node;         /* in its server's table, hashed by id */
};

struct server_stmts {
	struct htab tab;           /* struct sstmt by statement id (ids are sequential:
	                            * they spread over the buckets as they are) */
	struct list lru;           /* most recently used first */
	struct rq_entry *q;        /* ring */
	size_t qcap, qhead, qlen;  /* qcap: a power of two (indexes wrap by mask) */
	struct shape *got_params;  /* a Describe's ParameterDescription, until its rows */
	unsigned describing;       /* RQ_DESCRIBE_STMT/_PORTAL and RQ_OWN_DESCRIBE owed */
	bool skipping;             /* after an error: the server ignores all to the next Sync */
	bool client_waits;         /* the client's next message waits for a Describe */
	bool resume;               /* ...which has come: relay the client again */
	bool stalled;              /* PREPARED_QUEUE_MAX answers owed: the client waits */
	bool worked;               /* since the last ReadyForQuery after which nothing
	                            * was owed, a message went to the server that may
	                            * end a failed transaction (an Execute, a Query, a
	                            * FunctionCall): its txn_status may be out of date */
};


struct server_stmts *prepared_sstmts(struct server *s);   /* made on first need */
struct sstmt *prepared_sset_find(struct server_stmts *ss, uint64_t id);
struct sstmt *prepared_sset_add(struct server_stmts *ss, struct pstmt *ps);
void prepared_sset_del(struct server_stmts *ss, uint64_t id);
/* Queue a response owed by s (whose stmts exist); `cname`, when given, is
 * copied into the entry. */
bool prepared_rq_push(struct server *s, enum rq_kind kind, uint64_t id, const char *cname);
/* The same for a plain answer (RQ_PARSE, RQ_BIND, RQ_DESCRIBE without a
 * statement of sluice's or a name to keep; RQ_CLOSE, RQ_EXECUTE, RQ_SYNC):
 * it joins the row of them at the queue's tail. */
bool prepared_owe_plain(struct server *s, enum rq_kind kind);
/* The same for a Query. */
bool prepared_owe_query(struct server *s);
/* Answers sluice owes itself: ParseComplete, CloseComplete. */
bool prepared_is_answer(uint8_t kind);
/* Note a response owed to the client for what it just sent; sluice's own
 * answers go out at once when nothing is owed before them. */
bool prepared_owe(struct server *s, enum rq_kind kind, uint64_t id, const char *cname);
/* "sluice_<id>" */
void prepared_stmt_name(char *buf, size_t n, uint64_t id);

#endif
