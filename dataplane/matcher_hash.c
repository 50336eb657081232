/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The matcher's exact-symbol and prefix hashes, cut into pieces (matcher_hash.h): their
 * full build, a change to the pieces it touches, and the lookups matcher_match makes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_int.h"

#include "../common/routing_config.h"

static inline uint64_t slot_hash(uint64_t key)
{
	key ^= key >> 29;
	key *= 0x9e3779b97f4a7c15ull;
	return key ^ (key >> 32);
}

/* The piece a key lives in: the hash's top byte (slots use its low bits). */
static inline uint32_t hash_shard(uint64_t key)
{
	return (uint32_t)(slot_hash(key) >> 56) % MATCHER_HASH_SHARDS;
}

static const struct matcher_slot *slot_find(const struct matcher_hunit *u, uint64_t key)
{
	uint64_t i = slot_hash(key) & u->mask;

	for (;; i = (i + 1) & u->mask) {
		const struct matcher_slot *e = &u->slots[i];

		if (e->key == key)
			return e;
		if (e->key == 0)
			return NULL;
	}
}

static int cmp_pair(const void *a, const void *b)
{
	const struct matcher_pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

void matcher_hunit_put(struct matcher_hunit *u)
{
	if (u == NULL || matcher_ref_put(&u->refs) != 0)
		return;
	free(u->slots);
	free(u->subs);
	free(u);
}

/* Sorted, duplicate-free pairs -> one piece (NULL with errno when n == 0 or no memory). */
static struct matcher_hunit *hunit_build(const struct matcher_pair *pairs, uint32_t n)
{
	struct matcher_hunit *u;
	uint64_t cap = 16;

	if (n == 0) {
		errno = 0;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->refs = 1;
	for (uint32_t i = 0; i < n; i++)
		u->n_keys += i == 0 || pairs[i].key != pairs[i - 1].key;
	/* load factor <= 1/2 keeps linear probing short */
	while (cap < 2ull * u->n_keys)
		cap <<= 1;
	u->slots = calloc(cap, sizeof(*u->slots));
	u->subs = malloc(n * sizeof(*u->subs));
	if (u->slots == NULL || u->subs == NULL) {
		free(u->slots);
		free(u->subs);
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	u->mask = cap - 1;
	for (uint32_t i = 0; i < n;) {
		uint64_t key = pairs[i].key;
		uint64_t h = slot_hash(key) & u->mask;
		struct matcher_slot *e;

		while (u->slots[h].key != 0)
			h = (h + 1) & u->mask;
		e = &u->slots[h];
		e->key = key;
		e->first = u->n_pairs;
		for (; i < n && pairs[i].key == key; i++)
			u->subs[u->n_pairs++] = pairs[i].sub;
		e->count = u->n_pairs - e->first;
	}
	return u;
}

/* Sort and drop repeated pairs in place; returns the new count. */
static uint32_t pairs_normalize(struct matcher_pair *p, uint32_t n)
{
	uint32_t k = 0;

	qsort(p, n, sizeof(*p), cmp_pair);
	for (uint32_t i = 0; i < n; i++)
		if (k == 0 || p[i].key != p[k - 1].key || p[i].sub != p[k - 1].sub)
			p[k++] = p[i];
	return k;
}

enum matcher_kind matcher_kind_of(const char *expr, uint64_t *key)
{
	unsigned int len;

	if (rc_pattern_exact_key(expr, key))
		return MATCHER_EXACT;
	if (rc_pattern_prefix_key(expr, key, &len))
		return MATCHER_PREFIX;
	return MATCHER_REGEX;
}

int matcher_hash_build(struct matcher_hunit **units, struct matcher_pair *pairs, uint32_t n)
{
	uint32_t count[MATCHER_HASH_SHARDS] = {0}, first[MATCHER_HASH_SHARDS];
	struct matcher_pair *by = malloc((n ? n : 1) * sizeof(*by));

	if (by == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		count[hash_shard(pairs[i].key)]++;
	first[0] = 0;
	for (uint32_t k = 1; k < MATCHER_HASH_SHARDS; k++)
		first[k] = first[k - 1] + count[k - 1];
	memset(count, 0, sizeof(count));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = hash_shard(pairs[i].key);

		by[first[k] + count[k]++] = pairs[i];
	}
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++) {
		uint32_t c;

		if (count[k] == 0)
			continue;
		c = pairs_normalize(by + first[k], count[k]);
		units[k] = hunit_build(by + first[k], c);
		if (units[k] == NULL) {
			free(by);
			return -ENOMEM;
		}
	}
	free(by);
	return 0;
}

uint32_t matcher_hash_pairs(struct matcher_hunit *const *units)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++)
		n += units[k] != NULL ? units[k]->n_pairs : 0;
	return n;
}

/* Count (sign +1) or uncount (-1) the pairs of prefix piece `u` by literal length. */
static void unit_len_pairs(const struct matcher_hunit *u, uint32_t *len_pairs, int sign)
{
	for (uint64_t s = 0; u != NULL && s <= u->mask; s++)
		if (u->slots[s].key != 0)
			len_pairs[strnlen((const char *)&u->slots[s].key, MATCHER_SYM_LEN) - 1] +=
			    (uint32_t)sign * u->slots[s].count;
}

void matcher_hash_len_pairs(struct matcher_hunit *const *units, uint32_t *len_pairs)
{
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++)
		unit_len_pairs(units[k], len_pairs, 1);
}

static int cmp_hash_change(const void *a, const void *b)
{
	const struct matcher_hash_op *x = a, *y = b;
	uint32_t kx = hash_shard(x->key), ky = hash_shard(y->key);

	return kx < ky ? -1 : kx > ky;
}

int matcher_hash_change(struct matcher_hunit **units, struct matcher_hash_op *c, uint32_t n,
			uint32_t *len_pairs, int64_t *delta)
{
	qsort(c, n, sizeof(*c), cmp_hash_change);
	for (uint32_t i = 0; i < n;) {
		uint32_t k = hash_shard(c[i].key), j = i, np = 0, old_np;
		struct matcher_hunit *u = units[k], *nu;
		struct matcher_pair *p;

		while (j < n && hash_shard(c[j].key) == k)
			j++;
		old_np = u != NULL ? u->n_pairs : 0;
		p = malloc(((size_t)old_np + (j - i) + 1) * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		for (uint64_t s = 0; u != NULL && s <= u->mask; s++)
			for (uint32_t x = 0; u->slots[s].key != 0 && x < u->slots[s].count; x++)
				p[np++] = (struct matcher_pair){u->slots[s].key,
								u->subs[u->slots[s].first + x]};
		for (uint32_t x = i; x < j; x++)
			if (c[x].add)
				p[np++] = (struct matcher_pair){c[x].key, c[x].sub};
		np = pairs_normalize(p, np);
		for (uint32_t x = i; x < j; x++) {
			struct matcher_pair want = {c[x].key, c[x].sub}, *hit;

			if (c[x].add)
				continue;
			hit = bsearch(&want, p, np, sizeof(*p), cmp_pair);
			if (hit != NULL) {
				memmove(hit, hit + 1, (size_t)(p + np - hit - 1) * sizeof(*p));
				np--;
			}
		}
		nu = hunit_build(p, np);
		free(p);
		if (nu == NULL && np != 0)
			return -ENOMEM;
		if (len_pairs != NULL) {
			unit_len_pairs(u, len_pairs, -1);
			unit_len_pairs(nu, len_pairs, 1);
		}
		matcher_hunit_put(units[k]);
		units[k] = nu;
		*delta += (int64_t)np - old_np;
		i = j;
	}
	return 0;
}

void matcher_hash_exact(struct matcher_hunit *const *units, const char *sym, uint32_t len,
			uint64_t *bits)
{
	char padded[MATCHER_SYM_LEN];
	const struct matcher_slot *e;
	const struct matcher_hunit *u;
	uint64_t key;

	if (len == 0 || len > MATCHER_SYM_LEN)
		return;
	memset(padded, ' ', MATCHER_SYM_LEN);
	memcpy(padded, sym, len);
	memcpy(&key, padded, MATCHER_SYM_LEN);
	u = units[hash_shard(key)];
	if (u != NULL && (e = slot_find(u, key)) != NULL)
		matcher_set_subs(bits, u->subs + e->first, e->count);
}

/* `^LIT` matches every symbol starting with LIT: probe each prefix length in use. */
void matcher_hash_prefix(struct matcher_hunit *const *units, const uint32_t *len_pairs,
			 const char *sym, uint32_t len, uint64_t *bits)
{
	for (uint32_t l = 1; l <= MATCHER_SYM_LEN && l <= len; l++) {
		char key_bytes[MATCHER_SYM_LEN] = {0};
		const struct matcher_slot *e;
		const struct matcher_hunit *u;
		uint64_t key;

		if (len_pairs[l - 1] == 0)
			continue;
		memcpy(key_bytes, sym, l);
		memcpy(&key, key_bytes, MATCHER_SYM_LEN);
		u = units[hash_shard(key)];
		if (u != NULL && (e = slot_find(u, key)) != NULL)
			matcher_set_subs(bits, u->subs + e->first, e->count);
	}
}
