/*
 * relay.c — forward by length; pull up only what must be understood.
 */
#include <event2/buffer.h>

#include "proto.h"
#include "relay.h"

static void note_type(struct relay *r, const struct relay_spec *spec, uint8_t type)
{
	if (spec->count[type]) {
		r->counted++;
		r->unsynced = false;
	} else if (spec->unsync[type]) {
		r->unsynced = true;
	}
}

enum relay_result relay_run(struct relay *r, struct evbuffer *src, struct evbuffer *dst,
			    const struct relay_spec *spec, void *owner, size_t dst_high)
{
	for (;;) {
		size_t avail = evbuffer_get_length(src);
		if (r->pending > 0) {
			if (avail == 0)
				return RELAY_IDLE;
			size_t n = avail < r->pending ? avail : r->pending;
			if (r->dropping)
				evbuffer_drain(src, n);
			else
				evbuffer_remove_buffer(src, dst, n);
			r->pending -= (uint32_t)n;
			if (r->pending > 0)
				return RELAY_IDLE;
			if (spec->after)
				spec->after(owner, r->cur_type);
			continue;
		}
		if (evbuffer_get_length(dst) > dst_high)
			return RELAY_BACKPRESSURE;
		uint8_t hbuf[PQ_HEADER_LEN];
		struct pq_header h;
		if (avail < PQ_HEADER_LEN)
			return RELAY_IDLE;
		evbuffer_copyout(src, hbuf, PQ_HEADER_LEN);
		enum pq_frame f = proto_frame(hbuf, PQ_HEADER_LEN, spec->max_len, &h);
		if (f == PQ_FRAME_BAD)
			return RELAY_BAD_LENGTH;
		size_t total = pq_msg_total(&h);
		uint8_t type = (uint8_t)h.type;
		if (spec->peek && spec->peek_types[type])
			spec->peek(owner, h.type, src, avail < total ? avail : total);
		if (!spec->inspect[type]) {
			enum relay_action act = spec->observe ? spec->observe(owner, h.type) : RELAY_FORWARD;
			note_type(r, spec, type);
			size_t n = avail < total ? avail : total;
			r->dropping = act == RELAY_DROP;
			r->cur_type = h.type;
			if (r->dropping)
				evbuffer_drain(src, n);
			else
				evbuffer_remove_buffer(src, dst, n);
			r->pending = (uint32_t)(total - n);
			if (r->pending == 0 && spec->after)
				spec->after(owner, h.type);
			continue;
		}
		if (h.len > spec->max_inspect_len)
			return RELAY_BAD_LENGTH;
		if (avail < total)
			return RELAY_IDLE;
		const uint8_t *msg = evbuffer_pullup(src, (ev_ssize_t)total);
		if (!msg)
			return RELAY_FAILED;
		enum relay_action act = spec->observe ? spec->observe(owner, h.type) : RELAY_FORWARD;
		note_type(r, spec, type);
		if (act == RELAY_FORWARD)
			act = spec->fn(owner, h.type, msg + PQ_HEADER_LEN, pq_body_len(&h));
		switch (act) {
		case RELAY_FORWARD:
		case RELAY_FORWARD_STOP:
			evbuffer_remove_buffer(src, dst, total);
			break;
		case RELAY_DROP:
		case RELAY_DROP_STOP:
			evbuffer_drain(src, total);
			break;
		case RELAY_FAIL:
			return RELAY_FAILED;
		}
		if (spec->after)
			spec->after(owner, h.type);
		if (act == RELAY_FORWARD_STOP || act == RELAY_DROP_STOP)
			return RELAY_STOPPED;
	}
}
