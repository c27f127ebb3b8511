/*
 * test_mail.c -- the message and DSN reader (probes/mail.c, mail_text.c):
 * every fixture of tests/fixtures/mail/ against its line in EXPECTED (real
 * Postfix DSNs and arrived probes, and the variants derived from them),
 * every damaged one against broken/EXPECTED, each also fed as every prefix
 * of itself in an exact-size buffer (ASan sees any read past the end); then
 * the pieces: tags, sender classes, encoded-words, addresses, dates, MIME
 * shapes the fixtures do not have (nested, base64, quoted-printable,
 * quoted boundary, preamble / epilogue), limits.
 *
 * test_postfix_delayed_fields, test_arrived_probe and test_exim_reasons pin
 * values of the committed files (dates, queue IDs, host names): when
 * tests/lab/gen_mail_fixtures.sh makes the files again, update them there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../probes/mail_int.h"
#include "mailhole/common.h"
#include "mailhole/mail.h"

#define MAILDIR MH_FIXTURES "/mail"

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL, err[MH_ERRLEN];

	if (mh_read_file(path, 8u << 20, &buf, len, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return buf;
}

/* Parses len bytes from an exact-size copy (no NUL after it). */
static int parse_exact(const char *buf, size_t len, struct mh_mail *m, char *err, size_t errlen)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	rc = mh_mail_parse(copy, len, m, err, errlen);
	free(copy);
	return rc;
}

static struct mh_mail *parse_file(const char *path, int want_rc, char *err, size_t errlen)
{
	size_t len;
	char *buf = slurp(path, &len);
	struct mh_mail *m = calloc(1, sizeof(*m));
	int rc;

	assert_non_null(m);
	err[0] = '\0';
	rc = parse_exact(buf, len, m, err, errlen);
	free(buf);
	if (rc != want_rc)
		fail_msg("%s: rc %d, %d expected (%s)", path, rc, want_rc, err);
	return m;
}

/* Every string field is terminated and valid one-line UTF-8 without controls. */
static void check_str(const char *what, const char *s, size_t size)
{
	char clean[1024];
	size_t n;

	if (!memchr(s, '\0', size))
		fail_msg("%s not terminated", what);
	n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			fail_msg("%s holds a control character: %s", what, s);
	mh_utf8_clean(clean, sizeof(clean), s, n);
	if (n < sizeof(clean) && strcmp(clean, s) != 0)
		fail_msg("%s is not valid UTF-8", what);
}

static void check_sane(const struct mh_mail *m)
{
	check_str("tag", m->tag, sizeof(m->tag));
	check_str("from", m->from, sizeof(m->from));
	check_str("to", m->to, sizeof(m->to));
	check_str("return_path", m->return_path, sizeof(m->return_path));
	check_str("subject", m->subject, sizeof(m->subject));
	check_str("excerpt", m->excerpt, sizeof(m->excerpt));
	check_str("warning", m->warning, sizeof(m->warning));
	check_str("returned_from", m->returned_from, sizeof(m->returned_from));
	assert_true(m->nrcpts <= MH_DSN_RCPTS_MAX);
	for (unsigned i = 0; i < m->nrcpts; i++) {
		check_str("final_recipient", m->rcpts[i].final_recipient,
			  sizeof(m->rcpts[i].final_recipient));
		check_str("diagnostic", m->rcpts[i].diagnostic, sizeof(m->rcpts[i].diagnostic));
		check_str("action", m->rcpts[i].action, sizeof(m->rcpts[i].action));
		check_str("status", m->rcpts[i].status, sizeof(m->rcpts[i].status));
	}
	for (unsigned i = 0; i < m->nreceived && i < MH_MAIL_RECEIVED_MAX; i++)
		check_str("received", m->received[i], sizeof(m->received[i]));
	if (m->tag[0])
		assert_true(mh_tag_valid(m->tag, strlen(m->tag)));
}

/* Every prefix of the file, parsed from an exact-size buffer: an answer, never a crash. */
static void every_prefix(const char *path)
{
	size_t len, k, step;
	char *buf = slurp(path, &len);
	struct mh_mail *m = malloc(sizeof(*m));
	char err[MH_ERRLEN];

	assert_non_null(m);
	step = len > 20000 ? len / 200 : 1;
	for (k = 0; k <= len; k += step) {
		int rc = parse_exact(buf, k, m, err, sizeof(err));
		if (rc < 0) {
			assert_true(rc == MH_EINVAL || rc == MH_ELIMIT);
			assert_true(err[0] != '\0' && !strchr(err, '\n'));
		} else {
			assert_int_equal(rc, 0);
			check_sane(m);
		}
	}
	free(m);
	free(buf);
}

static char *dash(char *s)
{
	return strcmp(s, "-") == 0 ? (char *)"" : s;
}

static void test_fixtures_expected(void **state)
{
	FILE *f = fopen(MAILDIR "/EXPECTED", "r");
	char line[1024];
	unsigned n = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char file[128], kind[16], tag[64], src[32], action[32], status[16], cls[32];
		char path[512], err[MH_ERRLEN];
		struct mh_mail *m;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%127s %15s %63s %31s %31s %15s %31s", file, kind, tag, src, action,
			   status, cls) != 7)
			fail_msg("EXPECTED: bad line: %s", line);
		snprintf(path, sizeof(path), "%s/%s", MAILDIR, file);
		m = parse_file(path, 0, err, sizeof(err));
		check_sane(m);
		if (strcmp(mh_mail_kind_name(m->kind), kind) || strcmp(m->tag, dash(tag)) ||
		    strcmp(m->tag_source, dash(src)))
			fail_msg("%s: kind %s tag %s (%s), expected %s %s (%s)", file,
				 mh_mail_kind_name(m->kind), m->tag, m->tag_source, kind, tag, src);
		if (strcmp(m->nrcpts ? m->rcpts[0].action : "", dash(action)) ||
		    strcmp(m->nrcpts ? m->rcpts[0].status : "", dash(status)))
			fail_msg("%s: action %s status %s, expected %s %s", file,
				 m->nrcpts ? m->rcpts[0].action : "-",
				 m->nrcpts ? m->rcpts[0].status : "-", action, status);
		if (strcmp(mh_sender_class_name(mh_sender_classify(m->return_path, "lab.test", NULL)),
			   cls))
			fail_msg("%s: sender class of <%s> is %s, expected %s", file, m->return_path,
				 mh_sender_class_name(
				     mh_sender_classify(m->return_path, "lab.test", NULL)),
				 cls);
		if (m->warning[0])
			fail_msg("%s: unexpected warning: %s", file, m->warning);
		free(m);
		every_prefix(path);
		n++;
	}
	fclose(f);
	assert_true(n >= 10);
}

static void test_broken_expected(void **state)
{
	FILE *f = fopen(MAILDIR "/broken/EXPECTED", "r");
	char line[1024];
	unsigned n = 0;

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char file[128], result[16], kind[16], tag[64], nr[8], path[512], err[MH_ERRLEN];
		int off = 0, want;
		char *text;
		struct mh_mail *m;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "%127s %15s %15s %63s %7s %n", file, result, kind, tag, nr, &off) != 5 ||
		    off == 0)
			fail_msg("broken/EXPECTED: bad line: %s", line);
		text = line + off;
		snprintf(path, sizeof(path), "%s/broken/%s", MAILDIR, file);
		want = !strcmp(result, "ok") ? 0 : !strcmp(result, "einval") ? MH_EINVAL : MH_ELIMIT;
		m = parse_file(path, want, err, sizeof(err));
		if (want < 0) {
			if (!strstr(err, text))
				fail_msg("%s: error \"%s\" lacks \"%s\"", file, err, text);
			assert_null(strchr(err, '\n'));
		} else {
			check_sane(m);
			if (strcmp(mh_mail_kind_name(m->kind), kind) || strcmp(m->tag, dash(tag)) ||
			    m->nrcpts != (unsigned)strtoul(nr, NULL, 10))
				fail_msg("%s: kind %s tag %s nrcpts %u, expected %s %s %s", file,
					 mh_mail_kind_name(m->kind), m->tag, m->nrcpts, kind, tag, nr);
			if (!strcmp(text, "-") ? m->warning[0] != '\0' : !strstr(m->warning, text))
				fail_msg("%s: warning \"%s\", expected \"%s\"", file, m->warning, text);
		}
		free(m);
		every_prefix(path);
		n++;
	}
	fclose(f);
	assert_true(n >= 10);
}

/* 8-bit junk in the headers and in the status part: replaced, not passed on, not fatal. */
static void test_junk_8bit(void **state)
{
	char err[MH_ERRLEN];
	struct mh_mail *m = parse_file(MAILDIR "/broken/junk-8bit.eml", 0, err, sizeof(err));

	(void)state;
	assert_string_equal(m->subject, "Undelivered Mail Returned to Sender \xef\xbf\xbd\xef\xbf\xbd"
					"\xef\xbf\xbd( junk");
	assert_string_equal(m->rcpts[0].status, "5.1.1");
	assert_string_equal(m->reporting_mta, "relay.lab.test");
	free(m);
}

static void test_postfix_delayed_fields(void **state)
{
	char err[MH_ERRLEN];
	struct mh_mail *m = parse_file(MAILDIR "/postfix-refused-delayed.eml", 0, err, sizeof(err));
	const struct mh_dsn_rcpt *r = &m->rcpts[0];

	(void)state;
	assert_true(m->has_return_path);
	assert_string_equal(m->return_path, "");
	assert_string_equal(m->from, "MAILER-DAEMON@relay.lab.test");
	assert_string_equal(m->to, "audit+mhpfrefused01@lab.test");
	assert_string_equal(m->delivered_to, "audit+mhpfrefused01@lab.test");
	assert_string_equal(m->subject, "Delayed Mail (still being retried)");
	assert_string_equal(m->reporting_mta, "relay.lab.test");
	assert_string_equal(m->original_envelope_id, "mhpfrefused01");
	assert_string_equal(m->arrival_date, "Tue, 8 Dec 2026 04:52:21 +0000 (UTC)");
	assert_int_equal(m->nrcpts, 1);
	assert_string_equal(r->final_recipient, "root@down.lab.test");
	assert_string_equal(r->original_recipient, "root@down.lab.test");
	/* folded Diagnostic-Code, "X-Postfix;" stripped */
	assert_string_equal(r->diagnostic,
			    "connect to down.lab.test[198.18.64.2]:25: Connection refused");
	assert_string_equal(r->will_retry_until, "Tue, 8 Dec 2026 04:53:11 +0000 (UTC)");
	assert_string_equal(m->returned_message_id, "mhpfrefused01@mailhole.invalid");
	assert_string_equal(m->returned_from, "audit+mhpfrefused01@lab.test");
	assert_string_equal(m->returned_to, "root@down.lab.test");
	assert_int_equal(m->nreceived, 1);
	assert_string_equal(m->received[0],
			    "by relay.lab.test (Postfix) id C9C4EA743C0; Tue, 8 Dec 2026 04:52:31 "
			    "+0000 (UTC)");
	assert_int_equal((long long)m->date_t, 1796705551LL); /* 2026-12-08T04:52:31Z */
	assert_non_null(strstr(m->excerpt, "could not be delivered for more than 10 second(s)"));
	free(m);

	m = parse_file(MAILDIR "/postfix-reject-failed.eml", 0, err, sizeof(err));
	assert_string_equal(m->rcpts[0].remote_mta, "mx-b.lab.test");
	assert_string_equal(m->rcpts[0].diagnostic,
			    "550 5.1.1 <nosuchuser@mx-b.lab.test>: Recipient address rejected: "
			    "User unknown in virtual mailbox table");
	free(m);
}

static void test_arrived_probe(void **state)
{
	char err[MH_ERRLEN];
	struct mh_mail *m =
	    parse_file(MAILDIR "/postfix-arrived-host-qualified.eml", 0, err, sizeof(err));

	(void)state;
	assert_int_equal(m->kind, MH_MAIL_MESSAGE);
	assert_string_equal(m->return_path, "mary@host-a.lab.test");
	assert_string_equal(m->from, "mary@host-a.lab.test");
	assert_string_equal(m->message_id, "mhpfhosta0001@mailhole.invalid");
	assert_int_equal(m->nreceived, 2);
	assert_true(strncmp(m->received[0], "from host-a.lab.test (unknown [198.18.64.34]) by "
					    "relay.lab.test (Postfix) with ESMTP",
			    74) == 0);
	assert_true(strncmp(m->received[1], "by host-a.lab.test (Postfix, from userid 0)", 43) == 0);
	assert_int_equal((long long)m->date_t, 1796705541LL); /* 2026-12-08T04:52:21Z */
	assert_string_equal(m->excerpt, "");
	assert_int_equal(mh_sender_classify(m->return_path, "lab.test", "host-a.lab.test"),
			 MH_SENDER_HOST_QUALIFIED);
	free(m);
	m = parse_file(MAILDIR "/postfix-arrived-masqueraded.eml", 0, err, sizeof(err));
	assert_int_equal(mh_sender_classify(m->return_path, "lab.test", "host-m.lab.test"),
			 MH_SENDER_MASQUERADED);
	assert_int_equal(mh_sender_classify(m->from, "lab.test", "host-m.lab.test"),
			 MH_SENDER_MASQUERADED);
	free(m);
}

/* CRLF and an mbox From line change nothing. */
static void test_crlf_and_mbox_same(void **state)
{
	char err[MH_ERRLEN];
	struct mh_mail *a = parse_file(MAILDIR "/postfix-reject-failed.eml", 0, err, sizeof(err));
	struct mh_mail *b =
	    parse_file(MAILDIR "/derived-reject-failed-crlf.eml", 0, err, sizeof(err));

	(void)state;
	assert_memory_equal(a, b, sizeof(*a));
	free(a);
	free(b);
	a = parse_file(MAILDIR "/postfix-success-delivered.eml", 0, err, sizeof(err));
	b = parse_file(MAILDIR "/derived-success-delivered-mbox.eml", 0, err, sizeof(err));
	assert_memory_equal(a, b, sizeof(*a));
	free(a);
	free(b);
}

static void test_bounce_nonstandard(void **state)
{
	char err[MH_ERRLEN];
	struct mh_mail *m =
	    parse_file(MAILDIR "/derived-bounce-nonstandard.eml", 0, err, sizeof(err));

	(void)state;
	assert_int_equal(m->kind, MH_MAIL_BOUNCE);
	assert_string_equal(m->tag_source, "verp");
	assert_string_equal(m->rcpts[0].final_recipient, "root@down.lab.test");
	assert_string_equal(m->rcpts[0].diagnostic,
			    "connect to down.lab.test[198.18.64.2]:25: Connection refused");
	assert_non_null(strstr(m->excerpt, "could not be delivered"));
	free(m);
}

static struct mh_mail *parse_str(const char *s, int want);

/*
 * Exim writes no Diagnostic-Code for a router failure, Sendmail none for an
 * expired message: the reason comes from their text parts.
 */
static void test_exim_reasons(void **state)
{
	char err[MH_ERRLEN];
	struct mh_mail *m = parse_file(MAILDIR "/exim-refused-failed.eml", 0, err, sizeof(err));

	(void)state;
	assert_string_equal(m->from, "Mailer-Daemon@lab.test");
	assert_string_equal(m->reporting_mta, "mx-x.lab.test");
	assert_string_equal(m->original_envelope_id, "mhexrefused01"); /* "Original-Envelope-ID" */
	assert_string_equal(m->rcpts[0].final_recipient, "root@down-x.lab.test");
	assert_string_equal(m->rcpts[0].diagnostic, "retry timeout exceeded");
	assert_string_equal(m->returned_message_id, "mhexrefused01@mailhole.invalid");
	free(m);
	m = parse_file(MAILDIR "/exim-nouser-failed.eml", 0, err, sizeof(err));
	assert_string_equal(m->rcpts[0].diagnostic, "Unknown user");
	free(m);

	/* Sendmail: no Diagnostic-Code either; its transcript line "<rcpt>... reason" */
	m = parse_file(MAILDIR "/sendmail-refused-failed.eml", 0, err, sizeof(err));
	assert_string_equal(m->from, "MAILER-DAEMON@mx-s.lab.test");
	assert_string_equal(m->rcpts[0].action, "failed");
	assert_string_equal(m->rcpts[0].status, "4.4.7");
	assert_string_equal(m->rcpts[0].remote_mta, "down-s.lab.test"); /* "DNS;" stripped */
	assert_string_equal(m->rcpts[0].diagnostic,
			    "Deferred: Connection refused by down-s.lab.test.");
	assert_string_equal(m->returned_to, "root@down-s.lab.test"); /* message/rfc822 */
	free(m);

	/* the same text without the report (a flattened Exim bounce): a bounce */
	m = parse_str("Return-path: <>\n"
		      "From: Mail Delivery System <Mailer-Daemon@lab.test>\n"
		      "To: audit+mhexrefused01@lab.test\n"
		      "Subject: Mail delivery failed: returning message to sender\n"
		      "\n"
		      "This message was created automatically by mail delivery software.\n"
		      "\n"
		      "A message that you sent could not be delivered to one or more of its\n"
		      "recipients. This is a permanent error. The following address(es) failed:\n"
		      "\n"
		      "  root@down-x.lab.test\n"
		      "    retry timeout exceeded\n",
		      0);
	assert_int_equal(m->kind, MH_MAIL_BOUNCE);
	assert_string_equal(m->tag, "mhexrefused01");
	assert_string_equal(m->tag_source, "verp");
	assert_int_equal(m->nrcpts, 1);
	assert_string_equal(m->rcpts[0].final_recipient, "root@down-x.lab.test");
	assert_string_equal(m->rcpts[0].diagnostic, "retry timeout exceeded");
	assert_string_equal(m->rcpts[0].action, "failed");
	assert_true(strncmp(m->excerpt, "A message that you sent could not be delivered", 46) == 0);
	free(m);
}

static struct mh_mail *parse_str(const char *s, int want)
{
	struct mh_mail *m = calloc(1, sizeof(*m));
	char err[MH_ERRLEN] = "";
	int rc;

	assert_non_null(m);
	rc = parse_exact(s, strlen(s), m, err, sizeof(err));
	if (rc != want)
		fail_msg("rc %d, %d expected: %s", rc, want, err);
	return m;
}

/* A qmail-style bounce, quoted-printable, ISO-8859-1, a status in the text. */
static void test_bounce_text_status(void **state)
{
	struct mh_mail *m = parse_str(
	    "Return-Path: <>\r\n"
	    "From: MAILER-DAEMON@mx.lab.test\r\n"
	    "To: audit+mh0123abcd@lab.test\r\n"
	    "Subject: failure notice\r\n"
	    "Content-Type: text/plain; charset=ISO-8859-1\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n"
	    "Hi. This is the qmail-send program at mx.lab.test.\r\n"
	    "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
	    "This is a permanent error; I've given up. D=E9sol=E9.\r\n"
	    "\r\n"
	    "<root@host-a.lab.test>:\r\n"
	    "Remote host said: 550 5.7.1 Relaying de=\r\nnied\r\n",
	    0);

	(void)state;
	assert_int_equal(m->kind, MH_MAIL_BOUNCE);
	assert_string_equal(m->tag, "mh0123abcd");
	assert_string_equal(m->tag_source, "verp");
	assert_int_equal(m->nrcpts, 1);
	assert_string_equal(m->rcpts[0].status, "5.7.1");
	assert_string_equal(m->rcpts[0].action, "failed");
	assert_string_equal(m->rcpts[0].final_recipient, "root@host-a.lab.test");
	assert_non_null(strstr(m->excerpt, "D\xc3\xa9sol\xc3\xa9")); /* Latin-1 -> UTF-8 */
	free(m);

	/* a warning without a status: delayed */
	m = parse_str("From: MAILER-DAEMON@mx.lab.test (Mail Delivery System)\n"
		      "To: audit+mh0123abcd@lab.test\n\n"
		      "Warning: your message has not yet been delivered.\n"
		      "It will be retried for 4 more days.\n\n"
		      "<root@host-a.lab.test>: connect to host-a.lab.test: Connection refused\n",
		      0);
	assert_int_equal(m->kind, MH_MAIL_BOUNCE);
	assert_string_equal(m->rcpts[0].action, "delayed");
	assert_string_equal(m->rcpts[0].final_recipient, "root@host-a.lab.test");
	assert_string_equal(m->rcpts[0].diagnostic, "connect to host-a.lab.test: Connection refused");
	free(m);

	/* an ordinary message from postmaster that explains no failure stays a message */
	m = parse_str("From: postmaster@lab.test\nSubject: hello\n\nWelcome to the lab.\n", 0);
	assert_int_equal(m->kind, MH_MAIL_MESSAGE);
	free(m);
}

/* Nested multipart, quoted boundary, preamble/epilogue, base64 status part, a tag only in text. */
static void test_mime_shapes(void **state)
{
	/* "Reporting-MTA: dns; mx.lab.test\n\nFinal-Recipient: rfc822; a@b.test\nAction: failed\n
	 *  Status: 5.0.0\n" in base64 */
	struct mh_mail *m = parse_str(
	    "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.lab.test>\n"
	    "To: audit@lab.test\n"
	    "Content-Type: multipart/mixed; boundary=\"outer b\"\n"
	    "\n"
	    "preamble text\n"
	    "--outer b\n"
	    "Content-Type: multipart/report; report-type=delivery-status; boundary=inner\n"
	    "\n"
	    "--inner\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "Delivery failed for mh0000ffff1111 somewhere.\n"
	    "--inner\n"
	    "Content-Type: message/delivery-status\n"
	    "Content-Transfer-Encoding: base64\n"
	    "\n"
	    "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5sYWIudGVzdAoKRmluYWwtUmVjaXBpZW50OiByZmM4MjI7\n"
	    "IGFAYi50ZXN0CkFjdGlvbjogZmFpbGVkClN0YXR1czogNS4wLjAK\n"
	    "--inner--\n"
	    "epilogue\n"
	    "--outer b--\n"
	    "trailing epilogue\n",
	    0);

	(void)state;
	assert_int_equal(m->kind, MH_MAIL_DSN);
	assert_string_equal(m->reporting_mta, "mx.lab.test");
	assert_int_equal(m->nrcpts, 1);
	assert_string_equal(m->rcpts[0].final_recipient, "a@b.test");
	assert_string_equal(m->rcpts[0].action, "failed");
	assert_string_equal(m->rcpts[0].status, "5.0.0");
	assert_string_equal(m->tag, "mh0000ffff1111");
	assert_string_equal(m->tag_source, "text");
	/* the report is nested in multipart/mixed: said */
	assert_non_null(strstr(m->warning, "outside multipart/report"));
	free(m);

	/* many recipients: the first MH_DSN_RCPTS_MAX kept, said */
	{
		char buf[8192];
		size_t o = 0;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
				      "From: MAILER-DAEMON\nContent-Type: multipart/report; "
				      "report-type=delivery-status; boundary=b\n\n--b\n"
				      "Content-Type: message/delivery-status\n\n"
				      "Reporting-MTA: dns; x\n");
		for (int i = 0; i < MH_DSN_RCPTS_MAX + 3; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
					      "\nFinal-Recipient: rfc822;r%d@x\nAction: Failed\n"
					      "Status: 5.1.1 (user unknown)\n",
					      i);
		snprintf(buf + o, sizeof(buf) - o, "--b--\n");
		m = parse_str(buf, 0);
		assert_int_equal(m->nrcpts, MH_DSN_RCPTS_MAX);
		assert_string_equal(m->rcpts[3].final_recipient, "r3@x");
		assert_string_equal(m->rcpts[3].action, "failed");
		assert_string_equal(m->rcpts[3].status, "5.1.1");
		assert_non_null(strstr(m->warning, "more than"));
		free(m);
	}
}

static void test_headers(void **state)
{
	struct mh_mail *m = parse_str(
	    "Received: from a\n\tby b;\n Tue, 8 Dec 2026 04:19:53 +0000\n"
	    "received: from c by d\n"
	    "FROM: \"Doe, John\" (the boss) <john.doe@host-a.lab.test>\n"
	    "Sender: <@relay.lab.test:mary@lab.test>\n"
	    "To: undisclosed-recipients:;, Team: alice@lab.test, bob@lab.test;\n"
	    "Message-ID:\n <mh1234abcd@mailhole.invalid>\n"
	    "Subject: =?UTF-8?B?Y2Fmw6k=?= =?ISO-8859-1?Q?cr=E8me_br=FBl=E9e?= "
	    "=?KOI8-R?B?8NLJ?= plain\n"
	    "Date: 8 Dec 26 04:19 EST\n"
	    "\n"
	    "body\n",
	    0);

	(void)state;
	assert_int_equal(m->nreceived, 2);
	assert_string_equal(m->received[0], "from a by b; Tue, 8 Dec 2026 04:19:53 +0000");
	assert_string_equal(m->from, "john.doe@host-a.lab.test");
	assert_string_equal(m->sender, "mary@lab.test");
	assert_string_equal(m->to, "alice@lab.test");
	assert_string_equal(m->message_id, "mh1234abcd@mailhole.invalid");
	assert_string_equal(m->tag, "mh1234abcd");
	assert_string_equal(m->tag_source, "message-id");
	assert_string_equal(m->subject,
			    "caf\xc3\xa9" "cr\xc3\xa8me br\xc3\xbbl\xc3\xa9" "e =?KOI8-R?B?8NLJ?= plain");
	assert_int_equal((long long)m->date_t, 1796703540LL + 5 * 3600);
	free(m);

	/* a header section that stops without a blank line; no Date */
	m = parse_str("From: a@b\nX-Mailhole-Tag: MH00ABCDEF99\nthis is the body\n", 0);
	assert_string_equal(m->tag, "mh00abcdef99");
	assert_string_equal(m->tag_source, "header");
	assert_non_null(strstr(m->warning, "without a blank line"));
	assert_int_equal((long long)m->date_t, 0);
	free(m);
}

static void test_errors_and_limits(void **state)
{
	struct mh_mail *m = calloc(1, sizeof(*m));
	char err[MH_ERRLEN];
	static const char one[] = "X";

	(void)state;
	assert_non_null(m);
	/* the size is checked before a byte is read */
	assert_int_equal(mh_mail_parse(one, (size_t)MH_MAIL_MAX + 1, m, err, sizeof(err)),
			 MH_ELIMIT);
	assert_non_null(strstr(err, "larger than"));
	assert_int_equal(mh_mail_parse(NULL, 0, m, err, sizeof(err)), MH_EINVAL);
	assert_int_equal(mh_mail_parse(one, 1, NULL, err, sizeof(err)), MH_EINVAL);
	free(m);
	m = parse_str("not a message at all\n", MH_EINVAL);
	free(m);
}

static void test_tags(void **state)
{
	char tag[MH_TAG_MAX + 1], small[8];

	(void)state;
	assert_true(mh_tag_valid("mh0123abcd", 10));
	assert_false(mh_tag_valid("mh0123abc", 9));
	assert_false(mh_tag_valid("MH0123abcd", 10));
	assert_false(mh_tag_valid("mh0123abc-", 10));
	assert_true(mh_tag_valid("mh0123456789012345678901234567890123456789", 42));
	assert_false(mh_tag_valid("mh01234567890123456789012345678901234567890", 43));
	assert_false(mh_tag_valid(NULL, 10));

	assert_true(mh_tag_find("x audit+MH0123ABCD@lab.test", 27, tag, sizeof(tag)));
	assert_string_equal(tag, "mh0123abcd");
	/* bounded by non-alphanumerics: inside a longer word it is no tag */
	assert_false(mh_tag_find("xmh0123abcd", 11, tag, sizeof(tag)));
	assert_true(mh_tag_find("mh0123abcdX_", 10, tag, sizeof(tag))); /* the length ends the run */
	assert_string_equal(tag, "mh0123abcd");
	assert_true(mh_tag_find("mh0123abcdX_", 11, tag, sizeof(tag)));
	assert_string_equal(tag, "mh0123abcdx");
	assert_false(mh_tag_find("mh0123abc mhz", 13, tag, sizeof(tag)));
	assert_true(mh_tag_find("mh0123abc, mhzzzzzzzz", 21, tag, sizeof(tag)));
	assert_string_equal(tag, "mhzzzzzzzz");
	assert_false(mh_tag_find("mh01234567890123456789012345678901234567890", 43, tag,
				 sizeof(tag)));
	assert_false(mh_tag_find("mh0123abcd", 10, small, sizeof(small)));
	assert_false(mh_tag_find(NULL, 0, tag, sizeof(tag)));
}

static void test_sender_classify(void **state)
{
	(void)state;
	assert_int_equal(mh_sender_classify("<mary@host-a.lab.test>", "lab.test", "host-a.lab.test"),
			 MH_SENDER_HOST_QUALIFIED);
	assert_int_equal(mh_sender_classify("Mary <MARY@HOST-A.LAB.TEST.>", "lab.test",
					    "host-a.lab.test"),
			 MH_SENDER_HOST_QUALIFIED);
	assert_int_equal(mh_sender_classify("mary@lab.test", "lab.test", "host-a.lab.test"),
			 MH_SENDER_MASQUERADED);
	assert_int_equal(mh_sender_classify("mary@lab.test.", "LAB.TEST.", NULL),
			 MH_SENDER_MASQUERADED);
	/* under the domain, not the host: masqueraded (a mail domain of the site) */
	assert_int_equal(mh_sender_classify("mary@mail.lab.test", "lab.test", "host-a.lab.test"),
			 MH_SENDER_MASQUERADED);
	/* host unknown: a name under the domain is taken for a host */
	assert_int_equal(mh_sender_classify("mary@host-b.lab.test", "lab.test", NULL),
			 MH_SENDER_HOST_QUALIFIED);
	assert_int_equal(mh_sender_classify("mary", "lab.test", NULL), MH_SENDER_UNQUALIFIED);
	assert_int_equal(mh_sender_classify("<mary>", "lab.test", NULL), MH_SENDER_UNQUALIFIED);
	assert_int_equal(mh_sender_classify("mary@", "lab.test", NULL), MH_SENDER_UNQUALIFIED);
	assert_int_equal(mh_sender_classify("", "lab.test", NULL), MH_SENDER_UNKNOWN);
	assert_int_equal(mh_sender_classify("<>", "lab.test", NULL), MH_SENDER_UNKNOWN);
	assert_int_equal(mh_sender_classify(NULL, "lab.test", NULL), MH_SENDER_UNKNOWN);
	assert_int_equal(mh_sender_classify("mary@example.net", "lab.test", "host-a.lab.test"),
			 MH_SENDER_OTHER);
	assert_int_equal(mh_sender_classify("mary@xlab.test", "lab.test", NULL), MH_SENDER_OTHER);
	assert_int_equal(mh_sender_classify("mary@host-a.lab.test", NULL, "host-a.lab.test"),
			 MH_SENDER_HOST_QUALIFIED);
	assert_int_equal(mh_sender_classify("mary@lab.test", NULL, NULL), MH_SENDER_OTHER);
	assert_string_equal(mh_sender_class_name(MH_SENDER_UNKNOWN), "unknown");
	assert_string_equal(mh_sender_class_name(MH_SENDER_MASQUERADED), "masqueraded");
	assert_string_equal(mh_sender_class_name(MH_SENDER_HOST_QUALIFIED), "host-qualified");
	assert_string_equal(mh_sender_class_name(MH_SENDER_UNQUALIFIED), "unqualified");
	assert_string_equal(mh_sender_class_name(MH_SENDER_OTHER), "other");
	assert_string_equal(mh_mail_kind_name(MH_MAIL_MESSAGE), "message");
	assert_string_equal(mh_mail_kind_name(MH_MAIL_DSN), "dsn");
	assert_string_equal(mh_mail_kind_name(MH_MAIL_BOUNCE), "bounce");
}

static time_t date(const char *s)
{
	return mh_mail_parse_date(s, strlen(s));
}

static void test_dates(void **state)
{
	(void)state;
	assert_int_equal((long long)date("Tue, 08 Dec 2026 04:19:53 +0000"), 1796703593LL);
	assert_int_equal((long long)date("Tue,  8 Dec 2026 04:19:53 +0000 (UTC)"), 1796703593LL);
	assert_int_equal((long long)date("8 Dec 2026 05:19:53 +0100"), 1796703593LL);
	assert_int_equal((long long)date("Mon, 7 Dec 2026 23:19:53 EST"), 1796703593LL);
	assert_int_equal((long long)date("Mon, 7 Dec 2026 20:19:53 PST"), 1796703593LL);
	assert_int_equal((long long)date("Tue, 8 Dec 2026 04:19:53 GMT"), 1796703593LL);
	assert_int_equal((long long)date("Tue, 8 Dec 2026 04:19:53 Z"), 1796703593LL);
	assert_int_equal((long long)date("Tue, 8 Dec 2026 04:19:53"), 1796703593LL);
	assert_int_equal((long long)date("Tue, 8 Dec 26 04:19:53 +0000"), 1796703593LL);
	assert_int_equal((long long)date("Thu, 1 Jan 1970 00:00:01 +0000"), 1LL);
	assert_int_equal((long long)date("29 Feb 2024 00:00 +0000"), 1709164800LL);
	assert_int_equal((long long)date("29 Feb 2023 00:00 +0000"), 0);
	assert_int_equal((long long)date("32 Dec 2026 04:19:53 +0000"), 0);
	assert_int_equal((long long)date("8 Foo 2026 04:19:53 +0000"), 0);
	assert_int_equal((long long)date("8 Dec 2026 24:19:53 +0000"), 0);
	assert_int_equal((long long)date("yesterday"), 0);
	assert_int_equal((long long)date(""), 0);
}

#define SL(s) s, strlen(s)

static void test_text_helpers(void **state)
{
	char out[256], dst[64];
	size_t n;

	(void)state;
	/* addresses */
	assert_true(mh_mail_first_addr(SL("<>"), out, sizeof(out)));
	assert_string_equal(out, "");
	assert_true(mh_mail_first_addr(SL("MAILER-DAEMON (Mail Delivery System)"), out,
				       sizeof(out)));
	assert_string_equal(out, "MAILER-DAEMON");
	assert_true(mh_mail_first_addr(SL("\"a,b\" <x@y>, z@w"), out, sizeof(out)));
	assert_string_equal(out, "x@y");
	assert_true(mh_mail_first_addr(SL("group: ; , last@w"), out, sizeof(out)));
	assert_string_equal(out, "last@w");
	assert_false(mh_mail_first_addr(SL("undisclosed-recipients:;"), out, sizeof(out)));
	assert_false(mh_mail_first_addr(SL("  "), out, sizeof(out)));
	assert_true(mh_mail_first_addr(SL("u@[IPv6:fd00::1]"), out, sizeof(out)));
	assert_string_equal(out, "u@[IPv6:fd00::1]");
	/* unfold and comments */
	n = mh_mail_unfold(SL(" a\r\n\tb \r\n"), out, sizeof(out));
	assert_int_equal(n, 3);
	assert_string_equal(out, "a\tb");
	mh_mail_uncomment(SL("x (a (nested) \\) c) \"(kept)\" y"), out, sizeof(out));
	assert_string_equal(out, "x   \"(kept)\" y");
	/* decoders */
	n = mh_mail_base64_decode(SL("aGVs\nbG8=junk"), out);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	n = mh_mail_qp_decode(SL("a=3Db=\r\nc=\nd=ZZe="), out);
	out[n] = '\0';
	assert_string_equal(out, "a=bcd=ZZe");
	/* clean: controls, whitespace, invalid UTF-8, truncation at a character */
	mh_mail_clean(SL("a\x01 \t b\xff"), dst, sizeof(dst), false);
	assert_string_equal(dst, "a b\xef\xbf\xbd");
	mh_mail_clean(SL("=?utf-8?q?a_b?=   =?utf-8?q?c?="), dst, sizeof(dst), true);
	assert_string_equal(dst, "a bc");
	mh_mail_clean(SL("=?us-ascii?b?!!!?= =?utf-8?x?y?= =?"), dst, sizeof(dst), true);
	assert_string_equal(dst, "=?utf-8?x?y?= =?");
	mh_mail_clean(SL("\xc3\xa9\xc3\xa9\xc3\xa9"), dst, 4, false);
	assert_string_equal(dst, "\xc3\xa9");
	mh_mail_clean_charset(SL("caf\xe9"), "iso-8859-1", dst, sizeof(dst));
	assert_string_equal(dst, "caf\xc3\xa9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures_expected),
	    cmocka_unit_test(test_broken_expected),
	    cmocka_unit_test(test_junk_8bit),
	    cmocka_unit_test(test_postfix_delayed_fields),
	    cmocka_unit_test(test_arrived_probe),
	    cmocka_unit_test(test_crlf_and_mbox_same),
	    cmocka_unit_test(test_bounce_nonstandard),
	    cmocka_unit_test(test_exim_reasons),
	    cmocka_unit_test(test_bounce_text_status),
	    cmocka_unit_test(test_mime_shapes),
	    cmocka_unit_test(test_headers),
	    cmocka_unit_test(test_errors_and_limits),
	    cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_sender_classify),
	    cmocka_unit_test(test_dates),
	    cmocka_unit_test(test_text_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
