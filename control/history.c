/* SPDX-License-Identifier: BSD-3-Clause */
/* The table's history from the store and the audit log: see history.h. */
#include "history.h"
#include "routing_config.h"
#include "server.h"
#include "settings.h"
#include "store.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERR_LEN 1024

static json_t *refuse(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *refuse(const char *kind, const char *fmt, ...)
{
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "kind", kind);
}

/* A decimal argument; `def` when absent. -EINVAL when present and not a number in
 * [min, max]. */
static int arg_u64(json_t *req, const char *key, uint64_t def, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	const char *v = json_string_value(json_object_get(req, key));
	char *end;

	*out = def;
	if (v == NULL)
		return 0;
	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

/*
 * The audit log's last HISTORY_AUDIT_TAIL bytes: `made` maps each version an audit line
 * says it made ("after" of an "ok" line) to that line; `latest` holds the last
 * HISTORY_AUDIT_LINES lines, newest first. A line that is not JSON is skipped (the log
 * is appended by this daemon alone, but it may have been edited by hand).
 */
static void audit_tail(const char *path, json_t *made, json_t *latest)
{
	size_t len = 0, start = 0;
	struct stat st;
	char *buf;
	off_t off;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return;
	}
	off = st.st_size > (off_t)HISTORY_AUDIT_TAIL ? st.st_size - (off_t)HISTORY_AUDIT_TAIL : 0;
	buf = malloc((size_t)(st.st_size - off) + 1);
	if (buf == NULL) {
		close(fd);
		return;
	}
	while (len < (size_t)(st.st_size - off)) {
		ssize_t r =
		    pread(fd, buf + len, (size_t)(st.st_size - off) - len, off + (off_t)len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	/* Not from the file's start: the first line is cut, skip it. */
	if (off > 0) {
		char *nl = memchr(buf, '\n', len);

		start = nl != NULL ? (size_t)(nl - buf) + 1 : len;
	}
	while (start < len) {
		char *nl = memchr(buf + start, '\n', len - start);
		size_t n = nl != NULL ? (size_t)(nl - (buf + start)) : len - start;
		json_t *line = json_loadb(buf + start, n, 0, NULL);

		if (json_is_object(line)) {
			const char *result = json_string_value(json_object_get(line, "result"));
			json_int_t after = json_integer_value(json_object_get(line, "after"));
			char key[24];

			if (result != NULL && strcmp(result, "ok") == 0) {
				snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, after);
				json_object_set(made, key, line);
			}
			json_array_insert(latest, 0, line);
			if (json_array_size(latest) > HISTORY_AUDIT_LINES)
				json_array_remove(latest, HISTORY_AUDIT_LINES);
		}
		json_decref(line);
		start += n + 1;
	}
	free(buf);
}

/* A version entry: its number and time, and the audit line that made it, if found. */
static json_t *version_entry(uint64_t version, const char *applied_at, json_t *made)
{
	json_t *e =
	    json_pack("{s:I, s:s}", "version", (json_int_t)version, "applied_at", applied_at);
	char key[24];
	json_t *line;

	snprintf(key, sizeof(key), "%" PRIu64, version);
	line = json_object_get(made, key);
	if (line != NULL) {
		const char *k;
		json_t *v;

		json_object_foreach(line, k, v)
		{
			if (strcmp(k, "time") != 0 && strcmp(k, "before") != 0 &&
			    strcmp(k, "after") != 0)
				json_object_set(e, k, v);
		}
	}
	return e;
}

struct listing {
	json_t *versions;
	json_t *made;
};

static void add_version(void *arg, uint64_t version, const char *applied_at)
{
	struct listing *l = arg;

	json_array_append_new(l->versions, version_entry(version, applied_at, l->made));
}

json_t *history_list(struct server_ctx *ctx, const struct server_peer *peer, json_t *req)
{
	struct listing l;
	uint64_t before, limit;
	json_t *latest, *r;
	int n;

	(void)peer;
	if (arg_u64(req, "before", 0, 1, INT64_MAX, &before) < 0)
		return refuse("invalid", "history: \"before\" must be a version number");
	if (arg_u64(req, "limit", HISTORY_LIMIT, 1, HISTORY_MAX_LIMIT, &limit) < 0)
		return refuse("invalid", "history: \"limit\" must be 1..%u", HISTORY_MAX_LIMIT);
	l.versions = json_array();
	l.made = json_object();
	latest = json_array();
	audit_tail(ctx->set->audit_log, l.made, latest);
	n = store_versions(ctx->store, before, (uint32_t)limit, add_version, &l);
	json_decref(l.made);
	if (n < 0) {
		json_decref(l.versions);
		json_decref(latest);
		return refuse("internal", "history: store: %s", strerror(-n));
	}
	r = json_pack("{s:b, s:I, s:o, s:o}", "ok", 1, "version", (json_int_t)ctx->version,
		      "versions", l.versions, "audit", latest);
	return r;
}

/* Parse a stored version's YAML; an empty table for `text` NULL (no such version). */
static struct routing_config *parse_version(const char *text, uint64_t v, char *err, size_t errlen)
{
	char name[40];

	if (text == NULL)
		return calloc(1, sizeof(struct routing_config));
	snprintf(name, sizeof(name), "version %" PRIu64, v);
	return routing_config_parse(text, strlen(text), name, err, errlen);
}

json_t *history_version(struct server_ctx *ctx, const struct server_peer *peer, json_t *req)
{
	struct routing_config *a = NULL, *b = NULL;
	char err[ERR_LEN] = "", *ya = NULL, *yb = NULL, *diff = NULL;
	struct listing l = {json_array(), json_object()};
	json_t *r = NULL, *latest = json_array();
	size_t n_changes = 0;
	uint64_t v;

	(void)peer;
	if (arg_u64(req, "version", 0, 1, INT64_MAX, &v) < 0) {
		r = refuse("invalid", "history: the version must be a number from 1");
		goto out;
	}
	audit_tail(ctx->set->audit_log, l.made, latest);
	if (store_versions(ctx->store, v + 1, 1, add_version, &l) != 1 ||
	    json_integer_value(json_object_get(json_array_get(l.versions, 0), "version")) !=
		(json_int_t)v) {
		r = refuse("not_found", "history: version %" PRIu64 " is not in the store", v);
		goto out;
	}
	yb = store_version_yaml(ctx->store, v);
	ya = v > 1 ? store_version_yaml(ctx->store, v - 1) : NULL;
	if (yb == NULL) {
		r = refuse("internal", "history: version %" PRIu64 ": %s", v, strerror(errno));
		goto out;
	}
	a = parse_version(ya, v - 1, err, sizeof(err));
	b = parse_version(yb, v, err, sizeof(err));
	if (a == NULL || b == NULL) {
		r = refuse("internal", "history: %s", err[0] ? err : strerror(errno));
		goto out;
	}
	diff = table_diff(a, b, &n_changes);
	if (diff == NULL) {
		r = refuse("internal", "history: diff: %s", strerror(errno));
		goto out;
	}
	r = json_array_get(l.versions, 0);
	json_incref(r);
	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "previous",
			    ya != NULL ? json_integer((json_int_t)(v - 1)) : json_null());
	json_object_set_new(r, "changes", json_integer((json_int_t)n_changes));
	json_object_set_new(r, "diff", json_string(diff));
	json_object_set_new(r, "yaml", json_string(yb));
out:
	routing_config_free(a);
	routing_config_free(b);
	free(ya);
	free(yb);
	free(diff);
	json_decref(l.versions);
	json_decref(l.made);
	json_decref(latest);
	return r;
}
