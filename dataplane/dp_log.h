/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How the dataplane logs (docs/conventions.md §8): one DPDK log type per module, named
 * aster.dp.<module> (so `--log-level=aster.dp.mcast:debug` tunes one module), every
 * line starting with the process name. rte_log writes to stderr before EAL starts and
 * to stderr and syslog after. Never on a polling lcore (docs/conventions.md §6); the
 * one-line errors that end the process before EAL is up are plain stderr (main.c).
 *
 *   DP_LOG_REGISTER(port);                       once, at file scope of port.c
 *   DP_LOG(port, WARNING, "port %s: ...\n", name);
 */
#ifndef ASTER_DP_LOG_H
#define ASTER_DP_LOG_H

#include <rte_log.h>

#define DP_LOG_REGISTER(module) RTE_LOG_REGISTER(module##_logtype, aster.dp.module, INFO)
#define DP_LOG(module, level, ...)                                                                 \
	rte_log(RTE_LOG_##level, module##_logtype, "aster-dataplane: " __VA_ARGS__)

#endif
