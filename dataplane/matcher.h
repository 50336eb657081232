/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscription pattern matching for one feed (docs/protocol.md §3.5). The only dataplane file
 * that includes <hs/hs.h>.
 *
 * Patterns that are a plain anchored literal (`^AAPL$`) go to an exact-symbol hash,
 * anchored literal prefixes (`^MS`) to a prefix hash; neither reaches Hyperscan. The
 * rest are compiled with HS_FLAG_SINGLEMATCH into Hyperscan block-mode databases, each
 * distinct expression once whatever the number of subscribers using it, sharded by
 * expression from 64 distinct ones on so that a change recompiles only the shards it
 * touches.
 *
 * Called once per newly bound symbol or rule-set change, never per message
 * (docs/performance.md, measured costs: hs_scan 30-190 ns, a table read ~1 ns).
 */
#ifndef ASTER_MATCHER_H
#define ASTER_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct matcher;		/* immutable once built; shared by every lcore */
struct matcher_scratch; /* per thread, allocated for one matcher */

struct matcher_pattern {
	const char *expr; /* Hyperscan syntax, NUL terminated */
	uint32_t sub;	  /* feed-local subscriber index: the bit set on a match */
};

/*
 * Build the matcher of `n` patterns. Returns NULL with errno set on failure; when a
 * pattern is invalid `*bad` is its index and `err` holds Hyperscan's message.
 */
struct matcher *matcher_build(const struct matcher_pattern *pats, uint32_t n, char *err,
			      size_t errlen, uint32_t *bad);
/*
 * The same, reusing `prev`'s compiled Hyperscan database when the set of regex
 * expressions is unchanged (exact-symbol, type and subscriber changes): no compile.
 * `prev` stays valid and owned by its holder.
 */
struct matcher *matcher_build_from(const struct matcher_pattern *pats, uint32_t n,
				   const struct matcher *prev, char *err, size_t errlen,
				   uint32_t *bad);
void matcher_free(struct matcher *m);

/* Whether `b` has regexes and shares every compiled database with `a`: no compile. */
bool matcher_shares_db(const struct matcher *a, const struct matcher *b);
/* How many Hyperscan databases `m` compiled itself rather than share from `prev`. */
uint32_t matcher_compiled_shards(const struct matcher *m, const struct matcher *prev);

/* Check one expression with Hyperscan's parser. 0, or -EINVAL with `err` filled. */
int matcher_check(const char *expr, char *err, size_t errlen);

/* Scratch for one thread; NULL with errno set on failure. */
struct matcher_scratch *matcher_scratch_alloc(const struct matcher *m);
void matcher_scratch_free(struct matcher_scratch *s);

/*
 * OR into `bits` (one bit per feed-local subscriber) every subscriber with a pattern
 * matching `sym` (`len` bytes, trailing spaces already removed). Does not allocate.
 */
void matcher_match(const struct matcher *m, struct matcher_scratch *s, const char *sym,
		   uint32_t len, uint64_t *bits);

/* Counts for logs and benchmarks. */
uint32_t matcher_n_exact(const struct matcher *m);
uint32_t matcher_n_prefix(const struct matcher *m);
uint32_t matcher_n_regex(const struct matcher *m);

#endif
