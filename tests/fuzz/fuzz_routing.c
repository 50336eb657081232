/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the routing YAML loader (common/routing_config.c over
 * common/yaml_doc.c, docs/protocol.md §4): any input is either refused with one line
 * or loaded into a consistent table, and a loaded table survives the round trip
 * aster-control stores it by: canonical YAML (control/table.c), parsed again, is the
 * same table (no difference in table_diff).
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "routing_config.h"
#include "table.h"

static void check_table(const struct routing_config *cfg)
{
	CHECK(cfg->n_feeds >= 1);
	for (uint32_t f = 0; f < cfg->n_feeds; f++)
		CHECK(cfg->feeds[f].n_lines >= 1 && cfg->feeds[f].n_lines <= RC_MAX_LINES);
	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		const struct rc_subscriber *s = &cfg->subs[i];

		CHECK(s->feed < cfg->n_feeds && s->port < cfg->n_ports);
		CHECK(s->n_symbols >= 1);
		CHECK(s->max_payload >= RC_MAX_PAYLOAD_MIN && s->max_payload <= RC_MAX_PAYLOAD_MAX);
		for (uint32_t p = 0; p < s->n_symbols; p++)
			CHECK(s->symbols[p] != NULL && s->symbols[p][0] != '\0');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[RC_ERR_LEN];
	struct routing_config *cfg, *again;
	size_t n_changes = 1;
	char *yaml, *diff;

	err[0] = '\0';
	cfg = routing_config_parse((const char *)data, size, "fuzz.yaml", err, sizeof(err));
	if (cfg == NULL) {
		CHECK_ONE_LINE(err);
		return 0;
	}
	check_table(cfg);
	yaml = table_emit_yaml(cfg);
	CHECK(yaml != NULL);
	again = routing_config_parse(yaml, strlen(yaml), "canonical.yaml", err, sizeof(err));
	if (again == NULL) {
		fprintf(stderr, "canonical YAML refused: %s\n%s\n", err, yaml);
		abort();
	}
	diff = table_diff(cfg, again, &n_changes);
	CHECK(diff != NULL);
	if (n_changes != 0) {
		fprintf(stderr, "canonical YAML is another table:\n%s\n", diff);
		abort();
	}
	free(diff);
	free(yaml);
	routing_config_free(again);
	routing_config_free(cfg);
	return 0;
}
