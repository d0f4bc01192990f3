/*
 * fuzz_scram.c — libFuzzer target for every SCRAM parser.
 *
 * The first byte picks the parser ('0'..'4', taken modulo 5); the rest is
 * the message, passed in place so it ends exactly where the fuzzer's
 * buffer does and ASan sees any over-read:
 *   '0' scram_server_first          client-first-message
 *   '1' scram_server_final          client-final-message, after a valid first step
 *   '2' scram_client_final_keys     server-first-message (keys, not a password:
 *                                   no PBKDF2 run at a fuzzed iteration count)
 *   '3' scram_client_verify         server-final-message, after a valid exchange
 *   '4' scram_secret_from_verifier  verifier text, copied NUL-terminated
 * Nonces come from scram_set_test_nonce, so every run is deterministic and
 * the corpus can hold messages with valid proofs. The secret is RFC 7677's
 * user (password "pencil").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define F_CNONCE "fuzzcnonce"
#define F_SNONCE "fuzzsnonce"
#define F_SERVER_FIRST "r=" F_CNONCE F_SNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"

static const char verifier[] =
	"SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
static const char client_key_b64[] = "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=";

static struct scram_secret secret;
static uint8_t client_key[SCRAM_KEY_LEN];
static int ready;

static void setup(void)
{
	size_t n = 0;

	if (ready)
		return;
	if (!scram_secret_from_verifier(verifier, &secret) ||
	    !base64_decode(client_key_b64, strlen(client_key_b64), client_key,
			   sizeof client_key, &n) || n != sizeof client_key)
		abort();
	ready = 1;
}

static void client_ready(struct scram_client_state *cst, char *out, size_t outlen)
{
	memset(cst, 0, sizeof *cst);
	scram_set_test_nonce(F_CNONCE);
	if (!scram_client_first(cst, out, outlen))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct scram_server_state st;
	struct scram_client_state cst;
	struct scram_secret sec;
	char out[1024];
	bool proof_ok;

	if (n < 1)
		return 0;
	setup();
	const char *msg = (const char *)d + 1;
	size_t len = n - 1;
	memset(&st, 0, sizeof st);

	switch ((uint8_t)(d[0] - '0') % 5) {
	case 0:
		scram_set_test_nonce(F_SNONCE);
		(void)!scram_server_first(&st, &secret, msg, len, out, sizeof out);
		break;
	case 1:
		scram_set_test_nonce(F_SNONCE);
		if (!scram_server_first(&st, &secret, "n,,n=,r=" F_CNONCE, 18, out, sizeof out))
			abort();
		(void)!scram_server_final(&st, &secret, msg, len, out, sizeof out, &proof_ok);
		break;
	case 2:
		client_ready(&cst, out, sizeof out);
		(void)!scram_client_final_keys(&cst, client_key, secret.server_key, msg, len,
					       out, sizeof out);
		break;
	case 3:
		client_ready(&cst, out, sizeof out);
		if (!scram_client_final_keys(&cst, client_key, secret.server_key, F_SERVER_FIRST,
					     strlen(F_SERVER_FIRST), out, sizeof out))
			abort();
		(void)!scram_client_verify(&cst, msg, len);
		break;
	default: {
		char *v = malloc(len + 1);
		if (!v)
			return 0;
		memcpy(v, msg, len);
		v[len] = '\0';
		(void)!scram_secret_from_verifier(v, &sec);
		free(v);
		break;
	}
	}
	scram_set_test_nonce(NULL);
	return 0;
}
