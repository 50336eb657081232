/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A change to a matcher (matcher_change): a new version that shares every piece the
 * change does not touch (docs/architecture.md, "Table changes"). Exact and prefix pairs
 * rebuild the hash pieces they fall in; a regex already compiled somewhere only changes
 * its subscriber list; a regex new to the matcher is compiled alone into an overlay
 * unit scanned beside the shards, and the recompile of its shard is started in the
 * background (matcher_fold.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_int.h"

/* New expressions of one change compiled as one overlay database up to this many;
 * above, one per shard, compiled in parallel. */
#define OVERLAY_SPLIT 64

static struct matcher_runit **unit_slot(struct matcher *m, uint32_t unit)
{
	return unit < MATCHER_SHARDS ? &m->shard[unit] : &m->ov[unit - MATCHER_SHARDS];
}

void matcher_locate(const struct matcher *m, struct matcher_regex_op *c)
{
	uint32_t k = matcher_expr_shard(c->expr);
	int64_t id;

	c->unit = UINT32_MAX;
	if (m->shard[k] != NULL && (id = matcher_rdb_find(m->shard[k]->rdb, c->expr)) >= 0) {
		c->unit = k;
		c->id = (uint32_t)id;
		return;
	}
	for (uint32_t i = 0; i < m->n_ov; i++)
		if ((id = matcher_rdb_find(m->ov[i]->rdb, c->expr)) >= 0) {
			c->unit = MATCHER_SHARDS + i;
			c->id = (uint32_t)id;
			return;
		}
}

static int cmp_change_unit(const void *a, const void *b)
{
	const struct matcher_regex_op *x = a, *y = b;

	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The distinct expressions of `n` changes sorted by expression, each with the lowest
 * caller index of its changes. Returns how many. */
static uint32_t group_exprs(const struct matcher_regex_op *c, uint32_t n, const char **exprs,
			    uint32_t *eidx)
{
	uint32_t n_groups = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(c[i].expr, c[i - 1].expr) != 0) {
			exprs[n_groups] = c[i].expr;
			eidx[n_groups++] = c[i].idx;
		} else if (c[i].idx < eidx[n_groups - 1]) {
			eidx[n_groups - 1] = c[i].idx;
		}
	}
	return n_groups;
}

/* The compile jobs of `n` new expressions: usually few, one small database; many, one
 * per shard, compiled in parallel (`by`, `by_idx` and `order` have room for n). */
static uint32_t overlay_jobs(const char **exprs, const uint32_t *eidx, uint32_t n, const char **by,
			     uint32_t *by_idx, uint32_t *order, struct matcher_compile_job *jobs)
{
	uint32_t count[MATCHER_SHARDS], first[MATCHER_SHARDS], n_jobs = 0;

	if (n <= OVERLAY_SPLIT) {
		jobs[0] = (struct matcher_compile_job){.exprs = exprs, .idx = eidx, .n = n};
		return 1;
	}
	matcher_shard_order(exprs, n, false, count, first, order);
	for (uint32_t at = 0; at < n; at++) {
		by[at] = exprs[order[at]];
		by_idx[at] = eidx[order[at]];
	}
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++)
		if (count[k] != 0)
			jobs[n_jobs++] = (struct matcher_compile_job){
			    .exprs = by + first[k], .idx = by_idx + first[k], .n = count[k]};
	return n_jobs;
}

/* Append to `m` an overlay unit per compiled job, with the subscribers the changes c[0..n)
 * give its expressions. */
static int overlay_append(struct matcher *m, const struct matcher_compile_job *jobs,
			  uint32_t n_jobs, const struct matcher_regex_op *c, uint32_t n,
			  hs_database_t **fresh, uint32_t *n_fresh)
{
	struct matcher_runit **ov = realloc(m->ov, (m->n_ov + n_jobs) * sizeof(*m->ov));
	struct matcher_id_sub *p = malloc(n * sizeof(*p));
	int rc = -ENOMEM;

	if (ov == NULL || p == NULL)
		goto out;
	m->ov = ov;
	for (uint32_t j = 0; j < n_jobs; j++) {
		struct matcher_rdb *rdb = jobs[j].out.rdb;
		uint32_t np = 0;

		for (uint32_t i = 0; i < n; i++) {
			int64_t id = matcher_rdb_find(rdb, c[i].expr);

			if (id >= 0)
				p[np++] = (struct matcher_id_sub){(uint32_t)id, c[i].sub};
		}
		np = matcher_id_sub_normalize(p, np);
		m->ov[m->n_ov] = matcher_runit_new(rdb, p, np);
		if (m->ov[m->n_ov] == NULL)
			goto out;
		fresh[(*n_fresh)++] = rdb->db;
		m->n_ov++;
		m->n_regex += np;
	}
	rc = 0;
out:
	free(p);
	return rc;
}

/* Compile the expressions new to `m` (sorted by text, several per expression when
 * several subscribers add it) into overlay units appended to `m`. */
static int overlay_add(struct matcher *m, struct matcher_regex_op *c, uint32_t n, char *err,
		       size_t errlen, uint32_t *bad, hs_database_t **fresh, uint32_t *n_fresh)
{
	struct matcher_compile_job jobs[MATCHER_SHARDS];
	const char **exprs = malloc(n * sizeof(*exprs)), **by = malloc(n * sizeof(*by));
	uint32_t *eidx = malloc(n * sizeof(*eidx)), *by_idx = malloc(n * sizeof(*by_idx));
	uint32_t *order = malloc(n * sizeof(*order)), n_groups, n_jobs = 0;
	int rc = -ENOMEM;

	if (exprs == NULL || eidx == NULL || by == NULL || by_idx == NULL || order == NULL)
		goto out;
	n_groups = group_exprs(c, n, exprs, eidx);
	n_jobs = overlay_jobs(exprs, eidx, n_groups, by, by_idx, order, jobs);
	matcher_compile_parallel(jobs, n_jobs, false);
	rc = matcher_compile_result(jobs, n_jobs, err, errlen, bad);
	if (rc == 0)
		rc = overlay_append(m, jobs, n_jobs, c, n, fresh, n_fresh);
	for (uint32_t j = 0; j < n_jobs; j++)
		matcher_rdb_put(jobs[j].out.rdb);
out:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	free(exprs);
	free(eidx);
	free(by);
	free(by_idx);
	free(order);
	return rc;
}

static int cmp_change_expr(const void *a, const void *b)
{
	const struct matcher_regex_op *x = a, *y = b;
	int c = strcmp(x->expr, y->expr);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void matcher_overlay_trim(struct matcher *m)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < m->n_ov; i++) {
		if (m->ov[i]->n_live == 0)
			matcher_runit_put(m->ov[i]);
		else
			m->ov[k++] = m->ov[i];
	}
	m->n_ov = k;
}

static int regex_change(struct matcher *m, struct matcher_regex_op *c, uint32_t n, char *err,
			size_t errlen, uint32_t *bad, hs_database_t **fresh, uint32_t *n_fresh)
{
	uint32_t n_known = 0, n_new = 0;
	int64_t delta = 0;
	int rc;

	for (uint32_t i = 0; i < n; i++)
		matcher_locate(m, &c[i]);
	/* by unit: expressions compiled somewhere first, the new ones (UINT32_MAX) last */
	qsort(c, n, sizeof(*c), cmp_change_unit);
	while (n_known < n && c[n_known].unit != UINT32_MAX)
		n_known++;
	for (uint32_t i = 0; i < n_known;) {
		uint32_t u = c[i].unit, j = i;
		struct matcher_runit **slot = unit_slot(m, u), *nu;

		while (j < n_known && c[j].unit == u)
			j++;
		nu = matcher_runit_change(*slot, c + i, j - i, &delta);
		if (nu == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		matcher_runit_put(*slot);
		*slot = nu;
		i = j;
	}
	m->n_regex = (uint32_t)((int64_t)m->n_regex + delta);
	/* removing what is not there changes nothing; new expressions are compiled */
	for (uint32_t i = n_known; i < n; i++)
		if (c[i].add)
			c[n_known + n_new++] = c[i];
	if (n_new > 0) {
		qsort(c + n_known, n_new, sizeof(*c), cmp_change_expr);
		rc = overlay_add(m, c + n_known, n_new, err, errlen, bad, fresh, n_fresh);
		if (rc < 0)
			return rc;
	}
	matcher_overlay_trim(m);
	return 0;
}

/* The pairs of a change, by engine. */
struct change_input {
	struct matcher_hash_op *exact, *prefix;
	struct matcher_regex_op *regex;
	uint32_t n_exact, n_prefix, n_regex;
};

static int input_split(struct change_input *in, const struct matcher_pattern *add, uint32_t n_add,
		       const struct matcher_pattern *del, uint32_t n_del)
{
	uint32_t n = n_add + n_del;
	size_t m = n ? n : 1;

	*in = (struct change_input){0};
	in->exact = malloc(m * sizeof(*in->exact));
	in->prefix = malloc(m * sizeof(*in->prefix));
	in->regex = malloc(m * sizeof(*in->regex));
	if (in->exact == NULL || in->prefix == NULL || in->regex == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const struct matcher_pattern *p = i < n_add ? &add[i] : &del[i - n_add];
		uint64_t key;

		switch (matcher_kind_of(p->expr, &key)) {
		case MATCHER_EXACT:
			in->exact[in->n_exact++] = (struct matcher_hash_op){key, p->sub, i < n_add};
			break;
		case MATCHER_PREFIX:
			in->prefix[in->n_prefix++] =
			    (struct matcher_hash_op){key, p->sub, i < n_add};
			break;
		case MATCHER_REGEX:
			in->regex[in->n_regex++] = (struct matcher_regex_op){
			    .expr = p->expr, .sub = p->sub, .add = i < n_add, .idx = i};
			break;
		}
	}
	return 0;
}

static void input_free(struct change_input *in)
{
	free(in->exact);
	free(in->prefix);
	free(in->regex);
}

/* The exact and prefix pairs of the change, into the clone `nm`. */
static int hashes_change(struct matcher *nm, struct change_input *in)
{
	int64_t d = 0;
	int rc = matcher_hash_change(nm->exact, in->exact, in->n_exact, NULL, &d);

	if (rc < 0)
		return rc;
	nm->n_exact = (uint32_t)((int64_t)nm->n_exact + d);
	d = 0;
	rc = matcher_hash_change(nm->prefix, in->prefix, in->n_prefix, nm->prefix_len_pairs, &d);
	if (rc < 0)
		return rc;
	nm->n_prefix = (uint32_t)((int64_t)nm->n_prefix + d);
	return 0;
}

struct matcher *matcher_change(struct matcher *m, const struct matcher_pattern *add, uint32_t n_add,
			       const struct matcher_pattern *del, uint32_t n_del, char *err,
			       size_t errlen, uint32_t *bad)
{
	struct change_input in;
	uint32_t dummy_bad, n_fresh = 0;
	char dummy_err[1];
	struct matcher *nm = NULL;
	hs_database_t *fresh[MATCHER_SHARDS];
	int rc = -ENOMEM;

	matcher_err_init(&err, &errlen, &bad, dummy_err, &dummy_bad);
	if (input_split(&in, add, n_add, del, n_del) < 0 || (nm = matcher_clone(m)) == NULL)
		goto fail;
	/* regexes first: the one step that can refuse a change (an invalid expression) */
	if (in.n_regex > 0) {
		rc = regex_change(nm, in.regex, in.n_regex, err, errlen, bad, fresh, &n_fresh);
		if (rc < 0)
			goto fail;
	}
	rc = hashes_change(nm, &in);
	if (rc < 0)
		goto fail;
	/* new databases: the scratch grows to fit them (a copy of the last one, grown) */
	if (n_fresh > 0 && (rc = matcher_scratch_alloc(nm, m->scratch, fresh, n_fresh)) < 0)
		goto fail;
	/* a change touching a shard whose recompile failed gives it another chance */
	for (uint32_t i = 0; i < in.n_regex; i++)
		matcher_fold_retry(nm, matcher_expr_shard(in.regex[i].expr));
	matcher_fold_start(nm);
	input_free(&in);
	return nm;
fail:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	matcher_free(nm);
	input_free(&in);
	errno = -rc;
	return NULL;
}
