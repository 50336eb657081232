/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message routing (docs/protocol.md §3.4, §3.5): locate -> symbol -> subscriber bitmap,
 * the per-message path (router_route), the locate tables it reads and writes, and the
 * publish of a new state (router_publish). States are built in router_build.c, changed
 * in router_change.c; a feed's decisions live in router_dec.c.
 *
 * The per-message cost is a locate-indexed read. When a locate is (re)bound, or the
 * feed's decisions changed since its bitmap was cached, the bitmap is copied from the
 * decisions (one hash probe); Hyperscan runs on the RX lcore only for a symbol the
 * builder has not decided yet, never for a message whose locate is already resolved.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_rcu_qsbr.h>

#include "itch50.h"
#include "matcher.h"
#include "router_dec.h"

/* ------------------------------------------------------------------ locates */

struct router_locates *router_locates_create(uint32_t max_subs)
{
	struct router_locates *rl = calloc(1, sizeof(*rl));

	if (rl == NULL)
		return NULL;
	rl->max_words = max_subs ? (max_subs + 63) / 64 : 1;
	rl->e = aligned_alloc(64, ROUTER_LOCATES * sizeof(*rl->e));
	/*
	 * `wide` is not zeroed: a bitmap is read only after it was computed for its
	 * entry's version, so pages of locates that never appear are never touched (a
	 * 16-word stride reserves 8 MiB, the typical feed binds a few thousand locates).
	 */
	if (rl->max_words > 1)
		rl->wide =
		    aligned_alloc(64, (size_t)ROUTER_LOCATES * rl->max_words * sizeof(uint64_t));
	if (rl->e == NULL || (rl->max_words > 1 && rl->wide == NULL)) {
		router_locates_free(rl);
		errno = ENOMEM;
		return NULL;
	}
	router_locates_reset(rl);
	return rl;
}

void router_locates_free(struct router_locates *rl)
{
	if (rl == NULL)
		return;
	free(rl->wide);
	free(rl->e);
	free(rl);
}

void router_locates_reset(struct router_locates *rl)
{
	memset(rl->e, 0, ROUTER_LOCATES * sizeof(*rl->e));
}

/* The bitmap of the locate's symbol: the builder's decision, or matched here when the
 * builder does not know the symbol yet (its first binding since the last change). */
static void recompute(struct router_locate *e, uint64_t *bits, const struct router_feed_rules *fr,
		      uint32_t scratch_idx)
{
	int64_t i = router_dec_find(fr->dec, e->symbol);

	if (i >= 0) {
		memcpy(bits, fr->dec->bits + (uint64_t)i * fr->dec->n_words,
		       fr->n_words * sizeof(uint64_t));
	} else {
		char sym[ITCH50_STOCK_LEN];
		uint32_t len = router_key_symbol(e->symbol, sym);

		memset(bits, 0, fr->n_words * sizeof(uint64_t));
		matcher_match(fr->matcher, scratch_idx, sym, len, bits);
	}
	e->version = fr->version;
}

enum router_verdict router_route(struct router_locates *rl, const struct router_state *rs,
				 const struct router_feed_rules *fr, uint32_t scratch_idx,
				 const uint8_t *msg, uint16_t len, const uint64_t **subs)
{
	uint32_t off;
	uint16_t locate;
	struct router_locate *e;
	uint64_t *bits;

	(void)rs;
	if (len < ITCH50_MIN_ROUTABLE)
		return ROUTE_SHORT;
	locate = itch50_locate(msg);
	/* docs/protocol.md §3.4: locate 0 is feed-wide; it is never bound to a symbol */
	if (locate == 0) {
		*subs = fr->all;
		return ROUTE_OK;
	}
	/* the caller sized the table for every feed (router_state_max_subs) */
	assert(fr->n_words <= rl->max_words);
	e = &rl->e[locate];
	bits = router_locate_bits(rl, e, locate, fr->n_words);
	off = itch50_stock_off[msg[0]];
	if (off != 0 && len >= off + ITCH50_STOCK_LEN) {
		uint64_t key = itch50_stock_key(msg + off);

		/* a stock field (re)binds the locate (docs/protocol.md §3.4) */
		if (e->symbol != key || e->version != fr->version || e->version == 0) {
			/* relaxed: the builder reads bindings (router_state_learn) */
			__atomic_store_n(&e->symbol, key, __ATOMIC_RELAXED);
			recompute(e, bits, fr, scratch_idx);
		}
	} else {
		/*
		 * ITCH 5.0: E, C, X, D, U... carry no symbol; route by the locate's binding.
		 * Unbound = both fields zero, so even an all-NUL stock field, bound under
		 * a non-zero version, stays a binding.
		 */
		if (e->symbol == 0 && e->version == 0)
			return ROUTE_UNBOUND;
		if (e->version != fr->version)
			recompute(e, bits, fr, scratch_idx);
	}
	*subs = bits;
	return ROUTE_OK;
}

void router_publish(struct router_state **slot, struct router_state *next,
		    struct rte_rcu_qsbr *qsbr)
{
	struct router_state *old;

	/* feeds whose decisions changed: the published generation tags them */
	for (uint32_t f = 0; next != NULL && f < next->n_feeds; f++)
		if (next->feeds[f].changed && next->version != 0) {
			next->feeds[f].version = next->version;
			next->feeds[f].changed = false;
		}
	old = __atomic_exchange_n(slot, next, __ATOMIC_ACQ_REL);
	/* docs/conventions.md §4: free only after every RX lcore passed a quiescent state */
	if (qsbr != NULL)
		rte_rcu_qsbr_synchronize(qsbr, RTE_QSBR_THRID_INVALID);
	router_state_free(old);
}
