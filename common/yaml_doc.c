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

int yaml_doc_error(struct yaml_doc *d, const yaml_node_t *at, const char *key, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (d->failed)
		return -EINVAL;
	d->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
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

static int parse(struct yaml_doc *d, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	yaml_node_t *node;
	int rc = 0;

	if (!yaml_parser_initialize(&parser)) {
		set_err(d->err, d->errlen, "%s: out of memory", d->name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &d->doc)) {
		rc = syntax_error(d, &parser);
		goto out_parser;
	}
	d->loaded = true;
	if (yaml_document_get_root_node(&d->doc) == NULL) {
		d->failed = true;
		set_err(d->err, d->errlen, "%s:1: document: empty file", d->name);
		rc = -EINVAL;
		goto out_parser;
	}
	/* A second document would be silently ignored by yaml_parser_load: refuse it. */
	if (!yaml_parser_load(&parser, &extra)) {
		rc = syntax_error(d, &parser);
		goto out_parser;
	}
	node = yaml_document_get_root_node(&extra);
	if (node != NULL)
		rc = yaml_doc_error(d, node, "document", "more than one YAML document");
	yaml_document_delete(&extra);
out_parser:
	yaml_parser_delete(&parser);
	return rc;
}

int yaml_doc_load_buffer(struct yaml_doc *d, const char *text, size_t len, const char *name,
			 char *err, size_t errlen)
{
	int rc = init_doc(d, name, err, errlen);

	if (rc < 0)
		return rc;
	return parse(d, text, len);
}

int yaml_doc_load_file(struct yaml_doc *d, const char *path, char *err, size_t errlen)
{
	size_t cap = 4096, len = 0, got;
	char *buf, *nbuf;
	FILE *f;
	int rc;

	rc = init_doc(d, path, err, errlen);
	if (rc < 0)
		return rc;
	f = fopen(path, "r");
	if (f == NULL)
		goto out_errno;
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
		nbuf = realloc(buf, cap * 2);
		if (nbuf == NULL)
			goto out_free;
		buf = nbuf;
		cap *= 2;
	}
	fclose(f);
	rc = parse(d, buf, len);
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
