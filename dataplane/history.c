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
	/* a multiple of 64 so that the index after it stays aligned */
	return ((uint64_t)messages * HISTORY_BYTES_PER_MSG + 63) & ~(uint64_t)63;
}

size_t history_mem_size(uint32_t messages)
{
	if (messages == 0)
		return 0;
	return (size_t)(ring_bytes(messages) + pow2_at_least(messages) * sizeof(uint64_t));
}

void history_init(struct history *h, uint32_t messages, void *mem)
{
	memset(h, 0, sizeof(*h));
	h->next_seq = 1;
	h->committed = 1;
	h->messages = messages;
	if (messages == 0 || mem == NULL) {
		h->messages = 0;
		h->mask = UINT64_MAX; /* marks "keeps nothing" */
		return;
	}
	h->size = ring_bytes(messages);
	h->bytes = mem;
	h->index = (uint64_t *)(h->bytes + h->size);
	h->mask = pow2_at_least(messages) - 1;
	for (uint64_t i = 0; i <= h->mask; i++)
		h->index[i] = HISTORY_INVALID;
}

/* Copy `n` bytes from absolute position `pos` (still in the ring or not: checked after). */
static void ring_read(const struct history *h, uint64_t pos, void *dst, uint32_t n)
{
	uint64_t off = pos % h->size, room = h->size - off;

	if (n <= room) {
		memcpy(dst, h->bytes + off, n);
	} else {
		memcpy(dst, h->bytes + off, room);
		memcpy((uint8_t *)dst + room, h->bytes, n - room);
	}
}

enum history_status history_read(struct history *h, uint64_t seq, uint16_t max_msgs,
				 uint32_t max_bytes, uint8_t *out, uint16_t *n_msgs,
				 uint32_t *n_bytes)
{
	uint64_t committed, slot, reserve, first, pos;
	uint32_t used = 0;
	uint16_t k = 0;

	if (h->messages == 0)
		return HISTORY_OFF;
	committed = history_committed(h);
	if (seq >= committed)
		return HISTORY_NOT_YET;
	if (committed - seq > h->mask + 1)
		return HISTORY_GONE; /* its index slot was reused */
	slot = __atomic_load_n(&h->index[seq & h->mask], __ATOMIC_RELAXED);
	if (slot == HISTORY_INVALID)
		return HISTORY_GONE;
	/* the slot keeps 48 bits of position; the entry lies within 2^48 bytes of reserve */
	reserve = __atomic_load_n(&h->reserve, __ATOMIC_ACQUIRE);
	first = pos = reserve - ((reserve - (slot >> 16)) & POS_MASK);
	if (reserve > first + h->size)
		return HISTORY_GONE; /* already overwritten: do not copy at all */
	while (k < max_msgs && seq + k < committed) {
		uint8_t hdr[HISTORY_ENTRY_HDR + 2];
		uint32_t tag, len;

		ring_read(h, pos, hdr, sizeof(hdr));
		memcpy(&tag, hdr, sizeof(tag));
		len = wire_get16(hdr + 4);
		/* another entry than expected (slot reused, skipped message, torn bytes) */
		if (tag != (uint32_t)(seq + k) || (k == 0 && len != (slot & 0xffff)))
			break;
		if (used + 2 + len > max_bytes)
			break;
		ring_read(h, pos + HISTORY_ENTRY_HDR, out + used, 2 + len);
		used += 2 + len;
		pos += HISTORY_ENTRY_HDR + 2 + len;
		k++;
	}
	/* the check of history.h: no write has reached anything copied */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (__atomic_load_n(&h->reserve, __ATOMIC_RELAXED) > first + h->size || k == 0)
		return HISTORY_GONE;
	*n_msgs = k;
	*n_bytes = used;
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
