/*
 * startup_set.t — interned startup settings: equal settings share one set
 * whatever their order, `options` parsing, the bounds, filtering.
 */
#include <stdio.h>
#include <string.h>

#include "startup_set.h"
#include "tap.h"

static struct startup_set *set_of(const char *const *kv, const char *options)
{
	struct startup_builder b;
	startup_builder_init(&b);
	for (; kv && kv[0]; kv += 2)
		if (startup_builder_add(&b, kv[0], kv[1], false) != STARTUP_ADD_OK)
			diag("could not add %s", kv[0]);
	if (options && startup_builder_add_options(&b, options) != STARTUP_ADD_OK)
		diag("could not add options %s", options);
	struct startup_set *s = NULL;
	if (!startup_set_intern(&b, &s))
		diag("out of memory");
	startup_builder_free(&b);
	return s;
}

static bool only_tracked(const struct startup_pair *p, void *arg)
{
	return varcache_index(p->name) >= 0;
}

/* as transaction mode does */
static bool not_application_name(const struct startup_pair *p, void *arg)
{
	return strcmp(p->name, "application_name") != 0;
}

int main(void)
{
	const char *ab[] = { "DateStyle", "Postgres, MDY", "TimeZone", "PST8PDT", NULL };
	const char *ba[] = { "timezone", "PST8PDT", "datestyle", "Postgres, MDY", NULL };
	const char *other[] = { "DateStyle", "ISO, MDY", NULL };

	struct startup_set *s1 = set_of(ab, NULL), *s2 = set_of(ba, NULL), *s3 = set_of(other, NULL);
	ok(s1 && s1 == s2, "the same settings in another order and case: one set");
	ok(s3 && s3 != s1, "other values: another set");
	is_int((int)startup_set_count(), 2, "two sets alive");
	is_str(startup_set_get(s1, "DATESTYLE"), "Postgres, MDY", "a value by name, any case");
	ok(startup_set_get(s1, "search_path") == NULL, "an absent name has no value");
	ok(set_of(NULL, NULL) == NULL, "no settings: the empty set, NULL");
	uint32_t m = startup_set_tracked(s1);
	ok(m == ((1u << varcache_index("DateStyle")) | (1u << varcache_index("TimeZone"))),
	   "tracked: DateStyle and TimeZone");

	/* options: -c name=value, -cname=value, --name=value, backslash escapes */
	struct startup_set *o = set_of(NULL, " -c search_path=s1,public  -cextra_float_digits=0 "
					     "--statement-timeout=5s -c x.y=a\\ b");
	ok(o && o->n == 4, "four settings from options");
	is_str(startup_set_get(o, "search_path"), "s1,public", "-c name=value");
	is_str(startup_set_get(o, "extra_float_digits"), "0", "-cname=value");
	is_str(startup_set_get(o, "statement_timeout"), "5s", "--name=value, '-' in the name is '_'");
	is_str(startup_set_get(o, "x.y"), "a b", "a backslash keeps a space");
	ok(o->pairs[0].from_options, "pairs remember they came from options");

	/* an explicit parameter wins over options, whatever the order */
	const char *sp[] = { "search_path", "explicit", NULL };
	struct startup_set *e = set_of(sp, "-c search_path=from_options");
	is_str(startup_set_get(e, "search_path"), "explicit", "explicit parameter wins over options");

	struct startup_builder b;
	startup_builder_init(&b);
	ok(startup_builder_add_options(&b, "-B 100") == STARTUP_ADD_BAD_OPTIONS, "other switches refused");
	ok(startup_builder_add_options(&b, "-c") == STARTUP_ADD_BAD_OPTIONS, "-c without a setting refused");
	ok(startup_builder_add_options(&b, "-c novalue") == STARTUP_ADD_BAD_OPTIONS, "a setting without = refused");
	ok(startup_builder_add_options(&b, "-c bad;name=1") == STARTUP_ADD_BAD_OPTIONS,
	   "a name that is not an identifier refused (it goes into SET)");
	startup_builder_free(&b);

	/* bounds: STARTUP_SET_PARAMS_MAX settings, STARTUP_SET_BYTES_MAX bytes */
	startup_builder_init(&b);
	char name[32];
	for (int i = 0; i < STARTUP_SET_PARAMS_MAX; i++) {
		snprintf(name, sizeof name, "x.p%d", i);
		if (startup_builder_add(&b, name, "1", true) != STARTUP_ADD_OK)
			diag("setting %d refused", i);
	}
	is_int((int)b.n, STARTUP_SET_PARAMS_MAX, "settings up to the bound are taken");
	ok(startup_builder_add(&b, "x.p0", "2", true) == STARTUP_ADD_OK, "replacing one at the bound is fine");
	ok(startup_builder_add(&b, "x.more", "1", true) == STARTUP_ADD_TOO_MANY, "one more is refused");
	startup_builder_free(&b);
	startup_builder_init(&b);
	char big[STARTUP_SET_BYTES_MAX + 2];
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = 0;
	big[STARTUP_SET_BYTES_MAX - strlen("x.a")] = 0;
	ok(startup_builder_add(&b, "x.a", big, true) == STARTUP_ADD_OK, "exactly the byte bound is taken");
	ok(startup_builder_add(&b, "x.b", "", true) == STARTUP_ADD_TOO_LONG, "one byte more is refused");
	startup_builder_free(&b);

	/* filtering: what transaction mode keeps */
	struct startup_set *f = NULL;
	const char *mixed[] = { "DateStyle", "Postgres, MDY", "TimeZone", "PST8PDT", "search_path", "s1", NULL };
	struct startup_set *mx = set_of(mixed, NULL);
	ok(startup_set_filter(mx, only_tracked, NULL, &f) && f == s1, "filtered down to an existing set: the same one");
	startup_set_put(f);

	/* a client's own set until its login: not shared, filtered into the shared one */
	startup_builder_init(&b);
	if (startup_builder_add(&b, "TimeZone", "PST8PDT", false) != STARTUP_ADD_OK ||
	    startup_builder_add(&b, "application_name", "app", false) != STARTUP_ADD_OK ||
	    startup_builder_add_options(&b, "-c DateStyle=Postgres,\\ MDY") != STARTUP_ADD_OK)
		diag("could not build");
	struct startup_set *u = NULL, *uf = NULL;
	size_t before = startup_set_count();
	ok(startup_set_unshared(&b, &u) && u && !u->shared && u->n == 3, "an unshared set of three settings");
	startup_builder_free(&b);
	is_int((int)startup_set_count(), (int)before, "not in the table");
	is_str(startup_set_get(u, "datestyle"), "Postgres, MDY", "its values by name");
	ok(u->pairs[2].from_options && !u->pairs[0].from_options, "its pairs keep their origin");
	ok(startup_set_filter(u, not_application_name, NULL, &uf) && uf == s1, "filtered: the shared set of the same settings");
	startup_set_put(u);
	startup_set_put(uf);
	startup_builder_init(&b);
	ok(startup_set_unshared(&b, &u) && u == NULL, "no settings: NULL");

	/* learned spelling */
	struct varcache v = { 0 };
	(void)varcache_set(&v, "DateStyle", "Postgres, MDY");
	(void)varcache_set(&v, "TimeZone", "PST8PDT");
	(void)varcache_set(&v, "client_encoding", "UTF8");
	startup_set_learn(s1, &v);
	ok(s1->canon_known, "a set learns what a server reported");
	ok(varcache_get(&s1->canon, varcache_index("client_encoding")) == NULL, "only for its own names");
	varcache_clear(&v);

	startup_set_put(s1);
	startup_set_put(s2);
	startup_set_put(s3);
	startup_set_put(o);
	startup_set_put(e);
	startup_set_put(mx);
	is_int((int)startup_set_count(), 0, "the last reference frees each set");
	return done_testing();
}
