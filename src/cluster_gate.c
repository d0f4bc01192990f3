/*
 * cluster_gate.c — the cluster-wide migration gate (cluster_gate.h).
 */
#include <stdio.h>
#include <string.h>

#include "cluster.h"
#include "cluster_gate.h"
#include "gate.h"

/* This member's gates for its row: those not open, with their window. */
static void describe(char *out, size_t n)
{
	size_t len = 0;
	out[0] = 0;
	for (struct gate *g = gate_next(NULL); g; g = gate_next(g)) {
		int w = g->state == GATE_OPEN
			? snprintf(out + len, n - len, "%s%s=open", len ? " " : "", g->db_name)
			: snprintf(out + len, n - len, "%s%s=%s/%llu", len ? " " : "", g->db_name,
				   gate_state_name(g->state), (unsigned long long)g->cur.number);
		if (w < 0 || (size_t)w >= n - len) {
			out[len] = 0;
			break;
		}
		len += (size_t)w;
	}
}

static const struct cluster_ops ops = {
	.describe = describe,
};

void cluster_gate_start(void)
{
	cluster_set_ops(&ops);
}
