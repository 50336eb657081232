/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MoldUDP64 requests (docs/protocol.md §2, §6.2, §6.3): exactly 20 bytes, each malformed
 * shape refused under its own name, the bytes written for the upstream server, and the
 * whole request frame as a kernel would read it.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "frame.h"
#include "mold_request.h"

/* session "ALPHA00001", first sequence 0x0102030405060708, count 0x0203 */
static const uint8_t req[20] = {'A',  'L',  'P',  'H',	'A',  '0',  '0',  '0',	'0',  '1',
				0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x02, 0x03};

static enum mold_request_error parse_with(uint64_t seq, uint16_t count)
{
	uint8_t b[20];
	struct mold_request r;

	mold_request_write(b, (const uint8_t *)"ALPHA00001", seq, count);
	return mold_request_parse(b, sizeof(b), &r);
}

Test(mold_request, parse_valid)
{
	struct mold_request r;

	cr_assert_eq(mold_request_parse(req, sizeof(req), &r), MOLD_REQ_OK);
	cr_expect_eq(r.session, req);
	cr_expect_eq(r.seq, 0x0102030405060708ull);
	cr_expect_eq(r.count, 0x0203);
	cr_expect_eq(parse_with(1, 1), MOLD_REQ_OK);
	cr_expect_eq(parse_with(UINT64_MAX, MOLD_REQUEST_COUNT_MAX), MOLD_REQ_OK);
}

Test(mold_request, malformed_each_named)
{
	uint8_t big[64] = {0};
	struct mold_request r;

	memcpy(big, req, sizeof(req));
	for (uint32_t len = 0; len < 20; len++)
		cr_expect_eq(mold_request_parse(req, len, &r), MOLD_REQ_SHORT, "len %u", len);
	cr_expect_eq(mold_request_parse(big, 21, &r), MOLD_REQ_LONG);
	cr_expect_eq(mold_request_parse(big, 64, &r), MOLD_REQ_LONG);
	cr_expect_eq(parse_with(5, 0), MOLD_REQ_COUNT_ZERO);
	cr_expect_eq(parse_with(5, 0xFFFF), MOLD_REQ_COUNT_END);
	cr_expect_eq(parse_with(0, 5), MOLD_REQ_SEQ_ZERO);
	/* the count is judged first: a heartbeat-looking packet is a count problem */
	cr_expect_eq(parse_with(0, 0), MOLD_REQ_COUNT_ZERO);

	cr_expect_str_eq(mold_request_error_name(MOLD_REQ_OK), "ok");
	cr_expect_str_eq(mold_request_error_name(MOLD_REQ_SHORT), "request_short");
	cr_expect_str_eq(mold_request_error_name(MOLD_REQ_LONG), "request_long");
	cr_expect_str_eq(mold_request_error_name(MOLD_REQ_COUNT_ZERO), "request_count_zero");
	cr_expect_str_eq(mold_request_error_name(MOLD_REQ_COUNT_END), "request_count_end");
	cr_expect_str_eq(mold_request_error_name(MOLD_REQ_SEQ_ZERO), "request_seq_zero");
	cr_expect_str_eq(mold_request_error_name(MOLD_REQ__MAX), "request_unknown");
}

Test(mold_request, write_is_the_wire_format)
{
	uint8_t b[20];

	mold_request_write(b, (const uint8_t *)"ALPHA00001", 0x0102030405060708ull, 0x0203);
	cr_expect_arr_eq(b, req, sizeof(req));
}

/* The frame a recovery client sends: what a kernel's UDP socket would accept. */
Test(mold_request, frame)
{
	const struct frame_endpoint src = {{0x02, 0, 0, 0, 0, 0x02}, 0x0a000002, 26401};
	const struct frame_endpoint dst = {{0x02, 0, 0, 0, 0xee, 0x01}, 0x0a000005, 26400};
	uint8_t f[MOLD_REQUEST_FRAME_LEN];
	struct frame_udp u;
	uint32_t sum = 0;

	mold_request_frame(f, &src, &dst, 0x1234, (const uint8_t *)"ALPHA00001",
			   0x0102030405060708ull, 0x0203);
	cr_expect_arr_eq(f, dst.mac, 6);
	cr_expect_arr_eq(f + 6, src.mac, 6);
	cr_assert_eq(frame_parse_udp(f, sizeof(f), &u), 0);
	cr_expect_eq(u.src_ip, src.ip);
	cr_expect_eq(u.dst_ip, dst.ip);
	cr_expect_eq(u.src_port, src.port);
	cr_expect_eq(u.dst_port, dst.port);
	cr_expect_eq(u.payload_off, FRAME_UDP_HDRS_LEN);
	cr_expect_eq(u.payload_len, 20);
	cr_expect_arr_eq(f + FRAME_UDP_HDRS_LEN, req, sizeof(req));
	cr_expect_eq(f[14 + 4], 0x12); /* IPv4 id */
	cr_expect_eq(f[14 + 5], 0x34);
	cr_expect_eq(f[14 + 8], 64); /* TTL */
	/* the IPv4 header sums to 0xffff with its checksum */
	for (int i = 14; i < 34; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	cr_expect_eq(sum, 0xffff);
}
