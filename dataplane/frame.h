/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Input frame parsing (docs/protocol.md §3.1): Ethernet II, at most one 802.1Q tag, IPv4 with
 * options and without fragments, UDP. Pure function over bytes; returns a drop
 * reason for anything else so the caller counts it.
 */
#ifndef ASTER_FRAME_H
#define ASTER_FRAME_H

#include <stdint.h>

struct frame_udp {
	uint32_t dst_ip;      /* host order */
	uint32_t src_ip;      /* host order */
	uint16_t dst_port;    /* host order */
	uint16_t src_port;    /* host order */
	uint16_t vlan_tci;    /* 0 when untagged */
	uint16_t payload_off; /* UDP payload offset from the frame start */
	uint16_t payload_len; /* from the UDP length field, Ethernet padding excluded */
};

/*
 * Parse `len` bytes of frame. Returns 0 and fills `out`, or a positive
 * `enum stats_drop` reason (DROP_RUNT, DROP_NOT_IPV4, DROP_VLAN_STACKED,
 * DROP_IP_HEADER, DROP_IP_FRAGMENT, DROP_NOT_UDP, DROP_UDP_LENGTH).
 */
int frame_parse_udp(const uint8_t *p, uint32_t len, struct frame_udp *out);

/* One end of a unicast UDP exchange (docs/protocol.md §6: requests, answers). */
struct frame_endpoint {
	uint8_t mac[6];
	uint32_t ip;   /* host order */
	uint16_t port; /* host order */
};

#define FRAME_UDP_HDRS_LEN 42 /* Ethernet II 14 + IPv4 20 + UDP 8 */

/*
 * Write the Ethernet II / IPv4 / UDP headers of a frame from `src` to `dst` carrying
 * `payload_len` bytes at p + FRAME_UDP_HDRS_LEN: no VLAN tag, no IPv4 options, TTL 64,
 * the IPv4 header checksum filled in, UDP checksum 0 (none, allowed for IPv4). The
 * frame is FRAME_UDP_HDRS_LEN + payload_len bytes. Pure, for the frames the dataplane
 * originates (recovery requests, retransmission answers).
 */
void frame_build_udp(uint8_t *p, const struct frame_endpoint *src, const struct frame_endpoint *dst,
		     uint16_t payload_len, uint16_t ip_id);

#endif
