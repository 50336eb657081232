/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mempools and ethdev ports: the virtual devices of a replay (one net_pcap RX port per
 * input file, one TX port per configured output port), the live ports of a profile,
 * queue and descriptor setup, start and ordered stop. Main lcore only.
 */
#ifndef ASTER_PORT_H
#define ASTER_PORT_H

#include <stdbool.h>
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
/* Remove a live RX port's rte_flow rules, stop and close (net_pcap closes its dump
 * files here). */
void port_close(uint16_t port_id);

/*
 * A live port of the profile: a DPDK virtual device ("net_xxx,args", created here) or a
 * PCI device EAL probed (-a), started with one RX queue on `pool` for an input (and one
 * TX queue for the control thread's IGMP when the profile has igmp) or one TX queue for
 * an output; an input's multicast filtering and steering are set up (port_rx.h).
 * 0, or -errno with one line in `err` saying why (a missing interface, a PCI device not
 * bound to a DPDK driver, a PMD refusal).
 */
int port_open_live(const struct profile_port *pp, bool rx, const struct profile *prof,
		   struct rte_mempool *pool, uint16_t *port_id, char *err, size_t errlen);

#endif
