/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Router and matcher (docs/protocol.md §3.4, §3.5): locate binding, pattern semantics, type
 * filters, feed-wide locate 0, re-binding, rule-set versions and config errors.
 * The routing_config is built by hand so the router's own error path is reached
 * (the YAML loader would reject an invalid pattern first).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "itch50.h"
#include "matcher.h"
#include "router.h"

#define PATH "routing.yaml"

/* ---- hand-built configuration ---- */

static struct routing_config *cfg_new(uint32_t n_feeds, uint32_t n_subs)
{
	struct routing_config *cfg = calloc(1, sizeof(*cfg));

	cr_assert_not_null(cfg);
	cfg->path = strdup(PATH);
	cfg->n_feeds = n_feeds;
	cfg->feeds = calloc(n_feeds, sizeof(*cfg->feeds));
	cfg->n_subs = n_subs;
	cfg->subs = calloc(n_subs, sizeof(*cfg->subs));
	cr_assert(cfg->path && cfg->feeds && cfg->subs);
	for (uint32_t f = 0; f < n_feeds; f++)
		snprintf(cfg->feeds[f].name, RC_NAME_MAX, "feed%u", f);
	return cfg;
}

/* `types` NULL = all types. Pattern j of subscriber i sits on YAML line 100+10i+j. */
static void sub_set(struct routing_config *cfg, uint32_t i, const char *name, uint32_t feed,
		    const char *types, uint32_t n, const char *const *syms)
{
	struct rc_subscriber *s = &cfg->subs[i];

	snprintf(s->name, RC_NAME_MAX, "%s", name);
	s->feed = feed;
	s->cfg_line = 100 + 10 * i;
	s->all_types = types == NULL;
	for (const char *t = types; t != NULL && *t != '\0'; t++)
		s->types[(uint8_t)*t >> 6] |= 1ull << ((uint8_t)*t & 63);
	s->n_symbols = n;
	s->symbols = calloc(n, sizeof(*s->symbols));
	s->symbol_lines = calloc(n, sizeof(*s->symbol_lines));
	cr_assert(s->symbols && s->symbol_lines);
	for (uint32_t j = 0; j < n; j++) {
		s->symbols[j] = strdup(syms[j]);
		s->symbol_lines[j] = s->cfg_line + j;
	}
}

static void cfg_free(struct routing_config *cfg)
{
	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		for (uint32_t j = 0; j < cfg->subs[i].n_symbols; j++)
			free(cfg->subs[i].symbols[j]);
		free(cfg->subs[i].symbols);
		free(cfg->subs[i].symbol_lines);
	}
	free(cfg->subs);
	free(cfg->feeds);
	free(cfg->path);
	free(cfg);
}

/* One feed, subscriber i takes pattern list pats[i] (NULL-terminated), all types. */
static struct router_state *build1(const char *const *const *pats, uint32_t n_subs,
				   uint64_t version)
{
	struct routing_config *cfg = cfg_new(1, n_subs);
	char err[RC_ERR_LEN];
	struct router_state *rs;

	for (uint32_t i = 0; i < n_subs; i++) {
		char name[16];
		uint32_t n = 0;

		while (pats[i][n] != NULL)
			n++;
		snprintf(name, sizeof(name), "s%u", i);
		sub_set(cfg, i, name, 0, NULL, n, pats[i]);
	}
	rs = router_state_build(cfg, 2, version, err, sizeof(err));
	cr_assert_not_null(rs, "%s", err);
	cfg_free(cfg);
	return rs;
}

/* ---- ITCH 5.0 messages (docs/protocol.md §2) ---- */

/* Add Order (A, 36 bytes, stock at 24) for AAPL on locate 5. */
static const uint8_t msg_a_aapl[36] = {
    'A',  0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* type..timestamp */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,		      /* order ref */
    'B',  0x00, 0x00, 0x00, 0x64,				      /* side, shares */
    'A',  'A',	'P',  'L',  ' ',  ' ',	' ',  ' ',		      /* stock */
    0x00, 0x01, 0x86, 0xa0,					      /* price */
};

/* Order Executed (E, 31 bytes, no stock) on locate 5. */
static const uint8_t msg_e_loc5[31] = {
    'E',  0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
};

/* System Event (S, 12 bytes) on locate 0. */
static const uint8_t msg_s[12] = {
    'S', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 'O',
};

struct msg {
	uint8_t b[64];
	uint16_t len;
};

/* A message of `type` (A, F: stock at 24; R: stock at 11; E, S: none) on `locate`. */
static struct msg mk(char type, uint16_t locate, const char *stock)
{
	struct msg m;
	uint32_t off = 0;

	memset(&m, 0, sizeof(m));
	switch (type) {
	case 'A':
		m.len = 36;
		off = 24;
		break;
	case 'F':
		m.len = 40;
		off = 24;
		break;
	case 'R':
		m.len = 39;
		off = 11;
		break;
	case 'E':
		m.len = 31;
		break;
	case 'S':
		m.len = 12;
		break;
	default:
		cr_assert_fail("type %c", type);
	}
	m.b[0] = (uint8_t)type;
	m.b[1] = (uint8_t)(locate >> 8);
	m.b[2] = (uint8_t)locate;
	if (off != 0) {
		size_t n = strlen(stock);

		cr_assert(n <= 8);
		memset(m.b + off, ' ', 8);
		memcpy(m.b + off, stock, n);
	}
	return m;
}

static enum router_verdict route(struct router_locates *rl, const struct router_state *rs,
				 const uint8_t *msg, uint16_t len, const uint64_t **subs)
{
	return router_route(rl, rs, &rs->feeds[0], 1, msg, len, subs);
}

/* Subscribers (first word) receiving a stock message for `stock` on `locate`. */
static uint64_t who(struct router_locates *rl, const struct router_state *rs, char type,
		    uint16_t locate, const char *stock)
{
	struct msg m = mk(type, locate, stock);
	const uint64_t *subs;

	cr_assert_eq(route(rl, rs, m.b, m.len, &subs), ROUTE_OK);
	return subs[0] & router_type_mask(&rs->feeds[0], m.b[0])[0];
}

/* Each symbol bound on its own locate. */
static uint64_t who_sym(const char *const *pats, const char *stock)
{
	const char *const *p[1] = {pats};
	struct router_state *rs = build1(p, 1, 1);
	struct router_locates *rl = router_locates_create(64);
	uint64_t r;

	cr_assert_not_null(rl);
	r = who(rl, rs, 'R', 9, stock);
	router_locates_free(rl);
	router_state_free(rs);
	return r;
}

/* ---- pattern semantics (docs/protocol.md §3.5) ---- */

Test(router, exact_literal)
{
	static const char *const pats[] = {"^AAPL$", NULL};

	cr_expect_eq(who_sym(pats, "AAPL"), 1);
	cr_expect_eq(who_sym(pats, "AAPLX"), 0);
	cr_expect_eq(who_sym(pats, "XAAPL"), 0);
	cr_expect_eq(who_sym(pats, "AAP"), 0);
	cr_expect_eq(who_sym(pats, "aapl"), 0, "case-sensitive");
}

Test(router, exact_literal_uses_hash_not_hyperscan)
{
	static const char *const p0[] = {"^AAPL$", "^BRK\\.A$", "^ABCDEFGH$", NULL};
	static const char *const p1[] = {"^MS", "^ABCDEFGHI$", "^A B$", NULL};
	const char *const *p[] = {p0, p1};
	struct router_state *rs = build1(p, 2, 1);

	/* 9 characters and an escaped space are not symbol literals; ^MS is a prefix */
	cr_expect_eq(matcher_n_exact(rs->feeds[0].matcher), 3);
	cr_expect_eq(matcher_n_prefix(rs->feeds[0].matcher), 1);
	cr_expect_eq(matcher_n_regex(rs->feeds[0].matcher), 2);
	router_state_free(rs);
}

Test(router, prefix)
{
	static const char *const pats[] = {"^MS", NULL};

	cr_expect_eq(who_sym(pats, "MS"), 1);
	cr_expect_eq(who_sym(pats, "MSFT"), 1);
	cr_expect_eq(who_sym(pats, "XMS"), 0);
}

Test(router, unanchored)
{
	static const char *const pats[] = {"BM", NULL};

	cr_expect_eq(who_sym(pats, "IBM"), 1);
	cr_expect_eq(who_sym(pats, "BMW"), 1);
	cr_expect_eq(who_sym(pats, "BX"), 0);
}

Test(router, alternation)
{
	static const char *const pats[] = {"^(AAPL|MSFT)$", NULL};

	cr_expect_eq(who_sym(pats, "AAPL"), 1);
	cr_expect_eq(who_sym(pats, "MSFT"), 1);
	cr_expect_eq(who_sym(pats, "AAPLX"), 0);
	cr_expect_eq(who_sym(pats, "IBM"), 0);
}

Test(router, character_class)
{
	static const char *const pats[] = {"^[A-C]", NULL};

	cr_expect_eq(who_sym(pats, "AAPL"), 1);
	cr_expect_eq(who_sym(pats, "CSCO"), 1);
	cr_expect_eq(who_sym(pats, "DELL"), 0);
	cr_expect_eq(who_sym(pats, "ZA"), 0);
}

Test(router, escaped_dot)
{
	static const char *const exact[] = {"^BRK\\.A$", NULL};
	static const char *const regex[] = {"\\.B$", NULL};

	cr_expect_eq(who_sym(exact, "BRK.A"), 1);
	cr_expect_eq(who_sym(exact, "BRKXA"), 0);
	cr_expect_eq(who_sym(exact, "BRK.AB"), 0);
	cr_expect_eq(who_sym(regex, "BRK.B"), 1);
	cr_expect_eq(who_sym(regex, "BRKXB"), 0);
}

Test(router, empty_symbol_is_a_binding)
{
	static const char *const p0[] = {"^$", NULL};
	static const char *const p1[] = {"^A", NULL};
	const char *const *p[] = {p0, p1};
	struct router_state *rs = build1(p, 2, 1);
	struct router_locates *rl = router_locates_create(2);
	const uint64_t *subs;

	cr_assert_eq(who(rl, rs, 'R', 5, ""), 1);
	/* bound to the all-space symbol: an E message on it is routed, not unbound */
	cr_assert_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 1);
	router_locates_free(rl);
	router_state_free(rs);
}

Test(router, several_patterns_set_the_bit_once)
{
	static const char *const p0[] = {"^AAPL$", "^AA", "APL", "^(AAPL|IBM)$", NULL};
	static const char *const p1[] = {"^IBM$", NULL};
	static const char *const p2[] = {"^AAPL$", NULL};
	const char *const *p[] = {p0, p1, p2};
	struct router_state *rs = build1(p, 3, 1);
	struct router_locates *rl = router_locates_create(3);

	cr_expect_eq(who(rl, rs, 'A', 5, "AAPL"), 0x5);
	cr_expect_eq(who(rl, rs, 'A', 6, "IBM"), 0x3);
	cr_expect_eq(who(rl, rs, 'A', 7, "AAX"), 0x1);
	cr_expect_eq(who(rl, rs, 'A', 8, "MSFT"), 0x0);
	router_locates_free(rl);
	router_state_free(rs);
}

/* ---- types, locate 0, binding (docs/protocol.md §3.4) ---- */

static struct routing_config *types_cfg(void)
{
	static const char *const aapl[] = {"^AAPL$"};
	struct routing_config *cfg = cfg_new(2, 4);

	sub_set(cfg, 0, "af", 0, "AF", 1, aapl);
	sub_set(cfg, 1, "other-feed", 1, NULL, 1, aapl);
	sub_set(cfg, 2, "all", 0, NULL, 1, aapl);
	sub_set(cfg, 3, "es", 0, "ES", 1, aapl);
	return cfg;
}

Test(router, feed_local_indices_and_masks)
{
	struct routing_config *cfg = types_cfg();
	char err[RC_ERR_LEN];
	struct router_state *rs = router_state_build(cfg, 3, 7, err, sizeof(err));

	cr_assert_not_null(rs, "%s", err);
	cr_expect_eq(rs->version, 7);
	cr_expect_eq(rs->n_scratch, 3);
	cr_assert_eq(rs->n_feeds, 2);
	cr_assert_eq(rs->feeds[0].n_subs, 3);
	cr_expect_eq(rs->feeds[0].n_words, 1);
	cr_expect_eq(rs->feeds[0].subs[0], 0);
	cr_expect_eq(rs->feeds[0].subs[1], 2);
	cr_expect_eq(rs->feeds[0].subs[2], 3);
	cr_expect_eq(rs->feeds[0].all[0], 0x7);
	cr_assert_eq(rs->feeds[1].n_subs, 1);
	cr_expect_eq(rs->feeds[1].subs[0], 1);
	cr_expect_eq(router_type_mask(&rs->feeds[0], 'A')[0], 0x3);
	cr_expect_eq(router_type_mask(&rs->feeds[0], 'E')[0], 0x6);
	cr_expect_eq(router_type_mask(&rs->feeds[0], 'S')[0], 0x6);
	cr_expect_eq(router_type_mask(&rs->feeds[0], 'Z')[0], 0x2, "unknown type: all only");
	cr_expect_eq(router_state_max_subs(rs), 3);
	cr_expect_not_null(rs->feeds[0].matcher);
	router_state_free(rs);
	cfg_free(cfg);
}

Test(router, type_filters)
{
	struct routing_config *cfg = types_cfg();
	char err[RC_ERR_LEN];
	struct router_state *rs = router_state_build(cfg, 2, 1, err, sizeof(err));
	struct router_locates *rl = router_locates_create(3);
	const struct router_feed_rules *fr;
	const uint64_t *subs;

	cr_assert_not_null(rs, "%s", err);
	fr = &rs->feeds[0];
	cr_assert_eq(router_route(rl, rs, fr, 0, msg_a_aapl, sizeof(msg_a_aapl), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x7, "every subscriber of the feed matches AAPL");
	cr_expect_eq(subs[0] & router_type_mask(fr, 'A')[0], 0x3);
	cr_assert_eq(router_route(rl, rs, fr, 0, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0] & router_type_mask(fr, 'E')[0], 0x6, "types \"AF\" takes no E");
	router_locates_free(rl);
	router_state_free(rs);
	cfg_free(cfg);
}

Test(router, locate0_goes_to_all_subject_to_types)
{
	struct routing_config *cfg = types_cfg();
	char err[RC_ERR_LEN];
	struct router_state *rs = router_state_build(cfg, 1, 1, err, sizeof(err));
	struct router_locates *rl = router_locates_create(3);
	const struct router_feed_rules *fr;
	const uint64_t *subs;
	struct msg a0 = mk('A', 0, "MSFT");

	cr_assert_not_null(rs, "%s", err);
	fr = &rs->feeds[0];
	cr_assert_eq(router_route(rl, rs, fr, 0, msg_s, sizeof(msg_s), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x7);
	cr_expect_eq(subs[0] & router_type_mask(fr, 'S')[0], 0x6);
	/* a stock message on locate 0 is feed-wide too, whatever its symbol, and does
	 * not bind locate 0 */
	cr_assert_eq(router_route(rl, rs, fr, 0, a0.b, a0.len, &subs), ROUTE_OK);
	cr_expect_eq(subs[0] & router_type_mask(fr, 'A')[0], 0x3);
	cr_expect_eq(rl->e[0].symbol, 0);
	cr_expect_eq(rl->e[0].version, 0);
	router_locates_free(rl);
	router_state_free(rs);
	cfg_free(cfg);
}

Test(router, unbound_and_short)
{
	static const char *const p0[] = {"^AAPL$", NULL};
	const char *const *p[] = {p0};
	struct router_state *rs = build1(p, 1, 1);
	struct router_locates *rl = router_locates_create(1);
	const uint64_t *subs = NULL;
	struct msg e77 = mk('E', 77, NULL);

	cr_expect_eq(route(rl, rs, e77.b, e77.len, &subs), ROUTE_UNBOUND);
	cr_expect_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_UNBOUND);
	cr_expect_eq(route(rl, rs, msg_s, 0, &subs), ROUTE_SHORT);
	cr_expect_eq(route(rl, rs, msg_s, 1, &subs), ROUTE_SHORT);
	cr_expect_eq(route(rl, rs, msg_s, 2, &subs), ROUTE_SHORT);
	cr_expect_eq(route(rl, rs, msg_s, 3, &subs), ROUTE_OK, "type + locate is enough");
	/* an unknown type routes by its locate like any other (docs/protocol.md §3.2) */
	e77.b[0] = 'z';
	cr_expect_eq(route(rl, rs, e77.b, 3, &subs), ROUTE_UNBOUND);
	cr_expect_eq(who(rl, rs, 'R', 77, "AAPL"), 1);
	cr_expect_eq(route(rl, rs, e77.b, 3, &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 1);
	/* a stock type too short to hold its stock field cannot bind */
	cr_expect_eq(route(rl, rs, msg_a_aapl, 20, &subs), ROUTE_UNBOUND);
	router_locates_free(rl);
	router_state_free(rs);
}

Test(router, feed_without_subscribers_routes_to_nobody)
{
	/* feed 1 has no subscriber: its rules have no bitmap word at all */
	static const char *const p0[] = {"^AAPL$"};
	struct routing_config *cfg = cfg_new(2, 1);
	char err[RC_ERR_LEN];
	struct router_state *rs;
	struct router_locates *rl = router_locates_create(1);
	const uint64_t *subs = NULL;
	struct msg r = mk('R', 5, "AAPL");

	sub_set(cfg, 0, "s0", 0, NULL, 1, p0);
	rs = router_state_build(cfg, 1, 1, err, sizeof(err));
	cr_assert_not_null(rs, "%s", err);
	cr_assert_not_null(rl);
	cr_assert_eq(rs->feeds[1].n_words, 0);
	cr_expect_eq(router_route(rl, rs, &rs->feeds[1], 0, r.b, r.len, &subs), ROUTE_OK);
	cr_expect_eq(router_route(rl, rs, &rs->feeds[1], 0, msg_e_loc5, sizeof(msg_e_loc5), &subs),
		     ROUTE_OK, "the R message bound locate 5");
	router_locates_free(rl);
	router_state_free(rs);
	cfg_free(cfg);
}

Test(router, bitmap_in_the_record_up_to_64_subscribers)
{
	struct router_locates *narrow = router_locates_create(64);
	struct router_locates *wide = router_locates_create(65);
	struct router_locate *e;

	cr_assert(narrow && wide);
	cr_expect_eq(sizeof(struct router_locate), 32, "a record fits half a cache line");
	cr_expect_eq((uintptr_t)narrow->e % 64, 0, "records never straddle a line");
	cr_expect_null(narrow->wide, "no separate bitmaps for one word");
	e = &narrow->e[7];
	cr_expect_eq(router_locate_bits(narrow, e, 7, 1), &e->bits);
	cr_expect_eq(router_locate_bits(narrow, e, 7, 0), &e->bits);
	e = &wide->e[7];
	cr_expect_eq(router_locate_bits(wide, e, 7, 1), &e->bits,
		     "a one-word state of a wide table");
	cr_expect_eq(router_locate_bits(wide, e, 7, 2), wide->wide + 14);
	router_locates_free(narrow);
	router_locates_free(wide);
}

Test(router, reset_then_rebind_new_session)
{
	static const char *const p0[] = {"^AAPL$", NULL};
	static const char *const p1[] = {"^MSFT$", NULL};
	const char *const *p[] = {p0, p1};
	struct router_state *rs = build1(p, 2, 1);
	struct router_locates *rl = router_locates_create(2);
	const uint64_t *subs;

	cr_assert_eq(who(rl, rs, 'R', 5, "AAPL"), 0x1);
	cr_assert_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x1);
	router_locates_reset(rl);
	cr_expect_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_UNBOUND);
	cr_expect_eq(who(rl, rs, 'R', 5, "MSFT"), 0x2);
	cr_assert_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x2);
	router_locates_free(rl);
	router_state_free(rs);
}

Test(router, rebind_by_stock_message)
{
	static const char *const p0[] = {"^AAPL$", NULL};
	static const char *const p1[] = {"^MSFT$", NULL};
	const char *const *p[] = {p0, p1};
	struct router_state *rs = build1(p, 2, 1);
	struct router_locates *rl = router_locates_create(2);
	const uint64_t *subs;

	cr_assert_eq(route(rl, rs, msg_a_aapl, sizeof(msg_a_aapl), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x1);
	cr_expect_eq(who(rl, rs, 'A', 5, "MSFT"), 0x2);
	cr_assert_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x2);
	cr_expect_eq(who(rl, rs, 'F', 5, "AAPL"), 0x1);
	cr_assert_eq(route(rl, rs, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x1);
	router_locates_free(rl);
	router_state_free(rs);
}

Test(router, version_change_recomputes)
{
	static const char *const aapl[] = {"^AAPL$", NULL};
	static const char *const msft[] = {"^MSFT$", NULL};
	static const char *const none[] = {"^ZZZZ$", NULL};
	const char *const *p1[] = {aapl, msft};
	const char *const *p2[] = {msft, aapl};
	const char *const *p3[70];
	struct router_state *rs1 = build1(p1, 2, 1), *rs2 = build1(p2, 2, 2), *rs3;
	struct router_locates *rl = router_locates_create(70);
	const uint64_t *subs;

	for (uint32_t i = 0; i < 70; i++)
		p3[i] = i == 69 ? aapl : none;
	rs3 = build1(p3, 70, 3);

	cr_assert_eq(route(rl, rs1, msg_a_aapl, sizeof(msg_a_aapl), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x1);
	cr_assert_eq(route(rl, rs1, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x1);
	/* new rules, same bindings: the next message is routed by the new state */
	cr_assert_eq(route(rl, rs2, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x2);
	cr_expect_eq(rl->e[5].version, 2);
	/* a wider state (two words): subscriber 69 is bit 5 of word 1 */
	cr_assert_eq(route(rl, rs3, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0);
	cr_expect_eq(subs[1], 1ull << 5);
	/* and back: never a stale cached bitmap */
	cr_assert_eq(route(rl, rs1, msg_e_loc5, sizeof(msg_e_loc5), &subs), ROUTE_OK);
	cr_expect_eq(subs[0], 0x1);
	router_locates_free(rl);
	router_state_free(rs3);
	router_state_free(rs2);
	router_state_free(rs1);
}

/* ---- configuration errors (docs/protocol.md §3.5, docs/conventions.md §2) ---- */

Test(router, invalid_pattern_error_line)
{
	static const char *const ok[] = {"^AAPL$", "^MS"};
	static const char *const bad[] = {"^IBM$", "^(AAPL", "[z-a]"};
	struct routing_config *cfg = cfg_new(2, 4);
	char err[RC_ERR_LEN];

	sub_set(cfg, 0, "zeta", 0, NULL, 2, ok);
	sub_set(cfg, 1, "alpha", 1, NULL, 2, ok);
	sub_set(cfg, 2, "beta", 1, "AE", 3, bad);
	sub_set(cfg, 3, "gamma", 1, NULL, 3, bad);
	errno = 0;
	cr_assert_null(router_state_build(cfg, 1, 1, err, sizeof(err)));
	cr_expect_eq(errno, EINVAL);
	/* the first subscriber, in config order, that uses the pattern is named */
	cr_expect_str_eq(err, "routing.yaml:121: symbols: subscriber \"beta\": pattern \"^(AAPL\": "
			      "Missing close parenthesis for group started at index 1.");
	cfg_free(cfg);
}

Test(router, invalid_class_error_line)
{
	static const char *const bad[] = {"^IBM$", "[z-a]"};
	struct routing_config *cfg = cfg_new(1, 1);
	char err[RC_ERR_LEN];

	sub_set(cfg, 0, "alpha", 0, NULL, 2, bad);
	cr_assert_null(router_state_build(cfg, 1, 1, err, sizeof(err)));
	cr_expect_str_eq(err, "routing.yaml:101: symbols: subscriber \"alpha\": pattern \"[z-a]\": "
			      "Range out of order in character class at index 3.");
	cfg_free(cfg);
}

Test(router, matcher_check)
{
	char err[256];

	cr_expect_eq(matcher_check("^AAPL$", err, sizeof(err)), 0);
	cr_expect_eq(matcher_check("^(AAPL|MSFT)", err, sizeof(err)), 0);
	cr_expect_eq(matcher_check("^(AAPL", err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "Missing close parenthesis for group started at index 1.");
}

/* ---- scale ---- */

Test(router, thousand_subscribers)
{
	enum { N = 1000 };
	struct routing_config *cfg = cfg_new(1, N);
	char err[RC_ERR_LEN];
	struct router_state *rs;
	struct router_locates *rl;
	const uint64_t *subs;

	for (uint32_t i = 0; i < N; i++) {
		char p[4][24], name[16];
		const char *pp[4] = {p[0], p[1], p[2], p[3]};
		uint32_t n = 3;

		snprintf(name, sizeof(name), "s%u", i);
		snprintf(p[0], sizeof(p[0]), "^S%u$", i);
		snprintf(p[1], sizeof(p[1]), "^T%u$", i);
		snprintf(p[2], sizeof(p[2]), "^Z[Z]"); /* shared by all: compiled once */
		if (i % 10 == 0)
			snprintf(p[n++], sizeof(p[3]), "^R%u[A-Z]$", i);
		sub_set(cfg, i, name, 0, NULL, n, pp);
	}
	rs = router_state_build(cfg, 1, 1, err, sizeof(err));
	cr_assert_not_null(rs, "%s", err);
	cr_assert_eq(rs->feeds[0].n_words, 16);
	cr_expect_eq(matcher_n_exact(rs->feeds[0].matcher), 2 * N);
	cr_expect_eq(matcher_n_regex(rs->feeds[0].matcher), N + N / 10);
	rl = router_locates_create(router_state_max_subs(rs));
	cr_assert_not_null(rl);

	static const char *const syms[] = {"S700", "T700", "R700X"};
	for (uint32_t k = 0; k < 3; k++) {
		struct msg m = mk('A', (uint16_t)(100 + k), syms[k]);

		cr_assert_eq(router_route(rl, rs, &rs->feeds[0], 0, m.b, m.len, &subs), ROUTE_OK);
		for (uint32_t w = 0; w < 16; w++)
			cr_expect_eq(subs[w], w == 700 / 64 ? 1ull << (700 % 64) : 0, "%s word %u",
				     syms[k], w);
	}
	struct msg zz = mk('A', 60000, "ZZTOP");
	cr_assert_eq(router_route(rl, rs, &rs->feeds[0], 0, zz.b, zz.len, &subs), ROUTE_OK);
	for (uint32_t w = 0; w < 16; w++)
		cr_expect_eq(subs[w], w < 15 ? ~0ull : (1ull << (N - 15 * 64)) - 1);
	router_locates_free(rl);
	router_state_free(rs);
	cfg_free(cfg);
}

Test(router, twenty_thousand_exact_patterns, .timeout = 10)
{
	enum { SUBS = 2000, PER = 10 };
	struct routing_config *cfg = cfg_new(1, SUBS);
	char err[RC_ERR_LEN];
	struct router_state *rs;
	struct router_locates *rl;

	for (uint32_t i = 0; i < SUBS; i++) {
		char p[PER][16], name[16];
		const char *pp[PER];

		snprintf(name, sizeof(name), "s%u", i);
		for (uint32_t j = 0; j < PER; j++) {
			snprintf(p[j], sizeof(p[j]), "^X%05u$", i * PER + j);
			pp[j] = p[j];
		}
		sub_set(cfg, i, name, 0, NULL, PER, pp);
	}
	rs = router_state_build(cfg, 1, 1, err, sizeof(err));
	cr_assert_not_null(rs, "%s", err);
	/* no regex compile at all: the build is a hash insert per pattern */
	cr_expect_eq(matcher_n_exact(rs->feeds[0].matcher), SUBS * PER);
	cr_expect_eq(matcher_n_regex(rs->feeds[0].matcher), 0);
	rl = router_locates_create(SUBS);
	cr_assert_not_null(rl);
	for (uint32_t k = 0; k < SUBS * PER; k += 997) {
		char sym[16];
		const uint64_t *subs;
		uint32_t owner = k / PER;
		struct msg m;

		snprintf(sym, sizeof(sym), "X%05u", k);
		m = mk('R', (uint16_t)(1 + k % 65535), sym);
		cr_assert_eq(router_route(rl, rs, &rs->feeds[0], 0, m.b, m.len, &subs), ROUTE_OK);
		for (uint32_t w = 0; w < rs->feeds[0].n_words; w++)
			cr_expect_eq(subs[w], w == owner / 64 ? 1ull << (owner % 64) : 0);
	}
	router_locates_free(rl);
	router_state_free(rs);
	cfg_free(cfg);
}

/* ---- publish ---- */

Test(router, publish_without_qsbr_frees_old)
{
	static const char *const p0[] = {"^AAPL$", NULL};
	static const char *const p1[] = {"^MSFT$", NULL};
	const char *const *pa[] = {p0};
	const char *const *pb[] = {p1};
	struct router_state *slot = NULL;
	struct router_state *s1 = build1(pa, 1, 1), *s2 = build1(pb, 1, 2);
	struct router_locates *rl = router_locates_create(1);
	const uint64_t *subs;

	router_publish(&slot, s1, NULL);
	cr_assert_eq(router_current(&slot), s1);
	cr_assert_eq(route(rl, router_current(&slot), msg_a_aapl, sizeof(msg_a_aapl), &subs),
		     ROUTE_OK);
	cr_expect_eq(subs[0], 1);
	router_publish(&slot, s2, NULL); /* frees s1 */
	cr_assert_eq(router_current(&slot), s2);
	cr_assert_eq(route(rl, router_current(&slot), msg_e_loc5, sizeof(msg_e_loc5), &subs),
		     ROUTE_OK);
	cr_expect_eq(subs[0], 0, "AAPL no longer matches under the new rules");
	router_publish(&slot, NULL, NULL); /* frees s2 */
	cr_expect_null(router_current(&slot));
	router_locates_free(rl);
}

/* Issue #3: a table change that leaves the set of regex expressions alone must not
 * recompile Hyperscan; the next matcher shares the compiled database. */
static uint64_t match_bits(const struct matcher *m, const char *sym)
{
	uint64_t bits = 0;

	matcher_match(m, MATCHER_SCRATCH_BUILDER, sym, (uint32_t)strlen(sym), &bits);
	return bits;
}

Test(matcher, exact_changes_reuse_the_database)
{
	const struct matcher_pattern a[] = {{"^AAPL$", 0}, {"^MS", 1}, {"BM", 2}};
	const struct matcher_pattern b[] = {
	    {"^AAPL$", 0}, {"^IBM$", 0}, {"^MS", 1}, {"BM", 2}, {"^GOOG$", 3}};
	char err[256];
	uint32_t bad;
	struct matcher *ma = matcher_build(a, 3, NULL, 1, err, sizeof(err), &bad);
	struct matcher *mb;

	cr_assert_not_null(ma, "%s", err);
	mb = matcher_build(b, 5, ma, 1, err, sizeof(err), &bad);
	cr_assert_not_null(mb, "%s", err);
	cr_expect(matcher_shares_db(mb, ma), "exact-only change recompiled");
	matcher_free(ma); /* the shared database outlives its first matcher */
	cr_expect_eq(match_bits(mb, "MSFT"), 1u << 1);
	cr_expect_eq(match_bits(mb, "IBM"), (1u << 0) | (1u << 2));
	cr_expect_eq(match_bits(mb, "GOOG"), 1u << 3);
	cr_expect_eq(match_bits(mb, "AAPL"), 1u << 0);
	matcher_free(mb);
}

Test(matcher, reordered_expressions_keep_their_subscribers)
{
	const struct matcher_pattern a[] = {{"^MS", 0}, {"BM", 1}, {"^[A-C]", 2}};
	/* same expressions, other order and other subscribers */
	const struct matcher_pattern b[] = {{"^[A-C]", 0}, {"BM", 0}, {"^MS", 5}};
	char err[256];
	uint32_t bad;
	struct matcher *ma = matcher_build(a, 3, NULL, 1, err, sizeof(err), &bad);
	struct matcher *mb = matcher_build(b, 3, ma, 1, err, sizeof(err), &bad);

	cr_assert_not_null(mb, "%s", err);
	cr_expect(matcher_shares_db(mb, ma));
	cr_expect_eq(match_bits(mb, "MSFT"), 1u << 5);
	cr_expect_eq(match_bits(mb, "IBM"), 1u << 0);
	cr_expect_eq(match_bits(mb, "CSCO"), 1u << 0);
	cr_expect_eq(match_bits(ma, "CSCO"), 1u << 2,
		     "the previous matcher still routes as before");
	matcher_free(ma);
	matcher_free(mb);
}

Test(matcher, regex_change_compiles)
{
	const struct matcher_pattern a[] = {{"^M[S]", 0}};
	const struct matcher_pattern b[] = {{"^M[S]", 0}, {"^Z[A-Z]", 1}};
	char err[256];
	uint32_t bad;
	struct matcher *ma = matcher_build(a, 1, NULL, 1, err, sizeof(err), &bad);
	struct matcher *mb = matcher_build(b, 2, ma, 1, err, sizeof(err), &bad);

	cr_assert_not_null(mb, "%s", err);
	cr_expect(!matcher_shares_db(ma, mb), "the new expression's shard was not compiled");
	cr_expect_eq(matcher_compiled_shards(mb, ma), 1);
	cr_expect_eq(match_bits(mb, "ZVZZT"), 1u << 1);
	matcher_free(ma);
	matcher_free(mb);
}

/* Anchored literal prefixes skip Hyperscan (a hash per prefix length): they must route
 * exactly as Hyperscan would. `^(?:LIT)` is the same rule kept on the Hyperscan path. */
Test(matcher, prefix_hash_agrees_with_hyperscan)
{
	static const char *const lits[] = {"A",	     "AB", "ABC",      "MS", "MSF",
					   "BRK\\.", "Z9", "ABCDEFGH", "Q",  "QQ"};
	static const char *const syms[] = {"A",	 "AB",	 "ABC", "ABCD",	 "ABCDEFGH", "ABCDEFG",
					   "MS", "MSFT", "M",	"BRK.A", "BRK",	     "Z9",
					   "Z",	 "Q",	 "QQQ", "B",	 "XMS",	     ""};
	enum { N = sizeof(lits) / sizeof(lits[0]) };
	struct matcher_pattern fast[N + 1], slow[N + 1];
	char hat[N][32], group[N][32], err[256];
	uint32_t bad;

	for (uint32_t i = 0; i < N; i++) {
		snprintf(hat[i], sizeof(hat[i]), "^%s", lits[i]);
		snprintf(group[i], sizeof(group[i]), "^(?:%s)", lits[i]);
		fast[i] = (struct matcher_pattern){.expr = hat[i], .sub = i};
		slow[i] = (struct matcher_pattern){.expr = group[i], .sub = i};
	}
	/* one more subscriber on both sides: a shared prefix, two subscribers */
	fast[N] = (struct matcher_pattern){.expr = "^AB", .sub = N};
	slow[N] = (struct matcher_pattern){.expr = "^(?:AB)", .sub = N};

	struct matcher *mf = matcher_build(fast, N + 1, NULL, 1, err, sizeof(err), &bad);
	struct matcher *ms = matcher_build(slow, N + 1, NULL, 1, err, sizeof(err), &bad);

	cr_assert_not_null(mf, "%s", err);
	cr_assert_not_null(ms, "%s", err);
	cr_expect_eq(matcher_n_prefix(mf), N + 1);
	cr_expect_eq(matcher_n_regex(mf), 0, "a prefix reached Hyperscan");
	cr_expect_eq(matcher_n_regex(ms), N + 1);
	for (size_t k = 0; k < sizeof(syms) / sizeof(syms[0]); k++)
		cr_expect_eq(match_bits(mf, syms[k]), match_bits(ms, syms[k]),
			     "symbol \"%s\": prefix hash %#lx, Hyperscan %#lx", syms[k],
			     (unsigned long)match_bits(mf, syms[k]),
			     (unsigned long)match_bits(ms, syms[k]));
	cr_expect_eq(match_bits(mf, "ABCD"), (1u << 0) | (1u << 1) | (1u << 2) | (1u << N));
	matcher_free(mf);
	matcher_free(ms);
}

/* From 64 distinct regexes on they are sharded: adding one recompiles one shard, and
 * the result routes exactly as a matcher built from scratch. */
Test(matcher, sharded_regex_change_recompiles_one_shard, .timeout = 60)
{
	enum { N = 200 };
	static char exprs[N + 1][32];
	struct matcher_pattern a[N + 1];
	static const char *const syms[] = {"AB1", "XAB7", "Q", "ZZ9", "ABC", "A17", "MSFT", ""};
	char err[256];
	uint32_t bad;

	for (uint32_t i = 0; i <= N; i++) {
		/* distinct regexes: a letter pair, a digit class */
		snprintf(exprs[i], sizeof(exprs[i]), "^%c%c[0-%u]", 'A' + i % 26, 'A' + i / 26 % 26,
			 i % 10);
		a[i] = (struct matcher_pattern){.expr = exprs[i], .sub = i % 64};
	}
	struct matcher *ma = matcher_build(a, N, NULL, 1, err, sizeof(err), &bad);
	struct matcher *mb, *fresh;

	cr_assert_not_null(ma, "%s", err);
	cr_expect_gt(matcher_compiled_shards(ma, NULL), 1, "200 regexes in one database");
	snprintf(exprs[N], sizeof(exprs[N]), "^Q");
	a[N] = (struct matcher_pattern){.expr = "^(Q|ZZ)", .sub = 63};
	mb = matcher_build(a, N + 1, ma, 1, err, sizeof(err), &bad);
	fresh = matcher_build(a, N + 1, NULL, 1, err, sizeof(err), &bad);
	cr_assert_not_null(mb, "%s", err);
	cr_assert_not_null(fresh, "%s", err);
	cr_expect_eq(matcher_compiled_shards(mb, ma), 1, "one regex added, %u shards compiled",
		     matcher_compiled_shards(mb, ma));
	matcher_free(ma); /* shared shards outlive their first matcher */
	for (size_t k = 0; k < sizeof(syms) / sizeof(syms[0]); k++)
		cr_expect_eq(match_bits(mb, syms[k]), match_bits(fresh, syms[k]), "symbol \"%s\"",
			     syms[k]);
	cr_expect(match_bits(mb, "ZZ9") & (1ull << 63), "the added regex routes");
	cr_expect(match_bits(mb, "AB1") & (1ull << (26 % 64)), "^AB[0-6] (i = 26) routes");
	matcher_free(mb);
	matcher_free(fresh);
}

/* Two invalid regexes in different shards: the error names the one written first. */
Test(matcher, sharded_error_names_first_bad_pattern, .timeout = 60)
{
	enum { N = 100 };
	static char exprs[N][32];
	struct matcher_pattern a[N];
	char err[256] = "";
	uint32_t bad = 0;

	for (uint32_t i = 0; i < N; i++) {
		snprintf(exprs[i], sizeof(exprs[i]), "^%c%c[0-9]", 'A' + i % 26, 'A' + i / 26);
		a[i] = (struct matcher_pattern){.expr = exprs[i], .sub = i % 64};
	}
	a[40].expr = "^(AB";
	a[70].expr = "^[Z";
	cr_assert_null(matcher_build(a, N, NULL, 1, err, sizeof(err), &bad));
	cr_expect_eq(bad, 40);
	cr_expect(strstr(err, "paren") != NULL, "message of ^(AB, got: %s", err);
}
