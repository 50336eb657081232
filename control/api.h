/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON API (docs/console.md): one endpoint per asterctl command, under /api/v1/,
 * plus the table's history for the console. This file is the API's grammar only: which
 * path and method name which command, which body fields each takes, how a request
 * becomes the asterctl request that server_execute() runs (server.h), and how a reply
 * becomes an HTTP status. Pure functions, no I/O: http.c serves them over HTTP(S), and
 * asterctl --server uses the same table to reach a remote aster-control.
 *
 *   GET  /api/v1/health | status | stats         health, status, stats
 *   GET  /api/v1/feeds | subscribers             get feeds, get subscribers
 *   POST /api/v1/apply                           {"yaml", "file"?, "dry_run"?}
 *   POST /api/v1/add-subscriber                  {"subscriber": {...}, "dry_run"?}
 *   POST /api/v1/remove-subscriber               {"name", "dry_run"?}
 *   POST /api/v1/add-pattern | remove-pattern    {"subscriber", "pattern", "dry_run"?}
 *   GET  /api/v1/history[?before=N&limit=M]      versions, who and when (history.h)
 *   GET  /api/v1/history/N                       version N: its YAML and diff
 *
 * A reply is the asterctl reply ({"ok": true, ...} or {"ok": false, "error", "kind"}),
 * with the HTTP status api_status() gives it.
 */
#ifndef ASTER_CONTROL_API_H
#define ASTER_CONTROL_API_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define API_PREFIX "/api/v1/"

/* One field of a request body. */
struct api_field {
	const char *name;
	json_type type; /* JSON_TRUE stands for either boolean */
	bool required;
};

#define API_MAX_FIELDS 4

enum api_kind {
	API_COMMAND,	     /* an asterctl command: server_execute() */
	API_HISTORY,	     /* the list of versions: history_list() */
	API_HISTORY_VERSION, /* one version: history_version() */
};

struct api_endpoint {
	const char *path;   /* after API_PREFIX; "history/" is followed by a version */
	const char *method; /* "GET" or "POST" */
	enum api_kind kind;
	const char *cmd;  /* API_COMMAND: the asterctl command */
	const char *what; /* cmd "get": feeds or subscribers */
	bool changes;	  /* changes the table: HTTPS and the write role only */
	struct api_field fields[API_MAX_FIELDS];
};

/* The endpoint of a path (what follows API_PREFIX, query string excluded), or NULL. */
const struct api_endpoint *api_find(const char *path);

/* The endpoint asterctl uses for request `req` ({"cmd": ..., ...}), or NULL. */
const struct api_endpoint *api_for_request(const json_t *req);

/*
 * The request server_execute() (or history.h) takes for a call of endpoint `e` at
 * `path` with `body` (len bytes; GET: none) and the query `query` (GET: an object of
 * its arguments, may be NULL). NULL with one line in err when the call is wrong: the
 * body is not a JSON object, a field is unknown, missing or of the wrong type.
 */
json_t *api_request(const struct api_endpoint *e, const char *path, const char *body, size_t len,
		    const json_t *query, char *err, size_t errlen);

/* The body asterctl sends for `req` to endpoint `e`: req without "cmd" and "what". */
json_t *api_body(const struct api_endpoint *e, const json_t *req);

/* The HTTP status of a reply: 200, or the refusal's kind mapped (400, 403, 404, 409,
 * 422, 500, 503). */
unsigned int api_status(const json_t *reply);

/* {"ok": false, "error": msg, "kind": kind}: the API's own refusals, shaped like the
 * server's. */
json_t *api_refusal(const char *kind, const char *msg);

/* How many endpoints there are, and endpoint i (for the index and the docs). */
size_t api_count(void);
const struct api_endpoint *api_endpoint(size_t i);

#endif
