/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "bench_setup.h"
#include "publisher.h"

#include "../common/routing_config.h"

void bench_profile(struct profile *p, uint16_t rx_id, uint16_t rx_cpu, uint16_t tx_id,
		   uint16_t tx_cpu, uint32_t max_subs)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "perf/bench (built in)");
	snprintf(p->name, sizeof(p->name), "bench");
	snprintf(p->rx_driver, sizeof(p->rx_driver), "net_ring");
	snprintf(p->tx_driver, sizeof(p->tx_driver), "net_null");
	if (rx_id == tx_id) {
		p->n_lcores = 1;
		p->lcores[0] =
		    (struct profile_lcore){rx_id, rx_cpu, PROFILE_ROLE_RX | PROFILE_ROLE_TX};
	} else {
		p->n_lcores = 2;
		p->lcores[0] = (struct profile_lcore){rx_id, rx_cpu, PROFILE_ROLE_RX};
		p->lcores[1] = (struct profile_lcore){tx_id, tx_cpu, PROFILE_ROLE_TX};
	}
	p->burst = 32;
	p->rx_descs = 1024;
	p->tx_descs = 1024;
	p->ring_size = 65536;
	p->rx_mbufs = 16384;
	p->tx_mbufs = 131072;
	p->mbuf_cache = 512;
	p->hold_packets = 512;
	p->hold_us = 0;
	p->memory_mb = 1024;
	p->max_subscribers = max_subs;
}

int bench_dp_start(struct bench_dp *d, const char *yaml, const uint16_t *rx_ports,
		   uint16_t n_rx_ports, struct rte_mempool **rx_pool_out, char *err, size_t errlen)
{
	struct lcore_map *map = &d->map;
	struct lcore_apply_result res;
	struct routing_config *cfg;
	uint32_t n_rx = 0;
	int rc;

	cfg = routing_config_parse(yaml, strlen(yaml), "bench.yaml", err, errlen);
	if (cfg == NULL)
		return -errno;
	rc = port_pools_create(&d->pools, &d->prof, PUB_FRAME_MAX(RC_MAX_PAYLOAD_DEF), err, errlen);
	if (rc != 0)
		return rc;
	if (rx_pool_out != NULL)
		*rx_pool_out = d->pools.rx;
	rc = port_create_tx(0, "net_null", NULL, &d->tx_port, err, errlen);
	if (rc == 0)
		rc = port_start(d->tx_port, 0, 1, &d->prof, NULL, err, errlen);
	if (rc != 0)
		return rc;
	for (uint16_t i = 0; i < d->prof.n_lcores; i++)
		n_rx += (d->prof.lcores[i].roles & PROFILE_ROLE_RX) != 0;
	map->prof = &d->prof;
	map->replay = false;
	map->tx_pool = d->pools.tx;
	map->max_subs = d->prof.max_subscribers;
	map->n_rx_ports = n_rx_ports;
	for (uint16_t i = 0; i < n_rx_ports; i++)
		map->rx_port_ids[i] = rx_ports[i];
	map->n_tx_ports = 1;
	snprintf(map->tx_ports[0].name, sizeof(map->tx_ports[0].name), "out0");
	map->tx_ports[0].port_id = d->tx_port;
	map->qsbr = rte_zmalloc("bench_qsbr", rte_rcu_qsbr_get_memsize(n_rx), RTE_CACHE_LINE_SIZE);
	if (map->qsbr == NULL || rte_rcu_qsbr_init(map->qsbr, n_rx) != 0) {
		snprintf(err, errlen, "RCU QSBR variable: out of memory");
		return -ENOMEM;
	}
	rc = lcore_map_build(map, err, errlen);
	if (rc != 0)
		return rc;
	rc = lcore_map_apply(map, cfg, 1, false, &res, err, errlen);
	if (rc != 0) {
		routing_config_free(cfg);
		return rc;
	}
	d->build_ns = res.build_ns;
	return 0;
}

void bench_dp_stop(struct bench_dp *d)
{
	port_close(d->tx_port);
	lcore_map_free(&d->map);
	rte_free(d->map.qsbr);
	port_pools_free(&d->pools);
}

uint64_t bench_deliveries(const struct bench_dp *d)
{
	uint64_t n = 0;

	for (uint32_t s = 0; s < d->map.max_subs; s++) {
		struct counter_sub t;

		stats_slot_totals(&d->map, s, &t);
		n += t.messages;
	}
	return n;
}

uint64_t bench_feed_messages(const struct bench_dp *d)
{
	uint64_t n = 0;

	for (uint32_t f = 0; f < d->map.table->n_feeds; f++) {
		struct counter_feed t;

		stats_feed_totals(&d->map, f, &t);
		n += t.messages;
	}
	return n;
}
