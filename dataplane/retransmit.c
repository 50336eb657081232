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

#define BUCKET_DEPTH_DIV 10 /* the bucket holds a tenth of a second of `rate` */

void retransmit_port_start(struct retransmit_port *p, uint32_t rate, uint64_t tsc_hz,
			   uint64_t now_tsc)
{
	uint64_t depth = rate / BUCKET_DEPTH_DIV;

	for (uint32_t i = 0; i < p->n_subs; i++)
		token_bucket_init(&p->subs[i].bucket, rate, depth > 0 ? depth : 1, tsc_hz, now_tsc);
}

static struct retransmit_sub *find_session(struct retransmit_port *p, const uint8_t *session)
{
	for (uint32_t i = 0; i < p->n_subs; i++)
		if (memcmp(p->subs[i].session, session, MOLD_SESSION_LEN) == 0)
			return &p->subs[i];
	return NULL;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

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
	s->c.requests++;
	while (left > 0) {
		uint64_t level;
		uint32_t bytes;
		uint16_t n;
		uint8_t *f;

		if (out->n == out->cap) {
			s->c.cut += left;
			return;
		}
		f = out->frames[out->n];
		level = token_bucket_level(&s->bucket, now_tsc);
		if (level == 0) {
			s->c.rate_limited += left;
			return;
		}
		if (s->hist == NULL ||
		    history_read(s->hist, seq, (uint16_t)(level < left ? level : left),
				 pay - MOLD_HDR_LEN, f + FRAME_UDP_HDRS_LEN + MOLD_HDR_LEN, &n,
				 &bytes, &s->hint) != HISTORY_OK) {
			s->c.unavailable += left; /* older than the history, or not sent yet */
			return;
		}
		token_bucket_take(&s->bucket, n, now_tsc);
		frame_build_udp(f, &from, to, (uint16_t)(MOLD_HDR_LEN + bytes), p->ip_id++);
		memcpy(f + FRAME_UDP_HDRS_LEN, s->session, MOLD_SESSION_LEN);
		put_be(f + FRAME_UDP_HDRS_LEN + 10, seq, 8);
		put_be(f + FRAME_UDP_HDRS_LEN + 18, n, 2);
		out->len[out->n++] = FRAME_UDP_HDRS_LEN + MOLD_HDR_LEN + bytes;
		s->c.packets++;
		s->c.messages += n;
		seq += n;
		left -= n;
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
			p->c.arp_replies++;
			return RETRANSMIT_ARP;
		}
		/* fall through */
	default:
		p->c.arp_other++;
		return RETRANSMIT_ARP;
	}
	if (frame_parse_udp(frame, len, &u) != 0 || u.dst_ip != p->ip || u.dst_port != p->udp)
		return RETRANSMIT_NOT_MINE;

	e = mold_request_parse(frame + u.payload_off, u.payload_len, &rq);
	if (e != MOLD_REQ_OK) {
		p->c.malformed[e]++;
		return RETRANSMIT_REQUEST;
	}
	s = find_session(p, rq.session);
	if (s == NULL) {
		p->c.unknown_session++;
		return RETRANSMIT_REQUEST;
	}
	if (u.src_ip != s->dst_ip) {
		p->c.wrong_source++;
		return RETRANSMIT_REQUEST;
	}
	struct frame_endpoint to = {
	    {frame[6], frame[7], frame[8], frame[9], frame[10], frame[11]}, u.src_ip, u.src_port};

	serve(p, s, &rq, &to, now_tsc, out);
	return RETRANSMIT_REQUEST;
}
