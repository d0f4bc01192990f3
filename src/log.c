/*
 * log.c — leveled log lines with a timestamp and pid, to stderr, a log
 * file and syslog, as text or logfmt; lines held until the log is
 * configured; BUG() for impossible states.
 *
 * INTERFACE ROUTINES: see log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LINE_MAX_LEN 4096   /* longer lines are cut */
#define MSG_MAX_LEN  2048
#define HOLD_MAX     1024   /* lines kept before the log is configured */

int log_level_current = LOG_LVL_INFO;

static FILE *log_file;
static bool log_stderr = true;
static bool cmdline_stderr = true;
static int cmdline_verbose;
static int log_fmt = LOG_FORMAT_TEXT;
static bool syslog_open;
static char syslog_ident[64];   /* openlog() keeps the pointer */

/* Lines written while holding: the format and destinations are not known
 * yet, so each keeps its time, level and message. */
struct held {
	struct timeval tv;
	int level;
	char *msg;
};
static bool holding;
static struct held *held;
static size_t nheld, held_cap, held_dropped;

static const char *const text_levels[] = { "ERROR", "WARNING", "LOG", "DEBUG", "NOISE" };
static const char *const logfmt_levels[] = { "error", "warning", "info", "debug", "noise" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG };

static const int syslog_facilities[] = {
	[LOG_FAC_AUTH] = LOG_AUTH, [LOG_FAC_AUTHPRIV] = LOG_AUTHPRIV,
	[LOG_FAC_DAEMON] = LOG_DAEMON, [LOG_FAC_USER] = LOG_USER,
	[LOG_FAC_LOCAL0] = LOG_LOCAL0, [LOG_FAC_LOCAL1] = LOG_LOCAL1,
	[LOG_FAC_LOCAL2] = LOG_LOCAL2, [LOG_FAC_LOCAL3] = LOG_LOCAL3,
	[LOG_FAC_LOCAL4] = LOG_LOCAL4, [LOG_FAC_LOCAL5] = LOG_LOCAL5,
	[LOG_FAC_LOCAL6] = LOG_LOCAL6, [LOG_FAC_LOCAL7] = LOG_LOCAL7,
};

static int clamp_level(int level)
{
	return level < LOG_LVL_ERROR ? LOG_LVL_ERROR : level > LOG_LVL_NOISE ? LOG_LVL_NOISE : level;
}

/* ---- building one line: a bounded buffer that cuts, never overflows ---- */

struct line {
	char buf[LINE_MAX_LEN];
	size_t len;          /* < sizeof buf; room is kept for "\n" */
};

static void put(struct line *l, const char *s, size_t n)
{
	size_t room = sizeof l->buf - 2 - l->len;
	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = 0;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void PRINTF(2, 3) putf(struct line *l, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		put(l, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Text: as it is, except that line breaks and other control characters
 * (tab aside) are escaped, so one event stays one line. */
static void put_text(struct line *l, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\n')
			puts_(l, "\\n");
		else if (ch == '\r')
			puts_(l, "\\r");
		else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			putf(l, "\\x%02x", ch);
		else
			put(l, s, 1);
	}
}

/* A logfmt value: bare when it can be, else in double quotes with \" \\
 * \n \r \t and \u00XX escapes. Empty values are "" so that key= never
 * swallows the next pair. */
static void put_value(struct line *l, const char *s)
{
	bool quote = !*s;
	for (const char *p = s; *p && !quote; p++) {
		unsigned char ch = (unsigned char)*p;
		quote = ch <= ' ' || ch == '=' || ch == '"' || ch == 0x7f;
	}
	if (!quote) {
		puts_(l, s);
		return;
	}
	put(l, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		switch (ch) {
		case '"': puts_(l, "\\\""); break;
		case '\\': puts_(l, "\\\\"); break;
		case '\n': puts_(l, "\\n"); break;
		case '\r': puts_(l, "\\r"); break;
		case '\t': puts_(l, "\\t"); break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				putf(l, "\\u%04x", ch);
			else
				put(l, s, 1);
		}
	}
	put(l, "\"", 1);
}

static void put_pair(struct line *l, const char *key, const char *value)
{
	if (!value)
		return;
	if (l->len)
		put(l, " ", 1);
	puts_(l, key);
	put(l, "=", 1);
	put_value(l, value);
}

static void who_addr(const struct log_who *who, char *out, size_t n)
{
	const char *addr = who->addr ? who->addr : "?";
	if (who->port > 0)
		snprintf(out, n, "%s:%d", addr, who->port);
	else
		snprintf(out, n, "%s", addr);
}

/* "C-17 app/alice@10.0.0.5:53122 closing: client closed the connection (age=1.2s)" */
static void render_text_body(struct line *l, const struct log_who *who,
			     const struct log_event *ev, const char *msg)
{
	if (who) {
		char addr[300];
		who_addr(who, addr, sizeof addr);
		putf(l, "%c-%llu ", who->kind, who->id);
		put_text(l, who->db ? who->db : "(nodb)");
		put(l, "/", 1);
		put_text(l, who->user ? who->user : "(nouser)");
		put(l, "@", 1);
		put_text(l, addr);
		put(l, " ", 1);
	}
	put_text(l, msg);
	if (!ev)
		return;
	if (ev->reason) {
		puts_(l, ": ");
		put_text(l, ev->reason);
	}
	bool first = true;
	for (size_t i = 0; i < ev->nkv; i++) {
		if (!ev->kv[i].value)
			continue;
		puts_(l, first ? " (" : ", ");
		puts_(l, ev->kv[i].key);
		put(l, "=", 1);
		put_value(l, ev->kv[i].value);
		first = false;
	}
	if (!first)
		put(l, ")", 1);
}

static void render_text(struct line *l, const struct timeval *tv, int level, bool stamp,
			const struct log_who *who, const struct log_event *ev, const char *msg)
{
	if (stamp) {
		struct tm tm;
		localtime_r(&tv->tv_sec, &tm);
		putf(l, "%04d-%02d-%02d %02d:%02d:%02d.%03d %d ", tm.tm_year + 1900, tm.tm_mon + 1,
		     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv->tv_usec / 1000),
		     (int)getpid());
	}
	puts_(l, text_levels[level]);
	put(l, " ", 1);
	render_text_body(l, who, ev, msg);
}

static void render_logfmt(struct line *l, const struct timeval *tv, int level, bool stamp,
			  const struct log_who *who, const struct log_event *ev, const char *msg)
{
	char tmp[320];
	if (stamp) {
		struct tm tm;
		char zone[8];
		localtime_r(&tv->tv_sec, &tm);
		strftime(zone, sizeof zone, "%z", &tm);   /* +0200 -> +02:00 */
		snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%.3s:%.2s",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(tv->tv_usec / 1000), zone, zone + 3);
		put_pair(l, "ts", tmp);
	}
	put_pair(l, "level", logfmt_levels[level]);
	if (stamp) {
		snprintf(tmp, sizeof tmp, "%d", (int)getpid());
		put_pair(l, "pid", tmp);
	}
	if (ev)
		put_pair(l, "event", ev->event);
	if (who) {
		snprintf(tmp, sizeof tmp, "%c-%llu", who->kind, who->id);
		put_pair(l, "conn", tmp);
		who_addr(who, tmp, sizeof tmp);
		put_pair(l, who->kind == 'S' ? "server" : "client", tmp);
		put_pair(l, "db", who->db);
		put_pair(l, "user", who->user);
	}
	put_pair(l, "msg", msg);
	if (!ev)
		return;
	put_pair(l, "reason", ev->reason);
	for (size_t i = 0; i < ev->nkv; i++)
		put_pair(l, ev->kv[i].key, ev->kv[i].value);
}

/* ---- writing ---- */

static void hold_line(const struct timeval *tv, int level, const char *msg)
{
	if (nheld == held_cap) {
		size_t ncap = held_cap ? held_cap * 2 : 16;
		struct held *n = ncap <= HOLD_MAX ? realloc(held, ncap * sizeof *n) : NULL;
		if (!n) {
			held_dropped++;
			return;
		}
		held = n;
		held_cap = ncap;
	}
	char *copy = strdup(msg);
	if (!copy) {
		held_dropped++;
		return;
	}
	held[nheld++] = (struct held){ *tv, level, copy };
}

static void emit(int level, const struct timeval *tv, const struct log_who *who,
		 const struct log_event *ev, const char *msg)
{
	struct line l;

	level = clamp_level(level);
	if (holding) {
		/* who and fields are folded into the message text: nothing
		 * but config warnings is expected this early */
		l.len = 0;
		l.buf[0] = 0;
		render_text_body(&l, who, ev, msg);
		hold_line(tv, level, l.buf);
		return;
	}
	if (log_stderr || log_file) {
		l.len = 0;
		l.buf[0] = 0;
		if (log_fmt == LOG_FORMAT_LOGFMT)
			render_logfmt(&l, tv, level, true, who, ev, msg);
		else
			render_text(&l, tv, level, true, who, ev, msg);
		l.buf[l.len++] = '\n';
		l.buf[l.len] = 0;
		if (log_stderr)
			fputs(l.buf, stderr);
		if (log_file)
			fputs(l.buf, log_file);
	}
	if (syslog_open) {
		/* syslog stamps time and pid itself */
		l.len = 0;
		l.buf[0] = 0;
		if (log_fmt == LOG_FORMAT_LOGFMT)
			render_logfmt(&l, tv, level, false, who, ev, msg);
		else
			render_text(&l, tv, level, false, who, ev, msg);
		syslog(syslog_prio[level], "%s", l.buf);
	}
}

static void vwrite_at(int level, const struct log_who *who, const struct log_event *ev,
		      const char *fmt, va_list ap)
{
	char msg[MSG_MAX_LEN];
	struct timeval tv;
	int saved = errno;

	gettimeofday(&tv, NULL);
	vsnprintf(msg, sizeof msg, fmt, ap);
	emit(level, &tv, who, ev, msg);
	errno = saved;
}

void log_write(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_at(level, NULL, NULL, fmt, ap);
	va_end(ap);
}

void log_write_at(int level, const struct log_who *who, const struct log_event *ev,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwrite_at(level, who, ev, fmt, ap);
	va_end(ap);
}

/* ---- holding and configuring ---- */

static void flush_held(void)
{
	size_t n = nheld, dropped = held_dropped;
	struct held *h = held;

	holding = false;
	held = NULL;
	nheld = held_cap = held_dropped = 0;
	for (size_t i = 0; i < n; i++) {
		if (h[i].level <= log_level_current)
			emit(h[i].level, &h[i].tv, NULL, NULL, h[i].msg);
		free(h[i].msg);
	}
	free(h);
	if (dropped)
		log_warn("%zu log lines from start-up were dropped", dropped);
}

void log_hold(void)
{
	holding = true;
}

void log_release(void)
{
	if (!holding)
		return;
	log_stderr = true;
	flush_held();
}

static void configure_syslog(const struct log_settings *cfg)
{
	int facility = LOG_DAEMON;
	if (cfg->syslog_facility >= 0 && (size_t)cfg->syslog_facility < ARRAY_SIZE(syslog_facilities))
		facility = syslog_facilities[cfg->syslog_facility];
	if (syslog_open) {
		closelog();
		syslog_open = false;
	}
	if (!cfg->use_syslog)
		return;
	snprintf(syslog_ident, sizeof syslog_ident, "%s",
		 cfg->syslog_ident && *cfg->syslog_ident ? cfg->syslog_ident : "sluice");
	openlog(syslog_ident, LOG_PID | LOG_NDELAY, facility);
	syslog_open = true;
}

void log_cmdline(int extra_verbose, bool to_stderr)
{
	cmdline_verbose = extra_verbose;
	cmdline_stderr = to_stderr;
}

bool log_configure(const struct log_settings *cfg, char *err, size_t errlen)
{
	bool ok = true;

	log_stderr = cmdline_stderr;
	log_fmt = cfg->log_format == LOG_FORMAT_LOGFMT ? LOG_FORMAT_LOGFMT : LOG_FORMAT_TEXT;
	log_set_level(LOG_LVL_INFO + cmdline_verbose + cfg->verbose);
	configure_syslog(cfg);
	/* the file is opened anew every time, so a rotated log is let go */
	if (cfg->logfile && *cfg->logfile) {
		FILE *f = fopen(cfg->logfile, "a");
		if (f) {
			setvbuf(f, NULL, _IOLBF, 0);
			if (log_file)
				fclose(log_file);
			log_file = f;
		} else {
			snprintf(err, errlen, "cannot open log file %s: %s", cfg->logfile, strerror(errno));
			ok = false;
		}
	} else if (log_file) {
		fclose(log_file);
		log_file = NULL;
	}
	if (ok && holding)
		flush_held();
	return ok;
}

void log_close(void)
{
	log_release();
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	if (syslog_open)
		closelog();
	syslog_open = false;
	log_stderr = cmdline_stderr = true;
	cmdline_verbose = 0;
	log_fmt = LOG_FORMAT_TEXT;
}

void log_set_level(int level)
{
	log_level_current = clamp_level(level);
}

void log_bug(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_release();
	log_write(LOG_LVL_ERROR, "BUG at %s:%d: %s", file, line, msg);
	abort();
}
