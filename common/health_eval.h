/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health model (docs/control.md, "Health model"), derived from samples of the
 * health segment (health_shm.h). One evaluator for both processes: aster-control
 * applies every rule (control/health.c), the dataplane's /aster/health telemetry the
 * rules it can apply to itself (dataplane/health_writer.c: the gauges). Pure: no
 * I/O, no clock (the caller passes CLOCK_MONOTONIC ns), unit-tested through
 * tests/unit/test_health.c.
 *
 *   down      a polling lcore's heartbeat unchanged for HEALTH_STALL_MS (and, in
 *             aster-control, the dataplane unreachable);
 *   degraded  a link down, a TX lcore's input ring more than HEALTH_RING_HIGH_PCT full,
 *             a feed recovering from its exchange's server (open ranges, packets held:
 *             docs/protocol.md §6.3), a counter rising: drops under a reason not listed
 *             as benign, NIC misses, a feed's gaps, ranges a feed's recovery failed to
 *             fill, a subscriber's drops (and, in aster-control, table drift);
 *   healthy   none of these.
 * "Rising" compares a counter with the previous sample; a rise keeps its reason for
 * HEALTH_HOLD_MS so that a reader polling less often than the sampler still sees it.
 */
#ifndef ASTER_HEALTH_EVAL_H
#define ASTER_HEALTH_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "health_shm.h"

#define HEALTH_HOLD_MS	   2000
#define HEALTH_MAX_REASONS 64
#define HEALTH_REASON_LEN  160

enum health_state {
	HEALTH_HEALTHY = 0,
	HEALTH_DEGRADED = 1,
	HEALTH_DOWN = 2,
};

/* A state with the reasons behind it, worst state first reached wins. */
struct health_verdict {
	enum health_state state;
	uint32_t n_reasons;
	char reasons[HEALTH_MAX_REASONS][HEALTH_REASON_LEN];
};

/* One watched counter: its last value and when it last rose. */
struct health_watch {
	char name[HEALTH_NAME];
	uint64_t value;
	uint64_t rose_ns; /* 0: never rose since tracking began */
	uint64_t rise;	  /* sum of rises while the reason has been held */
};

/* What the evaluator remembers between samples of one dataplane (one boot id). */
struct health_eval {
	uint64_t boot_id;
	struct health_beat {
		uint32_t lcore_id;
		uint64_t heartbeat;
		uint64_t changed_ns; /* when it last moved; 0: not seen yet */
	} beats[HEALTH_MAX_LCORES];
	struct health_watch drops[HEALTH_MAX_DROPS];
	struct health_watch gaps[HEALTH_MAX_FEEDS];
	struct health_watch recovery_gaps[HEALTH_MAX_FEEDS];
	struct health_watch missed[HEALTH_MAX_PORTS];
	struct health_watch *subs; /* [HEALTH_MAX_SUBS], NULL: subscriber drops not watched */
};

/* 0, or -ENOMEM. `watch_subs`: follow every subscriber's drops (HEALTH_MAX_SUBS
 * watches). */
int health_eval_init(struct health_eval *e, bool watch_subs);
void health_eval_fini(struct health_eval *e);

const char *health_state_name(enum health_state st);
void health_verdict_clear(struct health_verdict *v);
/* Raise the state to at least `st` and add one reason (dropped past HEALTH_MAX_REASONS). */
void health_verdict_add(struct health_verdict *v, enum health_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A new sample taken at `now_ns`: heartbeats that moved are noted; a new boot id (the
 * dataplane restarted, its counters from zero) forgets everything tracked. */
void health_eval_track(struct health_eval *e, const struct health_shm *s, uint64_t now_ns);
/* The gauges, as of `now_ns`: stalled lcores (down), full rings and links down
 * (degraded). */
void health_eval_gauges(const struct health_eval *e, const struct health_shm *s, uint64_t now_ns,
			struct health_verdict *v);
/* Rising counters (degraded); moves the watches to this sample. `benign(arg, reason)`
 * says which drop reasons are normal on a shared segment. */
void health_eval_counters(struct health_eval *e, const struct health_shm *s, uint64_t now_ns,
			  bool (*benign)(void *arg, const char *reason), void *arg,
			  struct health_verdict *v);

#endif
