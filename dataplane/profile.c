/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PMD profile loader (pmd_config/NAME.yaml). Every setting has its default, minimum and
 * maximum in `keys` below and nowhere else (STYLE §10); the profile is validated once
 * at start-up and logged once, then passed around as `const struct profile *`.
 */
#include "profile.h"
#include "../common/yaml_doc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* EAL lcore ids run 0..RTE_MAX_LCORE-1 (128 in Debian's DPDK 22.11); 0 is the main lcore. */
#define PROFILE_LCORE_ID_MAX 127
#define PROFILE_CPU_MAX	     1023

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
	K_MAX_SUBSCRIBERS,
	K_EAL_ARGS,
	K_RX_PORTS,
	K_TX_PORTS,
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
    [K_MAX_SUBSCRIBERS] = {"max_subscribers", YAML_DOC_INT, false, 1, 65536, 1024, NULL, NULL},
    [K_EAL_ARGS] = {"eal_args", YAML_DOC_STR, false, 0, 255, 0, "", NULL},
    /* Live mode only: the feed inputs and the output ports (names as in the routing
     * table's `ports`). Replay makes its own net_pcap ports from its arguments. */
    [K_RX_PORTS] = {"rx_ports", YAML_DOC_SEQ, false, 1, PROFILE_MAX_PORTS, 0, NULL, NULL},
    [K_TX_PORTS] = {"tx_ports", YAML_DOC_SEQ, false, 1, PROFILE_MAX_PORTS, 0, NULL, NULL},
};

enum { P_NAME, P_DEV, P_N };
static const struct yaml_doc_key port_keys[P_N] = {
    [P_NAME] = {"name", YAML_DOC_STR, true, 1, 31, 0, NULL, NULL},
    /* "net_af_packet0,iface=veth0" (a DPDK virtual device and its arguments) or a PCI
     * address "0000:3b:00.0" */
    [P_DEV] = {"dev", YAML_DOC_STR, true, 1, 255, 0, NULL, NULL},
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
	p->max_subscribers = (uint32_t)yaml_doc_int(v[K_MAX_SUBSCRIBERS], &keys[K_MAX_SUBSCRIBERS]);
	snprintf(p->eal_args, sizeof(p->eal_args), "%s",
		 yaml_doc_str(v[K_EAL_ARGS], &keys[K_EAL_ARGS]));
	rc = parse_ports(d, v[K_RX_PORTS], "rx_ports", p->rx_ports, &p->n_rx_ports);
	if (rc < 0)
		return rc;
	return parse_ports(d, v[K_TX_PORTS], "tx_ports", p->tx_ports, &p->n_tx_ports);
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

/* Start-up only (main lcore, before any polling core runs): plain stderr is fine. */
void profile_log(const struct profile *p)
{
	char roles[8];

	fprintf(stderr, "profile: %s (%s)\n", p->name, p->path);
	fprintf(stderr, "profile: rx_driver = %s\n", p->rx_driver);
	fprintf(stderr, "profile: tx_driver = %s\n", p->tx_driver);
	fprintf(stderr, "profile: main_cpu = %u\n", p->main_cpu);
	for (uint16_t i = 0; i < p->n_lcores; i++) {
		roles_str(p->lcores[i].roles, roles, sizeof(roles));
		fprintf(stderr, "profile: lcore %u on cpu %u roles %s\n", p->lcores[i].id,
			p->lcores[i].cpu, roles);
	}
	fprintf(stderr, "profile: burst = %u\n", p->burst);
	fprintf(stderr, "profile: rx_descs = %u\n", p->rx_descs);
	fprintf(stderr, "profile: tx_descs = %u\n", p->tx_descs);
	fprintf(stderr, "profile: ring_size = %" PRIu32 "\n", p->ring_size);
	fprintf(stderr, "profile: rx_mbufs = %" PRIu32 "\n", p->rx_mbufs);
	fprintf(stderr, "profile: tx_mbufs = %" PRIu32 "\n", p->tx_mbufs);
	fprintf(stderr, "profile: mbuf_cache = %u\n", p->mbuf_cache);
	fprintf(stderr, "profile: hold_packets = %u\n", p->hold_packets);
	fprintf(stderr, "profile: hold_us = %" PRIu32 "\n", p->hold_us);
	fprintf(stderr, "profile: memory_mb = %" PRIu32 "\n", p->memory_mb);
	fprintf(stderr, "profile: max_subscribers = %" PRIu32 "\n", p->max_subscribers);
	fprintf(stderr, "profile: eal_args = \"%s\"\n", p->eal_args);
}
