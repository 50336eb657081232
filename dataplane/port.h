/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mempools and ethdev ports: creation of the virtual devices of a replay (one
 * net_pcap RX port per input file, one TX port per configured output port), queue and
 * descriptor setup, start and ordered stop.
 */
#ifndef ASTER_PORT_H
#define ASTER_PORT_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "profile.h"

struct port_pools {
	struct rte_mempool *rx; /* feed frames; also held by the arbiters */
	struct rte_mempool *tx; /* subscriber frames, sized for the largest max_payload */
	unsigned int rx_idle;	/* in-use count once the ports started: the leak baseline */
	unsigned int tx_idle;
};

/* Both pools; `tx_frame_max` is the largest output frame. 0 or -errno, err filled. */
int port_pools_create(struct port_pools *pp, const struct profile *prof, uint32_t tx_frame_max,
		      char *err, size_t errlen);
void port_pools_free(struct port_pools *pp);

/* A net_pcap RX-only port reading `pcap`. */
int port_create_rx_pcap(unsigned int idx, const char *pcap, uint16_t *port_id, char *err,
			size_t errlen);
/* An output port: net_pcap writing `pcap`, or net_null when `driver` says so. */
int port_create_tx(unsigned int idx, const char *driver, const char *pcap, uint16_t *port_id,
		   char *err, size_t errlen);

/* Configure one RX and/or one TX queue and start. */
int port_start(uint16_t port_id, uint16_t n_rxq, uint16_t n_txq, const struct profile *prof,
	       struct rte_mempool *rx_pool, char *err, size_t errlen);
/* Stop and close (net_pcap closes its dump files here). */
void port_close(uint16_t port_id);

#endif
