/*
 * pq_reader.t — the bounded cursor over a message body (pq_reader.h):
 * every getter stops at the end and marks the reader bad instead of
 * reading past it; strings, the empty one (an unnamed statement or
 * portal) included, come back whole with the cursor after their NUL;
 * pq_reader_done holds only for an exact fit.
 */
#include <stdint.h>
#include <string.h>

#include "pq_reader.h"
#include "tap.h"

int main(void)
{
	/* a Bind's front: portal "", statement "s1", then two u16s */
	static const uint8_t bind[] = { 0, 's', '1', 0, 0, 1, 0, 2 };
	struct pq_reader r = pq_reader_make(bind, sizeof bind);
	const char *portal = pq_get_cstring(&r);
	ok(portal && *portal == 0 && portal == (const char *)bind, "the empty string, in place");
	ok(r.left == sizeof bind - 1 && r.p == bind + 1, "the cursor after its NUL");
	const char *stmt = pq_get_cstring(&r);
	ok(stmt && !strcmp(stmt, "s1") && r.left == 4, "a named one after it");
	ok(pq_get_u16(&r) == 1 && pq_get_u16(&r) == 2, "then the integers");
	ok(pq_reader_done(&r), "an exact fit: done");

	/* unterminated: bad, nothing read past the end */
	static const uint8_t open[] = { 'a', 'b', 'c' };
	r = pq_reader_make(open, sizeof open);
	ok(pq_get_cstring(&r) == NULL && r.bad && r.left == 0, "a string without its NUL: NULL and bad");
	ok(pq_get_cstring(&r) == NULL, "and stays bad");
	ok(!pq_reader_done(&r), "not done");

	/* nothing left */
	r = pq_reader_make(open, 0);
	ok(pq_get_cstring(&r) == NULL && r.bad, "a string from an empty body: NULL and bad");
	r = pq_reader_make(bind, 1);
	ok(pq_get_cstring(&r) != NULL && pq_reader_done(&r), "a body of one NUL: the empty string, done");
	ok(pq_get_cstring(&r) == NULL && r.bad, "one more: bad");

	/* short integers and bytes */
	r = pq_reader_make(bind, 3);
	ok(pq_get_u32(&r) == 0 && r.bad && r.left == 0, "a u32 from 3 bytes: 0 and bad");
	r = pq_reader_make(bind, 1);
	ok(pq_get_u16(&r) == 0 && r.bad, "a u16 from 1 byte: 0 and bad");
	r = pq_reader_make(bind, 2);
	ok(pq_get_bytes(&r, 3) == NULL && r.bad, "3 bytes from 2: NULL and bad");
	r = pq_reader_make(bind, sizeof bind);
	ok(pq_get_u8(&r) == 0 && pq_get_bytes(&r, 3) == bind + 1 && !r.bad && r.left == 4,
	   "bytes in place, the cursor after them");
	ok(!pq_reader_done(&r), "bytes left: not done");
	return done_testing();
}
