/*
 * userlist.c — the auth_file: quoting, "" escapes, comments, secret kinds,
 * duplicates (the later line wins), exact error messages, loading a file,
 * and the warning about empty passwords.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"
#include "log.h"
#include "logcapture.h"
#include "tap.h"
#include "userlist.h"

#define MD5_A "md5" "0123456789abcdef0123456789abcdef"
#define SCRAM_A "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVka2V5:c2VydmVya2V5"

static const struct {
	const char *text;
	size_t n;                  /* users expected */
	const char *user, *secret; /* one of them, checked */
	int kind;
} good[] = {
	{ "", 0, NULL, NULL, 0 },
	{ "\n\n  \n", 0, NULL, NULL, 0 },
	{ "; comment\n# comment\n  ; indented\n", 0, NULL, NULL, 0 },
	{ "\"alice\" \"secret\"", 1, "alice", "secret", SECRET_PLAIN },
	{ "\"alice\" \"secret\"\n", 1, "alice", "secret", SECRET_PLAIN },
	{ "\"alice\"\t\"secret\"\r\n", 1, "alice", "secret", SECRET_PLAIN },
	{ "  \"alice\"   \"secret\"  extra fields \"ignored\"\n", 1, "alice", "secret", SECRET_PLAIN },
	{ "\"al\"\"ice\" \"se\"\"cret\"\n", 1, "al\"ice", "se\"cret", SECRET_PLAIN },
	{ "\"\"\"\" \"\"\n", 1, "\"", "", SECRET_PLAIN },
	{ "\"a b\" \"c d\"\n", 1, "a b", "c d", SECRET_PLAIN },
	{ "\"a\" \"" MD5_A "\"\n", 1, "a", MD5_A, SECRET_MD5 },
	{ "\"a\" \"" SCRAM_A "\"\n", 1, "a", SCRAM_A, SECRET_SCRAM },
	{ "\"a\" \"1\"\n\"b\" \"2\"\n\"a\" \"3\"\n", 2, "a", "3", SECRET_PLAIN },
	{ "\"a\" \"" MD5_A "\"\n\"a\" \"plain\"\n", 1, "a", "plain", SECRET_PLAIN },
	{ "\"x\" \"1\"\n; \"y\" \"2\"\n#\"z\" \"3\"\n", 1, "x", "1", SECRET_PLAIN },
};

static const struct { const char *text, *err; } bad[] = {
	{ "alice secret\n", "u.txt:1: expected a quoted user name" },
	{ "\n\n'alice' 'secret'\n", "u.txt:3: expected a quoted user name" },
	{ "\"alice\n", "u.txt:1: unterminated quoted user name" },
	{ "\"alice\"\n", "u.txt:1: expected a quoted secret after the user name" },
	{ "\"alice\" secret\n", "u.txt:1: expected a quoted secret after the user name" },
	{ "\"alice\"x \"secret\"\n", "u.txt:1: expected a quoted secret after the user name" },
	{ "\"alice\" \"secret\n\"bob\" \"x\"\n", "u.txt:1: unterminated quoted secret" },
	{ "\"a\" \"b\"\n\"\" \"secret\"\n", "u.txt:2: empty user name" },
	{ "\"a\" \"SCRAM-SHA-256$4096:c2FsdA==\"\n",
	  "u.txt:1: malformed SCRAM-SHA-256 secret (want SCRAM-SHA-256$iterations:salt$storedkey:serverkey)" },
	{ "\"a\" \"SCRAM-SHA-256$x:c2FsdA==$a:b\"\n",
	  "u.txt:1: malformed SCRAM-SHA-256 secret (want SCRAM-SHA-256$iterations:salt$storedkey:serverkey)" },
	{ "\"a\" \"SCRAM-SHA-256$1:s$a:b:\"\n",
	  "u.txt:1: malformed SCRAM-SHA-256 secret (want SCRAM-SHA-256$iterations:salt$storedkey:serverkey)" },
};

static const struct { const char *secret; int kind; } kinds[] = {
	{ MD5_A, SECRET_MD5 },
	{ "md5" "0123456789ABCDEF0123456789abcdef", SECRET_PLAIN },   /* uppercase hex */
	{ "md5" "0123456789abcdef0123456789abcde", SECRET_PLAIN },    /* 31 digits */
	{ "md5" "0123456789abcdef0123456789abcdef0", SECRET_PLAIN },  /* 33 digits */
	{ "md5" "0123456789abcdef0123456789abcdeg", SECRET_PLAIN },
	{ "md5", SECRET_PLAIN },
	{ "", SECRET_PLAIN },
	{ SCRAM_A, SECRET_SCRAM },
	{ "SCRAM-SHA-256$", SECRET_SCRAM },
	{ "scram-sha-256$4096:x$y:z", SECRET_PLAIN },
	{ "SCRAM-SHA-1$4096:x$y:z", SECRET_PLAIN },
};

/* md5("" + "e"): user e's empty password, hashed */
#define MD5_EMPTY_E "md5" "e1671797c52e15f763380b45e841ec32"

static const struct { const char *user, *secret; bool empty; } empties[] = {
	{ "e", "", true },
	{ "e", MD5_EMPTY_E, true },
	{ "f", MD5_EMPTY_E, false },            /* another user's empty password */
	{ "e", "x", false },
	{ "e", " ", false },
	{ "e", MD5_A, false },
	{ "e", SCRAM_A, false },
	{ "e", "md5", false },
};

/* What loading `text` warns; NULL: no warning at all. */
static const struct { const char *text, *warning; } load_warnings[] = {
	{ "\"a\" \"x\"\n\"e\" \"\"\n",
	  "u.txt:2: user \"e\" has an empty password: every login that checks a password will fail for it" },
	{ "; users\n\n\"e\" \"" MD5_EMPTY_E "\"\n",
	  "u.txt:3: user \"e\" has an empty password" },
	{ "\"e\" \"x\"\n\"e\" \"\"\n", "u.txt:2: user \"e\" has an empty password" },
	{ "\"e\" \"\"\n\"e\" \"x\"\n", NULL },      /* the later line wins */
	{ "\"f\" \"" MD5_EMPTY_E "\"\n", NULL },
	{ "\"a\" \"x\"\n\"b\" \"" MD5_A "\"\n\"c\" \"" SCRAM_A "\"\n", NULL },
};

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_empty_passwords(void)
{
	char err[512];
	struct userlist *ul;

	for (size_t i = 0; i < ARRAY_SIZE(empties); i++)
		ok(userlist_secret_empty(empties[i].user, empties[i].secret) == empties[i].empty,
		   "%s/\"%s\": %s", empties[i].user, empties[i].secret,
		   empties[i].empty ? "empty" : "not empty");
	for (size_t i = 0; i < ARRAY_SIZE(load_warnings); i++) {
		const char *t = load_warnings[i].text, *want = load_warnings[i].warning;
		log_capture_start();
		bool okay = userlist_parse(t, strlen(t), "u.txt", &ul, err, sizeof err);
		char *out = log_capture_end();
		ok(okay, "empty passwords load: case %zu", i);
		if (want) {
			if (!ok(strstr(out, want) != NULL, "  warns: %s", want))
				diag("logged: %s", out);
			is_int(count(out, "empty password"), 1, "  once");
		} else if (!ok(*out == 0, "  no warning")) {
			diag("logged: %s", out);
		}
		free(out);
		userlist_free(ul);
	}
}

int main(void)
{
	char err[512];
	struct userlist *ul;

	log_set_level(LOG_LVL_ERROR);    /* warnings are checked through log_capture_start */

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		bool okay = userlist_parse(good[i].text, strlen(good[i].text), "u.txt", &ul, err, sizeof err);
		if (!ok(okay, "parses: case %zu", i)) {
			diag("%s", err);
			continue;
		}
		is_int(ul->n, good[i].n, "  user count");
		if (good[i].user) {
			const struct user_entry *u = userlist_find(ul, good[i].user);
			ok(u != NULL, "  finds %s", good[i].user);
			is_str(u ? u->secret : NULL, good[i].secret, "  secret");
			is_int(u ? u->kind : -1, good[i].kind, "  kind");
		}
		ok(userlist_find(ul, "nobody") == NULL, "  unknown user: NULL");
		userlist_free(ul);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ul = (struct userlist *)1;
		err[0] = 0;
		ok(!userlist_parse(bad[i].text, strlen(bad[i].text), "u.txt", &ul, err, sizeof err) &&
		   ul == NULL, "fails: %s", bad[i].err);
		is_str(err, bad[i].err, "  message");
	}
	static const char nul[] = "\"a\" \"b\"\n\"c\" \"d\0e\"\n";
	ok(!userlist_parse(nul, sizeof nul - 1, "u.txt", &ul, err, sizeof err), "NUL byte fails");
	is_str(err, "u.txt:2: NUL byte in line", "  message");

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		is_int(userlist_secret_kind(kinds[i].secret), kinds[i].kind, kinds[i].secret);

	ok(userlist_find(NULL, "a") == NULL, "find in NULL list");
	userlist_free(NULL);
	struct userlist empty = { 0 };
	ok(userlist_find(&empty, "a") == NULL, "zero-filled list is valid and empty");

	/* order is file order, the later duplicate replacing in place */
	static const char many[] = "\"u0\" \"a\"\n\"u1\" \"b\"\n\"u2\" \"c\"\n\"u3\" \"d\"\n\"u4\" \"e\"\n\"u1\" \"B\"\n";
	if (userlist_parse(many, sizeof many - 1, "u.txt", &ul, err, sizeof err)) {
		is_int(ul->n, 5, "five distinct users");
		is_str(ul->users[1].name, "u1", "  u1 keeps its place");
		is_str(ul->users[1].secret, "B", "  with the later secret");
		is_str(ul->users[4].name, "u4", "  u4 last");
		userlist_free(ul);
	}

	char path[] = "/tmp/sluice-userlist-XXXXXX";
	int fd = mkstemp(path);
	static const char file[] = "; users\n\"alice\" \"" MD5_A "\"\n\"bob\" \"" SCRAM_A "\"\n";
	if (fd < 0 || write(fd, file, sizeof file - 1) != (ssize_t)(sizeof file - 1))
		BUG("temp file");
	close(fd);
	if (!ok(userlist_load(path, &ul, err, sizeof err), "userlist_load"))
		diag("%s", err);
	else {
		is_int(ul->n, 2, "  two users");
		is_int(userlist_find(ul, "bob")->kind, SECRET_SCRAM, "  bob: SCRAM");
		userlist_free(ul);
	}
	unlink(path);
	ok(!userlist_load(path, &ul, err, sizeof err) && ul == NULL, "missing file fails");
	char want[128];
	snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
	is_str(err, want, "  message");

	test_empty_passwords();
	return done_testing();
}
