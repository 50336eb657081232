/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A token bucket over TSC ticks (docs/protocol.md §6.2: at most `retransmit.rate`
 * messages retransmitted per second and subscriber). Tokens accrue at `rate` per second
 * up to `depth`; taking more than is there grants what is there. Pure: the caller
 * passes the time (rte_rdtsc() in the dataplane, anything in tests); no allocation.
 */
#ifndef ASTER_TOKEN_BUCKET_H
#define ASTER_TOKEN_BUCKET_H

#include <stdint.h>

struct token_bucket {
	uint64_t credit;    /* tokens x tsc_hz (so one tick adds exactly `rate`) */
	uint64_t cap;	    /* depth x tsc_hz */
	uint64_t rate;	    /* tokens per second */
	uint64_t tsc_hz;    /* ticks per second */
	uint64_t max_ticks; /* ticks that refill an empty bucket: longer gaps add no more */
	uint64_t last_tsc;  /* time of the last refill */
};

/*
 * `rate` tokens per second (>= 1), at most `depth` (>= 1) banked, full at `now_tsc`.
 * rate x tsc_hz and depth x tsc_hz must fit in 64 bits (1e8/s at 4 GHz: 4e17).
 */
void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t depth, uint64_t tsc_hz,
		       uint64_t now_tsc);

/* Take up to `want` tokens at `now_tsc`; returns how many were granted (0..want). */
uint32_t token_bucket_take(struct token_bucket *b, uint32_t want, uint64_t now_tsc);

/* Tokens available at `now_tsc` (refills first), for tests and telemetry. */
uint64_t token_bucket_level(struct token_bucket *b, uint64_t now_tsc);

#endif
