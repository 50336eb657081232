/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing configuration loader (docs/protocol.md §4): a full round trip, the defaults, and every
 * error class with its exact one-line "FILE:LINE: KEY: message".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../common/routing_config.h"

static char err[RC_ERR_LEN];

static struct routing_config *parse(const char *yaml)
{
	memset(err, 0, sizeof(err));
	return routing_config_parse(yaml, strlen(yaml), "routing.yaml", err, sizeof(err));
}

/* The config must be rejected with exactly `msg`, and errno EINVAL. */
static void expect_error(const char *yaml, const char *msg)
{
	struct routing_config *cfg = parse(yaml);

	cr_assert_null(cfg, "accepted:\n%s", yaml);
	cr_expect_eq(errno, EINVAL);
	cr_expect_str_eq(err, msg);
	cr_expect_null(strchr(err, '\n'), "message must be one line");
}

/* Lines 1-5: one feed with one line. */
#define FEED                                                                                       \
	"feeds:\n"                                                                                 \
	"  - name: itch\n"                                                                         \
	"    protocol: moldudp64-itch50\n"                                                         \
	"    lines:\n"                                                                             \
	"      - {name: A, group: 233.54.12.111, port: 26477}\n"
/* Lines 6-7. */
#define PORTS                                                                                      \
	"ports:\n"                                                                                 \
	"  - name: out0\n"
/* Lines 8-13: subscriber alpha up to its session; symbols (line 14) follow. */
#define SUB_HEAD                                                                                   \
	"subscribers:\n"                                                                           \
	"  - name: alpha\n"                                                                        \
	"    feed: itch\n"                                                                         \
	"    port: out0\n"                                                                         \
	"    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"                       \
	"    session: ALPHA00001\n"
#define SYMBOLS "    symbols: [\"^AAPL$\"]\n"

/*
 * FEED PORTS plus one complete subscriber with the given fields: name on line 9,
 * feed 10, port 11, dst 12, session 13, symbols 14.
 */
static const char *sub(const char *name, const char *feed, const char *port, const char *mac,
		       const char *ip, const char *dport, const char *session)
{
	static char yaml[2048];

	snprintf(yaml, sizeof(yaml),
		 FEED PORTS "subscribers:\n"
			    "  - name: %s\n"
			    "    feed: %s\n"
			    "    port: %s\n"
			    "    dst: {mac: \"%s\", ip: %s, port: %s}\n"
			    "    session: %s\n" SYMBOLS,
		 name, feed, port, mac, ip, dport, session);
	return yaml;
}

#define MAC "02:00:00:00:01:01"

static const char full[] =
    /*  1 */ "feeds:\n"
	     /*  2 */ "  - name: itch\n"
	     /*  3 */ "    protocol: moldudp64-itch50\n"
	     /*  4 */ "    lines:\n"
	     /*  5 */ "      - {name: A, group: 233.54.12.111, port: 26477}\n"
	     /*  6 */ "      - {name: B, group: 233.49.196.111, port: 26477}\n"
	     /*  7 */ "  - name: itch_2-x\n"
	     /*  8 */ "    protocol: \"moldudp64-itch50\"\n"
	     /*  9 */ "    lines:\n"
	     /* 10 */ "      - name: only\n"
	     /* 11 */ "        group: 239.0.0.1\n"
	     /* 12 */ "        port: 1\n"
	     /* 13 */ "ports:\n"
	     /* 14 */ "  - name: out0\n"
	     /* 15 */ "  - name: out1\n"
	     /* 16 */ "    src_ip: 10.0.0.1\n"
	     /* 17 */ "    src_port: 40000\n"
	     /* 18 */ "subscribers:\n"
	     /* 19 */ "  - name: alpha\n"
	     /* 20 */ "    feed: itch\n"
	     /* 21 */ "    port: out0\n"
	     /* 22 */ "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
	     /* 23 */ "    session: ALPHA00001\n"
	     /* 24 */ "    symbols: [\"^AAPL$\", \"^MS\"]\n"
	     /* 25 */ "    types: \"AFECXDUPQ\"\n"
	     /* 26 */ "    max_payload: 8192\n"
	     /* 27 */ "  - name: beta\n"
	     /* 28 */ "    max_payload: 128\n"
	     /* 29 */ "    port: out1\n"
	     /* 30 */ "    feed: itch_2-x\n"
	     /* 31 */ "    dst:\n"
	     /* 32 */ "      mac: \"AA:bb:CC:dd:EE:ff\"\n"
	     /* 33 */ "      ip: 255.255.255.255\n"
	     /* 34 */ "      port: 65535\n"
	     /* 35 */ "    session: \" b~\"\n"
	     /* 36 */ "    symbols:\n"
	     /* 37 */ "      - .\n"
	     /* 38 */ "      - \"^(IBM|MSFT)$\"\n"
	     /* 39 */ "    types: S\n";

Test(config, full_round_trip)
{
	struct routing_config *cfg = parse(full);
	const struct rc_subscriber *s;

	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(cfg->path, "routing.yaml");

	cr_assert_eq(cfg->n_feeds, 2);
	cr_expect_str_eq(cfg->feeds[0].name, "itch");
	cr_expect_eq(cfg->feeds[0].cfg_line, 2);
	cr_assert_eq(cfg->feeds[0].n_lines, 2);
	cr_expect_str_eq(cfg->feeds[0].lines[0].name, "A");
	cr_expect_eq(cfg->feeds[0].lines[0].group, 0xe9360c6f); /* 233.54.12.111 */
	cr_expect_eq(cfg->feeds[0].lines[0].port, 26477);
	cr_expect_eq(cfg->feeds[0].lines[0].cfg_line, 5);
	cr_expect_str_eq(cfg->feeds[0].lines[1].name, "B");
	cr_expect_eq(cfg->feeds[0].lines[1].group, 0xe931c46f); /* 233.49.196.111 */
	cr_expect_eq(cfg->feeds[0].lines[1].port, 26477);
	cr_expect_eq(cfg->feeds[0].lines[1].cfg_line, 6);
	cr_expect_str_eq(cfg->feeds[1].name, "itch_2-x");
	cr_expect_eq(cfg->feeds[1].cfg_line, 7);
	cr_assert_eq(cfg->feeds[1].n_lines, 1);
	cr_expect_str_eq(cfg->feeds[1].lines[0].name, "only");
	cr_expect_eq(cfg->feeds[1].lines[0].group, 0xef000001);
	cr_expect_eq(cfg->feeds[1].lines[0].port, 1);
	cr_expect_eq(cfg->feeds[1].lines[0].cfg_line, 10);

	cr_assert_eq(cfg->n_ports, 2);
	cr_expect_str_eq(cfg->ports[0].name, "out0");
	cr_expect_eq(cfg->ports[0].src_ip, 0);
	cr_expect_eq(cfg->ports[0].src_port, 0);
	cr_expect_eq(cfg->ports[0].cfg_line, 14);
	cr_expect_str_eq(cfg->ports[1].name, "out1");
	cr_expect_eq(cfg->ports[1].src_ip, 0x0a000001);
	cr_expect_eq(cfg->ports[1].src_port, 40000);
	cr_expect_eq(cfg->ports[1].cfg_line, 15);

	cr_assert_eq(cfg->n_subs, 2);
	s = &cfg->subs[0];
	cr_expect_str_eq(s->name, "alpha");
	cr_expect_eq(s->cfg_line, 19);
	cr_expect_eq(s->feed, 0);
	cr_expect_eq(s->port, 0);
	cr_expect_arr_eq(s->dst_mac, ((uint8_t[]){0x02, 0, 0, 0, 0x01, 0x01}), 6);
	cr_expect_eq(s->dst_ip, 0x0a010101);
	cr_expect_eq(s->dst_port, 31001);
	cr_expect_str_eq(s->session, "ALPHA00001");
	cr_assert_eq(s->n_symbols, 2);
	cr_expect_str_eq(s->symbols[0], "^AAPL$");
	cr_expect_str_eq(s->symbols[1], "^MS");
	cr_expect_eq(s->symbol_lines[0], 24);
	cr_expect_eq(s->symbol_lines[1], 24);
	cr_expect_not(s->all_types);
	for (int t = 0; t < 256; t++)
		cr_expect_eq(rc_sub_wants_type(s, (uint8_t)t), strchr("AFECXDUPQ", t) != NULL && t,
			     "type %d", t);
	cr_expect_eq(s->max_payload, 8192);

	s = &cfg->subs[1];
	cr_expect_str_eq(s->name, "beta");
	cr_expect_eq(s->cfg_line, 27);
	cr_expect_eq(s->feed, 1);
	cr_expect_eq(s->port, 1);
	cr_expect_arr_eq(s->dst_mac, ((uint8_t[]){0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}), 6);
	cr_expect_eq(s->dst_ip, 0xffffffff);
	cr_expect_eq(s->dst_port, 65535);
	cr_expect_str_eq(s->session, " b~       ");
	cr_assert_eq(s->n_symbols, 2);
	cr_expect_str_eq(s->symbols[0], ".");
	cr_expect_str_eq(s->symbols[1], "^(IBM|MSFT)$");
	cr_expect_eq(s->symbol_lines[0], 37);
	cr_expect_eq(s->symbol_lines[1], 38);
	cr_expect_not(s->all_types);
	cr_expect(rc_sub_wants_type(s, 'S'));
	cr_expect_not(rc_sub_wants_type(s, 'A'));
	cr_expect_eq(s->types[0], 0);
	cr_expect_eq(s->types[1], 1ull << ('S' - 64));
	cr_expect_eq(s->types[2] | s->types[3], 0);
	cr_expect_eq(s->max_payload, 128);

	cr_expect_eq(routing_config_feed_index(cfg, "itch"), 0);
	cr_expect_eq(routing_config_feed_index(cfg, "itch_2-x"), 1);
	cr_expect_eq(routing_config_feed_index(cfg, "nope"), -1);
	cr_expect_eq(routing_config_port_index(cfg, "out1"), 1);
	cr_expect_eq(routing_config_port_index(cfg, "out2"), -1);
	cr_expect_eq(routing_config_sub_index(cfg, "beta"), 1);
	cr_expect_eq(routing_config_sub_index(cfg, "gamma"), -1);
	routing_config_free(cfg);
}

Test(config, defaults)
{
	struct routing_config *cfg = parse(FEED PORTS SUB_HEAD SYMBOLS);
	const struct rc_subscriber *s;

	cr_assert_not_null(cfg, "%s", err);
	s = &cfg->subs[0];
	cr_expect(s->all_types);
	cr_expect_eq(s->types[0] | s->types[1] | s->types[2] | s->types[3], 0);
	for (int t = 0; t < 256; t++)
		cr_expect(rc_sub_wants_type(
		    s, (uint8_t)t)); /* unknown types too (docs/protocol.md §3.5) */
	cr_expect_eq(s->max_payload, RC_MAX_PAYLOAD_DEF);
	cr_expect_eq(cfg->ports[0].src_ip, 0);
	cr_expect_eq(cfg->ports[0].src_port, 0);
	/* docs/protocol.md §6: absent keys, defaults from routing_config.h */
	cr_expect_eq(cfg->ports[0].retransmit_port, 0);
	cr_expect_eq(s->history, RC_HISTORY_DEF);
	cr_expect_eq(s->heartbeat_ms, RC_HEARTBEAT_MS_DEF);
	cr_expect_not(cfg->feeds[0].recovery.enabled);
	routing_config_free(cfg);
}

Test(config, feeds_only_and_empty_lists)
{
	struct routing_config *cfg = parse(FEED);

	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->n_ports, 0);
	cr_expect_eq(cfg->n_subs, 0);
	routing_config_free(cfg);

	cfg = parse(FEED "ports: []\nsubscribers: []\n");
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->n_ports, 0);
	cr_expect_eq(cfg->n_subs, 0);
	routing_config_free(cfg);

	/* `key:` with no value is the same as leaving it out. */
	cfg = parse(FEED "ports:\nsubscribers: ~\n");
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->n_subs, 0);
	routing_config_free(cfg);
}

Test(config, session_padding)
{
	struct routing_config *cfg;

	cfg = parse(FEED PORTS "subscribers:\n  - name: alpha\n    feed: itch\n    port: out0\n"
			       "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
			       "    session: \"\"\n" SYMBOLS);
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(cfg->subs[0].session, "          ");
	routing_config_free(cfg);

	cfg = parse(FEED PORTS "subscribers:\n  - name: alpha\n    feed: itch\n    port: out0\n"
			       "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
			       "    session: X\n" SYMBOLS);
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_arr_eq(cfg->subs[0].session, "X         ", 11);
	routing_config_free(cfg);
}

/* Subscribers may come before the feeds and ports they refer to. */
Test(config, key_order_free)
{
	struct routing_config *cfg = parse(SUB_HEAD SYMBOLS PORTS FEED);

	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->subs[0].feed, 0);
	cr_expect_eq(cfg->subs[0].symbol_lines[0], 7);
	routing_config_free(cfg);
}

Test(config, load_file)
{
	char path[] = "/tmp/aster-test-config-XXXXXX";
	struct routing_config *cfg;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, full, sizeof(full) - 1), (ssize_t)sizeof(full) - 1);
	close(fd);
	cfg = routing_config_load(path, err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(cfg->path, path);
	cr_expect_eq(cfg->n_subs, 2);
	routing_config_free(cfg);
	unlink(path);
}

Test(config, missing_file)
{
	struct routing_config *cfg;

	errno = 0;
	cfg = routing_config_load("/nonexistent/routing.yaml", err, sizeof(err));
	cr_assert_null(cfg);
	cr_expect_eq(errno, ENOENT);
	cr_expect_str_eq(err, "/nonexistent/routing.yaml: cannot read: No such file or directory");

	cfg = routing_config_load("/tmp", err, sizeof(err));
	cr_assert_null(cfg);
	cr_expect_eq(errno, EISDIR);
	cr_expect_str_eq(err, "/tmp: cannot read: Is a directory");
}

Test(config, yaml_syntax_error)
{
	struct routing_config *cfg = parse("feeds:\n  - name: itch\n    protocol: [x\n");

	cr_assert_null(cfg);
	cr_expect_eq(errno, EINVAL);
	cr_expect_str_eq(err, "routing.yaml:4: syntax error: did not find expected ',' or ']'");

	expect_error(FEED "  bad: indentation\n",
		     "routing.yaml:6: syntax error: did not find expected '-' indicator");
}

Test(config, empty_and_not_a_mapping)
{
	expect_error("", "routing.yaml:1: document: empty file");
	expect_error("# only a comment\n", "routing.yaml:1: document: empty file");
	expect_error("- feeds\n", "routing.yaml:1: document: expected a mapping");
	expect_error(FEED "---\nfeeds: []\n",
		     "routing.yaml:7: document: more than one YAML document");
}

Test(config, unknown_key)
{
	expect_error(FEED "bogus: 1\n",
		     "routing.yaml:6: bogus: unknown key (expected one of: feeds, ports, "
		     "subscribers)");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    colour: red\n",
		     "routing.yaml:15: colour: unknown key (expected one of: name, feed, port, "
		     "dst, session, symbols, types, max_payload, history, heartbeat_ms)");
	expect_error(FEED "      - {name: B, group: 233.54.12.112, port: 26477, vlan: 4}\n",
		     "routing.yaml:6: vlan: unknown key (expected one of: name, group, port)");
	expect_error(FEED PORTS "    mtu: 9000\n",
		     "routing.yaml:8: mtu: unknown key (expected one of: name, src_ip, src_port, "
		     "retransmit)");
}

Test(config, duplicate_key)
{
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    session: OTHER\n",
		     "routing.yaml:15: session: duplicate key (first at line 13)");
}

Test(config, missing_key)
{
	expect_error("ports: []\n", "routing.yaml:1: feeds: missing required key");
	expect_error(FEED PORTS
		     "subscribers:\n  - name: alpha\n    feed: itch\n    port: out0\n"
		     "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n" SYMBOLS,
		     "routing.yaml:9: session: missing required key");
	expect_error(FEED PORTS "subscribers:\n  - name: alpha\n    feed: itch\n    port: out0\n"
				"    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1}\n"
				"    session: ALPHA00001\n" SYMBOLS,
		     "routing.yaml:12: port: missing required key");
	expect_error(
	    "feeds:\n  - name: itch\n    lines:\n      - {name: A, group: 1.2.3.4, port: 1}\n",
	    "routing.yaml:2: protocol: missing required key");
	expect_error(FEED PORTS SUB_HEAD "    symbols:\n",
		     "routing.yaml:14: symbols: missing value");
}

Test(config, wrong_kind)
{
	expect_error("feeds: itch\n", "routing.yaml:1: feeds: expected a list");
	expect_error("feeds:\n  - itch\n", "routing.yaml:2: feeds: expected a mapping");
	expect_error(FEED PORTS SUB_HEAD "    symbols: \"^AAPL$\"\n",
		     "routing.yaml:14: symbols: expected a list");
	expect_error(FEED PORTS SUB_HEAD "    symbols: [[A]]\n",
		     "routing.yaml:14: symbols: expected a string");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    max_payload: [1400]\n",
		     "routing.yaml:15: max_payload: expected an integer");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    max_payload: 1.4e3\n",
		     "routing.yaml:15: max_payload: \"1.4e3\" is not an integer");
}

Test(config, duplicate_names)
{
	expect_error(FEED "  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
			  "      - {name: A, group: 233.54.12.112, port: 26477}\n",
		     "routing.yaml:6: name: duplicate feed \"itch\" (first at line 2)");
	expect_error(FEED PORTS "  - name: out0\n",
		     "routing.yaml:8: name: duplicate port \"out0\" (first at line 7)");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS
		     "  - name: alpha\n    feed: itch\n    port: out0\n"
		     "    dst: {mac: \"02:00:00:00:01:02\", ip: 10.1.1.2, port: 31002}\n"
		     "    session: ALPHA00002\n" SYMBOLS,
		     "routing.yaml:15: name: duplicate subscriber \"alpha\" (first at line 9)");
	expect_error(
	    FEED "      - {name: A, group: 233.54.12.112, port: 26477}\n",
	    "routing.yaml:6: name: duplicate line \"A\" in feed \"itch\" (first at line 5)");
}

Test(config, duplicate_group_port)
{
	/* Within one feed... */
	expect_error(FEED "      - {name: B, group: 233.54.12.111, port: 26477}\n",
		     "routing.yaml:6: group: 233.54.12.111:26477 is already used by feed \"itch\" "
		     "line \"A\" (line 5)");
	/* ...and across feeds. */
	expect_error(FEED "  - name: other\n    protocol: moldudp64-itch50\n    lines:\n"
			  "      - name: X\n        port: 26477\n        group: 233.54.12.111\n",
		     "routing.yaml:11: group: 233.54.12.111:26477 is already used by feed \"itch\" "
		     "line \"A\" (line 5)");
	/* Same group on another port is a different line. */
	struct routing_config *cfg =
	    parse(FEED "      - {name: B, group: 233.54.12.111, port: 26478}\n");
	cr_assert_not_null(cfg, "%s", err);
	routing_config_free(cfg);
}

Test(config, unknown_references)
{
	expect_error(sub("alpha", "itch9", "out0", MAC, "10.1.1.1", "1", "S"),
		     "routing.yaml:10: feed: subscriber \"alpha\": unknown feed \"itch9\"");
	expect_error(sub("alpha", "itch", "out9", MAC, "10.1.1.1", "1", "S"),
		     "routing.yaml:11: port: subscriber \"alpha\": unknown port \"out9\"");
	/* No ports at all. */
	expect_error(FEED "subscribers:\n  - {name: a, feed: itch, port: out0, session: S, "
			  "dst: {mac: \"" MAC "\", ip: 1.1.1.1, port: 1}, symbols: [A]}\n",
		     "routing.yaml:7: port: subscriber \"a\": unknown port \"out0\"");
}

Test(config, bad_ip)
{
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
		     "      - {name: A, group: 233.54.12, port: 26477}\n",
		     "routing.yaml:5: group: \"233.54.12\" is not an IPv4 address (a.b.c.d)");
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
		     "      - {name: A, group: 233.54.012.111, port: 26477}\n",
		     "routing.yaml:5: group: \"233.54.012.111\" is not an IPv4 address (a.b.c.d)");
	expect_error(sub("alpha", "itch", "out0", MAC, "10.1.1.256", "1", "S"),
		     "routing.yaml:12: ip: \"10.1.1.256\" is not an IPv4 address (a.b.c.d)");
	expect_error(sub("alpha", "itch", "out0", MAC, "10.1.1.-1", "1", "S"),
		     "routing.yaml:12: ip: \"10.1.1.-1\" is not an IPv4 address (a.b.c.d)");
	expect_error(sub("alpha", "itch", "out0", MAC, "'10.1.1.1 '", "1", "S"),
		     "routing.yaml:12: ip: \"10.1.1.1 \" is not an IPv4 address (a.b.c.d)");
	expect_error(FEED "ports:\n  - name: out0\n    src_ip: 10.0.0.1.5\n",
		     "routing.yaml:8: src_ip: \"10.0.0.1.5\" is not an IPv4 address (a.b.c.d)");
	expect_error(FEED "ports:\n  - name: out0\n    src_ip: \" 10.0.0.1\"\n",
		     "routing.yaml:8: src_ip: \" 10.0.0.1\" is not an IPv4 address (a.b.c.d)");
}

Test(config, bad_mac)
{
	static const char *const bad[] = {
	    "02:00:00:00:01",	 "02:00:00:00:01:01:03", "02-00-00-00-01-01",
	    "0g:00:00:00:01:01", "2:00:00:00:01:01:",	 "02:00:00:00:01:1",
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(msg, sizeof(msg),
			 "routing.yaml:12: mac: \"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)",
			 bad[i]);
		expect_error(sub("alpha", "itch", "out0", bad[i], "10.1.1.1", "1", "S"), msg);
	}
	expect_error(sub("alpha", "itch", "out0", "", "10.1.1.1", "1", "S"),
		     "routing.yaml:12: mac: must not be empty");
}

Test(config, port_out_of_range)
{
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
		     "      - {name: A, group: 233.54.12.111, port: 0}\n",
		     "routing.yaml:5: port: 0 is out of range 1..65535");
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
		     "      - {name: A, group: 233.54.12.111, port: 65536}\n",
		     "routing.yaml:5: port: 65536 is out of range 1..65535");
	expect_error(sub("alpha", "itch", "out0", MAC, "10.1.1.1", "-5", "S"),
		     "routing.yaml:12: port: -5 is out of range 1..65535");
	expect_error(FEED "ports:\n  - name: out0\n    src_port: 99999999999999999999\n",
		     "routing.yaml:8: src_port: \"99999999999999999999\" is not an integer");
}

Test(config, max_payload_range)
{
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    max_payload: 127\n",
		     "routing.yaml:15: max_payload: 127 is out of range 128..8192");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    max_payload: 8193\n",
		     "routing.yaml:15: max_payload: 8193 is out of range 128..8192");
}

Test(config, session)
{
	const char *head =
	    FEED PORTS "subscribers:\n  - name: alpha\n    feed: itch\n"
		       "    port: out0\n"
		       "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 1}\n";
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "%s    session: ALPHA000011\n" SYMBOLS, head);
	expect_error(yaml, "routing.yaml:13: session: \"ALPHA000011\" is too long (11 "
			   "characters, at most 10)");
	snprintf(yaml, sizeof(yaml), "%s    session: \"AB\\tC\"\n" SYMBOLS, head);
	expect_error(yaml, "routing.yaml:13: session: character 0x09 at offset 2 is not "
			   "printable ASCII (0x20..0x7e)");
	snprintf(yaml, sizeof(yaml), "%s    session: \"\\x7f\"\n" SYMBOLS, head);
	expect_error(yaml, "routing.yaml:13: session: character 0x7f at offset 0 is not "
			   "printable ASCII (0x20..0x7e)");
	/* UTF-8 is not ASCII. */
	snprintf(yaml, sizeof(yaml), "%s    session: \"caf\xc3\xa9\"\n" SYMBOLS, head);
	expect_error(yaml, "routing.yaml:13: session: character 0xc3 at offset 3 is not "
			   "printable ASCII (0x20..0x7e)");
	snprintf(yaml, sizeof(yaml), "%s    session: \"A\\0B\"\n" SYMBOLS, head);
	expect_error(yaml, "routing.yaml:13: session: string contains a NUL character");
}

Test(config, bad_names)
{
	expect_error("feeds:\n  - name: Itch\n    protocol: moldudp64-itch50\n"
		     "    lines: [{name: A, group: 1.2.3.4, port: 1}]\n",
		     "routing.yaml:2: name: \"Itch\" is not a valid feed name ([a-z0-9_-]{1,31})");
	expect_error(FEED "ports:\n  - name: out 0\n",
		     "routing.yaml:7: name: \"out 0\" is not a valid port name ([a-z0-9_-]{1,31})");
	expect_error(sub("al.pha", "itch", "out0", MAC, "10.1.1.1", "1", "S"),
		     "routing.yaml:9: name: \"al.pha\" is not a valid subscriber name "
		     "([a-z0-9_-]{1,31})");
	expect_error(
	    sub("abcdefghijabcdefghijabcdefghij01", "itch", "out0", MAC, "10.1.1.1", "1", "S"),
	    "routing.yaml:9: name: \"abcdefghijabcdefghijabcdefghij01\" is too long (32 "
	    "characters, at most 31)");
	expect_error(sub("\"\"", "itch", "out0", MAC, "10.1.1.1", "1", "S"),
		     "routing.yaml:9: name: must not be empty");
	expect_error(
	    "feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
	    "      - {name: \"A/1\", group: 233.54.12.111, port: 26477}\n",
	    "routing.yaml:5: name: \"A/1\" is not a valid line name ([A-Za-z0-9_-]{1,31})");

	/* The longest legal name. */
	struct routing_config *cfg = parse(
	    "feeds:\n  - name: abcdefghijabcdefghijabcdefghij0\n"
	    "    protocol: moldudp64-itch50\n    lines: [{name: A, group: 1.2.3.4, port: 1}]\n");
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_str_eq(cfg->feeds[0].name, "abcdefghijabcdefghijabcdefghij0");
	routing_config_free(cfg);
}

Test(config, invalid_pattern)
{
	expect_error(FEED PORTS SUB_HEAD "    symbols: [\"^(AAPL\"]\n",
		     "routing.yaml:14: symbols: subscriber \"alpha\": pattern \"^(AAPL\": Missing "
		     "close parenthesis for group started at index 1.");
	/* The line of the offending item, not of the key. */
	expect_error(
	    FEED PORTS SUB_HEAD "    symbols:\n      - \"^MSFT$\"\n      - \"[A-\"\n",
	    "routing.yaml:16: symbols: subscriber \"alpha\": pattern \"[A-\": Unterminated "
	    "character class starting at index 0.");
	expect_error(FEED PORTS SUB_HEAD "    symbols: []\n",
		     "routing.yaml:14: symbols: must not be empty");
	expect_error(FEED PORTS SUB_HEAD "    symbols: [\"\"]\n",
		     "routing.yaml:14: symbols: must not be empty");
}

/* Valid regexes are checked once per process; an invalid one is reported every time,
 * also after a valid pattern with the same prefix was cached. */
Test(config, pattern_check_cache)
{
	const char *good = FEED PORTS SUB_HEAD "    symbols: [\"^M[A-Z]{1,3}$\"]\n";
	const char *bad = FEED PORTS SUB_HEAD "    symbols: [\"^M[A-Z\"]\n";
	struct routing_config *cfg;

	for (int k = 0; k < 3; k++) {
		cfg = parse(good);
		cr_assert_not_null(cfg, "parse %d: %s", k, err);
		cr_expect_str_eq(cfg->subs[0].symbols[0], "^M[A-Z]{1,3}$");
		routing_config_free(cfg);
		expect_error(bad,
			     "routing.yaml:14: symbols: subscriber \"alpha\": pattern \"^M[A-Z\": "
			     "Unterminated character class starting at index 2.");
	}
}

Test(config, types)
{
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    types: \"A E\"\n",
		     "routing.yaml:15: types: character 0x20 at offset 1 is not a printable "
		     "non-space ASCII character (an ITCH message type)");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    types: \"\"\n",
		     "routing.yaml:15: types: must not be empty");
}

Test(config, wrong_protocol)
{
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch41\n",
		     "routing.yaml:3: protocol: \"moldudp64-itch41\" is not one of: "
		     "moldudp64-itch50");
}

Test(config, feeds_and_lines_counts)
{
	expect_error("feeds: []\n", "routing.yaml:1: feeds: must not be empty");
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines: []\n",
		     "routing.yaml:4: lines: must not be empty");
	expect_error("feeds:\n  - name: itch\n    protocol: moldudp64-itch50\n    lines:\n"
		     "      - {name: a, group: 1.1.1.1, port: 1}\n"
		     "      - {name: b, group: 1.1.1.1, port: 2}\n"
		     "      - {name: c, group: 1.1.1.1, port: 3}\n"
		     "      - {name: d, group: 1.1.1.1, port: 4}\n"
		     "      - {name: e, group: 1.1.1.1, port: 5}\n"
		     "      - {name: f, group: 1.1.1.1, port: 6}\n"
		     "      - {name: g, group: 1.1.1.1, port: 7}\n"
		     "      - {name: h, group: 1.1.1.1, port: 8}\n"
		     "      - {name: i, group: 1.1.1.1, port: 9}\n",
		     "routing.yaml:4: lines: too many items (9, at most 8)");
}

/* Many subscribers: the name checks stay linear, the last duplicate is still found. */
Test(config, many_subscribers)
{
	const unsigned n = 20000;
	size_t cap = 200 + (size_t)n * 160, o;
	char *yaml = malloc(cap);
	struct routing_config *cfg;

	cr_assert_not_null(yaml);
	o = (size_t)snprintf(yaml, cap, FEED PORTS "subscribers:\n");
	for (unsigned i = 0; i < n; i++)
		o += (size_t)snprintf(yaml + o, cap - o,
				      "  - {name: s%u, feed: itch, port: out0, session: S%u, "
				      "dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.1, port: 1}, "
				      "symbols: [\"^A\"]}\n",
				      i, i);
	cfg = routing_config_parse(yaml, o, "big.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->n_subs, n);
	cr_expect_str_eq(cfg->subs[n - 1].name, "s19999");
	cr_expect_eq(routing_config_sub_index(cfg, "s12345"), 12345);
	routing_config_free(cfg);

	o += (size_t)snprintf(yaml + o, cap - o,
			      "  - {name: s777, feed: itch, port: out0, session: X, "
			      "dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.1, port: 1}, "
			      "symbols: [\"^A\"]}\n");
	cfg = routing_config_parse(yaml, o, "big.yaml", err, sizeof(err));
	cr_assert_null(cfg);
	cr_expect_str_eq(err, "big.yaml:20009: name: duplicate subscriber \"s777\" (first at "
			      "line 786)");
	free(yaml);
}

Test(config, err_buffer_optional)
{
	struct routing_config *cfg;

	cfg = routing_config_parse("feeds: 1\n", 9, "x.yaml", NULL, 0);
	cr_expect_null(cfg);
	cr_expect_eq(errno, EINVAL);
	/* A short buffer truncates but stays terminated. */
	cfg = routing_config_parse("feeds: 1\n", 9, "x.yaml", err, 8);
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "x.yaml:");
}

Test(config, free_null)
{
	routing_config_free(NULL);
	cr_expect_eq(routing_config_feed_index(NULL, "x"), -1);
}

/* ------------------------------------------------------------------ §6 keys */

/* docs/protocol.md §6: lines 1-9 a feed with recovery, 10-13 a port with retransmit. */
#define FEED_REC(rec)                                                                              \
	"feeds:\n"                                                                                 \
	"  - name: itch\n"                                                                         \
	"    protocol: moldudp64-itch50\n"                                                         \
	"    lines:\n"                                                                             \
	"      - {name: A, group: 233.54.12.111, port: 26477}\n"                                   \
	"      - {name: B, group: 233.49.196.111, port: 26477}\n"                                  \
	"    recovery:\n"                                                                          \
	"      server: {mac: \"02:00:00:00:ee:01\", ip: 10.0.0.5, port: 26400}\n"                  \
	"      " rec "\n"
#define SOURCE "source: {ip: 10.0.0.2, port: 26401}"
#define PORT_RETX(retx)                                                                            \
	"ports:\n"                                                                                 \
	"  - name: out0\n"                                                                         \
	"    src_ip: 10.1.0.254\n"                                                                 \
	"    " retx "\n"

Test(config, at_least_once_keys)
{
	struct routing_config *cfg =
	    parse(FEED_REC(SOURCE "\n      wait_us: 250\n      timeout_us: 20000\n      tries: 5")
		      PORT_RETX("retransmit: {port: 31999, rate: 5000}") SUB_HEAD SYMBOLS
		  "    history: 1000000\n    heartbeat_ms: 250\n");
	const struct rc_recovery *r;

	cr_assert_not_null(cfg, "%s", err);
	r = &cfg->feeds[0].recovery;
	cr_expect(r->enabled);
	cr_expect_arr_eq(r->server_mac, "\x02\x00\x00\x00\xee\x01", 6);
	cr_expect_eq(r->server_ip, 0x0a000005);
	cr_expect_eq(r->server_port, 26400);
	cr_expect_eq(r->source_ip, 0x0a000002);
	cr_expect_eq(r->source_port, 26401);
	cr_expect_eq(r->source_ip_line, 9);
	cr_expect_eq(r->cfg_line, 8);
	cr_expect_eq(r->wait_us, 250);
	cr_expect_eq(r->timeout_us, 20000);
	cr_expect_eq(r->tries, 5);
	cr_expect_eq(cfg->ports[0].src_ip, 0x0a0100fe);
	cr_expect_eq(cfg->ports[0].retransmit_port, 31999);
	cr_expect_eq(cfg->ports[0].retransmit_rate, 5000);
	cr_expect_eq(cfg->subs[0].history, 1000000);
	cr_expect_eq(cfg->subs[0].heartbeat_ms, 250);
	routing_config_free(cfg);

	/* optional parts left out: their defaults; 0 is legal for history and heartbeat_ms */
	cfg = parse(FEED_REC(SOURCE) PORT_RETX("retransmit: {port: 31999}") SUB_HEAD SYMBOLS
		    "    history: 0\n    heartbeat_ms: 0\n");
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->feeds[0].recovery.wait_us, RC_RECOVERY_WAIT_US_DEF);
	cr_expect_eq(cfg->feeds[0].recovery.timeout_us, RC_RECOVERY_TIMEOUT_US_DEF);
	cr_expect_eq(cfg->feeds[0].recovery.tries, RC_RECOVERY_TRIES_DEF);
	cr_expect_eq(cfg->ports[0].retransmit_rate, RC_RETRANSMIT_RATE_DEF);
	cr_expect_eq(cfg->subs[0].history, 0);
	cr_expect_eq(cfg->subs[0].heartbeat_ms, 0);
	routing_config_free(cfg);
}

Test(config, at_least_once_key_errors)
{
	/* ports[].retransmit */
	expect_error(FEED "ports:\n  - name: out0\n    retransmit: {port: 31999}\n",
		     "routing.yaml:8: retransmit: port \"out0\" has no src_ip (requests are sent "
		     "to src_ip:retransmit.port)");
	expect_error(FEED
		     "ports:\n  - name: out0\n    src_ip: 0.0.0.0\n    retransmit: {port: 1}\n",
		     "routing.yaml:8: src_ip: \"0.0.0.0\" is not a unicast IPv4 address (port "
		     "\"out0\" serves retransmission requests on it)");
	expect_error(FEED
		     "ports:\n  - name: out0\n    src_ip: 239.1.1.1\n    retransmit: {port: 1}\n",
		     "routing.yaml:8: src_ip: \"239.1.1.1\" is not a unicast IPv4 address (port "
		     "\"out0\" serves retransmission requests on it)");
	expect_error(FEED PORT_RETX("retransmit: {rate: 10}"),
		     "routing.yaml:9: port: missing required key");
	expect_error(FEED PORT_RETX("retransmit: {port: 0}"),
		     "routing.yaml:9: port: 0 is out of range 1..65535");
	expect_error(FEED PORT_RETX("retransmit: {port: 1, rate: 0}"),
		     "routing.yaml:9: rate: 0 is out of range 1..100000000");
	expect_error(FEED PORT_RETX("retransmit: {port: 1, burst: 4}"),
		     "routing.yaml:9: burst: unknown key (expected one of: port, rate)");
	expect_error(FEED PORT_RETX("retransmit: 31999"),
		     "routing.yaml:9: retransmit: expected a mapping");

	/* subscribers[].history, heartbeat_ms */
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    history: -1\n",
		     "routing.yaml:15: history: -1 is out of range 0..67108864");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    history: 67108865\n",
		     "routing.yaml:15: history: 67108865 is out of range 0..67108864");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    heartbeat_ms: 60001\n",
		     "routing.yaml:15: heartbeat_ms: 60001 is out of range 0..60000");
	expect_error(FEED PORTS SUB_HEAD SYMBOLS "    heartbeat_ms: 1s\n",
		     "routing.yaml:15: heartbeat_ms: \"1s\" is not an integer");

	/* feeds[].recovery */
	expect_error(FEED "    recovery: {" SOURCE "}\n",
		     "routing.yaml:6: server: missing required key");
	expect_error(FEED "    recovery:\n      server: {mac: \"02:00:00:00:ee:01\", ip: 10.0.0.5, "
			  "port: 26400}\n",
		     "routing.yaml:7: source: missing required key");
	expect_error(FEED "    recovery:\n      server: {mac: \"01:00:5e:00:00:01\", ip: 10.0.0.5, "
			  "port: 26400}\n      " SOURCE "\n",
		     "routing.yaml:7: mac: \"01:00:5e:00:00:01\" is not a unicast MAC address (the "
		     "next hop towards the server)");
	expect_error(FEED "    recovery:\n      server: {mac: \"02:00:00:00:ee\", ip: 10.0.0.5, "
			  "port: 26400}\n      " SOURCE "\n",
		     "routing.yaml:7: mac: \"02:00:00:00:ee\" is not a MAC address "
		     "(xx:xx:xx:xx:xx:xx)");
	expect_error(FEED
		     "    recovery:\n      server: {mac: \"02:00:00:00:ee:01\", ip: 233.1.1.1, "
		     "port: 26400}\n      " SOURCE "\n",
		     "routing.yaml:7: ip: \"233.1.1.1\" is not a unicast IPv4 address");
	expect_error(FEED "    recovery:\n      server: {mac: \"02:00:00:00:ee:01\", ip: 10.0.0.5, "
			  "port: 26400, vlan: 3}\n      " SOURCE "\n",
		     "routing.yaml:7: vlan: unknown key (expected one of: mac, ip, port)");
	expect_error(FEED_REC("source: {ip: 0.0.0.0, port: 26401}"),
		     "routing.yaml:9: ip: \"0.0.0.0\" is not a unicast IPv4 address");
	expect_error(FEED_REC("source: {ip: 10.0.0.2}"),
		     "routing.yaml:9: port: missing required key");
	expect_error(FEED_REC(SOURCE "\n      wait_us: 1000001"),
		     "routing.yaml:10: wait_us: 1000001 is out of range 0..1000000");
	expect_error(FEED_REC(SOURCE "\n      timeout_us: 99"),
		     "routing.yaml:10: timeout_us: 99 is out of range 100..10000000");
	expect_error(FEED_REC(SOURCE "\n      tries: 0"),
		     "routing.yaml:10: tries: 0 is out of range 1..100");
	expect_error(FEED_REC(SOURCE "\n      retries: 2"),
		     "routing.yaml:10: retries: unknown key (expected one of: server, source, "
		     "wait_us, timeout_us, tries)");
	expect_error(FEED "    recovery: yes\n", "routing.yaml:6: recovery: expected a mapping");
	expect_error(FEED "    recovery: {}\n", "routing.yaml:6: server: missing required key");
}

/* docs/protocol.md §6.3: the recovery source is one more line of its feed. */
Test(config, recovery_source_address_unique)
{
	/* the source of a later feed on another feed's line */
	expect_error(FEED "      - {name: U, group: 10.0.0.9, port: 5}\n"
			  "  - name: other\n    protocol: moldudp64-itch50\n    lines:\n"
			  "      - {name: A, group: 233.1.1.1, port: 1}\n    recovery:\n"
			  "      server: {mac: \"02:00:00:00:ee:01\", ip: 10.0.0.5, port: 26400}\n"
			  "      source: {ip: 10.0.0.9, port: 5}\n",
		     "routing.yaml:13: ip: 10.0.0.9:5 is already used by feed \"itch\" line \"U\" "
		     "(line 6)");
	/* a source on its own feed's line */
	expect_error(
	    FEED "      - {name: U, group: 10.0.0.2, port: 26401}\n    recovery:\n"
		 "      server: {mac: \"02:00:00:00:ee:01\", ip: 10.0.0.5, port: 26400}\n"
		 "      " SOURCE "\n",
	    "routing.yaml:9: ip: 10.0.0.2:26401 is already used by feed \"itch\" line \"U\" "
	    "(line 6)");
	/* a later feed's line on an earlier feed's source */
	expect_error(
	    FEED_REC(SOURCE) "  - name: other\n    protocol: moldudp64-itch50\n"
			     "    lines:\n      - {name: X, group: 10.0.0.2, port: 26401}\n",
	    "routing.yaml:13: group: 10.0.0.2:26401 is already used by feed \"itch\" "
	    "recovery source (line 9)");
	/* two feeds with one source */
	expect_error(FEED_REC(SOURCE) "  - name: other\n    protocol: moldudp64-itch50\n"
				      "    lines:\n      - {name: X, group: 233.1.1.1, port: 1}\n"
				      "    recovery:\n      server: {mac: \"02:00:00:00:ee:01\", "
				      "ip: 10.0.0.5, port: 26400}\n      " SOURCE "\n",
		     "routing.yaml:16: ip: 10.0.0.2:26401 is already used by feed \"itch\" "
		     "recovery source (line 9)");
	/* the same ip on another port is another address */
	struct routing_config *cfg = parse(FEED_REC(
	    SOURCE) "  - name: other\n    protocol: moldudp64-itch50\n"
		    "    lines:\n      - {name: X, group: 233.1.1.1, port: 1}\n"
		    "    recovery:\n      server: {mac: \"02:00:00:00:ee:01\", "
		    "ip: 10.0.0.5, port: 26400}\n      source: {ip: 10.0.0.2, port: 26402}\n");
	cr_assert_not_null(cfg, "%s", err);
	routing_config_free(cfg);
}

/* docs/protocol.md §6.3: what needs the PMD profile, in live mode only. */
Test(config, recovery_check_live)
{
	struct routing_config *cfg =
	    parse(FEED_REC(SOURCE) "  - name: plain\n    protocol: moldudp64-itch50\n"
				   "    lines:\n      - {name: X, group: 233.1.1.1, port: 1}\n");
	const struct rc_rx_port rx[] = {{"in0", 0x0a000001}, {"in1", 0x0a000002}};
	uint32_t rx_of_feed[2] = {7, 7};

	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(routing_config_check_live(cfg, rx, 2, rx_of_feed, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(rx_of_feed[0], 1);
	cr_expect_eq(rx_of_feed[1], UINT32_MAX);
	cr_expect_eq(routing_config_check_live(cfg, rx, 1, NULL, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "routing.yaml:9: ip: feed \"itch\": recovery source 10.0.0.2 is not "
			      "the ip of any rx_ports entry of the PMD profile (requests leave and "
			      "answers arrive through that port)");
	cr_expect_eq(routing_config_check_live(cfg, NULL, 0, NULL, NULL, 0), -EINVAL);
	routing_config_free(cfg);

	/* nothing to check without recovery */
	cfg = parse(FEED);
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(routing_config_check_live(cfg, NULL, 0, NULL, err, sizeof(err)), 0);
	routing_config_free(cfg);
}
