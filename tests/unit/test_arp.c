/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP for the dataplane's own addresses (docs/protocol.md §6.2, §6.3): requests are
 * recognised (tagged or not), everything else is told apart, and the reply is the exact
 * RFC 826 answer, unicast back, with the asker's tag.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "arp.h"

/* who has 10.1.0.254? tell 10.1.0.9 (02:00:00:00:01:09), broadcast */
static const uint8_t request[42] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x01, 0x09, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x09,
    10,	  1,	0,    9,    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10,   1,    0,	  254,
};

static const uint8_t our_mac[6] = {0x02, 0xaa, 0x00, 0x00, 0x00, 0x01};

/* 10.1.0.254 is at 02:aa:00:00:00:01, to 02:00:00:00:01:09, padded to 60 bytes */
static const uint8_t reply[60] = {
    0x02, 0x00, 0x00, 0x00, 0x01, 0x09, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0xaa, 0x00, 0x00, 0x00, 0x01,
    10,	  1,	0,    254,  0x02, 0x00, 0x00, 0x00, 0x01, 0x09, 10,   1,    0,	  9,
};

Test(arp, request_and_reply)
{
	struct arp_request r;
	uint8_t out[64];
	const uint32_t ours[] = {0x0a000002, 0x0a0100fe};

	cr_assert_eq(arp_parse(request, sizeof(request), &r), ARP_REQUEST);
	cr_expect_eq(r.sender_ip, 0x0a010009);
	cr_expect_eq(r.target_ip, 0x0a0100fe);
	cr_expect_arr_eq(r.sender_mac, request + 6, 6);
	cr_expect_not(r.tagged);
	cr_expect(arp_is_ours(r.target_ip, ours, 2));
	cr_expect_not(arp_is_ours(r.target_ip, ours, 1));
	cr_expect_not(arp_is_ours(0, (const uint32_t[]){0}, 1), "0.0.0.0 is nobody's");
	memset(out, 0x55, sizeof(out));
	cr_assert_eq(arp_reply(out, &r, our_mac), 60);
	cr_expect_arr_eq(out, reply, sizeof(reply));
	/* Ethernet padding after the 42 bytes of the frame is not part of the request */
	cr_expect_eq(arp_parse(reply, 60, &r), ARP_OTHER, "a reply is not answered");
}

Test(arp, tagged_request_gets_a_tagged_reply)
{
	uint8_t t[46], out[64];
	struct arp_request r;

	memcpy(t, request, 12);
	t[12] = 0x81, t[13] = 0x00, t[14] = 0x00, t[15] = 0x64; /* VLAN 100 */
	memcpy(t + 16, request + 12, 30);
	cr_assert_eq(arp_parse(t, sizeof(t), &r), ARP_REQUEST);
	cr_expect(r.tagged);
	cr_expect_eq(r.vlan_tci, 100);
	cr_assert_eq(arp_reply(out, &r, our_mac), 64);
	cr_expect_arr_eq(out, reply, 12);
	cr_expect_eq(out[12], 0x81);
	cr_expect_eq(out[15], 0x64);
	cr_expect_arr_eq(out + 16, reply + 12, 60 - 12 - 4);
}

Test(arp, not_arp_and_malformed)
{
	uint8_t b[42];
	struct arp_request r;

	memcpy(b, request, sizeof(b));
	b[13] = 0x00; /* IPv4 */
	cr_expect_eq(arp_parse(b, sizeof(b), &r), ARP_NOT_ARP);
	cr_expect_eq(arp_parse(request, 13, &r), ARP_NOT_ARP);
	cr_expect_eq(arp_parse(request, 41, &r), ARP_MALFORMED, "cut short");
	memcpy(b, request, sizeof(b));
	b[18] = 8; /* hardware address length */
	cr_expect_eq(arp_parse(b, sizeof(b), &r), ARP_MALFORMED);
	memcpy(b, request, sizeof(b));
	b[16] = 0x86, b[17] = 0xdd; /* protocol IPv6 */
	cr_expect_eq(arp_parse(b, sizeof(b), &r), ARP_MALFORMED);
	memcpy(b, request, sizeof(b));
	b[21] = 3; /* RARP request */
	cr_expect_eq(arp_parse(b, sizeof(b), &r), ARP_OTHER);
}
