/* SPDX-License-Identifier: BSD-3-Clause */
/* aster-control's HTTP and HTTPS listeners, the console and the API: see http.h. */
#include "http.h"
#include "api.h"
#include "console/assets.h"
#include "history.h"
#include "server.h"
#include "settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#define ERR_LEN		   1024
/* /health answers 503 "unknown" once the loop's last sample is older than this: the loop
 * samples every HEALTH_SAMPLE_MS, so it is busy (a long parse, a slow disk). */
#define HTTP_STALE_MS	   1000
#define HTTP_CONNECTIONS   64 /* per listener */
#define HTTP_PER_IP	   16
#define HTTP_TIMEOUT_S	   10
#define HTTPS_TIMEOUT_S	   60 /* a large apply is uploaded, then compiled for seconds */
#define STREAM_BLOCK	   (64u << 10)
#define STATS_PERIOD_MS	   1000 /* the dataplane's stats (latency), this often */
#define STREAM_KEEPALIVE_S 5	/* below the connection timeouts: a quiet stream stays */
/* TLS 1.2 and 1.3 only; no session tickets, so that every connection is a full
 * handshake in which the client's certificate is verified again (a resumed session
 * would carry the identity of one verified earlier, perhaps since expired). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%NO_TICKETS"
/* The console's pages load nothing from elsewhere and cannot be framed. */
#define CSP                                                                                        \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

typedef json_t *(*job_fn)(struct server_ctx *ctx, const struct server_peer *peer, json_t *req);

/* Who is on a connection (MHD's socket context). */
struct conn {
	bool identified; /* TLS: the certificate was read */
	char identity[SETTINGS_CERT_NAME];
	char address[64];
	enum server_role role;
	char why[160]; /* TLS: why it has no role */
};

struct listener {
	struct http *h;
	struct MHD_Daemon *mhd;
	bool tls;
	char *cert, *key, *ca; /* PEM texts, kept while MHD runs */
};

/* A request for the event loop. */
struct job {
	job_fn fn;
	json_t *req;
	struct server_peer peer;
	struct conn who;
	json_t *reply;
	bool done;
	struct job *next;
};

struct http {
	const struct settings *set;
	struct listener plain, tls;
	int efd;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a job done, a sample published, a stats refresh, stopping */
	bool stopping;
	struct job *head, *tail;
	/* The latest sample (http_publish). */
	uint64_t seq;
	char *health;
	int healthy;
	uint64_t published_ms; /* CLOCK_MONOTONIC of the last http_publish */
	char *status;	   /* pretty, for GET /status */
	char *status_line; /* compact, for events */
	char *metrics;
	/* The latest dataplane stats, for "stats" events, and the latency histogram in
	 * Prometheus text, appended to /metrics: refreshed by stats_thread. */
	uint64_t stats_seq;
	char *stats_line;
	char *latency_metrics;
	pthread_t stats_thread;
	bool stats_running;
};

/* Per-request state (MHD's req_cls): the body as it arrives. */
struct request {
	char *body;
	size_t len, cap;
	bool too_big;
};

/* An events stream: what it still has to send. */
struct stream {
	struct http *h;
	struct conn who;
	uint64_t seq, stats_seq;
	uint64_t sent_ms;
	char *buf;
	size_t len, off, cap;
};

static const char not_ready[] = "{\"state\": \"down\", \"reasons\": [\"starting\"]}\n";

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The last sample, said to be stale, and how stale (malloc'd; NULL out of memory). */
static char *stale_body(const char *last, uint64_t age_ms)
{
	size_t size = strlen(last) + 256;
	char *b = malloc(size);

	if (b != NULL)
		snprintf(b, size,
			 "{\"state\": \"unknown\", \"reasons\": [\"stale: aster-control has not "
			 "sampled health for %llu ms (its event loop is busy)\"], \"last_sample\": "
			 "%s}\n",
			 (unsigned long long)age_ms, last);
	return b;
}

/* ------------------------------------------------------------------ replies */

static void security_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned int code, const char *type,
				const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
				const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	enum MHD_Result rc;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	if (allow != NULL)
		MHD_add_response_header(r, "Allow", allow);
	security_headers(r);
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned int code, const char *text,
				 const char *allow)
{
	return send_buf(c, code, "text/plain; charset=utf-8", text, strlen(text),
			MHD_RESPMEM_MUST_COPY, allow);
}

/* A JSON reply (taken over), with `code`. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned int code, json_t *reply,
				 const char *allow)
{
	char *text = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t len;

	json_decref(reply);
	if (text == NULL)
		return send_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL: the buffer is sent by length */
	return send_buf(c, code, "application/json", text, len + 1, MHD_RESPMEM_MUST_FREE, allow);
}

static enum MHD_Result refuse(struct MHD_Connection *c, unsigned int code, const char *kind,
			      const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The API's own refusals (before the event loop sees the request), shaped like the
 * server's. */
static enum MHD_Result refuse(struct MHD_Connection *c, unsigned int code, const char *kind,
			      const char *allow, const char *fmt, ...)
{
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_json(c, code, api_refusal(kind, msg), allow);
}

/* ------------------------------------------------------------------ jobs */

/* Hand `req` (taken over) to the event loop and wait for its reply; NULL when
 * aster-control is stopping. */
static json_t *run_job(struct http *h, const struct conn *who, job_fn fn, json_t *req)
{
	struct job *j = calloc(1, sizeof(*j));
	json_t *reply = NULL;
	uint64_t one = 1;

	if (j == NULL || req == NULL) {
		free(j);
		json_decref(req);
		return NULL;
	}
	j->fn = fn;
	j->req = req;
	j->who = *who;
	j->peer = (struct server_peer){
	    .identity = j->who.identity,
	    .address = j->who.address,
	    .role = j->who.role,
	};
	pthread_mutex_lock(&h->lock);
	if (!h->stopping) {
		if (h->tail != NULL)
			h->tail->next = j;
		else
			h->head = j;
		h->tail = j;
		if (write(h->efd, &one, sizeof(one)) != sizeof(one))
			fprintf(stderr, "aster-control: http: eventfd: %s\n", strerror(errno));
		while (!j->done && !h->stopping)
			pthread_cond_wait(&h->cond, &h->lock);
		reply = j->reply;
	}
	/* Stopping: http_stop emptied the queue, so nothing refers to j any more. */
	pthread_mutex_unlock(&h->lock);
	json_decref(req);
	free(j);
	return reply;
}

int http_fd(const struct http *h)
{
	return h != NULL ? h->efd : -1;
}

void http_run(struct http *h, struct server_ctx *ctx)
{
	uint64_t n;

	if (h == NULL)
		return;
	if (read(h->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		fprintf(stderr, "aster-control: http: eventfd: %s\n", strerror(errno));
	for (;;) {
		struct job *j;
		json_t *reply;

		pthread_mutex_lock(&h->lock);
		j = h->head;
		if (j != NULL) {
			h->head = j->next;
			if (h->head == NULL)
				h->tail = NULL;
		}
		pthread_mutex_unlock(&h->lock);
		if (j == NULL)
			return;
		reply = j->fn(ctx, &j->peer, j->req);
		pthread_mutex_lock(&h->lock);
		j->reply = reply;
		j->done = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
}

/* ------------------------------------------------------------------ who is asking */

static void address_text(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr_in *sa;
	char ip[INET_ADDRSTRLEN];

	snprintf(buf, size, "unknown");
	if (ci == NULL || ci->client_addr == NULL || ci->client_addr->sa_family != AF_INET)
		return;
	sa = (const struct sockaddr_in *)(const void *)ci->client_addr;
	if (inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip)) != NULL)
		snprintf(buf, size, "%s:%u", ip, ntohs(sa->sin_port));
}

/*
 * A TLS connection before its handshake: make the client's certificate required, and
 * verified by GnuTLS against tls_client_ca during the handshake (chain, validity
 * dates, usage). libmicrohttpd only requests one, which lets a client without a
 * certificate through; this callback runs after it set up the session and before the
 * first handshake message is read.
 */
static void require_client_cert(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);

	if (ci == NULL || ci->tls_session == NULL)
		return;
	gnutls_certificate_server_set_request((gnutls_session_t)ci->tls_session,
					      GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert((gnutls_session_t)ci->tls_session, NULL, 0);
}

/* A TLS connection closed before any request: say who was refused and why (the
 * handshake failed, so no request ever told). */
static void log_refusal(struct MHD_Connection *c, const struct conn *cn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
	gnutls_datum_t out = {NULL, 0};
	unsigned int n = 0, status;

	if (s == NULL)
		return;
	/* Verified during the handshake (require_client_cert): why it failed, if it did. */
	status = gnutls_session_get_verify_cert_status(s);
	if (status != 0 && status != (unsigned int)-1) {
		const char *why = "certificate not verified";
		int len;

		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out,
								 0) == 0 &&
		    out.data != NULL)
			why = (const char *)out.data;
		len = (int)strlen(why);
		while (len > 0 && why[len - 1] == ' ')
			len--;
		fprintf(stderr, "aster-control: https: %s refused at the handshake: %.*s\n",
			cn->address, len, why);
		gnutls_free(out.data);
		return;
	}
	/* A client that got as far as its certificate and sent none; others stopped earlier
	 * (a port probe, a protocol mismatch) or finished without a request. */
	if ((gnutls_certificate_get_peers(s, &n) == NULL || n == 0) &&
	    gnutls_handshake_get_last_in(s) >= GNUTLS_HANDSHAKE_CERTIFICATE_PKT)
		fprintf(stderr,
			"aster-control: https: %s refused at the handshake: no client "
			"certificate\n",
			cn->address);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct listener *l = cls;
	struct conn *cn;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		cn = *socket_context;
		if (l->tls && cn != NULL && !cn->identified)
			log_refusal(c, cn);
		free(cn);
		*socket_context = NULL;
		return;
	}
	cn = calloc(1, sizeof(*cn));
	*socket_context = cn;
	if (cn == NULL)
		return;
	address_text(c, cn->address, sizeof(cn->address));
	if (l->tls) {
		require_client_cert(c);
		return;
	}
	/* The plain listener: read-only for whoever reaches it (http_bind limits who). */
	snprintf(cn->identity, sizeof(cn->identity), "http");
	cn->role = SERVER_ROLE_READ;
	cn->identified = true;
}

/* Read the verified client certificate's identity and look up its role. */
static void identify(struct http *h, struct MHD_Connection *c, struct conn *cn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
	const gnutls_datum_t *chain;
	gnutls_x509_crt_t crt;
	unsigned int n = 0, status = 1;
	size_t len = sizeof(cn->identity);
	int rc;

	cn->identified = true;
	cn->role = SERVER_ROLE_NONE;
	/* The handshake verified it already; a second look costs little and keeps a
	 * connection that somehow got past it out. */
	if (s == NULL || gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0 ||
	    (chain = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0) {
		snprintf(cn->why, sizeof(cn->why), "no verified client certificate");
		return;
	}
	if (gnutls_x509_crt_init(&crt) < 0) {
		snprintf(cn->why, sizeof(cn->why), "out of memory");
		return;
	}
	rc = gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER);
	if (rc == 0)
		rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
						   cn->identity, &len);
	gnutls_x509_crt_deinit(crt);
	if (rc < 0 || cn->identity[0] == '\0') {
		cn->identity[0] = '\0';
		snprintf(cn->why, sizeof(cn->why), "the client certificate has no common name");
		return;
	}
	if (settings_certs_allow(&h->set->write_certs, cn->identity))
		cn->role = SERVER_ROLE_WRITE;
	else if (settings_certs_allow(&h->set->read_certs, cn->identity))
		cn->role = SERVER_ROLE_READ;
	else
		snprintf(cn->why, sizeof(cn->why), "\"%.100s\" is not in read_certs or write_certs",
			 cn->identity);
}

/* ------------------------------------------------------------------ events */

static int stream_grow(struct stream *st, size_t need)
{
	char *p;

	if (need <= st->cap)
		return 0;
	p = realloc(st->buf, need);
	if (p == NULL)
		return -ENOMEM;
	st->buf = p;
	st->cap = need;
	return 0;
}

/* Queue one event (data on one line: compact JSON never holds a newline). */
static int stream_event(struct stream *st, const char *event, uint64_t id, const char *data)
{
	size_t dlen = strlen(data), need = dlen + 96;
	int n;

	if (stream_grow(st, need) < 0)
		return -ENOMEM;
	n = snprintf(st->buf, st->cap, "event: %s\nid: %" PRIu64 "\ndata: ", event, id);
	memcpy(st->buf + n, data, dlen);
	memcpy(st->buf + (size_t)n + dlen, "\n\n", 2);
	st->len = (size_t)n + dlen + 2;
	st->off = 0;
	return 0;
}

/* Prometheus upper bounds of the latency histogram, in seconds: fixed, so that rate()
 * and histogram_quantile() see the same series at every scrape. */
static const double latency_le[] = {
    0.5e-6, 1e-6, 2e-6, 5e-6,  10e-6, 20e-6, 50e-6,  100e-6, 200e-6, 500e-6,
    1e-3,   2e-3, 5e-3, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3, 500e-3, 1.0,
};

/*
 * The dataplane's latency histogram (stats.json: latency_histogram, [[upper ns, frames]])
 * as a Prometheus histogram, aster_latency_seconds: each fine bucket counts in the first
 * `le` at or above its upper bound (so a share is reported up to one fine bucket, 12.5 %,
 * late: never early). _sum is count x mean (the dataplane reports the mean, rounded).
 */
static char *latency_text(json_t *stats)
{
	json_t *lat = json_object_get(stats, "latency"),
	       *hist = json_object_get(stats, "latency_histogram");
	json_int_t count = json_integer_value(json_object_get(lat, "count"));
	double mean = (double)json_integer_value(json_object_get(lat, "mean_ns"));
	size_t n = sizeof(latency_le) / sizeof(latency_le[0]), len = 0, i;
	uint64_t cum[sizeof(latency_le) / sizeof(latency_le[0])] = {0};
	char *buf = NULL;
	FILE *f;
	json_t *b;

	if (!json_is_object(lat) || !json_is_array(hist))
		return NULL;
	json_array_foreach(hist, i, b)
	{
		double ub = (double)json_integer_value(json_array_get(b, 0)) / 1e9;
		json_int_t frames = json_integer_value(json_array_get(b, 1));

		for (size_t k = 0; k < n; k++)
			if (ub <= latency_le[k])
				cum[k] += (uint64_t)frames;
	}
	f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	fprintf(f, "# HELP aster_latency_seconds In-appliance latency, RX burst to TX burst, per "
		   "output frame\n# TYPE aster_latency_seconds histogram\n");
	for (size_t k = 0; k < n; k++)
		fprintf(f, "aster_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", latency_le[k],
			cum[k]);
	fprintf(f,
		"aster_latency_seconds_bucket{le=\"+Inf\"} %" JSON_INTEGER_FORMAT "\n"
		"aster_latency_seconds_sum %.9f\naster_latency_seconds_count %" JSON_INTEGER_FORMAT
		"\n",
		count, (double)count * mean / 1e9, count);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * Ask the event loop for the dataplane's stats every STATS_PERIOD_MS, for the console's
 * "stats" events and the latency histogram of /metrics (the health segment, which the
 * loop samples, has no latency). Off the loop: the loop answers it like any request.
 */
static void *stats_thread(void *arg)
{
	static const struct conn self = {.identified = true,
					 .identity = "aster-control",
					 .address = "-",
					 .role = SERVER_ROLE_READ};
	struct http *h = arg;

	for (;;) {
		json_t *reply =
		    run_job(h, &self, server_execute, json_pack("{s:s}", "cmd", "stats"));
		char *line = NULL, *lat = NULL, *old[2] = {NULL, NULL};
		struct timespec until;

		if (reply != NULL) {
			line = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (json_is_true(json_object_get(reply, "ok")))
				lat = latency_text(json_object_get(reply, "stats"));
		}
		json_decref(reply);
		pthread_mutex_lock(&h->lock);
		if (line != NULL) {
			old[0] = h->stats_line;
			old[1] = h->latency_metrics;
			h->stats_line = line;
			h->latency_metrics = lat;
			h->stats_seq++;
			pthread_cond_broadcast(&h->cond);
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += STATS_PERIOD_MS / 1000;
		while (!h->stopping &&
		       pthread_cond_timedwait(&h->cond, &h->lock, &until) != ETIMEDOUT)
			;
		if (h->stopping) {
			pthread_mutex_unlock(&h->lock);
			free(old[0]);
			free(old[1]);
			return NULL;
		}
		pthread_mutex_unlock(&h->lock);
		free(old[0]);
		free(old[1]);
	}
}

/*
 * MHD asks for more of the stream: send what is left of the current event, else wait
 * for the next sample (or the stats refresh due, or the keep-alive). Blocking is fine:
 * each connection has its own thread.
 */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *st = cls;
	struct http *h = st->h;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&h->lock);
	while (st->off == st->len) {
		uint64_t now = mono_ms();
		struct timespec until;
		int rc = 0;

		if (h->stopping) {
			pthread_mutex_unlock(&h->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (h->status_line != NULL && h->seq != st->seq) {
			st->seq = h->seq;
			rc = stream_event(st, "status", st->seq, h->status_line);
		} else if (h->stats_line != NULL && h->stats_seq != st->stats_seq) {
			st->stats_seq = h->stats_seq;
			rc = stream_event(st, "stats", st->stats_seq, h->stats_line);
		} else if (now - st->sent_ms >= STREAM_KEEPALIVE_S * 1000u) {
			/* A comment line: keeps proxies and the browser from timing out. */
			rc = stream_grow(st, 16);
			if (rc == 0) {
				memcpy(st->buf, ": keep-alive\n\n", 14);
				st->len = 14;
				st->off = 0;
			}
		} else {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&h->cond, &h->lock, &until);
			continue;
		}
		if (rc < 0) {
			pthread_mutex_unlock(&h->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		st->sent_ms = now;
	}
	n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(out, st->buf + st->off, n);
	st->off += n;
	pthread_mutex_unlock(&h->lock);
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	free(st->buf);
	free(st);
}

static enum MHD_Result serve_events(struct http *h, struct MHD_Connection *c,
				    const struct conn *who)
{
	struct stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (st == NULL)
		return MHD_NO;
	st->h = h;
	st->who = *who;
	st->sent_ms = mono_ms();
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, st,
					      stream_free);
	if (r == NULL) {
		free(st);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	security_headers(r);
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* ------------------------------------------------------------------ static texts */

static enum MHD_Result serve_asset(struct MHD_Connection *c, const char *url)
{
	const char *enc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
	const struct console_asset *a = NULL;
	struct MHD_Response *r;
	enum MHD_Result rc;
	bool gz;

	if (strcmp(url, "/console") == 0 || strcmp(url, "/console/") == 0)
		url = "/console/index.html";
	for (size_t i = 0; i < console_n_assets; i++)
		if (strcmp(console_assets[i].path, url) == 0)
			a = &console_assets[i];
	if (a == NULL)
		return send_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
	gz = a->gz != NULL && enc != NULL && strstr(enc, "gzip") != NULL;
	r = MHD_create_response_from_buffer(gz ? a->gz_len : a->len, (void *)(gz ? a->gz : a->data),
					    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", a->type);
	if (gz)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	MHD_add_response_header(r, "Vary", "Accept-Encoding");
	security_headers(r);
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result serve_sample(struct http *h, struct MHD_Connection *c, const char *url)
{
	const char *type = "application/json";
	unsigned int code = MHD_HTTP_OK;
	char *body = NULL;

	/* Copied under the lock (the loop swaps the texts at each sample), sent after. */
	pthread_mutex_lock(&h->lock);
	if (strcmp(url, "/health") == 0) {
		uint64_t age = mono_ms() - h->published_ms;

		code = h->health != NULL && h->healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		/* Never a healthy answer from a sample the loop has not renewed. */
		if (h->health != NULL && age > HTTP_STALE_MS) {
			body = stale_body(h->health, age);
			code = MHD_HTTP_SERVICE_UNAVAILABLE;
		} else {
			body = strdup(h->health != NULL ? h->health : not_ready);
		}
	} else if (strcmp(url, "/status") == 0) {
		body = strdup(h->status != NULL ? h->status : not_ready);
	} else {
		/* The sample's families, then the latency histogram of the last stats. */
		const char *m = h->metrics != NULL ? h->metrics : "";
		const char *lat = h->latency_metrics != NULL ? h->latency_metrics : "";
		size_t ml = strlen(m), ll = strlen(lat);

		body = malloc(ml + ll + 1);
		if (body != NULL) {
			memcpy(body, m, ml);
			memcpy(body + ml, lat, ll + 1);
		}
		type = "text/plain; version=0.0.4; charset=utf-8";
	}
	pthread_mutex_unlock(&h->lock);
	if (body == NULL)
		return MHD_NO;
	return send_buf(c, code, type, body, strlen(body), MHD_RESPMEM_MUST_FREE, NULL);
}

/* ------------------------------------------------------------------ the API */

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *value)
{
	(void)kind;
	json_object_set_new(cls, key, json_string(value != NULL ? value : ""));
	return MHD_YES;
}

static enum MHD_Result serve_api(struct listener *l, struct MHD_Connection *c, const char *url,
				 const char *method, struct request *rq, const struct conn *who)
{
	const char *path = url + strlen(API_PREFIX);
	const struct api_endpoint *e = api_find(path);
	char err[ERR_LEN];
	json_t *query, *req, *reply;
	bool get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	job_fn fn;

	if (e == NULL)
		return refuse(c, MHD_HTTP_NOT_FOUND, "not_found", NULL,
			      "no endpoint %s (see docs/console.md)", url);
	if (strcmp(e->method, "GET") == 0 ? !get : strcmp(method, e->method) != 0)
		return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid",
			      strcmp(e->method, "GET") == 0 ? "GET, HEAD" : e->method,
			      "%s takes %s, not %s", url, e->method, method);
	if (e->changes && !l->tls)
		return refuse(c, MHD_HTTP_FORBIDDEN, "denied", NULL,
			      "this endpoint is read-only: changes go through the HTTPS API "
			      "(https_port) or asterctl");
	if (rq->too_big && !l->tls)
		return refuse(c, MHD_HTTP_BAD_REQUEST, "invalid", NULL, "%s: GET takes no body",
			      url);
	if (rq->too_big)
		return refuse(c, MHD_HTTP_CONTENT_TOO_LARGE, "limit", NULL,
			      "%s: the body is larger than %u bytes (https_max_body)", url,
			      l->h->set->https_max_body);
	query = json_object();
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, query);
	req = api_request(e, path, rq->body, rq->len, query, err, sizeof(err));
	json_decref(query);
	if (req == NULL)
		return refuse(c, MHD_HTTP_BAD_REQUEST, "invalid", NULL, "%s", err);
	fn = e->kind == API_COMMAND   ? server_execute
	     : e->kind == API_HISTORY ? history_list
				      : history_version;
	reply = run_job(l->h, who, fn, req);
	if (reply == NULL)
		return refuse(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable", NULL,
			      "aster-control is stopping");
	return send_json(c, api_status(reply), reply, NULL);
}

/* ------------------------------------------------------------------ requests */

static enum MHD_Result route(struct listener *l, struct MHD_Connection *c, const char *url,
			     const char *method, struct request *rq)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *who = ci != NULL ? ci->socket_context : NULL;
	bool get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

	if (who == NULL)
		return MHD_NO;
	if (!who->identified)
		identify(l->h, c, who);
	if (who->role == SERVER_ROLE_NONE)
		return refuse(c, MHD_HTTP_FORBIDDEN, "denied", NULL, "permission denied: %s",
			      who->why);
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) == 0)
		return serve_api(l, c, url, method, rq, who);
	if (!get)
		return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				 "read-only: GET /health, /metrics, /status, /events, /console/; "
				 "changes go to /api/v1/ over HTTPS\n",
				 "GET, HEAD");
	if (strcmp(url, "/") == 0) {
		struct MHD_Response *r =
		    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		enum MHD_Result rc;

		if (r == NULL)
			return MHD_NO;
		MHD_add_response_header(r, "Location", "/console/");
		rc = MHD_queue_response(c, MHD_HTTP_FOUND, r);
		MHD_destroy_response(r);
		return rc;
	}
	if (strcmp(url, "/health") == 0 || strcmp(url, "/status") == 0 ||
	    strcmp(url, "/metrics") == 0)
		return serve_sample(l->h, c, url);
	if (strcmp(url, "/events") == 0)
		return serve_events(l->h, c, who);
	if (strcmp(url, "/console") == 0 || strncmp(url, "/console/", 9) == 0)
		return serve_asset(c, url);
	return send_text(
	    c, MHD_HTTP_NOT_FOUND,
	    "not found: GET /health, /metrics, /status, /events, /console/, /api/v1/\n", NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **req_cls)
{
	struct listener *l = cls;
	struct request *rq = *req_cls;
	uint32_t max = l->tls ? l->h->set->https_max_body : 0;

	(void)version;
	if (rq == NULL) {
		/* Headers only: refuse a body announced too large before reading it. */
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		*req_cls = rq;
		if (cl != NULL && strtoull(cl, NULL, 10) > max) {
			/* Answered now, the body unread (the connection then closes). */
			rq->too_big = true;
			return route(l, c, url, method, rq);
		}
		return MHD_YES;
	}
	if (*upload_size != 0) {
		/* The plain listener reads no body (max 0): a POST there is refused anyway. */
		if (!rq->too_big && rq->len + *upload_size > max)
			rq->too_big = true;
		if (!rq->too_big) {
			if (rq->len + *upload_size > rq->cap) {
				size_t cap = rq->cap ? rq->cap : 65536;
				char *p;

				while (cap < rq->len + *upload_size)
					cap *= 2;
				p = realloc(rq->body, cap);
				if (p == NULL)
					return MHD_NO;
				rq->body = p;
				rq->cap = cap;
			}
			memcpy(rq->body + rq->len, upload_data, *upload_size);
			rq->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return route(l, c, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *req_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
	}
	*req_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct listener *l = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	fprintf(stderr, "aster-control: %s: %s\n", l->tls ? "https" : "http", msg);
}

/* ------------------------------------------------------------------ start, stop */

static char *read_pem(const char *key, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;
	long size;

	if (f == NULL) {
		snprintf(err, errlen, "https: %s %s: cannot read: %s", key, path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < (16L << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) != NULL) {
		len = fread(buf, 1, (size_t)size, f);
		buf[len] = '\0';
	}
	fclose(f);
	if (buf == NULL || len == 0) {
		free(buf);
		snprintf(err, errlen, "https: %s %s: empty or unreadable", key, path);
		return NULL;
	}
	return buf;
}

/* The PEM files, checked with GnuTLS so that a mistake is one line naming the file
 * rather than a libmicrohttpd message. */
static int load_tls(struct listener *l, const struct settings *set, char *err, size_t errlen)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert, key, ca;
	int rc;

	l->cert = read_pem("tls_cert", set->tls_cert, err, errlen);
	l->key = l->cert != NULL ? read_pem("tls_key", set->tls_key, err, errlen) : NULL;
	l->ca = l->key != NULL ? read_pem("tls_client_ca", set->tls_client_ca, err, errlen) : NULL;
	if (l->ca == NULL)
		return -EINVAL;
	cert = (gnutls_datum_t){(unsigned char *)l->cert, (unsigned int)strlen(l->cert)};
	key = (gnutls_datum_t){(unsigned char *)l->key, (unsigned int)strlen(l->key)};
	ca = (gnutls_datum_t){(unsigned char *)l->ca, (unsigned int)strlen(l->ca)};
	if (gnutls_certificate_allocate_credentials(&cred) < 0) {
		snprintf(err, errlen, "https: out of memory");
		return -ENOMEM;
	}
	rc = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		snprintf(err, errlen, "https: tls_cert %s / tls_key %s: %s", set->tls_cert,
			 set->tls_key, gnutls_strerror(rc));
	} else {
		rc = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
		if (rc <= 0)
			snprintf(err, errlen, "https: tls_client_ca %s: %s", set->tls_client_ca,
				 rc == 0 ? "no CA certificate in it" : gnutls_strerror(rc));
		rc = rc <= 0 ? -1 : 0;
	}
	gnutls_certificate_free_credentials(cred);
	return rc < 0 ? -EINVAL : 0;
}

static int listen_on(struct listener *l, const struct settings *set, char *err, size_t errlen)
{
	const char *bind = l->tls ? set->https_bind : set->http_bind;
	uint16_t port = l->tls ? set->https_port : set->http_port;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	unsigned int flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "%s: %s: not an IPv4 address", l->tls ? "https" : "http",
			 bind);
		return -EINVAL;
	}
	if (l->tls) {
		if (load_tls(l, set, err, errlen) < 0)
			return -EINVAL;
		l->mhd = MHD_start_daemon(
		    flags | MHD_USE_TLS, port, NULL, NULL, handle, l, MHD_OPTION_EXTERNAL_LOGGER,
		    mhd_log, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		    MHD_OPTION_HTTPS_MEM_CERT, l->cert, MHD_OPTION_HTTPS_MEM_KEY, l->key,
		    MHD_OPTION_HTTPS_MEM_TRUST, l->ca, MHD_OPTION_HTTPS_PRIORITIES, TLS_PRIORITIES,
		    MHD_OPTION_NOTIFY_CONNECTION, on_connection, l, MHD_OPTION_NOTIFY_COMPLETED,
		    completed, l, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS,
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTPS_TIMEOUT_S, MHD_OPTION_END);
	} else {
		l->mhd = MHD_start_daemon(
		    flags, port, NULL, NULL, handle, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_CONNECTION,
		    on_connection, l, MHD_OPTION_NOTIFY_COMPLETED, completed, l,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONNECTIONS,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_S, MHD_OPTION_END);
	}
	if (l->mhd == NULL) {
		snprintf(err, errlen, "%s %s:%u: cannot listen", l->tls ? "https" : "http", bind,
			 port);
		return -EADDRINUSE;
	}
	return 0;
}

static void listener_stop(struct listener *l)
{
	if (l->mhd != NULL)
		MHD_stop_daemon(l->mhd);
	l->mhd = NULL;
	free(l->cert);
	/* The key is secret: not left in freed memory. */
	if (l->key != NULL)
		explicit_bzero(l->key, strlen(l->key));
	free(l->key);
	free(l->ca);
}

struct http *http_start(const struct settings *set, char *err, size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));
	int rc = 0;

	if (h == NULL) {
		snprintf(err, errlen, "http: out of memory");
		return NULL;
	}
	h->set = set;
	h->plain = (struct listener){.h = h, .tls = false};
	h->tls = (struct listener){.h = h, .tls = true};
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->efd < 0) {
		rc = -errno;
		snprintf(err, errlen, "http: eventfd: %s", strerror(errno));
	}
	if (rc == 0 && set->http_port != 0)
		rc = listen_on(&h->plain, set, err, errlen);
	if (rc == 0 && set->https_port != 0)
		rc = listen_on(&h->tls, set, err, errlen);
	if (rc == 0 && (h->plain.mhd != NULL || h->tls.mhd != NULL)) {
		rc = -pthread_create(&h->stats_thread, NULL, stats_thread, h);
		h->stats_running = rc == 0;
		if (rc < 0)
			snprintf(err, errlen, "http: cannot start a thread: %s", strerror(-rc));
	}
	if (rc < 0) {
		http_stop(h);
		errno = -rc;
		return NULL;
	}
	return h;
}

void http_stop(struct http *h)
{
	if (h == NULL)
		return;
	/* Wake whoever waits (jobs, streams): they answer 503 or end their stream. */
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	h->head = h->tail = NULL;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (h->stats_running)
		pthread_join(h->stats_thread, NULL);
	listener_stop(&h->plain);
	listener_stop(&h->tls);
	if (h->efd >= 0)
		close(h->efd);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h->health);
	free(h->status);
	free(h->status_line);
	free(h->metrics);
	free(h->stats_line);
	free(h->latency_metrics);
	free(h);
}

/* Pretty JSON ending with a newline, as curl users expect. */
static char *dump_pretty(json_t *o)
{
	char *t = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER), *n;
	size_t len;

	if (t == NULL)
		return NULL;
	len = strlen(t);
	n = realloc(t, len + 2);
	if (n == NULL)
		return t;
	n[len] = '\n';
	n[len + 1] = '\0';
	return n;
}

void http_publish(struct http *h, json_t *health, int healthy, json_t *status, char *metrics)
{
	struct timespec ts;
	char *hs, *ss, *line, *old[4];

	clock_gettime(CLOCK_REALTIME, &ts);
	/* Only this thread changes seq: reading it unlocked is safe here. */
	json_object_set_new(status, "sample", json_integer((json_int_t)(h->seq + 1)));
	json_object_set_new(status, "time_ms",
			    json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	hs = dump_pretty(health);
	ss = dump_pretty(status);
	line = json_dumps(status, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(health);
	json_decref(status);
	pthread_mutex_lock(&h->lock);
	old[0] = h->health;
	old[1] = h->status;
	old[2] = h->status_line;
	old[3] = h->metrics;
	h->health = hs;
	h->healthy = healthy;
	h->published_ms = mono_ms();
	h->status = ss;
	h->status_line = line;
	h->metrics = metrics;
	h->seq++;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < 4; i++)
		free(old[i]);
}
