/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Table changes as deltas (docs/architecture.md, "Table changes"): matcher versions,
 * background recompiles swapped in later, decisions computed by the builder, the
 * compile cache, and the differential test — a seeded random run of changes of every
 * kind after each of which every symbol of a universe is routed exactly as a state
 * built from scratch routes it. No EAL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "itch50.h"
#include "matcher.h"
#include "matcher_cache.h"
#include "matcher_pool.h"
#include "router.h"

static uint64_t bits_of(const struct matcher *m, const char *sym)
{
	uint64_t bits[2] = {0, 0};

	matcher_match(m, MATCHER_SCRATCH_BUILDER, sym, (uint32_t)strlen(sym), bits);
	return bits[0];
}

/* ---- matcher versions ---- */

Test(delta, new_regex_goes_to_the_overlay_then_folds)
{
	const struct matcher_pattern a[] = {{"^AAPL$", 0}, {"^M[S]", 1}, {"^I", 2}};
	const struct matcher_pattern add[] = {{"^Z[A-Z]+", 3}};
	char err[256];
	uint32_t bad;
	struct matcher *m0 = matcher_build(a, 3, NULL, 1, err, sizeof(err), &bad), *m1, *m2;

	cr_assert_not_null(m0, "%s", err);
	m1 = matcher_change(m0, add, 1, NULL, 0, err, sizeof(err), &bad);
	cr_assert_not_null(m1, "%s", err);
	cr_expect_eq(matcher_overlay_exprs(m1), 1, "a new expression is compiled alone");
	cr_expect_eq(bits_of(m1, "ZVZZT"), 1u << 3, "in force at once, before any recompile");
	cr_expect_eq(bits_of(m0, "ZVZZT"), 0, "the previous version answers as before");
	cr_expect_eq(bits_of(m1, "MSFT"), 1u << 1);
	cr_expect_eq(matcher_n_regex(m1), 2);
	matcher_fold_wait(m1);
	m2 = matcher_fold(m1);
	cr_assert_not_null(m2, "the shard's recompile finished: %s", strerror(errno));
	cr_expect_eq(matcher_overlay_exprs(m2), 0, "folded into its shard");
	cr_expect_eq(matcher_fold_pending(m2), 0);
	cr_expect_eq(bits_of(m2, "ZVZZT"), 1u << 3);
	cr_expect_eq(bits_of(m2, "MSFT"), 1u << 1);
	cr_expect_eq(bits_of(m2, "AAPL"), 1u << 0);
	cr_expect_eq(bits_of(m2, "IBM"), 1u << 2);
	cr_expect_null(matcher_fold(m2), "nothing left to fold");
	matcher_free(m0);
	matcher_free(m1);
	matcher_free(m2);
}

Test(delta, removed_regex_is_masked_then_dropped)
{
	const struct matcher_pattern a[] = {{"^M[S]", 1}, {"^M[S]", 2}, {"B.M", 0}};
	const struct matcher_pattern del1[] = {{"^M[S]", 1}};
	const struct matcher_pattern del2[] = {{"^M[S]", 2}};
	char err[256];
	uint32_t bad;
	struct matcher *m0 = matcher_build(a, 3, NULL, 1, err, sizeof(err), &bad), *m1, *m2, *m3;

	cr_assert_not_null(m0, "%s", err);
	m1 = matcher_change(m0, NULL, 0, del1, 1, err, sizeof(err), &bad);
	cr_assert_not_null(m1, "%s", err);
	cr_expect_eq(bits_of(m1, "MSFT"), 1u << 2, "another subscriber keeps the expression");
	cr_expect_eq(matcher_compiled_shards(m1, m0), 0, "no compile for a subscriber list");
	cr_expect_eq(matcher_fold_pending(m1), 0, "nothing to recompile");
	m2 = matcher_change(m1, NULL, 0, del2, 1, err, sizeof(err), &bad);
	cr_assert_not_null(m2, "%s", err);
	cr_expect_eq(bits_of(m2, "MSFT"), 0, "masked at match time");
	cr_expect_eq(bits_of(m2, "BXM"), 1u << 0);
	cr_expect_eq(matcher_n_regex(m2), 1);
	cr_expect_eq(matcher_fold_pending(m2), 1, "its shard is recompiled without it");
	matcher_fold_wait(m2);
	m3 = matcher_fold(m2);
	cr_assert_not_null(m3);
	cr_expect_eq(bits_of(m3, "MSFT"), 0);
	cr_expect_eq(bits_of(m3, "BXM"), 1u << 0);
	matcher_free(m0);
	matcher_free(m1);
	matcher_free(m2);
	matcher_free(m3);
}

Test(delta, literal_changes_share_untouched_pieces)
{
	enum { N = 5000 };
	static char exprs[N][16];
	static struct matcher_pattern a[N];
	const struct matcher_pattern add[] = {{"^ZZTOP$", 7}, {"^QQ", 8}};
	const struct matcher_pattern del[] = {{"^S100$", 100 % 64}};
	char err[256];
	uint32_t bad;
	struct matcher *m0, *m1;

	for (uint32_t i = 0; i < N; i++) {
		snprintf(exprs[i], sizeof(exprs[i]), "^S%u$", i);
		a[i] = (struct matcher_pattern){exprs[i], i % 64};
	}
	m0 = matcher_build(a, N, NULL, 1, err, sizeof(err), &bad);
	cr_assert_not_null(m0, "%s", err);
	m1 = matcher_change(m0, add, 2, del, 1, err, sizeof(err), &bad);
	cr_assert_not_null(m1, "%s", err);
	cr_expect_eq(matcher_n_exact(m1), N);
	cr_expect_eq(matcher_n_prefix(m1), 1);
	cr_expect_eq(bits_of(m1, "ZZTOP"), 1u << 7);
	cr_expect_eq(bits_of(m1, "QQQ"), 1u << 8);
	cr_expect_eq(bits_of(m1, "S100"), 0);
	cr_expect_eq(bits_of(m0, "S100"), 1ull << (100 % 64));
	cr_expect_eq(bits_of(m1, "S4999"), 1ull << (4999 % 64));
	cr_expect_eq(matcher_fold_pending(m1), 0, "hash pieces need no recompile");
	matcher_free(m0);
	matcher_free(m1);
}

Test(delta, invalid_added_regex_changes_nothing)
{
	const struct matcher_pattern a[] = {{"^M[S]", 1}};
	const struct matcher_pattern add[] = {{"^AB$", 2}, {"^(Q", 3}};
	char err[256] = "";
	uint32_t bad = 0;
	struct matcher *m0 = matcher_build(a, 1, NULL, 1, err, sizeof(err), &bad);

	cr_assert_not_null(m0);
	cr_expect_null(matcher_change(m0, add, 2, NULL, 0, err, sizeof(err), &bad));
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(bad, 1);
	cr_expect(strstr(err, "paren") != NULL, "got: %s", err);
	cr_expect_eq(bits_of(m0, "MSFT"), 1u << 1);
	matcher_free(m0);
}

/* ---- the compile cache ---- */

static char cache_dir[40];

static void cache_setup(void)
{
	char err[256];

	snprintf(cache_dir, sizeof(cache_dir), "/tmp/aster-cache-test.XXXXXX");
	cr_assert_not_null(mkdtemp(cache_dir));
	cr_assert_eq(matcher_cache_open(cache_dir, 64u << 20, err, sizeof(err)), 0, "%s", err);
}

static void cache_teardown(void)
{
	DIR *d = opendir(cache_dir);
	struct dirent *e;
	char path[512];

	matcher_cache_close();
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", cache_dir, e->d_name);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	rmdir(cache_dir);
}

static uint32_t cache_files(char names[][320], uint32_t max)
{
	DIR *d = opendir(cache_dir);
	struct dirent *e;
	uint32_t n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".hsdb") != NULL && n < max)
			snprintf(names[n++], 320, "%s/%s", cache_dir, e->d_name);
	if (d != NULL)
		closedir(d);
	return n;
}

enum { CN = 120 };
static char cexprs[CN][24];
static struct matcher_pattern cpats[CN];

static struct matcher *cache_matcher(uint32_t variant)
{
	char err[256];
	uint32_t bad;
	struct matcher *m;

	for (uint32_t i = 0; i < CN; i++) {
		snprintf(cexprs[i], sizeof(cexprs[i]), "^%c%c[0-%u]%s", 'A' + i % 26, 'A' + i / 26,
			 i % 10, variant ? "X?" : "");
		cpats[i] = (struct matcher_pattern){cexprs[i], i % 64};
	}
	m = matcher_build(cpats, CN, NULL, 1, err, sizeof(err), &bad);
	cr_assert_not_null(m, "%s", err);
	return m;
}

/* What a matcher of cache_matcher() must answer. */
static void cache_check(const struct matcher *m)
{
	cr_expect_eq(bits_of(m, "AA0"), 1ull << 0);
	cr_expect_eq(bits_of(m, "BA1"), 1ull << 1);
	cr_expect_eq(bits_of(m, "CE6"), 1ull << (106 % 64));
	cr_expect_eq(bits_of(m, "ZZ"), 0);
}

Test(cache, a_rebuild_loads_instead_of_compiling, .init = cache_setup, .fini = cache_teardown)
{
	struct matcher_cache_counters c0, c1, c2;
	char names[32][320];
	struct matcher *m;

	matcher_cache_counters(&c0);
	m = cache_matcher(0);
	matcher_cache_counters(&c1);
	cr_expect_eq(c1.stores - c0.stores, MATCHER_SHARDS, "one file per shard");
	cr_expect_eq(c1.hits, c0.hits);
	cr_expect_eq(cache_files(names, 32), MATCHER_SHARDS);
	cache_check(m);
	matcher_free(m);
	m = cache_matcher(0);
	matcher_cache_counters(&c2);
	cr_expect_eq(c2.hits - c1.hits, MATCHER_SHARDS, "every shard loaded");
	cr_expect_eq(c2.stores, c1.stores, "nothing compiled");
	cache_check(m);
	matcher_free(m);
}

/* A damaged file: ignored, counted, compiled around, replaced; routes as before. */
static void damage_then_build(void (*damage)(const char *path))
{
	struct matcher_cache_counters c0, c1;
	char names[32][320];
	struct matcher *m = cache_matcher(0);

	matcher_free(m);
	cr_assert_eq(cache_files(names, 32), MATCHER_SHARDS);
	damage(names[3]);
	matcher_cache_counters(&c0);
	m = cache_matcher(0);
	matcher_cache_counters(&c1);
	cr_expect_eq(c1.bad - c0.bad, 1, "the damaged file counted");
	cr_expect_eq(c1.hits - c0.hits, MATCHER_SHARDS - 1);
	cr_expect_eq(c1.stores - c0.stores, 1, "its shard compiled and stored again");
	cache_check(m);
	matcher_free(m);
}

static void truncate_file(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(truncate(path, st.st_size / 2), 0);
}

static void flip_byte(const char *path)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	uint8_t b;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(pread(fd, &b, 1, st.st_size - 100), 1);
	b ^= 0x10;
	cr_assert_eq(pwrite(fd, &b, 1, st.st_size - 100), 1);
	close(fd);
}

static char foreign[320];

/* Another expression set's file under this file's name. */
static void replace_with_foreign(const char *path)
{
	cr_assert_eq(rename(foreign, path), 0);
}

Test(cache, truncated_file_is_ignored, .init = cache_setup, .fini = cache_teardown)
{
	damage_then_build(truncate_file);
}

Test(cache, flipped_byte_is_ignored, .init = cache_setup, .fini = cache_teardown)
{
	damage_then_build(flip_byte);
}

Test(cache, foreign_file_is_ignored, .init = cache_setup, .fini = cache_teardown)
{
	char before[32][320], after[64][320];
	uint32_t n;
	struct matcher *m = cache_matcher(1); /* another expression set */

	matcher_free(m);
	n = cache_files(before, 32);
	cr_assert_eq(n, MATCHER_SHARDS);
	/* keep one of its files aside, then drop the rest */
	snprintf(foreign, sizeof(foreign), "%s/foreign.bin", cache_dir);
	cr_assert_eq(rename(before[0], foreign), 0);
	for (uint32_t i = 1; i < n; i++)
		unlink(before[i]);
	n = cache_files(after, 64);
	cr_assert_eq(n, 0);
	damage_then_build(replace_with_foreign);
}

Test(cache, least_recently_used_files_go_over_budget, .init = cache_setup, .fini = cache_teardown)
{
	struct matcher_cache_counters c;
	char names[64][320], err[256];
	struct matcher *m;
	uint64_t full;

	/* a budget for about half the files of one build */
	m = cache_matcher(0);
	matcher_cache_counters(&c);
	full = c.bytes;
	matcher_free(m);
	cr_assert_eq(matcher_cache_open(cache_dir, full / 2, err, sizeof(err)), 0, "%s", err);
	matcher_cache_counters(&c);
	cr_expect_gt(c.evictions, 0);
	cr_expect_leq(c.bytes, full / 2);
	{
		uint64_t total = 0;
		uint32_t n = cache_files(names, 64);
		struct stat st;

		for (uint32_t i = 0; i < n; i++)
			if (stat(names[i], &st) == 0)
				total += (uint64_t)st.st_size;
		cr_expect_lt(n, MATCHER_SHARDS);
		cr_expect_eq(total, c.bytes);
	}
	m = cache_matcher(0); /* still correct, from what is left and compiles */
	cache_check(m);
	matcher_free(m);
}

/* ---- the differential test ---- */

/*
 * A model of a table: NF feeds, subscribers with stable ids, each a set of patterns
 * from a pool and a type set. Changes of every kind are applied to the model and, as a
 * delta, to the router state in force; after each one every symbol of the universe is
 * routed on the delta state (through the locates an RX lcore would keep, across
 * states) and on a state built from scratch, and the subscriber sets must be equal.
 */
#define NF	 2
#define MAX_SUBS 80
#define MAX_PATS 8

struct msub {
	bool live;
	uint32_t id;
	uint32_t feed;
	uint32_t n_pats;
	const char *pats[MAX_PATS];
	bool all_types;
	uint64_t types[4];
};

static const char *const pool[] = {
    /* exact */
    "^AAPL$",
    "^MSFT$",
    "^IBM$",
    "^GOOG$",
    "^BRK\\.A$",
    "^ZVZZT$",
    "^AB$",
    "^A$",
    "^QQQ$",
    "^ABCDEFGH$",
    "^XOM$",
    "^T$",
    "^MS$",
    /* prefix */
    "^A",
    "^AB",
    "^MS",
    "^Z",
    "^QQ",
    "^BRK\\.",
    "^ABCDEFGH",
    "^X",
    /* regex */
    "^[A-C]B",
    "X.M",
    "^(?:AB)",
    "Q$",
    "^A{2}",
    "^[A-Z]{3}$",
    "1",
    "^M[S]F",
    "^(AAPL|IBM)$",
    "[0-9]$",
    "^.$",
    "T\\.?",
    "^$",
    "^ZV.*T$",
    "^[^A]",
    "BM",
    "^AAPL {4}$",
    "^AA[A-Z]* *$",
    "O{2}",
    "^G.O.$",
    "\\.",
    "^[A-Z]+\\.[A-Z]$",
    "S$",
    "^(M|N)[A-Z]*$",
};
#define POOL_N (sizeof(pool) / sizeof(pool[0]))

static const char *const fixed_syms[] = {
    "AAPL",   "MSFT", "IBM", "GOOG", "BRK.A", "BRK.B", "ZVZZT", "AB",	 "A",	 "QQQ", "ABCDEFGH",
    "XOM",    "T",    "MS",  "MSF",  "ABC",   "AAB",   "Q",	"X1M",	 "ZV9T", "",	"AB\n",
    "AAPL\n", "M",    "NV1", "GOOO", "A.B",   "BMW",   "XYZ",	"AAPLX", "TT",	 "A1"};

struct model {
	struct msub s[MAX_SUBS];
	uint32_t n;
	uint32_t next_id;
};

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static bool has_pat(const struct msub *s, const char *p)
{
	for (uint32_t i = 0; i < s->n_pats; i++)
		if (s->pats[i] == p)
			return true;
	return false;
}

static void random_types(struct msub *s)
{
	static const char letters[] = "AEFRSXDU";

	s->all_types = rnd(3) == 0;
	memset(s->types, 0, sizeof(s->types));
	for (uint32_t k = 0; k < 1 + rnd(4); k++) {
		uint8_t t = (uint8_t)letters[rnd(sizeof(letters) - 1)];

		s->types[t >> 6] |= 1ull << (t & 63);
	}
}

/* A model subscriber as the rc_subscriber router_sub_diff reads (its strings stay the
 * pool's). */
static struct rc_subscriber msub_rc(const struct msub *m)
{
	struct rc_subscriber r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, RC_NAME_MAX, "s%u", m->id);
	r.feed = m->feed;
	r.all_types = m->all_types;
	memcpy(r.types, m->types, sizeof(r.types));
	r.n_symbols = m->n_pats;
	r.symbols = (char **)m->pats;
	return r;
}

/* The routing_config of the model (live subscribers in order), ids in `ids`. */
static struct routing_config *model_cfg(const struct model *md, uint32_t *ids)
{
	struct routing_config *cfg = calloc(1, sizeof(*cfg));
	uint32_t n = 0;

	cr_assert_not_null(cfg);
	cfg->path = strdup("model");
	cfg->n_feeds = NF;
	cfg->feeds = calloc(NF, sizeof(*cfg->feeds));
	cfg->subs = calloc(MAX_SUBS, sizeof(*cfg->subs));
	for (uint32_t f = 0; f < NF; f++) {
		snprintf(cfg->feeds[f].name, RC_NAME_MAX, "feed%u", f);
		cfg->feeds[f].n_lines = 1;
		cfg->feeds[f].lines[0].group = 0xe9000001 + f;
		cfg->feeds[f].lines[0].port = 1000;
	}
	for (uint32_t i = 0; i < md->n; i++) {
		const struct msub *m = &md->s[i];
		struct rc_subscriber *s = &cfg->subs[n];

		if (!m->live)
			continue;
		snprintf(s->name, RC_NAME_MAX, "s%u", m->id);
		s->feed = m->feed;
		s->all_types = m->all_types;
		memcpy(s->types, m->types, sizeof(s->types));
		s->n_symbols = m->n_pats;
		s->symbols = calloc(m->n_pats, sizeof(*s->symbols));
		for (uint32_t j = 0; j < m->n_pats; j++)
			s->symbols[j] = strdup(m->pats[j]);
		ids[n++] = m->id;
	}
	cfg->n_subs = n;
	return cfg;
}

static void cfg_free(struct routing_config *cfg)
{
	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		for (uint32_t j = 0; j < cfg->subs[i].n_symbols; j++)
			free(cfg->subs[i].symbols[j]);
		free(cfg->subs[i].symbols);
	}
	free(cfg->subs);
	free(cfg->feeds);
	free(cfg->path);
	free(cfg);
}

/* An 'R' (stock directory, stock at 11) binding `locate` to `sym`, or an 'E' on it. */
static uint16_t mk_msg(uint8_t *b, char type, uint16_t locate, const char *sym)
{
	memset(b, 0, 48);
	b[0] = (uint8_t)type;
	b[1] = (uint8_t)(locate >> 8);
	b[2] = (uint8_t)locate;
	if (type == 'R') {
		memset(b + 11, ' ', 8);
		memcpy(b + 11, sym, strlen(sym));
		return 39;
	}
	return 31;
}

/* Subscriber ids (sorted bitmap over ids) receiving `type` for `sym` in feed f. */
static void who(struct router_locates *rl, const struct router_state *rs, uint32_t f,
		uint16_t locate, const char *sym, char type, bool bind, uint64_t out[4])
{
	const struct router_feed_rules *fr = &rs->feeds[f];
	const uint64_t *subs, *types = router_type_mask(fr, (uint8_t)type);
	uint8_t msg[48];
	uint16_t len = mk_msg(msg, bind ? 'R' : 'E', locate, sym);

	memset(out, 0, 4 * sizeof(uint64_t));
	cr_assert_eq(router_route(rl, rs, fr, 0, msg, len, &subs), ROUTE_OK);
	/* the 'R' or 'E' just routed picked the bitmap; `type`'s mask selects */
	for (uint32_t i = 0; i < fr->n_subs; i++)
		if ((subs[i >> 6] >> (i & 63)) & 1 && (types[i >> 6] >> (i & 63)) & 1) {
			uint32_t id = fr->subs[i];

			cr_assert_neq(id, ROUTER_NO_SUB, "a freed index matched");
			out[id >> 6] |= 1ull << (id & 63);
		}
}

static struct router_state *scratch_state(const struct model *md)
{
	uint32_t ids[MAX_SUBS], feed_slot[NF] = {0, 1};
	struct routing_config *cfg = model_cfg(md, ids);
	char err[RC_ERR_LEN];
	struct router_state *rs = router_state_build(cfg, 1, 1, err, sizeof(err));

	cr_assert_not_null(rs, "%s", err);
	router_state_set_slots(rs, feed_slot, ids);
	cfg_free(cfg);
	return rs;
}

#define N_UNIVERSE 160

static char universe[N_UNIVERSE][9];

static void make_universe(void)
{
	uint32_t n = 0;

	for (; n < sizeof(fixed_syms) / sizeof(fixed_syms[0]); n++)
		snprintf(universe[n], 9, "%s", fixed_syms[n]);
	for (; n < N_UNIVERSE; n++) {
		uint32_t len = 1 + rnd(8);
		static const char ch[] = "ABMQSXZT019.";

		for (uint32_t i = 0; i < len; i++)
			universe[n][i] = ch[rnd(sizeof(ch) - 1)];
		universe[n][len] = '\0';
	}
}

/* Every symbol, both feeds, two types: delta state == scratch state. */
static void compare(struct router_locates **rl, const struct router_state *rs,
		    const struct router_state *fresh, uint32_t step, uint64_t seed,
		    const char *what)
{
	static const char types[] = {'A', 'E'};

	for (uint32_t f = 0; f < NF; f++) {
		struct router_locates *frl = router_locates_create(MAX_SUBS + 64);

		cr_assert_not_null(frl);
		for (uint32_t u = 0; u < N_UNIVERSE; u++)
			for (uint32_t t = 0; t < 2; t++) {
				uint64_t a[4], b[4];

				/* delta: the binding survives across states, as on an RX lcore;
				 * every other step re-binds it (a stock message) */
				bool unbound =
				    rl[f]->e[u + 1].symbol == 0 && rl[f]->e[u + 1].version == 0;

				who(rl[f], rs, f, (uint16_t)(u + 1), universe[u], types[t],
				    unbound || (step + u + t) % 2 == 0, a);
				who(frl, fresh, f, (uint16_t)(u + 1), universe[u], types[t], true,
				    b);
				if (memcmp(a, b, sizeof(a)) != 0 && getenv("ASTER_DELTA_TRACE")) {
					uint64_t mb[4] = {0};

					matcher_match(rs->feeds[f].matcher, MATCHER_SCRATCH_BUILDER,
						      universe[u], (uint32_t)strlen(universe[u]),
						      mb);
					fprintf(stderr,
						"matcher says %lx:%lx (local indices); subs:",
						(unsigned long)mb[1], (unsigned long)mb[0]);
					for (uint32_t i = 0; i < rs->feeds[f].n_subs; i++)
						fprintf(stderr, " %u", rs->feeds[f].subs[i]);
					fprintf(stderr, "\n");
				}
				if (memcmp(a, b, sizeof(a)) != 0)
					cr_assert_fail(
					    "seed %lu step %u (%s): feed %u symbol \"%s\" type %c: "
					    "delta %lx:%lx, from scratch %lx:%lx",
					    (unsigned long)seed, step, what, f, universe[u],
					    types[t], (unsigned long)a[1], (unsigned long)a[0],
					    (unsigned long)b[1], (unsigned long)b[0]);
			}
		router_locates_free(frl);
	}
}

static uint32_t live_in_feed(const struct model *md, uint32_t f)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < md->n; i++)
		n += md->s[i].live && md->s[i].feed == f;
	return n;
}

/* One random change, applied to the model and described in `c` (with `add`/`del`). */
static const char *random_change(struct model *md, struct router_sub_change *c, const char **add,
				 const char **del)
{
	uint32_t live[MAX_SUBS], n_live = 0, kind = rnd(100);
	struct msub *s;

	for (uint32_t i = 0; i < md->n; i++)
		if (md->s[i].live)
			live[n_live++] = i;
	memset(c, 0, sizeof(*c));
	c->add = add;
	c->del = del;
	if ((n_live < 4 || kind < 12) && n_live < MAX_SUBS) {
		/* a subscriber joins (in a free entry of the model) */
		uint32_t at = 0;

		while (at < md->n && md->s[at].live)
			at++;
		if (at == md->n)
			md->n++;
		s = &md->s[at];
		memset(s, 0, sizeof(*s));
		s->live = true;
		s->id = md->next_id++;
		s->feed = rnd(NF);
		if (live_in_feed(md, s->feed) > 70)
			s->feed = 1 - s->feed;
		random_types(s);
		for (uint32_t k = 0, want = 1 + rnd(5); k < want; k++) {
			const char *p = pool[rnd(POOL_N)];

			if (!has_pat(s, p))
				s->pats[s->n_pats++] = p;
		}
		c->op = ROUTER_SUB_ADD;
		c->feed = s->feed;
		c->sub = s->id;
		c->all_types = s->all_types;
		memcpy(c->types, s->types, sizeof(c->types));
		c->n_add = s->n_pats;
		memcpy(add, s->pats, s->n_pats * sizeof(*add));
		return "add subscriber";
	}
	s = &md->s[live[rnd(n_live)]];
	c->feed = s->feed;
	c->sub = s->id;
	if (kind < 20) {
		/* a subscriber leaves */
		s->live = false;
		c->op = ROUTER_SUB_REMOVE;
		c->n_del = s->n_pats;
		memcpy(del, s->pats, s->n_pats * sizeof(*del));
		return "remove subscriber";
	}
	c->op = ROUTER_SUB_KEEP;
	if (kind < 28) {
		random_types(s);
		c->set_types = true;
		c->all_types = s->all_types;
		memcpy(c->types, s->types, sizeof(c->types));
		return "update subscriber types";
	}
	if (kind < 31 && live_in_feed(md, 1 - s->feed) < 70) {
		/* a subscriber moves to the other feed: it leaves one and joins the other */
		s->feed = 1 - s->feed;
		return "move subscriber to the other feed";
	}
	if (kind < 36) {
		/* a subscriber's patterns replaced: several added and removed at once */
		const char *keep[MAX_PATS];
		uint32_t nk = 0;

		for (uint32_t i = 0; i < s->n_pats; i++) {
			if (rnd(2) == 0)
				del[c->n_del++] = s->pats[i];
			else
				keep[nk++] = s->pats[i];
		}
		for (uint32_t k = 0, want = 1 + rnd(3); k < want && nk < MAX_PATS; k++) {
			const char *p = pool[rnd(POOL_N)];
			bool dup = false;

			for (uint32_t i = 0; i < nk; i++)
				dup = dup || keep[i] == p;
			for (uint32_t i = 0; i < c->n_add; i++)
				dup = dup || add[i] == p;
			if (dup)
				continue;
			/* re-adding a removed one cancels out: keep it instead */
			for (uint32_t i = 0; i < c->n_del; i++)
				if (del[i] == p) {
					del[i] = del[--c->n_del];
					dup = true;
				}
			keep[nk++] = p;
			if (!dup)
				add[c->n_add++] = p;
		}
		s->n_pats = nk;
		memcpy(s->pats, keep, nk * sizeof(*keep));
		return "update subscriber patterns";
	}
	if (kind % 2 == 0 && s->n_pats > 1) {
		uint32_t i = rnd(s->n_pats);

		del[c->n_del++] = s->pats[i];
		s->pats[i] = s->pats[--s->n_pats];
		return "remove pattern";
	}
	if (s->n_pats < MAX_PATS) {
		const char *p = pool[rnd(POOL_N)];

		if (!has_pat(s, p)) {
			s->pats[s->n_pats++] = p;
			add[c->n_add++] = p;
		}
	}
	return "add pattern";
}

/* The 2 000 changes run in the plain build; the sanitizer build (five times slower here)
 * repeats the first 400 for memory safety. ASTER_DELTA_STEPS overrides both. */
#if defined(__SANITIZE_ADDRESS__)
#define DIFF_STEPS 400
#else
#define DIFF_STEPS 2000
#endif

Test(delta, differential_random_changes, .timeout = 240)
{
	uint64_t seed = getenv("ASTER_DELTA_SEED") != NULL
			    ? strtoull(getenv("ASTER_DELTA_SEED"), NULL, 0)
			    : (uint64_t)time(NULL);
	uint32_t steps = getenv("ASTER_DELTA_STEPS") != NULL
			     ? (uint32_t)strtoul(getenv("ASTER_DELTA_STEPS"), NULL, 0)
			     : DIFF_STEPS;
	struct router_locates *rl[NF];
	struct model *md = calloc(1, sizeof(*md));
	struct router_state *slot = NULL;
	uint32_t folds = 0;
	char err[RC_ERR_LEN];

	cr_assert_not_null(md);
	/* builds from scratch find most shards in the compile cache: it is exercised too */
	cache_setup();
	cr_log_info("differential: seed %lu (ASTER_DELTA_SEED=%lu to repeat), %u changes",
		    (unsigned long)seed, (unsigned long)seed, steps);
	rng_state = seed * 2654435761u + 1;
	make_universe();
	for (uint32_t f = 0; f < NF; f++)
		cr_assert_not_null(rl[f] = router_locates_create(MAX_SUBS + 64));
	/* start from a small table built whole, as a dataplane does at start-up */
	for (uint32_t i = 0; i < 6; i++) {
		struct router_sub_change c;
		const char *a[MAX_PATS], *d[MAX_PATS];

		random_change(md, &c, a, d);
	}
	router_publish(&slot, scratch_state(md), NULL);
	for (uint32_t step = 0; step < steps; step++) {
		struct router_sub_change c, batch[2 * 4];
		const char *add[MAX_PATS], *del[MAX_PATS], *pats[2 * 4 * 2 * MAX_PATS];
		uint32_t k = rnd(10) < 6 ? 1 : 2 + rnd(3), n_batch = 0, n_pats = 0;
		uint32_t touched[4], n_touched = 0;
		struct model *before = malloc(sizeof(*before));
		const char *what = NULL;
		struct router_state *next, *fresh;

		cr_assert_not_null(before);
		*before = *md;
		/* k changes of the model, applied to the state as one (as a DELTA of several
		 * operations is): one change per subscriber touched, from before and after */
		for (uint32_t i = 0; i < k; i++) {
			what = random_change(md, &c, add, del);
			bool seen = false;

			for (uint32_t j = 0; j < n_touched; j++)
				seen = seen || touched[j] == c.sub;
			if (!seen)
				touched[n_touched++] = c.sub;
		}
		if (k > 1)
			what = "several changes at once";
		for (uint32_t j = 0; j < n_touched; j++) {
			const struct msub *b = NULL, *a = NULL;
			struct rc_subscriber rb, ra;
			int m;

			for (uint32_t i = 0; i < before->n; i++)
				if (before->s[i].live && before->s[i].id == touched[j])
					b = &before->s[i];
			for (uint32_t i = 0; i < md->n; i++)
				if (md->s[i].live && md->s[i].id == touched[j])
					a = &md->s[i];
			if (b != NULL)
				rb = msub_rc(b);
			if (a != NULL)
				ra = msub_rc(a);
			m = router_sub_diff(b ? &rb : NULL, b ? rb.symbols : NULL,
					    b ? b->n_pats : 0, touched[j], b ? b->feed : 0,
					    a ? &ra : NULL, touched[j], a ? a->feed : 0,
					    batch + n_batch, pats + n_pats);
			cr_assert_geq(m, 0);
			for (int i = 0; i < m; i++)
				n_pats += batch[n_batch + i].n_add + batch[n_batch + i].n_del;
			n_batch += (uint32_t)m;
		}
		free(before);
		if (getenv("ASTER_DELTA_TRACE") != NULL)
			for (uint32_t i = 0; i < n_batch; i++) {
				fprintf(stderr, "step %u %s: op %d feed %u sub %u types %d", step,
					what, batch[i].op, batch[i].feed, batch[i].sub,
					batch[i].all_types);
				for (uint32_t j = 0; j < batch[i].n_add; j++)
					fprintf(stderr, " +%s", batch[i].add[j]);
				for (uint32_t j = 0; j < batch[i].n_del; j++)
					fprintf(stderr, " -%s", batch[i].del[j]);
				fprintf(stderr, "\n");
			}
		next = router_state_change(slot, batch, n_batch, step + 2, err, sizeof(err));
		if (next == NULL)
			cr_assert_fail("seed %lu step %u (%s): %s", (unsigned long)seed, step, what,
				       err);
		for (uint32_t f = 0; f < NF; f++)
			cr_assert_eq(router_state_learn(next, f, rl[f]), 0);
		router_publish(&slot, next, NULL);
		/* recompiles finish in the background; some are swapped in as they come */
		if (step % 7 == 0)
			for (uint32_t f = 0; f < NF; f++)
				matcher_fold_wait(slot->feeds[f].matcher);
		if (step % 3 == 0) {
			struct router_state *folded = router_state_fold(slot);

			if (folded != NULL) {
				folds++;
				router_publish(&slot, folded, NULL);
			}
		}
		fresh = scratch_state(md);
		compare(rl, slot, fresh, step, seed, what);
		router_state_free(fresh);
	}
	cr_log_info("differential: %u changes, %u folds swapped in", steps, folds);
	cr_expect_gt(folds, 0, "no background recompile was ever swapped in");
	router_publish(&slot, NULL, NULL);
	for (uint32_t f = 0; f < NF; f++)
		router_locates_free(rl[f]);
	free(md);
	cache_teardown();
}

/* The builder decides the known symbols: after a change an RX lcore only copies. */
Test(delta, builder_decides_known_symbols)
{
	struct model *md = calloc(1, sizeof(*md));
	struct router_state *slot = NULL, *next;
	struct router_locates *rl = router_locates_create(128);
	const char *add[] = {"^Z[V]"};
	struct router_sub_change c = {.feed = 0, .op = ROUTER_SUB_KEEP, .n_add = 1, .add = add};
	uint8_t msg[48];
	const uint64_t *subs;
	char err[RC_ERR_LEN];

	md->n = 1;
	md->s[0] = (struct msub){
	    .live = true, .id = 5, .feed = 0, .n_pats = 1, .pats = {"^AAPL$"}, .all_types = true};
	c.sub = 5;
	router_publish(&slot, scratch_state(md), NULL);
	cr_assert_eq(
	    router_route(rl, slot, &slot->feeds[0], 0, msg, mk_msg(msg, 'R', 7, "ZVZZT"), &subs),
	    ROUTE_OK);
	cr_expect_eq(subs[0], 0);
	cr_expect_eq(router_feed_known_symbols(&slot->feeds[0]), 0);
	next = router_state_change(slot, &c, 1, 2, err, sizeof(err));
	cr_assert_not_null(next, "%s", err);
	cr_assert_eq(router_state_learn(next, 0, rl), 0);
	cr_expect_eq(router_feed_known_symbols(&next->feeds[0]), 1, "the bound symbol learnt");
	router_publish(&slot, next, NULL);
	cr_assert_eq(
	    router_route(rl, slot, &slot->feeds[0], 0, msg, mk_msg(msg, 'E', 7, ""), &subs),
	    ROUTE_OK);
	cr_expect_eq(subs[0], 1, "feed-local index 0 (id 5) gets ZVZZT");
	cr_expect_eq(slot->feeds[0].subs[0], 5);
	router_publish(&slot, NULL, NULL);
	router_locates_free(rl);
	free(md);
}

Test(delta, full_builds_use_every_worker)
{
	struct matcher *m = cache_matcher(0);

	cr_expect_geq(matcher_pool_threads(), 1);
	cache_check(m);
	matcher_free(m);
}
