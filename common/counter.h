/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every per-feed and per-subscriber counter, defined once (docs/protocol.md §3.7, §5).
 * Each list entry is X(name, help): `name` is the struct field and the key in
 * stats.json, DPDK telemetry (/aster/feed, /aster/subscriber) and the health segment
 * (common/health_shm.h); aster-control exports it to Prometheus as
 * aster_feed_<name>_total or aster_subscriber_<name>_total with `help` as its HELP
 * line. Adding a counter to a list is all it takes to carry it everywhere; the
 * dataplane's drop reasons have their own list (dataplane/stats.h, STATS_DROP_LIST).
 *
 * Also the single-writer counter primitive: a counter is written by one thread only (a
 * polling lcore), and read by others (control thread, telemetry, main lcore).
 */
#ifndef ASTER_COUNTER_H
#define ASTER_COUNTER_H

#include <stdint.h>

/* Per feed, written by the feed's RX stage (dataplane/rx.h, struct rx_feed). */
#define COUNTER_FEED_RX(X)                                                                         \
	X(packets, "Feed packets received on any of its lines")                                    \
	X(malformed,                                                                               \
	  "Feed packets dropped whole: MoldUDP64 or ITCH framing invalid (docs/protocol.md 3.2)")

/* Per feed, written by the feed's arbiter (dataplane/arbiter.h, struct arbiter_counters). */
#define COUNTER_ARBITER(X)                                                                         \
	X(messages, "Feed messages delivered in order")                                            \
	X(duplicates, "Feed messages already delivered (other line, overlap)")                     \
	X(late, "Feed messages arriving after their gap was declared")                             \
	X(gaps, "Gap events (docs/protocol.md 3.3)")                                               \
	X(gap_messages, "Sequence numbers never received")                                         \
	X(stale_session, "Feed packets of a session already finished")                             \
	X(sessions, "Feed sessions (streams) started")                                             \
	X(held, "Feed packets that waited in the hold queue for a missing range")                  \
	X(hold_overflow, "Gaps declared because the hold queue was full")                          \
	X(hold_timeout, "Gaps declared because a hold timed out (live mode)")                      \
	X(implausible, "Feed packets refused: an unconfirmed jump far ahead of the feed")          \
	X(recovered, "Feed messages delivered from recovery answers (docs/protocol.md 6.3)")

/* Every per-feed counter. */
#define COUNTER_FEED(X) COUNTER_FEED_RX(X) COUNTER_ARBITER(X)

/* Per subscriber: messages and packets written by the RX lcore that frames its stream,
 * drops by whichever lcore dropped them (summed over lcores when read). */
#define COUNTER_SUB(X)                                                                             \
	X(messages, "Messages sent to the subscriber")                                             \
	X(packets, "Packets sent to the subscriber")                                               \
	X(dropped, "Messages due to the subscriber but not sent")

#define COUNTER_FIELD(name, help) uint64_t name;

/* One feed's counters, summed from where they are written. */
struct counter_feed {
	COUNTER_FEED(COUNTER_FIELD)
};

/* One subscriber's counters (a per-lcore block, or their sum). */
struct counter_sub {
	COUNTER_SUB(COUNTER_FIELD)
};

/*
 * Single-writer bump: a plain add by the only writing thread, published with a relaxed
 * atomic store, so that a reader on another thread (counter_read) is well defined and
 * never sees a torn value. On x86-64 it is the same load, add and store as `+=`.
 */
static inline void counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* A counter written by another thread: relaxed, possibly slightly stale. */
static inline uint64_t counter_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif
