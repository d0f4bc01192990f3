/*
 * log_limit.t — at most LOG_LIMIT_BURST lines a second per address; the
 * count of lines left out comes with the next line allowed; the table
 * stays LOG_LIMIT_SLOTS addresses, the one seen longest ago giving way;
 * all addresses share LOG_LIMIT_GLOBAL_BURST lines a second.
 */
#include <stdio.h>

#include "log_limit.h"
#include "tap.h"

/* Lines allowed out of `n` tries for addr at `now`; the last count told. */
static int take_n(const char *addr, double now, int n, uint64_t *told)
{
	int allowed = 0;
	*told = 0;
	for (int i = 0; i < n; i++) {
		uint64_t u;
		if (log_limit_take(addr, now, &u)) {
			allowed++;
			*told += u;
		}
	}
	return allowed;
}

int main(void)
{
	uint64_t told;
	log_limit_reset();

	is_int(take_n("10.0.0.1", 100.0, 2000, &told), LOG_LIMIT_BURST,
	       "2000 lines from one address in one second: only the burst is written");
	is_int(told, 0, "... nothing was left out before them");
	is_int(take_n("10.0.0.2", 100.5, 3, &told), 3, "another address has its own budget");
	is_int(take_n("10.0.0.1", 100.9, 10, &told), 0, "the first address is still over within its second");
	is_int(take_n("10.0.0.1", 101.0, 1, &told), 1, "one second on, it may write again");
	is_int(told, 2000 - LOG_LIMIT_BURST + 10, "... and that line learns how many were left out");
	is_int(take_n("10.0.0.1", 101.1, 1, &told), 1, "the next line of the new second");
	is_int(told, 0, "... has nothing to tell");

	/* a clock that went back (a different clock after a restart, say)
	 * starts a new second rather than never again */
	(void)take_n("10.0.0.3", 50.0, LOG_LIMIT_BURST + 5, &told);
	is_int(take_n("10.0.0.3", 40.0, 1, &told), 1, "a time before the window starts a new one");
	is_int(told, 5, "... telling what was left out");

	/* the table is bounded: LOG_LIMIT_SLOTS + 1 addresses */
	log_limit_reset();
	(void)take_n("victim", 1.0, LOG_LIMIT_BURST + 7, &told);
	char addr[LOG_LIMIT_ADDR_LEN], evicted[LOG_LIMIT_ADDR_LEN] = "";
	uint64_t lost = 0;
	int written = 0;
	for (int i = 0; i < LOG_LIMIT_SLOTS; i++) {
		snprintf(addr, sizeof addr, "192.0.2.%d", i);
		uint64_t u;
		written += log_limit_take(addr, 2.0 + i * 0.001, &u);
		char e[LOG_LIMIT_ADDR_LEN];
		uint64_t n = log_limit_evicted(e, sizeof e);
		if (n) {
			lost = n;
			snprintf(evicted, sizeof evicted, "%s", e);
		}
	}
	is_int(written, LOG_LIMIT_SLOTS, "each new address may write");
	is_str(evicted, "victim", "the address seen longest ago gives way to a new one");
	is_int(lost, 7, "... and its untold count is handed back to be said");
	is_int(take_n("192.0.2.0", 3.5, 1, &told), 1, "the others are still known");
	is_int(take_n("victim", 3.5, 1, &told), 1, "the evicted address starts afresh");
	is_int(told, 0, "... with nothing to tell (it was handed back)");
	uint64_t u;
	ok(log_limit_take("", 4.0, &u), "an empty address is one address too");

	/* the budget all addresses share */
	log_limit_reset();
	int global = 0;
	uint64_t gtold = 0;
	for (int i = 0; i < 3 * LOG_LIMIT_GLOBAL_BURST; i++)
		global += log_limit_take_global(10.0 + i * 0.001, i == 2 * LOG_LIMIT_GLOBAL_BURST ? 4 : 0, &u);
	is_int(global, LOG_LIMIT_GLOBAL_BURST, "all addresses together: only the global burst in one second");
	ok(log_limit_take_global(11.0, 0, &gtold), "one second on, a line may be written again");
	is_int(gtold, 2 * LOG_LIMIT_GLOBAL_BURST + 4,
	       "... and learns how many were left out, with the untold counts handed in");
	ok(log_limit_take("10.9.9.9", 11.0, &u), "the global budget does not touch an address's own");
	return done_testing();
}
