/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscription pattern matching (docs/protocol.md §3.5), the only dataplane file that includes
 * <hs/hs.h>.
 *
 * Two engines behind one call:
 *  - exact literals (`^AAPL$`, `^BRK\.A$`): an open-addressing hash keyed by the
 *    symbol space-padded to 8 bytes, the same u64 as itch50_stock_key() on the wire.
 *    They never reach Hyperscan: at 100 000 rules a regex compile would take minutes
 *    (docs/performance.md, measured costs: 10 000 anchored regexes ~3.7 s) while the hash builds in
 * milliseconds.
 *  - anchored literal prefixes (`^MS`, `^BRK\.`): a second hash keyed by the prefix
 *    zero padded to 8 bytes (the padding encodes the length); a symbol probes it once
 *    per prefix length in use. Measured here (perf/control-latency): 1 000 prefixes
 *    compiled by Hyperscan took seconds, the hash takes well under a millisecond.
 *  - everything else: Hyperscan block-mode databases. Identical expressions of
 *    different subscribers are compiled once and fan out to their subscriber list on a
 *    match, so N subscribers sharing "^M[A-Z]" cost one expression. From
 *    MATCHER_SHARD_MIN distinct expressions on, they are spread by a hash of their
 *    text over MATCHER_SHARDS databases, and a table change recompiles only the shards
 *    whose expression set changed: one added regex costs 1/16 of a full compile. The
 *    price is one hs_scan per shard (~20 ns floor each) when a symbol is (re)matched,
 *    which happens once per new binding or rule-set change, never per message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "matcher.h"

#include "../common/hash.h"
#include "../common/pattern.h"
#include "../common/routing_config.h"

#define SYM_LEN 8

struct exact_slot {
	uint64_t key;	/* padded symbol; 0 = empty slot (a padded symbol never is) */
	uint32_t first; /* into matcher.exact_subs */
	uint32_t count;
};

#define MATCHER_SHARDS	  16
#define MATCHER_SHARD_MIN 64 /* fewer distinct regexes: one database */

struct regex_group {
	uint32_t first; /* into matcher.regex_subs */
	uint32_t count;
};

/*
 * A compiled Hyperscan database and its distinct expressions (id k = exprs[k]), shared
 * by consecutive matchers of a feed while the set of expressions stays the same: a table
 * change that only touches exact symbols, types or subscribers pays no compile.
 * References are taken and dropped only off the polling cores (build and free).
 */
struct regex_db {
	hs_database_t *db;
	uint32_t refs;
	uint32_t n;
	char **exprs;	  /* [n], copies */
	uint32_t *sorted; /* ids ordered by expression, for set comparison */
};

/* One compiled shard as used by one matcher: Hyperscan id -> this matcher's group. */
struct regex_shard {
	struct regex_db *rdb; /* NULL: no expression hashed here */
	uint32_t *group_of;   /* [rdb->n] */
};

struct matcher {
	/* exact literals */
	struct exact_slot *slots;
	uint64_t slot_mask;
	uint32_t *exact_subs;
	uint32_t n_exact;
	/* anchored prefixes: same layout, keys zero padded */
	struct exact_slot *pslots;
	uint64_t pslot_mask;
	uint32_t *prefix_subs;
	uint32_t n_prefix;
	uint8_t prefix_lens; /* bit L-1 set: some prefix has length L */
	/* Hyperscan: shards of distinct expressions (groups) */
	uint32_t n_shards;
	struct regex_shard *shards;
	struct regex_group *groups;
	uint32_t *regex_subs;
	uint32_t n_regex;
};

struct matcher_scratch {
	hs_scratch_t *hs; /* NULL when the matcher has no regex */
};

static inline uint64_t slot_hash(uint64_t key)
{
	key ^= key >> 29;
	key *= 0x9e3779b97f4a7c15ull;
	return key ^ (key >> 32);
}

static const struct exact_slot *slot_find(const struct exact_slot *slots, uint64_t mask,
					  uint64_t key)
{
	uint64_t i = slot_hash(key) & mask;

	for (;; i = (i + 1) & mask) {
		const struct exact_slot *e = &slots[i];

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

/* Sorted (key, sub) pairs -> hash of key -> distinct subscriber list. */
static int slots_build(struct exact_slot **slotsp, uint64_t *maskp, uint32_t **subsp,
		       struct exact_pair *pairs, uint32_t n)
{
	uint32_t n_keys = 0, n_subs = 0;
	uint64_t cap = 16, mask;
	struct exact_slot *slots;
	uint32_t *subs;

	qsort(pairs, n, sizeof(*pairs), cmp_pair);
	for (uint32_t i = 0; i < n; i++)
		n_keys += i == 0 || pairs[i].key != pairs[i - 1].key;
	/* load factor <= 1/2 keeps linear probing short */
	while (cap < 2ull * n_keys)
		cap <<= 1;
	*slotsp = slots = calloc(cap, sizeof(*slots));
	*subsp = subs = malloc((n ? n : 1) * sizeof(*subs));
	if (slots == NULL || subs == NULL)
		return -ENOMEM;
	*maskp = mask = cap - 1;

	for (uint32_t i = 0; i < n;) {
		uint64_t key = pairs[i].key;
		uint64_t h = slot_hash(key) & mask;
		struct exact_slot *e;

		while (slots[h].key != 0)
			h = (h + 1) & mask;
		e = &slots[h];
		e->key = key;
		e->first = n_subs;
		for (; i < n && pairs[i].key == key; i++) {
			if (n_subs > e->first && subs[n_subs - 1] == pairs[i].sub)
				continue; /* same subscriber wrote the literal twice */
			subs[n_subs++] = pairs[i].sub;
		}
		e->count = n_subs - e->first;
	}
	return 0;
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

/* A distinct expression: its first use in the caller's order, its refs run. */
struct regex_order {
	uint32_t idx;	    /* smallest caller pattern index using the expression */
	uint32_t ref_first; /* into the sorted refs */
};

static int cmp_order(const void *a, const void *b)
{
	const struct regex_order *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const char *const *sort_exprs; /* qsort context: build is single threaded */

static int cmp_expr_id(const void *a, const void *b)
{
	return strcmp(sort_exprs[*(const uint32_t *)a], sort_exprs[*(const uint32_t *)b]);
}

static void rdb_put(struct regex_db *r)
{
	if (r == NULL || --r->refs != 0)
		return;
	hs_free_database(r->db);
	for (uint32_t i = 0; i < r->n; i++)
		free(r->exprs[i]);
	free(r->exprs);
	free(r->sorted);
	free(r);
}

/* Wrap a freshly compiled database with copies of its expressions. */
static struct regex_db *rdb_new(hs_database_t *db, const char **exprs, uint32_t n)
{
	struct regex_db *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->exprs = calloc(n, sizeof(*r->exprs))) == NULL ||
	    (r->sorted = malloc(n * sizeof(*r->sorted))) == NULL) {
		if (r != NULL)
			free(r->exprs);
		free(r);
		return NULL;
	}
	r->db = db;
	r->refs = 1;
	r->n = n;
	for (uint32_t i = 0; i < n; i++) {
		r->sorted[i] = i;
		if ((r->exprs[i] = strdup(exprs[i])) == NULL) {
			r->db = NULL;
			rdb_put(r);
			return NULL;
		}
	}
	sort_exprs = (const char *const *)r->exprs;
	qsort(r->sorted, n, sizeof(*r->sorted), cmp_expr_id);
	return r;
}

/*
 * When `prev` holds exactly the expressions `exprs[ids[0..n)]` (in any order), share
 * it: sh->group_of maps each of prev's Hyperscan ids to the group (ids[i]) with the
 * same expression. Returns true when shared.
 */
static bool rdb_reuse(struct regex_shard *sh, struct regex_db *prev, const char **exprs,
		      const uint32_t *ids, uint32_t n)
{
	const char **mine_exprs;
	uint32_t *mine;
	bool same = true;

	if (prev == NULL || prev->n != n || n == 0)
		return false;
	mine = malloc(n * sizeof(*mine));
	mine_exprs = malloc(n * sizeof(*mine_exprs));
	sh->group_of = malloc(n * sizeof(*sh->group_of));
	if (mine == NULL || mine_exprs == NULL || sh->group_of == NULL) {
		same = false;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		mine[i] = i;
		mine_exprs[i] = exprs[ids[i]];
	}
	sort_exprs = mine_exprs;
	qsort(mine, n, sizeof(*mine), cmp_expr_id);
	for (uint32_t i = 0; i < n && same; i++) {
		same = strcmp(mine_exprs[mine[i]], prev->exprs[prev->sorted[i]]) == 0;
		sh->group_of[prev->sorted[i]] = ids[mine[i]];
	}
	if (same) {
		prev->refs++;
		sh->rdb = prev;
	}
out:
	if (!same) {
		free(sh->group_of);
		sh->group_of = NULL;
	}
	free(mine_exprs);
	free(mine);
	return same;
}

static uint32_t expr_shard(const char *expr, uint32_t n_shards)
{
	return (uint32_t)(hash_str(expr) % n_shards);
}

/*
 * Compile (or share from `prev`) shard `sh` holding groups ids[0..n). On an invalid
 * expression `*bad_group` is its group. 0 or -errno.
 */
static int shard_build(struct regex_shard *sh, const struct regex_shard *prev, const char **exprs,
		       const uint32_t *ids, uint32_t n, char *err, size_t errlen,
		       uint32_t *bad_group)
{
	const char **mine = NULL;
	unsigned int *flags = NULL, *hs_ids = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;
	int rc = -ENOMEM;

	if (n == 0)
		return 0;
	if (rdb_reuse(sh, prev != NULL ? prev->rdb : NULL, exprs, ids, n))
		return 0;
	mine = malloc(n * sizeof(*mine));
	flags = malloc(n * sizeof(*flags));
	hs_ids = malloc(n * sizeof(*hs_ids));
	sh->group_of = malloc(n * sizeof(*sh->group_of));
	if (mine == NULL || flags == NULL || hs_ids == NULL || sh->group_of == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		mine[i] = exprs[ids[i]];
		flags[i] = PATTERN_HS_FLAGS;
		hs_ids[i] = i;
		sh->group_of[i] = ids[i];
	}
	if (hs_compile_multi(mine, flags, hs_ids, n, HS_MODE_BLOCK, NULL, &db, &cerr) !=
	    HS_SUCCESS) {
		if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < n)
			*bad_group = ids[cerr->expression];
		snprintf(err, errlen, "%s", cerr != NULL ? cerr->message : "compile failed");
		hs_free_compile_error(cerr);
		rc = -EINVAL;
		goto out;
	}
	sh->rdb = rdb_new(db, mine, n);
	if (sh->rdb == NULL) {
		hs_free_database(db);
		goto out;
	}
	rc = 0;
out:
	free(hs_ids);
	free(flags);
	free(mine);
	return rc;
}

static int shards_build(struct matcher *m, const struct matcher *prev, const char **exprs,
			uint32_t n_groups, const struct regex_order *order, char *err,
			size_t errlen, uint32_t *bad)
{
	uint32_t *ids = malloc(n_groups * sizeof(*ids)), *count = NULL, *first = NULL;
	uint32_t bad_group = UINT32_MAX;
	int rc = -ENOMEM;

	m->n_shards = n_groups >= MATCHER_SHARD_MIN ? MATCHER_SHARDS : 1;
	m->shards = calloc(m->n_shards, sizeof(*m->shards));
	count = calloc(m->n_shards, sizeof(*count));
	first = calloc(m->n_shards, sizeof(*first));
	if (ids == NULL || m->shards == NULL || count == NULL || first == NULL)
		goto out;
	/* groups by shard, each shard in the caller's order (Hyperscan reports the first
	 * invalid expression it meets) */
	for (uint32_t g = 0; g < n_groups; g++)
		count[expr_shard(exprs[g], m->n_shards)]++;
	for (uint32_t k = 1; k < m->n_shards; k++)
		first[k] = first[k - 1] + count[k - 1];
	memset(count, 0, m->n_shards * sizeof(*count));
	for (uint32_t g = 0; g < n_groups; g++) {
		uint32_t k = expr_shard(exprs[g], m->n_shards);

		ids[first[k] + count[k]++] = g;
	}
	rc = 0;
	for (uint32_t k = 0; k < m->n_shards; k++) {
		const struct regex_shard *p =
		    prev != NULL && prev->n_shards == m->n_shards ? &prev->shards[k] : NULL;
		uint32_t bg = UINT32_MAX;
		char shard_err[256] = "";
		int r = shard_build(&m->shards[k], p, exprs, ids + first[k], count[k], shard_err,
				    sizeof(shard_err), &bg);

		/* report the invalid expression the caller wrote first, with its message */
		if (r == -EINVAL &&
		    (rc == 0 || (bg != UINT32_MAX && (bad_group == UINT32_MAX ||
						      order[bg].idx < order[bad_group].idx)))) {
			bad_group = bg;
			snprintf(err, errlen, "%s", shard_err);
		}
		if (r != 0 && rc == 0)
			rc = r;
		if (r == -ENOMEM)
			break;
	}
	if (bad_group != UINT32_MAX)
		*bad = order[bad_group].idx;
out:
	free(first);
	free(count);
	free(ids);
	return rc;
}

static int regex_build(struct matcher *m, struct regex_ref *refs, uint32_t n,
		       const struct matcher *prev, char *err, size_t errlen, uint32_t *bad)
{
	const char **exprs = NULL;
	struct regex_order *order = NULL;
	uint32_t n_groups = 0, n_subs = 0;
	int rc = -ENOMEM;

	/* equal expressions side by side, each run ordered by subscriber */
	qsort(refs, n, sizeof(*refs), cmp_ref);
	for (uint32_t i = 0; i < n; i++)
		n_groups += i == 0 || strcmp(refs[i].expr, refs[i - 1].expr) != 0;

	m->groups = calloc(n_groups, sizeof(*m->groups));
	m->regex_subs = malloc(n * sizeof(*m->regex_subs));
	exprs = malloc(n_groups * sizeof(*exprs));
	order = malloc(n_groups * sizeof(*order));
	if (m->groups == NULL || m->regex_subs == NULL || exprs == NULL || order == NULL)
		goto free_tmp;

	for (uint32_t i = 0, g = 0; i < n; g++) {
		const char *expr = refs[i].expr;

		order[g].idx = refs[i].idx;
		order[g].ref_first = i;
		for (; i < n && strcmp(refs[i].expr, expr) == 0; i++)
			if (refs[i].idx < order[g].idx)
				order[g].idx = refs[i].idx;
	}
	/* groups numbered in the caller's order: errors name the first bad pattern */
	qsort(order, n_groups, sizeof(*order), cmp_order);
	for (uint32_t g = 0; g < n_groups; g++) {
		uint32_t i = order[g].ref_first;
		const char *expr = refs[i].expr;

		exprs[g] = expr;
		m->groups[g].first = n_subs;
		for (; i < n && strcmp(refs[i].expr, expr) == 0; i++) {
			if (n_subs > m->groups[g].first && m->regex_subs[n_subs - 1] == refs[i].sub)
				continue; /* one subscriber wrote the expression twice */
			m->regex_subs[n_subs++] = refs[i].sub;
		}
		m->groups[g].count = n_subs - m->groups[g].first;
	}

	rc = shards_build(m, prev, exprs, n_groups, order, err, errlen, bad);
free_tmp:
	free(order);
	free(exprs);
	return rc;
}

struct matcher *matcher_build(const struct matcher_pattern *pats, uint32_t n, char *err,
			      size_t errlen, uint32_t *bad)
{
	return matcher_build_from(pats, n, NULL, err, errlen, bad);
}

struct matcher *matcher_build_from(const struct matcher_pattern *pats, uint32_t n,
				   const struct matcher *prev, char *err, size_t errlen,
				   uint32_t *bad)
{
	struct exact_pair *pairs = NULL, *prefixes = NULL;
	struct regex_ref *refs = NULL;
	uint32_t n_pairs = 0, n_prefixes = 0, n_refs = 0;
	struct matcher *m;
	int rc = -ENOMEM;

	if (bad != NULL)
		*bad = UINT32_MAX;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	m = calloc(1, sizeof(*m));
	pairs = malloc((n ? n : 1) * sizeof(*pairs));
	prefixes = malloc((n ? n : 1) * sizeof(*prefixes));
	refs = malloc((n ? n : 1) * sizeof(*refs));
	if (m == NULL || pairs == NULL || prefixes == NULL || refs == NULL)
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
			m->prefix_lens |= (uint8_t)(1u << (len - 1));
		} else {
			refs[n_refs].expr = pats[i].expr;
			refs[n_refs].sub = pats[i].sub;
			refs[n_refs++].idx = i;
		}
	}
	m->n_exact = n_pairs;
	m->n_prefix = n_prefixes;
	m->n_regex = n_refs;

	rc = slots_build(&m->slots, &m->slot_mask, &m->exact_subs, pairs, n_pairs);
	if (rc < 0)
		goto fail;
	rc = slots_build(&m->pslots, &m->pslot_mask, &m->prefix_subs, prefixes, n_prefixes);
	if (rc < 0)
		goto fail;
	if (n_refs > 0) {
		char dummy_err[1];
		uint32_t dummy_bad;

		rc = regex_build(m, refs, n_refs, prev, err != NULL ? err : dummy_err,
				 err != NULL ? errlen : sizeof(dummy_err),
				 bad != NULL ? bad : &dummy_bad);
		if (rc < 0)
			goto fail;
	}
	free(refs);
	free(prefixes);
	free(pairs);
	return m;
fail:
	if (rc == -ENOMEM && err != NULL && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	free(refs);
	free(prefixes);
	free(pairs);
	matcher_free(m);
	errno = -rc;
	return NULL;
}

void matcher_free(struct matcher *m)
{
	if (m == NULL)
		return;
	for (uint32_t k = 0; m->shards != NULL && k < m->n_shards; k++) {
		rdb_put(m->shards[k].rdb);
		free(m->shards[k].group_of);
	}
	free(m->shards);
	free(m->regex_subs);
	free(m->groups);
	free(m->exact_subs);
	free(m->slots);
	free(m->prefix_subs);
	free(m->pslots);
	free(m);
}

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

struct matcher_scratch *matcher_scratch_alloc(const struct matcher *m)
{
	struct matcher_scratch *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	/* one scratch grown to fit every shard's database */
	for (uint32_t k = 0; k < m->n_shards; k++)
		if (m->shards[k].rdb != NULL &&
		    hs_alloc_scratch(m->shards[k].rdb->db, &s->hs) != HS_SUCCESS) {
			hs_free_scratch(s->hs);
			free(s);
			errno = ENOMEM;
			return NULL;
		}
	return s;
}

void matcher_scratch_free(struct matcher_scratch *s)
{
	if (s == NULL)
		return;
	hs_free_scratch(s->hs);
	free(s);
}

static inline void set_subs(uint64_t *bits, const uint32_t *subs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		bits[subs[i] >> 6] |= 1ull << (subs[i] & 63);
}

struct scan_ctx {
	const struct matcher *m;
	const struct regex_shard *sh;
	uint64_t *bits;
};

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *arg)
{
	const struct scan_ctx *c = arg;
	const struct regex_group *g = &c->m->groups[c->sh->group_of[id]];

	(void)from;
	(void)to;
	(void)flags;
	set_subs(c->bits, c->m->regex_subs + g->first, g->count);
	return 0; /* keep scanning: other expressions may still match */
}

static void exact_match(const struct matcher *m, const char *sym, uint32_t len, uint64_t *bits)
{
	char padded[SYM_LEN];
	const struct exact_slot *e;
	uint64_t key;

	if (len == 0 || len > SYM_LEN)
		return;
	memset(padded, ' ', SYM_LEN);
	memcpy(padded, sym, len);
	memcpy(&key, padded, SYM_LEN);
	e = slot_find(m->slots, m->slot_mask, key);
	if (e != NULL)
		set_subs(bits, m->exact_subs + e->first, e->count);
}

/* `^LIT` matches every symbol starting with LIT: probe each prefix length in use. */
static void prefix_match(const struct matcher *m, const char *sym, uint32_t len, uint64_t *bits)
{
	for (uint32_t l = 1; l <= SYM_LEN && l <= len; l++) {
		char key_bytes[SYM_LEN] = {0};
		const struct exact_slot *e;
		uint64_t key;

		if (!(m->prefix_lens & (1u << (l - 1))))
			continue;
		memcpy(key_bytes, sym, l);
		memcpy(&key, key_bytes, SYM_LEN);
		e = slot_find(m->pslots, m->pslot_mask, key);
		if (e != NULL)
			set_subs(bits, m->prefix_subs + e->first, e->count);
	}
}

void matcher_match(const struct matcher *m, struct matcher_scratch *s, const char *sym,
		   uint32_t len, uint64_t *bits)
{
	if (m->n_exact > 0) {
		exact_match(m, sym, len, bits);
		/* PCRE/Hyperscan `$` also matches before a final newline: keep the hash
		 * equivalent to the regex it stands for. */
		if (len > 1 && sym[len - 1] == '\n')
			exact_match(m, sym, len - 1, bits);
	}
	if (m->n_prefix > 0)
		prefix_match(m, sym, len, bits);
	for (uint32_t k = 0; k < m->n_shards; k++) {
		struct scan_ctx c = {.m = m, .sh = &m->shards[k], .bits = bits};

		if (c.sh->rdb == NULL)
			continue;
		/* an empty symbol is still scanned: `^` or `.*` style rules match it */
		hs_scan(c.sh->rdb->db, len ? sym : "", len, 0, s->hs, on_match, &c);
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
	return a != NULL && b != NULL && a->n_regex > 0 && matcher_compiled_shards(b, a) == 0;
}

uint32_t matcher_compiled_shards(const struct matcher *m, const struct matcher *prev)
{
	uint32_t n = 0;

	for (uint32_t k = 0; k < m->n_shards; k++) {
		const struct regex_db *r = m->shards[k].rdb;

		n += r != NULL &&
		     (prev == NULL || prev->n_shards != m->n_shards || prev->shards[k].rdb != r);
	}
	return n;
}
