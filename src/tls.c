/*
 * tls.c — SSL_CTX for clients (sluice as TLS server) and for PostgreSQL
 * (sluice as TLS client), from PgBouncer's client_tls_* / server_tls_* keys.
 *
 * Only TLS 1.2 and 1.3 are ever enabled. Contexts are reference-counted by
 * OpenSSL: a reload swaps in new ones while open connections keep theirs.
 *
 * Toward PostgreSQL there are two contexts, one that checks the server's
 * certificate (verify-ca, verify-full) and one that does not (allow,
 * prefer, require): a [databases] entry's `sslmode` may differ from the
 * global server_tls_sslmode, and each is built only if some mode needs it.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "tls.h"

static SSL_CTX *accept_ctx, *connect_ctx, *verify_ctx;

static void ssl_error(char *err, size_t errlen, const char *what, const char *arg)
{
	char detail[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof detail);
	snprintf(err, errlen, "%s%s%s: %s", what, arg ? " " : "", arg ? arg : "",
		 *detail ? detail : "failed");
	ERR_clear_error();
}

/* "secure", "all", "tlsv1.2", "tlsv1.3", separated by commas or spaces. */
static bool set_protocols(SSL_CTX *ctx, const char *key, const char *list, char *err, size_t errlen)
{
	bool v12 = false, v13 = false;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", list && *list ? list : "secure");
	char *save = NULL;
	for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (!strcasecmp(tok, "secure") || !strcasecmp(tok, "all") || !strcasecmp(tok, "default"))
			v12 = v13 = true;
		else if (!strcasecmp(tok, "tlsv1.2"))
			v12 = true;
		else if (!strcasecmp(tok, "tlsv1.3"))
			v13 = true;
		else {
			snprintf(err, errlen, "%s: \"%s\" is not supported (tlsv1.2, tlsv1.3, secure, all)",
				 key, tok);
			return false;
		}
	}
	SSL_CTX_set_min_proto_version(ctx, v12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	return true;
}

static bool is_alias(const char *s)
{
	static const char *const aliases[] = { "default", "fast", "normal", "secure", "all", "" };
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (!strcasecmp(s, aliases[i]))
			return true;
	return false;
}

static bool set_ciphers(SSL_CTX *ctx, const char *key, const char *tls12, const char *tls13,
			char *err, size_t errlen)
{
	if (tls12 && !is_alias(tls12) && SSL_CTX_set_cipher_list(ctx, tls12) != 1) {
		ssl_error(err, errlen, key, tls12);
		return false;
	}
	if (tls13 && !is_alias(tls13) && SSL_CTX_set_ciphersuites(ctx, tls13) != 1) {
		ssl_error(err, errlen, key, tls13);
		return false;
	}
	return true;
}

static SSL_CTX *new_ctx(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);
	if (!ctx)
		return NULL;
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	return ctx;
}

static bool load_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t errlen)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		ssl_error(err, errlen, "certificate", cert);
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ssl_error(err, errlen, "private key", key);
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_error(err, errlen, "private key does not match certificate", cert);
		return false;
	}
	return true;
}

static SSL_CTX *build_accept(const struct config *cfg, char *err, size_t errlen)
{
	if (!cfg->client_tls_key_file || !cfg->client_tls_cert_file) {
		snprintf(err, errlen, "client_tls_sslmode = %s needs client_tls_key_file and client_tls_cert_file",
			 config_tls_mode_name(cfg->client_tls_sslmode));
		return NULL;
	}
	SSL_CTX *ctx = new_ctx(TLS_server_method());
	if (!ctx) {
		ssl_error(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	if (!set_protocols(ctx, "client_tls_protocols", cfg->client_tls_protocols, err, errlen) ||
	    !set_ciphers(ctx, "client_tls_ciphers", cfg->client_tls_ciphers, cfg->client_tls13_ciphers, err, errlen) ||
	    !load_pair(ctx, cfg->client_tls_cert_file, cfg->client_tls_key_file, err, errlen))
		goto fail;
	/* No resumption, as in PostgreSQL: no cache, and no tickets (TLS 1.2's,
	 * or the two TLS 1.3 sends after every handshake), which libpq would
	 * only discard. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (cfg->client_tls_sslmode >= TLS_VERIFY_CA && !cfg->client_tls_ca_file) {
		snprintf(err, errlen, "client_tls_sslmode = %s needs client_tls_ca_file",
			 config_tls_mode_name(cfg->client_tls_sslmode));
		goto fail;
	}
	if (cfg->client_tls_ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->client_tls_ca_file, NULL) != 1) {
			ssl_error(err, errlen, "client_tls_ca_file", cfg->client_tls_ca_file);
			goto fail;
		}
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->client_tls_ca_file);
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		/* With a CA, every client is asked for a certificate, as PostgreSQL
		 * does with ssl_ca_file: one that does not verify ends the
		 * handshake; none at all is refused here only by verify-ca and
		 * verify-full, and later by an hba rule with clientcert or cert. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
				   (cfg->client_tls_sslmode >= TLS_VERIFY_CA ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
				   NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *build_connect(const struct config *cfg, bool verify, char *err, size_t errlen)
{
	SSL_CTX *ctx = new_ctx(TLS_client_method());
	if (!ctx) {
		ssl_error(err, errlen, "SSL_CTX_new", NULL);
		return NULL;
	}
	if (!set_protocols(ctx, "server_tls_protocols", cfg->server_tls_protocols, err, errlen) ||
	    !set_ciphers(ctx, "server_tls_ciphers", cfg->server_tls_ciphers, cfg->server_tls13_ciphers, err, errlen))
		goto fail;
	if (cfg->server_tls_cert_file && cfg->server_tls_key_file &&
	    !load_pair(ctx, cfg->server_tls_cert_file, cfg->server_tls_key_file, err, errlen))
		goto fail;
	if (verify) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->server_tls_ca_file, NULL) != 1) {
			ssl_error(err, errlen, "server_tls_ca_file", cfg->server_tls_ca_file);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Which contexts toward PostgreSQL the modes in use need: the global one
 * and each [databases] entry's own. A mode that verifies needs the CA file. */
static bool connect_needs(const struct config *cfg, bool *plain, bool *verify,
			  char *err, size_t errlen)
{
	*plain = *verify = false;
	for (size_t i = 0; i <= cfg->ndbs; i++) {
		const struct db_entry *db = i < cfg->ndbs ? &cfg->dbs[i] : NULL;
		int mode = config_db_tls_mode(cfg, db);
		if (mode == TLS_DISABLE)
			continue;
		if (mode < TLS_VERIFY_CA) {
			*plain = true;
			continue;
		}
		*verify = true;
		if (cfg->server_tls_ca_file)
			continue;
		if (db && db->server_tls_sslmode >= 0)
			snprintf(err, errlen, "[databases] %s: sslmode = %s needs server_tls_ca_file",
				 db->name, config_tls_mode_name(mode));
		else
			snprintf(err, errlen, "server_tls_sslmode = %s needs server_tls_ca_file",
				 config_tls_mode_name(mode));
		return false;
	}
	return true;
}

bool tls_configure(const struct config *cfg, char *err, size_t errlen)
{
	SSL_CTX *a = NULL, *c = NULL, *v = NULL;
	bool plain, verify;
	if (cfg->client_tls_sslmode != TLS_DISABLE && !(a = build_accept(cfg, err, errlen)))
		return false;
	if (!connect_needs(cfg, &plain, &verify, err, errlen) ||
	    (plain && !(c = build_connect(cfg, false, err, errlen))) ||
	    (verify && !(v = build_connect(cfg, true, err, errlen)))) {
		SSL_CTX_free(a);
		SSL_CTX_free(c);
		return false;
	}
	SSL_CTX_free(accept_ctx);
	SSL_CTX_free(connect_ctx);
	SSL_CTX_free(verify_ctx);
	accept_ctx = a;
	connect_ctx = c;
	verify_ctx = v;
	return true;
}

SSL_CTX *tls_accept_ctx(void) { return accept_ctx; }
SSL_CTX *tls_connect_ctx(int mode)
{
	if (mode == TLS_DISABLE)
		return NULL;
	return mode >= TLS_VERIFY_CA ? verify_ctx : connect_ctx;
}

void tls_shutdown(void)
{
	SSL_CTX_free(accept_ctx);
	SSL_CTX_free(connect_ctx);
	SSL_CTX_free(verify_ctx);
	accept_ctx = connect_ctx = verify_ctx = NULL;
}
