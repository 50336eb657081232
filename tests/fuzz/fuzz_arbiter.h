/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The arbiter's callbacks as the fuzz targets over it check them (fuzz_decode,
 * fuzz_recovery): deliveries move forward within a session, and a packet is released
 * once, only while the arbiter holds it. fuzz_hstate[h] of handle h (1..FUZZ_ARB_OPS):
 * 1 kept by the arbiter, 2 released, 3 refused (the target sets 1 and 3).
 */
#ifndef ASTER_FUZZ_ARBITER_H
#define ASTER_FUZZ_ARBITER_H

#include <string.h>

#include "arbiter.h"
#include "fuzz.h"

#define FUZZ_ARB_OPS 512

static uint8_t fuzz_hstate[FUZZ_ARB_OPS + 1];
static uint64_t fuzz_last_seq;
static int fuzz_any_delivered;

static void fuzz_deliver(void *ctx, const struct arbiter_pkt *pkt, uint16_t skip)
{
	(void)ctx;
	CHECK(skip < pkt->n_msgs);
	CHECK(!fuzz_any_delivered || pkt->seq + skip > fuzz_last_seq);
	fuzz_last_seq = pkt->seq + pkt->n_msgs - 1;
	fuzz_any_delivered = 1;
}

static void fuzz_release(void *ctx, void *handle)
{
	uintptr_t h = (uintptr_t)handle;

	(void)ctx;
	CHECK(h >= 1 && h <= FUZZ_ARB_OPS && fuzz_hstate[h] == 1);
	fuzz_hstate[h] = 2;
}

static void fuzz_new_session(void *ctx, const uint8_t *session)
{
	(void)ctx;
	(void)session;
	fuzz_any_delivered = 0;
}

static const struct arbiter_ops fuzz_arbiter_ops = {
    .deliver = fuzz_deliver,
    .release = fuzz_release,
    .new_session = fuzz_new_session,
};

/* Before each input: no handle kept, no delivery seen. */
static inline void fuzz_arbiter_reset(void)
{
	memset(fuzz_hstate, 0, sizeof(fuzz_hstate));
	fuzz_any_delivered = 0;
}

#endif
