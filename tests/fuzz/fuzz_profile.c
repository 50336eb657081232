/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the PMD profile loader (dataplane/profile.c over
 * common/yaml_doc.c, docs/configuration.md): any input is either refused with one
 * line or loaded into a profile within the ranges the key table promises. The loader
 * reads a path, so the input is handed over as a memory file.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64], err[512];
	struct profile p;
	int rc;

	if (fd < 0)
		fd = memfd_create("fuzz-profile", MFD_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	rc = profile_load(path, &p, err, sizeof(err));
	if (rc != 0) {
		CHECK(rc < 0);
		CHECK_ONE_LINE(err);
		return 0;
	}
	CHECK(p.n_lcores >= 1 && p.n_lcores <= PROFILE_MAX_LCORES);
	CHECK(p.n_rx_ports <= PROFILE_MAX_PORTS && p.n_tx_ports <= PROFILE_MAX_PORTS);
	CHECK(p.burst >= 1 && p.burst <= 512);
	CHECK(p.ring_size != 0 && (p.ring_size & (p.ring_size - 1)) == 0);
	return 0;
}
