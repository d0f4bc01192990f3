/*
 * sqlscan_enc.c — the client-only encodings for the SQL scanner: which
 * sqlscan_enc a pair of PostgreSQL encoding names needs (every alias
 * encnames.c accepts), and how their bytes group into characters (the
 * mblen functions of PostgreSQL's wchar.c); and the decoding of U&""
 * names' escapes.
 */
#include <string.h>

#include "compiler.h"
#include "sqlscan.h"
#include "sqlscan_internal.h"

/* PostgreSQL's clean_encoding_name(): alphanumerics, lower case. */
static void clean_name(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (; in && *in && o + 1 < size; in++) {
		unsigned c = (unsigned char)*in;
		if ((c >= '0' && c <= '9') || (c | 0x20) - 'a' < 26)
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
	out[o] = 0;
}

enum sqlscan_enc sqlscan_encoding(const char *client_encoding, const char *server_encoding)
{
	static const struct { const char *name; enum sqlscan_enc enc; } names[] = {
		{ "sjis", SQLSCAN_ENC_SJIS }, { "shiftjis", SQLSCAN_ENC_SJIS },
		{ "mskanji", SQLSCAN_ENC_SJIS }, { "win932", SQLSCAN_ENC_SJIS },
		{ "windows932", SQLSCAN_ENC_SJIS }, { "shiftjis2004", SQLSCAN_ENC_SJIS },
		{ "big5", SQLSCAN_ENC_BIG5 }, { "win950", SQLSCAN_ENC_BIG5 },
		{ "windows950", SQLSCAN_ENC_BIG5 }, { "gbk", SQLSCAN_ENC_BIG5 },
		{ "win936", SQLSCAN_ENC_BIG5 }, { "windows936", SQLSCAN_ENC_BIG5 },
		{ "uhc", SQLSCAN_ENC_BIG5 }, { "win949", SQLSCAN_ENC_BIG5 },
		{ "windows949", SQLSCAN_ENC_BIG5 }, { "gb18030", SQLSCAN_ENC_GB18030 },
		{ "johab", SQLSCAN_ENC_JOHAB },
	};
	char c[64], sv[64];
	clean_name(client_encoding, c, sizeof c);
	clean_name(server_encoding, sv, sizeof sv);
	if (!strcmp(sv, "sqlascii"))   /* no conversion: the lexer sees the bytes */
		return SQLSCAN_ENC_ASCII_SAFE;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(c, names[i].name))
			return names[i].enc;
	return SQLSCAN_ENC_ASCII_SAFE;
}

/* In a client-only encoding: the byte as the lexer should see it, a later
 * byte of a multibyte character becoming a generic high byte. */
unsigned sqlscan_mb_step(const struct sqlscan *s, struct sqlscan_lane *L, unsigned raw)
{
	if (L->mb_left) {
		if (L->mb_gb) {   /* GB18030: a digit second byte means 4 bytes */
			L->mb_gb = 0;
			L->mb_left = raw >= '0' && raw <= '9' ? 2 : 0;
		} else {
			L->mb_left--;
		}
		return 0x80;
	}
	if (raw < 0x80)
		return raw;
	switch ((enum sqlscan_enc)s->enc) {
	case SQLSCAN_ENC_SJIS:
		if (raw < 0xa1 || raw > 0xdf)   /* 0xa1-0xdf: one-byte kana */
			L->mb_left = 1;
		break;
	case SQLSCAN_ENC_BIG5:
		L->mb_left = 1;
		break;
	case SQLSCAN_ENC_GB18030:
		L->mb_left = 1;
		L->mb_gb = 1;
		break;
	case SQLSCAN_ENC_JOHAB:
		L->mb_left = raw == 0x8f ? 2 : 1;
		break;
	case SQLSCAN_ENC_ASCII_SAFE:
		break;
	}
	return raw;
}

int sqlscan_hexval(unsigned c)
{
	if (c >= '0' && c <= '9') return (int)(c - '0');
	c |= 0x20;
	if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
	return -1;
}

size_t sqlscan_udecode(const unsigned char *r, size_t n, unsigned esc, char *out, size_t max,
		       bool *bad)
{
	size_t o = 0, i = 0;
	while (o < max && i < n) {
		if (r[i] != esc) {
			out[o++] = (char)r[i++];
			continue;
		}
		if (i + 1 < n && r[i + 1] == esc) {
			out[o++] = (char)esc;
			i += 2;
			continue;
		}
		size_t at = i + 1, nd = 4;
		if (at < n && r[at] == '+') {
			at++;
			nd = 6;
		}
		if (at + nd > n) {
			*bad = true;
			break;
		}
		unsigned long cp = 0;
		for (size_t k = 0; k < nd; k++) {
			int h = sqlscan_hexval(r[at + k]);
			if (h < 0)
				*bad = true;
			cp = cp * 16 + (unsigned)(h < 0 ? 0 : h);
		}
		if (*bad)
			break;
		/* a code point past ASCII is some high bytes in any server
		 * encoding: one stands for them (the prefix is ASCII) */
		out[o++] = (char)(cp < 0x80 ? cp : 0x80);
		i = at + nd;
	}
	return o;
}

void sqlscan_set_encoding(struct sqlscan *s, enum sqlscan_enc enc)
{
	s->enc = (uint8_t)enc;
}
