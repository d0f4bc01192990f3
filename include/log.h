/*
 * log.h — leveled logging to stderr and/or a log file, and BUG().
 *
 * INTERFACE ROUTINES
 *   log_open(path, to_stderr)  start writing to path (may be NULL)
 *   log_close()
 *   log_set_level(level)
 *   log_error/log_warn/log_info/log_debug(fmt, ...)   plain lines
 *   BUG(fmt, ...)  an impossible state: logs, then aborts
 *
 * The level check sits in the macro so a disabled level costs one compare.
 * Connection modules wrap these with their own prefixes (client_log...).
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include "compiler.h"

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG, LOG_LVL_NOISE };

extern int log_level_current;

bool log_open(const char *path, bool to_stderr) MUST_CHECK;
void log_close(void);
void log_set_level(int level);
void log_write(int level, const char *fmt, ...) PRINTF(2, 3);
void log_bug(const char *file, int line, const char *fmt, ...) PRINTF(3, 4) NORETURN;

#define log_at(lvl, ...) \
	do { if (unlikely((lvl) <= log_level_current)) log_write((lvl), __VA_ARGS__); } while (0)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_noise(...) log_at(LOG_LVL_NOISE, __VA_ARGS__)

#define BUG(...) log_bug(__FILE__, __LINE__, __VA_ARGS__)

#endif
