/*
 * varcache.t — tracked parameters and the SET that aligns a server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "varcache.h"

/* The text of each Query appended, joined by '|'; NULL if none. */
static char *sql_of(const struct varcache *want, const struct varcache *have)
{
	struct pq_writer w;
	pq_writer_init(&w);
	int n = varcache_apply_sql(want, have, &w);
	if (n == 0) {
		pq_writer_free(&w);
		return NULL;
	}
	char *s = calloc(1, w.len + 1);
	size_t off = 0, slen = 0;
	for (int i = 0; i < n && off + 5 <= w.len && w.buf[off] == 'Q'; i++) {
		/* 'Q' + int32 length + text + NUL */
		size_t mlen = (size_t)w.buf[off + 1] << 24 | (size_t)w.buf[off + 2] << 16 |
			      (size_t)w.buf[off + 3] << 8 | w.buf[off + 4];
		if (i)
			s[slen++] = '|';
		size_t tlen = strlen((const char *)w.buf + off + 5);
		memcpy(s + slen, w.buf + off + 5, tlen);
		slen += tlen;
		off += 1 + mlen;
	}
	ok(off == w.len, "varcache_apply_sql: %d whole Query messages", n);
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
	is_str(s, "SET TimeZone = $v$UTC$v$;", "SET for a missing value");
	free(s);

	(void)varcache_set(&a, "application_name", "it's a \\ test");
	s = sql_of(&a, &b);
	is_str(s, "SET TimeZone = $v$UTC$v$;SET application_name = $v$it's a \\ test$v$;",
	       "quotes and backslashes go as they are in a dollar-quoted literal");
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
	is_str(s, "SET TimeZone = $v$UTC$v$;", "and differs again");
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
	is_str(s, "SET search_path = $v$public$v$;", "and set like the others");
	free(s);
	/* the extras live in an array of each varcache's own */
	(void)varcache_set(&b, "search_path", "public");
	ok(sql_of(&a, &b) == NULL, "equal extra values in two arrays: no SET");
	ok(varcache_get(&a, varcache_index("search_path")) == varcache_get(&b, varcache_index("search_path")),
	   "extra values are shared strings too");
	struct varcache d = { 0 };
	varcache_copy(&d, &a);
	ok(sql_of(&a, &d) == NULL && sql_of(&d, &a) == NULL, "a copy carries the extra values");
	varcache_clear(&d);
	ok(d.extra == NULL && varcache_get(&d, varcache_index("search_path")) == NULL,
	   "clearing gives the extras' array back");
	s = sql_of(&a, &d);
	is_str(s, "SET TimeZone = $v$UTC$v$;SET application_name = $v$it's a \\ test$v$;"
	       "SET search_path = $v$public$v$;", "against a varcache without extras");
	free(s);
	ok(sql_of(&d, &a) == NULL, "...and nothing the other way (no value wanted)");
	(void)varcache_set(&d, "TimeZone", "UTC");
	ok(d.extra == NULL, "setting a built-in name makes no extras' array");
	varcache_clear(&d);
	/* a value another varcache holds, taken as it is */
	int sp = varcache_index("search_path");
	varcache_set_held(&d, sp, varcache_get(&a, sp));
	varcache_set_held(&d, tz, varcache_get(&a, tz));
	ok(varcache_get(&d, sp) == varcache_get(&a, sp) && varcache_get(&d, tz) == varcache_get(&a, tz),
	   "varcache_set_held shares the other's copies");
	varcache_clear(&a);
	ok(varcache_get(&d, sp) && !strcmp(varcache_get(&d, sp), "public") &&
	   !strcmp(varcache_get(&d, tz), "UTC"), "and keeps them when the other lets go");
	(void)varcache_set(&a, "TimeZone", "UTC");
	(void)varcache_set(&a, "application_name", "it's a \\ test");
	(void)varcache_set(&a, "search_path", "public");
	varcache_clear(&d);
	varcache_clear(&a);
	varcache_clear(&b);

	/* the tag is one the value does not hold, nor end with a part of */
	static const struct { const char *value, *sql; } tags[] = {
		{ "x$v$y", "SET search_path = $v1$x$v$y$v1$;" },
		{ "ends in $v", "SET search_path = $v1$ends in $v$v1$;" },
		{ "$v1 and $v", "SET search_path = $v2$$v1 and $v$v2$;" },
		{ "$", "SET search_path = $v$$$v$;" },
		{ "$$", "SET search_path = $v$$$$v$;" },
		{ "$V", "SET search_path = $v$$V$v$;" },
		/* SJIS: 0x83 0x5C is one character whose second byte is '\' */
		{ "\x83\\'; CREATE TABLE t (); --", "SET search_path = $v$\x83\\'; CREATE TABLE t (); --$v$;" },
	};
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		struct varcache e = { 0 }, none = { 0 };
		(void)varcache_set(&e, "search_path", tags[i].value);
		s = sql_of(&e, &none);
		char name[96];
		snprintf(name, sizeof name, "dollar quote around \"%s\"", tags[i].value);
		is_str(s, tags[i].sql, name);
		free(s);
		varcache_clear(&e);
	}

	/* client_encoding first, in a Query of its own */
	(void)varcache_set(&a, "application_name", "\x83\\");
	(void)varcache_set(&a, "client_encoding", "SJIS");
	s = sql_of(&a, &b);
	is_str(s, "SET client_encoding = $v$SJIS$v$;|SET application_name = $v$\x83\\$v$;",
	       "client_encoding is set by a Query before the other values");
	free(s);
	(void)varcache_set(&b, "application_name", "\x83\\");
	s = sql_of(&a, &b);
	is_str(s, "SET client_encoding = $v$SJIS$v$;", "... alone when only it differs");
	free(s);
	(void)varcache_set(&b, "client_encoding", "SJIS");
	(void)varcache_set(&a, "TimeZone", "UTC");
	s = sql_of(&a, &b);
	is_str(s, "SET TimeZone = $v$UTC$v$;", "... and absent when it agrees");
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
