/*
 * relay.c — forward by length; look only at what must be understood.
 *
 * One call of relay_run walks the messages in src. Those that pass are
 * not moved one by one: `run` counts the bytes at the front of src that
 * have passed, and they move to dst together when something else must
 * happen first (a message dropped, a hook writing to dst) or when the
 * walk ends: usually one move of everything one read brought, which
 * hands src's array to an empty dst without copying a byte (buf_move).
 * src is one contiguous array (buf.h), so every header and every
 * inspected message is read where it lies.
 */
#include <string.h>

#include "buf.h"
#include "log.h"
#include "proto.h"
#include "relay.h"

/* One running relay_run; hooks may start another (a stack of them). */
struct run {
	struct relay *r;
	struct buf *src, *dst;
	size_t src_len, dst_len;   /* their lengths, kept here as they change */
	size_t run;                /* bytes at src's front passed, not yet moved */
	bool flushed;              /* a hook called relay_flush: dst may have grown */
	bool failed;               /* a move ran out of memory */
	size_t shown;              /* length of the message `fn` is shown (at `run`) */
	size_t skip;               /* bytes of it the owner replaced (relay_skip_head) */
	struct run *prev;
};

static struct run *running;

static void flush(struct run *x)
{
	if (x->run == 0)
		return;
	if (!buf_move(x->src, x->dst, x->run)) {
		x->failed = true;   /* the walk stops RELAY_FAILED */
		return;
	}
	x->src_len -= x->run;
	x->dst_len += x->run;
	x->run = 0;
}

void relay_flush(struct relay *r)
{
	for (struct run *x = running; x; x = x->prev) {
		if (x->r == r) {
			flush(x);
			x->flushed = true;
			return;
		}
	}
}

static struct run *shown_run(struct relay *r)
{
	for (struct run *x = running; x; x = x->prev)
		if (x->r == r && x->shown)
			return x;
	return NULL;
}

size_t relay_body_len(struct relay *r)
{
	struct run *x = shown_run(r);
	return x ? x->shown - PQ_HEADER_LEN : 0;
}

void relay_skip_head(struct relay *r, size_t n)
{
	struct run *x = shown_run(r);
	if (x)
		x->skip = n;
}

size_t relay_peek_next(struct relay *r, uint8_t *buf, size_t n)
{
	struct run *x = shown_run(r);
	if (!x)
		return 0;
	size_t at = x->run + x->shown;   /* the shown message lies at `run` */
	if (at >= x->src_len)
		return 0;
	if (n > x->src_len - at)
		n = x->src_len - at;
	memcpy(buf, buf_data(x->src) + at, n);
	return n;
}

/* The bytes at offset `run` of src (a flush moves `run` to 0). */
static inline const uint8_t *view(const struct run *x)
{
	return buf_data(x->src) + x->run;
}

/* Show bytes [skip, n) from `run` in src to spec->scan; `last`: they end
 * the message. */
static enum relay_action scan_feed(struct run *x, const struct relay_spec *spec, void *owner,
				   char type, size_t skip, size_t n, bool last)
{
	if (n <= skip)
		return last ? spec->scan(owner, type, (const uint8_t *)"", 0, true) : RELAY_FORWARD;
	return spec->scan(owner, type, view(x) + skip, n - skip, last);
}

void relay_spec_ready(struct relay_spec *spec)
{
	for (int t = 0; t < 256; t++)
		spec->flags[t] = (uint8_t)((spec->inspect[t] ? RELAY_T_INSPECT : 0) |
					   (spec->scan && spec->scan_types[t] ? RELAY_T_SCAN : 0) |
					   (spec->count[t] ? RELAY_T_COUNT : 0) |
					   (spec->unsync[t] ? RELAY_T_UNSYNC : 0) |
					   (spec->peek && spec->peek_types[t] ? RELAY_T_PEEK : 0) |
					   (spec->head[t] ? RELAY_T_HEAD : 0) |
					   (spec->observe && spec->observe_types[t] ? RELAY_T_OBSERVE : 0) |
					   (spec->after && spec->after_types[t] ? RELAY_T_AFTER : 0));
	spec->ready = true;
}

static inline void note_type(struct relay *r, uint8_t f)
{
	if (f & RELAY_T_COUNT) {
		r->counted++;
		r->unsynced = false;
	} else if (f & RELAY_T_UNSYNC) {
		r->unsynced = true;
	}
}

/* A hook ran. It may have flushed, and then written to dst; writing
 * without flushing first breaks the order (checked where it is cheap:
 * around `fn`, which sees few messages). */
static inline void after_hook(struct run *x, size_t run_before, bool check)
{
	if (x->flushed || check) {
		x->flushed = false;
		size_t dst_len = buf_len(x->dst);
		/* (a flush that ran out of memory left `run` as it was: the walk
		 * ends RELAY_FAILED, and the connection with it) */
		if (x->run == run_before && run_before > 0 && dst_len != x->dst_len && !x->failed)
			BUG("a relay hook wrote to its destination without relay_flush()");
		x->dst_len = dst_len;
	}
}

/* (run_after and take_message run for most messages that a hook sees:
 * always inline, they took a tenth of the relay's own instructions as
 * calls) */
static ALWAYS_INLINE void run_after(struct run *x, const struct relay_spec *spec, void *owner,
				     char type)
{
	size_t run_before = x->run;
	spec->after(owner, type);
	after_hook(x, run_before, false);
}

/* Pass (or drop) `n` bytes at offset `run` of src. */
static inline void take(struct run *x, size_t n, bool drop)
{
	if (!drop) {
		x->run += n;
		return;
	}
	flush(x);
	if (x->failed)
		return;
	buf_drain(x->src, n);
	x->src_len -= n;
}

/* Pass (or drop) what is here of a message of `total` bytes at `run`,
 * after dropping its first `skip`; what has not come yet is pending. */
static ALWAYS_INLINE void take_message(struct run *x, char type, size_t total, size_t skip,
					bool drop)
{
	struct relay *r = x->r;
	if (skip > 0)
		take(x, skip, true);
	size_t left = total - skip, avail = x->src_len - x->run;
	size_t n = avail < left ? avail : left;
	take(x, n, drop);
	r->pending = (uint32_t)(left - n);
	r->dropping = drop;
	r->scanning = false;
	r->cur_type = type;
}

/* The relay's one loop over the input, message by message: long on
 * purpose, as the hot path of every byte relayed, with the cases of a
 * message (whole, by its head, streamed, inspected or passed) side by
 * side rather than spread over calls. */
static enum relay_result walk(struct run *x, const struct relay_spec *spec, void *owner,
			      size_t dst_high)
{
	struct relay *r = x->r;
	for (;;) {
		if (unlikely(x->failed))
			return RELAY_FAILED;
		size_t avail = x->src_len - x->run;
		if (r->pending > 0) {
			if (avail == 0)
				return RELAY_IDLE;
			size_t n = avail < r->pending ? avail : r->pending;
			if (r->scanning) {
				/* the last piece passes only once the whole was judged:
				 * a peer never gets a refused message whole */
				bool last = n == r->pending;
				r->scanning = !last;
				if (scan_feed(x, spec, owner, r->cur_type, 0, n, last) != RELAY_FORWARD)
					return RELAY_FAILED;
			}
			take(x, n, r->dropping);
			r->pending -= (uint32_t)n;
			if (r->pending > 0)
				return RELAY_IDLE;
			if (spec->flags[(uint8_t)r->cur_type] & RELAY_T_AFTER)
				run_after(x, spec, owner, r->cur_type);
			continue;
		}
		if (x->dst_len + x->run > dst_high)
			return RELAY_BACKPRESSURE;
		if (avail < PQ_HEADER_LEN)
			return RELAY_IDLE;
		const uint8_t *hp = view(x);
		/* proto_frame()'s checks, inline: this runs for every message */
		struct pq_header h = { (char)hp[0], (uint32_t)hp[1] << 24 | (uint32_t)hp[2] << 16 |
						     (uint32_t)hp[3] << 8 | hp[4] };
		if (h.len < 4 || h.len > spec->max_len)
			return RELAY_BAD_LENGTH;
		size_t total = pq_msg_total(&h);
		uint8_t type = (uint8_t)h.type;
		uint8_t f = spec->flags[type];
		if (likely(!(f & ~(RELAY_T_COUNT | RELAY_T_UNSYNC))) && avail >= total) {
			/* nothing to show anyone, and here whole: most messages */
			note_type(r, f);
			r->cur_type = h.type;
			x->run += total;
			continue;
		}
		if (f & RELAY_T_PEEK) {
			/* as much of it as has come */
			spec->peek(owner, h.type, hp, avail < total ? avail : total);
		}
		bool observe = f & RELAY_T_OBSERVE;
		if (!(f & RELAY_T_INSPECT)) {
			enum relay_action act = observe ? spec->observe(owner, h.type) : RELAY_FORWARD;
			note_type(r, f);
			size_t n = avail < total ? avail : total;
			r->dropping = act == RELAY_DROP;
			r->cur_type = h.type;
			r->scanning = !r->dropping && (f & RELAY_T_SCAN);
			if (r->scanning) {
				r->scanning = n < total;
				size_t run_before = x->run;
				enum relay_action v = scan_feed(x, spec, owner, h.type, PQ_HEADER_LEN, n, n == total);
				if (x->flushed)
					after_hook(x, run_before, false);
				if (v == RELAY_DROP && n == total)
					r->dropping = true;   /* refused whole: what replaces it is in dst */
				else if (v != RELAY_FORWARD)
					return RELAY_FAILED;
			}
			take(x, n, r->dropping);
			r->pending = (uint32_t)(total - n);
			if (r->pending == 0 && (f & RELAY_T_AFTER))
				run_after(x, spec, owner, h.type);
			continue;
		}
		size_t shown = total;
		if ((f & RELAY_T_HEAD) && h.len - 4 > spec->head_len)
			shown = PQ_HEADER_LEN + spec->head_len;   /* the rest streams */
		else if (h.len > spec->max_inspect_len)
			return RELAY_BAD_LENGTH;
		if (avail < shown)
			return RELAY_IDLE;
		const uint8_t *msg = view(x);
		enum relay_action act = observe ? spec->observe(owner, h.type) : RELAY_FORWARD;
		note_type(r, f);
		size_t skip = 0;
		if (act == RELAY_FORWARD) {
			size_t run_before = x->run;
			x->shown = total;
			x->skip = 0;
			act = spec->fn(owner, h.type, msg + PQ_HEADER_LEN, shown - PQ_HEADER_LEN);
			skip = x->skip;
			x->shown = 0;
			after_hook(x, run_before, true);
			if (skip > shown)
				BUG("relay_skip_head() past what was shown");
		}
		switch (act) {
		case RELAY_FORWARD:
		case RELAY_FORWARD_STOP:
			take_message(x, h.type, total, skip, false);
			break;
		case RELAY_DROP:
		case RELAY_DROP_STOP:
			take_message(x, h.type, total, 0, true);
			break;
		case RELAY_WAIT:
			return RELAY_WAITING;
		case RELAY_FAIL:
			return RELAY_FAILED;
		}
		/* with bytes still to come, `after` runs once they have passed */
		if (r->pending == 0 && (f & RELAY_T_AFTER))
			run_after(x, spec, owner, h.type);
		if (act == RELAY_FORWARD_STOP || act == RELAY_DROP_STOP)
			return RELAY_STOPPED;
	}
}

enum relay_result relay_run(struct relay *r, struct buf *src, struct buf *dst,
			    const struct relay_spec *spec, void *owner, size_t dst_high)
{
	if (unlikely(!spec->ready))
		BUG("relay_run: a spec without relay_spec_ready()");
	struct run x = { .r = r, .src = src, .dst = dst, .prev = running,
			 .src_len = buf_len(src), .dst_len = buf_len(dst) };
	running = &x;
	enum relay_result res = walk(&x, spec, owner, dst_high);
	flush(&x);
	running = x.prev;
	return x.failed ? RELAY_FAILED : res;
}
