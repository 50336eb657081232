/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP (RFC 826) for the dataplane's own addresses (docs/protocol.md §6.2, §6.3): the
 * request is Ethernet/IPv4 ARP (htype 1, ptype 0x0800, hlen 6, plen 4, op 1); the reply
 * swaps the roles (op 2), names our MAC as the sender hardware address and goes back to
 * the asker's MAC, with the asker's 802.1Q tag if it had one.
 */
#include <string.h>

#include "arp.h"

#include "../common/wire.h"

#define ETH_HDR_LEN    14
#define VLAN_TAG_LEN   4
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_VLAN 0x8100
#define ARP_BODY_LEN   28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY   2

enum arp_kind arp_parse(const uint8_t *p, uint32_t len, struct arp_request *req)
{
	uint32_t off = ETH_HDR_LEN;
	uint16_t type;

	if (len < ETH_HDR_LEN)
		return ARP_NOT_ARP;
	type = wire_get16(p + 12);
	req->tagged = false;
	req->vlan_tci = 0;
	if (type == ETHERTYPE_VLAN) {
		if (len < ETH_HDR_LEN + VLAN_TAG_LEN)
			return ARP_NOT_ARP;
		req->tagged = true;
		req->vlan_tci = wire_get16(p + ETH_HDR_LEN);
		type = wire_get16(p + ETH_HDR_LEN + 2);
		off += VLAN_TAG_LEN;
	}
	if (type != ETHERTYPE_ARP)
		return ARP_NOT_ARP;
	if (len - off < ARP_BODY_LEN)
		return ARP_MALFORMED;
	const uint8_t *a = p + off;
	if (wire_get16(a) != 1 || wire_get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4)
		return ARP_MALFORMED;
	if (wire_get16(a + 6) != ARP_OP_REQUEST)
		return ARP_OTHER;
	memcpy(req->sender_mac, a + 8, 6);
	req->sender_ip = wire_get32(a + 14);
	req->target_ip = wire_get32(a + 24);
	return ARP_REQUEST;
}

bool arp_is_ours(uint32_t ip, const uint32_t *ours, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (ours[i] == ip && ip != 0)
			return true;
	return false;
}

uint32_t arp_reply(uint8_t *out, const struct arp_request *req, const uint8_t our_mac[6])
{
	uint32_t off = ETH_HDR_LEN, len = ARP_REPLY_LEN;
	uint8_t *a;

	memcpy(out, req->sender_mac, 6);
	memcpy(out + 6, our_mac, 6);
	if (req->tagged) {
		wire_put16(out + 12, ETHERTYPE_VLAN);
		wire_put16(out + 14, req->vlan_tci);
		off += VLAN_TAG_LEN;
		len += VLAN_TAG_LEN;
	}
	wire_put16(out + off - 2, ETHERTYPE_ARP);
	a = out + off;
	wire_put16(a, 1);
	wire_put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	wire_put16(a + 6, ARP_OP_REPLY);
	memcpy(a + 8, our_mac, 6);
	wire_put32(a + 14, req->target_ip);
	memcpy(a + 18, req->sender_mac, 6);
	wire_put32(a + 24, req->sender_ip);
	memset(a + ARP_BODY_LEN, 0, len - off - ARP_BODY_LEN);
	return len;
}
