/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control server (live mode), off the polling cores: one thread serves
 * the control socket (common/ctl_proto.h: HELLO, APPLY, STATUS) for aster-control. It
 * is the table thread: APPLY is table_apply, dry runs included; STATUS is the stats.json
 * object (report.h) with the table version and log. Between requests, and at least
 * every HEALTH_PERIOD_MS, it runs the mode's periodic work (live.c: the health segment,
 * IGMP).
 *
 * Who may talk to it (docs/control.md, "Security model"): the socket is created mode
 * 0600 (0660 when the allow-list names another uid), and each connection's peer uid
 * (SO_PEERCRED) must be in the allow-list, the dataplane's own uid by default (the
 * units run aster-control as the same user). No peer can hold the thread: sockets are
 * non-blocking, each connection has its own buffers, a message half sent or a reply
 * left unread for CTL_STALL_MS, or a connection idle for CTL_IDLE_MS, is closed, and
 * when all CTL_MAX_CLIENTS slots are taken a new connection evicts the longest idle
 * (one that never said HELLO first). A socket at the path on which a live listener
 * answers is never taken over.
 */
#ifndef ASTER_CTL_H
#define ASTER_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CTL_MAX_CLIENTS 8
#define CTL_STALL_MS	5000  /* a message half received, or a reply half sent */
#define CTL_IDLE_MS	30000 /* nothing pending (aster-control probes every 2 s) */
#define CTL_MAX_ALLOW	16

struct ctl;
struct lcore_map;
struct table;

/* Peers allowed on the control socket; none listed: the dataplane's own uid. */
struct ctl_access {
	uint32_t uids[CTL_MAX_ALLOW];
	uint32_t n_uids;
};

struct ctl_hooks {
	/* On the control thread, every turn of its loop; now_ns from CLOCK_MONOTONIC. */
	void (*tick)(void *arg, uint64_t now_ns);
	/* Add the mode's own keys to a STATUS reply's object. */
	void (*status)(void *arg, json_t *root);
	void *arg;
};

/* Listen on `sock_path` (a stale socket of a previous run replaced; refused while a
 * listener answers there, or when the path is not a socket) and start the thread. NULL
 * with one line in `err`. */
struct ctl *ctl_start(struct table *t, const struct lcore_map *m, const char *sock_path,
		      const struct ctl_access *access, uint64_t boot_id,
		      const struct ctl_hooks *hooks, char *err, size_t errlen);
/* Stop the thread, close the socket (and unlink it, if it is still ours). */
void ctl_stop(struct ctl *c);

#endif
