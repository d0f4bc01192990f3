/*
 * proto.h — the PostgreSQL v3 wire protocol as pure functions over bytes.
 * No I/O and no libevent: unit tests and fuzzers drive these directly.
 *
 * INTERFACE ROUTINES
 *   proto_frame(data, avail, max, &hdr)        typed message framing
 *   proto_frame_startup(data, avail, &len)     untyped (startup) framing
 *   proto_parse_startup(body, len, &st, &why)  startup / SSL / GSSENC / cancel
 *   proto_clip_name(name, out)                 a user or database name as
 *                                              PostgreSQL keeps it (63 bytes)
 *   proto_parse_auth, proto_parse_param_status, proto_parse_backend_key,
 *   proto_parse_ready, proto_parse_error       server messages, checked
 *   proto_parse_sasl_initial, proto_parse_password   client auth messages
 *   proto_build_*                              (proto_build.c) whole messages
 *                                              into a pq_writer
 */
#ifndef SLUICE_PROTO_H
#define SLUICE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler.h"
#include "pq_writer.h"

#define PQ_STARTUP_MAX        10000u        /* longest startup packet accepted */
#define PQ_MESSAGE_MAX        0x40000000u   /* 1 GiB: default longest message */
#define PQ_HEADER_LEN         5u            /* type byte + int32 length */
#define PQ_PROTO(maj, min)    (((uint32_t)(maj) << 16) | (uint32_t)(min))
#define PQ_PROTO_MAJOR(v)     ((v) >> 16)
#define PQ_PROTO_MINOR(v)     ((v) & 0xffff)
#define PQ_PROTO_LATEST_MINOR 0             /* we speak 3.0 */
#define PQ_CANCEL_REQUEST     PQ_PROTO(1234, 5678)
#define PQ_SSL_REQUEST        PQ_PROTO(1234, 5679)
#define PQ_GSSENC_REQUEST     PQ_PROTO(1234, 5680)
#define PQ_STARTUP_MAX_PARAMS 64
#define PQ_NAME_MAX           63u           /* NAMEDATALEN - 1: longest user or database name */

/* Authentication request codes (the int32 after 'R'). */
enum pq_auth_code {
	PQ_AUTH_OK = 0, PQ_AUTH_CLEARTEXT = 3, PQ_AUTH_MD5 = 5,
	PQ_AUTH_SASL = 10, PQ_AUTH_SASL_CONTINUE = 11, PQ_AUTH_SASL_FINAL = 12,
};

enum pq_frame {
	PQ_FRAME_NEED_MORE,   /* fewer than the header's bytes are there */
	PQ_FRAME_HEADER,      /* header valid, body not all there yet */
	PQ_FRAME_COMPLETE,    /* the whole message is there */
	PQ_FRAME_BAD,         /* length below 4 or above the limit */
};

struct pq_header {
	char type;
	uint32_t len;         /* the length field: body + 4 */
};

static inline size_t pq_msg_total(const struct pq_header *h) { return 1 + (size_t)h->len; }
static inline size_t pq_body_len(const struct pq_header *h) { return (size_t)h->len - 4; }

enum pq_frame proto_frame(const uint8_t *data, size_t avail, uint32_t max_len,
			  struct pq_header *hdr);
/* Startup-style packet: int32 length first (8..PQ_STARTUP_MAX). */
enum pq_frame proto_frame_startup(const uint8_t *data, size_t avail, uint32_t *len);

enum startup_kind { STARTUP_NORMAL, STARTUP_SSL, STARTUP_GSSENC, STARTUP_CANCEL };

struct pq_param { const char *name, *value; };

/* A parsed startup packet; strings point into the caller's packet copy. */
struct pq_startup {
	int kind;                    /* enum startup_kind */
	uint32_t version;
	const char *user, *database; /* database defaults to user */
	struct pq_param params[PQ_STARTUP_MAX_PARAMS]; /* all but user/database/_pq_ */
	size_t nparams;
	const char *pq_options[PQ_STARTUP_MAX_PARAMS]; /* "_pq_.x" names, for NegotiateProtocolVersion */
	size_t npq_options;
	uint32_t cancel_pid, cancel_key;
};

/* `pkt` is the whole packet including its length word. On false, *why
 * says what is wrong and *sqlstate which code to send. */
bool proto_parse_startup(const uint8_t *pkt, size_t len, struct pq_startup *st,
			 const char **why, const char **sqlstate) MUST_CHECK;
/* A user or database name of a startup packet as PostgreSQL keeps it: its
 * first PQ_NAME_MAX bytes. PostgreSQL 15 (ProcessStartupPacket) cuts at
 * that byte even inside a multibyte character, and so does this. */
void proto_clip_name(const char *name, char out[PQ_NAME_MAX + 1]);
static inline bool proto_needs_negotiate(const struct pq_startup *st)
{
	return PQ_PROTO_MINOR(st->version) > PQ_PROTO_LATEST_MINOR || st->npq_options > 0;
}

/* Server messages; body = bytes after the length word. */
bool proto_parse_auth(const uint8_t *body, size_t len, uint32_t *code,
		      const uint8_t **data, size_t *dlen) MUST_CHECK;
bool proto_parse_param_status(const uint8_t *body, size_t len,
			      const char **name, const char **value) MUST_CHECK;
bool proto_parse_backend_key(const uint8_t *body, size_t len, uint32_t *pid, uint32_t *key) MUST_CHECK;
bool proto_parse_ready(const uint8_t *body, size_t len, char *status) MUST_CHECK;

struct pq_error_fields {
	const char *severity;     /* localized S, or V when present */
	const char *sqlstate;
	const char *message;
	const char *detail;
};
bool proto_parse_error(const uint8_t *body, size_t len, struct pq_error_fields *f) MUST_CHECK;

/* Client auth messages ('p'). */
bool proto_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
			      const uint8_t **data, size_t *dlen) MUST_CHECK;
bool proto_parse_password(const uint8_t *body, size_t len, const char **pw) MUST_CHECK;

/* Builders (proto_build.c): each appends one whole message. */
void proto_build_error(struct pq_writer *w, const char *severity, const char *sqlstate,
		       const char *message, const char *detail);
/* The same with PostgreSQL's F, L and R fields: for an error sluice gives
 * in PostgreSQL's place, which drivers recognise by where it came from
 * (asyncpg's InvalidCachedStatementError by its routine). */
struct pq_error_origin {
	const char *file, *line, *routine;
};
void proto_build_error_at(struct pq_writer *w, const char *severity, const char *sqlstate,
			  const char *message, const char *detail, const struct pq_error_origin *at);
void proto_build_notice(struct pq_writer *w, const char *sqlstate, const char *message);
/* A server's ErrorResponse (body) again, with the name "from" in its
 * message (quoted, as PostgreSQL quotes names) given as "to": what the
 * client would have read had it spoken to PostgreSQL under its own name.
 * False when the body is not a well-formed error (nothing is written). */
bool proto_build_error_renamed(struct pq_writer *w, const uint8_t *body, size_t len,
			       const char *from, const char *to) MUST_CHECK;
void proto_build_param_status(struct pq_writer *w, const char *name, const char *value);
void proto_build_backend_key(struct pq_writer *w, uint32_t pid, uint32_t key);
void proto_build_auth(struct pq_writer *w, uint32_t code, const void *data, size_t dlen);
void proto_build_ready(struct pq_writer *w, char status);
/* `newest` is a whole version word, PQ_PROTO(3, minor), as PostgreSQL
 * sends it and libpq reads it. */
void proto_build_negotiate(struct pq_writer *w, uint32_t newest,
			   const char *const *names, size_t n);
void proto_build_startup(struct pq_writer *w, const struct pq_param *params, size_t n);
void proto_build_query(struct pq_writer *w, const char *sql);
void proto_build_password(struct pq_writer *w, const char *pw);
void proto_build_sasl_initial(struct pq_writer *w, const char *mech, const void *data, size_t dlen);
void proto_build_sasl_response(struct pq_writer *w, const void *data, size_t dlen);
void proto_build_cancel(struct pq_writer *w, uint32_t pid, uint32_t key);
void proto_build_terminate(struct pq_writer *w);

#endif
