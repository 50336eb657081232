/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-feedgen: writes realistic MoldUDP64 / ITCH 5.0 captures (docs/protocol.md §2) for one feed
 * on one or two lines, plus a routing configuration (docs/protocol.md §4) that subscribes a mix of
 * subscribers to it. Used by the integration tests, the demo and the benchmarks; the
 * expected routing result is computed independently by tests/tools/aster_check.py.
 *
 * Deterministic for a given --seed: every random decision draws from its own stream
 * (messages, packet boundaries per line, losses per line, garbage per line, config), so
 * changing e.g. --loss-a does not change the messages. Needs only libc and libm (no
 * DPDK): it must build and run where the dataplane cannot. See docs/feedgen.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MOLD_HDR	    20
#define PAYLOAD_TARGET	    1400 /* MoldUDP64 payload bound of the generated feed */
#define MSG_MAX		    50	 /* longest ITCH 5.0 message (I), and of our unknown ones */
#define ETH_HDR		    14
#define VLAN_TAG	    4
#define IP_HDR		    20
#define UDP_HDR		    8
#define FRAME_MAX	    2048
#define SESSION_TAIL_GUARD  512 /* packets before a session change that are never lost */
#define RECENT_ORDERS	    4096
#define UNBOUND_LOCATES	    100
#define EPOCH_NS	    1704153600000000000ull /* 2024-01-02 00:00:00 UTC */
#define DAY_START_NS	    34200000000000ull	   /* 09:30:00, ITCH timestamps are ns of the day */
#define ZIPF_S		    1.1
#define LINE_B_MIN_DELAY_NS 2000
#define LINE_B_MAX_DELAY_NS 5000

/* ---- randomness: xoshiro256** seeded through splitmix64, one stream per purpose ---- */

struct rng {
	uint64_t s[4];
};

enum rng_stream {
	RS_MESSAGES = 1,
	RS_CHUNK_A,
	RS_CHUNK_B,
	RS_LINE_A,
	RS_LINE_B,
	RS_GARBAGE_A,
	RS_GARBAGE_B,
	RS_CONFIG,
	RS_SYMBOLS,
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, enum rng_stream stream)
{
	uint64_t x = seed * 0x100000001b3ull + (uint64_t)stream * 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n). */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static inline bool rng_chance(struct rng *r, double p)
{
	return p > 0 && rng_unit(r) < p;
}

/* ---- ITCH 5.0 table (docs/protocol.md §2) ---- */

static uint8_t itch_len[256];
static uint8_t itch_stock[256];

static void itch_table_init(void)
{
	static const struct {
		char type;
		uint8_t len, stock;
	} t[] = {
	    {'S', 12, 0},  {'R', 39, 11}, {'H', 25, 11}, {'Y', 20, 11}, {'L', 26, 15},
	    {'V', 35, 0},  {'W', 12, 0},  {'K', 28, 11}, {'J', 35, 11}, {'h', 21, 11},
	    {'A', 36, 24}, {'F', 40, 24}, {'E', 31, 0},	 {'C', 36, 0},	{'X', 23, 0},
	    {'D', 19, 0},  {'U', 35, 0},  {'P', 44, 24}, {'Q', 40, 19}, {'B', 19, 0},
	    {'I', 50, 28}, {'N', 20, 11}, {'O', 48, 11},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		itch_len[(uint8_t)t[i].type] = t[i].len;
		itch_stock[(uint8_t)t[i].type] = t[i].stock;
	}
}

/*
 * Message mix in units of 0.01 %: adds ~45 %, deletes ~25 %, replaces ~10 %, executions
 * ~6 %, cancels ~4 %, trades ~3 %, the rest small; 'Z' is a type byte not in the table
 * (docs/protocol.md §3.2: routed by its locate like any other).
 */
static const struct {
	char type;
	uint16_t weight;
} type_mix[] = {
    {'A', 3010}, {'F', 1500}, {'D', 2500}, {'U', 1000}, {'E', 400}, {'C', 200},
    {'X', 400},	 {'P', 300},  {'Q', 80},   {'H', 60},	{'Y', 50},  {'L', 60},
    {'I', 80},	 {'N', 80},   {'J', 40},   {'h', 40},	{'K', 40},  {'V', 20},
    {'W', 20},	 {'B', 60},   {'O', 50},   {'Z', 10},
};
#define TYPE_MIX_N	(sizeof(type_mix) / sizeof(type_mix[0]))
#define TYPE_MIX_TOTAL	10000
#define UNBOUND_PER_10K 5 /* stockless messages sent with a locate never announced */

/* ---- options ---- */

struct opts {
	const char *out_dir;
	uint64_t messages;
	uint32_t symbols;
	uint32_t subscribers;
	uint32_t lines;
	double loss[2];
	double dup;
	double garbage;
	double vlan;
	double ip_options;
	uint32_t heartbeat_every; /* 0: no heartbeats */
	uint32_t sessions;	  /* session changes */
	uint64_t seed;
	uint32_t max_msgs;
	const char *feed_name;
	const char *session_prefix;
	bool rechunk;
	bool nanosecond;
};

/* ---- the generated message stream ---- */

struct order {
	uint64_t ref;
	uint32_t price;
	uint32_t shares;
	uint16_t locate;
};

struct gen {
	const struct opts *o;
	struct rng rng;
	/* symbols: sym[i] is locate i+1, 8 bytes space padded; rank_to_sym for Zipf */
	char (*sym)[8];
	uint32_t *rank_to_sym;
	double *zipf_cdf;
	uint32_t *base_price;
	uint32_t type_cdf[TYPE_MIX_N];
	/* messages: bytes of message i are data[off[i] .. off[i+1]) */
	uint8_t *data;
	uint64_t *off;
	uint64_t n;
	uint64_t ts; /* ITCH timestamp of the last message, ns since midnight */
	uint64_t next_ref;
	uint64_t next_match;
	struct order recent[RECENT_ORDERS];
	uint32_t n_recent;
	/* sessions: session s holds messages [sess_first[s], sess_first[s + 1]) */
	uint32_t n_sessions;
	uint64_t *sess_first;
	char (*sess_name)[10];
	uint64_t unbound;
	uint64_t locate0;
};

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

static void put48(uint8_t *p, uint64_t v)
{
	put16(p, (uint16_t)(v >> 32));
	put32(p + 2, (uint32_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint64_t get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = (v << 8) | p[i];
	return v;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "aster-feedgen: out of memory (%zu x %zu bytes)\n", n, size);
		exit(1);
	}
	return p;
}

/* Unique, realistic symbols: 1..8 uppercase letters, mostly 3 or 4. */
static void make_symbols(struct gen *g, uint32_t n)
{
	struct rng r;
	uint32_t cap = 1;
	uint64_t *set;

	while (cap < n * 4)
		cap <<= 1;
	set = xcalloc(cap, sizeof(*set));
	rng_seed(&r, g->o->seed, RS_SYMBOLS);
	for (uint32_t i = 0; i < n;) {
		uint32_t pick = rng_below(&r, 100), len;
		uint64_t key = 0;
		uint32_t h;

		len = pick < 1	  ? 1
		      : pick < 6  ? 2
		      : pick < 36 ? 3
		      : pick < 81 ? 4
		      : pick < 96 ? 5
				  : 6 + rng_below(&r, 3);
		memset(g->sym[i], ' ', 8);
		for (uint32_t k = 0; k < len; k++) {
			g->sym[i][k] = (char)('A' + rng_below(&r, 26));
			key = (key << 8) | (uint8_t)g->sym[i][k];
		}
		/* open addressing on the packed symbol; retry on a duplicate */
		h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40) & (cap - 1);
		while (set[h] && set[h] != key)
			h = (h + 1) & (cap - 1);
		if (set[h] == key)
			continue;
		set[h] = key;
		g->base_price[i] = (1 + rng_below(&r, 500)) * 10000 + rng_below(&r, 100) * 100;
		i++;
	}
	free(set);

	/* Zipf(s) over ranks; ranks are shuffled onto symbols so popularity is not ordered */
	for (uint32_t i = 0; i < n; i++)
		g->rank_to_sym[i] = i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = rng_below(&r, i), t = g->rank_to_sym[i - 1];

		g->rank_to_sym[i - 1] = g->rank_to_sym[j];
		g->rank_to_sym[j] = t;
	}
	double sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), ZIPF_S);
		g->zipf_cdf[i] = sum;
	}
	for (uint32_t i = 0; i < n; i++)
		g->zipf_cdf[i] /= sum;
}

/* Index (locate - 1) of a symbol drawn from the Zipf mix. */
static uint32_t zipf_symbol(struct gen *g)
{
	double u = rng_unit(&g->rng);
	uint32_t lo = 0, hi = g->o->symbols - 1;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (g->zipf_cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return g->rank_to_sym[lo];
}

static uint8_t *msg_begin(struct gen *g, uint8_t type, uint16_t locate, uint32_t len)
{
	uint8_t *m = g->data + g->off[g->n];

	g->ts += 100 + rng_below(&g->rng, 3000);
	memset(m, 0, len);
	m[0] = type;
	put16(m + 1, locate);
	put16(m + 3, (uint16_t)(1 + rng_below(&g->rng, 8))); /* tracking number */
	put48(m + 5, g->ts);
	g->off[g->n + 1] = g->off[g->n] + len;
	g->n++;
	if (locate == 0)
		g->locate0++;
	return m;
}

static void put_stock(struct gen *g, uint8_t *m, uint8_t type, uint16_t locate)
{
	memcpy(m + itch_stock[type], g->sym[locate - 1], 8);
}

static void emit_system_event(struct gen *g, char code)
{
	uint8_t *m = msg_begin(g, 'S', 0, 12);

	m[11] = (uint8_t)code;
}

static void emit_directory(struct gen *g, uint32_t i)
{
	uint8_t *m = msg_begin(g, 'R', (uint16_t)(i + 1), 39);

	put_stock(g, m, 'R', (uint16_t)(i + 1));
	m[19] = "QGSNAPZV"[rng_below(&g->rng, 8)]; /* market category */
	m[20] = 'N';				   /* financial status */
	put32(m + 21, 100);			   /* round lot size */
	m[25] = 'N';
	m[26] = "ACEO"[rng_below(&g->rng, 4)];
	m[27] = 'Z';
	m[28] = ' ';
	m[29] = 'P';
	m[30] = 'N';
	m[31] = ' ';
	m[32] = '1' + (uint8_t)rng_below(&g->rng, 2);
	m[33] = 'N';
	put32(m + 34, 0);
	m[38] = 'N';
}

static uint32_t jitter_price(struct gen *g, uint32_t base)
{
	int64_t p = (int64_t)base + ((int64_t)rng_below(&g->rng, 201) - 100) * 100;

	return p < 100 ? 100 : (uint32_t)p;
}

static const struct order *pick_order(struct gen *g)
{
	uint32_t n = g->n_recent < RECENT_ORDERS ? g->n_recent : RECENT_ORDERS;

	return &g->recent[rng_below(&g->rng, n)];
}

static void emit_random(struct gen *g)
{
	uint32_t w = rng_below(&g->rng, TYPE_MIX_TOTAL);
	uint32_t k = 0;
	uint8_t type;
	uint16_t locate;
	uint32_t s;
	uint8_t *m;
	const struct order *ord = NULL;

	while (g->type_cdf[k] <= w)
		k++;
	type = (uint8_t)type_mix[k].type;
	/* order-book events refer to a recent order (and so to its stock) */
	if (strchr("DUECXB", type)) {
		if (!g->n_recent)
			type = 'A';
		else
			ord = pick_order(g);
	}
	s = ord ? (uint32_t)ord->locate - 1 : zipf_symbol(g);
	locate = (uint16_t)(s + 1);
	if (type == 'V' || type == 'W')
		locate = 0; /* market-wide: locate 0 (docs/protocol.md §3.4) */
	else if (!itch_stock[type] && rng_below(&g->rng, TYPE_MIX_TOTAL) < UNBOUND_PER_10K) {
		/* a locate never announced by a directory message: not deliverable
		 * (docs/protocol.md §3.4) */
		locate = (uint16_t)(g->o->symbols + 1 + rng_below(&g->rng, UNBOUND_LOCATES));
		g->unbound++;
	}

	if (type == 'Z') {
		/* not in the table: odd length, valid locate, no stock field */
		m = msg_begin(g, type, locate, 13 + 2 * rng_below(&g->rng, 16));
		return;
	}
	m = msg_begin(g, type, locate, itch_len[type]);
	if (itch_stock[type])
		put_stock(g, m, type, locate);

	switch (type) {
	case 'A':
	case 'F': {
		struct order *o = &g->recent[g->n_recent++ % RECENT_ORDERS];

		o->ref = ++g->next_ref;
		o->locate = locate;
		o->price = jitter_price(g, g->base_price[s]);
		o->shares = 100 * (1 + rng_below(&g->rng, 20));
		put64(m + 11, o->ref);
		m[19] = rng_below(&g->rng, 2) ? 'B' : 'S';
		put32(m + 20, o->shares);
		put32(m + 32, o->price);
		if (type == 'F')
			memcpy(m + 36, &"GSCOMSCOJPMSVIRT"[4 * rng_below(&g->rng, 4)], 4);
		break;
	}
	case 'E':
	case 'C':
		put64(m + 11, ord->ref);
		put32(m + 19, ord->shares / 2 ? ord->shares / 2 : 1);
		put64(m + 23, ++g->next_match);
		if (type == 'C') {
			m[31] = 'Y';
			put32(m + 32, ord->price);
		}
		break;
	case 'X':
		put64(m + 11, ord->ref);
		put32(m + 19, 100);
		break;
	case 'D':
		put64(m + 11, ord->ref);
		break;
	case 'U':
		put64(m + 11, ord->ref);
		put64(m + 19, ++g->next_ref);
		put32(m + 27, ord->shares);
		put32(m + 31, jitter_price(g, ord->price));
		break;
	case 'B':
		put64(m + 11, g->next_match ? g->next_match : 1);
		break;
	case 'P':
		m[19] = 'B';
		put32(m + 20, 100 * (1 + rng_below(&g->rng, 10)));
		put32(m + 32, jitter_price(g, g->base_price[s]));
		put64(m + 36, ++g->next_match);
		break;
	case 'Q':
		put64(m + 11, 1000 * (1 + rng_below(&g->rng, 100)));
		put32(m + 27, g->base_price[s]);
		put64(m + 31, ++g->next_match);
		m[39] = "OCH"[rng_below(&g->rng, 3)];
		break;
	case 'H':
		m[19] = "HPQT"[rng_below(&g->rng, 4)];
		memcpy(m + 21, "    ", 4);
		break;
	case 'Y':
		m[19] = '0';
		break;
	case 'L':
		memcpy(m + 11, "GSCO", 4);
		m[23] = 'Y';
		m[24] = 'N';
		m[25] = 'A';
		break;
	case 'I':
		put64(m + 11, 1000 * rng_below(&g->rng, 100));
		put64(m + 19, 100 * rng_below(&g->rng, 100));
		m[27] = "BSNO"[rng_below(&g->rng, 4)];
		put32(m + 36, g->base_price[s]);
		put32(m + 40, g->base_price[s]);
		put32(m + 44, g->base_price[s]);
		m[48] = 'O';
		m[49] = 'L';
		break;
	case 'N':
		m[19] = "ABCN"[rng_below(&g->rng, 4)];
		break;
	case 'J':
		put32(m + 19, g->base_price[s]);
		put32(m + 23, g->base_price[s] + g->base_price[s] / 10);
		put32(m + 27, g->base_price[s] - g->base_price[s] / 10);
		put32(m + 31, 1);
		break;
	case 'h':
		m[19] = 'Q';
		m[20] = 'H';
		break;
	case 'K':
		put32(m + 19, 34200);
		m[23] = 'A';
		put32(m + 24, g->base_price[s]);
		break;
	case 'V':
		put64(m + 11, 4000000000ull);
		put64(m + 19, 3700000000ull);
		put64(m + 27, 3400000000ull);
		break;
	case 'W':
		m[11] = '1';
		break;
	case 'O':
		m[19] = 'Y';
		put32(m + 20, g->base_price[s] / 2);
		put32(m + 24, g->base_price[s] * 2);
		put32(m + 28, g->base_price[s]);
		put64(m + 32, 34200000000000ull);
		put32(m + 40, g->base_price[s] - g->base_price[s] / 10);
		put32(m + 44, g->base_price[s] + g->base_price[s] / 10);
		break;
	default:
		break;
	}
}

static void generate_messages(struct gen *g)
{
	const struct opts *o = g->o;
	uint64_t per = o->messages / g->n_sessions;

	g->sym = xcalloc(o->symbols, sizeof(*g->sym));
	g->rank_to_sym = xcalloc(o->symbols, sizeof(*g->rank_to_sym));
	g->zipf_cdf = xcalloc(o->symbols, sizeof(*g->zipf_cdf));
	g->base_price = xcalloc(o->symbols, sizeof(*g->base_price));
	g->data = malloc(o->messages * MSG_MAX);
	g->off = malloc((o->messages + 1) * sizeof(*g->off));
	g->sess_first = xcalloc(g->n_sessions + 1, sizeof(*g->sess_first));
	g->sess_name = xcalloc(g->n_sessions, sizeof(*g->sess_name));
	if (!g->data || !g->off) {
		fprintf(stderr, "aster-feedgen: out of memory for %llu messages\n",
			(unsigned long long)o->messages);
		exit(1);
	}
	g->off[0] = 0;
	make_symbols(g, o->symbols);
	rng_seed(&g->rng, o->seed, RS_MESSAGES);
	for (uint32_t k = 0, acc = 0; k < TYPE_MIX_N; k++) {
		acc += type_mix[k].weight;
		g->type_cdf[k] = acc;
	}
	g->ts = DAY_START_NS;

	for (uint32_t s = 0; s < g->n_sessions; s++) {
		uint64_t end = s + 1 == g->n_sessions ? o->messages : (s + 1) * per;
		char name[16];

		/* session names: prefix, then the day's index, 10 characters (docs/protocol.md §2)
		 */
		snprintf(name, sizeof(name), "%.*s%0*u", 5, o->session_prefix,
			 10 - (int)(strlen(o->session_prefix) < 5 ? strlen(o->session_prefix) : 5),
			 s + 1);
		memcpy(g->sess_name[s], name, 10);
		g->sess_first[s] = g->n;
		/* a new session clears the locate bindings: the directory comes again */
		emit_system_event(g, 'O');
		for (uint32_t i = 0; i < o->symbols; i++)
			emit_directory(g, i);
		while (g->n < end - 1)
			emit_random(g);
		emit_system_event(g, 'C');
	}
	g->sess_first[g->n_sessions] = g->n;
}

/* ---- packets ---- */

struct pkt {
	uint64_t first; /* message index */
	uint32_t n;
	uint32_t sess;
};

struct pktlist {
	struct pkt *p;
	uint64_t n;
};

static uint32_t msg_len(const struct gen *g, uint64_t i)
{
	return (uint32_t)(g->off[i + 1] - g->off[i]);
}

/*
 * Cut the stream into packets: up to --max-msgs-per-packet messages and at most
 * PAYLOAD_TARGET bytes of MoldUDP64 payload; half the packets are as full as they can
 * be, the others carry a random smaller count (a quiet market). Never across sessions.
 */
static void packetize(const struct gen *g, enum rng_stream stream, struct pktlist *out)
{
	struct rng r;

	rng_seed(&r, g->o->seed, stream);
	out->p = xcalloc(g->n, sizeof(*out->p));
	out->n = 0;
	for (uint32_t s = 0; s < g->n_sessions; s++) {
		uint64_t i = g->sess_first[s], end = g->sess_first[s + 1];

		while (i < end) {
			uint32_t target = g->o->max_msgs, bytes = MOLD_HDR, n = 0;

			if (rng_below(&r, 2))
				target = 1 + rng_below(&r, g->o->max_msgs);
			while (i + n < end && n < target &&
			       bytes + 2 + msg_len(g, i + n) <= PAYLOAD_TARGET) {
				bytes += 2 + msg_len(g, i + n);
				n++;
			}
			out->p[out->n++] = (struct pkt){.first = i, .n = n, .sess = s};
			i += n;
		}
	}
}

/* ---- frames and pcap ---- */

enum garbage_kind {
	G_ARP,
	G_IPV6,
	G_TCP,
	G_WRONG_PORT,
	G_OTHER_GROUP,
	G_FRAGMENT_FIRST,
	G_FRAGMENT_LATER,
	G_TRUNCATED,
	G_STACKED_VLAN,
	G_MOLD_OVERRUN,
	G_MOLD_TRAILING,
	G_MOLD_ITCH_LEN,
	G_MOLD_COUNT,
	G_MOLD_SHORT,
	G_MOLD_HB_TRAILING,
	G__MAX
};

#define G_FIRST_MALFORMED G_MOLD_OVERRUN

struct line {
	const struct gen *g;
	const struct opts *o;
	int idx; /* 0 = A, 1 = B */
	FILE *f;
	struct rng rng;	 /* losses, duplicates */
	struct rng grng; /* garbage, VLAN tags, IP options */
	uint32_t group;
	uint16_t port;
	uint64_t last_ts;
	uint16_t ip_id;
	/* counters for the summary */
	uint64_t frames, data_pkts, lost, dups, heartbeats, garbage, malformed;
	uint8_t payload[FRAME_MAX];
};

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static void pcap_header(FILE *f, bool ns)
{
	uint32_t h[6] = {ns ? 0xa1b23c4d : 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};

	fwrite(h, sizeof(h), 1, f);
}

static void pcap_record(struct line *l, uint64_t ts_ns, const uint8_t *frame, uint32_t len)
{
	uint32_t h[4];

	if (ts_ns < l->last_ts)
		ts_ns = l->last_ts; /* a capture file is in time order */
	l->last_ts = ts_ns;
	h[0] = (uint32_t)(ts_ns / 1000000000ull);
	h[1] = (uint32_t)(ts_ns % 1000000000ull);
	if (!l->o->nanosecond)
		h[1] /= 1000;
	h[2] = len;
	h[3] = len;
	fwrite(h, sizeof(h), 1, l->f);
	fwrite(frame, len, 1, l->f);
	l->frames++;
}

struct l3spec {
	uint32_t dst_ip;
	uint16_t dst_port;
	uint8_t proto;
	uint16_t frag; /* flags + fragment offset field */
	bool ip_options;
	int vlan_tags; /* 0, 1, 2 */
};

/* Ethernet [802.1Q] IPv4 [options] UDP (or another protocol) around `payload`. */
static uint32_t build_frame(struct line *l, const struct l3spec *s, const uint8_t *payload,
			    uint32_t plen, uint8_t *f)
{
	uint32_t off = 0, ihl = s->ip_options ? 24 : 20, l4 = s->proto == 17 ? UDP_HDR : 0;
	uint8_t *ip, *udp;
	uint32_t sum;

	/* IPv4 multicast MAC: 01:00:5e + low 23 bits of the group */
	f[0] = 0x01;
	f[1] = 0x00;
	f[2] = 0x5e;
	f[3] = (uint8_t)((s->dst_ip >> 16) & 0x7f);
	f[4] = (uint8_t)(s->dst_ip >> 8);
	f[5] = (uint8_t)s->dst_ip;
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x0a", 6);
	f[11] = (uint8_t)(0x0a + l->idx);
	off = 12;
	for (int t = 0; t < s->vlan_tags; t++) {
		put16(f + off, 0x8100);
		put16(f + off + 2, (uint16_t)(100 + 100 * l->idx + t));
		off += 4;
	}
	put16(f + off, 0x0800);
	off += 2;
	ip = f + off;
	ip[0] = (uint8_t)(0x40 | (ihl / 4));
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(ihl + l4 + plen));
	put16(ip + 4, l->ip_id++);
	put16(ip + 6, s->frag);
	ip[8] = 64;
	ip[9] = s->proto;
	put16(ip + 10, 0);
	put32(ip + 12, 0x0a000001 + (uint32_t)l->idx); /* 10.0.0.1 / 10.0.0.2 */
	put32(ip + 16, s->dst_ip);
	if (s->ip_options)
		memcpy(ip + 20, "\x94\x04\x00\x00", 4); /* router alert */
	put16(ip + 10, csum_fold(csum_add(0, ip, ihl)));
	off += ihl;
	if (l4) {
		udp = f + off;
		put16(udp, (uint16_t)(40000 + l->idx));
		put16(udp + 2, s->dst_port);
		put16(udp + 4, (uint16_t)(UDP_HDR + plen));
		put16(udp + 6, 0);
		memcpy(udp + UDP_HDR, payload, plen);
		/* pseudo header + UDP header + payload */
		sum = csum_add(0, ip + 12, 8) + 17 + UDP_HDR + plen;
		sum = csum_add(sum, udp, UDP_HDR + plen);
		uint16_t c = csum_fold(sum);
		put16(udp + 6, c ? c : 0xffff);
		off += UDP_HDR + plen;
	} else {
		memcpy(f + off, payload, plen);
		off += plen;
	}
	return off;
}

static int vlan_tags(struct line *l)
{
	return rng_chance(&l->grng, l->o->vlan) ? 1 : 0;
}

static void send_payload(struct line *l, uint64_t ts, const uint8_t *payload, uint32_t plen)
{
	uint8_t frame[FRAME_MAX];
	struct l3spec s = {
	    .dst_ip = l->group,
	    .dst_port = l->port,
	    .proto = 17,
	    .ip_options = rng_chance(&l->grng, l->o->ip_options),
	    .vlan_tags = vlan_tags(l),
	};

	pcap_record(l, ts, frame, build_frame(l, &s, payload, plen, frame));
}

/* MoldUDP64 payload of packet `p` into l->payload; returns its length. */
static uint32_t mold_payload(struct line *l, const struct pkt *p)
{
	const struct gen *g = l->g;
	uint8_t *b = l->payload;
	uint32_t off = MOLD_HDR;

	memcpy(b, g->sess_name[p->sess], 10);
	put64(b + 10, p->first - g->sess_first[p->sess] + 1);
	put16(b + 18, (uint16_t)p->n);
	for (uint32_t k = 0; k < p->n; k++) {
		uint32_t len = msg_len(g, p->first + k);

		put16(b + off, (uint16_t)len);
		memcpy(b + off + 2, g->data + g->off[p->first + k], len);
		off += 2 + len;
	}
	return off;
}

static uint32_t mold_control(uint8_t *b, const char *session, uint64_t seq, uint16_t count)
{
	memcpy(b, session, 10);
	put64(b + 10, seq);
	put16(b + 18, count);
	return MOLD_HDR;
}

/*
 * A garbage frame before the real packet `p` (whose payload is in l->payload, `plen`
 * bytes). Malformed MoldUDP64 ones are EXTRA copies of `p` with a broken block: the
 * real packet is still sent, so a malformed copy never makes its range look lost
 * (docs/protocol.md §3.2 drops the copy whole).
 */
static void send_garbage(struct line *l, uint64_t ts, uint32_t plen)
{
	uint8_t frame[FRAME_MAX], bad[FRAME_MAX + 8];
	struct l3spec s = {.dst_ip = l->group, .dst_port = l->port, .proto = 17};
	enum garbage_kind kind = (enum garbage_kind)rng_below(&l->grng, G__MAX);
	uint32_t blen = plen, len, flen;
	const uint8_t *src = l->payload;

	s.vlan_tags = vlan_tags(l);
	memcpy(bad, l->payload, plen);
	l->garbage++;
	if (kind >= G_FIRST_MALFORMED)
		l->malformed++;

	switch (kind) {
	case G_ARP:
	case G_IPV6:
		flen = 60;
		memset(frame, 0, flen);
		memcpy(frame, "\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x0a", 12);
		put16(frame + 12, kind == G_ARP ? 0x0806 : 0x86dd);
		if (kind == G_ARP)
			memcpy(frame + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
		else
			frame[14] = 0x60;
		pcap_record(l, ts, frame, flen);
		return;
	case G_TCP:
		s.proto = 6;
		break;
	case G_WRONG_PORT:
		s.dst_port = (uint16_t)(l->port + 1);
		break;
	case G_OTHER_GROUP:
		s.dst_ip = 0xe9360000 | (l->group & 0xffff); /* 233.54.x.y */
		if (s.dst_ip == l->group)
			s.dst_ip ^= 0x100;
		break;
	case G_FRAGMENT_FIRST:
		s.frag = 0x2000; /* MF */
		break;
	case G_FRAGMENT_LATER:
		s.frag = 0x00b9; /* offset 185 * 8, last fragment */
		break;
	case G_TRUNCATED:
		flen = build_frame(l, &s, src, plen, frame);
		/* cut inside Ethernet, IPv4, UDP or the MoldUDP64 header */
		len = 8 + rng_below(&l->grng, ETH_HDR + IP_HDR + UDP_HDR + MOLD_HDR - 8);
		pcap_record(l, ts, frame, len < flen ? len : flen - 1);
		return;
	case G_STACKED_VLAN:
		s.vlan_tags = 2;
		break;
	case G_MOLD_OVERRUN: {
		/* the last block's length runs one byte past the payload */
		uint32_t off = MOLD_HDR, last = MOLD_HDR;

		for (uint16_t k = 0; k < get16(bad + 18); k++) {
			last = off;
			off += 2 + get16(bad + off);
		}
		put16(bad + last, (uint16_t)(get16(bad + last) + 1));
		src = bad;
		break;
	}
	case G_MOLD_TRAILING:
		blen = plen + 1 + rng_below(&l->grng, 3);
		memset(bad + plen, 0, blen - plen);
		src = bad;
		break;
	case G_MOLD_ITCH_LEN: {
		/* a known type one byte short or long, the blocks still fitting exactly */
		uint32_t off = MOLD_HDR, k;
		uint16_t n = get16(bad + 18);

		for (k = 0; k < n && !itch_len[bad[off + 2]]; k++)
			off += 2 + get16(bad + off);
		if (k == n) {
			blen = plen + 1; /* no known type: fall back to a trailing byte */
			bad[plen] = 0;
		} else if (rng_below(&l->grng, 2)) {
			uint16_t ml = get16(bad + off);

			put16(bad + off, (uint16_t)(ml - 1));
			memmove(bad + off + 2 + ml - 1, l->payload + off + 2 + ml,
				plen - off - 2 - ml);
			blen = plen - 1;
		} else {
			uint16_t ml = get16(bad + off);

			put16(bad + off, (uint16_t)(ml + 1));
			bad[off + 2 + ml] = 0;
			memcpy(bad + off + 2 + ml + 1, l->payload + off + 2 + ml,
			       plen - off - 2 - ml);
			blen = plen + 1;
		}
		src = bad;
		break;
	}
	case G_MOLD_COUNT:
		put16(bad + 18, (uint16_t)(get16(bad + 18) + 1)); /* one block missing */
		src = bad;
		break;
	case G_MOLD_SHORT:
		blen = 10 + rng_below(&l->grng, MOLD_HDR - 10);
		src = bad;
		break;
	case G_MOLD_HB_TRAILING:
		put16(bad + 18, 0); /* a heartbeat must be exactly the header */
		blen = MOLD_HDR + 2;
		memset(bad + MOLD_HDR, 0, 2);
		src = bad;
		break;
	case G__MAX:
		return;
	}
	pcap_record(l, ts, frame, build_frame(l, &s, src, blen, frame));
}

static uint64_t pkt_time(const struct gen *g, const struct pkt *p)
{
	const uint8_t *last = g->data + g->off[p->first + p->n - 1];

	return EPOCH_NS + get48(last + 5) + 5000; /* sent ~5 us after its last message */
}

/*
 * Write one line's capture. Line B (idx 1) is the same feed a little later (2..5 us).
 * Never lost: the first packet of a session (it sets the expected sequence, docs/protocol.md §3.3),
 * the last SESSION_TAIL_GUARD packets before a session change and the end-of-session
 * packet (so no line still owes the old session when the new one starts), and the
 * closing heartbeat. With heartbeats, the final data packet of the feed is withheld on
 * every line so that only the closing heartbeat announces that gap.
 */
static int write_line(struct line *l, const struct pktlist *pl, uint64_t tail_first)
{
	const struct gen *g = l->g;
	const struct opts *o = l->o;
	uint8_t ctl[MOLD_HDR];
	uint64_t since_hb = 0, ts = 0, sess_last = 0;

	pcap_header(l->f, o->nanosecond);
	for (uint64_t k = 0; k < pl->n; k++) {
		const struct pkt *p = &pl->p[k];
		uint64_t seq = p->first - g->sess_first[p->sess] + 1;
		uint64_t sess_end = g->sess_first[p->sess + 1];
		bool final_sess = p->sess + 1 == g->n_sessions;
		bool first = p->first == g->sess_first[p->sess];
		bool last_of_sess = p->first + p->n == sess_end;
		bool guarded = first;
		bool lost;
		uint32_t plen;

		if (k == 0 || pl->p[k - 1].sess != p->sess) {
			/* first packet of the session: find its last one on this line */
			sess_last = k;
			while (sess_last + 1 < pl->n && pl->p[sess_last + 1].sess == p->sess)
				sess_last++;
		}
		if (!final_sess && sess_last - k < SESSION_TAIL_GUARD)
			guarded = true;
		ts = pkt_time(g, p);
		if (l->idx == 1)
			ts += LINE_B_MIN_DELAY_NS +
			      rng_below(&l->rng, LINE_B_MAX_DELAY_NS - LINE_B_MIN_DELAY_NS + 1);
		plen = mold_payload(l, p);
		if (rng_chance(&l->grng, o->garbage))
			send_garbage(l, ts - 1000, plen);

		if (final_sess && tail_first != UINT64_MAX && !first &&
		    p->first + p->n > tail_first)
			lost = true;
		else
			lost = !guarded && rng_chance(&l->rng, o->loss[l->idx]);
		l->data_pkts++;
		if (lost) {
			l->lost++;
		} else {
			send_payload(l, ts, l->payload, plen);
			if (rng_chance(&l->rng, o->dup)) {
				send_payload(l, ts + 1000, l->payload, plen);
				l->dups++;
			}
		}
		if (o->heartbeat_every && ++since_hb == o->heartbeat_every && !last_of_sess) {
			since_hb = 0;
			l->heartbeats++;
			if (rng_chance(&l->rng, o->loss[l->idx]))
				l->lost++;
			else
				send_payload(
				    l, ts + 1000, ctl,
				    mold_control(ctl, g->sess_name[p->sess], seq + p->n, 0));
		}
		if (last_of_sess && !final_sess) {
			send_payload(l, ts + 1000, ctl,
				     mold_control(ctl, g->sess_name[p->sess], seq + p->n, 0xffff));
			l->heartbeats++;
			since_hb = 0;
		}
		if (last_of_sess && final_sess && o->heartbeat_every) {
			send_payload(l, ts + 1000, ctl,
				     mold_control(ctl, g->sess_name[p->sess], seq + p->n, 0));
			l->heartbeats++;
		}
	}
	if (fflush(l->f) || ferror(l->f))
		return -errno;
	return 0;
}

/* ---- routing configuration ---- */

static void sym_str(const struct gen *g, uint32_t i, char out[9])
{
	uint32_t n = 8;

	memcpy(out, g->sym[i], 8);
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

/* A symbol likely to carry traffic: mostly the popular ranks, sometimes any. */
static uint32_t pick_symbol(const struct gen *g, struct rng *r)
{
	uint32_t n = g->o->symbols;
	uint32_t top = n < 200 ? n : 200;

	if (rng_below(r, 4))
		return g->rank_to_sym[rng_below(r, top)];
	return rng_below(r, n);
}

static void yaml_pattern(FILE *f, bool *first, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void yaml_pattern(FILE *f, bool *first, const char *fmt, ...)
{
	va_list ap;

	fputs(*first ? "\"" : ", \"", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('"', f);
	*first = false;
}

static void write_subscriber_patterns(FILE *f, const struct gen *g, struct rng *r, uint32_t i)
{
	char a[9], b[9], c[9];
	bool first = true;
	uint32_t n;

	fputs("    symbols: [", f);
	switch (i % 8) {
	case 0: /* exact symbols */
		n = 1 + rng_below(r, 12);
		for (uint32_t k = 0; k < n; k++) {
			sym_str(g, pick_symbol(g, r), a);
			yaml_pattern(f, &first, "^%s$", a);
		}
		break;
	case 1: /* prefixes */
		sym_str(g, pick_symbol(g, r), a);
		sym_str(g, pick_symbol(g, r), b);
		yaml_pattern(f, &first, "^%c", a[0]);
		yaml_pattern(f, &first, "^%.2s", b);
		break;
	case 2: /* alternation */
		sym_str(g, pick_symbol(g, r), a);
		sym_str(g, pick_symbol(g, r), b);
		sym_str(g, pick_symbol(g, r), c);
		yaml_pattern(f, &first, "^(%s|%s|%s)$", a, b, c);
		break;
	case 3: { /* character classes */
		char lo = (char)('A' + rng_below(r, 22));

		yaml_pattern(f, &first, "^[%c-%c]", lo, lo + 3);
		yaml_pattern(f, &first, "^[M-P][A-Z]{2}$");
		break;
	}
	case 4: /* exact symbols, order-book types only */
		n = 2 + rng_below(r, 6);
		for (uint32_t k = 0; k < n; k++) {
			sym_str(g, pick_symbol(g, r), a);
			yaml_pattern(f, &first, "^%s$", a);
		}
		break;
	case 5: /* unanchored and suffix patterns */
		yaml_pattern(f, &first, "%c$", 'A' + rng_below(r, 26));
		yaml_pattern(f, &first, "[XYZ]%c", 'A' + rng_below(r, 26));
		break;
	case 6: /* everything, trades and system events only */
		yaml_pattern(f, &first, "^[A-Z]");
		break;
	default: /* mixed: a prefix, an exact symbol and a class */
		sym_str(g, pick_symbol(g, r), a);
		sym_str(g, pick_symbol(g, r), b);
		yaml_pattern(f, &first, "^%c", a[0]);
		yaml_pattern(f, &first, "^%s$", b);
		yaml_pattern(f, &first, "^Q[A-Z]+");
		break;
	}
	fputs("]\n", f);
	if (i % 8 == 4)
		fputs("    types: \"AFECXDUP\"\n", f);
	else if (i % 8 == 6)
		fputs("    types: \"SPQBWV\"\n", f);
	else if (i % 8 == 7 && i % 16 == 15)
		fputs("    types: \"SRAFDUEC\"\n", f);
	if (i % 16 == 5)
		fputs("    max_payload: 128\n", f);
	else if (i % 4 == 1 || i % 8 == 6)
		fprintf(f, "    max_payload: %u\n", 200 + 100 * rng_below(r, 13));
}

static int write_routing(const struct gen *g, const char *path)
{
	const struct opts *o = g->o;
	FILE *f = fopen(path, "w");
	struct rng r;

	if (!f)
		return -errno;
	rng_seed(&r, o->seed, RS_CONFIG);
	fprintf(f, "# written by aster-feedgen --seed %llu (docs/protocol.md §4)\n",
		(unsigned long long)o->seed);
	fprintf(f, "feeds:\n  - name: %s\n    protocol: moldudp64-itch50\n    lines:\n",
		o->feed_name);
	fprintf(f, "      - {name: A, group: 233.54.12.111, port: 26477}\n");
	if (o->lines == 2)
		fprintf(f, "      - {name: B, group: 233.49.196.111, port: 26477}\n");
	fprintf(f, "ports:\n  - name: out0\nsubscribers:\n");
	for (uint32_t i = 0; i < o->subscribers; i++) {
		uint32_t n = i + 1;

		fprintf(f, "  - name: sub%04u\n    feed: %s\n    port: out0\n", n, o->feed_name);
		fprintf(
		    f, "    dst: {mac: \"02:00:00:%02x:%02x:%02x\", ip: 10.1.%u.%u, port: %u}\n",
		    (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, n / 250, n % 250 + 1, 31000 + n);
		fprintf(f, "    session: SUB%07u\n", n);
		write_subscriber_patterns(f, g, &r, i);
	}
	if (fclose(f))
		return -errno;
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fputs("usage: aster-feedgen --out-dir DIR [--messages N] [--symbols N] [--subscribers N]\n"
	      "         [--lines 1|2] [--loss-a P] [--loss-b P] [--dup P] [--rechunk] [--vlan]\n"
	      "         [--garbage P] [--ip-options P] [--heartbeats[=K]] [--sessions N]\n"
	      "         [--seed S] [--max-msgs-per-packet N] [--feed-name NAME]\n"
	      "         [--session-prefix STR] [--nanosecond]\n"
	      "writes DIR/a.pcap, DIR/b.pcap (2 lines) and DIR/routing.yaml; see docs/feedgen.md\n",
	      f);
}

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "aster-feedgen: --%s: '%s' is not an integer in %llu..%llu\n", opt,
			s, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_prob(const char *opt, const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 1)) {
		fprintf(stderr, "aster-feedgen: --%s: '%s' is not a probability in 0..1\n", opt, s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 31)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_LOSS_A = 256,
		O_LOSS_B,
		O_IP_OPTIONS,
		O_MAX_MSGS,
		O_FEED_NAME,
		O_SESSION_PREFIX,
		O_NS,
	};
	static const struct option lo[] = {
	    {"out-dir", required_argument, NULL, 'o'},
	    {"messages", required_argument, NULL, 'm'},
	    {"symbols", required_argument, NULL, 'y'},
	    {"subscribers", required_argument, NULL, 'u'},
	    {"lines", required_argument, NULL, 'l'},
	    {"loss-a", required_argument, NULL, O_LOSS_A},
	    {"loss-b", required_argument, NULL, O_LOSS_B},
	    {"dup", required_argument, NULL, 'd'},
	    {"rechunk", no_argument, NULL, 'r'},
	    {"vlan", no_argument, NULL, 'v'},
	    {"garbage", required_argument, NULL, 'g'},
	    {"ip-options", required_argument, NULL, O_IP_OPTIONS},
	    {"heartbeats", optional_argument, NULL, 'H'},
	    {"sessions", required_argument, NULL, 'S'},
	    {"seed", required_argument, NULL, 's'},
	    {"max-msgs-per-packet", required_argument, NULL, O_MAX_MSGS},
	    {"feed-name", required_argument, NULL, O_FEED_NAME},
	    {"session-prefix", required_argument, NULL, O_SESSION_PREFIX},
	    {"nanosecond", no_argument, NULL, O_NS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c, rc = 0;

	*o = (struct opts){
	    .messages = 1000000,
	    .symbols = 8000,
	    .subscribers = 64,
	    .lines = 2,
	    .loss = {0.01, 0.01},
	    .dup = 0.001,
	    .seed = 1,
	    .max_msgs = 40,
	    .feed_name = "itch",
	    .session_prefix = "ASTER",
	};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		const char *name = NULL;

		for (int k = 0; lo[k].name; k++)
			if (lo[k].val == c)
				name = lo[k].name;
		switch (c) {
		case 'o':
			o->out_dir = optarg;
			break;
		case 'm':
			rc = parse_u64(name, optarg, 1, 100000000, &o->messages);
			break;
		case 'y':
			rc = parse_u64(name, optarg, 1, 60000, &v);
			o->symbols = (uint32_t)v;
			break;
		case 'u':
			rc = parse_u64(name, optarg, 1, 30000, &v);
			o->subscribers = (uint32_t)v;
			break;
		case 'l':
			rc = parse_u64(name, optarg, 1, 2, &v);
			o->lines = (uint32_t)v;
			break;
		case O_LOSS_A:
			rc = parse_prob(name, optarg, &o->loss[0]);
			break;
		case O_LOSS_B:
			rc = parse_prob(name, optarg, &o->loss[1]);
			break;
		case 'd':
			rc = parse_prob(name, optarg, &o->dup);
			break;
		case 'r':
			o->rechunk = true;
			break;
		case 'v':
			o->vlan = 0.5;
			break;
		case 'g':
			rc = parse_prob(name, optarg, &o->garbage);
			break;
		case O_IP_OPTIONS:
			rc = parse_prob(name, optarg, &o->ip_options);
			break;
		case 'H':
			o->heartbeat_every = 50;
			if (optarg) {
				rc = parse_u64(name, optarg, 1, 1000000, &v);
				o->heartbeat_every = (uint32_t)v;
			}
			break;
		case 'S':
			rc = parse_u64(name, optarg, 0, 1000, &v);
			o->sessions = (uint32_t)v;
			break;
		case 's':
			rc = parse_u64(name, optarg, 0, UINT64_MAX, &o->seed);
			break;
		case O_MAX_MSGS:
			rc = parse_u64(name, optarg, 1, 1000, &v);
			o->max_msgs = (uint32_t)v;
			break;
		case O_FEED_NAME:
			o->feed_name = optarg;
			if (!valid_name(optarg)) {
				fprintf(
				    stderr,
				    "aster-feedgen: --feed-name: '%s' is not [a-z0-9_-]{1,31}\n",
				    optarg);
				rc = -EINVAL;
			}
			break;
		case O_SESSION_PREFIX:
			o->session_prefix = optarg;
			for (const char *p = optarg; *p; p++)
				if (*p < '!' || *p > '~' || *p == '"' || *p == '\\') {
					fprintf(stderr, "aster-feedgen: --session-prefix: "
							"printable ASCII only\n");
					rc = -EINVAL;
					break;
				}
			break;
		case O_NS:
			o->nanosecond = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	if (optind < argc) {
		fprintf(stderr, "aster-feedgen: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->out_dir) {
		fprintf(stderr, "aster-feedgen: --out-dir is required\n");
		return -EINVAL;
	}
	return 0;
}

static FILE *open_out(const char *dir, const char *name, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		fprintf(stderr, "aster-feedgen: %s: %s\n", path, strerror(errno));
	else
		setvbuf(f, NULL, _IOFBF, 1 << 20);
	return f;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct gen g = {0};
	struct pktlist pa = {0}, pb = {0};
	struct line *lines[2] = {NULL, NULL};
	uint64_t tail_first = UINT64_MAX;
	char path[4096];
	int rc;

	if (parse_opts(argc, argv, &o))
		return 2;
	if (mkdir(o.out_dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "aster-feedgen: %s: %s\n", o.out_dir, strerror(errno));
		return 1;
	}
	g.o = &o;
	g.n_sessions = o.sessions + 1;
	/* every session carries S, its directory, traffic and a closing S */
	if (o.messages / g.n_sessions < 4) {
		fprintf(stderr, "aster-feedgen: --messages %llu is too few for %u sessions\n",
			(unsigned long long)o.messages, g.n_sessions);
		return 2;
	}
	if (o.symbols > o.messages / g.n_sessions / 2)
		o.symbols = (uint32_t)(o.messages / g.n_sessions / 2);
	itch_table_init();
	generate_messages(&g);

	packetize(&g, RS_CHUNK_A, &pa);
	if (o.rechunk)
		packetize(&g, RS_CHUNK_B, &pb);
	else
		pb = pa;
	/* with heartbeats the last data packet is lost everywhere: a gap only the closing
	 * heartbeat announces (docs/protocol.md §3.3) */
	if (o.heartbeat_every && pa.n > 1)
		tail_first = pa.p[pa.n - 1].first;

	for (uint32_t i = 0; i < o.lines; i++) {
		struct line *l = xcalloc(1, sizeof(*l));

		lines[i] = l;
		l->g = &g;
		l->o = &o;
		l->idx = (int)i;
		l->group = i ? 0xe931c46f : 0xe9360c6f; /* 233.49.196.111 / 233.54.12.111 */
		l->port = 26477;
		rng_seed(&l->rng, o.seed, i ? RS_LINE_B : RS_LINE_A);
		rng_seed(&l->grng, o.seed, i ? RS_GARBAGE_B : RS_GARBAGE_A);
		l->f = open_out(o.out_dir, i ? "b.pcap" : "a.pcap", path, sizeof(path));
		if (!l->f)
			return 1;
		rc = write_line(l, i ? &pb : &pa, tail_first);
		if (fclose(l->f) || rc) {
			fprintf(stderr, "aster-feedgen: %s: %s\n", path,
				strerror(rc ? -rc : errno));
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/routing.yaml", o.out_dir);
	rc = write_routing(&g, path);
	if (rc) {
		fprintf(stderr, "aster-feedgen: %s: %s\n", path, strerror(-rc));
		return 1;
	}

	printf("feedgen: seed=%llu messages=%llu symbols=%u sessions=%u subscribers=%u "
	       "unbound=%llu",
	       (unsigned long long)o.seed, (unsigned long long)g.n, o.symbols, g.n_sessions,
	       o.subscribers, (unsigned long long)g.unbound);
	for (uint32_t i = 0; i < o.lines; i++) {
		const struct line *l = lines[i];

		printf(" | %c: frames=%llu packets=%llu lost=%llu dups=%llu heartbeats=%llu "
		       "garbage=%llu malformed=%llu",
		       'A' + i, (unsigned long long)l->frames, (unsigned long long)l->data_pkts,
		       (unsigned long long)l->lost, (unsigned long long)l->dups,
		       (unsigned long long)l->heartbeats, (unsigned long long)l->garbage,
		       (unsigned long long)l->malformed);
	}
	printf("\n");
	free(lines[0]);
	free(lines[1]);
	if (pb.p != pa.p)
		free(pb.p);
	free(pa.p);
	free(g.data);
	free(g.off);
	free(g.sym);
	free(g.rank_to_sym);
	free(g.zipf_cdf);
	free(g.base_price);
	free(g.sess_first);
	free(g.sess_name);
	return 0;
}
