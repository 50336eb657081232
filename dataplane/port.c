/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "port.h"

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
	rte_eth_dev_stop(port_id);
	rte_eth_dev_close(port_id);
}
