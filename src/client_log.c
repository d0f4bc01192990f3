/*
 * client_log.c — a client's log lines: login, disconnect, pooler errors
 * (log_connections, log_disconnections, log_pooler_errors), and the limit
 * on lines about peers that have not logged in. Part of the client module
 * (client.c).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include <openssl/ssl.h>

#include "client.h"
#include "config.h"
#include "log.h"
#include "log_limit.h"
#include "runtime.h"

/* ---- log lines of the connection's life (log_connections,
 * log_disconnections, log_pooler_errors): at LOG when on, else DEBUG.
 * Those of clients that never logged in are limited per peer address
 * (log_limit.h): a peer opening connections as fast as it can must not
 * write the log at the same rate. ---- */

static bool before_login(const struct client *c)
{
	return client_state_before_login(c->state);
}

/* A peer's address without its port: "10.0.0.5", "::1", "unix". */
static void sa_host(const struct sockaddr *sa, char *out, size_t n)
{
	snprintf(out, n, "unix");
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)n);
}

static void say_untold(int lvl, const char *host, uint64_t n)
{
	const struct log_event ev = { "log_suppressed", NULL, NULL, 0 };
	log_write_at(lvl, NULL, &ev, "%" PRIu64 " more like this from %s suppressed "
		     "(before login, at most %d lines a second per address)", n, host, LOG_LIMIT_BURST);
}

/* May a line about a peer that has not logged in be written? Its address
 * has LOG_LIMIT_BURST a second, all such peers LOG_LIMIT_GLOBAL_BURST. */
bool client_log_allowed_addr(const struct sockaddr *sa, int lvl)
{
	char host[LOG_LIMIT_ADDR_LEN], gone[LOG_LIMIT_ADDR_LEN];
	uint64_t untold, g_untold;
	sa_host(sa, host, sizeof host);
	bool ok = log_limit_take(host, rt_now(), &untold);
	uint64_t lost = log_limit_evicted(gone, sizeof gone);
	if (ok && !log_limit_take_global(rt_now(), untold + lost, &g_untold))
		return false;   /* counted there, with what this address had to say */
	if (!ok) {
		if (lost && log_limit_take_global(rt_now(), 0, &g_untold))
			say_untold(lvl, gone, lost);   /* its slot went to another address */
		return false;
	}
	if (g_untold)
		log_limit_say_untold_global(lvl, g_untold);
	if (lost)
		say_untold(lvl, gone, lost);   /* its slot went to another address */
	if (untold)
		say_untold(lvl, host, untold);
	return true;
}

static bool log_allowed(const struct client *c, int lvl)
{
	return client_log_allowed_addr(&c->peer.sa, lvl);
}

/* client_log for lines a peer can cause before it logs in (a failed TLS
 * handshake, a verifier it cannot be checked against): limited as above. */
void client_log_peer(struct client *c, int lvl, const char *fmt, ...)
{
	if (!log_on(lvl))
		return;
	if (lvl < LOG_LVL_DEBUG && before_login(c) && !log_allowed(c, lvl))
		return;
	char msg[1024], addr[CLIENT_ADDR_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct log_who who = client_who(c, addr);
	log_write_at(lvl, &who, NULL, "%s", msg);
}

static void log_client_event(struct client *c, bool on, int lvl_on, const char *event,
			     const char *reason, const struct log_kv *kv, size_t nkv, const char *msg)
{
	int lvl = on ? lvl_on : LOG_LVL_DEBUG;
	if (!log_on(lvl))
		return;
	if (lvl < LOG_LVL_DEBUG && before_login(c) && !log_allowed(c, lvl))
		return;
	char addr[CLIENT_ADDR_LEN];
	struct log_who who = client_who(c, addr);
	struct log_event ev = { event, reason, kv, nkv };
	log_write_at(lvl, &who, &ev, "%s", msg);
}

void client_log_login(struct client *c)
{
	const struct log_kv kv[] = {
		{ "tls", c->conn.ssl ? SSL_get_version(c->conn.ssl) : "no" },
		{ "gate_bypass", c->bypass ? "yes" : NULL },
	};
	log_client_event(c, rt.cfg->log_connections, LOG_LVL_INFO, "login", NULL,
			 kv, ARRAY_SIZE(kv), "login ok");
}

void client_log_error(struct client *c, const char *sqlstate, const char *msg)
{
	const struct log_kv kv[] = { { "sqlstate", sqlstate } };
	log_client_event(c, rt.cfg->log_pooler_errors, LOG_LVL_WARN, "pooler_error", msg,
			 kv, ARRAY_SIZE(kv), "pooler error");
}

/* lvl_on: the level when log_disconnections is on (cancel requests:
 * DEBUG, one connection per cancel) */
void client_log_disconnect(struct client *c, const char *reason, int lvl_on)
{
	if (!log_on(rt.cfg->log_disconnections ? lvl_on : LOG_LVL_DEBUG))
		return;   /* (before formatting the age: every connection ends here) */
	char age[32];
	snprintf(age, sizeof age, "%.3fs", rt_now() - c->connected_at);
	const struct log_kv kv[] = { { "age", age } };
	log_client_event(c, rt.cfg->log_disconnections, lvl_on, "disconnect", reason,
			 kv, ARRAY_SIZE(kv), "closing");
}

