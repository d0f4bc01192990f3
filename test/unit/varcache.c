/*
 * varcache.t — tracked parameters and the SET that aligns a server.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "varcache.h"

static char *sql_of(const struct varcache *want, const struct varcache *have)
{
	struct pq_writer w;
	pq_writer_init(&w);
	if (!varcache_apply_sql(want, have, &w)) {
		pq_writer_free(&w);
		return NULL;
	}
	/* 'Q' + int32 length + text + NUL */
	char *s = strdup((const char *)w.buf + 5);
	pq_writer_free(&w);
	return s;
}

int main(void)
{
	struct varcache a = { 0 }, b = { 0 };
	ok(varcache_set(&a, "TimeZone", "UTC"), "TimeZone is tracked");
	ok(varcache_set(&a, "timezone", "UTC"), "names match case-insensitively");
	ok(!varcache_set(&a, "search_path", "x"), "search_path is not tracked by default");
	ok(sql_of(&a, &a) == NULL, "no SET when both sides agree");

	char *s = sql_of(&a, &b);
	is_str(s, "SET TimeZone = E'UTC';", "SET for a missing value");
	free(s);

	(void)varcache_set(&a, "application_name", "it's a \\ test");
	s = sql_of(&a, &b);
	is_str(s, "SET TimeZone = E'UTC';SET application_name = E'it''s a \\\\ test';",
	       "quotes and backslashes escaped in an E'' literal");
	free(s);

	(void)varcache_set(&b, "TimeZone", "UTC");
	(void)varcache_set(&b, "application_name", "it's a \\ test");
	ok(sql_of(&a, &b) == NULL, "no SET once the server matches");

	/* values are strpool strings: one copy, shared */
	int tz = varcache_index("TimeZone");
	ok(varcache_get(&a, tz) == varcache_get(&b, tz), "equal values are one shared copy");
	(void)varcache_set(&b, "TimeZone", "Europe/Paris");
	ok(varcache_get(&a, tz) != varcache_get(&b, tz), "a changed value gets its own copy");
	s = sql_of(&a, &b);
	is_str(s, "SET TimeZone = E'UTC';", "and differs again");
	free(s);
	struct varcache c = { 0 };
	varcache_copy(&c, &b);
	ok(varcache_get(&c, tz) == varcache_get(&b, tz), "a copy shares the values too");
	varcache_clear(&c);
	varcache_clear(&b);
	ok(varcache_get(&a, tz) && !strcmp(varcache_get(&a, tz), "UTC"), "clearing others leaves a's values");
	(void)varcache_set(&b, "TimeZone", "UTC");
	(void)varcache_set(&b, "application_name", "it's a \\ test");

	ok(varcache_set_extra("default_transaction_read_only, search_path"), "extra names accepted");
	ok(varcache_set(&a, "search_path", "public"), "an extra name is tracked");
	s = sql_of(&a, &b);
	is_str(s, "SET search_path = E'public';", "and set like the others");
	free(s);
	ok(!varcache_set_extra("bad;name"), "a name with other characters is refused");
	ok(!varcache_set_extra("a,b,c,d,e,f,g,h,i"), "more than 8 extra names refused");
	ok(varcache_set_extra("TimeZone"), "a built-in name is accepted and ignored");
	ok(varcache_set_extra(""), "an empty list clears the extras");
	ok(!varcache_set(&b, "search_path", "x"), "cleared extras are no longer tracked");

	varcache_clear(&a);
	varcache_clear(&b);
	return done_testing();
}
