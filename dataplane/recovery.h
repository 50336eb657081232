/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Upstream recovery (docs/protocol.md §6.3): the decisions of a MoldUDP64 re-request
 * client, for one feed, sitting on the feed's arbiter and its hold queue.
 *
 * How the two cooperate (docs/at-least-once.md, "Upstream recovery"):
 *  - recovery_attach puts the arbiter in recovery mode. It then never declares a gap on
 *    the proof "every line moved past it" (§3.3) nor on the profile's hold time: a range
 *    missing on every line is this module's to fill or to give up. What it still does
 *    alone: hold what follows a missing range, deliver in order, declare the gap that a
 *    full hold queue forces (`hold_overflow`), and end the stream at a session change.
 *  - The arbiter reports every range that becomes known to be missing, at the time it
 *    becomes known (a packet or heartbeat on a feed line beyond everything seen so
 *    far): recovery_on_missing. Ranges are therefore exposed in increasing order of
 *    sequence and of time; they are kept in that order.
 *  - recovery_poll (housekeeping, bounded work) compares each range with what the
 *    arbiter still misses (arbiter_missing: neither delivered nor held) and decides:
 *    ask once it has waited `wait_us` (session, first missing, count <= 0xFFFE, up to
 *    the range's last missing sequence); ask for the rest at once when part of a
 *    request arrived (a partial answer, or another line); ask again after
 *    `timeout_us` without progress; after `tries` requests without progress, give the
 *    request's range up: arbiter_give_up declares it a gap once everything before it
 *    is settled, and delivery goes on. The requests to send are returned to the
 *    caller, who frames them (mold_request_frame) and transmits them.
 *  - Answers (packets from the server to the feed's `source`) go through
 *    recovery_answer: from the server's address, in the current session, carrying
 *    data, and within the span asked for in this session; then they are one more line
 *    of the arbiter (ARBITER_LINE_RECOVERY): first copy wins, an overlap delivers only
 *    its new messages, and what they deliver is counted as `recovered`. Anything else
 *    is dropped and counted by reason; it can never move the feed.
 *  - A new session (or the end of the stream) ends every open range: recovery_on_end,
 *    called by the arbiter as it drains the old stream.
 *
 * Pure like the arbiter: no EAL, no mbufs, time in TSC ticks passed in. Written only by
 * the RX lcore that owns the feed; its counters are bumped with counter_add, so other
 * threads may read them (common/counter.h).
 */
#ifndef ASTER_RECOVERY_H
#define ASTER_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "arbiter.h"

struct rc_recovery;

#define RECOVERY_MAX_RANGES  64			    /* open ranges; more are merged into the last */
#define RECOVERY_COUNT_MAX   0xFFFE		    /* messages one request may ask for */
#define RECOVERY_MAX_MISSING (ARBITER_HOLD_MAX + 1) /* missing intervals the arbiter can have */

enum recovery_range_state {
	RECOVERY_WAITING = 0, /* exposed, asked when due (wait_us, or at once for a rest) */
	RECOVERY_ASKED,	      /* a request is out: req_first..req_end, `tries` so far */
	RECOVERY_GIVEN_UP,    /* declared a gap as soon as everything before it is settled */
};

struct recovery_range {
	uint64_t first, end;	     /* sequences still to recover lie in [first, end) */
	uint64_t due_tsc;	     /* WAITING: when to ask; ASKED: when to ask again */
	uint64_t req_first, req_end; /* ASKED / GIVEN_UP: the request's range */
	uint16_t tries;		     /* requests sent for req_first without progress */
	uint8_t state;		     /* enum recovery_range_state */
};

/* One request to send: the arbiter's current session, `seq`, `count`. */
struct recovery_request {
	uint64_t seq;
	uint16_t count;
};

struct recovery_counters {
	uint64_t requests; /* request packets to send (first asks, rests and resends) */
	/* the rest are exported under these names (common/counter.h, COUNTER_RECOVERY) */
	uint64_t recovery_resends;	/* of which asked again after timeout_us without progress */
	uint64_t recovery_gaps;		/* ranges declared gaps after `tries` unanswered requests */
	uint64_t recovery_gap_messages; /* sequence numbers in them */
	uint64_t recovery_abandoned;	/* open ranges ended by a new session / the stream's end */
	uint64_t recovery_merged;	/* exposures merged into the last range (table full) */
	uint64_t recovery_answers;	/* answer packets taken as the recovery line */
	uint64_t answer_foreign;	/* dropped: not from the server's ip:port */
	uint64_t answer_session;	/* dropped: not the feed's current session */
	uint64_t answer_unrequested;	/* dropped: no data, or outside what was asked */
};

enum recovery_answer {
	RECOVERY_ANSWER_OK = 0,
	RECOVERY_ANSWER_FOREIGN,
	RECOVERY_ANSWER_SESSION,
	RECOVERY_ANSWER_UNREQUESTED,
};

struct recovery {
	struct arbiter_listener listener; /* what the arbiter calls (recovery_attach) */

	/* configuration */
	uint64_t wait_tsc, timeout_tsc;
	uint16_t tries;
	uint32_t server_ip;   /* host order */
	uint16_t server_port; /* host order */

	/* open ranges, sorted by sequence (and by exposure time) */
	uint32_t n;
	struct recovery_range r[RECOVERY_MAX_RANGES];
	uint64_t asked_lo, asked_hi; /* span asked for in this session; asked_hi 0 = none */

	struct recovery_counters c;
	struct arbiter_gap missing[RECOVERY_MAX_MISSING]; /* recovery_poll's scratch */
};

/* From the feed's `recovery` settings; `tsc_hz` converts wait_us and timeout_us. */
void recovery_init(struct recovery *r, const struct rc_recovery *cfg, uint64_t tsc_hz);

/* New settings for a running `r`: its open ranges and counters are kept. */
void recovery_configure(struct recovery *r, const struct rc_recovery *cfg, uint64_t tsc_hz);

/* Put `a` in recovery mode, reporting to `r` (see above). Before the first packet, or
 * (a running feed starting to recover) followed by recovery_on_missing for what
 * arbiter_missing says is missing now. */
void recovery_attach(struct recovery *r, struct arbiter *a);

/* Called by the arbiter: [first, end) is missing on every line since now_tsc. */
void recovery_on_missing(struct recovery *r, uint64_t first, uint64_t end, uint64_t now_tsc);

/* Called by the arbiter when its stream ends: every open range is abandoned. */
void recovery_on_end(struct recovery *r);

/*
 * Housekeeping: trim what arrived, ask what is due, give up what ran out of tries.
 * Writes at most `max_out` requests to `out` (the rest are asked on a later call) and
 * returns how many; their session is the arbiter's (a->session). Work is bounded by
 * RECOVERY_MAX_RANGES and the arbiter's hold queue.
 */
uint32_t recovery_poll(struct recovery *r, struct arbiter *a, uint64_t now_tsc,
		       struct recovery_request *out, uint32_t max_out);

/*
 * A downstream packet that arrived at the feed's `source` from `src_ip:src_port`. When
 * it is a valid answer (RECOVERY_ANSWER_OK) it is given to the arbiter as the recovery
 * line and *kept tells whether the arbiter kept its handle; otherwise it is counted
 * under its reason and *kept is false (the caller frees it).
 */
enum recovery_answer recovery_answer(struct recovery *r, struct arbiter *a, uint32_t src_ip,
				     uint16_t src_port, const struct arbiter_pkt *pkt,
				     uint64_t now_tsc, bool *kept);

/* Ranges being recovered now (health: a feed with open ranges is recovering). */
static inline uint32_t recovery_open_ranges(const struct recovery *r)
{
	return r->n;
}

#endif
