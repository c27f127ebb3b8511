/*
 * test_smtp_probes.c -- the intrusive SMTP checks from session to report:
 * a session (scanner/smtp_session.c) is driven with a server's replies, its
 * result goes into a host record, and the classifier (report/rules.c) and
 * the JSON host record (report/json.c) must say what the answers mean:
 * vrfy-enabled / expn-enabled only on disclosure, open-relay with the
 * accepted pairs, "smtp.vrfy", "smtp.expn", "smtp.vrfy_check", "smtp.relay".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "mailhole/common.h"
#include "mailhole/engine.h"
#include "mailhole/host.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"
#include "mailhole/smtp.h"

#define NAME "scanner.example.net"
#define TEST_DOMAIN "relay-test.example.net"
#define GREETING "220 mx.example.net ESMTP Postfix\r\n"
#define EHLO "250-mx.example.net\r\n250-PIPELINING\r\n250 8BITMIME\r\n"

/* Where the reply starting at pos ends ("DDD-" lines go on). */
static size_t reply_end(const char *in, size_t pos, size_t len)
{
	while (pos < len) {
		const char *lf = memchr(in + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - in) + 1 : len;
		bool more = end - pos > 4 && in[pos + 3] == '-';

		pos = end;
		if (!more)
			break;
	}
	return pos;
}

/*
 * A session against a server that answers with replies, one reply per
 * command. Returns a host record at 198.18.0.25 holding the result.
 */
static struct mh_host *run(const struct mh_smtp_probes *p, const char *replies)
{
	struct mh_smtp_session s;
	struct mh_smtp_result *res = calloc(1, sizeof(*res));
	struct mh_host *h;
	struct mh_addr a;
	size_t len = strlen(replies), pos = 0, n;

	assert_non_null(res);
	mh_smtp_session_init(&s, res, NAME);
	mh_smtp_session_set_probes(&s, p, "198.18.0.25");
	while (pos < len) {
		size_t end = reply_end(replies, pos, len);

		mh_smtp_session_pending(&s, &n);
		mh_smtp_session_sent(&s, n);
		mh_smtp_session_input(&s, replies + pos, end - pos);
		pos = end;
	}
	mh_smtp_session_eof(&s, false);
	assert_int_equal(s.state, MH_SMTP_DONE);
	assert_int_equal(mh_addr_parse("198.18.0.25", &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	h->mail_server = true;
	h->nports = 1;
	h->ports[0].port = 25;
	h->ports[0].state = MH_PORT_OPEN;
	h->ports[0].smtp = res;
	mh_fingerprint(res, &h->ports[0].mta);
	mh_classify(h);
	return h;
}

static const struct mh_finding *finding(const struct mh_host *h, const char *id)
{
	for (unsigned i = 0; i < h->nfindings; i++)
		if (strcmp(h->findings[i].rule->id, id) == 0)
			return &h->findings[i];
	return NULL;
}

/* The port's "smtp" object of the host's JSON record (owned by *rec). */
static struct json_object *smtp_json(const struct mh_host *h, struct json_object **rec)
{
	struct json_object *ports, *smtp;

	*rec = mh_host_to_json(h);
	assert_non_null(*rec);
	assert_true(json_object_object_get_ex(*rec, "ports", &ports));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(ports, 0), "smtp", &smtp));
	return smtp;
}

static const char *jget_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static void test_vrfy_discloses(void **state)
{
	struct mh_smtp_probes p = { .vrfy = true, .vrfy_seed = 7 };
	struct mh_host *h;
	struct json_object *rec, *smtp, *chk, *ans;
	const struct mh_finding *f;
	char bogus[17];

	(void)state;
	mh_vrfy_bogus_name(7, bogus, sizeof(bogus));
	h = run(&p, GREETING EHLO "252 2.0.0 root\r\n"
	                          "550 5.1.1 <x>: Recipient address rejected: User unknown in "
	                          "local recipient table\r\n"
	                          "502 5.5.2 Error: command not recognized\r\n221 Bye\r\n");
	f = finding(h, "vrfy-enabled");
	assert_non_null(f);
	assert_non_null(strstr(f->evidence, "25/tcp: VRFY root: 252 2.0.0 root; VRFY "));
	assert_non_null(strstr(f->evidence, bogus));
	assert_null(finding(h, "expn-enabled"));
	assert_null(finding(h, "open-relay"));
	smtp = smtp_json(h, &rec);
	assert_string_equal(jget_str(smtp, "vrfy"), "discloses");
	assert_string_equal(jget_str(smtp, "expn"), "disabled");
	chk = jget(smtp, "vrfy_check");
	assert_non_null(chk);
	assert_string_equal(jget_str(chk, "bogus"), bogus);
	assert_false(json_object_get_boolean(jget(chk, "tls")));
	ans = jget(chk, "answers");
	assert_int_equal(json_object_array_length(ans), 3);
	assert_string_equal(jget_str(json_object_array_get_idx(ans, 0), "command"), "VRFY root");
	assert_int_equal(json_object_get_int(jget(json_object_array_get_idx(ans, 1), "code")), 550);
	assert_string_equal(jget_str(json_object_array_get_idx(ans, 2), "command"), "EXPN root");
	assert_null(jget(chk, "error"));
	assert_null(jget(smtp, "relay"));
	json_object_put(rec);
	mh_host_free(&h);
}

/* 252 to everything, 502, 421 and 530: never a finding (nmap's mistakes). */
static void test_vrfy_no_finding(void **state)
{
	static const char *const servers[] = {
	    GREETING EHLO "252 2.1.5 Cannot VRFY user\r\n252 2.1.5 Cannot VRFY user\r\n"
	                  "252 2.1.5 Cannot EXPN\r\n252 2.1.5 Cannot EXPN\r\n221 Bye\r\n",
	    GREETING EHLO "502 5.5.1 VRFY command is disabled\r\n"
	                  "502 5.5.2 Error: command not recognized\r\n221 Bye\r\n",
	    GREETING EHLO "421 4.7.0 Error: too many errors\r\n",
	    GREETING EHLO "530 5.7.0 Must issue a STARTTLS command first\r\n"
	                  "530 5.7.0 Must issue a STARTTLS command first\r\n221 Bye\r\n",
	};
	static const char *const vrfy[] = { "ambiguous", "disabled", NULL, NULL };
	struct mh_smtp_probes p = { .vrfy = true };

	(void)state;
	for (unsigned i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		struct mh_host *h = run(&p, servers[i]);
		struct json_object *rec, *smtp = smtp_json(h, &rec);

		assert_null(finding(h, "vrfy-enabled"));
		assert_null(finding(h, "expn-enabled"));
		if (vrfy[i])
			assert_string_equal(jget_str(smtp, "vrfy"), vrfy[i]);
		else
			assert_null(jget(smtp, "vrfy"));
		assert_non_null(jget(smtp, "vrfy_check"));
		json_object_put(rec);
		mh_host_free(&h);
	}
	/* the 421: its error in vrfy_check */
	{
		struct mh_host *h = run(&p, servers[2]);
		struct json_object *rec, *smtp = smtp_json(h, &rec);
		assert_string_equal(jget_str(jget(smtp, "vrfy_check"), "error"),
		                    "server-closing: 421 4.7.0 Error: too many errors");
		assert_null(jget(smtp, "error"));
		json_object_put(rec);
		mh_host_free(&h);
	}
}

/* Not asked: vrfy, expn, vrfy_check and relay all null. */
static void test_not_asked(void **state)
{
	struct mh_smtp_probes p = { 0 };
	struct mh_host *h;
	struct json_object *rec, *smtp;

	(void)state;
	h = run(&p, GREETING EHLO "221 Bye\r\n");
	smtp = smtp_json(h, &rec);
	assert_null(jget(smtp, "vrfy"));
	assert_null(jget(smtp, "expn"));
	assert_null(jget(smtp, "vrfy_check"));
	assert_null(jget(smtp, "relay"));
	assert_null(finding(h, "vrfy-enabled"));
	assert_null(finding(h, "expn-enabled"));
	assert_null(finding(h, "open-relay"));
	json_object_put(rec);
	mh_host_free(&h);
}

/* Sixteen pairs refused, or accepted: open-relay only on acceptance. */
static void relay_replies(char *buf, size_t size, uint32_t accept, bool data)
{
	size_t off = (size_t)snprintf(buf, size, "%s", GREETING EHLO);

	for (int i = 0; i < 16; i++) {
		bool ok = accept & (1u << i);
		off += (size_t)snprintf(buf + off, size - off, "250 2.1.0 Ok\r\n%s", ok ? "250 2.1.5 Ok\r\n" : "554 5.7.1 <x>: Relay access denied\r\n");
		if (ok && data) {
			off += (size_t)snprintf(buf + off, size - off,
			                        "354 End data with <CR><LF>.<CR><LF>\r\n"
			                        "250 2.0.0 Ok: queued as 4XYZ\r\n");
			data = false;
		}
		off += (size_t)snprintf(buf + off, size - off, "%s",
		                        i < 15 ? "250 2.0.0 Ok\r\n" : "221 Bye\r\n");
	}
}

static void test_relay_closed(void **state)
{
	struct mh_smtp_probes p = { .relay_domain = TEST_DOMAIN, .own_domain = "example.com" };
	char buf[8192];
	struct mh_host *h;
	struct json_object *rec, *smtp, *relay;

	(void)state;
	relay_replies(buf, sizeof(buf), 0, false);
	h = run(&p, buf);
	assert_null(finding(h, "open-relay"));
	smtp = smtp_json(h, &rec);
	relay = jget(smtp, "relay");
	assert_non_null(relay);
	assert_string_equal(jget_str(relay, "domain"), TEST_DOMAIN);
	assert_int_equal(json_object_get_int(jget(relay, "variants")), 16);
	assert_int_equal(json_object_get_int(jget(relay, "tested")), 16);
	assert_int_equal(json_object_array_length(jget(relay, "accepted")), 0);
	assert_int_equal(json_object_array_length(jget(relay, "pairs")), 16);
	assert_int_equal(
	    json_object_get_int(jget(json_object_array_get_idx(jget(relay, "pairs"), 4), "rcpt")),
	    554);
	assert_null(jget(relay, "first_accepted"));
	assert_null(jget(relay, "data"));
	assert_null(jget(relay, "error"));
	json_object_put(rec);
	mh_host_free(&h);
}

static void test_relay_open(void **state)
{
	struct mh_smtp_probes p = { .relay_domain = TEST_DOMAIN, .own_domain = "example.com",
	                            .relay_data = true, .tag = "mhrelayabcdef0123456789" };
	char buf[8192];
	struct mh_host *h;
	struct json_object *rec, *smtp, *relay, *data;
	const struct mh_finding *f;

	(void)state;
	relay_replies(buf, sizeof(buf), 0xffff, true);
	h = run(&p, buf);
	f = finding(h, "open-relay");
	assert_non_null(f);
	assert_int_equal(f->severity, MH_SEV_CRITICAL);
	assert_non_null(strstr(f->evidence, "25/tcp accepted 16 of 16 pairs toward " TEST_DOMAIN
	                                    " (null-sender, own-domain-sender, "));
	assert_non_null(strstr(f->evidence, "more)"));
	assert_non_null(strstr(f->evidence, "; message accepted: 250 2.0.0 Ok: queued as 4XYZ"));
	assert_true(strlen(f->evidence) < sizeof(f->evidence) - 1);
	smtp = smtp_json(h, &rec);
	relay = jget(smtp, "relay");
	assert_int_equal(json_object_array_length(jget(relay, "accepted")), 16);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(jget(relay, "accepted"), 0)),
	                    "null-sender");
	assert_string_equal(jget_str(jget(relay, "first_accepted"), "mail_from"), "<>");
	assert_string_equal(jget_str(jget(relay, "first_accepted"), "rcpt_to"),
	                    "<relaytest@" TEST_DOMAIN ">");
	data = jget(relay, "data");
	assert_non_null(data);
	assert_string_equal(jget_str(data, "pair"), "null-sender");
	assert_string_equal(jget_str(data, "tag"), "mhrelayabcdef0123456789");
	assert_int_equal(json_object_get_int(jget(data, "code")), 354);
	assert_int_equal(json_object_get_int(jget(data, "end_code")), 250);
	assert_true(json_object_get_boolean(jget(data, "accepted")));
	json_object_put(rec);
	mh_host_free(&h);
	/* two pairs accepted, no DATA: the evidence names both */
	p.relay_data = false;
	relay_replies(buf, sizeof(buf), (1u << 3) | (1u << 13), false);
	h = run(&p, buf);
	f = finding(h, "open-relay");
	assert_non_null(f);
	assert_non_null(strstr(f->evidence,
	                       "accepted 2 of 16 pairs toward " TEST_DOMAIN
	                       " (ip-literal-sender, bang-path)"));
	assert_null(strstr(f->evidence, "message"));
	smtp = smtp_json(h, &rec);
	assert_null(jget(jget(smtp, "relay"), "data"));
	json_object_put(rec);
	mh_host_free(&h);
}

/* The whole-session deadline grows with the checks that are on, and only then. */
static void test_session_deadline(void **state)
{
	struct mh_scan_opts o;

	(void)state;
	mh_scan_opts_defaults(&o);
	assert_false(o.vrfy);
	assert_null(o.relay_domain);
	assert_false(o.relay_data);
	assert_int_equal(mh_scan_session_ms(&o), 10000);
	o.relay_data = true; /* without a relay domain: nothing */
	assert_int_equal(mh_scan_session_ms(&o), 10000);
	o.vrfy = true;
	assert_int_equal(mh_scan_session_ms(&o), 10000 + MH_VRFY_EXTRA_MS);
	o.relay_domain = TEST_DOMAIN;
	assert_int_equal(mh_scan_session_ms(&o),
	                 10000 + MH_VRFY_EXTRA_MS + MH_RELAY_EXTRA_MS + MH_RELAY_DATA_EXTRA_MS);
	o.session_ms = 600000; /* the largest --session-timeout: no overflow */
	assert_true(mh_scan_session_ms(&o) > 600000);
	/* Postfix's tarpit (1 s a reply) fits the reply deadline of the checks */
	assert_true(MH_PROBE_REPLY_MS > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vrfy_discloses), cmocka_unit_test(test_vrfy_no_finding),
	    cmocka_unit_test(test_not_asked),      cmocka_unit_test(test_relay_closed),
	    cmocka_unit_test(test_relay_open),     cmocka_unit_test(test_session_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
