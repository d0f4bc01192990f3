/*
 * strpool.t — shared, counted strings: one copy per distinct string, kept
 * while anyone holds it, intact across the table's growth.
 */
#include <stdio.h>
#include <string.h>

#include "strpool.h"
#include "tap.h"

#define MANY 5000

static const char *held[MANY];

int main(void)
{
	char buf[32] = "UTF8";
	const char *a = strpool_get(buf);
	const char *b = strpool_get("UTF8");
	is_str(a, "UTF8", "a copy of the string");
	ok(a != buf, "not the caller's buffer");
	ok(a == b, "equal strings share one copy");
	const char *other = strpool_get("SQL_ASCII"), *empty = strpool_get("");
	ok(other != a, "different strings do not");
	is_str(empty, "", "the empty string is a string too");

	strpool_put(b);
	is_str(a, "UTF8", "still there while one holder is left");
	strpool_put(a);
	strpool_put(NULL);
	ok(1, "putting NULL is a no-op");
	const char *c = strpool_get("UTF8");
	is_str(c, "UTF8", "got again after the last put");
	ok(strpool_hold(c) == c, "held: the same copy");
	strpool_put(c);
	is_str(c, "UTF8", "a hold is a count of its own: one put leaves it");
	ok(strpool_get("UTF8") == c, "and a get still finds it");
	strpool_put(c);

	/* enough strings for the table to double several times */
	int wrong = 0;
	for (int i = 0; i < MANY; i++) {
		snprintf(buf, sizeof buf, "value-%d", i);
		held[i] = strpool_get(buf);
		wrong += !held[i];
	}
	for (int i = 0; i < MANY; i++) {
		snprintf(buf, sizeof buf, "value-%d", i);
		const char *again = strpool_get(buf);
		wrong += again != held[i] || strcmp(again, buf) != 0;
		strpool_put(again);
	}
	is_int(wrong, 0, "5000 strings found again after the table grew");
	ok(strpool_get("UTF8") == c, "and one from before the growth too");

	for (int i = 0; i < MANY; i += 2)
		strpool_put(held[i]);
	wrong = 0;
	for (int i = 1; i < MANY; i += 2) {
		snprintf(buf, sizeof buf, "value-%d", i);
		wrong += strcmp(held[i], buf) != 0;
		strpool_put(held[i]);
	}
	is_int(wrong, 0, "the others intact after half were freed");

	strpool_put(c);
	strpool_put(c);
	strpool_put(other);
	strpool_put(empty);
	return done_testing();
}
