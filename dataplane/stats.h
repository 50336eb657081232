/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters (docs/protocol.md §3.7, §5). Every packet or message that is not delivered is counted
 * under one named reason. Counter blocks are per lcore and cache aligned, written only
 * by their lcore (counter_add); readers (stats.json, telemetry, the health segment) sum
 * them with counter_read and accept a slightly stale view.
 */
#ifndef ASTER_STATS_H
#define ASTER_STATS_H

#include <stdint.h>

#include <rte_common.h>

#include "../common/counter.h"

/* Reasons a packet (P) or a message (M) is not delivered. Names appear in stats.json. */
#define STATS_DROP_LIST(X)                                                                         \
	X(RUNT, "runt")			    /* P: frame shorter than its headers */                \
	X(NOT_IPV4, "not_ipv4")		    /* P: EtherType not IPv4 */                            \
	X(VLAN_STACKED, "vlan_stacked")	    /* P: more than one 802.1Q tag */                      \
	X(IP_HEADER, "ip_header")	    /* P: bad IPv4 version, IHL or total length */         \
	X(IP_FRAGMENT, "ip_fragment")	    /* P: IPv4 fragment */                                 \
	X(NOT_UDP, "not_udp")		    /* P: IPv4 protocol not UDP */                         \
	X(UDP_LENGTH, "udp_length")	    /* P: UDP length inconsistent with IPv4 */             \
	X(NO_FEED, "no_feed")		    /* P: destination matches no feed line */              \
	X(FOREIGN_FEED, "foreign_feed")	    /* P: feed owned by another RX lcore */                \
	X(MULTI_SEGMENT, "multi_segment")   /* P: frame spans several mbufs */                     \
	X(MALFORMED, "malformed")	    /* P: MoldUDP64/ITCH framing invalid (§3.2) */        \
	X(STALE_SESSION, "stale_session")   /* P: packet of a finished session */                  \
	X(DUPLICATE, "duplicate")	    /* M: already delivered (other line, overlap) */       \
	X(LATE, "late")			    /* M: arrived after its gap was declared */            \
	X(SHORT_MESSAGE, "short_message")   /* M: shorter than type + locate */                    \
	X(UNBOUND_LOCATE, "unbound_locate") /* M: locate has no symbol yet (§3.4) */              \
	X(NO_SUBSCRIBER, "no_subscriber")   /* M: matched no subscriber */                         \
	X(TOO_LARGE, "too_large")	    /* M: larger than a subscriber's max_payload */        \
	X(NO_MBUF, "no_mbuf")		    /* M: output buffer pool empty */                      \
	X(RING_FULL, "ring_full")	    /* M: RX->TX ring full (live mode only) */             \
	X(TX_FULL, "tx_full")		    /* M: NIC TX queue full (live mode only) */            \
	X(IGMP, "igmp")			/* P: IGMP query or report (mcast.c answers queries) */    \
	X(BAD_CHECKSUM, "bad_checksum") /* P: NIC flagged a bad IPv4/UDP checksum (offload) */     \
	X(FEED_REMOVED, "feed_removed") /* M: held by a feed when a table removed it */

enum stats_drop {
	DROP_NONE = 0,
#define X(id, name) DROP_##id,
	STATS_DROP_LIST(X)
#undef X
	    DROP__MAX
};

extern const char *const stats_drop_name[DROP__MAX];

#define STATS_MAX_PORTS 64

/* One per lcore, cache aligned, written only by that lcore. */
struct stats_block {
	uint64_t drops[DROP__MAX];
	uint64_t rx_packets[STATS_MAX_PORTS];	   /* frames taken from each RX port */
	uint64_t tx_packets[STATS_MAX_PORTS];	   /* frames accepted by each TX port */
	uint64_t ring_enqueued;			   /* packets handed to TX lcores */
	uint64_t ring_dequeued;			   /* packets taken from rings (TX lcores) */
	uint64_t tx_done;			   /* packets sent or dropped by TX lcores */
	uint64_t iterations;			   /* polling loop turns: a heartbeat */
	uint64_t igmp_queries;			   /* IGMP queries received (also in drops.igmp) */
	struct counter_port port[STATS_MAX_PORTS]; /* requests, ARP, control frames, per port */
	uint32_t n_subs;
	struct counter_sub
	    *subs; /* [n_subs]: RX: messages, packets, RX-side drops; TX: TX-side drops */
} __rte_cache_aligned;

struct stats_block *stats_block_create(uint32_t n_subs);
void stats_block_free(struct stats_block *b);

#endif
