/*
 * log_limit.h — a bound on the log lines one peer address can cause.
 * Clients that fail before they log in (bad startup packets, failed
 * passwords, a flood of connections that say nothing) can be opened as
 * fast as a peer likes; each address may write LOG_LIMIT_BURST such lines
 * a second. The lines past that are counted, and the first line allowed
 * again for the address is preceded by one that says how many were left
 * out.
 *
 * Addresses are cheap to an attacker with a network of them (IPv6 hands
 * out millions): all lines about clients not logged in also share one
 * budget of LOG_LIMIT_GLOBAL_BURST a second, told the same way.
 *
 * Memory is fixed: a table of LOG_LIMIT_SLOTS addresses. A new address
 * takes the slot of the one seen longest ago; a count that slot had not
 * told yet is handed back so the caller can still say it.
 *
 * INTERFACE ROUTINES
 *   log_limit_take(addr, now, &untold)  may a line about `addr` be written
 *                              at `now` (seconds, any monotonic clock)?
 *                              true: yes, and *untold lines of addr were
 *                              left out before it (0: none) — say so first.
 *                              false: no; it is counted.
 *   log_limit_evicted(addr, n) the address and count a take() evicted
 *                              without telling (n is 0 when none)
 *   log_limit_take_global(now, more, &untold)  may a line allowed for its
 *                              address also be written under the budget
 *                              all addresses share? true: yes, *untold as
 *                              above. false: no; it is counted, with `more`
 *                              (untold lines its address had to say).
 *   log_limit_reset()          forget everything (tests)
 *
 * Pure: no I/O and no clock of its own, so unit tests drive it directly.
 */
#ifndef SLUICE_LOG_LIMIT_H
#define SLUICE_LOG_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"

#define LOG_LIMIT_SLOTS 256
#define LOG_LIMIT_BURST 10      /* lines per address per second */
#define LOG_LIMIT_GLOBAL_BURST 100   /* lines per second, all addresses */
#define LOG_LIMIT_ADDR_LEN 48   /* an IPv6 address in text, and "unix" */

bool log_limit_take(const char *addr, double now, uint64_t *untold) MUST_CHECK;
/* After a take: the address evicted to make room, and what it had not told. */
uint64_t log_limit_evicted(char *addr, size_t n);
bool log_limit_take_global(double now, uint64_t more, uint64_t *untold) MUST_CHECK;
void log_limit_reset(void);
/* May another line caused by clients not logged in be written (the budget
 * they all share)? Says first how many were left out, if any. */
bool log_limit_budget(int lvl, double now);
/* The line saying n such lines were left out. */
void log_limit_say_untold_global(int lvl, uint64_t n);

#endif
