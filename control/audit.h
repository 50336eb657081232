/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The audit log (issue 3 §7): one JSON object a line, appended for every change asked
 * of aster-control, whether it was made, refused or failed:
 *   {"time": "2024-05-01T09:30:00.123Z", "uid": 1000, "gid": 1000, "pid": 4242,
 *    "command": "add-pattern alpha ^MSFT$", "result": "ok", "before": 7, "after": 8}
 * A remote caller (the HTTPS API) has no uid, gid or pid; its line names the identity of
 * its certificate and its address instead:
 *   {"time": ..., "identity": "ops-alice", "address": "192.0.2.7:50312", "command": ...}
 * Each line is written with one write(2) on an O_APPEND descriptor, so lines from
 * concurrent writers never interleave. A change's line is synced before the change is
 * made; refusals are synced at least every AUDIT_SYNC_MS.
 */
#ifndef ASTER_CONTROL_AUDIT_H
#define ASTER_CONTROL_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct audit;

struct audit_entry {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const char *identity; /* remote callers: certificate identity (uid/gid/pid unused) */
	const char *address;  /* remote callers: their address */
	const char *command;  /* the command as the operator would type it */
	const char *result;   /* "ok", "no changes", "denied", "error: <one line>" */
	uint64_t before;      /* table version before the change */
	uint64_t after;	      /* after (== before when nothing changed) */
};

#define AUDIT_TEXT_MAX	     512  /* bytes of one text field, cut on a character boundary */
#define AUDIT_REFUSALS_PER_S 100  /* refusal lines written one by one in one second */
#define AUDIT_SYNC_MS	     1000 /* refusal lines are synced at least this often */

/* Open (create 0640, parent directories not created) for appending. NULL + errno. */
struct audit *audit_open(const char *path);
/* Flush (audit_flush) and close. */
void audit_close(struct audit *a);

/*
 * Append one line and fdatasync it before returning: a change is made only once this
 * succeeded (docs/control.md, "Audit"). Text fields are made valid UTF-8 (an invalid
 * byte becomes '?') and cut on a character boundary at AUDIT_TEXT_MAX - 1 bytes, so no
 * caller's text can make a line fail. 0 or -errno.
 */
int audit_append(struct audit *a, const struct audit_entry *e);

/*
 * Append a refusal (denied, invalid, no changes: nothing was changed). Written at once,
 * synced by audit_flush within AUDIT_SYNC_MS or by the next audit_append, so that a
 * caller flooding refused requests costs no fdatasync each. Past AUDIT_REFUSALS_PER_S
 * in one second the rest are counted, and audit_flush writes one line naming the last
 * of them with "repeated": N. 0 when written, 1 when counted, or -errno.
 */
int audit_append_refusal(struct audit *a, const struct audit_entry *e);

/* Write the summary of counted refusals once their second is over and sync what
 * audit_append_refusal wrote once AUDIT_SYNC_MS passed; `now_ms` is CLOCK_MONOTONIC,
 * UINT64_MAX to do both now. Called from aster-control's loop. */
void audit_flush(struct audit *a, uint64_t now_ms);

/* Bytes of the longest prefix of `s`, at most `max`, that ends on a whole UTF-8
 * character (for texts cut to fit a buffer). */
size_t audit_utf8_prefix(const char *s, size_t max);

#endif
