/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IGMP frames built by igmp.c, byte for byte. The expected frames were written out
 * from an independent encoder (Scapy's IGMP and IGMPv3 layers) and checked by hand:
 * Router Alert option, TTL 1, DSCP CS6, DF, the IPv4 and IGMP checksums.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "../../dataplane/igmp.h"

static const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
#define SRC_IP	0x0a000002u /* 10.0.0.2 */
#define GROUP_A 0xe9360c6fu /* 233.54.12.111 */
#define GROUP_B 0xe931c46fu /* 233.49.196.111 */

/* IGMPv2 report for 233.54.12.111 from 10.0.0.2, before Ethernet padding. */
static const uint8_t v2_report[46] = {
    0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, /* eth */
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xe4, 0x70,		/* ip */
    0x0a, 0x00, 0x00, 0x02, 0xe9, 0x36, 0x0c, 0x6f, 0x94, 0x04, 0x00, 0x00,		/* RA */
    0x16, 0x00, 0xf4, 0x59, 0xe9, 0x36, 0x0c, 0x6f,					/* igmp */
};

/* IGMPv2 leave of 233.54.12.111: to 224.0.0.2. */
static const uint8_t v2_leave[46] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x46, 0xc0,
    0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xfa, 0x13, 0x0a, 0x00, 0x00, 0x02, 0xe0, 0x00,
    0x00, 0x02, 0x94, 0x04, 0x00, 0x00, 0x17, 0x00, 0xf3, 0x59, 0xe9, 0x36, 0x0c, 0x6f,
};

/* IGMPv3 report to 224.0.0.22 joining both groups (CHANGE_TO_EXCLUDE, no sources). */
static const uint8_t v3_join[62] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x16, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x46, 0xc0,
    0x00, 0x30, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xf9, 0xef, 0x0a, 0x00, 0x00, 0x02, 0xe0, 0x00,
    0x00, 0x16, 0x94, 0x04, 0x00, 0x00, 0x22, 0x00, 0x32, 0xb6, 0x00, 0x00, 0x00, 0x02, /* hdr */
    0x04, 0x00, 0x00, 0x00, 0xe9, 0x36, 0x0c, 0x6f,					/* A */
    0x04, 0x00, 0x00, 0x00, 0xe9, 0x31, 0xc4, 0x6f,					/* B */
};

Test(igmp, group_mac)
{
	uint8_t mac[6];
	static const uint8_t want_a[6] = {0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f};
	/* 239.128.0.1 and 224.0.0.1 share a MAC: only 23 bits are mapped (RFC 1112). */
	static const uint8_t want_hi[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};

	igmp_group_mac(GROUP_A, mac);
	cr_expect_arr_eq(mac, want_a, 6);
	igmp_group_mac(0xef800001u, mac);
	cr_expect_arr_eq(mac, want_hi, 6);
	igmp_group_mac(0xe0000001u, mac);
	cr_expect_arr_eq(mac, want_hi, 6);
}

Test(igmp, is_multicast)
{
	cr_expect(igmp_is_multicast(0xe0000000u));
	cr_expect(igmp_is_multicast(0xefffffffu));
	cr_expect_not(igmp_is_multicast(0xdfffffffu));
	cr_expect_not(igmp_is_multicast(0xf0000000u));
	cr_expect_not(igmp_is_multicast(SRC_IP));
}

Test(igmp, checksum)
{
	/* RFC 1071 §3 example bytes: sum 0xddf2, checksum 0x220d. */
	static const uint8_t rfc[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	static const uint8_t odd[3] = {0x01, 0x02, 0x03}; /* padded with a zero byte */

	cr_expect_eq(igmp_checksum(rfc, sizeof(rfc)), 0x220d);
	cr_expect_eq(igmp_checksum(odd, sizeof(odd)), (uint16_t) ~(0x0102 + 0x0300));
	cr_expect_eq(igmp_checksum(NULL, 0), 0xffff);
	/* A header holding its own checksum sums to zero. */
	cr_expect_eq(igmp_checksum(v2_report + 14, 24), 0);
	cr_expect_eq(igmp_checksum(v2_report + 38, 8), 0);
	cr_expect_eq(igmp_checksum(v3_join + 38, 24), 0);
}

Test(igmp, v2_report)
{
	uint8_t buf[128];

	memset(buf, 0xaa, sizeof(buf));
	cr_assert_eq(igmp_build_v2(buf, sizeof(buf), IGMP_TYPE_V2_REPORT, src_mac, SRC_IP, GROUP_A),
		     IGMP_FRAME_MIN);
	cr_expect_arr_eq(buf, v2_report, sizeof(v2_report));
	/* Ethernet padding is zero, and nothing is written past the frame. */
	for (size_t i = sizeof(v2_report); i < IGMP_FRAME_MIN; i++)
		cr_expect_eq(buf[i], 0, "byte %zu", i);
	cr_expect_eq(buf[IGMP_FRAME_MIN], 0xaa);
	/* The Router Alert option and TTL 1, spelled out. */
	cr_expect_eq(buf[14] & 0x0f, 6);
	cr_expect_eq(buf[14 + 8], 1);
	cr_expect_eq(buf[14 + 20], 0x94);
	cr_expect_eq(buf[14 + 21], 4);
}

Test(igmp, v2_leave)
{
	uint8_t buf[IGMP_FRAME_MIN];

	cr_assert_eq(igmp_build_v2(buf, sizeof(buf), IGMP_TYPE_V2_LEAVE, src_mac, SRC_IP, GROUP_A),
		     IGMP_FRAME_MIN);
	cr_expect_arr_eq(buf, v2_leave, sizeof(v2_leave));
}

Test(igmp, v2_source_zero)
{
	uint8_t buf[IGMP_FRAME_MIN];

	/* A port without an address reports from 0.0.0.0; the checksum still holds. */
	cr_assert_eq(igmp_build_v2(buf, sizeof(buf), IGMP_TYPE_V2_REPORT, src_mac, 0, GROUP_B),
		     IGMP_FRAME_MIN);
	cr_expect_eq(buf[26] | buf[27] | buf[28] | buf[29], 0);
	cr_expect_eq(igmp_checksum(buf + 14, 24), 0);
	cr_expect_eq(igmp_checksum(buf + 38, 8), 0);
}

Test(igmp, v2_too_small)
{
	uint8_t buf[IGMP_FRAME_MIN];

	cr_expect_eq(
	    igmp_build_v2(buf, IGMP_FRAME_MIN - 1, IGMP_TYPE_V2_REPORT, src_mac, SRC_IP, GROUP_A),
	    0);
}

Test(igmp, v3_join)
{
	uint8_t buf[128];
	const uint32_t groups[2] = {GROUP_A, GROUP_B};

	cr_assert_eq(
	    igmp_build_v3(buf, sizeof(buf), src_mac, SRC_IP, IGMP_V3_CHANGE_TO_EXCLUDE, groups, 2),
	    sizeof(v3_join));
	cr_expect_arr_eq(buf, v3_join, sizeof(v3_join));
}

Test(igmp, v3_one_group_is_padded)
{
	uint8_t buf[IGMP_FRAME_MIN];
	const uint32_t g = GROUP_A;

	/* 14 + 24 + 16 = 54 bytes of frame: padded to 60. */
	cr_assert_eq(
	    igmp_build_v3(buf, sizeof(buf), src_mac, SRC_IP, IGMP_V3_MODE_IS_EXCLUDE, &g, 1),
	    IGMP_FRAME_MIN);
	cr_expect_eq(buf[38], IGMP_TYPE_V3_REPORT);
	cr_expect_eq(buf[38 + 8], IGMP_V3_MODE_IS_EXCLUDE);
	cr_expect_eq((buf[16] << 8) | buf[17], 24 + 16); /* IP total length excludes padding */
	cr_expect_eq(igmp_checksum(buf + 38, 16), 0);
	cr_expect_eq(buf[54] | buf[59], 0);
}

Test(igmp, v3_limits)
{
	static uint8_t buf[IGMP_V3_FRAME_MAX + 1];
	static uint32_t groups[IGMP_V3_MAX_RECORDS + 1];

	for (uint32_t i = 0; i <= IGMP_V3_MAX_RECORDS; i++)
		groups[i] = 0xe9000000u + i;
	cr_expect_eq(
	    igmp_build_v3(buf, sizeof(buf), src_mac, SRC_IP, IGMP_V3_MODE_IS_EXCLUDE, groups, 0),
	    0);
	cr_expect_eq(igmp_build_v3(buf, sizeof(buf), src_mac, SRC_IP, IGMP_V3_MODE_IS_EXCLUDE,
				   groups, IGMP_V3_MAX_RECORDS + 1),
		     0);
	/* The largest report fills a 1500-byte IP packet exactly. */
	cr_assert_eq(igmp_build_v3(buf, sizeof(buf), src_mac, SRC_IP, IGMP_V3_MODE_IS_EXCLUDE,
				   groups, IGMP_V3_MAX_RECORDS),
		     IGMP_V3_FRAME_MAX);
	cr_expect_leq(IGMP_V3_FRAME_MAX - 14, 1500);
	cr_expect_eq((buf[16] << 8) | buf[17], IGMP_V3_FRAME_MAX - 14);
	cr_expect_eq(igmp_checksum(buf + 14, 24), 0);
	cr_expect_eq(igmp_checksum(buf + 38, IGMP_V3_FRAME_MAX - 38), 0);
	cr_expect_eq(igmp_build_v3(buf, IGMP_V3_FRAME_MAX - 1, src_mac, SRC_IP,
				   IGMP_V3_MODE_IS_EXCLUDE, groups, IGMP_V3_MAX_RECORDS),
		     0);
}

/* A general IGMPv2 query from 10.0.0.1 to 224.0.0.1 (max response 10 s). */
static const uint8_t v2_query[46] = {
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x09, 0x08, 0x00, 0x46, 0xc0,
    0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0xfa, 0x15, 0x0a, 0x00, 0x00, 0x01, 0xe0, 0x00,
    0x00, 0x01, 0x94, 0x04, 0x00, 0x00, 0x11, 0x64, 0xee, 0x9b, 0x00, 0x00, 0x00, 0x00,
};

Test(igmp, classify)
{
	uint8_t buf[64];

	cr_expect_eq(igmp_checksum(v2_query + 14, 24), 0);
	cr_expect_eq(igmp_checksum(v2_query + 38, 8), 0);
	cr_expect_eq(igmp_classify(v2_query, sizeof(v2_query)), IGMP_TYPE_QUERY);
	cr_expect_eq(igmp_classify(v2_report, sizeof(v2_report)), IGMP_TYPE_V2_REPORT);
	cr_expect_eq(igmp_classify(v3_join, sizeof(v3_join)), IGMP_TYPE_V3_REPORT);
	/* cut inside the IGMP header, or inside the IP header */
	cr_expect_eq(igmp_classify(v2_query, 14 + 24 + 7), 0);
	cr_expect_eq(igmp_classify(v2_query, 14 + 19), 0);
	cr_expect_eq(igmp_classify(v2_query, 13), 0);
	/* with an 802.1Q tag */
	memcpy(buf, v2_query, 12);
	buf[12] = 0x81;
	buf[13] = 0x00;
	buf[14] = 0x00;
	buf[15] = 0x64;
	memcpy(buf + 16, v2_query + 12, sizeof(v2_query) - 12);
	cr_expect_eq(igmp_classify(buf, sizeof(v2_query) + 4), IGMP_TYPE_QUERY);
	/* not IGMP: UDP protocol, a fragment, IPv6 EtherType, IPv4 version wrong */
	memcpy(buf, v2_query, sizeof(v2_query));
	buf[23] = 17;
	cr_expect_eq(igmp_classify(buf, sizeof(v2_query)), 0);
	memcpy(buf, v2_query, sizeof(v2_query));
	buf[20] = 0x20; /* MF */
	cr_expect_eq(igmp_classify(buf, sizeof(v2_query)), 0);
	memcpy(buf, v2_query, sizeof(v2_query));
	buf[12] = 0x86;
	buf[13] = 0xdd;
	cr_expect_eq(igmp_classify(buf, sizeof(v2_query)), 0);
	memcpy(buf, v2_query, sizeof(v2_query));
	buf[14] = 0x66;
	cr_expect_eq(igmp_classify(buf, sizeof(v2_query)), 0);
}
