/*
 * tap.h — a minimal TAP producer for C tests run by prove.
 *
 *   plan(n) / no_plan()     ok(cond, fmt, ...)     is_int(got, want, name)
 *   is_str(got, want, name) is_mem(got, glen, want, wlen, name)
 *   diag(fmt, ...)          done_testing()  -> exit status
 */
#ifndef SLUICE_TAP_H
#define SLUICE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned = -1;

static inline void plan(int n) { tap_planned = n; printf("1..%d\n", n); fflush(stdout); }
static inline void no_plan(void) { }

static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
	fflush(stdout);
}

static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	if (!cond) tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return cond;
}
#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, name) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, "%s", name)) diag("got %lld, want %lld", g_, w_); \
} while (0)

#define is_str(got, want, name) do { \
	const char *g_ = (got), *w_ = (want); \
	int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
	if (!ok(same_, "%s", name)) diag("got '%s', want '%s'", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

#define is_mem(got, glen, want, wlen, name) do { \
	size_t gl_ = (glen), wl_ = (wlen); \
	int same_ = gl_ == wl_ && memcmp((got), (want), gl_) == 0; \
	if (!ok(same_, "%s", name)) diag("length got %zu, want %zu or bytes differ", gl_, wl_); \
} while (0)

static inline int done_testing(void)
{
	if (tap_planned < 0) printf("1..%d\n", tap_n);
	else if (tap_planned != tap_n) { diag("planned %d tests but ran %d", tap_planned, tap_n); return 1; }
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
