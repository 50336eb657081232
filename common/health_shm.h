/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health segment: a memory-mapped file the dataplane's control thread rewrites
 * every HEALTH_PERIOD_MS from the per-lcore counters (never touched by a polling core),
 * and that aster-control maps read-only. Self-describing (names travel with the
 * values) so the reader needs no dataplane headers. Consistency: a seqlock; the writer
 * makes `seq` odd, writes, makes it even; a reader copies and retries while `seq` was
 * odd or changed.
 */
#ifndef ASTER_HEALTH_SHM_H
#define ASTER_HEALTH_SHM_H

#include <stdint.h>

#include "counter.h"

#define HEALTH_MAGIC	  0x484c5453u /* "STLH" */
#define HEALTH_VERSION	  4u	      /* 4: feeds' lines; 3: port counters, recovery gauges */
#define HEALTH_PERIOD_MS  100
#define HEALTH_MAX_LCORES 32
#define HEALTH_MAX_PORTS  32
#define HEALTH_MAX_DROPS  32
#define HEALTH_MAX_FEEDS  64
#define HEALTH_MAX_SUBS	  4096
#define HEALTH_MAX_LINES  COUNTER_MAX_LINES
#define HEALTH_NAME	  32

/* Thresholds of the health model, shared by its two readers: aster-control (the full
 * model, control/health.h) and the dataplane's own /aster/health telemetry command. */
#define HEALTH_STALL_MS	     500 /* a polling lcore's heartbeat unchanged this long: down */
#define HEALTH_RING_HIGH_PCT 80	 /* a ring fuller than this: degraded */

#define HEALTH_ROLE_RX 0x1u
#define HEALTH_ROLE_TX 0x2u

struct health_lcore {
	uint32_t lcore_id;
	uint32_t roles;	    /* HEALTH_ROLE_* */
	uint64_t heartbeat; /* polling-loop turns; stalls when the lcore is stuck */
	uint64_t ring_used; /* TX lcores: entries waiting in the fullest of its input rings
			     * (a backlog is its consumer's); RX lcores: 0 */
	uint64_t ring_size; /* TX lcores: capacity of its input rings; RX lcores: 0 */
};

struct health_port {
	char name[HEALTH_NAME];
	uint32_t is_rx;	  /* 1 feed input, 0 subscriber output */
	uint32_t link_up; /* rte_eth_link_get_nowait */
	uint64_t packets; /* received (RX) or sent (TX) */
	uint64_t missed;  /* imissed + ierrors (RX), oerrors (TX) */
	struct counter_port c;
};

struct health_counter {
	char name[HEALTH_NAME]; /* drop reason, e.g. "ring_full" */
	uint64_t value;
};

struct health_line {
	char name[HEALTH_NAME];
	struct counter_line c;
};

struct health_feed {
	char name[HEALTH_NAME];
	struct counter_feed c;
	/* gauges (docs/protocol.md §6.3): ranges being recovered now, packets held */
	uint64_t recovery_open_ranges;
	uint64_t held_packets;
	uint32_t n_lines, reserved;
	struct health_line lines[HEALTH_MAX_LINES]; /* in the order of the feed's `lines` */
};

struct health_sub {
	char name[HEALTH_NAME];
	struct counter_sub c;
};

struct health_shm {
	uint32_t magic;	  /* HEALTH_MAGIC once initialised */
	uint32_t version; /* HEALTH_VERSION */
	uint64_t seq;	  /* seqlock, written by the dataplane control thread */
	uint64_t pid;
	uint64_t boot_id;
	uint64_t updated_ns; /* CLOCK_REALTIME of the last rewrite */
	uint64_t table_version;
	uint32_t n_lcores, n_ports, n_drops, n_feeds, n_subs, reserved;
	struct health_lcore lcores[HEALTH_MAX_LCORES];
	struct health_port ports[HEALTH_MAX_PORTS];
	struct health_counter drops[HEALTH_MAX_DROPS];
	struct health_feed feeds[HEALTH_MAX_FEEDS];
	struct health_sub subs[HEALTH_MAX_SUBS];
};

#endif
