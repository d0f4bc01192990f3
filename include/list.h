/*
 * list.h — intrusive circular doubly linked list.
 *
 * A zero-filled head is not valid: call list_init() first. An entry that is
 * on no list has next == prev == itself after list_del_init().
 */
#ifndef SLUICE_LIST_H
#define SLUICE_LIST_H

#include <stdbool.h>
#include "compiler.h"

struct list {
	struct list *next, *prev;
};

static inline void list_init(struct list *l) { l->next = l->prev = l; }
static inline bool list_empty(const struct list *l) { return l->next == l; }

static inline void list_insert_between(struct list *e, struct list *prev, struct list *next)
{
	e->next = next;
	e->prev = prev;
	prev->next = e;
	next->prev = e;
}

/* Append at the tail (FIFO order with list_first). */
static inline void list_append(struct list *head, struct list *e)
{
	list_insert_between(e, head->prev, head);
}

static inline void list_prepend(struct list *head, struct list *e)
{
	list_insert_between(e, head, head->next);
}

static inline void list_del_init(struct list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	list_init(e);
}

static inline struct list *list_first(const struct list *head)
{
	return list_empty(head) ? NULL : head->next;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)

#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

#endif
