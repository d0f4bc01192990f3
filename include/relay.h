/*
 * relay.h — forward messages from one buffer to another by length.
 *
 * Headers are read where they lie in the source buffer. Consecutive
 * messages that pass are moved together, once, when something else must
 * happen (a drop, the end of the input): usually one move that hands the
 * array over, no copy, for everything one read brought. A message that
 * arrives in pieces is streamed through as its pieces arrive. Only message
 * types marked in the inspect table are shown to the owner (where they
 * lie: buffers are contiguous), who decides what happens to each.
 *
 * The rule for hooks: messages passed so far may still sit in `src`. A
 * hook that writes to `dst` itself calls relay_flush() first, so that
 * what it writes comes after them (relay_run checks, and stops with a BUG
 * when a hook broke the order).
 *
 * A type may also be inspected by its head: a message of a `head` type
 * longer than `head_len` is shown by its first `head_len` body bytes, and
 * the rest streams through as it arrives (a Bind's parameters: sluice
 * reads only the names in front of them). The owner may replace the
 * front of any message it is shown: it writes the new front to dst
 * (after relay_flush) and calls relay_skip_head(); the rest passes.
 *
 * INTERFACE ROUTINES
 *   relay_run(r, src, dst, spec, owner)   move what can be moved now
 *   relay_flush(r)                        from a hook of r's relay_run:
 *                                         move what was passed so far
 *   relay_peek_next(r, buf, n)            from `fn`: the bytes after the
 *                                         message shown
 *   relay_body_len(r)                     from `fn`: the whole body's
 *                                         length (more than shown: a head)
 *   relay_skip_head(r, n)                 from `fn`: drop the message's
 *                                         first n bytes, pass the rest
 */
#ifndef SLUICE_RELAY_H
#define SLUICE_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum relay_action {
	RELAY_FORWARD,       /* pass the message on */
	RELAY_DROP,          /* consume it, send nothing */
	RELAY_FORWARD_STOP,  /* pass it on, then stop relaying for now */
	RELAY_DROP_STOP,     /* consume it, then stop */
	RELAY_WAIT,          /* leave it (and all after it) in src for now */
	RELAY_FAIL,          /* the message is unacceptable */
};

enum relay_result {
	RELAY_IDLE,          /* everything available was moved */
	RELAY_STOPPED,       /* the owner asked to stop; input may remain */
	RELAY_WAITING,       /* the owner left a message to be shown again later */
	RELAY_BACKPRESSURE,  /* dst is above its high watermark */
	RELAY_BAD_LENGTH,    /* a length field was out of bounds */
	RELAY_FAILED,        /* the owner refused a message */
};

typedef enum relay_action (*relay_inspect_fn)(void *owner, char type,
					     const uint8_t *body, size_t len);
/* Optional per-message hooks (nothing shown): `observe` sees the type of each
 * message of its `observe_types` when its header arrives and may drop it
 * (RELAY_DROP) or let it pass (RELAY_FORWARD, then `inspect` rules apply);
 * `after` runs, for its `after_types`, once the whole message has been
 * passed or dropped. A hook that cares about a few types only is not
 * called for the rest (a DataRow is most of what a server sends). */
typedef enum relay_action (*relay_observe_fn)(void *owner, char type);
typedef void (*relay_after_fn)(void *owner, char type);
/* Optional: sees the start of a message of a `peek` type before it
 * moves: `n` bytes of it, header included (at least the header, at most
 * the whole message: as much as has arrived). */
typedef void (*relay_peek_fn)(void *owner, char type, const uint8_t *msg, size_t n);

/* Optional, for `scan_types` (types not inspected, so streamed): each
 * piece of such a message's body as it passes; `last` marks the piece that
 * ends it (first and last: the body whole, in one piece; an empty body
 * comes as one empty last piece). It answers RELAY_FORWARD to let a piece
 * pass (the last piece's answer comes before it passes: the verdict on
 * the whole); anything else ends the run RELAY_FAILED with the rest
 * unsent, so the peer never gets the message whole. One exception: to a
 * message shown whole in one piece it may answer RELAY_DROP, after
 * relay_flush() and writing what replaces it to dst; otherwise it never
 * writes to dst. */
typedef enum relay_action (*relay_scan_fn)(void *owner, char type, const uint8_t *p, size_t n,
					   bool last);

struct relay_spec {
	bool inspect[256];        /* message types shown to `fn` */
	bool scan_types[256];     /* types shown piece by piece to `scan` */
	bool count[256];          /* types counted in relay.counted (sync points) */
	bool unsync[256];         /* types that open work a later sync point ends */
	bool peek_types[256];     /* types shown to `peek` */
	bool head[256];           /* inspect types shown by their head when long */
	bool observe_types[256];  /* types `observe` sees (the others pass unseen) */
	bool after_types[256];    /* types `after` runs for */
	uint32_t max_len;         /* longest message accepted */
	uint32_t max_inspect_len; /* longest message shown whole to `fn` */
	uint32_t head_len;        /* body bytes of a long `head` message shown */
	relay_inspect_fn fn;
	relay_observe_fn observe;
	relay_after_fn after;
	relay_peek_fn peek;
	relay_scan_fn scan;
	/* made by relay_spec_ready from the tables above: one load tells
	 * the walk everything about a type (RELAY_T_*) */
	uint8_t flags[256];
	bool ready;
};

enum {
	RELAY_T_INSPECT = 1,   /* inspect */
	RELAY_T_SCAN = 2,      /* scan_types, with a `scan` */
	RELAY_T_COUNT = 4,     /* count */
	RELAY_T_UNSYNC = 8,    /* unsync */
	RELAY_T_PEEK = 16,     /* peek_types, with a `peek` */
	RELAY_T_HEAD = 32,     /* head */
	RELAY_T_OBSERVE = 64,  /* observe_types, with an `observe` */
	RELAY_T_AFTER = 128,   /* after_types, with an `after` */
};

/* Fill spec->flags from its tables and hooks; once after they are set
 * and again after any change. relay_run refuses a spec not ready. */
void relay_spec_ready(struct relay_spec *spec);

/* Per direction: bytes of the message in passage still to come. */
struct relay {
	uint32_t pending;
	bool dropping;            /* the pending bytes are dropped, not passed */
	bool scanning;            /* the message in passage goes to spec->scan */
	char cur_type;            /* type of the message in passage */
	uint32_t counted;         /* messages of spec->count types passed */
	bool unsynced;            /* an unsync type passed after the last count type */
};

enum relay_result relay_run(struct relay *r, struct buf *src, struct buf *dst,
			    const struct relay_spec *spec, void *owner, size_t dst_high);
/* Within a hook of relay_run(r, ...): move the messages passed so far to
 * dst now. Anywhere else (or for a relay not running) it does nothing. */
void relay_flush(struct relay *r);
/* Within `fn` of relay_run(r, ...): copy up to n bytes of what follows the
 * message shown (the next message's start, as far as it has arrived) into
 * buf; the count copied. 0 anywhere else. */
size_t relay_peek_next(struct relay *r, uint8_t *buf, size_t n);
/* Within `fn` of relay_run(r, ...): the length of the shown message's
 * body (larger than the `len` fn got when it is shown by its head). */
size_t relay_body_len(struct relay *r);
/* Within `fn` of relay_run(r, ...), which then answers RELAY_FORWARD:
 * the first n bytes of the message shown (header included, n at most
 * what was shown) are dropped, the rest passes. The owner has written
 * what replaces them to dst, after relay_flush(). */
void relay_skip_head(struct relay *r, size_t n);

#endif
