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

/*
 * The digest is a polynomial hash over the prime field of 2^61 - 1: h = sum of
 * (byte + 1) * X^(bytes after it). Unlike a running hash it composes: the digest of A then
 * B is H(A) * X^|B| + H(B), so aster-control keeps it for a table of 100 000 patterns by
 * hashing again only the subscribers a change touches (docs/control.md, "The control
 * protocol"), and the dataplane hashes an APPLY's text in one pass to the same value.
 */
#define DIGEST_P ((UINT64_C(1) << 61) - 1)
#define DIGEST_X UINT64_C(0x0ba5e1f0a7c3d2b9) /* any element of the field but 0 and 1 */

static uint64_t digest_reduce(unsigned __int128 v)
{
	uint64_t r = (uint64_t)(v & DIGEST_P) + (uint64_t)(v >> 61);

	/* v < 2^122: both halves below 2^61, r below 2P + 2 */
	if (r >= DIGEST_P)
		r -= DIGEST_P;
	if (r >= DIGEST_P)
		r -= DIGEST_P;
	return r;
}

static uint64_t digest_mul(uint64_t a, uint64_t b)
{
	return digest_reduce((unsigned __int128)a * b);
}

static uint64_t digest_pow(uint64_t x, uint64_t e)
{
	uint64_t r = 1;

	for (; e != 0; e >>= 1, x = digest_mul(x, x))
		if (e & 1)
			r = digest_mul(r, x);
	return r;
}

void ctl_digest_part(const char *text, size_t len, struct ctl_digest_part *out)
{
	uint64_t xp[9], h = 0;
	size_t i = 0;

	xp[0] = 1;
	for (int k = 1; k <= 8; k++)
		xp[k] = digest_mul(xp[k - 1], DIGEST_X);
	/* eight bytes per step: one multiplication on the dependency chain, not eight */
	for (; i + 8 <= len; i += 8) {
		unsigned __int128 sum = (unsigned __int128)h * xp[8];

		for (int k = 0; k < 8; k++)
			sum += (unsigned __int128)((uint8_t)text[i + (size_t)k] + 1u) * xp[7 - k];
		h = digest_reduce(sum);
	}
	for (; i < len; i++)
		h = digest_reduce((unsigned __int128)h * DIGEST_X + (uint8_t)text[i] + 1u);
	out->h = h;
	out->xp = digest_pow(DIGEST_X, len);
}

void ctl_digest_cat(struct ctl_digest_part *acc, const struct ctl_digest_part *b)
{
	acc->h = digest_reduce((unsigned __int128)acc->h * b->xp + b->h);
	acc->xp = digest_mul(acc->xp, b->xp);
}

uint64_t ctl_digest_value(const struct ctl_digest_part *d)
{
	/* the length (in xp) mixed in, then spread over 64 bits (splitmix64's finaliser) */
	uint64_t z = d->h ^ (d->xp * UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	z ^= z >> 31;
	return z != 0 ? z : 1;
}

uint64_t ctl_table_digest(const char *text, size_t len)
{
	struct ctl_digest_part d;

	ctl_digest_part(text, len, &d);
	return ctl_digest_value(&d);
}
