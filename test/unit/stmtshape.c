/*
 * stmtshape.t — shared statement descriptions: one copy per distinct body,
 * references counted; malformed bodies refused; what counts as the same
 * shape (names, types, sizes, modifiers) and what does not (table OID,
 * column number, format code).
 */
#include <stdlib.h>
#include <string.h>

#include "stmtshape.h"
#include "tap.h"

struct col { const char *name; uint32_t table; uint16_t attnum; uint32_t type; int16_t size; int32_t mod; uint16_t fmt; };

static size_t put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; return 2; }
static size_t put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
	return 4;
}

/* A RowDescription body. */
static size_t rows(uint8_t *out, const struct col *c, uint16_t n)
{
	size_t len = put16(out, n);
	for (uint16_t i = 0; i < n; i++) {
		size_t l = strlen(c[i].name) + 1;
		memcpy(out + len, c[i].name, l);
		len += l;
		len += put32(out + len, c[i].table);
		len += put16(out + len, c[i].attnum);
		len += put32(out + len, c[i].type);
		len += put16(out + len, (uint16_t)c[i].size);
		len += put32(out + len, (uint32_t)c[i].mod);
		len += put16(out + len, c[i].fmt);
	}
	return len;
}

static size_t params(uint8_t *out, const uint32_t *oids, uint16_t n)
{
	size_t len = put16(out, n);
	for (uint16_t i = 0; i < n; i++)
		len += put32(out + len, oids[i]);
	return len;
}

int main(void)
{
	uint8_t a[512], b[512];
	const struct col base[] = { { "id", 16384, 1, 23, 4, -1, 0 }, { "val", 16384, 2, 23, 4, -1, 0 } };

	size_t la = rows(a, base, 2);
	struct shape *s1 = shape_get('T', a, la), *s2 = shape_get('T', a, la);
	ok(s1 && s1 == s2, "the same body twice: one shared copy");
	is_int((int)shape_count(), 1, "one distinct shape held");
	ok(shape_same(s1, s2), "a shape is the same as itself");

	struct col other[2];
	memcpy(other, base, sizeof other);
	other[0].table = 99999;
	other[0].attnum = 7;
	other[1].table = 99999;
	other[1].fmt = 1;
	size_t lb = rows(b, other, 2);
	struct shape *t = shape_get('T', b, lb);
	ok(t && t != s1, "another table OID, column number and format: another copy");
	ok(shape_same(s1, t), "... but the same shape (a recreated table, a binary Bind)");
	shape_put(t);

	static const struct { const char *what; int field; } diffs[] = {
		{ "another column name", 0 }, { "another type", 1 }, { "another size", 2 },
		{ "another type modifier", 3 }, { "a column fewer", 4 }, { "a column more", 5 },
	};
	for (size_t i = 0; i < sizeof diffs / sizeof diffs[0]; i++) {
		struct col cols[3];
		memcpy(cols, base, sizeof base);
		cols[2] = (struct col){ "note", 16384, 3, 25, -1, -1, 0 };
		uint16_t n = 2;
		switch (diffs[i].field) {
		case 0: cols[1].name = "value"; break;
		case 1: cols[1].type = 25; break;
		case 2: cols[1].size = 8; break;
		case 3: cols[1].mod = 14; break;
		case 4: n = 1; break;
		case 5: n = 3; break;
		}
		lb = rows(b, cols, n);
		t = shape_get('T', b, lb);
		ok(t && !shape_same(s1, t) && !shape_same(t, s1), "%s: not the same shape", diffs[i].what);
		shape_put(t);
	}

	uint32_t p1[] = { 23, 25 }, p2[] = { 20, 25 };
	size_t lp = params(b, p1, 2);
	struct shape *q1 = shape_get('t', b, lp);
	lp = params(b, p2, 2);
	struct shape *q2 = shape_get('t', b, lp);
	ok(q1 && q2 && !shape_same(q1, q2), "parameters of another type: not the same");
	ok(!shape_same(q1, s1), "parameters are never the same as rows");
	struct shape *n1 = shape_get('n', NULL, 0), *n2 = shape_get('n', NULL, 0);
	ok(n1 && n1 == n2 && shape_same(n1, n2), "NoData: one copy, the same as NoData");
	ok(!shape_same(n1, s1), "NoData is not a RowDescription");
	ok(!shape_same(NULL, s1) && !shape_same(s1, NULL), "unknown is never the same as anything");

	/* malformed bodies are refused */
	ok(!shape_get('T', a, la - 1), "a RowDescription cut short: refused");
	uint8_t extra[520];
	memcpy(extra, a, la);
	extra[la] = 0;
	ok(!shape_get('T', extra, la + 1), "a RowDescription with a byte too many: refused");
	ok(!shape_get('t', b, lp - 2), "a ParameterDescription cut short: refused");
	ok(!shape_get('n', a, 1), "NoData with a body: refused");
	ok(!shape_get('X', a, la), "an unknown kind: refused");

	shape_put(q1);
	shape_put(q2);
	shape_put(n1);
	shape_put(n2);
	shape_put(s1);
	is_int((int)shape_count(), 1, "a shape still referenced is kept");
	shape_put(s2);
	shape_put(NULL);
	is_int((int)shape_count(), 0, "every reference dropped: nothing held");
	return done_testing();
}
