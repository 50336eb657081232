/* SPDX-License-Identifier: BSD-3-Clause */
/* The audit log: see audit.h for the line format and why it is written this way. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

struct audit {
	int fd;
};

struct audit *audit_open(const char *path)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		int e = errno;

		free(a);
		errno = e;
		return NULL;
	}
	return a;
}

void audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	close(a->fd);
	free(a);
}

int audit_append(struct audit *a, const struct audit_entry *e)
{
	char when[40], *line;
	struct timespec ts;
	struct tm tm;
	json_t *o;
	size_t len;
	ssize_t w;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03ldZ", ts.tv_nsec / 1000000);
	if (e->identity != NULL)
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "time", when, "identity",
			      e->identity, "address", e->address != NULL ? e->address : "",
			      "command", e->command, "result", e->result, "before",
			      (json_int_t)e->before, "after", (json_int_t)e->after);
	else
		o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "time", when, "uid",
			      (json_int_t)e->uid, "gid", (json_int_t)e->gid, "pid",
			      (json_int_t)e->pid, "command", e->command, "result", e->result,
			      "before", (json_int_t)e->before, "after", (json_int_t)e->after);
	if (o == NULL)
		return -ENOMEM;
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL)
		return -ENOMEM;
	len = strlen(line);
	line[len++] = '\n'; /* replaces the NUL: the line goes out in one write */
	w = write(a->fd, line, len);
	if (w < 0)
		rc = -errno;
	else if ((size_t)w != len)
		rc = -EIO;
	else if (fdatasync(a->fd) < 0)
		rc = -errno;
	free(line);
	return rc;
}
