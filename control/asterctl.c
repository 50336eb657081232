/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * asterctl: the operator CLI, a thin client of aster-control (issue 3 §2). Each command
 * is one JSON request and one JSON reply (server.h), over the asterctl socket on the
 * appliance, or with --server over the HTTPS API of a remote one (api.h, mutual TLS:
 * the same request and reply, so the same output and exit status). This file only
 * builds the request and prints the reply, as human tables or, with -o json, as JSON.
 * Every error is one line on stderr and a non-zero exit (docs/conventions.md §2).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "api.h"
#include "ctl_proto.h"
#include "yaml_doc.h"

#define DEFAULT_SOCKET "/run/aster/asterctl.sock"

/* Where requests go: the local socket, or a remote aster-control's HTTPS API. */
struct target {
	const char *sock;
	const char *server; /* https://HOST:PORT, or NULL for the socket */
	const char *cert, *key, *cacert;
};

/* Exit statuses: `health` maps the state onto 0/1/2; 3 when it could not be asked. */
enum {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_HEALTH_UNKNOWN = 3,
};

static const char *cmd_name = "";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: asterctl [--config FILE] [--socket PATH | --server https://HOST:PORT\n"
		"                --cert FILE --key FILE [--cacert FILE]] COMMAND [ARGS]\n"
		"  apply -f ROUTING.yaml [--dry-run]\n"
		"  add-subscriber NAME --feed F --port P --dst-mac M --dst-ip I --dst-port N\n"
		"                 --session S --symbols 'PAT,PAT' [--types T] [--max-payload N]\n"
		"  remove-subscriber NAME\n"
		"  add-pattern SUBSCRIBER PATTERN\n"
		"  remove-pattern SUBSCRIBER PATTERN\n"
		"  get feeds|subscribers [-o json]\n"
		"  get --version N [--diff] [-o json]   version N as applied (canonical YAML),\n"
		"                                        or its diff against the version before\n"
		"  history [--before N] [--limit N] [-o json]\n"
		"  stats [-o json]\n"
		"  health [-o json]      exit 0 healthy, 1 degraded, 2 down, 3 unknown\n"
		"  status [-o json]\n"
		"The socket defaults to $ASTERCTL_SOCKET, else " DEFAULT_SOCKET ".\n"
		"--server drives a remote aster-control over its HTTPS API with a client\n"
		"certificate; defaults: $ASTERCTL_SERVER, $ASTERCTL_CERT, $ASTERCTL_KEY,\n"
		"$ASTERCTL_CACERT (else the system's CAs), then the config file.\n"
		"The config file (YAML: server, cert, key, cacert, socket) is --config FILE, else\n"
		"$ASTERCTL_CONFIG, else ~/.config/aster/asterctl.conf when it exists.\n");
}

static int die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "asterctl: %s%s", cmd_name, cmd_name[0] ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ transport */

/* A reply that is not "ok": its one line, then exit with `fail_code`. */
static json_t *checked(json_t *reply, int fail_code)
{
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply, "error"));

		/* The server's message already names the command and the object. */
		fprintf(stderr, "asterctl: %s\n", e != NULL ? e : "request failed");
		json_decref(reply);
		exit(fail_code);
	}
	return reply;
}

struct buffer {
	char *p;
	size_t len;
};

static size_t take(char *data, size_t size, size_t n, void *arg)
{
	struct buffer *b = arg;
	char *p = realloc(b->p, b->len + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->p = p;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/* A GET endpoint's URL for `req`: one version's number in the path, the other string
 * arguments (numbers asterctl checked) as the query. */
static void get_url(char *url, size_t len, const char *server, const struct api_endpoint *e,
		    const json_t *req)
{
	int n = snprintf(url, len, "%s%s%s", server, API_PREFIX, e->path);
	char sep = '?';
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)req, k, v)
	{
		if (!json_is_string(v) || strcmp(k, "cmd") == 0 || strcmp(k, "what") == 0)
			continue;
		if (e->kind == API_HISTORY_VERSION && strcmp(k, "version") == 0)
			n += snprintf(url + n, n < (int)len ? len - (size_t)n : 0, "%s",
				      json_string_value(v));
		else
			n += snprintf(url + n, n < (int)len ? len - (size_t)n : 0, "%c%s=%s", sep,
				      k, json_string_value(v)),
			    sep = '&';
	}
	if (n >= (int)len)
		die(EXIT_ERR, "request too long for a URL");
}

/* The request over the HTTPS API: the endpoint api.h names for it, the same reply. */
static json_t *call_https(const struct target *t, json_t *req, int fail_code)
{
	const struct api_endpoint *e = api_for_request(req);
	char url[1024], curl_err[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct buffer b = {NULL, 0};
	char *body = NULL;
	json_error_t jerr;
	json_t *reply;
	long code = 0;
	CURLcode rc;
	CURL *c = NULL;

	if (e == NULL)
		die(EXIT_ERR, "no API endpoint for this command");
	if (strcmp(e->method, "GET") == 0)
		get_url(url, sizeof(url), t->server, e, req);
	else
		snprintf(url, sizeof(url), "%s%s%s", t->server, API_PREFIX, e->path);
	if (strcmp(e->method, "POST") == 0) {
		json_t *o = api_body(e, req);

		body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (body == NULL)
			die(EXIT_ERR, "out of memory");
	}
	json_decref(req);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (c = curl_easy_init()) == NULL)
		die(EXIT_ERR, "cannot initialise libcurl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(c, CURLOPT_SSLCERT, t->cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, t->key);
	if (t->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, t->cacert);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (body != NULL) {
		headers = curl_slist_append(headers, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(headers);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	free(body);
	if (rc != CURLE_OK) {
		free(b.p);
		die(fail_code, "cannot reach aster-control at %s: %s", t->server,
		    curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc));
	}
	reply = b.p != NULL ? json_loadb(b.p, b.len, 0, &jerr) : NULL;
	free(b.p);
	if (!json_is_object(reply))
		die(fail_code, "aster-control at %s answered HTTP %ld without a JSON reply",
		    t->server, code);
	return checked(reply, fail_code);
}

/* Send one request (its reference is taken), return its reply (exits on failure with
 * `fail_code`). */
static json_t *call(const struct target *t, json_t *req, int fail_code)
{
	const char *sock = t->sock;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = 0, cap = 0;
	char *text, *buf = NULL;
	json_error_t jerr;
	json_t *reply;
	int fd, rc;

	if (t->server != NULL)
		return call_https(t, req, fail_code);
	if (strlen(sock) >= sizeof(sa.sun_path))
		die(EXIT_USAGE, "socket path too long: %s", sock);
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(fail_code, "cannot reach aster-control at %s: %s", sock, strerror(errno));
	text = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(req);
	if (text == NULL)
		die(EXIT_ERR, "out of memory");
	rc = ctl_write_all(fd, text, strlen(text));
	if (rc == 0)
		rc = ctl_write_all(fd, "\n", 1);
	free(text);
	if (rc != 0)
		die(fail_code, "sending to aster-control: %s", strerror(-rc));
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t r;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (buf == NULL)
				die(EXIT_ERR, "out of memory");
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die(fail_code, "reading from aster-control: %s", strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\n', (size_t)r) != NULL)
			break;
	}
	close(fd);
	if (len == 0)
		die(fail_code, "aster-control closed the connection without a reply");
	reply = json_loadb(buf, len, JSON_DISABLE_EOF_CHECK, &jerr);
	free(buf);
	if (!json_is_object(reply))
		die(fail_code, "aster-control sent an invalid reply: %s", jerr.text);
	return checked(reply, fail_code);
}

static void print_json(json_t *reply)
{
	json_object_del(reply, "ok");
	json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

/* ------------------------------------------------------------------ tables */

#define MAX_COLS 10

struct table {
	size_t n_cols, n_rows, cap;
	char **cells; /* n_rows * n_cols */
	size_t width[MAX_COLS];
};

static void row(struct table *t, ...)
{
	va_list ap;

	if (t->n_rows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->cells = realloc(t->cells, t->cap * t->n_cols * sizeof(char *));
		if (t->cells == NULL)
			die(EXIT_ERR, "out of memory");
	}
	va_start(ap, t);
	for (size_t c = 0; c < t->n_cols; c++) {
		const char *v = va_arg(ap, const char *);
		char *s = strdup(v != NULL ? v : "-");
		size_t w = strlen(s);

		if (s == NULL)
			die(EXIT_ERR, "out of memory");
		t->cells[t->n_rows * t->n_cols + c] = s;
		if (w > t->width[c])
			t->width[c] = w;
	}
	va_end(ap);
	t->n_rows++;
}

static void print_table(struct table *t)
{
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s = t->cells[r * t->n_cols + c];

			if (c + 1 == t->n_cols)
				printf("%s\n", s);
			else
				printf("%-*s  ", (int)t->width[c], s);
			free(t->cells[r * t->n_cols + c]);
		}
	}
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

static const char *num(char *buf, json_t *v)
{
	snprintf(buf, 24, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* ------------------------------------------------------------------ commands */

static const char *opt_value(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		die(EXIT_USAGE, "%s needs a value", argv[*i]);
	return argv[++*i];
}

/* -o json, the only option of the read commands. */
static bool parse_output(int argc, char **argv, int first)
{
	bool json = false;

	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
			const char *v = opt_value(argc, argv, &i);

			if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0)
				die(EXIT_USAGE, "unknown output format \"%s\" (json or table)", v);
			json = strcmp(v, "json") == 0;
		} else {
			die(EXIT_USAGE, "unexpected argument \"%s\"", argv[i]);
		}
	}
	return json;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 0;
	char *buf = NULL;

	if (f == NULL)
		die(EXIT_ERR, "%s: %s", path, strerror(errno));
	*len = 0;
	for (;;) {
		size_t r;

		if (cap - *len < 65536) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap + 1);
			if (buf == NULL)
				die(EXIT_ERR, "out of memory");
		}
		r = fread(buf + *len, 1, cap - *len, f);
		*len += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		die(EXIT_ERR, "%s: read error", path);
	if (f != stdin)
		fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* Print a change's reply: the diff, the versions and what the dataplane said. */
static int print_change(json_t *r, double elapsed_ms)
{
	json_t *diff = json_object_get(r, "diff"), *dp = json_object_get(r, "dataplane"), *line;
	json_int_t before = json_integer_value(json_object_get(r, "version_before"));
	json_int_t after = json_integer_value(json_object_get(r, "version"));
	json_int_t n = json_integer_value(json_object_get(r, "changes"));
	size_t i;

	json_array_foreach(diff, i, line) printf("%s\n", json_string_value(line));
	if (n == 0) {
		printf("no changes (table version %" JSON_INTEGER_FORMAT ")\n", before);
		return EXIT_OK;
	}
	if (json_is_true(json_object_get(r, "dry_run"))) {
		printf("dry run: %" JSON_INTEGER_FORMAT
		       " change%s, not applied (table version stays "
		       "%" JSON_INTEGER_FORMAT ")\n",
		       n, n == 1 ? "" : "s", before);
		return EXIT_OK;
	}
	printf("%" JSON_INTEGER_FORMAT " change%s: table version %" JSON_INTEGER_FORMAT
	       " -> %" JSON_INTEGER_FORMAT "\n",
	       n, n == 1 ? "" : "s", before, after);
	if (!json_is_true(json_object_get(dp, "reached"))) {
		printf("%s\n", json_string_value(json_object_get(dp, "message")));
		return EXIT_OK;
	}
	if (json_integer_value(json_object_get(dp, "status")) != 0) {
		fprintf(stderr,
			"asterctl: stored as version %" JSON_INTEGER_FORMAT
			" but the dataplane refused it: %s\n",
			after, json_string_value(json_object_get(dp, "error")));
		return EXIT_ERR;
	}
	/* The reply comes after the dataplane's APPLY_REPLY, which follows the swap and every
	 * RX lcore's quiescence: this is command to routing by the new table. */
	printf("dataplane: version %" JSON_INTEGER_FORMAT " in force (build %.3f ms, publish "
	       "%.3f ms); command to new table in force: %.3f ms\n",
	       json_integer_value(json_object_get(dp, "table_version")),
	       (double)json_integer_value(json_object_get(dp, "build_ns")) / 1e6,
	       (double)json_integer_value(json_object_get(dp, "publish_ns")) / 1e6, elapsed_ms);
	return EXIT_OK;
}

static int change(const struct target *tg, json_t *req, bool json)
{
	double t0 = mono_ms();
	json_t *r = call(tg, req, EXIT_ERR);
	double elapsed = mono_ms() - t0;
	int rc;

	if (json) {
		json_object_set_new(r, "elapsed_ms", json_real(elapsed));
		print_json(r);
		rc = EXIT_OK;
	} else {
		rc = print_change(r, elapsed);
	}
	json_decref(r);
	return rc;
}

static int cmd_apply(const struct target *tg, int argc, char **argv)
{
	const char *file = NULL;
	bool dry = false, json = false;
	json_t *req;
	size_t len;
	char *text;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0)
			file = opt_value(argc, argv, &i);
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = true;
		else if (strcmp(argv[i], "-o") == 0)
			json = strcmp(opt_value(argc, argv, &i), "json") == 0;
		else
			die(EXIT_USAGE, "unexpected argument \"%s\"", argv[i]);
	}
	if (file == NULL)
		die(EXIT_USAGE, "-f ROUTING.yaml required");
	text = read_file(file, &len);
	req = json_pack("{s:s, s:s, s:s%, s:b}", "cmd", "apply", "file", file, "yaml", text, len,
			"dry_run", (int)dry);
	free(text);
	if (req == NULL)
		die(EXIT_ERR, "%s: not valid UTF-8 text", file);
	return change(tg, req, json);
}

/* Split --symbols on commas outside (), [] and {} (so "^A{2,3}" stays one pattern). */
static json_t *split_patterns(const char *s)
{
	json_t *a = json_array();
	const char *start = s;
	int depth = 0;

	for (const char *p = s;; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (*p == '(' || *p == '[' || *p == '{')
			depth++;
		else if ((*p == ')' || *p == ']' || *p == '}') && depth > 0)
			depth--;
		if (*p == '\0' || (*p == ',' && depth == 0)) {
			if (p == start)
				die(EXIT_USAGE, "--symbols: empty pattern in \"%s\"", s);
			json_array_append_new(a, json_stringn(start, (size_t)(p - start)));
			start = p + 1;
		}
		if (*p == '\0')
			break;
	}
	return a;
}

static long parse_long(const char *opt, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *v == '\0' || *end != '\0')
		die(EXIT_USAGE, "%s: \"%s\" is not an integer", opt, v);
	return n;
}

static int cmd_add_subscriber(const struct target *tg, int argc, char **argv)
{
	const char *feed = NULL, *port = NULL, *mac = NULL, *ip = NULL, *dport = NULL;
	const char *session = NULL, *symbols = NULL, *types = NULL, *maxpl = NULL;
	json_t *sub, *req;
	bool json = false;

	if (argc < 2 || argv[1][0] == '-')
		die(EXIT_USAGE, "NAME required");
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--feed") == 0)
			feed = opt_value(argc, argv, &i);
		else if (strcmp(o, "--port") == 0)
			port = opt_value(argc, argv, &i);
		else if (strcmp(o, "--dst-mac") == 0)
			mac = opt_value(argc, argv, &i);
		else if (strcmp(o, "--dst-ip") == 0)
			ip = opt_value(argc, argv, &i);
		else if (strcmp(o, "--dst-port") == 0)
			dport = opt_value(argc, argv, &i);
		else if (strcmp(o, "--session") == 0)
			session = opt_value(argc, argv, &i);
		else if (strcmp(o, "--symbols") == 0)
			symbols = opt_value(argc, argv, &i);
		else if (strcmp(o, "--types") == 0)
			types = opt_value(argc, argv, &i);
		else if (strcmp(o, "--max-payload") == 0)
			maxpl = opt_value(argc, argv, &i);
		else if (strcmp(o, "-o") == 0)
			json = strcmp(opt_value(argc, argv, &i), "json") == 0;
		else
			die(EXIT_USAGE, "unexpected argument \"%s\"", o);
	}
	if (!feed || !port || !mac || !ip || !dport || !session || !symbols)
		die(EXIT_USAGE, "--feed, --port, --dst-mac, --dst-ip, --dst-port, --session and "
				"--symbols are required");
	/* Key order follows docs/protocol.md §4, so the stored YAML reads like a hand-written one.
	 */
	sub = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:I}, s:s, s:o}", "name", argv[1], "feed",
			feed, "port", port, "dst", "mac", mac, "ip", ip, "port",
			(json_int_t)parse_long("--dst-port", dport), "session", session, "symbols",
			split_patterns(symbols));
	if (sub == NULL)
		die(EXIT_USAGE, "arguments are not valid UTF-8");
	if (types != NULL)
		json_object_set_new(sub, "types", json_string(types));
	if (maxpl != NULL)
		json_object_set_new(sub, "max_payload",
				    json_integer(parse_long("--max-payload", maxpl)));
	req = json_pack("{s:s, s:o}", "cmd", "add-subscriber", "subscriber", sub);
	return change(tg, req, json);
}

static int cmd_simple_change(const struct target *tg, int argc, char **argv)
{
	bool pattern = strstr(argv[0], "pattern") != NULL;
	int need = pattern ? 3 : 2;
	bool json = false;
	json_t *req;

	if (argc < need)
		die(EXIT_USAGE, "%s required", pattern ? "SUBSCRIBER and PATTERN" : "NAME");
	if (argc > need) {
		if (argc == need + 2 && strcmp(argv[need], "-o") == 0)
			json = strcmp(argv[need + 1], "json") == 0;
		else
			die(EXIT_USAGE, "unexpected argument \"%s\"", argv[need]);
	}
	if (pattern)
		req = json_pack("{s:s, s:s, s:s}", "cmd", argv[0], "subscriber", argv[1], "pattern",
				argv[2]);
	else
		req = json_pack("{s:s, s:s}", "cmd", argv[0], "name", argv[1]);
	if (req == NULL)
		die(EXIT_USAGE, "arguments are not valid UTF-8");
	return change(tg, req, json);
}

static void print_feeds(json_t *r)
{
	struct table t = {.n_cols = 4};
	json_t *f, *l;
	size_t i, j;
	char n[24];

	row(&t, "NAME", "PROTOCOL", "LINES", "SUBSCRIBERS");
	json_array_foreach(json_object_get(r, "feeds"), i, f)
	{
		char lines[512] = "";
		size_t o = 0;

		json_array_foreach(json_object_get(f, "lines"), j, l)
		{
			o += (size_t)snprintf(lines + o, o < sizeof(lines) ? sizeof(lines) - o : 0,
					      "%s%s=%s:%" JSON_INTEGER_FORMAT, j ? " " : "",
					      json_string_value(json_object_get(l, "name")),
					      json_string_value(json_object_get(l, "group")),
					      json_integer_value(json_object_get(l, "port")));
		}
		row(&t, json_string_value(json_object_get(f, "name")),
		    json_string_value(json_object_get(f, "protocol")), lines,
		    num(n, json_object_get(f, "subscribers")));
	}
	print_table(&t);
}

static void print_subscribers(json_t *r)
{
	struct table t = {.n_cols = 8};
	json_t *s, *p;
	size_t i, j;
	char mp[24];

	row(&t, "NAME", "FEED", "PORT", "DST", "SESSION", "TYPES", "MAX_PAYLOAD", "PATTERNS");
	json_array_foreach(json_object_get(r, "subscribers"), i, s)
	{
		json_t *dst = json_object_get(s, "dst");
		char d[64], *pats = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&pats, &len);

		snprintf(d, sizeof(d), "%s/%s:%" JSON_INTEGER_FORMAT,
			 json_string_value(json_object_get(dst, "mac")),
			 json_string_value(json_object_get(dst, "ip")),
			 json_integer_value(json_object_get(dst, "port")));
		json_array_foreach(json_object_get(s, "symbols"), j, p)
		    fprintf(f, "%s%s", j ? " " : "", json_string_value(p));
		fclose(f);
		row(&t, json_string_value(json_object_get(s, "name")),
		    json_string_value(json_object_get(s, "feed")),
		    json_string_value(json_object_get(s, "port")), d,
		    json_string_value(json_object_get(s, "session")),
		    json_object_get(s, "types") ? json_string_value(json_object_get(s, "types"))
						: "all",
		    num(mp, json_object_get(s, "max_payload")), pats);
		free(pats);
	}
	print_table(&t);
}

/* A version number argument, as the history requests carry it (a string). */
static const char *version_arg(const char *opt, const char *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (v[0] < '1' || v[0] > '9' || *end != '\0' || errno != 0 || n > INT64_MAX)
		die(EXIT_USAGE, "%s: \"%s\" is not a number from 1", opt, v);
	return v;
}

/* get --version N [--diff] [-o json]: one version rebuilt by the store. */
static int get_version(const struct target *tg, int argc, char **argv)
{
	const char *text, *v;
	bool diff = false, json;
	json_t *r;
	int i = 1;

	v = version_arg("--version", opt_value(argc, argv, &i));

	if (i + 1 < argc && strcmp(argv[i + 1], "--diff") == 0) {
		diff = true;
		i++;
	}
	json = parse_output(argc, argv, i + 1);
	r = call(tg, json_pack("{s:s, s:s}", "cmd", "history-version", "version", v), EXIT_ERR);
	if (json) {
		print_json(r);
	} else {
		text = json_string_value(json_object_get(r, diff ? "diff" : "yaml"));
		fputs(text != NULL ? text : "", stdout);
		if (text != NULL && text[0] != '\0' && text[strlen(text) - 1] != '\n')
			putchar('\n');
	}
	json_decref(r);
	return EXIT_OK;
}

/* history [--before N] [--limit N] [-o json]: the versions, newest first, who made each. */
static int cmd_history(const struct target *tg, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "cmd", "history"), *r, *v;
	struct table t = {.n_cols = 5};
	bool json;
	size_t k;
	int i = 1;

	for (; i + 1 < argc; i++) {
		const char *opt = argv[i], *val;

		if (strcmp(opt, "--before") != 0 && strcmp(opt, "--limit") != 0)
			break;
		val = version_arg(opt, opt_value(argc, argv, &i));
		json_object_set_new(req, opt + 2, json_string(val));
	}
	json = parse_output(argc, argv, i);
	r = call(tg, req, EXIT_ERR);
	if (json) {
		print_json(r);
		json_decref(r);
		return EXIT_OK;
	}
	row(&t, "VERSION", "APPLIED AT", "BY", "CHANGES", "COMMAND");
	json_array_foreach(json_object_get(r, "versions"), k, v)
	{
		char ver[24], ch[24], by[64];
		json_t *who = json_object_get(v, "identity");
		const char *cmd = json_string_value(json_object_get(v, "command"));

		if (who != NULL)
			snprintf(by, sizeof(by), "%s", json_string_value(who));
		else if (json_object_get(v, "uid") != NULL)
			snprintf(by, sizeof(by), "uid %" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(v, "uid")));
		else
			snprintf(by, sizeof(by), "-");
		row(&t, num(ver, json_object_get(v, "version")),
		    json_string_value(json_object_get(v, "applied_at")), by,
		    json_is_true(json_object_get(v, "whole"))
			? "whole table"
			: num(ch, json_object_get(v, "changes")),
		    cmd != NULL ? cmd : "-");
	}
	print_table(&t);
	json_decref(r);
	return EXIT_OK;
}

static int cmd_get(const struct target *tg, int argc, char **argv)
{
	bool json;
	json_t *r;

	if (argc >= 2 && strcmp(argv[1], "--version") == 0)
		return get_version(tg, argc, argv);
	if (argc < 2 || (strcmp(argv[1], "feeds") != 0 && strcmp(argv[1], "subscribers") != 0))
		die(EXIT_USAGE, "say what: feeds, subscribers or --version N");
	json = parse_output(argc, argv, 2);
	r = call(tg, json_pack("{s:s, s:s}", "cmd", "get", "what", argv[1]), EXIT_ERR);
	if (json)
		print_json(r);
	else if (strcmp(argv[1], "feeds") == 0)
		print_feeds(r);
	else
		print_subscribers(r);
	json_decref(r);
	return EXIT_OK;
}

static int cmd_stats(const struct target *tg, int argc, char **argv)
{
	static const char *const feed_cols[] = {"packets",	"messages",  "duplicates", "gaps",
						"gap_messages", "malformed", NULL};
	bool json = parse_output(argc, argv, 1);
	json_t *r = call(tg, json_pack("{s:s}", "cmd", "stats"), EXIT_ERR);
	json_t *st = json_object_get(r, "stats"), *v;
	struct table t = {.n_cols = 7};
	const char *name;
	char b[7][24];

	if (json) {
		print_json(r);
		json_decref(r);
		return EXIT_OK;
	}
	if (strcmp(json_string_value(json_object_get(r, "source")), "dataplane") != 0)
		printf("(dataplane control connection down: counters from the health file)\n");
	row(&t, "FEED", "PACKETS", "MESSAGES", "DUPLICATES", "GAPS", "GAP_MESSAGES", "MALFORMED");
	json_object_foreach(json_object_get(st, "feeds"), name, v)
	{
		for (int c = 0; feed_cols[c] != NULL; c++)
			num(b[c], json_object_get(v, feed_cols[c]));
		row(&t, name, b[0], b[1], b[2], b[3], b[4], b[5]);
	}
	print_table(&t);
	printf("\n");
	t = (struct table){.n_cols = 4};
	row(&t, "SUBSCRIBER", "MESSAGES", "PACKETS", "DROPPED");
	json_object_foreach(json_object_get(st, "subscribers"), name, v)
	    row(&t, name, num(b[0], json_object_get(v, "messages")),
		num(b[1], json_object_get(v, "packets")), num(b[2], json_object_get(v, "dropped")));
	print_table(&t);
	printf("\n");
	t = (struct table){.n_cols = 2};
	row(&t, "DROP_REASON", "COUNT");
	json_object_foreach(json_object_get(st, "drops"), name, v) row(&t, name, num(b[0], v));
	print_table(&t);
	json_decref(r);
	return EXIT_OK;
}

static int cmd_health(const struct target *tg, int argc, char **argv)
{
	bool json = parse_output(argc, argv, 1);
	json_t *r = call(tg, json_pack("{s:s}", "cmd", "health"), EXIT_HEALTH_UNKNOWN), *reason;
	const char *state = json_string_value(json_object_get(r, "state"));
	int rc = EXIT_HEALTH_UNKNOWN;
	size_t i;

	if (state == NULL)
		die(EXIT_HEALTH_UNKNOWN, "reply without a state");
	if (strcmp(state, "healthy") == 0)
		rc = 0;
	else if (strcmp(state, "degraded") == 0)
		rc = 1;
	else if (strcmp(state, "down") == 0)
		rc = 2;
	if (json) {
		print_json(r);
	} else {
		printf("%s (table version %" JSON_INTEGER_FORMAT ")\n", state,
		       json_integer_value(json_object_get(r, "store_version")));
		json_array_foreach(json_object_get(r, "reasons"), i, reason)
		    printf("  %s\n", json_string_value(reason));
	}
	json_decref(r);
	return rc;
}

static int cmd_status(const struct target *tg, int argc, char **argv)
{
	bool json = parse_output(argc, argv, 1);
	json_t *r = call(tg, json_pack("{s:s}", "cmd", "status"), EXIT_ERR);
	json_t *dp = json_object_get(r, "dataplane");

	if (json) {
		print_json(r);
	} else {
		printf("table version %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
		       " subscribers\n",
		       json_integer_value(json_object_get(r, "version")),
		       json_integer_value(json_object_get(r, "subscribers")));
		if (json_is_true(json_object_get(dp, "connected")))
			printf("dataplane: connected, pid %" JSON_INTEGER_FORMAT
			       ", table version %" JSON_INTEGER_FORMAT "\n",
			       json_integer_value(json_object_get(dp, "pid")),
			       json_integer_value(json_object_get(dp, "table_version")));
		else
			printf("dataplane: not connected: %s\n",
			       json_string_value(json_object_get(dp, "error")));
	}
	json_decref(r);
	return EXIT_OK;
}

/* An option's value, else the environment's, else NULL. */
static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

/*
 * The config file (docs/console.md, "asterctl --server"): what a desk would otherwise
 * repeat on every command. Options and the environment win over it.
 */
enum { CONF_SERVER, CONF_CERT, CONF_KEY, CONF_CACERT, CONF_SOCKET, CONF__N };

static const struct yaml_doc_key conf_keys[CONF__N] = {
    [CONF_SERVER] = {"server", YAML_DOC_STR, false, 9, 1024, 0, NULL, NULL},
    [CONF_CERT] = {"cert", YAML_DOC_STR, false, 1, 1024, 0, NULL, NULL},
    [CONF_KEY] = {"key", YAML_DOC_STR, false, 1, 1024, 0, NULL, NULL},
    [CONF_CACERT] = {"cacert", YAML_DOC_STR, false, 1, 1024, 0, NULL, NULL},
    [CONF_SOCKET] = {"socket", YAML_DOC_STR, false, 1, 107, 0, NULL, NULL},
};

/* A file named in the config: `~/` is $HOME's, a relative path the config file's
 * directory's. Must be readable now (cert, key, cacert), so a typo is said with its line. */
static char *conf_path(struct yaml_doc *d, const yaml_node_t *v, int k, const char *conf,
		       bool readable)
{
	const char *p = yaml_doc_str(v, &conf_keys[k]);
	const char *home = getenv("HOME");
	const char *slash = strrchr(conf, '/');
	char *out = NULL;
	int n;

	if (strncmp(p, "~/", 2) == 0 && home != NULL)
		n = asprintf(&out, "%s/%s", home, p + 2);
	else if (p[0] != '/' && slash != NULL)
		n = asprintf(&out, "%.*s/%s", (int)(slash - conf), conf, p);
	else
		n = asprintf(&out, "%s", p);
	if (n < 0)
		die(EXIT_ERR, "out of memory");
	if (readable && access(out, R_OK) != 0) {
		yaml_doc_error(d, v, conf_keys[k].name, "cannot read \"%s\": %s", out,
			       strerror(errno));
		free(out);
		return NULL;
	}
	return out;
}

/* Read `path` into `t`: what the file sets (main() merges it under the options and the
 * environment). Exits with one line "FILE:LINE: key: ..." when the file is wrong. */
static void load_config(struct target *t, const char *path, bool named)
{
	const char **dst[CONF__N] = {
	    [CONF_CERT] = &t->cert, [CONF_KEY] = &t->key, [CONF_CACERT] = &t->cacert};
	yaml_node_t *v[CONF__N];
	struct yaml_doc d;
	char err[512];
	int rc;

	/* The default file is optional: absent, or out of sight (a $HOME not ours). */
	if (!named && access(path, F_OK) != 0)
		return;
	rc = yaml_doc_load_file(&d, path, err, sizeof(err));
	if (rc == 0)
		rc = yaml_doc_map(&d, yaml_doc_root(&d), "config", conf_keys, CONF__N, v, NULL);
	if (rc == 0 && v[CONF_SERVER] != NULL && v[CONF_SOCKET] != NULL)
		rc = yaml_doc_error(&d, v[CONF_SOCKET], "socket",
				    "excludes server (one or the other)");
	if (rc == 0 && v[CONF_SERVER] != NULL &&
	    strncmp(yaml_doc_str(v[CONF_SERVER], &conf_keys[CONF_SERVER]), "https://", 8) != 0)
		rc = yaml_doc_error(&d, v[CONF_SERVER], "server", "\"%s\" is not https://HOST:PORT",
				    yaml_doc_str(v[CONF_SERVER], &conf_keys[CONF_SERVER]));
	if (rc == 0 && v[CONF_SERVER] != NULL && (v[CONF_CERT] == NULL || v[CONF_KEY] == NULL))
		rc = yaml_doc_error(&d, v[CONF_SERVER], "server",
				    "needs cert and key (a client certificate)");
	if (rc == 0 && v[CONF_SERVER] != NULL)
		t->server = strdup(yaml_doc_str(v[CONF_SERVER], &conf_keys[CONF_SERVER]));
	if (rc == 0 && v[CONF_SOCKET] != NULL)
		t->sock = conf_path(&d, v[CONF_SOCKET], CONF_SOCKET, path, false);
	for (int k = CONF_CERT; rc == 0 && k <= CONF_CACERT; k++) {
		if (v[k] != NULL && (*dst[k] = conf_path(&d, v[k], k, path, true)) == NULL)
			rc = -EINVAL;
	}
	yaml_doc_fini(&d);
	if (rc != 0)
		die(EXIT_USAGE, "%s", err);
}

/* The first of an option, the environment, the config file that is set. */
static const char *first_of(const char *opt, const char *envv, const char *file)
{
	return opt != NULL ? opt : envv != NULL ? envv : file;
}

/* --config, else $ASTERCTL_CONFIG, else ~/.config/aster/asterctl.conf if it exists. */
static void config(struct target *t, const char *named)
{
	const char *home = getenv("HOME");
	char dflt[4096];

	if (named == NULL)
		named = env("ASTERCTL_CONFIG");
	if (named != NULL) {
		load_config(t, named, true);
	} else if (home != NULL && home[0] != '\0') {
		snprintf(dflt, sizeof(dflt), "%s/.config/aster/asterctl.conf", home);
		load_config(t, dflt, false);
	}
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct target *t, int argc, char **argv);
	} cmds[] = {
	    {"apply", cmd_apply},
	    {"add-subscriber", cmd_add_subscriber},
	    {"remove-subscriber", cmd_simple_change},
	    {"add-pattern", cmd_simple_change},
	    {"remove-pattern", cmd_simple_change},
	    {"get", cmd_get},
	    {"history", cmd_history},
	    {"stats", cmd_stats},
	    {"health", cmd_health},
	    {"status", cmd_status},
	};
	/* the config file's values: static, so they live (and stay reachable) until exit */
	static struct target file;
	struct target t = {0};
	const char *conf = NULL;
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--socket") == 0 || strcmp(argv[i], "-s") == 0) {
			t.sock = opt_value(argc, argv, &i);
		} else if (strcmp(argv[i], "--server") == 0) {
			t.server = opt_value(argc, argv, &i);
		} else if (strcmp(argv[i], "--cert") == 0) {
			t.cert = opt_value(argc, argv, &i);
		} else if (strcmp(argv[i], "--key") == 0) {
			t.key = opt_value(argc, argv, &i);
		} else if (strcmp(argv[i], "--cacert") == 0) {
			t.cacert = opt_value(argc, argv, &i);
		} else if (strcmp(argv[i], "--config") == 0) {
			conf = opt_value(argc, argv, &i);
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else {
			die(EXIT_USAGE, "unknown option \"%s\" (see asterctl --help)", argv[i]);
		}
		i++;
	}
	if (t.sock != NULL && t.server != NULL)
		die(EXIT_USAGE, "--socket and --server exclude each other");
	/* Options win over the environment, the environment over the config file;
	 * --socket over $ASTERCTL_SERVER too. */
	config(&file, conf);
	if (t.sock == NULL && t.server == NULL)
		t.server = env("ASTERCTL_SERVER");
	if (t.sock == NULL && t.server == NULL)
		t.sock = env("ASTERCTL_SOCKET");
	if (t.sock == NULL && t.server == NULL) {
		t.server = file.server;
		t.sock = file.sock;
	}
	if (t.server != NULL) {
		t.cert = first_of(t.cert, env("ASTERCTL_CERT"), file.cert);
		t.key = first_of(t.key, env("ASTERCTL_KEY"), file.key);
		t.cacert = first_of(t.cacert, env("ASTERCTL_CACERT"), file.cacert);
		/* Mutual TLS or nothing: the API refuses a client without a certificate. */
		if (strncmp(t.server, "https://", 8) != 0)
			die(EXIT_USAGE, "--server: \"%s\" is not https://HOST:PORT", t.server);
		if (t.cert == NULL || t.key == NULL)
			die(EXIT_USAGE, "--server needs --cert and --key (a client certificate)");
	} else if (t.cert != NULL || t.key != NULL || t.cacert != NULL) {
		die(EXIT_USAGE, "--cert, --key and --cacert go with --server");
	}
	if (t.sock == NULL)
		t.sock = DEFAULT_SOCKET;
	if (i == argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		if (strcmp(argv[i], cmds[c].name) == 0) {
			cmd_name = cmds[c].name;
			return cmds[c].fn(&t, argc - i, argv + i);
		}
	}
	return die(EXIT_USAGE, "unknown command \"%s\" (see asterctl --help)", argv[i]);
}
