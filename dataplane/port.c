/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_log.h"
#include "igmp.h"
#include "port.h"

DP_LOG_REGISTER(port);

/*
 * What port.c knows about each live RX port: its profile entry, what "auto" resolved
 * to, and its rte_flow rules. Written at start-up by the main lcore (port_rx_setup),
 * then only by the control thread (port_rx_lines_set), and read by it.
 */
struct port_live {
	const struct profile_port *pp;
	const char *driver;
	enum profile_multicast multicast; /* resolved, never AUTO */
	enum profile_steering steering;	  /* resolved, never AUTO */
	bool isolated;
	int ctl_txq; /* -1: no IGMP */
	struct rte_flow *igmp_flow;
	uint32_t n_flows;
	struct port_flow_key keys[PORT_MAX_FLOWS];
	struct rte_flow *flows[PORT_MAX_FLOWS];
};

static struct port_live live_ports[RTE_MAX_ETHPORTS];

/* A representative feed rule, to ask a PMD whether it steers such flows at all. */
#define PROBE_GROUP 0xe9360c6fu /* 233.54.12.111 */
#define PROBE_PORT  26477

int port_pools_create(struct port_pools *pp, const struct profile *prof, uint32_t tx_frame_max,
		      char *err, size_t errlen)
{
	uint32_t tx_room = RTE_PKTMBUF_HEADROOM + tx_frame_max;
	int socket = (int)rte_socket_id();

	memset(pp, 0, sizeof(*pp));
	pp->rx = rte_pktmbuf_pool_create("aster_rx", prof->rx_mbufs, prof->mbuf_cache, 0,
					 RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (pp->rx == NULL)
		goto fail;
	pp->tx = rte_pktmbuf_pool_create("aster_tx", prof->tx_mbufs, prof->mbuf_cache, 0,
					 (uint16_t)tx_room, socket);
	if (pp->tx == NULL)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen,
		 "%s: mempool of %u rx + %u tx mbufs: %s (raise memory_mb or reserve hugepages)",
		 prof->path, prof->rx_mbufs, prof->tx_mbufs, rte_strerror(rte_errno));
	port_pools_free(pp);
	return -ENOMEM;
}

void port_pools_free(struct port_pools *pp)
{
	rte_mempool_free(pp->rx);
	rte_mempool_free(pp->tx);
	pp->rx = pp->tx = NULL;
}

/* net_pcap devargs are comma separated: a path with a comma cannot be passed. */
static int vdev_create(const char *name, const char *args, uint16_t *port_id, char *err,
		       size_t errlen)
{
	int rc = rte_vdev_init(name, args);

	if (rc != 0) {
		snprintf(err, errlen, "%s (%s): cannot create: %s", name, args, rte_strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_get_port_by_name(name, port_id);
	if (rc != 0) {
		snprintf(err, errlen, "%s: no ethdev port: %s", name, rte_strerror(-rc));
		return rc;
	}
	return 0;
}

static int check_path(const char *path, char *err, size_t errlen)
{
	if (strchr(path, ',') != NULL) {
		snprintf(err, errlen, "%s: a comma in a pcap path cannot be passed to net_pcap",
			 path);
		return -EINVAL;
	}
	return 0;
}

int port_create_rx_pcap(unsigned int idx, const char *pcap, uint16_t *port_id, char *err,
			size_t errlen)
{
	char name[64], args[4200];
	int rc = check_path(pcap, err, errlen);

	if (rc != 0)
		return rc;
	snprintf(name, sizeof(name), "net_pcap_in%u", idx);
	snprintf(args, sizeof(args), "rx_pcap=%s", pcap);
	return vdev_create(name, args, port_id, err, errlen);
}

int port_create_tx(unsigned int idx, const char *driver, const char *pcap, uint16_t *port_id,
		   char *err, size_t errlen)
{
	char name[64], args[4200];

	if (strcmp(driver, "net_null") == 0) {
		snprintf(name, sizeof(name), "net_null_out%u", idx);
		snprintf(args, sizeof(args), "no-rx=1");
	} else {
		int rc = check_path(pcap, err, errlen);

		if (rc != 0)
			return rc;
		snprintf(name, sizeof(name), "net_pcap_out%u", idx);
		snprintf(args, sizeof(args), "tx_pcap=%s", pcap);
	}
	return vdev_create(name, args, port_id, err, errlen);
}

/* profile offload bit -> ethdev offload, name */
static const struct {
	uint32_t bit;
	uint64_t eth;
	const char *name;
} rx_offloads[] =
    {
	{PROFILE_RX_OFFLOAD_IPV4_CKSUM, RTE_ETH_RX_OFFLOAD_IPV4_CKSUM, "ipv4_cksum"},
	{PROFILE_RX_OFFLOAD_UDP_CKSUM, RTE_ETH_RX_OFFLOAD_UDP_CKSUM, "udp_cksum"},
},
  tx_offloads[] = {
      {PROFILE_TX_OFFLOAD_FAST_FREE, RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE, "mbuf_fast_free"},
};

/* The profile's offloads this PMD has; the others are logged and left off. */
static uint64_t offloads(uint16_t port_id, const char *driver, const char *dir, uint32_t want,
			 uint64_t capa, bool rx)
{
	size_t n = rx ? RTE_DIM(rx_offloads) : RTE_DIM(tx_offloads);
	uint64_t on = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t bit = rx ? rx_offloads[i].bit : tx_offloads[i].bit;
		uint64_t eth = rx ? rx_offloads[i].eth : tx_offloads[i].eth;
		const char *name = rx ? rx_offloads[i].name : tx_offloads[i].name;

		if (!(want & bit))
			continue;
		if (capa & eth)
			on |= eth;
		else
			DP_LOG(port, NOTICE,
			       "port %u (%s): %s offload %s not supported: "
			       "left off\n",
			       port_id, driver, dir, name);
	}
	return on;
}

int port_start(uint16_t port_id, uint16_t n_rxq, uint16_t n_txq, const struct profile *prof,
	       struct rte_mempool *rx_pool, char *err, size_t errlen)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info = {0};
	uint16_t rxd = prof->rx_descs, txd = prof->tx_descs;
	int socket = rte_eth_dev_socket_id(port_id);
	int rc;

	memset(&conf, 0, sizeof(conf));
	if (socket < 0)
		socket = (int)rte_socket_id();
	rc = rte_eth_dev_info_get(port_id, &info);
	if (rc != 0)
		goto fail;
	if (n_rxq > 0)
		conf.rxmode.offloads = offloads(port_id, info.driver_name, "rx", prof->rx_offloads,
						info.rx_offload_capa, true);
	if (n_txq > 0)
		conf.txmode.offloads = offloads(port_id, info.driver_name, "tx", prof->tx_offloads,
						info.tx_offload_capa, false);
	/* Isolated mode is chosen before the port is configured (rte_flow.h). */
	if (n_rxq > 0 && prof->isolate) {
		struct rte_flow_error fe = {0};

		if (rte_flow_isolate(port_id, 1, &fe) != 0) {
			snprintf(err, errlen, "port %u (%s): isolate: %s", port_id,
				 info.driver_name ? info.driver_name : "?",
				 fe.message ? fe.message : rte_strerror(rte_errno));
			return -ENOTSUP;
		}
	}
	/* net_tap configures RX and TX queues in pairs: a TX-only port gets an RX queue
	 * that nobody polls, on a small pool of its own (what arrives there is the kernel's
	 * business, counted by the PMD as missed). */
	if (n_rxq == 0 && info.driver_name != NULL && strcmp(info.driver_name, "net_tap") == 0) {
		char pname[RTE_MEMPOOL_NAMESIZE];

		snprintf(pname, sizeof(pname), "aster_tap%u", port_id);
		rx_pool = rte_mempool_lookup(pname);
		if (rx_pool == NULL)
			rx_pool = rte_pktmbuf_pool_create(pname, 1024, 0, 0,
							  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
		if (rx_pool == NULL) {
			rc = -rte_errno;
			goto fail;
		}
		n_rxq = 1;
		rxd = 512;
	}
	rc = rte_eth_dev_configure(port_id, n_rxq, n_txq, &conf);
	if (rc != 0)
		goto fail;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id, &rxd, &txd);
	if (rc != 0)
		goto fail;
	for (uint16_t q = 0; q < n_rxq; q++) {
		rc = rte_eth_rx_queue_setup(port_id, q, rxd, (unsigned int)socket, NULL, rx_pool);
		if (rc != 0)
			goto fail;
	}
	for (uint16_t q = 0; q < n_txq; q++) {
		rc = rte_eth_tx_queue_setup(port_id, q, txd, (unsigned int)socket, NULL);
		if (rc != 0)
			goto fail;
	}
	rc = rte_eth_dev_start(port_id);
	if (rc != 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "port %u (%s): setup failed: %s", port_id,
		 info.driver_name ? info.driver_name : "?", rte_strerror(-rc));
	return rc;
}

static void rx_teardown(uint16_t port_id);

void port_close(uint16_t port_id)
{
	rx_teardown(port_id);
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}

static const char *flow_msg(const struct rte_flow_error *fe)
{
	return fe->message ? fe->message : rte_strerror(rte_errno);
}

/* ETH / IPV4 dst == group / UDP dst == port -> QUEUE 0: the queue the RX lcore polls. */
static int flow_line(uint16_t port_id, const struct port_flow_key *k, bool create,
		     struct rte_flow **flow, struct rte_flow_error *fe)
{
	const struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_ipv4 ip_spec = {0}, ip_mask = {0};
	struct rte_flow_item_udp udp_spec = {0}, udp_mask = {0};
	const struct rte_flow_action_queue queue = {.index = 0};

	ip_spec.hdr.dst_addr = rte_cpu_to_be_32(k->group);
	ip_mask.hdr.dst_addr = RTE_BE32(0xffffffff);
	udp_spec.hdr.dst_port = rte_cpu_to_be_16(k->udp_port);
	udp_mask.hdr.dst_port = RTE_BE16(0xffff);
	const struct rte_flow_item pattern[] = {
	    {.type = RTE_FLOW_ITEM_TYPE_ETH},
	    {.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
	    {.type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &udp_spec, .mask = &udp_mask},
	    {.type = RTE_FLOW_ITEM_TYPE_END},
	};
	const struct rte_flow_action actions[] = {
	    {.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
	    {.type = RTE_FLOW_ACTION_TYPE_END},
	};

	if (!create)
		return rte_flow_validate(port_id, &attr, pattern, actions, fe);
	*flow = rte_flow_create(port_id, &attr, pattern, actions, fe);
	return *flow != NULL ? 0 : -rte_errno;
}

/* IGMP (IPv4 protocol 2) -> QUEUE 0: queries must reach an isolated port too. */
static struct rte_flow *flow_igmp(uint16_t port_id, struct rte_flow_error *fe)
{
	const struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_ipv4 ip_spec = {0}, ip_mask = {0};
	const struct rte_flow_action_queue queue = {.index = 0};

	ip_spec.hdr.next_proto_id = 2;
	ip_mask.hdr.next_proto_id = 0xff;
	const struct rte_flow_item pattern[] = {
	    {.type = RTE_FLOW_ITEM_TYPE_ETH},
	    {.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = &ip_spec, .mask = &ip_mask},
	    {.type = RTE_FLOW_ITEM_TYPE_END},
	};
	const struct rte_flow_action actions[] = {
	    {.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
	    {.type = RTE_FLOW_ACTION_TYPE_END},
	};

	return rte_flow_create(port_id, &attr, pattern, actions, fe);
}

/* Multicast acceptance, falling back mc_addr_list -> allmulti -> promisc. `why` says
 * what auto or a refusal resolved to. */
static enum profile_multicast multicast_setup(uint16_t port_id, enum profile_multicast want,
					      char *why, size_t whylen)
{
	int rc;

	why[0] = '\0';
	if (want == PROFILE_MC_AUTO || want == PROFILE_MC_LIST) {
		/* An empty list: asks the PMD whether it filters by list at all. */
		rc = rte_eth_dev_set_mc_addr_list(port_id, NULL, 0);
		if (rc == 0)
			return PROFILE_MC_LIST;
		snprintf(why, whylen, "mc_addr_list: %s", rte_strerror(-rc));
		want = PROFILE_MC_ALLMULTI;
	}
	if (want == PROFILE_MC_ALLMULTI) {
		rc = rte_eth_allmulticast_enable(port_id);
		if (rc == 0)
			return PROFILE_MC_ALLMULTI;
		snprintf(why + strlen(why), whylen - strlen(why), "%sallmulticast: %s",
			 why[0] ? ", " : "", rte_strerror(-rc));
	}
	rc = rte_eth_promiscuous_enable(port_id);
	if (rc == 0)
		return PROFILE_MC_PROMISC;
	snprintf(why + strlen(why), whylen - strlen(why), "%spromiscuous: %s", why[0] ? ", " : "",
		 rte_strerror(-rc));
	return PROFILE_MC_AUTO; /* nothing could be set: the PMD's default applies */
}

int port_rx_setup(uint16_t port_id, const struct profile_port *pp, const struct profile *prof,
		  char *err, size_t errlen)
{
	struct port_live *pl = &live_ports[port_id];
	struct rte_eth_dev_info info = {0};
	struct rte_flow_error fe = {0};
	char mc_why[256] = "", st_why[256] = "", igmp[96];

	rte_eth_dev_info_get(port_id, &info);
	memset(pl, 0, sizeof(*pl));
	pl->pp = pp;
	pl->driver = info.driver_name ? info.driver_name : "?";
	pl->isolated = prof->isolate;
	pl->ctl_txq = prof->igmp != PROFILE_IGMP_OFF ? 0 : -1;

	pl->steering = PROFILE_STEER_NONE;
	if (prof->steering != PROFILE_STEER_NONE) {
		const struct port_flow_key probe = {PROBE_GROUP, PROBE_PORT};

		struct rte_flow *f = NULL;

		/* Validation alone can pass where creation fails (net_tap without TC flower):
		 * create the probe rule and remove it again. */
		if (flow_line(port_id, &probe, false, NULL, &fe) == 0 &&
		    flow_line(port_id, &probe, true, &f, &fe) == 0) {
			rte_flow_destroy(port_id, f, &fe);
			pl->steering = PROFILE_STEER_RTE_FLOW;
		} else if (prof->steering == PROFILE_STEER_RTE_FLOW) {
			snprintf(err, errlen,
				 "%s: port %s (%s): steering rte_flow: the PMD refuses a feed "
				 "rule: %s (use steering auto or none)",
				 prof->path, pp->name, pl->driver, flow_msg(&fe));
			return -ENOTSUP;
		} else {
			snprintf(st_why, sizeof(st_why), " (auto: rte_flow refused: %s)",
				 flow_msg(&fe));
		}
	}
	if (pl->isolated) {
		/* Only steered frames reach an isolated port: IGMP queries need a rule. */
		pl->multicast = PROFILE_MC_AUTO;
		pl->igmp_flow = flow_igmp(port_id, &fe);
		if (pl->igmp_flow == NULL) {
			snprintf(err, errlen, "%s: port %s (%s): isolated, but no IGMP rule: %s",
				 prof->path, pp->name, pl->driver, flow_msg(&fe));
			return -ENOTSUP;
		}
	} else {
		pl->multicast = multicast_setup(port_id, prof->multicast, mc_why, sizeof(mc_why));
		if (mc_why[0] != '\0')
			DP_LOG(port, WARNING,
			       "port %s (%s): multicast %s not "
			       "available (%s): using %s\n",
			       pp->name, pl->driver, profile_multicast_name(prof->multicast),
			       mc_why,
			       pl->multicast == PROFILE_MC_AUTO
				   ? "the PMD's default filter"
				   : profile_multicast_name(pl->multicast));
	}
	if (pl->ctl_txq >= 0)
		snprintf(igmp, sizeof(igmp), "%s from %u.%u.%u.%u on TX queue %d",
			 profile_igmp_name(prof->igmp), pp->ip >> 24, (pp->ip >> 16) & 0xff,
			 (pp->ip >> 8) & 0xff, pp->ip & 0xff, pl->ctl_txq);
	else
		snprintf(igmp, sizeof(igmp), "off");
	/* The port's effective settings, once: what "auto" became, and why. */
	DP_LOG(port, NOTICE,
	       "port %s (%s, port %u): rx queue 0, multicast = %s%s, steering "
	       "= %s%s, isolate = %s, igmp = %s\n",
	       pp->name, pl->driver, port_id,
	       pl->isolated			  ? "rte_flow rules (isolated)"
	       : pl->multicast == PROFILE_MC_AUTO ? "PMD default"
						  : profile_multicast_name(pl->multicast),
	       prof->multicast == PROFILE_MC_AUTO && !pl->isolated ? " (auto)" : "",
	       profile_steering_name(pl->steering), st_why, pl->isolated ? "on" : "off", igmp);
	return 0;
}

static bool key_in(const struct port_flow_key *keys, uint32_t n, const struct port_flow_key *k)
{
	for (uint32_t i = 0; i < n; i++)
		if (keys[i].group == k->group && keys[i].udp_port == k->udp_port)
			return true;
	return false;
}

static void mc_list_set(struct port_live *pl, uint16_t port_id, const struct port_flow_key *keys,
			uint32_t n)
{
	struct rte_ether_addr macs[PORT_MAX_FLOWS];
	uint32_t n_macs = 0;
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		struct rte_ether_addr m;
		bool dup = false;

		igmp_group_mac(keys[i].group, m.addr_bytes);
		for (uint32_t j = 0; j < n_macs && !dup; j++)
			dup = rte_is_same_ether_addr(&macs[j], &m);
		if (!dup)
			macs[n_macs++] = m;
	}
	rc = rte_eth_dev_set_mc_addr_list(port_id, macs, n_macs);
	if (rc != 0) {
		/* e.g. more groups than the filter holds: accept every multicast frame */
		DP_LOG(port, WARNING,
		       "port %s (%s): multicast list of %u MACs "
		       "refused: %s: falling back to allmulticast\n",
		       pl->pp->name, pl->driver, n_macs, rte_strerror(-rc));
		if (rte_eth_allmulticast_enable(port_id) == 0)
			pl->multicast = PROFILE_MC_ALLMULTI;
	}
}

uint32_t port_rx_lines_set(uint16_t port_id, const struct port_flow_key *keys, uint32_t n)
{
	struct port_live *pl = &live_ports[port_id];
	struct rte_flow_error fe;
	uint32_t steered = 0;

	if (pl->pp == NULL)
		return 0;
	if (n > PORT_MAX_FLOWS) {
		DP_LOG(port, WARNING,
		       "port %s: %u feed lines, only the first %u "
		       "are filtered and steered\n",
		       pl->pp->name, n, PORT_MAX_FLOWS);
		n = PORT_MAX_FLOWS;
	}
	if (pl->multicast == PROFILE_MC_LIST)
		mc_list_set(pl, port_id, keys, n);
	if (pl->steering != PROFILE_STEER_RTE_FLOW)
		return 0;
	struct port_flow_key nk[PORT_MAX_FLOWS];
	struct rte_flow *nf[PORT_MAX_FLOWS];
	uint32_t nn = 0;

	/* Keep the rules of lines still there, create the new ones... */
	for (uint32_t i = 0; i < n; i++) {
		struct rte_flow *f = NULL;

		if (key_in(nk, nn, &keys[i]))
			continue;
		for (uint32_t j = 0; j < pl->n_flows && f == NULL; j++)
			if (pl->keys[j].group == keys[i].group &&
			    pl->keys[j].udp_port == keys[i].udp_port)
				f = pl->flows[j];
		memset(&fe, 0, sizeof(fe));
		if (f == NULL && flow_line(port_id, &keys[i], true, &f, &fe) != 0) {
			DP_LOG(port, WARNING,
			       "port %s (%s): no rte_flow rule for "
			       "%u.%u.%u.%u:%u: %s%s\n",
			       pl->pp->name, pl->driver, keys[i].group >> 24,
			       (keys[i].group >> 16) & 0xff, (keys[i].group >> 8) & 0xff,
			       keys[i].group & 0xff, keys[i].udp_port, flow_msg(&fe),
			       pl->isolated ? " - isolated: this line does NOT reach the dataplane"
					    : " - the line uses the default queue");
			f = NULL;
		}
		nk[nn] = keys[i];
		nf[nn++] = f;
		steered += f != NULL;
	}
	/* ...then destroy the rules of lines that left. */
	for (uint32_t j = 0; j < pl->n_flows; j++)
		if (pl->flows[j] != NULL && !key_in(nk, nn, &pl->keys[j]))
			rte_flow_destroy(port_id, pl->flows[j], &fe);
	memcpy(pl->keys, nk, sizeof(nk[0]) * nn);
	memcpy(pl->flows, nf, sizeof(nf[0]) * nn);
	pl->n_flows = nn;
	return steered;
}

int port_rx_ctl_txq(uint16_t port_id)
{
	return live_ports[port_id].pp != NULL ? live_ports[port_id].ctl_txq : -1;
}

const struct profile_port *port_rx_profile(uint16_t port_id)
{
	return live_ports[port_id].pp;
}

static void rx_teardown(uint16_t port_id)
{
	struct port_live *pl = &live_ports[port_id];
	struct rte_flow_error fe;

	if (pl->pp == NULL)
		return;
	for (uint32_t j = 0; j < pl->n_flows; j++)
		if (pl->flows[j] != NULL)
			rte_flow_destroy(port_id, pl->flows[j], &fe);
	if (pl->igmp_flow != NULL)
		rte_flow_destroy(port_id, pl->igmp_flow, &fe);
	memset(pl, 0, sizeof(*pl));
}
