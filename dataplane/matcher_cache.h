/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The compile cache: serialized Hyperscan databases on disk, so that a restarted
 * dataplane deserializes its shards instead of compiling them (docs/architecture.md,
 * "Compiles and the compile cache"). This file stores opaque blobs; matcher_compile.c decides
 * what goes in (hs_serialize_database) and checks what comes out
 * (hs_serialized_database_info, hs_deserialize_database).
 *
 * One file per blob, DIR/<key as 32 hex digits>.hsdb, written to a temporary name and
 * renamed, so a reader never sees half a file from a live writer. Each file holds a
 * header (magic, format, key, lengths, a checksum of the header and one of the body),
 * the identity the key was made from (the shard's expressions, flags, mode, Hyperscan
 * version and platform) and the blob. A file whose length, header, checksum or
 * identity does not match is "bad": counted, reported in one line, removed, and the
 * caller compiles as on a miss. A hit marks the file used (its mtime); when a store
 * takes the directory over its byte budget the least recently used files go first.
 *
 * Thread safe: workers store and load concurrently.
 */
#ifndef ASTER_MATCHER_CACHE_H
#define ASTER_MATCHER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MATCHER_CACHE_KEY_LEN 16

struct matcher_cache_counters {
	uint64_t hits;	       /* blobs loaded */
	uint64_t misses;       /* no file for the key */
	uint64_t bad;	       /* truncated, corrupt or foreign files ignored */
	uint64_t stores;       /* blobs written */
	uint64_t store_failed; /* a write that failed (disk full, permissions): logged */
	uint64_t evictions;    /* files removed to stay under the budget */
	uint64_t bytes;	       /* bytes in the directory after the last store or scan */
};

/*
 * Use `dir` (created 0700 when missing) with at most `max_bytes` of files. Removes the
 * temporary files of writers that no longer run. 0, or -errno with `err` filled. Until
 * called, or after matcher_cache_close, every lookup misses and nothing is stored.
 */
int matcher_cache_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen);
void matcher_cache_close(void);
bool matcher_cache_enabled(void);

/*
 * The blob stored under `key` for `ident` (malloc'd, `*len` bytes), or NULL: a miss, or
 * a bad file (counted, logged, removed).
 */
void *matcher_cache_get(const uint8_t key[MATCHER_CACHE_KEY_LEN], const void *ident,
			size_t ident_len, size_t *len);
/* Store a blob; failures are counted and logged, never returned. */
void matcher_cache_put(const uint8_t key[MATCHER_CACHE_KEY_LEN], const void *ident,
		       size_t ident_len, const void *blob, size_t len);
/* The caller found the blob of `key` unusable (`why`): count, log, remove. */
void matcher_cache_reject(const uint8_t key[MATCHER_CACHE_KEY_LEN], const char *why);

void matcher_cache_counters(struct matcher_cache_counters *c);

/* A 64-bit hash of `n` bytes (keys and checksums; not cryptographic). */
uint64_t matcher_cache_hash(const void *p, size_t n, uint64_t seed);

#endif
