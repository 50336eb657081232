/* SPDX-License-Identifier: BSD-3-Clause */
/* Slot numbering across routing-table versions: see slots.h for the rules. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"

int slots_init(struct slots *s, uint32_t max_subs)
{
	memset(s, 0, sizeof(*s));
	s->max_subs = max_subs;
	s->sub_used = calloc(max_subs ? max_subs : 1, 1);
	return s->sub_used != NULL ? 0 : -ENOMEM;
}

void slots_fini(struct slots *s)
{
	free(s->sub_used);
	free(s->feed_slot);
	free(s->sub_slot);
	memset(s, 0, sizeof(*s));
}

static bool same_lines(const struct rc_feed *a, const struct rc_feed *b)
{
	if (a->n_lines != b->n_lines)
		return false;
	for (uint16_t l = 0; l < a->n_lines; l++)
		if (a->lines[l].group != b->lines[l].group || a->lines[l].port != b->lines[l].port)
			return false;
	return true;
}

/* Same output stream: everything that shapes the subscriber's frames (slots.h). */
static bool same_stream(const struct routing_config *ca, const struct rc_subscriber *a,
			const struct routing_config *cb, const struct rc_subscriber *b)
{
	return strcmp(a->name, b->name) == 0 &&
	       strcmp(ca->ports[a->port].name, cb->ports[b->port].name) == 0 &&
	       ca->ports[a->port].src_ip == cb->ports[b->port].src_ip &&
	       ca->ports[a->port].src_port == cb->ports[b->port].src_port &&
	       memcmp(a->dst_mac, b->dst_mac, 6) == 0 && a->dst_ip == b->dst_ip &&
	       a->dst_port == b->dst_port && strcmp(a->session, b->session) == 0 &&
	       a->max_payload == b->max_payload;
}

/* The slot `f` of `next` keeps from `old`, or -1. */
static int kept_feed(const struct slots *cur, const struct routing_config *old,
		     const struct rc_feed *f)
{
	for (uint32_t o = 0; old != NULL && o < old->n_feeds; o++)
		if (strcmp(old->feeds[o].name, f->name) == 0 && same_lines(&old->feeds[o], f))
			return (int)cur->feed_slot[o];
	return -1;
}

static int kept_sub(const struct slots *cur, const struct routing_config *old,
		    const struct routing_config *next, const struct slots_plan *p, uint32_t s)
{
	const struct rc_subscriber *sub = &next->subs[s];

	for (uint32_t o = 0; old != NULL && o < old->n_subs; o++)
		if (same_stream(old, &old->subs[o], next, sub) &&
		    cur->feed_slot[old->subs[o].feed] == p->feed_slot[sub->feed])
			return (int)cur->sub_slot[o];
	return -1;
}

/* The first slot free in both tables, marked new; -1 when there is none. */
static int fresh(const uint8_t *used, uint8_t *taken, uint8_t *is_new, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (!used[k] && !taken[k]) {
			is_new[k] = 1;
			return (int)k;
		}
	return -1;
}

static int plan_feeds(const struct slots *cur, const struct routing_config *old,
		      const struct routing_config *next, struct slots_plan *p, char *err,
		      size_t errlen)
{
	for (uint32_t f = 0; f < next->n_feeds; f++) {
		int slot = kept_feed(cur, old, &next->feeds[f]);

		if (slot < 0)
			slot = fresh(cur->feed_used, p->feed_taken, p->feed_new,
				     ROUTER_MAX_FEED_SLOTS);
		if (slot < 0) {
			snprintf(err, errlen,
				 "%s: feeds: no free feed slot (%d at most, old ones are freed "
				 "after the swap)",
				 next->path, ROUTER_MAX_FEED_SLOTS);
			return -ENOSPC;
		}
		p->feed_taken[slot] = 1;
		p->feed_slot[f] = (uint32_t)slot;
		p->feeds_added += p->feed_new[slot];
	}
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		p->feeds_removed += (uint32_t)slots_feed_removed(cur, p, k);
	return 0;
}

static int plan_subs(const struct slots *cur, const struct routing_config *old,
		     const struct routing_config *next, struct slots_plan *p, char *err,
		     size_t errlen)
{
	for (uint32_t s = 0; s < next->n_subs; s++) {
		int slot = kept_sub(cur, old, next, p, s);

		if (slot < 0)
			slot = fresh(cur->sub_used, p->sub_taken, p->sub_new, cur->max_subs);
		if (slot < 0) {
			snprintf(err, errlen,
				 "%s: subscribers: no free subscriber slot (max_subscribers %u; "
				 "old ones are freed after the swap)",
				 next->path, cur->max_subs);
			return -ENOSPC;
		}
		p->sub_taken[slot] = 1;
		p->sub_slot[s] = (uint32_t)slot;
		p->subs_added += p->sub_new[slot];
	}
	for (uint32_t k = 0; k < cur->max_subs; k++)
		p->subs_removed += (uint32_t)slots_sub_removed(cur, p, k);
	return 0;
}

int slots_plan(const struct slots *cur, const struct routing_config *old,
	       const struct routing_config *next, struct slots_plan *p, char *err, size_t errlen)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->feed_slot = calloc(next->n_feeds ? next->n_feeds : 1, sizeof(*p->feed_slot));
	p->sub_slot = calloc(next->n_subs ? next->n_subs : 1, sizeof(*p->sub_slot));
	p->sub_taken = calloc(cur->max_subs ? cur->max_subs : 1, 1);
	p->sub_new = calloc(cur->max_subs ? cur->max_subs : 1, 1);
	if (!p->feed_slot || !p->sub_slot || !p->sub_taken || !p->sub_new) {
		snprintf(err, errlen, "%s: out of memory numbering the table", next->path);
		rc = -ENOMEM;
		goto fail;
	}
	rc = plan_feeds(cur, old, next, p, err, errlen);
	if (rc == 0)
		rc = plan_subs(cur, old, next, p, err, errlen);
	if (rc == 0)
		return 0;
fail:
	slots_plan_free(p);
	return rc;
}

void slots_plan_free(struct slots_plan *p)
{
	free(p->feed_slot);
	free(p->sub_slot);
	free(p->sub_taken);
	free(p->sub_new);
	memset(p, 0, sizeof(*p));
}

void slots_commit(struct slots *cur, struct slots_plan *p)
{
	memcpy(cur->feed_used, p->feed_taken, sizeof(cur->feed_used));
	memcpy(cur->sub_used, p->sub_taken, cur->max_subs);
	free(cur->feed_slot);
	free(cur->sub_slot);
	cur->feed_slot = p->feed_slot;
	cur->sub_slot = p->sub_slot;
	p->feed_slot = NULL;
	p->sub_slot = NULL;
	slots_plan_free(p);
}
