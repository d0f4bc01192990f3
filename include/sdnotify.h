/*
 * sdnotify.h — telling systemd how the process is doing (a Type=notify
 * service) and petting its watchdog, through libsystemd's sd_notify().
 *
 * Every routine is a no-op when NOTIFY_SOCKET is not set (not started by
 * systemd), and when sluice was built without libsystemd (make SYSTEMD=0,
 * or libsystemd-dev missing): then sdnotify_ready() warns once if
 * NOTIFY_SOCKET asks for notifications that will never come.
 *
 * INTERFACE ROUTINES
 *   sdnotify_ready()          listening and serving: READY=1; starts the
 *                             WATCHDOG=1 timer (half of WATCHDOG_USEC) when
 *                             systemd asks for one (WatchdogSec=)
 *   sdnotify_reloading()      RELOADING=1 (with MONOTONIC_USEC), a reload
 *                             begins
 *   sdnotify_reloaded(why)    READY=1 again; why: NULL when the new
 *                             configuration took, else the reason it was
 *                             refused (shown in STATUS=)
 *   sdnotify_stopping(how)    STOPPING=1, once; nothing more is sent after
 *                             it but the watchdog's
 *   sdnotify_free()           stop the watchdog timer
 */
#ifndef SLUICE_SDNOTIFY_H
#define SLUICE_SDNOTIFY_H

void sdnotify_ready(void);
void sdnotify_reloading(void);
void sdnotify_reloaded(const char *why);
void sdnotify_stopping(const char *how);
void sdnotify_free(void);

#endif
