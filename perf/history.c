/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-bench-history: what keeping a retransmission history (docs/protocol.md §6.2)
 * costs per message on the framing path, for the two designs the at-least-once work
 * had to choose between (docs/at-least-once.md, "Subscriber history"):
 *
 *   ring  - the shipped byte ring (dataplane/history.h): when a frame closes, its
 *           message blocks are copied into the subscriber's ring in one piece, with
 *           one frame entry (history_frame);
 *   mbuf  - the output frames themselves are kept: each closed frame's mbuf gets one
 *           more reference (rte_mbuf_refcnt_update) and goes into the subscriber's
 *           ring of frames; the oldest frames are freed once the newer ones hold at
 *           least `history` messages. TX's free then only drops a reference.
 *
 * against `none`, the framing alone: per frame an mbuf from the pool, the message
 * blocks copied into it after the headers, and the free TX does once it is sent.
 * Frames go round robin over `subs` subscribers with `per-frame` messages each
 * (ITCH 5.0 lengths in the TotalView mix of perf/bench_feed.h). The three designs run
 * in turn, `rounds` times (the machine is shared: alternating spreads its noise); each
 * run is timed in chunks of 8192 messages and the median chunk of each design is
 * printed (a chunk the kernel preempted is an outlier), with the memory each keeps per
 * message.
 *
 * Serving side, one core: `ring` copies the messages of an answer out of the ring
 * (history_read, up to a 1400-byte payload); `mbuf` builds an answer as retransmission
 * would: a header mbuf with an indirect clone of the kept frame chained behind it,
 * trimmed to start at the requested message, then freed (as TX would).
 *
 *   aster-bench-history [--subs N] [--history N] [--per-frame N[,N...]] [--messages N]
 *                       [--rounds N] [--prefix NAME] [--huge]
 *   (defaults: 32 subscribers, history 8192, per-frame 1,4,12,32, 4 000 000 messages,
 *    5 rounds)
 *
 * Prints one JSON object per `per-frame` value.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>

#include "bench_feed.h"
#include "history.h"

#define HDRS	   (14 + 20 + 8 + 20) /* Ethernet, IPv4, UDP, MoldUDP64 header */
#define MAX_PAY	   1400
#define N_MSGS	   (1u << 16) /* distinct messages, reused round robin */
#define MAX_ROUNDS 15

enum design { NONE, RING, MBUF, N_DESIGNS };

/* The message pool: ITCH 5.0 lengths in the TotalView mix, random bytes. */
static uint8_t msg_bytes[N_MSGS][50];
static uint16_t msg_len[N_MSGS];

/* One kept frame of the mbuf design. */
struct kept {
	struct rte_mbuf *m;
	uint64_t first_seq;
	uint16_t n;
};

struct sub {
	uint64_t next_seq;
	struct history h;
	void *mem;
	/* mbuf design: a ring of kept frames */
	struct kept *kept;
	uint32_t cap, head, count;
	uint64_t kept_msgs;
};

static struct sub *subs;
static uint32_t n_subs = 32, history = 8192, rounds = 5;
static uint64_t messages = 4000000;
static struct rte_mempool *pool, *clone_pool;

static void make_messages(void)
{
	/* A 38 %, D 36 %, U 11 %, E 6 %, X 4 %, F 2 %, P 2 %, C 1 % (bench_feed.h) */
	static const struct {
		uint16_t len;
		unsigned int pct;
	} mix[] = {{36, 38}, {19, 36}, {35, 11}, {31, 6}, {23, 4}, {40, 2}, {44, 2}, {36, 1}};
	uint64_t x = 88172645463325252ull;

	for (uint32_t i = 0; i < N_MSGS; i++) {
		unsigned int r, acc = 0;
		size_t k = 0;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		r = (unsigned int)(x % 100);
		while (k + 1 < RTE_DIM(mix) && r >= acc + mix[k].pct)
			acc += mix[k++].pct;
		msg_len[i] = mix[k].len;
		for (uint16_t j = 0; j < msg_len[i]; j++)
			msg_bytes[i][j] = (uint8_t)(x >> (j % 56));
	}
}

static void keep_frame(struct sub *s, struct rte_mbuf *m, uint64_t first, uint16_t n)
{
	rte_mbuf_refcnt_update(m, 1);
	s->kept[(s->head + s->count) % s->cap] = (struct kept){m, first, n};
	s->count++;
	s->kept_msgs += n;
	/* free the oldest while the newer ones still hold `history` messages */
	while (s->count > 0 && s->kept_msgs - s->kept[s->head].n >= history) {
		s->kept_msgs -= s->kept[s->head].n;
		rte_pktmbuf_free(s->kept[s->head].m);
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
	if (s->count == s->cap)
		bench_die("kept-frame ring full");
}

/*
 * `n_frames` frames of `per_frame` messages, timed in chunks of CHUNK_MSGS messages:
 * cycles per message of each chunk go to `cpm` (when not NULL), so a chunk the kernel
 * preempted (the machine is shared) is an outlier the median ignores.
 */
#define CHUNK_MSGS 8192
static double *cpm;
static size_t n_cpm, cap_cpm;

static void frame_run(enum design d, uint64_t n_frames, uint32_t per_frame, uint32_t *mi,
		      bool timed)
{
	uint64_t t0 = rte_rdtsc(), chunk = (CHUNK_MSGS + per_frame - 1) / per_frame;

	for (uint64_t f = 0; f < n_frames; f++) {
		if (timed && f % chunk == 0 && f > 0) {
			uint64_t t = rte_rdtsc();

			if (n_cpm < cap_cpm)
				cpm[n_cpm++] = (double)(t - t0) / (double)(chunk * per_frame);
			t0 = t;
		}
		struct sub *s = &subs[f % n_subs];
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint64_t first = s->next_seq;
		uint8_t *p;
		uint32_t off = HDRS;

		if (m == NULL)
			bench_die("output mempool empty");
		p = rte_pktmbuf_mtod(m, uint8_t *);
		for (uint32_t k = 0; k < per_frame; k++) {
			uint32_t i = (*mi)++ & (N_MSGS - 1);
			uint16_t len = msg_len[i];

			p[off] = (uint8_t)(len >> 8);
			p[off + 1] = (uint8_t)len;
			memcpy(p + off + 2, msg_bytes[i], len);
			off += 2u + len;
			s->next_seq++;
		}
		m->data_len = (uint16_t)off;
		m->pkt_len = off;
		if (d == RING)
			history_frame(&s->h, first, p + HDRS, off - HDRS, (uint16_t)per_frame);
		else if (d == MBUF)
			keep_frame(s, m, first, (uint16_t)per_frame);
		rte_pktmbuf_free(m); /* what TX does once the frame is sent */
	}
}

static void reset_subs(uint32_t per_frame)
{
	for (uint32_t i = 0; i < n_subs; i++) {
		struct sub *s = &subs[i];

		while (s->count > 0) {
			rte_pktmbuf_free(s->kept[s->head].m);
			s->head = (s->head + 1) % s->cap;
			s->count--;
		}
		s->head = 0;
		s->kept_msgs = 0;
		s->next_seq = 1;
		history_init(&s->h, history, s->mem);
	}
	(void)per_frame;
}

/* Answers of up to MAX_PAY bytes from random kept sequences, one core. Returns cycles,
 * and the messages served in *served. */
static uint64_t serve_run(enum design d, uint32_t n_answers, uint64_t *served)
{
	static uint8_t out[MAX_PAY];
	uint64_t x = 2463534242ull, t0, msgs = 0;

	t0 = rte_rdtsc();
	for (uint32_t a = 0; a < n_answers; a++) {
		struct sub *s = &subs[a % n_subs];

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (d == RING) {
			uint64_t newest = history_committed(&s->h);
			uint64_t seq = newest - 1 - x % (history - 1);
			uint16_t n;
			uint32_t bytes;

			if (history_read(&s->h, seq, 0xFFFE, MAX_PAY - 20, out, &n, &bytes, NULL) ==
			    HISTORY_OK)
				msgs += n;
		} else {
			const struct kept *k = &s->kept[(s->head + x % s->count) % s->cap];
			uint32_t skip = (uint32_t)(x >> 32) % k->n, off = HDRS;
			const uint8_t *p = rte_pktmbuf_mtod(k->m, const uint8_t *);
			struct rte_mbuf *hdr = rte_pktmbuf_alloc(pool);
			struct rte_mbuf *c = rte_pktmbuf_clone(k->m, clone_pool);

			if (hdr == NULL || c == NULL)
				bench_die("mempool empty while serving");
			for (uint32_t j = 0; j < skip; j++)
				off += 2u + (uint32_t)(p[off] << 8 | p[off + 1]);
			rte_pktmbuf_adj(c, (uint16_t)off);
			memcpy(rte_pktmbuf_append(hdr, HDRS), p, HDRS); /* new header, count */
			if (rte_pktmbuf_chain(hdr, c) != 0)
				bench_die("chain failed");
			msgs += k->n - skip;
			rte_pktmbuf_free(hdr); /* TX */
		}
	}
	*served = msgs;
	return rte_rdtsc() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, uint32_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void measure(uint32_t per_frame)
{
	static double *chunks[N_DESIGNS];
	static size_t n_chunks[N_DESIGNS];
	double serve[N_DESIGNS][MAX_ROUNDS];
	uint64_t n_frames = messages / per_frame, served;
	double hz = (double)rte_get_tsc_hz();
	uint32_t mi = 0;

	cap_cpm = (size_t)(messages / CHUNK_MSGS + 2) * rounds;
	for (int d = 0; d < N_DESIGNS; d++) {
		free(chunks[d]);
		chunks[d] = calloc(cap_cpm, sizeof(double));
		n_chunks[d] = 0;
		if (chunks[d] == NULL)
			bench_die("out of memory");
	}
	for (uint32_t r = 0; r < rounds; r++) {
		for (int d = 0; d < N_DESIGNS; d++) {
			reset_subs(per_frame);
			/* fill every history first (off the clock), then time steady state */
			frame_run((enum design)d, (uint64_t)n_subs * history / per_frame + n_subs,
				  per_frame, &mi, false);
			cpm = chunks[d];
			n_cpm = n_chunks[d];
			frame_run((enum design)d, n_frames, per_frame, &mi, true);
			n_chunks[d] = n_cpm;
			if (d != NONE) {
				uint32_t n = 200000;
				uint64_t c = serve_run((enum design)d, n, &served);

				serve[d][r] = served ? (double)c / (double)served : 0;
			}
		}
	}
	double c[N_DESIGNS], s[N_DESIGNS] = {0};

	for (int d = 0; d < N_DESIGNS; d++) {
		c[d] = median(chunks[d], (uint32_t)n_chunks[d]);
		if (d != NONE)
			s[d] = median(serve[d], rounds);
	}
	/* memory kept per message: the ring's bytes and index; whole mbufs per frame */
	double ring_b = (double)history_mem_size(history) / history;
	double mbuf_b = (double)(sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE) / per_frame;

	printf("{\"per_frame\": %u, \"subs\": %u, \"history\": %u, \"messages\": %lu, "
	       "\"rounds\": %u, \"tsc_hz\": %.0f,\n"
	       " \"frame_ns_per_msg\": {\"none\": %.2f, \"ring\": %.2f, \"mbuf\": %.2f},\n"
	       " \"history_ns_per_msg\": {\"ring\": %.2f, \"mbuf\": %.2f},\n"
	       " \"serve_ns_per_msg\": {\"ring\": %.2f, \"mbuf\": %.2f},\n"
	       " \"kept_bytes_per_msg\": {\"ring\": %.1f, \"mbuf\": %.1f}}\n",
	       per_frame, n_subs, history, (unsigned long)(n_frames * per_frame), rounds, hz,
	       c[NONE] * 1e9 / hz, c[RING] * 1e9 / hz, c[MBUF] * 1e9 / hz,
	       (c[RING] - c[NONE]) * 1e9 / hz, (c[MBUF] - c[NONE]) * 1e9 / hz, s[RING] * 1e9 / hz,
	       s[MBUF] * 1e9 / hz, ring_b, mbuf_b);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"subs", required_argument, NULL, 'u'},
	    {"history", required_argument, NULL, 'h'},
	    {"per-frame", required_argument, NULL, 'f'},
	    {"messages", required_argument, NULL, 'm'},
	    {"rounds", required_argument, NULL, 'r'},
	    {"prefix", required_argument, NULL, 'P'},
	    {"huge", no_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0},
	};
	char prefix[64], per_frame_list[128] = "1,4,12,32";
	uint32_t min_pf = 40;
	int c, huge = 0;

	bench_prog = "aster-bench-history";
	snprintf(prefix, sizeof(prefix), "aster-bench-history-%d", (int)getpid());
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			n_subs = (uint32_t)bench_num("--subs", optarg, 1, 4096);
			break;
		case 'h':
			history = (uint32_t)bench_num("--history", optarg, 64, 10000000);
			break;
		case 'f':
			snprintf(per_frame_list, sizeof(per_frame_list), "%s", optarg);
			break;
		case 'm':
			messages = (uint64_t)bench_num("--messages", optarg, 1000, 1e10);
			break;
		case 'r':
			rounds = (uint32_t)bench_num("--rounds", optarg, 1, MAX_ROUNDS);
			break;
		case 'P':
			snprintf(prefix, sizeof(prefix), "%s", optarg);
			break;
		case 'H':
			huge = 1;
			break;
		default:
			bench_die("%s: unknown or incomplete option", argv[optind - 1]);
		}
	}
	for (char *t = per_frame_list; *t != '\0';) {
		uint32_t v = (uint32_t)strtoul(t, &t, 10);

		if (v < 1 || v > 40 || (*t != ',' && *t != '\0'))
			bench_die("--per-frame: 1..40, comma separated");
		min_pf = v < min_pf ? v : min_pf;
		t += *t == ',';
	}
	make_messages();

	/* the mbuf design keeps history / per_frame frames per subscriber (per_frame 1: one
	 * mbuf per kept message), plus what is in flight; the rings are plain memory */
	uint64_t n_mbufs = (uint64_t)n_subs * (history / min_pf + 2) + 8192;
	unsigned int mem_mb = (unsigned int)(n_mbufs * 3072 / (1 << 20) + 512);

	if (bench_eal_init(argv[0], "0@0", prefix, huge, mem_mb) < 0)
		bench_die("EAL start failed (%u MB, %s)", mem_mb, huge ? "hugepages" : "--no-huge");
	pool = rte_pktmbuf_pool_create("hist_out", (unsigned int)n_mbufs, 256, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	clone_pool = rte_pktmbuf_pool_create("hist_clone", 8192, 256, 0, 0, SOCKET_ID_ANY);
	subs = calloc(n_subs, sizeof(*subs));
	if (pool == NULL || clone_pool == NULL || subs == NULL)
		bench_die("cannot allocate %lu mbufs (%u MB)", (unsigned long)n_mbufs, mem_mb);
	for (uint32_t i = 0; i < n_subs; i++) {
		subs[i].mem = aligned_alloc(64, (history_mem_size(history) + 63) & ~(size_t)63);
		subs[i].cap = history + 2;
		subs[i].kept = calloc(subs[i].cap, sizeof(*subs[i].kept));
		if (subs[i].mem == NULL || subs[i].kept == NULL)
			bench_die("out of memory");
	}
	for (char *t = per_frame_list; *t != '\0';) {
		measure((uint32_t)strtoul(t, &t, 10));
		t += *t == ',';
	}
	reset_subs(1);
	bench_eal_cleanup();
	return 0;
}
