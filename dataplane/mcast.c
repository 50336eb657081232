/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Feed group membership from the control thread (mcast.h). Reads the table in force
 * (table.h: the control thread is the one that applies tables, so it reads without the
 * lock), the feeds' per-line packet counters and the RX lcores' IGMP query counts
 * (lcore.h), and writes only its own state and the RX ports' control TX queue.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp_log.h"
#include "igmp.h"
#include "lcore.h"
#include "mcast.h"
#include "port_rx.h"
#include "table.h"

DP_LOG_REGISTER(mcast);
#define MLOG(level, ...) DP_LOG(mcast, level, __VA_ARGS__)

#define MCAST_NS_PER_S	UINT64_C(1000000000)
#define MCAST_MAX_LINES PORT_MAX_FLOWS
/* Queries are answered at most this often: a query storm costs one report burst a
 * second, not one per query. */
#define ANSWER_MIN_NS MCAST_NS_PER_S
/* A join is sent twice (RFC 2236 §3 and RFC 3376 §5.1: the state change is repeated
 * robustness - 1 = 1 more time), this long after the first, in case one is lost. */
#define RETX_NS MCAST_NS_PER_S

struct mcast_line {
	uint32_t feed_index; /* in the table in force (taken again when it changes) */
	uint8_t line;	     /* index in the feed */
	uint32_t group;
	uint16_t udp_port;
	char feed[RC_NAME_MAX];
	char name[RC_NAME_MAX];
	uint64_t seen;	   /* line_packets at the last change */
	uint64_t since_ns; /* when it last received (or was joined) */
	bool silent;	   /* warned, not yet receiving again */
};

struct mcast {
	const struct table *table;
	const struct lcore_map *map;
	const struct lcore_ports *ports;
	struct rte_mempool *pool; /* IGMP frames */
	const struct profile *prof;
	bool started;
	uint64_t generation; /* table_generation the lines were taken from */
	uint32_t n_lines;
	struct mcast_line lines[MCAST_MAX_LINES];
	uint32_t n_groups;
	uint32_t groups[MCAST_MAX_LINES]; /* distinct multicast groups, joined */
	uint64_t next_report_ns;
	uint64_t last_answer_ns;
	uint32_t n_retx;
	uint32_t retx[MCAST_MAX_LINES]; /* joins to repeat at retx_ns */
	uint64_t retx_ns;
	struct mcast_counters c;
};

static void ip_str(uint32_t ip, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
}

/* Hand one frame to the RX port's lcore, which sends it on the port's TX queue. */
static void send_frame(struct mcast *m, uint16_t port, int txq, const uint8_t *frame, size_t len)
{
	struct rte_mbuf *mb = rte_pktmbuf_alloc(m->pool);

	if (mb == NULL || rte_pktmbuf_append(mb, (uint16_t)len) == NULL) {
		rte_pktmbuf_free(mb);
		m->c.tx_failed++;
		return;
	}
	memcpy(rte_pktmbuf_mtod(mb, uint8_t *), frame, len);
	RTE_SET_USED(txq);
	/* the port's RX lcore owns its TX queue and sends it (port_rx.h) */
	if (port_rx_ctl_send(port, mb) != 0) {
		rte_pktmbuf_free(mb);
		m->c.tx_failed++;
	}
}

/*
 * Reports (join = true: state change or current state) or leaves for `groups[0..n)`
 * on every RX port. v2: one message per group; v3: records packed into reports of at
 * most IGMP_V3_MAX_RECORDS (CHANGE_TO_EXCLUDE for a join, MODE_IS_EXCLUDE for the
 * current state, CHANGE_TO_INCLUDE for a leave; RFC 3376 §5.1).
 */
static void send_all(struct mcast *m, const uint32_t *groups, uint32_t n, uint8_t v3_record)
{
	static uint8_t frame[IGMP_V3_FRAME_MAX];
	bool leave = v3_record == IGMP_V3_CHANGE_TO_INCLUDE;

	if (m->prof->igmp == PROFILE_IGMP_OFF || n == 0)
		return;
	for (uint16_t i = 0; i < m->ports->n_in; i++) {
		uint16_t port = m->ports->in[i];
		int txq = port_rx_ctl_txq(port);
		const struct profile_port *pp = port_rx_profile(port);
		struct rte_ether_addr mac;
		size_t len;

		if (txq < 0 || pp == NULL || rte_eth_macaddr_get(port, &mac) != 0)
			continue;
		if (m->prof->igmp == PROFILE_IGMP_V2) {
			for (uint32_t g = 0; g < n; g++) {
				len =
				    igmp_build_v2(frame, sizeof(frame),
						  leave ? IGMP_TYPE_V2_LEAVE : IGMP_TYPE_V2_REPORT,
						  mac.addr_bytes, pp->ip, groups[g]);
				send_frame(m, port, txq, frame, len);
			}
		} else {
			for (uint32_t g = 0; g < n; g += IGMP_V3_MAX_RECORDS) {
				uint32_t k =
				    n - g < IGMP_V3_MAX_RECORDS ? n - g : IGMP_V3_MAX_RECORDS;

				len = igmp_build_v3(frame, sizeof(frame), mac.addr_bytes, pp->ip,
						    v3_record, groups + g, (uint16_t)k);
				send_frame(m, port, txq, frame, len);
			}
		}
		if (leave)
			m->c.leaves += n;
		else
			m->c.reports += n;
	}
}

static bool has_group(const uint32_t *groups, uint32_t n, uint32_t g)
{
	for (uint32_t i = 0; i < n; i++)
		if (groups[i] == g)
			return true;
	return false;
}

static uint64_t line_count(const struct mcast *m, const struct mcast_line *l)
{
	return table_line_packets(m->table, l->feed_index, l->line);
}

/* The table in force changed (or this is the first turn): new lines, filters, rules,
 * joins and leaves. */
static void table_changed(struct mcast *m, uint64_t now_ns)
{
	const struct routing_config *cfg = table_config(m->table);
	struct port_flow_key keys[MCAST_MAX_LINES];
	uint32_t groups[MCAST_MAX_LINES], n_groups = 0, joined[MCAST_MAX_LINES], n_joined = 0;
	uint32_t left[MCAST_MAX_LINES], n_left = 0, n = 0;
	char g[16];

	for (uint32_t f = 0; cfg != NULL && f < cfg->n_feeds; f++)
		for (uint16_t l = 0; l < cfg->feeds[f].n_lines; l++) {
			const struct rc_line *rl = &cfg->feeds[f].lines[l];
			struct mcast_line *ml = &m->lines[n];

			if (n == MCAST_MAX_LINES) {
				MLOG(WARNING, "more than %u feed lines: the rest are not joined\n",
				     MCAST_MAX_LINES);
				goto done;
			}
			/* a line that stays keeps its silence watch */
			struct mcast_line old = {0};
			bool kept = false;

			for (uint32_t i = 0; i < m->n_lines && !kept; i++)
				if (strcmp(m->lines[i].feed, cfg->feeds[f].name) == 0 &&
				    strcmp(m->lines[i].name, rl->name) == 0 &&
				    m->lines[i].group == rl->group &&
				    m->lines[i].udp_port == rl->port) {
					old = m->lines[i];
					kept = true;
				}
			memset(ml, 0, sizeof(*ml));
			ml->feed_index = f;
			ml->line = (uint8_t)l;
			ml->group = rl->group;
			ml->udp_port = rl->port;
			snprintf(ml->feed, sizeof(ml->feed), "%s", cfg->feeds[f].name);
			snprintf(ml->name, sizeof(ml->name), "%s", rl->name);
			ml->since_ns = kept ? old.since_ns : now_ns;
			ml->silent = kept && old.silent;
			ml->seen = line_count(m, ml);
			keys[n] = (struct port_flow_key){rl->group, rl->port};
			if (igmp_is_multicast(rl->group) && !has_group(groups, n_groups, rl->group))
				groups[n_groups++] = rl->group;
			n++;
		}
done:
	m->n_lines = n;
	for (uint16_t i = 0; i < m->ports->n_in; i++)
		port_rx_lines_set(m->ports->in[i], keys, n);
	for (uint32_t i = 0; i < n_groups; i++)
		if (!has_group(m->groups, m->n_groups, groups[i]))
			joined[n_joined++] = groups[i];
	for (uint32_t i = 0; i < m->n_groups; i++)
		if (!has_group(groups, n_groups, m->groups[i]))
			left[n_left++] = m->groups[i];
	send_all(m, left, n_left, IGMP_V3_CHANGE_TO_INCLUDE);
	send_all(m, joined, n_joined, IGMP_V3_CHANGE_TO_EXCLUDE);
	if (n_joined != 0) {
		/* groups still waiting for their repeat from an earlier change are repeated
		 * now with these (the list holds each group once) */
		for (uint32_t i = 0; i < n_joined; i++)
			if (!has_group(m->retx, m->n_retx, joined[i]))
				m->retx[m->n_retx++] = joined[i];
		m->retx_ns = now_ns + RETX_NS;
	}
	for (uint32_t i = 0; i < n_joined; i++) {
		ip_str(joined[i], g, sizeof(g));
		MLOG(INFO, "group %s joined (IGMP %s) on %u RX ports\n", g,
		     profile_igmp_name(m->prof->igmp), m->ports->n_in);
	}
	for (uint32_t i = 0; i < n_left; i++) {
		ip_str(left[i], g, sizeof(g));
		MLOG(INFO, "group %s left\n", g);
	}
	memcpy(m->groups, groups, sizeof(groups[0]) * n_groups);
	m->n_groups = n_groups;
}

static void watch_silence(struct mcast *m, uint64_t now_ns)
{
	uint64_t limit = (uint64_t)m->prof->silence_warn_s * MCAST_NS_PER_S;
	char g[16];

	for (uint32_t i = 0; i < m->n_lines; i++) {
		struct mcast_line *l = &m->lines[i];
		uint64_t c = line_count(m, l);

		ip_str(l->group, g, sizeof(g));
		if (c != l->seen) {
			if (l->silent)
				MLOG(NOTICE, "feed %s line %s group %s: receiving again\n", l->feed,
				     l->name, g);
			l->seen = c;
			l->since_ns = now_ns;
			l->silent = false;
		} else if (limit != 0 && !l->silent && now_ns - l->since_ns >= limit) {
			MLOG(WARNING,
			     "feed %s line %s group %s: joined but silent for %" PRIu64 " s\n",
			     l->feed, l->name, g, (now_ns - l->since_ns) / MCAST_NS_PER_S);
			l->silent = true;
		}
	}
}

struct mcast *mcast_create(const struct table *t, const struct lcore_map *map,
			   struct rte_mempool *pool)
{
	struct mcast *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->table = t;
	m->map = map;
	m->ports = lcore_map_ports(map);
	m->pool = pool;
	m->prof = lcore_map_profile(map);
	return m;
}

void mcast_tick(struct mcast *m, uint64_t now_ns)
{
	uint64_t q;

	if (!m->started || m->generation != table_generation(m->table)) {
		table_changed(m, now_ns);
		m->generation = table_generation(m->table);
		if (!m->started) {
			m->c.queries = lcore_map_igmp_queries(m->map);
			m->next_report_ns =
			    now_ns + (uint64_t)m->prof->igmp_interval_s * MCAST_NS_PER_S;
		}
		m->started = true;
	}
	q = lcore_map_igmp_queries(m->map);
	if (q != m->c.queries && now_ns - m->last_answer_ns >= ANSWER_MIN_NS) {
		/* RFC 2236 §3 / RFC 3376 §5.2 ask for a random delay up to the query's
		 * maximum response time to spread hosts' answers; one appliance answering
		 * within a control turn is well inside any response time. */
		m->c.queries = q;
		m->c.answers++;
		m->last_answer_ns = now_ns;
		send_all(m, m->groups, m->n_groups, IGMP_V3_MODE_IS_EXCLUDE);
	}
	if (m->n_retx != 0 && now_ns >= m->retx_ns) {
		uint32_t n = 0;

		/* only the groups still in the table */
		for (uint32_t i = 0; i < m->n_retx; i++)
			if (has_group(m->groups, m->n_groups, m->retx[i]))
				m->retx[n++] = m->retx[i];
		send_all(m, m->retx, n, IGMP_V3_CHANGE_TO_EXCLUDE);
		m->n_retx = 0;
	}
	if (now_ns >= m->next_report_ns) {
		send_all(m, m->groups, m->n_groups, IGMP_V3_MODE_IS_EXCLUDE);
		m->next_report_ns = now_ns + (uint64_t)m->prof->igmp_interval_s * MCAST_NS_PER_S;
	}
	watch_silence(m, now_ns);
}

void mcast_counters(const struct mcast *m, struct mcast_counters *c)
{
	*c = m->c;
}

void mcast_free(struct mcast *m)
{
	if (m == NULL)
		return;
	if (m->started) {
		/* RFC 3376 §5.1 repeats state changes (Robustness Variable); here the repeat
		 * also matters because the ports stop right after: a PMD that queues TX and
		 * kicks it on the next burst (net_af_packet's TX ring) gets that next burst,
		 * and a moment to hand both to the wire. Shutdown only, off the hot cores. */
		const struct timespec gap = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};

		uint64_t failed = m->c.tx_failed;

		for (int k = 0; k < 2; k++) {
			send_all(m, m->groups, m->n_groups, IGMP_V3_CHANGE_TO_INCLUDE);
			nanosleep(&gap, NULL);
		}
		MLOG(NOTICE, "left %u groups at shutdown (%" PRIu64 " IGMP frames not sent)\n",
		     m->n_groups, m->c.tx_failed - failed);
	}
	free(m);
}
