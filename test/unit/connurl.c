/*
 * connurl.c — PostgreSQL connection URIs: the parts, percent-decoding,
 * '@' and ':' in passwords, IPv6 hosts, unix socket hosts, query
 * parameters, what is missing or malformed; building one back; scrubbing
 * the password out of a URL in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "connurl.h"
#include "tap.h"

#define NONE "(none)"

static const struct {
	const char *text;
	const char *user, *password, *host;   /* NONE: NULL */
	int port;
	const char *dbname;
	const char *params;                   /* "name=value;..." as decoded */
} good[] = {
	{ "postgresql://", NONE, NONE, NONE, -1, NONE, "" },
	{ "postgres://localhost", NONE, NONE, "localhost", -1, NONE, "" },
	{ "postgresql://alice:secret@db.example:5433/app", "alice", "secret", "db.example", 5433, "app", "" },
	/* percent-encoded '@', ':' and '/' in the password */
	{ "postgresql://alice:s%40c%3Ar%2Ft@h/app", "alice", "s@c:r/t", "h", -1, "app", "" },
	/* raw ':' and '@' in the password: the login ends at the last '@' */
	{ "postgresql://alice:p@ss:w@rd@h/app", "alice", "p@ss:w@rd", "h", -1, "app", "" },
	{ "postgresql://alice:@h/app", "alice", "", "h", -1, "app", "" },
	{ "postgresql://alice@h", "alice", NONE, "h", -1, NONE, "" },
	{ "postgresql://u%3Aser:pw@h", "u:ser", "pw", "h", -1, NONE, "" },
	{ "postgresql://:pw@h/d", NONE, "pw", "h", -1, "d", "" },
	{ "postgresql://[::1]:5433/app", NONE, NONE, "::1", 5433, "app", "" },
	{ "postgresql://u:p@[2001:db8::1]/app", "u", "p", "2001:db8::1", -1, "app", "" },
	{ "postgresql://[fe80::1%25eth0]:6000", NONE, NONE, "fe80::1%eth0", 6000, NONE, "" },
	{ "postgresql://%2Fvar%2Frun%2Fpostgresql/app", NONE, NONE, "/var/run/postgresql", -1, "app", "" },
	{ "postgresql:///app?host=/tmp&port=5434", NONE, NONE, "/tmp", 5434, "app", "" },
	{ "postgresql://:5433/app", NONE, NONE, NONE, 5433, "app", "" },
	{ "postgresql://h/my%20db", NONE, NONE, "h", -1, "my db", "" },
	{ "postgresql://h/", NONE, NONE, "h", -1, NONE, "" },
	{ "postgresql://h/app?user=bob&password=x%26y", "bob", "x&y", "h", -1, "app", "" },
	{ "postgresql://a:b@h/app?password=", "a", "", "h", -1, "app", "" },
	{ "postgresql://h:1/app?port=&host=", NONE, NONE, NONE, -1, "app", "" },
	{ "postgresql://h/app?dbname=other", NONE, NONE, "h", -1, "other", "" },
	{ "postgresql://h/app?sslmode=require&application_name=a%3Db%26c",
	  NONE, NONE, "h", -1, "app", "sslmode=require;application_name=a=b&c;" },
	{ "postgresql://h/app?", NONE, NONE, "h", -1, "app", "" },
	{ "postgresql://h/app?&sslmode=disable&&", NONE, NONE, "h", -1, "app", "sslmode=disable;" },
	{ "postgresql://h?connect_timeout=10", NONE, NONE, "h", -1, NONE, "connect_timeout=10;" },
	{ "postgresql://H%C3%A9/%C3%BCber", NONE, NONE, "H\xc3\xa9", -1, "\xc3\xbc" "ber", "" },
	{ "postgresql://h:65535", NONE, NONE, "h", 65535, NONE, "" },
};

/* want: a piece of the error; never: text the error must not show */
static const struct { const char *text, *want, *never; } bad[] = {
	{ "http://h/db", "must start with postgresql:// or postgres://", NULL },
	{ "postgresql:/h/db", "must start with postgresql://", NULL },
	{ "", "must start with", NULL },
	{ "postgresql://u:p%zzq@h/db", "bad percent escape in the password", "zz" },
	{ "postgresql://u:pw%4@h/db", "bad percent escape in the password", "pw" },
	{ "postgresql://u:%@h/db", "bad percent escape in the password", NULL },
	{ "postgresql://u%g1:p@h/db", "bad percent escape \"%g1\" in the user name", NULL },
	{ "postgresql://h/db%", "bad percent escape \"%\" in the database name", NULL },
	{ "postgresql://h/db%2", "bad percent escape \"%2\" in the database name", NULL },
	{ "postgresql://h%2/db", "in the host", NULL },
	{ "postgresql://h/d%00b", "%00 in the database name", NULL },
	{ "postgresql://h:0/db", "port \"0\" is not a number from 1 to 65535", NULL },
	{ "postgresql://h:65536/db", "port \"65536\"", NULL },
	{ "postgresql://h:54x/db", "port \"54x\"", NULL },
	{ "postgresql://h:-5/db", "port \"-5\"", NULL },
	{ "postgresql://h:/db", "empty port", NULL },
	{ "postgresql://[::1/db", "\"[\" without \"]\"", NULL },
	{ "postgresql://[]:5432/db", "nothing between", NULL },
	{ "postgresql://[::1]x/db", "must be followed by", NULL },
	{ "postgresql://h1,h2/db", "several hosts", NULL },
	{ "postgresql://h1:5432,h2:5433/db", "several hosts", NULL },
	{ "postgresql://h/db?sslmode", "query parameter \"sslmode\" has no \"=\"", NULL },
	{ "postgresql://h/db?=x", "empty name", NULL },
	{ "postgresql://h/db?port=99999", "port \"99999\"", NULL },
	{ "postgresql://h/db?password=s3cr%zz", "bad percent escape in the value of parameter password", "s3cr" },
	{ "postgresql://h/db?app=%zz", "bad percent escape \"%zz\" in the value of parameter app", NULL },
	{ "postgresql://h/my db", "blank or control character at offset 17", NULL },
	{ "postgresql://u:pass word@h/db", "blank or control character at offset 19", "pass" },
	{ "postgresql://h/db\n", "blank or control character", NULL },
};

static const char *or_none(const char *s)
{
	return s ? s : NONE;
}

static void params_text(const struct connurl *u, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t i = 0; i < u->nparams && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s=%s;", u->params[i].name, u->params[i].value);
}

static void test_good(void)
{
	char err[300], params[512];
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct connurl u;
		bool okay = connurl_parse(good[i].text, &u, err, sizeof err);
		if (!ok(okay, "parses: %s", good[i].text)) {
			diag("%s", err);
			connurl_free(&u);
			continue;
		}
		is_str(or_none(u.user), good[i].user, "  user");
		is_str(or_none(u.password), good[i].password, "  password");
		is_str(or_none(u.host), good[i].host, "  host");
		is_int(u.port, good[i].port, "  port");
		is_str(or_none(u.dbname), good[i].dbname, "  dbname");
		params_text(&u, params, sizeof params);
		is_str(params, good[i].params, "  other parameters");
		connurl_free(&u);
	}
}

static void test_bad(void)
{
	char err[300];
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct connurl u;
		err[0] = 0;
		ok(!connurl_parse(bad[i].text, &u, err, sizeof err), "refused: [%s]", bad[i].text);
		if (!ok(strstr(err, bad[i].want) != NULL, "  says: %s", bad[i].want))
			diag("error: %s", err);
		if (bad[i].never && !ok(strstr(err, bad[i].never) == NULL, "  does not show \"%s\"", bad[i].never))
			diag("error: %s", err);
		connurl_free(&u);
	}
	struct connurl u;
	ok(!connurl_parse(NULL, &u, err, sizeof err), "NULL is no URL");
	connurl_free(&u);
	connurl_free(NULL);
	ok(connurl_is_url("postgres://x") && connurl_is_url("postgresql://") &&
	   !connurl_is_url("PostgreSQL://x") && !connurl_is_url("/etc/sluice.ini") && !connurl_is_url(NULL),
	   "connurl_is_url: the two schemes only (case matters, as in libpq)");
}

/* connurl_build, and parsing its result gives the same parts back */
static void test_build(void)
{
	static const struct {
		struct connurl u;
		const char *want;
	} cases[] = {
		{ { "app", "app", "127.0.0.1", 6432, "app", NULL, 0 }, "postgresql://app:app@127.0.0.1:6432/app" },
		{ { "a l@ice", "p:w@/?%&= #", "::1", 5433, "my db/x" , NULL, 0 },
		  "postgresql://a%20l%40ice:p%3Aw%40%2F%3F%25%26%3D%20%23@[::1]:5433/my%20db%2Fx" },
		{ { "u", NULL, "/tmp", -1, NULL, NULL, 0 }, "postgresql://u@%2Ftmp" },
		{ { NULL, NULL, NULL, -1, NULL, NULL, 0 }, "postgresql://" },
		{ { NULL, "pw", "h", -1, NULL, NULL, 0 }, "postgresql://:pw@h" },
		{ { "u", "", "h", -1, "d", NULL, 0 }, "postgresql://u:@h/d" },
		{ { "u", "x", "fe80::1%eth0", 1, "d", NULL, 0 }, "postgresql://u:x@[fe80::1%25eth0]:1/d" },
	};
	char err[300];
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct connurl *c = &cases[i].u;
		char *s = connurl_build(c);
		is_str(s, cases[i].want, "built");
		struct connurl u;
		if (!ok(s && connurl_parse(s, &u, err, sizeof err), "  parses back")) {
			diag("%s", err);
			free(s);
			continue;
		}
		is_str(or_none(u.user), or_none(c->user), "  same user");
		is_str(or_none(u.password), or_none(c->password), "  same password");
		is_str(or_none(u.host), or_none(c->host), "  same host");
		is_int(u.port, c->port, "  same port");
		is_str(or_none(u.dbname), or_none(c->dbname), "  same dbname");
		connurl_free(&u);
		free(s);
	}
}

static void test_scrub(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "postgresql://u:secret@h/db", "postgresql://u:******@h/db" },
		{ "postgresql://u:p@ss@h/db?password=other&sslmode=require",
		  "postgresql://u:****@h/db?password=*****&sslmode=require" },
		{ "postgresql://h/db?sslmode=require&pass%77ord=x%20y", "postgresql://h/db?sslmode=require&pass%77ord=*****" },
		{ "postgresql://u:@h", "postgresql://u:@h" },
		{ "postgresql://u@h/db?passwords=x", "postgresql://u@h/db?passwords=x" },
		{ "postgres://a:b@[::1]:5/d?", "postgres://a:*@[::1]:5/d?" },
		{ "/etc/sluice.ini", "/etc/sluice.ini" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *s = strdup(cases[i].in);
		connurl_scrub(s);
		is_str(s, cases[i].want, "scrubbed");
		free(s);
	}
	connurl_scrub(NULL);
}

int main(void)
{
	test_good();
	test_bad();
	test_build();
	test_scrub();
	return done_testing();
}
