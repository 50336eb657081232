/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message routing (docs/protocol.md §3.4, §3.5): locate -> symbol -> subscriber set.
 *
 * Two kinds of state:
 *  - struct router_state: the rule set, one immutable object for the whole
 *    dataplane (per feed: subscribers, type masks, the matcher, and the decisions: the
 *    subscriber bitmap of every symbol the builder knows). Built off the polling cores,
 *    published with one atomic pointer store (router_publish) and freed after every RX
 *    lcore reported a quiescent state through rte_rcu_qsbr. Consecutive states share
 *    what did not change (matchers and decisions are reference counted).
 *  - struct router_locates: the locate bindings of one feed, written only by the RX
 *    lcore that owns the feed. Each entry caches the symbol's subscriber bitmap, tagged
 *    with the feed's decision generation it was taken from; a stale entry takes its
 *    bitmap from the new decisions on its next message (a hash probe), so the
 *    per-message path is a locate-indexed read plus the type mask, and Hyperscan runs
 *    on an RX lcore only for a symbol the builder did not know yet.
 *
 * A change costs what it changes (docs/architecture.md, "Table changes"): a state is
 * built from the one in force and a list of subscriber changes (router_state_change);
 * the builder rebuilds the matcher pieces the change touches and recomputes the
 * decisions of just the symbols it can affect (the known symbols scanned against the
 * changed patterns alone). Known symbols are those of the previous decisions and the
 * ones bound in the feed's locates (router_state_learn).
 */
#ifndef ASTER_ROUTER_H
#define ASTER_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "itch50.h"

#include "../common/routing_config.h"

struct matcher;
struct rte_rcu_qsbr;
struct router_decisions;

#define ROUTER_LOCATES	      65536
#define ROUTER_MAX_FEED_SLOTS 64
#define ROUTER_NO_SUB	      UINT32_MAX /* a free feed-local index in router_feed_rules.subs */

/* A feed line: destination group and port -> the feed (index in router_state.feeds). */
struct router_line {
	uint32_t group;	   /* host order */
	uint16_t udp_port; /* host order */
	uint16_t feed;
	uint8_t line; /* index of the line within its feed */
};

struct router_feed_rules {
	uint32_t n_subs;  /* feed-local indices in use, free ones (ROUTER_NO_SUB) included */
	uint32_t n_words; /* (n_subs + 63) / 64 */
	/* feed-local index -> routing_config subscriber index, or the subscriber's slot once
	 * router_state_set_slots ran; ROUTER_NO_SUB for an index freed by a change, whose
	 * type_mask and `all` bits are zero */
	uint32_t *subs;
	uint64_t *type_mask;	 /* [256][n_words]: subscribers that take each type */
	uint64_t *all;		 /* [n_words]: every subscriber (locate 0 is feed-wide) */
	struct matcher *matcher; /* with one Hyperscan scratch per RX lcore */
	struct router_decisions *dec;
	uint64_t version; /* generation of `dec`: locate caches tagged otherwise are stale */
	uint32_t slot;	  /* the feed's stable runtime slot (arbiter, locates) */
	char name[RC_NAME_MAX];
	bool regex_reused; /* the Hyperscan databases came from the previous state */
	bool changed;	   /* decisions differ from the previous state's (router_publish) */
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
	uint64_t symbol;  /* stock field as on the wire; 0 = unbound (the builder reads it) */
	uint64_t version; /* feed decision generation of the cached bitmap; 0 = none */
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
 * The same, for a table replacing `prev` (the state in force, or NULL): a shard of
 * regexes prev compiled already is shared instead of compiled again, and the symbols
 * prev's decisions knew are decided again under the new rules. `prev` is only read;
 * call off the polling cores.
 */
struct router_state *router_state_build_from(const struct routing_config *cfg,
					     const struct router_state *prev, uint32_t n_scratch,
					     uint64_t version, char *err, size_t errlen);

/*
 * A change to one subscriber of one feed, as router_state_change applies it.
 * `sub` is the subscriber's number as the state's `subs` hold it (its slot once
 * router_state_set_slots ran). Patterns are sets: `add` lists patterns the subscriber
 * did not have, `del` patterns it no longer has at all (a pattern written twice and
 * removed once is still there). A leaving subscriber lists every pattern it had in
 * `del`, so that its feed-local index can be given to another.
 */
enum router_sub_op {
	ROUTER_SUB_KEEP,   /* same subscriber: patterns and/or types change */
	ROUTER_SUB_ADD,	   /* joins the feed: types set, patterns in `add` */
	ROUTER_SUB_REMOVE, /* leaves the feed */
};

struct router_sub_change {
	uint32_t feed; /* index in the state's feeds */
	uint32_t sub;
	const char *name; /* for messages */
	enum router_sub_op op;
	bool set_types; /* ADD always sets them */
	bool all_types;
	uint64_t types[4];
	uint32_t n_add;
	const char *const *add;
	uint32_t n_del;
	const char *const *del;
};

/*
 * The state `prev` becomes after `n` changes: the matcher pieces and decisions of the
 * touched feeds are rebuilt as far as the changes reach, everything else is shared.
 * `version` tags the touched feeds' decisions (router_publish retags them with the
 * published generation). NULL with errno set and `err` one line naming the subscriber
 * and pattern ("subscriber \"x\": pattern \"^(A\": ...") when a pattern does not compile.
 * `prev` is only read.
 */
struct router_state *router_state_change(const struct router_state *prev,
					 const struct router_sub_change *c, uint32_t n,
					 uint64_t version, char *err, size_t errlen);

/*
 * One subscriber before and after a change to the table, as router_state_change needs
 * it: `before` NULL when it joins, `after` NULL when it leaves; `old_sub`/`new_sub` its
 * numbers (slots) before and after, `old_feed`/`new_feed` its feed indices. A subscriber
 * whose number or feed changes leaves and joins (two changes); otherwise one change with
 * its types and the patterns it gained and lost, as sets (a pattern written twice counts
 * once). `out` has room for two; the pattern lists point into `before`/`after` strings
 * and `pats`, which needs room for 2 * (patterns before + patterns after). Returns the
 * number of changes written, or -ENOMEM.
 */
int router_sub_diff(const struct rc_subscriber *before, char *const *before_patterns,
		    uint32_t n_before, uint32_t old_sub, uint32_t old_feed,
		    const struct rc_subscriber *after, uint32_t new_sub, uint32_t new_feed,
		    struct router_sub_change *out, const char **pats);

/*
 * When a background recompile of one of `cur`'s matchers finished, the same rules with
 * it swapped in (same decisions, same generations: locate caches stay valid); NULL when
 * none finished or on failure (errno set; `cur` stays in force). Call off the polling
 * cores, from the thread that builds states.
 */
struct router_state *router_state_fold(const struct router_state *cur);
/* Background recompiles of `rs` not yet swapped in. */
uint32_t router_state_fold_pending(const struct router_state *rs);

/*
 * Add to the decisions of feed `feed` of the unpublished state `rs` every symbol bound in
 * `rl` that they lack, computed by the builder. Reads `rl` while its RX lcore writes it:
 * a binding made meanwhile is matched by that lcore on its next message instead. 0 or
 * -ENOMEM (nothing lost: the lcore matches what the decisions lack).
 */
int router_state_learn(struct router_state *rs, uint32_t feed, const struct router_locates *rl);
/* Symbols in a feed's decisions (tests, logs). */
uint32_t router_feed_known_symbols(const struct router_feed_rules *fr);

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
 * router_type_mask(fr, type). `scratch_idx` selects this lcore's Hyperscan scratch
 * (used only for a symbol the decisions do not hold).
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
 * state. The feeds whose decisions changed take next->version as their generation
 * first. Must not be called from a polling lcore. `qsbr` may be NULL when no lcore
 * runs (tests, start-up).
 */
void router_publish(struct router_state **slot, struct router_state *next,
		    struct rte_rcu_qsbr *qsbr);

static inline const struct router_state *router_current(struct router_state *const *slot)
{
	return __atomic_load_n(slot, __ATOMIC_ACQUIRE);
}

#endif
