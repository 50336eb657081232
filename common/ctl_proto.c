/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "routing_delta.h"

#include <stdio.h>

/* The wire is little-endian and the socket never leaves the host: on the little-endian
 * hosts aster runs on (x86-64, arm64) the structs are already in wire order. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ctl_proto assumes a little-endian host");

size_t ctl_fixed_size(uint16_t type)
{
	switch (type) {
	case CTL_HELLO:
		return sizeof(struct ctl_hello);
	case CTL_HELLO_REPLY:
		return sizeof(struct ctl_hello_reply);
	case CTL_APPLY:
		return sizeof(struct ctl_apply);
	case CTL_APPLY_REPLY:
		return sizeof(struct ctl_apply_reply);
	case CTL_STATUS:
		return 0;
	case CTL_STATUS_REPLY:
		return sizeof(struct ctl_status_reply);
	case CTL_ERROR:
		return sizeof(struct ctl_error);
	case CTL_DELTA:
		return sizeof(struct ctl_delta);
	default:
		return SIZE_MAX;
	}
}

/* Offset of the text_len field in a fixed part, or SIZE_MAX when the type has no text. */
static size_t text_len_offset(uint16_t type)
{
	switch (type) {
	case CTL_HELLO_REPLY:
		return offsetof(struct ctl_hello_reply, text_len);
	case CTL_APPLY:
		return offsetof(struct ctl_apply, text_len);
	case CTL_APPLY_REPLY:
		return offsetof(struct ctl_apply_reply, text_len);
	case CTL_STATUS_REPLY:
		return offsetof(struct ctl_status_reply, text_len);
	case CTL_ERROR:
		return offsetof(struct ctl_error, text_len);
	case CTL_DELTA:
		return offsetof(struct ctl_delta, text_len);
	default:
		return SIZE_MAX;
	}
}

const char *ctl_type_name(uint16_t type)
{
	static const char *const names[] = {
	    [CTL_HELLO] = "HELLO",   [CTL_HELLO_REPLY] = "HELLO_REPLY",
	    [CTL_APPLY] = "APPLY",   [CTL_APPLY_REPLY] = "APPLY_REPLY",
	    [CTL_STATUS] = "STATUS", [CTL_STATUS_REPLY] = "STATUS_REPLY",
	    [CTL_ERROR] = "ERROR",   [CTL_DELTA] = "DELTA",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type] != NULL)
		return names[type];
	return "UNKNOWN";
}

int ctl_encode(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const void *fixed,
	       size_t fixed_len, const char *text, size_t text_len)
{
	struct ctl_hdr h = {
	    .magic = CTL_MAGIC,
	    .version = CTL_PROTO_VERSION,
	    .type = type,
	    .seq = seq,
	};
	size_t total = sizeof(h) + fixed_len + text_len;

	if (fixed_len != ctl_fixed_size(type) || fixed_len + text_len > CTL_MAX_PAYLOAD || total > cap)
		return -EMSGSIZE;
	if (text_len != 0 && text_len_offset(type) == SIZE_MAX)
		return -EINVAL;
	h.len = (uint32_t)(fixed_len + text_len);
	memcpy(buf, &h, sizeof(h));
	if (fixed_len != 0)
		memcpy(buf + sizeof(h), fixed, fixed_len);
	if (text_len_offset(type) != SIZE_MAX) {
		uint32_t tl = (uint32_t)text_len;

		memcpy(buf + sizeof(h) + text_len_offset(type), &tl, sizeof(tl));
	}
	if (text_len != 0)
		memcpy(buf + sizeof(h) + fixed_len, text, text_len);
	return (int)total;
}

int ctl_decode_hdr(struct ctl_hdr *h)
{
	if (h->magic != CTL_MAGIC || h->len > CTL_MAX_PAYLOAD)
		return -EPROTO;
	if (h->version != CTL_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

int ctl_decode_payload(uint16_t type, const uint8_t *payload, uint32_t len, void *fixed,
		       size_t fixed_len, const char **text, uint32_t *text_len)
{
	size_t off = text_len_offset(type);
	uint32_t tl = 0;

	if (fixed_len != ctl_fixed_size(type) || len < fixed_len)
		return -EPROTO;
	if (fixed_len != 0)
		memcpy(fixed, payload, fixed_len);
	if (off != SIZE_MAX)
		memcpy(&tl, payload + off, sizeof(tl));
	if ((uint64_t)fixed_len + tl != len)
		return -EPROTO;
	if (text != NULL)
		*text = (const char *)payload + fixed_len;
	if (text_len != NULL)
		*text_len = tl;
	return 0;
}

int ctl_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n != 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n != 0) {
		ssize_t r = read(fd, p, n);

		if (r == 0)
			return -ECONNRESET;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int ctl_send(int fd, uint16_t type, uint32_t seq, const void *fixed, size_t fixed_len,
	     const char *text, size_t text_len)
{
	size_t cap = sizeof(struct ctl_hdr) + fixed_len + text_len;
	uint8_t *buf = malloc(cap);
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	rc = ctl_encode(buf, cap, type, seq, fixed, fixed_len, text, text_len);
	if (rc >= 0)
		rc = ctl_write_all(fd, buf, (size_t)rc);
	free(buf);
	return rc < 0 ? rc : 0;
}

int ctl_recv(int fd, struct ctl_hdr *h, uint8_t **payload)
{
	int rc = read_all(fd, (uint8_t *)h, sizeof(*h));

	*payload = NULL;
	if (rc != 0)
		return rc;
	rc = ctl_decode_hdr(h);
	if (rc != 0)
		return rc;
	*payload = malloc(h->len ? h->len : 1);
	if (*payload == NULL)
		return -ENOMEM;
	rc = read_all(fd, *payload, h->len);
	if (rc != 0) {
		free(*payload);
		*payload = NULL;
	}
	return rc;
}

static size_t slen(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

uint8_t *ctl_delta_encode(const struct rd_op *ops, uint32_t n, size_t *len)
{
	size_t total = 0, off = 0;
	uint8_t *buf;

	for (uint32_t i = 0; i < n; i++)
		total += sizeof(struct ctl_delta_op) + slen(ops[i].sub) + slen(ops[i].pattern) +
			 slen(ops[i].text);
	if (total > CTL_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return NULL;
	}
	buf = malloc(total ? total : 1);
	if (buf == NULL)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		struct ctl_delta_op h = {
		    .kind = ops[i].kind,
		    .pos = ops[i].pos,
		    .sub_len = (uint32_t)slen(ops[i].sub),
		    .pattern_len = (uint32_t)slen(ops[i].pattern),
		    .text_len = (uint32_t)slen(ops[i].text),
		};

		memcpy(buf + off, &h, sizeof(h));
		off += sizeof(h);
		memcpy(buf + off, ops[i].sub, h.sub_len);
		off += h.sub_len;
		if (h.pattern_len != 0)
			memcpy(buf + off, ops[i].pattern, h.pattern_len);
		off += h.pattern_len;
		if (h.text_len != 0)
			memcpy(buf + off, ops[i].text, h.text_len);
		off += h.text_len;
	}
	*len = total;
	return buf;
}

/* A string of the record: a NUL-terminated copy at `*at` in `strings`, or NULL. */
static int take(const uint8_t *buf, size_t *off, uint32_t n, bool may_be_empty, char *strings,
		size_t *at, const char **out)
{
	*out = NULL;
	if (n == 0)
		return may_be_empty ? 0 : -EPROTO;
	if (memchr(buf + *off, '\0', n) != NULL)
		return -EPROTO;
	memcpy(strings + *at, buf + *off, n);
	strings[*at + n] = '\0';
	*out = strings + *at;
	*at += (size_t)n + 1;
	*off += n;
	return 0;
}

int ctl_delta_decode(const uint8_t *buf, uint32_t len, uint32_t n, struct rd_op **ops,
		     char **strings, char *err, size_t errlen)
{
	struct rd_op *v = NULL;
	char *str = NULL;
	size_t off = 0, at = 0;
	uint32_t i;
	int rc = 0;

	*ops = NULL;
	*strings = NULL;
	if (n > CTL_DELTA_MAX_OPS || (uint64_t)n * sizeof(struct ctl_delta_op) > len) {
		snprintf(err, errlen, "DELTA: %u operations cannot fit in %u bytes", n, len);
		return -EPROTO;
	}
	v = calloc(n ? n : 1, sizeof(*v));
	/* every string with its NUL: never more than the records' bytes plus n * 3 */
	str = malloc((size_t)len + 3u * n + 1);
	if (v == NULL || str == NULL) {
		free(v);
		free(str);
		snprintf(err, errlen, "DELTA: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct ctl_delta_op h;

		if (len - off < sizeof(h)) {
			rc = -EPROTO;
			break;
		}
		memcpy(&h, buf + off, sizeof(h));
		off += sizeof(h);
		if ((uint64_t)h.sub_len + h.pattern_len + h.text_len > len - off ||
		    h.kind < RD_SUB_ADD || h.kind > RD_PATTERN_REMOVE) {
			rc = -EPROTO;
			break;
		}
		v[i].kind = h.kind;
		v[i].pos = h.pos;
		rc = take(buf, &off, h.sub_len, false, str, &at, &v[i].sub);
		if (rc == 0)
			rc = take(buf, &off, h.pattern_len, true, str, &at, &v[i].pattern);
		if (rc == 0)
			rc = take(buf, &off, h.text_len, true, str, &at, &v[i].text);
		if (rc < 0)
			break;
	}
	if (rc == 0 && off != len)
		rc = -EPROTO;
	if (rc < 0) {
		if (i < n)
			snprintf(err, errlen, "DELTA: operation %u of %u is malformed", i + 1, n);
		else
			snprintf(err, errlen, "DELTA: %u bytes after the last operation",
				 (unsigned)(len - off));
		free(v);
		free(str);
		return rc;
	}
	*ops = v;
	*strings = str;
	return 0;
}

uint64_t ctl_table_digest(const char *text, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)text[i]) * 0x100000001b3ull;
	return h != 0 ? h : 1;
}
