/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Multicast membership of the feed groups, run by the control thread (live.c), never
 * on a polling core. DPDK sends no IGMP, so without this a switch with IGMP snooping
 * or a PIM router stops forwarding the feed once its membership times out. mcast.c:
 *  - follows the routing table's feed lines: the RX ports' multicast filters and
 *    rte_flow rules (port_rx_lines_set), and a membership report (profile igmp.version)
 *    for every group on every RX port at start and when a group is added (repeated once
 *    a second later, in case it is lost), a leave when one is removed;
 *  - repeats the reports every igmp.interval_s, and answers IGMP queries (the RX lcore
 *    counts them: lcore_map_igmp_queries) at most once a second;
 *  - warns once per silence when a joined line receives nothing for igmp.silence_warn_s
 *    ("feed F line L group G: joined but silent for N s"), and says when it resumes;
 *  - sends leaves at shutdown.
 * Frames are built by igmp.c and sent on each RX port's control TX queue (port.c).
 */
#ifndef ASTER_MCAST_H
#define ASTER_MCAST_H

#include <stdint.h>

#include <rte_mempool.h>

struct lcore_map;
struct mcast;
struct table;

/* For the table `t` in force on `map`'s input ports; IGMP frames from `pool`. NULL only
 * when out of memory. */
struct mcast *mcast_create(const struct table *t, const struct lcore_map *map,
			   struct rte_mempool *pool);
/* One control-thread turn (every HEALTH_PERIOD_MS); now_ns from CLOCK_MONOTONIC. */
void mcast_tick(struct mcast *m, uint64_t now_ns);
/* Leave every group, then free. */
void mcast_free(struct mcast *m);

/* Totals for stats (control thread). */
struct mcast_counters {
	uint64_t reports;   /* membership report frames sent */
	uint64_t leaves;    /* leave frames sent */
	uint64_t queries;   /* IGMP queries seen by the RX lcores */
	uint64_t answers;   /* times the reports were sent in answer to a query */
	uint64_t tx_failed; /* IGMP frames the port did not take (no mbuf, queue full) */
};
void mcast_counters(const struct mcast *m, struct mcast_counters *c);

#endif
