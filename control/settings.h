/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * aster-control's own settings (not the routing table, which lives in the store): where
 * its files and sockets are, who may read and who may change the table, and the limits
 * on what a change may ask for. Loaded from YAML once at start-up, validated against one
 * key table (default, min, max per key: docs/conventions.md §3), logged once, then passed around as
 * `const struct settings *`.
 */
#ifndef ASTER_CONTROL_SETTINGS_H
#define ASTER_CONTROL_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define SETTINGS_PATH_MAX   256
#define SETTINGS_ACL_MAX    64 /* entries per allow-list */
#define SETTINGS_BENIGN_MAX 32
#define SETTINGS_CERT_NAME  128 /* bytes of one certificate identity, NUL included */

/* One allow-list: callers pass when their uid, or their primary gid, is listed. */
struct settings_acl {
	uint32_t n_uids;
	uid_t uids[SETTINGS_ACL_MAX];
	uint32_t n_gids;
	gid_t gids[SETTINGS_ACL_MAX];
};

/* Certificate identities (subject common names) allowed one role on the HTTPS API. */
struct settings_certs {
	uint32_t n;
	char names[SETTINGS_ACL_MAX][SETTINGS_CERT_NAME];
};

struct settings {
	char path[SETTINGS_PATH_MAX];		  /* the settings file, for messages */
	char db[SETTINGS_PATH_MAX];		  /* SQLite database (store.c) */
	char socket_dir[SETTINGS_PATH_MAX];	  /* created 0750, group socket_gid */
	char socket_path[SETTINGS_PATH_MAX];	  /* socket_dir + "/asterctl.sock" */
	bool has_socket_group;			  /* `socket_group` given */
	gid_t socket_gid;			  /* group owning socket_dir */
	char dataplane_socket[SETTINGS_PATH_MAX]; /* aster-dataplane --ctl-socket */
	char health_file[SETTINGS_PATH_MAX];	  /* aster-dataplane --health-file */
	char audit_log[SETTINGS_PATH_MAX];
	char http_bind[64];	   /* IPv4 address; loopback by default (issue 3 §7) */
	uint16_t http_port;	   /* 0 disables the HTTP endpoint */
	struct settings_acl read;  /* may run get, stats, health */
	struct settings_acl write; /* may also change the table (implies read) */
	/* The HTTPS API with mutual TLS (control/http.h): off while https_port is 0. */
	char https_bind[64]; /* IPv4 address */
	uint16_t https_port;
	char tls_cert[SETTINGS_PATH_MAX];      /* the server's certificate chain, PEM */
	char tls_key[SETTINGS_PATH_MAX];       /* its private key, PEM */
	char tls_client_ca[SETTINGS_PATH_MAX]; /* the CA(s) client certificates must chain to */
	struct settings_certs read_certs;      /* identities that may read */
	struct settings_certs write_certs;     /* identities that may also change the table */
	uint32_t https_max_body;	       /* bytes of one request body */
	uint32_t max_subscribers;
	uint32_t max_patterns;	       /* per subscriber */
	uint32_t max_pattern_len;      /* bytes */
	uint32_t dataplane_timeout_ms; /* one request to the dataplane (APPLY compiles) */
	bool durability_full;	       /* fsync every store commit (docs/control.md) */
	uint64_t history_versions;     /* versions the store keeps; 0: all */
	uint32_t client_idle_ms;       /* an asterctl connection without progress is closed */
	uint32_t n_benign;	       /* drop reasons that do not degrade health */
	char benign_drops[SETTINGS_BENIGN_MAX][32];
};

/* The socket file inside socket_dir. */
#define SETTINGS_SOCKET_NAME "asterctl.sock"

/*
 * Load and validate `path` (NULL: every key takes its default). 0, or -errno with one
 * line "FILE:LINE: KEY: what is wrong" in err. Group and user names are resolved here.
 */
int settings_load(struct settings *s, const char *path, char *err, size_t errlen);

/* Log the effective settings, one key a line. */
void settings_log(const struct settings *s, FILE *out);

/* True when uid/gid is on the list. */
bool settings_acl_allows(const struct settings_acl *acl, uid_t uid, gid_t gid);

/* True when the certificate identity is on the list (exact, case-sensitive). */
bool settings_certs_allow(const struct settings_certs *l, const char *identity);

#endif
