/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What an RX lcore sends and answers besides the data path (rx.h): ARP replies for its
 * ports' addresses, the answers of a feed's recovery server taken in, the recovery
 * requests it decided to send (docs/protocol.md §6.3) and the frames the control thread
 * handed to its ports. Same rules as rx.c: no allocation but mbufs, no locks, no logs,
 * no syscalls; everything that cannot leave is counted.
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "arp.h"
#include "feed_moldudp64.h"
#include "frame.h"
#include "mold_request.h"
#include "port_rx.h"
#include "rx.h"

/* Which of this lcore's ports `port_id` is, or -1. */
static int port_index(const struct rx_lcore *lc, uint16_t port_id)
{
	for (uint16_t i = 0; i < lc->n_ports; i++)
		if (lc->ports[i] == port_id)
			return i;
	return -1;
}

/* One frame this lcore originates on the TX queue of its port `k` (port.h): `len`
 * bytes written by `fill` into a fresh mbuf. False when it could not be sent. */
static bool send_own(struct rx_lcore *lc, uint16_t k, struct rte_mbuf *m, uint32_t len)
{
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	if (rte_eth_tx_burst(lc->ports[k], 0, &m, 1) == 1)
		return true;
	rte_pktmbuf_free(m);
	return false;
}

/* docs/protocol.md §6.3: an ARP request for the address of the port it arrived on is
 * answered (kernel bypass: no kernel will). Consumes the mbuf when it returns true. */
bool rx_arp_answer(struct rx_lcore *lc, struct rte_mbuf *m)
{
	struct arp_request req;
	int k = port_index(lc, m->port);
	struct rte_mbuf *r;

	if (k < 0 || lc->port_ip[k] == 0 ||
	    arp_parse(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &req) != ARP_REQUEST ||
	    req.target_ip != lc->port_ip[k])
		return false;
	rte_pktmbuf_free(m);
	r = rte_pktmbuf_alloc(lc->tx_pool);
	if (r != NULL && send_own(lc, (uint16_t)k, r,
				  arp_reply(rte_pktmbuf_mtod(r, uint8_t *), &req, lc->port_mac[k])))
		counter_add(&lc->st->port[m->port].arp_replies, 1);
	else
		counter_add(&lc->st->port[lc->ports[k]].answers_unsent, 1);
	return true;
}

/* The feed of this lcore whose recovery source is `ip:port`, NULL if none. */
static struct rx_feed *recovery_feed(const struct rx_lcore *lc, uint32_t ip, uint16_t port)
{
	for (uint32_t i = 0; i < lc->rs->n_feeds; i++) {
		struct rx_feed *fd = lc->feed_by_slot[lc->rs->feeds[i].slot];

		if (fd != NULL && fd->rec != NULL && fd->arb.rec != NULL) {
			const struct rx_recovery_cfg *c =
			    &fd->rec->cfg[__atomic_load_n(&fd->rec->active, __ATOMIC_ACQUIRE)];

			if (c->rc.source_ip == ip && c->rc.source_port == port)
				return fd;
		}
	}
	return NULL;
}

/*
 * docs/protocol.md §6.3: a packet to a feed's recovery source is the server's answer,
 * one more line of the feed when recovery.c takes it. Consumes the mbuf when it returns
 * true (a frame for no recovery source is the caller's).
 */
bool rx_recovery_answer(struct rx_lcore *lc, struct rte_mbuf *m, const struct frame_udp *f,
			uint64_t now)
{
	struct rx_feed *fd = recovery_feed(lc, f->dst_ip, f->dst_port);
	const uint8_t *mold = rte_pktmbuf_mtod(m, const uint8_t *) + f->payload_off;
	struct mold_hdr h;
	bool kept = false;

	if (fd == NULL)
		return false;
	if (mold_parse(mold, f->payload_len, &h) != MOLD_OK) {
		counter_add(&fd->malformed, 1);
		counter_add(&lc->st->drops[DROP_MALFORMED], 1);
		rte_pktmbuf_free(m);
		return true;
	}
	struct arbiter_pkt ap = {
	    .handle = m,
	    .mold = mold,
	    .len = f->payload_len,
	    .session = h.session,
	    .seq = h.seq,
	    .n_msgs = h.n_msgs,
	    .line = ARBITER_LINE_RECOVERY,
	};

	recovery_answer(&fd->rec->rec, &fd->arb, f->src_ip, f->src_port, &ap, now, &kept);
	if (!kept)
		rte_pktmbuf_free(m);
	return true;
}

/* Frames the control thread handed to this lcore's ports (IGMP, port_rx.h). */
void rx_ctl_frames(struct rx_lcore *lc)
{
	for (uint16_t k = 0; k < lc->n_ports; k++) {
		struct rte_ring *r = port_rx_ctl_ring(lc->ports[k]);
		struct rte_mbuf *m[8];
		unsigned int n, sent;

		if (r == NULL ||
		    (n = rte_ring_sc_dequeue_burst(r, (void **)m, RTE_DIM(m), NULL)) == 0)
			continue;
		sent = rte_eth_tx_burst(lc->ports[k], 0, m, (uint16_t)n);
		if (sent < n) {
			counter_add(&lc->st->port[lc->ports[k]].ctl_unsent, n - sent);
			rte_pktmbuf_free_bulk(m + sent, n - sent);
		}
	}
}

/* New recovery settings of a running feed, applied by its owner (rx.h, rx_recovery):
 * open ranges are kept; a feed that starts recovering asks for what it misses now. */
static void recovery_apply(struct rx_feed *fd, uint64_t now)
{
	struct rx_recovery *rr = fd->rec;
	const struct rx_recovery_cfg *c = &rr->cfg[__atomic_load_n(&rr->active, __ATOMIC_ACQUIRE)];

	if (c->gen == rr->applied)
		return;
	rr->applied = c->gen;
	if (!c->enabled) {
		if (fd->arb.rec != NULL) {
			recovery_on_end(&rr->rec); /* its open ranges are the arbiter's again */
			__atomic_store_n(&fd->arb.rec, NULL, __ATOMIC_RELAXED);
		}
		return;
	}
	recovery_configure(&rr->rec, &c->rc, rte_get_tsc_hz());
	if (fd->arb.rec == NULL) {
		uint32_t n = arbiter_missing(&fd->arb, rr->rec.missing, RECOVERY_MAX_MISSING);

		recovery_attach(&rr->rec, &fd->arb);
		for (uint32_t i = 0; i < n; i++)
			recovery_on_missing(&rr->rec, rr->rec.missing[i].first,
					    rr->rec.missing[i].end, now);
	}
}

/* docs/protocol.md §6.3: what recovery decided to ask, out of the TX queue of the port
 * whose ip is the feed's recovery source. A request that cannot leave is counted; its
 * range is asked again after timeout_us like an unanswered one. */
static void recovery_send(struct rx_lcore *lc, struct rx_feed *fd, uint64_t now)
{
	struct rx_recovery *rr = fd->rec;
	const struct rx_recovery_cfg *c = &rr->cfg[__atomic_load_n(&rr->active, __ATOMIC_ACQUIRE)];
	struct recovery_request req[RX_REQUESTS_MAX];
	uint32_t n = recovery_poll(&rr->rec, &fd->arb, now, req, RX_REQUESTS_MAX);
	int k = port_index(lc, c->port_id);

	for (uint32_t i = 0; i < n; i++) {
		struct rte_mbuf *m = k >= 0 ? rte_pktmbuf_alloc(lc->tx_pool) : NULL;

		if (m != NULL) {
			mold_request_frame(rte_pktmbuf_mtod(m, uint8_t *), &c->src, &c->dst,
					   rr->ip_id++, fd->arb.session, req[i].seq, req[i].count);
			if (send_own(lc, (uint16_t)k, m, MOLD_REQUEST_FRAME_LEN)) {
				counter_add(&fd->recovery_requests, 1);
				continue;
			}
		}
		counter_add(&fd->recovery_unsent, 1);
	}
}

void rx_recovery_timers(struct rx_lcore *lc, uint64_t now_tsc)
{
	const struct router_state *rs = lc->rs;

	for (uint32_t i = 0; i < rs->n_feeds; i++) {
		struct rx_feed *fd = lc->feed_by_slot[rs->feeds[i].slot];

		if (fd == NULL || fd->rec == NULL)
			continue;
		recovery_apply(fd, now_tsc);
		if (fd->arb.rec != NULL && lc->end_tsc == 0)
			recovery_send(lc, fd, now_tsc);
	}
}
