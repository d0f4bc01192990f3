/*
 * userlist.c — the auth_file, in PgBouncer's userlist.txt format.
 *
 *   "user" "secret" [anything else on the line is ignored]
 *
 * Inside quotes, "" is a literal ". Lines starting with ; or # are comments.
 * A user listed twice: the later line wins, as in PgBouncer. A malformed
 * line fails the whole load with "file:line: reason". A user whose
 * password is empty loads, with a warning naming file, line and user.
 *
 * Also home of file_read_all(), which config.c shares.
 *
 * INTERFACE ROUTINES: see userlist.h; file_read_all in config_internal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "log.h"
#include "md5auth.h"
#include "scram.h"
#include "userlist.h"

#define FILE_MAX (64u * 1024 * 1024)    /* no sane config or userlist is larger */
#define SCRAM_PREFIX "SCRAM-SHA-256$"

bool file_read_all(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	size_t cap = 0, n = 0;
	char *b = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*buf = NULL;
	*len = 0;
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return false;
	}
	for (;;) {
		if (cap - n < 2) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb = ncap > FILE_MAX ? NULL : realloc(b, ncap);
			if (!nb) {
				snprintf(err, errlen, "cannot read %s: %s", path,
					 ncap > FILE_MAX ? "file too large" : "out of memory");
				goto fail;
			}
			b = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, b + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = 0;
	*buf = b;
	*len = n;
	return true;
fail:
	free(b);
	close(fd);
	return false;
}

/* The one lookup; a hash can replace this loop without touching callers. */
static struct user_entry *find(const struct userlist *ul, const char *user)
{
	for (size_t i = 0; i < ul->n; i++)
		if (strcmp(ul->users[i].name, user) == 0)
			return &ul->users[i];
	return NULL;
}

const struct user_entry *userlist_find(const struct userlist *ul, const char *user)
{
	return ul && user ? find(ul, user) : NULL;
}

struct userlist *userlist_copy(const struct userlist *ul)
{
	struct userlist *c = calloc(1, sizeof *c);
	if (!c || (ul->n && !(c->users = calloc(ul->n, sizeof *c->users)))) {
		free(c);
		return NULL;
	}
	for (; c->n < ul->n; c->n++) {
		const struct user_entry *u = &ul->users[c->n];
		struct user_entry *d = &c->users[c->n];
		*d = *u;
		d->name = strdup(u->name);
		d->secret = strdup(u->secret);
		if (!d->name || !d->secret) {
			c->n++;   /* userlist_free frees what was copied of it */
			userlist_free(c);
			return NULL;
		}
	}
	return c;
}

void userlist_free(struct userlist *ul)
{
	if (!ul)
		return;
	for (size_t i = 0; i < ul->n; i++) {
		free(ul->users[i].name);
		free(ul->users[i].secret);
	}
	free(ul->users);
	free(ul);
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int userlist_secret_kind(const char *secret)
{
	if (strlen(secret) == 35 && strncmp(secret, "md5", 3) == 0 && is_lower_hex(secret + 3, 32))
		return SECRET_MD5;
	if (strncmp(secret, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) == 0)
		return SECRET_SCRAM;
	return SECRET_PLAIN;
}

/* PostgreSQL refuses an empty password and clears a stored one that
 * verifies "" (CREATE ROLE ... PASSWORD ''). Here: "" or md5("" + user); a
 * SCRAM verifier of "" would need a PBKDF2 run to recognise. */
bool userlist_secret_empty(const char *user, const char *secret)
{
	char h[MD5AUTH_LEN + 1];

	if (!*secret)
		return true;
	return userlist_secret_kind(secret) == SECRET_MD5 && md5auth_hash("", user, h) &&
	       strcmp(h, secret) == 0;
}

/* SCRAM-SHA-256$<iterations>:<salt>$<storedkey>:<serverkey>, base64 parts */
static bool scram_well_formed(const char *s)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	const char *p = s + strlen(SCRAM_PREFIX);
	size_t n;
	const char seps[] = ":$:";

	if (!(n = strspn(p, "0123456789")))
		return false;
	p += n;
	for (int i = 0; i < 3; i++) {
		if (*p++ != seps[i] || !(n = strspn(p, b64)))
			return false;
		p += n;
	}
	return *p == 0;
}

/* A well-formed SCRAM verifier whose count is above what sluice computes
 * from a cleartext password (SCRAM_CLIENT_ITER_MAX). */
static bool scram_iterations_over_max(const struct user_entry *u)
{
	if (u->kind != SECRET_SCRAM)
		return false;
	const char *p = u->secret + strlen(SCRAM_PREFIX);
	size_t n = strspn(p, "0123456789");
	while (n > 1 && *p == '0') {
		p++;
		n--;
	}
	if (n > 9)
		return true;
	return strtol(p, NULL, 10) > SCRAM_CLIENT_ITER_MAX;
}

/* "..." starting at *pp, "" -> ", unescaped in place. */
static bool take_quoted(char **pp, char **out)
{
	char *r = *pp + 1, *w = *pp;
	*out = w;
	for (;;) {
		if (*r == 0)
			return false;
		if (*r == '"') {
			if (r[1] != '"')
				break;
			r++;
		}
		*w++ = *r++;
	}
	*w = 0;
	*pp = r + 1;
	return true;
}

static bool add_user(struct userlist *ul, const char *name, const char *secret, int line)
{
	char *s = strdup(secret);
	struct user_entry *u = find(ul, name);

	if (!s)
		return false;
	if (u) {                 /* later line wins */
		free(u->secret);
		u->secret = s;
		u->kind = userlist_secret_kind(s);
		u->line = line;
		return true;
	}
	if ((ul->n & (ul->n - 1)) == 0) {  /* 0, 1, 2, 4, ...: grow to double */
		struct user_entry *nu = realloc(ul->users, (ul->n ? ul->n * 2 : 4) * sizeof *nu);
		if (!nu)
			goto fail;
		ul->users = nu;
	}
	u = &ul->users[ul->n];
	if (!(u->name = strdup(name)))
		goto fail;
	u->secret = s;
	u->kind = userlist_secret_kind(s);
	u->line = line;
	ul->n++;
	return true;
fail:
	free(s);
	return false;
}

static const char *parse_line(struct userlist *ul, char *p, int line)
{
	char *user, *secret;

	if (*p != '"')
		return "expected a quoted user name";
	if (!take_quoted(&p, &user))
		return "unterminated quoted user name";
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '"')
		return "expected a quoted secret after the user name";
	if (!take_quoted(&p, &secret))
		return "unterminated quoted secret";
	if (!*user)
		return "empty user name";
	if (userlist_secret_kind(secret) == SECRET_SCRAM && !scram_well_formed(secret))
		return "malformed SCRAM-SHA-256 secret (want SCRAM-SHA-256$iterations:salt$storedkey:serverkey)";
	if (!add_user(ul, user, secret, line))
		return "out of memory";
	return NULL;
}

bool userlist_parse(const char *text, size_t len, const char *name,
		    struct userlist **out, char *err, size_t errlen)
{
	struct userlist *ul = calloc(1, sizeof *ul);
	char *buf = malloc(len + 1);
	char *line, *next;
	const char *problem = NULL;
	int lineno = 0;

	*out = NULL;
	if (!ul || !buf) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	memcpy(buf, text, len);
	buf[len] = 0;
	for (line = buf; line < buf + len; line = next) {
		char *nl = memchr(line, '\n', (size_t)(buf + len - line));
		next = nl ? nl + 1 : buf + len;
		if (nl)
			*nl = 0;
		lineno++;
		if (strlen(line) != (size_t)(next - line) - (nl ? 1 : 0)) {
			problem = "NUL byte in line";
			break;
		}
		while (*line == ' ' || *line == '\t' || *line == '\r')
			line++;
		if (*line == 0 || *line == ';' || *line == '#')
			continue;
		if ((problem = parse_line(ul, line, lineno)))
			break;
	}
	if (problem) {
		snprintf(err, errlen, "%s:%d: %s", name, lineno, problem);
		goto fail;
	}
	for (size_t i = 0; i < ul->n; i++) {
		const struct user_entry *u = &ul->users[i];
		if (userlist_secret_empty(u->name, u->secret))
			log_warn("%s:%d: user \"%s\" has an empty password: every login that checks "
				 "a password will fail for it", name, u->line, u->name);
		if (scram_iterations_over_max(u))
			log_warn("%s:%d: user \"%s\": SCRAM verifier with %.*s iterations, more than sluice "
				 "computes for a cleartext password (%d): logins that send one (auth_type plain, "
				 "hba password) will fail for it; SCRAM logins are not affected", name, u->line,
				 u->name, (int)strspn(u->secret + strlen(SCRAM_PREFIX), "0123456789"),
				 u->secret + strlen(SCRAM_PREFIX), SCRAM_CLIENT_ITER_MAX);
	}
	free(buf);
	*out = ul;
	return true;
fail:
	free(buf);
	userlist_free(ul);
	return false;
}

bool userlist_load(const char *path, struct userlist **out, char *err, size_t errlen)
{
	char *text;
	size_t len;
	bool ok;

	*out = NULL;
	if (!file_read_all(path, &text, &len, err, errlen))
		return false;
	ok = userlist_parse(text, len, path, out, err, errlen);
	free(text);
	return ok;
}
