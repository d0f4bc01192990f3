/*
 * fuzz_proto — feeds arbitrary bytes to every protocol parser: typed
 * framing, startup packets, and the server/client message parsers.
 * Each parser gets an exact-size copy so an over-read is caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t which = data[0];
	size_t n = size - 1;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, n);

	struct pq_header h;
	uint32_t len, code, pid, key;
	const uint8_t *d;
	size_t dlen;
	const char *a, *b, *why, *sqlstate;
	char status;
	struct pq_error_fields f;
	struct pq_startup st;
	volatile int sink = 0;

	switch (which % 9) {
	case 0:
		(void)proto_frame(buf, n, PQ_MESSAGE_MAX, &h);
		(void)proto_frame_startup(buf, n, &len);
		break;
	case 1:
		if (proto_parse_startup(buf, n, &st, &why, &sqlstate) && st.kind == STARTUP_NORMAL) {
			size_t total = strlen(st.user) + strlen(st.database);
			for (size_t i = 0; i < st.nparams; i++)
				total += strlen(st.params[i].name) + strlen(st.params[i].value);
			(void)total;
		}
		break;
	case 2:
		sink += proto_parse_auth(buf, n, &code, &d, &dlen);
		break;
	case 3:
		sink += proto_parse_param_status(buf, n, &a, &b);
		break;
	case 4:
		sink += proto_parse_backend_key(buf, n, &pid, &key);
		break;
	case 5:
		sink += proto_parse_ready(buf, n, &status);
		break;
	case 6:
		sink += proto_parse_error(buf, n, &f);
		break;
	case 7:
		sink += proto_parse_sasl_initial(buf, n, &a, &d, &dlen);
		break;
	case 8:
		sink += proto_parse_password(buf, n, &a);
		break;
	}
	(void)sink;
	free(buf);
	return 0;
}
