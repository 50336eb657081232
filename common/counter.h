/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every per-feed, per-subscriber and per-port counter, defined once (docs/protocol.md
 * §3.7, §5, §6).
 * Each list entry is X(name, help): `name` is the struct field and the key in
 * stats.json, DPDK telemetry (/aster/feed, /aster/subscriber, /aster/port) and the
 * health segment (common/health_shm.h); aster-control exports it to Prometheus as
 * aster_feed_<name>_total, aster_subscriber_<name>_total or aster_port_<name>_total
 * with `help` as its HELP line. Adding a counter to a list is all it takes to carry it
 * everywhere; the dataplane's drop reasons have their own list (dataplane/stats.h,
 * STATS_DROP_LIST).
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
	  "Feed packets dropped whole: MoldUDP64 or ITCH framing invalid (docs/protocol.md 3.2)")  \
	X(recovery_requests,                                                                       \
	  "Re-requests sent to the feed's recovery server (docs/protocol.md 6.3)")                 \
	X(recovery_unsent,                                                                         \
	  "Re-requests not sent (no buffer, TX queue full): asked again after timeout_us")

/*
 * Per feed, written by the feed's upstream recovery (dataplane/recovery.h, struct
 * recovery_counters; docs/protocol.md §6.3). Zero for a feed without `recovery`.
 */
#define COUNTER_RECOVERY(X)                                                                        \
	X(recovery_resends, "Re-requests sent again after timeout_us without progress")            \
	X(recovery_gaps, "Ranges declared gaps after recovery failed (tries requests unanswered)") \
	X(recovery_gap_messages,                                                                   \
	  "Sequence numbers in the ranges declared gaps after recovery failed")                    \
	X(recovery_abandoned, "Open recovery ranges abandoned by a new session")                   \
	X(recovery_merged, "Missing ranges merged into the last open one (more than 64 open)")     \
	X(recovery_answers, "Answers of the recovery server taken as one more line of the feed")   \
	X(answer_foreign, "Answers dropped: not from the recovery server's address and port")      \
	X(answer_session, "Answers dropped: not of the feed's current session")                    \
	X(answer_unrequested, "Answers dropped: no data, or sequences nobody asked for")

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
#define COUNTER_FEED(X) COUNTER_FEED_RX(X) COUNTER_ARBITER(X) COUNTER_RECOVERY(X)

/*
 * Per line of a feed (docs/protocol.md §3.3), for the feed's RX stage (packets) and its
 * arbiter (won, lost, struct arbiter_line). Exported nested in the feed's object
 * ("lines": {NAME: {...}}), in telemetry as line_NAME, and to Prometheus as
 * aster_line_<name>_total labelled by feed and line. Over a feed's lines, won sums to
 * `messages - recovered` and lost to the duplicates its lines carried (duplicates also
 * counts those of recovery answers). A line that never wins while another does is
 * probably down.
 */
#define COUNTER_LINE_RX(X) X(packets, "Feed packets received on the line")
#define COUNTER_LINE_ARBITER(X)                                                                    \
	X(won, "Feed messages delivered from the line: it carried them first")                     \
	X(lost, "Feed messages the line carried after another line had delivered them")
#define COUNTER_LINE(X) COUNTER_LINE_RX(X) COUNTER_LINE_ARBITER(X)

#define COUNTER_MAX_LINES 8 /* a feed's lines at most (routing_config.h, RC_MAX_LINES) */

/*
 * Per subscriber: messages, packets, heartbeats and end-of-session packets written by
 * the RX lcore that frames its stream, retransmissions (docs/protocol.md §6.2) by the TX
 * lcore that serves its port, drops by whichever lcore dropped them (summed over
 * lcores when read): `dropped` is their total, `dropped_<reason>` each reason of it
 * (the reasons of dataplane/stats.h that concern one subscriber's messages).
 */
#define COUNTER_SUB(X)                                                                             \
	X(messages, "Messages sent to the subscriber")                                             \
	X(packets, "Packets sent to the subscriber")                                               \
	X(dropped, "Messages due to the subscriber but not sent")                                  \
	X(dropped_ring_full, "Messages dropped: the RX->TX ring was full (live mode)")             \
	X(dropped_tx_full, "Messages dropped: the output port's TX queue refused the frame")       \
	X(dropped_too_large, "Messages dropped: larger than the subscriber's max_payload")         \
	X(dropped_no_mbuf, "Messages dropped: no output buffer")                                   \
	X(heartbeats, "Heartbeats sent to the subscriber (docs/protocol.md 6.1)")                  \
	X(end_of_session, "End-of-session packets sent to the subscriber at shutdown (6.1)")       \
	X(retransmit_requests, "Retransmission requests served (docs/protocol.md 6.2)")            \
	X(retransmit_packets, "Packets retransmitted to the subscriber")                           \
	X(retransmit_messages, "Messages retransmitted to the subscriber")                         \
	X(retransmit_unavailable,                                                                  \
	  "Messages asked for but older than the history, not sent yet, or history 0")             \
	X(retransmit_rate_limited, "Messages asked for over the port's retransmit.rate")           \
	X(retransmit_cut, "Messages asked for beyond one answer's packets (the client asks "       \
			  "again)")

/*
 * Per port (docs/protocol.md §6.2, §6.3), written by the lcore that owns the queue:
 * requests that serve no subscriber and answers on an output port with `retransmit`
 * (its TX lcore), ARP for the port's address (either), frames the control thread
 * handed to an input port's RX lcore (IGMP).
 */
#define COUNTER_PORT(X)                                                                            \
	X(request_short, "Requests dropped: shorter than 20 bytes")                                \
	X(request_long, "Requests dropped: longer than 20 bytes")                                  \
	X(request_count_zero, "Requests dropped: count 0")                                         \
	X(request_count_end, "Requests dropped: count 0xFFFF (end of session)")                    \
	X(request_seq_zero, "Requests dropped: sequence 0")                                        \
	X(request_unknown_session, "Requests dropped: no subscriber of the port has the session")  \
	X(request_wrong_source, "Requests dropped: not from the subscriber's dst.ip")              \
	X(arp_replies, "ARP requests for the port's address answered")                             \
	X(answers_unsent, "Answer or ARP reply frames not sent: no buffer or TX queue full")       \
	X(ctl_unsent, "Control frames (IGMP) the port's RX lcore could not send")

#define COUNTER_FIELD(name, help) uint64_t name;

/* One feed's counters, summed from where they are written. */
struct counter_feed {
	COUNTER_FEED(COUNTER_FIELD)
};

/* One line's counters. */
struct counter_line {
	COUNTER_LINE(COUNTER_FIELD)
};

/* One subscriber's counters (a per-lcore block, or their sum). */
struct counter_sub {
	COUNTER_SUB(COUNTER_FIELD)
};

/* One port's counters (a per-lcore block, or their sum). */
struct counter_port {
	COUNTER_PORT(COUNTER_FIELD)
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
