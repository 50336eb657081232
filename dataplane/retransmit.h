/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The retransmission server's decisions for one output port (docs/protocol.md §6.2),
 * over byte buffers: what arrives on a port with `retransmit` is an ARP request for the
 * port's `src_ip` (answered), a MoldUDP64 request to `src_ip:retransmit.port` (served
 * from the subscriber's history, within its token bucket), or something else (not this
 * module's: the caller counts it under the reasons of §3.1).
 *
 * A request is served when it parses (mold_request.h), names the `session` of a
 * subscriber of the port, and comes from that subscriber's `dst.ip`. The answer is
 * downstream MoldUDP64 packets unicast to the request's source MAC, IP and UDP port from
 * `src_ip:retransmit.port`, with the subscriber's session, carrying the stream's
 * messages from the requested sequence on as first sent (history_read), each packet at
 * most the subscriber's `max_payload`, in all at most the requested count and at most
 * what the token bucket grants. Messages asked for but older than the history, not sent
 * yet, or over the rate are not sent and are counted.
 *
 * Bounded work: one call handles one frame and writes at most `out->cap` answer frames
 * (a request that needs more gets a partial answer, as from any MoldUDP64 server whose
 * answers stop at a size: the client asks for the rest). Where it runs is the caller's
 * choice (docs/at-least-once.md: off the RX polling path); it reads histories that an
 * RX lcore writes, which history.h makes safe, and it is the only writer of the port's
 * buckets, hints and counters. ARP that is not a request for src_ip, and everything
 * else that is not a request to src_ip:retransmit.port, is RETRANSMIT_NOT_MINE: the
 * caller counts it under the reasons of §3.1.
 */
#ifndef ASTER_RETRANSMIT_H
#define ASTER_RETRANSMIT_H

#include <stdint.h>

#include "history.h"
#include "mold_request.h"
#include "token_bucket.h"

#include "../common/counter.h"

/* One subscriber of the port, as the serving lcore sees it. */
struct retransmit_sub {
	uint8_t session[10]; /* space padded, as on the wire */
	uint32_t dst_ip;     /* host order: the only address allowed to ask */
	uint16_t max_payload;
	struct history *hist;	     /* NULL or history 0: serves nothing */
	struct token_bucket *bucket; /* retransmit.rate; (re)set here when its rate differs */
	struct history_hint *hint;   /* where its last answer stopped (its next packet) */
	struct counter_sub *c;	     /* retransmit_* counters (common/counter.h) */
};

struct retransmit_port {
	uint8_t mac[6];	 /* the port's MAC, source of everything sent */
	uint32_t ip;	 /* src_ip, host order */
	uint16_t udp;	 /* retransmit.port, host order */
	uint16_t ip_id;	 /* of the frames sent */
	uint32_t rate;	 /* retransmit.rate: messages per second and subscriber */
	uint64_t tsc_hz; /* ticks per second of the times passed in */
	uint32_t n_subs;
	struct retransmit_sub *subs; /* the port's subscribers */
	struct counter_port *c;	     /* request_* and arp_replies (common/counter.h) */
};

/* Buffers for what one call sends: cap frames of frame_len bytes each (>= 64 and >=
 * FRAME_UDP_HDRS_LEN + the largest max_payload). On return n frames, len[i] bytes. */
struct retransmit_out {
	uint8_t **frames;
	uint32_t *len;
	uint32_t cap;
	uint32_t frame_len;
	uint32_t n;
};

enum retransmit_kind {
	RETRANSMIT_NOT_MINE = 0, /* neither ARP for src_ip nor a request to src_ip:port */
	RETRANSMIT_ARP,		 /* an ARP request for src_ip: answered (out->n 1) */
	RETRANSMIT_REQUEST,	 /* a request: answered (out->n >= 1) or dropped, counted */
};

/*
 * A subscriber's bucket: `rate` messages per second, a depth of a tenth of a second's
 * worth (at least one message), full at `now_tsc`. retransmit_frame calls it when a
 * bucket's rate is not the port's (a new subscriber's zeroed bucket, a new rate).
 */
void retransmit_bucket_start(struct token_bucket *b, uint32_t rate, uint64_t tsc_hz,
			     uint64_t now_tsc);

/* One frame received on the port. */
enum retransmit_kind retransmit_frame(struct retransmit_port *p, const uint8_t *frame, uint32_t len,
				      uint64_t now_tsc, struct retransmit_out *out);

#endif
