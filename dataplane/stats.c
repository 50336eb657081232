/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-lcore counter blocks and the names of the drop reasons (stats.h). What reads them
 * and reports the sums is report.c.
 */
#include <rte_malloc.h>

#include "stats.h"

const char *const stats_drop_name[DROP__MAX] = {[DROP_NONE] = "none",
#define X(id, name) [DROP_##id] = name,
						STATS_DROP_LIST(X)
#undef X
};

struct stats_block *stats_block_create(uint32_t n_subs)
{
	struct stats_block *b = rte_zmalloc(NULL, sizeof(*b), RTE_CACHE_LINE_SIZE);

	if (b == NULL)
		return NULL;
	b->n_subs = n_subs;
	b->subs = rte_zmalloc(NULL, sizeof(*b->subs) * (n_subs ? n_subs : 1), RTE_CACHE_LINE_SIZE);
	if (b->subs == NULL) {
		rte_free(b);
		return NULL;
	}
	return b;
}

void stats_block_free(struct stats_block *b)
{
	if (b == NULL)
		return;
	rte_free(b->subs);
	rte_free(b);
}
