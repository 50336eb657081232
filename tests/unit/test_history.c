/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retransmission history (docs/protocol.md §6.2): sizing, the oldest and newest messages
 * served, nothing past what was committed, reads across frames and from inside one,
 * wrap-around of the byte ring and of the frame entries, bounds of one read, reads
 * continued from a hint, history 0, and a reader racing the writer on another thread
 * that must never see torn data.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "history.h"
#include "routing_config.h"

/* Message `seq`: 3..50 bytes (ITCH sizes), every byte derived from seq and position. */
static uint16_t msg_of(uint64_t seq, uint8_t *m)
{
	uint16_t len = (uint16_t)(3 + (seq * 7919) % 48);

	for (uint16_t i = 0; i < len; i++)
		m[i] = (uint8_t)(seq * 31 + i * 17 + (seq >> 8));
	return len;
}

/* Blocks at `p` (n messages from `seq`) are exactly the messages, length-prefixed. */
static bool blocks_ok(const uint8_t *p, uint32_t bytes, uint64_t seq, uint16_t n)
{
	uint8_t m[64];
	uint32_t off = 0;

	for (uint16_t k = 0; k < n; k++) {
		uint16_t len = msg_of(seq + k, m);

		if (off + 2 + len > bytes || p[off] != len >> 8 || p[off + 1] != (len & 0xff) ||
		    memcmp(p + off + 2, m, len) != 0)
			return false;
		off += 2 + len;
	}
	return off == bytes;
}

static struct history *make(uint32_t messages, void **mem)
{
	struct history *h = aligned_alloc(64, sizeof(*h));

	*mem = NULL;
	if (messages > 0) {
		*mem = aligned_alloc(64, (history_mem_size(messages) + 63) & ~(size_t)63);
		cr_assert_not_null(*mem);
	}
	history_init(h, messages, *mem);
	return h;
}

/* Frames of `per` messages (the last may hold fewer) for sequences [first, end), written
 * as the publisher closes them. */
static void frames_range(struct history *h, uint64_t first, uint64_t end, uint16_t per)
{
	uint8_t blocks[HISTORY_FRAME_MAX];

	while (first < end) {
		uint32_t used = 0;
		uint16_t n = 0;

		for (; n < per && first + n < end; n++) {
			uint16_t len = msg_of(first + n, blocks + used + 2);

			blocks[used] = (uint8_t)(len >> 8);
			blocks[used + 1] = (uint8_t)len;
			used += 2u + len;
		}
		history_frame(h, first, blocks, used, n);
		first += n;
	}
}

#define READ(h, seq, max, out, n, bytes)                                                           \
	history_read(h, seq, max, sizeof(out), out, &n, &bytes, NULL)

Test(history, sizing)
{
	cr_expect_eq(history_mem_size(0), 0);
	/* 1000 messages: 52 000 bytes + a frame, rounded to 64, then 1024 frame entries */
	cr_expect_eq(history_mem_size(1000), 60224 + 1024 * 16);
	cr_expect_eq(history_mem_size(1022), 61376 + 1024 * 16);
	cr_expect_eq(history_mem_size(1023), 61440 + 2048 * 16, "1023 + 2 entries: 2048");
	cr_expect_eq(history_mem_size(1000000), 52008192 + 1048576 * 16);
}

Test(history, oldest_newest_and_not_yet)
{
	void *mem;
	struct history *h = make(100, &mem);
	uint8_t out[8192];
	uint16_t n;
	uint32_t bytes;

	cr_expect_eq(READ(h, 1, 10, out, n, bytes), HISTORY_NOT_YET);
	frames_range(h, 1, 51, 4);
	cr_expect_eq(history_committed(h), 51);
	cr_assert_eq(READ(h, 1, 10, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 10, "across frame boundaries");
	cr_expect(blocks_ok(out, bytes, 1, n));
	/* from inside a frame, never past what was sent */
	cr_assert_eq(READ(h, 46, 100, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 5);
	cr_expect(blocks_ok(out, bytes, 46, n));
	cr_expect_eq(READ(h, 51, 1, out, n, bytes), HISTORY_NOT_YET);

	/* 1000 more: the last 100 (at least) are kept, the oldest are gone */
	frames_range(h, 51, 1051, 7);
	cr_assert_eq(READ(h, 951, 100, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 100);
	cr_expect(blocks_ok(out, bytes, 951, n));
	cr_assert_eq(READ(h, 1050, 100, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 1);
	cr_expect_eq(READ(h, 1, 1, out, n, bytes), HISTORY_GONE);
	cr_expect_eq(READ(h, 150, 1, out, n, bytes), HISTORY_GONE, "128 entries of 7");
	free(mem);
	free(h);
}

/* One message per frame: the frame entries, not the bytes, bound what is kept; at least
 * `messages` are. */
Test(history, one_message_frames)
{
	void *mem;
	struct history *h = make(100, &mem); /* 128 entries */
	uint8_t out[8192];
	uint16_t n;
	uint32_t bytes;

	frames_range(h, 1, 1001, 1);
	for (uint64_t q = 901; q < 1001; q++) {
		cr_assert_eq(READ(h, q, 3, out, n, bytes), HISTORY_OK, "seq %lu", (unsigned long)q);
		cr_assert(blocks_ok(out, bytes, q, n));
	}
	cr_expect_eq(READ(h, 1001 - 128, 1, out, n, bytes), HISTORY_GONE, "its entry is reused");
	free(mem);
	free(h);
}

/* A read is bounded by bytes as well as messages (an answer's max_payload), and a hint
 * continues where the previous read stopped. */
Test(history, read_bounds_and_hint)
{
	void *mem;
	struct history *h = make(64, &mem);
	uint8_t out[4096], m[64];
	uint16_t n, len1 = msg_of(1, m), len2 = msg_of(2, m);
	uint32_t bytes;
	struct history_hint hint = {0, 0, 0};

	frames_range(h, 1, 40, 5);
	cr_assert_eq(history_read(h, 1, 40, 2u + len1 + 2u + len2, out, &n, &bytes, NULL),
		     HISTORY_OK);
	cr_expect_eq(n, 2);
	cr_expect_eq(bytes, 4u + len1 + len2);
	cr_assert_eq(history_read(h, 1, 40, 2u + len1 + 2u + len2 - 1, out, &n, &bytes, NULL),
		     HISTORY_OK);
	cr_expect_eq(n, 1);
	cr_assert_eq(READ(h, 3, 1, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 1);
	cr_expect(blocks_ok(out, bytes, 3, 1));

	for (uint64_t q = 2; q < 40; q += n) {
		cr_assert_eq(history_read(h, q, 3, sizeof(out), out, &n, &bytes, &hint),
			     HISTORY_OK);
		cr_assert(blocks_ok(out, bytes, q, n));
		cr_assert_eq(hint.seq, q + n);
	}
	free(mem);
	free(h);
}

/* The byte ring wraps many times, frames straddle its end; the frame entries wrap too. */
Test(history, wrap_around)
{
	void *mem;
	struct history *h = make(37, &mem);
	uint8_t out[8192];
	uint16_t n;
	uint32_t bytes;
	uint64_t s = 1, straddled = 0;

	for (int round = 0; round < 3000; round++) {
		uint64_t pos = h->head;
		uint16_t per = (uint16_t)(1 + round % 40); /* up to ~1 KiB frames */

		frames_range(h, s, s + per, per);
		s += per;
		straddled += pos / h->size != (h->head - 1) / h->size;
		/* every message of the last 37 reads back intact, in any chunk */
		uint64_t c = history_committed(h);
		for (uint64_t q = c > 37 ? c - 37 : 1; q < c; q += 5) {
			cr_assert_eq(READ(h, q, 9, out, n, bytes), HISTORY_OK,
				     "seq %lu, committed %lu", (unsigned long)q, (unsigned long)c);
			cr_assert(blocks_ok(out, bytes, q, n));
			cr_assert(n == 9 || q + n == c);
		}
	}
	cr_expect_gt(straddled, 10, "frames were split by the ring's end");
	free(mem);
	free(h);
}

/* A history given to a running stream starts at its first frame; a frame that does
 * not continue the previous one leaves nothing before it readable. */
Test(history, late_start_and_discontinuity)
{
	void *mem;
	struct history *h = make(100, &mem);
	uint8_t out[8192];
	uint16_t n;
	uint32_t bytes;

	frames_range(h, 5000, 5040, 4);
	cr_expect_eq(READ(h, 4999, 1, out, n, bytes), HISTORY_GONE);
	cr_assert_eq(READ(h, 5000, 40, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 40);
	cr_expect(blocks_ok(out, bytes, 5000, n));
	frames_range(h, 6000, 6008, 4); /* 5040..5999 never came */
	cr_expect_eq(READ(h, 5030, 1, out, n, bytes), HISTORY_GONE);
	cr_assert_eq(READ(h, 6000, 40, out, n, bytes), HISTORY_OK);
	cr_expect_eq(n, 8);
	cr_expect(blocks_ok(out, bytes, 6000, n));
	free(mem);
	free(h);
}

Test(history, off)
{
	void *mem;
	struct history *h = make(0, &mem);
	uint8_t out[256];
	uint16_t n;
	uint32_t bytes;

	frames_range(h, 1, 10, 3);
	cr_expect_eq(READ(h, 1, 1, out, n, bytes), HISTORY_OFF);
	free(h);
}

/* ---- a reader on another thread, racing the writer ---- */

#define RACE_MSGS 3000000u

static struct {
	struct history *h;
	volatile int done;
} race;

static void *writer(void *arg)
{
	(void)arg;
	for (uint64_t s = 1; s <= RACE_MSGS;) {
		uint16_t per = (uint16_t)(1 + s % 13);

		frames_range(race.h, s, s + per, per);
		s += per;
	}
	race.done = 1;
	return NULL;
}

Test(history, reader_races_writer, .timeout = 60)
{
	void *mem;
	pthread_t w;
	uint8_t out[16384];
	uint64_t ok = 0, gone = 0, hinted = 0, rng = 88172645463325252ull;
	struct history_hint hint = {0, 0, 0}, old = {0, 0, 0};
	uint64_t reads = 0;

	/* small: the writer laps the reader constantly, so overwrites under a read happen */
	race.h = make(64, &mem);
	race.done = 0;
	cr_assert_eq(pthread_create(&w, NULL, writer, NULL), 0);
	while (!race.done) {
		uint64_t c = history_committed(race.h), q;
		uint16_t n;
		uint32_t bytes;

		if (c < 2)
			continue;
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		/* anywhere from well before the kept range to the newest; every other read
		 * continues the previous one through its hint, and some continue one from
		 * 64 reads ago, whose bytes the writer has most likely overwritten since */
		q = c - 1 - rng % (c - 1 < 700 ? c - 1 : 700);
		if (++reads % 64 == 0) {
			struct history_hint t = hint;

			if (old.of != 0)
				hint = old;
			old = t;
		}
		if ((rng & 1) && hint.of != 0 && hint.seq < c) {
			q = hint.seq;
			hinted++;
		}
		switch (history_read(race.h, q, 120, sizeof(out), out, &n, &bytes, &hint)) {
		case HISTORY_OK:
			cr_assert(blocks_ok(out, bytes, q, n), "torn read of %u messages at %lu", n,
				  (unsigned long)q);
			ok++;
			break;
		case HISTORY_GONE:
			hint.of = 0;
			gone++;
			break;
		case HISTORY_NOT_YET:
		case HISTORY_OFF:
			cr_assert_fail("seq %lu < committed %lu", (unsigned long)q,
				       (unsigned long)c);
		}
	}
	pthread_join(w, NULL);
	cr_log_info("reader: %lu intact reads (%lu from a hint), %lu refused as gone",
		    (unsigned long)ok, (unsigned long)hinted, (unsigned long)gone);
	cr_expect_gt(ok, 100);
	cr_expect_gt(gone, 0, "the race must have overwritten frames under reads");
	free(mem);
	free(race.h);
}

/* Memory: only subscribers on retransmitting ports keep history; a table over budget is
 * refused with one line saying how much it needs. */
Test(history, table_sizing_and_refusal)
{
	static const char yaml[] =
	    "feeds: [{name: f, protocol: moldudp64-itch50, lines: [{name: A, group: 239.1.1.1, "
	    "port: 1}]}]\n"
	    "ports:\n"
	    "  - {name: r, src_ip: 10.0.0.1, retransmit: {port: 31999}}\n"
	    "  - {name: plain}\n"
	    "subscribers:\n"
	    "  - {name: a, feed: f, port: r, session: A, symbols: [x], history: 1000000,\n"
	    "     dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.2, port: 9}}\n"
	    "  - {name: b, feed: f, port: r, session: B, symbols: [x], history: 0,\n"
	    "     dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.3, port: 9}}\n"
	    "  - {name: c, feed: f, port: r, session: C, symbols: [x],\n"
	    "     dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.4, port: 9}}\n"
	    "  - {name: d, feed: f, port: plain, session: D, symbols: [x], history: 5000000,\n"
	    "     dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.5, port: 9}}\n";
	char err[RC_ERR_LEN];
	struct routing_config *cfg =
	    routing_config_parse(yaml, strlen(yaml), "t.yaml", err, sizeof(err));
	uint32_t n = 0;
	uint64_t need;

	cr_assert_not_null(cfg, "%s", err);
	need = history_table_bytes(cfg, &n);
	cr_expect_eq(n, 2, "a and c (default history); b keeps none, d's port does not serve");
	cr_expect_eq(need, history_mem_size(1000000) + history_mem_size(RC_HISTORY_DEF));
	cr_expect_eq(history_table_check(cfg, need, err, sizeof(err)), 0);
	cr_expect_eq(history_table_check(cfg, 32u << 20, err, sizeof(err)), -ENOSPC);
	cr_expect_str_eq(err, "t.yaml: history: the table needs 73 MiB of history (2 "
			      "subscribers), more than the 32 MiB the profile allows");
	routing_config_free(cfg);
}
