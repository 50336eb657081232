/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The asterctl socket (issue 3 §2, §7). A Unix stream socket inside a directory created
 * 0750 and owned by the service group, so that only that group can reach it; each
 * caller's uid/gid (SO_PEERCRED) is checked against the read and write allow-lists of
 * the settings, read-only commands being separated from changing ones.
 *
 * Protocol: one JSON object a line each way (docs/control.md). A request names its
 * command in "cmd"; a reply has "ok": true plus the command's fields, or "ok": false,
 * "error": one line and "kind": what sort of refusal (invalid, denied, not_found, ...).
 * A connection may carry several requests; they are answered in order.
 *
 * A change flows: permission -> the edit (table_*) or the parse of the applied file ->
 * limits (settings, one control message, the dataplane's last HELLO) -> diff -> the
 * dataplane's dry run (when it is connected; refused: nothing stored) -> (the operator's
 * dry run: reply with the diff) -> audit "pending" -> store_replace, one transaction ->
 * audit "ok" -> push to the dataplane -> reply with the diff, the version and the
 * dataplane's APPLY_REPLY, or "dataplane unreachable: will sync on reconnect".
 */
#ifndef ASTER_CONTROL_SERVER_H
#define ASTER_CONTROL_SERVER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "table.h"

struct settings;
struct store;
struct audit;
struct dplink;
struct health;
struct routing_config;

#define SERVER_MAX_CLIENTS   64
#define SERVER_MAX_LINE	     (64u << 20) /* an applied file of 100 000+ patterns fits */
#define SERVER_MAX_READ_LINE (64u << 10) /* a request of a caller who may not write */
#define SERVER_OUT_HIGH	     (1u << 20)	 /* replies queued past this: the next request waits */
#define SERVER_ACL_CACHE     64		 /* callers whose allow-list verdict is cached */
#define SERVER_ACL_TTL_MS    10000	 /* how long a verdict is trusted */

/* An allow-list verdict: the group database is asked once per caller per TTL, not once
 * per request (a lookup can block on a directory service). */
struct server_acl_entry {
	uid_t uid;
	gid_t gid;
	bool may_read, may_write;
	uint64_t expires_ms; /* CLOCK_MONOTONIC; 0 = free */
};

/* The state requests act on; owned by main.c, changed only by the server. */
struct server_ctx {
	const struct settings *set;
	struct store *store;
	struct audit *audit;
	struct dplink *link;
	struct health *health;
	struct routing_config *cfg; /* the table in force (never NULL) */
	char *yaml;		    /* its canonical YAML once rendered (server_table_text); NULL
				     * until a full push needs it, and for version 0 */
	struct table_digest digest; /* of that text, kept by pieces (table.h) */
	uint64_t version;
	struct server_acl_entry acl_cache[SERVER_ACL_CACHE]; /* zeroed by the owner */
	bool change_busy; /* a change waits for the dataplane: the next one waits for it */
};

/* What a remote caller may do: the role its certificate identity maps to in the
 * settings (read_certs, write_certs). */
enum server_role {
	SERVER_ROLE_NONE = 0,
	SERVER_ROLE_READ,
	SERVER_ROLE_WRITE, /* implies read */
};

/*
 * Who is asking. A caller on the asterctl socket is known by SO_PEERCRED (pid, uid, gid)
 * and judged by the uid and group allow-lists; a remote caller (the HTTPS API, http.h)
 * by its certificate's identity, with the role the API looked up for it. Audit lines
 * name whichever the caller has.
 */
struct server_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	const char *identity;  /* remote callers: certificate identity; NULL on the socket */
	const char *address;   /* remote callers: their address, e.g. "192.0.2.7:50312" */
	enum server_role role; /* remote callers only */
};

struct server;

/* Create the socket directory and the listening socket. NULL + errno, err filled. */
struct server *server_open(struct server_ctx *ctx, char *err, size_t errlen);
/* Close every connection and remove the socket. */
void server_close(struct server *sv);

/*
 * The descriptors to poll (listening socket first, then clients); returns how many. A
 * client with more than SERVER_OUT_HIGH of replies unread is not polled for input: its
 * next requests wait until it reads.
 */
size_t server_pollfds(struct server *sv, struct pollfd *fds, size_t cap);
/*
 * Serve what poll() reported on the descriptors server_pollfds returned, and close the
 * clients whose deadline passed: a connection must complete a request, or take some of
 * its replies, at least every `client_idle_ms` (settings), or it is closed.
 */
void server_serve(struct server *sv, const struct pollfd *fds, size_t n);
/* Milliseconds until the next client deadline (for poll), or -1 with no clients. */
int server_timeout_ms(const struct server *sv);

/* What `peer` may do: the allow-lists (cached, SERVER_ACL_TTL_MS) or its remote role. */
void server_peer_rights(struct server_ctx *ctx, const struct server_peer *peer, bool *may_read,
			bool *may_write);

/* Where a reply goes (never NULL; the callee owns it). */
typedef void (*server_reply_fn)(void *arg, json_t *reply);

/*
 * Execute one request for `peer`. The reply goes to `done`: before this returns, or, for
 * a request that waits for the dataplane (a change and its dry run, stats), later from
 * the event loop (dplink_on_io, dplink_tick), which meanwhile serves everyone else.
 * Returns false, without calling `done`, for a change while another one waits for the
 * dataplane: changes are made one at a time, so the caller tries again later. A refused
 * request's reply also says what kind of refusal it is, in "kind" (docs/control.md): the
 * HTTPS API turns it into the HTTP status.
 */
bool server_execute_async(struct server_ctx *ctx, const struct server_peer *peer, json_t *req,
			  server_reply_fn done, void *arg);
/* The same, waiting for the reply: while the dataplane answers, only its link runs. */
json_t *server_execute(struct server_ctx *ctx, const struct server_peer *peer, json_t *req);

/* The canonical YAML of the table in force (a struct server_ctx *), rendered on first use
 * after a change: what dplink pushes whole (dplink_text_fn). NULL for version 0 or when out
 * of memory. */
const char *server_table_text(void *ctx);

#endif
