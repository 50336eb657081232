/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters are written by one thread and read by others (common/counter.h): an RX lcore
 * bumps its feeds' arbiter counters while the control and telemetry threads read them.
 * Built with ThreadSanitizer (tests/unit/meson.build) and run by
 * tests/integration/test_counter_threads.sh, which fails on any race it reports between
 * the arbiter's writes and the readers' counter_read. A plain program: Criterion's
 * process arena and ThreadSanitizer's memory layout do not coexist.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "arbiter.h"

static struct arbiter arb;
static uint32_t stop;

static void deliver(void *ctx, const struct arbiter_pkt *pkt, uint16_t skip)
{
	(void)ctx, (void)pkt, (void)skip;
}

static void release(void *ctx, void *handle)
{
	(void)ctx, (void)handle;
}

static void new_session(void *ctx, const uint8_t *session)
{
	(void)ctx, (void)session;
}

static const struct arbiter_ops ops = {deliver, release, new_session};

/* What stats.json, telemetry and the health segment do: read every counter, often. */
static void *reader(void *arg)
{
	uint64_t sum = 0;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
#define X(n, help) sum += counter_read(&arb.c.n);
		COUNTER_ARBITER(X)
#undef X
	}
	return (void *)(uintptr_t)sum;
}

int main(void)
{
	uint8_t mold[20] = "SESSION001";
	pthread_t t;

	arbiter_init(&arb, 2, 16, 0, &ops, NULL);
	if (pthread_create(&t, NULL, reader, NULL) != 0)
		return 2;
	for (uint64_t seq = 1; seq <= 20000; seq++) {
		struct arbiter_pkt p = {
		    .mold = mold, .len = 20, .session = mold, .seq = seq, .n_msgs = 1, .line = 0};

		arbiter_accept(&arb, &p, 0);
		p.line = 1; /* the B copy: a duplicate */
		arbiter_accept(&arb, &p, 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	printf("messages %llu, duplicates %llu\n",
	       (unsigned long long)counter_read(&arb.c.messages),
	       (unsigned long long)counter_read(&arb.c.duplicates));
	return counter_read(&arb.c.messages) == 20000 && counter_read(&arb.c.duplicates) == 20000
		   ? 0
		   : 1;
}
