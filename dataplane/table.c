/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table in force: applying a new one while the lcores run, and reading it
 * (table.h). Everything here runs on the table thread or a reader's thread, never on a
 * polling lcore.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>

#include "atleast.h"
#include "slots.h"
#include "table.h"

#include "../common/routing_delta.h"

/*
 * Written by the table thread; `cfg`, `version`, `generation` and `slots` change only
 * under `lock`, which other threads hold while they read.
 */
struct table {
	struct lcore_map *map;
	pthread_mutex_t lock;
	struct routing_config *cfg;    /* the table in force, NULL before the first apply */
	uint64_t version;	       /* control plane's number, 0 = local file */
	uint64_t generation;	       /* router_state.version of the table in force */
	struct router_state *prebuilt; /* from table_prebuild, used by the next apply */
	struct slots slots;
	struct counter_sub *sub_base; /* [max_subs] a slot's counters when it was reused */
	uint64_t feed_removed;	      /* messages held by feeds when they were removed */
	struct atleast *alo;	      /* live: histories, retransmission, recovery (§6) */
};

struct router_state *table_prebuild(const struct routing_config *cfg, uint32_t n_scratch, char *err,
				    size_t errlen)
{
	return router_state_build(cfg, n_scratch, 0, err, errlen);
}

struct table *table_create(struct lcore_map *map, uint32_t max_subs, struct router_state *prebuilt)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->sub_base = calloc(max_subs ? max_subs : 1, sizeof(*t->sub_base));
	t->alo = atleast_create(map, max_subs);
	if (t->sub_base == NULL || t->alo == NULL || slots_init(&t->slots, max_subs) != 0) {
		atleast_free(t->alo);
		free(t->sub_base);
		slots_fini(&t->slots);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->map = map;
	t->prebuilt = prebuilt;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void table_free(struct table *t)
{
	if (t == NULL)
		return;
	router_state_free(t->prebuilt);
	atleast_free(t->alo);
	routing_config_free(t->cfg);
	slots_fini(&t->slots);
	free(t->sub_base);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* What the table asks of the dataplane: its output ports exist, its subscribers fit. */
static int check_fits(const struct table *t, const struct routing_config *cfg, char *err,
		      size_t errlen)
{
	const struct profile *prof = lcore_map_profile(t->map);
	uint16_t port_id, tx;

	for (uint32_t p = 0; p < cfg->n_ports; p++)
		if (lcore_map_output(t->map, cfg->ports[p].name, &port_id, &tx) != 0) {
			snprintf(err, errlen,
				 "%s:%u: ports: port \"%s\" is not an output port of %s", cfg->path,
				 cfg->ports[p].cfg_line, cfg->ports[p].name, prof->path);
			return -EINVAL;
		}
	if (cfg->n_subs > t->slots.max_subs) {
		snprintf(err, errlen,
			 "%s: subscribers: %u subscribers exceed max_subscribers %u of %s",
			 cfg->path, cfg->n_subs, t->slots.max_subs, prof->path);
		return -EINVAL;
	}
	return 0;
}

/* The rule set of `cfg`, numbered as the next generation (locate caches tagged with an
 * older one recompute): built now, or the one prebuilt before EAL started. */
static struct router_state *rules_build(struct table *t, const struct routing_config *cfg,
					uint64_t version, struct table_apply_result *res, char *err,
					size_t errlen)
{
	struct router_state *rs = t->prebuilt;
	uint64_t t0 = now_ns();

	if (rs != NULL) {
		t->prebuilt = NULL;
	} else {
		/* the rule set in force is only freed by this thread: safe to read here */
		rs = router_state_build_from(cfg, lcore_map_router(t->map), lcore_map_n_rx(t->map),
					     0, err, errlen);
		if (rs == NULL)
			return NULL;
	}
	for (uint32_t f = 0; f < rs->n_feeds; f++)
		res->regex_reused += rs->feeds[f].regex_reused;
	rs->version = t->generation + 1;
	rs->table_version = version;
	res->build_ns = now_ns() - t0;
	return rs;
}

/* The runtimes feeds_place created, freed again (nothing reached them). */
static void feeds_unplace(struct table *t, const struct slots_plan *p)
{
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		if (p->feed_new[k])
			rx_feed_free(rx_feed_detach(lcore_map_feed_lcore(t->map, k), k));
}

/* Runtimes of the plan's new feeds, placed before the publish that makes them
 * reachable. On failure the ones created are freed again. */
static int feeds_place(struct table *t, const struct routing_config *cfg,
		       const struct slots_plan *p, char *err, size_t errlen)
{
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		uint32_t slot = p->feed_slot[f];
		struct rx_lcore *lc = lcore_map_feed_lcore(t->map, slot);
		struct rx_feed *fd;

		if (!p->feed_new[slot])
			continue;
		fd = rx_feed_create(lc, slot, (uint8_t)cfg->feeds[f].n_lines);
		if (fd == NULL) {
			snprintf(err, errlen, "out of memory for feed \"%s\"", cfg->feeds[f].name);
			feeds_unplace(t, p);
			return -ENOMEM;
		}
		rx_feed_attach(lc, fd);
	}
	return 0;
}

/* The output stream of subscriber `s` (docs/protocol.md §3.6) in slot `slot`, whose
 * counters start from zero. */
static void sub_place(struct table *t, const struct routing_config *cfg, uint32_t s, uint32_t slot,
		      uint32_t feed_slot)
{
	const struct rc_subscriber *sub = &cfg->subs[s];
	const struct rc_port *port = &cfg->ports[sub->port];
	struct rte_ether_addr mac;
	uint16_t port_id = 0, tx = 0;

	lcore_map_output(t->map, port->name, &port_id, &tx); /* checked by check_fits */
	if (rte_eth_macaddr_get(port_id, &mac) != 0)
		memset(&mac, 0, sizeof(mac));
	struct publisher_dst d = {
	    .src_mac = mac.addr_bytes,
	    .dst_mac = sub->dst_mac,
	    .src_ip = port->src_ip,
	    .dst_ip = sub->dst_ip,
	    .src_port = port->src_port ? port->src_port : sub->dst_port,
	    .dst_port = sub->dst_port,
	    .session = sub->session,
	    .max_payload = sub->max_payload,
	};
	rx_sub_init(lcore_map_feed_lcore(t->map, feed_slot), slot, &d, tx, port_id);
	lcore_map_sub_counters(t->map, slot, &t->sub_base[slot]);
}

/*
 * Nothing routes by the old table any more: make `cfg` the table in force and free what
 * only the old one used. A removed feed is detached from its RX lcore first and freed
 * only after one more grace period, since the lcore's housekeeping walks every attached
 * feed whatever the table; the messages it still held are counted (feed_removed).
 */
static void retire(struct table *t, struct routing_config *cfg, uint64_t version,
		   uint64_t generation, struct slots_plan *p)
{
	struct routing_config *old = t->cfg;
	struct rx_feed *gone[ROUTER_MAX_FEED_SLOTS];
	uint32_t n_gone = 0;
	uint64_t msgs = 0;

	pthread_mutex_lock(&t->lock);
	for (uint32_t k = 0; k < ROUTER_MAX_FEED_SLOTS; k++)
		if (slots_feed_removed(&t->slots, p, k))
			gone[n_gone++] = rx_feed_detach(lcore_map_feed_lcore(t->map, k), k);
	slots_commit(&t->slots, p);
	t->cfg = cfg;
	t->version = version;
	t->generation = generation;
	pthread_mutex_unlock(&t->lock);
	if (n_gone != 0)
		lcore_map_synchronize(t->map);
	for (uint32_t i = 0; i < n_gone; i++)
		msgs += rx_feed_free(gone[i]);
	pthread_mutex_lock(&t->lock);
	t->feed_removed += msgs;
	pthread_mutex_unlock(&t->lock);
	routing_config_free(old);
}

/*
 * The symbols bound in each feed's locates that the new state's decisions lack, decided
 * by this thread before the publish (docs/architecture.md, "Table changes"), so that the
 * RX lcores copy bitmaps instead of matching. A feed new to this table has no bindings.
 */
static void learn(struct table *t, struct router_state *rs)
{
	for (uint32_t f = 0; f < rs->n_feeds; f++) {
		uint32_t slot = rs->feeds[f].slot;
		const struct rx_feed *fd = rx_feed_at(lcore_map_feed_lcore(t->map, slot), slot);

		/* out of memory: the lcore matches what the decisions lack, nothing lost */
		if (fd != NULL && fd->locates != NULL)
			router_state_learn(rs, f, fd->locates);
	}
}

int table_apply(struct table *t, struct routing_config *cfg, uint64_t version, bool dry_run,
		struct table_apply_result *res, char *err, size_t errlen)
{
	struct router_state *rs;
	struct slots_plan p;
	uint64_t t1;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = check_fits(t, cfg, err, errlen);
	if (rc == 0)
		rc = atleast_check(t->alo, cfg, err, errlen);
	if (rc != 0)
		return rc;
	rs = rules_build(t, cfg, version, res, err, errlen);
	if (rs == NULL)
		return -errno;
	if (dry_run) {
		/* the slots too: a table within max_subscribers may still not fit beside the
		 * one in force, whose slots are freed only after the swap */
		rc = slots_plan(&t->slots, t->cfg, cfg, &p, err, errlen);
		if (rc == 0)
			slots_plan_free(&p);
		router_state_free(rs);
		return rc;
	}
	rc = slots_plan(&t->slots, t->cfg, cfg, &p, err, errlen);
	if (rc == 0) {
		rc = feeds_place(t, cfg, &p, err, errlen);
		if (rc == 0 && (rc = atleast_prepare(t->alo, cfg, &p, err, errlen)) != 0)
			feeds_unplace(t, &p);
		if (rc != 0)
			slots_plan_free(&p);
	}
	if (rc != 0) {
		router_state_free(rs);
		return rc;
	}
	for (uint32_t s = 0; s < cfg->n_subs; s++)
		if (p.sub_new[p.sub_slot[s]])
			sub_place(t, cfg, s, p.sub_slot[s], p.feed_slot[cfg->subs[s].feed]);
	res->feeds_added = p.feeds_added;
	res->feeds_removed = p.feeds_removed;
	res->subs_added = p.subs_added;
	res->subs_removed = p.subs_removed;
	router_state_set_slots(rs, p.feed_slot, p.sub_slot);
	learn(t, rs);
	atleast_commit(t->alo, cfg, &p, &t->slots);

	t1 = now_ns();
	lcore_map_publish(t->map, rs);
	res->publish_ns = now_ns() - t1;
	atleast_release(t->alo);
	retire(t, cfg, version, rs->version, &p);
	return 0;
}

/* ------------------------------------------------------------------ deltas */

/* One subscriber a change names: where it was and what it held before. */
struct touched {
	const char *name;
	int before;	 /* index in the table before the change, or -1 */
	char **patterns; /* its patterns before (the strings stay valid until the
			  * change is forgotten: removed ones are kept by the undo) */
	uint32_t n_patterns;
};

/*
 * The routing changes of the touched subscribers, numbered by `p` against the table
 * before (`view`, the slots in force). A subscriber whose stream or feed changes leaves
 * its old slot and joins in its new one. The strings point into the tables and
 * `pats` (freed by the caller).
 */
static int route_changes(const struct table *t, const struct routing_config *view,
			 const struct routing_config *cfg, const struct slots_plan *p,
			 const struct touched *tc, uint32_t n_tc, struct router_sub_change *out,
			 uint32_t *n_out, const char ***pats)
{
	uint32_t n = 0, total = 0;
	const char **v;

	for (uint32_t k = 0; k < n_tc; k++) {
		int ai = routing_config_sub_index(cfg, tc[k].name);

		total += 2 * (tc[k].n_patterns + (ai >= 0 ? cfg->subs[ai].n_symbols : 0));
	}
	*pats = v = malloc((total ? total : 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (uint32_t k = 0; k < n_tc; k++) {
		int bi = tc[k].before, ai = routing_config_sub_index(cfg, tc[k].name);
		int m = router_sub_diff(
		    bi >= 0 ? &view->subs[bi] : NULL, tc[k].patterns, tc[k].n_patterns,
		    bi >= 0 ? t->slots.sub_slot[bi] : UINT32_MAX, bi >= 0 ? view->subs[bi].feed : 0,
		    ai >= 0 ? &cfg->subs[ai] : NULL, ai >= 0 ? p->sub_slot[ai] : UINT32_MAX,
		    ai >= 0 ? cfg->subs[ai].feed : 0, out + n, v);

		if (m < 0)
			return m;
		for (int i = 0; i < m; i++)
			v += out[n + i].n_add + out[n + i].n_del;
		n += (uint32_t)m;
	}
	*n_out = n;
	return 0;
}

/* A change under way: the table before it as the numbering in force knows it, the
 * subscribers it names, and what applying it produced so far. */
struct delta {
	struct routing_config view; /* the subscriber records as they are before */
	struct touched *tc;
	uint32_t n_tc;
	struct router_sub_change *rc_v;
	uint32_t n_rc;
	const char **pats;
	struct rd_undo *undo;
	struct slots_plan p;
	bool applied, planned;
};

/* The view of the table before the change and the patterns of the subscribers the
 * change names. 0 or -ENOMEM. */
static int delta_prepare(struct delta *d, const struct table *t, const struct rd_op *ops,
			 uint32_t n)
{
	d->view = *t->cfg;
	d->view.subs = malloc((t->cfg->n_subs ? t->cfg->n_subs : 1) * sizeof(*d->view.subs));
	d->tc = calloc(n ? n : 1, sizeof(*d->tc));
	d->rc_v = calloc(2 * (size_t)(n ? n : 1), sizeof(*d->rc_v));
	if (d->view.subs == NULL || d->tc == NULL || d->rc_v == NULL)
		return -ENOMEM;
	memcpy(d->view.subs, t->cfg->subs, t->cfg->n_subs * sizeof(*d->view.subs));
	for (uint32_t i = 0; i < n; i++) {
		struct touched *tc = &d->tc[d->n_tc];
		bool seen = false;

		for (uint32_t k = 0; k < d->n_tc && !seen; k++)
			seen = ops[i].sub != NULL && strcmp(d->tc[k].name, ops[i].sub) == 0;
		if (seen || ops[i].sub == NULL)
			continue;
		*tc = (struct touched){.name = ops[i].sub,
				       .before = routing_config_sub_index(t->cfg, ops[i].sub)};
		d->n_tc++;
		if (tc->before >= 0) {
			const struct rc_subscriber *s = &t->cfg->subs[tc->before];

			tc->patterns = malloc((s->n_symbols ? s->n_symbols : 1) * sizeof(char *));
			if (tc->patterns == NULL)
				return -ENOMEM;
			memcpy(tc->patterns, s->symbols, s->n_symbols * sizeof(char *));
			tc->n_patterns = s->n_symbols;
		}
	}
	return 0;
}

static void delta_free(struct delta *d)
{
	if (d->planned)
		slots_plan_free(&d->p);
	for (uint32_t k = 0; d->tc != NULL && k < d->n_tc; k++)
		free(d->tc[k].patterns);
	free(d->tc);
	free(d->rc_v);
	free(d->pats);
	free(d->view.subs);
}

/* Under the table lock: the change applied to the table, its numbering planned and the
 * rule set it leads to built into `*rs`. 0 or -errno with `err` set. */
static int delta_rules(struct table *t, struct delta *d, const struct rd_op *ops, uint32_t n,
		       struct router_state **rs, char *err, size_t errlen)
{
	int rc = rd_apply_all(t->cfg, ops, n, &d->undo, err, errlen);

	if (rc != 0)
		return rc;
	d->applied = true;
	rc = check_fits(t, t->cfg, err, errlen);
	if (rc == 0)
		rc = slots_plan(&t->slots, &d->view, t->cfg, &d->p, err, errlen);
	if (rc != 0)
		return rc;
	d->planned = true;
	rc = route_changes(t, &d->view, t->cfg, &d->p, d->tc, d->n_tc, d->rc_v, &d->n_rc, &d->pats);
	if (rc != 0) {
		snprintf(err, errlen, "DELTA: out of memory");
		return rc;
	}
	/* the state in force is only freed by this thread: safe to read here */
	*rs = router_state_change(lcore_map_router(t->map), d->rc_v, d->n_rc, t->generation + 1,
				  err, errlen);
	return *rs != NULL ? 0 : -errno;
}

/* Under the table lock: publish `rs` and make the changed table the one in force. */
static void delta_commit(struct table *t, struct delta *d, struct router_state *rs,
			 uint64_t version, struct table_apply_result *res)
{
	struct slots_plan *p = &d->p;
	uint64_t t1;

	learn(t, rs);
	for (uint32_t s = 0; s < t->cfg->n_subs; s++)
		if (p->sub_new[p->sub_slot[s]])
			sub_place(t, t->cfg, s, p->sub_slot[s], p->feed_slot[t->cfg->subs[s].feed]);
	res->subs_added = p->subs_added;
	res->subs_removed = p->subs_removed;
	atleast_commit(t->alo, t->cfg, p, &t->slots);
	t1 = now_ns();
	lcore_map_publish(t->map, rs);
	res->publish_ns = now_ns() - t1;
	atleast_release(t->alo);
	slots_commit(&t->slots, p);
	d->planned = false;
	t->version = version;
	t->generation = t->generation + 1;
}

int table_apply_delta(struct table *t, const struct rd_op *ops, uint32_t n, uint64_t base,
		      uint64_t version, bool dry_run, struct table_apply_result *res, char *err,
		      size_t errlen)
{
	struct delta d = {0};
	struct router_state *rs = NULL;
	uint64_t t0 = now_ns();
	int rc;

	memset(res, 0, sizeof(*res));
	if (t->cfg == NULL || t->version != base) {
		snprintf(err, errlen,
			 "DELTA: table version %" PRIu64 " in force, the change is to %" PRIu64,
			 t->version, base);
		return -ESTALE;
	}
	rc = delta_prepare(&d, t, ops, n);
	if (rc != 0) {
		snprintf(err, errlen, "DELTA: out of memory");
		delta_free(&d);
		return rc;
	}
	/* Readers see the table and its numbering change together. */
	table_lock(t);
	rc = delta_rules(t, &d, ops, n, &rs, err, errlen);
	/* the histories, servers and recovery follow a delta as they follow a full apply
	 * (atleast.h): checked on the changed table, allocated before anything is published */
	if (rc == 0)
		rc = atleast_check(t->alo, t->cfg, err, errlen);
	if (rc == 0 && !dry_run)
		rc = atleast_prepare(t->alo, t->cfg, &d.p, err, errlen);
	if (rc != 0) {
		router_state_free(rs);
		rs = NULL;
	}
	if (rc == 0) {
		rs->version = t->generation + 1;
		rs->table_version = version;
		res->build_ns = now_ns() - t0;
		if (dry_run)
			router_state_free(rs);
		else
			delta_commit(t, &d, rs, version, res);
	}
	/* a failure, or a dry run: the table goes back to what it was */
	if ((rc != 0 || dry_run) && d.applied)
		rd_undo_all(t->cfg, d.undo, n);
	table_unlock(t);
	if (rc == 0 && !dry_run)
		rd_forget_all(d.undo, n);
	delta_free(&d);
	return rc;
}

int table_fold(struct table *t)
{
	/* the state in force is only freed by this thread: safe to read here */
	struct router_state *rs = router_state_fold(lcore_map_router(t->map));

	if (rs == NULL)
		return errno != 0 ? -errno : 0;
	/* the same rules: the same generation, no locate cache goes stale */
	lcore_map_publish(t->map, rs);
	return 1;
}

void table_lock(struct table *t)
{
	pthread_mutex_lock(&t->lock);
}

void table_unlock(struct table *t)
{
	pthread_mutex_unlock(&t->lock);
}

const struct routing_config *table_config(const struct table *t)
{
	return t->cfg;
}

uint64_t table_version(const struct table *t)
{
	return t->version;
}

uint64_t table_generation(const struct table *t)
{
	return t->generation;
}

static const struct rx_feed *feed_of(const struct table *t, uint32_t i)
{
	uint32_t slot = t->slots.feed_slot[i];

	return rx_feed_at(lcore_map_feed_lcore(t->map, slot), slot);
}

void table_feed_counters(const struct table *t, uint32_t i, struct counter_feed *c)
{
	rx_feed_counters(feed_of(t, i), c);
}

void table_sub_counters(const struct table *t, uint32_t i, struct counter_sub *c)
{
	uint32_t slot = t->slots.sub_slot[i];
	const struct counter_sub *base = &t->sub_base[slot];

	lcore_map_sub_counters(t->map, slot, c);
#define X(n, help) c->n -= base->n;
	COUNTER_SUB(X)
#undef X
}

void table_feed_recovering(const struct table *t, uint32_t i, uint32_t *ranges, uint32_t *held)
{
	rx_feed_recovering(feed_of(t, i), ranges, held);
}

uint64_t table_line_packets(const struct table *t, uint32_t i, uint8_t line)
{
	return rx_feed_line_packets(feed_of(t, i), line);
}

void table_line_counters(const struct table *t, uint32_t i, uint8_t line, struct counter_line *c)
{
	rx_feed_line_counters(feed_of(t, i), line, c);
}

uint32_t table_feed_log(const struct table *t, uint32_t i, struct rx_feed_log *out, uint32_t max)
{
	return rx_feed_log(feed_of(t, i), out, max);
}

void table_drops(const struct table *t, uint64_t drops[DROP__MAX])
{
	lcore_map_drops(t->map, drops);
	for (uint32_t f = 0; t->cfg != NULL && f < t->cfg->n_feeds; f++) {
		struct counter_feed c;

		table_feed_counters(t, f, &c);
		drops[DROP_DUPLICATE] += c.duplicates;
		drops[DROP_LATE] += c.late;
		drops[DROP_STALE_SESSION] += c.stale_session;
	}
	drops[DROP_FEED_REMOVED] += t->feed_removed;
}
