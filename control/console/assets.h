/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The console's files, built into aster-control (control/console/embed.py writes
 * console_assets.c from this folder and from Debian's libjs-chart.js at build time), so
 * that the binary serves the whole console with nothing fetched at run time.
 */
#ifndef ASTER_CONTROL_CONSOLE_ASSETS_H
#define ASTER_CONTROL_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
	const char *path; /* URL path, e.g. "/console/console.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* gzip of data when that is smaller, else NULL */
	size_t gz_len;
};

extern const struct console_asset console_assets[];
extern const size_t console_n_assets;

#endif
