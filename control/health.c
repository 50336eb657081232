/* SPDX-License-Identifier: BSD-3-Clause */
/* Health sampling and derivation: see health.h for the model. */
#include "health.h"
#include "settings.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_REASONS 64
#define REASON_LEN  160
#define NS_PER_MS   UINT64_C(1000000)

/* One watched counter: its last value and when it last rose (monotonic ns). */
struct watch {
	char name[HEALTH_NAME];
	uint64_t value;
	uint64_t rose_ns; /* 0: never rose since tracking began */
	uint64_t rise;	  /* sum of rises while the reason has been held */
};

struct beat {
	uint32_t lcore_id;
	uint64_t heartbeat;
	uint64_t changed_ns;
};

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
	uint64_t boot_id; /* of the tracked counters below */

	struct health_inputs in;
	uint64_t now_ns;
	struct beat beats[HEALTH_MAX_LCORES];
	struct watch drops[HEALTH_MAX_DROPS];
	struct watch gaps[HEALTH_MAX_FEEDS];
	struct watch missed[HEALTH_MAX_PORTS];
	struct watch *subs; /* HEALTH_MAX_SUBS */

	enum health_state state;
	uint32_t n_reasons;
	char reasons[MAX_REASONS][REASON_LEN];
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
	h->subs = calloc(HEALTH_MAX_SUBS, sizeof(*h->subs));
	if (h->snap == NULL || h->subs == NULL) {
		health_close(h);
		errno = ENOMEM;
		return NULL;
	}
	h->set = s;
	h->fd = -1;
	h->state = HEALTH_DOWN;
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
	free(h->subs);
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

static void add_reason(struct health *h, enum health_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_reason(struct health *h, enum health_state st, const char *fmt, ...)
{
	va_list ap;

	if (st > h->state)
		h->state = st;
	if (h->n_reasons == MAX_REASONS)
		return;
	va_start(ap, fmt);
	vsnprintf(h->reasons[h->n_reasons++], REASON_LEN, fmt, ap);
	va_end(ap);
}

/* Compare a counter with its previous sample; true while its rise is being held. */
static bool watch(struct health *h, struct watch *w, const char *name, uint64_t value)
{
	if (strncmp(w->name, name, HEALTH_NAME) != 0) {
		/* A new name at this slot: start tracking from here, no rise. */
		snprintf(w->name, sizeof(w->name), "%.*s", HEALTH_NAME - 1, name);
		w->value = value;
		w->rose_ns = 0;
		w->rise = 0;
		return false;
	}
	if (value > w->value) {
		if (w->rose_ns == 0 || h->now_ns - w->rose_ns > HEALTH_HOLD_MS * NS_PER_MS)
			w->rise = 0;
		w->rise += value - w->value;
		w->rose_ns = h->now_ns;
	}
	w->value = value;
	return w->rose_ns != 0 && h->now_ns - w->rose_ns <= HEALTH_HOLD_MS * NS_PER_MS;
}

static bool benign(const struct settings *s, const char *reason)
{
	for (uint32_t i = 0; i < s->n_benign; i++)
		if (strcmp(s->benign_drops[i], reason) == 0)
			return true;
	return false;
}

/* A dataplane restart resets every counter: forget what was tracked. */
static void reset_tracking(struct health *h)
{
	memset(h->beats, 0, sizeof(h->beats));
	memset(h->drops, 0, sizeof(h->drops));
	memset(h->gaps, 0, sizeof(h->gaps));
	memset(h->missed, 0, sizeof(h->missed));
	memset(h->subs, 0, HEALTH_MAX_SUBS * sizeof(*h->subs));
	h->boot_id = h->snap->boot_id;
}

static void derive_lcores(struct health *h, const struct health_shm *s)
{
	uint32_t n = s->n_lcores < HEALTH_MAX_LCORES ? s->n_lcores : HEALTH_MAX_LCORES;

	for (uint32_t i = 0; i < n; i++) {
		const struct health_lcore *l = &s->lcores[i];
		struct beat *b = &h->beats[i];

		if (b->changed_ns == 0 || b->lcore_id != l->lcore_id ||
		    b->heartbeat != l->heartbeat) {
			b->lcore_id = l->lcore_id;
			b->heartbeat = l->heartbeat;
			b->changed_ns = h->now_ns;
		} else if (h->now_ns - b->changed_ns > HEALTH_STALL_MS * NS_PER_MS) {
			add_reason(h, HEALTH_DOWN,
				   "lcore stalled: lcore %u heartbeat unchanged for %" PRIu64 " ms",
				   l->lcore_id, (h->now_ns - b->changed_ns) / NS_PER_MS);
		}
		if (l->ring_size != 0 && l->ring_used * 100 > l->ring_size * HEALTH_RING_HIGH_PCT)
			add_reason(h, HEALTH_DEGRADED,
				   "ring occupancy high: lcore %u %" PRIu64 "/%" PRIu64 " (%" PRIu64
				   "%%)",
				   l->lcore_id, l->ring_used, l->ring_size,
				   l->ring_used * 100 / l->ring_size);
	}
}

static void derive_counters(struct health *h, const struct health_shm *s)
{
	uint32_t n;

	n = s->n_ports < HEALTH_MAX_PORTS ? s->n_ports : HEALTH_MAX_PORTS;
	for (uint32_t i = 0; i < n; i++) {
		const struct health_port *p = &s->ports[i];

		if (!p->link_up)
			add_reason(h, HEALTH_DEGRADED, "link down: port %.*s (%s)", HEALTH_NAME,
				   p->name, p->is_rx ? "feed input" : "output");
		if (watch(h, &h->missed[i], p->name, p->missed))
			add_reason(h, HEALTH_DEGRADED, "drops rising: port %.*s missed +%" PRIu64,
				   HEALTH_NAME, p->name, h->missed[i].rise);
	}
	n = s->n_drops < HEALTH_MAX_DROPS ? s->n_drops : HEALTH_MAX_DROPS;
	for (uint32_t i = 0; i < n; i++) {
		char name[HEALTH_NAME + 1];

		snprintf(name, sizeof(name), "%.*s", HEALTH_NAME, s->drops[i].name);
		if (watch(h, &h->drops[i], name, s->drops[i].value) && !benign(h->set, name))
			add_reason(h, HEALTH_DEGRADED, "drops rising: %s +%" PRIu64, name,
				   h->drops[i].rise);
	}
	n = s->n_feeds < HEALTH_MAX_FEEDS ? s->n_feeds : HEALTH_MAX_FEEDS;
	for (uint32_t i = 0; i < n; i++)
		if (watch(h, &h->gaps[i], s->feeds[i].name, s->feeds[i].c.gaps))
			add_reason(h, HEALTH_DEGRADED, "gaps rising: feed %.*s +%" PRIu64,
				   HEALTH_NAME, s->feeds[i].name, h->gaps[i].rise);
	n = s->n_subs < HEALTH_MAX_SUBS ? s->n_subs : HEALTH_MAX_SUBS;
	for (uint32_t i = 0; i < n; i++)
		if (watch(h, &h->subs[i], s->subs[i].name, s->subs[i].c.dropped))
			add_reason(h, HEALTH_DEGRADED,
				   "drops rising: subscriber %.*s dropped +%" PRIu64, HEALTH_NAME,
				   s->subs[i].name, h->subs[i].rise);
}

void health_sample(struct health *h, const struct health_inputs *in)
{
	uint64_t now_real;

	h->in = *in;
	h->now_ns = mono_ns();
	h->state = HEALTH_HEALTHY;
	h->n_reasons = 0;
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
		add_reason(h, HEALTH_DOWN, "dataplane unreachable: no control connection");
	if (!h->have_snap) {
		add_reason(h, HEALTH_DOWN, "dataplane unreachable: %s (%s)", h->missing,
			   h->set->health_file);
		return;
	}
	now_real = real_ns();
	h->age_ms =
	    now_real > h->snap->updated_ns ? (now_real - h->snap->updated_ns) / NS_PER_MS : 0;
	if (h->age_ms > HEALTH_STALE_MS) {
		add_reason(h, HEALTH_DOWN,
			   "dataplane unreachable: health file stale (updated %" PRIu64 " ms ago)",
			   h->age_ms);
		return;
	}
	if (h->snap->boot_id != h->boot_id)
		reset_tracking(h);
	derive_lcores(h, h->snap);
	derive_counters(h, h->snap);
	if (in->dp_connected && in->store_version != 0 && in->dp_version != in->store_version)
		add_reason(h, HEALTH_DEGRADED,
			   "table drift: dataplane at version %" PRIu64 ", store at %" PRIu64,
			   in->dp_version, in->store_version);
}

enum health_state health_state(const struct health *h)
{
	return h->state;
}

const char *health_state_name(enum health_state st)
{
	switch (st) {
	case HEALTH_HEALTHY:
		return "healthy";
	case HEALTH_DEGRADED:
		return "degraded";
	case HEALTH_DOWN:
		return "down";
	}
	return "unknown";
}

const struct health_shm *health_snapshot(const struct health *h)
{
	return h->have_snap ? h->snap : NULL;
}

json_t *health_json(const struct health *h)
{
	json_t *o = json_object(), *reasons = json_array(), *dp = json_object();

	for (uint32_t i = 0; i < h->n_reasons; i++)
		json_array_append_new(reasons, json_string(h->reasons[i]));
	json_object_set_new(o, "state", json_string(health_state_name(h->state)));
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

/*
 * One counter family per entry of common/counter.h's lists: aster_feed_<name>_total
 * labelled by feed, aster_subscriber_<name>_total labelled by subscriber.
 */
static void feed_families(FILE *f, const struct health_shm *s)
{
#define X(n, help)                                                                                 \
	family(f, "aster_feed_" #n "_total", "counter", help);                                     \
	for (uint32_t i = 0; i < s->n_feeds && i < HEALTH_MAX_FEEDS; i++) {                        \
		fputs("aster_feed_" #n "_total{feed=\"", f);                                       \
		label(f, s->feeds[i].name, HEALTH_NAME);                                           \
		fprintf(f, "\"} %" PRIu64 "\n", s->feeds[i].c.n);                                  \
	}
	COUNTER_FEED(X)
#undef X
}

static void sub_families(FILE *f, const struct health_shm *s)
{
#define X(n, help)                                                                                 \
	family(f, "aster_subscriber_" #n "_total", "counter", help);                               \
	for (uint32_t i = 0; i < s->n_subs && i < HEALTH_MAX_SUBS; i++) {                          \
		fputs("aster_subscriber_" #n "_total{subscriber=\"", f);                           \
		label(f, s->subs[i].name, HEALTH_NAME);                                            \
		fprintf(f, "\"} %" PRIu64 "\n", s->subs[i].c.n);                                   \
	}
	COUNTER_SUB(X)
#undef X
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
	fprintf(f, "aster_health_state %d\n", (int)h->state);
	family(f, "aster_table_version", "gauge", "Routing table version held by aster-control");
	fprintf(f, "aster_table_version %" PRIu64 "\n", h->in.store_version);
	family(f, "aster_dataplane_connected", "gauge", "1 when the control connection is up");
	fprintf(f, "aster_dataplane_connected %d\n", h->in.dp_connected ? 1 : 0);
	if (s != NULL) {
		family(f, "aster_dataplane_table_version", "gauge",
		       "Routing table version in force in the dataplane");
		fprintf(f, "aster_dataplane_table_version %" PRIu64 "\n", s->table_version);
		feed_families(f, s);
		sub_families(f, s);
		family(f, "aster_drops_total", "counter", "Packets or messages dropped, by reason");
		for (uint32_t i = 0; i < s->n_drops && i < HEALTH_MAX_DROPS; i++) {
			fprintf(f, "aster_drops_total{reason=\"");
			label(f, s->drops[i].name, HEALTH_NAME);
			fprintf(f, "\"} %" PRIu64 "\n", s->drops[i].value);
		}
		family(f, "aster_lcore_heartbeat", "counter", "Polling loop turns of the lcore");
		for (uint32_t i = 0; i < s->n_lcores && i < HEALTH_MAX_LCORES; i++)
			fprintf(f, "aster_lcore_heartbeat{lcore=\"%u\"} %" PRIu64 "\n",
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
