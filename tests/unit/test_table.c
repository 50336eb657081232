/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control-plane table operations (issue 3): the canonical YAML round trip with patterns
 * holding YAML's special characters, equality field by field, the diff `asterctl apply`
 * prints, and the imperative edits with their one-line errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../common/routing_config.h"
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

/*
 * Two feeds, a port with and one without its optional fields, and subscribers whose
 * patterns, session and types hold what YAML treats specially: quotes, backslashes,
 * ": ", " #", leading "-", "&", "*", "!", "%", "@", "`", "|", "[", "{", a tab, and YAML's
 * three Unicode line breaks (NEL, LS, PS), which a raw double-quoted scalar folds.
 */
static const char base[] = "feeds:\n"
			   "  - name: itch\n"
			   "    protocol: moldudp64-itch50\n"
			   "    lines:\n"
			   "      - {name: A, group: 233.54.12.111, port: 26477}\n"
			   "      - {name: B, group: 233.49.196.111, port: 26477}\n"
			   "  - name: itch2\n"
			   "    protocol: moldudp64-itch50\n"
			   "    lines:\n"
			   "      - {name: A, group: 233.54.12.112, port: 26478}\n"
			   "ports:\n"
			   "  - name: out0\n"
			   "  - name: out1\n"
			   "    src_ip: 10.9.8.7\n"
			   "    src_port: 4000\n"
			   "subscribers:\n"
			   "  - name: alpha\n"
			   "    feed: itch\n"
			   "    port: out0\n"
			   "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
			   "    session: ALPHA00001\n"
			   "    symbols: [\"^AAPL$\", \"^MS\"]\n"
			   "    types: \"AFECXDUPQ\"\n"
			   "    max_payload: 1400\n"
			   "  - name: beta\n"
			   "    feed: itch2\n"
			   "    port: out1\n"
			   "    dst: {mac: \"02:00:00:00:01:02\", ip: 10.1.1.2, port: 31002}\n"
			   "    session: \" B e \"\n"
			   "    symbols:\n"
			   "      - '^\"Q'\n"
			   "      - '\\d{3}\\\\'\n"
			   "      - 'a: b'\n"
			   "      - 'x #y'\n"
			   "      - '-x'\n"
			   "      - '&a*!%@`'\n"
			   "      - 'it''s|[\\]\"]'\n"
			   "      - \"a\\tb\"\n"
			   "      - \"n\\Nl\\Lp\\P\"\n"
			   "      - '[{}]?z'\n"
			   "    types: '\"\\AZ'\n"
			   "    max_payload: 128\n"
			   "  - name: gamma\n"
			   "    feed: itch\n"
			   "    port: out0\n"
			   "    dst: {mac: \"02:00:00:00:01:03\", ip: 10.1.1.3, port: 31003}\n"
			   "    session: \"\"\n"
			   "    symbols: [\"^G\"]\n";

Test(table, canonical_text_of_a_small_table)
{
	static const char src[] =
	    "feeds:\n"
	    "  - name: f\n"
	    "    protocol: moldudp64-itch50\n"
	    "    lines: [{name: A, group: 239.1.2.3, port: 5000}]\n"
	    "ports: [{name: p, src_ip: 10.0.0.9}]\n"
	    "subscribers:\n"
	    "  - {name: s, feed: f, port: p, session: 'AB  ', symbols: ['a\"b'],\n"
	    "     dst: {mac: 02:AA:00:00:00:01, ip: 10.0.0.1, port: 9},\n"
	    "     types: ZA}\n";
	static const char want[] =
	    "feeds:\n"
	    "  - name: \"f\"\n"
	    "    protocol: \"moldudp64-itch50\"\n"
	    "    lines:\n"
	    "      - {name: \"A\", group: \"239.1.2.3\", port: 5000}\n"
	    "ports:\n"
	    "  - name: \"p\"\n"
	    "    src_ip: \"10.0.0.9\"\n"
	    "subscribers:\n"
	    "  - name: \"s\"\n"
	    "    feed: \"f\"\n"
	    "    port: \"p\"\n"
	    "    dst: {mac: \"02:aa:00:00:00:01\", ip: \"10.0.0.1\", port: 9}\n"
	    "    session: \"AB\"\n"
	    "    symbols:\n"
	    "      - \"a\\\"b\"\n"
	    "    types: \"AZ\"\n"
	    "    max_payload: 1400\n";
	struct routing_config *cfg = parse(src);
	char *text = table_emit_yaml(cfg);

	cr_assert_not_null(text);
	cr_expect_str_eq(text, want);
	free(text);
	routing_config_free(cfg);
}

Test(table, round_trip_keeps_every_byte)
{
	struct routing_config *a = parse(base), *b;
	char *text, *again;
	const struct rc_subscriber *s;

	text = table_emit_yaml(a);
	cr_assert_not_null(text);
	b = parse(text);
	cr_expect(table_equal(a, b), "not equal after round trip:\n%s", text);

	/* Checked directly too, not only through table_equal. */
	s = &b->subs[1];
	cr_assert_eq(s->n_symbols, 10);
	cr_expect_str_eq(s->symbols[0], "^\"Q");
	cr_expect_str_eq(s->symbols[1], "\\d{3}\\\\");
	cr_expect_str_eq(s->symbols[2], "a: b");
	cr_expect_str_eq(s->symbols[3], "x #y");
	cr_expect_str_eq(s->symbols[4], "-x");
	cr_expect_str_eq(s->symbols[5], "&a*!%@`");
	cr_expect_str_eq(s->symbols[6], "it's|[\\]\"]");
	cr_expect_str_eq(s->symbols[7], "a\tb");
	cr_expect_str_eq(s->symbols[8], "n\xc2\x85l\xe2\x80\xa8p\xe2\x80\xa9");
	cr_expect_str_eq(s->symbols[9], "[{}]?z");
	cr_expect_str_eq(s->session, " B e      ");
	cr_expect_str_eq(b->subs[2].session, "          ");
	cr_expect_not(s->all_types);
	cr_expect(rc_sub_wants_type(s, '"') && rc_sub_wants_type(s, '\\') &&
		  rc_sub_wants_type(s, 'A') && rc_sub_wants_type(s, 'Z'));
	cr_expect_not(rc_sub_wants_type(s, 'B'));
	cr_expect(b->subs[2].all_types);
	cr_expect_eq(s->max_payload, 128);
	cr_expect_eq(b->ports[1].src_ip, 0x0a090807);
	cr_expect_eq(b->ports[1].src_port, 4000);
	cr_expect_eq(b->ports[0].src_ip, 0);
	cr_expect_eq(b->ports[0].src_port, 0);
	cr_expect_str_eq(b->path, "routing.yaml");

	/* Canonical: the text of the re-read table is the same text. */
	again = table_emit_yaml(b);
	cr_assert_not_null(again);
	cr_expect_str_eq(again, text);
	/* Optional keys appear only when set (beta's types; out1's src fields). */
	cr_expect_not_null(strstr(text, "    types: \"\\\"AZ\\\\\"\n"));
	cr_expect_not_null(strstr(text, "  - name: \"out0\"\n  - name: \"out1\"\n"
					"    src_ip: \"10.9.8.7\"\n    src_port: 4000\n"));
	free(again);
	free(text);
	routing_config_free(a);
	routing_config_free(b);
}

/* Every printable ASCII character in one pattern, through an edit (emit + re-parse). */
Test(table, round_trip_all_printable_characters)
{
	struct routing_config *a = parse(base), *b;
	char pat[256];
	size_t n = 0;

	for (int c = 0x20; c <= 0x7e; c++) {
		/* Punctuation escaped for Hyperscan; letters and digits as themselves. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			pat[n++] = '\\';
		pat[n++] = (char)c;
	}
	pat[n] = '\0';
	b = table_add_pattern(a, "gamma", pat, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(b->subs[2].n_symbols, 2);
	cr_expect_str_eq(b->subs[2].symbols[1], pat);
	routing_config_free(a);
	routing_config_free(b);
}

Test(table, empty_table_text)
{
	struct routing_config empty = {0};
	char *text = table_emit_yaml(&empty);

	cr_assert_not_null(text);
	cr_expect_str_eq(text, "feeds: []\nports: []\nsubscribers: []\n");
	free(text);
	cr_expect_null(table_emit_yaml(NULL));
	cr_expect_eq(errno, EINVAL);
}

/* Each field of `b` broken in turn must make the tables differ; mending it, equal again. */
Test(table, equal_field_by_field)
{
	struct routing_config *a = parse(base), *b = parse(base);
	struct rc_subscriber *s = &b->subs[1];
	char saved[RC_NAME_MAX], *p;

	cr_assert(table_equal(a, b));
	cr_expect(table_equal(a, a));
	cr_expect_not(table_equal(a, NULL));

#define FLIP(field, value)                                                                         \
	do {                                                                                       \
		__typeof__(field) old_ = (field);                                                  \
		(field) = (value);                                                                 \
		cr_expect_not(table_equal(a, b), #field);                                          \
		cr_expect_not(table_equal(b, a), #field);                                          \
		(field) = old_;                                                                    \
		cr_expect(table_equal(a, b), #field);                                              \
	} while (0)

	FLIP(b->feeds[0].lines[1].group, 1);
	FLIP(b->feeds[0].lines[1].port, 1);
	FLIP(b->feeds[0].n_lines, 1);
	FLIP(b->ports[1].src_ip, 0);
	FLIP(b->ports[1].src_port, 0);
	FLIP(b->n_ports, 1);
	FLIP(s->feed, 0);
	FLIP(s->port, 0);
	FLIP(s->dst_mac[5], 9);
	FLIP(s->dst_ip, 1);
	FLIP(s->dst_port, 1);
	FLIP(s->session[9], 'x');
	FLIP(s->types[1], 0);
	FLIP(s->all_types, true);
	FLIP(s->max_payload, 129);
	FLIP(s->n_symbols, 8);
	FLIP(b->n_subs, 2);
	FLIP(b->n_feeds, 1);
	FLIP(s->symbols[0][1], 'R');
#undef FLIP

	memcpy(saved, b->feeds[1].name, sizeof(saved));
	strcpy(b->feeds[1].name, "itch3");
	cr_expect_not(table_equal(a, b));
	memcpy(b->feeds[1].name, saved, sizeof(saved));
	strcpy(b->feeds[0].lines[0].name, "C");
	cr_expect_not(table_equal(a, b));
	strcpy(b->feeds[0].lines[0].name, "A");
	strcpy(b->ports[0].name, "out9");
	cr_expect_not(table_equal(a, b));
	strcpy(b->ports[0].name, "out0");
	strcpy(s->name, "betb");
	cr_expect_not(table_equal(a, b));
	strcpy(s->name, "beta");

	/* Pattern order counts. */
	p = s->symbols[0];
	s->symbols[0] = s->symbols[1];
	s->symbols[1] = p;
	cr_expect_not(table_equal(a, b));
	s->symbols[1] = s->symbols[0];
	s->symbols[0] = p;

	/* Where the config came from does not count, nor the types bitmap of "all". */
	b->subs[0].cfg_line = 99;
	b->subs[0].symbol_lines[0] = 99;
	b->feeds[0].cfg_line = 99;
	b->subs[2].types[1] = 5;
	cr_expect(table_equal(a, b));
	routing_config_free(a);
	routing_config_free(b);
}

static void expect_diff(const struct routing_config *from, const struct routing_config *to,
			const char *want, size_t n_want)
{
	size_t n = 12345;
	char *d = table_diff(from, to, &n);

	cr_assert_not_null(d);
	cr_expect_str_eq(d, want);
	cr_expect_eq(n, n_want, "%zu changes, want %zu", n, n_want);
	free(d);
}

Test(table, diff_equal_is_empty)
{
	struct routing_config *a = parse(base), *b = parse(base);

	expect_diff(a, b, "", 0);
	routing_config_free(a);
	routing_config_free(b);
}

Test(table, diff_each_field)
{
	struct routing_config *a = parse(base), *b = parse(base);
	struct rc_subscriber *s = &b->subs[1];

	b->feeds[0].lines[1].group = 0xe9000001;
	b->feeds[0].lines[1].port = 1;
	b->ports[1].src_ip = 0;
	b->ports[0].src_port = 7;
	s->feed = 0;
	s->port = 0;
	s->dst_mac[0] = 0xaa;
	s->dst_ip = 0x0a000001;
	s->dst_port = 1;
	memcpy(s->session, "NEW\"      ", RC_SESSION_LEN);
	s->all_types = true;
	s->max_payload = 1000;
	b->subs[0].types[1] = 0;
	b->subs[0].types[1] |= 1ull << ('A' - 64);
	b->subs[2].all_types = false;
	b->subs[2].types[0] = 1ull << '%';
	expect_diff(a, b,
		    "~ feed itch line B: group 233.49.196.111 -> 233.0.0.1\n"
		    "~ feed itch line B: port 26477 -> 1\n"
		    "~ port out0: src_port 0 -> 7\n"
		    "~ port out1: src_ip 10.9.8.7 -> 0.0.0.0\n"
		    "~ subscriber alpha: types \"ACDEFPQUX\" -> \"A\"\n"
		    "~ subscriber beta: feed itch2 -> itch\n"
		    "~ subscriber beta: port out1 -> out0\n"
		    "~ subscriber beta: dst.mac 02:00:00:00:01:02 -> aa:00:00:00:01:02\n"
		    "~ subscriber beta: dst.ip 10.1.1.2 -> 10.0.0.1\n"
		    "~ subscriber beta: dst.port 31002 -> 1\n"
		    "~ subscriber beta: session \" B e\" -> \"NEW\\\"\"\n"
		    "~ subscriber beta: types \"\\\"AZ\\\\\" -> all\n"
		    "~ subscriber beta: max_payload 128 -> 1000\n"
		    "~ subscriber gamma: types all -> \"%\"\n",
		    14);
	routing_config_free(a);
	routing_config_free(b);
}

Test(table, diff_adds_removes_and_order)
{
	static const char other[] =
	    "feeds:\n"
	    "  - name: itch3\n"
	    "    protocol: moldudp64-itch50\n"
	    "    lines: [{name: X, group: 233.54.12.120, port: 26477}]\n"
	    "  - name: itch\n"
	    "    protocol: moldudp64-itch50\n"
	    "    lines:\n"
	    "      - {name: B, group: 233.49.196.111, port: 26477}\n"
	    "      - {name: C, group: 233.49.196.112, port: 26477}\n"
	    "      - {name: A, group: 233.54.12.111, port: 26477}\n"
	    "ports: [{name: out2}, {name: out0}]\n"
	    "subscribers:\n"
	    "  - name: gamma\n"
	    "    feed: itch\n"
	    "    port: out0\n"
	    "    dst: {mac: \"02:00:00:00:01:03\", ip: 10.1.1.3, port: 31003}\n"
	    "    session: \"\"\n"
	    "    symbols: [\"^G\"]\n"
	    "  - name: alpha\n"
	    "    feed: itch\n"
	    "    port: out0\n"
	    "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
	    "    session: ALPHA00001\n"
	    "    symbols: [\"^MS\", \"^IBM\", 'q\"']\n"
	    "    types: \"AFECXDUPQ\"\n"
	    "  - name: delta\n"
	    "    feed: itch3\n"
	    "    port: out2\n"
	    "    dst: {mac: \"02:00:00:00:01:04\", ip: 10.1.1.4, port: 31004}\n"
	    "    session: D\n"
	    "    symbols: [\"^D\"]\n";
	struct routing_config *a = parse(base), *b = parse(other);

	expect_diff(a, b,
		    "- feed itch2\n"
		    "+ feed itch3\n"
		    "+ feed itch line C\n"
		    "~ feed itch: lines order changed\n"
		    "- port out1\n"
		    "+ port out2\n"
		    "- subscriber beta\n"
		    "- subscriber alpha pattern \"^AAPL$\"\n"
		    "+ subscriber alpha pattern \"^IBM\"\n"
		    "+ subscriber alpha pattern \"q\\\"\"\n"
		    "+ subscriber delta\n"
		    "~ subscribers: order changed\n",
		    12);
	/* And back: the mirror image, in the other table's order. */
	expect_diff(b, a,
		    "- feed itch3\n"
		    "- feed itch line C\n"
		    "~ feed itch: lines order changed\n"
		    "+ feed itch2\n"
		    "- port out2\n"
		    "+ port out1\n"
		    "- subscriber delta\n"
		    "- subscriber alpha pattern \"^IBM\"\n"
		    "- subscriber alpha pattern \"q\\\"\"\n"
		    "+ subscriber alpha pattern \"^AAPL$\"\n"
		    "+ subscriber beta\n"
		    "~ subscribers: order changed\n",
		    12);
	routing_config_free(a);
	routing_config_free(b);
}

Test(table, diff_order_only)
{
	struct routing_config *a = parse(base), *b = parse(base);
	struct rc_feed f;
	char *p;

	/* Same patterns, another order: one line, and the tables differ. */
	p = b->subs[0].symbols[0];
	b->subs[0].symbols[0] = b->subs[0].symbols[1];
	b->subs[0].symbols[1] = p;
	expect_diff(a, b, "~ subscriber alpha: patterns order changed\n", 1);
	b->subs[0].symbols[1] = b->subs[0].symbols[0];
	b->subs[0].symbols[0] = p;

	/* Feeds swapped, subscribers still naming the same feeds. */
	f = b->feeds[0];
	b->feeds[0] = b->feeds[1];
	b->feeds[1] = f;
	for (uint32_t i = 0; i < b->n_subs; i++)
		b->subs[i].feed ^= 1;
	cr_expect_not(table_equal(a, b));
	expect_diff(a, b, "~ feeds: order changed\n", 1);
	routing_config_free(a);
	routing_config_free(b);
}

/* A repeated pattern is matched copy for copy: one more copy is one addition. */
Test(table, diff_repeated_pattern)
{
	struct routing_config *a = parse(base), *b;

	b = parse("feeds: [{name: itch, protocol: moldudp64-itch50,"
		  " lines: [{name: A, group: 233.54.12.111, port: 26477}]}]\n"
		  "ports: [{name: out0}]\n"
		  "subscribers: [{name: alpha, feed: itch, port: out0, session: S,"
		  " dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001},"
		  " symbols: [\"^X\", \"^X\"]}]\n");
	struct routing_config *c = table_remove_pattern(b, "alpha", "^X", err, sizeof(err));

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->subs[0].n_symbols, 1);
	expect_diff(c, b, "+ subscriber alpha pattern \"^X\"\n", 1);
	expect_diff(b, c, "- subscriber alpha pattern \"^X\"\n", 1);
	cr_expect_null(table_diff(NULL, b, NULL));
	cr_expect_eq(errno, EINVAL);
	routing_config_free(a);
	routing_config_free(b);
	routing_config_free(c);
}

static const char gamma2[] = "{name: delta, feed: itch2, port: out1, session: D1,\n"
			     " dst: {mac: \"02:00:00:00:01:04\", ip: 10.1.1.4, port: 31004},\n"
			     " symbols: [\"^D\", 'x: \"y\"']}";

Test(table, add_subscriber_flow_and_block)
{
	static const char block[] = "  # the new one\n"
				    "  name: eps\n"
				    "  feed: itch\n"
				    "  port: out0\n"
				    "  dst:\n"
				    "    mac: \"02:00:00:00:01:05\"\n"
				    "    ip: 10.1.1.5\n"
				    "    port: 31005\n"
				    "  session: E\n"
				    "  symbols:\n"
				    "    - ^E\n"
				    "  types: |-\n"
				    "    AF\n"
				    "  max_payload: 512\n";
	struct routing_config *a = parse(base), *b, *c;
	const struct rc_subscriber *s;
	char *text;

	b = table_add_subscriber(a, gamma2, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(b->n_subs, 4);
	cr_expect_eq(a->n_subs, 3, "the input table is left alone");
	s = &b->subs[3];
	cr_expect_str_eq(s->name, "delta");
	cr_expect_eq(s->feed, 1);
	cr_expect_eq(s->port, 1);
	cr_expect_str_eq(s->session, "D1        ");
	cr_assert_eq(s->n_symbols, 2);
	cr_expect_str_eq(s->symbols[1], "x: \"y\"");
	cr_expect_str_eq(b->path, "table");
	expect_diff(a, b, "+ subscriber delta\n", 1);

	c = table_add_subscriber(b, block, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->n_subs, 5);
	s = &c->subs[4];
	cr_expect_str_eq(s->name, "eps");
	cr_expect_eq(s->max_payload, 512);
	cr_expect(rc_sub_wants_type(s, 'A') && rc_sub_wants_type(s, 'F'));
	cr_expect_not(rc_sub_wants_type(s, 'E'));
	cr_expect_str_eq(s->symbols[0], "^E");
	/* The edited table is an ordinary table: its text parses back equal. */
	text = table_emit_yaml(c);
	cr_assert_not_null(text);
	routing_config_free(b);
	b = parse(text);
	cr_expect(table_equal(b, c));
	free(text);
	routing_config_free(a);
	routing_config_free(b);
	routing_config_free(c);
}

/* The edit must fail with exactly `msg` and errno `e`. */
static void expect_edit_error(struct routing_config *r, const char *msg, int e)
{
	cr_expect_null(r, "accepted");
	cr_expect_eq(errno, e, "errno %d, want %d", errno, e);
	cr_expect_str_eq(err, msg);
	cr_expect_null(strchr(err, '\n'), "message must be one line");
	routing_config_free(r);
}

Test(table, add_subscriber_errors)
{
	struct routing_config *a = parse(base), *b;

	expect_edit_error(
	    table_add_subscriber(a,
				 "{name: d, feed: nope, port: out0, session: D, symbols: [x],"
				 " dst: {mac: \"02:00:00:00:01:04\", ip: 1.2.3.4, port: 4}}",
				 err, sizeof(err)),
	    "feed: subscriber \"d\": unknown feed \"nope\"", EINVAL);
	expect_edit_error(
	    table_add_subscriber(a,
				 "{name: d, feed: itch, port: out9, session: D, symbols: [x],"
				 " dst: {mac: \"02:00:00:00:01:04\", ip: 1.2.3.4, port: 4}}",
				 err, sizeof(err)),
	    "port: subscriber \"d\": unknown port \"out9\"", EINVAL);
	expect_edit_error(
	    table_add_subscriber(a,
				 "{name: d, feed: itch, port: out0, session: D, symbols: [x],"
				 " dst: {mac: \"02:00:00:00:01:04\", ip: 1.2.3.4, port: 4},"
				 " colour: red}",
				 err, sizeof(err)),
	    "colour: unknown key (expected one of: name, feed, port, dst, session, "
	    "symbols, types, max_payload, history, heartbeat_ms)",
	    EINVAL);
	b = table_add_subscriber(a, gamma2, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	expect_edit_error(table_add_subscriber(b, gamma2, err, sizeof(err)),
			  "subscriber \"delta\": already exists", EEXIST);
	routing_config_free(b);
	expect_edit_error(table_add_subscriber(a, "{name: alpha}", err, sizeof(err)),
			  "subscriber \"alpha\": already exists", EEXIST);
	expect_edit_error(table_add_subscriber(a, "- {name: x}", err, sizeof(err)),
			  "subscriber: expected a mapping", EINVAL);
	expect_edit_error(table_add_subscriber(a, "{name: [", err, sizeof(err)),
			  "subscriber:2: syntax error: did not find expected node content", EINVAL);
	expect_edit_error(table_add_subscriber(a, "", err, sizeof(err)),
			  "subscriber:1: document: empty file", EINVAL);
	routing_config_free(a);
}

/* docs/protocol.md §3.5: an invalid pattern names the subscriber and the pattern. */
Test(table, invalid_pattern_names_subscriber_and_pattern)
{
	struct routing_config *a = parse(base), *r;

	r = table_add_subscriber(
	    a,
	    "{name: d, feed: itch, port: out0, session: D, symbols: [ok, \"^(A\"],"
	    " dst: {mac: \"02:00:00:00:01:04\", ip: 1.2.3.4, port: 4}}",
	    err, sizeof(err));
	cr_expect_null(r);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(strncmp(err, "symbols: subscriber \"d\": pattern \"^(A\": ", 38), 0, "%s",
		     err);
	r = table_add_pattern(a, "beta", "a[", err, sizeof(err));
	cr_expect_null(r);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(strncmp(err, "symbols: subscriber \"beta\": pattern \"a[\": ", 40), 0, "%s",
		     err);
	routing_config_free(a);
}

Test(table, remove_subscriber)
{
	struct routing_config *a = parse(base), *b, *c, *d;

	b = table_remove_subscriber(a, "beta", err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(b->n_subs, 2);
	cr_expect_str_eq(b->subs[0].name, "alpha");
	cr_expect_str_eq(b->subs[1].name, "gamma");
	expect_diff(a, b, "- subscriber beta\n", 1);
	expect_edit_error(table_remove_subscriber(b, "beta", err, sizeof(err)),
			  "subscriber \"beta\": no such subscriber", ENOENT);
	/* Down to no subscribers at all: still a valid table. */
	c = table_remove_subscriber(b, "alpha", err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	d = table_remove_subscriber(c, "gamma", err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	cr_expect_eq(d->n_subs, 0);
	cr_expect_eq(d->n_feeds, 2);
	routing_config_free(a);
	routing_config_free(b);
	routing_config_free(c);
	routing_config_free(d);
}

Test(table, add_and_remove_pattern)
{
	struct routing_config *a = parse(base), *b, *c;

	b = table_add_pattern(a, "alpha", "^IBM$", err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(b->subs[0].n_symbols, 3);
	cr_expect_str_eq(b->subs[0].symbols[0], "^AAPL$");
	cr_expect_str_eq(b->subs[0].symbols[1], "^MS");
	cr_expect_str_eq(b->subs[0].symbols[2], "^IBM$");
	expect_diff(a, b, "+ subscriber alpha pattern \"^IBM$\"\n", 1);

	c = table_remove_pattern(b, "alpha", "^AAPL$", err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->subs[0].n_symbols, 2);
	cr_expect_str_eq(c->subs[0].symbols[0], "^MS");
	cr_expect_str_eq(c->subs[0].symbols[1], "^IBM$");
	expect_diff(b, c, "- subscriber alpha pattern \"^AAPL$\"\n", 1);
	cr_expect(table_equal(a, b) == false && b->subs[1].n_symbols == 10);

	expect_edit_error(table_add_pattern(a, "alpha", "^MS", err, sizeof(err)),
			  "subscriber \"alpha\": pattern \"^MS\" already present", EEXIST);
	expect_edit_error(table_add_pattern(a, "zeta", "^MS", err, sizeof(err)),
			  "subscriber \"zeta\": no such subscriber", ENOENT);
	expect_edit_error(table_remove_pattern(a, "alpha", "^A", err, sizeof(err)),
			  "subscriber \"alpha\": no pattern \"^A\"", ENOENT);
	expect_edit_error(table_remove_pattern(a, "zeta", "^A", err, sizeof(err)),
			  "subscriber \"zeta\": no such subscriber", ENOENT);
	expect_edit_error(table_remove_pattern(a, "gamma", "^G", err, sizeof(err)),
			  "subscriber \"gamma\": pattern \"^G\" is its only one (remove the "
			  "subscriber instead)",
			  EINVAL);
	routing_config_free(a);
	routing_config_free(b);
	routing_config_free(c);
}

/* aster-control passes the subscriber as JSON text (a YAML flow mapping), on one line. */
Test(table, add_subscriber_as_json)
{
	static const char json[] =
	    "{\"name\": \"j\", \"feed\": \"itch\", \"port\": \"out0\", \"dst\": {\"mac\": "
	    "\"02:00:00:00:01:09\", \"ip\": \"10.1.1.9\", \"port\": 31009}, \"session\": "
	    "\"J\\\"1\", \"symbols\": [\"^J\\\\d\", \"\\u0041:B\"], \"max_payload\": 300}";
	struct routing_config *a = parse(base), *b;

	b = table_add_subscriber(a, json, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	cr_assert_eq(b->n_subs, 4);
	cr_expect_str_eq(b->subs[3].session, "J\"1       ");
	cr_expect_str_eq(b->subs[3].symbols[0], "^J\\d");
	cr_expect_str_eq(b->subs[3].symbols[1], "A:B");
	cr_expect_eq(b->subs[3].max_payload, 300);
	routing_config_free(a);
	routing_config_free(b);
}

/* A new store's table has no feed: an edit cannot add a subscriber to it. */
Test(table, add_subscriber_to_empty_table)
{
	struct routing_config empty = {0};

	expect_edit_error(table_add_subscriber(&empty, gamma2, err, sizeof(err)),
			  "feeds: must not be empty", EINVAL);
}

/*
 * docs/protocol.md §6 keys: they survive aster-control's canonical text (written only
 * when set or not default), count for equality and show in the diff.
 */
static const char alo[] = "feeds:\n"
			  "  - name: itch\n"
			  "    protocol: moldudp64-itch50\n"
			  "    lines: [{name: A, group: 233.54.12.111, port: 26477}]\n"
			  "    recovery:\n"
			  "      server: {mac: \"02:00:00:00:EE:01\", ip: 10.0.0.5, port: 26400}\n"
			  "      source: {ip: 10.0.0.2, port: 26401}\n"
			  "      tries: 7\n"
			  "ports:\n"
			  "  - {name: out0, src_ip: 10.1.0.254, retransmit: {port: 31999}}\n"
			  "subscribers:\n"
			  "  - {name: s, feed: itch, port: out0, session: S, symbols: [x],\n"
			  "     dst: {mac: 02:AA:00:00:00:01, ip: 10.0.0.1, port: 9},\n"
			  "     history: 5000, heartbeat_ms: 0}\n";

Test(table, at_least_once_keys_round_trip)
{
	static const char want[] =
	    "feeds:\n"
	    "  - name: \"itch\"\n"
	    "    protocol: \"moldudp64-itch50\"\n"
	    "    lines:\n"
	    "      - {name: \"A\", group: \"233.54.12.111\", port: 26477}\n"
	    "    recovery:\n"
	    "      server: {mac: \"02:00:00:00:ee:01\", ip: \"10.0.0.5\", port: 26400}\n"
	    "      source: {ip: \"10.0.0.2\", port: 26401}\n"
	    "      wait_us: 500\n"
	    "      timeout_us: 50000\n"
	    "      tries: 7\n"
	    "ports:\n"
	    "  - name: \"out0\"\n"
	    "    src_ip: \"10.1.0.254\"\n"
	    "    retransmit: {port: 31999, rate: 100000}\n"
	    "subscribers:\n"
	    "  - name: \"s\"\n"
	    "    feed: \"itch\"\n"
	    "    port: \"out0\"\n"
	    "    dst: {mac: \"02:aa:00:00:00:01\", ip: \"10.0.0.1\", port: 9}\n"
	    "    session: \"S\"\n"
	    "    symbols:\n"
	    "      - \"x\"\n"
	    "    max_payload: 1400\n"
	    "    history: 5000\n"
	    "    heartbeat_ms: 0\n";
	struct routing_config *a = parse(alo), *b;
	char *text = table_emit_yaml(a);

	cr_assert_not_null(text);
	cr_expect_str_eq(text, want);
	b = parse(text);
	cr_expect(table_equal(a, b));
	free(text);

#define FLIP(field, value)                                                                         \
	do {                                                                                       \
		__typeof__(field) old_ = (field);                                                  \
		(field) = (value);                                                                 \
		cr_expect_not(table_equal(a, b), #field);                                          \
		(field) = old_;                                                                    \
		cr_expect(table_equal(a, b), #field);                                              \
	} while (0)
	FLIP(b->feeds[0].recovery.enabled, false);
	FLIP(b->feeds[0].recovery.server_mac[5], 2);
	FLIP(b->feeds[0].recovery.server_ip, 1);
	FLIP(b->feeds[0].recovery.server_port, 1);
	FLIP(b->feeds[0].recovery.source_ip, 1);
	FLIP(b->feeds[0].recovery.source_port, 1);
	FLIP(b->feeds[0].recovery.wait_us, 1);
	FLIP(b->feeds[0].recovery.timeout_us, 1);
	FLIP(b->feeds[0].recovery.tries, 1);
	FLIP(b->ports[0].retransmit_port, 0);
	FLIP(b->ports[0].retransmit_rate, 1);
	FLIP(b->subs[0].history, 1);
	FLIP(b->subs[0].heartbeat_ms, 1);
#undef FLIP

	b->feeds[0].recovery.enabled = false;
	b->feeds[0].recovery.tries = 9; /* what a disabled recovery holds does not count */
	b->ports[0].retransmit_rate = 3;
	b->subs[0].history = RC_HISTORY_DEF;
	b->subs[0].heartbeat_ms = 20;
	expect_diff(a, b,
		    "~ feed itch: recovery server 02:00:00:00:ee:01 10.0.0.5:26400 source "
		    "10.0.0.2:26401 wait_us 500 timeout_us 50000 tries 7 -> none\n"
		    "~ port out0: retransmit port/rate 31999/100000 -> 31999/3\n"
		    "~ subscriber s: history 5000 -> 100000\n"
		    "~ subscriber s: heartbeat_ms 0 -> 20\n",
		    4);
	/* defaults are not written: the text of a table without §6 keys is unchanged */
	text = table_emit_yaml(b);
	cr_assert_not_null(text);
	cr_expect_null(strstr(text, "recovery"));
	cr_expect_null(strstr(text, "history"));
	cr_expect_not_null(strstr(text, "    heartbeat_ms: 20\n"));
	free(text);
	routing_config_free(a);
	routing_config_free(b);
}
