/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stats.json and the /aster/ DPDK telemetry commands (report.h). Runs on the main lcore,
 * the control thread or DPDK's telemetry thread, never on a polling core.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_telemetry.h>

#include "lcore.h"
#include "report.h"
#include "table.h"

#include "../common/counter.h"

/* In-appliance latency over every TX lcore (latency.h), in whole ns. */
#define LATENCY_FIELDS(X) X(count) X(mean_ns) X(p50_ns) X(p90_ns) X(p99_ns) X(p999_ns) X(max_ns)

static void latency_totals(const struct lcore_map *m, struct latency_summary *s)
{
	struct latency_hist acc;

	memset(&acc, 0, sizeof(acc));
	lcore_map_latency(m, &acc);
	latency_summarize(&acc, rte_get_tsc_hz(), s);
}

static json_t *feeds_json(const struct table *t)
{
	const struct routing_config *cfg = table_config(t);
	json_t *feeds = json_object();

	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		struct counter_feed c;
		json_t *o = json_object();

		table_feed_counters(t, f, &c);
#define X(n, help) json_object_set_new(o, #n, json_integer((json_int_t)c.n));
		COUNTER_FEED(X)
#undef X
		json_object_set_new(feeds, cfg->feeds[f].name, o);
	}
	return feeds;
}

static json_t *subs_json(const struct table *t)
{
	const struct routing_config *cfg = table_config(t);
	json_t *subs = json_object();

	for (uint32_t s = 0; s < cfg->n_subs; s++) {
		struct counter_sub c;
		json_t *o = json_object();

		table_sub_counters(t, s, &c);
#define X(n, help) json_object_set_new(o, #n, json_integer((json_int_t)c.n));
		COUNTER_SUB(X)
#undef X
		json_object_set_new(subs, cfg->subs[s].name, o);
	}
	return subs;
}

static json_t *drops_json(const struct table *t)
{
	json_t *drops = json_object();
	uint64_t d[DROP__MAX];

	table_drops(t, d);
	for (int i = 1; i < DROP__MAX; i++)
		json_object_set_new(drops, stats_drop_name[i], json_integer((json_int_t)d[i]));
	return drops;
}

static json_t *lcores_json(const struct lcore_map *m)
{
	struct lcore_health h[2 * PROFILE_MAX_LCORES];
	uint32_t n = lcore_map_health(m, h, RTE_DIM(h));
	json_t *lcores = json_object();

	for (uint32_t i = 0; i < n; i++) {
		bool rx = h[i].roles & PROFILE_ROLE_RX;
		char name[32];

		snprintf(name, sizeof(name), "%s%u", rx ? "rx" : "tx", h[i].lcore_id);
		json_object_set_new(lcores, name,
				    json_pack("{sI}", rx ? "iterations" : "packets",
					      (json_int_t)(rx ? h[i].heartbeat : h[i].frames)));
	}
	return lcores;
}

static json_t *latency_json(const struct lcore_map *m)
{
	struct latency_summary ls;
	json_t *o = json_object();

	latency_totals(m, &ls);
#define X(n) json_object_set_new(o, #n, json_integer((json_int_t)(ls.n + 0.5)));
	LATENCY_FIELDS(X)
#undef X
	return o;
}

json_t *report_json(const struct table *t, const struct lcore_map *m)
{
	json_t *root = json_object();

	if (root == NULL)
		return NULL;
	if (json_object_set_new(root, "feeds", feeds_json(t)) != 0 ||
	    json_object_set_new(root, "subscribers", subs_json(t)) != 0 ||
	    json_object_set_new(root, "drops", drops_json(t)) != 0 ||
	    json_object_set_new(root, "lcores", lcores_json(m)) != 0 ||
	    json_object_set_new(root, "latency", latency_json(m)) != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/*
 * Telemetry: the callbacks run on DPDK's telemetry thread. The table and map are
 * attached while the lcores run; tel_lock orders attach/detach against a callback in
 * flight, and the table lock a table apply (which swaps names and slots under it).
 */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *tel_table;
static const struct lcore_map *tel_map;

static void tel_acquire(void)
{
	pthread_mutex_lock(&tel_lock);
	if (tel_table != NULL)
		table_lock(tel_table);
}

static void tel_release(void)
{
	if (tel_table != NULL)
		table_unlock(tel_table);
	pthread_mutex_unlock(&tel_lock);
}

static int tel_feeds(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	tel_acquire();
	for (uint32_t f = 0; tel_table != NULL && f < table_config(tel_table)->n_feeds; f++)
		rte_tel_data_add_array_string(d, table_config(tel_table)->feeds[f].name);
	tel_release();
	return 0;
}

static int tel_feed(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -EINVAL;

	RTE_SET_USED(cmd);
	tel_acquire();
	if (tel_table != NULL && params != NULL) {
		int f = routing_config_feed_index(table_config(tel_table), params);

		if (f >= 0) {
			struct counter_feed c;

			table_feed_counters(tel_table, (uint32_t)f, &c);
			rte_tel_data_start_dict(d);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, c.n);
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
	for (uint32_t s = 0; tel_table != NULL && s < table_config(tel_table)->n_subs; s++)
		rte_tel_data_add_array_string(d, table_config(tel_table)->subs[s].name);
	tel_release();
	return 0;
}

static int tel_subscriber(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -EINVAL;

	RTE_SET_USED(cmd);
	tel_acquire();
	if (tel_table != NULL && params != NULL) {
		int s = routing_config_sub_index(table_config(tel_table), params);

		if (s >= 0) {
			struct counter_sub c;

			table_sub_counters(tel_table, (uint32_t)s, &c);
			rte_tel_data_start_dict(d);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, c.n);
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
	if (tel_table != NULL) {
		table_drops(tel_table, drops);
		for (int i = 1; i < DROP__MAX; i++)
			rte_tel_data_add_dict_u64(d, stats_drop_name[i], drops[i]);
	}
	tel_release();
	return 0;
}

static int tel_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct lcore_health h[2 * PROFILE_MAX_LCORES];
	char name[32];

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_dict(d);
	tel_acquire();
	uint32_t n = tel_map != NULL ? lcore_map_health(tel_map, h, RTE_DIM(h)) : 0;

	for (uint32_t i = 0; i < n; i++) {
		bool rx = h[i].roles & PROFILE_ROLE_RX;

		snprintf(name, sizeof(name), "%s%u_%s", rx ? "rx" : "tx", h[i].lcore_id,
			 rx ? "iterations" : "packets");
		rte_tel_data_add_dict_u64(d, name, rx ? h[i].heartbeat : h[i].frames);
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

int report_telemetry_register(void)
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

void report_telemetry_attach(struct table *t, const struct lcore_map *m)
{
	pthread_mutex_lock(&tel_lock);
	tel_table = t;
	tel_map = m;
	pthread_mutex_unlock(&tel_lock);
}

void report_telemetry_detach(void)
{
	report_telemetry_attach(NULL, NULL);
}
