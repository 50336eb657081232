/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Mempools and ethdev ports (port.h): the virtual devices of a replay, the live ports of
 * a profile (with one line saying why one cannot be opened: a missing interface, a PCI
 * device without the right driver), queue setup with the profile's offloads, start and
 * close. How a live RX port filters and steers the feeds is port_rx.c.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "dp_log.h"
#include "port.h"
#include "port_rx.h"

DP_LOG_REGISTER(port);

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

void port_close(uint16_t port_id)
{
	port_rx_teardown(port_id);
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}

/*
 * Virtual devices over Linux interfaces (af_packet, af_xdp, pcap) need the interface to
 * exist; the PMDs report a missing one as "Operation not permitted". net_tap creates
 * its own.
 */
static int check_iface(const struct profile_port *pp, const struct profile *prof, char *err,
		       size_t errlen)
{
	static const char *const keys[] = {",iface=", ",rx_iface=", ",tx_iface="};

	if (strncmp(pp->dev, "net_af_packet", 13) != 0 && strncmp(pp->dev, "net_af_xdp", 10) != 0 &&
	    strncmp(pp->dev, "net_pcap", 8) != 0)
		return 0;
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
		if (if_nametoindex(ifname) == 0) {
			snprintf(err, errlen,
				 "%s: port %s: interface %s does not exist in this network "
				 "namespace (ip link; rename it in the profile's dev)",
				 prof->path, pp->name, ifname);
			return -ENODEV;
		}
	}
	return 0;
}

/* What arrives at an output port (requests, ARP, whatever else the subscribers' network
 * carries) waits in mbufs of its own pool, never the feeds'. */
#define PORT_REQ_MBUFS 1024
#define PORT_REQ_DESCS 256

static struct rte_mempool *request_pool(uint16_t port_id, char *err, size_t errlen)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	int socket = rte_eth_dev_socket_id(port_id);
	struct rte_mempool *mp;

	snprintf(name, sizeof(name), "aster_req%u", port_id);
	mp = rte_mempool_lookup(name);
	if (mp == NULL)
		mp = rte_pktmbuf_pool_create(name, PORT_REQ_MBUFS, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					     socket < 0 ? SOCKET_ID_ANY : socket);
	if (mp == NULL)
		snprintf(err, errlen, "port %u: request mempool: %s", port_id,
			 rte_strerror(rte_errno));
	return mp;
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

int port_open_live(const struct profile_port *pp, bool rx, const struct profile *prof,
		   struct rte_mempool *pool, uint16_t *port_id, char *err, size_t errlen)
{
	char serr[512], name[sizeof(pp->dev)], *args;
	int rc;

	if (strncmp(pp->dev, "net_", 4) == 0) {
		rc = check_iface(pp, prof, err, errlen);
		if (rc != 0)
			return rc;
		snprintf(name, sizeof(name), "%s", pp->dev);
		args = strchr(name, ',');
		if (args != NULL)
			*args = '\0';
		args = strchr(pp->dev, ',');
		rc = rte_vdev_init(name, args ? args + 1 : "");
		if (rc != 0) {
			snprintf(err, errlen, "%s: port %s (%s): cannot create: %s", prof->path,
				 pp->name, pp->dev, rte_strerror(-rc));
			return rc;
		}
	} else {
		snprintf(name, sizeof(name), "%s", pp->dev);
	}
	if (rte_eth_dev_get_port_by_name(name, port_id) != 0) {
		snprintf(err, errlen, "%s: port %s (%s): no such ethdev: %s", prof->path, pp->name,
			 pp->dev, pci_hint(pp->dev));
		return -ENODEV;
	}
	/*
	 * An RX port has one TX queue too, which its RX lcore owns: recovery requests, ARP
	 * replies and the control thread's IGMP (port_rx.h). An output port has one RX
	 * queue, which its TX lcore polls: retransmission requests and ARP (docs/protocol.md
	 * §6.2), on a small pool of its own.
	 */
	if (!rx) {
		static struct profile out; /* main lcore only */

		pool = request_pool(*port_id, err, errlen);
		if (pool == NULL)
			return -ENOMEM;
		out = *prof;
		out.rx_descs = PORT_REQ_DESCS;
		prof = &out;
	}
	rc = port_start(*port_id, 1, 1, prof, pool, serr, sizeof(serr));
	if (rc != 0) {
		snprintf(err, errlen, "%s: port %s: %s", prof->path, pp->name, serr);
		return rc;
	}
	/* Multicast filter, rte_flow steering, isolation: resolved and logged per port;
	 * the feed lines' filters, rules and IGMP joins follow the table (mcast.c). */
	return rx ? port_rx_setup(*port_id, pp, prof, err, errlen) : 0;
}
