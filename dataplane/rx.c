/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RX stage: burst in from the feed ports, decode (frame.c, feed_moldudp64.c),
 * arbitrate (arbiter.c), route (router.c) and frame (publisher.c), then hand the
 * finished packets to the TX lcores, one SP/SC ring per TX lcore, at the end of
 * every burst so no message waits for a timer (docs/protocol.md §3.6).
 *
 * Runs on a polling lcore: no allocation but mbufs, no locks, no logs, no syscalls.
 * Every packet or message not delivered bumps a named counter (stats.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include "feed_moldudp64.h"
#include "arp.h"
#include "frame.h"
#include "igmp.h"
#include "itch50.h"
#include "latency.h"
#include "mold_request.h"
#include "port_rx.h"
#include "rx.h"
#include "tx.h"

#include "../common/wire.h"

static inline void drop(struct rx_lcore *lc, enum stats_drop why, uint64_t n)
{
	counter_add(&lc->st->drops[why], n);
}

/* Live: frames a full ring did not take are dropped, counted per subscriber; the RX
 * core never waits. */
static void drop_rest(struct rx_lcore *lc, struct rx_stage *s, unsigned int done)
{
	for (unsigned int i = done; i < s->n; i++) {
		struct rte_mbuf *m = s->pkts[i];
		uint16_t n = publisher_frame_msgs(rte_pktmbuf_mtod(m, const uint8_t *));

		drop(lc, DROP_RING_FULL, n);
		counter_add(&lc->st->subs[m->hash.usr].dropped, n);
		counter_add(&lc->st->subs[m->hash.usr].dropped_ring_full, n);
		rte_pktmbuf_free(m);
	}
}

/* Lossless: hold the input back until the TX lcore made room, polling the TX stage
 * ourselves when it shares this lcore (which would otherwise deadlock). */
static unsigned int wait_for_room(struct rx_lcore *lc, struct rx_stage *s, unsigned int done)
{
	while (done < s->n) {
		if (lc->local_tx != NULL)
			tx_poll(lc->local_tx);
		else
			rte_pause();
		done +=
		    rte_ring_sp_enqueue_burst(s->ring, (void **)s->pkts + done, s->n - done, NULL);
	}
	return done;
}

/* Push one TX lcore's staged frames into its ring; a shortfall is the policy's
 * (lcore.h): dropped and counted, or waited for. */
static void stage_push(struct rx_lcore *lc, struct rx_stage *s)
{
	unsigned int done = rte_ring_sp_enqueue_burst(s->ring, (void **)s->pkts, s->n, NULL);

	if (unlikely(done < s->n)) {
		if (lc->full == RX_FULL_WAIT)
			done = wait_for_room(lc, s, done);
		else
			drop_rest(lc, s, done);
	}
	counter_add(&lc->st->ring_enqueued, done);
	s->n = 0;
}

/* Top the spare output mbufs up to RX_SPARE once half are used: one bulk allocation
 * (whose reset writes the mbuf fields), and the first two data lines, which take the
 * headers and first messages, requested for writing now: their misses overlap here,
 * off the message path. */
static void spare_refill(struct rx_lcore *lc)
{
	unsigned int want = RX_SPARE - lc->n_spare;
	struct rte_mbuf **p = lc->spare + lc->n_spare;

	if (want < RX_SPARE / 2 || rte_pktmbuf_alloc_bulk(lc->tx_pool, p, want) != 0)
		return; /* a short pool: pub_open allocates one at a time */
	for (unsigned int i = 0; i < want; i++) {
		uint8_t *d = rte_pktmbuf_mtod(p[i], uint8_t *);

		/* rte_prefetch0_write is still experimental in DPDK 22.11 */
		__builtin_prefetch(d, 1, 3);
		__builtin_prefetch(d + RTE_CACHE_LINE_SIZE, 1, 3);
	}
	lc->n_spare = RX_SPARE;
}

static void spare_release(struct rx_lcore *lc)
{
	rte_pktmbuf_free_bulk(lc->spare, lc->n_spare);
	lc->n_spare = 0;
}

static void *pub_open(void *ctx, uint32_t sub, uint8_t **data)
{
	struct rx_lcore *lc = ctx;
	struct rte_mbuf *m;

	RTE_SET_USED(sub);
	if (likely(lc->n_spare != 0)) {
		m = lc->spare[--lc->n_spare];
	} else {
		m = rte_pktmbuf_alloc(lc->tx_pool);
		if (unlikely(m == NULL))
			return NULL;
	}
	*data = rte_pktmbuf_mtod(m, uint8_t *);
	return m;
}

static void pub_close(void *ctx, uint32_t sub, void *pkt, uint32_t frame_len, uint16_t n_msgs)
{
	struct rx_lcore *lc = ctx;
	struct rte_mbuf *m = pkt;
	struct rx_stage *s = &lc->stage[lc->sub_tx[sub]];

	struct history *h = __atomic_load_n(&lc->hist[sub], __ATOMIC_ACQUIRE);

	/* docs/at-least-once.md, "Subscriber history": kept as the frame leaves */
	if (h != NULL) {
		const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);

		history_frame(h, wire_get64(d + PUB_MOLD_SEQ_OFF), d + PUB_HDRS_LEN + PUB_MOLD_HDR,
			      frame_len - PUB_HDRS_LEN - PUB_MOLD_HDR, n_msgs);
	}
	lc->pubs[sub].last_tsc = lc->rx_tsc;
	m->data_len = (uint16_t)frame_len;
	m->pkt_len = frame_len;
	m->port = lc->sub_port[sub];
	m->hash.usr = sub;
	if (lc->lat_off >= 0)
		latency_stamp_set(m, lc->lat_off, lc->rx_tsc);
	/* counted per frame, not per delivery: every open frame closes by the end of
	 * its burst (rx_flush), so the counter lags the framing by one burst at most */
	counter_add(&lc->st->subs[sub].packets, 1);
	counter_add(&lc->st->subs[sub].messages, n_msgs);
	s->pkts[s->n++] = m;
	if (s->n == RTE_DIM(s->pkts))
		stage_push(lc, s);
}

static void publish(struct rx_lcore *lc, uint32_t sub, const uint8_t *msg, uint16_t len)
{
	enum publisher_result r = publisher_append(&lc->pubs[sub], sub, msg, len, &lc->pub_ops, lc);

	if (unlikely(r != PUB_OK)) {
		struct counter_sub *c = &lc->st->subs[sub];

		drop(lc, r == PUB_TOO_LARGE ? DROP_TOO_LARGE : DROP_NO_MBUF, 1);
		counter_add(&c->dropped, 1);
		counter_add(r == PUB_TOO_LARGE ? &c->dropped_too_large : &c->dropped_no_mbuf, 1);
		return;
	}
	if (!lc->dirty[sub]) {
		lc->dirty[sub] = 1;
		lc->dirty_list[lc->n_dirty++] = sub;
	}
}

/* docs/protocol.md §3.4-3.5: route one sequenced message to every subscriber whose patterns match
 * its symbol and whose types include it. */
static void route(struct rx_lcore *lc, struct rx_feed *fd, const struct router_feed_rules *fr,
		  const uint8_t *msg, uint16_t len)
{
	const uint64_t *subs;
	enum router_verdict v = router_route(fd->locates, lc->rs, fr, lc->index, msg, len, &subs);

	if (unlikely(v != ROUTE_OK)) {
		drop(lc, v == ROUTE_SHORT ? DROP_SHORT_MESSAGE : DROP_UNBOUND_LOCATE, 1);
		return;
	}
	const uint64_t *types = router_type_mask(fr, msg[0]);
	bool any = false;

	for (uint32_t w = 0; w < fr->n_words; w++) {
		uint64_t bits = subs[w] & types[w];

		while (bits != 0) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			publish(lc, fr->subs[w * 64 + b], msg, len);
			any = true;
		}
	}
	if (!any)
		drop(lc, DROP_NO_SUBSCRIBER, 1);
}

/* Remember from which (session, sequence) on the feed is routed by a new table version,
 * so a routing change can be audited message by message. */
static void log_version(struct rx_feed *fd, uint64_t version, const struct arbiter_pkt *pkt,
			uint16_t skip)
{
	uint64_t n = fd->n_log;
	struct rx_feed_log *e = &fd->log[n % RX_FEED_LOG];

	e->version = version;
	e->table_version = fd->lc->rs->table_version;
	e->seq = pkt->seq + skip;
	memcpy(e->session, pkt->session, sizeof(e->session));
	fd->log_version = version;
	__atomic_store_n(&fd->n_log, n + 1, __ATOMIC_RELEASE);
}

static void arb_deliver(void *ctx, const struct arbiter_pkt *pkt, uint16_t skip)
{
	struct rx_feed *fd = ctx;
	struct rx_lcore *lc = fd->lc;
	int16_t fi = lc->rs->slot_index[fd->slot];
	uint32_t off = MOLD_HDR_LEN;

	if (unlikely(fi < 0)) {
		/* the feed left the table while these were held: nobody subscribes */
		drop(lc, DROP_NO_SUBSCRIBER, (uint64_t)(pkt->n_msgs - skip));
		return;
	}
	const struct router_feed_rules *fr = &lc->rs->feeds[fi];

	if (unlikely(fd->log_version != lc->rs->version) && pkt->n_msgs > skip)
		log_version(fd, lc->rs->version, pkt, skip);
	/*
	 * First ask for every locate record the packet will read: with a large symbol
	 * universe they miss the caches, and requested together the misses overlap
	 * instead of stalling each message in turn.
	 */
	for (uint16_t i = 0; i < pkt->n_msgs; i++) {
		uint16_t len;
		const uint8_t *msg = mold_next(pkt->mold, &off, &len);

		router_prefetch(fd->locates, fr->n_words, msg, len);
	}
	off = MOLD_HDR_LEN;
	for (uint16_t i = 0; i < pkt->n_msgs; i++) {
		uint16_t len;
		const uint8_t *msg = mold_next(pkt->mold, &off, &len);

		if (i >= skip)
			route(lc, fd, fr, msg, len);
	}
}

static void arb_release(void *ctx, void *handle)
{
	RTE_SET_USED(ctx);
	rte_pktmbuf_free(handle);
}

static void arb_new_session(void *ctx, const uint8_t *session)
{
	struct rx_feed *fd = ctx;

	RTE_SET_USED(session);
	router_locates_reset(fd->locates);
}

const struct arbiter_ops rx_arbiter_ops = {
    .deliver = arb_deliver,
    .release = arb_release,
    .new_session = arb_new_session,
};

const struct publisher_ops rx_publisher_ops = {
    .open = pub_open,
    .close = pub_close,
};

/* One received frame, docs/protocol.md §3.1-3.3. Consumes the mbuf (freed, or kept by the arbiter).
 */
static void rx_packet(struct rx_lcore *lc, struct rte_mbuf *m, uint64_t now)
{
	struct frame_udp f;
	struct mold_hdr h;
	int why;

	if (unlikely(m->nb_segs != 1)) {
		drop(lc, DROP_MULTI_SEGMENT, 1);
		rte_pktmbuf_free(m);
		return;
	}
	/* Checksum offloads (profile nic.rx_offloads): the NIC checked what frame.c does
	 * not (see frame.c); without them the flags say "unknown" and nothing is dropped. */
	if (unlikely((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
		     (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD)) {
		drop(lc, DROP_BAD_CHECKSUM, 1);
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

	why = frame_parse_udp(p, m->data_len, &f);
	if (unlikely(why != 0)) {
		if (why == DROP_NOT_IPV4 && rx_arp_answer(lc, m))
			return;
		/* IGMP is not a feed: counted by name; the control thread answers queries. */
		if (why == DROP_NOT_UDP) {
			int t = igmp_classify(p, m->data_len);

			if (t != 0)
				why = DROP_IGMP;
			if (t == IGMP_TYPE_QUERY)
				counter_add(&lc->st->igmp_queries, 1);
		}
		drop(lc, (enum stats_drop)why, 1);
		rte_pktmbuf_free(m);
		return;
	}
	const struct router_line *ln = router_line_find(lc->rs, f.dst_ip, f.dst_port);
	struct rx_feed *fd = ln ? lc->feed_by_slot[lc->rs->feeds[ln->feed].slot] : NULL;

	if (unlikely(ln == NULL) && rx_recovery_answer(lc, m, &f, now))
		return;
	if (unlikely(fd == NULL)) {
		drop(lc, ln == NULL ? DROP_NO_FEED : DROP_FOREIGN_FEED, 1);
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *mold = p + f.payload_off;

	counter_add(&fd->packets, 1);
	counter_add(&fd->line_packets[ln->line], 1);
	if (unlikely(mold_parse(mold, f.payload_len, &h) != MOLD_OK)) {
		/* docs/protocol.md §3.2: dropped whole; its range counts as not received on this
		 * line. */
		counter_add(&fd->malformed, 1);
		drop(lc, DROP_MALFORMED, 1);
		rte_pktmbuf_free(m);
		return;
	}
	struct arbiter_pkt ap = {
	    .handle = m,
	    .mold = mold,
	    .len = f.payload_len,
	    .session = h.session,
	    .seq = h.seq,
	    .n_msgs = h.n_msgs,
	    .line = ln->line,
	};

	if (!arbiter_accept(&fd->arb, &ap, now))
		rte_pktmbuf_free(m);
}

/* End of burst: close every open subscriber packet and push the staging areas. */
void rx_flush(struct rx_lcore *lc)
{
	/* only the subscribers this burst touched: the cost does not grow with
	 * max_subscribers, and an idle poll costs nothing here */
	for (uint32_t i = 0; i < lc->n_dirty; i++) {
		uint32_t sub = lc->dirty_list[i];

		publisher_flush(&lc->pubs[sub], sub, &lc->pub_ops, lc);
		lc->dirty[sub] = 0;
	}
	lc->n_dirty = 0;
	for (uint16_t t = 0; t < lc->n_tx; t++)
		if (lc->stage[t].n != 0)
			stage_push(lc, &lc->stage[t]);
	spare_refill(lc); /* the frames are on their way: get ready for the next burst */
}

void rx_packets(struct rx_lcore *lc, struct rte_mbuf **pkts, uint16_t n, uint64_t now)
{
	/* every line of the next frame, not only its first: the NIC (or another core)
	 * wrote them, so each is a miss, and they overlap rather than follow each other */
	for (uint16_t j = 0; j < n; j++) {
		if (j + 1 < n) {
			const uint8_t *d = rte_pktmbuf_mtod(pkts[j + 1], const uint8_t *);

			for (uint32_t o = 0; o < pkts[j + 1]->data_len; o += RTE_CACHE_LINE_SIZE)
				rte_prefetch0(d + o);
		}
		rx_packet(lc, pkts[j], now);
	}
}

uint16_t rx_burst(struct rx_lcore *lc, uint16_t port_id, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t got = rte_eth_rx_burst(port_id, 0, pkts, n);

	counter_add(&lc->st->rx_packets[port_id], got);
	return got;
}

void rx_poll_ports(struct rx_lcore *lc, uint64_t now_tsc)
{
	struct rte_mbuf *pkts[RX_BURST_MAX];

	for (uint16_t i = 0; i < lc->n_ports; i++) {
		uint16_t n = rx_burst(lc, lc->ports[i], pkts, lc->prof->burst);

		if (n == 0)
			continue;
		lc->rx_tsc = rte_rdtsc();
		rx_packets(lc, pkts, n, now_tsc);
	}
}

/* A heartbeat, or an end-of-session packet while lingering, for stream `sub` when it is
 * due (docs/protocol.md §6.1): through the same staging and ring as its data. */
static void heartbeat(struct rx_lcore *lc, uint32_t sub, uint64_t now)
{
	struct publisher_sub *ps = &lc->pubs[sub];
	uint64_t period = __atomic_load_n(&lc->hb_tsc[sub], __ATOMIC_RELAXED);
	bool ending = lc->end_tsc != 0;
	struct rte_mbuf *m;
	struct rx_stage *st;
	uint32_t len;

	if (ps->pkt != NULL)
		return; /* a frame is open: it closes at the end of this turn */
	if (ending ? ps->last_tsc >= lc->end_tsc && (period == 0 || now - ps->last_tsc < period)
		   : period == 0 || now - ps->last_tsc < period)
		return;
	m = lc->n_spare != 0 ? lc->spare[--lc->n_spare] : rte_pktmbuf_alloc(lc->tx_pool);
	if (m == NULL)
		return; /* asked again at the next scan */
	len = ending ? publisher_end_of_session(ps, rte_pktmbuf_mtod(m, uint8_t *))
		     : publisher_heartbeat(ps, rte_pktmbuf_mtod(m, uint8_t *));
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->port = lc->sub_port[sub];
	m->hash.usr = sub;
	if (lc->lat_off >= 0)
		latency_stamp_set(m, lc->lat_off, now);
	ps->last_tsc = now;
	counter_add(ending ? &lc->st->subs[sub].end_of_session : &lc->st->subs[sub].heartbeats, 1);
	st = &lc->stage[lc->sub_tx[sub]];
	st->pkts[st->n++] = m;
	if (st->n == RTE_DIM(st->pkts))
		stage_push(lc, st);
}

/* Up to RX_HB_SCAN streams of this lcore's feeds, going on where the last scan stopped;
 * the streams are the rule set's, so a stream leaving the table is never touched. */
static void heartbeats(struct rx_lcore *lc, uint64_t now)
{
	const struct router_state *rs = lc->rs;

	for (uint32_t budget = RX_HB_SCAN; budget > 0; budget--) {
		if (lc->hb_feed >= rs->n_feeds) {
			lc->hb_feed = 0;
			lc->hb_sub = 0;
			return; /* a whole pass */
		}
		const struct router_feed_rules *fr = &rs->feeds[lc->hb_feed];

		if (lc->feed_by_slot[fr->slot] == NULL || lc->hb_sub >= fr->n_subs) {
			lc->hb_feed++;
			lc->hb_sub = 0;
			continue;
		}
		uint32_t sub = fr->subs[lc->hb_sub++];

		/* an index a delta freed (router.h) has no stream */
		if (sub != ROUTER_NO_SUB)
			heartbeat(lc, sub, now);
	}
}

void rx_timers(struct rx_lcore *lc, uint64_t now_tsc)
{
	lc->timer_due = now_tsc + lc->timer_tsc;
	if (lc->end_tsc == 0 && __atomic_load_n(&lc->ending, __ATOMIC_ACQUIRE))
		lc->end_tsc = now_tsc; /* the linger: no more input, end of session */
	rx_ctl_frames(lc);
	rx_recovery_timers(lc, now_tsc);
	heartbeats(lc, now_tsc);
}

void rx_begin(struct rx_lcore *lc, uint64_t now_tsc)
{
	lc->rs = router_current(lc->router_slot);
	lc->rx_tsc = now_tsc;
}

void rx_end(struct rx_lcore *lc)
{
	/* This lcore holds no router_state reference past this point. */
	if (lc->qsbr != NULL)
		rte_rcu_qsbr_quiescent(lc->qsbr, lc->index);
	counter_add(&lc->st->iterations, 1);
}

void rx_poll(struct rx_lcore *lc)
{
	uint64_t now = rte_rdtsc();

	rx_begin(lc, now);
	if (likely(lc->end_tsc == 0))
		rx_poll_ports(lc, now); /* lingering at shutdown: no more input (§6.1) */
	if (unlikely(now >= lc->timer_due))
		rx_timers(lc, now);
	rx_flush(lc);
	rx_end(lc);
}

void rx_drain(struct rx_lcore *lc)
{
	lc->rs = router_current(lc->router_slot);
	for (uint32_t i = 0; i < ROUTER_MAX_FEED_SLOTS; i++)
		if (lc->feed_by_slot[i] != NULL)
			arbiter_flush(&lc->feed_by_slot[i]->arb);
	rx_flush(lc);
	spare_release(lc); /* replay's leak check counts every mbuf back in its pool */
}

void rx_housekeeping(struct rx_lcore *lc, uint64_t now_tsc)
{
	if (lc->hold_tsc == 0)
		return;
	lc->rs = router_current(lc->router_slot);
	for (uint32_t i = 0; i < ROUTER_MAX_FEED_SLOTS; i++)
		if (lc->feed_by_slot[i] != NULL)
			arbiter_poll(&lc->feed_by_slot[i]->arb, now_tsc);
	rx_flush(lc);
	if (lc->qsbr != NULL)
		rte_rcu_qsbr_quiescent(lc->qsbr, lc->index);
}

void rx_online(struct rx_lcore *lc)
{
	if (lc->qsbr != NULL) {
		rte_rcu_qsbr_thread_register(lc->qsbr, lc->index);
		rte_rcu_qsbr_thread_online(lc->qsbr, lc->index);
	}
}

void rx_offline(struct rx_lcore *lc)
{
	spare_release(lc);
	if (lc->qsbr != NULL) {
		rte_rcu_qsbr_thread_offline(lc->qsbr, lc->index);
		rte_rcu_qsbr_thread_unregister(lc->qsbr, lc->index);
	}
}
