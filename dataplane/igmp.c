/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IGMP membership messages on byte arrays (igmp.h). Field layouts: RFC 2236 §2
 * (v2: type, max response time, checksum, group), RFC 3376 §4.2 (v3 report: type,
 * reserved, checksum, reserved, number of group records, records of type, aux length,
 * number of sources, group). The IP header carries Router Alert (RFC 2113: option 148,
 * length 4, value 0), which both RFCs require so that routers look at the message.
 */
#include <string.h>

#include "igmp.h"

#include "../common/wire.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_VLAN 0x8100
#define IPPROTO_IGMP_  2
#define IP_TOS_CS6     0xc0 /* network control, as Linux sends IGMP */
#define IP_DF	       0x4000
#define IPOPT_RA       0x94 /* copied flag + option 20 */

void igmp_group_mac(uint32_t group, uint8_t mac[6])
{
	mac[0] = 0x01;
	mac[1] = 0x00;
	mac[2] = 0x5e;
	mac[3] = (uint8_t)((group >> 16) & 0x7f);
	mac[4] = (uint8_t)(group >> 8);
	mac[5] = (uint8_t)group;
}

int igmp_is_multicast(uint32_t ip)
{
	return (ip >> 28) == 0xe;
}

uint16_t igmp_checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += wire_get16(p + i);
	if (i < len)
		sum += (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet and IPv4 (with Router Alert) headers for `igmp_len` bytes of IGMP. */
static void headers(uint8_t *buf, const uint8_t src_mac[6], uint32_t src_ip, uint32_t dst_ip,
		    size_t igmp_len)
{
	uint8_t *ip = buf + IGMP_ETH_LEN;

	igmp_group_mac(dst_ip, buf);
	memcpy(buf + 6, src_mac, 6);
	wire_put16(buf + 12, ETHERTYPE_IPV4);
	ip[0] = 0x40 | (IGMP_IP_LEN / 4);
	ip[1] = IP_TOS_CS6;
	wire_put16(ip + 2, (uint16_t)(IGMP_IP_LEN + igmp_len));
	wire_put16(ip + 4, 0); /* identification: DF is set, nothing to reassemble */
	wire_put16(ip + 6, IP_DF);
	ip[8] = 1; /* TTL 1: link-local by definition (RFC 2236 §2, RFC 3376 §4) */
	ip[9] = IPPROTO_IGMP_;
	wire_put16(ip + 10, 0);
	wire_put32(ip + 12, src_ip);
	wire_put32(ip + 16, dst_ip);
	ip[20] = IPOPT_RA;
	ip[21] = 4;
	ip[22] = 0;
	ip[23] = 0;
	wire_put16(ip + 10, igmp_checksum(ip, IGMP_IP_LEN));
}

/* Zero the Ethernet padding up to the minimum frame; the frame's length. */
static size_t pad(uint8_t *buf, size_t len)
{
	if (len < IGMP_FRAME_MIN) {
		memset(buf + len, 0, IGMP_FRAME_MIN - len);
		len = IGMP_FRAME_MIN;
	}
	return len;
}

size_t igmp_build_v2(uint8_t *buf, size_t cap, uint8_t type, const uint8_t src_mac[6],
		     uint32_t src_ip, uint32_t group)
{
	uint8_t *igmp = buf + IGMP_ETH_LEN + IGMP_IP_LEN;

	if (cap < IGMP_FRAME_MIN)
		return 0;
	headers(buf, src_mac, src_ip, type == IGMP_TYPE_V2_LEAVE ? IGMP_ALL_ROUTERS : group, 8);
	igmp[0] = type;
	igmp[1] = 0; /* max response time: queries only */
	wire_put16(igmp + 2, 0);
	wire_put32(igmp + 4, group);
	wire_put16(igmp + 2, igmp_checksum(igmp, 8));
	return pad(buf, IGMP_ETH_LEN + IGMP_IP_LEN + 8);
}

size_t igmp_build_v3(uint8_t *buf, size_t cap, const uint8_t src_mac[6], uint32_t src_ip,
		     uint8_t record_type, const uint32_t *groups, uint16_t n)
{
	size_t igmp_len = 8 + (size_t)n * IGMP_V3_RECORD_LEN;
	size_t len = IGMP_ETH_LEN + IGMP_IP_LEN + igmp_len;
	uint8_t *igmp = buf + IGMP_ETH_LEN + IGMP_IP_LEN;

	if (n == 0 || n > IGMP_V3_MAX_RECORDS || cap < len || cap < IGMP_FRAME_MIN)
		return 0;
	headers(buf, src_mac, src_ip, IGMP_V3_REPORTS, igmp_len);
	igmp[0] = IGMP_TYPE_V3_REPORT;
	igmp[1] = 0;
	wire_put16(igmp + 2, 0);
	wire_put16(igmp + 4, 0);
	wire_put16(igmp + 6, n);
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *r = igmp + 8 + (size_t)i * IGMP_V3_RECORD_LEN;

		r[0] = record_type;
		r[1] = 0;	      /* aux data length */
		wire_put16(r + 2, 0); /* number of sources: any source */
		wire_put32(r + 4, groups[i]);
	}
	wire_put16(igmp + 2, igmp_checksum(igmp, igmp_len));
	return pad(buf, len);
}

int igmp_classify(const uint8_t *frame, uint32_t len)
{
	uint32_t off = IGMP_ETH_LEN;
	uint16_t type;

	if (len < IGMP_ETH_LEN)
		return 0;
	type = wire_get16(frame + 12);
	if (type == ETHERTYPE_VLAN) {
		if (len < IGMP_ETH_LEN + 4)
			return 0;
		type = wire_get16(frame + 16);
		off += 4;
	}
	if (type != ETHERTYPE_IPV4 || len - off < 20)
		return 0;
	const uint8_t *ip = frame + off;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;

	if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != IPPROTO_IGMP_ ||
	    (wire_get16(ip + 6) & 0x3fff) != 0 || len - off < ihl + 8)
		return 0;
	return ip[ihl];
}
