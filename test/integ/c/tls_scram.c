/*
 * tls_scram.c — a raw PostgreSQL protocol client over TLS, for the
 * authentication tests (test/integ/17-auth.t): the Perl harness has no TLS,
 * and libpq will not send the wrong channel binding on purpose.
 *
 *   tls_scram [options]
 *     --port N          (required)          --host ADDR    (127.0.0.1)
 *     --user U          (required)          --db D         (the user)
 *     --password PW     for SCRAM, md5 and cleartext requests
 *     --plain           no SSLRequest: speak the protocol in the clear
 *     --sasl MODE       what to answer an AuthenticationSASL with:
 *         plus          SCRAM-SHA-256-PLUS, p=tls-server-end-point, the right
 *                       binding data (a hash of the server's certificate)
 *         plus-badcb    the same with one bit of the binding data flipped
 *         plus-unique   SCRAM-SHA-256-PLUS with p=tls-unique
 *         n             SCRAM-SHA-256, gs2 header "n,," (no binding)
 *         y             SCRAM-SHA-256, gs2 header "y,," (client could bind,
 *                       thinks the server cannot)
 *       default: plus when the server offers SCRAM-SHA-256-PLUS, else n
 *     --cert F --key F  present a client certificate
 *     --query SQL       after login, run SQL and print its first value
 *     --query-pad K     the query is SELECT length('x...x') with K x's
 *     --record N        after login, write at most N bytes per SSL_write:
 *                       records of N bytes (the many tiny records of a
 *                       slow or hostile client)
 *
 * It prints what happened, one fact a line, for the test to match:
 *   ssl-answer S                       the reply to SSLRequest
 *   tls TLSv1.3                        the handshake finished
 *   tls-failed <reason>                the handshake failed (exit 3)
 *   auth <code> [details]              each Authentication request; for 10 the
 *                                      mechanisms (comma list), for 11 the
 *                                      server-first-message, for 12 the
 *                                      server-final-message
 *   sent <mechanism> <client-first-message>
 *   server-signature ok|bad
 *   error <S>|<C>|<M>                  an ErrorResponse (exit 2)
 *   ready <status>                     ReadyForQuery after login
 *   value <text>                       the --query result
 *   closed                             the server closed the connection
 * Exit status: 0 logged in, 2 error response, 3 TLS failure, 4 closed or
 * timed out, 1 bad usage or local failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_MSG (1 << 20)

static int fd = -1;
static SSL *ssl;
static size_t record_max;   /* --record: bytes per SSL_write, 0: any */

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
	fprintf(stderr, "tls_scram: %s\n", what);
	exit(1);
}

static bool write_all(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		int n;
		if (ssl) {
			n = SSL_write(ssl, p, (int)(record_max && len > record_max ? record_max : len));
			if (n <= 0)
				return false;
		} else {
			n = (int)write(fd, p, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_all(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		int n;
		if (ssl) {
			n = SSL_read(ssl, p, (int)len);
			if (n <= 0)
				return false;
		} else {
			n = (int)read(fd, p, len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One backend message; false when the connection closed or timed out. The
 * body is NUL-terminated for convenience. */
static bool read_msg(char *type, uint8_t **body, size_t *len)
{
	uint8_t h[5];
	if (!read_all(h, 5))
		return false;
	uint32_t l = get32(h + 1);
	if (l < 4 || l > MAX_MSG)
		die("bad message length from the server");
	uint8_t *b = malloc(l - 4 + 1);
	if (!b)
		die("out of memory");
	if (!read_all(b, l - 4)) {
		free(b);
		return false;
	}
	b[l - 4] = 0;
	*type = (char)h[0];
	*body = b;
	*len = l - 4;
	return true;
}

static void send_msg(char type, const void *body, size_t len)
{
	uint8_t *m = malloc(len + 5);
	if (!m)
		die("out of memory");
	m[0] = (uint8_t)type;
	put32(m + 1, (uint32_t)(len + 4));
	memcpy(m + 5, body, len);
	if (!write_all(m, len + 5)) {
		printf("closed\n");
		exit(4);
	}
	free(m);
}

static void print_error(const uint8_t *body, size_t len)
{
	const char *s = "", *c = "", *m = "";
	size_t i = 0;
	while (i < len && body[i]) {
		const char *f = (const char *)body + i + 1;
		switch (body[i]) {
		case 'S': s = f; break;
		case 'C': c = f; break;
		case 'M': m = f; break;
		default: break;
		}
		i += 1 + strlen(f) + 1;
	}
	printf("error %s|%s|%s\n", s, c, m);
}

static void b64(const uint8_t *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

static size_t unb64(const char *in, size_t n, uint8_t *out, size_t cap)
{
	if (n % 4 || n / 4 * 3 > cap)
		return 0;
	int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0)
		return 0;
	size_t len = (size_t)r;
	if (n && in[n - 1] == '=')
		len--;
	if (n > 1 && in[n - 2] == '=')
		len--;
	return len;
}

static void hmac(const uint8_t *key, size_t klen, const void *data, size_t dlen, uint8_t out[32])
{
	unsigned int ol = 32;
	if (!HMAC(EVP_sha256(), key, (int)klen, data, dlen, out, &ol))
		die("HMAC failed");
}

/* tls-server-end-point (RFC 5929): the hash of the server's certificate
 * with its signature's hash algorithm, SHA-256 for MD5 and SHA-1. */
static size_t server_end_point(uint8_t out[EVP_MAX_MD_SIZE])
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	int md_nid;
	unsigned int len = 0;
	if (!cert)
		die("no server certificate");
	if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, NULL))
		die("unknown certificate signature algorithm");
	const EVP_MD *md = (md_nid == NID_md5 || md_nid == NID_sha1) ? EVP_sha256()
								    : EVP_get_digestbynid(md_nid);
	if (!md || X509_digest(cert, md, out, &len) != 1)
		die("certificate digest failed");
	X509_free(cert);
	return len;
}

/* Value of attribute `a` in a SCRAM message, copied into out. */
static bool attr(const char *msg, char a, char *out, size_t cap)
{
	const char *p = msg;
	while (p && *p) {
		if (p[0] == a && p[1] == '=') {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p - 2) : strlen(p + 2);
			if (n >= cap)
				return false;
			memcpy(out, p + 2, n);
			out[n] = 0;
			return true;
		}
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

struct scram {
	const char *password, *mode;
	char gs2[64], bare[128], auth_message[2048];
	uint8_t cbind[EVP_MAX_MD_SIZE];
	size_t cbind_len;
	uint8_t salted[32];
};

static void sasl_start(struct scram *s, const uint8_t *body, size_t len)
{
	/* mechanisms, NUL-separated, after the 4-byte code */
	char mechs[256] = "";
	bool plus_offered = false;
	for (size_t i = 4; i < len && body[i];) {
		const char *m = (const char *)body + i;
		if (!strcmp(m, "SCRAM-SHA-256-PLUS"))
			plus_offered = true;
		if (*mechs)
			strncat(mechs, ",", sizeof mechs - strlen(mechs) - 1);
		strncat(mechs, m, sizeof mechs - strlen(mechs) - 1);
		i += strlen(m) + 1;
	}
	printf("auth 10 %s\n", mechs);

	const char *mode = s->mode ? s->mode : (plus_offered && ssl ? "plus" : "n");
	s->mode = mode;
	const char *mech = "SCRAM-SHA-256";
	if (!strcmp(mode, "plus") || !strcmp(mode, "plus-badcb")) {
		mech = "SCRAM-SHA-256-PLUS";
		snprintf(s->gs2, sizeof s->gs2, "p=tls-server-end-point,,");
		if (ssl)
			s->cbind_len = server_end_point(s->cbind);
		if (!strcmp(mode, "plus-badcb") && s->cbind_len)
			s->cbind[s->cbind_len - 1] ^= 1;
	} else if (!strcmp(mode, "plus-unique")) {
		mech = "SCRAM-SHA-256-PLUS";
		snprintf(s->gs2, sizeof s->gs2, "p=tls-unique,,");
		s->cbind_len = 12;       /* a TLS Finished length; the value hardly matters */
		memset(s->cbind, 0x5a, s->cbind_len);
	} else if (!strcmp(mode, "n") || !strcmp(mode, "y")) {
		snprintf(s->gs2, sizeof s->gs2, "%s,,", mode);
	} else {
		die("unknown --sasl mode");
	}

	uint8_t raw[18];
	char nonce[32];
	if (RAND_bytes(raw, sizeof raw) != 1)
		die("RAND_bytes failed");
	b64(raw, sizeof raw, nonce);
	snprintf(s->bare, sizeof s->bare, "n=,r=%s", nonce);

	char first[256];
	int fl = snprintf(first, sizeof first, "%s%s", s->gs2, s->bare);
	printf("sent %s %s\n", mech, first);
	uint8_t msg[512];
	size_t ml = strlen(mech) + 1;
	memcpy(msg, mech, ml);
	put32(msg + ml, (uint32_t)fl);
	memcpy(msg + ml + 4, first, (size_t)fl);
	send_msg('p', msg, ml + 4 + (size_t)fl);
}

static void sasl_continue(struct scram *s, const uint8_t *body, size_t len)
{
	const char *server_first = (const char *)body + 4;
	printf("auth 11 %s\n", server_first);
	char r[256], salt64[128], iters[16];
	if (!attr(server_first, 'r', r, sizeof r) || !attr(server_first, 's', salt64, sizeof salt64) ||
	    !attr(server_first, 'i', iters, sizeof iters))
		die("bad server-first-message");
	uint8_t salt[96];
	size_t saltlen = unb64(salt64, strlen(salt64), salt, sizeof salt);
	int iter = atoi(iters);
	if (!saltlen || iter <= 0)
		die("bad salt or iteration count");
	const char *pw = s->password ? s->password : "";
	if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltlen, iter, EVP_sha256(), 32,
			      s->salted) != 1)
		die("PBKDF2 failed");

	/* c= base64(gs2 header + binding data) */
	uint8_t cbraw[64 + EVP_MAX_MD_SIZE];
	size_t gl = strlen(s->gs2);
	memcpy(cbraw, s->gs2, gl);
	memcpy(cbraw + gl, s->cbind, s->cbind_len);
	char c64[256];
	b64(cbraw, gl + s->cbind_len, c64);

	char without_proof[640];
	snprintf(without_proof, sizeof without_proof, "c=%s,r=%s", c64, r);
	snprintf(s->auth_message, sizeof s->auth_message, "%s,%s,%s", s->bare, server_first,
		 without_proof);

	uint8_t client_key[32], stored_key[32], sig[32], proof[32];
	hmac(s->salted, 32, "Client Key", 10, client_key);
	SHA256(client_key, 32, stored_key);
	hmac(stored_key, 32, s->auth_message, strlen(s->auth_message), sig);
	for (int i = 0; i < 32; i++)
		proof[i] = client_key[i] ^ sig[i];
	char proof64[64], final[768];
	b64(proof, 32, proof64);
	int fl = snprintf(final, sizeof final, "%s,p=%s", without_proof, proof64);
	send_msg('p', final, (size_t)fl);
}

static void sasl_final(struct scram *s, const uint8_t *body, size_t len)
{
	const char *server_final = (const char *)body + 4;
	printf("auth 12 %s\n", server_final);
	uint8_t server_key[32], sig[32];
	char sig64[64], want[80];
	hmac(s->salted, 32, "Server Key", 10, server_key);
	hmac(server_key, 32, s->auth_message, strlen(s->auth_message), sig);
	b64(sig, 32, sig64);
	snprintf(want, sizeof want, "v=%s", sig64);
	printf("server-signature %s\n", strcmp(server_final, want) == 0 ? "ok" : "bad");
}

static void md5_hex(const void *data, size_t len, char out[33])
{
	uint8_t d[16];
	unsigned int dl = 16;
	if (EVP_Digest(data, len, d, &dl, EVP_md5(), NULL) != 1)
		die("MD5 failed");
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void md5_answer(const char *user, const char *pw, const uint8_t salt[4])
{
	char inner[33], outer[36], buf[512];
	int n = snprintf(buf, sizeof buf, "%s%s", pw, user);
	md5_hex(buf, (size_t)n, inner);
	uint8_t in2[36];
	memcpy(in2, inner, 32);
	memcpy(in2 + 32, salt, 4);
	memcpy(outer, "md5", 3);
	md5_hex(in2, 36, outer + 3);
	send_msg('p', outer, 36);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *user = NULL, *db = NULL, *password = NULL;
	const char *sasl = NULL, *cert = NULL, *key = NULL, *query = NULL;
	int port = 0;
	long pad = -1, record = 0;
	bool plain = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--plain")) {
			plain = true;
			continue;
		}
		if (!v)
			die("option needs a value");
		i++;
		if (!strcmp(a, "--port")) port = atoi(v);
		else if (!strcmp(a, "--host")) host = v;
		else if (!strcmp(a, "--user")) user = v;
		else if (!strcmp(a, "--db")) db = v;
		else if (!strcmp(a, "--password")) password = v;
		else if (!strcmp(a, "--sasl")) sasl = v;
		else if (!strcmp(a, "--cert")) cert = v;
		else if (!strcmp(a, "--key")) key = v;
		else if (!strcmp(a, "--query")) query = v;
		else if (!strcmp(a, "--query-pad")) pad = atol(v);
		else if (!strcmp(a, "--record")) record = atol(v);
		else die("unknown option");
	}
	if (!port || !user)
		die("usage: tls_scram --port N --user U [--db D] [--password PW] [--plain] [--sasl MODE]");
	if (!db)
		db = user;
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		die("--host must be an IPv4 address");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect failed");

	if (!plain) {
		uint8_t req[8], answer = 0;
		put32(req, 8);
		put32(req + 4, 80877103);
		if (!write_all(req, 8) || !read_all(&answer, 1))
			die("SSLRequest failed");
		printf("ssl-answer %c\n", answer);
		if (answer != 'S')
			return 3;
		SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx)
			die("SSL_CTX_new failed");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		if (cert && (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
			     SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM) != 1))
			die("cannot load the client certificate or key");
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) != 1) {
			char buf[256];
			ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
			printf("tls-failed %s\n", buf);
			return 3;
		}
		printf("tls %s\n", SSL_get_version(ssl));
	}

	/* StartupMessage, protocol 3.0 */
	uint8_t sp[1024];
	size_t n = 8;
	put32(sp + 4, 196608);
	n += (size_t)snprintf((char *)sp + n, sizeof sp - n, "user%c%s%c", 0, user, 0);
	n += (size_t)snprintf((char *)sp + n, sizeof sp - n, "database%c%s%c", 0, db, 0);
	sp[n++] = 0;
	put32(sp, (uint32_t)n);
	if (!write_all(sp, n)) {
		printf("closed\n");
		return 4;
	}

	struct scram s = { .password = password, .mode = sasl };
	for (;;) {
		char type;
		uint8_t *body;
		size_t len;
		if (!read_msg(&type, &body, &len)) {
			printf("closed\n");
			return 4;
		}
		if (type == 'E') {
			print_error(body, len);
			free(body);
			return 2;
		}
		if (type == 'Z') {
			printf("ready %c\n", len ? body[0] : '?');
			free(body);
			break;
		}
		if (type == 'R' && len >= 4) {
			uint32_t code = get32(body);
			switch (code) {
			case 0: printf("auth 0\n"); break;
			case 3:
				printf("auth 3\n");
				send_msg('p', password ? password : "", strlen(password ? password : "") + 1);
				break;
			case 5:
				if (len < 8)
					die("short md5 request");
				printf("auth 5\n");
				md5_answer(user, password ? password : "", body + 4);
				break;
			case 10: sasl_start(&s, body, len); break;
			case 11: sasl_continue(&s, body, len); break;
			case 12: sasl_final(&s, body, len); break;
			default: printf("auth %u\n", code); die("unsupported authentication request");
			}
		}
		/* ParameterStatus, BackendKeyData, notices: not needed here */
		free(body);
	}

	char *padded = NULL;
	if (pad >= 0) {
		char *q = padded = malloc((size_t)pad + 32);
		if (!q)
			die("out of memory");
		int head = sprintf(q, "SELECT length('");
		memset(q + head, 'x', (size_t)pad);
		strcpy(q + head + pad, "')");
		query = q;
	}
	record_max = record > 0 ? (size_t)record : 0;
	if (query) {
		send_msg('Q', query, strlen(query) + 1);
		for (;;) {
			char type;
			uint8_t *body;
			size_t len;
			if (!read_msg(&type, &body, &len)) {
				printf("closed\n");
				return 4;
			}
			if (type == 'D' && len >= 6) {
				uint32_t vl = get32(body + 2);
				if (vl != 0xffffffffu && 6 + vl <= len)
					printf("value %.*s\n", (int)vl, (const char *)body + 6);
			} else if (type == 'E') {
				print_error(body, len);
			}
			free(body);
			if (type == 'Z')
				break;
		}
	}
	free(padded);
	send_msg('X', "", 0);
	if (ssl)
		SSL_shutdown(ssl);
	close(fd);
	return 0;
}
