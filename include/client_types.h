/*
 * client_types.h — what a client is, as data: its states and its struct,
 * and who its log lines are about. Shared by the modules that keep
 * clients in lists or tables (the pool's queue, the gate's held list,
 * cancel's keys, the prepared-statement registry) and read their fields;
 * what a client does is the client module's (client.h) and the linked
 * pair's (link.h).
 */
#ifndef SLUICE_CLIENT_TYPES_H
#define SLUICE_CLIENT_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "conn.h"
#include "htab.h"
#include "list.h"
#include "log.h"
#include "relay.h"
#include "varcache.h"

enum client_state {
	CL_STARTUP,      /* reading the startup packet */
	CL_AUTH,         /* authenticating */
	CL_AUTH_QUERY,   /* its secret is being looked up with auth_query
	                  * (queued on, then served by, the auth pool) */
	CL_LOGIN_WAIT,   /* authenticated; waiting for a server to learn the
	                  * pool's parameters (queued on the pool) */
	CL_IDLE,         /* logged in, holds no server, nothing to send */
	CL_WAITING,      /* has work, queued for a server */
	CL_ACTIVE,       /* linked to a server */
	CL_ADMIN,        /* logged in to the admin console (admin.c) */
	CL_HELD,         /* its next transaction waits for the gate (client_hold.c);
	                  * session pooling: still linked to its server */
	CL_CLOSED,
};

struct client_auth;   /* client_auth.c */

/* A client's address: an IPv4 or IPv6 one whole; of a unix socket's only
 * the family, which is all sluice looks at. Kept as an address and
 * formatted when shown (client_addr), not kept as text too. */
union client_peer {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

#define CLIENT_ADDR_LEN 64   /* client_addr(): "[v6 address]:port" fits */

/* Every idle client costs this struct (malloc rounds it up to 16 bytes):
 * mind the padding when adding a field. */
enum { NEGOTIATED_SSL = 1, NEGOTIATED_GSSENC = 2 };
struct startup_set;

struct client {
	struct conn conn;            /* first */
	enum client_state state;
	union client_peer peer;      /* for hba rules, SHOW CLIENTS and log lines */
	struct list pool_node;       /* pool's waiting queue */
	struct list all_node;        /* rt.clients */
	union {                      /* never both: one is before login, one after */
		struct list login_node;  /* rt.logins, until authenticated (login_slots.c) */
		struct list hold_node;   /* its gate's held list, while CL_HELD */
	};
	double held_since;           /* rt_now() when held */
	double xact_start;           /* rt_now() when its current transaction began */
	struct pool *pool;
	struct server *server;
	const char *user;            /* strpool strings */
	const char *db_name;
	struct varcache vars;        /* what this client believes is set */
	struct startup_set *set;     /* its startup settings (startup_set.h), NULL: none */
	struct client_auth *auth;
	struct client_stmts *stmts;  /* named prepared statements (prepared.c) */
	struct relay relay;          /* client -> server */
	uint32_t cancel_pid, cancel_key;
	struct htab_node cancel_node;  /* in cancel.c's table, by cancel_pid */
	uint8_t *partial;            /* before login: the start of a message not yet
	                              * complete, out of conn.in (client.c: stash) */
	double wait_since;
	double request_at;           /* rt_now() of the last request (SHOW CLIENTS) */
	unsigned negotiations;       /* NEGOTIATED_*: the requests answered (each kind once) */
	int lookup_method;           /* auth method waiting on auth_query */
	bool bypass;                 /* gate_bypass_*: never held, own session server */
	bool counted;                /* counted in rt.nclients */
	bool in_flight;              /* counted in its gate's in_flight (link.c) */
	bool console_waiting;        /* admin: a command waits (PAUSE, WAIT_CLOSE) */
	bool pinned;                 /* keeps its server in transaction pooling (session_state.c) */
	uint16_t npartial;           /* bytes at partial */
	uint8_t state_held;          /* session state kinds on its server while pinned */
	uint8_t state_warned;        /* kinds logged for it already (once each) */
	uint8_t state_notice;        /* kinds a NOTICE is due for, at the next ReadyForQuery */
	uint8_t state_refusal;       /* the last refusal: kind index, | 0x80 past max_pinned_servers */
	uint32_t state_clear;        /* SQLSCAN_CL_* bits sent, applied at ReadyForQuery */
	double connected_at;         /* rt_now() when accepted (age in log lines;
	                              * SHOW CLIENTS' connect_time, as request_at) */
};

/* "10.0.0.5:53122", "[::1]:53122" or "unix" */
void client_addr(const struct client *c, char *out, size_t n);

/* Who a client's log lines are about: C-id, database, user, address
 * (written into addr, CLIENT_ADDR_LEN bytes). */
static inline struct log_who client_who(const struct client *c, char *addr)
{
	client_addr(c, addr, CLIENT_ADDR_LEN);
	return (struct log_who){ 'C', (unsigned long long)c->conn.id, c->db_name, c->user, addr, 0 };
}

#define client_log(c, lvl, fmt, ...) \
	do { if (log_on(lvl)) { char addr_[CLIENT_ADDR_LEN]; \
		struct log_who who_ = client_who(c, addr_); \
		log_write_at((lvl), &who_, NULL, fmt, ##__VA_ARGS__); } } while (0)

const char *client_state_name(enum client_state st);
/* Not authenticated yet: holds a login slot (CL_STARTUP, CL_AUTH,
 * CL_AUTH_QUERY). */
static inline bool client_state_before_login(enum client_state st)
{
	return st == CL_STARTUP || st == CL_AUTH || st == CL_AUTH_QUERY;
}

#endif
