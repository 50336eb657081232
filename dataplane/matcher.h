/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscription pattern matching for one feed (docs/protocol.md §3.5). matcher*.c are the
 * only dataplane files that deal with Hyperscan (<hs/hs.h> comes in through their own
 * headers, matcher_int.h says which file owns what).
 *
 * A matcher holds a set of (pattern, subscriber) pairs, one bit per feed-local
 * subscriber index. Patterns that are a plain anchored literal (`^AAPL$`) go to an
 * exact-symbol hash, anchored literal prefixes (`^MS`) to a prefix hash; neither reaches
 * Hyperscan. The rest are compiled with HS_FLAG_SINGLEMATCH into Hyperscan block-mode
 * databases, each distinct expression once whatever the number of subscribers using it.
 *
 * A change costs what it changes (docs/architecture.md, "Table changes"):
 *  - both hashes are cut into MATCHER_HASH_SHARDS pieces; a change rebuilds the pieces
 *    its literals fall in and shares the others;
 *  - regexes are spread over MATCHER_SHARDS databases by a hash of their text. An
 *    expression already compiled only changes its subscriber list; an expression new to
 *    the matcher is compiled alone into a small database scanned beside the shards (the
 *    overlay) and its shard is recompiled by a compile worker in the background; an
 *    expression nobody uses any more keeps its place with an empty subscriber list,
 *    which masks it at match time, until that recompile drops it. matcher_fold swaps
 *    finished recompiles in. Every version answers exactly for its set of pairs.
 *
 * Versions are immutable once built and reference counted: consecutive versions share
 * every piece they have in common. Counts are atomic, but versions are built, folded
 * and freed by one thread at a time (the dataplane's control thread).
 *
 * Full builds compile their shards in parallel on the compile workers (matcher_pool.h),
 * loading each from the compile cache (matcher_cache.h) when it holds them.
 */
#ifndef ASTER_MATCHER_H
#define ASTER_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MATCHER_SHARDS		16	   /* Hyperscan databases of regexes */
#define MATCHER_HASH_SHARDS	256	   /* pieces of the exact and of the prefix hash */
#define MATCHER_SCRATCH_BUILDER UINT32_MAX /* matcher_match from the building thread */

struct matcher;

struct matcher_pattern {
	const char *expr; /* Hyperscan syntax, NUL terminated */
	uint32_t sub;	  /* feed-local subscriber index: the bit set on a match */
};

/*
 * Build the matcher of `n` pairs (duplicates count once) with Hyperscan scratch for
 * `n_scratch` matching threads plus the builder's own. A shard whose expressions `prev`
 * (may be NULL) compiled already is shared, not compiled. Returns NULL with errno set on
 * failure; when a pattern is invalid `*bad` is the index of the first such in `pats`
 * and `err` holds Hyperscan's message.
 */
struct matcher *matcher_build(const struct matcher_pattern *pats, uint32_t n,
			      const struct matcher *prev, uint32_t n_scratch, char *err,
			      size_t errlen, uint32_t *bad);

/*
 * A matcher of a few pairs for the builder alone (matcher_match with
 * MATCHER_SCRATCH_BUILDER): the changed patterns of a change, scanned against the known
 * symbols. Never shards, never uses the compile cache. NULL with errno and `err` set.
 */
struct matcher *matcher_probe(const struct matcher_pattern *pats, uint32_t n, char *err,
			      size_t errlen);

/*
 * A new version of `m` with the pairs `add` added and `del` removed (a pair already
 * present or already absent changes nothing). Costs what the change touches; starts the
 * background recompiles the change calls for. NULL with errno set on failure (`m` stays
 * valid); an invalid added pattern sets `*bad` (index in `add`) and `err`.
 */
struct matcher *matcher_change(struct matcher *m, const struct matcher_pattern *add, uint32_t n_add,
			       const struct matcher_pattern *del, uint32_t n_del, char *err,
			       size_t errlen, uint32_t *bad);

/*
 * When a background recompile of `m` finished, a new version with that shard swapped in
 * and the overlay trimmed accordingly: the same pairs, so the same answers. NULL when
 * none finished (errno 0) or on failure (errno set; `m` stays valid and usable).
 */
struct matcher *matcher_fold(struct matcher *m);
/* Background recompiles of `m` not yet folded (running or finished). */
uint32_t matcher_fold_pending(const struct matcher *m);
/* Block until every background recompile started for `m` has finished (tests). */
void matcher_fold_wait(const struct matcher *m);
/* Expressions scanned outside the shards (the overlay). */
uint32_t matcher_overlay_exprs(const struct matcher *m);

struct matcher *matcher_ref(struct matcher *m);
void matcher_free(struct matcher *m); /* drops one reference */

/* Check one expression with Hyperscan's parser. 0, or -EINVAL with `err` filled. */
int matcher_check(const char *expr, char *err, size_t errlen);

/*
 * OR into `bits` (one bit per feed-local subscriber) every subscriber with a pattern
 * matching `sym` (`len` bytes, trailing spaces already removed). `scratch` is the
 * calling thread's index (< n_scratch) or MATCHER_SCRATCH_BUILDER. Does not allocate.
 */
void matcher_match(const struct matcher *m, uint32_t scratch, const char *sym, uint32_t len,
		   uint64_t *bits);

/* Pairs of each kind, for logs and benchmarks. */
uint32_t matcher_n_exact(const struct matcher *m);
uint32_t matcher_n_prefix(const struct matcher *m);
uint32_t matcher_n_regex(const struct matcher *m);

/* Whether `b` has regexes and shares every compiled database with `a`: no compile. */
bool matcher_shares_db(const struct matcher *a, const struct matcher *b);
/* How many Hyperscan databases `m` holds that `prev` did not (compiled or loaded). */
uint32_t matcher_compiled_shards(const struct matcher *m, const struct matcher *prev);

#endif
