/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A subscriber's retransmission history (docs/protocol.md §6.2): its last messages,
 * numbered as first sent, in a byte ring written beside the frame by the RX lcore that
 * frames the stream, and read by whatever serves requests, on another lcore, without
 * locks.
 *
 * Layout. Entry = sequence number's low 32 bits (4 bytes) + the message block exactly
 * as the wire carries it (u16 big-endian length, message), appended at an absolute byte
 * position that only grows; the ring holds positions [head - size, head). An index of
 * 2^k >= `messages` slots maps seq -> (position mod 2^48 << 16 | length). Sized for at least
 * `messages` entries of HISTORY_BYTES_PER_MSG bytes each (every ITCH 5.0 message fits;
 * longer unknown types make the ring hold fewer).
 *
 * Reader validation (seqlock style, on the byte positions): before writing an entry at
 * position p the writer publishes `reserve` = p + entry length, then a release fence,
 * then writes. A reader copies the entries it wants (starting at position q), then an
 * acquire fence, then reads `reserve`: if reserve <= q + size no write has started on
 * any byte it copied (a write to position w overwrites the byte that was at w - size),
 * so the copy is intact; otherwise it was (or may have been) overwritten under the
 * reader and is discarded as too old. Each copied entry's stored sequence number must
 * also be the one expected, which catches an index slot reused for seq + 2^k. A reader
 * never returns torn data; it may return fewer messages than asked.
 *
 * `committed` (release-stored by the writer when a frame is closed) bounds what readers
 * may fetch: a message is served only once the frame carrying it was handed to TX.
 *
 * Writer side: history_append (per message, hot path, inline) and history_commit (per
 * closed frame). Reader side: history_read. No allocation: the caller provides
 * history_mem_size() bytes (rte_zmalloc in the dataplane, malloc in tests).
 */
#ifndef ASTER_HISTORY_H
#define ASTER_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HISTORY_ENTRY_HDR 4 /* low 32 bits of the sequence number */
#define HISTORY_BYTES_PER_MSG                                                                      \
	(HISTORY_ENTRY_HDR + 2 + 50) /* + block of the longest ITCH 5.0 message */
#define HISTORY_INVALID UINT64_MAX   /* index slot of a message not kept */

struct history {
	/* written by the writer only (the RX lcore framing the stream) */
	uint64_t head;	   /* absolute position of the next entry */
	uint64_t woff;	   /* head % size, kept without a division */
	uint64_t next_seq; /* sequence of the next message appended */
	/* fixed after history_init */
	uint8_t *bytes;
	uint64_t size; /* bytes in the ring */
	uint64_t *index;
	uint64_t mask; /* index slots - 1 */
	uint32_t messages;
	/* written by the writer, read by readers on other lcores */
	uint64_t reserve __attribute__((aligned(64))); /* end of the entry being written */
	uint64_t committed;			       /* readers may fetch sequences < this */
} __attribute__((aligned(64)));

/* Bytes history_init needs for `messages` (0 for none). */
size_t history_mem_size(uint32_t messages);

struct routing_config;

/*
 * Memory (docs/at-least-once.md, "Memory"): every subscriber whose port has
 * `retransmit` keeps history_mem_size(history); the others keep none. The total for a
 * table, and the check against a budget (bytes; the profile's, at start-up and for
 * every table pushed): 0, or -ENOSPC with one line in `err`
 * "FILE: history: the table needs N MiB of history (K subscribers), more than the
 * M MiB the profile allows".
 */
uint64_t history_table_bytes(const struct routing_config *cfg, uint32_t *n_subs);
int history_table_check(const struct routing_config *cfg, uint64_t budget, char *err,
			size_t errlen);

/*
 * Set up `h` over `mem` (history_mem_size(messages) bytes, 8-byte aligned at least).
 * The first message appended must be sequence 1 (a stream's first). messages 0: a
 * history that keeps nothing (every read says HISTORY_OFF).
 */
void history_init(struct history *h, uint32_t messages, void *mem);

static inline void history_ring_write(struct history *h, const void *src, uint32_t n)
{
	uint64_t room = h->size - h->woff;

	if (n <= room) {
		memcpy(h->bytes + h->woff, src, n);
		h->woff += n;
		if (h->woff == h->size)
			h->woff = 0;
	} else {
		memcpy(h->bytes + h->woff, src, room);
		memcpy(h->bytes, (const uint8_t *)src + room, n - room);
		h->woff = n - room;
	}
}

/*
 * Keep message `seq` (`len` bytes). Sequences must be appended in order, each once.
 * Not visible to readers until history_commit.
 */
static inline void history_append(struct history *h, uint64_t seq, const uint8_t *msg, uint16_t len)
{
	uint32_t n = HISTORY_ENTRY_HDR + 2u + len;
	uint8_t hdr[HISTORY_ENTRY_HDR + 2];
	uint32_t tag = (uint32_t)seq;
	uint64_t pos = h->head;

	h->next_seq = seq + 1;
	if (h->mask == UINT64_MAX)
		return; /* history 0 */
	if (n > h->size) {
		/* cannot be kept (longer than the whole ring): readers find it gone */
		__atomic_store_n(&h->index[seq & h->mask], HISTORY_INVALID, __ATOMIC_RELAXED);
		return;
	}
	__atomic_store_n(&h->reserve, pos + n, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* reserve is seen before any byte below */
	memcpy(hdr, &tag, sizeof(tag));
	hdr[4] = (uint8_t)(len >> 8);
	hdr[5] = (uint8_t)len;
	history_ring_write(h, hdr, sizeof(hdr));
	history_ring_write(h, msg, len);
	/* 48 bits of position: readers rebuild the rest from `reserve` (history_read) */
	__atomic_store_n(&h->index[seq & h->mask], pos << 16 | len, __ATOMIC_RELAXED);
	h->head = pos + n;
}

/* Everything appended so far was sent (its frame closed): readers may fetch it. */
static inline void history_commit(struct history *h)
{
	__atomic_store_n(&h->committed, h->next_seq, __ATOMIC_RELEASE);
}

enum history_status {
	HISTORY_OK = 0,	 /* n_msgs >= 1 messages from `seq` on were copied */
	HISTORY_NOT_YET, /* `seq` was not sent yet (>= committed) */
	HISTORY_GONE,	 /* `seq` is older than what is kept, or was overwritten while read */
	HISTORY_OFF,	 /* the history keeps nothing (history: 0) */
};

/*
 * Reader (any lcore): copy the blocks (u16 length + message, as on the wire) of the
 * messages from `seq` on into `out`: at most `max_msgs` messages and `max_bytes` bytes,
 * never past what was committed. On HISTORY_OK *n_msgs >= 1 and *n_bytes are set.
 */
enum history_status history_read(struct history *h, uint64_t seq, uint16_t max_msgs,
				 uint32_t max_bytes, uint8_t *out, uint16_t *n_msgs,
				 uint32_t *n_bytes);

/* Next sequence readers may not fetch yet (1 + the newest sent message). */
static inline uint64_t history_committed(const struct history *h)
{
	return __atomic_load_n(&h->committed, __ATOMIC_ACQUIRE);
}

#endif
