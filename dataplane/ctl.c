/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "ctl.h"
#include "dp_log.h"
#include "lcore.h"
#include "mcast.h"
#include "stats.h"

#include "../common/ctl_proto.h"
#include "../common/health_shm.h"

#define CTL_MAX_CLIENTS 8

DP_LOG_REGISTER(ctl);

struct ctl_client {
	int fd;
	bool hello; /* HELLO accepted: other requests allowed */
};

struct ctl {
	struct lcore_map *map;
	pthread_t thread;
	int listen_fd;
	int wake[2]; /* pipe: ctl_stop wakes the poll */
	char sock_path[108];
	struct health_shm *health;
	uint64_t boot_id;
	uint64_t started_ns;
	struct ctl_client clients[CTL_MAX_CLIENTS];
	struct mcast *mcast; /* feed group membership (IGMP), driven from this thread */
	/* when each lcore's heartbeat last moved (this thread writes, /aster/health reads
	 * under tel_lock) */
	uint64_t hb_last[HEALTH_MAX_LCORES];
	uint64_t hb_moved_ns[HEALTH_MAX_LCORES];
};

/* The running control thread, for the /aster/health telemetry command. */
static pthread_mutex_t tel_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctl *tel_ctl;

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void copy_name(char *dst, const char *src)
{
	snprintf(dst, HEALTH_NAME, "%s", src);
}

/* Rewrite the health segment (seqlock: odd while writing). */
static void health_publish(struct ctl *c)
{
	struct lcore_map *map = c->map;
	struct health_shm *h = c->health;
	const struct routing_config *cfg = map->table;
	uint64_t drops[DROP__MAX];
	uint32_t n = 0;

	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	h->updated_ns = realtime_ns();
	h->table_version = map->table_version;
	for (uint16_t r = 0; r < map->n_rx && n < HEALTH_MAX_LCORES; r++, n++) {
		h->lcores[n].lcore_id = map->rx[r]->lcore_id;
		h->lcores[n].roles = HEALTH_ROLE_RX;
		h->lcores[n].heartbeat = counter_read(&map->rx[r]->st->iterations);
		h->lcores[n].ring_used = 0;
		h->lcores[n].ring_size = 0;
		for (uint16_t t = 0; t < map->n_tx; t++) {
			uint64_t used = rte_ring_count(map->rings[r][t]);

			if (used > h->lcores[n].ring_used)
				h->lcores[n].ring_used = used;
			h->lcores[n].ring_size = rte_ring_get_capacity(map->rings[r][t]);
		}
	}
	for (uint16_t t = 0; t < map->n_tx && n < HEALTH_MAX_LCORES; t++, n++) {
		h->lcores[n].lcore_id = map->tx[t]->lcore_id;
		h->lcores[n].roles = HEALTH_ROLE_TX;
		h->lcores[n].heartbeat = counter_read(&map->tx[t]->st->iterations);
		h->lcores[n].ring_used = 0;
		h->lcores[n].ring_size = 0;
	}
	h->n_lcores = n;
	n = 0;
	for (uint16_t i = 0; i < map->n_rx_ports + map->n_tx_ports && n < HEALTH_MAX_PORTS; i++) {
		bool rx = i < map->n_rx_ports;
		uint16_t port =
		    rx ? map->rx_port_ids[i] : map->tx_ports[i - map->n_rx_ports].port_id;
		struct rte_eth_stats es;
		struct rte_eth_link link;
		char name[RTE_ETH_NAME_MAX_LEN] = "";

		memset(&es, 0, sizeof(es));
		memset(&link, 0, sizeof(link));
		rte_eth_stats_get(port, &es);
		rte_eth_link_get_nowait(port, &link);
		if (rx)
			rte_eth_dev_get_name_by_port(port, name);
		copy_name(h->ports[n].name, rx ? name : map->tx_ports[i - map->n_rx_ports].name);
		h->ports[n].is_rx = rx;
		h->ports[n].link_up = link.link_status == RTE_ETH_LINK_UP;
		h->ports[n].packets = rx ? es.ipackets : es.opackets;
		h->ports[n].missed = rx ? es.imissed + es.ierrors : es.oerrors;
		n++;
	}
	h->n_ports = n;
	stats_drop_totals(map, drops);
	n = 0;
	for (int d = 1; d < DROP__MAX && n < HEALTH_MAX_DROPS; d++, n++) {
		copy_name(h->drops[n].name, stats_drop_name[d]);
		h->drops[n].value = drops[d];
	}
	h->n_drops = n;
	n = 0;
	for (uint32_t f = 0; cfg != NULL && f < cfg->n_feeds && n < HEALTH_MAX_FEEDS; f++, n++) {
		struct counter_feed t;

		stats_feed_totals(map, f, &t);
		copy_name(h->feeds[n].name, cfg->feeds[f].name);
		h->feeds[n].c = t;
	}
	h->n_feeds = n;
	n = 0;
	for (uint32_t s = 0; cfg != NULL && s < cfg->n_subs && n < HEALTH_MAX_SUBS; s++, n++) {
		struct counter_sub t;

		stats_sub_totals(map, s, &t);
		copy_name(h->subs[n].name, cfg->subs[s].name);
		h->subs[n].c = t;
	}
	h->n_subs = n;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&h->seq, h->seq + 1, __ATOMIC_RELEASE);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Rewrite the health segment and note when each polling lcore's heartbeat last moved.
 * Under tel_lock, so /aster/health never reads a half-written segment (aster-control,
 * in another process, uses the seqlock instead).
 */
static void health_update(struct ctl *c)
{
	uint64_t now = mono_ns();

	pthread_mutex_lock(&tel_lock);
	health_publish(c);
	for (uint32_t i = 0; i < c->health->n_lcores; i++)
		if (c->hb_moved_ns[i] == 0 || c->health->lcores[i].heartbeat != c->hb_last[i]) {
			c->hb_last[i] = c->health->lcores[i].heartbeat;
			c->hb_moved_ns[i] = now;
		}
	pthread_mutex_unlock(&tel_lock);
}

/*
 * /aster/health: what the dataplane can tell about itself, from its own health segment
 * (read under tel_lock, which health_update holds while rewriting it):
 * "down" when a polling lcore's heartbeat has not moved for HEALTH_STALL_MS,
 * "degraded" for a link down or a ring over HEALTH_RING_HIGH_PCT, with the reasons.
 * Rising drops, gaps and table drift need history and the store: aster-control's
 * model (asterctl health, GET /health) adds those.
 */
static int tel_health(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct rte_tel_data *reasons, *lcores;
	const struct health_shm *h;
	const char *state = "healthy";
	uint64_t now = mono_ns();
	char text[128];

	RTE_SET_USED(cmd);
	RTE_SET_USED(params);
	reasons = rte_tel_data_alloc();
	lcores = rte_tel_data_alloc();
	if (reasons == NULL || lcores == NULL) {
		rte_tel_data_free(reasons);
		rte_tel_data_free(lcores);
		return -ENOMEM;
	}
	rte_tel_data_start_array(reasons, RTE_TEL_STRING_VAL);
	rte_tel_data_start_dict(lcores);
	rte_tel_data_start_dict(d);
	pthread_mutex_lock(&tel_lock);
	h = tel_ctl != NULL ? tel_ctl->health : NULL;
	for (uint32_t i = 0; h != NULL && i < h->n_lcores; i++) {
		const struct health_lcore *l = &h->lcores[i];
		uint64_t still_ms = (now - tel_ctl->hb_moved_ns[i]) / 1000000;

		snprintf(text, sizeof(text), "%s%u_heartbeat",
			 l->roles & HEALTH_ROLE_RX ? "rx" : "tx", l->lcore_id);
		rte_tel_data_add_dict_u64(lcores, text, l->heartbeat);
		if (still_ms > HEALTH_STALL_MS) {
			snprintf(text, sizeof(text),
				 "lcore stalled: lcore %u heartbeat unchanged for %" PRIu64 " ms",
				 l->lcore_id, still_ms);
			rte_tel_data_add_array_string(reasons, text);
			state = "down";
		}
		if (l->ring_size != 0 && l->ring_used * 100 > l->ring_size * HEALTH_RING_HIGH_PCT) {
			snprintf(text, sizeof(text),
				 "ring occupancy high: lcore %u %" PRIu64 "/%" PRIu64, l->lcore_id,
				 l->ring_used, l->ring_size);
			rte_tel_data_add_array_string(reasons, text);
			if (strcmp(state, "healthy") == 0)
				state = "degraded";
		}
	}
	for (uint32_t i = 0; h != NULL && i < h->n_ports; i++) {
		if (h->ports[i].link_up)
			continue;
		snprintf(text, sizeof(text), "link down: port %s", h->ports[i].name);
		rte_tel_data_add_array_string(reasons, text);
		if (strcmp(state, "healthy") == 0)
			state = "degraded";
	}
	if (h != NULL) {
		rte_tel_data_add_dict_string(d, "state", state);
		rte_tel_data_add_dict_u64(d, "table_version", h->table_version);
		rte_tel_data_add_dict_u64(d, "boot_id", h->boot_id);
		rte_tel_data_add_dict_container(d, "reasons", reasons, 0);
		rte_tel_data_add_dict_container(d, "lcores", lcores, 0);
	} else {
		rte_tel_data_add_dict_string(d, "state", "no control thread (replay)");
		rte_tel_data_free(reasons);
		rte_tel_data_free(lcores);
	}
	pthread_mutex_unlock(&tel_lock);
	return 0;
}

static int reply_error(int fd, uint32_t seq, int status, const char *text)
{
	struct ctl_error e = {.status = status};

	return ctl_send(fd, CTL_ERROR, seq, &e, sizeof(e), text, strlen(text));
}

/* The table log: from which (session, sequence) on each feed was routed by which table
 * version; the integration tests check every output message against it. */
static json_t *table_log(const struct lcore_map *map)
{
	json_t *o = json_object();

	for (uint32_t f = 0; map->table != NULL && f < map->table->n_feeds; f++) {
		uint32_t slot = map->feed_slot[f];
		const struct rx_feed *fd = map->rx[map->feed_owner[slot]]->feed_by_slot[slot];
		json_t *a = json_array();
		uint64_t n = fd ? __atomic_load_n(&fd->n_log, __ATOMIC_ACQUIRE) : 0;

		for (uint64_t i = n > RX_FEED_LOG ? n - RX_FEED_LOG : 0; i < n; i++) {
			const struct rx_feed_log *e = &fd->log[i % RX_FEED_LOG];
			char session[11];

			memcpy(session, e->session, 10);
			session[10] = '\0';
			json_array_append_new(a, json_pack("{sI sI ss}", "table_version",
							   (json_int_t)e->table_version, "seq",
							   (json_int_t)e->seq, "session", session));
		}
		json_object_set_new(o, map->table->feeds[f].name, a);
	}
	return o;
}

static int handle_apply(struct ctl *c, int fd, const struct ctl_hdr *h, const uint8_t *payload)
{
	struct ctl_apply req;
	struct ctl_apply_reply rep = {0};
	struct lcore_apply_result res;
	const char *text;
	uint32_t text_len;
	char err[RC_ERR_LEN + 128] = "", name[64];
	struct routing_config *cfg;

	if (ctl_decode_payload(h->type, payload, h->len, &req, sizeof(req), &text, &text_len) != 0)
		return reply_error(fd, h->seq, -EPROTO, "APPLY: malformed payload");
	snprintf(name, sizeof(name), "table-v%" PRIu64, req.table_version);
	cfg = routing_config_parse(text, text_len, name, err, sizeof(err));
	if (cfg == NULL) {
		rep.status = -EINVAL;
	} else {
		rep.status =
		    lcore_map_apply(c->map, cfg, req.table_version,
				    (req.flags & CTL_APPLY_DRY_RUN) != 0, &res, err, sizeof(err));
		if (rep.status != 0 || (req.flags & CTL_APPLY_DRY_RUN))
			routing_config_free(cfg);
		if (rep.status == 0) {
			rep.build_ns = res.build_ns;
			rep.publish_ns = res.publish_ns;
		}
	}
	rep.table_version = c->map->table_version;
	if (rep.status == 0 && !(req.flags & CTL_APPLY_DRY_RUN))
		DP_LOG(ctl, NOTICE,
		       "table version %" PRIu64 " in force (build %.2f ms, publish %.2f ms; "
		       "%u feeds, %u subscribers)\n",
		       req.table_version, (double)res.build_ns / 1e6, (double)res.publish_ns / 1e6,
		       cfg->n_feeds, cfg->n_subs);
	if (rep.status == 0)
		err[0] = '\0';
	else
		DP_LOG(ctl, WARNING, "table version %" PRIu64 " refused: %s\n", req.table_version,
		       err);
	return ctl_send(fd, CTL_APPLY_REPLY, h->seq, &rep, sizeof(rep), err, strlen(err));
}

static int handle_status(struct ctl *c, int fd, const struct ctl_hdr *h)
{
	struct ctl_status_reply rep = {.table_version = c->map->table_version,
				       .boot_id = c->boot_id};
	json_t *root = stats_json(c->map);
	char *text;
	int rc;

	if (root == NULL)
		return reply_error(fd, h->seq, -ENOMEM, "STATUS: out of memory");
	json_object_set_new(root, "table_version", json_integer((json_int_t)c->map->table_version));
	json_object_set_new(root, "table_log", table_log(c->map));
	{
		struct mcast_counters mc;

		mcast_counters(c->mcast, &mc);
		json_object_set_new(
		    root, "igmp",
		    json_pack("{sI sI sI sI sI}", "reports", (json_int_t)mc.reports, "leaves",
			      (json_int_t)mc.leaves, "queries", (json_int_t)mc.queries, "answers",
			      (json_int_t)mc.answers, "tx_failed", (json_int_t)mc.tx_failed));
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text == NULL)
		return reply_error(fd, h->seq, -ENOMEM, "STATUS: out of memory");
	rc = ctl_send(fd, CTL_STATUS_REPLY, h->seq, &rep, sizeof(rep), text, strlen(text));
	free(text);
	return rc;
}

/* One request; a negative return closes the connection. */
static int handle(struct ctl *c, struct ctl_client *cl)
{
	struct ctl_hdr h;
	uint8_t *payload;
	int rc = ctl_recv(cl->fd, &h, &payload);

	if (rc == -EPROTONOSUPPORT) {
		char text[96];

		snprintf(text, sizeof(text),
			 "protocol version %u not supported, this dataplane speaks %u", h.version,
			 CTL_PROTO_VERSION);
		reply_error(cl->fd, h.seq, rc, text);
		return rc;
	}
	if (rc != 0) {
		if (rc == -EPROTO)
			reply_error(cl->fd, h.seq, rc, "bad message header");
		return rc;
	}
	if (h.type == CTL_HELLO) {
		struct ctl_hello req;
		struct ctl_hello_reply rep = {
		    .proto_version = CTL_PROTO_VERSION,
		    .pid = (uint32_t)getpid(),
		    .boot_id = c->boot_id,
		    .table_version = c->map->table_version,
		    .started_ns = c->started_ns,
		};

		if (ctl_decode_payload(h.type, payload, h.len, &req, sizeof(req), NULL, NULL) !=
			0 ||
		    req.proto_version != CTL_PROTO_VERSION) {
			reply_error(cl->fd, h.seq, -EPROTONOSUPPORT,
				    "HELLO: protocol version mismatch");
			rc = -EPROTONOSUPPORT;
		} else {
			cl->hello = true;
			rc = ctl_send(cl->fd, CTL_HELLO_REPLY, h.seq, &rep, sizeof(rep), NULL, 0);
		}
	} else if (!cl->hello) {
		reply_error(cl->fd, h.seq, -EPROTO, "HELLO first");
		rc = -EPROTO;
	} else if (h.type == CTL_APPLY) {
		rc = handle_apply(c, cl->fd, &h, payload);
	} else if (h.type == CTL_STATUS) {
		rc = handle_status(c, cl->fd, &h);
	} else {
		reply_error(cl->fd, h.seq, -EPROTO, "unknown message type");
		rc = -EPROTO;
	}
	free(payload);
	return rc;
}

static void *ctl_main(void *arg)
{
	struct ctl *c = arg;
	struct pollfd pfd[CTL_MAX_CLIENTS + 2];

	for (;;) {
		int n = 0, idx[CTL_MAX_CLIENTS];

		pfd[n++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
		for (int i = 0; i < CTL_MAX_CLIENTS; i++)
			if (c->clients[i].fd >= 0) {
				idx[n - 2] = i;
				pfd[n++] =
				    (struct pollfd){.fd = c->clients[i].fd, .events = POLLIN};
			}
		int rc = poll(pfd, (nfds_t)n, HEALTH_PERIOD_MS);

		if (rc > 0 && (pfd[0].revents & POLLIN))
			break;
		if (rc > 0 && (pfd[1].revents & POLLIN)) {
			int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			for (int i = 0; fd >= 0 && i < CTL_MAX_CLIENTS; i++)
				if (c->clients[i].fd < 0) {
					c->clients[i] = (struct ctl_client){.fd = fd};
					fd = -1;
				}
			if (fd >= 0) {
				reply_error(fd, 0, -EBUSY, "too many control connections");
				close(fd);
			}
		}
		for (int k = 2; rc > 0 && k < n; k++) {
			struct ctl_client *cl = &c->clients[idx[k - 2]];

			if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (handle(c, cl) != 0) {
					close(cl->fd);
					cl->fd = -1;
					cl->hello = false;
				}
			}
		}
		health_update(c);
		{
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			mcast_tick(c->mcast,
				   (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
		}
	}
	return NULL;
}

static int health_map(struct ctl *c, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0 || ftruncate(fd, sizeof(struct health_shm)) != 0) {
		snprintf(err, errlen, "%s: cannot create the health file: %s", path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	c->health =
	    mmap(NULL, sizeof(struct health_shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (c->health == MAP_FAILED) {
		c->health = NULL;
		snprintf(err, errlen, "%s: cannot map the health file: %s", path, strerror(errno));
		return -errno;
	}
	c->health->version = HEALTH_VERSION;
	c->health->pid = (uint64_t)getpid();
	c->health->boot_id = c->boot_id;
	__atomic_store_n(&c->health->magic, HEALTH_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

struct ctl *ctl_start(struct lcore_map *map, const char *sock_path, const char *health_path,
		      uint64_t boot_id, char *err, size_t errlen)
{
	struct ctl *c = calloc(1, sizeof(*c));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (c == NULL) {
		snprintf(err, errlen, "out of memory for the control thread");
		return NULL;
	}
	c->map = map;
	c->boot_id = boot_id;
	c->started_ns = realtime_ns();
	c->listen_fd = -1;
	c->wake[0] = c->wake[1] = -1;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: control socket path too long", sock_path);
		goto fail;
	}
	snprintf(c->sock_path, sizeof(c->sock_path), "%s", sock_path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (health_map(c, health_path, err, errlen) != 0)
		goto fail;
	c->mcast = mcast_create(map);
	if (c->mcast == NULL) {
		snprintf(err, errlen, "out of memory for the multicast membership state");
		goto fail;
	}
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(sock_path); /* a stale socket of a previous run */
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(sock_path, 0660) != 0 || listen(c->listen_fd, 8) != 0) {
		snprintf(err, errlen, "%s: cannot listen: %s", sock_path, strerror(errno));
		goto fail;
	}
	/* first contents before the thread starts: it is the segment's only writer after */
	health_update(c);
	if (pipe2(c->wake, O_CLOEXEC) != 0 ||
	    rte_ctrl_thread_create(&c->thread, "aster-ctl", NULL, ctl_main, c) != 0) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_lock(&tel_lock);
	tel_ctl = c;
	pthread_mutex_unlock(&tel_lock);
	/* registered once per process; a second ctl_start (none today) reuses it */
	rte_telemetry_register_cmd("/aster/health", tel_health,
				   "Dataplane health: state, reasons, lcore heartbeats.");
	return c;
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->wake[0] >= 0) {
		close(c->wake[0]);
		close(c->wake[1]);
	}
	if (c->health != NULL)
		munmap(c->health, sizeof(struct health_shm));
	mcast_free(c->mcast); /* never started: sends nothing */
	free(c);
	return NULL;
}

void ctl_stop(struct ctl *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&tel_lock);
	tel_ctl = NULL;
	pthread_mutex_unlock(&tel_lock);
	if (write(c->wake[1], "x", 1) == 1)
		pthread_join(c->thread, NULL);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			close(c->clients[i].fd);
	close(c->listen_fd);
	unlink(c->sock_path);
	close(c->wake[0]);
	close(c->wake[1]);
	munmap(c->health, sizeof(struct health_shm));
	mcast_free(c->mcast); /* leaves, while the ports still run */
	free(c);
}
