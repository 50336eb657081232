/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane link: see dplink.h for the design and the sync rule. */
#include "dplink.h"
#include "ctl_proto.h"
#include "routing_delta.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

enum op_kind { OP_HELLO, OP_APPLY, OP_STATUS };

/* One request: its encoded bytes, how far they went out, and who waits for the reply. */
struct op {
	enum op_kind kind;
	uint16_t want; /* reply type */
	uint32_t seq;
	uint8_t *msg;
	size_t len, off;
	uint32_t timeout_ms;
	uint64_t sent_ns;     /* when it started going out */
	uint64_t deadline_ns; /* set when it starts going out */
	bool sync;	      /* the link's own push, or a probe */
	bool dry_run;
	bool delta;		  /* a DELTA: refused for being stale, not for its table */
	uint64_t version, digest; /* APPLY, DELTA: the table it makes */
	dplink_apply_fn apply_done;
	dplink_status_fn status_done;
	void *arg;
	struct op *next;
};

struct dplink {
	const struct settings *set;
	int fd;
	uint32_t seq;
	bool up; /* HELLO answered */

	/* the table to keep in force; its text rendered only for a full push */
	uint64_t version;
	uint64_t digest;
	dplink_text_fn text;
	void *text_arg;

	/* what the dataplane told us */
	uint32_t pid;
	uint64_t boot_id;
	uint64_t dp_version;
	uint64_t dp_digest;   /* 0 = it does not say */
	uint64_t synced_boot; /* boot_id the last successful push went to */
	struct dplink_limits limits;

	/* a refused push is not repeated for the same table and dataplane */
	uint64_t refused_digest;
	uint64_t refused_boot;

	/* requests, in order; the head is the one going out or awaiting its reply */
	struct op *head, *tail;
	bool sync_queued, probe_queued;

	/* the reply being read */
	uint8_t hdr[sizeof(struct ctl_hdr)];
	size_t hdr_got;
	struct ctl_hdr h;
	uint8_t *payload;
	size_t payload_got;

	uint64_t next_connect_ns;
	uint64_t next_check_ns;
	uint32_t backoff_ms;
	bool was_up; /* to log a lost connection once */

	struct dplink_result last_push;
	char last_error[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static void set_error(struct dplink *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct dplink *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->last_error, sizeof(l->last_error), fmt, ap);
	va_end(ap);
}

struct dplink *dplink_open(const struct settings *s)
{
	struct dplink *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->set = s;
	l->fd = -1;
	l->backoff_ms = DPLINK_BACKOFF_MIN_MS;
	set_error(l, "not connected yet");
	return l;
}

/* Tell whoever waits that no reply will come, then release the request. */
static void op_fail(struct op *op, int rc)
{
	if (op->apply_done != NULL)
		op->apply_done(op->arg, rc, NULL);
	if (op->status_done != NULL)
		op->status_done(op->arg, rc, NULL, 0);
	free(op->msg);
	free(op);
}

static void disconnect(struct dplink *l, const char *why, int err)
{
	struct op *ops = l->head;

	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
	l->up = false;
	l->head = l->tail = NULL;
	l->sync_queued = l->probe_queued = false;
	free(l->payload);
	l->payload = NULL;
	l->hdr_got = l->payload_got = 0;
	if (err != 0)
		set_error(l, "%s: %s", why, strerror(-err));
	else
		set_error(l, "%s", why);
	if (l->was_up)
		fprintf(stderr, "aster-control: dataplane link down: %s\n", l->last_error);
	l->was_up = false;
	l->next_connect_ns = now_ns() + (uint64_t)l->backoff_ms * 1000000u;
	l->backoff_ms =
	    l->backoff_ms * 2 > DPLINK_BACKOFF_MAX_MS ? DPLINK_BACKOFF_MAX_MS : l->backoff_ms * 2;
	/* Detached first: a callback may queue a new request, which finds the link down. */
	while (ops != NULL) {
		struct op *next = ops->next;

		op_fail(ops, err == -ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN);
		ops = next;
	}
}

void dplink_close(struct dplink *l)
{
	if (l == NULL)
		return;
	disconnect(l, "closing", 0);
	free(l);
}

void dplink_set_table(struct dplink *l, uint64_t version, uint64_t digest, dplink_text_fn text,
		      void *arg)
{
	l->version = version;
	l->digest = digest;
	l->text = text;
	l->text_arg = arg;
}

int dplink_fd(const struct dplink *l)
{
	return l->fd;
}

short dplink_events(const struct dplink *l)
{
	if (l->fd < 0)
		return 0;
	return (short)(POLLIN | (l->head != NULL && l->head->off < l->head->len ? POLLOUT : 0));
}

bool dplink_connected(const struct dplink *l)
{
	return l->fd >= 0 && l->up;
}

bool dplink_idle(const struct dplink *l)
{
	return l->head == NULL;
}

uint64_t dplink_dp_version(const struct dplink *l)
{
	return l->dp_version;
}

uint64_t dplink_boot_id(const struct dplink *l)
{
	return l->boot_id;
}

uint32_t dplink_pid(const struct dplink *l)
{
	return l->pid;
}

const struct dplink_limits *dplink_limits(const struct dplink *l)
{
	return &l->limits;
}

const struct dplink_result *dplink_last_push(const struct dplink *l)
{
	return &l->last_push;
}

const char *dplink_last_error(const struct dplink *l)
{
	return l->last_error;
}

/* What is in force there is the store's table: same version and, when the dataplane
 * says its digest, the same text. */
static bool same_table(const struct dplink *l)
{
	return l->dp_version == l->version && (l->dp_digest == 0 || l->dp_digest == l->digest);
}

bool dplink_in_sync(const struct dplink *l)
{
	return same_table(l) && l->synced_boot == l->boot_id;
}

/* The head request started going out: its deadline runs from now. */
static void start_head(struct dplink *l)
{
	if (l->head != NULL && l->head->deadline_ns == 0) {
		l->head->sent_ns = now_ns();
		l->head->deadline_ns = l->head->sent_ns + (uint64_t)l->head->timeout_ms * 1000000u;
	}
}

/* Send what the socket takes of the head request: 0 (all, or the socket is full), or
 * -errno. */
static int send_head(struct dplink *l)
{
	struct op *op = l->head;

	while (l->fd >= 0 && op != NULL && op->off < op->len) {
		ssize_t w =
		    send(l->fd, op->msg + op->off, op->len - op->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		op->off += (size_t)w;
	}
	return 0;
}

/* Encode and queue a request; the HELLO of a new connection goes first. */
static int queue(struct dplink *l, struct op *op, uint16_t type, const void *fixed,
		 size_t fixed_len, const char *text, size_t text_len)
{
	size_t cap = sizeof(struct ctl_hdr) + fixed_len + text_len;
	int n;

	if (fixed_len + text_len > CTL_MAX_PAYLOAD) {
		free(op);
		return -EMSGSIZE;
	}
	op->msg = malloc(cap);
	if (op->msg == NULL) {
		free(op);
		return -ENOMEM;
	}
	op->seq = ++l->seq;
	n = ctl_encode(op->msg, cap, type, op->seq, fixed, fixed_len, text, text_len);
	if (n < 0) {
		free(op->msg);
		free(op);
		return n;
	}
	op->len = (size_t)n;
	if (l->tail != NULL)
		l->tail->next = op;
	else
		l->head = op;
	l->tail = op;
	start_head(l);
	/* on its way before the caller goes on (a change's audit line is synced while the
	 * dataplane works); an error is left for the event loop to see (dplink_on_io), so
	 * that callbacks never run from the call that queued their request */
	if (l->head == op)
		send_head(l);
	return 0;
}

/* A request answered by APPLY_REPLY (an APPLY or a DELTA) making table `version`. */
static struct op *apply_op(struct dplink *l, uint64_t version, uint64_t digest, bool dry_run,
			   bool delta, dplink_apply_fn done, void *arg)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op != NULL)
		*op = (struct op){
		    .kind = OP_APPLY,
		    .want = CTL_APPLY_REPLY,
		    .timeout_ms = l->set->dataplane_timeout_ms,
		    .dry_run = dry_run,
		    .delta = delta,
		    .version = version,
		    .digest = digest,
		    .apply_done = done,
		    .arg = arg,
		};
	return op;
}

static int queue_apply(struct dplink *l, uint64_t version, uint64_t digest, const char *yaml,
		       bool dry_run, bool sync, dplink_apply_fn done, void *arg)
{
	struct ctl_apply req = {
	    .table_version = version,
	    .flags = dry_run ? CTL_APPLY_DRY_RUN : 0,
	};
	size_t len = strlen(yaml);
	struct op *op = apply_op(l, version, digest != 0 ? digest : ctl_table_digest(yaml, len),
				 dry_run, false, done, arg);

	if (op == NULL)
		return -ENOMEM;
	op->sync = sync;
	return queue(l, op, CTL_APPLY, &req, sizeof(req), yaml, len);
}

int dplink_apply(struct dplink *l, uint64_t version, const char *yaml, bool dry_run,
		 dplink_apply_fn done, void *arg)
{
	if (!dplink_connected(l))
		return -ENOTCONN;
	return queue_apply(l, version, 0, yaml, dry_run, false, done, arg);
}

/* The current table's text (rendered by its owner on demand), or NULL. */
static const char *table_text(struct dplink *l)
{
	return l->text != NULL && l->version != 0 ? l->text(l->text_arg) : NULL;
}

int dplink_push(struct dplink *l, dplink_apply_fn done, void *arg)
{
	const char *yaml;

	if (!dplink_connected(l))
		return -ENOTCONN;
	yaml = table_text(l);
	if (yaml == NULL)
		return -ENODATA;
	return queue_apply(l, l->version, l->digest, yaml, false, false, done, arg);
}

int dplink_delta(struct dplink *l, uint64_t base, uint64_t version, uint64_t digest,
		 const struct rd_op *ops, uint32_t n_ops, bool dry_run, dplink_apply_fn done,
		 void *arg)
{
	struct ctl_delta req = {
	    .base_version = base,
	    .table_version = version,
	    .table_digest = digest,
	    .flags = dry_run ? CTL_APPLY_DRY_RUN : 0,
	    .n_ops = n_ops,
	};
	struct op *op;
	uint8_t *text;
	size_t len;
	int rc;

	if (!dplink_connected(l))
		return -ENOTCONN;
	if (n_ops == 0 || n_ops > CTL_DELTA_MAX_OPS)
		return -EINVAL;
	text = ctl_delta_encode(ops, n_ops, &len);
	if (text == NULL)
		return -ENOMEM;
	req.text_len = (uint32_t)len;
	op = apply_op(l, version, digest, dry_run, true, done, arg);
	rc = op != NULL ? queue(l, op, CTL_DELTA, &req, sizeof(req), (const char *)text, len)
			: -ENOMEM;
	free(text);
	return rc;
}

static int queue_status(struct dplink *l, bool sync, dplink_status_fn done, void *arg)
{
	struct op *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return -ENOMEM;
	*op = (struct op){
	    .kind = OP_STATUS,
	    .want = CTL_STATUS_REPLY,
	    .timeout_ms = DPLINK_HELLO_MS,
	    .sync = sync,
	    .status_done = done,
	    .arg = arg,
	};
	return queue(l, op, CTL_STATUS, NULL, 0, NULL, 0);
}

int dplink_status(struct dplink *l, dplink_status_fn done, void *arg)
{
	if (!dplink_connected(l))
		return -ENOTCONN;
	return queue_status(l, false, done, arg);
}

/*
 * Push when the dataplane does not have the store's table, unless that exact table was
 * refused by that exact dataplane already, or a push is on its way.
 */
/* Whether a push of the current table (whole or as a delta) is on its way already. */
static bool push_queued(const struct dplink *l)
{
	for (const struct op *op = l->head; op != NULL; op = op->next)
		if (op->kind == OP_APPLY && !op->dry_run && op->version == l->version &&
		    op->digest == l->digest)
			return true;
	return false;
}

static void sync_if_needed(struct dplink *l)
{
	const char *yaml;
	int rc;

	if (!dplink_connected(l) || l->version == 0 || l->text == NULL || l->sync_queued ||
	    dplink_in_sync(l) || push_queued(l))
		return;
	if (same_table(l)) {
		/* Already in force (aster-control restarted, the dataplane did not). */
		l->synced_boot = l->boot_id;
		return;
	}
	if (l->refused_digest == l->digest && l->refused_boot == l->boot_id)
		return;
	fprintf(stderr,
		"aster-control: dataplane at table version %" PRIu64 ", store at %" PRIu64
		": pushing the full table\n",
		l->dp_version, l->version);
	yaml = table_text(l);
	rc = yaml != NULL ? queue_apply(l, l->version, l->digest, yaml, false, true, NULL, NULL)
			  : -ENOMEM;
	if (rc == 0) {
		l->sync_queued = true;
		return;
	}
	/* Not sent at all (over the message limit): said once, not tried again. */
	l->refused_digest = l->digest;
	l->refused_boot = l->boot_id;
	set_error(l, "table version %" PRIu64 " not pushed: %s", l->version,
		  rc == -EMSGSIZE ? "over the 64 MiB a control message carries" : strerror(-rc));
	fprintf(stderr, "aster-control: %s\n", l->last_error);
}

static void parse_limits(struct dplink *l, const char *text, uint32_t len)
{
	json_error_t jerr;
	json_t *o = json_loadb(text, len, 0, &jerr), *ports, *p;
	size_t i;

	memset(&l->limits, 0, sizeof(l->limits));
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	l->limits.known = true;
	l->limits.max_subscribers =
	    (uint32_t)json_integer_value(json_object_get(o, "max_subscribers"));
	l->limits.max_feeds = (uint32_t)json_integer_value(json_object_get(o, "max_feeds"));
	ports = json_object_get(o, "output_ports");
	json_array_foreach(ports, i, p)
	{
		if (i >= DPLINK_MAX_PORTS || !json_is_string(p))
			break;
		snprintf(l->limits.ports[i], sizeof(l->limits.ports[i]), "%s",
			 json_string_value(p));
		l->limits.n_ports++;
	}
	json_decref(o);
}

static int on_hello(struct dplink *l, const uint8_t *payload, uint32_t len)
{
	struct ctl_hello_reply rep;
	const char *text;
	uint32_t text_len;
	uint64_t old_boot = l->boot_id;

	if (ctl_decode_payload(CTL_HELLO_REPLY, payload, len, &rep, sizeof(rep), &text,
			       &text_len) != 0)
		return -EPROTO;
	l->pid = rep.pid;
	l->boot_id = rep.boot_id;
	l->dp_version = rep.table_version;
	l->dp_digest = rep.table_digest;
	parse_limits(l, text, text_len);
	l->up = l->was_up = true;
	l->backoff_ms = DPLINK_BACKOFF_MIN_MS;
	l->last_error[0] = '\0';
	l->next_check_ns = now_ns() + (uint64_t)DPLINK_CHECK_MS * 1000000u;
	fprintf(stderr,
		"aster-control: dataplane connected: pid %u, boot %016" PRIx64
		", table version %" PRIu64 "%s\n",
		rep.pid, rep.boot_id, rep.table_version,
		old_boot != 0 && old_boot != rep.boot_id ? " (restarted)" : "");
	sync_if_needed(l);
	return 0;
}

static int on_apply(struct dplink *l, struct op *op, const uint8_t *payload, uint32_t len)
{
	struct ctl_apply_reply rep;
	struct dplink_result res = {0};
	const char *text;
	uint32_t text_len;

	if (ctl_decode_payload(CTL_APPLY_REPLY, payload, len, &rep, sizeof(rep), &text,
			       &text_len) != 0)
		return -EPROTO;
	res.round_trip_ns = now_ns() - op->sent_ns;
	res.status = rep.status;
	res.table_version = rep.table_version;
	res.build_ns = rep.build_ns;
	res.publish_ns = rep.publish_ns;
	snprintf(res.error, sizeof(res.error), "%.*s", (int)text_len, text);
	l->dp_version = rep.table_version;
	if (op->sync)
		l->sync_queued = false;
	if (!op->dry_run) {
		l->last_push = res;
		if (rep.status == 0) {
			l->dp_digest = op->digest;
			l->synced_boot = l->boot_id;
			fprintf(stderr,
				"aster-control: dataplane at table version %" PRIu64
				" (build %.3f ms, publish %.3f ms)\n",
				rep.table_version, rep.build_ns / 1e6, rep.publish_ns / 1e6);
		} else if (!op->delta) {
			/* a refused DELTA leaves the table as it was: the sync rule pushes the
			 * whole table next (docs/control.md, "Change flow") */
			l->refused_digest = op->digest;
			l->refused_boot = l->boot_id;
			set_error(l, "dataplane refused table version %" PRIu64 ": %s", op->version,
				  res.error);
			fprintf(stderr, "aster-control: %s\n", l->last_error);
		}
	}
	if (op->apply_done != NULL)
		op->apply_done(op->arg, 0, &res);
	return 0;
}

static int on_status(struct dplink *l, struct op *op, const uint8_t *payload, uint32_t len)
{
	struct ctl_status_reply rep;
	const char *text;
	uint32_t text_len;

	if (ctl_decode_payload(CTL_STATUS_REPLY, payload, len, &rep, sizeof(rep), &text,
			       &text_len) != 0)
		return -EPROTO;
	/* Another dataplane on the same connection cannot be: the peer is confused. */
	if (rep.boot_id != l->boot_id)
		return -EPROTO;
	l->dp_version = rep.table_version;
	l->dp_digest = rep.table_digest;
	if (op->sync)
		l->probe_queued = false;
	if (op->status_done != NULL)
		op->status_done(op->arg, 0, text, text_len);
	return 0;
}

/* A whole message arrived: it answers the head request, or the link is broken. */
static void on_message(struct dplink *l)
{
	struct op *op = l->head;
	uint8_t *payload = l->payload;
	uint32_t len = l->h.len;
	int rc;

	l->payload = NULL;
	l->hdr_got = l->payload_got = 0;
	if (l->h.type == CTL_ERROR) {
		struct ctl_error e;
		const char *t = "";
		uint32_t tl = 0;
		char why[300];

		if (ctl_decode_payload(CTL_ERROR, payload, len, &e, sizeof(e), &t, &tl) != 0)
			tl = 0;
		snprintf(why, sizeof(why), "dataplane refused %s: %.*s",
			 op != NULL ? ctl_type_name((uint16_t)(op->want - 1)) : "a request",
			 (int)tl, t);
		free(payload);
		/* ctl_proto.h: the dataplane closes after an ERROR (e.g. a version mismatch). */
		disconnect(l, why, 0);
		return;
	}
	if (op == NULL || op->off < op->len || l->h.type != op->want || l->h.seq != op->seq) {
		free(payload);
		disconnect(
		    l, op == NULL ? "unsolicited message from the dataplane" : "unexpected reply",
		    -EPROTO);
		return;
	}
	/* Done with the head before its callback runs: the callback may queue more. */
	l->head = op->next;
	if (l->head == NULL)
		l->tail = NULL;
	start_head(l);
	switch (op->kind) {
	case OP_HELLO:
		rc = on_hello(l, payload, len);
		break;
	case OP_APPLY:
		rc = on_apply(l, op, payload, len);
		break;
	default:
		rc = on_status(l, op, payload, len);
		break;
	}
	free(payload);
	if (rc != 0) {
		op->next = NULL;
		free(op->msg);
		op->msg = NULL;
		/* its callback learns it with the rest of the queue */
		op->next = l->head;
		l->head = op;
		if (l->tail == NULL)
			l->tail = op;
		disconnect(l, "malformed reply", rc);
		return;
	}
	if (op->kind != OP_HELLO)
		sync_if_needed(l);
	free(op->msg);
	free(op);
}

static void send_some(struct dplink *l)
{
	int rc = send_head(l);

	if (rc < 0)
		disconnect(l, "send", rc);
}

static void receive_some(struct dplink *l)
{
	for (;;) {
		ssize_t r;

		if (l->hdr_got < sizeof(l->hdr)) {
			r = recv(l->fd, l->hdr + l->hdr_got, sizeof(l->hdr) - l->hdr_got,
				 MSG_DONTWAIT);
		} else {
			r = recv(l->fd, l->payload + l->payload_got, l->h.len - l->payload_got,
				 MSG_DONTWAIT);
		}
		if (r == 0) {
			disconnect(l, "dataplane closed the connection", 0);
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				disconnect(l, "recv", -errno);
			return;
		}
		if (l->hdr_got < sizeof(l->hdr)) {
			int rc;

			l->hdr_got += (size_t)r;
			if (l->hdr_got < sizeof(l->hdr))
				continue;
			memcpy(&l->h, l->hdr, sizeof(l->h));
			rc = ctl_decode_hdr(&l->h);
			if (rc != 0) {
				disconnect(l, "bad reply header", rc);
				return;
			}
			l->payload = malloc(l->h.len ? l->h.len : 1);
			if (l->payload == NULL) {
				disconnect(l, "reply", -ENOMEM);
				return;
			}
		} else {
			l->payload_got += (size_t)r;
		}
		if (l->payload_got == l->h.len) {
			on_message(l);
			if (l->fd < 0)
				return;
		}
	}
}

void dplink_on_io(struct dplink *l, short revents)
{
	if (l->fd < 0)
		return;
	if (revents & POLLOUT)
		send_some(l);
	if (l->fd >= 0 && (revents & (POLLIN | POLLHUP | POLLERR)))
		receive_some(l);
	/* what the reply freed room for */
	if (l->fd >= 0)
		send_some(l);
}

static int try_connect(struct dplink *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ctl_hello req = {.proto_version = CTL_PROTO_VERSION, .pid = (uint32_t)getpid()};
	struct op *op;
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", l->set->dataplane_socket);
	/* Non-blocking: a Unix socket accepts or refuses at once, a full backlog refuses. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		uint32_t backoff = l->backoff_ms;

		rc = -errno;
		close(fd);
		disconnect(l, "connect", rc);
		if (rc == -ENOENT || rc == -ECONNREFUSED) {
			/* Nobody listens yet: look again soon, and keep the backoff for a
			 * dataplane that answers and then fails (docs/control.md). */
			l->next_connect_ns = now_ns() + (uint64_t)DPLINK_ABSENT_MS * 1000000u;
			l->backoff_ms = backoff;
		}
		return rc;
	}
	l->fd = fd;
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		disconnect(l, "connect", -ENOMEM);
		return -ENOMEM;
	}
	*op = (struct op){.kind = OP_HELLO, .want = CTL_HELLO_REPLY, .timeout_ms = DPLINK_HELLO_MS};
	snprintf(req.client, sizeof(req.client), "aster-control");
	rc = queue(l, op, CTL_HELLO, &req, sizeof(req), NULL, 0);
	if (rc != 0) {
		disconnect(l, "HELLO", rc);
		return rc;
	}
	send_some(l);
	return 0;
}

int dplink_tick(struct dplink *l)
{
	uint64_t now = now_ns(), due;

	if (l->fd < 0 && now >= l->next_connect_ns)
		try_connect(l);
	if (l->head != NULL && now >= l->head->deadline_ns) {
		char why[64];

		snprintf(why, sizeof(why), "no reply to %s in time",
			 ctl_type_name((uint16_t)(l->head->want - 1)));
		disconnect(l, why, -ETIMEDOUT);
	}
	if (dplink_connected(l) && now >= l->next_check_ns) {
		/* Liveness and drift probe: STATUS carries the table version and digest. */
		if (!l->probe_queued && queue_status(l, true, NULL, NULL) == 0)
			l->probe_queued = true;
		l->next_check_ns = now + (uint64_t)DPLINK_CHECK_MS * 1000000u;
	}
	now = now_ns();
	due = l->fd >= 0 ? l->next_check_ns : l->next_connect_ns;
	if (l->head != NULL && l->head->deadline_ns < due)
		due = l->head->deadline_ns;
	return due > now ? (int)((due - now) / 1000000u) + 1 : 0;
}
