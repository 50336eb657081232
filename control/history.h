/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table's history for the console and the API (docs/console.md): the
 * versions the store keeps (store_history), each with who made it and with what
 * command (the audit line whose change produced it), and any version's diff against the
 * one before it and its YAML, as the store records and rebuilds them.
 *
 * Both run on aster-control's event loop (they read the store, which belongs to it),
 * with the signature of server_execute() so that http.c hands them over the same way.
 * The audit log is read from its end, at most HISTORY_AUDIT_TAIL bytes: an old version
 * whose audit line is further back is listed without its author.
 */
#ifndef ASTER_CONTROL_HISTORY_H
#define ASTER_CONTROL_HISTORY_H

#include <jansson.h>

struct server_ctx;
struct server_peer;

#define HISTORY_AUDIT_TAIL  (8u << 20)
#define HISTORY_MAX_LIMIT   1000
#define HISTORY_LIMIT	    50
#define HISTORY_AUDIT_LINES 50 /* latest audit lines in a list reply, refusals included */

/*
 * {"before": "N"?, "limit": "M"?} (strings, as GET arguments come) ->
 * {"ok": true, "version": current, "versions": [{"version", "applied_at", "whole",
 *  "changes", "command", "result", "identity" | "uid", "address" | "pid", ...}, ...]
 *  newest first, below N, "audit": [the latest audit lines, newest first]}
 */
json_t *history_list(struct server_ctx *ctx, const struct server_peer *peer, json_t *req);

/*
 * {"version": "N"} -> {"ok": true, "version": N, "applied_at", "whole", "changes", who,
 * "previous": the version before it in the store (numbers may jump) or null, "diff": the
 * diff lines against it as one text, "yaml": N's canonical YAML}
 */
json_t *history_version(struct server_ctx *ctx, const struct server_peer *peer, json_t *req);

#endif
