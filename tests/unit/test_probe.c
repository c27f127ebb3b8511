/*
 * test_probe.c -- probe state and verdicts (probes/probe.c).
 *
 * The verdict table of probe.h, driven by parsed messages as
 * mh_mail_parse() gives them (filled here field by field), the deadline,
 * the "verdicts only get firmer" rule, the state file round trip and its
 * bad inputs, and the findings that rules.c draws from a host's probes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mailhole/common.h"
#include "mailhole/host.h"
#include "mailhole/mail.h"
#include "mailhole/probe.h"
#include "mailhole/rules.h"

static struct mh_probe *add(struct mh_probe_state *s, const char *host, const char *local)
{
	char rcpt[300];
	struct mh_probe *p;
	snprintf(rcpt, sizeof(rcpt), "%s@%s", local, host);
	p = mh_probe_add(s, "bare-recipient", "", host, rcpt, "");
	assert_non_null(p);
	mh_probe_submitted(p, 250, "250 2.0.0 Ok: queued as 4AbC", true, 1000);
	return p;
}

static void dsn(struct mh_mail *m, const char *tag, const char *rcpt, const char *action,
		const char *status, const char *diag)
{
	memset(m, 0, sizeof(*m));
	m->kind = MH_MAIL_DSN;
	mh_strlcpy(m->tag, tag, sizeof(m->tag));
	mh_strlcpy(m->reporting_mta, "relay.lab.test", sizeof(m->reporting_mta));
	m->nrcpts = 1;
	mh_strlcpy(m->rcpts[0].final_recipient, rcpt, sizeof(m->rcpts[0].final_recipient));
	mh_strlcpy(m->rcpts[0].action, action, sizeof(m->rcpts[0].action));
	mh_strlcpy(m->rcpts[0].status, status, sizeof(m->rcpts[0].status));
	mh_strlcpy(m->rcpts[0].diagnostic, diag, sizeof(m->rcpts[0].diagnostic));
}

static void test_tags(void **state)
{
	(void)state;
	struct mh_probe_state s;
	mh_probe_state_init(&s);
	for (int i = 0; i < 200; i++) {
		struct mh_probe *p = add(&s, "host-a.lab.test", i % 2 ? "root" : "postmaster");
		assert_int_equal(strlen(p->tag), 18);
		assert_true(mh_tag_valid(p->tag, strlen(p->tag)));
	}
	for (size_t i = 0; i < s.n; i++)
		for (size_t k = i + 1; k < s.n; k++)
			assert_string_not_equal(s.v[i].tag, s.v[k].tag);
	assert_ptr_equal(mh_probe_by_tag(&s, s.v[7].tag), &s.v[7]);
	assert_null(mh_probe_by_tag(&s, "mh0000000000000000"));
	assert_null(mh_probe_by_tag(&s, ""));
	assert_ptr_equal(mh_probe_find(&s, "bare-recipient", "", "ROOT@host-a.lab.test"),
			 &s.v[1]);
	mh_probe_state_free(&s);
}

static void test_refused_at_rcpt(void **state)
{
	(void)state;
	struct mh_probe_state s;
	struct mh_probe *p;
	mh_probe_state_init(&s);
	p = mh_probe_add(&s, "bare-recipient", "", "h.lab.test", "root@h.lab.test", "");
	mh_probe_submitted(p, 550, "550 5.1.1 <root@h.lab.test>: Recipient address rejected",
			   false, 5);
	assert_int_equal(p->verdict, MH_VERDICT_BOUNCED);
	assert_string_equal(p->ev_source, "smtp");
	assert_string_equal(p->ev_status, "550");
	assert_true(mh_verdict_terminal(p->verdict));
	/* a 4xx is no verdict */
	p = mh_probe_add(&s, "bare-recipient", "", "h.lab.test", "postmaster@h.lab.test", "");
	mh_probe_submitted(p, 451, "451 4.3.0 try later", false, 5);
	assert_int_equal(p->verdict, MH_VERDICT_PENDING);
	mh_probe_state_free(&s);
}

static void test_dsn_verdicts(void **state)
{
	(void)state;
	struct mh_probe_state s;
	struct mh_mail *m = calloc(1, sizeof(*m));
	struct mh_probe *bh, *rej, *ok;
	mh_probe_state_init(&s);
	mh_strlcpy(s.domain, "lab.test", sizeof(s.domain));
	bh = add(&s, "host-bh.lab.test", "root");
	rej = add(&s, "host-rj.lab.test", "root");
	ok = add(&s, "host-ok.lab.test", "root");

	/* delay DSN for a host that refuses connections */
	dsn(m, bh->tag, "root@host-bh.lab.test", "delayed", "4.4.1",
	    "connect to host-bh.lab.test[198.18.7.11]:25: Connection refused");
	assert_ptr_equal(mh_probe_apply_mail(&s, m, "7", 2000), bh);
	assert_int_equal(bh->verdict, MH_VERDICT_DELAYED);
	assert_int_equal(bh->ndelays, 1);
	assert_string_equal(bh->ev_key, "7");
	assert_string_equal(bh->ev_status, "4.4.1");

	/* failed DSN */
	dsn(m, rej->tag, "root@host-rj.lab.test", "failed", "5.1.1",
	    "host host-rj.lab.test[198.18.7.14] said: 550 5.1.1 User unknown");
	mh_probe_apply_mail(&s, m, "8", 2000);
	assert_int_equal(rej->verdict, MH_VERDICT_BOUNCED);
	assert_string_equal(rej->ev_source, "dsn");

	/* success DSN, then a late delay notice changes nothing */
	dsn(m, ok->tag, "root@host-ok.lab.test", "relayed", "2.0.0", "250 2.0.0 Ok");
	mh_probe_apply_mail(&s, m, "9", 2000);
	assert_int_equal(ok->verdict, MH_VERDICT_DELIVERED);
	dsn(m, ok->tag, "root@host-ok.lab.test", "delayed", "4.4.1", "Connection refused");
	mh_probe_apply_mail(&s, m, "10", 2001);
	assert_int_equal(ok->verdict, MH_VERDICT_DELIVERED);
	assert_string_equal(ok->ev_key, "9");

	/* no tag of ours */
	dsn(m, "mhzzzzzzzzzzzzzzzz", "x@y.test", "failed", "5.0.0", "");
	assert_null(mh_probe_apply_mail(&s, m, "11", 2000));

	/* before the deadline nothing changes; at it the refused host is a black hole */
	s.deadline = 3000;
	assert_int_equal(mh_probe_finalize(&s, 2999), 0);
	assert_int_equal(bh->verdict, MH_VERDICT_DELAYED);
	assert_int_equal(mh_probe_finalize(&s, 3000), 1);
	assert_int_equal(bh->verdict, MH_VERDICT_BLACK_HOLE);
	assert_string_equal(bh->ev_source, "dsn"); /* the DSN stays the evidence */
	free(m);
	mh_probe_state_free(&s);
}

static void test_deadline_and_greylist(void **state)
{
	(void)state;
	struct mh_probe_state s;
	struct mh_mail *m = calloc(1, sizeof(*m));
	struct mh_probe *silent, *grey, *unsent;
	mh_probe_state_init(&s);
	silent = add(&s, "a.lab.test", "root");
	grey = add(&s, "b.lab.test", "root");
	unsent = mh_probe_add(&s, "bare-recipient", "", "c.lab.test", "root@c.lab.test", "");
	dsn(m, grey->tag, "root@b.lab.test", "delayed", "4.7.1",
	    "host b.lab.test said: 451 4.7.1 Greylisted, try again later");
	mh_probe_apply_mail(&s, m, "1", 10);
	s.deadline = 100;
	assert_int_equal(mh_probe_finalize(&s, 100), 1);
	assert_int_equal(silent->verdict, MH_VERDICT_BLACK_HOLE);
	assert_string_equal(silent->ev_source, "deadline");
	assert_int_equal(grey->verdict, MH_VERDICT_DELAYED); /* the host does answer */
	assert_int_equal(unsent->verdict, MH_VERDICT_PENDING);
	unsigned counts[MH_VERDICT_BLACK_HOLE + 1];
	mh_probe_counts(&s, counts);
	assert_int_equal(counts[MH_VERDICT_BLACK_HOLE], 1);
	assert_int_equal(counts[MH_VERDICT_DELAYED], 1);
	assert_int_equal(counts[MH_VERDICT_PENDING], 1);
	free(m);
	mh_probe_state_free(&s);
}

static void test_arrivals(void **state)
{
	(void)state;
	struct mh_probe_state s;
	struct mh_mail *m = calloc(1, sizeof(*m));
	struct mh_probe *hq, *mq;
	mh_probe_state_init(&s);
	mh_strlcpy(s.domain, "lab.test", sizeof(s.domain));
	hq = mh_probe_add(&s, "host-submission", "bare-sender", "host-a.lab.test",
			  "audit@lab.test", "");
	mq = mh_probe_add(&s, "host-submission", "bare-sender", "host-b.lab.test",
			  "audit@lab.test", "");
	mh_probe_submitted(hq, 0, "sendmail exit 0", true, 1);
	mh_probe_submitted(mq, 0, "sendmail exit 0", true, 1);

	m->kind = MH_MAIL_MESSAGE;
	mh_strlcpy(m->tag, hq->tag, sizeof(m->tag));
	m->has_return_path = true;
	mh_strlcpy(m->return_path, "root@host-a.lab.test", sizeof(m->return_path));
	mh_strlcpy(m->from, "root@host-a.lab.test", sizeof(m->from));
	m->nreceived = 2;
	mh_strlcpy(m->received[0], "from relay.lab.test by mx", sizeof(m->received[0]));
	mh_strlcpy(m->received[1], "by host-a.lab.test (Postfix, from userid 0)",
		   sizeof(m->received[1]));
	mh_probe_apply_mail(&s, m, "u1", 5);
	assert_int_equal(hq->verdict, MH_VERDICT_DELIVERED_HQ);
	assert_string_equal(hq->ev_sender_class, "host-qualified");
	assert_string_equal(hq->ev_received, "by host-a.lab.test (Postfix, from userid 0)");

	mh_strlcpy(m->tag, mq->tag, sizeof(m->tag));
	mh_strlcpy(m->return_path, "root@lab.test", sizeof(m->return_path));
	mh_strlcpy(m->from, "root@lab.test", sizeof(m->from));
	mh_probe_apply_mail(&s, m, "u2", 5);
	assert_int_equal(mq->verdict, MH_VERDICT_DELIVERED);
	assert_string_equal(mq->ev_sender_class, "masqueraded");

	/* findings from the probes of host-a */
	struct mh_addr a;
	struct mh_host *h;
	struct mh_probe_host *ph = calloc(1, sizeof(*ph));
	assert_int_equal(mh_addr_parse("198.18.7.11", &a), 0);
	h = mh_host_new(&a);
	ph->v = calloc(1, sizeof(*ph->v));
	ph->v[ph->n++] = hq;
	ph->masquerades = 0;
	h->probes = ph;
	mh_classify(h);
	assert_int_equal(h->nfindings, 1);
	assert_string_equal(h->findings[0].rule->id, "host-qualified-sender");
	assert_non_null(strstr(h->findings[0].evidence, hq->tag));
	mh_host_free(&h);
	free(m);
	mh_probe_state_free(&s);
}

static void test_black_hole_weighed(void **state)
{
	(void)state;
	struct mh_probe_state s;
	mh_probe_state_init(&s);
	struct mh_probe *p = add(&s, "host-bh.lab.test", "root");
	s.deadline = 10;
	mh_probe_finalize(&s, 20);
	for (int masq = -1; masq <= 1; masq++) {
		struct mh_addr a;
		struct mh_host *h;
		struct mh_probe_host *ph = calloc(1, sizeof(*ph));
		mh_addr_parse("198.18.7.11", &a);
		h = mh_host_new(&a);
		ph->v = calloc(1, sizeof(*ph->v));
		ph->v[ph->n++] = p;
		ph->masquerades = masq;
		mh_strlcpy(ph->masq_source, "local report x.json", sizeof(ph->masq_source));
		h->probes = ph;
		mh_classify(h);
		assert_int_equal(h->nfindings, 1);
		assert_string_equal(h->findings[0].rule->id, "bare-recipient-black-hole");
		assert_int_equal(h->findings[0].severity, masq == 1 ? MH_SEV_LOW : MH_SEV_HIGH);
		assert_non_null(strstr(h->findings[0].evidence, "local report x.json"));
		mh_host_free(&h);
	}
	mh_probe_state_free(&s);
}

static void test_state_roundtrip(void **state)
{
	(void)state;
	char path[] = "/tmp/mh-probe-state-XXXXXX", err[MH_ERRLEN];
	struct mh_probe_state s, t;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	mh_probe_state_init(&s);
	mh_probe_state_init(&t);
	/* a missing file is an empty state */
	assert_int_equal(mh_probe_state_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
	mh_strlcpy(s.relay, "smtp://relay.lab.test:25", sizeof(s.relay));
	mh_strlcpy(s.collector, "imap://relay.lab.test/INBOX", sizeof(s.collector));
	s.created = 100;
	s.deadline = 160;
	s.uidvalidity = 1733650000;
	s.last_uid = 42;
	struct mh_probe *p = add(&s, "host-a.lab.test", "root");
	mh_strlcpy(p->ev_diagnostic, "weird \"text\"\n\x01 \xff", sizeof(p->ev_diagnostic));
	p->verdict = MH_VERDICT_DELAYED;
	add(&s, "host-a.lab.test", "postmaster");
	assert_int_equal(mh_probe_state_save(path, &s, err, sizeof(err)), 0);
	assert_int_equal(mh_probe_state_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.last_uid, 42);
	assert_int_equal(t.deadline, 160);
	assert_string_equal(t.v[0].tag, s.v[0].tag);
	assert_int_equal(t.v[0].verdict, MH_VERDICT_DELAYED);
	assert_int_equal(t.v[0].sent, 1000);
	assert_true(t.v[0].dsn);
	assert_string_equal(t.v[1].rcpt, "postmaster@host-a.lab.test");
	mh_probe_state_free(&t);

	/* bad state files: one clear error naming the file */
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"schema\":\"other\"}",
		"{\"schema\":\"mailhole-probe-state/1\",\"probes\":{}}",
		"{\"schema\":\"mailhole-probe-state/1\",\"probes\":[{\"tag\":\"nope\"}]}",
		"{\"schema\":\"mailhole-probe-state/1\",\"probes\":[{\"tag\":\"mh0123456789\","
		"\"verdict\":\"maybe\"}]}",
		"{\"schema\":\"mailhole-probe-state/1\",\"last_uid\":-1}",
		"{\"schema\":\"mailhole-probe-state/1\",\"probes\":[{\"tag\":\"mh0123456789\"},"
		"{\"tag\":\"mh0123456789\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FILE *f = fopen(path, "w");
		fputs(bad[i], f);
		fclose(f);
		mh_probe_state_init(&t);
		err[0] = '\0';
		assert_true(mh_probe_state_load(path, &t, err, sizeof(err)) < 0);
		assert_non_null(strstr(err, path));
		assert_null(strchr(err, '\n'));
		mh_probe_state_free(&t);
	}
	unlink(path);
	mh_probe_state_free(&s);
}

/* Many probes: the indexes find each by tag and by recipient; taken tags are refused. */
static void test_many(void **state)
{
	(void)state;
	struct mh_probe_state s;
	char rcpt[64];
	mh_probe_state_init(&s);
	for (int i = 0; i < 50000; i++) {
		snprintf(rcpt, sizeof(rcpt), "root@host-%05d.lab.test", i);
		assert_non_null(mh_probe_add(&s, "bare-recipient", "", rcpt + 5, rcpt, ""));
	}
	for (int i = 0; i < 50000; i += 7) {
		snprintf(rcpt, sizeof(rcpt), "ROOT@HOST-%05d.lab.test", i);
		struct mh_probe *p = mh_probe_find(&s, "bare-recipient", "", rcpt);
		assert_ptr_equal(p, &s.v[i]);
		assert_ptr_equal(mh_probe_by_tag(&s, s.v[i].tag), &s.v[i]);
	}
	assert_null(mh_probe_find(&s, "bare-recipient", "", "root@host-99999.lab.test"));
	assert_null(mh_probe_find(&s, "host-submission", "", "root@host-00001.lab.test"));
	assert_null(mh_probe_add_tagged(&s, "x", "", "", "a@b.test", "", s.v[3].tag));
	assert_null(mh_probe_add_tagged(&s, "x", "", "", "a@b.test", "", "not-a-tag"));
	/* a second probe of the same key is kept; find gives the first */
	assert_non_null(mh_probe_add(&s, "bare-recipient", "", "h", "root@host-00005.lab.test", ""));
	assert_ptr_equal(mh_probe_find(&s, "bare-recipient", "", "root@host-00005.lab.test"),
			 &s.v[5]);
	mh_probe_state_free(&s);
}

/* A run that dies between two saves: the journal still says what was sent. */
static void test_journal(void **state)
{
	(void)state;
	char path[] = "/tmp/mh-probe-journal-XXXXXX", jp[64], err[MH_ERRLEN];
	struct mh_probe_state s, t;
	struct mh_probe *a, *b;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(jp, sizeof(jp), "%s.journal", path);
	mh_probe_state_init(&s);
	a = mh_probe_add(&s, "bare-recipient", "", "h.lab.test", "root@h.lab.test", "");
	b = mh_probe_add(&s, "bare-recipient", "", "h.lab.test", "postmaster@h.lab.test", "");
	assert_int_equal(mh_probe_state_save(path, &s, err, sizeof(err)), 0); /* the plan */
	mh_probe_submitted(a, 250, "250 2.0.0 Ok: queued", true, 77);
	assert_int_equal(mh_probe_journal_append(path, a, err, sizeof(err)), 0);
	mh_probe_submitted(b, 550, "550 5.1.1 unknown", true, 78);
	assert_int_equal(mh_probe_journal_append(path, b, err, sizeof(err)), 0);
	/* ... and the run dies here: a half-written line at the end is ignored */
	FILE *f = fopen(jp, "a");
	fputs("{\"tag\":\"mh", f);
	fclose(f);
	mh_probe_state_init(&t);
	assert_int_equal(mh_probe_state_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.v[0].sent, 77);
	assert_int_equal(t.v[0].verdict, MH_VERDICT_PENDING);
	assert_int_equal(t.v[1].verdict, MH_VERDICT_BOUNCED);
	/* a save folds it in */
	assert_int_equal(mh_probe_state_save(path, &t, err, sizeof(err)), 0);
	assert_int_equal(access(jp, F_OK), -1);
	mh_probe_state_free(&t);
	/* a damaged journal line is an error naming the journal and the line */
	f = fopen(jp, "w");
	fputs("not json\n", f);
	fclose(f);
	mh_probe_state_init(&t);
	assert_true(mh_probe_state_load(path, &t, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ".journal line 1"));
	mh_probe_state_free(&t);
	unlink(jp);
	unlink(path);
	mh_probe_state_free(&s);
}

/* Every real fixture (tests/fixtures/mail/VERDICTS) through the parser and the verdicts. */
static void test_fixture_verdicts(void **state)
{
	(void)state;
	char path[1024], line[512];
	FILE *f;
	unsigned n = 0;

	snprintf(path, sizeof(path), "%s/mail/VERDICTS", MH_FIXTURES);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char file[128], before[32], after[32], err[MH_ERRLEN], *buf = NULL;
		size_t len = 0;
		struct mh_probe_state s;
		struct mh_mail *m;
		struct mh_probe *p;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		m = calloc(1, sizeof(*m));
		assert_non_null(m);
		assert_int_equal(sscanf(line, "%127s %31s %31s", file, before, after), 3);
		snprintf(path, sizeof(path), "%s/mail/%s", MH_FIXTURES, file);
		assert_int_equal(mh_read_file(path, 1u << 24, &buf, &len, err, sizeof(err)), 0);
		assert_int_equal(mh_mail_parse(buf, len, m, err, sizeof(err)), 0);
		mh_probe_state_init(&s);
		mh_strlcpy(s.domain, "lab.test", sizeof(s.domain));
		/* the probe the fixture is about (its tag; the host unknown) */
		p = mh_probe_add_tagged(&s, "bare-recipient", "", "", "root@host-x.lab.test", "",
					m->tag);
		assert_non_null(p);
		mh_probe_submitted(p, 250, "250 2.0.0 Ok", true, 1000);
		if (!mh_probe_apply_mail(&s, m, file, 1010)) {
			print_error("%s: tag %s not matched\n", file, m->tag);
			fail();
		}
		if (strcmp(mh_verdict_name(p->verdict), before)) {
			print_error("%s: %s before the deadline, %s expected\n", file,
				    mh_verdict_name(p->verdict), before);
			fail();
		}
		s.deadline = 2000;
		mh_probe_finalize(&s, 2000);
		if (strcmp(mh_verdict_name(p->verdict), after)) {
			print_error("%s: %s after the deadline, %s expected\n", file,
				    mh_verdict_name(p->verdict), after);
			fail();
		}
		n++;
		free(buf);
		free(m);
		mh_probe_state_free(&s);
	}
	fclose(f);
	assert_true(n >= 10);
}

static void test_connect_failure(void **state)
{
	(void)state;
	assert_true(mh_diagnostic_is_connect_failure(
		"connect to host-bh.lab.test[198.18.7.11]:25: Connection refused"));
	assert_true(mh_diagnostic_is_connect_failure("Deferred: Connection timed out with x"));
	assert_true(mh_diagnostic_is_connect_failure("T=remote_smtp defer (111): Connection "
						     "refused"));
	assert_false(mh_diagnostic_is_connect_failure("451 4.7.1 Greylisted"));
	assert_false(mh_diagnostic_is_connect_failure(""));
	assert_false(mh_diagnostic_is_connect_failure(NULL));
	assert_true(mh_diagnostic_is_host_answer(
		"host b.lab.test[198.18.7.2] said: 451 4.7.1 Greylisted (in reply to RCPT TO)"));
	assert_true(mh_diagnostic_is_host_answer("smtp; 451 4.7.1 Greylisted"));
	assert_true(mh_diagnostic_is_host_answer("SMTP error from remote mail server after RCPT"));
	assert_true(mh_diagnostic_is_host_answer("452-4.2.2 mailbox full"));
	assert_false(mh_diagnostic_is_host_answer("connect to x[1.2.3.4]:25: Connection refused"));
	assert_false(mh_diagnostic_is_host_answer("This message was created automatically"));
	assert_false(mh_diagnostic_is_host_answer(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_refused_at_rcpt),
		cmocka_unit_test(test_dsn_verdicts),
		cmocka_unit_test(test_deadline_and_greylist),
		cmocka_unit_test(test_arrivals),
		cmocka_unit_test(test_black_hole_weighed),
		cmocka_unit_test(test_state_roundtrip),
		cmocka_unit_test(test_connect_failure),
		cmocka_unit_test(test_fixture_verdicts),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
