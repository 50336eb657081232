/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stats.json and the /aster/ DPDK telemetry commands (report.h). Runs on the main lcore,
 * the control thread or DPDK's telemetry thread, never on a polling core.
 */
#include <errno.h>
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

/* Feed `i`'s lines by name, each with its counters (COUNTER_LINE). */
static json_t *lines_json(const struct table *t, uint32_t i)
{
	const struct rc_feed *fd = &table_config(t)->feeds[i];
	json_t *lines = json_object();

	for (uint16_t l = 0; l < fd->n_lines; l++) {
		struct counter_line c;
		json_t *o = json_object();

		table_line_counters(t, i, (uint8_t)l, &c);
#define X(n, help) json_object_set_new(o, #n, json_integer((json_int_t)c.n));
		COUNTER_LINE(X)
#undef X
		json_object_set_new(lines, fd->lines[l].name, o);
	}
	return lines;
}

/* "feeds" or "subscribers": each one's counters (common/counter.h) by name. */
static json_t *counters_json(const struct table *t, bool feeds)
{
	const struct routing_config *cfg = table_config(t);
	uint32_t n = feeds ? cfg->n_feeds : cfg->n_subs;
	json_t *all = json_object();

	for (uint32_t i = 0; i < n; i++) {
		json_t *o = json_object();
		struct counter_feed f;
		struct counter_sub s;

		if (feeds) {
			uint32_t ranges, held;

			table_feed_counters(t, i, &f);
			table_feed_recovering(t, i, &ranges, &held);
#define X(c, help) json_object_set_new(o, #c, json_integer((json_int_t)f.c));
			COUNTER_FEED(X)
#undef X
			/* gauges: upstream recovery now (docs/protocol.md §6.3) */
			json_object_set_new(o, "recovery_open_ranges", json_integer(ranges));
			json_object_set_new(o, "held_packets", json_integer(held));
			json_object_set_new(o, "lines", lines_json(t, i));
		} else {
			table_sub_counters(t, i, &s);
#define X(c, help) json_object_set_new(o, #c, json_integer((json_int_t)s.c));
			COUNTER_SUB(X)
#undef X
		}
		json_object_set_new(all, feeds ? cfg->feeds[i].name : cfg->subs[i].name, o);
	}
	return all;
}

/* One port's counters (COUNTER_PORT) as an object. */
static json_t *port_json(const struct lcore_map *m, uint16_t port_id)
{
	struct counter_port c;
	json_t *o = json_object();

	lcore_map_port_counters(m, port_id, &c);
#define X(n, help) json_object_set_new(o, #n, json_integer((json_int_t)c.n));
	COUNTER_PORT(X)
#undef X
	return o;
}

/* Every port by name: the inputs (profile names, "in<i>" in replay), then the outputs. */
static json_t *ports_json(const struct lcore_map *m)
{
	const struct lcore_ports *p = lcore_map_ports(m);
	json_t *ports = json_object();

	for (uint16_t i = 0; i < p->n_in; i++)
		json_object_set_new(ports, p->in_name[i], port_json(m, p->in[i]));
	for (uint16_t i = 0; i < p->n_out; i++)
		json_object_set_new(ports, p->out[i].name, port_json(m, p->out[i].port_id));
	return ports;
}

/* The DPDK port id of the port named `name`, or -1. */
static int port_by_name(const struct lcore_map *m, const char *name)
{
	const struct lcore_ports *p = lcore_map_ports(m);

	for (uint16_t i = 0; i < p->n_in; i++)
		if (strcmp(p->in_name[i], name) == 0)
			return p->in[i];
	for (uint16_t i = 0; i < p->n_out; i++)
		if (strcmp(p->out[i].name, name) == 0)
			return p->out[i].port_id;
	return -1;
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

/*
 * The merged histogram as [[upper_ns, count], ...], every bucket from the first used to
 * the last used (empty ones too, so that a chart shows the shape): the console draws it
 * (docs/console.md). Bounds are rounded like the summary's percentiles, so a percentile
 * falls in the first bucket whose bound is not below it.
 */
static json_t *latency_histogram_json(const struct lcore_map *m)
{
	double ns = 1e9 / (double)rte_get_tsc_hz();
	struct latency_hist acc;
	json_t *a = json_array();
	uint32_t lo = LATENCY_BUCKETS, hi = 0;

	memset(&acc, 0, sizeof(acc));
	lcore_map_latency(m, &acc);
	for (uint32_t b = 0; b < LATENCY_BUCKETS; b++) {
		if (acc.bucket[b] != 0) {
			lo = b < lo ? b : lo;
			hi = b;
		}
	}
	for (uint32_t b = lo; a != NULL && b <= hi && lo < LATENCY_BUCKETS; b++)
		json_array_append_new(
		    a, json_pack("[I, I]", (json_int_t)((double)latency_bucket_max(b) * ns + 0.5),
				 (json_int_t)acc.bucket[b]));
	return a;
}

json_t *report_json(const struct table *t, const struct lcore_map *m)
{
	json_t *root = json_object();

	if (root == NULL)
		return NULL;
	if (json_object_set_new(root, "feeds", counters_json(t, true)) != 0 ||
	    json_object_set_new(root, "subscribers", counters_json(t, false)) != 0 ||
	    json_object_set_new(root, "ports", ports_json(m)) != 0 ||
	    json_object_set_new(root, "drops", drops_json(t)) != 0 ||
	    json_object_set_new(root, "lcores", lcores_json(m)) != 0 ||
	    json_object_set_new(root, "latency", latency_json(m)) != 0 ||
	    json_object_set_new(root, "latency_histogram", latency_histogram_json(m)) != 0) {
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

/* /aster/feeds and /aster/subscribers: the names in the table in force. */
static int tel_names(struct rte_tel_data *d, bool feeds)
{
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	tel_acquire();
	if (tel_table != NULL) {
		const struct routing_config *cfg = table_config(tel_table);
		uint32_t n = feeds ? cfg->n_feeds : cfg->n_subs;

		for (uint32_t i = 0; i < n; i++)
			rte_tel_data_add_array_string(d, feeds ? cfg->feeds[i].name
							       : cfg->subs[i].name);
	}
	tel_release();
	return 0;
}

/* Feed `i`'s lines into /aster/feed,NAME: line_NAME, a dict of its counters (telemetry
 * nests one level only). */
static void tel_lines(struct rte_tel_data *d, uint32_t i)
{
	const struct rc_feed *fd = &table_config(tel_table)->feeds[i];

	for (uint16_t l = 0; l < fd->n_lines; l++) {
		struct rte_tel_data *o = rte_tel_data_alloc();
		struct counter_line c;
		char key[RC_NAME_MAX + 8];

		if (o == NULL)
			return;
		table_line_counters(tel_table, i, (uint8_t)l, &c);
		rte_tel_data_start_dict(o);
#define X(n, help) rte_tel_data_add_dict_u64(o, #n, c.n);
		COUNTER_LINE(X)
#undef X
		snprintf(key, sizeof(key), "line_%s", fd->lines[l].name);
		if (rte_tel_data_add_dict_container(d, key, o, 0) != 0)
			rte_tel_data_free(o);
	}
}

/* /aster/feed,NAME and /aster/subscriber,NAME: one's counters (common/counter.h). */
static int tel_counters(const char *params, struct rte_tel_data *d, bool feed)
{
	int rc = -EINVAL;

	tel_acquire();
	if (tel_table != NULL && params != NULL) {
		const struct routing_config *cfg = table_config(tel_table);
		int i = feed ? routing_config_feed_index(cfg, params)
			     : routing_config_sub_index(cfg, params);

		if (i >= 0) {
			struct counter_feed f;
			struct counter_sub s;

			rte_tel_data_start_dict(d);
			if (feed) {
				uint32_t ranges, held;

				table_feed_counters(tel_table, (uint32_t)i, &f);
				table_feed_recovering(tel_table, (uint32_t)i, &ranges, &held);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, f.n);
				COUNTER_FEED(X)
#undef X
				rte_tel_data_add_dict_u64(d, "recovery_open_ranges", ranges);
				rte_tel_data_add_dict_u64(d, "held_packets", held);
				tel_lines(d, (uint32_t)i);
			} else {
				table_sub_counters(tel_table, (uint32_t)i, &s);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, s.n);
				COUNTER_SUB(X)
#undef X
			}
			rc = 0;
		}
	}
	tel_release();
	return rc;
}

static int tel_feeds(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	return tel_names(d, true);
}

static int tel_feed(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	return tel_counters(params, d, true);
}

static int tel_subscribers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	return tel_names(d, false);
}

static int tel_subscriber(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	return tel_counters(params, d, false);
}

static int tel_ports(const char *cmd, const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	tel_acquire();
	if (tel_map != NULL) {
		const struct lcore_ports *p = lcore_map_ports(tel_map);

		for (uint16_t i = 0; i < p->n_in; i++)
			rte_tel_data_add_array_string(d, p->in_name[i]);
		for (uint16_t i = 0; i < p->n_out; i++)
			rte_tel_data_add_array_string(d, p->out[i].name);
	}
	tel_release();
	return 0;
}

static int tel_port(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int rc = -EINVAL;

	RTE_SET_USED(cmd);
	tel_acquire();
	if (tel_map != NULL && params != NULL) {
		int id = port_by_name(tel_map, params);

		if (id >= 0) {
			struct counter_port c;

			lcore_map_port_counters(tel_map, (uint16_t)id, &c);
			rte_tel_data_start_dict(d);
#define X(n, help) rte_tel_data_add_dict_u64(d, #n, c.n);
			COUNTER_PORT(X)
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
	rc |= rte_telemetry_register_cmd("/aster/ports", tel_ports, "Port names.");
	rc |= rte_telemetry_register_cmd(
	    "/aster/port", tel_port,
	    "Counters of one port (requests, ARP). Parameters: port name.");
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
