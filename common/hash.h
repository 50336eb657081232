/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one string hash of the C tree: 64-bit FNV-1a. Chosen for being stable across runs,
 * builds and machines (a pattern lands in the same matcher shard every time, so a table
 * change recompiles only the shards it touches) and cheap on short keys (names,
 * patterns); it is not meant to resist chosen keys, and none of its users is exposed to
 * them: every key comes from a validated routing table.
 */
#ifndef ASTER_HASH_H
#define ASTER_HASH_H

#include <stdint.h>

static inline uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64-bit offset basis */

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull; /* FNV-1a 64-bit prime */
	return h;
}

#endif
