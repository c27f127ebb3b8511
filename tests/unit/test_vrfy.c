/*
 * test_vrfy.c -- the VRFY / EXPN answer classifier (scanner/vrfy.c).
 *
 * A table of answer pairs as real servers give them (the known name
 * "root", then a name that cannot exist), with what they must mean:
 * Postfix with and without disable_vrfy_command, Sendmail with and without
 * novrfy/noexpn, Exim (252 by default since 4.9x, 550 "Administrative
 * prohibition" before and for EXPN), Exchange, a catch-all, and the answers
 * that are not answers (421, 450, 530, 503, silence).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailhole/common.h"
#include "mailhole/probe_smtp.h"

struct row {
	const char *what;
	int kcode;
	const char *ktext;
	int bcode;
	const char *btext;
	enum mh_vrfy_answer want;
};

static const struct row rows[] = {
    /* Postfix, disable_vrfy_command = no (the default). */
    {"postfix vrfy on", 252, "252 2.0.0 root", 550,
     "550 5.1.1 <mhnxq1w2e3r4t5y6>: Recipient address rejected: User unknown in local "
     "recipient table",
     MH_VRFY_DISCLOSES},
    /* Postfix without local_recipient_maps: 252 to everything. */
    {"postfix no recipient maps", 252, "252 2.0.0 root", 252, "252 2.0.0 mhnxq1w2e3r4t5y6",
     MH_VRFY_AMBIGUOUS},
    {"postfix vrfy off", 502, "502 5.5.1 VRFY command is disabled", 502,
     "502 5.5.1 VRFY command is disabled", MH_VRFY_DISABLED},
    {"postfix expn", 502, "502 5.5.2 Error: command not recognized", 502,
     "502 5.5.2 Error: command not recognized", MH_VRFY_DISABLED},
    {"postfix soft_bounce", 252, "252 2.0.0 root", 450,
     "450 4.1.1 <mhnxq1w2e3r4t5y6>: Recipient address rejected: User unknown in local "
     "recipient table",
     MH_VRFY_DISCLOSES},
    /* Sendmail, VRFY on (no novrfy in PrivacyOptions). */
    {"sendmail vrfy on", 250, "250 2.1.5 root <root@mx.example.com>", 550,
     "550 5.1.1 mhnxq1w2e3r4t5y6... User unknown", MH_VRFY_DISCLOSES},
    {"sendmail novrfy", 252,
     "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)", 252,
     "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)",
     MH_VRFY_AMBIGUOUS},
    {"sendmail noexpn", 502, "502 5.7.0 Sorry, we do not allow this operation", 502,
     "502 5.7.0 Sorry, we do not allow this operation", MH_VRFY_DISABLED},
    {"sendmail expn on", 250, "250 2.1.5 <root@mx.example.com>", 550,
     "550 5.1.1 mhnxq1w2e3r4t5y6... User unknown", MH_VRFY_DISCLOSES},
    /* Exim: no acl_smtp_vrfy (4.9x: accepted with 252), older: refused. */
    {"exim vrfy default", 252, "252 Administrative prohibition", 252,
     "252 Administrative prohibition", MH_VRFY_AMBIGUOUS},
    {"exim old vrfy / expn", 550, "550 Administrative prohibition", 550,
     "550 Administrative prohibition", MH_VRFY_DISABLED},
    {"exim vrfy acl accept", 250, "250 <root@mx.example.com>", 550, "550 Unrouteable address",
     MH_VRFY_DISCLOSES},
    /* Exchange. */
    {"exchange", 252, "252 2.1.5 Cannot VRFY user, but will accept message for "
		      "<root@example.com>",
     252, "252 2.1.5 Cannot VRFY user, but will accept message for <mhnx@example.com>",
     MH_VRFY_AMBIGUOUS},
    {"exchange off", 502, "502 5.3.3 Command not implemented", 0, NULL, MH_VRFY_DISABLED},
    /* A catch-all that "verifies" everything. */
    {"catch-all", 250, "250 2.1.5 Ok", 250, "250 2.1.5 Ok", MH_VRFY_AMBIGUOUS},
    {"forwarding", 251, "251 2.1.5 User not local; will forward to <root@hq.example.com>", 550,
     "550 5.1.1 User unknown", MH_VRFY_DISCLOSES},
    {"250 vs 252", 250, "250 2.1.5 root <root@mx.example.com>", 252,
     "252 2.1.5 Cannot VRFY user", MH_VRFY_DISCLOSES},
    /* Known name unknown there: the command works, nothing disclosed. */
    {"root unknown", 550, "550 5.1.1 root... User unknown", 550,
     "550 5.1.1 mhnxq1w2e3r4t5y6... User unknown", MH_VRFY_AMBIGUOUS},
    /* 252 then a 550 that is not "user unknown": no proof. */
    {"252 then policy 550", 252, "252 2.0.0 root", 550, "550 5.7.1 Access denied",
     MH_VRFY_AMBIGUOUS},
    /* Not answers: unavailable, neither disabled nor disclosing. */
    {"421 first", 421, "421 4.7.0 mx.example.com Error: too many errors", 0, NULL,
     MH_VRFY_UNAVAILABLE},
    {"421 second", 250, "250 2.1.5 root <root@mx.example.com>", 421,
     "421 4.7.0 mx.example.com Error: too many errors", MH_VRFY_UNAVAILABLE},
    {"252 then 421", 252, "252 2.0.0 root", 421, "421 4.7.0 too many errors",
     MH_VRFY_UNAVAILABLE},
    {"450 busy", 450, "450 4.3.2 Service currently unavailable", 450,
     "450 4.3.2 Service currently unavailable", MH_VRFY_UNAVAILABLE},
    {"530 starttls first", 530, "530 5.7.0 Must issue a STARTTLS command first", 530,
     "530 5.7.0 Must issue a STARTTLS command first", MH_VRFY_UNAVAILABLE},
    {"530 auth", 530, "530 5.7.0 Authentication required", 0, NULL, MH_VRFY_UNAVAILABLE},
    {"503 sequence", 503, "503 5.5.1 Error: send HELO/EHLO first", 0, NULL,
     MH_VRFY_UNAVAILABLE},
    {"no answer", 0, NULL, 0, NULL, MH_VRFY_UNAVAILABLE},
    {"no second answer", 250, "250 root", 0, NULL, MH_VRFY_UNAVAILABLE},
    {"500 unknown", 500, "500 5.5.1 Command unrecognized: \"VRFY root\"", 0, NULL,
     MH_VRFY_DISABLED},
    {"504", 504, "504 5.5.2 Command parameter not implemented", 0, NULL, MH_VRFY_DISABLED},
    {"550 disabled", 550, "550 5.7.1 VRFY command disabled", 550,
     "550 5.7.1 VRFY command disabled", MH_VRFY_DISABLED},
    {"554 not allowed", 554, "554 5.7.1 EXPN not allowed", 0, NULL, MH_VRFY_DISABLED},
    {"garbage bogus code", 250, "250 root", 999, "999 what", MH_VRFY_UNAVAILABLE},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		enum mh_vrfy_answer got = mh_vrfy_classify(r->kcode, r->ktext, r->bcode, r->btext);

		if (got != r->want)
			fail_msg("%s: got %d, want %d", r->what, (int)got, (int)r->want);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(mh_vrfy_answer_name(MH_VRFY_DISCLOSES), "discloses");
	assert_string_equal(mh_vrfy_answer_name(MH_VRFY_AMBIGUOUS), "ambiguous");
	assert_string_equal(mh_vrfy_answer_name(MH_VRFY_DISABLED), "disabled");
	assert_null(mh_vrfy_answer_name(MH_VRFY_UNAVAILABLE));
}

static void test_bogus_name(void **state)
{
	char a[32], b[32], small[5];

	(void)state;
	mh_vrfy_bogus_name(0, a, sizeof(a));
	assert_int_equal(strlen(a), 16);
	assert_memory_equal(a, "mhnx", 4);
	for (size_t i = 0; i < 16; i++)
		assert_true((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= '0' && a[i] <= '9'));
	mh_vrfy_bogus_name(0, b, sizeof(b));
	assert_string_equal(a, b); /* deterministic */
	mh_vrfy_bogus_name(1, b, sizeof(b));
	assert_string_not_equal(a, b);
	mh_vrfy_bogus_name(42, small, sizeof(small));
	assert_string_equal(small, "mhnx");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_bogus_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
