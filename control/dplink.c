/* SPDX-License-Identifier: BSD-3-Clause */
/* The dataplane link: see dplink.h for the design and the sync rule. */
#include "dplink.h"
#include "ctl_proto.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct dplink {
	const struct settings *set;
	int fd;
	uint32_t seq;

	/* the table to keep in force */
	uint64_t version;
	const char *yaml;

	/* what the dataplane told us */
	uint32_t pid;
	uint64_t boot_id;
	uint64_t dp_version;
	uint64_t synced_boot; /* boot_id the last successful push went to */

	/* a refused push is not repeated for the same table and dataplane */
	uint64_t refused_version;
	uint64_t refused_boot;

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

static void disconnect(struct dplink *l, const char *why, int err)
{
	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
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
}

void dplink_close(struct dplink *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

void dplink_set_table(struct dplink *l, uint64_t version, const char *yaml)
{
	l->version = version;
	l->yaml = yaml;
}

int dplink_fd(const struct dplink *l)
{
	return l->fd;
}

bool dplink_connected(const struct dplink *l)
{
	return l->fd >= 0;
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

const struct dplink_result *dplink_last_push(const struct dplink *l)
{
	return &l->last_push;
}

const char *dplink_last_error(const struct dplink *l)
{
	return l->last_error;
}

static void set_timeout(int fd, uint32_t ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * One request and its reply of type `want` (fixed part into `fixed`). On any failure the
 * link is dropped: after a timeout or a protocol error the byte stream cannot be trusted.
 * *text points into *payload, which the caller frees.
 */
static int request(struct dplink *l, uint16_t type, const void *fixed, size_t fixed_len,
		   const char *text, size_t text_len, uint32_t timeout_ms, uint16_t want,
		   void *rfixed, size_t rfixed_len, uint8_t **payload, const char **rtext,
		   uint32_t *rtext_len)
{
	uint32_t seq = ++l->seq;
	struct ctl_hdr h;
	int rc;

	*payload = NULL;
	if (l->fd < 0)
		return -ENOTCONN;
	set_timeout(l->fd, timeout_ms);
	rc = ctl_send(l->fd, type, seq, fixed, fixed_len, text, text_len);
	if (rc == 0)
		rc = ctl_recv(l->fd, &h, payload);
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		rc = -ETIMEDOUT;
	if (rc != 0) {
		disconnect(l, ctl_type_name(type), rc);
		return rc;
	}
	if (h.type == CTL_ERROR) {
		struct ctl_error e;
		const char *t = "";
		uint32_t tl = 0;
		char why[200];

		if (ctl_decode_payload(CTL_ERROR, *payload, h.len, &e, sizeof(e), &t, &tl) != 0)
			tl = 0;
		snprintf(why, sizeof(why), "dataplane refused %s: %.*s", ctl_type_name(type),
			 (int)tl, t);
		free(*payload);
		*payload = NULL;
		/* ctl_proto.h: the dataplane closes after an ERROR (e.g. a version mismatch). */
		disconnect(l, why, 0);
		return -EPROTO;
	}
	if (h.type != want || h.seq != seq ||
	    ctl_decode_payload(want, *payload, h.len, rfixed, rfixed_len, rtext, rtext_len) != 0) {
		free(*payload);
		*payload = NULL;
		disconnect(l, "unexpected reply", -EPROTO);
		return -EPROTO;
	}
	return 0;
}

static int hello(struct dplink *l)
{
	struct ctl_hello req = {.proto_version = CTL_PROTO_VERSION, .pid = (uint32_t)getpid()};
	struct ctl_hello_reply rep;
	uint8_t *payload;
	uint64_t old_boot = l->boot_id;
	int rc;

	snprintf(req.client, sizeof(req.client), "aster-control");
	rc = request(l, CTL_HELLO, &req, sizeof(req), NULL, 0, DPLINK_HELLO_MS, CTL_HELLO_REPLY,
		     &rep, sizeof(rep), &payload, NULL, NULL);
	free(payload);
	if (rc != 0)
		return rc;
	l->pid = rep.pid;
	l->boot_id = rep.boot_id;
	l->dp_version = rep.table_version;
	fprintf(stderr,
		"aster-control: dataplane connected: pid %u, boot %016" PRIx64
		", table version %" PRIu64 "%s\n",
		rep.pid, rep.boot_id, rep.table_version,
		old_boot != 0 && old_boot != rep.boot_id ? " (restarted)" : "");
	return 0;
}

static int try_connect(struct dplink *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%.107s", l->set->dataplane_socket);
	/* Non-blocking so that a full backlog refuses instead of stalling the loop. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		disconnect(l, "connect", rc);
		return rc;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	l->fd = fd;
	rc = hello(l);
	if (rc != 0)
		return rc;
	l->was_up = true;
	l->backoff_ms = DPLINK_BACKOFF_MIN_MS;
	l->last_error[0] = '\0';
	l->next_check_ns = now_ns() + (uint64_t)DPLINK_CHECK_MS * 1000000u;
	return 0;
}

static bool in_sync(const struct dplink *l)
{
	return l->dp_version == l->version && l->synced_boot == l->boot_id;
}

int dplink_push(struct dplink *l, struct dplink_result *res)
{
	struct ctl_apply req = {.table_version = l->version};
	struct ctl_apply_reply rep;
	const char *text = NULL;
	uint32_t text_len = 0;
	uint8_t *payload;
	uint64_t t0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (l->fd < 0)
		return -ENOTCONN;
	if (l->yaml == NULL || l->version == 0)
		return -ENODATA;
	t0 = now_ns();
	rc = request(l, CTL_APPLY, &req, sizeof(req), l->yaml, strlen(l->yaml),
		     l->set->dataplane_timeout_ms, CTL_APPLY_REPLY, &rep, sizeof(rep), &payload,
		     &text, &text_len);
	if (rc != 0)
		return rc;
	res->round_trip_ns = now_ns() - t0;
	res->status = rep.status;
	res->table_version = rep.table_version;
	res->build_ns = rep.build_ns;
	res->publish_ns = rep.publish_ns;
	snprintf(res->error, sizeof(res->error), "%.*s", (int)text_len, text);
	free(payload);
	l->dp_version = rep.table_version;
	l->last_push = *res;
	if (rep.status == 0) {
		l->synced_boot = l->boot_id;
		fprintf(stderr,
			"aster-control: dataplane at table version %" PRIu64
			" (build %.3f ms, publish %.3f ms)\n",
			rep.table_version, rep.build_ns / 1e6, rep.publish_ns / 1e6);
	} else {
		l->refused_version = l->version;
		l->refused_boot = l->boot_id;
		set_error(l, "dataplane refused table version %" PRIu64 ": %s", l->version,
			  res->error);
		fprintf(stderr, "aster-control: %s\n", l->last_error);
	}
	return 0;
}

int dplink_status(struct dplink *l, char **json)
{
	struct ctl_status_reply rep;
	const char *text = NULL;
	uint32_t text_len = 0;
	uint8_t *payload;
	int rc;

	*json = NULL;
	rc = request(l, CTL_STATUS, NULL, 0, NULL, 0, DPLINK_HELLO_MS, CTL_STATUS_REPLY, &rep,
		     sizeof(rep), &payload, &text, &text_len);
	if (rc != 0)
		return rc;
	if (rep.boot_id != l->boot_id) {
		/* Another dataplane answered on the same connection: cannot happen unless the
		 * peer is confused; start over. */
		free(payload);
		disconnect(l, "boot id changed on a live connection", -EPROTO);
		return -EPROTO;
	}
	l->dp_version = rep.table_version;
	*json = strndup(text, text_len);
	free(payload);
	return *json != NULL ? 0 : -ENOMEM;
}

/* Push when the dataplane is not at the store's version, unless that exact push to that
 * exact dataplane was refused already. */
static void sync_if_needed(struct dplink *l)
{
	struct dplink_result res;

	if (l->fd < 0 || l->version == 0 || l->yaml == NULL || in_sync(l))
		return;
	if (l->dp_version == l->version && l->synced_boot != l->boot_id) {
		/* Already at our version (aster-control restarted, the dataplane did not). */
		l->synced_boot = l->boot_id;
		return;
	}
	if (l->refused_version == l->version && l->refused_boot == l->boot_id)
		return;
	fprintf(stderr,
		"aster-control: dataplane at table version %" PRIu64 ", store at %" PRIu64
		": pushing the full table\n",
		l->dp_version, l->version);
	dplink_push(l, &res);
}

void dplink_on_readable(struct dplink *l)
{
	char buf[256];
	ssize_t r;

	if (l->fd < 0)
		return;
	/* Nothing is sent unasked except an ERROR before a close: either way, drop it. */
	r = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (r == 0)
		disconnect(l, "dataplane closed the connection", 0);
	else if (r > 0)
		disconnect(l, "unsolicited message from the dataplane", -EPROTO);
	else if (errno != EAGAIN && errno != EINTR)
		disconnect(l, "recv", -errno);
}

int dplink_tick(struct dplink *l)
{
	uint64_t now = now_ns(), due;
	char *json;

	if (l->fd < 0 && now >= l->next_connect_ns && try_connect(l) == 0)
		sync_if_needed(l);
	if (l->fd >= 0 && now_ns() >= l->next_check_ns) {
		/* Liveness and drift probe: STATUS carries the dataplane's table version. */
		if (dplink_status(l, &json) == 0) {
			free(json);
			sync_if_needed(l);
		}
		l->next_check_ns = now_ns() + (uint64_t)DPLINK_CHECK_MS * 1000000u;
	}
	now = now_ns();
	due = l->fd >= 0 ? l->next_check_ns : l->next_connect_ns;
	return due > now ? (int)((due - now) / 1000000u) + 1 : 0;
}
