/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message routing (docs/protocol.md §3.4, §3.5): locate -> symbol -> subscriber set.
 *
 * Two kinds of state:
 *  - struct router_state: the rule set, one immutable object for the whole
 *    dataplane (per feed: subscribers, type masks, compiled matcher, Hyperscan scratch
 *    per RX lcore). Built off the polling cores, published with one atomic pointer
 *    store (router_publish) and freed after every RX lcore reported a quiescent state
 *    through rte_rcu_qsbr.
 *  - struct router_locates: the locate bindings of one feed, written only by the RX
 *    lcore that owns the feed. Each entry caches the symbol's subscriber bitmap, tagged
 *    with the router_state version it was computed for; a stale entry is recomputed on
 *    its next message, so the per-message path is a locate-indexed read plus the type
 *    mask, and Hyperscan runs only when a symbol is first bound or the rules change.
 */
#ifndef ASTER_ROUTER_H
#define ASTER_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "itch50.h"

#include "../common/routing_config.h"

struct matcher;
struct matcher_scratch;
struct rte_rcu_qsbr;

#define ROUTER_LOCATES	      65536
#define ROUTER_MAX_FEED_SLOTS 64

/* A feed line: destination group and port -> the feed (index in router_state.feeds). */
struct router_line {
	uint32_t group;	   /* host order */
	uint16_t udp_port; /* host order */
	uint16_t feed;
	uint8_t line; /* index of the line within its feed */
};

struct router_feed_rules {
	uint32_t n_subs;     /* subscribers of this feed */
	uint32_t n_words;    /* (n_subs + 63) / 64 */
	uint32_t *subs;	     /* feed-local index -> routing_config subscriber index */
	uint64_t *type_mask; /* [256][n_words]: subscribers that take each type */
	uint64_t *all;	     /* [n_words]: every subscriber (locate 0 is feed-wide) */
	struct matcher *matcher;
	struct matcher_scratch **scratch; /* [n_scratch], one per RX lcore */
	uint32_t slot;			  /* the feed's stable runtime slot (arbiter, locates) */
	char name[RC_NAME_MAX];
	bool regex_reused; /* the Hyperscan database came from the previous state */
};

struct router_state {
	uint64_t version;	/* generation: strictly increasing across publishes */
	uint64_t table_version; /* the control plane's number for this table, 0 = local file */
	uint32_t n_feeds;
	uint32_t n_scratch;
	struct router_feed_rules *feeds; /* [n_feeds], same order as routing_config */
	uint32_t n_lines;
	struct router_line *lines;		   /* every line of every feed */
	int16_t slot_index[ROUTER_MAX_FEED_SLOTS]; /* feed slot -> index in feeds, -1 */
};

/*
 * One locate's binding and its cached subscriber bitmap. A feed of up to 64
 * subscribers (one bitmap word) keeps the bitmap in the record itself, so the message
 * path reads one 32-byte record, never two cache lines; wider feeds use `wide`.
 */
struct router_locate {
	uint64_t symbol;  /* stock field as on the wire; 0 = unbound */
	uint64_t version; /* router_state version of the cached bitmap; 0 = none */
	uint64_t bits;	  /* the bitmap when the feed's rules have one word */
	uint64_t pad;
};

struct router_locates {
	uint32_t max_words;	 /* bitmap capacity in words */
	struct router_locate *e; /* [ROUTER_LOCATES], 64-byte aligned */
	uint64_t *wide;		 /* [ROUTER_LOCATES][rules n_words] when max_words > 1 */
};

/* Where the cached bitmap of `e` (locate `locate`) lives for rules of `n_words`. */
static inline uint64_t *router_locate_bits(const struct router_locates *rl, struct router_locate *e,
					   uint16_t locate, uint32_t n_words)
{
	return n_words <= 1 ? &e->bits : rl->wide + (size_t)locate * n_words;
}

/*
 * Start loading what router_route will read for message `msg` of a feed whose rules
 * have `n_words` bitmap words: its locate record and, for a wide feed, the bitmap. A
 * hint; reads nothing when the message is too short to carry a locate.
 */
static inline void router_prefetch(const struct router_locates *rl, uint32_t n_words,
				   const uint8_t *msg, uint16_t len)
{
	if (len < 3)
		return;
	uint16_t locate = itch50_locate(msg);

	__builtin_prefetch(&rl->e[locate]);
	if (n_words > 1)
		__builtin_prefetch(rl->wide + (size_t)locate * n_words);
}

enum router_verdict {
	ROUTE_OK = 0,  /* `*subs` points at n_words words (may be all zero) */
	ROUTE_UNBOUND, /* locate has no symbol yet: not delivered, counted */
	ROUTE_SHORT,   /* message too short to carry a locate */
};

/*
 * Build the rule set of `cfg` with `n_scratch` Hyperscan scratch spaces per feed.
 * Returns NULL with errno set and `err` holding one line naming the file, line,
 * subscriber and pattern when a pattern does not compile.
 */
struct router_state *router_state_build(const struct routing_config *cfg, uint32_t n_scratch,
					uint64_t version, char *err, size_t errlen);
void router_state_free(struct router_state *rs);

/*
 * The same, for a table replacing `prev` (the state in force, or NULL): a feed whose
 * set of regex expressions is unchanged shares prev's compiled Hyperscan database
 * instead of compiling it again. `prev` is only read; call off the polling cores.
 */
struct router_state *router_state_build_from(const struct routing_config *cfg,
					     const struct router_state *prev, uint32_t n_scratch,
					     uint64_t version, char *err, size_t errlen);

/*
 * Renumber a state built by router_state_build to the dataplane's stable slots before publishing
 * it: feed f becomes slot feed_slot[f] (< ROUTER_MAX_FEED_SLOTS), subscriber i (config
 * index) becomes sub_slot[i] in every feed's `subs`. router_state_build numbers both
 * by config index.
 */
void router_state_set_slots(struct router_state *rs, const uint32_t *feed_slot,
			    const uint32_t *sub_slot);

/* The line a frame to `group`:`udp_port` belongs to, or NULL (docs/protocol.md §3.1). */
static inline const struct router_line *router_line_find(const struct router_state *rs,
							 uint32_t group, uint16_t udp_port)
{
	for (uint32_t i = 0; i < rs->n_lines; i++)
		if (rs->lines[i].group == group && rs->lines[i].udp_port == udp_port)
			return &rs->lines[i];
	return NULL;
}

/* Largest n_subs over the feeds: router_locates_create() needs at least this many. */
uint32_t router_state_max_subs(const struct router_state *rs);

/*
 * Locate table of one feed able to hold bitmaps of up to `max_subs` subscribers. A hard
 * capacity: the caller checks once (router_state_max_subs) that every state it routes
 * with fits, since router_route uses the state's n_words as the bitmap stride.
 */
struct router_locates *router_locates_create(uint32_t max_subs);
void router_locates_free(struct router_locates *rl);
/* New session: every binding cleared (docs/protocol.md §3.3). */
void router_locates_reset(struct router_locates *rl);

/*
 * Route one message of feed `fr` (already sequenced). Binds the locate when the type
 * has a stock field; locate 0 is feed-wide (type mask only). On ROUTE_OK, `*subs`
 * points at the subscriber bitmap of the message's symbol, still to be ANDed with
 * router_type_mask(fr, type). `scratch_idx` selects this lcore's Hyperscan scratch.
 */
enum router_verdict router_route(struct router_locates *rl, const struct router_state *rs,
				 const struct router_feed_rules *fr, uint32_t scratch_idx,
				 const uint8_t *msg, uint16_t len, const uint64_t **subs);

static inline const uint64_t *router_type_mask(const struct router_feed_rules *fr, uint8_t type)
{
	return fr->type_mask + (uint32_t)type * fr->n_words;
}

/*
 * Publish `next` as the current state for the RX lcores (one atomic store), wait until
 * every registered RX lcore has passed a quiescent state, then free the previous
 * state. Must not be called from a polling lcore. `qsbr` may be NULL when no lcore
 * runs (tests, start-up).
 */
void router_publish(struct router_state **slot, struct router_state *next,
		    struct rte_rcu_qsbr *qsbr);

static inline const struct router_state *router_current(struct router_state *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

#endif
