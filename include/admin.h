/*
 * admin.h — the admin console: database "sluice" (alias "pgbouncer") on the
 * ordinary listener, for admin_users (all commands) and stats_users (SHOW).
 * Answers use PgBouncer's column names, order and types, so existing tools
 * read them unchanged.
 *
 * INTERFACE ROUTINES
 *   admin_is_console(db)   is this database name the console?
 *   admin_login(c)         authenticated client of the console: check the
 *                          user's rights, greet it
 *   admin_input(c)         run the simple queries the client sent
 */
#ifndef SLUICE_ADMIN_H
#define SLUICE_ADMIN_H

#include <stdbool.h>

struct client;

bool admin_is_console(const char *db);
void admin_login(struct client *c);
void admin_input(struct client *c);

#endif
