/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A matcher version built from scratch (matcher_build, matcher_probe): each pair to its
 * engine, the hashes built whole, the regexes spread over their shards and each shard
 * compiled on the compile workers in parallel (or loaded from the compile cache, or
 * shared with the previous version when it holds exactly the same expressions).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_int.h"

struct regex_ref {
	const char *expr;
	uint32_t sub;
	uint32_t idx; /* caller's pattern index, for error messages */
};

static int cmp_ref(const void *a, const void *b)
{
	const struct regex_ref *x = a, *y = b;
	int c = strcmp(x->expr, y->expr);

	if (c != 0)
		return c;
	if (x->sub != y->sub)
		return x->sub < y->sub ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The same expressions, in the same (sorted) order. */
static bool same_exprs(const struct matcher_rdb *r, const char *const *exprs, uint32_t n)
{
	if (r == NULL || r->n != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(r->exprs[i], exprs[i]) != 0)
			return false;
	return true;
}

/* The regex pairs of a build: distinct expressions, in shard order. */
struct regex_plan {
	const struct regex_ref *refs; /* sorted by expression, then subscriber */
	uint32_t n_refs;
	uint32_t n_exprs;
	const char **exprs; /* distinct, sorted */
	uint32_t *eidx;	    /* the lowest caller index of each */
	uint32_t *efirst;   /* its first ref */
	uint32_t *order;    /* shard order: positions in exprs */
	const char **by;    /* exprs in shard order */
	uint32_t *by_idx;   /* eidx in shard order */
	uint32_t count[MATCHER_SHARDS], first[MATCHER_SHARDS];
};

static void plan_free(struct regex_plan *p)
{
	free(p->exprs);
	free(p->eidx);
	free(p->efirst);
	free(p->order);
	free(p->by);
	free(p->by_idx);
}

/* Sort `refs`, group them by expression and order the expressions by shard (all in
 * shard 0 for a probe: one database). 0 or -ENOMEM. */
static int plan_make(struct regex_plan *p, struct regex_ref *refs, uint32_t n, bool probe)
{
	size_t m = n ? n : 1;

	*p = (struct regex_plan){.refs = refs, .n_refs = n};
	p->exprs = malloc(m * sizeof(*p->exprs));
	p->eidx = malloc(m * sizeof(*p->eidx));
	p->efirst = malloc(m * sizeof(*p->efirst));
	p->order = malloc(m * sizeof(*p->order));
	p->by = malloc(m * sizeof(*p->by));
	p->by_idx = malloc(m * sizeof(*p->by_idx));
	if (!p->exprs || !p->eidx || !p->efirst || !p->order || !p->by || !p->by_idx)
		return -ENOMEM;
	/* equal expressions side by side, each run ordered by subscriber */
	qsort(refs, n, sizeof(*refs), cmp_ref);
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(refs[i].expr, refs[i - 1].expr) != 0) {
			p->exprs[p->n_exprs] = refs[i].expr;
			p->eidx[p->n_exprs] = refs[i].idx;
			p->efirst[p->n_exprs++] = i;
		} else if (refs[i].idx < p->eidx[p->n_exprs - 1]) {
			p->eidx[p->n_exprs - 1] = refs[i].idx;
		}
	}
	/* shards keep the sorted order: a shard's identity is its set of expressions */
	matcher_shard_order(p->exprs, p->n_exprs, probe, p->count, p->first, p->order);
	for (uint32_t at = 0; at < p->n_exprs; at++) {
		p->by[at] = p->exprs[p->order[at]];
		p->by_idx[at] = p->eidx[p->order[at]];
	}
	return 0;
}

/* A compile job for every shard of the plan that `prev` does not hold as it is. */
static uint32_t plan_jobs(const struct regex_plan *p, const struct matcher *prev,
			  struct matcher_compile_job *jobs, uint32_t *job_shard)
{
	uint32_t n_jobs = 0;

	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		const struct matcher_runit *u = prev != NULL ? prev->shard[k] : NULL;
		const char *const *exprs = p->by + p->first[k];

		if (p->count[k] == 0 || (u != NULL && same_exprs(u->rdb, exprs, p->count[k])))
			continue;
		jobs[n_jobs] = (struct matcher_compile_job){
		    .exprs = exprs, .idx = p->by_idx + p->first[k], .n = p->count[k]};
		job_shard[n_jobs++] = k;
	}
	return n_jobs;
}

/* Shard k of `m` over `rdb` with the plan's pairs (`pairs` has room for them all). */
static int plan_unit(struct matcher *m, const struct regex_plan *p, uint32_t k,
		     struct matcher_rdb *rdb, struct matcher_id_sub *pairs)
{
	uint32_t np = 0;

	for (uint32_t i = 0; i < p->count[k]; i++) {
		uint32_t e = p->order[p->first[k] + i];

		/* the refs of one expression are adjacent, ordered by subscriber */
		for (uint32_t r = p->efirst[e];
		     r < p->n_refs && strcmp(p->refs[r].expr, p->exprs[e]) == 0; r++)
			if (np == 0 || pairs[np - 1].id != i || pairs[np - 1].sub != p->refs[r].sub)
				pairs[np++] = (struct matcher_id_sub){i, p->refs[r].sub};
	}
	m->shard[k] = matcher_runit_new(rdb, pairs, np);
	m->n_regex += np;
	return m->shard[k] != NULL ? 0 : -ENOMEM;
}

/* `probe`: one database, no cache (matcher_probe). */
static int regex_build(struct matcher *m, struct regex_ref *refs, uint32_t n,
		       const struct matcher *prev, bool probe, char *err, size_t errlen,
		       uint32_t *bad)
{
	struct matcher_compile_job jobs[MATCHER_SHARDS];
	uint32_t job_shard[MATCHER_SHARDS], n_jobs = 0;
	struct matcher_id_sub *pairs = malloc((n ? n : 1) * sizeof(*pairs));
	struct regex_plan p;
	int rc = plan_make(&p, refs, n, probe);

	if (rc < 0 || pairs == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n_jobs = plan_jobs(&p, prev, jobs, job_shard);
	matcher_compile_parallel(jobs, n_jobs, !probe);
	rc = matcher_compile_result(jobs, n_jobs, err, errlen, bad);
	for (uint32_t k = 0; rc == 0 && k < MATCHER_SHARDS; k++) {
		struct matcher_rdb *rdb = NULL;

		if (p.count[k] == 0)
			continue;
		for (uint32_t j = 0; j < n_jobs && rdb == NULL; j++)
			if (job_shard[j] == k)
				rdb = jobs[j].out.rdb;
		rc = plan_unit(m, &p, k, rdb != NULL ? rdb : prev->shard[k]->rdb, pairs);
	}
	for (uint32_t j = 0; j < n_jobs; j++)
		matcher_rdb_put(jobs[j].out.rdb);
out:
	plan_free(&p);
	free(pairs);
	return rc;
}

/* The pairs of a build, by engine. */
struct build_input {
	struct matcher_pair *exact, *prefix;
	struct regex_ref *refs;
	uint32_t n_exact, n_prefix, n_refs;
};

static int input_split(struct build_input *in, const struct matcher_pattern *pats, uint32_t n)
{
	size_t m = n ? n : 1;

	*in = (struct build_input){0};
	in->exact = malloc(m * sizeof(*in->exact));
	in->prefix = malloc(m * sizeof(*in->prefix));
	in->refs = malloc(m * sizeof(*in->refs));
	if (in->exact == NULL || in->prefix == NULL || in->refs == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t key;

		switch (matcher_kind_of(pats[i].expr, &key)) {
		case MATCHER_EXACT:
			in->exact[in->n_exact++] = (struct matcher_pair){key, pats[i].sub};
			break;
		case MATCHER_PREFIX:
			in->prefix[in->n_prefix++] = (struct matcher_pair){key, pats[i].sub};
			break;
		case MATCHER_REGEX:
			in->refs[in->n_refs++] = (struct regex_ref){pats[i].expr, pats[i].sub, i};
			break;
		}
	}
	return 0;
}

static void input_free(struct build_input *in)
{
	free(in->exact);
	free(in->prefix);
	free(in->refs);
}

static struct matcher *build(const struct matcher_pattern *pats, uint32_t n,
			     const struct matcher *prev, uint32_t n_scratch, bool probe, char *err,
			     size_t errlen, uint32_t *bad)
{
	struct build_input in;
	uint32_t dummy_bad;
	char dummy_err[1];
	struct matcher *m = calloc(1, sizeof(*m));
	int rc = -ENOMEM;

	matcher_err_init(&err, &errlen, &bad, dummy_err, &dummy_bad);
	if (m != NULL)
		m->refs = 1;
	if (input_split(&in, pats, n) < 0 || m == NULL)
		goto fail;
	m->n_scratch = n_scratch;
	m->ov = malloc(sizeof(*m->ov));
	if (m->ov == NULL)
		goto fail;
	rc = matcher_hash_build(m->exact, in.exact, in.n_exact);
	if (rc == 0)
		rc = matcher_hash_build(m->prefix, in.prefix, in.n_prefix);
	if (rc < 0)
		goto fail;
	m->n_exact = matcher_hash_pairs(m->exact);
	m->n_prefix = matcher_hash_pairs(m->prefix);
	matcher_hash_len_pairs(m->prefix, m->prefix_len_pairs);
	if (in.n_refs > 0) {
		rc = regex_build(m, in.refs, in.n_refs, prev, probe, err, errlen, bad);
		if (rc < 0)
			goto fail;
	}
	rc = matcher_scratch_alloc(m, NULL, NULL, 0);
	if (rc < 0)
		goto fail;
	input_free(&in);
	return m;
fail:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	input_free(&in);
	matcher_free(m);
	errno = -rc;
	return NULL;
}

struct matcher *matcher_build(const struct matcher_pattern *pats, uint32_t n,
			      const struct matcher *prev, uint32_t n_scratch, char *err,
			      size_t errlen, uint32_t *bad)
{
	return build(pats, n, prev, n_scratch, false, err, errlen, bad);
}

struct matcher *matcher_probe(const struct matcher_pattern *pats, uint32_t n, char *err,
			      size_t errlen)
{
	return build(pats, n, NULL, 0, true, err, errlen, NULL);
}
