/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control server (live mode), off the polling cores: one thread serves
 * the control socket (common/ctl_proto.h: HELLO, APPLY, STATUS) for aster-control. It
 * is the table thread: APPLY is table_apply, dry runs included; STATUS is the stats.json
 * object (report.h) with the table version and log. Between requests, and at least
 * every HEALTH_PERIOD_MS, it runs the mode's periodic work (live.c: the health segment,
 * IGMP).
 */
#ifndef ASTER_CTL_H
#define ASTER_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ctl;
struct lcore_map;
struct table;

struct ctl_hooks {
	/* On the control thread, every turn of its loop; now_ns from CLOCK_MONOTONIC. */
	void (*tick)(void *arg, uint64_t now_ns);
	/* Add the mode's own keys to a STATUS reply's object. */
	void (*status)(void *arg, json_t *root);
	void *arg;
};

/* Listen on `sock_path` (replaced if stale) and start the thread. NULL with one line in
 * `err`. */
struct ctl *ctl_start(struct table *t, const struct lcore_map *m, const char *sock_path,
		      uint64_t boot_id, const struct ctl_hooks *hooks, char *err, size_t errlen);
/* Stop the thread, close the socket (and unlink it). */
void ctl_stop(struct ctl *c);

#endif
