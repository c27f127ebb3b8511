/*
 * test_fingerprint.c -- MTA fingerprints (scanner/fingerprint.c).
 *
 * Each file in tests/fixtures/greetings/ is what a real server sends: its
 * first line says which product and version it must give ("unknown": none).
 * The test plays it through a session (so the fingerprint sees exactly what
 * the scanner would record), then fingerprints the result. Table rows are
 * also checked one by one on hand-made results, with the near misses that
 * must stay unknown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>

#include "mailhole/common.h"
#include "mailhole/smtp.h"

#ifndef MH_FIXTURES
#error "MH_FIXTURES must name tests/fixtures"
#endif

static void check_version_shape(const char *v)
{
	/* Only digits and dots, maybe one trailing letter; never a guess. */
	size_t n = strlen(v);

	assert_true(n < 32);
	for (size_t i = 0; i < n; i++) {
		bool last_letter =
		    i + 1 == n && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z'));

		assert_true((v[i] >= '0' && v[i] <= '9') || v[i] == '.' || last_letter);
	}
}

/* Plays one fixture file; returns the number of checks made (1). */
static int check_fixture(const char *dir, const char *file)
{
	char path[512], line[2048], want_product[64] = "", want_version[64] = "";
	char *in = calloc(1, 65536);
	size_t inlen = 0;
	struct mh_smtp_session *s = calloc(1, sizeof(*s));
	struct mh_smtp_result *res = calloc(1, sizeof(*res));
	struct mh_mta mta;
	FILE *f;

	assert_non_null(in);
	assert_non_null(s);
	assert_non_null(res);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	assert_non_null(f);
	/* Line 1: "# expect: PRODUCT [VERSION]". */
	assert_non_null(fgets(line, sizeof(line), f));
	assert_int_equal(strncmp(line, "# expect: ", 10), 0);
	{
		char *p = line + 10, *sp;

		p[strcspn(p, "\r\n")] = '\0';
		sp = strchr(p, ' ');
		if (sp) {
			*sp = '\0';
			mh_strlcpy(want_version, sp + 1, sizeof(want_version));
		}
		mh_strlcpy(want_product, p, sizeof(want_product));
	}
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");

		if (line[0] == '#')
			continue;
		assert_true(inlen + n + 2 < 65536);
		memcpy(in + inlen, line, n);
		memcpy(in + inlen + n, "\r\n", 2);
		inlen += n + 2;
	}
	fclose(f);

	mh_smtp_session_init(s, res, "scanner.example.net");
	mh_smtp_session_input(s, in, inlen);
	mh_smtp_session_eof(s, false);
	/* A fixture is a well-behaved server: at most it stopped after the greeting. */
	if (res->error)
		assert_string_equal(res->error, "closed-during-ehlo");
	assert_in_range(res->code, 200, 299);

	mh_fingerprint(res, &mta);
	printf("  %-28s -> %s %s\n", file, mta.product ? mta.product : "unknown", mta.version);
	if (strcmp(want_product, "unknown") == 0)
		assert_null(mta.product);
	else {
		assert_non_null(mta.product);
		assert_string_equal(mta.product, want_product);
	}
	assert_string_equal(mta.version, want_version);
	check_version_shape(mta.version);
	free(in);
	free(s);
	free(res);
	return 1;
}

static void test_fixtures(void **state)
{
	const char *dir = MH_FIXTURES "/greetings";
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len > 4 && strcmp(e->d_name + len - 4, ".txt") == 0)
			n += check_fixture(dir, e->d_name);
	}
	closedir(d);
	/* The set named in the design: all present. */
	assert_true(n >= 20);
}

/* A result by hand: greeting, EHLO first line, capabilities. */
static void fp(const char *banner, const char *ehlo, const char *const *caps, const char *product,
               const char *version)
{
	struct mh_smtp_result *res = calloc(1, sizeof(*res));
	struct mh_mta mta;

	assert_non_null(res);
	mh_strlcpy(res->banner, banner, sizeof(res->banner));
	mh_strlcpy(res->ehlo_name, ehlo ? ehlo : "", sizeof(res->ehlo_name));
	for (; caps && *caps; caps++)
		mh_strlcpy(res->caps[res->ncaps++], *caps, MH_SMTP_CAP_LEN);
	mh_fingerprint(res, &mta);
	if (!product) {
		if (mta.product)
			fail_msg("'%s' gave %s, expected unknown", banner, mta.product);
	} else {
		if (!mta.product || strcmp(mta.product, product) != 0)
			fail_msg("'%s' gave %s, expected %s", banner,
			         mta.product ? mta.product : "unknown", product);
	}
	assert_string_equal(mta.version, version);
	check_version_shape(mta.version);
	free(res);
}

static void test_banners(void **state)
{
	(void)state;
	fp("220 mx.example ESMTP Postfix", NULL, NULL, "postfix", "");
	fp("220 mx.example ESMTP Postfix (Debian/GNU)", NULL, NULL, "postfix", "");
	fp("220 mx.example ESMTP Postfix (Ubuntu)", NULL, NULL, "postfix", "");
	fp("220 mx.example ESMTP Postfix (3.7.6)", NULL, NULL, "postfix", "3.7.6");
	fp("220 mx.example ESMTP postfix", NULL, NULL, "postfix", "");
	fp("220 mx.example ESMTP Sendmail 8.17.1/8.17.1/Debian-2; Mon, 13 Nov 2023 10:00:00 +0100",
	   NULL, NULL, "sendmail", "8.17.1");
	fp("220 mx.example ESMTP Sendmail 8.15.2/8.15.2; Wed, 1 Feb 2017 10:00:00 GMT", NULL, NULL,
	   "sendmail", "8.15.2");
	fp("220 mx.example ESMTP Sendmail 8.14.4+Sun/8.14.4; Thu, 1 Jan 2015", NULL, NULL,
	   "sendmail", "8.14.4");
	fp("220 mx.example ESMTP Exim 4.96 Mon, 13 Nov 2023 10:00:00 +0100", NULL, NULL, "exim",
	   "4.96");
	fp("220 mx.example ESMTP Exim 4.94.2 Mon, 13 Nov 2023", NULL, NULL, "exim", "4.94.2");
	fp("220 mx.example ESMTP Exim 4.97.1-S2G Fri, 13 Dec 2024", NULL, NULL, "exim", "4.97.1");
	fp("220 mx.example ESMTP Exim", NULL, NULL, "exim", "");
	fp("220 mx.example ESMTP OpenSMTPD", NULL, NULL, "opensmtpd", "");
	fp("220 mx.example ESMTP Haraka 2.8.25 ready", NULL, NULL, "haraka", "2.8.25");
	fp("220 mx.example ESMTP Haraka/3.0.3 ready", NULL, NULL, "haraka", "3.0.3");
	fp("220 mx.example ESMTP Haraka ready", NULL, NULL, "haraka", "");
	fp("220 mx.example Microsoft ESMTP MAIL Service ready at Fri, 5 Aug 2016 16:24:41 -0700",
	   NULL, NULL, "exchange", "");
	fp("220 mx.example Microsoft Exchange Internet Mail Service 5.5.2653.13 ready", NULL, NULL,
	   "exchange", "5.5.2653.13");
	fp("220 mx.example Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready at  Mon, 1 "
	   "Jan",
	   NULL, NULL, "iis-smtp", "10.0.17763.1");
	fp("220 mx.example ESMTP MDaemon 21.0.3; Mon, 13 Nov 2023", NULL, NULL, "mdaemon",
	   "21.0.3");
	fp("220 mx.example ESMTP Service (IBM Domino Release 9.0.1FP10 HF383) ready at Wed", NULL,
	   NULL, "domino", "9.0.1");
	fp("220 mx.example ESMTP Service (HCL Domino Release 11.0.1) ready at Wed", NULL, NULL,
	   "domino", "11.0.1");
	fp("220 mx.example ESMTP CommuniGate Pro 6.3.2 is glad to see you!", NULL, NULL,
	   "communigate", "6.3.2");
	fp("220 mx.example ESMTP Sendmail 8.14.4a; date", NULL, NULL, "sendmail", "8.14.4a");
}

static void test_near_misses(void **state)
{
	static const char *const generic[] = {"PIPELINING", "8BITMIME", NULL};

	(void)state;
	/* The host name is never matched. */
	fp("220 postfix ESMTP Exim 4.96 Mon, 13 Nov 2023", NULL, NULL, "exim", "4.96");
	fp("220 exim.example.net ESMTP Postfix", NULL, NULL, "postfix", "");
	fp("220 sendmail.example.net ESMTP", NULL, NULL, NULL, "");
	fp("220 exim ESMTP", NULL, NULL, NULL, "");
	/* Whole words only. */
	fp("220 mx.example ESMTP Postfixed", NULL, NULL, NULL, "");
	fp("220 mx.example ESMTP mail-exim-gw", NULL, NULL, NULL, "");
	fp("220 mx.example ESMTP Postcow", NULL, NULL, NULL, "");
	fp("220 mx.example ESMTP notexim.example", NULL, NULL, NULL, "");
	/* Generic greetings, and the fleet simulator. */
	fp("220 mx.example ESMTP", "mx.example", generic, NULL, "");
	fp("220 mx-198-18-0-1.fsim.test ESMTP fsim", "mx-198-18-0-1.fsim.test Hello x", generic,
	   NULL, "");
	fp("220 mx.example ESMTP ready", NULL, NULL, NULL, "");
	fp("", NULL, NULL, NULL, "");
	/* Versions: no dot, no number, dates are not versions. */
	fp("220 mx.example ESMTP Exim 4 Mon", NULL, NULL, "exim", "");
	fp("220 mx.example ESMTP Sendmail ready", NULL, NULL, "sendmail", "");
	fp("220 mx.example ESMTP Exim .4.96", NULL, NULL, "exim", "");
	fp("220 mx.example ESMTP Exim 4.96.", NULL, NULL, "exim", "4.96");
	/* "pleased to meet you": Sendmail and OpenSMTPD both say it, so it names nothing. */
	fp("220 mx.example ESMTP", "mx.example Hello x [192.0.2.1], pleased to meet you", NULL,
	   NULL, "");
}

static void test_ehlo_rules(void **state)
{
	static const char *const exch[] = {"SIZE 37748736", "X-ANONYMOUSTLS", "AUTH NTLM", NULL};
	static const char *const exch2003[] = {"X-EXPS GSSAPI NTLM LOGIN", "X-LINK2STATE",
	                                       "XEXCH50", NULL};
	static const char *const iis[] = {"TURN", "SIZE 2097152", "X-EXPS GSSAPI NTLM", NULL};
	static const char *const courier[] = {"XVERP=Courier", "XEXDATA", NULL};
	static const char *const exim[] = {"SIZE 52428800", "PIPECONNECT", "HELP", NULL};
	static const char *const sendmail[] = {"EXPN", "VERB", "DELIVERBY", "HELP", NULL};
	static const char *const verb_only[] = {"EXPN", "VERB", "HELP", NULL};
	static const char *const deliverby_only[] = {"DELIVERBY", NULL};
	static const char *const prefix[] = {"XVERP", "X-ANONYMOUSTLSX", "PIPECONNECTED", NULL};

	(void)state;
	fp("220 smtp.example ESMTP", "smtp.example Hello [192.0.2.5]", exch, "exchange", "");
	fp("220 mx.example Microsoft ESMTP MAIL Service, Version: 6.0.3790.4675 ready at", NULL,
	   exch2003, "exchange", "");
	fp("220 mx.example Microsoft ESMTP MAIL Service, Version: 6.0.3790.4675 ready at", NULL,
	   iis, "iis-smtp", "6.0.3790.4675");
	fp("220 mail.example ESMTP", "mail.example Ok.", courier, "courier", "");
	fp("220 mail.example ESMTP", "mail.example Hello x [192.0.2.1]", exim, "exim", "");
	fp("220 mail.example ESMTP", "mail.example Hello x [192.0.2.1], pleased to meet you",
	   sendmail, "sendmail", "");
	fp("220 mail.example ESMTP", NULL, verb_only, NULL, "");
	fp("220 mail.example ESMTP", NULL, deliverby_only, NULL, "");
	fp("220 mail.example ESMTP", NULL, prefix, NULL, "");
	fp("220 mail.example ESMTP", "mail.example Hello x [192.0.2.1], Haraka is at your service.",
	   NULL, "haraka", "");
	/* A banner with a version wins over EHLO keywords of another row. */
	fp("220 mail.example ESMTP Exim 4.96 Mon", NULL, exch, "exim", "4.96");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_banners),
	    cmocka_unit_test(test_near_misses),
	    cmocka_unit_test(test_ehlo_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
