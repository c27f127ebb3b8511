/*
 * test_rules.c -- the rule table holds every rule of CONTRACT.md, and each
 * sweep rule fires on the evidence that should fire it and on nothing else.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/rules.h"

static const char *const contract_ids[] = {
	"exposed-smtp", "loopback-only", "partial-exposure", "host-qualified-sender",
	"envelope-not-masqueraded", "bare-recipient-black-hole", "relay-queue-black-hole",
	"local-aliases-unused", "open-relay", "vrfy-enabled", "expn-enabled", "no-starttls",
	"cert-expired", "cert-expiring", "cert-name-mismatch", "weak-tls", "auth-before-tls",
	"mta-version-disclosed", "no-queue-runner", "local-queue-stuck", "mc-cf-mismatch",
};

static void test_table_complete(void **state)
{
	(void)state;
	assert_int_equal(mh_nrules, sizeof(contract_ids) / sizeof(contract_ids[0]));
	for (size_t i = 0; i < sizeof(contract_ids) / sizeof(contract_ids[0]); i++) {
		const struct mh_rule *r = mh_rule_find(contract_ids[i]);
		assert_non_null(r);
		assert_non_null(r->title);
		assert_non_null(r->rationale);
		assert_non_null(r->fix_generic);
		/* every MTA gets some remediation */
		assert_non_null(mh_rule_remediation(r, "postfix"));
		assert_non_null(mh_rule_remediation(r, "sendmail"));
		assert_non_null(mh_rule_remediation(r, NULL));
	}
	assert_int_equal(mh_rule_find("exposed-smtp")->severity, MH_SEV_HIGH);
	assert_int_equal(mh_rule_find("open-relay")->severity, MH_SEV_CRITICAL);
	assert_int_equal(mh_rule_find("mta-version-disclosed")->severity, MH_SEV_INFO);
	assert_null(mh_rule_find("no-such-rule"));
	assert_int_equal(mh_severity_parse("medium"), MH_SEV_MEDIUM);
	assert_int_equal(mh_severity_parse("bogus"), -1);
}

static struct mh_host *host(const char *addr, enum mh_port_state st, const char *product,
			    const char *version)
{
	struct mh_addr a;
	struct mh_host *h;

	assert_int_equal(mh_addr_parse(addr, &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	h->nports = 1;
	h->ports[0].port = 25;
	h->ports[0].state = st;
	if (st == MH_PORT_OPEN) {
		h->ports[0].smtp = calloc(1, sizeof(struct mh_smtp_result));
		h->ports[0].mta.product = product;
		if (version)
			mh_strlcpy(h->ports[0].mta.version, version, sizeof(h->ports[0].mta.version));
	}
	return h;
}

static bool fired(const struct mh_host *h, const char *id)
{
	for (unsigned i = 0; i < h->nfindings; i++)
		if (strcmp(h->findings[i].rule->id, id) == 0)
			return true;
	return false;
}

static void test_classify(void **state)
{
	struct mh_host *h;
	(void)state;

	/* open on a lab address, a client: exposed, Postfix remediation */
	h = host("198.18.0.13", MH_PORT_OPEN, "postfix", NULL);
	mh_classify(h);
	mh_classify(h); /* idempotent */
	assert_int_equal(h->nfindings, 1);
	assert_true(fired(h, "exposed-smtp"));
	assert_non_null(strstr(h->findings[0].remediation, "inet_interfaces"));
	assert_non_null(strstr(h->findings[0].evidence, "25/tcp"));
	mh_host_free(&h);

	/* the same as a mail server: nothing */
	h = host("198.18.0.13", MH_PORT_OPEN, "postfix", NULL);
	h->mail_server = true;
	mh_classify(h);
	assert_int_equal(h->nfindings, 0);
	mh_host_free(&h);

	/* loopback: not exposed (loopback-only is the local audit's judgement) */
	h = host("127.0.0.1", MH_PORT_OPEN, "sendmail", "8.17.1");
	mh_classify(h);
	assert_false(fired(h, "exposed-smtp"));
	assert_true(fired(h, "mta-version-disclosed"));
	assert_non_null(strstr(h->findings[0].evidence, "sendmail 8.17.1"));
	mh_host_free(&h);

	/* closed or filtered: nothing at all */
	h = host("198.18.0.14", MH_PORT_CLOSED, NULL, NULL);
	mh_classify(h);
	assert_int_equal(h->nfindings, 0);
	mh_host_free(&h);
	h = host("198.18.0.15", MH_PORT_FILTERED, NULL, NULL);
	mh_classify(h);
	assert_int_equal(h->nfindings, 0);
	mh_host_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_complete),
		cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
