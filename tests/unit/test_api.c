/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON API's grammar (control/api.h): paths and methods to commands, body
 * validation (unknown, missing and mistyped fields, invalid JSON, bodies that are not
 * objects), the request asterctl --server sends, and refusal kinds to HTTP statuses.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "api.h"

static json_t *request(const char *path, const char *body, const json_t *query, char *err,
		       size_t errlen)
{
	const struct api_endpoint *e = api_find(path);

	cr_assert_not_null(e, "no endpoint for %s", path);
	return api_request(e, path, body, body != NULL ? strlen(body) : 0, query, err, errlen);
}

Test(api, every_asterctl_command_has_one_endpoint)
{
	static const char *const reads[] = {"health", "status", "stats"};
	static const char *const changes[] = {"apply", "add-subscriber", "remove-subscriber",
					      "add-pattern", "remove-pattern"};

	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		json_t *req = json_pack("{s:s}", "cmd", reads[i]);
		const struct api_endpoint *e = api_for_request(req);

		cr_assert_not_null(e, "%s", reads[i]);
		cr_assert_str_eq(e->method, "GET");
		cr_assert(!e->changes);
		cr_assert_eq(api_find(e->path), e);
		json_decref(req);
	}
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		json_t *req = json_pack("{s:s}", "cmd", changes[i]);
		const struct api_endpoint *e = api_for_request(req);

		cr_assert_not_null(e, "%s", changes[i]);
		cr_assert_str_eq(e->method, "POST");
		cr_assert(e->changes);
		cr_assert_str_eq(e->path, changes[i]);
		json_decref(req);
	}
}

Test(api, get_maps_what_to_a_path)
{
	json_t *feeds = json_pack("{s:s, s:s}", "cmd", "get", "what", "feeds");
	json_t *subs = json_pack("{s:s, s:s}", "cmd", "get", "what", "subscribers");
	json_t *bad = json_pack("{s:s, s:s}", "cmd", "get", "what", "ports");
	char err[256];
	json_t *req;

	cr_assert_str_eq(api_for_request(feeds)->path, "feeds");
	cr_assert_str_eq(api_for_request(subs)->path, "subscribers");
	cr_assert_null(api_for_request(bad));
	req = request("subscribers", NULL, NULL, err, sizeof(err));
	cr_assert_not_null(req, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(req, "cmd")), "get");
	cr_assert_str_eq(json_string_value(json_object_get(req, "what")), "subscribers");
	json_decref(req);
	json_decref(feeds);
	json_decref(subs);
	json_decref(bad);
}

Test(api, unknown_paths)
{
	cr_assert_null(api_find("frobnicate"));
	cr_assert_null(api_find(""));
	cr_assert_null(api_find("history/"), "a version number is needed after history/");
	cr_assert_eq(api_find("history/12")->kind, API_HISTORY_VERSION);
	cr_assert_eq(api_find("history")->kind, API_HISTORY);
	cr_assert_null(api_find("status/"));
	cr_assert_null(api_find("applyx"));
}

Test(api, apply_body_becomes_the_socket_request)
{
	char err[256];
	json_t *req =
	    request("apply", "{\"yaml\": \"feeds: []\", \"file\": \"r.yaml\", \"dry_run\": true}",
		    NULL, err, sizeof(err));

	cr_assert_not_null(req, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(req, "cmd")), "apply");
	cr_assert_str_eq(json_string_value(json_object_get(req, "yaml")), "feeds: []");
	cr_assert_str_eq(json_string_value(json_object_get(req, "file")), "r.yaml");
	cr_assert(json_is_true(json_object_get(req, "dry_run")));
	json_decref(req);
}

Test(api, bad_bodies_are_refused_with_one_line)
{
	static const struct {
		const char *path, *body, *want;
	} cases[] = {
	    {"apply", "{\"yaml\": \"x\", \"yml\": 1}",
	     "unknown field \"yml\" (apply takes yaml, file, dry_run)"},
	    {"apply", "{\"file\": \"r.yaml\"}", "field \"yaml\" missing"},
	    {"apply", "{\"yaml\": 7}", "field \"yaml\" must be a string, not a number"},
	    {"apply", "{\"yaml\": \"x\", \"dry_run\": \"yes\"}",
	     "must be true or false, not a string"},
	    {"apply", "{\"yaml\": \"x\"", "invalid JSON at line 1"},
	    {"apply", "[1, 2]", "the body must be a JSON object, not an array"},
	    {"apply", NULL, "the body must be a JSON object"},
	    {"apply", "{\"yaml\": \"a\", \"yaml\": \"b\"}", "invalid JSON"},
	    {"add-pattern", "{\"subscriber\": \"a\"}", "field \"pattern\" missing"},
	    {"add-subscriber", "{\"subscriber\": \"a\"}", "must be an object, not a string"},
	    {"remove-subscriber", "{\"name\": \"a\", \"cmd\": \"apply\"}", "unknown field \"cmd\""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		json_t *req = request(cases[i].path, cases[i].body, NULL, err, sizeof(err));

		cr_assert_null(req, "%s %s accepted", cases[i].path, cases[i].body);
		cr_assert(strstr(err, cases[i].want) != NULL, "%s: \"%s\" lacks \"%s\"",
			  cases[i].path, err, cases[i].want);
		cr_assert_null(strchr(err, '\n'), "not one line: %s", err);
	}
}

Test(api, get_takes_no_body_and_only_known_arguments)
{
	json_t *q = json_pack("{s:s}", "verbose", "1");
	json_t *hq = json_pack("{s:s, s:s}", "before", "9", "limit", "5");
	char err[256];
	json_t *req;

	cr_assert_null(request("status", "{}", NULL, err, sizeof(err)));
	cr_assert(strstr(err, "GET takes no body") != NULL, "%s", err);
	cr_assert_null(request("status", NULL, q, err, sizeof(err)));
	cr_assert(strstr(err, "unknown argument \"verbose\"") != NULL, "%s", err);
	req = request("history", NULL, hq, err, sizeof(err));
	cr_assert_not_null(req, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(req, "limit")), "5");
	json_decref(req);
	req = request("history/42", NULL, NULL, err, sizeof(err));
	cr_assert_not_null(req, "%s", err);
	cr_assert_str_eq(json_string_value(json_object_get(req, "version")), "42");
	json_decref(req);
	json_decref(q);
	json_decref(hq);
}

Test(api, post_arguments_travel_in_the_body)
{
	json_t *q = json_pack("{s:s}", "dry_run", "1");
	char err[256];

	cr_assert_null(request("add-pattern", "{\"subscriber\": \"a\", \"pattern\": \"^A\"}", q,
			       err, sizeof(err)));
	cr_assert(strstr(err, "POST takes its arguments in the body") != NULL, "%s", err);
	json_decref(q);
}

Test(api, asterctl_body_drops_cmd_and_what)
{
	json_t *req =
	    json_pack("{s:s, s:s, s:s}", "cmd", "add-pattern", "subscriber", "a", "pattern", "^A");
	const struct api_endpoint *e = api_for_request(req);
	json_t *body = api_body(e, req);
	char err[256];
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *back;

	cr_assert_str_eq(text, "{\"pattern\":\"^A\",\"subscriber\":\"a\"}");
	/* What asterctl sends is what the server accepts, and it rebuilds the request. */
	back = api_request(e, e->path, text, strlen(text), NULL, err, sizeof(err));
	cr_assert_not_null(back, "%s", err);
	cr_assert(json_equal(back, req));
	free(text);
	json_decref(back);
	json_decref(body);
	json_decref(req);
}

Test(api, statuses_follow_the_refusal_kind)
{
	static const struct {
		const char *kind;
		unsigned int status;
	} cases[] = {
	    {"invalid", 400}, {"denied", 403},	 {"not_found", 404},   {"conflict", 409},
	    {"limit", 422},   {"internal", 500}, {"unavailable", 503}, {"something new", 400},
	};
	json_t *okr = json_pack("{s:b}", "ok", 1);

	cr_assert_eq(api_status(okr), 200);
	json_decref(okr);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = api_refusal(cases[i].kind, "x");

		cr_assert_eq(api_status(r), cases[i].status, "%s", cases[i].kind);
		json_decref(r);
	}
}
