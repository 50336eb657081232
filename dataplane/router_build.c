/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A routing state built from a whole table (router_state_build, _build_from): per feed,
 * its subscribers numbered in config order, their type masks, the matcher of their
 * patterns (sharing the compiled shards of the state it replaces) and the decisions of
 * the symbols that state knew; and a state's lifetime and renumbering to slots.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher.h"
#include "router_dec.h"

/* The patterns of one feed, with where each was written, for error messages. */
struct feed_patterns {
	struct matcher_pattern *pats;
	uint32_t *sub; /* config subscriber */
	uint32_t *sym; /* index in its symbols */
	uint32_t n;
};

/* Number the feed's subscribers, set their type masks and list their patterns. */
static void feed_subs(const struct routing_config *cfg, uint32_t feed, struct router_feed_rules *fr,
		      struct feed_patterns *fp)
{
	uint32_t n = 0;

	fp->n = 0;
	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		const struct rc_subscriber *s = &cfg->subs[i];
		uint32_t w = n >> 6;
		uint64_t bit = 1ull << (n & 63);

		if (s->feed != feed)
			continue;
		/* feed-local index = rank among the feed's subscribers in config order */
		fr->subs[n] = i;
		fr->all[w] |= bit;
		for (uint32_t t = 0; t < 256; t++)
			if (rc_sub_wants_type(s, (uint8_t)t))
				fr->type_mask[t * fr->n_words + w] |= bit;
		for (uint32_t j = 0; j < s->n_symbols; j++) {
			fp->pats[fp->n] = (struct matcher_pattern){s->symbols[j], n};
			fp->sub[fp->n] = i;
			fp->sym[fp->n++] = j;
		}
		n++;
	}
}

/* The feed's matcher; on failure, one line naming the subscriber and pattern. */
static int feed_matcher(const struct routing_config *cfg, uint32_t feed,
			struct router_feed_rules *fr, const struct matcher *prev_m,
			uint32_t n_scratch, const struct feed_patterns *fp, char *err,
			size_t errlen)
{
	char hs_err[256];
	uint32_t bad;
	int rc;

	fr->matcher =
	    matcher_build(fp->pats, fp->n, prev_m, n_scratch, hs_err, sizeof(hs_err), &bad);
	if (fr->matcher != NULL)
		return 0;
	rc = -errno;
	if (bad < fp->n) {
		/* docs/conventions.md §2, docs/protocol.md §3.5: one line naming the
		 * subscriber and the pattern */
		const struct rc_subscriber *s = &cfg->subs[fp->sub[bad]];
		uint32_t line =
		    s->symbol_lines != NULL ? s->symbol_lines[fp->sym[bad]] : s->cfg_line;

		snprintf(err, errlen, "%s:%u: symbols: subscriber \"%s\": pattern \"%s\": %s",
			 cfg->path, line, s->name, s->symbols[fp->sym[bad]], hs_err);
	} else {
		snprintf(err, errlen, "%s: feed \"%s\": cannot build the matcher: %s", cfg->path,
			 cfg->feeds[feed].name, hs_err);
	}
	return rc;
}

static int build_feed(const struct routing_config *cfg, uint32_t feed, uint32_t n_scratch,
		      const struct router_feed_rules *prev, struct router_feed_rules *fr,
		      uint64_t version, char *err, size_t errlen)
{
	struct feed_patterns fp = {0};
	uint32_t n_pats = 0, n = 0, words;
	const struct matcher *prev_m = prev != NULL ? prev->matcher : NULL;
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
	snprintf(fr->name, sizeof(fr->name), "%s", cfg->feeds[feed].name);
	/* at least one word each, so a feed without subscribers needs no special case */
	fr->subs = calloc(n ? n : 1, sizeof(*fr->subs));
	fr->type_mask = calloc(256 * (size_t)(words ? words : 1), sizeof(uint64_t));
	fr->all = calloc(words ? words : 1, sizeof(uint64_t));
	fp.pats = malloc((n_pats ? n_pats : 1) * sizeof(*fp.pats));
	fp.sub = malloc((n_pats ? n_pats : 1) * sizeof(*fp.sub));
	fp.sym = malloc((n_pats ? n_pats : 1) * sizeof(*fp.sym));
	if (fr->subs == NULL || fr->type_mask == NULL || fr->all == NULL || fp.pats == NULL ||
	    fp.sub == NULL || fp.sym == NULL)
		goto nomem;
	feed_subs(cfg, feed, fr, &fp);
	rc = feed_matcher(cfg, feed, fr, prev_m, n_scratch, &fp, err, errlen);
	if (rc < 0)
		goto out;
	fr->regex_reused = matcher_shares_db(prev_m, fr->matcher);
	/* the symbols the previous rules had decided, decided again under these */
	fr->dec = router_dec_copy(prev != NULL ? prev->dec : NULL, words ? words : 1, 0);
	if (fr->dec == NULL) {
		rc = -ENOMEM;
		goto nomem;
	}
	router_dec_decide_all(fr->dec, fr->matcher, fr->dec->bits);
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "%s: feed \"%s\": out of memory", cfg->path, cfg->feeds[feed].name);
out:
	free(fp.sym);
	free(fp.sub);
	free(fp.pats);
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
	router_dec_put(fr->dec);
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
