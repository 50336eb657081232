/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Table changes as operations (common/routing_delta.h, control/table.h): every edit and
 * every apply said as operations reaches exactly the table it describes, a list of
 * operations is applied whole or not at all, and bad operations give one line each.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../common/routing_config.h"
#include "../../common/routing_delta.h"
#include "../../control/table.h"

static char err[RC_ERR_LEN];

static struct routing_config *parse(const char *yaml)
{
	struct routing_config *cfg;

	memset(err, 0, sizeof(err));
	cfg = routing_config_parse(yaml, strlen(yaml), "routing.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s\n%s", err, yaml);
	return cfg;
}

static struct routing_config *copy(const struct routing_config *cfg)
{
	char *text = table_emit_yaml(cfg);
	struct routing_config *c;

	cr_assert_not_null(text);
	c = parse(text);
	free(text);
	return c;
}

static const char base[] = "feeds:\n"
			   "  - {name: itch, protocol: moldudp64-itch50, lines: [{name: A, group: "
			   "233.54.12.111, port: 26477}]}\n"
			   "  - {name: itch2, protocol: moldudp64-itch50, lines: [{name: A, group: "
			   "233.54.12.112, port: 26478}]}\n"
			   "ports:\n"
			   "  - name: out0\n"
			   "  - {name: out1, src_ip: 10.9.8.7, src_port: 4000}\n"
			   "subscribers:\n"
			   "  - name: alpha\n"
			   "    feed: itch\n"
			   "    port: out0\n"
			   "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
			   "    session: ALPHA00001\n"
			   "    symbols: [\"^AAPL$\", \"^MS\", \"x #y\", \"^(A|B)[0-9]\"]\n"
			   "    types: \"AFE\"\n"
			   "  - name: beta\n"
			   "    feed: itch2\n"
			   "    port: out1\n"
			   "    dst: {mac: \"02:00:00:00:01:02\", ip: 10.1.1.2, port: 31002}\n"
			   "    session: \" B e \"\n"
			   "    symbols: ['^\"Q', '\\d{3}\\\\', 'a: b']\n"
			   "    max_payload: 128\n"
			   "  - name: gamma\n"
			   "    feed: itch\n"
			   "    port: out0\n"
			   "    dst: {mac: \"02:00:00:00:01:03\", ip: 10.1.1.3, port: 31003}\n"
			   "    session: \"\"\n"
			   "    symbols: [\"^G\"]\n";

/*
 * Apply the change's operations to a copy of `from`: it must equal `want`. And the digest
 * aster-control keeps by pieces (table_digest_next: only the subscribers the operations
 * name rendered again) must be the digest of the whole text, what a dataplane computes
 * from an APPLY of that table: else drift would be seen after every delta.
 */
static void check_ops(const struct routing_config *from, const struct table_change *c,
		      const struct routing_config *want)
{
	struct routing_config *got = copy(from);
	struct table_digest before, after;
	struct rd_undo *undo;
	char *a, *b;

	cr_assert_null(c->full, "said whole, expected operations");
	cr_assert_eq(table_digest_init(&before, got), 0);
	cr_assert_eq(rd_apply_all(got, c->ops, c->n_ops, &undo, err, sizeof(err)), 0, "%s", err);
	rd_forget_all(undo, c->n_ops);
	a = table_emit_yaml(got);
	b = table_emit_yaml(want);
	cr_expect(table_equal(got, want), "operations reached\n%s\nexpected\n%s", a, b);
	cr_assert_eq(table_digest_next(&after, &before, got, c->ops, c->n_ops), 0);
	cr_expect_eq(after.value, ctl_table_digest(a, strlen(a)),
		     "digest by pieces %#llx, of the whole text %#llx:\n%s",
		     (unsigned long long)after.value,
		     (unsigned long long)ctl_table_digest(a, strlen(a)), a);
	table_digest_fini(&before);
	table_digest_fini(&after);
	free(a);
	free(b);
	routing_config_free(got);
}

Test(routing_delta, edits_reach_what_the_whole_table_edit_reaches)
{
	struct routing_config *cfg = parse(base), *want;
	struct table_change c;
	const char *sub = "{name: delta, feed: itch2, port: out0, dst: {mac: "
			  "\"02:00:00:00:01:04\", ip: 10.1.1.4, port: 31004}, session: D, "
			  "symbols: [\"^D$\", \"D.\"], types: R}";

	cr_assert_eq(table_change_pattern(cfg, "beta", "^N[0-9]$", true, &c, err, sizeof(err)), 0);
	want = table_add_pattern(cfg, "beta", "^N[0-9]$", err, sizeof(err));
	cr_assert_not_null(want, "%s", err);
	cr_expect_str_eq(c.diff, "+ subscriber beta pattern \"^N[0-9]$\"\n");
	check_ops(cfg, &c, want);
	routing_config_free(want);
	table_change_fini(&c);

	cr_assert_eq(table_change_pattern(cfg, "alpha", "^MS", false, &c, err, sizeof(err)), 0);
	want = table_remove_pattern(cfg, "alpha", "^MS", err, sizeof(err));
	check_ops(cfg, &c, want);
	routing_config_free(want);
	table_change_fini(&c);

	cr_assert_eq(table_change_add_subscriber(cfg, sub, &c, err, sizeof(err)), 0, "%s", err);
	want = table_add_subscriber(cfg, sub, err, sizeof(err));
	cr_assert_not_null(want, "%s", err);
	cr_expect_str_eq(c.diff, "+ subscriber delta\n");
	check_ops(cfg, &c, want);
	routing_config_free(want);
	table_change_fini(&c);

	cr_assert_eq(table_change_remove_subscriber(cfg, "beta", &c, err, sizeof(err)), 0);
	want = table_remove_subscriber(cfg, "beta", err, sizeof(err));
	check_ops(cfg, &c, want);
	routing_config_free(want);
	table_change_fini(&c);
	routing_config_free(cfg);
}

/* An apply: the operations reach the applied table, or it is said whole. */
static void check_replace(const char *to_text, bool expect_ops)
{
	struct routing_config *from = parse(base), *to = parse(to_text);
	struct table_change c;

	cr_assert_eq(table_change_replace(from, copy(to), &c, err, sizeof(err)), 0, "%s", err);
	if (expect_ops)
		check_ops(from, &c, to);
	else
		cr_expect_not_null(c.full, "expected the whole table");
	table_change_fini(&c);
	routing_config_free(from);
	routing_config_free(to);
}

/* `base` with `from` replaced by `to` (once). */
static char *edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	cr_assert_not_null(at, "\"%s\" not in the text", from);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	memcpy(out, text, (size_t)(at - text));
	strcpy(out + (at - text), to);
	strcat(out, at + strlen(from));
	return out;
}

Test(routing_delta, applies_said_as_operations)
{
	static const struct {
		const char *from, *to;
		bool ops;
	} cases[] = {
	    /* patterns removed and appended */
	    {"[\"^AAPL$\", \"^MS\", \"x #y\", \"^(A|B)[0-9]\"]",
	     "[\"^AAPL$\", \"^(A|B)[0-9]\", \"^Z\"]", true},
	    /* settings */
	    {"types: \"AFE\"", "types: \"AF\"", true},
	    {"max_payload: 128", "max_payload: 1000", true},
	    {"ip: 10.1.1.3, port: 31003", "ip: 10.1.1.9, port: 31003", true},
	    /* a subscriber removed */
	    {"  - name: beta\n    feed: itch2\n    port: out1\n    dst: {mac: "
	     "\"02:00:00:00:01:02\", "
	     "ip: 10.1.1.2, port: 31002}\n    session: \" B e \"\n    symbols: ['^\"Q', "
	     "'\\d{3}\\\\', 'a: b']\n    max_payload: 128\n",
	     "", true},
	    /* a subscriber inserted in the middle */
	    {"  - name: gamma\n",
	     "  - {name: eps, feed: itch, port: out1, dst: {mac: "
	     "\"02:00:00:00:01:05\", ip: 10.1.1.5, port: 1}, session: E, symbols: "
	     "[\"E\"]}\n  - name: gamma\n",
	     true},
	    /* reordered patterns, a feed changed, a port changed: whole */
	    {"[\"^AAPL$\", \"^MS\", \"x #y\", \"^(A|B)[0-9]\"]",
	     "[\"^MS\", \"^AAPL$\", \"x #y\", \"^(A|B)[0-9]\"]", false},
	    {"port: 26478", "port: 26479", false},
	    {"src_port: 4000", "src_port: 4001", false},
	    /* a repeated pattern appended: whole */
	    {"[\"^G\"]", "[\"^G\", \"^H\", \"^H\"]", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = edit(base, cases[i].from, cases[i].to);

		check_replace(text, cases[i].ops);
		free(text);
	}
}

/* A subscriber holding a pattern twice (a table may) does not make a change of another
 * subscriber go whole: its unchanged patterns need no operation. */
Test(routing_delta, repeats_elsewhere_keep_operations)
{
	char *from_text = edit(base, "[\"^G\"]", "[\"^G\", \"^G\"]");
	char *to_text = edit(from_text, "max_payload: 128", "max_payload: 1000");
	char *to2 = edit(to_text, "\"x #y\", ", "");
	struct routing_config *from = parse(from_text), *to = parse(to2);
	struct table_change c;

	cr_assert_eq(table_change_replace(from, copy(to), &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(c.full, "a change of alpha and beta said whole");
	cr_expect_eq(c.n_ops, 2);
	check_ops(from, &c, to);
	table_change_fini(&c);
	routing_config_free(from);
	routing_config_free(to);
	free(from_text);
	free(to_text);
	free(to2);
}

/* Many subscribers, random edits of every kind: operations always reach the target. */
Test(routing_delta, random_applies_reach_their_table)
{
	uint64_t seed = 0x5eed;
	char *text = malloc(1 << 20);

	for (int round = 0; round < 60; round++) {
		struct routing_config *from = NULL, *to = NULL;
		struct table_change c;
		size_t len = 0;

		for (int side = 0; side < 2; side++) {
			len = (size_t)sprintf(text, "feeds: [{name: f, protocol: moldudp64-itch50, "
						    "lines: [{name: A, group: 239.1.1.1, port: "
						    "1}]}]\nports: [{name: p}]\nsubscribers:\n");
			for (int s = 0; s < 20; s++) {
				seed = seed * 6364136223846793005ull + 1442695040888963407ull;
				/* on the second side, drop or change some */
				if (side == 1 && (seed >> 60) == 0)
					continue;
				len += (size_t)sprintf(
				    text + len,
				    "  - {name: s%d, feed: f, port: p, dst: {mac: "
				    "\"02:00:00:00:00:01\", ip: 10.0.0.1, port: %d}, "
				    "session: S, symbols: [",
				    s, side == 1 && (seed >> 58) == 5 ? 2 : 1);
				for (int k = 0; k < 6; k++) {
					bool keep = side == 0 || ((seed >> (8 + k)) & 3) != 0;

					if (keep || k == 0)
						len += (size_t)sprintf(text + len, "\"^S%dP%d\", ",
								       s, k);
				}
				len += (size_t)sprintf(text + len, "\"^END%d$\"", s);
				if (side == 1 && (seed >> 20) % 3 == 0)
					len +=
					    (size_t)sprintf(text + len, ", \"^N%d[0-9]\"", round);
				len += (size_t)sprintf(text + len, "]}\n");
			}
			if (side == 0)
				from = parse(text);
			else
				to = parse(text);
		}
		cr_assert_eq(table_change_replace(from, copy(to), &c, err, sizeof(err)), 0, "%s",
			     err);
		cr_expect_null(c.full, "round %d: removals and appends said whole", round);
		if (c.n_changes > 0 && c.full == NULL)
			check_ops(from, &c, to);
		table_change_fini(&c);
		routing_config_free(from);
		routing_config_free(to);
	}
	free(text);
}

Test(routing_delta, all_or_nothing)
{
	struct routing_config *cfg = parse(base), *orig = copy(cfg);
	struct rd_undo *undo;
	const struct rd_op ops[] = {
	    {.kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = "^NEW"},
	    {.kind = RD_SUB_REMOVE, .sub = "gamma"},
	    {.kind = RD_PATTERN_REMOVE, .sub = "beta", .pos = 2, .pattern = "a: b"},
	    {.kind = RD_PATTERN_ADD, .sub = "nobody", .pattern = "^X"},
	};

	cr_expect_eq(rd_apply_all(cfg, ops, 4, &undo, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "subscriber \"nobody\": no such subscriber");
	cr_expect(table_equal(cfg, orig), "a failed list left a change behind");
	cr_assert_eq(rd_apply_all(cfg, ops, 3, &undo, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg->n_subs, 2);
	rd_undo_all(cfg, undo, 3);
	cr_expect(table_equal(cfg, orig), "undo did not restore the table");
	routing_config_free(cfg);
	routing_config_free(orig);
}

/*
 * Undo never allocates: it puts removed subscribers and patterns back into the room
 * their arrays kept. An add after removals must not shrink an array below that room
 * (found by fuzz_request: under the sanitizers undoing the list below wrote past it).
 */
Test(routing_delta, undo_after_removals_then_an_add)
{
	struct routing_config *cfg = parse(base), *orig = copy(cfg);
	struct rd_undo *undo;
	const struct rd_op ops[] = {
	    {.kind = RD_PATTERN_REMOVE, .sub = "alpha", .pos = 0, .pattern = "^AAPL$"},
	    {.kind = RD_PATTERN_REMOVE, .sub = "alpha", .pos = 0, .pattern = "^MS"},
	    {.kind = RD_PATTERN_REMOVE, .sub = "alpha", .pos = 0, .pattern = "x #y"},
	    {.kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = "^NEW"},
	    {.kind = RD_SUB_REMOVE, .sub = "alpha"},
	    {.kind = RD_SUB_REMOVE, .sub = "beta"},
	    {.kind = RD_SUB_REMOVE, .sub = "gamma"},
	    {.kind = RD_SUB_ADD,
	     .pos = 0,
	     .text = "{name: eps, feed: itch, port: out0, dst: {mac: \"02:00:00:00:01:05\", ip: "
		     "10.1.1.5, port: 1}, session: E, symbols: [E]}"},
	    {.kind = RD_SUB_REMOVE, .sub = "nobody"},
	};

	cr_expect_eq(rd_apply_all(cfg, ops, 9, &undo, err, sizeof(err)), -ENOENT, "%s", err);
	cr_expect(table_equal(cfg, orig), "a failed list left a change behind");
	cr_assert_eq(rd_apply_all(cfg, ops, 8, &undo, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(cfg->n_subs, 1);
	rd_undo_all(cfg, undo, 8);
	cr_expect(table_equal(cfg, orig), "undo did not restore the table");
	routing_config_free(cfg);
	routing_config_free(orig);
}

static void expect_error(const struct rd_op *op, int rc, const char *msg)
{
	struct routing_config *cfg = parse(base), *orig = copy(cfg);
	struct rd_undo *undo;

	err[0] = '\0';
	cr_expect_eq(rd_apply_all(cfg, op, 1, &undo, err, sizeof(err)), rc, "%s: %s",
		     rd_kind_name(op->kind), err);
	cr_expect_str_eq(err, msg);
	cr_expect(table_equal(cfg, orig));
	routing_config_free(cfg);
	routing_config_free(orig);
}

Test(routing_delta, bad_operations_give_one_line)
{
	const struct rd_op ops[] = {
	    {.kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = "^(AB"},
	    {.kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = "^MS"},
	    {.kind = RD_PATTERN_REMOVE, .sub = "gamma", .pos = 0, .pattern = "^G"},
	    {.kind = RD_PATTERN_REMOVE, .sub = "alpha", .pos = 0, .pattern = "^MS"},
	    {.kind = RD_SUB_ADD,
	     .pos = 3,
	     .text = "{name: eps, feed: nope, port: out0, dst: {mac: \"02:00:00:00:01:05\", ip: "
		     "10.1.1.5, port: 1}, session: E, symbols: [E]}"},
	    {.kind = RD_SUB_ADD,
	     .pos = 3,
	     .text = "{name: alpha, feed: itch, port: out0, dst: {mac: \"02:00:00:00:01:05\", ip: "
		     "10.1.1.5, port: 1}, session: E, symbols: [E]}"},
	    {.kind = RD_SUB_ADD,
	     .pos = 3,
	     .text = "{name: eps, feed: itch, port: out0, dst: {mac: \"02:00:00:00:01:05\", ip: "
		     "10.1.1.5, port: 1}, session: E, symbols: [\"[z-a]\"]}"},
	    {.kind = RD_SUB_SET, .sub = "alpha", .text = "name: alpha\nfeed: itch\nport: out9\n"},
	    {.kind = RD_SUB_REMOVE, .sub = "zeta"},
	    {.kind = 99, .sub = "alpha"},
	};
	static const int rcs[] = {-EINVAL, -EEXIST, -EINVAL, -ENOENT, -ENOENT,
				  -EEXIST, -EINVAL, -ENOENT, -ENOENT, -EINVAL};
	static const char *const msgs[] = {
	    "subscriber \"alpha\": pattern \"^(AB\": Missing close parenthesis for group started "
	    "at index 1.",
	    "subscriber \"alpha\": pattern \"^MS\" already present",
	    "subscriber \"gamma\": pattern \"^G\" is its only one (remove the subscriber instead)",
	    "subscriber \"alpha\": no pattern \"^MS\" at that position",
	    "subscriber \"eps\": unknown feed \"nope\"",
	    "subscriber \"alpha\": already exists",
	    NULL,
	    "subscriber \"alpha\": unknown port \"out9\"",
	    "subscriber \"zeta\": no such subscriber",
	    "unknown change kind 99",
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (msgs[i] != NULL) {
			expect_error(&ops[i], rcs[i], msgs[i]);
		} else {
			struct routing_config *cfg = parse(base);
			struct rd_undo *undo;

			cr_expect_eq(rd_apply_all(cfg, &ops[i], 1, &undo, err, sizeof(err)),
				     rcs[i]);
			cr_expect(strstr(err, "subscriber \"eps\": pattern \"[z-a]\"") != NULL,
				  "got: %s", err);
			cr_expect(strchr(err, '\n') == NULL);
			routing_config_free(cfg);
		}
	}
}

Test(routing_delta, settings_text_round_trip)
{
	struct routing_config *cfg = parse(base);
	char *text = table_emit_sub(cfg, 1, false);
	struct rc_subscriber s;

	cr_assert_not_null(text);
	cr_expect(strstr(text, "symbols") == NULL, "settings only:\n%s", text);
	cr_assert_eq(rd_parse_sub(cfg, text, true, &s, err, sizeof(err)), 0, "%s\n%s", err, text);
	cr_expect_str_eq(s.name, "beta");
	cr_expect_eq(s.feed, 1);
	cr_expect_eq(s.port, 1);
	cr_expect_eq(s.max_payload, 128);
	cr_expect_eq(s.n_symbols, 0);
	free(text);
	routing_config_free(cfg);
}
