/*
 * scram.c — SCRAM-SHA-256 (RFC 5802 / RFC 7677), both sides; see scram.h.
 *
 * Every parser walks a message as comma-separated fields with a bounded
 * cursor (struct fields) and never reads past the length it was given; a
 * message holding a NUL is refused whole. Attributes must come in the
 * order the RFC gives; anything unexpected makes the call return false.
 * Messages are assembled with a sticky-failure builder (struct text) and
 * state is committed only when the whole step succeeded.
 *
 * SASLprep (RFC 4013) is not applied to passwords: we hash their raw bytes.
 * PostgreSQL normalizes a password that is valid UTF-8, so a non-ASCII
 * password whose normalized form differs will not match a verifier that
 * PostgreSQL made. ASCII passwords are unaffected.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base64.h"
#include "csprng.h"
#include "log.h"
#include "scram.h"

#define NONCE_RAW_LEN    18         /* random bytes; 24 base64 characters */
#define SALT_LEN         16         /* for verifiers we make */
#define CLIENT_ITER_MAX  10000000   /* largest count parsed (pass-through: no PBKDF2) */
#define AUTH_MESSAGE_MAX 2048       /* server side */
#define KEY_B64_LEN      44         /* base64 of SCRAM_KEY_LEN bytes */

static const char verifier_prefix[] = "SCRAM-SHA-256$";

static char test_nonce[SCRAM_NONCE_MAX + 1];
static uint8_t dummy_key[SCRAM_KEY_LEN];
static bool dummy_key_made;

/* ---- bounded field cursor -------------------------------------------- */

struct fields {
	const char *p;
	size_t left;
	bool more;   /* another field (possibly empty) is still to come */
};

/* The next comma-separated field; false when none is left. */
static bool field_next(struct fields *f, const char **s, size_t *n)
{
	if (!f->more)
		return false;
	const char *comma = f->left ? memchr(f->p, ',', f->left) : NULL;
	*s = f->p;
	if (comma) {
		*n = (size_t)(comma - f->p);
		f->p = comma + 1;
		f->left -= *n + 1;
	} else {
		*n = f->left;
		f->p += f->left;
		f->left = 0;
		f->more = false;
	}
	return true;
}

/* The next field, which must be "<name>=<value>"; the value may be empty. */
static bool attr_next(struct fields *f, char name, const char **v, size_t *vn)
{
	const char *s;
	size_t n;

	if (!field_next(f, &s, &n) || n < 2 || s[0] != name || s[1] != '=')
		return false;
	*v = s + 2;
	*vn = n - 2;
	return true;
}

static bool has_nul(const char *msg, size_t len)
{
	return len && memchr(msg, '\0', len) != NULL;
}

/* An extension attribute: ALPHA "=" 1*value-char. */
static bool extension_ok(const char *s, size_t n)
{
	bool alpha = n >= 1 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'));
	return alpha && n >= 3 && s[1] == '=';
}

/* A nonce: 1..max printable ASCII characters other than ','. */
static bool nonce_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
			return false;
	return true;
}

/* A saslname: any bytes but ',' and NUL, with '=' only in "=2C" / "=3D". */
static bool saslname_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '=')
			continue;
		if (n - i < 3 || !((s[i + 1] == '2' && s[i + 2] == 'C') ||
				   (s[i + 1] == '3' && s[i + 2] == 'D')))
			return false;
		i += 2;
	}
	return true;
}

/* Decimal 1..max, digits only, no leading zero. */
static bool parse_count(const char *s, size_t n, long max, int *out)
{
	long v = 0;

	if (n == 0 || n > 10 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max || v > INT_MAX)
		return false;
	*out = (int)v;
	return true;
}

/* ---- sticky-failure text builder -------------------------------------- */

struct text {
	char *buf;
	size_t cap;
	size_t len;
	bool bad;
};

static struct text text_make(char *buf, size_t cap)
{
	struct text t = { buf, cap, 0, cap == 0 };
	if (cap)
		buf[0] = '\0';
	return t;
}

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->bad || n >= t->cap - t->len) {
		t->bad = true;
		return;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void text_adds(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* Appends each string up to the NULL. */
__attribute__((sentinel)) static void text_cat(struct text *t, ...)
{
	va_list ap;
	va_start(ap, t);
	for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *))
		text_adds(t, s);
	va_end(ap);
}

/* Base64 of a key-sized or salt-sized byte string. */
static void text_add_b64(struct text *t, const uint8_t *b, size_t n)
{
	char enc[base64_encoded_len(SCRAM_SALT_MAX) + 1];

	if (n > SCRAM_SALT_MAX || !base64_encode(b, n, enc, sizeof enc))
		t->bad = true;
	else
		text_adds(t, enc);
}

/* ---- crypto helpers (OpenSSL) ------------------------------------------ */

static bool hmac256(const uint8_t *key, size_t klen, const void *data, size_t n,
		    uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;

	if (klen > INT_MAX)
		return false;
	return HMAC(EVP_sha256(), key, (int)klen, data, n, out, &len) && len == SCRAM_KEY_LEN;
}

static bool sha256(const uint8_t *data, size_t n, uint8_t out[SCRAM_KEY_LEN])
{
	unsigned int len = 0;

	return EVP_Digest(data, n, out, &len, EVP_sha256(), NULL) == 1 && len == SCRAM_KEY_LEN;
}

/* SaltedPassword, ClientKey and ServerKey from a password. */
static bool password_keys(const char *password, const uint8_t *salt, size_t salt_len,
			  int iterations, uint8_t client_key[SCRAM_KEY_LEN],
			  uint8_t server_key[SCRAM_KEY_LEN])
{
	uint8_t salted[SCRAM_KEY_LEN];
	size_t plen = strlen(password);
	bool ok;

	if (plen > INT_MAX || salt_len > INT_MAX || iterations < 1)
		return false;
	ok = PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)salt_len, iterations,
			       EVP_sha256(), SCRAM_KEY_LEN, salted) == 1 &&
	     hmac256(salted, sizeof salted, "Client Key", 10, client_key) &&
	     hmac256(salted, sizeof salted, "Server Key", 10, server_key);
	OPENSSL_cleanse(salted, sizeof salted);
	return ok;
}

static bool make_nonce(char out[SCRAM_NONCE_MAX + 1])
{
	uint8_t raw[NONCE_RAW_LEN];
	bool ok;

	if (test_nonce[0]) {
		memcpy(out, test_nonce, sizeof test_nonce);
		return true;
	}
	ok = csprng_bytes(raw, sizeof raw) &&
	     base64_encode(raw, sizeof raw, out, SCRAM_NONCE_MAX + 1);
	OPENSSL_cleanse(raw, sizeof raw);
	return ok;
}

void scram_set_test_nonce(const char *nonce)
{
	size_t n = nonce ? strnlen(nonce, SCRAM_NONCE_MAX + 1) : 0;

	test_nonce[0] = '\0';
	if (nonce && nonce_ok(nonce, n, SCRAM_NONCE_MAX)) {
		memcpy(test_nonce, nonce, n);
		test_nonce[n] = '\0';
	}
}

/* ---- secrets ------------------------------------------------------------ */

static bool secret_ok(const struct scram_secret *sec)
{
	return sec && sec->iterations >= 1 && sec->salt_len >= 1 &&
	       sec->salt_len <= SCRAM_SALT_MAX;
}

bool scram_secret_from_password_salt(const char *password, const uint8_t *salt,
				     size_t salt_len, int iterations,
				     struct scram_secret *sec)
{
	struct scram_secret s;
	uint8_t client_key[SCRAM_KEY_LEN];
	bool ok;

	if (!password || !salt || salt_len < 1 || salt_len > SCRAM_SALT_MAX || iterations < 1)
		return false;
	memset(&s, 0, sizeof s);
	ok = password_keys(password, salt, salt_len, iterations, client_key, s.server_key) &&
	     sha256(client_key, sizeof client_key, s.stored_key);
	if (ok) {
		memcpy(s.salt, salt, salt_len);
		s.salt_len = salt_len;
		s.iterations = iterations;
		*sec = s;
	}
	OPENSSL_cleanse(client_key, sizeof client_key);
	OPENSSL_cleanse(&s, sizeof s);
	return ok;
}

bool scram_secret_from_password(const char *password, struct scram_secret *sec)
{
	uint8_t salt[SALT_LEN];

	if (RAND_bytes(salt, sizeof salt) != 1)
		return false;
	return scram_secret_from_password_salt(password, salt, sizeof salt,
					       SCRAM_DEFAULT_ITERATIONS, sec);
}

/* Splits [*p, end) at the first `sep`: the part before goes to s/n. */
static bool split_at(const char **p, const char *end, char sep, const char **s, size_t *n)
{
	const char *at = memchr(*p, sep, (size_t)(end - *p));

	if (!at)
		return false;
	*s = *p;
	*n = (size_t)(at - *p);
	*p = at + 1;
	return true;
}

/* "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" */
bool scram_secret_from_verifier(const char *verifier, struct scram_secret *sec)
{
	struct scram_secret s;
	const char *p, *end, *it, *salt, *stored;
	size_t itn, saltn, storedn, n1, n2;
	bool ok;

	if (!verifier)
		return false;
	end = verifier + strlen(verifier);
	if ((size_t)(end - verifier) < sizeof verifier_prefix - 1 ||
	    memcmp(verifier, verifier_prefix, sizeof verifier_prefix - 1) != 0)
		return false;
	p = verifier + sizeof verifier_prefix - 1;
	if (!split_at(&p, end, ':', &it, &itn) || !split_at(&p, end, '$', &salt, &saltn) ||
	    !split_at(&p, end, ':', &stored, &storedn))
		return false;
	memset(&s, 0, sizeof s);
	ok = parse_count(it, itn, INT_MAX, &s.iterations) &&
	     base64_decode(salt, saltn, s.salt, sizeof s.salt, &s.salt_len) && s.salt_len >= 1 &&
	     base64_decode(stored, storedn, s.stored_key, SCRAM_KEY_LEN, &n1) &&
	     n1 == SCRAM_KEY_LEN &&
	     base64_decode(p, (size_t)(end - p), s.server_key, SCRAM_KEY_LEN, &n2) &&
	     n2 == SCRAM_KEY_LEN;
	if (ok)
		*sec = s;
	OPENSSL_cleanse(&s, sizeof s);
	return ok;
}

/* The inverse of scram_secret_from_verifier: the text pg_authid and an
 * auth_file hold. */
bool scram_secret_to_verifier(const struct scram_secret *sec, char *out, size_t outlen)
{
	char salt[base64_encoded_len(SCRAM_SALT_MAX) + 1];
	char stored[base64_encoded_len(SCRAM_KEY_LEN) + 1], server[sizeof stored];

	if (sec->iterations < 1 || sec->salt_len < 1 || sec->salt_len > SCRAM_SALT_MAX ||
	    !base64_encode(sec->salt, sec->salt_len, salt, sizeof salt) ||
	    !base64_encode(sec->stored_key, SCRAM_KEY_LEN, stored, sizeof stored) ||
	    !base64_encode(sec->server_key, SCRAM_KEY_LEN, server, sizeof server))
		return false;
	int n = snprintf(out, outlen, "%s%d:%s$%s:%s", verifier_prefix, sec->iterations,
			 salt, stored, server);
	return n > 0 && (size_t)n < outlen;
}

/*
 * A stable fake per seed: everything derives from HMAC(process key, seed),
 * so repeated attempts for one unknown user see the same salt and the
 * default iteration count, and the server does the same work as for a real
 * user. StoredKey is an HMAC output nobody knows a SHA-256 preimage of, so
 * no proof can verify against it.
 */
void scram_secret_dummy(const char *user_seed, struct scram_secret *sec)
{
	struct scram_secret s;
	uint8_t user_key[SCRAM_KEY_LEN], salt[SCRAM_KEY_LEN];
	const char *seed = user_seed ? user_seed : "";

	if (!dummy_key_made) {
		if (RAND_bytes(dummy_key, sizeof dummy_key) != 1)
			BUG("RAND_bytes failed making the SCRAM dummy key");
		dummy_key_made = true;
	}
	memset(&s, 0, sizeof s);
	if (!hmac256(dummy_key, sizeof dummy_key, seed, strlen(seed), user_key) ||
	    !hmac256(user_key, sizeof user_key, "salt", 4, salt) ||
	    !hmac256(user_key, sizeof user_key, "stored", 6, s.stored_key) ||
	    !hmac256(user_key, sizeof user_key, "server", 6, s.server_key))
		BUG("HMAC-SHA-256 failed making a SCRAM dummy secret");
	memcpy(s.salt, salt, SALT_LEN);
	s.salt_len = SALT_LEN;
	s.iterations = SCRAM_DEFAULT_ITERATIONS;
	*sec = s;
	OPENSSL_cleanse(user_key, sizeof user_key);
	OPENSSL_cleanse(&s, sizeof s);
}

/* ---- server side -------------------------------------------------------- */

/*
 * client-first-message = gs2-header client-first-bare
 *   gs2-header        = ("n" / "y") "," "," (no authzid; "p=" is refused)
 *   client-first-bare = "n=" saslname ",r=" nonce *("," extension)
 * "y" means the client could bind to the channel but thinks we cannot: true
 * while we offer no SCRAM-SHA-256-PLUS. Once TLS offers -PLUS, "y" must be
 * refused as a downgrade.
 */
static bool parse_client_first(struct scram_server_state *s, const char *msg, size_t len,
			       const char **cnonce, size_t *cnonce_n)
{
	struct fields f = { msg, len, true };
	const char *v, *bare;
	size_t n, baren;

	if (!field_next(&f, &v, &n))
		return false;
	if (s->plus) {
		/* -PLUS: only tls-server-end-point binding is acceptable */
		if (n != strlen("p=" SCRAM_CBIND_TYPE) || memcmp(v, "p=" SCRAM_CBIND_TYPE, n) != 0 ||
		    s->cbind_len == 0)
			return false;
	} else if (n != 1 || (v[0] != 'n' && v[0] != 'y') || (v[0] == 'y' && s->cbind_len > 0)) {
		/* "y": the client could bind but thinks we cannot; over TLS we
		 * offered -PLUS, so that is a downgrade */
		return false;
	}
	if (!field_next(&f, &v, &n) || n != 0 || !f.more)
		return false;
	bare = f.p;
	baren = f.left;
	if ((size_t)(bare - msg) >= sizeof s->gs2_header || baren >= sizeof s->client_first_bare)
		return false;
	memcpy(s->gs2_header, msg, (size_t)(bare - msg));
	memcpy(s->client_first_bare, bare, baren);

	if (!attr_next(&f, 'n', &v, &n) || !saslname_ok(v, n))
		return false;
	if (!attr_next(&f, 'r', cnonce, cnonce_n) || !nonce_ok(*cnonce, *cnonce_n, SCRAM_NONCE_MAX))
		return false;
	while (field_next(&f, &v, &n))
		if (!extension_ok(v, n))
			return false;
	return true;
}

bool scram_server_first(struct scram_server_state *st, const struct scram_secret *sec,
			const char *client_first, size_t len, char *out, size_t outlen)
{
	return scram_server_first_cb(st, sec, NULL, 0, false, client_first, len, out, outlen);
}

bool scram_server_first_cb(struct scram_server_state *st, const struct scram_secret *sec,
			   const uint8_t *cbind, size_t cbind_len, bool plus,
			   const char *client_first, size_t len, char *out, size_t outlen)
{
	struct scram_server_state s;
	char snonce[SCRAM_NONCE_MAX + 1], iters[16];
	const char *cnonce;
	size_t cn;
	struct text t, o;
	bool ok = false;

	memset(&s, 0, sizeof s);
	if (cbind_len > sizeof s.cbind)
		goto done;
	if (cbind_len)
		memcpy(s.cbind, cbind, cbind_len);
	s.cbind_len = cbind_len;
	s.plus = plus;
	if (!secret_ok(sec) || !client_first || has_nul(client_first, len) ||
	    !parse_client_first(&s, client_first, len, &cnonce, &cn) || !make_nonce(snonce))
		goto done;

	t = text_make(s.nonce, sizeof s.nonce);
	text_add(&t, cnonce, cn);
	text_adds(&t, snonce);
	snprintf(iters, sizeof iters, "%d", sec->iterations);
	o = text_make(s.server_first, sizeof s.server_first);
	text_cat(&o, "r=", s.nonce, ",s=", NULL);
	text_add_b64(&o, sec->salt, sec->salt_len);
	text_cat(&o, ",i=", iters, NULL);
	if (t.bad || o.bad)
		goto done;
	t = text_make(out, outlen);
	text_adds(&t, s.server_first);
	ok = !t.bad;
done:
	if (ok)
		*st = s;
	else
		memset(st, 0, sizeof *st);
	OPENSSL_cleanse(&s, sizeof s);
	return ok;
}

/*
 * client-final-message = "c=" base64(gs2-header) ",r=" nonce
 *                        *("," extension) ",p=" base64(ClientProof)
 */
static bool server_final(const struct scram_server_state *st, const struct scram_secret *sec,
			 const char *msg, size_t len, char *out, size_t outlen,
			 bool *proof_ok, uint8_t client_key_out[SCRAM_KEY_LEN])
{
	struct fields f = { msg, len, true };
	char cbind[160], am[AUTH_MESSAGE_MAX];
	uint8_t cbraw[sizeof st->gs2_header + sizeof st->cbind];
	uint8_t proof[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN], client_key[SCRAM_KEY_LEN], hash[SCRAM_KEY_LEN];
	const char *v;
	size_t n, proof_n, wop_len;
	struct text t;
	bool ok = false;

	if (!st->nonce[0] || !secret_ok(sec) || !msg || has_nul(msg, len))
		return false;
	/* c= is base64(gs2-header), plus the binding data for "p=" */
	size_t gl = strlen(st->gs2_header), cl = st->gs2_header[0] == 'p' ? st->cbind_len : 0;
	memcpy(cbraw, st->gs2_header, gl);
	memcpy(cbraw + gl, st->cbind, cl);
	if (!base64_encode(cbraw, gl + cl, cbind, sizeof cbind))
		return false;
	if (!attr_next(&f, 'c', &v, &n) || n != strlen(cbind) || memcmp(v, cbind, n) != 0)
		return false;
	if (!attr_next(&f, 'r', &v, &n) || n != strlen(st->nonce) || memcmp(v, st->nonce, n) != 0)
		return false;
	for (;;) {
		if (!field_next(&f, &v, &n))
			return false;
		if (n >= 2 && v[0] == 'p' && v[1] == '=')
			break;
		if (!extension_ok(v, n))
			return false;
	}
	if (f.more || !base64_decode(v + 2, n - 2, proof, sizeof proof, &proof_n) ||
	    proof_n != sizeof proof)
		return false;
	wop_len = (size_t)(v - msg) - 1;

	t = text_make(am, sizeof am);
	text_cat(&t, st->client_first_bare, ",", st->server_first, ",", NULL);
	text_add(&t, msg, wop_len);
	if (t.bad || !hmac256(sec->stored_key, SCRAM_KEY_LEN, am, t.len, sig))
		goto done;
	for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
		client_key[i] = proof[i] ^ sig[i];
	if (!sha256(client_key, sizeof client_key, hash))
		goto done;
	ok = true;
	if (CRYPTO_memcmp(hash, sec->stored_key, SCRAM_KEY_LEN) != 0)
		goto done;

	/* Proof verified: answer with v=ServerSignature. */
	ok = hmac256(sec->server_key, SCRAM_KEY_LEN, am, t.len, sig);
	t = text_make(out, outlen);
	text_adds(&t, "v=");
	text_add_b64(&t, sig, sizeof sig);
	ok = ok && !t.bad;
	if (ok) {
		*proof_ok = true;
		if (client_key_out)
			memcpy(client_key_out, client_key, SCRAM_KEY_LEN);
	}
done:
	OPENSSL_cleanse(client_key, sizeof client_key);
	OPENSSL_cleanse(sig, sizeof sig);
	OPENSSL_cleanse(am, sizeof am);
	return ok;
}

bool scram_server_final_key(struct scram_server_state *st, const struct scram_secret *sec,
			    const char *client_final, size_t len, char *out, size_t outlen,
			    bool *proof_ok, uint8_t client_key[SCRAM_KEY_LEN])
{
	bool ok;

	*proof_ok = false;
	if (outlen)
		out[0] = '\0';
	ok = server_final(st, sec, client_final, len, out, outlen, proof_ok, client_key);
	if (!*proof_ok && outlen)
		out[0] = '\0';
	/* One exchange, one attempt: a second final message finds no state. */
	OPENSSL_cleanse(st, sizeof *st);
	return ok;
}

bool scram_server_final(struct scram_server_state *st, const struct scram_secret *sec,
			const char *client_final, size_t len, char *out, size_t outlen,
			bool *proof_ok)
{
	return scram_server_final_key(st, sec, client_final, len, out, outlen, proof_ok, NULL);
}

/* ---- client side -------------------------------------------------------- */

bool scram_client_first_user(struct scram_client_state *cst, const char *user,
			     char *out, size_t outlen)
{
	struct scram_client_state c;
	struct text t;
	bool ok = false;

	memset(&c, 0, sizeof c);
	if (!make_nonce(c.client_nonce))
		goto done;
	t = text_make(c.client_first_bare, sizeof c.client_first_bare);
	text_adds(&t, "n=");
	for (const char *u = user ? user : ""; *u; u++) {
		if (*u == ',')
			text_adds(&t, "=2C");
		else if (*u == '=')
			text_adds(&t, "=3D");
		else
			text_add(&t, u, 1);
	}
	text_cat(&t, ",r=", c.client_nonce, NULL);
	if (t.bad)
		goto done;
	t = text_make(out, outlen);
	text_cat(&t, "n,,", c.client_first_bare, NULL);
	if (t.bad)
		goto done;
	*cst = c;
	ok = true;
done:
	OPENSSL_cleanse(&c, sizeof c);
	return ok;
}

bool scram_client_first(struct scram_client_state *cst, char *out, size_t outlen)
{
	return scram_client_first_user(cst, "", out, outlen);
}

/*
 * server-first-message = "r=" nonce ",s=" base64(salt) ",i=" iterations
 * The nonce must extend ours. Like libpq we accept no extensions.
 */
static bool parse_server_first(const struct scram_client_state *cst, const char *msg,
			       size_t len, const char **nonce, size_t *nonce_n,
			       uint8_t salt[SCRAM_SALT_MAX], size_t *salt_len, int *iters)
{
	struct fields f = { msg, len, true };
	size_t cn = strlen(cst->client_nonce);
	const char *v;
	size_t n;

	if (!cn || !cst->client_first_bare[0] || !msg || has_nul(msg, len))
		return false;
	if (!attr_next(&f, 'r', nonce, nonce_n) || !nonce_ok(*nonce, *nonce_n, 2 * SCRAM_NONCE_MAX) ||
	    *nonce_n <= cn || memcmp(*nonce, cst->client_nonce, cn) != 0)
		return false;
	if (!attr_next(&f, 's', &v, &n) || !base64_decode(v, n, salt, SCRAM_SALT_MAX, salt_len) ||
	    *salt_len < 1)
		return false;
	if (!attr_next(&f, 'i', &v, &n) || !parse_count(v, n, CLIENT_ITER_MAX, iters))
		return false;
	return !f.more;
}

/* From ClientKey and ServerKey: client-final-message into out, and the
 * AuthMessage and ServerKey kept for scram_client_verify(). */
static bool client_finish(struct scram_client_state *cst, const uint8_t client_key[SCRAM_KEY_LEN],
			  const uint8_t server_key[SCRAM_KEY_LEN], const char *server_first,
			  size_t len, const char *nonce, size_t nonce_n, char *out, size_t outlen)
{
	char wop[2 * SCRAM_NONCE_MAX + 16], am[sizeof cst->auth_message];
	uint8_t stored[SCRAM_KEY_LEN], sig[SCRAM_KEY_LEN];
	struct text w, a, t;
	bool ok;

	w = text_make(wop, sizeof wop);
	text_adds(&w, "c=biws,r=");   /* base64("n,,") */
	text_add(&w, nonce, nonce_n);
	a = text_make(am, sizeof am);
	text_cat(&a, cst->client_first_bare, ",", NULL);
	text_add(&a, server_first, len);
	text_cat(&a, ",", wop, NULL);
	ok = !w.bad && !a.bad && sha256(client_key, SCRAM_KEY_LEN, stored) &&
	     hmac256(stored, sizeof stored, am, a.len, sig);
	if (ok) {
		for (size_t i = 0; i < SCRAM_KEY_LEN; i++)
			sig[i] ^= client_key[i];   /* ClientProof */
		t = text_make(out, outlen);
		text_cat(&t, wop, ",p=", NULL);
		text_add_b64(&t, sig, sizeof sig);
		ok = !t.bad;
	}
	if (ok) {
		memcpy(cst->auth_message, am, a.len + 1);
		memcpy(cst->server_key, server_key, SCRAM_KEY_LEN);
	}
	OPENSSL_cleanse(sig, sizeof sig);
	return ok;
}

bool scram_client_final(struct scram_client_state *cst, const char *password,
			const char *server_first, size_t len, char *out, size_t outlen)
{
	uint8_t salt[SCRAM_SALT_MAX], client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
	const char *nonce;
	size_t nonce_n, salt_len;
	int iters;
	bool ok;

	ok = password &&
	     parse_server_first(cst, server_first, len, &nonce, &nonce_n, salt, &salt_len, &iters);
	cst->iterations = ok ? iters : 0;
	/* PBKDF2 runs on the event loop: a server may not make it arbitrarily long */
	ok = ok && iters <= SCRAM_CLIENT_ITER_MAX &&
	     password_keys(password, salt, salt_len, iters, client_key, server_key) &&
	     client_finish(cst, client_key, server_key, server_first, len, nonce, nonce_n,
			   out, outlen);
	OPENSSL_cleanse(client_key, sizeof client_key);
	OPENSSL_cleanse(server_key, sizeof server_key);
	return ok;
}

bool scram_client_final_keys(struct scram_client_state *cst,
			     const uint8_t client_key[SCRAM_KEY_LEN],
			     const uint8_t server_key[SCRAM_KEY_LEN],
			     const char *server_first, size_t len, char *out, size_t outlen)
{
	uint8_t salt[SCRAM_SALT_MAX];
	const char *nonce;
	size_t nonce_n, salt_len;
	int iters;

	return parse_server_first(cst, server_first, len, &nonce, &nonce_n, salt, &salt_len,
				  &iters) &&
	       client_finish(cst, client_key, server_key, server_first, len, nonce, nonce_n,
			     out, outlen);
}

/* server-final-message = "v=" base64(ServerSignature); "e=..." is a refusal. */
bool scram_client_verify(const struct scram_client_state *cst,
			 const char *server_final, size_t len)
{
	struct fields f = { server_final, len, true };
	uint8_t got[SCRAM_KEY_LEN], want[SCRAM_KEY_LEN];
	const char *v;
	size_t n;
	bool ok;

	if (!cst->auth_message[0] || !server_final || has_nul(server_final, len))
		return false;
	if (!attr_next(&f, 'v', &v, &n) || f.more ||
	    !base64_decode(v, n, got, sizeof got, &n) || n != sizeof got)
		return false;
	ok = hmac256(cst->server_key, SCRAM_KEY_LEN, cst->auth_message,
		     strlen(cst->auth_message), want) &&
	     CRYPTO_memcmp(got, want, SCRAM_KEY_LEN) == 0;
	OPENSSL_cleanse(want, sizeof want);
	return ok;
}
