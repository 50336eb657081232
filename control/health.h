/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-control's view of the dataplane's health (docs/control.md, "Health model"). It
 * maps the dataplane's health segment (common/health_shm.h) read-only, takes a
 * seqlock-consistent copy every sample, and applies the model's rules: the ones about
 * lcores, rings, links and rising counters are common/health_eval.h's, shared with the
 * dataplane's own /aster/health; this file adds what only aster-control can tell:
 *
 *   down      dataplane unreachable (no control connection, health file missing, or
 *             not rewritten for HEALTH_STALE_MS);
 *   degraded  table drift (the dataplane's version differs from the store's and is not
 *             healed yet).
 *
 * Nothing here writes to the segment: the hot cores are never disturbed.
 */
#ifndef ASTER_CONTROL_HEALTH_H
#define ASTER_CONTROL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "health_eval.h"
#include "health_shm.h"

#define HEALTH_STALE_MS	 1000
#define HEALTH_SAMPLE_MS 200 /* below HEALTH_STALL_MS, so a stall is seen in time */

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
