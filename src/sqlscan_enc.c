/*
 * sqlscan_enc.c — which sqlscan_enc a pair of PostgreSQL encoding names
 * needs: the client-only encodings whose later bytes can look like ASCII,
 * under every alias PostgreSQL's encnames.c accepts for them.
 */
#include <string.h>

#include "compiler.h"
#include "sqlscan.h"

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
