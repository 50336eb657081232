/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A subscriber's retransmission history (docs/protocol.md §6.2): its last messages,
 * numbered as first sent, kept frame by frame in a byte ring written by the RX lcore
 * that frames the stream, and read by whatever serves requests, on another lcore,
 * without locks. docs/at-least-once.md, "Subscriber history", says why it is kept per
 * frame and what that costs.
 *
 * Layout. When a frame closes, its message blocks (u16 big-endian length + message,
 * exactly as the frame carries them after the MoldUDP64 header) are copied in one piece
 * to the ring at an absolute byte position that only grows, and one frame entry
 * records the frame's first sequence number, that position (low 48 bits) and its
 * message count. Frames follow each other in the ring with nothing between them, so the
 * ring is the stream's message blocks in sequence order: a reader finds the frame that
 * holds a sequence number by binary search over the frame entries, skips to it inside
 * the frame, and copies on across frame boundaries. The ring holds at least `messages`
 * blocks of the longest ITCH 5.0 message plus one whole frame; the frame entries at
 * least `messages` + 2 (a frame carries one message at least).
 *
 * Reader validation (seqlock style, on positions): before writing a frame at byte
 * position p the writer publishes `reserve` = p + its length and `freserve` = its frame
 * number + 1, then a release fence, then writes. A reader copies what it wants (from
 * position q, found through entry i), then an acquire fence, then reads both again: if
 * reserve <= q + ring size and freserve <= i + entries, no write has started on any
 * byte or entry it used (a write to position w overwrites the byte that was at w - size;
 * entry i is rewritten for frame i + entries), so the copy is intact; otherwise it was
 * (or may have been) overwritten under the reader and is discarded as too old. A reader
 * never returns torn data; it may return fewer messages than asked.
 *
 * `committed` (release-stored by the writer once a frame is written) bounds what readers
 * may fetch: the writer is called when a frame is closed, handed to TX, so a message is
 * served only once the frame carrying it is on its way.
 *
 * Writer side: history_frame (per closed frame, hot path, inline). Reader side:
 * history_read. No allocation: the caller provides history_mem_size() bytes
 * (rte_zmalloc in the dataplane, malloc in tests).
 */
#ifndef ASTER_HISTORY_H
#define ASTER_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HISTORY_BYTES_PER_MSG (2 + 50) /* block of the longest ITCH 5.0 message */
#define HISTORY_FRAME_MAX     8192     /* the largest frame payload (max_payload's bound) */
#ifndef HISTORY_PREFETCH
#define HISTORY_PREFETCH 256 /* bytes of ring asked for ahead of the next frame */
#endif

/* One closed frame. Written by the writer, read by readers (relaxed, validated). */
struct history_frame {
	uint64_t seq;	/* first sequence number */
	uint64_t where; /* byte position (low 48 bits) << 16 | messages */
};

struct history {
	/* written by the writer only (the RX lcore framing the stream) */
	uint64_t head;	   /* absolute position of the next frame's blocks */
	uint64_t woff;	   /* head % size, kept without a division */
	uint64_t next_seq; /* first sequence of the next frame, once one was written */
	uint64_t n_frames; /* frames written */
	/* fixed after history_init */
	uint8_t *bytes;
	uint64_t size; /* bytes in the ring, 0: keeps nothing */
	struct history_frame *frames;
	uint64_t fmask; /* frame entries - 1 */
	uint32_t messages;
	uint64_t id; /* unique in the process, never 0: what a hint belongs to */
	/* written by the writer, read by readers on other lcores */
	uint64_t reserve __attribute__((aligned(64))); /* end of the frame being written */
	uint64_t freserve;    /* 1 + number of the frame entry being written */
	uint64_t committed;   /* readers may fetch sequences < this */
	uint64_t n_committed; /* frame entries readers may look up */
} __attribute__((aligned(64)));

/* A reader's place in the history whose id is `of`: where the block of `seq` starts (a
 * read continues from it without searching). Zeroed memory is a valid hint (of none). */
struct history_hint {
	uint64_t of;
	uint64_t seq;
	uint64_t pos;
};

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
 * The first frame written holds sequence 1 on (a stream's first). messages 0: a
 * history that keeps nothing (every read says HISTORY_OFF).
 */
void history_init(struct history *h, uint32_t messages, void *mem);

static inline void history_ring_write(struct history *h, const void *src, uint32_t n)
{
	uint64_t room = h->size - h->woff;

	if (n < room) {
		memcpy(h->bytes + h->woff, src, n);
		h->woff += n;
	} else {
		memcpy(h->bytes + h->woff, src, room);
		memcpy(h->bytes, (const uint8_t *)src + room, n - room);
		h->woff = n - room;
	}
}

/*
 * A frame closed: keep its `n_msgs` message blocks (`len` bytes at `blocks`, at most
 * HISTORY_FRAME_MAX) from sequence `seq` on. Readers may fetch them once this returns.
 * Frames follow each other (seq is the previous frame's next); the first frame of a
 * history may start anywhere (a history given to a running stream), and a frame that
 * does not continue the previous one makes everything before it unreadable.
 */
static inline void history_frame(struct history *h, uint64_t seq, const uint8_t *blocks,
				 uint32_t len, uint16_t n_msgs)
{
	uint64_t pos = h->head, nf = h->n_frames;
	struct history_frame *e;

	if (h->size == 0)
		return; /* history 0 */
	if (seq != h->next_seq && nf != 0)
		pos += h->size; /* a whole ring further: every byte before reads as overwritten */
	__atomic_store_n(&h->reserve, pos + len, __ATOMIC_RELAXED);
	__atomic_store_n(&h->freserve, nf + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* both are seen before anything below */
	history_ring_write(h, blocks, len);
	e = &h->frames[nf & h->fmask];
	__atomic_store_n(&e->seq, seq, __ATOMIC_RELAXED);
	__atomic_store_n(&e->where, pos << 16 | n_msgs, __ATOMIC_RELAXED);
	h->head = pos + len;
	h->n_frames = nf + 1;
	h->next_seq = seq + n_msgs;
	/* The ring is far larger than the caches: ask now for the lines the next frame
	 * will write, so that their misses are over by then (docs/at-least-once.md). */
	for (uint32_t k = 0; k < HISTORY_PREFETCH; k += 64)
		__builtin_prefetch(h->bytes + ((h->woff + k) % h->size), 1, 3);
	__atomic_store_n(&h->n_committed, nf + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&h->committed, seq + n_msgs, __ATOMIC_RELEASE);
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
 * `hint` (may be NULL): when it is of `h` and hint->seq is `seq` the read starts at
 * hint->pos without a search; on HISTORY_OK it is set to where the next message starts.
 */
enum history_status history_read(struct history *h, uint64_t seq, uint16_t max_msgs,
				 uint32_t max_bytes, uint8_t *out, uint16_t *n_msgs,
				 uint32_t *n_bytes, struct history_hint *hint);

/* Next sequence readers may not fetch yet (1 + the newest sent message). */
static inline uint64_t history_committed(const struct history *h)
{
	return __atomic_load_n(&h->committed, __ATOMIC_ACQUIRE);
}

#endif
