/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How a subscriber's symbol pattern is compiled (docs/protocol.md §3.5): the Hyperscan
 * flags are the same where a routing table is validated (common/routing_config.c) and
 * where the dataplane compiles it (dataplane/matcher_compile.c), so a pattern the loader
 * accepts is one the matcher builds. Single match: the matcher needs to know whether a
 * subscriber matches, not where or how often. Empty matches allowed: "^" or ".*" are
 * legal patterns that match every symbol.
 */
#ifndef ASTER_PATTERN_H
#define ASTER_PATTERN_H

#include <hs/hs_compile.h>

#define PATTERN_HS_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY)

#endif
