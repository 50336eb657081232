/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hyperscan compiles and the compile cache's keys and checks (matcher_compile.h), and
 * matcher_check, Hyperscan's verdict on one expression.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matcher_int.h"

#include "../common/pattern.h"

/* What a database's cache key and cache file identity are made of. */
static char *cache_ident(const char *const *exprs, uint32_t n, size_t *len)
{
	hs_platform_info_t plat;
	char head[256];
	size_t total, off;
	char *id;
	int hl;

	memset(&plat, 0, sizeof(plat));
	hs_populate_platform(&plat);
	hl = snprintf(head, sizeof(head),
		      "aster compile cache 1|flags %u|mode %u|hyperscan %s|tune %u|features "
		      "%llu|exprs %u\n",
		      (unsigned)PATTERN_HS_FLAGS, (unsigned)HS_MODE_BLOCK, hs_version(),
		      (unsigned)plat.tune, (unsigned long long)plat.cpu_features, n);
	total = (size_t)hl;
	for (uint32_t i = 0; i < n; i++)
		total += strlen(exprs[i]) + 1;
	id = malloc(total);
	if (id == NULL)
		return NULL;
	memcpy(id, head, (size_t)hl);
	off = (size_t)hl;
	for (uint32_t i = 0; i < n; i++) {
		size_t l = strlen(exprs[i]) + 1;

		memcpy(id + off, exprs[i], l);
		off += l;
	}
	*len = total;
	return id;
}

/* The cached database of `ident`, or NULL (a miss, or a file found unusable). */
static hs_database_t *cache_load(const uint8_t *key, const char *ident, size_t ident_len)
{
	hs_database_t *db = NULL;
	char *info = NULL, want[64];
	size_t len;
	void *blob = matcher_cache_get(key, ident, ident_len, &len);

	if (blob == NULL)
		return NULL;
	/* hs_version() is "5.4.0 2021-01-26": the info names the version's first word */
	snprintf(want, sizeof(want), "Version: %s", hs_version());
	if (strchr(want + 9, ' ') != NULL)
		*strchr(want + 9, ' ') = '\0';
	if (hs_serialized_database_info(blob, len, &info) != HS_SUCCESS)
		matcher_cache_reject(key, "not a serialized Hyperscan database");
	else if (strstr(info, want) == NULL || strstr(info, "Mode: BLOCK") == NULL)
		matcher_cache_reject(key, "a database of another Hyperscan version or mode");
	else if (hs_deserialize_database(blob, len, &db) != HS_SUCCESS) {
		db = NULL;
		matcher_cache_reject(key, "Hyperscan refused to deserialize it");
	}
	free(info);
	free(blob);
	return db;
}

/* The cache key of `ident`: two 64-bit hashes of it. */
static void cache_key(const char *ident, size_t ident_len, uint8_t key[MATCHER_CACHE_KEY_LEN])
{
	uint64_t h1 = matcher_cache_hash(ident, ident_len, 0x6b657931ull);
	uint64_t h2 = matcher_cache_hash(ident, ident_len, 0x6b657932ull);

	memcpy(key, &h1, 8);
	memcpy(key + 8, &h2, 8);
}

/* Compile `n` expressions; NULL with `out` saying why. */
static hs_database_t *compile_db(const char *const *exprs, uint32_t n,
				 struct matcher_compile_out *out)
{
	unsigned int *flags = malloc((n ? n : 1) * sizeof(*flags));
	unsigned int *ids = malloc((n ? n : 1) * sizeof(*ids));
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;

	if (flags == NULL || ids == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		flags[i] = PATTERN_HS_FLAGS;
		ids[i] = i;
	}
	if (hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
		snprintf(out->err, sizeof(out->err), "%s",
			 cerr != NULL ? cerr->message : "compile failed");
		if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < n)
			out->bad = cerr->expression;
		hs_free_compile_error(cerr);
		out->rc = -EINVAL;
		db = NULL;
	}
out:
	free(flags);
	free(ids);
	return db;
}

/* Store `db` under `key` (failures are the cache's to count). */
static void cache_store(const uint8_t *key, const char *ident, size_t ident_len,
			const hs_database_t *db)
{
	char *bytes = NULL;
	size_t len = 0;

	if (hs_serialize_database(db, &bytes, &len) == HS_SUCCESS) {
		matcher_cache_put(key, ident, ident_len, bytes, len);
		free(bytes); /* Hyperscan's misc allocator: malloc */
	}
}

void matcher_compile_exprs(const char *const *exprs, uint32_t n, bool use_cache,
			   struct matcher_compile_out *out)
{
	hs_database_t *db = NULL;
	uint8_t key[MATCHER_CACHE_KEY_LEN];
	char *ident = NULL;
	size_t ident_len = 0;
	struct matcher_rdb *r;

	*out = (struct matcher_compile_out){.rc = -ENOMEM, .bad = -1};
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->exprs = calloc(n ? n : 1, sizeof(*r->exprs))) == NULL)
		goto fail;
	r->refs = 1;
	for (uint32_t i = 0; i < n; i++, r->n++)
		if ((r->exprs[i] = strdup(exprs[i])) == NULL)
			goto fail;
	if (use_cache && matcher_cache_enabled()) {
		ident = cache_ident(exprs, n, &ident_len);
		if (ident == NULL)
			goto fail;
		cache_key(ident, ident_len, key);
		db = cache_load(key, ident, ident_len);
		out->from_cache = db != NULL;
	}
	if (db == NULL) {
		db = compile_db(exprs, n, out);
		if (db == NULL)
			goto fail;
		if (ident != NULL)
			cache_store(key, ident, ident_len, db);
	}
	r->db = db;
	out->rdb = r;
	out->rc = 0;
	free(ident);
	return;
fail:
	if (out->rc == -ENOMEM)
		snprintf(out->err, sizeof(out->err), "out of memory");
	matcher_rdb_put(r);
	free(ident);
}

static void compile_job_run(struct matcher_job *j)
{
	struct matcher_compile_job *c = (struct matcher_compile_job *)j;

	matcher_compile_exprs(c->exprs, c->n, c->use_cache, &c->out);
}

void matcher_compile_parallel(struct matcher_compile_job *jobs, uint32_t n, bool use_cache)
{
	struct matcher_job *v[MATCHER_SHARDS];

	for (uint32_t i = 0; i < n; i++) {
		jobs[i].pj = (struct matcher_job){.run = compile_job_run};
		jobs[i].use_cache = use_cache;
		v[i] = &jobs[i].pj;
	}
	if (n == 1)
		compile_job_run(v[0]);
	else
		matcher_pool_run(v, n);
}

/*
 * Which of `n` expressions, each with the caller index `idx[i]`, is the invalid one the
 * caller wrote first: each is checked alone. Falls back on the compiler's own report.
 */
static void first_bad(const char *const *exprs, const uint32_t *idx, uint32_t n,
		      const struct matcher_compile_out *out, char *err, size_t errlen,
		      uint32_t *bad)
{
	char msg[256];

	for (uint32_t i = 0; i < n; i++)
		if ((*bad == UINT32_MAX || idx[i] < *bad) &&
		    matcher_check(exprs[i], msg, sizeof(msg)) != 0) {
			*bad = idx[i];
			snprintf(err, errlen, "%s", msg);
		}
	if (*bad == UINT32_MAX && out->bad >= 0) {
		*bad = idx[out->bad];
		snprintf(err, errlen, "%s", out->err);
	}
}

int matcher_compile_result(const struct matcher_compile_job *jobs, uint32_t n, char *err,
			   size_t errlen, uint32_t *bad)
{
	int rc = 0;

	for (uint32_t j = 0; j < n; j++) {
		if (jobs[j].out.rc == -EINVAL) {
			first_bad(jobs[j].exprs, jobs[j].idx, jobs[j].n, &jobs[j].out, err, errlen,
				  bad);
			rc = -EINVAL;
		} else if (jobs[j].out.rc != 0 && rc == 0) {
			snprintf(err, errlen, "%s", jobs[j].out.err);
			rc = jobs[j].out.rc;
		}
	}
	return rc;
}

int matcher_check(const char *expr, char *err, size_t errlen)
{
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;

	if (hs_expression_info(expr, PATTERN_HS_FLAGS, &info, &cerr) != HS_SUCCESS) {
		snprintf(err, errlen, "%s", cerr != NULL ? cerr->message : "invalid expression");
		hs_free_compile_error(cerr);
		return -EINVAL;
	}
	free(info); /* allocated with the default allocator, malloc */
	return 0;
}
