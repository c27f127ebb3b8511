/*
 * test_doc.c -- documents as data (report/doc.c): load errors with their
 * exact messages, merging shards and runs, the summary, and the diff.
 * Fixtures: tests/fixtures/docs/ (README there says what each one is).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/render.h"
#include "mailhole/rules.h"

#define DOCS MH_FIXTURES "/docs/"

static struct json_object *load(const char *name)
{
	struct json_object *d = NULL;
	char err[MH_ERRLEN] = "";

	if (mh_doc_load(name, &d, err, sizeof(err)) < 0)
		fail_msg("load %s: %s", name, err);
	return d;
}

static void expect_error(const char *name, const char *msg)
{
	struct json_object *d = NULL;
	char err[MH_ERRLEN] = "", path[256], want[MH_ERRLEN];

	snprintf(path, sizeof(path), "%s%s", DOCS, name);
	snprintf(want, sizeof(want), "%s: %s", path, msg);
	assert_true(mh_doc_load(path, &d, err, sizeof(err)) < 0);
	assert_null(d);
	assert_string_equal(err, want);
}

static void test_load_errors(void **state)
{
	(void)state;
	expect_error("bad-syntax.json", "line 3, column 38: unexpected character");
	expect_error("truncated.json", "line 4, column 1: unexpected end of data");
	expect_error("bad-schema.json", ".schema: not a mailhole/1 document");
	expect_error("bad-addr.json", ".hosts[3].addr: missing");
	expect_error("bad-hosts.json", ".hosts: not an array");
	expect_error("no-such-file.json", "No such file or directory");
}

static void test_load_ok(void **state)
{
	struct json_object *d;
	(void)state;

	d = load(DOCS "shard-1.json");
	assert_int_equal(json_object_array_length(mh_doc_array(d, "hosts")), 2);
	assert_string_equal(mh_doc_string(d, "schema", NULL), "mailhole/1");
	assert_null(mh_doc_string(d, "hosts", NULL)); /* wrong type reads as absent */
	json_object_put(d);
	/* hostile strings load: they are the renderers' business */
	d = load(DOCS "hostile.json");
	json_object_put(d);
}

/* The host of doc with addr, or NULL. */
static struct json_object *host(struct json_object *doc, const char *addr)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts");

	for (size_t i = 0, n = json_object_array_length(hosts); i < n; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		if (strcmp(mh_doc_string(h, "addr", NULL), addr) == 0)
			return h;
	}
	return NULL;
}

static struct json_object *finding(struct json_object *h, const char *id)
{
	struct json_object *f = mh_doc_array(h, "findings");

	for (size_t i = 0, n = json_object_array_length(f); i < n; i++)
		if (strcmp(mh_doc_string(json_object_array_get_idx(f, i), "id", NULL), id) == 0)
			return json_object_array_get_idx(f, i);
	return NULL;
}

static int64_t path_int(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x = NULL, *y = NULL;

	assert_true(json_object_object_get_ex(o, a, &x));
	if (!b)
		return json_object_get_int64(x);
	assert_true(json_object_object_get_ex(x, b, &y));
	return json_object_get_int64(y);
}

static void test_merge_shards(void **state)
{
	struct json_object *docs[2], *m = NULL, *scan, *v;
	char err[MH_ERRLEN];
	(void)state;

	docs[0] = load(DOCS "shard-2.json");
	docs[1] = load(DOCS "shard-1.json");
	assert_int_equal(mh_doc_merge(docs, 2, &m, err, sizeof(err)), 0);
	/* union, IPv4 numeric order */
	assert_int_equal(json_object_array_length(mh_doc_array(m, "hosts")), 4);
	assert_string_equal(
	    mh_doc_string(json_object_array_get_idx(mh_doc_array(m, "hosts"), 0), "addr", NULL),
	    "127.0.0.1");
	assert_string_equal(
	    mh_doc_string(json_object_array_get_idx(mh_doc_array(m, "hosts"), 1), "addr", NULL),
	    "198.18.0.2");
	assert_string_equal(
	    mh_doc_string(json_object_array_get_idx(mh_doc_array(m, "hosts"), 3), "addr", NULL),
	    "198.18.0.40");
	/* scan: what was merged */
	assert_true(json_object_object_get_ex(m, "scan", &scan));
	assert_string_equal(mh_doc_string(scan, "command", NULL), "report");
	assert_string_equal(mh_doc_string(scan, "started", NULL), "2026-11-24T00:10:00Z");
	assert_string_equal(mh_doc_string(scan, "finished", NULL), "2026-11-24T00:15:02Z");
	assert_true(json_object_object_get_ex(scan, "complete", &v));
	assert_false(json_object_get_boolean(v)); /* shard 2 was interrupted */
	assert_int_equal(json_object_array_length(mh_doc_array(scan, "inputs")), 2);
	/* summary recomputed */
	assert_int_equal(path_int(m, "summary", "hosts"), 4);
	assert_int_equal(path_int(m, "summary", "open_ports"), 4);
	assert_true(json_object_object_get_ex(m, "summary", &v));
	assert_int_equal(path_int(v, "findings", "high"), 2);
	assert_int_equal(path_int(v, "findings", "info"), 3);
	assert_int_equal(path_int(v, "findings", "critical"), 0);
	/* exposure recomputed from the ports */
	assert_string_equal(mh_doc_string(host(m, "127.0.0.1"), "exposure", NULL), "loopback-only");
	assert_string_equal(mh_doc_string(host(m, "198.18.0.2"), "role", NULL), "mail-server");
	json_object_put(m);
	json_object_put(docs[0]);
	json_object_put(docs[1]);
}

/* Relay queue sections survive a merge: the newest is "queue", all are in "queues". */
static void test_merge_queue(void **state)
{
	struct json_object *docs[2], *m = NULL, *q, *qs;
	char err[MH_ERRLEN];
	(void)state;

	docs[0] = load(DOCS "shard-1.json"); /* finished 00:10:xx */
	docs[1] = load(DOCS "shard-2.json"); /* finished 00:15:02 */
	json_object_object_add(docs[0], "queue", json_tokener_parse("{\"format\":\"exim\"}"));
	json_object_object_add(docs[1], "queue",
			       json_tokener_parse("{\"format\":\"postfix-json\"}"));
	assert_int_equal(mh_doc_merge(docs, 2, &m, err, sizeof(err)), 0);
	assert_true(json_object_object_get_ex(m, "queue", &q));
	assert_string_equal(mh_doc_string(q, "format", NULL), "postfix-json");
	assert_true(json_object_object_get_ex(m, "queues", &qs));
	assert_int_equal(json_object_array_length(qs), 2);
	json_object_put(m);
	/* one input with a queue: "queue" only */
	json_object_object_del(docs[0], "queue");
	assert_int_equal(mh_doc_merge(docs, 2, &m, err, sizeof(err)), 0);
	assert_true(json_object_object_get_ex(m, "queue", &q));
	assert_false(json_object_object_get_ex(m, "queues", NULL));
	json_object_put(m);
	json_object_put(docs[0]);
	json_object_put(docs[1]);
}

static void test_merge_runs(void **state)
{
	struct json_object *docs[2], *m = NULL, *h, *names, *ports, *f;
	char err[MH_ERRLEN];
	(void)state;

	/* newest first on the command line: order comes from scan.finished */
	docs[0] = load(DOCS "run-new.json");
	docs[1] = load(DOCS "run-old.json");
	assert_int_equal(mh_doc_merge(docs, 2, &m, err, sizeof(err)), 0);
	assert_int_equal(json_object_array_length(mh_doc_array(m, "hosts")), 3);

	h = host(m, "198.18.0.13");
	assert_non_null(h);
	/* names united, first seen first (the old run's, then the new one's) */
	names = mh_doc_array(h, "names");
	assert_int_equal(json_object_array_length(names), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(names, 0)),
	                    "host-c.lab.test");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(names, 1)),
	                    "mx-c.lab.test");
	/* ports merged by number, sorted, the newest record wins */
	ports = mh_doc_array(h, "ports");
	assert_int_equal(json_object_array_length(ports), 2);
	assert_int_equal(path_int(json_object_array_get_idx(ports, 0), "port", NULL), 25);
	assert_int_equal(path_int(json_object_array_get_idx(ports, 1), "port", NULL), 587);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(ports, 0), "smtp", &f));
	assert_string_equal(mh_doc_string(f, "banner", NULL), "220 host-c.lab.test ESMTP");
	/* findings per id: the newest wins; one only in the old run stays */
	assert_string_equal(mh_doc_string(finding(h, "exposed-smtp"), "evidence", NULL),
	                    "open: 25/tcp, 587/tcp");
	assert_non_null(finding(h, "mta-version-disclosed"));
	assert_non_null(finding(h, "auth-before-tls"));
	assert_int_equal(json_object_array_length(mh_doc_array(h, "findings")), 3);

	/* a port closed in the newer run: the host is no longer exposed */
	h = host(m, "198.18.0.20");
	assert_string_equal(mh_doc_string(h, "exposure", NULL), "none");
	assert_string_equal(mh_doc_string(host(m, "198.18.0.30"), "role", NULL), "mail-server");

	assert_int_equal(path_int(m, "summary", "hosts"), 3);
	assert_int_equal(path_int(m, "summary", "open_ports"), 3);
	json_object_put(m);

	/* the same inputs in the other order give the same document */
	{
		struct json_object *swapped[2] = {docs[1], docs[0]}, *m2 = NULL;
		assert_int_equal(mh_doc_merge(docs, 2, &m, err, sizeof(err)), 0);
		assert_int_equal(mh_doc_merge(swapped, 2, &m2, err, sizeof(err)), 0);
		assert_true(json_object_equal(mh_doc_array(m, "hosts"), mh_doc_array(m2, "hosts")));
		json_object_put(m);
		json_object_put(m2);
	}
	json_object_put(docs[0]);
	json_object_put(docs[1]);
}

static void test_merge_one_and_empty(void **state)
{
	struct json_object *d = load(DOCS "empty-hosts.json"), *m = NULL;
	char err[MH_ERRLEN];
	(void)state;

	assert_int_equal(mh_doc_merge(&d, 1, &m, err, sizeof(err)), 0);
	assert_int_equal(path_int(m, "summary", "hosts"), 0);
	json_object_put(m);
	assert_int_equal(mh_doc_merge(&d, 0, &m, err, sizeof(err)), MH_EINVAL);
	json_object_put(d);
}

static void test_summarize(void **state)
{
	struct json_object *d = load(DOCS "run-new.json"), *s;
	(void)state;

	/* the fixture's summary is wrong on purpose (open_ports 0, findings {}) */
	mh_doc_summarize(d);
	assert_int_equal(path_int(d, "summary", "hosts"), 3);
	assert_int_equal(path_int(d, "summary", "open_ports"), 3);
	assert_true(json_object_object_get_ex(d, "summary", &s));
	assert_int_equal(path_int(s, "findings", "critical"), 1);
	assert_int_equal(path_int(s, "findings", "high"), 1);
	assert_int_equal(path_int(s, "findings", "medium"), 1);
	assert_int_equal(path_int(s, "findings", "low"), 0);
	json_object_put(d);
}

/* The ids of a diff list as "addr/id,addr/id". */
static void list_of(struct json_object *d, const char *which, char *buf, size_t size)
{
	struct json_object *a = mh_doc_array(d, which);

	buf[0] = '\0';
	for (size_t i = 0, n = json_object_array_length(a); i < n; i++) {
		struct json_object *it = json_object_array_get_idx(a, i);
		size_t l = strlen(buf);
		snprintf(buf + l, size - l, "%s%s/%s", i ? "," : "",
		         mh_doc_string(it, "addr", NULL), mh_doc_string(it, "id", NULL));
	}
}

static void test_diff(void **state)
{
	struct json_object *old_doc = load(DOCS "run-old.json");
	struct json_object *new_doc = load(DOCS "run-new.json");
	struct json_object *d = NULL;
	char err[MH_ERRLEN], buf[512];
	unsigned failing = 99;
	(void)state;

	assert_int_equal(mh_doc_diff(old_doc, new_doc, MH_SEV_HIGH, &d, &failing, err, sizeof(err)),
	                 0);
	list_of(d, "new", buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.13/auth-before-tls,198.18.0.30/open-relay");
	list_of(d, "fixed", buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.13/mta-version-disclosed,198.18.0.20/exposed-smtp");
	list_of(d, "unchanged", buf, sizeof(buf));
	assert_string_equal(buf, "198.18.0.13/exposed-smtp");
	assert_string_equal(
	    mh_doc_string(json_object_array_get_idx(mh_doc_array(d, "new"), 1), "severity", NULL),
	    "critical");
	assert_int_equal(failing, 1); /* open-relay */
	json_object_put(d);

	assert_int_equal(
	    mh_doc_diff(old_doc, new_doc, MH_SEV_MEDIUM, &d, &failing, err, sizeof(err)), 0);
	assert_int_equal(failing, 2);
	json_object_put(d);
	assert_int_equal(
	    mh_doc_diff(old_doc, new_doc, MH_SEV_CRITICAL, &d, &failing, err, sizeof(err)), 0);
	assert_int_equal(failing, 1);
	json_object_put(d);
	assert_int_equal(
	    mh_doc_diff(old_doc, new_doc, MH_SEV_COUNT, &d, &failing, err, sizeof(err)), 0);
	assert_int_equal(failing, 0);
	json_object_put(d);

	/* a document against itself: nothing new, nothing fixed */
	assert_int_equal(mh_doc_diff(new_doc, new_doc, MH_SEV_INFO, &d, &failing, err, sizeof(err)),
	                 0);
	assert_int_equal(json_object_array_length(mh_doc_array(d, "new")), 0);
	assert_int_equal(json_object_array_length(mh_doc_array(d, "fixed")), 0);
	assert_int_equal(json_object_array_length(mh_doc_array(d, "unchanged")), 3);
	assert_int_equal(failing, 0);
	json_object_put(d);
	json_object_put(old_doc);
	json_object_put(new_doc);
}

/* Wrong types anywhere but the checked shape read as absent, never crash. */
static void test_wrong_types(void **state)
{
	const char *text =
	    "{\"schema\":\"mailhole/1\",\"scan\":[],\"summary\":7,\"hosts\":["
	    "{\"addr\":\"198.18.0.1\",\"names\":\"x\",\"ports\":[1,{\"port\":\"25\"},"
	    "{\"port\":25,\"state\":\"open\",\"smtp\":[]}],\"findings\":[null,"
	    "{\"id\":7},{\"id\":\"exposed-smtp\",\"severity\":[]}],\"probes\":{}},"
	    "{\"addr\":\"198.18.0.1\",\"role\":5,\"local\":\"no\"}]}";
	struct json_object *d = json_tokener_parse(text), *m = NULL, *diff = NULL;
	char err[MH_ERRLEN];
	unsigned failing;
	(void)state;

	assert_non_null(d);
	assert_int_equal(mh_doc_merge(&d, 1, &m, err, sizeof(err)), 0);
	assert_int_equal(json_object_array_length(mh_doc_array(m, "hosts")), 1);
	assert_string_equal(mh_doc_string(host(m, "198.18.0.1"), "exposure", NULL), "exposed");
	assert_int_equal(mh_doc_diff(d, m, MH_SEV_INFO, &diff, &failing, err, sizeof(err)), 0);
	assert_int_equal(failing, 0);
	mh_doc_summarize(d);
	assert_int_equal(path_int(d, "summary", "open_ports"), 1);
	json_object_put(diff);
	json_object_put(m);
	json_object_put(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_load_ok),
	    cmocka_unit_test(test_merge_shards),
	    cmocka_unit_test(test_merge_runs),
	    cmocka_unit_test(test_merge_queue),
	    cmocka_unit_test(test_merge_one_and_empty),
	    cmocka_unit_test(test_summarize),
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_wrong_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
