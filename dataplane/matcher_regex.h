/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The matcher's regex units (docs/architecture.md, "Table changes"). A compiled
 * Hyperscan database with its expressions (struct matcher_rdb) is shared by every
 * matcher version that scans it; each version sees it through a unit (struct
 * matcher_runit): the subscribers of each of its expressions. An expression without
 * subscribers is masked: it still matches and sets nothing. A change to which
 * subscribers an expression has builds a new unit over the same database, no compile.
 * Expressions are spread over MATCHER_SHARDS databases by a hash of their text.
 * Internal to matcher*.c.
 */
#ifndef ASTER_MATCHER_REGEX_H
#define ASTER_MATCHER_REGEX_H

#include <stdbool.h>
#include <stdint.h>

#include <hs/hs.h>

#include "matcher.h"

/* A compiled database and its expressions, sorted (id k = exprs[k]). */
struct matcher_rdb {
	uint32_t refs;
	uint32_t n;
	hs_database_t *db;
	char **exprs;
};

/* A database as one matcher version uses it: the subscribers of each expression. An
 * expression with none is masked (its match sets nothing). */
struct matcher_runit {
	uint32_t refs;
	uint32_t n_live; /* expressions with at least one subscriber */
	uint32_t n_pairs;
	struct matcher_rdb *rdb;
	uint32_t *first; /* [rdb->n] into subs */
	uint32_t *count; /* [rdb->n] */
	uint32_t *subs;
};

/* One (expression id, subscriber) of a unit under construction. */
struct matcher_id_sub {
	uint32_t id;
	uint32_t sub;
};

/* One change to a regex pair, and where its expression lives in one version: shard
 * `unit`, or overlay unit `unit` - MATCHER_SHARDS. */
struct matcher_regex_op {
	const char *expr;
	uint32_t sub;
	bool add;
	uint32_t unit; /* UINT32_MAX: not compiled anywhere yet */
	uint32_t id;
	uint32_t idx; /* the caller's index in `add` */
};

void matcher_rdb_put(struct matcher_rdb *r);
void matcher_runit_put(struct matcher_runit *u);
/* Position of `expr` in the sorted expressions of `r`, or -1. */
int64_t matcher_rdb_find(const struct matcher_rdb *r, const char *expr);
/* The shard of an expression; stable across runs and builds (a shard's expressions are
 * its cache key). */
uint32_t matcher_expr_shard(const char *expr);

/* Sort pairs by (id, subscriber) and drop repeats in place; returns the new count. */
uint32_t matcher_id_sub_normalize(struct matcher_id_sub *p, uint32_t n);
/* A unit over `rdb` (one reference taken) from sorted, duplicate-free pairs. */
struct matcher_runit *matcher_runit_new(struct matcher_rdb *rdb, const struct matcher_id_sub *p,
					uint32_t n);
/* `u` with the changes c[0..n) (all of this unit: `id` and `sub` set) applied: a new
 * unit over the same database; `*delta` the change in pairs. NULL when out of memory. */
struct matcher_runit *matcher_runit_change(const struct matcher_runit *u,
					   const struct matcher_regex_op *c, uint32_t n,
					   int64_t *delta);

/*
 * Order `n` expressions by shard, keeping their order within a shard (a counting sort):
 * order[first[k] .. first[k] + count[k]) are the positions of shard k's. With `one`,
 * every expression is in shard 0.
 */
void matcher_shard_order(const char *const *exprs, uint32_t n, bool one,
			 uint32_t count[MATCHER_SHARDS], uint32_t first[MATCHER_SHARDS],
			 uint32_t *order);

#endif
