/*
 * md5auth.c — PostgreSQL's md5 password scheme over md5.c; see
 * md5auth.h. A stored secret counts as already hashed exactly when
 * PostgreSQL would: "md5" followed by 32 lowercase hex digits.
 */
#include <string.h>
#include <openssl/crypto.h>

#include "md5.h"
#include "md5auth.h"

#define MD5_HEX_LEN 32

/* out = "md5" + hex(md5(a || b)), NUL-terminated. */
static bool md5_hex2(const void *a, size_t an, const void *b, size_t bn,
		     char out[MD5AUTH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	struct md5 m;
	uint8_t md[MD5_LEN];
	md5_init(&m);
	md5_update(&m, a, an);
	md5_update(&m, b, bn);
	md5_final(&m, md);
	memcpy(out, "md5", 3);
	for (unsigned int i = 0; i < MD5_LEN; i++) {
		out[3 + 2 * i] = hex[md[i] >> 4];
		out[3 + 2 * i + 1] = hex[md[i] & 0xf];
	}
	out[MD5AUTH_LEN] = '\0';
	explicit_bzero(md, sizeof md);
	return true;
}

static bool is_md5_hash(const char *s)
{
	if (strncmp(s, "md5", 3) != 0 || strnlen(s, MD5AUTH_LEN + 1) != MD5AUTH_LEN)
		return false;
	return strspn(s + 3, "0123456789abcdef") == MD5_HEX_LEN;
}

bool md5auth_hash(const char *password, const char *user, char out[MD5AUTH_LEN + 1])
{
	if (!password || !user)
		return false;
	return md5_hex2(password, strlen(password), user, strlen(user), out);
}

/* The inner hash of a plain-text password, md5hex(password user), is the
 * same at every login of that user: kept for the last few (user, password)
 * pairs rather than made again at each login (an MD5 with its hex costs
 * about 1,250 instructions, and a login by md5 needs two). It exposes
 * nothing new: the plain-text password it is made of is held too (the
 * userlist). */
#define INNER_CACHE 8

static struct inner {
	char *user, *password;
	char hashed[MD5AUTH_LEN + 1];
} inner[INNER_CACHE];
static unsigned inner_next;

static bool inner_hash(const char *password, const char *user, char out[MD5AUTH_LEN + 1])
{
	for (int i = 0; i < INNER_CACHE; i++) {
		const struct inner *e = &inner[i];
		if (e->user && !strcmp(e->user, user) && !strcmp(e->password, password)) {
			memcpy(out, e->hashed, MD5AUTH_LEN + 1);
			return true;
		}
	}
	if (!md5auth_hash(password, user, out))
		return false;
	struct inner *e = &inner[inner_next++ % INNER_CACHE];
	char *u = strdup(user), *p = strdup(password);
	if (e->password)
		OPENSSL_cleanse(e->password, strlen(e->password));
	free(e->user);
	free(e->password);
	e->user = u;
	e->password = p;
	if (!u || !p) {   /* no room: not kept */
		free(u);
		free(p);
		e->user = e->password = NULL;
		return true;
	}
	memcpy(e->hashed, out, MD5AUTH_LEN + 1);
	return true;
}

bool md5auth_response(const char *secret, const char *user, const uint8_t salt[4],
		      char out[MD5AUTH_LEN + 1])
{
	char hashed[MD5AUTH_LEN + 1];
	bool ok;

	if (!secret || !user || !salt)
		return false;
	if (is_md5_hash(secret))
		memcpy(hashed, secret, sizeof hashed);
	else if (!inner_hash(secret, user, hashed))
		return false;
	ok = md5_hex2(hashed + 3, MD5_HEX_LEN, salt, 4, out);
	explicit_bzero(hashed, sizeof hashed);   /* (OPENSSL_cleanse goes a byte at a time) */
	return ok;
}

bool md5auth_check(const char *secret, const char *user, const uint8_t salt[4],
		   const char *response)
{
	char want[MD5AUTH_LEN + 1];
	bool ok;

	if (!response || strnlen(response, MD5AUTH_LEN + 1) != MD5AUTH_LEN)
		return false;
	ok = md5auth_response(secret, user, salt, want) &&
	     CRYPTO_memcmp(want, response, MD5AUTH_LEN) == 0;
	explicit_bzero(want, sizeof want);
	return ok;
}
