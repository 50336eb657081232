/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Upstream recovery (docs/protocol.md §6.3) on sequences of events: the arbiter in
 * recovery mode with recovery.c deciding. Ranges wait `wait_us` for another line,
 * requests (first, count <= 0xFFFE), partial answers and the rest asked at once,
 * timeouts and resends, `tries` then a gap and delivery going on, session changes
 * abandoning ranges, the hold queue's bound, spoofed answers, the table of ranges
 * filling up, and a randomized A/B run against a server that answers in pieces.
 *
 * Time is in ticks of a 1 MHz "TSC": wait_us and timeout_us are ticks.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "arbiter.h"
#include "recovery.h"
#include "routing_config.h"

#define SERVER_IP   0x0a000005
#define SERVER_PORT 26400
#define MAX_H	    16384
#define MAX_D	    200000

static struct harness {
	struct arbiter a;
	struct recovery r;
	uint8_t session[10];
	uint32_t next_handle;
	uint8_t held[MAX_H]; /* 1 while the arbiter keeps the handle */
	uint64_t *delivered;
	uint32_t n_delivered;
	struct recovery_request req[64];
	uint32_t n_req;
} T;

static uint64_t delivered_buf[MAX_D];

static void cb_deliver(void *ctx, const struct arbiter_pkt *pkt, uint16_t skip)
{
	(void)ctx;
	for (uint32_t i = skip; i < pkt->n_msgs; i++) {
		uint64_t s = pkt->seq + i;

		if (T.n_delivered > 0)
			cr_assert_gt(s, T.delivered[T.n_delivered - 1], "out of order: %lu",
				     (unsigned long)s);
		cr_assert_lt(T.n_delivered, MAX_D);
		T.delivered[T.n_delivered++] = s;
	}
}

static void cb_release(void *ctx, void *handle)
{
	uintptr_t h = (uintptr_t)handle;

	(void)ctx;
	cr_assert(h > 0 && h < MAX_H && T.held[h], "release of %lu", (unsigned long)h);
	T.held[h] = 0;
}

static void cb_new_session(void *ctx, const uint8_t *session)
{
	(void)ctx;
	(void)session;
	T.n_delivered = 0;
}

static const struct arbiter_ops ops = {cb_deliver, cb_release, cb_new_session};

static void setup_full(uint8_t lines, uint16_t hold_max, uint32_t wait, uint32_t timeout,
		       uint16_t tries)
{
	struct rc_recovery cfg = {
	    .enabled = true,
	    .server_ip = SERVER_IP,
	    .server_port = SERVER_PORT,
	    .wait_us = wait,
	    .timeout_us = timeout,
	    .tries = tries,
	};

	memset(&T, 0, sizeof(T));
	T.delivered = delivered_buf;
	memcpy(T.session, "SESSION001", 10);
	T.next_handle = 1;
	/* a hold time that would declare gaps if recovery mode did not replace it */
	arbiter_init(&T.a, lines, hold_max, 10, &ops, &T);
	recovery_init(&T.r, &cfg, 1000000);
	recovery_attach(&T.r, &T.a);
}

static void setup(uint8_t lines)
{
	setup_full(lines, 64, 500, 50000, 3);
}

static struct arbiter_pkt pkt(uint8_t line, uint64_t seq, uint16_t n)
{
	uint32_t h = T.next_handle++;

	cr_assert_lt(h, MAX_H);
	return (struct arbiter_pkt){.handle = (void *)(uintptr_t)h,
				    .session = T.session,
				    .seq = seq,
				    .n_msgs = n,
				    .line = line};
}

static void feed(uint8_t line, uint64_t seq, uint16_t n, uint64_t now)
{
	struct arbiter_pkt p = pkt(line, seq, n);

	T.held[(uintptr_t)p.handle] = 1;
	if (!arbiter_accept(&T.a, &p, now))
		T.held[(uintptr_t)p.handle] = 0;
}

static enum recovery_answer answer_from(uint32_t ip, uint16_t port, uint64_t seq, uint16_t n,
					uint64_t now)
{
	struct arbiter_pkt p = pkt(0, seq, n);
	bool kept;
	enum recovery_answer res;

	T.held[(uintptr_t)p.handle] = 1;
	res = recovery_answer(&T.r, &T.a, ip, port, &p, now, &kept);
	if (!kept)
		T.held[(uintptr_t)p.handle] = 0;
	return res;
}

static void answer(uint64_t seq, uint16_t n, uint64_t now)
{
	cr_assert_eq(answer_from(SERVER_IP, SERVER_PORT, seq, n, now), RECOVERY_ANSWER_OK);
}

static uint32_t poll_at(uint64_t now)
{
	T.n_req = recovery_poll(&T.r, &T.a, now, T.req, 64);
	return T.n_req;
}

static void expect_req(uint32_t i, uint64_t seq, uint16_t count)
{
	cr_assert_gt(T.n_req, i, "request %u missing", i);
	cr_expect_eq(T.req[i].seq, seq, "request %u: seq %lu, want %lu", i,
		     (unsigned long)T.req[i].seq, (unsigned long)seq);
	cr_expect_eq(T.req[i].count, count, "request %u: count %u, want %u", i, T.req[i].count,
		     count);
}

/* Delivered exactly [first, last] minus the holes [hole_first, hole_end). */
static void expect_delivered(uint64_t first, uint64_t last, uint64_t hole_first, uint64_t hole_end)
{
	uint32_t k = 0;

	for (uint64_t s = first; s <= last; s++) {
		if (s >= hole_first && s < hole_end)
			continue;
		cr_assert_lt(k, T.n_delivered, "%lu not delivered", (unsigned long)s);
		cr_assert_eq(T.delivered[k], s, "delivered[%u] = %lu, want %lu", k,
			     (unsigned long)T.delivered[k], (unsigned long)s);
		k++;
	}
	cr_assert_eq(k, T.n_delivered, "extra deliveries");
}

static void expect_nothing_held(void)
{
	for (uint32_t h = 1; h < T.next_handle; h++)
		cr_assert_eq(T.held[h], 0, "handle %u still held", h);
}

/* A/B: 1..10 on both; 11..20 lost on both; 21..30 on A at t = 1000. */
static void lose_11_to_20(void)
{
	feed(0, 1, 10, 0);
	feed(1, 1, 10, 0);
	feed(0, 21, 10, 1000);
}

Test(recovery, waits_for_the_other_line_first)
{
	setup(2);
	lose_11_to_20();
	cr_expect_eq(poll_at(1499), 0, "asked before wait_us");
	/* B had it after all: nothing to ask */
	feed(1, 11, 10, 1400);
	cr_expect_eq(poll_at(1500), 0);
	cr_expect_eq(recovery_open_ranges(&T.r), 0);
	expect_delivered(1, 30, 0, 0);
	cr_expect_eq(T.r.c.requests, 0);
	cr_expect_eq(T.a.c.gaps, 0);
}

Test(recovery, no_gap_without_recovery_deciding)
{
	/* one line: plain arbitration would declare 11..20 a gap at once */
	setup(1);
	feed(0, 1, 10, 0);
	feed(0, 21, 10, 1000);
	arbiter_poll(&T.a, 1000000); /* the profile's hold time does not apply either */
	cr_expect_eq(T.a.c.gaps, 0);
	cr_expect_eq(T.a.c.hold_timeout, 0);
	cr_expect_eq(T.a.n_held, 1);
	expect_delivered(1, 10, 0, 0);
}

Test(recovery, request_then_answer)
{
	setup(2);
	lose_11_to_20();
	cr_assert_eq(poll_at(1500), 1);
	expect_req(0, 11, 10);
	cr_expect_eq(poll_at(1501), 0, "one request per range");
	answer(11, 10, 1700);
	expect_delivered(1, 30, 0, 0);
	cr_expect_eq(T.a.c.recovered, 10);
	cr_expect_eq(T.r.c.recovery_answers, 1);
	cr_expect_eq(poll_at(1800), 0);
	cr_expect_eq(recovery_open_ranges(&T.r), 0);
	/* B's copy turning up later is a duplicate */
	feed(1, 11, 20, 1900);
	cr_expect_eq(T.a.c.duplicates, 10 + 20);
	cr_expect_eq(T.a.c.gaps, 0);
	cr_expect_eq(T.a.c.gap_messages, 0);
	expect_nothing_held();
}

Test(recovery, partial_answer_asks_the_rest_at_once)
{
	setup(2);
	feed(0, 1, 10, 0);
	feed(1, 1, 10, 0);
	feed(0, 41, 1, 1000); /* 11..40 missing */
	cr_assert_eq(poll_at(1500), 1);
	expect_req(0, 11, 30);
	answer(11, 12, 1600); /* a server stopping at its payload limit */
	cr_assert_eq(poll_at(1601), 1, "the rest is asked without waiting");
	expect_req(0, 23, 18);
	answer(23, 12, 1700);
	cr_assert_eq(poll_at(1701), 1);
	expect_req(0, 35, 6);
	answer(35, 6, 1800);
	cr_expect_eq(poll_at(1801), 0);
	expect_delivered(1, 41, 0, 0);
	cr_expect_eq(T.a.c.recovered, 30);
	cr_expect_eq(T.r.c.requests, 3);
	cr_expect_eq(T.r.c.recovery_resends, 0);
	cr_expect_eq(T.a.c.gaps, 0);
}

/* The other line fills the middle of a requested range: the rest is asked, trimmed. */
Test(recovery, other_line_fills_part_of_a_request)
{
	setup(2);
	feed(0, 1, 10, 0);
	feed(0, 41, 1, 1000);
	cr_assert_eq(poll_at(1500), 1);
	expect_req(0, 11, 30);
	feed(1, 1, 20, 1600); /* B catches up to 20 */
	cr_assert_eq(poll_at(1601), 1);
	expect_req(0, 21, 20);
	answer(21, 20, 1700);
	expect_delivered(1, 41, 0, 0);
	cr_expect_eq(T.a.c.recovered, 20);
}

Test(recovery, unanswered_resent_then_given_up)
{
	setup(2);
	lose_11_to_20();
	cr_assert_eq(poll_at(1500), 1);
	cr_expect_eq(poll_at(1500 + 49999), 0);
	cr_assert_eq(poll_at(1500 + 50000), 1, "resent after timeout_us");
	expect_req(0, 11, 10);
	cr_assert_eq(poll_at(1500 + 100000), 1);
	expect_req(0, 11, 10);
	cr_expect_eq(T.r.c.requests, 3);
	cr_expect_eq(T.r.c.recovery_resends, 2);
	cr_expect_eq(T.a.c.gaps, 0);
	cr_expect_eq(poll_at(1500 + 149999), 0);
	/* wait_us + tries x timeout_us after the loss became known: a gap, delivery goes on */
	cr_expect_eq(poll_at(1000 + 500 + 3 * 50000), 0);
	cr_expect_eq(T.a.c.gaps, 1);
	cr_expect_eq(T.a.c.gap_messages, 10);
	cr_expect_eq(T.r.c.recovery_gaps, 1);
	cr_expect_eq(T.r.c.recovery_gap_messages, 10);
	expect_delivered(1, 30, 11, 21);
	cr_expect_eq(recovery_open_ranges(&T.r), 0);
	/* an answer after the gap was declared is late, never delivered */
	answer(11, 10, 200000);
	cr_expect_eq(T.a.c.late, 10);
	expect_delivered(1, 30, 11, 21);
	expect_nothing_held();
}

Test(recovery, heartbeat_exposes_the_tail)
{
	setup(1);
	feed(0, 1, 20, 0);
	feed(0, 31, 0, 100); /* a heartbeat: 21..30 were sent */
	cr_expect_eq(poll_at(599), 0);
	cr_assert_eq(poll_at(600), 1);
	expect_req(0, 21, 10);
	answer(21, 10, 700);
	expect_delivered(1, 30, 0, 0);
	cr_expect_eq(T.a.c.gaps, 0);
}

Test(recovery, session_change_abandons_ranges)
{
	setup(1);
	feed(0, 1, 10, 0);
	feed(0, 21, 10, 100);
	cr_assert_eq(poll_at(600), 1);
	memcpy(T.session, "SESSION002", 10);
	feed(0, 1, 5, 700);
	cr_expect_eq(T.r.c.recovery_abandoned, 1);
	cr_expect_eq(recovery_open_ranges(&T.r), 0);
	/* the old session's stream ended: its missing range became a gap (§3.3) */
	cr_expect_eq(T.a.c.gaps, 1);
	cr_expect_eq(poll_at(100000), 0);
	/* an answer for the old session is refused, not delivered */
	memcpy(T.session, "SESSION001", 10);
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT, 11, 10, 800), RECOVERY_ANSWER_SESSION);
	cr_expect_eq(T.r.c.answer_session, 1);
	memcpy(T.session, "SESSION002", 10);
	expect_delivered(1, 5, 0, 0);
	expect_nothing_held();
}

Test(recovery, hold_overflow_is_a_gap)
{
	setup_full(1, 4, 500, 50000, 3);
	feed(0, 1, 1, 0);
	for (uint64_t s = 3; s < 3 + 4; s++) /* 2 lost; 3..6 held: the queue is full */
		feed(0, s, 1, 10);
	cr_expect_eq(T.a.c.hold_overflow, 0);
	feed(0, 7, 1, 20);
	cr_expect_eq(T.a.c.hold_overflow, 1);
	cr_expect_eq(T.a.c.gaps, 1);
	expect_delivered(1, 7, 2, 3);
	cr_expect_eq(poll_at(1000), 0, "nothing left to ask");
	cr_expect_eq(recovery_open_ranges(&T.r), 0);
}

Test(recovery, spoofed_answers_refused)
{
	setup(2);
	lose_11_to_20();
	/* before anything was asked, nothing is an answer */
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT, 11, 10, 1100),
		     RECOVERY_ANSWER_UNREQUESTED);
	cr_assert_eq(poll_at(1500), 1);
	cr_expect_eq(answer_from(0x0a000006, SERVER_PORT, 11, 10, 1600), RECOVERY_ANSWER_FOREIGN);
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT + 1, 11, 10, 1600),
		     RECOVERY_ANSWER_FOREIGN);
	/* beyond what was asked: would deliver what no line announced */
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT, 11, 30, 1600),
		     RECOVERY_ANSWER_UNREQUESTED);
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT, 1ull << 62, 1, 1600),
		     RECOVERY_ANSWER_UNREQUESTED);
	/* a heartbeat or end of session on the answer path */
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT, 15, 0, 1600), RECOVERY_ANSWER_UNREQUESTED);
	memcpy(T.session, "SESSION009", 10);
	cr_expect_eq(answer_from(SERVER_IP, SERVER_PORT, 11, 10, 1600), RECOVERY_ANSWER_SESSION);
	memcpy(T.session, "SESSION001", 10);
	cr_expect_eq(T.r.c.answer_foreign, 2);
	cr_expect_eq(T.r.c.answer_unrequested, 4);
	cr_expect_eq(T.r.c.answer_session, 1);
	cr_expect_eq(T.r.c.recovery_answers, 0);
	expect_delivered(1, 10, 0, 0);
	cr_expect_eq(T.a.expected, 11, "the feed did not move");
	answer(11, 10, 1700);
	expect_delivered(1, 30, 0, 0);
}

Test(recovery, count_capped_then_the_rest)
{
	setup_full(1, 64, 0, 50000, 3);
	feed(0, 1, 1, 0);
	feed(0, 100002, 1, 10); /* 2..100001 missing: 100000 messages */
	cr_assert_eq(poll_at(10), 1);
	expect_req(0, 2, 0xFFFE);
	for (uint64_t s = 2; s < 2 + 0xFFFE; s += 1000)
		answer(s, (uint16_t)(s + 1000 <= 2 + 0xFFFE ? 1000 : 2 + 0xFFFE - s), 20);
	cr_assert_eq(poll_at(30), 1);
	expect_req(0, 2 + 0xFFFE, 100002 - 2 - 0xFFFE);
	answer(2 + 0xFFFE, 100002 - 2 - 0xFFFE, 40);
	cr_expect_eq(T.a.c.messages, 100002);
	cr_expect_eq(T.a.c.recovered, 100000);
	cr_expect_eq(T.a.c.gaps, 0);
}

Test(recovery, ranges_in_flight_together_answered_out_of_order)
{
	setup(2);
	feed(0, 1, 10, 0);
	feed(1, 1, 10, 0);
	feed(0, 21, 10, 100); /* 11..20 */
	feed(0, 41, 10, 200); /* 31..40 */
	feed(1, 21, 10, 300);
	cr_assert_eq(poll_at(650), 1, "the second is not due yet");
	expect_req(0, 11, 10);
	cr_assert_eq(poll_at(700), 1);
	expect_req(0, 31, 10);
	answer(31, 10, 800); /* held: 11..20 still missing */
	expect_delivered(1, 10, 0, 0);
	answer(11, 10, 900);
	expect_delivered(1, 50, 0, 0);
	cr_expect_eq(T.a.c.recovered, 20);
	expect_nothing_held();
}

/* A later range given up waits until what precedes it is settled. */
Test(recovery, given_up_range_waits_for_earlier_ones)
{
	setup_full(1, 64, 0, 1000, 1);
	feed(0, 1, 1, 0);
	feed(0, 11, 1, 0);  /* 2..10 */
	feed(0, 21, 1, 10); /* 12..20 */
	cr_assert_eq(poll_at(10), 2);
	/* 2..10 keeps making progress, one message per answer; 12..20 never answered */
	uint64_t t = 10;
	for (uint64_t s = 2; s <= 9; s++) {
		t += 600;
		answer(s, 1, t);
		poll_at(t);
	}
	cr_expect_eq(T.r.c.recovery_gaps, 0, "the second range's gap must wait for the first");
	cr_expect_eq(T.a.c.gaps, 0);
	answer(10, 1, t + 1);
	poll_at(t + 2);
	cr_expect_eq(T.r.c.recovery_gaps, 1);
	cr_expect_eq(T.a.c.gaps, 1);
	cr_expect_eq(T.a.c.gap_messages, 9);
	expect_delivered(1, 21, 12, 21);
}

Test(recovery, poll_sends_at_most_max_out)
{
	setup_full(1, 64, 0, 50000, 3);
	feed(0, 1, 1, 0);
	for (uint64_t s = 3; s < 3 + 20; s += 2)
		feed(0, s, 1, 5); /* 10 ranges of one */
	cr_assert_eq(recovery_poll(&T.r, &T.a, 5, T.req, 4), 4);
	cr_expect_eq(T.req[0].seq, 2);
	cr_expect_eq(T.req[3].seq, 8);
	cr_assert_eq(recovery_poll(&T.r, &T.a, 6, T.req, 64), 6);
	cr_expect_eq(T.req[0].seq, 10);
	cr_expect_eq(T.r.c.requests, 10);
}

Test(recovery, full_table_merges_ranges)
{
	setup_full(1, 1024, 0, 50000, 3);
	feed(0, 1, 1, 0);
	for (uint64_t i = 0; i < RECOVERY_MAX_RANGES + 10; i++)
		feed(0, 3 + 2 * i, 1, 5); /* each leaves one sequence missing */
	cr_expect_eq(recovery_open_ranges(&T.r), RECOVERY_MAX_RANGES);
	cr_expect_eq(T.r.c.recovery_merged, 10);
	/* answer everything asked, as many rounds as it takes: all recovered, in order */
	uint64_t t = 10;
	for (int round = 0; round < 20 && recovery_open_ranges(&T.r) > 0; round++, t += 10) {
		uint32_t n = poll_at(t);

		for (uint32_t i = 0; i < n; i++)
			answer(T.req[i].seq, T.req[i].count, t + 1);
	}
	cr_expect_eq(recovery_open_ranges(&T.r), 0);
	cr_expect_eq(T.a.c.gaps, 0);
	expect_delivered(1, 1 + 2 * (RECOVERY_MAX_RANGES + 10), 0, 0);
}

/*
 * Randomized: two lines with independent loss and losses on both, a server that answers
 * each request after a delay, cut at a random size, and sometimes not at all. Every
 * message is delivered once, in order, and none is declared a gap as long as the server
 * answers some request of each range within `tries` attempts.
 */
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((rng >> 33) % n);
}

struct pending {
	uint64_t seq, due;
	uint16_t count;
};

static void random_run(uint64_t seed, unsigned int drop_pct)
{
	static struct pending q[4096];
	uint32_t nq = 0;
	uint64_t t = 0, s = 1;
	const uint64_t end = 20000;

	rng = seed;
	setup_full(2, ARBITER_HOLD_MAX, 50, 400, 5);
	while (s < end || recovery_open_ranges(&T.r) > 0 || nq > 0) {
		if (s < end) {
			uint16_t n = (uint16_t)(1 + rnd(8));
			unsigned int fate = rnd(100);

			if (s + n > end)
				n = (uint16_t)(end - s);
			if (fate >= 6 || s == 1)
				feed(0, s, n, t); /* A loses 6 % */
			if ((fate < 3 || fate >= 9) || s == 1)
				feed(1, s, n, t + 1); /* B loses 6 %, 3 % on both */
			s += n;
			if (s == end) {
				feed(0, end, 0, t); /* heartbeats show the tail */
				feed(1, end, 0, t);
			}
		}
		t += 10;
		uint32_t n = poll_at(t);
		for (uint32_t i = 0; i < n && nq < 4096; i++) {
			if (rnd(100) < drop_pct)
				continue; /* never answered */
			q[nq++] = (struct pending){T.req[i].seq, t + 20 + rnd(300),
						   (uint16_t)(1 + rnd(T.req[i].count))};
		}
		for (uint32_t i = 0; i < nq;) {
			if (q[i].due <= t) {
				answer(q[i].seq, q[i].count, t);
				q[i] = q[--nq];
			} else {
				i++;
			}
		}
		cr_assert_lt(t, 100000000, "did not settle");
	}
	/* in order (cb_deliver), once each, and what is missing is exactly the given-up */
	cr_expect_eq(T.a.c.hold_overflow, 0);
	cr_expect_eq(T.n_delivered + T.a.c.gap_messages, end - 1);
	cr_expect_eq(T.a.c.gap_messages, T.r.c.recovery_gap_messages);
	if (drop_pct == 0) {
		cr_expect_eq(T.a.c.gaps, 0, "seed %lu: %lu gaps", (unsigned long)seed,
			     (unsigned long)T.a.c.gaps);
		expect_delivered(1, end - 1, 0, 0);
	}
	cr_expect_gt(T.a.c.recovered, 0);
	expect_nothing_held();
}

Test(recovery, random_ab_server_answers_in_pieces)
{
	for (uint64_t seed = 1; seed <= 20; seed++)
		random_run(seed, 0);
}

Test(recovery, random_ab_server_drops_some_requests)
{
	/* 30 % of requests (resends too) never answered: resends recover most, what runs out
	 * of tries is a counted gap, and the totals add up exactly */
	uint64_t resends = 0, given_up = 0;

	for (uint64_t seed = 100; seed < 110; seed++) {
		random_run(seed, 30);
		resends += T.r.c.recovery_resends;
		given_up += T.r.c.recovery_gaps;
	}
	cr_expect_gt(resends, 0);
	cr_log_info("30 %% unanswered: %lu resends, %lu ranges given up", (unsigned long)resends,
		    (unsigned long)given_up);
}
