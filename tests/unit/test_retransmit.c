/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The retransmission server's decisions (docs/protocol.md §6.2): ARP for the port's
 * src_ip, requests served from the history to the requester's address as first sent,
 * within max_payload, the count and the token bucket; malformed requests, unknown
 * sessions, wrong sources, messages too old or not sent yet, history 0 and the answer
 * budget each counted.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "feed_moldudp64.h"
#include "frame.h"
#include "mold_request.h"
#include "retransmit.h"

#define HZ	 1000000ull /* a 1 MHz TSC: ticks are microseconds */
#define PORT_IP	 0x0a0100fe /* 10.1.0.254 */
#define PORT_UDP 31999
#define CAP	 8

static struct {
	struct retransmit_port p;
	struct retransmit_sub subs[3];
	struct token_bucket bucket[3];
	struct history_hint hint[3];
	struct counter_sub c[3];
	struct counter_port pc;
	struct history h[3];
	void *mem[3];
	uint8_t buf[CAP][2048];
	uint8_t *frames[CAP];
	uint32_t len[CAP];
	struct retransmit_out out;
} T;

/* message `seq` of subscriber i: 20..39 bytes derived from both */
static uint16_t msg_of(int i, uint64_t seq, uint8_t *m)
{
	uint16_t len = (uint16_t)(20 + (seq * 13 + (uint64_t)i) % 20);

	for (uint16_t k = 0; k < len; k++)
		m[k] = (uint8_t)(seq + (uint64_t)k * 7 + (uint64_t)i * 100);
	return len;
}

/* alpha (10.1.1.1), beta (10.1.1.2), gamma (history 0); 1000 messages sent to each */
static void setup(uint32_t rate)
{
	static const char *sessions[3] = {"ALPHA00001", "BETA      ", "GAMMA     "};
	static const uint32_t hist[3] = {200, 200, 0};

	memset(&T, 0, sizeof(T));
	memcpy(T.p.mac, "\x02\xaa\x00\x00\x00\x01", 6);
	T.p.ip = PORT_IP;
	T.p.udp = PORT_UDP;
	T.p.subs = T.subs;
	T.p.n_subs = 3;
	T.p.rate = rate;
	T.p.tsc_hz = HZ;
	T.p.c = &T.pc;
	for (int i = 0; i < 3; i++) {
		memcpy(T.subs[i].session, sessions[i], 10);
		T.subs[i].dst_ip = 0x0a010101 + (uint32_t)i;
		T.subs[i].max_payload = 200;
		T.mem[i] =
		    hist[i] ? aligned_alloc(64, (history_mem_size(hist[i]) + 63) & ~63ul) : NULL;
		history_init(&T.h[i], hist[i], T.mem[i]);
		T.subs[i].hist = &T.h[i];
		T.subs[i].bucket = &T.bucket[i]; /* zeroed: started at the first request */
		T.subs[i].hint = &T.hint[i];
		T.subs[i].c = &T.c[i];
		for (uint64_t s = 1; s <= 1000; s += 4) { /* frames of 4 messages */
			uint8_t blocks[4 * 64];
			uint32_t used = 0;

			for (uint64_t k = s; k < s + 4; k++) {
				uint16_t len = msg_of(i, k, blocks + used + 2);

				blocks[used] = (uint8_t)(len >> 8);
				blocks[used + 1] = (uint8_t)len;
				used += 2u + len;
			}
			history_frame(&T.h[i], s, blocks, used, 4);
		}
	}
	for (int i = 0; i < 3; i++)
		retransmit_bucket_start(&T.bucket[i], rate, HZ, 0);
	for (int i = 0; i < CAP; i++)
		T.frames[i] = T.buf[i];
	T.out = (struct retransmit_out){T.frames, T.len, CAP, sizeof(T.buf[0]), 0};
}

static enum retransmit_kind request_from(uint32_t src_ip, const char *session, uint64_t seq,
					 uint16_t count, uint64_t now)
{
	const struct frame_endpoint src = {{0x02, 0, 0, 0, 1, 9}, src_ip, 40001};
	const struct frame_endpoint dst = {{0x02, 0xaa, 0, 0, 0, 1}, PORT_IP, PORT_UDP};
	uint8_t f[MOLD_REQUEST_FRAME_LEN];

	mold_request_frame(f, &src, &dst, 1, (const uint8_t *)session, seq, count);
	return retransmit_frame(&T.p, f, sizeof(f), now, &T.out);
}

/* The answer frames hold subscriber i's messages [seq, seq + n), each frame valid. */
static void expect_answer(int i, uint64_t seq, uint64_t n)
{
	uint64_t s = seq;

	for (uint32_t k = 0; k < T.out.n; k++) {
		const uint8_t *f = T.frames[k];
		struct frame_udp u;
		struct mold_hdr h;

		cr_assert_eq(frame_parse_udp(f, T.len[k], &u), 0);
		cr_expect_arr_eq(f, "\x02\x00\x00\x00\x01\x09", 6, "to the requester's MAC");
		cr_expect_arr_eq(f + 6, T.p.mac, 6);
		cr_expect_eq(u.src_ip, PORT_IP);
		cr_expect_eq(u.src_port, PORT_UDP);
		cr_expect_eq(u.dst_ip, T.subs[i].dst_ip);
		cr_expect_eq(u.dst_port, 40001);
		cr_expect_leq(u.payload_len, T.subs[i].max_payload);
		cr_assert_eq(mold_parse(f + u.payload_off, u.payload_len, &h), MOLD_OK);
		cr_expect_arr_eq(h.session, T.subs[i].session, 10);
		cr_assert_eq(h.seq, s, "frame %u starts at %lu, want %lu", k, (unsigned long)h.seq,
			     (unsigned long)s);
		uint32_t off = MOLD_HDR_LEN;
		for (uint16_t j = 0; j < h.n_msgs; j++, s++) {
			uint8_t m[64];
			uint16_t len, want = msg_of(i, s, m);
			const uint8_t *got = mold_next(f + u.payload_off, &off, &len);

			cr_assert_eq(len, want);
			cr_assert_arr_eq(got, m, len, "message %lu", (unsigned long)s);
		}
	}
	cr_expect_eq(s - seq, n, "answered %lu messages, want %lu", (unsigned long)(s - seq),
		     (unsigned long)n);
}

static void teardown(void)
{
	for (int i = 0; i < 3; i++)
		free(T.mem[i]);
}

TestSuite(retransmit, .fini = teardown);

Test(retransmit, serves_its_own_stream)
{
	setup(100000);
	cr_assert_eq(request_from(0x0a010102, "BETA      ", 900, 30, 10), RETRANSMIT_REQUEST);
	cr_assert_geq(T.out.n, 2, "30 messages of 21..41 bytes do not fit 200 bytes");
	expect_answer(1, 900, 30);
	cr_expect_eq(T.c[1].retransmit_requests, 1);
	cr_expect_eq(T.c[1].retransmit_messages, 30);
	cr_expect_eq(T.c[1].retransmit_packets, T.out.n);
	cr_expect_eq(T.c[0].retransmit_requests, 0);
	/* never past what was sent: 990..1000 then nothing */
	request_from(0x0a010101, "ALPHA00001", 990, 50, 20);
	expect_answer(0, 990, 11);
	cr_expect_eq(T.c[0].retransmit_unavailable, 39);
}

Test(retransmit, unavailable_old_and_history_zero)
{
	setup(100000);
	request_from(0x0a010101, "ALPHA00001", 5, 10, 10); /* history 200 of 1000 */
	cr_expect_eq(T.out.n, 0);
	cr_expect_eq(T.c[0].retransmit_unavailable, 10);
	request_from(0x0a010101, "ALPHA00001", 1001, 10, 10); /* not sent yet */
	cr_expect_eq(T.out.n, 0);
	cr_expect_eq(T.c[0].retransmit_unavailable, 20);
	request_from(0x0a010103, "GAMMA     ", 999, 1, 10); /* history 0 serves nothing */
	cr_expect_eq(T.out.n, 0);
	cr_expect_eq(T.c[2].retransmit_unavailable, 1);
	cr_expect_eq(T.c[2].retransmit_requests, 1);
}

Test(retransmit, refusals_each_counted)
{
	setup(100000);
	/* a session no subscriber of the port has */
	cr_expect_eq(request_from(0x0a010101, "NOBODY    ", 900, 1, 10), RETRANSMIT_REQUEST);
	cr_expect_eq(T.pc.request_unknown_session, 1);
	/* beta's session from alpha's address: a subscriber fetches only its own stream */
	request_from(0x0a010101, "BETA      ", 900, 1, 10);
	cr_expect_eq(T.pc.request_wrong_source, 1);
	cr_expect_eq(T.out.n, 0);
	cr_expect_eq(T.c[1].retransmit_requests, 0);
	/* malformed, each under its reason */
	request_from(0x0a010101, "ALPHA00001", 900, 0, 10);
	request_from(0x0a010101, "ALPHA00001", 900, 0xFFFF, 10);
	request_from(0x0a010101, "ALPHA00001", 0, 5, 10);
	cr_expect_eq(T.pc.request_count_zero, 1);
	cr_expect_eq(T.pc.request_count_end, 1);
	cr_expect_eq(T.pc.request_seq_zero, 1);

	const struct frame_endpoint src = {{0x02, 0, 0, 0, 1, 9}, 0x0a010101, 40001};
	const struct frame_endpoint dst = {{0x02, 0xaa, 0, 0, 0, 1}, PORT_IP, PORT_UDP};
	uint8_t f[FRAME_UDP_HDRS_LEN + 40] = {0};

	frame_build_udp(f, &src, &dst, 19, 1);
	cr_expect_eq(retransmit_frame(&T.p, f, FRAME_UDP_HDRS_LEN + 19, 10, &T.out),
		     RETRANSMIT_REQUEST);
	frame_build_udp(f, &src, &dst, 21, 1);
	retransmit_frame(&T.p, f, FRAME_UDP_HDRS_LEN + 21, 10, &T.out);
	cr_expect_eq(T.pc.request_short, 1);
	cr_expect_eq(T.pc.request_long, 1);
	cr_expect_eq(T.out.n, 0);

	/* not for this server: another UDP port or address, not UDP at all */
	struct frame_endpoint other = dst;
	other.port = 31998;
	frame_build_udp(f, &src, &other, 20, 1);
	cr_expect_eq(retransmit_frame(&T.p, f, FRAME_UDP_HDRS_LEN + 20, 10, &T.out),
		     RETRANSMIT_NOT_MINE);
	other = dst;
	other.ip = PORT_IP + 1;
	frame_build_udp(f, &src, &other, 20, 1);
	cr_expect_eq(retransmit_frame(&T.p, f, FRAME_UDP_HDRS_LEN + 20, 10, &T.out),
		     RETRANSMIT_NOT_MINE);
	f[14 + 9] = 6; /* TCP */
	cr_expect_eq(retransmit_frame(&T.p, f, FRAME_UDP_HDRS_LEN + 20, 10, &T.out),
		     RETRANSMIT_NOT_MINE);
}

Test(retransmit, arp_for_src_ip_only)
{
	uint8_t req[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0,    0, 1,  9, 0x08, 0x06,
			   0,	 1,    0x08, 0,	   6,	 4,    0,    1, 0x02, 0, 0,  0, 1,    9,
			   10,	 1,    1,    1,	   0,	 0,    0,    0, 0,    0, 10, 1, 0,    254};

	setup(100000);
	cr_assert_eq(retransmit_frame(&T.p, req, sizeof(req), 1, &T.out), RETRANSMIT_ARP);
	cr_assert_eq(T.out.n, 1);
	cr_expect_eq(T.len[0], 60);
	cr_expect_arr_eq(T.frames[0], req + 6, 6, "unicast back to the asker");
	cr_expect_eq(T.frames[0][21], 2, "a reply");
	cr_expect_arr_eq(T.frames[0] + 22, T.p.mac, 6);
	cr_expect_eq(T.pc.arp_replies, 1);
	req[41] = 253; /* somebody else's address: the caller counts it (docs/protocol.md §3.1) */
	cr_assert_eq(retransmit_frame(&T.p, req, sizeof(req), 1, &T.out), RETRANSMIT_NOT_MINE);
	cr_expect_eq(T.out.n, 0);
	cr_expect_eq(T.pc.arp_replies, 1);
}

/* retransmit.rate: a tenth of a second's worth at once, then the rate; the rest counted. */
Test(retransmit, token_bucket_limits_each_subscriber)
{
	setup(100); /* 100 messages/s: a bucket of 10 */
	request_from(0x0a010101, "ALPHA00001", 900, 50, 0);
	expect_answer(0, 900, 10);
	cr_expect_eq(T.c[0].retransmit_rate_limited, 40);
	/* beta has its own bucket */
	request_from(0x0a010102, "BETA      ", 900, 5, 0);
	expect_answer(1, 900, 5);
	cr_expect_eq(T.c[1].retransmit_rate_limited, 0);
	/* 50 ms later: 5 more for alpha */
	request_from(0x0a010101, "ALPHA00001", 910, 50, 50000);
	expect_answer(0, 910, 5);
	cr_expect_eq(T.c[0].retransmit_rate_limited, 40 + 45);
}

/* One call writes at most out->cap frames: a partial answer, the rest counted as cut. */
Test(retransmit, bounded_answer_per_call)
{
	setup(100000);
	T.out.cap = 2;
	request_from(0x0a010101, "ALPHA00001", 801, 200, 10);
	cr_expect_eq(T.out.n, 2);
	uint64_t sent = T.c[0].retransmit_messages;
	expect_answer(0, 801, sent);
	cr_expect_eq(T.c[0].retransmit_cut, 200 - sent);
}
