/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage (tx.c): drain the rings from the RX lcores and burst the frames out of
 * their ports, recording each frame's in-appliance latency (latency.h) just before.
 * A TX queue that does not take everything is retried up to `tries` times, then the
 * rest is dropped and counted per subscriber (tx_full); `tries` 0 retries until the
 * PMD takes everything (lossless replay). The lcore driver chooses (lcore.h, policy).
 *
 * Who writes what: [init] the main lcore before launch, read-only afterwards; [tx] the
 * TX lcore that owns the state, once launched (other threads read its counters and
 * latency histogram with relaxed loads). Fields are touched only in tx.c.
 */
#ifndef ASTER_TX_H
#define ASTER_TX_H

#include <stdint.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "latency.h"
#include "stats.h"

#define TX_BURST_MAX 512 /* largest profile burst */
#define TX_MAX_PORTS STATS_MAX_PORTS

struct tx_params {
	unsigned int lcore_id;
	uint32_t index;		       /* among TX lcores */
	uint16_t burst;		       /* ring dequeue burst (profile) */
	uint32_t max_subs;	       /* subscriber slots: per-subscriber drop counters */
	uint16_t n_rings;	       /* one per RX lcore */
	struct rte_ring *const *rings; /* [n_rings] */
	unsigned int tries;	       /* TX bursts before dropping the rest; 0: until taken */
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
	/* [tx] */
	uint16_t n_pend[TX_MAX_PORTS];
	struct rte_mbuf *pend[TX_MAX_PORTS][TX_BURST_MAX];
	struct stats_block *st;
	struct latency_hist lat; /* RX stamp -> rte_eth_tx_burst */
};

/* NULL with errno set; nothing is left allocated on failure. */
struct tx_lcore *tx_create(const struct tx_params *p);
/* Frames still pending go back to their pool. */
void tx_free(struct tx_lcore *tx);
/* Before launch: this lcore sends on `port_id` (queue 0). 0, or -ENOSPC. */
int tx_add_port(struct tx_lcore *tx, uint16_t port_id);

unsigned int tx_lcore_id(const struct tx_lcore *tx);
const struct stats_block *tx_counters(const struct tx_lcore *tx);
const struct latency_hist *tx_latency(const struct tx_lcore *tx);

/* One turn: every ring once, grouped by port, bursts out. */
void tx_poll(struct tx_lcore *tx);
/* Housekeeping: `turns` more loop turns for the heartbeat (stats_block.iterations). */
void tx_heartbeat(struct tx_lcore *tx, uint64_t turns);

#endif
