/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency inside the appliance: TSC cycles from the RX stamp (taken when the RX burst
 * that carried a message came back from rte_eth_rx_burst) to just before the
 * rte_eth_tx_burst of the output frame carrying it, per output frame, into a
 * log-bucketed histogram.
 *
 * The RX lcore writes the stamp into an mbuf dynamic field of each output frame
 * (rx.c, when the publisher closes it); the TX lcore reads it and records the
 * difference (tx.c). One histogram per TX lcore, written only by that lcore with
 * single-writer relaxed stores (like stats.h); readers (stats.json, telemetry,
 * benchmarks) merge the TX lcores' histograms and accept a slightly stale view.
 *
 * Buckets: values below 8 cycles exactly, then 8 buckets per power of two, so a
 * bucket spans at most 1/8 of its lower bound (percentiles are reported as the
 * bucket's upper bound: never below the true value, at most 12.5 % above).
 */
#ifndef ASTER_LATENCY_H
#define ASTER_LATENCY_H

#include <stdint.h>

#include <rte_common.h>

#define LATENCY_SUB_BITS 3
#define LATENCY_SUBS	 (1u << LATENCY_SUB_BITS)
#define LATENCY_BUCKETS	 (64 * LATENCY_SUBS)

struct latency_hist {
	uint64_t count;
	uint64_t sum_cycles;
	uint64_t max_cycles;
	uint64_t bucket[LATENCY_BUCKETS];
} __rte_cache_aligned;

static inline uint32_t latency_bucket(uint64_t cycles)
{
	if (cycles < LATENCY_SUBS)
		return (uint32_t)cycles;
	uint32_t msb = 63u - (uint32_t)__builtin_clzll(cycles);

	return (msb - LATENCY_SUB_BITS + 1) * LATENCY_SUBS +
	       (uint32_t)((cycles >> (msb - LATENCY_SUB_BITS)) & (LATENCY_SUBS - 1));
}

/* Largest value that falls in bucket `b`. */
uint64_t latency_bucket_max(uint32_t b);

/* Single writer (the owning TX lcore): plain adds published with relaxed stores. */
static inline void latency_record(struct latency_hist *h, uint64_t cycles)
{
	uint64_t *b = &h->bucket[latency_bucket(cycles)];

	__atomic_store_n(b, *b + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->count, h->count + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&h->sum_cycles, h->sum_cycles + cycles, __ATOMIC_RELAXED);
	if (cycles > h->max_cycles)
		__atomic_store_n(&h->max_cycles, cycles, __ATOMIC_RELAXED);
}

/*
 * Register the mbuf dynamic field carrying the RX stamp (once per process, after EAL
 * init; later calls return the same offset). The offset, or -1 with rte_errno set.
 */
int latency_dynfield_register(void);

static inline void latency_stamp_set(void *mbuf, int off, uint64_t tsc)
{
	*(uint64_t *)((char *)mbuf + off) = tsc;
}

static inline uint64_t latency_stamp_get(const void *mbuf, int off)
{
	return *(const uint64_t *)((const char *)mbuf + off);
}

/* Readers: `acc` += a relaxed snapshot of `h` (max: the larger). */
void latency_merge(struct latency_hist *acc, const struct latency_hist *h);
/* `after` - `before`, both snapshots of the same histogram (max: `after`'s). */
void latency_diff(struct latency_hist *out, const struct latency_hist *after,
		  const struct latency_hist *before);

struct latency_summary {
	uint64_t count;
	double mean_ns;
	double p50_ns, p90_ns, p99_ns, p999_ns; /* bucket upper bounds */
	double max_ns;
};

/* Percentiles of `h` in ns at `tsc_hz`; all zero when it is empty. */
void latency_summarize(const struct latency_hist *h, uint64_t tsc_hz, struct latency_summary *s);

#endif
