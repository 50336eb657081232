/* SPDX-License-Identifier: BSD-3-Clause */
/* The read-only HTTP endpoint: see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

struct http {
	struct MHD_Daemon *mhd;
	pthread_mutex_t lock;
	char *health;
	int healthy;
	char *status;
	char *metrics;
};

static const char not_ready[] = "{\"state\": \"down\", \"reasons\": [\"starting\"]}\n";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_size, void **req_cls)
{
	struct http *h = cls;
	const char *body = NULL, *type = "application/json";
	unsigned int code = MHD_HTTP_OK;
	enum MHD_Result rc;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	/* Issue 3 §7: read-only. A body is never read, so a POST cannot smuggle one in. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		*upload_size = 0;
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     "read-only endpoint: GET /health, /metrics, /status\n");
	}
	pthread_mutex_lock(&h->lock);
	if (strcmp(url, "/health") == 0) {
		body = h->health != NULL ? h->health : not_ready;
		code = h->health != NULL && h->healthy ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
	} else if (strcmp(url, "/status") == 0) {
		body = h->status != NULL ? h->status : not_ready;
	} else if (strcmp(url, "/metrics") == 0) {
		body = h->metrics != NULL ? h->metrics : "";
		type = "text/plain; version=0.0.4; charset=utf-8";
	}
	if (body == NULL) {
		pthread_mutex_unlock(&h->lock);
		return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
			     "not found: GET /health, /metrics, /status\n");
	}
	/* reply() copies the body, so the lock covers the copy and nothing longer. */
	rc = reply(c, code, type, body);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

struct http *http_start(const char *bind, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct http *h;

	if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, port, NULL,
				  NULL, handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
				  10u, MHD_OPTION_END);
	if (h->mhd == NULL) {
		pthread_mutex_destroy(&h->lock);
		free(h);
		errno = EADDRINUSE;
		return NULL;
	}
	return h;
}

void http_stop(struct http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	pthread_mutex_destroy(&h->lock);
	free(h->health);
	free(h->status);
	free(h->metrics);
	free(h);
}

void http_publish(struct http *h, char *health_json, int healthy, char *status_json, char *metrics)
{
	char *old[3];

	pthread_mutex_lock(&h->lock);
	old[0] = h->health;
	old[1] = h->status;
	old[2] = h->metrics;
	h->health = health_json;
	h->healthy = healthy;
	h->status = status_json;
	h->metrics = metrics;
	pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < 3; i++)
		free(old[i]);
}
