/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The audit log (control/audit.h): a line is never lost for what a caller typed (text
 * made valid UTF-8, cut on a character boundary), a write that fails is reported so
 * that the change is refused, and refusals beyond AUDIT_REFUSALS_PER_S a second are
 * counted in one summary line rather than dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "audit.h"

static char path[64];

static void setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/aster-test-audit.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

/* The lines written so far, as JSON objects (an array the caller releases). */
static json_t *lines(void)
{
	json_t *a = json_array();
	char buf[4096];
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f);
	while (fgets(buf, sizeof(buf), f) != NULL) {
		json_error_t jerr;
		json_t *o = json_loads(buf, 0, &jerr);

		cr_assert_not_null(o, "not JSON: %s (%s)", buf, jerr.text);
		json_array_append_new(a, o);
	}
	fclose(f);
	return a;
}

TestSuite(audit, .init = setup, .fini = teardown);

Test(audit, utf8_prefix_cuts_on_a_character)
{
	/* "é" is two bytes, "€" three */
	cr_expect_eq(audit_utf8_prefix("a\xc3\xa9\xe2\x82\xac", 2), 1);
	cr_expect_eq(audit_utf8_prefix("a\xc3\xa9\xe2\x82\xac", 3), 3);
	cr_expect_eq(audit_utf8_prefix("a\xc3\xa9\xe2\x82\xac", 5), 3);
	cr_expect_eq(audit_utf8_prefix("a\xc3\xa9\xe2\x82\xac", 6), 6);
	/* stops at the first byte that is not UTF-8 */
	cr_expect_eq(audit_utf8_prefix("ab\xff"
				       "cd",
				       10),
		     2);
}

/* A command of invalid UTF-8, or longer than a field holds, still makes its line. */
Test(audit, any_text_is_recorded)
{
	struct audit *a = audit_open(path);
	char long_cmd[2000];
	struct audit_entry e = {.uid = 7, .result = "ok", .before = 1, .after = 2};
	json_t *l;
	const char *c;

	cr_assert_not_null(a);
	e.command = "add-pattern s ^\xff\xfe$";
	cr_expect_eq(audit_append(a, &e), 0);
	strcpy(long_cmd, "add-pattern s ^");
	for (int i = 0; i < 600; i++)
		strcat(long_cmd, "\xc3\xa9");
	e.command = long_cmd;
	cr_expect_eq(audit_append(a, &e), 0);
	audit_close(a);
	l = lines();
	cr_assert_eq(json_array_size(l), 2);
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(l, 0), "command")),
			 "add-pattern s ^??$");
	c = json_string_value(json_object_get(json_array_get(l, 1), "command"));
	cr_assert_not_null(c);
	cr_expect_leq(strlen(c), AUDIT_TEXT_MAX - 1);
	cr_expect_eq(strlen(c) % 2, 1, "cut inside a character: %zu bytes", strlen(c));
	json_decref(l);
}

/* A log that cannot take the line says so: the caller then refuses the change. */
Test(audit, failed_write_is_an_error)
{
	struct audit *a = audit_open("/dev/full");
	struct audit_entry e = {.command = "apply -f r.yaml", .result = "pending"};

	cr_assert_not_null(a);
	cr_expect_eq(audit_append(a, &e), -ENOSPC);
	audit_close(a);
}

/* 250 refusals at once: 100 lines, then one summary counting the other 150. */
Test(audit, refusals_past_the_rate_are_counted)
{
	struct audit *a = audit_open(path);
	struct audit_entry e = {.uid = 9, .command = "add-pattern x ^Y$", .result = "denied"};
	uint64_t n = 0, written = 0;
	json_t *l;
	size_t i;
	json_t *o;

	cr_assert_not_null(a);
	for (int k = 0; k < 250; k++)
		written += audit_append_refusal(a, &e) == 0;
	cr_expect_eq(written, AUDIT_REFUSALS_PER_S);
	audit_flush(a, UINT64_MAX);
	audit_close(a);
	l = lines();
	json_array_foreach(l, i, o)
	{
		cr_expect_eq(json_integer_value(json_object_get(o, "uid")), 9);
		n += json_object_get(o, "repeated")
			 ? (uint64_t)json_integer_value(json_object_get(o, "repeated"))
			 : 1;
	}
	cr_expect_eq(json_array_size(l), AUDIT_REFUSALS_PER_S + 1);
	cr_expect_eq(n, 250);
	json_decref(l);
}
