/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-dataplane: the DPDK primary process. main.c only orders things: arguments,
 * configuration and profile (all validated before EAL starts, so a bad file never
 * costs a port start), EAL, mempools, ports, the lcore map, launch, completion, and the
 * ordered shutdown. Exit status: 0 done, 2 bad arguments / configuration / input
 * file, 1 runtime failure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_pdump.h>
#include <rte_rcu_qsbr.h>

#include "ctl.h"
#include "dp_log.h"
#include "lcore.h"
#include "port.h"
#include "profile.h"
#include "publisher.h"
#include "replay.h"
#include "router.h"
#include "stats.h"

#include "../common/routing_config.h"

DP_LOG_REGISTER(main);

#define EXIT_USAGE	    2
#define MAX_FEEDS	    16
#define MAX_EAL_ARGS	    64
#define DEFAULT_PROFILE	    "pmd_config/net_pcap.yaml"
#define DEFAULT_STALL_S	    30.0
#define DEFAULT_CTL_SOCKET  "/run/aster/dataplane.sock"
#define DEFAULT_HEALTH_FILE "/run/aster/dataplane.health"

struct args {
	const char *config;
	const char *profile;
	const char *out;
	const char *feeds[MAX_FEEDS];
	unsigned int n_feeds;
	const char *huge; /* auto | on | off */
	const char *file_prefix;
	double stall_s;
	bool verbose;
	bool linger;		 /* after completion, serve telemetry until SIGINT/SIGTERM */
	const char *ctl_socket;	 /* live mode */
	const char *health_file; /* live mode */
};

static struct lcore_map *volatile running_map;
static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
	RTE_SET_USED(sig);
	signalled = 1;
	if (running_map != NULL)
		__atomic_store_n(&running_map->stop, 1, __ATOMIC_RELEASE);
}

static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("aster-dataplane: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: aster-dataplane --config ROUTING.yaml --feed IN.pcap [--feed IN2.pcap ...]\n"
	       "                       --out DIR [--profile PMD.yaml] [--huge auto|on|off]\n"
	       "                       [--file-prefix NAME] [--stall-timeout SECONDS] [--linger]\n"
	       "                       [--verbose]\n"
	       "Replays the feed pcaps through the dataplane (docs/protocol.md §5): "
	       "DIR/<port>.pcap per output\n"
	       "port and DIR/stats.json. --linger keeps the process (and its DPDK telemetry) up\n"
	       "after completion until SIGINT or SIGTERM.\n");
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"feed", required_argument, NULL, 'f'},
	    {"out", required_argument, NULL, 'o'},
	    {"profile", required_argument, NULL, 'p'},
	    {"huge", required_argument, NULL, 'H'},
	    {"file-prefix", required_argument, NULL, 'P'},
	    {"stall-timeout", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"linger", no_argument, NULL, 'L'},
	    {"ctl-socket", required_argument, NULL, 'S'},
	    {"health-file", required_argument, NULL, 'F'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->profile = DEFAULT_PROFILE;
	a->huge = "auto";
	a->stall_s = DEFAULT_STALL_S;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'p':
			a->profile = optarg;
			break;
		case 'H':
			a->huge = optarg;
			break;
		case 'P':
			a->file_prefix = optarg;
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'L':
			a->linger = true;
			break;
		case 'S':
			a->ctl_socket = optarg;
			break;
		case 'F':
			a->health_file = optarg;
			break;
		case 'f':
			if (a->n_feeds == MAX_FEEDS)
				die(EXIT_USAGE, "--feed: at most %d input files", MAX_FEEDS);
			a->feeds[a->n_feeds++] = optarg;
			break;
		case 's': {
			char *end;

			a->stall_s = strtod(optarg, &end);
			if (*end != '\0' || a->stall_s <= 0)
				die(EXIT_USAGE, "--stall-timeout: '%s' is not a positive number",
				    optarg);
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			die(EXIT_USAGE, "%s: unknown or incomplete option (see --help)",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s' (see --help)", argv[optind]);
	a->ctl_socket = a->ctl_socket ? a->ctl_socket : DEFAULT_CTL_SOCKET;
	a->health_file = a->health_file ? a->health_file : DEFAULT_HEALTH_FILE;
	if (a->n_feeds != 0) { /* replay */
		if (a->config == NULL)
			die(EXIT_USAGE, "--config ROUTING.yaml is required with --feed");
		if (a->out == NULL)
			die(EXIT_USAGE, "--out DIR is required with --feed");
	} else if (a->out != NULL || a->linger) {
		die(EXIT_USAGE, "--out and --linger are replay options: give --feed IN.pcap");
	}
	if (strcmp(a->huge, "auto") && strcmp(a->huge, "on") && strcmp(a->huge, "off"))
		die(EXIT_USAGE, "--huge: '%s' is not auto, on or off", a->huge);
}

/* Free hugepages in MB and whether hugetlbfs is mounted: decides --no-huge in auto. */
/*
 * Every CPU the profile pins to must be one this process may run on: otherwise EAL
 * answers "core N unavailable" and a page of usage text. One line instead, before EAL.
 */
static void check_cpus(const struct profile *prof)
{
	cpu_set_t allowed;
	char list[256] = "";
	size_t off = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return; /* cannot tell: let EAL decide */
	for (int c = 0; c < CPU_SETSIZE && off < sizeof(list) - 8; c++)
		if (CPU_ISSET(c, &allowed))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d",
						off ? "," : "", c);
	if (!CPU_ISSET(prof->main_cpu, &allowed))
		die(EXIT_USAGE,
		    "%s: main_cpu %u is not available here (this process may use CPUs %s): edit "
		    "the "
		    "profile's CPUs (docs/operations.md, core layout)",
		    prof->path, prof->main_cpu, list);
	for (uint16_t i = 0; i < prof->n_lcores; i++)
		if (!CPU_ISSET(prof->lcores[i].cpu, &allowed))
			die(EXIT_USAGE,
			    "%s: lcore %u: cpu %u is not available here (this process may use CPUs "
			    "%s): edit the profile's CPUs (docs/operations.md, core layout)",
			    prof->path, prof->lcores[i].id, prof->lcores[i].cpu, list);
}

static uint64_t hugepages_free_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t free_pages = 0, size_kb = 0;
	bool mounted = false;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %" SCNu64, &free_pages);
		sscanf(line, "Hugepagesize: %" SCNu64, &size_kb);
	}
	fclose(f);
	f = fopen("/proc/mounts", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " hugetlbfs ") != NULL)
			mounted = true;
	fclose(f);
	return mounted ? free_pages * size_kb / 1024 : 0;
}

static int eal_start(const struct args *a, const struct profile *prof, bool *no_huge)
{
	static char bufs[MAX_EAL_ARGS][320];
	char *argv[MAX_EAL_ARGS + 1];
	char extra[sizeof(prof->eal_args)];
	int n = 0;

#define ARG(...) (snprintf(bufs[n], sizeof(bufs[n]), __VA_ARGS__), argv[n] = bufs[n], n++)
	ARG("aster-dataplane");
	{
		char lcores[256];
		int len = snprintf(lcores, sizeof(lcores), "0@%u", prof->main_cpu);

		for (uint16_t i = 0; i < prof->n_lcores; i++)
			len += snprintf(lcores + len, sizeof(lcores) - (size_t)len, ",%u@%u",
					prof->lcores[i].id, prof->lcores[i].cpu);
		ARG("--lcores=%s", lcores);
	}
	ARG("--main-lcore=0");
	if (a->file_prefix != NULL)
		ARG("--file-prefix=%s", a->file_prefix);
	else
		ARG("--file-prefix=aster-%d", (int)getpid());
	{
		bool pci = false;

		for (uint16_t i = 0; i < prof->n_rx_ports + prof->n_tx_ports; i++) {
			const char *dev = i < prof->n_rx_ports
					      ? prof->rx_ports[i].dev
					      : prof->tx_ports[i - prof->n_rx_ports].dev;

			if (a->n_feeds == 0 && strncmp(dev, "net_", 4) != 0) {
				ARG("-a");
				ARG("%s", dev);
				pci = true;
			}
		}
		if (!pci)
			ARG("--no-pci");
	}
	*no_huge = strcmp(a->huge, "off") == 0 ||
		   (strcmp(a->huge, "auto") == 0 && hugepages_free_mb() < prof->memory_mb);
	if (*no_huge) {
		ARG("--no-huge");
		ARG("-m");
		ARG("%u", prof->memory_mb);
	} else {
		ARG("--huge-unlink");
	}
	if (!a->verbose) {
		ARG("--log-level=lib.*:error");
		ARG("--log-level=pmd.*:error");
	}
	snprintf(extra, sizeof(extra), "%s", prof->eal_args);
	for (char *save, *tok = strtok_r(extra, " \t", &save); tok && n < MAX_EAL_ARGS;
	     tok = strtok_r(NULL, " \t", &save))
		ARG("%s", tok);
#undef ARG
	argv[n] = NULL;
	return rte_eal_init(n, argv);
}

static uint32_t tx_frame_max(const struct routing_config *cfg)
{
	uint32_t max = PUB_FRAME_MAX(RC_MAX_PAYLOAD_MIN);

	for (uint32_t s = 0; s < cfg->n_subs; s++)
		if (PUB_FRAME_MAX(cfg->subs[s].max_payload) > max)
			max = PUB_FRAME_MAX(cfg->subs[s].max_payload);
	return max;
}

static void check_limits(const struct args *a, const struct routing_config *cfg,
			 const struct profile *prof)
{
	if (a->n_feeds + cfg->n_ports > RTE_MAX_ETHPORTS)
		die(EXIT_USAGE,
		    "%u input files and %u output ports exceed the %d ports DPDK allows",
		    a->n_feeds, cfg->n_ports, RTE_MAX_ETHPORTS);
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		uint32_t n = 0;

		for (uint32_t s = 0; s < cfg->n_subs; s++)
			n += cfg->subs[s].feed == f;
		if (n > prof->max_subscribers)
			die(EXIT_USAGE,
			    "%s:%u: feed \"%s\": %u subscribers exceed the profile's "
			    "max_subscribers %u (%s)",
			    cfg->path, cfg->feeds[f].cfg_line, cfg->feeds[f].name, n,
			    prof->max_subscribers, prof->path);
	}
}

static int write_stats(const char *dir, json_t *root)
{
	char path[4096], tmp[4200];

	snprintf(path, sizeof(path), "%s/stats.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_dump_file(root, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
		return -EIO;
	return rename(tmp, path) == 0 ? 0 : -errno;
}

/* Replay's end: stats.json (docs/protocol.md §5) with the rate and the mempool leak check, the
 * one-line summary, and --linger. Returns the replay's status. */
static int replay_report(const struct args *a, struct lcore_map *map,
			 const struct port_pools *pools, uint64_t input_packets,
			 const struct timespec *t0, const struct timespec *t1, bool no_huge, int rc)
{
	/* Every input mbuf freed and every output mbuf sent: the pools are back to idle. */
	unsigned int rx_final = rte_mempool_in_use_count(pools->rx);
	unsigned int tx_final = rte_mempool_in_use_count(pools->tx);
	double secs = (double)(t1->tv_sec - t0->tv_sec) + (double)(t1->tv_nsec - t0->tv_nsec) / 1e9;
	uint64_t messages = 0;

	for (uint32_t f = 0; f < map->table->n_feeds; f++) {
		struct counter_feed t;

		stats_feed_totals(map, f, &t);
		messages += t.messages;
	}
	json_t *root = stats_json(map);

	if (root == NULL)
		die(1, "out of memory for stats.json");
	json_object_set_new(
	    root, "replay",
	    json_pack("{sI sI sf sf sf sb}", "input_packets", (json_int_t)input_packets, "messages",
		      (json_int_t)messages, "seconds", secs, "messages_per_s",
		      secs > 0 ? (double)messages / secs : 0.0, "packets_per_s",
		      secs > 0 ? (double)input_packets / secs : 0.0, "hugepages", !no_huge));
	json_object_set_new(
	    root, "mempools",
	    json_pack("{s{sI sI} s{sI sI}}", "rx", "idle_in_use", (json_int_t)pools->rx_idle,
		      "final_in_use", (json_int_t)rx_final, "tx", "idle_in_use",
		      (json_int_t)pools->tx_idle, "final_in_use", (json_int_t)tx_final));
	/* net_pcap writes each burst as it goes; the dump files are complete here. */
	if (write_stats(a->out, root) != 0)
		die(1, "%s/stats.json: cannot write", a->out);
	json_decref(root);
	if (rc == 0)
		printf("replayed %" PRIu64 " packets, %" PRIu64
		       " messages in %.3f s (%.0f messages/s)\n",
		       input_packets, messages, secs, secs > 0 ? (double)messages / secs : 0.0);
	if (rc == 0 && a->linger) {
		const struct timespec tick = {.tv_sec = 0, .tv_nsec = 20000000};

		fflush(stdout);
		while (!signalled)
			nanosleep(&tick, NULL);
	}
	return rc;
}

/* Output frames are sized for the largest max_payload the table may ever ask for: the
 * table's own in replay, the docs/protocol.md §4 maximum (8192) live (tables change). */
static uint32_t tx_room(const struct args *a, const struct routing_config *cfg)
{
	return a->n_feeds ? tx_frame_max(cfg) : PUB_FRAME_MAX(RC_MAX_PAYLOAD_MAX);
}

/* Create and start a live port: a DPDK virtual device ("net_xxx,args") or a PCI device
 * already probed by EAL (-a). */
/*
 * Virtual devices over Linux interfaces (af_packet, af_xdp, pcap) need the interface to
 * exist; the PMDs report a missing one as "Operation not permitted". net_tap creates
 * its own.
 */
static void check_iface(const struct profile_port *pp, const struct profile *prof)
{
	static const char *const keys[] = {",iface=", ",rx_iface=", ",tx_iface="};

	if (strncmp(pp->dev, "net_af_packet", 13) != 0 && strncmp(pp->dev, "net_af_xdp", 10) != 0 &&
	    strncmp(pp->dev, "net_pcap", 8) != 0)
		return;
	for (size_t k = 0; k < RTE_DIM(keys); k++) {
		const char *v = strstr(pp->dev, keys[k]);
		char ifname[IF_NAMESIZE + 1];
		size_t n;

		if (v == NULL)
			continue;
		v += strlen(keys[k]);
		n = strcspn(v, ",");
		if (n == 0 || n > IF_NAMESIZE)
			continue;
		memcpy(ifname, v, n);
		ifname[n] = '\0';
		if (if_nametoindex(ifname) == 0)
			die(1,
			    "%s: port %s: interface %s does not exist in this network namespace "
			    "(ip link; rename it in the profile's dev)",
			    prof->path, pp->name, ifname);
	}
}

/* Why a PCI device in the profile did not become an ethdev, from sysfs. */
static const char *pci_hint(const char *dev)
{
	static char hint[768];
	char path[256], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.64s", dev);
	if (access(path, F_OK) != 0) {
		snprintf(
		    hint, sizeof(hint),
		    "no PCI device %.64s on this machine (scripts/nic-bind status lists the NICs)",
		    dev);
		return hint;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%.64s/driver", dev);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		snprintf(
		    hint, sizeof(hint),
		    "PCI device %.64s has no driver: bind it (scripts/nic-bind bind %.64s), or for "
		    "mlx5 load mlx5_core",
		    dev, dev);
		return hint;
	}
	target[n] = '\0';
	snprintf(hint, sizeof(hint),
		 "PCI device %.64s is bound to %.64s: DPDK needs vfio-pci (scripts/nic-bind bind "
		 "%.64s), "
		 "or for mlx5 the kernel's mlx5_core with rdma-core (ibverbs) installed",
		 dev, strrchr(target, '/') ? strrchr(target, '/') + 1 : target, dev);
	return hint;
}

static uint16_t live_port(const struct profile_port *pp, bool rx, const struct profile *prof,
			  struct rte_mempool *pool)
{
	char err[512], name[sizeof(pp->dev)], *args;
	uint16_t port_id;
	int rc;

	if (strncmp(pp->dev, "net_", 4) == 0) {
		check_iface(pp, prof);
		snprintf(name, sizeof(name), "%s", pp->dev);
		args = strchr(name, ',');
		if (args != NULL)
			*args = '\0';
		args = strchr(pp->dev, ',');
		rc = rte_vdev_init(name, args ? args + 1 : "");
		if (rc != 0)
			die(1, "%s: port %s (%s): cannot create: %s", prof->path, pp->name, pp->dev,
			    rte_strerror(-rc));
	} else {
		snprintf(name, sizeof(name), "%s", pp->dev);
	}
	if (rte_eth_dev_get_port_by_name(name, &port_id) != 0)
		die(1, "%s: port %s (%s): no such ethdev: %s", prof->path, pp->name, pp->dev,
		    pci_hint(pp->dev));
	/* An RX port has one TX queue too, used only by the control thread (IGMP). */
	if (port_start(port_id, rx ? 1 : 0, rx ? (prof->igmp != PROFILE_IGMP_OFF) : 1, prof, pool,
		       err, sizeof(err)) != 0)
		die(1, "%s: port %s: %s", prof->path, pp->name, err);
	/* Multicast filter, rte_flow steering, isolation: resolved and logged per port;
	 * the feed lines' filters, rules and IGMP joins follow the table (mcast.c). */
	if (rx && port_rx_setup(port_id, pp, prof, err, sizeof(err)) != 0)
		die(1, "%s", err);
	return port_id;
}

static uint64_t make_boot_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = rte_rdtsc() ^ ((uint64_t)getpid() << 32);
	return id ? id : 1;
}

/* An empty table: live mode before any table is applied. */
static struct routing_config *empty_table(void)
{
	struct routing_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL || (cfg->path = strdup("empty")) == NULL)
		die(1, "out of memory");
	return cfg;
}

int main(int argc, char **argv)
{
	struct args a;
	struct profile prof;
	struct routing_config *cfg = NULL;
	struct port_pools pools;
	struct lcore_apply_result res;
	static struct lcore_map map;
	uint64_t expected[MAX_FEEDS], input_packets = 0;
	char err[RC_ERR_LEN + 256];
	bool no_huge, live;
	uint32_t n_rx = 0;
	int rc;

	parse_args(argc, argv, &a);
	live = a.n_feeds == 0;

	/* Everything that can be wrong with the inputs is found before EAL starts. */
	rc = profile_load(a.profile, &prof, err, sizeof(err));
	if (rc != 0)
		die(EXIT_USAGE, "%s", err);
	if (live && (prof.n_rx_ports == 0 || prof.n_tx_ports == 0))
		die(EXIT_USAGE,
		    "%s: rx_ports and tx_ports are needed in live mode (or give --feed)",
		    prof.path);
	if (a.config != NULL) {
		cfg = routing_config_load(a.config, err, sizeof(err));
		if (cfg == NULL)
			die(EXIT_USAGE, "%s", err);
	} else {
		cfg = empty_table();
	}
	check_limits(&a, cfg, &prof);
	for (unsigned int i = 0; i < a.n_feeds; i++) {
		if (replay_pcap_inspect(a.feeds[i], &expected[i], err, sizeof(err)) != 0)
			die(EXIT_USAGE, "%s", err);
		input_packets += expected[i];
	}
	if (!live && mkdir(a.out, 0755) != 0 && errno != EEXIST)
		die(EXIT_USAGE, "%s: cannot create output directory: %s", a.out, strerror(errno));
	for (uint16_t i = 0; i < prof.n_lcores; i++)
		n_rx += (prof.lcores[i].roles & PROFILE_ROLE_RX) != 0;
	map.prebuilt = lcore_table_build(cfg, n_rx, err, sizeof(err));
	if (map.prebuilt == NULL)
		die(EXIT_USAGE, "%s", err);
	if (a.verbose || live) /* live: the effective settings, once (port.c adds "auto") */
		profile_log(&prof);

	check_cpus(&prof);
	rc = eal_start(&a, &prof, &no_huge);
	if (rc < 0)
		die(1, "EAL start failed: %s (profile %s, %s; see scripts/doctor, or --huge off)",
		    rte_strerror(rte_errno), prof.path,
		    no_huge ? "no hugepages, -m from memory_mb" : "hugepages");
	if (rte_pdump_init() != 0)
		DP_LOG(main, WARNING, "pdump unavailable: %s\n", rte_strerror(rte_errno));
	if (stats_telemetry_register() != 0)
		DP_LOG(main, WARNING, "telemetry commands not registered\n");
	rc = port_pools_create(&pools, &prof, tx_room(&a, cfg), err, sizeof(err));
	if (rc != 0)
		die(1, "%s", err);

	map.prof = &prof;
	map.replay = !live;
	map.tx_pool = pools.tx;
	map.max_subs = live ? prof.max_subscribers : (cfg->n_subs ? cfg->n_subs : 1);
	if (live) {
		map.n_rx_ports = prof.n_rx_ports;
		for (uint16_t i = 0; i < prof.n_rx_ports; i++)
			map.rx_port_ids[i] = live_port(&prof.rx_ports[i], true, &prof, pools.rx);
		map.n_tx_ports = prof.n_tx_ports;
		for (uint16_t i = 0; i < prof.n_tx_ports; i++) {
			snprintf(map.tx_ports[i].name, sizeof(map.tx_ports[i].name), "%s",
				 prof.tx_ports[i].name);
			map.tx_ports[i].port_id = live_port(&prof.tx_ports[i], false, &prof, NULL);
		}
	} else {
		map.n_rx_ports = (uint16_t)a.n_feeds;
		for (unsigned int i = 0; i < a.n_feeds; i++) {
			if (port_create_rx_pcap(i, a.feeds[i], &map.rx_port_ids[i], err,
						sizeof(err)) != 0 ||
			    port_start(map.rx_port_ids[i], 1, 0, &prof, pools.rx, err,
				       sizeof(err)) != 0)
				die(1, "%s", err);
			map.rx_expected[i] = expected[i];
		}
		map.n_tx_ports = (uint16_t)cfg->n_ports;
		for (uint32_t p = 0; p < cfg->n_ports; p++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s.pcap", a.out, cfg->ports[p].name);
			snprintf(map.tx_ports[p].name, sizeof(map.tx_ports[p].name), "%s",
				 cfg->ports[p].name);
			if (port_create_tx(p, prof.tx_driver, path, &map.tx_ports[p].port_id, err,
					   sizeof(err)) != 0 ||
			    port_start(map.tx_ports[p].port_id, 0, 1, &prof, NULL, err,
				       sizeof(err)) != 0)
				die(1, "%s", err);
		}
	}

	size_t qsz = rte_rcu_qsbr_get_memsize(n_rx);

	map.qsbr = rte_zmalloc("qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (map.qsbr == NULL || rte_rcu_qsbr_init(map.qsbr, n_rx) != 0)
		die(1, "RCU QSBR variable: %s", rte_strerror(rte_errno));
	if (lcore_map_build(&map, err, sizeof(err)) != 0)
		die(1, "%s", err);
	/* The table from --config (version 0: a local file; aster-control replaces it). */
	if (lcore_map_apply(&map, cfg, 0, false, &res, err, sizeof(err)) != 0)
		die(EXIT_USAGE, "%s", err);
	pools.rx_idle = rte_mempool_in_use_count(pools.rx);
	pools.tx_idle = rte_mempool_in_use_count(pools.tx);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	running_map = &map;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (lcore_map_launch(&map) != 0)
		die(1, "cannot launch the polling lcores");
	stats_telemetry_attach(&map);
	if (live) {
		const struct timespec tick = {.tv_sec = 0, .tv_nsec = 20000000};
		struct ctl *ctl =
		    ctl_start(&map, a.ctl_socket, a.health_file, make_boot_id(), err, sizeof(err));

		if (ctl == NULL) {
			lcore_map_stop(&map);
			die(1, "%s", err);
		}
		DP_LOG(main, NOTICE, "live on %u input and %u output ports, control socket %s\n",
		       map.n_rx_ports, map.n_tx_ports, a.ctl_socket);
		while (!signalled)
			nanosleep(&tick, NULL);
		ctl_stop(ctl);
		lcore_map_stop(&map);
		rc = 0;
	} else {
		rc = replay_wait(&map, a.stall_s, err, sizeof(err));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		lcore_map_stop(&map);
		if (rc != 0)
			fprintf(stderr, "aster-dataplane: %s\n",
				err); /* the replay's one-line failure */
		rc = replay_report(&a, &map, &pools, input_packets, &t0, &t1, no_huge, rc);
	}
	running_map = NULL;
	stats_telemetry_detach();
	for (uint16_t i = 0; i < map.n_rx_ports; i++)
		port_close(map.rx_port_ids[i]);
	for (uint16_t p = 0; p < map.n_tx_ports; p++)
		port_close(map.tx_ports[p].port_id);
	lcore_map_free(&map);
	rte_free(map.qsbr);
	port_pools_free(&pools);
	rte_eal_cleanup();
	return rc == 0 ? 0 : 1;
}
