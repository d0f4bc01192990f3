/*
 * stats.c — per-database counters, their averages per stats_period, and
 * the histogram of client waits for a server.
 *
 * Counters only ever grow; a timer closes a period every stats_period
 * seconds and turns the growth since the last one into averages, as
 * PgBouncer does, so SHOW STATS_AVERAGES shows the last complete period.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "loop.h"
#include "runtime.h"
#include "stats.h"

const double stats_wait_bounds[STATS_WAIT_NBOUNDS] = {
	0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120,
};

static struct list dbs = { &dbs, &dbs };   /* struct stats_db, by name */
static struct loop_ev *tick_ev;
static double period_began;

static uint64_t usec(double seconds)
{
	return seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
}

struct stats_db *stats_db_get(const char *name)
{
	struct list *at = &dbs;
	for (struct list *it = dbs.next; it != &dbs; it = it->next) {
		struct stats_db *d = list_entry(it, struct stats_db, node);
		int cmp = strcmp(d->name, name);
		if (cmp == 0)
			return d;
		if (cmp > 0) {
			at = it;
			break;
		}
	}
	struct stats_db *d = calloc(1, sizeof *d);
	if (!d || !(d->name = strdup(name))) {
		free(d);
		return NULL;
	}
	list_insert_between(&d->node, at->prev, at);
	return d;
}

void stats_db_forget(struct stats_db *d)
{
	if (!d)
		return;
	list_del_init(&d->node);
	free(d->name);
	free(d);
}

struct stats_db *stats_db_next(const struct stats_db *d)
{
	const struct list *it = d ? d->node.next : dbs.next;
	return it == &dbs ? NULL : list_entry(it, struct stats_db, node);
}

void stats_client_bytes(struct stats_clock *k, struct stats_db *d, size_t n)
{
	d->total.recv_bytes += n;
	if (k->query_start == 0) {
		k->query_start = rt_now();
		if (k->xact_start == 0)
			k->xact_start = k->query_start;
	}
}

/* `more`: the client has sent work the server has not answered yet, so
 * the next query starts now. */
void stats_ready(struct stats_clock *k, struct stats_db *d, char status, bool more)
{
	double now = rt_now();
	d->total.query_count++;
	if (k->query_start > 0)
		d->total.query_us += usec(now - k->query_start);
	k->query_start = more ? now : 0;
	if (status != 'I')
		return;
	d->total.xact_count++;
	if (k->xact_start > 0)
		d->total.xact_us += usec(now - k->xact_start);
	k->xact_start = k->query_start;
}

void stats_wait(struct stats_db *d, double seconds)
{
	size_t b = 0;
	while (b < STATS_WAIT_NBOUNDS && seconds > stats_wait_bounds[b])
		b++;
	d->wait_bucket[b]++;
	d->wait_count++;
	d->total.wait_us += usec(seconds);
}

static uint64_t per_second(uint64_t n, double secs)
{
	return (uint64_t)((double)n / secs);
}

static void average(struct stats_counters *avg, const struct stats_counters *now,
		    const struct stats_counters *then, double secs)
{
	uint64_t xacts = now->xact_count - then->xact_count;
	uint64_t queries = now->query_count - then->query_count;
	avg->xact_count = per_second(xacts, secs);
	avg->query_count = per_second(queries, secs);
	avg->recv_bytes = per_second(now->recv_bytes - then->recv_bytes, secs);
	avg->sent_bytes = per_second(now->sent_bytes - then->sent_bytes, secs);
	avg->xact_us = xacts ? (now->xact_us - then->xact_us) / xacts : 0;
	avg->query_us = queries ? (now->query_us - then->query_us) / queries : 0;
	avg->wait_us = per_second(now->wait_us - then->wait_us, secs);
}

void stats_period_tick(double now)
{
	double secs = now - period_began;
	if (secs <= 0)
		return;
	for (struct list *it = dbs.next; it != &dbs; it = it->next) {
		struct stats_db *d = list_entry(it, struct stats_db, node);
		average(&d->avg, &d->total, &d->mark, secs);
		d->mark = d->total;
	}
	period_began = now;
}

static void arm(void)
{
	struct timeval tv = { rt.cfg->stats_period, 0 };
	loop_ev_add(tick_ev, &tv);
}

static void tick_cb(int fd, short what, void *arg)
{
	stats_period_tick(rt_now());
	arm();   /* again with the stats_period in force now */
}

bool stats_start(void)
{
	tick_ev = loop_timer_new(tick_cb, NULL);
	if (!tick_ev)
		return false;
	period_began = rt_now();
	arm();
	return true;
}

void stats_stop(void)
{
	if (tick_ev)
		loop_ev_free(tick_ev);
	tick_ev = NULL;
	while (!list_empty(&dbs))
		stats_db_forget(list_entry(list_first(&dbs), struct stats_db, node));
}
