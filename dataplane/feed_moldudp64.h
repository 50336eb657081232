/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MoldUDP64 (docs/protocol.md §2): 20-byte header (session[10], sequence u64, count u16, all
 * big-endian) then `count` blocks of u16 length + message. Pure functions over
 * `const uint8_t *, len`; they are unit-tested on byte arrays and fuzzed.
 */
#ifndef ASTER_FEED_MOLDUDP64_H
#define ASTER_FEED_MOLDUDP64_H

#include <stdint.h>

#include "../common/wire.h"

#define MOLD_SESSION_LEN     10
#define MOLD_HDR_LEN	     20
#define MOLD_COUNT_HEARTBEAT 0
#define MOLD_COUNT_END	     0xFFFF

struct mold_hdr {
	const uint8_t *session; /* points into the packet, MOLD_SESSION_LEN bytes */
	uint64_t seq;		/* sequence number of the first message */
	uint16_t count;		/* raw count field (0 heartbeat, 0xFFFF end of session) */
	uint16_t n_msgs;	/* messages carried: count, or 0 for heartbeat / end */
};

enum mold_error {
	MOLD_OK = 0,
	MOLD_ERR_SHORT_HEADER,	/* fewer than 20 bytes */
	MOLD_ERR_BLOCK_OVERRUN, /* a length field or block runs past the payload */
	MOLD_ERR_TRAILING,	/* bytes left after the last block */
	MOLD_ERR_ITCH_LENGTH,	/* a known ITCH type with the wrong length */
	MOLD_ERR_SEQ_WRAP,	/* seq + count overflows u64: cannot be sequenced */
};

/*
 * Validate a whole MoldUDP64 packet (docs/protocol.md §3.2): every block inside the payload with
 * nothing left over, and every message of a known ITCH 5.0 type of exactly its table
 * length. Heartbeat and end-of-session packets must be exactly 20 bytes.
 * Returns MOLD_OK and fills `h`, or the first error found. `h` is filled whenever the
 * 20-byte header is present (any error but MOLD_ERR_SHORT_HEADER), so a caller may log
 * the session and sequence range of a malformed packet.
 */
enum mold_error mold_parse(const uint8_t *p, uint32_t len, struct mold_hdr *h);

/*
 * Walk the blocks of a packet already validated by mold_parse. Start with
 * `*off = MOLD_HDR_LEN`; each call returns the next message and its length and
 * advances `*off`.
 */
static inline const uint8_t *mold_next(const uint8_t *p, uint32_t *off, uint16_t *msg_len)
{
	uint16_t l = wire_get16(p + *off);
	const uint8_t *m = p + *off + 2;
	*off += 2u + l;
	*msg_len = l;
	return m;
}

const char *mold_error_str(enum mold_error e);

#endif
