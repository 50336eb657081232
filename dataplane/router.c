/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message routing (docs/protocol.md §3.4, §3.5): locate -> symbol -> subscriber bitmap.
 *
 * The per-message cost is a locate-indexed read: Hyperscan runs only when a locate is
 * (re)bound to a symbol or the rule set changed (the entry's version differs from
 * the published state's), never for a message whose locate is already resolved.
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

static int build_feed(const struct routing_config *cfg, uint32_t feed, uint32_t n_scratch,
		      const struct matcher *prev, struct router_feed_rules *fr, char *err,
		      size_t errlen)
{
	struct matcher_pattern *pats = NULL;
	uint32_t *pat_sub = NULL, *pat_sym = NULL; /* pattern -> config subscriber, symbol */
	uint32_t n_pats = 0, n = 0, words, bad;
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
	/* at least one word each, so a feed without subscribers needs no special case */
	fr->subs = calloc(n ? n : 1, sizeof(*fr->subs));
	fr->type_mask = calloc(256 * (size_t)(words ? words : 1), sizeof(uint64_t));
	fr->all = calloc(words ? words : 1, sizeof(uint64_t));
	fr->scratch = calloc(n_scratch ? n_scratch : 1, sizeof(*fr->scratch));
	pats = malloc((n_pats ? n_pats : 1) * sizeof(*pats));
	pat_sub = malloc((n_pats ? n_pats : 1) * sizeof(*pat_sub));
	pat_sym = malloc((n_pats ? n_pats : 1) * sizeof(*pat_sym));
	if (fr->subs == NULL || fr->type_mask == NULL || fr->all == NULL || fr->scratch == NULL ||
	    pats == NULL || pat_sub == NULL || pat_sym == NULL) {
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
	fr->matcher = matcher_build_from(pats, n_pats, prev, hs_err, sizeof(hs_err), &bad);
	fr->regex_reused = matcher_shares_db(fr->matcher, prev);
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
	for (uint32_t k = 0; k < n_scratch; k++) {
		fr->scratch[k] = matcher_scratch_alloc(fr->matcher);
		if (fr->scratch[k] == NULL) {
			rc = -ENOMEM;
			snprintf(err, errlen, "%s: feed \"%s\": cannot allocate Hyperscan scratch",
				 cfg->path, cfg->feeds[feed].name);
			goto free_tmp;
		}
	}
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

static const struct matcher *prev_matcher(const struct router_state *prev, const char *feed)
{
	for (uint32_t f = 0; prev != NULL && f < prev->n_feeds; f++)
		if (strcmp(prev->feeds[f].name, feed) == 0)
			return prev->feeds[f].matcher;
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
		rc = build_feed(cfg, f, n_scratch, prev_matcher(prev, cfg->feeds[f].name),
				&rs->feeds[f], err, errlen);
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

void router_state_free(struct router_state *rs)
{
	if (rs == NULL)
		return;
	for (uint32_t f = 0; f < rs->n_feeds; f++) {
		struct router_feed_rules *fr = &rs->feeds[f];

		if (fr->scratch != NULL)
			for (uint32_t k = 0; k < rs->n_scratch; k++)
				matcher_scratch_free(fr->scratch[k]);
		free(fr->scratch);
		matcher_free(fr->matcher);
		free(fr->all);
		free(fr->type_mask);
		free(fr->subs);
	}
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

/* docs/protocol.md §3.4: the symbol is the stock field without its trailing spaces. */
static void recompute(struct router_locate *e, uint64_t *bits, const struct router_feed_rules *fr,
		      struct matcher_scratch *scratch, uint64_t version)
{
	char sym[ITCH50_STOCK_LEN];
	uint32_t len = ITCH50_STOCK_LEN;

	memcpy(sym, &e->symbol, sizeof(sym));
	while (len > 0 && sym[len - 1] == ' ')
		len--;
	memset(bits, 0, fr->n_words * sizeof(uint64_t));
	matcher_match(fr->matcher, scratch, sym, len, bits);
	e->version = version;
}

enum router_verdict router_route(struct router_locates *rl, const struct router_state *rs,
				 const struct router_feed_rules *fr, uint32_t scratch_idx,
				 const uint8_t *msg, uint16_t len, const uint64_t **subs)
{
	uint32_t off;
	uint16_t locate;
	struct router_locate *e;
	uint64_t *bits;

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
		if (e->symbol != key || e->version != rs->version || e->version == 0) {
			e->symbol = key;
			recompute(e, bits, fr, fr->scratch[scratch_idx], rs->version);
		}
	} else {
		/*
		 * ITCH 5.0: E, C, X, D, U... carry no symbol; route by the locate's binding.
		 * Unbound = both fields zero, so even an all-NUL stock field, bound under
		 * a non-zero version, stays a binding.
		 */
		if (e->symbol == 0 && e->version == 0)
			return ROUTE_UNBOUND;
		if (e->version != rs->version)
			recompute(e, bits, fr, fr->scratch[scratch_idx], rs->version);
	}
	*subs = bits;
	return ROUTE_OK;
}

void router_publish(struct router_state **slot, struct router_state *next,
		    struct rte_rcu_qsbr *qsbr)
{
	struct router_state *old = __atomic_exchange_n(slot, next, __ATOMIC_ACQ_REL);

	/* docs/conventions.md §4: free only after every RX lcore passed a quiescent state */
	if (qsbr != NULL)
		rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
	router_state_free(old);
}
