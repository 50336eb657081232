/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lcore driver (lcore.c): which worker lcore runs which stage (the profile's
 * roles), the rings between them, the RX lcores' view of the rule set in force and its
 * RCU grace periods, the polling loop and its housekeeping. Stages (rx.h, tx.h) do not
 * know where they run (docs/conventions.md §5); what differs between live traffic and
 * replay is one struct lcore_policy, chosen once per process (live.c, replay.c).
 *
 * Rules of the map (docs/architecture.md, "Lcore map"):
 *  - all lines of a feed go to one RX lcore, so arbitration needs no shared state;
 *    with `spread`, input ports and feeds go round robin over the RX lcores, without it
 *    every one goes to the first (replay merges its inputs by time there);
 *  - output ports go round robin over the TX lcores; a subscriber's frames always take
 *    the ring of its feed's RX lcore to its port's TX lcore, so they stay in order;
 *  - one SP/SC ring per (RX lcore, TX lcore).
 *
 * Who writes what: struct lcore_map is private to lcore.c. The main lcore creates it,
 * launches and stops it; the polling lcores write only their own stage state; the rule
 * set slot is written by lcore_map_publish (the table thread) and read by the RX
 * lcores. The read functions below may be called from any thread but a polling one.
 */
#ifndef ASTER_LCORE_H
#define ASTER_LCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_mempool.h>
#include <rte_ring.h>

#include "latency.h"
#include "profile.h"
#include "router.h"
#include "rx.h"
#include "stats.h"
#include "tx.h"

#include "../common/counter.h"
#include "../common/routing_config.h"

#define LCORE_MAX_RX	16
#define LCORE_MAX_TX	16
#define LCORE_MAX_PORTS STATS_MAX_PORTS

/* How the polling lcores behave: live traffic or replay (live.c, replay.c). */
struct lcore_policy {
	const char *name;
	bool spread;	    /* inputs and feeds round robin over RX lcores (else: the first) */
	bool hold_timeout;  /* arbiters bound a hold by the profile's hold_us */
	enum rx_full full;  /* a full RX -> TX ring: drop and count, or wait */
	unsigned int tries; /* TX bursts before the rest is dropped; 0: until taken */
	bool at_least_once; /* docs/protocol.md §6: recovery, histories, heartbeats, linger */
	/* One turn of an RX lcore's input (rx.h: rx_begin ... rx_end); `arg` as given
	 * to lcore_map_create. */
	void (*rx_turn)(struct rx_lcore *lc, void *arg);
	/* Every 1024 loop turns, on an RX lcore; NULL: none. */
	void (*rx_housekeeping)(struct rx_lcore *lc, uint64_t now_tsc);
};

/* The ports, as the mode opened them (port ids), before the map exists. */
struct lcore_ports {
	uint16_t n_in;
	uint16_t in[LCORE_MAX_PORTS];		    /* feed inputs, polled on queue 0 */
	char in_name[LCORE_MAX_PORTS][RC_NAME_MAX]; /* the profile's name, or "in<i>" */
	uint32_t in_ip[LCORE_MAX_PORTS];	    /* the profile's `ip`, 0: none (replay) */
	uint16_t n_out;
	struct {
		char name[RC_NAME_MAX]; /* routing table `ports` name */
		uint16_t port_id;
	} out[LCORE_MAX_PORTS];
	bool out_receive; /* outputs have an RX queue (live: requests and ARP, port.h) */
};

struct lcore_map_cfg {
	const struct profile *prof;
	const struct lcore_policy *policy;
	void *policy_arg;
	const struct lcore_ports *ports;
	struct rte_mempool *tx_pool;
	uint32_t max_subs; /* subscriber slots */
};

struct lcore_map;

/*
 * Create the RX and TX lcore state, the rings and the RCU variable from the profile's
 * roles (at least one RX and one TX). NULL with one line in `err`; whatever was
 * created is freed again.
 */
struct lcore_map *lcore_map_create(const struct lcore_map_cfg *cfg, char *err, size_t errlen);
void lcore_map_free(struct lcore_map *m);
/* Start the polling loops on their lcores. 0 or -errno (none left running). */
int lcore_map_launch(struct lcore_map *m);
/* Ask the loops to stop (async-signal-safe), or stop them and wait. */
void lcore_map_request_stop(struct lcore_map *m);
void lcore_map_stop(struct lcore_map *m);

/* The polling loop of one worker lcore (rte_eal_remote_launch entry point), for
 * benchmarks that launch lcores themselves: `ctx` from lcore_map_ctx. */
int lcore_main(void *ctx);
void *lcore_map_ctx(struct lcore_map *m, unsigned int lcore_id);

/* --- the table thread (table.c) --- */
uint16_t lcore_map_n_rx(const struct lcore_map *m);
/* The RX lcore that owns feed slot `slot`. */
struct rx_lcore *lcore_map_feed_lcore(const struct lcore_map *m, uint32_t slot);
/* Output port `name`: its port id and the index of the TX lcore serving it. 0 or -ENOENT. */
int lcore_map_output(const struct lcore_map *m, const char *name, uint16_t *port_id,
		     uint16_t *tx_index);
/* The rule set in force (only the table thread replaces it). */
const struct router_state *lcore_map_router(const struct lcore_map *m);
/* Make `rs` the rule set in force: one pointer store, then wait until every RX lcore
 * was quiescent, then free the previous one. */
void lcore_map_publish(struct lcore_map *m, struct router_state *rs);
/* Wait until every RX lcore was quiescent (a grace period), e.g. before freeing what
 * was detached from them. */
void lcore_map_synchronize(struct lcore_map *m);
/* Raw sums of subscriber slot `slot` over every lcore's counters. */
void lcore_map_sub_counters(const struct lcore_map *m, uint32_t slot, struct counter_sub *t);

/* The map's policy (live or replay). */
const struct lcore_policy *lcore_map_policy(const struct lcore_map *m);
/* TX lcore `i`, which serves output port `tx_index` (lcore_map_output). */
struct tx_lcore *lcore_map_tx(const struct lcore_map *m, uint16_t i);
/* Live shutdown: every stream sends end-of-session packets from now on (§6.1). */
void lcore_map_end_session(struct lcore_map *m);

/* --- read API: any thread but a polling one --- */
const struct lcore_ports *lcore_map_ports(const struct lcore_map *m);
const struct profile *lcore_map_profile(const struct lcore_map *m);

/* One polling role of one lcore (an lcore with both roles has two). */
struct lcore_health {
	unsigned int lcore_id;
	uint8_t roles;	    /* PROFILE_ROLE_RX or PROFILE_ROLE_TX */
	uint64_t heartbeat; /* loop turns (RX) or turns in housekeeping steps (TX) */
	uint64_t frames;    /* TX: frames sent or dropped (stats_block.tx_done); RX: 0 */
	uint64_t ring_used; /* TX: most entries waiting in one of its input rings */
	uint64_t ring_size; /* TX: capacity of its input rings; RX: 0 */
};
/* RX roles first, then TX; returns how many were written (at most `max`). */
uint32_t lcore_map_health(const struct lcore_map *m, struct lcore_health *out, uint32_t max);
/* Drops by reason summed over every lcore (the arbiters' reasons are per feed). */
void lcore_map_drops(const struct lcore_map *m, uint64_t drops[DROP__MAX]);
/* IGMP queries seen by the RX lcores (mcast.c answers them). */
uint64_t lcore_map_igmp_queries(const struct lcore_map *m);
/* Counters of port `port_id` (common/counter.h, COUNTER_PORT), over every lcore. */
void lcore_map_port_counters(const struct lcore_map *m, uint16_t port_id, struct counter_port *c);
/* Frames taken from input port `port_id`, over every RX lcore. */
uint64_t lcore_map_port_packets(const struct lcore_map *m, uint16_t port_id);
/* Frames handed to the TX lcores, and frames they sent or dropped. */
void lcore_map_frames(const struct lcore_map *m, uint64_t *enqueued, uint64_t *done);
/* In-appliance latency, every TX lcore's histogram added into `acc`. */
void lcore_map_latency(const struct lcore_map *m, struct latency_hist *acc);

/* --- benchmarks, which drive the stages themselves --- */
struct rx_lcore *lcore_map_rx(const struct lcore_map *m, uint16_t i);
struct rte_ring *lcore_map_ring(const struct lcore_map *m, uint16_t rx, uint16_t tx);

#endif
