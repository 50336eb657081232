/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Background recompiles (docs/architecture.md, "Table changes"): after a change, each
 * shard whose database differs from what it should hold (its own expressions that
 * still have subscribers, plus the overlay's that hash to it) is recompiled on the
 * compile workers' background thread, never on a polling lcore; matcher_fold swaps a
 * finished one into a new version with the same pairs, so the same answers, and the
 * overlay loses what the shard now holds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matcher_int.h"

/* The recompile of one shard with the expressions it should hold. */
struct matcher_fold_job {
	struct matcher_job pj; /* first */
	uint32_t refs;	       /* matcher versions + the pool while queued or running */
	uint32_t shard;
	uint32_t n;
	char **exprs; /* sorted copies */
	struct matcher_compile_out out;
	int state; /* FOLD_RUNNING, FOLD_DONE, FOLD_FAILED; written last by the worker */
};

enum { FOLD_RUNNING = 0, FOLD_DONE = 1, FOLD_FAILED = 2 };

void matcher_fold_put(struct matcher_fold_job *j)
{
	if (j == NULL || matcher_ref_put(&j->refs) != 0)
		return;
	for (uint32_t i = 0; i < j->n; i++)
		free(j->exprs[i]);
	free(j->exprs);
	matcher_rdb_put(j->out.rdb);
	free(j);
}

static void fold_run(struct matcher_job *pj)
{
	struct matcher_fold_job *j = (struct matcher_fold_job *)pj;

	if (j->n == 0) {
		/* every expression of the shard is unused: it goes, nothing to compile */
		j->out = (struct matcher_compile_out){.bad = -1};
		return;
	}
	matcher_compile_exprs((const char *const *)j->exprs, j->n, true, &j->out);
}

static void fold_done(struct matcher_job *pj)
{
	struct matcher_fold_job *j = (struct matcher_fold_job *)pj;

	__atomic_store_n(&j->state, j->out.rc == 0 ? FOLD_DONE : FOLD_FAILED, __ATOMIC_RELEASE);
	matcher_fold_put(j); /* the pool's reference */
}

static int fold_state(const struct matcher_fold_job *j)
{
	return __atomic_load_n(&j->state, __ATOMIC_ACQUIRE);
}

void matcher_fold_get(struct matcher_fold_job *j)
{
	matcher_ref_get(&j->refs);
}

void matcher_fold_retry(struct matcher *m, uint32_t k)
{
	if (m->job[k] != NULL && fold_state(m->job[k]) == FOLD_FAILED) {
		matcher_fold_put(m->job[k]);
		m->job[k] = NULL;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The expressions shard k should hold in `m`: its own with a subscriber, plus the
 * overlay's that hash to k. Sorted copies; NULL with *n = 0 when there are none. */
static char **shard_target(const struct matcher *m, uint32_t k, uint32_t *n, bool *dirty)
{
	const struct matcher_runit *s = m->shard[k];
	uint32_t cap = 0, c = 0;
	char **v;

	*dirty = s != NULL && s->n_live != s->rdb->n;
	cap = s != NULL ? s->n_live : 0;
	for (uint32_t i = 0; i < m->n_ov; i++)
		for (uint32_t id = 0; id < m->ov[i]->rdb->n; id++)
			if (m->ov[i]->count[id] != 0 &&
			    matcher_expr_shard(m->ov[i]->rdb->exprs[id]) == k) {
				cap++;
				*dirty = true;
			}
	*n = 0;
	if (!*dirty)
		return NULL;
	v = calloc(cap ? cap : 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (uint32_t id = 0; s != NULL && id < s->rdb->n; id++)
		if (s->count[id] != 0 && (v[c++] = strdup(s->rdb->exprs[id])) == NULL)
			goto nomem;
	for (uint32_t i = 0; i < m->n_ov; i++)
		for (uint32_t id = 0; id < m->ov[i]->rdb->n; id++)
			if (m->ov[i]->count[id] != 0 &&
			    matcher_expr_shard(m->ov[i]->rdb->exprs[id]) == k &&
			    (v[c++] = strdup(m->ov[i]->rdb->exprs[id])) == NULL)
				goto nomem;
	qsort(v, c, sizeof(*v), cmp_str);
	*n = c;
	return v;
nomem:
	for (uint32_t i = 0; i < c; i++)
		free(v[i]);
	free(v);
	*dirty = false;
	return NULL;
}

void matcher_fold_start(struct matcher *m)
{
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		struct matcher_fold_job *j;
		bool dirty;

		if (m->job[k] != NULL)
			continue; /* one at a time per shard; the next after it is folded */
		j = calloc(1, sizeof(*j));
		if (j == NULL)
			return;
		j->exprs = shard_target(m, k, &j->n, &dirty);
		if (!dirty) {
			free(j);
			continue;
		}
		j->shard = k;
		j->refs = 2; /* this version, the pool */
		j->pj.run = fold_run;
		j->pj.done = fold_done;
		m->job[k] = j;
		matcher_pool_submit(&j->pj);
	}
}

uint32_t matcher_fold_pending(const struct matcher *m)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < MATCHER_SHARDS; k++)
		n += m->job[k] != NULL && fold_state(m->job[k]) != FOLD_FAILED;
	return n;
}

void matcher_fold_wait(const struct matcher *m)
{
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++)
		while (m->job[k] != NULL && fold_state(m->job[k]) == FOLD_RUNNING) {
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL);
		}
}

uint32_t matcher_overlay_exprs(const struct matcher *m)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < m->n_ov; i++)
		n += m->ov[i]->n_live;
	return n;
}

/* The subscribers `m` gives `expr` now: where it lives, or nothing. */
static const struct matcher_runit *current_of(const struct matcher *m, const char *expr,
					      uint32_t *id)
{
	struct matcher_regex_op c = {.expr = expr};

	matcher_locate(m, &c);
	if (c.unit == UINT32_MAX)
		return NULL;
	*id = c.id;
	return matcher_unit(m, c.unit);
}

/* The overlay of `nm` without its copies of the expressions of `rdb` (their
 * subscribers go with the shard that now holds them). */
static int overlay_forget(struct matcher *nm, const struct matcher_rdb *rdb)
{
	for (uint32_t i = 0; i < nm->n_ov; i++) {
		const struct matcher_runit *u = nm->ov[i];
		struct matcher_regex_op *c;
		struct matcher_runit *cu;
		uint32_t nc = 0;
		int64_t delta = 0;

		for (uint32_t id = 0; id < u->rdb->n; id++)
			if (u->count[id] != 0 && matcher_rdb_find(rdb, u->rdb->exprs[id]) >= 0)
				nc += u->count[id];
		if (nc == 0)
			continue;
		c = malloc(nc * sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		nc = 0;
		for (uint32_t id = 0; id < u->rdb->n; id++)
			if (u->count[id] != 0 && matcher_rdb_find(rdb, u->rdb->exprs[id]) >= 0)
				for (uint32_t j = 0; j < u->count[id]; j++)
					c[nc++] = (struct matcher_regex_op){
					    .sub = u->subs[u->first[id] + j], .id = id};
		cu = matcher_runit_change(u, c, nc, &delta);
		free(c);
		if (cu == NULL)
			return -ENOMEM;
		matcher_runit_put(nm->ov[i]);
		nm->ov[i] = cu;
	}
	return 0;
}

/* A unit over `rdb` with, for each of its expressions, the subscribers `nm` gives it. */
static struct matcher_runit *unit_as_now(const struct matcher *nm, struct matcher_rdb *rdb)
{
	struct matcher_id_sub *p;
	uint32_t np = 0, cap = 0;
	struct matcher_runit *nu;

	for (uint32_t id = 0; id < rdb->n; id++) {
		uint32_t at;
		const struct matcher_runit *u = current_of(nm, rdb->exprs[id], &at);

		cap += u != NULL ? u->count[at] : 0;
	}
	p = malloc((cap ? cap : 1) * sizeof(*p));
	if (p == NULL)
		return NULL;
	for (uint32_t id = 0; id < rdb->n; id++) {
		uint32_t at;
		const struct matcher_runit *u = current_of(nm, rdb->exprs[id], &at);

		for (uint32_t j = 0; u != NULL && j < u->count[at]; j++)
			p[np++] = (struct matcher_id_sub){id, u->subs[u->first[at] + j]};
	}
	nu = matcher_runit_new(rdb, p, np);
	free(p);
	return nu;
}

/*
 * Swap the finished recompile of shard k into `nm`: the new database with, for each of
 * its expressions, the subscribers `nm` gives it now; the overlay loses those
 * expressions. Refused (false, nothing changed) when an expression of the old shard
 * that still has subscribers is missing from the new database (it was masked when the
 * recompile started and used again since): the next recompile takes it.
 */
static int fold_shard(struct matcher *nm, uint32_t k, struct matcher_rdb *rdb, bool *folded)
{
	const struct matcher_runit *old = nm->shard[k];
	struct matcher_runit *nu;

	*folded = false;
	for (uint32_t id = 0; old != NULL && id < old->rdb->n; id++)
		if (old->count[id] != 0 &&
		    (rdb == NULL || matcher_rdb_find(rdb, old->rdb->exprs[id]) < 0))
			return 0;
	if (rdb == NULL) {
		/* the shard's expressions all went unused: no database any more */
		matcher_runit_put(nm->shard[k]);
		nm->shard[k] = NULL;
		*folded = true;
		return 0;
	}
	nu = unit_as_now(nm, rdb);
	if (nu == NULL)
		return -ENOMEM;
	if (overlay_forget(nm, rdb) < 0) {
		matcher_runit_put(nu);
		return -ENOMEM;
	}
	matcher_runit_put(nm->shard[k]);
	nm->shard[k] = nu;
	matcher_overlay_trim(nm);
	*folded = true;
	return 0;
}

struct matcher *matcher_fold(struct matcher *m)
{
	struct matcher *nm = NULL;
	hs_database_t *fresh[MATCHER_SHARDS];
	uint32_t n_fresh = 0;
	bool any = false;

	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		struct matcher_fold_job *j = m->job[k];
		bool folded = false;

		if (j == NULL || fold_state(j) != FOLD_DONE)
			continue;
		if (nm == NULL && (nm = matcher_clone(m)) == NULL)
			goto nomem;
		if (fold_shard(nm, k, j->out.rdb, &folded) < 0)
			goto nomem;
		if (folded && j->out.rdb != NULL)
			fresh[n_fresh++] = j->out.rdb->db;
		/* folded or refused, this recompile is spent: another starts below if needed */
		matcher_fold_put(nm->job[k]);
		nm->job[k] = NULL;
		matcher_fold_put(m->job[k]);
		m->job[k] = NULL;
		any = true;
	}
	if (!any) {
		errno = 0;
		return NULL;
	}
	if (n_fresh > 0 && matcher_scratch_alloc(nm, m->scratch, fresh, n_fresh) < 0)
		goto nomem;
	matcher_fold_start(nm);
	return nm;
nomem:
	matcher_free(nm);
	errno = ENOMEM;
	return NULL;
}
