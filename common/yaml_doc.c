/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libyaml document loading and key-table validation shared by the routing and
 * profile loaders. Every message is one line "FILE:LINE: KEY: message" (docs/protocol.md §4,
 * docs/conventions.md §2); lines are libyaml's 0-based marks plus one.
 */
#include "yaml_doc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

uint32_t yaml_doc_line(const yaml_node_t *node)
{
	return (uint32_t)node->start_mark.line + 1;
}

/*
 * Messages quote what the file says (names, patterns, keys): control characters in it
 * are written as \xHH, so that a message stays one line whatever the file holds.
 */
static void escape_controls(char *s, size_t size)
{
	char tmp[384 * 4];
	size_t o = 0;

	for (const char *p = s; *p != '\0' && o + 5 < sizeof(tmp); p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "\\x%02x", c);
		else
			tmp[o++] = (char)c;
	}
	if (o >= size)
		o = size - 1;
	memcpy(s, tmp, o);
	s[o] = '\0';
}

int yaml_doc_error(struct yaml_doc *d, const yaml_node_t *at, const char *key, const char *fmt, ...)
{
	char msg[384], k[128];
	va_list ap;

	if (d->failed)
		return -EINVAL;
	d->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	escape_controls(msg, sizeof(msg));
	snprintf(k, sizeof(k), "%s", key);
	escape_controls(k, sizeof(k));
	key = k;
	if (at != NULL)
		set_err(d->err, d->errlen, "%s:%" PRIu32 ": %s: %s", d->name, yaml_doc_line(at),
			key, msg);
	else
		set_err(d->err, d->errlen, "%s: %s: %s", d->name, key, msg);
	return -EINVAL;
}

static int init_doc(struct yaml_doc *d, const char *name, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->err = err;
	d->errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	d->name = strdup(name != NULL ? name : "<config>");
	if (d->name == NULL) {
		set_err(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	return 0;
}

static int syntax_error(struct yaml_doc *d, const yaml_parser_t *parser)
{
	d->failed = true;
	if (parser->error == YAML_MEMORY_ERROR) {
		set_err(d->err, d->errlen, "%s: out of memory", d->name);
		return -ENOMEM;
	}
	set_err(d->err, d->errlen, "%s:%zu: syntax error: %s", d->name,
		parser->problem_mark.line + 1,
		parser->problem != NULL ? parser->problem : "malformed YAML");
	return -EINVAL;
}

const struct yaml_doc_limits yaml_doc_small_limits = {
    .max_bytes = 1u << 20,
    .max_depth = 32,
    .max_items = 4096,
    .max_nodes = 65536,
};

/* One sequence or mapping whose end event has not come yet. */
struct open_node {
	int id;
	bool is_map;
	int key;	 /* mapping: the key node waiting for its value, 0 when none */
	uint32_t items;	 /* entries so far */
	uint64_t weight; /* nodes under it so far, itself included, aliases expanded */
	int64_t anchor;	 /* its entry in anchors, -1 when it has no anchor */
};

/* An anchored node. An alias refers to the latest anchor of its name (YAML 1.1 §3.2.2.2). */
struct anchor {
	char *name;
	int id;
	uint64_t weight; /* 0 while the node is still open: an alias to it would be a cycle */
};

struct builder {
	struct yaml_doc *d;
	const struct yaml_doc_limits *lim;
	struct open_node *stack; /* [lim->max_depth] */
	uint32_t depth;
	struct anchor *anchors;
	size_t n_anchors, anchors_cap;
	uint32_t *slots; /* name hash -> anchors index + 1; 0 = free */
	size_t slots_mask;
	uint64_t total; /* nodes built, aliases expanded */
};

static int error_at(struct yaml_doc *d, const yaml_mark_t *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int error_at(struct yaml_doc *d, const yaml_mark_t *mark, const char *fmt, ...)
{
	yaml_node_t at = {.start_mark = *mark};
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return yaml_doc_error(d, &at, "document", "%s", msg);
}

static int out_of_memory(struct yaml_doc *d)
{
	if (!d->failed)
		set_err(d->err, d->errlen, "%s: out of memory", d->name);
	d->failed = true;
	return -ENOMEM;
}

static size_t anchor_hash(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (; *name != '\0'; name++)
		h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
	return (size_t)h;
}

/* The slot for `name`: holding it, or free. */
static uint32_t *anchor_slot(const struct builder *b, const char *name)
{
	size_t i = anchor_hash(name) & b->slots_mask;

	while (b->slots[i] != 0 && strcmp(b->anchors[b->slots[i] - 1].name, name) != 0)
		i = (i + 1) & b->slots_mask;
	return &b->slots[i];
}

static const struct anchor *anchor_find(const struct builder *b, const char *name)
{
	uint32_t *slot;

	if (b->slots == NULL)
		return NULL;
	slot = anchor_slot(b, name);
	return *slot != 0 ? &b->anchors[*slot - 1] : NULL;
}

/* Record an anchor on node `id`; returns its index, or -ENOMEM. The table stays at most
 * half full, so lookups stay constant time whatever the number of anchors. */
static int64_t anchor_add(struct builder *b, const char *name, int id)
{
	if (b->n_anchors == b->anchors_cap) {
		size_t cap = b->anchors_cap ? 2 * b->anchors_cap : 16;
		struct anchor *a = realloc(b->anchors, cap * sizeof(*a));

		if (a == NULL)
			return -ENOMEM;
		b->anchors = a;
		b->anchors_cap = cap;
	}
	if (2 * (b->n_anchors + 1) > b->slots_mask) {
		size_t cap = b->slots ? 2 * (b->slots_mask + 1) : 32;
		uint32_t *old = b->slots;
		size_t old_n = b->slots ? b->slots_mask + 1 : 0;

		b->slots = calloc(cap, sizeof(*b->slots));
		if (b->slots == NULL) {
			b->slots = old;
			return -ENOMEM;
		}
		b->slots_mask = cap - 1;
		for (size_t i = 0; i < old_n; i++)
			if (old[i] != 0)
				*anchor_slot(b, b->anchors[old[i] - 1].name) = old[i];
		free(old);
	}
	b->anchors[b->n_anchors] = (struct anchor){.name = strdup(name), .id = id};
	if (b->anchors[b->n_anchors].name == NULL)
		return -ENOMEM;
	/* A later anchor of the same name replaces the earlier one. */
	*anchor_slot(b, name) = (uint32_t)(b->n_anchors + 1);
	return (int64_t)b->n_anchors++;
}

static int count_nodes(struct builder *b, uint64_t n, const yaml_mark_t *mark)
{
	b->total += n;
	if (b->total > b->lim->max_nodes)
		return error_at(b->d, mark,
				"more than %" PRIu64 " nodes (an alias counts as the nodes it "
				"stands for)",
				b->lim->max_nodes);
	return 0;
}

/* Give the node just built (or aliased) to the open collection around it. */
static int attach(struct builder *b, int id, uint64_t weight, const yaml_mark_t *mark)
{
	struct open_node *p;
	int ok;

	if (b->depth == 0)
		return 0; /* the root */
	p = &b->stack[b->depth - 1];
	p->weight += weight;
	if (p->is_map && p->key == 0) {
		p->key = id;
		return 0;
	}
	if (++p->items > b->lim->max_items)
		return error_at(b->d, mark, "a %s of more than %" PRIu32 " entries",
				p->is_map ? "mapping" : "list", b->lim->max_items);
	if (p->is_map) {
		ok = yaml_document_append_mapping_pair(&b->d->doc, p->id, p->key, id);
		p->key = 0;
	} else {
		ok = yaml_document_append_sequence_item(&b->d->doc, p->id, id);
	}
	return ok ? 0 : out_of_memory(b->d);
}

/* A node was added to the document: note where it is, count it, anchor it. */
static int added(struct builder *b, int id, const yaml_char_t *anchor, const yaml_mark_t *mark,
		 int64_t *anchor_idx)
{
	yaml_node_t *n;
	int rc;

	if (id == 0)
		return out_of_memory(b->d);
	n = yaml_document_get_node(&b->d->doc, id);
	n->start_mark = *mark;
	n->end_mark = *mark;
	rc = count_nodes(b, 1, mark);
	if (rc < 0)
		return rc;
	*anchor_idx = -1;
	if (anchor != NULL) {
		*anchor_idx = anchor_add(b, (const char *)anchor, id);
		if (*anchor_idx < 0)
			return out_of_memory(b->d);
	}
	return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	int64_t a;
	int id = yaml_document_add_scalar(&b->d->doc, ev->data.scalar.tag, ev->data.scalar.value,
					  (int)ev->data.scalar.length, ev->data.scalar.style);
	int rc = added(b, id, ev->data.scalar.anchor, &ev->start_mark, &a);

	if (rc < 0)
		return rc;
	if (a >= 0)
		b->anchors[a].weight = 1;
	return attach(b, id, 1, &ev->start_mark);
}

static int on_start(struct builder *b, const yaml_event_t *ev)
{
	bool is_map = ev->type == YAML_MAPPING_START_EVENT;
	const yaml_char_t *anchor =
	    is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	int id;
	int64_t a;
	int rc;

	if (b->depth == b->lim->max_depth)
		return error_at(b->d, &ev->start_mark, "nested deeper than %" PRIu32 " levels",
				b->lim->max_depth);
	if (is_map)
		id = yaml_document_add_mapping(&b->d->doc, ev->data.mapping_start.tag,
					       ev->data.mapping_start.style);
	else
		id = yaml_document_add_sequence(&b->d->doc, ev->data.sequence_start.tag,
						ev->data.sequence_start.style);
	rc = added(b, id, anchor, &ev->start_mark, &a);
	if (rc < 0)
		return rc;
	b->stack[b->depth++] =
	    (struct open_node){.id = id, .is_map = is_map, .weight = 1, .anchor = a};
	return 0;
}

static int on_end(struct builder *b, const yaml_event_t *ev)
{
	struct open_node n = b->stack[--b->depth];

	if (n.anchor >= 0)
		b->anchors[n.anchor].weight = n.weight;
	return attach(b, n.id, n.weight, &ev->start_mark);
}

static int on_alias(struct builder *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	const struct anchor *a = anchor_find(b, name);
	int rc;

	if (a == NULL)
		return error_at(b->d, &ev->start_mark, "alias *%.64s names no anchor", name);
	if (a->weight == 0)
		return error_at(b->d, &ev->start_mark,
				"alias *%.64s refers to a node that contains it", name);
	rc = count_nodes(b, a->weight, &ev->start_mark);
	if (rc < 0)
		return rc;
	return attach(b, a->id, a->weight, &ev->start_mark);
}

/*
 * Build the document from the parser's events, as yaml_parser_load would, checking the
 * limits at every node instead of after the whole document is in memory.
 */
static int build(struct builder *b, yaml_parser_t *parser)
{
	struct yaml_doc *d = b->d;
	bool done = false, seen_doc = false;
	yaml_event_t ev;
	int rc = 0;

	while (!done && rc == 0) {
		if (!yaml_parser_parse(parser, &ev))
			return syntax_error(d, parser);
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (seen_doc) {
				/* A second document would be silently ignored: refuse it, at the
				 * line its content starts on. */
				yaml_event_delete(&ev);
				if (!yaml_parser_parse(parser, &ev))
					return syntax_error(d, parser);
				rc = error_at(d, &ev.start_mark, "more than one YAML document");
				break;
			}
			seen_doc = true;
			if (!yaml_document_initialize(&d->doc, NULL, NULL, NULL, 1, 1))
				rc = out_of_memory(d);
			else
				d->loaded = true;
			break;
		case YAML_SCALAR_EVENT:
			rc = on_scalar(b, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			rc = on_start(b, &ev);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			rc = on_end(b, &ev);
			break;
		case YAML_ALIAS_EVENT:
			rc = on_alias(b, &ev);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default: /* stream start, document end, no event */
			break;
		}
		yaml_event_delete(&ev);
	}
	if (rc == 0 && yaml_doc_root(d) == NULL) {
		d->failed = true;
		set_err(d->err, d->errlen, "%s:1: document: empty file", d->name);
		rc = -EINVAL;
	}
	return rc;
}

static int parse(struct yaml_doc *d, const char *text, size_t len,
		 const struct yaml_doc_limits *lim)
{
	struct builder b = {.d = d, .lim = lim};
	yaml_parser_t parser;
	int rc;

	if (len > lim->max_bytes)
		return yaml_doc_error(d, NULL, "document", "%zu bytes, more than the %zu allowed",
				      len, lim->max_bytes);
	b.stack = calloc(lim->max_depth + 1, sizeof(*b.stack));
	if (b.stack == NULL || !yaml_parser_initialize(&parser)) {
		free(b.stack);
		return out_of_memory(d);
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	rc = build(&b, &parser);
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < b.n_anchors; i++)
		free(b.anchors[i].name);
	free(b.anchors);
	free(b.slots);
	free(b.stack);
	return rc;
}

int yaml_doc_load_buffer_within(struct yaml_doc *d, const char *text, size_t len, const char *name,
				const struct yaml_doc_limits *lim, char *err, size_t errlen)
{
	int rc = init_doc(d, name, err, errlen);

	if (rc < 0)
		return rc;
	return parse(d, text, len, lim);
}

int yaml_doc_load_buffer(struct yaml_doc *d, const char *text, size_t len, const char *name,
			 char *err, size_t errlen)
{
	return yaml_doc_load_buffer_within(d, text, len, name, &yaml_doc_small_limits, err, errlen);
}

int yaml_doc_load_file_within(struct yaml_doc *d, const char *path,
			      const struct yaml_doc_limits *lim, char *err, size_t errlen)
{
	size_t cap = 4096, len = 0, got;
	char *buf, *nbuf;
	struct stat st;
	FILE *f;
	int rc;

	rc = init_doc(d, path, err, errlen);
	if (rc < 0)
		return rc;
	f = fopen(path, "r");
	if (f == NULL)
		goto out_errno;
	/* Refused before reading when the size is known; a pipe is cut off past the limit. */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > lim->max_bytes) {
		fclose(f);
		return yaml_doc_error(d, NULL, "document",
				      "%" PRIu64 " bytes, more than the %zu allowed",
				      (uint64_t)st.st_size, lim->max_bytes);
	}
	buf = malloc(cap);
	if (buf == NULL)
		goto out_close;
	for (;;) {
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (len < cap) {
			/* Short read: end of file, or a read error (EISDIR for a directory). */
			if (ferror(f))
				goto out_free;
			break;
		}
		if (len > lim->max_bytes) {
			free(buf);
			fclose(f);
			return yaml_doc_error(d, NULL, "document",
					      "more than the %zu bytes allowed", lim->max_bytes);
		}
		nbuf = realloc(buf, cap * 2);
		if (nbuf == NULL)
			goto out_free;
		buf = nbuf;
		cap *= 2;
	}
	fclose(f);
	rc = parse(d, buf, len, lim);
	free(buf);
	return rc;

out_free:
	rc = errno;
	free(buf);
	errno = rc;
out_close:
	rc = errno;
	fclose(f);
	errno = rc;
out_errno:
	rc = errno != 0 ? errno : EIO;
	d->failed = true;
	set_err(err, errlen, "%s: cannot read: %s", path, strerror(rc));
	return -rc;
}

int yaml_doc_load_file(struct yaml_doc *d, const char *path, char *err, size_t errlen)
{
	return yaml_doc_load_file_within(d, path, &yaml_doc_small_limits, err, errlen);
}

void yaml_doc_fini(struct yaml_doc *d)
{
	if (d->loaded)
		yaml_document_delete(&d->doc);
	d->loaded = false;
	free(d->name);
	d->name = NULL;
}

yaml_node_t *yaml_doc_root(struct yaml_doc *d)
{
	return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

/* YAML 1.1 core schema nulls, written plainly: `key:`, `key: ~`, `key: null`. */
static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *kind_name(enum yaml_doc_kind kind)
{
	switch (kind) {
	case YAML_DOC_STR:
		return "a string";
	case YAML_DOC_INT:
		return "an integer";
	case YAML_DOC_SEQ:
		return "a list";
	case YAML_DOC_MAP:
		return "a mapping";
	}
	return "a value";
}

static int node_kind_ok(const yaml_node_t *n, enum yaml_doc_kind kind)
{
	switch (kind) {
	case YAML_DOC_STR:
	case YAML_DOC_INT:
		return n->type == YAML_SCALAR_NODE;
	case YAML_DOC_SEQ:
		return n->type == YAML_SEQUENCE_NODE;
	case YAML_DOC_MAP:
		return n->type == YAML_MAPPING_NODE;
	}
	return 0;
}

/* Decimal integer, optional leading '-', nothing else (no blanks, no 0x, no 1e3). */
static bool parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	long long v;
	char *end;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices, *bar;

	for (;;) {
		bar = strchr(p, '|');
		if ((size_t)((bar != NULL ? bar : p + strlen(p)) - p) == n && strncmp(p, v, n) == 0)
			return true;
		if (bar == NULL)
			return false;
		p = bar + 1;
	}
}

static void choices_list(const char *choices, char *buf, size_t size)
{
	size_t o = 0;

	for (const char *p = choices; *p != '\0' && o + 3 < size; p++) {
		if (*p == '|') {
			buf[o++] = ',';
			buf[o++] = ' ';
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
}

static int check_str(struct yaml_doc *d, const yaml_node_t *val, const struct yaml_doc_key *k)
{
	const char *v = (const char *)val->data.scalar.value;
	size_t len = val->data.scalar.length;
	char list[128];

	if (strlen(v) != len)
		return yaml_doc_error(d, val, k->name, "string contains a NUL character");
	/* A closed set of values: saying which ones is more useful than a length bound. */
	if (k->choices != NULL && !in_choices(k->choices, v)) {
		choices_list(k->choices, list, sizeof(list));
		return yaml_doc_error(d, val, k->name, "\"%.64s\" is not one of: %s", v, list);
	}
	if ((int64_t)len < k->min) {
		if (len == 0)
			return yaml_doc_error(d, val, k->name, "must not be empty");
		return yaml_doc_error(d, val, k->name,
				      "\"%s\" is too short (%zu characters, at least %" PRId64 ")",
				      v, len, k->min);
	}
	if ((int64_t)len > k->max)
		return yaml_doc_error(d, val, k->name,
				      "\"%.64s%s\" is too long (%zu characters, at most %" PRId64
				      ")",
				      v, len > 64 ? "..." : "", len, k->max);
	return 0;
}

/*
 * `at` is where problems are reported: the value itself for a scalar, the key for a
 * block list or mapping, whose own mark is its first item's line.
 */
static int check_at(struct yaml_doc *d, const yaml_node_t *val, const yaml_node_t *at,
		    const struct yaml_doc_key *k)
{
	int64_t iv;
	size_t n;

	if (!node_kind_ok(val, k->kind) || is_null(val))
		return yaml_doc_error(d, at, k->name, "expected %s", kind_name(k->kind));
	switch (k->kind) {
	case YAML_DOC_STR:
		return check_str(d, val, k);
	case YAML_DOC_INT:
		if (!parse_int((const char *)val->data.scalar.value, &iv))
			return yaml_doc_error(d, val, k->name, "\"%.64s\" is not an integer",
					      (const char *)val->data.scalar.value);
		if (iv < k->min || iv > k->max)
			return yaml_doc_error(d, val, k->name,
					      "%" PRId64 " is out of range %" PRId64 "..%" PRId64,
					      iv, k->min, k->max);
		return 0;
	case YAML_DOC_SEQ:
		n = yaml_doc_seq_len(val);
		if (n == 0 && k->min > 0)
			return yaml_doc_error(d, at, k->name, "must not be empty");
		if ((int64_t)n < k->min)
			return yaml_doc_error(
			    d, at, k->name, "too few items (%zu, at least %" PRId64 ")", n, k->min);
		if ((int64_t)n > k->max)
			return yaml_doc_error(
			    d, at, k->name, "too many items (%zu, at most %" PRId64 ")", n, k->max);
		return 0;
	case YAML_DOC_MAP:
		return 0;
	}
	return 0;
}

int yaml_doc_check(struct yaml_doc *d, const yaml_node_t *val, const struct yaml_doc_key *k)
{
	return check_at(d, val, val, k);
}

static void key_list(const struct yaml_doc_key *keys, size_t n, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s", i ? ", " : "", keys[i].name);
}

int yaml_doc_map(struct yaml_doc *d, yaml_node_t *map, const char *what,
		 const struct yaml_doc_key *keys, size_t n, yaml_node_t **vals,
		 yaml_node_t **keynodes)
{
	const yaml_node_t *seen[64];
	yaml_node_pair_t *pair;
	yaml_node_t *kn, *vn;
	const char *kname;
	char list[256];
	size_t i;
	int rc;

	if (n > sizeof(seen) / sizeof(seen[0]))
		return yaml_doc_error(d, map, what, "key table too large");
	for (i = 0; i < n; i++) {
		vals[i] = NULL;
		seen[i] = NULL;
		if (keynodes != NULL)
			keynodes[i] = NULL;
	}
	if (map->type != YAML_MAPPING_NODE)
		return yaml_doc_error(d, map, what, "expected a mapping");
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		kn = yaml_document_get_node(&d->doc, pair->key);
		vn = yaml_document_get_node(&d->doc, pair->value);
		if (kn == NULL || vn == NULL)
			return yaml_doc_error(d, map, what, "malformed mapping");
		if (kn->type != YAML_SCALAR_NODE)
			return yaml_doc_error(d, kn, what, "keys must be plain strings");
		kname = (const char *)kn->data.scalar.value;
		for (i = 0; i < n; i++)
			if (strcmp(kname, keys[i].name) == 0)
				break;
		if (i == n) {
			key_list(keys, n, list, sizeof(list));
			return yaml_doc_error(d, kn, kname, "unknown key (expected one of: %s)",
					      list);
		}
		if (seen[i] != NULL)
			return yaml_doc_error(d, kn, kname,
					      "duplicate key (first at line %" PRIu32 ")",
					      yaml_doc_line(seen[i]));
		seen[i] = kn;
		if (keynodes != NULL)
			keynodes[i] = kn;
		/* `key:` with no value is the same as leaving the key out. */
		if (is_null(vn))
			continue;
		rc = check_at(d, vn, vn->type == YAML_SCALAR_NODE ? vn : kn, &keys[i]);
		if (rc < 0)
			return rc;
		vals[i] = vn;
	}
	for (i = 0; i < n; i++)
		if (keys[i].required && vals[i] == NULL)
			return yaml_doc_error(d, seen[i] != NULL ? seen[i] : map, keys[i].name,
					      seen[i] != NULL ? "missing value"
							      : "missing required key");
	return 0;
}

int64_t yaml_doc_int(const yaml_node_t *val, const struct yaml_doc_key *key)
{
	int64_t v;

	if (val == NULL || !parse_int((const char *)val->data.scalar.value, &v))
		return key->def;
	return v;
}

const char *yaml_doc_str(const yaml_node_t *val, const struct yaml_doc_key *key)
{
	if (val == NULL || val->type != YAML_SCALAR_NODE)
		return key->def_str != NULL ? key->def_str : "";
	return (const char *)val->data.scalar.value;
}

size_t yaml_doc_seq_len(const yaml_node_t *seq)
{
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *yaml_doc_seq_item(struct yaml_doc *d, const yaml_node_t *seq, size_t i)
{
	if (i >= yaml_doc_seq_len(seq))
		return NULL;
	return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}
