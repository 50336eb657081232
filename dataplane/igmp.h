/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IGMP membership messages (RFC 2236 IGMPv2, RFC 3376 IGMPv3), built and recognised on
 * byte arrays: no mbufs, no EAL, so the unit tests check every byte. DPDK sends no IGMP
 * (docs/operations.md §3, multicast membership): the control thread (mcast.c) puts these frames on
 * the RX ports' control TX queue so that switches and routers forward the feed groups to the
 * appliance.
 *
 * Every frame is Ethernet II / IPv4 with the Router Alert option (RFC 2113, required
 * by RFC 2236 §2 and RFC 3376 §4), TTL 1, DSCP CS6 / IGMP, padded to the 60-byte
 * Ethernet minimum.
 */
#ifndef ASTER_IGMP_H
#define ASTER_IGMP_H

#include <stddef.h>
#include <stdint.h>

#define IGMP_ETH_LEN   14
#define IGMP_IP_LEN    24 /* 20 + the 4-byte Router Alert option */
#define IGMP_FRAME_MIN 60 /* Ethernet minimum without FCS */

/* IGMP message types */
#define IGMP_TYPE_QUERY	    0x11
#define IGMP_TYPE_V1_REPORT 0x12
#define IGMP_TYPE_V2_REPORT 0x16
#define IGMP_TYPE_V2_LEAVE  0x17
#define IGMP_TYPE_V3_REPORT 0x22

/* IGMPv3 group record types (RFC 3376 §4.2.12). A host with no source list reports
 * "exclude nothing" = receive from every source. */
#define IGMP_V3_MODE_IS_EXCLUDE	  2 /* current state: answer to a query, periodic */
#define IGMP_V3_CHANGE_TO_INCLUDE 3 /* with no sources: leave */
#define IGMP_V3_CHANGE_TO_EXCLUDE 4 /* with no sources: join */

#define IGMP_ALL_ROUTERS   0xe0000002u /* 224.0.0.2: v2 leaves go here */
#define IGMP_V3_REPORTS	   0xe0000016u /* 224.0.0.22: v3 reports go here */
#define IGMP_V3_RECORD_LEN 8
/* Records per v3 report within a 1500-byte IP MTU: (1500 - 24 - 8) / 8. */
#define IGMP_V3_MAX_RECORDS 183
#define IGMP_V3_FRAME_MAX                                                                          \
	(IGMP_ETH_LEN + IGMP_IP_LEN + 8 + IGMP_V3_MAX_RECORDS * IGMP_V3_RECORD_LEN)

/* The multicast MAC of an IPv4 group (RFC 1112 §6.4): 01:00:5e + its low 23 bits. */
void igmp_group_mac(uint32_t group, uint8_t mac[6]);

/* Whether an IPv4 address (host order) is a multicast group (224.0.0.0/4). */
int igmp_is_multicast(uint32_t ip);

/* RFC 1071 Internet checksum of `len` bytes (the value to store, big-endian order in
 * the returned integer: write it as p[0] = v >> 8, p[1] = v & 0xff). */
uint16_t igmp_checksum(const uint8_t *p, size_t len);

/*
 * An IGMPv2 message of `type` (IGMP_TYPE_V2_REPORT or IGMP_TYPE_V2_LEAVE) for `group`
 * from (src_mac, src_ip), IPs in host order. A report goes to the group itself, a leave
 * to 224.0.0.2. Returns the frame length (IGMP_FRAME_MIN), or 0 when `cap` is too small.
 */
size_t igmp_build_v2(uint8_t *buf, size_t cap, uint8_t type, const uint8_t src_mac[6],
		     uint32_t src_ip, uint32_t group);

/*
 * An IGMPv3 report to 224.0.0.22 with one record of `record_type` and no sources for
 * each of `groups[0..n)`, n in 1..IGMP_V3_MAX_RECORDS. Returns the frame length, or 0
 * when n is out of range or `cap` too small.
 */
size_t igmp_build_v3(uint8_t *buf, size_t cap, const uint8_t src_mac[6], uint32_t src_ip,
		     uint8_t record_type, const uint32_t *groups, uint16_t n);

/*
 * If `frame` is an IPv4 IGMP message (Ethernet II, at most one 802.1Q tag, IPv4 of
 * protocol 2, not a fragment), its IGMP type; 0 otherwise or when cut short. The RX
 * lcore calls it for the frames the UDP parser refused as not_udp.
 */
int igmp_classify(const uint8_t *frame, uint32_t len);

#endif
