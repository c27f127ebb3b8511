/*
 * test_junit_sarif.c -- the JUnit, SARIF and text renderers (report/junit.c,
 * report/sarif.c, report/text.c) over the fixtures, hostile strings above
 * all: markup, quotes, ESC sequences, NUL, C0/C1 controls, U+FFFE, bidi
 * overrides and raw invalid UTF-8 (tests/fixtures/docs/hostile.json).
 * When xmllint is installed the JUnit output is checked well formed by it
 * too; the schema validations are tests/lab/lab_formats.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/render.h"
#include "mailhole/rules.h"

#define DOCS MH_FIXTURES "/docs/"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	mh_strlcpy(tmpdir, "/tmp/mh-test-render.XXXXXX", sizeof(tmpdir));
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct json_object *load(const char *name)
{
	struct json_object *d = NULL;
	char err[MH_ERRLEN] = "";

	if (mh_doc_load(name, &d, err, sizeof(err)) < 0)
		fail_msg("load %s: %s", name, err);
	return d;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* No byte XML 1.0 forbids: C0 controls other than TAB, LF, CR; no U+FFFE/U+FFFF. */
static void assert_xml_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
			fail_msg("control byte 0x%02x at %zu", c, i);
		if (c == 0xef && i + 2 < len && (unsigned char)s[i + 1] == 0xbf &&
		    ((unsigned char)s[i + 2] & 0xfe) == 0xbe)
			fail_msg("U+FFFE/U+FFFF at %zu", i);
		if (c == 0xff || c == 0xfe)
			fail_msg("invalid UTF-8 byte at %zu", i);
	}
}

static void xmllint_ok(const char *path)
{
	char cmd[256];

	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		print_message("xmllint not installed: well-formedness not checked by it\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void test_junit_hostile(void **state)
{
	struct json_object *d = load(DOCS "hostile.json");
	char path[128], err[MH_ERRLEN];
	size_t len;
	char *x;
	(void)state;

	snprintf(path, sizeof(path), "%s/hostile.xml", tmpdir);
	assert_int_equal(mh_render_junit(d, path, err, sizeof(err)), 0);
	x = slurp(path, &len);
	assert_xml_chars(x, len);
	/* markup never passes raw */
	assert_null(strstr(x, "<script>"));
	assert_null(strstr(x, "<tags>"));
	assert_null(strstr(x, "\x1b"));
	assert_non_null(strstr(x, "name=\"198.18.0.66 (&lt;script&gt;alert(&apos;x&apos;)"
	                          "&lt;/script&gt;)\""));
	assert_non_null(strstr(x, "message=\"Title with &lt;tags&gt; &amp; &quot;quotes&quot; "
	                          "and &apos;apostrophes&apos;\""));
	assert_non_null(strstr(x, "type=\"high\""));
	/* ESC became U+FFFD; the text after a NUL survives; CR LF kept as references */
	assert_non_null(strstr(x, "banner: \xef\xbf\xbd]0;pwned\xef\xbf\xbd \xef\xbf\xbd"
	                          "after-nul"));
	assert_non_null(strstr(x, "tab&#9;here&#13;&#10;next ]]&gt; end"));
	/* the unknown rule has a suite of its own */
	assert_non_null(strstr(x, "<testsuite name=\"future-rule\" tests=\"1\" failures=\"1\""));
	assert_non_null(strstr(x, "<testsuite name=\"exposed-smtp\" tests=\"1\" failures=\"1\""));
	free(x);
	xmllint_ok(path);
	json_object_put(d);
}

static void test_junit_counts(void **state)
{
	struct json_object *docs[2], *m = NULL;
	char path[128], err[MH_ERRLEN], want[128];
	size_t len;
	char *x;
	(void)state;

	docs[0] = load(DOCS "shard-1.json");
	docs[1] = load(DOCS "shard-2.json");
	assert_int_equal(mh_doc_merge(docs, 2, &m, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/shards.xml", tmpdir);
	assert_int_equal(mh_render_junit(m, path, err, sizeof(err)), 0);
	x = slurp(path, &len);
	assert_true(strncmp(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites", 50) == 0);
	/* one suite per rule, 4 hosts each */
	snprintf(want, sizeof(want), "tests=\"%u\" failures=\"5\"", 4 * mh_nrules);
	assert_non_null(strstr(x, want));
	assert_non_null(strstr(x, "<testsuite name=\"exposed-smtp\" tests=\"4\" failures=\"2\""));
	assert_non_null(strstr(x, "<testsuite name=\"mc-cf-mismatch\" tests=\"4\" failures=\"0\""));
	assert_non_null(strstr(x, "<testcase classname=\"mailhole.exposed-smtp\" "
	                          "name=\"198.18.0.13 (host-c.lab.test)\">"));
	assert_non_null(strstr(x, "name=\"198.18.0.40\">\n      <failure message=\"SMTP answers"));
	assert_non_null(strstr(x, "<testcase classname=\"mailhole.exposed-smtp\" "
	                          "name=\"127.0.0.1 (localhost)\"/>"));
	free(x);
	xmllint_ok(path);
	json_object_put(m);
	json_object_put(docs[0]);
	json_object_put(docs[1]);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_sarif(void **state)
{
	struct json_object *d = load(DOCS "hostile.json"), *s, *run, *rules, *results, *r, *ll;
	char path[128], err[MH_ERRLEN];
	size_t len;
	char *x;
	(void)state;

	snprintf(path, sizeof(path), "%s/hostile.sarif", tmpdir);
	assert_int_equal(mh_render_sarif(d, path, err, sizeof(err)), 0);
	x = slurp(path, &len);
	assert_null(memchr(x, '\x1b', len)); /* json-c escapes controls */
	s = json_tokener_parse(x);
	assert_non_null(s);
	assert_string_equal(json_object_get_string(get(s, "version")), "2.1.0");
	run = json_object_array_get_idx(get(s, "runs"), 0);
	assert_string_equal(json_object_get_string(get(get(get(run, "tool"), "driver"), "name")),
	                    "mailhole");
	rules = get(get(get(run, "tool"), "driver"), "rules");
	/* every rule of the table, then the unknown one */
	assert_int_equal(json_object_array_length(rules), mh_nrules + 1);
	r = json_object_array_get_idx(rules, 0);
	assert_string_equal(json_object_get_string(get(r, "id")), mh_rules[0].id);
	assert_string_equal(json_object_get_string(get(get(r, "defaultConfiguration"), "level")),
	                    "error");
	assert_string_equal(
	    json_object_get_string(get(json_object_array_get_idx(rules, mh_nrules), "id")),
	    "future-rule");
	results = get(run, "results");
	assert_int_equal(json_object_array_length(results), 2);
	r = json_object_array_get_idx(results, 0);
	assert_string_equal(json_object_get_string(get(r, "ruleId")), "exposed-smtp");
	assert_int_equal(json_object_get_int(get(r, "ruleIndex")), 0);
	assert_string_equal(json_object_get_string(get(r, "level")), "error");
	ll = json_object_array_get_idx(
	    get(json_object_array_get_idx(get(r, "locations"), 0), "logicalLocations"), 0);
	assert_string_equal(json_object_get_string(get(ll, "name")), "198.18.0.66");
	assert_string_equal(json_object_get_string(get(ll, "kind")), "host");
	assert_string_equal(json_object_get_string(get(get(r, "properties"), "severity")), "high");
	r = json_object_array_get_idx(results, 1);
	assert_int_equal(json_object_get_int(get(r, "ruleIndex")), (int)mh_nrules);
	assert_string_equal(json_object_get_string(get(r, "level")), "warning"); /* unknown */
	json_object_put(s);
	free(x);
	json_object_put(d);
}

static void test_sarif_levels(void **state)
{
	struct json_object *d = load(DOCS "run-new.json"), *s, *results;
	char path[128], err[MH_ERRLEN];
	size_t len;
	char *x;
	(void)state;

	snprintf(path, sizeof(path), "%s/run.sarif", tmpdir);
	assert_int_equal(mh_render_sarif(d, path, err, sizeof(err)), 0);
	x = slurp(path, &len);
	s = json_tokener_parse(x);
	results = get(json_object_array_get_idx(get(s, "runs"), 0), "results");
	assert_int_equal(json_object_array_length(results), 3);
	/* high, medium, critical in document order */
	assert_string_equal(
	    json_object_get_string(get(json_object_array_get_idx(results, 0), "level")), "error");
	assert_string_equal(
	    json_object_get_string(get(json_object_array_get_idx(results, 1), "level")), "warning");
	assert_string_equal(
	    json_object_get_string(get(json_object_array_get_idx(results, 2), "level")), "error");
	json_object_put(s);
	free(x);
	json_object_put(d);
}

/* The text renderer into memory. */
static char *text_of(struct json_object *d, bool color, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	assert_non_null(f);
	assert_int_equal(mh_render_text(d, f, color), 0);
	fclose(f);
	return buf;
}

static void test_text_hostile(void **state)
{
	struct json_object *d = load(DOCS "hostile.json");
	size_t len;
	char *t;
	(void)state;

	t = text_of(d, false, &len);
	/* not one control byte, no C1, no bidi override */
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)t[i] >= 0x20 || t[i] == '\n');
	assert_null(strstr(t, "\xc2\x9b"));
	assert_null(strstr(t, "\xe2\x80\xae"));
	assert_non_null(strstr(t, "high (1)"));
	assert_non_null(strstr(t, "findings: 0 critical, 1 high, 0 medium, 0 low, 0 info\n"));
	assert_non_null(strstr(t, "198.18.0.66 (<script>alert('x')</script>)  exposed-smtp: "
	                          "banner: ?]0;pwned? \xef\xbf\xbd"
	                          "after-nul"));
	assert_non_null(strstr(t, "unknown severity (1)"));
	free(t);
	/* with colour: our escapes only, and they are balanced by resets */
	t = text_of(d, true, &len);
	assert_non_null(strstr(t, "\x1b[1;31m"));
	assert_null(strstr(t, "\x1b]0;"));
	assert_null(strstr(t, "\x1b[2J"));
	free(t);
	json_object_put(d);
}

static void test_text_counts(void **state)
{
	struct json_object *d = load(DOCS "run-new.json"), *e = load(DOCS "empty-hosts.json");
	size_t len;
	char *t;
	(void)state;

	mh_doc_summarize(d);
	t = text_of(d, false, &len);
	assert_non_null(strstr(t, "mailhole: 3 hosts, 3 open ports\n"));
	assert_non_null(strstr(t, "findings: 1 critical, 1 high, 1 medium, 0 low, 0 info\n"));
	assert_true(strstr(t, "critical (1)") < strstr(t, "high (1)"));
	assert_non_null(strstr(t, "  198.18.0.30 (relay.lab.test)  open-relay: RCPT TO:"));
	free(t);
	mh_doc_summarize(e);
	t = text_of(e, false, &len);
	assert_non_null(strstr(t, "no findings"));
	free(t);
	json_object_put(d);
	json_object_put(e);
}

static void test_write_error(void **state)
{
	struct json_object *d = load(DOCS "run-new.json");
	char err[MH_ERRLEN];
	(void)state;

	assert_int_equal(mh_render_junit(d, "/nonexistent-dir/x.xml", err, sizeof(err)), MH_EIO);
	assert_non_null(strstr(err, "/nonexistent-dir/x.xml"));
	assert_int_equal(mh_render_sarif(d, "/nonexistent-dir/x.sarif", err, sizeof(err)), MH_EIO);
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_junit_hostile), cmocka_unit_test(test_junit_counts),
	    cmocka_unit_test(test_sarif),         cmocka_unit_test(test_sarif_levels),
	    cmocka_unit_test(test_text_hostile),  cmocka_unit_test(test_text_counts),
	    cmocka_unit_test(test_write_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
