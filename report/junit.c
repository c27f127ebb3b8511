/*
 * junit.c -- the document as JUnit XML, the format CI servers (Jenkins,
 * GitLab, most others) read test results in.
 *
 * Each rule of the table is a test suite, each host a test case of it: a
 * host where the rule fired is a failed test, with the finding's title as
 * the message, its severity as the type, and evidence plus remediation as
 * the body. So a pipeline shows "exposed-smtp: 3 of 40 failed" and the
 * hosts by name. Rules found in the document but not in this version's
 * table (a newer mailhole wrote it) get suites of their own after the table.
 *
 * Every string of the document is untrusted. It is made valid UTF-8 again,
 * then escaped: the five markup characters become entities, TAB, LF and CR
 * become character references (so attribute values keep them), and what
 * XML 1.0 cannot carry at all (the other C0 controls, U+FFFE, U+FFFF)
 * becomes U+FFFD.
 */
#include "mailhole/render.h"

#include <json-c/printbuf.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

#define REPLACEMENT "\xef\xbf\xbd"

/* Appends len bytes of untrusted text to pb, escaped for XML text and attributes. */
static void xml_escape(struct printbuf *pb, const char *s, size_t len)
{
	size_t cap = len * 3 + 1;
	char stackbuf[1024];
	char *clean = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
	size_t n, run = 0;

	if (!clean)
		return;
	n = mh_utf8_clean(clean, cap, s, len);
	for (size_t i = 0; i < n; i++) {
		const unsigned char c = (unsigned char)clean[i];
		const char *rep = NULL;
		size_t skip = 1;

		switch (c) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		case '\t':
			rep = "&#9;";
			break;
		case '\n':
			rep = "&#10;";
			break;
		case '\r':
			rep = "&#13;";
			break;
		case 0xef:
			/* U+FFFE and U+FFFF are valid UTF-8 but not XML characters */
			if (i + 2 < n && (unsigned char)clean[i + 1] == 0xbf &&
			    ((unsigned char)clean[i + 2] & 0xfe) == 0xbe) {
				rep = REPLACEMENT;
				skip = 3;
			}
			break;
		default:
			if (c < 0x20)
				rep = REPLACEMENT;
			break;
		}
		if (!rep) {
			run++;
			continue;
		}
		printbuf_memappend(pb, clean + i - run, (int)run);
		printbuf_memappend(pb, rep, (int)strlen(rep));
		run = 0;
		i += skip - 1;
	}
	printbuf_memappend(pb, clean + n - run, (int)run);
	if (clean != stackbuf)
		free(clean);
}

static void xml_str(struct printbuf *pb, const char *s)
{
	xml_escape(pb, s, strlen(s));
}

/* A document string (may hold NUL bytes through \u0000): its whole length. */
static void xml_doc_str(struct printbuf *pb, struct json_object *obj, const char *key,
                        const char *dflt)
{
	size_t len;
	const char *s = mh_doc_string(obj, key, &len);

	if (s)
		xml_escape(pb, s, len);
	else
		xml_str(pb, dflt);
}

static void put(struct printbuf *pb, const char *s)
{
	printbuf_memappend(pb, s, (int)strlen(s));
}

static void put_uint(struct printbuf *pb, size_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%zu", v);

	printbuf_memappend(pb, buf, n);
}

/* The findings of host h with rule id `id` (borrowed); fills at most max. */
static size_t host_findings(struct json_object *h, const char *id, struct json_object **out,
                            size_t max)
{
	struct json_object *findings = mh_doc_array(h, "findings");
	size_t nf = findings ? json_object_array_length(findings) : 0, k = 0;

	for (size_t i = 0; i < nf && k < max; i++) {
		struct json_object *f = json_object_array_get_idx(findings, i);
		const char *fid = mh_doc_string(f, "id", NULL);
		if (fid && strcmp(fid, id) == 0)
			out[k++] = f;
	}
	return k;
}

/* How many findings to show for one host and rule (a hostile document may repeat one). */
#define MAX_SAME 16

static void testcase(struct printbuf *pb, const char *id, struct json_object *h)
{
	struct json_object *names = mh_doc_array(h, "names");
	struct json_object *first = names ? json_object_array_get_idx(names, 0) : NULL;
	struct json_object *fs[MAX_SAME];
	size_t nf = host_findings(h, id, fs, MAX_SAME);

	put(pb, "    <testcase classname=\"mailhole.");
	xml_str(pb, id);
	put(pb, "\" name=\"");
	xml_doc_str(pb, h, "addr", "");
	if (json_object_is_type(first, json_type_string)) {
		put(pb, " (");
		xml_escape(pb, json_object_get_string(first),
		           (size_t)json_object_get_string_len(first));
		put(pb, ")");
	}
	if (nf == 0) {
		put(pb, "\"/>\n");
		return;
	}
	put(pb, "\">\n      <failure message=\"");
	xml_doc_str(pb, fs[0], "title", id);
	put(pb, "\" type=\"");
	xml_doc_str(pb, fs[0], "severity", "unknown");
	put(pb, "\">");
	for (size_t i = 0; i < nf; i++) {
		if (i)
			put(pb, "\n\n");
		xml_doc_str(pb, fs[i], "evidence", "");
		if (mh_doc_string(fs[i], "remediation", NULL)) {
			put(pb, "\nRemediation: ");
			xml_doc_str(pb, fs[i], "remediation", "");
		}
	}
	put(pb, "</failure>\n    </testcase>\n");
}

static size_t fired(struct json_object *hosts, size_t nh, const char *id)
{
	size_t n = 0;
	struct json_object *f;

	for (size_t i = 0; i < nh; i++)
		n += host_findings(json_object_array_get_idx(hosts, i), id, &f, 1);
	return n;
}

static void testsuite(struct printbuf *pb, const char *id, struct json_object *hosts, size_t nh)
{
	put(pb, "  <testsuite name=\"");
	xml_str(pb, id);
	put(pb, "\" tests=\"");
	put_uint(pb, nh);
	put(pb, "\" failures=\"");
	put_uint(pb, fired(hosts, nh, id));
	put(pb, "\" errors=\"0\" skipped=\"0\"");
	if (nh == 0) {
		put(pb, "/>\n");
		return;
	}
	put(pb, ">\n");
	for (size_t i = 0; i < nh; i++)
		testcase(pb, id, json_object_array_get_idx(hosts, i));
	put(pb, "  </testsuite>\n");
}

/* Rule IDs of the document that the table does not know, each once, in order. */
static struct json_object *unknown_rules(struct json_object *hosts, size_t nh)
{
	struct json_object *ids = json_object_new_array();
	struct json_object *seen = json_object_new_object();

	for (size_t i = 0; ids && seen && i < nh; i++) {
		struct json_object *f =
		    mh_doc_array(json_object_array_get_idx(hosts, i), "findings");
		size_t nf = f ? json_object_array_length(f) : 0;

		for (size_t k = 0; k < nf; k++) {
			const char *id = mh_doc_string(json_object_array_get_idx(f, k), "id", NULL);
			if (!id || mh_rule_find(id) || json_object_object_get_ex(seen, id, NULL))
				continue;
			json_object_object_add(seen, id, NULL);
			json_object_array_add(ids, json_object_new_string(id));
		}
	}
	json_object_put(seen);
	return ids;
}

int mh_render_junit(struct json_object *doc, const char *path, char *err, size_t errlen)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts");
	size_t nh = hosts ? json_object_array_length(hosts) : 0, tests = 0, failures = 0;
	struct json_object *extra = unknown_rules(hosts, nh);
	size_t nextra = extra ? json_object_array_length(extra) : 0;
	struct printbuf *pb = printbuf_new();
	int rc;

	if (!pb || !extra) {
		printbuf_free(pb);
		json_object_put(extra);
		return mh_err(err, errlen, MH_ENOMEM, "junit: out of memory");
	}
	for (unsigned r = 0; r < mh_nrules; r++)
		failures += fired(hosts, nh, mh_rules[r].id);
	for (size_t r = 0; r < nextra; r++)
		failures +=
		    fired(hosts, nh, json_object_get_string(json_object_array_get_idx(extra, r)));
	tests = nh * (mh_nrules + nextra);

	put(pb,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"mailhole\" tests=\"");
	put_uint(pb, tests);
	put(pb, "\" failures=\"");
	put_uint(pb, failures);
	put(pb, "\" errors=\"0\">\n");
	for (unsigned r = 0; r < mh_nrules; r++)
		testsuite(pb, mh_rules[r].id, hosts, nh);
	for (size_t r = 0; r < nextra; r++)
		testsuite(pb, json_object_get_string(json_object_array_get_idx(extra, r)), hosts,
		          nh);
	put(pb, "</testsuites>\n");
	json_object_put(extra);
	rc = mh_write_file_atomic(path, pb->buf, (size_t)printbuf_length(pb), err, errlen);
	printbuf_free(pb);
	return rc;
}
