/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The health segment's writer (live mode): a memory-mapped file (common/health_shm.h)
 * that aster-control maps read-only, rewritten from the dataplane's counters every
 * HEALTH_PERIOD_MS by the control thread (never by a polling core), and the DPDK
 * telemetry command /aster/health, which applies the health model's rules the dataplane
 * can apply to itself (common/health_eval.h: stalled lcores, full rings, links down) to
 * its own segment. docs/control.md, "Health model".
 *
 * Threads: health_writer_update runs on one thread (the control thread), the only
 * writer of the segment; /aster/health runs on DPDK's telemetry thread and reads the
 * segment under a lock health_writer_update holds while rewriting it.
 */
#ifndef ASTER_HEALTH_WRITER_H
#define ASTER_HEALTH_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct health_writer;
struct lcore_map;
struct table;

/* Create (or truncate) `path`, write its first contents and serve /aster/health. NULL
 * with one line in `err`. */
struct health_writer *health_writer_create(struct table *t, const struct lcore_map *m,
					   const char *path, uint64_t boot_id, char *err,
					   size_t errlen);
/* Rewrite the segment now (every HEALTH_PERIOD_MS). `t` is read as its table thread. */
void health_writer_update(struct health_writer *w);
/* Stop serving /aster/health and unmap the segment (the file stays, stale). */
void health_writer_free(struct health_writer *w);

#endif
