/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Input frame parsing (docs/protocol.md §3.1): Ethernet II, at most one 802.1Q tag, IPv4 with
 * options and without fragments, UDP.
 *
 * Each header is checked in wire order and the first failure names the drop reason:
 * DROP_RUNT when the frame ends before a header that must be read, the other reasons
 * when a header is present but unacceptable.
 *
 * The IPv4 header checksum is deliberately not verified: NICs validate it in hardware
 * (RX checksum offload) on the live path, a corrupt header on the wire is already
 * dropped by every router in between, and some feed generators and pcap tools leave it
 * 0. The UDP checksum is optional in IPv4 and is not verified either; MoldUDP64 framing
 * is validated message by message instead (docs/protocol.md §3.2).
 */
#include <stddef.h>
#include <string.h>

#include "frame.h"
#include "stats.h"

#include "../common/wire.h"

#define ETH_HDR_LEN	 14
#define VLAN_TAG_LEN	 4
#define ETHERTYPE_IPV4	 0x0800
#define ETHERTYPE_VLAN	 0x8100
#define ETHERTYPE_QINQ	 0x88a8
#define IPV4_MIN_HDR_LEN 20
#define IPV4_MF		 0x2000
#define IPV4_FRAG_OFF	 0x1fff
#define IPPROTO_UDP_	 17
#define UDP_HDR_LEN	 8

int frame_parse_udp(const uint8_t *p, uint32_t len, struct frame_udp *out)
{
	uint32_t off = ETH_HDR_LEN;
	uint16_t type;
	uint16_t tci = 0;

	if (len < ETH_HDR_LEN)
		return DROP_RUNT;
	type = wire_get16(p + 12);

	/* docs/protocol.md §3.1: one 802.1Q tag at most; a service tag (802.1ad) means a stack. */
	if (type == ETHERTYPE_QINQ)
		return DROP_VLAN_STACKED;
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HDR_LEN + VLAN_TAG_LEN)
			return DROP_RUNT;
		tci = wire_get16(p + ETH_HDR_LEN);
		type = wire_get16(p + ETH_HDR_LEN + 2);
		off += VLAN_TAG_LEN;
		if (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ)
			return DROP_VLAN_STACKED;
	}
	if (type != ETHERTYPE_IPV4)
		return DROP_NOT_IPV4;

	if (len - off < IPV4_MIN_HDR_LEN)
		return DROP_RUNT;
	const uint8_t *ip = p + off;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < IPV4_MIN_HDR_LEN)
		return DROP_IP_HEADER;
	if (len - off < ihl)
		return DROP_RUNT; /* options cut off by the end of the frame */
	uint32_t total = wire_get16(ip + 2);
	if (total < ihl)
		return DROP_IP_HEADER;
	if (wire_get16(ip + 6) & (IPV4_MF | IPV4_FRAG_OFF))
		return DROP_IP_FRAGMENT;
	if (ip[9] != IPPROTO_UDP_)
		return DROP_NOT_UDP;
	if (len - off - ihl < UDP_HDR_LEN)
		return DROP_RUNT;
	/*
	 * Frames shorter than 60 bytes are padded by Ethernet: the IPv4 total length, not
	 * the frame length, bounds the packet. A total length past the frame end is a
	 * truncated packet.
	 */
	if (total > len - off)
		return DROP_IP_HEADER;

	const uint8_t *udp = ip + ihl;
	uint32_t udp_len = wire_get16(udp + 4);
	if (udp_len < UDP_HDR_LEN || udp_len > total - ihl)
		return DROP_UDP_LENGTH;

	out->src_ip = wire_get32(ip + 12);
	out->dst_ip = wire_get32(ip + 16);
	out->src_port = wire_get16(udp);
	out->dst_port = wire_get16(udp + 2);
	out->vlan_tci = tci;
	out->payload_off = (uint16_t)(off + ihl + UDP_HDR_LEN);
	out->payload_len = (uint16_t)(udp_len - UDP_HDR_LEN);
	return 0;
}

void frame_build_udp(uint8_t *p, const struct frame_endpoint *src, const struct frame_endpoint *dst,
		     uint16_t payload_len, uint16_t ip_id)
{
	uint8_t *ip = p + ETH_HDR_LEN, *udp = ip + IPV4_MIN_HDR_LEN;
	uint32_t sum = 0;

	memcpy(p, dst->mac, 6);
	memcpy(p + 6, src->mac, 6);
	wire_put16(p + 12, ETHERTYPE_IPV4);
	ip[0] = 0x45; /* version 4, 5 words */
	ip[1] = 0;
	wire_put16(ip + 2, (uint16_t)(IPV4_MIN_HDR_LEN + UDP_HDR_LEN + payload_len));
	wire_put16(ip + 4, ip_id);
	wire_put16(ip + 6, 0);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP_;
	wire_put16(ip + 10, 0);
	wire_put32(ip + 12, src->ip);
	wire_put32(ip + 16, dst->ip);
	for (int i = 0; i < IPV4_MIN_HDR_LEN; i += 2)
		sum += wire_get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	wire_put16(ip + 10, (uint16_t)~sum);
	wire_put16(udp, src->port);
	wire_put16(udp + 2, dst->port);
	wire_put16(udp + 4, (uint16_t)(UDP_HDR_LEN + payload_len));
	wire_put16(udp + 6, 0);
}
