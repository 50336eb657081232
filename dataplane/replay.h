/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offline replay (docs/protocol.md §5): input pcaps are checked and counted up front, so
 * completion is detected by counting (every input packet read and processed, every
 * ring drained, every output frame sent), never by sleeping a guessed time.
 */
#ifndef ASTER_REPLAY_H
#define ASTER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct lcore_map;

/* A readable pcap with Ethernet link type; `*packets` its record count. 0, or -errno
 * with one line in `err`. */
int replay_pcap_inspect(const char *path, uint64_t *packets, char *err, size_t errlen);

/*
 * Wait on the main lcore until the replay is complete: the RX lcores read every
 * input packet and flushed their arbiters, and the TX lcores sent everything the RX
 * lcores produced. Gives up with -ETIMEDOUT and a one-line reason when nothing moved
 * for `stall_s` seconds.
 */
int replay_wait(struct lcore_map *map, double stall_s, char *err, size_t errlen);

#endif
