/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the matcher (matcher.h): one version's structure, shared by the files that
 * build, change, fold and scan it. Not for use outside matcher*.c.
 *
 *   matcher.c          a version's lifetime (references, clone, scratch) and matching
 *   matcher_build.c    a full build from a list of pairs
 *   matcher_change.c   a change: a new version sharing what the change does not touch
 *   matcher_fold.c     background recompiles of the shards a change touched, swapped in
 *   matcher_hash.c     the exact and prefix hashes (matcher_hash.h)
 *   matcher_regex.c    regex units over shared databases (matcher_regex.h)
 *   matcher_compile.c  Hyperscan compiles through the compile cache (matcher_compile.h)
 *   matcher_cache.c    the compile cache on disk (matcher_cache.h)
 *   matcher_pool.c     the compile workers (matcher_pool.h)
 */
#ifndef ASTER_MATCHER_INT_H
#define ASTER_MATCHER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "matcher.h"
#include "matcher_cache.h"
#include "matcher_compile.h"
#include "matcher_hash.h"
#include "matcher_pool.h"
#include "matcher_regex.h"

struct matcher_fold_job;

/* Scratch for every database of one version: [n_scratch] matching threads + builder. */
struct matcher_scratch {
	uint32_t refs;
	uint32_t n;
	hs_scratch_t *s[];
};

struct matcher {
	uint32_t refs;
	uint32_t n_scratch;
	uint32_t n_exact, n_prefix, n_regex;	    /* pairs */
	uint32_t prefix_len_pairs[MATCHER_SYM_LEN]; /* pairs per prefix length */
	struct matcher_hunit *exact[MATCHER_HASH_SHARDS];
	struct matcher_hunit *prefix[MATCHER_HASH_SHARDS];
	struct matcher_runit *shard[MATCHER_SHARDS];
	uint32_t n_ov;
	struct matcher_runit **ov; /* overlay: expressions compiled since their shard was */
	/* control-thread bookkeeping, never read by matching threads */
	struct matcher_fold_job *job[MATCHER_SHARDS];
	struct matcher_scratch *scratch;
};

static inline uint32_t matcher_ref_get(uint32_t *r)
{
	return __atomic_add_fetch(r, 1, __ATOMIC_RELAXED);
}

static inline uint32_t matcher_ref_put(uint32_t *r)
{
	return __atomic_sub_fetch(r, 1, __ATOMIC_ACQ_REL);
}

/* OR the subscribers subs[0..n) into `bits`. */
static inline void matcher_set_subs(uint64_t *bits, const uint32_t *subs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		bits[subs[i] >> 6] |= 1ull << (subs[i] & 63);
}

/* Regex unit k of `m`: shard k, or overlay unit k - MATCHER_SHARDS (may be NULL). */
static inline struct matcher_runit *matcher_unit(const struct matcher *m, uint32_t k)
{
	return k < MATCHER_SHARDS ? m->shard[k] : m->ov[k - MATCHER_SHARDS];
}

/* Callers' optional `err` and `bad` made writable, `err` emptied, `*bad` none. */
static inline void matcher_err_init(char **err, size_t *errlen, uint32_t **bad, char *dummy_err,
				    uint32_t *dummy_bad)
{
	if (*bad == NULL)
		*bad = dummy_bad;
	if (*err == NULL || *errlen == 0) {
		*err = dummy_err;
		*errlen = 1;
	}
	**bad = UINT32_MAX;
	(*err)[0] = '\0';
}

/* matcher.c: a new version sharing every piece of `m` (scratch included). */
struct matcher *matcher_clone(const struct matcher *m);
/*
 * matcher.c: scratch large enough for every database `m` scans, one per thread: grown
 * from `from` (the previous version's, which fits every database but the `n_fresh` new
 * ones) when given, which costs a copy instead of a pass over every shard.
 */
int matcher_scratch_alloc(struct matcher *m, const struct matcher_scratch *from,
			  hs_database_t *const *fresh, uint32_t n_fresh);

/* matcher_change.c: set `c->unit` and `c->id` to where `c->expr` is compiled in `m`. */
void matcher_locate(const struct matcher *m, struct matcher_regex_op *c);
/* matcher_change.c: drop overlay units none of whose expressions has a subscriber. */
void matcher_overlay_trim(struct matcher *m);

/* matcher_fold.c: start the recompile of every shard of `m` that differs from what it
 * should hold (one at a time per shard). */
void matcher_fold_start(struct matcher *m);
/* matcher_fold.c: a recompile's references, one per version and one for the pool. */
void matcher_fold_get(struct matcher_fold_job *j);
void matcher_fold_put(struct matcher_fold_job *j);
/* matcher_fold.c: forget the failed recompile of shard k, so that another may start. */
void matcher_fold_retry(struct matcher *m, uint32_t k);

#endif
