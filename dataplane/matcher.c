/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscription pattern matching (docs/protocol.md §3.5): a matcher version's lifetime
 * (references, the pieces a clone shares, Hyperscan scratch) and matching a symbol
 * against it. See matcher.h for the structure, matcher_int.h for the files that build,
 * change and fold versions, and docs/architecture.md ("Table changes", "Compiles and
 * the compile cache") for why.
 *
 * Three engines behind one call: the exact-symbol hash and the prefix hash
 * (matcher_hash.c), then the Hyperscan units (matcher_regex.c), each distinct
 * expression once, fanning out to its subscriber list on a match. A symbol is matched
 * once per new binding, or by the builder for the symbols a change can affect, never
 * per message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_int.h"

static void scratch_put(struct matcher_scratch *s)
{
	if (s == NULL || matcher_ref_put(&s->refs) != 0)
		return;
	for (uint32_t i = 0; i < s->n; i++)
		hs_free_scratch(s->s[i]);
	free(s);
}

int matcher_scratch_alloc(struct matcher *m, const struct matcher_scratch *from,
			  hs_database_t *const *fresh, uint32_t n_fresh)
{
	uint32_t n = m->n_scratch + 1;
	struct matcher_scratch *s = calloc(1, sizeof(*s) + n * sizeof(s->s[0]));
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
			const struct matcher_runit *u = matcher_unit(m, k);

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
	if (m == NULL || matcher_ref_put(&m->refs) != 0)
		return;
	for (uint32_t k = 0; k < MATCHER_HASH_SHARDS; k++) {
		matcher_hunit_put(m->exact[k]);
		matcher_hunit_put(m->prefix[k]);
	}
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		matcher_runit_put(m->shard[k]);
		matcher_fold_put(m->job[k]);
	}
	for (uint32_t i = 0; i < m->n_ov; i++)
		matcher_runit_put(m->ov[i]);
	free(m->ov);
	scratch_put(m->scratch);
	free(m);
}

struct matcher *matcher_ref(struct matcher *m)
{
	matcher_ref_get(&m->refs);
	return m;
}

struct matcher *matcher_clone(const struct matcher *m)
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
			matcher_ref_get(&c->exact[k]->refs);
		if (c->prefix[k] != NULL)
			matcher_ref_get(&c->prefix[k]->refs);
	}
	for (uint32_t k = 0; k < MATCHER_SHARDS; k++) {
		if (c->shard[k] != NULL)
			matcher_ref_get(&c->shard[k]->refs);
		if (c->job[k] != NULL)
			matcher_fold_get(c->job[k]);
	}
	for (uint32_t i = 0; i < c->n_ov; i++)
		matcher_ref_get(&c->ov[i]->refs);
	if (c->scratch != NULL)
		matcher_ref_get(&c->scratch->refs);
	return c;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *arg)
{
	const struct matcher_runit *u = ((void **)arg)[0];
	uint64_t *bits = ((void **)arg)[1];

	(void)from;
	(void)to;
	(void)flags;
	/* an expression without subscribers (masked) sets nothing */
	matcher_set_subs(bits, u->subs + u->first[id], u->count[id]);
	return 0; /* keep scanning: other expressions may still match */
}

void matcher_match(const struct matcher *m, uint32_t scratch, const char *sym, uint32_t len,
		   uint64_t *bits)
{
	hs_scratch_t *s;

	if (m->n_exact > 0) {
		matcher_hash_exact(m->exact, sym, len, bits);
		/* PCRE/Hyperscan `$` also matches before a final newline: keep the hash
		 * equivalent to the regex it stands for. */
		if (len > 1 && sym[len - 1] == '\n')
			matcher_hash_exact(m->exact, sym, len - 1, bits);
	}
	if (m->n_prefix > 0)
		matcher_hash_prefix(m->prefix, m->prefix_len_pairs, sym, len, bits);
	if (m->scratch == NULL)
		return;
	s = m->scratch->s[scratch == MATCHER_SCRATCH_BUILDER ? m->n_scratch : scratch];
	for (uint32_t k = 0; k < MATCHER_SHARDS + m->n_ov; k++) {
		const struct matcher_runit *u = matcher_unit(m, k);
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
		const struct matcher_runit *u = matcher_unit(m, k);
		bool known = false;

		if (u == NULL)
			continue;
		for (uint32_t j = 0; prev != NULL && j < MATCHER_SHARDS + prev->n_ov && !known;
		     j++) {
			const struct matcher_runit *p = matcher_unit(prev, j);

			known = p != NULL && p->rdb == u->rdb;
		}
		n += !known;
	}
	return n;
}
