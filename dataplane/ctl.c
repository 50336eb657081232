/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control server (ctl.h): a Unix socket speaking common/ctl_proto.h to
 * aster-control, served by one thread off the polling cores, which is also the table
 * thread of live mode (table_apply) and runs the mode's periodic work between requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_lcore.h>

#include "ctl.h"
#include "matcher_cache.h"
#include "matcher_pool.h"
#include "dp_log.h"
#include "report.h"
#include "table.h"

#include "../common/ctl_proto.h"
#include "../common/routing_delta.h"
#include "../common/health_shm.h"

#define CTL_MAX_CLIENTS 8

DP_LOG_REGISTER(ctl);

struct ctl_client {
	int fd;
	bool hello; /* HELLO accepted: other requests allowed */
};

/* Written by ctl_start before the thread starts, then by the thread only. */
struct ctl {
	struct table *table;
	const struct lcore_map *map;
	struct ctl_hooks hooks;
	pthread_t thread;
	int listen_fd;
	int wake[2]; /* pipe: ctl_stop wakes the poll */
	char sock_path[108];
	uint64_t boot_id;
	uint64_t started_ns;
	struct ctl_client clients[CTL_MAX_CLIENTS];
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int reply_error(int fd, uint32_t seq, int status, const char *text)
{
	struct ctl_error e = {.status = status};

	return ctl_send(fd, CTL_ERROR, seq, &e, sizeof(e), text, strlen(text));
}

/* The table log: from which (session, sequence) on each feed was routed by which table
 * version; the integration tests check every output message against it. */
static json_t *table_log(const struct table *t)
{
	const struct routing_config *cfg = table_config(t);
	struct rx_feed_log *log = malloc(RX_FEED_LOG * sizeof(*log));
	json_t *o = json_object();

	for (uint32_t f = 0; log != NULL && f < cfg->n_feeds; f++) {
		uint32_t n = table_feed_log(t, f, log, RX_FEED_LOG);
		json_t *a = json_array();

		for (uint32_t i = 0; i < n; i++) {
			char session[11];

			memcpy(session, log[i].session, 10);
			session[10] = '\0';
			json_array_append_new(a, json_pack("{sI sI ss}", "table_version",
							   (json_int_t)log[i].table_version, "seq",
							   (json_int_t)log[i].seq, "session",
							   session));
		}
		json_object_set_new(o, cfg->feeds[f].name, a);
	}
	free(log);
	return o;
}

static int handle_apply(struct ctl *c, int fd, const struct ctl_hdr *h, const uint8_t *payload)
{
	struct ctl_apply req;
	struct ctl_apply_reply rep = {0};
	struct table_apply_result res;
	const char *text;
	uint32_t text_len;
	char err[RC_ERR_LEN + 128] = "", name[64];
	struct routing_config *cfg;

	if (ctl_decode_payload(h->type, payload, h->len, &req, sizeof(req), &text, &text_len) != 0)
		return reply_error(fd, h->seq, -EPROTO, "APPLY: malformed payload");
	snprintf(name, sizeof(name), "table-v%" PRIu64, req.table_version);
	/* aster-control checked every pattern before it stored the table; Hyperscan judges
	 * them again when it compiles (an invalid one is named): checking 100 000 regexes
	 * here would cost seconds of a restart (docs/performance.md, "Table changes") */
	cfg = routing_config_parse_trusted(text, text_len, name, err, sizeof(err));
	if (cfg == NULL) {
		rep.status = -EINVAL;
	} else {
		rep.status =
		    table_apply(c->table, cfg, req.table_version,
				(req.flags & CTL_APPLY_DRY_RUN) != 0, &res, err, sizeof(err));
		if (rep.status != 0 || (req.flags & CTL_APPLY_DRY_RUN))
			routing_config_free(cfg);
		if (rep.status == 0) {
			rep.build_ns = res.build_ns;
			rep.publish_ns = res.publish_ns;
		}
	}
	rep.table_version = table_version(c->table);
	if (rep.status == 0 && !(req.flags & CTL_APPLY_DRY_RUN))
		DP_LOG(ctl, NOTICE,
		       "table version %" PRIu64 " in force (build %.2f ms, publish %.2f ms; "
		       "%u feeds, %u subscribers)\n",
		       req.table_version, (double)res.build_ns / 1e6, (double)res.publish_ns / 1e6,
		       cfg->n_feeds, cfg->n_subs);
	if (rep.status == 0)
		err[0] = '\0';
	else
		DP_LOG(ctl, WARNING, "table version %" PRIu64 " refused: %s\n", req.table_version,
		       err);
	return ctl_send(fd, CTL_APPLY_REPLY, h->seq, &rep, sizeof(rep), err, strlen(err));
}

/* DELTA (docs/control.md, "Changes as deltas"): the operations applied to the table in
 * force, answered like an APPLY. */
static int handle_delta(struct ctl *c, int fd, const struct ctl_hdr *h, const uint8_t *payload)
{
	struct ctl_delta req;
	struct ctl_apply_reply rep = {0};
	struct table_apply_result res;
	const char *text;
	uint32_t text_len;
	char err[RC_ERR_LEN + 128] = "", *strings = NULL;
	struct rd_op *ops = NULL;
	bool dry;

	if (ctl_decode_payload(h->type, payload, h->len, &req, sizeof(req), &text, &text_len) != 0)
		return reply_error(fd, h->seq, -EPROTO, "DELTA: malformed payload");
	dry = (req.flags & CTL_APPLY_DRY_RUN) != 0;
	rep.status = ctl_delta_decode((const uint8_t *)text, text_len, req.n_ops, &ops, &strings,
				      err, sizeof(err));
	if (rep.status == 0)
		rep.status = table_apply_delta(c->table, ops, req.n_ops, req.base_version,
					       req.table_version, dry, &res, err, sizeof(err));
	if (rep.status == 0) {
		rep.build_ns = res.build_ns;
		rep.publish_ns = res.publish_ns;
	}
	rep.table_version = table_version(c->table);
	if (rep.status == 0 && !dry)
		DP_LOG(ctl, NOTICE,
		       "table version %" PRIu64 " in force (%u changes to %" PRIu64
		       "; build %.2f ms, publish %.2f ms)\n",
		       req.table_version, req.n_ops, req.base_version, (double)res.build_ns / 1e6,
		       (double)res.publish_ns / 1e6);
	if (rep.status == 0)
		err[0] = '\0';
	else
		DP_LOG(ctl, WARNING, "table version %" PRIu64 " (changes) refused: %s\n",
		       req.table_version, err);
	free(ops);
	free(strings);
	return ctl_send(fd, CTL_APPLY_REPLY, h->seq, &rep, sizeof(rep), err, strlen(err));
}

static int handle_status(struct ctl *c, int fd, const struct ctl_hdr *h)
{
	struct ctl_status_reply rep = {.table_version = table_version(c->table),
				       .boot_id = c->boot_id};
	json_t *root = report_json(c->table, c->map);
	char *text;
	int rc;

	if (root == NULL)
		return reply_error(fd, h->seq, -ENOMEM, "STATUS: out of memory");
	json_object_set_new(root, "table_version",
			    json_integer((json_int_t)table_version(c->table)));
	json_object_set_new(root, "table_log", table_log(c->table));
	{
		struct matcher_cache_counters cc;

		/* docs/operations.md, "The compile cache" */
		matcher_cache_counters(&cc);
		json_object_set_new(
		    root, "compile_cache",
		    json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "enabled",
			      matcher_cache_enabled(), "hits", (json_int_t)cc.hits, "misses",
			      (json_int_t)cc.misses, "bad", (json_int_t)cc.bad, "stores",
			      (json_int_t)cc.stores, "store_failed", (json_int_t)cc.store_failed,
			      "evictions", (json_int_t)cc.evictions, "bytes", (json_int_t)cc.bytes,
			      "recompiles_pending", (json_int_t)matcher_pool_pending()));
	}
	if (c->hooks.status != NULL)
		c->hooks.status(c->hooks.arg, root);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		return reply_error(fd, h->seq, -ENOMEM, "STATUS: out of memory");
	rc = ctl_send(fd, CTL_STATUS_REPLY, h->seq, &rep, sizeof(rep), text, strlen(text));
	free(text);
	return rc;
}

/* One request; a negative return closes the connection. */
static int handle(struct ctl *c, struct ctl_client *cl)
{
	struct ctl_hdr h;
	uint8_t *payload;
	int rc = ctl_recv(cl->fd, &h, &payload);

	if (rc == -EPROTONOSUPPORT) {
		char text[96];

		snprintf(text, sizeof(text),
			 "protocol version %u not supported, this dataplane speaks %u", h.version,
			 CTL_PROTO_VERSION);
		reply_error(cl->fd, h.seq, rc, text);
		return rc;
	}
	if (rc != 0) {
		if (rc == -EPROTO)
			reply_error(cl->fd, h.seq, rc, "bad message header");
		return rc;
	}
	if (h.type == CTL_HELLO) {
		struct ctl_hello req;
		struct ctl_hello_reply rep = {
		    .proto_version = CTL_PROTO_VERSION,
		    .pid = (uint32_t)getpid(),
		    .boot_id = c->boot_id,
		    .table_version = table_version(c->table),
		    .started_ns = c->started_ns,
		};

		if (ctl_decode_payload(h.type, payload, h.len, &req, sizeof(req), NULL, NULL) !=
			0 ||
		    req.proto_version != CTL_PROTO_VERSION) {
			reply_error(cl->fd, h.seq, -EPROTONOSUPPORT,
				    "HELLO: protocol version mismatch");
			rc = -EPROTONOSUPPORT;
		} else {
			cl->hello = true;
			rc = ctl_send(cl->fd, CTL_HELLO_REPLY, h.seq, &rep, sizeof(rep), NULL, 0);
		}
	} else if (!cl->hello) {
		reply_error(cl->fd, h.seq, -EPROTO, "HELLO first");
		rc = -EPROTO;
	} else if (h.type == CTL_APPLY) {
		rc = handle_apply(c, cl->fd, &h, payload);
	} else if (h.type == CTL_DELTA) {
		rc = handle_delta(c, cl->fd, &h, payload);
	} else if (h.type == CTL_STATUS) {
		rc = handle_status(c, cl->fd, &h);
	} else {
		reply_error(cl->fd, h.seq, -EPROTO, "unknown message type");
		rc = -EPROTO;
	}
	free(payload);
	return rc;
}

static void *ctl_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd pfd[CTL_MAX_CLIENTS + 3];
	/* readable when a background recompile finished (docs/architecture.md) */
	int folds = matcher_pool_event_fd();

	/* compiles from now on on this thread's CPUs, off the polling lcores */
	matcher_pool_pin_to_self();

	for (;;) {
		int n = 0, idx[CTL_MAX_CLIENTS];

		pfd[n++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = folds, .events = POLLIN};
		for (int i = 0; i < CTL_MAX_CLIENTS; i++)
			if (c->clients[i].fd >= 0) {
				idx[n - 3] = i;
				pfd[n++] =
				    (struct pollfd){.fd = c->clients[i].fd, .events = POLLIN};
			}
		int rc = poll(pfd, (nfds_t)n, HEALTH_PERIOD_MS);

		if (rc > 0 && (pfd[0].revents & POLLIN))
			break;
		if (rc > 0 && (pfd[2].revents & POLLIN)) {
			int r;

			matcher_pool_event_clear();
			r = table_fold(c->table);
			if (r < 0)
				DP_LOG(ctl, WARNING,
				       "a finished recompile could not be swapped in: %s\n",
				       strerror(-r));
		}
		if (rc > 0 && (pfd[1].revents & POLLIN)) {
			int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			for (int i = 0; fd >= 0 && i < CTL_MAX_CLIENTS; i++)
				if (c->clients[i].fd < 0) {
					c->clients[i] = (struct ctl_client){.fd = fd};
					fd = -1;
				}
			if (fd >= 0) {
				reply_error(fd, 0, -EBUSY, "too many control connections");
				close(fd);
			}
		}
		for (int k = 3; rc > 0 && k < n; k++) {
			struct ctl_client *cl = &c->clients[idx[k - 3]];

			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (handle(c, cl) != 0) {
					close(cl->fd);
					cl->fd = -1;
					cl->hello = false;
				}
			}
		}
		if (c->hooks.tick != NULL)
			c->hooks.tick(c->hooks.arg, clock_ns(CLOCK_MONOTONIC));
	}
	return NULL;
}

/* The listening socket at `path` (a stale one of a previous run replaced), mode 0660. */
static int listen_on(struct ctl *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	size_t len = strlen(path);

	if (len >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: control socket path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(c->sock_path, path, len + 1);
	memcpy(sa.sun_path, path, len + 1);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(path);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(c->listen_fd, 8) != 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

struct ctl *ctl_start(struct table *t, const struct lcore_map *m, const char *sock_path,
		      uint64_t boot_id, const struct ctl_hooks *hooks, char *err, size_t errlen)
{
	struct ctl *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory for the control thread");
		return NULL;
	}
	c->table = t;
	c->map = m;
	c->hooks = *hooks;
	c->boot_id = boot_id;
	c->started_ns = clock_ns(CLOCK_REALTIME);
	c->listen_fd = -1;
	c->wake[0] = c->wake[1] = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	if (listen_on(c, sock_path, err, errlen) != 0)
		goto fail;
	if (pipe2(c->wake, O_CLOEXEC) != 0 ||
	    rte_ctrl_thread_create(&c->thread, "aster-ctl", NULL, ctl_main, c) != 0) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(errno));
		goto fail;
	}
	return c;
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	free(c);
	return NULL;
}

void ctl_stop(struct ctl *c)
{
	if (c == NULL)
		return;
	if (write(c->wake[1], "x", 1) == 1)
		pthread_join(c->thread, NULL);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
	close(c->listen_fd);
	unlink(c->sock_path);
	close(c->wake[0]);
	close(c->wake[1]);
	free(c);
}
