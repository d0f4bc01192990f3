/*
 * server_login.c — logging in to PostgreSQL: startup packet, the password
 * exchange (cleartext, md5, SCRAM-SHA-256), then ParameterStatus,
 * BackendKeyData and ReadyForQuery.
 *
 * The password comes from the database entry, else from auth_file for the
 * server user. Every message from the server is length-checked by the
 * caller and parsed through proto.c here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "config.h"
#include "log.h"
#include "md5auth.h"
#include "pool_types.h"
#include "proto.h"
#include "runtime.h"
#include "scram.h"
#include "server.h"
#include "sqlstate.h"
#include "startup_set.h"
#include "userlist.h"

/* What a server may say about itself before its first ReadyForQuery (the
 * pool keeps the first greeting and sends it to every client that logs
 * in). PostgreSQL 15 sends 13 ParameterStatus messages (16 and 17 add
 * scram_iterations), none over 64 bytes; names are below NAMEDATALEN.
 * Beyond these bounds the login fails (doc/security.md). */
#define LOGIN_PARAMS_MAX       64           /* ParameterStatus messages */
#define LOGIN_PARAM_NAME_MAX   63           /* bytes, NAMEDATALEN - 1 */
#define LOGIN_PARAM_VALUE_MAX  1024         /* bytes */
#define LOGIN_PARAM_BYTES_MAX  (16 * 1024)  /* all names and values */

struct server_login {
	struct scram_client_state scram;
	unsigned nparams;         /* ParameterStatus so far, and their bytes */
	size_t param_bytes;
	bool scram_started;
	bool scram_verified;
	bool scram_keys;          /* pass-through: keys a client proved */
	uint8_t client_key[SCRAM_KEY_LEN], server_key[SCRAM_KEY_LEN];
};

static const char *server_secret(const struct server *s, int *kind)
{
	const struct pool_target *t = &s->pool->target;
	if (t->password) {
		*kind = userlist_secret_kind(t->password);
		return t->password;
	}
	const struct user_entry *u = rt.cfg->users ? userlist_find(rt.cfg->users, t->user) : NULL;
	if (!u) {
		/* a user known through auth_query: its verifier, for pass-through */
		const char *v = server_owner->known_secret(t->user);
		if (v)
			*kind = SECRET_SCRAM;
		return v;
	}
	*kind = u->kind;
	return u->secret;
}

static void send_writer(struct server *s, struct pq_writer *w)
{
	if (pq_writer_ok(w))
		buf_add(s->conn.out, w->buf, w->len);
	pq_writer_free(w);
	conn_send(&s->conn);
}

bool server_login_start(struct server *s)
{
	s->login = calloc(1, sizeof *s->login);
	if (!s->login)
		return false;
	struct pq_param params[2 + STARTUP_SET_PARAMS_MAX] = {
		{ "user", s->pool->target.user },
		{ "database", s->pool->target.dbname },
	};
	/* the client's startup settings: PostgreSQL keeps them as the
	 * session's reset values (startup_set.h) */
	size_t n = 2;
	for (unsigned i = 0; s->set && i < s->set->n; i++)
		params[n++] = (struct pq_param){ s->set->pairs[i].name, s->set->pairs[i].value };
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_startup(&w, params, n);
	bool ok = pq_writer_ok(&w);
	send_writer(s, &w);
	return ok;
}

void server_login_free(struct server *s)
{
	if (s->login) {
		memset(s->login, 0, sizeof *s->login);   /* no key material left behind */
		free(s->login);
	}
	s->login = NULL;
}

/* log_connections: one line per server connection logged in */
static void log_login(const struct server *s)
{
	int lvl = rt.cfg->log_connections ? LOG_LVL_INFO : LOG_LVL_DEBUG;
	if (!log_on(lvl) || !server_log_ok(s, lvl))
		return;
	char pid[16];
	snprintf(pid, sizeof pid, "%u", s->backend_pid);
	const struct log_kv kv[] = {
		{ "backend_pid", pid },
		{ "tls", s->conn.ssl ? SSL_get_version(s->conn.ssl) : "no" },
	};
	struct log_event ev = { "server_login", NULL, kv, ARRAY_SIZE(kv) };
	struct log_who who = server_who(s);
	log_write_at(lvl, &who, &ev, "new server connection");
}

/* PostgreSQL refused a setting of the startup set (an invalid value, an
 * unknown name, one the user may not set): the fault of the clients that
 * gave it, not of the database. */
static bool setting_refused(const struct server *s, const char *sqlstate)
{
	return s->set && s->state == SV_LOGIN &&
	       (!strncmp(sqlstate, "22", 2) || !strncmp(sqlstate, "42", 2) || !strncmp(sqlstate, "55", 2));
}

bool server_login_fail(struct server *s, const char *sqlstate, const char *msg)
{
	struct pool *p = s->pool;
	bool refused = setting_refused(s, sqlstate);
	struct startup_set *set = startup_set_ref(s->set);
	server_log(s, refused ? LOG_LVL_INFO : LOG_LVL_WARN, "login failed: %s", msg);
	server_close(s, "login failed");
	if (refused)
		server_pool->set_refused(p, set, sqlstate, msg);
	else
		server_pool->login_failed(p, sqlstate, msg);
	startup_set_put(set);
	return false;
}

static bool need_plain(struct server *s, const char **pw)
{
	int kind = SECRET_PLAIN;
	const char *secret = server_secret(s, &kind);
	if (!secret || kind != SECRET_PLAIN) {
		char msg[256];
		snprintf(msg, sizeof msg, "no plain-text password for server user \"%s\" to log in with",
			 s->pool->target.user);
		return server_login_fail(s, SQLSTATE_INVALID_PASSWORD, msg);
	}
	*pw = secret;
	return true;
}

/* One switch over the authentication requests PostgreSQL may send (ok,
 * cleartext, md5, SASL, SASL continue and final): long, and clearer as
 * one place where each request and its answer sit side by side. */
static bool on_auth(struct server *s, const uint8_t *body, size_t len)
{
	uint32_t code;
	const uint8_t *data;
	size_t dlen;
	struct pq_writer w;
	const char *pw = NULL;   /* need_plain sets it */
	char buf[512];

	if (!proto_parse_auth(body, len, &code, &data, &dlen))
		return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
					 "invalid authentication request from server");
	pq_writer_init(&w);
	switch (code) {
	case PQ_AUTH_OK:
		if (s->login->scram_started && !s->login->scram_verified)
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
						 "server skipped the end of the SCRAM exchange");
		return true;
	case PQ_AUTH_CLEARTEXT:
		if (!need_plain(s, &pw))
			return false;
		proto_build_password(&w, pw);
		send_writer(s, &w);
		return true;
	case PQ_AUTH_MD5: {
		int kind = SECRET_PLAIN;
		const char *secret = server_secret(s, &kind);
		char resp[MD5AUTH_LEN + 1];
		if (!secret || kind == SECRET_SCRAM) {
			snprintf(buf, sizeof buf, "no password usable for md5 for server user \"%s\"",
				 s->pool->target.user);
			return server_login_fail(s, SQLSTATE_INVALID_PASSWORD, buf);
		}
		if (!md5auth_response(secret, s->pool->target.user, data, resp))
			return server_login_fail(s, SQLSTATE_INTERNAL_ERROR, "md5 failed");
		proto_build_password(&w, resp);
		send_writer(s, &w);
		return true;
	}
	case PQ_AUTH_SASL: {
		bool found = false;
		for (size_t off = 0; off < dlen && data[off];) {
			const char *mech = (const char *)data + off;
			size_t n = strnlen(mech, dlen - off);
			if (n == strlen("SCRAM-SHA-256") && !memcmp(mech, "SCRAM-SHA-256", n))
				found = true;
			off += n + 1;
		}
		if (!found)
			return server_login_fail(s, SQLSTATE_FEATURE_NOT_SUPPORTED,
						 "server offers no SASL mechanism sluice supports");
		int kind = SECRET_PLAIN;
		const char *secret = server_secret(s, &kind);
		if (secret && kind == SECRET_SCRAM) {
			/* SCRAM pass-through: no password, but the keys a client
			 * proved against the same verifier log us in */
			struct server_login *l = s->login;
			if (!server_owner->scram_keys(s->pool->target.user, secret, l->client_key, l->server_key)) {
				snprintf(buf, sizeof buf, "no SCRAM keys for server user \"%s\" yet: "
					 "a client must log in with SCRAM first", s->pool->target.user);
				return server_login_fail(s, SQLSTATE_INVALID_PASSWORD, buf);
			}
			l->scram_keys = true;
		} else if (!need_plain(s, &pw)) {
			return false;
		}
		if (!scram_client_first(&s->login->scram, buf, sizeof buf))
			return server_login_fail(s, SQLSTATE_INTERNAL_ERROR, "SCRAM failed");
		s->login->scram_started = true;
		proto_build_sasl_initial(&w, "SCRAM-SHA-256", buf, strlen(buf));
		send_writer(s, &w);
		return true;
	}
	case PQ_AUTH_SASL_CONTINUE: {
		struct server_login *l = s->login;
		if (!l->scram_started)
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION, "unexpected SASL message");
		bool built;
		if (l->scram_keys) {
			built = scram_client_final_keys(&l->scram, l->client_key, l->server_key,
							(const char *)data, dlen, buf, sizeof buf);
		} else {
			if (!need_plain(s, &pw))
				return false;
			built = scram_client_final(&l->scram, pw, (const char *)data, dlen, buf, sizeof buf);
		}
		if (!built && !l->scram_keys && l->scram.iterations > SCRAM_CLIENT_ITER_MAX) {
			snprintf(buf, sizeof buf, "server asks for %d SCRAM iterations, more than sluice "
				 "computes (%d)", l->scram.iterations, SCRAM_CLIENT_ITER_MAX);
			return server_login_fail(s, SQLSTATE_PROGRAM_LIMIT_EXCEEDED, buf);
		}
		if (!built)
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
						 "invalid SCRAM message from server");
		proto_build_sasl_response(&w, buf, strlen(buf));
		send_writer(s, &w);
		return true;
	}
	case PQ_AUTH_SASL_FINAL:
		if (!s->login->scram_started ||
		    !scram_client_verify(&s->login->scram, (const char *)data, dlen))
			return server_login_fail(s, SQLSTATE_INVALID_PASSWORD,
						 "server's SCRAM signature is wrong");
		s->login->scram_verified = true;
		return true;
	default:
		snprintf(buf, sizeof buf, "server asks for unsupported authentication method %u", code);
		return server_login_fail(s, SQLSTATE_FEATURE_NOT_SUPPORTED, buf);
	}
}

/* A ParameterStatus during login, against the LOGIN_PARAM* bounds. */
static bool param_within_bounds(struct server *s, const char *name, const char *value)
{
	struct server_login *l = s->login;
	size_t nlen = strlen(name), vlen = strlen(value);
	char msg[256];
	l->param_bytes += nlen + vlen;
	if (++l->nparams > LOGIN_PARAMS_MAX)
		snprintf(msg, sizeof msg, "server sent more than %d ParameterStatus messages while logging in",
			 LOGIN_PARAMS_MAX);
	else if (nlen > LOGIN_PARAM_NAME_MAX)
		snprintf(msg, sizeof msg, "server sent a ParameterStatus name of %zu bytes while logging in "
			 "(at most %d)", nlen, LOGIN_PARAM_NAME_MAX);
	else if (vlen > LOGIN_PARAM_VALUE_MAX)
		snprintf(msg, sizeof msg, "server sent a ParameterStatus value of %zu bytes for \"%s\" while "
			 "logging in (at most %d)", vlen, name, LOGIN_PARAM_VALUE_MAX);
	else if (l->param_bytes > LOGIN_PARAM_BYTES_MAX)
		snprintf(msg, sizeof msg, "server sent more than %d bytes of ParameterStatus while logging in",
			 LOGIN_PARAM_BYTES_MAX);
	else
		return true;
	return server_login_fail(s, SQLSTATE_PROGRAM_LIMIT_EXCEEDED, msg);
}

bool server_login_message(struct server *s, char type, const uint8_t *body, size_t len)
{
	switch (type) {
	case 'R':
		return on_auth(s, body, len);
	case 'S': {
		const char *name, *value;
		if (!proto_parse_param_status(body, len, &name, &value))
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
						 "invalid ParameterStatus from server");
		if (!param_within_bounds(s, name, value))
			return false;
		param_list_add(&s->login_params, name, value);
		(void)varcache_set(&s->vars, name, value);
		return true;
	}
	case 'K':
		if (!proto_parse_backend_key(body, len, &s->backend_pid, &s->backend_key))
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
						 "invalid BackendKeyData from server");
		return true;
	case 'E': {
		struct pq_error_fields f;
		if (!proto_parse_error(body, len, &f))
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
						 "invalid ErrorResponse from server");
		return server_login_fail(s, f.sqlstate, f.message);
	}
	case 'N':
	case 'v':
		return true;
	case 'Z':
		if (!proto_parse_ready(body, len, &s->txn_status))
			return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
						 "invalid ReadyForQuery from server");
		server_login_free(s);
		conn_timer(&s->conn, 0);
		log_login(s);
		server_pool->learned(s);
		param_list_free(&s->login_params);
		server_pool->ready(s);
		return true;
	default:
		return server_login_fail(s, SQLSTATE_PROTOCOL_VIOLATION,
					 "unexpected message from server during login");
	}
}
