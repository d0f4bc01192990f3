/*
 * varcache.c — tracked session parameters (those PostgreSQL reports with
 * ParameterStatus), and the SET that brings a server in line with a client.
 *
 * Values are strpool strings, so matching a server to a client (every
 * transaction, in transaction pooling) compares pointers.
 */
#include <ctype.h>
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

bool varcache_set_extra(const char *list)
{
	int n = 0;
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

const char *varcache_name(int idx)
{
	return idx >= 0 && idx < VC_COUNT ? names[idx] : NULL;
}

bool varcache_set(struct varcache *vc, const char *name, const char *value)
{
	int i = varcache_index(name);
	if (i < 0)
		return false;
	if (vc->val[i] && !strcmp(vc->val[i], value))
		return true;
	const char *copy = strpool_get(value);
	if (!copy)
		return true;   /* keep the old value; a later SET corrects it */
	strpool_put(vc->val[i]);
	vc->val[i] = copy;
	return true;
}

/* An E'' literal: safe whatever standard_conforming_strings says. */
static void put_quoted(struct pq_writer *w, const char *s)
{
	pq_put_bytes(w, "E'", 2);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			pq_put_u8(w, (uint8_t)*s);
		pq_put_u8(w, (uint8_t)*s);
	}
	pq_put_u8(w, '\'');
}

bool varcache_apply_sql(const struct varcache *want, const struct varcache *have, struct pq_writer *w)
{
	bool any = false;
	for (int i = 0; i < VC_COUNT && names[i]; i++) {
		const char *v = want->val[i];
		if (!v || v == have->val[i])   /* strpool strings: equal is identical */
			continue;
		if (!any)
			pq_begin(w, 'Q');
		any = true;
		pq_put_bytes(w, "SET ", 4);
		pq_put_bytes(w, names[i], strlen(names[i]));
		pq_put_bytes(w, " = ", 3);
		put_quoted(w, v);
		pq_put_bytes(w, ";", 1);
	}
	if (any) {
		pq_put_u8(w, 0);
		pq_end(w);
	}
	return any;
}

void varcache_copy(struct varcache *dst, const struct varcache *src)
{
	for (int i = 0; i < VC_COUNT && names[i]; i++)
		if (src->val[i])
			(void)varcache_set(dst, names[i], src->val[i]);
}

void varcache_clear(struct varcache *vc)
{
	for (int i = 0; i < VC_COUNT; i++) {
		strpool_put(vc->val[i]);
		vc->val[i] = NULL;
	}
}
