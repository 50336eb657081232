/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A feed's decisions (router_dec.h): the table, its copies, the builder deciding
 * symbols under a matcher, and the symbols learnt from the feed's locates before a
 * publish (router_state_learn).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "router_dec.h"

void router_dec_put(struct router_decisions *d)
{
	if (d == NULL || --d->refs != 0)
		return;
	free(d->keys);
	free(d->used);
	free(d->bits);
	free(d);
}

/* Room for `n` symbols at a load of at most 1/2. */
static struct router_decisions *dec_new(uint32_t n_words, uint32_t n)
{
	struct router_decisions *d = calloc(1, sizeof(*d));
	uint64_t cap = 64;

	if (d == NULL)
		return NULL;
	while (cap < 2ull * n)
		cap <<= 1;
	d->refs = 1;
	d->n_words = n_words;
	d->mask = cap - 1;
	d->keys = malloc(cap * sizeof(*d->keys));
	d->used = calloc(cap, 1);
	d->bits = calloc(cap * (n_words ? n_words : 1), sizeof(uint64_t));
	if (d->keys == NULL || d->used == NULL || d->bits == NULL) {
		router_dec_put(d);
		return NULL;
	}
	return d;
}

/* The slot of `key`, claimed when new (the caller checked there is room). */
static uint64_t dec_slot(struct router_decisions *d, uint64_t key)
{
	uint64_t i;

	for (i = router_dec_hash(key) & d->mask; d->used[i]; i = (i + 1) & d->mask)
		if (d->keys[i] == key)
			return i;
	d->used[i] = 1;
	d->keys[i] = key;
	memset(d->bits + i * d->n_words, 0, d->n_words * sizeof(uint64_t));
	d->n++;
	return i;
}

struct router_decisions *router_dec_copy(const struct router_decisions *d, uint32_t n_words,
					 uint32_t more)
{
	uint32_t n = d != NULL ? d->n : 0;
	struct router_decisions *c = dec_new(n_words, n + more);
	uint32_t w = d != NULL && d->n_words < n_words ? d->n_words : n_words;

	if (c == NULL || d == NULL)
		return c;
	if (c->mask == d->mask && d->n_words == n_words) {
		memcpy(c->keys, d->keys, (d->mask + 1) * sizeof(*c->keys));
		memcpy(c->used, d->used, d->mask + 1);
		memcpy(c->bits, d->bits, (d->mask + 1) * n_words * sizeof(uint64_t));
		c->n = d->n;
		return c;
	}
	for (uint64_t i = 0; i <= d->mask; i++)
		if (d->used[i])
			memcpy(c->bits + dec_slot(c, d->keys[i]) * n_words,
			       d->bits + i * d->n_words, w * sizeof(uint64_t));
	return c;
}

void router_dec_decide(const struct matcher *m, uint64_t key, uint64_t *bits, uint32_t n_words)
{
	char sym[ITCH50_STOCK_LEN];
	uint32_t len = router_key_symbol(key, sym);

	memset(bits, 0, n_words * sizeof(uint64_t));
	matcher_match(m, MATCHER_SCRATCH_BUILDER, sym, len, bits);
}

uint32_t router_feed_known_symbols(const struct router_feed_rules *fr)
{
	return fr->dec != NULL ? fr->dec->n : 0;
}

void router_dec_decide_all(const struct router_decisions *d, const struct matcher *m, uint64_t *out)
{
	for (uint64_t i = 0; i <= d->mask; i++)
		if (d->used[i])
			router_dec_decide(m, d->keys[i], out + i * d->n_words, d->n_words);
}

int router_state_learn(struct router_state *rs, uint32_t feed, const struct router_locates *rl)
{
	struct router_feed_rules *fr = &rs->feeds[feed];
	struct router_decisions *d = fr->dec;
	uint32_t fresh = 0;

	/* first count, so that one copy has room for them all */
	for (uint32_t l = 1; l < ROUTER_LOCATES; l++) {
		uint64_t key = __atomic_load_n(&rl->e[l].symbol, __ATOMIC_RELAXED);
		uint64_t ver = __atomic_load_n(&rl->e[l].version, __ATOMIC_RELAXED);

		if ((key != 0 || ver != 0) && router_dec_find(d, key) < 0)
			fresh++;
	}
	if (fresh == 0)
		return 0;
	if (d->n + fresh > ROUTER_DEC_MAX)
		fresh = d->n < ROUTER_DEC_MAX ? ROUTER_DEC_MAX - d->n : 0;
	if (fresh == 0)
		return 0;
	if (d->refs > 1 || 2ull * (d->n + fresh) > d->mask + 1) {
		d = router_dec_copy(fr->dec, fr->dec->n_words, fresh);
		if (d == NULL)
			return -ENOMEM;
		router_dec_put(fr->dec);
		fr->dec = d;
	}
	for (uint32_t l = 1; l < ROUTER_LOCATES && fresh > 0; l++) {
		uint64_t key = __atomic_load_n(&rl->e[l].symbol, __ATOMIC_RELAXED);
		uint64_t ver = __atomic_load_n(&rl->e[l].version, __ATOMIC_RELAXED);

		if ((key == 0 && ver == 0) || router_dec_find(d, key) >= 0)
			continue;
		router_dec_decide(fr->matcher, key, d->bits + dec_slot(d, key) * d->n_words,
				  d->n_words);
		fresh--;
	}
	return 0;
}
