/*
 * client_startup.c — a client's first bytes: the startup packet, SSLRequest
 * and GSSENCRequest (each answered once), CancelRequest, the startup
 * parameters it may give, and the checks before authentication starts.
 * Part of the client module (client.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "cancel.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "proto.h"
#include "runtime.h"
#include "sqlstate.h"
#include "strpool.h"
#include "tls.h"
#include "varcache.h"


static void startup_refuse(struct client *c, const char *sqlstate, const char *why,
			   const struct pq_startup *st)
{
	if (!strcmp(why, "unsupported frontend protocol"))
		client_fail(c, sqlstate, "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
			    PQ_PROTO_MAJOR(st->version), PQ_PROTO_MINOR(st->version));
	else
		client_fail(c, sqlstate, "%s", why);
}

/* Answer SSLRequest with S and hand the socket to TLS. Bytes that came
 * behind the SSLRequest were sent before any encryption: they are never
 * read as protocol data, the connection is refused instead (as PostgreSQL
 * does since CVE-2021-23214). */
static void client_start_tls(struct client *c)
{
	if (conn_in_len(&c->conn) > 0) {
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "received unencrypted data after SSL request");
		return;
	}
	(void)conn_add(&c->conn, "S", 1);
	conn_send(&c->conn);
	if (conn_out_len(&c->conn) > 0 || !conn_tls_start(&c->conn, tls_accept_ctx(), true, NULL)) {
		client_close_logged(c, "could not start TLS", false, LOG_LVL_INFO);
		return;
	}
	client_log(c, LOG_LVL_DEBUG, "TLS handshake started");
}

static bool accept_params(struct client *c, const struct pq_startup *st)
{
	const struct config *cfg = rt.cfg;
	for (size_t i = 0; i < st->nparams; i++) {
		const char *name = st->params[i].name, *value = st->params[i].value;
		if (varcache_set(&c->vars, name, value))
			continue;
		if (config_list_has(cfg->ignore_startup_parameters, name))
			continue;
		if (!strcmp(name, "options") && !*value)
			continue;
		if (!strcmp(name, "replication")) {
			client_fail(c, SQLSTATE_FEATURE_NOT_SUPPORTED,
				    "replication connections are not supported by sluice");
			return false;
		}
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "unsupported startup parameter: %s", name);
		return false;
	}
	return true;
}

static void client_on_startup_packet(struct client *c, const uint8_t *pkt, uint32_t len)
{
	struct pq_startup st;
	const char *why, *sqlstate;
	if (!proto_parse_startup(pkt, len, &st, &why, &sqlstate)) {
		startup_refuse(c, sqlstate, why, &st);
		return;
	}
	switch (st.kind) {
	case STARTUP_SSL:
		/* unix sockets never do TLS (PostgreSQL answers N there too) */
		if (tls_accept_ctx() && !c->conn.ssl && c->peer.sa.sa_family != AF_UNIX) {
			c->negotiations |= NEGOTIATED_SSL;
			client_start_tls(c);
			return;
		}
		/* no TLS here: answer N */
		__attribute__((fallthrough));
	case STARTUP_GSSENC:
		/* No TLS or GSSAPI yet: say no; the client goes on in plaintext
		 * with a fresh startup packet on the same socket. PostgreSQL
		 * answers each kind once; a repeat is a protocol error. */
		if (c->negotiations & (st.kind == STARTUP_GSSENC ? NEGOTIATED_GSSENC : NEGOTIATED_SSL)) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
				    PQ_PROTO_MAJOR(st.version), PQ_PROTO_MINOR(st.version));
			return;
		}
		c->negotiations |= st.kind == STARTUP_GSSENC ? NEGOTIATED_GSSENC : NEGOTIATED_SSL;
		(void)conn_add(&c->conn, "N", 1);
		conn_send(&c->conn);
		return;
	case STARTUP_CANCEL:
		/* at DEBUG: a client may send thousands a second */
		cancel_request(st.cancel_pid, st.cancel_key);
		client_close_logged(c, "cancel request handled", false, LOG_LVL_DEBUG);
		return;
	default:
		break;
	}
	if (!c->conn.ssl && rt.cfg->client_tls_sslmode >= TLS_REQUIRE && c->peer.sa.sa_family != AF_UNIX) {
		client_fail(c, SQLSTATE_INVALID_AUTHORIZATION,
			    "TLS is required: connect with sslmode=require or stronger");
		return;
	}
	/* as PostgreSQL does: a 9 KB name costs 63 bytes from here on */
	char user[PQ_NAME_MAX + 1], db_name[PQ_NAME_MAX + 1];
	proto_clip_name(st.user, user);
	proto_clip_name(st.database, db_name);
	c->user = strpool_get(user);
	c->db_name = strpool_get(db_name);
	if (!c->user || !c->db_name) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return;
	}
	if (!accept_params(c, &st))
		return;
	if (proto_needs_negotiate(&st)) {
		struct pq_writer w;
		pq_writer_init(&w);
		proto_build_negotiate(&w, PQ_PROTO(3, PQ_PROTO_LATEST_MINOR), st.pq_options,
				      st.npq_options);
		if (pq_writer_ok(&w))
			(void)conn_add(&c->conn, w.buf, w.len);
		pq_writer_free(&w);
	}
	/* counted at login (client_login_done); refused here already when
	 * it could not be, to spare the work of authenticating it */
	if (rt.nclients >= rt.cfg->max_client_conn) {
		client_fail(c, SQLSTATE_TOO_MANY_CONNECTIONS, "sorry, too many clients already");
		return;
	}
	client_log(c, LOG_LVL_DEBUG, "startup packet accepted");
	client_set_state(c, CL_AUTH);
	client_auth_start(c);
}

void client_on_startup(struct client *c)
{
	while (c->state == CL_STARTUP) {
		uint8_t hdr[4];
		uint32_t len;
		size_t avail = evbuffer_get_length(c->conn.in);
		if (avail < 4)
			return;
		evbuffer_copyout(c->conn.in, hdr, 4);
		enum pq_frame f = proto_frame_startup(hdr, 4, &len);
		if (f == PQ_FRAME_BAD) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid length of startup packet");
			return;
		}
		if (avail < len)
			return;
		uint8_t *pkt = malloc(len);
		if (!pkt) {
			client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		evbuffer_remove(c->conn.in, pkt, len);
		client_on_startup_packet(c, pkt, len);   /* keeps copies of what it needs */
		free(pkt);
	}
}

