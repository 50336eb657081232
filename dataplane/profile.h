/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PMD profiles (pmd_config/NAME.yaml): how aster-dataplane uses the machine. EAL
 * arguments, lcore roles, ports' drivers, queue and descriptor counts, burst and ring
 * sizes, mempool sizes, arbitration hold limits. Every key has one default, min and
 * max in profile.c's key table; unknown keys are errors.
 */
#ifndef ASTER_PROFILE_H
#define ASTER_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROFILE_MAX_LCORES 32
#define PROFILE_ROLE_RX	   0x1
#define PROFILE_ROLE_TX	   0x2

struct profile_lcore {
	uint16_t id;   /* EAL lcore id (not the main lcore) */
	uint16_t cpu;  /* CPU it is pinned to */
	uint8_t roles; /* PROFILE_ROLE_RX | PROFILE_ROLE_TX */
};

#define PROFILE_MAX_PORTS 16

struct profile_port {
	char name[32];
	char dev[256]; /* vdev "net_xxx,args" or PCI address */
	uint32_t ip;   /* rx_ports: source of IGMP reports, host order; 0 = 0.0.0.0 */
};

/* How feed multicast frames get past the NIC's MAC filter (profile key `multicast`). */
enum profile_multicast {
	PROFILE_MC_AUTO,     /* mc_addr_list, else allmulti (logged) */
	PROFILE_MC_LIST,     /* rte_eth_dev_set_mc_addr_list with the feed groups' MACs */
	PROFILE_MC_ALLMULTI, /* every multicast frame */
	PROFILE_MC_PROMISC,  /* every frame */
};

/* How a feed line's (group, port) reaches the RX queue its lcore polls (`steering`). */
enum profile_steering {
	PROFILE_STEER_AUTO,	/* rte_flow when the NIC validates the rules, else none */
	PROFILE_STEER_RTE_FLOW, /* one rte_flow rule per line (+ IGMP); refused rules fail */
	PROFILE_STEER_NONE,	/* no rules: the port's default queue */
};

enum profile_igmp {
	PROFILE_IGMP_OFF,
	PROFILE_IGMP_V2,
	PROFILE_IGMP_V3,
};

/* Offloads by name (`rx_offloads`, `tx_offloads`); port.c maps them to RTE_ETH_*. */
#define PROFILE_RX_OFFLOAD_IPV4_CKSUM 0x1 /* NIC flags bad IPv4 header checksums */
#define PROFILE_RX_OFFLOAD_UDP_CKSUM  0x2 /* NIC flags bad UDP checksums */
#define PROFILE_TX_OFFLOAD_FAST_FREE  0x1 /* mbuf_fast_free: one pool, refcnt 1 */

struct profile {
	char path[256];
	char name[64];
	char rx_driver[16]; /* "net_pcap" (replay) */
	char tx_driver[16]; /* "net_pcap" (writes DIR/<port>.pcap) or "net_null" (discards) */
	uint16_t main_cpu;  /* CPU of the main lcore (control, housekeeping; never polls) */
	uint16_t n_lcores;
	struct profile_lcore lcores[PROFILE_MAX_LCORES];
	uint16_t burst;			 /* rx/tx burst size, 1..512 */
	uint16_t rx_descs;		 /* per RX queue */
	uint16_t tx_descs;		 /* per TX queue */
	uint32_t ring_size;		 /* RX->TX ring entries, power of two */
	uint32_t rx_mbufs;		 /* RX mempool size (held packets count against it) */
	uint32_t tx_mbufs;		 /* TX mempool size */
	uint16_t mbuf_cache;		 /* per-lcore mempool cache */
	uint16_t hold_packets;		 /* arbiter hold queue per feed */
	uint32_t hold_us;		 /* arbiter hold timeout in live mode, 0 = none */
	uint32_t memory_mb;		 /* EAL memory (-m) when running without hugepages */
	uint32_t history_mb;		 /* live: retransmission histories' budget (§6.2) */
	uint32_t linger_ms;		 /* live: end-of-session linger at shutdown (§6.1) */
	uint32_t max_subscribers;	 /* per feed; sizes the locate bitmaps */
	char eal_args[256];		 /* extra EAL arguments, space separated */
	uint16_t n_rx_ports, n_tx_ports; /* live mode ports */
	struct profile_port rx_ports[PROFILE_MAX_PORTS];
	struct profile_port tx_ports[PROFILE_MAX_PORTS];
	/* Live NIC settings (ignored by replay's net_pcap ports). */
	enum profile_multicast multicast;
	enum profile_steering steering;
	bool isolate;		  /* rte_flow isolated mode: only steered flows reach DPDK */
	uint32_t rx_offloads;	  /* PROFILE_RX_OFFLOAD_* */
	uint32_t tx_offloads;	  /* PROFILE_TX_OFFLOAD_* */
	enum profile_igmp igmp;	  /* membership reports sent by the control thread */
	uint32_t igmp_interval_s; /* unsolicited report period */
	uint32_t silence_warn_s;  /* warn when a joined line receives nothing that long; 0 off */
};

const char *profile_multicast_name(enum profile_multicast m);
const char *profile_steering_name(enum profile_steering s);
const char *profile_igmp_name(enum profile_igmp v);

/* Load and validate; 0, or -errno with `err` holding "FILE:LINE: KEY: message". */
int profile_load(const char *path, struct profile *p, char *err, size_t errlen);

/* One human-readable line per setting, logged once at start-up. */
void profile_log(const struct profile *p);

#endif
