/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every libFuzzer target here shares: the entry point libFuzzer calls, and CHECK,
 * which aborts (reported by libFuzzer as a crash, with the input saved) when an
 * invariant the target asserts does not hold.
 */
#ifndef ASTER_FUZZ_H
#define ASTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

/* A user-facing error is one non-empty line (docs/conventions.md §2). */
#define CHECK_ONE_LINE(msg)                                                                        \
	do {                                                                                       \
		CHECK((msg)[0] != '\0');                                                           \
		for (const char *p_ = (msg); *p_ != '\0'; p_++)                                    \
			CHECK(*p_ != '\n' && *p_ != '\r');                                         \
	} while (0)

#endif
