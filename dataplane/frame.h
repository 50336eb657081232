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

#endif
