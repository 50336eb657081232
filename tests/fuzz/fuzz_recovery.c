/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for upstream recovery (dataplane/recovery.c on the arbiter in
 * recovery mode, docs/protocol.md §6.3). The input is a script of events on one feed of
 * two lines: packets on either line and either of two sessions, housekeeping polls that
 * return requests, answers from the server (within what was asked or not) and from
 * elsewhere, flushes. Checked after every event: deliveries strictly increasing within a
 * session, each packet handle released exactly once, the hold queue within its bound,
 * requests of 1..0xFFFE messages, open ranges sorted and disjoint; at the end, after a
 * flush, nothing held.
 */
#include <string.h>

#include "arbiter.h"
#include "fuzz.h"
#include "fuzz_arbiter.h"
#include "recovery.h"
#include "routing_config.h"

#define SERVER_IP   0x0a000005u
#define SERVER_PORT 26400
#define HOLD_MAX    32

static struct arbiter arb;
static struct recovery rec;

static void check_ranges(void)
{
	CHECK(rec.n <= RECOVERY_MAX_RANGES);
	for (uint32_t i = 0; i < rec.n; i++) {
		CHECK(rec.r[i].first < rec.r[i].end);
		CHECK(i == 0 || rec.r[i - 1].end <= rec.r[i].first);
	}
	CHECK(arb.n_held <= arb.hold_max);
}

/*
 * 5 bytes per event: [kind] [line, session] [sequence step, signed] [messages] [time].
 * kind % 8: 0-3 a packet, 4 a poll, 5 an answer to the last request (or near it), 6 an
 * answer from a foreign address, 7 a flush.
 */
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	static const uint8_t sessions[2][10] = {"SESSION-A ", "SESSION-B "};
	const struct rc_recovery cfg = {
	    .enabled = true,
	    .server_ip = SERVER_IP,
	    .server_port = SERVER_PORT,
	    .wait_us = 20,
	    .timeout_us = 200,
	    .tries = 2,
	};
	struct recovery_request req[8], last = {.seq = 1, .count = 1};
	uint64_t seq = 1, now = 1;
	uint32_t n_ops = 0;

	fuzz_arbiter_reset();
	arbiter_init(&arb, 2, HOLD_MAX, 10, &fuzz_arbiter_ops, NULL);
	recovery_init(&rec, &cfg, 1000000);
	recovery_attach(&rec, &arb);
	for (size_t i = 0; i + 5 <= size && n_ops < FUZZ_ARB_OPS; i += 5) {
		uint8_t kind = d[i] & 7;
		int64_t step = (int8_t)d[i + 2];

		now += d[i + 4];
		if (kind == 4) {
			uint32_t n = recovery_poll(&rec, &arb, now, req, 8);

			CHECK(n <= 8);
			for (uint32_t k = 0; k < n; k++) {
				CHECK(req[k].count >= 1 && req[k].count <= RECOVERY_COUNT_MAX);
				CHECK(req[k].seq >= 1);
				last = req[k];
			}
		} else if (kind == 7) {
			arbiter_flush(&arb);
		} else {
			uint32_t h = ++n_ops;
			bool kept = false;
			struct arbiter_pkt p = {
			    .handle = (void *)(uintptr_t)h,
			    .session = sessions[(d[i + 1] >> 1) & 1],
			    .n_msgs = (uint16_t)(d[i + 3] % 40),
			    .line = (uint8_t)(d[i + 1] & 1),
			};

			if (kind == 5 || kind == 6) {
				/* an answer: the last request's range, shifted by the step */
				p.seq = step < 0 && (uint64_t)-step >= last.seq
					    ? 1
					    : last.seq + (uint64_t)step;
				fuzz_hstate[h] = 1;
				recovery_answer(&rec, &arb, kind == 5 ? SERVER_IP : SERVER_IP + 1,
						SERVER_PORT, &p, now, &kept);
			} else {
				seq = step < 0 && (uint64_t)-step >= seq ? 1 : seq + (uint64_t)step;
				p.seq = seq;
				fuzz_hstate[h] = 1;
				kept = arbiter_accept(&arb, &p, now);
			}
			if (!kept) {
				CHECK(fuzz_hstate[h] == 1);
				fuzz_hstate[h] = 3;
			}
		}
		check_ranges();
	}
	arbiter_flush(&arb);
	CHECK(arb.n_held == 0);
	for (uint32_t h = 1; h <= n_ops; h++)
		CHECK(fuzz_hstate[h] == 2 || fuzz_hstate[h] == 3);
	return 0;
}
