/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the host offers, checked before EAL starts so a profile that does not fit is one
 * line instead of EAL's page of usage text (docs/operations.md): the CPUs this process
 * may run on, free hugepages; and the EAL command line built from the profile. Main
 * lcore, start-up only.
 */
#ifndef ASTER_HOST_H
#define ASTER_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* Every CPU the profile pins to is one this process may use. 0, or -EINVAL with one
 * line in `err`. */
int host_check_cpus(const struct profile *prof, char *err, size_t errlen);

/* Free hugepages in MB; 0 when hugetlbfs is not mounted. */
uint64_t host_hugepages_free_mb(void);

struct host_eal {
	const char *file_prefix; /* NULL: aster-<pid> */
	const char *huge; /* "auto" (hugepages when memory_mb of them are free), "on", "off" */
	bool probe_pci;	  /* -a for the profile's PCI ports (live), else --no-pci */
	bool verbose;	  /* EAL's and the PMDs' own logs above error */
};

/* rte_eal_init with the profile's lcores, memory and extra arguments. Returns its
 * result; `*no_huge` says whether it ran without hugepages. */
int host_eal_start(const struct profile *prof, const struct host_eal *o, bool *no_huge);

#endif
