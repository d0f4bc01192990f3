/*
 * proto.c — framing and parsing of PostgreSQL v3 messages. Pure.
 *
 * Every parser takes (pointer, length) and reads through a pq_reader, so a
 * short or lying message makes the parse fail instead of reading past it.
 */
#include <string.h>

#include "pq_reader.h"
#include "proto.h"
#include "sqlstate.h"

static uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

enum pq_frame proto_frame(const uint8_t *data, size_t avail, uint32_t max_len,
			  struct pq_header *hdr)
{
	if (avail < PQ_HEADER_LEN)
		return PQ_FRAME_NEED_MORE;
	hdr->type = (char)data[0];
	hdr->len = be32(data + 1);
	if (hdr->len < 4 || hdr->len > max_len)
		return PQ_FRAME_BAD;
	return avail >= pq_msg_total(hdr) ? PQ_FRAME_COMPLETE : PQ_FRAME_HEADER;
}

enum pq_frame proto_frame_startup(const uint8_t *data, size_t avail, uint32_t *len)
{
	if (avail < 4)
		return PQ_FRAME_NEED_MORE;
	*len = be32(data);
	if (*len < 8 || *len > PQ_STARTUP_MAX)
		return PQ_FRAME_BAD;
	return avail >= *len ? PQ_FRAME_COMPLETE : PQ_FRAME_HEADER;
}

static bool parse_params(struct pq_reader *r, struct pq_startup *st,
			 const char **why, const char **sqlstate)
{
	for (;;) {
		const char *name = pq_get_cstring(r);
		if (!name)
			goto bad;
		if (!*name)
			break;          /* the terminating empty name */
		const char *value = pq_get_cstring(r);
		if (!value)
			goto bad;
		if (!strcmp(name, "user")) {
			st->user = value;
		} else if (!strcmp(name, "database")) {
			st->database = value;
		} else if (!strncmp(name, "_pq_.", 5)) {
			if (st->npq_options == PQ_STARTUP_MAX_PARAMS)
				goto too_many;
			st->pq_options[st->npq_options++] = name;
		} else {
			if (st->nparams == PQ_STARTUP_MAX_PARAMS)
				goto too_many;
			st->params[st->nparams].name = name;
			st->params[st->nparams].value = value;
			st->nparams++;
		}
	}
	if (!pq_reader_done(r))
		goto bad;
	return true;
bad:
	*why = "invalid startup packet layout: expected terminator as last byte";
	*sqlstate = SQLSTATE_PROTOCOL_VIOLATION;
	return false;
too_many:
	*why = "too many parameters in startup packet";
	*sqlstate = SQLSTATE_PROTOCOL_VIOLATION;
	return false;
}

bool proto_parse_startup(const uint8_t *pkt, size_t len, struct pq_startup *st,
			 const char **why, const char **sqlstate)
{
	/* the scalars only: the arrays (1.5 KiB) are read up to their counts */
	st->kind = 0;
	st->version = 0;
	st->user = st->database = NULL;
	st->nparams = st->npq_options = 0;
	st->cancel_pid = st->cancel_key = 0;
	*sqlstate = SQLSTATE_PROTOCOL_VIOLATION;
	struct pq_reader r = pq_reader_make(pkt, len);
	uint32_t declared = pq_get_u32(&r);
	st->version = pq_get_u32(&r);
	if (r.bad || declared != len || len < 8 || len > PQ_STARTUP_MAX) {
		*why = "invalid length of startup packet";
		return false;
	}
	switch (st->version) {
	case PQ_SSL_REQUEST:
		st->kind = STARTUP_SSL;
		goto fixed_size;
	case PQ_GSSENC_REQUEST:
		st->kind = STARTUP_GSSENC;
		goto fixed_size;
	case PQ_CANCEL_REQUEST:
		st->kind = STARTUP_CANCEL;
		st->cancel_pid = pq_get_u32(&r);
		st->cancel_key = pq_get_u32(&r);
		goto fixed_size;
	default:
		break;
	}
	st->kind = STARTUP_NORMAL;
	if (PQ_PROTO_MAJOR(st->version) != 3) {
		*why = "unsupported frontend protocol";
		*sqlstate = SQLSTATE_FEATURE_NOT_SUPPORTED;
		return false;
	}
	if (!parse_params(&r, st, why, sqlstate))
		return false;
	if (!st->user || !*st->user) {
		*why = "no PostgreSQL user name specified in startup packet";
		*sqlstate = SQLSTATE_INVALID_AUTHORIZATION;
		return false;
	}
	if (!st->database || !*st->database)
		st->database = st->user;
	return true;

fixed_size:
	if (!pq_reader_done(&r)) {
		*why = "invalid length of startup packet";
		return false;
	}
	return true;
}

void proto_clip_name(const char *name, char out[PQ_NAME_MAX + 1])
{
	size_t n = strnlen(name, PQ_NAME_MAX);
	memcpy(out, name, n);
	out[n] = 0;
}

bool proto_parse_auth(const uint8_t *body, size_t len, uint32_t *code,
		      const uint8_t **data, size_t *dlen)
{
	struct pq_reader r = pq_reader_make(body, len);
	*code = pq_get_u32(&r);
	if (r.bad)
		return false;
	*data = r.p;
	*dlen = r.left;
	switch (*code) {
	case PQ_AUTH_OK:
	case PQ_AUTH_CLEARTEXT:
		return r.left == 0;
	case PQ_AUTH_MD5:
		return r.left == 4;
	case PQ_AUTH_SASL:
		/* a list of mechanism names, ending with an empty one */
		return r.left >= 2 && r.p[r.left - 1] == 0 && r.p[r.left - 2] == 0;
	case PQ_AUTH_SASL_CONTINUE:
	case PQ_AUTH_SASL_FINAL:
		return true;
	default:
		return true;   /* caller refuses methods it does not speak */
	}
}

bool proto_parse_param_status(const uint8_t *body, size_t len,
			      const char **name, const char **value)
{
	struct pq_reader r = pq_reader_make(body, len);
	*name = pq_get_cstring(&r);
	*value = pq_get_cstring(&r);
	return pq_reader_done(&r);
}

bool proto_parse_backend_key(const uint8_t *body, size_t len, uint32_t *pid, uint32_t *key)
{
	struct pq_reader r = pq_reader_make(body, len);
	*pid = pq_get_u32(&r);
	*key = pq_get_u32(&r);
	return pq_reader_done(&r);
}

bool proto_parse_ready(const uint8_t *body, size_t len, char *status)
{
	struct pq_reader r = pq_reader_make(body, len);
	*status = (char)pq_get_u8(&r);
	return pq_reader_done(&r) && (*status == 'I' || *status == 'T' || *status == 'E');
}

bool proto_parse_error(const uint8_t *body, size_t len, struct pq_error_fields *f)
{
	memset(f, 0, sizeof *f);
	struct pq_reader r = pq_reader_make(body, len);
	for (;;) {
		uint8_t code = pq_get_u8(&r);
		if (r.bad)
			return false;
		if (code == 0)
			break;
		const char *val = pq_get_cstring(&r);
		if (!val)
			return false;
		switch (code) {
		case 'S': if (!f->severity) f->severity = val; break;
		case 'V': f->severity = val; break;
		case 'C': f->sqlstate = val; break;
		case 'M': f->message = val; break;
		case 'D': f->detail = val; break;
		default: break;
		}
	}
	return pq_reader_done(&r) && f->severity && f->sqlstate && f->message;
}

bool proto_parse_sasl_initial(const uint8_t *body, size_t len, const char **mech,
			      const uint8_t **data, size_t *dlen)
{
	struct pq_reader r = pq_reader_make(body, len);
	*mech = pq_get_cstring(&r);
	int32_t n = pq_get_i32(&r);
	if (r.bad || n < -1)
		return false;
	if (n == -1) {
		*data = NULL;
		*dlen = 0;
		return pq_reader_done(&r);
	}
	*data = pq_get_bytes(&r, (size_t)n);
	*dlen = (size_t)n;
	return pq_reader_done(&r);
}

bool proto_parse_password(const uint8_t *body, size_t len, const char **pw)
{
	struct pq_reader r = pq_reader_make(body, len);
	*pw = pq_get_cstring(&r);
	return pq_reader_done(&r);
}
