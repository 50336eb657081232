/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Operations on routing tables (struct routing_config) for the control plane: the
 * canonical YAML text (what is stored, diffed and pushed to the dataplane), the diff
 * between two tables, and imperative edits. Every edit result is re-validated by
 * parsing its canonical YAML with routing_config_parse, so the one validator in
 * common/ is the only judge of what is a valid table.
 */
#ifndef ASTER_TABLE_H
#define ASTER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_proto.h"
#include "routing_delta.h"

struct routing_config;

/* Canonical docs/protocol.md §4 YAML of `cfg` (malloc'd, NUL terminated), or NULL + errno. Parsing
 * it back gives an equal table (except for the empty table of a new store, whose text "feeds: []"
 * the loader rejects: docs/protocol.md §4 asks for at least one feed). */
char *table_emit_yaml(const struct routing_config *cfg);

/* True when the two tables are equal (same feeds, ports, subscribers, patterns, order of
 * patterns within a subscriber included). */
bool table_equal(const struct routing_config *a, const struct routing_config *b);

/*
 * Human-readable diff from `from` to `to`, one change a line ("+ subscriber alpha",
 * "- subscriber beta", "~ subscriber gamma: max_payload 1400 -> 1000",
 * "+ subscriber gamma pattern \"^MS\"", ...). *n_changes counts them. Returns malloc'd
 * text ("" when equal) or NULL + errno.
 */
char *table_diff(const struct routing_config *from, const struct routing_config *to,
		 size_t *n_changes);

/* Imperative edits: each returns a NEW validated table (path "table"), or NULL, errno and
 * one line in err: ENOENT "subscriber \"x\": no such subscriber" / "... no pattern \"^A\"",
 * EEXIST "subscriber \"x\": already exists" / "... pattern \"^A\" already present", EINVAL
 * for removing a subscriber's only pattern, or the validator's message without its
 * "table:LINE: " prefix (the line would be in generated text), e.g. "symbols: subscriber
 * \"x\": pattern \"^(A\": ...". add_subscriber's text (one mapping, flow, block or JSON)
 * is parsed alone first, so its syntax errors read "subscriber:LINE: ...". */
struct routing_config *table_add_subscriber(const struct routing_config *cfg,
					    const char *subscriber_yaml, char *err, size_t errlen);
struct routing_config *table_remove_subscriber(const struct routing_config *cfg, const char *name,
					       char *err, size_t errlen);
struct routing_config *table_add_pattern(const struct routing_config *cfg, const char *sub,
					 const char *pattern, char *err, size_t errlen);
struct routing_config *table_remove_pattern(const struct routing_config *cfg, const char *sub,
					    const char *pattern, char *err, size_t errlen);

/*
 * A change as the operations it is made of (routing_delta.h), or, when operations cannot
 * say it (feeds, ports or the order of subscribers change) or it is large, as the whole
 * new table. `diff` holds the lines table_diff would print. The operations are not
 * applied: the caller applies them (rd_apply_all), which is also what validates them.
 */
struct table_change {
	struct rd_op *ops;
	uint32_t n_ops;
	struct routing_config *full; /* the new table, when not said as operations */
	char *diff;
	size_t n_changes;
	char **owned; /* the texts the operations point to */
	uint32_t n_owned;
};

/* A change of more operations or patterns than these is pushed and recorded whole. */
#define TABLE_OPS_MAX	      1000
#define TABLE_OP_PATTERNS_MAX 4096

/* The edits of asterctl, as operations. 0, or -errno with `err` one line (the
 * subscriber text of add-subscriber is read and checked here). */
int table_change_pattern(const struct routing_config *cfg, const char *sub, const char *pattern,
			 bool add, struct table_change *c, char *err, size_t errlen);
int table_change_add_subscriber(const struct routing_config *cfg, const char *subscriber_yaml,
				struct table_change *c, char *err, size_t errlen);
int table_change_remove_subscriber(const struct routing_config *cfg, const char *name,
				   struct table_change *c, char *err, size_t errlen);
/* `apply`: from `cfg` to `next` (owned by the change from now on, whatever happens). */
int table_change_replace(const struct routing_config *cfg, struct routing_config *next,
			 struct table_change *c, char *err, size_t errlen);
void table_change_fini(struct table_change *c);

/* One subscriber of `cfg` as the mapping an operation carries: every setting, and its
 * patterns when `with_patterns` (malloc'd, or NULL + errno). */
char *table_emit_sub(const struct routing_config *cfg, uint32_t i, bool with_patterns);

/*
 * The digest of a table's canonical YAML (ctl_table_digest of table_emit_yaml's text) kept
 * by pieces: the text before the subscribers and each subscriber's item. After a change
 * said as operations only the subscribers they name are rendered and hashed again, so
 * the digest a DELTA carries costs what the change touched (docs/control.md).
 */
struct table_digest_sub {
	char *name;
	struct ctl_digest_part part; /* its item of `subscribers` */
};
struct table_digest {
	struct ctl_digest_part head; /* feeds and ports */
	uint32_t n;
	struct table_digest_sub *subs;
	uint64_t value; /* the digest */
};

/* The pieces of `cfg`, every one rendered (a whole table). 0 or -ENOMEM. */
int table_digest_init(struct table_digest *d, const struct routing_config *cfg);
/* The pieces of `cfg`, the table `prev` was made from with the `n_ops` operations applied:
 * the subscribers they name rendered again, the others' pieces taken from `prev`. */
int table_digest_next(struct table_digest *out, const struct table_digest *prev,
		      const struct routing_config *cfg, const struct rd_op *ops, uint32_t n_ops);
void table_digest_fini(struct table_digest *d);

#endif
