/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hostile YAML (common/yaml_doc.h): size, nesting, entries of one collection and nodes
 * (aliases counted as what they stand for) are bounded while the document is parsed,
 * each refusal is one line naming the limit and where, and a routing table's lists are
 * bounded with its duplicate group:port check linear.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../common/routing_config.h"
#include "../../common/yaml_doc.h"

static char err[512];

static int load(const char *text, const struct yaml_doc_limits *lim)
{
	struct yaml_doc d;
	int rc;

	memset(err, 0, sizeof(err));
	rc = yaml_doc_load_buffer_within(&d, text, strlen(text), "h.yaml", lim, err, sizeof(err));
	yaml_doc_fini(&d);
	return rc;
}

static void expect_refused(const char *text, const struct yaml_doc_limits *lim, const char *msg)
{
	int rc = load(text, lim);

	cr_expect_eq(rc, -EINVAL, "rc %d for:\n%.200s", rc, text);
	cr_expect_str_eq(err, msg);
	cr_expect_null(strchr(err, '\n'), "message must be one line");
}

/* Text of `n` copies of `s` after `head`, then `tail`; the caller frees it. */
static char *repeat(const char *head, const char *s, size_t n, const char *tail)
{
	size_t hl = strlen(head), sl = strlen(s), tl = strlen(tail);
	char *t = malloc(hl + n * sl + tl + 1), *p = t;

	cr_assert_not_null(t);
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += sl)
		memcpy(p, s, sl);
	memcpy(p, tail, tl + 1);
	return t;
}

/* An alias counts as every node under its anchor: 1 (map) + 1 (key a) + 4 (the list)
 * + 1 (key b) + 1 (list b) + 2 * 4 = 16. */
Test(yaml_limits, alias_counts_what_it_stands_for)
{
	const char *text = "a: &x [1, 2, 3]\nb: [*x,\n  *x]\n";
	struct yaml_doc_limits lim = yaml_doc_small_limits;

	lim.max_nodes = 16;
	cr_expect_eq(load(text, &lim), 0, "%s", err);
	lim.max_nodes = 15;
	expect_refused(text, &lim,
		       "h.yaml:3: document: more than 15 nodes (an alias counts as the nodes it "
		       "stands for)");
}

/* The classic "billion laughs": nine levels of ten aliases each stand for 10^9 nodes;
 * refused at the first alias past the limit, nothing expanded. */
Test(yaml_limits, billion_laughs)
{
	const char *text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
			   "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
			   "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";

	expect_refused(text, &yaml_doc_small_limits,
		       "h.yaml:5: document: more than 65536 nodes (an alias counts as the nodes "
		       "it stands for)");
	expect_refused(text, &routing_config_yaml_limits,
		       "h.yaml:7: document: more than 2097152 nodes (an alias counts as the "
		       "nodes it stands for)");
}

Test(yaml_limits, alias_cycle_and_unknown_alias)
{
	expect_refused("a: &a [1, *a]\n", &yaml_doc_small_limits,
		       "h.yaml:1: document: alias *a refers to a node that contains it");
	expect_refused("a: &a {b: *a}\n", &yaml_doc_small_limits,
		       "h.yaml:1: document: alias *a refers to a node that contains it");
	expect_refused("a: 1\nb: *nothing\n", &yaml_doc_small_limits,
		       "h.yaml:2: document: alias *nothing names no anchor");
}

/* A later anchor of the same name is the one a later alias means. */
Test(yaml_limits, anchor_redefined)
{
	struct yaml_doc d;
	yaml_node_t *root, *v;
	const char *text = "a: &x one\nb: &x two\nc: *x\n";

	cr_assert_eq(yaml_doc_load_buffer(&d, text, strlen(text), "h.yaml", err, sizeof(err)), 0,
		     "%s", err);
	root = yaml_doc_root(&d);
	v = yaml_document_get_node(&d.doc, root->data.mapping.pairs.start[2].value);
	cr_expect_str_eq((const char *)v->data.scalar.value, "two");
	cr_expect_eq(yaml_doc_line(v), 2);
	yaml_doc_fini(&d);
}

Test(yaml_limits, depth)
{
	char *deep = repeat("a: ", "[", 100000, "");
	char ok[3 + 2 * 31 + 1];

	/* the mapping, then 31 lists inside each other: 32 levels */
	memcpy(ok, "a: ", 3);
	memset(ok + 3, '[', 31);
	memset(ok + 3 + 31, ']', 31);
	ok[3 + 2 * 31] = '\0';
	cr_expect_eq(load(ok, &yaml_doc_small_limits), 0, "%s", err);
	expect_refused(deep, &yaml_doc_small_limits,
		       "h.yaml:1: document: nested deeper than 32 levels");
	free(deep);
}

Test(yaml_limits, entries_of_one_collection)
{
	char *list = repeat("a: [", "x,\n", 4097, "x]\n");
	char *most = repeat("a: [", "x, ", 4095, "x]\n");
	char *map = repeat("{", "? \n", 0, "}");

	expect_refused(list, &yaml_doc_small_limits,
		       "h.yaml:4097: document: a list of more than 4096 entries");
	cr_expect_eq(load(most, &yaml_doc_small_limits), 0, "%s", err);
	free(map);
	map = malloc(4097 * 16 + 8);
	cr_assert_not_null(map);
	{
		size_t o = 0;

		for (unsigned i = 0; i < 4097; i++)
			o += (size_t)sprintf(map + o, "k%u: v\n", i);
	}
	expect_refused(map, &yaml_doc_small_limits,
		       "h.yaml:4097: document: a mapping of more than 4096 entries");
	free(list);
	free(most);
	free(map);
}

Test(yaml_limits, size)
{
	size_t n = (1u << 20) + 1;
	char *big = malloc(n + 1);
	struct yaml_doc d;
	int rc;

	cr_assert_not_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	memset(err, 0, sizeof(err));
	rc = yaml_doc_load_buffer(&d, big, n, "h.yaml", err, sizeof(err));
	yaml_doc_fini(&d);
	cr_expect_eq(rc, -EINVAL);
	cr_expect_str_eq(err, "h.yaml: document: 1048577 bytes, more than the 1048576 allowed");
	free(big);
}

/* A 2 GiB file (sparse: no disk used) is refused from its size, before any read. */
Test(yaml_limits, huge_file_refused_unread)
{
	char path[] = "/tmp/aster-yaml-limits.XXXXXX";
	int fd = mkstemp(path);
	struct yaml_doc d;
	int rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)2 << 30), 0);
	close(fd);
	rc = yaml_doc_load_file(&d, path, err, sizeof(err));
	yaml_doc_fini(&d);
	cr_expect_eq(rc, -EINVAL);
	cr_expect(strstr(err, ": document: 2147483648 bytes, more than the 1048576 allowed") !=
		      NULL,
		  "%s", err);
	unlink(path);
}

/* A routing table's lists are bounded in its key table, checked before any is walked. */
Test(yaml_limits, routing_lists_bounded)
{
	char *feeds = repeat("feeds:\n",
			     "  - {name: f, protocol: moldudp64-itch50, lines: "
			     "[{name: A, group: 239.0.0.1, port: 1}]}\n",
			     1025, "");
	struct routing_config *cfg;

	cfg = routing_config_parse(feeds, strlen(feeds), "r.yaml", err, sizeof(err));
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "r.yaml:1: feeds: too many items (1025, at most 1024)");
	free(feeds);
}

/* 1024 feeds of 8 lines: the group:port of the last line repeats the first feed's. */
Test(yaml_limits, duplicate_group_port_among_many_lines)
{
	size_t cap = 1024 * 600, o = 0;
	char *t = malloc(cap);
	struct routing_config *cfg;

	cr_assert_not_null(t);
	o += (size_t)snprintf(t + o, cap - o, "feeds:\n");
	for (unsigned f = 0; f < 1024; f++) {
		o += (size_t)snprintf(t + o, cap - o,
				      "  - name: f%u\n    protocol: moldudp64-itch50\n    lines:\n",
				      f);
		for (unsigned l = 0; l < 8; l++)
			o += (size_t)snprintf(
			    t + o, cap - o, "      - {name: L%u, group: 239.%u.%u.%u, port: %u}\n",
			    l, f >> 8, f & 255, l, f == 1023 && l == 7 ? 1000u : 1000u + l);
	}
	cfg = routing_config_parse(t, o, "r.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	routing_config_free(cfg);
	/* the last line now takes the first feed's first group:port */
	o -= strlen("      - {name: L7, group: 239.3.255.7, port: 1000}\n");
	o += (size_t)snprintf(t + o, cap - o, "      - {name: L7, group: 239.0.0.0, port: 1000}\n");
	cfg = routing_config_parse(t, o, "r.yaml", err, sizeof(err));
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "r.yaml:11265: group: 239.0.0.0:1000 is already used by feed \"f0\" "
			      "line \"L0\" (line 5)");
	free(t);
}

/* What the file says is quoted with its control characters escaped: one line always. */
Test(yaml_limits, messages_stay_one_line)
{
	const char *text = "feeds:\n  - name: \"it\\r\\nch\"\n    protocol: moldudp64-itch50\n"
			   "    lines: [{name: A, group: 239.0.0.1, port: 1}]\n";
	struct routing_config *cfg;

	cfg = routing_config_parse(text, strlen(text), "r.yaml", err, sizeof(err));
	cr_expect_null(cfg);
	cr_expect_str_eq(err, "r.yaml:2: name: \"it\\x0d\\x0ach\" is not a valid feed name "
			      "([a-z0-9_-]{1,31})");
	expect_refused("\"a\\tb\\u0001\": [*x]\n", &yaml_doc_small_limits,
		       "h.yaml:1: document: alias *x names no anchor");
}
