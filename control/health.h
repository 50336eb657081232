/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health model (issue 3 §5). aster-control maps the dataplane's health segment
 * (common/health_shm.h) read-only, takes a seqlock-consistent copy every sample, and
 * derives one state with the reasons behind it:
 *
 *   down      dataplane unreachable (no control connection, health file missing, or
 *             not rewritten for HEALTH_STALE_MS), or a polling lcore stalled (its
 *             heartbeat unchanged for HEALTH_STALL_MS);
 *   degraded  a link down, drops rising under a reason not listed as benign, a
 *             subscriber dropping, NIC misses rising, gaps rising on a feed, a ring
 *             more than HEALTH_RING_HIGH_PCT full, or table drift (dataplane's version
 *             differs from the store's and is not healed yet);
 *   healthy   none of these.
 *
 * "Rising" compares each counter with the previous sample; a rise keeps its reason for
 * HEALTH_HOLD_MS so that a reader polling less often than the sampler still sees it.
 * Nothing here writes to the segment: the hot cores are never disturbed.
 */
#ifndef ASTER_CONTROL_HEALTH_H
#define ASTER_CONTROL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "health_shm.h"

#define HEALTH_STALE_MS	 1000
#define HEALTH_HOLD_MS	 2000
#define HEALTH_SAMPLE_MS 200 /* below HEALTH_STALL_MS, so a stall is seen in time */

enum health_state {
	HEALTH_HEALTHY = 0,
	HEALTH_DEGRADED = 1,
	HEALTH_DOWN = 2,
};

struct settings;
struct health;

/* What the sampler needs to know about the rest of aster-control. */
struct health_inputs {
	bool dp_connected;	/* the ctl_proto connection is up */
	uint64_t store_version; /* the table version aster-control holds */
	uint64_t dp_version;	/* the dataplane's, from its last reply (valid if connected) */
};

/* Never fails on a missing file (that is a health reason, not an error). NULL + errno. */
struct health *health_open(const struct settings *s);
void health_close(struct health *h);

/* Take a sample now: (re)map the file, copy it consistently, derive state and reasons. */
void health_sample(struct health *h, const struct health_inputs *in);

enum health_state health_state(const struct health *h);
const char *health_state_name(enum health_state st);

/* The latest consistent copy of the segment, or NULL when there is none. */
const struct health_shm *health_snapshot(const struct health *h);

/* {"state": "degraded", "reasons": [...], "store_version": N, "dataplane": {...}} */
json_t *health_json(const struct health *h);

/* health_json plus every counter of the segment (lcores, ports, feeds, subscribers,
 * drops): the body of GET /status. */
json_t *health_status_json(const struct health *h);

/* The Prometheus text exposition of the latest sample (malloc'd), or NULL. */
char *health_metrics(const struct health *h);

#endif
