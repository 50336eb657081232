/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for what subscribers send to a retransmitting port
 * (dataplane/retransmit.c over mold_request.c and arp.c, docs/protocol.md §6.2): the
 * input is one frame arriving on a port with two subscribers whose histories hold 500
 * messages each (ITCH system events). Its UDP payload is also given to the request parser alone,
 * and the frame to the ARP parser. Checked: a parsed request asks for 1..0xFFFE messages from
 * sequence 1 on; an ARP reply is a whole frame; every answer frame is a valid UDP
 * datagram to a subscriber's address carrying MoldUDP64 in that subscriber's session,
 * within its max_payload, at most the call's budget of frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arp.h"
#include "feed_moldudp64.h"
#include "frame.h"
#include "fuzz.h"
#include "history.h"
#include "mold_request.h"
#include "retransmit.h"

#define HZ  1000000
#define CAP 8

static struct retransmit_port port;
static struct retransmit_sub subs[2];
static struct history hist[2];
static struct token_bucket bucket[2];
static struct history_hint hint[2];
static struct counter_sub sub_c[2];
static struct counter_port port_c;
static uint8_t buf[CAP][2048], *frames[CAP];
static uint32_t lens[CAP];
static uint64_t now = 1;

static void setup(void)
{
	static const char *sessions[2] = {"ALPHA00001", "BETA      "};

	memcpy(port.mac, "\x02\xaa\x00\x00\x00\x01", 6);
	port.ip = 0x0a0100fe;
	port.udp = 31999;
	port.subs = subs;
	port.n_subs = 2;
	port.rate = 100000;
	port.tsc_hz = HZ;
	port.c = &port_c;
	for (int i = 0; i < 2; i++) {
		void *mem = aligned_alloc(64, (history_mem_size(200) + 63) & ~(size_t)63);

		CHECK(mem != NULL);
		memcpy(subs[i].session, sessions[i], 10);
		subs[i].dst_ip = 0x0a010101 + (uint32_t)i;
		subs[i].max_payload = 200 + 300 * (uint16_t)i;
		history_init(&hist[i], 200, mem);
		subs[i].hist = &hist[i];
		subs[i].bucket = &bucket[i];
		subs[i].hint = &hint[i];
		subs[i].c = &sub_c[i];
		for (uint64_t s = 1; s <= 500; s++) {
			/* one frame per ITCH 5.0 system event message (12 bytes): what
			 * mold_parse accepts, as a block (u16 length + message) */
			uint8_t b[2 + 12] = {0, 12, 'S'};

			b[13] = (uint8_t)s;
			history_frame(&hist[i], s, b, sizeof(b), 1);
		}
		retransmit_bucket_start(&bucket[i], port.rate, HZ, now);
	}
	for (int i = 0; i < CAP; i++)
		frames[i] = buf[i];
}

static void check_answer(const uint8_t *f, uint32_t len)
{
	struct frame_udp u;
	struct mold_hdr h;
	int sub = -1;

	CHECK(len <= sizeof(buf[0]));
	CHECK(frame_parse_udp(f, len, &u) == 0);
	for (int i = 0; i < 2; i++)
		if (u.dst_ip == subs[i].dst_ip)
			sub = i;
	CHECK(sub >= 0);
	CHECK(u.src_ip == port.ip && u.src_port == port.udp);
	CHECK(u.payload_len <= subs[sub].max_payload);
	{
		enum mold_error e = mold_parse(f + u.payload_off, u.payload_len, &h);

		if (e != MOLD_OK) {
			fprintf(stderr, "answer: %s (payload %u bytes)\n", mold_error_str(e),
				u.payload_len);
			abort();
		}
	}
	CHECK(memcmp(h.session, subs[sub].session, 10) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct retransmit_out out = {frames, lens, CAP, sizeof(buf[0]), 0};
	uint32_t len = size > 4096 ? 4096 : (uint32_t)size;
	struct mold_request req;
	struct arp_request arp;
	struct frame_udp u;
	uint8_t reply[ARP_REPLY_LEN + 4];

	if (port.n_subs == 0)
		setup();
	now += 1000; /* a millisecond per frame: the buckets refill slowly */
	if (mold_request_parse(data, len, &req) == MOLD_REQ_OK)
		CHECK(req.seq >= 1 && req.count >= 1 && req.count <= MOLD_REQUEST_COUNT_MAX);
	if (frame_parse_udp(data, len, &u) == 0 &&
	    mold_request_parse(data + u.payload_off, u.payload_len, &req) == MOLD_REQ_OK)
		CHECK(u.payload_len == MOLD_REQUEST_LEN);
	if (arp_parse(data, len, &arp) == ARP_REQUEST) {
		uint32_t n = arp_reply(reply, &arp, port.mac);

		CHECK(n == ARP_REPLY_LEN + (arp.tagged ? 4u : 0u));
	}
	switch (retransmit_frame(&port, data, len, now, &out)) {
	case RETRANSMIT_REQUEST:
		CHECK(out.n <= CAP);
		for (uint32_t i = 0; i < out.n; i++)
			check_answer(frames[i], lens[i]);
		break;
	case RETRANSMIT_ARP:
		CHECK(out.n <= 1);
		break;
	default:
		CHECK(out.n == 0);
		break;
	}
	return 0;
}
