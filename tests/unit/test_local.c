/*
 * test_local.c -- the judgement of `mailhole local` over synthetic tables:
 * exposure (none, loopback-only, exposed), partial exposure per port and
 * family, the listeners laid over the cells, the rules it fires
 * (exposed-smtp, loopback-only, partial-exposure) and the "local" object of
 * the host record; plus the primary address and a real, harmless gather.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/local.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

#define TREE MH_FIXTURES "/proc/tree"

/* A row: "eth0 198.18.0.13 LCF" = 25 listening, 465 closed, 587 filtered. */
struct row {
	const char *ifname, *addr, *cells;
};

static struct mh_local *table(const struct row *rows, size_t n)
{
	struct mh_local *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->addrs = calloc(n ? n : 1, sizeof(*l->addrs));
	assert_non_null(l->addrs);
	l->naddrs = n;
	for (size_t i = 0; i < n; i++) {
		struct mh_local_addr *r = &l->addrs[i];
		mh_strlcpy(r->ifname, rows[i].ifname, sizeof(r->ifname));
		assert_int_equal(mh_addr_parse(rows[i].addr, &r->addr), 0);
		for (int p = 0; p < MH_LOCAL_NPORTS; p++)
			r->cell[p] = rows[i].cells[p] == 'L'   ? MH_CELL_LISTENING
				     : rows[i].cells[p] == 'F' ? MH_CELL_FILTERED
							       : MH_CELL_CLOSED;
	}
	return l;
}

static void add_listener(struct mh_local *l, const char *addr, uint16_t port, const char *proc)
{
	struct mh_listener *li;

	l->listeners = realloc(l->listeners, (l->nlisteners + 1) * sizeof(*l->listeners));
	assert_non_null(l->listeners);
	li = &l->listeners[l->nlisteners++];
	memset(li, 0, sizeof(*li));
	assert_int_equal(mh_addr_parse(addr, &li->addr), 0);
	li->port = port;
	li->pid = proc ? 123 : -1;
	mh_strlcpy(li->process, proc ? proc : "unknown", sizeof(li->process));
	mh_strlcpy(li->exe, proc ? "/usr/lib/postfix/sbin/master" : "unknown", sizeof(li->exe));
}

static const struct row lo_rows[] = { { "lo", "127.0.0.1", "CCC" }, { "lo", "::1", "CCC" } };

static void test_none(void **state)
{
	struct mh_local *l = table(lo_rows, 2);

	(void)state;
	mh_local_judge(l);
	assert_int_equal(l->exposure, MH_EXPOSURE_NONE);
	assert_false(l->partial);
	assert_true(l->agree);
	assert_true(l->addrs[0].loopback);
	mh_local_free(&l);
	assert_null(l);
	mh_local_free(&l); /* safe on NULL */
}

static void test_loopback_only(void **state)
{
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "LCC" },
		{ "eth0", "198.18.0.13", "CCC" },
		{ "eth1", "198.18.1.13", "CCC" },
		{ "lo", "::1", "CCC" },
	};
	struct mh_local *l = table(rows, 4);

	(void)state;
	add_listener(l, "127.0.0.1", 25, "master");
	mh_local_judge(l);
	assert_int_equal(l->exposure, MH_EXPOSURE_LOOPBACK);
	assert_false(l->partial); /* loopback does not count for partial */
	assert_true(l->agree);
	assert_true(l->addrs[0].bound[0]);
	assert_false(l->addrs[1].bound[0]);
	mh_local_free(&l);
}

static void test_exposed_everywhere(void **state)
{
	/* Postfix inet_interfaces = all, inet_protocols = ipv4: v6 closed, not partial */
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "LCC" },   { "eth0", "198.18.0.13", "LCC" },
		{ "eth1", "198.18.1.13", "LCC" }, { "lo", "::1", "CCC" },
		{ "eth0", "fd00::13", "CCC" },  { "eth0", "fe80::1%1", "CCC" },
	};
	struct mh_local *l = table(rows, 6);

	(void)state;
	add_listener(l, "0.0.0.0", 25, "master");
	mh_local_judge(l);
	assert_int_equal(l->exposure, MH_EXPOSURE_EXPOSED);
	assert_false(l->partial);
	assert_true(l->agree);
	for (size_t i = 0; i < 3; i++)
		assert_true(l->addrs[i].bound[0]);
	assert_false(l->addrs[4].bound[0]);
	mh_local_free(&l);
}

static void test_partial_two_interfaces(void **state)
{
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "CCC" },
		{ "eth0", "198.18.0.13", "LCC" },
		{ "eth1", "198.18.1.13", "CCC" },
	};
	struct mh_local *l = table(rows, 3);

	(void)state;
	add_listener(l, "198.18.0.13", 25, "master");
	mh_local_judge(l);
	assert_int_equal(l->exposure, MH_EXPOSURE_EXPOSED);
	assert_true(l->partial);
	assert_string_equal(l->partial_evidence,
			    "25/tcp listening on 198.18.0.13 (eth0), closed on 198.18.1.13 (eth1)");
	assert_true(l->agree);
	mh_local_free(&l);
}

/* The same address listens on 587 only, the other on 25 only: partial (per port). */
static void test_partial_per_port(void **state)
{
	static const struct row rows[] = {
		{ "eth0", "198.18.0.13", "CCL" },
		{ "eth1", "198.18.1.13", "LCC" },
	};
	struct mh_local *l = table(rows, 2);

	(void)state;
	mh_local_judge(l);
	assert_true(l->partial);
	assert_non_null(strstr(l->partial_evidence, "25/tcp listening on 198.18.1.13"));
	assert_false(l->agree); /* no listener explains the cells */
	mh_local_free(&l);
}

/* IPv6: a global address listens, the link-local one is filtered. */
static void test_partial_v6_filtered(void **state)
{
	static const struct row rows[] = {
		{ "eth0", "fd00::13", "CCL" },
		{ "eth0", "fe80::13%1", "CCF" },
		{ "eth0", "198.18.0.13", "CCC" },
	};
	struct mh_local *l = table(rows, 3);

	(void)state;
	add_listener(l, "::", 587, "master");
	mh_local_judge(l);
	assert_int_equal(l->exposure, MH_EXPOSURE_EXPOSED);
	assert_true(l->partial);
	assert_non_null(strstr(l->partial_evidence, "587/tcp listening on fd00::13 (eth0), "
						    "filtered on fe80::13"));
	/* :: covers the link-local and the IPv4 address: two cells disagree */
	assert_true(l->addrs[1].bound[2]);
	assert_true(l->addrs[2].bound[2]);
	assert_false(l->agree);
	mh_local_free(&l);
}

/* A single non-loopback address cannot be partial. */
static void test_one_address(void **state)
{
	static const struct row rows[] = { { "eth0", "198.18.0.13", "LLL" },
					   { "lo", "127.0.0.1", "CCC" } };
	struct mh_local *l = table(rows, 2);

	(void)state;
	mh_local_judge(l);
	assert_int_equal(l->exposure, MH_EXPOSURE_EXPOSED);
	assert_false(l->partial);
	mh_local_free(&l);
}

static const struct mh_finding *finding(const struct mh_host *h, const char *id)
{
	for (unsigned i = 0; i < h->nfindings; i++)
		if (!strcmp(h->findings[i].rule->id, id))
			return &h->findings[i];
	return NULL;
}

static struct mh_host *host_with(struct mh_local *l, const char *addr)
{
	struct mh_addr a;
	struct mh_host *h;

	assert_int_equal(mh_addr_parse(addr, &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	mh_local_judge(l);
	h->local = l;
	return h;
}

static void test_rules_exposed_partial(void **state)
{
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "LCC" },
		{ "eth0", "198.18.0.13", "LCL" },
		{ "eth1", "198.18.1.13", "CCC" },
		{ "eth1", "fd00::13", "LCC" },
	};
	struct mh_host *h = host_with(table(rows, 4), "198.18.0.13");
	const struct mh_finding *f;

	(void)state;
	add_listener(h->local, "0.0.0.0", 25, "master");
	mh_classify(h);
	mh_classify(h); /* idempotent */
	assert_int_equal(h->nfindings, 2);
	f = finding(h, "exposed-smtp");
	assert_non_null(f);
	assert_int_equal(f->severity, MH_SEV_HIGH);
	assert_string_equal(f->evidence,
			    "listening: 198.18.0.13:25, 198.18.0.13:587, [fd00::13]:25");
	/* the MTA is known from the listener's process: Postfix's remediation */
	assert_string_equal(f->remediation,
			    mh_rule_remediation(mh_rule_find("exposed-smtp"), "postfix"));
	f = finding(h, "partial-exposure");
	assert_non_null(f);
	assert_int_equal(f->severity, MH_SEV_MEDIUM);
	assert_non_null(strstr(f->evidence, "closed on 198.18.1.13 (eth1)"));
	assert_null(finding(h, "loopback-only"));
	assert_int_equal(mh_host_exposure(h), MH_EXPOSURE_EXPOSED);
	mh_host_free(&h);
}

static void test_rules_mail_server(void **state)
{
	static const struct row rows[] = { { "eth0", "198.18.0.13", "LCC" } };
	struct mh_host *h = host_with(table(rows, 1), "198.18.0.13");

	(void)state;
	h->mail_server = true;
	mh_classify(h);
	assert_int_equal(h->nfindings, 0);
	mh_host_free(&h);
}

static void test_rules_loopback(void **state)
{
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "LCC" },
		{ "lo", "::1", "LCC" },
		{ "eth0", "198.18.0.13", "CCC" },
	};
	struct mh_host *h = host_with(table(rows, 3), "198.18.0.13");
	const struct mh_finding *f;

	(void)state;
	mh_classify(h);
	assert_int_equal(h->nfindings, 1);
	f = finding(h, "loopback-only");
	assert_non_null(f);
	assert_int_equal(f->severity, MH_SEV_LOW);
	assert_string_equal(f->evidence, "listening on loopback only: 127.0.0.1:25, [::1]:25");
	assert_int_equal(mh_host_exposure(h), MH_EXPOSURE_LOOPBACK);
	mh_host_free(&h);
}

/* Many listening cells: the evidence stays in its buffer and says how many more. */
static void test_rules_long_evidence(void **state)
{
	struct row rows[60];
	char addrs[60][32];
	struct mh_host *h;
	const struct mh_finding *f;

	(void)state;
	for (int i = 0; i < 60; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "198.18.%d.%d", i, 100 + i);
		rows[i] = (struct row){ "eth0", addrs[i], "LLL" };
	}
	h = host_with(table(rows, 60), "198.18.0.100");
	mh_classify(h);
	f = finding(h, "exposed-smtp");
	assert_non_null(f);
	assert_true(strlen(f->evidence) < sizeof(f->evidence));
	assert_non_null(strstr(f->evidence, " more"));
	mh_host_free(&h);
}

static void test_json(void **state)
{
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "LCC" },
		{ "eth0", "198.18.0.13", "LCF" },
		{ "eth1", "198.18.1.13", "CCC" },
	};
	struct mh_host *h = host_with(table(rows, 3), "198.18.0.13");
	struct json_object *o, *loc, *v, *it;
	const char *names[] = { "host-c.lab.test", NULL };

	(void)state;
	add_listener(h->local, "0.0.0.0", 25, "master");
	add_listener(h->local, "127.0.0.1", 587, NULL);
	mh_local_note(h->local, "not run as %s", "root");
	mh_local_judge(h->local);
	h->names = names;
	mh_classify(h);
	o = mh_host_to_json(h);
	assert_non_null(o);
	assert_string_equal(json_object_get_string(json_object_object_get(o, "exposure")),
			    "exposed");
	assert_true(json_object_object_get_ex(o, "local", &loc));
	v = json_object_object_get(loc, "interfaces");
	assert_int_equal(json_object_array_length(v), 3);
	it = json_object_array_get_idx(v, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(it, "name")), "eth0");
	assert_string_equal(json_object_get_string(json_object_object_get(it, "addr")),
			    "198.18.0.13");
	assert_string_equal(json_object_get_string(json_object_object_get(
				    json_object_object_get(it, "ports"), "25")),
			    "listening");
	assert_string_equal(json_object_get_string(json_object_object_get(
				    json_object_object_get(it, "ports"), "587")),
			    "filtered");
	assert_true(json_object_get_boolean(
		json_object_object_get(json_object_object_get(it, "bound"), "25")));
	v = json_object_object_get(loc, "listeners");
	assert_int_equal(json_object_array_length(v), 2);
	it = json_object_array_get_idx(v, 0);
	assert_string_equal(json_object_get_string(json_object_object_get(it, "addr")), "0.0.0.0");
	assert_int_equal(json_object_get_int(json_object_object_get(it, "port")), 25);
	assert_string_equal(json_object_get_string(json_object_object_get(it, "process")),
			    "master");
	assert_int_equal(json_object_get_int(json_object_object_get(it, "pid")), 123);
	assert_string_equal(json_object_get_string(json_object_object_get(it, "exe")),
			    "/usr/lib/postfix/sbin/master");
	it = json_object_array_get_idx(v, 1);
	assert_string_equal(json_object_get_string(json_object_object_get(it, "process")),
			    "unknown");
	assert_true(json_object_object_get_ex(it, "pid", &v));
	assert_null(v);
	assert_string_equal(json_object_get_string(json_object_object_get(loc, "exposure")),
			    "exposed");
	assert_true(json_object_get_boolean(json_object_object_get(loc, "partial")));
	v = json_object_object_get(loc, "unseen");
	assert_int_equal(json_object_array_length(v), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)),
			    "not run as root");
	v = json_object_object_get(o, "findings");
	assert_int_equal(json_object_array_length(v), 2);
	json_object_put(o);
	mh_host_free(&h);
}

/* A host record without a local view has no "local" key. */
static void test_json_no_local(void **state)
{
	struct mh_addr a;
	struct mh_host *h;
	struct json_object *o;

	(void)state;
	assert_int_equal(mh_addr_parse("198.18.0.1", &a), 0);
	h = mh_host_new(&a);
	o = mh_host_to_json(h);
	assert_false(json_object_object_get_ex(o, "local", NULL));
	json_object_put(o);
	mh_host_free(&h);
}

static void test_primary(void **state)
{
	static const struct row rows[] = {
		{ "lo", "127.0.0.1", "CCC" },    { "eth1", "198.18.1.13", "CCC" },
		{ "eth0", "fe80::1%1", "CCC" },  { "eth0", "198.18.0.13", "CCC" },
		{ "eth0", "198.18.0.14", "CCC" },
	};
	static const struct row v6rows[] = {
		{ "lo", "127.0.0.1", "CCC" },
		{ "eth2", "fe80::2%2", "CCC" },
		{ "eth2", "fd00::2", "CCC" },
	};
	struct mh_local *l = table(rows, 5);
	struct mh_addr a;
	char text[MH_ADDR_STRLEN];

	(void)state;
	mh_local_judge(l);
	/* the fixture's default route is on eth0 */
	mh_local_primary(l, TREE, &a);
	mh_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "198.18.0.13");
	/* no route file: the first IPv4 address that is not loopback */
	mh_local_primary(l, MH_FIXTURES "/proc/nonexistent", &a);
	mh_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "198.18.1.13");
	mh_local_free(&l);
	l = table(v6rows, 3);
	mh_local_judge(l);
	mh_local_primary(l, MH_FIXTURES "/proc/nonexistent", &a);
	mh_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "fd00::2");
	mh_local_free(&l);
	l = table(lo_rows, 2);
	mh_local_judge(l);
	mh_local_primary(l, TREE, &a);
	mh_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "127.0.0.1");
	mh_local_free(&l);
}

/*
 * The real thing on this machine, harmlessly: connects to its own
 * addresses only. Loopback rows are always there, every cell has a state,
 * and the whole gather is quick.
 */
static void test_gather_live(void **state)
{
	struct mh_local_opts o = { .proc_root = "/proc", .timeout_ms = 200 };
	struct mh_local *l = NULL;
	char err[MH_ERRLEN];
	bool lo4 = false;
	uint64_t t0 = mh_now_ms();

	(void)state;
	assert_int_equal(mh_local_gather(&o, &l, err, sizeof(err)), 0);
	assert_non_null(l);
	assert_true(mh_now_ms() - t0 < 2000);
	for (size_t i = 0; i < l->naddrs; i++) {
		char text[MH_ADDR_STRLEN];
		mh_addr_format(&l->addrs[i].addr, text, sizeof(text));
		lo4 |= !strcmp(text, "127.0.0.1");
		for (int p = 0; p < MH_LOCAL_NPORTS; p++)
			assert_true(l->addrs[i].cell[p] <= MH_CELL_FILTERED);
	}
	assert_true(lo4);
	for (size_t i = 0; i < l->nlisteners; i++)
		assert_true(mh_local_port_index(l->listeners[i].port) >= 0);
	mh_local_free(&l);
}

/* Fixture tree as proc_root: listeners and owners come from it. */
static void test_gather_fixture_proc(void **state)
{
	struct mh_local_opts o = { .proc_root = TREE, .timeout_ms = 200 };
	struct mh_local *l = NULL;
	char err[MH_ERRLEN];
	bool master = false;

	(void)state;
	assert_int_equal(mh_local_gather(&o, &l, err, sizeof(err)), 0);
	/* 7 of the 8 fixture listeners are on 25, 465 or 587 (not 22) */
	assert_int_equal(l->nlisteners, 7);
	for (size_t i = 0; i < l->nlisteners; i++)
		master |= l->listeners[i].pid == 100 && !strcmp(l->listeners[i].process, "master");
	assert_true(master);
	/* unowned sockets with no denied fd folder: a note, not an error */
	assert_true(l->nunseen >= 1);
	assert_non_null(strstr(l->unseen[0], "owner of 4 listening sockets"));
	mh_local_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_loopback_only),
		cmocka_unit_test(test_exposed_everywhere),
		cmocka_unit_test(test_partial_two_interfaces),
		cmocka_unit_test(test_partial_per_port),
		cmocka_unit_test(test_partial_v6_filtered),
		cmocka_unit_test(test_one_address),
		cmocka_unit_test(test_rules_exposed_partial),
		cmocka_unit_test(test_rules_mail_server),
		cmocka_unit_test(test_rules_loopback),
		cmocka_unit_test(test_rules_long_evidence),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_no_local),
		cmocka_unit_test(test_primary),
		cmocka_unit_test(test_gather_live),
		cmocka_unit_test(test_gather_fixture_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
