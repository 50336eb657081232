/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How feed multicast reaches a live RX port's queue (port_rx.h): the multicast filter,
 * rte_flow steering and isolation, resolved per port at start-up and then kept in step
 * with the routing table's feed lines by the control thread (mcast.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_log.h"
#include "igmp.h"
#include "port_rx.h"

DP_LOG_REGISTER(port_rx);

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
	int ctl_txq;		   /* -1: no IGMP */
	struct rte_ring *ctl_ring; /* control thread -> the RX lcore that owns the TX queue */
	struct rte_flow *igmp_flow;
	struct rte_flow *arp_flow;  /* isolated, with an ip: ARP for it (docs/protocol.md §6.3) */
	struct rte_flow *self_flow; /* isolated, with an ip: unicast to it (recovery answers) */
	uint32_t n_flows;
	struct port_flow_key keys[PORT_MAX_FLOWS];
	struct rte_flow *flows[PORT_MAX_FLOWS];
};

static struct port_live live_ports[RTE_MAX_ETHPORTS];

/* A representative feed rule, to ask a PMD whether it steers such flows at all. */
#define PROBE_GROUP 0xe9360c6fu /* 233.54.12.111 */
#define PROBE_PORT  26477

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

/* An ingress rule sending IPv4 frames that match `spec` under `mask` to queue 0. */
static struct rte_flow *flow_ipv4(uint16_t port_id, const struct rte_flow_item_ipv4 *spec,
				  const struct rte_flow_item_ipv4 *mask, struct rte_flow_error *fe)
{
	const struct rte_flow_attr attr = {.ingress = 1};
	const struct rte_flow_action_queue queue = {.index = 0};
	const struct rte_flow_item pattern[] = {
	    {.type = RTE_FLOW_ITEM_TYPE_ETH},
	    {.type = RTE_FLOW_ITEM_TYPE_IPV4, .spec = spec, .mask = mask},
	    {.type = RTE_FLOW_ITEM_TYPE_END},
	};
	const struct rte_flow_action actions[] = {
	    {.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
	    {.type = RTE_FLOW_ACTION_TYPE_END},
	};

	return rte_flow_create(port_id, &attr, pattern, actions, fe);
}

/* IGMP (IPv4 protocol 2) -> QUEUE 0: queries must reach an isolated port too. */
static struct rte_flow *flow_igmp(uint16_t port_id, struct rte_flow_error *fe)
{
	struct rte_flow_item_ipv4 spec = {0}, mask = {0};

	spec.hdr.next_proto_id = 2;
	mask.hdr.next_proto_id = 0xff;
	return flow_ipv4(port_id, &spec, &mask, fe);
}

/* An isolated port's rule for ARP frames (a request for the port's ip is answered). */
static struct rte_flow *flow_arp(uint16_t port_id, struct rte_flow_error *fe)
{
	const struct rte_flow_attr attr = {.ingress = 1};
	struct rte_flow_item_eth eth_spec = {0}, eth_mask = {0};
	const struct rte_flow_action_queue queue = {.index = 0};

	eth_spec.hdr.ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	eth_mask.hdr.ether_type = 0xffff;
	const struct rte_flow_item pattern[] = {
	    {.type = RTE_FLOW_ITEM_TYPE_ETH, .spec = &eth_spec, .mask = &eth_mask},
	    {.type = RTE_FLOW_ITEM_TYPE_END},
	};
	const struct rte_flow_action actions[] = {
	    {.type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue},
	    {.type = RTE_FLOW_ACTION_TYPE_END},
	};

	return rte_flow_create(port_id, &attr, pattern, actions, fe);
}

/* An isolated port's rule for IPv4 unicast to its own address (recovery answers). */
static struct rte_flow *flow_self(uint16_t port_id, uint32_t ip, struct rte_flow_error *fe)
{
	struct rte_flow_item_ipv4 spec = {0}, mask = {0};

	spec.hdr.dst_addr = rte_cpu_to_be_32(ip);
	mask.hdr.dst_addr = 0xffffffff;
	return flow_ipv4(port_id, &spec, &mask, fe);
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

/* An isolated port gets only what its rules steer: IGMP queries, and with an `ip` ARP
 * and unicast to it (upstream recovery's answers). 0 or -ENOTSUP with `err` filled. */
static int isolated_rules(uint16_t port_id, struct port_live *pl, const struct profile *prof,
			  char *err, size_t errlen)
{
	const struct profile_port *pp = pl->pp;
	struct rte_flow_error fe = {0};

	pl->multicast = PROFILE_MC_AUTO;
	pl->igmp_flow = flow_igmp(port_id, &fe);
	if (pl->igmp_flow == NULL) {
		snprintf(err, errlen, "%s: port %s (%s): isolated, but no IGMP rule: %s",
			 prof->path, pp->name, pl->driver, flow_msg(&fe));
		return -ENOTSUP;
	}
	if (pp->ip != 0 && ((pl->arp_flow = flow_arp(port_id, &fe)) == NULL ||
			    (pl->self_flow = flow_self(port_id, pp->ip, &fe)) == NULL)) {
		snprintf(err, errlen,
			 "%s: port %s (%s): isolated, but no rule for ARP or unicast to its ip: %s",
			 prof->path, pp->name, pl->driver, flow_msg(&fe));
		return -ENOTSUP;
	}
	return 0;
}

/* The RX lcore owns the port's one TX queue (recovery requests, ARP replies); the
 * control thread's IGMP frames reach it through this ring. NULL with rte_errno set. */
static struct rte_ring *ctl_ring_create(uint16_t port_id)
{
	char name[RTE_RING_NAMESIZE];
	int socket = rte_eth_dev_socket_id(port_id);

	snprintf(name, sizeof(name), "aster_ctl%u", port_id);
	return rte_ring_create(name, PORT_CTL_RING, socket < 0 ? SOCKET_ID_ANY : socket,
			       RING_F_SP_ENQ | RING_F_SC_DEQ);
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
		int rc = isolated_rules(port_id, pl, prof, err, errlen);

		if (rc != 0)
			return rc;
	} else {
		pl->multicast = multicast_setup(port_id, prof->multicast, mc_why, sizeof(mc_why));
		if (mc_why[0] != '\0')
			DP_LOG(port_rx, WARNING,
			       "port %s (%s): multicast %s not "
			       "available (%s): using %s\n",
			       pp->name, pl->driver, profile_multicast_name(prof->multicast),
			       mc_why,
			       pl->multicast == PROFILE_MC_AUTO
				   ? "the PMD's default filter"
				   : profile_multicast_name(pl->multicast));
	}
	pl->ctl_ring = ctl_ring_create(port_id);
	if (pl->ctl_ring == NULL) {
		snprintf(err, errlen, "%s: port %s: control ring: %s", prof->path, pp->name,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	if (pl->ctl_txq >= 0)
		snprintf(igmp, sizeof(igmp), "%s from %u.%u.%u.%u via its RX lcore's TX queue",
			 profile_igmp_name(prof->igmp), pp->ip >> 24, (pp->ip >> 16) & 0xff,
			 (pp->ip >> 8) & 0xff, pp->ip & 0xff);
	else
		snprintf(igmp, sizeof(igmp), "off");
	/* The port's effective settings, once: what "auto" became, and why. */
	DP_LOG(port_rx, NOTICE,
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
		DP_LOG(port_rx, WARNING,
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
		DP_LOG(port_rx, WARNING,
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
			DP_LOG(port_rx, WARNING,
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

int port_rx_ctl_send(uint16_t port_id, struct rte_mbuf *m)
{
	struct rte_ring *r = live_ports[port_id].ctl_ring;

	return r != NULL && rte_ring_sp_enqueue(r, m) == 0 ? 0 : -ENOBUFS;
}

struct rte_ring *port_rx_ctl_ring(uint16_t port_id)
{
	return live_ports[port_id].ctl_ring;
}

void port_rx_teardown(uint16_t port_id)
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
	if (pl->arp_flow != NULL)
		rte_flow_destroy(port_id, pl->arp_flow, &fe);
	if (pl->self_flow != NULL)
		rte_flow_destroy(port_id, pl->self_flow, &fe);
	if (pl->ctl_ring != NULL) {
		void *m;

		while (rte_ring_sc_dequeue(pl->ctl_ring, &m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(pl->ctl_ring);
	}
	memset(pl, 0, sizeof(*pl));
}
