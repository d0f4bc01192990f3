/*
 * prepared_idle.c — what a client holding no server gets answered by
 * sluice alone (prepared.h, prepared_client_idle): a Parse of a statement
 * its pool knows PostgreSQL accepts, a Describe of one whose description
 * sluice has, a Close of a statement, Flush and Sync. Whatever else comes
 * first takes a server, and everything from there on goes to it in order.
 */
#include <string.h>


#include "client_types.h"
#include "conn.h"
#include "pq_reader.h"
#include "prepared.h"
#include "proto.h"
#include "stmtreg.h"
#include "stmtshape.h"

static bool add_msg(struct client *c, char type, const uint8_t *body, size_t len)
{
	uint8_t hdr[PQ_HEADER_LEN] = { (uint8_t)type, (uint8_t)((len + 4) >> 24), (uint8_t)((len + 4) >> 16),
				       (uint8_t)((len + 4) >> 8), (uint8_t)(len + 4) };
	/* conn_add: an idle client's output buffer may be shed */
	return conn_add(&c->conn, hdr, sizeof hdr) && (len == 0 || conn_add(&c->conn, body, len));
}

/* Answer one whole message alone if sluice can: a Parse of a statement
 * the pool knows PostgreSQL accepts, a Describe of one whose description
 * is known, a Close of a statement, Flush and Sync. */
static enum prepared_idle answer_one(struct client *c, char type, const uint8_t *body, size_t len)
{
	struct pq_reader r = pq_reader_make(body, len);
	switch (type) {
	case 'P': {
		const char *cname = pq_get_cstring(&r);
		if (!cname || !*cname || (c->stmts && stmtreg_name_find(c->stmts, cname)))
			return PREPARED_IDLE_SERVER;
		struct pstmt *ps = stmtreg_find(c->pool, r.p, r.left);
		if (!ps || !ps->ok || !stmtreg_names(c))
			return PREPARED_IDLE_SERVER;
		if (!stmtreg_name_room(c, strlen(cname), r.left))
			return PREPARED_IDLE_FAIL;   /* (c is failed already) */
		stmtreg_hold(ps);
		if (!stmtreg_name_add(c->stmts, cname, ps)) {
			stmtreg_put(ps);
			return PREPARED_IDLE_FAIL;
		}
		return add_msg(c, '1', NULL, 0) ? PREPARED_IDLE_ANSWERED : PREPARED_IDLE_FAIL;
	}
	case 'D': {
		uint8_t what = pq_get_u8(&r);
		struct cstmt *e = what == 'S' ? stmtreg_named(c, pq_get_cstring(&r)) : NULL;
		if (!e || !e->ps->params || !e->ps->rows)
			return PREPARED_IDLE_SERVER;
		stmtreg_set_shape(&e->told_params, e->ps->params);
		stmtreg_set_shape(&e->told_rows, e->ps->rows);
		return add_msg(c, 't', e->ps->params->body, e->ps->params->len) &&
		       add_msg(c, e->ps->rows->kind, e->ps->rows->body, e->ps->rows->len)
		       ? PREPARED_IDLE_ANSWERED : PREPARED_IDLE_FAIL;
	}
	case 'C': {
		uint8_t what = pq_get_u8(&r);
		const char *cname = pq_get_cstring(&r);
		if (what != 'S' || !cname || !*cname)
			return PREPARED_IDLE_SERVER;
		if (c->stmts)
			stmtreg_name_del(c->stmts, cname);
		return add_msg(c, '3', NULL, 0) ? PREPARED_IDLE_ANSWERED : PREPARED_IDLE_FAIL;
	}
	case 'H':
		return PREPARED_IDLE_ANSWERED;
	case 'S': {
		uint8_t idle = 'I';
		return add_msg(c, 'Z', &idle, 1) ? PREPARED_IDLE_ANSWERED : PREPARED_IDLE_FAIL;
	}
	default:
		return PREPARED_IDLE_SERVER;
	}
}

enum prepared_idle prepared_client_idle(struct client *c, uint32_t max_len, char *next)
{
	for (;;) {
		size_t avail = conn_in_len(&c->conn);
		if (avail < PQ_HEADER_LEN)
			return avail ? PREPARED_IDLE_MORE : PREPARED_IDLE_ANSWERED;
		if (conn_out_full(&c->conn))
			return PREPARED_IDLE_FULL;   /* a client that does not read its answers */
		const uint8_t *hdr = buf_data(c->conn.in);   /* in place */
		char type = *next = (char)hdr[0];
		uint32_t mlen = (uint32_t)hdr[1] << 24 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 8 | hdr[4];
		static const bool answerable[256] = { ['P'] = true, ['D'] = true, ['C'] = true,
						      ['H'] = true, ['S'] = true };
		if (mlen < 4 || mlen > max_len || !answerable[(uint8_t)type])
			return PREPARED_IDLE_SERVER;   /* the relay judges it */
		size_t total = (size_t)mlen + 1;
		if (avail < total)
			return PREPARED_IDLE_MORE;
		const uint8_t *msg = hdr;
		enum prepared_idle res = answer_one(c, type, msg + PQ_HEADER_LEN, mlen - 4);
		if (res != PREPARED_IDLE_ANSWERED)
			return res;
		buf_drain(c->conn.in, total);
	}
}
