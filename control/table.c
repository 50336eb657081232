/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Routing tables as the control plane handles them (issue 3): one canonical docs/protocol.md §4
 * YAML text per table (stored as the version's history, pushed to the dataplane and
 * compared), the diff `asterctl apply` prints, and the imperative edits. An edit never
 * patches the struct in place: it writes the canonical text of the edited table and
 * parses it with routing_config_parse, so common/routing_config.c stays the one judge
 * of what a valid table is (docs/protocol.md §4, §3.5).
 */
#include "table.h"

#include "routing_config.h"
#include "yaml_doc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name messages of re-parsed edits carry; stripped again (see edit_parse). */
#define TABLE_NAME "table"

/* A growing text buffer; an allocation failure is sticky and reported once at the end. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	size_t cap = b->cap != 0 ? b->cap : 256;
	char *p;

	if (b->oom)
		return false;
	while (cap < b->len + more + 1)
		cap *= 2;
	if (cap == b->cap)
		return true;
	p = realloc(b->p, cap);
	if (p == NULL) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->p[b->len] = '\0'; /* an empty buffer is the empty string */
	b->cap = cap;
	return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n >= 0 && sb_reserve(b, (size_t)n)) {
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

/*
 * A YAML double-quoted scalar of the `n` bytes at `s`. Patterns may hold any character
 * (quotes, backslashes, ": ", " #", a leading "-" or "&"), and only the double-quoted
 * style represents all of them. Control bytes become \xNN, which libyaml reads back as
 * the same single byte; bytes >= 0x80 stay as they are, since they came from the UTF-8
 * text of a YAML file in the first place, except YAML's three Unicode line breaks
 * (NEL U+0085, LS U+2028, PS U+2029): written raw, a reader folds them into a space,
 * so they become \N, \L and \P.
 */
static void sb_quote_n(struct sbuf *b, const char *s, size_t n)
{
	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			sb_put(b, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			/* written out by hand: a table can hold millions of these */
			char esc[4] = {'\\', 'x', "0123456789abcdef"[c >> 4],
				       "0123456789abcdef"[c & 15]};

			sb_put(b, esc, 4);
		} else if (c == 0xc2 && i + 1 < n && (uint8_t)s[i + 1] == 0x85) {
			sb_put(b, "\\N", 2);
			i++;
		} else if (c == 0xe2 && i + 2 < n && (uint8_t)s[i + 1] == 0x80 &&
			   ((uint8_t)s[i + 2] == 0xa8 || (uint8_t)s[i + 2] == 0xa9)) {
			sb_put(b, (uint8_t)s[i + 2] == 0xa8 ? "\\L" : "\\P", 2);
			i += 2;
		} else {
			sb_put(b, (const char *)&c, 1);
		}
	}
	sb_put(b, "\"", 1);
}

static void sb_quote(struct sbuf *b, const char *s)
{
	sb_quote_n(b, s, strlen(s));
}

static char *sb_finish(struct sbuf *b)
{
	if (!b->oom && sb_reserve(b, 0))
		return b->p;
	free(b->p);
	errno = ENOMEM;
	return NULL;
}

static void ipv4_str(uint32_t ip, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

static void mac_str(const uint8_t m[6], char out[18])
{
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* docs/protocol.md §4 pads the session to 10 with blanks; the text keeps what precedes the padding.
 */
static size_t session_len(const struct rc_subscriber *s)
{
	size_t n = strnlen(s->session, RC_SESSION_LEN);

	while (n > 0 && s->session[n - 1] == ' ')
		n--;
	return n;
}

/* The `types` text: every selected type byte once, in ascending order. */
static void types_str(const struct rc_subscriber *s, char out[257])
{
	size_t n = 0;

	for (unsigned int c = 1; c < 256; c++)
		if ((s->types[c >> 6] >> (c & 63)) & 1)
			out[n++] = (char)c;
	out[n] = '\0';
}

/*
 * What an edit changes while writing the text: one subscriber left out, one pattern
 * left out or added to one subscriber, or one subscriber's YAML appended to the list.
 */
struct edit {
	int64_t skip_sub;
	int64_t pat_sub;
	int64_t skip_pat;
	const char *add_pat;
	const char *add_sub_text;
};

static const struct edit no_edit = {-1, -1, -1, NULL, NULL};

/*
 * One more item of `subscribers`: every line of the operator's text shifted under the
 * "  - " so a flow mapping, a block mapping at any indentation, comments and
 * multi-line scalars all stay inside the one item.
 */
static void emit_extra_sub(struct sbuf *b, const char *text)
{
	const char *p = text, *nl;

	sb_puts(b, "  - ");
	for (bool first = true; *p != '\0'; first = false) {
		nl = strchr(p, '\n');
		if (!first)
			sb_puts(b, "    ");
		sb_put(b, p, nl != NULL ? (size_t)(nl - p) : strlen(p));
		sb_puts(b, "\n");
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static void emit_sub(struct sbuf *b, const struct routing_config *cfg, uint32_t si,
		     const struct edit *e)
{
	const struct rc_subscriber *s = &cfg->subs[si];
	char ip[16], mac[18], types[257];

	sb_puts(b, "  - name: ");
	sb_quote(b, s->name);
	sb_puts(b, "\n    feed: ");
	sb_quote(b, cfg->feeds[s->feed].name);
	sb_puts(b, "\n    port: ");
	sb_quote(b, cfg->ports[s->port].name);
	mac_str(s->dst_mac, mac);
	ipv4_str(s->dst_ip, ip);
	sb_printf(b, "\n    dst: {mac: \"%s\", ip: \"%s\", port: %u}\n    session: ", mac, ip,
		  s->dst_port);
	sb_quote_n(b, s->session, session_len(s));
	sb_puts(b, "\n    symbols:\n");
	for (uint32_t i = 0; i < s->n_symbols; i++) {
		if ((int64_t)si == e->pat_sub && (int64_t)i == e->skip_pat)
			continue;
		sb_puts(b, "      - ");
		sb_quote(b, s->symbols[i]);
		sb_puts(b, "\n");
	}
	if ((int64_t)si == e->pat_sub && e->add_pat != NULL) {
		sb_puts(b, "      - ");
		sb_quote(b, e->add_pat);
		sb_puts(b, "\n");
	}
	if (!s->all_types) {
		types_str(s, types);
		sb_puts(b, "    types: ");
		sb_quote(b, types);
		sb_puts(b, "\n");
	}
	sb_printf(b, "    max_payload: %u\n", s->max_payload);
	/* docs/protocol.md §6 keys only when they differ from their defaults, so tables
	 * without them keep the text they always had. */
	if (s->history != RC_HISTORY_DEF)
		sb_printf(b, "    history: %u\n", s->history);
	if (s->heartbeat_ms != RC_HEARTBEAT_MS_DEF)
		sb_printf(b, "    heartbeat_ms: %u\n", s->heartbeat_ms);
}

/* feeds[].recovery (docs/protocol.md §6.3), every field written out. */
static void emit_recovery(struct sbuf *b, const struct rc_recovery *r)
{
	char mac[18], ip[16], src[16];

	mac_str(r->server_mac, mac);
	ipv4_str(r->server_ip, ip);
	ipv4_str(r->source_ip, src);
	sb_printf(b,
		  "    recovery:\n      server: {mac: \"%s\", ip: \"%s\", port: %u}\n"
		  "      source: {ip: \"%s\", port: %u}\n      wait_us: %u\n"
		  "      timeout_us: %u\n      tries: %u\n",
		  mac, ip, r->server_port, src, r->source_port, r->wait_us, r->timeout_us,
		  r->tries);
}

/* The text before the subscribers: feeds and ports. */
static void emit_head(struct sbuf *b, const struct routing_config *cfg)
{
	char ip[16];

	sb_puts(b, cfg->n_feeds > 0 ? "feeds:\n" : "feeds: []\n");
	for (uint32_t fi = 0; fi < cfg->n_feeds; fi++) {
		const struct rc_feed *f = &cfg->feeds[fi];

		sb_puts(b, "  - name: ");
		sb_quote(b, f->name);
		sb_puts(b, "\n    protocol: \"" RC_PROTOCOL_ITCH50 "\"\n    lines:\n");
		for (uint32_t li = 0; li < f->n_lines; li++) {
			sb_puts(b, "      - {name: ");
			sb_quote(b, f->lines[li].name);
			ipv4_str(f->lines[li].group, ip);
			sb_printf(b, ", group: \"%s\", port: %u}\n", ip, f->lines[li].port);
		}
		if (f->recovery.enabled)
			emit_recovery(b, &f->recovery);
	}
	sb_puts(b, cfg->n_ports > 0 ? "ports:\n" : "ports: []\n");
	for (uint32_t pi = 0; pi < cfg->n_ports; pi++) {
		const struct rc_port *p = &cfg->ports[pi];

		sb_puts(b, "  - name: ");
		sb_quote(b, p->name);
		sb_puts(b, "\n");
		/* Optional keys only when set, so the text says what the operator said. */
		if (p->src_ip != 0) {
			ipv4_str(p->src_ip, ip);
			sb_printf(b, "    src_ip: \"%s\"\n", ip);
		}
		if (p->src_port != 0)
			sb_printf(b, "    src_port: %u\n", p->src_port);
		if (p->retransmit_port != 0)
			sb_printf(b, "    retransmit: {port: %u, rate: %u}\n", p->retransmit_port,
				  p->retransmit_rate);
	}
}

static char *emit(const struct routing_config *cfg, const struct edit *e)
{
	struct sbuf b = {0};
	bool any;

	emit_head(&b, cfg);
	any = e->add_sub_text != NULL;
	for (uint32_t si = 0; si < cfg->n_subs && !any; si++)
		any = (int64_t)si != e->skip_sub;
	sb_puts(&b, any ? "subscribers:\n" : "subscribers: []\n");
	for (uint32_t si = 0; si < cfg->n_subs; si++)
		if ((int64_t)si != e->skip_sub)
			emit_sub(&b, cfg, si, e);
	if (e->add_sub_text != NULL)
		emit_extra_sub(&b, e->add_sub_text);
	return sb_finish(&b);
}

char *table_emit_yaml(const struct routing_config *cfg)
{
	if (cfg == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return emit(cfg, &no_edit);
}

static bool types_equal(const struct rc_subscriber *a, const struct rc_subscriber *b)
{
	if (a->all_types || b->all_types)
		return a->all_types == b->all_types;
	return memcmp(a->types, b->types, sizeof(a->types)) == 0;
}

static bool sub_equal(const struct routing_config *ca, const struct rc_subscriber *a,
		      const struct routing_config *cb, const struct rc_subscriber *b)
{
	if (strcmp(a->name, b->name) != 0 ||
	    strcmp(ca->feeds[a->feed].name, cb->feeds[b->feed].name) != 0 ||
	    strcmp(ca->ports[a->port].name, cb->ports[b->port].name) != 0 ||
	    memcmp(a->dst_mac, b->dst_mac, sizeof(a->dst_mac)) != 0 || a->dst_ip != b->dst_ip ||
	    a->dst_port != b->dst_port || memcmp(a->session, b->session, RC_SESSION_LEN) != 0 ||
	    !types_equal(a, b) || a->max_payload != b->max_payload ||
	    a->n_symbols != b->n_symbols || a->history != b->history ||
	    a->heartbeat_ms != b->heartbeat_ms)
		return false;
	for (uint32_t i = 0; i < a->n_symbols; i++)
		if (strcmp(a->symbols[i], b->symbols[i]) != 0)
			return false;
	return true;
}

static bool recovery_equal(const struct rc_recovery *a, const struct rc_recovery *b)
{
	if (!a->enabled || !b->enabled)
		return a->enabled == b->enabled;
	return memcmp(a->server_mac, b->server_mac, sizeof(a->server_mac)) == 0 &&
	       a->server_ip == b->server_ip && a->server_port == b->server_port &&
	       a->source_ip == b->source_ip && a->source_port == b->source_port &&
	       a->wait_us == b->wait_us && a->timeout_us == b->timeout_us && a->tries == b->tries;
}

static bool feed_equal(const struct rc_feed *a, const struct rc_feed *b)
{
	if (strcmp(a->name, b->name) != 0 || a->n_lines != b->n_lines ||
	    !recovery_equal(&a->recovery, &b->recovery))
		return false;
	for (uint32_t i = 0; i < a->n_lines; i++)
		if (strcmp(a->lines[i].name, b->lines[i].name) != 0 ||
		    a->lines[i].group != b->lines[i].group || a->lines[i].port != b->lines[i].port)
			return false;
	return true;
}

static bool port_equal(const struct rc_port *a, const struct rc_port *b)
{
	return strcmp(a->name, b->name) == 0 && a->src_ip == b->src_ip &&
	       a->src_port == b->src_port && a->retransmit_port == b->retransmit_port &&
	       (a->retransmit_port == 0 || a->retransmit_rate == b->retransmit_rate);
}

/*
 * Order counts everywhere: the dataplane numbers feeds, ports and subscribers by their
 * position (subscriber bitmaps, output streams), so a reordered table is a different
 * table. The lines a config was read from (cfg_line, symbol_lines, path) do not count.
 */
bool table_equal(const struct routing_config *a, const struct routing_config *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->n_feeds != b->n_feeds || a->n_ports != b->n_ports || a->n_subs != b->n_subs)
		return false;
	for (uint32_t i = 0; i < a->n_feeds; i++)
		if (!feed_equal(&a->feeds[i], &b->feeds[i]))
			return false;
	for (uint32_t i = 0; i < a->n_ports; i++)
		if (!port_equal(&a->ports[i], &b->ports[i]))
			return false;
	for (uint32_t i = 0; i < a->n_subs; i++)
		if (!sub_equal(a, &a->subs[i], b, &b->subs[i]))
			return false;
	return true;
}

/*
 * Sorted (name, position) pairs, so that matching the names of two tables stays
 * O(n log n) with tens of thousands of subscribers or patterns. Equal names keep their
 * order (position breaks ties), which pairs the k-th copy of a repeated pattern in one
 * table with the k-th copy in the other.
 */
struct name_pos {
	const char *name;
	uint32_t pos;
};

static int name_pos_cmp(const void *x, const void *y)
{
	const struct name_pos *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c != 0)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* `name(base, i)` gives the i-th name. */
static struct name_pos *sorted_names(const void *base, uint32_t n,
				     const char *(*name)(const void *, uint32_t))
{
	struct name_pos *v = calloc((size_t)n + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		v[i].name = name(base, i);
		v[i].pos = i;
	}
	qsort(v, n, sizeof(*v), name_pos_cmp);
	return v;
}

/*
 * Pair the names of `a` (na) with those of `b` (nb): a_to_b[i] is the position in b of
 * a's i-th name, or UINT32_MAX; b_to_a likewise. Returns -ENOMEM or 0.
 */
static int match_names(const void *a, uint32_t na, const void *b, uint32_t nb,
		       const char *(*name)(const void *, uint32_t), uint32_t **a_to_b,
		       uint32_t **b_to_a)
{
	struct name_pos *sa = sorted_names(a, na, name), *sb = sorted_names(b, nb, name);
	uint32_t i = 0, j = 0;
	int c, rc = 0;

	*a_to_b = calloc((size_t)na + 1, sizeof(**a_to_b));
	*b_to_a = calloc((size_t)nb + 1, sizeof(**b_to_a));
	if (sa == NULL || sb == NULL || *a_to_b == NULL || *b_to_a == NULL) {
		free(*a_to_b);
		free(*b_to_a);
		*a_to_b = *b_to_a = NULL;
		rc = -ENOMEM;
		goto out;
	}
	memset(*a_to_b, 0xff, ((size_t)na + 1) * sizeof(**a_to_b));
	memset(*b_to_a, 0xff, ((size_t)nb + 1) * sizeof(**b_to_a));
	while (i < na && j < nb) {
		c = strcmp(sa[i].name, sb[j].name);
		if (c == 0) {
			(*a_to_b)[sa[i].pos] = sb[j].pos;
			(*b_to_a)[sb[j].pos] = sa[i].pos;
			i++;
			j++;
		} else if (c < 0) {
			i++;
		} else {
			j++;
		}
	}
out:
	free(sa);
	free(sb);
	return rc;
}

/* True when the names both sides have appear in a different order. */
static bool order_changed(const uint32_t *a_to_b, uint32_t na)
{
	uint32_t last = 0;
	bool seen = false;

	for (uint32_t i = 0; i < na; i++) {
		if (a_to_b[i] == UINT32_MAX)
			continue;
		if (seen && a_to_b[i] < last)
			return true;
		last = a_to_b[i];
		seen = true;
	}
	return false;
}

static const char *feed_name(const void *base, uint32_t i)
{
	return ((const struct rc_feed *)base)[i].name;
}

static const char *line_name(const void *base, uint32_t i)
{
	return ((const struct rc_line *)base)[i].name;
}

static const char *port_name(const void *base, uint32_t i)
{
	return ((const struct rc_port *)base)[i].name;
}

static const char *sub_name(const void *base, uint32_t i)
{
	return ((const struct rc_subscriber *)base)[i].name;
}

static const char *str_at(const void *base, uint32_t i)
{
	return ((char *const *)base)[i];
}

struct differ {
	struct sbuf out;
	size_t n;
	int rc;
};

static void change(struct differ *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void change(struct differ *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_vprintf(&d->out, fmt, ap);
	va_end(ap);
	sb_puts(&d->out, "\n");
	d->n++;
}

/* A value as the diff prints it: double quoted with the YAML escapes (see sb_quote_n). */
static char *quoted(const char *s, size_t n)
{
	struct sbuf b = {0};

	sb_quote_n(&b, s, n);
	return sb_finish(&b);
}

static void diff_lines(struct differ *d, const struct rc_feed *a, const struct rc_feed *b)
{
	uint32_t *a2b, *b2a;
	char x[16], y[16];

	if (match_names(a->lines, a->n_lines, b->lines, b->n_lines, line_name, &a2b, &b2a) < 0) {
		d->rc = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < a->n_lines; i++)
		if (a2b[i] == UINT32_MAX)
			change(d, "- feed %s line %s", a->name, a->lines[i].name);
	for (uint32_t j = 0; j < b->n_lines; j++) {
		const struct rc_line *lb = &b->lines[j], *la;

		if (b2a[j] == UINT32_MAX) {
			change(d, "+ feed %s line %s", b->name, lb->name);
			continue;
		}
		la = &a->lines[b2a[j]];
		if (la->group != lb->group) {
			ipv4_str(la->group, x);
			ipv4_str(lb->group, y);
			change(d, "~ feed %s line %s: group %s -> %s", b->name, lb->name, x, y);
		}
		if (la->port != lb->port)
			change(d, "~ feed %s line %s: port %u -> %u", b->name, lb->name, la->port,
			       lb->port);
	}
	if (order_changed(a2b, a->n_lines))
		change(d, "~ feed %s: lines order changed", b->name);
	free(a2b);
	free(b2a);
}

/* "none", or every field of feeds[].recovery on one line. */
static void recovery_text(const struct rc_recovery *r, char *out, size_t size)
{
	char mac[18], ip[16], src[16];

	if (!r->enabled) {
		snprintf(out, size, "none");
		return;
	}
	mac_str(r->server_mac, mac);
	ipv4_str(r->server_ip, ip);
	ipv4_str(r->source_ip, src);
	snprintf(out, size, "server %s %s:%u source %s:%u wait_us %u timeout_us %u tries %u", mac,
		 ip, r->server_port, src, r->source_port, r->wait_us, r->timeout_us, r->tries);
}

static void diff_recovery(struct differ *d, const struct rc_feed *a, const struct rc_feed *b)
{
	char x[160], y[160];

	if (recovery_equal(&a->recovery, &b->recovery))
		return;
	recovery_text(&a->recovery, x, sizeof(x));
	recovery_text(&b->recovery, y, sizeof(y));
	change(d, "~ feed %s: recovery %s -> %s", b->name, x, y);
}

static void diff_feeds(struct differ *d, const struct routing_config *from,
		       const struct routing_config *to)
{
	uint32_t *a2b, *b2a;

	if (match_names(from->feeds, from->n_feeds, to->feeds, to->n_feeds, feed_name, &a2b, &b2a) <
	    0) {
		d->rc = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < from->n_feeds; i++)
		if (a2b[i] == UINT32_MAX)
			change(d, "- feed %s", from->feeds[i].name);
	for (uint32_t j = 0; j < to->n_feeds; j++) {
		if (b2a[j] == UINT32_MAX) {
			change(d, "+ feed %s", to->feeds[j].name);
		} else {
			diff_lines(d, &from->feeds[b2a[j]], &to->feeds[j]);
			diff_recovery(d, &from->feeds[b2a[j]], &to->feeds[j]);
		}
	}
	if (order_changed(a2b, from->n_feeds))
		change(d, "~ feeds: order changed");
	free(a2b);
	free(b2a);
}

static void diff_ports(struct differ *d, const struct routing_config *from,
		       const struct routing_config *to)
{
	uint32_t *a2b, *b2a;
	char x[16], y[16];

	if (match_names(from->ports, from->n_ports, to->ports, to->n_ports, port_name, &a2b, &b2a) <
	    0) {
		d->rc = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < from->n_ports; i++)
		if (a2b[i] == UINT32_MAX)
			change(d, "- port %s", from->ports[i].name);
	for (uint32_t j = 0; j < to->n_ports; j++) {
		const struct rc_port *pb = &to->ports[j], *pa;

		if (b2a[j] == UINT32_MAX) {
			change(d, "+ port %s", pb->name);
			continue;
		}
		pa = &from->ports[b2a[j]];
		if (pa->src_ip != pb->src_ip) {
			ipv4_str(pa->src_ip, x);
			ipv4_str(pb->src_ip, y);
			change(d, "~ port %s: src_ip %s -> %s", pb->name, x, y);
		}
		if (pa->src_port != pb->src_port)
			change(d, "~ port %s: src_port %u -> %u", pb->name, pa->src_port,
			       pb->src_port);
		if (pa->retransmit_port != pb->retransmit_port ||
		    (pa->retransmit_port != 0 && pa->retransmit_rate != pb->retransmit_rate)) {
			change(d, "~ port %s: retransmit port/rate %u/%u -> %u/%u", pb->name,
			       pa->retransmit_port,
			       pa->retransmit_port != 0 ? pa->retransmit_rate : 0,
			       pb->retransmit_port,
			       pb->retransmit_port != 0 ? pb->retransmit_rate : 0);
		}
	}
	if (order_changed(a2b, from->n_ports))
		change(d, "~ ports: order changed");
	free(a2b);
	free(b2a);
}

static void diff_patterns(struct differ *d, const struct rc_subscriber *a,
			  const struct rc_subscriber *b)
{
	uint32_t *a2b, *b2a;
	char *q;

	if (match_names(a->symbols, a->n_symbols, b->symbols, b->n_symbols, str_at, &a2b, &b2a) <
	    0) {
		d->rc = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < a->n_symbols; i++) {
		if (a2b[i] != UINT32_MAX)
			continue;
		q = quoted(a->symbols[i], strlen(a->symbols[i]));
		if (q == NULL)
			d->rc = -ENOMEM;
		else
			change(d, "- subscriber %s pattern %s", b->name, q);
		free(q);
	}
	for (uint32_t j = 0; j < b->n_symbols; j++) {
		if (b2a[j] != UINT32_MAX)
			continue;
		q = quoted(b->symbols[j], strlen(b->symbols[j]));
		if (q == NULL)
			d->rc = -ENOMEM;
		else
			change(d, "+ subscriber %s pattern %s", b->name, q);
		free(q);
	}
	if (order_changed(a2b, a->n_symbols))
		change(d, "~ subscriber %s: patterns order changed", b->name);
	free(a2b);
	free(b2a);
}

static char *types_text(const struct rc_subscriber *s)
{
	char t[257];

	if (s->all_types)
		return strdup("all");
	types_str(s, t);
	return quoted(t, strlen(t));
}

static void diff_sub(struct differ *d, const struct routing_config *from,
		     const struct rc_subscriber *a, const struct routing_config *to,
		     const struct rc_subscriber *b)
{
	const char *fa = from->feeds[a->feed].name, *fb = to->feeds[b->feed].name;
	const char *pa = from->ports[a->port].name, *pb = to->ports[b->port].name;
	char x[18], y[18], *qx, *qy;

	if (strcmp(fa, fb) != 0)
		change(d, "~ subscriber %s: feed %s -> %s", b->name, fa, fb);
	if (strcmp(pa, pb) != 0)
		change(d, "~ subscriber %s: port %s -> %s", b->name, pa, pb);
	if (memcmp(a->dst_mac, b->dst_mac, sizeof(a->dst_mac)) != 0) {
		mac_str(a->dst_mac, x);
		mac_str(b->dst_mac, y);
		change(d, "~ subscriber %s: dst.mac %s -> %s", b->name, x, y);
	}
	if (a->dst_ip != b->dst_ip) {
		ipv4_str(a->dst_ip, x);
		ipv4_str(b->dst_ip, y);
		change(d, "~ subscriber %s: dst.ip %s -> %s", b->name, x, y);
	}
	if (a->dst_port != b->dst_port)
		change(d, "~ subscriber %s: dst.port %u -> %u", b->name, a->dst_port, b->dst_port);
	if (memcmp(a->session, b->session, RC_SESSION_LEN) != 0) {
		qx = quoted(a->session, session_len(a));
		qy = quoted(b->session, session_len(b));
		if (qx == NULL || qy == NULL)
			d->rc = -ENOMEM;
		else
			change(d, "~ subscriber %s: session %s -> %s", b->name, qx, qy);
		free(qx);
		free(qy);
	}
	if (!types_equal(a, b)) {
		qx = types_text(a);
		qy = types_text(b);
		if (qx == NULL || qy == NULL)
			d->rc = -ENOMEM;
		else
			change(d, "~ subscriber %s: types %s -> %s", b->name, qx, qy);
		free(qx);
		free(qy);
	}
	if (a->max_payload != b->max_payload)
		change(d, "~ subscriber %s: max_payload %u -> %u", b->name, a->max_payload,
		       b->max_payload);
	if (a->history != b->history)
		change(d, "~ subscriber %s: history %u -> %u", b->name, a->history, b->history);
	if (a->heartbeat_ms != b->heartbeat_ms)
		change(d, "~ subscriber %s: heartbeat_ms %u -> %u", b->name, a->heartbeat_ms,
		       b->heartbeat_ms);
	diff_patterns(d, a, b);
}

static void diff_subs(struct differ *d, const struct routing_config *from,
		      const struct routing_config *to)
{
	uint32_t *a2b, *b2a;

	if (match_names(from->subs, from->n_subs, to->subs, to->n_subs, sub_name, &a2b, &b2a) < 0) {
		d->rc = -ENOMEM;
		return;
	}
	for (uint32_t i = 0; i < from->n_subs; i++)
		if (a2b[i] == UINT32_MAX)
			change(d, "- subscriber %s", from->subs[i].name);
	for (uint32_t j = 0; j < to->n_subs; j++) {
		if (b2a[j] == UINT32_MAX)
			change(d, "+ subscriber %s", to->subs[j].name);
		else
			diff_sub(d, from, &from->subs[b2a[j]], to, &to->subs[j]);
	}
	if (order_changed(a2b, from->n_subs))
		change(d, "~ subscribers: order changed");
	free(a2b);
	free(b2a);
}

/*
 * Feeds, then ports, then subscribers; within each, removals in `from`'s order, then
 * additions and changes in `to`'s order, then an order change. Names are matched, not
 * positions, so one removal reads as one line, not as every later entry changed.
 */
char *table_diff(const struct routing_config *from, const struct routing_config *to,
		 size_t *n_changes)
{
	struct differ d = {.rc = 0};

	if (from == NULL || to == NULL) {
		errno = EINVAL;
		return NULL;
	}
	sb_reserve(&d.out, 0);
	diff_feeds(&d, from, to);
	diff_ports(&d, from, to);
	diff_subs(&d, from, to);
	if (d.rc < 0 || d.out.oom) {
		free(d.out.p);
		errno = ENOMEM;
		return NULL;
	}
	if (n_changes != NULL)
		*n_changes = d.n;
	return sb_finish(&d.out);
}

static struct routing_config *fail(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static struct routing_config *fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = e;
	return NULL;
}

/*
 * Parse the edited table's text. The validator's "table:LINE: " locates the problem
 * in text the operator never saw, so only "KEY: message" is passed on.
 */
static struct routing_config *edit_parse(char *text, char *err, size_t errlen)
{
	char msg[RC_ERR_LEN];
	struct routing_config *cfg;
	const char *m = msg;
	int e;

	if (text == NULL)
		return fail(err, errlen, ENOMEM, "%s: out of memory", TABLE_NAME);
	msg[0] = '\0';
	cfg = routing_config_parse(text, strlen(text), TABLE_NAME, msg, sizeof(msg));
	e = errno;
	free(text);
	if (cfg != NULL)
		return cfg;
	if (strncmp(m, TABLE_NAME ":", strlen(TABLE_NAME ":")) == 0) {
		m += strlen(TABLE_NAME ":");
		while (*m >= '0' && *m <= '9')
			m++;
		if (*m == ':')
			m++;
		while (*m == ' ')
			m++;
	}
	return fail(err, errlen, e != 0 ? e : EINVAL, "%s", m);
}

/* The scalar value of `key` in the mapping `map`, or NULL. */
static const char *map_scalar(struct yaml_doc *d, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&d->doc, pair->key);
		v = yaml_document_get_node(&d->doc, pair->value);
		if (k != NULL && v != NULL && k->type == YAML_SCALAR_NODE &&
		    v->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return (const char *)v->data.scalar.value;
	}
	return NULL;
}

struct routing_config *table_add_subscriber(const struct routing_config *cfg,
					    const char *subscriber_yaml, char *err, size_t errlen)
{
	struct edit e = no_edit;
	struct yaml_doc d;
	yaml_node_t *root;
	const char *name;
	int rc;

	if (cfg == NULL || subscriber_yaml == NULL)
		return fail(err, errlen, EINVAL, "subscriber: missing");
	/*
	 * Read the operator's text on its own first: its syntax errors then carry its own
	 * line numbers, and it must be exactly one mapping, so that it cannot add anything
	 * but one subscriber once it is placed in the table's text.
	 */
	rc = yaml_doc_load_buffer_within(&d, subscriber_yaml, strlen(subscriber_yaml), "subscriber",
					 &routing_config_yaml_limits, err, errlen);
	if (rc < 0) {
		yaml_doc_fini(&d);
		errno = -rc;
		return NULL;
	}
	root = yaml_doc_root(&d);
	if (root->type != YAML_MAPPING_NODE) {
		yaml_doc_fini(&d);
		return fail(err, errlen, EINVAL, "subscriber: expected a mapping");
	}
	/* Said here because the validator would cite a line of the generated text. */
	name = map_scalar(&d, root, "name");
	if (name != NULL && routing_config_sub_index(cfg, name) >= 0) {
		fail(err, errlen, EEXIST, "subscriber \"%s\": already exists", name);
		yaml_doc_fini(&d);
		errno = EEXIST;
		return NULL;
	}
	yaml_doc_fini(&d);
	e.add_sub_text = subscriber_yaml;
	return edit_parse(emit(cfg, &e), err, errlen);
}

struct routing_config *table_remove_subscriber(const struct routing_config *cfg, const char *name,
					       char *err, size_t errlen)
{
	struct edit e = no_edit;
	int si;

	if (cfg == NULL || name == NULL)
		return fail(err, errlen, EINVAL, "subscriber: missing");
	si = routing_config_sub_index(cfg, name);
	if (si < 0)
		return fail(err, errlen, ENOENT, "subscriber \"%s\": no such subscriber", name);
	e.skip_sub = si;
	return edit_parse(emit(cfg, &e), err, errlen);
}

static int64_t pattern_index(const struct rc_subscriber *s, const char *pattern)
{
	for (uint32_t i = 0; i < s->n_symbols; i++)
		if (strcmp(s->symbols[i], pattern) == 0)
			return i;
	return -1;
}

struct routing_config *table_add_pattern(const struct routing_config *cfg, const char *sub,
					 const char *pattern, char *err, size_t errlen)
{
	struct edit e = no_edit;
	int si;

	if (cfg == NULL || sub == NULL || pattern == NULL)
		return fail(err, errlen, EINVAL, "subscriber: missing");
	si = routing_config_sub_index(cfg, sub);
	if (si < 0)
		return fail(err, errlen, ENOENT, "subscriber \"%s\": no such subscriber", sub);
	if (pattern_index(&cfg->subs[si], pattern) >= 0)
		return fail(err, errlen, EEXIST,
			    "subscriber \"%s\": pattern \"%s\" already present", sub, pattern);
	/* Appended: the existing patterns keep their order (and so their match ids). */
	e.pat_sub = si;
	e.add_pat = pattern;
	return edit_parse(emit(cfg, &e), err, errlen);
}

struct routing_config *table_remove_pattern(const struct routing_config *cfg, const char *sub,
					    const char *pattern, char *err, size_t errlen)
{
	struct edit e = no_edit;
	int64_t pi;
	int si;

	if (cfg == NULL || sub == NULL || pattern == NULL)
		return fail(err, errlen, EINVAL, "subscriber: missing");
	si = routing_config_sub_index(cfg, sub);
	if (si < 0)
		return fail(err, errlen, ENOENT, "subscriber \"%s\": no such subscriber", sub);
	pi = pattern_index(&cfg->subs[si], pattern);
	if (pi < 0)
		return fail(err, errlen, ENOENT, "subscriber \"%s\": no pattern \"%s\"", sub,
			    pattern);
	/* docs/protocol.md §4 asks for at least one pattern; say what to do rather than quote the
	 * rule. */
	if (cfg->subs[si].n_symbols == 1)
		return fail(err, errlen, EINVAL,
			    "subscriber \"%s\": pattern \"%s\" is its only one (remove the "
			    "subscriber instead)",
			    sub, pattern);
	e.pat_sub = si;
	e.skip_pat = pi;
	return edit_parse(emit(cfg, &e), err, errlen);
}

/* ------------------------------------------------------------------ changes as operations */

char *table_emit_sub(const struct routing_config *cfg, uint32_t i, bool with_patterns)
{
	struct sbuf raw = {0}, b = {0};
	bool in_symbols = false;
	const char *p;

	emit_sub(&raw, cfg, i, &no_edit);
	if (sb_finish(&raw) == NULL)
		return NULL;
	sb_reserve(&b, raw.len);
	/* emit_sub writes one item of `subscribers`: "  - " then lines indented by 4 */
	for (p = raw.p; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		const char *line = n >= 4 ? p + 4 : p + n;
		size_t len = n >= 4 ? n - 4 : 0;

		p += n + (nl != NULL);
		if (!with_patterns) {
			if (len >= 8 && strncmp(line, "symbols:", 8) == 0) {
				in_symbols = true;
				continue;
			}
			if (in_symbols && len >= 4 && strncmp(line, "  - ", 4) == 0)
				continue;
			in_symbols = false;
		}
		sb_put(&b, line, len);
		sb_put(&b, "\n", 1);
	}
	free(raw.p);
	return sb_finish(&b);
}

void table_change_fini(struct table_change *c)
{
	for (uint32_t i = 0; i < c->n_owned; i++)
		free(c->owned[i]);
	free(c->owned);
	free(c->ops);
	free(c->diff);
	routing_config_free(c->full);
	memset(c, 0, sizeof(*c));
}

/* A copy of `s` the change owns (NULL stays NULL); false when out of memory. */
static bool own(struct table_change *c, const char *s, const char **out)
{
	char **v;

	*out = NULL;
	if (s == NULL)
		return true;
	v = realloc(c->owned, (c->n_owned + 1) * sizeof(*v));
	if (v == NULL)
		return false;
	c->owned = v;
	if ((v[c->n_owned] = strdup(s)) == NULL)
		return false;
	*out = v[c->n_owned++];
	return true;
}

/* Append an operation (copies of its strings); 0 or -ENOMEM. */
static int add_op(struct table_change *c, uint32_t kind, uint32_t pos, const char *sub,
		  const char *pattern, const char *text)
{
	struct rd_op *v = realloc(c->ops, (c->n_ops + 1) * sizeof(*v)), *op;

	if (v == NULL)
		return -ENOMEM;
	c->ops = v;
	op = &v[c->n_ops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->pos = pos;
	if (!own(c, sub, &op->sub) || !own(c, pattern, &op->pattern) || !own(c, text, &op->text))
		return -ENOMEM;
	c->n_ops++;
	return 0;
}

static int change_nomem(struct table_change *c, char *err, size_t errlen)
{
	table_change_fini(c);
	fail(err, errlen, ENOMEM, "%s: out of memory", TABLE_NAME);
	return -ENOMEM;
}

int table_change_pattern(const struct routing_config *cfg, const char *sub, const char *pattern,
			 bool add, struct table_change *c, char *err, size_t errlen)
{
	struct sbuf d = {0};
	int64_t pi = 0;
	int si;

	memset(c, 0, sizeof(*c));
	if (cfg == NULL || sub == NULL || pattern == NULL) {
		fail(err, errlen, EINVAL, "subscriber: missing");
		return -EINVAL;
	}
	si = routing_config_sub_index(cfg, sub);
	if (si < 0) {
		fail(err, errlen, ENOENT, "subscriber \"%s\": no such subscriber", sub);
		return -ENOENT;
	}
	if (!add) {
		pi = pattern_index(&cfg->subs[si], pattern);
		if (pi < 0) {
			fail(err, errlen, ENOENT, "subscriber \"%s\": no pattern \"%s\"", sub,
			     pattern);
			return -ENOENT;
		}
	}
	sb_printf(&d, "%c subscriber %s pattern ", add ? '+' : '-', sub);
	sb_quote(&d, pattern);
	sb_puts(&d, "\n");
	c->diff = sb_finish(&d);
	c->n_changes = 1;
	if (c->diff == NULL || add_op(c, add ? RD_PATTERN_ADD : RD_PATTERN_REMOVE, (uint32_t)pi,
				      sub, pattern, NULL) < 0)
		return change_nomem(c, err, errlen);
	return 0;
}

int table_change_add_subscriber(const struct routing_config *cfg, const char *subscriber_yaml,
				struct table_change *c, char *err, size_t errlen)
{
	struct routing_config view;
	struct rc_subscriber s;
	struct sbuf d = {0};
	char *text;
	int rc;

	memset(c, 0, sizeof(*c));
	if (cfg == NULL || subscriber_yaml == NULL) {
		fail(err, errlen, EINVAL, "subscriber: missing");
		return -EINVAL;
	}
	rc = rd_parse_sub(cfg, subscriber_yaml, false, &s, err, errlen);
	if (rc < 0)
		return rc;
	if (routing_config_sub_index(cfg, s.name) >= 0) {
		fail(err, errlen, EEXIST, "subscriber \"%s\": already exists", s.name);
		rd_sub_fini(&s);
		return -EEXIST;
	}
	/* recorded and sent in its canonical form */
	view = *cfg;
	view.subs = &s;
	view.n_subs = 1;
	text = table_emit_sub(&view, 0, true);
	sb_printf(&d, "+ subscriber %s\n", s.name);
	c->diff = sb_finish(&d);
	c->n_changes = 1;
	rc = text != NULL && c->diff != NULL
		 ? add_op(c, RD_SUB_ADD, cfg->n_subs, s.name, NULL, text)
		 : -ENOMEM;
	free(text);
	rd_sub_fini(&s);
	return rc < 0 ? change_nomem(c, err, errlen) : 0;
}

int table_change_remove_subscriber(const struct routing_config *cfg, const char *name,
				   struct table_change *c, char *err, size_t errlen)
{
	struct sbuf d = {0};

	memset(c, 0, sizeof(*c));
	if (cfg == NULL || name == NULL) {
		fail(err, errlen, EINVAL, "subscriber: missing");
		return -EINVAL;
	}
	if (routing_config_sub_index(cfg, name) < 0) {
		fail(err, errlen, ENOENT, "subscriber \"%s\": no such subscriber", name);
		return -ENOENT;
	}
	sb_printf(&d, "- subscriber %s\n", name);
	c->diff = sb_finish(&d);
	c->n_changes = 1;
	if (c->diff == NULL || add_op(c, RD_SUB_REMOVE, 0, name, NULL, NULL) < 0)
		return change_nomem(c, err, errlen);
	return 0;
}

/* Whether two subscribers differ in anything but their patterns. */
static bool settings_equal(const struct routing_config *ca, const struct rc_subscriber *a,
			   const struct routing_config *cb, const struct rc_subscriber *b)
{
	struct rc_subscriber x = *a;

	x.symbols = b->symbols;
	x.n_symbols = b->n_symbols;
	return sub_equal(ca, &x, cb, b);
}

/*
 * The pattern operations taking `a`'s patterns to `b`'s, when `b` is `a` with some
 * removed and some appended, in order and without repeats: removals from the last
 * index down (the indices stay right), then the appends. -EAGAIN when not so.
 */
static int pattern_ops(struct table_change *c, const struct rc_subscriber *a,
		       const struct rc_subscriber *b, uint32_t *n_patterns)
{
	uint32_t *a2b, *b2a, next = 0;
	struct name_pos *sorted;
	int rc = 0;

	/* a repeat in b: an append would repeat a pattern the subscriber holds */
	sorted = sorted_names(b->symbols, b->n_symbols, str_at);
	if (sorted == NULL)
		return -ENOMEM;
	for (uint32_t j = 1; j < b->n_symbols && rc == 0; j++)
		if (strcmp(sorted[j].name, sorted[j - 1].name) == 0)
			rc = -EAGAIN;
	free(sorted);
	if (rc < 0)
		return rc;
	if (match_names(a->symbols, a->n_symbols, b->symbols, b->n_symbols, str_at, &a2b, &b2a) < 0)
		return -ENOMEM;
	/* b = a's kept patterns in a's order, then the new ones */
	while (next < b->n_symbols && b2a[next] != UINT32_MAX)
		next++;
	for (uint32_t j = next; j < b->n_symbols && rc == 0; j++)
		if (b2a[j] != UINT32_MAX)
			rc = -EAGAIN;
	if (rc == 0 && order_changed(a2b, a->n_symbols))
		rc = -EAGAIN;
	for (uint32_t i = a->n_symbols; rc == 0 && i-- > 0;)
		if (a2b[i] == UINT32_MAX) {
			rc = add_op(c, RD_PATTERN_REMOVE, i, b->name, a->symbols[i], NULL);
			++*n_patterns;
		}
	for (uint32_t j = next; rc == 0 && j < b->n_symbols; j++) {
		rc = add_op(c, RD_PATTERN_ADD, 0, b->name, b->symbols[j], NULL);
		++*n_patterns;
	}
	free(a2b);
	free(b2a);
	return rc;
}

static bool same_patterns(const struct rc_subscriber *a, const struct rc_subscriber *b)
{
	if (a->n_symbols != b->n_symbols)
		return false;
	for (uint32_t i = 0; i < a->n_symbols; i++)
		if (strcmp(a->symbols[i], b->symbols[i]) != 0)
			return false;
	return true;
}

/* The operations taking `from` to `to`; -EAGAIN when they cannot say it or it is large. */
static int replace_ops(struct table_change *c, const struct routing_config *from,
		       const struct routing_config *to)
{
	uint32_t *a2b = NULL, *b2a = NULL, n_patterns = 0;
	int rc = 0;

	if (from->n_feeds != to->n_feeds || from->n_ports != to->n_ports)
		return -EAGAIN;
	for (uint32_t i = 0; i < from->n_feeds; i++)
		if (!feed_equal(&from->feeds[i], &to->feeds[i]))
			return -EAGAIN;
	for (uint32_t i = 0; i < from->n_ports; i++)
		if (!port_equal(&from->ports[i], &to->ports[i]))
			return -EAGAIN;
	if (match_names(from->subs, from->n_subs, to->subs, to->n_subs, sub_name, &a2b, &b2a) < 0)
		return -ENOMEM;
	if (order_changed(a2b, from->n_subs))
		rc = -EAGAIN;
	for (uint32_t i = 0; rc == 0 && i < from->n_subs; i++)
		if (a2b[i] == UINT32_MAX)
			rc = add_op(c, RD_SUB_REMOVE, 0, from->subs[i].name, NULL, NULL);
	for (uint32_t j = 0; rc == 0 && j < to->n_subs; j++) {
		const struct rc_subscriber *a, *b = &to->subs[j];
		char *text;

		if (b2a[j] == UINT32_MAX)
			continue;
		a = &from->subs[b2a[j]];
		if (!settings_equal(from, a, to, b)) {
			text = table_emit_sub(to, j, false);
			rc = text != NULL ? add_op(c, RD_SUB_SET, 0, b->name, NULL, text) : -ENOMEM;
			free(text);
		}
		/* unchanged patterns (repeats included, which the table may hold): nothing */
		if (rc == 0 && !same_patterns(a, b))
			rc = pattern_ops(c, a, b, &n_patterns);
	}
	/* joiners at their final positions, in order: the rest keep their order */
	for (uint32_t j = 0; rc == 0 && j < to->n_subs; j++) {
		char *text;

		if (b2a[j] != UINT32_MAX)
			continue;
		n_patterns += to->subs[j].n_symbols;
		text = table_emit_sub(to, j, true);
		rc =
		    text != NULL ? add_op(c, RD_SUB_ADD, j, to->subs[j].name, NULL, text) : -ENOMEM;
		free(text);
	}
	if (rc == 0 && (c->n_ops > TABLE_OPS_MAX || n_patterns > TABLE_OP_PATTERNS_MAX))
		rc = -EAGAIN;
	free(a2b);
	free(b2a);
	return rc;
}

int table_change_replace(const struct routing_config *cfg, struct routing_config *next,
			 struct table_change *c, char *err, size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->diff = table_diff(cfg, next, &c->n_changes);
	if (c->diff == NULL) {
		routing_config_free(next);
		return change_nomem(c, err, errlen);
	}
	if (c->n_changes == 0) {
		routing_config_free(next);
		return 0;
	}
	rc = replace_ops(c, cfg, next);
	if (rc == 0) {
		routing_config_free(next);
		return 0;
	}
	if (rc == -ENOMEM) {
		routing_config_free(next);
		return change_nomem(c, err, errlen);
	}
	/* said whole */
	for (uint32_t i = 0; i < c->n_owned; i++)
		free(c->owned[i]);
	free(c->owned);
	free(c->ops);
	c->owned = NULL;
	c->ops = NULL;
	c->n_owned = c->n_ops = 0;
	c->full = next;
	return 0;
}

/* ------------------------------------------------------------------ the digest by pieces */

/* The digest part of emit_sub's text for subscriber i; false when out of memory. */
static bool sub_part(const struct routing_config *cfg, uint32_t i, struct ctl_digest_part *out)
{
	struct sbuf b = {0};

	emit_sub(&b, cfg, i, &no_edit);
	if (sb_finish(&b) == NULL)
		return false;
	ctl_digest_part(b.p, b.len, out);
	free(b.p);
	return true;
}

/* The value of the pieces: head, the subscribers' line, every subscriber (emit's order). */
static void digest_total(struct table_digest *d)
{
	static const char some[] = "subscribers:\n", none[] = "subscribers: []\n";
	struct ctl_digest_part acc = d->head, line;

	if (d->n > 0)
		ctl_digest_part(some, sizeof(some) - 1, &line);
	else
		ctl_digest_part(none, sizeof(none) - 1, &line);
	ctl_digest_cat(&acc, &line);
	for (uint32_t i = 0; i < d->n; i++)
		ctl_digest_cat(&acc, &d->subs[i].part);
	d->value = ctl_digest_value(&acc);
}

void table_digest_fini(struct table_digest *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		free(d->subs[i].name);
	free(d->subs);
	memset(d, 0, sizeof(*d));
}

/* Room for n subscribers, named as cfg's. */
static int digest_alloc(struct table_digest *d, const struct routing_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->subs = calloc(cfg->n_subs + 1, sizeof(*d->subs));
	if (d->subs == NULL)
		return -ENOMEM;
	for (; d->n < cfg->n_subs; d->n++)
		if ((d->subs[d->n].name = strdup(cfg->subs[d->n].name)) == NULL) {
			table_digest_fini(d);
			return -ENOMEM;
		}
	return 0;
}

int table_digest_init(struct table_digest *d, const struct routing_config *cfg)
{
	struct sbuf b = {0};
	int rc = digest_alloc(d, cfg);

	if (rc < 0)
		return rc;
	emit_head(&b, cfg);
	if (sb_finish(&b) == NULL) {
		table_digest_fini(d);
		return -ENOMEM;
	}
	ctl_digest_part(b.p, b.len, &d->head);
	free(b.p);
	for (uint32_t i = 0; i < d->n; i++)
		if (!sub_part(cfg, i, &d->subs[i].part)) {
			table_digest_fini(d);
			return -ENOMEM;
		}
	digest_total(d);
	return 0;
}

static bool named_by(const struct rd_op *ops, uint32_t n_ops, const char *name)
{
	for (uint32_t k = 0; k < n_ops; k++)
		if (ops[k].sub != NULL && strcmp(ops[k].sub, name) == 0)
			return true;
	return false;
}

int table_digest_next(struct table_digest *out, const struct table_digest *prev,
		      const struct routing_config *cfg, const struct rd_op *ops, uint32_t n_ops)
{
	uint32_t j = 0;
	int rc = digest_alloc(out, cfg);

	if (rc < 0)
		return rc;
	out->head = prev->head; /* operations change no feed or port */
	for (uint32_t i = 0; i < out->n; i++) {
		const char *name = out->subs[i].name;
		uint32_t k = j;

		if (!named_by(ops, n_ops, name)) {
			/* the subscribers no operation names keep their order: look ahead */
			while (k < prev->n && strcmp(prev->subs[k].name, name) != 0)
				k++;
			if (k < prev->n) {
				out->subs[i].part = prev->subs[k].part;
				j = k + 1;
				continue;
			}
		}
		if (!sub_part(cfg, i, &out->subs[i].part)) {
			table_digest_fini(out);
			return -ENOMEM;
		}
	}
	digest_total(out);
	return 0;
}
