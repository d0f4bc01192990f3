/*
 * config_peers.c — peer_id and the [peers] section: entries and their
 * defaults, errors naming file, line and key, the warning when peer_id is
 * missing, the copy SET makes, and what a reload may change.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "logcapture.h"
#include "tap.h"

static bool parse(const char *text, struct config **cfg, char *err, size_t errlen)
{
	return config_parse_text(text, strlen(text), "t.ini", cfg, err, errlen);
}

static void test_entries(void)
{
	static const char text[] =
		"[sluice]\n"
		"peer_id = 2\n"
		"[peers]\n"
		"1 = host=/run/sluice-1\n"
		"; the same [peers] everywhere: its own entry is allowed\n"
		"2 = host=/run/sluice-2 port=6433\n"
		"0017 = host=10.0.0.17 port=7000 pool_size=3\n"
		"16383 = host='db host' pool_size=1\n";
	struct config *cfg;
	char err[512];
	if (!ok(parse(text, &cfg, err, sizeof err), "[peers] parses")) {
		diag("%s", err);
		return;
	}
	is_int(cfg->peer_id, 2, "peer_id");
	is_int(cfg->npeers, 4, "four entries, in file order");
	is_int(cfg->peers[0].id, 1, "  1: id");
	is_str(cfg->peers[0].host, "/run/sluice-1", "  1: host");
	is_int(cfg->peers[0].port, -1, "  1: port unset (6432)");
	is_int(cfg->peers[0].pool_size, -1, "  1: pool_size unset (default_pool_size)");
	is_int(cfg->peers[0].line, 4, "  1: its line");
	is_int(cfg->peers[1].port, 6433, "  2: port");
	is_int(cfg->peers[2].id, 17, "  0017: id 17");
	is_str(cfg->peers[2].name, "17", "  0017: named in canonical decimal");
	is_int(cfg->peers[2].pool_size, 3, "  17: pool_size");
	is_str(cfg->peers[3].host, "db host", "  16383: quoted host");
	ok(config_find_peer(cfg, 17) == &cfg->peers[2], "config_find_peer finds 17");
	ok(config_find_peer(cfg, 3) == NULL, "  and not 3");

	/* SET copies the configuration: [peers] with it, sharing nothing */
	struct config *next;
	enum config_set r = config_with_setting(cfg, "default_pool_size", "7", &next, err, sizeof err);
	if (ok(r == CONFIG_SET_OK, "SET default_pool_size on a configuration with [peers]")) {
		config_free(cfg);
		cfg = NULL;
		is_int(next->npeers, 4, "  the copy has the four entries");
		is_str(next->peers[3].host, "db host", "  with their own strings");
		is_str(next->peers[2].name, "17", "  and names");
		is_int(next->peers[2].pool_size, 3, "  and values");
		is_int(next->peer_id, 2, "  and peer_id");
		config_free(next);
	} else {
		diag("%s", err);
	}
	config_free(cfg);
}

static const struct { const char *text, *err; } errors[] = {
	{ "[peers]\nx = host=a\n", "t.ini:2: x: a peer id is an integer 1..16383" },
	{ "[peers]\n-1 = host=a\n", "t.ini:2: -1: a peer id is an integer 1..16383" },
	{ "[peers]\n1x = host=a\n", "t.ini:2: 1x: a peer id is an integer 1..16383" },
	{ "[peers]\n999999x = host=a\n", "t.ini:2: 999999x: a peer id is an integer 1..16383" },
	{ "[peers]\n0 = host=a\n", "t.ini:2: 0: peer id out of range (1..16383)" },
	{ "[peers]\n16384 = host=a\n", "t.ini:2: 16384: peer id out of range (1..16383)" },
	{ "[peers]\n99999999999999999999 = host=a\n",
	  "t.ini:2: 99999999999999999999: peer id out of range (1..16383)" },
	{ "[peers]\n1 =\n", "t.ini:2: 1: host is required (where this peer takes cancel requests)" },
	{ "[peers]\n1 = port=6432\n", "t.ini:2: 1: host is required (where this peer takes cancel requests)" },
	{ "[peers]\n1 = host=\n", "t.ini:2: 1: host is required (where this peer takes cancel requests)" },
	{ "[peers]\n1 = host=a bogus=1\n", "t.ini:2: bogus: unknown peer parameter" },
	{ "[peers]\n1 = host=a dbname=x\n", "t.ini:2: dbname: unknown peer parameter" },
	{ "[peers]\n1 = host=a port=0\n", "t.ini:2: port: 0 is out of range (1..65535)" },
	{ "[peers]\n1 = host=a port=x\n", "t.ini:2: port: \"x\" is not an integer" },
	{ "[peers]\n1 = host=a pool_size=0\n", "t.ini:2: pool_size: 0 is out of range (1..2147483647)" },
	{ "[peers]\n1 = host='a\n", "t.ini:2: host: unterminated quoted value" },
	{ "[peers]\n1 = host=@sluice\n", "t.ini:2: host: abstract unix sockets (\"@sluice\") are not supported" },
	{ "[peers]\n1 = host=/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	  "t.ini:2: host: unix socket directory too long (at most 92 bytes)" },
	{ "[peers]\n1 = host=a\n\n01 = host=b\n", "t.ini:4: 1: peer defined twice (first on line 2)" },
	{ "[sluice]\npeer_id = 16384\n", "t.ini:2: peer_id: 16384 is out of range (0..16383)" },
	{ "[sluice]\npeer_id = -1\n", "t.ini:2: peer_id: -1 is out of range (0..16383)" },
	{ "[pgbouncer]\npeer_id = one\n", "t.ini:2: peer_id: \"one\" is not an integer" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(errors); i++) {
		struct config *cfg = NULL;
		char err[512] = "";
		bool okay = parse(errors[i].text, &cfg, err, sizeof err);
		ok(!okay, "refused: %s", errors[i].err);
		is_str(err, errors[i].err, "  message");
		config_free(cfg);
	}
}

static void test_warnings(void)
{
	struct config *cfg;
	char err[512];
	log_capture_start();
	bool okay = parse("[peers]\n1 = host=a\n", &cfg, err, sizeof err);
	char *out = log_capture_end();
	ok(okay, "[peers] without peer_id loads");
	if (!ok(strstr(out, "t.ini: [peers] is set but peer_id is 0: cancel requests are not forwarded"),
		"  with a warning"))
		diag("stderr: %s", out);
	free(out);
	if (okay)
		config_free(cfg);
	/* peer_id without [peers]: the keys carry it (a cluster may list the
	 * peers later); nothing to warn about. Nor about one's own entry. */
	log_capture_start();
	okay = parse("[sluice]\nauth_type = trust\npeer_id = 1\n[peers]\n1 = host=/run/s1\n", &cfg, err, sizeof err);
	out = log_capture_end();
	if (!ok(okay && *out == 0, "peer_id with only its own [peers] entry: silent"))
		diag("stderr: %s", out);
	free(out);
	if (okay)
		config_free(cfg);
}

/* peer_id needs a restart (the keys clients hold carry it); [peers] may
 * change at any reload */
static void test_reload(void)
{
	struct config *a = NULL, *b = NULL, *c = NULL;
	char err[512];
	bool okay = parse("[sluice]\npeer_id = 1\n[peers]\n2 = host=/run/s2\n", &a, err, sizeof err) &&
		    parse("[sluice]\npeer_id = 1\n[peers]\n2 = host=/run/s2b\n3 = host=h\n", &b, err, sizeof err) &&
		    parse("[sluice]\npeer_id = 3\n[peers]\n2 = host=/run/s2\n", &c, err, sizeof err);
	if (ok(okay, "three configurations parse")) {
		ok(config_reload_check(a, b, err, sizeof err), "a reload may change [peers]");
		ok(!config_reload_check(a, c, err, sizeof err), "a reload may not change peer_id");
		is_str(err, "t.ini: peer_id: cannot be changed by a reload, restart sluice", "  message");
		struct config *next = NULL;
		ok(config_with_setting(a, "peer_id", "3", &next, err, sizeof err) == CONFIG_SET_FIXED,
		   "nor may SET");
		config_free(next);
	} else {
		diag("%s", err);
	}
	config_free(a);
	config_free(b);
	config_free(c);
}

int main(void)
{
	log_set_level(LOG_LVL_ERROR);
	test_entries();
	test_errors();
	test_warnings();
	test_reload();
	return done_testing();
}
