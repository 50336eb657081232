/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Slot numbering across routing-table versions (dataplane/slots.h): which feeds and
 * subscribers keep their slot (and so their arbiter, bindings and output sequence
 * numbers) when a new table is applied, which get a new one, which slots are freed,
 * and the one-line refusal when none is free. Pure bookkeeping: no EAL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "slots.h"

static char err[256];

/* Feed `itch` on two lines (the second's UDP port `port_b`), feed `other`, one output
 * port, and the subscribers given (YAML list items, indented 2). */
static struct routing_config *table(unsigned int port_b, const char *subs)
{
	char yaml[4096];
	struct routing_config *cfg;

	snprintf(yaml, sizeof(yaml),
		 "feeds:\n"
		 "  - name: itch\n"
		 "    protocol: moldudp64-itch50\n"
		 "    lines:\n"
		 "      - {name: A, group: 233.54.12.111, port: 26477}\n"
		 "      - {name: B, group: 233.49.196.111, port: %u}\n"
		 "  - name: other\n"
		 "    protocol: moldudp64-itch50\n"
		 "    lines:\n"
		 "      - {name: A, group: 233.54.12.112, port: 26478}\n"
		 "ports:\n"
		 "  - name: out0\n"
		 "subscribers:%s%s",
		 port_b, subs[0] ? "\n" : " []\n", subs);
	cfg = routing_config_parse(yaml, strlen(yaml), "routing.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s\n%s", err, yaml);
	return cfg;
}

/* One subscriber of feed `feed` with destination port `dport` and pattern `pat`. */
static char *sub(char *buf, const char *name, const char *feed, unsigned int dport, const char *pat)
{
	sprintf(buf,
		"  - name: %s\n"
		"    feed: %s\n"
		"    port: out0\n"
		"    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: %u}\n"
		"    session: S%s\n"
		"    symbols: [\"%s\"]\n",
		name, feed, dport, name, pat);
	return buf;
}

static struct slots cur;
static struct routing_config *in_force;

static void setup(void)
{
	cr_assert_eq(slots_init(&cur, 4), 0);
	in_force = NULL;
}

static void teardown(void)
{
	slots_fini(&cur);
	routing_config_free(in_force);
}

TestSuite(slots, .init = setup, .fini = teardown);

/* Plan `next` against the table in force and, when it succeeds, make it in force. */
static int apply(struct routing_config *next, struct slots_plan *p)
{
	int rc = slots_plan(&cur, in_force, next, p, err, sizeof(err));

	if (rc == 0) {
		routing_config_free(in_force);
		in_force = next;
	}
	return rc;
}

static char a_[512], b_[512], c_[512], subs[2048];

static struct routing_config *two_subs(unsigned int port_b, const char *pat_a, unsigned int dport_b)
{
	snprintf(subs, sizeof(subs), "%s%s", sub(a_, "alpha", "itch", 31001, pat_a),
		 sub(b_, "beta", "other", dport_b, "^MS"));
	return table(port_b, subs);
}

Test(slots, first_table_numbers_everything_new)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0, "%s", err);
	cr_expect_eq(p.feed_slot[0], 0);
	cr_expect_eq(p.feed_slot[1], 1);
	cr_expect_eq(p.sub_slot[0], 0);
	cr_expect_eq(p.sub_slot[1], 1);
	cr_expect(p.feed_new[0] && p.feed_new[1] && p.sub_new[0] && p.sub_new[1]);
	cr_expect_eq(p.feeds_added, 2);
	cr_expect_eq(p.subs_added, 2);
	cr_expect_eq(p.feeds_removed + p.subs_removed, 0);
	slots_commit(&cur, &p);
	cr_expect(cur.feed_used[0] && cur.feed_used[1] && !cur.feed_used[2]);
	cr_expect(cur.sub_used[0] && cur.sub_used[1] && !cur.sub_used[2]);
}

Test(slots, same_table_keeps_every_slot)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	cr_expect_eq(p.feed_slot[0], 0);
	cr_expect_eq(p.sub_slot[1], 1);
	cr_expect_eq(p.feeds_added + p.subs_added + p.feeds_removed + p.subs_removed, 0);
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		cr_expect(!p.feed_new[k] && !slots_feed_removed(&cur, &p, k), "feed slot %u", k);
	slots_commit(&cur, &p);
}

/* Patterns and types shape what a stream carries, not the stream: the slot stays. */
Test(slots, pattern_change_keeps_the_stream)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	cr_assert_eq(apply(two_subs(26477, "^MSFT$", 31002), &p), 0);
	cr_expect_eq(p.sub_slot[0], 0);
	cr_expect(!p.sub_new[0]);
	cr_expect_eq(p.subs_added, 0);
	slots_commit(&cur, &p);
}

/* A new destination is a new stream: a fresh slot, never one the table in force still
 * uses, and the old one is freed. */
Test(slots, destination_change_is_a_new_stream)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31009), &p), 0);
	cr_expect_eq(p.sub_slot[0], 0, "alpha unchanged");
	cr_expect_eq(p.sub_slot[1], 2, "beta: the first slot free in both tables");
	cr_expect(p.sub_new[2]);
	cr_expect(slots_sub_removed(&cur, &p, 1));
	cr_expect_eq(p.subs_added, 1);
	cr_expect_eq(p.subs_removed, 1);
	slots_commit(&cur, &p);
	cr_expect(!cur.sub_used[1] && cur.sub_used[2]);
}

/* A feed whose lines change gets a new slot (a new arbiter), and so do its
 * subscribers, even though their streams look the same. */
Test(slots, line_change_moves_the_feed_and_its_subscribers)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	cr_assert_eq(apply(two_subs(26479, "^AAPL$", 31002), &p), 0);
	cr_expect_eq(p.feed_slot[0], 2, "itch moved");
	cr_expect_eq(p.feed_slot[1], 1, "other kept");
	cr_expect(slots_feed_removed(&cur, &p, 0));
	cr_expect_eq(p.sub_slot[0], 2, "alpha follows its feed to a new slot");
	cr_expect_eq(p.sub_slot[1], 1, "beta kept");
	cr_expect_eq(p.feeds_added, 1);
	cr_expect_eq(p.feeds_removed, 1);
	cr_expect_eq(p.subs_added, 1);
	cr_expect_eq(p.subs_removed, 1);
	slots_commit(&cur, &p);
}

/* Slots freed by one table are free for the next. */
Test(slots, freed_slots_are_reused_next_time)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	cr_assert_eq(apply(table(26477, sub(a_, "alpha", "itch", 31001, "^AAPL$")), &p), 0);
	cr_expect_eq(p.subs_removed, 1, "beta leaves");
	slots_commit(&cur, &p);
	snprintf(subs, sizeof(subs), "%s%s", sub(a_, "alpha", "itch", 31001, "^AAPL$"),
		 sub(c_, "gamma", "other", 31003, "^C"));
	cr_assert_eq(apply(table(26477, subs), &p), 0);
	cr_expect_eq(p.sub_slot[1], 1, "gamma takes beta's freed slot");
	slots_commit(&cur, &p);
}

/* With max_subscribers 4 and 2 in force, replacing 3 streams at once needs 5 slots
 * until the swap: refused with one line, the numbering in force untouched. */
Test(slots, no_free_slot_is_refused_in_one_line)
{
	struct slots_plan p;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	snprintf(subs, sizeof(subs), "%s%s%s", sub(a_, "alpha", "itch", 41001, "^AAPL$"),
		 sub(b_, "beta", "other", 41002, "^MS"), sub(c_, "gamma", "other", 41003, "^C"));
	struct routing_config *next = table(26477, subs);

	cr_expect_eq(slots_plan(&cur, in_force, next, &p, err, sizeof(err)), -ENOSPC);
	cr_expect(strstr(err, "routing.yaml: subscribers: no free subscriber slot "
			      "(max_subscribers 4") != NULL,
		  "%s", err);
	cr_expect_null(strchr(err, '\n'));
	cr_expect_null(p.feed_slot, "nothing left to free");
	cr_expect(cur.sub_used[0] && cur.sub_used[1] && !cur.sub_used[2]);
	routing_config_free(next);
}

/* The counts of removed slots are the slots the removal tests name. */
Test(slots, removed_counts_match_removed_slots)
{
	struct slots_plan p;
	uint32_t feeds = 0, subs_ = 0;

	cr_assert_eq(apply(two_subs(26477, "^AAPL$", 31002), &p), 0);
	slots_commit(&cur, &p);
	cr_assert_eq(apply(table(26480, ""), &p), 0);
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		feeds += (uint32_t)slots_feed_removed(&cur, &p, k);
	for (uint32_t k = 0; k < cur.max_subs; k++)
		subs_ += (uint32_t)slots_sub_removed(&cur, &p, k);
	cr_expect_eq(feeds, p.feeds_removed);
	cr_expect_eq(feeds, 1, "itch's lines changed, other stays");
	cr_expect_eq(subs_, p.subs_removed);
	cr_expect_eq(subs_, 2);
	slots_commit(&cur, &p);
}
