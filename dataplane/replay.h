/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offline replay (docs/protocol.md §5), the mode replay_mode (dp.h): one net_pcap RX
 * port per input file and one TX port per output port of the table; the lcores run the
 * same stages as live traffic under the replay policy (lcore.h): every input on the
 * first RX lcore, which merges the files by their pcap record time; a full ring holds
 * the input back instead of dropping; no hold timeout. Input pcaps are checked and
 * counted up front, so completion is detected by counting (every input packet read and
 * processed, every ring drained, every output frame sent), never by sleeping a guessed
 * time. Writes DIR/<port>.pcap and DIR/stats.json.
 */
#ifndef ASTER_REPLAY_H
#define ASTER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* A readable pcap with Ethernet link type; `*packets` its record count. 0, or -errno
 * with one line in `err`. */
int replay_pcap_inspect(const char *path, uint64_t *packets, char *err, size_t errlen);

#endif
