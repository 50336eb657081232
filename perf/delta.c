/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The builder's side of a table change (docs/performance.md, "Table changes"), without
 * EAL, sockets or the store: what the dataplane's control thread spends between a
 * change arriving and the new routing state being ready to publish.
 *
 *   aster-bench-delta [--kind exact|prefix|regex] [--patterns N] [--subs N]
 *                     [--symbols N] [--changes N] [--cache DIR] [--json]
 *
 * Builds a table of N patterns of one kind over --subs subscribers of one feed, binds
 * --symbols symbols in a feed's locates as a day's stock directory would, then:
 *   - full:    the state built from scratch (parallel compiles; from the cache when
 *              --cache holds it), with every bound symbol decided;
 *   - change:  one pattern of the same kind added to one subscriber, --changes times
 *              (median): matcher pieces rebuilt, the new expression compiled alone for
 *              a regex, the known symbols scanned against it;
 *   - fold:    for a regex, the background recompile of the touched shard, until it is
 *              swapped in (off the change's path; reported for completeness).
 * Prints one line per figure, or a JSON object with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "matcher.h"
#include "matcher_cache.h"
#include "router.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "aster-bench-delta: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* A distinct symbol for index i: 3 to 7 capital letters. */
static void symbol(uint32_t i, char out[9])
{
	uint32_t len = 3 + i % 5;

	for (uint32_t k = 0; k < len; k++) {
		out[k] = (char)('A' + i % 26);
		i = i / 26 + k * 7;
	}
	out[len] = '\0';
}

/* The pattern of `kind` for symbol text `s` (as perf/control-latency writes them). */
static char *pattern(const char *kind, const char *s)
{
	char buf[64];

	if (strcmp(kind, "exact") == 0)
		snprintf(buf, sizeof(buf), "^%s$", s);
	else if (strcmp(kind, "prefix") == 0)
		snprintf(buf, sizeof(buf), "^%s", s);
	else
		snprintf(buf, sizeof(buf), "^[A-Z]{0,1}%.*s[%c0-9]?$", (int)strlen(s) - 1, s,
			 s[strlen(s) - 1]);
	return strdup(buf);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"kind", required_argument, NULL, 'k'},    {"patterns", required_argument, NULL, 'n'},
	    {"subs", required_argument, NULL, 's'},    {"symbols", required_argument, NULL, 'y'},
	    {"changes", required_argument, NULL, 'c'}, {"cache", required_argument, NULL, 'C'},
	    {"json", no_argument, NULL, 'j'},	       {NULL, 0, NULL, 0},
	};
	const char *kind = "exact", *cache = NULL;
	uint32_t n = 100000, n_subs = 64, n_syms = 10000, n_changes = 7;
	bool json = false;
	struct routing_config cfg = {0};
	struct router_locates *rl;
	struct router_state *slot = NULL, *rs;
	double t0, full_ms, fold_ms = 0, *change_ms;
	char err[512];
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'k':
			kind = optarg;
			if (strcmp(kind, "exact") && strcmp(kind, "prefix") &&
			    strcmp(kind, "regex"))
				die("--kind: '%s' is not exact, prefix or regex", kind);
			break;
		case 'n':
			n = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			n_subs = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'y':
			n_syms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			n_changes = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			cache = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			die("%s", "usage: see the comment at the top of perf/delta.c");
		}
	}
	if (n == 0 || n_subs == 0 || n_subs > 1024 || n_syms > 60000 || n_changes == 0 ||
	    n_changes > 1000)
		die("%s", "--patterns >= 1, --subs 1..1024, --symbols <= 60000, --changes 1..1000");
	if (cache != NULL && matcher_cache_open(cache, 1ull << 40, err, sizeof(err)) < 0)
		die("%s", err);

	/* the table: one feed, patterns spread over the subscribers */
	cfg.path = "bench";
	cfg.n_feeds = 1;
	cfg.feeds = calloc(1, sizeof(*cfg.feeds));
	snprintf(cfg.feeds[0].name, RC_NAME_MAX, "itch");
	cfg.n_subs = n_subs;
	cfg.subs = calloc(n_subs, sizeof(*cfg.subs));
	for (uint32_t s = 0; s < n_subs; s++) {
		struct rc_subscriber *sub = &cfg.subs[s];

		snprintf(sub->name, RC_NAME_MAX, "sub%u", s);
		sub->all_types = true;
		sub->symbols = calloc(n / n_subs + 2, sizeof(char *));
	}
	for (uint32_t i = 0; i < n; i++) {
		struct rc_subscriber *sub = &cfg.subs[i % n_subs];
		char s[9];

		symbol(i, s);
		sub->symbols[sub->n_symbols++] = pattern(kind, s);
	}

	t0 = now_ms();
	rs = router_state_build(&cfg, 1, 1, err, sizeof(err));
	full_ms = now_ms() - t0;
	if (rs == NULL)
		die("%s", err);
	router_publish(&slot, rs, NULL);

	/* a day's stock directory: n_syms symbols bound, some matching the table */
	rl = router_locates_create(n_subs);
	for (uint32_t l = 1; l <= n_syms; l++) {
		uint8_t msg[39] = {'R', (uint8_t)(l >> 8), (uint8_t)l};
		const uint64_t *subs;
		char s[9];

		symbol(rnd(l % 3 ? n : 2 * n), s);
		memset(msg + 11, ' ', 8);
		memcpy(msg + 11, s, strlen(s));
		router_route(rl, slot, &slot->feeds[0], 0, msg, sizeof(msg), &subs);
	}
	router_state_learn(slot, 0, rl);

	change_ms = calloc(n_changes, sizeof(*change_ms));
	for (uint32_t c = 0; c < n_changes; c++) {
		char s[9], *p;
		const char *add[1];
		struct router_sub_change ch = {
		    .feed = 0, .sub = 1, .op = ROUTER_SUB_KEEP, .n_add = 1, .add = add};
		struct router_state *next;

		symbol(n + 1000 + c, s);
		p = pattern(kind, s);
		add[0] = p;
		t0 = now_ms();
		next = router_state_change(slot, &ch, 1, c + 2, err, sizeof(err));
		if (next != NULL)
			router_state_learn(next, 0, rl);
		change_ms[c] = now_ms() - t0;
		if (next == NULL)
			die("%s", err);
		router_publish(&slot, next, NULL);
		free(p);
	}
	if (strcmp(kind, "regex") == 0) {
		/* the touched shards recompiled in the background, then swapped in */
		t0 = now_ms();
		while (router_state_fold_pending(slot) > 0) {
			struct router_state *f;

			matcher_fold_wait(slot->feeds[0].matcher);
			f = router_state_fold(slot);
			if (f != NULL)
				router_publish(&slot, f, NULL);
		}
		fold_ms = now_ms() - t0;
	}
	qsort(change_ms, n_changes, sizeof(*change_ms), cmp_double);
	if (json)
		printf("{\"kind\": \"%s\", \"patterns\": %u, \"subscribers\": %u, \"symbols\": %u, "
		       "\"full_build_ms\": %.3f, \"change_build_ms\": %.3f, \"fold_ms\": %.3f}\n",
		       kind, n, n_subs, n_syms, full_ms, change_ms[n_changes / 2], fold_ms);
	else
		printf("%u %s patterns, %u subscribers, %u symbols bound: full build %.1f ms; "
		       "one-pattern change %.3f ms (median of %u); background recompile %.1f ms\n",
		       n, kind, n_subs, n_syms, full_ms, change_ms[n_changes / 2], n_changes,
		       fold_ms);
	router_publish(&slot, NULL, NULL);
	router_locates_free(rl);
	return 0;
}
