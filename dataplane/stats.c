/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counter blocks and their readers: stats.json (jansson) and DPDK telemetry. Readers
 * run on the main lcore or the telemetry thread, never on a polling core.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_telemetry.h>

#include "lcore.h"
#include "stats.h"

const char *const stats_drop_name[DROP__MAX] = {[DROP_NONE] = "none",
#define X(id, name) [DROP_##id] = name,
						STATS_DROP_LIST(X)
#undef X
};

struct stats_block *stats_block_create(uint32_t n_subs)
{
	struct stats_block *b = rte_zmalloc(NULL, sizeof(*b), RTE_CACHE_LINE_SIZE);

	if (b == NULL)
		return NULL;
	b->n_subs = n_subs;
	b->subs = rte_zmalloc(NULL, sizeof(*b->subs) * (n_subs ? n_subs : 1), RTE_CACHE_LINE_SIZE);
	if (b->subs == NULL) {
		rte_free(b);
		return NULL;
	}
	return b;
}

void stats_block_free(struct stats_block *b)
{
	if (b == NULL)
		return;
	rte_free(b->subs);
	rte_free(b);
}

void stats_feed_totals(const struct lcore_map *map, uint32_t feed, struct counter_feed *t)
{
	uint32_t slot = map->feed_slot[feed];
	const struct rx_feed *fd = map->rx[map->feed_owner[slot]]->feed_by_slot[slot];
	const struct arbiter_counters *c;

	memset(t, 0, sizeof(*t));
	if (fd == NULL)
		return;
	c = &fd->arb.c;
#define X(n, help) t->n = counter_read(&fd->n);
	COUNTER_FEED_RX(X)
#undef X
#define X(n, help) t->n = counter_read(&c->n);
	COUNTER_ARBITER(X)
#undef X
}

static void block_sub(const struct stats_block *b, uint32_t slot, struct counter_sub *t)
{
	if (b == NULL || slot >= b->n_subs)
		return;
#define X(n, help) t->n += counter_read(&b->subs[slot].n);
	COUNTER_SUB(X)
#undef X
}

void stats_slot_totals(const struct lcore_map *map, uint32_t slot, struct counter_sub *t)
{
	memset(t, 0, sizeof(*t));
	for (uint16_t r = 0; r < map->n_rx; r++)
		block_sub(map->rx[r]->st, slot, t);
	for (uint16_t i = 0; i < map->n_tx; i++)
		block_sub(map->tx[i]->st, slot, t);
}

void stats_sub_totals(const struct lcore_map *map, uint32_t sub, struct counter_sub *t)
{
	uint32_t slot = map->sub_slot[sub];
	const struct counter_sub *base = &map->sub_base[slot];

	stats_slot_totals(map, slot, t);
#define X(n, help) t->n -= base->n;
	COUNTER_SUB(X)
#undef X
}

void stats_drop_totals(const struct lcore_map *map, uint64_t drops[DROP__MAX])
{
	memset(drops, 0, sizeof(uint64_t) * DROP__MAX);
	for (uint16_t r = 0; r < map->n_rx; r++)
		for (int d = 0; d < DROP__MAX; d++)
			drops[d] += counter_read(&map->rx[r]->st->drops[d]);
	for (uint16_t t = 0; t < map->n_tx; t++)
		for (int d = 0; d < DROP__MAX; d++)
			drops[d] += counter_read(&map->tx[t]->st->drops[d]);
	for (uint32_t f = 0; map->table != NULL && f < map->table->n_feeds; f++) {
		struct counter_feed t;

		stats_feed_totals(map, f, &t);
		drops[DROP_DUPLICATE] += t.duplicates;
		drops[DROP_LATE] += t.late;
		drops[DROP_STALE_SESSION] += t.stale_session;
	}
}

/* In-appliance latency over every TX lcore (latency.h), in whole ns. */
#define LATENCY_FIELDS(X) X(count) X(mean_ns) X(p50_ns) X(p90_ns) X(p99_ns) X(p999_ns) X(max_ns)

static void latency_totals(const struct lcore_map *map, struct latency_summary *s)
{
	struct latency_hist acc;

	memset(&acc, 0, sizeof(acc));
	for (uint16_t t = 0; t < map->n_tx; t++)
		latency_merge(&acc, &map->tx[t]->lat);
	latency_summarize(&acc, rte_get_tsc_hz(), s);
}

struct json_t *stats_json(const struct lcore_map *map)
{
	const struct routing_config *cfg = map->table;
	json_t *root = json_object(), *feeds = json_object(), *subs = json_object();
	json_t *drops = json_object(), *lcores = json_object();
	uint64_t d[DROP__MAX];

	if (!root || !feeds || !subs || !drops || !lcores)
		goto fail;
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		struct counter_feed t;
		json_t *o = json_object();

		stats_feed_totals(map, f, &t);
#define X(n, help) json_object_set_new(o, #n, json_integer((json_int_t)t.n));
		COUNTER_FEED(X)
#undef X
		json_object_set_new(feeds, cfg->feeds[f].name, o);
	}
	for (uint32_t s = 0; s < cfg->n_subs; s++) {
		struct counter_sub t;
		json_t *o = json_object();

		stats_sub_totals(map, s, &t);
#define X(n, help) json_object_set_new(o, #n, json_integer((json_int_t)t.n));
		COUNTER_SUB(X)
#undef X
		json_object_set_new(subs, cfg->subs[s].name, o);
	}
	stats_drop_totals(map, d);
	for (int i = 1; i < DROP__MAX; i++)
		json_object_set_new(drops, stats_drop_name[i], json_integer((json_int_t)d[i]));
	for (uint16_t r = 0; r < map->n_rx; r++) {
		char name[32];

		snprintf(name, sizeof(name), "rx%u", map->rx[r]->lcore_id);
		json_object_set_new(
		    lcores, name,
		    json_pack("{sI}", "iterations",
			      (json_int_t)counter_read(&map->rx[r]->st->iterations)));
	}
	for (uint16_t t = 0; t < map->n_tx; t++) {
		char name[32];

		snprintf(name, sizeof(name), "tx%u", map->tx[t]->lcore_id);
		json_object_set_new(lcores, name,
				    json_pack("{sI}", "packets",
					      (json_int_t)counter_read(&map->tx[t]->st->tx_done)));
	}
	json_object_set_new(root, "feeds", feeds);
	json_object_set_new(root, "subscribers", subs);
	json_object_set_new(root, "drops", drops);
	json_object_set_new(root, "lcores", lcores);
	{
		struct latency_summary ls;
		json_t *o = json_object();

		latency_totals(map, &ls);
#define X(n) json_object_set_new(o, #n, json_integer((json_int_t)(ls.n + 0.5)));
		LATENCY_FIELDS(X)
#undef X
		json_object_set_new(root, "latency", o);
	}
	return root;
fail:
	json_decref(root);
	json_decref(feeds);
	json_decref(subs);
	json_decref(drops);
	json_decref(lcores);
	return NULL;
}

/* Telemetry: the callbacks run on DPDK's telemetry thread. The map is attached while
 * the lcores run; the lock only orders attach/detach against a callback in flight. */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lcore_map *tel_map;

/* Hold the attach lock and the map's table lock (a table apply swaps names and slots
 * under it) while a callback reads. */
static void tel_acquire(void)
{
	pthread_mutex_lock(&tel_lock);
	if (tel_map != NULL)
		pthread_mutex_lock(&tel_map->lock);
}

static void tel_release(void)
{
	if (tel_map != NULL)
		pthread_mutex_unlock(&tel_map->lock);
	pthread_mutex_unlock(&tel_lock);
}

static int tel_feeds(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	tel_acquire();
	for (uint32_t f = 0; tel_map != NULL && f < tel_map->table->n_feeds; f++)
		rte_tel_data_add_array_string(d, tel_map->table->feeds[f].name);
	tel_release();
	return 0;
}

static int tel_feed(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -EINVAL;

	RTE_SET_USED(cmd);
	tel_acquire();
	if (tel_map != NULL && params != NULL) {
		int f = routing_config_feed_index(tel_map->table, params);

		if (f >= 0) {
			struct counter_feed t;

			stats_feed_totals(tel_map, (uint32_t)f, &t);
			rte_tel_data_start_dict(d);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, t.n);
			COUNTER_FEED(X)
#undef X
			rc = 0;
		}
	}
	tel_release();
	return rc;
}

static int tel_subscribers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	tel_acquire();
	for (uint32_t s = 0; tel_map != NULL && s < tel_map->table->n_subs; s++)
		rte_tel_data_add_array_string(d, tel_map->table->subs[s].name);
	tel_release();
	return 0;
}

static int tel_subscriber(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -EINVAL;

	RTE_SET_USED(cmd);
	tel_acquire();
	if (tel_map != NULL && params != NULL) {
		int s = routing_config_sub_index(tel_map->table, params);

		if (s >= 0) {
			struct counter_sub t;

			stats_sub_totals(tel_map, (uint32_t)s, &t);
			rte_tel_data_start_dict(d);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, t.n);
			COUNTER_SUB(X)
#undef X
			rc = 0;
		}
	}
	tel_release();
	return rc;
}

static int tel_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	uint64_t drops[DROP__MAX];

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	tel_acquire();
	if (tel_map != NULL) {
		stats_drop_totals(tel_map, drops);
		for (int i = 1; i < DROP__MAX; i++)
			rte_tel_data_add_dict_u64(d, stats_drop_name[i], drops[i]);
	}
	tel_release();
	return 0;
}

static int tel_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	char name[32];

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	tel_acquire();
	for (uint16_t r = 0; tel_map != NULL && r < tel_map->n_rx; r++) {
		snprintf(name, sizeof(name), "rx%u_iterations", tel_map->rx[r]->lcore_id);
		rte_tel_data_add_dict_u64(d, name, counter_read(&tel_map->rx[r]->st->iterations));
	}
	for (uint16_t t = 0; tel_map != NULL && t < tel_map->n_tx; t++) {
		snprintf(name, sizeof(name), "tx%u_packets", tel_map->tx[t]->lcore_id);
		rte_tel_data_add_dict_u64(d, name, counter_read(&tel_map->tx[t]->st->tx_done));
	}
	tel_release();
	return 0;
}

static int tel_latency(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct latency_summary ls;

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	tel_acquire();
	if (tel_map != NULL) {
		latency_totals(tel_map, &ls);
#define X(n) rte_tel_data_add_dict_u64(d, #n, (uint64_t)(ls.n + 0.5));
		LATENCY_FIELDS(X)
#undef X
	}
	tel_release();
	return 0;
}

int stats_telemetry_register(void)
{
	int rc = 0;

	rc |= rte_telemetry_register_cmd("/aster/feeds", tel_feeds, "Feed names.");
	rc |= rte_telemetry_register_cmd("/aster/feed", tel_feed,
					 "Counters of one feed. Parameters: feed name.");
	rc |=
	    rte_telemetry_register_cmd("/aster/subscribers", tel_subscribers, "Subscriber names.");
	rc |=
	    rte_telemetry_register_cmd("/aster/subscriber", tel_subscriber,
				       "Counters of one subscriber. Parameters: subscriber name.");
	rc |= rte_telemetry_register_cmd("/aster/drops", tel_drops, "Drops by reason.");
	rc |= rte_telemetry_register_cmd("/aster/lcores", tel_lcores, "Polling lcore heartbeats.");
	rc |= rte_telemetry_register_cmd(
	    "/aster/latency", tel_latency,
	    "In-appliance latency, RX burst to TX burst, per output frame: count, ns percentiles.");
	return rc ? -EINVAL : 0;
}

void stats_telemetry_attach(struct lcore_map *map)
{
	pthread_mutex_lock(&tel_lock);
	tel_map = map;
	pthread_mutex_unlock(&tel_lock);
}

void stats_telemetry_detach(void)
{
	stats_telemetry_attach(NULL);
}
