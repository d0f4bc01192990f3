/*
 * cancel_key.c — the peer id and hop count inside the cancel keys sluice
 * hands out: byte-exact against PgBouncer's layout, the random bits kept,
 * and the hop count's round trip through a forward.
 */
#include <stdint.h>
#include <string.h>

#include "cancel_key.h"
#include "compiler.h"
#include "tap.h"

/* BackendKeyData's 8 bytes as a client sees them */
static void wire(uint32_t pid, uint32_t key, uint8_t out[8])
{
	for (int i = 0; i < 4; i++) {
		out[i] = (uint8_t)(pid >> (24 - 8 * i));
		out[4 + i] = (uint8_t)(key >> (24 - 8 * i));
	}
}

static const struct {
	uint32_t rnd[2];
	int peer;
	uint8_t want[8];       /* on the wire */
} cases[] = {
	/* peering off: all random, the pid's sign bit cleared */
	{ { 0xffffffffu, 0xffffffffu }, 0, { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
	{ { 0x12345678u, 0x9abcdef0u }, 0, { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 } },
	/* peer id in bytes 1 (low) and 2 (high), hops 1 in byte 7's low bits */
	{ { 0xffffffffu, 0xffffffffu }, 1, { 0x7f, 0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xfd } },
	{ { 0x00000000u, 0x00000000u }, 1, { 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01 } },
	{ { 0xa5a5a5a5u, 0x5a5a5a5au }, 0x1234, { 0x25, 0x34, 0x12, 0xa5, 0x5a, 0x5a, 0x5a, 0x59 } },
	{ { 0xffffffffu, 0x00000002u }, 255, { 0x7f, 0xff, 0x00, 0xff, 0x00, 0x00, 0x00, 0x01 } },
	{ { 0x00000000u, 0xffffffffu }, 256, { 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff, 0xfd } },
	{ { 0xffffffffu, 0xfffffffeu }, 16383, { 0x7f, 0xff, 0x3f, 0xff, 0xff, 0xff, 0xff, 0xfd } },
};

static void test_layout(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint32_t pid, key;
		uint8_t got[8];
		cancel_key_make(cases[i].rnd, cases[i].peer, &pid, &key);
		wire(pid, key, got);
		is_mem(got, 8, cases[i].want, 8, "key bytes for a peer id");
		ok((pid & 0x80000000u) == 0, "  the pid is positive");
		if (cases[i].peer) {
			is_int(cancel_key_peer(pid), cases[i].peer, "  the peer id reads back");
			is_int(cancel_key_hops(key), CANCEL_KEY_HOPS, "  one forward allowed");
			/* every bit not taken by the id or the count is the random input's */
			is_int(pid & 0x7f0000ffu, cases[i].rnd[0] & 0x7f0000ffu, "  the pid's random bits kept");
			is_int(key & ~3u, cases[i].rnd[1] & ~3u, "  the key's random bits kept");
		}
	}
}

static void test_hops(void)
{
	const uint32_t rnd[2] = { 0x0badcafeu, 0xdeadbeefu };
	uint32_t pid, key;
	cancel_key_make(rnd, 42, &pid, &key);
	uint32_t fwd = cancel_key_hop(key);
	is_int(cancel_key_hops(fwd), 0, "a forwarded key has no forward left");
	is_int(fwd & ~3u, key & ~3u, "  and the same random bits");
	is_int(cancel_key_peer(pid), 42, "  the pid is not touched");
	is_int(cancel_key_as_issued(fwd), key, "as issued again: the key handed out");
	is_int(cancel_key_as_issued(key), key, "  and a key not forwarded stays itself");
	/* PgBouncer hands out 3 hops: one forward of such a key leaves 2 */
	uint32_t pgb = (key & ~3u) | 3u;
	is_int(cancel_key_hops(cancel_key_hop(pgb)), 2, "a PgBouncer key forwarded once keeps 2 hops");
	is_int(cancel_key_as_issued(pgb), key, "  and compares as sluice issues it");
}

/* the peer id of any pid: bytes 1 and 2, the high byte's top bits included
 * (a key from an instance without peer_id reads as some other id) */
static void test_foreign(void)
{
	is_int(cancel_key_peer(0x7fffffffu), 0xffff, "all bits set: peer 65535, which no [peers] lists");
	is_int(cancel_key_peer(0x00000000u), 0, "none: peer 0, which no [peers] lists");
}

int main(void)
{
	test_layout();
	test_hops();
	test_foreign();
	return done_testing();
}
