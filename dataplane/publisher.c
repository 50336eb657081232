/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-subscriber MoldUDP64 framing (docs/protocol.md §3.6).
 *
 * The Ethernet/IPv4/UDP header and the MoldUDP64 session are a template built once
 * per subscriber; opening a packet is one fixed-size copy of it plus the sequence,
 * appending a message is a length prefix plus one memcpy, and the lengths, count, IP id
 * and checksum are written once when the packet closes. The checksum is the template's
 * precomputed sum plus the two fields that change (RFC 1624), not a sum over the
 * header.
 */
#include <string.h>

#include "publisher.h"

#include "../common/wire.h"

/* offsets inside the frame */
#define ETH_TYPE_OFF  12
#define IP_OFF	      PUB_L2_LEN
#define IP_TOTLEN_OFF (IP_OFF + 2)
#define IP_ID_OFF     (IP_OFF + 4)
#define IP_CKSUM_OFF  (IP_OFF + 10)
#define UDP_OFF	      (PUB_L2_LEN + PUB_L3_LEN)
#define UDP_LEN_OFF   (UDP_OFF + 4)
#define MOLD_OFF      PUB_HDRS_LEN
#define MOLD_SEQ_OFF  (MOLD_OFF + 10)

/* MoldUDP64: 0xFFFF means end of session, so a data packet carries at most 0xFFFE. */
#define MOLD_MAX_COUNT 0xFFFE

/* Ones'-complement sum of big-endian 16-bit words, not folded (`len` even). */
static uint32_t sum16(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += wire_get16(p + i);
	return sum;
}

static uint16_t fold_not(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void publisher_sub_init(struct publisher_sub *s, const struct publisher_dst *d)
{
	uint8_t *h = s->tmpl.hdr;
	size_t n = 0;

	memset(s, 0, sizeof(*s));
	memcpy(h, d->dst_mac, 6);
	memcpy(h + 6, d->src_mac, 6);
	wire_put16(h + ETH_TYPE_OFF, 0x0800);

	h[IP_OFF] = 0x45;  /* version 4, IHL 5: no options */
	h[IP_OFF + 1] = 0; /* TOS */
	wire_put16(h + IP_OFF + 6,
		   0x4000); /* DF: never fragmented (docs/protocol.md §3.1 drops fragments) */
	h[IP_OFF + 8] = 64; /* TTL */
	h[IP_OFF + 9] = 17; /* UDP */
	wire_put32(h + IP_OFF + 12, d->src_ip);
	wire_put32(h + IP_OFF + 16, d->dst_ip);

	wire_put16(h + UDP_OFF, d->src_port);
	wire_put16(h + UDP_OFF + 2, d->dst_port);
	/* UDP checksum stays 0: optional for IPv4 */

	/* docs/protocol.md §3.6: the subscriber's session, space padded to 10 */
	if (d->session != NULL) {
		while (n < sizeof(s->tmpl.session) && d->session[n] != '\0')
			n++;
		memcpy(s->tmpl.session, d->session, n);
	}
	memset(s->tmpl.session + n, ' ', sizeof(s->tmpl.session) - n);
	/* total length, id and checksum are 0 in the template: they add on at close */
	s->cksum_base = sum16(h + IP_OFF, PUB_L3_LEN);

	s->max_payload = d->max_payload;
	s->next_seq = 1; /* docs/protocol.md §3.6: sequence numbers start at 1 */
}

/* MoldUDP64 header + IPv4/UDP lengths and checksum for `payload` bytes of UDP data. */
static void finish_headers(struct publisher_sub *s, uint8_t *data, uint32_t payload, uint16_t count)
{
	uint16_t total = (uint16_t)(PUB_L3_LEN + PUB_L4_LEN + payload);
	uint16_t id = s->ip_id++;

	wire_put16(data + PUB_COUNT_OFF, count);
	wire_put16(data + IP_TOTLEN_OFF, total);
	wire_put16(data + IP_ID_OFF, id);
	wire_put16(data + UDP_LEN_OFF, (uint16_t)(PUB_L4_LEN + payload));
	wire_put16(data + IP_CKSUM_OFF, fold_not(s->cksum_base + total + id));
}

static void open_headers(const struct publisher_sub *s, uint8_t *data, uint64_t seq)
{
	memcpy(data, &s->tmpl, sizeof(s->tmpl));
	wire_put64(data + MOLD_SEQ_OFF, seq);
}

static void close_pkt(struct publisher_sub *s, uint32_t sub, const struct publisher_ops *ops,
		      void *ctx)
{
	finish_headers(s, s->data, s->len, s->n_msgs);
	ops->close(ctx, sub, s->pkt, PUB_HDRS_LEN + s->len, s->n_msgs);
	s->pkt = NULL;
	s->data = NULL;
	s->len = 0;
	s->n_msgs = 0;
}

enum publisher_result publisher_append(struct publisher_sub *s, uint32_t sub, const uint8_t *msg,
				       uint16_t len, const struct publisher_ops *ops, void *ctx)
{
	uint32_t need = 2 + (uint32_t)len;

	/* docs/protocol.md §3.6: every packet carries at least one message and fits max_payload */
	if (PUB_MOLD_HDR + need > s->max_payload)
		return PUB_TOO_LARGE;
	if (s->pkt != NULL && (s->len + need > s->max_payload || s->n_msgs == MOLD_MAX_COUNT))
		close_pkt(s, sub, ops, ctx);
	if (s->pkt == NULL) {
		uint8_t *data = NULL;
		void *pkt = ops->open(ctx, sub, &data);

		if (pkt == NULL)
			return PUB_NO_BUFFER; /* nothing framed: the sequence is not consumed */
		s->pkt = pkt;
		s->data = data;
		s->len = PUB_MOLD_HDR;
		open_headers(s, data, s->next_seq);
	}
	wire_put16(s->data + PUB_HDRS_LEN + s->len, len);
	memcpy(s->data + PUB_HDRS_LEN + s->len + 2, msg, len);
	s->len += need;
	s->n_msgs++;
	/* numbered when framed, so a dropped message never leaves a hole (docs/protocol.md §3.6) */
	s->next_seq++;
	return PUB_OK;
}

void publisher_flush(struct publisher_sub *s, uint32_t sub, const struct publisher_ops *ops,
		     void *ctx)
{
	if (s->pkt != NULL)
		close_pkt(s, sub, ops, ctx);
}

uint32_t publisher_heartbeat(struct publisher_sub *s, uint8_t *data)
{
	/*
	 * MoldUDP64: a heartbeat carries the sequence of the next message the receiver
	 * will see. Messages of a still-open packet are not sent yet, so that is the
	 * open packet's first sequence.
	 */
	open_headers(s, data, s->next_seq - s->n_msgs);
	finish_headers(s, data, PUB_MOLD_HDR, 0);
	return PUB_HDRS_LEN + PUB_MOLD_HDR;
}

uint32_t publisher_end_of_session(struct publisher_sub *s, uint8_t *data)
{
	open_headers(s, data, s->next_seq - s->n_msgs);
	finish_headers(s, data, PUB_MOLD_HDR, PUB_END_OF_SESSION);
	return PUB_HDRS_LEN + PUB_MOLD_HDR;
}
