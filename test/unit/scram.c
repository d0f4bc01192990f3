/*
 * scram.t — SCRAM-SHA-256 against RFC 7677's example and vectors computed
 * independently (Python hashlib/hmac), server against client round trips,
 * and tables of malformed and tampered messages. Every message is handed
 * over in an exact-size heap buffer so ASan sees any over-read.
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "scram.h"
#include "tap.h"

#define M(s) s, sizeof(s) - 1

/* RFC 7677 section 3. */
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_NONCE  RFC_CNONCE RFC_SNONCE
#define RFC_SALT   "W22ZaJ0SNY7soEsUEjb6gQ=="
static const char rfc_client_first[] = "n,,n=user,r=" RFC_CNONCE;
static const char rfc_server_first[] = "r=" RFC_NONCE ",s=" RFC_SALT ",i=4096";
static const char rfc_client_final[] =
	"c=biws,r=" RFC_NONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char rfc_server_final[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
/* The same user's keys, as pg_authid would hold them (computed in Python). */
static const char rfc_verifier[] =
	"SCRAM-SHA-256$4096:" RFC_SALT "$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
	":wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
static const char rfc_client_key[] = "pg/JI9Z+hkSpLRa5btpe9GVrDHJcSEN0viVTVXaZbos=";
static const char rfc_server_key[] = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";
/* With gs2 header "y,," (c=eSws), also computed in Python. */
static const char rfc_y_client_final[] =
	"c=eSws,r=" RFC_NONCE ",p=FoqiHTtQEDE8lz1CdaEe3tK4mS+iMDTl77SPyDS53DY=";
static const char rfc_y_server_final[] = "v=dI4KpiQJwBr1+V+K6U1dA6l6I4I9DUNXWND4pcpRU3U=";

static char *exact(const char *s, size_t n)
{
	char *b = malloc(n ? n : 1);
	memcpy(b, s, n);
	return b;
}

static bool srv_first(struct scram_server_state *st, const struct scram_secret *sec,
		      const char *m, size_t n, char *out, size_t outlen)
{
	char *b = exact(m, n);
	bool r = scram_server_first(st, sec, b, n, out, outlen);
	free(b);
	return r;
}

static bool srv_final(struct scram_server_state *st, const struct scram_secret *sec,
		      const char *m, size_t n, char *out, size_t outlen, bool *proof_ok,
		      uint8_t *client_key)
{
	char *b = exact(m, n);
	bool r = scram_server_final_key(st, sec, b, n, out, outlen, proof_ok, client_key);
	free(b);
	return r;
}

static bool cli_final_keys(struct scram_client_state *cst, const uint8_t *ck, const uint8_t *sk,
			   const char *m, size_t n, char *out, size_t outlen)
{
	char *b = exact(m, n);
	bool r = scram_client_final_keys(cst, ck, sk, b, n, out, outlen);
	free(b);
	return r;
}

static bool cli_verify(const struct scram_client_state *cst, const char *m, size_t n)
{
	char *b = exact(m, n);
	bool r = scram_client_verify(cst, b, n);
	free(b);
	return r;
}

static void decode_key(const char *b64, uint8_t key[SCRAM_KEY_LEN])
{
	size_t n = 0;
	if (!base64_decode(b64, strlen(b64), key, SCRAM_KEY_LEN, &n) || n != SCRAM_KEY_LEN)
		abort();
}

static void test_base64(void)
{
	static const struct { const char *in; size_t len; bool ok; const char *want; } t[] = {
		{ M(""), true, "" },        { M("Zg=="), true, "f" },
		{ M("Zm8="), true, "fo" },  { M("Zm9v"), true, "foo" },
		{ M("biws"), true, "n,," }, { M("Zh=="), false, NULL },
		{ M("Zm9="), false, NULL }, { M("Zg="), false, NULL },
		{ M("Z==="), false, NULL }, { M("===="), false, NULL },
		{ M("Zg==Zg=="), false, NULL }, { M("Zm 9"), false, NULL },
		{ M("Zm9\0"), false, NULL }, { M("Zm-_"), false, NULL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint8_t out[8];
		size_t n = 99;
		char *b = exact(t[i].in, t[i].len);
		bool ok = base64_decode(b, t[i].len, out, sizeof out, &n);
		free(b);
		if (t[i].ok)
			ok(ok && n == strlen(t[i].want) && memcmp(out, t[i].want, n) == 0,
			   "base64 decodes '%s'", t[i].in);
		else
			ok(!ok, "base64 refuses '%.*s'", (int)t[i].len, t[i].in);
	}
	uint8_t small[2];
	size_t n;
	ok(!base64_decode("Zm9v", 4, small, sizeof small, &n), "base64 decode honours outmax");
	char enc[5];
	ok(base64_encode((const uint8_t *)"n,,", 3, enc, sizeof enc), "base64 encodes");
	is_str(enc, "biws", "base64 of n,, is biws");
	ok(!base64_encode((const uint8_t *)"n,,", 3, enc, 4), "base64 encode honours outlen");
}

static void test_rfc_client(void)
{
	struct scram_client_state cst;
	char out[512];
	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];

	memset(&cst, 0, sizeof cst);
	scram_set_test_nonce(RFC_CNONCE);
	ok(scram_client_first_user(&cst, "user", out, sizeof out), "client-first with n=user");
	is_str(out, rfc_client_first, "client-first-message byte-exact");
	ok(scram_client_final(&cst, "pencil", M(rfc_server_first), out, sizeof out),
	   "client-final from password");
	is_str(out, rfc_client_final, "client-final-message and proof byte-exact (RFC 7677)");
	ok(cli_verify(&cst, M(rfc_server_final)), "server signature verifies (RFC 7677)");
	ok(!cli_verify(&cst, M("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=")),
	   "a flipped server signature does not");

	decode_key(rfc_client_key, ck);
	decode_key(rfc_server_key, sk);
	memset(&cst, 0, sizeof cst);
	ok(scram_client_first_user(&cst, "user", out, sizeof out), "client-first again");
	ok(cli_final_keys(&cst, ck, sk, M(rfc_server_first), out, sizeof out),
	   "client-final from stored keys");
	is_str(out, rfc_client_final, "stored keys give the same proof");
	ok(cli_verify(&cst, M(rfc_server_final)), "and the same server signature verifies");

	memset(&cst, 0, sizeof cst);
	scram_set_test_nonce("a,b=c");
	ok(scram_client_first_user(&cst, "a,b=c", out, sizeof out), "client-first escapes user");
	ok(strncmp(out, "n,,n=a=2Cb=3Dc,r=", 17) == 0 && strlen(out) == 17 + 24,
	   "',' and '=' escaped; an invalid test nonce falls back to random");
	scram_set_test_nonce(NULL);
	ok(scram_client_first(&cst, out, sizeof out) && strncmp(out, "n,,n=,r=", 8) == 0 &&
	   strlen(out) == 8 + 24, "PostgreSQL form: empty n=, 24-character random nonce");
	ok(!scram_client_first(&cst, out, 10), "client-first refuses a short buffer");
}

static void test_rfc_server(void)
{
	struct scram_secret a, b;
	struct scram_server_state st;
	char out[512];
	uint8_t salt[16], ck[SCRAM_KEY_LEN], want_ck[SCRAM_KEY_LEN];
	size_t n;
	bool proof_ok;

	ok(base64_decode(M(RFC_SALT), salt, sizeof salt, &n) && n == 16, "RFC salt decodes");
	ok(scram_secret_from_password_salt("pencil", salt, 16, 4096, &a), "secret from password");
	ok(scram_secret_from_verifier(rfc_verifier, &b), "secret from verifier");
	ok(a.iterations == 4096 && b.iterations == 4096 && a.salt_len == 16 &&
	   b.salt_len == 16 && memcmp(a.salt, b.salt, 16) == 0, "same salt and iterations");
	is_mem(a.stored_key, 32, b.stored_key, 32, "StoredKey matches Python's");
	is_mem(a.server_key, 32, b.server_key, 32, "ServerKey matches Python's");

	static const struct { const char *first, *final, *server_final; } t[] = {
		{ "n,,n=user,r=" RFC_CNONCE, rfc_client_final, rfc_server_final },
		{ "y,,n=user,r=" RFC_CNONCE, rfc_y_client_final, rfc_y_server_final },
	};
	decode_key(rfc_client_key, want_ck);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		memset(&st, 0, sizeof st);
		scram_set_test_nonce(RFC_SNONCE);
		ok(srv_first(&st, &b, t[i].first, strlen(t[i].first), out, sizeof out),
		   "server accepts %.3s client-first", t[i].first);
		is_str(out, rfc_server_first, "server-first-message byte-exact");
		memset(ck, 0, sizeof ck);
		ok(srv_final(&st, &b, t[i].final, strlen(t[i].final), out, sizeof out, &proof_ok, ck) &&
		   proof_ok, "proof verifies with gs2 header %.3s", t[i].first);
		is_str(out, t[i].server_final, "server-final-message byte-exact");
		is_mem(ck, 32, want_ck, 32, "recovered ClientKey");
		ok(!srv_final(&st, &b, t[i].final, strlen(t[i].final), out, sizeof out, &proof_ok,
			      NULL) && !proof_ok, "state is spent: a replayed final fails");
	}
	/* c= must match what the client sent in its gs2 header. */
	memset(&st, 0, sizeof st);
	ok(srv_first(&st, &b, M("y,,n=user,r=" RFC_CNONCE), out, sizeof out), "y,, first");
	ok(!srv_final(&st, &b, M(rfc_client_final), out, sizeof out, &proof_ok, NULL) && !proof_ok,
	   "c=biws after y,, is refused");
	memset(&st, 0, sizeof st);
	ok(!srv_final(&st, &b, M(rfc_client_final), out, sizeof out, &proof_ok, NULL),
	   "final without first fails");
	scram_set_test_nonce(NULL);
}

/* One exchange with random nonces; returns whether the client authenticated. */
static bool round_trip(const struct scram_secret *sec, const char *password, bool *verified)
{
	struct scram_server_state st;
	struct scram_client_state cst;
	char c1[256], s1[512], c2[512], s2[128];
	bool proof_ok = false;

	memset(&st, 0, sizeof st);
	memset(&cst, 0, sizeof cst);
	*verified = false;
	if (!scram_client_first(&cst, c1, sizeof c1) ||
	    !srv_first(&st, sec, c1, strlen(c1), s1, sizeof s1) ||
	    !scram_client_final(&cst, password, s1, strlen(s1), c2, sizeof c2) ||
	    !srv_final(&st, sec, c2, strlen(c2), s2, sizeof s2, &proof_ok, NULL))
		return false;
	if (proof_ok)
		*verified = cli_verify(&cst, s2, strlen(s2));
	return proof_ok;
}

static void test_round_trip(void)
{
	struct scram_secret sec, sec2, d1, d2, d3;
	bool verified;

	scram_set_test_nonce(NULL);
	ok(scram_secret_from_password("hunter2", &sec), "secret from password, random salt");
	ok(sec.iterations == 4096 && sec.salt_len == 16, "4096 iterations, 16-byte salt");
	ok(scram_secret_from_password("hunter2", &sec2) && memcmp(sec.salt, sec2.salt, 16) != 0,
	   "salts differ between calls");
	ok(round_trip(&sec, "hunter2", &verified) && verified, "right password authenticates");
	ok(!round_trip(&sec, "hunter3", &verified), "wrong password fails");
	ok(!round_trip(&sec, "", &verified), "empty password fails");

	scram_secret_dummy("ghost", &d1);
	scram_secret_dummy("ghost", &d2);
	scram_secret_dummy("ghost2", &d3);
	ok(memcmp(&d1, &d2, sizeof d1) == 0, "dummy secret is stable per user");
	ok(memcmp(d1.salt, d3.salt, 16) != 0, "and differs between users");
	ok(d1.iterations == 4096 && d1.salt_len == 16, "and looks like a default secret");
	ok(!round_trip(&d1, "ghost", &verified) && !round_trip(&d1, "", &verified),
	   "no password authenticates against a dummy");
}

/*
 * Tampering: the exchange with nonces "cnonce"/"snonce" and the RFC secret.
 * T_PROOF and T_SIG were computed in Python. Well-formed messages return
 * true with *proof_ok false; malformed ones return false.
 */
#define T_NONCE "cnoncesnonce"
#define T_PROOF "H9aBEMEuRYPHkkR4G1LVLNhAJxhMXKEVw2y1B8GpbbY="
#define T_SIG   "v=6FutSSehcPzwBHB4poe3jCSloYg1IAlhi6ccIeVG++8="
#define T_OK    "c=biws,r=" T_NONCE ",p=" T_PROOF

static void test_tampered_final(void)
{
	static const struct { const char *m; size_t len; bool want; } t[] = {
		{ M("c=biws,r=" T_NONCE ",p=I9aBEMEuRYPHkkR4G1LVLNhAJxhMXKEVw2y1B8GpbbY="), true },
		{ M("c=biws,r=" T_NONCE ",p=H9aBEMEuRYPHlkR4G1LVLNhAJxhMXKEVw2y1B8GpbbY="), true },
		/* Y→Z sets bits past the 32nd byte: non-canonical base64. */
		{ M("c=biws,r=" T_NONCE ",p=H9aBEMEuRYPHkkR4G1LVLNhAJxhMXKEVw2y1B8GpbbZ="), false },
		{ M("c=biws,r=" T_NONCE ",x=ext,p=" T_PROOF), true },
		{ M("c=eSws,r=" T_NONCE ",p=" T_PROOF), false },
		{ M("c=,r=" T_NONCE ",p=" T_PROOF), false },
		{ M("r=" T_NONCE ",p=" T_PROOF), false },
		{ M("c=biws,r=cnonce,p=" T_PROOF), false },
		{ M("c=biws,r=" T_NONCE "x,p=" T_PROOF), false },
		{ M("c=biws,r=cnoncesnonc,p=" T_PROOF), false },
		{ M("c=biws,r=,p=" T_PROOF), false },
		{ M("r=" T_NONCE ",c=biws,p=" T_PROOF), false },
		{ M("c=biws,p=" T_PROOF), false },
		{ M("c=biws,r=" T_NONCE), false },
		{ M("c=biws,r=" T_NONCE ","), false },
		{ M("c=biws,r=" T_NONCE ",p="), false },
		{ M("c=biws,r=" T_NONCE ",p=" T_PROOF ",x=y"), false },
		{ M("c=biws,r=" T_NONCE ",p=" T_PROOF ","), false },
		{ M("c=biws,r=" T_NONCE ",p=" T_PROOF ",p=" T_PROOF), false },
		{ M("c=biws,r=" T_NONCE ",p=H9aBEMEuRYPHkkR4G1LVLNhAJxhMXKEVw2y1B8GpbbY"), false },
		{ M("c=biws,r=" T_NONCE ",p=H9aBEMEuRYPHkkR4G1LVLNhAJxhMXKEVw2y1B8Gpbb=="), false },
		{ M("c=biws,r=" T_NONCE ",p=AAAA" T_PROOF), false },
		{ M("c=biws,r=" T_NONCE ",p=" T_PROOF "\0"), false },
		{ M("c=biws,r=" T_NONCE ",,p=" T_PROOF), false },
		{ M("c=biws,r=" T_NONCE ",1=x,p=" T_PROOF), false },
		{ M("c=biws\0,r=" T_NONCE ",p=" T_PROOF), false },
		{ M("C=biws,r=" T_NONCE ",p=" T_PROOF), false },
		{ M(""), false },
		{ M(","), false },
	};
	struct scram_secret sec;
	struct scram_server_state st;
	struct scram_client_state cst;
	char s1[512], out[512];
	bool proof_ok;

	if (!scram_secret_from_verifier(rfc_verifier, &sec))
		abort();
	/* Our client builds exactly the message the table tampers with. */
	memset(&cst, 0, sizeof cst);
	scram_set_test_nonce("cnonce");
	if (!scram_client_first(&cst, out, sizeof out))
		abort();
	scram_set_test_nonce("snonce");
	ok(srv_first(&st, &sec, out, strlen(out), s1, sizeof s1) &&
	   scram_client_final(&cst, "pencil", s1, strlen(s1), out, sizeof out),
	   "exchange for tampering");
	is_str(out, T_OK, "client-final matches Python's");

	for (size_t i = 0; i <= ARRAY_SIZE(t); i++) {
		const char *m = i ? t[i - 1].m : T_OK;
		size_t len = i ? t[i - 1].len : strlen(T_OK);
		memset(&st, 0, sizeof st);
		if (!srv_first(&st, &sec, M("n,,n=,r=cnonce"), s1, sizeof s1))
			abort();
		bool r = srv_final(&st, &sec, m, len, out, sizeof out, &proof_ok, NULL);
		if (i == 0) {
			ok(r && proof_ok, "untampered client-final authenticates");
			is_str(out, T_SIG, "server-final matches Python's");
		} else {
			ok(r == t[i - 1].want && !proof_ok && out[0] == '\0',
			   "tampered client-final %s: '%.*s'",
			   t[i - 1].want ? "well-formed, refused" : "malformed", (int)len, m);
		}
	}
	scram_set_test_nonce(NULL);
}

static void test_client_first_table(void)
{
	static const struct { const char *m; size_t len; bool want; } t[] = {
		{ M("n,,n=,r=abc"), true },        { M("y,,n=,r=abc"), true },
		{ M("n,,n=user,r=abc"), true },    { M("n,,n=a=2Cb=3D,r=abc"), true },
		{ M("n,,n=,r=abc,x=1"), true },    { M("n,,n=,r=!~\"$%"), true },
		{ M(""), false },                  { M("n"), false },
		{ M("n,"), false },                { M("n,,"), false },
		{ M("n,,n="), false },             { M("n,,n=,r="), false },
		{ M("n,,r=abc"), false },          { M("n,,n=,r=abc,"), false },
		{ M("p=tls-server-end-point,,n=,r=abc"), false },
		{ M("n,a=bob,n=,r=abc"), false },  { M("x,,n=,r=abc"), false },
		{ M("nn,,n=,r=abc"), false },      { M("n,,m=x,n=,r=abc"), false },
		{ M("n,,n=a=2,r=abc"), false },    { M("n,,n=a=4F,r=abc"), false },
		{ M("n,,n=,r=ab\x01"), false },    { M("n,,n=,r=ab c"), false },
		{ M("n,,n=,r=ab\x7f"), false },    { M("n,,n=,r=abc,x"), false },
		{ M("n,,n=,r=abc,x="), false },    { M("n,,n=,r=abc,1=x"), false },
		{ M("n,,n=\0,r=abc"), false },     { M("n,,n=,r=abc\0"), false },
		{ M("n,,r=abc,n="), false },       { M(",,n=,r=abc"), false },
	};
	struct scram_secret sec;
	struct scram_server_state st;
	char out[512], big[1024];

	scram_secret_dummy("table", &sec);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		memset(&st, 0xaa, sizeof st);
		bool r = srv_first(&st, &sec, t[i].m, t[i].len, out, sizeof out);
		ok(r == t[i].want && (r || st.nonce[0] == '\0'), "client-first %s: '%.*s'",
		   t[i].want ? "accepted" : "refused", (int)t[i].len, t[i].m);
	}
	for (size_t nlen = 127; nlen <= 129; nlen++) {
		int k = snprintf(big, sizeof big, "n,,n=,r=%0*d", (int)nlen, 7);
		ok(srv_first(&st, &sec, big, (size_t)k, out, sizeof out) == (nlen <= SCRAM_NONCE_MAX),
		   "client nonce of %zu characters", nlen);
	}
	int k = snprintf(big, sizeof big, "n,,n=%0600d,r=abc", 1);
	ok(!srv_first(&st, &sec, big, (size_t)k, out, sizeof out), "oversized client-first-bare");
	ok(!srv_first(&st, &sec, M("n,,n=,r=abc"), out, 20), "server-first refuses a short buffer");
	struct scram_secret bad = sec;
	bad.salt_len = 0;
	ok(!srv_first(&st, &bad, M("n,,n=,r=abc"), out, sizeof out), "refuses an empty secret");
}

static void test_server_first_table(void)
{
	static const struct { const char *m; size_t len; bool want; } t[] = {
		{ M("r=cnoncesnonce,s=" RFC_SALT ",i=4096"), true },
		{ M("r=cnonceX,s=AA==,i=1"), true },
		{ M("r=cnonceX,s=AA==,i=10000000"), true },
		{ M("r=cnonce,s=" RFC_SALT ",i=4096"), false },
		{ M("r=xnoncesnonce,s=" RFC_SALT ",i=4096"), false },
		{ M("r=cnonc,s=" RFC_SALT ",i=4096"), false },
		{ M("r=cnoncesnonce,s=,i=4096"), false },
		{ M("s=" RFC_SALT ",r=cnoncesnonce,i=4096"), false },
		{ M("r=cnoncesnonce,s=abc,i=4096"), false },
		{ M("r=cnoncesnonce,s=ab!d,i=4096"), false },
		{ M("r=cnoncesnonce,s=AA==,i=0"), false },
		{ M("r=cnoncesnonce,s=AA==,i=-1"), false },
		{ M("r=cnoncesnonce,s=AA==,i=+1"), false },
		{ M("r=cnoncesnonce,s=AA==,i=10000001"), false },
		{ M("r=cnoncesnonce,s=AA==,i=99999999999"), false },
		{ M("r=cnoncesnonce,s=AA==,i=010"), false },
		{ M("r=cnoncesnonce,s=AA==,i=4096x"), false },
		{ M("r=cnoncesnonce,s=AA==,i="), false },
		{ M("r=cnoncesnonce,s=AA=="), false },
		{ M("r=cnoncesnonce,s=AA==,i=4096,x=y"), false },
		{ M("r=cnoncesnonce,s=AA==,i=4096,"), false },
		{ M("m=x,r=cnoncesnonce,s=AA==,i=4096"), false },
		{ M("e=other-error"), false },
		{ M("r=cnonce\0snonce,s=AA==,i=4096"), false },
		{ M("r=cnonce snonce,s=AA==,i=4096"), false },
		{ M("r=cnoncesnonce,s=AA==,i=4096\0"), false },
		{ M(""), false },
	};
	struct scram_client_state cst;
	uint8_t ck[SCRAM_KEY_LEN] = { 1 }, sk[SCRAM_KEY_LEN] = { 2 };
	char out[1024], big[1200];

	memset(&cst, 0, sizeof cst);
	ok(!cli_final_keys(&cst, ck, sk, M("r=cnoncesnonce,s=AA==,i=1"), out, sizeof out),
	   "client-final before client-first fails");
	scram_set_test_nonce("cnonce");
	ok(scram_client_first(&cst, out, sizeof out), "client-first for the table");
	scram_set_test_nonce(NULL);
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		ok(cli_final_keys(&cst, ck, sk, t[i].m, t[i].len, out, sizeof out) == t[i].want,
		   "server-first %s: '%.*s'", t[i].want ? "accepted" : "refused", (int)t[i].len, t[i].m);

	int k = snprintf(big, sizeof big, "r=cnonce%0300d,s=AA==,i=1", 1);
	ok(!cli_final_keys(&cst, ck, sk, big, (size_t)k, out, sizeof out), "oversized nonce");
	char salt64[100];
	uint8_t salt[SCRAM_SALT_MAX + 1] = { 0 };
	for (size_t sl = SCRAM_SALT_MAX; sl <= SCRAM_SALT_MAX + 1; sl++) {
		if (!base64_encode(salt, sl, salt64, sizeof salt64))
			abort();
		k = snprintf(big, sizeof big, "r=cnonceX,s=%s,i=1", salt64);
		ok(cli_final_keys(&cst, ck, sk, big, (size_t)k, out, sizeof out) == (sl <= SCRAM_SALT_MAX),
		   "salt of %zu bytes", sl);
	}
	ok(!cli_final_keys(&cst, ck, sk, M("r=cnonceX,s=AA==,i=1"), out, 30),
	   "client-final refuses a short buffer");
	ok(scram_client_final(&cst, "pw", M("r=cnonceX,s=AA==,i=1"), out, sizeof out) &&
	   strncmp(out, "c=biws,r=cnonceX,p=", 19) == 0, "password path with i=1");
	ok(!scram_client_final(&cst, NULL, M("r=cnonceX,s=AA==,i=1"), out, sizeof out),
	   "NULL password refused");
	ok(scram_client_final(&cst, "pw", M("r=cnonceX,s=AA==,i=100000"), out, sizeof out) &&
	   cst.iterations == 100000, "password path computes SCRAM_CLIENT_ITER_MAX iterations");
	ok(!scram_client_final(&cst, "pw", M("r=cnonceX,s=AA==,i=100001"), out, sizeof out) &&
	   cst.iterations == 100001, "password path refuses one more, and says how many were asked");
	ok(!scram_client_final(&cst, "pw", M("r=cnonceX,s=AA==,i=10000000"), out, sizeof out) &&
	   cst.iterations == 10000000, "password path refuses 10,000,000 without computing them");
	ok(cli_final_keys(&cst, ck, sk, M("r=cnonceX,s=AA==,i=10000000"), out, sizeof out),
	   "pass-through (keys, no PBKDF2) still takes 10,000,000");
}

static void test_server_final_table(void)
{
	struct scram_client_state cst, zero;
	char out[512];
	static const struct { const char *m; size_t len; } bad[] = {
		{ M("") }, { M("v=") }, { M("e=invalid-proof") }, { M("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=y") },
		{ M("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4") }, { M("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,") },
		{ M("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=\0") }, { M("x=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") },
		{ M("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=AAAA") }, { M("V=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") },
	};

	memset(&zero, 0, sizeof zero);
	ok(!cli_verify(&zero, M(rfc_server_final)), "verify before client-final fails");
	memset(&cst, 0, sizeof cst);
	scram_set_test_nonce(RFC_CNONCE);
	if (!scram_client_first_user(&cst, "user", out, sizeof out) ||
	    !scram_client_final(&cst, "pencil", M(rfc_server_first), out, sizeof out))
		abort();
	scram_set_test_nonce(NULL);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ok(!cli_verify(&cst, bad[i].m, bad[i].len), "server-final refused: '%.*s'",
		   (int)bad[i].len, bad[i].m);
	ok(cli_verify(&cst, M(rfc_server_final)), "the real one still verifies");
}

static void test_verifier_table(void)
{
	static const struct { const char *v; bool want; } t[] = {
		{ rfc_verifier, true },
		{ "SCRAM-SHA-256$2147483647:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", true },
		{ "SCRAM-SHA-256$2147483648:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", false },
		{ "SCRAM-SHA-256$0:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", false },
		{ "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", false },
		{ "SCRAM-SHA-256$4096:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4g==:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", false },
		{ "SCRAM-SHA-256$4096:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU", false },
		{ "SCRAM-SHA-256$4096:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:x", false },
		{ "SCRAM-SHA-256$4096:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=", false },
		{ "SCRAM-SHA-256$4096$AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", false },
		{ "scram-sha-256$4096:AA==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=", false },
		{ "md5a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5", false },
		{ "SCRAM-SHA-256$", false }, { "SCRAM-SHA-256", false }, { "", false },
	};
	struct scram_secret sec;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		ok(scram_secret_from_verifier(t[i].v, &sec) == t[i].want, "verifier %s #%zu",
		   t[i].want ? "accepted" : "refused", i);
	ok(!scram_secret_from_verifier(NULL, &sec), "NULL verifier refused");
}

/* Every strict prefix of a valid message: no crash, and nothing authenticates. */
static void test_truncations(void)
{
	struct scram_secret sec;
	struct scram_server_state st;
	struct scram_client_state cst;
	char out[512];
	bool proof_ok, any = false;

	if (!scram_secret_from_verifier(rfc_verifier, &sec))
		abort();
	for (size_t n = 0; n < sizeof rfc_client_final - 1; n++) {
		scram_set_test_nonce(RFC_SNONCE);
		memset(&st, 0, sizeof st);
		if (!srv_first(&st, &sec, M(rfc_client_first), out, sizeof out))
			abort();
		if (srv_final(&st, &sec, rfc_client_final, n, out, sizeof out, &proof_ok, NULL) || proof_ok)
			any = true;
	}
	ok(!any, "no truncated client-final is even well-formed");
	for (size_t n = 0; n < sizeof rfc_client_first - 1; n++)
		(void)!srv_first(&st, &sec, rfc_client_first, n, out, sizeof out);
	ok(1, "truncated client-first messages: no crash");

	memset(&cst, 0, sizeof cst);
	scram_set_test_nonce(RFC_CNONCE);
	if (!scram_client_first_user(&cst, "user", out, sizeof out))
		abort();
	uint8_t ck[SCRAM_KEY_LEN], sk[SCRAM_KEY_LEN];
	decode_key(rfc_client_key, ck);
	decode_key(rfc_server_key, sk);
	for (size_t n = 0; n < sizeof rfc_server_first - 1; n++)
		(void)!cli_final_keys(&cst, ck, sk, rfc_server_first, n, out, sizeof out);
	ok(1, "truncated server-first messages: no crash");
	if (!cli_final_keys(&cst, ck, sk, M(rfc_server_first), out, sizeof out))
		abort();
	any = false;
	for (size_t n = 0; n < sizeof rfc_server_final - 1; n++)
		any |= cli_verify(&cst, rfc_server_final, n);
	ok(!any, "no truncated server-final verifies");
	scram_set_test_nonce(NULL);
}

int main(void)
{
	test_base64();
	test_rfc_client();
	test_rfc_server();
	test_round_trip();
	test_tampered_final();
	test_client_first_table();
	test_server_first_table();
	test_server_final_table();
	test_verifier_table();
	test_truncations();
	return done_testing();
}
