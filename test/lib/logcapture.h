/*
 * logcapture.h — for unit tests: what sluice's log writes (to stderr)
 * between log_capture_start() and log_capture_end(), as a string the
 * caller frees. Warnings are on while capturing; errors only afterwards.
 * Needs userlist.h's file_read_all (through config_internal.h).
 */
#ifndef SLUICE_TEST_LOGCAPTURE_H
#define SLUICE_TEST_LOGCAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int log_capture_saved = -1;
static char log_capture_path[] = "/tmp/sluice-test-stderr-XXXXXX";

static void log_capture_start(void)
{
	fflush(stderr);
	strcpy(log_capture_path + strlen(log_capture_path) - 6, "XXXXXX");
	int fd = mkstemp(log_capture_path);
	if (fd < 0)
		BUG("mkstemp");
	log_capture_saved = dup(2);
	dup2(fd, 2);
	close(fd);
	log_set_level(LOG_LVL_WARN);
}

static char *log_capture_end(void)
{
	char *text = NULL, err[256];
	size_t len;
	fflush(stderr);
	log_set_level(LOG_LVL_ERROR);
	dup2(log_capture_saved, 2);
	close(log_capture_saved);
	if (!file_read_all(log_capture_path, &text, &len, err, sizeof err))
		text = strdup("");
	unlink(log_capture_path);
	return text;
}

#endif
