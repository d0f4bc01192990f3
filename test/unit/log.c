/*
 * log.c — log lines as text and logfmt (quoting, escapes, connection and
 * event fields), lines held until log_configure, the logging keys'
 * validation (log_format, syslog_facility) and syslog set-up.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "config_internal.h"
#include "log.h"
#include "tap.h"

static char dir[] = "/tmp/sluice-unit-log-XXXXXX";
static char path[256];

static struct config *parse(const char *extra)
{
	char text[1024], err[512];
	struct config *cfg;
	snprintf(text, sizeof text, "[sluice]\nauth_type = trust\nlogfile = %s\n%s", path, extra);
	if (!config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err))
		BUG("config: %s", err);
	return cfg;
}

static bool configure(const struct config *cfg, int verbose, char *err, size_t errlen)
{
	log_cmdline(verbose, false);
	struct log_settings ls = config_log_settings(cfg);
	return log_configure(&ls, err, errlen);
}

/* Apply `extra` settings, run fn, return the log file's new lines (malloc'd). */
static char *logged(const char *extra, void (*fn)(void))
{
	struct config *cfg = parse(extra);
	char err[512], *text;
	size_t len;
	unlink(path);
	if (!configure(cfg, 0, err, sizeof err))
		BUG("log_configure: %s", err);
	fn();
	log_close();
	config_free(cfg);
	if (!file_read_all(path, &text, &len, err, sizeof err))
		text = strdup("");
	return text;
}

static bool matches(const char *text, const char *re)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE) != 0)
		BUG("bad regex %s", re);
	bool m = regexec(&r, text, 0, NULL, 0) == 0;
	regfree(&r);
	return m;
}

static const struct log_who alice = { 'C', 17, "app", "alice", "10.0.0.5:53122", 0 };
static const struct log_who server = { 'S', 4, "app", "bob", "127.0.0.1", 5432 };

static void write_events(void)
{
	const struct log_kv kv[] = { { "age", "1.500s" }, { "skipped", NULL }, { "sqlstate", "28P01" } };
	struct log_event ev = { "disconnect", "client closed", kv, ARRAY_SIZE(kv) };
	log_write_at(LOG_LVL_INFO, &alice, &ev, "closing");
	log_write_at(LOG_LVL_WARN, &server, NULL, "odd %s", "thing");
	log_info("plain line %d", 42);
	const struct log_kv tricky[] = { { "empty", "" }, { "eq", "a=b" }, { "bs", "c:\\dir" } };
	struct log_event ev2 = { "pooler_error", "say \"hi\"\nnow\t\x01", tricky, ARRAY_SIZE(tricky) };
	struct log_who nobody = { 'C', 3, NULL, NULL, "unix", 0 };
	log_write_at(LOG_LVL_WARN, &nobody, &ev2, "pooler error");
	log_debug("not at this level");
}

static void test_text(void)
{
	char *t = logged("", write_events);
	ok(matches(t, "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} [0-9]+ LOG "
		   "C-17 app/alice@10\\.0\\.0\\.5:53122 closing: client closed "
		   "\\(age=1\\.500s, sqlstate=28P01\\)$"),
	   "text: time, pid, level, who, message, reason, fields (NULL values left out)");
	ok(matches(t, " WARNING S-4 app/bob@127\\.0\\.0\\.1:5432 odd thing$"), "text: a server's prefix");
	ok(matches(t, "[0-9] LOG plain line 42$"), "text: a plain line as before");
	ok(strstr(t, " WARNING C-3 (nodb)/(nouser)@unix pooler error: say \"hi\"\\nnow\t\\x01 "
		  "(empty=\"\", eq=\"a=b\", bs=c:\\dir)\n") != NULL,
	   "text: line breaks and control characters escaped, values quoted as in logfmt");
	ok(!strstr(t, "not at this level"), "text: debug lines are off at verbose = 0");
	int lines = 0;
	for (const char *p = t; (p = strchr(p, '\n')); p++)
		lines++;
	is_int(lines, 4, "text: one line per call");
	free(t);
}

static void test_logfmt(void)
{
	char *t = logged("log_format = logfmt\n", write_events);
	ok(matches(t, "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} "
		   "level=info pid=[0-9]+ event=disconnect conn=C-17 client=10\\.0\\.0\\.5:53122 db=app "
		   "user=alice msg=closing reason=\"client closed\" age=1\\.500s sqlstate=28P01$"),
	   "logfmt: ts, level, pid, event, who, msg, reason, fields in order");
	ok(matches(t, "^ts=[^ ]+ level=warning pid=[0-9]+ conn=S-4 server=127\\.0\\.0\\.1:5432 db=app "
		   "user=bob msg=\"odd thing\"$"), "logfmt: a server line without an event");
	ok(matches(t, "^ts=[^ ]+ level=info pid=[0-9]+ msg=\"plain line 42\"$"), "logfmt: a plain line");
	ok(strstr(t, " event=pooler_error conn=C-3 client=unix msg=\"pooler error\" "
		  "reason=\"say \\\"hi\\\"\\nnow\\t\\u0001\" empty=\"\" eq=\"a=b\" bs=c:\\dir\n") != NULL,
	   "logfmt: unknown db/user left out; quotes, escapes, empty and '=' values");
	free(t);
}

static void test_hold(void)
{
	struct config *cfg = parse("log_format = logfmt\n");
	char err[512], *t;
	size_t len;

	unlink(path);
	log_hold();
	log_warn("/etc/t.ini:3: unknown key \"frobnicate\", ignored");
	log_debug("held debug");
	ok(access(path, F_OK) != 0, "hold: nothing written before log_configure");
	ok(configure(cfg, 0, err, sizeof err), "hold: log_configure");
	log_info("after");
	log_close();
	config_free(cfg);
	if (!file_read_all(path, &t, &len, err, sizeof err))
		t = strdup("");
	ok(matches(t, "^ts=[^ ]+ level=warning pid=[0-9]+ msg=\"/etc/t\\.ini:3: unknown key \\\\\"frobnicate\\\\\", ignored\"\n"
		   "ts=[^ ]+ level=info pid=[0-9]+ msg=after\n$"),
	   "hold: a warning from before reaches the log file, in its format, first");
	free(t);

	/* configure with verbose from the file: held lines are filtered by the new level too */
	cfg = parse("verbose = 1\n");
	unlink(path);
	log_hold();
	log_set_level(LOG_LVL_NOISE);
	log_debug("debug held");
	log_noise("noise held");
	log_set_level(LOG_LVL_INFO);
	ok(configure(cfg, 0, err, sizeof err), "hold: verbose = 1");
	is_int(log_level_current, LOG_LVL_DEBUG, "verbose = 1 is the debug level");
	log_close();
	config_free(cfg);
	if (!file_read_all(path, &t, &len, err, sizeof err))
		t = strdup("");
	ok(strstr(t, "DEBUG debug held") && !strstr(t, "noise held"), "hold: held lines above the level are dropped");
	free(t);

	cfg = parse("verbose = 1\n");
	ok(configure(cfg, 2, err, sizeof err), "command-line -v adds to verbose");
	is_int(log_level_current, LOG_LVL_NOISE, "  1 + 2 caps at noise");
	log_close();
	log_set_level(LOG_LVL_INFO);
	config_free(cfg);
}

static void test_keys(void)
{
	struct config *cfg;
	char err[512];
	const char *text = "[sluice]\nsyslog = 1\nsyslog_facility = kernel\n";

	ok(!config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err),
	   "syslog_facility = kernel is refused");
	is_str(err, "/etc/t.ini:3: syslog_facility: \"kernel\" is not one of: auth, authpriv, daemon, "
	       "user, local0, local1, local2, local3, local4, local5, local6, local7", "  naming file:line: key");
	text = "[pgbouncer]\nlog_format = json\n";
	ok(!config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err),
	   "log_format = json is refused");
	is_str(err, "/etc/t.ini:2: log_format: \"json\" is not one of: text, logfmt", "  naming file:line: key");
	text = "[sluice]\nlog_connections = maybe\n";
	ok(!config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err),
	   "log_connections = maybe is refused");

	text = "[sluice]\nauth_type = trust\nsyslog = yes\nsyslog_ident = sluice-test\nsyslog_facility = LOCAL3\n"
	       "log_connections = off\nlog_disconnections = 0\nlog_pooler_errors = false\n";
	ok(config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err), "syslog keys parse");
	is_int(cfg->use_syslog, 1, "  syslog = yes");
	is_str(cfg->syslog_ident, "sluice-test", "  syslog_ident");
	is_int(cfg->syslog_facility, LOG_FAC_LOCAL3, "  syslog_facility (case-insensitive)");
	is_int(cfg->log_connections + cfg->log_disconnections + cfg->log_pooler_errors, 0,
	       "  log_connections/log_disconnections/log_pooler_errors off");
	/* no syslog daemon is needed: syslog(3) drops what it cannot send */
	ok(configure(cfg, 0, err, sizeof err), "log_configure with syslog on");
	log_info("a line for syslog");
	ok(configure(cfg, 0, err, sizeof err), "log_configure again (a reload)");
	log_close();
	config_free(cfg);

	text = "[sluice]\nauth_type = trust\nlogfile = /nonexistent/dir/sluice.log\n";
	if (!config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err))
		BUG("%s", err);
	ok(!configure(cfg, 0, err, sizeof err), "an unopenable logfile fails log_configure");
	is_str(err, "cannot open log file /nonexistent/dir/sluice.log: No such file or directory", "  saying why");
	log_close();
	config_free(cfg);

	/* a reload naming a file that cannot be opened: the old file stays,
	 * the other keys apply */
	struct config *good = parse("");
	unlink(path);
	ok(configure(good, 0, err, sizeof err), "reload: first a log file that opens");
	text = "[sluice]\nauth_type = trust\nlogfile = /nonexistent/dir/sluice.log\nlog_format = logfmt\n";
	if (!config_parse_text(text, strlen(text), "/etc/t.ini", &cfg, err, sizeof err))
		BUG("%s", err);
	ok(!configure(cfg, 0, err, sizeof err), "reload: then one that does not");
	log_info("still here");
	log_close();
	config_free(cfg);
	config_free(good);
	char *t;
	size_t len;
	if (!file_read_all(path, &t, &len, err, sizeof err))
		t = strdup("");
	ok(matches(t, "^ts=[^ ]+ level=info pid=[0-9]+ msg=\"still here\"$"),
	   "reload: lines go on to the old file, in the new format");
	free(t);
}

int main(void)
{
	if (!mkdtemp(dir))
		BUG("mkdtemp failed");
	snprintf(path, sizeof path, "%s/sluice.log", dir);
	test_text();
	test_logfmt();
	test_hold();
	test_keys();
	unlink(path);
	rmdir(dir);
	return done_testing();
}
