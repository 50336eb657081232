/* SPDX-License-Identifier: BSD-3-Clause */
/* The JSON API's grammar: see api.h. */
#include "api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A field: name, type (JSON_TRUE stands for a boolean), required. */
static const struct api_endpoint endpoints[] = {
    {.path = "health", .method = "GET", .kind = API_COMMAND, .cmd = "health"},
    {.path = "status", .method = "GET", .kind = API_COMMAND, .cmd = "status"},
    {.path = "stats", .method = "GET", .kind = API_COMMAND, .cmd = "stats"},
    {.path = "feeds", .method = "GET", .kind = API_COMMAND, .cmd = "get", .what = "feeds"},
    {.path = "subscribers",
     .method = "GET",
     .kind = API_COMMAND,
     .cmd = "get",
     .what = "subscribers"},
    {.path = "apply",
     .method = "POST",
     .kind = API_COMMAND,
     .cmd = "apply",
     .changes = true,
     .fields = {{"yaml", JSON_STRING, true},
		{"file", JSON_STRING, false},
		{"dry_run", JSON_TRUE, false}}},
    {.path = "add-subscriber",
     .method = "POST",
     .kind = API_COMMAND,
     .cmd = "add-subscriber",
     .changes = true,
     .fields = {{"subscriber", JSON_OBJECT, true}, {"dry_run", JSON_TRUE, false}}},
    {.path = "remove-subscriber",
     .method = "POST",
     .kind = API_COMMAND,
     .cmd = "remove-subscriber",
     .changes = true,
     .fields = {{"name", JSON_STRING, true}, {"dry_run", JSON_TRUE, false}}},
    {.path = "add-pattern",
     .method = "POST",
     .kind = API_COMMAND,
     .cmd = "add-pattern",
     .changes = true,
     .fields = {{"subscriber", JSON_STRING, true},
		{"pattern", JSON_STRING, true},
		{"dry_run", JSON_TRUE, false}}},
    {.path = "remove-pattern",
     .method = "POST",
     .kind = API_COMMAND,
     .cmd = "remove-pattern",
     .changes = true,
     .fields = {{"subscriber", JSON_STRING, true},
		{"pattern", JSON_STRING, true},
		{"dry_run", JSON_TRUE, false}}},
    /* GET arguments travel as strings: their values are checked by history.c. */
    {.path = "history",
     .method = "GET",
     .kind = API_HISTORY,
     .cmd = "history",
     .fields = {{"before", JSON_STRING, false}, {"limit", JSON_STRING, false}}},
    {.path = "history/", .method = "GET", .kind = API_HISTORY_VERSION, .cmd = "history-version"},
};

#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

size_t api_count(void)
{
	return N_ENDPOINTS;
}

const struct api_endpoint *api_endpoint(size_t i)
{
	return i < N_ENDPOINTS ? &endpoints[i] : NULL;
}

const struct api_endpoint *api_find(const char *path)
{
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		const struct api_endpoint *e = &endpoints[i];
		size_t n = strlen(e->path);

		if (e->kind == API_HISTORY_VERSION
			? strncmp(path, e->path, n) == 0 && path[n] != '\0'
			: strcmp(path, e->path) == 0)
			return e;
	}
	return NULL;
}

const struct api_endpoint *api_for_request(const json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	const char *what = json_string_value(json_object_get(req, "what"));

	if (cmd == NULL)
		return NULL;
	for (size_t i = 0; i < N_ENDPOINTS; i++) {
		const struct api_endpoint *e = &endpoints[i];

		if (e->cmd != NULL && strcmp(e->cmd, cmd) == 0 &&
		    (e->what == NULL || (what != NULL && strcmp(e->what, what) == 0)))
			return e;
	}
	return NULL;
}

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "true or false";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static bool type_ok(const json_t *v, json_type want)
{
	return want == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want;
}

/* "yaml, file, dry_run" for messages. */
static void field_list(const struct api_endpoint *e, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < API_MAX_FIELDS && e->fields[i].name != NULL && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", e->fields[i].name);
	if (o == 0)
		snprintf(buf, size, "nothing");
}

/* Check `args` (a body or the query) against the endpoint's fields. 0 or -EINVAL. */
static int check_fields(const struct api_endpoint *e, const json_t *args, const char *where,
			char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	char list[128];

	json_object_foreach((json_t *)args, key, v)
	{
		const struct api_field *f = NULL;

		for (int i = 0; i < API_MAX_FIELDS && e->fields[i].name != NULL; i++)
			if (strcmp(e->fields[i].name, key) == 0)
				f = &e->fields[i];
		if (f == NULL) {
			field_list(e, list, sizeof(list));
			snprintf(err, errlen, "%s: unknown %s \"%s\" (%s takes %s)", e->path, where,
				 key, e->path, list);
			return -EINVAL;
		}
		if (!type_ok(v, f->type)) {
			snprintf(err, errlen, "%s: %s \"%s\" must be %s, not %s", e->path, where,
				 key, type_name(f->type), type_name(json_typeof(v)));
			return -EINVAL;
		}
	}
	for (int i = 0; i < API_MAX_FIELDS && e->fields[i].name != NULL; i++) {
		if (e->fields[i].required && json_object_get(args, e->fields[i].name) == NULL) {
			snprintf(err, errlen, "%s: %s \"%s\" missing", e->path, where,
				 e->fields[i].name);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *api_request(const struct api_endpoint *e, const char *path, const char *body, size_t len,
		    const json_t *query, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *req;

	if (strcmp(e->method, "GET") == 0) {
		if (len != 0) {
			snprintf(err, errlen, "%s: GET takes no body", e->path);
			return NULL;
		}
		req = query != NULL ? json_deep_copy(query) : json_object();
		if (req == NULL || check_fields(e, req, "argument", err, errlen) < 0) {
			json_decref(req);
			return NULL;
		}
		if (e->kind == API_HISTORY_VERSION)
			json_object_set_new(req, "version", json_string(path + strlen(e->path)));
	} else {
		if (len == 0) {
			snprintf(err, errlen, "%s: the body must be a JSON object", e->path);
			return NULL;
		}
		/* Duplicate keys would leave which one counts to chance: refused. */
		req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		if (req == NULL) {
			snprintf(err, errlen, "%s: invalid JSON at line %d column %d: %s", e->path,
				 jerr.line, jerr.column, jerr.text);
			return NULL;
		}
		if (!json_is_object(req)) {
			snprintf(err, errlen, "%s: the body must be a JSON object, not %s", e->path,
				 type_name(json_typeof(req)));
			json_decref(req);
			return NULL;
		}
		if (query != NULL && json_object_size(query) != 0) {
			snprintf(err, errlen, "%s: POST takes its arguments in the body", e->path);
			json_decref(req);
			return NULL;
		}
		if (check_fields(e, req, "field", err, errlen) < 0) {
			json_decref(req);
			return NULL;
		}
	}
	if (e->cmd != NULL)
		json_object_set_new(req, "cmd", json_string(e->cmd));
	if (e->what != NULL)
		json_object_set_new(req, "what", json_string(e->what));
	return req;
}

json_t *api_body(const struct api_endpoint *e, const json_t *req)
{
	json_t *b = json_object();
	const char *key;
	json_t *v;

	(void)e;
	json_object_foreach((json_t *)req, key, v)
	{
		if (strcmp(key, "cmd") != 0 && strcmp(key, "what") != 0)
			json_object_set(b, key, v);
	}
	return b;
}

unsigned int api_status(const json_t *reply)
{
	static const struct {
		const char *kind;
		unsigned int status;
	} map[] = {
	    {"invalid", 400}, {"denied", 403},	 {"not_found", 404},   {"conflict", 409},
	    {"limit", 422},   {"internal", 500}, {"unavailable", 503},
	};
	const char *kind;

	if (json_is_true(json_object_get(reply, "ok")))
		return 200;
	kind = json_string_value(json_object_get(reply, "kind"));
	for (size_t i = 0; kind != NULL && i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].kind, kind) == 0)
			return map[i].status;
	return 400;
}

json_t *api_refusal(const char *kind, const char *msg)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "kind", kind);
}
