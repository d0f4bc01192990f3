/*
 * log.h — leveled log lines to stderr, a log file and syslog, in one of two
 * formats, and BUG().
 *
 * INTERFACE ROUTINES
 *   log_hold()                 keep lines in memory until log_configure
 *                              (config warnings read before the log file
 *                              is known then reach it too)
 *   log_cmdline(v, to_stderr)  the command line's part, once: -v count,
 *                              and whether lines go to stderr
 *   log_configure(ls, err, l)  apply a configuration's logging keys
 *                              (config_log_settings gives them)
 *                              (verbose, log_format, logfile, syslog*): at
 *                              start, and again at every reload; then
 *                              write what was held
 *   log_release()              write held lines to stderr and stop holding
 *                              (start-up failed before log_configure)
 *   log_close()
 *   log_set_level(level)
 *   log_error/log_warn/log_info/log_debug(fmt, ...)   plain lines
 *   log_write_at(level, who, ev, fmt, ...)   a line about a connection
 *                              (who) and/or an event with a reason and
 *                              named fields (ev); either may be NULL
 *   BUG(fmt, ...)  an impossible state: logs, then aborts
 *
 * A caller passes structure once and log.c writes both formats:
 *
 *   text:   2024-05-01 12:00:00.123 4711 LOG C-17 app/alice@127.0.0.1:53122 closing: client closed the connection (age=1.203s)
 *   logfmt: ts=2024-05-01T12:00:00.123+02:00 level=info pid=4711 event=disconnect conn=C-17
 *           client=127.0.0.1:53122 db=app user=alice msg=closing
 *           reason="client closed the connection" age=1.203s
 *
 * (the logfmt line is one line). In text, `who` is the prefix, the reason
 * follows the message after ": " and other fields go in parentheses; in
 * logfmt every piece is a key=value pair, quoted when it has to be.
 *
 * The level check sits in the macros so a disabled level costs one
 * compare. Connection modules wrap log_write_at (client_log, server_log).
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"


enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_NOISE };

/* log_format values */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_LOGFMT };

/* The configuration's logging keys, as log_configure takes them. */
struct log_settings {
	int log_format;            /* enum log_format */
	int verbose;
	bool use_syslog;
	int syslog_facility;       /* index into log.c's facilities; < 0: LOG_DAEMON */
	const char *syslog_ident;  /* NULL or "": "sluice" */
	const char *logfile;       /* NULL or "": none */
};

/* syslog_facility values (log.c maps them to syslog(3)'s) */
enum log_facility {
	LOG_FAC_AUTH = 0, LOG_FAC_AUTHPRIV, LOG_FAC_DAEMON, LOG_FAC_USER,
	LOG_FAC_LOCAL0, LOG_FAC_LOCAL1, LOG_FAC_LOCAL2, LOG_FAC_LOCAL3,
	LOG_FAC_LOCAL4, LOG_FAC_LOCAL5, LOG_FAC_LOCAL6, LOG_FAC_LOCAL7,
};

/* The connection a line is about. */
struct log_who {
	char kind;                   /* 'C' client, 'S' server */
	unsigned long long id;
	const char *db, *user;       /* NULL: not known yet */
	const char *addr;            /* the peer: "10.0.0.5:53122", "[::1]:5432", "unix", "/tmp" */
	int port;                    /* > 0: appended to addr as ":port" */
};

struct log_kv {
	const char *key;             /* [a-z_]+ */
	const char *value;           /* NULL: the pair is left out */
};

/* What happened, for lines a program may want to pick out. */
struct log_event {
	const char *event;           /* "login", "disconnect", "pooler_error", ... */
	const char *reason;          /* NULL: none */
	const struct log_kv *kv;     /* more fields, in order */
	size_t nkv;
};

extern int log_level_current;

void log_hold(void);
void log_cmdline(int extra_verbose, bool to_stderr);
/* false when the log file cannot be opened (err says why): the rest is
 * applied all the same, the file in use stays, held lines stay held. */
bool log_configure(const struct log_settings *ls, char *err, size_t errlen) MUST_CHECK;
void log_release(void);
void log_close(void);
void log_set_level(int level);
void log_write(int level, const char *fmt, ...) PRINTF(2, 3);
void log_write_at(int level, const struct log_who *who, const struct log_event *ev,
		  const char *fmt, ...) PRINTF(4, 5);
void log_bug(const char *file, int line, const char *fmt, ...) PRINTF(3, 4) NORETURN;

#define log_on(lvl) unlikely((lvl) <= log_level_current)
#define log_at(lvl, ...) \
	do { if (log_on(lvl)) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_noise(...) log_at(LOG_LVL_NOISE, __VA_ARGS__)

#define BUG(...) log_bug(__FILE__, __LINE__, __VA_ARGS__)

#endif
