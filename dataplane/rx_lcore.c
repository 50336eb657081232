/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An RX lcore's state off the polling path (rx.h): its creation and release on the main
 * lcore, the feed and subscriber runtimes the table thread places in its slots, and the
 * readers of its counters. The per-packet path is rx.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "latency.h"
#include "rx.h"

static void *zalloc(size_t n, unsigned int socket)
{
	return rte_zmalloc_socket(NULL, n, RTE_CACHE_LINE_SIZE, (int)socket);
}

/* Per subscriber slot and per TX lcore arrays, on the lcore's socket. */
static int arrays_create(struct rx_lcore *lc, unsigned int socket)
{
	uint32_t n = lc->max_subs;

	lc->st = stats_block_create(n);
	lc->pubs = zalloc(sizeof(*lc->pubs) * n, socket);
	lc->sub_tx = zalloc(sizeof(*lc->sub_tx) * n, socket);
	lc->sub_port = zalloc(sizeof(*lc->sub_port) * n, socket);
	lc->dirty = zalloc(n, socket);
	lc->dirty_list = zalloc(sizeof(*lc->dirty_list) * n, socket);
	lc->stage = zalloc(sizeof(*lc->stage) * lc->n_tx, socket);
	lc->hb_tsc = zalloc(sizeof(*lc->hb_tsc) * n, socket);
	lc->hist = zalloc(sizeof(*lc->hist) * n, socket);
	if (!lc->st || !lc->pubs || !lc->sub_tx || !lc->sub_port || !lc->dirty || !lc->dirty_list ||
	    !lc->stage || !lc->hb_tsc || !lc->hist)
		return -ENOMEM;
	return 0;
}

struct rx_lcore *rx_create(const struct rx_params *p)
{
	unsigned int socket = rte_lcore_to_socket_id(p->lcore_id);
	struct rx_lcore *lc = zalloc(sizeof(*lc), socket);

	if (lc == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	lc->lcore_id = p->lcore_id;
	lc->index = p->index;
	lc->prof = p->prof;
	lc->router_slot = p->router_slot;
	lc->qsbr = p->qsbr;
	lc->tx_pool = p->tx_pool;
	lc->full = p->full;
	lc->hold_tsc = p->hold_tsc;
	lc->max_subs = p->max_subs ? p->max_subs : 1;
	lc->n_tx = p->n_tx;
	lc->pub_ops = rx_publisher_ops;
	lc->lat_off = latency_dynfield_register(); /* -1: frames go unstamped */
	lc->timer_tsc = rte_get_tsc_hz() / RX_TIMER_HZ;
	if (arrays_create(lc, socket) != 0) {
		rx_free(lc);
		errno = ENOMEM;
		return NULL;
	}
	for (uint16_t t = 0; t < lc->n_tx; t++)
		lc->stage[t].ring = p->rings[t];
	return lc;
}

void rx_free(struct rx_lcore *lc)
{
	if (lc == NULL)
		return;
	for (uint32_t i = 0; i < ROUTER_MAX_FEED_SLOTS; i++)
		rx_feed_free(lc->feed_by_slot[i]);
	rte_pktmbuf_free_bulk(lc->spare, lc->n_spare);
	stats_block_free(lc->st);
	rte_free(lc->pubs);
	rte_free(lc->sub_tx);
	rte_free(lc->sub_port);
	rte_free(lc->dirty);
	rte_free(lc->dirty_list);
	rte_free(lc->stage);
	rte_free(lc->hb_tsc);
	rte_free(lc->hist); /* the histories themselves are the table's */
	rte_free(lc);
}

int rx_add_port(struct rx_lcore *lc, uint16_t port_id, uint32_t ip)
{
	struct rte_ether_addr mac;

	if (lc->n_ports == RX_MAX_PORTS)
		return -ENOSPC;
	if (rte_eth_macaddr_get(port_id, &mac) != 0)
		memset(&mac, 0, sizeof(mac));
	memcpy(lc->port_mac[lc->n_ports], mac.addr_bytes, 6);
	lc->port_ip[lc->n_ports] = ip;
	lc->ports[lc->n_ports++] = port_id;
	return 0;
}

bool rx_polls_port(const struct rx_lcore *lc, uint16_t port_id)
{
	for (uint16_t i = 0; i < lc->n_ports; i++)
		if (lc->ports[i] == port_id)
			return true;
	return false;
}

void rx_share_lcore(struct rx_lcore *lc, struct tx_lcore *tx)
{
	lc->local_tx = tx;
}

unsigned int rx_lcore_id(const struct rx_lcore *lc)
{
	return lc->lcore_id;
}

uint32_t rx_index(const struct rx_lcore *lc)
{
	return lc->index;
}

const struct stats_block *rx_counters(const struct rx_lcore *lc)
{
	return lc->st;
}

const uint16_t *rx_ports(const struct rx_lcore *lc, uint16_t *n)
{
	*n = lc->n_ports;
	return lc->ports;
}

/* A feed's state comes and goes with tables: on the lcore's socket, or, in a sanitizer
 * build, on the C heap, where AddressSanitizer sees a use after it was freed. */
#ifdef __SANITIZE_ADDRESS__
static void *feed_zalloc(size_t n, unsigned int socket)
{
	void *p = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(n, RTE_CACHE_LINE_SIZE));

	(void)socket;
	if (p != NULL)
		memset(p, 0, n);
	return p;
}
#define feed_free free
#else
#define feed_zalloc zalloc
#define feed_free   rte_free
#endif

struct rx_feed *rx_feed_create(struct rx_lcore *lc, uint32_t slot, uint8_t n_lines)
{
	struct rx_feed *fd = feed_zalloc(sizeof(*fd), rte_lcore_to_socket_id(lc->lcore_id));

	if (fd == NULL || (fd->locates = router_locates_create(lc->max_subs)) == NULL) {
		feed_free(fd);
		errno = ENOMEM;
		return NULL;
	}
	fd->slot = slot;
	fd->lc = lc;
	arbiter_init(&fd->arb, n_lines, lc->prof->hold_packets, lc->hold_tsc, &rx_arbiter_ops, fd);
	return fd;
}

void rx_feed_attach(struct rx_lcore *lc, struct rx_feed *fd)
{
	lc->feed_by_slot[fd->slot] = fd;
}

struct rx_feed *rx_feed_detach(struct rx_lcore *lc, uint32_t slot)
{
	struct rx_feed *fd = lc->feed_by_slot[slot];

	lc->feed_by_slot[slot] = NULL;
	return fd;
}

uint64_t rx_feed_free(struct rx_feed *fd)
{
	uint64_t msgs;

	if (fd == NULL)
		return 0;
	msgs = arbiter_discard(&fd->arb); /* held packets go back undelivered */
	router_locates_free(fd->locates);
	rte_free(fd->rec);
	feed_free(fd);
	return msgs;
}

struct rx_feed *rx_feed_of(struct rx_lcore *lc, uint32_t slot)
{
	return lc->feed_by_slot[slot];
}

int rx_feed_recovery_alloc(struct rx_feed *fd)
{
	struct rx_recovery *rr;

	if (fd->rec != NULL)
		return 0;
	rr = zalloc(sizeof(*rr), rte_lcore_to_socket_id(fd->lc->lcore_id));
	if (rr == NULL)
		return -ENOMEM;
	/* the RX lcore looks at it only when attached, or at its settings' generation */
	__atomic_store_n(&fd->rec, rr, __ATOMIC_RELEASE);
	return 0;
}

void rx_feed_recovery(struct rx_feed *fd, const struct rx_recovery_cfg *cfg, bool reachable)
{
	struct rx_recovery *rr = fd->rec;
	uint32_t next;

	if (rr == NULL)
		return; /* never had recovery, and has none now (or had no memory for it) */
	next = 1 - __atomic_load_n(&rr->active, __ATOMIC_RELAXED);
	rr->cfg[next] = *cfg;
	rr->cfg[next].gen = rr->cfg[1 - next].gen + 1;
	if (!reachable && cfg->enabled) {
		/* a new feed: in recovery mode before its first packet */
		recovery_init(&rr->rec, &cfg->rc, rte_get_tsc_hz());
		recovery_attach(&rr->rec, &fd->arb);
		rr->applied = rr->cfg[next].gen;
	}
	__atomic_store_n(&rr->active, next, __ATOMIC_RELEASE);
}

void rx_feed_recovering(const struct rx_feed *fd, uint32_t *ranges, uint32_t *held)
{
	*ranges = 0;
	*held = 0;
	if (fd == NULL)
		return;
	*held = __atomic_load_n(&fd->arb.n_held, __ATOMIC_RELAXED);
	if (fd->rec != NULL && __atomic_load_n(&fd->arb.rec, __ATOMIC_RELAXED) != NULL)
		*ranges = __atomic_load_n(&fd->rec->rec.n, __ATOMIC_RELAXED);
}

void rx_end_session(struct rx_lcore *lc)
{
	__atomic_store_n(&lc->ending, 1, __ATOMIC_RELEASE);
}

const struct rx_feed *rx_feed_at(const struct rx_lcore *lc, uint32_t slot)
{
	return lc->feed_by_slot[slot];
}

void rx_feed_counters(const struct rx_feed *fd, struct counter_feed *c)
{
	memset(c, 0, sizeof(*c));
	if (fd == NULL)
		return;
#define X(n, help) c->n = counter_read(&fd->n);
	COUNTER_FEED_RX(X)
#undef X
#define X(n, help) c->n = counter_read(&fd->arb.c.n);
	COUNTER_ARBITER(X)
#undef X
	if (fd->rec != NULL) {
#define X(n, help) c->n = counter_read(&fd->rec->rec.c.n);
		COUNTER_RECOVERY(X)
#undef X
	}
}

uint64_t rx_feed_line_packets(const struct rx_feed *fd, uint8_t line)
{
	return fd != NULL && line < ARBITER_MAX_LINES ? counter_read(&fd->line_packets[line]) : 0;
}

void rx_feed_line_counters(const struct rx_feed *fd, uint8_t line, struct counter_line *c)
{
	memset(c, 0, sizeof(*c));
	if (fd == NULL || line >= ARBITER_MAX_LINES)
		return;
	c->packets = counter_read(&fd->line_packets[line]);
#define X(n, help) c->n = counter_read(&fd->arb.line_c[line].n);
	COUNTER_LINE_ARBITER(X)
#undef X
}

uint32_t rx_feed_log(const struct rx_feed *fd, struct rx_feed_log *out, uint32_t max)
{
	uint64_t n = fd != NULL ? __atomic_load_n(&fd->n_log, __ATOMIC_ACQUIRE) : 0;
	uint64_t first = n > max ? n - max : 0;
	uint32_t k = 0;

	if (first + RX_FEED_LOG < n)
		first = n - RX_FEED_LOG;
	for (uint64_t i = first; i < n; i++)
		out[k++] = fd->log[i % RX_FEED_LOG];
	return k;
}

void rx_sub_init(struct rx_lcore *lc, uint32_t slot, const struct publisher_dst *dst,
		 uint16_t tx_index, uint16_t port_id)
{
	publisher_sub_init(&lc->pubs[slot], dst);
	lc->sub_tx[slot] = tx_index;
	lc->sub_port[slot] = port_id;
}

void rx_sub_heartbeat(struct rx_lcore *lc, uint32_t slot, uint32_t heartbeat_ms)
{
	__atomic_store_n(&lc->hb_tsc[slot], rte_get_tsc_hz() / 1000 * heartbeat_ms,
			 __ATOMIC_RELAXED);
}

struct history *rx_sub_history(struct rx_lcore *lc, uint32_t slot, struct history *h)
{
	return __atomic_exchange_n(&lc->hist[slot], h, __ATOMIC_ACQ_REL);
}
