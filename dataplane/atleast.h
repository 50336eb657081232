/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The at-least-once part of applying a routing table in live mode (docs/protocol.md §6,
 * docs/at-least-once.md): what table.c hands to the RX and TX lcores besides the rule
 * set. Per subscriber, its history (sized from `history`, within the profile's
 * history_mb) and heartbeat period; per output port with `retransmit`, the server the
 * port's TX lcore runs (retransmit.h); per feed, its upstream recovery settings.
 *
 * A table is applied in four steps around table.c's own (table_apply):
 *   atleast_check    the table alone: recovery sources, history memory;
 *   atleast_prepare  after the slots are planned: everything that can fail is
 *                    allocated now (histories, servers), so nothing changed on failure;
 *   atleast_commit   before the publish: the lcores get what they will use;
 *   atleast_release  after the publish (every RX and TX lcore was quiescent since):
 *                    what the old table alone used is freed.
 * Replay (lcore policy without at_least_once) does none of it: its outputs stay those
 * of §3. Table thread only.
 */
#ifndef ASTER_ATLEAST_H
#define ASTER_ATLEAST_H

#include <stddef.h>
#include <stdint.h>

#include "lcore.h"
#include "slots.h"

#include "../common/routing_config.h"

struct atleast;

/* NULL when out of memory. */
struct atleast *atleast_create(struct lcore_map *map, uint32_t max_subs);
/* The lcores stopped: every history and server. */
void atleast_free(struct atleast *a);

/* 0, or -EINVAL / -ENOSPC with one line in `err` (docs/protocol.md §6.2, §6.3). */
int atleast_check(struct atleast *a, const struct routing_config *cfg, char *err, size_t errlen);
/* 0, or -errno with one line in `err`; nothing is left allocated on failure. */
int atleast_prepare(struct atleast *a, const struct routing_config *cfg, const struct slots_plan *p,
		    char *err, size_t errlen);
/* What atleast_prepare allocated, when the apply stops before atleast_commit. */
void atleast_abort(struct atleast *a);
/* `cur`: the numbering of the table in force (before slots_commit). */
void atleast_commit(struct atleast *a, const struct routing_config *cfg, const struct slots_plan *p,
		    const struct slots *cur);
void atleast_release(struct atleast *a);

/* Bytes of history the table in force keeps, and for how many subscribers. */
uint64_t atleast_history_bytes(const struct atleast *a, uint32_t *n_subs);

#endif
