/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Live traffic, the mode live_mode (dp.h): the profile's ports, the live policy for the
 * polling lcores (inputs and feeds spread over the RX lcores, a full ring or TX queue
 * drops and counts, holds bounded by hold_us), and, off the polling cores, the control
 * thread: the control socket (ctl.c), the health segment (health_writer.c) and feed
 * group membership (mcast.c). Runs until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "ctl.h"
#include "dp.h"
#include "dp_log.h"
#include "health_writer.h"
#include "mcast.h"
#include "publisher.h"

DP_LOG_REGISTER(live);

#define LIVE_TX_TRIES 4 /* TX bursts before a queue that stays full drops the rest */

/* The live input of one turn: a burst from each of the lcore's ports. */
static void live_rx_turn(struct rx_lcore *lc, void *arg)
{
	RTE_SET_USED(arg);
	rx_poll(lc);
}

static const struct lcore_policy live_policy = {
    .name = "live",
    .spread = true,
    .hold_timeout = true,
    .full = RX_FULL_DROP, /* the RX core never waits */
    .tries = LIVE_TX_TRIES,
    .at_least_once = true,
    .rx_turn = live_rx_turn,
    .rx_housekeeping = rx_housekeeping, /* hold timeouts */
};

/* What the control thread drives besides the socket. */
struct live {
	struct health_writer *health;
	struct mcast *mcast;
};

static int live_prepare(struct dp *dp, char *err, size_t errlen)
{
	if (dp->prof.n_rx_ports == 0 || dp->prof.n_tx_ports == 0) {
		snprintf(err, errlen,
			 "%s: rx_ports and tx_ports are needed in live mode (or give --feed)",
			 dp->prof.path);
		return -EINVAL;
	}
	dp->max_subs = dp->prof.max_subscribers;
	/* tables change: frames are sized for the largest max_payload (docs/protocol.md §4) */
	dp->tx_frame_max = PUB_FRAME_MAX(RC_MAX_PAYLOAD_MAX);
	return 0;
}

static int live_open_ports(struct dp *dp, char *err, size_t errlen)
{
	const struct profile *prof = &dp->prof;
	int rc = 0;

	for (uint16_t i = 0; rc == 0 && i < prof->n_rx_ports; i++) {
		_Static_assert(sizeof(dp->ports.in_name[i]) >= sizeof(prof->rx_ports[i].name),
			       "a profile port name fits");
		memcpy(dp->ports.in_name[i], prof->rx_ports[i].name, sizeof(prof->rx_ports[i].name));
		dp->ports.in_ip[i] = prof->rx_ports[i].ip;
		rc = port_open_live(&prof->rx_ports[i], true, prof, dp->pools.rx,
				    &dp->ports.in[dp->ports.n_in++], err, errlen);
	}
	for (uint16_t i = 0; rc == 0 && i < prof->n_tx_ports; i++) {
		char *name = dp->ports.out[i].name;

		/* profile port names and table port names have the same length limit */
		_Static_assert(sizeof(dp->ports.out[i].name) >= sizeof(prof->tx_ports[i].name),
			       "a profile port name fits");
		memcpy(name, prof->tx_ports[i].name, sizeof(prof->tx_ports[i].name));
		rc = port_open_live(&prof->tx_ports[i], false, prof, NULL,
				    &dp->ports.out[dp->ports.n_out++].port_id, err, errlen);
	}
	dp->ports.out_receive = true; /* requests and ARP (port_open_live) */
	return rc;
}

static uint64_t make_boot_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = rte_rdtsc() ^ ((uint64_t)getpid() << 32);
	return id ? id : 1;
}

/* The control thread's turn, after the requests: the health segment, then IGMP. */
static void tick(void *arg, uint64_t now_ns)
{
	struct live *l = arg;

	health_writer_update(l->health);
	mcast_tick(l->mcast, now_ns);
}

/* STATUS: the IGMP counters. */
static void status(void *arg, json_t *root)
{
	struct live *l = arg;
	struct mcast_counters mc;

	mcast_counters(l->mcast, &mc);
	json_object_set_new(root, "igmp",
			    json_pack("{sI sI sI sI sI}", "reports", (json_int_t)mc.reports,
				      "leaves", (json_int_t)mc.leaves, "queries",
				      (json_int_t)mc.queries, "answers", (json_int_t)mc.answers,
				      "tx_failed", (json_int_t)mc.tx_failed));
}

/*
 * docs/protocol.md §6.1: for linger_ms after the signal the RX lcores take no more feed
 * input and every stream sends end-of-session packets in place of heartbeats, while the
 * TX lcores still answer retransmission requests and the control socket still answers.
 */
static void linger(struct dp *dp)
{
	uint32_t ms = dp->prof.linger_ms;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	DP_LOG(live, NOTICE, "stopping: end of session on every stream, lingering %u ms\n", ms);
	lcore_map_end_session(dp->map);
	while (nanosleep(&ts, &ts) != 0)
		; /* another signal: the rest of the linger */
}

/* Serve until a signal, then stop in order: the linger, the control thread, leave the
 * groups while the ports still run, then the lcores. */
static int live_run(struct dp *dp)
{
	const struct timespec period = {.tv_sec = 0, .tv_nsec = 20000000};
	struct live l = {0};
	const struct ctl_hooks hooks = {.tick = tick, .status = status, .arg = &l};
	uint64_t boot_id = make_boot_id();
	struct ctl *ctl = NULL;
	char err[512];

	l.health = health_writer_create(dp->table, dp->map, dp->args->health_file, boot_id, err,
					sizeof(err));
	if (l.health != NULL && (l.mcast = mcast_create(dp->table, dp->map, dp->pools.tx)) == NULL)
		snprintf(err, sizeof(err), "out of memory for the multicast membership state");
	if (l.mcast != NULL)
		ctl = ctl_start(dp->table, dp->map, dp->args->ctl_socket, &dp->args->ctl_access,
				boot_id, &hooks, err, sizeof(err));
	if (ctl == NULL) {
		mcast_free(l.mcast); /* never ticked: sends nothing */
		health_writer_free(l.health);
		lcore_map_stop(dp->map);
		fprintf(stderr, "aster-dataplane: %s\n", err);
		return 1;
	}
	DP_LOG(live, NOTICE, "live on %u input and %u output ports, control socket %s\n",
	       dp->ports.n_in, dp->ports.n_out, dp->args->ctl_socket);
	while (!*dp->signalled)
		nanosleep(&period, NULL);
	linger(dp);
	ctl_stop(ctl);
	health_writer_free(l.health);
	mcast_free(l.mcast); /* leaves, while the ports still run */
	lcore_map_stop(dp->map);
	return 0;
}

const struct dp_mode live_mode = {
    .name = "live",
    .policy = &live_policy,
    .probe_pci = true,
    .log_profile = true, /* the effective settings, once (port_rx.c adds "auto") */
    .prepare = live_prepare,
    .open_ports = live_open_ports,
    .run = live_run,
    .fini = NULL,
};
