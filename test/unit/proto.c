/*
 * proto.t — framing, startup parsing, server-message parsing and message
 * builders, byte-exact, including malformed input.
 */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "relay.h"
#include "sqlstate.h"
#include "tap.h"

/* Build a startup packet from a version and NUL-separated "k\0v\0..." pairs. */
static size_t make_startup(uint8_t *out, uint32_t version, const char *kv, size_t kvlen, int terminate)
{
	size_t len = 8 + kvlen + (terminate ? 1 : 0);
	out[0] = (uint8_t)(len >> 24); out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8); out[3] = (uint8_t)len;
	out[4] = (uint8_t)(version >> 24); out[5] = (uint8_t)(version >> 16);
	out[6] = (uint8_t)(version >> 8); out[7] = (uint8_t)version;
	memcpy(out + 8, kv, kvlen);
	if (terminate)
		out[8 + kvlen] = 0;
	return len;
}

/* Parse from an exact-size heap copy so ASan sees any over-read. */
static bool parse_exact(const uint8_t *pkt, size_t len, struct pq_startup *st,
			const char **why, const char **sqlstate)
{
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, pkt, len);
	bool ok = proto_parse_startup(copy, len, st, why, sqlstate);
	/* the parse keeps pointers into the packet: check them before freeing */
	static char user[64], db[64];
	user[0] = db[0] = 0;
	if (ok && st->kind == STARTUP_NORMAL) {
		snprintf(user, sizeof user, "%s", st->user);
		snprintf(db, sizeof db, "%s", st->database);
		st->user = user;
		st->database = db;
		/* param pointers die with the copy: keep only their count */
	}
	free(copy);
	return ok;
}

static void test_frame(void)
{
	static const struct {
		const char *name;
		uint8_t bytes[8];
		size_t avail;
		enum pq_frame want;
	} cases[] = {
		{ "empty needs more", {0}, 0, PQ_FRAME_NEED_MORE },
		{ "4 bytes need more", { 'Q', 0, 0, 0 }, 4, PQ_FRAME_NEED_MORE },
		{ "length 3 is bad", { 'Q', 0, 0, 0, 3 }, 5, PQ_FRAME_BAD },
		{ "length 0 is bad", { 'Q', 0, 0, 0, 0 }, 5, PQ_FRAME_BAD },
		{ "length 4 complete", { 'S', 0, 0, 0, 4 }, 5, PQ_FRAME_COMPLETE },
		{ "header only", { 'Q', 0, 0, 0, 8, 'a' }, 6, PQ_FRAME_HEADER },
		{ "whole message", { 'Q', 0, 0, 0, 6, 'a', 0 }, 7, PQ_FRAME_COMPLETE },
		{ "over the limit", { 'D', 0x40, 0, 0, 1 }, 5, PQ_FRAME_BAD },
		{ "negative length", { 'D', 0xff, 0xff, 0xff, 0xff }, 5, PQ_FRAME_BAD },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct pq_header h;
		is_int(proto_frame(cases[i].bytes, cases[i].avail, PQ_MESSAGE_MAX, &h), cases[i].want,
		       cases[i].name);
	}
	struct pq_header h;
	uint8_t small[] = { 'D', 0, 0, 0x10, 0 };
	is_int(proto_frame(small, 5, 1024, &h), PQ_FRAME_BAD, "configurable limit applies");

	uint32_t len;
	uint8_t s1[] = { 0, 0, 0, 7 };
	is_int(proto_frame_startup(s1, 4, &len), PQ_FRAME_BAD, "startup length 7 is bad");
	uint8_t s2[] = { 0, 0, 0x27, 0x11 };   /* 10001 */
	is_int(proto_frame_startup(s2, 4, &len), PQ_FRAME_BAD, "startup over 10000 bytes is bad");
	uint8_t s3[] = { 0, 0, 0x27, 0x10 };   /* 10000 */
	is_int(proto_frame_startup(s3, 4, &len), PQ_FRAME_HEADER, "startup of 10000 bytes is fine");
	is_int(proto_frame_startup(s3, 3, &len), PQ_FRAME_NEED_MORE, "3 bytes need more");
}

static void test_startup(void)
{
	uint8_t pkt[512];
	struct pq_startup st;
	const char *why, *sqlstate;
	static const char kv[] = "user\0alice\0database\0app\0application_name\0psql\0";
	size_t n = make_startup(pkt, PQ_PROTO(3, 0), kv, sizeof kv - 1, 1);
	ok(parse_exact(pkt, n, &st, &why, &sqlstate), "normal startup parses");
	is_str(st.user, "alice", "user");
	is_str(st.database, "app", "database");
	is_int(st.nparams, 1, "one other parameter");
	ok(st.params[0].name != NULL, "its name is kept");
	ok(!proto_needs_negotiate(&st), "3.0 needs no negotiation");

	static const char kv2[] = "user\0bob\0";
	n = make_startup(pkt, PQ_PROTO(3, 0), kv2, sizeof kv2 - 1, 1);
	ok(parse_exact(pkt, n, &st, &why, &sqlstate), "startup without database");
	is_str(st.database, "bob", "database defaults to the user");

	n = make_startup(pkt, PQ_PROTO(3, 0), kv2, sizeof kv2 - 1, 0);
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "missing terminator refused");
	is_str(sqlstate, SQLSTATE_PROTOCOL_VIOLATION, "as a protocol violation");

	static const char kv3[] = "user\0bo";
	n = make_startup(pkt, PQ_PROTO(3, 0), kv3, sizeof kv3 - 1, 0);
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "unterminated value refused");

	static const char kv4[] = "database\0x\0";
	n = make_startup(pkt, PQ_PROTO(3, 0), kv4, sizeof kv4 - 1, 1);
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "no user refused");
	is_str(sqlstate, SQLSTATE_INVALID_AUTHORIZATION, "with 28000");

	n = make_startup(pkt, PQ_PROTO(2, 0), kv2, sizeof kv2 - 1, 1);
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "protocol 2.0 refused");
	is_str(sqlstate, SQLSTATE_FEATURE_NOT_SUPPORTED, "with 0A000");

	static const char kv5[] = "user\0u\0_pq_.fancy\0on\0";
	n = make_startup(pkt, PQ_PROTO(3, 2), kv5, sizeof kv5 - 1, 1);
	ok(parse_exact(pkt, n, &st, &why, &sqlstate), "3.2 with _pq_ option parses");
	ok(proto_needs_negotiate(&st), "and needs NegotiateProtocolVersion");
	is_int(st.npq_options, 1, "one _pq_ option noted");

	n = make_startup(pkt, PQ_SSL_REQUEST, "", 0, 0);
	ok(parse_exact(pkt, n, &st, &why, &sqlstate) && st.kind == STARTUP_SSL, "SSLRequest");
	n = make_startup(pkt, PQ_GSSENC_REQUEST, "", 0, 0);
	ok(parse_exact(pkt, n, &st, &why, &sqlstate) && st.kind == STARTUP_GSSENC, "GSSENCRequest");
	n = make_startup(pkt, PQ_SSL_REQUEST, "x", 1, 0);
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "SSLRequest with trailing bytes refused");

	static const char keys[] = { 0, 0, 0x30, 0x39, 0x12, 0x34, 0x56, 0x78 };
	n = make_startup(pkt, PQ_CANCEL_REQUEST, keys, sizeof keys, 0);
	ok(parse_exact(pkt, n, &st, &why, &sqlstate) && st.kind == STARTUP_CANCEL, "CancelRequest");
	is_int(st.cancel_pid, 12345, "cancel pid");
	is_int(st.cancel_key, 0x12345678, "cancel key");
	n = make_startup(pkt, PQ_CANCEL_REQUEST, keys, 4, 0);
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "short CancelRequest refused");

	n = make_startup(pkt, PQ_PROTO(3, 0), kv2, sizeof kv2 - 1, 1);
	pkt[3] ^= 1;   /* declared length disagrees with the bytes given */
	ok(!parse_exact(pkt, n, &st, &why, &sqlstate), "length mismatch refused");
}

static void test_server_messages(void)
{
	uint32_t code, pid, key;
	const uint8_t *data;
	size_t dlen;
	static const uint8_t md5[] = { 0, 0, 0, 5, 1, 2, 3, 4 };
	ok(proto_parse_auth(md5, sizeof md5, &code, &data, &dlen) && code == PQ_AUTH_MD5 && dlen == 4,
	   "md5 request with salt");
	ok(!proto_parse_auth(md5, 7, &code, &data, &dlen), "md5 request with short salt refused");
	static const uint8_t okmsg[] = { 0, 0, 0, 0 };
	ok(proto_parse_auth(okmsg, 4, &code, &data, &dlen) && code == PQ_AUTH_OK, "AuthenticationOk");
	ok(!proto_parse_auth(okmsg, 3, &code, &data, &dlen), "truncated auth refused");
	static const uint8_t sasl[] = { 0, 0, 0, 10, 'S', 'C', 'R', 'A', 'M', 0, 0 };
	ok(proto_parse_auth(sasl, sizeof sasl, &code, &data, &dlen) && code == PQ_AUTH_SASL, "SASL list");
	ok(!proto_parse_auth(sasl, sizeof sasl - 1, &code, &data, &dlen), "unterminated SASL list refused");

	const char *name, *value;
	static const uint8_t ps[] = "TimeZone\0UTC";   /* includes the final NUL */
	ok(proto_parse_param_status(ps, sizeof ps, &name, &value) && !strcmp(value, "UTC"), "ParameterStatus");
	ok(!proto_parse_param_status(ps, sizeof ps - 1, &name, &value), "unterminated ParameterStatus refused");

	static const uint8_t bk[] = { 0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef };
	ok(proto_parse_backend_key(bk, 8, &pid, &key) && pid == 256 && key == 0xdeadbeef, "BackendKeyData");
	ok(!proto_parse_backend_key(bk, 7, &pid, &key), "short BackendKeyData refused");

	char st;
	ok(proto_parse_ready((const uint8_t *)"T", 1, &st) && st == 'T', "ReadyForQuery T");
	ok(!proto_parse_ready((const uint8_t *)"X", 1, &st), "ReadyForQuery with bad status refused");
	ok(!proto_parse_ready((const uint8_t *)"II", 2, &st), "ReadyForQuery too long refused");

	struct pq_error_fields f;
	static const uint8_t err[] = "SFATAL\0VFATAL\0C28P01\0Mno\0\0";
	ok(proto_parse_error(err, sizeof err - 1, &f) && !strcmp(f.sqlstate, "28P01"), "ErrorResponse");
	ok(!proto_parse_error(err, sizeof err - 2, &f), "ErrorResponse without terminator refused");
	static const uint8_t nocode[] = "SFATAL\0Mno\0\0";
	ok(!proto_parse_error(nocode, sizeof nocode - 1, &f), "ErrorResponse without SQLSTATE refused");

	const char *mech;
	static const uint8_t init[] = { 'S', 0, 0, 0, 0, 2, 'h', 'i' };
	ok(proto_parse_sasl_initial(init, sizeof init, &mech, &data, &dlen) && dlen == 2, "SASLInitialResponse");
	ok(!proto_parse_sasl_initial(init, sizeof init - 1, &mech, &data, &dlen), "with short data refused");
	static const uint8_t huge[] = { 'S', 0, 0x7f, 0xff, 0xff, 0xff, 'h' };
	ok(!proto_parse_sasl_initial(huge, sizeof huge, &mech, &data, &dlen), "with lying length refused");
}

static void test_builders(void)
{
	struct pq_writer w;
	pq_writer_init(&w);
	proto_build_ready(&w, 'I');
	is_mem(w.buf, w.len, "Z\0\0\0\5I", 6, "ReadyForQuery bytes");
	pq_writer_reset(&w);
	proto_build_backend_key(&w, 1, 2);
	is_mem(w.buf, w.len, "K\0\0\0\x0c\0\0\0\1\0\0\0\2", 13, "BackendKeyData bytes");
	pq_writer_reset(&w);
	proto_build_error(&w, "FATAL", "53300", "sorry", NULL);
	static const char e[] = "E\0\0\0\x21SFATAL\0VFATAL\0C53300\0Msorry\0";
	is_mem(w.buf, w.len, e, sizeof e, "ErrorResponse bytes");
	pq_writer_reset(&w);
	const char *opts[] = { "_pq_.x" };
	proto_build_negotiate(&w, PQ_PROTO(3, 0), opts, 1);
	is_mem(w.buf, w.len, "v\0\0\0\x13\0\3\0\0\0\0\0\1_pq_.x", 20, "NegotiateProtocolVersion bytes");
	pq_writer_reset(&w);
	proto_build_param_status(&w, "a", "b");
	is_mem(w.buf, w.len, "S\0\0\0\x08" "a\0b", 9, "ParameterStatus bytes");
	pq_writer_reset(&w);
	{
		/* a value too long for the one-piece way: the same bytes */
		char val[400];
		memset(val, 'v', sizeof val - 1);
		val[sizeof val - 1] = 0;
		proto_build_param_status(&w, "search_path", val);
		size_t want = 1 + 4 + 12 + sizeof val;
		ok(w.len == want && w.buf[0] == 'S' && w.buf[3] == (uint8_t)((want - 1) >> 8) &&
		   w.buf[4] == (uint8_t)(want - 1) && !memcmp(w.buf + 5, "search_path", 12) &&
		   !memcmp(w.buf + 17, val, sizeof val), "a long ParameterStatus: the same bytes");
		pq_writer_reset(&w);
	}
	proto_build_auth(&w, PQ_AUTH_MD5, "salt", 4);
	is_mem(w.buf, w.len, "R\0\0\0\x0c\0\0\0\5salt", 13, "AuthenticationMD5Password bytes");
	pq_writer_reset(&w);
	proto_build_cancel(&w, 7, 9);
	is_mem(w.buf, w.len, "\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\7\0\0\0\x09", 16, "CancelRequest bytes");
	ok(pq_writer_ok(&w), "writer still ok");
	pq_writer_free(&w);

	/* in the caller's room, then past it: the same bytes, on the heap */
	uint8_t room[8];
	pq_writer_init_room(&w, room, sizeof room);
	proto_build_ready(&w, 'I');
	ok(w.buf == room && w.len == 6, "a message that fits stays in the caller's room");
	proto_build_backend_key(&w, 1, 2);
	is_mem(w.buf, w.len, "Z\0\0\0\5IK\0\0\0\x0c\0\0\0\1\0\0\0\2", 19,
	       "past the room: moved to the heap whole");
	ok(w.buf != room, "... and off the room");
	pq_writer_free(&w);
	ok(w.buf == NULL && w.len == 0, "freed: empty");
}

/* User and database names are cut to 63 bytes, as PostgreSQL 15 cuts them
 * (byte-wise, even inside a UTF-8 character). */
static void test_clip_name(void)
{
	char out[PQ_NAME_MAX + 1], in[10000];
	proto_clip_name("alice", out);
	is_str(out, "alice", "a short name is kept whole");
	memset(in, 'b', 63);
	in[63] = 0;
	proto_clip_name(in, out);
	is_str(out, in, "63 bytes are kept whole");
	memset(in, 'c', sizeof in - 1);
	in[sizeof in - 1] = 0;
	proto_clip_name(in, out);
	is_int(strlen(out), 63, "a 9999-byte name keeps its first 63 bytes");
	ok(!memcmp(out, in, 63), "... unchanged");
	memset(in, 'a', 62);
	strcpy(in + 62, "\xc3\xa9zz");
	proto_clip_name(in, out);
	is_int(strlen(out), 63, "a 2-byte character at bytes 63-64 is cut after its first byte, as PostgreSQL 15 does");
	is_int((unsigned char)out[62], 0xc3, "... which is kept");
	proto_clip_name("", out);
	is_str(out, "", "the empty name stays empty");
}

int main(void)
{
	test_frame();
	test_startup();
	test_clip_name();
	test_server_messages();
	test_builders();
	return done_testing();
}
