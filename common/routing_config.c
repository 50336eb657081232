/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing configuration loader (docs/protocol.md §4). Validates everything once, here, so the
 * dataplane and the control plane only ever see a consistent `struct routing_config`:
 * names, references, addresses, ranges and every Hyperscan pattern. Each problem is
 * reported as one line "FILE:LINE: KEY: message" (docs/conventions.md §2).
 */
#include "routing_config.h"
#include "yaml_doc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "hash.h"
#include "pattern.h"

#define RC_NAME_LEN (RC_NAME_MAX - 1)
#define RC_TEXT_MAX 4096

/*
 * Bounds on a table (docs/configuration.md): far above any deployment, low enough that
 * a hostile file is refused while it is parsed, before anything is built from it. A
 * table travels whole in one control message (CTL_MAX_PAYLOAD, 64 MiB).
 */
#define RC_FEEDS_MAX	  1024
#define RC_PORTS_MAX	  1024
#define RC_SUBS_MAX	  65536
#define RC_SYMBOLS_MAX	  (1u << 20) /* patterns of one subscriber */
#define RC_YAML_BYTES_MAX (64u << 20)
#define RC_YAML_NODES_MAX (2u << 20)

const struct yaml_doc_limits routing_config_yaml_limits = {
    .max_bytes = RC_YAML_BYTES_MAX,
    .max_depth = 16,
    .max_items = RC_SYMBOLS_MAX,
    .max_nodes = RC_YAML_NODES_MAX,
};

/* Key tables (docs/conventions.md §3): kind, required, min..max, default; the index enums follow.
 */
enum { TOP_FEEDS, TOP_PORTS, TOP_SUBS, TOP_N };
static const struct yaml_doc_key top_keys[TOP_N] = {
    [TOP_FEEDS] = {"feeds", YAML_DOC_SEQ, true, 1, RC_FEEDS_MAX, 0, NULL, NULL},
    [TOP_PORTS] = {"ports", YAML_DOC_SEQ, false, 0, RC_PORTS_MAX, 0, NULL, NULL},
    [TOP_SUBS] = {"subscribers", YAML_DOC_SEQ, false, 0, RC_SUBS_MAX, 0, NULL, NULL},
};

enum { FEED_NAME, FEED_PROTOCOL, FEED_LINES, FEED_RECOVERY, FEED_N };
static const struct yaml_doc_key feed_keys[FEED_N] = {
    [FEED_NAME] = {"name", YAML_DOC_STR, true, 1, RC_NAME_LEN, 0, NULL, NULL},
    [FEED_PROTOCOL] = {"protocol", YAML_DOC_STR, true, 1, 64, 0, NULL, RC_PROTOCOL_ITCH50},
    [FEED_LINES] = {"lines", YAML_DOC_SEQ, true, 1, RC_MAX_LINES, 0, NULL, NULL},
    [FEED_RECOVERY] = {"recovery", YAML_DOC_MAP, false, 0, 0, 0, NULL, NULL},
};

/* feeds[].recovery (docs/protocol.md §6.3) */
enum { REC_SERVER, REC_SOURCE, REC_WAIT, REC_TIMEOUT, REC_TRIES, REC_N };
static const struct yaml_doc_key recovery_keys[REC_N] = {
    [REC_SERVER] = {"server", YAML_DOC_MAP, true, 0, 0, 0, NULL, NULL},
    [REC_SOURCE] = {"source", YAML_DOC_MAP, true, 0, 0, 0, NULL, NULL},
    [REC_WAIT] = {"wait_us", YAML_DOC_INT, false, 0, RC_RECOVERY_WAIT_US_MAX,
		  RC_RECOVERY_WAIT_US_DEF, NULL, NULL},
    [REC_TIMEOUT] = {"timeout_us", YAML_DOC_INT, false, RC_RECOVERY_TIMEOUT_US_MIN,
		     RC_RECOVERY_TIMEOUT_US_MAX, RC_RECOVERY_TIMEOUT_US_DEF, NULL, NULL},
    [REC_TRIES] = {"tries", YAML_DOC_INT, false, 1, RC_RECOVERY_TRIES_MAX, RC_RECOVERY_TRIES_DEF,
		   NULL, NULL},
};

enum { SERVER_MAC, SERVER_IP, SERVER_PORT, SERVER_N };
static const struct yaml_doc_key server_keys[SERVER_N] = {
    [SERVER_MAC] = {"mac", YAML_DOC_STR, true, 1, 64, 0, NULL, NULL},
    [SERVER_IP] = {"ip", YAML_DOC_STR, true, 1, 64, 0, NULL, NULL},
    [SERVER_PORT] = {"port", YAML_DOC_INT, true, 1, 65535, 0, NULL, NULL},
};

enum { SOURCE_IP, SOURCE_PORT, SOURCE_N };
static const struct yaml_doc_key source_keys[SOURCE_N] = {
    [SOURCE_IP] = {"ip", YAML_DOC_STR, true, 1, 64, 0, NULL, NULL},
    [SOURCE_PORT] = {"port", YAML_DOC_INT, true, 1, 65535, 0, NULL, NULL},
};

enum { LINE_NAME, LINE_GROUP, LINE_PORT, LINE_N };
static const struct yaml_doc_key line_keys[LINE_N] = {
    [LINE_NAME] = {"name", YAML_DOC_STR, true, 1, RC_NAME_LEN, 0, NULL, NULL},
    [LINE_GROUP] = {"group", YAML_DOC_STR, true, 1, 64, 0, NULL, NULL},
    [LINE_PORT] = {"port", YAML_DOC_INT, true, 1, 65535, 0, NULL, NULL},
};

enum { PORT_NAME, PORT_SRC_IP, PORT_SRC_PORT, PORT_RETRANSMIT, PORT_N };
static const struct yaml_doc_key port_keys[PORT_N] = {
    [PORT_NAME] = {"name", YAML_DOC_STR, true, 1, RC_NAME_LEN, 0, NULL, NULL},
    [PORT_SRC_IP] = {"src_ip", YAML_DOC_STR, false, 1, 64, 0, "0.0.0.0", NULL},
    [PORT_SRC_PORT] = {"src_port", YAML_DOC_INT, false, 1, 65535, 0, NULL, NULL},
    [PORT_RETRANSMIT] = {"retransmit", YAML_DOC_MAP, false, 0, 0, 0, NULL, NULL},
};

/* ports[].retransmit (docs/protocol.md §6.2) */
enum { RETX_PORT, RETX_RATE, RETX_N };
static const struct yaml_doc_key retransmit_keys[RETX_N] = {
    [RETX_PORT] = {"port", YAML_DOC_INT, true, 1, 65535, 0, NULL, NULL},
    [RETX_RATE] = {"rate", YAML_DOC_INT, false, 1, RC_RETRANSMIT_RATE_MAX, RC_RETRANSMIT_RATE_DEF,
		   NULL, NULL},
};

enum {
	SUB_NAME,
	SUB_FEED,
	SUB_PORT,
	SUB_DST,
	SUB_SESSION,
	SUB_SYMBOLS,
	SUB_TYPES,
	SUB_MAXPL,
	SUB_HISTORY,
	SUB_HEARTBEAT,
	SUB_N
};
static const struct yaml_doc_key sub_keys[SUB_N] = {
    [SUB_NAME] = {"name", YAML_DOC_STR, true, 1, RC_NAME_LEN, 0, NULL, NULL},
    [SUB_FEED] = {"feed", YAML_DOC_STR, true, 1, 256, 0, NULL, NULL},
    [SUB_PORT] = {"port", YAML_DOC_STR, true, 1, 256, 0, NULL, NULL},
    [SUB_DST] = {"dst", YAML_DOC_MAP, true, 0, 0, 0, NULL, NULL},
    /* docs/protocol.md §4: at most 10 printable characters; "" is legal and pads to 10 blanks. */
    [SUB_SESSION] = {"session", YAML_DOC_STR, true, 0, RC_SESSION_LEN, 0, NULL, NULL},
    [SUB_SYMBOLS] = {"symbols", YAML_DOC_SEQ, true, 1, RC_SYMBOLS_MAX, 0, NULL, NULL},
    [SUB_TYPES] = {"types", YAML_DOC_STR, false, 1, 256, 0, NULL, NULL},
    [SUB_MAXPL] = {"max_payload", YAML_DOC_INT, false, RC_MAX_PAYLOAD_MIN, RC_MAX_PAYLOAD_MAX,
		   RC_MAX_PAYLOAD_DEF, NULL, NULL},
    [SUB_HISTORY] = {"history", YAML_DOC_INT, false, 0, RC_HISTORY_MAX, RC_HISTORY_DEF, NULL, NULL},
    [SUB_HEARTBEAT] = {"heartbeat_ms", YAML_DOC_INT, false, 0, RC_HEARTBEAT_MS_MAX,
		       RC_HEARTBEAT_MS_DEF, NULL, NULL},
};

enum { DST_MAC, DST_IP, DST_PORT, DST_N };
static const struct yaml_doc_key dst_keys[DST_N] = {
    [DST_MAC] = {"mac", YAML_DOC_STR, true, 1, 64, 0, NULL, NULL},
    [DST_IP] = {"ip", YAML_DOC_STR, true, 1, 64, 0, NULL, NULL},
    [DST_PORT] = {"port", YAML_DOC_INT, true, 1, 65535, 0, NULL, NULL},
};

/* One item of `symbols`. */
static const struct yaml_doc_key symbol_key = {
    "symbols", YAML_DOC_STR, true, 1, RC_TEXT_MAX, 0, NULL, NULL,
};

/*
 * Open-addressing name -> index set, so duplicate and reference checks stay linear
 * with tens of thousands of subscribers.
 */
struct name_ent {
	const char *name; /* NULL = free slot; points into the config being built */
	uint32_t idx;
	uint32_t line;
};

struct name_set {
	struct name_ent *slots;
	size_t mask;
	size_t count;
};

static int name_set_init(struct name_set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->slots = calloc(cap, sizeof(*s->slots));
	s->mask = cap - 1;
	return s->slots != NULL ? 0 : -ENOMEM;
}

static void name_set_fini(struct name_set *s)
{
	free(s->slots);
	s->slots = NULL;
}

static struct name_ent *name_set_slot(const struct name_set *s, const char *name)
{
	size_t i = (size_t)hash_str(name) & s->mask;

	while (s->slots[i].name != NULL && strcmp(s->slots[i].name, name) != 0)
		i = (i + 1) & s->mask;
	return &s->slots[i];
}

static const struct name_ent *name_set_find(const struct name_set *s, const char *name)
{
	const struct name_ent *e = name_set_slot(s, name);

	return e->name != NULL ? e : NULL;
}

/* Keep the table at most half full; on allocation failure it just stays fuller. */
static void name_set_grow(struct name_set *s)
{
	struct name_set n = {.mask = 2 * s->mask + 1, .count = s->count};

	n.slots = calloc(n.mask + 1, sizeof(*n.slots));
	if (n.slots == NULL)
		return;
	for (size_t i = 0; i <= s->mask; i++)
		if (s->slots[i].name != NULL)
			*name_set_slot(&n, s->slots[i].name) = s->slots[i];
	free(s->slots);
	*s = n;
}

/* Insert; returns the earlier entry when the name is already there. */
static const struct name_ent *name_set_add(struct name_set *s, const char *name, uint32_t idx,
					   uint32_t line)
{
	struct name_ent *e = name_set_slot(s, name);

	if (e->name != NULL)
		return e;
	if (s->count + 1 >= s->mask) {
		/* Never let the table fill up: probing relies on a free slot. */
		name_set_grow(s);
		if (s->count + 1 >= s->mask)
			return NULL;
		e = name_set_slot(s, name);
	}
	e->name = name;
	e->idx = idx;
	e->line = line;
	s->count++;
	if (2 * s->count > s->mask)
		name_set_grow(s);
	return NULL;
}

/*
 * Open-addressing set of the group:port pairs of the lines parsed so far, so that the
 * check that each identifies one line stays linear in the number of lines.
 */
struct endpoint_ent {
	uint64_t key; /* group << 16 | port, plus one; 0 = free slot */
	uint32_t feed, line;
};

struct endpoint_set {
	struct endpoint_ent *slots;
	size_t mask;
};

static int endpoint_set_init(struct endpoint_set *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->slots = calloc(cap, sizeof(*s->slots));
	s->mask = cap - 1;
	return s->slots != NULL ? 0 : -ENOMEM;
}

/* Insert; returns the earlier entry when the pair is already there. Never fills up:
 * sized for every line the table can hold. */
static const struct endpoint_ent *endpoint_set_add(struct endpoint_set *s, uint32_t group,
						   uint16_t port, uint32_t feed, uint32_t line)
{
	uint64_t key = ((uint64_t)group << 16 | port) + 1;
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 32) & s->mask;

	while (s->slots[i].key != 0 && s->slots[i].key != key)
		i = (i + 1) & s->mask;
	if (s->slots[i].key == key)
		return &s->slots[i];
	s->slots[i] = (struct endpoint_ent){.key = key, .feed = feed, .line = line};
	return NULL;
}

struct loader {
	struct yaml_doc doc;
	struct endpoint_set endpoints; /* every line's group:port */
	struct routing_config *cfg;
	struct name_set feeds;
	struct name_set ports;
	struct name_set subs;
	struct name_set patterns; /* patterns already accepted by hs_expression_info */
	bool trusted;		  /* patterns checked when the text was first accepted */
};

/* Feed, port and subscriber names end up in file names, stats keys and CLI output. */
static bool name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* Line names are labels ("A", "B" in docs/protocol.md §4), so upper case is allowed too. */
static bool line_name_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Strict dotted quad: four decimal octets 0..255, no leading zeros (no octal ambiguity). */
static bool parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t ip = 0, v;
	int digits;

	for (int i = 0; i < 4; i++) {
		if (i > 0 && *s++ != '.')
			return false;
		v = 0;
		digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (uint32_t)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[-digits] == '0'))
			return false;
		ip = ip << 8 | v;
	}
	if (*s != '\0')
		return false;
	*out = ip;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Exactly "xx:xx:xx:xx:xx:xx", hex digits of either case. */
static bool parse_mac(const char *s, uint8_t mac[6])
{
	int hi, lo;

	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		hi = hexval(s[3 * i]);
		lo = hexval(s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static int get_ipv4(struct loader *l, const yaml_node_t *val, const struct yaml_doc_key *k,
		    uint32_t *out)
{
	const char *s = yaml_doc_str(val, k);

	if (!parse_ipv4(s, out))
		return yaml_doc_error(&l->doc, val, k->name,
				      "\"%s\" is not an IPv4 address (a.b.c.d)", s);
	return 0;
}

/* A host's address: not 0.0.0.0, not multicast (224/4), not limited broadcast. */
static bool ipv4_unicast(uint32_t ip)
{
	return ip != 0 && (ip >> 28) != 0xe && ip != UINT32_MAX;
}

/* An address aster sends to or answers for (docs/protocol.md §6): a unicast IPv4 one. */
static int get_unicast_ipv4(struct loader *l, const yaml_node_t *val, const struct yaml_doc_key *k,
			    uint32_t *out)
{
	int rc = get_ipv4(l, val, k, out);

	if (rc == 0 && !ipv4_unicast(*out))
		return yaml_doc_error(&l->doc, val, k->name, "\"%s\" is not a unicast IPv4 address",
				      yaml_doc_str(val, k));
	return rc;
}

static int parse_line(struct loader *l, struct rc_feed *f, uint32_t li, yaml_node_t *node)
{
	struct routing_config *cfg = l->cfg;
	yaml_node_t *v[LINE_N];
	struct rc_line *ln = &f->lines[li];
	const struct endpoint_ent *dup;
	const struct rc_line *o;
	const char *name;
	int rc;

	rc = yaml_doc_map(&l->doc, node, "lines", line_keys, LINE_N, v, NULL);
	if (rc < 0)
		return rc;
	ln->cfg_line = yaml_doc_line(node);
	name = yaml_doc_str(v[LINE_NAME], &line_keys[LINE_NAME]);
	if (!line_name_ok(name))
		return yaml_doc_error(&l->doc, v[LINE_NAME], "name",
				      "\"%s\" is not a valid line name ([A-Za-z0-9_-]{1,31})",
				      name);
	for (uint32_t i = 0; i < li; i++)
		if (strcmp(f->lines[i].name, name) == 0)
			return yaml_doc_error(&l->doc, v[LINE_NAME], "name",
					      "duplicate line \"%s\" in feed \"%s\" (first at "
					      "line %" PRIu32 ")",
					      name, f->name, f->lines[i].cfg_line);
	snprintf(ln->name, sizeof(ln->name), "%s", name);
	rc = get_ipv4(l, v[LINE_GROUP], &line_keys[LINE_GROUP], &ln->group);
	if (rc < 0)
		return rc;
	ln->port = (uint16_t)yaml_doc_int(v[LINE_PORT], &line_keys[LINE_PORT]);

	/*
	 * docs/protocol.md §3.1: a frame belongs to the line whose group and port it carries, so a
	 * group:port pair may identify one line only, across all feeds. The feed being
	 * parsed is cfg->feeds[cfg->n_feeds].
	 */
	dup = endpoint_set_add(&l->endpoints, ln->group, ln->port, cfg->n_feeds, li);
	if (dup != NULL) {
		const struct rc_feed *of = &cfg->feeds[dup->feed];

		o = &of->lines[dup->line];
		return yaml_doc_error(&l->doc, v[LINE_GROUP], "group",
				      "%s:%u is already used by feed \"%s\" line \"%s\" "
				      "(line %" PRIu32 ")",
				      yaml_doc_str(v[LINE_GROUP], &line_keys[LINE_GROUP]), ln->port,
				      of->name, o->name, o->cfg_line);
	}
	return 0;
}

/* feeds[].recovery (docs/protocol.md §6.3): the form only; routing_config_check_live
 * checks source.ip against the PMD profile's RX ports. */
static int parse_recovery(struct loader *l, struct rc_feed *f, yaml_node_t *node)
{
	struct rc_recovery *r = &f->recovery;
	yaml_node_t *v[REC_N], *sv[SERVER_N], *cv[SOURCE_N];
	const char *mac;
	int rc;

	rc = yaml_doc_map(&l->doc, node, "recovery", recovery_keys, REC_N, v, NULL);
	if (rc < 0)
		return rc;
	rc = yaml_doc_map(&l->doc, v[REC_SERVER], "server", server_keys, SERVER_N, sv, NULL);
	if (rc < 0)
		return rc;
	rc = yaml_doc_map(&l->doc, v[REC_SOURCE], "source", source_keys, SOURCE_N, cv, NULL);
	if (rc < 0)
		return rc;
	r->cfg_line = yaml_doc_line(node);
	mac = yaml_doc_str(sv[SERVER_MAC], &server_keys[SERVER_MAC]);
	if (!parse_mac(mac, r->server_mac))
		return yaml_doc_error(&l->doc, sv[SERVER_MAC], "mac",
				      "\"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)", mac);
	if ((r->server_mac[0] & 1) != 0 || memcmp(r->server_mac, "\0\0\0\0\0\0", 6) == 0)
		return yaml_doc_error(&l->doc, sv[SERVER_MAC], "mac",
				      "\"%s\" is not a unicast MAC address (the next hop towards "
				      "the server)",
				      mac);
	rc = get_unicast_ipv4(l, sv[SERVER_IP], &server_keys[SERVER_IP], &r->server_ip);
	if (rc < 0)
		return rc;
	r->server_port = (uint16_t)yaml_doc_int(sv[SERVER_PORT], &server_keys[SERVER_PORT]);
	rc = get_unicast_ipv4(l, cv[SOURCE_IP], &source_keys[SOURCE_IP], &r->source_ip);
	if (rc < 0)
		return rc;
	r->source_ip_line = yaml_doc_line(cv[SOURCE_IP]);
	r->source_port = (uint16_t)yaml_doc_int(cv[SOURCE_PORT], &source_keys[SOURCE_PORT]);
	r->wait_us = (uint32_t)yaml_doc_int(v[REC_WAIT], &recovery_keys[REC_WAIT]);
	r->timeout_us = (uint32_t)yaml_doc_int(v[REC_TIMEOUT], &recovery_keys[REC_TIMEOUT]);
	r->tries = (uint16_t)yaml_doc_int(v[REC_TRIES], &recovery_keys[REC_TRIES]);
	r->enabled = true;
	return 0;
}

static int parse_feed(struct loader *l, yaml_node_t *node)
{
	struct routing_config *cfg = l->cfg;
	struct rc_feed *f = &cfg->feeds[cfg->n_feeds];
	const struct name_ent *dup;
	yaml_node_t *v[FEED_N];
	const char *name;
	int rc;

	rc = yaml_doc_map(&l->doc, node, "feeds", feed_keys, FEED_N, v, NULL);
	if (rc < 0)
		return rc;
	f->cfg_line = yaml_doc_line(node);
	name = yaml_doc_str(v[FEED_NAME], &feed_keys[FEED_NAME]);
	if (!name_ok(name))
		return yaml_doc_error(&l->doc, v[FEED_NAME], "name",
				      "\"%s\" is not a valid feed name ([a-z0-9_-]{1,31})", name);
	snprintf(f->name, sizeof(f->name), "%s", name);
	dup = name_set_add(&l->feeds, f->name, cfg->n_feeds, f->cfg_line);
	if (dup != NULL)
		return yaml_doc_error(&l->doc, v[FEED_NAME], "name",
				      "duplicate feed \"%s\" (first at line %" PRIu32 ")", name,
				      dup->line);
	for (uint32_t i = 0; i < yaml_doc_seq_len(v[FEED_LINES]); i++) {
		rc = parse_line(l, f, i, yaml_doc_seq_item(&l->doc, v[FEED_LINES], i));
		if (rc < 0)
			return rc;
		f->n_lines++;
	}
	if (v[FEED_RECOVERY] != NULL) {
		rc = parse_recovery(l, f, v[FEED_RECOVERY]);
		if (rc < 0)
			return rc;
	}
	cfg->n_feeds++;
	return 0;
}

static int parse_port(struct loader *l, yaml_node_t *node)
{
	struct routing_config *cfg = l->cfg;
	struct rc_port *p = &cfg->ports[cfg->n_ports];
	const struct name_ent *dup;
	yaml_node_t *v[PORT_N];
	const char *name;
	int rc;

	rc = yaml_doc_map(&l->doc, node, "ports", port_keys, PORT_N, v, NULL);
	if (rc < 0)
		return rc;
	p->cfg_line = yaml_doc_line(node);
	name = yaml_doc_str(v[PORT_NAME], &port_keys[PORT_NAME]);
	if (!name_ok(name))
		return yaml_doc_error(&l->doc, v[PORT_NAME], "name",
				      "\"%s\" is not a valid port name ([a-z0-9_-]{1,31})", name);
	snprintf(p->name, sizeof(p->name), "%s", name);
	dup = name_set_add(&l->ports, p->name, cfg->n_ports, p->cfg_line);
	if (dup != NULL)
		return yaml_doc_error(&l->doc, v[PORT_NAME], "name",
				      "duplicate port \"%s\" (first at line %" PRIu32 ")", name,
				      dup->line);
	rc = get_ipv4(l, v[PORT_SRC_IP], &port_keys[PORT_SRC_IP], &p->src_ip);
	if (rc < 0)
		return rc;
	p->src_port = (uint16_t)yaml_doc_int(v[PORT_SRC_PORT], &port_keys[PORT_SRC_PORT]);
	if (v[PORT_RETRANSMIT] != NULL) {
		yaml_node_t *rv[RETX_N];

		rc = yaml_doc_map(&l->doc, v[PORT_RETRANSMIT], "retransmit", retransmit_keys,
				  RETX_N, rv, NULL);
		if (rc < 0)
			return rc;
		/* docs/protocol.md §6.2: requests are sent to src_ip:retransmit.port, and
		 * the dataplane answers ARP for src_ip: it must be a host address. */
		if (v[PORT_SRC_IP] == NULL)
			return yaml_doc_error(&l->doc, v[PORT_RETRANSMIT], "retransmit",
					      "port \"%s\" has no src_ip (requests are sent to "
					      "src_ip:retransmit.port)",
					      p->name);
		if (!ipv4_unicast(p->src_ip))
			return yaml_doc_error(&l->doc, v[PORT_SRC_IP], "src_ip",
					      "\"%s\" is not a unicast IPv4 address (port \"%s\" "
					      "serves retransmission requests on it)",
					      yaml_doc_str(v[PORT_SRC_IP], &port_keys[PORT_SRC_IP]),
					      p->name);
		p->retransmit_port =
		    (uint16_t)yaml_doc_int(rv[RETX_PORT], &retransmit_keys[RETX_PORT]);
		p->retransmit_rate =
		    (uint32_t)yaml_doc_int(rv[RETX_RATE], &retransmit_keys[RETX_RATE]);
	}
	cfg->n_ports++;
	return 0;
}

static int parse_dst(struct loader *l, struct rc_subscriber *s, yaml_node_t *node)
{
	yaml_node_t *v[DST_N];
	const char *mac;
	int rc;

	rc = yaml_doc_map(&l->doc, node, "dst", dst_keys, DST_N, v, NULL);
	if (rc < 0)
		return rc;
	mac = yaml_doc_str(v[DST_MAC], &dst_keys[DST_MAC]);
	if (!parse_mac(mac, s->dst_mac))
		return yaml_doc_error(&l->doc, v[DST_MAC], "mac",
				      "\"%s\" is not a MAC address (xx:xx:xx:xx:xx:xx)", mac);
	rc = get_ipv4(l, v[DST_IP], &dst_keys[DST_IP], &s->dst_ip);
	if (rc < 0)
		return rc;
	s->dst_port = (uint16_t)yaml_doc_int(v[DST_PORT], &dst_keys[DST_PORT]);
	return 0;
}

/*
 * Patterns Hyperscan already accepted in this process. aster-control and the
 * dataplane's control thread parse the whole table on every change, and a regex costs
 * ~0.2 ms to check (hs_expression_info): at 10 000 regexes that was seconds per change
 * for patterns that did not change. Only valid patterns are kept (an invalid one is
 * checked again, and reported, every time); the set is emptied when it reaches
 * VALID_CACHE_MAX so that a long-running daemon's memory stays bounded.
 */
#define VALID_CACHE_MAX (1u << 20)

static struct {
	pthread_mutex_t lock;
	char **slots; /* open addressing; NULL = empty */
	uint32_t cap, n;
} valid_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint32_t str_hash(const char *p)
{
	uint32_t h = 2166136261u;

	for (; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

static void valid_cache_clear(void)
{
	for (uint32_t i = 0; i < valid_cache.cap; i++)
		free(valid_cache.slots[i]);
	free(valid_cache.slots);
	valid_cache.slots = NULL;
	valid_cache.cap = valid_cache.n = 0;
}

/* The slot holding `pat`, or the empty slot where it would go; cap must be non-zero. */
static char **valid_cache_slot(const char *pat)
{
	uint32_t i = str_hash(pat) & (valid_cache.cap - 1);

	while (valid_cache.slots[i] != NULL && strcmp(valid_cache.slots[i], pat) != 0)
		i = (i + 1) & (valid_cache.cap - 1);
	return &valid_cache.slots[i];
}

static bool valid_cache_has(const char *pat)
{
	bool found;

	pthread_mutex_lock(&valid_cache.lock);
	found = valid_cache.cap != 0 && *valid_cache_slot(pat) != NULL;
	pthread_mutex_unlock(&valid_cache.lock);
	return found;
}

/* Best effort: out of memory just means the next parse checks again. */
static void valid_cache_add(const char *pat)
{
	pthread_mutex_lock(&valid_cache.lock);
	if (valid_cache.n >= VALID_CACHE_MAX)
		valid_cache_clear();
	if (2 * (valid_cache.n + 1) > valid_cache.cap) { /* load factor <= 1/2 */
		uint32_t old_cap = valid_cache.cap, cap = old_cap ? 2 * old_cap : 1024;
		char **old = valid_cache.slots, **slots = calloc(cap, sizeof(*slots));

		if (slots == NULL)
			goto out;
		valid_cache.slots = slots;
		valid_cache.cap = cap;
		for (uint32_t i = 0; i < old_cap; i++)
			if (old[i] != NULL)
				*valid_cache_slot(old[i]) = old[i];
		free(old);
	}
	char **slot = valid_cache_slot(pat);

	if (*slot == NULL && (*slot = strdup(pat)) != NULL)
		valid_cache.n++;
out:
	pthread_mutex_unlock(&valid_cache.lock);
}

/* docs/protocol.md §3.5: an invalid pattern is a configuration error naming subscriber and pattern.
 */
static int parse_symbols(struct loader *l, struct rc_subscriber *s, yaml_node_t *seq)
{
	size_t n = yaml_doc_seq_len(seq);
	hs_compile_error_t *cerr = NULL;
	hs_expr_info_t *info = NULL;
	const char *pat;
	yaml_node_t *item;
	int rc;

	s->symbols = calloc(n, sizeof(*s->symbols));
	s->symbol_lines = calloc(n, sizeof(*s->symbol_lines));
	if (s->symbols == NULL || s->symbol_lines == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		item = yaml_doc_seq_item(&l->doc, seq, i);
		rc = yaml_doc_check(&l->doc, item, &symbol_key);
		if (rc < 0)
			return rc;
		pat = yaml_doc_str(item, &symbol_key);
		s->symbols[i] = strdup(pat);
		if (s->symbols[i] == NULL)
			return -ENOMEM;
		s->symbol_lines[i] = yaml_doc_line(item);
		s->n_symbols++;
		/* Subscribers often share patterns: parse each distinct one once (~100 us);
		 * exact symbols, the bulk of large tables, need no parse at all. */
		uint64_t key;
		unsigned int plen;

		if (l->trusted || name_set_find(&l->patterns, pat) != NULL ||
		    rc_pattern_exact_key(pat, &key) || rc_pattern_prefix_key(pat, &key, &plen) ||
		    valid_cache_has(pat))
			continue;
		if (hs_expression_info(pat, PATTERN_HS_FLAGS, &info, &cerr) != HS_SUCCESS) {
			rc = yaml_doc_error(&l->doc, item, "symbols",
					    "subscriber \"%s\": pattern \"%s\": %s", s->name, pat,
					    cerr != NULL ? cerr->message : "invalid pattern");
			hs_free_compile_error(cerr);
			return rc;
		}
		free(info); /* allocated with Hyperscan's misc allocator, malloc by default */
		valid_cache_add(pat);
		name_set_add(&l->patterns, s->symbols[i], 0, s->symbol_lines[i]);
	}
	return 0;
}

int routing_config_check_pattern(const char *pat, char *err, size_t errlen)
{
	hs_compile_error_t *cerr = NULL;
	hs_expr_info_t *info = NULL;
	unsigned int plen;
	uint64_t key;

	if (rc_pattern_exact_key(pat, &key) || rc_pattern_prefix_key(pat, &key, &plen) ||
	    valid_cache_has(pat))
		return 0;
	if (hs_expression_info(pat, PATTERN_HS_FLAGS, &info, &cerr) != HS_SUCCESS) {
		snprintf(err, errlen, "%s", cerr != NULL ? cerr->message : "invalid pattern");
		hs_free_compile_error(cerr);
		return -EINVAL;
	}
	free(info);
	valid_cache_add(pat);
	return 0;
}

static int parse_types(struct loader *l, struct rc_subscriber *s, const yaml_node_t *val)
{
	const char *t;

	if (val == NULL) {
		s->all_types = true; /* docs/protocol.md §3.5: default all, known or not */
		return 0;
	}
	t = yaml_doc_str(val, &sub_keys[SUB_TYPES]);
	for (size_t i = 0; t[i] != '\0'; i++) {
		uint8_t c = (uint8_t)t[i];

		if (c <= 0x20 || c >= 0x7f)
			return yaml_doc_error(&l->doc, val, "types",
					      "character 0x%02x at offset %zu is not a printable "
					      "non-space ASCII character (an ITCH message type)",
					      c, i);
		s->types[c >> 6] |= 1ull << (c & 63);
	}
	s->all_types = false;
	return 0;
}

static int parse_sub(struct loader *l, yaml_node_t *node)
{
	struct routing_config *cfg = l->cfg;
	struct rc_subscriber *s = &cfg->subs[cfg->n_subs];
	const struct name_ent *e;
	yaml_node_t *v[SUB_N];
	const char *str;
	size_t len;
	int rc;

	/* Counted first so routing_config_free() releases a half-built subscriber. */
	cfg->n_subs++;
	rc = yaml_doc_map(&l->doc, node, "subscribers", sub_keys, SUB_N, v, NULL);
	if (rc < 0)
		return rc;
	s->cfg_line = yaml_doc_line(node);
	str = yaml_doc_str(v[SUB_NAME], &sub_keys[SUB_NAME]);
	if (!name_ok(str))
		return yaml_doc_error(&l->doc, v[SUB_NAME], "name",
				      "\"%s\" is not a valid subscriber name ([a-z0-9_-]{1,31})",
				      str);
	snprintf(s->name, sizeof(s->name), "%s", str);
	e = name_set_add(&l->subs, s->name, cfg->n_subs - 1, s->cfg_line);
	if (e != NULL)
		return yaml_doc_error(&l->doc, v[SUB_NAME], "name",
				      "duplicate subscriber \"%s\" (first at line %" PRIu32 ")",
				      str, e->line);

	str = yaml_doc_str(v[SUB_FEED], &sub_keys[SUB_FEED]);
	e = name_set_find(&l->feeds, str);
	if (e == NULL)
		return yaml_doc_error(&l->doc, v[SUB_FEED], "feed",
				      "subscriber \"%s\": unknown feed \"%s\"", s->name, str);
	s->feed = e->idx;
	str = yaml_doc_str(v[SUB_PORT], &sub_keys[SUB_PORT]);
	e = name_set_find(&l->ports, str);
	if (e == NULL)
		return yaml_doc_error(&l->doc, v[SUB_PORT], "port",
				      "subscriber \"%s\": unknown port \"%s\"", s->name, str);
	s->port = e->idx;

	rc = parse_dst(l, s, v[SUB_DST]);
	if (rc < 0)
		return rc;

	/* docs/protocol.md §2, §3.6: the MoldUDP64 session is 10 ASCII bytes, space padded. */
	str = yaml_doc_str(v[SUB_SESSION], &sub_keys[SUB_SESSION]);
	len = strlen(str);
	for (size_t i = 0; i < len; i++)
		if ((uint8_t)str[i] < 0x20 || (uint8_t)str[i] > 0x7e)
			return yaml_doc_error(&l->doc, v[SUB_SESSION], "session",
					      "character 0x%02x at offset %zu is not printable "
					      "ASCII (0x20..0x7e)",
					      (uint8_t)str[i], i);
	memset(s->session, ' ', RC_SESSION_LEN);
	memcpy(s->session, str, len);
	s->session[RC_SESSION_LEN] = '\0';

	rc = parse_symbols(l, s, v[SUB_SYMBOLS]);
	if (rc < 0)
		return rc;
	rc = parse_types(l, s, v[SUB_TYPES]);
	if (rc < 0)
		return rc;
	s->max_payload = (uint16_t)yaml_doc_int(v[SUB_MAXPL], &sub_keys[SUB_MAXPL]);
	s->history = (uint32_t)yaml_doc_int(v[SUB_HISTORY], &sub_keys[SUB_HISTORY]);
	s->heartbeat_ms = (uint32_t)yaml_doc_int(v[SUB_HEARTBEAT], &sub_keys[SUB_HEARTBEAT]);
	return 0;
}

/* One address a frame for a feed arrives on: a line's group:port or a recovery source. */
struct addr_use {
	uint64_t key; /* ip << 16 | port */
	uint32_t feed;
	int32_t line; /* index in the feed, -1 for its recovery source */
	uint32_t cfg_line;
};

static int addr_use_cmp(const void *x, const void *y)
{
	const struct addr_use *a = x, *b = y;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->cfg_line < b->cfg_line ? -1 : a->cfg_line > b->cfg_line;
}

/*
 * docs/protocol.md §6.3: answers arriving at a feed's recovery source are one more line
 * of that feed, so the source ip:port may be neither another feed's source nor any
 * line's group:port (docs/protocol.md §3.1: an address identifies one line). Lines
 * among themselves are checked in parse_line. Sorted, so linear after the sort.
 */
static int check_recovery_addresses(struct loader *l)
{
	const struct routing_config *cfg = l->cfg;
	struct addr_use *u;
	size_t n = 0, n_src = 0;
	int rc = 0;

	for (uint32_t f = 0; f < cfg->n_feeds; f++)
		n_src += cfg->feeds[f].recovery.enabled;
	if (n_src == 0)
		return 0;
	u = calloc(n_src + (size_t)cfg->n_feeds * RC_MAX_LINES, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		const struct rc_feed *fd = &cfg->feeds[f];

		for (uint32_t i = 0; i < fd->n_lines; i++)
			u[n++] = (struct addr_use){(uint64_t)fd->lines[i].group << 16 |
						       fd->lines[i].port,
						   f, (int32_t)i, fd->lines[i].cfg_line};
		if (fd->recovery.enabled)
			u[n++] = (struct addr_use){(uint64_t)fd->recovery.source_ip << 16 |
						       fd->recovery.source_port,
						   f, -1, fd->recovery.source_ip_line};
	}
	qsort(u, n, sizeof(*u), addr_use_cmp);
	for (size_t i = 1; i < n && rc == 0; i++) {
		const struct addr_use *a = &u[i - 1], *b = &u[i];
		/* the message's line: the later of the two in the file */
		yaml_node_t at = {.start_mark = {.line = b->cfg_line - 1}};
		uint32_t ip = (uint32_t)(b->key >> 16);

		if (a->key != b->key || (a->line >= 0 && b->line >= 0))
			continue;
		rc = yaml_doc_error(
		    &l->doc, &at, b->line < 0 ? "ip" : "group",
		    "%u.%u.%u.%u:%u is already used by feed \"%s\" %s%s%s (line %" PRIu32 ")",
		    ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff,
		    (unsigned int)(b->key & 0xffff), cfg->feeds[a->feed].name,
		    a->line < 0 ? "recovery source" : "line \"",
		    a->line < 0 ? "" : cfg->feeds[a->feed].lines[a->line].name,
		    a->line < 0 ? "" : "\"", a->cfg_line);
	}
	free(u);
	return rc;
}

static int build(struct loader *l)
{
	struct routing_config *cfg = l->cfg;
	yaml_node_t *v[TOP_N];
	size_t nf, np, ns;
	int rc;

	rc = yaml_doc_map(&l->doc, yaml_doc_root(&l->doc), "document", top_keys, TOP_N, v, NULL);
	if (rc < 0)
		return rc;
	nf = yaml_doc_seq_len(v[TOP_FEEDS]);
	np = yaml_doc_seq_len(v[TOP_PORTS]);
	ns = yaml_doc_seq_len(v[TOP_SUBS]);
	/* +1 so that an empty list still gets a valid (empty) array. */
	cfg->feeds = calloc(nf + 1, sizeof(*cfg->feeds));
	cfg->ports = calloc(np + 1, sizeof(*cfg->ports));
	cfg->subs = calloc(ns + 1, sizeof(*cfg->subs));
	if (cfg->feeds == NULL || cfg->ports == NULL || cfg->subs == NULL)
		return -ENOMEM;
	if (endpoint_set_init(&l->endpoints, nf * RC_MAX_LINES) < 0 ||
	    name_set_init(&l->feeds, nf) < 0 || name_set_init(&l->ports, np) < 0 ||
	    name_set_init(&l->subs, ns) < 0 || name_set_init(&l->patterns, ns) < 0)
		return -ENOMEM;

	/* Feeds and ports first: subscribers refer to them whatever the key order. */
	for (size_t i = 0; i < nf; i++) {
		rc = parse_feed(l, yaml_doc_seq_item(&l->doc, v[TOP_FEEDS], i));
		if (rc < 0)
			return rc;
	}
	rc = check_recovery_addresses(l);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < np; i++) {
		rc = parse_port(l, yaml_doc_seq_item(&l->doc, v[TOP_PORTS], i));
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < ns; i++) {
		rc = parse_sub(l, yaml_doc_seq_item(&l->doc, v[TOP_SUBS], i));
		if (rc < 0)
			return rc;
	}
	return 0;
}

static struct routing_config *finish(struct loader *l, int rc, const char *name, char *err,
				     size_t errlen)
{
	if (rc == 0) {
		l->cfg->path = strdup(name);
		if (l->cfg->path == NULL)
			rc = -ENOMEM;
	}
	if (rc == -ENOMEM && !l->doc.failed && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: out of memory", name);
	name_set_fini(&l->patterns);
	name_set_fini(&l->subs);
	name_set_fini(&l->ports);
	name_set_fini(&l->feeds);
	free(l->endpoints.slots);
	yaml_doc_fini(&l->doc);
	if (rc < 0) {
		routing_config_free(l->cfg);
		errno = -rc;
		return NULL;
	}
	return l->cfg;
}

static struct routing_config *load(const char *text, size_t len, const char *path, const char *name,
				   bool trusted, char *err, size_t errlen)
{
	struct loader l;
	int rc;

	memset(&l, 0, sizeof(l));
	l.trusted = trusted;
	if (name == NULL)
		name = path != NULL ? path : "<config>";
	l.cfg = calloc(1, sizeof(*l.cfg));
	if (l.cfg == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	if (path != NULL)
		rc = yaml_doc_load_file_within(&l.doc, path, &routing_config_yaml_limits, err,
					       errlen);
	else
		rc = yaml_doc_load_buffer_within(&l.doc, text, len, name,
						 &routing_config_yaml_limits, err, errlen);
	if (rc == 0)
		rc = build(&l);
	return finish(&l, rc, name, err, errlen);
}

struct routing_config *routing_config_load(const char *path, char *err, size_t errlen)
{
	return load(NULL, 0, path, path, false, err, errlen);
}

struct routing_config *routing_config_parse(const char *text, size_t len, const char *name,
					    char *err, size_t errlen)
{
	return load(text, len, NULL, name, false, err, errlen);
}

struct routing_config *routing_config_parse_trusted(const char *text, size_t len, const char *name,
						    char *err, size_t errlen)
{
	return load(text, len, NULL, name, true, err, errlen);
}

void routing_config_free(struct routing_config *cfg)
{
	if (cfg == NULL)
		return;
	for (uint32_t i = 0; i < cfg->n_subs; i++) {
		struct rc_subscriber *s = &cfg->subs[i];

		for (uint32_t j = 0; j < s->n_symbols; j++)
			free(s->symbols[j]);
		free(s->symbols);
		free(s->symbol_lines);
	}
	free(cfg->subs);
	free(cfg->ports);
	free(cfg->feeds);
	free(cfg->path);
	free(cfg);
}

int routing_config_check_live(const struct routing_config *cfg, const struct rc_rx_port *rx,
			      uint32_t n_rx, uint32_t *rx_of_feed, char *err, size_t errlen)
{
	for (uint32_t f = 0; f < cfg->n_feeds; f++) {
		const struct rc_recovery *r = &cfg->feeds[f].recovery;
		uint32_t i = 0;

		if (rx_of_feed != NULL)
			rx_of_feed[f] = UINT32_MAX;
		if (!r->enabled)
			continue;
		while (i < n_rx && rx[i].ip != r->source_ip)
			i++;
		if (i == n_rx) {
			uint32_t ip = r->source_ip;

			if (err != NULL && errlen > 0)
				snprintf(
				    err, errlen,
				    "%s:%" PRIu32 ": ip: feed \"%s\": recovery source "
				    "%u.%u.%u.%u is not the ip of any rx_ports entry of the PMD "
				    "profile (requests leave and answers arrive through that port)",
				    cfg->path != NULL ? cfg->path : "<config>", r->source_ip_line,
				    cfg->feeds[f].name, ip >> 24, (ip >> 16) & 0xff,
				    (ip >> 8) & 0xff, ip & 0xff);
			return -EINVAL;
		}
		if (rx_of_feed != NULL)
			rx_of_feed[f] = i;
	}
	return 0;
}

int routing_config_feed_index(const struct routing_config *cfg, const char *name)
{
	for (uint32_t i = 0; cfg != NULL && name != NULL && i < cfg->n_feeds; i++)
		if (strcmp(cfg->feeds[i].name, name) == 0)
			return (int)i;
	return -1;
}

int routing_config_port_index(const struct routing_config *cfg, const char *name)
{
	for (uint32_t i = 0; cfg != NULL && name != NULL && i < cfg->n_ports; i++)
		if (strcmp(cfg->ports[i].name, name) == 0)
			return (int)i;
	return -1;
}

int routing_config_sub_index(const struct routing_config *cfg, const char *name)
{
	for (uint32_t i = 0; cfg != NULL && name != NULL && i < cfg->n_subs; i++)
		if (strcmp(cfg->subs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool symbol_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * The literal after a leading '^': symbol characters, or a backslash before a
 * punctuation character. Stops at '$' or the end; 0 when something else (a regex
 * construct) comes first or the literal is longer than a symbol. Returns its length.
 */
static unsigned int anchored_literal(const char *expr, char sym[8], const char **end)
{
	unsigned int n = 0;
	const char *p = expr;

	if (*p++ != '^')
		return 0;
	for (; *p != '\0' && *p != '$'; p++) {
		char c = *p;

		if (c == '\\') {
			c = *++p;
			if (c <= ' ' || c > '~' || symbol_char(c))
				return 0;
		} else if (!symbol_char(c)) {
			return 0;
		}
		if (n == 8)
			return 0;
		sym[n++] = c;
	}
	*end = p;
	return n;
}

bool rc_pattern_exact_key(const char *expr, uint64_t *key)
{
	char sym[8];
	const char *end;
	unsigned int n = anchored_literal(expr, sym, &end);

	if (n == 0 || end[0] != '$' || end[1] != '\0')
		return false;
	memset(sym + n, ' ', sizeof(sym) - n);
	memcpy(key, sym, sizeof(sym));
	return true;
}

bool rc_pattern_prefix_key(const char *expr, uint64_t *key, unsigned int *len)
{
	char sym[8];
	const char *end;
	unsigned int n = anchored_literal(expr, sym, &end);

	if (n == 0 || end[0] != '\0')
		return false;
	memset(sym + n, 0, sizeof(sym) - n);
	memcpy(key, sym, sizeof(sym));
	*len = n;
	return true;
}
