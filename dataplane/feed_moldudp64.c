/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MoldUDP64 packet validation (docs/protocol.md §2, §3.2). One pass over the block lengths; the
 * whole packet is accepted or dropped, never a prefix of it, so that a malformed
 * packet's sequence range simply counts as not received on its line.
 */
#include "feed_moldudp64.h"
#include "itch50.h"

#include "../common/wire.h"

enum mold_error mold_parse(const uint8_t *p, uint32_t len, struct mold_hdr *h)
{
	if (len < MOLD_HDR_LEN)
		return MOLD_ERR_SHORT_HEADER;

	h->session = p;
	h->seq = wire_get64(p + MOLD_SESSION_LEN);
	h->count = wire_get16(p + MOLD_SESSION_LEN + 8);

	/* Heartbeat and end of session carry no blocks (docs/protocol.md §2). */
	if (h->count == MOLD_COUNT_HEARTBEAT || h->count == MOLD_COUNT_END) {
		h->n_msgs = 0;
		return len == MOLD_HDR_LEN ? MOLD_OK : MOLD_ERR_TRAILING;
	}
	h->n_msgs = h->count;

	/* The arbiter computes seq + n_msgs: a range past 2^64 cannot be sequenced. */
	if (h->seq + h->n_msgs < h->seq)
		return MOLD_ERR_SEQ_WRAP;

	/*
	 * 64-bit offsets: `off` can exceed `len` by up to 2 + 65535 per block before the
	 * check, and must not wrap.
	 */
	uint64_t off = MOLD_HDR_LEN;
	for (uint32_t i = 0; i < h->count; i++) {
		if (off + 2 > len)
			return MOLD_ERR_BLOCK_OVERRUN;
		uint32_t l = wire_get16(p + off);
		uint64_t end = off + 2 + l;
		if (end > len)
			return MOLD_ERR_BLOCK_OVERRUN;
		/*
		 * docs/protocol.md §3.2: a known ITCH type must have its exact length. A
		 * zero-length block has no type byte; it is valid MoldUDP64 and the router counts
		 * it as a short message. The table is 0 for unknown types, so one compare covers
		 * both cases.
		 */
		uint8_t want = l ? itch50_len[p[off + 2]] : 0;
		if (want != 0 && want != l)
			return MOLD_ERR_ITCH_LENGTH;
		off = end;
	}
	return off == len ? MOLD_OK : MOLD_ERR_TRAILING;
}

const char *mold_error_str(enum mold_error e)
{
	switch (e) {
	case MOLD_OK:
		return "ok";
	case MOLD_ERR_SHORT_HEADER:
		return "shorter than the 20-byte MoldUDP64 header";
	case MOLD_ERR_BLOCK_OVERRUN:
		return "message block runs past the end of the packet";
	case MOLD_ERR_TRAILING:
		return "bytes left after the last message block";
	case MOLD_ERR_ITCH_LENGTH:
		return "ITCH 5.0 message length differs from its type's length";
	case MOLD_ERR_SEQ_WRAP:
		return "sequence number range wraps past 2^64";
	}
	return "unknown MoldUDP64 error";
}
