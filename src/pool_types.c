/*
 * pool_types.c — the little a pool's data needs of its own: resolving its
 * target and the list of parameters a login reported (pool_types.h).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "pool_types.h"

bool pool_resolve(struct pool_target *t, char *err, size_t errlen)
{
	if (t->resolved)
		return true;
	memset(&t->addr, 0, sizeof t->addr);
	if (t->host[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&t->addr;
		un->sun_family = AF_UNIX;
		int n = snprintf(un->sun_path, sizeof un->sun_path, "%s/.s.PGSQL.%d", t->host, t->port);
		if (n < 0 || (size_t)n >= sizeof un->sun_path) {
			snprintf(err, errlen, "unix socket path too long: %s", t->host);
			return false;
		}
		t->addrlen = sizeof *un;
		t->resolved = true;
		return true;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC }, *res = NULL;
	char port[16];
	snprintf(port, sizeof port, "%d", t->port);
	int rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "could not resolve host \"%s\": %s", t->host, gai_strerror(rc));
		return false;
	}
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	t->resolved = true;
	return true;
}

void param_list_add(struct param_list *pl, const char *name, const char *value)
{
	for (size_t i = 0; i < pl->n; i++) {
		if (!strcmp(pl->names[i], name)) {
			char *v = strdup(value);
			if (v) {
				free(pl->values[i]);
				pl->values[i] = v;
			}
			return;
		}
	}
	char **nn = realloc(pl->names, (pl->n + 1) * sizeof *nn);
	if (!nn)
		return;
	pl->names = nn;
	char **nv = realloc(pl->values, (pl->n + 1) * sizeof *nv);
	if (!nv)
		return;
	pl->values = nv;
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return;
	}
	pl->names[pl->n] = n;
	pl->values[pl->n] = v;
	pl->n++;
}

void param_list_free(struct param_list *pl)
{
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->names[i]);
		free(pl->values[i]);
	}
	free(pl->names);
	free(pl->values);
	memset(pl, 0, sizeof *pl);
}
