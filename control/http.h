/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-control's HTTP side (docs/console.md, docs/control.md), served by libmicrohttpd
 * with one thread per connection, on up to two listeners:
 *
 *   plain  http_bind:http_port (loopback by default): read-only, no identity needed;
 *   HTTPS  https_bind:https_port: mutual TLS. A client must present a certificate that
 *          chains to tls_client_ca and is valid now, or the handshake fails; the
 *          certificate's subject common name is its identity, which read_certs and
 *          write_certs map to a role. Changes are audited with that identity and the
 *          client's address; a change without the write role is 403 and audited as
 *          denied.
 *
 * Both serve:
 *   GET /health   health JSON; 200 when healthy, 503 otherwise
 *   GET /metrics  Prometheus text exposition (version 0.0.4)
 *   GET /status   health plus every counter, JSON, with the sample's number and time
 *   GET /events   server-sent events: "status" (the /status document) at every sample,
 *                 "stats" (the dataplane's stats, latency included) every second
 *   GET /console/ the operator's console (files built into the binary)
 *   /api/v1/...   the JSON API (api.h); changes only over HTTPS
 *
 * Threads: the connection threads never touch the store, the table, the link or the
 * health mapping. They serve texts the event loop renders at each sample
 * (http_publish), and hand every API request to the event loop as a job: the loop
 * polls http_fd() and runs the jobs with http_run(), one at a time like asterctl's
 * requests, so a change from the API and one from the socket are serialised the same
 * way and go through the same server_execute().
 */
#ifndef ASTER_CONTROL_HTTP_H
#define ASTER_CONTROL_HTTP_H

#include <stddef.h>

#include <jansson.h>

struct http;
struct server_ctx;
struct settings;

/* Start the listeners the settings enable (none when both ports are 0). NULL + errno
 * with one line in err ("https: tls_cert /etc/...: cannot read: ..."). */
struct http *http_start(const struct settings *set, char *err, size_t errlen);
/* Stop listening; requests waiting for the loop are answered 503. */
void http_stop(struct http *h);

/* Replace the served sample. Takes over `health`, `status` (JSON objects) and
 * `metrics` (malloc'd text); `healthy` picks /health's status code. */
void http_publish(struct http *h, json_t *health, int healthy, json_t *status, char *metrics);

/* An eventfd, readable while API requests wait for the event loop. */
int http_fd(const struct http *h);
/* Run the waiting requests on the event loop's thread. */
void http_run(struct http *h, struct server_ctx *ctx);

#endif
