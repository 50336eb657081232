/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * frame_parse_udp (docs/protocol.md §3.1): Ethernet II, one optional 802.1Q tag, IPv4 with options
 * and without fragments, UDP; every other frame yields its drop reason.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "frame.h"
#include "stats.h"

/*
 * 01:00:5e:36:0c:6f <- 02:00:00:00:00:01, IPv4 10.0.0.1 -> 233.54.12.111, UDP
 * 40000 -> 26477, carrying a 20-byte MoldUDP64 heartbeat. Checksums left 0 on purpose:
 * the parser must not depend on them.
 */
static const uint8_t untagged[] = {
    0x01,
    0x00,
    0x5e,
    0x36,
    0x0c,
    0x6f,
    0x02,
    0x00,
    0x00,
    0x00,
    0x00,
    0x01,
    0x08,
    0x00,
    /* IPv4: ver/IHL, TOS, total 48, id, flags DF, TTL 64, UDP, csum, src, dst */
    0x45,
    0x00,
    0x00,
    0x30,
    0x12,
    0x34,
    0x40,
    0x00,
    0x40,
    0x11,
    0x00,
    0x00,
    10,
    0,
    0,
    1,
    233,
    54,
    12,
    111,
    /* UDP: 40000 -> 26477, length 28, csum 0 */
    0x9c,
    0x40,
    0x67,
    0x6d,
    0x00,
    0x1c,
    0x00,
    0x00,
    /* MoldUDP64 heartbeat "SESSION001" seq 7 */
    'S',
    'E',
    'S',
    'S',
    'I',
    'O',
    'N',
    '0',
    '0',
    '1',
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    7,
    0,
    0,
};

/* The same packet with one 802.1Q tag (PCP 3, VID 100). */
static const uint8_t tagged[] = {
    0x01, 0x00, 0x5e, 0x36, 0x0c, 0x6f, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x81, 0x00,
    0x60, 0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x30, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11,
    0x00, 0x00, 10,   0,    0,	  1,	233,  54,   12,	  111,	0x9c, 0x40, 0x67, 0x6d,
    0x00, 0x1c, 0x00, 0x00, 'S',  'E',	'S',  'S',  'I',  'O',	'N',  '0',  '0',  '1',
    0,	  0,	0,    0,    0,	  0,	0,    7,    0,	  0,
};

/* ARP request: EtherType 0x0806. */
static const uint8_t arp[] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00,
    0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10,	0,
    0,	  1,	0,    0,    0,	  0,	0,    0,    10,	  0,	0,    2,    0,	  0,	0,
    0,	  0,	0,    0,    0,	  0,	0,    0,    0,	  0,	0,    0,    0,	  0,	0,
};

#define IP_OFF	14
#define UDP_OFF 34

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A consistent frame: optional tag, IHL `ihl` (options filled with NOP), `payload`
 * bytes of UDP payload. Returns the frame length.
 */
static uint32_t build(uint8_t *buf, int vlan, unsigned int ihl, unsigned int payload)
{
	uint32_t off = 14;

	memset(buf, 0, 2048);
	memcpy(buf, untagged, 12);
	if (vlan) {
		put16(buf + 12, 0x8100);
		put16(buf + 14, 0x0064);
		off = 18;
	}
	put16(buf + off - 2, 0x0800);
	uint8_t *ip = buf + off;
	ip[0] = (uint8_t)(0x40 | ihl);
	put16(ip + 2, (uint16_t)(ihl * 4 + 8 + payload));
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, (const uint8_t[]){10, 0, 0, 1, 233, 54, 12, 111}, 8);
	memset(ip + 20, 1, ihl * 4 - 20); /* IPv4 option NOP */
	uint8_t *udp = ip + ihl * 4;
	put16(udp, 40000);
	put16(udp + 2, 26477);
	put16(udp + 4, (uint16_t)(8 + payload));
	for (unsigned int i = 0; i < payload; i++)
		udp[8 + i] = (uint8_t)(0xa0 + i);
	return off + ihl * 4 + 8 + payload;
}

Test(frame, untagged)
{
	struct frame_udp f;

	cr_assert_eq(frame_parse_udp(untagged, sizeof(untagged), &f), 0);
	cr_assert_eq(f.dst_ip, 0xe9360c6fu);
	cr_assert_eq(f.src_ip, 0x0a000001u);
	cr_assert_eq(f.dst_port, 26477);
	cr_assert_eq(f.src_port, 40000);
	cr_assert_eq(f.vlan_tci, 0);
	cr_assert_eq(f.payload_off, 42);
	cr_assert_eq(f.payload_len, 20);
	cr_assert_eq(untagged[f.payload_off], 'S');
}

Test(frame, one_vlan_tag)
{
	struct frame_udp f;

	cr_assert_eq(frame_parse_udp(tagged, sizeof(tagged), &f), 0);
	cr_assert_eq(f.vlan_tci, 0x6064);
	cr_assert_eq(f.dst_ip, 0xe9360c6fu);
	cr_assert_eq(f.dst_port, 26477);
	cr_assert_eq(f.payload_off, 46);
	cr_assert_eq(f.payload_len, 20);
	cr_assert_eq(tagged[f.payload_off], 'S');
}

Test(frame, stacked_tags)
{
	uint8_t buf[2048];
	struct frame_udp f;
	/* 802.1Q in 802.1Q, 802.1ad outer, 802.1ad inside 802.1Q */
	static const uint16_t outer[] = {0x8100, 0x88a8, 0x8100, 0x88a8};
	static const uint16_t inner[] = {0x8100, 0x8100, 0x88a8, 0x0800};

	for (unsigned int i = 0; i < 4; i++) {
		uint32_t len = build(buf, 1, 5, 20);
		/* shift the IPv4 packet to make room for a second tag */
		memmove(buf + 22, buf + 18, len - 18);
		put16(buf + 12, outer[i]);
		put16(buf + 16, inner[i]);
		put16(buf + 18, 0x0065);
		put16(buf + 20, 0x0800);
		cr_assert_eq(frame_parse_udp(buf, len + 4, &f), DROP_VLAN_STACKED, "case %u", i);
	}
}

Test(frame, not_ipv4)
{
	uint8_t buf[2048];
	struct frame_udp f;

	cr_assert_eq(frame_parse_udp(arp, sizeof(arp), &f), DROP_NOT_IPV4);

	uint32_t len = build(buf, 0, 5, 20);
	put16(buf + 12, 0x86dd); /* IPv6 */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_NOT_IPV4);

	len = build(buf, 1, 5, 20);
	put16(buf + 16, 0x86dd); /* IPv6 behind a tag */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_NOT_IPV4);
	put16(buf + 16, 0x0806); /* ARP behind a tag */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_NOT_IPV4);
}

Test(frame, ipv4_options)
{
	uint8_t buf[2048];
	struct frame_udp f;

	for (int vlan = 0; vlan <= 1; vlan++) {
		for (unsigned int ihl = 5; ihl <= 15; ihl++) {
			uint32_t len = build(buf, vlan, ihl, 33);
			cr_assert_eq(frame_parse_udp(buf, len, &f), 0, "vlan %d ihl %u", vlan, ihl);
			cr_assert_eq(f.payload_off, (vlan ? 18 : 14) + ihl * 4 + 8);
			cr_assert_eq(f.payload_len, 33);
			cr_assert_eq(buf[f.payload_off], 0xa0);
			cr_assert_eq(f.dst_port, 26477);
		}
	}
}

Test(frame, bad_ip_header)
{
	uint8_t buf[2048];
	struct frame_udp f;
	uint32_t len;

	for (unsigned int ihl = 0; ihl < 5; ihl++) {
		len = build(buf, 0, 5, 20);
		buf[IP_OFF] = (uint8_t)(0x40 | ihl);
		cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_HEADER, "ihl %u", ihl);
	}
	len = build(buf, 0, 5, 20);
	buf[IP_OFF] = 0x65; /* version 6 behind EtherType IPv4 */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_HEADER);

	len = build(buf, 0, 6, 20);
	put16(buf + IP_OFF + 2, 23); /* total length shorter than the header */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_HEADER);

	len = build(buf, 0, 5, 20);
	put16(buf + IP_OFF + 2, (uint16_t)(len - IP_OFF + 1)); /* one byte past the frame */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_HEADER);
}

Test(frame, fragments)
{
	uint8_t buf[2048];
	struct frame_udp f;
	uint32_t len = build(buf, 0, 5, 20);

	put16(buf + IP_OFF + 6, 0x4000); /* DF only: a whole datagram */
	cr_assert_eq(frame_parse_udp(buf, len, &f), 0);
	put16(buf + IP_OFF + 6, 0x2000); /* MF: first fragment */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_FRAGMENT);
	put16(buf + IP_OFF + 6, 0x0001); /* offset 8: last fragment */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_FRAGMENT);
	put16(buf + IP_OFF + 6, 0x3fff);
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_IP_FRAGMENT);
}

Test(frame, not_udp)
{
	uint8_t buf[2048];
	struct frame_udp f;
	static const uint8_t protos[] = {1, 2, 6, 47, 132, 255};

	for (unsigned int i = 0; i < sizeof(protos); i++) {
		uint32_t len = build(buf, i & 1, 5, 20);
		buf[(i & 1 ? 18 : 14) + 9] = protos[i];
		cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_NOT_UDP, "proto %u", protos[i]);
	}
}

Test(frame, bad_udp_length)
{
	uint8_t buf[2048];
	struct frame_udp f;
	uint32_t len;

	for (uint16_t ul = 0; ul < 8; ul++) {
		len = build(buf, 0, 5, 20);
		put16(buf + UDP_OFF + 4, ul);
		cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_UDP_LENGTH, "udp len %u", ul);
	}
	len = build(buf, 0, 5, 20);
	put16(buf + UDP_OFF + 4, 29); /* one past the IP payload */
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_UDP_LENGTH);
	put16(buf + UDP_OFF + 4, 0xffff);
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_UDP_LENGTH);

	/* IP payload too small for a UDP header, frame long enough */
	len = build(buf, 0, 5, 20);
	put16(buf + IP_OFF + 2, 27);
	cr_assert_eq(frame_parse_udp(buf, len, &f), DROP_UDP_LENGTH);

	/* UDP shorter than the IP payload: UDP length bounds the payload */
	len = build(buf, 0, 5, 20);
	put16(buf + UDP_OFF + 4, 8 + 12);
	cr_assert_eq(frame_parse_udp(buf, len, &f), 0);
	cr_assert_eq(f.payload_len, 12);
}

Test(frame, ethernet_padding)
{
	uint8_t buf[2048];
	struct frame_udp f;

	/* 2-byte UDP payload: 44-byte frame padded to the 60-byte Ethernet minimum */
	uint32_t len = build(buf, 0, 5, 2);
	cr_assert_eq(len, 44);
	memset(buf + len, 0xee, 60 - len);
	cr_assert_eq(frame_parse_udp(buf, 60, &f), 0);
	cr_assert_eq(f.payload_off, 42);
	cr_assert_eq(f.payload_len, 2);

	/* and an empty UDP datagram, tagged, plus 4 bytes of FCS-like trailer */
	len = build(buf, 1, 5, 0);
	memset(buf + len, 0xee, 64 - len);
	cr_assert_eq(frame_parse_udp(buf, 64, &f), 0);
	cr_assert_eq(f.payload_off, 46);
	cr_assert_eq(f.payload_len, 0);
}

Test(frame, runts_every_truncation)
{
	struct frame_udp f;

	/* Headers end at 42 (untagged) / 46 (tagged); past that the IP packet is cut. */
	for (uint32_t k = 0; k < sizeof(untagged); k++) {
		int want = k < 42 ? DROP_RUNT : DROP_IP_HEADER;
		cr_assert_eq(frame_parse_udp(untagged, k, &f), want, "untagged len %u", k);
	}
	for (uint32_t k = 0; k < sizeof(tagged); k++) {
		int want = k < 46 ? DROP_RUNT : DROP_IP_HEADER;
		cr_assert_eq(frame_parse_udp(tagged, k, &f), want, "tagged len %u", k);
	}
	/* options cut by the end of the frame are a runt too */
	uint8_t buf[2048];
	uint32_t len = build(buf, 0, 15, 4);
	for (uint32_t k = 0; k < len; k++) {
		int want = k < 14 + 60 + 8 ? DROP_RUNT : DROP_IP_HEADER;
		cr_assert_eq(frame_parse_udp(buf, k, &f), want, "ihl 15 len %u", k);
	}
	cr_assert_eq(frame_parse_udp(buf, len, &f), 0);
	/* a truncated ARP frame is a runt only while the EtherType is missing */
	cr_assert_eq(frame_parse_udp(arp, 13, &f), DROP_RUNT);
	cr_assert_eq(frame_parse_udp(arp, 14, &f), DROP_NOT_IPV4);
}

Test(frame, out_untouched_on_drop)
{
	struct frame_udp f;

	memset(&f, 0x5a, sizeof(f));
	cr_assert_eq(frame_parse_udp(untagged, 41, &f), DROP_RUNT);
	for (size_t i = 0; i < sizeof(f); i++)
		cr_assert_eq(((uint8_t *)&f)[i], 0x5a);
}
