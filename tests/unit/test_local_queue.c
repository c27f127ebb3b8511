/*
 * test_local_queue.c -- the outgoing path when no daemon listens
 * (probes/local_queue.c) over fixture trees (tests/fixtures/local-queue,
 * read as --root trees; the queue files' mtimes are set here): which
 * commands run a queue, cron entries (Debian's cron.d/sendmail form,
 * /etc/crontab, users' crontabs), systemd timers (enabled, masked), queue
 * runner processes in a /proc tree made here, the local queues (Sendmail
 * qf files in qf/ subfolders, Postfix's hashed folders), Sendmail's MSP
 * pointing at a loopback where nothing listens, and the findings
 * no-queue-runner and local-queue-stuck with their JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/local.h"
#include "mailhole/mta.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

#define LQ MH_FIXTURES "/local-queue"

static int64_t now;

static void set_age(const char *path, int64_t age)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)(now - age);
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0)
		fail_msg("utimensat %s", path);
}

static void test_command(void **state)
{
	static const struct {
		const char *line;
		unsigned want;
	} cases[] = {
	    {"*/15 * * * * root /usr/sbin/sendmail -q", MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM},
	    {"sendmail -q15m", MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM},
	    {"/usr/sbin/sendmail -L sm-msp-queue -Ac -qp", MH_QR_CLIENT},
	    {"test -x /usr/sbin/sendmail && sendmail -Ac -q", MH_QR_CLIENT},
	    {"test -x /usr/sbin/sendmail -q", 0},
	    {"/usr/share/sendmail/sendmail cron-msp", MH_QR_CLIENT},
	    {"/usr/share/sendmail/sendmail cron-mta", MH_QR_MQUEUE},
	    {"postqueue -f", MH_QR_POSTFIX},
	    {"postqueue -p | mail root", 0},
	    {"/usr/sbin/postfix flush", MH_QR_POSTFIX},
	    {"postfix reload", 0},
	    {"exim4 -qff", MH_QR_EXIM},
	    {"exim -bpc", 0},
	    {"runq", MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM},
	    {"smtpctl schedule all", MH_QR_OPENSMTPD},
	    {"mailq | mail -s queue root", 0},
	    {"# sendmail -q", 0},
	    {"echo hi; \"/usr/sbin/sendmail\" '-q'", MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM},
	    {"", 0},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = mh_queue_command(cases[i].line, strlen(cases[i].line));
		if (got != cases[i].want)
			fail_msg("'%s': %#x, %#x expected", cases[i].line, got, cases[i].want);
	}
	/* a very long line, a line of separators: no crash, nothing */
	{
		char *big = malloc(100000);
		assert_non_null(big);
		memset(big, 'a', 99999);
		big[99999] = '\0';
		assert_int_equal(mh_queue_command(big, 99999), 0);
		memset(big, ';', 99999);
		assert_int_equal(mh_queue_command(big, 99999), 0);
		for (size_t i = 0; i < 99998; i += 2)
			memcpy(big + i, "q ", 2);
		assert_int_equal(mh_queue_command(big, 99998), 0);
		free(big);
	}
}

static struct mh_mta_config *sendmail_conf(const char *root)
{
	struct mh_mta_config *m = malloc(sizeof(*m));
	char cf[512], submit[512], err[MH_ERRLEN];

	assert_non_null(m);
	snprintf(cf, sizeof(cf), "%s/etc/mail/sendmail.cf", root);
	snprintf(submit, sizeof(submit), "%s/etc/mail/submit.cf", root);
	mh_mta_config_init(m);
	if (mh_sendmail_read(cf, submit, NULL, m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return m;
}

static struct mh_mta_config *postfix_conf(const char *root)
{
	struct mh_mta_config *m = malloc(sizeof(*m));
	char dir[512], err[MH_ERRLEN];

	assert_non_null(m);
	snprintf(dir, sizeof(dir), "%s/etc/postfix", root);
	mh_mta_config_init(m);
	if (mh_postfix_read(dir, "host-p.lab.test", m, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return m;
}

static const struct mh_local_queue *queue(const struct mh_local_queues *q, const char *name)
{
	for (unsigned i = 0; i < q->nq; i++)
		if (!strcmp(q->q[i].name, name))
			return &q->q[i];
	return NULL;
}

/* A local record with a loopback row whose 25 is closed (or listening). */
static struct mh_local *loopback_table(bool listening)
{
	struct mh_local *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->addrs = calloc(2, sizeof(*l->addrs));
	assert_non_null(l->addrs);
	l->naddrs = 2;
	mh_strlcpy(l->addrs[0].ifname, "lo", sizeof(l->addrs[0].ifname));
	assert_int_equal(mh_addr_parse("127.0.0.1", &l->addrs[0].addr), 0);
	l->addrs[0].loopback = true;
	l->addrs[0].cell[0] = listening ? MH_CELL_LISTENING : MH_CELL_CLOSED;
	mh_strlcpy(l->addrs[1].ifname, "eth0", sizeof(l->addrs[1].ifname));
	assert_int_equal(mh_addr_parse("198.18.0.13", &l->addrs[1].addr), 0);
	/* 587 on every address: the default MSA, not what the MSP talks to */
	l->addrs[0].cell[2] = l->addrs[1].cell[2] = MH_CELL_LISTENING;
	l->exposure = MH_EXPOSURE_EXPOSED;
	l->agree = true;
	return l;
}

static void test_sendmail_stuck(void **state)
{
	const char *root = LQ "/sendmail-stuck";
	struct mh_queue_opts o = {.root = root, .proc_root = NULL, .now = now};
	struct mh_local_queues q;
	struct mh_mta_config *m = sendmail_conf(root);
	const struct mh_local_queue *cq, *mq;
	struct mh_local *l;
	struct mh_host *h;
	struct mh_addr a;
	struct json_object *jo, *v;

	(void)state;
	set_age(LQ "/sendmail-stuck/var/spool/clientmqueue/qf4B8A1c2N000123", 300);
	set_age(LQ "/sendmail-stuck/var/spool/clientmqueue/qf4B8A1c2N000456", 60);
	/* without a table (--root): stuck because nothing runs the queue */
	assert_int_equal(mh_local_queues_gather(&o, m, NULL, &q), 0);
	assert_int_equal(q.nr, 0);
	assert_false(q.processes_seen);
	assert_int_equal(q.needs, MH_QR_MQUEUE | MH_QR_CLIENT);
	assert_int_equal(q.missing, MH_QR_MQUEUE | MH_QR_CLIENT);
	assert_non_null(strstr(q.missing_why, "Sendmail's MTA queue"));
	assert_non_null(strstr(q.missing_why, "processes not looked at"));
	mq = queue(&q, "sendmail-mqueue");
	cq = queue(&q, "sendmail-clientmqueue");
	assert_non_null(mq);
	assert_non_null(cq);
	assert_string_equal(mq->path, "/var/spool/mqueue");
	assert_true(mq->seen);
	assert_int_equal(mq->count, 0); /* .keep is not a qf file */
	assert_false(mq->stuck);
	assert_string_equal(cq->path, "/var/spool/clientmqueue");
	assert_int_equal(cq->count, 2); /* qf files only, not df */
	assert_int_equal(cq->oldest, now - 300);
	assert_int_equal(cq->oldest_age_s, 300);
	assert_true(cq->stuck);
	assert_string_equal(cq->why, "nothing runs this queue");
	assert_string_equal(q.msp_host, "[127.0.0.1]");
	assert_int_equal(q.msp_port, 25);
	assert_string_equal(q.msp_where, "submit.cf:113");
	assert_true(q.msp_loopback);
	assert_int_equal(q.msp_listening, MH_TRI_UNKNOWN);

	/* live, with the table: 127.0.0.1:25 closed -> the MSP cannot hand over */
	l = loopback_table(false);
	o.root = root;
	assert_int_equal(mh_local_queues_gather(&o, m, l, &q), 0);
	assert_int_equal(q.msp_listening, MH_TRI_NO);
	cq = queue(&q, "sendmail-clientmqueue");
	assert_true(cq->stuck);
	assert_string_equal(cq->why, "submit.cf sends to [127.0.0.1] port 25 (submit.cf:113), "
	                             "where nothing listens");

	/* the findings and the JSON */
	l->mta = m;
	l->queues = malloc(sizeof(*l->queues));
	assert_non_null(l->queues);
	*l->queues = q;
	assert_int_equal(mh_addr_parse("198.18.0.13", &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	h->local = l;
	mh_classify(h);
	{
		bool nqr = false, stuck = false;
		for (unsigned i = 0; i < h->nfindings; i++) {
			const struct mh_finding *f = &h->findings[i];
			if (!strcmp(f->rule->id, "no-queue-runner")) {
				nqr = true;
				assert_non_null(strstr(f->evidence, "nothing runs Sendmail's MTA"));
				assert_non_null(strstr(f->remediation, "sendmail -q"));
			}
			if (!strcmp(f->rule->id, "local-queue-stuck")) {
				stuck = true;
				assert_int_equal(f->severity, MH_SEV_HIGH);
				assert_string_equal(
				    f->evidence,
				    "/var/spool/clientmqueue: 2 messages, oldest 300 s; submit.cf "
				    "sends to [127.0.0.1] port 25 (submit.cf:113), where nothing "
				    "listens");
			}
		}
		assert_true(nqr);
		assert_true(stuck);
	}
	jo = mh_host_to_json(h);
	assert_non_null(jo);
	assert_true(json_object_object_get_ex(jo, "local", &v));
	{
		struct json_object *qa, *qr, *e, *x;
		assert_true(json_object_object_get_ex(v, "queue", &qa));
		assert_int_equal(json_object_array_length(qa), 2);
		e = json_object_array_get_idx(qa, 1);
		assert_true(json_object_object_get_ex(e, "name", &x));
		assert_string_equal(json_object_get_string(x), "sendmail-clientmqueue");
		assert_true(json_object_object_get_ex(e, "count", &x));
		assert_int_equal(json_object_get_int(x), 2);
		assert_true(json_object_object_get_ex(e, "oldest_age_s", &x));
		assert_int_equal(json_object_get_int(x), 300);
		assert_true(json_object_object_get_ex(e, "oldest", &x));
		assert_int_equal(strlen(json_object_get_string(x)), 20);
		assert_true(json_object_object_get_ex(v, "queue_runner", &qr));
		assert_true(json_object_object_get_ex(qr, "found", &x));
		assert_false(json_object_get_boolean(x));
		assert_true(json_object_object_get_ex(qr, "missing", &x));
		assert_int_equal(json_object_array_length(x), 2);
		assert_true(json_object_object_get_ex(qr, "msp", &e));
		assert_true(json_object_object_get_ex(e, "listening", &x));
		assert_false(json_object_get_boolean(x));
	}
	json_object_put(jo);
	h->local = NULL;
	mh_host_free(&h);
	mh_local_free(&l);

	/* 127.0.0.1:25 listening: the MSP hands over; still no runner */
	l = loopback_table(true);
	m = sendmail_conf(root);
	assert_int_equal(mh_local_queues_gather(&o, m, l, &q), 0);
	assert_int_equal(q.msp_listening, MH_TRI_YES);
	assert_string_equal(queue(&q, "sendmail-clientmqueue")->why, "nothing runs this queue");
	free(m);
	mh_local_free(&l);
}

static void test_sendmail_cron(void **state)
{
	const char *root = LQ "/sendmail-cron";
	struct mh_queue_opts o = {.root = root, .proc_root = NULL, .now = now};
	struct mh_local_queues q;
	struct mh_mta_config *m = sendmail_conf(root);
	const struct mh_local_queue *mq, *cq;

	(void)state;
	set_age(LQ "/sendmail-cron/var/spool/mqueue/qf/qf4B8A1c2N000789", 7200);
	assert_int_equal(mh_local_queues_gather(&o, m, NULL, &q), 0);
	assert_int_equal(q.nr, 2);
	assert_string_equal(q.r[0].kind, "cron");
	assert_string_equal(q.r[0].where, "/etc/crontab:5");
	assert_int_equal(q.r[0].covers, MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM);
	assert_true(q.r[0].active);
	assert_string_equal(q.r[1].where, "/etc/cron.d/sendmail:11");
	assert_int_equal(q.r[1].covers, MH_QR_CLIENT);
	assert_int_equal(q.missing, 0);
	assert_string_equal(q.missing_why, "");
	mq = queue(&q, "sendmail-mqueue");
	cq = queue(&q, "sendmail-clientmqueue");
	assert_int_equal(mq->count, 1); /* in the qf/ subfolder */
	assert_int_equal(mq->oldest_age_s, 7200);
	assert_true(mq->covered);
	assert_true(mq->stuck);
	assert_non_null(strstr(mq->why, "waited 7200 s"));
	assert_string_equal(cq->path, "/var/spool/mqueue-client"); /* submit.cf's QueueDirectory */
	assert_int_equal(cq->count, 0);
	assert_false(cq->stuck);
	/* younger than an hour, with a runner: waiting, not stuck */
	set_age(LQ "/sendmail-cron/var/spool/mqueue/qf/qf4B8A1c2N000789", 600);
	assert_int_equal(mh_local_queues_gather(&o, m, NULL, &q), 0);
	assert_false(queue(&q, "sendmail-mqueue")->stuck);
	free(m);
}

static void test_postfix_timer(void **state)
{
	const char *root = LQ "/postfix-timer";
	struct mh_queue_opts o = {.root = root, .proc_root = NULL, .now = now};
	struct mh_local_queues q;
	struct mh_mta_config *m = postfix_conf(root);
	const struct mh_local_queue *d;

	(void)state;
	set_age(LQ "/postfix-timer/var/spool/postfix/deferred/A/A1B2C3D4E5", 900);
	assert_int_equal(mh_local_queues_gather(&o, m, NULL, &q), 0);
	assert_int_equal(q.nr, 1);
	assert_string_equal(q.r[0].kind, "timer");
	assert_string_equal(q.r[0].where,
	                    "postfix-flush.timer -> /lib/systemd/system/postfix-flush.service");
	assert_string_equal(q.r[0].what, "/usr/sbin/postqueue -f");
	assert_true(q.r[0].active);
	assert_int_equal(q.missing, 0);
	assert_int_equal(q.nq, 3); /* maildrop, active, deferred; no incoming folder */
	d = queue(&q, "postfix-deferred");
	assert_string_equal(d->path, "/var/spool/postfix/deferred");
	assert_int_equal(d->count, 1);
	assert_int_equal(d->oldest_age_s, 900);
	assert_false(d->stuck);
	assert_int_equal(queue(&q, "postfix-maildrop")->count, 0);
	assert_null(queue(&q, "postfix-incoming"));
	free(m);
}

static void test_postfix_masked(void **state)
{
	const char *root = LQ "/postfix-masked";
	struct mh_queue_opts o = {.root = root, .proc_root = NULL, .now = now};
	struct mh_local_queues q;
	struct mh_mta_config *m = postfix_conf(root);
	const struct mh_local_queue *d;

	(void)state;
	set_age(LQ "/postfix-masked/var/spool/postfix/maildrop/1F2E3D4C5B", 30);
	assert_int_equal(mh_local_queues_gather(&o, m, NULL, &q), 0);
	assert_int_equal(q.nr, 1); /* the masked timer, not active; mary's mailq is nothing */
	assert_false(q.r[0].active);
	assert_int_equal(q.missing, MH_QR_POSTFIX);
	d = queue(&q, "postfix-maildrop");
	assert_int_equal(d->count, 1);
	assert_true(d->stuck);
	assert_false(d->covered);
	free(m);
}

/* A /proc tree: queue runners by their titles, a Postfix master. */
static void write_proc(const char *dir, const char *pid, const char *comm, const char *cmd,
                       size_t cmdlen)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/comm", dir, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", comm);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s/cmdline", dir, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(cmd, 1, cmdlen, f);
	fclose(f);
}

static void test_processes(void **state)
{
	char tmpl[] = "/tmp/mh-lq-XXXXXX", cmd[256];
	char *dir = mkdtemp(tmpl);
	struct mh_queue_opts o = {.root = LQ "/sendmail-stuck", .now = now};
	struct mh_local_queues q;
	struct mh_mta_config *m = sendmail_conf(LQ "/sendmail-stuck");
	static const char t1[] = "sendmail: Queue runner@00:00:05 for /var/spool/clientmqueue";
	static const char t2[] = "sendmail: MTA: accepting connections";
	static const char t3[] = "/usr/lib/postfix/sbin/master\0-w";
	static const char t4[] = "/usr/sbin/sendmail\0-bd\0-q5s";

	(void)state;
	assert_non_null(dir);
	write_proc(dir, "100", "sendmail", t1, sizeof(t1)); /* a title and its NUL padding */
	write_proc(dir, "101", "sendmail", t2, sizeof(t2));
	write_proc(dir, "102", "master", t3, sizeof(t3));
	write_proc(dir, "103", "sendmail-mta", t4, sizeof(t4));
	write_proc(dir, "104", "bash", "bash", 4);
	o.proc_root = dir;
	assert_int_equal(mh_local_queues_gather(&o, m, NULL, &q), 0);
	assert_true(q.processes_seen);
	assert_int_equal(q.nr, 3);
	for (unsigned i = 0; i < q.nr; i++) {
		if (!strcmp(q.r[i].where, "pid 100")) {
			assert_int_equal(q.r[i].covers, MH_QR_CLIENT);
			assert_string_equal(q.r[i].what, t1);
		} else if (!strcmp(q.r[i].where, "pid 102")) {
			assert_string_equal(q.r[i].kind, "daemon");
			assert_int_equal(q.r[i].covers, MH_QR_POSTFIX);
		} else if (!strcmp(q.r[i].where, "pid 103")) {
			assert_int_equal(q.r[i].covers, MH_QR_MQUEUE);
			assert_string_equal(q.r[i].what, "/usr/sbin/sendmail -bd -q5s");
		} else {
			fail_msg("unexpected runner %s", q.r[i].where);
		}
	}
	assert_int_equal(q.missing, 0);
	/* pid 101's arguments (its pid file, under fd/) cannot be read */
	assert_int_equal(q.unsure, MH_QR_MQUEUE);
	assert_int_equal(q.nnotes, 1);
	assert_non_null(strstr(q.notes[0], "sendmail daemon (pid 101): its arguments"));
	/* clean up the tree */
	for (int p = 100; p <= 104; p++) {
		snprintf(cmd, sizeof(cmd), "%s/%d/comm", dir, p);
		unlink(cmd);
		snprintf(cmd, sizeof(cmd), "%s/%d/cmdline", dir, p);
		unlink(cmd);
		snprintf(cmd, sizeof(cmd), "%s/%d", dir, p);
		rmdir(cmd);
	}
	rmdir(dir);
	free(m);
}

static void test_unseen_and_judge(void **state)
{
	struct mh_local_queue e;
	struct mh_local_queues q;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.covers = MH_QR_POSTFIX;
	mh_local_queue_count(&e, "/nonexistent/deferred", now);
	assert_false(e.seen);
	assert_string_equal(e.unseen, "No such file or directory");
	/* a queue not seen is never stuck; an unknown product needs nothing */
	memset(&q, 0, sizeof(q));
	q.q[0] = e;
	q.nq = 1;
	mh_local_queues_judge(&q, NULL);
	assert_int_equal(q.needs, 0);
	assert_false(q.q[0].stuck);
	mh_local_queues_judge(&q, "opensmtpd");
	assert_int_equal(q.missing, MH_QR_OPENSMTPD);
	assert_non_null(strstr(q.missing_why, "OpenSMTPD"));
	/* a runner that may exist but could not be checked: not "missing" */
	memset(&q, 0, sizeof(q));
	q.unsure = MH_QR_MQUEUE;
	mh_local_queues_judge(&q, "sendmail");
	assert_int_equal(q.needs, MH_QR_MQUEUE);
	assert_int_equal(q.missing, 0);
	assert_string_equal(q.missing_why, "");
}

/* exposed-smtp names Sendmail's default MSA when 587 is what is open. */
static void test_default_msa(void **state)
{
	struct mh_local *l = loopback_table(true);
	struct mh_host *h;
	struct mh_addr a;
	bool seen = false;

	(void)state;
	l->mta = sendmail_conf(LQ "/sendmail-stuck"); /* plain.cf: the MSA at sendmail.cf:236 */
	assert_int_equal(mh_addr_parse("198.18.0.13", &a), 0);
	h = mh_host_new(&a);
	assert_non_null(h);
	h->local = l;
	mh_classify(h);
	for (unsigned i = 0; i < h->nfindings; i++)
		if (!strcmp(h->findings[i].rule->id, "exposed-smtp")) {
			seen = true;
			assert_string_equal(
			    h->findings[i].evidence,
			    "listening: 198.18.0.13:587; 587 is Sendmail's default MSA "
			    "(sendmail.cf:236, no FEATURE(no_default_msa))");
		}
	assert_true(seen);
	h->local = NULL;
	mh_host_free(&h);
	mh_local_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_command),          cmocka_unit_test(test_sendmail_stuck),
	    cmocka_unit_test(test_sendmail_cron),    cmocka_unit_test(test_postfix_timer),
	    cmocka_unit_test(test_postfix_masked),   cmocka_unit_test(test_processes),
	    cmocka_unit_test(test_unseen_and_judge), cmocka_unit_test(test_default_msa),
	};
	now = (int64_t)time(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
