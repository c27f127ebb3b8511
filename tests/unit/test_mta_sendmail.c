/*
 * test_mta_sendmail.c -- the Sendmail reader (probes/mta_sendmail.c) over the
 * .cf files m4 built from Debian's sendmail-cf (tests/fixtures/mta/sendmail,
 * make-fixtures.sh): plain, masqueraded, masqueraded without the envelope,
 * nullclient, no_default_msa, submit.cf; an .mc edited but never rebuilt
 * (mismatch/); and odd input: CRLF, a very long line, binary data, an empty
 * file, a missing file, an unclosed macro call, m4 comments and quoting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/mta.h"

#define DIR MH_FIXTURES "/mta/sendmail/"

static char err[512];

static int read3(const char *cf, const char *submit, const char *mc, struct mh_mta_config *c)
{
	mh_mta_config_init(c);
	err[0] = '\0';
	return mh_sendmail_read(cf, submit, mc, c, err, sizeof(err));
}

static const struct mh_mta_setting *setting(const struct mh_mta_config *c, const char *key)
{
	for (unsigned i = 0; i < c->nsettings; i++)
		if (!strcmp(c->settings[i].key, key))
			return &c->settings[i];
	return NULL;
}

static bool has_note(const struct mh_mta_config *c, const char *text)
{
	for (unsigned i = 0; i < c->nnotes; i++)
		if (strstr(c->notes[i], text))
			return true;
	return false;
}

/* Parses a buffer as the .cf (which = 0) or the .mc (which = 2). */
static int parse_buf(const char *data, size_t len, int which, struct mh_mta_config *c)
{
	struct mh_sendmail_src s = { data, len, "/etc/mail/test.cf" };

	mh_mta_config_init(c);
	err[0] = '\0';
	if (which == 2) {
		s.name = "/etc/mail/test.mc";
		return mh_sendmail_parse(NULL, NULL, &s, c, err, sizeof(err));
	}
	return mh_sendmail_parse(&s, NULL, NULL, c, err, sizeof(err));
}

static void test_plain(void **state)
{
	struct mh_mta_config c;
	const struct mh_mta_setting *s;

	(void)state;
	assert_int_equal(read3(DIR "plain.cf", DIR "submit.cf", DIR "plain.mc", &c), 0);
	assert_string_equal(c.product, "sendmail");
	assert_int_equal(c.smtp_listener, MH_TRI_YES);
	assert_string_equal(c.listen, "127.0.0.1");
	assert_string_equal(c.relayhost, "relay.lab.test");
	assert_true(c.local_delivery);
	assert_true(c.masq.known);
	assert_string_equal(c.masq.domain, "");
	assert_int_equal(c.masq.envelope, MH_TRI_NO);
	assert_int_equal(c.masq.recipients, MH_TRI_NO);
	assert_int_equal(c.masq.always_add_domain, MH_TRI_NO);
	assert_false(c.mc_cf_mismatch);
	assert_true(has_note(&c, "plain.cf:236 MSA on 587 listens on all addresses "
				 "(no FEATURE(`no_default_msa'))"));
	s = setting(&c, "DS");
	assert_non_null(s);
	assert_string_equal(s->where, "plain.cf:82");
	s = setting(&c, "submit.cf MTAHost");
	assert_non_null(s);
	assert_string_equal(s->value, "[127.0.0.1]");
	assert_string_equal(s->where, "submit.cf:113");
	s = setting(&c, "DaemonPortOptions");
	assert_non_null(s);
	assert_string_equal(s->value, "Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1");
	assert_null(setting(&c, "DM"));
	s = setting(&c, "SMART_HOST");
	assert_non_null(s);
	assert_string_equal(s->where, "plain.mc:9");
}

static void test_masqueraded(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(read3(DIR "masqueraded.cf", NULL, DIR "masqueraded.mc", &c), 0);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_int_equal(c.masq.recipients, MH_TRI_YES);
	assert_int_equal(c.masq.always_add_domain, MH_TRI_YES);
	assert_string_equal(c.relayhost, "[relay.lab.test]");
	assert_string_equal(c.listen, "127.0.0.1");
	assert_true(c.local_delivery);
	assert_false(c.mc_cf_mismatch);
	assert_non_null(setting(&c, "DM"));
	assert_string_equal(setting(&c, "DM")->where, "masqueraded.cf:129");
	assert_string_equal(setting(&c, "masquerade_envelope")->where, "masqueraded.cf:977");
	assert_string_equal(setting(&c, "MASQUERADE_AS")->value, "lab.test");
	assert_string_equal(setting(&c, "EXPOSED_USER")->value, "root");
	assert_null(setting(&c, "submit.cf MTAHost"));
}

static void test_masq_noenvelope(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(read3(DIR "masq-noenvelope.cf", NULL, DIR "masq-noenvelope.mc", &c), 0);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_int_equal(c.masq.envelope, MH_TRI_NO);
	assert_int_equal(c.masq.recipients, MH_TRI_YES);
	assert_int_equal(c.masq.always_add_domain, MH_TRI_YES);
	/* the .mc's "dnl FEATURE(`masquerade_envelope')" is a comment: no mismatch */
	assert_false(c.mc_cf_mismatch);
	assert_int_equal(c.nnotes, 1);
}

static void test_nullclient(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(read3(DIR "nullclient.cf", NULL, DIR "nullclient.mc", &c), 0);
	assert_false(c.local_delivery);
	assert_string_equal(c.relayhost, "relay.lab.test");
	assert_string_equal(c.masq.domain, "relay.lab.test");
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_int_equal(c.masq.recipients, MH_TRI_YES);
	assert_int_equal(c.masq.always_add_domain, MH_TRI_NO);
	assert_int_equal(c.smtp_listener, MH_TRI_YES);
	assert_string_equal(c.listen, "0.0.0.0");
	assert_non_null(setting(&c, "nullclient"));
	assert_false(c.mc_cf_mismatch);
}

static void test_nullclient_without_comments(void **state)
{
	static const char cf[] = "DSrelay.lab.test\nDHrelay.lab.test\nDMrelay.lab.test\n"
				 "Mlocal,\t\tP=/usr/bin/procmail, F=lsDFM5q\n";
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(parse_buf(cf, strlen(cf), 0, &c), 0);
	assert_false(c.local_delivery);
	/* no DaemonPortOptions at all: sendmail's default *:25 */
	assert_int_equal(c.smtp_listener, MH_TRI_YES);
	assert_string_equal(c.listen, "0.0.0.0");
}

static void test_no_default_msa(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(read3(DIR "no-default-msa.cf", NULL, DIR "no-default-msa.mc", &c), 0);
	assert_string_equal(c.listen, "0.0.0.0");
	assert_int_equal(c.smtp_listener, MH_TRI_YES);
	assert_string_equal(c.relayhost, "");
	assert_int_equal(c.nnotes, 0);
	assert_false(c.mc_cf_mismatch);
}

static void test_mismatch(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(read3(DIR "mismatch/sendmail.cf", NULL, DIR "mismatch/sendmail.mc", &c),
			 0);
	assert_true(c.mc_cf_mismatch);
	assert_true(has_note(&c, "sendmail.mc:11 MASQUERADE_AS(`lab.test') but sendmail.cf has "
				 "no DM"));
	assert_true(has_note(&c, "sendmail.mc:12 FEATURE(`allmasquerade') but sendmail.cf"));
	assert_true(has_note(&c, "sendmail.mc:13 FEATURE(`masquerade_envelope') but sendmail.cf"));
	assert_true(has_note(&c, "sendmail.mc:14 FEATURE(`always_add_domain') but sendmail.cf"));
	assert_true(has_note(&c, "sendmail.mc:10 SMART_HOST `[relay.lab.test]' but sendmail.cf "
				 "has DSrelay.lab.test"));
	/* what runs is still what is reported */
	assert_string_equal(c.masq.domain, "");
	assert_int_equal(c.masq.envelope, MH_TRI_NO);
}

static void test_mismatch_daemon_and_msa(void **state)
{
	static const char mc[] = "FEATURE(`no_default_msa')dnl\n"
				 "DAEMON_OPTIONS(`Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl\n";
	struct mh_sendmail_src cf = { NULL, 0, "/etc/mail/sendmail.cf" };
	struct mh_sendmail_src m = { mc, sizeof(mc) - 1, "/etc/mail/sendmail.mc" };
	struct mh_mta_config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(DIR "no-default-msa.cf", "r");

	(void)state;
	assert_non_null(f);
	assert_int_equal(getdelim(&buf, &len, '\0', f) > 0, 1);
	fclose(f);
	cf.data = buf;
	cf.len = strlen(buf);
	mh_mta_config_init(&c);
	assert_int_equal(mh_sendmail_parse(&cf, NULL, &m, &c, err, sizeof(err)), 0);
	assert_true(c.mc_cf_mismatch);
	assert_true(has_note(&c, "sendmail.mc:2 DAEMON_OPTIONS Addr=127.0.0.1 Name=MTA-v4 but "
				 "sendmail.cf has Addr=0.0.0.0"));
	/* plain.cf has the default MSA, the .mc says no_default_msa */
	free(buf);
	assert_int_equal(read3(DIR "plain.cf", NULL, NULL, &c), 0);
	f = fopen(DIR "plain.cf", "r");
	assert_non_null(f);
	buf = NULL;
	len = 0;
	assert_int_equal(getdelim(&buf, &len, '\0', f) > 0, 1);
	fclose(f);
	cf.data = buf;
	cf.len = strlen(buf);
	mh_mta_config_init(&c);
	assert_int_equal(mh_sendmail_parse(&cf, NULL, &m, &c, err, sizeof(err)), 0);
	assert_true(has_note(&c, "sendmail.mc:1 FEATURE(`no_default_msa') but sendmail.cf still "
				 "has an MSA daemon"));
	assert_false(has_note(&c, "DAEMON_OPTIONS"));
	free(buf);
}

static void test_mc_m4_syntax(void **state)
{
	static const char mc[] =
		"divert(-1)\n"
		"# FEATURE(`allmasquerade') in an m4 comment\n"
		"dnl MASQUERADE_AS(`commented.test')\n"
		"`FEATURE(`always_add_domain')' quoted, not expanded\n"
		"divert(0)dnl\n"
		"MASQUERADE_AS(\n"
		"  `lab.test')dnl spans two lines\n"
		"define(`SMART_HOST', ``[relay.lab.test]'')dnl\n"
		"FEATURE(masquerade_envelope)\n";
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(parse_buf(mc, strlen(mc), 2, &c), 0);
	assert_string_equal(setting(&c, "MASQUERADE_AS")->value, "lab.test");
	assert_string_equal(setting(&c, "MASQUERADE_AS")->where, "test.mc:6");
	assert_string_equal(setting(&c, "SMART_HOST")->value, "`[relay.lab.test]'");
	assert_string_equal(setting(&c, "FEATURE")->value, "masquerade_envelope");
	assert_string_equal(setting(&c, "FEATURE")->where, "test.mc:9");
	for (unsigned i = 0; i < c.nsettings; i++)
		assert_null(strstr(c.settings[i].value, "allmasquerade"));
	assert_false(c.masq.known); /* no .cf */
}

static void test_mc_unclosed(void **state)
{
	static const char mc[] = "dnl\nFEATURE(`nullclient', `x'\n";
	struct mh_mta_config c;

	(void)state;
	assert_true(parse_buf(mc, strlen(mc), 2, &c) < 0);
	assert_string_equal(err, "/etc/mail/test.mc:2: FEATURE( is never closed");
}

static void test_crlf(void **state)
{
	static const char cf[] = "DMlab.test\r\nDS[relay.lab.test]\r\n"
				 "O DaemonPortOptions=Name=MTA, Addr=127.0.0.1\r\n"
				 "SMasqEnv=94\r\nR$+\t\t\t$@ $>93 $1\r\n";
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(parse_buf(cf, strlen(cf), 0, &c), 0);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_string_equal(c.relayhost, "[relay.lab.test]");
	assert_string_equal(c.listen, "127.0.0.1");
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_int_equal(c.nnotes, 0);
}

static void test_long_line(void **state)
{
	size_t n = 70 * 1024;
	char *cf = malloc(n + 8);
	struct mh_mta_config c;

	(void)state;
	assert_non_null(cf);
	memcpy(cf, "DMx\n# ", 6);
	memset(cf + 6, 'a', n);
	cf[n + 6] = '\n';
	assert_true(parse_buf(cf, n + 7, 0, &c) < 0);
	assert_string_equal(err, "/etc/mail/test.cf:2: line longer than 65536 bytes");
	/* just under the cap is fine */
	assert_int_equal(parse_buf(cf, 6 + 60 * 1024, 0, &c), 0);
	free(cf);
}

static void test_binary(void **state)
{
	static const char junk[] = "DMx\nDS\x7f\x45LF\x02\x01\x01\x00\x00";
	struct mh_mta_config c;

	(void)state;
	assert_true(parse_buf(junk, sizeof(junk) - 1, 0, &c) < 0);
	assert_non_null(strstr(err, "/etc/mail/test.cf:2: binary data"));
	assert_true(parse_buf(junk, sizeof(junk) - 1, 2, &c) < 0);
	assert_non_null(strstr(err, "/etc/mail/test.mc:2: binary data"));
}

static void test_empty_and_missing(void **state)
{
	char path[] = "/tmp/mh-test-sendmail-XXXXXX";
	struct mh_mta_config c;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(read3(path, path, path, &c), 0);
	assert_true(c.masq.known);
	assert_string_equal(c.masq.domain, "");
	assert_int_equal(c.smtp_listener, MH_TRI_YES); /* sendmail's default */
	assert_false(c.local_delivery);
	unlink(path);
	assert_true(read3(DIR "no-such.cf", NULL, NULL, &c) < 0);
	assert_string_equal(err, DIR "no-such.cf: No such file or directory");
	assert_true(read3(DIR "plain.cf", NULL, DIR "no-such.mc", &c) < 0);
	assert_non_null(strstr(err, "no-such.mc"));
	assert_true(read3(DIR, NULL, NULL, &c) < 0);
	assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_masqueraded),
		cmocka_unit_test(test_masq_noenvelope),
		cmocka_unit_test(test_nullclient),
		cmocka_unit_test(test_nullclient_without_comments),
		cmocka_unit_test(test_no_default_msa),
		cmocka_unit_test(test_mismatch),
		cmocka_unit_test(test_mismatch_daemon_and_msa),
		cmocka_unit_test(test_mc_m4_syntax),
		cmocka_unit_test(test_mc_unclosed),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_empty_and_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
