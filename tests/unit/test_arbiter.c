/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Arbiter (docs/protocol.md §3.3): at-most-once in-order delivery across A/B lines, gaps, late
 * copies, sessions, and the hold queue bounds. Every test runs through a checking
 * harness: the deliver callback asserts strictly increasing sequence numbers within a
 * session, and the release callback asserts each kept handle is released exactly once.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "arbiter.h"

#define MAX_HANDLES   8192
#define MAX_DELIVERED 16384

enum hstate { H_NONE = 0, H_IN_ACCEPT, H_KEPT, H_RELEASED, H_CALLER };

static struct harness {
	struct arbiter a;
	uint8_t session[10];
	uint32_t next_handle;
	uint8_t hstate[MAX_HANDLES];
	uint64_t delivered[MAX_DELIVERED];
	uint32_t n_delivered;
	uint32_t session_start; /* index in delivered[] where the current session began */
	unsigned int new_sessions;
	uint8_t last_new_session[10];
	uint64_t offered; /* data messages of the current session offered to accept */
} T;

static void cb_deliver(void *ctx, const struct arbiter_pkt *pkt, uint16_t skip)
{
	cr_assert_eq(ctx, &T);
	cr_assert_lt(skip, pkt->n_msgs, "deliver with nothing new");
	for (uint32_t i = skip; i < pkt->n_msgs; i++) {
		uint64_t seq = pkt->seq + i;
		if (T.n_delivered > T.session_start)
			cr_assert_gt(seq, T.delivered[T.n_delivered - 1], "seq %lu out of order",
				     (unsigned long)seq);
		cr_assert_lt(T.n_delivered, MAX_DELIVERED);
		T.delivered[T.n_delivered++] = seq;
	}
}

static void cb_release(void *ctx, void *handle)
{
	uintptr_t h = (uintptr_t)handle;

	cr_assert_eq(ctx, &T);
	cr_assert(h > 0 && h < MAX_HANDLES);
	cr_assert(T.hstate[h] == H_KEPT || T.hstate[h] == H_IN_ACCEPT,
		  "handle %lu released in state %d", (unsigned long)h, T.hstate[h]);
	T.hstate[h] = H_RELEASED;
}

static void cb_new_session(void *ctx, const uint8_t *session)
{
	cr_assert_eq(ctx, &T);
	memcpy(T.last_new_session, session, 10);
	T.new_sessions++;
	T.session_start = T.n_delivered;
}

static const struct arbiter_ops ops = {
    .deliver = cb_deliver,
    .release = cb_release,
    .new_session = cb_new_session,
};

static void setup(uint8_t lines, uint16_t hold_max, uint64_t hold_tsc)
{
	memset(&T, 0, sizeof(T));
	memcpy(T.session, "SESSION001", 10);
	T.next_handle = 1;
	arbiter_init(&T.a, lines, hold_max, hold_tsc, &ops, &T);
}

static void set_session(const char *s)
{
	memcpy(T.session, s, 10);
}

/* Offer one packet at time `now`; returns what arbiter_accept returned. */
static bool feed_at(uint8_t line, uint64_t seq, uint16_t n, uint64_t now)
{
	uint32_t h = T.next_handle++;
	struct arbiter_pkt p = {
	    .handle = (void *)(uintptr_t)h,
	    .mold = NULL,
	    .len = 0,
	    .session = T.session,
	    .seq = seq,
	    .n_msgs = n,
	    .line = line,
	};

	cr_assert_lt(h, MAX_HANDLES);
	T.hstate[h] = H_IN_ACCEPT;
	bool kept = arbiter_accept(&T.a, &p, now);
	if (kept) {
		if (T.hstate[h] == H_IN_ACCEPT)
			T.hstate[h] = H_KEPT;
	} else {
		cr_assert_eq(T.hstate[h], H_IN_ACCEPT, "released a handle it did not keep");
		T.hstate[h] = H_CALLER;
	}
	return kept;
}

static bool feed(uint8_t line, uint64_t seq, uint16_t n)
{
	return feed_at(line, seq, n, 1000);
}

/* Heartbeat (count 0) or end of session (0xFFFF): n_msgs 0, seq = next expected. */
static bool heartbeat(uint8_t line, uint64_t next)
{
	return feed(line, next, 0);
}

/* Delivered sequence numbers equal [first, last] minus the listed holes. */
static void expect_delivered_range(uint64_t first, uint64_t last, const uint64_t *holes,
				   unsigned int n_holes)
{
	uint32_t k = T.session_start;

	for (uint64_t s = first; s <= last; s++) {
		int hole = 0;
		for (unsigned int i = 0; i < n_holes; i++)
			hole |= holes[i] == s;
		if (hole)
			continue;
		cr_assert_lt(k, T.n_delivered, "seq %lu not delivered", (unsigned long)s);
		cr_assert_eq(T.delivered[k], s, "delivered[%u] = %lu, want %lu", k,
			     (unsigned long)T.delivered[k], (unsigned long)s);
		k++;
	}
	cr_assert_eq(k, T.n_delivered, "extra deliveries");
}

/* After flush nothing is held and every kept handle was released exactly once. */
static void expect_all_released(void)
{
	cr_assert_eq(T.a.n_held, 0);
	for (uint32_t h = 1; h < T.next_handle; h++)
		cr_assert(T.hstate[h] == H_RELEASED || T.hstate[h] == H_CALLER,
			  "handle %u state %d", h, T.hstate[h]);
}

Test(arbiter, in_order_single_line)
{
	setup(1, 16, 0);
	cr_assert_not(feed(0, 1, 3));
	cr_assert_not(feed(0, 4, 1));
	cr_assert_not(feed(0, 5, 3));
	expect_delivered_range(1, 7, NULL, 0);
	cr_assert_eq(T.a.c.messages, 7);
	cr_assert_eq(T.a.c.duplicates, 0);
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.held, 0);
	cr_assert_eq(T.a.c.sessions, 1);
	cr_assert_eq(T.new_sessions, 1);
	cr_assert_eq(memcmp(T.last_new_session, "SESSION001", 10), 0);
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gaps, 0);
	expect_all_released();
}

Test(arbiter, first_packet_sets_expected)
{
	setup(1, 16, 0);
	feed(0, 1000, 2);
	feed(0, 1002, 1);
	expect_delivered_range(1000, 1002, NULL, 0);
	cr_assert_eq(T.a.c.gaps, 0);
	/* a heartbeat first also sets it */
	setup(1, 16, 0);
	heartbeat(0, 50);
	feed(0, 50, 1);
	expect_delivered_range(50, 50, NULL, 0);
	cr_assert_eq(T.a.c.gaps, 0);
}

Test(arbiter, duplicates_from_line_b)
{
	setup(2, 16, 0);
	for (uint64_t s = 1; s < 100; s += 3) {
		cr_assert_not(feed(0, s, 3));
		cr_assert_not(feed(1, s, 3));
	}
	/* and B first for a while */
	for (uint64_t s = 100; s < 130; s += 3) {
		cr_assert_not(feed(1, s, 3));
		cr_assert_not(feed(0, s, 3));
	}
	expect_delivered_range(1, 129, NULL, 0);
	cr_assert_eq(T.a.c.messages, 129);
	cr_assert_eq(T.a.c.duplicates, 129);
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.late, 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

/* Sum of one per-line counter over the first `lines` lines. */
static uint64_t lines_sum(uint8_t lines, bool won)
{
	uint64_t n = 0;

	for (uint8_t l = 0; l < lines; l++)
		n += won ? T.a.line_c[l].won : T.a.line_c[l].lost;
	return n;
}

/*
 * Per line (common/counter.h, COUNTER_LINE): won counts the messages a line delivered,
 * lost those it carried after another line (or its own overlap) had; answers of the
 * recovery server count as recovered and duplicates, on no line.
 */
Test(arbiter, won_and_lost_per_line)
{
	setup(2, 16, 0);
	feed(0, 1, 3);		  /* A wins 1 2 3 */
	feed(1, 1, 3);		  /* B loses 1 2 3 */
	feed(1, 4, 2);		  /* B wins 4 5 */
	feed(0, 4, 3);		  /* A loses 4 5, wins 6 */
	cr_assert(feed(0, 9, 2)); /* A ahead: held */
	feed(1, 7, 4);		  /* B wins 7..10, then A's held 9 10 are lost */
	cr_assert_eq(T.a.n_held, 0);
	for (uint64_t s = 11; s <= 20; s += 2)
		feed(0, s, 2); /* B silent: A wins 11..20 */
	cr_assert_eq(T.a.line_c[0].won, 3 + 1 + 10);
	cr_assert_eq(T.a.line_c[0].lost, 2 + 2);
	cr_assert_eq(T.a.line_c[1].won, 2 + 4);
	cr_assert_eq(T.a.line_c[1].lost, 3);

	feed(ARBITER_LINE_RECOVERY, 21, 2); /* an answer delivers 21 22 */
	feed(ARBITER_LINE_RECOVERY, 21, 2); /* and again: duplicates of no line */
	feed(0, 21, 3);			    /* A loses 21 22, wins 23 */
	expect_delivered_range(1, 23, NULL, 0);
	cr_assert_eq(T.a.c.recovered, 2);
	cr_assert_eq(T.a.line_c[0].won, 15);
	cr_assert_eq(T.a.line_c[0].lost, 6);
	cr_assert_eq(T.a.line_c[1].won, 6);
	cr_assert_eq(T.a.line_c[1].lost, 3);
	cr_assert_eq(lines_sum(2, true) + T.a.c.recovered, T.a.c.messages);
	cr_assert_eq(lines_sum(2, false) + 2, T.a.c.duplicates);
	for (uint8_t l = 2; l < ARBITER_MAX_LINES; l++)
		cr_assert(T.a.line_c[l].won == 0 && T.a.line_c[l].lost == 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, partial_overlap_rechunked)
{
	setup(2, 16, 0);
	feed(0, 1, 3); /* 1 2 3 */
	feed(1, 1, 2); /* dup 1 2 */
	feed(1, 3, 3); /* dup 3, new 4 5 */
	feed(0, 4, 4); /* dup 4 5, new 6 7 */
	feed(1, 6, 3); /* dup 6 7, new 8 */
	feed(0, 8, 1); /* dup 8 */
	expect_delivered_range(1, 8, NULL, 0);
	cr_assert_eq(T.a.c.messages, 8);
	cr_assert_eq(T.a.c.duplicates, 2 + 1 + 2 + 2 + 1);
	cr_assert_eq(T.a.c.gaps, 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, gap_single_line_is_immediate)
{
	static const uint64_t holes[] = {3, 4};

	setup(1, 16, 0);
	feed(0, 1, 2);
	cr_assert_not(feed(0, 5, 2), "a single line proves the loss: nothing to hold");
	expect_delivered_range(1, 6, holes, 2);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 2);
	cr_assert_eq(T.a.c.held, 0);
	cr_assert_eq(T.a.expected, 7);
}

Test(arbiter, a_loses_what_b_has)
{
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	cr_assert(feed(0, 5, 2), "A is ahead of B: held");
	cr_assert_eq(T.n_delivered, 2);
	cr_assert_eq(T.a.n_held, 1);
	cr_assert(feed(0, 7, 1), "behind a held packet: held too");
	cr_assert_not(feed(1, 3, 2)); /* B fills the hole */
	expect_delivered_range(1, 7, NULL, 0);
	cr_assert_eq(T.a.n_held, 0);
	cr_assert_eq(T.hstate[3], H_RELEASED);
	cr_assert_eq(T.hstate[4], H_RELEASED);
	cr_assert_not(feed(1, 5, 2));
	cr_assert_not(feed(1, 7, 1));
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.held, 2);
	cr_assert_eq(T.a.c.messages, 7);
	cr_assert_eq(T.a.c.duplicates, 2 + 2 + 1);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, both_lines_lose_the_same_packet)
{
	static const uint64_t holes[] = {3, 4, 5};

	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	cr_assert(feed(0, 6, 2));
	cr_assert_eq(T.a.c.gaps, 0, "B may still carry 3..5");
	cr_assert_not(feed(1, 6, 2), "same packet already held: duplicate");
	expect_delivered_range(1, 7, holes, 3);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 3);
	cr_assert_eq(T.a.c.duplicates, 2 + 2);
	cr_assert_eq(T.a.n_held, 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, copy_of_held_packet_not_kept)
{
	/* 3 lines, C behind: A and B both ahead of a hole nobody can prove yet */
	setup(3, 16, 0);
	for (uint8_t l = 0; l < 3; l++)
		feed(l, 1, 1);
	cr_assert(feed(0, 5, 3));
	cr_assert_not(feed(1, 5, 3), "identical copy: duplicate, handle back to the caller");
	cr_assert_not(feed(1, 6, 2), "covered copy");
	cr_assert_eq(T.a.n_held, 1);
	cr_assert_eq(T.a.c.duplicates, 2 + 3 + 2);
	cr_assert(feed(1, 7, 3), "partly new: kept");
	cr_assert_eq(T.a.n_held, 2);
	cr_assert_eq(T.a.c.held, 2);
	feed(2, 2, 3); /* C fills 2..4 */
	expect_delivered_range(1, 9, NULL, 0);
	cr_assert_eq(T.a.c.duplicates, 2 + 3 + 2 + 1);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, b_rechunked_while_a_held)
{
	/* A holds [5,9); B arrives as [3,6) then [6,10): overlap with the held packet */
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	cr_assert(feed(0, 5, 4));
	cr_assert_not(feed(1, 3, 3)); /* delivers 3 4 5, then the held 6 7 8 */
	cr_assert_eq(T.a.n_held, 0);
	cr_assert_not(feed(1, 6, 4)); /* dup 6 7 8, new 9 */
	expect_delivered_range(1, 9, NULL, 0);
	cr_assert_eq(T.a.c.duplicates, 2 + 1 + 3);
	cr_assert_eq(T.a.c.messages, 9);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, held_overlapping_copies_trimmed)
{
	/* Both lines ahead with different chunking: held copies overlap each other */
	setup(2, 16, 0);
	feed(0, 1, 1);
	cr_assert(feed(0, 3, 2));    /* [3,5) */
	cr_assert(feed(0, 5, 1));    /* [5,6) */
	cr_assert_eq(T.a.c.gaps, 0); /* B has sent nothing yet */
	/* [3,6) covers neither held copy alone; both lines passed 2, none holds it */
	cr_assert_not(feed(1, 3, 3));
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.n_held, 0);
	expect_delivered_range(1, 5, (const uint64_t[]){2}, 1);
	cr_assert_eq(T.a.c.duplicates, 3);
	cr_assert_eq(T.a.c.messages, 4);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, adjacent_losses_coalesce)
{
	static const uint64_t holes[] = {2, 3, 4};

	/* single line: three consecutive packets lost, one event */
	setup(1, 16, 0);
	feed(0, 1, 1);
	feed(0, 5, 1);
	expect_delivered_range(1, 5, holes, 3);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 3);

	/* A/B: the proof arrives in steps (heartbeats), still one event */
	setup(2, 16, 0);
	feed(0, 1, 1);
	feed(1, 1, 1);
	heartbeat(0, 3);
	heartbeat(1, 3);
	cr_assert_eq(T.a.c.gaps, 1);
	heartbeat(0, 5);
	heartbeat(1, 5);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 3);
	feed(0, 5, 1);
	feed(0, 7, 1); /* held: B has not passed 6 */
	feed(1, 7, 1);
	cr_assert_eq(T.a.c.gaps, 2, "a delivery in between: a second event");
	cr_assert_eq(T.a.c.gap_messages, 4);
	expect_delivered_range(1, 7, (const uint64_t[]){2, 3, 4, 6}, 4);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, heartbeat_announces_gap)
{
	setup(1, 16, 0);
	feed(0, 1, 2);
	heartbeat(0, 3); /* nothing missing */
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_not(heartbeat(0, 6));
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 3);
	cr_assert_eq(T.a.expected, 6);
	cr_assert_not(feed(0, 4, 2), "received after its gap");
	cr_assert_eq(T.a.c.late, 2);
	cr_assert_eq(T.a.c.duplicates, 0);

	/* A/B: the gap waits for the other line */
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	heartbeat(0, 6);
	cr_assert_eq(T.a.c.gaps, 0);
	feed(1, 3, 1); /* B had 3 */
	heartbeat(1, 6);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 2);
	expect_delivered_range(1, 3, NULL, 0);
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gaps, 1);
	expect_all_released();
}

Test(arbiter, stale_heartbeat_is_harmless)
{
	setup(1, 16, 0);
	feed(0, 1, 5);
	heartbeat(0, 3); /* older than progress */
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.duplicates, 0);
	cr_assert_eq(T.a.expected, 6);
}

Test(arbiter, end_of_session)
{
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	heartbeat(0, 3); /* end of session: count 0xFFFF, n_msgs 0, at the next seq */
	heartbeat(1, 3);
	cr_assert_eq(T.a.c.gaps, 0);
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gaps, 0);

	/* end of session beyond what was received: the tail is a gap */
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	heartbeat(0, 5);
	heartbeat(1, 5);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 2);

	/* only one line said so before the input ended: flush declares it */
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	heartbeat(0, 4);
	cr_assert_eq(T.a.c.gaps, 0);
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 1);
	expect_all_released();
}

Test(arbiter, late_after_declared_gap)
{
	setup(2, 16, 0);
	feed(0, 1, 1);
	feed(1, 1, 1);
	feed(0, 4, 1);
	feed(1, 4, 1); /* gap [2,4) */
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_not(feed(0, 2, 2));
	cr_assert_eq(T.a.c.late, 2);
	cr_assert_eq(T.a.c.duplicates, 2); /* B's 1 and B's 4 */
	cr_assert_not(feed(1, 1, 4));	   /* 1 dup, 2 3 late, 4 dup */
	cr_assert_eq(T.a.c.late, 4);
	cr_assert_eq(T.a.c.duplicates, 4);
	cr_assert_not(feed(1, 3, 3)); /* 3 late, 4 dup, 5 new */
	cr_assert_eq(T.a.c.late, 5);
	cr_assert_eq(T.a.c.duplicates, 5);
	expect_delivered_range(1, 5, (const uint64_t[]){2, 3}, 2);
	cr_assert_eq(T.a.c.messages, 3);
}

Test(arbiter, session_change_mid_stream)
{
	setup(2, 16, 0);
	feed(0, 1, 2);
	feed(1, 1, 2);
	cr_assert(feed(0, 5, 1)); /* held: B has not passed 3..4 */
	set_session("SESSION002");
	cr_assert_not(feed(0, 100, 2));
	cr_assert_eq(T.new_sessions, 2);
	cr_assert_eq(memcmp(T.last_new_session, "SESSION002", 10), 0);
	cr_assert_eq(T.a.c.sessions, 2);
	/* the old stream was flushed: gap [3,5), 5 delivered and released */
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 2);
	cr_assert_eq(T.hstate[3], H_RELEASED);
	cr_assert_eq(T.n_delivered, 3 + 2);
	cr_assert_eq(T.delivered[2], 5);
	expect_delivered_range(100, 101, NULL, 0);
	/* old session stragglers on B: stale, whatever their kind */
	uint64_t dups = T.a.c.duplicates;
	set_session("SESSION001");
	cr_assert_not(feed(1, 3, 2));
	cr_assert_not(heartbeat(1, 6));
	cr_assert_eq(T.a.c.stale_session, 2);
	cr_assert_eq(T.a.c.late, 0);
	cr_assert_eq(T.a.c.duplicates, dups);
	/* B joins the new session: line progress was reset, no spurious gap */
	set_session("SESSION002");
	cr_assert_not(feed(1, 100, 2));
	cr_assert_not(feed(1, 102, 1));
	cr_assert_eq(T.a.c.duplicates, dups + 2);
	cr_assert_eq(T.a.c.gaps, 1);
	expect_delivered_range(100, 102, NULL, 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, session_change_tail_gap)
{
	/* the old stream announced more than it delivered: that tail is a gap */
	setup(1, 16, 0);
	feed(0, 1, 2);
	set_session("SESSION002");
	feed(0, 1, 1);
	cr_assert_eq(T.a.c.gaps, 0);
	set_session("SESSION003");
	heartbeat(0, 10);
	cr_assert_eq(T.a.c.sessions, 3);
	cr_assert_eq(T.a.c.gaps, 0);
	feed(0, 10, 1);
	expect_delivered_range(10, 10, NULL, 0);
}

Test(arbiter, retired_sessions_are_bounded)
{
	static const char *s[] = {"SESS000001", "SESS000002", "SESS000003",
				  "SESS000004", "SESS000005", "SESS000006"};

	setup(1, 16, 0);
	for (unsigned int i = 0; i < 6; i++) {
		set_session(s[i]);
		feed(0, 1, 1);
	}
	cr_assert_eq(T.a.c.sessions, 6);
	/* the newest ARBITER_RETIRED finished sessions are stale */
	for (unsigned int i = 6 - ARBITER_RETIRED - 1; i < 5; i++) {
		set_session(s[i]);
		cr_assert_not(feed(0, 2, 1));
	}
	cr_assert_eq(T.a.c.stale_session, ARBITER_RETIRED);
	cr_assert_eq(T.a.c.sessions, 6);
	/* the oldest is forgotten: it starts a stream again */
	set_session(s[0]);
	feed(0, 2, 1);
	cr_assert_eq(T.a.c.sessions, 7);
}

Test(arbiter, hold_overflow)
{
	/* 3 lines; C goes silent after its first packet, so no loss can be proven */
	setup(3, 4, 0);
	for (uint8_t l = 0; l < 3; l++)
		feed(l, 1, 1);
	for (uint64_t s = 3; s < 7; s++)
		cr_assert(feed(0, s, 1));
	cr_assert_eq(T.a.n_held, 4);
	cr_assert_eq(T.a.c.hold_overflow, 0);
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_not(feed(0, 7, 1), "after the forced gap it is deliverable");
	cr_assert_eq(T.a.c.hold_overflow, 1);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, 1);
	cr_assert_eq(T.a.n_held, 0);
	expect_delivered_range(1, 7, (const uint64_t[]){2}, 1);

	/* queue full again, the new packet lies before the head: the gap stops at it */
	for (uint64_t s = 20; s < 24; s++)
		cr_assert(feed(0, s, 1));
	cr_assert_not(feed(1, 15, 1));
	cr_assert_eq(T.a.c.hold_overflow, 2);
	cr_assert_eq(T.a.c.gaps, 2);
	cr_assert_eq(T.a.c.gap_messages, 1 + 7);
	cr_assert_eq(T.a.n_held, 4);
	cr_assert_eq(T.delivered[T.n_delivered - 1], 15);
	/* and after the head: everything held flows first */
	cr_assert_not(feed(1, 24, 1));
	cr_assert_eq(T.a.c.hold_overflow, 3);
	cr_assert_eq(T.a.c.gaps, 3);
	cr_assert_eq(T.a.c.gap_messages, 1 + 7 + 4);
	cr_assert_eq(T.a.n_held, 0);
	expect_delivered_range(1, 24,
			       (const uint64_t[]){2, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19}, 12);
	cr_assert_eq(T.a.c.held, 8);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, hold_overflow_hold_max_one)
{
	setup(2, 1, 0);
	feed(0, 1, 1);
	feed(1, 1, 1);
	cr_assert(feed(0, 3, 1));
	cr_assert(feed(0, 5, 1)); /* forces [2,3), delivers 3, holds 5 */
	cr_assert_eq(T.a.c.hold_overflow, 1);
	cr_assert_eq(T.a.n_held, 1);
	cr_assert_not(feed(1, 4, 1)); /* B fills 4: 5 released */
	expect_delivered_range(1, 5, (const uint64_t[]){2}, 1);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, hold_timeout)
{
	setup(2, 16, 100);
	feed_at(0, 1, 1, 10);
	feed_at(1, 1, 1, 10);
	cr_assert(feed_at(0, 3, 1, 1000));
	cr_assert(feed_at(0, 4, 1, 1020));
	arbiter_poll(&T.a, 1099);
	cr_assert_eq(T.a.c.hold_timeout, 0);
	cr_assert_eq(T.a.n_held, 2);
	arbiter_poll(&T.a, 1100);
	cr_assert_eq(T.a.c.hold_timeout, 1);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.n_held, 0);
	expect_delivered_range(1, 4, (const uint64_t[]){2}, 1);

	/* a heartbeat-announced gap with nothing held times out too */
	heartbeat(1, 5);
	feed_at(0, 5, 1, 2000);
	feed_at(0, 6, 1, 2000);
	feed_at(1, 5, 1, 2000);
	feed_at(0, 9, 0, 2010); /* A's heartbeat: B is at 6, 7..8 may still come on B */
	cr_assert_eq(T.a.n_held, 0);
	cr_assert_eq(T.a.c.gaps, 1);
	arbiter_poll(&T.a, 2109);
	cr_assert_eq(T.a.c.hold_timeout, 1);
	arbiter_poll(&T.a, 2110);
	cr_assert_eq(T.a.c.hold_timeout, 2);
	cr_assert_eq(T.a.c.gaps, 2);
	cr_assert_eq(T.a.c.gap_messages, 1 + 2);
	cr_assert_eq(T.a.expected, 9);
	cr_assert_eq(T.a.blocked_since, 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, hold_timeout_cascades_and_disabled)
{
	setup(2, 16, 100);
	feed_at(0, 1, 1, 10);
	feed_at(1, 1, 1, 10);
	feed_at(0, 3, 1, 100); /* holes at 2 and 4 */
	feed_at(0, 5, 1, 150);
	arbiter_poll(&T.a, 199);
	cr_assert_eq(T.a.c.hold_timeout, 0);
	arbiter_poll(&T.a, 200); /* 3 timed out; 5 has waited only 50 */
	cr_assert_eq(T.a.c.hold_timeout, 1);
	cr_assert_eq(T.a.n_held, 1);
	arbiter_poll(&T.a, 250);
	cr_assert_eq(T.a.c.hold_timeout, 2);
	cr_assert_eq(T.a.c.gaps, 2);
	expect_delivered_range(1, 5, (const uint64_t[]){2, 4}, 2);

	/* hold_tsc 0 (replay): poll never declares anything */
	setup(2, 16, 0);
	feed_at(0, 1, 1, 10);
	feed_at(1, 1, 1, 10);
	cr_assert(feed_at(0, 3, 1, 10));
	arbiter_poll(&T.a, UINT64_MAX);
	cr_assert_eq(T.a.c.hold_timeout, 0);
	cr_assert_eq(T.a.n_held, 1);
	arbiter_flush(&T.a);
	expect_all_released();
}

Test(arbiter, flush_at_end_of_input)
{
	setup(2, 16, 0);
	/* B never sends anything: nothing can be proven lost until the input ends */
	feed(0, 1, 1);
	cr_assert(feed(0, 3, 1));
	cr_assert(feed(0, 5, 2));
	heartbeat(0, 10);
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.n_delivered, 1);
	arbiter_flush(&T.a);
	expect_delivered_range(1, 6, (const uint64_t[]){2, 4}, 2);
	cr_assert_eq(T.a.c.gaps, 3);
	cr_assert_eq(T.a.c.gap_messages, 1 + 1 + 3);
	cr_assert_eq(T.a.expected, 10);
	expect_all_released();
	/* flush is idempotent */
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gaps, 3);
	/* flush before anything arrived does nothing */
	setup(2, 16, 0);
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gaps + T.a.c.sessions, 0);
}

Test(arbiter, out_of_order_holds_stay_sorted)
{
	/* 4 lines; D stays behind so nothing is proven; arrivals out of sequence order */
	static const uint64_t order[] = {10, 8, 6, 9, 12, 4};
	static const uint8_t from[] = {0, 1, 2, 2, 1, 0};

	setup(4, 64, 0);
	for (uint8_t l = 0; l < 4; l++)
		feed(l, 1, 1);
	for (unsigned int i = 0; i < 6; i++)
		cr_assert(feed(from[i], order[i], 1));
	cr_assert_eq(T.a.n_held, 6);
	for (uint32_t i = 1; i < T.a.n_held; i++)
		cr_assert_lt(T.a.held[(T.a.held_head + i - 1) & (ARBITER_HOLD_MAX - 1)].pkt.seq,
			     T.a.held[(T.a.held_head + i) & (ARBITER_HOLD_MAX - 1)].pkt.seq);
	cr_assert_not(feed(3, 2, 5)); /* D: 2..6; held 4 and 6 become duplicates */
	cr_assert_eq(T.a.n_held, 4);
	cr_assert_eq(T.a.expected, 7);
	cr_assert_eq(T.a.c.gaps, 0);
	arbiter_flush(&T.a);
	expect_delivered_range(1, 12, (const uint64_t[]){7, 11}, 2);
	cr_assert_eq(T.a.c.gaps, 2);
	cr_assert_eq(T.a.c.duplicates, 3 + 2);
	expect_all_released();
}

/* Burst-like tails: packets of 0, 1, 3, 31, 32, 33 messages, A and B chunked apart. */
Test(arbiter, burst_tails)
{
	static const uint16_t sizes[] = {1, 3, 31, 32, 33};

	setup(2, 16, 0);
	uint64_t s = 1;
	for (unsigned int i = 0; i < 5; i++) {
		heartbeat(0, s);
		feed(0, s, sizes[i]);
		s += sizes[i];
	}
	/* B sends the same range as 0-, 1- and 33-message packets */
	uint64_t b = 1;
	while (b < s) {
		uint16_t n = (uint16_t)(s - b < 33 ? s - b : 33);
		heartbeat(1, b);
		feed(1, b, n);
		b += n;
	}
	expect_delivered_range(1, s - 1, NULL, 0);
	cr_assert_eq(T.a.c.duplicates, s - 1);
	cr_assert_eq(T.a.c.gaps, 0);
}

/* ---- randomized A/B interleavings against a model ---- */

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng >> 33) % n);
}

struct rpkt {
	uint64_t seq;
	uint16_t n;
};

#define N_SEQ 600

/* Totals over the seeds of one test: the runs must have exercised what they check. */
static struct arbiter_counters sum;

static void random_run(uint64_t seed, uint8_t lines, uint16_t hold_max, unsigned int loss_pct)
{
	static struct rpkt q[ARBITER_MAX_LINES][N_SEQ + 1];
	unsigned int qn[ARBITER_MAX_LINES] = {0}, qi[ARBITER_MAX_LINES] = {0};
	static bool received[N_SEQ + 2];
	uint64_t offered = 0;

	rng = seed;
	setup(lines, hold_max, 0);
	memset(received, 0, sizeof(received));
	/* each line: its own chunking and losses, then a final heartbeat at N_SEQ + 1 */
	for (uint8_t l = 0; l < lines; l++) {
		uint64_t s = 1;
		while (s <= N_SEQ) {
			uint16_t n = (uint16_t)(1 + rnd(5));
			/* line 0 starts the stream at 1 (docs/protocol.md §3.3: the first packet
			 * sets it) */
			bool first = l == 0 && s == 1;
			if (first)
				n = 1;
			if (s + n > N_SEQ + 1)
				n = (uint16_t)(N_SEQ + 1 - s);
			if (first || rnd(100) >= loss_pct) {
				q[l][qn[l]++] = (struct rpkt){s, n};
				for (uint64_t k = s; k < s + n; k++)
					received[k] = true;
				offered += n;
			} else if (rnd(4) == 0) {
				q[l][qn[l]++] = (struct rpkt){s, 0}; /* heartbeat instead */
			}
			s += n;
		}
		q[l][qn[l]++] = (struct rpkt){N_SEQ + 1, 0};
	}
	/* the very first packet accepted must be line 0's */
	feed(0, q[0][0].seq, q[0][0].n);
	qi[0] = 1;
	for (;;) {
		unsigned int live = 0;
		for (uint8_t l = 0; l < lines; l++)
			live += qi[l] < qn[l];
		if (!live)
			break;
		uint8_t l;
		do
			l = (uint8_t)rnd(lines);
		while (qi[l] >= qn[l]);
		struct rpkt p = q[l][qi[l]++];
		feed(l, p.seq, p.n);
	}
	arbiter_flush(&T.a);
	expect_all_released();

	/* each sequence number: delivered once, or in exactly one gap */
	cr_assert_eq(T.a.c.messages + T.a.c.gap_messages, N_SEQ);
	cr_assert_eq(T.a.c.messages + T.a.c.duplicates + T.a.c.late, offered);
	cr_assert_eq(T.a.c.messages, T.n_delivered);
	cr_assert_eq(lines_sum(lines, true), T.a.c.messages, "every message won by one line");
	cr_assert_eq(lines_sum(lines, false), T.a.c.duplicates, "every duplicate lost by one");
	uint32_t k = 0;
	uint64_t runs = 0;
	for (uint64_t s = 1; s <= N_SEQ; s++) {
		bool got = k < T.n_delivered && T.delivered[k] == s;
		k += got;
		if (hold_max >= N_SEQ) {
			/* with room to wait, only never-received numbers are gaps */
			cr_assert_eq(got, received[s], "seed %lu seq %lu", (unsigned long)seed,
				     (unsigned long)s);
			runs += !received[s] && received[s - 1];
		} else {
			cr_assert(!got || received[s]);
		}
	}
	cr_assert_eq(k, T.n_delivered);
	if (hold_max >= N_SEQ) {
		cr_assert_eq(T.a.c.gaps, runs, "adjacent losses are one event");
		cr_assert_eq(T.a.c.late, 0);
		cr_assert_eq(T.a.c.hold_overflow, 0);
	}
	sum.held += T.a.c.held;
	sum.gaps += T.a.c.gaps;
	sum.duplicates += T.a.c.duplicates;
	sum.late += T.a.c.late;
	sum.hold_overflow += T.a.c.hold_overflow;
}

Test(arbiter, random_ab_interleavings)
{
	for (uint64_t seed = 1; seed <= 40; seed++)
		random_run(seed, 2, ARBITER_HOLD_MAX, 10);
	cr_assert(sum.held > 0 && sum.gaps > 0 && sum.duplicates > 0);
}

Test(arbiter, random_three_lines_heavy_loss)
{
	for (uint64_t seed = 100; seed <= 120; seed++)
		random_run(seed, 3, ARBITER_HOLD_MAX, 40);
	cr_assert(sum.held > 0 && sum.gaps > 0 && sum.duplicates > 0);
}

Test(arbiter, random_single_line)
{
	for (uint64_t seed = 200; seed <= 220; seed++)
		random_run(seed, 1, ARBITER_HOLD_MAX, 20);
	cr_assert(sum.gaps > 0);
	cr_assert_eq(sum.held, 0, "a single line never needs to wait");
}

Test(arbiter, random_small_hold_queue)
{
	for (uint64_t seed = 300; seed <= 340; seed++)
		random_run(seed, 2, 3, 15);
	cr_assert(sum.hold_overflow > 0 && sum.late > 0);
}

/* ---- implausible sequence numbers (issue 11 item 10) ---- */

#define ABSURD (1ull << 63)

/*
 * One packet, heartbeat or end of session announcing an absurd sequence among normal
 * ones must not move the feed there: no gap is declared for it, the messages that
 * follow are delivered, and the refused packet is counted.
 */
static void one_absurd_packet(uint8_t lines, uint16_t n_msgs)
{
	setup(lines, 16, 0);
	for (uint64_t s = 1; s <= 100; s += 10)
		for (uint8_t l = 0; l < lines; l++)
			feed(l, s, 10);
	feed(0, ABSURD, n_msgs); /* a heartbeat / end of session when n_msgs is 0 */
	for (uint64_t s = 101; s <= 200; s += 10)
		for (uint8_t l = 0; l < lines; l++)
			feed(l, s, 10);
	expect_delivered_range(1, 200, NULL, 0);
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.gap_messages, 0);
	cr_assert_eq(T.a.c.late, 0);
	cr_assert_eq(T.a.c.implausible, 1);
	arbiter_flush(&T.a); /* nor at the end of input */
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.gap_messages, 0);
	expect_all_released();
}

Test(arbiter, implausible_heartbeat_refused)
{
	one_absurd_packet(1, 0);
	one_absurd_packet(2, 0);
}

Test(arbiter, implausible_data_packet_refused)
{
	one_absurd_packet(1, 3);
	one_absurd_packet(2, 3);
}

/* The absurd packet is the last one of the input: refused at the flush. */
Test(arbiter, implausible_last_packet_refused)
{
	setup(1, 16, 0);
	feed(0, 1, 10);
	heartbeat(0, ABSURD);
	arbiter_flush(&T.a);
	expect_delivered_range(1, 10, NULL, 0);
	cr_assert_eq(T.a.c.gaps, 0);
	cr_assert_eq(T.a.c.gap_messages, 0);
	cr_assert_eq(T.a.c.implausible, 1);

	setup(1, 16, 0);
	feed(0, 1, 10);
	feed(0, ABSURD - 5, 5);
	arbiter_flush(&T.a);
	cr_assert_eq(T.a.c.gap_messages, 0);
	cr_assert_eq(T.a.c.implausible, 1);
	expect_all_released();
}

/*
 * A real outage: the line comes back far ahead and continues contiguously from there.
 * The feed resumes at the new position: the loss is one gap, the packet that came back
 * first is delivered (not lost), and nothing is refused.
 */
Test(arbiter, outage_resumes_contiguously)
{
	const uint64_t j = 100 + 10 * ARBITER_JUMP_MAX;

	/* one line */
	setup(1, 16, 0);
	for (uint64_t s = 1; s <= 100; s += 10)
		feed(0, s, 10);
	feed(0, j, 5);
	feed(0, j + 5, 5);
	feed(0, j + 10, 5);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, j - 101);
	cr_assert_eq(T.a.c.implausible, 0);
	cr_assert_eq(T.a.c.messages, 115);
	cr_assert_eq(T.delivered[100], j);
	cr_assert_eq(T.delivered[114], j + 14);

	/* both lines come back; B's first packet after A's confirmed run is plausible */
	setup(2, 16, 0);
	for (uint64_t s = 1; s <= 100; s += 10) {
		feed(0, s, 10);
		feed(1, s, 10);
	}
	feed(1, j, 5);
	feed(0, j, 5);
	feed(0, j + 5, 5);
	feed(1, j + 5, 5);
	feed(0, j + 10, 5);
	feed(1, j + 10, 5);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, j - 101);
	cr_assert_eq(T.a.c.messages, 115);
	cr_assert_eq(T.a.c.duplicates, 115);
	cr_assert_eq(T.a.c.implausible, 0);

	/* heartbeats after the outage: the next one at the same sequence confirms */
	setup(1, 16, 0);
	feed(0, 1, 10);
	heartbeat(0, j);
	cr_assert_eq(T.a.c.gaps, 0);
	heartbeat(0, j);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, j - 11);
	feed(0, j, 3);
	cr_assert_eq(T.a.c.messages, 13);
	cr_assert_eq(T.delivered[10], j);
	cr_assert_eq(T.a.c.implausible, 0);
	arbiter_flush(&T.a);
	expect_all_released();
}

/* Jumps within ARBITER_JUMP_MAX are ordinary losses, handled at once as before. */
Test(arbiter, plausible_jump_is_immediate)
{
	setup(1, 16, 0);
	feed(0, 1, 10);
	feed(0, 11 + ARBITER_JUMP_MAX, 2);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.gap_messages, ARBITER_JUMP_MAX);
	cr_assert_eq(T.a.c.messages, 12);
	cr_assert_eq(T.a.c.implausible, 0);
}

/*
 * A refused jump that a copy of the same packet repeats (a line's duplicate) is still
 * one candidate; an unrelated next packet refuses it; a new session drops it.
 */
Test(arbiter, implausible_candidate_lifecycle)
{
	const uint64_t j = 11 + 4 * ARBITER_JUMP_MAX;

	setup(1, 16, 0);
	feed(0, 1, 10);
	feed(0, j, 5);
	feed(0, j, 5); /* the line's duplicate copy */
	cr_assert_eq(T.a.c.duplicates, 5);
	feed(0, j + 5, 1);
	cr_assert_eq(T.a.c.implausible, 0);
	cr_assert_eq(T.a.c.gaps, 1);
	cr_assert_eq(T.a.c.messages, 16);

	setup(2, 16, 0);
	feed(0, 1, 10);
	feed(1, 1, 10);
	feed(0, j, 5);
	feed(1, 11, 5);	 /* the other line goes on: not a confirmation */
	feed(0, 11, 10); /* A's next packet does not continue the jump: refused */
	cr_assert_eq(T.a.c.implausible, 1);
	cr_assert_eq(T.a.c.gaps, 0);
	expect_delivered_range(1, 20, NULL, 0);

	setup(1, 16, 0);
	feed(0, 1, 10);
	feed(0, j, 5);
	set_session("SESSION002");
	feed(0, 1, 5);
	cr_assert_eq(T.a.c.implausible, 1);
	cr_assert_eq(T.a.c.sessions, 2);
	cr_assert_eq(T.a.c.gaps, 0);
	arbiter_flush(&T.a);
	expect_all_released();

	/* arbiter_discard (feed removed) releases a refused-to-be packet too */
	setup(1, 16, 0);
	feed(0, 1, 10);
	cr_assert(feed(0, j, 5), "a candidate data packet is kept");
	arbiter_discard(&T.a);
	expect_all_released();
}
