/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lcore driver: the role map from the PMD profile, the polling loop, and
 * housekeeping. Stages (rx.c, tx.c) do not know where they run; this file decides
 * whether RX and TX share a core (small machines, CI) or not (bare metal).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>

#include "lcore.h"

/* Housekeeping (arbiter hold timeouts) every this many loop turns. */
#define LCORE_HOUSEKEEPING_MASK 1023

int lcore_main(void *arg)
{
	struct lcore_ctx *c = arg;
	uint64_t turns = 0;

	if (c->rx != NULL && c->rx->qsbr != NULL) {
		rte_rcu_qsbr_thread_register(c->rx->qsbr, c->rx->index);
		rte_rcu_qsbr_thread_online(c->rx->qsbr, c->rx->index);
	}
	while (!__atomic_load_n(c->stop, __ATOMIC_RELAXED)) {
		if (c->rx != NULL)
			rx_poll(c->rx);
		if (c->tx != NULL)
			tx_poll(c->tx);
		if ((++turns & LCORE_HOUSEKEEPING_MASK) == 0) {
			if (c->rx != NULL)
				rx_housekeeping(c->rx, rte_rdtsc());
			if (c->tx != NULL)
				stats_add(&c->tx->st->iterations, LCORE_HOUSEKEEPING_MASK + 1);
		}
	}
	if (c->rx != NULL && c->rx->qsbr != NULL) {
		rte_rcu_qsbr_thread_offline(c->rx->qsbr, c->rx->index);
		rte_rcu_qsbr_thread_unregister(c->rx->qsbr, c->rx->index);
	}
	return 0;
}

static void *zalloc(size_t n, unsigned int socket)
{
	return rte_zmalloc_socket(NULL, n, RTE_CACHE_LINE_SIZE, (int)socket);
}

static struct rx_lcore *rx_create(struct lcore_map *map, uint32_t index, unsigned int lcore_id,
				  char *err, size_t errlen)
{
	const struct routing_config *cfg = map->cfg;
	unsigned int socket = rte_lcore_to_socket_id(lcore_id);
	struct rx_lcore *lc = zalloc(sizeof(*lc), socket);
	uint32_t n_subs = cfg->n_subs ? cfg->n_subs : 1;
	uint32_t n_lines = 0;

	if (lc == NULL)
		goto nomem;
	lc->lcore_id = lcore_id;
	lc->index = index;
	lc->prof = map->prof;
	lc->cfg = cfg;
	lc->router_slot = &map->router;
	lc->qsbr = map->qsbr;
	lc->tx_pool = map->tx_pool;
	lc->replay = map->replay;
	lc->ts_offset = -1;
	if (rte_mbuf_dyn_rx_timestamp_register(&lc->ts_offset, &lc->ts_flag) != 0)
		lc->ts_offset = -1;
	rx_lcore_bind_ops(lc);

	lc->st = stats_block_create(cfg->n_subs);
	lc->ports = zalloc(sizeof(*lc->ports) * LCORE_MAX_PORTS, socket);
	for (uint32_t f = 0; f < cfg->n_feeds; f++)
		n_lines += cfg->feeds[f].n_lines;
	lc->lines = zalloc(sizeof(*lc->lines) * (n_lines ? n_lines : 1), socket);
	lc->feeds = zalloc(sizeof(*lc->feeds) * cfg->n_feeds, socket);
	lc->pubs = zalloc(sizeof(*lc->pubs) * n_subs, socket);
	lc->sub_tx = zalloc(sizeof(*lc->sub_tx) * n_subs, socket);
	lc->sub_port = zalloc(sizeof(*lc->sub_port) * n_subs, socket);
	lc->dirty = zalloc(n_subs, socket);
	lc->dirty_list = zalloc(sizeof(*lc->dirty_list) * n_subs, socket);
	lc->stage = zalloc(sizeof(*lc->stage) * map->n_tx, socket);
	if (!lc->st || !lc->ports || !lc->lines || !lc->feeds || !lc->pubs || !lc->sub_tx ||
	    !lc->sub_port || !lc->dirty || !lc->dirty_list || !lc->stage)
		goto nomem;
	lc->n_tx = map->n_tx;
	return lc;
nomem:
	snprintf(err, errlen, "out of memory for RX lcore %u state", lcore_id);
	return NULL;
}

static void rx_free(struct rx_lcore *lc)
{
	if (lc == NULL)
		return;
	for (uint16_t i = 0; i < lc->n_feeds; i++)
		router_locates_free(lc->feeds[i].locates);
	/* mbufs still held by a merge buffer or an arbiter go back to their pool */
	for (uint16_t i = 0; lc->ports != NULL && i < lc->n_ports; i++)
		for (uint16_t j = lc->ports[i].i_buf; j < lc->ports[i].n_buf; j++)
			rte_pktmbuf_free(lc->ports[i].buf[j]);
	stats_block_free(lc->st);
	rte_free(lc->ports);
	rte_free(lc->lines);
	rte_free(lc->feeds);
	rte_free(lc->pubs);
	rte_free(lc->sub_tx);
	rte_free(lc->sub_port);
	rte_free(lc->dirty);
	rte_free(lc->dirty_list);
	rte_free(lc->stage);
	rte_free(lc);
}

/* The subscriber's output frame fields (SPEC §3.6). */
static void rx_pub_init(struct rx_lcore *lc, const struct lcore_map *map, uint32_t s)
{
	const struct rc_subscriber *sub = &map->cfg->subs[s];
	const struct rc_port *port = &map->cfg->ports[sub->port];
	struct rte_ether_addr mac;

	if (rte_eth_macaddr_get(map->tx_port_ids[sub->port], &mac) != 0)
		memset(&mac, 0, sizeof(mac));
	struct publisher_dst d = {
	    .src_mac = mac.addr_bytes,
	    .dst_mac = sub->dst_mac,
	    .src_ip = port->src_ip,
	    .dst_ip = sub->dst_ip,
	    .src_port = port->src_port ? port->src_port : sub->dst_port,
	    .dst_port = sub->dst_port,
	    .session = sub->session,
	    .max_payload = sub->max_payload,
	};
	publisher_sub_init(&lc->pubs[s], &d);
}

int lcore_map_build(struct lcore_map *map, char *err, size_t errlen)
{
	const struct profile *prof = map->prof;
	const struct routing_config *cfg = map->cfg;
	unsigned int rx_ids[LCORE_MAX_RX], tx_ids[LCORE_MAX_TX];
	uint16_t feed_owner[256];

	map->n_rx = map->n_tx = 0;
	for (uint16_t i = 0; i < prof->n_lcores; i++) {
		const struct profile_lcore *pl = &prof->lcores[i];

		if ((pl->roles & PROFILE_ROLE_RX) && map->n_rx < LCORE_MAX_RX)
			rx_ids[map->n_rx++] = pl->id;
		if ((pl->roles & PROFILE_ROLE_TX) && map->n_tx < LCORE_MAX_TX)
			tx_ids[map->n_tx++] = pl->id;
	}
	if (map->n_rx == 0 || map->n_tx == 0) {
		snprintf(err, errlen, "%s: lcores: at least one rx and one tx role needed",
			 prof->path);
		return -EINVAL;
	}
	if (cfg->n_feeds > RTE_DIM(feed_owner)) {
		snprintf(err, errlen, "%s: feeds: at most %zu feeds", cfg->path,
			 RTE_DIM(feed_owner));
		return -EINVAL;
	}

	/* rings: one SP/SC ring per (RX lcore, TX lcore) */
	for (uint16_t r = 0; r < map->n_rx; r++)
		for (uint16_t t = 0; t < map->n_tx; t++) {
			char name[RTE_RING_NAMESIZE];

			snprintf(name, sizeof(name), "rx%u_tx%u", r, t);
			map->rings[r][t] = rte_ring_create(name, prof->ring_size,
							   rte_lcore_to_socket_id(tx_ids[t]),
							   RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (map->rings[r][t] == NULL) {
				snprintf(err, errlen, "ring %s: %s", name, rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}

	/* TX lcores: output ports round robin */
	for (uint16_t t = 0; t < map->n_tx; t++) {
		struct tx_lcore *tx = zalloc(sizeof(*tx), rte_lcore_to_socket_id(tx_ids[t]));

		if (tx == NULL || (tx->st = stats_block_create(cfg->n_subs)) == NULL) {
			rte_free(tx);
			snprintf(err, errlen, "out of memory for TX lcore %u", tx_ids[t]);
			return -ENOMEM;
		}
		tx->lcore_id = tx_ids[t];
		tx->index = t;
		tx->prof = prof;
		tx->replay = map->replay;
		tx->n_rings = map->n_rx;
		tx->rings = rte_zmalloc(NULL, sizeof(*tx->rings) * map->n_rx, 0);
		if (tx->rings == NULL) {
			map->tx[map->n_tx] = NULL;
			snprintf(err, errlen, "out of memory for TX lcore %u", tx_ids[t]);
			return -ENOMEM;
		}
		for (uint16_t r = 0; r < map->n_rx; r++)
			tx->rings[r] = map->rings[r][t];
		map->tx[t] = tx;
	}
	for (uint32_t p = 0; p < cfg->n_ports; p++) {
		struct tx_lcore *tx = map->tx[p % map->n_tx];

		tx->slot_of[map->tx_port_ids[p]] = tx->n_ports;
		tx->port_ids[tx->n_ports++] = map->tx_port_ids[p];
	}

	/* RX lcores; feeds spread round robin, except in replay (see header) */
	for (uint16_t r = 0; r < map->n_rx; r++) {
		map->rx[r] = rx_create(map, r, rx_ids[r], err, errlen);
		if (map->rx[r] == NULL)
			return -ENOMEM;
	}
	for (uint32_t f = 0; f < cfg->n_feeds; f++)
		feed_owner[f] = map->replay ? 0 : (uint16_t)(f % map->n_rx);
	for (uint16_t r = 0; r < map->n_rx; r++) {
		struct rx_lcore *lc = map->rx[r];

		for (uint32_t f = 0; f < cfg->n_feeds; f++) {
			const struct rc_feed *feed = &cfg->feeds[f];
			uint16_t slot = LCORE_FOREIGN;

			if (feed_owner[f] == r) {
				struct rx_feed *fd = &lc->feeds[lc->n_feeds];
				uint64_t hold_tsc =
				    map->replay ? 0 : rte_get_tsc_hz() / 1000000 * prof->hold_us;

				fd->feed = f;
				fd->lc = lc;
				fd->locates = router_locates_create(prof->max_subscribers);
				if (fd->locates == NULL) {
					snprintf(err, errlen,
						 "out of memory for the locate table of feed %s",
						 feed->name);
					return -ENOMEM;
				}
				arbiter_init(&fd->arb, (uint8_t)feed->n_lines, prof->hold_packets,
					     hold_tsc, &rx_arbiter_ops, fd);
				slot = lc->n_feeds++;
			}
			for (uint16_t l = 0; l < feed->n_lines; l++) {
				struct rx_line *ln = &lc->lines[lc->n_lines++];

				ln->group = feed->lines[l].group;
				ln->udp_port = feed->lines[l].port;
				ln->feed_slot = slot;
				ln->line = (uint8_t)l;
			}
		}
		for (uint32_t s = 0; s < cfg->n_subs; s++) {
			const struct rc_subscriber *sub = &cfg->subs[s];

			lc->sub_tx[s] = (uint16_t)(sub->port % map->n_tx);
			lc->sub_port[s] = map->tx_port_ids[sub->port];
			if (feed_owner[sub->feed] == r)
				rx_pub_init(lc, map, s);
		}
		for (uint16_t t = 0; t < map->n_tx; t++)
			lc->stage[t].ring = map->rings[r][t];
	}
	for (uint16_t i = 0; i < map->n_rx_ports; i++) {
		struct rx_lcore *lc = map->rx[map->replay ? 0 : i % map->n_rx];
		struct rx_port *p = &lc->ports[lc->n_ports++];

		p->port_id = map->rx_port_ids[i];
		p->expected = map->replay ? map->rx_expected[i] : UINT64_MAX;
	}

	/* contexts: one per worker lcore, with the stages the profile gives it */
	map->n_ctx = 0;
	for (uint16_t i = 0; i < prof->n_lcores; i++) {
		struct lcore_ctx *c = &map->ctx[map->n_ctx++];

		c->lcore_id = prof->lcores[i].id;
		c->stop = &map->stop;
		for (uint16_t r = 0; r < map->n_rx; r++)
			if (map->rx[r]->lcore_id == c->lcore_id)
				c->rx = map->rx[r];
		for (uint16_t t = 0; t < map->n_tx; t++)
			if (map->tx[t]->lcore_id == c->lcore_id)
				c->tx = map->tx[t];
		if (c->rx != NULL && c->tx != NULL)
			c->rx->local_tx = c->tx;
	}
	return 0;
}

int lcore_map_launch(struct lcore_map *map)
{
	__atomic_store_n(&map->stop, 0, __ATOMIC_RELEASE);
	for (uint16_t i = 0; i < map->n_ctx; i++) {
		int rc = rte_eal_remote_launch(lcore_main, &map->ctx[i], map->ctx[i].lcore_id);

		if (rc != 0) {
			lcore_map_stop(map);
			return rc;
		}
	}
	map->launched = true;
	return 0;
}

void lcore_map_stop(struct lcore_map *map)
{
	__atomic_store_n(&map->stop, 1, __ATOMIC_RELEASE);
	rte_eal_mp_wait_lcore();
	map->launched = false;
}

void lcore_map_free(struct lcore_map *map)
{
	for (uint16_t r = 0; r < map->n_rx; r++) {
		rx_free(map->rx[r]);
		map->rx[r] = NULL;
	}
	for (uint16_t t = 0; t < map->n_tx; t++) {
		struct tx_lcore *tx = map->tx[t];

		if (tx == NULL)
			continue;
		for (uint16_t s = 0; s < tx->n_ports; s++)
			for (uint16_t i = 0; i < tx->n_pend[s]; i++)
				rte_pktmbuf_free(tx->pend[s][i]);
		stats_block_free(tx->st);
		rte_free(tx->rings);
		rte_free(tx);
		map->tx[t] = NULL;
	}
	for (uint16_t r = 0; r < LCORE_MAX_RX; r++)
		for (uint16_t t = 0; t < LCORE_MAX_TX; t++) {
			struct rte_ring *ring = map->rings[r][t];
			void *m;

			if (ring == NULL)
				continue;
			while (rte_ring_sc_dequeue(ring, &m) == 0)
				rte_pktmbuf_free(m);
			rte_ring_free(ring);
			map->rings[r][t] = NULL;
		}
}
