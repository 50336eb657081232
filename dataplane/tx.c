/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage (tx.h): drain the rings from the RX lcores and burst the frames out of
 * their ports. A TX queue still full after `tries` bursts drops the rest, counted per
 * subscriber (tx_full); with `tries` 0 the stage retries until the PMD takes everything.
 */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_pause.h>

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
	tx->st = stats_block_create(p->max_subs);
	tx->rings = rte_zmalloc(NULL, sizeof(*tx->rings) * (p->n_rings ? p->n_rings : 1), 0);
	if (tx->st == NULL || tx->rings == NULL) {
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
	stats_block_free(tx->st);
	rte_free(tx->rings);
	rte_free(tx);
}

int tx_add_port(struct tx_lcore *tx, uint16_t port_id)
{
	if (tx->n_ports == TX_MAX_PORTS)
		return -ENOSPC;
	tx->slot_of[port_id] = tx->n_ports;
	tx->port_ids[tx->n_ports++] = port_id;
	return 0;
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
		rte_pktmbuf_free(pkts[i]);
	}
	counter_add(&tx->st->tx_done, n);
	tx->n_pend[slot] = 0;
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
}
