/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table's durable home: an SQLite database in WAL mode holding the table in
 * force relationally (feeds, lines, ports, subscribers, each row with its position so
 * that order survives; a subscriber's patterns, in order, as one JSON array) and the
 * history as a journal (docs/control.md, "The store"):
 *
 *   versions  one row per version: when, what kind, the diff lines, and for a version
 *             recorded whole (a snapshot) its canonical YAML;
 *   changes   the operations (common/routing_delta.h) a version is made of, one row each.
 *
 * A change costs what it changes: its operations update the rows of the subscribers they
 * name and are appended to the journal; a version is rebuilt from the newest snapshot at
 * or before it and the operations after that. One change is one transaction, so a
 * restart (or a crash mid-change) finds either the old table or the new one.
 *
 * Durability (docs/control.md, "Durability"): synchronous=NORMAL by default, so a
 * commit costs no fsync and a power loss may lose the last commits (never the
 * database); a version number is never used twice all the same, because numbers are
 * reserved durably ahead of use and, after a stop that was not clean, numbering resumes
 * above the reservation. `durability: full` syncs every commit instead. Old versions are
 * pruned beyond `history_versions`.
 *
 * One thread uses a store at a time (aster-control's control thread). Every SQL text is
 * constant; values are bound to prepared statements.
 */
#include "store.h"

#include "routing_config.h"
#include "routing_delta.h"
#include "table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#define STORE_SCHEMA  2
#define STORE_CFGNAME "store" /* the loaded config's path, as table messages show it */
#define STORE_RESERVE 100     /* version numbers reserved durably at a time */

struct store {
	sqlite3 *db;
	char *path;
	bool sync_full;
	uint64_t keep;	   /* versions kept; 0 keeps every one */
	uint64_t head;	   /* meta.version */
	uint64_t floor;	   /* the next version is above this (never a number twice) */
	uint64_t reserved; /* durably recorded: numbers up to here may have been used */
};

/* The CHECKs below restate docs/protocol.md §4's ranges, so rows the dataplane could not use are
 * refused. */
_Static_assert(RC_MAX_PAYLOAD_MIN == 128 && RC_MAX_PAYLOAD_MAX == 8192,
	       "update the max_payload CHECK in store_schema");
_Static_assert(RC_SESSION_LEN == 10, "update the session CHECK in store_schema");

static const char store_meta[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);";

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS feeds("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " pos INTEGER NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS lines("
    " feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " grp INTEGER NOT NULL CHECK (grp BETWEEN 0 AND 4294967295),"
    " port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
    " pos INTEGER NOT NULL,"
    " PRIMARY KEY (feed_id, name), UNIQUE (feed_id, pos));"
    "CREATE TABLE IF NOT EXISTS ports("
    " name TEXT PRIMARY KEY,"
    " src_ip INTEGER NOT NULL CHECK (src_ip BETWEEN 0 AND 4294967295),"
    " src_port INTEGER NOT NULL CHECK (src_port BETWEEN 0 AND 65535),"
    " pos INTEGER NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS subscribers("
    " name TEXT PRIMARY KEY,"
    " feed TEXT NOT NULL REFERENCES feeds(name),"
    " port TEXT NOT NULL REFERENCES ports(name),"
    " mac TEXT NOT NULL CHECK (length(mac) = 17),"
    " ip INTEGER NOT NULL CHECK (ip BETWEEN 0 AND 4294967295),"
    " dport INTEGER NOT NULL CHECK (dport BETWEEN 1 AND 65535),"
    " session TEXT NOT NULL CHECK (length(session) = 10),"
    " types TEXT," /* NULL: every type (docs/protocol.md §4 `types` absent) */
    " max_payload INTEGER NOT NULL CHECK (max_payload BETWEEN 128 AND 8192),"
    " pos INTEGER NOT NULL UNIQUE,"
    " patterns TEXT NOT NULL DEFAULT '[]');" /* JSON array, in order */
    /* docs/protocol.md §6 settings, one row per feed / port / subscriber that has any
     * (no row: the defaults of routing_config.h). Tables of their own, so a database
     * written before them opens unchanged and reads as "defaults everywhere". */
    "CREATE TABLE IF NOT EXISTS recovery("
    " feed_id INTEGER PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,"
    " server_mac TEXT NOT NULL CHECK (length(server_mac) = 17),"
    " server_ip INTEGER NOT NULL CHECK (server_ip BETWEEN 1 AND 4294967295),"
    " server_port INTEGER NOT NULL CHECK (server_port BETWEEN 1 AND 65535),"
    " source_ip INTEGER NOT NULL CHECK (source_ip BETWEEN 1 AND 4294967295),"
    " source_port INTEGER NOT NULL CHECK (source_port BETWEEN 1 AND 65535),"
    " wait_us INTEGER NOT NULL CHECK (wait_us >= 0),"
    " timeout_us INTEGER NOT NULL CHECK (timeout_us >= 1),"
    " tries INTEGER NOT NULL CHECK (tries >= 1));"
    "CREATE TABLE IF NOT EXISTS retransmit("
    " port TEXT PRIMARY KEY REFERENCES ports(name) ON DELETE CASCADE,"
    " udp_port INTEGER NOT NULL CHECK (udp_port BETWEEN 1 AND 65535),"
    " rate INTEGER NOT NULL CHECK (rate >= 1));"
    "CREATE TABLE IF NOT EXISTS delivery("
    " subscriber TEXT PRIMARY KEY REFERENCES subscribers(name) ON DELETE CASCADE,"
    " history INTEGER NOT NULL CHECK (history >= 0),"
    " heartbeat_ms INTEGER NOT NULL CHECK (heartbeat_ms >= 0));"
    "CREATE TABLE IF NOT EXISTS versions("
    " version INTEGER PRIMARY KEY,"
    " applied_at TEXT NOT NULL,"
    " kind TEXT NOT NULL DEFAULT 'table' CHECK (kind IN ('table', 'changes')),"
    " changes INTEGER NOT NULL DEFAULT 0,"
    " diff TEXT NOT NULL DEFAULT '',"
    " yaml TEXT NOT NULL);" /* the snapshot; '' when the version is its changes only */
    "CREATE TABLE IF NOT EXISTS changes("
    " version INTEGER NOT NULL REFERENCES versions(version) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " op TEXT NOT NULL,"
    " subscriber TEXT NOT NULL,"
    " pos INTEGER NOT NULL,"
    " pattern TEXT,"
    " mapping TEXT,"
    " PRIMARY KEY (version, seq));";

/* Schema 1 (patterns one row each, every version whole) -> 2, in the open's transaction. */
static const char store_migrate_1[] =
    "ALTER TABLE subscribers ADD COLUMN patterns TEXT NOT NULL DEFAULT '[]';"
    "UPDATE subscribers SET patterns = (SELECT json_group_array(pattern) FROM"
    " (SELECT pattern FROM patterns p WHERE p.subscriber = subscribers.name ORDER BY p.pos));"
    "DROP TABLE patterns;"
    "ALTER TABLE versions ADD COLUMN kind TEXT NOT NULL DEFAULT 'table';"
    "ALTER TABLE versions ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE versions ADD COLUMN diff TEXT NOT NULL DEFAULT '';"
    "UPDATE meta SET value = 2 WHERE key = 'schema';";

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "PATH: what: sqlite's message", -EIO. */
static int db_err(const struct store *st, char *err, size_t errlen, const char *what)
{
	set_err(err, errlen, "%s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	return -EIO;
}

static int exec(struct store *st, const char *sql, const char *what, char *err, size_t errlen)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(st, err, errlen, what);
	return 0;
}

static int prepare(struct store *st, sqlite3_stmt **stmt, const char *sql, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return db_err(st, err, errlen, "prepare");
	}
	return 0;
}

/* Run a statement that returns no rows, then reset it for the next binding. */
static int step_done(struct store *st, sqlite3_stmt *stmt, const char *what, char *err,
		     size_t errlen)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE)
		return db_err(st, err, errlen, what);
	return 0;
}

/* A single integer from a one-row query. */
static int query_int(struct store *st, const char *sql, int64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc = prepare(st, &stmt, sql, err, errlen);

	if (rc < 0)
		return rc;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*out = sqlite3_column_int64(stmt, 0);
		rc = 0;
	} else {
		rc = db_err(st, err, errlen, "read");
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* A single integer from a one-row query with one optional text binding; `dflt` when no row. */
static int query_int_or(struct store *st, const char *sql, const char *arg, int64_t dflt,
			int64_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc = prepare(st, &stmt, sql, err, errlen), r;

	if (rc < 0)
		return rc;
	if (arg != NULL)
		sqlite3_bind_text(stmt, 1, arg, -1, SQLITE_STATIC);
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW)
		*out = sqlite3_column_type(stmt, 0) == SQLITE_NULL ? dflt
								   : sqlite3_column_int64(stmt, 0);
	else if (r == SQLITE_DONE)
		*out = dflt;
	else
		rc = db_err(st, err, errlen, "read");
	sqlite3_finalize(stmt);
	return rc;
}

static int set_meta(struct store *st, const char *key, int64_t value, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc = prepare(st, &stmt, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", err,
			 errlen);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, value);
	rc = step_done(st, stmt, key, err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

static int sync_mode(struct store *st, bool full, char *err, size_t errlen)
{
	return exec(st, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		    "synchronous", err, errlen);
}

/*
 * The never-reuse rule (docs/control.md, "Durability"): after a clean close numbering
 * continues; otherwise (a crash, a power loss that may have lost commits whose numbers
 * were already told to someone) it resumes above every number reserved so far. Then the
 * next block is reserved and the store marked in use, both synced to disk.
 */
static int version_floor(struct store *st, char *err, size_t errlen)
{
	int64_t version = 0, reserved = 0, clean = 0;
	int rc;

	rc = query_int_or(st, "SELECT value FROM meta WHERE key = 'version'", NULL, 0, &version,
			  err, errlen);
	if (rc == 0)
		rc = query_int_or(st, "SELECT value FROM meta WHERE key = 'reserved'", NULL,
				  version, &reserved, err, errlen);
	if (rc == 0)
		rc = query_int_or(st, "SELECT value FROM meta WHERE key = 'clean'", NULL, 0, &clean,
				  err, errlen);
	if (rc < 0)
		return rc;
	st->head = (uint64_t)version;
	st->floor = clean ? (uint64_t)version : (uint64_t)(reserved > version ? reserved : version);
	st->reserved = st->floor + STORE_RESERVE;
	rc = sync_mode(st, true, err, errlen);
	if (rc == 0)
		rc = exec(st, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc == 0)
		rc = set_meta(st, "reserved", (int64_t)st->reserved, err, errlen);
	if (rc == 0)
		rc = set_meta(st, "clean", 0, err, errlen);
	if (rc == 0)
		rc = exec(st, "COMMIT", "commit", err, errlen);
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc == 0)
		rc = sync_mode(st, st->sync_full, err, errlen);
	return rc;
}

/* WAL lets readers (an operator's `sqlite3` shell) run beside the writer. */
static int configure(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	const char *mode;
	bool wal;
	int64_t schema = 0;
	int rc;

	sqlite3_busy_timeout(st->db, 5000);
	rc = prepare(st, &stmt, "PRAGMA journal_mode=WAL", err, errlen);
	if (rc < 0)
		return rc;
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		rc = db_err(st, err, errlen, "journal_mode");
		sqlite3_finalize(stmt);
		return rc;
	}
	mode = (const char *)sqlite3_column_text(stmt, 0);
	/* An in-memory database (tests, ":memory:") has no journal file to put in WAL mode. */
	wal = mode != NULL && (strcmp(mode, "wal") == 0 || strcmp(mode, "memory") == 0);
	if (!wal)
		set_err(err, errlen, "%s: journal_mode: cannot use WAL (got %s)", st->path,
			mode != NULL ? mode : "nothing");
	sqlite3_finalize(stmt);
	if (!wal)
		return -ENOTSUP;
	rc = exec(st, "PRAGMA foreign_keys=ON", "pragma", err, errlen);
	if (rc == 0)
		rc = sync_mode(st, st->sync_full, err, errlen);
	if (rc == 0)
		rc = exec(st, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc < 0)
		return rc;
	rc = exec(st, store_meta, "schema", err, errlen);
	if (rc == 0)
		rc = query_int_or(st, "SELECT value FROM meta WHERE key = 'schema'", NULL, 0,
				  &schema, err, errlen);
	if (rc == 0 && schema == 0) {
		/* a new database */
		rc = exec(st,
			  "INSERT INTO meta(key, value) VALUES ('schema', 2), ('version', 0),"
			  " ('clean', 1)",
			  "schema", err, errlen);
		schema = STORE_SCHEMA;
	} else if (rc == 0 && schema == 1) {
		rc = exec(st, store_migrate_1, "migrate schema 1 to 2", err, errlen);
		schema = STORE_SCHEMA;
	}
	if (rc == 0 && schema != STORE_SCHEMA) {
		set_err(err, errlen, "%s: schema version %" PRId64 " (this build reads %d)",
			st->path, schema, STORE_SCHEMA);
		rc = -EPROTO;
	}
	if (rc == 0)
		rc = exec(st, store_schema, "schema", err, errlen);
	if (rc == 0)
		rc = exec(st, "COMMIT", "commit", err, errlen);
	if (rc < 0) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return version_floor(st, err, errlen);
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	struct store *st;
	int rc;

	if (path == NULL) {
		set_err(err, errlen, "store: no database path");
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		set_err(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	st->keep = STORE_KEEP_DEFAULT;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = st->db != NULL ? db_err(st, err, errlen, "open") : -ENOMEM;
		if (st->db == NULL)
			set_err(err, errlen, "%s: open: out of memory", path);
		goto out_close;
	}
	rc = configure(st, err, errlen);
	if (rc < 0)
		goto out_close;
	return st;

out_close:
	sqlite3_close(st->db);
	free(st->path);
	free(st);
	errno = -rc;
	return NULL;
}

int store_set_durability(struct store *st, bool sync_full, uint64_t keep_versions, char *err,
			 size_t errlen)
{
	st->sync_full = sync_full;
	st->keep = keep_versions;
	return sync_mode(st, sync_full, err, errlen);
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* a clean stop: the next open continues the numbering where it is */
	if (sync_mode(st, true, NULL, 0) == 0 && set_meta(st, "clean", 1, NULL, 0) == 0)
		sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

uint64_t store_version(const struct store *st)
{
	return st->head;
}

/* Copy a name column, refusing what the loader would never have accepted. */
static int get_name(struct store *st, sqlite3_stmt *stmt, int col, char *out, size_t size,
		    const char *what, char *err, size_t errlen)
{
	const char *s = (const char *)sqlite3_column_text(stmt, col);

	if (s == NULL || s[0] == '\0' || strlen(s) >= size) {
		set_err(err, errlen, "%s: %s: bad name \"%s\"", st->path, what, s != NULL ? s : "");
		return -EPROTO;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int load_feeds(struct store *st, struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *fs = NULL, *ls = NULL;
	int64_t n = 0, *ids = NULL;
	struct rc_feed *f;
	int rc, r = SQLITE_DONE;

	rc = query_int(st, "SELECT count(*) FROM feeds", &n, err, errlen);
	if (rc < 0)
		return rc;
	cfg->feeds = calloc((size_t)n + 1, sizeof(*cfg->feeds));
	ids = calloc((size_t)n + 1, sizeof(*ids));
	if (cfg->feeds == NULL || ids == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = prepare(st, &fs, "SELECT id, name FROM feeds ORDER BY pos", err, errlen);
	if (rc == 0)
		rc = prepare(st, &ls,
			     "SELECT name, grp, port FROM lines WHERE feed_id = ? ORDER BY pos",
			     err, errlen);
	while (rc == 0 && (r = sqlite3_step(fs)) == SQLITE_ROW && cfg->n_feeds < n) {
		f = &cfg->feeds[cfg->n_feeds];
		ids[cfg->n_feeds] = sqlite3_column_int64(fs, 0);
		rc = get_name(st, fs, 1, f->name, sizeof(f->name), "feeds", err, errlen);
		cfg->n_feeds++;
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_err(st, err, errlen, "read feeds");
	for (uint32_t i = 0; rc == 0 && i < cfg->n_feeds; i++) {
		f = &cfg->feeds[i];
		sqlite3_bind_int64(ls, 1, ids[i]);
		while (rc == 0 && (r = sqlite3_step(ls)) == SQLITE_ROW) {
			if (f->n_lines == RC_MAX_LINES) {
				set_err(err, errlen, "%s: feed \"%s\": more than %d lines",
					st->path, f->name, RC_MAX_LINES);
				rc = -EPROTO;
				break;
			}
			rc = get_name(st, ls, 0, f->lines[f->n_lines].name, RC_NAME_MAX, "lines",
				      err, errlen);
			f->lines[f->n_lines].group = (uint32_t)sqlite3_column_int64(ls, 1);
			f->lines[f->n_lines].port = (uint16_t)sqlite3_column_int(ls, 2);
			f->n_lines++;
		}
		if (rc == 0 && r != SQLITE_DONE)
			rc = db_err(st, err, errlen, "read lines");
		if (rc == 0 && f->n_lines == 0) {
			set_err(err, errlen, "%s: feed \"%s\": no lines", st->path, f->name);
			rc = -EPROTO;
		}
		sqlite3_reset(ls);
	}
out:
	sqlite3_finalize(fs);
	sqlite3_finalize(ls);
	free(ids);
	return rc;
}

static int load_ports(struct store *st, struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	struct rc_port *p;
	int64_t n = 0;
	int rc, r = SQLITE_DONE;

	rc = query_int(st, "SELECT count(*) FROM ports", &n, err, errlen);
	if (rc < 0)
		return rc;
	cfg->ports = calloc((size_t)n + 1, sizeof(*cfg->ports));
	if (cfg->ports == NULL)
		return -ENOMEM;
	rc = prepare(st, &stmt, "SELECT name, src_ip, src_port FROM ports ORDER BY pos", err,
		     errlen);
	while (rc == 0 && (r = sqlite3_step(stmt)) == SQLITE_ROW && cfg->n_ports < n) {
		p = &cfg->ports[cfg->n_ports++];
		rc = get_name(st, stmt, 0, p->name, sizeof(p->name), "ports", err, errlen);
		p->src_ip = (uint32_t)sqlite3_column_int64(stmt, 1);
		p->src_port = (uint16_t)sqlite3_column_int(stmt, 2);
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_err(st, err, errlen, "read ports");
	sqlite3_finalize(stmt);
	return rc;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int used = 0;

	if (s == NULL || strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &used) != 6 ||
	    used != 17)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

/* Columns: name, feed, port, mac, ip, dport, session, types, max_payload. */
static int load_sub(struct store *st, struct routing_config *cfg, sqlite3_stmt *stmt,
		    struct rc_subscriber *s, char *err, size_t errlen)
{
	const char *feed, *port, *session, *types;
	int fi, pi, rc;

	rc = get_name(st, stmt, 0, s->name, sizeof(s->name), "subscribers", err, errlen);
	if (rc < 0)
		return rc;
	feed = (const char *)sqlite3_column_text(stmt, 1);
	port = (const char *)sqlite3_column_text(stmt, 2);
	fi = routing_config_feed_index(cfg, feed);
	pi = routing_config_port_index(cfg, port);
	session = (const char *)sqlite3_column_text(stmt, 6);
	if (fi < 0 || pi < 0 ||
	    !parse_mac((const char *)sqlite3_column_text(stmt, 3), s->dst_mac) || session == NULL ||
	    strlen(session) != RC_SESSION_LEN) {
		set_err(err, errlen, "%s: subscriber \"%s\": malformed row", st->path, s->name);
		return -EPROTO;
	}
	s->feed = (uint32_t)fi;
	s->port = (uint32_t)pi;
	s->dst_ip = (uint32_t)sqlite3_column_int64(stmt, 4);
	s->dst_port = (uint16_t)sqlite3_column_int(stmt, 5);
	memcpy(s->session, session, RC_SESSION_LEN + 1);
	types = (const char *)sqlite3_column_text(stmt, 7);
	s->all_types = types == NULL;
	for (; types != NULL && *types != '\0'; types++)
		s->types[(uint8_t)*types >> 6] |= 1ull << ((uint8_t)*types & 63);
	s->max_payload = (uint16_t)sqlite3_column_int(stmt, 8);
	return 0;
}

/* A subscriber's patterns from their JSON array. */
static int load_patterns(struct store *st, struct rc_subscriber *s, const char *text, char *err,
			 size_t errlen)
{
	json_error_t jerr;
	json_t *a = text != NULL ? json_loads(text, 0, &jerr) : NULL;
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	int rc = 0;

	if (n == 0) {
		json_decref(a);
		set_err(err, errlen, "%s: subscriber \"%s\": no patterns", st->path, s->name);
		return -EPROTO;
	}
	s->symbols = calloc(n, sizeof(*s->symbols));
	/* The table did not come from a file: no line to cite, but the array exists. */
	s->symbol_lines = calloc(n, sizeof(*s->symbol_lines));
	if (s->symbols == NULL || s->symbol_lines == NULL) {
		json_decref(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *p = json_string_value(json_array_get(a, i));

		if (p == NULL || p[0] == '\0') {
			set_err(err, errlen, "%s: subscriber \"%s\": malformed patterns", st->path,
				s->name);
			rc = -EPROTO;
		} else if ((s->symbols[i] = strdup(p)) == NULL) {
			rc = -ENOMEM;
		} else {
			s->n_symbols++;
		}
	}
	json_decref(a);
	return rc;
}

static int load_subs(struct store *st, struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *ss = NULL;
	int64_t n = 0;
	int rc, r = SQLITE_DONE;

	rc = query_int(st, "SELECT count(*) FROM subscribers", &n, err, errlen);
	if (rc < 0)
		return rc;
	cfg->subs = calloc((size_t)n + 1, sizeof(*cfg->subs));
	if (cfg->subs == NULL)
		return -ENOMEM;
	rc = prepare(st, &ss,
		     "SELECT name, feed, port, mac, ip, dport, session, types, max_payload,"
		     " patterns FROM subscribers ORDER BY pos",
		     err, errlen);
	while (rc == 0 && (r = sqlite3_step(ss)) == SQLITE_ROW && cfg->n_subs < n) {
		/* Counted first so routing_config_free() releases a half-read subscriber. */
		struct rc_subscriber *s = &cfg->subs[cfg->n_subs++];

		rc = load_sub(st, cfg, ss, s, err, errlen);
		if (rc == 0)
			rc = load_patterns(st, s, (const char *)sqlite3_column_text(ss, 9), err,
					   errlen);
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_err(st, err, errlen, "read subscribers");
	sqlite3_finalize(ss);
	return rc;
}

/* docs/protocol.md §6 settings (the recovery, retransmit and delivery tables). */
static int load_at_least_once(struct store *st, struct routing_config *cfg, char *err,
			      size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	const char *name;
	int rc, r = SQLITE_DONE, i;

	for (uint32_t k = 0; k < cfg->n_subs; k++) {
		cfg->subs[k].history = RC_HISTORY_DEF;
		cfg->subs[k].heartbeat_ms = RC_HEARTBEAT_MS_DEF;
	}
	rc = prepare(st, &stmt,
		     "SELECT f.name, r.server_mac, r.server_ip, r.server_port, r.source_ip,"
		     " r.source_port, r.wait_us, r.timeout_us, r.tries"
		     " FROM recovery r JOIN feeds f ON f.id = r.feed_id",
		     err, errlen);
	while (rc == 0 && (r = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct rc_recovery *v;

		name = (const char *)sqlite3_column_text(stmt, 0);
		i = routing_config_feed_index(cfg, name);
		if (i < 0) {
			set_err(err, errlen, "%s: recovery: malformed row", st->path);
			rc = -EPROTO;
			break;
		}
		v = &cfg->feeds[i].recovery;
		if (!parse_mac((const char *)sqlite3_column_text(stmt, 1), v->server_mac)) {
			set_err(err, errlen, "%s: recovery of feed \"%s\": malformed row", st->path,
				name);
			rc = -EPROTO;
			break;
		}
		v->server_ip = (uint32_t)sqlite3_column_int64(stmt, 2);
		v->server_port = (uint16_t)sqlite3_column_int(stmt, 3);
		v->source_ip = (uint32_t)sqlite3_column_int64(stmt, 4);
		v->source_port = (uint16_t)sqlite3_column_int(stmt, 5);
		v->wait_us = (uint32_t)sqlite3_column_int64(stmt, 6);
		v->timeout_us = (uint32_t)sqlite3_column_int64(stmt, 7);
		v->tries = (uint16_t)sqlite3_column_int(stmt, 8);
		v->enabled = true;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_err(st, err, errlen, "read recovery");
	sqlite3_finalize(stmt);
	if (rc == 0)
		rc = prepare(st, &stmt, "SELECT port, udp_port, rate FROM retransmit", err, errlen);
	while (rc == 0 && (r = sqlite3_step(stmt)) == SQLITE_ROW) {
		i = routing_config_port_index(cfg, (const char *)sqlite3_column_text(stmt, 0));
		if (i < 0) {
			set_err(err, errlen, "%s: retransmit: malformed row", st->path);
			rc = -EPROTO;
			break;
		}
		cfg->ports[i].retransmit_port = (uint16_t)sqlite3_column_int(stmt, 1);
		cfg->ports[i].retransmit_rate = (uint32_t)sqlite3_column_int64(stmt, 2);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_err(st, err, errlen, "read retransmit");
	sqlite3_finalize(stmt);
	if (rc == 0)
		rc = prepare(st, &stmt, "SELECT subscriber, history, heartbeat_ms FROM delivery",
			     err, errlen);
	while (rc == 0 && (r = sqlite3_step(stmt)) == SQLITE_ROW) {
		i = routing_config_sub_index(cfg, (const char *)sqlite3_column_text(stmt, 0));
		if (i < 0) {
			set_err(err, errlen, "%s: delivery: malformed row", st->path);
			rc = -EPROTO;
			break;
		}
		cfg->subs[i].history = (uint32_t)sqlite3_column_int64(stmt, 1);
		cfg->subs[i].heartbeat_ms = (uint32_t)sqlite3_column_int64(stmt, 2);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_err(st, err, errlen, "read delivery");
	sqlite3_finalize(stmt);
	return rc;
}

/* The stored table and version; inside a transaction. */
static int load(struct store *st, struct routing_config **out, uint64_t *version, char *err,
		size_t errlen)
{
	struct routing_config *cfg = calloc(1, sizeof(*cfg));
	int64_t v = 0;
	int rc;

	if (cfg == NULL || (cfg->path = strdup(STORE_CFGNAME)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = query_int(st, "SELECT value FROM meta WHERE key = 'version'", &v, err, errlen);
	if (rc == 0)
		rc = load_feeds(st, cfg, err, errlen);
	if (rc == 0)
		rc = load_ports(st, cfg, err, errlen);
	if (rc == 0)
		rc = load_subs(st, cfg, err, errlen);
	if (rc == 0)
		rc = load_at_least_once(st, cfg, err, errlen);
out:
	if (rc == -ENOMEM)
		set_err(err, errlen, "%s: out of memory", st->path);
	if (rc < 0) {
		routing_config_free(cfg);
		return rc;
	}
	*out = cfg;
	*version = (uint64_t)v;
	return 0;
}

int store_load(struct store *st, struct routing_config **cfg, uint64_t *version, char *err,
	       size_t errlen)
{
	int rc;

	if (st == NULL || cfg == NULL || version == NULL)
		return -EINVAL;
	/* One read transaction, so the rows read belong to one version. */
	rc = exec(st, "BEGIN", "begin", err, errlen);
	if (rc < 0)
		return rc;
	rc = load(st, cfg, version, err, errlen);
	sqlite3_exec(st->db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int insert_feeds(struct store *st, const struct routing_config *cfg, char *err,
			size_t errlen)
{
	sqlite3_stmt *fs = NULL, *ls = NULL;
	int64_t id;
	int rc;

	rc = prepare(st, &fs, "INSERT INTO feeds(name, pos) VALUES (?, ?)", err, errlen);
	if (rc == 0)
		rc = prepare(
		    st, &ls,
		    "INSERT INTO lines(feed_id, name, grp, port, pos) VALUES (?, ?, ?, ?, ?)", err,
		    errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_feeds; i++) {
		const struct rc_feed *f = &cfg->feeds[i];

		sqlite3_bind_text(fs, 1, f->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(fs, 2, i);
		rc = step_done(st, fs, "insert feed", err, errlen);
		id = sqlite3_last_insert_rowid(st->db);
		for (uint32_t j = 0; rc == 0 && j < f->n_lines; j++) {
			sqlite3_bind_int64(ls, 1, id);
			sqlite3_bind_text(ls, 2, f->lines[j].name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ls, 3, f->lines[j].group);
			sqlite3_bind_int64(ls, 4, f->lines[j].port);
			sqlite3_bind_int64(ls, 5, j);
			rc = step_done(st, ls, "insert line", err, errlen);
		}
	}
	sqlite3_finalize(fs);
	sqlite3_finalize(ls);
	return rc;
}

static int insert_ports(struct store *st, const struct routing_config *cfg, char *err,
			size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc =
	    prepare(st, &stmt, "INSERT INTO ports(name, src_ip, src_port, pos) VALUES (?, ?, ?, ?)",
		    err, errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_ports; i++) {
		sqlite3_bind_text(stmt, 1, cfg->ports[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, cfg->ports[i].src_ip);
		sqlite3_bind_int64(stmt, 3, cfg->ports[i].src_port);
		sqlite3_bind_int64(stmt, 4, i);
		rc = step_done(st, stmt, "insert port", err, errlen);
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* A subscriber's patterns as the JSON array stored (malloc'd), or NULL. */
static char *patterns_json(const struct rc_subscriber *s)
{
	json_t *a = json_array();
	char *text;

	for (uint32_t j = 0; a != NULL && j < s->n_symbols; j++)
		if (json_array_append_new(a, json_string(s->symbols[j])) != 0) {
			json_decref(a);
			return NULL; /* not UTF-8: a YAML or JSON text never gives one */
		}
	text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return text;
}

/* Bind subscriber i's columns (name, feed, port, mac, ip, dport, session, types,
 * max_payload, pos, patterns = 1..11) and run `stmt`. */
static int write_sub(struct store *st, const struct routing_config *cfg, uint32_t i,
		     sqlite3_stmt *stmt, const char *what, char *err, size_t errlen)
{
	const struct rc_subscriber *s = &cfg->subs[i];
	char mac[18], types[257], *pats = patterns_json(s);
	size_t nt = 0;
	int rc;

	if (pats == NULL) {
		set_err(err, errlen, "%s: subscriber \"%s\": cannot encode its patterns", st->path,
			s->name);
		return -EIO;
	}
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", s->dst_mac[0], s->dst_mac[1],
		 s->dst_mac[2], s->dst_mac[3], s->dst_mac[4], s->dst_mac[5]);
	for (unsigned int c = 1; c < 256; c++)
		if ((s->types[c >> 6] >> (c & 63)) & 1)
			types[nt++] = (char)c;
	types[nt] = '\0';
	sqlite3_bind_text(stmt, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, cfg->feeds[s->feed].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, cfg->ports[s->port].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, mac, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 5, s->dst_ip);
	sqlite3_bind_int64(stmt, 6, s->dst_port);
	sqlite3_bind_text(stmt, 7, s->session, RC_SESSION_LEN, SQLITE_STATIC);
	if (s->all_types)
		sqlite3_bind_null(stmt, 8);
	else
		sqlite3_bind_text(stmt, 8, types, (int)nt, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 9, s->max_payload);
	sqlite3_bind_int64(stmt, 10, i);
	sqlite3_bind_text(stmt, 11, pats, -1, SQLITE_TRANSIENT);
	rc = step_done(st, stmt, what, err, errlen);
	free(pats);
	return rc;
}

static const char sql_insert_sub[] =
    "INSERT INTO subscribers(name, feed, port, mac, ip, dport, session, types, max_payload,"
    " pos, patterns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char sql_update_sub[] =
    "UPDATE subscribers SET feed = ?2, port = ?3, mac = ?4, ip = ?5, dport = ?6,"
    " session = ?7, types = ?8, max_payload = ?9, pos = ?10, patterns = ?11 WHERE name = ?1";

static int insert_subs(struct store *st, const struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *ss = NULL;
	int rc;

	rc = prepare(st, &ss, sql_insert_sub, err, errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++)
		rc = write_sub(st, cfg, i, ss, "insert subscriber", err, errlen);
	sqlite3_finalize(ss);
	return rc;
}

/* Subscriber i's delivery row (docs/protocol.md §6): none while it has the defaults. */
static int write_delivery(struct store *st, const struct routing_config *cfg, uint32_t i, char *err,
			  size_t errlen)
{
	const struct rc_subscriber *v = &cfg->subs[i];
	sqlite3_stmt *stmt;
	int rc = prepare(st, &stmt, "DELETE FROM delivery WHERE subscriber = ?", err, errlen);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, v->name, -1, SQLITE_STATIC);
	rc = step_done(st, stmt, "delete delivery", err, errlen);
	sqlite3_finalize(stmt);
	if (rc < 0 || (v->history == RC_HISTORY_DEF && v->heartbeat_ms == RC_HEARTBEAT_MS_DEF))
		return rc;
	rc = prepare(st, &stmt,
		     "INSERT INTO delivery(subscriber, history, heartbeat_ms) VALUES (?, ?, ?)",
		     err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, v->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, v->history);
	sqlite3_bind_int64(stmt, 3, v->heartbeat_ms);
	rc = step_done(st, stmt, "insert delivery", err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

/* Rows only for what is set or not default, as the canonical text writes it. */
static int insert_at_least_once(struct store *st, const struct routing_config *cfg, char *err,
				size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = prepare(st, &stmt,
		     "INSERT INTO recovery(feed_id, server_mac, server_ip, server_port, source_ip,"
		     " source_port, wait_us, timeout_us, tries)"
		     " SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM feeds WHERE name = ?",
		     err, errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_feeds; i++) {
		const struct rc_recovery *v = &cfg->feeds[i].recovery;
		const uint8_t *m = v->server_mac;
		char mac[18];

		if (!v->enabled)
			continue;
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		sqlite3_bind_text(stmt, 1, mac, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(stmt, 2, v->server_ip);
		sqlite3_bind_int64(stmt, 3, v->server_port);
		sqlite3_bind_int64(stmt, 4, v->source_ip);
		sqlite3_bind_int64(stmt, 5, v->source_port);
		sqlite3_bind_int64(stmt, 6, v->wait_us);
		sqlite3_bind_int64(stmt, 7, v->timeout_us);
		sqlite3_bind_int64(stmt, 8, v->tries);
		sqlite3_bind_text(stmt, 9, cfg->feeds[i].name, -1, SQLITE_STATIC);
		rc = step_done(st, stmt, "insert recovery", err, errlen);
	}
	sqlite3_finalize(stmt);
	if (rc == 0)
		rc = prepare(st, &stmt,
			     "INSERT INTO retransmit(port, udp_port, rate) VALUES (?, ?, ?)", err,
			     errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_ports; i++) {
		if (cfg->ports[i].retransmit_port == 0)
			continue;
		sqlite3_bind_text(stmt, 1, cfg->ports[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, cfg->ports[i].retransmit_port);
		sqlite3_bind_int64(stmt, 3, cfg->ports[i].retransmit_rate);
		rc = step_done(st, stmt, "insert retransmit", err, errlen);
	}
	sqlite3_finalize(stmt);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++)
		rc = write_delivery(st, cfg, i, err, errlen);
	return rc;
}

/* The version row (and meta.version). `yaml` is the snapshot, or "" for a change said
 * as operations. */
static int record_version(struct store *st, uint64_t version, bool whole, size_t n_changes,
			  const char *diff, const char *yaml, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = set_meta(st, "version", (int64_t)version, err, errlen);
	if (rc == 0 && version > st->reserved) {
		st->reserved = version + STORE_RESERVE;
		rc = set_meta(st, "reserved", (int64_t)st->reserved, err, errlen);
	}
	if (rc < 0)
		return rc;
	rc = prepare(st, &stmt,
		     "INSERT INTO versions(version, applied_at, kind, changes, diff, yaml)"
		     " VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?)",
		     err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)version);
	sqlite3_bind_text(stmt, 2, whole ? "table" : "changes", -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)n_changes);
	sqlite3_bind_text(stmt, 4, diff != NULL ? diff : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, yaml, -1, SQLITE_STATIC);
	rc = step_done(st, stmt, "insert version", err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Children before parents, so the foreign keys hold at every step. The journal rows
 * reference versions, not the table, and stay.
 */
static const char store_clear[] = "DELETE FROM delivery; DELETE FROM retransmit;"
				  " DELETE FROM recovery; DELETE FROM subscribers;"
				  " DELETE FROM lines; DELETE FROM feeds; DELETE FROM ports;";

/* The table in force replaced whole by `cfg`. */
static int write_table(struct store *st, const struct routing_config *cfg, char *err, size_t errlen)
{
	int rc = exec(st, store_clear, "clear", err, errlen);

	if (rc == 0)
		rc = insert_feeds(st, cfg, err, errlen);
	if (rc == 0)
		rc = insert_ports(st, cfg, err, errlen);
	if (rc == 0)
		rc = insert_subs(st, cfg, err, errlen);
	if (rc == 0)
		rc = insert_at_least_once(st, cfg, err, errlen);
	return rc;
}

/* Every position out of the way of the UNIQUE index: negative and distinct. */
static const char sql_unposition[] = "UPDATE subscribers SET pos = -1 - rowid";

/* Subscriber positions after a subscriber joined or left: cfg's order. */
static int renumber(struct store *st, const struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc = exec(st, sql_unposition, "renumber", err, errlen);

	if (rc == 0)
		rc = prepare(st, &stmt, "UPDATE subscribers SET pos = ? WHERE name = ?", err,
			     errlen);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++) {
		sqlite3_bind_int64(stmt, 1, i);
		sqlite3_bind_text(stmt, 2, cfg->subs[i].name, -1, SQLITE_STATIC);
		rc = step_done(st, stmt, "renumber", err, errlen);
	}
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * The rows a change said as operations touches: each subscriber it names is written
 * again from `cfg` (the table after the change), inserted or deleted; the operations go
 * to the journal.
 */
static int write_ops(struct store *st, const struct routing_config *cfg, uint64_t version,
		     const struct table_change *c, char *err, size_t errlen)
{
	sqlite3_stmt *ins = NULL, *upd = NULL, *del = NULL, *jr = NULL;
	bool moved = false;
	int rc;

	rc = prepare(st, &ins, sql_insert_sub, err, errlen);
	if (rc == 0)
		rc = prepare(st, &upd, sql_update_sub, err, errlen);
	if (rc == 0)
		rc = prepare(st, &del, "DELETE FROM subscribers WHERE name = ?", err, errlen);
	if (rc == 0)
		rc = prepare(st, &jr,
			     "INSERT INTO changes(version, seq, op, subscriber, pos, pattern,"
			     " mapping) VALUES (?, ?, ?, ?, ?, ?, ?)",
			     err, errlen);
	for (uint32_t i = 0; i < c->n_ops; i++)
		moved |= c->ops[i].kind == RD_SUB_ADD || c->ops[i].kind == RD_SUB_REMOVE;
	/* positions shift: none may collide while rows are written, renumbered after */
	if (rc == 0 && moved)
		rc = exec(st, sql_unposition, "renumber", err, errlen);
	for (uint32_t i = 0; rc == 0 && i < c->n_ops; i++) {
		const struct rd_op *op = &c->ops[i];
		bool done = false;
		int si;

		/* a subscriber named twice is written once, at its last operation */
		for (uint32_t j = i + 1; j < c->n_ops && !done; j++)
			done = strcmp(c->ops[j].sub, op->sub) == 0;
		si = routing_config_sub_index(cfg, op->sub);
		if (done) {
			/* written below */
		} else if (si < 0) {
			sqlite3_bind_text(del, 1, op->sub, -1, SQLITE_STATIC);
			rc = step_done(st, del, "delete subscriber", err, errlen);
		} else {
			rc =
			    write_sub(st, cfg, (uint32_t)si, upd, "update subscriber", err, errlen);
			if (rc == 0 && sqlite3_changes(st->db) == 0)
				rc = write_sub(st, cfg, (uint32_t)si, ins, "insert subscriber", err,
					       errlen);
		}
		if (rc < 0)
			break;
		sqlite3_bind_int64(jr, 1, (int64_t)version);
		sqlite3_bind_int64(jr, 2, i);
		sqlite3_bind_text(jr, 3, rd_kind_name(op->kind), -1, SQLITE_STATIC);
		sqlite3_bind_text(jr, 4, op->sub, -1, SQLITE_STATIC);
		sqlite3_bind_int64(jr, 5, op->pos);
		if (op->pattern != NULL)
			sqlite3_bind_text(jr, 6, op->pattern, -1, SQLITE_STATIC);
		if (op->text != NULL)
			sqlite3_bind_text(jr, 7, op->text, -1, SQLITE_STATIC);
		rc = step_done(st, jr, "insert change", err, errlen);
	}
	if (rc == 0 && moved)
		rc = renumber(st, cfg, err, errlen);
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_finalize(del);
	sqlite3_finalize(jr);
	return rc;
}

static int prune(struct store *st, char *err, size_t errlen);

/* One change, one transaction; `yaml` (a snapshot) for a whole table, else `c`'s ops. */
static int commit(struct store *st, const struct routing_config *cfg, const struct table_change *c,
		  const char *yaml, const char *diff, size_t n_changes, uint64_t *version,
		  char *err, size_t errlen)
{
	int64_t cur = 0;
	uint64_t v;
	bool durable_now;
	int rc;

	v = (st->head > st->floor ? st->head : st->floor) + 1;
	/* a number beyond the reservation is reserved by this very commit, synced */
	durable_now = v > st->reserved && !st->sync_full;
	if (durable_now && (rc = sync_mode(st, true, err, errlen)) < 0)
		return rc;
	rc = exec(st, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc == 0)
		rc = query_int(st, "SELECT value FROM meta WHERE key = 'version'", &cur, err,
			       errlen);
	if (rc == 0 && (uint64_t)cur >= v)
		v = (uint64_t)cur + 1; /* another writer moved it: still never a number twice */
	/* the version row first: the journal rows refer to it */
	if (rc == 0)
		rc = record_version(st, v, yaml != NULL, n_changes, diff, yaml != NULL ? yaml : "",
				    err, errlen);
	if (rc == 0)
		rc = yaml != NULL ? write_table(st, cfg, err, errlen)
				  : write_ops(st, cfg, v, c, err, errlen);
	if (rc == 0)
		rc = exec(st, "COMMIT", "commit", err, errlen);
	/* After a failed statement or COMMIT the transaction may still be open: end it. */
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc < 0) {
		int64_t r = 0;

		/* the reservation may have been rolled back with it */
		if (query_int(st, "SELECT value FROM meta WHERE key = 'reserved'", &r, NULL, 0) ==
		    0)
			st->reserved = (uint64_t)r;
	}
	if (durable_now)
		sync_mode(st, false, NULL, 0);
	if (rc < 0)
		return rc;
	st->head = v;
	*version = v;
	/* history beyond the setting goes, in its own transaction; a failure is only told */
	if (prune(st, err, errlen) < 0)
		fprintf(stderr, "aster-control: %s (history not pruned)\n", err);
	return 0;
}

int store_commit_text(struct store *st, const struct routing_config *cfg,
		      const struct table_change *c, const char *yaml, uint64_t *version, char *err,
		      size_t errlen)
{
	char *own = NULL;
	int rc;

	if (st == NULL || cfg == NULL || c == NULL || version == NULL)
		return -EINVAL;
	if (c->n_changes == 0) {
		*version = st->head;
		return 0;
	}
	if (c->full == NULL && c->n_ops > 0)
		yaml = NULL; /* a journal entry, no snapshot */
	else if (yaml == NULL && (yaml = own = table_emit_yaml(cfg)) == NULL) {
		set_err(err, errlen, "%s: out of memory", st->path);
		return -ENOMEM;
	}
	rc = commit(st, cfg, c, yaml, c->diff, c->n_changes, version, err, errlen);
	free(own);
	return rc;
}

int store_commit(struct store *st, const struct routing_config *cfg, const struct table_change *c,
		 uint64_t *version, char *err, size_t errlen)
{
	return store_commit_text(st, cfg, c, NULL, version, err, errlen);
}

int store_replace(struct store *st, const struct routing_config *cfg, const char *yaml,
		  uint64_t *version, char *err, size_t errlen)
{
	struct routing_config *cur = NULL;
	char *own = NULL, *diff = NULL;
	size_t n_changes = 0;
	uint64_t v = 0;
	int rc;

	if (st == NULL || cfg == NULL || version == NULL)
		return -EINVAL;
	rc = store_load(st, &cur, &v, err, errlen);
	if (rc < 0)
		return rc;
	diff = table_diff(cur, cfg, &n_changes);
	if (diff != NULL && n_changes == 0) {
		/* Declarative apply is idempotent (issue 3): same table, same version. */
		*version = v;
		goto out;
	}
	if (yaml == NULL)
		yaml = own = table_emit_yaml(cfg);
	if (diff == NULL || yaml == NULL) {
		set_err(err, errlen, "%s: out of memory", st->path);
		rc = -ENOMEM;
		goto out;
	}
	rc = commit(st, cfg, NULL, yaml, diff, n_changes, version, err, errlen);
out:
	routing_config_free(cur);
	free(own);
	free(diff);
	return rc;
}

/* ------------------------------------------------------------------ history */

/* Rows are told apart from a missing version by this. */
static bool version_exists(struct store *st, uint64_t version)
{
	int64_t n = 0;
	sqlite3_stmt *stmt;

	if (prepare(st, &stmt, "SELECT count(*) FROM versions WHERE version = ?", NULL, 0) < 0)
		return false;
	sqlite3_bind_int64(stmt, 1, (int64_t)version);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		n = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return n > 0;
}

uint64_t store_oldest_version(struct store *st)
{
	int64_t v = 0;

	if (query_int_or(st, "SELECT min(version) FROM versions", NULL, 0, &v, NULL, 0) < 0)
		return 0;
	return (uint64_t)v;
}

static void ops_free(struct rd_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		free((char *)ops[i].sub);
		free((char *)ops[i].pattern);
		free((char *)ops[i].text);
	}
}

/* Replay the journal of versions (from, to] onto `cfg`. */
static int replay(struct store *st, struct routing_config *cfg, uint64_t from, uint64_t to,
		  char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	struct rd_op *ops = NULL;
	uint32_t n = 0, cap = 0;
	int64_t cur = -1;
	int rc, r;

	rc = prepare(st, &stmt,
		     "SELECT version, op, subscriber, pos, pattern, mapping FROM changes"
		     " WHERE version > ? AND version <= ? ORDER BY version, seq",
		     err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)from);
	sqlite3_bind_int64(stmt, 2, (int64_t)to);
	for (;;) {
		r = sqlite3_step(stmt);
		/* a version's operations apply together, as when it was made */
		if (n > 0 && (r != SQLITE_ROW || sqlite3_column_int64(stmt, 0) != cur)) {
			struct rd_undo *undo;
			char msg[RC_ERR_LEN];

			rc = rd_apply_all(cfg, ops, n, &undo, msg, sizeof(msg));
			if (rc == 0)
				rd_forget_all(undo, n);
			ops_free(ops, n);
			n = 0;
			if (rc < 0) {
				set_err(err, errlen, "%s: version %" PRId64 ": %s", st->path, cur,
					msg);
				rc = -EPROTO;
				break;
			}
		}
		if (r != SQLITE_ROW)
			break;
		if (n == cap) {
			struct rd_op *v = realloc(ops, (cap ? 2 * cap : 16) * sizeof(*v));

			if (v == NULL) {
				rc = -ENOMEM;
				break;
			}
			ops = v;
			cap = cap ? 2 * cap : 16;
		}
		cur = sqlite3_column_int64(stmt, 0);
		ops[n] = (struct rd_op){
		    .kind = rd_kind_parse((const char *)sqlite3_column_text(stmt, 1)),
		    .sub = strdup((const char *)sqlite3_column_text(stmt, 2)),
		    .pos = (uint32_t)sqlite3_column_int64(stmt, 3),
		};
		if (sqlite3_column_type(stmt, 4) != SQLITE_NULL)
			ops[n].pattern = strdup((const char *)sqlite3_column_text(stmt, 4));
		if (sqlite3_column_type(stmt, 5) != SQLITE_NULL)
			ops[n].text = strdup((const char *)sqlite3_column_text(stmt, 5));
		n++;
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_err(st, err, errlen, "read changes");
	ops_free(ops, n);
	free(ops);
	sqlite3_finalize(stmt);
	return rc;
}

/* Version `version` rebuilt; inside a read transaction. */
static int rebuild(struct store *st, uint64_t version, struct routing_config **out, char *err,
		   size_t errlen)
{
	sqlite3_stmt *stmt;
	struct routing_config *cfg = NULL;
	int64_t snap = -1;
	char name[48];
	int rc;

	*out = NULL;
	if (version == 0 || !version_exists(st, version)) {
		set_err(err, errlen,
			"version %" PRIu64 ": not in the history (kept: %" PRIu64 " to %" PRIu64
			")",
			version, store_oldest_version(st), st->head);
		return -ENOENT;
	}
	rc = prepare(st, &stmt,
		     "SELECT version, yaml FROM versions WHERE version <= ? AND yaml != ''"
		     " ORDER BY version DESC LIMIT 1",
		     err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)version);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *yaml = (const char *)sqlite3_column_text(stmt, 1);

		snap = sqlite3_column_int64(stmt, 0);
		snprintf(name, sizeof(name), "version %" PRId64, snap);
		cfg = yaml != NULL
			  ? routing_config_parse_trusted(yaml, strlen(yaml), name, err, errlen)
			  : NULL;
		if (cfg == NULL)
			rc = -EPROTO;
	} else {
		set_err(err, errlen, "version %" PRIu64 ": no snapshot at or before it", version);
		rc = -ENOENT;
	}
	sqlite3_finalize(stmt);
	if (rc == 0)
		rc = replay(st, cfg, (uint64_t)snap, version, err, errlen);
	if (rc < 0) {
		routing_config_free(cfg);
		return rc;
	}
	free(cfg->path);
	cfg->path = strdup(STORE_CFGNAME);
	*out = cfg;
	return 0;
}

int store_version_table(struct store *st, uint64_t version, struct routing_config **cfg, char *err,
			size_t errlen)
{
	int rc;

	if (st == NULL || cfg == NULL)
		return -EINVAL;
	rc = exec(st, "BEGIN", "begin", err, errlen);
	if (rc < 0)
		return rc;
	rc = rebuild(st, version, cfg, err, errlen);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

char *store_version_yaml(struct store *st, uint64_t version)
{
	struct routing_config *cfg;
	char err[RC_ERR_LEN], *yaml;
	int rc;

	if (st == NULL) {
		errno = EINVAL;
		return NULL;
	}
	rc = store_version_table(st, version, &cfg, err, sizeof(err));
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	yaml = table_emit_yaml(cfg);
	routing_config_free(cfg);
	return yaml;
}

int store_history(struct store *st, uint64_t newest, uint32_t limit, struct store_version **out,
		  uint32_t *n, char *err, size_t errlen)
{
	sqlite3_stmt *stmt;
	struct store_version *v = NULL;
	int rc, r;

	*out = NULL;
	*n = 0;
	rc = prepare(st, &stmt,
		     "SELECT version, applied_at, kind, changes, diff FROM versions"
		     " WHERE version <= ? ORDER BY version DESC LIMIT ?",
		     err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)(newest != 0 ? newest : st->head));
	sqlite3_bind_int64(stmt, 2, limit);
	v = calloc(limit ? limit : 1, sizeof(*v));
	if (v == NULL) {
		sqlite3_finalize(stmt);
		return -ENOMEM;
	}
	while ((r = sqlite3_step(stmt)) == SQLITE_ROW && *n < limit) {
		struct store_version *e = &v[*n];
		const char *at = (const char *)sqlite3_column_text(stmt, 1);
		const char *diff = (const char *)sqlite3_column_text(stmt, 4);

		e->version = (uint64_t)sqlite3_column_int64(stmt, 0);
		snprintf(e->applied_at, sizeof(e->applied_at), "%s", at != NULL ? at : "");
		e->whole = strcmp((const char *)sqlite3_column_text(stmt, 2), "table") == 0;
		e->changes = (uint32_t)sqlite3_column_int64(stmt, 3);
		e->diff = strdup(diff != NULL ? diff : "");
		if (e->diff == NULL) {
			rc = -ENOMEM;
			break;
		}
		++*n;
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_err(st, err, errlen, "read versions");
	sqlite3_finalize(stmt);
	if (rc < 0) {
		store_history_free(v, *n);
		*n = 0;
		return rc;
	}
	*out = v;
	return 0;
}

void store_history_free(struct store_version *v, uint32_t n)
{
	for (uint32_t i = 0; v != NULL && i < n; i++)
		free(v[i].diff);
	free(v);
}

/*
 * Keep the last `keep` versions: the oldest one kept becomes a snapshot (rebuilt, so
 * it and every later version can still be rebuilt exactly), then everything older goes.
 * Pruning waits until the surplus is worth a snapshot (an eighth of `keep`, at least 64).
 */
static int prune(struct store *st, char *err, size_t errlen)
{
	uint64_t oldest = store_oldest_version(st), slack = st->keep / 8 > 64 ? st->keep / 8 : 64;
	uint64_t first;
	struct routing_config *cfg = NULL;
	sqlite3_stmt *stmt;
	char *yaml = NULL;
	int rc;

	if (st->keep == 0 || oldest == 0 || st->head - oldest + 1 <= st->keep + slack)
		return 0;
	first = st->head - st->keep + 1;
	rc = exec(st, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc < 0)
		return rc;
	rc = rebuild(st, first, &cfg, err, errlen);
	if (rc == 0 && (yaml = table_emit_yaml(cfg)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = prepare(st, &stmt, "UPDATE versions SET yaml = ? WHERE version = ?", err,
			     errlen);
	if (rc == 0) {
		sqlite3_bind_text(stmt, 1, yaml, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, (int64_t)first);
		rc = step_done(st, stmt, "snapshot", err, errlen);
		sqlite3_finalize(stmt);
	}
	if (rc == 0)
		rc = prepare(st, &stmt, "DELETE FROM versions WHERE version < ?", err, errlen);
	if (rc == 0) {
		/* the journal rows go with their versions (ON DELETE CASCADE) */
		sqlite3_bind_int64(stmt, 1, (int64_t)first);
		rc = step_done(st, stmt, "prune", err, errlen);
		sqlite3_finalize(stmt);
	}
	if (rc == 0)
		rc = exec(st, "COMMIT", "commit", err, errlen);
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	routing_config_free(cfg);
	free(yaml);
	return rc;
}
