/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control <-> dataplane wire format (common/ctl_proto.h, docs/control.md): the
 * bytes of each message as the protocol table describes them, written out here by hand,
 * round trips of every type, and every way a header or payload is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../common/ctl_proto.h"
#include "../../common/routing_delta.h"

static uint8_t buf[4096];

/* HELLO, seq 7, pid 0x1234, client "aster-control": the bytes on the wire. */
Test(ctl_proto, hello_bytes)
{
	struct ctl_hello h = {.proto_version = CTL_PROTO_VERSION, .pid = 0x1234};
	static const uint8_t want_hdr[16] = {
	    'A', 'S', 'T', 'R', /* magic 0x52545341 little-endian */
	    3,	 0,		/* version 3 */
	    1,	 0,		/* type HELLO */
	    7,	 0,   0,   0,	/* seq */
	    40,	 0,   0,   0,	/* len: the 40-byte fixed part */
	};

	strcpy(h.client, "aster-control");
	cr_assert_eq(ctl_encode(buf, sizeof(buf), CTL_HELLO, 7, &h, sizeof(h), NULL, 0), 56);
	cr_expect_arr_eq(buf, want_hdr, sizeof(want_hdr));
	cr_expect_eq(buf[16], CTL_PROTO_VERSION, "proto_version");
	cr_expect_eq(buf[20], 0x34);
	cr_expect_eq(buf[21], 0x12, "pid little-endian");
	cr_expect_str_eq((const char *)buf + 24, "aster-control");
}

/* APPLY carries its text length in the fixed part, filled in by the encoder. */
Test(ctl_proto, apply_round_trip)
{
	const char *yaml = "feeds: []\nports: []\nsubscribers: []\n";
	struct ctl_apply a = {.table_version = 0x0102030405060708ull, .flags = CTL_APPLY_DRY_RUN};
	struct ctl_apply got;
	struct ctl_hdr h;
	const char *text;
	uint32_t text_len;
	int n = ctl_encode(buf, sizeof(buf), CTL_APPLY, 99, &a, sizeof(a), yaml, strlen(yaml));

	cr_assert_eq(n, (int)(16 + sizeof(a) + strlen(yaml)));
	cr_expect_eq(buf[16], 0x08, "table_version little-endian");
	cr_expect_eq(buf[23], 0x01);
	cr_expect_eq(buf[28], strlen(yaml), "text_len at offset 12 of the fixed part");
	memcpy(&h, buf, sizeof(h));
	cr_assert_eq(ctl_decode_hdr(&h), 0);
	cr_expect_eq(h.type, CTL_APPLY);
	cr_expect_eq(h.seq, 99);
	cr_expect_eq(h.len, sizeof(a) + strlen(yaml));
	cr_assert_eq(
	    ctl_decode_payload(CTL_APPLY, buf + 16, h.len, &got, sizeof(got), &text, &text_len), 0);
	cr_expect_eq(got.table_version, a.table_version);
	cr_expect_eq(got.flags, CTL_APPLY_DRY_RUN);
	cr_expect_eq(text_len, strlen(yaml));
	cr_expect(memcmp(text, yaml, text_len) == 0);
}

Test(ctl_proto, every_type_round_trips)
{
	struct ctl_hello_reply hr = {.proto_version = 1, .boot_id = 42, .table_version = 3};
	struct ctl_apply_reply ar = {.status = -EINVAL, .table_version = 3, .build_ns = 5};
	struct ctl_status_reply sr = {.table_version = 9, .boot_id = 42};
	struct ctl_error er = {.status = -EPROTONOSUPPORT};
	const struct {
		uint16_t type;
		const void *fixed;
		size_t fixed_len;
		const char *text;
	} cases[] = {
	    {CTL_HELLO_REPLY, &hr, sizeof(hr), NULL},
	    {CTL_APPLY_REPLY, &ar, sizeof(ar), "routing.yaml:3: feeds: bad"},
	    {CTL_STATUS, NULL, 0, NULL},
	    {CTL_STATUS_REPLY, &sr, sizeof(sr), "{\"feeds\": {}}"},
	    {CTL_ERROR, &er, sizeof(er), "protocol version 2 not supported"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t tl = cases[i].text ? strlen(cases[i].text) : 0;
		uint8_t fixed[64];
		struct ctl_hdr h;
		const char *text;
		uint32_t text_len;
		int n = ctl_encode(buf, sizeof(buf), cases[i].type, (uint32_t)i, cases[i].fixed,
				   cases[i].fixed_len, cases[i].text, tl);

		cr_assert_eq(n, (int)(16 + cases[i].fixed_len + tl), "%s",
			     ctl_type_name(cases[i].type));
		memcpy(&h, buf, sizeof(h));
		cr_assert_eq(ctl_decode_hdr(&h), 0);
		cr_assert_eq(ctl_decode_payload(h.type, buf + 16, h.len, fixed, cases[i].fixed_len,
						&text, &text_len),
			     0, "%s", ctl_type_name(h.type));
		cr_expect_eq(text_len, tl);
		if (cases[i].fixed_len != 0)
			/* the same fixed part back, text_len now filled in */
			cr_expect_eq(memcmp(fixed, buf + 16, cases[i].fixed_len), 0);
		if (tl != 0)
			cr_expect(memcmp(text, cases[i].text, tl) == 0);
	}
	cr_expect_str_eq(ctl_type_name(CTL_STATUS_REPLY), "STATUS_REPLY");
	cr_expect_str_eq(ctl_type_name(0), "UNKNOWN");
	cr_expect_str_eq(ctl_type_name(200), "UNKNOWN");
}

/* A peer speaking another protocol version: refused as such, not as garbage. */
Test(ctl_proto, version_mismatch)
{
	struct ctl_hdr h = {.magic = CTL_MAGIC,
			    .version = CTL_PROTO_VERSION + 1,
			    .type = CTL_HELLO,
			    .len = sizeof(struct ctl_hello)};

	cr_expect_eq(ctl_decode_hdr(&h), -EPROTONOSUPPORT);
	h.version = 0;
	cr_expect_eq(ctl_decode_hdr(&h), -EPROTONOSUPPORT);
}

Test(ctl_proto, bad_headers)
{
	struct ctl_hdr h = {.magic = CTL_MAGIC, .version = CTL_PROTO_VERSION, .type = CTL_STATUS};

	cr_expect_eq(ctl_decode_hdr(&h), 0);
	h.magic = 0x41535452; /* "ASTR" read big-endian: a byte-swapped peer */
	cr_expect_eq(ctl_decode_hdr(&h), -EPROTO);
	h.magic = CTL_MAGIC;
	h.len = CTL_MAX_PAYLOAD + 1;
	cr_expect_eq(ctl_decode_hdr(&h), -EPROTO, "over the payload limit");
	h.len = CTL_MAX_PAYLOAD;
	cr_expect_eq(ctl_decode_hdr(&h), 0);
}

Test(ctl_proto, bad_payloads)
{
	struct ctl_apply a = {.table_version = 1}, got;
	int n = ctl_encode(buf, sizeof(buf), CTL_APPLY, 1, &a, sizeof(a), "abc", 3);
	uint32_t len = (uint32_t)n - 16;

	cr_assert_gt(n, 0);
	cr_expect_eq(ctl_decode_payload(CTL_APPLY, buf + 16, len, &got, sizeof(got), NULL, NULL),
		     0);
	/* shorter than its fixed part */
	cr_expect_eq(
	    ctl_decode_payload(CTL_APPLY, buf + 16, sizeof(a) - 1, &got, sizeof(got), NULL, NULL),
	    -EPROTO);
	/* text_len disagrees with the payload: one byte missing, one byte extra */
	cr_expect_eq(
	    ctl_decode_payload(CTL_APPLY, buf + 16, len - 1, &got, sizeof(got), NULL, NULL),
	    -EPROTO);
	cr_expect_eq(
	    ctl_decode_payload(CTL_APPLY, buf + 16, len + 1, &got, sizeof(got), NULL, NULL),
	    -EPROTO);
	/* the caller expects another type's fixed part */
	cr_expect_eq(
	    ctl_decode_payload(CTL_APPLY, buf + 16, len, &got, sizeof(got) - 8, NULL, NULL),
	    -EPROTO);
	/* a type with no text may not carry any */
	cr_expect_eq(ctl_decode_payload(CTL_STATUS, buf + 16, 1, NULL, 0, NULL, NULL), -EPROTO);
	cr_expect_eq(ctl_decode_payload(99, buf + 16, len, &got, sizeof(got), NULL, NULL), -EPROTO,
		     "unknown type");
}

Test(ctl_proto, encode_limits)
{
	struct ctl_hello h = {0};

	cr_expect_eq(ctl_encode(buf, 55, CTL_HELLO, 1, &h, sizeof(h), NULL, 0), -EMSGSIZE,
		     "buffer one byte short");
	cr_expect_eq(ctl_encode(buf, sizeof(buf), CTL_HELLO, 1, &h, sizeof(h) - 1, NULL, 0),
		     -EMSGSIZE, "wrong fixed size for the type");
	cr_expect_eq(ctl_encode(buf, sizeof(buf), CTL_HELLO, 1, &h, sizeof(h), "x", 1), -EINVAL,
		     "HELLO carries no text");
	cr_expect_eq(ctl_encode(buf, sizeof(buf), 0, 1, NULL, 0, NULL, 0), -EMSGSIZE,
		     "unknown type");
}

/* Over a real socket: a message split in any way arrives whole; EOF is a reset. */
Test(ctl_proto, send_recv_socketpair)
{
	int sv[2];
	struct ctl_status_reply sr = {.table_version = 12, .boot_id = 77}, got;
	const char *json = "{\"feeds\": {\"itch\": {\"packets\": 1}}}";
	struct ctl_hdr h;
	uint8_t *payload = NULL;
	const char *text;
	uint32_t text_len;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(ctl_send(sv[0], CTL_STATUS_REPLY, 5, &sr, sizeof(sr), json, strlen(json)), 0);
	cr_assert_eq(ctl_recv(sv[1], &h, &payload), 0);
	cr_expect_eq(h.type, CTL_STATUS_REPLY);
	cr_expect_eq(h.seq, 5);
	cr_assert_eq(
	    ctl_decode_payload(h.type, payload, h.len, &got, sizeof(got), &text, &text_len), 0);
	cr_expect_eq(got.table_version, 12);
	cr_expect_eq(got.boot_id, 77);
	cr_expect_eq(text_len, strlen(json));
	free(payload);

	/* a header in two writes, then the peer goes away mid-payload */
	int n =
	    ctl_encode(buf, sizeof(buf), CTL_STATUS_REPLY, 6, &sr, sizeof(sr), json, strlen(json));
	cr_assert_eq(write(sv[0], buf, 5), 5);
	cr_assert_eq(write(sv[0], buf + 5, 20), 20);
	close(sv[0]);
	payload = NULL;
	cr_expect_eq(ctl_recv(sv[1], &h, &payload), -ECONNRESET);
	free(payload);
	cr_expect_lt(25, n);
	close(sv[1]);
}

/* DELTA (protocol 2): a change as operation records after a 40-byte fixed part. */
Test(ctl_proto, delta_round_trip)
{
	const struct rd_op ops[] = {
	    {.kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = "^(A|B)[0-9]$"},
	    {.kind = RD_PATTERN_REMOVE, .pos = 3, .sub = "alpha", .pattern = "x #y"},
	    {.kind = RD_SUB_ADD, .pos = 2, .sub = "beta", .text = "name: beta\nfeed: itch\n"},
	    {.kind = RD_SUB_REMOVE, .sub = "gamma"},
	};
	struct ctl_delta d = {.base_version = 41, .table_version = 42, .table_digest = 43, .n_ops = 4},
			 back;
	size_t len;
	uint8_t *rec = ctl_delta_encode(ops, 4, &len);
	const char *text;
	uint32_t text_len;
	struct rd_op *got;
	char *strings, err[128];
	int n;

	cr_assert_not_null(rec);
	cr_expect_eq(len, 4 * sizeof(struct ctl_delta_op) + 5 + 12 + 5 + 4 + 4 + 22 + 5);
	n = ctl_encode(buf, sizeof(buf), CTL_DELTA, 9, &d, sizeof(d), (const char *)rec, len);
	cr_assert_eq(n, (int)(16 + 40 + len));
	cr_expect_eq(buf[6], CTL_DELTA);
	cr_expect_eq(buf[16], 41, "base_version little-endian first");
	cr_expect_eq(buf[24], 42);
	cr_expect_eq(buf[32], 43, "table_digest");
	cr_expect_eq(buf[16 + 28], 4, "n_ops");
	cr_assert_eq(ctl_decode_payload(CTL_DELTA, buf + 16, (uint32_t)(n - 16), &back,
					sizeof(back), &text, &text_len),
		     0);
	cr_expect_eq(back.table_version, 42);
	cr_expect_eq(back.table_digest, 43);
	cr_expect_eq(text_len, len);
	cr_assert_eq(ctl_delta_decode((const uint8_t *)text, text_len, back.n_ops, &got, &strings,
				      err, sizeof(err)),
		     0, "%s", err);
	for (int i = 0; i < 4; i++) {
		cr_expect_eq(got[i].kind, ops[i].kind);
		cr_expect_eq(got[i].pos, ops[i].pos);
		cr_expect_str_eq(got[i].sub, ops[i].sub);
		if (ops[i].pattern != NULL)
			cr_expect_str_eq(got[i].pattern, ops[i].pattern);
		else
			cr_expect_null(got[i].pattern);
		if (ops[i].text != NULL)
			cr_expect_str_eq(got[i].text, ops[i].text);
		else
			cr_expect_null(got[i].text);
	}
	free(got);
	free(strings);
	free(rec);
}

Test(ctl_proto, delta_malformed_records_refused)
{
	const struct rd_op op = {.kind = RD_PATTERN_ADD, .sub = "alpha", .pattern = "^MS"};
	size_t len;
	uint8_t *rec = ctl_delta_encode(&op, 1, &len), bad[64];
	struct rd_op *got;
	char *strings, err[128];

	cr_assert_not_null(rec);
	/* truncated, one more claimed, bytes left over */
	cr_expect_eq(ctl_delta_decode(rec, (uint32_t)len - 1, 1, &got, &strings, err, sizeof(err)),
		     -EPROTO);
	cr_expect_str_eq(err, "DELTA: operation 1 of 1 is malformed");
	cr_expect_eq(ctl_delta_decode(rec, (uint32_t)len, 2, &got, &strings, err, sizeof(err)),
		     -EPROTO);
	memcpy(bad, rec, len);
	bad[len] = 'x';
	cr_expect_eq(ctl_delta_decode(bad, (uint32_t)len + 1, 1, &got, &strings, err, sizeof(err)),
		     -EPROTO);
	cr_expect_str_eq(err, "DELTA: 1 bytes after the last operation");
	/* a NUL inside a name; an unknown kind; no subscriber */
	memcpy(bad, rec, len);
	bad[sizeof(struct ctl_delta_op) + 1] = '\0';
	cr_expect_eq(ctl_delta_decode(bad, (uint32_t)len, 1, &got, &strings, err, sizeof(err)),
		     -EPROTO);
	memcpy(bad, rec, len);
	bad[0] = 77;
	cr_expect_eq(ctl_delta_decode(bad, (uint32_t)len, 1, &got, &strings, err, sizeof(err)),
		     -EPROTO);
	memcpy(bad, rec, len);
	bad[8] = 0;
	cr_expect_eq(ctl_delta_decode(bad, (uint32_t)len, 1, &got, &strings, err, sizeof(err)),
		     -EPROTO);
	cr_expect_eq(
	    ctl_delta_decode(rec, (uint32_t)len, 1u << 30, &got, &strings, err, sizeof(err)),
	    -EPROTO);
	free(rec);
}

/* HELLO_REPLY carries the dataplane's limits as text, its text_len in the fixed part. */
Test(ctl_proto, hello_reply_with_limits)
{
	const char *limits = "{\"max_subscribers\":64,\"output_ports\":[\"out0\"]}";
	struct ctl_hello_reply r = {.proto_version = CTL_PROTO_VERSION, .table_digest = 0xabcdef};
	struct ctl_hello_reply got;
	const char *text;
	uint32_t text_len;
	int n =
	    ctl_encode(buf, sizeof(buf), CTL_HELLO_REPLY, 1, &r, sizeof(r), limits, strlen(limits));

	cr_assert_eq(n, (int)(16 + 48 + strlen(limits)));
	cr_expect_eq(buf[16 + 40], strlen(limits), "text_len at offset 40 of the fixed part");
	cr_assert_eq(ctl_decode_payload(CTL_HELLO_REPLY, buf + 16, (uint32_t)(n - 16), &got,
					sizeof(got), &text, &text_len),
		     0);
	cr_expect_eq(got.table_digest, 0xabcdef);
	cr_expect_eq(text_len, strlen(limits));
	cr_expect(memcmp(text, limits, text_len) == 0);
}

/* Never 0 (0 means "no table"); tells texts apart, a byte or a length; and composes: the
 * digest of a text cut anywhere into pieces, joined with ctl_digest_cat, is the digest
 * of the whole (what aster-control relies on after a delta). */
Test(ctl_proto, table_digest)
{
	char text[2000];
	uint32_t seed = 12345;

	cr_expect_neq(ctl_table_digest("", 0), 0);
	cr_expect_neq(ctl_table_digest("a", 1), ctl_table_digest("b", 1));
	cr_expect_neq(ctl_table_digest("a", 1), ctl_table_digest("a\0", 2));
	cr_expect_neq(ctl_table_digest("feeds: []\n", 10), ctl_table_digest("feeds: []\n ", 11));
	cr_expect_neq(ctl_table_digest("ab", 2), ctl_table_digest("ba", 2));
	for (size_t i = 0; i < sizeof(text); i++) {
		seed = seed * 1103515245u + 12345u;
		text[i] = (char)(seed >> 16);
	}
	for (int round = 0; round < 200; round++) {
		struct ctl_digest_part acc = {0, 1}, piece;
		size_t at = 0, len;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 8) % sizeof(text);
		while (at < len) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = (seed >> 8) % 40;
			if (n > len - at)
				n = len - at;
			ctl_digest_part(text + at, n, &piece);
			ctl_digest_cat(&acc, &piece);
			at += n;
		}
		cr_assert_eq(ctl_digest_value(&acc), ctl_table_digest(text, len),
			     "round %d: %zu bytes in pieces", round, len);
	}
	/* one byte changed anywhere changes the digest */
	for (size_t i = 0; i < 64; i++) {
		uint64_t d = ctl_table_digest(text, 64);

		text[i] ^= 0x20;
		cr_expect_neq(ctl_table_digest(text, 64), d, "byte %zu", i);
		text[i] ^= 0x20;
	}
}
