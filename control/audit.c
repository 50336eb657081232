/* SPDX-License-Identifier: BSD-3-Clause */
/* The audit log: see audit.h for the line format and why it is written this way. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

struct audit {
	int fd;
	bool unsynced;	       /* refusals written since the last fdatasync */
	uint64_t last_sync_ms; /* monotonic */
	uint64_t window_ms;    /* start of the current second of refusals */
	uint32_t window_lines; /* refusals written in it */
	uint64_t suppressed;   /* refusals counted, not written, in it */
	/* the last of them, named in the summary line */
	struct audit_entry last;
	char last_command[AUDIT_TEXT_MAX], last_identity[AUDIT_TEXT_MAX],
	    last_address[AUDIT_TEXT_MAX];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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
	audit_flush(a, UINT64_MAX);
	close(a->fd);
	free(a);
}

/* Length of the valid UTF-8 character at p (at most n bytes), or 0. */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and code points past U+10FFFF are not UTF-8 */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t audit_utf8_prefix(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0, c;

	while (o < n && (c = utf8_char(p + o, n - o)) != 0 && o + c <= max)
		o += c;
	return o;
}

/* `s` as valid UTF-8 (each invalid byte becomes '?') of at most AUDIT_TEXT_MAX - 1 bytes,
 * cut on a character boundary: a line is never lost for what a caller typed. */
static const char *clean(const char *s, char *buf)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strlen((const char *)p), i = 0, o = 0, c;

	while (i < n && o < AUDIT_TEXT_MAX - 1) {
		c = utf8_char(p + i, n - i);
		if (c == 0) {
			buf[o++] = '?';
			i++;
			continue;
		}
		if (o + c > AUDIT_TEXT_MAX - 1)
			break;
		memcpy(buf + o, p + i, c);
		o += c;
		i += c;
	}
	buf[o] = '\0';
	return buf;
}

static int write_line(struct audit *a, const struct audit_entry *e, uint64_t repeated)
{
	char when[40], *line, command[AUDIT_TEXT_MAX], result[AUDIT_TEXT_MAX],
	    ident[AUDIT_TEXT_MAX], addr[AUDIT_TEXT_MAX];
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
			      clean(e->identity, ident), "address", clean(e->address, addr),
			      "command", clean(e->command, command), "result",
			      clean(e->result, result), "before", (json_int_t)e->before, "after",
			      (json_int_t)e->after);
	else
		o = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:I, s:I}", "time", when, "uid",
			      (json_int_t)e->uid, "gid", (json_int_t)e->gid, "pid",
			      (json_int_t)e->pid, "command", clean(e->command, command), "result",
			      clean(e->result, result), "before", (json_int_t)e->before, "after",
			      (json_int_t)e->after);
	if (o == NULL)
		return -ENOMEM;
	if (repeated != 0)
		json_object_set_new(o, "repeated", json_integer((json_int_t)repeated));
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
	free(line);
	return rc;
}

int audit_append(struct audit *a, const struct audit_entry *e)
{
	int rc = write_line(a, e, 0);

	if (rc == 0 && fdatasync(a->fd) < 0)
		rc = -errno;
	if (rc == 0) {
		a->unsynced = false;
		a->last_sync_ms = mono_ms();
	}
	return rc;
}

int audit_append_refusal(struct audit *a, const struct audit_entry *e)
{
	uint64_t now = mono_ms();
	int rc;

	if (now - a->window_ms >= 1000) {
		audit_flush(a, now);
		a->window_ms = now;
		a->window_lines = 0;
	}
	if (a->window_lines >= AUDIT_REFUSALS_PER_S) {
		/* Counted, and summarised by audit_flush: nothing refused goes unrecorded. */
		a->suppressed++;
		a->last = *e;
		a->last.command = clean(e->command, a->last_command);
		a->last.identity = e->identity ? clean(e->identity, a->last_identity) : NULL;
		a->last.address = e->address ? clean(e->address, a->last_address) : NULL;
		return 1;
	}
	a->window_lines++;
	rc = write_line(a, e, 0);
	if (rc == 0)
		a->unsynced = true;
	return rc;
}

void audit_flush(struct audit *a, uint64_t now_ms)
{
	if (a->suppressed != 0 && (now_ms == UINT64_MAX || now_ms - a->window_ms >= 1000)) {
		struct audit_entry e = a->last;

		e.result = "refused: more in one second than are written one by one";
		if (write_line(a, &e, a->suppressed) == 0)
			a->unsynced = true;
		a->suppressed = 0;
	}
	if (a->unsynced && (now_ms == UINT64_MAX || now_ms - a->last_sync_ms >= AUDIT_SYNC_MS)) {
		/* Only refusals wait here: a failed sync is retried at the next flush. */
		if (fdatasync(a->fd) == 0)
			a->unsynced = false;
		a->last_sync_ms = now_ms == UINT64_MAX ? mono_ms() : now_ms;
	}
}
