/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table's durable home: SQLite in WAL mode, relational (feeds, lines,
 * ports, subscribers, patterns), one transaction per change, plus the history of every
 * version (its YAML text and time) so a restart loses nothing and drift is healable.
 */
#ifndef ASTER_STORE_H
#define ASTER_STORE_H

#include <stddef.h>
#include <stdint.h>

struct routing_config;
struct store;

/* Open or create the database (schema, WAL, foreign keys). NULL + errno, err filled. */
struct store *store_open(const char *path, char *err, size_t errlen);
void store_close(struct store *st);

/*
 * The current table and its version (0 and an empty table for a new database). The
 * config's path is "store" in messages. 0 or -errno with err filled.
 */
int store_load(struct store *st, struct routing_config **cfg, uint64_t *version, char *err,
	       size_t errlen);

/*
 * Make `cfg` the table, in one transaction: rows replaced, version incremented and the
 * version's YAML (`yaml`, the canonical text of cfg; NULL: table_emit_yaml(cfg)) appended
 * to the history. When cfg equals the stored table nothing is written and *version stays.
 * 0 or -errno: -EIO with "PATH: what: sqlite's message" in err when a statement fails, in
 * which case the transaction is rolled back and the previous table and version stay.
 */
int store_replace(struct store *st, const struct routing_config *cfg, const char *yaml,
		  uint64_t *version, char *err, size_t errlen);

/* The YAML text of a past version (malloc'd), or NULL + errno (ENOENT). */
char *store_version_yaml(struct store *st, uint64_t version);

#endif
