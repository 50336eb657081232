/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lcore driver: the role map from the PMD profile, the polling loop, and
 * housekeeping. Stages (rx.c, tx.c) do not know where they run; this file decides
 * whether RX and TX share a core (small machines, CI) or not (bare metal).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
				counter_add(&c->tx->st->iterations, LCORE_HOUSEKEEPING_MASK + 1);
		}
	}
	if (c->rx != NULL)
		rx_spare_release(c->rx);
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
	unsigned int socket = rte_lcore_to_socket_id(lcore_id);
	struct rx_lcore *lc = zalloc(sizeof(*lc), socket);
	uint32_t n = map->max_subs;

	if (lc == NULL)
		goto nomem;
	lc->lcore_id = lcore_id;
	lc->index = index;
	lc->prof = map->prof;
	lc->router_slot = &map->router;
	lc->qsbr = map->qsbr;
	lc->tx_pool = map->tx_pool;
	lc->replay = map->replay;
	lc->ts_offset = -1;
	if (rte_mbuf_dyn_rx_timestamp_register(&lc->ts_offset, &lc->ts_flag) != 0)
		lc->ts_offset = -1;
	lc->lat_off = latency_dynfield_register(); /* -1: frames go unstamped */
	rx_lcore_bind_ops(lc);

	lc->st = stats_block_create(n);
	lc->ports = zalloc(sizeof(*lc->ports) * LCORE_MAX_PORTS, socket);
	lc->pubs = zalloc(sizeof(*lc->pubs) * n, socket);
	lc->sub_tx = zalloc(sizeof(*lc->sub_tx) * n, socket);
	lc->sub_port = zalloc(sizeof(*lc->sub_port) * n, socket);
	lc->dirty = zalloc(n, socket);
	lc->dirty_list = zalloc(sizeof(*lc->dirty_list) * n, socket);
	lc->stage = zalloc(sizeof(*lc->stage) * map->n_tx, socket);
	if (!lc->st || !lc->ports || !lc->pubs || !lc->sub_tx || !lc->sub_port || !lc->dirty ||
	    !lc->dirty_list || !lc->stage)
		goto nomem;
	lc->n_tx = map->n_tx;
	return lc;
nomem:
	snprintf(err, errlen, "out of memory for RX lcore %u state", lcore_id);
	return lc; /* partially built: the caller frees it with the map */
}

/* A feed's runtime, dropped off the polling cores (after a grace period, or at exit):
 * held packets go back to their pool undelivered. */
static void feed_free(struct rx_feed *fd)
{
	if (fd == NULL)
		return;
	arbiter_discard(&fd->arb);
	router_locates_free(fd->locates);
	rte_free(fd);
}

static void rx_free(struct rx_lcore *lc)
{
	if (lc == NULL)
		return;
	for (uint32_t i = 0; i < ROUTER_MAX_FEED_SLOTS; i++)
		feed_free(lc->feed_by_slot[i]);
	/* mbufs still held by a merge buffer go back to their pool */
	for (uint16_t i = 0; lc->ports != NULL && i < lc->n_ports; i++)
		for (uint16_t j = lc->ports[i].i_buf; j < lc->ports[i].n_buf; j++)
			rte_pktmbuf_free(lc->ports[i].buf[j]);
	stats_block_free(lc->st);
	rte_free(lc->ports);
	rte_free(lc->pubs);
	rte_free(lc->sub_tx);
	rte_free(lc->sub_port);
	rte_free(lc->dirty);
	rte_free(lc->dirty_list);
	rte_free(lc->stage);
	rte_free(lc);
}

int lcore_map_build(struct lcore_map *map, char *err, size_t errlen)
{
	const struct profile *prof = map->prof;
	unsigned int rx_ids[LCORE_MAX_RX], tx_ids[LCORE_MAX_TX];

	pthread_mutex_init(&map->lock, NULL);
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
	map->n_scratch = map->n_rx;
	map->sub_used = calloc(map->max_subs, 1);
	map->sub_base = calloc(map->max_subs, sizeof(*map->sub_base));
	if (map->sub_used == NULL || map->sub_base == NULL) {
		snprintf(err, errlen, "out of memory for %u subscriber slots", map->max_subs);
		return -ENOMEM;
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

		map->tx[t] = tx;
		if (tx == NULL || (tx->st = stats_block_create(map->max_subs)) == NULL ||
		    (tx->rings = rte_zmalloc(NULL, sizeof(*tx->rings) * map->n_rx, 0)) == NULL) {
			snprintf(err, errlen, "out of memory for TX lcore %u", tx_ids[t]);
			return -ENOMEM;
		}
		tx->lcore_id = tx_ids[t];
		tx->index = t;
		tx->prof = prof;
		tx->replay = map->replay;
		tx->lat_off = latency_dynfield_register();
		tx->n_rings = map->n_rx;
		for (uint16_t r = 0; r < map->n_rx; r++)
			tx->rings[r] = map->rings[r][t];
	}
	for (uint16_t p = 0; p < map->n_tx_ports; p++) {
		struct tx_lcore *tx = map->tx[p % map->n_tx];

		tx->slot_of[map->tx_ports[p].port_id] = tx->n_ports;
		tx->port_ids[tx->n_ports++] = map->tx_ports[p].port_id;
	}

	/* RX lcores: input ports round robin, except in replay (see lcore.h) */
	for (uint16_t r = 0; r < map->n_rx; r++) {
		map->rx[r] = rx_create(map, r, rx_ids[r], err, errlen);
		if (map->rx[r] == NULL || map->rx[r]->stage == NULL)
			return -ENOMEM;
		for (uint16_t t = 0; t < map->n_tx; t++)
			map->rx[r]->stage[t].ring = map->rings[r][t];
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

struct router_state *lcore_table_build(const struct routing_config *cfg, uint32_t n_scratch,
				       char *err, size_t errlen)
{
	return router_state_build(cfg, n_scratch, 0, err, errlen);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool same_lines(const struct rc_feed *a, const struct rc_feed *b)
{
	if (a->n_lines != b->n_lines)
		return false;
	for (uint16_t l = 0; l < a->n_lines; l++)
		if (a->lines[l].group != b->lines[l].group || a->lines[l].port != b->lines[l].port)
			return false;
	return true;
}

/* Same output stream: a subscriber keeps its slot (and its sequence numbers) across
 * tables only while everything that shapes its frames stays; pattern and type changes
 * keep the stream. */
static bool same_stream(const struct routing_config *ca, const struct rc_subscriber *a,
			const struct routing_config *cb, const struct rc_subscriber *b)
{
	return strcmp(a->name, b->name) == 0 &&
	       strcmp(ca->ports[a->port].name, cb->ports[b->port].name) == 0 &&
	       ca->ports[a->port].src_ip == cb->ports[b->port].src_ip &&
	       ca->ports[a->port].src_port == cb->ports[b->port].src_port &&
	       memcmp(a->dst_mac, b->dst_mac, 6) == 0 && a->dst_ip == b->dst_ip &&
	       a->dst_port == b->dst_port && strcmp(a->session, b->session) == 0 &&
	       a->max_payload == b->max_payload;
}

static int tx_port_index(const struct lcore_map *map, const char *name)
{
	for (uint16_t i = 0; i < map->n_tx_ports; i++)
		if (strcmp(map->tx_ports[i].name, name) == 0)
			return i;
	return -1;
}

/* The output frame fields of a subscriber (docs/protocol.md §3.6), set in its RX lcore's slot. */
static void sub_init(struct lcore_map *map, const struct routing_config *cfg, uint32_t s,
		     uint32_t slot, uint16_t owner)
{
	const struct rc_subscriber *sub = &cfg->subs[s];
	const struct rc_port *port = &cfg->ports[sub->port];
	int p = tx_port_index(map, port->name);
	struct rx_lcore *lc = map->rx[owner];
	struct rte_ether_addr mac;

	if (rte_eth_macaddr_get(map->tx_ports[p].port_id, &mac) != 0)
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
	publisher_sub_init(&lc->pubs[slot], &d);
	lc->sub_tx[slot] = (uint16_t)(p % map->n_tx);
	lc->sub_port[slot] = map->tx_ports[p].port_id;
	/* counters of a reused slot start from zero for its new subscriber */
	stats_slot_totals(map, slot, &map->sub_base[slot]);
}

int lcore_map_apply(struct lcore_map *map, struct routing_config *cfg, uint64_t version,
		    bool dry_run, struct lcore_apply_result *res, char *err, size_t errlen)
{
	const struct routing_config *old = map->table;
	uint8_t taken_feed[ROUTER_MAX_FEED_SLOTS] = {0}, new_feed[ROUTER_MAX_FEED_SLOTS] = {0};
	uint32_t *feed_slot = NULL, *sub_slot = NULL;
	uint8_t *new_sub = NULL, *taken_sub = NULL;
	struct router_state *rs = NULL;
	uint64_t t0 = now_ns(), t1;
	int rc = -ENOMEM;

	memset(res, 0, sizeof(*res));
	for (uint32_t p = 0; p < cfg->n_ports; p++)
		if (tx_port_index(map, cfg->ports[p].name) < 0) {
			snprintf(err, errlen,
				 "%s:%u: ports: port \"%s\" is not an output port of %s", cfg->path,
				 cfg->ports[p].cfg_line, cfg->ports[p].name, map->prof->path);
			return -EINVAL;
		}
	if (cfg->n_subs > map->max_subs) {
		snprintf(err, errlen,
			 "%s: subscribers: %u subscribers exceed max_subscribers %u of %s",
			 cfg->path, cfg->n_subs, map->max_subs, map->prof->path);
		return -EINVAL;
	}
	if (map->prebuilt != NULL) {
		rs = map->prebuilt;
		map->prebuilt = NULL;
	} else {
		/* the state in force is only freed by this thread: safe to read here */
		rs = router_state_build_from(cfg, map->router, map->n_scratch, 0, err, errlen);
		if (rs == NULL)
			return -errno;
	}
	for (uint32_t f = 0; f < rs->n_feeds; f++)
		res->regex_reused += rs->feeds[f].regex_reused;
	/* generations strictly increase: locate caches tagged with an older one recompute */
	rs->version = map->generation + 1;
	rs->table_version = version;
	res->build_ns = now_ns() - t0;
	if (dry_run) {
		router_state_free(rs);
		return 0;
	}

	feed_slot = calloc(cfg->n_feeds ? cfg->n_feeds : 1, sizeof(*feed_slot));
	sub_slot = calloc(cfg->n_subs ? cfg->n_subs : 1, sizeof(*sub_slot));
	new_sub = calloc(map->max_subs, 1);
	taken_sub = calloc(map->max_subs, 1);
	if (!feed_slot || !sub_slot || !new_sub || !taken_sub) {
		snprintf(err, errlen, "out of memory applying table version %" PRIu64, version);
		goto fail;
	}

	/* Feed slots: a feed keeps its slot (arbiter, bindings) while name and lines stay. */
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		int slot = -1;

		for (uint32_t o = 0; old != NULL && o < old->n_feeds && slot < 0; o++)
			if (strcmp(old->feeds[o].name, cfg->feeds[f].name) == 0 &&
			    same_lines(&old->feeds[o], &cfg->feeds[f]))
				slot = (int)map->feed_slot[o];
		for (uint32_t k = 0; slot < 0 && k < ROUTER_MAX_FEED_SLOTS; k++)
			if (!map->feed_used[k] && !taken_feed[k]) {
				slot = (int)k;
				new_feed[k] = 1;
			}
		if (slot < 0) {
			snprintf(err, errlen,
				 "%s: feeds: no free feed slot (%d at most, old ones are freed "
				 "after the swap)",
				 cfg->path, ROUTER_MAX_FEED_SLOTS);
			rc = -ENOSPC;
			goto fail;
		}
		taken_feed[slot] = 1;
		feed_slot[f] = (uint32_t)slot;
	}
	/* Subscriber slots: kept while the output stream is the same (same_stream). */
	for (uint32_t s = 0; s < cfg->n_subs; s++) {
		int slot = -1;

		for (uint32_t o = 0; old != NULL && o < old->n_subs && slot < 0; o++)
			if (same_stream(old, &old->subs[o], cfg, &cfg->subs[s]) &&
			    map->feed_slot[old->subs[o].feed] == feed_slot[cfg->subs[s].feed])
				slot = (int)map->sub_slot[o];
		for (uint32_t k = 0; slot < 0 && k < map->max_subs; k++)
			if (!map->sub_used[k] && !taken_sub[k]) {
				slot = (int)k;
				new_sub[k] = 1;
			}
		if (slot < 0) {
			snprintf(err, errlen,
				 "%s: subscribers: no free subscriber slot (max_subscribers %u; "
				 "old ones are freed after the swap)",
				 cfg->path, map->max_subs);
			rc = -ENOSPC;
			goto fail;
		}
		taken_sub[slot] = 1;
		sub_slot[s] = (uint32_t)slot;
	}

	/* New feeds' runtimes, placed before the publish that makes them reachable. */
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		uint32_t slot = feed_slot[f];
		uint16_t owner = map->replay ? 0 : (uint16_t)(slot % map->n_rx);
		struct rx_lcore *lc = map->rx[owner];
		struct rx_feed *fd;

		if (!new_feed[slot])
			continue;
		fd = zalloc(sizeof(*fd), rte_lcore_to_socket_id(lc->lcore_id));
		if (fd == NULL || (fd->locates = router_locates_create(map->max_subs)) == NULL) {
			rte_free(fd);
			snprintf(err, errlen, "out of memory for feed \"%s\"", cfg->feeds[f].name);
			goto fail_feeds;
		}
		fd->slot = slot;
		fd->lc = lc;
		arbiter_init(&fd->arb, (uint8_t)cfg->feeds[f].n_lines, map->prof->hold_packets,
			     map->replay ? 0 : rte_get_tsc_hz() / 1000000 * map->prof->hold_us,
			     &rx_arbiter_ops, fd);
		map->feed_owner[slot] = owner;
		lc->feed_by_slot[slot] = fd;
		res->feeds_added++;
	}
	for (uint32_t s = 0; s < cfg->n_subs; s++)
		if (new_sub[sub_slot[s]]) {
			sub_init(map, cfg, s, sub_slot[s],
				 map->feed_owner[feed_slot[cfg->subs[s].feed]]);
			res->subs_added++;
		}
	router_state_set_slots(rs, feed_slot, sub_slot);

	/* One pointer store; returns once every RX lcore has been quiescent since. */
	t1 = now_ns();
	router_publish(&map->router, rs, map->qsbr);
	res->publish_ns = now_ns() - t1;

	/* Nothing routes by the old table any more: drop what only it used. */
	pthread_mutex_lock(&map->lock);
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++) {
		if (map->feed_used[k] && !taken_feed[k]) {
			struct rx_lcore *lc = map->rx[map->feed_owner[k]];

			feed_free(lc->feed_by_slot[k]);
			lc->feed_by_slot[k] = NULL;
			res->feeds_removed++;
		}
		map->feed_used[k] = taken_feed[k];
	}
	for (uint32_t k = 0; k < map->max_subs; k++) {
		if (map->sub_used[k] && !taken_sub[k])
			res->subs_removed++;
		map->sub_used[k] = taken_sub[k];
	}
	free(map->feed_slot);
	free(map->sub_slot);
	map->feed_slot = feed_slot;
	map->sub_slot = sub_slot;
	map->table = cfg;
	map->table_version = version;
	map->generation = rs->version;
	pthread_mutex_unlock(&map->lock);
	routing_config_free((struct routing_config *)old);
	free(new_sub);
	free(taken_sub);
	return 0;

fail_feeds:
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		if (new_feed[k] && map->rx[map->feed_owner[k]]->feed_by_slot[k] != NULL) {
			feed_free(map->rx[map->feed_owner[k]]->feed_by_slot[k]);
			map->rx[map->feed_owner[k]]->feed_by_slot[k] = NULL;
		}
fail:
	router_state_free(rs);
	free(feed_slot);
	free(sub_slot);
	free(new_sub);
	free(taken_sub);
	return rc;
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
	router_state_free(map->router);
	map->router = NULL;
	router_state_free(map->prebuilt);
	map->prebuilt = NULL;
	routing_config_free(map->table);
	map->table = NULL;
	free(map->feed_slot);
	free(map->sub_slot);
	free(map->sub_used);
	free(map->sub_base);
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
