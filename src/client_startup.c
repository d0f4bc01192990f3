/*
 * client_startup.c — a client's first bytes: the startup packet, SSLRequest
 * and GSSENCRequest (each answered once), CancelRequest, the startup
 * parameters it may give, and the checks before authentication starts.
 * Part of the client module (client.c).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>


#include "cancel.h"
#include "client.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "proto.h"
#include "runtime.h"
#include "server.h"
#include "sqlstate.h"
#include "startup_set.h"
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

static bool add_refused(struct client *c, enum startup_add r)
{
	switch (r) {
	case STARTUP_ADD_OK:
		return false;
	case STARTUP_ADD_TOO_MANY:
		client_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED, "too many startup parameters (at most %d settings)",
			    STARTUP_SET_PARAMS_MAX);
		break;
	case STARTUP_ADD_TOO_LONG:
		client_fail(c, SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
			    "startup parameters too long (at most %d bytes of names and values)",
			    STARTUP_SET_BYTES_MAX);
		break;
	case STARTUP_ADD_BAD_OPTIONS:
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION,
			    "unsupported startup parameter: options (sluice passes only -c name=value settings)");
		break;
	case STARTUP_ADD_NOMEM:
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		break;
	}
	return true;
}

/* Startup parameters that PostgreSQL takes as settings and sluice passes
 * to the servers opened for the client (session mode; in transaction
 * mode only tracked ones, see client_startup_settle). */
static bool settable(const char *name)
{
	return varcache_index(name) >= 0 || !strcmp(name, "search_path") ||
	       !strcmp(name, "extra_float_digits");
}

static bool accept_params(struct client *c, const struct pq_startup *st)
{
	const struct config *cfg = rt.cfg;
	const char *options = NULL;
	struct startup_builder b;
	startup_builder_init(&b);
	for (size_t i = 0; i < st->nparams; i++) {
		const char *name = st->params[i].name, *value = st->params[i].value;
		if (settable(name)) {
			if (add_refused(c, startup_builder_add(&b, name, value, false)))
				goto refused;
			continue;
		}
		if (!strcmp(name, "options")) {
			options = value;   /* applied first by PostgreSQL: taken after the rest */
			continue;
		}
		if (config_list_has(cfg->ignore_startup_parameters, name))
			continue;
		if (!strcmp(name, "replication")) {
			client_fail(c, SQLSTATE_FEATURE_NOT_SUPPORTED,
				    "replication connections are not supported by sluice");
			goto refused;
		}
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "unsupported startup parameter: %s", name);
		goto refused;
	}
	if (options && *options) {
		enum startup_add r = startup_builder_add_options(&b, options);
		if (r == STARTUP_ADD_BAD_OPTIONS && config_list_has(cfg->ignore_startup_parameters, "options")) {
			for (unsigned i = b.n; i-- > 0;)   /* as before: ignored whole */
				if (b.p[i].from_options)
					startup_builder_remove(&b, b.p[i].name);
		} else if (add_refused(c, r)) {
			goto refused;
		}
	}
	/* the client's values of tracked parameters, until the welcome
	 * replaces them with PostgreSQL's spelling */
	for (unsigned i = 0; i < b.n; i++)
		(void)varcache_set(&c->vars, b.p[i].name, b.p[i].value);
	bool ok = startup_set_unshared(&b, &c->set);
	startup_builder_free(&b);
	if (!ok)
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
	return ok;
refused:
	startup_builder_free(&b);
	return false;
}

/* Transaction and statement pooling keep in step only the parameters
 * sluice tracks: others (search_path, extra_float_digits, -c settings)
 * are ignored when ignore_startup_parameters names them, else refused. */
struct settle {
	bool session;
	const char *refused;
};

static bool keep_in_pool(const struct startup_pair *pr, void *arg)
{
	struct settle *st = arg;
	/* application_name differs per client too often to key shared
	 * servers by it: outside session mode it is SET per link. In
	 * session mode a server serves one session at a time, and opened
	 * with it, RESET ALL goes back to it as on PostgreSQL. */
	if (!strcmp(pr->name, "application_name"))
		return st->session;
	if (st->session || varcache_index(pr->name) >= 0)
		return true;
	const char *as = pr->from_options ? "options" : pr->name;
	if (!config_list_has(rt.cfg->ignore_startup_parameters, as) && !st->refused)
		st->refused = as;
	return false;
}

bool client_startup_settle(struct client *c)
{
	struct pool *p = c->pool;
	struct settle st = { p->mode == POOL_SESSION, NULL };
	struct startup_set *set;
	if (!startup_set_filter(c->set, keep_in_pool, &st, &set)) {
		client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
		return false;
	}
	startup_set_put(c->set);
	c->set = set;
	if (st.refused) {
		client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "unsupported startup parameter: %s", st.refused);
		return false;
	}
	/* parameters the client did not give take the pool's defaults, where
	 * known (pool_defaults_known: else its server tells, at the welcome) */
	uint32_t mine = startup_set_tracked(set);
	int count = varcache_count();
	for (int i = 0; i < count; i++)
		if (!(mine & (1u << i)) && !varcache_get(&c->vars, i) && varcache_get(&p->defaults, i))
			varcache_set_held(&c->vars, i, varcache_get(&p->defaults, i));
	return true;
}

bool client_startup_known(const struct client *c)
{
	return c->pool->have_welcome && pool_defaults_known(c->pool, c->set) &&
	       (!c->set || c->set->canon_known || !startup_set_tracked(c->set));
}

/* The value a welcome's ParameterStatus gives: what its server reports
 * when it is linked and set up, else PostgreSQL's spelling of the client's
 * own value or the pool's default. The client believes it from now on. */
const char *client_welcome_value(struct client *c, int vi, const char *listed)
{
	if (vi < 0)
		return listed;
	/* Its own startup values in PostgreSQL's spelling: known once a
	 * server of its set has logged in, or read from the server it is
	 * linked to, once its values are SET there. Else its own as given
	 * (application_name outside session mode, not part of a set), else
	 * the pool's defaults: never a linked server's value of a parameter
	 * the client did not give, which may be another client's SET. */
	const char *v = NULL;
	if (startup_set_tracked(c->set) & (1u << vi)) {
		v = varcache_get(&c->set->canon, vi);
		if (!v && c->server && !c->pool->internal)
			v = varcache_get(&c->server->vars, vi);
	} else if (!varcache_get(&c->vars, vi)) {
		v = varcache_get(&c->pool->defaults, vi);
	}
	if (v) {   /* another varcache's: a strpool string */
		varcache_set_held(&c->vars, vi, v);
		return v;
	}
	v = varcache_get(&c->vars, vi) ? varcache_get(&c->vars, vi) : listed;
	(void)varcache_set_index(&c->vars, vi, v);
	return varcache_get(&c->vars, vi) ? varcache_get(&c->vars, vi) : v;
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
	case STARTUP_CANCEL: {
		/* at DEBUG: a client may send thousands a second; a cancel
		 * dropped on its way to a peer is a WARNING, limited per sender */
		char dropped[256];
		if (!cancel_request(st.cancel_pid, st.cancel_key, dropped, sizeof dropped))
			client_log_peer(c, LOG_LVL_WARN, "%s", dropped);
		client_close_logged(c, "cancel request handled", false, LOG_LVL_DEBUG);
		return;
	}
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
		size_t avail = conn_in_len(&c->conn);
		if (avail < 4)
			return;
		buf_copyout(c->conn.in, hdr, 4);
		enum pq_frame f = proto_frame_startup(hdr, 4, &len);
		if (f == PQ_FRAME_BAD) {
			client_fail(c, SQLSTATE_PROTOCOL_VIOLATION, "invalid length of startup packet");
			return;
		}
		if (avail < len)
			return;
		/* a login's packet is some 100 bytes: on the stack, no malloc */
		uint8_t room[512];
		uint8_t *pkt = len <= sizeof room ? room : malloc(len);
		if (!pkt) {
			client_fail(c, SQLSTATE_OUT_OF_MEMORY, "out of memory");
			return;
		}
		buf_remove(c->conn.in, pkt, len);
		client_on_startup_packet(c, pkt, len);   /* keeps copies of what it needs */
		if (pkt != room)
			free(pkt);
	}
}

