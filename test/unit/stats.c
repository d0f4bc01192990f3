/*
 * stats.t — the counters' meanings (queries, transactions, pipelining),
 * the wait histogram's buckets, averages per period, and the
 * metrics_listen parser.
 */
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stats.h"
#include "tap.h"

static void test_databases(void)
{
	struct stats_db *b = stats_db_get("b"), *a = stats_db_get("a"), *c = stats_db_get("c");
	ok(a && b && c, "stats_db_get makes counter sets");
	ok(stats_db_get("b") == b, "the same name gives the same set");
	ok(stats_db_next(NULL) == a && stats_db_next(a) == b && stats_db_next(b) == c &&
	   stats_db_next(c) == NULL, "walked in name order");
}

static void test_queries(void)
{
	struct stats_db *d = stats_db_get("q");
	struct stats_clock k = { 0 };

	/* autocommit: one query, one transaction */
	stats_client_bytes(&k, d, 14);
	ok(k.query_start > 0 && k.xact_start == k.query_start, "client bytes start a query and a transaction");
	stats_ready(&k, d, 'I', false);
	is_int(d->total.query_count, 1, "ReadyForQuery ends the query");
	is_int(d->total.xact_count, 1, "... and with status I the transaction");
	ok(k.query_start == 0 && k.xact_start == 0, "nothing in progress after it");
	is_int(d->total.recv_bytes, 14, "received bytes counted");

	/* BEGIN; SELECT; COMMIT */
	stats_client_bytes(&k, d, 12);
	stats_ready(&k, d, 'T', false);
	double began = k.xact_start;
	ok(began > 0 && k.query_start == 0, "in a transaction: it goes on, the query ended");
	stats_client_bytes(&k, d, 15);
	ok(k.xact_start == began, "a later query keeps the transaction's start");
	stats_ready(&k, d, 'T', false);
	stats_client_bytes(&k, d, 13);
	stats_ready(&k, d, 'I', false);
	is_int(d->total.query_count, 4, "three more queries");
	is_int(d->total.xact_count, 2, "one more transaction");
	ok(d->total.xact_us >= d->total.query_us, "transaction time covers its queries' time");

	/* two queries pipelined: the second starts when the first ends */
	stats_client_bytes(&k, d, 28);
	stats_ready(&k, d, 'I', true);
	ok(k.query_start > 0 && k.xact_start == k.query_start, "more owed: the next query starts at once");
	stats_ready(&k, d, 'I', false);
	is_int(d->total.query_count, 6, "pipelined: two queries");
	is_int(d->total.xact_count, 4, "pipelined: two transactions");

	stats_server_bytes(d, 66);
	is_int(d->total.sent_bytes, 66, "sent bytes counted");
}

static void test_waits(void)
{
	struct stats_db *d = stats_db_get("w");
	stats_wait(d, 0);
	stats_wait(d, 0.0001);      /* on a bound: le is inclusive */
	stats_wait(d, 0.0002);
	stats_wait(d, 0.25);
	stats_wait(d, 1000);
	is_int(d->wait_count, 5, "five waits");
	is_int(d->wait_bucket[0], 2, "0 and 0.0001 s: the first bucket (le 0.0001)");
	is_int(d->wait_bucket[1], 1, "0.0002 s: the second (le 0.0005)");
	is_int(d->wait_bucket[7], 1, "0.25 s: le 0.5");
	is_int(d->wait_bucket[STATS_WAIT_NBOUNDS], 1, "1000 s: above every bound");
	is_int(d->total.wait_us, 1000250300, "wait time summed in microseconds");
	bool increasing = true;
	for (int i = 1; i < STATS_WAIT_NBOUNDS; i++)
		increasing = increasing && stats_wait_bounds[i] > stats_wait_bounds[i - 1];
	ok(increasing, "the bucket bounds increase");
}

static void test_averages(void)
{
	struct stats_db *d = stats_db_get("avg");
	stats_period_tick(100.0);        /* a period begins */
	memset(&d->total, 0, sizeof d->total);
	d->mark = d->total;
	d->total.xact_count = 10;
	d->total.query_count = 30;
	d->total.recv_bytes = 1000;
	d->total.sent_bytes = 4000;
	d->total.xact_us = 5000;
	d->total.query_us = 6000;
	d->total.wait_us = 800;
	stats_period_tick(102.0);        /* two seconds later */
	is_int(d->avg.xact_count, 5, "transactions per second");
	is_int(d->avg.query_count, 15, "queries per second");
	is_int(d->avg.recv_bytes, 500, "received bytes per second");
	is_int(d->avg.sent_bytes, 2000, "sent bytes per second");
	is_int(d->avg.xact_us, 500, "microseconds per transaction");
	is_int(d->avg.query_us, 200, "microseconds per query");
	is_int(d->avg.wait_us, 400, "wait microseconds per second");
	stats_period_tick(104.0);
	is_int(d->avg.xact_count + d->avg.query_us + d->avg.wait_us, 0, "a period without work: 0");
	stats_period_tick(104.0);
	is_int(d->avg.xact_count, 0, "a tick without time passing changes nothing");
}

static void test_parse_listen(void)
{
	static const struct { const char *in, *host; int port; } good[] = {
		{ "127.0.0.1:9127", "127.0.0.1", 9127 },
		{ "localhost:1", "localhost", 1 },
		{ "*:65535", "*", 65535 },
		{ "[::1]:9127", "::1", 9127 },
	};
	static const char *const bad[] = {
		"", "9127", ":9127", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
		"127.0.0.1:91 27", "::1:9127", "[::1]9127", "[]:9127", "a b:1", "1.2.3.4:-1",
		"127.0.0.1:000009127",
	};
	char host[64], why[200];
	int port;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		bool okay = metrics_parse_listen(good[i].in, host, sizeof host, &port, why, sizeof why);
		ok(okay && !strcmp(host, good[i].host) && port == good[i].port, "metrics_listen %s", good[i].in);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ok(!metrics_parse_listen(bad[i], host, sizeof host, &port, why, sizeof why) && why[0],
		   "metrics_listen \"%s\" refused: %s", bad[i], why);
	ok(!metrics_parse_listen("averyveryverylonghostname:1", host, 8, &port, why, sizeof why),
	   "a host longer than the buffer is refused");
}

int main(void)
{
	test_databases();
	test_queries();
	test_waits();
	test_averages();
	test_parse_listen();
	stats_stop();
	return done_testing();
}
