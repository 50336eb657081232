/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The link from aster-control to aster-dataplane's control socket (common/ctl_proto.h).
 *
 * Design: request/response with blocking I/O bounded by timeouts, driven from
 * aster-control's one event loop. Connecting never blocks (a Unix socket either accepts
 * or refuses at once); a request waits at most `dataplane_timeout_ms` (an APPLY compiles
 * Hyperscan databases). Changes are serialised by construction: while an APPLY is in
 * flight no other request is served, which is what operators expect of a table edit.
 *
 * Sync rule (issue 3 §6): after every HELLO, every STATUS (sent every DPLINK_CHECK_MS as
 * a liveness and drift probe) and every table change, the full table is pushed when the
 * dataplane's table_version differs from the store's, or when its boot_id changed (it
 * restarted). A push the dataplane refused is not retried until the table or the
 * dataplane changes. While the dataplane is down the link reconnects with exponential
 * backoff (DPLINK_BACKOFF_MIN_MS doubling to DPLINK_BACKOFF_MAX_MS); meanwhile the
 * dataplane, if it is still running, keeps forwarding with its last table (fail-static).
 */
#ifndef ASTER_CONTROL_DPLINK_H
#define ASTER_CONTROL_DPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DPLINK_BACKOFF_MIN_MS 100
#define DPLINK_BACKOFF_MAX_MS 5000
#define DPLINK_CHECK_MS	      2000
#define DPLINK_HELLO_MS	      2000 /* HELLO and STATUS answer without compiling */

struct settings;
struct dplink;

/* What an APPLY came back with. */
struct dplink_result {
	int32_t status; /* 0, or -errno from the dataplane */
	uint64_t table_version;
	uint64_t build_ns;
	uint64_t publish_ns;
	uint64_t round_trip_ns; /* request sent until reply read, measured here */
	char error[256];	/* the dataplane's text when status != 0 */
};

/* The table the link keeps the dataplane in sync with; owned by the caller, who
 * updates it with dplink_set_table after each change. */
struct dplink *dplink_open(const struct settings *s);
void dplink_close(struct dplink *l);
void dplink_set_table(struct dplink *l, uint64_t version, const char *yaml);

/* The connected socket (to poll for input: only EOF or an ERROR is expected unasked),
 * or -1. */
int dplink_fd(const struct dplink *l);
/* The socket polled readable: read what came, disconnect on EOF or ERROR. */
void dplink_on_readable(struct dplink *l);

/* Reconnect when due, probe when due, push when out of sync. Returns the ms until it
 * wants to be called again. */
int dplink_tick(struct dplink *l);

/*
 * Push the current table now (after a change). 0 with `res` filled (res->status tells
 * whether the dataplane accepted it), or -ENOTCONN / -ETIMEDOUT / -EPROTO / ... when no
 * reply came (the link is then down and will resync on reconnect).
 */
int dplink_push(struct dplink *l, struct dplink_result *res);

/* Ask for the dataplane's statistics: 0 with *json the stats JSON text (malloc'd). */
int dplink_status(struct dplink *l, char **json);

bool dplink_connected(const struct dplink *l);
uint64_t dplink_dp_version(const struct dplink *l); /* valid while connected */
uint64_t dplink_boot_id(const struct dplink *l);
uint32_t dplink_pid(const struct dplink *l);
/* The last push's outcome and the last failure, for status output. */
const struct dplink_result *dplink_last_push(const struct dplink *l);
const char *dplink_last_error(const struct dplink *l);

#endif
