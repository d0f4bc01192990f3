/*
 * proto_build.c — whole-message builders. Each appends exactly one message
 * to a pq_writer; the writer's sticky flag reports any failure once.
 */
#include <string.h>

#include "pq_reader.h"
#include "proto.h"

void proto_build_error_at(struct pq_writer *w, const char *severity, const char *sqlstate,
			  const char *message, const char *detail, const struct pq_error_origin *at)
{
	pq_begin(w, 'E');
	pq_put_u8(w, 'S');
	pq_put_cstring(w, severity);
	pq_put_u8(w, 'V');
	pq_put_cstring(w, severity);
	pq_put_u8(w, 'C');
	pq_put_cstring(w, sqlstate);
	pq_put_u8(w, 'M');
	pq_put_cstring(w, message);
	if (detail) {
		pq_put_u8(w, 'D');
		pq_put_cstring(w, detail);
	}
	if (at) {
		pq_put_u8(w, 'F');
		pq_put_cstring(w, at->file);
		pq_put_u8(w, 'L');
		pq_put_cstring(w, at->line);
		pq_put_u8(w, 'R');
		pq_put_cstring(w, at->routine);
	}
	pq_put_u8(w, 0);
	pq_end(w);
}

void proto_build_error(struct pq_writer *w, const char *severity, const char *sqlstate,
		       const char *message, const char *detail)
{
	proto_build_error_at(w, severity, sqlstate, message, detail, NULL);
}

void proto_build_notice(struct pq_writer *w, const char *sqlstate, const char *message)
{
	pq_begin(w, 'N');
	pq_put_u8(w, 'S');
	pq_put_cstring(w, "NOTICE");
	pq_put_u8(w, 'V');
	pq_put_cstring(w, "NOTICE");
	pq_put_u8(w, 'C');
	pq_put_cstring(w, sqlstate);
	pq_put_u8(w, 'M');
	pq_put_cstring(w, message);
	pq_put_u8(w, 0);
	pq_end(w);
}

void proto_build_param_status(struct pq_writer *w, const char *name, const char *value)
{
	/* a login's welcome has a dozen: each made whole here and appended
	 * once, rather than in four appends that each check for room */
	uint8_t msg[256];
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1, len = 4 + nl + vl;
	if (1 + len > sizeof msg) {
		pq_begin(w, 'S');
		pq_put_cstring(w, name);
		pq_put_cstring(w, value);
		pq_end(w);
		return;
	}
	msg[0] = 'S';
	msg[1] = (uint8_t)(len >> 24);
	msg[2] = (uint8_t)(len >> 16);
	msg[3] = (uint8_t)(len >> 8);
	msg[4] = (uint8_t)len;
	memcpy(msg + 5, name, nl);
	memcpy(msg + 5 + nl, value, vl);
	pq_put_bytes(w, msg, 1 + len);
}

void proto_build_backend_key(struct pq_writer *w, uint32_t pid, uint32_t key)
{
	pq_begin(w, 'K');
	pq_put_u32(w, pid);
	pq_put_u32(w, key);
	pq_end(w);
}

void proto_build_auth(struct pq_writer *w, uint32_t code, const void *data, size_t dlen)
{
	pq_begin(w, 'R');
	pq_put_u32(w, code);
	pq_put_bytes(w, data, dlen);
	pq_end(w);
}

void proto_build_ready(struct pq_writer *w, char status)
{
	pq_begin(w, 'Z');
	pq_put_u8(w, (uint8_t)status);
	pq_end(w);
}

void proto_build_negotiate(struct pq_writer *w, uint32_t newest,
			   const char *const *names, size_t n)
{
	pq_begin(w, 'v');
	pq_put_u32(w, newest);
	pq_put_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		pq_put_cstring(w, names[i]);
	pq_end(w);
}

void proto_build_startup(struct pq_writer *w, const struct pq_param *params, size_t n)
{
	pq_begin(w, 0);
	pq_put_u32(w, PQ_PROTO(3, 0));
	for (size_t i = 0; i < n; i++) {
		pq_put_cstring(w, params[i].name);
		pq_put_cstring(w, params[i].value);
	}
	pq_put_u8(w, 0);
	pq_end(w);
}

void proto_build_query(struct pq_writer *w, const char *sql)
{
	pq_begin(w, 'Q');
	pq_put_cstring(w, sql);
	pq_end(w);
}

void proto_build_password(struct pq_writer *w, const char *pw)
{
	pq_begin(w, 'p');
	pq_put_cstring(w, pw);
	pq_end(w);
}

void proto_build_sasl_initial(struct pq_writer *w, const char *mech, const void *data, size_t dlen)
{
	pq_begin(w, 'p');
	pq_put_cstring(w, mech);
	pq_put_u32(w, (uint32_t)dlen);
	pq_put_bytes(w, data, dlen);
	pq_end(w);
}

void proto_build_sasl_response(struct pq_writer *w, const void *data, size_t dlen)
{
	pq_begin(w, 'p');
	pq_put_bytes(w, data, dlen);
	pq_end(w);
}

void proto_build_cancel(struct pq_writer *w, uint32_t pid, uint32_t key)
{
	pq_begin(w, 0);
	pq_put_u32(w, PQ_CANCEL_REQUEST);
	pq_put_u32(w, pid);
	pq_put_u32(w, key);
	pq_end(w);
}

void proto_build_terminate(struct pq_writer *w)
{
	pq_begin(w, 'X');
	pq_end(w);
}

bool proto_build_error_renamed(struct pq_writer *w, const uint8_t *body, size_t len,
			       const char *from, const char *to)
{
	struct pq_reader r = pq_reader_make(body, len);
	size_t start = w->len;
	pq_begin(w, 'E');
	for (;;) {
		uint8_t code = pq_get_u8(&r);
		if (r.bad)
			break;
		pq_put_u8(w, code);
		if (code == 0)
			break;
		const char *v = pq_get_cstring(&r);
		if (!v)
			break;
		const char *at = NULL;
		size_t flen = strlen(from);
		if (code == 'M') {
			for (const char *p = strchr(v, '"'); p && !at; p = strchr(p + 1, '"'))
				if (!strncmp(p + 1, from, flen) && p[1 + flen] == '"')
					at = p + 1;
		}
		if (at) {
			pq_put_bytes(w, v, (size_t)(at - v));
			pq_put_bytes(w, to, strlen(to));
			pq_put_cstring(w, at + flen);
		} else {
			pq_put_cstring(w, v);
		}
	}
	if (r.bad || r.left != 0) {
		w->len = start;   /* not an error message as it should be */
		return false;
	}
	pq_end(w);
	return true;
}
