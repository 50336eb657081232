/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RX stage (rx.c): burst in from the feed ports, decode (frame.c,
 * feed_moldudp64.c), arbitrate (arbiter.c), route (router.c) and frame (publisher.c),
 * then hand the finished frames to the TX lcores, one SP/SC ring per TX lcore, at the
 * end of every burst so no message waits for a timer (docs/protocol.md §3.6).
 *
 * Who writes what (docs/architecture.md, "Memory ownership"). Each field below is
 * tagged with its writer:
 *  [init]  the main lcore, in rx_create and before launch; read-only afterwards;
 *  [rx]    the RX lcore that owns the state, once launched; other threads read only
 *          the counters, with counter_read;
 *  [table] the table thread (table.c: the main lcore at start-up, then the live
 *          control thread), only for a feed or subscriber slot no RX lcore can reach:
 *          before the publish that makes it reachable (rx_feed_attach, rx_sub_init),
 *          or after the grace period that made it unreachable (rx_feed_detach).
 * Fields are read and written only in rx.c; other modules use the functions below.
 */
#ifndef ASTER_RX_H
#define ASTER_RX_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "arbiter.h"
#include "frame.h"
#include "history.h"
#include "profile.h"
#include "publisher.h"
#include "recovery.h"
#include "router.h"
#include "stats.h"

#include "../common/counter.h"

#define RX_BURST_MAX	512  /* largest profile burst */
#define RX_SPARE	64   /* output mbufs an RX lcore allocates ahead of use */
#define RX_FEED_LOG	1024 /* table versions remembered per feed */
#define RX_MAX_PORTS	STATS_MAX_PORTS
#define RX_TIMER_HZ	10000 /* rx_timers a second: recovery's and heartbeats' resolution */
#define RX_REQUESTS_MAX 16    /* recovery requests one feed sends per timer */
#define RX_HB_SCAN	64    /* streams one timer looks at for a heartbeat */

/* From which (session, sequence) on a feed was routed by which table version. */
struct rx_feed_log {
	uint64_t version;	/* router_state generation */
	uint64_t table_version; /* control plane's table version */
	uint64_t seq;
	uint8_t session[10];
};

/* A feed's upstream recovery settings as the table gives them (docs/protocol.md §6.3). */
struct rx_recovery_cfg {
	uint32_t gen; /* changes with every new setting; 0: never set */
	bool enabled; /* the feed has `recovery` */
	struct rc_recovery rc;
	uint16_t port_id; /* the RX port whose ip is source.ip: requests leave by its TX queue */
	struct frame_endpoint src, dst; /* requests: from the port's MAC and source, to server */
};

/*
 * A feed's upstream recovery, live mode only (docs/at-least-once.md, "Upstream
 * recovery"): the decisions (recovery.h) on the feed's arbiter, and the settings in
 * force. The table thread writes the settings not in force, then makes them the ones in
 * force with one release store of `active` (before the publish of its rule set, whose
 * grace period ends any reading of the others); the RX lcore applies them at its next
 * timer (rx_timers), keeping the open ranges.
 */
struct rx_recovery {
	struct recovery rec;	       /* [rx] (initialised by [table] before attach) */
	struct rx_recovery_cfg cfg[2]; /* [table] the one not active; then read by [rx] */
	uint32_t active;	       /* [table] release-stored; [rx] acquire */
	uint32_t applied;	       /* [rx] gen of the settings applied */
	uint16_t ip_id;		       /* [rx] of the request frames */
};

/*
 * A feed owned by an RX lcore: its arbiter and locate bindings, in a stable slot
 * across routing-table versions (slots.h). Created and freed by the table thread.
 */
struct rx_feed {
	uint32_t slot;				  /* [table] */
	struct rx_lcore *lc;			  /* [table] its owner */
	struct arbiter arb;			  /* [rx] (initialised by [table] before attach) */
	struct router_locates *locates;		  /* [rx] */
	COUNTER_FEED_RX(COUNTER_FIELD)		  /* [rx] common/counter.h */
	uint64_t line_packets[ARBITER_MAX_LINES]; /* [rx] frames per line: silence watch */
	/* The table log: entry i says messages from (session, seq) on were routed by
	 * `version`. [rx] writes the entry first, then n_log with release; the table
	 * thread reads n_log with acquire, then the entries. */
	uint64_t log_version;		     /* [rx] version of the last entry, 0 = none */
	uint64_t n_log;			     /* [rx] */
	struct rx_feed_log log[RX_FEED_LOG]; /* [rx] */
	struct rx_recovery *rec; /* [table] live mode: upstream recovery; NULL in replay */
};

/* Where finished frames for one TX lcore wait until the end of the burst. */
struct rx_stage {
	struct rte_ring *ring; /* [init] SP/SC: this lcore produces, one TX lcore consumes */
	uint16_t n;	       /* [rx] */
	struct rte_mbuf *pkts[RX_BURST_MAX]; /* [rx] */
};

/* What to do with frames a full RX -> TX ring does not take (lcore.h, the policy). */
enum rx_full {
	RX_FULL_DROP, /* drop and count them per subscriber (ring_full): live traffic */
	RX_FULL_WAIT, /* hold the input back until the TX lcore made room: lossless replay */
};

struct tx_lcore;

/* What rx_create needs; the lcore driver (lcore.c) fills it. */
struct rx_params {
	unsigned int lcore_id;
	uint32_t index; /* among RX lcores: Hyperscan scratch and RCU thread id */
	const struct profile *prof;
	struct router_state **router_slot; /* the rule set in force (router_publish) */
	struct rte_rcu_qsbr *qsbr;
	struct rte_mempool *tx_pool;
	uint32_t max_subs;	       /* subscriber slots */
	uint16_t n_tx;		       /* TX lcores: one ring each */
	struct rte_ring *const *rings; /* [n_tx] */
	enum rx_full full;
	uint64_t hold_tsc; /* arbiters' hold time limit in TSC cycles, 0 = none */
};

struct rx_lcore {
	/* [init] */
	unsigned int lcore_id;
	uint32_t index;
	const struct profile *prof;
	struct router_state **router_slot;
	struct rte_rcu_qsbr *qsbr;
	struct rte_mempool *tx_pool;
	enum rx_full full;
	uint64_t hold_tsc;
	int lat_off; /* latency stamp offset in output mbufs (latency.h), -1: none */
	uint32_t max_subs;
	uint16_t n_ports;
	uint16_t ports[RX_MAX_PORTS];
	uint32_t port_ip[RX_MAX_PORTS];	   /* the profile's `ip`: ARP is answered for it */
	uint8_t port_mac[RX_MAX_PORTS][6]; /* source of the frames the lcore sends on it */
	uint64_t timer_tsc;		   /* period of rx_timers */
	uint16_t n_tx;
	struct tx_lcore *local_tx; /* TX stage on the same lcore, polled while waiting */
	struct publisher_ops pub_ops;

	/* [rx] */
	const struct router_state *rs; /* read at the top of the current turn */
	uint64_t rx_tsc;	       /* TSC of the current RX burst: stamped into frames */
	uint16_t n_spare;
	struct rte_mbuf *spare[RX_SPARE]; /* output mbufs allocated ahead (rx.c) */
	uint32_t n_dirty;
	uint8_t *dirty;		  /* [max_subs] subscriber has an open packet in dirty_list */
	uint32_t *dirty_list;	  /* [max_subs] */
	struct rx_stage *stage;	  /* [n_tx] */
	struct stats_block *st;	  /* this lcore's counters */
	uint64_t timer_due;	  /* next rx_timers */
	uint32_t hb_feed, hb_sub; /* where the heartbeat scan goes on (feed, its subscriber) */
	uint32_t ending;	  /* any thread: the linger began (rx_end_session) */
	uint64_t end_tsc;	  /* when this lcore saw it, 0: not yet */

	/* [table] for slots no RX lcore can reach, then [rx] */
	struct rx_feed *feed_by_slot[ROUTER_MAX_FEED_SLOTS]; /* NULL: not ours */
	struct publisher_sub *pubs;			     /* [max_subs] per subscriber slot */
	uint16_t *sub_tx;   /* [max_subs] TX lcore index serving its port */
	uint16_t *sub_port; /* [max_subs] DPDK port id of its port */
	uint64_t *hb_tsc;   /* [max_subs] heartbeat_ms in TSC cycles, 0: none (§6.1) */
	/* [max_subs] the stream's history (§6.2), NULL: none; [table] replaces it while the
	 * stream runs (release store), [rx] writes what it points to */
	struct history **hist;
};

/* Lifetime (main lcore). NULL with errno set; nothing is left allocated on failure. */
struct rx_lcore *rx_create(const struct rx_params *p);
/* Its feeds (held packets back to their pool), spare mbufs and state. */
void rx_free(struct rx_lcore *lc);
/* Before launch: poll `port_id` (queue 0), whose address is `ip` (0: none). 0, or
 * -ENOSPC past RX_MAX_PORTS. The lcore owns the port's TX queue 0 (port.h). */
int rx_add_port(struct rx_lcore *lc, uint16_t port_id, uint32_t ip);
/* Whether this lcore polls `port_id`. */
bool rx_polls_port(const struct rx_lcore *lc, uint16_t port_id);
/* Before launch: RX and TX stages share this lcore; a wait polls `tx`. */
void rx_share_lcore(struct rx_lcore *lc, struct tx_lcore *tx);

/* Read-only views for the driver and the readers of counters. */
unsigned int rx_lcore_id(const struct rx_lcore *lc);
uint32_t rx_index(const struct rx_lcore *lc);
const struct stats_block *rx_counters(const struct rx_lcore *lc);
/* The ports this lcore polls: `*n` of them. */
const uint16_t *rx_ports(const struct rx_lcore *lc, uint16_t *n);

/* Feed runtimes (table thread). rx_feed_create: NULL with errno set. */
struct rx_feed *rx_feed_create(struct rx_lcore *lc, uint32_t slot, uint8_t n_lines);
void rx_feed_attach(struct rx_lcore *lc, struct rx_feed *fd);	    /* before the publish */
struct rx_feed *rx_feed_detach(struct rx_lcore *lc, uint32_t slot); /* after the grace */
/* After a second grace period (housekeeping walks every attached feed): held packets go
 * back to their pool; returns the messages they carried. */
uint64_t rx_feed_free(struct rx_feed *fd);
/* The feed in slot `slot` of this lcore, NULL if none. */
const struct rx_feed *rx_feed_at(const struct rx_lcore *lc, uint32_t slot);
/* Counters and table log of a feed, from another thread. */
void rx_feed_counters(const struct rx_feed *fd, struct counter_feed *c);
uint64_t rx_feed_line_packets(const struct rx_feed *fd, uint8_t line);
void rx_feed_line_counters(const struct rx_feed *fd, uint8_t line, struct counter_line *c);
/* The last `max` (at most RX_FEED_LOG) entries of its table log, oldest first. */
uint32_t rx_feed_log(const struct rx_feed *fd, struct rx_feed_log *out, uint32_t max);

/* A subscriber's stream in slot `slot` (table thread, before the publish). */
void rx_sub_init(struct rx_lcore *lc, uint32_t slot, const struct publisher_dst *dst,
		 uint16_t tx_index, uint16_t port_id);
/* Its heartbeat period (ms, 0: none) and history (NULL: none), set or changed while the
 * stream runs (table thread). Returns the history it replaces. */
void rx_sub_heartbeat(struct rx_lcore *lc, uint32_t slot, uint32_t heartbeat_ms);
struct history *rx_sub_history(struct rx_lcore *lc, uint32_t slot, struct history *h);

/* The feed in slot `slot` of this lcore, for the table thread. */
struct rx_feed *rx_feed_of(struct rx_lcore *lc, uint32_t slot);
/* Live mode: a feed's upstream recovery (docs/protocol.md §6.3), table thread. Its state
 * (0, or -ENOMEM); then new settings (cfg->enabled false: none): on a feed no RX lcore
 * reaches yet they apply at once, otherwise at the owner's next timer. */
int rx_feed_recovery_alloc(struct rx_feed *fd);
void rx_feed_recovery(struct rx_feed *fd, const struct rx_recovery_cfg *cfg, bool reachable);
/* Open ranges and held packets of a feed's recovery (health), from another thread. */
void rx_feed_recovering(const struct rx_feed *fd, uint32_t *ranges, uint32_t *held);

/* Live shutdown (docs/protocol.md §6.1): streams send end-of-session packets in place of
 * heartbeats from now on (any thread). */
void rx_end_session(struct rx_lcore *lc);

/*
 * The polling lcore's side. A turn is rx_begin, input, rx_flush, rx_end: the rule set
 * is read once at rx_begin, so every message of a turn is routed by one version, and
 * rx_end reports the quiescent state that lets the table thread free the old one.
 */
void rx_begin(struct rx_lcore *lc, uint64_t now_tsc);
void rx_end(struct rx_lcore *lc);
/* Live input: one burst from each port, through the stage. */
void rx_poll_ports(struct rx_lcore *lc, uint64_t now_tsc);
/* Live timers, every timer_tsc within a turn (before rx_flush): the control frames of
 * its ports, upstream recovery's requests, heartbeats and end of session. */
void rx_timers(struct rx_lcore *lc, uint64_t now_tsc);

/* rx_own.c: what the lcore sends or answers besides the data path. */
struct frame_udp;
/* docs/protocol.md §6.2: an ARP request for the address of the port it arrived on is
 * answered. Consumes the mbuf when it returns true. */
bool rx_arp_answer(struct rx_lcore *lc, struct rte_mbuf *m);
/* docs/protocol.md §6.3: a frame to a feed's recovery source is the server's answer,
 * given to recovery.c. Consumes the mbuf when it returns true (false: no feed's source). */
bool rx_recovery_answer(struct rx_lcore *lc, struct rte_mbuf *m, const struct frame_udp *f,
			uint64_t now);
/* Frames the control thread handed to this lcore's ports (IGMP, port_rx.h). */
void rx_ctl_frames(struct rx_lcore *lc);
/* Each recovering feed: new settings applied, then the requests that are due sent. */
void rx_recovery_timers(struct rx_lcore *lc, uint64_t now_tsc);
/* One live turn: rx_begin, rx_poll_ports, rx_flush, rx_end. */
void rx_poll(struct rx_lcore *lc);
/* rte_eth_rx_burst on one of this lcore's ports, counted under rx_packets. */
uint16_t rx_burst(struct rx_lcore *lc, uint16_t port_id, struct rte_mbuf **pkts, uint16_t n);
/* The stage over frames already received: decode, arbitrate, route and frame;
 * consumes the mbufs (freed, or kept by an arbiter). */
void rx_packets(struct rx_lcore *lc, struct rte_mbuf **pkts, uint16_t n, uint64_t now_tsc);
/* End of burst: close open subscriber frames, push the staging areas to the rings. */
void rx_flush(struct rx_lcore *lc);
/* End of input: flush every arbiter (remaining gaps declared), then rx_flush, and give
 * the spare output mbufs back. */
void rx_drain(struct rx_lcore *lc);
/* Live housekeeping: declare the gaps whose hold time ran out. */
void rx_housekeeping(struct rx_lcore *lc, uint64_t now_tsc);
/* The polling loop starts (RCU registration), and stops (spare mbufs back too). */
void rx_online(struct rx_lcore *lc);
void rx_offline(struct rx_lcore *lc);

/* The stage's callbacks (rx.c), which rx_create and rx_feed_create install. */
extern const struct arbiter_ops rx_arbiter_ops;
extern const struct publisher_ops rx_publisher_ops;

#endif
