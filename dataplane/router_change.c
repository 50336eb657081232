/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A routing state changed rather than rebuilt (docs/architecture.md, "Table changes"):
 * router_state_change copies the state in force, sharing every feed's matcher and
 * decisions, and rebuilds in the feeds a change touches only what it reaches: the
 * subscribers' feed-local indices and type masks, the matcher pieces (matcher_change),
 * and the decisions of the symbols the changed patterns can match. Also the changes of
 * one subscriber between two tables (router_sub_diff) and background recompiles swapped
 * into the state in force (router_state_fold).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "router_dec.h"

/* A change adding or removing more patterns than this in one feed decides every known
 * symbol again with the new matcher rather than compile probes of the changed ones. */
#define ROUTER_PROBE_MAX 64

/* A copy of `prev` sharing every feed's matcher and decisions. */
static struct router_state *state_copy(const struct router_state *prev)
{
	struct router_state *rs = calloc(1, sizeof(*rs));

	if (rs == NULL)
		return NULL;
	*rs = *prev;
	rs->n_feeds = 0;
	rs->feeds = calloc(prev->n_feeds ? prev->n_feeds : 1, sizeof(*rs->feeds));
	rs->lines = malloc((prev->n_lines ? prev->n_lines : 1) * sizeof(*rs->lines));
	if (rs->feeds == NULL || rs->lines == NULL)
		goto fail;
	memcpy(rs->lines, prev->lines, prev->n_lines * sizeof(*rs->lines));
	for (uint32_t f = 0; f < prev->n_feeds; f++) {
		const struct router_feed_rules *p = &prev->feeds[f];
		struct router_feed_rules *fr = &rs->feeds[f];
		uint32_t w = p->n_words ? p->n_words : 1;

		*fr = *p;
		fr->subs = malloc((p->n_subs ? p->n_subs : 1) * sizeof(*fr->subs));
		fr->type_mask = malloc(256 * (size_t)w * sizeof(uint64_t));
		fr->all = malloc(w * sizeof(uint64_t));
		fr->matcher = matcher_ref(p->matcher);
		fr->dec->refs++;
		fr->changed = false;
		fr->regex_reused = matcher_n_regex(p->matcher) > 0;
		rs->n_feeds = f + 1;
		if (fr->subs == NULL || fr->type_mask == NULL || fr->all == NULL)
			goto fail;
		memcpy(fr->subs, p->subs, p->n_subs * sizeof(*fr->subs));
		memcpy(fr->type_mask, p->type_mask, 256 * (size_t)w * sizeof(uint64_t));
		memcpy(fr->all, p->all, w * sizeof(uint64_t));
	}
	return rs;
fail:
	router_state_free(rs);
	return NULL;
}

/* Grow the feed-local bitmaps of `fr` to `words` words. */
static int feed_widen(struct router_feed_rules *fr, uint32_t words)
{
	uint32_t old = fr->n_words ? fr->n_words : 1;
	uint64_t *tm = calloc(256 * (size_t)words, sizeof(uint64_t));
	uint64_t *all = calloc(words, sizeof(uint64_t));

	if (tm == NULL || all == NULL) {
		free(tm);
		free(all);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < 256; t++)
		memcpy(tm + (size_t)t * words, fr->type_mask + (size_t)t * old,
		       (fr->n_words < words ? fr->n_words : words) * sizeof(uint64_t));
	memcpy(all, fr->all, (fr->n_words < words ? fr->n_words : words) * sizeof(uint64_t));
	free(fr->type_mask);
	free(fr->all);
	fr->type_mask = tm;
	fr->all = all;
	fr->n_words = words;
	return 0;
}

/* The feed-local index of subscriber `sub`, or -1. */
static int64_t local_index(const struct router_feed_rules *fr, uint32_t sub)
{
	for (uint32_t i = 0; i < fr->n_subs; i++)
		if (fr->subs[i] == sub)
			return i;
	return -1;
}

/* A free feed-local index for a joining subscriber: the lowest freed one, or a new one. */
static int64_t local_alloc(struct router_feed_rules *fr, uint32_t sub)
{
	uint32_t *v;

	for (uint32_t i = 0; i < fr->n_subs; i++)
		if (fr->subs[i] == ROUTER_NO_SUB) {
			fr->subs[i] = sub;
			return i;
		}
	v = realloc(fr->subs, (fr->n_subs + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	fr->subs = v;
	fr->subs[fr->n_subs] = sub;
	if (fr->n_subs / 64 + 1 > fr->n_words && feed_widen(fr, fr->n_subs / 64 + 1) < 0)
		return -1;
	return fr->n_subs++;
}

static void set_types(struct router_feed_rules *fr, uint32_t idx, bool all, const uint64_t *types,
		      bool member)
{
	uint32_t w = idx >> 6;
	uint64_t bit = 1ull << (idx & 63);

	if (member)
		fr->all[w] |= bit;
	else
		fr->all[w] &= ~bit;
	for (uint32_t t = 0; t < 256; t++) {
		bool want = member && (all || (types[t >> 6] >> (t & 63)) & 1);
		uint64_t *m = &fr->type_mask[(size_t)t * fr->n_words + w];

		*m = want ? *m | bit : *m & ~bit;
	}
}

/* What a change does to one feed, in matcher terms. */
struct feed_change {
	struct matcher_pattern *add;
	struct matcher_pattern *del;	/* the leavers' patterns first, then the others' */
	uint32_t *add_change, *add_pat; /* which change and pattern each add came from */
	uint32_t *removed;		/* feed-local indices of the leavers */
	uint32_t n_add, n_del, n_probe_del, n_removed;
};

static int fc_alloc(struct feed_change *fc, const struct router_sub_change *c, uint32_t n)
{
	uint32_t n_add = 0, n_del = 0;

	*fc = (struct feed_change){0};
	for (uint32_t i = 0; i < n; i++) {
		n_add += c[i].n_add;
		n_del += c[i].n_del;
	}
	fc->add = malloc((n_add ? n_add : 1) * sizeof(*fc->add));
	fc->del = malloc((n_del ? n_del : 1) * sizeof(*fc->del));
	fc->add_change = malloc((n_add ? n_add : 1) * sizeof(*fc->add_change));
	fc->add_pat = malloc((n_add ? n_add : 1) * sizeof(*fc->add_pat));
	fc->removed = malloc((n ? n : 1) * sizeof(*fc->removed));
	if (fc->add == NULL || fc->del == NULL || fc->add_change == NULL || fc->add_pat == NULL ||
	    fc->removed == NULL)
		return -ENOMEM;
	return 0;
}

static void fc_free(struct feed_change *fc)
{
	free(fc->add);
	free(fc->del);
	free(fc->add_change);
	free(fc->add_pat);
	free(fc->removed);
}

/* Leavers first, so that a joiner of the same change may take their index: their bits
 * cleared, their index freed, their patterns removed (not probed). */
static void fc_leavers(struct router_feed_rules *fr, const struct router_sub_change *c, uint32_t n,
		       struct feed_change *fc)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t idx;

		if (c[i].op != ROUTER_SUB_REMOVE)
			continue;
		idx = local_index(fr, c[i].sub);
		if (idx < 0)
			continue;
		set_types(fr, (uint32_t)idx, true, NULL, false);
		fr->subs[idx] = ROUTER_NO_SUB;
		fc->removed[fc->n_removed++] = (uint32_t)idx;
		for (uint32_t j = 0; j < c[i].n_del; j++)
			fc->del[fc->n_del++] = (struct matcher_pattern){c[i].del[j], (uint32_t)idx};
	}
}

/* Joiners and the subscribers that stay: index, types, patterns added and removed. */
static int fc_others(struct router_feed_rules *fr, const struct router_sub_change *c, uint32_t n,
		     struct feed_change *fc, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t idx;

		if (c[i].op == ROUTER_SUB_REMOVE)
			continue;
		idx = c[i].op == ROUTER_SUB_ADD ? local_alloc(fr, c[i].sub)
						: local_index(fr, c[i].sub);
		if (idx < 0) {
			if (c[i].op == ROUTER_SUB_ADD)
				return -ENOMEM;
			snprintf(err, errlen, "subscriber \"%s\": not in feed \"%s\"",
				 c[i].name != NULL ? c[i].name : "?", fr->name);
			return -ENOENT;
		}
		if (c[i].op == ROUTER_SUB_ADD || c[i].set_types)
			set_types(fr, (uint32_t)idx, c[i].all_types, c[i].types, true);
		for (uint32_t j = 0; j < c[i].n_add; j++) {
			fc->add_change[fc->n_add] = i;
			fc->add_pat[fc->n_add] = j;
			fc->add[fc->n_add++] = (struct matcher_pattern){c[i].add[j], (uint32_t)idx};
		}
		for (uint32_t j = 0; j < c[i].n_del; j++) {
			fc->del[fc->n_del++] = (struct matcher_pattern){c[i].del[j], (uint32_t)idx};
			fc->n_probe_del++;
		}
	}
	return 0;
}

/*
 * The feed's new matcher. Leavers first, in a version of their own: a joiner may take
 * a leaver's index, and a pair it adds must not be cancelled by the same pair the
 * leaver removes. NULL with errno and `err` set.
 */
static struct matcher *fc_matcher(const struct router_feed_rules *fr,
				  const struct router_sub_change *c, const struct feed_change *fc,
				  char *err, size_t errlen)
{
	uint32_t n_gone = fc->n_del - fc->n_probe_del, bad = UINT32_MAX;
	const struct matcher_pattern *kept = fc->del + n_gone;
	char hs_err[256] = "";
	struct matcher *nm;

	if (n_gone > 0) {
		struct matcher *gone = matcher_change(fr->matcher, NULL, 0, fc->del, n_gone, hs_err,
						      sizeof(hs_err), &bad);

		if (gone == NULL) {
			int e = errno;

			snprintf(err, errlen, "feed \"%s\": %s", fr->name,
				 hs_err[0] ? hs_err : strerror(e));
			errno = e;
			return NULL;
		}
		nm = matcher_change(gone, fc->add, fc->n_add, kept, fc->n_probe_del, hs_err,
				    sizeof(hs_err), &bad);
		matcher_free(gone);
	} else {
		nm = matcher_change(fr->matcher, fc->add, fc->n_add, kept, fc->n_probe_del, hs_err,
				    sizeof(hs_err), &bad);
	}
	if (nm == NULL) {
		int e = errno;

		if (bad < fc->n_add)
			snprintf(err, errlen, "subscriber \"%s\": pattern \"%s\": %s",
				 c[fc->add_change[bad]].name != NULL ? c[fc->add_change[bad]].name
								     : "?",
				 c[fc->add_change[bad]].add[fc->add_pat[bad]], hs_err);
		else
			snprintf(err, errlen, "feed \"%s\": %s", fr->name,
				 hs_err[0] ? hs_err : strerror(e));
		errno = e;
	}
	return nm;
}

/* Decide again, under `nm`, the symbols of `nd` that `probe_pats` match (compiled alone);
 * or OR their probe bits in (`add`). 0, or -errno with `err` set. */
static int fc_probe(const struct router_feed_rules *fr, struct router_decisions *nd,
		    const struct matcher *nm, const struct matcher_pattern *probe_pats, uint32_t n,
		    bool add, uint64_t *hit, char *err, size_t errlen)
{
	char hs_err[256] = "";
	struct matcher *probe = matcher_probe(probe_pats, n, hs_err, sizeof(hs_err));

	if (probe == NULL) {
		/* compiled inside the new matcher already: only memory can fail here */
		int rc = -errno;

		snprintf(err, errlen, "feed \"%s\": %s", fr->name,
			 hs_err[0] ? hs_err : strerror(errno));
		return rc;
	}
	memset(hit, 0, (nd->mask + 1) * nd->n_words * sizeof(uint64_t));
	router_dec_decide_all(nd, probe, hit);
	matcher_free(probe);
	for (uint64_t i = 0; i <= nd->mask; i++) {
		uint64_t *h = hit + i * nd->n_words, *bits = nd->bits + i * nd->n_words;
		bool any = false;

		for (uint32_t w = 0; nd->used[i] && w < nd->n_words; w++) {
			any |= h[w] != 0;
			if (add)
				bits[w] |= h[w];
		}
		if (any && !add)
			router_dec_decide(nm, nd->keys[i], bits, nd->n_words);
	}
	return 0;
}

/*
 * The decisions under `nm`: a copy, then only the symbols the change can affect.
 * Leavers' bits are cleared everywhere; a symbol a removed pattern matches is decided
 * again by the new matcher; a symbol an added pattern matches gains the adder's bit.
 * Each set of changed patterns is compiled alone (a probe) and the known symbols
 * scanned against it. NULL with errno and `err` set.
 */
static struct router_decisions *fc_decisions(const struct router_feed_rules *fr,
					     const struct feed_change *fc, const struct matcher *nm,
					     char *err, size_t errlen)
{
	struct router_decisions *nd = router_dec_copy(fr->dec, fr->n_words ? fr->n_words : 1, 0);
	uint64_t *hit = NULL;
	int rc = 0;

	if (nd == NULL)
		goto nomem;
	for (uint64_t i = 0; i <= nd->mask; i++)
		for (uint32_t r = 0; nd->used[i] && r < fc->n_removed; r++)
			nd->bits[i * nd->n_words + (fc->removed[r] >> 6)] &=
			    ~(1ull << (fc->removed[r] & 63));
	if (fc->n_add + fc->n_probe_del > ROUTER_PROBE_MAX) {
		router_dec_decide_all(nd, nm, nd->bits);
		return nd;
	}
	if (nd->n == 0)
		return nd;
	hit = malloc((nd->mask + 1) * nd->n_words * sizeof(uint64_t));
	if (hit == NULL)
		goto nomem;
	/* del[] holds the leavers' patterns first: probe the others */
	if (fc->n_probe_del > 0)
		rc = fc_probe(fr, nd, nm, fc->del + (fc->n_del - fc->n_probe_del), fc->n_probe_del,
			      false, hit, err, errlen);
	if (rc == 0 && fc->n_add > 0)
		rc = fc_probe(fr, nd, nm, fc->add, fc->n_add, true, hit, err, errlen);
	free(hit);
	if (rc == 0)
		return nd;
	router_dec_put(nd);
	errno = -rc;
	return NULL;
nomem:
	router_dec_put(nd);
	snprintf(err, errlen, "feed \"%s\": out of memory applying a change", fr->name);
	errno = ENOMEM;
	return NULL;
}

/* Apply the changes c[0..n) (all of feed `f`) to the copy `rs`. */
static int change_feed(struct router_state *rs, uint32_t f, const struct router_sub_change *c,
		       uint32_t n, uint64_t version, char *err, size_t errlen)
{
	struct router_feed_rules *fr = &rs->feeds[f];
	struct router_decisions *nd = NULL;
	struct matcher *nm = NULL;
	struct feed_change fc;
	int rc = fc_alloc(&fc, c, n);

	if (rc == 0) {
		fc_leavers(fr, c, n, &fc);
		rc = fc_others(fr, c, n, &fc, err, errlen);
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "feed \"%s\": out of memory applying a change", fr->name);
	if (rc == 0 && (nm = fc_matcher(fr, c, &fc, err, errlen)) == NULL)
		rc = -errno;
	if (rc == 0 && (nd = fc_decisions(fr, &fc, nm, err, errlen)) == NULL)
		rc = -errno;
	fc_free(&fc);
	if (rc < 0) {
		matcher_free(nm);
		return rc;
	}
	fr->regex_reused = matcher_shares_db(fr->matcher, nm);
	matcher_free(fr->matcher);
	fr->matcher = nm;
	router_dec_put(fr->dec);
	fr->dec = nd;
	fr->version = version;
	fr->changed = true;
	return 0;
}

struct router_state *router_state_change(const struct router_state *prev,
					 const struct router_sub_change *c, uint32_t n,
					 uint64_t version, char *err, size_t errlen)
{
	struct router_state *rs = state_copy(prev);
	struct router_sub_change *byf = NULL;
	int rc = -ENOMEM;

	if (rs == NULL) {
		snprintf(err, errlen, "out of memory applying a change");
		errno = ENOMEM;
		return NULL;
	}
	rs->version = version;
	byf = malloc((n ? n : 1) * sizeof(*byf));
	if (byf == NULL)
		goto fail;
	for (uint32_t f = 0; f < rs->n_feeds; f++) {
		uint32_t k = 0;

		for (uint32_t i = 0; i < n; i++)
			if (c[i].feed == f)
				byf[k++] = c[i];
		if (k == 0)
			continue;
		rc = change_feed(rs, f, byf, k, version, err, errlen);
		if (rc < 0)
			goto fail;
	}
	for (uint32_t i = 0; i < n; i++)
		if (c[i].feed >= rs->n_feeds) {
			snprintf(err, errlen, "feed %u: no such feed", c[i].feed);
			rc = -ENOENT;
			goto fail;
		}
	free(byf);
	return rs;
fail:
	free(byf);
	router_state_free(rs);
	errno = -rc;
	return NULL;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The patterns in `a` and not in `b` (as sets), into `out` (room for n_a). Sorts copies
 * of both pointer arrays. Returns how many, or -ENOMEM.
 */
static int set_minus(char *const *a, uint32_t n_a, char *const *b, uint32_t n_b, const char **out)
{
	char **x = malloc((n_a ? n_a : 1) * sizeof(*x)), **y = malloc((n_b ? n_b : 1) * sizeof(*y));
	uint32_t i = 0, j = 0;
	int n = 0;

	if (x == NULL || y == NULL) {
		free(x);
		free(y);
		return -ENOMEM;
	}
	memcpy(x, a, n_a * sizeof(*x));
	memcpy(y, b, n_b * sizeof(*y));
	qsort(x, n_a, sizeof(*x), cmp_strp);
	qsort(y, n_b, sizeof(*y), cmp_strp);
	while (i < n_a) {
		int c = j < n_b ? strcmp(x[i], y[j]) : -1;

		if (c < 0) {
			if (n == 0 || strcmp(out[n - 1], x[i]) != 0)
				out[n++] = x[i];
			i++;
		} else if (c == 0) {
			i++;
		} else {
			j++;
		}
	}
	free(x);
	free(y);
	return n;
}

int router_sub_diff(const struct rc_subscriber *before, char *const *before_patterns,
		    uint32_t n_before, uint32_t old_sub, uint32_t old_feed,
		    const struct rc_subscriber *after, uint32_t new_sub, uint32_t new_feed,
		    struct router_sub_change *out, const char **pats)
{
	bool moved =
	    before != NULL && after != NULL && (old_sub != new_sub || old_feed != new_feed);
	struct router_sub_change *c;
	int n = 0, m;

	if (before != NULL && (after == NULL || moved)) {
		c = &out[n++];
		*c = (struct router_sub_change){.feed = old_feed,
						.sub = old_sub,
						.name = before->name,
						.op = ROUTER_SUB_REMOVE,
						.n_del = n_before,
						.del = pats};
		memcpy(pats, before_patterns, n_before * sizeof(*pats));
		pats += n_before;
	}
	if (after == NULL)
		return n;
	c = &out[n++];
	*c = (struct router_sub_change){.feed = new_feed,
					.sub = new_sub,
					.name = after->name,
					.op = before == NULL || moved ? ROUTER_SUB_ADD
								      : ROUTER_SUB_KEEP,
					.set_types = true,
					.all_types = after->all_types,
					.add = pats};
	memcpy(c->types, after->types, sizeof(c->types));
	if (c->op == ROUTER_SUB_ADD) {
		memcpy(pats, after->symbols, after->n_symbols * sizeof(*pats));
		c->n_add = after->n_symbols;
		return n;
	}
	/* the same stream: the patterns it gained and those it lost, as sets */
	m = set_minus(after->symbols, after->n_symbols, before_patterns, n_before, pats);
	if (m < 0)
		return m;
	c->n_add = (uint32_t)m;
	pats += m;
	c->del = pats;
	m = set_minus(before_patterns, n_before, after->symbols, after->n_symbols, pats);
	if (m < 0)
		return m;
	c->n_del = (uint32_t)m;
	return n;
}

struct router_state *router_state_fold(const struct router_state *cur)
{
	struct router_state *rs = NULL;

	for (uint32_t f = 0; f < cur->n_feeds; f++) {
		struct matcher *nm = matcher_fold(cur->feeds[f].matcher);

		if (nm == NULL) {
			if (errno != 0) {
				router_state_free(rs);
				return NULL;
			}
			continue;
		}
		if (rs == NULL && (rs = state_copy(cur)) == NULL) {
			matcher_free(nm);
			errno = ENOMEM;
			return NULL;
		}
		matcher_free(rs->feeds[f].matcher);
		rs->feeds[f].matcher = nm;
	}
	if (rs == NULL)
		errno = 0;
	return rs;
}

uint32_t router_state_fold_pending(const struct router_state *rs)
{
	uint32_t n = 0;

	for (uint32_t f = 0; f < rs->n_feeds; f++)
		n += matcher_fold_pending(rs->feeds[f].matcher);
	return n;
}
