/* SPDX-License-Identifier: BSD-3-Clause */
/* The health segment's writer and /aster/health (health_writer.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "health_writer.h"
#include "lcore.h"
#include "table.h"

#include "../common/health_eval.h"
#include "../common/health_shm.h"

struct health_writer {
	struct table *table;
	const struct lcore_map *map;
	struct health_shm *shm;
	struct health_eval eval; /* heartbeats, noted at every rewrite */
};

/* The writer /aster/health reads, and the lock that orders it against a rewrite (the
 * seqlock is for aster-control, in another process). */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct health_writer *tel_writer;

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void copy_name(char *dst, const char *src)
{
	snprintf(dst, HEALTH_NAME, "%s", src);
}

static void put_lcores(struct health_shm *h, const struct lcore_map *m)
{
	struct lcore_health l[HEALTH_MAX_LCORES];
	uint32_t n = lcore_map_health(m, l, HEALTH_MAX_LCORES);

	for (uint32_t i = 0; i < n; i++)
		h->lcores[i] = (struct health_lcore){
		    .lcore_id = l[i].lcore_id,
		    .roles = l[i].roles & PROFILE_ROLE_RX ? HEALTH_ROLE_RX : HEALTH_ROLE_TX,
		    .heartbeat = l[i].heartbeat,
		    .ring_used = l[i].ring_used,
		    .ring_size = l[i].ring_size,
		};
	h->n_lcores = n;
}

static void put_port(struct health_port *hp, const struct lcore_map *m, uint16_t port,
		     const char *name, bool rx)
{
	struct rte_eth_stats es;
	struct rte_eth_link link;

	memset(&es, 0, sizeof(es));
	memset(&link, 0, sizeof(link));
	rte_eth_stats_get(port, &es);
	rte_eth_link_get_nowait(port, &link);
	copy_name(hp->name, name);
	hp->is_rx = rx;
	hp->link_up = link.link_status == RTE_ETH_LINK_UP;
	hp->packets = rx ? es.ipackets : es.opackets;
	hp->missed = rx ? es.imissed + es.ierrors : es.oerrors;
	lcore_map_port_counters(m, port, &hp->c);
}

/* Inputs by their ethdev name, outputs by their routing-table name. */
static void put_ports(struct health_shm *h, const struct lcore_map *m)
{
	const struct lcore_ports *p = lcore_map_ports(m);
	uint32_t n = 0;

	for (uint16_t i = 0; i < p->n_in && n < HEALTH_MAX_PORTS; i++, n++) {
		char name[RTE_ETH_NAME_MAX_LEN] = "";

		rte_eth_dev_get_name_by_port(p->in[i], name);
		put_port(&h->ports[n], m, p->in[i], name, true);
	}
	for (uint16_t i = 0; i < p->n_out && n < HEALTH_MAX_PORTS; i++, n++)
		put_port(&h->ports[n], m, p->out[i].port_id, p->out[i].name, false);
	h->n_ports = n;
}

static void put_counters(struct health_shm *h, const struct table *t)
{
	const struct routing_config *cfg = table_config(t);
	uint64_t drops[DROP__MAX];
	uint32_t n = 0;

	table_drops(t, drops);
	for (int d = 1; d < DROP__MAX && n < HEALTH_MAX_DROPS; d++, n++) {
		copy_name(h->drops[n].name, stats_drop_name[d]);
		h->drops[n].value = drops[d];
	}
	h->n_drops = n;
	for (n = 0; cfg != NULL && n < cfg->n_feeds && n < HEALTH_MAX_FEEDS; n++) {
		uint32_t ranges, held;

		copy_name(h->feeds[n].name, cfg->feeds[n].name);
		table_feed_counters(t, n, &h->feeds[n].c);
		table_feed_recovering(t, n, &ranges, &held);
		h->feeds[n].recovery_open_ranges = ranges;
		h->feeds[n].held_packets = held;
		h->feeds[n].n_lines = cfg->feeds[n].n_lines;
		for (uint16_t l = 0; l < cfg->feeds[n].n_lines && l < HEALTH_MAX_LINES; l++) {
			copy_name(h->feeds[n].lines[l].name, cfg->feeds[n].lines[l].name);
			table_line_counters(t, n, (uint8_t)l, &h->feeds[n].lines[l].c);
		}
	}
	h->n_feeds = n;
	for (n = 0; cfg != NULL && n < cfg->n_subs && n < HEALTH_MAX_SUBS; n++) {
		copy_name(h->subs[n].name, cfg->subs[n].name);
		table_sub_counters(t, n, &h->subs[n].c);
	}
	h->n_subs = n;
}

/* Rewrite the segment under its seqlock: odd while writing (health_shm.h). */
static void publish(struct health_writer *w)
{
	struct health_shm *h = w->shm;

	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->updated_ns = clock_ns(CLOCK_REALTIME);
	h->table_version = table_version(w->table);
	put_lcores(h, w->map);
	put_ports(h, w->map);
	put_counters(h, w->table);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
}

void health_writer_update(struct health_writer *w)
{
	pthread_mutex_lock(&tel_lock);
	publish(w);
	health_eval_track(&w->eval, w->shm, clock_ns(CLOCK_MONOTONIC));
	pthread_mutex_unlock(&tel_lock);
}

/*
 * /aster/health: the gauges of the health model (common/health_eval.h) over the
 * dataplane's own segment, as of now. Rising drops, gaps and table drift need sample
 * history and the store: aster-control's model (asterctl health, GET /health) adds them.
 */
static int tel_health(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *reasons = rte_tel_data_alloc(), *lcores = rte_tel_data_alloc();
	static struct health_verdict v; /* under tel_lock: too large for the stack */
	char name[32];

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	if (reasons == NULL || lcores == NULL) {
		rte_tel_data_free(reasons);
		rte_tel_data_free(lcores);
		return -ENOMEM;
	}
	rte_tel_data_start_array(reasons, RTE_TEL_STRING_VAL);
	rte_tel_data_start_dict(lcores);
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	if (tel_writer == NULL) {
		pthread_mutex_unlock(&tel_lock);
		rte_tel_data_add_dict_string(d, "state", "no control thread (replay)");
		rte_tel_data_free(reasons);
		rte_tel_data_free(lcores);
		return 0;
	}
	const struct health_shm *h = tel_writer->shm;

	health_verdict_clear(&v);
	health_eval_gauges(&tel_writer->eval, h, clock_ns(CLOCK_MONOTONIC), &v);
	for (uint32_t i = 0; i < v.n_reasons; i++)
		rte_tel_data_add_array_string(reasons, v.reasons[i]);
	for (uint32_t i = 0; i < h->n_lcores; i++) {
		snprintf(name, sizeof(name), "%s%u_heartbeat",
			 h->lcores[i].roles & HEALTH_ROLE_RX ? "rx" : "tx", h->lcores[i].lcore_id);
		rte_tel_data_add_dict_u64(lcores, name, h->lcores[i].heartbeat);
	}
	rte_tel_data_add_dict_string(d, "state", health_state_name(v.state));
	rte_tel_data_add_dict_u64(d, "table_version", h->table_version);
	rte_tel_data_add_dict_u64(d, "boot_id", h->boot_id);
	rte_tel_data_add_dict_container(d, "reasons", reasons, 0);
	rte_tel_data_add_dict_container(d, "lcores", lcores, 0);
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int map_file(struct health_writer *w, const char *path, uint64_t boot_id, char *err,
		    size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0 || ftruncate(fd, sizeof(struct health_shm)) != 0) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot create the health file: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	w->shm = mmap(NULL, sizeof(struct health_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (w->shm == MAP_FAILED) {
		w->shm = NULL;
		snprintf(err, errlen, "%s: cannot map the health file: %s", path, strerror(errno));
		return -errno;
	}
	w->shm->version = HEALTH_VERSION;
	w->shm->pid = (uint64_t)getpid();
	w->shm->boot_id = boot_id;
	__atomic_store_n(&w->shm->magic, HEALTH_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

struct health_writer *health_writer_create(struct table *t, const struct lcore_map *m,
					   const char *path, uint64_t boot_id, char *err,
					   size_t errlen)
{
	struct health_writer *w = calloc(1, sizeof(*w));

	if (w == NULL || health_eval_init(&w->eval, false) != 0) {
		free(w);
		snprintf(err, errlen, "out of memory for the health segment writer");
		return NULL;
	}
	w->table = t;
	w->map = m;
	if (map_file(w, path, boot_id, err, errlen) != 0) {
		health_writer_free(w);
		return NULL;
	}
	health_writer_update(w);
	pthread_mutex_lock(&tel_lock);
	tel_writer = w;
	pthread_mutex_unlock(&tel_lock);
	/* registered once per process; a second writer (none today) reuses it */
	rte_telemetry_register_cmd("/aster/health", tel_health,
				   "Dataplane health: state, reasons, lcore heartbeats.");
	return w;
}

void health_writer_free(struct health_writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&tel_lock);
	if (tel_writer == w)
		tel_writer = NULL;
	pthread_mutex_unlock(&tel_lock);
	if (w->shm != NULL)
		munmap(w->shm, sizeof(struct health_shm));
	health_eval_fini(&w->eval);
	free(w);
}
