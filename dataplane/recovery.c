/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Upstream recovery decisions (docs/protocol.md §6.3). How this module and the arbiter
 * share the work is described in recovery.h. Invariants after every call:
 *
 *  1. r->r[0..n) are sorted and disjoint: r[i].end <= r[i + 1].first;
 *  2. every sequence number the arbiter misses (neither delivered nor held) lies in
 *     some range: ranges are created for every exposure and removed only once nothing
 *     in them is missing any more (arrived, or declared a gap by whoever declared it);
 *  3. a request is only ever for sequences inside one range, below the arbiter's
 *     frontier, so the span asked for (asked_lo..asked_hi) never reaches beyond what
 *     some feed line announced: an answer cannot move the feed.
 */
#include <stddef.h>
#include <string.h>

#include "recovery.h"
#include "routing_config.h"

#include "../common/counter.h"

/* The arbiter's calls (struct arbiter_listener) lead to the public functions below. */
static struct recovery *of_listener(struct arbiter_listener *l)
{
	return (struct recovery *)(void *)((char *)l - offsetof(struct recovery, listener));
}

static void listener_missing(struct arbiter_listener *l, uint64_t first, uint64_t end,
			     uint64_t now_tsc)
{
	recovery_on_missing(of_listener(l), first, end, now_tsc);
}

static void listener_end(struct arbiter_listener *l)
{
	recovery_on_end(of_listener(l));
}

void recovery_init(struct recovery *r, const struct rc_recovery *cfg, uint64_t tsc_hz)
{
	memset(r, 0, sizeof(*r));
	r->listener.missing = listener_missing;
	r->listener.end = listener_end;
	recovery_configure(r, cfg, tsc_hz);
}

void recovery_configure(struct recovery *r, const struct rc_recovery *cfg, uint64_t tsc_hz)
{
	r->wait_tsc = (uint64_t)cfg->wait_us * tsc_hz / 1000000;
	r->timeout_tsc = (uint64_t)cfg->timeout_us * tsc_hz / 1000000;
	if (r->timeout_tsc == 0)
		r->timeout_tsc = 1;
	r->tries = cfg->tries > 0 ? cfg->tries : 1;
	r->server_ip = cfg->server_ip;
	r->server_port = cfg->server_port;
}

void recovery_attach(struct recovery *r, struct arbiter *a)
{
	a->rec = &r->listener;
}

void recovery_on_missing(struct recovery *r, uint64_t first, uint64_t end, uint64_t now_tsc)
{
	struct recovery_range *last = r->n > 0 ? &r->r[r->n - 1] : NULL;

	if (first >= end)
		return;
	if (r->n == RECOVERY_MAX_RANGES) {
		/* No room: the last range grows (asked as its rest once its request is done). */
		last->end = end;
		counter_add(&r->c.recovery_merged, 1);
		return;
	}
	r->r[r->n++] = (struct recovery_range){
	    .first = first,
	    .end = end,
	    .due_tsc = now_tsc + r->wait_tsc,
	    .state = RECOVERY_WAITING,
	};
}

void recovery_on_end(struct recovery *r)
{
	counter_add(&r->c.recovery_abandoned, r->n);
	r->n = 0;
	r->asked_lo = r->asked_hi = 0;
}

static void ask(struct recovery *r, struct recovery_range *g, uint64_t first, uint64_t end,
		uint64_t now_tsc, struct recovery_request *out)
{
	if (end - first > RECOVERY_COUNT_MAX)
		end = first + RECOVERY_COUNT_MAX;
	out->seq = first;
	out->count = (uint16_t)(end - first);
	g->req_first = first;
	g->req_end = end;
	g->due_tsc = now_tsc + r->timeout_tsc;
	g->state = RECOVERY_ASKED;
	counter_add(&r->c.requests, 1);
	if (r->asked_hi == 0 || first < r->asked_lo)
		r->asked_lo = first;
	if (end > r->asked_hi)
		r->asked_hi = end;
}

/*
 * One range against the arbiter's missing intervals m[0..nm) (those ending after its
 * first). Returns false when nothing in it is missing any more (drop it). May write one
 * request to *out (when `room`), reported through *asked.
 */
static bool step(struct recovery *r, struct recovery_range *g, const struct arbiter_gap *m,
		 uint32_t nm, uint64_t now_tsc, bool room, struct recovery_request *out,
		 bool *asked)
{
	uint64_t p1, p2, last = 0;

	*asked = false;
	if (nm == 0 || m[0].first >= g->end)
		return false;
	/* the first missing part, and the last missing sequence, inside the range */
	p1 = m[0].first > g->first ? m[0].first : g->first;
	p2 = m[0].end < g->end ? m[0].end : g->end;
	for (uint32_t j = 0; j < nm && m[j].first < g->end; j++)
		last = m[j].end < g->end ? m[j].end : g->end;
	g->first = p1; /* its head arrived: shrink */

	if (g->state == RECOVERY_GIVEN_UP && p1 >= g->req_end) {
		/* what was given up arrived after all: nothing to declare, go on with the rest */
		g->state = RECOVERY_WAITING;
		g->due_tsc = now_tsc;
	}
	if (g->state == RECOVERY_ASKED) {
		if (p1 >= g->req_end) {
			/* the request's range is complete: the range goes on with its rest */
			g->state = RECOVERY_WAITING;
			g->due_tsc = now_tsc;
		} else if (p1 > g->req_first) {
			/* part of it arrived (a partial answer, another line): ask the rest now */
			if (room) {
				ask(r, g, p1, g->req_end, now_tsc, out);
				g->tries = 1;
				*asked = true;
			}
			return true;
		} else if (now_tsc >= g->due_tsc) {
			if (g->tries >= r->tries) {
				/* `tries` requests unanswered: a gap, once what precedes is settled
				 */
				g->state = RECOVERY_GIVEN_UP;
				g->req_end = p2 < g->req_end ? p2 : g->req_end;
			} else if (room) {
				ask(r, g, p1, g->req_end, now_tsc, out);
				g->tries++;
				counter_add(&r->c.recovery_resends, 1);
				*asked = true;
			}
			return true;
		} else {
			return true;
		}
	}
	if (g->state == RECOVERY_WAITING && now_tsc >= g->due_tsc && room) {
		/* one request from the first to the last missing sequence, as clients do */
		ask(r, g, p1, last, now_tsc, out);
		g->tries = 1;
		*asked = true;
	}
	return true;
}

uint32_t recovery_poll(struct recovery *r, struct arbiter *a, uint64_t now_tsc,
		       struct recovery_request *out, uint32_t max_out)
{
	uint32_t nm, mi = 0, w = 0, sent = 0;

	if (r->n == 0)
		return 0;
	nm = arbiter_missing(a, r->missing, RECOVERY_MAX_MISSING);
	for (uint32_t i = 0; i < r->n; i++) {
		struct recovery_range g = r->r[i];
		bool asked;

		while (mi < nm && r->missing[mi].end <= g.first)
			mi++;
		if (!step(r, &g, r->missing + mi, nm - mi, now_tsc, sent < max_out, &out[sent],
			  &asked))
			continue;
		sent += asked;
		r->r[w++] = g;
	}
	r->n = w;

	/* Given-up ranges at the head: the gap is declared now, and delivery goes on. */
	while (r->n > 0 && r->r[0].state == RECOVERY_GIVEN_UP && r->r[0].first <= a->expected) {
		struct recovery_range *g = &r->r[0];
		uint64_t before = a->c.gap_messages;

		arbiter_give_up(a, g->req_end);
		counter_add(&r->c.recovery_gaps, 1);
		counter_add(&r->c.recovery_gap_messages, a->c.gap_messages - before);
		if (g->req_end < g->end) {
			/* the rest of the range is recovered on its own, from now */
			g->first = g->req_end;
			g->state = RECOVERY_WAITING;
			g->due_tsc = now_tsc;
		} else {
			memmove(&r->r[0], &r->r[1], (r->n - 1) * sizeof(r->r[0]));
			r->n--;
		}
	}
	return sent;
}

enum recovery_answer recovery_answer(struct recovery *r, struct arbiter *a, uint32_t src_ip,
				     uint16_t src_port, const struct arbiter_pkt *pkt,
				     uint64_t now_tsc, bool *kept)
{
	struct arbiter_pkt p = *pkt;

	*kept = false;
	if (src_ip != r->server_ip || src_port != r->server_port) {
		counter_add(&r->c.answer_foreign, 1);
		return RECOVERY_ANSWER_FOREIGN;
	}
	if (!a->active || memcmp(pkt->session, a->session, sizeof(a->session)) != 0) {
		counter_add(&r->c.answer_session, 1);
		return RECOVERY_ANSWER_SESSION;
	}
	/* Answers carry data, inside what this session asked for (invariant 3). */
	if (pkt->n_msgs == 0 || r->asked_hi == 0 || pkt->seq < r->asked_lo ||
	    pkt->seq + pkt->n_msgs > r->asked_hi) {
		counter_add(&r->c.answer_unrequested, 1);
		return RECOVERY_ANSWER_UNREQUESTED;
	}
	counter_add(&r->c.recovery_answers, 1);
	p.line = ARBITER_LINE_RECOVERY;
	*kept = arbiter_accept(a, &p, now_tsc);
	return RECOVERY_ANSWER_OK;
}
