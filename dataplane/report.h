/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the dataplane reports about itself (report.c): the stats.json object
 * (docs/protocol.md §5) that replay writes and the control socket's STATUS returns, and
 * the DPDK telemetry commands under /aster/ that dpdk-telemetry.py reads while it runs
 * (docs/architecture.md, "Counters and observability"). Sums of the per-lcore counter
 * blocks and the feeds' counters, read through the table's and the lcore map's read
 * APIs; never on a polling core.
 */
#ifndef ASTER_REPORT_H
#define ASTER_REPORT_H

#include <jansson.h>

struct lcore_map;
struct table;

/* feeds, subscribers and drops (docs/protocol.md §5), lcores and latency, from the
 * table in force: the caller is the table thread or holds the table lock. A new
 * reference, or NULL when out of memory. */
json_t *report_json(const struct table *t, const struct lcore_map *m);

/* Register the /aster/ telemetry commands once after EAL init; attach the running table
 * and map, detach before freeing them. */
int report_telemetry_register(void);
void report_telemetry_attach(struct table *t, const struct lcore_map *m);
void report_telemetry_detach(void);

#endif
