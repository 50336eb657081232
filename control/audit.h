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
 * concurrent writers never interleave, and synced before the change is acknowledged.
 */
#ifndef ASTER_CONTROL_AUDIT_H
#define ASTER_CONTROL_AUDIT_H

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

/* Open (create 0640, parent directories not created) for appending. NULL + errno. */
struct audit *audit_open(const char *path);
void audit_close(struct audit *a);

/* Append one line. 0 or -errno. */
int audit_append(struct audit *a, const struct audit_entry *e);

#endif
