/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Retransmission server decisions (docs/protocol.md §6.2); see retransmit.h. The checks
 * run in the order a refusal is cheapest to explain: the request's own form, then
 * whose session it names, then who sent it, then what the history and the bucket allow.
 * Answer frames are untagged, like every frame the dataplane sends.
 */
#include <string.h>

#include "arp.h"
#include "feed_moldudp64.h"
#include "frame.h"
#include "retransmit.h"

#include "../common/wire.h"

#define BUCKET_DEPTH_DIV 10 /* the bucket holds a tenth of a second of `rate` */

void retransmit_bucket_start(struct token_bucket *b, uint32_t rate, uint64_t tsc_hz,
			     uint64_t now_tsc)
{
	uint64_t depth = rate / BUCKET_DEPTH_DIV;

	token_bucket_init(b, rate, depth > 0 ? depth : 1, tsc_hz, now_tsc);
}

static struct retransmit_sub *find_session(struct retransmit_port *p, const uint8_t *session)
{
	for (uint32_t i = 0; i < p->n_subs; i++)
		if (memcmp(p->subs[i].session, session, MOLD_SESSION_LEN) == 0)
			return &p->subs[i];
	return NULL;
}

/* Serve `rq` for `s` into `out`, answering `to`. */
/* Serve `rq` for `s` into `out`, answering `to`. */
static void serve(struct retransmit_port *p, struct retransmit_sub *s,
		  const struct mold_request *rq, const struct frame_endpoint *to, uint64_t now_tsc,
		  struct retransmit_out *out)
{
	const struct frame_endpoint from = {
	    {p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5]}, p->ip, p->udp};
	uint64_t seq = rq->seq;
	uint32_t left = rq->count;
	uint32_t pay = s->max_payload;

	if (FRAME_UDP_HDRS_LEN + pay > out->frame_len)
		pay = out->frame_len - FRAME_UDP_HDRS_LEN;
	if (s->bucket->rate != p->rate)
		retransmit_bucket_start(s->bucket, p->rate, p->tsc_hz, now_tsc);
	counter_add(&s->c->retransmit_requests, 1);
	while (left > 0) {
		uint64_t level;
		uint32_t bytes;
		uint16_t n;
		uint8_t *f;

		if (out->n == out->cap) {
			counter_add(&s->c->retransmit_cut, left);
			return;
		}
		f = out->frames[out->n];
		level = token_bucket_level(s->bucket, now_tsc);
		if (level == 0) {
			counter_add(&s->c->retransmit_rate_limited, left);
			return;
		}
		if (s->hist == NULL ||
		    history_read(s->hist, seq, (uint16_t)(level < left ? level : left),
				 pay - MOLD_HDR_LEN, f + FRAME_UDP_HDRS_LEN + MOLD_HDR_LEN, &n,
				 &bytes, s->hint) != HISTORY_OK) {
			/* older than the history, not sent yet, or history 0 */
			counter_add(&s->c->retransmit_unavailable, left);
			return;
		}
		token_bucket_take(s->bucket, n, now_tsc);
		frame_build_udp(f, &from, to, (uint16_t)(MOLD_HDR_LEN + bytes), p->ip_id++);
		memcpy(f + FRAME_UDP_HDRS_LEN, s->session, MOLD_SESSION_LEN);
		wire_put64(f + FRAME_UDP_HDRS_LEN + 10, seq);
		wire_put16(f + FRAME_UDP_HDRS_LEN + 18, n);
		out->len[out->n++] = FRAME_UDP_HDRS_LEN + MOLD_HDR_LEN + bytes;
		counter_add(&s->c->retransmit_packets, 1);
		counter_add(&s->c->retransmit_messages, n);
		seq += n;
		left -= n;
	}
}

/* A malformed request, counted under its reason (mold_request.h). */
static void count_malformed(struct counter_port *c, enum mold_request_error e)
{
	switch (e) {
	case MOLD_REQ_SHORT:
		counter_add(&c->request_short, 1);
		break;
	case MOLD_REQ_LONG:
		counter_add(&c->request_long, 1);
		break;
	case MOLD_REQ_COUNT_ZERO:
		counter_add(&c->request_count_zero, 1);
		break;
	case MOLD_REQ_COUNT_END:
		counter_add(&c->request_count_end, 1);
		break;
	case MOLD_REQ_SEQ_ZERO:
	default:
		counter_add(&c->request_seq_zero, 1);
		break;
	}
}

enum retransmit_kind retransmit_frame(struct retransmit_port *p, const uint8_t *frame, uint32_t len,
				      uint64_t now_tsc, struct retransmit_out *out)
{
	struct arp_request arp;
	struct mold_request rq;
	struct frame_udp u;
	enum mold_request_error e;
	struct retransmit_sub *s;

	out->n = 0;
	switch (arp_parse(frame, len, &arp)) {
	case ARP_NOT_ARP:
		break;
	case ARP_REQUEST:
		if (arp.target_ip == p->ip && out->cap > 0 && out->frame_len >= ARP_REPLY_LEN + 4) {
			out->len[0] = arp_reply(out->frames[0], &arp, p->mac);
			out->n = 1;
			counter_add(&p->c->arp_replies, 1);
			return RETRANSMIT_ARP;
		}
		return RETRANSMIT_NOT_MINE;
	default:
		return RETRANSMIT_NOT_MINE;
	}
	if (frame_parse_udp(frame, len, &u) != 0 || u.dst_ip != p->ip || u.dst_port != p->udp)
		return RETRANSMIT_NOT_MINE;

	e = mold_request_parse(frame + u.payload_off, u.payload_len, &rq);
	if (e != MOLD_REQ_OK) {
		count_malformed(p->c, e);
		return RETRANSMIT_REQUEST;
	}
	s = find_session(p, rq.session);
	if (s == NULL) {
		counter_add(&p->c->request_unknown_session, 1);
		return RETRANSMIT_REQUEST;
	}
	if (u.src_ip != s->dst_ip) {
		counter_add(&p->c->request_wrong_source, 1);
		return RETRANSMIT_REQUEST;
	}
	struct frame_endpoint to = {
	    {frame[6], frame[7], frame[8], frame[9], frame[10], frame[11]}, u.src_ip, u.src_port};

	serve(p, s, &rq, &to, now_tsc, out);
	return RETRANSMIT_REQUEST;
}
