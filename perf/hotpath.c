/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-bench-hotpath: the cost of the RX stage per message, without a PMD. Pre-built
 * feed frames (bench_feed.h) are copied into mbufs off the clock, then the shipped RX
 * stage (rx_packets + rx_flush: frame decode, MoldUDP64, arbiter, router, publisher,
 * output mbuf allocation, staging and the SP/SC ring enqueue) runs on them burst by
 * burst between two rte_rdtsc() reads. Output frames are taken off the ring and freed
 * off the clock (that is the TX PMD's work). Prints one JSON object.
 *
 *   aster-bench-hotpath --subs N --symbols N --patterns N --kind exact|prefix|regex
 *                       [--packets N] [--loops N] [--cpu N] [--huge] [--prefix NAME]
 *                       [--history N]
 *
 * --history N: every subscriber keeps N messages for retransmission (its port serves
 * requests, docs/protocol.md §6.2), so the RX stage also writes each closed frame into
 * its history; 0 (the default) is the same binary with no history.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "bench_feed.h"
#include "bench_setup.h"

#define BURST 32

static void drain(struct bench_dp *d)
{
	struct rte_mbuf *out[512];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(lcore_map_ring(d->map, 0, 0), (void **)out,
					      RTE_DIM(out), NULL)) != 0)
		rte_pktmbuf_free_bulk(out, n);
}

/*
 * Per burst: cycles and messages, so bursts during which the kernel preempted this
 * thread (the machine is shared) can be told apart: a burst costing more than
 * PREEMPT_FACTOR times the median cycles per message is counted as preempted and
 * reported separately, never silently.
 */
#define PREEMPT_FACTOR 10.0
struct burst_rec {
	uint64_t cycles;
	uint32_t msgs;
};
static struct burst_rec *recs;
static size_t n_recs, cap_recs;

/* Frames [first, end) through the RX stage, BURST at a time; returns cycles spent in it. */
static uint64_t run(struct bench_dp *d, const struct bench_feed *f, struct rte_mempool *pool,
		    uint32_t first, uint32_t end, uint64_t loop, bool record)
{
	struct rx_lcore *lc = lcore_map_rx(d->map, 0);
	struct rte_mbuf *pkts[BURST];
	uint64_t cycles = 0;

	for (uint32_t i = first; i < end; i += BURST) {
		uint16_t n = (uint16_t)(end - i < BURST ? end - i : BURST);

		if (rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0)
			bench_die("input mempool empty");
		for (uint16_t j = 0; j < n; j++) {
			const struct bench_frame *fr = &f->frames[i + j];

			bench_frame_copy(f, i + j, loop * f->trading_msgs[fr->feed],
					 rte_pktmbuf_mtod(pkts[j], uint8_t *));
			pkts[j]->data_len = fr->len;
			pkts[j]->pkt_len = fr->len;
		}
		uint32_t msgs = 0;

		for (uint16_t j = 0; j < n; j++)
			msgs += f->frames[i + j].n_msgs;
		uint64_t t0 = rte_rdtsc();

		rx_begin(lc, t0);
		rx_packets(lc, pkts, n, t0);
		rx_flush(lc);
		uint64_t dt = rte_rdtsc() - t0;

		cycles += dt;
		if (record && n_recs < cap_recs)
			recs[n_recs++] = (struct burst_rec){dt, msgs};
		drain(d);
	}
	return cycles;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    BENCH_FEED_OPTIONS,
	    {"loops", required_argument, NULL, 'l'},
	    {"cpu", required_argument, NULL, 'c'},
	    {"seed", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_params p = BENCH_PARAMS_DEFAULT;
	uint32_t loops = 5, cpu = 0;
	int huge = 0, c;
	char prefix[64], lcores[64], err[1024], model[256];
	static struct bench_dp d;
	struct bench_feed f;
	struct rte_mempool *pool;

	bench_prog = "aster-bench-hotpath";
	snprintf(prefix, sizeof(prefix), "aster-bench-%d", (int)getpid());
	opterr = 0; /* one line of our own for a bad option */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			loops = bench_num("--loops", optarg, 1, 1000);
			break;
		case 'c':
			cpu = bench_num("--cpu", optarg, 0, 1023);
			break;
		case 's':
			p.seed = bench_num("--seed", optarg, 0, UINT32_MAX);
			break;
		default:
			if (!bench_feed_option(c, optarg, &p, &huge, prefix, sizeof(prefix)))
				bench_die("%s: unknown or incomplete option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bench_die("unexpected argument '%s'", argv[optind]);

	if (bench_feed_build(&f, &p, err, sizeof(err)) != 0)
		bench_die("%s", err);
	snprintf(lcores, sizeof(lcores), "0@%u,1@%u,2@%u", cpu, cpu, cpu);
	if (bench_eal_init(argv[0], lcores, prefix, huge, bench_memory_mb(&f, &p)) < 0)
		bench_die("EAL start failed (lcores %s, %s)", lcores,
			  huge ? "hugepages" : "--no-huge");
	bench_profile(&d.prof, 1, (uint16_t)cpu, 2, (uint16_t)cpu, p.n_subs * f.n_feeds);
	if (bench_dp_start(&d, f.yaml, NULL, 0, &pool, err, sizeof(err)) != 0)
		bench_die("%s", err);

	/* off the clock: the directory binds every locate (and runs the matcher), then
	 * one loop over the trading packets warms the caches */
	run(&d, &f, pool, 0, f.n_directory, 0, false);
	run(&d, &f, pool, f.n_directory, f.n_frames, 0, false);

	uint64_t msgs_per_loop = 0, *cyc = calloc(loops, sizeof(*cyc));
	uint64_t deliv0 = bench_deliveries(&d), fmsg0 = bench_feed_messages(&d);

	for (uint32_t i = f.n_directory; i < f.n_frames; i++)
		msgs_per_loop += f.frames[i].n_msgs;
	cap_recs = ((size_t)(f.n_frames - f.n_directory) / BURST + 1) * loops;
	recs = calloc(cap_recs, sizeof(*recs));
	if (cyc == NULL || recs == NULL)
		bench_die("out of memory");
	for (uint32_t l = 0; l < loops; l++)
		cyc[l] = run(&d, &f, pool, f.n_directory, f.n_frames, l + 1, true);
	uint64_t deliveries = bench_deliveries(&d) - deliv0;
	uint64_t delivered_msgs = bench_feed_messages(&d) - fmsg0;
	uint64_t drops[DROP__MAX];

	table_drops(d.table, drops);
	qsort(cyc, loops, sizeof(*cyc), cmp_u64);

	/* bursts the kernel preempted: > PREEMPT_FACTOR x the median cycles per message */
	double *cpm_burst = calloc(n_recs ? n_recs : 1, sizeof(double)), thr;
	uint64_t kept_cycles = 0, kept_msgs = 0, preempted = 0;

	if (cpm_burst == NULL)
		bench_die("out of memory");
	for (size_t i = 0; i < n_recs; i++)
		cpm_burst[i] = (double)recs[i].cycles / recs[i].msgs;
	qsort(cpm_burst, n_recs, sizeof(double), cmp_double);
	thr = PREEMPT_FACTOR * cpm_burst[n_recs / 2];
	for (size_t i = 0; i < n_recs; i++) {
		if ((double)recs[i].cycles / recs[i].msgs > thr) {
			preempted++;
			continue;
		}
		kept_cycles += recs[i].cycles;
		kept_msgs += recs[i].msgs;
	}

	double hz = (double)rte_get_tsc_hz();
	double med = (double)cyc[loops / 2], best = (double)cyc[0];
	double per_loop_deliv = (double)deliveries / loops;
	double cpm_raw = med / (double)msgs_per_loop;
	double cpm = (double)kept_cycles / (double)kept_msgs; /* preempted bursts left out */
	double deliv_per_msg = per_loop_deliv / (double)msgs_per_loop;

	/* per delivery only where there are deliveries to speak of (not with 1 subscriber,
	 * whose decoy patterns almost never match) */
	char cpd[32] = "null", npd[32] = "null";

	if (deliv_per_msg >= 0.01) {
		snprintf(cpd, sizeof(cpd), "%.2f", cpm / deliv_per_msg);
		snprintf(npd, sizeof(npd), "%.2f", cpm / deliv_per_msg / hz * 1e9);
	}
	bench_cpu_model(model, sizeof(model));
	printf("{\"subs\": %u, \"symbols\": %u, \"patterns\": %u, \"kind\": \"%s\", \"feeds\": %u, "
	       "\"history\": %u, "
	       "\"packets_per_loop\": %u, \"messages_per_loop\": %" PRIu64 ", \"loops\": %u, "
	       "\"deliveries_per_msg\": %.3f, \"cycles_per_msg\": %.2f, \"ns_per_msg\": %.2f, "
	       "\"cycles_per_delivery\": %s, \"ns_per_delivery\": %s, "
	       "\"ns_per_packet\": %.2f, \"msgs_per_s\": %.0f, "
	       "\"raw\": {\"ns_per_msg_median_loop\": %.2f, \"ns_per_msg_best_loop\": %.2f, "
	       "\"bursts\": %zu, \"preempted_bursts\": %" PRIu64 "}, "
	       "\"table_build_ms\": %.1f, \"tsc_hz\": %.0f, \"hugepages\": %s, \"cpu\": \"%s\", "
	       "\"check\": {\"messages_in\": %" PRIu64 ", \"messages_routed\": %" PRIu64
	       ", \"unbound_locate\": %" PRIu64 ", \"ring_full\": %" PRIu64
	       ", \"no_mbuf\": %" PRIu64 ", \"malformed\": %" PRIu64 "}}\n",
	       p.n_subs, p.n_symbols, p.n_patterns > p.n_subs ? p.n_patterns : p.n_subs,
	       bench_kind_name(p.kind), f.n_feeds, p.history, f.n_frames - f.n_directory,
	       msgs_per_loop, loops, deliv_per_msg, cpm, cpm / hz * 1e9, cpd, npd,
	       cpm * (double)msgs_per_loop / (double)(f.n_frames - f.n_directory) / hz * 1e9,
	       hz / cpm, cpm_raw / hz * 1e9, best / (double)msgs_per_loop / hz * 1e9, n_recs,
	       preempted, (double)d.build_ns / 1e6, hz, huge ? "true" : "false", model,
	       msgs_per_loop * loops, delivered_msgs, drops[DROP_UNBOUND_LOCATE],
	       drops[DROP_RING_FULL], drops[DROP_NO_MBUF], drops[DROP_MALFORMED]);
	free(cpm_burst);
	free(recs);
	free(cyc);
	bench_dp_stop(&d);
	bench_feed_free(&f);
	bench_eal_cleanup();
	return 0;
}
