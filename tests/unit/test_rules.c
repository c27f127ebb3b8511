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

/* A mail server whose EHLO answered with ext bits, and maybe a handshake. */
static struct mh_host *tls_host(uint32_t ext, bool handshake)
{
	struct mh_host *h = host("198.18.0.20", MH_PORT_OPEN, "postfix", NULL);
	struct mh_smtp_result *r = h->ports[0].smtp;

	h->mail_server = true;
	r->ehlo_code = 250;
	r->ext = ext;
	if (handshake) {
		r->tls_attempted = r->tls_done = true;
		r->tls.proto = 0x0304; /* TLS1_3_VERSION */
		mh_strlcpy(r->tls.version, "TLSv1.3", sizeof(r->tls.version));
		r->tls.have_cert = true;
		r->tls.days_left = 200;
		r->tls.name_match = true;
		r->tls.nsans = 1;
		mh_strlcpy(r->tls.sans[0], "mx.lab.test", sizeof(r->tls.sans[0]));
		mh_strlcpy(r->tls.not_after, "2027-06-01T00:00:00Z", sizeof(r->tls.not_after));
	}
	return h;
}

static void test_classify_tls(void **state)
{
	static const char *const names[] = { "mx.lab.test", NULL };
	struct mh_host *h;
	(void)state;

	/* a mail server without STARTTLS */
	h = tls_host(MH_EXT_PIPELINING, false);
	mh_classify(h);
	assert_true(fired(h, "no-starttls"));
	assert_int_equal(h->nfindings, 1);
	mh_host_free(&h);
	/* not a mail server: exposed-smtp, but no no-starttls */
	h = tls_host(MH_EXT_PIPELINING, false);
	h->mail_server = false;
	mh_classify(h);
	assert_false(fired(h, "no-starttls"));
	mh_host_free(&h);
	/* AUTH in clear beside STARTTLS */
	h = tls_host(MH_EXT_STARTTLS | MH_EXT_AUTH, false);
	mh_strlcpy(h->ports[0].smtp->caps[0], "AUTH PLAIN LOGIN", MH_SMTP_CAP_LEN);
	h->ports[0].smtp->ncaps = 1;
	mh_classify(h);
	assert_true(fired(h, "auth-before-tls"));
	assert_non_null(strstr(h->findings[0].evidence, "AUTH PLAIN LOGIN"));
	assert_false(fired(h, "no-starttls"));
	mh_host_free(&h);
	/* a good handshake: nothing */
	h = tls_host(MH_EXT_STARTTLS, true);
	h->names = names;
	mh_classify(h);
	assert_int_equal(h->nfindings, 0);
	mh_host_free(&h);
	/* TLS 1.0, expiring in 10 days, a name that does not match */
	h = tls_host(MH_EXT_STARTTLS, true);
	h->names = names;
	h->ports[0].smtp->tls.proto = 0x0301;
	h->ports[0].smtp->tls.days_left = 10;
	h->ports[0].smtp->tls.name_match = false;
	mh_classify(h);
	assert_true(fired(h, "weak-tls"));
	assert_true(fired(h, "cert-expiring"));
	assert_false(fired(h, "cert-expired"));
	assert_true(fired(h, "cert-name-mismatch"));
	mh_host_free(&h);
	/* expired; no name to match: no mismatch finding */
	h = tls_host(MH_EXT_STARTTLS, true);
	h->ports[0].smtp->tls.days_left = -3;
	h->ports[0].smtp->tls.expired = true;
	h->ports[0].smtp->tls.name_match = false;
	mh_classify(h);
	assert_true(fired(h, "cert-expired"));
	assert_false(fired(h, "cert-expiring"));
	assert_false(fired(h, "cert-name-mismatch"));
	assert_false(fired(h, "weak-tls"));
	mh_host_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_complete),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_tls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
