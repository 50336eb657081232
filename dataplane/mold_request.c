/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MoldUDP64 requests (docs/protocol.md §2, §6.2, §6.3). A request is exactly 20 bytes;
 * count 0 asks for nothing and 0xFFFF is the end-of-session marker of downstream
 * packets, so both are malformed, and so is sequence 0 (sequences start at 1). What is
 * refused here is counted by its reason and never answered.
 */
#include "mold_request.h"
#include "feed_moldudp64.h"

#include "../common/wire.h"

enum mold_request_error mold_request_parse(const uint8_t *p, uint32_t len, struct mold_request *r)
{
	if (len < MOLD_REQUEST_LEN)
		return MOLD_REQ_SHORT;
	if (len > MOLD_REQUEST_LEN)
		return MOLD_REQ_LONG;
	r->session = p;
	r->seq = wire_get64(p + 10);
	r->count = wire_get16(p + 18);
	if (r->count == 0)
		return MOLD_REQ_COUNT_ZERO;
	if (r->count == MOLD_COUNT_END)
		return MOLD_REQ_COUNT_END;
	if (r->seq == 0)
		return MOLD_REQ_SEQ_ZERO;
	return MOLD_REQ_OK;
}

const char *mold_request_error_name(enum mold_request_error e)
{
	static const char *const names[MOLD_REQ__MAX] = {
	    [MOLD_REQ_OK] = "ok",
	    [MOLD_REQ_SHORT] = "request_short",
	    [MOLD_REQ_LONG] = "request_long",
	    [MOLD_REQ_COUNT_ZERO] = "request_count_zero",
	    [MOLD_REQ_COUNT_END] = "request_count_end",
	    [MOLD_REQ_SEQ_ZERO] = "request_seq_zero",
	};

	return (unsigned int)e < MOLD_REQ__MAX ? names[e] : "request_unknown";
}

void mold_request_write(uint8_t out[MOLD_REQUEST_LEN], const uint8_t session[10], uint64_t seq,
			uint16_t count)
{
	for (int i = 0; i < MOLD_SESSION_LEN; i++)
		out[i] = session[i];
	wire_put64(out + 10, seq);
	wire_put16(out + 18, count);
}

void mold_request_frame(uint8_t *frame, const struct frame_endpoint *src,
			const struct frame_endpoint *dst, uint16_t ip_id, const uint8_t session[10],
			uint64_t seq, uint16_t count)
{
	frame_build_udp(frame, src, dst, MOLD_REQUEST_LEN, ip_id);
	mold_request_write(frame + FRAME_UDP_HDRS_LEN, session, seq, count);
}
