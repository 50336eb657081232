/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lcore driver's lifetime and read API (dataplane/lcore.h, rx.h): creation that
 * fails midway frees everything it made (no DPDK heap memory, ring or name left
 * behind, so a second attempt can succeed), and the per-lcore health a TX lcore
 * reports for its input rings. These need DPDK's heap and rings, so unlike the stage
 * tests they start EAL: in memory, without hugepages or PCI, nothing left on disk.
 * Nothing is launched; the lcores are only built.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "latency.h"
#include "lcore.h"
#include "rx.h"

static struct profile prof;
static struct lcore_ports ports;
static char err[512];
static char run_dir[128];

static void eal_up(void)
{
	char prefix[64];
	char *argv[] = {"test_lcore",
			"--no-huge",
			"-m",
			"256",
			"--no-pci",
			"--no-shconf",
			"--no-telemetry",
			prefix,
			"--lcores=0@0,1@0,2@0",
			"--log-level=*:error",
			NULL};

	snprintf(prefix, sizeof(prefix), "--file-prefix=aster-test-lcore-%d", (int)getpid());
	cr_assert_geq(rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv), 0, "EAL init");
	snprintf(run_dir, sizeof(run_dir), "%s", rte_eal_get_runtime_dir());
	/* the mbuf dynamic field registry is allocated on its first use, once per process:
	 * before the heap is measured */
	cr_assert_geq(latency_dynfield_register(), 0);
	memset(&prof, 0, sizeof(prof));
	snprintf(prof.path, sizeof(prof.path), "test (built in)");
	prof.n_lcores = 2;
	prof.lcores[0] = (struct profile_lcore){.id = 1, .cpu = 0, .roles = PROFILE_ROLE_RX};
	prof.lcores[1] = (struct profile_lcore){.id = 2, .cpu = 0, .roles = PROFILE_ROLE_TX};
	prof.burst = 32;
	prof.ring_size = 1024;
	prof.hold_packets = 16;
	prof.max_subscribers = 8;
	memset(&ports, 0, sizeof(ports));
}

/* --no-shconf leaves an empty runtime directory behind: remove it. */
static void eal_down(void)
{
	rte_eal_cleanup();
	rmdir(run_dir);
}

TestSuite(lcore, .init = eal_up, .fini = eal_down, .timeout = 60);

/* Bytes allocated from DPDK's heaps (memzones, rings and rte_malloc alike). */
static size_t heap_used(void)
{
	struct rte_malloc_socket_stats st;
	size_t used = 0;

	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			used += st.heap_allocsz_bytes;
	return used;
}

static struct lcore_map *create(uint32_t max_subs, struct rte_mempool *pool)
{
	return lcore_map_create(&(struct lcore_map_cfg){.prof = &prof,
							.policy = live_mode.policy,
							.ports = &ports,
							.tx_pool = pool,
							.max_subs = max_subs},
				err, sizeof(err));
}

/* An RX lcore whose per-subscriber arrays do not fit is not half made. */
Test(lcore, rx_create_failing_leaves_nothing)
{
	struct rte_ring *rings[1] = {NULL};
	size_t before = heap_used();
	struct rx_lcore *lc = rx_create(&(struct rx_params){
	    .lcore_id = 1, .prof = &prof, .max_subs = 1u << 26, .n_tx = 1, .rings = rings});

	cr_expect_null(lc, "a half-built RX lcore was returned");
	cr_expect_eq(errno, ENOMEM);
	cr_expect_eq(heap_used(), before, "DPDK heap: %zu bytes before, %zu after", before,
		     heap_used());
}

/* The map fails after its rings and TX lcores exist (the RX lcores' arrays do not
 * fit): all of it is freed, rings included, so the same names can be created again. */
Test(lcore, map_create_failing_midway_unwinds)
{
	size_t before = heap_used();
	struct lcore_map *m = create(1u << 26, NULL);

	cr_assert_null(m);
	cr_expect(strstr(err, "out of memory") != NULL, "%s", err);
	cr_expect_eq(heap_used(), before, "DPDK heap: %zu bytes before, %zu after", before,
		     heap_used());
	m = create(8, NULL);
	cr_assert_not_null(m, "a second attempt: %s", err);
	lcore_map_free(m);
	cr_expect_eq(heap_used(), before, "lcore_map_free left %zu bytes", heap_used() - before);
}

Test(lcore, map_without_both_roles_is_refused)
{
	prof.lcores[1].roles = PROFILE_ROLE_RX;
	cr_expect_null(create(8, NULL));
	cr_expect(strstr(err, "at least one rx and one tx role") != NULL, "%s", err);
}

/* A ring's backlog is its consumer's: the TX lcore reports how full its input rings are
 * (health segment ring_used / ring_size); the RX lcore reports none. */
Test(lcore, ring_occupancy_is_the_tx_lcores)
{
	struct rte_mempool *pool = rte_pktmbuf_pool_create("test_tx", 1024, 0, 0, 256, 0);
	struct rte_mbuf *m[5];
	struct lcore_health h[4];
	struct lcore_map *map;
	uint32_t n;

	cr_assert_not_null(pool);
	map = create(8, pool);
	cr_assert_not_null(map, "%s", err);
	cr_assert_eq(rte_pktmbuf_alloc_bulk(pool, m, 5), 0);
	cr_assert_eq(rte_ring_enqueue_bulk(lcore_map_ring(map, 0, 0), (void **)m, 5, NULL), 5);
	n = lcore_map_health(map, h, 4);
	cr_assert_eq(n, 2);
	cr_expect_eq(h[0].roles, PROFILE_ROLE_RX);
	cr_expect_eq(h[0].lcore_id, 1);
	cr_expect_eq(h[0].ring_used, 0);
	cr_expect_eq(h[0].ring_size, 0);
	cr_expect_eq(h[1].roles, PROFILE_ROLE_TX);
	cr_expect_eq(h[1].lcore_id, 2);
	cr_expect_eq(h[1].ring_used, 5);
	cr_expect_eq(h[1].ring_size, rte_ring_get_capacity(lcore_map_ring(map, 0, 0)));
	lcore_map_free(map); /* frees what the rings still hold */
	cr_expect_eq(rte_mempool_in_use_count(pool), 0);
	rte_mempool_free(pool);
}
