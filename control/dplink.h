/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The link from aster-control to aster-dataplane's control socket (common/ctl_proto.h).
 *
 * Design: requests and replies in order over one connection, all I/O non-blocking and
 * driven by aster-control's one event loop: a request is queued with a callback, sent as
 * the socket takes it, and its reply read as it comes; the loop goes on serving asterctl,
 * HTTP and health samples while the dataplane compiles a table (an APPLY of 10 000
 * regexes takes seconds). Each request has a deadline: `dataplane_timeout_ms` for an
 * APPLY, DPLINK_HELLO_MS for the rest; past it the link is dropped (the byte stream can
 * no longer be trusted) and every queued request fails with -ETIMEDOUT.
 *
 * Sync rule (docs/control.md): after every HELLO, every STATUS (sent every
 * DPLINK_CHECK_MS as a liveness and drift probe) and every table change, the full table
 * is pushed when what the dataplane has in force differs from the store's table (its
 * version, or, when the dataplane says it, the digest of its text), or when its boot_id
 * changed (it restarted). A push the dataplane refused, or a table over the 64 MiB a
 * message carries, is not tried again until the table or the dataplane changes. While no
 * dataplane listens (no socket, or nobody accepting on it) the link tries every
 * DPLINK_ABSENT_MS, so a restarted dataplane gets its table as soon as it listens; a
 * dataplane that was reached and then failed (HELLO refused, a timeout, a closed
 * connection) is tried again with exponential backoff (DPLINK_BACKOFF_MIN_MS doubling to
 * DPLINK_BACKOFF_MAX_MS). Meanwhile the dataplane, if it is still running, keeps forwarding
 * with its last table (fail-static).
 */
#ifndef ASTER_CONTROL_DPLINK_H
#define ASTER_CONTROL_DPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DPLINK_ABSENT_MS      20 /* a connect() refused at once: a few syscalls a try */
#define DPLINK_BACKOFF_MIN_MS 100
#define DPLINK_BACKOFF_MAX_MS 5000
#define DPLINK_CHECK_MS	      2000
#define DPLINK_HELLO_MS	      2000 /* HELLO and STATUS answer without compiling */
#define DPLINK_MAX_PORTS      16   /* output ports named in the dataplane's limits */

struct settings;
struct dplink;
struct rd_op;

/* What an APPLY came back with. */
struct dplink_result {
	int32_t status; /* 0, or -errno from the dataplane */
	uint64_t table_version;
	uint64_t build_ns;
	uint64_t publish_ns;
	uint64_t round_trip_ns; /* request sent until reply read, measured here */
	char error[256];	/* the dataplane's text when status != 0 */
};

/* What the dataplane said it can take, in its last HELLO_REPLY (docs/control.md). */
struct dplink_limits {
	bool known;		  /* it said (an older dataplane may not) */
	uint32_t max_subscribers; /* 0 = not said */
	uint32_t max_feeds;	  /* 0 = not said */
	uint32_t n_ports;	  /* output ports; 0 = not said */
	char ports[DPLINK_MAX_PORTS][32];
};

/*
 * Outcome of a request: rc 0 with the reply, or -ENOTCONN / -ETIMEDOUT / -EPROTO /
 * -EMSGSIZE / ... when none came (the link is then down, except for -EMSGSIZE: nothing
 * was sent). Called once, from dplink_on_io or dplink_tick, never from the call that
 * queued the request.
 */
typedef void (*dplink_apply_fn)(void *arg, int rc, const struct dplink_result *res);
typedef void (*dplink_status_fn)(void *arg, int rc, const char *json, size_t len);

/* The canonical YAML of the table set with dplink_set_table, for a full push; owned by
 * the caller and valid until the next dplink_set_table. NULL: out of memory. */
typedef const char *(*dplink_text_fn)(void *arg);

/* The table the link keeps the dataplane in sync with, by version and digest
 * (ctl_table_digest of its text); `text` renders the text when a full push needs it, so
 * that a change sent as a DELTA renders nothing. */
struct dplink *dplink_open(const struct settings *s);
void dplink_close(struct dplink *l);
void dplink_set_table(struct dplink *l, uint64_t version, uint64_t digest, dplink_text_fn text,
		      void *arg);

/* The socket to poll (or -1) and for what (POLLIN, and POLLOUT while a request is
 * partly sent). */
int dplink_fd(const struct dplink *l);
short dplink_events(const struct dplink *l);
/* Poll reported `revents` on dplink_fd: send, receive, complete requests. */
void dplink_on_io(struct dplink *l, short revents);
/* Reconnect, probe and push when due, enforce deadlines. Returns the ms until it wants
 * to be called again. */
int dplink_tick(struct dplink *l);

/*
 * Queue an APPLY of `yaml` as `version` (dry run: built and checked, not published);
 * `yaml` must stay valid until `done` is called. 0, or -ENOTCONN when the dataplane is
 * not connected (nothing queued, `done` not called).
 */
int dplink_apply(struct dplink *l, uint64_t version, const char *yaml, bool dry_run,
		 dplink_apply_fn done, void *arg);
/* Queue an APPLY of the current table (dplink_set_table) now, after a change. 0,
 * -ENOTCONN, -ENODATA (no table: version 0). */
int dplink_push(struct dplink *l, dplink_apply_fn done, void *arg);
/*
 * Queue a DELTA (docs/control.md, "Changes as deltas"): the `n_ops` operations taking the
 * table `base` to `version`, whose digest is `digest` (dry run: built and checked, not
 * published). The dataplane refuses it with -ESTALE, changing nothing, unless `base` is
 * in force there. 0, -ENOTCONN, -ENOMEM, -EINVAL (no operations, or too many).
 */
int dplink_delta(struct dplink *l, uint64_t base, uint64_t version, uint64_t digest,
		 const struct rd_op *ops, uint32_t n_ops, bool dry_run, dplink_apply_fn done,
		 void *arg);
/* Queue a STATUS: `done` gets the stats JSON. 0 or -ENOTCONN. */
int dplink_status(struct dplink *l, dplink_status_fn done, void *arg);

/* Whether no request is queued or in flight (a caller waiting synchronously loops on
 * dplink_on_io / dplink_tick until it is). */
bool dplink_idle(const struct dplink *l);

bool dplink_connected(const struct dplink *l);	    /* HELLO answered */
uint64_t dplink_dp_version(const struct dplink *l); /* valid while connected */
uint64_t dplink_boot_id(const struct dplink *l);
uint32_t dplink_pid(const struct dplink *l);
/* Whether the dataplane has the store's table in force (version and, when it says it,
 * digest). */
bool dplink_in_sync(const struct dplink *l);
const struct dplink_limits *dplink_limits(const struct dplink *l);
/* The last push's outcome and the last failure, for status output. */
const struct dplink_result *dplink_last_push(const struct dplink *l);
const char *dplink_last_error(const struct dplink *l);

#endif
