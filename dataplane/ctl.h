/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's control thread (live mode), off the polling cores: serves the control
 * socket (common/ctl_proto.h: HELLO, APPLY, STATUS) for aster-control, applies routing
 * tables through lcore_map_apply, and rewrites the health segment
 * (common/health_shm.h) every HEALTH_PERIOD_MS.
 */
#ifndef ASTER_CTL_H
#define ASTER_CTL_H

#include <stddef.h>
#include <stdint.h>

struct lcore_map;
struct ctl;

/* Listen on `sock_path` (replaced if stale) and create `health_path`. NULL + errno, err. */
struct ctl *ctl_start(struct lcore_map *map, const char *sock_path, const char *health_path,
		      uint64_t boot_id, char *err, size_t errlen);
/* Stop the thread, close the socket (and unlink it), unmap the health segment. */
void ctl_stop(struct ctl *c);

#endif
