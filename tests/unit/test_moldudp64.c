/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MoldUDP64 validation (docs/protocol.md §2, §3.2) and the ITCH 5.0 tables it relies on
 * (docs/protocol.md §2).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "feed_moldudp64.h"
#include "itch50.h"

/* ---- ITCH 5.0 tables: every row of docs/protocol.md §2 ---- */

static const struct {
	char type;
	uint8_t len;
	uint8_t stock; /* 0 = none */
} spec_rows[] = {
    {'S', 12, 0}, {'R', 39, 11}, {'H', 25, 11}, {'Y', 20, 11}, {'L', 26, 15}, {'V', 35, 0},
    {'W', 12, 0}, {'J', 35, 11}, {'A', 36, 24}, {'F', 40, 24}, {'E', 31, 0},  {'C', 36, 0},
    {'X', 23, 0}, {'D', 19, 0},	 {'U', 35, 0},	{'h', 21, 11}, {'P', 44, 24}, {'Q', 40, 19},
    {'B', 19, 0}, {'I', 50, 28}, {'N', 20, 11}, {'O', 48, 11}, {'K', 28, 11},
};
#define N_ROWS (sizeof(spec_rows) / sizeof(spec_rows[0]))

Test(itch50, every_spec_row)
{
	cr_assert_eq(N_ROWS, 23);
	for (unsigned int i = 0; i < N_ROWS; i++) {
		uint8_t t = (uint8_t)spec_rows[i].type;
		cr_assert_eq(itch50_len[t], spec_rows[i].len, "len of %c", t);
		cr_assert_eq(itch50_stock_off[t], spec_rows[i].stock, "stock of %c", t);
		/* the stock field lies inside the message */
		if (spec_rows[i].stock)
			cr_assert_leq(spec_rows[i].stock + ITCH50_STOCK_LEN, spec_rows[i].len);
	}
}

Test(itch50, other_types_unknown)
{
	for (unsigned int t = 0; t < 256; t++) {
		int known = 0;
		for (unsigned int i = 0; i < N_ROWS; i++)
			known |= (uint8_t)spec_rows[i].type == t;
		if (!known) {
			cr_assert_eq(itch50_len[t], 0, "type 0x%02x", t);
			cr_assert_eq(itch50_stock_off[t], 0, "type 0x%02x", t);
		}
	}
}

Test(itch50, symbol_len)
{
	cr_assert_eq(itch50_symbol_len((const uint8_t *)"AAPL    "), 4);
	cr_assert_eq(itch50_symbol_len((const uint8_t *)"ABCDEFGH"), 8);
	cr_assert_eq(itch50_symbol_len((const uint8_t *)"        "), 0);
	cr_assert_eq(itch50_symbol_len((const uint8_t *)"A B     "), 3);
	cr_assert_eq(itch50_symbol_len((const uint8_t *)"BRK A   "), 5);
	cr_assert_eq(itch50_symbol_len((const uint8_t *)"Z      X"), 8);
}

Test(itch50, accessors)
{
	static const uint8_t add[36] = {'A', 0x12,	 0x34, 0,   7,	 0,   0,   0,	0,  0,
					1,   [24] = 'M', 'S',  ' ', ' ', ' ', ' ', ' ', ' '};
	cr_assert_eq(itch50_locate(add), 0x1234);
	cr_assert_eq(itch50_stock_key(add + itch50_stock_off['A']),
		     itch50_stock_key((const uint8_t *)"MS      "));
	cr_assert_eq(itch50_symbol_len(add + itch50_stock_off['A']), 2);
}

/* ---- MoldUDP64 ---- */

/* Heartbeat: session "NASDAQ0001", next sequence 0x0102030405060708. */
static const uint8_t heartbeat[] = {
    'N', 'A', 'S', 'D', 'A', 'Q', '0', '0', '0', '1', 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x00,
};

/* End of session at sequence 42. */
static const uint8_t end_of_session[] = {
    'N', 'A', 'S', 'D', 'A', 'Q', '0', '0', '0', '1', 0, 0, 0, 0, 0, 0, 0, 42, 0xff, 0xff,
};

/* One system event (S, 12 bytes) then one add order (A, 36 bytes), seq 1000. */
static const uint8_t two_msgs[] = {
    'N', 'A', 'S', 'D', 'A', 'Q', '0', '0', '0', '1', 0,   0,	0,   0,	  0, 0,	   0x03, 0xe8,
    0,	 2,   0,   12,	'S', 0,	  0,   0,   1,	 0,   0,   0,	0,   0,	  1, 'O',  0,	 36,
    'A', 0,   5,   0,	2,   0,	  0,   0,   0,	 0,   2,   0,	0,   0,	  0, 0,	   0,	 0,
    9,	 'B', 0,   0,	0,   100, 'A', 'A', 'P', 'L', ' ', ' ', ' ', ' ', 0, 0x01, 0x86, 0xa0,
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint32_t header(uint8_t *buf, uint64_t seq, uint16_t count)
{
	memcpy(buf, "TESTSESS01", 10);
	for (int i = 0; i < 8; i++)
		buf[10 + i] = (uint8_t)(seq >> (56 - 8 * i));
	put16(buf + 18, count);
	return MOLD_HDR_LEN;
}

/* Append one block of `len` bytes starting with `type` (no type byte when len is 0). */
static uint32_t block(uint8_t *buf, uint32_t off, uint8_t type, uint16_t len)
{
	put16(buf + off, len);
	for (uint32_t i = 0; i < len; i++)
		buf[off + 2 + i] = (uint8_t)(i ? i : type);
	return off + 2 + len;
}

Test(mold, heartbeat_and_end)
{
	struct mold_hdr h;

	cr_assert_eq(mold_parse(heartbeat, sizeof(heartbeat), &h), MOLD_OK);
	cr_assert_eq(h.session, heartbeat);
	cr_assert_eq(h.seq, 0x0102030405060708ull);
	cr_assert_eq(h.count, 0);
	cr_assert_eq(h.n_msgs, 0);

	cr_assert_eq(mold_parse(end_of_session, sizeof(end_of_session), &h), MOLD_OK);
	cr_assert_eq(h.seq, 42);
	cr_assert_eq(h.count, MOLD_COUNT_END);
	cr_assert_eq(h.n_msgs, 0);
}

Test(mold, heartbeat_and_end_with_extra_bytes)
{
	uint8_t buf[64] = {0};
	struct mold_hdr h;

	for (uint32_t extra = 1; extra <= 40; extra++) {
		memcpy(buf, heartbeat, sizeof(heartbeat));
		cr_assert_eq(mold_parse(buf, 20 + extra, &h), MOLD_ERR_TRAILING, "+%u", extra);
		memcpy(buf, end_of_session, sizeof(end_of_session));
		cr_assert_eq(mold_parse(buf, 20 + extra, &h), MOLD_ERR_TRAILING, "+%u", extra);
	}
	/* a well-formed block after an end-of-session count is still trailing */
	uint32_t off = header(buf, 5, MOLD_COUNT_END);
	off = block(buf, off, 'S', 12);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_TRAILING);
}

Test(mold, short_header)
{
	struct mold_hdr h;

	for (uint32_t k = 0; k < MOLD_HDR_LEN; k++)
		cr_assert_eq(mold_parse(two_msgs, k, &h), MOLD_ERR_SHORT_HEADER, "len %u", k);
}

Test(mold, two_messages_walk)
{
	struct mold_hdr h;
	uint32_t off = MOLD_HDR_LEN;
	uint16_t l;

	cr_assert_eq(mold_parse(two_msgs, sizeof(two_msgs), &h), MOLD_OK);
	cr_assert_eq(h.seq, 1000);
	cr_assert_eq(h.count, 2);
	cr_assert_eq(h.n_msgs, 2);
	const uint8_t *m = mold_next(two_msgs, &off, &l);
	cr_assert_eq(l, 12);
	cr_assert_eq(m[0], 'S');
	m = mold_next(two_msgs, &off, &l);
	cr_assert_eq(l, 36);
	cr_assert_eq(m[0], 'A');
	cr_assert_eq(itch50_locate(m), 5);
	cr_assert_eq(memcmp(m + 24, "AAPL    ", 8), 0);
	cr_assert_eq(off, sizeof(two_msgs));
}

Test(mold, every_truncation_of_a_valid_packet)
{
	struct mold_hdr h;

	/* Cut inside either block or either length prefix: the packet overruns. */
	for (uint32_t k = MOLD_HDR_LEN; k < sizeof(two_msgs); k++)
		cr_assert_eq(mold_parse(two_msgs, k, &h), MOLD_ERR_BLOCK_OVERRUN, "len %u", k);
}

Test(mold, block_past_end)
{
	uint8_t buf[256];
	struct mold_hdr h;
	uint32_t off = header(buf, 1, 1);

	put16(buf + off, 36);
	buf[off + 2] = 'A';
	cr_assert_eq(mold_parse(buf, off + 2 + 30, &h), MOLD_ERR_BLOCK_OVERRUN);
	/* unknown type: overrun is still detected, by length alone */
	buf[off + 2] = 'z';
	put16(buf + off, 0xffff);
	cr_assert_eq(mold_parse(buf, off + 2 + 100, &h), MOLD_ERR_BLOCK_OVERRUN);
}

Test(mold, length_prefix_cut_in_half)
{
	uint8_t buf[256];
	struct mold_hdr h;
	uint32_t off = header(buf, 1, 2);

	off = block(buf, off, 'S', 12);
	buf[off] = 0; /* first byte of the second length field */
	cr_assert_eq(mold_parse(buf, off + 1, &h), MOLD_ERR_BLOCK_OVERRUN);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_BLOCK_OVERRUN);
}

Test(mold, trailing_bytes)
{
	uint8_t buf[256];
	struct mold_hdr h;
	uint32_t off = header(buf, 1, 1);

	off = block(buf, off, 'D', 19);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK);
	for (uint32_t extra = 1; extra < 4; extra++)
		cr_assert_eq(mold_parse(buf, off + extra, &h), MOLD_ERR_TRAILING);
}

Test(mold, wrong_itch_length_every_known_type)
{
	uint8_t buf[256];
	struct mold_hdr h;

	for (unsigned int i = 0; i < N_ROWS; i++) {
		uint8_t t = (uint8_t)spec_rows[i].type;
		uint16_t good = spec_rows[i].len;
		uint16_t bad[] = {1, (uint16_t)(good - 1), (uint16_t)(good + 1), 200};

		uint32_t off = block(buf, header(buf, 1, 1), t, good);
		cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK, "%c", t);
		for (unsigned int j = 0; j < 4; j++) {
			off = block(buf, header(buf, 1, 1), t, bad[j]);
			cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_ITCH_LENGTH, "%c len %u", t,
				     bad[j]);
		}
		/* a bad message after a good one drops the whole packet */
		off = block(buf, header(buf, 1, 2), 'S', 12);
		off = block(buf, off, t, (uint16_t)(good + 1));
		cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_ITCH_LENGTH, "%c second", t);
	}
}

Test(mold, unknown_type_any_length)
{
	static uint8_t buf[70000];
	struct mold_hdr h;
	static const uint16_t lens[] = {1, 2, 3, 12, 36, 300, 1400, 65535};

	for (unsigned int i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t off = block(buf, header(buf, 9, 1), 'z', lens[i]);
		cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK, "len %u", lens[i]);
		off = block(buf, header(buf, 9, 1), 0x00, lens[i]);
		cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK, "type 0 len %u", lens[i]);
	}
}

Test(mold, zero_length_block)
{
	uint8_t buf[256];
	struct mold_hdr h;
	uint32_t off = header(buf, 77, 3);

	off = block(buf, off, 'S', 12);
	off = block(buf, off, 0, 0);
	off = block(buf, off, 'S', 12);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK);
	cr_assert_eq(h.n_msgs, 3);

	uint32_t walk = MOLD_HDR_LEN;
	uint16_t l;
	mold_next(buf, &walk, &l);
	cr_assert_eq(l, 12);
	mold_next(buf, &walk, &l);
	cr_assert_eq(l, 0);
	mold_next(buf, &walk, &l);
	cr_assert_eq(l, 12);
	cr_assert_eq(walk, off);
}

Test(mold, count_mismatch)
{
	uint8_t buf[256];
	struct mold_hdr h;
	uint32_t off;

	/* more blocks than the count: the extra block is trailing bytes */
	off = header(buf, 1, 1);
	off = block(buf, off, 'S', 12);
	off = block(buf, off, 'S', 12);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_TRAILING);

	/* fewer blocks than the count: the missing one runs past the end */
	off = header(buf, 1, 3);
	off = block(buf, off, 'S', 12);
	off = block(buf, off, 'S', 12);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_BLOCK_OVERRUN);

	/* a data count with no blocks at all */
	off = header(buf, 1, 1);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_BLOCK_OVERRUN);
}

/* Burst-like tails: 0, 1, 3, 31, 32, 33 messages of mixed known and unknown types. */
Test(mold, burst_tails)
{
	static uint8_t buf[8192];
	static const unsigned int counts[] = {0, 1, 3, 31, 32, 33};
	struct mold_hdr h;

	for (unsigned int c = 0; c < 6; c++) {
		unsigned int n = counts[c];
		uint32_t off = header(buf, 500 + c, (uint16_t)n);
		for (unsigned int i = 0; i < n; i++) {
			unsigned int r = i % (N_ROWS + 2);
			if (r < N_ROWS)
				off = block(buf, off, (uint8_t)spec_rows[r].type, spec_rows[r].len);
			else
				off = block(buf, off, r == N_ROWS ? 'z' : '9', (uint16_t)(5 + i));
		}
		cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK, "%u messages", n);
		cr_assert_eq(h.seq, 500 + c);
		cr_assert_eq(h.n_msgs, n);

		uint32_t walk = MOLD_HDR_LEN;
		for (unsigned int i = 0; i < n; i++) {
			uint16_t l;
			unsigned int r = i % (N_ROWS + 2);
			const uint8_t *m = mold_next(buf, &walk, &l);
			if (r < N_ROWS) {
				cr_assert_eq(m[0], (uint8_t)spec_rows[r].type);
				cr_assert_eq(l, spec_rows[r].len);
			} else {
				cr_assert_eq(l, 5 + i);
			}
		}
		cr_assert_eq(walk, off);
		/* one byte short or long: dropped whole */
		if (n > 0) {
			cr_assert_eq(mold_parse(buf, off - 1, &h), MOLD_ERR_BLOCK_OVERRUN);
			cr_assert_eq(mold_parse(buf, off + 1, &h), MOLD_ERR_TRAILING);
		}
	}
}

Test(mold, sequence_range_wrap)
{
	uint8_t buf[64];
	struct mold_hdr h;
	uint32_t off;

	off = block(buf, header(buf, UINT64_MAX, 1), 'S', 12);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_ERR_SEQ_WRAP);
	off = block(buf, header(buf, UINT64_MAX - 1, 1), 'S', 12);
	cr_assert_eq(mold_parse(buf, off, &h), MOLD_OK);
	cr_assert_eq(mold_parse(buf, header(buf, UINT64_MAX, 0), &h), MOLD_OK);
}

Test(mold, header_filled_on_error)
{
	uint8_t buf[64];
	struct mold_hdr h;
	uint32_t off = block(buf, header(buf, 31337, 1), 'S', 12);

	cr_assert_eq(mold_parse(buf, off + 1, &h), MOLD_ERR_TRAILING);
	cr_assert_eq(h.seq, 31337);
	cr_assert_eq(h.count, 1);
	cr_assert_eq(memcmp(h.session, "TESTSESS01", 10), 0);
}

Test(mold, error_strings)
{
	const char *s[MOLD_ERR_SEQ_WRAP + 1];

	for (int e = MOLD_OK; e <= MOLD_ERR_SEQ_WRAP; e++) {
		s[e] = mold_error_str((enum mold_error)e);
		cr_assert_not_null(s[e]);
		cr_assert_gt(strlen(s[e]), 1);
		for (int f = 0; f < e; f++)
			cr_assert_str_neq(s[e], s[f]);
	}
}
