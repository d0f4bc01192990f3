/*
 * peers.h — the table of peer instances (peer id -> where it takes cancel
 * requests, how many forwards may be in flight to it) and forwarding a
 * CancelRequest to one of them.
 *
 * The table is one value, replaced whole: peers_configure builds it from
 * a configuration's [peers] (at start, at each reload and SET); a source
 * that learns peers some other way (cluster membership, doc/cluster.md)
 * builds the same list of struct peer_spec and calls peers_set. Forwards
 * in flight outlive a replacement: they stay counted against the entry of
 * the same id in the new table, and are let go by one whose id is gone.
 *
 * A forward is a connection to the peer that carries the 16-byte
 * CancelRequest as given (the caller has lowered its hop count) and waits
 * for the peer to close it, bounded by PEER_CONNECT_TIMEOUT and
 * PEER_ANSWER_TIMEOUT; at most the entry's pool_size are in flight to one
 * peer. A peer that is slow, down or unknown costs a dropped cancel and a
 * log line, limited to PEER_LOG_BURST a second per peer.
 *
 * INTERFACE ROUTINES
 *   peers_configure(cfg)      the table from cfg->peers; cfg->peer_id's own
 *                             entry is left out (PgBouncer allows it, so
 *                             every instance may share one [peers])
 *   peers_set(specs, n, self) the table from a list; self (this instance's
 *                             id) is left out. false: out of memory, the
 *                             table stays as it was
 *   peers_learn(specs, n)     the peers a cluster's membership knows: kept
 *                             and merged under [peers] (at this call and
 *                             every reload); the same list again is a no-op
 *   peers_forward(id, pid, key, why, n)  start forwarding a CancelRequest
 *                             to peer id. false: dropped at once, `why`
 *                             says so (the caller logs it, limited per
 *                             sender); later failures are logged here
 *   peers_free()              at exit
 */
#ifndef SLUICE_PEERS_H
#define SLUICE_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

struct config;

#define PEER_CONNECT_TIMEOUT 5.0
#define PEER_ANSWER_TIMEOUT 5.0   /* for the peer to close the connection once sent */
#define PEER_LOG_BURST 5          /* lines a second about one peer's forwards */

/* One peer as a source describes it. */
struct peer_spec {
	int id;                /* 1..CONFIG_PEER_ID_MAX */
	const char *host;      /* host name, IP address or "/dir" of a unix socket */
	int port;
	int pool_size;         /* forwards in flight at most (>= 1) */
	const char *origin;    /* where it was defined, for messages ("sluice.ini:31") */
};

void peers_configure(const struct config *cfg);
void peers_learn(const struct peer_spec *specs, size_t n);
bool peers_set(const struct peer_spec *specs, size_t n, int self) MUST_CHECK;
bool peers_forward(int id, uint32_t pid, uint32_t key, char *why, size_t whylen) MUST_CHECK;
void peers_free(void);

#endif
