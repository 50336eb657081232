/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the pure input decoders (docs/protocol.md §3.1, §3.2) and the arbiter
 * (docs/protocol.md §3.3). Each input is used twice: as one Ethernet frame (frame_parse_udp, then
 * mold_parse on its UDP payload and a walk of every message), and, after skipping the
 * frame path, as a script of arbiter operations whose deliveries and releases are
 * checked (strictly increasing sequence numbers per session, each kept handle released
 * exactly once). Any violated invariant aborts, which libFuzzer reports as a crash.
 * Built and run by scripts/fuzz and scripts/test (tests/fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arbiter.h"
#include "feed_moldudp64.h"
#include "frame.h"
#include "fuzz.h"
#include "fuzz_arbiter.h"
#include "itch50.h"
#include "stats.h"

/* Walk a validated packet the way the router does and check the walk ends exactly. */
static void walk(const uint8_t *p, uint32_t len)
{
	struct mold_hdr h;
	enum mold_error e = mold_parse(p, len, &h);

	CHECK(mold_error_str(e) != NULL);
	if (e != MOLD_OK)
		return;
	CHECK(h.n_msgs == 0 || h.n_msgs == h.count);
	uint32_t off = MOLD_HDR_LEN;
	volatile uint64_t sink = 0;
	for (uint32_t i = 0; i < h.n_msgs; i++) {
		uint16_t l;
		const uint8_t *m = mold_next(p, &off, &l);
		CHECK(off <= len);
		if (l < ITCH50_MIN_ROUTABLE)
			continue;
		uint8_t t = m[0];
		CHECK(itch50_len[t] == 0 || itch50_len[t] == l);
		sink += itch50_locate(m);
		if (itch50_stock_off[t]) {
			const uint8_t *stock = m + itch50_stock_off[t];
			CHECK(itch50_symbol_len(stock) <= ITCH50_STOCK_LEN);
			sink += itch50_stock_key(stock);
		}
	}
	CHECK(off == len);
	(void)sink;
}

/* ---- arbiter script ---- */

static struct arbiter arb;
static uint8_t sessions[4][MOLD_SESSION_LEN];

/*
 * 4 bytes per operation: [op/line/session] [seq delta, signed] [n_msgs] [time step].
 * op 0..5 accept, 6 poll, 7 flush. Sequence numbers stay small so ranges collide often.
 */
static void run_script(const uint8_t *d, size_t size)
{
	uint64_t seq = 1, now = 1;
	uint32_t n_ops = 0;

	if (size < 2)
		return;
	fuzz_arbiter_reset();
	for (int s = 0; s < 4; s++) {
		memcpy(sessions[s], "SESSION-0 ", MOLD_SESSION_LEN);
		sessions[s][8] = (uint8_t)('0' + s);
	}
	arbiter_init(&arb, (uint8_t)(1 + d[0] % 3), (uint16_t)(1 + d[1] % 8), d[1] & 0x80 ? 50 : 0,
		     &fuzz_arbiter_ops, NULL);
	for (size_t i = 2; i + 4 <= size && n_ops < FUZZ_ARB_OPS; i += 4) {
		uint8_t op = d[i] & 7;
		now += d[i + 3];
		if (op == 6) {
			arbiter_poll(&arb, now);
			continue;
		}
		if (op == 7) {
			arbiter_flush(&arb);
			continue;
		}
		int64_t delta = (int8_t)d[i + 1];
		seq = (delta < 0 && (uint64_t)-delta >= seq) ? 1 : seq + (uint64_t)delta;
		uint32_t h = ++n_ops;
		struct arbiter_pkt p = {
		    .handle = (void *)(uintptr_t)h,
		    .session = sessions[(d[i] >> 5) & 3],
		    .seq = seq,
		    .n_msgs = (uint16_t)(d[i + 2] % 40),
		    .line = (uint8_t)((d[i] >> 3) & 3), /* 3 may exceed n_lines: tolerated */
		};
		fuzz_hstate[h] = 1;
		if (!arbiter_accept(&arb, &p, now)) {
			CHECK(fuzz_hstate[h] == 1);
			fuzz_hstate[h] = 3;
		}
		CHECK(arb.n_held <= arb.hold_max);
	}
	arbiter_flush(&arb);
	CHECK(arb.n_held == 0);
	for (uint32_t h = 1; h <= n_ops; h++)
		CHECK(fuzz_hstate[h] == 2 || fuzz_hstate[h] == 3);
	CHECK(arb.c.gaps <= arb.c.gap_messages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_udp f;
	uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;

	int r = frame_parse_udp(data, len, &f);
	CHECK(r >= 0 && r < DROP__MAX);
	if (r == 0) {
		CHECK((uint32_t)f.payload_off + f.payload_len <= len);
		walk(data + f.payload_off, f.payload_len);
	}
	/* The raw bytes as a MoldUDP64 payload too, so mold_parse is explored directly. */
	walk(data, len);
	run_script(data, size);
	return 0;
}
