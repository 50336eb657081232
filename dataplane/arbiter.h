/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-feed sequencing and A/B line arbitration (docs/protocol.md §3.3).
 *
 * Messages are identified by (session, sequence). The arbiter delivers each at most
 * once, in increasing order; the first copy on any line wins; a partly overlapping
 * packet delivers only its new messages. A packet that arrives ahead of the next
 * expected sequence is held (not copied: the caller's handle, e.g. the mbuf, is kept)
 * until the missing range arrives on some line, or every line has moved past it
 * (then the range was received on no line: a gap), or the hold times out (live mode),
 * or the hold queue is full, or the input ends (arbiter_flush, replay). A declared gap
 * is final: copies of its sequence numbers that arrive later are dropped as late.
 *
 * A line's progress is the sequence after its last valid packet (heartbeats and end of
 * session included: they carry the next expected sequence). Each line is assumed to be
 * in order on its own, which is what makes "every line moved past it" a proof of loss.
 *
 * Plausibility: one packet (data, heartbeat or end of session) whose sequence lies more
 * than ARBITER_JUMP_MAX beyond everything the feed knows (expected and every line's
 * progress) does not move the feed on its own word. It is set aside as its line's
 * candidate; when the line's next packet continues contiguously from it (starts where
 * the candidate ends) the jump is real (a line back from an outage) and both are taken
 * in order; any other next packet, a new session or the end of input refuses it,
 * counted as `implausible`. One corrupt or spoofed packet announcing e.g. 2^63 thus
 * costs one counted packet instead of a declared gap of 2^63 and a silenced session.
 *
 * Pure state machine: no EAL, no mbufs; delivery and release are callbacks.
 * Written only by the RX lcore that owns the feed.
 */
#ifndef ASTER_ARBITER_H
#define ASTER_ARBITER_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/counter.h"

#define ARBITER_MAX_LINES     8
#define ARBITER_HOLD_MAX      1024 /* upper bound of arbiter_init's hold_max */
#define ARBITER_RETIRED	      4	   /* sessions remembered as finished */
#define ARBITER_GAP_HISTORY   16   /* declared gaps remembered to tell late from duplicate */
#define ARBITER_LINE_RECOVERY 0xFF /* arbiter_pkt.line of an answer of the recovery server */
#define ARBITER_JUMP_MAX      (1ull << 20) /* a farther jump ahead waits for confirmation */

_Static_assert((ARBITER_HOLD_MAX & (ARBITER_HOLD_MAX - 1)) == 0, "hold ring is indexed by mask");

struct arbiter_pkt {
	void *handle;	     /* caller's packet (mbuf); returned through release() */
	const uint8_t *mold; /* MoldUDP64 payload, validated by mold_parse */
	uint32_t len;
	const uint8_t *session; /* 10 bytes inside `mold` */
	uint64_t seq;
	uint16_t n_msgs; /* 0 for heartbeat / end of session */
	uint8_t line;	 /* index of the line it arrived on (< n_lines), or ARBITER_LINE_RECOVERY */
};

struct arbiter_ops {
	/* Deliver messages [skip, n_msgs) of `pkt`, in order. Called in sequence order. */
	void (*deliver)(void *ctx, const struct arbiter_pkt *pkt, uint16_t skip);
	/* A held packet is no longer needed (delivered or dropped): free it. */
	void (*release)(void *ctx, void *handle);
	/* A new session starts: clear the feed's locate bindings (docs/protocol.md §3.3, §3.4). */
	void (*new_session)(void *ctx, const uint8_t *session);
};

/* Written by the owning RX lcore with counter_add, so other threads may read them with
 * counter_read (common/counter.h, where the list and each counter's meaning live). */
struct arbiter_counters {
	COUNTER_ARBITER(COUNTER_FIELD)
};

/* The same, per line (COUNTER_LINE_ARBITER): which line delivered first, which came
 * second. Answers of the recovery server count in `recovered`, not here. */
struct arbiter_line {
	COUNTER_LINE_ARBITER(COUNTER_FIELD)
};

_Static_assert(ARBITER_MAX_LINES == COUNTER_MAX_LINES, "per-line counters cover every line");
_Static_assert((ARBITER_MAX_LINES & (ARBITER_MAX_LINES - 1)) == 0, "lines are indexed by mask");

/*
 * Who fills the ranges missing on every line when the feed recovers upstream
 * (recovery.h implements it; recovery_attach sets arbiter.rec). The arbiter tells it of
 * every range that becomes missing and of the end of the stream; it calls nothing else,
 * so this module does not depend on recovery's.
 */
struct arbiter_listener {
	/* [first, end) is missing on every line since now_tsc */
	void (*missing)(struct arbiter_listener *l, uint64_t first, uint64_t end, uint64_t now_tsc);
	/* the stream ends (a new session, a flush): its open ranges are abandoned */
	void (*end)(struct arbiter_listener *l);
};

struct arbiter_held {
	struct arbiter_pkt pkt;
	uint64_t since_tsc;
};

/* A line's implausible jump waiting for the line's next packet to confirm it. */
struct arbiter_cand {
	struct arbiter_pkt pkt; /* session points at arbiter.session; handle NULL for n_msgs 0 */
	bool valid;
};

struct arbiter {
	/* configuration */
	uint8_t n_lines;
	uint16_t hold_max;
	uint64_t hold_tsc; /* 0 = no time limit (replay) */
	const struct arbiter_ops *ops;
	void *ctx;

	/* stream state */
	bool active;
	uint8_t session[10];
	uint8_t retired[ARBITER_RETIRED][10];
	uint8_t n_retired;
	uint64_t expected; /* next sequence to deliver */
	uint64_t frontier; /* after the highest sequence a feed line carried or announced */
	uint64_t line_next[ARBITER_MAX_LINES]; /* 0 = nothing received on the line yet */
	uint64_t blocked_since; /* TSC since an announced gap waits with nothing held, 0 = none */
	struct arbiter_gap {
		uint64_t first, end; /* [first, end) */
	} gap_hist[ARBITER_GAP_HISTORY];
	uint8_t gap_hist_next;
	struct arbiter_cand cand[ARBITER_MAX_LINES];

	/*
	 * hold queue, sorted by seq: a ring over held[] (index mask ARBITER_HOLD_MAX - 1)
	 * starting at held_head; at most hold_max entries are in use.
	 */
	uint16_t n_held;
	uint16_t held_head;
	struct arbiter_held held[ARBITER_HOLD_MAX];

	struct arbiter_counters c;
	struct arbiter_line line_c[ARBITER_MAX_LINES];

	/* upstream recovery (recovery_attach), NULL when the feed has none (and in replay) */
	struct arbiter_listener *rec;
};

/* hold_max in 1..ARBITER_HOLD_MAX; hold_tsc 0 disables the time limit. */
void arbiter_init(struct arbiter *a, uint8_t n_lines, uint16_t hold_max, uint64_t hold_tsc,
		  const struct arbiter_ops *ops, void *ctx);

/*
 * Take one valid packet (data, heartbeat or end of session). Delivers what can be
 * delivered now, through ops->deliver. Returns true when the arbiter kept `pkt->handle`
 * (it will call ops->release later), false when the caller still owns it and may free
 * it now.
 */
bool arbiter_accept(struct arbiter *a, const struct arbiter_pkt *pkt, uint64_t now_tsc);

/* Live mode: declare the gaps whose hold time ran out. Call from housekeeping. */
void arbiter_poll(struct arbiter *a, uint64_t now_tsc);

/* The feed is leaving the table: release every held packet without delivering it.
 * Called off the polling cores once nothing routes the feed any more. Returns the
 * messages those packets carried (counted by the caller: drops.feed_removed). */
uint64_t arbiter_discard(struct arbiter *a);

/* End of input: nothing more will arrive; declare remaining gaps, deliver and release all. */
void arbiter_flush(struct arbiter *a);

/*
 * Recovery mode (recovery.h). A feed with upstream recovery: gaps are declared by the
 * recovery module (or forced by a full hold queue, a new session), never on the proof
 * that every line moved past them nor on the profile's hold time. Answers of the
 * recovery server are given to arbiter_accept with line ARBITER_LINE_RECOVERY: they
 * deliver like any line (first copy wins) but never count as a line's progress and
 * never expose a range. Each range that becomes known to be missing is reported to the
 * recovery module as it is exposed (recovery_on_missing).
 */

/*
 * The sequence ranges missing now, in order: in [expected, frontier), neither delivered
 * nor held. Writes at most `max` to `out` (ARBITER_HOLD_MAX + 1 is always enough) and
 * returns how many.
 */
uint32_t arbiter_missing(const struct arbiter *a, struct arbiter_gap *out, uint32_t max);

/*
 * Recovery gave up what is missing in [expected, end): declare it a gap (§3.3) and
 * deliver what it held behind it. Only ever at the head: sequences are delivered in
 * order.
 */
void arbiter_give_up(struct arbiter *a, uint64_t end);

#endif
