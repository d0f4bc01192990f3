/*
 * cancel_key.c — the peer id and hop count inside a cancel key
 * (cancel_key.h says the layout and why).
 */
#include "cancel_key.h"

/* The pid's bits the peer id takes: wire bytes 1 and 2, i.e. bits 16-23
 * and 8-15 of the host-order value. */
#define PID_PEER_BITS 0x00ffff00u
#define PID_SIGN_BIT 0x80000000u

void cancel_key_make(const uint32_t rnd[2], int peer_id, uint32_t *pid, uint32_t *key)
{
	uint32_t p = rnd[0] & ~PID_SIGN_BIT, k = rnd[1];
	if (peer_id > 0) {
		uint32_t id = (uint32_t)peer_id;
		p = (p & ~PID_PEER_BITS) | (id & 0xff) << 16 | (id >> 8 & 0xff) << 8;
		k = (k & ~CANCEL_KEY_HOPS_MASK) | CANCEL_KEY_HOPS;
	}
	*pid = p;
	*key = k;
}

int cancel_key_peer(uint32_t pid)
{
	return (int)((pid >> 16 & 0xff) | (pid >> 8 & 0xff) << 8);
}

unsigned cancel_key_hops(uint32_t key)
{
	return key & CANCEL_KEY_HOPS_MASK;
}

uint32_t cancel_key_hop(uint32_t key)
{
	return key - 1;   /* the count is the low bits: only ever called above 0 */
}

uint32_t cancel_key_as_issued(uint32_t key)
{
	return (key & ~CANCEL_KEY_HOPS_MASK) | CANCEL_KEY_HOPS;
}
