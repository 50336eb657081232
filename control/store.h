/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table's durable home: SQLite in WAL mode, the table in force held
 * relationally (feeds, lines, ports, subscribers with their patterns), and the history
 * as a journal: each version recorded as the operations it is made of
 * (common/routing_delta.h), with snapshots of the whole table where a change cannot be
 * said as operations or the oldest kept version needs one. Any kept version can be
 * rebuilt exactly. See docs/control.md, "The store", for the layout, durability and
 * pruning.
 */
#ifndef ASTER_STORE_H
#define ASTER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct routing_config;
struct store;
struct table_change;

#define STORE_KEEP_DEFAULT 10000 /* versions kept when history_versions is not set */

/* Open or create the database (schema, WAL, foreign keys; a schema 1 database is
 * migrated). NULL + errno, err filled. */
struct store *store_open(const char *path, char *err, size_t errlen);
/* A clean close: the next open continues the version numbering without a gap. */
void store_close(struct store *st);

/* `sync_full`: fsync every commit (durability: full); else the never-reuse rule.
 * `keep_versions`: history kept, 0 = all. 0 or -errno. */
int store_set_durability(struct store *st, bool sync_full, uint64_t keep_versions, char *err,
			 size_t errlen);

/* The version in force (0 for a new database). */
uint64_t store_version(const struct store *st);

/*
 * The current table and its version (0 and an empty table for a new database). The
 * config's path is "store" in messages. 0 or -errno with err filled.
 */
int store_load(struct store *st, struct routing_config **cfg, uint64_t *version, char *err,
	       size_t errlen);

/*
 * Record the change `c` that made `cfg` (the table after it) the table, in one
 * transaction: the rows it touches, the journal (or a snapshot when `c` is a whole
 * table), and the new version in *version. A change of nothing records nothing. 0 or
 * -errno: -EIO with "PATH: what: sqlite's message" in err when a statement fails, in
 * which case nothing of it stays.
 */
int store_commit(struct store *st, const struct routing_config *cfg, const struct table_change *c,
		 uint64_t *version, char *err, size_t errlen);
/* The same, with `yaml` the canonical text of `cfg` when the caller has it (a change said
 * whole is stored as that text: not rendered again); NULL: rendered when needed. */
int store_commit_text(struct store *st, const struct routing_config *cfg,
		      const struct table_change *c, const char *yaml, uint64_t *version, char *err,
		      size_t errlen);

/*
 * Make `cfg` the table, whole (a snapshot version; `yaml` its canonical text, NULL:
 * table_emit_yaml(cfg)). When cfg equals the stored table nothing is written and
 * *version stays. Errors as store_commit.
 */
int store_replace(struct store *st, const struct routing_config *cfg, const char *yaml,
		  uint64_t *version, char *err, size_t errlen);

/* Version `version` rebuilt exactly. -ENOENT with err when it is not in the history
 * (version 0, pruned, or not yet made). */
int store_version_table(struct store *st, uint64_t version, struct routing_config **cfg, char *err,
			size_t errlen);
/* The canonical YAML of a version (malloc'd), or NULL + errno (ENOENT). */
char *store_version_yaml(struct store *st, uint64_t version);
/* The oldest version kept (0 when there is none). */
uint64_t store_oldest_version(struct store *st);

/* One version as the history lists it. */
struct store_version {
	uint64_t version;
	char applied_at[32]; /* UTC, ISO 8601 with milliseconds */
	bool whole;	     /* recorded as a whole table (a snapshot) */
	uint32_t changes;    /* diff lines */
	char *diff;	     /* the lines table_diff prints, "\n" separated */
};

/* Up to `limit` versions, newest first, from `newest` (0: the version in force) down. */
int store_history(struct store *st, uint64_t newest, uint32_t limit, struct store_version **out,
		  uint32_t *n, char *err, size_t errlen);
void store_history_free(struct store_version *v, uint32_t n);

#endif
