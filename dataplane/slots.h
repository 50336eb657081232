/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stable slot numbers of feeds and subscribers across routing-table versions
 * (docs/architecture.md, "Routing-state updates"). The RX lcores keep a feed's runtime
 * (arbiter, locate bindings) and a subscriber's stream (sequence numbers, open frame)
 * in a slot; a new table keeps the slot of everything that stays the same, so a table
 * change never resets a stream that did not change:
 *  - a feed keeps its slot while its name and lines (group, port, in order) stay;
 *  - a subscriber keeps its slot while its output stream stays: name, port (name,
 *    source address), destination, session and max_payload, and its feed keeps its
 *    slot. Patterns and types may change: they only change what the stream carries.
 * Everything else gets a slot free in both tables: the old table's slots stay in use
 * until the new one is published and every RX lcore has let go of the old one.
 *
 * Pure bookkeeping over routing configurations: no EAL, unit-tested
 * (tests/unit/test_slots.c). Used by the table thread only (dataplane/table.c).
 */
#ifndef ASTER_SLOTS_H
#define ASTER_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "router.h"

#include "../common/routing_config.h"

/* The numbering of the table in force. */
struct slots {
	uint32_t max_subs;			  /* subscriber slots: 0 .. max_subs - 1 */
	uint8_t feed_used[ROUTER_MAX_FEED_SLOTS]; /* by the table in force */
	uint8_t *sub_used;			  /* [max_subs] */
	uint32_t *feed_slot;			  /* [n_feeds of the table in force] */
	uint32_t *sub_slot;			  /* [n_subs of the table in force] */
};

/* The numbering of a table about to replace it, and what changes. */
struct slots_plan {
	uint32_t *feed_slot;			   /* [next n_feeds] */
	uint32_t *sub_slot;			   /* [next n_subs] */
	uint8_t feed_taken[ROUTER_MAX_FEED_SLOTS]; /* used by the next table */
	uint8_t feed_new[ROUTER_MAX_FEED_SLOTS];   /* ... and not by the table in force */
	uint8_t *sub_taken;			   /* [max_subs] */
	uint8_t *sub_new;			   /* [max_subs] */
	uint32_t feeds_added, feeds_removed, subs_added, subs_removed;
};

/* An empty numbering (no table yet). 0 or -ENOMEM. */
int slots_init(struct slots *s, uint32_t max_subs);
void slots_fini(struct slots *s);

/*
 * Number `next` against `cur`, the numbering of `old` (the table in force, NULL when
 * none). 0, or -ENOSPC (no free slot: one line in `err` naming the table) or -ENOMEM;
 * on error `p` holds nothing to free.
 */
int slots_plan(const struct slots *cur, const struct routing_config *old,
	       const struct routing_config *next, struct slots_plan *p, char *err, size_t errlen);
void slots_plan_free(struct slots_plan *p);

/* Slot k held a feed (subscriber) of the table in force that the plan drops. */
static inline int slots_feed_removed(const struct slots *cur, const struct slots_plan *p,
				     uint32_t k)
{
	return cur->feed_used[k] && !p->feed_taken[k];
}

static inline int slots_sub_removed(const struct slots *cur, const struct slots_plan *p, uint32_t k)
{
	return cur->sub_used[k] && !p->sub_taken[k];
}

/* The plan's table is in force now: `cur` takes over its numbering; `p` is emptied. */
void slots_commit(struct slots *cur, struct slots_plan *p);

#endif
