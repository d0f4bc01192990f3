/*
 * log_limit.c — at most LOG_LIMIT_BURST log lines a second per peer
 * address, in a fixed table of LOG_LIMIT_SLOTS addresses, and
 * LOG_LIMIT_GLOBAL_BURST for all addresses together (log_limit.h).
 *
 * A slot's second starts with the first line of the address after the
 * previous second ended (a fixed window, not a sliding one: simple, and
 * at most twice the burst in any second). A linear scan finds the
 * address: 256 short string compares for a line that is written, or
 * counted, only when a client failed before login.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "log_limit.h"

struct slot {
	char addr[LOG_LIMIT_ADDR_LEN];   /* "": free */
	double window_start;             /* when its current second began */
	double last_seen;
	uint32_t lines;                  /* written in the current second */
	uint64_t untold;                 /* left out since the last written line */
};

static struct slot slots[LOG_LIMIT_SLOTS];
static struct slot global;   /* every address: LOG_LIMIT_GLOBAL_BURST */
static char evicted_addr[LOG_LIMIT_ADDR_LEN];
static uint64_t evicted_untold;

static struct slot *find_or_take(const char *addr, double now)
{
	struct slot *oldest = &slots[0];
	for (size_t i = 0; i < LOG_LIMIT_SLOTS; i++) {
		struct slot *s = &slots[i];
		if (s->addr[0] && !strcmp(s->addr, addr))
			return s;
		if (!s->addr[0]) {
			if (oldest->addr[0])
				oldest = s;   /* a free slot beats any used one */
		} else if (oldest->addr[0] && s->last_seen < oldest->last_seen) {
			oldest = s;
		}
	}
	if (oldest->addr[0] && oldest->untold) {
		snprintf(evicted_addr, sizeof evicted_addr, "%s", oldest->addr);
		evicted_untold = oldest->untold;
	}
	memset(oldest, 0, sizeof *oldest);
	snprintf(oldest->addr, sizeof oldest->addr, "%s", addr);
	oldest->window_start = now;
	return oldest;
}

/* One second's budget of `burst` lines in slot s. */
static bool take_in(struct slot *s, double now, uint32_t burst, uint64_t more, uint64_t *untold)
{
	if (now - s->window_start >= 1.0 || now < s->window_start) {
		s->window_start = now;
		s->lines = 0;
	}
	if (s->lines >= burst) {
		s->untold += 1 + more;
		return false;
	}
	s->lines++;
	*untold = s->untold;
	s->untold = 0;
	return true;
}

bool log_limit_take_global(double now, uint64_t more, uint64_t *untold)
{
	*untold = 0;
	return take_in(&global, now, LOG_LIMIT_GLOBAL_BURST, more, untold);
}

bool log_limit_take(const char *addr, double now, uint64_t *untold)
{
	evicted_untold = 0;
	evicted_addr[0] = 0;
	*untold = 0;
	if (!addr || !addr[0])
		addr = "?";
	struct slot *s = find_or_take(addr, now);
	s->last_seen = now;
	return take_in(s, now, LOG_LIMIT_BURST, 0, untold);
}

uint64_t log_limit_evicted(char *addr, size_t n)
{
	if (n)
		snprintf(addr, n, "%s", evicted_addr);
	return evicted_untold;
}

void log_limit_reset(void)
{
	memset(slots, 0, sizeof slots);
	memset(&global, 0, sizeof global);
	evicted_addr[0] = 0;
	evicted_untold = 0;
}

void log_limit_say_untold_global(int lvl, uint64_t n)
{
	const struct log_event ev = { "log_suppressed", NULL, NULL, 0 };
	log_write_at(lvl, NULL, &ev, "%" PRIu64 " more lines about clients not logged in suppressed "
		     "(at most %d a second from all addresses)", n, LOG_LIMIT_GLOBAL_BURST);
}

bool log_limit_budget(int lvl, double now)
{
	uint64_t untold;
	if (!log_limit_take_global(now, 0, &untold))
		return false;
	if (untold)
		log_limit_say_untold_global(lvl, untold);
	return true;
}
