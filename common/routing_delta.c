/* SPDX-License-Identifier: BSD-3-Clause */
/* Table changes as operations: see routing_delta.h. */
#include "routing_delta.h"
#include "yaml_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name of the text a subscriber mapping is read as; stripped from messages. */
#define RD_DOC "subscriber"

static const char *const kind_names[] = {
    [RD_SUB_ADD] = "sub+",	   [RD_SUB_REMOVE] = "sub-",	     [RD_SUB_SET] = "sub~",
    [RD_PATTERN_ADD] = "pattern+", [RD_PATTERN_REMOVE] = "pattern-",
};

const char *rd_kind_name(uint32_t kind)
{
	if (kind < sizeof(kind_names) / sizeof(kind_names[0]) && kind_names[kind] != NULL)
		return kind_names[kind];
	return "?";
}

uint32_t rd_kind_parse(const char *name)
{
	for (uint32_t k = 1; name != NULL && k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (strcmp(kind_names[k], name) == 0)
			return k;
	return 0;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void rd_sub_fini(struct rc_subscriber *s)
{
	for (uint32_t j = 0; s->symbols != NULL && j < s->n_symbols; j++)
		free(s->symbols[j]);
	free(s->symbols);
	free(s->symbol_lines);
	s->symbols = NULL;
	s->symbol_lines = NULL;
	s->n_symbols = 0;
}

/* The scalar value of `key` in the mapping `map`, or NULL. */
static const char *map_scalar(struct yaml_doc *d, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;

	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&d->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&d->doc, pair->value);

		if (k != NULL && v != NULL && k->type == YAML_SCALAR_NODE &&
		    v->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return (const char *)v->data.scalar.value;
	}
	return NULL;
}

/* "subscriber:LINE: " locates the problem in text put together here: drop it. */
static void strip_location(char *err)
{
	const char *m = err;

	if (strncmp(m, RD_DOC ":", strlen(RD_DOC ":")) != 0)
		return;
	m += strlen(RD_DOC ":");
	while (*m >= '0' && *m <= '9')
		m++;
	if (*m == ':')
		m++;
	while (*m == ' ')
		m++;
	memmove(err, m, strlen(m) + 1);
}

/*
 * The subscriber is read as the one subscriber of a small table holding its feed and
 * its port (as names; lines and addresses there are placeholders a subscriber never
 * looks at), so that routing_config_parse stays the one judge of a valid subscriber.
 */
int rd_parse_sub(const struct routing_config *cfg, const char *text, bool settings_only,
		 struct rc_subscriber *out, char *err, size_t errlen)
{
	const char *feed, *port, *name;
	struct routing_config *mini;
	struct yaml_doc d;
	size_t cap, len = 0;
	char *buf = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return fail(err, errlen, -EINVAL, "subscriber: missing");
	rc = yaml_doc_load_buffer_within(&d, text, strlen(text), RD_DOC,
					 &routing_config_yaml_limits, err, errlen);
	if (rc < 0) {
		yaml_doc_fini(&d);
		return rc;
	}
	if (yaml_doc_root(&d)->type != YAML_MAPPING_NODE) {
		yaml_doc_fini(&d);
		return fail(err, errlen, -EINVAL, "subscriber: expected a mapping");
	}
	name = map_scalar(&d, yaml_doc_root(&d), "name");
	feed = map_scalar(&d, yaml_doc_root(&d), "feed");
	port = map_scalar(&d, yaml_doc_root(&d), "port");
	if (feed != NULL && routing_config_feed_index(cfg, feed) < 0) {
		rc = fail(err, errlen, -ENOENT, "subscriber \"%s\": unknown feed \"%s\"",
			  name != NULL ? name : "", feed);
	} else if (port != NULL && routing_config_port_index(cfg, port) < 0) {
		rc = fail(err, errlen, -ENOENT, "subscriber \"%s\": unknown port \"%s\"",
			  name != NULL ? name : "", port);
	} else {
		/* existing names only: [a-z0-9_-], nothing to quote */
		cap = strlen(text) * 2 + 512;
		buf = malloc(cap);
		if (buf == NULL)
			rc = fail(err, errlen, -ENOMEM, "subscriber: out of memory");
	}
	if (buf != NULL) {
		const char *p = text;

		len = (size_t)snprintf(buf, cap,
				       "feeds: [{name: \"%s\", protocol: \"" RC_PROTOCOL_ITCH50
				       "\", lines: [{name: l, group: \"239.255.0.1\", port: 1}]}]\n"
				       "ports: [{name: \"%s\"}]\nsubscribers:\n  - ",
				       feed != NULL ? feed : "f", port != NULL ? port : "p");
		/* every line of the mapping shifted under the "  - " */
		while (*p != '\0') {
			const char *nl = strchr(p, '\n');
			size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

			if (p != text) {
				memcpy(buf + len, "    ", 4);
				len += 4;
			}
			memcpy(buf + len, p, n);
			len += n;
			buf[len++] = '\n';
			p += n + (nl != NULL);
		}
		if (settings_only)
			len += (size_t)snprintf(buf + len, cap - len, "    symbols: [\"^A$\"]\n");
		buf[len] = '\0';
	}
	yaml_doc_fini(&d);
	if (buf == NULL)
		return rc;
	mini = routing_config_parse(buf, len, RD_DOC, err, errlen);
	free(buf);
	if (mini == NULL) {
		strip_location(err);
		return -(errno != 0 ? errno : EINVAL);
	}
	*out = mini->subs[0];
	out->feed = (uint32_t)routing_config_feed_index(cfg, mini->feeds[out->feed].name);
	out->port = (uint32_t)routing_config_port_index(cfg, mini->ports[out->port].name);
	mini->subs[0].symbols = NULL;
	mini->subs[0].symbol_lines = NULL;
	mini->subs[0].n_symbols = 0;
	routing_config_free(mini);
	if (settings_only)
		rd_sub_fini(out);
	return 0;
}

/* Every field of `src` but its patterns onto `dst`. */
static void settings_copy(struct rc_subscriber *dst, const struct rc_subscriber *src)
{
	char **symbols = dst->symbols;
	uint32_t *lines = dst->symbol_lines, n = dst->n_symbols;

	*dst = *src;
	dst->symbols = symbols;
	dst->symbol_lines = lines;
	dst->n_symbols = n;
}

static int sub_index(const struct routing_config *cfg, const char *name, char *err, size_t errlen)
{
	int i = routing_config_sub_index(cfg, name);

	if (i < 0)
		return fail(err, errlen, -ENOENT, "subscriber \"%s\": no such subscriber",
			    name != NULL ? name : "");
	return i;
}

static int apply_sub_add(struct routing_config *cfg, const struct rd_op *op, struct rd_undo *u,
			 uint32_t removed, char *err, size_t errlen)
{
	struct rc_subscriber s, *v;
	int rc = rd_parse_sub(cfg, op->text, false, &s, err, errlen);

	if (rc < 0)
		return rc;
	if (routing_config_sub_index(cfg, s.name) >= 0)
		rc = fail(err, errlen, -EEXIST, "subscriber \"%s\": already exists", s.name);
	else if (op->sub != NULL && strcmp(op->sub, s.name) != 0)
		rc = fail(err, errlen, -EINVAL, "subscriber \"%s\": the mapping names \"%s\"",
			  op->sub, s.name);
	else if (op->pos > cfg->n_subs)
		rc = fail(err, errlen, -EINVAL, "subscriber \"%s\": position %u past the end (%u)",
			  s.name, op->pos, cfg->n_subs);
	else if ((v = realloc(cfg->subs, (cfg->n_subs + 2 + removed) * sizeof(*v))) == NULL)
		rc = fail(err, errlen, -ENOMEM, "subscriber \"%s\": out of memory", s.name);
	if (rc < 0) {
		rd_sub_fini(&s);
		return rc;
	}
	cfg->subs = v;
	memmove(&v[op->pos + 1], &v[op->pos], (cfg->n_subs - op->pos) * sizeof(*v));
	v[op->pos] = s;
	cfg->n_subs++;
	u->pos = op->pos;
	return 0;
}

static int apply_sub_remove(struct routing_config *cfg, const struct rd_op *op, struct rd_undo *u,
			    char *err, size_t errlen)
{
	int i = sub_index(cfg, op->sub, err, errlen);

	if (i < 0)
		return i;
	u->old = cfg->subs[i];
	u->pos = (uint32_t)i;
	memmove(&cfg->subs[i], &cfg->subs[i + 1],
		(cfg->n_subs - (uint32_t)i - 1) * sizeof(*cfg->subs));
	cfg->n_subs--;
	return 0;
}

static int apply_sub_set(struct routing_config *cfg, const struct rd_op *op, struct rd_undo *u,
			 char *err, size_t errlen)
{
	int i = sub_index(cfg, op->sub, err, errlen), rc;
	struct rc_subscriber s;

	if (i < 0)
		return i;
	rc = rd_parse_sub(cfg, op->text, true, &s, err, errlen);
	if (rc < 0)
		return rc;
	if (strcmp(s.name, op->sub) != 0)
		return fail(err, errlen, -EINVAL,
			    "subscriber \"%s\": the mapping names \"%s\" (a rename is a removal "
			    "and an addition)",
			    op->sub, s.name);
	u->old = cfg->subs[i];
	u->pos = (uint32_t)i;
	settings_copy(&cfg->subs[i], &s);
	return 0;
}

static int apply_pattern_add(struct routing_config *cfg, const struct rd_op *op, struct rd_undo *u,
			     uint32_t removed, char *err, size_t errlen)
{
	int i = sub_index(cfg, op->sub, err, errlen), rc;
	struct rc_subscriber *s;
	char msg[RC_ERR_LEN], *copy;
	char **syms;
	uint32_t *lines, room;

	if (i < 0)
		return i;
	s = &cfg->subs[i];
	if (op->pattern == NULL || op->pattern[0] == '\0')
		return fail(err, errlen, -EINVAL, "subscriber \"%s\": empty pattern", s->name);
	for (uint32_t j = 0; j < s->n_symbols; j++)
		if (strcmp(s->symbols[j], op->pattern) == 0)
			return fail(err, errlen, -EEXIST,
				    "subscriber \"%s\": pattern \"%s\" already present", s->name,
				    op->pattern);
	rc = routing_config_check_pattern(op->pattern, msg, sizeof(msg));
	if (rc < 0)
		return fail(err, errlen, rc, "subscriber \"%s\": pattern \"%s\": %s", s->name,
			    op->pattern, msg);
	copy = strdup(op->pattern);
	/* Room for the patterns that removals earlier in the list may put back when it is
	 * undone (undo_one never allocates): never shrink below what they took. */
	room = s->n_symbols + 1 + removed;
	syms = copy != NULL ? realloc(s->symbols, room * sizeof(*syms)) : NULL;
	if (syms != NULL)
		s->symbols = syms;
	lines = syms != NULL ? realloc(s->symbol_lines, room * sizeof(*lines)) : NULL;
	if (lines == NULL) {
		free(copy);
		return fail(err, errlen, -ENOMEM, "subscriber \"%s\": out of memory", s->name);
	}
	s->symbol_lines = lines;
	s->symbols[s->n_symbols] = copy;
	s->symbol_lines[s->n_symbols] = 0; /* not from a file */
	s->n_symbols++;
	u->sub = (uint32_t)i;
	return 0;
}

static int apply_pattern_remove(struct routing_config *cfg, const struct rd_op *op,
				struct rd_undo *u, char *err, size_t errlen)
{
	int i = sub_index(cfg, op->sub, err, errlen);
	struct rc_subscriber *s;

	if (i < 0)
		return i;
	s = &cfg->subs[i];
	if (op->pattern == NULL || op->pos >= s->n_symbols ||
	    strcmp(s->symbols[op->pos], op->pattern) != 0)
		return fail(err, errlen, -ENOENT, "subscriber \"%s\": no pattern \"%s\"%s", s->name,
			    op->pattern != NULL ? op->pattern : "",
			    op->pos < s->n_symbols ? " at that position" : "");
	/* docs/protocol.md §4 asks for at least one pattern; say what to do instead */
	if (s->n_symbols == 1)
		return fail(err, errlen, -EINVAL,
			    "subscriber \"%s\": pattern \"%s\" is its only one (remove the "
			    "subscriber instead)",
			    s->name, op->pattern);
	u->pattern = s->symbols[op->pos];
	u->sub = (uint32_t)i;
	u->pos = op->pos;
	memmove(&s->symbols[op->pos], &s->symbols[op->pos + 1],
		(s->n_symbols - op->pos - 1) * sizeof(*s->symbols));
	if (s->symbol_lines != NULL)
		memmove(&s->symbol_lines[op->pos], &s->symbol_lines[op->pos + 1],
			(s->n_symbols - op->pos - 1) * sizeof(*s->symbol_lines));
	s->n_symbols--;
	return 0;
}

static void undo_one(struct routing_config *cfg, struct rd_undo *u)
{
	struct rc_subscriber *s;

	switch (u->kind) {
	case RD_SUB_ADD:
		rd_sub_fini(&cfg->subs[u->pos]);
		memmove(&cfg->subs[u->pos], &cfg->subs[u->pos + 1],
			(cfg->n_subs - u->pos - 1) * sizeof(*cfg->subs));
		cfg->n_subs--;
		break;
	case RD_SUB_REMOVE:
		/* the array kept its room: removal only moved entries down */
		memmove(&cfg->subs[u->pos + 1], &cfg->subs[u->pos],
			(cfg->n_subs - u->pos) * sizeof(*cfg->subs));
		cfg->subs[u->pos] = u->old;
		cfg->n_subs++;
		memset(&u->old, 0, sizeof(u->old));
		break;
	case RD_SUB_SET:
		settings_copy(&cfg->subs[u->pos], &u->old);
		break;
	case RD_PATTERN_ADD:
		s = &cfg->subs[u->sub];
		free(s->symbols[--s->n_symbols]);
		break;
	case RD_PATTERN_REMOVE:
		/* removal left the arrays their size: there is room for it again */
		s = &cfg->subs[u->sub];
		memmove(&s->symbols[u->pos + 1], &s->symbols[u->pos],
			(s->n_symbols - u->pos) * sizeof(*s->symbols));
		if (s->symbol_lines != NULL)
			memmove(&s->symbol_lines[u->pos + 1], &s->symbol_lines[u->pos],
				(s->n_symbols - u->pos) * sizeof(*s->symbol_lines));
		s->symbols[u->pos] = u->pattern;
		if (s->symbol_lines != NULL)
			s->symbol_lines[u->pos] = 0;
		s->n_symbols++;
		u->pattern = NULL;
		break;
	}
}

static void forget_one(struct rd_undo *u)
{
	if (u->kind == RD_SUB_REMOVE)
		rd_sub_fini(&u->old);
	free(u->pattern);
}

int rd_apply_all(struct routing_config *cfg, const struct rd_op *ops, uint32_t n,
		 struct rd_undo **undo, char *err, size_t errlen)
{
	struct rd_undo *u = calloc(n ? n : 1, sizeof(*u));
	uint32_t i, sub_removed = 0, pat_removed = 0;
	int rc = 0;

	*undo = NULL;
	if (u == NULL)
		return fail(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < n && rc == 0; i++) {
		u[i].kind = ops[i].kind;
		switch (ops[i].kind) {
		case RD_SUB_ADD:
			/* room for what earlier removals may put back (undo_one never
			 * allocates) */
			rc = apply_sub_add(cfg, &ops[i], &u[i], sub_removed, err, errlen);
			break;
		case RD_SUB_REMOVE:
			rc = apply_sub_remove(cfg, &ops[i], &u[i], err, errlen);
			sub_removed++;
			break;
		case RD_SUB_SET:
			rc = apply_sub_set(cfg, &ops[i], &u[i], err, errlen);
			break;
		case RD_PATTERN_ADD:
			rc = apply_pattern_add(cfg, &ops[i], &u[i], pat_removed, err, errlen);
			break;
		case RD_PATTERN_REMOVE:
			rc = apply_pattern_remove(cfg, &ops[i], &u[i], err, errlen);
			pat_removed++;
			break;
		default:
			rc = fail(err, errlen, -EINVAL, "unknown change kind %u", ops[i].kind);
		}
	}
	if (rc < 0) {
		/* the failed one changed nothing: undo those before it */
		rd_undo_all(cfg, u, i - 1);
		return rc;
	}
	*undo = u;
	return 0;
}

void rd_undo_all(struct routing_config *cfg, struct rd_undo *undo, uint32_t n)
{
	for (uint32_t i = n; undo != NULL && i-- > 0;)
		undo_one(cfg, &undo[i]);
	rd_forget_all(undo, n);
}

void rd_forget_all(struct rd_undo *undo, uint32_t n)
{
	for (uint32_t i = 0; undo != NULL && i < n; i++)
		forget_one(&undo[i]);
	free(undo);
}
