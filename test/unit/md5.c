/*
 * md5.t — our MD5 against RFC 1321's test suite, and against OpenSSL's
 * for every length from 0 to 300 bytes, given whole and in pieces (the
 * block and padding edges: 55, 56, 63, 64, 119, 120 bytes).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "md5.h"
#include "tap.h"

static void hex_of(const char *s, size_t len, char out[2 * MD5_LEN + 1])
{
	struct md5 m;
	uint8_t md[MD5_LEN];
	md5_init(&m);
	md5_update(&m, s, len);
	md5_final(&m, md);
	for (int i = 0; i < MD5_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_rfc1321(void)
{
	static const struct { const char *in, *want; } t[] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char out[2 * MD5_LEN + 1];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		hex_of(t[i].in, strlen(t[i].in), out);
		ok(!strcmp(out, t[i].want), "RFC 1321: MD5(\"%.20s\") is %s", t[i].in, out);
	}
}

static void test_against_openssl(void)
{
	uint8_t data[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 131 + 7);
	int whole_bad = 0, split_bad = 0;
	for (size_t len = 0; len <= sizeof data; len++) {
		uint8_t want[EVP_MAX_MD_SIZE], got[MD5_LEN];
		unsigned int wl = 0;
		if (!EVP_Digest(data, len, want, &wl, EVP_md5(), NULL) || wl != MD5_LEN) {
			whole_bad++;
			continue;
		}
		struct md5 m;
		md5_init(&m);
		md5_update(&m, data, len);
		md5_final(&m, got);
		whole_bad += memcmp(got, want, MD5_LEN) != 0;
		/* in pieces of 1, 2, 3 ... bytes */
		md5_init(&m);
		for (size_t at = 0, step = 1; at < len; at += step, step++)
			md5_update(&m, data + at, step < len - at ? step : len - at);
		md5_final(&m, got);
		split_bad += memcmp(got, want, MD5_LEN) != 0;
	}
	is_int(whole_bad, 0, "0 to 300 bytes at once: as OpenSSL's");
	is_int(split_bad, 0, "0 to 300 bytes in pieces: as OpenSSL's");
}

int main(void)
{
	test_rfc1321();
	test_against_openssl();
	return done_testing();
}
