/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control <-> dataplane wire format, over a Unix stream socket that
 * aster-dataplane listens on and aster-control connects to.
 *
 * Every message is a 16-byte header followed by `len` payload bytes: a fixed part
 * (one of the structs below, by type) then, for some types, text (YAML or JSON) or the
 * encoded operations of a delta. All integers little-endian, fixed width; no pointers,
 * bools, enums or size_t on the wire. A connection starts with HELLO, whose
 * proto_version the dataplane checks (a mismatch, e.g. an aster-control of protocol 2,
 * is answered with ERROR "protocol version 2 not supported, this dataplane speaks 3"
 * and the connection closed); its reply says what the dataplane can take (limits JSON)
 * and what is in force (version and digest). Every reply echoes the seq of its request.
 *
 * Version 2 (docs/control.md, "Changes as deltas", "The control protocol") adds DELTA:
 * a change as the operations it is made of (common/routing_delta.h), applied to the
 * table in force when that table is the version the delta was made from; the whole
 * table (APPLY) stays for a dataplane that just said HELLO, one at another version, and
 * large changes. It also adds the dataplane's limits to HELLO_REPLY and the digest of
 * the table in force to HELLO_REPLY and STATUS_REPLY.
 *
 * Version 3 keeps every message of version 2 and changes what table_digest is: a hash
 * that composes (ctl_table_digest), so that aster-control sends every change as a DELTA
 * with the digest of the table it makes without rendering the whole table. Peers of
 * version 2 would compute another digest and see drift forever: they are refused at
 * HELLO like any other version.
 */
#ifndef ASTER_CTL_PROTO_H
#define ASTER_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define CTL_MAGIC	  0x52545341u /* "ASTR" as bytes on the wire */
#define CTL_PROTO_VERSION 3u
#define CTL_MAX_PAYLOAD	  (64u << 20) /* a routing table of 100 000+ patterns fits */
#define CTL_NAME_LEN	  32

enum ctl_type {
	CTL_HELLO = 1,	     /* control -> dataplane: struct ctl_hello */
	CTL_HELLO_REPLY = 2, /* dataplane -> control: struct ctl_hello_reply */
	CTL_APPLY =
	    3, /* control -> dataplane: struct ctl_apply + routing YAML (docs/protocol.md §4) */
	CTL_APPLY_REPLY = 4,  /* dataplane -> control: struct ctl_apply_reply + error text */
	CTL_STATUS = 5,	      /* control -> dataplane: no payload */
	CTL_STATUS_REPLY = 6, /* dataplane -> control: struct ctl_status_reply + stats JSON */
	CTL_ERROR = 7,	      /* dataplane -> control: struct ctl_error + text; then close */
	CTL_DELTA = 8,	      /* control -> dataplane: struct ctl_delta + operations;
			       * answered with CTL_APPLY_REPLY */
};

struct ctl_hdr {
	uint32_t magic;
	uint16_t version; /* CTL_PROTO_VERSION */
	uint16_t type;	  /* enum ctl_type */
	uint32_t seq;	  /* chosen by the requester, echoed in the reply */
	uint32_t len;	  /* payload bytes after this header */
};
_Static_assert(sizeof(struct ctl_hdr) == 16, "ctl_hdr is 16 bytes on the wire");

struct ctl_hello {
	uint32_t proto_version;
	uint32_t pid;
	char client[CTL_NAME_LEN]; /* NUL padded, e.g. "aster-control" */
};
_Static_assert(sizeof(struct ctl_hello) == 40, "ctl_hello size");

struct ctl_hello_reply {
	uint32_t proto_version;
	uint32_t pid;
	uint64_t boot_id;	/* differs at every dataplane start */
	uint64_t table_version; /* in force now; 0 = none / from a local file */
	uint64_t started_ns;	/* CLOCK_REALTIME at start */
	uint64_t table_digest;	/* ctl_table_digest of the table in force; 0 = none */
	uint32_t text_len;	/* limits JSON that follows (docs/control.md); 0 = none said */
	uint32_t reserved;
};
_Static_assert(sizeof(struct ctl_hello_reply) == 48, "ctl_hello_reply size");

#define CTL_APPLY_DRY_RUN 0x1u /* build and validate, do not publish */

struct ctl_apply {
	uint64_t table_version; /* the version this table becomes */
	uint32_t flags;		/* CTL_APPLY_* */
	uint32_t text_len;	/* YAML bytes that follow */
};
_Static_assert(sizeof(struct ctl_apply) == 16, "ctl_apply size");

/*
 * A change to the table in force. Refused (-ESTALE, the table unchanged) unless the
 * dataplane's table is `base_version`; aster-control then pushes the whole table. The
 * operations follow as `n_ops` records, each a struct ctl_delta_op then its strings
 * (subscriber, pattern, mapping: lengths as given, no NUL), records back to back.
 */
struct ctl_delta {
	uint64_t base_version;	/* the table this change was made from */
	uint64_t table_version; /* the version the table becomes */
	uint64_t table_digest;	/* ctl_table_digest of the table it becomes, as an APPLY
				 * would carry it: reported from then on; 0 = not said */
	uint32_t flags;		/* CTL_APPLY_DRY_RUN */
	uint32_t n_ops;
	uint32_t text_len; /* the operation records' bytes that follow */
	uint32_t reserved; /* 0 */
};
_Static_assert(sizeof(struct ctl_delta) == 40, "ctl_delta size");

struct ctl_delta_op {
	uint32_t kind;	      /* enum rd_kind (common/routing_delta.h) */
	uint32_t pos;	      /* as rd_op.pos */
	uint32_t sub_len;     /* subscriber name bytes */
	uint32_t pattern_len; /* 0: none */
	uint32_t text_len;    /* the subscriber mapping's bytes; 0: none */
};
_Static_assert(sizeof(struct ctl_delta_op) == 20, "ctl_delta_op size");

#define CTL_DELTA_MAX_OPS 65536

struct ctl_apply_reply {
	int32_t status;		/* 0, or -errno */
	uint32_t text_len;	/* error text that follows (one line), 0 on success */
	uint64_t table_version; /* in force after the request */
	uint64_t build_ns;	/* parse + Hyperscan compile + table build */
	uint64_t publish_ns;	/* pointer swap until every RX lcore was quiescent */
};
_Static_assert(sizeof(struct ctl_apply_reply) == 32, "ctl_apply_reply size");

struct ctl_status_reply {
	uint64_t table_version;
	uint64_t boot_id;
	uint32_t text_len; /* stats JSON (same shape as stats.json) that follows */
	uint32_t reserved;
	uint64_t table_digest; /* ctl_table_digest of the table in force; 0 = none */
};
_Static_assert(sizeof(struct ctl_status_reply) == 32, "ctl_status_reply size");

struct ctl_error {
	int32_t status;	   /* -EPROTONOSUPPORT, -EPROTO, -EINVAL ... */
	uint32_t text_len; /* one line that follows */
};
_Static_assert(sizeof(struct ctl_error) == 8, "ctl_error size");

/*
 * Encode header + fixed part + text into `buf` (capacity `cap`). Returns the total
 * length, or -EMSGSIZE. Fixed parts are converted to little-endian here.
 */
int ctl_encode(uint8_t *buf, size_t cap, uint16_t type, uint32_t seq, const void *fixed,
	       size_t fixed_len, const char *text, size_t text_len);

/*
 * Check a received header: 0, -EPROTO (bad magic or length over CTL_MAX_PAYLOAD),
 * -EPROTONOSUPPORT (other protocol version). Converts to host order in place.
 */
int ctl_decode_hdr(struct ctl_hdr *h);

/* Bytes of the fixed part of a message of type `type`, SIZE_MAX for an unknown type. */
size_t ctl_fixed_size(uint16_t type);

/*
 * Split a payload of type `type` into its fixed part (copied to `fixed`, host order) and
 * text (pointer into `payload`, length checked against the fixed part's text_len).
 * 0 or -EPROTO.
 */
int ctl_decode_payload(uint16_t type, const uint8_t *payload, uint32_t len, void *fixed,
		       size_t fixed_len, const char **text, uint32_t *text_len);

/* Write all `n` bytes to a stream socket (no SIGPIPE; EINTR retried). 0 or -errno.
 * Also the transport of asterctl's JSON lines. */
int ctl_write_all(int fd, const void *buf, size_t n);

/* Blocking helpers over a connected stream socket; 0 or -errno (-ECONNRESET at EOF). */
int ctl_send(int fd, uint16_t type, uint32_t seq, const void *fixed, size_t fixed_len,
	     const char *text, size_t text_len);
/* Receive one message: header into `h`, payload into a malloc'd `*payload` (caller frees). */
int ctl_recv(int fd, struct ctl_hdr *h, uint8_t **payload);

const char *ctl_type_name(uint16_t type);

struct rd_op;

/* The records of `n` operations (malloc'd, `*len` bytes), or NULL + errno. */
uint8_t *ctl_delta_encode(const struct rd_op *ops, uint32_t n, size_t *len);
/*
 * The `n` operations of `len` bytes of records: `*ops` (malloc'd, n entries) whose
 * strings point into `*strings` (malloc'd, NUL terminated copies); free both. 0, or
 * -EPROTO for records that do not add up (lengths past the end, a NUL inside a string,
 * an unknown kind, bytes left over) with `err` saying which.
 */
int ctl_delta_decode(const uint8_t *buf, uint32_t len, uint32_t n, struct rd_op **ops,
		     char **strings, char *err, size_t errlen);

/*
 * The digest of a table: a 64-bit hash of its YAML exactly as APPLY carried it, never 0.
 * Both sides compute it, so that aster-control sees drift in what is in force, not only
 * in the version number (a detection of tables that differ, not a signature). Protocol
 * 3: a polynomial hash that composes (ctl_digest_cat), so that the digest of a table
 * after a delta costs what the delta touched, not the table (protocol 2's FNV-1a of
 * the whole text cost a pass over 100 000 patterns per change).
 */
uint64_t ctl_table_digest(const char *text, size_t len);

/* A piece of text as the digest sees it: its hash and X^length. The empty text is
 * {0, 1}. */
struct ctl_digest_part {
	uint64_t h;
	uint64_t xp;
};
void ctl_digest_part(const char *text, size_t len, struct ctl_digest_part *out);
/* `acc` becomes the part of acc's text followed by b's. */
void ctl_digest_cat(struct ctl_digest_part *acc, const struct ctl_digest_part *b);
/* The digest of the text a part stands for: ctl_table_digest of that text. */
uint64_t ctl_digest_value(const struct ctl_digest_part *d);

#endif
