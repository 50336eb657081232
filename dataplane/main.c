/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-dataplane: the DPDK primary process. main.c only orders things: the arguments
 * choose the mode (live.c or replay.c, dp.h); configuration and profile are loaded and
 * validated before EAL starts, so a bad file never costs a port start; then EAL,
 * mempools, the mode's ports, the lcore map, the starting table, launch, the mode's run,
 * and the ordered shutdown. Exit status: 0 done, 2 bad arguments / configuration /
 * input file, 1 runtime failure.
 */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mempool.h>
#include <rte_pdump.h>

#include "dp.h"
#include "matcher_cache.h"
#include "matcher_pool.h"
#include "dp_log.h"
#include "host.h"
#include "report.h"

#include "../common/routing_config.h"

DP_LOG_REGISTER(main);

#define EXIT_USAGE		 2
#define DEFAULT_PROFILE		 "pmd_config/net_pcap.yaml"
#define DEFAULT_STALL_S		 30.0
#define DEFAULT_COMPILE_CACHE_MB 1024
#define DEFAULT_CTL_SOCKET	 "/run/aster/dataplane.sock"
#define DEFAULT_HEALTH_FILE	 "/run/aster/dataplane.health"

static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
	(void)sig;
	signalled = 1;
}

/* One line on stderr and exit: before EAL, or where nothing is left to stop. */
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
	    f,
	    "usage: aster-dataplane [--profile PMD.yaml] [--config ROUTING.yaml]\n"
	    "                       [--ctl-socket PATH] [--ctl-allow-uid USER[,USER...]]\n"
	    "                       [--health-file PATH]                           (live)\n"
	    "       aster-dataplane --config ROUTING.yaml --feed IN.pcap [--feed IN2.pcap ...]\n"
	    "                       --out DIR [--profile PMD.yaml] [--stall-timeout SECONDS]\n"
	    "                       [--linger]                                     (replay)\n"
	    "       common options: [--huge auto|on|off] [--file-prefix NAME] [--verbose]\n"
	    "                       [--compile-cache DIR] [--compile-cache-mb N]\n"
	    "                       [--compile-threads N]\n"
	    "\n"
	    "Live (no --feed): polls the profile's rx_ports, sends to its tx_ports, and serves\n"
	    "aster-control on the control socket (default " DEFAULT_CTL_SOCKET "; only the\n"
	    "users of --ctl-allow-uid, names or uids, may use it: by default the dataplane's\n"
	    "own user, as whom aster-control runs too),\n"
	    "writing the health segment to the health file (default " DEFAULT_HEALTH_FILE ").\n"
	    "The table from --config is in force until aster-control applies another; without\n"
	    "it nothing is forwarded until then. Runs until SIGINT or SIGTERM.\n"
	    "\n"
	    "Replay (--feed): reads the feed pcaps through the same lcores and stages, holding\n"
	    "input back instead of dropping (docs/protocol.md §5), and writes DIR/<port>.pcap per\n"
	    "output port and DIR/stats.json. --stall-timeout fails a run where nothing moves\n"
	    "(default 30 s); --linger keeps the process (and its DPDK telemetry) up after\n"
	    "completion until SIGINT or SIGTERM.\n"
	    "\n"
	    "--profile defaults to " DEFAULT_PROFILE "; --huge auto uses hugepages when the\n"
	    "profile's memory_mb of them are free; --file-prefix names the DPDK runtime\n"
	    "directory (default aster-PID); --verbose keeps EAL's and the PMDs' logs.\n"
	    "\n"
	    "--compile-cache keeps compiled Hyperscan databases in DIR (created 0700), so a\n"
	    "restart loads its regexes instead of compiling them; --compile-cache-mb bounds it\n"
	    "(default 1024; least recently used files go first). --compile-threads sets the\n"
	    "compile workers (default: one per CPU of the control thread).\n");
}

/* --ctl-allow-uid: user names or uids, comma separated, added to the allow-list. */
static void parse_allow(const char *list, struct ctl_access *acc)
{
	char buf[1024], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		die(EXIT_USAGE, "--ctl-allow-uid: list too long");
	for (char *u = strtok_r(buf, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
		const struct passwd *pw = getpwnam(u);
		char *end;
		unsigned long uid = strtoul(u, &end, 10);

		if (pw != NULL)
			uid = pw->pw_uid;
		else if (*u == '\0' || *end != '\0' || *u == '-' || uid >= UINT32_MAX)
			die(EXIT_USAGE, "--ctl-allow-uid: '%s' is neither a user nor a uid", u);
		if (acc->n_uids == CTL_MAX_ALLOW)
			die(EXIT_USAGE, "--ctl-allow-uid: at most %d users", CTL_MAX_ALLOW);
		acc->uids[acc->n_uids++] = (uint32_t)uid;
	}
}

static void parse_args(int argc, char **argv, struct dp_args *a)
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
	    {"ctl-allow-uid", required_argument, NULL, 'U'},
	    {"health-file", required_argument, NULL, 'F'},
	    {"compile-cache", required_argument, NULL, 'C'},
	    {"compile-cache-mb", required_argument, NULL, 'M'},
	    {"compile-threads", required_argument, NULL, 'T'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->profile = DEFAULT_PROFILE;
	a->compile_cache_mb = DEFAULT_COMPILE_CACHE_MB;
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
		case 'C':
			a->compile_cache = optarg;
			break;
		case 'M':
		case 'T': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end != '\0' || *optarg == '-' || v == 0 ||
			    v > (c == 'M' ? 1u << 24 : 64))
				die(EXIT_USAGE, "--compile-%s: '%s' is not a number in 1..%u",
				    c == 'M' ? "cache-mb" : "threads", optarg,
				    c == 'M' ? 1u << 24 : 64);
			if (c == 'M')
				a->compile_cache_mb = (uint32_t)v;
			else
				a->compile_threads = (uint32_t)v;
			break;
		}
		case 'U':
			parse_allow(optarg, &a->ctl_access);
			break;
		case 'f':
			if (a->n_feeds == DP_MAX_FEEDS)
				die(EXIT_USAGE, "--feed: at most %d input files", DP_MAX_FEEDS);
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

/* Limits of DPDK and of the profile that the table and the inputs must fit. */
static void check_limits(const struct dp *dp)
{
	const struct routing_config *cfg = dp->cfg;
	const struct profile *prof = &dp->prof;

	if (dp->args->n_feeds + cfg->n_ports > RTE_MAX_ETHPORTS)
		die(EXIT_USAGE,
		    "%u input files and %u output ports exceed the %d ports DPDK allows",
		    dp->args->n_feeds, cfg->n_ports, RTE_MAX_ETHPORTS);
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

/* No --config (live): an empty table, in force until aster-control applies one. */
static struct routing_config *empty_table(char *err, size_t errlen)
{
	struct routing_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg != NULL && (cfg->path = strdup("empty")) == NULL) {
		free(cfg);
		cfg = NULL;
	}
	if (cfg == NULL)
		snprintf(err, errlen, "out of memory");
	return cfg;
}

static uint32_t rx_roles(const struct profile *prof)
{
	uint32_t n = 0;

	for (uint16_t i = 0; i < prof->n_lcores; i++)
		n += (prof->lcores[i].roles & PROFILE_ROLE_RX) != 0;
	return n;
}

/* Everything that can be wrong with the inputs, found before EAL starts. Returns the
 * starting table's rule set, built (and so validated). */
static struct router_state *load(struct dp *dp, const struct dp_mode *mode)
{
	char err[RC_ERR_LEN + 256];
	struct router_state *rs;

	if (profile_load(dp->args->profile, &dp->prof, err, sizeof(err)) != 0)
		die(EXIT_USAGE, "%s", err);
	dp->cfg = dp->args->config != NULL ? routing_config_load(dp->args->config, err, sizeof(err))
					   : empty_table(err, sizeof(err));
	if (dp->cfg == NULL)
		die(EXIT_USAGE, "%s", err);
	check_limits(dp);
	if (mode->prepare(dp, err, sizeof(err)) != 0)
		die(EXIT_USAGE, "%s", err);
	/* docs/operations.md, "The compile cache": before the first compile */
	matcher_pool_set_threads(dp->args->compile_threads);
	if (dp->args->compile_cache != NULL &&
	    matcher_cache_open(dp->args->compile_cache, (uint64_t)dp->args->compile_cache_mb << 20,
			       err, sizeof(err)) != 0)
		die(EXIT_USAGE, "--compile-cache: %s", err);
	rs = table_prebuild(dp->cfg, rx_roles(&dp->prof), err, sizeof(err));
	if (rs == NULL)
		die(EXIT_USAGE, "%s", err);
	if (dp->args->verbose || mode->log_profile)
		profile_log(&dp->prof);
	if (host_check_cpus(&dp->prof, err, sizeof(err)) != 0)
		die(EXIT_USAGE, "%s", err);
	return rs;
}

static void eal_start(struct dp *dp, const struct dp_mode *mode)
{
	const struct host_eal o = {
	    .file_prefix = dp->args->file_prefix,
	    .huge = dp->args->huge,
	    .probe_pci = mode->probe_pci,
	    .verbose = dp->args->verbose,
	};

	if (host_eal_start(&dp->prof, &o, &dp->no_huge) < 0)
		die(1, "EAL start failed: %s (profile %s, %s; see scripts/doctor, or --huge off)",
		    rte_strerror(rte_errno), dp->prof.path,
		    dp->no_huge ? "no hugepages, -m from memory_mb" : "hugepages");
	if (rte_pdump_init() != 0)
		DP_LOG(main, WARNING, "pdump unavailable: %s\n", rte_strerror(rte_errno));
	if (report_telemetry_register() != 0)
		DP_LOG(main, WARNING, "telemetry commands not registered\n");
}

/* Pools, the mode's ports, the lcore map and the starting table (version 0: a local
 * file, or empty; aster-control replaces it). */
static void build(struct dp *dp, const struct dp_mode *mode, struct router_state *prebuilt)
{
	char err[RC_ERR_LEN + 256];
	struct table_apply_result res;

	if (port_pools_create(&dp->pools, &dp->prof, dp->tx_frame_max, err, sizeof(err)) != 0 ||
	    mode->open_ports(dp, err, sizeof(err)) != 0)
		die(1, "%s", err);
	dp->map = lcore_map_create(&(struct lcore_map_cfg){.prof = &dp->prof,
							   .policy = mode->policy,
							   .policy_arg = dp->mode_state,
							   .ports = &dp->ports,
							   .tx_pool = dp->pools.tx,
							   .max_subs = dp->max_subs},
				   err, sizeof(err));
	if (dp->map == NULL)
		die(1, "%s", err);
	dp->table = table_create(dp->map, dp->max_subs, prebuilt);
	if (dp->table == NULL)
		die(1, "out of memory for the routing table");
	if (table_apply(dp->table, dp->cfg, 0, false, &res, err, sizeof(err)) != 0)
		die(EXIT_USAGE, "%s", err);
	dp->cfg = NULL; /* the table's now */
	dp->pools.rx_idle = rte_mempool_in_use_count(dp->pools.rx);
	dp->pools.tx_idle = rte_mempool_in_use_count(dp->pools.tx);
}

/* After the mode's run stopped the lcores: nothing reads the table or the map any
 * more, the ports close (net_pcap finishes its files), then the memory goes. */
static void shutdown_in_order(struct dp *dp, const struct dp_mode *mode)
{
	report_telemetry_detach();
	if (mode->fini != NULL)
		mode->fini(dp);
	for (uint16_t i = 0; i < dp->ports.n_in; i++)
		port_close(dp->ports.in[i]);
	for (uint16_t i = 0; i < dp->ports.n_out; i++)
		port_close(dp->ports.out[i].port_id);
	table_free(dp->table);
	lcore_map_free(dp->map);
	port_pools_free(&dp->pools);
	rte_eal_cleanup();
}

int main(int argc, char **argv)
{
	static struct dp_args args;
	static struct dp dp;
	const struct dp_mode *mode;
	struct router_state *prebuilt;
	int rc;

	parse_args(argc, argv, &args);
	mode = args.n_feeds != 0 ? &replay_mode : &live_mode; /* the one choice */
	dp.args = &args;
	dp.signalled = &signalled;
	prebuilt = load(&dp, mode);
	eal_start(&dp, mode);
	build(&dp, mode, prebuilt);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	clock_gettime(CLOCK_MONOTONIC, &dp.launched);
	if (lcore_map_launch(dp.map) != 0)
		die(1, "cannot launch the polling lcores");
	report_telemetry_attach(dp.table, dp.map);
	rc = mode->run(&dp);
	shutdown_in_order(&dp, mode);
	return rc == 0 ? 0 : 1;
}
