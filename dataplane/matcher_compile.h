/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hyperscan compiles for the matcher (docs/architecture.md, "Compiles and the compile
 * cache"): the database of a sorted set of expressions, loaded from the compile cache
 * (matcher_cache.h) when it holds one for exactly that set, flags, mode, Hyperscan
 * version and platform, compiled and stored otherwise; several at once on the compile
 * workers (matcher_pool.h); and the one-line answer naming the invalid expression the
 * caller wrote first when a compile fails. Internal to matcher*.c.
 */
#ifndef ASTER_MATCHER_COMPILE_H
#define ASTER_MATCHER_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "matcher_pool.h"
#include "matcher_regex.h"

struct matcher_compile_out {
	struct matcher_rdb *rdb; /* one reference for the caller */
	int rc;			 /* 0, -EINVAL (an expression), -ENOMEM */
	int32_t bad;		 /* position of the expression Hyperscan named, or -1 */
	char err[256];		 /* Hyperscan's message */
	bool from_cache;
};

/* A compile run by the pool: `exprs` sorted, borrowed for the duration of the batch. */
struct matcher_compile_job {
	struct matcher_job pj; /* first: the pool hands this back */
	const char *const *exprs;
	const uint32_t *idx; /* the caller's index of each expression, for errors */
	uint32_t n;
	bool use_cache;
	struct matcher_compile_out out;
};

/* Compile (or load from the cache) the database of `n` sorted expressions. The copies
 * of the expressions become the database's. */
void matcher_compile_exprs(const char *const *exprs, uint32_t n, bool use_cache,
			   struct matcher_compile_out *out);
/* Compile `n` jobs in parallel on the compile workers; one alone, here. */
void matcher_compile_parallel(struct matcher_compile_job *jobs, uint32_t n, bool use_cache);
/*
 * The outcome of `n` jobs: 0, or -EINVAL with `*bad` the lowest caller index of an
 * invalid expression (each checked alone, so the answer does not depend on the order
 * Hyperscan compiled them in) and `err` its message, or another -errno with `err`.
 */
int matcher_compile_result(const struct matcher_compile_job *jobs, uint32_t n, char *err,
			   size_t errlen, uint32_t *bad);

#endif
