/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Token bucket (docs/protocol.md §6.2). Credit is kept in token x tick units, so a
 * refill is one multiplication and never loses a fraction of a token to rounding:
 * over any long interval exactly rate x elapsed / tsc_hz tokens accrue (while not
 * full). A clock that goes backwards (another core's TSC) adds nothing.
 */
#include "token_bucket.h"

void token_bucket_init(struct token_bucket *b, uint64_t rate, uint64_t depth, uint64_t tsc_hz,
		       uint64_t now_tsc)
{
	if (rate == 0)
		rate = 1;
	if (depth == 0)
		depth = 1;
	if (tsc_hz == 0)
		tsc_hz = 1;
	b->rate = rate;
	b->tsc_hz = tsc_hz;
	b->cap = depth * tsc_hz;
	b->credit = b->cap;
	b->max_ticks = b->cap / rate + 1;
	b->last_tsc = now_tsc;
}

static void refill(struct token_bucket *b, uint64_t now_tsc)
{
	uint64_t ticks;

	if (now_tsc <= b->last_tsc)
		return;
	ticks = now_tsc - b->last_tsc;
	b->last_tsc = now_tsc;
	if (ticks >= b->max_ticks) { /* also keeps ticks x rate from overflowing */
		b->credit = b->cap;
		return;
	}
	b->credit += ticks * b->rate;
	if (b->credit > b->cap)
		b->credit = b->cap;
}

uint32_t token_bucket_take(struct token_bucket *b, uint32_t want, uint64_t now_tsc)
{
	uint64_t have;

	refill(b, now_tsc);
	have = b->credit / b->tsc_hz;
	if (have > want)
		have = want;
	b->credit -= have * b->tsc_hz;
	return (uint32_t)have;
}

uint64_t token_bucket_level(struct token_bucket *b, uint64_t now_tsc)
{
	refill(b, now_tsc);
	return b->credit / b->tsc_hz;
}
