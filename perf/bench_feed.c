/* SPDX-License-Identifier: BSD-3-Clause */
/* The benchmarks' synthetic feed and routing table (bench_feed.h). Off the clock. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>

#include "bench_feed.h"
#include "history.h"

#include "../common/routing_config.h"

#define FRAME_HDRS    (14 + 20 + 8)
#define MOLD_HDR      20
#define DIR_PER_PKT   32
#define MAX_PER_PKT   16
#define FRAME_ROOM    (FRAME_HDRS + MOLD_HDR + DIR_PER_PKT * 52)
#define ZIPF_S	      1.1
#define FEED_PORT     26400
#define SYMBOL_OFFSET 703 /* bijective base 26: 703 is "AAA" */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

const char *bench_prog = "aster-bench";

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

double bench_num(const char *opt, const char *s, double min, double max)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || v < min || v > max)
		bench_die("%s: '%s' is not a number in %g..%g", opt, s, min, max);
	return v;
}

bool bench_feed_option(int c, const char *arg, struct bench_params *p, int *huge, char *prefix,
		       size_t prefix_len)
{
	switch (c) {
	case 'u':
		p->n_subs = (uint32_t)bench_num("--subs", arg, 1, 4096);
		return true;
	case 'y':
		p->n_symbols = (uint32_t)bench_num("--symbols", arg, 1, 8 * BENCH_LOCATES_PER_FEED);
		return true;
	case 'p':
		p->n_patterns = (uint32_t)bench_num("--patterns", arg, 1, 1e7);
		return true;
	case 'k':
		if (bench_kind_parse(arg, &p->kind) != 0)
			bench_die("--kind: '%s' is not exact, prefix or regex", arg);
		return true;
	case 'n':
		p->n_packets = (uint32_t)bench_num("--packets", arg, 1, 1e7);
		return true;
	case 'H':
		*huge = 1;
		return true;
	case 'P':
		snprintf(prefix, prefix_len, "%s", arg);
		return true;
	case 'h':
		p->history = (uint32_t)bench_num("--history", arg, 0, RC_HISTORY_MAX);
		return true;
	default:
		return false;
	}
}

int bench_kind_parse(const char *s, enum bench_kind *k)
{
	if (strcmp(s, "exact") == 0)
		*k = BENCH_EXACT;
	else if (strcmp(s, "prefix") == 0)
		*k = BENCH_PREFIX;
	else if (strcmp(s, "regex") == 0)
		*k = BENCH_REGEX;
	else
		return -EINVAL;
	return 0;
}

const char *bench_kind_name(enum bench_kind k)
{
	return k == BENCH_EXACT ? "exact" : k == BENCH_PREFIX ? "prefix" : "regex";
}

/* A growing text buffer for the YAML. */
struct text {
	char *p;
	size_t len, cap;
};

static int text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < t->cap - t->len)
			break;
		size_t cap = t->cap * 2 + (size_t)n + 4096;
		char *p = realloc(t->p, cap);

		if (p == NULL)
			return -ENOMEM;
		t->p = p;
		t->cap = cap;
	}
	t->len += (size_t)n;
	return 0;
}

/* Ticker of symbol index i: 3-4 upper-case letters, unique. */
static void ticker(uint32_t i, char out[9])
{
	char tmp[9];
	uint32_t v = i + SYMBOL_OFFSET, n = 0;

	while (v > 0 && n < 8) {
		v--;
		tmp[n++] = (char)('A' + v % 26);
		v /= 26;
	}
	for (uint32_t k = 0; k < n; k++)
		out[k] = tmp[n - 1 - k];
	out[n] = '\0';
}

struct zipf {
	uint32_t n;
	double *cdf;
	uint32_t *sym; /* rank -> symbol index within the feed */
};

static int zipf_init(struct zipf *z, uint32_t n, struct rng *r)
{
	double sum = 0;

	z->n = n;
	z->cdf = malloc(n * sizeof(*z->cdf));
	z->sym = malloc(n * sizeof(*z->sym));
	if (z->cdf == NULL || z->sym == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), ZIPF_S);
		z->cdf[i] = sum;
		z->sym[i] = i;
	}
	for (uint32_t i = 0; i < n; i++)
		z->cdf[i] /= sum;
	for (uint32_t i = n; i > 1; i--) { /* popularity is not locate order */
		uint32_t j = rng_below(r, i);
		uint32_t t = z->sym[i - 1];

		z->sym[i - 1] = z->sym[j];
		z->sym[j] = t;
	}
	return 0;
}

static uint32_t zipf_draw(const struct zipf *z, struct rng *r)
{
	double u = (double)(rng_next(r) >> 11) * 0x1p-53;
	uint32_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return z->sym[lo];
}

static void zipf_free(struct zipf *z)
{
	free(z->cdf);
	free(z->sym);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t feed_group(uint32_t feed)
{
	return (233u << 24) | (54u << 16) | (12u << 8) | (100u + feed);
}

/* Eth / IPv4 / UDP / MoldUDP64 header for a payload of `payload` bytes. */
static void frame_headers(uint8_t *p, uint32_t feed, uint32_t payload, uint64_t seq, uint16_t n,
			  uint16_t ip_id)
{
	static const uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
	uint32_t group = feed_group(feed);
	uint32_t sum = 0;

	/* IPv4 multicast MAC: 01:00:5e + low 23 bits of the group */
	p[0] = 0x01, p[1] = 0x00, p[2] = 0x5e;
	p[3] = (uint8_t)((group >> 16) & 0x7f), p[4] = (uint8_t)(group >> 8), p[5] = (uint8_t)group;
	memcpy(p + 6, src_mac, 6);
	put16(p + 12, 0x0800);
	uint8_t *ip = p + 14;

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + payload));
	put16(ip + 4, ip_id);
	put16(ip + 6, 0x4000);
	ip[8] = 32;
	ip[9] = 17;
	put32(ip + 12, (10u << 24) | 1);
	put32(ip + 16, group);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, (uint16_t)~sum);
	uint8_t *udp = ip + 20;

	put16(udp, 26477);
	put16(udp + 2, (uint16_t)(FEED_PORT + feed));
	put16(udp + 4, (uint16_t)(8 + payload));
	put16(udp + 6, 0);
	memcpy(udp + 8, BENCH_SESSION, 10);
	put64(udp + 18, seq);
	put16(udp + 26, n);
}

/* ITCH 5.0 (docs/protocol.md §2): type, length, stock offset of the types the mix uses. */
static const struct {
	char type;
	uint8_t len, stock, pct;
} mix[] = {
    {'A', 36, 24, 38}, {'D', 19, 0, 36}, {'U', 35, 0, 11}, {'E', 31, 0, 6},
    {'X', 23, 0, 4},   {'F', 40, 24, 2}, {'P', 44, 24, 2}, {'C', 36, 0, 1},
};

/* One ITCH message at `m`; returns its length. */
static uint32_t message(uint8_t *m, char type, uint32_t len, uint32_t stock_off, uint16_t locate,
			const char *sym, uint64_t ts, struct rng *r)
{
	memset(m, 0, len);
	m[0] = (uint8_t)type;
	put16(m + 1, locate);
	put16(m + 3, 0);
	put16(m + 5, (uint16_t)(ts >> 32));
	put32(m + 7, (uint32_t)ts);
	for (uint32_t i = 11; i < len; i++)
		m[i] = (uint8_t)rng_next(r);
	if (stock_off != 0) {
		memset(m + stock_off, ' ', 8);
		memcpy(m + stock_off, sym, strlen(sym));
	}
	return len;
}

static int add_frame(struct bench_feed *f, uint32_t *cap_frames, size_t *cap_bytes)
{
	if (f->n_frames == *cap_frames) {
		uint32_t cap = *cap_frames * 2 + 1024;
		struct bench_frame *fr = realloc(f->frames, cap * sizeof(*fr));

		if (fr == NULL)
			return -ENOMEM;
		f->frames = fr;
		*cap_frames = cap;
	}
	size_t used =
	    f->n_frames ? f->frames[f->n_frames - 1].off + f->frames[f->n_frames - 1].len : 0;
	if (used + FRAME_ROOM > *cap_bytes) {
		size_t cap = *cap_bytes * 2 + (1u << 20);
		uint8_t *b = realloc(f->bytes, cap);

		if (b == NULL)
			return -ENOMEM;
		f->bytes = b;
		*cap_bytes = cap;
	}
	f->frames[f->n_frames].off = (uint32_t)used;
	return 0;
}

/*
 * The routing table. Its random draws come from two streams of their own, one for each
 * subscriber's popular symbol and one for the decoys, so the feed and every
 * subscriber's real pattern are the same whatever the number of patterns: a grid over
 * patterns changes the rule set and nothing else.
 */
static int build_yaml(struct bench_feed *f, const struct bench_params *p, uint32_t per_feed,
		      struct zipf *zf)
{
	struct rng pop = {p->seed * 0x2545f4914f6cdd1dull + 7};
	struct rng dec = {p->seed * 0x9e3779b97f4a7c15ull + 13};
	struct text t = {0};
	uint32_t n_pat = p->n_patterns > p->n_subs ? p->n_patterns : p->n_subs;
	int rc = 0;

	rc |= text_add(&t, "feeds:\n");
	for (uint32_t k = 0; k < f->n_feeds; k++) {
		uint32_t g = feed_group(k);

		rc |= text_add(&t,
			       "  - name: f%u\n    protocol: moldudp64-itch50\n    lines:\n"
			       "      - {name: A, group: %u.%u.%u.%u, port: %u}\n",
			       k, g >> 24, (g >> 16) & 255, (g >> 8) & 255, g & 255, FEED_PORT + k);
	}
	/* with a history, the port serves retransmission requests (docs/protocol.md §6.2) */
	rc |= text_add(&t, "ports:\n  - name: out0\n");
	if (p->history != 0)
		rc |= text_add(&t, "    src_ip: 10.2.255.254\n"
				   "    retransmit: {port: 31999, rate: 100000000}\n");
	rc |= text_add(&t, "subscribers:\n");
	for (uint32_t k = 0; k < f->n_feeds; k++) {
		uint32_t base = k * per_feed;
		uint32_t n_sym = p->n_symbols - base < per_feed ? p->n_symbols - base : per_feed;

		for (uint32_t s = 0; s < p->n_subs; s++) {
			uint32_t id = k * p->n_subs + s;
			uint32_t mine = n_pat / p->n_subs + (s < n_pat % p->n_subs);

			rc |=
			    text_add(&t,
				     "  - name: f%u-s%u\n    feed: f%u\n    port: out0\n"
				     "    dst: {mac: \"02:00:00:%02x:%02x:%02x\", ip: 10.2.%u.%u, "
				     "port: %u}\n    session: S%09u\n    symbols: [",
				     k, s, k, (id >> 16) & 255, (id >> 8) & 255, id & 255,
				     (id >> 8) & 255, id & 255, 30000 + id % 30000, id);
			for (uint32_t j = 0; j < mine; j++) {
				char sym[9];
				size_t len;

				/* pattern 0 hits a Zipf-popular symbol; the others are decoys
				 * with a digit, which no ticker has: the rule set grows, the
				 * fan-out does not */
				struct rng *r = j == 0 ? &pop : &dec;

				ticker(base + zipf_draw(&zf[k], r) % n_sym, sym);
				len = strlen(sym);
				if (j > 0)
					sym[len - 1] = (char)('0' + rng_below(r, 10));
				if (p->kind == BENCH_EXACT)
					rc |= text_add(&t, "%s\"^%s$\"", j ? ", " : "", sym);
				else if (p->kind == BENCH_PREFIX)
					rc |= text_add(&t, "%s\"^%.*s\"", j ? ", " : "",
						       (int)(len - (j ? 0 : 1)), sym);
				else
					rc |= text_add(&t, "%s\"^%c.%s$\"", j ? ", " : "", sym[0],
						       sym + 2);
			}
			rc |= text_add(&t, "]\n");
			if (p->history != 0)
				rc |= text_add(&t, "    history: %u\n", p->history);
		}
	}
	if (rc != 0) {
		free(t.p);
		return -ENOMEM;
	}
	f->yaml = t.p;
	return 0;
}

int bench_feed_build(struct bench_feed *f, const struct bench_params *p, char *err, size_t errlen)
{
	struct rng r = {p->seed * 0x100000001b3ull + 1};
	struct zipf zf[8] = {0};
	uint32_t cap_frames = 0, per_feed;
	size_t cap_bytes = 0;
	uint64_t seq[8], ts = 34200000000000ull;
	uint16_t ip_id = 0;
	int rc = -ENOMEM;

	memset(f, 0, sizeof(*f));
	if (p->n_subs == 0 || p->n_symbols == 0 || p->n_packets == 0) {
		snprintf(err, errlen, "subscribers, symbols and packets must be positive");
		return -EINVAL;
	}
	f->n_feeds = (p->n_symbols + BENCH_LOCATES_PER_FEED - 1) / BENCH_LOCATES_PER_FEED;
	if (f->n_feeds > 8) {
		snprintf(err, errlen, "%u symbols: at most %u", p->n_symbols,
			 8 * BENCH_LOCATES_PER_FEED);
		return -EINVAL;
	}
	per_feed = (p->n_symbols + f->n_feeds - 1) / f->n_feeds;
	for (uint32_t k = 0; k < f->n_feeds; k++) {
		uint32_t n =
		    p->n_symbols - k * per_feed < per_feed ? p->n_symbols - k * per_feed : per_feed;

		if (zipf_init(&zf[k], n, &r) != 0)
			goto nomem;
		seq[k] = 1;
	}
	if (build_yaml(f, p, per_feed, zf) != 0)
		goto nomem;

	/* the directory: an R message for every locate of every feed */
	for (uint32_t k = 0; k < f->n_feeds; k++) {
		for (uint32_t l = 0; l < zf[k].n; l += DIR_PER_PKT) {
			uint32_t n = zf[k].n - l < DIR_PER_PKT ? zf[k].n - l : DIR_PER_PKT;
			uint32_t len = MOLD_HDR;

			if (add_frame(f, &cap_frames, &cap_bytes) != 0)
				goto nomem;
			struct bench_frame *fr = &f->frames[f->n_frames];
			uint8_t *b = f->bytes + fr->off;

			for (uint32_t i = 0; i < n; i++) {
				char sym[9];

				ticker(k * per_feed + l + i, sym);
				put16(b + FRAME_HDRS + len, 39);
				len += 2 + message(b + FRAME_HDRS + len + 2, 'R', 39, 11,
						   (uint16_t)(l + i + 1), sym, ts++, &r);
			}
			frame_headers(b, k, len, seq[k], (uint16_t)n, ip_id++);
			fr->len = (uint16_t)(FRAME_HDRS + len);
			fr->n_msgs = (uint16_t)n;
			fr->feed = (uint16_t)k;
			fr->seq = seq[k];
			seq[k] += n;
			f->n_frames++;
		}
	}
	f->n_directory = f->n_frames;

	/* the trading day: feeds interleaved packet by packet */
	for (uint32_t i = 0; i < p->n_packets * f->n_feeds; i++) {
		uint32_t k = i % f->n_feeds;
		uint32_t n = 1 + rng_below(&r, MAX_PER_PKT), len = MOLD_HDR;

		if (add_frame(f, &cap_frames, &cap_bytes) != 0)
			goto nomem;
		struct bench_frame *fr = &f->frames[f->n_frames];
		uint8_t *b = f->bytes + fr->off;

		for (uint32_t m = 0; m < n; m++) {
			uint32_t pick = rng_below(&r, 100), t = 0, acc = mix[0].pct;
			uint32_t s = zipf_draw(&zf[k], &r);
			char sym[9];

			while (pick >= acc)
				acc += mix[++t].pct;
			ticker(k * per_feed + s, sym);
			put16(b + FRAME_HDRS + len, mix[t].len);
			len += 2 + message(b + FRAME_HDRS + len + 2, mix[t].type, mix[t].len,
					   mix[t].stock, (uint16_t)(s + 1), sym, ts++, &r);
		}
		frame_headers(b, k, len, seq[k], (uint16_t)n, ip_id++);
		fr->len = (uint16_t)(FRAME_HDRS + len);
		fr->n_msgs = (uint16_t)n;
		fr->feed = (uint16_t)k;
		fr->seq = seq[k];
		seq[k] += n;
		f->trading_msgs[k] += n;
		f->total_bytes += fr->len;
		f->n_frames++;
	}
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory building the benchmark feed");
	bench_feed_free(f);
out:
	for (uint32_t k = 0; k < 8; k++)
		zipf_free(&zf[k]);
	return rc;
}

void bench_feed_free(struct bench_feed *f)
{
	free(f->yaml);
	free(f->bytes);
	free(f->frames);
	memset(f, 0, sizeof(*f));
}

void bench_frame_copy(const struct bench_feed *f, uint32_t i, uint64_t seq_add, uint8_t *dst)
{
	const struct bench_frame *fr = &f->frames[i];

	memcpy(dst, f->bytes + fr->off, fr->len);
	if (seq_add != 0)
		put64(dst + BENCH_MOLD_SEQ_OFF, fr->seq + seq_add);
}

uint32_t bench_memory_mb(const struct bench_feed *f, const struct bench_params *p)
{
	uint64_t hist = (uint64_t)p->n_subs * f->n_feeds * history_mem_size(p->history);

	return 1024 + (uint32_t)((hist + (64 << 20)) >> 20);
}

int bench_eal_init(const char *prog, const char *lcores, const char *prefix, int huge,
		   unsigned int mem_mb)
{
	char a_lcores[128], a_prefix[128], a_mem[32];
	char *argv[16];
	int n = 0;

	snprintf(a_lcores, sizeof(a_lcores), "--lcores=%s", lcores);
	snprintf(a_prefix, sizeof(a_prefix), "--file-prefix=%s", prefix);
	snprintf(a_mem, sizeof(a_mem), "%u", mem_mb);
	argv[n++] = (char *)prog;
	argv[n++] = a_lcores;
	argv[n++] = "--main-lcore=0";
	argv[n++] = a_prefix;
	argv[n++] = "--no-pci";
	argv[n++] = "--log-level=lib.*:error";
	argv[n++] = "--log-level=pmd.*:error";
	if (huge) {
		argv[n++] = "--huge-unlink";
	} else {
		argv[n++] = "--no-huge";
		argv[n++] = "-m";
		argv[n++] = a_mem;
	}
	argv[n] = NULL;
	return rte_eal_init(n, argv);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void bench_eal_cleanup(void)
{
	char dir[512];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (dir[0] != '\0' && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "%s: cannot remove %s: %s\n", bench_prog, dir, strerror(errno));
}

void bench_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && c != NULL) {
			snprintf(buf, len, "%s", c + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}
