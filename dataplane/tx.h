/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage (tx.c): drain the rings from the RX lcores and burst the frames out of
 * their ports, recording each frame's in-appliance latency (latency.h) just before.
 * A TX queue that does not take everything is retried up to `tries` times, then the
 * rest is dropped and counted per subscriber (tx_full); `tries` 0 retries until the
 * PMD takes everything (lossless replay). The lcore driver chooses (lcore.h, policy).
 *
 * It also serves what arrives on its output ports (docs/protocol.md §6.2): after the
 * live frames of a poll, at most TX_REQ_BURST frames per port, each answered by
 * retransmit.c with at most TX_ANSWER_CAP frames, so a request storm costs every poll
 * the same bounded work and never delays live frames by more.
 *
 * Who writes what: [init] the main lcore before launch, read-only afterwards; [tx] the
 * TX lcore that owns the state, once launched (other threads read its counters and
 * latency histogram with relaxed loads); [table] the table thread, as marked. Fields are
 * touched only in tx.c.
 */
#ifndef ASTER_TX_H
#define ASTER_TX_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "history.h"
#include "latency.h"
#include "retransmit.h"
#include "stats.h"
#include "token_bucket.h"

#define TX_BURST_MAX 512 /* largest profile burst */
#define TX_MAX_PORTS STATS_MAX_PORTS
/* Bounded work per poll for what arrives on output ports (docs/at-least-once.md, "Where
 * requests are served"): frames taken per port, answer frames per request. */
#define TX_REQ_BURST  4
#define TX_ANSWER_CAP 4

struct tx_params {
	unsigned int lcore_id;
	uint32_t index;		       /* among TX lcores */
	uint16_t burst;		       /* ring dequeue burst (profile) */
	uint32_t max_subs;	       /* subscriber slots: per-subscriber drop counters */
	uint16_t n_rings;	       /* one per RX lcore */
	struct rte_ring *const *rings; /* [n_rings] */
	unsigned int tries;	       /* TX bursts before dropping the rest; 0: until taken */
	struct rte_mempool *pool;      /* answer frames (the output pool) */
	struct rte_rcu_qsbr *qsbr;     /* reports its quiescent states here, NULL: none */
	uint32_t qsbr_id;
};

struct tx_lcore {
	/* [init] */
	unsigned int lcore_id;
	uint32_t index;
	uint16_t burst;
	unsigned int tries;
	int lat_off; /* RX stamp field (latency.h), -1: none */
	uint16_t n_rings;
	struct rte_ring **rings; /* [n_rings] */
	uint16_t n_ports;
	uint16_t port_ids[TX_MAX_PORTS];
	uint16_t slot_of[RTE_MAX_ETHPORTS]; /* port id -> index in port_ids */
	bool port_rx[TX_MAX_PORTS];	    /* the port has an RX queue this lcore polls */
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *qsbr;
	uint32_t qsbr_id;
	uint32_t max_subs;
	/* [table] publishes (release store), [tx] reads: the port's retransmission server,
	 * NULL: the port serves none; freed by the table thread after a grace period */
	struct retransmit_port *rt[TX_MAX_PORTS];
	/* [max_subs] [tx]; zeroed by [table] for a slot no TX lcore can reach yet */
	struct token_bucket *bucket;
	struct history_hint *hint;
	/* [tx] */
	uint16_t n_stash;
	struct rte_mbuf *stash[TX_ANSWER_CAP]; /* answer mbufs allocated ahead */
	uint16_t n_pend[TX_MAX_PORTS];
	struct rte_mbuf *pend[TX_MAX_PORTS][TX_BURST_MAX];
	struct stats_block *st;
	struct latency_hist lat; /* RX stamp -> rte_eth_tx_burst */
};

/* NULL with errno set; nothing is left allocated on failure. */
struct tx_lcore *tx_create(const struct tx_params *p);
/* Frames still pending go back to their pool. */
void tx_free(struct tx_lcore *tx);
/* Before launch: this lcore sends on `port_id` (queue 0), and polls its RX queue 0 when
 * `receives` (live outputs: requests and ARP, docs/protocol.md §6.2). 0, or -ENOSPC. */
int tx_add_port(struct tx_lcore *tx, uint16_t port_id, bool receives);

/* The polling loop starts (RCU registration), and stops (answer mbufs back too). */
void tx_online(struct tx_lcore *tx);
void tx_offline(struct tx_lcore *tx);

/*
 * Table thread. Port `port_id`'s retransmission server (NULL: none), which the caller
 * built (retransmit.h) with its subscribers' slots in `slots`: this fills in the
 * lcore's buckets, hints and counters. Returns the one it replaces, which the caller
 * frees once every TX lcore was quiescent (lcore_map_publish).
 */
struct retransmit_port *tx_retransmit_set(struct tx_lcore *tx, uint16_t port_id,
					  struct retransmit_port *p, const uint32_t *slots);
/* A subscriber slot no TX lcore can reach yet starts with a fresh bucket and hint. */
void tx_sub_reset(struct tx_lcore *tx, uint32_t slot);

unsigned int tx_lcore_id(const struct tx_lcore *tx);
const struct stats_block *tx_counters(const struct tx_lcore *tx);
const struct latency_hist *tx_latency(const struct tx_lcore *tx);

/* One turn: every ring once, grouped by port, bursts out. */
void tx_poll(struct tx_lcore *tx);
/* Housekeeping: `turns` more loop turns for the heartbeat (stats_block.iterations). */
void tx_heartbeat(struct tx_lcore *tx, uint64_t turns);

#endif
