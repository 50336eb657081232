/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A feed's decisions (docs/architecture.md, "Table changes"): symbol (the stock field
 * as on the wire) -> subscriber bitmap, for every symbol the builder knows, computed by
 * the builder off the polling cores. Immutable once its state is published; shared by
 * consecutive states while the feed's rules stay the same (reference counted by the
 * building thread only). The RX lcores read them (router_dec_find) when a locate's
 * cached bitmap is stale. Internal to router*.c.
 */
#ifndef ASTER_ROUTER_DEC_H
#define ASTER_ROUTER_DEC_H

#include <stdint.h>
#include <string.h>

#include "itch50.h"
#include "router.h"

/* The symbols a feed's decisions hold at most: a feed binds at most ROUTER_LOCATES at once. */
#define ROUTER_DEC_MAX ROUTER_LOCATES

struct router_decisions {
	uint32_t refs; /* states using it; changed by the building thread only */
	uint32_t n_words;
	uint32_t n;
	uint64_t mask; /* capacity - 1 */
	uint64_t *keys;
	uint8_t *used;
	uint64_t *bits; /* [capacity][n_words] */
};

static inline uint64_t router_dec_hash(uint64_t key)
{
	key ^= key >> 31;
	key *= 0xbf58476d1ce4e5b9ull;
	return key ^ (key >> 29);
}

/* The slot of `key` in `d` (may be NULL), or -1. */
static inline int64_t router_dec_find(const struct router_decisions *d, uint64_t key)
{
	uint64_t i;

	if (d == NULL || d->n == 0)
		return -1;
	for (i = router_dec_hash(key) & d->mask; d->used[i]; i = (i + 1) & d->mask)
		if (d->keys[i] == key)
			return (int64_t)i;
	return -1;
}

/* docs/protocol.md §3.4: the symbol is the stock field without its trailing spaces. */
static inline uint32_t router_key_symbol(uint64_t key, char sym[ITCH50_STOCK_LEN])
{
	uint32_t len = ITCH50_STOCK_LEN;

	memcpy(sym, &key, ITCH50_STOCK_LEN);
	while (len > 0 && sym[len - 1] == ' ')
		len--;
	return len;
}

void router_dec_put(struct router_decisions *d);
/* A private copy of `d` (may be NULL) for `n_words`, with room for `more` symbols. */
struct router_decisions *router_dec_copy(const struct router_decisions *d, uint32_t n_words,
					 uint32_t more);
/* The builder decides `key` under `m` into `bits` (n_words words). */
void router_dec_decide(const struct matcher *m, uint64_t key, uint64_t *bits, uint32_t n_words);
/* Every known symbol of `d` decided under `m` into `out` (d's layout): d->bits to decide
 * them again, or another array to see which symbols a probe matcher (the changed
 * patterns alone) matches. */
void router_dec_decide_all(const struct router_decisions *d, const struct matcher *m,
			   uint64_t *out);

#endif
