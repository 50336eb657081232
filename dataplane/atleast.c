/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The at-least-once part of a table apply (atleast.h). Table thread only.
 *
 * Lifetimes. A history is written by the RX lcore that frames its stream (through
 * rx_lcore.hist[slot]) and read by the TX lcore serving the stream's port (through the
 * port's retransmit_port); a server is read by that TX lcore. Both are replaced by
 * pointer swaps before the publish and freed after it: lcore_map_publish returns once
 * every RX and TX lcore was quiescent, so none still uses what was replaced.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "atleast.h"
#include "dp_log.h"
#include "history.h"
#include "retransmit.h"
#include "rx.h"
#include "tx.h"

DP_LOG_REGISTER(atleast);

/* One output port's retransmission server, with the slots of its subscribers. */
struct server {
	struct retransmit_port p; /* first: tx_retransmit_set hands back &p */
	uint32_t *slots;
	struct retransmit_sub subs[];
};

struct atleast {
	struct lcore_map *map;
	uint32_t max_subs;
	bool live;
	/* the table in force, per subscriber slot */
	struct history **hist;		    /* NULL: keeps none */
	uint32_t *hist_n;		    /* messages it was sized for */
	struct rx_lcore **hist_lc;	    /* the RX lcore writing it */
	struct server *rt[LCORE_MAX_PORTS]; /* per output port (lcore_ports.out index) */
	/* the apply in progress */
	uint32_t *rx_of_feed; /* atleast_check: input port index of each feed's source */
	uint32_t n_rx_of_feed;
	struct history **next_hist; /* [max_subs] prepared for the slot (NULL: none) */
	uint8_t *next_set;	    /* [max_subs] the slot's history changes to next_hist */
	uint32_t *next_n;	    /* [max_subs] its size */
	struct server *next_rt[LCORE_MAX_PORTS];
	struct history **old_hist; /* [max_subs] replaced: freed at release */
	struct server *old_rt[LCORE_MAX_PORTS];
};

struct atleast *atleast_create(struct lcore_map *map, uint32_t max_subs)
{
	struct atleast *a = calloc(1, sizeof(*a));
	uint32_t n = max_subs ? max_subs : 1;

	if (a == NULL)
		return NULL;
	a->map = map;
	a->max_subs = max_subs;
	a->live = lcore_map_policy(map)->at_least_once;
	a->hist = calloc(n, sizeof(*a->hist));
	a->hist_n = calloc(n, sizeof(*a->hist_n));
	a->hist_lc = calloc(n, sizeof(*a->hist_lc));
	a->next_hist = calloc(n, sizeof(*a->next_hist));
	a->next_set = calloc(n, sizeof(*a->next_set));
	a->next_n = calloc(n, sizeof(*a->next_n));
	a->old_hist = calloc(n, sizeof(*a->old_hist));
	if (!a->hist || !a->hist_n || !a->hist_lc || !a->next_hist || !a->next_set || !a->next_n ||
	    !a->old_hist) {
		atleast_free(a);
		return NULL;
	}
	return a;
}

void atleast_free(struct atleast *a)
{
	if (a == NULL)
		return;
	atleast_abort(a);
	for (uint32_t k = 0; a->hist != NULL && k < a->max_subs; k++)
		rte_free(a->hist[k]);
	for (uint32_t o = 0; o < LCORE_MAX_PORTS; o++)
		free(a->rt[o]);
	free(a->hist);
	free(a->hist_n);
	free(a->hist_lc);
	free(a->next_hist);
	free(a->next_set);
	free(a->next_n);
	free(a->old_hist);
	free(a->rx_of_feed);
	free(a);
}

/* Messages subscriber `s` keeps: its `history` when its port serves requests. */
static uint32_t kept(const struct routing_config *cfg, uint32_t s)
{
	return cfg->ports[cfg->subs[s].port].retransmit_port != 0 ? cfg->subs[s].history : 0;
}

int atleast_check(struct atleast *a, const struct routing_config *cfg, char *err, size_t errlen)
{
	const struct lcore_ports *ports = lcore_map_ports(a->map);
	struct rc_rx_port rx[LCORE_MAX_PORTS];
	uint32_t *rof;

	if (!a->live)
		return 0;
	for (uint16_t i = 0; i < ports->n_in; i++)
		rx[i] = (struct rc_rx_port){ports->in_name[i], ports->in_ip[i]};
	rof = realloc(a->rx_of_feed, sizeof(*rof) * (cfg->n_feeds ? cfg->n_feeds : 1));
	if (rof == NULL) {
		snprintf(err, errlen, "out of memory checking %s", cfg->path);
		return -ENOMEM;
	}
	a->rx_of_feed = rof;
	a->n_rx_of_feed = cfg->n_feeds;
	int rc = routing_config_check_live(cfg, rx, ports->n_in, rof, err, errlen);

	if (rc != 0)
		return rc;
	return history_table_check(cfg, (uint64_t)lcore_map_profile(a->map)->history_mb << 20, err,
				   errlen);
}

/* A history of `messages` for a stream framed on `lc`, header and ring in one block on
 * the lcore's NUMA node, every page of it touched. */
static struct history *history_alloc(uint32_t messages, const struct rx_lcore *lc)
{
	size_t head = (sizeof(struct history) + 63) & ~(size_t)63;
	struct history *h = rte_malloc_socket("aster_history", head + history_mem_size(messages),
					      64, (int)rte_lcore_to_socket_id(rx_lcore_id(lc)));

	if (h != NULL) {
		/* touched here, on the table thread: without hugepages the RX lcore would
		 * otherwise take a page fault at every first write into the ring */
		memset((uint8_t *)h + head, 0, history_mem_size(messages));
		history_init(h, messages, (uint8_t *)h + head);
	}
	return h;
}

/* The server of output port `o` (cfg port `pi`) for the plan's slots. NULL when out of
 * memory. */
static struct server *server_build(const struct routing_config *cfg, uint32_t pi, uint16_t port_id,
				   const struct slots_plan *p, struct history *const *hist)
{
	const struct rc_port *rp = &cfg->ports[pi];
	struct rte_ether_addr mac;
	uint32_t n = 0;
	struct server *sv;

	for (uint32_t s = 0; s < cfg->n_subs; s++)
		n += cfg->subs[s].port == pi;
	sv = calloc(1, sizeof(*sv) + n * (sizeof(sv->subs[0]) + sizeof(uint32_t)));
	if (sv == NULL)
		return NULL;
	sv->slots = (uint32_t *)&sv->subs[n];
	if (rte_eth_macaddr_get(port_id, &mac) != 0)
		memset(&mac, 0, sizeof(mac));
	memcpy(sv->p.mac, mac.addr_bytes, 6);
	sv->p.ip = rp->src_ip;
	sv->p.udp = rp->retransmit_port;
	sv->p.rate = rp->retransmit_rate;
	sv->p.subs = sv->subs;
	for (uint32_t s = 0; s < cfg->n_subs; s++) {
		const struct rc_subscriber *sub = &cfg->subs[s];
		struct retransmit_sub *rs = &sv->subs[sv->p.n_subs];

		if (sub->port != pi)
			continue;
		memcpy(rs->session, sub->session, sizeof(rs->session));
		rs->dst_ip = sub->dst_ip;
		rs->max_payload = sub->max_payload;
		rs->hist = hist[p->sub_slot[s]];
		sv->slots[sv->p.n_subs++] = p->sub_slot[s];
	}
	return sv;
}

int atleast_prepare(struct atleast *a, const struct routing_config *cfg, const struct slots_plan *p,
		    char *err, size_t errlen)
{
	const struct lcore_ports *ports = lcore_map_ports(a->map);
	struct history **use = a->old_hist; /* scratch until commit: the slots' next history */

	if (!a->live)
		return 0;
	/* the requests of a feed leave, and its answers arrive, on a port its RX lcore polls */
	for (uint32_t f = 0; f < cfg->n_feeds && f < a->n_rx_of_feed; f++) {
		uint32_t i = a->rx_of_feed[f];
		struct rx_lcore *lc = lcore_map_feed_lcore(a->map, p->feed_slot[f]);

		if (i == UINT32_MAX)
			continue;
		if (!rx_polls_port(lc, ports->in[i])) {
			snprintf(
			    err, errlen,
			    "%s:%" PRIu32 ": ip: feed \"%s\": recovery source is port %s, which "
			    "RX lcore %u does not poll, but the feed is arbitrated on RX lcore "
			    "%u (give them one lcore: the profile's rx_ports and lcores)",
			    cfg->path, cfg->feeds[f].recovery.source_ip_line, cfg->feeds[f].name,
			    ports->in_name[i], rx_lcore_id(lc), rx_lcore_id(lc));
			return -EINVAL;
		}
		if (rx_feed_recovery_alloc(rx_feed_of(lc, p->feed_slot[f])) != 0) {
			snprintf(err, errlen, "out of memory for the recovery of feed \"%s\"",
				 cfg->feeds[f].name);
			return -ENOMEM;
		}
	}
	for (uint32_t s = 0; s < cfg->n_subs; s++) {
		uint32_t slot = p->sub_slot[s], n = kept(cfg, s);
		struct rx_lcore *lc = lcore_map_feed_lcore(a->map, p->feed_slot[cfg->subs[s].feed]);

		use[slot] = a->hist[slot];
		if (!p->sub_new[slot] && n == a->hist_n[slot])
			continue;
		a->next_set[slot] = 1;
		a->next_n[slot] = n;
		if (n > 0 && (a->next_hist[slot] = history_alloc(n, lc)) == NULL) {
			snprintf(err, errlen,
				 "out of memory for the history of subscriber \"%s\" (%zu MiB): "
				 "raise memory_mb (without hugepages) or reserve more hugepages",
				 cfg->subs[s].name, (history_mem_size(n) + (1 << 20) - 1) >> 20);
			goto fail;
		}
		use[slot] = a->next_hist[slot];
	}
	for (uint16_t o = 0; o < ports->n_out; o++) {
		int pi = routing_config_port_index(cfg, ports->out[o].name);

		if (pi < 0 || cfg->ports[pi].retransmit_port == 0)
			continue;
		a->next_rt[o] = server_build(cfg, (uint32_t)pi, ports->out[o].port_id, p, use);
		if (a->next_rt[o] == NULL) {
			snprintf(err, errlen,
				 "out of memory for the retransmission server of port %s",
				 ports->out[o].name);
			goto fail;
		}
	}
	memset(a->old_hist, 0, sizeof(*a->old_hist) * a->max_subs);
	return 0;
fail:
	memset(a->old_hist, 0, sizeof(*a->old_hist) * a->max_subs);
	atleast_abort(a);
	return -ENOMEM;
}

void atleast_abort(struct atleast *a)
{
	for (uint32_t k = 0; a->next_set != NULL && k < a->max_subs; k++) {
		rte_free(a->next_hist[k]);
		a->next_hist[k] = NULL;
		a->next_set[k] = 0;
	}
	for (uint32_t o = 0; o < LCORE_MAX_PORTS; o++) {
		free(a->next_rt[o]);
		a->next_rt[o] = NULL;
	}
}

/* The recovery settings of feed `f` as the lcores use them (rx.h). */
static void recovery_cfg(const struct atleast *a, const struct routing_config *cfg, uint32_t f,
			 struct rx_recovery_cfg *c)
{
	const struct lcore_ports *ports = lcore_map_ports(a->map);
	const struct rc_recovery *r = &cfg->feeds[f].recovery;
	struct rte_ether_addr mac;

	memset(c, 0, sizeof(*c));
	c->enabled = r->enabled;
	if (!r->enabled)
		return;
	c->rc = *r;
	c->rc.cfg_line = c->rc.source_ip_line = 0; /* where it was written does not matter */
	c->port_id = ports->in[a->rx_of_feed[f]];
	if (rte_eth_macaddr_get(c->port_id, &mac) != 0)
		memset(&mac, 0, sizeof(mac));
	memcpy(c->src.mac, mac.addr_bytes, 6);
	c->src.ip = r->source_ip;
	c->src.port = r->source_port;
	memcpy(c->dst.mac, r->server_mac, 6);
	c->dst.ip = r->server_ip;
	c->dst.port = r->server_port;
}

void atleast_commit(struct atleast *a, const struct routing_config *cfg, const struct slots_plan *p,
		    const struct slots *cur)
{
	const struct lcore_ports *ports = lcore_map_ports(a->map);

	if (!a->live)
		return;
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		struct rx_lcore *lc = lcore_map_feed_lcore(a->map, p->feed_slot[f]);
		struct rx_feed *fd = rx_feed_of(lc, p->feed_slot[f]);
		struct rx_recovery_cfg c;

		recovery_cfg(a, cfg, f, &c);
		rx_feed_recovery(fd, &c, !p->feed_new[p->feed_slot[f]]);
	}
	/* a stream leaving the table stops writing its history now, freed after the publish */
	for (uint32_t k = 0; k < a->max_subs; k++)
		if (slots_sub_removed(cur, p, k) && a->hist_lc[k] != NULL) {
			a->old_hist[k] = rx_sub_history(a->hist_lc[k], k, NULL);
			a->hist[k] = NULL;
			a->hist_n[k] = 0;
			a->hist_lc[k] = NULL;
		}
	for (uint32_t s = 0; s < cfg->n_subs; s++) {
		const struct rc_subscriber *sub = &cfg->subs[s];
		uint32_t slot = p->sub_slot[s];
		struct rx_lcore *lc = lcore_map_feed_lcore(a->map, p->feed_slot[sub->feed]);
		uint16_t port_id, tx;

		rx_sub_heartbeat(lc, slot, sub->heartbeat_ms);
		if (p->sub_new[slot] &&
		    lcore_map_output(a->map, cfg->ports[sub->port].name, &port_id, &tx) == 0)
			tx_sub_reset(lcore_map_tx(a->map, tx), slot);
		if (!a->next_set[slot])
			continue;
		a->old_hist[slot] = rx_sub_history(lc, slot, a->next_hist[slot]);
		a->hist[slot] = a->next_hist[slot];
		a->hist_n[slot] = a->next_n[slot];
		a->hist_lc[slot] = a->hist[slot] != NULL ? lc : NULL;
		a->next_hist[slot] = NULL;
		a->next_set[slot] = 0;
		if (cfg->ports[sub->port].retransmit_port != 0 && sub->history == 0)
			DP_LOG(
			    atleast, NOTICE,
			    "subscriber \"%s\": history 0: retransmission requests are not served "
			    "(counted as retransmit_unavailable)\n",
			    sub->name);
	}
	for (uint16_t o = 0; o < ports->n_out; o++) {
		uint16_t port_id, tx;
		struct server *sv = a->next_rt[o];

		if (lcore_map_output(a->map, ports->out[o].name, &port_id, &tx) != 0)
			continue;
		a->old_rt[o] = (struct server *)tx_retransmit_set(lcore_map_tx(a->map, tx), port_id,
								  sv != NULL ? &sv->p : NULL,
								  sv != NULL ? sv->slots : NULL);
		a->rt[o] = sv;
		a->next_rt[o] = NULL;
	}
	uint32_t n;
	uint64_t bytes = atleast_history_bytes(a, &n);

	DP_LOG(atleast, NOTICE,
	       "history: %" PRIu64 " MiB for %" PRIu32 " subscribers (history_mb %" PRIu32 ")\n",
	       (bytes + (1 << 20) - 1) >> 20, n, lcore_map_profile(a->map)->history_mb);
}

void atleast_release(struct atleast *a)
{
	for (uint32_t k = 0; k < a->max_subs; k++) {
		rte_free(a->old_hist[k]);
		a->old_hist[k] = NULL;
	}
	for (uint32_t o = 0; o < LCORE_MAX_PORTS; o++) {
		free(a->old_rt[o]);
		a->old_rt[o] = NULL;
	}
}

uint64_t atleast_history_bytes(const struct atleast *a, uint32_t *n_subs)
{
	uint64_t total = 0;
	uint32_t n = 0;

	for (uint32_t k = 0; k < a->max_subs; k++)
		if (a->hist[k] != NULL) {
			total += history_mem_size(a->hist_n[k]);
			n++;
		}
	*n_subs = n;
	return total;
}
