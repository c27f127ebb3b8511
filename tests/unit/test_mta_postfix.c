/*
 * test_mta_postfix.c -- Postfix's main.cf and master.cf as Postfix reads
 * them (probes/mta_postfix.c): Debian 12's shipped files, masquerading
 * variants, continuation lines, CRLF, last definition wins, $name loops,
 * an over-long line and binary junk; plus the rules the reading fires
 * (host-qualified-sender, envelope-not-masqueraded, local-aliases-unused)
 * and the "local.mta" object of the host record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/local.h"
#include "mailhole/mta.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"
#include "mailhole/target.h"

#define PF MH_FIXTURES "/mta/postfix"

static struct mh_mta_config *read_case(const char *name, const char *host, int want_rc, char *err,
                                       size_t errlen)
{
	struct mh_mta_config *c = malloc(sizeof(*c));
	char dir[512];
	int rc;

	assert_non_null(c);
	mh_mta_config_init(c);
	snprintf(dir, sizeof(dir), "%s/%s", PF, name);
	rc = mh_postfix_read(dir, host, c, err, errlen);
	if (rc != want_rc)
		fail_msg("%s: rc %d, %d expected: %s", name, rc, want_rc, err);
	return c;
}

static const struct mh_mta_setting *setting(const struct mh_mta_config *c, const char *key)
{
	for (unsigned i = 0; i < c->nsettings; i++)
		if (!strcmp(c->settings[i].key, key))
			return &c->settings[i];
	return NULL;
}

static void test_debian12_dist(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("debian12", "host-a.lab.test", 0, err, sizeof(err));
	const struct mh_mta_setting *s;

	(void)state;
	assert_string_equal(c->product, "postfix");
	assert_true(c->masq.known);
	assert_string_equal(c->masq.domain, ""); /* myorigin = $myhostname by default */
	assert_int_equal(c->masq.envelope, MH_TRI_NO);
	assert_int_equal(c->masq.always_add_domain, MH_TRI_YES);
	assert_int_equal(c->smtp_listener, MH_TRI_YES);
	assert_string_equal(c->listen, "all");
	assert_string_equal(c->relayhost, "");
	assert_true(c->local_delivery);
	s = setting(c, "inet_protocols");
	assert_non_null(s);
	assert_string_equal(s->value, "ipv4");
	assert_true(!strncmp(s->where, "main.cf:", 8));
	s = setting(c, "myorigin");
	assert_non_null(s);
	assert_string_equal(s->value, "host-a.lab.test");
	assert_string_equal(s->where, "default");
	s = setting(c, "mydestination");
	assert_string_equal(s->value, "host-a.lab.test, localhost.lab.test, localhost");
	s = setting(c, "mydomain");
	assert_string_equal(s->value, "lab.test");
	s = setting(c, "master.cf smtp");
	assert_non_null(s);
	assert_string_equal(s->where, "master.cf:12");
	assert_null(setting(c, "master.cf submission")); /* commented out */
	assert_true(strstr(c->config, "debian12/main.cf") != NULL);
	free(c);
}

static void test_masqueraded(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("masqueraded", "ignored.example", 0, err, sizeof(err));

	(void)state;
	assert_string_equal(c->masq.domain, "lab.test");
	assert_int_equal(c->masq.envelope, MH_TRI_YES);
	assert_int_equal(c->masq.recipients, MH_TRI_NO);
	assert_string_equal(c->relayhost, "[relay.lab.test]:25");
	assert_string_equal(c->listen, "loopback-only");
	assert_false(c->local_delivery);
	assert_string_equal(setting(c, "myorigin")->value, "lab.test");
	assert_string_equal(setting(c, "myorigin")->where, "main.cf:4");
	free(c);
}

static void test_header_only(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("masq-header-only", "x", 0, err, sizeof(err));

	(void)state;
	assert_string_equal(c->masq.domain, "lab.test"); /* "!sub.lab.test" skipped */
	assert_int_equal(c->masq.envelope, MH_TRI_NO);
	free(c);
}

static void test_relay_nomasq(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("relay-nomasq", "x", 0, err, sizeof(err));

	(void)state;
	assert_true(c->masq.known);
	assert_string_equal(c->masq.domain, "");
	assert_int_equal(c->smtp_listener, MH_TRI_NO); /* "#smtp inet" */
	assert_non_null(setting(c, "master.cf submission"));
	assert_non_null(setting(c, "master.cf smtps"));
	assert_string_equal(c->relayhost, "[relay.lab.test]");
	assert_false(c->local_delivery);
	free(c);
}

static void test_crlf(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("crlf", "x", 0, err, sizeof(err));

	(void)state;
	assert_string_equal(c->masq.domain, "lab.test");
	assert_string_equal(c->relayhost, "relay.lab.test");
	assert_int_equal(c->smtp_listener, MH_TRI_YES);
	assert_string_equal(setting(c, "myhostname")->value, "host-d.lab.test");
	free(c);
}

static void test_continuation_last_wins(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("continuation", "x", 0, err, sizeof(err));

	(void)state;
	/* myorigin = ${mydomain} (line 10) wins over line 2; mydomain defined later */
	assert_string_equal(setting(c, "myorigin")->value, "lab.test");
	assert_string_equal(setting(c, "myorigin")->where, "main.cf:10");
	/* the first masquerade domain that covers myorigin */
	assert_string_equal(c->masq.domain, "lab.test");
	assert_int_equal(c->masq.envelope, MH_TRI_YES);
	assert_int_equal(c->masq.recipients, MH_TRI_YES);
	assert_string_equal(setting(c, "masquerade_domains")->where, "main.cf:4");
	assert_string_equal(c->relayhost, "lab.test");
	assert_string_equal(c->listen, "127.0.0.1"); /* ${relayhost?...}${relayhost:...} */
	free(c);
}

static void test_loop(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("loop", "x", MH_EINVAL, err, sizeof(err));

	(void)state;
	assert_non_null(strstr(err, "main.cf:"));
	assert_non_null(strstr(err, "loop"));
	free(c);
}

static void test_binary(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_mta_config *c = read_case("binary", "x", MH_EINVAL, err, sizeof(err));

	(void)state;
	assert_non_null(strstr(err, "binary/main.cf:3:"));
	free(c);
}

static void test_long_line(void **state)
{
	char err[MH_ERRLEN] = "", tmpl[] = "/tmp/mh-pf-XXXXXX", path[64];
	char *dir = mkdtemp(tmpl);
	struct mh_mta_config c;
	FILE *f;

	(void)state;
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("myhostname = h.lab.test\nmynetworks = 127.0.0.0/8\n", f);
	for (int i = 0; i < 10000; i++)
		fputs("    10.0.0.0/8,\n", f); /* ~150 KiB of one logical line */
	fclose(f);
	mh_mta_config_init(&c);
	assert_int_equal(mh_postfix_read(dir, "h", &c, err, sizeof(err)), MH_ELIMIT);
	assert_non_null(strstr(err, "main.cf:2:"));
	unlink(path);
	rmdir(dir);
}

static void test_parse_buffer(void **state)
{
	static const char text[] = "myorigin = $mydomain\n"
	                           "masquerade_classes = header_sender\n"
	                           "x = $$literal ${undefined} $\n"
	                           "continues\n"
	                           "  here = still x\n";
	static const char *const bad[] = {"  leading = continuation\n", "novalue\n", "= value\n",
	                                  "myorigin = ${unterminated\n", "myorigin = ${b!c}\n"};
	char err[MH_ERRLEN];
	struct mh_mta_config c;

	(void)state;
	mh_mta_config_init(&c);
	assert_int_equal(
	    mh_postfix_main_parse(text, sizeof(text) - 1, "t.cf", "a.b.c", &c, err, sizeof(err)),
	    MH_EINVAL); /* "continues here" has whitespace in the name */
	assert_non_null(strstr(err, "t.cf:4:"));
	mh_mta_config_init(&c);
	assert_int_equal(mh_postfix_main_parse(text, (size_t)(strstr(text, "continues") - text),
	                                       "t.cf", "a.b.c", &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.masq.domain, "b.c");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mh_mta_config_init(&c);
		err[0] = '\0';
		assert_true(mh_postfix_main_parse(bad[i], strlen(bad[i]), "t.cf", "h", &c, err,
		                                  sizeof(err)) < 0);
		assert_non_null(strstr(err, "t.cf:1:"));
	}
	/* exponential expansion is capped, not a hang */
	{
		char big[2048];
		size_t off = 0;
		off += (size_t)snprintf(big + off, sizeof(big) - off, "myorigin = $p0\n");
		for (int i = 0; i < 15; i++)
			off += (size_t)snprintf(big + off, sizeof(big) - off,
			                        "p%d = $p%d$p%d$p%d$p%d\n", i, i + 1, i + 1, i + 1,
			                        i + 1);
		off += (size_t)snprintf(big + off, sizeof(big) - off, "p15 = xxxxxxxx\n");
		mh_mta_config_init(&c);
		assert_int_equal(mh_postfix_main_parse(big, off, "t.cf", "h", &c, err, sizeof(err)),
		                 MH_ELIMIT);
	}
}

/* A host of `mailhole local` with the configuration c (taken). */
static struct mh_host *host_with(struct mh_mta_config *c, enum mh_exposure exposure)
{
	struct mh_addr a;
	struct mh_host *h;

	assert_int_equal(mh_addr_parse("198.18.0.13", &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	h->local = calloc(1, sizeof(*h->local));
	assert_non_null(h->local);
	h->local->exposure = exposure;
	h->local->agree = true;
	h->local->mta = c;
	return h;
}

static const struct mh_finding *finding(const struct mh_host *h, const char *id)
{
	for (unsigned i = 0; i < h->nfindings; i++)
		if (!strcmp(h->findings[i].rule->id, id))
			return &h->findings[i];
	return NULL;
}

static void test_rules(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_host *h;
	const struct mh_finding *f;

	(void)state;
	/* relay-only, not masqueraded: host-qualified-sender with the evidence */
	h = host_with(read_case("relay-nomasq", "x", 0, err, sizeof(err)), MH_EXPOSURE_NONE);
	h->local->aliases = true;
	mh_strlcpy(h->local->aliases_where, "aliases:3", sizeof(h->local->aliases_where));
	mh_classify(h);
	f = finding(h, "host-qualified-sender");
	assert_non_null(f);
	if (!f) /* not reached; tells gcc's -Wstringop-overread that f is set */
		return;
	assert_non_null(strstr(f->evidence, "myorigin = host-c.lab.test (main.cf:3)"));
	assert_non_null(strstr(f->evidence, "no masquerade_domains"));
	assert_non_null(strstr(f->evidence, "relayhost = [relay.lab.test] (main.cf:4)"));
	assert_non_null(f->remediation);
	assert_non_null(finding(h, "local-aliases-unused"));
	assert_null(finding(h, "envelope-not-masqueraded"));
	mh_host_free(&h);

	/* masqueraded: nothing */
	h = host_with(read_case("masqueraded", "x", 0, err, sizeof(err)), MH_EXPOSURE_LOOPBACK);
	mh_classify(h);
	assert_null(finding(h, "host-qualified-sender"));
	assert_null(finding(h, "envelope-not-masqueraded"));
	mh_host_free(&h);

	/* header-only masquerading: envelope-not-masqueraded */
	h = host_with(read_case("masq-header-only", "x", 0, err, sizeof(err)), MH_EXPOSURE_UNKNOWN);
	mh_classify(h);
	assert_null(finding(h, "host-qualified-sender"));
	assert_non_null(finding(h, "envelope-not-masqueraded"));
	mh_host_free(&h);

	/* a mail server that delivers directly: no host-qualified-sender */
	h = host_with(read_case("debian12", "mx.lab.test", 0, err, sizeof(err)),
	              MH_EXPOSURE_EXPOSED);
	mh_classify(h);
	assert_null(finding(h, "host-qualified-sender"));
	mh_host_free(&h);
}

static void test_json(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_host *h =
	    host_with(read_case("masqueraded", "x", 0, err, sizeof(err)), MH_EXPOSURE_LOOPBACK);
	struct json_object *o = mh_host_to_json(h), *local, *mta, *mq, *v;

	(void)state;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "local", &local));
	assert_true(json_object_object_get_ex(local, "mta", &mta));
	assert_true(json_object_object_get_ex(mta, "product", &v));
	assert_string_equal(json_object_get_string(v), "postfix");
	assert_true(json_object_object_get_ex(mta, "smtp_listener", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(mta, "masquerade", &mq));
	assert_true(json_object_object_get_ex(mq, "domain", &v));
	assert_string_equal(json_object_get_string(v), "lab.test");
	assert_true(json_object_object_get_ex(mq, "envelope", &v));
	assert_true(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(mta, "settings", &v));
	assert_true(json_object_array_length(v) > 5);
	json_object_put(o);
	/* no MTA: "mta": null */
	free(h->local->mta);
	h->local->mta = NULL;
	o = mh_host_to_json(h);
	assert_true(json_object_object_get_ex(o, "local", &local));
	assert_true(json_object_object_get_ex(local, "mta", &mta));
	assert_null(mta);
	json_object_put(o);
	mh_host_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_debian12_dist), cmocka_unit_test(test_masqueraded),
	    cmocka_unit_test(test_header_only),   cmocka_unit_test(test_relay_nomasq),
	    cmocka_unit_test(test_crlf),          cmocka_unit_test(test_continuation_last_wins),
	    cmocka_unit_test(test_loop),          cmocka_unit_test(test_binary),
	    cmocka_unit_test(test_long_line),     cmocka_unit_test(test_parse_buffer),
	    cmocka_unit_test(test_rules),         cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
