/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PMD profile loader (pmd_config/NAME.yaml). Every setting has its default, minimum and
 * maximum in `keys` below and nowhere else (docs/conventions.md §3); the profile is validated once
 * at start-up and logged once, then passed around as `const struct profile *`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dp_log.h"
#include "profile.h"

#include "../common/yaml_doc.h"

DP_LOG_REGISTER(profile);

/* EAL lcore ids run 0..RTE_MAX_LCORE-1 (128 in Debian's DPDK 22.11); 0 is the main lcore. */
#define PROFILE_LCORE_ID_MAX 127
#define PROFILE_CPU_MAX	     1023
#define RTE_DIM_(a)	     (sizeof(a) / sizeof((a)[0]))

enum {
	K_NAME,
	K_RX_DRIVER,
	K_TX_DRIVER,
	K_MAIN_CPU,
	K_LCORES,
	K_BURST,
	K_RX_DESCS,
	K_TX_DESCS,
	K_RING_SIZE,
	K_RX_MBUFS,
	K_TX_MBUFS,
	K_MBUF_CACHE,
	K_HOLD_PACKETS,
	K_HOLD_US,
	K_MEMORY_MB,
	K_HISTORY_MB,
	K_LINGER_MS,
	K_MAX_SUBSCRIBERS,
	K_EAL_ARGS,
	K_RX_PORTS,
	K_TX_PORTS,
	K_NIC,
	K_IGMP,
	K_N
};

/* name, kind, required, min, max, default (int), default (string), choices */
static const struct yaml_doc_key keys[K_N] = {
    [K_NAME] = {"name", YAML_DOC_STR, true, 1, 63, 0, NULL, NULL},
    /* Live NIC drivers come with their own profiles; replay and CI read pcaps. */
    [K_RX_DRIVER] = {"rx_driver", YAML_DOC_STR, false, 1, 15, 0, "net_pcap", "net_pcap"},
    /* net_null discards output: benchmarks measure the pipeline, not pcap writing. */
    [K_TX_DRIVER] = {"tx_driver", YAML_DOC_STR, false, 1, 15, 0, "net_pcap", "net_pcap|net_null"},
    [K_MAIN_CPU] = {"main_cpu", YAML_DOC_INT, false, 0, PROFILE_CPU_MAX, 0, NULL, NULL},
    [K_LCORES] = {"lcores", YAML_DOC_SEQ, true, 1, PROFILE_MAX_LCORES, 0, NULL, NULL},
    [K_BURST] = {"burst", YAML_DOC_INT, false, 1, 512, 32, NULL, NULL},
    [K_RX_DESCS] = {"rx_descs", YAML_DOC_INT, false, 64, 16384, 1024, NULL, NULL},
    [K_TX_DESCS] = {"tx_descs", YAML_DOC_INT, false, 64, 16384, 1024, NULL, NULL},
    /* rte_ring sizes are powers of two (checked below). */
    [K_RING_SIZE] = {"ring_size", YAML_DOC_INT, false, 64, 65536, 4096, NULL, NULL},
    [K_RX_MBUFS] = {"rx_mbufs", YAML_DOC_INT, false, 1024, 1048576, 16384, NULL, NULL},
    [K_TX_MBUFS] = {"tx_mbufs", YAML_DOC_INT, false, 1024, 1048576, 16384, NULL, NULL},
    /*
     * RTE_MEMPOOL_CACHE_MAX_SIZE is 512; and 512 * 1.5 (the flush threshold rte_mempool
     * checks against the pool size) still fits the smallest pool, 1024.
     */
    [K_MBUF_CACHE] = {"mbuf_cache", YAML_DOC_INT, false, 0, 512, 256, NULL, NULL},
    [K_HOLD_PACKETS] = {"hold_packets", YAML_DOC_INT, false, 1, 1024, 512, NULL, NULL},
    [K_HOLD_US] = {"hold_us", YAML_DOC_INT, false, 0, 1000000, 0, NULL, NULL},
    [K_MEMORY_MB] = {"memory_mb", YAML_DOC_INT, false, 64, 65536, 512, NULL, NULL},
    /* Live mode (docs/protocol.md §6): the retransmission histories' budget, and the
     * end-of-session linger at shutdown. Replay reads and ignores both. */
    [K_HISTORY_MB] = {"history_mb", YAML_DOC_INT, false, 0, 1048576, 256, NULL, NULL},
    [K_LINGER_MS] = {"linger_ms", YAML_DOC_INT, false, 0, 60000, 1000, NULL, NULL},
    [K_MAX_SUBSCRIBERS] = {"max_subscribers", YAML_DOC_INT, false, 1, 65536, 1024, NULL, NULL},
    [K_EAL_ARGS] = {"eal_args", YAML_DOC_STR, false, 0, 255, 0, "", NULL},
    /* Live mode only: the feed inputs and the output ports (names as in the routing
     * table's `ports`). Replay makes its own net_pcap ports from its arguments. */
    [K_RX_PORTS] = {"rx_ports", YAML_DOC_SEQ, false, 1, PROFILE_MAX_PORTS, 0, NULL, NULL},
    [K_TX_PORTS] = {"tx_ports", YAML_DOC_SEQ, false, 1, PROFILE_MAX_PORTS, 0, NULL, NULL},
    /* Live NIC behaviour and multicast membership: the sub-keys below. */
    [K_NIC] = {"nic", YAML_DOC_MAP, false, 0, 0, 0, NULL, NULL},
    [K_IGMP] = {"igmp", YAML_DOC_MAP, false, 0, 0, 0, NULL, NULL},
};

/* nic: (docs/configuration.md; docs/operations.md has the table per NIC). The choices'
 * order is the enums' order in profile.h. */
enum { N_MULTICAST, N_STEERING, N_ISOLATE, N_RX_OFFLOADS, N_TX_OFFLOADS, N_N };
static const struct yaml_doc_key nic_keys[N_N] = {
    [N_MULTICAST] = {"multicast", YAML_DOC_STR, false, 1, 15, 0, "auto",
		     "auto|mc_addr_list|allmulti|promisc"},
    [N_STEERING] = {"steering", YAML_DOC_STR, false, 1, 15, 0, "auto", "auto|rte_flow|none"},
    [N_ISOLATE] = {"isolate", YAML_DOC_STR, false, 1, 5, 0, "false", "true|false"},
    [N_RX_OFFLOADS] = {"rx_offloads", YAML_DOC_SEQ, false, 0, 2, 0, NULL, NULL},
    [N_TX_OFFLOADS] = {"tx_offloads", YAML_DOC_SEQ, false, 0, 1, 0, NULL, NULL},
};

/* igmp: membership reports sent by the control thread on the RX ports. */
enum { G_VERSION, G_INTERVAL_S, G_SILENCE_WARN_S, G_N };
static const struct yaml_doc_key igmp_keys[G_N] = {
    /* v2 reports are understood by v2 and v3 queriers alike. */
    [G_VERSION] = {"version", YAML_DOC_STR, false, 1, 3, 0, "v2", "off|v2|v3"},
    /* Queriers expire a membership after robustness x query interval + response time
     * (260 s with the RFC 2236/3376 defaults): 60 s keeps several reports inside that. */
    [G_INTERVAL_S] = {"interval_s", YAML_DOC_INT, false, 1, 3600, 60, NULL, NULL},
    /* MoldUDP64 sends a heartbeat at least every second on a live line. */
    [G_SILENCE_WARN_S] = {"silence_warn_s", YAML_DOC_INT, false, 0, 3600, 10, NULL, NULL},
};

static const struct yaml_doc_key rx_offload_key = {
    "rx_offloads", YAML_DOC_STR, true, 1, 15, 0, NULL, "ipv4_cksum|udp_cksum"};
static const struct yaml_doc_key tx_offload_key = {"tx_offloads", YAML_DOC_STR,	   true, 1, 15, 0,
						   NULL,	  "mbuf_fast_free"};

/* Index of `v` in "a|b|c" (the value was checked against the choices already). */
static unsigned int choice_index(const char *choices, const char *v)
{
	size_t len = strlen(v);
	unsigned int i = 0;

	for (const char *c = choices; *c != '\0'; i++) {
		const char *bar = strchr(c, '|');
		size_t n = bar ? (size_t)(bar - c) : strlen(c);

		if (n == len && strncmp(c, v, n) == 0)
			return i;
		if (bar == NULL)
			break;
		c = bar + 1;
	}
	return 0;
}

static unsigned int choice(yaml_node_t *v, const struct yaml_doc_key *k)
{
	return choice_index(k->choices, yaml_doc_str(v, k));
}

/* A list of offload names: bit i for choice i; a name listed twice is an error. */
static int parse_offloads(struct yaml_doc *d, yaml_node_t *seq, const struct yaml_doc_key *k,
			  uint32_t *bits)
{
	*bits = 0;
	for (size_t i = 0; i < yaml_doc_seq_len(seq); i++) {
		yaml_node_t *item = yaml_doc_seq_item(d, seq, i);
		int rc = yaml_doc_check(d, item, k);
		uint32_t bit;

		if (rc < 0)
			return rc;
		bit = 1u << choice(item, k);
		if (*bits & bit)
			return yaml_doc_error(d, item, k->name, "\"%s\" listed twice",
					      yaml_doc_str(item, k));
		*bits |= bit;
	}
	return 0;
}

const char *profile_multicast_name(enum profile_multicast m)
{
	static const char *const names[] = {"auto", "mc_addr_list", "allmulti", "promisc"};

	return (unsigned int)m < RTE_DIM_(names) ? names[m] : "?";
}

const char *profile_steering_name(enum profile_steering s)
{
	static const char *const names[] = {"auto", "rte_flow", "none"};

	return (unsigned int)s < RTE_DIM_(names) ? names[s] : "?";
}

const char *profile_igmp_name(enum profile_igmp v)
{
	static const char *const names[] = {"off", "v2", "v3"};

	return (unsigned int)v < RTE_DIM_(names) ? names[v] : "?";
}

enum { P_NAME, P_DEV, P_IP, P_N };
static const struct yaml_doc_key port_keys[P_N] = {
    [P_NAME] = {"name", YAML_DOC_STR, true, 1, 31, 0, NULL, NULL},
    /* "net_af_packet0,iface=veth0" (a DPDK virtual device and its arguments) or a PCI
     * address "0000:3b:00.0" */
    [P_DEV] = {"dev", YAML_DOC_STR, true, 1, 255, 0, NULL, NULL},
    /* RX ports: the IPv4 source of IGMP reports (the port's address on the feed
     * network); 0.0.0.0, the default, is what a host without an address sends. */
    [P_IP] = {"ip", YAML_DOC_STR, false, 7, 15, 0, "0.0.0.0", NULL},
};

static int parse_ports(struct yaml_doc *d, yaml_node_t *seq, const char *key,
		       struct profile_port *ports, uint16_t *n)
{
	for (size_t i = 0; i < yaml_doc_seq_len(seq); i++) {
		yaml_node_t *v[P_N], *node = yaml_doc_seq_item(d, seq, i);
		struct profile_port *pp = &ports[*n];
		int rc = yaml_doc_map(d, node, key, port_keys, P_N, v, NULL);

		if (rc < 0)
			return rc;
		snprintf(pp->name, sizeof(pp->name), "%s",
			 yaml_doc_str(v[P_NAME], &port_keys[P_NAME]));
		snprintf(pp->dev, sizeof(pp->dev), "%s", yaml_doc_str(v[P_DEV], &port_keys[P_DEV]));
		struct in_addr a;

		if (inet_pton(AF_INET, yaml_doc_str(v[P_IP], &port_keys[P_IP]), &a) != 1)
			return yaml_doc_error(d, v[P_IP], "ip", "\"%s\" is not an IPv4 address",
					      yaml_doc_str(v[P_IP], &port_keys[P_IP]));
		pp->ip = ntohl(a.s_addr);
		for (uint16_t j = 0; j < *n; j++)
			if (strcmp(ports[j].name, pp->name) == 0)
				return yaml_doc_error(d, v[P_NAME], "name", "duplicate port \"%s\"",
						      pp->name);
		(*n)++;
	}
	return 0;
}

enum { L_ID, L_CPU, L_ROLES, L_N };
static const struct yaml_doc_key lcore_keys[L_N] = {
    [L_ID] = {"id", YAML_DOC_INT, true, 1, PROFILE_LCORE_ID_MAX, 0, NULL, NULL},
    [L_CPU] = {"cpu", YAML_DOC_INT, true, 0, PROFILE_CPU_MAX, 0, NULL, NULL},
    [L_ROLES] = {"roles", YAML_DOC_SEQ, true, 1, 2, 0, NULL, NULL},
};

static const struct yaml_doc_key role_key = {"roles", YAML_DOC_STR, true, 1, 2, 0, NULL, "rx|tx"};

static int parse_lcore(struct yaml_doc *d, struct profile *p, yaml_node_t *node)
{
	struct profile_lcore *lc = &p->lcores[p->n_lcores];
	yaml_node_t *v[L_N], *item;
	uint8_t role;
	int rc;

	rc = yaml_doc_map(d, node, "lcores", lcore_keys, L_N, v, NULL);
	if (rc < 0)
		return rc;
	lc->id = (uint16_t)yaml_doc_int(v[L_ID], &lcore_keys[L_ID]);
	lc->cpu = (uint16_t)yaml_doc_int(v[L_CPU], &lcore_keys[L_CPU]);
	for (uint16_t i = 0; i < p->n_lcores; i++)
		if (p->lcores[i].id == lc->id)
			return yaml_doc_error(d, v[L_ID], "id", "duplicate lcore id %u", lc->id);
	lc->roles = 0;
	for (size_t i = 0; i < yaml_doc_seq_len(v[L_ROLES]); i++) {
		item = yaml_doc_seq_item(d, v[L_ROLES], i);
		rc = yaml_doc_check(d, item, &role_key);
		if (rc < 0)
			return rc;
		role = strcmp(yaml_doc_str(item, &role_key), "rx") == 0 ? PROFILE_ROLE_RX
									: PROFILE_ROLE_TX;
		if (lc->roles & role)
			return yaml_doc_error(d, item, "roles",
					      "lcore %u: role \"%s\" listed twice", lc->id,
					      yaml_doc_str(item, &role_key));
		lc->roles |= role;
	}
	p->n_lcores++;
	return 0;
}

/* An optional sub-mapping: absent, every value is its key's default. */
static int sub_map(struct yaml_doc *d, yaml_node_t *map, const char *what,
		   const struct yaml_doc_key *k, size_t n, yaml_node_t **v)
{
	if (map == NULL) {
		for (size_t i = 0; i < n; i++)
			v[i] = NULL;
		return 0;
	}
	return yaml_doc_map(d, map, what, k, n, v, NULL);
}

static int parse_nic(struct yaml_doc *d, yaml_node_t *map, struct profile *p)
{
	yaml_node_t *v[N_N];
	int rc = sub_map(d, map, "nic", nic_keys, N_N, v);

	if (rc < 0)
		return rc;
	p->multicast = (enum profile_multicast)choice(v[N_MULTICAST], &nic_keys[N_MULTICAST]);
	p->steering = (enum profile_steering)choice(v[N_STEERING], &nic_keys[N_STEERING]);
	p->isolate = strcmp(yaml_doc_str(v[N_ISOLATE], &nic_keys[N_ISOLATE]), "true") == 0;
	/* Isolated, only what a rule steers reaches DPDK: without rules, nothing would. */
	if (p->isolate && p->steering == PROFILE_STEER_NONE)
		return yaml_doc_error(d, v[N_ISOLATE], "isolate",
				      "true needs steering rte_flow or auto (with steering none "
				      "no frame would reach the dataplane)");
	if (p->isolate && p->multicast != PROFILE_MC_AUTO)
		return yaml_doc_error(d, v[N_MULTICAST], "multicast",
				      "%s with isolate true: an isolated port accepts what the "
				      "rte_flow rules steer (keep auto)",
				      profile_multicast_name(p->multicast));
	rc = parse_offloads(d, v[N_RX_OFFLOADS], &rx_offload_key, &p->rx_offloads);
	if (rc < 0)
		return rc;
	return parse_offloads(d, v[N_TX_OFFLOADS], &tx_offload_key, &p->tx_offloads);
}

static int parse_igmp(struct yaml_doc *d, yaml_node_t *map, struct profile *p)
{
	yaml_node_t *v[G_N];
	int rc = sub_map(d, map, "igmp", igmp_keys, G_N, v);

	if (rc < 0)
		return rc;
	p->igmp = (enum profile_igmp)choice(v[G_VERSION], &igmp_keys[G_VERSION]);
	p->igmp_interval_s = (uint32_t)yaml_doc_int(v[G_INTERVAL_S], &igmp_keys[G_INTERVAL_S]);
	p->silence_warn_s =
	    (uint32_t)yaml_doc_int(v[G_SILENCE_WARN_S], &igmp_keys[G_SILENCE_WARN_S]);
	return 0;
}

static int parse(struct yaml_doc *d, struct profile *p)
{
	yaml_node_t *v[K_N], *k[K_N];
	uint8_t roles = 0;
	int rc;

	rc = yaml_doc_map(d, yaml_doc_root(d), "document", keys, K_N, v, k);
	if (rc < 0)
		return rc;
	snprintf(p->name, sizeof(p->name), "%s", yaml_doc_str(v[K_NAME], &keys[K_NAME]));
	snprintf(p->rx_driver, sizeof(p->rx_driver), "%s",
		 yaml_doc_str(v[K_RX_DRIVER], &keys[K_RX_DRIVER]));
	snprintf(p->tx_driver, sizeof(p->tx_driver), "%s",
		 yaml_doc_str(v[K_TX_DRIVER], &keys[K_TX_DRIVER]));
	p->main_cpu = (uint16_t)yaml_doc_int(v[K_MAIN_CPU], &keys[K_MAIN_CPU]);

	for (size_t i = 0; i < yaml_doc_seq_len(v[K_LCORES]); i++) {
		rc = parse_lcore(d, p, yaml_doc_seq_item(d, v[K_LCORES], i));
		if (rc < 0)
			return rc;
		roles |= p->lcores[i].roles;
	}
	/* Traffic needs somewhere to be received and somewhere to be sent from. */
	if (!(roles & PROFILE_ROLE_RX))
		return yaml_doc_error(d, k[K_LCORES], "lcores", "no lcore has the rx role");
	if (!(roles & PROFILE_ROLE_TX))
		return yaml_doc_error(d, k[K_LCORES], "lcores", "no lcore has the tx role");

	p->burst = (uint16_t)yaml_doc_int(v[K_BURST], &keys[K_BURST]);
	p->rx_descs = (uint16_t)yaml_doc_int(v[K_RX_DESCS], &keys[K_RX_DESCS]);
	p->tx_descs = (uint16_t)yaml_doc_int(v[K_TX_DESCS], &keys[K_TX_DESCS]);
	p->ring_size = (uint32_t)yaml_doc_int(v[K_RING_SIZE], &keys[K_RING_SIZE]);
	if (p->ring_size & (p->ring_size - 1))
		return yaml_doc_error(d, v[K_RING_SIZE], "ring_size",
				      "%" PRIu32 " is not a power of two", p->ring_size);
	p->rx_mbufs = (uint32_t)yaml_doc_int(v[K_RX_MBUFS], &keys[K_RX_MBUFS]);
	p->tx_mbufs = (uint32_t)yaml_doc_int(v[K_TX_MBUFS], &keys[K_TX_MBUFS]);
	p->mbuf_cache = (uint16_t)yaml_doc_int(v[K_MBUF_CACHE], &keys[K_MBUF_CACHE]);
	p->hold_packets = (uint16_t)yaml_doc_int(v[K_HOLD_PACKETS], &keys[K_HOLD_PACKETS]);
	p->hold_us = (uint32_t)yaml_doc_int(v[K_HOLD_US], &keys[K_HOLD_US]);
	p->memory_mb = (uint32_t)yaml_doc_int(v[K_MEMORY_MB], &keys[K_MEMORY_MB]);
	p->history_mb = (uint32_t)yaml_doc_int(v[K_HISTORY_MB], &keys[K_HISTORY_MB]);
	p->linger_ms = (uint32_t)yaml_doc_int(v[K_LINGER_MS], &keys[K_LINGER_MS]);
	p->max_subscribers = (uint32_t)yaml_doc_int(v[K_MAX_SUBSCRIBERS], &keys[K_MAX_SUBSCRIBERS]);
	snprintf(p->eal_args, sizeof(p->eal_args), "%s",
		 yaml_doc_str(v[K_EAL_ARGS], &keys[K_EAL_ARGS]));
	rc = parse_ports(d, v[K_RX_PORTS], "rx_ports", p->rx_ports, &p->n_rx_ports);
	if (rc < 0)
		return rc;
	rc = parse_ports(d, v[K_TX_PORTS], "tx_ports", p->tx_ports, &p->n_tx_ports);
	if (rc < 0)
		return rc;
	for (uint16_t i = 0; i < p->n_tx_ports; i++)
		if (p->tx_ports[i].ip != 0)
			return yaml_doc_error(d, k[K_TX_PORTS], "tx_ports",
					      "port \"%s\": ip is an rx_ports setting (output "
					      "addresses are the routing table's)",
					      p->tx_ports[i].name);
	rc = parse_nic(d, v[K_NIC], p);
	if (rc < 0)
		return rc;
	return parse_igmp(d, v[K_IGMP], p);
}

int profile_load(const char *path, struct profile *p, char *err, size_t errlen)
{
	struct yaml_doc d;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	rc = yaml_doc_load_file(&d, path, err, errlen);
	if (rc == 0)
		rc = parse(&d, p);
	yaml_doc_fini(&d);
	return rc;
}

static void roles_str(uint8_t roles, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s", roles & PROFILE_ROLE_RX ? "rx" : "",
		 (roles & PROFILE_ROLE_RX) && (roles & PROFILE_ROLE_TX) ? "," : "",
		 roles & PROFILE_ROLE_TX ? "tx" : "");
}

/* Start-up only (main lcore, before any polling core runs). */
void profile_log(const struct profile *p)
{
	char roles[8];

	DP_LOG(profile, INFO, "profile: %s (%s)\n", p->name, p->path);
	DP_LOG(profile, INFO, "profile: rx_driver = %s\n", p->rx_driver);
	DP_LOG(profile, INFO, "profile: tx_driver = %s\n", p->tx_driver);
	DP_LOG(profile, INFO, "profile: main_cpu = %u\n", p->main_cpu);
	for (uint16_t i = 0; i < p->n_lcores; i++) {
		roles_str(p->lcores[i].roles, roles, sizeof(roles));
		DP_LOG(profile, INFO, "profile: lcore %u on cpu %u roles %s\n", p->lcores[i].id,
		       p->lcores[i].cpu, roles);
	}
	DP_LOG(profile, INFO, "profile: burst = %u\n", p->burst);
	DP_LOG(profile, INFO, "profile: rx_descs = %u\n", p->rx_descs);
	DP_LOG(profile, INFO, "profile: tx_descs = %u\n", p->tx_descs);
	DP_LOG(profile, INFO, "profile: ring_size = %" PRIu32 "\n", p->ring_size);
	DP_LOG(profile, INFO, "profile: rx_mbufs = %" PRIu32 "\n", p->rx_mbufs);
	DP_LOG(profile, INFO, "profile: tx_mbufs = %" PRIu32 "\n", p->tx_mbufs);
	DP_LOG(profile, INFO, "profile: mbuf_cache = %u\n", p->mbuf_cache);
	DP_LOG(profile, INFO, "profile: hold_packets = %u\n", p->hold_packets);
	DP_LOG(profile, INFO, "profile: hold_us = %" PRIu32 "\n", p->hold_us);
	DP_LOG(profile, INFO, "profile: history_mb = %" PRIu32 ", linger_ms = %" PRIu32 "\n",
	       p->history_mb, p->linger_ms);
	DP_LOG(profile, INFO, "profile: memory_mb = %" PRIu32 "\n", p->memory_mb);
	DP_LOG(profile, INFO, "profile: max_subscribers = %" PRIu32 "\n", p->max_subscribers);
	DP_LOG(profile, INFO, "profile: eal_args = \"%s\"\n", p->eal_args);
	for (uint16_t i = 0; i < p->n_rx_ports; i++)
		DP_LOG(profile, INFO, "profile: rx_port %s dev %s ip %u.%u.%u.%u\n",
		       p->rx_ports[i].name, p->rx_ports[i].dev, p->rx_ports[i].ip >> 24,
		       (p->rx_ports[i].ip >> 16) & 0xff, (p->rx_ports[i].ip >> 8) & 0xff,
		       p->rx_ports[i].ip & 0xff);
	for (uint16_t i = 0; i < p->n_tx_ports; i++)
		DP_LOG(profile, INFO, "profile: tx_port %s dev %s\n", p->tx_ports[i].name,
		       p->tx_ports[i].dev);
	/* "auto" is resolved per port when the port starts (port.c logs the outcome). */
	DP_LOG(profile, INFO, "profile: nic.multicast = %s\n",
	       profile_multicast_name(p->multicast));
	DP_LOG(profile, INFO, "profile: nic.steering = %s\n", profile_steering_name(p->steering));
	DP_LOG(profile, INFO, "profile: nic.isolate = %s\n", p->isolate ? "true" : "false");
	DP_LOG(profile, INFO, "profile: nic.rx_offloads =%s%s%s\n", p->rx_offloads ? "" : " none",
	       p->rx_offloads & PROFILE_RX_OFFLOAD_IPV4_CKSUM ? " ipv4_cksum" : "",
	       p->rx_offloads & PROFILE_RX_OFFLOAD_UDP_CKSUM ? " udp_cksum" : "");
	DP_LOG(profile, INFO, "profile: nic.tx_offloads =%s\n",
	       p->tx_offloads & PROFILE_TX_OFFLOAD_FAST_FREE ? " mbuf_fast_free" : " none");
	DP_LOG(profile, INFO, "profile: igmp.version = %s\n", profile_igmp_name(p->igmp));
	DP_LOG(profile, INFO, "profile: igmp.interval_s = %" PRIu32 "\n", p->igmp_interval_s);
	DP_LOG(profile, INFO, "profile: igmp.silence_warn_s = %" PRIu32 "\n", p->silence_warn_s);
}
