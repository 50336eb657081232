/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Token bucket (docs/protocol.md §6.2: retransmit.rate per subscriber): starts full,
 * never grants more than it holds, refills at exactly the rate, caps at its depth,
 * survives long idle times and a clock that steps back.
 */
#include <criterion/criterion.h>

#include "token_bucket.h"

#define HZ 2100000000ull /* a 2.1 GHz TSC */

Test(token_bucket, full_at_start_and_never_more)
{
	struct token_bucket b;

	token_bucket_init(&b, 1000, 100, HZ, 5);
	cr_expect_eq(token_bucket_level(&b, 5), 100);
	cr_expect_eq(token_bucket_take(&b, 30, 5), 30);
	cr_expect_eq(token_bucket_take(&b, 500, 5), 70, "partial grant");
	cr_expect_eq(token_bucket_take(&b, 1, 5), 0);
	/* 1 ms at 1000/s is one token */
	cr_expect_eq(token_bucket_take(&b, 5, 5 + HZ / 1000), 1);
	cr_expect_eq(token_bucket_take(&b, 5, 5 + HZ / 1000), 0);
}

Test(token_bucket, exact_rate_over_time)
{
	struct token_bucket b;
	uint64_t granted = 0, t = 0;

	token_bucket_init(&b, 100000, 1000, HZ, 0);
	granted += token_bucket_take(&b, 1000, 0); /* empty it */
	cr_assert_eq(granted, 1000);
	granted = 0;
	/* polled every 12 345 ticks, always asking for more than the rate gives */
	while (t < HZ) {
		t += 12345;
		granted += token_bucket_take(&b, 64, t);
	}
	/* 100 000 per second, minus less than one token of remainder */
	uint64_t want = (uint64_t)((unsigned __int128)t * 100000 / HZ);
	cr_expect(granted == want || granted + 1 == want, "granted %lu in %lu ticks, want %lu",
		  (unsigned long)granted, (unsigned long)t, (unsigned long)want);
}

Test(token_bucket, depth_caps_idle_credit)
{
	struct token_bucket b;

	token_bucket_init(&b, 10, 3, HZ, 0);
	cr_expect_eq(token_bucket_take(&b, 3, 0), 3);
	/* an hour idle refills to the depth, not more, and does not overflow */
	cr_expect_eq(token_bucket_level(&b, 3600 * HZ), 3);
	cr_expect_eq(token_bucket_take(&b, 10, 3600 * HZ), 3);
	/* a clock that goes back adds nothing and takes nothing away */
	cr_expect_eq(token_bucket_take(&b, 10, 10), 0);
	cr_expect_eq(token_bucket_take(&b, 10, 3600 * HZ + HZ / 10), 1);
}

Test(token_bucket, extreme_settings)
{
	struct token_bucket b;

	token_bucket_init(&b, 100000000, 100000000, 4000000000ull, UINT64_MAX / 2);
	cr_expect_eq(token_bucket_take(&b, UINT32_MAX, UINT64_MAX / 2), 100000000);
	cr_expect_eq(token_bucket_take(&b, UINT32_MAX, UINT64_MAX / 2 + 4000000000ull), 100000000);
	/* zeros are taken as 1 */
	token_bucket_init(&b, 0, 0, 0, 0);
	cr_expect_eq(token_bucket_take(&b, 9, 0), 1);
	cr_expect_eq(token_bucket_take(&b, 9, 1), 1);
}
