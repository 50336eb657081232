/* SPDX-License-Identifier: BSD-3-Clause */
/* Health sampling: see health.h; the rules are common/health_eval.c. */
#include "health.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS UINT64_C(1000000)

struct health {
	const struct settings *set;
	int fd;
	void *map;
	dev_t dev;
	ino_t ino;

	struct health_shm *snap; /* the latest consistent copy */
	bool have_snap;
	const char *missing; /* why there is no usable segment, or NULL */
	uint64_t age_ms;

	struct health_inputs in;
	struct health_eval eval; /* what the model remembers between samples */
	struct health_verdict v; /* of the latest sample */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

struct health *health_open(const struct settings *s)
{
	struct health *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->snap = malloc(sizeof(*h->snap));
	if (h->snap == NULL || health_eval_init(&h->eval, true) != 0) {
		health_close(h);
		errno = ENOMEM;
		return NULL;
	}
	h->set = s;
	h->fd = -1;
	h->v.state = HEALTH_DOWN;
	return h;
}

static void unmap(struct health *h)
{
	if (h->map != NULL)
		munmap(h->map, sizeof(struct health_shm));
	if (h->fd >= 0)
		close(h->fd);
	h->map = NULL;
	h->fd = -1;
}

void health_close(struct health *h)
{
	if (h == NULL)
		return;
	unmap(h);
	free(h->snap);
	health_eval_fini(&h->eval);
	free(h);
}

/* Map the file when it is new or was replaced (a restarted dataplane may recreate it). */
static int ensure_mapped(struct health *h)
{
	struct stat st;

	if (stat(h->set->health_file, &st) < 0) {
		unmap(h);
		h->missing = "health file missing";
		return -errno;
	}
	if (h->map != NULL && st.st_dev == h->dev && st.st_ino == h->ino)
		return 0;
	unmap(h);
	if ((size_t)st.st_size < sizeof(struct health_shm)) {
		h->missing = "health file incomplete";
		return -EAGAIN;
	}
	h->fd = open(h->set->health_file, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0) {
		h->missing = "health file unreadable";
		return -errno;
	}
	h->map = mmap(NULL, sizeof(struct health_shm), PROT_READ, MAP_SHARED, h->fd, 0);
	if (h->map == MAP_FAILED) {
		h->map = NULL;
		unmap(h);
		h->missing = "health file cannot be mapped";
		return -errno;
	}
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	return 0;
}

/*
 * Seqlock read (health_shm.h): the dataplane's control thread makes seq odd, writes,
 * makes it even. A copy taken between two equal even reads of seq is consistent.
 */
static int copy_consistent(struct health *h)
{
	const struct health_shm *shm = h->map;

	for (int tries = 0; tries < 100; tries++) {
		uint64_t s1 = __atomic_load_n(&shm->seq, __ATOMIC_ACQUIRE);

		if ((s1 & 1) == 0) {
			memcpy(h->snap, shm, sizeof(*h->snap));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&shm->seq, __ATOMIC_RELAXED) == s1)
				return 0;
		}
		/* The writer holds the lock for microseconds; give it the CPU. */
		nanosleep(&(struct timespec){0, 50000}, NULL);
	}
	h->missing = "health file never consistent (writer stuck mid-update)";
	return -EAGAIN;
}

static bool benign(void *arg, const char *reason)
{
	const struct settings *set = arg;

	for (uint32_t i = 0; i < set->n_benign; i++)
		if (strcmp(set->benign_drops[i], reason) == 0)
			return true;
	return false;
}

void health_sample(struct health *h, const struct health_inputs *in)
{
	uint64_t now_real;

	uint64_t now = mono_ns();

	h->in = *in;
	health_verdict_clear(&h->v);
	h->missing = NULL;
	h->have_snap = false;
	if (ensure_mapped(h) == 0) {
		const struct health_shm *m = h->map;

		if (__atomic_load_n(&m->magic, __ATOMIC_ACQUIRE) != HEALTH_MAGIC)
			h->missing = "health file not initialised";
		else if (m->version != HEALTH_VERSION)
			h->missing = "health file of another version";
		else if (copy_consistent(h) == 0)
			h->have_snap = true;
	}
	if (!in->dp_connected)
		health_verdict_add(&h->v, HEALTH_DOWN,
				   "dataplane unreachable: no control connection");
	if (!h->have_snap) {
		health_verdict_add(&h->v, HEALTH_DOWN, "dataplane unreachable: %s (%s)", h->missing,
				   h->set->health_file);
		return;
	}
	now_real = real_ns();
	h->age_ms =
	    now_real > h->snap->updated_ns ? (now_real - h->snap->updated_ns) / NS_PER_MS : 0;
	if (h->age_ms > HEALTH_STALE_MS) {
		health_verdict_add(&h->v, HEALTH_DOWN,
				   "dataplane unreachable: health file stale (updated %" PRIu64
				   " ms ago)",
				   h->age_ms);
		return;
	}
	health_eval_track(&h->eval, h->snap, now);
	health_eval_gauges(&h->eval, h->snap, now, &h->v);
	health_eval_counters(&h->eval, h->snap, now, benign, (void *)h->set, &h->v);
	if (in->dp_connected && in->store_version != 0 && in->dp_version != in->store_version)
		health_verdict_add(&h->v, HEALTH_DEGRADED,
				   "table drift: dataplane at version %" PRIu64
				   ", store at %" PRIu64,
				   in->dp_version, in->store_version);
}

enum health_state health_state(const struct health *h)
{
	return h->v.state;
}

const struct health_shm *health_snapshot(const struct health *h)
{
	return h->have_snap ? h->snap : NULL;
}

json_t *health_json(const struct health *h)
{
	json_t *o = json_object(), *reasons = json_array(), *dp = json_object();

	for (uint32_t i = 0; i < h->v.n_reasons; i++)
		json_array_append_new(reasons, json_string(h->v.reasons[i]));
	json_object_set_new(o, "state", json_string(health_state_name(h->v.state)));
	json_object_set_new(o, "reasons", reasons);
	json_object_set_new(o, "store_version", json_integer((json_int_t)h->in.store_version));
	json_object_set_new(dp, "connected", json_boolean(h->in.dp_connected));
	if (h->in.dp_connected)
		json_object_set_new(dp, "table_version",
				    json_integer((json_int_t)h->in.dp_version));
	if (h->have_snap) {
		json_object_set_new(dp, "pid", json_integer((json_int_t)h->snap->pid));
		json_object_set_new(dp, "boot_id", json_integer((json_int_t)h->snap->boot_id));
		json_object_set_new(dp, "health_age_ms", json_integer((json_int_t)h->age_ms));
	}
	json_object_set_new(o, "dataplane", dp);
	return o;
}

static json_t *name_value(const char *name, size_t n)
{
	return json_stringn(name, strnlen(name, n));
}

/* A feed's lines by name, each with its counters (COUNTER_LINE). */
static json_t *lines_json(const struct health_feed *f)
{
	json_t *lines = json_object();

	for (uint32_t l = 0; l < f->n_lines && l < HEALTH_MAX_LINES; l++) {
		char name[HEALTH_NAME + 1];
		json_t *c = json_object();

		snprintf(name, sizeof(name), "%.*s", HEALTH_NAME, f->lines[l].name);
#define X(n, help) json_object_set_new(c, #n, json_integer((json_int_t)f->lines[l].c.n));
		COUNTER_LINE(X)
#undef X
		json_object_set_new(lines, name, c);
	}
	return lines;
}

json_t *health_status_json(const struct health *h)
{
	json_t *o = health_json(h), *a, *m, *e;
	const struct health_shm *s = health_snapshot(h);

	if (s == NULL)
		return o;
	a = json_array();
	for (uint32_t i = 0; i < s->n_lcores && i < HEALTH_MAX_LCORES; i++) {
		const struct health_lcore *l = &s->lcores[i];

		e = json_pack("{s:I, s:s, s:I, s:I, s:I}", "lcore", (json_int_t)l->lcore_id,
			      "roles",
			      (l->roles & HEALTH_ROLE_RX) && (l->roles & HEALTH_ROLE_TX) ? "rx+tx"
			      : (l->roles & HEALTH_ROLE_RX)				 ? "rx"
			      : (l->roles & HEALTH_ROLE_TX)				 ? "tx"
											 : "",
			      "heartbeat", (json_int_t)l->heartbeat, "ring_used",
			      (json_int_t)l->ring_used, "ring_size", (json_int_t)l->ring_size);
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "lcores", a);
	a = json_array();
	for (uint32_t i = 0; i < s->n_ports && i < HEALTH_MAX_PORTS; i++) {
		const struct health_port *p = &s->ports[i];

		e = json_pack("{s:o, s:b, s:b, s:I, s:I}", "name", name_value(p->name, HEALTH_NAME),
			      "rx", (int)(p->is_rx != 0), "link_up", (int)(p->link_up != 0),
			      "packets", (json_int_t)p->packets, "missed", (json_int_t)p->missed);
#define X(n, help) json_object_set_new(e, #n, json_integer((json_int_t)p->c.n));
		COUNTER_PORT(X)
#undef X
		json_array_append_new(a, e);
	}
	json_object_set_new(o, "ports", a);
	m = json_object();
	for (uint32_t i = 0; i < s->n_feeds && i < HEALTH_MAX_FEEDS; i++) {
		const struct health_feed *f = &s->feeds[i];
		char name[HEALTH_NAME + 1];

		json_t *c = json_object();

		snprintf(name, sizeof(name), "%.*s", HEALTH_NAME, f->name);
#define X(n, help) json_object_set_new(c, #n, json_integer((json_int_t)f->c.n));
		COUNTER_FEED(X)
#undef X
		json_object_set_new(c, "recovery_open_ranges",
				    json_integer((json_int_t)f->recovery_open_ranges));
		json_object_set_new(c, "held_packets", json_integer((json_int_t)f->held_packets));
		json_object_set_new(c, "lines", lines_json(f));
		json_object_set_new(m, name, c);
	}
	json_object_set_new(o, "feeds", m);
	m = json_object();
	for (uint32_t i = 0; i < s->n_subs && i < HEALTH_MAX_SUBS; i++) {
		const struct health_sub *u = &s->subs[i];
		char name[HEALTH_NAME + 1];

		json_t *c = json_object();

		snprintf(name, sizeof(name), "%.*s", HEALTH_NAME, u->name);
#define X(n, help) json_object_set_new(c, #n, json_integer((json_int_t)u->c.n));
		COUNTER_SUB(X)
#undef X
		json_object_set_new(m, name, c);
	}
	json_object_set_new(o, "subscribers", m);
	m = json_object();
	for (uint32_t i = 0; i < s->n_drops && i < HEALTH_MAX_DROPS; i++) {
		char name[HEALTH_NAME + 1];

		snprintf(name, sizeof(name), "%.*s", HEALTH_NAME, s->drops[i].name);
		json_object_set_new(m, name, json_integer((json_int_t)s->drops[i].value));
	}
	json_object_set_new(o, "drops", m);
	return o;
}

/* Prometheus label values escape backslash, double quote and newline. */
static void label(FILE *f, const char *v, size_t n)
{
	for (size_t i = 0; i < n && v[i] != '\0'; i++) {
		if (v[i] == '\\' || v[i] == '"')
			fputc('\\', f);
		if (v[i] == '\n')
			fputs("\\n", f);
		else
			fputc(v[i], f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

_Static_assert(offsetof(struct health_feed, name) == 0 && offsetof(struct health_sub, name) == 0 &&
		   offsetof(struct health_port, name) == 0,
	       "row_family reads a row's name at its start");

/* One family of `type`: `metric`{`label`="<row name>"} for `n` rows of `stride` bytes,
 * each starting with its HEALTH_NAME name and holding the value at `value_off`. */
static void row_family(FILE *f, const char *type, const char *metric, const char *help,
		       const char *lbl, const void *rows, size_t stride, size_t value_off,
		       uint32_t n)
{
	family(f, metric, type, help);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *row = (const uint8_t *)rows + i * stride;
		uint64_t v;

		memcpy(&v, row + value_off, sizeof(v));
		fprintf(f, "%s{%s=\"", metric, lbl);
		label(f, (const char *)row, HEALTH_NAME);
		fprintf(f, "\"} %" PRIu64 "\n", v);
	}
}

/* aster_line_<name>_total{feed, line}: the counter at `value_off` of struct counter_line
 * for every line of the `nf` feeds. */
static void line_family(FILE *f, const char *metric, const char *help, const struct health_shm *s,
			uint32_t nf, size_t value_off)
{
	family(f, metric, "counter", help);
	for (uint32_t i = 0; i < nf; i++) {
		const struct health_feed *fd = &s->feeds[i];

		for (uint32_t l = 0; l < fd->n_lines && l < HEALTH_MAX_LINES; l++) {
			uint64_t v;

			memcpy(&v, (const uint8_t *)&fd->lines[l].c + value_off, sizeof(v));
			fprintf(f, "%s{feed=\"", metric);
			label(f, fd->name, HEALTH_NAME);
			fputs("\",line=\"", f);
			label(f, fd->lines[l].name, HEALTH_NAME);
			fprintf(f, "\"} %" PRIu64 "\n", v);
		}
	}
}

/* One family per entry of common/counter.h's lists: aster_feed_<name>_total labelled by
 * feed, aster_subscriber_<name>_total by subscriber, aster_port_<name>_total by port,
 * aster_line_<name>_total by feed and line; and the feeds' recovery gauges. */
static void counter_families(FILE *f, const struct health_shm *s)
{
	uint32_t nf = s->n_feeds < HEALTH_MAX_FEEDS ? s->n_feeds : HEALTH_MAX_FEEDS;
	uint32_t ns = s->n_subs < HEALTH_MAX_SUBS ? s->n_subs : HEALTH_MAX_SUBS;
	uint32_t np = s->n_ports < HEALTH_MAX_PORTS ? s->n_ports : HEALTH_MAX_PORTS;

#define X(n, help)                                                                                 \
	row_family(f, "counter", "aster_feed_" #n "_total", help, "feed", s->feeds,                \
		   sizeof(s->feeds[0]), offsetof(struct health_feed, c.n), nf);
	COUNTER_FEED(X)
#undef X
#define X(n, help)                                                                                 \
	row_family(f, "counter", "aster_subscriber_" #n "_total", help, "subscriber", s->subs,     \
		   sizeof(s->subs[0]), offsetof(struct health_sub, c.n), ns);
	COUNTER_SUB(X)
#undef X
#define X(n, help)                                                                                 \
	row_family(f, "counter", "aster_port_" #n "_total", help, "port", s->ports,                \
		   sizeof(s->ports[0]), offsetof(struct health_port, c.n), np);
	COUNTER_PORT(X)
#undef X
#define X(n, help)                                                                                 \
	line_family(f, "aster_line_" #n "_total", help, s, nf, offsetof(struct counter_line, n));
	COUNTER_LINE(X)
#undef X
	row_family(f, "gauge", "aster_feed_recovery_open_ranges",
		   "Ranges the feed is recovering from its exchange's server now (6.3)", "feed",
		   s->feeds, sizeof(s->feeds[0]),
		   offsetof(struct health_feed, recovery_open_ranges), nf);
	row_family(f, "gauge", "aster_feed_held_packets",
		   "Packets the feed holds behind a missing range now", "feed", s->feeds,
		   sizeof(s->feeds[0]), offsetof(struct health_feed, held_packets), nf);
}

char *health_metrics(const struct health *h)
{
	const struct health_shm *s = health_snapshot(h);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	family(f, "aster_health_state", "gauge", "0 healthy, 1 degraded, 2 down");
	fprintf(f, "aster_health_state %d\n", (int)h->v.state);
	family(f, "aster_table_version", "gauge", "Routing table version held by aster-control");
	fprintf(f, "aster_table_version %" PRIu64 "\n", h->in.store_version);
	family(f, "aster_dataplane_connected", "gauge", "1 when the control connection is up");
	fprintf(f, "aster_dataplane_connected %d\n", h->in.dp_connected ? 1 : 0);
	if (s != NULL) {
		family(f, "aster_dataplane_table_version", "gauge",
		       "Routing table version in force in the dataplane");
		fprintf(f, "aster_dataplane_table_version %" PRIu64 "\n", s->table_version);
		counter_families(f, s);
		family(f, "aster_drops_total", "counter", "Packets or messages dropped, by reason");
		for (uint32_t i = 0; i < s->n_drops && i < HEALTH_MAX_DROPS; i++) {
			fprintf(f, "aster_drops_total{reason=\"");
			label(f, s->drops[i].name, HEALTH_NAME);
			fprintf(f, "\"} %" PRIu64 "\n", s->drops[i].value);
		}
		family(f, "aster_lcore_heartbeats_total", "counter",
		       "Polling loop turns of the lcore");
		for (uint32_t i = 0; i < s->n_lcores && i < HEALTH_MAX_LCORES; i++)
			fprintf(f, "aster_lcore_heartbeats_total{lcore=\"%u\"} %" PRIu64 "\n",
				s->lcores[i].lcore_id, s->lcores[i].heartbeat);
		family(f, "aster_lcore_ring_used", "gauge", "Entries waiting in the lcore's rings");
		for (uint32_t i = 0; i < s->n_lcores && i < HEALTH_MAX_LCORES; i++)
			fprintf(f, "aster_lcore_ring_used{lcore=\"%u\"} %" PRIu64 "\n",
				s->lcores[i].lcore_id, s->lcores[i].ring_used);
		family(f, "aster_port_link_up", "gauge", "1 when the port's link is up");
		for (uint32_t i = 0; i < s->n_ports && i < HEALTH_MAX_PORTS; i++) {
			fprintf(f, "aster_port_link_up{port=\"");
			label(f, s->ports[i].name, HEALTH_NAME);
			fprintf(f, "\"} %u\n", s->ports[i].link_up ? 1u : 0u);
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
