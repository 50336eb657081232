/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The two ways aster-dataplane runs, side by side (docs/architecture.md, "Live and
 * replay"): live traffic (live.c) and offline replay (replay.c, docs/protocol.md §5).
 * main.c chooses one mode from the arguments, once, and runs the steps every mode has
 * in order; what differs between the two is behind struct dp_mode, and what the
 * polling lcores do differently is the mode's struct lcore_policy (lcore.h).
 *
 * struct dp is the process's state, built by main.c step by step on the main lcore;
 * the mode fills the fields its steps name.
 */
#ifndef ASTER_DP_H
#define ASTER_DP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ctl.h"
#include "lcore.h"
#include "port.h"
#include "profile.h"
#include "table.h"

#include "../common/routing_config.h"

#define DP_MAX_FEEDS 16 /* --feed files */

/* The command line (main.c parses and checks it; --help lists every option). */
struct dp_args {
	const char *config;  /* --config: the starting routing table */
	const char *profile; /* --profile */
	const char *huge;    /* --huge: auto | on | off */
	const char *file_prefix;
	bool verbose;
	/* replay */
	const char *feeds[DP_MAX_FEEDS];
	unsigned int n_feeds;
	const char *out;
	double stall_s;
	bool linger; /* after completion, serve telemetry until SIGINT/SIGTERM */
	/* live */
	const char *ctl_socket;
	struct ctl_access ctl_access; /* --ctl-allow-uid */
	const char *health_file;
	/* compiles (both modes) */
	const char *compile_cache; /* --compile-cache DIR, or NULL: none */
	uint32_t compile_cache_mb;
	uint32_t compile_threads; /* 0: one per CPU */
};

struct dp {
	const struct dp_args *args;
	struct profile prof;
	struct routing_config *cfg; /* the starting table (--config, or empty), until applied */
	uint32_t max_subs;	    /* subscriber slots (prepare) */
	uint32_t tx_frame_max;	    /* largest output frame the pool must hold (prepare) */
	bool no_huge;		    /* EAL runs without hugepages */
	struct port_pools pools;
	struct lcore_ports ports; /* (open_ports) */
	struct lcore_map *map;
	struct table *table;
	struct timespec launched;	  /* CLOCK_MONOTONIC when the lcores were launched */
	void *mode_state;		  /* the mode's own */
	volatile sig_atomic_t *signalled; /* SIGINT or SIGTERM arrived */
};

struct dp_mode {
	const char *name;
	const struct lcore_policy *policy;
	bool probe_pci;	  /* EAL probes the profile's PCI ports */
	bool log_profile; /* the effective profile is logged once (also with --verbose) */
	/* Before EAL: check the inputs, set max_subs, tx_frame_max, mode_state. 0 or
	 * -errno with one line in `err`: a usage or input error (exit status 2). */
	int (*prepare)(struct dp *dp, char *err, size_t errlen);
	/* After EAL and the pools: create and start the ports, fill dp->ports. */
	int (*open_ports)(struct dp *dp, char *err, size_t errlen);
	/* The lcores run: until the work is done or a signal arrives, then stop them.
	 * Returns the exit status. */
	int (*run)(struct dp *dp);
	/* The lcores stopped, before the ports and pools go: the mode's state. */
	void (*fini)(struct dp *dp);
};

extern const struct dp_mode live_mode;
extern const struct dp_mode replay_mode;

#endif
