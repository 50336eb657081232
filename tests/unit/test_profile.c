/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PMD profile loader: the three shipped profiles, the key table's defaults, and each
 * error class as one line "FILE:LINE: KEY: message".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "../../dataplane/profile.h"

static char err[512];
static char tmp_path[64];

/* The shipped profiles, in the source tree meson names at build time. */
static const char *shipped(const char *name)
{
	static char path[1024];

	/* meson passes the source tree, so the test runs from any directory */
	snprintf(path, sizeof(path), "%s/pmd_config/%s", ASTER_SOURCE_ROOT, name);
	return path;
}

/* Write `yaml` to a fresh temporary file and load it. */
static int load_text(const char *yaml, struct profile *p)
{
	int fd, rc;

	snprintf(tmp_path, sizeof(tmp_path), "/tmp/aster-test-profile-XXXXXX");
	fd = mkstemp(tmp_path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	memset(err, 0, sizeof(err));
	rc = profile_load(tmp_path, p, err, sizeof(err));
	unlink(tmp_path);
	return rc;
}

/* Expect rejection with `msg` printed after "FILE:". */
static void expect_error(const char *yaml, const char *msg)
{
	struct profile p;
	char want[600];

	cr_assert_eq(load_text(yaml, &p), -EINVAL, "accepted:\n%s", yaml);
	snprintf(want, sizeof(want), "%s:%s", tmp_path, msg);
	cr_expect_str_eq(err, want);
	cr_expect_null(strchr(err, '\n'));
}

/* Lines 1-4: the smallest valid profile. */
#define MINIMAL                                                                                    \
	"name: test\n"                                                                             \
	"lcores:\n"                                                                                \
	"  - {id: 1, cpu: 1, roles: [rx]}\n"                                                       \
	"  - {id: 2, cpu: 0, roles: [tx]}\n"

Test(profile, net_pcap)
{
	struct profile p;

	cr_assert_eq(profile_load(shipped("net_pcap.yaml"), &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(p.path, shipped("net_pcap.yaml"));
	cr_expect_str_eq(p.name, "net_pcap");
	cr_expect_str_eq(p.rx_driver, "net_pcap");
	cr_expect_str_eq(p.tx_driver, "net_pcap");
	cr_expect_eq(p.main_cpu, 0);
	cr_assert_eq(p.n_lcores, 2);
	cr_expect_eq(p.lcores[0].id, 1);
	cr_expect_eq(p.lcores[0].cpu, 1);
	cr_expect_eq(p.lcores[0].roles, PROFILE_ROLE_RX);
	cr_expect_eq(p.lcores[1].id, 2);
	cr_expect_eq(p.lcores[1].cpu, 0);
	cr_expect_eq(p.lcores[1].roles, PROFILE_ROLE_TX);
	/* FACTS: must fit --no-huge -m 512 with two pools of ~2.3 KiB mbufs. */
	cr_expect_leq(((uint64_t)p.rx_mbufs + p.tx_mbufs) * 2432, (uint64_t)p.memory_mb << 19);
	cr_expect_leq(p.memory_mb, 512);
	cr_expect_eq(p.ring_size & (p.ring_size - 1), 0);
	cr_expect_eq(p.hold_us, 0);
}

Test(profile, net_pcap_shared)
{
	struct profile p;

	cr_assert_eq(profile_load(shipped("net_pcap-shared.yaml"), &p, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_str_eq(p.name, "net_pcap-shared");
	cr_expect_str_eq(p.tx_driver, "net_pcap");
	cr_assert_eq(p.n_lcores, 1);
	cr_expect_eq(p.lcores[0].id, 1);
	cr_expect_eq(p.lcores[0].cpu, 1);
	cr_expect_eq(p.lcores[0].roles, PROFILE_ROLE_RX | PROFILE_ROLE_TX);
	cr_expect_leq(((uint64_t)p.rx_mbufs + p.tx_mbufs) * 2432, (uint64_t)p.memory_mb << 19);
}

Test(profile, net_null)
{
	struct profile p;

	cr_assert_eq(profile_load(shipped("net_null.yaml"), &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(p.name, "net_null");
	cr_expect_str_eq(p.rx_driver, "net_pcap");
	cr_expect_str_eq(p.tx_driver, "net_null");
	cr_assert_eq(p.n_lcores, 2);
	cr_expect_eq(p.lcores[0].roles | p.lcores[1].roles, PROFILE_ROLE_RX | PROFILE_ROLE_TX);
	cr_expect_leq(((uint64_t)p.rx_mbufs + p.tx_mbufs) * 2432, (uint64_t)p.memory_mb << 19);
}

Test(profile, defaults)
{
	struct profile p;

	cr_assert_eq(load_text(MINIMAL, &p), 0, "%s", err);
	cr_expect_str_eq(p.name, "test");
	cr_expect_str_eq(p.rx_driver, "net_pcap");
	cr_expect_str_eq(p.tx_driver, "net_pcap");
	cr_expect_eq(p.main_cpu, 0);
	cr_expect_eq(p.n_lcores, 2);
	cr_expect_eq(p.burst, 32);
	cr_expect_eq(p.rx_descs, 1024);
	cr_expect_eq(p.tx_descs, 1024);
	cr_expect_eq(p.ring_size, 4096);
	cr_expect_eq(p.rx_mbufs, 16384);
	cr_expect_eq(p.tx_mbufs, 16384);
	cr_expect_eq(p.mbuf_cache, 256);
	cr_expect_eq(p.hold_packets, 512);
	cr_expect_eq(p.hold_us, 0);
	cr_expect_eq(p.memory_mb, 512);
	cr_expect_eq(p.max_subscribers, 1024);
	cr_expect_str_eq(p.eal_args, "");
}

Test(profile, every_key_set)
{
	struct profile p;

	cr_assert_eq(load_text("name: full\n"
			       "rx_driver: net_pcap\n"
			       "tx_driver: net_null\n"
			       "main_cpu: 1023\n"
			       "lcores:\n"
			       "  - id: 127\n"
			       "    cpu: 5\n"
			       "    roles: [tx, rx]\n"
			       "burst: 512\n"
			       "rx_descs: 64\n"
			       "tx_descs: 16384\n"
			       "ring_size: 65536\n"
			       "rx_mbufs: 1048576\n"
			       "tx_mbufs: 1024\n"
			       "mbuf_cache: 0\n"
			       "hold_packets: 1\n"
			       "hold_us: 1000000\n"
			       "memory_mb: 64\n"
			       "max_subscribers: 65536\n"
			       "eal_args: \"--log-level=8 -a 0000:01:00.0\"\n",
			       &p),
		     0, "%s", err);
	cr_expect_str_eq(p.name, "full");
	cr_expect_str_eq(p.tx_driver, "net_null");
	cr_expect_eq(p.main_cpu, 1023);
	cr_assert_eq(p.n_lcores, 1);
	cr_expect_eq(p.lcores[0].id, 127);
	cr_expect_eq(p.lcores[0].cpu, 5);
	cr_expect_eq(p.lcores[0].roles, PROFILE_ROLE_RX | PROFILE_ROLE_TX);
	cr_expect_eq(p.burst, 512);
	cr_expect_eq(p.rx_descs, 64);
	cr_expect_eq(p.tx_descs, 16384);
	cr_expect_eq(p.ring_size, 65536);
	cr_expect_eq(p.rx_mbufs, 1048576);
	cr_expect_eq(p.tx_mbufs, 1024);
	cr_expect_eq(p.mbuf_cache, 0);
	cr_expect_eq(p.hold_packets, 1);
	cr_expect_eq(p.hold_us, 1000000);
	cr_expect_eq(p.memory_mb, 64);
	cr_expect_eq(p.max_subscribers, 65536);
	cr_expect_str_eq(p.eal_args, "--log-level=8 -a 0000:01:00.0");
}

Test(profile, unknown_and_missing_keys)
{
	expect_error(MINIMAL "bursts: 32\n",
		     "5: bursts: unknown key (expected one of: name, rx_driver, tx_driver, "
		     "main_cpu, lcores, burst, rx_descs, tx_descs, ring_size, rx_mbufs, tx_mbufs, "
		     "mbuf_cache, hold_packets, hold_us, memory_mb, max_subscribers, eal_args, "
		     "rx_ports, tx_ports)");
	expect_error("name: x\nburst: 32\n", "1: lcores: missing required key");
	expect_error("lcores:\n  - {id: 1, cpu: 1, roles: [rx, tx]}\n",
		     "1: name: missing required key");
	expect_error("name: x\nlcores:\n  - {id: 1, roles: [rx, tx]}\n",
		     "3: cpu: missing required key");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: [rx, tx], numa: 0}\n",
		     "3: numa: unknown key (expected one of: id, cpu, roles)");
	expect_error(MINIMAL "burst: 32\nburst: 64\n", "6: burst: duplicate key (first at line 5)");
}

Test(profile, ranges)
{
	expect_error(MINIMAL "burst: 0\n", "5: burst: 0 is out of range 1..512");
	expect_error(MINIMAL "burst: 513\n", "5: burst: 513 is out of range 1..512");
	expect_error(MINIMAL "rx_descs: 63\n", "5: rx_descs: 63 is out of range 64..16384");
	expect_error(MINIMAL "tx_descs: 16385\n", "5: tx_descs: 16385 is out of range 64..16384");
	expect_error(MINIMAL "ring_size: 32\n", "5: ring_size: 32 is out of range 64..65536");
	expect_error(MINIMAL "ring_size: 1000\n", "5: ring_size: 1000 is not a power of two");
	expect_error(MINIMAL "rx_mbufs: 1023\n", "5: rx_mbufs: 1023 is out of range 1024..1048576");
	expect_error(MINIMAL "tx_mbufs: 1048577\n",
		     "5: tx_mbufs: 1048577 is out of range 1024..1048576");
	expect_error(MINIMAL "mbuf_cache: 513\n", "5: mbuf_cache: 513 is out of range 0..512");
	expect_error(MINIMAL "hold_packets: 0\n", "5: hold_packets: 0 is out of range 1..1024");
	expect_error(MINIMAL "hold_us: 1000001\n",
		     "5: hold_us: 1000001 is out of range 0..1000000");
	expect_error(MINIMAL "memory_mb: 63\n", "5: memory_mb: 63 is out of range 64..65536");
	expect_error(MINIMAL "max_subscribers: 0\n",
		     "5: max_subscribers: 0 is out of range 1..65536");
	expect_error(MINIMAL "main_cpu: 1024\n", "5: main_cpu: 1024 is out of range 0..1023");
	expect_error(MINIMAL "burst: 32k\n", "5: burst: \"32k\" is not an integer");
	expect_error(MINIMAL "burst: [32]\n", "5: burst: expected an integer");
}

Test(profile, drivers)
{
	expect_error(MINIMAL "tx_driver: net_ring\n",
		     "5: tx_driver: \"net_ring\" is not one of: net_pcap, net_null");
	expect_error(MINIMAL "rx_driver: net_null\n",
		     "5: rx_driver: \"net_null\" is not one of: net_pcap");
}

Test(profile, strings)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), MINIMAL "eal_args: \"%0256d\"\n", 0);
	expect_error(yaml, "5: eal_args: \"0000000000000000000000000000000000000000000000000000000"
			   "000000000...\" is too long (256 characters, at most 255)");
	expect_error("name: \"\"\nlcores: [{id: 1, cpu: 0, roles: [rx, tx]}]\n",
		     "1: name: must not be empty");
}

Test(profile, lcores)
{
	expect_error("name: x\nlcores:\n  - {id: 0, cpu: 1, roles: [rx, tx]}\n",
		     "3: id: 0 is out of range 1..127");
	expect_error("name: x\nlcores:\n  - {id: 128, cpu: 1, roles: [rx, tx]}\n",
		     "3: id: 128 is out of range 1..127");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1024, roles: [rx, tx]}\n",
		     "3: cpu: 1024 is out of range 0..1023");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: [rx]}\n"
		     "  - {id: 1, cpu: 0, roles: [tx]}\n",
		     "4: id: duplicate lcore id 1");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: []}\n",
		     "3: roles: must not be empty");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: [rx, worker]}\n",
		     "3: roles: \"worker\" is not one of: rx, tx");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: [rx, rx]}\n",
		     "3: roles: lcore 1: role \"rx\" listed twice");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: [rx]}\n",
		     "2: lcores: no lcore has the tx role");
	expect_error("name: x\nlcores:\n  - {id: 1, cpu: 1, roles: [tx]}\n"
		     "  - {id: 2, cpu: 1, roles: [tx]}\n",
		     "2: lcores: no lcore has the rx role");
	expect_error("name: x\nlcores: []\n", "2: lcores: must not be empty");
	expect_error("name: x\nlcores: [1, 2]\n", "2: lcores: expected a mapping");
}

Test(profile, too_many_lcores)
{
	char yaml[4096];
	size_t o = (size_t)snprintf(yaml, sizeof(yaml), "name: x\nlcores:\n");

	for (int i = 1; i <= PROFILE_MAX_LCORES + 1; i++)
		o += (size_t)snprintf(yaml + o, sizeof(yaml) - o,
				      "  - {id: %d, cpu: 0, roles: [rx, tx]}\n", i);
	expect_error(yaml, "2: lcores: too many items (33, at most 32)");

	/* Exactly the maximum is fine. */
	struct profile p;
	char *last = strstr(yaml, "  - {id: 33");

	cr_assert_not_null(last);
	*last = '\0';
	cr_assert_eq(load_text(yaml, &p), 0, "%s", err);
	cr_expect_eq(p.n_lcores, PROFILE_MAX_LCORES);
	cr_expect_eq(p.lcores[31].id, 32);
}

Test(profile, file_errors)
{
	struct profile p;

	cr_expect_eq(profile_load("/nonexistent/p.yaml", &p, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, "/nonexistent/p.yaml: cannot read: No such file or directory");
	expect_error("", "1: document: empty file");
	expect_error("name: x\nlcores: [\n", "3: syntax error: did not find expected node content");
	expect_error("- name\n", "1: document: expected a mapping");
}

Test(profile, log, .init = cr_redirect_stderr)
{
	struct profile p;
	char buf[4096];
	size_t n, lines = 0;
	FILE *f;

	cr_assert_eq(profile_load(shipped("net_pcap.yaml"), &p, err, sizeof(err)), 0, "%s", err);
	profile_log(&p);
	fflush(stderr);
	f = cr_get_redirected_stderr();
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	/* A header, drivers and main_cpu, one line per lcore, 11 sizes and eal_args. */
	cr_expect_eq(lines, 1 + 3 + 2 + 12, "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: lcore 1 on cpu 1 roles rx\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: lcore 2 on cpu 0 roles tx\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: ring_size = 4096\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: tx_driver = net_pcap\n"), "%s", buf);
}

/* Live mode ports: inputs and outputs by name and device. */
Test(profile, live_ports)
{
	struct profile p;

	cr_assert_eq(load_text(MINIMAL "rx_ports:\n"
				       "  - {name: in0, dev: \"net_af_packet0,iface=veth0\"}\n"
				       "tx_ports:\n"
				       "  - {name: out0, dev: \"0000:3b:00.0\"}\n"
				       "  - {name: out1, dev: \"net_null0\"}\n",
			       &p),
		     0, "%s", err);
	cr_assert_eq(p.n_rx_ports, 1);
	cr_assert_str_eq(p.rx_ports[0].name, "in0");
	cr_assert_str_eq(p.rx_ports[0].dev, "net_af_packet0,iface=veth0");
	cr_assert_eq(p.n_tx_ports, 2);
	cr_assert_str_eq(p.tx_ports[1].name, "out1");
	cr_assert_str_eq(p.tx_ports[0].dev, "0000:3b:00.0");
	expect_error(MINIMAL "tx_ports:\n  - {name: out0, dev: a}\n  - {name: out0, dev: b}\n",
		     "7: name: duplicate port \"out0\"");
	expect_error(MINIMAL "rx_ports:\n  - {name: in0}\n", "6: dev: missing required key");
	expect_error(MINIMAL "rx_ports: []\n", "5: rx_ports: must not be empty");
}
