/*
 * test_queue.c -- the relay queue readers (probes/queue.c) and `mailhole
 * queue` (scanner/cmd_queue.c) over listings captured from real MTAs in a
 * lab (tests/fixtures/queue/, made by tests/lab/gen_queue_fixtures.sh):
 * Postfix 3.7 `postqueue -j`, Sendmail 8.17 `mailq` (the MTA queue, -Ac,
 * and Debian's two-part listing), Exim 4.96 `exim -bp`; and broken
 * variants of them. Format detection, every field, reason classes,
 * grouping by destination, fleet matching, ages and lifetimes, the
 * document and the exit codes.
 *
 * Names resolve through this file's getaddrinfo() (a definition in the
 * executable wins over libc's): host-a.lab.test and host-b.lab.test as in
 * the lab, every other name "not found". No DNS, no network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <json-c/json.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/common.h"
#include "mailhole/queue.h"
#include "mailhole/render.h"
#include "mailhole/rules.h"

#define QF MH_FIXTURES "/queue"

/* 2026-12-08T04:27:59Z: when the Postfix fixture's messages arrived */
#define PF_ARRIVAL 1796704079
/* the Sendmail fixtures say "Tue Dec  8 04:28" (read as UTC here) */
#define SM_ARRIVAL 1796704080
/* a little later, when the listings were taken */
#define TAKEN (PF_ARRIVAL + 3600)

struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_in sin;
};

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	const char *ip = NULL;
	struct fake_ai *f;

	(void)service;
	(void)hints;
	if (node && !strcmp(node, "host-a.lab.test"))
		ip = "198.18.60.5";
	else if (node && !strcmp(node, "host-b.lab.test"))
		ip = "198.18.62.6";
	if (!ip)
		return EAI_NONAME;
	f = calloc(1, sizeof(*f));
	if (!f)
		return EAI_MEMORY;
	f->sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &f->sin.sin_addr);
	f->ai.ai_family = AF_INET;
	f->ai.ai_socktype = SOCK_STREAM;
	f->ai.ai_addrlen = sizeof(f->sin);
	f->ai.ai_addr = (struct sockaddr *)&f->sin;
	*res = &f->ai;
	return 0;
}

void freeaddrinfo(struct addrinfo *res)
{
	free(res); /* the struct addrinfo is the first member of struct fake_ai */
}

static char *slurp(const char *name, size_t *len)
{
	char path[512], err[MH_ERRLEN];
	char *buf = NULL;

	snprintf(path, sizeof(path), "%s/%s", QF, name);
	if (mh_read_file(path, 1 << 24, &buf, len, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	return buf;
}

/* Parses a fixture; checks the return code; returns the queue (caller frees). */
static struct mh_queue *parse(const char *name, enum mh_queue_format fmt, int want, char *err,
                              size_t errlen)
{
	size_t len;
	char *buf = slurp(name, &len);
	struct mh_queue *q = NULL;
	int rc = mh_queue_parse(buf, len, fmt, name, TAKEN, &q, err, errlen);

	free(buf);
	if (rc != want)
		fail_msg("%s: rc %d, %d expected (%s)", name, rc, want, err);
	return q;
}

static const struct mh_queue_dest *dest(const struct mh_queue_dest *d, size_t n, const char *dom)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(d[i].domain, dom))
			return &d[i];
	return NULL;
}

/* ---- detection and the small pieces ------------------------------------------ */

static void test_detect(void **state)
{
	static const struct {
		const char *file;
		enum mh_queue_format f;
	} cases[] = {
	    {"postfix-defer.jsonl", MH_QUEUE_POSTFIX_JSON},
	    {"sendmail-mailq.txt", MH_QUEUE_SENDMAIL_MAILQ},
	    {"sendmail-mailq-ac.txt", MH_QUEUE_SENDMAIL_MAILQ},
	    {"sendmail-mailq-debian.txt", MH_QUEUE_SENDMAIL_MAILQ},
	    {"exim-bp.txt", MH_QUEUE_EXIM},
	    {"empty.txt", MH_QUEUE_POSTFIX_JSON},
	    {"unknown.txt", MH_QUEUE_AUTO},
	    {"postfix-defer.postqueue-p.txt", MH_QUEUE_AUTO},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *buf = slurp(cases[i].file, &len);
		if (mh_queue_detect(buf, len) != cases[i].f)
			fail_msg("%s: detected %s", cases[i].file,
			         mh_queue_format_name(mh_queue_detect(buf, len)));
		free(buf);
	}
	assert_int_equal(mh_queue_format_parse("postfix-json"), MH_QUEUE_POSTFIX_JSON);
	assert_int_equal(mh_queue_format_parse("sendmail-mailq"), MH_QUEUE_SENDMAIL_MAILQ);
	assert_int_equal(mh_queue_format_parse("exim"), MH_QUEUE_EXIM);
	assert_int_equal(mh_queue_format_parse("qmail"), -1);
	assert_string_equal(mh_queue_format_name(MH_QUEUE_EXIM), "exim");
}

static void test_classify(void **state)
{
	static const struct {
		const char *reason;
		enum mh_queue_reason want;
	} cases[] = {
	    {"connect to host-a.lab.test[198.18.60.5]:25: Connection refused", MH_QREASON_REFUSED},
	    {"Deferred: Connection refused by host-a.lab.test.", MH_QREASON_REFUSED},
	    {"connect to host-b.lab.test[198.18.62.6]:25: Connection timed out",
	     MH_QREASON_TIMEOUT},
	    {"Deferred: Connection timed out with host-b.lab.test.", MH_QREASON_TIMEOUT},
	    {"Deferred: host-d.lab.test.: Network is unreachable", MH_QREASON_NOROUTE},
	    {"connect to x[198.18.9.9]:25: No route to host", MH_QREASON_NOROUTE},
	    {"Host or domain name not found. Name service error for name=x type=A: Host not found",
	     MH_QREASON_NOTFOUND},
	    {"host map: lookup (host-e.lab.test): deferred", MH_QREASON_NOTFOUND},
	    {"Deferred: Name server timeout", MH_QREASON_NOTFOUND},
	    {"host mx.example[203.0.113.5] said: 451 4.7.1 Try again later", MH_QREASON_OTHER},
	    {"", MH_QREASON_NONE},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum mh_queue_reason r =
		    mh_queue_classify(cases[i].reason, strlen(cases[i].reason));
		if (r != cases[i].want)
			fail_msg("'%s': %s, %s expected", cases[i].reason, mh_queue_reason_name(r),
			         mh_queue_reason_name(cases[i].want));
	}
	assert_int_equal(mh_queue_classify(NULL, 0), MH_QREASON_NONE);
	assert_string_equal(mh_queue_reason_name(MH_QREASON_TIMEOUT), "timed-out");
}

static void test_reason_addr(void **state)
{
	struct mh_addr a;
	char buf[MH_ADDR_STRLEN];
	const char *r1 = "connect to host-a.lab.test[198.18.60.5]:25: Connection refused";
	const char *r2 = "connect to h[fd00:18::5]:25: Connection refused";
	const char *r3 = "Deferred: Connection refused by [IPv6:fd00:18::7].";
	const char *r4 = "lost connection with [host]: [not-an-ip] nothing";

	(void)state;
	assert_int_equal(mh_queue_reason_addr(r1, strlen(r1), &a), 0);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.60.5");
	assert_int_equal(mh_queue_reason_addr(r2, strlen(r2), &a), 0);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fd00:18::5");
	assert_int_equal(mh_queue_reason_addr(r3, strlen(r3), &a), 0);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fd00:18::7");
	assert_int_equal(mh_queue_reason_addr(r4, strlen(r4), &a), MH_EINVAL);
	assert_int_equal(mh_queue_reason_addr("[198.18.0.1", 11, &a), MH_EINVAL);
}

static void test_host_under(void **state)
{
	(void)state;
	assert_true(mh_queue_host_under("host-a.lab.test", "lab.test"));
	assert_true(mh_queue_host_under("HOST-A.Lab.Test", "lab.test."));
	assert_true(mh_queue_host_under("a.b.lab.test", "lab.test"));
	assert_false(mh_queue_host_under("lab.test", "lab.test"));
	assert_false(mh_queue_host_under("xlab.test", "lab.test"));
	assert_false(mh_queue_host_under(".lab.test", "lab.test"));
	assert_false(mh_queue_host_under("partner.example", "lab.test"));
	assert_false(mh_queue_host_under("host-a.lab.test", ""));
	assert_false(mh_queue_host_under("host-a.lab.test", NULL));
	assert_false(mh_queue_host_under(NULL, "lab.test"));
}

static void test_lifetimes(void **state)
{
	struct mh_queue_lifetime lt;
	int64_t v;

	(void)state;
	mh_queue_lifetime_default(MH_QUEUE_POSTFIX_JSON, &lt);
	assert_int_equal(lt.lifetime_s, 5 * 86400);
	assert_int_equal(lt.warn_s, 0); /* Postfix warns no one by default */
	mh_queue_lifetime_default(MH_QUEUE_SENDMAIL_MAILQ, &lt);
	assert_int_equal(lt.lifetime_s, 5 * 86400);
	assert_int_equal(lt.warn_s, 4 * 3600);
	mh_queue_lifetime_default(MH_QUEUE_EXIM, &lt);
	assert_int_equal(lt.lifetime_s, 4 * 86400);
	assert_int_equal(lt.warn_s, 86400);

	assert_int_equal(mh_queue_postfix_time("5d", 'd', &v), 0);
	assert_int_equal(v, 432000);
	assert_int_equal(mh_queue_postfix_time("3", 'd', &v), 0);
	assert_int_equal(v, 3 * 86400);
	assert_int_equal(mh_queue_postfix_time("4", 'h', &v), 0);
	assert_int_equal(v, 4 * 3600);
	assert_int_equal(mh_queue_postfix_time(" 0h ", 'h', &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(mh_queue_postfix_time("1w", 'd', &v), 0);
	assert_int_equal(v, 7 * 86400);
	assert_int_equal(mh_queue_postfix_time("300s", 'd', &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(mh_queue_postfix_time("5x", 'd', &v), MH_EINVAL);
	assert_int_equal(mh_queue_postfix_time("d", 'd', &v), MH_EINVAL);
	assert_int_equal(mh_queue_postfix_time("-1d", 'd', &v), MH_EINVAL);
	assert_int_equal(mh_queue_postfix_time("99999999999d", 'd', &v), MH_EINVAL);
	assert_int_equal(mh_queue_postfix_time("", 'd', &v), MH_EINVAL);
}

/* ---- the real listings --------------------------------------------------------- */

static void test_postfix(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_queue *q = parse("postfix-defer.jsonl", MH_QUEUE_AUTO, 0, err, sizeof(err));
	struct mh_queue_dest *d = NULL;
	size_t n = 0;
	const struct mh_queue_dest *e;
	char buf[MH_ADDR_STRLEN];

	(void)state;
	assert_int_equal(q->format, MH_QUEUE_POSTFIX_JSON);
	assert_true(q->detected);
	assert_int_equal(q->nmsgs, 3);
	assert_string_equal(q->msgs[0].id, "91F7EA74488");
	assert_string_equal(q->msgs[0].queue, "deferred");
	assert_string_equal(q->msgs[0].sender, "mary@host-e.lab.test");
	assert_int_equal(q->msgs[0].arrival, PF_ARRIVAL);
	assert_int_equal(q->msgs[0].size, 316);
	assert_int_equal(q->msgs[0].line, 1);
	assert_int_equal(q->msgs[0].nrcpts, 3);
	assert_string_equal(q->msgs[0].rcpts[0].address, "postmaster@host-a.lab.test");
	assert_string_equal(q->msgs[0].rcpts[0].domain, "host-a.lab.test");
	assert_int_equal(q->msgs[0].rcpts[0].why, MH_QREASON_REFUSED);
	assert_int_equal(q->msgs[0].rcpts[2].why, MH_QREASON_TIMEOUT);
	assert_int_equal(q->msgs[1].rcpts[0].why, MH_QREASON_NOROUTE);
	assert_int_equal(q->msgs[2].line, 3);

	assert_int_equal(mh_queue_group(q, &d, &n), 0);
	assert_int_equal(n, 4);
	/* most recipients first */
	assert_string_equal(d[0].domain, "host-a.lab.test");
	assert_int_equal(d[0].recipients, 2);
	assert_int_equal(d[0].messages, 1);
	assert_int_equal(d[0].by_reason[MH_QREASON_REFUSED], 2);
	assert_int_equal(d[0].why, MH_QREASON_REFUSED);
	assert_int_equal(d[0].oldest, PF_ARRIVAL);
	assert_true(d[0].have_addr);
	mh_addr_format(&d[0].addr, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.60.5");
	assert_string_equal(d[0].reason,
	                    "connect to host-a.lab.test[198.18.60.5]:25: Connection refused");
	e = dest(d, n, "host-b.lab.test");
	assert_non_null(e);
	assert_int_equal(e->why, MH_QREASON_TIMEOUT);
	mh_addr_format(&e->addr, buf, sizeof(buf));
	assert_string_equal(buf, "198.18.62.6");
	e = dest(d, n, "partner.example");
	assert_non_null(e);
	assert_int_equal(e->why, MH_QREASON_NOROUTE);
	mh_queue_dests_free(&d, n);
	assert_null(d);
	mh_queue_free(&q);
	assert_null(q);
}

static void test_sendmail(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_queue *q = parse("sendmail-mailq.txt", MH_QUEUE_AUTO, 0, err, sizeof(err));
	struct mh_queue_dest *d = NULL;
	size_t n = 0;
	const struct mh_queue_dest *e;

	(void)state;
	assert_int_equal(q->format, MH_QUEUE_SENDMAIL_MAILQ);
	assert_false(q->client_queue);
	assert_int_equal(q->nmsgs, 4);
	/* the bounce to a local postmaster, not tried yet: no status line */
	assert_string_equal(q->msgs[0].id, "6B84S4hS006430");
	assert_string_equal(q->msgs[0].sender, "MAILER-DAEMON");
	assert_int_equal(q->msgs[0].size, 2662);
	assert_string_equal(q->msgs[0].queue, "mqueue");
	assert_int_equal(q->msgs[0].arrival, SM_ARRIVAL);
	assert_string_equal(q->msgs[0].rcpts[0].address, "postmaster");
	assert_string_equal(q->msgs[0].rcpts[0].domain, "");
	assert_int_equal(q->msgs[0].rcpts[0].why, MH_QREASON_NONE);
	/* one status for three recipients: it names host-a only */
	assert_int_equal(q->msgs[3].nrcpts, 3);
	assert_string_equal(q->msgs[3].rcpts[0].reason,
	                    "Deferred: Connection refused by host-a.lab.test.");
	assert_int_equal(q->msgs[3].rcpts[0].why, MH_QREASON_REFUSED);
	assert_int_equal(q->msgs[3].rcpts[1].why, MH_QREASON_REFUSED);
	assert_int_equal(q->msgs[3].rcpts[2].why, MH_QREASON_UNKNOWN);

	assert_int_equal(mh_queue_group(q, &d, &n), 0);
	assert_int_equal(n, 4); /* the local postmaster does not wait for a reason */
	e = dest(d, n, "host-a.lab.test");
	assert_non_null(e);
	assert_int_equal(e->recipients, 2);
	assert_int_equal(e->why, MH_QREASON_REFUSED);
	assert_false(e->have_addr); /* Sendmail names the host, not its address */
	e = dest(d, n, "host-b.lab.test");
	assert_non_null(e);
	assert_int_equal(e->why, MH_QREASON_UNKNOWN);
	e = dest(d, n, "host-d.lab.test");
	assert_int_equal(e->why, MH_QREASON_NOROUTE);
	mh_queue_dests_free(&d, n);
	mh_queue_free(&q);
}

static void test_sendmail_client_queues(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_queue *q =
	    parse("sendmail-mailq-ac.txt", MH_QUEUE_SENDMAIL_MAILQ, 0, err, sizeof(err));

	(void)state;
	assert_true(q->client_queue);
	assert_false(q->detected);
	assert_int_equal(q->nmsgs, 1);
	assert_string_equal(q->msgs[0].queue, "clientmqueue");
	assert_int_equal(q->msgs[0].rcpts[0].why, MH_QREASON_NOTFOUND);
	mh_queue_free(&q);

	/* Debian's mailq: "MSP Queue status..." then "MTA Queue status..." */
	q = parse("sendmail-mailq-debian.txt", MH_QUEUE_AUTO, 0, err, sizeof(err));
	assert_true(q->client_queue);
	assert_int_equal(q->nmsgs, 5);
	assert_string_equal(q->msgs[0].queue, "clientmqueue");
	assert_string_equal(q->msgs[1].queue, "mqueue");
	assert_string_equal(q->msgs[4].queue, "mqueue");
	assert_int_equal(q->msgs[4].nrcpts, 3);
	mh_queue_free(&q);
}

static void test_exim(void **state)
{
	char err[MH_ERRLEN] = "";
	struct mh_queue *q = parse("exim-bp.txt", MH_QUEUE_AUTO, 0, err, sizeof(err));
	struct mh_queue_dest *d = NULL;
	size_t n = 0;
	const struct mh_queue_dest *e;

	(void)state;
	assert_int_equal(q->format, MH_QUEUE_EXIM);
	assert_int_equal(q->nmsgs, 5);
	assert_string_equal(q->msgs[0].id, "1xamtW-0006sq-1N");
	assert_int_equal(q->msgs[0].size, 340);
	assert_int_equal(q->msgs[0].arrival, TAKEN); /* "0m" old when taken */
	assert_string_equal(q->msgs[0].queue, "input");
	assert_string_equal(q->msgs[1].queue, "frozen");
	assert_string_equal(q->msgs[1].sender, "cron@host-e.lab.test");
	assert_int_equal(q->msgs[4].nrcpts, 2);
	assert_true(q->msgs[4].rcpts[0].delivered);
	assert_string_equal(q->msgs[4].rcpts[0].address, "archive@relay.lab.test");
	assert_false(q->msgs[4].rcpts[1].delivered);
	assert_int_equal(q->msgs[4].rcpts[1].why, MH_QREASON_UNKNOWN);

	assert_int_equal(mh_queue_group(q, &d, &n), 0);
	assert_null(dest(d, n, "relay.lab.test")); /* delivered: not waiting */
	e = dest(d, n, "host-a.lab.test");
	assert_non_null(e);
	assert_int_equal(e->recipients, 3);
	assert_int_equal(e->messages, 2);
	assert_int_equal(e->why, MH_QREASON_UNKNOWN);
	assert_string_equal(d[0].domain, "host-a.lab.test");
	mh_queue_dests_free(&d, n);
	mh_queue_free(&q);
}

/* Exim ages and sizes, Sendmail's year, by hand. */
static void test_text_details(void **state)
{
	static const char ex[] = "25m  2.9K 1xamtW-0006sq-1N <>\n"
	                         "          +D x@a.lab.test\n"
	                         "          y@b.lab.test\n"
	                         "\n"
	                         " 3d   1M 1xamtW-0006sq-1Z <a@b> *** frozen ***\n"
	                         "          z@c.lab.test\n";
	static const char sm[] = "\t\t/var/spool/mqueue (1 request)\n"
	                         "-----Q-ID----- --Size-- -----Q-Time----- "
	                         "------------Sender/Recipient-----------\n"
	                         "6B84S4iJ006410X     21 Thu Dec 31 23:59 <mary@host-e.lab.test>\n"
	                         "                 (Deferred: Connection timed out with "
	                         "host-b.lab.test.)\n"
	                         "\t\t\t\t\t <root@Host-B.lab.test.>\n"
	                         "\t\tTotal requests: 1\n";
	char err[MH_ERRLEN] = "";
	struct mh_queue *q = NULL;
	struct tm tm = {0};

	(void)state;
	assert_int_equal(
	    mh_queue_parse(ex, sizeof(ex) - 1, MH_QUEUE_AUTO, "x", 1000000, &q, err, sizeof(err)),
	    0);
	assert_int_equal(q->nmsgs, 2);
	assert_int_equal(q->msgs[0].arrival, 1000000 - 25 * 60);
	assert_int_equal(q->msgs[0].size, (uint64_t)(2.9 * 1024));
	assert_string_equal(q->msgs[0].sender, "");
	assert_true(q->msgs[0].rcpts[0].delivered);
	assert_false(q->msgs[0].rcpts[1].delivered);
	assert_int_equal(q->msgs[1].arrival, 1000000 - 3 * 86400);
	assert_int_equal(q->msgs[1].size, 1024 * 1024);
	assert_string_equal(q->msgs[1].queue, "frozen");
	mh_queue_free(&q);

	/* taken on 2027-01-01T00:10Z: "Dec 31 23:59" is last year's */
	tm.tm_year = 127;
	tm.tm_mday = 1;
	tm.tm_min = 10;
	assert_int_equal(mh_queue_parse(sm, sizeof(sm) - 1, MH_QUEUE_AUTO, "x", timegm(&tm), &q,
	                                err, sizeof(err)),
	                 0);
	assert_int_equal(q->nmsgs, 1);
	assert_string_equal(q->msgs[0].id, "6B84S4iJ006410");
	assert_string_equal(q->msgs[0].sender, "mary@host-e.lab.test");
	assert_int_equal(q->msgs[0].arrival, timegm(&tm) - 11 * 60);
	assert_string_equal(q->msgs[0].rcpts[0].address, "root@Host-B.lab.test.");
	assert_string_equal(q->msgs[0].rcpts[0].domain, "host-b.lab.test");
	assert_int_equal(q->msgs[0].rcpts[0].why, MH_QREASON_TIMEOUT);
	mh_queue_free(&q);

	/* a bad queue time: an error naming the line, the entry not kept half-read */
	{
		static const char bad[] =
		    "6B84S4hS006430     2662 Tue Dec  8 04:28 <a@b.lab.test>\n"
		    "\t\t\t\t\t a@c.lab.test\n"
		    "  QUARANTINE: held by the milter\n"
		    "6B84S4CE006420       10 Tue Dec  8 04>28 root@e.lab.test\n";
		assert_int_equal(mh_queue_parse(bad, sizeof(bad) - 1, MH_QUEUE_SENDMAIL_MAILQ, "m",
		                                SM_ARRIVAL, &q, err, sizeof(err)),
		                 MH_EINVAL);
		assert_string_equal(err, "m line 4: bad queue time \"Tue Dec 8 04>28\"");
		assert_int_equal(q->nmsgs, 1);
		assert_int_equal(q->msgs[0].nrcpts, 1);
		mh_queue_free(&q);
	}
}

/* ---- broken listings: one line naming the place; what came before is kept ---- */

static void test_broken(void **state)
{
	static const struct {
		const char *file;
		int rc;
		size_t kept;     /* messages read before the bad line */
		const char *msg; /* the error starts with it */
	} cases[] = {
	    {"postfix-truncated.jsonl", MH_EINVAL, 1,
	     "postfix-truncated.jsonl line 2: not a JSON object (truncated"},
	    {"postfix-fatal.jsonl", MH_EINVAL, 1, "postfix-fatal.jsonl line 2: not a JSON object"},
	    {"postfix-wrongtype.jsonl", MH_EINVAL, 1, /* the bad line: no half message */
	     "postfix-wrongtype.jsonl line 2: \"arrival_time\" is not an integer"},
	    {"postfix-rcpts-not-array.jsonl", MH_EINVAL, 1,
	     "postfix-rcpts-not-array.jsonl line 2: \"recipients\" is not an array"},
	    {"postfix-nul.jsonl", MH_EINVAL, 0, "postfix-nul.jsonl line 1: a NUL byte"},
	    {"sendmail-broken.txt", MH_EINVAL, 2, "sendmail-broken.txt line 8: not a queue entry"},
	    {"sendmail-orphan.txt", MH_EINVAL, 0, /* given as Sendmail's: detection says no */
	     "sendmail-orphan.txt line 1: a recipient or status line before any queue entry"},
	    {"exim-broken.txt", MH_EINVAL, 2, "exim-broken.txt line 7: not a queue entry"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[MH_ERRLEN] = "";
		bool orphan = strstr(cases[i].file, "orphan") != NULL;
		struct mh_queue *q =
		    parse(cases[i].file, orphan ? MH_QUEUE_SENDMAIL_MAILQ : MH_QUEUE_AUTO,
		          cases[i].rc, err, sizeof(err));
		assert_non_null(q);
		if (q->nmsgs != cases[i].kept)
			fail_msg("%s: %zu messages kept, %zu expected", cases[i].file, q->nmsgs,
			         cases[i].kept);
		if (strncmp(err, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("%s: '%s'", cases[i].file, err);
		assert_null(strchr(err, '\n'));
		mh_queue_free(&q);
	}
	/* not a listing at all, and Postfix's text listing: no queue, a pointed message */
	{
		char err[MH_ERRLEN] = "";
		size_t len;
		char *buf = slurp("unknown.txt", &len);
		struct mh_queue *q = NULL;
		assert_int_equal(
		    mh_queue_parse(buf, len, MH_QUEUE_AUTO, "-", 0, &q, err, sizeof(err)),
		    MH_EINVAL);
		assert_null(q);
		assert_string_equal(err, "stdin line 1: not a queue listing mailhole knows "
		                         "(postqueue -j, Sendmail mailq, exim -bp); name it with "
		                         "--format");
		free(buf);
		buf = slurp("postfix-defer.postqueue-p.txt", &len);
		assert_int_equal(
		    mh_queue_parse(buf, len, MH_QUEUE_AUTO, "q.txt", 0, &q, err, sizeof(err)),
		    MH_EINVAL);
		assert_non_null(strstr(err, "q.txt line 1: Postfix's text listing"));
		/* the same text given as Sendmail's */
		assert_int_equal(mh_queue_parse(buf, len, MH_QUEUE_SENDMAIL_MAILQ, "q.txt", 0, &q,
		                                err, sizeof(err)),
		                 MH_EINVAL);
		assert_non_null(q);
		mh_queue_free(&q);
		free(buf);
	}
	/* an empty listing is an empty queue */
	{
		char err[MH_ERRLEN] = "";
		struct mh_queue *q = parse("empty.txt", MH_QUEUE_AUTO, 0, err, sizeof(err));
		assert_int_equal(q->nmsgs, 0);
		mh_queue_free(&q);
	}
}

/* Every prefix and a CRLF copy of every real listing: no crash, sane answers. */
static void test_prefixes_and_crlf(void **state)
{
	static const char *const files[] = {"postfix-defer.jsonl", "sendmail-mailq-debian.txt",
	                                    "exim-bp.txt"};
	(void)state;
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		size_t len, k = 0;
		char *buf = slurp(files[f], &len), *crlf = malloc(2 * len + 1);
		struct mh_queue *q = NULL, *q2 = NULL;
		char err[MH_ERRLEN];
		for (size_t i = 0; i <= len; i++) {
			int rc = mh_queue_parse(buf, i, MH_QUEUE_AUTO, files[f], TAKEN, &q, err,
			                        sizeof(err));
			assert_true(rc == 0 || rc == MH_EINVAL);
			mh_queue_free(&q);
		}
		for (size_t i = 0; i < len; i++) {
			if (buf[i] == '\n')
				crlf[k++] = '\r';
			crlf[k++] = buf[i];
		}
		assert_int_equal(
		    mh_queue_parse(buf, len, MH_QUEUE_AUTO, "a", TAKEN, &q, err, sizeof(err)), 0);
		if (mh_queue_parse(crlf, k, MH_QUEUE_AUTO, "b", TAKEN, &q2, err, sizeof(err)) != 0)
			fail_msg("%s with CRLF: %s", files[f], err);
		assert_int_equal(q->nmsgs, q2->nmsgs);
		for (size_t i = 0; i < q->nmsgs; i++) {
			assert_int_equal(q->msgs[i].nrcpts, q2->msgs[i].nrcpts);
			assert_string_equal(q->msgs[i].sender, q2->msgs[i].sender);
			for (size_t r = 0; r < q->msgs[i].nrcpts; r++) {
				assert_string_equal(q->msgs[i].rcpts[r].address,
				                    q2->msgs[i].rcpts[r].address);
				assert_int_equal(q->msgs[i].rcpts[r].why, q2->msgs[i].rcpts[r].why);
			}
		}
		mh_queue_free(&q);
		mh_queue_free(&q2);
		free(crlf);
		free(buf);
	}
}

/* ---- mailhole queue: the document and the exit codes --------------------------- */

static char tmpdir[64];

static int setup_tmp(void **state)
{
	(void)state;
	mh_strlcpy(tmpdir, "/tmp/test_queue-XXXXXX", sizeof(tmpdir));
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Runs mailhole queue ARGS... (NULL-terminated); -o is added when doc != NULL. */
static int run(struct json_object **doc, ...)
{
	char *argv[32], out[256], now[32];
	int argc = 0, rc;
	va_list ap;

	argv[argc++] = (char *)"queue";
	va_start(ap, doc);
	for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 26;)
		argv[argc++] = a;
	va_end(ap);
	snprintf(now, sizeof(now), "%d", TAKEN);
	argv[argc++] = (char *)"--now";
	argv[argc++] = now;
	argv[argc++] = (char *)"--quiet";
	snprintf(out, sizeof(out), "%s/out.json", tmpdir);
	unlink(out);
	if (doc) {
		argv[argc++] = (char *)"-o";
		argv[argc++] = out;
	}
	argv[argc] = NULL;
	rc = mh_cmd_queue(argc, argv);
	if (doc) {
		char err[MH_ERRLEN];
		*doc = NULL;
		if (access(out, F_OK) == 0 && mh_doc_load(out, doc, err, sizeof(err)) < 0)
			fail_msg("%s", err);
	}
	return rc;
}

static struct json_object *at(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		path += n + (path[n] == '.');
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)strtoul(key, NULL, 10));
		else if (!json_object_object_get_ex(o, key, &o))
			return NULL;
	}
	return o;
}

static const char *at_str(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int64_t at_int(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);
	if (!v)
		fail_msg("no %s", path);
	return json_object_get_int64(v);
}

static void test_cmd_postfix(void **state)
{
	struct json_object *doc;
	char pol[256], hosts[256];

	(void)state;
	put("pol.json", "{ \"domain\": \"lab.test\" }\n");
	snprintf(pol, sizeof(pol), "%s/pol.json", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--policy", pol, NULL),
	                 MH_EXIT_FINDINGS);
	assert_non_null(doc);
	assert_string_equal(at_str(doc, "scan.command"), "queue");
	assert_int_equal(at_int(doc, "summary.hosts"), 2);
	assert_int_equal(at_int(doc, "summary.findings.high"), 2);
	assert_string_equal(at_str(doc, "hosts.0.addr"), "198.18.60.5");
	assert_string_equal(at_str(doc, "hosts.0.names.0"), "host-a.lab.test");
	assert_string_equal(at_str(doc, "hosts.0.findings.0.id"), "relay-queue-black-hole");
	assert_string_equal(at_str(doc, "hosts.0.findings.0.severity"), "high");
	assert_non_null(strstr(at_str(doc, "hosts.0.findings.0.evidence"),
	                       "host-a.lab.test: 2 recipients in 1 message (2 connection-refused), "
	                       "oldest 2026-12-08T04:27:59Z (1h 0m old); postfix gives up "
	                       "2026-12-13T04:27:59Z (in 4d 23h); no delay warning"));
	assert_non_null(strstr(at_str(doc, "hosts.0.findings.0.remediation"), "myorigin"));
	assert_string_equal(at_str(doc, "hosts.0.queue.0.domain"), "host-a.lab.test");
	assert_string_equal(at_str(doc, "hosts.1.addr"), "198.18.62.6");
	assert_string_equal(at_str(doc, "hosts.1.queue.0.reason_class"), "timed-out");
	assert_string_equal(at_str(doc, "queue.format"), "postfix-json");
	assert_true(json_object_get_boolean(at(doc, "queue.format_detected")));
	assert_true(json_object_get_boolean(at(doc, "queue.complete")));
	assert_int_equal(at_int(doc, "queue.messages"), 3);
	assert_int_equal(at_int(doc, "queue.recipients"), 5);
	assert_int_equal(at_int(doc, "queue.lifetime.seconds"), 432000);
	assert_false(json_object_get_boolean(at(doc, "queue.lifetime.warns")));
	assert_int_equal(json_object_array_length(at(doc, "queue.destinations")), 4);
	assert_string_equal(at_str(doc, "queue.destinations.0.addr_from"), "delay reason");
	assert_int_equal(at_int(doc, "queue.destinations.0.oldest_age_s"), 3600);
	assert_int_equal(at_int(doc, "queue.destinations.0.gives_up_in_s"), 432000 - 3600);
	/* host-d: a fleet host, but unreachable (no route) is not this rule */
	assert_string_equal(at_str(doc, "queue.destinations.2.domain"), "host-d.lab.test");
	assert_true(json_object_get_boolean(at(doc, "queue.destinations.2.fleet")));
	assert_null(at(doc, "queue.destinations.2.finding"));
	assert_false(json_object_get_boolean(at(doc, "queue.destinations.3.fleet")));
	json_object_put(doc);

	/* --hosts instead of the policy: only the names given */
	put("hosts", "# fleet\nHOST-B.lab.test.\n\nhost-d.lab.test\n");
	snprintf(hosts, sizeof(hosts), "%s/hosts", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--hosts", hosts, NULL),
	                 MH_EXIT_FINDINGS);
	assert_int_equal(at_int(doc, "summary.hosts"), 1);
	assert_string_equal(at_str(doc, "hosts.0.names.0"), "host-b.lab.test");
	json_object_put(doc);

	/* no fleet at all: nothing to find */
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", NULL), MH_EXIT_OK);
	assert_int_equal(at_int(doc, "summary.hosts"), 0);
	json_object_put(doc);
}

static void test_cmd_policy(void **state)
{
	struct json_object *doc;
	char pol[256];

	(void)state;
	put("low.json", "{ \"domain\": \"lab.test\", "
	                "\"severity\": { \"relay-queue-black-hole\": \"low\" } }\n");
	snprintf(pol, sizeof(pol), "%s/low.json", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--policy", pol, NULL), MH_EXIT_OK);
	assert_string_equal(at_str(doc, "hosts.0.findings.0.severity"), "low");
	json_object_put(doc);
	assert_int_equal(
	    run(&doc, QF "/postfix-defer.jsonl", "--policy", pol, "--fail-on", "low", NULL),
	    MH_EXIT_FINDINGS);
	json_object_put(doc);

	put("sup.json", "{ \"domain\": \"lab.test\", \"suppress\": [ { \"rule\": "
	                "\"relay-queue-black-hole\", \"host\": \"host-a.lab.test\", \"reason\": "
	                "\"decommissioned\", \"until\": \"2099-12-31\" } ] }\n");
	snprintf(pol, sizeof(pol), "%s/sup.json", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--policy", pol, NULL),
	                 MH_EXIT_FINDINGS); /* host-b still counts */
	assert_int_equal(at_int(doc, "summary.findings.high"), 1);
	assert_string_equal(at_str(doc, "hosts.0.suppressed.0.reason"), "decommissioned");
	json_object_put(doc);

	/* excludes: by address and by name (resolved, as every exclude is) */
	put("excl.json", "{ \"domain\": \"lab.test\", \"exclude\": [ \"198.18.60.5\", "
	                 "\"host-b.lab.test\" ] }\n");
	snprintf(pol, sizeof(pol), "%s/excl.json", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--policy", pol, NULL), MH_EXIT_OK);
	assert_int_equal(at_int(doc, "summary.hosts"), 0);
	assert_true(json_object_get_boolean(at(doc, "queue.destinations.0.excluded")));
	assert_null(at(doc, "queue.destinations.0.finding"));
	assert_true(json_object_get_boolean(at(doc, "queue.destinations.1.excluded")));
	json_object_put(doc);
	put("excl1.json", "{ \"domain\": \"lab.test\", \"exclude\": [ \"198.18.60.0/24\" ] }\n");
	snprintf(pol, sizeof(pol), "%s/excl1.json", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--policy", pol, NULL),
	                 MH_EXIT_FINDINGS);
	assert_int_equal(at_int(doc, "summary.hosts"), 1);
	assert_string_equal(at_str(doc, "hosts.0.addr"), "198.18.62.6");
	assert_string_equal(at_str(doc, "hosts.0.queue.0.domain"), "host-b.lab.test");
	json_object_put(doc);

	/* the relay's lifetime and warning, from its main.cf or the option */
	put("main.cf", "# relay\nmaximal_queue_lifetime = 2d\n"
	               "mywarn = 4h\ndelay_warning_time = $mywarn\n");
	snprintf(pol, sizeof(pol), "%s/main.cf", tmpdir);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--hosts", QF "/../queue/empty.txt",
	                     "--main-cf", pol, NULL),
	                 MH_EXIT_OK);
	assert_int_equal(at_int(doc, "queue.lifetime.seconds"), 2 * 86400);
	assert_int_equal(at_int(doc, "queue.lifetime.warn_after_s"), 4 * 3600);
	assert_true(json_object_get_boolean(at(doc, "queue.lifetime.warns")));
	assert_string_equal(at_str(doc, "queue.lifetime.source"), "main.cf maximal_queue_lifetime");
	json_object_put(doc);
	assert_int_equal(run(&doc, QF "/postfix-defer.jsonl", "--main-cf", pol, "--queue-lifetime",
	                     "7200", NULL),
	                 MH_EXIT_OK);
	assert_int_equal(at_int(doc, "queue.lifetime.seconds"), 7200);
	assert_int_equal(at_int(doc, "queue.destinations.0.gives_up_in_s"), 3600);
	json_object_put(doc);
	put("bad.cf", "maximal_queue_lifetime = soon\n");
	snprintf(pol, sizeof(pol), "%s/bad.cf", tmpdir);
	assert_int_equal(run(NULL, QF "/postfix-defer.jsonl", "--main-cf", pol, NULL),
	                 MH_EXIT_USAGE);
}

static void test_cmd_sendmail_exim(void **state)
{
	struct json_object *doc;
	char pol[256];

	(void)state;
	put("pol.json", "{ \"domain\": \"lab.test\" }\n");
	snprintf(pol, sizeof(pol), "%s/pol.json", tmpdir);
	/* Sendmail names hosts, not addresses: resolved (host-a, host-b); host-d left out */
	assert_int_equal(run(&doc, QF "/sendmail-mailq.txt", "--policy", pol, NULL),
	                 MH_EXIT_FINDINGS);
	assert_int_equal(at_int(doc, "summary.hosts"), 2);
	assert_string_equal(at_str(doc, "hosts.0.addr"), "198.18.60.5");
	assert_string_equal(at_str(doc, "hosts.0.queue.0.addr_from"), "resolved");
	assert_non_null(strstr(at_str(doc, "hosts.0.findings.0.evidence"),
	                       "sendmail gives up 2026-12-13T04:28:00Z"));
	assert_non_null(
	    strstr(at_str(doc, "hosts.0.findings.0.evidence"), "senders warned after 4h"));
	assert_string_equal(at_str(doc, "hosts.1.addr"), "198.18.62.6");
	assert_true(json_object_get_boolean(at(doc, "queue.lifetime.warns")));
	json_object_put(doc);

	/* Exim: no reasons; waiting at a fleet host is enough; 4 days */
	assert_int_equal(run(&doc, QF "/exim-bp.txt", "--policy", pol, NULL), MH_EXIT_FINDINGS);
	assert_int_equal(at_int(doc, "summary.hosts"), 2);
	assert_string_equal(at_str(doc, "hosts.0.queue.0.reason_class"), "unknown");
	assert_int_equal(at_int(doc, "hosts.0.queue.0.recipients"), 3);
	assert_int_equal(at_int(doc, "queue.lifetime.seconds"), 4 * 86400);
	assert_true(json_object_get_boolean(at(doc, "queue.client_queue")) == false);
	json_object_put(doc);
}

static void test_cmd_bad_input(void **state)
{
	struct json_object *doc;
	char pol[256];

	(void)state;
	put("pol.json", "{ \"domain\": \"lab.test\" }\n");
	snprintf(pol, sizeof(pol), "%s/pol.json", tmpdir);
	/* a broken line: exit 2, but the document holds what came before */
	assert_int_equal(run(&doc, QF "/postfix-fatal.jsonl", "--policy", pol, NULL),
	                 MH_EXIT_USAGE);
	assert_non_null(doc);
	assert_false(json_object_get_boolean(at(doc, "queue.complete")));
	assert_false(json_object_get_boolean(at(doc, "scan.complete")));
	assert_non_null(strstr(at_str(doc, "queue.error"), "postfix-fatal.jsonl line 2:"));
	assert_int_equal(at_int(doc, "queue.messages"), 1);
	assert_int_equal(at_int(doc, "summary.hosts"), 2);
	json_object_put(doc);

	assert_int_equal(run(&doc, QF "/unknown.txt", NULL), MH_EXIT_USAGE);
	assert_null(doc);
	assert_int_equal(run(NULL, QF "/no-such-file", NULL), MH_EXIT_USAGE);
	assert_int_equal(run(NULL, QF "/exim-bp.txt", "--format", "qmail", NULL), MH_EXIT_USAGE);
	assert_int_equal(run(NULL, QF "/exim-bp.txt", "--queue-lifetime", "0", NULL),
	                 MH_EXIT_USAGE);
	assert_int_equal(run(NULL, QF "/exim-bp.txt", "--bogus", NULL), MH_EXIT_USAGE);
	assert_int_equal(run(NULL, NULL), MH_EXIT_USAGE);
	put("badhosts", "host-a.lab.test\nhost a\n");
	snprintf(pol, sizeof(pol), "%s/badhosts", tmpdir);
	assert_int_equal(run(NULL, QF "/exim-bp.txt", "--hosts", pol, NULL), MH_EXIT_USAGE);
	/* the format forced, against the text */
	assert_int_equal(run(&doc, QF "/exim-bp.txt", "--format", "postfix-json", NULL),
	                 MH_EXIT_USAGE);
	assert_non_null(doc);
	assert_false(json_object_get_boolean(at(doc, "queue.format_detected")));
	json_object_put(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_reason_addr),
	    cmocka_unit_test(test_host_under),
	    cmocka_unit_test(test_lifetimes),
	    cmocka_unit_test(test_postfix),
	    cmocka_unit_test(test_sendmail),
	    cmocka_unit_test(test_sendmail_client_queues),
	    cmocka_unit_test(test_exim),
	    cmocka_unit_test(test_text_details),
	    cmocka_unit_test(test_broken),
	    cmocka_unit_test(test_prefixes_and_crlf),
	    cmocka_unit_test_setup_teardown(test_cmd_postfix, setup_tmp, teardown_tmp),
	    cmocka_unit_test_setup_teardown(test_cmd_policy, setup_tmp, teardown_tmp),
	    cmocka_unit_test_setup_teardown(test_cmd_sendmail_exim, setup_tmp, teardown_tmp),
	    cmocka_unit_test_setup_teardown(test_cmd_bad_input, setup_tmp, teardown_tmp),
	};

	/* Sendmail's listing gives local times: read them as UTC here */
	setenv("TZ", "UTC", 1);
	tzset();
	mh_log_set_level(MH_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
