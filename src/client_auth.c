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
 * whether the user exists.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "md5auth.h"
#include "proto.h"
#include "runtime.h"
#include "scram.h"
#include "sqlstate.h"
#include "userlist.h"

enum auth_step { STEP_PASSWORD, STEP_SASL_INITIAL, STEP_SASL_RESPONSE };

struct client_auth {
	int method;               /* enum auth_type actually used */
	enum auth_step step;
	char *secret;             /* copy of the stored secret; NULL: unknown user */
	int kind;
	uint8_t salt[4];
	struct scram_secret sec;
	struct scram_server_state scram;
};

static void send_auth(struct client *c, uint32_t code, const void *data, size_t len)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_auth(&w, code, data, len);
	if (pq_writer_ok(&w))
		evbuffer_add(c->conn.out, w.buf, w.len);
	pq_writer_free(&w);
	conn_send(&c->conn);
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

static void start_scram(struct client *c, struct client_auth *a)
{
	a->method = AUTH_SCRAM;
	a->step = STEP_SASL_INITIAL;
	bool have = false;
	if (a->secret && a->kind == SECRET_SCRAM)
		have = scram_secret_from_verifier(a->secret, &a->sec);
	else if (a->secret && a->kind == SECRET_PLAIN)
		have = scram_secret_from_password(a->secret, &a->sec);
	if (!have) {
		/* unknown user, an md5 secret, or a broken verifier */
		free(a->secret);
		a->secret = NULL;
		scram_secret_dummy(c->user, &a->sec);
	}
	static const char mechs[] = "SCRAM-SHA-256\0";
	send_auth(c, PQ_AUTH_SASL, mechs, sizeof mechs);
}

void client_auth_start(struct client *c)
{
	const struct config *cfg = rt.cfg;
	const struct user_entry *u = cfg->users ? userlist_find(cfg->users, c->user) : NULL;

	if (cfg->auth_type == AUTH_TRUST) {
		if (cfg->auth_file && !u) {
			client_fail(c, SQLSTATE_INVALID_AUTHORIZATION, "role \"%s\" does not exist", c->user);
			return;
		}
		client_login_done(c);
		return;
	}
	struct client_auth *a = calloc(1, sizeof *a);
	if (!a) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	c->auth = a;
	if (u) {
		a->secret = strdup(u->secret);
		a->kind = u->kind;
		if (!a->secret) {
			client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
	}
	bool scram_only = a->secret && a->kind == SECRET_SCRAM;
	switch (cfg->auth_type) {
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
		if (RAND_bytes(a->salt, sizeof a->salt) != 1) {
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
	if (!a->secret)
		return false;
	if (a->kind == SECRET_MD5) {
		char h[MD5AUTH_LEN + 1];
		return md5auth_hash(pw, c->user, h) && CRYPTO_memcmp(h, a->secret, MD5AUTH_LEN + 1) == 0;
	}
	if (a->kind == SECRET_SCRAM) {
		struct scram_secret stored, given;
		bool same = scram_secret_from_verifier(a->secret, &stored) &&
			    scram_secret_from_password_salt(pw, stored.salt, stored.salt_len,
							    stored.iterations, &given) &&
			    CRYPTO_memcmp(stored.stored_key, given.stored_key, SCRAM_KEY_LEN) == 0 &&
			    CRYPTO_memcmp(stored.server_key, given.server_key, SCRAM_KEY_LEN) == 0;
		OPENSSL_cleanse(&given, sizeof given);
		return same;
	}
	size_t n = strlen(pw);
	return n == strlen(a->secret) && CRYPTO_memcmp(pw, a->secret, n) == 0;
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
		if (strcmp(mech, "SCRAM-SHA-256") != 0) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
				    "client selected an invalid SASL authentication mechanism");
			return;
		}
		if (!scram_server_first(&a->scram, &a->sec, (const char *)data, dlen, out, sizeof out)) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "malformed SCRAM message");
			return;
		}
		a->step = STEP_SASL_RESPONSE;
		send_auth(c, PQ_AUTH_SASL_CONTINUE, out, strlen(out));
		return;
	}
	case STEP_SASL_RESPONSE: {
		bool proof_ok = false;
		if (!scram_server_final(&a->scram, &a->sec, (const char *)body, len, out, sizeof out,
					&proof_ok)) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "malformed SCRAM message");
			return;
		}
		if (!proof_ok || !a->secret) {
			auth_failed(c);
			return;
		}
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
	if (a->secret) {
		OPENSSL_cleanse(a->secret, strlen(a->secret));
		free(a->secret);
	}
	OPENSSL_cleanse(a, sizeof *a);
	free(a);
	c->auth = NULL;
}
