/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live RX ports (port_rx.c): how feed multicast reaches the queue the RX lcore polls
 * (profile `nic:`), and the ring through which the control thread's IGMP frames reach
 * the port's TX queue. Set up once per port by the main lcore (port_rx_setup), then
 * written and read only by the control thread (port_rx_lines_set, from mcast.c).
 */
#ifndef ASTER_PORT_RX_H
#define ASTER_PORT_RX_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

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

/* Whether the control thread sends IGMP on an RX port: 0, or -1 if not. */
int port_rx_ctl_txq(uint16_t port_id);

#define PORT_CTL_RING 64 /* control frames waiting for an RX port's lcore */

/*
 * An RX port's one TX queue belongs to the RX lcore that polls the port (recovery
 * requests, ARP replies: docs/at-least-once.md). The control thread hands it its frames
 * (IGMP) through a ring: port_rx_ctl_send (control thread: 0, or -ENOBUFS and the
 * caller keeps `m`); port_rx_ctl_ring, which that RX lcore drains onto the queue.
 */
struct rte_mbuf;
struct rte_ring;
int port_rx_ctl_send(uint16_t port_id, struct rte_mbuf *m);
struct rte_ring *port_rx_ctl_ring(uint16_t port_id);

/* The profile port of a live RX port (name and IGMP source address), NULL if none. */
const struct profile_port *port_rx_profile(uint16_t port_id);

/* Remove a live RX port's rte_flow rules (port_close); nothing for other ports. */
void port_rx_teardown(uint16_t port_id);

#endif
