/*
 * conn_tls.c — TLS on a connection, part of the connection core (conn.c):
 * the handshake, reads through OpenSSL, and one step of writing.
 */
#include <errno.h>
#include <stdio.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conn.h"
#include "conn_internal.h"
#include "loop.h"

#define TLS_READ_BUDGET (256 * 1024)   /* bytes per callback, then yield */
/* SSL_read calls per callback, then yield: each call takes one record, and
 * a peer that sends its bytes in records of one byte each must not hold
 * the loop for the 256 Ki records of the byte budget (seconds: every
 * other connection waited meanwhile). Full records take 16 KiB a call. */
#define TLS_READ_CALLS 64
#define TLS_WRITE_CHUNK (16 * 1024)

static char tls_err[256];

/* One step of writing c->out through TLS: > 0 bytes written, 0 would
 * block (or waits for a read), < 0 failed. */
int conn_tls_write_some(struct conn *c)
{
	size_t have = conn_out_len(c);
	if (have == 0)
		return 0;
	/* a retried SSL_write must repeat its length exactly */
	int len = c->tls_retry_len ? c->tls_retry_len
				   : (int)(have < TLS_WRITE_CHUNK ? have : TLS_WRITE_CHUNK);
	ERR_clear_error();
	int n = SSL_write(c->ssl, buf_data(c->out), len);
	if (n > 0) {
		c->tls_retry_len = 0;
		buf_drain(c->out, (size_t)n);
		return n;
	}
	switch (SSL_get_error(c->ssl, n)) {
	case SSL_ERROR_WANT_WRITE:
		c->tls_retry_len = len;
		return 0;
	case SSL_ERROR_WANT_READ:
		c->tls_retry_len = len;
		c->tls_write_wants_read = true;
		(void)conn_read_watch(c);   /* (or the error comes from the loop) */
		return 0;
	default:
		c->err = EPIPE;
		ERR_error_string_n(ERR_get_error(), tls_err, sizeof tls_err);
		ERR_clear_error();
		return -1;
	}
}

void conn_tls_read(struct conn *c)
{
	size_t got = 0;
	int calls = 0;
	bool eof = false, failed = false, yielded = false;
	for (;;) {
		if (got >= TLS_READ_BUDGET || calls++ == TLS_READ_CALLS) {
			yielded = true;
			break;
		}
		uint8_t *room = conn_in(c) ? buf_reserve(c->in, CONN_READ_SIZE) : NULL;
		if (!room) {
			c->err = ENOMEM;
			failed = true;
			break;
		}
		ERR_clear_error();
		int n = SSL_read(c->ssl, room, CONN_READ_SIZE);
		if (n > 0) {
			buf_commit(c->in, (size_t)n);
			got += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			failed = !conn_write_wait(c);
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
			eof = true;
			break;
		}
		ERR_error_string_n(ERR_get_error(), tls_err, sizeof tls_err);
		ERR_clear_error();
		c->err = EPROTO;
		failed = true;
		break;
	}
	/* What OpenSSL holds already, decrypted or still raw, wakes no socket:
	 * after a yield, it comes back at the end of this pass's queue */
	if (yielded && SSL_has_pending(c->ssl))
		loop_ev_active(c->rev, LOOP_READ);
	if (got)
		conn_dispatch(c, CONN_EV_READ);
	if (eof)
		conn_dispatch(c, CONN_EV_EOF);
	else if (failed)
		conn_dispatch(c, CONN_EV_ERROR);
}

void conn_tls_step(struct conn *c)
{
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->phase = CONN_OPEN;
		conn_write_unwait(c);
		if (!c->reading)
			loop_ev_del(c->rev);
		conn_dispatch(c, CONN_EV_TLS_READY);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_write_unwait(c);
		(void)conn_read_watch(c);
		return;
	case SSL_ERROR_WANT_WRITE:
		if (!conn_write_wait(c))
			conn_dispatch(c, CONN_EV_ERROR);
		return;
	default: {
		unsigned long e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, tls_err, sizeof tls_err);
		else
			snprintf(tls_err, sizeof tls_err, "connection closed during TLS handshake");
		long vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK)
			snprintf(tls_err, sizeof tls_err, "certificate verify failed: %s",
				 X509_verify_cert_error_string(vr));
		ERR_clear_error();
		c->err = EPROTO;
		conn_dispatch(c, CONN_EV_ERROR);
		return;
	}
	}
}

bool conn_tls_start(struct conn *c, struct ssl_ctx_st *ctx, bool accept, const char *host)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return false;
	if (accept) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (host && *host && host[0] != '/') {
			unsigned char addr[16];
			bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
			if (!is_ip)
				SSL_set_tlsext_host_name(c->ssl, host);
			if (SSL_get_verify_mode(c->ssl) & SSL_VERIFY_PEER) {
				X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
				if (is_ip)
					X509_VERIFY_PARAM_set1_ip_asc(vp, host);
				else
					X509_VERIFY_PARAM_set1_host(vp, host, 0);
			}
		}
	}
	c->phase = CONN_TLS;
	/* the loop drives every step: nothing is reported from here */
	if (accept) {
		(void)conn_read_watch(c);   /* (or the error comes from the loop) */
		return true;
	}
	return conn_write_wait(c);
}

const char *conn_tls_error(void)
{
	return tls_err[0] ? tls_err : "TLS error";
}
