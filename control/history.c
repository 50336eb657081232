/* SPDX-License-Identifier: BSD-3-Clause */
/* The table's history from the store and the audit log: see history.h. */
#include "history.h"
#include "server.h"
#include "settings.h"
#include "store.h"

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

/* A version entry: its number, time, kind and size, and the audit line that made it, if
 * found. */
static json_t *version_entry(const struct store_version *v, json_t *made)
{
	json_t *e =
	    json_pack("{s:I, s:s, s:b, s:I}", "version", (json_int_t)v->version, "applied_at",
		      v->applied_at, "whole", (int)v->whole, "changes", (json_int_t)v->changes);
	char key[24];
	json_t *line;

	snprintf(key, sizeof(key), "%" PRIu64, v->version);
	line = json_object_get(made, key);
	if (line != NULL) {
		const char *k;
		json_t *x;

		json_object_foreach(line, k, x)
		{
			if (strcmp(k, "time") != 0 && strcmp(k, "before") != 0 &&
			    strcmp(k, "after") != 0)
				json_object_set(e, k, x);
		}
	}
	return e;
}

json_t *history_list(struct server_ctx *ctx, const struct server_peer *peer, json_t *req)
{
	char err[ERR_LEN] = "";
	struct store_version *v = NULL;
	uint64_t before, limit;
	json_t *made, *latest, *versions;
	uint32_t n = 0;
	int rc;

	(void)peer;
	if (arg_u64(req, "before", 0, 1, INT64_MAX, &before) < 0)
		return refuse("invalid", "history: \"before\" must be a version number");
	if (arg_u64(req, "limit", HISTORY_LIMIT, 1, HISTORY_MAX_LIMIT, &limit) < 0)
		return refuse("invalid", "history: \"limit\" must be 1..%u", HISTORY_MAX_LIMIT);
	/* Before version 1 there is nothing (store_history reads 0 as "the newest"). */
	if (before == 1)
		return json_pack("{s:b, s:I, s:[], s:[]}", "ok", 1, "version",
				 (json_int_t)ctx->version, "versions", "audit");
	rc = store_history(ctx->store, before != 0 ? before - 1 : 0, (uint32_t)limit, &v, &n, err,
			   sizeof(err));
	if (rc < 0)
		return refuse("internal", "history: %s", err[0] ? err : strerror(-rc));
	made = json_object();
	latest = json_array();
	versions = json_array();
	audit_tail(ctx->set->audit_log, made, latest);
	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(versions, version_entry(&v[i], made));
	store_history_free(v, n);
	json_decref(made);
	return json_pack("{s:b, s:I, s:o, s:o}", "ok", 1, "version", (json_int_t)ctx->version,
			 "versions", versions, "audit", latest);
}

json_t *history_version(struct server_ctx *ctx, const struct server_peer *peer, json_t *req)
{
	char err[ERR_LEN] = "";
	struct store_version *v = NULL;
	json_t *r, *made, *latest;
	uint32_t n = 0;
	uint64_t version;
	char *yaml;
	int rc;

	(void)peer;
	if (arg_u64(req, "version", 0, 1, INT64_MAX, &version) < 0)
		return refuse("invalid", "history: the version must be a number from 1");
	/* The version and the one before it in the store (numbers may jump: a crash skips
	 * the numbers it had reserved, docs/control.md "Durability"). */
	rc = store_history(ctx->store, version, 2, &v, &n, err, sizeof(err));
	if (rc < 0)
		return refuse("internal", "history: %s", err[0] ? err : strerror(-rc));
	if (n == 0 || v[0].version != version) {
		store_history_free(v, n);
		return refuse("not_found", "history: version %" PRIu64 " is not in the history",
			      version);
	}
	yaml = store_version_yaml(ctx->store, version);
	if (yaml == NULL) {
		rc = errno;
		store_history_free(v, n);
		return refuse(rc == ENOENT ? "not_found" : "internal",
			      "history: version %" PRIu64 ": %s", version, strerror(rc));
	}
	made = json_object();
	latest = json_array();
	audit_tail(ctx->set->audit_log, made, latest);
	r = version_entry(&v[0], made);
	json_object_set_new(r, "ok", json_true());
	json_object_set_new(r, "previous",
			    n > 1 ? json_integer((json_int_t)v[1].version) : json_null());
	json_object_set_new(r, "diff", json_string(v[0].diff));
	json_object_set_new(r, "yaml", json_string(yaml));
	free(yaml);
	store_history_free(v, n);
	json_decref(made);
	json_decref(latest);
	return r;
}
