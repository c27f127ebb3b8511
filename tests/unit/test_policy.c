/*
 * test_policy.c -- the policy file (report/policy.c): a real-looking policy
 * and every accessor over it, every key good and bad with its exact message,
 * syntax errors with their line and column, repeated keys, size limits,
 * mail server matching (address, CIDR, range, name in any case, v4-mapped),
 * severity overrides, suppressions in force / expired / not matching, and
 * excludes applied to a target set.
 *
 * No test may cause DNS traffic, and names in a policy are never resolved by
 * design. This program defines getaddrinfo() and freeaddrinfo() itself (a
 * definition in the executable wins over libc's at link time): every name is
 * "not found", and the calls are counted so that each test can check that
 * there were none.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/policy.h"
#include "mailhole/rules.h"
#include "mailhole/target.h"

#ifndef MH_FIXTURES
#error "MH_FIXTURES must name tests/fixtures"
#endif
#define POLICY_DIR MH_FIXTURES "/policy/"

/* ---- the resolver of this program: nothing resolves, every call is counted ---- */

static unsigned resolver_calls;

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	resolver_calls++;
	*res = NULL;
	return EAI_NONAME;
}

void freeaddrinfo(struct addrinfo *ai)
{
	(void)ai;
}

static int setup(void **state)
{
	(void)state;
	resolver_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(resolver_calls, 0);
	return 0;
}

/* ---- helpers ---- */

static struct mh_policy *parse_ok(const char *text)
{
	struct mh_policy *p = NULL;
	char err[MH_ERRLEN] = "";
	int rc = mh_policy_parse(text, strlen(text), "p.json", &p, err, sizeof(err));

	if (rc != 0)
		fail_msg("policy refused: %s\n  text: %s", err, text);
	assert_non_null(p);
	return p;
}

static struct mh_addr addr(const char *s)
{
	struct mh_addr a;

	assert_int_equal(mh_addr_parse(s, &a), 0);
	return a;
}

static bool is_ms(const struct mh_policy *p, const char *a, const char *const *names)
{
	struct mh_addr ad;

	if (!a)
		return mh_policy_is_mail_server(p, NULL, names);
	ad = addr(a);
	return mh_policy_is_mail_server(p, &ad, names);
}

/* One bad policy text and the exact message (file name "p.json"). */
struct bad_case {
	const char *text;
	const char *msg;
};

static void check_bad(const struct bad_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct mh_policy *p = (struct mh_policy *)&p; /* must be NULLed */
		char err[MH_ERRLEN] = "";
		int rc = mh_policy_parse(cases[i].text, strlen(cases[i].text), "p.json", &p, err,
		                         sizeof(err));

		if (rc != MH_EINVAL || strcmp(err, cases[i].msg) != 0)
			fail_msg("case %zu: rc %d\n  text: %s\n  got:  %s\n  want: %s", i, rc,
			         cases[i].text, err, cases[i].msg);
		assert_null(p);
	}
}

#define CHECK_BAD(cases) check_bad(cases, sizeof(cases) / sizeof(cases[0]))

/* ---- the fixture ---- */

static void test_good_fixture(void **state)
{
	struct mh_policy *p = NULL;
	const struct mh_policy_collector *col;
	char err[MH_ERRLEN] = "";

	(void)state;
	assert_int_equal(mh_policy_load(POLICY_DIR "good.json", &p, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_non_null(p);
	assert_string_equal(mh_policy_domain(p), "example.com");
	assert_string_equal(mh_policy_relay(p), "smtp://relay.example.com:25");
	assert_string_equal(mh_policy_relay_test_domain(p), "relay-test.example.net");
	col = mh_policy_collector(p);
	assert_non_null(col);
	assert_string_equal(col->address, "audit@example.com");
	assert_string_equal(col->url, "imap://relay.example.com/INBOX");
	assert_string_equal(col->user, "audit");
	assert_string_equal(col->password_file, "/etc/mailhole/collector.pass");
	assert_null(col->password_env);

	assert_true(is_ms(p, "198.18.0.2", NULL));
	assert_true(is_ms(p, "198.18.1.15", NULL));
	assert_false(is_ms(p, "198.18.1.16", NULL));
	assert_true(is_ms(p, "198.18.2.20", NULL));
	assert_true(is_ms(p, "fd00:0:0:1::25", NULL));
	assert_false(is_ms(p, "198.18.0.3", NULL));

	assert_int_equal(mh_policy_severity(p, "loopback-only", MH_SEV_LOW), MH_SEV_INFO);
	assert_int_equal(mh_policy_severity(p, "exposed-smtp", MH_SEV_HIGH), MH_SEV_HIGH);

	mh_policy_free(&p);
	assert_null(p);
	mh_policy_free(&p);
	mh_policy_free(NULL);
}

static void test_empty_policy(void **state)
{
	struct mh_policy *p = parse_ok("{}");
	struct mh_addr a = addr("198.18.0.1");
	const char *exp = "x";

	(void)state;
	assert_null(mh_policy_domain(p));
	assert_null(mh_policy_relay(p));
	assert_null(mh_policy_relay_test_domain(p));
	assert_null(mh_policy_collector(p));
	assert_false(mh_policy_is_mail_server(p, &a, NULL));
	assert_false(mh_policy_is_mail_server(p, &a, (const char *const[]){"mx", NULL}));
	assert_int_equal(mh_policy_severity(p, "exposed-smtp", MH_SEV_HIGH), MH_SEV_HIGH);
	assert_null(mh_policy_suppression(p, "exposed-smtp", &a, NULL, "2026-01-01", &exp));
	assert_null(exp);
	mh_policy_free(&p);

	/* A NULL policy is "no policy". */
	assert_null(mh_policy_domain(NULL));
	assert_null(mh_policy_collector(NULL));
	assert_false(mh_policy_is_mail_server(NULL, &a, NULL));
	assert_int_equal(mh_policy_severity(NULL, "exposed-smtp", MH_SEV_HIGH), MH_SEV_HIGH);
	exp = "x";
	assert_null(mh_policy_suppression(NULL, "exposed-smtp", &a, NULL, "2026-01-01", &exp));
	assert_null(exp);
	assert_int_equal(mh_policy_add_excludes(NULL, NULL, NULL, 0), 0);
}

static void test_bad_fixtures(void **state)
{
	static const struct {
		const char *file;
		const char *msg;
	} cases[] = {
	    {"bad-unknown-key.json", ".severty: unknown key"},
	    {"bad-password.json", ".collector.password: passwords never go in the policy; use "
	                          "password_file or password_env"},
	    {"bad-syntax.json", "line 6, column 3: unexpected character"},
	    {"bad-mail-server.json", ".mail_servers[3]: not an address, CIDR or name"},
	    {"bad-duplicate.json", ".exclude: duplicate key"},
	    {"bad-suppress-date.json", ".suppress[1].until: 2027-02-30 is not a calendar date"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mh_policy *p = NULL;
		char path[512], want[1024], err[MH_ERRLEN] = "";

		snprintf(path, sizeof(path), "%s%s", POLICY_DIR, cases[i].file);
		snprintf(want, sizeof(want), "%s: %s", path, cases[i].msg);
		assert_int_equal(mh_policy_load(path, &p, err, sizeof(err)), MH_EINVAL);
		assert_string_equal(err, want);
		assert_null(p);
	}
}

static void test_load_errors(void **state)
{
	struct mh_policy *p = NULL;
	char err[MH_ERRLEN];

	(void)state;
	assert_int_equal(mh_policy_load(POLICY_DIR "does-not-exist.json", &p, err, sizeof(err)),
	                 MH_EIO);
	assert_string_equal(err, POLICY_DIR
	                    "does-not-exist.json: cannot open: No such file or directory");
	assert_null(p);
	assert_int_equal(mh_policy_load(MH_FIXTURES "/policy", &p, err, sizeof(err)), MH_EIO);
	assert_string_equal(err, MH_FIXTURES "/policy: cannot read: is a directory");
	assert_null(p);
	/* A tiny buffer still gets a terminated (cut) message. */
	assert_int_equal(mh_policy_load(POLICY_DIR "bad-unknown-key.json", &p, err, 8), MH_EINVAL);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(mh_policy_load(POLICY_DIR "bad-unknown-key.json", &p, NULL, 0), MH_EINVAL);
}

/* ---- every key, good and bad ---- */

static void test_root(void **state)
{
	static const struct bad_case cases[] = {
	    {"[]", "p.json: .: expected an object"},
	    {"null", "p.json: .: expected an object"},
	    {"\"x\"", "p.json: .: expected an object"},
	    {"{\"severty\":{}}", "p.json: .severty: unknown key"},
	    {"{\"domain\":\"example.com\",\"Domain\":\"x\"}", "p.json: .Domain: unknown key"},
	    {"{\"a b\":1}", "p.json: .[\"a b\"]: unknown key"},
	    {"{\"\":1}", "p.json: .[\"\"]: unknown key"},
	    {"{\"x\\\"y\":1}", "p.json: .[\"x?y\"]: unknown key"},
	    {"{\"collector\":{\"address\":\"a@example.com\",\"url\":\"maildir:/m\",\"pw\":1}}",
	     "p.json: .collector.pw: unknown key"},
	};

	(void)state;
	CHECK_BAD(cases);
}

static void test_domain(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"domain\":1}", "p.json: .domain: expected a string"},
	    {"{\"domain\":null}", "p.json: .domain: expected a string"},
	    {"{\"domain\":[\"example.com\"]}", "p.json: .domain: expected a string"},
	    {"{\"domain\":\"\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"-example.com\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"example-.com\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"example..com\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"example.com.\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"exa mple.com\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"198.18.0.1\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"ex_ample.com\"}", "p.json: .domain: not a domain name"},
	    {"{\"domain\":\"a\\u0001b.com\"}", "p.json: .domain: contains a control character"},
	    {"{\"domain\":\"a\\tb.com\"}", "p.json: .domain: contains a control character"},
	    {"{\"domain\":\"a\\u0000b.com\"}",
	     "p.json: line 1, column 13: \\u0000 (NUL) never belongs in a policy"},
	};
	char text[400], label[70];
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);
	p = parse_ok("{\"domain\":\"Mail-1.Example.com\"}");
	assert_string_equal(mh_policy_domain(p), "Mail-1.Example.com");
	mh_policy_free(&p);
	p = parse_ok("{\"domain\":\"localdomain\"}");
	mh_policy_free(&p);

	/* 63-byte labels and 253-byte names are the limits. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(text, sizeof(text), "{\"domain\":\"%s.com\"}", label);
	p = parse_ok(text);
	mh_policy_free(&p);
	snprintf(text, sizeof(text), "{\"domain\":\"%sa.com\"}", label);
	{
		const struct bad_case c[] = {{text, "p.json: .domain: not a domain name"}};

		CHECK_BAD(c);
	}
	/* 4 x 63 + 3 dots = 255 bytes: too long; cut to 253 it is fine. */
	snprintf(text, sizeof(text), "{\"domain\":\"%s.%s.%s.%s\"}", label, label, label, label);
	{
		const struct bad_case c[] = {{text, "p.json: .domain: not a domain name"}};

		CHECK_BAD(c);
	}
	snprintf(text, sizeof(text), "{\"domain\":\"%s.%s.%s.%.61s\"}", label, label, label, label);
	p = parse_ok(text);
	mh_policy_free(&p);
}

static void test_mail_servers_syntax(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"mail_servers\":\"198.18.0.1\"}", "p.json: .mail_servers: expected an array"},
	    {"{\"mail_servers\":{}}", "p.json: .mail_servers: expected an array"},
	    {"{\"mail_servers\":[\"198.18.0.1\",\"mx.example.com\",\"198.18.0.0/24\","
	     "\"not a host\"]}",
	     "p.json: .mail_servers[3]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[1]}", "p.json: .mail_servers[0]: expected a string"},
	    {"{\"mail_servers\":[\"\"]}", "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\" 198.18.0.1\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"198.18.0.0/33\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"198.18.0.0/\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"mx.example.com/24\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"198.18.0.9-3\"]}",
	     "p.json: .mail_servers[0]: range end before start"},
	    {"{\"mail_servers\":[\"198.18.0.1-fd00::1\"]}",
	     "p.json: .mail_servers[0]: range mixes IPv4 and IPv6"},
	    {"{\"mail_servers\":[\"198.18.0.1-x\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"198.18.0.1-256\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"-mx.example.com\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"mx-.example.com\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"mx..example.com\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"mx_1.example.com\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"1.2.3\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"198.18.0.1%1\"]}",
	     "p.json: .mail_servers[0]: not an address, CIDR or name"},
	    {"{\"mail_servers\":[\"fd00::/64\", \"fe80::1%1-fe80::2%2\"]}",
	     "p.json: .mail_servers[1]: range ends are on different interfaces"},
	    {"{\"mail_servers\":[\"fe80::1%1/8\"]}",
	     "p.json: .mail_servers[0]: an interface is only for IPv6 link-local addresses "
	     "(fe80::/10)"},
	};
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);
	/* Every form, public addresses and big IPv6 blocks included (nothing is scanned). */
	p = parse_ok("{\"mail_servers\":[\"8.8.8.8\",\"0.0.0.0/0\",\"2001:db8::/32\",\"mx\","
	             "\"198.18.0.1-198.18.3.255\",\"198.18.0.1-20\",\"fe80::1%1\",\"mx.\","
	             "\"2001:db8::1-2001:db9::\"]}");
	mh_policy_free(&p);
}

static void test_relay(void **state)
{
	static const char shape[] = "expected smtp://HOST[:PORT] or smtps://HOST[:PORT]";
	static const char *const bad[] = {
	    "http://relay.example.com",
	    "smtp://",
	    "smtp://:25",
	    "smtp://relay.example.com:",
	    "smtp://relay.example.com:0",
	    "smtp://relay.example.com:65536",
	    "smtp://relay.example.com:x",
	    "smtp://user@relay.example.com",
	    "smtp://relay.example.com/x",
	    "SMTP://relay.example.com",
	    "smtp://[198.18.0.1]",
	    "smtp://fd00::1",
	    "smtp://[fd00::1",
	    "smtp://relay_1.example.com",
	    "relay.example.com",
	    "smtp://relay.example.com:25:25",
	    "smtp://[fe80::1%251]:25",
	};
	static const char *const good[] = {
	    "smtp://relay.example.com",
	    "smtps://relay.example.com:465",
	    "smtp://198.18.0.1:2525/",
	    "smtp://[fd00::1]:25",
	    "smtp://relay",
	};
	char text[256], msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "{\"relay\":\"%s\"}", bad[i]);
		snprintf(msg, sizeof(msg), "p.json: .relay: %s", shape);
		const struct bad_case c[] = {{text, msg}};

		CHECK_BAD(c);
	}
	{
		const struct bad_case c[] = {
		    {"{\"relay\":25}", "p.json: .relay: expected a string"}};

		CHECK_BAD(c);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct mh_policy *p;

		snprintf(text, sizeof(text), "{\"relay\":\"%s\"}", good[i]);
		p = parse_ok(text);
		assert_string_equal(mh_policy_relay(p), good[i]);
		mh_policy_free(&p);
	}
}

#define COLL(body) "{\"collector\":{" body "}}"
#define ADDR_URL   "\"address\":\"audit@example.com\",\"url\":\"maildir:/var/mail/audit\""

static void test_collector(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"collector\":\"audit@example.com\"}", "p.json: .collector: expected an object"},
	    {COLL(ADDR_URL ",\"password\":\"hunter2\""),
	     "p.json: .collector.password: passwords never go in the policy; use password_file "
	     "or password_env"},
	    {COLL("\"password\":1"), "p.json: .collector.password: passwords never go in the "
	                             "policy; use password_file or password_env"},
	    {COLL(ADDR_URL ",\"passwd_file\":\"/x\""),
	     "p.json: .collector.passwd_file: unknown key"},
	    {COLL("\"url\":\"maildir:/m\""), "p.json: .collector.address: required"},
	    {COLL("\"address\":\"a@example.com\""), "p.json: .collector.url: required"},
	    {COLL("\"address\":1"), "p.json: .collector.address: expected a string"},
	    {COLL("\"address\":\"\""), "p.json: .collector.address: must not be empty"},
	    {COLL("\"address\":\"audit\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"a@b@example.com\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"@example.com\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"audit@\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"au dit@example.com\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"audit.@example.com\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"a..b@example.com\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"audit@[198.18.0.1]\""),
	     "p.json: .collector.address: expected an e-mail address such as audit@example.com"},
	    {COLL("\"address\":\"a@example.com\",\"url\":\"http://x/\""),
	     "p.json: .collector.url: expected imap://HOST[:PORT]/MAILBOX, "
	     "imaps://HOST[:PORT]/MAILBOX or maildir:/ABSOLUTE/PATH"},
	    {COLL("\"address\":\"a@example.com\",\"url\":\"maildir:Maildir\""),
	     "p.json: .collector.url: expected imap://HOST[:PORT]/MAILBOX, "
	     "imaps://HOST[:PORT]/MAILBOX or maildir:/ABSOLUTE/PATH"},
	    {COLL("\"address\":\"a@example.com\",\"url\":\"maildir:/\""),
	     "p.json: .collector.url: expected imap://HOST[:PORT]/MAILBOX, "
	     "imaps://HOST[:PORT]/MAILBOX or maildir:/ABSOLUTE/PATH"},
	    {COLL("\"address\":\"a@example.com\",\"url\":\"imap://mail.example.com/IN BOX\""),
	     "p.json: .collector.url: expected imap://HOST[:PORT]/MAILBOX, "
	     "imaps://HOST[:PORT]/MAILBOX or maildir:/ABSOLUTE/PATH"},
	    {COLL("\"address\":\"a@example.com\",\"url\":\"imap://u:pw@mail.example.com/\""),
	     "p.json: .collector.url: expected imap://HOST[:PORT]/MAILBOX, "
	     "imaps://HOST[:PORT]/MAILBOX or maildir:/ABSOLUTE/PATH"},
	    {COLL(ADDR_URL ",\"user\":\"\""), "p.json: .collector.user: must not be empty"},
	    {COLL(ADDR_URL ",\"user\":\"  \""), "p.json: .collector.user: must not be empty"},
	    {COLL(ADDR_URL ",\"password_env\":\"1PW\""),
	     "p.json: .collector.password_env: not an environment variable name"},
	    {COLL(ADDR_URL ",\"password_env\":\"MY-PW\""),
	     "p.json: .collector.password_env: not an environment variable name"},
	    {COLL(ADDR_URL ",\"password_file\":\"/etc/pw\",\"password_env\":\"PW\""),
	     "p.json: .collector.password_env: give password_file or password_env, not both"},
	};
	const struct mh_policy_collector *col;
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);

	p = parse_ok(COLL("\"address\":\"audit+x.y@example.com\",\"url\":\"imaps://[fd00::1]:993/"
	                  "INBOX/Probes\",\"user\":\"audit\",\"password_env\":\"MH_PW_1\""));
	col = mh_policy_collector(p);
	assert_non_null(col);
	assert_string_equal(col->address, "audit+x.y@example.com");
	assert_string_equal(col->url, "imaps://[fd00::1]:993/INBOX/Probes");
	assert_string_equal(col->user, "audit");
	assert_null(col->password_file);
	assert_string_equal(col->password_env, "MH_PW_1");
	mh_policy_free(&p);

	p = parse_ok(COLL(ADDR_URL));
	col = mh_policy_collector(p);
	assert_string_equal(col->url, "maildir:/var/mail/audit");
	assert_null(col->user);
	mh_policy_free(&p);
	p = parse_ok(COLL("\"address\":\"a@example.com\",\"url\":\"imap://mail.example.com\""));
	mh_policy_free(&p);
}

static void test_relay_test_domain(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"relay_test_domain\":true}", "p.json: .relay_test_domain: expected a string"},
	    {"{\"relay_test_domain\":\"relay test.example.net\"}",
	     "p.json: .relay_test_domain: not a domain name"},
	    {"{\"domain\":\"example.com\",\"relay_test_domain\":\"Example.COM\"}",
	     "p.json: .relay_test_domain: must be outside the policy's domain example.com "
	     "(servers accept mail for their own domain)"},
	    {"{\"relay_test_domain\":\"relay.example.com\",\"domain\":\"example.com\"}",
	     "p.json: .relay_test_domain: must be outside the policy's domain example.com "
	     "(servers accept mail for their own domain)"},
	};
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);
	p = parse_ok("{\"domain\":\"example.com\",\"relay_test_domain\":\"notexample.com\"}");
	assert_string_equal(mh_policy_relay_test_domain(p), "notexample.com");
	mh_policy_free(&p);
}

static void test_severity(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"severity\":[]}", "p.json: .severity: expected an object"},
	    {"{\"severity\":{\"exposed-smpt\":\"low\"}}", "p.json: .severity.exposed-smpt: "
	                                                  "unknown rule"},
	    {"{\"severity\":{\"exposed-smtp\":\"urgent\"}}",
	     "p.json: .severity.exposed-smtp: unknown severity \"urgent\" (critical, high, "
	     "medium, low or info)"},
	    {"{\"severity\":{\"exposed-smtp\":\"HIGH\"}}",
	     "p.json: .severity.exposed-smtp: unknown severity \"HIGH\" (critical, high, "
	     "medium, low or info)"},
	    {"{\"severity\":{\"exposed-smtp\":2}}",
	     "p.json: .severity.exposed-smtp: expected a string"},
	};
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);
	p = parse_ok("{\"severity\":{\"exposed-smtp\":\"critical\",\"loopback-only\":\"info\","
	             "\"vrfy-enabled\":\"medium\"}}");
	assert_int_equal(mh_policy_severity(p, "exposed-smtp", MH_SEV_HIGH), MH_SEV_CRITICAL);
	assert_int_equal(mh_policy_severity(p, "loopback-only", MH_SEV_LOW), MH_SEV_INFO);
	assert_int_equal(mh_policy_severity(p, "vrfy-enabled", MH_SEV_LOW), MH_SEV_MEDIUM);
	assert_int_equal(mh_policy_severity(p, "expn-enabled", MH_SEV_LOW), MH_SEV_LOW);
	assert_int_equal(mh_policy_severity(p, "no-such-rule", 42), 42);
	assert_int_equal(mh_policy_severity(p, NULL, 42), 42);
	mh_policy_free(&p);

	/* Every rule of the table may be overridden. */
	for (unsigned i = 0; i < mh_nrules; i++) {
		char text[256];

		snprintf(text, sizeof(text), "{\"severity\":{\"%s\":\"info\"}}", mh_rules[i].id);
		p = parse_ok(text);
		assert_int_equal(mh_policy_severity(p, mh_rules[i].id, MH_SEV_CRITICAL),
		                 MH_SEV_INFO);
		mh_policy_free(&p);
	}
}

static void test_exclude_syntax(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"exclude\":\"198.18.0.1\"}", "p.json: .exclude: expected an array"},
	    {"{\"exclude\":[\"198.18.0.1\",5]}", "p.json: .exclude[1]: expected a string"},
	    {"{\"exclude\":[\"198.18.0.1\",\"198.18.0.1/99\"]}",
	     "p.json: .exclude[1]: not an address, CIDR or name"},
	    {"{\"exclude\":[\"ex clude.example.com\"]}",
	     "p.json: .exclude[0]: not an address, CIDR or name"},
	    {"{\"exclude\":[\"198.18.0.5-198.18.0.1\"]}",
	     "p.json: .exclude[0]: range end before start"},
	};
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);
	/* Public addresses, whole IPv6 blocks and names are fine as excludes (not resolved now). */
	p = parse_ok("{\"exclude\":[\"8.8.8.8\",\"::/0\",\"printer.example.com\",\"fe80::/10\"]}");
	mh_policy_free(&p);
}

static void test_excludes_applied(void **state)
{
	struct mh_policy *p = parse_ok("{\"exclude\":[\"198.18.0.99\",\"198.18.0.128/25\","
	                               "\"198.18.0.10-19\",\"10.0.0.0/8\",\"8.8.8.8\"]}");
	struct mh_targets *t = NULL;
	char err[MH_ERRLEN];
	struct mh_addr a;

	(void)state;
	assert_int_equal(mh_targets_new(&t, false), 0);
	assert_int_equal(mh_targets_add(t, "198.18.0.0/24", "test", err, sizeof(err)), 0);
	assert_int_equal(mh_policy_add_excludes(p, t, err, sizeof(err)), 0);
	assert_int_equal(mh_targets_finalize(t, err, sizeof(err)), 0);
	assert_int_equal(mh_targets_count(t), 256 - 1 - 128 - 10);
	mh_targets_get(t, 9, &a);
	assert_int_equal(
	    mh_addr_cmp(&a, &(struct mh_addr){.family = AF_INET, .bytes = {198, 18, 0, 9}}), 0);
	mh_targets_get(t, 10, &a);
	assert_int_equal(a.bytes[3], 20);
	mh_targets_free(&t);
	mh_policy_free(&p);

	/* An exclude name goes to the target set, which resolves it: here, not found. */
	p = parse_ok("{\"exclude\":[\"198.18.0.1\",\"gone.test\"]}");
	assert_int_equal(mh_targets_new(&t, false), 0);
	assert_int_equal(mh_policy_add_excludes(p, t, err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "target 'gone.test' (p.json: .exclude[1]): not an address, range, "
	                         "CIDR or resolvable name");
	assert_int_equal(resolver_calls, 1);
	resolver_calls = 0;
	mh_targets_free(&t);
	mh_policy_free(&p);
}

#define SUPP(rule, host, reason, until)                                                            \
	"{\"rule\":\"" rule "\",\"host\":\"" host "\",\"reason\":\"" reason                        \
	"\",\"until\":\"" until "\"}"

static void test_suppress_syntax(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"suppress\":{}}", "p.json: .suppress: expected an array"},
	    {"{\"suppress\":[\"exposed-smtp\"]}", "p.json: .suppress[0]: expected an object"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-01-01") ",{}]}",
	     "p.json: .suppress[1].rule: required"},
	    {"{\"suppress\":[{\"rule\":\"exposed-smtp\"}]}", "p.json: .suppress[0].host: required"},
	    {"{\"suppress\":[{\"rule\":\"exposed-smtp\",\"host\":\"mx\"}]}",
	     "p.json: .suppress[0].reason: required"},
	    {"{\"suppress\":[{\"rule\":\"exposed-smtp\",\"host\":\"mx\",\"reason\":\"r\"}]}",
	     "p.json: .suppress[0].until: required"},
	    {"{\"suppress\":[{\"rule\":\"exposed-smtp\",\"hosts\":\"mx\"}]}",
	     "p.json: .suppress[0].hosts: unknown key"},
	    {"{\"suppress\":[" SUPP("exposed-smpt", "198.18.0.1", "x", "2027-01-01") "]}",
	     "p.json: .suppress[0].rule: unknown rule \"exposed-smpt\""},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1/40", "x", "2027-01-01") "]}",
	     "p.json: .suppress[0].host: not an address, CIDR or name"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "", "2027-01-01") "]}",
	     "p.json: .suppress[0].reason: must not be empty"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", " ", "2027-01-01") "]}",
	     "p.json: .suppress[0].reason: must not be empty"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-3-31") "]}",
	     "p.json: .suppress[0].until: expected a date as YYYY-MM-DD"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-03-31T00:00") "]}",
	     "p.json: .suppress[0].until: expected a date as YYYY-MM-DD"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027/03/31") "]}",
	     "p.json: .suppress[0].until: expected a date as YYYY-MM-DD"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-02-29") "]}",
	     "p.json: .suppress[0].until: 2027-02-29 is not a calendar date"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2100-02-29") "]}",
	     "p.json: .suppress[0].until: 2100-02-29 is not a calendar date"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-13-01") "]}",
	     "p.json: .suppress[0].until: 2027-13-01 is not a calendar date"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-04-31") "]}",
	     "p.json: .suppress[0].until: 2027-04-31 is not a calendar date"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "2027-00-10") "]}",
	     "p.json: .suppress[0].until: 2027-00-10 is not a calendar date"},
	    {"{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x", "0000-01-01") "]}",
	     "p.json: .suppress[0].until: 0000-01-01 is not a calendar date"},
	    {"{\"suppress\":[{\"rule\":\"exposed-smtp\",\"host\":\"mx\",\"reason\":\"r\","
	     "\"until\":20270101}]}",
	     "p.json: .suppress[0].until: expected a string"},
	};
	struct mh_policy *p;

	(void)state;
	CHECK_BAD(cases);
	p = parse_ok("{\"suppress\":[" SUPP("exposed-smtp", "198.18.0.1", "x",
	                                    "2028-02-29") "," SUPP("exposed-smtp", "198.18.0.1",
	                                                           "x", "2000-02-29") "]}");
	mh_policy_free(&p);
}

/* ---- matching ---- */

static void test_mail_server_matching(void **state)
{
	struct mh_policy *p = parse_ok(
	    "{\"mail_servers\":[\"198.18.0.2\",\"mx1.example.com\",\"MX2.Example.COM.\","
	    "\"198.18.1.0/28\",\"198.18.2.10-20\",\"fd00:0:0:1::/64\",\"fe80::25%7\","
	    "\"198.18.1.16/28\",\"198.18.0.2\",\"mx1.example.com\",\"::ffff:198.18.9.9\"]}");
	const char *const mx1[] = {"other.example.com", "MX1.EXAMPLE.COM", NULL};
	const char *const mx2[] = {"mx2.example.com", NULL};
	const char *const mx2dot[] = {"mx2.example.com.", NULL};
	const char *const none[] = {"mx3.example.com", "example.com", "mx1.example.co", NULL};
	const char *const empty[] = {NULL};
	struct mh_addr a;

	(void)state;
	/* Addresses, blocks (merged when adjacent), ranges, IPv6 blocks. */
	assert_true(is_ms(p, "198.18.0.2", NULL));
	assert_false(is_ms(p, "198.18.0.1", NULL));
	assert_false(is_ms(p, "198.18.0.3", NULL));
	assert_false(is_ms(p, "198.18.0.255", NULL));
	assert_true(is_ms(p, "198.18.1.0", NULL));
	assert_true(is_ms(p, "198.18.1.15", NULL));
	assert_true(is_ms(p, "198.18.1.16", NULL));
	assert_true(is_ms(p, "198.18.1.31", NULL));
	assert_false(is_ms(p, "198.18.1.32", NULL));
	assert_false(is_ms(p, "198.18.2.9", NULL));
	assert_true(is_ms(p, "198.18.2.10", NULL));
	assert_true(is_ms(p, "198.18.2.20", NULL));
	assert_false(is_ms(p, "198.18.2.21", NULL));
	assert_false(is_ms(p, "0.0.0.0", NULL));
	assert_false(is_ms(p, "255.255.255.255", NULL));
	assert_true(is_ms(p, "fd00:0:0:1::", NULL));
	assert_true(is_ms(p, "fd00:0:0:1:ffff:ffff:ffff:ffff", NULL));
	assert_false(is_ms(p, "fd00:0:0:2::", NULL));
	assert_false(is_ms(p, "fd00::", NULL));
	assert_false(is_ms(p, "::", NULL));
	/* An IPv4 address and its v4-mapped form are one host, both ways. */
	assert_true(is_ms(p, "::ffff:198.18.0.2", NULL));
	assert_true(is_ms(p, "::ffff:198.18.1.20", NULL));
	assert_false(is_ms(p, "::ffff:198.18.0.3", NULL));
	assert_true(is_ms(p, "198.18.9.9", NULL));
	assert_true(is_ms(p, "::ffff:198.18.9.9", NULL));
	/* A scoped entry matches only on its interface. */
	a = addr("fe80::25");
	a.scope_id = 7;
	assert_true(mh_policy_is_mail_server(p, &a, NULL));
	a.scope_id = 8;
	assert_false(mh_policy_is_mail_server(p, &a, NULL));
	a.scope_id = 0;
	assert_false(mh_policy_is_mail_server(p, &a, NULL));

	/* Names: any case, with or without the trailing dot; never resolved. */
	assert_true(is_ms(p, "198.18.0.3", mx1));
	assert_true(is_ms(p, "198.18.0.3", mx2));
	assert_true(is_ms(p, "198.18.0.3", mx2dot));
	assert_false(is_ms(p, "198.18.0.3", none));
	assert_false(is_ms(p, "198.18.0.3", empty));
	assert_true(is_ms(p, NULL, mx1));
	assert_false(is_ms(p, NULL, NULL));
	mh_policy_free(&p);

	/* Unscoped link-local entries match on every interface. */
	p = parse_ok("{\"mail_servers\":[\"fe80::/64\"]}");
	a = addr("fe80::1");
	a.scope_id = 3;
	assert_true(mh_policy_is_mail_server(p, &a, NULL));
	assert_false(is_ms(p, "fe80:0:0:1::1", NULL));
	mh_policy_free(&p);

	/* The whole space, and blocks that end at the top. */
	p = parse_ok("{\"mail_servers\":[\"0.0.0.0/0\",\"::/0\",\"255.255.255.0/24\"]}");
	assert_true(is_ms(p, "1.2.3.4", NULL));
	assert_true(is_ms(p, "255.255.255.255", NULL));
	assert_true(is_ms(p, "2001:db8::1", NULL));
	mh_policy_free(&p);
}

/* Many entries: binary search against a linear model. */
static void test_mail_server_many(void **state)
{
	char *text = malloc(1 << 20);
	size_t len = 0;
	struct mh_policy *p;

	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text + len, 64, "{\"mail_servers\":[");
	for (unsigned i = 0; i < 2000; i++)
		len += (size_t)snprintf(text + len, 64, "%s\"198.18.%u.%u/30\"", i ? "," : "",
		                        (i * 7) % 256, (i * 12) % 256);
	len += (size_t)snprintf(text + len, 64, "]}");
	p = parse_ok(text);
	for (unsigned x = 0; x < 65536; x++) {
		struct mh_addr a = {.family = AF_INET,
		                    .bytes = {198, 18, (uint8_t)(x >> 8), (uint8_t)x}};
		bool want = false;

		for (unsigned i = 0; i < 2000 && !want; i++)
			want = (x >> 8) == (i * 7) % 256 && (x & 0xfc) == ((i * 12) % 256 & 0xfc);
		assert_int_equal(mh_policy_is_mail_server(p, &a, NULL), want);
	}
	mh_policy_free(&p);
	free(text);
}

static void test_suppressions(void **state)
{
	struct mh_policy *p = NULL;
	char err[MH_ERRLEN];
	const char *const legacy[] = {"LEGACY.example.com.", NULL};
	const char *const other[] = {"other.example.com", NULL};
	struct mh_addr a40 = addr("198.18.0.40"), a33 = addr("198.18.0.33");
	struct mh_addr a50 = addr("198.18.0.50"), m40 = addr("::ffff:198.18.0.40");
	const char *exp, *r;

	(void)state;
	assert_int_equal(mh_policy_load(POLICY_DIR "good.json", &p, err, sizeof(err)), 0);

	/* In force through the until day. */
	exp = "x";
	r = mh_policy_suppression(p, "exposed-smtp", &a40, NULL, "2026-11-24", &exp);
	assert_non_null(r);
	assert_string_equal(r, "legacy fax gateway");
	assert_null(exp);
	r = mh_policy_suppression(p, "exposed-smtp", &a40, NULL, "2027-03-31", &exp);
	assert_string_equal(r, "legacy fax gateway");
	r = mh_policy_suppression(p, "exposed-smtp", &m40, NULL, "2027-03-31", &exp);
	assert_string_equal(r, "legacy fax gateway");
	r = mh_policy_suppression(p, "exposed-smtp", &a40, NULL, "2027-03-31", NULL);
	assert_string_equal(r, "legacy fax gateway");

	/*
	 * Expired the day after. 198.18.0.40 is also in the retired lab subnet
	 * (expired 2026-01-31): the newest expiry is reported.
	 */
	r = mh_policy_suppression(p, "exposed-smtp", &a40, NULL, "2027-04-01", &exp);
	assert_null(r);
	assert_non_null(exp);
	assert_string_equal(exp, "2027-03-31");
	r = mh_policy_suppression(p, "exposed-smtp", &a33, NULL, "2026-02-01", &exp);
	assert_null(r);
	assert_string_equal(exp, "2026-01-31");
	r = mh_policy_suppression(p, "exposed-smtp", &a33, NULL, "2026-01-31", &exp);
	assert_string_equal(r, "old lab subnet, being retired");
	assert_null(exp);
	assert_null(mh_policy_suppression(p, "exposed-smtp", &a33, NULL, "2026-02-01", NULL));

	/* Not matching: other host, other rule, no address. */
	exp = "x";
	assert_null(mh_policy_suppression(p, "exposed-smtp", &a50, NULL, "2026-01-01", &exp));
	assert_null(exp);
	exp = "x";
	assert_null(mh_policy_suppression(p, "vrfy-enabled", &a40, NULL, "2026-01-01", &exp));
	assert_null(exp);
	assert_null(mh_policy_suppression(p, "exposed-smtp", NULL, NULL, "2026-01-01", &exp));
	assert_null(mh_policy_suppression(p, "exposed-smtp", &a40, NULL, NULL, &exp));
	assert_null(exp);
	assert_null(mh_policy_suppression(p, "exposed-smt", &a40, NULL, "2026-01-01", &exp));

	/* By name, in any case; the first in force wins; the newest expired is reported. */
	r = mh_policy_suppression(p, "vrfy-enabled", &a50, legacy, "2025-01-01", &exp);
	assert_string_equal(r, "vendor appliance; ticket OPS-1234");
	r = mh_policy_suppression(p, "vrfy-enabled", NULL, legacy, "2026-06-30", &exp);
	assert_string_equal(r, "vendor appliance; ticket OPS-1234");
	r = mh_policy_suppression(p, "vrfy-enabled", &a50, legacy, "2027-01-01", &exp);
	assert_null(r);
	assert_string_equal(exp, "2026-12-31");
	exp = "x";
	assert_null(mh_policy_suppression(p, "vrfy-enabled", &a50, other, "2025-01-01", &exp));
	assert_null(exp);
	mh_policy_free(&p);
}

/* ---- syntax and limits ---- */

static void test_syntax_errors(void **state)
{
	static const struct bad_case cases[] = {
	    {"", "p.json: empty file; expected a JSON object"},
	    {" \n\t\r\n", "p.json: empty file; expected a JSON object"},
	    {"{\n  \"domain\": \"example.com\",\n}", "p.json: line 3, column 1: unexpected "
	                                             "character"},
	    {"{\"domain\": \"x\"", "p.json: line 1, column 15: unexpected end of file"},
	    {"{\n\"domain\":\n", "p.json: line 3, column 1: unexpected end of file"},
	    {"{} {}", "p.json: line 1, column 4: unexpected character"},
	    {"{}\nx", "p.json: line 2, column 1: unexpected character"},
	    {"{\"domain\" \"x\"}",
	     "p.json: line 1, column 11: object property name separator ':' expected"},
	    {"{/* c */}", "p.json: line 1, column 2: quoted object property name expected"},
	    {"// c\n{}", "p.json: line 1, column 1: unexpected character"},
	    {"{\"mail_servers\":[1,]}", "p.json: line 1, column 20: unexpected character"},
	    {"{\"domain\":tru}", "p.json: line 1, column 14: boolean expected"},
	    {"{\"domain\":\"\xff\"}", "p.json: line 1, column 12: invalid utf-8 string"},
	    /* Columns count characters: "é" is one. */
	    {"{\"x\":\"\xc3\xa9\"\n,\"\xc3\xa9\xc3\xa9\" 1}",
	     "p.json: line 2, column 7: object property name separator ':' expected"},
	    {"{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
	     "p.json: line 1, column 21: nesting too deep"},
	};

	(void)state;
	CHECK_BAD(cases);
}

static void test_nul_bytes(void **state)
{
	static const char text[] = "{\"domain\":\n\"exa\0mple.com\"}";
	struct mh_policy *p = NULL;
	char err[MH_ERRLEN];

	(void)state;
	assert_int_equal(mh_policy_parse(text, sizeof(text) - 1, "p.json", &p, err, sizeof(err)),
	                 MH_EINVAL);
	assert_string_equal(err, "p.json: line 2, column 5: NUL byte in the file");
	assert_null(p);

	/* A key cut at "\u0000" would read as another key: refused before json-c sees it. */
	{
		static const struct bad_case cases[] = {
		    {"{\"domain\\u0000x\":\"example.com\"}",
		     "p.json: line 1, column 9: \\u0000 (NUL) never belongs in a policy"},
		    {"{\"d\\\\\\u0000\":1}",
		     "p.json: line 1, column 6: \\u0000 (NUL) never belongs in a policy"},
		};

		CHECK_BAD(cases);
	}
	/* An escaped backslash before "u0000" is no escape of NUL. */
	p = parse_ok(
	    "{\"suppress\":[" SUPP("exposed-smtp", "mx", "path C:\\\\u0000", "2027-01-01") "]}");
	mh_policy_free(&p);
}

static void test_duplicates(void **state)
{
	static const struct bad_case cases[] = {
	    {"{\"exclude\":[\"198.18.0.1\"],\"exclude\":[]}", "p.json: .exclude: duplicate key"},
	    {"{\"domain\":\"a.com\",\"d\\u006fmain\":\"b.com\"}", "p.json: .domain: duplicate key"},
	    {"{\"collector\":{\"user\":\"a\",\"address\":\"a@example.com\",\"user\":\"b\"}}",
	     "p.json: .collector.user: duplicate key"},
	    {"{\"suppress\":[{},{\"rule\":\"a\",\"x\":{\"y\":1,\"y\":2}}]}",
	     "p.json: .suppress[1].x.y: duplicate key"},
	    {"{\"a\":{\"k\":\"{\\\"k\\\":1,\\\"k\\\":2}\"},\"b\":{\"m\":1,\"m\":2}}",
	     "p.json: .b.m: duplicate key"},
	    {"{\"severity\":{\"a b\":1,\"a b\":2}}", "p.json: .severity[\"a b\"]: duplicate key"},
	};

	(void)state;
	CHECK_BAD(cases);
	/* Equal keys in different objects, and braces inside strings, are fine. */
	struct mh_policy *p =
	    parse_ok("{\"suppress\":[" SUPP("exposed-smtp", "mx", "{x:", "2027-01-01") "," SUPP(
	        "exposed-smtp", "mx", "\\\"}{", "2027-01-01") "],\"domain\":\"example.com\"}");
	mh_policy_free(&p);
}

static void test_size_limits(void **state)
{
	const size_t max = (size_t)4 << 20;
	struct mh_policy *p = NULL;
	char err[MH_ERRLEN];
	char *text = malloc(max + 2);
	size_t len = 0;

	(void)state;
	assert_non_null(text);
	/* 4 MiB of white space around {} is fine; one byte more is refused unread. */
	memset(text, ' ', max + 1);
	text[0] = '{';
	text[1] = '}';
	assert_int_equal(mh_policy_parse(text, max, "p.json", &p, err, sizeof(err)), 0);
	mh_policy_free(&p);
	assert_int_equal(mh_policy_parse(text, max + 1, "p.json", &p, err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "p.json: larger than 4 MiB, the limit for a policy file");
	assert_null(p);

	/* The same limit through a file. */
	{
		char path[] = "/tmp/test_policy_XXXXXX";
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, text, max + 1), (ssize_t)(max + 1));
		close(fd);
		assert_int_equal(mh_policy_load(path, &p, err, sizeof(err)), MH_EINVAL);
		assert_true(strstr(err, ": larger than 4 MiB, the limit for a policy file") !=
		            NULL);
		assert_int_equal(strncmp(err, path, strlen(path)), 0);
		unlink(path);
	}

	/* 100,000 entries are fine, 100,001 are not. */
	len = (size_t)snprintf(text, 32, "{\"mail_servers\":[");
	for (unsigned i = 0; i < 100001; i++)
		len += (size_t)snprintf(text + len, 32, "%s\"10.%u.%u.%u\"", i ? "," : "", i >> 16,
		                        (i >> 8) & 255, i & 255);
	len += (size_t)snprintf(text + len, 32, "]}");
	assert_int_equal(mh_policy_parse(text, len, "p.json", &p, err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "p.json: .mail_servers: more than 100000 entries");
	assert_null(p);
	/* Cut the last entry: exactly 100,000. */
	{
		char *last = strrchr(text, ',');

		memcpy(last, "]}", 3);
		assert_int_equal(
		    mh_policy_parse(text, strlen(text), "p.json", &p, err, sizeof(err)), 0);
		assert_true(is_ms(p, "10.1.134.159", NULL));
		assert_false(is_ms(p, "10.1.134.160", NULL));
		mh_policy_free(&p);
	}
	free(text);
}

static void test_not_terminated(void **state)
{
	/* The text is len bytes: what follows is never read. */
	static const char text[] = "{\"domain\":\"example.com\"}garbage";
	struct mh_policy *p = NULL;
	char err[MH_ERRLEN];

	(void)state;
	assert_int_equal(mh_policy_parse(text, 24, "p.json", &p, err, sizeof(err)), 0);
	assert_string_equal(mh_policy_domain(p), "example.com");
	mh_policy_free(&p);
	assert_int_equal(mh_policy_parse(text, 25, NULL, &p, err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "policy: line 1, column 25: unexpected character");
	assert_int_equal(mh_policy_parse(NULL, 0, NULL, &p, err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "policy: empty file; expected a JSON object");
	assert_int_equal(mh_policy_parse(text, 24, NULL, NULL, err, sizeof(err)), MH_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_good_fixture, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_fixtures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_domain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mail_servers_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_collector, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relay_test_domain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_severity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exclude_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_excludes_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suppress_syntax, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mail_server_matching, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mail_server_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_suppressions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syntax_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nul_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_terminated, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
