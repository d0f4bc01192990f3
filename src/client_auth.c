/*
 * client_auth.c — authenticating clients against auth_file: trust,
 * cleartext ("plain"), md5 and SCRAM-SHA-256.
 *
 * The method follows auth_type, adjusted to the stored secret the way
 * PostgreSQL does: an md5 challenge cannot be checked against a SCRAM
 * verifier, so md5 uses SCRAM for such users; a cleartext password can be
 * checked against any secret. An unknown user goes through the
 * same exchange as a known one (a dummy SCRAM secret, a random md5 salt)
 * and fails with the same message, so neither timing nor wording tells
 * whether the user exists. A user whose stored password is empty goes
 * through the unknown user's exchange too: PostgreSQL accepts no empty
 * password, and the exchange must not tell such a user apart.
 */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "auth_cache.h"
#include "client.h"
#include "config.h"
#include "csprng.h"
#include "hba.h"
#include "log.h"
#include "md5auth.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "scram.h"
#include "sqlstate.h"
#include "userlist.h"

enum auth_step { STEP_PASSWORD, STEP_SASL_INITIAL, STEP_SASL_RESPONSE };

struct client_auth {
	int method;               /* enum auth_type actually used */
	bool plus;                /* SCRAM-SHA-256-PLUS chosen */
	enum auth_step step;
	char *secret;             /* copy of the stored secret (in `room`); NULL:
	                           * unknown user */
	int kind;
	uint8_t salt[4];
	struct scram_exchange *x; /* SCRAM only (start_scram) */
	size_t room_len;
	char room[];              /* the secret's copy: one allocation with the
	                           * state, one free and one wipe at the end */
};

/* Apart, and made for a SCRAM exchange only: its 1.3 KiB, zeroed on
 * allocation and wiped on free, were most of what an md5 or cleartext
 * login spent on its authentication state. */
struct scram_exchange {
	struct scram_secret sec;
	struct scram_server_state st;
};

/* ---- SCRAM secrets derived from plain-text passwords, by user ----
 * PBKDF2 takes milliseconds; an unknown user's dummy secret takes none.
 * Deriving once per (user, password) keeps the two alike after a user's
 * first login (and spares the CPU). */

struct derived_secret {
	char *user, *password;
	struct scram_secret sec;
	struct derived_secret *next;
};

static struct derived_secret *derived;

static bool stable_salt(const char *user, uint8_t out[16]);

static bool plain_scram_secret(const char *user, const char *password, struct scram_secret *out)
{
	for (struct derived_secret *d = derived; d; d = d->next) {
		if (!strcmp(d->user, user) && !strcmp(d->password, password)) {
			*out = d->sec;
			return true;
		}
	}
	/* a salt stable per user, like the dummy secret of an unknown user:
	 * a fresh one each time would tell the two apart */
	uint8_t salt[16];
	if (!stable_salt(user, salt) ||
	    !scram_secret_from_password_salt(password, salt, sizeof salt, SCRAM_DEFAULT_ITERATIONS, out))
		return false;
	struct derived_secret *d = calloc(1, sizeof *d);
	if (d && (d->user = strdup(user)) && (d->password = strdup(password))) {
		d->sec = *out;
		d->next = derived;
		derived = d;
	} else if (d) {
		free(d->user);
		free(d);
	}
	return true;
}

/* ---- SCRAM pass-through: keys clients proved, by user ---- */

struct proven_keys {
	char *user, *verifier;
	uint8_t client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
	struct proven_keys *next;
};

static struct proven_keys *proven;

static void remember_keys(const char *user, const char *verifier, const uint8_t ck[SCRAM_KEY_LEN],
			  const uint8_t sk[SCRAM_KEY_LEN])
{
	struct proven_keys *k;
	for (k = proven; k; k = k->next)
		if (!strcmp(k->user, user))
			break;
	if (!k) {
		k = calloc(1, sizeof *k);
		if (!k || !(k->user = strdup(user))) {
			free(k);
			return;
		}
		k->next = proven;
		proven = k;
	}
	char *v = strdup(verifier);
	if (!v)
		return;
	free(k->verifier);
	k->verifier = v;
	memcpy(k->client_key, ck, SCRAM_KEY_LEN);
	memcpy(k->server_key, sk, SCRAM_KEY_LEN);
}

const char *client_auth_known_secret(const char *user)
{
	for (struct proven_keys *k = proven; k; k = k->next)
		if (!strcmp(k->user, user))
			return k->verifier;
	return NULL;
}

bool client_auth_scram_keys(const char *user, const char *verifier,
			    uint8_t client_key[32], uint8_t server_key[32])
{
	for (struct proven_keys *k = proven; k; k = k->next) {
		if (strcmp(k->user, user) || strcmp(k->verifier, verifier))
			continue;
		memcpy(client_key, k->client_key, SCRAM_KEY_LEN);
		memcpy(server_key, k->server_key, SCRAM_KEY_LEN);
		return true;
	}
	return false;
}

/* tls-server-end-point (RFC 5929): a hash of sluice's own certificate,
 * with its signature's hash, SHA-256 when that is MD5 or SHA-1. */
static size_t server_end_point(SSL *ssl, uint8_t out[64])
{
	X509 *cert = SSL_get_certificate(ssl);
	int md_nid;
	unsigned int len = 0;
	if (!cert || !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
		return 0;
	const EVP_MD *md = (md_nid == NID_md5 || md_nid == NID_sha1) ? EVP_sha256()
								    : EVP_get_digestbynid(md_nid);
	if (!md || EVP_MD_get_size(md) > 64 || X509_digest(cert, md, out, &len) != 1)
		return 0;
	return len;
}

static void send_auth(struct client *c, uint32_t code, const void *data, size_t len)
{
	uint8_t room[640];   /* a SCRAM message is at most 512 bytes */
	struct pq_writer w;
	pq_writer_init_room(&w, room, sizeof room);
	proto_build_auth(&w, code, data, len);
	if (pq_writer_ok(&w))
		(void)conn_add(&c->conn, w.buf, w.len);
	pq_writer_free(&w);
	conn_send_soon(&c->conn);
}

static void auth_failed(struct client *c)
{
	client_fail(c, SQLSTATE_INVALID_PASSWORD, "password authentication failed for user \"%s\"", c->user);
}

static void auth_ok(struct client *c)
{
	client_auth_free(c);
	client_login_done(c);
}

/* 16 bytes derived from the user name and a key made once per process. */
static bool stable_salt(const char *user, uint8_t out[16])
{
	static uint8_t key[32];
	static bool have_key;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (!have_key) {
		if (RAND_bytes(key, sizeof key) != 1)
			return false;
		have_key = true;
	}
	if (!HMAC(EVP_sha256(), key, sizeof key, (const unsigned char *)user, strlen(user), md, &len) ||
	    len < 16)
		return false;
	memcpy(out, md, 16);
	return true;
}

static void start_scram(struct client *c, struct client_auth *a)
{
	a->method = AUTH_SCRAM;
	a->step = STEP_SASL_INITIAL;
	if (!(a->x = calloc(1, sizeof *a->x))) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	bool have = false;
	if (a->secret && a->kind == SECRET_SCRAM) {
		have = scram_secret_from_verifier(a->secret, &a->x->sec);
	} else if (a->secret && a->kind == SECRET_PLAIN) {
		have = plain_scram_secret(c->user, a->secret, &a->x->sec);
	}
	if (!have) {
		/* unknown user, an md5 secret, or a broken verifier */
		if (a->secret)
			explicit_bzero(a->secret, strlen(a->secret));
		a->secret = NULL;
		scram_secret_dummy(c->user, &a->x->sec);
	}
	static const char mechs[] = "SCRAM-SHA-256\0";
	static const char mechs_plus[] = "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0";
	if (c->conn.ssl)
		send_auth(c, PQ_AUTH_SASL, mechs_plus, sizeof mechs_plus);
	else
		send_auth(c, PQ_AUTH_SASL, mechs, sizeof mechs);
}

static void host_text(const struct client *c, char *out, size_t n)
{
	const struct sockaddr *sa = &c->peer.sa;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
	else
		snprintf(out, n, "[local]");
}

/* The client presented a certificate and it verified. (With no
 * certificate at all, the verify result is X509_V_OK too.) */
static bool cert_verified(const struct client *c)
{
	return c->conn.ssl && SSL_get0_peer_certificate(c->conn.ssl) &&
	       SSL_get_verify_result(c->conn.ssl) == X509_V_OK;
}

/* The client certificate verified, and its common name is the user. */
static bool cert_matches_user(const struct client *c)
{
	if (!cert_verified(c))
		return false;
	X509 *x = SSL_get1_peer_certificate(c->conn.ssl);
	if (!x)
		return false;
	char cn[256];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	X509_free(x);
	return n > 0 && (size_t)n < sizeof cn && strcmp(cn, c->user) == 0;
}

/* auth_type, or for hba the first matching rule; -1 when refused. */
static int choose_method(struct client *c)
{
	const struct config *cfg = rt.cfg;
	if (cfg->auth_type != AUTH_HBA)
		return cfg->auth_type;
	bool tls = c->conn.ssl != NULL;
	struct hba_match m = hba_find(cfg->hba, c->peer.sa.sa_family == AF_UNIX ? HBA_CONN_LOCAL : HBA_CONN_TCP,
				      tls, &c->peer.sa, c->db_name, c->user);
	char host[64];
	host_text(c, host, sizeof host);
	if (m.method == HBA_REJECT) {
		client_fail(c, SQLSTATE_INVALID_AUTHORIZATION,
			    m.line ? "pg_hba.conf rejects connection for host \"%s\", user \"%s\", database \"%s\", %s"
				   : "no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", %s",
			    host, c->user, c->db_name, tls ? "SSL encryption" : "no encryption");
		return -1;
	}
	if (m.clientcert != HBA_CLIENTCERT_OFF && m.method != HBA_CERT &&
	    !(cert_verified(c) && (m.clientcert != HBA_CLIENTCERT_FULL || cert_matches_user(c)))) {
		client_fail(c, SQLSTATE_INVALID_AUTHORIZATION,
			    "connection requires a valid client certificate");
		return -1;
	}
	switch (m.method) {
	case HBA_TRUST: return AUTH_TRUST;
	case HBA_PASSWORD: return AUTH_PLAIN;
	case HBA_MD5: return AUTH_MD5;
	case HBA_SCRAM: return AUTH_SCRAM;
	case HBA_CERT: return AUTH_CERT;
	default: return -1;
	}
}

/* ---- auth_query: secrets looked up in PostgreSQL, cached a while ----
 * Within auth_cache_max_entries and auth_cache_max_bytes (auth_cache.h);
 * a "no such user" answer for auth_cache_negative_lifetime only (at most
 * auth_cache_lifetime), so a stream of made-up names costs a bounded
 * cache and, once a role is created, it can log in within seconds. */

static struct auth_cache *lookups;

/* The cache, with the running configuration's bounds; NULL: no memory. */
static struct auth_cache *lookup_cache(void)
{
	if (!lookups) {
		uint8_t seed[AUTH_CACHE_SEED_LEN];
		if (!csprng_bytes(seed, sizeof seed) || !(lookups = auth_cache_new(seed)))
			return NULL;
	}
	auth_cache_set_limits(lookups, (size_t)rt.cfg->auth_cache_max_entries,
			      (size_t)rt.cfg->auth_cache_max_bytes);
	return lookups;
}

/* true when the cache has an answer; *secret NULL: no such user */
static bool cache_find(const char *db, const char *user, const char **secret)
{
	struct auth_cache *ac = lookup_cache();
	*secret = NULL;
	return ac && auth_cache_find(ac, db, user, rt_now(), secret);
}

static void cache_put(const char *db, const char *user, const char *secret)
{
	const struct config *cfg = rt.cfg;
	double life = cfg->auth_cache_lifetime;
	if (!secret && cfg->auth_cache_negative_lifetime < life)
		life = cfg->auth_cache_negative_lifetime;
	struct auth_cache *ac = life > 0 ? lookup_cache() : NULL;
	double now = rt_now();
	if (ac)
		(void)auth_cache_put(ac, db, user, secret, now + life, now);
}

void client_auth_cache_usage(size_t *entries, size_t *bytes)
{
	*entries = auth_cache_count(lookups);
	*bytes = auth_cache_bytes(lookups);
}

static void begin_exchange(struct client *c, int method, const char *secret);

/* Queue on the database's auth pool: the server it gets runs auth_query
 * (server.c) and calls client_auth_lookup_done. */
static void start_lookup(struct client *c, int method)
{
	const struct db_entry *db = config_find_db(rt.cfg, c->db_name);
	if (!db) {
		client_fail(c, SQLSTATE_INVALID_CATALOG_NAME, "database \"%s\" does not exist", c->db_name);
		return;
	}
	struct pool *p = pool_get_auth(c->db_name, rt.cfg->auth_user, db);
	if (!p) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	c->lookup_method = method;
	c->pool = p;
	c->wait_since = rt_now();
	client_set_state(c, CL_AUTH_QUERY);
	pool_acquire(p, c);
}

void client_auth_lookup_done(struct client *c, const char *secret, const char *error)
{
	c->pool = NULL;
	if (error) {
		client_fail(c, SQLSTATE_INVALID_AUTHORIZATION, "could not look up the user: %s", error);
		return;
	}
	cache_put(c->db_name, c->user, secret && *secret ? secret : NULL);
	client_set_state(c, CL_AUTH);
	begin_exchange(c, c->lookup_method, secret && *secret ? secret : NULL);
}

void client_auth_start(struct client *c)
{
	const struct config *cfg = rt.cfg;
	const struct user_entry *u = cfg->users ? userlist_find(cfg->users, c->user) : NULL;
	int method = choose_method(c);
	if (method < 0)
		return;
	if (method == AUTH_CERT) {
		if (!cert_matches_user(c)) {
			client_fail(c, SQLSTATE_INVALID_AUTHORIZATION,
				    "certificate authentication failed for user \"%s\"", c->user);
			return;
		}
		client_login_done(c);
		return;
	}
	if (method == AUTH_TRUST) {
		if (cfg->auth_file && !u) {
			client_fail(c, SQLSTATE_INVALID_AUTHORIZATION, "role \"%s\" does not exist", c->user);
			return;
		}
		client_login_done(c);
		return;
	}
	if (!u && cfg->auth_user && *cfg->auth_user) {
		const char *cached;
		if (cache_find(c->db_name, c->user, &cached)) {
			begin_exchange(c, method, cached);
			return;
		}
		start_lookup(c, method);
		return;
	}
	begin_exchange(c, method, u ? u->secret : NULL);
}

/* The password exchange for `method`, against `secret` (NULL: an unknown
 * user, who goes through the same exchange and fails the same way; an
 * empty password is treated as NULL). */
static void begin_exchange(struct client *c, int method, const char *secret)
{
	if (secret && userlist_secret_empty(c->user, secret))
		secret = NULL;
	size_t room_len = secret ? strlen(secret) + 1 : 0;
	struct client_auth *a = malloc(sizeof *a + room_len);
	if (!a) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	memset(a, 0, sizeof *a);
	a->room_len = room_len;
	c->auth = a;
	if (secret) {
		a->secret = memcpy(a->room, secret, room_len);
		a->kind = userlist_secret_kind(secret);
	}
	bool scram_only = a->secret && a->kind == SECRET_SCRAM;
	switch (method) {
	case AUTH_PLAIN:
		/* A cleartext password can be checked against any stored secret. */
		a->method = AUTH_PLAIN;
		a->step = STEP_PASSWORD;
		send_auth(c, PQ_AUTH_CLEARTEXT, NULL, 0);
		return;
	case AUTH_MD5:
		if (scram_only)
			break;
		a->method = AUTH_MD5;
		a->step = STEP_PASSWORD;
		if (!csprng_bytes(a->salt, sizeof a->salt)) {
			client_fail(c, SQLSTATE_INTERNAL_ERROR, "could not generate a salt");
			return;
		}
		send_auth(c, PQ_AUTH_MD5, a->salt, sizeof a->salt);
		return;
	default:
		break;
	}
	start_scram(c, a);
}

static bool check_plain(struct client *c, const struct client_auth *a, const char *pw)
{
	if (!a->secret || !*pw)      /* an empty password never matches */
		return false;
	if (a->kind == SECRET_MD5) {
		char h[MD5AUTH_LEN + 1];
		return md5auth_hash(pw, c->user, h) && CRYPTO_memcmp(h, a->secret, MD5AUTH_LEN + 1) == 0;
	}
	if (a->kind == SECRET_SCRAM) {
		struct scram_secret stored, given;
		if (!scram_secret_from_verifier(a->secret, &stored))
			return false;
		if (stored.iterations > SCRAM_CLIENT_ITER_MAX) {
			/* PBKDF2 runs on the event loop: no client is served meanwhile */
			client_log_peer(c, LOG_LVL_WARN, "user \"%s\": the stored SCRAM verifier has %d iterations, "
					"more than sluice computes for a cleartext password (%d): login refused",
					c->user, stored.iterations, SCRAM_CLIENT_ITER_MAX);
			return false;
		}
		bool same = scram_secret_from_password_salt(pw, stored.salt, stored.salt_len,
							    stored.iterations, &given) &&
			    CRYPTO_memcmp(stored.stored_key, given.stored_key, SCRAM_KEY_LEN) == 0 &&
			    CRYPTO_memcmp(stored.server_key, given.server_key, SCRAM_KEY_LEN) == 0;
		OPENSSL_cleanse(&given, sizeof given);
		return same;
	}
	size_t n = strlen(pw);
	return n == strlen(a->secret) && CRYPTO_memcmp(pw, a->secret, n) == 0;
}

/* PostgreSQL's answers to channel-binding choices it refuses; true when the
 * client was failed. */
static bool cbind_refused(struct client *c, const struct client_auth *a, const uint8_t *data, size_t n)
{
	if (n >= 2 && data[0] == 'p' && data[1] == '=') {
		const char *type = (const char *)data + 2;
		size_t tl = strnlen(type, n - 2);
		const char *comma = memchr(type, ',', tl);
		size_t len = comma ? (size_t)(comma - type) : tl;
		if (len != strlen(SCRAM_CBIND_TYPE) || memcmp(type, SCRAM_CBIND_TYPE, len) != 0) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
				    "unsupported SCRAM channel-binding type \"%.*s\"", (int)(len > 64 ? 64 : len), type);
			return true;
		}
		if (!a->plus) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
				    "channel binding not supported by this mechanism choice: choose SCRAM-SHA-256-PLUS");
			return true;
		}
		return false;
	}
	if ((n >= 1 && data[0] == 'y' && c->conn.ssl) || a->plus) {
		/* "y" over TLS: the client thinks we cannot bind, but we offered
		 * -PLUS; -PLUS without "p=": no binding at all */
		client_fail(c, SQLSTATE_INVALID_AUTHORIZATION, "SCRAM channel binding negotiation error");
		return true;
	}
	return false;
}

void client_auth_message(struct client *c, char type, const uint8_t *body, size_t len)
{
	struct client_auth *a = c->auth;
	char out[512];
	if (!a) {
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "unexpected authentication message");
		return;
	}
	switch (a->step) {
	case STEP_PASSWORD: {
		const char *pw;
		if (!proto_parse_password(body, len, &pw)) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid password packet");
			return;
		}
		bool ok = a->method == AUTH_MD5 ? (a->secret && md5auth_check(a->secret, c->user, a->salt, pw))
						: check_plain(c, a, pw);
		if (ok)
			auth_ok(c);
		else
			auth_failed(c);
		return;
	}
	case STEP_SASL_INITIAL: {
		const char *mech;
		const uint8_t *data;
		size_t dlen;
		if (!proto_parse_sasl_initial(body, len, &mech, &data, &dlen) || !data) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid SASL initial response");
			return;
		}
		a->plus = c->conn.ssl && !strcmp(mech, "SCRAM-SHA-256-PLUS");
		if (strcmp(mech, "SCRAM-SHA-256") != 0 && !a->plus) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
				    "client selected an invalid SASL authentication mechanism");
			return;
		}
		uint8_t cb[64];
		size_t cblen = c->conn.ssl ? server_end_point(c->conn.ssl, cb) : 0;
		if (cbind_refused(c, a, data, dlen))
			return;
		if (!scram_server_first_cb(&a->x->st, &a->x->sec, cblen ? cb : NULL, cblen, a->plus,
					   (const char *)data, dlen, out, sizeof out)) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "malformed SCRAM message");
			return;
		}
		a->step = STEP_SASL_RESPONSE;
		send_auth(c, PQ_AUTH_SASL_CONTINUE, out, strlen(out));
		return;
	}
	case STEP_SASL_RESPONSE: {
		bool proof_ok = false;
		uint8_t client_key[SCRAM_KEY_LEN];
		if (!scram_server_final_key(&a->x->st, &a->x->sec, (const char *)body, len, out, sizeof out,
					    &proof_ok, client_key)) {
			if (a->plus) {
				client_fail(c, SQLSTATE_INVALID_AUTHORIZATION, "SCRAM channel binding check failed");
				return;
			}
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "malformed SCRAM message");
			return;
		}
		if (!proof_ok || !a->secret) {
			auth_failed(c);
			return;
		}
		if (a->kind == SECRET_SCRAM)
			remember_keys(c->user, a->secret, client_key, a->x->sec.server_key);
		OPENSSL_cleanse(client_key, sizeof client_key);
		send_auth(c, PQ_AUTH_SASL_FINAL, out, strlen(out));
		auth_ok(c);
		return;
	}
	}
}

void client_auth_free(struct client *c)
{
	struct client_auth *a = c->auth;
	if (!a)
		return;
	if (a->x) {
		explicit_bzero(a->x, sizeof *a->x);   /* (OPENSSL_cleanse goes a byte at a time) */
		free(a->x);
	}
	explicit_bzero(a, sizeof *a + a->room_len);   /* the secret's copy too */
	free(a);
	c->auth = NULL;
}
