/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-subscriber output framing (docs/protocol.md §3.6): one MoldUDP64 stream per subscriber with
 * its own session and contiguous sequence numbers from 1, message blocks copied
 * byte-for-byte, UDP payload at most max_payload, in Ethernet II / IPv4 / UDP with a
 * valid IPv4 header checksum (UDP checksum 0, allowed for IPv4).
 *
 * Stage code that does not know about mbufs: packet buffers come from and go to the
 * caller through struct publisher_ops, so unit tests use plain memory and the
 * dataplane uses mbufs. Written only by the RX lcore that owns the subscriber's feed.
 */
#ifndef ASTER_PUBLISHER_H
#define ASTER_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/wire.h"

#define PUB_L2_LEN		   14
#define PUB_L3_LEN		   20
#define PUB_L4_LEN		   8
#define PUB_HDRS_LEN		   (PUB_L2_LEN + PUB_L3_LEN + PUB_L4_LEN) /* 42: MoldUDP64 starts here */
#define PUB_MOLD_HDR		   20
#define PUB_FRAME_MAX(max_payload) (PUB_HDRS_LEN + (uint32_t)(max_payload))
#define PUB_MOLD_SEQ_OFF	   (PUB_HDRS_LEN + 10) /* MoldUDP64 sequence (docs/protocol.md §2) */
#define PUB_COUNT_OFF		   (PUB_HDRS_LEN + 18) /* MoldUDP64 count (docs/protocol.md §2) */
#define PUB_END_OF_SESSION	   0xFFFF	       /* count of an end-of-session packet */

struct publisher_ops {
	/* A buffer of at least PUB_FRAME_MAX(max_payload) bytes for subscriber `sub`, or
	 * NULL when none is available (the message is dropped and counted). */
	void *(*open)(void *ctx, uint32_t sub, uint8_t **data);
	/* The finished frame: `frame_len` bytes, `n_msgs` messages. Ownership passes. */
	void (*close)(void *ctx, uint32_t sub, void *pkt, uint32_t frame_len, uint16_t n_msgs);
};

/*
 * One subscriber's stream. The fields written for every message come first, so the
 * delivery loop touches one cache line per subscriber; the frame template follows.
 */
struct publisher_sub {
	/* stream state */
	uint8_t *data;	 /* bytes of the open packet */
	void *pkt;	 /* open packet, NULL when none */
	uint32_t len;	 /* bytes used in the UDP payload, MoldUDP64 header included */
	uint16_t n_msgs; /* messages in the open packet */
	uint16_t max_payload;
	uint64_t next_seq; /* sequence of the next message to frame, from 1 */
	uint16_t ip_id;
	uint32_t cksum_base; /* template's IPv4 header sum, lengths and id 0 (RFC 1624) */
	uint64_t last_tsc;   /* when the stream last sent a frame (the caller's clock, §6.1) */
	/* fixed after init: what opening a packet copies, in wire order */
	struct {
		uint8_t hdr[PUB_HDRS_LEN]; /* Eth/IPv4/UDP, lengths, id and checksum 0 */
		uint8_t session[10];
		uint8_t seq[8]; /* overwritten on every open */
	} tmpl;
} __attribute__((aligned(64)));

struct publisher_dst {
	const uint8_t *src_mac;	 /* 6 bytes */
	const uint8_t *dst_mac;	 /* 6 bytes */
	uint32_t src_ip, dst_ip; /* host order */
	uint16_t src_port, dst_port;
	const char *session; /* up to 10 printable chars, space padded here */
	uint16_t max_payload;
};

void publisher_sub_init(struct publisher_sub *s, const struct publisher_dst *d);

enum publisher_result {
	PUB_OK = 0,
	PUB_TOO_LARGE, /* the message alone exceeds max_payload: dropped, counted */
	PUB_NO_BUFFER, /* ops->open returned NULL: dropped, counted */
};

/*
 * Append one message (`len` bytes, without its length prefix). Closes the open packet
 * first when the message would not fit. Returns PUB_OK or the drop reason.
 */
enum publisher_result publisher_append(struct publisher_sub *s, uint32_t sub, const uint8_t *msg,
				       uint16_t len, const struct publisher_ops *ops, void *ctx);

/* Close the open packet, if any (end of every RX burst: no message waits for a timer). */
void publisher_flush(struct publisher_sub *s, uint32_t sub, const struct publisher_ops *ops,
		     void *ctx);

/* The message count of a frame this publisher closed (to count a dropped frame's
 * messages against its subscriber). */
static inline uint16_t publisher_frame_msgs(const uint8_t *frame)
{
	return wire_get16(frame + PUB_COUNT_OFF);
}

/* A heartbeat (count 0, next sequence) frame into `data`; returns its length. */
uint32_t publisher_heartbeat(struct publisher_sub *s, uint8_t *data);
/* The same with count 0xFFFF: end of session (docs/protocol.md §6.1). */
uint32_t publisher_end_of_session(struct publisher_sub *s, uint8_t *data);

#endif
