/*
 * test_mta_opensmtpd.c -- OpenSMTPD's smtpd.conf (probes/mta_opensmtpd.c):
 * Debian's shipped file, a smarthost listening everywhere, a mailname that
 * masquerades, mail-from "@domain", macros / continuation / CRLF / include,
 * every "listen on" form, the enqueuer socket only; the files smtpd refuses
 * give an error naming FILE:LINE; the same text fed whole and in pieces
 * through the parser reads the same.
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
#include "mailhole/mta.h"
#include "mailhole/rules.h"

#define OS MH_FIXTURES "/mta/opensmtpd"

static char err[MH_ERRLEN];

static int rd(const char *root, struct mh_mta_config *c)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/etc/smtpd.conf", root);
	mh_mta_config_init(c);
	err[0] = '\0';
	return mh_opensmtpd_read(path, root, "host-o.lab.test", c, err, sizeof(err));
}

static const struct mh_mta_setting *setting(const struct mh_mta_config *c, const char *key,
                                            unsigned nth)
{
	for (unsigned i = 0; i < c->nsettings; i++)
		if (!strcmp(c->settings[i].key, key) && nth-- == 0)
			return &c->settings[i];
	return NULL;
}

static void test_debian12(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/debian12", &c), 0);
	assert_string_equal(c.product, "opensmtpd");
	assert_int_equal(c.smtp_listener, MH_TRI_YES);
	assert_string_equal(c.listen, "localhost:25");
	assert_string_equal(c.relayhost, ""); /* "relay": MX delivery */
	assert_true(c.local_delivery);
	assert_true(c.masq.known);
	assert_string_equal(c.masq.domain, ""); /* no mailname: the host's name */
	assert_int_equal(c.masq.envelope, MH_TRI_NO);
	assert_int_equal(c.masq.always_add_domain, MH_TRI_YES);
	assert_string_equal(setting(&c, "listen on", 0)->value, "localhost port 25 (loopback)");
	assert_string_equal(setting(&c, "listen on", 0)->where, "smtpd.conf:10");
	assert_string_equal(setting(&c, "action relay", 0)->where, "smtpd.conf:13");
	assert_int_equal(c.nnotes, 0);
}

static void test_smarthost(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/smarthost", &c), 0);
	assert_string_equal(c.listen, "all:25");
	assert_string_equal(c.relayhost, "smtp://relay.lab.test:25");
	assert_true(c.local_delivery);
	assert_string_equal(c.masq.domain, "");
	assert_string_equal(setting(&c, "action outbound", 0)->value,
	                    "relay host smtp://relay.lab.test:25");
	assert_string_equal(setting(&c, "listen on", 0)->value, "all port 25 (all)");
	assert_int_equal(c.nnotes, 2);
	assert_non_null(strstr(c.notes[0], "smtpd.conf:3: listen on all: an OpenBSD interface"));
	assert_non_null(strstr(c.notes[1], "beyond loopback"));
}

static void test_mailname(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/mailname", &c), 0);
	assert_string_equal(c.listen, "lo:25");
	assert_string_equal(c.relayhost, "smtp+tls://relay.lab.test:587");
	assert_false(c.local_delivery);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_int_equal(c.masq.recipients, MH_TRI_YES);
	assert_string_equal(setting(&c, "mailname", 0)->value, "lab.test");
	/* the same file with a mailname that is the host's own name */
	mh_mta_config_init(&c);
	assert_int_equal(mh_opensmtpd_read(OS "/mailname/etc/smtpd.conf", OS "/mailname",
	                                   "lab.test", &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.masq.domain, "");
	assert_int_equal(c.masq.envelope, MH_TRI_NO);
}

static void test_mail_from(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/masq-mailfrom", &c), 0);
	assert_string_equal(c.listen, "localhost:25");
	assert_string_equal(c.relayhost, "smtp://relay.lab.test");
	assert_false(c.local_delivery);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_int_equal(c.masq.recipients, MH_TRI_NO);
	assert_string_equal(setting(&c, "action relay", 0)->value,
	                    "relay host smtp://relay.lab.test mail-from @lab.test");
}

static void test_macros_include(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/macros", &c), 0);
	/* "both" expands to two macros, one of them three words; the comment
	 * continued by a backslash swallows the third listen line */
	assert_string_equal(c.listen, "198.18.0.13:587 starttls, localhost:25");
	assert_string_equal(setting(&c, "listen on", 0)->where, "smtpd.conf:5");
	assert_string_equal(setting(&c, "listen on", 1)->where, "smtpd.conf:6");
	assert_null(setting(&c, "listen on", 2));
	assert_string_equal(c.relayhost, "smtp://relay.lab.test:2525");
	assert_string_equal(setting(&c, "action smart", 0)->where, "relay.conf:2");
	assert_string_equal(setting(&c, "include", 0)->value, "/etc/smtpd/relay.conf");
	assert_true(c.local_delivery);
}

static void test_listeners(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/listeners", &c), 0);
	assert_string_equal(c.listen, "eth0:587 inet6 starttls-required, 127.0.0.1:2525, "
	                              "::1:465 smtps, egress:465 inet4 smtps");
	assert_string_equal(setting(&c, "listen on", 1)->value, "127.0.0.1 port 2525 (loopback)");
	assert_string_equal(setting(&c, "listen on", 3)->value, "egress port 465 smtps (specific)");
	assert_string_equal(c.relayhost, "");
	assert_true(c.local_delivery);
}

static void test_no_listener(void **state)
{
	struct mh_mta_config c;

	(void)state;
	assert_int_equal(rd(OS "/no-listener", &c), 0);
	assert_int_equal(c.smtp_listener, MH_TRI_NO);
	assert_string_equal(c.listen, "socket");
	assert_string_equal(c.relayhost, "smtp://relay.lab.test");
	assert_false(c.local_delivery);
}

static void bad(const char *file, int code, const char *want)
{
	struct mh_mta_config c;
	char path[4096];

	snprintf(path, sizeof(path), OS "/bad/%s", file);
	mh_mta_config_init(&c);
	err[0] = '\0';
	assert_int_equal(mh_opensmtpd_read(path, NULL, "h", &c, err, sizeof(err)), code);
	if (!strstr(err, want) || !strstr(err, file) || strchr(err, '\n'))
		fail_msg("%s: '%s' (wanted '%s')", file, err, want);
}

static void test_errors(void **state)
{
	struct mh_mta_config c;

	(void)state;
	bad("port.conf", MH_EINVAL, "port.conf:1: listen on: bad port '99999'");
	bad("quote.conf", MH_EINVAL, "quote.conf:1: unterminated quote");
	bad("macro.conf", MH_EINVAL, "macro.conf:1: macro 'nowhere' is not defined");
	bad("loop.conf", MH_EINVAL, "loop.conf:3: macros nested more than 16 deep");
	bad("method.conf", MH_EINVAL, "unknown method 'deliver-somewhere'");
	bad("binary.conf", MH_EINVAL, "binary.conf:2: binary data (byte 0x00");
	mh_mta_config_init(&c);
	assert_int_equal(
	    mh_opensmtpd_read("/nonexistent/smtpd.conf", NULL, "h", &c, err, sizeof(err)), MH_EIO);
	assert_non_null(strstr(err, "/nonexistent/smtpd.conf"));
	/* an include that is not there names the including line */
	mh_mta_config_init(&c);
	assert_int_equal(mh_opensmtpd_read(OS "/macros/etc/smtpd.conf", "/nonexistent", "h", &c,
	                                   err, sizeof(err)),
	                 MH_EIO);
	assert_non_null(strstr(err, "smtpd.conf:11: include: /nonexistent/etc/smtpd/relay.conf"));
}

static void test_long_and_odd(void **state)
{
	struct mh_mta_config c;
	size_t n = 70 * 1024;
	char *buf = malloc(n + 32);

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "listen on ", 10);
	memset(buf + 10, 'a', n - 10);
	buf[n] = '\n';
	mh_mta_config_init(&c);
	assert_int_equal(
	    mh_opensmtpd_parse(buf, n + 1, "long.conf", "h", NULL, &c, err, sizeof(err)),
	    MH_ELIMIT);
	assert_non_null(strstr(err, "long.conf:1: line longer than"));
	/* 600 words */
	for (size_t i = 0; i < 600; i++)
		memcpy(buf + i * 2, "a ", 2);
	mh_mta_config_init(&c);
	assert_int_equal(
	    mh_opensmtpd_parse(buf, 1200, "words.conf", "h", NULL, &c, err, sizeof(err)),
	    MH_ELIMIT);
	/* empty macros, each twice the one before, 16 deep: bounded work, an error
	 * (also when spread over many lines) */
	{
		size_t off = (size_t)snprintf(buf, n, "m0 = \"\"\n");
		for (int k = 1; k < 16; k++)
			off += (size_t)snprintf(buf + off, n - off, "m%d = \"$m%d $m%d\"\n", k,
			                        k - 1, k - 1);
		off += (size_t)snprintf(buf + off, n - off, "listen on lo");
		for (int k = 0; k < 2000; k++)
			off += (size_t)snprintf(buf + off, n - off, " $m15");
		buf[off++] = '\n';
		mh_mta_config_init(&c);
		assert_int_equal(
		    mh_opensmtpd_parse(buf, off, "deep.conf", "h", NULL, &c, err, sizeof(err)),
		    MH_ELIMIT);
		assert_non_null(strstr(err, "deep.conf:17: more than 16384 macro expansions"));
	}
	/* empty text: nothing listens, nothing is delivered */
	mh_mta_config_init(&c);
	assert_int_equal(mh_opensmtpd_parse("", 0, "empty.conf", "h", NULL, &c, err, sizeof(err)),
	                 0);
	assert_int_equal(c.smtp_listener, MH_TRI_NO);
	assert_string_equal(c.listen, "");
	/* a match naming no defined action is a note, the rest is read */
	mh_mta_config_init(&c);
	assert_int_equal(mh_opensmtpd_parse("listen on lo\nmatch for any action \"x\"\n", 38,
	                                    "n.conf", "h", NULL, &c, err, sizeof(err)),
	                 0);
	assert_int_equal(c.nnotes, 1);
	assert_non_null(strstr(c.notes[0], "n.conf:2: match names action 'x'"));
	/* includes are noted, not read, from memory */
	mh_mta_config_init(&c);
	assert_int_equal(mh_opensmtpd_parse("include \"/etc/x\"\n", 17, "i.conf", "h", NULL, &c,
	                                    err, sizeof(err)),
	                 0);
	assert_non_null(strstr(c.notes[0], "include /etc/x not read"));
	free(buf);
}

/* The Debian file read whole and split at every byte into continuation-free halves. */
static void test_no_partial_state(void **state)
{
	struct mh_mta_config a, b;
	char *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(
	    mh_read_file(OS "/debian12/etc/smtpd.conf", 1 << 20, &buf, &len, err, sizeof(err)), 0);
	mh_mta_config_init(&a);
	assert_int_equal(
	    mh_opensmtpd_parse(buf, len, "smtpd.conf", "h", NULL, &a, err, sizeof(err)), 0);
	for (size_t cut = 0; cut <= len; cut++) {
		/* the prefix alone parses or fails cleanly; whole again reads the same */
		mh_mta_config_init(&b);
		int rc =
		    mh_opensmtpd_parse(buf, cut, "smtpd.conf", "h", NULL, &b, err, sizeof(err));
		assert_true(rc == 0 || (rc < 0 && !strncmp(err, "smtpd.conf:", 11)));
	}
	mh_mta_config_init(&b);
	assert_int_equal(
	    mh_opensmtpd_parse(buf, len, "smtpd.conf", "h", NULL, &b, err, sizeof(err)), 0);
	assert_string_equal(a.listen, b.listen);
	assert_int_equal(a.nsettings, b.nsettings);
	free(buf);
}

/* The rules give OpenSMTPD's own remediation lines. */
static void test_remediation(void **state)
{
	(void)state;
	assert_non_null(strstr(mh_rule_remediation(mh_rule_find("exposed-smtp"), "opensmtpd"),
	                       "listen on localhost"));
	assert_non_null(strstr(
	    mh_rule_remediation(mh_rule_find("host-qualified-sender"), "opensmtpd"), "mailname"));
	/* a rule with no OpenSMTPD text falls back to the generic one */
	assert_ptr_equal(mh_rule_remediation(mh_rule_find("cert-expired"), "opensmtpd"),
	                 mh_rule_find("cert-expired")->fix_generic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_debian12),       cmocka_unit_test(test_smarthost),
	    cmocka_unit_test(test_mailname),       cmocka_unit_test(test_mail_from),
	    cmocka_unit_test(test_macros_include), cmocka_unit_test(test_listeners),
	    cmocka_unit_test(test_no_listener),    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_long_and_odd),   cmocka_unit_test(test_no_partial_state),
	    cmocka_unit_test(test_remediation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
