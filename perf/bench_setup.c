/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bench_setup.h"
#include "dp.h"
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
	p->history_mb = 1 << 20; /* --history sizes EAL's memory instead (bench_memory_mb) */
	p->max_subscribers = max_subs;
}

int bench_dp_start(struct bench_dp *d, const char *yaml, const uint16_t *rx_ports,
		   uint16_t n_rx_ports, struct rte_mempool **rx_pool_out, char *err, size_t errlen)
{
	struct table_apply_result res;
	struct routing_config *cfg;
	int rc;

	cfg = routing_config_parse(yaml, strlen(yaml), "bench.yaml", err, errlen);
	if (cfg == NULL)
		return -errno;
	rc = port_pools_create(&d->pools, &d->prof, PUB_FRAME_MAX(RC_MAX_PAYLOAD_DEF), err, errlen);
	if (rc != 0)
		return rc;
	if (rx_pool_out != NULL)
		*rx_pool_out = d->pools.rx;
	if (d->requests) {
		d->req_ring = rte_ring_create("bench_req", BENCH_REQ_RING, (int)rte_socket_id(),
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		d->out_ring = rte_ring_create("bench_out", BENCH_OUT_RING, (int)rte_socket_id(),
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		rc = d->req_ring && d->out_ring
			 ? rte_eth_from_rings("bench_out0", &d->req_ring, 1, &d->out_ring, 1,
					      rte_socket_id())
			 : -1;
		if (rc < 0) {
			snprintf(err, errlen, "request port: %s", rte_strerror(rte_errno));
			return -ENOMEM;
		}
		d->tx_port = (uint16_t)rc;
		d->ports.out_receive = true;
		rc = port_start(d->tx_port, 1, 1, &d->prof, d->pools.rx, err, errlen);
	} else {
		rc = port_create_tx(0, "net_null", NULL, &d->tx_port, err, errlen);
		if (rc == 0)
			rc = port_start(d->tx_port, 0, 1, &d->prof, NULL, err, errlen);
	}
	if (rc != 0)
		return rc;
	d->ports.n_in = n_rx_ports;
	for (uint16_t i = 0; i < n_rx_ports; i++)
		d->ports.in[i] = rx_ports[i];
	d->ports.n_out = 1;
	snprintf(d->ports.out[0].name, sizeof(d->ports.out[0].name), "out0");
	d->ports.out[0].port_id = d->tx_port;
	d->map = lcore_map_create(&(struct lcore_map_cfg){.prof = &d->prof,
							  .policy = live_mode.policy,
							  .ports = &d->ports,
							  .tx_pool = d->pools.tx,
							  .max_subs = d->prof.max_subscribers},
				  err, errlen);
	if (d->map == NULL)
		return -errno;
	d->table = table_create(d->map, d->prof.max_subscribers, NULL);
	if (d->table == NULL) {
		snprintf(err, errlen, "out of memory for the routing table");
		return -ENOMEM;
	}
	rc = table_apply(d->table, cfg, 1, false, &res, err, errlen);
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
	table_free(d->table);
	lcore_map_free(d->map);
	for (int i = 0; i < 2; i++) {
		struct rte_ring *r = i ? d->out_ring : d->req_ring;
		void *m;

		while (r != NULL && rte_ring_sc_dequeue(r, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(r);
	}
	port_pools_free(&d->pools);
}

uint64_t bench_deliveries(const struct bench_dp *d)
{
	uint64_t n = 0;

	for (uint32_t s = 0; s < d->prof.max_subscribers; s++) {
		struct counter_sub t;

		lcore_map_sub_counters(d->map, s, &t);
		n += t.messages;
	}
	return n;
}

/* Every subscriber's counters of the table in force, added up. */
void bench_subs_sum(const struct bench_dp *d, struct counter_sub *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t s = 0; s < table_config(d->table)->n_subs; s++) {
		struct counter_sub c;

		table_sub_counters(d->table, s, &c);
#define X(n, help) t->n += c.n;
		COUNTER_SUB(X)
#undef X
	}
}

uint64_t bench_feed_messages(const struct bench_dp *d)
{
	uint64_t n = 0;

	for (uint32_t f = 0; f < table_config(d->table)->n_feeds; f++) {
		struct counter_feed t;

		table_feed_counters(d->table, f, &t);
		n += t.messages;
	}
	return n;
}
