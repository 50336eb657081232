/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The routing configuration of docs/protocol.md §4: feeds and their lines, output ports and
 * subscribers. Loaded from YAML once, validated once, then passed around as
 * `const struct routing_config *`. Shared by aster-dataplane (replay and start-up)
 * and the control plane (asterctl apply -f).
 */
#ifndef ASTER_ROUTING_CONFIG_H
#define ASTER_ROUTING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_NAME_MAX	   32 /* [a-z0-9_-]{1,31} plus NUL */
#define RC_SESSION_LEN	   10 /* MoldUDP64 session, space padded */
#define RC_MAX_LINES	   8
#define RC_MAX_PAYLOAD_MIN 128
#define RC_MAX_PAYLOAD_MAX 8192
#define RC_MAX_PAYLOAD_DEF 1400
#define RC_PROTOCOL_ITCH50 "moldudp64-itch50"
#define RC_ERR_LEN	   512

/*
 * At-least-once delivery keys (docs/protocol.md §6), their defaults and bounds. These
 * are the one place the defaults live (docs/configuration.md lists them); replay
 * validates the keys and acts on none of them.
 */
#define RC_RETRANSMIT_RATE_DEF	   100000 /* ports[].retransmit.rate, messages/s per subscriber */
#define RC_RETRANSMIT_RATE_MAX	   100000000
#define RC_HISTORY_DEF		   100000   /* subscribers[].history, messages */
#define RC_HISTORY_MAX		   67108864 /* 2^26 messages, about 3.5 GiB of history */
#define RC_HEARTBEAT_MS_DEF	   1000	    /* subscribers[].heartbeat_ms, 0 = never */
#define RC_HEARTBEAT_MS_MAX	   60000
#define RC_RECOVERY_WAIT_US_DEF	   500 /* feeds[].recovery.wait_us */
#define RC_RECOVERY_WAIT_US_MAX	   1000000
#define RC_RECOVERY_TIMEOUT_US_DEF 50000 /* feeds[].recovery.timeout_us */
#define RC_RECOVERY_TIMEOUT_US_MIN 100
#define RC_RECOVERY_TIMEOUT_US_MAX 10000000
#define RC_RECOVERY_TRIES_DEF	   3 /* feeds[].recovery.tries */
#define RC_RECOVERY_TRIES_MAX	   100

struct rc_line {
	char name[RC_NAME_MAX];
	uint32_t group;	   /* IPv4 destination, host byte order */
	uint16_t port;	   /* UDP destination port, host byte order */
	uint32_t cfg_line; /* line in the YAML file, for messages */
};

/* feeds[].recovery (docs/protocol.md §6.3): aster as a MoldUDP64 re-request client. */
struct rc_recovery {
	bool enabled;		 /* the key is present */
	uint8_t server_mac[6];	 /* next hop towards the re-request server */
	uint32_t server_ip;	 /* host order */
	uint16_t server_port;	 /* host order */
	uint32_t source_ip;	 /* aster's address for requests and answers: an RX port's ip */
	uint16_t source_port;	 /* host order */
	uint32_t wait_us;	 /* a missing range waits this long for another line first */
	uint32_t timeout_us;	 /* an unanswered request is sent again after this */
	uint16_t tries;		 /* requests for one range before it is declared a gap */
	uint32_t cfg_line;	 /* line of `recovery`, for messages */
	uint32_t source_ip_line; /* line of `source.ip`, for the live check's message */
};

struct rc_feed {
	char name[RC_NAME_MAX];
	uint16_t n_lines;
	struct rc_line lines[RC_MAX_LINES];
	struct rc_recovery recovery;
	uint32_t cfg_line;
};

struct rc_port {
	char name[RC_NAME_MAX];
	uint32_t src_ip;   /* optional `src_ip`, host order; default 0.0.0.0 */
	uint16_t src_port; /* optional `src_port`; 0 = use the subscriber's dst port */
	/* optional `retransmit` (docs/protocol.md §6.2): requests are served on
	 * src_ip:retransmit_port; 0 = the port serves none */
	uint16_t retransmit_port;
	uint32_t retransmit_rate; /* messages/s retransmitted per subscriber */
	uint32_t cfg_line;
};

struct rc_subscriber {
	char name[RC_NAME_MAX];
	uint32_t feed; /* index into routing_config.feeds */
	uint32_t port; /* index into routing_config.ports */
	uint8_t dst_mac[6];
	uint32_t dst_ip;		  /* host order */
	uint16_t dst_port;		  /* host order */
	char session[RC_SESSION_LEN + 1]; /* space padded to 10, NUL terminated */
	uint32_t n_symbols;
	char **symbols;		/* Hyperscan patterns as written */
	uint32_t *symbol_lines; /* YAML line of each pattern */
	uint64_t types[4];	/* bitmap over the 256 ITCH type bytes */
	bool all_types;		/* `types` absent: every type, known or not */
	uint16_t max_payload;	/* UDP payload bound, RC_MAX_PAYLOAD_MIN..MAX */
	uint32_t history;	/* messages kept for retransmission (§6.2), 0 = none */
	uint32_t heartbeat_ms;	/* idle heartbeat period (§6.1), 0 = never */
	uint32_t cfg_line;
};

struct routing_config {
	char *path; /* as given to the loader, used in every message */
	uint32_t n_feeds;
	struct rc_feed *feeds;
	uint32_t n_ports;
	struct rc_port *ports;
	uint32_t n_subs;
	struct rc_subscriber *subs;
};

/*
 * Load and validate a routing YAML file. Returns the config, or NULL with errno set
 * and `err` holding one line "FILE:LINE: KEY: what is wrong" (docs/protocol.md §4,
 * docs/conventions.md §2). Patterns are checked with Hyperscan's parser (hs_expression_info) so an
 * invalid one is reported here, naming the subscriber and the pattern.
 */
struct routing_config *routing_config_load(const char *path, char *err, size_t errlen);

/* Same, from a buffer; `name` stands for the file name in messages. */
struct routing_config *routing_config_parse(const char *text, size_t len, const char *name,
					    char *err, size_t errlen);

/*
 * Same, for a text whose patterns were checked when it was first accepted (a table
 * aster-control stored, or pushed to the dataplane): everything is validated but the
 * regexes, which Hyperscan still judges when it compiles them. At 100 000 regexes the
 * check alone takes seconds.
 */
struct routing_config *routing_config_parse_trusted(const char *text, size_t len, const char *name,
						    char *err, size_t errlen);

void routing_config_free(struct routing_config *cfg);

/* An RX port of the PMD profile, as routing_config_check_live needs it. */
struct rc_rx_port {
	const char *name;
	uint32_t ip; /* host order; 0 = none configured */
};

/*
 * Live mode only (docs/protocol.md §6): what needs the PMD profile, checked once the
 * profile's RX ports are known. Every feed's `recovery.source.ip` must be the `ip` of
 * one of `rx[0..n_rx)` (requests leave through that port, answers arrive on it). When
 * `rx_of_feed` is not NULL, rx_of_feed[f] (cfg->n_feeds entries) receives that port's
 * index for a feed with recovery, UINT32_MAX for one without. Returns 0, or -EINVAL
 * with one line "FILE:LINE: ip: ..." in `err`. Replay never calls it: it validates the
 * keys' form only (docs/protocol.md §5).
 */
int routing_config_check_live(const struct routing_config *cfg, const struct rc_rx_port *rx,
			      uint32_t n_rx, uint32_t *rx_of_feed, char *err, size_t errlen);

/* The bounds a routing YAML is parsed within (size, nesting, nodes): also for a
 * fragment of one, such as a subscriber to add (control/table.c). */
struct yaml_doc_limits;
extern const struct yaml_doc_limits routing_config_yaml_limits;

/* The loader's check of one pattern (docs/protocol.md §3.5): 0, or -EINVAL with `err`
 * holding Hyperscan's message. */
int routing_config_check_pattern(const char *pat, char *err, size_t errlen);

/* Index of the named feed / port / subscriber, or -1. */
int routing_config_feed_index(const struct routing_config *cfg, const char *name);
int routing_config_port_index(const struct routing_config *cfg, const char *name);
int routing_config_sub_index(const struct routing_config *cfg, const char *name);

/*
 * Whether `expr` is an exact-symbol pattern `^LIT$`, LIT 1..8 symbol characters: letters,
 * digits, or a backslash-escaped printable non-alphanumeric (always a literal in PCRE
 * syntax); an escaped space is refused (symbols are matched without trailing spaces).
 * Such a pattern needs no Hyperscan: `*key` is the symbol space padded to 8 bytes, as
 * the stock field carries it. Always a valid expression.
 */
bool rc_pattern_exact_key(const char *expr, uint64_t *key);
/*
 * Whether `expr` is an anchored prefix `^LIT` (the same literals, no `$`): it matches
 * every symbol that starts with LIT. `*key` is LIT zero padded to 8 bytes, `*len` its
 * length (1..8). Always a valid expression; needs no Hyperscan either.
 */
bool rc_pattern_prefix_key(const char *expr, uint64_t *key, unsigned int *len);

static inline bool rc_sub_wants_type(const struct rc_subscriber *s, uint8_t type)
{
	return s->all_types || (s->types[type >> 6] >> (type & 63)) & 1;
}

#endif
