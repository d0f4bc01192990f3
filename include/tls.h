/*
 * tls.h — OpenSSL contexts for both sides: accepting TLS from clients and
 * connecting with TLS to PostgreSQL. The handshake and record I/O live in
 * conn.c; this module owns the SSL_CTX objects and their configuration.
 *
 * INTERFACE ROUTINES
 *   tls_configure(cfg, err, errlen)   build both contexts from the
 *                                     configuration (re-reads key, cert and
 *                                     CA files); on failure the contexts in
 *                                     use are kept. Call again on SIGHUP.
 *   tls_accept_ctx()                  NULL when client TLS is disabled
 *   tls_connect_ctx(mode)             the context for a connection to
 *                                     PostgreSQL in that enum tls_mode
 *                                     (the entry's sslmode, else
 *                                     server_tls_sslmode); NULL for disable
 *   tls_shutdown()                    free them
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>
#include "compiler.h"

struct config;

bool tls_configure(const struct config *cfg, char *err, size_t errlen) MUST_CHECK;
SSL_CTX *tls_accept_ctx(void);
SSL_CTX *tls_connect_ctx(int mode);
void tls_shutdown(void);

#endif
