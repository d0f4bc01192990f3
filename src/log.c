/*
 * log.c — leveled log lines with a timestamp and pid, to stderr and/or a
 * log file; BUG() for impossible states.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int log_level_current = LOG_LVL_INFO;

static FILE *log_file;
static bool log_stderr = true;

static const char *const level_names[] = { "ERROR", "WARNING", "LOG", "DEBUG", "NOISE" };

bool log_open(const char *path, bool to_stderr)
{
	log_stderr = to_stderr;
	if (!path || !*path)
		return true;
	FILE *f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "cannot open log file %s: %s\n", path, strerror(errno));
		return false;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	if (log_file)
		fclose(log_file);
	log_file = f;
	return true;
}

void log_close(void)
{
	if (log_file)
		fclose(log_file);
	log_file = NULL;
}

void log_set_level(int level)
{
	if (level < LOG_LVL_ERROR) level = LOG_LVL_ERROR;
	if (level > LOG_LVL_NOISE) level = LOG_LVL_NOISE;
	log_level_current = level;
}

static void log_vwrite(int level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d %d %s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (int)(tv.tv_usec / 1000), (int)getpid(),
			 level_names[level < 0 ? 0 : level > LOG_LVL_NOISE ? LOG_LVL_NOISE : level]);
	if (n < 0) n = 0;
	if ((size_t)n < sizeof line) {
		int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
		if (m > 0) n += m;
	}
	if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
	line[n++] = '\n';
	line[n] = 0;
	if (log_stderr)
		fputs(line, stderr);
	if (log_file)
		fputs(line, log_file);
}

void log_write(int level, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
	errno = saved;
}

void log_bug(const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_write(LOG_LVL_ERROR, "BUG at %s:%d: %s", file, line, msg);
	abort();
}
