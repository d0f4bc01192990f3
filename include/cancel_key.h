/*
 * cancel_key.h — the layout of the cancel keys sluice hands to clients
 * (BackendKeyData: a 32-bit "process id" and a 32-bit secret), and the
 * peer id and hop count they carry when peer_id is set.
 *
 * With peer_id 0 the key is 63 random bits: all of both words but the
 * pid's sign bit (clients expect a positive process id). With peer_id N
 * (1..16383) it is laid out as PgBouncer lays it out, so a mixed group of
 * sluice and PgBouncer peers can read each other's keys:
 *
 *   pid, on the wire:  byte 0  bit 7 zero, 7 random bits
 *                      byte 1  peer id, low 8 bits
 *                      byte 2  peer id, high 6 bits (the top 2 bits zero)
 *                      byte 3  random
 *   key, on the wire:  bytes 4-6 and the high 6 bits of byte 7 random;
 *                      the low 2 bits of byte 7: forwards left (hops)
 *
 * 45 random bits stay (15 in the pid, 30 in the key): guessing a key
 * still takes about 2^44 tries, each a new connection.
 *
 * A key sluice hands out allows CANCEL_KEY_HOPS = 1 forward (PgBouncer's
 * allow 3): in every shape doc/cluster.md describes, [peers] names the
 * one instance that holds the client, so one forward reaches it, and a
 * second one means an address that leads to the wrong instance: that is
 * dropped and said, rather than passed around. Each forward lowers the
 * count; the instance that holds the client compares the key with its
 * count put back as issued.
 *
 * INTERFACE ROUTINES (pure)
 *   cancel_key_make(rnd, peer_id, &pid, &key)   a fresh key from 64
 *                              random bits
 *   cancel_key_peer(pid)       the peer id a key carries (meaningful only
 *                              when peering is on)
 *   cancel_key_hops(key)       forwards it may still take
 *   cancel_key_hop(key)        the key as forwarded: one hop fewer
 *                              (hops must be above 0)
 *   cancel_key_as_issued(key)  its hop count put back as it was handed out
 */
#ifndef SLUICE_CANCEL_KEY_H
#define SLUICE_CANCEL_KEY_H

#include <stdint.h>

#define CANCEL_KEY_HOPS_MASK 3u
#define CANCEL_KEY_HOPS 1u

void cancel_key_make(const uint32_t rnd[2], int peer_id, uint32_t *pid, uint32_t *key);
int cancel_key_peer(uint32_t pid);
unsigned cancel_key_hops(uint32_t key);
uint32_t cancel_key_hop(uint32_t key);
uint32_t cancel_key_as_issued(uint32_t key);

#endif
