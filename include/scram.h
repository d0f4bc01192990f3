/*
 * scram.h — SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it,
 * built on OpenSSL (HMAC, SHA-256, PBKDF2, RAND). Pure: no I/O. The only
 * process state is the random key behind scram_secret_dummy() (made once)
 * and the test nonce hook.
 *
 * Server side (sluice authenticating a client):
 *   scram_secret_from_verifier(verifier, &sec)     parse SCRAM-SHA-256$...
 *   scram_secret_from_password(password, &sec)     random salt, 4096 iters
 *   scram_secret_from_password_salt(password, salt, n, iters, &sec)
 *                                                  the same, salt given
 *   scram_secret_to_verifier(&sec, out, outlen)   back to SCRAM-SHA-256$...
 *   scram_secret_dummy(user_seed, &sec)            a plausible fake, for
 *                                                  unknown users
 *   scram_server_first(&st, &sec, client_first, len, out, outlen)
 *        parse client-first-message, build server-first-message
 *   scram_server_final(&st, &sec, client_final, len, out, outlen, &ok)
 *        parse client-final-message, verify proof, build server-final
 *   scram_server_final_key(..., &ok, client_key)   the same, and hand back
 *        the ClientKey the proof revealed (to log in to PostgreSQL with it)
 *
 * Client side (sluice logging in to PostgreSQL):
 *   scram_client_first(&cst, out, outlen)          "n,,n=,r=<nonce>"
 *   scram_client_first_user(&cst, user, out, outlen)   with n=<user>
 *   scram_client_final(&cst, password, server_first, len, out, outlen)
 *   scram_client_final_keys(&cst, client_key, server_key, server_first, ...)
 *        the same from stored keys instead of a password
 *   scram_client_verify(&cst, server_final, len)
 *
 * All message texts are NUL-terminated in `out`. Functions return false on
 * malformed input or a crypto failure; nothing reads past `len`.
 */
#ifndef SLUICE_SCRAM_H
#define SLUICE_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

#define SCRAM_KEY_LEN 32
#define SCRAM_SALT_MAX 64
#define SCRAM_NONCE_MAX 128
#define SCRAM_DEFAULT_ITERATIONS 4096
/* Most iterations sluice computes as a client from a password (PBKDF2 on
 * the event loop: about 35 ms at this count; PostgreSQL's default is
 * 4096). A server asking for more is refused: scram_client_final fails
 * with cst->iterations set to the count asked. SCRAM pass-through
 * computes nothing and has no such cap. */
#define SCRAM_CLIENT_ITER_MAX 100000

struct scram_secret {
	int iterations;
	uint8_t salt[SCRAM_SALT_MAX];
	size_t salt_len;
	uint8_t stored_key[SCRAM_KEY_LEN];
	uint8_t server_key[SCRAM_KEY_LEN];
};

/* Server-side exchange state. Zero-filled is the initial state. */
struct scram_server_state {
	char client_first_bare[512];
	char server_first[512];
	char nonce[2 * SCRAM_NONCE_MAX + 2];   /* client nonce + server nonce */
	char gs2_header[32];                   /* "n,,", "y,," or "p=...,,": c= must match */
	uint8_t cbind[64];                     /* tls-server-end-point data, if TLS */
	size_t cbind_len;
	bool plus;                             /* the client chose SCRAM-SHA-256-PLUS */
};

#define SCRAM_CBIND_TYPE "tls-server-end-point"

/* scram_server_first on a TLS connection: `cbind` is the channel binding
 * data (hash of sluice's certificate), `plus` whether the client chose
 * SCRAM-SHA-256-PLUS. With -PLUS the client must bind
 * ("p=tls-server-end-point"); without it, "y" is refused as a downgrade. */
bool scram_server_first_cb(struct scram_server_state *st, const struct scram_secret *sec,
			   const uint8_t *cbind, size_t cbind_len, bool plus,
			   const char *client_first, size_t len,
			   char *out, size_t outlen) MUST_CHECK;

/* Client-side exchange state. Zero-filled is the initial state. */
struct scram_client_state {
	char client_nonce[SCRAM_NONCE_MAX + 1];
	char client_first_bare[256];
	char auth_message[1024];
	uint8_t server_key[SCRAM_KEY_LEN];
	int iterations;                        /* scram_client_final: the server's i= */
};

bool scram_secret_from_verifier(const char *verifier, struct scram_secret *sec) MUST_CHECK;
bool scram_secret_from_password(const char *password, struct scram_secret *sec) MUST_CHECK;
bool scram_secret_from_password_salt(const char *password, const uint8_t *salt,
				     size_t salt_len, int iterations,
				     struct scram_secret *sec) MUST_CHECK;
bool scram_secret_to_verifier(const struct scram_secret *sec, char *out, size_t outlen) MUST_CHECK;
void scram_secret_dummy(const char *user_seed, struct scram_secret *sec);

bool scram_server_first(struct scram_server_state *st, const struct scram_secret *sec,
			const char *client_first, size_t len,
			char *out, size_t outlen) MUST_CHECK;
/* Returns false if the message is malformed; *proof_ok says whether the
 * proof matched (out holds the server-final-message only when it did). */
bool scram_server_final(struct scram_server_state *st, const struct scram_secret *sec,
			const char *client_final, size_t len,
			char *out, size_t outlen, bool *proof_ok) MUST_CHECK;
/* As scram_server_final; when *proof_ok, client_key (may be NULL) receives
 * the client's ClientKey, enough for scram_client_final_keys(). */
bool scram_server_final_key(struct scram_server_state *st, const struct scram_secret *sec,
			    const char *client_final, size_t len,
			    char *out, size_t outlen, bool *proof_ok,
			    uint8_t client_key[SCRAM_KEY_LEN]) MUST_CHECK;

bool scram_client_first(struct scram_client_state *cst, char *out, size_t outlen) MUST_CHECK;
/* user is sent escaped as RFC 5802 saslname; PostgreSQL ignores it. */
bool scram_client_first_user(struct scram_client_state *cst, const char *user,
			     char *out, size_t outlen) MUST_CHECK;
bool scram_client_final(struct scram_client_state *cst, const char *password,
			const char *server_first, size_t len,
			char *out, size_t outlen) MUST_CHECK;
bool scram_client_final_keys(struct scram_client_state *cst,
			     const uint8_t client_key[SCRAM_KEY_LEN],
			     const uint8_t server_key[SCRAM_KEY_LEN],
			     const char *server_first, size_t len,
			     char *out, size_t outlen) MUST_CHECK;
bool scram_client_verify(const struct scram_client_state *cst,
			 const char *server_final, size_t len) MUST_CHECK;

/* Test hook: every nonce made from now on (client's and server's) is this
 * text instead of random, so unit tests reproduce RFC 7677's example and
 * fuzzers are deterministic. It must be a valid nonce of at most
 * SCRAM_NONCE_MAX characters or it is ignored. NULL restores random. */
void scram_set_test_nonce(const char *nonce);

#endif
