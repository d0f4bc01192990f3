/*
 * connurl.c — a PostgreSQL connection URI into its parts, and back.
 *
 *   postgresql://alice:s%40cret@[::1]:5433/app?sslmode=require
 *   scheme        user  password host   port dbname  parameters
 *
 * The authority (between "//" and the first '/' or '?') splits at its
 * last '@' into login and host; the login at its first ':' into user and
 * password, so a password may hold ':' and even '@' unencoded. Each part
 * is percent-decoded on its own after the split, so an encoded '/', '?',
 * '@' or ':' never moves a boundary.
 *
 * INTERFACE ROUTINES: see connurl.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connurl.h"

static const char *const schemes[] = { "postgresql://", "postgres://" };

static size_t scheme_len(const char *text)
{
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(text, schemes[i], n) == 0)
			return n;
	}
	return 0;
}

bool connurl_is_url(const char *text)
{
	return text && scheme_len(text) > 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void wipe_free(char *s)
{
	if (s)
		explicit_bzero(s, strlen(s));
	free(s);
}

/*
 * [s, s + n) percent-decoded into a fresh string. `what` names the part in
 * errors; a secret part's text is never quoted in them.
 */
static bool decode(const char *s, size_t n, const char *what, bool secret, char **out,
		   char *err, size_t errlen)
{
	char *d = malloc(n + 1), *w = d;

	*out = NULL;
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*w++ = s[i];
			continue;
		}
		int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			if (secret)
				snprintf(err, errlen, "bad percent escape in the %s (a %% must start "
					 "%%XX, two hex digits; write %% itself as %%25)", what);
			else
				snprintf(err, errlen, "bad percent escape \"%.*s\" in the %s (a %% must start "
					 "%%XX, two hex digits; write %% itself as %%25)",
					 (int)(n - i < 3 ? n - i : 3), s + i, what);
			goto fail;
		}
		if (hi == 0 && lo == 0) {
			snprintf(err, errlen, "%%00 in the %s: a NUL byte is not allowed", what);
			goto fail;
		}
		*w++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*w = 0;
	*out = d;
	return true;
fail:
	explicit_bzero(d, n + 1);
	free(d);
	return false;
}

/* "1".."65535", nothing else (no sign, no blank, no leading '+'). */
static bool parse_port(const char *s, size_t n, int *port, char *err, size_t errlen)
{
	long v = 0;
	bool ok = n > 0 && n <= 5;
	for (size_t i = 0; ok && i < n; i++) {
		ok = s[i] >= '0' && s[i] <= '9';
		v = v * 10 + (s[i] - '0');
	}
	if (!ok || v < 1 || v > 65535) {
		snprintf(err, errlen, "port \"%.*s\" is not a number from 1 to 65535",
			 (int)(n > 20 ? 20 : n), s);
		return false;
	}
	*port = (int)v;
	return true;
}

/* Replace *slot with v; an empty v means "not given" unless keep_empty. */
static void set_part(char **slot, char *v, bool keep_empty)
{
	wipe_free(*slot);
	if (v && !*v && !keep_empty) {
		free(v);
		v = NULL;
	}
	*slot = v;
}

static bool parse_login(const char *s, size_t n, struct connurl *u, char *err, size_t errlen)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	char *v;

	if (!decode(s, ulen, "user name", false, &v, err, errlen))
		return false;
	set_part(&u->user, v, false);
	if (!colon)
		return true;
	if (!decode(colon + 1, n - ulen - 1, "password", true, &v, err, errlen))
		return false;
	set_part(&u->password, v, true);
	return true;
}

static bool parse_hostport(const char *s, size_t n, struct connurl *u, char *err, size_t errlen)
{
	const char *host = s, *port = NULL;
	size_t hlen = n, plen = 0;
	char *v;

	if (memchr(s, ',', n)) {
		snprintf(err, errlen, "several hosts (h1,h2,...) are not supported: give one");
		return false;
	}
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close) {
			snprintf(err, errlen, "IPv6 host: \"[\" without \"]\"");
			return false;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		if (hlen == 0) {
			snprintf(err, errlen, "IPv6 host: nothing between \"[\" and \"]\"");
			return false;
		}
		const char *rest = close + 1, *end = s + n;
		if (rest < end && *rest != ':') {
			snprintf(err, errlen, "IPv6 host: \"]\" must be followed by \":PORT\" or the end of the host");
			return false;
		}
		if (rest < end) {
			port = rest + 1;
			plen = (size_t)(end - port);
		}
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon) {
			hlen = (size_t)(colon - s);
			port = colon + 1;
			plen = n - hlen - 1;
		}
	}
	if (!decode(host, hlen, "host", false, &v, err, errlen))
		return false;
	set_part(&u->host, v, false);
	if (port && plen == 0) {
		snprintf(err, errlen, "empty port after \":\"");
		return false;
	}
	return !port || parse_port(port, plen, &u->port, err, errlen);
}

/* One name=value of the query. A parameter naming one of the URL's parts
 * (host, port, dbname, user, password) replaces it, as in libpq. */
static bool take_param(const char *s, size_t n, struct connurl *u, char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', n);
	char *name = NULL, *value = NULL;

	if (!eq) {
		snprintf(err, errlen, "query parameter \"%.*s\" has no \"=\" (write name=value)",
			 (int)(n > 40 ? 40 : n), s);
		return false;
	}
	if (eq == s) {
		snprintf(err, errlen, "query parameter with an empty name");
		return false;
	}
	if (!decode(s, (size_t)(eq - s), "parameter name", false, &name, err, errlen))
		return false;
	bool secret = strcmp(name, "password") == 0;
	char what[80];
	snprintf(what, sizeof what, "value of parameter %s", name);
	if (!decode(eq + 1, n - (size_t)(eq - s) - 1, what, secret, &value, err, errlen)) {
		free(name);
		return false;
	}
	bool ok = true;
	if (!strcmp(name, "host")) {
		set_part(&u->host, value, false);
	} else if (!strcmp(name, "dbname")) {
		set_part(&u->dbname, value, false);
	} else if (!strcmp(name, "user")) {
		set_part(&u->user, value, false);
	} else if (secret) {
		set_part(&u->password, value, true);
	} else if (!strcmp(name, "port")) {
		u->port = -1;
		ok = !*value || parse_port(value, strlen(value), &u->port, err, errlen);
		free(value);
	} else if (u->nparams == CONNURL_PARAMS_MAX) {
		snprintf(err, errlen, "more than %d query parameters", CONNURL_PARAMS_MAX);
		free(value);
		ok = false;
	} else {
		if (!u->params && !(u->params = calloc(CONNURL_PARAMS_MAX, sizeof *u->params))) {
			snprintf(err, errlen, "out of memory");
			free(value);
			free(name);
			return false;
		}
		u->params[u->nparams++] = (struct connurl_param){ name, value };
		return true;
	}
	free(name);
	return ok;
}

static bool parse_query(const char *q, struct connurl *u, char *err, size_t errlen)
{
	while (*q) {
		size_t n = strcspn(q, "&");
		if (n > 0 && !take_param(q, n, u, err, errlen))
			return false;
		q += n;
		if (*q == '&')
			q++;
	}
	return true;
}

bool connurl_parse(const char *text, struct connurl *u, char *err, size_t errlen)
{
	size_t sl = text ? scheme_len(text) : 0;

	memset(u, 0, sizeof *u);
	u->port = -1;
	if (!sl) {
		snprintf(err, errlen, "not a URL: it must start with postgresql:// or postgres://");
		return false;
	}
	for (const char *c = text; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			snprintf(err, errlen, "a blank or control character at offset %d: "
				 "percent-encode it (a blank is %%20)", (int)(c - text));
			return false;
		}
	}
	const char *auth = text + sl;
	size_t alen = strcspn(auth, "/?");
	const char *at = memrchr(auth, '@', alen);
	const char *hp = at ? at + 1 : auth, *end = auth + alen;

	if (at && !parse_login(auth, (size_t)(at - auth), u, err, errlen))
		return false;
	if (!parse_hostport(hp, (size_t)(end - hp), u, err, errlen))
		return false;
	const char *q = end;
	if (*end == '/') {
		size_t plen = strcspn(end + 1, "?");
		char *v;
		if (!decode(end + 1, plen, "database name", false, &v, err, errlen))
			return false;
		set_part(&u->dbname, v, false);
		q = end + 1 + plen;
	}
	return *q != '?' || parse_query(q + 1, u, err, errlen);
}

void connurl_free(struct connurl *u)
{
	if (!u)
		return;
	free(u->user);
	wipe_free(u->password);
	free(u->host);
	free(u->dbname);
	for (size_t i = 0; i < u->nparams; i++) {
		free(u->params[i].name);
		free(u->params[i].value);
	}
	free(u->params);
	memset(u, 0, sizeof *u);
	u->port = -1;
}

/* RFC 3986's unreserved characters (and `also`) stay; everything else is %XX. */
static void put_encoded(FILE *f, const char *s, char also)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (also && c == (unsigned char)also))
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

char *connurl_build(const struct connurl *u)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fputs("postgresql://", f);
	if (u->user || u->password) {
		if (u->user)
			put_encoded(f, u->user, 0);
		if (u->password) {
			fputc(':', f);
			put_encoded(f, u->password, 0);
		}
		fputc('@', f);
	}
	if (u->host && strchr(u->host, ':')) {
		fputc('[', f);         /* IPv6: its ':' as they are */
		put_encoded(f, u->host, ':');
		fputc(']', f);
	} else if (u->host) {
		put_encoded(f, u->host, 0);
	}
	if (u->port > 0)
		fprintf(f, ":%d", u->port);
	if (u->dbname) {
		fputc('/', f);
		put_encoded(f, u->dbname, 0);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

void connurl_scrub(char *text)
{
	size_t sl = text ? scheme_len(text) : 0;
	char err[200];

	if (!sl)
		return;
	char *auth = text + sl;
	size_t alen = strcspn(auth, "/?");
	char *at = memrchr(auth, '@', alen);
	char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon)
		memset(colon + 1, '*', (size_t)(at - colon - 1));
	char *q = strchr(auth + alen, '?');
	while (q && *q) {
		char *seg = q + 1;
		size_t n = strcspn(seg, "&");
		char *eq = memchr(seg, '=', n), *name = NULL;
		if (eq && decode(seg, (size_t)(eq - seg), "parameter name", false, &name, err, sizeof err) &&
		    !strcmp(name, "password"))
			memset(eq + 1, '*', n - (size_t)(eq - seg) - 1);
		free(name);
		q = seg[n] ? seg + n : NULL;
	}
}
