/*
 * test_mta_exim.c -- Exim's configuration (probes/mta_exim.c): Debian's
 * update-exim4.conf.conf (satellite with and without dc_readhost /
 * dc_hide_mailname, an internet site qualified by /etc/mailname), a plain
 * exim.conf main section, and malformed input.
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

#define EX  MH_FIXTURES "/mta/exim"
#define DEB "/exim4/update-exim4.conf.conf"

static const struct mh_mta_setting *setting(const struct mh_mta_config *c, const char *key)
{
	for (unsigned i = 0; i < c->nsettings; i++)
		if (!strcmp(c->settings[i].key, key))
			return &c->settings[i];
	return NULL;
}

static void test_satellite_hide(void **state)
{
	struct mh_mta_config c;
	char err[MH_ERRLEN] = "";

	(void)state;
	mh_mta_config_init(&c);
	assert_int_equal(
	    mh_exim_read(NULL, EX "/satellite-hide" DEB, "host-a.lab.test", &c, err, sizeof(err)),
	    0);
	assert_string_equal(c.product, "exim");
	assert_true(c.masq.known);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_string_equal(c.relayhost, "relay.lab.test::587");
	assert_string_equal(c.listen, "127.0.0.1 ; ::1");
	assert_false(c.local_delivery);
	assert_string_equal(setting(&c, "dc_readhost")->where, "update-exim4.conf.conf:9");
	assert_string_equal(setting(&c, "dc_hide_mailname")->value, "true");
}

static void test_satellite_plain(void **state)
{
	struct mh_mta_config c;
	char err[MH_ERRLEN] = "";

	(void)state;
	mh_mta_config_init(&c);
	assert_int_equal(
	    mh_exim_read(NULL, EX "/satellite-plain" DEB, "host-a.lab.test", &c, err, sizeof(err)),
	    0);
	assert_true(c.masq.known);
	assert_string_equal(c.masq.domain, ""); /* mailname = the host's FQDN */
	assert_int_equal(c.masq.envelope, MH_TRI_NO);
	assert_string_equal(c.relayhost, "relay.lab.test::587");
	assert_non_null(setting(&c, "mailname"));
}

static void test_internet_mailname(void **state)
{
	struct mh_mta_config c;
	char err[MH_ERRLEN] = "";

	(void)state;
	mh_mta_config_init(&c);
	assert_int_equal(mh_exim_read(NULL, EX "/internet-mailname" DEB, "host-m.lab.test", &c, err,
	                              sizeof(err)),
	                 0);
	assert_string_equal(c.masq.domain, "lab.test");
	assert_string_equal(c.relayhost, "");
	assert_string_equal(c.listen, "all");
	assert_true(c.local_delivery);
	assert_string_equal(setting(&c, "dc_other_hostnames")->value, "lab.test; host-m.lab.test");
}

static void test_plain_conf(void **state)
{
	struct mh_mta_config c;
	char err[MH_ERRLEN] = "";

	(void)state;
	mh_mta_config_init(&c);
	assert_int_equal(mh_exim_read(EX "/plain/exim.conf", NULL, "ignored", &c, err, sizeof(err)),
	                 0);
	assert_string_equal(c.masq.domain, "lab.test"); /* not the one after "begin" */
	assert_int_equal(c.masq.envelope, MH_TRI_YES);
	assert_int_equal(c.masq.recipients, MH_TRI_YES);
	assert_string_equal(c.listen, "<; 127.0.0.1 ; ::1");
	assert_string_equal(setting(&c, "local_interfaces")->where, "exim.conf:5");
	assert_string_equal(setting(&c, "daemon_smtp_ports")->value, "25 : 587");
	assert_int_equal(c.smtp_listener, MH_TRI_YES);
	assert_string_equal(setting(&c, "primary_hostname")->value, "host-e.lab.test");
}

static void test_errors(void **state)
{
	struct mh_mta_config c;
	char err[MH_ERRLEN] = "", tmpl[] = "/tmp/mh-ex-XXXXXX", path[64];
	char *dir = mkdtemp(tmpl);
	FILE *f;

	(void)state;
	mh_mta_config_init(&c);
	assert_int_equal(mh_exim_read(NULL, NULL, "h", &c, err, sizeof(err)), MH_EINVAL);
	assert_int_equal(mh_exim_read("/nonexistent/exim.conf", NULL, "h", &c, err, sizeof(err)),
	                 MH_EIO);
	assert_non_null(strstr(err, "/nonexistent/exim.conf"));
	assert_non_null(dir);
	snprintf(path, sizeof(path), "%s/exim.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("primary_hostname = a\nqualify_domain = \001\002\n", f);
	fclose(f);
	assert_int_equal(mh_exim_read(path, NULL, "h", &c, err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "exim.conf:2:"));
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("qualify_domain = a\\\n", f);
	for (int i = 0; i < 5000; i++)
		fputs("  0123456789abcdef\\\n", f);
	fclose(f);
	assert_int_equal(mh_exim_read(path, NULL, "h", &c, err, sizeof(err)), MH_ELIMIT);
	assert_non_null(strstr(err, "exim.conf:1:"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_satellite_hide),
	    cmocka_unit_test(test_satellite_plain),
	    cmocka_unit_test(test_internet_mailname),
	    cmocka_unit_test(test_plain_conf),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
