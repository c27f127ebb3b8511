/*
 * test_report.c -- the host record as JSON, untrusted text made valid
 * UTF-8, and the atomic document write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/report.h"

static void test_utf8_clean(void **state)
{
	char out[64];
	(void)state;

	/* valid text passes unchanged */
	assert_int_equal(mh_utf8_clean(out, sizeof(out), "h\xc3\xa9llo", 6), 6);
	assert_string_equal(out, "h\xc3\xa9llo");
	/* a lone continuation byte, a truncated sequence, an overlong '/' and a NUL */
	mh_utf8_clean(out, sizeof(out), "a\x80" "b\xc3" "c\xc0\xaf" "d\0e", 10);
	assert_string_equal(out, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
				 "d\xef\xbf\xbd" "e");
	/* surrogates are not UTF-8 */
	mh_utf8_clean(out, sizeof(out), "\xed\xa0\x80", 3);
	assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* truncation at a character boundary */
	assert_int_equal(mh_utf8_clean(out, 4, "\xc3\xa9\xc3\xa9", 4), 2);
	assert_string_equal(out, "\xc3\xa9");
}

static struct mh_host *sample_host(void)
{
	struct mh_addr a;
	struct mh_host *h;

	assert_int_equal(mh_addr_parse("198.18.0.13", &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	h->nports = 2;
	h->ports[0].port = 25;
	h->ports[0].state = MH_PORT_OPEN;
	h->ports[0].rtt_ms = 0.4;
	h->ports[0].smtp = calloc(1, sizeof(struct mh_smtp_result));
	assert_non_null(h->ports[0].smtp);
	h->ports[0].smtp->code = 220;
	/* hostile text: markup, a quote, control characters and invalid UTF-8 */
	mh_strlcpy(h->ports[0].smtp->banner, "220 <script>\"x\"\x01\xff</script>",
		   sizeof(h->ports[0].smtp->banner));
	h->ports[0].smtp->ehlo_code = 250;
	mh_strlcpy(h->ports[0].smtp->caps[0], "PIPELINING", MH_SMTP_CAP_LEN);
	mh_strlcpy(h->ports[0].smtp->caps[1], "SIZE 10240000", MH_SMTP_CAP_LEN);
	h->ports[0].smtp->ncaps = 2;
	h->ports[0].mta.product = "postfix";
	h->ports[1].port = 587;
	h->ports[1].state = MH_PORT_CLOSED;
	h->ports[1].rtt_ms = -1;
	return h;
}

static void test_host_json(void **state)
{
	struct mh_host *h = sample_host();
	struct json_object *o, *port, *smtp, *v;
	const char *text;
	(void)state;

	o = mh_host_to_json(h);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "addr", &v));
	assert_string_equal(json_object_get_string(v), "198.18.0.13");
	assert_true(json_object_object_get_ex(o, "role", &v));
	assert_string_equal(json_object_get_string(v), "client");
	assert_true(json_object_object_get_ex(o, "exposure", &v));
	assert_string_equal(json_object_get_string(v), "exposed");
	assert_true(json_object_object_get_ex(o, "ports", &v));
	assert_int_equal(json_object_array_length(v), 2);
	port = json_object_array_get_idx(v, 0);
	assert_true(json_object_object_get_ex(port, "smtp", &smtp));
	assert_true(json_object_object_get_ex(smtp, "banner", &v));
	/* the control character is escaped by json-c, the bad byte replaced */
	assert_string_equal(json_object_get_string(v),
			    "220 <script>\"x\"\x01\xef\xbf\xbd</script>");
	port = json_object_array_get_idx(json_object_object_get(o, "ports"), 1);
	assert_true(json_object_object_get_ex(port, "rtt_ms", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(port, "smtp", &v));
	assert_null(v);

	/* what json-c prints parses back: the text is valid JSON */
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(text, "\\u0001"));
	struct json_object *back = json_tokener_parse(text);
	assert_non_null(back);
	json_object_put(back);
	json_object_put(o);
	mh_host_free(&h);
	assert_null(h);
}

static void test_document_atomic(void **state)
{
	char dir[] = "/tmp/mh-test-report-XXXXXX";
	char path[256], err[MH_ERRLEN];
	void *ctx = NULL;
	struct mh_host *h = sample_host();
	struct mh_run_meta meta = { .command = "scan", .command_line = "mailhole scan x",
				    .complete = true };
	struct json_object *doc, *v;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.json", dir);
	assert_int_equal(mh_writer_json.open(&ctx, path, err, sizeof(err)), 0);
	assert_int_equal(mh_writer_json.host(ctx, h, err, sizeof(err)), 0);
	assert_int_equal(mh_writer_json.close(ctx, &meta, err, sizeof(err)), 0);
	doc = json_object_from_file(path);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "schema", &v));
	assert_string_equal(json_object_get_string(v), "mailhole/1");
	assert_true(json_object_object_get_ex(doc, "summary", &v));
	assert_int_equal(json_object_get_int(json_object_object_get(v, "hosts")), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(v, "open_ports")), 1);
	json_object_put(doc);

	/* a folder that does not exist: a clear error naming the output */
	snprintf(path, sizeof(path), "%s/missing/out.json", dir);
	assert_true(mh_write_file_atomic(path, "{}", 2, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "missing/out.json"));

	snprintf(path, sizeof(path), "%s/out.json", dir);
	unlink(path);
	rmdir(dir);
	mh_host_free(&h);
}

static void test_sanitize_line(void **state)
{
	char out[16];
	(void)state;

	mh_sanitize_line(out, sizeof(out), "ab\r\n\x01\xffz", 7);
	assert_string_equal(out, "ab????z");
	mh_sanitize_line(out, 8, "0123456789", 10);
	assert_string_equal(out, "0123...");
}

static void test_parse_u64(void **state)
{
	uint64_t v;
	(void)state;

	assert_int_equal(mh_parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(mh_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(mh_parse_u64("18446744073709551616", 0, UINT64_MAX, &v) < 0);
	assert_true(mh_parse_u64("", 0, 10, &v) < 0);
	assert_true(mh_parse_u64("-1", 0, 10, &v) < 0);
	assert_true(mh_parse_u64("1x", 0, 10, &v) < 0);
	assert_true(mh_parse_u64("11", 0, 10, &v) < 0);
	assert_true(mh_parse_u64(" 1", 0, 10, &v) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_clean),    cmocka_unit_test(test_host_json),
		cmocka_unit_test(test_document_atomic), cmocka_unit_test(test_sanitize_line),
		cmocka_unit_test(test_parse_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
