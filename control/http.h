/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The read-only HTTP endpoint (issue 3 §5, §7), served by libmicrohttpd in its own
 * internal thread:
 *   GET /health   health JSON; 200 when healthy, 503 otherwise
 *   GET /metrics  Prometheus text exposition (version 0.0.4)
 *   GET /status   health plus every counter, JSON
 * Anything else is 404, any other method 405. The HTTP thread never touches the
 * store, the link or the health mapping: it serves the texts the event loop rendered
 * at its last sample, swapped in under a mutex.
 */
#ifndef ASTER_CONTROL_HTTP_H
#define ASTER_CONTROL_HTTP_H

#include <stdint.h>

struct http;

/* Start listening on bind:port. NULL + errno. */
struct http *http_start(const char *bind, uint16_t port);
void http_stop(struct http *h);

/* Replace the served texts (taken over: freed by http). `healthy` picks /health's
 * status code. */
void http_publish(struct http *h, char *health_json, int healthy, char *status_json, char *metrics);

#endif
