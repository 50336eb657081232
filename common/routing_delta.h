/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A table change as the operations it is made of (docs/control.md, "Changes as
 * deltas"): what aster-control records in its journal and sends the dataplane, and what
 * both apply to the table in force. An operation names one subscriber:
 *
 *   RD_SUB_ADD        the subscriber `text` (one YAML mapping) joins at position `pos`
 *   RD_SUB_REMOVE     subscriber `sub` leaves
 *   RD_SUB_SET        subscriber `sub` takes the settings of `text` (a mapping without
 *                     `symbols`); its patterns stay
 *   RD_PATTERN_ADD    `pattern` is appended to `sub`'s patterns
 *   RD_PATTERN_REMOVE the pattern at index `pos` of `sub`'s patterns, which is `pattern`,
 *                     goes
 *
 * Feeds, ports and the order of subscribers are not operations: a change of those is a
 * whole table (a snapshot in the journal, a full push on the wire).
 *
 * Applying is in place and undoable, so that a list of operations is applied whole or
 * not at all: rd_apply_all undoes what it applied when one fails, and the caller may
 * undo the whole list later (the dataplane, when the routing state cannot be built).
 * The subscriber mappings are read by routing_config_parse, the one validator.
 */
#ifndef ASTER_ROUTING_DELTA_H
#define ASTER_ROUTING_DELTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "routing_config.h"

enum rd_kind {
	RD_SUB_ADD = 1,
	RD_SUB_REMOVE = 2,
	RD_SUB_SET = 3,
	RD_PATTERN_ADD = 4,
	RD_PATTERN_REMOVE = 5,
};

struct rd_op {
	uint32_t kind; /* enum rd_kind */
	uint32_t pos;
	const char *sub;     /* the subscriber's name (SUB_ADD: the name in `text`) */
	const char *pattern; /* PATTERN_* */
	const char *text;    /* SUB_ADD, SUB_SET */
};

/* What undoing one applied operation needs; owned by the undo list. */
struct rd_undo {
	uint32_t kind;
	uint32_t pos;		  /* subscriber index (SUB_*), pattern index (PATTERN_REMOVE) */
	uint32_t sub;		  /* subscriber index (PATTERN_*) */
	char *pattern;		  /* PATTERN_REMOVE: the removed pattern */
	struct rc_subscriber old; /* SUB_REMOVE: the subscriber; SUB_SET: its settings */
};

/* "sub+", "sub-", "sub~", "pattern+", "pattern-": names in the journal and in messages. */
const char *rd_kind_name(uint32_t kind);
/* The kind named `name`, or 0. */
uint32_t rd_kind_parse(const char *name);

/*
 * Apply `n` operations to `cfg`, in order, all or none. 0 with `*undo` (malloc'd, n
 * entries; pass to rd_undo_all or rd_forget_all), or -errno with `err` one line naming
 * the operation's subscriber and what is wrong ("subscriber \"x\": no such subscriber",
 * "subscriber \"x\": pattern \"^(A\": missing close paren", "subscriber \"x\":
 * unknown feed \"f\"") and `cfg` as it was.
 */
int rd_apply_all(struct routing_config *cfg, const struct rd_op *ops, uint32_t n,
		 struct rd_undo **undo, char *err, size_t errlen);
/* Put `cfg` back as it was before rd_apply_all of these `n` operations; frees `undo`. */
void rd_undo_all(struct routing_config *cfg, struct rd_undo *undo, uint32_t n);
/* Keep the change; frees what `undo` held. */
void rd_forget_all(struct rd_undo *undo, uint32_t n);

/* One subscriber of a table given as its YAML mapping, read alone against `cfg`'s feeds
 * and ports (feed and port set by name). 0, or -errno with `err` one line. The caller
 * frees what the subscriber holds (rd_sub_fini). */
int rd_parse_sub(const struct routing_config *cfg, const char *text, bool settings_only,
		 struct rc_subscriber *out, char *err, size_t errlen);
void rd_sub_fini(struct rc_subscriber *s);

#endif
