/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_proto.h"

/* The wire is little-endian and the socket never leaves the host: on the little-endian
 * hosts aster runs on (x86-64, arm64) the structs are already in wire order. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "ctl_proto assumes a little-endian host");

static size_t fixed_size(uint16_t type)
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
	default:
		return SIZE_MAX;
	}
}

/* Offset of the text_len field in a fixed part, or SIZE_MAX when the type has no text. */
static size_t text_len_offset(uint16_t type)
{
	switch (type) {
	case CTL_APPLY:
		return offsetof(struct ctl_apply, text_len);
	case CTL_APPLY_REPLY:
		return offsetof(struct ctl_apply_reply, text_len);
	case CTL_STATUS_REPLY:
		return offsetof(struct ctl_status_reply, text_len);
	case CTL_ERROR:
		return offsetof(struct ctl_error, text_len);
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
	    [CTL_ERROR] = "ERROR",
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

	if (fixed_len != fixed_size(type) || fixed_len + text_len > CTL_MAX_PAYLOAD || total > cap)
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

	if (fixed_len != fixed_size(type) || len < fixed_len)
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
