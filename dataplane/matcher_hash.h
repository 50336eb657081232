/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The matcher's two hashes (docs/architecture.md, "Table changes"): exact symbols
 * (`^AAPL$`) keyed by the symbol space-padded to 8 bytes, the same u64 as
 * itch50_stock_key() on the wire, and anchored literal prefixes (`^MS`) keyed by the
 * prefix zero padded to 8 bytes (the padding encodes the length). Neither reaches
 * Hyperscan: at 100 000 rules a regex compile takes minutes (docs/performance.md) while
 * a hash builds in milliseconds.
 *
 * Each hash is cut into MATCHER_HASH_SHARDS pieces (struct matcher_hunit) by the top byte
 * of the key's hash, so that a change rebuilds only the pieces its keys fall in. Pieces
 * are immutable once built and reference counted: matcher versions share them.
 * Internal to matcher*.c (matcher_int.h); no Hyperscan here.
 */
#ifndef ASTER_MATCHER_HASH_H
#define ASTER_MATCHER_HASH_H

#include <stdbool.h>
#include <stdint.h>

#include "matcher.h"

#define MATCHER_SYM_LEN 8

struct matcher_slot {
	uint64_t key;	/* padded literal; 0 = empty slot (a padded literal never is) */
	uint32_t first; /* into matcher_hunit.subs */
	uint32_t count;
};

/* One piece of the exact or the prefix hash: open addressing, linear probing. */
struct matcher_hunit {
	uint32_t refs;
	uint32_t n_keys;
	uint32_t n_pairs;
	uint64_t mask;
	struct matcher_slot *slots;
	uint32_t *subs;
};

/* One (key, subscriber) pair of a hash. */
struct matcher_pair {
	uint64_t key;
	uint32_t sub;
};

/* One change to a hash: the pair added or removed. */
struct matcher_hash_op {
	uint64_t key;
	uint32_t sub;
	bool add;
};

enum matcher_kind { MATCHER_EXACT, MATCHER_PREFIX, MATCHER_REGEX };

/* Which engine takes `expr`; `*key` the hash key for the first two. */
enum matcher_kind matcher_kind_of(const char *expr, uint64_t *key);

void matcher_hunit_put(struct matcher_hunit *u);
/* Split `n` pairs (any order, repeats allowed) into the pieces `units`. 0 or -ENOMEM. */
int matcher_hash_build(struct matcher_hunit **units, struct matcher_pair *pairs, uint32_t n);
/* Pairs held by the pieces `units`. */
uint32_t matcher_hash_pairs(struct matcher_hunit *const *units);
/* Add the pairs of prefix pieces `units` to `len_pairs` (pairs per prefix length). */
void matcher_hash_len_pairs(struct matcher_hunit *const *units, uint32_t *len_pairs);
/*
 * Apply `n` changes to the pieces of `units` (rebuilding those they touch);
 * `len_pairs` (prefix only, else NULL) follows the pairs per literal length; `*delta`
 * the change in pairs. 0 or -ENOMEM.
 */
int matcher_hash_change(struct matcher_hunit **units, struct matcher_hash_op *c, uint32_t n,
			uint32_t *len_pairs, int64_t *delta);

/* OR into `bits` the subscribers of the exact symbol `sym` (`len` bytes). */
void matcher_hash_exact(struct matcher_hunit *const *units, const char *sym, uint32_t len,
			uint64_t *bits);
/* OR into `bits` the subscribers of every prefix of `sym` (lengths in use only). */
void matcher_hash_prefix(struct matcher_hunit *const *units, const uint32_t *len_pairs,
			 const char *sym, uint32_t len, uint64_t *bits);

#endif
