/*
 * hba.c — auth_hba_file: pg_hba.conf parsing and first-match lookup.
 *
 * Parsing works on one private copy of the file, in three steps:
 *   1. physical lines join into records where a line ends in a backslash
 *      (backslash and newline vanish, as in PostgreSQL: no blank is added);
 *   2. a record splits into tokens: blanks separate them, `#` outside quotes
 *      ends the record, "..." may hold blanks, commas and `#` ("" inside is a
 *      literal quote), and a comma ending a token puts the next token in the
 *      same field's list. Tokens are unquoted in place, so the names the
 *      rules keep point into the copy;
 *   3. fields are checked in order: type, databases, users, address (+ mask
 *      column), method, name=value options.
 * The first bad record fails the whole load with "file:line: reason", the
 * line being the record's first physical line.
 *
 * INTERFACE ROUTINES: see hba.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"    /* file_read_all */
#include "hba.h"

enum rule_type { R_LOCAL, R_HOST, R_HOSTSSL, R_HOSTNOSSL, R_HOSTGSSENC, R_HOSTNOGSSENC };
enum name_kind { N_LITERAL, N_ALL, N_SAMEUSER, N_REPLICATION };

struct hba_name {
	const char *s;               /* into hba_rules.text */
	enum name_kind kind;
};

struct hba_rule {
	int line;
	enum rule_type type;
	enum hba_method method;
	enum hba_clientcert clientcert;
	bool any_addr;               /* address "all", or a local record */
	int family;                  /* else AF_INET (4 bytes used) or AF_INET6 */
	uint8_t addr[16], mask[16];
	size_t db, ndb, user, nuser; /* ranges of hba_rules.names */
};

/* A zero-filled struct is a valid empty list: it rejects everyone. */
struct hba_rules {
	char *text;                  /* the file, records unquoted in place */
	size_t textlen;              /* its bytes, the final NUL included */
	struct hba_rule *rules;
	size_t n, cap;
	struct hba_name *names;      /* every rule's database and user lists */
	size_t nnames, capnames;
};

struct tok {
	char *s;
	bool quoted;                 /* any part was in "...": never a keyword */
	bool comma;                  /* ended by a comma: the list goes on */
};

struct parser {
	struct hba_rules *r;
	const char *name;
	int line;
	char *err;
	size_t errlen;
	struct tok *toks;            /* the current record's tokens */
	size_t ntoks, cap, pos;
};

static const struct { const char *name; enum rule_type type; } types[] = {
	{ "local", R_LOCAL }, { "host", R_HOST }, { "hostssl", R_HOSTSSL },
	{ "hostnossl", R_HOSTNOSSL }, { "hostgssenc", R_HOSTGSSENC },
	{ "hostnogssenc", R_HOSTNOGSSENC },
};

static const struct { const char *name; enum hba_method method; } methods[] = {
	{ "trust", HBA_TRUST }, { "reject", HBA_REJECT }, { "md5", HBA_MD5 },
	{ "scram-sha-256", HBA_SCRAM }, { "password", HBA_PASSWORD }, { "cert", HBA_CERT },
};

/* PostgreSQL's other methods: each needs something sluice does not have. */
static const char *const unsupported_methods[] = {
	"ident", "peer", "gss", "sspi", "pam", "bsd", "ldap", "radius",
};

const char *hba_method_name(enum hba_method m)
{
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (methods[i].method == m)
			return methods[i].name;
	return "unknown";
}

/* "name:line: reason" into the caller's buffer; always false. */
static bool PRINTF(2, 3) fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->errlen)
		return false;
	n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, p->line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Room for one more element: the (maybe moved) array, or NULL, arr intact. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	if (!(arr = realloc(arr, ncap * size)))
		return NULL;
	*cap = ncap;
	return arr;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next token at *pp, unquoted in place: 1, 0 at the end, -1 on an open quote. */
static int next_token(char **pp, struct tok *t)
{
	char *r = *pp, *w;
	bool in_quote = false;

	while (is_blank(*r) || *r == ',')
		r++;
	if (*r == 0 || *r == '#')
		return 0;
	*t = (struct tok){ .s = r };
	for (w = r; *r; ) {
		if (*r == '"') {
			if (in_quote && r[1] == '"') {
				*w++ = '"';
				r += 2;
			} else {
				in_quote = !in_quote;
				t->quoted = true;
				r++;
			}
			continue;
		}
		if (!in_quote && (is_blank(*r) || *r == '#' || *r == ','))
			break;
		*w++ = *r++;
	}
	if (in_quote)
		return -1;
	if (*r == ',') {
		t->comma = true;
		r++;
	} else if (is_blank(*r)) {
		r++;
	}                            /* at '#' or the end: the next call stops */
	*w = 0;                      /* w <= r: nothing unread is overwritten */
	*pp = r;
	return 1;
}

static bool tokenize(struct parser *p, char *rec)
{
	struct tok t;
	int got;

	p->ntoks = p->pos = 0;
	while ((got = next_token(&rec, &t)) > 0) {
		struct tok *nt = grow(p->toks, &p->cap, p->ntoks, sizeof *nt);
		if (!nt)
			return fail(p, "out of memory");
		p->toks = nt;
		p->toks[p->ntoks++] = t;
	}
	return got == 0 || fail(p, "unterminated quoted string");
}

/* The next field: tokens [*first, *first + *n). false at the end of the record. */
static bool field(struct parser *p, size_t *first, size_t *n)
{
	if (p->pos >= p->ntoks)
		return false;
	*first = p->pos;
	while (p->toks[p->pos++].comma && p->pos < p->ntoks)
		;
	*n = p->pos - *first;
	return true;
}

static bool is_kw(const struct tok *t, const char *kw)
{
	return !t->quoted && strcmp(t->s, kw) == 0;
}

/* The database field (users false) or the user field, into r->names. */
static bool parse_names(struct parser *p, bool users, size_t *first, size_t *count)
{
	struct hba_rules *r = p->r;
	size_t f, n;

	if (!field(p, &f, &n))
		return fail(p, "end-of-line before %s specification", users ? "role" : "database");
	*first = r->nnames;
	*count = n;
	for (size_t i = f; i < f + n; i++) {
		const struct tok *t = &p->toks[i];
		enum name_kind kind = N_LITERAL;
		struct hba_name *nn;

		if (is_kw(t, "all"))
			kind = N_ALL;
		else if (!users && is_kw(t, "sameuser"))
			kind = N_SAMEUSER;
		else if (!users && is_kw(t, "replication"))
			kind = N_REPLICATION;
		else if (!users && (is_kw(t, "samerole") || is_kw(t, "samegroup")))
			return fail(p, "\"%s\" is not supported (sluice cannot resolve role membership)", t->s);
		else if (users && !t->quoted && t->s[0] == '+')
			return fail(p, "\"%s\": group membership (+group) is not supported "
				    "(sluice cannot resolve role membership)", t->s);
		else if (!t->quoted && t->s[0] == '@' && t->s[1])
			return fail(p, "\"%s\": file inclusion (@file) is not supported", t->s);
		if (!(nn = grow(r->names, &r->capnames, r->nnames, sizeof *nn)))
			return fail(p, "out of memory");
		r->names = nn;
		r->names[r->nnames++] = (struct hba_name){ t->s, kind };
	}
	return true;
}

/* A numeric IPv4 or IPv6 address (the first len bytes of s): its family, or 0. */
static int parse_ip(const char *s, size_t len, uint8_t out[16])
{
	char buf[INET6_ADDRSTRLEN + 1];

	memset(out, 0, 16);
	if (len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (inet_pton(AF_INET, buf, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, out) == 1)
		return AF_INET6;
	return 0;
}

/* "/bits" after an address: decimal, at most 32 or 128. */
static bool prefix_mask(const char *s, int family, uint8_t mask[16])
{
	size_t n = strspn(s, "0123456789");
	int bits;

	if (n == 0 || n > 3 || s[n])
		return false;
	bits = atoi(s);
	if (bits > (family == AF_INET ? 32 : 128))
		return false;
	memset(mask, 0, 16);
	for (int i = 0; i < bits; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	return true;
}

static bool parse_address(struct parser *p, struct hba_rule *ru)
{
	const struct tok *t;
	const char *slash;
	size_t f, n, alen;
	int mfamily;

	if (!field(p, &f, &n))
		return fail(p, "end-of-line before IP address specification");
	if (n > 1)
		return fail(p, "multiple values specified for host address");
	t = &p->toks[f];
	if (is_kw(t, "all")) {
		ru->any_addr = true;
		return true;
	}
	if (is_kw(t, "samehost") || is_kw(t, "samenet"))
		return fail(p, "\"%s\" is not supported (use an IP address or CIDR range)", t->s);
	slash = strchr(t->s, '/');
	alen = slash ? (size_t)(slash - t->s) : strlen(t->s);
	if (!(ru->family = parse_ip(t->s, alen, ru->addr))) {
		if (memchr(t->s, ':', alen) || strspn(t->s, "0123456789.") >= alen)
			return fail(p, "invalid IP address \"%s\"", t->s);
		if (slash)
			return fail(p, "specifying both host name and CIDR mask is invalid: \"%s\"", t->s);
		return fail(p, "host name \"%s\" is not supported yet (use an IP address or CIDR range)", t->s);
	}
	if (slash) {
		if (!prefix_mask(slash + 1, ru->family, ru->mask))
			return fail(p, "invalid CIDR mask in address \"%s\"", t->s);
		return true;
	}
	if (!field(p, &f, &n))
		return fail(p, "end-of-line before netmask specification");
	if (n > 1)
		return fail(p, "multiple values specified for netmask");
	t = &p->toks[f];
	if (!(mfamily = parse_ip(t->s, strlen(t->s), ru->mask)))
		return fail(p, "invalid IP mask \"%s\"", t->s);
	if (mfamily != ru->family)
		return fail(p, "IP address and mask do not match");
	return true;
}

static bool parse_method(struct parser *p, struct hba_rule *ru)
{
	const char *m;
	size_t f, n, i;

	if (!field(p, &f, &n))
		return fail(p, "end-of-line before authentication method");
	if (n > 1)
		return fail(p, "multiple values specified for authentication type");
	m = p->toks[f].s;
	for (i = 0; i < ARRAY_SIZE(methods) && strcmp(m, methods[i].name) != 0; i++)
		;
	if (i == ARRAY_SIZE(methods)) {
		for (i = 0; i < ARRAY_SIZE(unsupported_methods); i++)
			if (strcmp(m, unsupported_methods[i]) == 0)
				return fail(p, "authentication method \"%s\" is not supported", m);
		return fail(p, "invalid authentication method \"%s\"", m);
	}
	ru->method = methods[i].method;
	if (ru->method == HBA_CERT && ru->type != R_HOSTSSL)
		return fail(p, "cert authentication is only supported on hostssl connections");
	return true;
}

/* One name=value after the method; opt is cut at the '='. */
static bool parse_option(struct parser *p, struct hba_rule *ru, char *opt)
{
	char *val = strchr(opt, '=');

	if (!val)
		return fail(p, "authentication option not in name=value format: %s", opt);
	*val++ = 0;
	if (strcmp(opt, "clientcert") == 0) {
		if (ru->type != R_HOSTSSL)
			return fail(p, "clientcert can only be configured for \"hostssl\" rows");
		if (strcmp(val, "verify-full") == 0)
			ru->clientcert = HBA_CLIENTCERT_FULL;
		else if (strcmp(val, "verify-ca") != 0)
			return fail(p, "invalid value for clientcert: \"%s\"", val);
		else if (ru->method == HBA_CERT)
			return fail(p, "clientcert only accepts \"verify-full\" when using \"cert\" authentication");
		else
			ru->clientcert = HBA_CLIENTCERT_CA;
	} else if (strcmp(opt, "clientname") == 0) {
		if (ru->type != R_HOSTSSL)
			return fail(p, "clientname can only be configured for \"hostssl\" rows");
		if (strcmp(val, "DN") == 0)
			return fail(p, "clientname=DN is not supported (only CN)");
		if (strcmp(val, "CN") != 0)
			return fail(p, "invalid value for clientname: \"%s\"", val);
	} else if (strcmp(opt, "map") == 0) {
		return fail(p, "authentication option \"map\" is not supported (no user name maps)");
	} else {
		return fail(p, "unrecognized authentication option name: \"%s\"", opt);
	}
	return true;
}

static bool is_include(const char *s)
{
	return strcmp(s, "include") == 0 || strcmp(s, "include_if_exists") == 0 ||
	       strcmp(s, "include_dir") == 0;
}

/* One joined record; blank and comment-only records add nothing. */
static bool parse_record(struct parser *p, char *rec)
{
	struct hba_rule ru = { .line = p->line };
	struct hba_rule *nr;
	size_t f, n, i;
	const char *type;

	if (!tokenize(p, rec))
		return false;
	if (!field(p, &f, &n))
		return true;
	if (n > 1)
		return fail(p, "multiple values specified for connection type");
	type = p->toks[f].s;
	for (i = 0; i < ARRAY_SIZE(types) && strcmp(type, types[i].name) != 0; i++)
		;
	if (i == ARRAY_SIZE(types))
		return is_include(type) ? fail(p, "\"%s\" directives are not supported", type)
					: fail(p, "invalid connection type \"%s\"", type);
	ru.type = types[i].type;
	if (!parse_names(p, false, &ru.db, &ru.ndb) || !parse_names(p, true, &ru.user, &ru.nuser))
		return false;
	if (ru.type == R_LOCAL)
		ru.any_addr = true;
	else if (!parse_address(p, &ru))
		return false;
	if (!parse_method(p, &ru))
		return false;
	while (field(p, &f, &n))
		for (i = f; i < f + n; i++)
			if (!parse_option(p, &ru, p->toks[i].s))
				return false;
	if (ru.method == HBA_CERT)
		ru.clientcert = HBA_CLIENTCERT_FULL;
	if (!(nr = grow(p->r->rules, &p->r->cap, p->r->n, sizeof *nr)))
		return fail(p, "out of memory");
	p->r->rules = nr;
	p->r->rules[p->r->n++] = ru;
	return true;
}

bool hba_parse(const char *text, size_t len, const char *name,
	       struct hba_rules **out, char *err, size_t errlen)
{
	struct hba_rules *r = calloc(1, sizeof *r);
	struct parser p = { .r = r, .name = name, .err = err, .errlen = errlen };
	char *rd, *end;
	int lineno = 0;
	bool ok = false;

	*out = NULL;
	if (!r || !(r->text = malloc(len + 1))) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto done;
	}
	memcpy(r->text, text, len);
	r->text[len] = 0;
	r->textlen = len + 1;
	end = r->text + len;
	rd = r->text;
	if (len >= 3 && memcmp(rd, "\xEF\xBB\xBF", 3) == 0)
		rd += 3;                             /* UTF-8 byte order mark */
	while (rd < end) {
		char *rec = rd, *w = rd;     /* records compact in place: w <= rd */
		bool more = true;

		p.line = lineno + 1;
		while (more && rd < end) {
			char *nl = memchr(rd, '\n', (size_t)(end - rd));
			char *le = nl ? nl : end;

			lineno++;
			if (memchr(rd, 0, (size_t)(le - rd))) {
				p.line = lineno;
				fail(&p, "NUL byte in line");
				goto done;
			}
			while (le > rd && le[-1] == '\r')
				le--;
			if ((more = le > rd && le[-1] == '\\'))
				le--;
			memmove(w, rd, (size_t)(le - rd));
			w += le - rd;
			rd = nl ? nl + 1 : end;
		}
		*w = 0;
		if (!parse_record(&p, rec))
			goto done;
	}
	if (r->n == 0) {
		snprintf(err, errlen, "%s: contains no entries (every connection would be rejected)", name);
		goto done;
	}
	ok = true;
done:
	free(p.toks);
	if (!ok) {
		hba_free(r);
		return false;
	}
	*out = r;
	return true;
}

bool hba_load(const char *path, struct hba_rules **out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	bool ok;

	*out = NULL;
	if (!file_read_all(path, &text, &len, err, errlen))
		return false;
	ok = hba_parse(text, len, path, out, err, errlen);
	free(text);
	return ok;
}

void hba_free(struct hba_rules *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->rules);
	free(r->names);
	free(r);
}

/* The names point into text: the copy's point into its own. */
struct hba_rules *hba_copy(const struct hba_rules *r)
{
	struct hba_rules *c = r ? calloc(1, sizeof *c) : NULL;
	if (!c)
		return NULL;
	c->text = malloc(r->textlen ? r->textlen : 1);
	c->rules = malloc(r->n ? r->n * sizeof *c->rules : 1);
	c->names = malloc(r->nnames ? r->nnames * sizeof *c->names : 1);
	if (!c->text || !c->rules || !c->names) {
		hba_free(c);
		return NULL;
	}
	if (r->textlen)
		memcpy(c->text, r->text, r->textlen);
	if (r->n)
		memcpy(c->rules, r->rules, r->n * sizeof *c->rules);
	c->textlen = r->textlen;
	c->n = c->cap = r->n;
	for (size_t i = 0; i < r->nnames; i++) {
		c->names[i] = r->names[i];
		if (r->names[i].s)
			c->names[i].s = c->text + (r->names[i].s - r->text);
	}
	c->nnames = c->capnames = r->nnames;
	return c;
}

size_t hba_count(const struct hba_rules *r)
{
	return r ? r->n : 0;
}

static bool conn_matches(const struct hba_rule *ru, enum hba_conn conn, bool tls)
{
	switch (ru->type) {
	case R_LOCAL:
		return conn == HBA_CONN_LOCAL;
	case R_HOST:
	case R_HOSTNOGSSENC:         /* no client of sluice uses GSSAPI encryption */
		return conn == HBA_CONN_TCP;
	case R_HOSTSSL:
		return conn == HBA_CONN_TCP && tls;
	case R_HOSTNOSSL:
		return conn == HBA_CONN_TCP && !tls;
	case R_HOSTGSSENC:
		return false;
	}
	return false;
}

/* IPv4 records match AF_INET peers only, IPv6 AF_INET6: ::ffff:a.b.c.d is IPv6. */
static bool addr_matches(const struct hba_rule *ru, const struct sockaddr *sa)
{
	const uint8_t *a;
	size_t len;

	if (ru->any_addr)
		return true;
	if (!sa || sa->sa_family != ru->family)
		return false;
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		len = 4;
	} else {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		len = 16;
	}
	for (size_t i = 0; i < len; i++)
		if ((a[i] ^ ru->addr[i]) & ru->mask[i])
			return false;
	return true;
}

/* `user` is set for a database list (sameuser); `replication` never matches. */
static bool names_match(const struct hba_rules *r, size_t first, size_t n,
			const char *want, const char *user)
{
	for (size_t i = first; i < first + n; i++) {
		const struct hba_name *nm = &r->names[i];
		if (nm->kind == N_ALL ||
		    (nm->kind == N_LITERAL && want && strcmp(nm->s, want) == 0) ||
		    (nm->kind == N_SAMEUSER && want && user && strcmp(want, user) == 0))
			return true;
	}
	return false;
}

struct hba_match hba_find_clientcert(const struct hba_rules *r)
{
	struct hba_match m = { HBA_REJECT, 0, HBA_CLIENTCERT_OFF };

	for (size_t i = 0; r && i < r->n; i++) {
		const struct hba_rule *ru = &r->rules[i];
		if (ru->clientcert != HBA_CLIENTCERT_OFF) {
			m.method = ru->method;
			m.line = ru->line;
			m.clientcert = ru->clientcert;
			break;
		}
	}
	return m;
}

struct hba_match hba_find(const struct hba_rules *r, enum hba_conn conn, bool tls,
			  const struct sockaddr *addr, const char *database, const char *user)
{
	struct hba_match m = { HBA_REJECT, 0, HBA_CLIENTCERT_OFF };

	for (size_t i = 0; r && i < r->n; i++) {
		const struct hba_rule *ru = &r->rules[i];
		if (conn_matches(ru, conn, tls) && addr_matches(ru, addr) &&
		    names_match(r, ru->db, ru->ndb, database, user) &&
		    names_match(r, ru->user, ru->nuser, user, NULL)) {
			m.method = ru->method;
			m.line = ru->line;
			m.clientcert = ru->clientcert;
			break;
		}
	}
	return m;
}
