/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the control-protocol decoder (common/ctl_proto.c,
 * docs/control.md "The control protocol"). The input is a byte stream as a peer would
 * send it on the dataplane's control socket:
 *  - decoded message by message in memory: a header that passes ctl_decode_hdr and a
 *    payload that passes ctl_decode_payload must encode back (ctl_encode) to exactly the
 *    bytes received, with the text inside the payload;
 *  - received with ctl_recv from a real socket pair, the stream ending where the input
 *    does: every message is taken whole or refused, never read past its end.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "fuzz.h"

static void decode_stream(const uint8_t *data, size_t size)
{
	static uint8_t again[16 + 4096 + 64];

	while (size >= sizeof(struct ctl_hdr)) {
		union {
			struct ctl_hello hello;
			struct ctl_hello_reply hello_reply;
			struct ctl_apply apply;
			struct ctl_apply_reply apply_reply;
			struct ctl_status_reply status_reply;
			struct ctl_error error;
		} fixed;
		struct ctl_hdr h;
		const char *text = NULL;
		uint32_t text_len = 0;
		size_t fl;
		int n;

		memcpy(&h, data, sizeof(h));
		if (ctl_decode_hdr(&h) != 0)
			return;
		CHECK(h.len <= CTL_MAX_PAYLOAD);
		if (h.len > size - sizeof(h))
			return;
		fl = ctl_fixed_size(h.type);
		if (fl == SIZE_MAX)
			fl = 0; /* an unknown type: refused whatever its fixed part */
		if (ctl_decode_payload(h.type, data + sizeof(h), h.len, &fixed, fl, &text,
				       &text_len) == 0) {
			CHECK(fl + text_len == h.len);
			CHECK((const uint8_t *)text == data + sizeof(h) + fl);
			if (sizeof(h) + h.len <= sizeof(again)) {
				n = ctl_encode(again, sizeof(again), h.type, h.seq, &fixed, fl,
					       text, text_len);
				CHECK(n == (int)(sizeof(h) + h.len));
				CHECK(memcmp(again, data, (size_t)n) == 0);
			}
		}
		data += sizeof(h) + h.len;
		size -= sizeof(h) + h.len;
	}
}

static void recv_stream(const uint8_t *data, size_t size)
{
	int sv[2];

	/* The socket's buffer holds what libFuzzer's default -max_len gives. */
	if (size > 65536)
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	CHECK(ctl_write_all(sv[1], data, size) == 0);
	close(sv[1]);
	for (;;) {
		struct ctl_hdr h;
		uint8_t *payload;
		int rc = ctl_recv(sv[0], &h, &payload);

		if (rc != 0) {
			CHECK(payload == NULL);
			CHECK(rc == -ECONNRESET || rc == -EPROTO || rc == -EPROTONOSUPPORT ||
			      rc == -ENOMEM);
			break;
		}
		CHECK(h.len <= CTL_MAX_PAYLOAD);
		free(payload);
	}
	close(sv[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_stream(data, size);
	recv_stream(data, size);
	return 0;
}
