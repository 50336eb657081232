/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the benchmarks (perf/) feed the dataplane: a synthetic but realistic ITCH 5.0 /
 * MoldUDP64 feed and the routing table that subscribes to it, built in memory so each
 * point of the grid (subscribers x symbols x patterns x pattern kind) costs no files.
 *
 *  - symbols: `n_symbols` distinct 3-4 letter tickers; a feed has at most 65 535
 *    locates (ITCH's u16), so larger universes are split over several feeds, each on
 *    its own multicast line, each with the full set of subscribers.
 *  - messages: a stock directory (R) for every symbol first (binds every locate,
 *    docs/protocol.md §3.4), then the order-book mix of a TotalView day (A 38 %, D 36 %, U 11 %, E
 * 6 %, X 4 %, F 2 %, P 2 %, C 1 %) over Zipf(1.1)-popular symbols; 1-16 messages per MoldUDP64
 * packet (mean 8.5), one line per feed, sequence numbers contiguous.
 *  - patterns: `n_patterns` (at least one per subscriber) spread evenly over the
 *    subscribers. A subscriber's first pattern is aimed at a symbol drawn from the
 *    same Zipf popularity; the others are decoys (the ticker's last letter replaced by
 *    a digit, which no ticker has), so the rule set grows with `n_patterns` while the
 *    fan-out (deliveries per message) does not. `exact` `^SYM$`, `prefix` `^SY` (all
 *    but the last letter), `regex` `^S.M$`-style (a wildcard in the second position).
 */
#ifndef ASTER_BENCH_FEED_H
#define ASTER_BENCH_FEED_H

#include <stddef.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#define BENCH_LOCATES_PER_FEED 65535u
#define BENCH_SESSION	       "BENCH00001"

enum bench_kind { BENCH_EXACT, BENCH_PREFIX, BENCH_REGEX };

struct bench_params {
	uint32_t n_subs;
	uint32_t n_symbols;
	uint32_t n_patterns;
	enum bench_kind kind;
	uint32_t n_packets; /* trading packets per feed after the directory */
	uint64_t seed;
	uint32_t history; /* messages each subscriber keeps for retransmission (§6.2), 0: none */
};

/* One frame as it arrives: Ethernet / IPv4 / UDP / MoldUDP64. `seq` is its first
 * message's sequence number, patched in place (offset seq_off) when looped. */
struct bench_frame {
	uint32_t off; /* into bench_feed.bytes */
	uint16_t len;
	uint16_t n_msgs;
	uint16_t feed;
	uint64_t seq;
};

struct bench_feed {
	uint32_t n_feeds;
	char *yaml; /* routing table text (docs/protocol.md §4) */
	uint8_t *bytes;
	/* the directory (R for every locate), then the trading packets, feeds interleaved */
	struct bench_frame *frames;
	uint32_t n_frames;
	uint32_t n_directory;	  /* frames[0 .. n_directory) */
	uint64_t trading_msgs[8]; /* per feed: messages in the trading frames (loop stride) */
	uint64_t total_bytes;	  /* of the trading frames */
};

#define BENCH_MOLD_SEQ_OFF (14 + 20 + 8 + 10) /* frame offset of the MoldUDP64 sequence */

int bench_kind_parse(const char *s, enum bench_kind *k);

/* The feed every benchmark uses unless its options say otherwise (docs/performance.md). */
#define BENCH_PARAMS_DEFAULT                                                                       \
	{                                                                                          \
		.n_subs = 64, .n_symbols = 8000, .n_patterns = 1000, .kind = BENCH_EXACT,          \
		.n_packets = 20000, .seed = 1                                                      \
	}

/* The workload and EAL options every benchmark takes, for its getopt_long table; a
 * benchmark's own options use other letters. */
#define BENCH_FEED_OPTIONS                                                                         \
	{"subs", required_argument, NULL, 'u'}, {"symbols", required_argument, NULL, 'y'},         \
	    {"patterns", required_argument, NULL, 'p'}, {"kind", required_argument, NULL, 'k'},    \
	    {"packets", required_argument, NULL, 'n'}, {"huge", no_argument, NULL, 'H'},           \
	    {"history", required_argument, NULL, 'h'},                                             \
	{                                                                                          \
		"prefix", required_argument, NULL, 'P'                                             \
	}

/* The running benchmark's name, for bench_die's messages. */
extern const char *bench_prog;

/* One line "PROG: message" on stderr, exit status 2 (bad usage or a failed start). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* `s` as a number in min..max, or bench_die naming the option. */
double bench_num(const char *opt, const char *s, double min, double max);

/* Apply option `c` (one of BENCH_FEED_OPTIONS) with argument `arg`; false when `c` is
 * not one of them. `prefix` holds prefix_len bytes. */
bool bench_feed_option(int c, const char *arg, struct bench_params *p, int *huge, char *prefix,
		       size_t prefix_len);
const char *bench_kind_name(enum bench_kind k);

/* EAL memory (MB) for the benchmark's pools and, with `history`, its histories. */
uint32_t bench_memory_mb(const struct bench_feed *f, const struct bench_params *p);

/* Build the feed and its table; 0 or -errno with `err` filled. */
int bench_feed_build(struct bench_feed *f, const struct bench_params *p, char *err, size_t errlen);
void bench_feed_free(struct bench_feed *f);

/* Write frame `i` into `dst` with its sequence advanced by `seq_add`. */
void bench_frame_copy(const struct bench_feed *f, uint32_t i, uint64_t seq_add, uint8_t *dst);

/* Start EAL for a benchmark: `lcores` as for --lcores, no PCI, own file prefix, 4 KiB
 * pages (`mem_mb`) unless `huge`. Returns rte_eal_init's result. */
int bench_eal_init(const char *prog, const char *lcores, const char *prefix, int huge,
		   unsigned int mem_mb);

/* rte_eal_cleanup, then remove this process's runtime directory (/var/run/dpdk/PREFIX):
 * EAL leaves it behind, and every run has a prefix of its own. */
void bench_eal_cleanup(void);

/* "model name" of /proc/cpuinfo, for the results. */
void bench_cpu_model(char *buf, size_t len);

#endif
