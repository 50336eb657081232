/* SPDX-License-Identifier: BSD-3-Clause */
/* The asterctl socket and the commands it serves: see server.h. */
#include "server.h"
#include "audit.h"
#include "ctl_proto.h"
#include "dplink.h"
#include "health.h"
#include "history.h"
#include "routing_config.h"
#include "settings.h"
#include "store.h"
#include "table.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ERR_LEN 1024

struct client {
	int fd;
	struct server_peer peer;
	size_t max_line; /* SERVER_MAX_LINE for callers who may write, else SERVER_MAX_READ_LINE */
	char *in;
	size_t in_len, in_cap;
	size_t scanned; /* bytes of `in` known to hold no newline */
	char *out;
	size_t out_len, out_off;
	uint64_t deadline_ms; /* closed then unless a request completes or a reply moves */
	uint64_t id;	      /* how a reply that comes later finds it */
	bool waiting;	      /* its request waits for the dataplane: nothing more is read */
	bool resume;	      /* the reply came: look at what else it sent */
	bool deferred;	      /* its change waits for another one to finish */
	bool eof;	      /* the peer finished sending */
	bool dead;	      /* to be removed */
};

struct server {
	struct server_ctx *ctx;
	int lfd;
	uint32_t n_clients;
	uint64_t refused; /* connections refused with "too many clients" */
	uint64_t next_id;
	struct client clients[SERVER_MAX_CLIENTS];
	struct client *polled[SERVER_MAX_CLIENTS + 1]; /* fds[i] <-> polled[i]; [0] = listener */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000u;
}

/* ------------------------------------------------------------------ replies */

/* Kinds of refusal, in a refused reply's "kind" (docs/control.md). */
#define KIND_INVALID	 "invalid"     /* the request or the table it would make is wrong */
#define KIND_DENIED	 "denied"      /* the caller may not do this */
#define KIND_NOT_FOUND	 "not_found"   /* no such subscriber or pattern */
#define KIND_CONFLICT	 "conflict"    /* it exists already */
#define KIND_LIMIT	 "limit"       /* a settings limit would be passed */
#define KIND_UNAVAILABLE "unavailable" /* the dataplane cannot be asked */
#define KIND_INTERNAL	 "internal"    /* aster-control failed (store, memory) */

static json_t *vfail(const char *kind, const char *fmt, va_list ap)
{
	char msg[ERR_LEN];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Replies are one line: a validator message never spans two. */
	for (char *p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", msg, "kind", kind);
}

static json_t *fail_as(const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *fail_as(const char *kind, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = vfail(kind, fmt, ap);
	va_end(ap);
	return r;
}

/* A request that is wrong in itself: the common refusal. */
static json_t *fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static json_t *fail(const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = vfail(KIND_INVALID, fmt, ap);
	va_end(ap);
	return r;
}

static json_t *ok(void)
{
	return json_pack("{s:b}", "ok", 1);
}

static const char *str_field(json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

static void ip_text(uint32_t ip, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

/* ------------------------------------------------------------------ read commands */

static json_t *feeds_json(const struct routing_config *cfg)
{
	json_t *a = json_array();

	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		const struct rc_feed *fd = &cfg->feeds[f];
		json_t *lines = json_array();
		uint32_t n_subs = 0;

		for (uint16_t i = 0; i < fd->n_lines; i++) {
			char ip[16];

			ip_text(fd->lines[i].group, ip, sizeof(ip));
			json_array_append_new(
			    lines, json_pack("{s:s, s:s, s:I}", "name", fd->lines[i].name, "group",
					     ip, "port", (json_int_t)fd->lines[i].port));
		}
		for (uint32_t s = 0; s < cfg->n_subs; s++)
			n_subs += cfg->subs[s].feed == f;
		json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:I}", "name", fd->name,
						   "protocol", RC_PROTOCOL_ITCH50, "lines", lines,
						   "subscribers", (json_int_t)n_subs));
	}
	return a;
}

static json_t *subscriber_json(const struct routing_config *cfg, const struct rc_subscriber *s)
{
	char ip[16], mac[18], types[257], session[RC_SESSION_LEN + 1];
	json_t *o, *pats = json_array();
	size_t n = 0, len;

	ip_text(s->dst_ip, ip, sizeof(ip));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", s->dst_mac[0], s->dst_mac[1],
		 s->dst_mac[2], s->dst_mac[3], s->dst_mac[4], s->dst_mac[5]);
	/* The session is stored space padded (docs/protocol.md §3.6); show it as configured. */
	snprintf(session, sizeof(session), "%s", s->session);
	len = strlen(session);
	while (len > 0 && session[len - 1] == ' ')
		session[--len] = '\0';
	for (uint32_t i = 0; i < s->n_symbols; i++)
		json_array_append_new(pats, json_string(s->symbols[i]));
	o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:I}, s:s, s:o, s:I}", "name", s->name, "feed",
		      cfg->feeds[s->feed].name, "port", cfg->ports[s->port].name, "dst", "mac", mac,
		      "ip", ip, "port", (json_int_t)s->dst_port, "session", session, "symbols",
		      pats, "max_payload", (json_int_t)s->max_payload);
	if (!s->all_types) {
		for (unsigned t = 0; t < 256; t++)
			if (rc_sub_wants_type(s, (uint8_t)t))
				types[n++] = (char)t;
		types[n] = '\0';
		json_object_set_new(o, "types", json_stringn(types, n));
	}
	return o;
}

static json_t *cmd_get(struct server_ctx *ctx, json_t *req)
{
	const char *what = str_field(req, "what");
	json_t *r, *a;

	if (what == NULL)
		return fail("get: say what: feeds or subscribers");
	if (strcmp(what, "feeds") == 0) {
		a = feeds_json(ctx->cfg);
	} else if (strcmp(what, "subscribers") == 0) {
		a = json_array();
		for (uint32_t i = 0; i < ctx->cfg->n_subs; i++)
			json_array_append_new(a, subscriber_json(ctx->cfg, &ctx->cfg->subs[i]));
	} else {
		return fail("get: unknown object \"%s\" (expected feeds or subscribers)", what);
	}
	r = ok();
	json_object_set_new(r, "version", json_integer((json_int_t)ctx->version));
	json_object_set_new(r, what, a);
	return r;
}

/* A request waiting for the dataplane's answer, and where its reply goes. */
struct waiter {
	struct server_ctx *ctx;
	server_reply_fn done;
	void *arg;
};

/* No control connection: the health segment still holds the last counters. */
static json_t *stats_from_health(struct server_ctx *ctx)
{
	json_t *r, *stats, *hs;

	if (health_snapshot(ctx->health) == NULL)
		return fail_as(KIND_UNAVAILABLE, "stats: dataplane unreachable: %s",
			       dplink_last_error(ctx->link));
	hs = health_status_json(ctx->health);
	stats =
	    json_pack("{s:O, s:O, s:O}", "feeds", json_object_get(hs, "feeds"), "subscribers",
		      json_object_get(hs, "subscribers"), "drops", json_object_get(hs, "drops"));
	json_decref(hs);
	r = ok();
	json_object_set_new(r, "source", json_string("health file"));
	json_object_set_new(r, "stats", stats);
	return r;
}

static void stats_done(void *arg, int rc, const char *text, size_t len)
{
	struct waiter *w = arg;
	json_error_t jerr;
	json_t *r, *stats;

	if (rc != 0) {
		r = stats_from_health(w->ctx);
	} else if ((stats = json_loadb(text, len, 0, &jerr)) == NULL) {
		r = fail_as(KIND_INTERNAL, "stats: the dataplane sent invalid JSON: %s", jerr.text);
	} else {
		r = ok();
		json_object_set_new(r, "source", json_string("dataplane"));
		json_object_set_new(r, "dataplane_version",
				    json_integer((json_int_t)dplink_dp_version(w->ctx->link)));
		json_object_set_new(r, "stats", stats);
	}
	w->done(w->arg, r);
	free(w);
}

static void cmd_stats(struct server_ctx *ctx, json_t *req, server_reply_fn done, void *arg)
{
	struct waiter *w = malloc(sizeof(*w));

	(void)req;
	if (w == NULL) {
		done(arg, fail_as(KIND_INTERNAL, "stats: out of memory"));
		return;
	}
	*w = (struct waiter){.ctx = ctx, .done = done, .arg = arg};
	if (dplink_status(ctx->link, stats_done, w) != 0)
		stats_done(w, -ENOTCONN, NULL, 0);
}

static json_t *cmd_health(struct server_ctx *ctx, json_t *req)
{
	struct health_inputs in = {
	    .dp_connected = dplink_connected(ctx->link),
	    .store_version = ctx->version,
	    .dp_version = dplink_dp_version(ctx->link),
	};
	json_t *r;

	(void)req;
	/* A fresh sample, so that an answer right after a change reflects it. */
	health_sample(ctx->health, &in);
	r = health_json(ctx->health);
	json_object_set_new(r, "ok", json_true());
	return r;
}

static json_t *cmd_status(struct server_ctx *ctx, json_t *req)
{
	const struct dplink_result *p = dplink_last_push(ctx->link);
	json_t *r = ok(), *dp;

	(void)req;
	json_object_set_new(r, "version", json_integer((json_int_t)ctx->version));
	json_object_set_new(r, "subscribers", json_integer((json_int_t)ctx->cfg->n_subs));
	dp = json_pack("{s:b}", "connected", (int)dplink_connected(ctx->link));
	if (dplink_connected(ctx->link)) {
		json_object_set_new(dp, "table_version",
				    json_integer((json_int_t)dplink_dp_version(ctx->link)));
		json_object_set_new(dp, "pid", json_integer((json_int_t)dplink_pid(ctx->link)));
		json_object_set_new(dp, "boot_id",
				    json_integer((json_int_t)dplink_boot_id(ctx->link)));
	} else {
		json_object_set_new(dp, "error", json_string(dplink_last_error(ctx->link)));
	}
	if (p->table_version != 0)
		json_object_set_new(dp, "last_apply",
				    json_pack("{s:i, s:I, s:I, s:I}", "status", (int)p->status,
					      "table_version", (json_int_t)p->table_version,
					      "build_ns", (json_int_t)p->build_ns, "publish_ns",
					      (json_int_t)p->publish_ns));
	json_object_set_new(r, "dataplane", dp);
	return r;
}

/* ------------------------------------------------------------------ changes */

/* Issue 3 §7: limits, checked on the table a change would produce; one subscriber's. */
static int check_sub_limits(const struct settings *set, const struct rc_subscriber *s, char *err,
			    size_t errlen)
{
	if (s->n_symbols > set->max_patterns) {
		snprintf(err, errlen,
			 "limit: subscriber \"%s\": %u patterns, at most %u allowed "
			 "(max_patterns_per_subscriber)",
			 s->name, s->n_symbols, set->max_patterns);
		return -E2BIG;
	}
	for (uint32_t p = 0; p < s->n_symbols; p++) {
		size_t len = strlen(s->symbols[p]);

		if (len > set->max_pattern_len) {
			snprintf(err, errlen,
				 "limit: subscriber \"%s\": pattern \"%.40s%s\" is %zu bytes, "
				 "at most %u allowed (max_pattern_length)",
				 s->name, s->symbols[p], len > 40 ? "..." : "", len,
				 set->max_pattern_len);
			return -E2BIG;
		}
	}
	return 0;
}

/* The limits on `cfg`: every subscriber's, or, with `ops`, those of the subscribers the
 * operations name (the others are as they were, within the limits). */
static int check_limits(const struct settings *set, const struct routing_config *cfg,
			const struct rd_op *ops, uint32_t n_ops, char *err, size_t errlen)
{
	int rc = 0;

	if (cfg->n_subs > set->max_subscribers) {
		snprintf(err, errlen, "limit: %u subscribers, at most %u allowed (max_subscribers)",
			 cfg->n_subs, set->max_subscribers);
		return -E2BIG;
	}
	if (ops == NULL) {
		for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++)
			rc = check_sub_limits(set, &cfg->subs[i], err, errlen);
		return rc;
	}
	for (uint32_t k = 0; rc == 0 && k < n_ops; k++) {
		int i = routing_config_sub_index(cfg, ops[k].sub);

		if (i >= 0)
			rc = check_sub_limits(set, &cfg->subs[i], err, errlen);
	}
	return rc;
}

static json_t *diff_lines(const char *diff)
{
	json_t *a = json_array();
	const char *p = diff, *nl;

	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		json_array_append_new(a,
				      json_stringn(p, nl != NULL ? (size_t)(nl - p) : strlen(p)));
		p = nl != NULL ? nl + 1 : NULL;
	}
	return a;
}

/* A change request as a table change (table.h): an edit as its operations, an apply as
 * the operations from the table in force to the file's table, or that table whole. 0,
 * or -errno with err filled. */
static int change_of(struct server_ctx *ctx, const char *cmd, json_t *req, struct table_change *c,
		     char *err, size_t errlen)
{
	const char *sub = str_field(req, "subscriber"), *pat = str_field(req, "pattern");
	const char *name = str_field(req, "name");

	memset(c, 0, sizeof(*c));
	if (strcmp(cmd, "apply") == 0) {
		const char *text = str_field(req, "yaml"), *file = str_field(req, "file");
		struct routing_config *next;

		if (text == NULL) {
			snprintf(err, errlen, "apply: no routing YAML in the request");
			return -EINVAL;
		}
		errno = 0;
		next = routing_config_parse(text, json_string_length(json_object_get(req, "yaml")),
					    file != NULL ? file : "routing.yaml", err, errlen);
		if (next == NULL)
			return errno != 0 ? -errno : -EINVAL;
		return table_change_replace(ctx->cfg, next, c, err, errlen);
	}
	if (strcmp(cmd, "add-subscriber") == 0) {
		json_t *o = json_object_get(req, "subscriber");
		char *text;
		int rc;

		if (!json_is_object(o)) {
			snprintf(err, errlen,
				 "add-subscriber: no subscriber object in the request");
			return -EINVAL;
		}
		/* A JSON object is a YAML flow mapping: the routing loader validates it. */
		text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
		if (text == NULL) {
			snprintf(err, errlen, "add-subscriber: out of memory");
			return -ENOMEM;
		}
		rc = table_change_add_subscriber(ctx->cfg, text, c, err, errlen);
		free(text);
		return rc;
	}
	if (strcmp(cmd, "remove-subscriber") == 0) {
		if (name == NULL) {
			snprintf(err, errlen, "remove-subscriber: name missing");
			return -EINVAL;
		}
		return table_change_remove_subscriber(ctx->cfg, name, c, err, errlen);
	}
	if (sub == NULL || pat == NULL) {
		snprintf(err, errlen, "%s: subscriber and pattern required", cmd);
		return -EINVAL;
	}
	return table_change_pattern(ctx->cfg, sub, pat, strcmp(cmd, "add-pattern") == 0, c, err,
				    errlen);
}

/* The command as an operator would have typed it, for the audit log. */
static void command_text(const char *cmd, json_t *req, char *buf, size_t size)
{
	const char *a = NULL, *b = NULL;
	json_t *o;
	int n;

	if (strcmp(cmd, "apply") == 0) {
		n = snprintf(buf, size, "apply -f %s%s",
			     str_field(req, "file") != NULL ? str_field(req, "file") : "-",
			     json_is_true(json_object_get(req, "dry_run")) ? " --dry-run" : "");
	} else {
		if (strcmp(cmd, "add-subscriber") == 0) {
			o = json_object_get(req, "subscriber");
			a = json_string_value(json_object_get(o, "name"));
		} else if (strcmp(cmd, "remove-subscriber") == 0) {
			a = str_field(req, "name");
		} else {
			a = str_field(req, "subscriber");
			b = str_field(req, "pattern");
		}
		n = snprintf(buf, size, "%s%s%s%s%s", cmd, a ? " " : "", a ? a : "", b ? " " : "",
			     b ? b : "");
	}
	/* Too long: cut on a character boundary, and say so (the line stays valid UTF-8). */
	if (n >= (int)size)
		strcpy(buf + audit_utf8_prefix(buf, size - 4), "...");
}

static struct audit_entry audit_entry(const struct server_peer *peer, const char *command,
				      const char *result, uint64_t before, uint64_t after)
{
	return (struct audit_entry){
	    .uid = peer->uid,
	    .gid = peer->gid,
	    .pid = peer->pid,
	    .identity = peer->identity,
	    .address = peer->address,
	    .command = command,
	    .result = result,
	    .before = before,
	    .after = after,
	};
}

/* A change's line, synced before returning. 0 or -errno (also logged). */
static int audit(struct server_ctx *ctx, const struct server_peer *peer, const char *command,
		 const char *result, uint64_t before, uint64_t after)
{
	struct audit_entry e = audit_entry(peer, command, result, before, after);
	int rc = audit_append(ctx->audit, &e);

	if (rc < 0)
		fprintf(stderr, "aster-control: audit log: %s: %s\n", result, strerror(-rc));
	return rc;
}

/* A request that changed nothing (denied, invalid, no changes): recorded without an
 * fdatasync of its own (audit.h). Returns whether its line was written one by one. */
static bool audit_refusal(struct server_ctx *ctx, const struct server_peer *peer,
			  const char *command, const char *result)
{
	struct audit_entry e = audit_entry(peer, command, result, ctx->version, ctx->version);
	int rc = audit_append_refusal(ctx->audit, &e);

	if (rc < 0)
		fprintf(stderr, "aster-control: audit log: %s\n", strerror(-rc));
	return rc == 0;
}

/* The dataplane's part of a change reply. */
static json_t *dataplane_json(int rc, const struct dplink_result *res)
{
	if (rc != 0) {
		char msg[300];

		if (rc == -ENOTCONN)
			snprintf(msg, sizeof(msg), "dataplane unreachable: will sync on reconnect");
		else
			snprintf(msg, sizeof(msg),
				 "dataplane unreachable (%s): will sync on reconnect",
				 strerror(-rc));
		return json_pack("{s:b, s:s}", "reached", 0, "message", msg);
	}
	return json_pack("{s:b, s:i, s:s, s:I, s:I, s:I, s:I}", "reached", 1, "status",
			 (int)res->status, "error", res->error, "table_version",
			 (json_int_t)res->table_version, "build_ns", (json_int_t)res->build_ns,
			 "publish_ns", (json_int_t)res->publish_ns, "round_trip_ns",
			 (json_int_t)res->round_trip_ns);
}

/*
 * What the dataplane can take that aster-control can know before asking it: the size of
 * one control message, and the limits its last HELLO said (docs/control.md). The dry run
 * checks the rest when the dataplane is there.
 */
static int check_message_size(const char *yaml, char *err, size_t errlen)
{
	size_t len = strlen(yaml);

	if (len + sizeof(struct ctl_apply) > CTL_MAX_PAYLOAD) {
		snprintf(err, errlen,
			 "limit: the table is %zu bytes of YAML, over the %u one control message "
			 "to the dataplane carries",
			 len, CTL_MAX_PAYLOAD - (unsigned)sizeof(struct ctl_apply));
		return -E2BIG;
	}
	return 0;
}

static int check_dataplane_limits(const struct server_ctx *ctx, const struct routing_config *cfg,
				  char *err, size_t errlen)
{
	const struct dplink_limits *lim = dplink_limits(ctx->link);

	if (!lim->known)
		return 0;
	if (lim->max_subscribers != 0 && cfg->n_subs > lim->max_subscribers) {
		snprintf(err, errlen,
			 "limit: %u subscribers, the dataplane takes at most %u (max_subscribers "
			 "of its profile)",
			 cfg->n_subs, lim->max_subscribers);
		return -E2BIG;
	}
	if (lim->max_feeds != 0 && cfg->n_feeds > lim->max_feeds) {
		snprintf(err, errlen, "limit: %u feeds, the dataplane takes at most %u",
			 cfg->n_feeds, lim->max_feeds);
		return -E2BIG;
	}
	for (uint32_t p = 0; lim->n_ports != 0 && p < cfg->n_ports; p++) {
		char names[DPLINK_MAX_PORTS * 34] = "";
		size_t o = 0;
		uint32_t i;

		for (i = 0; i < lim->n_ports; i++)
			if (strcmp(lim->ports[i], cfg->ports[p].name) == 0)
				break;
		if (i < lim->n_ports)
			continue;
		for (i = 0; i < lim->n_ports && o < sizeof(names); i++)
			o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
					      lim->ports[i]);
		snprintf(err, errlen,
			 "%s:%u: ports: port \"%s\" is not an output port of the dataplane (it has "
			 "%s)",
			 cfg->path, cfg->ports[p].cfg_line, cfg->ports[p].name, names);
		return -EINVAL;
	}
	return 0;
}

/*
 * A change between its checks and its reply (docs/control.md, "Change flow"): it may wait
 * for the dataplane twice (the dry run, then the push). One at a time
 * (server_ctx.change_busy). Said as operations (tc.ops) it is checked, stored and sent as
 * such, and costs what it touches; said whole (tc.full) it is rendered, stored as a
 * snapshot and pushed whole.
 */
struct change {
	struct server_ctx *ctx;
	struct server_peer peer;
	char identity[128], address[128];
	char cmd[32], what[512];
	struct table_change tc;
	struct table_digest digest; /* of the table the change makes */
	char *yaml;		    /* its text: a whole change, or a dry run sent whole */
	json_t *reply;		    /* built so far */
	uint64_t before;
	bool dry;	    /* the operator's dry run */
	bool checked_whole; /* the dry run went as an APPLY */
	bool pushed_whole;  /* the push went as an APPLY */
	/* where its time went (the reply's "timing_ms"): aster-control's own checks and
	 * store, and the waits for the dataplane */
	uint64_t t_start, t_checks, t_dry_run, t_store, t_sent;
	server_reply_fn done;
	void *arg;
};

static void change_finish(struct change *ch, json_t *reply)
{
	ch->ctx->change_busy = false;
	table_change_fini(&ch->tc);
	table_digest_fini(&ch->digest);
	free(ch->yaml);
	json_decref(ch->reply);
	ch->done(ch->arg, reply);
	free(ch);
}

const char *server_table_text(void *arg)
{
	struct server_ctx *ctx = arg;

	if (ctx->yaml == NULL && ctx->version != 0)
		ctx->yaml = table_emit_yaml(ctx->cfg);
	return ctx->yaml;
}

/* The table a change said as operations makes, as text (a dry run sent whole); NULL when
 * out of memory or the operations no longer apply. */
static char *change_text(struct change *ch)
{
	struct server_ctx *ctx = ch->ctx;
	struct rd_undo *undo;
	char err[ERR_LEN];
	char *yaml;

	if (rd_apply_all(ctx->cfg, ch->tc.ops, ch->tc.n_ops, &undo, err, sizeof(err)) < 0)
		return NULL;
	yaml = table_emit_yaml(ctx->cfg);
	rd_undo_all(ctx->cfg, undo, ch->tc.n_ops);
	return yaml;
}

static void change_pushed(void *arg, int rc, const struct dplink_result *res)
{
	struct change *ch = arg;
	json_t *r;

	if (rc == 0 && res->status != 0 && !ch->pushed_whole) {
		/* The DELTA found another table in force (or could not be built there): the
		 * table goes whole, as after any drift (docs/control.md, "Sync rule"). */
		ch->pushed_whole = true;
		rc = dplink_push(ch->ctx->link, change_pushed, ch);
		if (rc == 0)
			return;
	}
	r = json_incref(ch->reply);
	json_object_set_new(r, "dataplane", dataplane_json(rc, res));
	if (rc == 0)
		json_object_set_new(json_object_get(r, "dataplane"), "sent",
				    json_string(ch->pushed_whole ? "table" : "delta"));
	json_object_set_new(r, "timing_ms",
			    json_pack("{s:f, s:f, s:f, s:f}", "checks", (double)ch->t_checks / 1e6,
				      "dry_run", (double)ch->t_dry_run / 1e6, "store",
				      (double)ch->t_store / 1e6, "push",
				      (double)(now_ns() - ch->t_sent) / 1e6));
	change_finish(ch, r);
}

/* The change made in memory and in the store: 0, or -errno with err filled and nothing
 * changed. */
static int change_store(struct change *ch, uint64_t *after, char *err, size_t errlen)
{
	struct server_ctx *ctx = ch->ctx;
	struct rd_undo *undo = NULL;
	int rc;

	if (ch->tc.full != NULL) {
		rc = store_commit_text(ctx->store, ch->tc.full, &ch->tc, ch->yaml, after, err,
				       errlen);
		if (rc < 0)
			return rc;
		routing_config_free(ctx->cfg);
		ctx->cfg = ch->tc.full;
		ch->tc.full = NULL;
		free(ctx->yaml);
		ctx->yaml = ch->yaml;
		ch->yaml = NULL;
	} else {
		/* checked before the dry run on this very table: they apply again */
		rc = rd_apply_all(ctx->cfg, ch->tc.ops, ch->tc.n_ops, &undo, err, errlen);
		if (rc < 0)
			return rc;
		rc = store_commit(ctx->store, ctx->cfg, &ch->tc, after, err, errlen);
		if (rc < 0) {
			rd_undo_all(ctx->cfg, undo, ch->tc.n_ops);
			return rc;
		}
		rd_forget_all(undo, ch->tc.n_ops);
		free(ctx->yaml);
		ctx->yaml = NULL; /* rendered when a full push needs it */
	}
	table_digest_fini(&ctx->digest);
	ctx->digest = ch->digest;
	memset(&ch->digest, 0, sizeof(ch->digest));
	return 0;
}

/* Recorded, stored, pushed. */
static void change_commit(struct change *ch)
{
	struct server_ctx *ctx = ch->ctx;
	char err[ERR_LEN] = "", result[ERR_LEN + 8];
	uint64_t after = ch->before;
	bool at_base = dplink_in_sync(ctx->link) && dplink_dp_version(ctx->link) == ch->before;
	json_t *r;
	int rc;

	ch->t_dry_run = now_ns() - ch->t_start - ch->t_checks;
	ch->t_start = now_ns();
	/* Recorded before it is made: a change the audit log cannot take is not made. */
	rc = audit(ctx, &ch->peer, ch->what, "pending", ch->before, ch->before);
	if (rc < 0) {
		change_finish(ch, fail_as(KIND_INTERNAL,
					  "%s: cannot record the change in the audit log (%s): "
					  "nothing changed",
					  ch->cmd, strerror(-rc)));
		return;
	}
	rc = change_store(ch, &after, err, sizeof(err));
	if (rc < 0) {
		snprintf(result, sizeof(result), "error: %s", err);
		audit(ctx, &ch->peer, ch->what, result, ch->before, ch->before);
		change_finish(ch, fail_as(KIND_INTERNAL, "%s: store: %s", ch->cmd, err));
		return;
	}
	ctx->version = after;
	ch->t_store = now_ns() - ch->t_start;
	ch->t_sent = now_ns();
	dplink_set_table(ctx->link, after, ctx->digest.value, server_table_text, ctx);
	json_object_set_new(ch->reply, "version", json_integer((json_int_t)after));
	/* Stored first, then pushed: the store is the truth a restart or resync starts from. */
	if (ch->tc.full == NULL && ch->tc.n_ops > 0 && at_base) {
		rc = dplink_delta(ctx->link, ch->before, after, ctx->digest.value, ch->tc.ops,
				  ch->tc.n_ops, false, change_pushed, ch);
	} else {
		ch->pushed_whole = true;
		rc = dplink_push(ctx->link, change_pushed, ch);
	}
	/* The outcome line completes the "pending" one, synced while the dataplane applies
	 * the change, before the reply; if it cannot be written the change stands, recorded
	 * by that line (docs/control.md, "Audit log format"). */
	audit(ctx, &ch->peer, ch->what, "ok", ch->before, after);
	if (rc != 0) {
		r = json_incref(ch->reply);
		json_object_set_new(r, "dataplane", dataplane_json(rc, NULL));
		change_finish(ch, r);
	}
}

static void change_checked(void *arg, int rc, const struct dplink_result *res);

/* The dry run of the table whole (a change said whole, or a dataplane not at the table
 * the operations start from). */
static void change_check_whole(struct change *ch)
{
	ch->checked_whole = true;
	if (ch->yaml == NULL)
		ch->yaml = change_text(ch);
	if (ch->yaml == NULL) {
		change_finish(ch, fail_as(KIND_INTERNAL, "%s: cannot render the table: %s", ch->cmd,
					  strerror(ENOMEM)));
		return;
	}
	if (dplink_apply(ch->ctx->link, ch->before + 1, ch->yaml, true, change_checked, ch) != 0)
		change_checked(ch, -ENOTCONN, NULL);
}

/* The dataplane built the table without publishing it (or could not be asked). */
static void change_checked(void *arg, int rc, const struct dplink_result *res)
{
	struct change *ch = arg;
	char result[ERR_LEN + 64];
	json_t *r;

	if (rc == 0 && res->status == -ESTALE && !ch->checked_whole) {
		/* another table in force there than the one the operations start from */
		change_check_whole(ch);
		return;
	}
	if (rc == 0 && res->status != 0) {
		/* Nothing stored: the dataplane would refuse it (docs/control.md). */
		if (!ch->dry) {
			snprintf(result, sizeof(result), "error: dataplane refused: %s",
				 res->error);
			audit_refusal(ch->ctx, &ch->peer, ch->what, result);
		}
		change_finish(ch, fail_as(KIND_INVALID, "%s: the dataplane refuses the table: %s%s",
					  ch->cmd, res->error, ch->dry ? "" : "; nothing stored"));
		return;
	}
	if (ch->dry) {
		r = json_incref(ch->reply);
		json_object_set_new(r, "version", json_integer((json_int_t)ch->before));
		json_object_set_new(r, "dry_run", json_true());
		json_object_set_new(r, "dataplane",
				    rc == 0
					? dataplane_json(rc, res)
					: json_pack("{s:b, s:s}", "reached", 0, "message",
						    "dataplane unreachable: not checked by it"));
		change_finish(ch, r);
		return;
	}
	/* Checked by the dataplane, or it is gone: stored all the same, then pushed when it
	 * is back (checked against the limits of its last HELLO only). */
	change_commit(ch);
}

/*
 * The checks aster-control makes itself, on the table the change makes: the operations
 * applied to the table in force (the validator of common/routing_delta.c), the limits,
 * the digest of the result; then undone, so that the table in force stays what readers
 * see until the change is stored. A change said whole is checked on its table and
 * rendered. 0, or -errno with err filled.
 */
static int change_prepare(struct change *ch, char *err, size_t errlen)
{
	struct server_ctx *ctx = ch->ctx;
	const struct settings *set = ctx->set;
	struct rd_undo *undo;
	int rc;

	if (ch->tc.full != NULL) {
		rc = check_limits(set, ch->tc.full, NULL, 0, err, errlen);
		if (rc == 0 && (ch->yaml = table_emit_yaml(ch->tc.full)) == NULL) {
			snprintf(err, errlen, "%s: cannot render the table: %s", ch->cmd,
				 strerror(ENOMEM));
			return -ENOMEM;
		}
		if (rc == 0)
			rc = check_message_size(ch->yaml, err, errlen);
		if (rc == 0)
			rc = check_dataplane_limits(ctx, ch->tc.full, err, errlen);
		if (rc == 0)
			rc = table_digest_init(&ch->digest, ch->tc.full);
		return rc;
	}
	rc = rd_apply_all(ctx->cfg, ch->tc.ops, ch->tc.n_ops, &undo, err, errlen);
	if (rc < 0)
		return rc;
	rc = check_limits(set, ctx->cfg, ch->tc.ops, ch->tc.n_ops, err, errlen);
	if (rc == 0)
		rc = check_dataplane_limits(ctx, ctx->cfg, err, errlen);
	if (rc == 0)
		rc = table_digest_next(&ch->digest, &ctx->digest, ctx->cfg, ch->tc.ops,
				       ch->tc.n_ops);
	rd_undo_all(ctx->cfg, undo, ch->tc.n_ops);
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "%s: out of memory", ch->cmd);
	return rc;
}

static void cmd_change(struct server_ctx *ctx, const struct server_peer *peer, const char *cmd,
		       json_t *req, server_reply_fn done, void *arg)
{
	bool dry = json_is_true(json_object_get(req, "dry_run"));
	char err[ERR_LEN] = "", result[ERR_LEN + 8], what[512];
	uint64_t before = ctx->version;
	struct change *ch;
	json_t *r;
	int rc;

	command_text(cmd, req, what, sizeof(what));
	ch = calloc(1, sizeof(*ch));
	if (ch == NULL) {
		done(arg, fail_as(KIND_INTERNAL, "%s: out of memory", cmd));
		return;
	}
	*ch = (struct change){
	    .ctx = ctx,
	    .peer = *peer,
	    .t_start = now_ns(),
	    .before = before,
	    .dry = dry,
	    .done = done,
	    .arg = arg,
	};
	rc = change_of(ctx, cmd, req, &ch->tc, err, sizeof(err));
	if (rc == 0 && ch->tc.n_changes != 0)
		rc = change_prepare(ch, err, sizeof(err));
	if (rc < 0) {
		/* Nothing was stored: the running table is unchanged (issue 3 §"Tests"). */
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s: %s", cmd, strerror(-rc));
		snprintf(result, sizeof(result), "error: %s", err);
		if (!dry)
			audit_refusal(ctx, peer, what, result);
		change_finish(ch, fail_as(rc == -ENOENT	  ? KIND_NOT_FOUND
					  : rc == -EEXIST ? KIND_CONFLICT
					  : rc == -E2BIG  ? KIND_LIMIT
					  : rc == -ENOMEM ? KIND_INTERNAL
							  : KIND_INVALID,
					  "%s", err));
		return;
	}
	ch->t_checks = now_ns() - ch->t_start;
	r = ok();
	json_object_set_new(r, "changes", json_integer((json_int_t)ch->tc.n_changes));
	json_object_set_new(r, "diff", diff_lines(ch->tc.diff));
	json_object_set_new(r, "version_before", json_integer((json_int_t)before));
	if (ch->tc.n_changes == 0) {
		json_object_set_new(r, "version", json_integer((json_int_t)before));
		json_object_set_new(r, "dry_run", json_boolean(dry));
		if (!dry)
			audit_refusal(ctx, peer, what, "no changes");
		change_finish(ch, r);
		return;
	}
	ch->reply = r;
	/* The caller's strings live only as long as its request: keep copies. */
	if (peer->identity != NULL) {
		snprintf(ch->identity, sizeof(ch->identity), "%s", peer->identity);
		ch->peer.identity = ch->identity;
	}
	if (peer->address != NULL) {
		snprintf(ch->address, sizeof(ch->address), "%s", peer->address);
		ch->peer.address = ch->address;
	}
	snprintf(ch->cmd, sizeof(ch->cmd), "%s", cmd);
	snprintf(ch->what, sizeof(ch->what), "%s", what);
	ctx->change_busy = true;
	/* Stored only once the dataplane has built it in a dry run, when it is there. */
	if (!dplink_connected(ctx->link)) {
		change_checked(ch, -ENOTCONN, NULL);
	} else if (ch->tc.full != NULL || !dplink_in_sync(ctx->link) ||
		   dplink_dp_version(ctx->link) != before) {
		change_check_whole(ch);
	} else if (dplink_delta(ctx->link, before, before + 1, ch->digest.value, ch->tc.ops,
				ch->tc.n_ops, true, change_checked, ch) != 0) {
		change_check_whole(ch);
	}
}

/* ------------------------------------------------------------------ dispatch */

struct command {
	const char *name;
	bool changes; /* needs the write allow-list */
};

static const struct command commands[] = {
    {"apply", true},	   {"add-subscriber", true},   {"remove-subscriber", true},
    {"add-pattern", true}, {"remove-pattern", true},   {"get", false},
    {"stats", false},	   {"health", false},	       {"status", false},
    {"history", false},	   {"history-version", false},
};

/* The allow-list verdict for (uid, gid), from the cache while it is fresh. */
static struct server_acl_entry *acl_lookup(struct server_ctx *ctx, uid_t uid, gid_t gid)
{
	uint64_t now = now_ms();
	struct server_acl_entry *e, *oldest = &ctx->acl_cache[0];

	for (size_t i = 0; i < SERVER_ACL_CACHE; i++) {
		e = &ctx->acl_cache[i];
		if (e->expires_ms > now && e->uid == uid && e->gid == gid)
			return e;
		if (e->expires_ms < oldest->expires_ms)
			oldest = e;
	}
	/* A miss: the group database is asked once for this caller per SERVER_ACL_TTL_MS. */
	e = oldest;
	e->uid = uid;
	e->gid = gid;
	e->may_write = uid == geteuid() || settings_acl_allows(&ctx->set->write, uid, gid);
	e->may_read = e->may_write || settings_acl_allows(&ctx->set->read, uid, gid);
	e->expires_ms = now_ms() + SERVER_ACL_TTL_MS;
	return e;
}

void server_peer_rights(struct server_ctx *ctx, const struct server_peer *peer, bool *may_read,
			bool *may_write)
{
	const struct server_acl_entry *e;

	if (peer->identity != NULL) {
		/* A remote caller: the role its certificate maps to (http.h). */
		*may_write = peer->role == SERVER_ROLE_WRITE;
		*may_read = *may_write || peer->role == SERVER_ROLE_READ;
		return;
	}
	/* The daemon's own uid owns the database anyway; everyone else must be listed. */
	e = acl_lookup(ctx, peer->uid, peer->gid);
	*may_write = e->may_write;
	*may_read = e->may_read;
}

bool server_execute_async(struct server_ctx *ctx, const struct server_peer *peer, json_t *req,
			  server_reply_fn done, void *arg)
{
	const char *cmd = str_field(req, "cmd");
	const struct command *c = NULL;
	bool may_write, may_read;
	char what[512];

	if (cmd == NULL) {
		done(arg, fail("request without \"cmd\""));
		return true;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			c = &commands[i];
	if (c == NULL) {
		done(arg, fail("unknown command \"%s\"", cmd));
		return true;
	}
	server_peer_rights(ctx, peer, &may_read, &may_write);
	if ((c->changes && !may_write) || !may_read) {
		if (c->changes)
			command_text(cmd, req, what, sizeof(what));
		else
			snprintf(what, sizeof(what), "%s", cmd);
		/* Logged like its audit line: one by one up to AUDIT_REFUSALS_PER_S a second. */
		if (audit_refusal(ctx, peer, what, "denied")) {
			if (peer->identity != NULL)
				fprintf(stderr,
					"aster-control: permission denied: \"%s\" from %s: %s\n",
					peer->identity, peer->address, cmd);
			else
				fprintf(stderr,
					"aster-control: permission denied: uid %u pid %d: %s\n",
					(unsigned)peer->uid, (int)peer->pid, cmd);
		}
	}
	if (c->changes && !may_write) {
		if (peer->identity != NULL)
			done(arg,
			     fail_as(KIND_DENIED,
				     "permission denied: \"%s\" may not change the table (%s); "
				     "not in write_certs",
				     peer->identity, cmd));
		else
			done(arg,
			     fail_as(KIND_DENIED,
				     "permission denied: uid %u may not change the table (%s); "
				     "not in write_uids or write_groups",
				     (unsigned)peer->uid, cmd));
		return true;
	}
	if (!may_read) {
		if (peer->identity != NULL)
			done(arg, fail_as(KIND_DENIED,
					  "permission denied: \"%s\" is not in read_certs or "
					  "write_certs",
					  peer->identity));
		else
			done(arg,
			     fail_as(KIND_DENIED,
				     "permission denied: uid %u is not in read_uids, read_groups, "
				     "write_uids or write_groups",
				     (unsigned)peer->uid));
		return true;
	}
	/* Changes one at a time: this one waits for the one with the dataplane now. */
	if (c->changes && ctx->change_busy)
		return false;
	if (c->changes)
		cmd_change(ctx, peer, cmd, req, done, arg);
	else if (strcmp(cmd, "stats") == 0)
		cmd_stats(ctx, req, done, arg);
	else if (strcmp(cmd, "get") == 0)
		done(arg, cmd_get(ctx, req));
	else if (strcmp(cmd, "health") == 0)
		done(arg, cmd_health(ctx, req));
	else if (strcmp(cmd, "history") == 0)
		done(arg, history_list(ctx, peer, req));
	else if (strcmp(cmd, "history-version") == 0)
		done(arg, history_version(ctx, peer, req));
	else
		done(arg, cmd_status(ctx, req));
	return true;
}

struct sync_reply {
	bool done;
	json_t *reply;
};

static void sync_done(void *arg, json_t *reply)
{
	struct sync_reply *w = arg;

	w->reply = reply;
	w->done = true;
}

/* Run the dataplane link alone until what is queued on it moves (a synchronous caller
 * waiting for its answer). */
static void wait_link(struct server_ctx *ctx)
{
	struct pollfd p = {.fd = dplink_fd(ctx->link), .events = dplink_events(ctx->link)};
	int timeout = dplink_tick(ctx->link);

	if (p.fd < 0)
		return;
	if (poll(&p, 1, timeout) > 0)
		dplink_on_io(ctx->link, p.revents);
}

json_t *server_execute(struct server_ctx *ctx, const struct server_peer *peer, json_t *req)
{
	struct sync_reply w = {0};

	while (!server_execute_async(ctx, peer, req, sync_done, &w))
		wait_link(ctx);
	while (!w.done)
		wait_link(ctx);
	return w.reply;
}

/* ------------------------------------------------------------------ socket */

static int make_dir(const struct settings *set, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(set->socket_dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", set->socket_dir, strerror(errno));
		return -errno;
	}
	if (lstat(set->socket_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", set->socket_dir);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: owned by uid %u, not by this daemon", set->socket_dir,
			 (unsigned)st.st_uid);
		return -EPERM;
	}
	/* Issue 3 §7: only the service group can reach the socket. */
	if (set->has_socket_group && chown(set->socket_dir, (uid_t)-1, set->socket_gid) < 0) {
		snprintf(err, errlen, "%s: cannot give it group %u: %s", set->socket_dir,
			 (unsigned)set->socket_gid, strerror(errno));
		return -errno;
	}
	if (chmod(set->socket_dir, 0750) < 0) {
		snprintf(err, errlen, "%s: chmod: %s", set->socket_dir, strerror(errno));
		return -errno;
	}
	return 0;
}

struct server *server_open(struct server_ctx *ctx, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct server *sv;
	int fd, e;

	if (make_dir(ctx->set, err, errlen) < 0)
		return NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", ctx->set->socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_errno;
	/* A socket that accepts belongs to a running aster-control: do not steal it. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(err, errlen, "%s: another aster-control is listening", sa.sun_path);
		errno = EADDRINUSE;
		return NULL;
	}
	close(fd);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_errno;
	/* Connecting needs write permission on the socket file: give it the directory's
	 * group, so that the directory alone decides who can reach it. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0660) < 0 ||
	    (ctx->set->has_socket_group &&
	     chown(sa.sun_path, (uid_t)-1, ctx->set->socket_gid) < 0) ||
	    listen(fd, 16) < 0)
		goto fail_close;
	sv = calloc(1, sizeof(*sv));
	if (sv == NULL)
		goto fail_close;
	sv->ctx = ctx;
	sv->lfd = fd;
	return sv;

fail_close:
	e = errno;
	close(fd);
	errno = e;
fail_errno:
	snprintf(err, errlen, "%s: %s", sa.sun_path, strerror(errno));
	return NULL;
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void server_close(struct server *sv)
{
	if (sv == NULL)
		return;
	for (uint32_t i = 0; i < sv->n_clients; i++)
		client_free(&sv->clients[i]);
	close(sv->lfd);
	unlink(sv->ctx->set->socket_path);
	free(sv);
}

static size_t out_pending(const struct client *c)
{
	return c->out_len - c->out_off;
}

size_t server_pollfds(struct server *sv, struct pollfd *fds, size_t cap)
{
	size_t n = 0;

	if (cap == 0)
		return 0;
	fds[n] = (struct pollfd){.fd = sv->lfd, .events = POLLIN};
	sv->polled[n++] = NULL;
	for (uint32_t i = 0; i < sv->n_clients && n < cap; i++) {
		struct client *c = &sv->clients[i];
		bool want_in =
		    !c->eof && !c->waiting && !c->deferred && out_pending(c) <= SERVER_OUT_HIGH;

		fds[n] = (struct pollfd){
		    .fd = c->fd,
		    .events = (short)((want_in ? POLLIN : 0) | (out_pending(c) ? POLLOUT : 0)),
		};
		sv->polled[n++] = c;
	}
	return n;
}

int server_timeout_ms(const struct server *sv)
{
	uint64_t now = now_ms(), first = UINT64_MAX;

	for (uint32_t i = 0; i < sv->n_clients; i++)
		if (sv->clients[i].deadline_ms < first)
			first = sv->clients[i].deadline_ms;
	if (first == UINT64_MAX)
		return -1;
	return first > now ? (int)(first - now) : 0;
}

/*
 * All slots taken: say so to the one refused, in the protocol's reply shape, and close.
 * What it already sent is read first, so that it gets the line rather than a reset.
 */
static void refuse(struct server *sv, int fd)
{
	char line[160], drain[4096];
	int len;

	while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	len = snprintf(line, sizeof(line),
		       "{\"ok\":false,\"error\":\"too many clients: %u connections open to "
		       "aster-control; try again\",\"kind\":\"unavailable\"}\n",
		       SERVER_MAX_CLIENTS);
	if (send(fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* its buffer is full: it goes without the line */
	}
	close(fd);
	if (sv->refused++ % 1000 == 0)
		fprintf(stderr,
			"aster-control: too many clients (%u): connection refused (%" PRIu64
			" so far)\n",
			SERVER_MAX_CLIENTS, sv->refused);
}

static void accept_all(struct server *sv)
{
	for (;;) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		int fd = accept4(sv->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		bool may_read, may_write;
		struct client *c;

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			close(fd);
			continue;
		}
		if (sv->n_clients == SERVER_MAX_CLIENTS) {
			refuse(sv, fd);
			continue;
		}
		c = &sv->clients[sv->n_clients++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->id = ++sv->next_id;
		c->peer = (struct server_peer){.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
		/* Only a caller who may change the table has a reason to send a whole table. */
		server_peer_rights(sv->ctx, &c->peer, &may_read, &may_write);
		c->max_line = may_write ? SERVER_MAX_LINE : SERVER_MAX_READ_LINE;
		c->deadline_ms = now_ms() + sv->ctx->set->client_idle_ms;
	}
}

static int queue_reply(struct client *c, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t len, need;

	json_decref(reply);
	if (text == NULL)
		return -ENOMEM;
	len = strlen(text);
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	need = c->out_len + len + 1;
	{
		char *p = realloc(c->out, need);

		if (p == NULL) {
			free(text);
			return -ENOMEM;
		}
		c->out = p;
	}
	memcpy(c->out + c->out_len, text, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	free(text);
	return 0;
}

/* A reply for a client, found by its id: it may have gone meanwhile. */
struct client_ref {
	struct server *sv;
	uint64_t id;
};

static void client_done(void *arg, json_t *reply)
{
	struct client_ref *ref = arg;
	struct server *sv = ref->sv;
	struct client *c = NULL;

	for (uint32_t i = 0; i < sv->n_clients && c == NULL; i++)
		if (sv->clients[i].id == ref->id && !sv->clients[i].dead)
			c = &sv->clients[i];
	free(ref);
	if (c == NULL) {
		json_decref(reply);
		return;
	}
	if (queue_reply(c, reply) < 0)
		c->dead = true;
	c->waiting = false;
	c->resume = true;
	/* A request completed: the caller is alive. Taken after the work, which may last. */
	c->deadline_ms = now_ms() + sv->ctx->set->client_idle_ms;
}

/* One request line; false when it must wait for a change in progress (not consumed). */
static bool handle_line(struct server *sv, struct client *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr);
	struct client_ref *ref;

	if (!json_is_object(req)) {
		json_decref(req);
		if (queue_reply(c, fail("bad request: %s",
					req == NULL ? jerr.text : "not a JSON object")) < 0)
			c->dead = true;
		c->deadline_ms = now_ms() + sv->ctx->set->client_idle_ms;
		return true;
	}
	ref = malloc(sizeof(*ref));
	if (ref == NULL) {
		json_decref(req);
		c->dead = true;
		return true;
	}
	*ref = (struct client_ref){.sv = sv, .id = c->id};
	/* Its time is ours until the reply: no deadline meanwhile. */
	c->waiting = true;
	c->deadline_ms = UINT64_MAX;
	if (!server_execute_async(sv->ctx, &c->peer, req, client_done, ref)) {
		free(ref);
		c->waiting = false;
		c->deferred = true;
		json_decref(req);
		return false;
	}
	json_decref(req);
	return true;
}

/* Answer the complete requests already received, one at a time (a request waiting for
 * the dataplane holds the next ones back), while the replies queued stay under
 * SERVER_OUT_HIGH. */
static void handle_lines(struct server *sv, struct client *c)
{
	size_t start = 0;
	char *nl;

	if (c->in == NULL) /* nothing received yet */
		return;
	while (!c->dead && !c->waiting && !c->deferred && out_pending(c) <= SERVER_OUT_HIGH) {
		nl = memchr(c->in + c->scanned, '\n', c->in_len - c->scanned);
		if (nl == NULL) {
			c->scanned = c->in_len;
			break;
		}
		if (!handle_line(sv, c, c->in + start, (size_t)(nl - (c->in + start)))) {
			c->scanned = start; /* the same line again, once the change is done */
			break;
		}
		start = (size_t)(nl - c->in) + 1;
		c->scanned = start;
	}
	if (start != 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
		c->scanned -= start;
	}
}

static void client_read(struct server *sv, struct client *c)
{
	for (;;) {
		ssize_t r;

		handle_lines(sv, c);
		if (c->dead || c->eof || c->waiting || c->deferred ||
		    out_pending(c) > SERVER_OUT_HIGH)
			return;
		if (c->in_len >= c->max_line) {
			queue_reply(c, fail("request longer than %zu bytes%s", c->max_line,
					    c->max_line < SERVER_MAX_LINE
						? " (only callers who may change the table send "
						  "more)"
						: ""));
			c->eof = true;
			return;
		}
		if (c->in_cap - c->in_len < 65536) {
			size_t cap = c->in_cap ? c->in_cap * 2 : 65536;
			char *p;

			if (cap > c->max_line + 65536)
				cap = c->max_line + 65536;
			p = realloc(c->in, cap);
			if (p == NULL) {
				c->dead = true;
				return;
			}
			c->in = p;
			c->in_cap = cap;
		}
		r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
		if (r == 0) {
			/* A last request without its newline still counts: as a line. */
			c->eof = true;
			if (c->in_len != 0 && c->in_len < c->in_cap) {
				c->in[c->in_len++] = '\n';
				handle_lines(sv, c);
			}
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			return;
		}
		c->in_len += (size_t)r;
	}
}

static void client_write(struct server *sv, struct client *c)
{
	while (out_pending(c) != 0) {
		ssize_t w =
		    send(c->fd, c->out + c->out_off, out_pending(c), MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)w;
		/* It reads: alive, however long its replies take to go out. */
		c->deadline_ms = now_ms() + sv->ctx->set->client_idle_ms;
	}
}

void server_serve(struct server *sv, const struct pollfd *fds, size_t n)
{
	uint32_t keep = 0;
	uint64_t now;

	for (size_t i = 0; i < n; i++) {
		struct client *c = sv->polled[i];

		if (fds[i].revents == 0)
			continue;
		if (c == NULL) {
			accept_all(sv);
			continue;
		}
		/* Gone while its request waits: the reply has nowhere to go. */
		if ((fds[i].revents & POLLERR) || (c->waiting && (fds[i].revents & POLLHUP)))
			c->dead = true;
		if (!c->dead)
			client_write(sv, c);
		/* POLLHUP: what it sent before hanging up is still read and answered. */
		if (!c->dead && (fds[i].revents & (POLLIN | POLLHUP | POLLOUT)))
			client_read(sv, c);
		if (!c->dead)
			client_write(sv, c);
	}
	/* Requests held back: a reply came, or the change they waited for is done. */
	for (uint32_t i = 0; i < sv->n_clients; i++) {
		struct client *c = &sv->clients[i];

		if (c->dead || c->waiting || !(c->resume || (c->deferred && !sv->ctx->change_busy)))
			continue;
		if (c->deferred)
			c->deadline_ms = now_ms() + sv->ctx->set->client_idle_ms;
		c->resume = c->deferred = false;
		client_read(sv, c);
		if (!c->dead)
			client_write(sv, c);
	}
	/* Drop finished clients: dead ones, those past their deadline, and those done
	 * sending whose replies are out (none waits for the dataplane). */
	now = now_ms();
	for (uint32_t i = 0; i < sv->n_clients; i++) {
		struct client *c = &sv->clients[i];

		if (c->dead || now >= c->deadline_ms ||
		    (c->eof && !c->waiting && !c->deferred && out_pending(c) == 0 &&
		     (c->in_len == 0 || memchr(c->in, '\n', c->in_len) == NULL))) {
			client_free(c);
			continue;
		}
		if (keep != i)
			sv->clients[keep] = *c;
		keep++;
	}
	sv->n_clients = keep;
}
