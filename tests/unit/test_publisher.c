/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-subscriber MoldUDP64 framing (docs/protocol.md §3.6). Every frame the publisher closes is
 * parsed back independently: Ethernet/IPv4/UDP fields, lengths, IPv4 checksum,
 * MoldUDP64 session, sequence and count, message blocks byte-for-byte.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "publisher.h"

#define MAX_FRAMES 4096

static const uint8_t SRC_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xaa};
static const uint8_t DST_MAC[6] = {0x02, 0x00, 0x00, 0x00, 0x01, 0x01};

struct frame {
	uint8_t *b;
	uint32_t len;
	uint16_t n_msgs;
	uint32_t sub;
};

struct sink {
	uint32_t max_payload;
	bool fail_open;
	uint32_t opens;
	uint32_t n;
	struct frame f[MAX_FRAMES];
};

static void *sink_open(void *ctx, uint32_t sub, uint8_t **data)
{
	struct sink *k = ctx;
	uint8_t *b;

	(void)sub;
	if (k->fail_open)
		return NULL;
	/* poisoned: the publisher must write every byte it sends */
	b = malloc(PUB_FRAME_MAX(k->max_payload));
	cr_assert_not_null(b);
	memset(b, 0xee, PUB_FRAME_MAX(k->max_payload));
	k->opens++;
	*data = b;
	return b;
}

static void sink_close(void *ctx, uint32_t sub, void *pkt, uint32_t frame_len, uint16_t n_msgs)
{
	struct sink *k = ctx;

	cr_assert_lt(k->n, MAX_FRAMES);
	k->f[k->n].b = pkt;
	k->f[k->n].len = frame_len;
	k->f[k->n].n_msgs = n_msgs;
	k->f[k->n].sub = sub;
	k->n++;
}

static const struct publisher_ops OPS = {.open = sink_open, .close = sink_close};

static struct sink *sink_new(uint32_t max_payload)
{
	struct sink *k = calloc(1, sizeof(*k));

	cr_assert_not_null(k);
	k->max_payload = max_payload;
	return k;
}

static void sink_free(struct sink *k)
{
	for (uint32_t i = 0; i < k->n; i++)
		free(k->f[i].b);
	free(k);
}

static void sub_init(struct publisher_sub *s, const char *session, uint16_t max_payload)
{
	const struct publisher_dst d = {
	    .src_mac = SRC_MAC,
	    .dst_mac = DST_MAC,
	    .src_ip = 0x0a000001, /* 10.0.0.1 */
	    .dst_ip = 0x0a010101, /* 10.1.1.1 */
	    .src_port = 30000,
	    .dst_port = 31001,
	    .session = session,
	    .max_payload = max_payload,
	};

	publisher_sub_init(s, &d);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Independent RFC 1071 sum: a valid header sums to 0xFFFF. */
static uint32_t ones_sum(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;

	for (uint32_t i = 0; i < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/*
 * Check the headers of one frame and return its MoldUDP64 sequence; `count` gets the
 * message count and every message block is checked to fit the payload exactly.
 */
static uint64_t check_frame(const struct frame *f, const char *session10, uint32_t max_payload,
			    uint16_t *count)
{
	const uint8_t *b = f->b;
	const uint8_t *ip = b + 14, *udp = b + 34, *mold = b + 42;
	uint32_t payload, off;
	uint16_t n = 0;

	cr_assert_geq(f->len, 62);
	payload = f->len - 42;
	cr_assert_leq(payload, max_payload,
		      "docs/protocol.md §3.6: UDP payload at most max_payload");
	cr_assert_eq(memcmp(b, DST_MAC, 6), 0);
	cr_assert_eq(memcmp(b + 6, SRC_MAC, 6), 0);
	cr_assert_eq(rd16(b + 12), 0x0800);
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(ip[1], 0);
	cr_assert_eq(rd16(ip + 2), 20 + 8 + payload, "IPv4 total length");
	cr_assert_eq(rd16(ip + 6), 0x4000, "DF, no fragment offset");
	cr_assert_eq(ip[8], 64);
	cr_assert_eq(ip[9], 17);
	cr_assert_eq(ones_sum(ip, 20), 0xffff, "IPv4 header checksum");
	cr_assert_eq(memcmp(ip + 12, (const uint8_t[]){10, 0, 0, 1}, 4), 0);
	cr_assert_eq(memcmp(ip + 16, (const uint8_t[]){10, 1, 1, 1}, 4), 0);
	cr_assert_eq(rd16(udp), 30000);
	cr_assert_eq(rd16(udp + 2), 31001);
	cr_assert_eq(rd16(udp + 4), 8 + payload, "UDP length");
	cr_assert_eq(rd16(udp + 6), 0);
	cr_assert_eq(memcmp(mold, session10, 10), 0);
	*count = rd16(mold + 18);
	cr_assert_eq(*count, f->n_msgs);
	for (off = 20; off < payload; n++) {
		cr_assert_leq(off + 2, payload);
		off += 2 + rd16(mold + off);
	}
	cr_assert_eq(off, payload, "message blocks fill the payload exactly");
	cr_assert_eq(n, *count);
	return rd64(mold + 10);
}

/* Message `i` of a deterministic stream: length and bytes derived from i. */
static uint16_t gen(uint32_t i, uint8_t *buf, uint16_t max_len)
{
	uint16_t len = (uint16_t)((i * 37u + 11u) % (max_len + 1u));

	for (uint16_t j = 0; j < len; j++)
		buf[j] = (uint8_t)(i * 7u + j * 13u + 1u);
	return len;
}

Test(publisher, first_packet_and_headers)
{
	static const uint8_t msg[12] = {'S',  0x00, 0x00, 0x00, 0x00, 0x00,
					0x00, 0x00, 0x00, 0x00, 0x01, 'O'};
	static const uint8_t expect_hdr[62] = {
	    0x02,
	    0x00,
	    0x00,
	    0x00,
	    0x01,
	    0x01,
	    0x02,
	    0x00,
	    0x00,
	    0x00,
	    0x00,
	    0xaa,
	    0x08,
	    0x00,
	    /* IPv4: total length 20+8+20+2+12 = 62, id 0, DF, TTL 64, UDP */
	    0x45,
	    0x00,
	    0x00,
	    0x3e,
	    0x00,
	    0x00,
	    0x40,
	    0x00,
	    0x40,
	    0x11,
	    0x00,
	    0x00, /* cksum */
	    0x0a,
	    0x00,
	    0x00,
	    0x01,
	    0x0a,
	    0x01,
	    0x01,
	    0x01,
	    /* UDP: 30000 -> 31001, length 8+34 */
	    0x75,
	    0x30,
	    0x79,
	    0x19,
	    0x00,
	    0x2a,
	    0x00,
	    0x00,
	    /* MoldUDP64: session "ALPHA" padded, sequence 1, count 1 */
	    'A',
	    'L',
	    'P',
	    'H',
	    'A',
	    ' ',
	    ' ',
	    ' ',
	    ' ',
	    ' ',
	    0,
	    0,
	    0,
	    0,
	    0,
	    0,
	    0,
	    1,
	    0x00,
	    0x01,
	};
	struct sink *k = sink_new(1400);
	struct publisher_sub s;
	uint8_t expect[76];

	sub_init(&s, "ALPHA", 1400);
	cr_expect_eq(s.next_seq, 1);
	cr_assert_eq(publisher_append(&s, 3, msg, sizeof(msg), &OPS, k), PUB_OK);
	cr_expect_eq(k->n, 0, "the packet stays open until flushed");
	publisher_flush(&s, 3, &OPS, k);
	cr_assert_eq(k->n, 1);
	cr_expect_eq(k->f[0].sub, 3);
	cr_expect_eq(k->f[0].n_msgs, 1);
	cr_assert_eq(k->f[0].len, 42 + 20 + 2 + 12);

	memcpy(expect, expect_hdr, sizeof(expect_hdr));
	expect[62] = 0;
	expect[63] = 12;
	memcpy(expect + 64, msg, sizeof(msg));
	/* checksum checked separately, by sum */
	expect[24] = k->f[0].b[24];
	expect[25] = k->f[0].b[25];
	cr_expect_eq(memcmp(k->f[0].b, expect, sizeof(expect)), 0);
	cr_expect_eq(ones_sum(k->f[0].b + 14, 20), 0xffff);
	cr_expect_eq(s.next_seq, 2);

	publisher_flush(&s, 3, &OPS, k);
	cr_expect_eq(k->n, 1, "nothing open: flush sends nothing");
	sink_free(k);
}

Test(publisher, session_padding_and_ip_id)
{
	struct sink *k = sink_new(1400);
	struct publisher_sub s;
	static const uint8_t m[1] = {'x'};

	sub_init(&s, "ABCDEFGHIJ", 1400);
	cr_expect_eq(memcmp(s.tmpl.session, "ABCDEFGHIJ", 10), 0);
	sub_init(&s, "", 1400);
	cr_expect_eq(memcmp(s.tmpl.session, "          ", 10), 0);
	sub_init(&s, "Z1", 1400);
	cr_expect_eq(memcmp(s.tmpl.session, "Z1        ", 10), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(publisher_append(&s, 0, m, 1, &OPS, k), PUB_OK);
		publisher_flush(&s, 0, &OPS, k);
	}
	cr_assert_eq(k->n, 3);
	for (uint32_t i = 0; i < 3; i++) {
		uint16_t count;

		cr_expect_eq(check_frame(&k->f[i], "Z1        ", 1400, &count), i + 1);
		cr_expect_eq(rd16(k->f[i].b + 18), i, "IPv4 id per packet");
	}
	sink_free(k);
}

/* Sequence continuity and byte-for-byte blocks over many packets, for a payload size. */
static void stream(uint16_t max_payload, uint32_t n_msgs, uint16_t max_len)
{
	struct sink *k = sink_new(max_payload);
	struct publisher_sub s;
	uint8_t buf[8192];
	uint64_t expect_seq = 1;
	uint32_t i = 0;

	sub_init(&s, "STREAM", max_payload);
	for (uint32_t j = 0; j < n_msgs; j++) {
		uint16_t len = gen(j, buf, max_len);

		cr_assert_eq(publisher_append(&s, 1, buf, len, &OPS, k), PUB_OK);
		if (j % 97 == 96)
			publisher_flush(&s, 1, &OPS, k); /* end of an RX burst */
	}
	publisher_flush(&s, 1, &OPS, k);
	cr_assert_eq(k->opens, k->n);

	for (uint32_t f = 0; f < k->n; f++) {
		uint16_t count;
		const uint8_t *p = k->f[f].b + 42 + 20;

		cr_assert_eq(check_frame(&k->f[f], "STREAM    ", max_payload, &count), expect_seq,
			     "frame %u", f);
		cr_assert_gt(count, 0, "docs/protocol.md §3.6: at least one message");
		for (uint16_t c = 0; c < count; c++, i++) {
			uint16_t len = gen(i, buf, max_len);

			cr_assert_eq(rd16(p), len, "message %u", i);
			cr_assert_eq(memcmp(p + 2, buf, len), 0, "message %u", i);
			p += 2 + len;
		}
		expect_seq += count;
	}
	cr_expect_eq(i, n_msgs);
	cr_expect_eq(s.next_seq, n_msgs + 1);
	sink_free(k);
}

Test(publisher, sequence_continuity_1400)
{
	stream(1400, 20000, 60);
}

Test(publisher, sequence_continuity_min_payload)
{
	stream(128, 3000, 106);
}

Test(publisher, sequence_continuity_max_payload)
{
	stream(8192, 3000, 2000);
}

/* Messages filling max_payload exactly share one packet; one more byte splits. */
static void boundary(uint16_t max_payload)
{
	struct sink *k = sink_new(max_payload);
	struct publisher_sub s;
	static uint8_t buf[8192];
	uint16_t room = (uint16_t)(max_payload - 20); /* after the MoldUDP64 header */
	uint16_t a = (uint16_t)(room / 2 - 2);
	uint16_t b = (uint16_t)(room - 4 - a);
	uint16_t count;

	memset(buf, 0x5a, sizeof(buf));
	sub_init(&s, "B", max_payload);
	/* exactly full: one packet */
	cr_assert_eq(publisher_append(&s, 0, buf, a, &OPS, k), PUB_OK);
	cr_assert_eq(publisher_append(&s, 0, buf, b, &OPS, k), PUB_OK);
	cr_assert_eq(k->n, 0);
	cr_expect_eq(s.len, max_payload);
	/* even an empty message (2 bytes) does not fit any more */
	cr_assert_eq(publisher_append(&s, 0, buf, 0, &OPS, k), PUB_OK);
	cr_assert_eq(k->n, 1);
	cr_expect_eq(k->f[0].len, 42u + max_payload);
	cr_expect_eq(check_frame(&k->f[0], "B         ", max_payload, &count), 1);
	cr_expect_eq(count, 2);
	publisher_flush(&s, 0, &OPS, k);

	/* one byte over: the second message starts a new packet */
	cr_assert_eq(publisher_append(&s, 0, buf, a, &OPS, k), PUB_OK);
	cr_assert_eq(publisher_append(&s, 0, buf, (uint16_t)(b + 1), &OPS, k), PUB_OK);
	publisher_flush(&s, 0, &OPS, k);
	cr_assert_eq(k->n, 4);
	cr_expect_eq(check_frame(&k->f[1], "B         ", max_payload, &count), 3);
	cr_expect_eq(count, 1);
	cr_expect_eq(check_frame(&k->f[2], "B         ", max_payload, &count), 4);
	cr_expect_eq(count, 1);
	cr_expect_eq(check_frame(&k->f[3], "B         ", max_payload, &count), 5);
	cr_expect_eq(count, 1);
	cr_expect_eq(rd16(k->f[3].b + 62), b + 1);

	/* the largest single message, then one byte too many */
	cr_assert_eq(publisher_append(&s, 0, buf, (uint16_t)(room - 2), &OPS, k), PUB_OK);
	cr_expect_eq(publisher_append(&s, 0, buf, (uint16_t)(room - 1), &OPS, k), PUB_TOO_LARGE);
	publisher_flush(&s, 0, &OPS, k);
	cr_assert_eq(k->n, 5);
	cr_expect_eq(k->f[4].len, 42u + max_payload);
	cr_expect_eq(check_frame(&k->f[4], "B         ", max_payload, &count), 6);
	cr_expect_eq(s.next_seq, 7);
	sink_free(k);
}

Test(publisher, boundary_128)
{
	boundary(128);
}

Test(publisher, boundary_1400)
{
	boundary(1400);
}

Test(publisher, boundary_8192)
{
	boundary(8192);
}

Test(publisher, too_large_changes_nothing)
{
	struct sink *k = sink_new(128);
	struct publisher_sub s;
	static uint8_t buf[200];
	uint16_t count;

	sub_init(&s, "T", 128);
	cr_assert_eq(publisher_append(&s, 0, buf, 10, &OPS, k), PUB_OK);
	cr_expect_eq(publisher_append(&s, 0, buf, 107, &OPS, k), PUB_TOO_LARGE);
	cr_expect_eq(publisher_append(&s, 0, buf, 200, &OPS, k), PUB_TOO_LARGE);
	cr_expect_eq(k->n, 0, "the open packet is not closed by a refused message");
	cr_expect_eq(s.next_seq, 2);
	cr_assert_eq(publisher_append(&s, 0, buf, 11, &OPS, k), PUB_OK);
	publisher_flush(&s, 0, &OPS, k);
	cr_assert_eq(k->n, 1);
	cr_expect_eq(check_frame(&k->f[0], "T         ", 128, &count), 1);
	cr_expect_eq(count, 2);
	cr_expect_eq(k->opens, 1);
	sink_free(k);
}

Test(publisher, no_buffer)
{
	struct sink *k = sink_new(128);
	struct publisher_sub s;
	static uint8_t buf[106];
	uint16_t count;

	sub_init(&s, "N", 128);
	k->fail_open = true;
	cr_expect_eq(publisher_append(&s, 0, buf, 1, &OPS, k), PUB_NO_BUFFER);
	cr_expect_eq(s.next_seq, 1, "a dropped message consumes no sequence number");
	cr_expect_null(s.pkt);
	k->fail_open = false;
	buf[0] = 0x42;
	cr_assert_eq(publisher_append(&s, 0, buf, 106, &OPS, k), PUB_OK);
	/* the full packet is sent, the next one cannot be opened */
	k->fail_open = true;
	cr_expect_eq(publisher_append(&s, 0, buf, 1, &OPS, k), PUB_NO_BUFFER);
	cr_assert_eq(k->n, 1);
	cr_expect_eq(check_frame(&k->f[0], "N         ", 128, &count), 1);
	cr_expect_eq(count, 1);
	cr_expect_eq(k->f[0].b[64], 0x42);
	k->fail_open = false;
	cr_assert_eq(publisher_append(&s, 0, buf, 1, &OPS, k), PUB_OK);
	publisher_flush(&s, 0, &OPS, k);
	cr_assert_eq(k->n, 2);
	cr_expect_eq(check_frame(&k->f[1], "N         ", 128, &count), 2, "contiguous");
	sink_free(k);
}

Test(publisher, heartbeat)
{
	struct sink *k = sink_new(1400);
	struct publisher_sub s;
	uint8_t hb[128];
	struct frame f = {.b = hb};
	static const uint8_t m[5] = {1, 2, 3, 4, 5};
	uint16_t count;

	memset(hb, 0xee, sizeof(hb));
	sub_init(&s, "HB", 1400);
	f.len = publisher_heartbeat(&s, hb);
	cr_assert_eq(f.len, 62);
	cr_expect_eq(check_frame(&f, "HB        ", 1400, &count), 1);
	cr_expect_eq(count, 0);
	cr_expect_eq(hb[62], 0xee, "nothing written past the frame");

	for (int i = 0; i < 4; i++)
		cr_assert_eq(publisher_append(&s, 0, m, 5, &OPS, k), PUB_OK);
	publisher_flush(&s, 0, &OPS, k);
	cr_assert_eq(publisher_append(&s, 0, m, 5, &OPS, k), PUB_OK);
	/* messages still in the open packet are not sent yet: the heartbeat announces
	 * the first of them, not beyond */
	f.len = publisher_heartbeat(&s, hb);
	cr_expect_eq(check_frame(&f, "HB        ", 1400, &count), 5);
	cr_expect_eq(rd16(hb + 18), 2, "IPv4 id continues across packets and heartbeats");
	publisher_flush(&s, 0, &OPS, k);
	f.len = publisher_heartbeat(&s, hb);
	cr_expect_eq(check_frame(&f, "HB        ", 1400, &count), 6);
	cr_expect_eq(count, 0);
	cr_expect_eq(s.next_seq, 6, "heartbeats are not messages");
	sink_free(k);
}

/* docs/protocol.md §6.1: end of session is a heartbeat with count 0xFFFF. */
Test(publisher, end_of_session)
{
	struct sink *k = sink_new(1400);
	struct publisher_sub s;
	uint8_t eos[128];
	struct frame f = {.b = eos};
	static const uint8_t m[5] = {1, 2, 3, 4, 5};

	sub_init(&s, "EOS", 1400);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(publisher_append(&s, 0, m, 5, &OPS, k), PUB_OK);
	publisher_flush(&s, 0, &OPS, k);
	f.len = publisher_end_of_session(&s, eos);
	cr_assert_eq(f.len, 62);
	cr_expect_eq(rd16(eos + PUB_COUNT_OFF), PUB_END_OF_SESSION);
	cr_expect_eq(rd64(eos + PUB_MOLD_SEQ_OFF), 4, "the next sequence");
	cr_expect_eq(s.next_seq, 4);
	sink_free(k);
}

Test(publisher, ipv4_cksum_known_vector_and_id_wrap)
{
	/* RFC 1071-style worked example: 192.168.0.1 -> 192.168.0.199, DF, TTL 64, UDP,
	 * total length 0x73, id 0: checksum 0xb861. A 65-byte message makes that length
	 * (20 IPv4 + 8 UDP + 20 MoldUDP64 + 2 + 65). */
	const struct publisher_dst d = {
	    .src_mac = SRC_MAC,
	    .dst_mac = DST_MAC,
	    .src_ip = 0xc0a80001,
	    .dst_ip = 0xc0a800c7,
	    .src_port = 1,
	    .dst_port = 2,
	    .session = "V",
	    .max_payload = 1400,
	};
	struct sink *k = sink_new(1400);
	struct publisher_sub s;
	uint8_t m[1400];

	memset(m, 0x5a, sizeof(m));
	publisher_sub_init(&s, &d);
	cr_assert_eq(publisher_append(&s, 0, m, 65, &OPS, k), PUB_OK);
	publisher_flush(&s, 0, &OPS, k);
	cr_assert_eq(k->n, 1);
	cr_expect_eq(rd16(k->f[0].b + 14 + 2), 0x73);
	cr_expect_eq(rd16(k->f[0].b + 14 + 10), 0xb861, "the checksum is added on, not summed");

	/* the id wraps and lengths vary: every header still sums to 0xFFFF */
	s.ip_id = 0xfffd;
	for (uint16_t i = 0; i < 6; i++) {
		cr_assert_eq(publisher_append(&s, 0, m, (uint16_t)(i * 250 + 1), &OPS, k), PUB_OK);
		publisher_flush(&s, 0, &OPS, k);
	}
	cr_assert_eq(k->n, 7);
	for (uint32_t i = 1; i < 7; i++) {
		cr_expect_eq(ones_sum(k->f[i].b + 14, 20), 0xffff, "frame %u", i);
		cr_expect_eq(rd16(k->f[i].b + 14 + 4), (uint16_t)(0xfffd + i - 1), "frame %u id",
			     i);
	}
	sink_free(k);
}
