/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retransmission history, reader side and sizing (docs/protocol.md §6.2). The design,
 * and why a reader never returns torn data, is described in history.h.
 *
 * The copies of bytes that the writer may be rewriting at the same moment are plain
 * memcpy, as in DPDK's rte_seqlock: their result is used only after the position check
 * has shown that no write touched them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "history.h"
#include "routing_config.h"

#include "../common/wire.h"

#define POS_MASK ((1ull << 48) - 1)

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static uint64_t ring_bytes(uint32_t messages)
{
	/* `messages` of the longest ITCH blocks stay intact while the next frame is written;
	 * a multiple of 64 so that the frame entries after it stay aligned */
	return ((uint64_t)messages * HISTORY_BYTES_PER_MSG + HISTORY_FRAME_MAX + 63) &
	       ~(uint64_t)63;
}

/* Entries for the frames of the last `messages` messages (one message each at worst),
 * plus the one being rewritten and a spare. */
static uint64_t frame_entries(uint32_t messages)
{
	return pow2_at_least((uint64_t)messages + 2);
}

size_t history_mem_size(uint32_t messages)
{
	if (messages == 0)
		return 0;
	return (size_t)(ring_bytes(messages) +
			frame_entries(messages) * sizeof(struct history_frame));
}

void history_init(struct history *h, uint32_t messages, void *mem)
{
	static uint64_t ids;

	memset(h, 0, sizeof(*h));
	h->id = __atomic_add_fetch(&ids, 1, __ATOMIC_RELAXED);
	h->committed = 1;
	if (messages == 0 || mem == NULL)
		return; /* size 0: keeps nothing */
	h->messages = messages;
	h->size = ring_bytes(messages);
	h->bytes = mem;
	h->frames = (struct history_frame *)(h->bytes + h->size);
	h->fmask = frame_entries(messages) - 1;
}

/* Copy `n` bytes from absolute position `pos` (still in the ring or not: checked after). */
static void ring_read(const struct history *h, uint64_t pos, void *dst, uint64_t n)
{
	uint64_t off = pos % h->size, room = h->size - off;

	if (n <= room) {
		memcpy(dst, h->bytes + off, n);
	} else {
		memcpy(dst, h->bytes + off, room);
		memcpy((uint8_t *)dst + room, h->bytes, n - room);
	}
}

static uint32_t ring_len(const struct history *h, uint64_t pos)
{
	uint8_t b[2];

	ring_read(h, pos, b, 2);
	return wire_get16(b);
}

static uint64_t frame_seq(const struct history *h, uint64_t i)
{
	return __atomic_load_n(&h->frames[i & h->fmask].seq, __ATOMIC_RELAXED);
}

/*
 * The frame entry holding `seq` among the committed ones (n_frames of them): its number
 * in *frame, the byte position of `seq`'s block in *pos. False when it is older than
 * every entry. What it reads may be under rewrite: the caller validates (history.h).
 */
static bool locate(const struct history *h, uint64_t seq, uint64_t n_frames, uint64_t *frame,
		   uint64_t *pos)
{
	uint64_t lo = n_frames > h->fmask ? n_frames - h->fmask : 0, hi = n_frames - 1;
	uint64_t where, fseq, reserve, p, start;

	if (n_frames == 0 || frame_seq(h, lo) > seq)
		return false;
	while (lo < hi) { /* the last entry whose first sequence is <= seq */
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (frame_seq(h, mid) <= seq)
			lo = mid;
		else
			hi = mid - 1;
	}
	fseq = frame_seq(h, lo);
	where = __atomic_load_n(&h->frames[lo & h->fmask].where, __ATOMIC_RELAXED);
	if (seq < fseq || seq - fseq >= (where & 0xffff))
		return false; /* an entry rewritten under the search */
	/* the entry keeps 48 bits of position; the frame lies within 2^48 bytes of reserve */
	reserve = __atomic_load_n(&h->reserve, __ATOMIC_ACQUIRE);
	p = reserve - ((reserve - (where >> 16)) & POS_MASK);
	if (reserve > p + h->size)
		return false; /* its bytes are already overwritten */
	start = p;
	for (uint64_t k = fseq; k < seq; k++) {
		p += 2 + ring_len(h, p);
		if (p > reserve)
			return false; /* lengths rewritten under the walk */
	}
	/* the lengths walked lie before `p`, which history_read's own check starts at: a
	 * length rewritten under the walk could land `p` on a later, intact position */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&h->reserve, __ATOMIC_RELAXED) > start + h->size)
		return false;
	*frame = lo;
	*pos = p;
	return true;
}

enum history_status history_read(struct history *h, uint64_t seq, uint16_t max_msgs,
				 uint32_t max_bytes, uint8_t *out, uint16_t *n_msgs,
				 uint32_t *n_bytes, struct history_hint *hint)
{
	uint64_t committed, n_frames, frame, first, used = 0;
	uint16_t k = 0;
	bool searched = true;

	if (h->size == 0)
		return HISTORY_OFF;
	committed = history_committed(h);
	if (seq >= committed)
		return HISTORY_NOT_YET;
	/* loaded after `committed`: covers at least every frame up to it */
	n_frames = __atomic_load_n(&h->n_committed, __ATOMIC_ACQUIRE);
	if (hint != NULL && hint->of == h->id && hint->seq == seq) {
		first = hint->pos; /* where a validated read left off: only the bytes to check */
		frame = UINT64_MAX;
		searched = false;
	} else if (!locate(h, seq, n_frames, &frame, &first)) {
		return HISTORY_GONE;
	}
	while (k < max_msgs && seq + k < committed) {
		uint32_t len = ring_len(h, first + used);

		/* a length rewritten under the read may be anything: never copy more than
		 * the ring holds (the check below then refuses what was torn) */
		if (used + 2 + len > max_bytes || used + 2 + len > h->size)
			break;
		used += 2 + len;
		k++;
	}
	ring_read(h, first, out, used);
	/* the check of history.h: no write has reached anything read */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&h->reserve, __ATOMIC_RELAXED) > first + h->size ||
	    (searched && __atomic_load_n(&h->freserve, __ATOMIC_RELAXED) > frame + h->fmask + 1) ||
	    k == 0)
		return HISTORY_GONE;
	*n_msgs = k;
	*n_bytes = (uint32_t)used;
	if (hint != NULL) {
		hint->of = h->id;
		hint->seq = seq + k;
		hint->pos = first + used;
	}
	return HISTORY_OK;
}

uint64_t history_table_bytes(const struct routing_config *cfg, uint32_t *n_subs)
{
	uint64_t total = 0;
	uint32_t n = 0;

	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		const struct rc_subscriber *s = &cfg->subs[i];

		if (cfg->ports[s->port].retransmit_port == 0 || s->history == 0)
			continue;
		total += history_mem_size(s->history);
		n++;
	}
	if (n_subs != NULL)
		*n_subs = n;
	return total;
}

int history_table_check(const struct routing_config *cfg, uint64_t budget, char *err, size_t errlen)
{
	uint32_t n;
	uint64_t need = history_table_bytes(cfg, &n);

	if (need <= budget)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen,
			 "%s: history: the table needs %" PRIu64 " MiB of history (%" PRIu32
			 " subscribers), more than the %" PRIu64 " MiB the profile allows",
			 cfg->path != NULL ? cfg->path : "<config>", (need + (1 << 20) - 1) >> 20,
			 n, budget >> 20);
	return -ENOSPC;
}
