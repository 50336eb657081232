/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency histogram readers and the RX-stamp mbuf field (latency.h). Nothing here runs
 * on a polling core but latency_record and the stamp accessors (inline).
 */
#include <string.h>

#include <rte_errno.h>
#include <rte_mbuf_dyn.h>

#include "latency.h"

uint64_t latency_bucket_max(uint32_t b)
{
	if (b < LATENCY_SUBS)
		return b;
	uint32_t shift = b / LATENCY_SUBS - 1; /* msb - LATENCY_SUB_BITS */
	uint64_t lo = (uint64_t)(LATENCY_SUBS + b % LATENCY_SUBS) << shift;

	return lo + ((1ull << shift) - 1);
}

int latency_dynfield_register(void)
{
	static const struct rte_mbuf_dynfield desc = {
	    .name = "aster_dynfield_rx_tsc",
	    .size = sizeof(uint64_t),
	    .align = __alignof__(uint64_t),
	};

	return rte_mbuf_dynfield_register(&desc);
}

static uint64_t rd(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void latency_merge(struct latency_hist *acc, const struct latency_hist *h)
{
	uint64_t max = rd(&h->max_cycles);

	acc->count += rd(&h->count);
	acc->sum_cycles += rd(&h->sum_cycles);
	if (max > acc->max_cycles)
		acc->max_cycles = max;
	for (uint32_t b = 0; b < LATENCY_BUCKETS; b++)
		acc->bucket[b] += rd(&h->bucket[b]);
}

void latency_diff(struct latency_hist *out, const struct latency_hist *after,
		  const struct latency_hist *before)
{
	out->count = after->count - before->count;
	out->sum_cycles = after->sum_cycles - before->sum_cycles;
	out->max_cycles = after->max_cycles;
	for (uint32_t b = 0; b < LATENCY_BUCKETS; b++)
		out->bucket[b] = after->bucket[b] - before->bucket[b];
}

/* Upper bound of the bucket holding the ceil(q * count)-th smallest value. */
static uint64_t quantile(const struct latency_hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->count);
	uint64_t seen = 0;

	if ((double)rank < q * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (uint32_t b = 0; b < LATENCY_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= rank) {
			uint64_t hi = latency_bucket_max(b);

			/* the bucket's bound may exceed what was ever seen */
			return hi < h->max_cycles ? hi : h->max_cycles;
		}
	}
	return h->max_cycles;
}

void latency_summarize(const struct latency_hist *h, uint64_t tsc_hz, struct latency_summary *s)
{
	double ns = tsc_hz ? 1e9 / (double)tsc_hz : 0.0;

	memset(s, 0, sizeof(*s));
	if (h->count == 0)
		return;
	s->count = h->count;
	s->mean_ns = (double)h->sum_cycles / (double)h->count * ns;
	s->p50_ns = (double)quantile(h, 0.50) * ns;
	s->p90_ns = (double)quantile(h, 0.90) * ns;
	s->p99_ns = (double)quantile(h, 0.99) * ns;
	s->p999_ns = (double)quantile(h, 0.999) * ns;
	s->max_ns = (double)h->max_cycles * ns;
}
