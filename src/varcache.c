/*
 * varcache.c — tracked session parameters (those PostgreSQL reports with
 * ParameterStatus), and the SET that brings a server in line with a client.
 *
 * Values are strpool strings, so matching a server to a client (every
 * transaction, in transaction pooling) compares pointers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strpool.h"
#include "varcache.h"

static const char *names[VC_COUNT] = {
	[VC_CLIENT_ENCODING] = "client_encoding",
	[VC_DATESTYLE] = "DateStyle",
	[VC_TIMEZONE] = "TimeZone",
	[VC_INTERVALSTYLE] = "IntervalStyle",
	[VC_STANDARD_CONFORMING_STRINGS] = "standard_conforming_strings",
	[VC_APPLICATION_NAME] = "application_name",
};

static char extra_names[VC_EXTRA_MAX][64];
static unsigned generation;

unsigned varcache_generation(void)
{
	return generation;
}

bool varcache_set_extra(const char *list)
{
	int n = 0;
	generation++;
	for (int i = VC_BUILTIN; i < VC_COUNT; i++)
		names[i] = NULL;
	const char *p = list ? list : "";
	while (*p) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, ", \t");
		if (!len)
			break;
		char name[64];
		if (len >= sizeof name || n == VC_EXTRA_MAX)
			return false;
		memcpy(name, p, len);
		name[len] = 0;
		p += len;
		/* the name goes into a SET: identifier characters only */
		if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") != len)
			return false;
		if (varcache_index(name) >= 0)
			continue;   /* tracked already */
		memcpy(extra_names[n], name, len + 1);
		names[VC_BUILTIN + n] = extra_names[n];
		n++;
	}
	return true;
}

int varcache_index(const char *name)
{
	/* the first letter rejects most names before strcasecmp (a login's
	 * greeting looks every reported parameter up) */
	int first = tolower((unsigned char)name[0]);
	for (int i = 0; i < VC_COUNT && names[i]; i++)
		if (tolower((unsigned char)names[i][0]) == first && !strcasecmp(names[i], name))
			return i;
	return -1;
}

bool varcache_set(struct varcache *vc, const char *name, const char *value)
{
	int i = varcache_index(name);
	return i >= 0 && varcache_set_index(vc, i, value);
}

int varcache_count(void)
{
	int n = 0;
	while (n < VC_COUNT && names[n])
		n++;
	return n;
}

/* Where value i lives; NULL when it is an extra one and there is no
 * room for the extras (no memory). */
static const char **slot(struct varcache *vc, int i)
{
	if (i < VC_BUILTIN)
		return &vc->val[i];
	if (!vc->extra)
		vc->extra = calloc(VC_EXTRA_MAX, sizeof *vc->extra);
	return vc->extra ? &vc->extra[i - VC_BUILTIN] : NULL;
}

bool varcache_set_index(struct varcache *vc, int i, const char *value)
{
	const char **v = slot(vc, i);
	/* the same string first: a welcome sets most values to what they are */
	if (!v || (*v && (*v == value || !strcmp(*v, value))))
		return true;   /* (no memory: as below) */
	const char *copy = strpool_get(value);
	if (!copy)
		return true;   /* keep the old value; a later SET corrects it */
	strpool_put(*v);
	*v = copy;
	return true;
}

void varcache_set_held(struct varcache *vc, int i, const char *value)
{
	const char **v = slot(vc, i);
	if (!v || *v == value)
		return;
	strpool_put(*v);
	*v = strpool_hold(value);
}

/*
 * A dollar-quoted literal, $v$...$v$, with a tag the value does not hold.
 * Nothing inside it is an escape, so its end does not depend on
 * standard_conforming_strings, backslash_quote or the client encoding: in
 * SJIS, BIG5, GBK, UHC and GB18030 a character's second byte can be
 * 0x5C (backslash), so an E'' literal with its backslashes doubled ended
 * early on the server, which reads the character first (doc/security.md).
 * No character of any encoding PostgreSQL accepts from a client has '$'
 * (0x24) past its first byte, so the server finds the closing tag exactly
 * where it was put, or refuses the whole string as invalid; and a value
 * without "$" + the tag's name can neither hold the tag nor end with a
 * part of it that the closing tag would complete.
 */
static void put_quoted(struct pq_writer *w, const char *s)
{
	char tag[16] = "$v";
	for (unsigned n = 1; strstr(s, tag); n++)
		snprintf(tag, sizeof tag, "$v%u", n);
	size_t tlen = strlen(tag);
	pq_put_bytes(w, tag, tlen);
	pq_put_u8(w, '$');
	pq_put_bytes(w, s, strlen(s));
	pq_put_bytes(w, tag, tlen);
	pq_put_u8(w, '$');
}

static void put_set(struct pq_writer *w, int i, const char *v)
{
	pq_put_bytes(w, "SET ", 4);
	pq_put_bytes(w, names[i], strlen(names[i]));
	pq_put_bytes(w, " = ", 3);
	put_quoted(w, v);
	pq_put_bytes(w, ";", 1);
}

static bool differs(const struct varcache *want, const struct varcache *have, int i)
{
	const char *w = varcache_get(want, i);
	return w && w != varcache_get(have, i);   /* strpool strings: equal is identical */
}

static bool extras_equal(const struct varcache *a, const struct varcache *b)
{
	if (a->extra == b->extra)
		return true;   /* (both NULL) */
	for (int i = 0; i < VC_EXTRA_MAX; i++)
		if (varcache_get(a, VC_BUILTIN + i) != varcache_get(b, VC_BUILTIN + i))
			return false;
	return true;
}

/* client_encoding goes first, in a Query of its own: the server converts a
 * whole Query from the encoding in effect when it arrives, so the other
 * values (bytes in the client's encoding) must come after the change. */
int varcache_apply_sql(const struct varcache *want, const struct varcache *have, struct pq_writer *w)
{
	/* the usual link: a client back on a server that has its values
	 * (strpool strings, so equal values are equal pointers) */
	if (memcmp(want->val, have->val, sizeof want->val) == 0 && extras_equal(want, have))
		return 0;
	int queries = 0;
	if (differs(want, have, VC_CLIENT_ENCODING)) {
		pq_begin(w, 'Q');
		put_set(w, VC_CLIENT_ENCODING, varcache_get(want, VC_CLIENT_ENCODING));
		pq_put_u8(w, 0);
		pq_end(w);
		queries++;
	}
	bool any = false;
	for (int i = 0; i < VC_COUNT && names[i]; i++) {
		if (i == VC_CLIENT_ENCODING || !differs(want, have, i))
			continue;
		if (!any)
			pq_begin(w, 'Q');
		any = true;
		put_set(w, i, varcache_get(want, i));
	}
	if (any) {
		pq_put_u8(w, 0);
		pq_end(w);
		queries++;
	}
	return queries;
}

void varcache_copy(struct varcache *dst, const struct varcache *src)
{
	for (int i = 0; i < VC_COUNT && names[i]; i++)
		if (varcache_get(src, i))
			(void)varcache_set(dst, names[i], varcache_get(src, i));
}

void varcache_clear(struct varcache *vc)
{
	for (int i = 0; i < VC_BUILTIN; i++) {
		strpool_put(vc->val[i]);
		vc->val[i] = NULL;
	}
	if (vc->extra) {
		for (int i = 0; i < VC_EXTRA_MAX; i++)
			strpool_put(vc->extra[i]);
		free(vc->extra);
		vc->extra = NULL;
	}
}
