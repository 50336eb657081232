/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TX stage: drain the rings from the RX lcores and burst the frames out of their
 * ports. Live: a TX queue that stays full after a few tries drops the rest, counted per
 * subscriber (tx_full). Replay: lossless, retry until the PMD takes everything.
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>

#include "lcore.h"

#define TX_LIVE_TRIES 4

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
		if (sent == n || (!tx->replay && tries + 1 >= TX_LIVE_TRIES))
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
	struct rte_mbuf *pkts[LCORE_BURST_MAX];

	for (uint16_t r = 0; r < tx->n_rings; r++) {
		unsigned int n =
		    rte_ring_sc_dequeue_burst(tx->rings[r], (void **)pkts, tx->prof->burst, NULL);

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
