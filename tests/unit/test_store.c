/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table store (issue 3, issue 14): a new database, replace and load round
 * trips, idempotent replace, version history, reopening after a "restart", WAL mode, the
 * relational rows, a failed transaction leaving the previous table in place; the
 * journal (changes recorded as operations, every version rebuilt exactly, across a
 * restart), store growth per change, pruning, the never-reuse rule for version numbers,
 * a schema 1 database migrated, and a SIGKILL in the middle of changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "../../common/routing_config.h"
#include "../../common/routing_delta.h"
#include "../../control/store.h"
#include "../../control/table.h"

static char err[RC_ERR_LEN];
static char dir[64];
static char db[128];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/aster-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/routing.db", dir);
}

static void remove_dir(void)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[160];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, suffix[i]);
		unlink(p);
	}
	rmdir(dir);
}

TestSuite(store, .init = make_dir, .fini = remove_dir);

static struct routing_config *parse(const char *yaml)
{
	struct routing_config *cfg;

	cfg = routing_config_parse(yaml, strlen(yaml), "routing.yaml", err, sizeof(err));
	cr_assert_not_null(cfg, "%s", err);
	return cfg;
}

static struct store *open_db(void)
{
	struct store *st = store_open(db, err, sizeof(err));

	cr_assert_not_null(st, "%s", err);
	return st;
}

/* Patterns, session and types with YAML's special characters; optional port fields. */
static const char v1[] = "feeds:\n"
			 "  - name: itch\n"
			 "    protocol: moldudp64-itch50\n"
			 "    lines:\n"
			 "      - {name: A, group: 233.54.12.111, port: 26477}\n"
			 "      - {name: B, group: 233.49.196.111, port: 26477}\n"
			 "  - name: itch2\n"
			 "    protocol: moldudp64-itch50\n"
			 "    lines: [{name: X, group: 233.54.12.112, port: 26478}]\n"
			 "ports:\n"
			 "  - name: out1\n"
			 "    src_ip: 10.9.8.7\n"
			 "    src_port: 4000\n"
			 "  - name: out0\n"
			 "subscribers:\n"
			 "  - name: zed\n"
			 "    feed: itch2\n"
			 "    port: out0\n"
			 "    dst: {mac: \"02:00:00:00:01:02\", ip: 10.1.1.2, port: 31002}\n"
			 "    session: \" B e \"\n"
			 "    symbols: ['^\"Q', '\\d\\\\', 'a: b #c', \"t\\tab\", '^X', '^X']\n"
			 "    types: '\"\\AZ'\n"
			 "    max_payload: 128\n"
			 "  - name: alpha\n"
			 "    feed: itch\n"
			 "    port: out1\n"
			 "    dst: {mac: \"02:00:00:00:01:01\", ip: 10.1.1.1, port: 31001}\n"
			 "    session: \"\"\n"
			 "    symbols: [\"^AAPL$\", \"^MS\"]\n";

static const char v2_sub[] = "{name: beta, feed: itch, port: out0, session: BETA,"
			     " dst: {mac: \"02:00:00:00:01:03\", ip: 10.1.1.3, port: 31003},"
			     " symbols: [\"^B\"], types: A}";

Test(store, new_database_is_empty_version_0)
{
	struct store *st = open_db();
	struct routing_config *cfg = NULL;
	uint64_t v = 99;

	cr_assert_eq(store_load(st, &cfg, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 0);
	cr_assert_not_null(cfg);
	cr_expect_eq(cfg->n_feeds, 0);
	cr_expect_eq(cfg->n_ports, 0);
	cr_expect_eq(cfg->n_subs, 0);
	cr_expect_str_eq(cfg->path, "store");
	errno = 0;
	cr_expect_null(store_version_yaml(st, 0));
	cr_expect_eq(errno, ENOENT);
	routing_config_free(cfg);
	store_close(st);
}

Test(store, replace_load_idempotent_history_reopen)
{
	struct routing_config *a = parse(v1), *b, *got = NULL;
	struct store *st = open_db();
	char *ya = table_emit_yaml(a), *yb, *h;
	uint64_t v = 0;

	cr_assert_not_null(ya);
	cr_assert_eq(store_replace(st, a, ya, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 1);
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 1);
	cr_expect(table_equal(a, got));
	/* Checked directly as well as through table_equal. */
	cr_assert_eq(got->n_subs, 2);
	cr_assert_eq(got->subs[0].n_symbols, 6);
	cr_expect_str_eq(got->subs[0].symbols[1], "\\d\\\\");
	cr_expect_str_eq(got->subs[0].symbols[3], "t\tab");
	cr_expect_str_eq(got->subs[0].symbols[5], "^X");
	cr_expect_str_eq(got->subs[0].session, " B e      ");
	cr_expect_str_eq(got->subs[1].session, "          ");
	cr_expect(got->subs[1].all_types);
	cr_expect(rc_sub_wants_type(&got->subs[0], '\\'));
	cr_expect_not(rc_sub_wants_type(&got->subs[0], 'B'));
	cr_expect_str_eq(got->ports[0].name, "out1");
	cr_expect_eq(got->ports[0].src_ip, 0x0a090807);
	cr_expect_eq(got->ports[0].src_port, 4000);
	cr_expect_eq(got->subs[0].feed, 1);
	cr_expect_eq(got->subs[0].port, 1);
	cr_expect_str_eq(got->feeds[0].lines[1].name, "B");
	cr_expect_eq(got->feeds[0].lines[1].group, 0xe931c46f);
	routing_config_free(got);

	/* The same table again (as a fresh parse): nothing written, version kept. */
	routing_config_free(a);
	a = parse(v1);
	v = 0;
	cr_assert_eq(store_replace(st, a, ya, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 1);
	errno = 0;
	cr_expect_null(store_version_yaml(st, 2));
	cr_expect_eq(errno, ENOENT);

	b = table_add_subscriber(a, v2_sub, err, sizeof(err));
	cr_assert_not_null(b, "%s", err);
	yb = table_emit_yaml(b);
	cr_assert_not_null(yb);
	cr_assert_eq(store_replace(st, b, yb, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 2);

	h = store_version_yaml(st, 1);
	cr_assert_not_null(h);
	cr_expect_str_eq(h, ya);
	free(h);
	h = store_version_yaml(st, 2);
	cr_assert_not_null(h);
	cr_expect_str_eq(h, yb);
	free(h);

	/* A restart: close, open the same file again. */
	store_close(st);
	st = open_db();
	got = NULL;
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 2);
	cr_expect(table_equal(b, got));
	cr_expect_not(table_equal(a, got));
	h = store_version_yaml(st, 1);
	cr_expect_str_eq(h, ya);
	free(h);

	/* Back to the first table: a change like any other, version 3. */
	cr_assert_eq(store_replace(st, a, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 3);
	h = store_version_yaml(st, 3);
	cr_expect_str_eq(h, ya, "NULL yaml stores the canonical text");
	free(h);

	free(ya);
	free(yb);
	routing_config_free(got);
	routing_config_free(a);
	routing_config_free(b);
	store_close(st);
}

static int64_t sql_int(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *s;
	int64_t v = -1;

	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_type(s, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* The file is in WAL mode and the table is held in rows, readable by any SQLite client. */
Test(store, wal_and_relational_rows)
{
	struct routing_config *a = parse(v1);
	struct store *st = open_db();
	sqlite3 *h;
	sqlite3_stmt *s;
	uint64_t v;

	cr_assert_eq(store_replace(st, a, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_expect_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	cr_expect_eq(access(db, F_OK), 0);

	cr_expect_eq(sql_int(h, "SELECT count(*) FROM feeds"), 2);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM lines"), 3);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM ports"), 2);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM subscribers"), 2);
	cr_expect_eq(sql_int(h, "SELECT sum(json_array_length(patterns)) FROM subscribers"), 8);
	cr_expect_eq(
	    sql_int(h, "SELECT json_array_length(patterns) FROM subscribers WHERE name = 'zed'"),
	    6);
	cr_expect_eq(sql_int(h, "SELECT types FROM subscribers WHERE name = 'alpha'"), -2,
		     "all types is NULL");
	cr_expect_eq(sql_int(h, "SELECT pos FROM subscribers WHERE name = 'alpha'"), 1);
	cr_expect_eq(sql_int(h, "SELECT max_payload FROM subscribers WHERE name = 'zed'"), 128);
	cr_expect_eq(sql_int(h, "SELECT value FROM meta WHERE key = 'version'"), 1);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM versions"), 1);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM versions WHERE applied_at LIKE '20%Z'"), 1);
	cr_assert_eq(sqlite3_prepare_v2(h,
					"SELECT types, session FROM subscribers WHERE name = 'zed'",
					-1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_expect_str_eq((const char *)sqlite3_column_text(s, 0), "\"AZ\\");
	cr_expect_str_eq((const char *)sqlite3_column_text(s, 1), " B e      ");
	sqlite3_finalize(s);
	sqlite3_close(h);
	routing_config_free(a);
	store_close(st);
}

/*
 * A transaction that fails part-way (a row refused by the schema's CHECK or UNIQUE
 * constraints, after the old rows were already deleted) must leave the previous table
 * and version whole. File permissions cannot be used to inject the failure: tests may
 * run as root.
 */
Test(store, failed_replace_keeps_previous_table)
{
	struct routing_config *a = parse(v1), *b = parse(v1), *got = NULL;
	struct store *st = open_db();
	uint64_t v = 0;

	cr_assert_eq(store_replace(st, a, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v, 1);

	/* The last subscriber's row is refused: everything before it is undone. */
	b->subs[1].max_payload = 50;
	memset(err, 0, sizeof(err));
	cr_expect_eq(store_replace(st, b, NULL, &v, err, sizeof(err)), -EIO);
	cr_expect_eq(v, 1);
	cr_expect_not_null(strstr(err, "CHECK constraint failed"), "%s", err);
	cr_expect_eq(strncmp(err, db, strlen(db)), 0, "%s", err);
	b->subs[1].max_payload = 1400;

	/* Two subscribers of one name: the second insert violates the primary key. */
	strcpy(b->subs[1].name, "zed");
	memset(err, 0, sizeof(err));
	cr_expect_eq(store_replace(st, b, NULL, &v, err, sizeof(err)), -EIO);
	cr_expect_not_null(strstr(err, "UNIQUE constraint failed"), "%s", err);

	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 1);
	cr_expect(table_equal(a, got));
	errno = 0;
	cr_expect_null(store_version_yaml(st, 2));
	cr_expect_eq(errno, ENOENT);
	routing_config_free(got);

	/* The store is still usable: a valid change goes in as version 2. */
	strcpy(b->subs[1].name, "alpha2");
	cr_assert_eq(store_replace(st, b, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 2);
	routing_config_free(a);
	routing_config_free(b);
	store_close(st);
}

Test(store, not_a_database)
{
	FILE *f = fopen(db, "w");

	cr_assert_not_null(f);
	fputs("this is not an SQLite database, but it is long enough to have a header.....\n"
	      "................................................................................\n",
	      f);
	fclose(f);
	memset(err, 0, sizeof(err));
	errno = 0;
	cr_expect_null(store_open(db, err, sizeof(err)));
	cr_expect_eq(errno, EIO);
	cr_expect_eq(strncmp(err, db, strlen(db)), 0, "%s", err);
	cr_expect_not_null(strstr(err, "not a database"), "%s", err);
}

/* A store from a newer build is refused rather than misread. */
Test(store, other_schema_version_refused)
{
	struct store *st = open_db();
	sqlite3 *h;

	store_close(st);
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_exec(h, "UPDATE meta SET value = 3 WHERE key = 'schema'", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	errno = 0;
	cr_expect_null(store_open(db, err, sizeof(err)));
	cr_expect_eq(errno, EPROTO);
	cr_expect_not_null(strstr(err, "schema version 3"), "%s", err);
}

/* ---- the journal (issue 14) ---- */

/* Apply `c` to `cfg` (the table in force, in memory) and record it; the new version. */
static uint64_t commit_change(struct store *st, struct routing_config **cfg, struct table_change *c)
{
	struct rd_undo *undo;
	uint64_t v = 0;

	if (c->full != NULL) {
		cr_assert_eq(store_commit(st, c->full, c, &v, err, sizeof(err)), 0, "%s", err);
		routing_config_free(*cfg);
		*cfg = c->full;
		c->full = NULL;
	} else {
		cr_assert_eq(rd_apply_all(*cfg, c->ops, c->n_ops, &undo, err, sizeof(err)), 0, "%s",
			     err);
		cr_assert_eq(store_commit(st, *cfg, c, &v, err, sizeof(err)), 0, "%s", err);
		rd_forget_all(undo, c->n_ops);
	}
	table_change_fini(c);
	return v;
}

static uint64_t add_pattern(struct store *st, struct routing_config **cfg, const char *sub,
			    const char *pat, bool add)
{
	struct table_change c;

	cr_assert_eq(table_change_pattern(*cfg, sub, pat, add, &c, err, sizeof(err)), 0, "%s", err);
	return commit_change(st, cfg, &c);
}

#define MAX_V 64

/* Every version rebuilt equals what was applied. */
static void expect_history(struct store *st, char **yaml, uint64_t from, uint64_t to)
{
	for (uint64_t v = from; v <= to; v++) {
		char *h = store_version_yaml(st, v);

		cr_assert_not_null(h, "version %lu: %s", (unsigned long)v, strerror(errno));
		cr_expect_str_eq(h, yaml[v], "version %lu rebuilt differs", (unsigned long)v);
		free(h);
	}
}

Test(store, journal_rebuilds_every_version_across_a_restart)
{
	struct routing_config *cfg = parse(v1), *got = NULL, *next;
	struct store *st = open_db();
	char *yaml[MAX_V] = {NULL}, *text;
	struct table_change c;
	struct store_version *hist;
	uint32_t n_hist;
	uint64_t v = 0, last;
	sqlite3 *h;

	cr_assert_eq(store_replace(st, cfg, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(v, 1);
	yaml[v] = table_emit_yaml(cfg);
	/* patterns in and out */
	for (int i = 0; i < 6; i++) {
		char p[16];

		snprintf(p, sizeof(p), "^N%d[A-Z]", i);
		v = add_pattern(st, &cfg, i % 2 ? "alpha" : "zed", p, true);
		yaml[v] = table_emit_yaml(cfg);
	}
	v = add_pattern(st, &cfg, "zed", "^X", false); /* the first of two copies */
	yaml[v] = table_emit_yaml(cfg);
	v = add_pattern(st, &cfg, "alpha", "^AAPL$", false);
	yaml[v] = table_emit_yaml(cfg);
	/* a subscriber in, then out */
	cr_assert_eq(table_change_add_subscriber(cfg, v2_sub, &c, err, sizeof(err)), 0, "%s", err);
	v = commit_change(st, &cfg, &c);
	yaml[v] = table_emit_yaml(cfg);
	cr_assert_eq(table_change_remove_subscriber(cfg, "zed", &c, err, sizeof(err)), 0, "%s",
		     err);
	v = commit_change(st, &cfg, &c);
	yaml[v] = table_emit_yaml(cfg);
	/* settings by an apply: said as operations */
	text = table_emit_yaml(cfg);
	next = parse(text);
	next->subs[0].max_payload = 900;
	cr_assert_eq(table_change_replace(cfg, next, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_null(c.full);
	v = commit_change(st, &cfg, &c);
	yaml[v] = table_emit_yaml(cfg);
	/* a reorder: said whole, a snapshot */
	next = parse(text);
	{
		struct rc_subscriber t = next->subs[0];

		next->subs[0] = next->subs[1];
		next->subs[1] = t;
	}
	free(text);
	cr_assert_eq(table_change_replace(cfg, next, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_not_null(c.full);
	v = commit_change(st, &cfg, &c);
	yaml[v] = table_emit_yaml(cfg);
	v = add_pattern(st, &cfg, "beta", "^AFTER", true);
	yaml[v] = table_emit_yaml(cfg);
	last = v;
	cr_assert_lt(last, MAX_V);

	expect_history(st, yaml, 1, last);
	cr_assert_eq(store_history(st, 0, 100, &hist, &n_hist, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(n_hist, last);
	cr_expect_eq(hist[0].version, last);
	cr_expect_str_eq(hist[0].diff, "+ subscriber beta pattern \"^AFTER\"\n");
	cr_expect_not(hist[0].whole);
	cr_expect(hist[1].whole, "the reorder is a snapshot");
	cr_expect(hist[last - 1].whole, "the first version is a snapshot");
	store_history_free(hist, n_hist);

	/* the journal holds rows, not tables */
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM versions WHERE yaml != ''"), 2);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM changes WHERE version = 2"), 1);
	sqlite3_close(h);

	/* a control restart: the same history, the same table */
	store_close(st);
	st = open_db();
	expect_history(st, yaml, 1, last);
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, last);
	cr_expect(table_equal(got, cfg));
	errno = 0;
	cr_expect_null(store_version_yaml(st, last + 1));
	cr_expect_eq(errno, ENOENT);
	for (uint64_t i = 0; i < MAX_V; i++)
		free(yaml[i]);
	routing_config_free(got);
	routing_config_free(cfg);
	store_close(st);
}

static off_t db_bytes(void)
{
	sqlite3 *h;
	struct stat sb;
	off_t total = 0;
	char p[160];

	/* what the store holds once the WAL is written back */
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_exec(h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(h);
	total = stat(db, &sb) == 0 ? sb.st_size : 0;
	snprintf(p, sizeof(p), "%s-wal", db);
	total += stat(p, &sb) == 0 ? sb.st_size : 0;
	return total;
}

/* Issue 14: a one-pattern change grows the store by its rows, not by the table. */
Test(store, one_pattern_changes_grow_the_store_by_their_rows)
{
	enum { SUBS = 64, PER = 300, CHANGES = 200 };
	char *text = malloc(4 << 20), pat[32];
	struct routing_config *cfg;
	struct store *st = open_db();
	size_t len;
	uint64_t v;
	off_t before, after;

	len =
	    (size_t)sprintf(text, "feeds: [{name: f, protocol: moldudp64-itch50, lines: [{name: A,"
				  " group: 239.1.1.1, port: 1}]}]\nports: [{name: p}]\n"
				  "subscribers:\n");
	for (int s = 0; s < SUBS; s++) {
		len += (size_t)sprintf(text + len,
				       "  - {name: s%d, feed: f, port: p, dst: {mac: "
				       "\"02:00:00:00:00:01\", ip: 10.0.0.1, port: 1}, session: S, "
				       "symbols: [",
				       s);
		for (int k = 0; k < PER; k++)
			len += (size_t)sprintf(text + len, "%s\"^S%dK%d$\"", k ? ", " : "", s, k);
		len += (size_t)sprintf(text + len, "]}\n");
	}
	cfg = parse(text);
	free(text);
	cr_assert_eq(store_replace(st, cfg, NULL, &v, err, sizeof(err)), 0, "%s", err);
	/* warm: the first changes allocate the journal's first pages */
	for (int i = 0; i < 20; i++) {
		snprintf(pat, sizeof(pat), "^W%d$", i);
		add_pattern(st, &cfg, "s1", pat, true);
	}
	before = db_bytes();
	for (int i = 0; i < CHANGES; i++) {
		snprintf(pat, sizeof(pat), "^Q%d$", i);
		add_pattern(st, &cfg, i % 2 ? "s7" : "s42", pat, true);
	}
	after = db_bytes();
	cr_log_info("store growth: %.0f bytes per one-pattern change at %d patterns",
		    (double)(after - before) / CHANGES, SUBS * PER);
	cr_expect_leq((after - before) / CHANGES, 4096, "%.0f bytes per change",
		      (double)(after - before) / CHANGES);
	routing_config_free(cfg);
	store_close(st);
}

Test(store, pruned_to_the_setting_and_still_exact)
{
	struct routing_config *cfg = parse(v1);
	struct store *st = open_db();
	char *yaml[400] = {NULL};
	uint64_t v = 0, oldest;
	sqlite3 *h;

	cr_assert_eq(store_set_durability(st, false, 10, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_replace(st, cfg, NULL, &v, err, sizeof(err)), 0, "%s", err);
	yaml[v] = table_emit_yaml(cfg);
	for (int i = 0; i < 300; i++) {
		char p[16];

		snprintf(p, sizeof(p), "^P%d", i);
		v = add_pattern(st, &cfg, "alpha", p, true);
		yaml[v] = table_emit_yaml(cfg);
	}
	oldest = store_oldest_version(st);
	cr_expect_gt(oldest, 1, "nothing pruned");
	cr_expect_geq(oldest + 10 + 64, v, "more kept than the setting allows (oldest %lu)",
		      (unsigned long)oldest);
	expect_history(st, yaml, oldest, v);
	errno = 0;
	cr_expect_null(store_version_yaml(st, oldest - 1));
	cr_expect_eq(errno, ENOENT);
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM changes WHERE version < "
				"(SELECT min(version) FROM versions)"),
		     0);
	sqlite3_close(h);
	for (int i = 0; i < 400; i++)
		free(yaml[i]);
	routing_config_free(cfg);
	store_close(st);
}

/* Run `fn` in a child that ends without closing the store (a crash). */
static void in_crashing_child(void (*fn)(void))
{
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed");
}

static void child_commits_one(void)
{
	struct routing_config *cfg = NULL;
	struct store *st = store_open(db, err, sizeof(err));
	uint64_t v;

	if (st == NULL || store_load(st, &cfg, &v, err, sizeof(err)) < 0)
		_exit(1);
	v = add_pattern(st, &cfg, "alpha", "^CHILD", true);
	_exit(v == 3 ? 0 : 2);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	FILE *a = fopen(from, "rb"), *b;
	size_t n;

	if (a == NULL) {
		unlink(to);
		return;
	}
	b = fopen(to, "wb");
	cr_assert_not_null(b);
	while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
		cr_assert_eq(fwrite(buf, 1, n, b), n);
	fclose(a);
	fclose(b);
}

static void child_loses_commits(void)
{
	struct routing_config *cfg = NULL;
	struct store *st = store_open(db, err, sizeof(err));
	char p[160], q[160];
	uint64_t v;

	if (st == NULL || store_load(st, &cfg, &v, err, sizeof(err)) < 0)
		_exit(1);
	/* the disk as a power loss would leave it: everything up to here */
	snprintf(p, sizeof(p), "%s-wal", db);
	snprintf(q, sizeof(q), "%s.lost-wal", db);
	copy_file(db, "/dev/null");
	{
		char d2[160];

		snprintf(d2, sizeof(d2), "%s.lost", db);
		copy_file(db, d2);
		copy_file(p, q);
	}
	add_pattern(st, &cfg, "alpha", "^LOST1", true);
	add_pattern(st, &cfg, "alpha", "^LOST2", true);
	_exit(0);
}

/* docs/control.md, "Durability": a version number is never given to two tables. */
Test(store, version_numbers_never_reused_after_a_crash_or_lost_commits)
{
	struct routing_config *cfg = parse(v1), *got = NULL;
	struct store *st = open_db();
	uint64_t v = 0, lost_first;
	char p[160], q[160];

	cr_assert_eq(store_replace(st, cfg, NULL, &v, err, sizeof(err)), 0, "%s", err);
	store_close(st); /* clean: numbering continues */
	st = open_db();
	cr_expect_eq(add_pattern(st, &cfg, "alpha", "^TWO", true), 2);
	store_close(st);

	/* a crash after version 3: numbering resumes above the reservation */
	in_crashing_child(child_commits_one);
	st = open_db();
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 3, "the crashed child's commit is kept (WAL)");
	routing_config_free(cfg);
	cfg = got;
	v = add_pattern(st, &cfg, "alpha", "^AFTER_CRASH", true);
	cr_expect_gt(v, 3 + 1, "a number after a crash must skip the reserved block");
	lost_first = v + 1;
	store_close(st);

	/* commits lost (a power loss): their numbers are not given again */
	in_crashing_child(child_loses_commits);
	snprintf(p, sizeof(p), "%s.lost", db);
	copy_file(p, db);
	snprintf(p, sizeof(p), "%s.lost-wal", db);
	snprintf(q, sizeof(q), "%s-wal", db);
	copy_file(p, q);
	snprintf(q, sizeof(q), "%s-shm", db);
	unlink(q);
	st = open_db();
	got = NULL;
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, lost_first - 1, "the lost commits are gone");
	routing_config_free(cfg);
	cfg = got;
	v = add_pattern(st, &cfg, "alpha", "^NEW", true);
	cr_expect_gt(v, lost_first + 1, "version %lu reused a lost number", (unsigned long)v);
	routing_config_free(cfg);
	store_close(st);
	snprintf(p, sizeof(p), "%s.lost", db);
	unlink(p);
	snprintf(p, sizeof(p), "%s.lost-wal", db);
	unlink(p);
}

Test(store, schema_1_database_migrated)
{
	static const char old[] =
	    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	    "CREATE TABLE feeds(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, pos INTEGER NOT "
	    "NULL UNIQUE);"
	    "CREATE TABLE lines(feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,"
	    " name TEXT NOT NULL, grp INTEGER NOT NULL, port INTEGER NOT NULL, pos INTEGER NOT "
	    "NULL,"
	    " PRIMARY KEY (feed_id, name), UNIQUE (feed_id, pos));"
	    "CREATE TABLE ports(name TEXT PRIMARY KEY, src_ip INTEGER NOT NULL, src_port INTEGER "
	    "NOT NULL, pos INTEGER NOT NULL UNIQUE);"
	    "CREATE TABLE subscribers(name TEXT PRIMARY KEY, feed TEXT NOT NULL REFERENCES "
	    "feeds(name), port TEXT NOT NULL REFERENCES ports(name), mac TEXT NOT NULL, ip INTEGER "
	    "NOT NULL, dport INTEGER NOT NULL, session TEXT NOT NULL, types TEXT, max_payload "
	    "INTEGER NOT NULL, pos INTEGER NOT NULL UNIQUE);"
	    "CREATE TABLE patterns(subscriber TEXT NOT NULL REFERENCES subscribers(name) ON DELETE "
	    "CASCADE, pattern TEXT NOT NULL, pos INTEGER NOT NULL, PRIMARY KEY (subscriber, pos));"
	    "CREATE TABLE versions(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, yaml "
	    "TEXT "
	    "NOT NULL);"
	    "INSERT INTO meta VALUES ('schema', 1), ('version', 7);"
	    "INSERT INTO feeds VALUES (1, 'itch', 0);"
	    "INSERT INTO lines VALUES (1, 'A', 3904770159, 26477, 0);"
	    "INSERT INTO ports VALUES ('out0', 0, 0, 0);"
	    "INSERT INTO subscribers VALUES ('alpha', 'itch', 'out0', '02:00:00:00:01:01', "
	    "167837953,"
	    " 31001, 'ALPHA00001', NULL, 1400, 0);"
	    "INSERT INTO patterns VALUES ('alpha', '^MS', 1), ('alpha', '^AAPL$', 0);";
	struct routing_config *got = NULL;
	struct store *st;
	sqlite3 *h;
	uint64_t v;

	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, old, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	sqlite3_close(h);
	st = open_db();
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 7);
	cr_assert_eq(got->n_subs, 1);
	cr_assert_eq(got->subs[0].n_symbols, 2);
	cr_expect_str_eq(got->subs[0].symbols[0], "^AAPL$");
	cr_expect_str_eq(got->subs[0].symbols[1], "^MS");
	cr_expect_gt(add_pattern(st, &got, "alpha", "^NEW", true), 7);
	routing_config_free(got);
	store_close(st);
}

/* A child adding pattern ^K<k>$ for k = 1, 2, ... until killed; a byte on `fd` each. */
static void child_changes_forever(int fd)
{
	struct routing_config *cfg = NULL;
	struct store *st = store_open(db, err, sizeof(err));
	uint64_t v;
	char p[16];

	if (st == NULL || store_load(st, &cfg, &v, err, sizeof(err)) < 0)
		_exit(1);
	for (int k = 1;; k++) {
		snprintf(p, sizeof(p), "^K%d$", k);
		add_pattern(st, &cfg, "alpha", p, true);
		if (write(fd, "k", 1) != 1)
			_exit(1);
	}
}

/* Issue 14: a SIGKILL in the middle of a change leaves the version before or after. */
Test(store, sigkill_mid_change_leaves_before_or_after, .timeout = 60)
{
	struct routing_config *base = parse(v1);
	struct store *st = open_db();
	uint64_t v;

	cr_assert_eq(store_replace(st, base, NULL, &v, err, sizeof(err)), 0, "%s", err);
	store_close(st);
	for (int round = 0; round < 5; round++) {
		struct routing_config *got = NULL, *want = parse(v1);
		uint64_t first = v;
		int fds[2];
		pid_t pid;
		char b;

		cr_assert_eq(pipe(fds), 0);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			close(fds[0]);
			child_changes_forever(fds[1]);
		}
		close(fds[1]);
		/* a few changes in, then somewhere inside the next one */
		for (int i = 0; i < 3 + 2 * round; i++)
			cr_assert_eq(read(fds[0], &b, 1), 1, "the child stopped");
		usleep(300 * (useconds_t)round);
		kill(pid, SIGKILL);
		close(fds[0]);
		waitpid(pid, NULL, 0);
		st = open_db();
		cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
		cr_expect_gt(v, first, "round %d: no change made it", round);
		/* the table of version v: exactly the first (v - 1) additions, in order */
		{
			int k = 0;

			for (uint32_t i = 0; i < got->subs[1].n_symbols; i++)
				if (got->subs[1].symbols[i][1] == 'K')
					k++;
			for (int j = 1; j <= k; j++) {
				char p[16];
				struct rd_undo *undo;
				struct rd_op op = {
				    .kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = p};

				snprintf(p, sizeof(p), "^K%d$", j);
				cr_assert_eq(rd_apply_all(want, &op, 1, &undo, err, sizeof(err)),
					     0);
				rd_forget_all(undo, 1);
			}
			cr_expect(table_equal(got, want),
				  "round %d: version %lu is between two tables", round,
				  (unsigned long)v);
		}
		{
			char *h = store_version_yaml(st, v), *w = table_emit_yaml(want);

			cr_expect_str_eq(h, w, "round %d: version %lu rebuilt differs", round,
					 (unsigned long)v);
			free(h);
			free(w);
		}
		/* the next change starts from here: a clean table again */
		routing_config_free(got);
		routing_config_free(want);
		cr_assert_eq(store_replace(st, base, NULL, &v, err, sizeof(err)), 0, "%s", err);
		store_close(st);
	}
	routing_config_free(base);
}

/* docs/protocol.md §6 keys survive the store: replace, load, restart, and the defaults. */
Test(store, at_least_once_keys_round_trip)
{
	static const char yaml[] =
	    "feeds:\n"
	    "  - name: itch\n"
	    "    protocol: moldudp64-itch50\n"
	    "    lines: [{name: A, group: 233.54.12.111, port: 26477}]\n"
	    "    recovery:\n"
	    "      server: {mac: \"02:00:00:00:ee:01\", ip: 10.0.0.5, port: 26400}\n"
	    "      source: {ip: 10.0.0.2, port: 26401}\n"
	    "      wait_us: 0\n"
	    "      tries: 9\n"
	    "  - name: plain\n"
	    "    protocol: moldudp64-itch50\n"
	    "    lines: [{name: A, group: 233.54.12.112, port: 26477}]\n"
	    "ports:\n"
	    "  - {name: out0, src_ip: 10.1.0.254, retransmit: {port: 31999, rate: 7}}\n"
	    "  - {name: out1}\n"
	    "subscribers:\n"
	    "  - {name: a, feed: itch, port: out0, session: A, symbols: [x], history: 0,\n"
	    "     dst: {mac: \"02:00:00:00:00:01\", ip: 10.0.0.1, port: 9}}\n"
	    "  - {name: b, feed: plain, port: out1, session: B, symbols: [x], heartbeat_ms: 5,\n"
	    "     dst: {mac: \"02:00:00:00:00:02\", ip: 10.0.0.2, port: 9}}\n"
	    "  - {name: c, feed: plain, port: out1, session: C, symbols: [x],\n"
	    "     dst: {mac: \"02:00:00:00:00:03\", ip: 10.0.0.3, port: 9}}\n";
	struct routing_config *a = parse(yaml), *got = NULL;
	struct store *st = open_db();
	uint64_t v = 0;

	cr_assert_eq(store_replace(st, a, NULL, &v, err, sizeof(err)), 0, "%s", err);
	store_close(st);
	st = open_db(); /* a restart */
	cr_assert_eq(store_load(st, &got, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect(table_equal(a, got));
	cr_expect(got->feeds[0].recovery.enabled);
	cr_expect_eq(got->feeds[0].recovery.tries, 9);
	cr_expect_eq(got->feeds[0].recovery.wait_us, 0);
	cr_expect_not(got->feeds[1].recovery.enabled);
	cr_expect_eq(got->ports[0].retransmit_port, 31999);
	cr_expect_eq(got->ports[0].retransmit_rate, 7);
	cr_expect_eq(got->ports[1].retransmit_port, 0);
	cr_expect_eq(got->subs[0].history, 0);
	cr_expect_eq(got->subs[1].heartbeat_ms, 5);
	cr_expect_eq(got->subs[2].history, RC_HISTORY_DEF);
	cr_expect_eq(got->subs[2].heartbeat_ms, RC_HEARTBEAT_MS_DEF);
	/* the same table again is the same version (idempotent apply) */
	cr_assert_eq(store_replace(st, got, NULL, &v, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(v, 1);
	routing_config_free(got);
	routing_config_free(a);
	store_close(st);
}
