/*
 * siphash.t — SipHash-2-4 against the reference vectors (key 00 01 .. 0f,
 * messages of 0 to 63 bytes 00 01 02 ..., tags read little-endian), fed
 * whole and in pieces; the process key hashes consistently.
 */
#include <stdint.h>
#include <stdio.h>

#include "siphash.h"
#include "tap.h"

static const uint64_t want[64] = {
	0x726fdb47dd0e0e31ull, 0x74f839c593dc67fdull, 0x0d6c8009d9a94f5aull, 0x85676696d7fb7e2dull,
	0xcf2794e0277187b7ull, 0x18765564cd99a68dull, 0xcbc9466e58fee3ceull, 0xab0200f58b01d137ull,
	0x93f5f5799a932462ull, 0x9e0082df0ba9e4b0ull, 0x7a5dbbc594ddb9f3ull, 0xf4b32f46226bada7ull,
	0x751e8fbc860ee5fbull, 0x14ea5627c0843d90ull, 0xf723ca908e7af2eeull, 0xa129ca6149be45e5ull,
	0x3f2acc7f57c29bdbull, 0x699ae9f52cbe4794ull, 0x4bc1b3f0968dd39cull, 0xbb6dc91da77961bdull,
	0xbed65cf21aa2ee98ull, 0xd0f2cbb02e3b67c7ull, 0x93536795e3a33e88ull, 0xa80c038ccd5ccec8ull,
	0xb8ad50c6f649af94ull, 0xbce192de8a85b8eaull, 0x17d835b85bbb15f3ull, 0x2f2e6163076bcfadull,
	0xde4daaaca71dc9a5ull, 0xa6a2506687956571ull, 0xad87a3535c49ef28ull, 0x32d892fad841c342ull,
	0x7127512f72f27cceull, 0xa7f32346f95978e3ull, 0x12e0b01abb051238ull, 0x15e034d40fa197aeull,
	0x314dffbe0815a3b4ull, 0x027990f029623981ull, 0xcadcd4e59ef40c4dull, 0x9abfd8766a33735cull,
	0x0e3ea96b5304a7d0ull, 0xad0c42d6fc585992ull, 0x187306c89bc215a9ull, 0xd4a60abcf3792b95ull,
	0xf935451de4f21df2ull, 0xa9538f0419755787ull, 0xdb9acddff56ca510ull, 0xd06c98cd5c0975ebull,
	0xe612a3cb9ecba951ull, 0xc766e62cfcadaf96ull, 0xee64435a9752fe72ull, 0xa192d576b245165aull,
	0x0a8787bf8ecb74b2ull, 0x81b3e73d20b49b6full, 0x7fa8220ba3b2eceaull, 0x245731c13ca42499ull,
	0xb78dbfaf3a8d83bdull, 0xea1ad565322a1a0bull, 0x60e61c23a3795013ull, 0x6606d7e446282b93ull,
	0x6ca4ecb15c5f91e1ull, 0x9f626da15c9625f3ull, 0xe51b38608ef25f57ull, 0x958a324ceb064572ull,
};

#define K0 0x0706050403020100ull   /* key bytes 00 .. 07, little-endian */
#define K1 0x0f0e0d0c0b0a0908ull

static uint64_t whole(const uint8_t *m, size_t len)
{
	struct siphash s;
	siphash_init(&s, K0, K1);
	siphash_bytes(&s, m, len);
	return siphash_final(&s);
}

/* m in pieces of `piece` bytes, the last shorter */
static uint64_t pieces(const uint8_t *m, size_t len, size_t piece)
{
	struct siphash s;
	siphash_init(&s, K0, K1);
	for (size_t at = 0; at < len; at += piece)
		siphash_bytes(&s, m + at, len - at < piece ? len - at : piece);
	siphash_bytes(&s, m, 0);
	return siphash_final(&s);
}

int main(void)
{
	uint8_t m[64];
	for (int i = 0; i < 64; i++)
		m[i] = (uint8_t)i;

	int wrong = 0;
	for (size_t len = 0; len < 64; len++) {
		if (whole(m, len) != want[len]) {
			diag("length %zu: got %016llx, want %016llx", len,
			     (unsigned long long)whole(m, len), (unsigned long long)want[len]);
			wrong++;
		}
	}
	is_int(wrong, 0, "the 64 reference vectors, each message given whole");
	wrong = 0;
	for (size_t len = 0; len < 64; len++)
		wrong += siphash_keyed(K0, K1, m, len) != want[len];
	is_int(wrong, 0, "the 64 reference vectors through siphash_keyed");
	ok(whole(m, 15) == 0xa129ca6149be45e5ull, "the paper's example: 15 bytes, a129ca6149be45e5");
	ok(whole(m, 0) == 0x726fdb47dd0e0e31ull, "the empty message");

	wrong = 0;
	for (size_t len = 0; len < 64; len++)
		for (size_t piece = 1; piece <= 17; piece++)
			wrong += pieces(m, len, piece) != want[len];
	is_int(wrong, 0, "the same vectors fed in pieces of 1 to 17 bytes");

	uint64_t a = siphash_of("alice", 5), b = siphash_of("alice", 5);
	ok(a == b, "the process key: one string, one hash");
	ok(siphash_of("alice", 5) != siphash_of("alicf", 5), "another string, another hash");
	struct siphash s;
	siphash_start(&s);
	siphash_bytes(&s, "ali", 3);
	siphash_bytes(&s, "ce", 2);
	ok(siphash_final(&s) == a, "siphash_start + pieces agrees with siphash_of");
	ok(a != whole((const uint8_t *)"alice", 5), "the process key is not the test key");
	return done_testing();
}
