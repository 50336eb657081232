/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

#include "lcore.h"
#include "replay.h"

int replay_pcap_inspect(const char *path, uint64_t *packets, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t n = 0;
	pcap_t *p;
	int rc;

	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -errno;
	}
	p = pcap_fopen_offline(f, perr); /* takes ownership of f */
	if (p == NULL) {
		fclose(f);
		snprintf(err, errlen, "%s: not a pcap file: %s", path, perr);
		return -EINVAL;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(err, errlen, "%s: link type %s, not Ethernet", path,
			 pcap_datalink_val_to_name(pcap_datalink(p)) ?: "unknown");
		pcap_close(p);
		return -EINVAL;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1)
		n++;
	if (rc == PCAP_ERROR) {
		snprintf(err, errlen, "%s: unreadable after %" PRIu64 " packets: %s", path, n,
			 pcap_geterr(p));
		pcap_close(p);
		return -EIO;
	}
	pcap_close(p);
	*packets = n;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int replay_wait(struct lcore_map *map, double stall_s, char *err, size_t errlen)
{
	const struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000};
	uint64_t last = UINT64_MAX;
	double moved = now_s();

	for (;;) {
		uint64_t read = 0, enq = 0, done = 0, expected = 0;
		bool drained = true;

		for (uint16_t r = 0; r < map->n_rx; r++) {
			struct rx_lcore *lc = map->rx[r];

			drained &= __atomic_load_n(&lc->drained, __ATOMIC_ACQUIRE) != 0;
			enq += counter_read(&lc->st->ring_enqueued);
		}
		for (uint16_t i = 0; i < map->n_rx_ports; i++) {
			for (uint16_t r = 0; r < map->n_rx; r++)
				read +=
				    counter_read(&map->rx[r]->st->rx_packets[map->rx_port_ids[i]]);
			expected += map->rx_expected[i];
		}
		for (uint16_t t = 0; t < map->n_tx; t++)
			done += counter_read(&map->tx[t]->st->tx_done);
		if (drained && enq == done)
			return 0;
		if (__atomic_load_n(&map->stop, __ATOMIC_ACQUIRE)) {
			snprintf(err, errlen, "replay interrupted by a signal");
			return -EINTR;
		}
		if (read + done != last) {
			last = read + done;
			moved = now_s();
		} else if (now_s() - moved > stall_s) {
			snprintf(
			    err, errlen,
			    "replay stalled for %.0f s: %" PRIu64 " of %" PRIu64
			    " input packets read, %" PRIu64 " of %" PRIu64 " output frames sent%s",
			    stall_s, read, expected, done, enq, drained ? "" : ", RX not drained");
			return -ETIMEDOUT;
		}
		nanosleep(&tick, NULL);
	}
}
