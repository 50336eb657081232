/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MoldUDP64 request packets (docs/protocol.md §2, §6): session (10 bytes), first
 * sequence (u64) and count (u16), big-endian, exactly 20 bytes of UDP payload. aster
 * parses them as the retransmission server (§6.2) and writes them as the upstream
 * recovery client (§6.3). Pure functions over byte buffers.
 */
#ifndef ASTER_MOLD_REQUEST_H
#define ASTER_MOLD_REQUEST_H

#include <stdint.h>

#include "frame.h"

#define MOLD_REQUEST_LEN       20
#define MOLD_REQUEST_COUNT_MAX 0xFFFE /* 0xFFFF means end of session in a downstream packet */
#define MOLD_REQUEST_FRAME_LEN (FRAME_UDP_HDRS_LEN + MOLD_REQUEST_LEN)

struct mold_request {
	const uint8_t *session; /* 10 bytes inside the packet */
	uint64_t seq;		/* first sequence number asked for, >= 1 */
	uint16_t count;		/* messages asked for, 1..MOLD_REQUEST_COUNT_MAX */
};

/* Why a request is malformed; each is counted under its own name (mold_request_error_name). */
enum mold_request_error {
	MOLD_REQ_OK = 0,
	MOLD_REQ_SHORT,	     /* fewer than 20 bytes */
	MOLD_REQ_LONG,	     /* more than 20 bytes */
	MOLD_REQ_COUNT_ZERO, /* asks for nothing */
	MOLD_REQ_COUNT_END,  /* 0xFFFF: a downstream end-of-session count, not a request */
	MOLD_REQ_SEQ_ZERO,   /* sequence numbers start at 1 */
	MOLD_REQ__MAX
};

/* Parse a request's UDP payload. Returns MOLD_REQ_OK and fills `r`, or the reason. */
enum mold_request_error mold_request_parse(const uint8_t *p, uint32_t len, struct mold_request *r);

/* Counter name of a reason: "request_short", "request_long", ... ("ok" for MOLD_REQ_OK). */
const char *mold_request_error_name(enum mold_request_error e);

/* The 20 bytes of a request. `count` must be 1..MOLD_REQUEST_COUNT_MAX. */
void mold_request_write(uint8_t out[MOLD_REQUEST_LEN], const uint8_t session[10], uint64_t seq,
			uint16_t count);

/* A whole request frame (MOLD_REQUEST_FRAME_LEN bytes) from `src` to `dst`. */
void mold_request_frame(uint8_t *frame, const struct frame_endpoint *src,
			const struct frame_endpoint *dst, uint16_t ip_id, const uint8_t session[10],
			uint64_t seq, uint16_t count);

#endif
