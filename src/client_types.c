/*
 * client_types.c — the little a client's data needs of its own: its
 * address and state as text (client_types.h).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "client_types.h"

static const char *const state_names[] = {
	[CL_STARTUP] = "startup", [CL_AUTH] = "auth", [CL_AUTH_QUERY] = "auth_query",
	[CL_LOGIN_WAIT] = "login_wait",
	[CL_IDLE] = "idle", [CL_WAITING] = "waiting", [CL_ACTIVE] = "active", [CL_ADMIN] = "admin",
	[CL_HELD] = "held",
	[CL_CLOSED] = "closed",
};

const char *client_state_name(enum client_state st)
{
	return st <= CL_CLOSED ? state_names[st] : "?";
}

void client_addr(const struct client *c, char *out, size_t n)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (c->peer.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &c->peer.in.sin_addr, host, sizeof host);
		snprintf(out, n, "%s:%u", host, ntohs(c->peer.in.sin_port));
	} else if (c->peer.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &c->peer.in6.sin6_addr, host, sizeof host);
		snprintf(out, n, "[%s]:%u", host, ntohs(c->peer.in6.sin6_port));
	} else {
		snprintf(out, n, "unix");
	}
}
