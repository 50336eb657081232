/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP for the dataplane's own addresses (docs/protocol.md §6.2, §6.3). With kernel
 * bypass no kernel answers ARP on the dataplane's ports, so peers that send it unicast
 * (subscribers' requests to a port's `src_ip`, the exchange's answers to a recovery
 * `source.ip`) could not resolve those addresses. Pure functions over byte buffers:
 * classify a frame, and write the reply.
 */
#ifndef ASTER_ARP_H
#define ASTER_ARP_H

#include <stdbool.h>
#include <stdint.h>

#define ARP_REPLY_LEN 60 /* the reply, padded to Ethernet's minimum (FCS excluded) */

struct arp_request {
	uint8_t sender_mac[6];
	uint32_t sender_ip; /* host order */
	uint32_t target_ip; /* host order: the address asked about */
	uint16_t vlan_tci;  /* 0 when untagged; the reply carries the same tag */
	bool tagged;
};

enum arp_kind {
	ARP_NOT_ARP = 0, /* not an ARP frame (EtherType, after at most one 802.1Q tag) */
	ARP_MALFORMED,	 /* ARP, but not Ethernet/IPv4 ARP or cut short */
	ARP_OTHER,	 /* a well-formed ARP that is not a request (a reply, ...) */
	ARP_REQUEST,	 /* a request: `req` is filled */
};

enum arp_kind arp_parse(const uint8_t *p, uint32_t len, struct arp_request *req);

/* Whether `ip` (host order) is one of `ours[0..n)`: the request is for the dataplane. */
bool arp_is_ours(uint32_t ip, const uint32_t *ours, uint32_t n);

/*
 * The reply to `req` saying that `req->target_ip` is at `our_mac`, unicast to the asker,
 * into `out` (ARP_REPLY_LEN bytes, + 4 when tagged). Returns the frame length.
 */
uint32_t arp_reply(uint8_t *out, const struct arp_request *req, const uint8_t our_mac[6]);

#endif
