/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-control: the control-plane daemon (issue 3). Owns the routing table (SQLite,
 * store.c), serves asterctl (server.c), keeps the dataplane in sync (dplink.c), watches
 * its health (health.c) and serves that over HTTP (http.c).
 *
 * One event loop, poll(2) over the asterctl socket and its clients, the dataplane link
 * and a signalfd, woken at least every HEALTH_SAMPLE_MS to sample health. The other
 * threads are libmicrohttpd's: they serve texts this loop renders, and hand the HTTP
 * API's requests to this loop through an eventfd (http.h).
 */
#include "audit.h"
#include "dplink.h"
#include "health.h"
#include "http.h"
#include "routing_config.h"
#include "server.h"
#include "settings.h"
#include "store.h"
#include "table.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define ERR_LEN 1024

static void usage(FILE *f)
{
	fprintf(f, "usage: aster-control [--settings FILE] [--check]\n"
		   "The aster control-plane daemon (docs/control.md). --check validates the\n"
		   "settings and the database, prints the effective settings and exits.\n");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sample(struct server_ctx *ctx, struct http *http)
{
	struct health_inputs in = {
	    .dp_connected = dplink_connected(ctx->link),
	    .store_version = ctx->version,
	    .dp_version = dplink_dp_version(ctx->link),
	};
	json_t *sj;

	health_sample(ctx->health, &in);
	if (http == NULL)
		return;
	sj = health_status_json(ctx->health);
	json_object_set_new(sj, "dataplane_link",
			    json_pack("{s:b, s:s}", "connected", (int)in.dp_connected, "error",
				      dplink_last_error(ctx->link)));
	http_publish(http, health_json(ctx->health), health_state(ctx->health) == HEALTH_HEALTHY,
		     sj, health_metrics(ctx->health));
}

static int run(struct server_ctx *ctx, struct server *sv, struct http *http, int sfd)
{
	struct pollfd fds[SERVER_MAX_CLIENTS + 4];
	uint64_t next_sample = 0;

	for (;;) {
		size_t n, base;
		int timeout, dp_fd, rc;
		uint64_t now;

		timeout = dplink_tick(ctx->link);
		now = mono_ms();
		if (now >= next_sample) {
			sample(ctx, http);
			/* refusals recorded since the last sync (audit.h) */
			audit_flush(ctx->audit, now);
			next_sample = now + HEALTH_SAMPLE_MS;
		}
		if (timeout > (int)(next_sample - now))
			timeout = (int)(next_sample - now);
		rc = server_timeout_ms(sv);
		if (rc >= 0 && rc < timeout)
			timeout = rc;
		fds[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		dp_fd = dplink_fd(ctx->link);
		fds[1] = (struct pollfd){.fd = dp_fd, .events = dplink_events(ctx->link)};
		/* Requests of the HTTP API wait for this loop (http.h). */
		fds[2] = (struct pollfd){.fd = http_fd(http), .events = POLLIN};
		base = 3;
		n = server_pollfds(sv, fds + base, SERVER_MAX_CLIENTS + 1);
		rc = poll(fds, base + n, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "aster-control: poll: %s\n", strerror(errno));
			return 1;
		}
		if (fds[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				fprintf(stderr, "aster-control: signal %u: exiting\n",
					si.ssi_signo);
				return 0;
			}
		}
		if (dp_fd >= 0 && fds[1].revents != 0 && dplink_fd(ctx->link) == dp_fd)
			dplink_on_io(ctx->link, fds[1].revents);
		if (fds[2].revents & POLLIN)
			http_run(http, ctx);
		server_serve(sv, fds + base, n);
	}
}

/* The command line: 0 to go on, -1 when help was given (exit 0), otherwise the exit
 * status of a usage error. */
static int parse_args(int argc, char **argv, const char **path, bool *check)
{
	static const struct option opts[] = {
	    {"settings", required_argument, NULL, 's'},
	    {"check", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "s:ch", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			*path = optarg;
			break;
		case 'c':
			*check = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "aster-control: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* The store, and the table in force it holds (rendered for the dataplane's HELLO). On
 * failure one line is printed and nothing stays open. */
static int table_open(struct server_ctx *ctx)
{
	const struct settings *set = ctx->set;
	char err[ERR_LEN];

	ctx->store = store_open(set->db, err, sizeof(err));
	if (ctx->store == NULL) {
		fprintf(stderr, "aster-control: %s\n", err);
		return -1;
	}
	if (store_set_durability(ctx->store, set->durability_full, set->history_versions, err,
				 sizeof(err)) < 0 ||
	    store_load(ctx->store, &ctx->cfg, &ctx->version, err, sizeof(err)) < 0) {
		fprintf(stderr, "aster-control: %s\n", err);
		store_close(ctx->store);
		return -1;
	}
	/* The digest by pieces (what drift is judged by); the text is rendered only when a
	 * full push needs it (server_table_text). */
	if (table_digest_init(&ctx->digest, ctx->cfg) < 0) {
		fprintf(stderr, "aster-control: cannot render table version %" PRIu64 ": %s\n",
			ctx->version, strerror(ENOMEM));
		routing_config_free(ctx->cfg);
		store_close(ctx->store);
		return -1;
	}
	fprintf(stderr, "aster-control: table version %" PRIu64 ": %u feeds, %u subscribers\n",
		ctx->version, ctx->cfg->n_feeds, ctx->cfg->n_subs);
	return 0;
}

int main(int argc, char **argv)
{
	struct settings set;
	struct server_ctx ctx = {.set = &set};
	struct server *sv = NULL;
	struct http *http = NULL;
	const char *path = NULL;
	char err[ERR_LEN];
	bool check = false;
	sigset_t sigs;
	int sfd, rc;

	rc = parse_args(argc, argv, &path, &check);
	if (rc != 0)
		return rc == -1 ? 0 : rc;
	rc = 1;
	if (settings_load(&set, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "aster-control: %s\n", err);
		return 1;
	}
	settings_log(&set, stderr);

	if (table_open(&ctx) < 0)
		return 1;
	if (check) {
		rc = 0;
		goto out_cfg;
	}

	ctx.audit = audit_open(set.audit_log);
	if (ctx.audit == NULL) {
		fprintf(stderr, "aster-control: audit log %s: %s\n", set.audit_log,
			strerror(errno));
		goto out_cfg;
	}
	ctx.link = dplink_open(&set);
	ctx.health = health_open(&set);
	if (ctx.link == NULL || ctx.health == NULL) {
		fprintf(stderr, "aster-control: out of memory\n");
		goto out_link;
	}
	dplink_set_table(ctx.link, ctx.version, ctx.version != 0 ? ctx.digest.value : 0,
			 server_table_text, &ctx);

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fprintf(stderr, "aster-control: signalfd: %s\n", strerror(errno));
		goto out_link;
	}
	sv = server_open(&ctx, err, sizeof(err));
	if (sv == NULL) {
		fprintf(stderr, "aster-control: asterctl socket: %s\n", err);
		goto out_sfd;
	}
	http = http_start(&set, err, sizeof(err));
	if (http == NULL) {
		fprintf(stderr, "aster-control: %s\n", err);
		goto out_server;
	}
	fprintf(stderr, "aster-control: listening on %s\n", set.socket_path);
	rc = run(&ctx, sv, http, sfd);

	http_stop(http);
	/* Requests still with the dataplane are answered (failed) while their clients are
	 * still there to take the reply. */
	dplink_close(ctx.link);
	ctx.link = NULL;
out_server:
	server_close(sv);
out_sfd:
	close(sfd);
out_link:
	health_close(ctx.health);
	dplink_close(ctx.link);
	audit_close(ctx.audit);
out_cfg:
	free(ctx.yaml);
	table_digest_fini(&ctx.digest);
	routing_config_free(ctx.cfg);
	store_close(ctx.store);
	return rc;
}
