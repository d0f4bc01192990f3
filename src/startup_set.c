/*
 * startup_set.c — interned sets of startup settings (startup_set.h).
 *
 * A set's key is its pairs sorted by name, "name=value" joined by NUL
 * bytes (an options-born pair is marked by a leading '-'), so equal
 * settings give equal keys whatever order the client sent them in. The
 * table holds each key once; the last reference frees it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"
#include "startup_set.h"

static struct htab sets;

/* Only the count is zeroed: the pairs past it are never read, and a
 * login's builder is 2.5 KiB. */
void startup_builder_init(struct startup_builder *b)
{
	b->n = 0;
	b->bytes = 0;
}

void startup_builder_free(struct startup_builder *b)
{
	for (unsigned i = 0; i < b->n; i++)
		free(b->p[i].value);
	b->n = 0;
	b->bytes = 0;
}

/* Setting names go into SET statements unquoted: identifier characters
 * only (a custom setting has a dot). Checked and lower-cased in one pass
 * into out; false: empty, too long or another character. (strspn() with
 * a 64-byte set builds its table on every call, which cost more than the
 * rest of a login's startup packet.) */
static bool lower_name(const char *name, char out[STARTUP_NAME_MAX + 1])
{
	size_t len = 0;
	for (; name[len]; len++) {
		unsigned char ch = (unsigned char)name[len];
		if (len == STARTUP_NAME_MAX)
			return false;
		if (ch >= 'A' && ch <= 'Z')
			ch |= 0x20;
		else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'))
			return false;
		out[len] = (char)ch;
	}
	out[len] = 0;
	return len > 0;
}

static int find(const struct startup_builder *b, const char *name)
{
	for (unsigned i = 0; i < b->n; i++)
		if (!strcasecmp(b->p[i].name, name))
			return (int)i;
	return -1;
}

enum startup_add startup_builder_add(struct startup_builder *b, const char *name, const char *value,
				     bool from_options)
{
	char lower[STARTUP_NAME_MAX + 1];
	if (!lower_name(name, lower))
		return from_options ? STARTUP_ADD_BAD_OPTIONS : STARTUP_ADD_TOO_LONG;
	size_t nl = strlen(lower);
	int i = find(b, lower);
	if (i >= 0 && from_options && !b->p[i].from_options)
		return STARTUP_ADD_OK;   /* PostgreSQL applies `options` first */
	size_t old = i >= 0 ? strlen(b->p[i].name) + strlen(b->p[i].value) : 0;
	size_t bytes = b->bytes - old + nl + strlen(value);
	if (bytes > STARTUP_SET_BYTES_MAX)
		return STARTUP_ADD_TOO_LONG;
	if (i < 0 && b->n == STARTUP_SET_PARAMS_MAX)
		return STARTUP_ADD_TOO_MANY;
	char *v = strdup(value);
	if (!v)
		return STARTUP_ADD_NOMEM;
	if (i < 0) {
		i = (int)b->n++;
		memcpy(b->p[i].name, lower, nl + 1);
	} else {
		free(b->p[i].value);
	}
	b->p[i].value = v;
	b->p[i].from_options = from_options;
	b->bytes = bytes;
	return STARTUP_ADD_OK;
}

void startup_builder_remove(struct startup_builder *b, const char *name)
{
	int i = find(b, name);
	if (i < 0)
		return;
	b->bytes -= strlen(b->p[i].name) + strlen(b->p[i].value);
	free(b->p[i].value);
	b->p[i] = b->p[--b->n];
}

/* The next word of `options`, as PostgreSQL splits them: by white space,
 * a backslash taking the next character as it is. */
static const char *next_word(const char *s, char *out, size_t outlen, bool *too_long)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!*s)
		return NULL;
	size_t n = 0;
	while (*s && !isspace((unsigned char)*s)) {
		if (*s == '\\' && s[1])
			s++;
		if (n + 1 < outlen)
			out[n++] = *s;
		else
			*too_long = true;
		s++;
	}
	out[n] = 0;
	return s;
}

/* One "name=value" of -c or --: '-' in the name is '_' (PostgreSQL's
 * ParseLongOption). */
static enum startup_add add_assignment(struct startup_builder *b, char *word)
{
	char *eq = strchr(word, '=');
	if (!eq)
		return STARTUP_ADD_BAD_OPTIONS;
	*eq = 0;
	for (char *p = word; *p; p++)
		if (*p == '-')
			*p = '_';
	return startup_builder_add(b, word, eq + 1, true);
}

enum startup_add startup_builder_add_options(struct startup_builder *b, const char *text)
{
	char word[STARTUP_SET_BYTES_MAX + 1];
	bool too_long = false, want_c = false;
	const char *s = text;
	while ((s = next_word(s, word, sizeof word, &too_long))) {
		if (too_long)
			return STARTUP_ADD_TOO_LONG;
		enum startup_add r;
		if (want_c)
			r = add_assignment(b, word);
		else if (!strcmp(word, "-c"))
			r = STARTUP_ADD_OK;
		else if (!strncmp(word, "-c", 2))
			r = add_assignment(b, word + 2);
		else if (!strncmp(word, "--", 2))
			r = add_assignment(b, word + 2);
		else
			r = STARTUP_ADD_BAD_OPTIONS;   /* other switches of postgres: not ours to pass */
		if (r != STARTUP_ADD_OK)
			return r;
		want_c = !want_c && !strcmp(word, "-c");
	}
	return want_c ? STARTUP_ADD_BAD_OPTIONS : STARTUP_ADD_OK;
}

/* ---- the table of sets ---- */

static int pair_cmp(const void *a, const void *b)
{
	const struct startup_pair *x = a, *y = b;
	return strcmp(x->name, y->name);
}

/* The key of `n` sorted pairs into buf (NULL: only its length). */
static size_t key_of(const struct startup_pair *pairs, unsigned n, char *buf)
{
	size_t len = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t nl = strlen(pairs[i].name), vl = strlen(pairs[i].value);
		if (buf) {
			if (pairs[i].from_options)
				buf[len] = '-';
			len += pairs[i].from_options;
			memcpy(buf + len, pairs[i].name, nl);
			buf[len + nl] = '=';
			memcpy(buf + len + nl + 1, pairs[i].value, vl);
			buf[len + nl + 1 + vl] = 0;
		} else {
			len += pairs[i].from_options;
		}
		len += nl + vl + 2;
	}
	return len;
}

/* The set of these pairs (sorted here), shared; names and values are only
 * read. */
static bool intern_pairs(struct startup_pair *pairs, unsigned n, struct startup_set **out)
{
	*out = NULL;
	if (n == 0)
		return true;
	qsort(pairs, n, sizeof *pairs, pair_cmp);
	size_t keylen = key_of(pairs, n, NULL);
	/* twice: the key as it is, then a copy cut into the pairs' strings */
	char *key = malloc(2 * keylen);
	if (!key)
		return false;
	key_of(pairs, n, key);
	memcpy(key + keylen, key, keylen);
	uint64_t hash = siphash_of(key, keylen);
	for (struct htab_node *hn = htab_find(&sets, hash); hn; hn = htab_find_next(hn)) {
		struct startup_set *s = (struct startup_set *)hn;
		if (s->keylen == keylen && !memcmp(s->key, key, keylen)) {
			free(key);
			*out = startup_set_ref(s);
			return true;
		}
	}
	struct startup_set *s = calloc(1, sizeof *s + n * sizeof s->pairs[0]);
	if (!s || !htab_add(&sets, &s->node, hash)) {
		free(s);
		free(key);
		return false;
	}
	s->refs = 1;
	s->n = n;
	s->shared = true;
	s->key = key;
	s->keylen = keylen;
	/* the pairs point into the key's copy: "[-]name=value\0" each */
	char *p = key + keylen;
	for (unsigned i = 0; i < n; i++) {
		s->pairs[i].from_options = *p == '-';
		p += s->pairs[i].from_options;
		char *eq = strchr(p, '=');
		*eq = 0;
		s->pairs[i].name = p;
		s->pairs[i].value = eq + 1;
		p = eq + 1 + strlen(eq + 1) + 1;
	}
	*out = s;
	return true;
}

bool startup_set_intern(const struct startup_builder *b, struct startup_set **out)
{
	struct startup_pair pairs[STARTUP_SET_PARAMS_MAX];
	for (unsigned i = 0; i < b->n; i++)
		pairs[i] = (struct startup_pair){ b->p[i].name, b->p[i].value, b->p[i].from_options };
	return intern_pairs(pairs, b->n, out);
}

/* A client's settings wait here from its startup packet to its login,
 * where startup_set_filter makes the shared set its pool keeps: one
 * allocation, neither sorted nor hashed nor in the table. (Interned, a
 * set that held application_name was made and freed again at nearly
 * every login in transaction mode, which drops that name.) */
bool startup_set_unshared(const struct startup_builder *b, struct startup_set **out)
{
	*out = NULL;
	if (b->n == 0)
		return true;
	size_t text = 0;
	for (unsigned i = 0; i < b->n; i++)
		text += strlen(b->p[i].name) + strlen(b->p[i].value) + 2;
	size_t head = sizeof **out + b->n * sizeof (*out)->pairs[0];
	struct startup_set *s = malloc(head + text);
	if (!s)
		return false;
	memset(s, 0, sizeof *s);
	s->refs = 1;
	s->n = b->n;
	char *p = (char *)s + head;
	for (unsigned i = 0; i < b->n; i++) {
		size_t nl = strlen(b->p[i].name) + 1, vl = strlen(b->p[i].value) + 1;
		memcpy(p, b->p[i].name, nl);
		memcpy(p + nl, b->p[i].value, vl);
		s->pairs[i] = (struct startup_pair){ p, p + nl, b->p[i].from_options };
		p += nl + vl;
	}
	*out = s;
	return true;
}

bool startup_set_filter(struct startup_set *set, bool (*keep)(const struct startup_pair *, void *),
			void *arg, struct startup_set **out)
{
	struct startup_pair pairs[STARTUP_SET_PARAMS_MAX];
	unsigned n = 0;
	for (unsigned i = 0; set && i < set->n; i++)
		if (keep(&set->pairs[i], arg))
			pairs[n++] = (struct startup_pair){ set->pairs[i].name, set->pairs[i].value, false };
	return intern_pairs(pairs, n, out);
}

struct startup_set *startup_set_ref(struct startup_set *set)
{
	if (set)
		set->refs++;
	return set;
}

void startup_set_put(struct startup_set *set)
{
	if (!set || --set->refs > 0)
		return;
	if (!set->shared) {
		free(set);
		return;
	}
	htab_del(&sets, &set->node);
	varcache_clear(&set->canon);
	free(set->key);
	free(set);
	if (htab_count(&sets) == 0)
		htab_free(&sets);
}

const char *startup_set_get(const struct startup_set *set, const char *name)
{
	for (unsigned i = 0; set && i < set->n; i++)
		if (!strcasecmp(set->pairs[i].name, name))
			return set->pairs[i].value;
	return NULL;
}

uint32_t startup_set_tracked(const struct startup_set *set)
{
	uint32_t mask = 0;
	for (unsigned i = 0; set && i < set->n; i++) {
		int vi = varcache_index(set->pairs[i].name);
		if (vi >= 0)
			mask |= 1u << vi;
	}
	return mask;
}

void startup_set_learn(struct startup_set *set, const struct varcache *vars)
{
	if (!set || set->canon_known)
		return;
	uint32_t mask = startup_set_tracked(set);
	for (int i = 0; i < VC_COUNT; i++)
		if ((mask & (1u << i)) && varcache_get(vars, i))
			(void)varcache_set_index(&set->canon, i, varcache_get(vars, i));
	set->canon_known = true;
}

size_t startup_set_count(void)
{
	return htab_count(&sets);
}
