/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control server (ctl.h): a Unix socket speaking common/ctl_proto.h to
 * aster-control, served by one thread off the polling cores, which is also the table
 * thread of live mode (table_apply) and runs the mode's periodic work between requests.
 *
 * Every socket is non-blocking and every connection has its own buffers: a request is
 * read as its bytes come, handled once whole, and its reply sent as the peer takes it,
 * so that no peer can stop the loop (and with it health publishing, IGMP, other peers'
 * requests and shutdown). Deadlines are measured on the loop's own clock, which stops
 * while a request is handled (a table compiles for seconds): a peer is not blamed for
 * the time the thread spent on another one.
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
#include "dp_log.h"
#include "lcore.h"
#include "matcher_cache.h"
#include "matcher_pool.h"
#include "report.h"
#include "router.h"
#include "table.h"

#include "../common/ctl_proto.h"
#include "../common/health_shm.h"
#include "../common/routing_delta.h"

#define CTL_READ_CHUNK (64u << 10) /* a payload's buffer grows as its bytes come */

DP_LOG_REGISTER(ctl);

struct ctl_client {
	int fd;
	bool hello;   /* HELLO accepted: other requests allowed */
	bool closing; /* an ERROR is queued: closed once it is sent */
	uint32_t uid, pid;
	struct ctl_hdr hdr; /* the request being read */
	size_t hdr_got;
	uint8_t *payload; /* hdr.len bytes once whole */
	size_t got, cap;
	uint8_t *out; /* replies not yet taken by the peer */
	size_t out_len, out_off;
	uint64_t active_ns; /* last progress, on the loop's clock (loop_ns) */
};

/* What the thread did about its peers, for STATUS ("control_socket"). */
struct ctl_counters {
	uint64_t accepted;
	uint64_t refused;   /* peer uid not in the allow-list */
	uint64_t evicted;   /* a new connection needed the slot */
	uint64_t timed_out; /* stalled or idle past the deadline */
};

/* Written by ctl_start before the thread starts, then by the thread only. */
struct ctl {
	struct table *table;
	const struct lcore_map *map;
	struct ctl_hooks hooks;
	struct ctl_access access;
	pthread_t thread;
	int listen_fd;
	int wake[2]; /* pipe: ctl_stop wakes the poll */
	char sock_path[108];
	dev_t sock_dev; /* the socket file we bound, unlinked at stop only if still ours */
	ino_t sock_ino;
	uint64_t boot_id;
	uint64_t started_ns;
	uint64_t digest;  /* ctl_table_digest of the table in force; 0: from a file */
	uint64_t busy_ns; /* time spent handling requests, not counted against peers */
	struct ctl_counters n;
	struct ctl_client clients[CTL_MAX_CLIENTS];
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The loop's clock: monotonic time less the time spent handling requests. */
static uint64_t loop_ns(const struct ctl *c)
{
	return clock_ns(CLOCK_MONOTONIC) - c->busy_ns;
}

/* Queue a message for the peer. */
static int reply(struct ctl_client *cl, uint16_t type, uint32_t seq, const void *fixed,
		 size_t fixed_len, const char *text, size_t text_len)
{
	size_t need = sizeof(struct ctl_hdr) + fixed_len + text_len;
	uint8_t *out;
	int n;

	if (cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	out = realloc(cl->out, cl->out_len + need);
	if (out == NULL)
		return -ENOMEM;
	cl->out = out;
	n = ctl_encode(out + cl->out_len, need, type, seq, fixed, fixed_len, text, text_len);
	if (n < 0)
		return n;
	cl->out_len += (size_t)n;
	return 0;
}

/* An ERROR, after which the connection is closed. */
static void reply_error(struct ctl_client *cl, uint32_t seq, int status, const char *text)
{
	struct ctl_error e = {.status = status};

	reply(cl, CTL_ERROR, seq, &e, sizeof(e), text, strlen(text));
	cl->closing = true;
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

/* What the dataplane can take, said in HELLO_REPLY (docs/control.md, "Control
 * protocol"): aster-control checks a change against it before storing it. */
static char *limits_json(const struct ctl *c)
{
	const struct lcore_ports *ports = lcore_map_ports(c->map);
	json_t *names = json_array();
	json_t *o;
	char *text;

	for (uint16_t i = 0; i < ports->n_out; i++)
		json_array_append_new(names, json_string(ports->out[i].name));
	o = json_pack("{sI sI so}", "max_subscribers",
		      (json_int_t)lcore_map_profile(c->map)->max_subscribers, "max_feeds",
		      (json_int_t)ROUTER_MAX_FEED_SLOTS, "output_ports", names);
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static int handle_hello(struct ctl *c, struct ctl_client *cl, const struct ctl_hdr *h,
			const uint8_t *payload)
{
	struct ctl_hello req;
	struct ctl_hello_reply rep = {
	    .proto_version = CTL_PROTO_VERSION,
	    .pid = (uint32_t)getpid(),
	    .boot_id = c->boot_id,
	    .table_version = table_version(c->table),
	    .started_ns = c->started_ns,
	    .table_digest = c->digest,
	};
	char *limits;
	int rc;

	if (ctl_decode_payload(h->type, payload, h->len, &req, sizeof(req), NULL, NULL) != 0 ||
	    req.proto_version != CTL_PROTO_VERSION) {
		reply_error(cl, h->seq, -EPROTONOSUPPORT, "HELLO: protocol version mismatch");
		return 0;
	}
	cl->hello = true;
	limits = limits_json(c);
	rc = reply(cl, CTL_HELLO_REPLY, h->seq, &rep, sizeof(rep), limits,
		   limits != NULL ? strlen(limits) : 0);
	free(limits);
	return rc;
}

static int handle_apply(struct ctl *c, struct ctl_client *cl, const struct ctl_hdr *h,
			const uint8_t *payload)
{
	struct ctl_apply req;
	struct ctl_apply_reply rep = {0};
	struct table_apply_result res;
	const char *text;
	uint32_t text_len;
	char err[RC_ERR_LEN + 128] = "", name[64];
	struct routing_config *cfg;
	bool dry;

	if (ctl_decode_payload(h->type, payload, h->len, &req, sizeof(req), &text, &text_len) !=
	    0) {
		reply_error(cl, h->seq, -EPROTO, "APPLY: malformed payload");
		return 0;
	}
	dry = (req.flags & CTL_APPLY_DRY_RUN) != 0;
	snprintf(name, sizeof(name), "table-v%" PRIu64, req.table_version);
	/* aster-control checked every pattern before it stored the table; Hyperscan judges
	 * them again when it compiles (an invalid one is named): checking 100 000 regexes
	 * here would cost seconds of a restart (docs/performance.md, "Table changes") */
	cfg = routing_config_parse_trusted(text, text_len, name, err, sizeof(err));
	if (cfg == NULL) {
		rep.status = -EINVAL;
	} else {
		rep.status =
		    table_apply(c->table, cfg, req.table_version, dry, &res, err, sizeof(err));
		if (rep.status != 0 || dry)
			routing_config_free(cfg);
		if (rep.status == 0) {
			rep.build_ns = res.build_ns;
			rep.publish_ns = res.publish_ns;
		}
	}
	rep.table_version = table_version(c->table);
	if (rep.status == 0 && !dry) {
		c->digest = ctl_table_digest(text, text_len);
		DP_LOG(ctl, NOTICE,
		       "table version %" PRIu64 " in force (build %.2f ms, publish %.2f ms; "
		       "%u feeds, %u subscribers; uid %u)\n",
		       req.table_version, (double)res.build_ns / 1e6, (double)res.publish_ns / 1e6,
		       cfg->n_feeds, cfg->n_subs, cl->uid);
	}
	if (rep.status == 0)
		err[0] = '\0';
	else
		DP_LOG(ctl, WARNING, "table version %" PRIu64 " refused: %s\n", req.table_version,
		       err);
	return reply(cl, CTL_APPLY_REPLY, h->seq, &rep, sizeof(rep), err, strlen(err));
}

/* DELTA (docs/control.md, "Changes as deltas"): the operations applied to the table in
 * force, answered like an APPLY. */
static int handle_delta(struct ctl *c, struct ctl_client *cl, const struct ctl_hdr *h,
			const uint8_t *payload)
{
	struct ctl_delta req;
	struct ctl_apply_reply rep = {0};
	struct table_apply_result res;
	const char *text;
	uint32_t text_len;
	char err[RC_ERR_LEN + 128] = "", *strings = NULL;
	struct rd_op *ops = NULL;
	bool dry;

	if (ctl_decode_payload(h->type, payload, h->len, &req, sizeof(req), &text, &text_len) !=
	    0) {
		reply_error(cl, h->seq, -EPROTO, "DELTA: malformed payload");
		return 0;
	}
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
	if (rep.status == 0 && !dry) {
		/* what the change makes, as its sender says (0: not said) */
		c->digest = req.table_digest;
		DP_LOG(ctl, NOTICE,
		       "table version %" PRIu64 " in force (%u changes to %" PRIu64
		       "; build %.2f ms, publish %.2f ms; uid %u)\n",
		       req.table_version, req.n_ops, req.base_version, (double)res.build_ns / 1e6,
		       (double)res.publish_ns / 1e6, cl->uid);
	}
	if (rep.status == 0)
		err[0] = '\0';
	else
		DP_LOG(ctl, WARNING, "table version %" PRIu64 " (changes) refused: %s\n",
		       req.table_version, err);
	free(ops);
	free(strings);
	return reply(cl, CTL_APPLY_REPLY, h->seq, &rep, sizeof(rep), err, strlen(err));
}

/* docs/operations.md, "The compile cache" */
static json_t *compile_cache_json(void)
{
	struct matcher_cache_counters cc;

	matcher_cache_counters(&cc);
	return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "enabled",
			 matcher_cache_enabled(), "hits", (json_int_t)cc.hits, "misses",
			 (json_int_t)cc.misses, "bad", (json_int_t)cc.bad, "stores",
			 (json_int_t)cc.stores, "store_failed", (json_int_t)cc.store_failed,
			 "evictions", (json_int_t)cc.evictions, "bytes", (json_int_t)cc.bytes,
			 "recompiles_pending", (json_int_t)matcher_pool_pending());
}

static int handle_status(struct ctl *c, struct ctl_client *cl, const struct ctl_hdr *h)
{
	struct ctl_status_reply rep = {.table_version = table_version(c->table),
				       .boot_id = c->boot_id,
				       .table_digest = c->digest};
	json_t *root = report_json(c->table, c->map);
	char *text;
	int rc;

	if (root == NULL)
		return -ENOMEM;
	json_object_set_new(root, "table_version",
			    json_integer((json_int_t)table_version(c->table)));
	json_object_set_new(root, "table_log", table_log(c->table));
	json_object_set_new(root, "compile_cache", compile_cache_json());
	json_object_set_new(root, "control_socket",
			    json_pack("{sI sI sI sI}", "accepted", (json_int_t)c->n.accepted,
				      "refused", (json_int_t)c->n.refused, "evicted",
				      (json_int_t)c->n.evicted, "timed_out",
				      (json_int_t)c->n.timed_out));
	if (c->hooks.status != NULL)
		c->hooks.status(c->hooks.arg, root);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		return -ENOMEM;
	rc = reply(cl, CTL_STATUS_REPLY, h->seq, &rep, sizeof(rep), text, strlen(text));
	free(text);
	return rc;
}

/* One whole request. Negative: close the connection now (out of memory). */
static int handle(struct ctl *c, struct ctl_client *cl)
{
	const struct ctl_hdr *h = &cl->hdr;

	if (h->type == CTL_HELLO)
		return handle_hello(c, cl, h, cl->payload);
	if (!cl->hello) {
		reply_error(cl, h->seq, -EPROTO, "HELLO first");
		return 0;
	}
	if (h->type == CTL_APPLY)
		return handle_apply(c, cl, h, cl->payload);
	if (h->type == CTL_DELTA)
		return handle_delta(c, cl, h, cl->payload);
	if (h->type == CTL_STATUS)
		return handle_status(c, cl, h);
	reply_error(cl, h->seq, -EPROTO, "unknown message type");
	return 0;
}

static void client_close(struct ctl_client *cl)
{
	close(cl->fd);
	free(cl->payload);
	free(cl->out);
	*cl = (struct ctl_client){.fd = -1};
}

/* A bad header: said, then closed. */
static void bad_header(struct ctl_client *cl, int rc)
{
	char text[96];

	if (rc == -EPROTONOSUPPORT)
		snprintf(text, sizeof(text),
			 "protocol version %u not supported, this dataplane speaks %u",
			 cl->hdr.version, CTL_PROTO_VERSION);
	else
		snprintf(text, sizeof(text), "bad message header");
	reply_error(cl, cl->hdr.seq, rc, text);
}

/*
 * Read what the socket has of the current request: 1 when it is whole, 0 when more is
 * to come (or a bad header was answered), negative to close (the peer closed, an error).
 */
static int client_read(struct ctl *c, struct ctl_client *cl)
{
	for (;;) {
		uint8_t *dst;
		size_t want;
		ssize_t r;

		if (cl->hdr_got < sizeof(cl->hdr)) {
			dst = (uint8_t *)&cl->hdr + cl->hdr_got;
			want = sizeof(cl->hdr) - cl->hdr_got;
		} else if (cl->got < cl->hdr.len) {
			if (cl->got == cl->cap) {
				size_t cap =
				    cl->cap * 2 > CTL_READ_CHUNK ? cl->cap * 2 : CTL_READ_CHUNK;
				uint8_t *p;

				cap = cap < cl->hdr.len ? cap : cl->hdr.len;
				p = realloc(cl->payload, cap);
				if (p == NULL)
					return -ENOMEM;
				cl->payload = p;
				cl->cap = cap;
			}
			dst = cl->payload + cl->got;
			want = cl->cap - cl->got;
		} else {
			return 1;
		}
		r = recv(cl->fd, dst, want, 0);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		}
		cl->active_ns = loop_ns(c);
		if (cl->hdr_got < sizeof(cl->hdr)) {
			cl->hdr_got += (size_t)r;
			if (cl->hdr_got == sizeof(cl->hdr)) {
				int rc = ctl_decode_hdr(&cl->hdr);

				if (rc != 0) {
					bad_header(cl, rc);
					return 0;
				}
			}
		} else {
			cl->got += (size_t)r;
		}
	}
}

/* Send what the peer takes of the queued replies: 0, or negative to close (an error,
 * or everything of a closing connection sent). */
static int client_flush(struct ctl *c, struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		}
		cl->out_off += (size_t)w;
		cl->active_ns = loop_ns(c);
	}
	return cl->closing ? -ECONNRESET : 0;
}

/* The peer's socket is ready: send, then read and handle one request. 0 or negative
 * to close. */
static int client_serve(struct ctl *c, struct ctl_client *cl, short revents)
{
	int rc = client_flush(c, cl);

	if (rc != 0 || cl->out_off < cl->out_len || cl->closing)
		return rc;
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	rc = client_read(c, cl);
	if (rc <= 0)
		return rc < 0 ? rc : client_flush(c, cl);
	{
		uint64_t t0 = clock_ns(CLOCK_MONOTONIC);

		rc = handle(c, cl);
		c->busy_ns += clock_ns(CLOCK_MONOTONIC) - t0;
	}
	cl->active_ns = loop_ns(c);
	free(cl->payload);
	cl->payload = NULL;
	cl->hdr_got = cl->got = cl->cap = 0;
	return rc < 0 ? rc : client_flush(c, cl);
}

static bool allowed(const struct ctl *c, uint32_t uid)
{
	for (uint32_t i = 0; i < c->access.n_uids; i++)
		if (c->access.uids[i] == uid)
			return true;
	return false;
}

/* A slot for a new connection: a free one, else the longest idle (one that never said
 * HELLO first) is evicted. */
static struct ctl_client *free_slot(struct ctl *c)
{
	struct ctl_client *victim = NULL;

	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->clients[i];

		if (cl->fd < 0)
			return cl;
		if (victim == NULL || (victim->hello && !cl->hello) ||
		    (victim->hello == cl->hello && cl->active_ns < victim->active_ns))
			victim = cl;
	}
	DP_LOG(ctl, WARNING,
	       "control connection of uid %u pid %u closed: all %d slots taken, it was the "
	       "longest idle\n",
	       victim->uid, victim->pid, CTL_MAX_CLIENTS);
	client_close(victim);
	c->n.evicted++;
	return victim;
}

static void accept_peers(struct ctl *c)
{
	for (;;) {
		struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		socklen_t len = sizeof(cred);
		struct ctl_client *cl;
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return; /* EAGAIN: none left; anything else is retried next turn */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
		    !allowed(c, cred.uid)) {
			struct ctl_error e = {.status = -EACCES};
			char text[96];

			c->n.refused++;
			snprintf(text, sizeof(text),
				 "uid %u may not use the dataplane's control socket",
				 (unsigned)cred.uid);
			DP_LOG(ctl, WARNING, "control connection of uid %u pid %u refused: %s\n",
			       (unsigned)cred.uid, (unsigned)cred.pid,
			       "not in the allow-list (--ctl-allow-uid)");
			/* a fresh socket's buffer takes it; never waited for */
			ctl_send(fd, CTL_ERROR, 0, &e, sizeof(e), text, strlen(text));
			close(fd);
			continue;
		}
		cl = free_slot(c);
		*cl = (struct ctl_client){
		    .fd = fd, .uid = cred.uid, .pid = (uint32_t)cred.pid, .active_ns = loop_ns(c)};
		c->n.accepted++;
	}
}

/* Close the connections past their deadline. */
static void expire(struct ctl *c)
{
	uint64_t now = loop_ns(c);

	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct ctl_client *cl = &c->clients[i];
		bool pending = cl->hdr_got != 0 || cl->out_off < cl->out_len;
		uint64_t limit = (uint64_t)(pending ? CTL_STALL_MS : CTL_IDLE_MS) * 1000000u;

		if (cl->fd < 0 || now - cl->active_ns <= limit)
			continue;
		DP_LOG(ctl, WARNING,
		       "control connection of uid %u pid %u closed: %s for %" PRIu64 " ms\n",
		       cl->uid, cl->pid,
		       cl->hdr_got != 0 ? "a request half received"
		       : pending	? "its reply left unread"
					: "idle",
		       (now - cl->active_ns) / 1000000u);
		client_close(cl);
		c->n.timed_out++;
	}
}

/* A background recompile finished (docs/architecture.md): swap it in. */
static void fold(struct ctl *c)
{
	int r;

	matcher_pool_event_clear();
	r = table_fold(c->table);
	if (r < 0)
		DP_LOG(ctl, WARNING, "a finished recompile could not be swapped in: %s\n",
		       strerror(-r));
}

static void *ctl_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd pfd[CTL_MAX_CLIENTS + 3];
	/* readable when a background recompile finished */
	int folds = matcher_pool_event_fd();

	/* compiles from now on on this thread's CPUs, off the polling lcores */
	matcher_pool_pin_to_self();
	for (;;) {
		int n = 0, idx[CTL_MAX_CLIENTS];

		pfd[n++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = folds, .events = POLLIN};
		for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
			struct ctl_client *cl = &c->clients[i];

			if (cl->fd < 0)
				continue;
			idx[n - 3] = i;
			pfd[n++] = (struct pollfd){.fd = cl->fd,
						   .events = cl->out_off < cl->out_len ? POLLOUT
							     : cl->closing	       ? 0
										       : POLLIN};
		}
		int rc = poll(pfd, (nfds_t)n, HEALTH_PERIOD_MS);

		if (rc > 0 && (pfd[0].revents & POLLIN))
			break;
		if (rc > 0 && (pfd[2].revents & POLLIN))
			fold(c);
		for (int k = 3; rc > 0 && k < n; k++) {
			struct ctl_client *cl = &c->clients[idx[k - 3]];

			if (pfd[k].revents != 0 && client_serve(c, cl, pfd[k].revents) != 0)
				client_close(cl);
		}
		if (rc > 0 && (pfd[1].revents & POLLIN))
			accept_peers(c);
		expire(c);
		if (c->hooks.tick != NULL)
			c->hooks.tick(c->hooks.arg, clock_ns(CLOCK_MONOTONIC));
	}
	return NULL;
}

/*
 * The path free for this dataplane's socket: nothing there, or a stale socket of a
 * previous run (nobody listening), which is removed. Refused while a listener answers
 * there (another dataplane: its aster-control must not be taken from it) or when the
 * path is not a socket.
 */
static int claim_path(const struct sockaddr_un *sa, char *err, size_t errlen)
{
	const char *path = sa->sun_path;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket: not replaced", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return -errno;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
	close(fd);
	if (rc == -ECONNREFUSED) {
		DP_LOG(ctl, NOTICE, "%s: a stale socket (nobody listening) replaced\n", path);
		return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
	}
	if (rc == 0 || rc == -EAGAIN)
		snprintf(err, errlen,
			 "%s: another process is listening there (a running dataplane?): not "
			 "taken over",
			 path);
	else
		snprintf(err, errlen, "%s: cannot tell whether it is in use: %s", path,
			 strerror(-rc));
	return rc == 0 ? -EADDRINUSE : rc;
}

/* The listening socket at `path`, created 0600 (0660 when the allow-list names a uid
 * other than ours, who reaches it through the group). */
static int listen_on(struct ctl *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	mode_t mode = 0600, old;
	struct stat st;
	int rc;

	if (len >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: control socket path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(c->sock_path, path, len + 1);
	memcpy(sa.sun_path, path, len + 1);
	for (uint32_t i = 0; i < c->access.n_uids; i++)
		if (c->access.uids[i] != geteuid() && c->access.uids[i] != 0)
			mode = 0660;
	rc = claim_path(&sa, err, errlen);
	if (rc != 0)
		return rc;
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	old = umask(0177); /* never, even for an instant, reachable by others */
	rc = c->listen_fd >= 0 && bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	umask(old);
	if (!rc || chmod(path, mode) != 0 || lstat(path, &st) != 0 ||
	    listen(c->listen_fd, CTL_MAX_CLIENTS) != 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", path, strerror(errno));
		return -errno;
	}
	c->sock_dev = st.st_dev;
	c->sock_ino = st.st_ino;
	return 0;
}

struct ctl *ctl_start(struct table *t, const struct lcore_map *m, const char *sock_path,
		      const struct ctl_access *access, uint64_t boot_id,
		      const struct ctl_hooks *hooks, char *err, size_t errlen)
{
	struct ctl *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory for the control thread");
		return NULL;
	}
	c->table = t;
	c->map = m;
	c->hooks = *hooks;
	c->access = *access;
	if (c->access.n_uids == 0)
		c->access.uids[c->access.n_uids++] = (uint32_t)geteuid();
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
	struct stat st;

	if (c == NULL)
		return;
	if (write(c->wake[1], "x", 1) == 1)
		pthread_join(c->thread, NULL);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(&c->clients[i]);
	close(c->listen_fd);
	if (lstat(c->sock_path, &st) == 0 && st.st_dev == c->sock_dev && st.st_ino == c->sock_ino)
		unlink(c->sock_path);
	close(c->wake[0]);
	close(c->wake[1]);
	free(c);
}
