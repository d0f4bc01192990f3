/*
 * varcache.h — the session parameters sluice keeps in step between a
 * client and whichever server connection it lands on.
 *
 * INTERFACE ROUTINES
 *   varcache_set(vc, name, value)   remember a value if `name` is tracked
 *                                   (case-insensitive); false otherwise
 *   varcache_get(vc, idx)
 *   varcache_set_index(vc, idx, value)
 *   varcache_count()                how many names are tracked now
 *   varcache_apply_sql(want, have, w)   append to `w` the simple Queries
 *                                   setting every tracked parameter where
 *                                   `want` has a value `have` lacks (one
 *                                   for client_encoding, one for the
 *                                   rest); returns how many (0: nothing
 *                                   differs)
 *   varcache_clear(vc)
 *   varcache_set_extra(list)        track_extra_parameters: more names to
 *                                   keep in step (at most VC_EXTRA_MAX)
 */
#ifndef SLUICE_VARCACHE_H
#define SLUICE_VARCACHE_H

#include <stdbool.h>
#include "compiler.h"
#include "pq_writer.h"

enum varcache_param {
	VC_CLIENT_ENCODING, VC_DATESTYLE, VC_TIMEZONE, VC_INTERVALSTYLE,
	VC_STANDARD_CONFORMING_STRINGS, VC_APPLICATION_NAME, VC_BUILTIN
};

#define VC_EXTRA_MAX 8
#define VC_COUNT (VC_BUILTIN + VC_EXTRA_MAX)

/* Values are strpool strings: clients mostly hold the same ones. The
 * track_extra_parameters values sit in an array of their own, made when
 * the first of them is set: every idle client holds a varcache, and most
 * configurations track no extra names. */
struct varcache {
	const char *val[VC_BUILTIN];
	const char **extra;          /* VC_EXTRA_MAX values, or NULL: none set */
};

/* Set the extra tracked names from a comma list; false if there are more
 * than VC_EXTRA_MAX, a name is too long, or has characters other than
 * letters, digits, '_' and '.'. */
bool varcache_set_extra(const char *list) MUST_CHECK;

int varcache_index(const char *name);
bool varcache_set(struct varcache *vc, const char *name, const char *value);
/* The same by index (0 <= i < varcache_count()); always true. */
bool varcache_set_index(struct varcache *vc, int i, const char *value);
/* The same with a value another varcache holds (a strpool string):
 * counted again, not looked up. */
void varcache_set_held(struct varcache *vc, int i, const char *value);
/* Names tracked now: the built-in ones and track_extra_parameters. */
int varcache_count(void);
/* Changes whenever the tracked names do (varcache_set_extra): what was
 * worked out from varcache_index holds while it stays the same. */
unsigned varcache_generation(void);
static inline const char *varcache_get(const struct varcache *vc, int idx)
{
	return idx < VC_BUILTIN ? vc->val[idx] : vc->extra ? vc->extra[idx - VC_BUILTIN] : NULL;
}
int varcache_apply_sql(const struct varcache *want, const struct varcache *have, struct pq_writer *w);
void varcache_copy(struct varcache *dst, const struct varcache *src);
void varcache_clear(struct varcache *vc);

#endif
