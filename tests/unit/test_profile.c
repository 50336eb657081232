/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PMD profile loader: every shipped profile, the key table's defaults, and each
 * error class as one line "FILE:LINE: KEY: message".
 */
#include <dirent.h>
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
	/* docs/performance.md, measured costs: must fit --no-huge -m 512 with two pools of ~2.3 KiB
	 * mbufs. */
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
		     "mbuf_cache, hold_packets, hold_us, memory_mb, history_mb, linger_ms, "
		     "max_subscribers, eal_args, "
		     "rx_ports, tx_ports, nic, igmp)");
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
	/* A header, drivers and main_cpu, one line per lcore, 11 sizes and eal_args, the
	 * history budget and linger, five nic and three igmp settings (no live ports in
	 * this profile). */
	cr_expect_eq(lines, 1 + 3 + 2 + 12 + 1 + 5 + 3, "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: history_mb = 256, linger_ms = 1000\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: nic.multicast = auto\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: igmp.version = v2\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: lcore 1 on cpu 1 roles rx\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: lcore 2 on cpu 0 roles tx\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: ring_size = 4096\n"), "%s", buf);
	cr_expect_not_null(strstr(buf, "profile: tx_driver = net_pcap\n"), "%s", buf);
}

/* The at-least-once keys (docs/protocol.md §6): defaults, values, bounds. */
Test(profile, history_and_linger)
{
	struct profile p;

	cr_assert_eq(load_text(MINIMAL, &p), 0, "%s", err);
	cr_expect_eq(p.history_mb, 256);
	cr_expect_eq(p.linger_ms, 1000);
	cr_assert_eq(load_text(MINIMAL "history_mb: 0\nlinger_ms: 60000\n", &p), 0, "%s", err);
	cr_expect_eq(p.history_mb, 0);
	cr_expect_eq(p.linger_ms, 60000);
	expect_error(MINIMAL "linger_ms: 60001\n", "5: linger_ms: 60001 is out of range 0..60000");
	expect_error(MINIMAL "history_mb: -1\n", "5: history_mb: -1 is out of range 0..1048576");
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

/* Every profile shipped in pmd_config/ loads, and the live ones are complete. */
Test(profile, every_shipped_profile)
{
	static const char *const names[] = {
	    "af_xdp.yaml",   "i40e.yaml",     "ice.yaml",
	    "ixgbe.yaml",    "mlx5.yaml",     "net_af_packet.yaml",
	    "net_null.yaml", "net_pcap.yaml", "net_pcap-shared.yaml",
	    "tap.yaml",
	};
	char path[1024];
	DIR *dir;
	struct dirent *e;
	size_t n_files = 0;

	snprintf(path, sizeof(path), "%s/pmd_config", ASTER_SOURCE_ROOT);
	dir = opendir(path);
	cr_assert_not_null(dir);
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name);
		struct profile p;

		if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
			continue;
		n_files++;
		cr_expect_eq(profile_load(shipped(e->d_name), &p, err, sizeof(err)), 0, "%s", err);
		/* Live profiles name their ports; replay profiles make them from arguments. */
		cr_expect_eq(p.n_rx_ports == 0, p.n_tx_ports == 0, "%s", e->d_name);
	}
	closedir(dir);
	/* The list above is the documented set (docs/operations.md): none missing. */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct profile p;

		cr_expect_eq(profile_load(shipped(names[i]), &p, err, sizeof(err)), 0, "%s", err);
	}
	cr_expect_geq(n_files, sizeof(names) / sizeof(names[0]));
}

/* The NIC profiles say what the operations table says. */
Test(profile, nic_profiles)
{
	struct profile p;

	cr_assert_eq(profile_load(shipped("mlx5.yaml"), &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(p.steering, PROFILE_STEER_RTE_FLOW);
	cr_expect_eq(p.multicast, PROFILE_MC_AUTO);
	cr_expect(p.isolate);
	cr_expect_eq(p.igmp, PROFILE_IGMP_V2);
	cr_expect_eq(p.rx_ports[0].ip, 0x0a0a0002);
	cr_assert_eq(profile_load(shipped("ixgbe.yaml"), &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(p.steering, PROFILE_STEER_AUTO);
	cr_expect_not(p.isolate);
	cr_expect_eq(p.tx_offloads, PROFILE_TX_OFFLOAD_FAST_FREE);
	cr_assert_eq(profile_load(shipped("af_xdp.yaml"), &p, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(p.steering, PROFILE_STEER_NONE);
	cr_assert_eq(profile_load(shipped("net_af_packet.yaml"), &p, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(p.multicast, PROFILE_MC_AUTO);
	cr_expect_eq(p.steering, PROFILE_STEER_AUTO);
}

Test(profile, nic_and_igmp_defaults)
{
	struct profile p;

	cr_assert_eq(load_text(MINIMAL, &p), 0, "%s", err);
	cr_expect_eq(p.multicast, PROFILE_MC_AUTO);
	cr_expect_eq(p.steering, PROFILE_STEER_AUTO);
	cr_expect_not(p.isolate);
	cr_expect_eq(p.rx_offloads, 0);
	cr_expect_eq(p.tx_offloads, 0);
	cr_expect_eq(p.igmp, PROFILE_IGMP_V2);
	cr_expect_eq(p.igmp_interval_s, 60);
	cr_expect_eq(p.silence_warn_s, 10);
}

Test(profile, nic_and_igmp_set)
{
	struct profile p;

	cr_assert_eq(load_text(MINIMAL "nic:\n"
				       "  multicast: auto\n"
				       "  steering: rte_flow\n"
				       "  isolate: true\n"
				       "  rx_offloads: [udp_cksum, ipv4_cksum]\n"
				       "  tx_offloads: [mbuf_fast_free]\n"
				       "igmp: {version: v3, interval_s: 3600, silence_warn_s: 0}\n"
				       "rx_ports:\n"
				       "  - {name: in0, dev: \"0000:3b:00.0\", ip: 10.9.8.7}\n"
				       "tx_ports:\n"
				       "  - {name: out0, dev: \"0000:3b:00.1\"}\n",
			       &p),
		     0, "%s", err);
	cr_expect_eq(p.multicast, PROFILE_MC_AUTO);
	cr_expect_eq(p.steering, PROFILE_STEER_RTE_FLOW);
	cr_expect(p.isolate);
	cr_expect_eq(p.rx_offloads, PROFILE_RX_OFFLOAD_IPV4_CKSUM | PROFILE_RX_OFFLOAD_UDP_CKSUM);
	cr_expect_eq(p.tx_offloads, PROFILE_TX_OFFLOAD_FAST_FREE);
	cr_expect_eq(p.igmp, PROFILE_IGMP_V3);
	cr_expect_eq(p.igmp_interval_s, 3600);
	cr_expect_eq(p.silence_warn_s, 0);
	cr_expect_eq(p.rx_ports[0].ip, 0x0a090807);
	cr_expect_eq(p.tx_ports[0].ip, 0);

	cr_assert_eq(load_text(MINIMAL "nic: {multicast: promisc, steering: none}\n"
				       "igmp: {version: \"off\"}\n",
			       &p),
		     0, "%s", err);
	cr_expect_eq(p.multicast, PROFILE_MC_PROMISC);
	cr_expect_eq(p.steering, PROFILE_STEER_NONE);
	cr_expect_eq(p.igmp, PROFILE_IGMP_OFF);
	cr_assert_eq(load_text(MINIMAL "nic: {multicast: allmulti}\n", &p), 0, "%s", err);
	cr_expect_eq(p.multicast, PROFILE_MC_ALLMULTI);
	cr_assert_eq(load_text(MINIMAL "nic: {multicast: mc_addr_list}\n", &p), 0, "%s", err);
	cr_expect_eq(p.multicast, PROFILE_MC_LIST);
}

Test(profile, nic_errors)
{
	expect_error(MINIMAL "nic: {multicast: igmp}\n",
		     "5: multicast: \"igmp\" is not one of: auto, mc_addr_list, allmulti, promisc");
	expect_error(MINIMAL "nic: {steering: rss}\n",
		     "5: steering: \"rss\" is not one of: auto, rte_flow, none");
	expect_error(MINIMAL "nic: {isolate: yes}\n",
		     "5: isolate: \"yes\" is not one of: true, false");
	expect_error(MINIMAL "nic:\n  steering: none\n  isolate: true\n",
		     "7: isolate: true needs steering rte_flow or auto (with steering none no "
		     "frame would reach the dataplane)");
	expect_error(MINIMAL "nic:\n  isolate: true\n  multicast: allmulti\n",
		     "7: multicast: allmulti with isolate true: an isolated port accepts what the "
		     "rte_flow rules steer (keep auto)");
	expect_error(MINIMAL "nic: {rx_offloads: [lro]}\n",
		     "5: rx_offloads: \"lro\" is not one of: ipv4_cksum, udp_cksum");
	expect_error(MINIMAL "nic: {rx_offloads: [udp_cksum, udp_cksum]}\n",
		     "5: rx_offloads: \"udp_cksum\" listed twice");
	expect_error(MINIMAL "nic: {tx_offloads: [tso]}\n",
		     "5: tx_offloads: \"tso\" is not one of: mbuf_fast_free");
	expect_error(MINIMAL "nic: {rx_offloads: ipv4_cksum}\n", "5: rx_offloads: expected a list");
	expect_error(MINIMAL "nic: {queues: 4}\n",
		     "5: queues: unknown key (expected one of: multicast, steering, isolate, "
		     "rx_offloads, tx_offloads)");
	expect_error(MINIMAL "nic: rte_flow\n", "5: nic: expected a mapping");
}

Test(profile, igmp_errors)
{
	expect_error(MINIMAL "igmp: {version: v1}\n",
		     "5: version: \"v1\" is not one of: off, v2, v3");
	expect_error(MINIMAL "igmp: {interval_s: 0}\n", "5: interval_s: 0 is out of range 1..3600");
	expect_error(MINIMAL "igmp: {interval_s: 3601}\n",
		     "5: interval_s: 3601 is out of range 1..3600");
	expect_error(MINIMAL "igmp: {silence_warn_s: -1}\n",
		     "5: silence_warn_s: -1 is out of range 0..3600");
	expect_error(
	    MINIMAL "igmp: {query: 1}\n",
	    "5: query: unknown key (expected one of: version, interval_s, silence_warn_s)");
	expect_error(MINIMAL "igmp: v3\n", "5: igmp: expected a mapping");
}

Test(profile, port_ip_errors)
{
	expect_error(MINIMAL "rx_ports:\n  - {name: in0, dev: x, ip: 10.0.0.256}\n",
		     "6: ip: \"10.0.0.256\" is not an IPv4 address");
	expect_error(MINIMAL "rx_ports:\n  - {name: in0, dev: x, ip: 10.0}\n",
		     "6: ip: \"10.0\" is too short (4 characters, at least 7)");
	expect_error(MINIMAL "rx_ports:\n  - {name: in0, dev: x}\n"
			     "tx_ports:\n  - {name: out0, dev: y, ip: 10.0.0.1}\n",
		     "7: tx_ports: port \"out0\": ip is an rx_ports setting (output addresses are "
		     "the routing table's)");
}
