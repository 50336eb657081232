/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscription pattern matching (docs/protocol.md §3.5), the only dataplane file that
 * includes <hs/hs.h>. See matcher.h for the structure and docs/architecture.md
 * ("Table changes", "Compiles and the compile cache") for why.
 *
 * Three engines behind one call:
 *  - exact literals (`^AAPL$`, `^BRK\.A$`): an open-addressing hash keyed by the symbol
 *    space-padded to 8 bytes, the same u64 as itch50_stock_key() on the wire. They never
 *    reach Hyperscan: at 100 000 rules a regex compile takes minutes (docs/performance.md)
 *    while the hash builds in milliseconds.
 *  - anchored literal prefixes (`^MS`, `^BRK\.`): a second hash keyed by the prefix zero
 *    padded to 8 bytes (the padding encodes the length); a symbol probes it once per
 *    prefix length in use.
 *  - everything else: Hyperscan block-mode databases, each distinct expression once,
 *    fanning out to its subscriber list on a match.
 * Both hashes are cut into MATCHER_HASH_SHARDS pieces by the top byte of the key's hash,
 * the regexes into MATCHER_SHARDS databases by a hash of their text, so that a change
 * rebuilds only the pieces it touches (matcher_change). A symbol is matched once per new
 * binding, or by the builder for the symbols a change can affect, never per message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#include "matcher.h"
#include "matcher_cache.h"
#include "matcher_pool.h"

#include "../common/hash.h"
#include "../common/pattern.h"
#include "../common/routing_config.h"

#define SYM_LEN 8
/* New expressions of one change compiled as one overlay database up to this many;
 * above, one per shard, compiled in parallel. */
#define OVERLAY_SPLIT 64

static inline uint32_t ref_get(uint32_t *r)
{
	return __atomic_add_fetch(r, 1, __ATOMIC_RELAXED);
}

static inline uint32_t ref_put(uint32_t *r)
{
	return __atomic_sub_fetch(r, 1, __ATOMIC_ACQ_REL);
}

/* ------------------------------------------------------------------ hashes */

struct exact_slot {
	uint64_t key;	/* padded literal; 0 = empty slot (a padded literal never is) */
	uint32_t first; /* into hunit.subs */
	uint32_t count;
};

/* One piece of the exact or the prefix hash. */
struct hunit {
	uint32_t refs;
	uint32_t n_keys;
	uint32_t n_pairs;
	uint64_t mask;
	struct exact_slot *slots;
	uint32_t *subs;
};

static inline uint64_t slot_hash(uint64_t key)
{
	key ^= key >> 29;
	key *= 0x9e3779b97f4a7c15ull;
	return key ^ (key >> 32);
}

/* The piece a key lives in: the hash's top byte (slots use its low bits). */
static inline uint32_t hash_shard(uint64_t key)
{
	return (uint32_t)(slot_hash(key) >> 56) % MATCHER_HASH_SHARDS;
}

static const struct exact_slot *slot_find(const struct hunit *u, uint64_t key)
{
	uint64_t i = slot_hash(key) & u->mask;

	for (;; i = (i + 1) & u->mask) {
		const struct exact_slot *e = &u->slots[i];

		if (e->key == key)
			return e;
		if (e->key == 0)
			return NULL;
	}
}

struct exact_pair {
	uint64_t key;
	uint32_t sub;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct exact_pair *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

static void hunit_put(struct hunit *u)
{
	if (u == NULL || ref_put(&u->refs) != 0)
		return;
	free(u->slots);
	free(u->subs);
	free(u);
}

/* Sorted, duplicate-free pairs -> one piece (NULL with errno when n == 0 or no memory). */
static struct hunit *hunit_build(const struct exact_pair *pairs, uint32_t n)
{
	struct hunit *u;
	uint64_t cap = 16;

	if (n == 0) {
		errno = 0;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->refs = 1;
	for (uint32_t i = 0; i < n; i++)
		u->n_keys += i == 0 || pairs[i].key != pairs[i - 1].key;
	/* load factor <= 1/2 keeps linear probing short */
	while (cap < 2ull * u->n_keys)
		cap <<= 1;
	u->slots = calloc(cap, sizeof(*u->slots));
	u->subs = malloc(n * sizeof(*u->subs));
	if (u->slots == NULL || u->subs == NULL) {
		free(u->slots);
		free(u->subs);
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	u->mask = cap - 1;
	for (uint32_t i = 0; i < n;) {
		uint64_t key = pairs[i].key;
		uint64_t h = slot_hash(key) & u->mask;
		struct exact_slot *e;

		while (u->slots[h].key != 0)
			h = (h + 1) & u->mask;
		e = &u->slots[h];
		e->key = key;
		e->first = u->n_pairs;
		for (; i < n && pairs[i].key == key; i++)
			u->subs[u->n_pairs++] = pairs[i].sub;
		e->count = u->n_pairs - e->first;
	}
	return u;
}

/* Sort and drop repeated pairs in place; returns the new count. */
static uint32_t pairs_normalize(struct exact_pair *p, uint32_t n)
{
	uint32_t k = 0;

	qsort(p, n, sizeof(*p), cmp_pair);
	for (uint32_t i = 0; i < n; i++)
		if (k == 0 || p[i].key != p[k - 1].key || p[i].sub != p[k - 1].sub)
			p[k++] = p[i];
	return k;
}

/* ------------------------------------------------------------------ regex units */

/* A compiled database and its expressions, sorted (id k = exprs[k]). */
struct regex_db {
	uint32_t refs;
	uint32_t n;
	hs_database_t *db;
	char **exprs;
};

/* A database as one matcher version uses it: the subscribers of each expression. An
 * expression with none is masked (its match sets nothing). */
struct runit {
	uint32_t refs;
	uint32_t n_live; /* expressions with at least one subscriber */
	uint32_t n_pairs;
	struct regex_db *rdb;
	uint32_t *first; /* [rdb->n] into subs */
	uint32_t *count; /* [rdb->n] */
	uint32_t *subs;
};

static void rdb_put(struct regex_db *r)
{
	if (r == NULL || ref_put(&r->refs) != 0)
		return;
	hs_free_database(r->db);
	for (uint32_t i = 0; i < r->n; i++)
		free(r->exprs[i]);
	free(r->exprs);
	free(r);
}

static void runit_put(struct runit *u)
{
	if (u == NULL || ref_put(&u->refs) != 0)
		return;
	rdb_put(u->rdb);
	free(u->first);
	free(u->count);
	free(u->subs);
	free(u);
}

/* Position of `expr` in the sorted expressions of `r`, or -1. */
static int64_t rdb_find(const struct regex_db *r, const char *expr)
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

/* Stable across runs and builds: a shard's expressions are its cache key. */
static uint32_t expr_shard(const char *expr)
{
	return (uint32_t)(hash_str(expr) % MATCHER_SHARDS);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One (expression id, subscriber) of a unit under construction. */
struct id_sub {
	uint32_t id;
	uint32_t sub;
};

static int cmp_id_sub(const void *a, const void *b)
{
	const struct id_sub *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* A unit over `rdb` (one reference taken) from sorted, duplicate-free pairs. */
static struct runit *runit_new(struct regex_db *rdb, const struct id_sub *p, uint32_t n)
{
	struct runit *u = calloc(1, sizeof(*u));

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
	ref_get(&rdb->refs);
	u->rdb = rdb;
	return u;
}

/* Every pair of `u` (malloc'd), for rebuilding it with changes. */
static struct id_sub *runit_pairs(const struct runit *u, uint32_t extra, uint32_t *n)
{
	struct id_sub *p = malloc(((size_t)u->n_pairs + extra + 1) * sizeof(*p));
	uint32_t k = 0;

	if (p == NULL)
		return NULL;
	for (uint32_t id = 0; id < u->rdb->n; id++)
		for (uint32_t j = 0; j < u->count[id]; j++)
			p[k++] = (struct id_sub){id, u->subs[u->first[id] + j]};
	*n = k;
	return p;
}

/* ------------------------------------------------------------------ compiling */

/* What a database's cache key and cache file identity are made of. */
static char *cache_ident(const char *const *exprs, uint32_t n, size_t *len)
{
	hs_platform_info_t plat;
	char head[256];
	size_t total, off;
	char *id;
	int hl;

	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	hl = snprintf(head, sizeof(head),
		      "aster compile cache 1|flags %u|mode %u|hyperscan %s|tune %u|features "
		      "%llu|exprs %u\n",
		      (unsigned)PATTERN_HS_FLAGS, (unsigned)HS_MODE_BLOCK, hs_version(),
		      (unsigned)plat.tune, (unsigned long long)plat.cpu_features, n);
	total = (size_t)hl;
	for (uint32_t i = 0; i < n; i++)
		total += strlen(exprs[i]) + 1;
	id = malloc(total);
	if (id == NULL)
		return NULL;
	memcpy(id, head, (size_t)hl);
	off = (size_t)hl;
	for (uint32_t i = 0; i < n; i++) {
		size_t l = strlen(exprs[i]) + 1;

		memcpy(id + off, exprs[i], l);
		off += l;
	}
	*len = total;
	return id;
}

/* The cached database of `ident`, or NULL (a miss, or a file found unusable). */
static hs_database_t *cache_load(const uint8_t *key, const char *ident, size_t ident_len)
{
	hs_database_t *db = NULL;
	char *info = NULL, want[64];
	size_t len;
	void *blob = matcher_cache_get(key, ident, ident_len, &len);

	if (blob == NULL)
		return NULL;
	/* hs_version() is "5.4.0 2021-01-26": the info names the version's first word */
	snprintf(want, sizeof(want), "Version: %s", hs_version());
	if (strchr(want + 9, ' ') != NULL)
		*strchr(want + 9, ' ') = '\0';
	if (hs_serialized_database_info(blob, len, &info) != HS_SUCCESS)
		matcher_cache_reject(key, "not a serialized Hyperscan database");
	else if (strstr(info, want) == NULL || strstr(info, "Mode: BLOCK") == NULL)
		matcher_cache_reject(key, "a database of another Hyperscan version or mode");
	else if (hs_deserialize_database(blob, len, &db) != HS_SUCCESS) {
		db = NULL;
		matcher_cache_reject(key, "Hyperscan refused to deserialize it");
	}
	free(info);
	free(blob);
	return db;
}

struct compile_out {
	struct regex_db *rdb;
	int rc;	       /* 0, -EINVAL (an expression), -ENOMEM */
	int32_t bad;   /* position of the expression Hyperscan named, or -1 */
	char err[256]; /* Hyperscan's message */
	bool from_cache;
};

/*
 * Compile (or load from the cache) the database of `n` sorted expressions. The copies of
 * the expressions become the database's.
 */
static void compile_exprs(const char *const *exprs, uint32_t n, bool use_cache,
			  struct compile_out *out)
{
	unsigned int *flags = NULL, *ids = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;
	uint8_t key[MATCHER_CACHE_KEY_LEN];
	char *ident = NULL;
	size_t ident_len = 0;
	struct regex_db *r;

	out->rdb = NULL;
	out->rc = -ENOMEM;
	out->bad = -1;
	out->err[0] = '\0';
	out->from_cache = false;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->exprs = calloc(n ? n : 1, sizeof(*r->exprs))) == NULL)
		goto fail;
	r->refs = 1;
	for (uint32_t i = 0; i < n; i++, r->n++)
		if ((r->exprs[i] = strdup(exprs[i])) == NULL)
			goto fail;
	if (use_cache && matcher_cache_enabled()) {
		uint64_t h1, h2;

		ident = cache_ident(exprs, n, &ident_len);
		if (ident == NULL)
			goto fail;
		h1 = matcher_cache_hash(ident, ident_len, 0x6b657931ull);
		h2 = matcher_cache_hash(ident, ident_len, 0x6b657932ull);
		memcpy(key, &h1, 8);
		memcpy(key + 8, &h2, 8);
		db = cache_load(key, ident, ident_len);
		out->from_cache = db != NULL;
	}
	if (db == NULL) {
		flags = malloc((n ? n : 1) * sizeof(*flags));
		ids = malloc((n ? n : 1) * sizeof(*ids));
		if (flags == NULL || ids == NULL)
			goto fail;
		for (uint32_t i = 0; i < n; i++) {
			flags[i] = PATTERN_HS_FLAGS;
			ids[i] = i;
		}
		if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &cerr) !=
		    HS_SUCCESS) {
			snprintf(out->err, sizeof(out->err), "%s",
				 cerr != NULL ? cerr->message : "compile failed");
			if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < n)
				out->bad = cerr->expression;
			hs_free_compile_error(cerr);
			out->rc = -EINVAL;
			db = NULL;
			goto fail;
		}
		if (ident != NULL) {
			char *bytes = NULL;
			size_t len = 0;

			if (hs_serialize_database(db, &bytes, &len) == HS_SUCCESS) {
				matcher_cache_put(key, ident, ident_len, bytes, len);
				free(bytes); /* Hyperscan's misc allocator: malloc */
			}
		}
	}
	r->db = db;
	out->rdb = r;
	out->rc = 0;
	free(ident);
	free(flags);
	free(ids);
	return;
fail:
	if (out->rc == -ENOMEM)
		snprintf(out->err, sizeof(out->err), "out of memory");
	rdb_put(r);
	free(ident);
	free(flags);
	free(ids);
}

/* A compile run by the pool: `exprs` sorted, borrowed for the duration of the batch. */
struct compile_job {
	struct matcher_job pj; /* first: the pool hands this back */
	const char *const *exprs;
	uint32_t n;
	bool use_cache;
	struct compile_out out;
};

static void compile_job_run(struct matcher_job *j)
{
	struct compile_job *c = (struct compile_job *)j;

	compile_exprs(c->exprs, c->n, c->use_cache, &c->out);
}

/* Compile `n` jobs in parallel on the compile workers; one alone, here. */
static void compile_parallel(struct compile_job *jobs, uint32_t n, bool use_cache)
{
	struct matcher_job *v[MATCHER_SHARDS];

	for (uint32_t i = 0; i < n; i++) {
		jobs[i].pj = (struct matcher_job){.run = compile_job_run};
		jobs[i].use_cache = use_cache;
		v[i] = &jobs[i].pj;
	}
	if (n == 1)
		compile_job_run(v[0]);
	else
		matcher_pool_run(v, n);
}

/* ------------------------------------------------------------------ background folds */

/* The recompile of one shard with the expressions it should hold. */
struct fold_job {
	struct matcher_job pj; /* first */
	uint32_t refs;	       /* matcher versions + the pool while queued or running */
	uint32_t shard;
	uint32_t n;
	char **exprs; /* sorted copies */
	struct compile_out out;
	int state; /* FOLD_RUNNING, FOLD_DONE, FOLD_FAILED; written last by the worker */
};

enum { FOLD_RUNNING = 0, FOLD_DONE = 1, FOLD_FAILED = 2 };

static void fold_put(struct fold_job *j)
{
	if (j == NULL || ref_put(&j->refs) != 0)
		return;
	for (uint32_t i = 0; i < j->n; i++)
		free(j->exprs[i]);
	free(j->exprs);
	rdb_put(j->out.rdb);
	free(j);
}

static void fold_run(struct matcher_job *pj)
{
	struct fold_job *j = (struct fold_job *)pj;

	if (j->n == 0) {
		/* every expression of the shard is unused: it goes, nothing to compile */
		j->out = (struct compile_out){.bad = -1};
		return;
	}
	compile_exprs((const char *const *)j->exprs, j->n, true, &j->out);
}

static void fold_done(struct matcher_job *pj)
{
	struct fold_job *j = (struct fold_job *)pj;

	__atomic_store_n(&j->state, j->out.rc == 0 ? FOLD_DONE : FOLD_FAILED, __ATOMIC_RELEASE);
	fold_put(j); /* the pool's reference */
}

static int fold_state(const struct fold_job *j)
{
	return __atomic_load_n(&j->state, __ATOMIC_ACQUIRE);
}

/* ------------------------------------------------------------------ the matcher */

/* Scratch for every database of one version: [n_scratch] matching threads + builder. */
struct scratch_set {
	uint32_t refs;
	uint32_t n;
	hs_scratch_t *s[];
};

struct matcher {
	uint32_t refs;
	uint32_t n_scratch;
	uint32_t n_exact, n_prefix, n_regex; /* pairs */
	uint32_t prefix_len_pairs[SYM_LEN];  /* pairs per prefix length */
	struct hunit *exact[MATCHER_HASH_SHARDS];
	struct hunit *prefix[MATCHER_HASH_SHARDS];
	struct runit *shard[MATCHER_SHARDS];
	uint32_t n_ov;
	struct runit **ov; /* overlay: expressions compiled since their shard was */
	/* control-thread bookkeeping, never read by matching threads */
	struct fold_job *job[MATCHER_SHARDS];
	struct scratch_set *scratch;
};

static void scratch_put(struct scratch_set *s)
{
	if (s == NULL || ref_put(&s->refs) != 0)
		return;
	for (uint32_t i = 0; i < s->n; i++)
		hs_free_scratch(s->s[i]);
	free(s);
}

/*
 * Scratch large enough for every database `m` scans, one per thread: grown from `from`
 * (the previous version's, which fits every database but the `n_fresh` new ones) when
 * given, which costs a copy instead of a pass over every shard.
 */
static int scratch_alloc(struct matcher *m, const struct scratch_set *from,
			 hs_database_t *const *fresh, uint32_t n_fresh)
{
	uint32_t n = m->n_scratch + 1;
	struct scratch_set *s = calloc(1, sizeof(*s) + n * sizeof(s->s[0]));
	hs_scratch_t *proto = NULL;
	bool any = false;

	if (s == NULL)
		return -ENOMEM;
	s->refs = 1;
	s->n = n;
	/* the builder's own (the last): the matching threads may be using theirs */
	if (from != NULL && from->s[from->n - 1] != NULL) {
		if (hs_clone_scratch(from->s[from->n - 1], &proto) != HS_SUCCESS)
			goto nomem;
		any = true;
		for (uint32_t i = 0; i < n_fresh; i++)
			if (hs_alloc_scratch(fresh[i], &proto) != HS_SUCCESS)
				goto nomem;
	} else {
		for (uint32_t k = 0; k < MATCHER_SHARDS + m->n_ov; k++) {
			const struct runit *u =
			    k < MATCHER_SHARDS ? m->shard[k] : m->ov[k - MATCHER_SHARDS];

			if (u == NULL)
				continue;
			any = true;
			if (hs_alloc_scratch(u->rdb->db, &proto) != HS_SUCCESS)
				goto nomem;
		}
	}
	if (any) {
		s->s[0] = proto;
		proto = NULL;
		for (uint32_t i = 1; i < n; i++)
			if (hs_clone_scratch(s->s[0], &s->s[i]) != HS_SUCCESS)
				goto nomem;
	}
	scratch_put(m->scratch);
	m->scratch = s;
	return 0;
nomem:
	hs_free_scratch(proto);
	scratch_put(s);
	return -ENOMEM;
}

void matcher_free(struct matcher *m)
{
	if (m == NULL || ref_put(&m->refs) != 0)
		return;
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++) {
		hunit_put(m->exact[k]);
		hunit_put(m->prefix[k]);
	}
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		runit_put(m->shard[k]);
		fold_put(m->job[k]);
	}
	for (uint32_t i = 0; i < m->n_ov; i++)
		runit_put(m->ov[i]);
	free(m->ov);
	scratch_put(m->scratch);
	free(m);
}

struct matcher *matcher_ref(struct matcher *m)
{
	ref_get(&m->refs);
	return m;
}

/* A new version sharing every piece of `m` (scratch included). */
static struct matcher *clone(const struct matcher *m)
{
	struct matcher *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *m;
	c->refs = 1;
	c->ov = malloc((m->n_ov ? m->n_ov : 1) * sizeof(*c->ov));
	if (c->ov == NULL) {
		free(c);
		return NULL;
	}
	memcpy(c->ov, m->ov, m->n_ov * sizeof(*c->ov));
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++) {
		if (c->exact[k] != NULL)
			ref_get(&c->exact[k]->refs);
		if (c->prefix[k] != NULL)
			ref_get(&c->prefix[k]->refs);
	}
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		if (c->shard[k] != NULL)
			ref_get(&c->shard[k]->refs);
		if (c->job[k] != NULL)
			ref_get(&c->job[k]->refs);
	}
	for (uint32_t i = 0; i < c->n_ov; i++)
		ref_get(&c->ov[i]->refs);
	if (c->scratch != NULL)
		ref_get(&c->scratch->refs);
	return c;
}

/* ------------------------------------------------------------------ full build */

static void fold_start(struct matcher *m);

/* Split pairs into hash pieces. */
static int hash_build(struct hunit **units, struct exact_pair *pairs, uint32_t n)
{
	uint32_t count[MATCHER_HASH_SHARDS] = {0}, first[MATCHER_HASH_SHARDS];
	struct exact_pair *by = malloc((n ? n : 1) * sizeof(*by));

	if (by == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		count[hash_shard(pairs[i].key)]++;
	first[0] = 0;
	for (uint32_t k = 1; k < MATCHER_HASH_SHARDS; k++)
		first[k] = first[k - 1] + count[k - 1];
	memset(count, 0, sizeof(count));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = hash_shard(pairs[i].key);

		by[first[k] + count[k]++] = pairs[i];
	}
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++) {
		uint32_t c;

		if (count[k] == 0)
			continue;
		c = pairs_normalize(by + first[k], count[k]);
		units[k] = hunit_build(by + first[k], c);
		if (units[k] == NULL) {
			free(by);
			return -ENOMEM;
		}
	}
	free(by);
	return 0;
}

static uint32_t hash_pairs(struct hunit *const *units)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++)
		n += units[k] != NULL ? units[k]->n_pairs : 0;
	return n;
}

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
static bool same_exprs(const struct regex_db *r, const char *const *exprs, uint32_t n)
{
	if (r == NULL || r->n != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(r->exprs[i], exprs[i]) != 0)
			return false;
	return true;
}

/*
 * Which of `n` expressions, each with the caller index `idx[i]`, is the invalid one the
 * caller wrote first: each is checked alone, so the answer does not depend on the order
 * Hyperscan compiled them in. Falls back on the compiler's own report.
 */
static void first_bad(const char *const *exprs, const uint32_t *idx, uint32_t n,
		      const struct compile_out *out, char *err, size_t errlen, uint32_t *bad)
{
	char msg[256];

	for (uint32_t i = 0; i < n; i++)
		if ((*bad == UINT32_MAX || idx[i] < *bad) &&
		    matcher_check(exprs[i], msg, sizeof(msg)) != 0) {
			*bad = idx[i];
			snprintf(err, errlen, "%s", msg);
		}
	if (*bad == UINT32_MAX && out->bad >= 0) {
		*bad = idx[out->bad];
		snprintf(err, errlen, "%s", out->err);
	}
}

/* `probe`: one database, no cache (matcher_probe). */
static int regex_build(struct matcher *m, struct regex_ref *refs, uint32_t n,
		       const struct matcher *prev, bool probe, char *err, size_t errlen,
		       uint32_t *bad)
{
	const char **exprs = malloc((n ? n : 1) * sizeof(*exprs));
	uint32_t *eidx = malloc((n ? n : 1) * sizeof(*eidx));	  /* caller index per expr */
	uint32_t *efirst = malloc((n ? n : 1) * sizeof(*efirst)); /* first ref per expr */
	struct id_sub *pairs = malloc((n ? n : 1) * sizeof(*pairs));
	uint32_t n_exprs = 0, count[MATCHER_SHARDS] = {0}, first[MATCHER_SHARDS];
	const char **by = malloc((n ? n : 1) * sizeof(*by));
	uint32_t *by_idx = malloc((n ? n : 1) * sizeof(*by_idx));
	uint32_t *by_expr = malloc((n ? n : 1) * sizeof(*by_expr));
	struct compile_job jobs[MATCHER_SHARDS];
	uint32_t job_shard[MATCHER_SHARDS], n_jobs = 0;
	int rc = -ENOMEM;

	if (!exprs || !eidx || !efirst || !pairs || !by || !by_idx || !by_expr)
		goto out;
	/* equal expressions side by side, each run ordered by subscriber */
	qsort(refs, n, sizeof(*refs), cmp_ref);
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(refs[i].expr, refs[i - 1].expr) != 0) {
			exprs[n_exprs] = refs[i].expr;
			eidx[n_exprs] = refs[i].idx;
			efirst[n_exprs++] = i;
		} else if (refs[i].idx < eidx[n_exprs - 1]) {
			eidx[n_exprs - 1] = refs[i].idx;
		}
	}
	/* shards keep the sorted order: a shard's identity is its set of expressions */
	for (uint32_t e = 0; e < n_exprs; e++)
		count[probe ? 0 : expr_shard(exprs[e])]++;
	first[0] = 0;
	for (uint32_t k = 1; k < MATCHER_SHARDS; k++)
		first[k] = first[k - 1] + count[k - 1];
	memset(count, 0, sizeof(count));
	for (uint32_t e = 0; e < n_exprs; e++) {
		uint32_t k = probe ? 0 : expr_shard(exprs[e]), at = first[k] + count[k]++;

		by[at] = exprs[e];
		by_idx[at] = eidx[e];
		by_expr[at] = e;
	}
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		const struct runit *p = prev != NULL ? prev->shard[k] : NULL;

		if (count[k] == 0 || (p != NULL && same_exprs(p->rdb, by + first[k], count[k])))
			continue;
		jobs[n_jobs] = (struct compile_job){.exprs = by + first[k], .n = count[k]};
		job_shard[n_jobs++] = k;
	}
	compile_parallel(jobs, n_jobs, !probe);
	rc = 0;
	for (uint32_t j = 0; j < n_jobs; j++) {
		uint32_t k = job_shard[j];

		if (jobs[j].out.rc == -EINVAL) {
			first_bad(by + first[k], by_idx + first[k], count[k], &jobs[j].out, err,
				  errlen, bad);
			if (rc == 0)
				rc = -EINVAL;
		} else if (jobs[j].out.rc != 0) {
			snprintf(err, errlen, "%s", jobs[j].out.err);
			rc = jobs[j].out.rc;
		}
	}
	for (uint32_t k = 0; rc == 0 && k < MATCHER_SHARDS; k++) {
		struct regex_db *rdb = NULL;
		uint32_t np = 0;

		if (count[k] == 0)
			continue;
		for (uint32_t j = 0; j < n_jobs && rdb == NULL; j++)
			if (job_shard[j] == k)
				rdb = jobs[j].out.rdb;
		if (rdb == NULL)
			rdb = prev->shard[k]->rdb;
		for (uint32_t i = 0; i < count[k]; i++) {
			uint32_t e = by_expr[first[k] + i];

			/* the refs of one expression are adjacent, ordered by subscriber */
			for (uint32_t r = efirst[e]; r < n && strcmp(refs[r].expr, exprs[e]) == 0;
			     r++)
				if (np == 0 || pairs[np - 1].id != i ||
				    pairs[np - 1].sub != refs[r].sub)
					pairs[np++] = (struct id_sub){i, refs[r].sub};
		}
		m->shard[k] = runit_new(rdb, pairs, np);
		if (m->shard[k] == NULL)
			rc = -ENOMEM;
		m->n_regex += np;
	}
	for (uint32_t j = 0; j < n_jobs; j++)
		rdb_put(jobs[j].out.rdb);
out:
	free(exprs);
	free(eidx);
	free(efirst);
	free(pairs);
	free(by);
	free(by_idx);
	free(by_expr);
	return rc;
}

static struct matcher *build(const struct matcher_pattern *pats, uint32_t n,
			     const struct matcher *prev, uint32_t n_scratch, bool probe, char *err,
			     size_t errlen, uint32_t *bad)
{
	struct exact_pair *pairs = NULL, *prefixes = NULL;
	struct regex_ref *refs = NULL;
	uint32_t n_pairs = 0, n_prefixes = 0, n_refs = 0, dummy_bad;
	char dummy_err[1];
	struct matcher *m;
	int rc = -ENOMEM;

	if (bad == NULL)
		bad = &dummy_bad;
	if (err == NULL || errlen == 0) {
		err = dummy_err;
		errlen = sizeof(dummy_err);
	}
	*bad = UINT32_MAX;
	err[0] = '\0';
	m = calloc(1, sizeof(*m));
	pairs = malloc((n ? n : 1) * sizeof(*pairs));
	prefixes = malloc((n ? n : 1) * sizeof(*prefixes));
	refs = malloc((n ? n : 1) * sizeof(*refs));
	if (m == NULL || pairs == NULL || prefixes == NULL || refs == NULL)
		goto fail;
	m->refs = 1;
	m->n_scratch = n_scratch;
	m->ov = malloc(sizeof(*m->ov));
	if (m->ov == NULL)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t key;
		unsigned int len;

		if (rc_pattern_exact_key(pats[i].expr, &key)) {
			pairs[n_pairs].key = key;
			pairs[n_pairs++].sub = pats[i].sub;
		} else if (rc_pattern_prefix_key(pats[i].expr, &key, &len)) {
			prefixes[n_prefixes].key = key;
			prefixes[n_prefixes++].sub = pats[i].sub;
		} else {
			refs[n_refs].expr = pats[i].expr;
			refs[n_refs].sub = pats[i].sub;
			refs[n_refs++].idx = i;
		}
	}
	rc = hash_build(m->exact, pairs, n_pairs);
	if (rc == 0)
		rc = hash_build(m->prefix, prefixes, n_prefixes);
	if (rc < 0)
		goto fail;
	m->n_exact = hash_pairs(m->exact);
	m->n_prefix = hash_pairs(m->prefix);
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++)
		for (uint32_t s = 0; m->prefix[k] != NULL && s <= m->prefix[k]->mask; s++) {
			const struct exact_slot *e = &m->prefix[k]->slots[s];

			if (e->key != 0)
				m->prefix_len_pairs[strnlen((const char *)&e->key, SYM_LEN) - 1] +=
				    e->count;
		}
	if (n_refs > 0) {
		rc = regex_build(m, refs, n_refs, prev, probe, err, errlen, bad);
		if (rc < 0)
			goto fail;
	}
	rc = scratch_alloc(m, NULL, NULL, 0);
	if (rc < 0)
		goto fail;
	free(refs);
	free(prefixes);
	free(pairs);
	return m;
fail:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	free(refs);
	free(prefixes);
	free(pairs);
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

/* ------------------------------------------------------------------ changes */

/* One change to a hash piece. */
struct hash_change {
	uint64_t key;
	uint32_t sub;
	bool add;
};

static int cmp_hash_change(const void *a, const void *b)
{
	const struct hash_change *x = a, *y = b;
	uint32_t kx = hash_shard(x->key), ky = hash_shard(y->key);

	return kx < ky ? -1 : kx > ky;
}

/*
 * Apply `n` changes to the pieces of `units`; `len_pairs` (prefix only) follows the
 * pairs per literal length; `*delta` the change in pairs. 0 or -ENOMEM.
 */
static int hash_change(struct hunit **units, struct hash_change *c, uint32_t n, uint32_t *len_pairs,
		       int64_t *delta)
{

	qsort(c, n, sizeof(*c), cmp_hash_change);
	for (uint32_t i = 0; i < n;) {
		uint32_t k = hash_shard(c[i].key), j = i, np = 0, old_np;
		struct hunit *u = units[k], *nu;
		struct exact_pair *p;

		while (j < n && hash_shard(c[j].key) == k)
			j++;
		old_np = u != NULL ? u->n_pairs : 0;
		p = malloc(((size_t)old_np + (j - i) + 1) * sizeof(*p));
		if (p == NULL)
			return -ENOMEM;
		for (uint64_t s = 0; u != NULL && s <= u->mask; s++)
			for (uint32_t x = 0; u->slots[s].key != 0 && x < u->slots[s].count; x++)
				p[np++] = (struct exact_pair){u->slots[s].key,
							      u->subs[u->slots[s].first + x]};
		for (uint32_t x = i; x < j; x++)
			if (c[x].add)
				p[np++] = (struct exact_pair){c[x].key, c[x].sub};
		np = pairs_normalize(p, np);
		for (uint32_t x = i; x < j; x++) {
			struct exact_pair want = {c[x].key, c[x].sub}, *hit;

			if (c[x].add)
				continue;
			hit = bsearch(&want, p, np, sizeof(*p), cmp_pair);
			if (hit != NULL) {
				memmove(hit, hit + 1, (size_t)(p + np - hit - 1) * sizeof(*p));
				np--;
			}
		}
		if (len_pairs != NULL) {
			for (uint64_t s = 0; u != NULL && s <= u->mask; s++)
				if (u->slots[s].key != 0)
					len_pairs[strnlen((const char *)&u->slots[s].key, SYM_LEN) -
						  1] -= u->slots[s].count;
			for (uint32_t x = 0; x < np; x++)
				len_pairs[strnlen((const char *)&p[x].key, SYM_LEN) - 1]++;
		}
		nu = hunit_build(p, np);
		free(p);
		if (nu == NULL && np != 0)
			return -ENOMEM;
		hunit_put(units[k]);
		units[k] = nu;
		*delta += (int64_t)np - old_np;
		i = j;
	}
	return 0;
}

/* Where an expression lives in one version: shard k, or overlay unit k - MATCHER_SHARDS. */
struct regex_change {
	const char *expr;
	uint32_t sub;
	bool add;
	uint32_t unit; /* UINT32_MAX: not compiled anywhere yet */
	uint32_t id;
	uint32_t idx; /* the caller's index in `add` */
};

static struct runit **unit_slot(struct matcher *m, uint32_t unit)
{
	return unit < MATCHER_SHARDS ? &m->shard[unit] : &m->ov[unit - MATCHER_SHARDS];
}

static void locate_expr(const struct matcher *m, struct regex_change *c)
{
	uint32_t k = expr_shard(c->expr);
	int64_t id;

	c->unit = UINT32_MAX;
	if (m->shard[k] != NULL && (id = rdb_find(m->shard[k]->rdb, c->expr)) >= 0) {
		c->unit = k;
		c->id = (uint32_t)id;
		return;
	}
	for (uint32_t i = 0; i < m->n_ov; i++)
		if ((id = rdb_find(m->ov[i]->rdb, c->expr)) >= 0) {
			c->unit = MATCHER_SHARDS + i;
			c->id = (uint32_t)id;
			return;
		}
}

static int cmp_change_unit(const void *a, const void *b)
{
	const struct regex_change *x = a, *y = b;

	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* `u` with the changes c[0..n) (all of this unit) applied: a new unit, same database. */
static struct runit *runit_change(const struct runit *u, const struct regex_change *c, uint32_t n,
				  int64_t *delta)
{
	uint32_t np = 0;
	struct id_sub *p = runit_pairs(u, n, &np);
	struct runit *nu;

	if (p == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		if (c[i].add)
			p[np++] = (struct id_sub){c[i].id, c[i].sub};
	qsort(p, np, sizeof(*p), cmp_id_sub);
	{
		uint32_t k = 0;

		for (uint32_t i = 0; i < np; i++)
			if (k == 0 || p[i].id != p[k - 1].id || p[i].sub != p[k - 1].sub)
				p[k++] = p[i];
		np = k;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct id_sub want = {c[i].id, c[i].sub}, *hit;

		if (c[i].add)
			continue;
		hit = bsearch(&want, p, np, sizeof(*p), cmp_id_sub);
		if (hit != NULL) {
			memmove(hit, hit + 1, (size_t)(p + np - hit - 1) * sizeof(*p));
			np--;
		}
	}
	*delta += (int64_t)np - u->n_pairs;
	nu = runit_new(u->rdb, p, np);
	free(p);
	return nu;
}

/* Compile the expressions new to `m` (sorted by text, several per expression when
 * several subscribers add it) into overlay units appended to `m`. */
static int overlay_add(struct matcher *m, struct regex_change *c, uint32_t n, char *err,
		       size_t errlen, uint32_t *bad, hs_database_t **fresh, uint32_t *n_fresh)
{
	uint32_t n_groups = 0, count[MATCHER_SHARDS] = {0}, n_jobs = 0;
	const char **exprs = malloc(n * sizeof(*exprs));
	uint32_t *eidx = malloc(n * sizeof(*eidx));
	struct compile_job jobs[MATCHER_SHARDS];
	struct runit **ov;
	int rc = -ENOMEM;

	if (exprs == NULL || eidx == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(c[i].expr, c[i - 1].expr) != 0) {
			exprs[n_groups] = c[i].expr;
			eidx[n_groups++] = c[i].idx;
		} else if (c[i].idx < eidx[n_groups - 1]) {
			eidx[n_groups - 1] = c[i].idx;
		}
	}
	/* usually one expression: one small database; many: one per shard, in parallel */
	if (n_groups <= OVERLAY_SPLIT) {
		jobs[n_jobs++] = (struct compile_job){.exprs = exprs, .n = n_groups};
	} else {
		const char **by = malloc(n_groups * sizeof(*by));
		uint32_t *by_idx = malloc(n_groups * sizeof(*by_idx)), first = 0;

		if (by == NULL || by_idx == NULL) {
			free(by);
			free(by_idx);
			goto out;
		}
		for (uint32_t g = 0; g < n_groups; g++)
			count[expr_shard(exprs[g])]++;
		for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
			uint32_t at = first;

			for (uint32_t g = 0; g < n_groups; g++)
				if (expr_shard(exprs[g]) == k) {
					by[at] = exprs[g];
					by_idx[at++] = eidx[g];
				}
			if (count[k] != 0)
				jobs[n_jobs++] =
				    (struct compile_job){.exprs = by + first, .n = count[k]};
			first += count[k];
		}
		memcpy(exprs, by, n_groups * sizeof(*exprs));
		memcpy(eidx, by_idx, n_groups * sizeof(*eidx));
		free(by);
		free(by_idx);
		/* the jobs point into `exprs` at the same offsets */
		first = 0;
		for (uint32_t j = 0; j < n_jobs; j++) {
			jobs[j].exprs = exprs + first;
			first += jobs[j].n;
		}
	}
	compile_parallel(jobs, n_jobs, false);
	rc = 0;
	for (uint32_t j = 0, first = 0; j < n_jobs; first += jobs[j].n, j++) {
		if (jobs[j].out.rc == -EINVAL) {
			first_bad(jobs[j].exprs, eidx + first, jobs[j].n, &jobs[j].out, err, errlen,
				  bad);
			rc = -EINVAL;
		} else if (jobs[j].out.rc != 0 && rc == 0) {
			snprintf(err, errlen, "%s", jobs[j].out.err);
			rc = jobs[j].out.rc;
		}
	}
	ov = rc == 0 ? realloc(m->ov, (m->n_ov + n_jobs) * sizeof(*m->ov)) : NULL;
	if (rc == 0 && ov == NULL)
		rc = -ENOMEM;
	for (uint32_t j = 0; rc == 0 && j < n_jobs; j++) {
		struct regex_db *rdb = jobs[j].out.rdb;
		struct id_sub *p = malloc(n * sizeof(*p));
		uint32_t np = 0;

		m->ov = ov;
		if (p == NULL) {
			rc = -ENOMEM;
			break;
		}
		for (uint32_t i = 0; i < n; i++) {
			int64_t id = rdb_find(rdb, c[i].expr);

			if (id >= 0)
				p[np++] = (struct id_sub){(uint32_t)id, c[i].sub};
		}
		qsort(p, np, sizeof(*p), cmp_id_sub);
		{
			uint32_t k = 0;

			for (uint32_t i = 0; i < np; i++)
				if (k == 0 || p[i].id != p[k - 1].id || p[i].sub != p[k - 1].sub)
					p[k++] = p[i];
			np = k;
		}
		m->ov[m->n_ov] = runit_new(rdb, p, np);
		free(p);
		if (m->ov[m->n_ov] == NULL) {
			rc = -ENOMEM;
			break;
		}
		fresh[(*n_fresh)++] = rdb->db;
		m->n_ov++;
		m->n_regex += np;
	}
	for (uint32_t j = 0; j < n_jobs; j++)
		rdb_put(jobs[j].out.rdb);
out:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	free(exprs);
	free(eidx);
	return rc;
}

static int cmp_change_expr(const void *a, const void *b)
{
	const struct regex_change *x = a, *y = b;
	int c = strcmp(x->expr, y->expr);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Drop overlay units no expression of which has a subscriber left. */
static void overlay_trim(struct matcher *m)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < m->n_ov; i++) {
		if (m->ov[i]->n_live == 0)
			runit_put(m->ov[i]);
		else
			m->ov[k++] = m->ov[i];
	}
	m->n_ov = k;
}

static int regex_change(struct matcher *m, struct regex_change *c, uint32_t n, char *err,
			size_t errlen, uint32_t *bad, hs_database_t **fresh, uint32_t *n_fresh)
{
	uint32_t n_known = 0, n_new = 0;
	int64_t delta = 0;
	int rc;

	for (uint32_t i = 0; i < n; i++)
		locate_expr(m, &c[i]);
	/* by unit: expressions compiled somewhere first, the new ones (UINT32_MAX) last */
	qsort(c, n, sizeof(*c), cmp_change_unit);
	while (n_known < n && c[n_known].unit != UINT32_MAX)
		n_known++;
	for (uint32_t i = 0; i < n_known;) {
		uint32_t u = c[i].unit, j = i;
		struct runit **slot = unit_slot(m, u), *nu;

		while (j < n_known && c[j].unit == u)
			j++;
		nu = runit_change(*slot, c + i, j - i, &delta);
		if (nu == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		runit_put(*slot);
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
	overlay_trim(m);
	return 0;
}

struct matcher *matcher_change(struct matcher *m, const struct matcher_pattern *add, uint32_t n_add,
			       const struct matcher_pattern *del, uint32_t n_del, char *err,
			       size_t errlen, uint32_t *bad)
{
	uint32_t n = n_add + n_del, ne = 0, np = 0, nr = 0, dummy_bad;
	struct hash_change *ec = malloc((n ? n : 1) * sizeof(*ec));
	struct hash_change *pc = malloc((n ? n : 1) * sizeof(*pc));
	struct regex_change *rcg = malloc((n ? n : 1) * sizeof(*rcg));
	char dummy_err[1];
	struct matcher *nm = NULL;
	hs_database_t *fresh[MATCHER_SHARDS];
	uint32_t n_fresh = 0;
	int64_t d;
	int rc = -ENOMEM;

	if (bad == NULL)
		bad = &dummy_bad;
	if (err == NULL || errlen == 0) {
		err = dummy_err;
		errlen = sizeof(dummy_err);
	}
	*bad = UINT32_MAX;
	err[0] = '\0';
	if (ec == NULL || pc == NULL || rcg == NULL || (nm = clone(m)) == NULL)
		goto fail;
	for (uint32_t i = 0; i < n; i++) {
		const struct matcher_pattern *p = i < n_add ? &add[i] : &del[i - n_add];
		uint64_t key;
		unsigned int len;

		if (rc_pattern_exact_key(p->expr, &key))
			ec[ne++] = (struct hash_change){key, p->sub, i < n_add};
		else if (rc_pattern_prefix_key(p->expr, &key, &len))
			pc[np++] = (struct hash_change){key, p->sub, i < n_add};
		else
			rcg[nr++] = (struct regex_change){
			    .expr = p->expr, .sub = p->sub, .add = i < n_add, .idx = i};
	}
	/* regexes first: the one step that can refuse a change (an invalid expression) */
	if (nr > 0) {
		rc = regex_change(nm, rcg, nr, err, errlen, bad, fresh, &n_fresh);
		if (rc < 0)
			goto fail;
	}
	d = 0;
	rc = hash_change(nm->exact, ec, ne, NULL, &d);
	if (rc < 0)
		goto fail;
	nm->n_exact = (uint32_t)((int64_t)nm->n_exact + d);
	d = 0;
	rc = hash_change(nm->prefix, pc, np, nm->prefix_len_pairs, &d);
	if (rc < 0)
		goto fail;
	nm->n_prefix = (uint32_t)((int64_t)nm->n_prefix + d);
	/* new databases: the scratch grows to fit them (a copy of the last one, grown) */
	if (n_fresh > 0 && (rc = scratch_alloc(nm, m->scratch, fresh, n_fresh)) < 0)
		goto fail;
	/* a change touching a shard whose recompile failed gives it another chance */
	for (uint32_t i = 0; i < nr; i++) {
		uint32_t k = expr_shard(rcg[i].expr);

		if (nm->job[k] != NULL && fold_state(nm->job[k]) == FOLD_FAILED) {
			fold_put(nm->job[k]);
			nm->job[k] = NULL;
		}
	}
	fold_start(nm);
	free(ec);
	free(pc);
	free(rcg);
	return nm;
fail:
	if (rc == -ENOMEM && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	matcher_free(nm);
	free(ec);
	free(pc);
	free(rcg);
	errno = -rc;
	return NULL;
}

/* ------------------------------------------------------------------ folds */

/* The expressions shard k should hold in `m`: its own with a subscriber, plus the
 * overlay's that hash to k. Sorted copies; NULL with *n = 0 when there are none. */
static char **shard_target(const struct matcher *m, uint32_t k, uint32_t *n, bool *dirty)
{
	const struct runit *s = m->shard[k];
	uint32_t cap = 0, c = 0;
	char **v;

	*dirty = s != NULL && s->n_live != s->rdb->n;
	cap = s != NULL ? s->n_live : 0;
	for (uint32_t i = 0; i < m->n_ov; i++)
		for (uint32_t id = 0; id < m->ov[i]->rdb->n; id++)
			if (m->ov[i]->count[id] != 0 && expr_shard(m->ov[i]->rdb->exprs[id]) == k) {
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
			if (m->ov[i]->count[id] != 0 && expr_shard(m->ov[i]->rdb->exprs[id]) == k &&
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

/* Start the recompile of every shard of `m` that differs from what it should hold. */
static void fold_start(struct matcher *m)
{
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		struct fold_job *j;
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
static const struct runit *current_of(const struct matcher *m, const char *expr, uint32_t *id)
{
	struct regex_change c = {.expr = expr};

	locate_expr(m, &c);
	if (c.unit == UINT32_MAX)
		return NULL;
	*id = c.id;
	return c.unit < MATCHER_SHARDS ? m->shard[c.unit] : m->ov[c.unit - MATCHER_SHARDS];
}

/*
 * Swap the finished recompile of shard k into `nm`: the new database with, for each of
 * its expressions, the subscribers `nm` gives it now; the overlay loses those
 * expressions. Refused (false, nothing changed) when an expression of the old shard
 * that still has subscribers is missing from the new database (it was masked when the
 * recompile started and used again since): the next recompile takes it.
 */
static int fold_shard(struct matcher *nm, uint32_t k, struct regex_db *rdb, bool *folded)
{
	const struct runit *old = nm->shard[k];
	struct id_sub *p = NULL;
	uint32_t np = 0, cap = 0;
	struct runit *nu;

	*folded = false;
	for (uint32_t id = 0; old != NULL && id < old->rdb->n; id++)
		if (old->count[id] != 0 && (rdb == NULL || rdb_find(rdb, old->rdb->exprs[id]) < 0))
			return 0;
	if (rdb == NULL) {
		/* the shard's expressions all went unused: no database any more */
		runit_put(nm->shard[k]);
		nm->shard[k] = NULL;
		*folded = true;
		return 0;
	}
	for (uint32_t id = 0; id < rdb->n; id++) {
		uint32_t at;
		const struct runit *u = current_of(nm, rdb->exprs[id], &at);

		cap += u != NULL ? u->count[at] : 0;
	}
	p = malloc((cap ? cap : 1) * sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	for (uint32_t id = 0; id < rdb->n; id++) {
		uint32_t at;
		const struct runit *u = current_of(nm, rdb->exprs[id], &at);

		for (uint32_t j = 0; u != NULL && j < u->count[at]; j++)
			p[np++] = (struct id_sub){id, u->subs[u->first[at] + j]};
	}
	nu = runit_new(rdb, p, np);
	free(p);
	if (nu == NULL)
		return -ENOMEM;
	/* the overlay's copies of these expressions lose their subscribers */
	for (uint32_t i = 0; i < nm->n_ov; i++) {
		struct regex_change *c = NULL;
		uint32_t nc = 0;
		const struct runit *u = nm->ov[i];
		struct runit *cu;
		int64_t delta = 0;

		for (uint32_t id = 0; id < u->rdb->n; id++)
			nc += u->count[id] != 0 && rdb_find(rdb, u->rdb->exprs[id]) >= 0
				  ? u->count[id]
				  : 0;
		if (nc == 0)
			continue;
		c = malloc(nc * sizeof(*c));
		if (c == NULL) {
			runit_put(nu);
			return -ENOMEM;
		}
		nc = 0;
		for (uint32_t id = 0; id < u->rdb->n; id++)
			if (u->count[id] != 0 && rdb_find(rdb, u->rdb->exprs[id]) >= 0)
				for (uint32_t j = 0; j < u->count[id]; j++)
					c[nc++] = (struct regex_change){
					    .sub = u->subs[u->first[id] + j], .id = id};
		cu = runit_change(u, c, nc, &delta);
		free(c);
		if (cu == NULL) {
			runit_put(nu);
			return -ENOMEM;
		}
		runit_put(nm->ov[i]);
		nm->ov[i] = cu;
	}
	runit_put(nm->shard[k]);
	nm->shard[k] = nu;
	overlay_trim(nm);
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
		struct fold_job *j = m->job[k];
		bool folded = false;

		if (j == NULL || fold_state(j) != FOLD_DONE)
			continue;
		if (nm == NULL && (nm = clone(m)) == NULL)
			goto nomem;
		if (fold_shard(nm, k, j->out.rdb, &folded) < 0)
			goto nomem;
		if (folded && j->out.rdb != NULL)
			fresh[n_fresh++] = j->out.rdb->db;
		/* folded or refused, this recompile is spent: another starts below if needed */
		fold_put(nm->job[k]);
		nm->job[k] = NULL;
		fold_put(m->job[k]);
		m->job[k] = NULL;
		any = true;
	}
	if (!any) {
		errno = 0;
		return NULL;
	}
	if (n_fresh > 0 && scratch_alloc(nm, m->scratch, fresh, n_fresh) < 0)
		goto nomem;
	fold_start(nm);
	return nm;
nomem:
	matcher_free(nm);
	errno = ENOMEM;
	return NULL;
}

/* ------------------------------------------------------------------ matching */

int matcher_check(const char *expr, char *err, size_t errlen)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;

	if (hs_expression_info(expr, PATTERN_HS_FLAGS, &info, &cerr) != HS_SUCCESS) {
		snprintf(err, errlen, "%s", cerr != NULL ? cerr->message : "invalid expression");
		hs_free_compile_error(cerr);
		return -EINVAL;
	}
	free(info); /* allocated with the default allocator, malloc */
	return 0;
}

static inline void set_subs(uint64_t *bits, const uint32_t *subs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		bits[subs[i] >> 6] |= 1ull << (subs[i] & 63);
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *arg)
{
	const struct runit *u = ((void **)arg)[0];
	uint64_t *bits = ((void **)arg)[1];

	(void)from;
	(void)to;
	(void)flags;
	/* an expression without subscribers (masked) sets nothing */
	set_subs(bits, u->subs + u->first[id], u->count[id]);
	return 0; /* keep scanning: other expressions may still match */
}

static void exact_match(const struct matcher *m, const char *sym, uint32_t len, uint64_t *bits)
{
	char padded[SYM_LEN];
	const struct exact_slot *e;
	const struct hunit *u;
	uint64_t key;

	if (len == 0 || len > SYM_LEN)
		return;
	memset(padded, ' ', SYM_LEN);
	memcpy(padded, sym, len);
	memcpy(&key, padded, SYM_LEN);
	u = m->exact[hash_shard(key)];
	if (u != NULL && (e = slot_find(u, key)) != NULL)
		set_subs(bits, u->subs + e->first, e->count);
}

/* `^LIT` matches every symbol starting with LIT: probe each prefix length in use. */
static void prefix_match(const struct matcher *m, const char *sym, uint32_t len, uint64_t *bits)
{
	for (uint32_t l = 1; l <= SYM_LEN && l <= len; l++) {
		char key_bytes[SYM_LEN] = {0};
		const struct exact_slot *e;
		const struct hunit *u;
		uint64_t key;

		if (m->prefix_len_pairs[l - 1] == 0)
			continue;
		memcpy(key_bytes, sym, l);
		memcpy(&key, key_bytes, SYM_LEN);
		u = m->prefix[hash_shard(key)];
		if (u != NULL && (e = slot_find(u, key)) != NULL)
			set_subs(bits, u->subs + e->first, e->count);
	}
}

void matcher_match(const struct matcher *m, uint32_t scratch, const char *sym, uint32_t len,
		   uint64_t *bits)
{
	hs_scratch_t *s;

	if (m->n_exact > 0) {
		exact_match(m, sym, len, bits);
		/* PCRE/Hyperscan `$` also matches before a final newline: keep the hash
		 * equivalent to the regex it stands for. */
		if (len > 1 && sym[len - 1] == '\n')
			exact_match(m, sym, len - 1, bits);
	}
	if (m->n_prefix > 0)
		prefix_match(m, sym, len, bits);
	if (m->scratch == NULL)
		return;
	s = m->scratch->s[scratch == MATCHER_SCRATCH_BUILDER ? m->n_scratch : scratch];
	for (uint32_t k = 0; k < MATCHER_SHARDS + m->n_ov; k++) {
		const struct runit *u =
		    k < MATCHER_SHARDS ? m->shard[k] : m->ov[k - MATCHER_SHARDS];
		void *arg[2] = {(void *)u, bits};

		if (u == NULL || u->n_live == 0)
			continue;
		/* an empty symbol is still scanned: `^` or `.*` style rules match it */
		hs_scan(u->rdb->db, len ? sym : "", len, 0, s, on_match, arg);
	}
}

uint32_t matcher_n_exact(const struct matcher *m)
{
	return m->n_exact;
}

uint32_t matcher_n_prefix(const struct matcher *m)
{
	return m->n_prefix;
}

uint32_t matcher_n_regex(const struct matcher *m)
{
	return m->n_regex;
}

bool matcher_shares_db(const struct matcher *a, const struct matcher *b)
{
	return a != NULL && b != NULL && b->n_regex > 0 && matcher_compiled_shards(b, a) == 0;
}

uint32_t matcher_compiled_shards(const struct matcher *m, const struct matcher *prev)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < MATCHER_SHARDS + m->n_ov; k++) {
		const struct runit *u =
		    k < MATCHER_SHARDS ? m->shard[k] : m->ov[k - MATCHER_SHARDS];
		bool known = false;

		if (u == NULL)
			continue;
		for (uint32_t j = 0; prev != NULL && j < MATCHER_SHARDS + prev->n_ov && !known;
		     j++) {
			const struct runit *p =
			    j < MATCHER_SHARDS ? prev->shard[j] : prev->ov[j - MATCHER_SHARDS];

			known = p != NULL && p->rdb == u->rdb;
		}
		n += !known;
	}
	return n;
}
