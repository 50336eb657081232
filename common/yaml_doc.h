/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A thin layer over libyaml's document API shared by the routing loader
 * (routing_config.c) and the PMD profile loader (dataplane/profile.c), so that both
 * report problems the same way: one line "FILE:LINE: KEY: message" (docs/protocol.md §4,
 * docs/conventions.md §2), and validate against a declarative key table holding each key's kind,
 * whether it is required, its range and its default (docs/conventions.md §3).
 *
 * Only the first error is kept: later ones are usually consequences of it.
 */
#ifndef ASTER_YAML_DOC_H
#define ASTER_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

enum yaml_doc_kind {
	YAML_DOC_STR, /* scalar, kept as text; min..max bound its length in bytes */
	YAML_DOC_INT, /* scalar, decimal integer; min..max bound its value */
	YAML_DOC_SEQ, /* sequence; min..max bound its number of items */
	YAML_DOC_MAP, /* mapping; min and max unused */
};

struct yaml_doc_key {
	const char *name;
	enum yaml_doc_kind kind;
	bool required;
	int64_t min;
	int64_t max;
	int64_t def;	     /* YAML_DOC_INT: value when the key is absent */
	const char *def_str; /* YAML_DOC_STR: value when the key is absent */
	const char *choices; /* YAML_DOC_STR: allowed values "a|b|c", or NULL for any */
};

/*
 * Bounds on a document, enforced while it is parsed, before any loader walks a node: a
 * hostile file is refused after at most max_bytes of input and max_nodes nodes built,
 * whatever it asks for. An alias counts as every node it stands for (a loader that
 * walks it does that much work), so aliases cannot make a document bigger than the
 * largest one written out in full; an alias to a node that encloses it is refused.
 */
struct yaml_doc_limits {
	size_t max_bytes;   /* size of the file or buffer */
	uint32_t max_depth; /* nested sequences and mappings */
	uint32_t max_items; /* entries of one sequence or mapping */
	uint64_t max_nodes; /* nodes, aliases counted as what they stand for */
};

/* Settings files and PMD profiles: a few hundred keys at most. */
extern const struct yaml_doc_limits yaml_doc_small_limits;

struct yaml_doc {
	yaml_document_t doc;
	bool loaded;
	char *name; /* file name used in every message */
	char *err;
	size_t errlen;
	bool failed; /* an error was recorded; later ones are dropped */
};

/*
 * Load a YAML file / buffer holding one document whose top level is not empty, within
 * yaml_doc_small_limits. Returns 0, or -errno with the one-line reason in `err`:
 *   "FILE: cannot read: <strerror>", "FILE:LINE: syntax error: <libyaml problem>",
 *   "FILE:1: document: empty file", "FILE:LINE: document: more than N nodes ...".
 * `d` must be released with yaml_doc_fini() whatever the result.
 */
int yaml_doc_load_file(struct yaml_doc *d, const char *path, char *err, size_t errlen);
int yaml_doc_load_buffer(struct yaml_doc *d, const char *text, size_t len, const char *name,
			 char *err, size_t errlen);
/* The same within other limits (a routing table is far bigger than a settings file). */
int yaml_doc_load_file_within(struct yaml_doc *d, const char *path,
			      const struct yaml_doc_limits *lim, char *err, size_t errlen);
int yaml_doc_load_buffer_within(struct yaml_doc *d, const char *text, size_t len, const char *name,
				const struct yaml_doc_limits *lim, char *err, size_t errlen);
void yaml_doc_fini(struct yaml_doc *d);

/* The top-level node (never NULL after a successful load). */
yaml_node_t *yaml_doc_root(struct yaml_doc *d);

/* 1-based line of a node, as printed in messages. */
uint32_t yaml_doc_line(const yaml_node_t *node);

/*
 * Record "FILE:LINE: KEY: message" (LINE taken from `at`, or omitted when NULL) unless
 * an error is already recorded. Always returns -EINVAL so callers can
 * `return yaml_doc_error(...)`.
 */
int yaml_doc_error(struct yaml_doc *d, const yaml_node_t *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Check the mapping `map` against `keys[0..n)`: every key must be in the table and
 * appear once, required keys must be present, and each value must have the table's
 * kind and range (and be one of `choices`). A key written with no value (`key:`)
 * counts as absent. `what` names the node in the message when `map` is not a mapping.
 * On success vals[i] is the value node of keys[i], or NULL when absent, and, when
 * `keynodes` is not NULL, keynodes[i] its key node (to report a problem with a block
 * list on the key's line rather than its first item's).
 */
int yaml_doc_map(struct yaml_doc *d, yaml_node_t *map, const char *what,
		 const struct yaml_doc_key *keys, size_t n, yaml_node_t **vals,
		 yaml_node_t **keynodes);

/* Check one value (e.g. a sequence item) against a key's kind, range and choices. */
int yaml_doc_check(struct yaml_doc *d, const yaml_node_t *val, const struct yaml_doc_key *key);

/* Value of a checked node, or the key's default when `val` is NULL. */
int64_t yaml_doc_int(const yaml_node_t *val, const struct yaml_doc_key *key);
const char *yaml_doc_str(const yaml_node_t *val, const struct yaml_doc_key *key);

/* Sequence access: number of items (0 for NULL), and item i (NULL if out of range). */
size_t yaml_doc_seq_len(const yaml_node_t *seq);
yaml_node_t *yaml_doc_seq_item(struct yaml_doc *d, const yaml_node_t *seq, size_t i);

#endif
