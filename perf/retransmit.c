/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-bench-retransmit: retransmission messages served per second by one core
 * (docs/protocol.md §6.2, docs/at-least-once.md "Where requests are served"). The
 * benchmark dataplane (bench_setup.h) with every subscriber keeping `--history`
 * messages and its output port a net_ring whose RX queue takes requests. Off the clock
 * the shipped RX stage frames `--fill` passes of the benchmark feed into the streams
 * (and their histories); then, on the clock, one core runs the shipped TX stage
 * (tx_poll: at most TX_REQ_BURST requests per poll, each answered with at most
 * TX_ANSWER_CAP frames, from the history, through the token bucket) over request
 * frames for random subscribers and random kept sequence numbers, `--count` messages
 * each; the answers are taken off the port's TX ring off the clock (the NIC's work).
 * Messages served = the subscribers' retransmit_messages counters. Prints one JSON
 * object.
 *
 *   aster-bench-retransmit [--subs N] [--symbols N] [--patterns N] [--kind K]
 *                          [--history N] [--count N] [--requests N] [--fill N]
 *                          [--cpu N] [--huge] [--prefix P]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bench_feed.h"
#include "bench_setup.h"
#include "mold_request.h"
#include "rx.h"
#include "tx.h"

#define BURST 32

/* Frames off the port's TX ring (answers, and live frames while filling). */
static void drain_out(struct bench_dp *d)
{
	struct rte_mbuf *out[512];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(d->out_ring, (void **)out, RTE_DIM(out), NULL)) != 0)
		rte_pktmbuf_free_bulk(out, n);
}

/* `passes` times the trading frames through the RX stage and the TX stage. */
static void fill(struct bench_dp *d, const struct bench_feed *f, struct rte_mempool *pool,
		 uint32_t passes)
{
	struct rx_lcore *lc = lcore_map_rx(d->map, 0);
	struct tx_lcore *tx = lcore_map_tx(d->map, 0);
	struct rte_mbuf *pkts[BURST];

	for (uint32_t loop = 0; loop <= passes; loop++) {
		uint32_t first = loop == 0 ? 0 : f->n_directory;
		uint32_t end = loop == 0 ? f->n_directory : f->n_frames;

		for (uint32_t i = first; i < end; i += BURST) {
			uint16_t n = (uint16_t)(end - i < BURST ? end - i : BURST);
			uint64_t now = rte_rdtsc();

			if (rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0)
				bench_die("input mempool empty");
			for (uint16_t j = 0; j < n; j++) {
				const struct bench_frame *fr = &f->frames[i + j];

				bench_frame_copy(f, i + j,
						 loop == 0 ? 0
							   : (loop - 1) * f->trading_msgs[fr->feed],
						 rte_pktmbuf_mtod(pkts[j], uint8_t *));
				pkts[j]->data_len = fr->len;
				pkts[j]->pkt_len = fr->len;
			}
			rx_begin(lc, now);
			rx_packets(lc, pkts, n, now);
			rx_flush(lc);
			rx_end(lc);
			while (rte_ring_count(lcore_map_ring(d->map, 0, 0)) != 0)
				tx_poll(tx);
			drain_out(d);
		}
	}
}

/* Request frames: subscriber `s` asks for `count` messages from a random sequence its
 * history still holds (its `messages` counter says how many it sent). */
static struct rte_mbuf *request(const struct bench_dp *d, struct rte_mempool *pool, uint32_t s,
				uint32_t history, uint16_t count, uint64_t *rng)
{
	const struct routing_config *cfg = table_config(d->table);
	const struct rc_subscriber *sub = &cfg->subs[s];
	const struct frame_endpoint src = {{0x02, 0, 0, 0, 0, 1}, sub->dst_ip, 40000};
	const struct frame_endpoint dst = {
	    {0}, cfg->ports[sub->port].src_ip, cfg->ports[sub->port].retransmit_port};
	struct counter_sub c;
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint64_t sent, span, seq;

	if (m == NULL)
		bench_die("request mempool empty");
	table_sub_counters(d->table, s, &c);
	sent = c.messages;
	span = sent < history / 2 ? sent : history / 2; /* well inside what is kept */
	*rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
	if (count > span)
		count = (uint16_t)(span > 0 ? span : 1); /* a subscriber that got little so far */
	seq = sent - span + 1 + (span > count ? *rng % (span - count) : 0);
	mold_request_frame(rte_pktmbuf_mtod(m, uint8_t *), &src, &dst, 1,
			   (const uint8_t *)sub->session, seq, count);
	m->data_len = MOLD_REQUEST_FRAME_LEN;
	m->pkt_len = MOLD_REQUEST_FRAME_LEN;
	return m;
}

/* On the clock: `n_req` requests put in the port's RX ring in batches, served by the
 * TX stage until the ring is empty; the answers drained off the clock. Cycles spent. */
static uint64_t serve(struct bench_dp *d, struct rte_mempool *pool, uint32_t n_subs,
		      uint32_t history, uint16_t count, uint32_t n_req, uint64_t *polls)
{
	struct tx_lcore *tx = lcore_map_tx(d->map, 0);
	uint64_t rng = 88172645463325252ull, cycles = 0;

	for (uint32_t done = 0; done < n_req;) {
		struct rte_mbuf *m[256];
		uint32_t k = n_req - done < 256 ? n_req - done : 256;

		for (uint32_t i = 0; i < k; i++)
			m[i] = request(d, pool, (uint32_t)(rng % n_subs), history, count, &rng);
		rte_ring_sp_enqueue_bulk(d->req_ring, (void **)m, k, NULL);
		uint64_t t0 = rte_rdtsc();

		while (rte_ring_count(d->req_ring) != 0) {
			tx_poll(tx);
			(*polls)++;
		}
		cycles += rte_rdtsc() - t0;
		drain_out(d);
		done += k;
	}
	return cycles;
}

/* The JSON line: what the subscribers' counters say was served, per second of `cycles`. */
static void print_result(const struct counter_sub *before, const struct counter_sub *after,
			 uint32_t n_subs, uint32_t history, uint32_t count, uint64_t cycles,
			 uint64_t polls, int huge)
{
	double hz = (double)rte_get_tsc_hz(), secs = (double)cycles / hz;
	uint64_t msgs = after->retransmit_messages - before->retransmit_messages;
	uint64_t pkts = after->retransmit_packets - before->retransmit_packets;
	uint64_t reqs = after->retransmit_requests - before->retransmit_requests;
	uint64_t unavailable = after->retransmit_unavailable - before->retransmit_unavailable;
	uint64_t limited = after->retransmit_rate_limited - before->retransmit_rate_limited;
	uint64_t cut = after->retransmit_cut - before->retransmit_cut;
	char model[256];

	bench_cpu_model(model, sizeof(model));
	printf("{\"subs\": %u, \"history\": %u, \"count\": %u, \"requests\": %" PRIu64
	       ", \"messages_served\": %" PRIu64 ", \"packets_served\": %" PRIu64
	       ", \"unavailable\": %" PRIu64 ", \"rate_limited\": %" PRIu64 ", \"cut\": %" PRIu64
	       ", \"polls\": %" PRIu64 ", \"seconds\": %.4f, \"messages_per_s\": %.0f, "
	       "\"packets_per_s\": %.0f, \"requests_per_s\": %.0f, \"ns_per_message\": %.1f, "
	       "\"hugepages\": %s, \"cpu\": \"%s\"}\n",
	       n_subs, history, count, reqs, msgs, pkts, unavailable, limited, cut, polls, secs,
	       (double)msgs / secs, (double)pkts / secs, (double)reqs / secs,
	       secs * 1e9 / (double)(msgs ? msgs : 1), huge ? "true" : "false", model);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    BENCH_FEED_OPTIONS,
	    {"count", required_argument, NULL, 'C'},
	    {"requests", required_argument, NULL, 'Q'},
	    {"fill", required_argument, NULL, 'F'},
	    {"cpu", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_params p = BENCH_PARAMS_DEFAULT;
	uint32_t count = 100, n_req = 200000, passes = 3, cpu = 0;
	int huge = 0, c;
	char prefix[64], lcores[64], err[1024];
	static struct bench_dp d;
	struct bench_feed f;
	struct rte_mempool *pool;

	bench_prog = "aster-bench-retransmit";
	snprintf(prefix, sizeof(prefix), "aster-bench-%d", (int)getpid());
	opterr = 0;
	p.history = 100000; /* what each served subscriber keeps */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'C':
			count = (uint32_t)bench_num("--count", optarg, 1, MOLD_REQUEST_COUNT_MAX);
			break;
		case 'Q':
			n_req = (uint32_t)bench_num("--requests", optarg, 1, 1e9);
			break;
		case 'F':
			passes = (uint32_t)bench_num("--fill", optarg, 1, 1000);
			break;
		case 'c':
			cpu = (uint32_t)bench_num("--cpu", optarg, 0, 1023);
			break;
		default:
			if (!bench_feed_option(c, optarg, &p, &huge, prefix, sizeof(prefix)))
				bench_die("%s: unknown or incomplete option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bench_die("unexpected argument '%s'", argv[optind]);
	if (p.history == 0)
		bench_die("--history 0 serves nothing");
	if (bench_feed_build(&f, &p, err, sizeof(err)) != 0)
		bench_die("%s", err);
	snprintf(lcores, sizeof(lcores), "0@%u,1@%u,2@%u", cpu, cpu, cpu);
	if (bench_eal_init(argv[0], lcores, prefix, huge, bench_memory_mb(&f, &p)) < 0)
		bench_die("EAL start failed (lcores %s, %s)", lcores,
			  huge ? "hugepages" : "--no-huge");
	bench_profile(&d.prof, 1, (uint16_t)cpu, 2, (uint16_t)cpu, p.n_subs * f.n_feeds);
	d.requests = true;
	if (bench_dp_start(&d, f.yaml, NULL, 0, &pool, err, sizeof(err)) != 0)
		bench_die("%s", err);

	fill(&d, &f, pool, passes);

	uint32_t n_subs = table_config(d.table)->n_subs;
	uint64_t cycles, polls = 0;
	struct counter_sub before, after;

	bench_subs_sum(&d, &before);
	cycles = serve(&d, pool, n_subs, p.history, (uint16_t)count, n_req, &polls);
	bench_subs_sum(&d, &after);
	print_result(&before, &after, n_subs, p.history, count, cycles, polls, huge);
	bench_dp_stop(&d);
	bench_feed_free(&f);
	bench_eal_cleanup();
	return 0;
}
