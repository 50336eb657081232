/* SPDX-License-Identifier: BSD-3-Clause */
/* The host checks and the EAL command line (host.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "host.h"

#define HOST_EAL_ARGS 64

/*
 * Every CPU the profile pins to must be one this process may run on: otherwise EAL
 * answers "core N unavailable" and a page of usage text. One line instead, before EAL.
 */
int host_check_cpus(const struct profile *prof, char *err, size_t errlen)
{
	cpu_set_t allowed;
	char list[256] = "";
	size_t off = 0;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return 0; /* cannot tell: let EAL decide */
	for (int c = 0; c < CPU_SETSIZE && off < sizeof(list) - 8; c++)
		if (CPU_ISSET(c, &allowed))
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%d",
						off ? "," : "", c);
	if (!CPU_ISSET(prof->main_cpu, &allowed)) {
		snprintf(err, errlen,
			 "%s: main_cpu %u is not available here (this process may use CPUs %s): "
			 "edit the profile's CPUs (docs/operations.md, core layout)",
			 prof->path, prof->main_cpu, list);
		return -EINVAL;
	}
	for (uint16_t i = 0; i < prof->n_lcores; i++)
		if (!CPU_ISSET(prof->lcores[i].cpu, &allowed)) {
			snprintf(
			    err, errlen,
			    "%s: lcore %u: cpu %u is not available here (this process may use "
			    "CPUs %s): edit the profile's CPUs (docs/operations.md, core layout)",
			    prof->path, prof->lcores[i].id, prof->lcores[i].cpu, list);
			return -EINVAL;
		}
	return 0;
}

uint64_t host_hugepages_free_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	uint64_t free_pages = 0, size_kb = 0;
	bool mounted = false;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %" SCNu64, &free_pages);
		sscanf(line, "Hugepagesize: %" SCNu64, &size_kb);
	}
	fclose(f);
	f = fopen("/proc/mounts", "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " hugetlbfs ") != NULL)
			mounted = true;
	fclose(f);
	return mounted ? free_pages * size_kb / 1024 : 0;
}

/* EAL's argv, built argument by argument (static: EAL keeps pointers into it). */
struct eal_argv {
	int n;
	char *argv[HOST_EAL_ARGS + 1];
	char bufs[HOST_EAL_ARGS][320];
};

static void arg(struct eal_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct eal_argv *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n == HOST_EAL_ARGS)
		return;
	va_start(ap, fmt);
	vsnprintf(a->bufs[a->n], sizeof(a->bufs[a->n]), fmt, ap);
	va_end(ap);
	a->argv[a->n] = a->bufs[a->n];
	a->n++;
}

/* --lcores: the main lcore, then every worker on its CPU. */
static void arg_lcores(struct eal_argv *a, const struct profile *prof)
{
	char lcores[256];
	int len = snprintf(lcores, sizeof(lcores), "0@%u", prof->main_cpu);

	for (uint16_t i = 0; i < prof->n_lcores; i++)
		len += snprintf(lcores + len, sizeof(lcores) - (size_t)len, ",%u@%u",
				prof->lcores[i].id, prof->lcores[i].cpu);
	arg(a, "--lcores=%s", lcores);
}

/* -a for each PCI device among the profile's ports when probing, else --no-pci. */
static void arg_pci(struct eal_argv *a, const struct profile *prof, bool probe)
{
	bool pci = false;

	for (uint16_t i = 0; probe && i < prof->n_rx_ports + prof->n_tx_ports; i++) {
		const char *dev = i < prof->n_rx_ports ? prof->rx_ports[i].dev
						       : prof->tx_ports[i - prof->n_rx_ports].dev;

		if (strncmp(dev, "net_", 4) != 0) {
			arg(a, "-a");
			arg(a, "%s", dev);
			pci = true;
		}
	}
	if (!pci)
		arg(a, "--no-pci");
}

int host_eal_start(const struct profile *prof, const struct host_eal *o, bool *no_huge)
{
	static struct eal_argv a;
	char extra[sizeof(prof->eal_args)];

	a.n = 0;
	arg(&a, "aster-dataplane");
	arg_lcores(&a, prof);
	arg(&a, "--main-lcore=0");
	if (o->file_prefix != NULL)
		arg(&a, "--file-prefix=%s", o->file_prefix);
	else
		arg(&a, "--file-prefix=aster-%d", (int)getpid());
	arg_pci(&a, prof, o->probe_pci);
	*no_huge = strcmp(o->huge, "off") == 0 ||
		   (strcmp(o->huge, "auto") == 0 && host_hugepages_free_mb() < prof->memory_mb);
	if (*no_huge) {
		arg(&a, "--no-huge");
		arg(&a, "-m");
		arg(&a, "%u", prof->memory_mb);
	} else {
		arg(&a, "--huge-unlink");
	}
	if (!o->verbose) {
		arg(&a, "--log-level=lib.*:error");
		arg(&a, "--log-level=pmd.*:error");
	}
	snprintf(extra, sizeof(extra), "%s", prof->eal_args);
	for (char *save, *tok = strtok_r(extra, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save))
		arg(&a, "%s", tok);
	a.argv[a.n] = NULL;
	return rte_eal_init(a.n, a.argv);
}
