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
/* Remove a live RX port's rte_flow rules, stop and close (net_pcap closes its dump
 * files here). */
void port_close(uint16_t port_id);

/*
 * Live RX ports: how feed multicast reaches the RX queue (profile `nic:`). Called once
 * per RX port after port_start: resolves `multicast` and `steering` ("auto" included)
 * by asking the PMD (an empty rte_eth_dev_set_mc_addr_list; rte_flow_validate, then
 * create and destroy, of a feed rule), falls back with a logged line where the PMD
 * says no, installs the IGMP
 * rule of an isolated port, and logs the port's effective settings in one line.
 * `pp` must outlive the port. 0, or -errno with `err` filled (explicit steering rte_flow
 * that the PMD refuses).
 */
int port_rx_setup(uint16_t port_id, const struct profile_port *pp, const struct profile *prof,
		  char *err, size_t errlen);

/* A feed line as the NIC sees it: destination group and UDP port, host order. */
struct port_flow_key {
	uint32_t group;
	uint16_t udp_port;
};

#define PORT_MAX_FLOWS 256

/*
 * The routing table's feed lines changed (control thread, off the polling cores): put
 * the groups' MACs in the port's multicast filter (mc_addr_list mode) and make the
 * port's rte_flow rules match `keys[0..n)` - new rules first, then the removed ones
 * destroyed, so an unchanged line never loses its rule. Problems are logged (a refused
 * rule leaves that line on the default queue). Returns the number of lines steered.
 */
uint32_t port_rx_lines_set(uint16_t port_id, const struct port_flow_key *keys, uint32_t n);

/* The TX queue reserved for the control thread on an RX port (IGMP), -1 if none. */
int port_rx_ctl_txq(uint16_t port_id);

/* The profile port of a live RX port (name and IGMP source address), NULL if none. */
const struct profile_port *port_rx_profile(uint16_t port_id);

#endif
