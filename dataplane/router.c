/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message routing (docs/protocol.md §3.4, §3.5): locate -> symbol -> subscriber bitmap.
 *
 * The per-message cost is a locate-indexed read. When a locate is (re)bound, or the
 * feed's decisions changed since its bitmap was cached, the bitmap is copied from the
 * decisions (one hash probe); Hyperscan runs on the RX lcore only for a symbol the
 * builder has not decided yet, never for a message whose locate is already resolved.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>

#include "itch50.h"
#include "matcher.h"
#include "router.h"

/* The symbols a feed's decisions hold at most: a feed binds at most ROUTER_LOCATES at once. */
#define ROUTER_DEC_MAX ROUTER_LOCATES
/* A change adding or removing more patterns than this in one feed decides every known
 * symbol again with the new matcher rather than compile probes of the changed ones. */
#define ROUTER_PROBE_MAX 64

/*
 * The decisions of one feed: symbol (the stock field as on the wire) -> subscriber
 * bitmap, for every symbol the builder knows. Immutable once its state is published;
 * shared by consecutive states while the feed's rules stay the same.
 */
struct router_decisions {
	uint32_t refs; /* states using it; changed by the building thread only */
	uint32_t n_words;
	uint32_t n;
	uint64_t mask; /* capacity - 1 */
	uint64_t *keys;
	uint8_t *used;
	uint64_t *bits; /* [capacity][n_words] */
};

static inline uint64_t dec_hash(uint64_t key)
{
	key ^= key >> 31;
	key *= 0xbf58476d1ce4e5b9ull;
	return key ^ (key >> 29);
}

static int64_t dec_find(const struct router_decisions *d, uint64_t key)
{
	uint64_t i;

	if (d == NULL || d->n == 0)
		return -1;
	for (i = dec_hash(key) & d->mask; d->used[i]; i = (i + 1) & d->mask)
		if (d->keys[i] == key)
			return (int64_t)i;
	return -1;
}

static void dec_put(struct router_decisions *d)
{
	if (d == NULL || --d->refs != 0)
		return;
	free(d->keys);
	free(d->used);
	free(d->bits);
	free(d);
}

/* Room for `n` symbols at a load of at most 1/2. */
static struct router_decisions *dec_new(uint32_t n_words, uint32_t n)
{
	struct router_decisions *d = calloc(1, sizeof(*d));
	uint64_t cap = 64;

	if (d == NULL)
		return NULL;
	while (cap < 2ull * n)
		cap <<= 1;
	d->refs = 1;
	d->n_words = n_words;
	d->mask = cap - 1;
	d->keys = malloc(cap * sizeof(*d->keys));
	d->used = calloc(cap, 1);
	d->bits = calloc(cap * (n_words ? n_words : 1), sizeof(uint64_t));
	if (d->keys == NULL || d->used == NULL || d->bits == NULL) {
		dec_put(d);
		return NULL;
	}
	return d;
}

/* The slot of `key`, claimed when new (the caller checked there is room). */
static uint64_t dec_slot(struct router_decisions *d, uint64_t key)
{
	uint64_t i;

	for (i = dec_hash(key) & d->mask; d->used[i]; i = (i + 1) & d->mask)
		if (d->keys[i] == key)
			return i;
	d->used[i] = 1;
	d->keys[i] = key;
	memset(d->bits + i * d->n_words, 0, d->n_words * sizeof(uint64_t));
	d->n++;
	return i;
}

/* A private copy of `d` (may be NULL) for `n_words`, with room for `more` symbols. */
static struct router_decisions *dec_copy(const struct router_decisions *d, uint32_t n_words,
					 uint32_t more)
{
	uint32_t n = d != NULL ? d->n : 0;
	struct router_decisions *c = dec_new(n_words, n + more);
	uint32_t w = d != NULL && d->n_words < n_words ? d->n_words : n_words;

	if (c == NULL || d == NULL)
		return c;
	if (c->mask == d->mask && d->n_words == n_words) {
		memcpy(c->keys, d->keys, (d->mask + 1) * sizeof(*c->keys));
		memcpy(c->used, d->used, d->mask + 1);
		memcpy(c->bits, d->bits, (d->mask + 1) * n_words * sizeof(uint64_t));
		c->n = d->n;
		return c;
	}
	for (uint64_t i = 0; i <= d->mask; i++)
		if (d->used[i])
			memcpy(c->bits + dec_slot(c, d->keys[i]) * n_words,
			       d->bits + i * d->n_words, w * sizeof(uint64_t));
	return c;
}

/* docs/protocol.md §3.4: the symbol is the stock field without its trailing spaces. */
static uint32_t key_symbol(uint64_t key, char sym[ITCH50_STOCK_LEN])
{
	uint32_t len = ITCH50_STOCK_LEN;

	memcpy(sym, &key, ITCH50_STOCK_LEN);
	while (len > 0 && sym[len - 1] == ' ')
		len--;
	return len;
}

/* The builder decides `key` under `m` into `bits` (n_words words). */
static void decide(const struct matcher *m, uint64_t key, uint64_t *bits, uint32_t n_words)
{
	char sym[ITCH50_STOCK_LEN];
	uint32_t len = key_symbol(key, sym);

	memset(bits, 0, n_words * sizeof(uint64_t));
	matcher_match(m, MATCHER_SCRATCH_BUILDER, sym, len, bits);
}

/* Every known symbol of `d` decided again under `m`. */
static void decide_all(struct router_decisions *d, const struct matcher *m)
{
	for (uint64_t i = 0; i <= d->mask; i++)
		if (d->used[i])
			decide(m, d->keys[i], d->bits + i * d->n_words, d->n_words);
}

uint32_t router_feed_known_symbols(const struct router_feed_rules *fr)
{
	return fr->dec != NULL ? fr->dec->n : 0;
}

/* ------------------------------------------------------------------ full builds */

static int build_feed(const struct routing_config *cfg, uint32_t feed, uint32_t n_scratch,
		      const struct router_feed_rules *prev, struct router_feed_rules *fr,
		      uint64_t version, char *err, size_t errlen)
{
	struct matcher_pattern *pats = NULL;
	uint32_t *pat_sub = NULL, *pat_sym = NULL; /* pattern -> config subscriber, symbol */
	uint32_t n_pats = 0, n = 0, words, bad;
	const struct matcher *prev_m = prev != NULL ? prev->matcher : NULL;
	char hs_err[256];
	int rc = -ENOMEM;

	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		if (cfg->subs[i].feed == feed) {
			n++;
			n_pats += cfg->subs[i].n_symbols;
		}
	}
	words = (n + 63) / 64;
	fr->n_subs = n;
	fr->n_words = words;
	fr->version = version;
	fr->changed = true;
	/* at least one word each, so a feed without subscribers needs no special case */
	fr->subs = calloc(n ? n : 1, sizeof(*fr->subs));
	fr->type_mask = calloc(256 * (size_t)(words ? words : 1), sizeof(uint64_t));
	fr->all = calloc(words ? words : 1, sizeof(uint64_t));
	pats = malloc((n_pats ? n_pats : 1) * sizeof(*pats));
	pat_sub = malloc((n_pats ? n_pats : 1) * sizeof(*pat_sub));
	pat_sym = malloc((n_pats ? n_pats : 1) * sizeof(*pat_sym));
	if (fr->subs == NULL || fr->type_mask == NULL || fr->all == NULL || pats == NULL ||
	    pat_sub == NULL || pat_sym == NULL) {
		snprintf(err, errlen, "%s: feed \"%s\": out of memory", cfg->path,
			 cfg->feeds[feed].name);
		goto free_tmp;
	}

	n = 0;
	n_pats = 0;
	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		const struct rc_subscriber *s = &cfg->subs[i];
		uint64_t bit;
		uint32_t w;

		if (s->feed != feed)
			continue;
		/* feed-local index = rank among the feed's subscribers in config order */
		w = n >> 6;
		bit = 1ull << (n & 63);
		fr->subs[n] = i;
		fr->all[w] |= bit;
		for (uint32_t t = 0; t < 256; t++)
			if (rc_sub_wants_type(s, (uint8_t)t))
				fr->type_mask[t * words + w] |= bit;
		for (uint32_t j = 0; j < s->n_symbols; j++) {
			pats[n_pats].expr = s->symbols[j];
			pats[n_pats].sub = n;
			pat_sub[n_pats] = i;
			pat_sym[n_pats++] = j;
		}
		n++;
	}

	snprintf(fr->name, sizeof(fr->name), "%s", cfg->feeds[feed].name);
	fr->matcher = matcher_build(pats, n_pats, prev_m, n_scratch, hs_err, sizeof(hs_err), &bad);
	if (fr->matcher == NULL) {
		rc = -errno;
		if (bad < n_pats) {
			/* docs/conventions.md §2, docs/protocol.md §3.5: one line naming the
			 * subscriber and the pattern */
			const struct rc_subscriber *s = &cfg->subs[pat_sub[bad]];
			uint32_t line =
			    s->symbol_lines != NULL ? s->symbol_lines[pat_sym[bad]] : s->cfg_line;

			snprintf(err, errlen,
				 "%s:%u: symbols: subscriber \"%s\": pattern \"%s\": %s", cfg->path,
				 line, s->name, s->symbols[pat_sym[bad]], hs_err);
		} else {
			snprintf(err, errlen, "%s: feed \"%s\": cannot build the matcher: %s",
				 cfg->path, cfg->feeds[feed].name, hs_err);
		}
		goto free_tmp;
	}
	fr->regex_reused = matcher_shares_db(prev_m, fr->matcher);
	/* the symbols the previous rules had decided, decided again under these */
	fr->dec = dec_copy(prev != NULL ? prev->dec : NULL, words ? words : 1, 0);
	if (fr->dec == NULL) {
		snprintf(err, errlen, "%s: feed \"%s\": out of memory", cfg->path,
			 cfg->feeds[feed].name);
		goto free_tmp;
	}
	decide_all(fr->dec, fr->matcher);
	rc = 0;
free_tmp:
	free(pat_sym);
	free(pat_sub);
	free(pats);
	return rc;
}

struct router_state *router_state_build(const struct routing_config *cfg, uint32_t n_scratch,
					uint64_t version, char *err, size_t errlen)
{
	return router_state_build_from(cfg, NULL, n_scratch, version, err, errlen);
}

static const struct router_feed_rules *prev_feed(const struct router_state *prev, const char *feed)
{
	for (uint32_t f = 0; prev != NULL && f < prev->n_feeds; f++)
		if (strcmp(prev->feeds[f].name, feed) == 0)
			return &prev->feeds[f];
	return NULL;
}

struct router_state *router_state_build_from(const struct routing_config *cfg,
					     const struct router_state *prev, uint32_t n_scratch,
					     uint64_t version, char *err, size_t errlen)
{
	struct router_state *rs = calloc(1, sizeof(*rs));
	int rc;

	if (rs == NULL)
		goto nomem;
	rs->version = version;
	rs->n_scratch = n_scratch;
	if (cfg->n_feeds > ROUTER_MAX_FEED_SLOTS) {
		snprintf(err, errlen, "%s: feeds: %u feeds, at most %d", cfg->path, cfg->n_feeds,
			 ROUTER_MAX_FEED_SLOTS);
		router_state_free(rs);
		errno = EINVAL;
		return NULL;
	}
	rs->feeds = calloc(cfg->n_feeds ? cfg->n_feeds : 1, sizeof(*rs->feeds));
	if (rs->feeds == NULL)
		goto nomem;
	for (uint32_t f = 0; f < cfg->n_feeds; f++)
		rs->n_lines += cfg->feeds[f].n_lines;
	rs->lines = calloc(rs->n_lines ? rs->n_lines : 1, sizeof(*rs->lines));
	if (rs->lines == NULL)
		goto nomem;
	for (uint32_t f = 0, i = 0; f < cfg->n_feeds; f++)
		for (uint16_t l = 0; l < cfg->feeds[f].n_lines; l++, i++) {
			rs->lines[i].group = cfg->feeds[f].lines[l].group;
			rs->lines[i].udp_port = cfg->feeds[f].lines[l].port;
			rs->lines[i].feed = (uint16_t)f;
			rs->lines[i].line = (uint8_t)l;
		}
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		rs->slot_index[k] = k < cfg->n_feeds ? (int16_t)k : (int16_t)-1;
	/* n_feeds grows as feeds are built so router_state_free unwinds a partial state */
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		rs->n_feeds = f + 1;
		rs->feeds[f].slot = f;
		rc = build_feed(cfg, f, n_scratch, prev_feed(prev, cfg->feeds[f].name),
				&rs->feeds[f], version, err, errlen);
		if (rc < 0) {
			router_state_free(rs);
			errno = -rc;
			return NULL;
		}
	}
	return rs;
nomem:
	snprintf(err, errlen, "%s: out of memory building the routing state", cfg->path);
	router_state_free(rs);
	errno = ENOMEM;
	return NULL;
}

static void feed_fini(struct router_feed_rules *fr)
{
	matcher_free(fr->matcher);
	dec_put(fr->dec);
	free(fr->all);
	free(fr->type_mask);
	free(fr->subs);
}

void router_state_free(struct router_state *rs)
{
	if (rs == NULL)
		return;
	for (uint32_t f = 0; f < rs->n_feeds; f++)
		feed_fini(&rs->feeds[f]);
	free(rs->feeds);
	free(rs->lines);
	free(rs);
}

void router_state_set_slots(struct router_state *rs, const uint32_t *feed_slot,
			    const uint32_t *sub_slot)
{
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		rs->slot_index[k] = -1;
	for (uint32_t f = 0; f < rs->n_feeds; f++) {
		struct router_feed_rules *fr = &rs->feeds[f];

		fr->slot = feed_slot[f];
		rs->slot_index[fr->slot] = (int16_t)f;
		for (uint32_t i = 0; i < fr->n_subs; i++)
			if (fr->subs[i] != ROUTER_NO_SUB)
				fr->subs[i] = sub_slot[fr->subs[i]];
	}
}

uint32_t router_state_max_subs(const struct router_state *rs)
{
	uint32_t max = 0;

	for (uint32_t f = 0; f < rs->n_feeds; f++)
		if (rs->feeds[f].n_subs > max)
			max = rs->feeds[f].n_subs;
	return max;
}

/* ------------------------------------------------------------------ changes */

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

/* Which symbols of `d` a probe matcher (the changed patterns alone) matches: each probed
 * symbol's probe bits go to `hit` (d's layout). */
static void probe_all(const struct router_decisions *d, const struct matcher *probe, uint64_t *hit)
{
	for (uint64_t i = 0; i <= d->mask; i++)
		if (d->used[i])
			decide(probe, d->keys[i], hit + i * d->n_words, d->n_words);
}

/* Apply the changes c[0..n) (all of feed `f`) to the copy `rs`. */
static int change_feed(struct router_state *rs, uint32_t f, const struct router_sub_change *c,
		       uint32_t n, uint64_t version, char *err, size_t errlen)
{
	struct router_feed_rules *fr = &rs->feeds[f];
	uint32_t n_add = 0, n_del = 0, n_probe_del = 0, bad;
	struct matcher_pattern *add = NULL, *del = NULL;
	uint32_t *add_change = NULL, *add_pat = NULL, *removed = NULL, n_removed = 0;
	struct matcher *nm = NULL, *probe = NULL;
	struct router_decisions *nd = NULL;
	uint64_t *hit = NULL;
	char hs_err[256] = "";
	int rc = -ENOMEM;

	for (uint32_t i = 0; i < n; i++) {
		n_add += c[i].n_add;
		n_del += c[i].n_del;
	}
	add = malloc((n_add ? n_add : 1) * sizeof(*add));
	del = malloc((n_del ? n_del : 1) * sizeof(*del));
	add_change = malloc((n_add ? n_add : 1) * sizeof(*add_change));
	add_pat = malloc((n_add ? n_add : 1) * sizeof(*add_pat));
	removed = malloc((n ? n : 1) * sizeof(*removed));
	if (add == NULL || del == NULL || add_change == NULL || add_pat == NULL || removed == NULL)
		goto nomem;
	/* leavers first, so that a joiner of the same change may take their index */
	n_add = n_del = 0;
	for (uint32_t i = 0; i < n; i++) {
		int64_t idx;

		if (c[i].op != ROUTER_SUB_REMOVE)
			continue;
		idx = local_index(fr, c[i].sub);
		if (idx < 0)
			continue;
		set_types(fr, (uint32_t)idx, true, NULL, false);
		fr->subs[idx] = ROUTER_NO_SUB;
		removed[n_removed++] = (uint32_t)idx;
		for (uint32_t j = 0; j < c[i].n_del; j++)
			del[n_del++] = (struct matcher_pattern){c[i].del[j], (uint32_t)idx};
	}
	n_probe_del = 0; /* leavers' bits are cleared, their patterns not probed */
	for (uint32_t i = 0; i < n; i++) {
		int64_t idx;

		if (c[i].op == ROUTER_SUB_REMOVE)
			continue;
		idx = c[i].op == ROUTER_SUB_ADD ? local_alloc(fr, c[i].sub)
						: local_index(fr, c[i].sub);
		if (idx < 0) {
			if (c[i].op == ROUTER_SUB_ADD)
				goto nomem;
			snprintf(err, errlen, "subscriber \"%s\": not in feed \"%s\"",
				 c[i].name != NULL ? c[i].name : "?", fr->name);
			rc = -ENOENT;
			goto fail;
		}
		if (c[i].op == ROUTER_SUB_ADD || c[i].set_types)
			set_types(fr, (uint32_t)idx, c[i].all_types, c[i].types, true);
		for (uint32_t j = 0; j < c[i].n_add; j++) {
			add_change[n_add] = i;
			add_pat[n_add] = j;
			add[n_add++] = (struct matcher_pattern){c[i].add[j], (uint32_t)idx};
		}
		for (uint32_t j = 0; j < c[i].n_del; j++) {
			del[n_del++] = (struct matcher_pattern){c[i].del[j], (uint32_t)idx};
			n_probe_del++;
		}
	}
	/*
	 * Leavers first, in a version of their own: a joiner may take a leaver's index, and
	 * a pair it adds must not be cancelled by the same pair the leaver removes.
	 */
	if (n_del > n_probe_del) {
		struct matcher *gone = matcher_change(
		    fr->matcher, NULL, 0, del, n_del - n_probe_del, hs_err, sizeof(hs_err), &bad);

		if (gone == NULL) {
			rc = -errno;
			snprintf(err, errlen, "feed \"%s\": %s", fr->name,
				 hs_err[0] ? hs_err : strerror(errno));
			goto fail;
		}
		nm = matcher_change(gone, add, n_add, del + (n_del - n_probe_del), n_probe_del,
				    hs_err, sizeof(hs_err), &bad);
		matcher_free(gone);
	} else {
		nm = matcher_change(fr->matcher, add, n_add, del, n_del, hs_err, sizeof(hs_err),
				    &bad);
	}
	if (nm == NULL) {
		rc = -errno;
		if (bad < n_add)
			snprintf(err, errlen, "subscriber \"%s\": pattern \"%s\": %s",
				 c[add_change[bad]].name != NULL ? c[add_change[bad]].name : "?",
				 c[add_change[bad]].add[add_pat[bad]], hs_err);
		else
			snprintf(err, errlen, "feed \"%s\": %s", fr->name,
				 hs_err[0] ? hs_err : strerror(errno));
		goto fail;
	}
	/*
	 * The decisions: a copy, then only the symbols the change can affect. Leavers' bits
	 * are cleared everywhere; a symbol a removed pattern matches is decided again by the
	 * new matcher; a symbol an added pattern matches gains the adder's bit. Each set of
	 * changed patterns is compiled alone (a probe) and the known symbols scanned
	 * against it.
	 */
	nd = dec_copy(fr->dec, fr->n_words ? fr->n_words : 1, 0);
	if (nd == NULL)
		goto nomem;
	for (uint64_t i = 0; i <= nd->mask; i++)
		for (uint32_t r = 0; nd->used[i] && r < n_removed; r++)
			nd->bits[i * nd->n_words + (removed[r] >> 6)] &=
			    ~(1ull << (removed[r] & 63));
	if (n_add + n_probe_del > ROUTER_PROBE_MAX) {
		decide_all(nd, nm);
	} else if (nd->n > 0) {
		hit = calloc((nd->mask + 1) * nd->n_words, sizeof(uint64_t));
		if (hit == NULL)
			goto nomem;
		if (n_probe_del > 0) {
			/* del[] holds the leavers' patterns first: probe the others */
			probe = matcher_probe(del + (n_del - n_probe_del), n_probe_del, hs_err,
					      sizeof(hs_err));
			if (probe == NULL)
				goto probe_failed;
			probe_all(nd, probe, hit);
			for (uint64_t i = 0; i <= nd->mask; i++) {
				bool any = false;

				for (uint32_t w = 0; nd->used[i] && w < nd->n_words && !any; w++)
					any = hit[i * nd->n_words + w] != 0;
				if (any)
					decide(nm, nd->keys[i], nd->bits + i * nd->n_words,
					       nd->n_words);
			}
			matcher_free(probe);
			probe = NULL;
		}
		if (n_add > 0) {
			memset(hit, 0, (nd->mask + 1) * nd->n_words * sizeof(uint64_t));
			probe = matcher_probe(add, n_add, hs_err, sizeof(hs_err));
			if (probe == NULL)
				goto probe_failed;
			probe_all(nd, probe, hit);
			for (uint64_t i = 0; i < (nd->mask + 1) * nd->n_words; i++)
				nd->bits[i] |= hit[i];
		}
	}
	fr->regex_reused = matcher_shares_db(fr->matcher, nm);
	matcher_free(fr->matcher);
	fr->matcher = nm;
	nm = NULL;
	dec_put(fr->dec);
	fr->dec = nd;
	nd = NULL;
	fr->version = version;
	fr->changed = true;
	rc = 0;
	goto out;
probe_failed:
	/* compiled inside the new matcher already: only memory can fail here */
	rc = -errno;
	snprintf(err, errlen, "feed \"%s\": %s", fr->name, hs_err[0] ? hs_err : strerror(errno));
	goto out;
nomem:
	rc = -ENOMEM;
	snprintf(err, errlen, "feed \"%s\": out of memory applying a change", fr->name);
fail:
out:
	matcher_free(probe);
	matcher_free(nm);
	dec_put(nd);
	free(hit);
	free(add);
	free(del);
	free(add_change);
	free(add_pat);
	free(removed);
	return rc;
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

int router_state_learn(struct router_state *rs, uint32_t feed, const struct router_locates *rl)
{
	struct router_feed_rules *fr = &rs->feeds[feed];
	struct router_decisions *d = fr->dec;
	uint32_t fresh = 0;

	/* first count, so that one copy has room for them all */
	for (uint32_t l = 1; l < ROUTER_LOCATES; l++) {
		uint64_t key = __atomic_load_n(&rl->e[l].symbol, __ATOMIC_RELAXED);
		uint64_t ver = __atomic_load_n(&rl->e[l].version, __ATOMIC_RELAXED);

		if ((key != 0 || ver != 0) && dec_find(d, key) < 0)
			fresh++;
	}
	if (fresh == 0)
		return 0;
	if (d->n + fresh > ROUTER_DEC_MAX)
		fresh = d->n < ROUTER_DEC_MAX ? ROUTER_DEC_MAX - d->n : 0;
	if (fresh == 0)
		return 0;
	if (d->refs > 1 || 2ull * (d->n + fresh) > d->mask + 1) {
		d = dec_copy(fr->dec, fr->dec->n_words, fresh);
		if (d == NULL)
			return -ENOMEM;
		dec_put(fr->dec);
		fr->dec = d;
	}
	for (uint32_t l = 1; l < ROUTER_LOCATES && fresh > 0; l++) {
		uint64_t key = __atomic_load_n(&rl->e[l].symbol, __ATOMIC_RELAXED);
		uint64_t ver = __atomic_load_n(&rl->e[l].version, __ATOMIC_RELAXED);

		if ((key == 0 && ver == 0) || dec_find(d, key) >= 0)
			continue;
		decide(fr->matcher, key, d->bits + dec_slot(d, key) * d->n_words, d->n_words);
		fresh--;
	}
	return 0;
}

/* ------------------------------------------------------------------ locates */

struct router_locates *router_locates_create(uint32_t max_subs)
{
	struct router_locates *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->max_words = max_subs ? (max_subs + 63) / 64 : 1;
	rl->e = aligned_alloc(64, ROUTER_LOCATES * sizeof(*rl->e));
	/*
	 * `wide` is not zeroed: a bitmap is read only after it was computed for its
	 * entry's version, so pages of locates that never appear are never touched (a
	 * 16-word stride reserves 8 MiB, the typical feed binds a few thousand locates).
	 */
	if (rl->max_words > 1)
		rl->wide =
		    aligned_alloc(64, (size_t)ROUTER_LOCATES * rl->max_words * sizeof(uint64_t));
	if (rl->e == NULL || (rl->max_words > 1 && rl->wide == NULL)) {
		router_locates_free(rl);
		errno = ENOMEM;
		return NULL;
	}
	router_locates_reset(rl);
	return rl;
}

void router_locates_free(struct router_locates *rl)
{
	if (rl == NULL)
		return;
	free(rl->wide);
	free(rl->e);
	free(rl);
}

void router_locates_reset(struct router_locates *rl)
{
	memset(rl->e, 0, ROUTER_LOCATES * sizeof(*rl->e));
}

/* The bitmap of the locate's symbol: the builder's decision, or matched here when the
 * builder does not know the symbol yet (its first binding since the last change). */
static void recompute(struct router_locate *e, uint64_t *bits, const struct router_feed_rules *fr,
		      uint32_t scratch_idx)
{
	int64_t i = dec_find(fr->dec, e->symbol);

	if (i >= 0) {
		memcpy(bits, fr->dec->bits + (uint64_t)i * fr->dec->n_words,
		       fr->n_words * sizeof(uint64_t));
	} else {
		char sym[ITCH50_STOCK_LEN];
		uint32_t len = key_symbol(e->symbol, sym);

		memset(bits, 0, fr->n_words * sizeof(uint64_t));
		matcher_match(fr->matcher, scratch_idx, sym, len, bits);
	}
	e->version = fr->version;
}

enum router_verdict router_route(struct router_locates *rl, const struct router_state *rs,
				 const struct router_feed_rules *fr, uint32_t scratch_idx,
				 const uint8_t *msg, uint16_t len, const uint64_t **subs)
{
	uint32_t off;
	uint16_t locate;
	struct router_locate *e;
	uint64_t *bits;

	(void)rs;
	if (len < ITCH50_MIN_ROUTABLE)
		return ROUTE_SHORT;
	locate = itch50_locate(msg);
	/* docs/protocol.md §3.4: locate 0 is feed-wide; it is never bound to a symbol */
	if (locate == 0) {
		*subs = fr->all;
		return ROUTE_OK;
	}
	/* the caller sized the table for every feed (router_state_max_subs) */
	assert(fr->n_words <= rl->max_words);
	e = &rl->e[locate];
	bits = router_locate_bits(rl, e, locate, fr->n_words);
	off = itch50_stock_off[msg[0]];
	if (off != 0 && len >= off + ITCH50_STOCK_LEN) {
		uint64_t key = itch50_stock_key(msg + off);

		/* a stock field (re)binds the locate (docs/protocol.md §3.4) */
		if (e->symbol != key || e->version != fr->version || e->version == 0) {
			/* relaxed: the builder reads bindings (router_state_learn) */
			__atomic_store_n(&e->symbol, key, __ATOMIC_RELAXED);
			recompute(e, bits, fr, scratch_idx);
		}
	} else {
		/*
		 * ITCH 5.0: E, C, X, D, U... carry no symbol; route by the locate's binding.
		 * Unbound = both fields zero, so even an all-NUL stock field, bound under
		 * a non-zero version, stays a binding.
		 */
		if (e->symbol == 0 && e->version == 0)
			return ROUTE_UNBOUND;
		if (e->version != fr->version)
			recompute(e, bits, fr, scratch_idx);
	}
	*subs = bits;
	return ROUTE_OK;
}

void router_publish(struct router_state **slot, struct router_state *next,
		    struct rte_rcu_qsbr *qsbr)
{
	struct router_state *old;

	/* feeds whose decisions changed: the published generation tags them */
	for (uint32_t f = 0; next != NULL && f < next->n_feeds; f++)
		if (next->feeds[f].changed && next->version != 0) {
			next->feeds[f].version = next->version;
			next->feeds[f].changed = false;
		}
	old = __atomic_exchange_n(slot, next, __ATOMIC_ACQ_REL);
	/* docs/conventions.md §4: free only after every RX lcore passed a quiescent state */
	if (qsbr != NULL)
		rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
	router_state_free(old);
}
