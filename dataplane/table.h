/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table in force in the dataplane (table.c): how a new one is applied while
 * the lcores run, and the read API every other module uses to see it (stats.c,
 * ctl.c, health_writer.c, mcast.c, replay.c). docs/architecture.md, "Routing-state
 * updates".
 *
 * Applying a table: validate it against the ports and slots, build its rule set off
 * the polling cores (or take the one built before EAL started), number its feeds and
 * subscribers (slots.h: unchanged ones keep their slot, so their arbiter, locate
 * bindings and output sequence numbers carry over), create the runtimes of new feeds
 * and streams in their RX lcore's slots, publish the rule set with one pointer swap
 * (lcore_map_publish: returns once every RX lcore was quiescent), then free what only
 * the old table used and make the new one the table in force.
 *
 * Threads: one thread applies tables (the table thread: the main lcore at start-up,
 * then the live control thread); it reads everything freely. The table in force, its
 * names and slots change only under the table lock, which any other thread (DPDK
 * telemetry, the main lcore in replay) holds while it reads through this API.
 */
#ifndef ASTER_TABLE_H
#define ASTER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lcore.h"
#include "router.h"
#include "rx.h"

#include "../common/counter.h"
#include "../common/routing_config.h"

struct table;

/* Build (and so validate) the rule set of `cfg` for `n_scratch` RX lcores without a
 * table: before EAL starts, so a bad table is reported before any port starts. */
struct router_state *table_prebuild(const struct routing_config *cfg, uint32_t n_scratch, char *err,
				    size_t errlen);

/* No table in force yet; `prebuilt` (may be NULL) is used by the first apply. NULL and
 * errno when out of memory. */
struct table *table_create(struct lcore_map *map, uint32_t max_subs, struct router_state *prebuilt);
/* The lcores no longer run: the table in force and the bookkeeping. The feeds' runtimes
 * belong to their RX lcores (lcore_map_free). */
void table_free(struct table *t);

struct table_apply_result {
	uint64_t build_ns;   /* rule set built: Hyperscan compile, tables */
	uint64_t publish_ns; /* pointer swap until every RX lcore was quiescent */
	uint32_t feeds_added, feeds_removed, subs_added, subs_removed;
	uint32_t regex_reused; /* feeds whose Hyperscan database was kept (no compile) */
};

/*
 * Make `cfg` the table in force, version `version` (0: a local file), while the lcores
 * run or before they start. Takes ownership of `cfg` on success. `dry_run` builds and
 * validates only. 0, or -errno with one line in `err`; on error nothing changed.
 */
int table_apply(struct table *t, struct routing_config *cfg, uint64_t version, bool dry_run,
		struct table_apply_result *res, char *err, size_t errlen);

struct rd_op;

/*
 * Change the table in force by `n` operations (common/routing_delta.h), making it
 * version `version` (docs/control.md, "Changes as deltas"): refused with -ESTALE unless
 * the table in force is `base`. Builds only what the change touches (router_state_change:
 * the matcher pieces of the touched feeds, the decisions of the symbols it can affect);
 * subscribers keep their slots as table_apply would number them. All or nothing: on
 * error, or for a dry run, the table in force is as it was. 0, or -errno with one line
 * in `err`.
 */
int table_apply_delta(struct table *t, const struct rd_op *ops, uint32_t n, uint64_t base,
		      uint64_t version, bool dry_run, struct table_apply_result *res, char *err,
		      size_t errlen);

/*
 * Swap in the background recompiles that finished (router_state_fold): the same rules,
 * the same generation, so no locate cache goes stale. 1 when one was published, 0 when
 * none had finished, -errno when the new state could not be built (the one in force
 * stays; the next call tries again).
 */
int table_fold(struct table *t);

/* --- read API --- */
void table_lock(struct table *t);
void table_unlock(struct table *t);
/* The table in force (never NULL once the first apply succeeded). */
const struct routing_config *table_config(const struct table *t);
uint64_t table_version(const struct table *t);	  /* control plane's number, 0 = file */
uint64_t table_generation(const struct table *t); /* router_state.version in force */
/* Counters of feed / subscriber `i` (index in table_config). A subscriber's count
 * starts from zero when its slot is reused. */
void table_feed_counters(const struct table *t, uint32_t i, struct counter_feed *c);
void table_sub_counters(const struct table *t, uint32_t i, struct counter_sub *c);
/* Feed `i`'s upstream recovery now: ranges open, packets held (docs/protocol.md §6.3). */
void table_feed_recovering(const struct table *t, uint32_t i, uint32_t *ranges, uint32_t *held);
/* Frames received on line `line` of feed `i`. */
uint64_t table_line_packets(const struct table *t, uint32_t i, uint8_t line);
/* Counters of line `line` of feed `i` (common/counter.h, COUNTER_LINE). */
void table_line_counters(const struct table *t, uint32_t i, uint8_t line, struct counter_line *c);
/* From which (session, sequence) on feed `i` was routed by which table version: the
 * last `max` entries, oldest first. */
uint32_t table_feed_log(const struct table *t, uint32_t i, struct rx_feed_log *out, uint32_t max);
/* Drops by reason, the arbiters' (duplicate, late, stale_session) included. */
void table_drops(const struct table *t, uint64_t drops[DROP__MAX]);

#endif
