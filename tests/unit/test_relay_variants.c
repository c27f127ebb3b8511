/*
 * test_relay_variants.c -- the open-relay test's MAIL FROM / RCPT TO pairs
 * (scanner/relay_variants.c).
 *
 * The exact list for one input; the shorter lists without own domain or
 * server name; IPv6 literals; the safety property that no path names any
 * domain but the test domain, the own domain, the server name or the
 * server's address literal, and that every recipient names the test
 * domain; and the refusals (empty, malformed or line-breaking input, paths
 * too long, too little room).
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

static const char *const want_full[][3] = {
    {"null-sender", "<>", "<relaytest@relay-test.example.net>"},
    {"own-domain-sender", "<relaytest@example.com>", "<relaytest@relay-test.example.net>"},
    {"server-name-sender", "<relaytest@mx.lab.test>", "<relaytest@relay-test.example.net>"},
    {"ip-literal-sender", "<relaytest@[198.18.0.2]>", "<relaytest@relay-test.example.net>"},
    {"percent-hack-ip", "<relaytest@[198.18.0.2]>",
     "<relaytest%relay-test.example.net@[198.18.0.2]>"},
    {"percent-hack-name", "<relaytest@[198.18.0.2]>",
     "<relaytest%relay-test.example.net@mx.lab.test>"},
    {"quoted-at", "<relaytest@[198.18.0.2]>", "<\"relaytest@relay-test.example.net\">"},
    {"quoted-percent", "<relaytest@[198.18.0.2]>", "<\"relaytest%relay-test.example.net\">"},
    {"double-at-ip", "<relaytest@[198.18.0.2]>",
     "<relaytest@relay-test.example.net@[198.18.0.2]>"},
    {"quoted-at-ip", "<relaytest@[198.18.0.2]>",
     "<\"relaytest@relay-test.example.net\"@[198.18.0.2]>"},
    {"double-at-name", "<relaytest@[198.18.0.2]>",
     "<relaytest@relay-test.example.net@mx.lab.test>"},
    {"source-route-ip", "<relaytest@[198.18.0.2]>",
     "<@[198.18.0.2]:relaytest@relay-test.example.net>"},
    {"source-route-name", "<relaytest@[198.18.0.2]>",
     "<@mx.lab.test:relaytest@relay-test.example.net>"},
    {"bang-path", "<relaytest@[198.18.0.2]>", "<relay-test.example.net!relaytest>"},
    {"bang-path-ip", "<relaytest@[198.18.0.2]>",
     "<relay-test.example.net!relaytest@[198.18.0.2]>"},
    {"bang-path-name", "<relaytest@[198.18.0.2]>",
     "<relay-test.example.net!relaytest@mx.lab.test>"},
};

static void test_exact_list(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	char err[MH_ERRLEN] = "";
	int n;

	(void)state;
	n = mh_relay_variants("relay-test.example.net", "mx.lab.test", "198.18.0.2", "example.com",
			      v, MH_RELAY_VARIANTS_MAX, err, sizeof(err));
	assert_int_equal(n, 16);
	for (int i = 0; i < n; i++) {
		assert_string_equal(v[i].name, want_full[i][0]);
		assert_string_equal(v[i].mail_from, want_full[i][1]);
		assert_string_equal(v[i].rcpt_to, want_full[i][2]);
	}
}

static bool in_list(const char *name, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(name, *list) == 0)
			return true;
	}
	return false;
}

/*
 * Every name in a path (split at '<', '>', '"', '@', '%', '!', ':') is the
 * local part or one of the allowed domains; literals stay whole.
 */
static void check_names(const char *path, const char *const *allowed)
{
	char tok[400];
	size_t t = 0;

	assert_true(path[0] == '<');
	assert_true(path[strlen(path) - 1] == '>');
	assert_null(strpbrk(path, "\r\n \t"));
	for (const char *p = path;; p++) {
		bool sep = *p == '\0' || strchr("<>\"@%!:", *p) != NULL;

		if (*p == '[' && t == 0) {
			/* An address literal runs to its ']'. */
			const char *e = strchr(p, ']');

			assert_non_null(e);
			assert_true((size_t)(e - p + 1) < sizeof(tok));
			memcpy(tok, p, (size_t)(e - p + 1));
			t = (size_t)(e - p + 1);
			p = e;
			continue;
		}
		if (!sep) {
			assert_true(t + 1 < sizeof(tok));
			tok[t++] = *p;
			continue;
		}
		tok[t] = '\0';
		if (t > 0 && strcmp(tok, "relaytest") != 0 && !in_list(tok, allowed))
			fail_msg("%s names %s", path, tok);
		t = 0;
		if (*p == '\0')
			break;
	}
}

static void check_safe(const struct mh_relay_variant *v, int n, const char *test,
		       const char *const *allowed)
{
	for (int i = 0; i < n; i++) {
		assert_non_null(v[i].name);
		if (strcmp(v[i].mail_from, "<>") != 0)
			check_names(v[i].mail_from, allowed);
		check_names(v[i].rcpt_to, allowed);
		/* Every recipient aims at the test domain. */
		assert_non_null(strstr(v[i].rcpt_to, test));
		/* Names are unique. */
		for (int j = 0; j < i; j++)
			assert_string_not_equal(v[i].name, v[j].name);
	}
}

static void test_only_allowed_names(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	char err[MH_ERRLEN] = "";
	const char *const allowed[] = {"relay-test.example.net", "example.com", "mx.lab.test",
				       "[198.18.0.2]", NULL};
	const char *const allowed6[] = {"rt.example.org", "[IPv6:2001:db8::25]", NULL};
	int n;

	(void)state;
	n = mh_relay_variants("relay-test.example.net", "mx.lab.test", "198.18.0.2", "example.com",
			      v, MH_RELAY_VARIANTS_MAX, err, sizeof(err));
	assert_int_equal(n, 16);
	check_safe(v, n, "relay-test.example.net", allowed);

	/* Without own domain and server name: 10 pairs, only T and the literal. */
	n = mh_relay_variants("rt.example.org", NULL, "2001:DB8:0::25", "", v,
			      MH_RELAY_VARIANTS_MAX, err, sizeof(err));
	assert_int_equal(n, 10);
	check_safe(v, n, "rt.example.org", allowed6);
	assert_string_equal(v[0].name, "null-sender");
	assert_string_equal(v[1].name, "ip-literal-sender");
	assert_string_equal(v[1].mail_from, "<relaytest@[IPv6:2001:db8::25]>");
	assert_string_equal(v[7].name, "source-route-ip");
	assert_string_equal(v[7].rcpt_to, "<@[IPv6:2001:db8::25]:relaytest@rt.example.org>");

	/* Server name only: 15. Own domain only: 11, and 11 slots are enough. */
	n = mh_relay_variants("rt.example.org", "mx", "192.0.2.1", NULL, v, MH_RELAY_VARIANTS_MAX,
			      err, sizeof(err));
	assert_int_equal(n, 15);
	n = mh_relay_variants("rt.example.org", "", "192.0.2.1", "example.com", v, 11, err,
			      sizeof(err));
	assert_int_equal(n, 11);
}

static void refuse(const char *t, const char *s, const char *ip, const char *o, int want)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	char err[MH_ERRLEN] = "";

	memset(v, 0, sizeof(v));
	assert_int_equal(mh_relay_variants(t, s, ip, o, v, MH_RELAY_VARIANTS_MAX, err, sizeof(err)),
			 want);
	assert_true(err[0] != '\0');
	assert_null(strpbrk(err, "\r\n"));
	for (size_t i = 0; i < MH_RELAY_VARIANTS_MAX; i++) {
		assert_string_equal(v[i].mail_from, "");
		assert_string_equal(v[i].rcpt_to, "");
	}
}

static void test_refusals(void **state)
{
	char longname[300];
	char label[70];

	(void)state;
	refuse("", "mx.lab.test", "198.18.0.2", NULL, MH_EINVAL);
	refuse(NULL, "mx.lab.test", "198.18.0.2", NULL, MH_EINVAL);
	refuse("example", "mx.lab.test", "198.18.0.2", NULL, MH_EINVAL); /* one label */
	refuse("relay.example.net\r\nRCPT TO:<x@evil.test>", NULL, "198.18.0.2", NULL,
	       MH_EINVAL);
	refuse("relay.example.net\n", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("relay.example.net.", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("x@evil.test", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("evil.test>", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("a b.test", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("-a.test", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("a-.test", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("a..test", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse(".a.test", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("198.51.100.7", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("[198.51.100.7]", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("relay_test.example.net", NULL, "198.18.0.2", NULL, MH_EINVAL);
	refuse("relay.example.net", "mx\r\n", "198.18.0.2", NULL, MH_EINVAL);
	refuse("relay.example.net", "ESMTP ready", "198.18.0.2", NULL, MH_EINVAL);
	refuse("relay.example.net", NULL, "198.18.0.2", "ex%ample.com", MH_EINVAL);
	refuse("relay.example.net", NULL, "198.18.0.2", "example.com\n", MH_EINVAL);
	refuse("relay.example.net", NULL, "mx.lab.test", NULL, MH_EINVAL);
	refuse("relay.example.net", NULL, "198.18.0.2\r\n", NULL, MH_EINVAL);
	refuse("relay.example.net", NULL, "", NULL, MH_EINVAL);
	refuse("relay.example.net", NULL, NULL, NULL, MH_EINVAL);

	/* A 64-character label, a 254-character name. */
	memset(label, 'a', 64);
	memcpy(label + 64, ".net", 5);
	refuse(label, NULL, "198.18.0.2", NULL, MH_EINVAL);
	label[1] = '.';
	assert_true(mh_relay_domain_valid(label, true));
	for (size_t i = 0; i < 254; i++)
		longname[i] = i % 2 ? '.' : 'a';
	longname[254] = '\0';
	longname[253] = 'x';
	refuse(longname, NULL, "198.18.0.2", NULL, MH_EINVAL);

	/* Valid names, but the source route would pass the path limit. */
	longname[251] = '\0'; /* 251 characters, ends in a letter */
	assert_true(mh_relay_domain_valid(longname, true));
	refuse(longname, longname, "198.18.0.2", NULL, MH_ELIMIT);
}

static void test_room(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	char err[MH_ERRLEN] = "";

	(void)state;
	assert_int_equal(mh_relay_variants("rt.example.org", "mx.lab.test", "192.0.2.1", NULL, v,
					   14, err, sizeof(err)),
			 MH_ELIMIT);
	assert_int_equal(mh_relay_variants("rt.example.org", "mx.lab.test", "192.0.2.1", NULL,
					   NULL, 16, err, sizeof(err)),
			 MH_ELIMIT);
}

static void test_domain_syntax(void **state)
{
	(void)state;
	assert_true(mh_relay_domain_valid("mx", false));
	assert_false(mh_relay_domain_valid("mx", true));
	assert_true(mh_relay_domain_valid("a-b.c0m", true));
	assert_true(mh_relay_domain_valid("1a.example", true));
	assert_true(mh_relay_domain_valid("MX.Example.COM", true));
	assert_false(mh_relay_domain_valid("example.123", true));
	assert_false(mh_relay_domain_valid("", false));
	assert_false(mh_relay_domain_valid(NULL, false));
	assert_false(mh_relay_domain_valid("-", false));
	assert_false(mh_relay_domain_valid("xn--caf-dma.example\xc3", true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_list),
	    cmocka_unit_test(test_only_allowed_names),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_room),
	    cmocka_unit_test(test_domain_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
