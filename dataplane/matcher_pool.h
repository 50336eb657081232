/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The compile workers: threads that run Hyperscan compiles off the control thread and
 * never on a polling lcore (docs/architecture.md, "Compiles and the compile cache").
 *
 * Two kinds of work:
 *  - a batch (matcher_pool_run): the shards of one full build, compiled in parallel;
 *    the caller waits, and runs queued jobs of its own batch itself meanwhile, so a
 *    batch progresses even while every worker is busy with background work;
 *  - background jobs (matcher_pool_submit): the recompile of a shard touched by a
 *    change, whose result is swapped in later, run one at a time by one more thread at
 *    the lowest priority (SCHED_IDLE) so that they never delay a change. Their
 *    completion makes matcher_pool_event_fd() readable.
 *
 * The workers are created on first use, as many as the creating thread may run on
 * (its CPU affinity: the control-side cores, since the dataplane's control thread is
 * pinned off the polling lcores), unless matcher_pool_set_threads said otherwise.
 * Threads inherit that affinity. No EAL needed: unit tests use the same pool.
 */
#ifndef ASTER_MATCHER_POOL_H
#define ASTER_MATCHER_POOL_H

#include <stdint.h>

struct matcher_batch;

struct matcher_job {
	void (*run)(struct matcher_job *j);  /* on a worker, or on the batch's caller */
	void (*done)(struct matcher_job *j); /* background jobs: after run, may free j */
	struct matcher_batch *batch;	     /* set by matcher_pool_run */
	struct matcher_job *next;	     /* queue link, owned by the pool */
};

/* Workers to start at first use (0: one per CPU of the creating thread's affinity).
 * Takes effect only before the pool started. */
void matcher_pool_set_threads(uint32_t n);
/*
 * Move every worker onto the CPUs the calling thread may run on. The dataplane's control
 * thread calls it once the lcores run: a table built before EAL started compiled on
 * every CPU, the polling lcores' included; from then on compiles stay off them.
 */
void matcher_pool_pin_to_self(void);
/* Workers running (0 before first use). */
uint32_t matcher_pool_threads(void);

/* Run `n` jobs in parallel and return when all have run. Never fails: when no worker
 * can be started the caller runs them all. */
void matcher_pool_run(struct matcher_job **jobs, uint32_t n);

/* Queue one background job; its `done` runs on the worker right after `run`. */
void matcher_pool_submit(struct matcher_job *j);

/* Readable (eventfd) after a background job completed; -1 when none could be made.
 * matcher_pool_event_clear() consumes the notification. */
int matcher_pool_event_fd(void);
void matcher_pool_event_clear(void);

/* Background jobs queued or running (for tests and shutdown). */
uint32_t matcher_pool_pending(void);

#endif
