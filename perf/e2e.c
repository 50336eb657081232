/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-bench-e2e: the dataplane end to end through DPDK ethdevs. A generator writes
 * the benchmark feed (bench_feed.h: realistic frames, sequence numbers advancing on
 * every pass) into an rte_ring that is the RX queue of a net_ring port; the shipped
 * RX stage polls it on its own lcore (lcore_main, live mode: the RX core never waits,
 * a full ring drops and counts), routes to the subscribers and hands frames over the
 * SP/SC ring to the TX stage, which sends them into net_null. The generator shares the
 * TX lcore (a 2-CPU machine has no third core), so the RX core is measured alone.
 *
 * Two phases, each `--seconds` long, counters read before and after:
 *  - saturation: the generator keeps the RX ring full;
 *  - fixed load: the generator paces packets at `--load` times the saturation rate
 *    (or `--pps`), so latency is measured below the knee.
 * With --requests (and every subscriber keeping --history messages, 100 000 by
 * default) the output port is a net_ring whose RX queue takes retransmission requests
 * (docs/protocol.md §6.2), and a third phase repeats the fixed load while the generator
 * keeps that queue full of requests for --count recent messages of random subscribers:
 * requests at full rate, served by the same TX lcore that sends the live frames.
 * Latency: the TX lcore's histogram (latency.h), RX burst to just before
 * rte_eth_tx_burst, per output frame. Prints one JSON object. The run also serves
 * DPDK telemetry (/aster/..., e.g. /aster/latency) under its --prefix.
 *
 *   aster-bench-e2e [--subs N] [--symbols N] [--patterns N] [--kind K] [--seconds S]
 *                   [--load F | --pps N] [--rx-cpu N] [--tx-cpu N] [--huge] [--prefix P]
 *                   [--requests [--history N] [--count N]]
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "bench_feed.h"
#include "bench_setup.h"
#include "mold_request.h"
#include "report.h"

#define GEN_BURST     32
#define GEN_RING_SIZE 4096

/* Generator state: written by the generator lcore, `rate_pps`/`stop` by main. */
struct gen {
	const struct bench_feed *f;
	struct rte_ring *ring;
	struct rte_mempool *pool;
	uint32_t next; /* frame index */
	uint64_t pass; /* completed passes over the trading frames */
	uint64_t period_tsc;
	uint64_t next_tsc;
	uint64_t sent;		    /* frames enqueued */
	uint64_t bytes;		    /* their bytes */
	uint64_t nombuf;	    /* frames not sent for want of an mbuf (retried) */
	volatile uint64_t rate_pps; /* 0: saturate */
	uint64_t rate_seen;
	struct tx_lcore *tx;
	struct rte_ring *tx_ring;   /* RX -> TX: the generator waits while it backs up */
	uint64_t steps, steps_full; /* generator turns; those that found the RX ring full */
	volatile uint32_t stop;
	/* --requests: the output port's rings, and requests the main thread renews (two
	 * sets: the generator copies from the one `cur` names) */
	struct rte_ring *req_ring, *out_ring;
	volatile uint32_t requests_on;
	uint32_t cur, n_req;
	uint8_t (*req)[2][MOLD_REQUEST_FRAME_LEN]; /* [n_req] */
	uint64_t req_sent;
};

static void gen_step(struct gen *g)
{
	struct rte_mbuf *pkts[GEN_BURST];
	unsigned int n = GEN_BURST, room;
	uint64_t rate = g->rate_pps;

	if (rate != g->rate_seen) {
		g->rate_seen = rate;
		g->period_tsc = rate ? rte_get_tsc_hz() / rate : 0;
		g->next_tsc = rte_rdtsc();
	}
	if (rate != 0 && g->next >= g->f->n_directory) {
		uint64_t now = rte_rdtsc();

		if (now < g->next_tsc)
			return;
		/* behind by more than a millisecond (preempted): do not burst to catch up */
		if (now - g->next_tsc > rte_get_tsc_hz() / 1000)
			g->next_tsc = now;
		n = 1 + (unsigned int)((now - g->next_tsc) / g->period_tsc);
		if (n > GEN_BURST)
			n = GEN_BURST;
	}
	room = rte_ring_free_count(g->ring);
	g->steps++;
	if (room == 0)
		g->steps_full++; /* the RX core is the bottleneck: what saturation means */
	if (n > room)
		n = room;
	if (n == 0)
		return;
	if (rte_pktmbuf_alloc_bulk(g->pool, pkts, n) != 0) {
		g->nombuf += n;
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		const struct bench_frame *fr = &g->f->frames[g->next];
		uint64_t add =
		    g->next < g->f->n_directory ? 0 : g->pass * g->f->trading_msgs[fr->feed];

		bench_frame_copy(g->f, g->next, add, rte_pktmbuf_mtod(pkts[i], uint8_t *));
		pkts[i]->data_len = fr->len;
		pkts[i]->pkt_len = fr->len;
		g->bytes += fr->len;
		if (++g->next == g->f->n_frames) {
			g->next = g->f->n_directory;
			g->pass++;
		}
	}
	rte_ring_sp_enqueue_bulk(g->ring, (void **)pkts, n, NULL);
	g->sent += n;
	if (rate != 0)
		g->next_tsc += n * g->period_tsc;
}

/* --requests: what the TX stage sent on the request port goes (the NIC's work), and
 * while requests are on, their ring is kept full. */
static void gen_requests(struct gen *g)
{
	struct rte_mbuf *m[GEN_BURST];
	unsigned int n;

	while ((n = rte_ring_sc_dequeue_burst(g->out_ring, (void **)m, GEN_BURST, NULL)) != 0)
		rte_pktmbuf_free_bulk(m, n);
	if (!g->requests_on)
		return;
	n = rte_ring_free_count(g->req_ring);
	if (n > GEN_BURST)
		n = GEN_BURST;
	if (n == 0 || rte_pktmbuf_alloc_bulk(g->pool, m, n) != 0)
		return;
	uint32_t cur = __atomic_load_n(&g->cur, __ATOMIC_ACQUIRE);

	for (unsigned int i = 0; i < n; i++) {
		memcpy(rte_pktmbuf_mtod(m[i], uint8_t *), g->req[(g->req_sent + i) % g->n_req][cur],
		       MOLD_REQUEST_FRAME_LEN);
		m[i]->data_len = MOLD_REQUEST_FRAME_LEN;
		m[i]->pkt_len = MOLD_REQUEST_FRAME_LEN;
	}
	rte_ring_sp_enqueue_bulk(g->req_ring, (void **)m, n, NULL);
	g->req_sent += n;
}

/* The generator and the TX stage take turns on one lcore; TX first: generating while
 * the RX -> TX ring backs up would measure this shared lcore, not the RX core. */
static int gen_tx_main(void *arg)
{
	struct gen *g = arg;

	while (!g->stop) {
		tx_poll(g->tx);
		if (g->req_ring != NULL)
			gen_requests(g);
		if (rte_ring_count(g->tx_ring) < 2 * GEN_BURST)
			gen_step(g);
	}
	return 0;
}

/* Requests for `count` recent messages of every subscriber in turn (4 per subscriber),
 * into the set the generator does not use, which then becomes the one it uses. */
static void requests_renew(struct gen *g, const struct bench_dp *d, uint32_t history,
			   uint16_t count, uint64_t *rng)
{
	const struct routing_config *cfg = table_config(d->table);
	uint32_t next = 1 - g->cur;

	for (uint32_t i = 0; i < g->n_req; i++) {
		const struct rc_subscriber *sub = &cfg->subs[i % cfg->n_subs];
		const struct frame_endpoint src = {{0x02, 0, 0, 0, 0, 1}, sub->dst_ip, 40000};
		const struct frame_endpoint dst = {
		    {0}, cfg->ports[sub->port].src_ip, cfg->ports[sub->port].retransmit_port};
		struct counter_sub c;
		uint64_t span, seq;
		uint16_t n = count;

		table_sub_counters(d->table, i % cfg->n_subs, &c);
		span = c.messages < history / 2 ? c.messages : history / 2;
		if (n > span)
			n = (uint16_t)(span > 0 ? span : 1);
		*rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
		seq = c.messages - span + 1 + (span > n ? *rng % (span - n) : 0);
		mold_request_frame(g->req[i][next], &src, &dst, 1, (const uint8_t *)sub->session,
				   seq, n);
	}
	__atomic_store_n(&g->cur, next, __ATOMIC_RELEASE);
}

/* The RX lcore's thread, to read how much CPU the kernel gave it (the machine is
 * shared): rates are also reported per second of RX-core CPU time. */
static volatile pid_t rx_tid;

static int rx_main(void *arg)
{
	rx_tid = gettid();
	return lcore_main(arg);
}

/* ns this thread ran on a CPU (first field of /proc/self/task/TID/schedstat), 0 when
 * unknown. */
static uint64_t thread_cpu_ns(pid_t tid)
{
	char path[64];
	unsigned long long ns = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu", &ns) != 1)
		ns = 0;
	fclose(f);
	return ns;
}

struct snap {
	double t;
	uint64_t rx_cpu_ns;
	uint64_t rx_pkts, msgs, deliveries, sent, steps, steps_full, drops[DROP__MAX];
	struct latency_hist lat;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void take(struct snap *s, const struct bench_dp *d, const struct gen *g, uint16_t port)
{
	memset(s, 0, sizeof(*s));
	s->t = now_s();
	s->rx_cpu_ns = thread_cpu_ns(rx_tid);
	s->rx_pkts = lcore_map_port_packets(d->map, port);
	s->msgs = bench_feed_messages(d);
	s->deliveries = bench_deliveries(d);
	s->sent = __atomic_load_n(&g->sent, __ATOMIC_RELAXED);
	s->steps = __atomic_load_n(&g->steps, __ATOMIC_RELAXED);
	s->steps_full = __atomic_load_n(&g->steps_full, __ATOMIC_RELAXED);
	table_drops(d->table, s->drops);
	lcore_map_latency(d->map, &s->lat);
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}

static void phase_json(const char *name, const struct snap *a, const struct snap *b,
		       double offered_pps, double mean_frame)
{
	struct latency_hist h;
	struct latency_summary ls;
	double dt = b->t - a->t;
	double cpu_s = (double)(b->rx_cpu_ns - a->rx_cpu_ns) / 1e9;

	latency_diff(&h, &b->lat, &a->lat);
	latency_summarize(&h, rte_get_tsc_hz(), &ls);
	printf("\"%s\": {\"seconds\": %.3f, \"offered_pps\": %.0f, \"pps\": %.0f, "
	       "\"rx_ring_full_frac\": %.3f, \"rx_cpu_share\": %.3f, \"pps_per_rx_cpu_s\": %.0f, "
	       "\"msgs_per_rx_cpu_s\": %.0f, "
	       "\"gbps_in\": %.3f, \"msgs_per_s\": %.0f, \"deliveries_per_s\": %.0f, "
	       "\"drops\": {\"ring_full\": %" PRIu64 ", \"tx_full\": %" PRIu64
	       ", \"no_mbuf\": %" PRIu64 ", \"no_subscriber\": %" PRIu64 ", \"duplicate\": %" PRIu64
	       "}, \"latency_ns\": {\"frames\": %" PRIu64 ", \"mean\": %.0f, \"p50\": %.0f, "
	       "\"p90\": %.0f, \"p99\": %.0f, \"p999\": %.0f, \"max\": %.0f}}",
	       name, dt, offered_pps, (double)(b->rx_pkts - a->rx_pkts) / dt,
	       b->steps > a->steps
		   ? (double)(b->steps_full - a->steps_full) / (double)(b->steps - a->steps)
		   : 0.0,
	       cpu_s / dt, cpu_s > 0 ? (double)(b->rx_pkts - a->rx_pkts) / cpu_s : 0.0,
	       cpu_s > 0 ? (double)(b->msgs - a->msgs) / cpu_s : 0.0,
	       (double)(b->rx_pkts - a->rx_pkts) / dt * (mean_frame + 24) * 8 / 1e9,
	       (double)(b->msgs - a->msgs) / dt, (double)(b->deliveries - a->deliveries) / dt,
	       b->drops[DROP_RING_FULL] - a->drops[DROP_RING_FULL],
	       b->drops[DROP_TX_FULL] - a->drops[DROP_TX_FULL],
	       b->drops[DROP_NO_MBUF] - a->drops[DROP_NO_MBUF],
	       b->drops[DROP_NO_SUBSCRIBER] - a->drops[DROP_NO_SUBSCRIBER],
	       b->drops[DROP_DUPLICATE] - a->drops[DROP_DUPLICATE], ls.count, ls.mean_ns, ls.p50_ns,
	       ls.p90_ns, ls.p99_ns, ls.p999_ns, ls.max_ns);
}

/* --requests: the generator feeds the output port's request queue from `n_req` request
 * frames (two sets, renewed by requests_renew). */
static void requests_setup(struct gen *g, const struct bench_dp *d, uint32_t n_req)
{
	g->req_ring = d->req_ring;
	g->out_ring = d->out_ring;
	g->n_req = n_req;
	g->req = calloc(g->n_req, sizeof(*g->req));
	if (g->req == NULL)
		bench_die("out of memory");
}

/* The fixed load again with requests at full rate (renewed every 20 ms: recent
 * messages): snapshots s4..s5 and the subscribers' counters r0..r1 around it. */
static void requests_phase(struct gen *g, struct bench_dp *d, uint16_t rx_port, uint32_t history,
			   uint16_t count, double seconds, struct snap *s4, struct snap *s5,
			   struct counter_sub *r0, struct counter_sub *r1)
{
	uint64_t rng = 88172645463325252ull;

	requests_renew(g, d, history, count, &rng);
	g->requests_on = 1;
	for (double w = 0; w < 0.3; w += 0.02) {
		sleep_s(0.02);
		requests_renew(g, d, history, count, &rng);
	}
	take(s4, d, g, rx_port);
	bench_subs_sum(d, r0);
	for (double w = 0; w < seconds; w += 0.02) {
		sleep_s(0.02);
		requests_renew(g, d, history, count, &rng);
	}
	take(s5, d, g, rx_port);
	bench_subs_sum(d, r1);
	g->requests_on = 0;
}

static void requests_json(uint32_t history, uint16_t count, const struct counter_sub *r0,
			  const struct counter_sub *r1, double dt)
{
	printf(", \"requests\": {\"history\": %u, \"count\": %u, \"served_per_s\": %.0f, "
	       "\"messages_per_s\": %.0f, \"unavailable_per_s\": %.0f, \"cut_per_s\": %.0f}",
	       history, count, (double)(r1->retransmit_requests - r0->retransmit_requests) / dt,
	       (double)(r1->retransmit_messages - r0->retransmit_messages) / dt,
	       (double)(r1->retransmit_unavailable - r0->retransmit_unavailable) / dt,
	       (double)(r1->retransmit_cut - r0->retransmit_cut) / dt);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    BENCH_FEED_OPTIONS,
	    {"seconds", required_argument, NULL, 'S'},
	    {"load", required_argument, NULL, 'L'},
	    {"pps", required_argument, NULL, 'R'},
	    {"rx-cpu", required_argument, NULL, 'r'},
	    {"tx-cpu", required_argument, NULL, 't'},
	    {"requests", no_argument, NULL, 'Q'},
	    {"count", required_argument, NULL, 'C'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_params p = BENCH_PARAMS_DEFAULT;
	double seconds = 2.0, load = 0.25, pps = 0;
	bool requests = false;
	uint16_t count = 100;
	unsigned int rx_cpu = 1, tx_cpu = 0;
	int huge = 0, c;
	char prefix[64], lcores[64], err[1024], model[256];
	static struct bench_dp d;
	static struct gen g;
	struct bench_feed f;
	struct rte_mempool *pool;

	bench_prog = "aster-bench-e2e";
	snprintf(prefix, sizeof(prefix), "aster-bench-%d", (int)getpid());
	opterr = 0; /* one line of our own for a bad option */
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			seconds = bench_num("--seconds", optarg, 0.1, 600);
			break;
		case 'L':
			load = bench_num("--load", optarg, 0.001, 1);
			break;
		case 'R':
			pps = bench_num("--pps", optarg, 1, 1e9);
			break;
		case 'r':
			rx_cpu = (unsigned int)bench_num("--rx-cpu", optarg, 0, 1023);
			break;
		case 't':
			tx_cpu = (unsigned int)bench_num("--tx-cpu", optarg, 0, 1023);
			break;
		case 'Q':
			requests = true;
			break;
		case 'C':
			count = (uint16_t)bench_num("--count", optarg, 1, MOLD_REQUEST_COUNT_MAX);
			break;
		default:
			if (!bench_feed_option(c, optarg, &p, &huge, prefix, sizeof(prefix)))
				bench_die("%s: unknown or incomplete option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bench_die("unexpected argument '%s'", argv[optind]);
	if (requests && p.history == 0)
		p.history = 100000;
	if (bench_feed_build(&f, &p, err, sizeof(err)) != 0)
		bench_die("%s", err);
	snprintf(lcores, sizeof(lcores), "0@%u,1@%u,2@%u", tx_cpu, rx_cpu, tx_cpu);
	if (bench_eal_init(argv[0], lcores, prefix, huge, bench_memory_mb(&f, &p)) < 0)
		bench_die("EAL start failed (lcores %s, %s)", lcores,
			  huge ? "hugepages" : "--no-huge");
	if (report_telemetry_register() != 0)
		fprintf(stderr, "aster-bench-e2e: telemetry commands not registered\n");

	/* The RX port: a net_ring ethdev over the generator's ring. */
	g.ring = rte_ring_create("bench_gen", GEN_RING_SIZE, (int)rte_socket_id(),
				 RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (g.ring == NULL)
		bench_die("generator ring: %s", rte_strerror(rte_errno));
	int rc = rte_eth_from_ring(g.ring);

	if (rc < 0)
		bench_die("net_ring port: %s", rte_strerror(rte_errno));
	uint16_t rx_port = (uint16_t)rc;

	bench_profile(&d.prof, 1, (uint16_t)rx_cpu, 2, (uint16_t)tx_cpu, p.n_subs * f.n_feeds);
	d.requests = requests;
	if (bench_dp_start(&d, f.yaml, &rx_port, 1, &pool, err, sizeof(err)) != 0)
		bench_die("%s", err);
	if (requests)
		requests_setup(&g, &d, 4 * p.n_subs * f.n_feeds);
	if (port_start(rx_port, 1, 1, &d.prof, pool, err, sizeof(err)) != 0)
		bench_die("%s", err);

	g.f = &f;
	g.pool = pool;
	g.tx = lcore_map_tx(d.map, 0);
	g.tx_ring = lcore_map_ring(d.map, 0, 0);
	/* the RX stage's own loop on its lcore (1, bench_profile); the TX stage turns with
	 * the generator on the other */
	rte_eal_remote_launch(rx_main, lcore_map_ctx(d.map, 1), 1);
	rte_eal_remote_launch(gen_tx_main, &g, tx_lcore_id(g.tx));
	report_telemetry_attach(d.table, d.map);

	/* the directory, then half a second of warm-up at saturation */
	while (__atomic_load_n(&g.sent, __ATOMIC_RELAXED) < f.n_directory)
		sleep_s(0.01);
	sleep_s(0.5);

	struct snap s0, s1, s2, s3;
	double mean_frame = (double)f.total_bytes / (double)(f.n_frames - f.n_directory);

	take(&s0, &d, &g, rx_port);
	sleep_s(seconds);
	take(&s1, &d, &g, rx_port);
	double sat_pps = (double)(s1.rx_pkts - s0.rx_pkts) / (s1.t - s0.t);
	double offered = pps > 0 ? pps : sat_pps * load;

	g.rate_pps = (uint64_t)offered;
	sleep_s(0.3);
	take(&s2, &d, &g, rx_port);
	sleep_s(seconds);
	take(&s3, &d, &g, rx_port);

	/* the same load, requests at full rate (renewed every 20 ms: recent messages) */
	struct snap s4, s5;
	struct counter_sub r0, r1;

	if (requests)
		requests_phase(&g, &d, rx_port, p.history, count, seconds, &s4, &s5, &r0, &r1);

	g.stop = 1;
	lcore_map_stop(d.map);
	report_telemetry_detach();

	bench_cpu_model(model, sizeof(model));
	printf("{\"subs\": %u, \"symbols\": %u, \"patterns\": %u, \"kind\": \"%s\", "
	       "\"mean_frame_bytes\": %.1f, \"msgs_per_packet\": %.2f, \"rx_cpu\": %u, "
	       "\"tx_gen_cpu\": %u, \"hugepages\": %s, \"cpu\": \"%s\", \"tsc_hz\": %" PRIu64 ", ",
	       p.n_subs, p.n_symbols, p.n_patterns > p.n_subs ? p.n_patterns : p.n_subs,
	       bench_kind_name(p.kind), mean_frame,
	       (double)(f.trading_msgs[0] * f.n_feeds) / (double)(f.n_frames - f.n_directory),
	       rx_cpu, tx_cpu, huge ? "true" : "false", model, rte_get_tsc_hz());
	phase_json("saturation", &s0, &s1, 0, mean_frame);
	printf(", ");
	phase_json("fixed_load", &s2, &s3, offered, mean_frame);
	if (requests) {
		printf(", ");
		phase_json("fixed_load_requests", &s4, &s5, offered, mean_frame);
		requests_json(p.history, count, &r0, &r1, s5.t - s4.t);
	}
	printf(", \"generator_nombuf\": %" PRIu64 "}\n", g.nombuf);

	port_close(rx_port);
	bench_dp_stop(&d);
	rte_ring_free(g.ring);
	free(g.req);
	bench_feed_free(&f);
	bench_eal_cleanup();
	return 0;
}
