/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-control's health model (control/health.c, docs/control.md "Health model"): a
 * health segment written here the way the dataplane's control thread writes it, sampled
 * the way aster-control samples it, and every state and reason of the model's table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "health.h"
#include "settings.h"

static struct settings set;
static struct health *h;
static struct health_shm *shm; /* the "dataplane's" writable mapping */
static char path[64];

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One dataplane rewrite: seqlock odd, fields, even, fresh timestamp. */
static void publish(void)
{
	__atomic_store_n(&shm->seq, shm->seq + 1, __ATOMIC_RELEASE);
	shm->updated_ns = real_ns();
	__atomic_store_n(&shm->seq, shm->seq + 1, __ATOMIC_RELEASE);
}

static void setup(void)
{
	char err[256];
	int fd;

	cr_assert_eq(settings_load(&set, NULL, err, sizeof(err)), 0, "%s", err);
	snprintf(path, sizeof(path), "/tmp/aster-test-health.%d", (int)getpid());
	snprintf(set.health_file, sizeof(set.health_file), "%s", path);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, sizeof(struct health_shm)), 0);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	cr_assert_neq(shm, MAP_FAILED);
	shm->version = HEALTH_VERSION;
	shm->boot_id = 7;
	shm->table_version = 3;
	shm->n_lcores = 2;
	shm->lcores[0] = (struct health_lcore){.lcore_id = 1,
					       .roles = HEALTH_ROLE_RX,
					       .heartbeat = 100,
					       .ring_used = 10,
					       .ring_size = 4096};
	shm->lcores[1] =
	    (struct health_lcore){.lcore_id = 2, .roles = HEALTH_ROLE_TX, .heartbeat = 100};
	shm->n_ports = 2;
	shm->ports[0] = (struct health_port){.name = "in0", .is_rx = 1, .link_up = 1};
	shm->ports[1] = (struct health_port){.name = "out0", .is_rx = 0, .link_up = 1};
	shm->n_drops = 2;
	shm->drops[0] = (struct health_counter){.name = "duplicate"};
	shm->drops[1] = (struct health_counter){.name = "ring_full"};
	shm->n_feeds = 1;
	shm->feeds[0] = (struct health_feed){.name = "itch"};
	shm->n_subs = 1;
	shm->subs[0] = (struct health_sub){.name = "alpha"};
	__atomic_store_n(&shm->magic, HEALTH_MAGIC, __ATOMIC_RELEASE);
	publish();
	h = health_open(&set);
	cr_assert_not_null(h);
}

static void teardown(void)
{
	health_close(h);
	munmap(shm, sizeof(*shm));
	unlink(path);
}

static const struct health_inputs in_sync = {
    .dp_connected = true, .store_version = 3, .dp_version = 3};

/* Lcores moving, as they do between two samples of a running dataplane. */
static void tick(void)
{
	shm->lcores[0].heartbeat += 1000;
	shm->lcores[1].heartbeat += 1000;
	publish();
}

/* The reasons of the last sample, one per line, for messages and substring checks. */
static char *reasons(void)
{
	static char buf[4096];
	json_t *o = health_json(h), *r = json_object_get(o, "reasons");
	size_t i, off = 0;
	json_t *v;

	buf[0] = '\0';
	json_array_foreach(r, i, v) off +=
	    (size_t)snprintf(buf + off, sizeof(buf) - off, "%s\n", json_string_value(v));
	json_decref(o);
	return buf;
}

TestSuite(health, .init = setup, .fini = teardown);

Test(health, healthy_when_all_is_well)
{
	health_sample(h, &in_sync);
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_HEALTHY, "%s", reasons());
	cr_expect_str_eq(reasons(), "");
}

Test(health, no_control_connection_is_down)
{
	struct health_inputs in = in_sync;

	in.dp_connected = false;
	health_sample(h, &in);
	cr_expect_eq(health_state(h), HEALTH_DOWN);
	cr_expect(strstr(reasons(), "dataplane unreachable: no control connection") != NULL);
}

Test(health, missing_and_stale_file_is_down)
{
	shm->updated_ns = real_ns() - 5000000000ull; /* 5 s ago */
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DOWN);
	cr_expect(strstr(reasons(), "health file stale (updated 5") != NULL, "%s", reasons());
	unlink(path);
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DOWN);
	cr_expect(strstr(reasons(), "health file missing") != NULL, "%s", reasons());
}

Test(health, stalled_lcore_is_down)
{
	health_sample(h, &in_sync);
	shm->lcores[1].heartbeat += 5; /* only the TX lcore moves */
	publish();
	usleep((HEALTH_STALL_MS + 100) * 1000);
	shm->lcores[1].heartbeat += 5;
	publish();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DOWN);
	cr_expect(strstr(reasons(), "lcore stalled: lcore 1 heartbeat unchanged for") != NULL, "%s",
		  reasons());
	cr_expect(strstr(reasons(), "lcore 2") == NULL, "the moving lcore is fine: %s", reasons());
}

Test(health, rising_counters_degrade_and_benign_drops_do_not)
{
	health_sample(h, &in_sync);
	shm->drops[0].value += 500; /* duplicate: the losing A/B copy, benign */
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_HEALTHY, "%s", reasons());

	shm->drops[1].value += 3;
	shm->feeds[0].c.gaps += 2;
	shm->subs[0].c.dropped += 4;
	shm->ports[0].missed += 9;
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DEGRADED);
	cr_expect(strstr(reasons(), "drops rising: ring_full +3") != NULL, "%s", reasons());
	cr_expect(strstr(reasons(), "gaps rising: feed itch +2") != NULL, "%s", reasons());
	cr_expect(strstr(reasons(), "drops rising: subscriber alpha dropped +4") != NULL, "%s",
		  reasons());
	cr_expect(strstr(reasons(), "drops rising: port in0 missed +9") != NULL, "%s", reasons());

	/* a rise is held for HEALTH_HOLD_MS, then forgotten when nothing rises */
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DEGRADED, "held rise");
	usleep((HEALTH_HOLD_MS + 200) * 1000);
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_HEALTHY, "%s", reasons());
}

Test(health, link_ring_and_drift_degrade)
{
	struct health_inputs in = in_sync;

	shm->ports[1].link_up = 0;
	shm->lcores[0].ring_used = 4000; /* of 4096: 97 % */
	in.store_version = 4;		 /* the store moved on, the dataplane did not */
	health_sample(h, &in);
	tick();
	health_sample(h, &in);
	cr_expect_eq(health_state(h), HEALTH_DEGRADED);
	cr_expect(strstr(reasons(), "link down: port out0 (output)") != NULL, "%s", reasons());
	cr_expect(strstr(reasons(), "ring occupancy high: lcore 1 4000/4096 (97%)") != NULL, "%s",
		  reasons());
	cr_expect(strstr(reasons(), "table drift: dataplane at version 3, store at 4") != NULL,
		  "%s", reasons());
}

/* docs/protocol.md §6.3: a feed recovering (open ranges, held packets) is degraded while
 * it lasts; ranges declared gaps after recovery failed are a rising counter of their own. */
Test(health, recovering_and_failed_recovery_degrade)
{
	health_sample(h, &in_sync);
	shm->feeds[0].recovery_open_ranges = 2;
	shm->feeds[0].held_packets = 17;
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DEGRADED);
	cr_expect(strstr(reasons(), "recovering: feed itch, 2 ranges asked for, 17 packets held") !=
		      NULL,
		  "%s", reasons());
	shm->feeds[0].recovery_open_ranges = 0;
	shm->feeds[0].held_packets = 0;
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_HEALTHY, "recovered: %s", reasons());

	shm->feeds[0].c.recovery_gaps += 3;
	shm->feeds[0].c.gaps += 3;
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DEGRADED);
	cr_expect(strstr(reasons(), "recovery failed: feed itch, +3 ranges declared gaps") != NULL,
		  "%s", reasons());
}

/* A restarted dataplane (new boot id) starts its counters from zero: that is no rise,
 * and nothing held from the old process carries over. */
Test(health, restart_resets_baselines)
{
	shm->drops[1].value = 1000;
	health_sample(h, &in_sync);
	shm->boot_id = 8;
	shm->drops[1].value = 2; /* counting again from zero */
	tick();
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_HEALTHY, "%s", reasons());
	shm->drops[1].value = 5;
	tick();
	health_sample(h, &in_sync);
	cr_expect(strstr(reasons(), "drops rising: ring_full +3") != NULL, "%s", reasons());
}

/* A writer stuck mid-update (odd seq) is never read as a consistent copy. */
Test(health, torn_segment_is_not_read)
{
	health_sample(h, &in_sync);
	__atomic_store_n(&shm->seq, shm->seq + 1, __ATOMIC_RELEASE); /* odd, and it stays */
	health_sample(h, &in_sync);
	cr_expect_eq(health_state(h), HEALTH_DOWN);
	cr_expect(strstr(reasons(), "never consistent") != NULL, "%s", reasons());
}

/* /metrics `m` has `metric{labels} v` and `help` as its HELP line; /status's `obj` has
 * `name` = v. */
static void expect_exported(const char *m, const char *metric, const char *labels, const char *help,
			    json_t *obj, const char *name, uint64_t v)
{
	char line[256];

	snprintf(line, sizeof(line), "\n%s{%s} %llu\n", metric, labels, (unsigned long long)v);
	cr_expect(strstr(m, line) != NULL, "metrics lack %s", line + 1);
	snprintf(line, sizeof(line), "# HELP %s %s\n", metric, help);
	cr_expect(strstr(m, line) != NULL, "metrics lack %s", line);
	cr_expect_eq(json_integer_value(json_object_get(obj, name)), (json_int_t)v, "/status %s",
		     name);
}

/* Every counter of common/counter.h's lists reaches /metrics (aster_feed_<name>_total,
 * aster_subscriber_<name>_total, aster_line_<name>_total) and /status with its own
 * value: adding a counter to a list is enough to export it. */
Test(health, every_listed_counter_is_exported)
{
	uint64_t v = 11;
	char labels[64];

#define X(n, help) shm->feeds[0].c.n = v++;
	COUNTER_FEED(X)
#undef X
#define X(n, help) shm->subs[0].c.n = v++;
	COUNTER_SUB(X)
#undef X
	shm->feeds[0].n_lines = 2;
	for (int l = 0; l < 2; l++) {
		snprintf(shm->feeds[0].lines[l].name, HEALTH_NAME, "%c", 'A' + l);
#define X(n, help) shm->feeds[0].lines[l].c.n = v++;
		COUNTER_LINE(X)
#undef X
	}
	tick();
	health_sample(h, &in_sync);
	char *m = health_metrics(h);
	json_t *st = health_status_json(h);
	json_t *feed = json_object_get(json_object_get(st, "feeds"), "itch");
	json_t *sub = json_object_get(json_object_get(st, "subscribers"), "alpha");

	cr_assert_not_null(m);
	v = 11;
#define X(n, help)                                                                                 \
	expect_exported(m, "aster_feed_" #n "_total", "feed=\"itch\"", help, feed, #n, v++);
	COUNTER_FEED(X)
#undef X
#define X(n, help)                                                                                 \
	expect_exported(m, "aster_subscriber_" #n "_total", "subscriber=\"alpha\"", help, sub, #n, \
			v++);
	COUNTER_SUB(X)
#undef X
	json_t *lines = json_object_get(feed, "lines");
	cr_assert_eq(json_object_size(lines), 2);
	for (int l = 0; l < 2; l++) {
		char ln[2] = {(char)('A' + l), 0};
		json_t *o = json_object_get(lines, ln);

		snprintf(labels, sizeof(labels), "feed=\"itch\",line=\"%s\"", ln);
#define X(n, help) expect_exported(m, "aster_line_" #n "_total", labels, help, o, #n, v++);
		COUNTER_LINE(X)
#undef X
	}
	json_decref(st);
	free(m);
}
