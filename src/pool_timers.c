/*
 * pool_timers.c — server_lifetime, server_idle_timeout, server_check_delay.
 *
 * server_lifetime = 0 means each server is used once (PgBouncer's meaning).
 * An idle server arms its own timer for whichever limit comes first; the
 * timer re-checks and either closes the server or re-arms. Servers at or
 * below min_pool_size are not closed for idleness.
 */
#include "config.h"
#include "pool.h"
#include "pool_timers.h"
#include "runtime.h"
#include "server.h"

static double min_positive(double a, double b)
{
	if (a <= 0) return b;
	if (b <= 0) return a;
	return a < b ? a : b;
}

static bool idle_closable(const struct server *s)
{
	return s->pool->nservers > s->pool->min_pool_size;
}

bool timers_server_expired(const struct server *s)
{
	/* 0 means use once, as in PgBouncer: never before the first use */
	double life = rt.cfg->server_lifetime;
	return life > 0 ? rt_now() - s->created >= life : s->used;
}

bool timers_server_needs_check(const struct server *s)
{
	const struct config *cfg = rt.cfg;
	return cfg->server_check_query && *cfg->server_check_query &&
	       rt_now() - s->idle_since >= cfg->server_check_delay;
}

void timers_server_idle(struct server *s)
{
	const struct config *cfg = rt.cfg;
	double now = rt_now(), delay = 0;
	if (cfg->server_lifetime > 0)
		delay = min_positive(delay, s->created + cfg->server_lifetime - now);
	if (cfg->server_idle_timeout > 0 && idle_closable(s))
		delay = min_positive(delay, s->idle_since + cfg->server_idle_timeout - now);
	if (delay != 0 && delay < 0.001)
		delay = 0.001;
	/* armed in an earlier idle period and due sooner: it fires early,
	 * and timers_server_fire arms it again for what is left */
	conn_timer_by(&s->conn, delay);
}

void timers_server_fire(struct server *s)
{
	const struct config *cfg = rt.cfg;
	if (timers_server_expired(s)) {
		server_close(s, "server_lifetime reached");
		return;
	}
	if (cfg->server_idle_timeout > 0 && idle_closable(s) &&
	    rt_now() - s->idle_since >= cfg->server_idle_timeout) {
		server_close(s, "server_idle_timeout reached");
		return;
	}
	timers_server_idle(s);
}
