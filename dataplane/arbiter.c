/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-feed sequencing and A/B line arbitration (docs/protocol.md §3.3). The design is described in
 * arbiter.h; this file keeps three invariants after every public call:
 *
 *  1. every held packet starts beyond `expected` (what can be delivered has been);
 *  2. held[] is sorted by first sequence number;
 *  3. every sequence number below `expected` was delivered exactly once, or belongs to
 *     exactly one declared gap.
 *
 * Gap proof: each line is in order on its own, so once every line's progress
 * (line_next) has passed a sequence number that was neither delivered nor held, no
 * line will ever carry it: it is a gap (docs/protocol.md §3.3). The hold queue full, the hold
 * timeout (live mode) and the end of input force a gap without that proof.
 *
 * Runs on the RX lcore that owns the feed: no allocation, no locks, bounded work per
 * packet (O(log hold_max) search, plus a shift when packets arrive out of order).
 */
#include <string.h>

#include "arbiter.h"

#define HOLD_MASK (ARBITER_HOLD_MAX - 1)
#define HIST_MASK (ARBITER_GAP_HISTORY - 1)
#define LINE_MASK (ARBITER_MAX_LINES - 1) /* keeps a caller's bad line index in bounds */

_Static_assert((ARBITER_GAP_HISTORY & HIST_MASK) == 0, "gap history is indexed by mask");
_Static_assert(256 % ARBITER_GAP_HISTORY == 0, "gap_hist_next (u8) wraps on a slot boundary");

static inline struct arbiter_held *held_at(struct arbiter *a, uint32_t i)
{
	return &a->held[(a->held_head + i) & HOLD_MASK];
}

static inline uint64_t pkt_end(const struct arbiter_pkt *p)
{
	return p->seq + p->n_msgs;
}

/* Smallest progress over the lines; 0 while some line has received nothing yet. */
static uint64_t lines_min(const struct arbiter *a)
{
	uint64_t m = UINT64_MAX;

	for (unsigned int i = 0; i < a->n_lines; i++) {
		if (a->line_next[i] < m)
			m = a->line_next[i];
	}
	return m;
}

static uint64_t lines_max(const struct arbiter *a)
{
	uint64_t m = 0;

	for (unsigned int i = 0; i < a->n_lines; i++) {
		if (a->line_next[i] > m)
			m = a->line_next[i];
	}
	return m;
}

/* `n` messages `line` carried were delivered already (from another line, or its own
 * overlap): duplicates of the feed, lost by the line. */
static inline void count_duplicates(struct arbiter *a, uint8_t line, uint64_t n)
{
	counter_add(&a->c.duplicates, n);
	if (line != ARBITER_LINE_RECOVERY)
		counter_add(&a->line_c[line & LINE_MASK].lost, n);
}

/*
 * Messages [first, end), all below `expected`, arrived again on `line`: late when their
 * sequence number lies in a remembered declared gap, duplicate otherwise
 * (docs/protocol.md §3.7 names both).
 */
static void count_old(struct arbiter *a, uint8_t line, uint64_t first, uint64_t end)
{
	uint64_t late = 0;

	/* Gaps are declared in increasing order: the newest one ends last. */
	if (first < a->gap_hist[(a->gap_hist_next - 1) & HIST_MASK].end) {
		for (unsigned int i = 0; i < ARBITER_GAP_HISTORY; i++) {
			uint64_t lo = a->gap_hist[i].first > first ? a->gap_hist[i].first : first;
			uint64_t hi = a->gap_hist[i].end < end ? a->gap_hist[i].end : end;
			if (lo < hi)
				late += hi - lo;
		}
	}
	counter_add(&a->c.late, late);
	count_duplicates(a, line, end - first - late);
}

/* `p` covers `expected` (p->seq <= expected < end): deliver its new messages. */
static void deliver_new(struct arbiter *a, const struct arbiter_pkt *p)
{
	uint64_t skip = a->expected - p->seq;
	uint64_t end = pkt_end(p);

	if (skip > 0) /* the usual packet starts at expected: nothing old to count */
		count_old(a, p->line, p->seq, a->expected);
	a->ops->deliver(a->ctx, p, (uint16_t)skip);
	counter_add(&a->c.messages, end - a->expected);
	if (p->line == ARBITER_LINE_RECOVERY)
		counter_add(&a->c.recovered, end - a->expected);
	else
		counter_add(&a->line_c[p->line & LINE_MASK].won, end - a->expected);
	a->expected = end;
}

/* Deliver, or drop as already seen, the held packets that no longer start beyond expected. */
static void release_ready(struct arbiter *a)
{
	while (a->n_held > 0) {
		struct arbiter_held *h = held_at(a, 0);
		void *handle = h->pkt.handle;

		if (h->pkt.seq > a->expected)
			break;
		if (pkt_end(&h->pkt) > a->expected)
			deliver_new(a, &h->pkt);
		else
			count_old(a, h->pkt.line, h->pkt.seq, pkt_end(&h->pkt));
		a->held_head = (uint16_t)((a->held_head + 1) & HOLD_MASK);
		a->n_held--;
		a->ops->release(a->ctx, handle);
	}
}

/*
 * [expected, end) will never be delivered. A gap that starts where the previous one
 * ended (nothing delivered in between) extends it: adjacent losses are one event.
 */
static void declare_gap(struct arbiter *a, uint64_t end)
{
	struct arbiter_gap *last = &a->gap_hist[(a->gap_hist_next - 1) & HIST_MASK];

	if (last->end == a->expected && last->end > last->first) {
		last->end = end;
	} else {
		struct arbiter_gap *g = &a->gap_hist[a->gap_hist_next & HIST_MASK];
		g->first = a->expected;
		g->end = end;
		a->gap_hist_next++;
		counter_add(&a->c.gaps, 1);
	}
	counter_add(&a->c.gap_messages, end - a->expected);
	a->expected = end;
}

/*
 * Declare every gap that every line has proven (see the top of the file), releasing
 * what each one unblocks. `bound` caps the gap end (the first sequence of a packet
 * about to be placed), UINT64_MAX for none.
 */
static void resolve(struct arbiter *a, uint64_t bound)
{
	uint64_t m = lines_min(a);

	if (a->rec != NULL)
		return; /* recovery mode: a range missing on every line is recovery's */

	if (bound < m)
		m = bound;
	for (;;) {
		uint64_t end = m;

		if (a->n_held > 0 && held_at(a, 0)->pkt.seq < end)
			end = held_at(a, 0)->pkt.seq;
		if (end <= a->expected)
			break;
		declare_gap(a, end);
		release_ready(a);
	}
}

/* Index of the first held packet starting after `seq` (insertion point, ties in order). */
static uint32_t held_upper_bound(struct arbiter *a, uint64_t seq)
{
	uint32_t lo = 0, hi = a->n_held;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (held_at(a, mid)->pkt.seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * True when the held packet just before `p`'s place already covers all of `p` (the
 * same packet from the other line, the usual case). Partial or farther overlaps are
 * kept and trimmed when released; this check only saves queue room.
 */
static bool held_covers(struct arbiter *a, const struct arbiter_pkt *p)
{
	uint32_t pos = held_upper_bound(a, p->seq);

	return pos > 0 && pkt_end(&held_at(a, pos - 1)->pkt) >= pkt_end(p);
}

static void hold(struct arbiter *a, const struct arbiter_pkt *p, uint64_t now_tsc)
{
	uint32_t pos = held_upper_bound(a, p->seq);

	/* Out-of-order arrivals shift the tail; in-order ones (pos == n_held) do not. */
	for (uint32_t j = a->n_held; j > pos; j--)
		*held_at(a, j) = *held_at(a, j - 1);
	held_at(a, pos)->pkt = *p;
	held_at(a, pos)->since_tsc = now_tsc;
	a->n_held++;
	counter_add(&a->c.held, 1);
}

/* A candidate jump is not confirmed: refuse it (counted; its messages were never
 * delivered and its sequence numbers never counted as received). */
static void refuse(struct arbiter *a, struct arbiter_cand *c)
{
	counter_add(&a->c.implausible, 1);
	c->valid = false;
	if (c->pkt.handle != NULL)
		a->ops->release(a->ctx, c->pkt.handle);
}

/*
 * The current stream ends (new session or end of input): nothing more of it will be
 * delivered, so every missing range before a held packet is a gap, and so is a range a
 * line announced (heartbeat, end of session) beyond what was received. A jump still
 * waiting for confirmation is refused first: it never moved a line.
 */
static void drain(struct arbiter *a)
{
	for (unsigned int i = 0; i < a->n_lines; i++)
		if (a->cand[i].valid)
			refuse(a, &a->cand[i]);
	while (a->n_held > 0) {
		declare_gap(a, held_at(a, 0)->pkt.seq);
		release_ready(a);
	}
	uint64_t max = lines_max(a);
	if (max > a->expected)
		declare_gap(a, max);
	a->blocked_since = 0;
	if (a->rec != NULL)
		a->rec->end(a->rec); /* its open ranges belonged to this stream */
}

static bool is_retired(const struct arbiter *a, const uint8_t *session)
{
	for (unsigned int i = 0; i < a->n_retired; i++) {
		if (memcmp(a->retired[i], session, sizeof(a->retired[i])) == 0)
			return true;
	}
	return false;
}

static void retire(struct arbiter *a)
{
	/* Keep the newest ARBITER_RETIRED sessions; the oldest is forgotten first. */
	if (a->n_retired == ARBITER_RETIRED) {
		memmove(a->retired[0], a->retired[1],
			sizeof(a->retired[0]) * (ARBITER_RETIRED - 1));
		a->n_retired--;
	}
	memcpy(a->retired[a->n_retired++], a->session, sizeof(a->session));
}

/* docs/protocol.md §3.3: a new session string starts a new stream; its first packet sets expected.
 */
static void start_stream(struct arbiter *a, const uint8_t *session, uint64_t seq)
{
	memcpy(a->session, session, sizeof(a->session));
	a->active = true;
	a->expected = seq;
	a->frontier = seq;
	memset(a->line_next, 0, sizeof(a->line_next));
	memset(a->gap_hist, 0, sizeof(a->gap_hist));
	a->gap_hist_next = 0;
	a->blocked_since = 0;
	counter_add(&a->c.sessions, 1);
	a->ops->new_session(a->ctx, a->session);
}

/*
 * Remember when a line first announced (heartbeat, end of session, or a packet since
 * delivered past) a range beyond `expected` with nothing held to time: arbiter_poll
 * times that gap from then. With packets held, the head's arrival time is used.
 */
static void update_blocked(struct arbiter *a, uint64_t now_tsc)
{
	if (a->n_held == 0 && lines_max(a) > a->expected) {
		if (a->blocked_since == 0)
			a->blocked_since = now_tsc ? now_tsc : 1;
	} else {
		a->blocked_since = 0;
	}
}

void arbiter_init(struct arbiter *a, uint8_t n_lines, uint16_t hold_max, uint64_t hold_tsc,
		  const struct arbiter_ops *ops, void *ctx)
{
	memset(a, 0, sizeof(*a));
	if (n_lines < 1)
		n_lines = 1;
	if (n_lines > ARBITER_MAX_LINES)
		n_lines = ARBITER_MAX_LINES;
	if (hold_max < 1)
		hold_max = 1;
	if (hold_max > ARBITER_HOLD_MAX)
		hold_max = ARBITER_HOLD_MAX;
	a->n_lines = n_lines;
	a->hold_max = hold_max;
	a->hold_tsc = hold_tsc;
	a->ops = ops;
	a->ctx = ctx;
}

/* A packet of the current session, plausible or confirmed: progress, then delivery. */
static bool take(struct arbiter *a, const struct arbiter_pkt *pkt, uint64_t now_tsc)
{
	bool kept = false;
	uint64_t end = pkt_end(pkt);
	if (pkt->line < a->n_lines) {
		if (a->line_next[pkt->line] < end)
			a->line_next[pkt->line] = end;
		/* a feed line shows more than anything before: what lies between is missing */
		if (pkt->seq > a->frontier && a->rec != NULL)
			a->rec->missing(a->rec, a->frontier, pkt->seq, now_tsc);
		if (end > a->frontier)
			a->frontier = end;
	}

	if (pkt->n_msgs == 0) {
		/* Heartbeat / end of session: only the line progress above (docs/protocol.md §3.3).
		 */
	} else if (end <= a->expected) {
		count_old(a, pkt->line, pkt->seq, end);
	} else {
		if (pkt->seq > a->expected)
			resolve(a, pkt->seq); /* e.g. a single line: the loss is proven now */
		if (pkt->seq > a->expected) {
			if (held_covers(a, pkt)) {
				count_duplicates(a, pkt->line, pkt->n_msgs);
				goto out;
			}
			if (a->n_held == a->hold_max) {
				/* Make room: the oldest missing range becomes a gap. */
				uint64_t head = held_at(a, 0)->pkt.seq;
				counter_add(&a->c.hold_overflow, 1);
				declare_gap(a, head < pkt->seq ? head : pkt->seq);
				release_ready(a);
			}
		}
		if (pkt->seq > a->expected) {
			hold(a, pkt, now_tsc);
			kept = true;
		} else if (end > a->expected) {
			deliver_new(a, pkt);
			release_ready(a);
		} else {
			count_old(a, pkt->line, pkt->seq, end);
		}
	}
out:
	resolve(a, UINT64_MAX);
	update_blocked(a, now_tsc);
	return kept;
}

/* More than ARBITER_JUMP_MAX beyond everything the feed knows (see arbiter.h). */
static bool implausible(const struct arbiter *a, const struct arbiter_pkt *pkt)
{
	uint64_t known = a->frontier; /* >= expected and every line's progress */

	return pkt->seq > known && pkt->seq - known > ARBITER_JUMP_MAX;
}

/* The line's next packet continues its candidate: the jump was real, take it first. */
static void confirm(struct arbiter *a, struct arbiter_cand *c, uint64_t now_tsc)
{
	c->valid = false;
	if (!take(a, &c->pkt, now_tsc) && c->pkt.handle != NULL)
		a->ops->release(a->ctx, c->pkt.handle);
}

/*
 * Plausibility of a packet on line `c`'s line (see arbiter.h). Returns true when the
 * packet was dealt with here (set aside as the candidate, or a copy of it), with
 * *kept telling whether its handle is kept; false when it goes on to take().
 */
static bool screen(struct arbiter *a, struct arbiter_cand *c, const struct arbiter_pkt *pkt,
		   uint64_t now_tsc, bool *kept)
{
	if (c->valid) {
		if (pkt->seq == pkt_end(&c->pkt)) {
			confirm(a, c, now_tsc);
		} else if (pkt->n_msgs > 0 && pkt->seq == c->pkt.seq &&
			   pkt_end(pkt) <= pkt_end(&c->pkt)) {
			/* the line repeats its candidate (a duplicate copy) */
			count_duplicates(a, pkt->line, pkt->n_msgs);
			*kept = false;
			return true;
		} else {
			refuse(a, c);
		}
	}
	if (!implausible(a, pkt))
		return false;
	c->pkt = *pkt;
	c->pkt.session = a->session; /* the packet's bytes may go with its handle */
	if (pkt->n_msgs == 0)
		c->pkt.handle = NULL; /* a heartbeat's sequence is all that is needed */
	c->valid = true;
	*kept = pkt->n_msgs > 0;
	return true;
}

bool arbiter_accept(struct arbiter *a, const struct arbiter_pkt *pkt, uint64_t now_tsc)
{
	bool kept;

	if (!a->active) {
		start_stream(a, pkt->session, pkt->seq);
	} else if (memcmp(pkt->session, a->session, sizeof(a->session)) != 0) {
		if (is_retired(a, pkt->session)) {
			counter_add(&a->c.stale_session, 1);
			return false;
		}
		drain(a);
		retire(a);
		start_stream(a, pkt->session, pkt->seq);
	}
	if (pkt->line < a->n_lines && screen(a, &a->cand[pkt->line], pkt, now_tsc, &kept))
		return kept;
	return take(a, pkt, now_tsc);
}

void arbiter_poll(struct arbiter *a, uint64_t now_tsc)
{
	if (a->hold_tsc == 0 || !a->active || a->rec != NULL)
		return; /* recovery mode: its bounds replace the hold time (§6.3) */
	for (;;) {
		if (a->n_held > 0) {
			const struct arbiter_held *h = held_at(a, 0);
			if (now_tsc < h->since_tsc || now_tsc - h->since_tsc < a->hold_tsc)
				break;
			declare_gap(a, h->pkt.seq);
			release_ready(a);
			resolve(a, UINT64_MAX);
		} else if (a->blocked_since != 0 && now_tsc >= a->blocked_since &&
			   now_tsc - a->blocked_since >= a->hold_tsc) {
			declare_gap(a, lines_max(a));
		} else {
			break;
		}
		counter_add(&a->c.hold_timeout, 1);
		update_blocked(a, now_tsc);
	}
	update_blocked(a, now_tsc);
}

void arbiter_flush(struct arbiter *a)
{
	if (a->active)
		drain(a);
}

uint64_t arbiter_discard(struct arbiter *a)
{
	uint64_t msgs = 0;

	for (unsigned int i = 0; i < ARBITER_MAX_LINES; i++) {
		if (a->cand[i].valid && a->cand[i].pkt.handle != NULL) {
			msgs += a->cand[i].pkt.n_msgs;
			a->ops->release(a->ctx, a->cand[i].pkt.handle);
		}
		a->cand[i].valid = false;
	}
	while (a->n_held > 0) {
		msgs += held_at(a, 0)->pkt.n_msgs;
		a->ops->release(a->ctx, held_at(a, 0)->pkt.handle);
		a->held_head = (uint16_t)((a->held_head + 1) & HOLD_MASK);
		a->n_held--;
	}
	return msgs;
}

uint32_t arbiter_missing(const struct arbiter *a, struct arbiter_gap *out, uint32_t max)
{
	uint64_t cursor = a->expected;
	uint32_t n = 0;

	if (!a->active)
		return 0;
	for (uint32_t i = 0; i < a->n_held && n < max; i++) {
		const struct arbiter_pkt *p = &a->held[(a->held_head + i) & HOLD_MASK].pkt;

		if (p->seq > cursor)
			out[n++] = (struct arbiter_gap){cursor, p->seq};
		if (pkt_end(p) > cursor)
			cursor = pkt_end(p);
	}
	if (a->frontier > cursor && n < max)
		out[n++] = (struct arbiter_gap){cursor, a->frontier};
	return n;
}

void arbiter_give_up(struct arbiter *a, uint64_t end)
{
	while (a->active && a->expected < end) {
		uint64_t stop = end;

		if (a->n_held > 0 && held_at(a, 0)->pkt.seq < stop)
			stop = held_at(a, 0)->pkt.seq;
		if (stop > a->expected) /* always, by invariant 1 */
			declare_gap(a, stop);
		release_ready(a);
	}
}
