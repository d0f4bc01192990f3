/*
 * metrics.h — Prometheus metrics and a health check over HTTP (libevent's
 * evhttp) on metrics_listen; off when that key is empty.
 *
 *   GET /metrics   the text exposition format (doc/metrics.md lists every
 *                  metric): pools, per-database counters, the client wait
 *                  histogram, process figures
 *   GET /health    200 "ok" while every database that sluice has tried to
 *                  reach is reachable; 503 naming the ones that are not
 *   anything else  404
 *
 * INTERFACE ROUTINES
 *   metrics_start(cfg, &m, err, errlen)  listen (m is NULL when off); false
 *                                        with err saying why (bad value,
 *                                        port in use)
 *   metrics_free(m)                      stop listening, drop open requests;
 *                                        NULL is a no-op
 *   metrics_parse_listen(text, host, hostlen, &port, why, whylen)
 *                                        "host:port", "[v6addr]:port" or
 *                                        "*:port" (every address) into parts
 *   metrics_render(buf)                  append the /metrics text
 *   metrics_health(buf)                  true when healthy; appends the body
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

struct config;
struct evbuffer;
struct metrics;

bool metrics_start(const struct config *cfg, struct metrics **out, char *err, size_t errlen) MUST_CHECK;
void metrics_free(struct metrics *m);
bool metrics_parse_listen(const char *text, char *host, size_t hostlen, int *port,
			  char *why, size_t whylen) MUST_CHECK;
void metrics_render(struct evbuffer *buf);
bool metrics_health(struct evbuffer *buf);

#endif
