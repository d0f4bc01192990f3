/*
 * relay.t — relay_run: what reaches dst and in what order, whatever the
 * pieces the input arrives in; inspect, observe, after and peek hooks;
 * hooks that write to dst (relay_flush); bad lengths and backpressure.
 */
#include <stdlib.h>
#include <string.h>


#include "buf.h"
#include "proto.h"
#include "relay.h"
#include "tap.h"

/* Append one message: type, length, body. */
static size_t put(uint8_t *out, char type, const char *body)
{
	size_t n = strlen(body);
	out[0] = (uint8_t)type;
	out[1] = (uint8_t)((n + 4) >> 24);
	out[2] = (uint8_t)((n + 4) >> 16);
	out[3] = (uint8_t)((n + 4) >> 8);
	out[4] = (uint8_t)(n + 4);
	memcpy(out + 5, body, n);
	return n + 5;
}

struct owner {
	struct relay r;
	struct buf *dst;
	char seen[64];        /* types in the order hooks saw them */
	int nseen;
	char after[64];
	int nafter;
	char peeked[64];      /* text after the header of the last peeked message */
	char drop_type;       /* observe drops this type */
	char answer_type;     /* inspect drops this type and writes "!" to dst */
	char stop_type;       /* inspect: FORWARD_STOP */
	char bad_writer;      /* inspect: write to dst without relay_flush */
	char wait_type;       /* inspect: RELAY_WAIT while `waits` > 0 */
	int waits;
	char next[16];        /* relay_peek_next from inspect of `wait_type` */
	size_t nnext;
	char scanned[256];    /* what scan saw of the current scanned message */
	size_t nscanned;
	int scan_calls, scan_ends;
	size_t head_shown, head_body; /* inspect of a 'B': what it was shown */
	bool head_drop;               /* inspect of a 'B': drop it */
	const struct relay_spec *spec; /* relay_split's, when not `spec` */
};

static enum relay_action inspect(void *arg, char type, const uint8_t *body, size_t len)
{
	struct owner *o = arg;
	o->seen[o->nseen++] = type;
	if (type == o->stop_type)
		return RELAY_FORWARD_STOP;
	if (type == o->wait_type) {
		o->nnext = relay_peek_next(&o->r, (uint8_t *)o->next, sizeof o->next);
		if (o->waits > 0) {
			o->waits--;
			return RELAY_WAIT;
		}
	}
	if (type == 'B') {
		/* replace the name in front ("name\0...") with "NEW" */
		o->head_shown = len;
		o->head_body = relay_body_len(&o->r);
		if (o->head_drop)
			return RELAY_DROP;
		size_t name = strnlen((const char *)body, len) + 1;
		size_t rest = o->head_body - name;
		uint8_t h[PQ_HEADER_LEN] = { 'B', 0, 0, (uint8_t)((rest + 8) >> 8), (uint8_t)(rest + 8) };
		relay_flush(&o->r);
		buf_add(o->dst, h, sizeof h);
		buf_add(o->dst, "NEW", 4);
		relay_skip_head(&o->r, PQ_HEADER_LEN + name);
		return RELAY_FORWARD;
	}
	if (type == o->answer_type) {
		relay_flush(&o->r);
		buf_add(o->dst, "!", 1);
		return RELAY_DROP;
	}
	(void)body;
	(void)len;
	return RELAY_FORWARD;
}

static enum relay_action observe(void *arg, char type)
{
	struct owner *o = arg;
	return type == o->drop_type ? RELAY_DROP : RELAY_FORWARD;
}

static void after(void *arg, char type)
{
	struct owner *o = arg;
	o->after[o->nafter++] = type;
}

static void peek(void *arg, char type, const uint8_t *msg, size_t n)
{
	struct owner *o = arg;
	size_t body = n - PQ_HEADER_LEN;
	if (body >= sizeof o->peeked)
		body = sizeof o->peeked - 1;
	memcpy(o->peeked, msg + PQ_HEADER_LEN, body);
	o->peeked[body] = 0;
	(void)type;
}

/* refuses a message whose body says BAD */
static enum relay_action scan(void *arg, char type, const uint8_t *p, size_t n, bool last)
{
	struct owner *o = arg;
	if (o->nscanned + n < sizeof o->scanned) {
		memcpy(o->scanned + o->nscanned, p, n);
		o->nscanned += n;
		o->scanned[o->nscanned] = 0;
	}
	o->scan_calls++;
	(void)type;
	if (!last)
		return RELAY_FORWARD;
	o->scan_ends++;
	bool bad = strstr(o->scanned, "BAD") != NULL;
	o->nscanned = 0;
	o->scanned[0] = 0;
	return bad ? RELAY_FAIL : RELAY_FORWARD;
}

static struct relay_spec spec = {
	.inspect = { ['Z'] = true, ['E'] = true, ['B'] = true },
	.head = { ['B'] = true },
	.head_len = 16,
	.count = { ['Z'] = true },
	.unsync = { ['P'] = true },
	.peek_types = { ['Q'] = true },
	.max_len = 1000,
	.max_inspect_len = 100,
	.fn = inspect,
	.observe = observe,
	.observe_types = { [0 ... 255] = true },
	.after = after,
	.after_types = { [0 ... 255] = true },
	.peek = peek,
	.scan_types = { ['Q'] = true },
	.scan = scan,
};

static char *contents(struct buf *b, size_t *len)
{
	*len = buf_len(b);
	char *s = malloc(*len + 1);
	buf_copyout(b, s, *len);
	s[*len] = 0;
	return s;
}

/* Feed `in` in two pieces split at `cut` (the second piece after the
 * first was relayed) and return what reached dst. */
static char *relay_split(struct owner *o, const uint8_t *in, size_t len, size_t cut,
			 size_t *out_len, enum relay_result *last)
{
	struct buf *src = buf_new();
	o->dst = buf_new();
	const struct relay_spec *sp = o->spec ? o->spec : &spec;
	buf_add(src, in, cut);
	*last = relay_run(&o->r, src, o->dst, sp, o, 1 << 20);
	buf_add(src, in + cut, len - cut);
	*last = relay_run(&o->r, src, o->dst, sp, o, 1 << 20);
	char *s = contents(o->dst, out_len);
	ok(buf_len(src) == 0 || *last == RELAY_STOPPED, "cut %zu: the input is used up", cut);
	buf_free(src);
	buf_free(o->dst);
	return s;
}

static void test_order_at_every_cut(void)
{
	uint8_t in[512];
	size_t len = 0;
	len += put(in + len, 'T', "row description");
	len += put(in + len, 'D', "a data row");
	len += put(in + len, 'X', "dropped by observe, streamed in pieces");
	len += put(in + len, 'C', "SELECT 1");
	len += put(in + len, 'E', "answered by sluice");
	len += put(in + len, 'Z', "I");

	uint8_t want[512];
	size_t wlen = 0;
	wlen += put(want + wlen, 'T', "row description");
	wlen += put(want + wlen, 'D', "a data row");
	wlen += put(want + wlen, 'C', "SELECT 1");
	want[wlen++] = '!';
	wlen += put(want + wlen, 'Z', "I");

	int good = 0, afters = 0, counts = 0;
	for (size_t cut = 0; cut <= len; cut++) {
		struct owner o = { .drop_type = 'X', .answer_type = 'E' };
		size_t olen;
		enum relay_result res;
		char *got = relay_split(&o, in, len, cut, &olen, &res);
		good += olen == wlen && !memcmp(got, want, wlen) && res == RELAY_IDLE;
		afters += o.nafter == 6 && !memcmp(o.after, "TDXCEZ", 6);
		counts += o.r.counted == 1 && !o.r.unsynced && o.r.pending == 0;
		free(got);
	}
	is_int(good, (int)len + 1, "every cut: passed messages in order, the dropped one gone, "
	       "the hook's answer in its place");
	is_int(afters, (int)len + 1, "every cut: `after` once per message, in order");
	is_int(counts, (int)len + 1, "every cut: one counted type, nothing pending");
}

/* `observe` and `after` see only their types: the others pass unseen,
 * whole or in pieces. */
static void test_hook_types(void)
{
	struct relay_spec typed = spec, unseen = spec;
	memset(typed.observe_types, 0, sizeof typed.observe_types);
	memset(typed.after_types, 0, sizeof typed.after_types);
	typed.observe_types['X'] = true;
	typed.after_types['X'] = typed.after_types['C'] = typed.after_types['Z'] = true;
	memset(unseen.observe_types, 0, sizeof unseen.observe_types);
	relay_spec_ready(&typed);
	relay_spec_ready(&unseen);
	uint8_t in[512];
	size_t len = 0;
	len += put(in + len, 'T', "row description");
	len += put(in + len, 'D', "a data row");
	size_t x_at = len;
	size_t x_len = put(in + len, 'X', "dropped by observe, streamed in pieces");
	len += x_len;
	len += put(in + len, 'C', "SELECT 1");
	len += put(in + len, 'Z', "I");
	uint8_t want[512];
	memcpy(want, in, x_at);
	memcpy(want + x_at, in + x_at + x_len, len - x_at - x_len);
	int dropped = 0, afters = 0, passed = 0;
	for (size_t cut = 0; cut <= len; cut++) {
		struct owner o = { .drop_type = 'X', .spec = &typed };
		size_t olen;
		enum relay_result res;
		char *got = relay_split(&o, in, len, cut, &olen, &res);
		dropped += olen == len - x_len && !memcmp(got, want, olen);
		afters += o.nafter == 3 && !memcmp(o.after, "XCZ", 3);
		free(got);
		struct owner u = { .drop_type = 'X', .spec = &unseen };
		got = relay_split(&u, in, len, cut, &olen, &res);
		passed += olen == len && !memcmp(got, in, len);
		free(got);
	}
	is_int(dropped, (int)len + 1, "every cut: a type `observe` sees is dropped by it");
	is_int(afters, (int)len + 1, "every cut: `after` only for its types, in order");
	is_int(passed, (int)len + 1, "every cut: a type `observe` does not see passes");
}

static void test_stop_leaves_the_rest(void)
{
	uint8_t in[128];
	size_t len = 0;
	len += put(in + len, 'D', "row");
	len += put(in + len, 'Z', "I");
	size_t first = len;
	len += put(in + len, 'D', "next transaction");
	struct owner o = { .stop_type = 'Z' };
	struct buf *src = buf_new();
	o.dst = buf_new();
	buf_add(src, in, len);
	enum relay_result res = relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
	is_int(res, RELAY_STOPPED, "FORWARD_STOP stops");
	is_int((int)buf_len(o.dst), (int)first, "what came up to and with the stop passed");
	is_int((int)buf_len(src), (int)(len - first), "what came after it waits in src");
	buf_free(src);
	buf_free(o.dst);
}

/* RELAY_WAIT leaves the message and all after it in src, and shows it
 * again on the next run; relay_peek_next sees what follows it. */
static void test_wait_and_peek_next(void)
{
	uint8_t in[128];
	size_t len = 0;
	len += put(in + len, 'D', "before");
	size_t first = len;
	len += put(in + len, 'E', "x");
	size_t second = len;
	len += put(in + len, 'Q', "after");
	struct owner o = { .wait_type = 'E', .waits = 1 };
	struct buf *src = buf_new();
	o.dst = buf_new();
	buf_add(src, in, second);   /* the message after E has not come */
	enum relay_result res = relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
	is_int(res, RELAY_WAITING, "RELAY_WAIT: the run ends waiting");
	is_int((int)o.nnext, 0, "relay_peek_next: nothing after the message yet");
	is_int((int)buf_len(o.dst), (int)first, "what came before it passed");
	is_int((int)buf_len(src), (int)(second - first), "the waiting message stays in src");
	is_int(o.nafter, 1, "no after hook for the waiting message");
	buf_add(src, in + second, len - second);
	res = relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
	is_int(res, RELAY_IDLE, "shown again, it passes");
	is_int((int)o.nnext, 10, "relay_peek_next: the whole next message, header first");
	is_mem(o.next, o.nnext, in + second, len - second, "... byte for byte");
	is_int((int)buf_len(o.dst), (int)len, "everything reached dst, in order");
	is_int(o.nseen, 2, "the waiting message was shown twice");
	uint8_t buf[4];
	is_int((int)relay_peek_next(&o.r, buf, sizeof buf), 0, "relay_peek_next outside a run: 0");
	buf_free(src);
	buf_free(o.dst);
}

/* A scanned message is shown piece by piece; its last piece passes only
 * once its verdict let it, so a refused one never reaches dst whole. */
static void test_scan(void)
{
	uint8_t in[256];
	for (int bad = 0; bad <= 1; bad++) {
		for (size_t cut1 = 1; cut1 < 30; cut1 += 7) {
			size_t len = 0;
			len += put(in + len, 'D', "x");
			size_t first = len;
			len += put(in + len, 'Q', bad ? "SELECT 1; BAD thing here;" : "SELECT 1; fine thing here");
			size_t cuts[3] = { first + cut1, first + cut1 + 9, len };
			for (int k = 0; k < 3; k++)
				cuts[k] = cuts[k] < len ? cuts[k] : len;
			struct owner o = { 0 };
			struct buf *src = buf_new();
			o.dst = buf_new();
			size_t fed = 0;
			enum relay_result res = RELAY_IDLE;
			for (int k = 0; k < 3; k++) {
				buf_add(src, in + fed, cuts[k] - fed);
				fed = cuts[k];
				res = relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
				if (res == RELAY_FAILED)
					break;
			}
			if (bad) {
				is_int(res, RELAY_FAILED, "a refused scanned message fails the run");
				ok(buf_len(o.dst) < len, "cut %zu: its last piece never passed", cut1);
			} else {
				is_int(res, RELAY_IDLE, "an accepted scanned message passes");
				ok(buf_len(o.dst) == len, "cut %zu: all of it reached dst", cut1);
				is_int(o.scan_ends, 1, "one piece marked last, once per message");
				ok(o.scan_calls >= (cut1 + 9 < len - first ? 2 : 1), "shown in pieces as they came (%d)",
				   o.scan_calls);
			}
			buf_free(src);
			buf_free(o.dst);
		}
	}
	/* whole at once: one piece, then the verdict */
	size_t len = put(in, 'Q', "BAD");
	struct owner o = { 0 };
	struct buf *src = buf_new();
	o.dst = buf_new();
	buf_add(src, in, len);
	is_int(relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20), RELAY_FAILED, "refused whole: the run fails");
	is_int((int)buf_len(o.dst), 0, "... and nothing of it passed");
	buf_free(src);
	buf_free(o.dst);
}

static void test_peek(void)
{
	uint8_t in[128];
	size_t len = 0;
	len += put(in + len, 'D', "before");
	len += put(in + len, 'Q', "SELECT 42");
	struct owner o = { 0 };
	struct buf *src = buf_new();
	o.dst = buf_new();
	buf_add(src, in, len);
	(void)relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
	is_str(o.peeked, "SELECT 42", "peek sees a message behind another in the same buffer");
	buf_free(src);
	buf_free(o.dst);
}

static void test_bad_and_backpressure(void)
{
	uint8_t in[2048];
	struct owner o = { 0 };
	struct buf *src = buf_new();
	o.dst = buf_new();

	size_t len = put(in, 'D', "ok");
	in[len] = 'D';
	memcpy(in + len + 1, "\0\0\0\3", 4);   /* a length below 4 */
	buf_add(src, in, len + 5);
	is_int(relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20), RELAY_BAD_LENGTH, "a length below 4 is refused");
	is_int((int)buf_len(o.dst), (int)len, "... after the good message before it passed");

	buf_drain(src, buf_len(src));
	buf_drain(o.dst, buf_len(o.dst));
	memset(&o.r, 0, sizeof o.r);
	char big[200];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	len = put(in, 'E', big);
	buf_add(src, in, len);
	is_int(relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20), RELAY_BAD_LENGTH,
	       "an inspected message over max_inspect_len is refused");

	buf_drain(src, buf_len(src));
	memset(&o.r, 0, sizeof o.r);
	len = 0;
	for (int i = 0; i < 10; i++)
		len += put(in + len, 'D', "0123456789");
	buf_add(src, in, len);
	is_int(relay_run(&o.r, src, o.dst, &spec, &o, 30), RELAY_BACKPRESSURE, "backpressure above dst_high");
	ok(buf_len(o.dst) > 0 && buf_len(o.dst) <= 45,
	   "only about dst_high passed (%zu bytes)", buf_len(o.dst));
	buf_free(src);
	buf_free(o.dst);
}

/* A message longer than what has arrived streams through as it comes. */
static void test_streaming(void)
{
	char body[900];
	memset(body, 'y', sizeof body - 1);
	body[sizeof body - 1] = 0;
	uint8_t in[1024];
	size_t len = put(in, 'D', body);
	struct owner o = { 0 };
	struct buf *src = buf_new();
	o.dst = buf_new();
	buf_add(src, in, 100);
	(void)relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
	is_int((int)buf_len(o.dst), 100, "the first piece passed at once");
	is_int((int)o.r.pending, (int)(len - 100), "the rest is pending");
	is_int(o.nafter, 0, "`after` waits for the end of the message");
	buf_add(src, in + 100, len - 100);
	(void)relay_run(&o.r, src, o.dst, &spec, &o, 1 << 20);
	is_int((int)buf_len(o.dst), (int)len, "the rest followed");
	is_int(o.nafter, 1, "`after` ran once it had all passed");
	buf_free(src);
	buf_free(o.dst);
}

/* A 'B' longer than head_len is shown by its head; the owner replaces
 * its front and the rest streams as it comes, whatever the cuts. */
static void test_head(void)
{
	char body[600];
	memcpy(body, "name", 5);
	for (size_t i = 5; i < sizeof body - 1; i++)
		body[i] = (char)('a' + i % 26);
	body[sizeof body - 1] = 0;
	uint8_t in[1024];
	/* put() stops at the name's NUL: built by hand */
	size_t len, blen = sizeof body - 1;
	len = 0;
	in[len++] = 'B';
	in[len++] = 0;
	in[len++] = 0;
	in[len++] = (uint8_t)((blen + 4) >> 8);
	in[len++] = (uint8_t)(blen + 4);
	memcpy(in + len, body, blen);
	len += blen;
	size_t bend = len;
	len += put(in + len, 'Z', "I");
	uint8_t want[1024];
	size_t wlen = 0;
	size_t rest = blen - 5;
	uint8_t h[PQ_HEADER_LEN] = { 'B', 0, 0, (uint8_t)((rest + 8) >> 8), (uint8_t)(rest + 8) };
	memcpy(want, h, sizeof h);
	memcpy(want + 5, "NEW", 4);
	memcpy(want + 9, body + 5, rest);
	wlen = 9 + rest;
	memcpy(want + wlen, in + bend, len - bend);
	wlen += len - bend;
	for (size_t cut = 1; cut < len; cut += 37) {
		struct owner o = { 0 };
		size_t out_len;
		enum relay_result last;
		char *out = relay_split(&o, in, len, cut, &out_len, &last);
		ok(out_len == wlen && !memcmp(out, want, wlen),
		   "cut %zu: the front replaced, the rest passed", cut);
		ok(o.head_shown == 16, "cut %zu: shown head_len bytes of the body", cut);
		ok(o.head_body == blen, "cut %zu: relay_body_len tells the whole", cut);
		ok(o.nafter == 2, "cut %zu: `after` once for each message", cut);
		free(out);
	}
	struct owner o = { .head_drop = true };
	size_t out_len;
	enum relay_result last;
	char *out = relay_split(&o, in, len, 100, &out_len, &last);
	is_mem(out, out_len, in + bend, len - bend, "a long message dropped by its head: all of it");
	free(out);
	/* short enough to be shown whole: "nm\0ab" */
	len = 0;
	memcpy(in, "B\0\0\0\x09nm\0ab", 10);
	len = 10;
	memset(&o, 0, sizeof o);
	out = relay_split(&o, in, len, 3, &out_len, &last);
	is_int((int)o.head_shown, 5, "a short one is shown whole");
	is_mem(out, out_len, "B\0\0\0\x0aNEW\0ab", 11, "... and its front replaced");
	free(out);
}

int main(void)
{
	relay_spec_ready(&spec);
	test_head();
	test_order_at_every_cut();
	test_hook_types();
	test_stop_leaves_the_rest();
	test_peek();
	test_wait_and_peek_next();
	test_scan();
	test_bad_and_backpressure();
	test_streaming();
	return done_testing();
}
