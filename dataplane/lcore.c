/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The lcore driver: the role map from the PMD profile, the rings, the polling loop and
 * its housekeeping (lcore.h). The stages (rx.c, tx.c) do not know where they run; this
 * file decides whether RX and TX share a core (small machines, CI) or not (bare metal),
 * and the policy (live.c, replay.c) decides what a turn of input is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "lcore.h"

/* Housekeeping (policy rx_housekeeping, TX heartbeat) every this many loop turns. */
#define LCORE_HOUSEKEEPING_MASK 1023

/* What one EAL worker lcore runs. Written by lcore_map_create, read-only after. */
struct lcore_ctx {
	unsigned int lcore_id;
	struct rx_lcore *rx; /* NULL if no RX role */
	struct tx_lcore *tx; /* NULL if no TX role */
	const struct lcore_policy *policy;
	void *policy_arg;
	const uint32_t *stop;
};

/*
 * Written by the main lcore before launch and read-only after, except: `router`, which
 * lcore_map_publish (the table thread) stores and the RX lcores load; `stop`, which the
 * main lcore (or a signal handler) stores and every loop loads.
 */
struct lcore_map {
	const struct profile *prof;
	const struct lcore_policy *policy;
	struct lcore_ports ports;
	struct router_state *router; /* the rule set in force (router_publish) */
	struct rte_rcu_qsbr *qsbr;   /* one thread id per RX lcore */
	uint16_t n_rx, n_tx;
	struct rx_lcore *rx[LCORE_MAX_RX];
	struct tx_lcore *tx[LCORE_MAX_TX];
	uint16_t tx_of_out[LCORE_MAX_PORTS]; /* output port i -> TX lcore index */
	struct rte_ring *rings[LCORE_MAX_RX][LCORE_MAX_TX];
	uint16_t n_ctx;
	struct lcore_ctx ctx[PROFILE_MAX_LCORES];
	uint32_t stop;
	bool launched;
};

int lcore_main(void *arg)
{
	struct lcore_ctx *c = arg;
	const struct lcore_policy *pol = c->policy;
	uint64_t turns = 0;

	if (c->rx != NULL)
		rx_online(c->rx);
	if (c->tx != NULL)
		tx_online(c->tx);
	while (!__atomic_load_n(c->stop, __ATOMIC_RELAXED)) {
		if (c->rx != NULL)
			pol->rx_turn(c->rx, c->policy_arg);
		if (c->tx != NULL)
			tx_poll(c->tx);
		if ((++turns & LCORE_HOUSEKEEPING_MASK) == 0) {
			if (c->rx != NULL && pol->rx_housekeeping != NULL)
				pol->rx_housekeeping(c->rx, rte_rdtsc());
			if (c->tx != NULL)
				tx_heartbeat(c->tx, LCORE_HOUSEKEEPING_MASK + 1);
		}
	}
	if (c->rx != NULL)
		rx_offline(c->rx);
	if (c->tx != NULL)
		tx_offline(c->tx);
	return 0;
}

/* The profile's RX and TX roles, in profile order. */
static int roles(struct lcore_map *m, unsigned int *rx_ids, unsigned int *tx_ids, char *err,
		 size_t errlen)
{
	const struct profile *prof = m->prof;

	for (uint16_t i = 0; i < prof->n_lcores; i++) {
		const struct profile_lcore *pl = &prof->lcores[i];

		if ((pl->roles & PROFILE_ROLE_RX) && m->n_rx < LCORE_MAX_RX)
			rx_ids[m->n_rx++] = pl->id;
		if ((pl->roles & PROFILE_ROLE_TX) && m->n_tx < LCORE_MAX_TX)
			tx_ids[m->n_tx++] = pl->id;
	}
	if (m->n_rx == 0 || m->n_tx == 0) {
		snprintf(err, errlen, "%s: lcores: at least one rx and one tx role needed",
			 prof->path);
		return -EINVAL;
	}
	return 0;
}

/* One SP/SC ring per (RX lcore, TX lcore), on the TX lcore's socket; and the RCU
 * variable the RX lcores report their quiescent states to. */
static int rings_create(struct lcore_map *m, const unsigned int *tx_ids, char *err, size_t errlen)
{
	/* RX lcores read the rule set, TX lcores the retransmission servers (tx.h) */
	size_t qsz = rte_rcu_qsbr_get_memsize(m->n_rx + m->n_tx);

	m->qsbr = rte_zmalloc("aster_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (m->qsbr == NULL || rte_rcu_qsbr_init(m->qsbr, m->n_rx + m->n_tx) != 0) {
		snprintf(err, errlen, "RCU QSBR variable: %s", rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (uint16_t r = 0; r < m->n_rx; r++)
		for (uint16_t t = 0; t < m->n_tx; t++) {
			char name[RTE_RING_NAMESIZE];

			snprintf(name, sizeof(name), "rx%u_tx%u", r, t);
			m->rings[r][t] = rte_ring_create(name, m->prof->ring_size,
							 rte_lcore_to_socket_id(tx_ids[t]),
							 RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (m->rings[r][t] == NULL) {
				snprintf(err, errlen, "ring %s: %s", name, rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
	return 0;
}

/* TX lcores, with the output ports round robin over them. */
static int tx_lcores_create(struct lcore_map *m, const unsigned int *tx_ids, uint32_t max_subs,
			    struct rte_mempool *pool, char *err, size_t errlen)
{
	for (uint16_t t = 0; t < m->n_tx; t++) {
		struct rte_ring *rings[LCORE_MAX_RX];

		for (uint16_t r = 0; r < m->n_rx; r++)
			rings[r] = m->rings[r][t];
		m->tx[t] = tx_create(&(struct tx_params){
		    .lcore_id = tx_ids[t],
		    .index = t,
		    .burst = m->prof->burst,
		    .max_subs = max_subs,
		    .n_rings = m->n_rx,
		    .rings = rings,
		    .tries = m->policy->tries,
		    .pool = pool,
		    .qsbr = m->qsbr,
		    .qsbr_id = (uint32_t)(m->n_rx + t),
		});
		if (m->tx[t] == NULL) {
			snprintf(err, errlen, "out of memory for TX lcore %u", tx_ids[t]);
			return -ENOMEM;
		}
	}
	for (uint16_t p = 0; p < m->ports.n_out; p++) {
		m->tx_of_out[p] = (uint16_t)(p % m->n_tx);
		if (tx_add_port(m->tx[m->tx_of_out[p]], m->ports.out[p].port_id,
				m->ports.out_receive) != 0) {
			snprintf(err, errlen, "too many output ports on TX lcore %u",
				 tx_lcore_id(m->tx[m->tx_of_out[p]]));
			return -ENOSPC;
		}
	}
	return 0;
}

/* RX lcores, with the input ports round robin over them (or all on the first). */
static int rx_lcores_create(struct lcore_map *m, const unsigned int *rx_ids,
			    const struct lcore_map_cfg *cfg, char *err, size_t errlen)
{
	const struct lcore_policy *pol = m->policy;
	uint64_t hold_tsc = pol->hold_timeout ? rte_get_tsc_hz() / 1000000 * m->prof->hold_us : 0;

	for (uint16_t r = 0; r < m->n_rx; r++) {
		m->rx[r] = rx_create(&(struct rx_params){
		    .lcore_id = rx_ids[r],
		    .index = r,
		    .prof = m->prof,
		    .router_slot = &m->router,
		    .qsbr = m->qsbr,
		    .tx_pool = cfg->tx_pool,
		    .max_subs = cfg->max_subs,
		    .n_tx = m->n_tx,
		    .rings = m->rings[r],
		    .full = pol->full,
		    .hold_tsc = hold_tsc,
		});
		if (m->rx[r] == NULL) {
			snprintf(err, errlen, "out of memory for RX lcore %u state", rx_ids[r]);
			return -ENOMEM;
		}
	}
	for (uint16_t i = 0; i < m->ports.n_in; i++) {
		struct rx_lcore *lc = m->rx[pol->spread ? i % m->n_rx : 0];

		if (rx_add_port(lc, m->ports.in[i], m->ports.in_ip[i]) != 0) {
			snprintf(err, errlen, "too many input ports on RX lcore %u",
				 rx_lcore_id(lc));
			return -ENOSPC;
		}
	}
	return 0;
}

/* One context per worker lcore, with the stages the profile gives it. */
static void contexts(struct lcore_map *m, const struct lcore_map_cfg *cfg)
{
	for (uint16_t i = 0; i < m->prof->n_lcores; i++) {
		struct lcore_ctx *c = &m->ctx[m->n_ctx++];

		c->lcore_id = m->prof->lcores[i].id;
		c->policy = m->policy;
		c->policy_arg = cfg->policy_arg;
		c->stop = &m->stop;
		for (uint16_t r = 0; r < m->n_rx; r++)
			if (rx_lcore_id(m->rx[r]) == c->lcore_id)
				c->rx = m->rx[r];
		for (uint16_t t = 0; t < m->n_tx; t++)
			if (tx_lcore_id(m->tx[t]) == c->lcore_id)
				c->tx = m->tx[t];
		if (c->rx != NULL && c->tx != NULL)
			rx_share_lcore(c->rx, c->tx);
	}
}

struct lcore_map *lcore_map_create(const struct lcore_map_cfg *cfg, char *err, size_t errlen)
{
	unsigned int rx_ids[LCORE_MAX_RX], tx_ids[LCORE_MAX_TX];
	struct lcore_map *m = calloc(1, sizeof(*m));
	int rc;

	if (m == NULL) {
		snprintf(err, errlen, "out of memory for the lcore map");
		return NULL;
	}
	m->prof = cfg->prof;
	m->policy = cfg->policy;
	m->ports = *cfg->ports;
	rc = roles(m, rx_ids, tx_ids, err, errlen);
	if (rc == 0)
		rc = rings_create(m, tx_ids, err, errlen);
	if (rc == 0)
		rc = tx_lcores_create(m, tx_ids, cfg->max_subs, cfg->tx_pool, err, errlen);
	if (rc == 0)
		rc = rx_lcores_create(m, rx_ids, cfg, err, errlen);
	if (rc != 0) {
		lcore_map_free(m);
		errno = -rc;
		return NULL;
	}
	contexts(m, cfg);
	return m;
}

void lcore_map_free(struct lcore_map *m)
{
	if (m == NULL)
		return;
	router_state_free(m->router);
	for (uint16_t r = 0; r < m->n_rx; r++)
		rx_free(m->rx[r]);
	for (uint16_t t = 0; t < m->n_tx; t++)
		tx_free(m->tx[t]);
	for (uint16_t r = 0; r < LCORE_MAX_RX; r++)
		for (uint16_t t = 0; t < LCORE_MAX_TX; t++) {
			struct rte_ring *ring = m->rings[r][t];
			void *obj;

			if (ring == NULL)
				continue;
			while (rte_ring_sc_dequeue(ring, &obj) == 0)
				rte_pktmbuf_free(obj);
			rte_ring_free(ring);
		}
	rte_free(m->qsbr);
	free(m);
}

int lcore_map_launch(struct lcore_map *m)
{
	__atomic_store_n(&m->stop, 0, __ATOMIC_RELEASE);
	for (uint16_t i = 0; i < m->n_ctx; i++) {
		int rc = rte_eal_remote_launch(lcore_main, &m->ctx[i], m->ctx[i].lcore_id);

		if (rc != 0) {
			lcore_map_stop(m);
			return rc;
		}
	}
	m->launched = true;
	return 0;
}

void lcore_map_request_stop(struct lcore_map *m)
{
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
}

void lcore_map_stop(struct lcore_map *m)
{
	lcore_map_request_stop(m);
	rte_eal_mp_wait_lcore();
	m->launched = false;
}

void *lcore_map_ctx(struct lcore_map *m, unsigned int lcore_id)
{
	for (uint16_t i = 0; i < m->n_ctx; i++)
		if (m->ctx[i].lcore_id == lcore_id)
			return &m->ctx[i];
	return NULL;
}

uint16_t lcore_map_n_rx(const struct lcore_map *m)
{
	return m->n_rx;
}

struct rx_lcore *lcore_map_feed_lcore(const struct lcore_map *m, uint32_t slot)
{
	return m->rx[m->policy->spread ? slot % m->n_rx : 0];
}

int lcore_map_output(const struct lcore_map *m, const char *name, uint16_t *port_id,
		     uint16_t *tx_index)
{
	for (uint16_t p = 0; p < m->ports.n_out; p++)
		if (strcmp(m->ports.out[p].name, name) == 0) {
			*port_id = m->ports.out[p].port_id;
			*tx_index = m->tx_of_out[p];
			return 0;
		}
	return -ENOENT;
}

const struct router_state *lcore_map_router(const struct lcore_map *m)
{
	return m->router;
}

void lcore_map_publish(struct lcore_map *m, struct router_state *rs)
{
	router_publish(&m->router, rs, m->qsbr);
}

void lcore_map_synchronize(struct lcore_map *m)
{
	if (m->qsbr != NULL)
		rte_rcu_qsbr_synchronize(m->qsbr, RTE_QSBR_THRID_INVALID);
}

static void block_sub(const struct stats_block *b, uint32_t slot, struct counter_sub *t)
{
	if (b == NULL || slot >= b->n_subs)
		return;
#define X(n, help) t->n += counter_read(&b->subs[slot].n);
	COUNTER_SUB(X)
#undef X
}

void lcore_map_sub_counters(const struct lcore_map *m, uint32_t slot, struct counter_sub *t)
{
	memset(t, 0, sizeof(*t));
	for (uint16_t r = 0; r < m->n_rx; r++)
		block_sub(rx_counters(m->rx[r]), slot, t);
	for (uint16_t i = 0; i < m->n_tx; i++)
		block_sub(tx_counters(m->tx[i]), slot, t);
}

static void block_port(const struct stats_block *b, uint16_t port_id, struct counter_port *t)
{
#define X(n, help) t->n += counter_read(&b->port[port_id].n);
	COUNTER_PORT(X)
#undef X
}

void lcore_map_port_counters(const struct lcore_map *m, uint16_t port_id, struct counter_port *c)
{
	memset(c, 0, sizeof(*c));
	if (port_id >= STATS_MAX_PORTS)
		return;
	for (uint16_t r = 0; r < m->n_rx; r++)
		block_port(rx_counters(m->rx[r]), port_id, c);
	for (uint16_t i = 0; i < m->n_tx; i++)
		block_port(tx_counters(m->tx[i]), port_id, c);
}

const struct lcore_policy *lcore_map_policy(const struct lcore_map *m)
{
	return m->policy;
}

void lcore_map_end_session(struct lcore_map *m)
{
	for (uint16_t r = 0; r < m->n_rx; r++)
		rx_end_session(m->rx[r]);
}

const struct lcore_ports *lcore_map_ports(const struct lcore_map *m)
{
	return &m->ports;
}

const struct profile *lcore_map_profile(const struct lcore_map *m)
{
	return m->prof;
}

uint32_t lcore_map_health(const struct lcore_map *m, struct lcore_health *out, uint32_t max)
{
	uint32_t n = 0;

	for (uint16_t r = 0; r < m->n_rx && n < max; r++, n++)
		out[n] = (struct lcore_health){
		    .lcore_id = rx_lcore_id(m->rx[r]),
		    .roles = PROFILE_ROLE_RX,
		    .heartbeat = counter_read(&rx_counters(m->rx[r])->iterations),
		};
	/* A ring's backlog belongs to its consumer: a TX lcore that cannot keep up. */
	for (uint16_t t = 0; t < m->n_tx && n < max; t++, n++) {
		const struct stats_block *st = tx_counters(m->tx[t]);

		out[n] = (struct lcore_health){
		    .lcore_id = tx_lcore_id(m->tx[t]),
		    .roles = PROFILE_ROLE_TX,
		    .heartbeat = counter_read(&st->iterations),
		    .frames = counter_read(&st->tx_done),
		    .ring_size = rte_ring_get_capacity(m->rings[0][t]),
		};
		for (uint16_t r = 0; r < m->n_rx; r++) {
			uint64_t used = rte_ring_count(m->rings[r][t]);

			if (used > out[n].ring_used)
				out[n].ring_used = used;
		}
	}
	return n;
}

static void add_drops(const struct stats_block *b, uint64_t drops[DROP__MAX])
{
	for (int d = 0; d < DROP__MAX; d++)
		drops[d] += counter_read(&b->drops[d]);
}

void lcore_map_drops(const struct lcore_map *m, uint64_t drops[DROP__MAX])
{
	memset(drops, 0, sizeof(uint64_t) * DROP__MAX);
	for (uint16_t r = 0; r < m->n_rx; r++)
		add_drops(rx_counters(m->rx[r]), drops);
	for (uint16_t t = 0; t < m->n_tx; t++)
		add_drops(tx_counters(m->tx[t]), drops);
}

uint64_t lcore_map_igmp_queries(const struct lcore_map *m)
{
	uint64_t q = 0;

	for (uint16_t r = 0; r < m->n_rx; r++)
		q += counter_read(&rx_counters(m->rx[r])->igmp_queries);
	return q;
}

uint64_t lcore_map_port_packets(const struct lcore_map *m, uint16_t port_id)
{
	uint64_t n = 0;

	for (uint16_t r = 0; r < m->n_rx; r++)
		n += counter_read(&rx_counters(m->rx[r])->rx_packets[port_id]);
	return n;
}

void lcore_map_frames(const struct lcore_map *m, uint64_t *enqueued, uint64_t *done)
{
	*enqueued = *done = 0;
	for (uint16_t r = 0; r < m->n_rx; r++)
		*enqueued += counter_read(&rx_counters(m->rx[r])->ring_enqueued);
	for (uint16_t t = 0; t < m->n_tx; t++)
		*done += counter_read(&tx_counters(m->tx[t])->tx_done);
}

void lcore_map_latency(const struct lcore_map *m, struct latency_hist *acc)
{
	for (uint16_t t = 0; t < m->n_tx; t++)
		latency_merge(acc, tx_latency(m->tx[t]));
}

struct rx_lcore *lcore_map_rx(const struct lcore_map *m, uint16_t i)
{
	return i < m->n_rx ? m->rx[i] : NULL;
}

struct tx_lcore *lcore_map_tx(const struct lcore_map *m, uint16_t i)
{
	return i < m->n_tx ? m->tx[i] : NULL;
}

struct rte_ring *lcore_map_ring(const struct lcore_map *m, uint16_t rx, uint16_t tx)
{
	return rx < m->n_rx && tx < m->n_tx ? m->rings[rx][tx] : NULL;
}
