/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing table's durable home (issue 3): an SQLite database in WAL mode, with the
 * table held relationally (feeds, lines, ports, subscribers, patterns, each row with its
 * position so that order survives) and every version's canonical YAML kept in
 * `versions`. One change is one transaction, so a restart (or a crash mid-change) finds
 * either the old table or the new one, never a mixture.
 *
 * One thread uses a store at a time (aster-control's control thread). Every SQL text is
 * constant; values are bound to prepared statements.
 */
#include "store.h"

#include "routing_config.h"
#include "table.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#define STORE_SCHEMA  1
#define STORE_CFGNAME "store" /* the loaded config's path, as table messages show it */

struct store {
	sqlite3 *db;
	char *path;
};

/* The CHECKs below restate docs/protocol.md §4's ranges, so rows the dataplane could not use are
 * refused. */
_Static_assert(RC_MAX_PAYLOAD_MIN == 128 && RC_MAX_PAYLOAD_MAX == 8192,
	       "update the max_payload CHECK in store_schema");
_Static_assert(RC_SESSION_LEN == 10, "update the session CHECK in store_schema");

static const char store_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
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
    " pos INTEGER NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS patterns("
    " subscriber TEXT NOT NULL REFERENCES subscribers(name) ON DELETE CASCADE,"
    " pattern TEXT NOT NULL,"
    " pos INTEGER NOT NULL,"
    " PRIMARY KEY (subscriber, pos));"
    /* docs/protocol.md §6 settings, one row per feed / port / subscriber that has any
     * (no row: the defaults of routing_config.h). Tables of their own, so a database
     * written before them opens unchanged, reads as "defaults everywhere", and keeps
     * schema 1. */
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
    " yaml TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', 1), ('version', 0);";

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

/*
 * WAL lets readers (an operator's `sqlite3` shell) run beside the writer; NORMAL
 * synchronisation in WAL mode still never corrupts the database, and loses at most the
 * last commits on power loss, which the dataplane's own table version detects (issue 3,
 * fail-static and resync).
 */
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
	rc = exec(st, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON", "pragma", err, errlen);
	if (rc < 0)
		return rc;
	rc = exec(st, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc < 0)
		return rc;
	rc = exec(st, store_schema, "schema", err, errlen);
	if (rc == 0)
		rc = query_int(st, "SELECT value FROM meta WHERE key = 'schema'", &schema, err,
			       errlen);
	if (rc == 0 && schema != STORE_SCHEMA) {
		set_err(err, errlen, "%s: schema version %" PRId64 " (this build reads %d)",
			st->path, schema, STORE_SCHEMA);
		rc = -EPROTO;
	}
	if (rc == 0)
		return exec(st, "COMMIT", "commit", err, errlen);
	sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
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

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close(st->db);
	free(st->path);
	free(st);
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

/* Append one pattern to `s`, whose arrays hold `*cap` entries. */
static int add_symbol(struct rc_subscriber *s, uint32_t *cap, const char *pat)
{
	char **v;

	if (s->n_symbols == *cap) {
		*cap = *cap != 0 ? 2 * *cap : 4;
		v = realloc(s->symbols, *cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		s->symbols = v;
	}
	s->symbols[s->n_symbols] = strdup(pat);
	if (s->symbols[s->n_symbols] == NULL)
		return -ENOMEM;
	s->n_symbols++;
	return 0;
}

static int load_subs(struct store *st, struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *ss = NULL, *ps = NULL;
	uint32_t *caps = NULL, k = 0;
	int64_t n = 0, *pos = NULL, p;
	const char *pat;
	int rc, r = SQLITE_DONE;

	rc = query_int(st, "SELECT count(*) FROM subscribers", &n, err, errlen);
	if (rc < 0)
		return rc;
	cfg->subs = calloc((size_t)n + 1, sizeof(*cfg->subs));
	pos = calloc((size_t)n + 1, sizeof(*pos));
	caps = calloc((size_t)n + 1, sizeof(*caps));
	if (cfg->subs == NULL || pos == NULL || caps == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = prepare(st, &ss,
		     "SELECT name, feed, port, mac, ip, dport, session, types, max_payload, pos"
		     " FROM subscribers ORDER BY pos",
		     err, errlen);
	while (rc == 0 && (r = sqlite3_step(ss)) == SQLITE_ROW && cfg->n_subs < n) {
		/* Counted first so routing_config_free() releases a half-read subscriber. */
		pos[cfg->n_subs] = sqlite3_column_int64(ss, 9);
		rc = load_sub(st, cfg, ss, &cfg->subs[cfg->n_subs++], err, errlen);
	}
	if (rc == 0 && r != SQLITE_DONE && r != SQLITE_ROW)
		rc = db_err(st, err, errlen, "read subscribers");
	/* One pass over every pattern, in subscriber order, rather than a query per subscriber. */
	if (rc == 0)
		rc = prepare(st, &ps,
			     "SELECT s.pos, p.pattern FROM patterns p"
			     " JOIN subscribers s ON s.name = p.subscriber ORDER BY s.pos, p.pos",
			     err, errlen);
	while (rc == 0 && (r = sqlite3_step(ps)) == SQLITE_ROW) {
		p = sqlite3_column_int64(ps, 0);
		pat = (const char *)sqlite3_column_text(ps, 1);
		while (k < cfg->n_subs && pos[k] != p)
			k++;
		if (k == cfg->n_subs || pat == NULL) {
			set_err(err, errlen, "%s: patterns: malformed row", st->path);
			rc = -EPROTO;
			break;
		}
		rc = add_symbol(&cfg->subs[k], &caps[k], pat);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_err(st, err, errlen, "read patterns");
	for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++) {
		struct rc_subscriber *s = &cfg->subs[i];

		if (s->n_symbols == 0) {
			set_err(err, errlen, "%s: subscriber \"%s\": no patterns", st->path,
				s->name);
			rc = -EPROTO;
			break;
		}
		/* The table did not come from a file: no line to cite, but the array exists. */
		s->symbol_lines = calloc(s->n_symbols, sizeof(*s->symbol_lines));
		if (s->symbol_lines == NULL)
			rc = -ENOMEM;
	}
out:
	sqlite3_finalize(ss);
	sqlite3_finalize(ps);
	free(pos);
	free(caps);
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

/* The stored table and version; inside a transaction when called by store_replace. */
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

static int insert_sub(struct store *st, const struct routing_config *cfg, uint32_t i,
		      sqlite3_stmt *ss, sqlite3_stmt *ps, char *err, size_t errlen)
{
	const struct rc_subscriber *s = &cfg->subs[i];
	char mac[18], types[257];
	size_t nt = 0;
	int rc;

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", s->dst_mac[0], s->dst_mac[1],
		 s->dst_mac[2], s->dst_mac[3], s->dst_mac[4], s->dst_mac[5]);
	for (unsigned int c = 1; c < 256; c++)
		if ((s->types[c >> 6] >> (c & 63)) & 1)
			types[nt++] = (char)c;
	types[nt] = '\0';
	sqlite3_bind_text(ss, 1, s->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(ss, 2, cfg->feeds[s->feed].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(ss, 3, cfg->ports[s->port].name, -1, SQLITE_STATIC);
	sqlite3_bind_text(ss, 4, mac, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(ss, 5, s->dst_ip);
	sqlite3_bind_int64(ss, 6, s->dst_port);
	sqlite3_bind_text(ss, 7, s->session, RC_SESSION_LEN, SQLITE_STATIC);
	if (s->all_types)
		sqlite3_bind_null(ss, 8);
	else
		sqlite3_bind_text(ss, 8, types, (int)nt, SQLITE_TRANSIENT);
	sqlite3_bind_int64(ss, 9, s->max_payload);
	sqlite3_bind_int64(ss, 10, i);
	rc = step_done(st, ss, "insert subscriber", err, errlen);
	for (uint32_t j = 0; rc == 0 && j < s->n_symbols; j++) {
		sqlite3_bind_text(ps, 1, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ps, 2, s->symbols[j], -1, SQLITE_STATIC);
		sqlite3_bind_int64(ps, 3, j);
		rc = step_done(st, ps, "insert pattern", err, errlen);
	}
	return rc;
}

static int insert_subs(struct store *st, const struct routing_config *cfg, char *err, size_t errlen)
{
	sqlite3_stmt *ss = NULL, *ps = NULL;
	int rc;

	rc = prepare(st, &ss,
		     "INSERT INTO subscribers(name, feed, port, mac, ip, dport, session, types,"
		     " max_payload, pos) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     err, errlen);
	if (rc == 0)
		rc = prepare(st, &ps,
			     "INSERT INTO patterns(subscriber, pattern, pos) VALUES (?, ?, ?)", err,
			     errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++)
		rc = insert_sub(st, cfg, i, ss, ps, err, errlen);
	sqlite3_finalize(ss);
	sqlite3_finalize(ps);
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
	if (rc == 0)
		rc = prepare(
		    st, &stmt,
		    "INSERT INTO delivery(subscriber, history, heartbeat_ms) VALUES (?, ?, ?)", err,
		    errlen);
	for (uint32_t i = 0; rc == 0 && i < cfg->n_subs; i++) {
		const struct rc_subscriber *v = &cfg->subs[i];

		if (v->history == RC_HISTORY_DEF && v->heartbeat_ms == RC_HEARTBEAT_MS_DEF)
			continue;
		sqlite3_bind_text(stmt, 1, v->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, v->history);
		sqlite3_bind_int64(stmt, 3, v->heartbeat_ms);
		rc = step_done(st, stmt, "insert delivery", err, errlen);
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int record_version(struct store *st, uint64_t version, const char *yaml, char *err,
			  size_t errlen)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = prepare(st, &stmt, "UPDATE meta SET value = ? WHERE key = 'version'", err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)version);
	rc = step_done(st, stmt, "update version", err, errlen);
	sqlite3_finalize(stmt);
	if (rc < 0)
		return rc;
	rc = prepare(st, &stmt,
		     "INSERT INTO versions(version, applied_at, yaml)"
		     " VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?)",
		     err, errlen);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)version);
	sqlite3_bind_text(stmt, 2, yaml, -1, SQLITE_STATIC);
	rc = step_done(st, stmt, "insert version", err, errlen);
	sqlite3_finalize(stmt);
	return rc;
}

/*
 * Children before parents, so the foreign keys hold at every step; the table is
 * replaced whole rather than patched, which keeps one code path for apply and edits.
 */
static const char store_clear[] =
    "DELETE FROM delivery; DELETE FROM retransmit;"
    " DELETE FROM recovery; DELETE FROM patterns; DELETE FROM subscribers;"
    " DELETE FROM lines; DELETE FROM feeds; DELETE FROM ports;";

int store_replace(struct store *st, const struct routing_config *cfg, const char *yaml,
		  uint64_t *version, char *err, size_t errlen)
{
	struct routing_config *cur = NULL;
	char *own = NULL;
	uint64_t v = 0;
	int rc;

	if (st == NULL || cfg == NULL || version == NULL)
		return -EINVAL;
	if (yaml == NULL) {
		yaml = own = table_emit_yaml(cfg);
		if (yaml == NULL) {
			set_err(err, errlen, "%s: out of memory", st->path);
			return -ENOMEM;
		}
	}
	/* IMMEDIATE takes the write lock now, so the comparison below cannot go stale. */
	rc = exec(st, "BEGIN IMMEDIATE", "begin", err, errlen);
	if (rc < 0)
		goto out;
	rc = load(st, &cur, &v, err, errlen);
	if (rc == 0 && table_equal(cur, cfg)) {
		/* Declarative apply is idempotent (issue 3): same table, same version. */
		rc = exec(st, "COMMIT", "commit", err, errlen);
		if (rc == 0)
			*version = v;
		goto out_rollback;
	}
	if (rc == 0)
		rc = exec(st, store_clear, "clear", err, errlen);
	if (rc == 0)
		rc = insert_feeds(st, cfg, err, errlen);
	if (rc == 0)
		rc = insert_ports(st, cfg, err, errlen);
	if (rc == 0)
		rc = insert_subs(st, cfg, err, errlen);
	if (rc == 0)
		rc = insert_at_least_once(st, cfg, err, errlen);
	if (rc == 0)
		rc = record_version(st, v + 1, yaml, err, errlen);
	if (rc == 0)
		rc = exec(st, "COMMIT", "commit", err, errlen);
	if (rc == 0)
		*version = v + 1;
out_rollback:
	/* After a failed statement or COMMIT the transaction may still be open: end it. */
	if (rc < 0 && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
out:
	routing_config_free(cur);
	free(own);
	return rc;
}

char *store_version_yaml(struct store *st, uint64_t version)
{
	sqlite3_stmt *stmt;
	const char *text;
	char *out = NULL;
	int r;

	if (st == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (sqlite3_prepare_v2(st->db, "SELECT yaml FROM versions WHERE version = ?", -1, &stmt,
			       NULL) != SQLITE_OK) {
		errno = EIO;
		return NULL;
	}
	sqlite3_bind_int64(stmt, 1, (int64_t)version);
	r = sqlite3_step(stmt);
	if (r == SQLITE_ROW) {
		text = (const char *)sqlite3_column_text(stmt, 0);
		out = strdup(text != NULL ? text : "");
		if (out == NULL)
			errno = ENOMEM;
	} else {
		errno = r == SQLITE_DONE ? ENOENT : EIO;
	}
	sqlite3_finalize(stmt);
	return out;
}
