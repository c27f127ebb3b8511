/*
 * test_html.c -- the HTML report: its escaper (every special character,
 * control characters, invalid UTF-8, invisible code points, truncation,
 * long input) and a whole page rendered from a hostile document built here:
 * the hostile text is there, escaped; the only script is ours; the CSP is
 * present and names the hashes of the inline style and script; nothing
 * outside text refers to a URL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/render.h"

/* Escapes a NUL-terminated string into a static buffer. */
static const char *esc(const char *s)
{
	static char out[4096];
	size_t n = mh_html_escape(out, sizeof(out), s, strlen(s));

	assert_true(n < sizeof(out));
	assert_int_equal(strlen(out), n);
	return out;
}

static void test_escape_specials(void **state)
{
	(void)state;
	assert_string_equal(esc("plain text 123"), "plain text 123");
	assert_string_equal(esc("&"), "&amp;");
	assert_string_equal(esc("<"), "&lt;");
	assert_string_equal(esc(">"), "&gt;");
	assert_string_equal(esc("\""), "&quot;");
	assert_string_equal(esc("'"), "&#39;");
	assert_string_equal(esc("<script>alert(1)</script>"),
			    "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_string_equal(esc("\"><img src=x onerror=alert(2)>"),
			    "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
	assert_string_equal(esc("a&amp;b"), "a&amp;amp;b");
	assert_string_equal(esc("x' onmouseover='y"), "x&#39; onmouseover=&#39;y");
	/* a backquote and a slash are harmless in quoted attributes and text */
	assert_string_equal(esc("`/`"), "`/`");
	assert_string_equal(esc(""), "");
}

static void test_escape_controls(void **state)
{
	char out[64];
	(void)state;

	/* LF and TAB pass (banners are multi-line); every other C0 and DEL is shown */
	assert_string_equal(esc("220-a\n220 b\tc"), "220-a\n220 b\tc");
	assert_string_equal(esc("\x01"), "\\x01");
	assert_string_equal(esc("\x1b[31mred"), "\\x1b[31mred");
	assert_string_equal(esc("a\rb\x7f\x08"), "a\\x0db\\x7f\\x08");
	/* an embedded NUL is a character like the others */
	assert_int_equal(mh_html_escape(out, sizeof(out), "a\0b", 3), 6);
	assert_string_equal(out, "a\\x00b");
	for (int c = 1; c < 0x20; c++) {
		char in[2] = { (char)c, 0 };
		const char *e = esc(in);
		if (c == '\t' || c == '\n')
			assert_int_equal(e[0], c);
		else
			assert_int_equal(e[0], '\\');
	}
}

static void test_escape_utf8(void **state)
{
	(void)state;
	/* valid UTF-8 passes, U+FFFD included */
	assert_string_equal(esc("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x93\xa7 \xef\xbf\xbd"),
			    "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x93\xa7 \xef\xbf\xbd");
	/* invalid bytes are shown one by one */
	assert_string_equal(esc("a\xff" "b"), "a\\xffb");
	assert_string_equal(esc("\x80"), "\\x80");
	assert_string_equal(esc("\xc3"), "\\xc3");             /* truncated */
	assert_string_equal(esc("\xc3<"), "\\xc3&lt;");        /* truncated before a special */
	assert_string_equal(esc("\xc0\xaf"), "\\xc0\\xaf");    /* overlong '/' */
	assert_string_equal(esc("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
	assert_string_equal(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* a surrogate */
	assert_string_equal(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
	assert_string_equal(esc("\xfe\xff"), "\\xfe\\xff");
	/* a C1 control, a bidi override, a zero-width space and a BOM are shown by number */
	assert_string_equal(esc("\xc2\x85"), "\\u0085");
	assert_string_equal(esc("abc\xe2\x80\xae" "fdp.exe"), "abc\\u202efdp.exe");
	assert_string_equal(esc("a\xe2\x80\x8b" "b"), "a\\u200bb");
	assert_string_equal(esc("\xef\xbb\xbf"), "\\ufeff");
	assert_string_equal(esc("\xf3\xa0\x80\x81"), "\\ue0001");
}

static void test_escape_truncation(void **state)
{
	char out[16];
	size_t n;
	(void)state;

	/* the return value is the full length, as snprintf's */
	assert_int_equal(mh_html_escape(NULL, 0, "<<", 2), 8);
	n = mh_html_escape(out, sizeof(out), "<<<<<<", 6);
	assert_int_equal(n, 24);
	/* never half an entity: 3 * "&lt;" = 12 bytes fit in 15 */
	assert_string_equal(out, "&lt;&lt;&lt;");
	/* never half a character */
	n = mh_html_escape(out, 6, "ab\xe2\x82\xac\xe2\x82\xac", 8);
	assert_int_equal(n, 8);
	assert_string_equal(out, "ab\xe2\x82\xac");
	mh_html_escape(out, 4, "\x01\x02", 2);
	assert_string_equal(out, "");
	mh_html_escape(out, 1, "abc", 3);
	assert_string_equal(out, "");
}

static void test_escape_long(void **state)
{
	const size_t len = 1 << 20;
	char *in = malloc(len), *out;
	size_t n, want = 0;
	(void)state;

	assert_non_null(in);
	for (size_t i = 0; i < len; i++) {
		static const char pat[] = "<&>\"'a\x01\xff";
		in[i] = pat[i % 8];
	}
	for (size_t i = 0; i < len; i += 8)
		want += 4 + 5 + 4 + 6 + 5 + 1 + 4 + 4;
	n = mh_html_escape(NULL, 0, in, len);
	assert_int_equal(n, want);
	out = malloc(n + 1);
	assert_non_null(out);
	assert_int_equal(mh_html_escape(out, n + 1, in, len), n);
	assert_int_equal(strlen(out), n);
	assert_null(strchr(out, '<'));
	assert_null(strchr(out, '>'));
	assert_null(strchr(out, '"'));
	assert_null(strchr(out, '\''));
	assert_null(memchr(out, 0x01, n));
	assert_null(memchr(out, 0xff, n));
	assert_memory_equal(out, "&lt;&amp;&gt;&quot;&#39;a\\x01\\xff", 33);
	free(in);
	free(out);
}

/* ---- a whole page ------------------------------------------------------------ */

#define HOSTILE_SCRIPT "<script>document.title='PWNED'</script>"
#define HOSTILE_IMG    "\"><img src=x onerror=\"document.title='PWNED'\">"
/* the same inside a JSON string */
#define HOSTILE_IMG_J  "\\\"><img src=x onerror=\\\"document.title='PWNED'\\\">"

static struct json_object *jparse(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

/*
 * A document: a Postfix host, a hostile host (markup, quotes, control
 * characters, U+FFFD, a bidi override, a URL in its banner) and a quiet one.
 */
static struct json_object *sample_doc(int complete)
{
	char text[8192];

	snprintf(text, sizeof(text),
		 "{\"schema\":\"mailhole/1\","
		 "\"scan\":{\"tool\":\"mailhole\",\"tool_version\":\"0.1.0\",\"command\":\"scan\","
		 "\"command_line\":\"mailhole scan 198.18.20.0/27 --note '" HOSTILE_SCRIPT "'\","
		 "\"started\":\"2026-11-24T01:22:56Z\",\"finished\":\"2026-11-24T01:22:58Z\","
		 "\"duration_s\":2.008,\"complete\":%s,\"ports\":[25,587],\"targets\":33,"
		 "\"hosts_done\":20},"
		 "\"summary\":{\"hosts\":3,\"open_ports\":2,\"findings\":{\"critical\":1,"
		 "\"high\":2,\"medium\":0,\"low\":0,\"info\":1}},"
		 "\"hosts\":["
		 "{\"addr\":\"198.18.20.66\",\"names\":[\"evil\\u0001" HOSTILE_SCRIPT "\"],"
		 "\"role\":\"client\",\"exposure\":\"exposed\",\"ports\":[{\"port\":25,"
		 "\"state\":\"open\",\"rtt_ms\":0.5,\"smtp\":{\"banner\":\"220 " HOSTILE_SCRIPT
		 " \\u001b[31m http://evil.example/x \\ufffd \\u202e\",\"code\":220,"
		 "\"mta\":{\"product\":\"post<b>fix\",\"version\":\"3.7'\\\"\"},"
		 "\"ehlo\":{\"code\":250,\"helo\":false,\"name\":\"" HOSTILE_IMG_J "\","
		 "\"capabilities\":[\"PIPELINING\",\"X-<i>\"]},\"error\":\"bad-reply-code\","
		 "\"error_detail\":\"\\u0000\\u0007" HOSTILE_IMG_J "\"}}],"
		 "\"findings\":[{\"id\":\"open-relay\",\"severity\":\"critical\",\"title\":\"T1\","
		 "\"evidence\":\"RCPT accepted " HOSTILE_SCRIPT "\",\"remediation\":\"fix & "
		 "<restart>\"},{\"id\":\"exposed-smtp\",\"severity\":\"high\",\"title\":\"T2\","
		 "\"evidence\":\"open: 25/tcp\",\"remediation\":\"bind\"}]},"
		 "{\"addr\":\"198.18.20.2\",\"names\":[\"mx1.lab.test\"],\"role\":\"mail-server\","
		 "\"exposure\":\"exposed\",\"ports\":[{\"port\":25,\"state\":\"open\","
		 "\"rtt_ms\":0.3,"
		 "\"smtp\":{\"banner\":\"220 mx1.lab.test ESMTP Postfix (Debian)\",\"code\":220,"
		 "\"mta\":{\"product\":\"postfix\",\"version\":null},\"ehlo\":null,"
		 "\"error\":null,\"error_detail\":null}}],"
		 "\"findings\":[{\"id\":\"exposed-smtp\",\"severity\":\"high\",\"title\":\"T3\","
		 "\"evidence\":\"open\",\"remediation\":\"r\"},{\"id\":\"mta-version-disclosed\","
		 "\"severity\":\"info\",\"title\":\"T4\",\"evidence\":\"e\","
		 "\"remediation\":\"r\"}]},"
		 "{\"addr\":\"fd00:18:20::4\",\"names\":[],\"role\":\"client\","
		 "\"exposure\":\"none\","
		 "\"ports\":[{\"port\":25,\"state\":\"closed\",\"rtt_ms\":0.2,\"smtp\":null}],"
		 "\"findings\":[]}]}",
		 complete ? "true" : "false");
	return jparse(text);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The text between the first open tag and its close, e.g. "<style>" .. "</style>". */
static char *between(const char *html, const char *open, const char *close)
{
	const char *a = strstr(html, open), *z;
	char *out;

	assert_non_null(a);
	a += strlen(open);
	z = strstr(a, close);
	assert_non_null(z);
	out = strndup(a, (size_t)(z - a));
	assert_non_null(out);
	return out;
}

static void sha256_b64(const char *s, char *out, size_t size)
{
	unsigned char md[SHA256_DIGEST_LENGTH], b64[64];

	SHA256((const unsigned char *)s, strlen(s), md);
	EVP_EncodeBlock(b64, md, SHA256_DIGEST_LENGTH);
	snprintf(out, size, "'sha256-%s'", (const char *)b64);
}

/*
 * True when pos lies in a text node: the last '>' before it comes after the
 * last '<' (every '<' of document text is escaped, so a raw '<' is a tag),
 * and not in the style sheet or the script.
 */
static int in_text(const char *html, const char *pos)
{
	const char *lt = NULL, *gt = NULL;
	const char *st = strstr(html, "<style>"), *ste = strstr(html, "</style>");
	const char *sc = strstr(html, "<script>"), *sce = strstr(html, "</script>");

	for (const char *p = html; p < pos; p++) {
		if (*p == '<')
			lt = p;
		else if (*p == '>')
			gt = p;
	}
	if ((st && pos > st && pos < ste) || (sc && pos > sc && pos < sce))
		return 0;
	return gt && (!lt || gt > lt);
}

/* True when pos lies inside a tag (between a raw '<' and its '>'). */
static int in_tag(const char *html, const char *pos)
{
	const char *lt = NULL, *gt = NULL;

	for (const char *p = html; p < pos; p++) {
		if (*p == '<')
			lt = p;
		else if (*p == '>')
			gt = p;
	}
	return lt && (!gt || lt > gt);
}

static void render(struct json_object *doc, struct json_object *base, char **html, size_t *len)
{
	char dir[] = "/tmp/mh-test-html.XXXXXX", path[256], err[MH_ERRLEN];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/report.html", dir);
	assert_int_equal(mh_render_html(doc, base, path, err, sizeof(err)), 0);
	*html = read_all(path, len);
	unlink(path);
	rmdir(dir);
}

static void test_render_hostile(void **state)
{
	struct json_object *doc = sample_doc(1);
	char *html, *css, *js, want[128];
	size_t len;
	(void)state;

	render(doc, NULL, &html, &len);
	assert_int_equal(strlen(html), len); /* no NUL inside */
	assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);

	/* one script element, ours, and no other active markup from the document */
	assert_int_equal(count(html, "<script"), 1);
	assert_int_equal(count(html, "</script"), 1);
	assert_int_equal(count(html, "<img"), 0);
	assert_int_equal(count(html, "<b>"), 0);
	assert_int_equal(count(html, "<i>"), 0);
	assert_int_equal(count(html, "<restart>"), 0);
	for (const char *p = strstr(html, "onerror"); p; p = strstr(p + 1, "onerror"))
		assert_true(in_text(html, p));
	assert_null(strstr(html, "javascript:"));
	assert_null(memchr(html, 0x01, len));
	assert_null(memchr(html, 0x07, len));
	assert_null(memchr(html, 0x1b, len));
	assert_null(strstr(html, "\xe2\x80\xae")); /* the raw bidi override */

	/* the hostile strings are there, escaped, as text */
	assert_non_null(
		strstr(html, "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;"));
	assert_non_null(strstr(html, "&quot;&gt;&lt;img src=x onerror=&quot;document.title="
				     "&#39;PWNED&#39;&quot;&gt;"));
	assert_non_null(strstr(html, "evil\\x01&lt;script&gt;"));
	assert_non_null(strstr(html, " \\x1b[31m http:"));
	assert_non_null(strstr(html, "\xef\xbf\xbd \\u202e"));
	assert_non_null(strstr(html, "\\x00\\x07&quot;&gt;&lt;img"));
	assert_non_null(strstr(html, "post&lt;b&gt;fix 3.7&#39;&quot;"));
	assert_non_null(strstr(html, "fix &amp; &lt;restart&gt;"));

	/* the CSP: nothing by default, our style and our script by hash, no eval */
	assert_non_null(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" "
				     "content=\"default-src 'none'; "));
	assert_null(strstr(html, "unsafe-eval"));
	assert_null(strstr(html, "unsafe-inline"));
	css = between(html, "<style>", "</style>");
	js = between(html, "<script>", "</script>");
	sha256_b64(css, want, sizeof(want));
	assert_non_null(strstr(html, want));
	sha256_b64(js, want, sizeof(want));
	assert_non_null(strstr(html, want));
	/* the CSP comes before the style sheet it allows */
	assert_true(strstr(html, "Content-Security-Policy") < strstr(html, "<style>"));
	/* no inline style attributes (the CSP would block them) and no handlers */
	assert_null(strstr(html, " style="));
	for (const char *p = strstr(html, " on"); p; p = strstr(p + 1, " on"))
		assert_false(in_tag(html, p));
	free(css);
	free(js);

	/* no URL anywhere but in escaped text (here: the hostile banner's one) */
	for (const char *p = strstr(html, "//"); p; p = strstr(p + 1, "//"))
		assert_true(in_text(html, p));
	for (const char *p = strstr(html, "http"); p; p = strstr(p + 1, "http"))
		assert_true(in_text(html, p) || strncmp(p, "http-equiv", 10) == 0);
	for (const char *p = strstr(html, "src="); p; p = strstr(p + 1, "src="))
		assert_false(in_tag(html, p));
	for (const char *p = strstr(html, "href="); p; p = strstr(p + 1, "href="))
		assert_int_equal(p[5] == '"' && p[6] == '#', 1); /* in-page anchors only */
	assert_null(strstr(html, "url("));
	assert_null(strstr(html, "@import"));

	/* the summary cards carry the document's counts */
	assert_non_null(strstr(html, "id=\"sum-hosts\" data-value=\"3\""));
	assert_non_null(strstr(html, "id=\"sum-open-ports\" data-value=\"2\""));
	assert_non_null(strstr(html, "id=\"sum-findings-critical\" data-value=\"1\""));
	assert_non_null(strstr(html, "id=\"sum-findings-high\" data-value=\"2\""));
	assert_non_null(strstr(html, "id=\"sum-findings-medium\" data-value=\"0\""));
	assert_non_null(strstr(html, "id=\"sum-findings-info\" data-value=\"1\""));
	assert_non_null(strstr(html, "id=\"sum-exposure-exposed\" data-value=\"2\""));
	assert_non_null(strstr(html, "id=\"sum-exposure-none\" data-value=\"1\""));
	/* every host has a row, the table is static HTML */
	assert_int_equal(count(html, "<tr class=\"host-row\""), 3);
	/* the networks: two /24 hosts and one /64 */
	assert_non_null(strstr(html, ">198.18.20.0/24</text>"));
	assert_non_null(strstr(html, ">fd00:18:20::/64</text>"));
	/* a complete scan raises no alert; no trend without a baseline */
	assert_null(strstr(html, "id=\"incomplete\""));
	assert_null(strstr(html, "id=\"trend\""));
	assert_non_null(strstr(html, "id=\"meta-complete\" data-value=\"true\""));
	free(html);
	json_object_put(doc);
}

static void test_render_incomplete_and_trend(void **state)
{
	struct json_object *doc = sample_doc(0);
	struct json_object *base = jparse(
		"{\"schema\":\"mailhole/1\",\"scan\":{\"finished\":\"2026-11-01T00:00:00Z\","
		"\"complete\":true},\"summary\":{\"hosts\":2,\"open_ports\":1,\"findings\":"
		"{\"critical\":0,\"high\":1,\"medium\":1,\"low\":0,\"info\":0}},\"hosts\":["
		"{\"addr\":\"198.18.20.2\",\"exposure\":\"exposed\",\"findings\":["
		"{\"id\":\"exposed-smtp\",\"severity\":\"high\",\"title\":\"T3\"},"
		"{\"id\":\"cert-expired\",\"severity\":\"medium\",\"title\":\"<old>\"}]},"
		"{\"addr\":\"198.18.20.9\",\"exposure\":\"none\",\"findings\":[]}]}");
	char *html;
	size_t len;
	(void)state;

	render(doc, base, &html, &len);
	assert_non_null(strstr(html, "id=\"incomplete\""));
	assert_non_null(strstr(html, "INCOMPLETE SCAN"));
	assert_non_null(strstr(html, "20 of 33 target addresses"));
	assert_non_null(strstr(html, "id=\"meta-complete\" data-value=\"false\""));
	/* the alert comes before the summary */
	assert_true(strstr(html, "id=\"incomplete\"") < strstr(html, "id=\"summary\""));

	/* new: open-relay, exposed-smtp on .66, mta-version-disclosed on .2;
	 * fixed: cert-expired on .2; unchanged: exposed-smtp on .2 */
	assert_non_null(strstr(html, "id=\"trend\""));
	assert_non_null(strstr(html, "id=\"trend-new\" data-value=\"3\""));
	assert_non_null(strstr(html, "id=\"trend-fixed\" data-value=\"1\""));
	assert_non_null(strstr(html, "id=\"trend-unchanged\" data-value=\"1\""));
	assert_non_null(strstr(html, "&lt;old&gt;"));
	/* summary deltas on the cards */
	assert_non_null(strstr(html, "+1 vs baseline"));
	assert_int_equal(count(html, "<script"), 1);
	free(html);
	json_object_put(doc);
	json_object_put(base);
}

static void test_render_odd_documents(void **state)
{
	char err[MH_ERRLEN], *html;
	size_t len;
	/* wrong types everywhere: nothing may crash, and nothing may pass unescaped */
	struct json_object *odd = jparse(
		"{\"scan\":[1],\"summary\":\"x\",\"hosts\":[5,{\"addr\":7,\"names\":\"<a>\","
		"\"ports\":[{\"port\":\"<q1>\",\"state\":\"open\",\"smtp\":{\"banner\":[\"<x>\"],"
		"\"mta\":{\"product\":\"<q2>\",\"version\":{\"v\":\"<q3>\"}},"
		"\"ehlo\":{\"capabilities\":"
		"[{\"<q4>\":1}]}}}],\"findings\":[{\"severity\":\"<bad>\",\"id\":\"<id>\"},7]},"
		"{\"addr\":\"fe80::1%eth0<\",\"exposure\":\"<e>\",\"local\":{\"listeners\":"
		"[{\"addr\":\"<q5>\",\"port\":25}]},\"probes\":[{\"kind\":\"<q6>\"}]}]}");
	struct json_object *scalar = json_object_new_int(3);
	(void)state;

	render(odd, NULL, &html, &len);
	assert_int_equal(count(html, "<script"), 1);
	assert_null(strstr(html, "<q1>"));
	assert_null(strstr(html, "<q2>"));
	assert_null(strstr(html, "<q3>"));
	assert_null(strstr(html, "<q4>"));
	assert_null(strstr(html, "<q5>"));
	assert_null(strstr(html, "<q6>"));
	assert_null(strstr(html, "<id>"));
	assert_non_null(strstr(html, "&lt;id&gt;"));
	assert_non_null(strstr(html, "&lt;q5&gt;"));
	assert_non_null(strstr(html, "id=\"sum-hosts\" data-value=\"2\""));
	/* completeness unknown: said so */
	assert_non_null(strstr(html, "Completeness not recorded"));
	free(html);

	assert_int_equal(mh_render_html(scalar, NULL, "/nonexistent/x.html", err, sizeof(err)),
			 MH_EINVAL);
	/* an unwritable path is an error with a message, not a crash */
	assert_true(mh_render_html(odd, NULL, "/nonexistent-dir/x.html", err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	json_object_put(odd);
	json_object_put(scalar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_specials),
		cmocka_unit_test(test_escape_controls),
		cmocka_unit_test(test_escape_utf8),
		cmocka_unit_test(test_escape_truncation),
		cmocka_unit_test(test_escape_long),
		cmocka_unit_test(test_render_hostile),
		cmocka_unit_test(test_render_incomplete_and_trend),
		cmocka_unit_test(test_render_odd_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
