/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The matcher's regex units and the databases under them (matcher_regex.h): their
 * lifetimes, lookups, and a unit rebuilt with a change to its subscribers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_int.h"

#include "../common/hash.h"

void matcher_rdb_put(struct matcher_rdb *r)
{
	if (r == NULL || matcher_ref_put(&r->refs) != 0)
		return;
	hs_free_database(r->db);
	for (uint32_t i = 0; i < r->n; i++)
		free(r->exprs[i]);
	free(r->exprs);
	free(r);
}

void matcher_runit_put(struct matcher_runit *u)
{
	if (u == NULL || matcher_ref_put(&u->refs) != 0)
		return;
	matcher_rdb_put(u->rdb);
	free(u->first);
	free(u->count);
	free(u->subs);
	free(u);
}

int64_t matcher_rdb_find(const struct matcher_rdb *r, const char *expr)
{
	uint32_t lo = 0, hi = r->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->exprs[mid], expr);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

uint32_t matcher_expr_shard(const char *expr)
{
	return (uint32_t)(hash_str(expr) % MATCHER_SHARDS);
}

static int cmp_id_sub(const void *a, const void *b)
{
	const struct matcher_id_sub *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

uint32_t matcher_id_sub_normalize(struct matcher_id_sub *p, uint32_t n)
{
	uint32_t k = 0;

	qsort(p, n, sizeof(*p), cmp_id_sub);
	for (uint32_t i = 0; i < n; i++)
		if (k == 0 || p[i].id != p[k - 1].id || p[i].sub != p[k - 1].sub)
			p[k++] = p[i];
	return k;
}

struct matcher_runit *matcher_runit_new(struct matcher_rdb *rdb, const struct matcher_id_sub *p,
					uint32_t n)
{
	struct matcher_runit *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->refs = 1;
	u->first = calloc(rdb->n ? rdb->n : 1, sizeof(*u->first));
	u->count = calloc(rdb->n ? rdb->n : 1, sizeof(*u->count));
	u->subs = malloc((n ? n : 1) * sizeof(*u->subs));
	if (u->first == NULL || u->count == NULL || u->subs == NULL) {
		free(u->first);
		free(u->count);
		free(u->subs);
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || p[i].id != p[i - 1].id) {
			u->first[p[i].id] = i;
			u->n_live++;
		}
		u->count[p[i].id]++;
		u->subs[i] = p[i].sub;
	}
	u->n_pairs = n;
	matcher_ref_get(&rdb->refs);
	u->rdb = rdb;
	return u;
}

/* Every pair of `u` (malloc'd), for rebuilding it with changes. */
static struct matcher_id_sub *runit_pairs(const struct matcher_runit *u, uint32_t extra,
					  uint32_t *n)
{
	struct matcher_id_sub *p = malloc(((size_t)u->n_pairs + extra + 1) * sizeof(*p));
	uint32_t k = 0;

	if (p == NULL)
		return NULL;
	for (uint32_t id = 0; id < u->rdb->n; id++)
		for (uint32_t j = 0; j < u->count[id]; j++)
			p[k++] = (struct matcher_id_sub){id, u->subs[u->first[id] + j]};
	*n = k;
	return p;
}

struct matcher_runit *matcher_runit_change(const struct matcher_runit *u,
					   const struct matcher_regex_op *c, uint32_t n,
					   int64_t *delta)
{
	uint32_t np = 0;
	struct matcher_id_sub *p = runit_pairs(u, n, &np);
	struct matcher_runit *nu;

	if (p == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		if (c[i].add)
			p[np++] = (struct matcher_id_sub){c[i].id, c[i].sub};
	np = matcher_id_sub_normalize(p, np);
	for (uint32_t i = 0; i < n; i++) {
		struct matcher_id_sub want = {c[i].id, c[i].sub}, *hit;

		if (c[i].add)
			continue;
		hit = bsearch(&want, p, np, sizeof(*p), cmp_id_sub);
		if (hit != NULL) {
			memmove(hit, hit + 1, (size_t)(p + np - hit - 1) * sizeof(*p));
			np--;
		}
	}
	*delta += (int64_t)np - u->n_pairs;
	nu = matcher_runit_new(u->rdb, p, np);
	free(p);
	return nu;
}

void matcher_shard_order(const char *const *exprs, uint32_t n, bool one,
			 uint32_t count[MATCHER_SHARDS], uint32_t first[MATCHER_SHARDS],
			 uint32_t *order)
{
	memset(count, 0, MATCHER_SHARDS * sizeof(*count));
	for (uint32_t e = 0; e < n; e++)
		count[one ? 0 : matcher_expr_shard(exprs[e])]++;
	first[0] = 0;
	for (uint32_t k = 1; k < MATCHER_SHARDS; k++)
		first[k] = first[k - 1] + count[k - 1];
	memset(count, 0, MATCHER_SHARDS * sizeof(*count));
	for (uint32_t e = 0; e < n; e++) {
		uint32_t k = one ? 0 : matcher_expr_shard(exprs[e]);

		order[first[k] + count[k]++] = e;
	}
}
