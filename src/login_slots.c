/*
 * login_slots.c — clients that have not finished logging in, oldest
 * first, against max_login_clients (see login_slots.h).
 */
#include "client.h"
#include "config.h"
#include "login_slots.h"
#include "runtime.h"

void login_slots_enter(struct client *c)
{
	list_append(&rt.logins, &c->login_node);
	rt.nlogins++;
}

void login_slots_leave(struct client *c)
{
	if (list_empty(&c->login_node))
		return;
	list_del_init(&c->login_node);
	rt.nlogins--;
}

bool login_slots_full(void)
{
	return rt.nlogins >= rt.cfg->max_login_clients;
}

/* The oldest client whose login waits for its peer (startup packet, TLS
 * handshake, password): one waiting for sluice (an auth_query lookup) is
 * passed over. The list is in accept order, so the first one younger than
 * LOGIN_SLOT_MIN_AGE ends the search. */
struct client *login_slots_victim(double now)
{
	for (struct list *it = rt.logins.next; it != &rt.logins; it = it->next) {
		struct client *c = list_entry(it, struct client, login_node);
		if (now - c->connected_at < LOGIN_SLOT_MIN_AGE)
			return NULL;
		if (c->state == CL_STARTUP || c->state == CL_AUTH)
			return c;
	}
	return NULL;
}
