/*
 * md5auth.t — PostgreSQL's md5 scheme, byte-exact against vectors made
 * with md5sum(1):
 *   printf secretalice | md5sum
 *   printf '%s\x01\x02\x03\x04' 4a0a68b43b6cd5cf266fa02f196e2371 | md5sum
 */
#include <stdio.h>
#include <string.h>

#include "md5auth.h"
#include "tap.h"

static const uint8_t salt_a[4] = { 0x01, 0x02, 0x03, 0x04 };
static const uint8_t salt_b[4] = { 0xde, 0xad, 0xbe, 0xef };
static const uint8_t salt_z[4] = { 0x00, 0x00, 0x00, 0x00 };
static const uint8_t salt_c[4] = { 0xff, 0x00, 0x7f, 0x80 };

static void test_hash(void)
{
	static const struct { const char *password, *user, *want; } t[] = {
		{ "secret", "alice", "md54a0a68b43b6cd5cf266fa02f196e2371" },
		{ "pencil", "postgres", "md54c21b325d75177d5e9b9789a50ab0c9c" },
		{ "", "user", "md5ee11cbb19052e40b07aac0ca060c23ee" },
		{ "", "", "md5d41d8cd98f00b204e9800998ecf8427e" },
	};
	char out[MD5AUTH_LEN + 1];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		memset(out, 'x', sizeof out);
		ok(md5auth_hash(t[i].password, t[i].user, out), "hash '%s' for '%s'",
		   t[i].password, t[i].user);
		is_str(out, t[i].want, "  byte-exact");
	}
	ok(!md5auth_hash(NULL, "alice", out) && !md5auth_hash("x", NULL, out), "NULL refused");
}

static void test_response(void)
{
	static const struct { const char *secret, *user; const uint8_t *salt; const char *want; } t[] = {
		{ "secret", "alice", salt_a, "md598a0412b9c31436fc53776e863350083" },
		{ "md54a0a68b43b6cd5cf266fa02f196e2371", "alice", salt_a,
		  "md598a0412b9c31436fc53776e863350083" },
		{ "md54a0a68b43b6cd5cf266fa02f196e2371", "someone-else", salt_a,
		  "md598a0412b9c31436fc53776e863350083" },
		{ "secret", "alice", salt_b, "md53e1d73ba00a55e8805aa0277d29996c5" },
		{ "pencil", "postgres", salt_z, "md5d544c70c6fb5e5c6bb2f603228c84a8a" },
		{ "", "", salt_c, "md5fb845cbaf758ebf75f3f74c8e99daf56" },
	};
	char out[MD5AUTH_LEN + 1];

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		ok(md5auth_response(t[i].secret, t[i].user, t[i].salt, out), "response #%zu", i);
		is_str(out, t[i].want, "  byte-exact");
		ok(md5auth_check(t[i].secret, t[i].user, t[i].salt, t[i].want), "  checks");
	}
}

static void test_check(void)
{
	static const struct { const char *secret, *response; const uint8_t *salt; bool want; } t[] = {
		{ "secret", "md598a0412b9c31436fc53776e863350083", salt_a, true },
		{ "secret", "md598a0412b9c31436fc53776e863350084", salt_a, false },
		{ "secret", "md598a0412b9c31436fc53776e86335008", salt_a, false },
		{ "secret", "md598a0412b9c31436fc53776e8633500833", salt_a, false },
		{ "secret", "MD598a0412b9c31436fc53776e863350083", salt_a, false },
		{ "secret", "md598A0412B9C31436FC53776E863350083", salt_a, false },
		{ "secret", "md598a0412b9c31436fc53776e863350083", salt_b, false },
		{ "secret", "", salt_a, false },
		{ "Secret", "md598a0412b9c31436fc53776e863350083", salt_a, false },
		/* The hash itself is not a valid response ("pass the hash" needs the salt). */
		{ "secret", "md54a0a68b43b6cd5cf266fa02f196e2371", salt_a, false },
		/* Uppercase hex is not a hash to PostgreSQL: hashed again as a password. */
		{ "md54A0A68B43B6CD5CF266FA02F196E2371", "md598a0412b9c31436fc53776e863350083", salt_a, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		ok(md5auth_check(t[i].secret, "alice", t[i].salt, t[i].response) == t[i].want,
		   "check '%s' %s '%s'", t[i].secret, t[i].want ? "accepts" : "refuses", t[i].response);
	ok(!md5auth_check("secret", "alice", salt_a, NULL), "NULL response refused");
	ok(!md5auth_check(NULL, "alice", salt_a, "md598a0412b9c31436fc53776e863350083"),
	   "NULL secret refused");
}

/* Plain-text passwords' inner hashes are kept for a few (user, password)
 * pairs: the answers stay those of the stored-hash path, for more pairs
 * than are kept, in any order, and a user's new password is not answered
 * with the old one's hash. */
static void test_inner_kept(void)
{
	bool all = true;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 20; i++) {
			char user[16], pw[16], hashed[MD5AUTH_LEN + 1], want[MD5AUTH_LEN + 1], got[MD5AUTH_LEN + 1];
			int k = round == 1 ? 19 - i : i;
			snprintf(user, sizeof user, "u%d", k % 10);   /* ten users, two passwords each */
			snprintf(pw, sizeof pw, "pw%d", k);
			all &= md5auth_hash(pw, user, hashed) && md5auth_response(hashed, user, salt_b, want) &&
			       md5auth_response(pw, user, salt_b, got) && !strcmp(got, want) &&
			       md5auth_check(pw, user, salt_b, want);
		}
	}
	ok(all, "plain-text answers match the stored-hash ones, 20 pairs, 3 rounds");
	char a[MD5AUTH_LEN + 1], b[MD5AUTH_LEN + 1];
	ok(md5auth_response("old-pw", "carol", salt_a, a) && md5auth_response("new-pw", "carol", salt_a, b) &&
	   strcmp(a, b) != 0, "a user's new password gets its own hash");
	ok(!md5auth_check("new-pw", "carol", salt_a, a), "and the old one's answer is refused");
}

int main(void)
{
	test_hash();
	test_response();
	test_check();
	test_inner_kept();
	return done_testing();
}
