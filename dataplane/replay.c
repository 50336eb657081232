/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Offline replay (replay.h, docs/protocol.md §5): the mode that reads pcap files
 * through the real lcores and stages, losslessly, and knows when it is done by
 * counting.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <pcap/pcap.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf_dyn.h>

#include "dp.h"
#include "publisher.h"
#include "replay.h"
#include "report.h"

/* One input file's port: its packet count, and the packets read from it and not yet
 * processed (the merge buffer). Written by the RX lcore that polls it. */
struct replay_input {
	uint16_t port_id;
	uint64_t expected; /* packets in the pcap */
	uint64_t got;	   /* packets read */
	uint16_t n_buf, i_buf;
	struct rte_mbuf *buf[RX_BURST_MAX];
};

struct replay {
	uint16_t burst; /* the profile's */
	uint16_t n_inputs;
	struct replay_input inputs[DP_MAX_FEEDS];
	uint64_t input_packets;
	uint32_t drained[LCORE_MAX_RX]; /* RX lcore i -> main: arbiters flushed, staged */
	int ts_offset;			/* Rx timestamp dynfield, -1 when the PMD gives none */
	uint64_t ts_flag;
};

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

/* --- the RX lcores' side --- */

static struct replay_input *input_of(struct replay *rp, uint16_t port_id)
{
	for (uint16_t i = 0; i < rp->n_inputs; i++)
		if (rp->inputs[i].port_id == port_id)
			return &rp->inputs[i];
	return NULL;
}

static uint64_t stamp(const struct replay *rp, const struct rte_mbuf *m)
{
	if (rp->ts_offset < 0 || !(m->ol_flags & rp->ts_flag))
		return 0;
	return *RTE_MBUF_DYNFIELD(m, rp->ts_offset, const rte_mbuf_timestamp_t *);
}

/* Refill the merge buffer of every port whose buffer is used up and whose file is not
 * read to its end. */
static void refill(struct replay *rp, struct rx_lcore *lc, const uint16_t *ports, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		struct replay_input *in = input_of(rp, ports[i]);

		if (in->i_buf < in->n_buf || in->got >= in->expected)
			continue;
		in->i_buf = 0;
		in->n_buf = rx_burst(lc, in->port_id, in->buf, rp->burst);
		in->got += in->n_buf;
	}
}

/*
 * The inputs are files, read as fast as the lcore goes, so the order in which two
 * lines' packets meet is not given by the wire. Merge them by the pcap record time
 * net_pcap puts in the Rx timestamp field (ties: port order), as they would have met
 * live; a packet is processed only once every unfinished port has one buffered.
 * True when every port is read to its end and processed.
 */
static bool merge(struct replay *rp, struct rx_lcore *lc, uint64_t now)
{
	uint16_t n;
	const uint16_t *ports = rx_ports(lc, &n);

	refill(rp, lc, ports, n);
	for (;;) {
		struct replay_input *best = NULL;
		uint64_t best_ts = 0;

		for (uint16_t i = 0; i < n; i++) {
			struct replay_input *in = input_of(rp, ports[i]);

			if (in->i_buf < in->n_buf) {
				uint64_t ts = stamp(rp, in->buf[in->i_buf]);

				if (best == NULL || ts < best_ts) {
					best = in;
					best_ts = ts;
				}
			} else if (in->got < in->expected) {
				return false; /* its next packet is not read yet */
			}
		}
		if (best == NULL)
			return true;
		rx_packets(lc, &best->buf[best->i_buf++], 1, now);
	}
}

/* One turn of an RX lcore: merged input until the files end, then the drain. */
static void replay_rx_turn(struct rx_lcore *lc, void *arg)
{
	struct replay *rp = arg;
	uint32_t *drained = &rp->drained[rx_index(lc)];
	uint64_t now = rte_rdtsc();

	/* the merge reads several bursts per turn: the turn stamps their latency */
	rx_begin(lc, now);
	if (!*drained) {
		bool finished = merge(rp, lc, now);

		rx_flush(lc);
		if (finished) {
			rx_drain(lc);
			__atomic_store_n(drained, 1, __ATOMIC_RELEASE);
		}
	}
	rx_end(lc);
}

static const struct lcore_policy replay_policy = {
    .name = "replay",
    .spread = false,	   /* one RX lcore merges every input file by time */
    .hold_timeout = false, /* a file has no wire time to wait for */
    .full = RX_FULL_WAIT,  /* lossless: hold the input back */
    .tries = 0,		   /* TX retries until the PMD takes everything */
    .rx_turn = replay_rx_turn,
    .rx_housekeeping = NULL,
};

/* --- the main lcore's side --- */

static uint32_t frame_max(const struct routing_config *cfg)
{
	uint32_t max = PUB_FRAME_MAX(RC_MAX_PAYLOAD_MIN);

	for (uint32_t s = 0; s < cfg->n_subs; s++)
		if (PUB_FRAME_MAX(cfg->subs[s].max_payload) > max)
			max = PUB_FRAME_MAX(cfg->subs[s].max_payload);
	return max;
}

/* Every input a readable Ethernet pcap, counted; the output directory exists. */
static int replay_prepare(struct dp *dp, char *err, size_t errlen)
{
	const struct dp_args *a = dp->args;
	struct replay *rp = calloc(1, sizeof(*rp));
	int rc;

	if (rp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	dp->mode_state = rp;
	rp->burst = dp->prof.burst;
	rp->ts_offset = -1;
	for (unsigned int i = 0; i < a->n_feeds; i++) {
		rc = replay_pcap_inspect(a->feeds[i], &rp->inputs[i].expected, err, errlen);
		if (rc != 0)
			return rc;
		rp->input_packets += rp->inputs[i].expected;
	}
	rp->n_inputs = (uint16_t)a->n_feeds;
	if (mkdir(a->out, 0755) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create output directory: %s", a->out,
			 strerror(errno));
		return -errno;
	}
	/* output frames sized for this table's largest max_payload */
	dp->max_subs = dp->cfg->n_subs ? dp->cfg->n_subs : 1;
	dp->tx_frame_max = frame_max(dp->cfg);
	return 0;
}

/* One net_pcap RX port per input file, one TX port per output port of the table
 * (writing DIR/<port>.pcap, or discarding with the profile's net_null). */
static int replay_open_ports(struct dp *dp, char *err, size_t errlen)
{
	struct replay *rp = dp->mode_state;
	const struct routing_config *cfg = dp->cfg;
	int rc;

	for (uint16_t i = 0; i < rp->n_inputs; i++) {
		uint16_t *id = &rp->inputs[i].port_id;

		rc = port_create_rx_pcap(i, dp->args->feeds[i], id, err, errlen);
		if (rc == 0)
			rc = port_start(*id, 1, 0, &dp->prof, dp->pools.rx, err, errlen);
		if (rc != 0)
			return rc;
		snprintf(dp->ports.in_name[i], sizeof(dp->ports.in_name[i]), "in%u", i);
		dp->ports.in[dp->ports.n_in++] = *id;
	}
	for (uint32_t p = 0; p < cfg->n_ports; p++) {
		char path[4096];
		uint16_t *id = &dp->ports.out[p].port_id;

		snprintf(path, sizeof(path), "%s/%s.pcap", dp->args->out, cfg->ports[p].name);
		snprintf(dp->ports.out[p].name, sizeof(dp->ports.out[p].name), "%s",
			 cfg->ports[p].name);
		rc = port_create_tx(p, dp->prof.tx_driver, path, id, err, errlen);
		if (rc == 0)
			rc = port_start(*id, 0, 1, &dp->prof, NULL, err, errlen);
		if (rc != 0)
			return rc;
		dp->ports.n_out++;
	}
	/* the pcap record time of every input packet, for the merge */
	if (rte_mbuf_dyn_rx_timestamp_register(&rp->ts_offset, &rp->ts_flag) != 0)
		rp->ts_offset = -1;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_drained(const struct replay *rp, uint16_t n_rx)
{
	for (uint16_t r = 0; r < n_rx; r++)
		if (!__atomic_load_n(&rp->drained[r], __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/*
 * Wait until the replay is complete: the RX lcores read every input packet and drained,
 * and the TX lcores sent everything the RX lcores produced. Gives up with -ETIMEDOUT
 * and a one-line reason when nothing moved for `stall_s` seconds, -EINTR on a signal.
 */
static int replay_wait(struct dp *dp, char *err, size_t errlen)
{
	const struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000000};
	const struct replay *rp = dp->mode_state;
	uint64_t last = UINT64_MAX;
	double moved = now_s();

	for (;;) {
		uint64_t read = 0, enq, done;
		bool drained = all_drained(rp, lcore_map_n_rx(dp->map));

		lcore_map_frames(dp->map, &enq, &done);
		for (uint16_t i = 0; i < rp->n_inputs; i++)
			read += lcore_map_port_packets(dp->map, rp->inputs[i].port_id);
		if (drained && enq == done)
			return 0;
		if (*dp->signalled) {
			snprintf(err, errlen, "replay interrupted by a signal");
			return -EINTR;
		}
		if (read + done != last) {
			last = read + done;
			moved = now_s();
		} else if (now_s() - moved > dp->args->stall_s) {
			snprintf(err, errlen,
				 "replay stalled for %.0f s: %" PRIu64 " of %" PRIu64
				 " input packets read, %" PRIu64 " of %" PRIu64
				 " output frames sent%s",
				 dp->args->stall_s, read, rp->input_packets, done, enq,
				 drained ? "" : ", RX not drained");
			return -ETIMEDOUT;
		}
		nanosleep(&tick, NULL);
	}
}

static int write_stats(const char *dir, json_t *root)
{
	char path[4096], tmp[4200];

	snprintf(path, sizeof(path), "%s/stats.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

/* stats.json (docs/protocol.md §5) with the rate and the mempool leak check. */
static int report(struct dp *dp, uint64_t *messages, double secs)
{
	const struct replay *rp = dp->mode_state;
	const struct port_pools *pools = &dp->pools;
	json_t *root = report_json(dp->table, dp->map);
	int rc;

	*messages = 0;
	for (uint32_t f = 0; f < table_config(dp->table)->n_feeds; f++) {
		struct counter_feed c;

		table_feed_counters(dp->table, f, &c);
		*messages += c.messages;
	}
	if (root == NULL)
		return -ENOMEM;
	json_object_set_new(root, "replay",
			    json_pack("{sI sI sf sf sf sb}", "input_packets",
				      (json_int_t)rp->input_packets, "messages",
				      (json_int_t)*messages, "seconds", secs, "messages_per_s",
				      secs > 0 ? (double)*messages / secs : 0.0, "packets_per_s",
				      secs > 0 ? (double)rp->input_packets / secs : 0.0,
				      "hugepages", !dp->no_huge));
	/* Every input mbuf freed and every output mbuf sent: the pools are back to idle. */
	json_object_set_new(root, "mempools",
			    json_pack("{s{sI sI} s{sI sI}}", "rx", "idle_in_use",
				      (json_int_t)pools->rx_idle, "final_in_use",
				      (json_int_t)rte_mempool_in_use_count(pools->rx), "tx",
				      "idle_in_use", (json_int_t)pools->tx_idle, "final_in_use",
				      (json_int_t)rte_mempool_in_use_count(pools->tx)));
	/* net_pcap writes each burst as it goes; the dump files are complete here. */
	rc = write_stats(dp->args->out, root);
	json_decref(root);
	return rc;
}

/* Wait for completion, stop the lcores, write stats.json and the one-line summary;
 * with --linger, serve telemetry until a signal. */
static int replay_run(struct dp *dp)
{
	struct replay *rp = dp->mode_state;
	char err[512];
	uint64_t messages;
	int rc = replay_wait(dp, err, sizeof(err));
	struct timespec t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	lcore_map_stop(dp->map);
	if (rc != 0)
		fprintf(stderr, "aster-dataplane: %s\n", err);
	secs = (double)(t1.tv_sec - dp->launched.tv_sec) +
	       (double)(t1.tv_nsec - dp->launched.tv_nsec) / 1e9;
	if (report(dp, &messages, secs) != 0) {
		fprintf(stderr, "aster-dataplane: %s/stats.json: cannot write\n", dp->args->out);
		return 1;
	}
	if (rc != 0)
		return 1;
	printf("replayed %" PRIu64 " packets, %" PRIu64 " messages in %.3f s (%.0f messages/s)\n",
	       rp->input_packets, messages, secs, secs > 0 ? (double)messages / secs : 0.0);
	if (dp->args->linger) {
		const struct timespec tick = {.tv_sec = 0, .tv_nsec = 20000000};

		fflush(stdout);
		while (!*dp->signalled)
			nanosleep(&tick, NULL);
	}
	return 0;
}

/* Frames still in a merge buffer go back to their pool before it is freed. */
static void replay_fini(struct dp *dp)
{
	struct replay *rp = dp->mode_state;

	for (uint16_t i = 0; rp != NULL && i < rp->n_inputs; i++)
		for (uint16_t j = rp->inputs[i].i_buf; j < rp->inputs[i].n_buf; j++)
			rte_pktmbuf_free(rp->inputs[i].buf[j]);
	free(rp);
	dp->mode_state = NULL;
}

const struct dp_mode replay_mode = {
    .name = "replay",
    .policy = &replay_policy,
    .probe_pci = false,
    .log_profile = false,
    .prepare = replay_prepare,
    .open_ports = replay_open_ports,
    .run = replay_run,
    .fini = replay_fini,
};
