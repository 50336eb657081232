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

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "arbiter.h"
#include "latency.h"
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
#define RX_SPARE	64 /* output mbufs an RX lcore allocates ahead of use */

struct rx_lcore;

#define RX_FEED_LOG 1024 /* table versions remembered per feed */

/*
 * A feed owned by an RX lcore: its arbiter and locate bindings. Lives in a stable slot
 * across routing-table versions (allocated and freed by the control side, off the
 * polling cores, around an RCU grace period).
 */
struct rx_feed {
	uint32_t slot;
	struct arbiter arb;
	struct router_locates *locates;
	COUNTER_FEED_RX(COUNTER_FIELD)		  /* common/counter.h */
	uint64_t line_packets[ARBITER_MAX_LINES]; /* frames per line: silence watch (mcast.c) */
	struct rx_lcore *lc;
	/* Which table version routed which part of the feed: entry i says messages from
	 * (session, seq) on were routed by `version`. Written by the RX lcore (entry first,
	 * then n_log with release), read by the control thread. */
	uint64_t log_version; /* version of the last entry, 0 = none */
	uint64_t n_log;
	struct rx_feed_log {
		uint64_t version;	/* router_state generation */
		uint64_t table_version; /* control plane's table version */
		uint64_t seq;
		uint8_t session[10];
	} log[RX_FEED_LOG];
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
	struct router_state **router_slot;
	struct rte_rcu_qsbr *qsbr;
	const struct router_state *rs; /* state read at the top of the current iteration */
	struct rte_mempool *tx_pool;
	bool replay;   /* lossless: hold input back instead of dropping on a full ring */
	int ts_offset; /* Rx timestamp dynfield offset, -1 when the PMD gives none */
	uint64_t ts_flag;

	uint16_t n_ports;
	struct rx_port *ports;
	struct rx_feed *feed_by_slot[ROUTER_MAX_FEED_SLOTS]; /* NULL: not ours */

	/* per subscriber slot; only those of owned feeds are used */
	struct publisher_sub *pubs;
	uint16_t *sub_tx;   /* TX lcore index serving the subscriber's port */
	uint16_t *sub_port; /* DPDK port id of the subscriber's port */
	uint8_t *dirty;	    /* has an open packet listed in dirty_list */
	uint32_t *dirty_list;
	uint32_t n_dirty;
	struct publisher_ops pub_ops;

	/*
	 * Output mbufs taken from tx_pool in bulk at the end of a burst, with their first
	 * lines prefetched for writing, so opening a packet neither calls the mempool nor
	 * waits for lines the TX lcore freed last (they come from its cache). Owned by
	 * this lcore until used; returned by rx_spare_release.
	 */
	uint16_t n_spare;
	struct rte_mbuf *spare[RX_SPARE];

	uint16_t n_tx;
	struct rx_stage *stage;	   /* [n_tx] */
	struct tx_lcore *local_tx; /* TX stage on the same lcore, polled while waiting */

	/* latency (latency.h): TSC when the current RX burst came in, written into every
	 * output frame closed during it at mbuf offset lat_off (-1: not stamped) */
	uint64_t rx_tsc;
	int lat_off;

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
	int lat_off;		 /* RX stamp field (latency.h), -1: none */
	struct latency_hist lat; /* RX stamp -> rte_eth_tx_burst, written by this lcore */
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
	const struct profile *prof;
	bool replay;
	struct router_state *router; /* the published slot (router_publish) */
	uint32_t n_scratch;	     /* Hyperscan scratch spaces per rule set */
	struct rte_rcu_qsbr *qsbr;
	struct rte_mempool *tx_pool;

	uint16_t n_rx_ports;
	uint16_t rx_port_ids[LCORE_MAX_PORTS];
	uint64_t rx_expected[LCORE_MAX_PORTS]; /* replay: pcap packet counts */
	uint16_t n_tx_ports;
	struct {
		char name[RC_NAME_MAX];
		uint16_t port_id;
	} tx_ports[LCORE_MAX_PORTS]; /* output ports by name (routing config `ports`) */
	uint32_t max_subs;	     /* subscriber slots */

	/*
	 * The table in force and its slot numbering, changed only by lcore_map_apply (main
	 * at start-up, then the control thread); `lock` orders that against readers on
	 * other threads (telemetry).
	 */
	pthread_mutex_t lock;
	struct routing_config *table;
	uint64_t table_version;	       /* control plane's number, 0 = local file */
	uint64_t generation;	       /* router_state.version of the table in force */
	struct router_state *prebuilt; /* from lcore_table_build, used by the next apply */
	uint32_t *feed_slot;	       /* [table->n_feeds] */
	uint32_t *sub_slot;	       /* [table->n_subs] */
	uint8_t feed_used[ROUTER_MAX_FEED_SLOTS];
	uint16_t feed_owner[ROUTER_MAX_FEED_SLOTS]; /* RX lcore index */
	uint8_t *sub_used;			    /* [max_subs] */
	struct counter_sub *sub_base;		    /* [max_subs] counters at slot reuse */

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
 * Build the RX and TX lcore state from the profile's roles: output ports spread over
 * the TX lcores, one ring per (RX, TX) pair, input ports over the RX lcores (in replay
 * all go to the first RX lcore, which merges the input files by time). The caller has
 * filled prof, replay, qsbr, tx_pool, max_subs and the ports. No table yet.
 * 0 or -errno with `err` filled.
 */
int lcore_map_build(struct lcore_map *map, char *err, size_t errlen);

struct lcore_apply_result {
	uint64_t build_ns;   /* rule set built: Hyperscan compile, tables */
	uint64_t publish_ns; /* pointer swap until every RX lcore was quiescent */
	uint32_t feeds_added, feeds_removed, subs_added, subs_removed;
	uint32_t regex_reused; /* feeds whose Hyperscan database was kept (no compile) */
};

/*
 * Make `cfg` the routing table, version `version`, while the lcores run (or before
 * they start): build the rule set off the polling cores, give new feeds and
 * subscribers slots (state of unchanged ones is kept: arbiter, locate bindings,
 * output sequence numbers), publish with one pointer swap, wait for every RX lcore's
 * quiescent state, then free what the old table alone used. Feeds spread over RX lcores
 * by slot (replay: all on the first). Takes ownership of `cfg` on success.
 * `dry_run` builds and validates only. 0 or -errno with one line in `err`.
 */
int lcore_map_apply(struct lcore_map *map, struct routing_config *cfg, uint64_t version,
		    bool dry_run, struct lcore_apply_result *res, char *err, size_t errlen);

/* Build (and so validate) the rule set of `cfg` without touching the map: used before
 * EAL starts, so a bad table is reported before any port starts. */
struct router_state *lcore_table_build(const struct routing_config *cfg, uint32_t n_scratch,
				       char *err, size_t errlen);
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
/* The RX stage over frames already received (rx_poll's body; benchmarks feed it
 * pre-built mbufs): decode, arbitrate, route and frame; consumes the mbufs. */
void rx_packets(struct rx_lcore *lc, struct rte_mbuf **pkts, uint16_t n, uint64_t now);
/* End of burst: close open subscriber packets, push staging to the rings. */
void rx_flush(struct rx_lcore *lc);
void rx_drain(struct rx_lcore *lc);	    /* replay end: flush arbiters, publishers, staging */
void rx_spare_release(struct rx_lcore *lc); /* the spare output mbufs back to tx_pool */
void rx_housekeeping(struct rx_lcore *lc, uint64_t now_tsc);

/* TX stage (tx.c) */
void tx_poll(struct tx_lcore *tx);

#endif
