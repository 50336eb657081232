/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lcore roles and their state. The lcore driver (lcore.c) decides which stage runs on
 * which core; the stages (rx.c, tx.c) are plain functions over their explicit state.
 *
 * Memory ownership:
 *  - struct rx_lcore and everything it points to (feeds, arbiters, locate tables,
 *    publisher state, staging arrays, its stats block) is written only by that RX lcore
 *    once launched; the main lcore reads counters and the handshake flags.
 *  - struct tx_lcore likewise for its TX lcore.
 *  - rings: one SP/SC rte_ring per (RX lcore, TX lcore); the RX lcore is the only
 *    producer, the TX lcore the only consumer.
 *  - struct router_state: immutable, shared; replaced only through router_publish.
 */
#ifndef ASTER_LCORE_H
#define ASTER_LCORE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "arbiter.h"
#include "profile.h"
#include "publisher.h"
#include "router.h"
#include "stats.h"

#include "../common/routing_config.h"

#define LCORE_MAX_RX	16
#define LCORE_MAX_TX	16
#define LCORE_MAX_PORTS STATS_MAX_PORTS
#define LCORE_BURST_MAX 512
#define LCORE_FOREIGN	UINT16_MAX

struct rx_lcore;

/* A feed owned by an RX lcore: its arbiter and locate bindings. */
struct rx_feed {
	uint32_t feed; /* routing_config feed index */
	struct arbiter arb;
	struct router_locates *locates;
	uint64_t packets;   /* frames on any of its lines */
	uint64_t malformed; /* frames dropped whole (SPEC §3.2) */
	struct rx_lcore *lc;
};

/* A feed line as seen by one RX lcore. */
struct rx_line {
	uint32_t group;	    /* host order */
	uint16_t udp_port;  /* host order */
	uint16_t feed_slot; /* index into rx_lcore.feeds, LCORE_FOREIGN if not ours */
	uint8_t line;	    /* line index within its feed */
};

/* An RX port (queue 0) polled by this lcore. */
struct rx_port {
	uint16_t port_id;
	uint64_t expected;     /* replay: packets in its pcap; UINT64_MAX when live */
	uint16_t n_buf, i_buf; /* replay merge: mbufs read and not yet processed */
	struct rte_mbuf *buf[LCORE_BURST_MAX];
};

/* Where finished packets for one TX lcore wait until the end of the burst. */
struct rx_stage {
	struct rte_ring *ring;
	uint16_t n;
	struct rte_mbuf *pkts[LCORE_BURST_MAX];
};

struct tx_lcore;

struct rx_lcore {
	unsigned int lcore_id;
	uint32_t index; /* among RX lcores: Hyperscan scratch and RCU thread id */
	const struct profile *prof;
	const struct routing_config *cfg;
	struct router_state **router_slot;
	struct rte_rcu_qsbr *qsbr;
	const struct router_state *rs; /* state read at the top of the current iteration */
	struct rte_mempool *tx_pool;
	bool replay;   /* lossless: hold input back instead of dropping on a full ring */
	int ts_offset; /* Rx timestamp dynfield offset, -1 when the PMD gives none */
	uint64_t ts_flag;

	uint16_t n_ports;
	struct rx_port *ports;
	uint16_t n_lines;
	struct rx_line *lines;
	uint16_t n_feeds;
	struct rx_feed *feeds;

	/* per subscriber (routing_config index), only those of owned feeds are used */
	struct publisher_sub *pubs;
	uint16_t *sub_tx;   /* TX lcore index serving the subscriber's port */
	uint16_t *sub_port; /* DPDK port id of the subscriber's port */
	uint8_t *dirty;	    /* has an open packet listed in dirty_list */
	uint32_t *dirty_list;
	uint32_t n_dirty;
	struct publisher_ops pub_ops;

	uint16_t n_tx;
	struct rx_stage *stage;	   /* [n_tx] */
	struct tx_lcore *local_tx; /* TX stage on the same lcore, polled while waiting */

	/* replay handshake with the main lcore */
	uint32_t input_done; /* main -> rx: every input packet has been read */
	uint32_t drained;    /* rx -> main: arbiters flushed, staging pushed */

	struct stats_block *st;
};

struct tx_lcore {
	unsigned int lcore_id;
	uint32_t index;
	const struct profile *prof;
	bool replay;
	uint16_t n_rings;
	struct rte_ring **rings; /* [n_rings], one per RX lcore */
	uint16_t n_ports;
	uint16_t port_ids[LCORE_MAX_PORTS];
	uint16_t slot_of[RTE_MAX_ETHPORTS]; /* port id -> index in port_ids */
	uint16_t n_pend[LCORE_MAX_PORTS];
	struct rte_mbuf *pend[LCORE_MAX_PORTS][LCORE_BURST_MAX];
	struct stats_block *st;
};

/* What one EAL worker lcore runs. */
struct lcore_ctx {
	unsigned int lcore_id;
	struct rx_lcore *rx; /* NULL if no RX role */
	struct tx_lcore *tx; /* NULL if no TX role */
	volatile uint32_t *stop;
};

/*
 * The lcore map: which worker lcore runs which stage, the rings between them, and the
 * ports each polls. Built on the main lcore after the ports exist; the only object
 * main.c holds.
 */
struct lcore_map {
	const struct routing_config *cfg;
	const struct profile *prof;
	bool replay;
	struct router_state *router; /* the published slot (router_publish) */
	struct rte_rcu_qsbr *qsbr;
	struct rte_mempool *tx_pool;

	uint16_t n_rx_ports;
	uint16_t rx_port_ids[LCORE_MAX_PORTS];
	uint64_t rx_expected[LCORE_MAX_PORTS]; /* replay: pcap packet counts */
	uint16_t *tx_port_ids;		       /* [cfg->n_ports] */

	uint16_t n_rx, n_tx;
	struct rx_lcore *rx[LCORE_MAX_RX];
	struct tx_lcore *tx[LCORE_MAX_TX];
	struct rte_ring *rings[LCORE_MAX_RX][LCORE_MAX_TX];
	uint16_t n_ctx;
	struct lcore_ctx ctx[PROFILE_MAX_LCORES];
	uint32_t stop;
	bool launched;
};

/*
 * Build the RX and TX lcore state from the profile's roles: feeds spread over the RX
 * lcores (in replay all inputs and feeds go to the first RX lcore, which merges the
 * input files by time), output ports over the TX lcores, one ring per (RX, TX) pair.
 * The caller has filled cfg, prof, replay, router, tx_pool and the port ids.
 * 0 or -errno with `err` filled.
 */
int lcore_map_build(struct lcore_map *map, char *err, size_t errlen);
int lcore_map_launch(struct lcore_map *map);
/* Stop the polling loops and wait for them. */
void lcore_map_stop(struct lcore_map *map);
void lcore_map_free(struct lcore_map *map);

/* The polling loop of one worker lcore (rte_eal_remote_launch entry point). */
int lcore_main(void *arg);

/* RX stage (rx.c) */
extern const struct arbiter_ops rx_arbiter_ops;
void rx_lcore_bind_ops(struct rx_lcore *lc);
void rx_poll(struct rx_lcore *lc);
void rx_drain(struct rx_lcore *lc); /* replay end: flush arbiters, publishers, staging */
void rx_housekeeping(struct rx_lcore *lc, uint64_t now_tsc);

/* TX stage (tx.c) */
void tx_poll(struct tx_lcore *tx);

#endif
