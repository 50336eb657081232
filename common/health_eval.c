/* SPDX-License-Identifier: BSD-3-Clause */
/* The health model's rules over health segment samples: see health_eval.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health_eval.h"

#define NS_PER_MS UINT64_C(1000000)

int health_eval_init(struct health_eval *e, bool watch_subs)
{
	memset(e, 0, sizeof(*e));
	if (!watch_subs)
		return 0;
	e->subs = calloc(HEALTH_MAX_SUBS, sizeof(*e->subs));
	return e->subs != NULL ? 0 : -ENOMEM;
}

void health_eval_fini(struct health_eval *e)
{
	free(e->subs);
	e->subs = NULL;
}

const char *health_state_name(enum health_state st)
{
	switch (st) {
	case HEALTH_HEALTHY:
		return "healthy";
	case HEALTH_DEGRADED:
		return "degraded";
	case HEALTH_DOWN:
		return "down";
	}
	return "unknown";
}

void health_verdict_clear(struct health_verdict *v)
{
	v->state = HEALTH_HEALTHY;
	v->n_reasons = 0;
}

void health_verdict_add(struct health_verdict *v, enum health_state st, const char *fmt, ...)
{
	va_list ap;

	if (st > v->state)
		v->state = st;
	if (v->n_reasons == HEALTH_MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(v->reasons[v->n_reasons++], HEALTH_REASON_LEN, fmt, ap);
	va_end(ap);
}

static uint32_t at_most(uint32_t n, uint32_t max)
{
	return n < max ? n : max;
}

void health_eval_track(struct health_eval *e, const struct health_shm *s, uint64_t now_ns)
{
	if (s->boot_id != e->boot_id) {
		memset(e->beats, 0, sizeof(e->beats));
		memset(e->drops, 0, sizeof(e->drops));
		memset(e->gaps, 0, sizeof(e->gaps));
		memset(e->missed, 0, sizeof(e->missed));
		if (e->subs != NULL)
			memset(e->subs, 0, HEALTH_MAX_SUBS * sizeof(*e->subs));
		e->boot_id = s->boot_id;
	}
	for (uint32_t i = 0; i < at_most(s->n_lcores, HEALTH_MAX_LCORES); i++) {
		const struct health_lcore *l = &s->lcores[i];
		struct health_beat *b = &e->beats[i];

		if (b->changed_ns == 0 || b->lcore_id != l->lcore_id ||
		    b->heartbeat != l->heartbeat) {
			b->lcore_id = l->lcore_id;
			b->heartbeat = l->heartbeat;
			b->changed_ns = now_ns;
		}
	}
}

void health_eval_gauges(const struct health_eval *e, const struct health_shm *s, uint64_t now_ns,
			struct health_verdict *v)
{
	for (uint32_t i = 0; i < at_most(s->n_lcores, HEALTH_MAX_LCORES); i++) {
		const struct health_lcore *l = &s->lcores[i];
		const struct health_beat *b = &e->beats[i];

		if (b->changed_ns != 0 && b->lcore_id == l->lcore_id &&
		    now_ns - b->changed_ns > HEALTH_STALL_MS * NS_PER_MS)
			health_verdict_add(
			    v, HEALTH_DOWN,
			    "lcore stalled: lcore %u heartbeat unchanged for %" PRIu64 " ms",
			    l->lcore_id, (now_ns - b->changed_ns) / NS_PER_MS);
		if (l->ring_size != 0 && l->ring_used * 100 > l->ring_size * HEALTH_RING_HIGH_PCT)
			health_verdict_add(v, HEALTH_DEGRADED,
					   "ring occupancy high: lcore %u %" PRIu64 "/%" PRIu64
					   " (%" PRIu64 "%%)",
					   l->lcore_id, l->ring_used, l->ring_size,
					   l->ring_used * 100 / l->ring_size);
	}
	for (uint32_t i = 0; i < at_most(s->n_feeds, HEALTH_MAX_FEEDS); i++)
		if (s->feeds[i].recovery_open_ranges != 0)
			health_verdict_add(v, HEALTH_DEGRADED,
					   "recovering: feed %.*s, %" PRIu64
					   " ranges asked for, %" PRIu64 " packets held",
					   HEALTH_NAME, s->feeds[i].name,
					   s->feeds[i].recovery_open_ranges,
					   s->feeds[i].held_packets);
	for (uint32_t i = 0; i < at_most(s->n_ports, HEALTH_MAX_PORTS); i++)
		if (!s->ports[i].link_up)
			health_verdict_add(v, HEALTH_DEGRADED, "link down: port %.*s (%s)",
					   HEALTH_NAME, s->ports[i].name,
					   s->ports[i].is_rx ? "feed input" : "output");
}

/* Compare a counter with its previous sample; true while its rise is being held. */
static bool watch(struct health_watch *w, const char *name, uint64_t value, uint64_t now_ns)
{
	if (strncmp(w->name, name, HEALTH_NAME) != 0) {
		/* A new name at this slot: start tracking from here, no rise. */
		snprintf(w->name, sizeof(w->name), "%.*s", HEALTH_NAME - 1, name);
		w->value = value;
		w->rose_ns = 0;
		w->rise = 0;
		return false;
	}
	if (value > w->value) {
		if (w->rose_ns == 0 || now_ns - w->rose_ns > HEALTH_HOLD_MS * NS_PER_MS)
			w->rise = 0;
		w->rise += value - w->value;
		w->rose_ns = now_ns;
	}
	w->value = value;
	return w->rose_ns != 0 && now_ns - w->rose_ns <= HEALTH_HOLD_MS * NS_PER_MS;
}

void health_eval_counters(struct health_eval *e, const struct health_shm *s, uint64_t now_ns,
			  bool (*benign)(void *arg, const char *reason), void *arg,
			  struct health_verdict *v)
{
	for (uint32_t i = 0; i < at_most(s->n_ports, HEALTH_MAX_PORTS); i++)
		if (watch(&e->missed[i], s->ports[i].name, s->ports[i].missed, now_ns))
			health_verdict_add(v, HEALTH_DEGRADED,
					   "drops rising: port %.*s missed +%" PRIu64, HEALTH_NAME,
					   s->ports[i].name, e->missed[i].rise);
	for (uint32_t i = 0; i < at_most(s->n_drops, HEALTH_MAX_DROPS); i++) {
		char name[HEALTH_NAME + 1];

		snprintf(name, sizeof(name), "%.*s", HEALTH_NAME, s->drops[i].name);
		if (watch(&e->drops[i], name, s->drops[i].value, now_ns) && !benign(arg, name))
			health_verdict_add(v, HEALTH_DEGRADED, "drops rising: %s +%" PRIu64, name,
					   e->drops[i].rise);
	}
	for (uint32_t i = 0; i < at_most(s->n_feeds, HEALTH_MAX_FEEDS); i++)
		if (watch(&e->gaps[i], s->feeds[i].name, s->feeds[i].c.gaps, now_ns))
			health_verdict_add(v, HEALTH_DEGRADED, "gaps rising: feed %.*s +%" PRIu64,
					   HEALTH_NAME, s->feeds[i].name, e->gaps[i].rise);
	for (uint32_t i = 0; i < at_most(s->n_feeds, HEALTH_MAX_FEEDS); i++)
		if (watch(&e->recovery_gaps[i], s->feeds[i].name, s->feeds[i].c.recovery_gaps,
			  now_ns))
			health_verdict_add(
			    v, HEALTH_DEGRADED,
			    "recovery failed: feed %.*s, +%" PRIu64
			    " ranges declared gaps after every request went unanswered",
			    HEALTH_NAME, s->feeds[i].name, e->recovery_gaps[i].rise);
	for (uint32_t i = 0; e->subs != NULL && i < at_most(s->n_subs, HEALTH_MAX_SUBS); i++)
		if (watch(&e->subs[i], s->subs[i].name, s->subs[i].c.dropped, now_ns))
			health_verdict_add(v, HEALTH_DEGRADED,
					   "drops rising: subscriber %.*s dropped +%" PRIu64,
					   HEALTH_NAME, s->subs[i].name, e->subs[i].rise);
}
