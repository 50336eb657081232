/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-control settings loader. Every key has its kind, default, minimum and maximum in
 * `keys` below and nowhere else (docs/conventions.md §3); problems are one line "FILE:LINE: KEY:
 * ..." (docs/conventions.md §2), as for the routing file.
 */
#include "settings.h"
#include "yaml_doc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
	K_DB,
	K_SOCKET_DIR,
	K_SOCKET_GROUP,
	K_DATAPLANE_SOCKET,
	K_HEALTH_FILE,
	K_AUDIT_LOG,
	K_HTTP_BIND,
	K_HTTP_PORT,
	K_READ_UIDS,
	K_READ_GROUPS,
	K_WRITE_UIDS,
	K_WRITE_GROUPS,
	K_MAX_SUBSCRIBERS,
	K_MAX_PATTERNS,
	K_MAX_PATTERN_LEN,
	K_DATAPLANE_TIMEOUT_MS,
	K_CLIENT_IDLE_MS,
	K_BENIGN_DROPS,
	K_DURABILITY,
	K_HISTORY_VERSIONS,
	K_HTTPS_BIND,
	K_HTTPS_PORT,
	K_TLS_CERT,
	K_TLS_KEY,
	K_TLS_CLIENT_CA,
	K_READ_CERTS,
	K_WRITE_CERTS,
	K_HTTPS_MAX_BODY,
	K_N
};

#define PATH_LEN (SETTINGS_PATH_MAX - 1 - sizeof("/" SETTINGS_SOCKET_NAME))

/* name, kind, required, min, max, default (int), default (string), choices */
static const struct yaml_doc_key keys[K_N] = {
    [K_DB] = {"db", YAML_DOC_STR, false, 1, PATH_LEN, 0, "/var/lib/aster/control.db", NULL},
    [K_SOCKET_DIR] = {"socket_dir", YAML_DOC_STR, false, 1, PATH_LEN, 0, "/run/aster", NULL},
    /* Absent: the directory keeps the daemon's own group. */
    [K_SOCKET_GROUP] = {"socket_group", YAML_DOC_STR, false, 1, 64, 0, NULL, NULL},
    [K_DATAPLANE_SOCKET] = {"dataplane_socket", YAML_DOC_STR, false, 1, 107, 0,
			    "/run/aster/dataplane.sock", NULL},
    /* The dataplane's own default (--health-file, dataplane/main.c) and its unit's. */
    [K_HEALTH_FILE] = {"health_file", YAML_DOC_STR, false, 1, PATH_LEN, 0,
		       "/run/aster/dataplane.health", NULL},
    [K_AUDIT_LOG] = {"audit_log", YAML_DOC_STR, false, 1, PATH_LEN, 0, "/var/log/aster/audit.log",
		     NULL},
    /* Issue 3 §7: the HTTP endpoint binds to loopback unless told otherwise. */
    [K_HTTP_BIND] = {"http_bind", YAML_DOC_STR, false, 7, 15, 0, "127.0.0.1", NULL},
    [K_HTTP_PORT] = {"http_port", YAML_DOC_INT, false, 0, 65535, 9180, NULL, NULL},
    [K_READ_UIDS] = {"read_uids", YAML_DOC_SEQ, false, 0, SETTINGS_ACL_MAX, 0, NULL, NULL},
    [K_READ_GROUPS] = {"read_groups", YAML_DOC_SEQ, false, 0, SETTINGS_ACL_MAX, 0, NULL, NULL},
    [K_WRITE_UIDS] = {"write_uids", YAML_DOC_SEQ, false, 0, SETTINGS_ACL_MAX, 0, NULL, NULL},
    [K_WRITE_GROUPS] = {"write_groups", YAML_DOC_SEQ, false, 0, SETTINGS_ACL_MAX, 0, NULL, NULL},
    /* The health segment carries at most HEALTH_MAX_SUBS (4096) subscribers. */
    [K_MAX_SUBSCRIBERS] = {"max_subscribers", YAML_DOC_INT, false, 1, 4096, 1024, NULL, NULL},
    [K_MAX_PATTERNS] = {"max_patterns_per_subscriber", YAML_DOC_INT, false, 1, 100000, 10000, NULL,
			NULL},
    /* routing_config.c accepts patterns up to 4096 bytes. */
    [K_MAX_PATTERN_LEN] = {"max_pattern_length", YAML_DOC_INT, false, 1, 4096, 256, NULL, NULL},
    /* An APPLY of 10 000 regexes compiles for seconds (docs/performance.md, measured costs: ~3.7
       s). */
    [K_DATAPLANE_TIMEOUT_MS] = {"dataplane_timeout_ms", YAML_DOC_INT, false, 100, 600000, 30000,
				NULL, NULL},
    /* An asterctl connection that neither completes a request nor reads a reply for this
       long is closed (control/server.h). */
    [K_CLIENT_IDLE_MS] = {"client_idle_ms", YAML_DOC_INT, false, 100, 3600000, 30000, NULL, NULL},
    [K_BENIGN_DROPS] = {"benign_drops", YAML_DOC_SEQ, false, 0, SETTINGS_BENIGN_MAX, 0, NULL, NULL},
    /* docs/control.md, "Durability": a sync per commit, or the never-reuse rule */
    [K_DURABILITY] = {"durability", YAML_DOC_STR, false, 4, 6, 0, "normal", "normal|full"},
    /* versions kept in the history; 0 keeps every one */
    [K_HISTORY_VERSIONS] = {"history_versions", YAML_DOC_INT, false, 0, 100000000, 10000, NULL,
			    NULL},
    /* The HTTPS API is for operators' desks, so it listens on every address once a port
     * is given; clients must still present a certificate of tls_client_ca. */
    [K_HTTPS_BIND] = {"https_bind", YAML_DOC_STR, false, 7, 15, 0, "0.0.0.0", NULL},
    [K_HTTPS_PORT] = {"https_port", YAML_DOC_INT, false, 0, 65535, 0, NULL, NULL},
    [K_TLS_CERT] = {"tls_cert", YAML_DOC_STR, false, 1, SETTINGS_PATH_MAX - 1, 0, NULL, NULL},
    [K_TLS_KEY] = {"tls_key", YAML_DOC_STR, false, 1, SETTINGS_PATH_MAX - 1, 0, NULL, NULL},
    [K_TLS_CLIENT_CA] = {"tls_client_ca", YAML_DOC_STR, false, 1, SETTINGS_PATH_MAX - 1, 0, NULL,
			 NULL},
    [K_READ_CERTS] = {"read_certs", YAML_DOC_SEQ, false, 0, SETTINGS_ACL_MAX, 0, NULL, NULL},
    [K_WRITE_CERTS] = {"write_certs", YAML_DOC_SEQ, false, 0, SETTINGS_ACL_MAX, 0, NULL, NULL},
    /* As the asterctl socket's longest request (server.h): an applied file of 100 000+
     * patterns fits. */
    [K_HTTPS_MAX_BODY] = {"https_max_body", YAML_DOC_INT, false, 1024, 1u << 30, 64u << 20, NULL,
			  NULL},
};

static const struct yaml_doc_key acl_item = {"uid or group", YAML_DOC_STR, true, 1, 64, 0,
					     NULL,	     NULL};
static const struct yaml_doc_key cert_item = {
    "certificate identity", YAML_DOC_STR, true, 1, SETTINGS_CERT_NAME - 1, 0, NULL, NULL};
static const struct yaml_doc_key benign_item = {"benign_drops", YAML_DOC_STR, true, 1, 31, 0,
						NULL,		NULL};

/*
 * Drop reasons that are part of normal operation, not trouble: the losing copy of an
 * A/B pair (docs/protocol.md §3.3), messages nobody subscribed to, and foreign traffic on the wire.
 */
static const char *const default_benign[] = {
    "duplicate", "no_subscriber", "no_feed", "not_ipv4", "not_udp", "igmp",
};

static bool parse_id(const char *v, uint32_t *out)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > UINT32_MAX - 1)
		return false;
	*out = (uint32_t)n;
	return true;
}

static int resolve_uid(const char *v, uid_t *uid)
{
	struct passwd *pw;
	uint32_t n;

	if (parse_id(v, &n)) {
		*uid = (uid_t)n;
		return 0;
	}
	pw = getpwnam(v);
	if (pw == NULL)
		return -ENOENT;
	*uid = pw->pw_uid;
	return 0;
}

static int resolve_gid(const char *v, gid_t *gid)
{
	struct group *gr;
	uint32_t n;

	if (parse_id(v, &n)) {
		*gid = (gid_t)n;
		return 0;
	}
	gr = getgrnam(v);
	if (gr == NULL)
		return -ENOENT;
	*gid = gr->gr_gid;
	return 0;
}

static int load_acl(struct yaml_doc *d, yaml_node_t *seq, bool groups, struct settings_acl *acl,
		    const char *key)
{
	size_t n = yaml_doc_seq_len(seq);

	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = yaml_doc_seq_item(d, seq, i);
		const char *v;
		int rc = yaml_doc_check(d, it, &acl_item);

		if (rc < 0)
			return rc;
		v = yaml_doc_str(it, &acl_item);
		if (groups) {
			if (resolve_gid(v, &acl->gids[acl->n_gids]) < 0)
				return yaml_doc_error(d, it, key, "no such group \"%s\"", v);
			acl->n_gids++;
		} else {
			if (resolve_uid(v, &acl->uids[acl->n_uids]) < 0)
				return yaml_doc_error(d, it, key, "no such user \"%s\"", v);
			acl->n_uids++;
		}
	}
	return 0;
}

static int load_certs(struct yaml_doc *d, yaml_node_t *seq, struct settings_certs *l)
{
	for (size_t i = 0; i < yaml_doc_seq_len(seq); i++) {
		yaml_node_t *it = yaml_doc_seq_item(d, seq, i);
		int rc = yaml_doc_check(d, it, &cert_item);

		if (rc < 0)
			return rc;
		snprintf(l->names[l->n++], SETTINGS_CERT_NAME, "%s", yaml_doc_str(it, &cert_item));
	}
	return 0;
}

/* The HTTPS API's keys: a port needs the three PEM files, and files without a port say
 * the operator forgot it. */
static int fill_https(struct settings *s, struct yaml_doc *d, yaml_node_t **v)
{
	static const int files[] = {K_TLS_CERT, K_TLS_KEY, K_TLS_CLIENT_CA};
	char *dst[] = {s->tls_cert, s->tls_key, s->tls_client_ca};
	struct in_addr a;

	snprintf(s->https_bind, sizeof(s->https_bind), "%s",
		 yaml_doc_str(v[K_HTTPS_BIND], &keys[K_HTTPS_BIND]));
	if (inet_pton(AF_INET, s->https_bind, &a) != 1)
		return yaml_doc_error(d, v[K_HTTPS_BIND], "https_bind",
				      "\"%s\" is not an IPv4 address", s->https_bind);
	s->https_port = (uint16_t)yaml_doc_int(v[K_HTTPS_PORT], &keys[K_HTTPS_PORT]);
	s->https_max_body = (uint32_t)yaml_doc_int(v[K_HTTPS_MAX_BODY], &keys[K_HTTPS_MAX_BODY]);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int k = files[i];

		if (v[k] != NULL)
			snprintf(dst[i], SETTINGS_PATH_MAX, "%s", yaml_doc_str(v[k], &keys[k]));
		else if (s->https_port != 0)
			return yaml_doc_error(d, v[K_HTTPS_PORT], "https_port",
					      "the HTTPS API needs %s too", keys[k].name);
	}
	for (int k = K_TLS_CERT; s->https_port == 0 && k <= K_WRITE_CERTS; k++)
		if (v[k] != NULL)
			return yaml_doc_error(d, v[k], keys[k].name,
					      "set, but https_port is 0 (the HTTPS API is off)");
	if (load_certs(d, v[K_READ_CERTS], &s->read_certs) < 0 ||
	    load_certs(d, v[K_WRITE_CERTS], &s->write_certs) < 0)
		return -EINVAL;
	return 0;
}

static int copy_str(struct yaml_doc *d, yaml_node_t *val, int k, char *dst, size_t cap)
{
	const char *v = yaml_doc_str(val, &keys[k]);

	if (strlen(v) >= cap)
		return yaml_doc_error(d, val, keys[k].name, "too long");
	strcpy(dst, v);
	return 0;
}

static int fill(struct settings *s, struct yaml_doc *d, yaml_node_t **v)
{
	struct in_addr a;
	const char *grp;
	int rc = 0;

	rc |= copy_str(d, v[K_DB], K_DB, s->db, sizeof(s->db));
	rc |= copy_str(d, v[K_SOCKET_DIR], K_SOCKET_DIR, s->socket_dir, sizeof(s->socket_dir));
	rc |= copy_str(d, v[K_DATAPLANE_SOCKET], K_DATAPLANE_SOCKET, s->dataplane_socket,
		       sizeof(s->dataplane_socket));
	rc |= copy_str(d, v[K_HEALTH_FILE], K_HEALTH_FILE, s->health_file, sizeof(s->health_file));
	rc |= copy_str(d, v[K_AUDIT_LOG], K_AUDIT_LOG, s->audit_log, sizeof(s->audit_log));
	rc |= copy_str(d, v[K_HTTP_BIND], K_HTTP_BIND, s->http_bind, sizeof(s->http_bind));
	if (rc != 0)
		return -EINVAL;
	/* A Unix socket path is at most 107 bytes (sun_path). */
	if (snprintf(s->socket_path, sizeof(s->socket_path), "%s/%s", s->socket_dir,
		     SETTINGS_SOCKET_NAME) > 107)
		return yaml_doc_error(d, v[K_SOCKET_DIR], "socket_dir",
				      "too long for a Unix socket path");
	if (inet_pton(AF_INET, s->http_bind, &a) != 1)
		return yaml_doc_error(d, v[K_HTTP_BIND], "http_bind",
				      "\"%s\" is not an IPv4 address", s->http_bind);
	if (v[K_SOCKET_GROUP] != NULL) {
		grp = yaml_doc_str(v[K_SOCKET_GROUP], &keys[K_SOCKET_GROUP]);
		if (resolve_gid(grp, &s->socket_gid) < 0)
			return yaml_doc_error(d, v[K_SOCKET_GROUP], "socket_group",
					      "no such group \"%s\"", grp);
		s->has_socket_group = true;
	}
	s->http_port = (uint16_t)yaml_doc_int(v[K_HTTP_PORT], &keys[K_HTTP_PORT]);
	s->max_subscribers = (uint32_t)yaml_doc_int(v[K_MAX_SUBSCRIBERS], &keys[K_MAX_SUBSCRIBERS]);
	s->max_patterns = (uint32_t)yaml_doc_int(v[K_MAX_PATTERNS], &keys[K_MAX_PATTERNS]);
	s->max_pattern_len = (uint32_t)yaml_doc_int(v[K_MAX_PATTERN_LEN], &keys[K_MAX_PATTERN_LEN]);
	s->dataplane_timeout_ms =
	    (uint32_t)yaml_doc_int(v[K_DATAPLANE_TIMEOUT_MS], &keys[K_DATAPLANE_TIMEOUT_MS]);
	s->durability_full =
	    strcmp(yaml_doc_str(v[K_DURABILITY], &keys[K_DURABILITY]), "full") == 0;
	s->history_versions =
	    (uint64_t)yaml_doc_int(v[K_HISTORY_VERSIONS], &keys[K_HISTORY_VERSIONS]);
	s->client_idle_ms = (uint32_t)yaml_doc_int(v[K_CLIENT_IDLE_MS], &keys[K_CLIENT_IDLE_MS]);
	if (load_acl(d, v[K_READ_UIDS], false, &s->read, "read_uids") < 0 ||
	    load_acl(d, v[K_READ_GROUPS], true, &s->read, "read_groups") < 0 ||
	    load_acl(d, v[K_WRITE_UIDS], false, &s->write, "write_uids") < 0 ||
	    load_acl(d, v[K_WRITE_GROUPS], true, &s->write, "write_groups") < 0 ||
	    fill_https(s, d, v) < 0)
		return -EINVAL;
	if (v[K_BENIGN_DROPS] == NULL) {
		s->n_benign = sizeof(default_benign) / sizeof(default_benign[0]);
		for (uint32_t i = 0; i < s->n_benign; i++)
			strcpy(s->benign_drops[i], default_benign[i]);
		return 0;
	}
	for (size_t i = 0; i < yaml_doc_seq_len(v[K_BENIGN_DROPS]); i++) {
		yaml_node_t *it = yaml_doc_seq_item(d, v[K_BENIGN_DROPS], i);

		if (yaml_doc_check(d, it, &benign_item) < 0)
			return -EINVAL;
		strcpy(s->benign_drops[s->n_benign++], yaml_doc_str(it, &benign_item));
	}
	return 0;
}

int settings_load(struct settings *s, const char *path, char *err, size_t errlen)
{
	yaml_node_t *vals[K_N] = {NULL};
	struct yaml_doc d;
	int rc;

	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path != NULL ? path : "(defaults)");
	if (path == NULL) {
		/* No file: a yaml_doc only to carry error messages; every value defaults. */
		rc = yaml_doc_load_buffer(&d, "{}", 2, "(defaults)", err, errlen);
		if (rc == 0)
			rc = fill(s, &d, vals);
		yaml_doc_fini(&d);
		return rc;
	}
	rc = yaml_doc_load_file(&d, path, err, errlen);
	if (rc == 0)
		rc = yaml_doc_map(&d, yaml_doc_root(&d), "settings", keys, K_N, vals, NULL);
	if (rc == 0)
		rc = fill(s, &d, vals);
	yaml_doc_fini(&d);
	return rc < 0 ? rc : 0;
}

static void log_acl(FILE *out, const char *what, const struct settings_acl *acl)
{
	fprintf(out, "  %s: uids [", what);
	for (uint32_t i = 0; i < acl->n_uids; i++)
		fprintf(out, "%s%u", i ? ", " : "", (unsigned)acl->uids[i]);
	fprintf(out, "] gids [");
	for (uint32_t i = 0; i < acl->n_gids; i++)
		fprintf(out, "%s%u", i ? ", " : "", (unsigned)acl->gids[i]);
	fprintf(out, "]\n");
}

static void log_certs(FILE *out, const char *what, const struct settings_certs *l)
{
	fprintf(out, "  %s: [", what);
	for (uint32_t i = 0; i < l->n; i++)
		fprintf(out, "%s\"%s\"", i ? ", " : "", l->names[i]);
	fprintf(out, "]\n");
}

void settings_log(const struct settings *s, FILE *out)
{
	fprintf(out, "settings %s:\n", s->path);
	fprintf(out, "  db: %s\n  socket: %s\n", s->db, s->socket_path);
	if (s->has_socket_group)
		fprintf(out, "  socket_group: %u\n", (unsigned)s->socket_gid);
	fprintf(out, "  dataplane_socket: %s\n  health_file: %s\n  audit_log: %s\n",
		s->dataplane_socket, s->health_file, s->audit_log);
	if (s->http_port != 0)
		fprintf(out, "  http: %s:%u\n", s->http_bind, s->http_port);
	else
		fprintf(out, "  http: off\n");
	log_acl(out, "read", &s->read);
	log_acl(out, "write", &s->write);
	if (s->https_port != 0) {
		fprintf(out, "  https: %s:%u (cert %s, key %s, client CA %s, max body %u)\n",
			s->https_bind, s->https_port, s->tls_cert, s->tls_key, s->tls_client_ca,
			s->https_max_body);
		log_certs(out, "read_certs", &s->read_certs);
		log_certs(out, "write_certs", &s->write_certs);
	} else {
		fprintf(out, "  https: off\n");
	}
	fprintf(out,
		"  max_subscribers: %u\n  max_patterns_per_subscriber: %u\n"
		"  max_pattern_length: %u\n  dataplane_timeout_ms: %u\n  client_idle_ms: %u\n"
		"  benign_drops:",
		s->max_subscribers, s->max_patterns, s->max_pattern_len, s->dataplane_timeout_ms,
		s->client_idle_ms);
	for (uint32_t i = 0; i < s->n_benign; i++)
		fprintf(out, " %s", s->benign_drops[i]);
	fprintf(out, "\n  durability: %s\n  history_versions: %" PRIu64 "\n",
		s->durability_full ? "full" : "normal", s->history_versions);
}

bool settings_acl_allows(const struct settings_acl *acl, uid_t uid, gid_t gid)
{
	struct passwd *pw;
	gid_t groups[256];
	int n = 256;

	for (uint32_t i = 0; i < acl->n_uids; i++)
		if (acl->uids[i] == uid)
			return true;
	for (uint32_t i = 0; i < acl->n_gids; i++)
		if (acl->gids[i] == gid)
			return true;
	if (acl->n_gids == 0)
		return false;
	/* SO_PEERCRED carries only the primary gid: group membership comes from the group
	 * database, as for a login. */
	pw = getpwuid(uid);
	if (pw == NULL || getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int g = 0; g < n; g++)
		for (uint32_t i = 0; i < acl->n_gids; i++)
			if (acl->gids[i] == groups[g])
				return true;
	return false;
}

bool settings_certs_allow(const struct settings_certs *l, const char *identity)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], identity) == 0)
			return true;
	return false;
}
