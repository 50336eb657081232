/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table store (issue 3): a new database, replace and load round trips,
 * idempotent replace, version history, reopening after a "restart", WAL mode, the
 * relational rows, and a failed transaction leaving the previous table in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sqlite3.h>

#include "../../common/routing_config.h"
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
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM patterns"), 8);
	cr_expect_eq(sql_int(h, "SELECT count(*) FROM patterns WHERE subscriber = 'zed'"), 6);
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
	    sqlite3_exec(h, "UPDATE meta SET value = 2 WHERE key = 'schema'", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	errno = 0;
	cr_expect_null(store_open(db, err, sizeof(err)));
	cr_expect_eq(errno, EPROTO);
	cr_expect_not_null(strstr(err, "schema version 2"), "%s", err);
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
