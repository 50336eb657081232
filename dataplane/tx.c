/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage (tx.h): drain the rings from the RX lcores and burst the frames out of
 * their ports. A TX queue still full after `tries` bursts drops the rest, counted per
 * subscriber (tx_full); with `tries` 0 the stage retries until the PMD takes everything.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>

#include "frame.h"
#include "publisher.h"
#include "tx.h"

struct tx_lcore *tx_create(const struct tx_params *p)
{
	int socket = (int)rte_lcore_to_socket_id(p->lcore_id);
	struct tx_lcore *tx = rte_zmalloc_socket(NULL, sizeof(*tx), RTE_CACHE_LINE_SIZE, socket);

	if (tx == NULL)
		goto nomem;
	tx->lcore_id = p->lcore_id;
	tx->index = p->index;
	tx->burst = p->burst;
	tx->tries = p->tries;
	tx->lat_off = latency_dynfield_register();
	tx->n_rings = p->n_rings;
	tx->pool = p->pool;
	tx->qsbr = p->qsbr;
	tx->qsbr_id = p->qsbr_id;
	tx->max_subs = p->max_subs ? p->max_subs : 1;
	tx->st = stats_block_create(p->max_subs);
	tx->rings = rte_zmalloc(NULL, sizeof(*tx->rings) * (p->n_rings ? p->n_rings : 1), 0);
	tx->bucket = rte_zmalloc_socket(NULL, sizeof(*tx->bucket) * tx->max_subs,
					RTE_CACHE_LINE_SIZE, socket);
	tx->hint =
	    rte_zmalloc_socket(NULL, sizeof(*tx->hint) * tx->max_subs, RTE_CACHE_LINE_SIZE, socket);
	if (tx->st == NULL || tx->rings == NULL || tx->bucket == NULL || tx->hint == NULL) {
		tx_free(tx);
		goto nomem;
	}
	for (uint16_t r = 0; r < p->n_rings; r++)
		tx->rings[r] = p->rings[r];
	return tx;
nomem:
	errno = ENOMEM;
	return NULL;
}

void tx_free(struct tx_lcore *tx)
{
	if (tx == NULL)
		return;
	for (uint16_t s = 0; s < tx->n_ports; s++)
		for (uint16_t i = 0; i < tx->n_pend[s]; i++)
			rte_pktmbuf_free(tx->pend[s][i]);
	rte_pktmbuf_free_bulk(tx->stash, tx->n_stash);
	stats_block_free(tx->st);
	rte_free(tx->rings);
	rte_free(tx->bucket);
	rte_free(tx->hint);
	rte_free(tx);
}

int tx_add_port(struct tx_lcore *tx, uint16_t port_id, bool receives)
{
	if (tx->n_ports == TX_MAX_PORTS)
		return -ENOSPC;
	tx->slot_of[port_id] = tx->n_ports;
	tx->port_rx[tx->n_ports] = receives;
	tx->port_ids[tx->n_ports++] = port_id;
	return 0;
}

void tx_online(struct tx_lcore *tx)
{
	if (tx->qsbr != NULL) {
		rte_rcu_qsbr_thread_register(tx->qsbr, tx->qsbr_id);
		rte_rcu_qsbr_thread_online(tx->qsbr, tx->qsbr_id);
	}
}

void tx_offline(struct tx_lcore *tx)
{
	rte_pktmbuf_free_bulk(tx->stash, tx->n_stash);
	tx->n_stash = 0;
	if (tx->qsbr != NULL) {
		rte_rcu_qsbr_thread_offline(tx->qsbr, tx->qsbr_id);
		rte_rcu_qsbr_thread_unregister(tx->qsbr, tx->qsbr_id);
	}
}

struct retransmit_port *tx_retransmit_set(struct tx_lcore *tx, uint16_t port_id,
					  struct retransmit_port *p, const uint32_t *slots)
{
	uint16_t s = tx->slot_of[port_id];

	if (p != NULL) {
		p->tsc_hz = rte_get_tsc_hz();
		p->c = &tx->st->port[port_id];
		for (uint32_t i = 0; i < p->n_subs; i++) {
			p->subs[i].bucket = &tx->bucket[slots[i]];
			p->subs[i].hint = &tx->hint[slots[i]];
			p->subs[i].c = &tx->st->subs[slots[i]];
		}
	}
	return __atomic_exchange_n(&tx->rt[s], p, __ATOMIC_ACQ_REL);
}

void tx_sub_reset(struct tx_lcore *tx, uint32_t slot)
{
	memset(&tx->bucket[slot], 0, sizeof(tx->bucket[slot]));
	memset(&tx->hint[slot], 0, sizeof(tx->hint[slot]));
}

unsigned int tx_lcore_id(const struct tx_lcore *tx)
{
	return tx->lcore_id;
}

const struct stats_block *tx_counters(const struct tx_lcore *tx)
{
	return tx->st;
}

const struct latency_hist *tx_latency(const struct tx_lcore *tx)
{
	return &tx->lat;
}

void tx_heartbeat(struct tx_lcore *tx, uint64_t turns)
{
	counter_add(&tx->st->iterations, turns);
}

static void tx_send(struct tx_lcore *tx, uint16_t slot)
{
	uint16_t port = tx->port_ids[slot];
	uint16_t n = tx->n_pend[slot];
	struct rte_mbuf **pkts = tx->pend[slot];
	uint16_t sent = 0;

	if (tx->lat_off >= 0) {
		uint64_t now = rte_rdtsc();

		for (uint16_t i = 0; i < n; i++) {
			uint64_t rx = latency_stamp_get(pkts[i], tx->lat_off);

			latency_record(&tx->lat, now > rx ? now - rx : 0);
		}
	}
	for (unsigned int tries = 0; sent < n; tries++) {
		sent += rte_eth_tx_burst(port, 0, pkts + sent, n - sent);
		if (sent == n || (tx->tries != 0 && tries + 1 >= tx->tries))
			break;
		rte_pause();
	}
	counter_add(&tx->st->tx_packets[port], sent);
	for (uint16_t i = sent; i < n; i++) {
		uint16_t msgs = publisher_frame_msgs(rte_pktmbuf_mtod(pkts[i], const uint8_t *));

		counter_add(&tx->st->drops[DROP_TX_FULL], msgs);
		counter_add(&tx->st->subs[pkts[i]->hash.usr].dropped, msgs);
		counter_add(&tx->st->subs[pkts[i]->hash.usr].dropped_tx_full, msgs);
		rte_pktmbuf_free(pkts[i]);
	}
	counter_add(&tx->st->tx_done, n);
	tx->n_pend[slot] = 0;
}

/* What arrived on output port `slot` that is not the retransmission server's: counted
 * under the reasons of docs/protocol.md §3.1 (nothing else is answered, §6.2). */
static void not_mine(struct tx_lcore *tx, const struct rte_mbuf *m)
{
	struct frame_udp f;
	int why = frame_parse_udp(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &f);

	counter_add(&tx->st->drops[why != 0 ? why : DROP_NO_FEED], 1);
}

/* One frame received on output port `slot`: ARP or a request answered by retransmit.c,
 * at most TX_ANSWER_CAP frames, sent at once. */
static void serve(struct tx_lcore *tx, uint16_t slot, struct retransmit_port *rt,
		  const struct rte_mbuf *in, uint64_t now)
{
	uint16_t port = tx->port_ids[slot];
	uint8_t *frames[TX_ANSWER_CAP];
	uint32_t len[TX_ANSWER_CAP];
	struct retransmit_out out = {frames, len, TX_ANSWER_CAP, 0, 0};
	uint16_t sent;

	if (tx->n_stash < TX_ANSWER_CAP) {
		if (rte_pktmbuf_alloc_bulk(tx->pool, tx->stash + tx->n_stash,
					   TX_ANSWER_CAP - tx->n_stash) != 0) {
			counter_add(&tx->st->port[port].answers_unsent, 1);
			return;
		}
		tx->n_stash = TX_ANSWER_CAP;
	}
	out.frame_len = rte_pktmbuf_tailroom(tx->stash[0]);
	for (uint32_t i = 0; i < TX_ANSWER_CAP; i++)
		frames[i] = rte_pktmbuf_mtod(tx->stash[i], uint8_t *);
	if (retransmit_frame(rt, rte_pktmbuf_mtod(in, const uint8_t *), in->data_len, now, &out) ==
	    RETRANSMIT_NOT_MINE) {
		not_mine(tx, in);
		return;
	}
	for (uint32_t i = 0; i < out.n; i++) {
		tx->stash[i]->data_len = (uint16_t)len[i];
		tx->stash[i]->pkt_len = len[i];
	}
	sent = out.n ? rte_eth_tx_burst(port, 0, tx->stash, (uint16_t)out.n) : 0;
	if (sent < out.n) {
		counter_add(&tx->st->port[port].answers_unsent, out.n - sent);
		rte_pktmbuf_free_bulk(tx->stash + sent, out.n - sent);
	}
	/* the unused mbufs move to the front for the next request */
	for (uint32_t i = out.n; i < TX_ANSWER_CAP; i++)
		tx->stash[i - out.n] = tx->stash[i];
	tx->n_stash = (uint16_t)(TX_ANSWER_CAP - out.n);
}

/* After the live frames: at most TX_REQ_BURST frames from the RX queue of each output
 * port the table gives `retransmit` (docs/at-least-once.md, "Where requests are
 * served"); a port without it has nothing to receive and its RX queue is not read. */
static void requests(struct tx_lcore *tx)
{
	for (uint16_t s = 0; s < tx->n_ports; s++) {
		struct retransmit_port *rt = __atomic_load_n(&tx->rt[s], __ATOMIC_ACQUIRE);
		struct rte_mbuf *in[TX_REQ_BURST];
		uint16_t n;

		if (!tx->port_rx[s] || rt == NULL ||
		    (n = rte_eth_rx_burst(tx->port_ids[s], 0, in, TX_REQ_BURST)) == 0)
			continue;
		uint64_t now = rte_rdtsc();

		for (uint16_t i = 0; i < n; i++)
			serve(tx, s, rt, in[i], now);
		rte_pktmbuf_free_bulk(in, n);
	}
}

void tx_poll(struct tx_lcore *tx)
{
	struct rte_mbuf *pkts[TX_BURST_MAX];

	for (uint16_t r = 0; r < tx->n_rings; r++) {
		unsigned int n =
		    rte_ring_sc_dequeue_burst(tx->rings[r], (void **)pkts, tx->burst, NULL);

		if (n == 0)
			continue;
		counter_add(&tx->st->ring_dequeued, n);
		if (tx->n_ports == 1) {
			rte_memcpy(tx->pend[0], pkts, n * sizeof(pkts[0]));
			tx->n_pend[0] = (uint16_t)n;
		} else {
			for (unsigned int i = 0; i < n; i++) {
				uint16_t s = tx->slot_of[pkts[i]->port];

				tx->pend[s][tx->n_pend[s]++] = pkts[i];
			}
		}
		for (uint16_t s = 0; s < tx->n_ports; s++)
			if (tx->n_pend[s] != 0)
				tx_send(tx, s);
	}
	requests(tx);
	/* no retransmission server of a port is used past this point */
	if (tx->qsbr != NULL)
		rte_rcu_qsbr_quiescent(tx->qsbr, tx->qsbr_id);
}
