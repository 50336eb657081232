/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for aster-control's request path (control/server.c, docs/control.md
 * "The asterctl protocol"): the input is what a client writes on the asterctl socket.
 * A real server (its socket, store, audit log, health model and a dataplane link that
 * finds no dataplane) runs in a private directory on tmpfs; each input is written by a
 * fresh connection, which then reads until the server closes it. Every reply must be
 * one JSON object on one line with "ok", and a refusal must say why in one line.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "dplink.h"
#include "fuzz.h"
#include "health.h"
#include "routing_config.h"
#include "server.h"
#include "settings.h"
#include "store.h"

static struct settings set;
static struct server_ctx ctx = {.set = &set};
static struct server *sv;

static void setup(void)
{
	char dir[] = "/dev/shm/aster-fuzz-request.XXXXXX", err[512];

	CHECK(mkdtemp(dir) != NULL);
	CHECK(settings_load(&set, NULL, err, sizeof(err)) == 0);
	snprintf(set.db, sizeof(set.db), "%s/control.db", dir);
	snprintf(set.socket_dir, sizeof(set.socket_dir), "%s/sock", dir);
	snprintf(set.socket_path, sizeof(set.socket_path), "%s/sock/%s", dir, SETTINGS_SOCKET_NAME);
	snprintf(set.dataplane_socket, sizeof(set.dataplane_socket), "%s/none.sock", dir);
	snprintf(set.health_file, sizeof(set.health_file), "%s/none.health", dir);
	snprintf(set.audit_log, sizeof(set.audit_log), "%s/audit.log", dir);
	set.http_port = 0;
	set.max_subscribers = 8;
	set.max_patterns = 16;
	set.max_pattern_len = 64;
	ctx.store = store_open(set.db, err, sizeof(err));
	CHECK(ctx.store != NULL);
	CHECK(store_load(ctx.store, &ctx.cfg, &ctx.version, err, sizeof(err)) == 0);
	CHECK(table_digest_init(&ctx.digest, ctx.cfg) == 0);
	ctx.audit = audit_open(set.audit_log);
	ctx.link = dplink_open(&set);
	ctx.health = health_open(&set);
	CHECK(ctx.audit != NULL && ctx.link != NULL && ctx.health != NULL);
	sv = server_open(&ctx, err, sizeof(err));
	CHECK(sv != NULL);
}

/* Every reply line: a JSON object with "ok"; a refusal carries a one-line "error". */
static void check_replies(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		json_error_t jerr;
		json_t *r = json_loadb(p, (size_t)(nl - p), 0, &jerr);

		CHECK(json_is_object(r));
		CHECK(json_is_boolean(json_object_get(r, "ok")));
		if (json_is_false(json_object_get(r, "ok")))
			CHECK_ONE_LINE(json_string_value(json_object_get(r, "error")));
		json_decref(r);
		p = nl + 1;
	}
	CHECK(p == end); /* the server only ever sends whole lines */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static char replies[1 << 22];
	struct pollfd fds[SERVER_MAX_CLIENTS + 2];
	size_t got = 0;
	int fd;

	if (sv == NULL)
		setup();
	/* What one write fits in the socket's buffer: the server reads as it runs below. */
	if (size > 65536)
		return 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", set.socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if (send(fd, data, size, MSG_NOSIGNAL) != (ssize_t)size) {
		fprintf(stderr, "send: %s\n", strerror(errno));
		abort();
	}
	shutdown(fd, SHUT_WR);
	for (int round = 0; round < 1000; round++) {
		size_t n = server_pollfds(sv, fds, SERVER_MAX_CLIENTS + 1);
		ssize_t r;

		/* the client last: its replies end the wait too */
		fds[n] = (struct pollfd){.fd = fd, .events = POLLIN};
		CHECK(poll(fds, n + 1, 1000) >= 0);
		server_serve(sv, fds, n);
		r = recv(fd, replies + got, sizeof(replies) - got, 0);
		if (r == 0)
			break;
		if (r > 0)
			got += (size_t)r;
		else
			CHECK(errno == EAGAIN);
		CHECK(got < sizeof(replies));
	}
	close(fd);
	check_replies(replies, got);
	return 0;
}
