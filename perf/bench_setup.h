/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane as the benchmarks run it: the shipped library's mempools, ports,
 * lcore map and routing table (the same calls as main.c), with a profile built in
 * code instead of read from pmd_config/.
 */
#ifndef ASTER_BENCH_SETUP_H
#define ASTER_BENCH_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "lcore.h"
#include "port.h"
#include "profile.h"
#include "table.h"

#define BENCH_REQ_RING 1024  /* requests waiting for the TX lcore */
#define BENCH_OUT_RING 65536 /* frames sent on the request port, until drained */

struct bench_dp {
	struct profile prof;
	struct port_pools pools;
	struct lcore_ports ports;
	struct lcore_map *map;
	struct table *table;
	uint16_t tx_port;
	uint64_t build_ns; /* routing table built: patterns compiled, tables */
	/* set before bench_dp_start: "out0" is a net_ring port instead, whose RX queue is
	 * req_ring (what a benchmark puts there reaches the TX lcore as requests, docs/
	 * protocol.md §6.2) and whose TX queue is out_ring (the benchmark drains it) */
	bool requests;
	struct rte_ring *req_ring, *out_ring;
};

/* Profile: RX on lcore `rx_id`, TX on `tx_id` (may be equal: one lcore, both roles). */
void bench_profile(struct profile *p, uint16_t rx_id, uint16_t rx_cpu, uint16_t tx_id,
		   uint16_t tx_cpu, uint32_t max_subs);

/*
 * Pools, one net_null output port "out0" (or the net_ring one of `requests`), the lcore map (the
 * live policy: RCU, drop on a full ring) with `n_rx_ports` input ports from `rx_ports`, and the
 * table from `yaml`. 0 or -errno with `err` filled.
 */
int bench_dp_start(struct bench_dp *d, const char *yaml, const uint16_t *rx_ports,
		   uint16_t n_rx_ports, struct rte_mempool **rx_pool_out, char *err, size_t errlen);
void bench_dp_stop(struct bench_dp *d);

/* Sum of the subscribers' delivered messages (every slot). */
uint64_t bench_deliveries(const struct bench_dp *d);
/* Every subscriber's counters of the table in force, added up. */
void bench_subs_sum(const struct bench_dp *d, struct counter_sub *t);
/* Sum of the feeds' unique in-order messages. */
uint64_t bench_feed_messages(const struct bench_dp *d);

#endif
