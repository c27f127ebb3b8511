/*
 * test_collect.c -- the collector mailbox (probes/collect.c,
 * probes/collect_imap.c): a Maildir made here under a temp dir (order by
 * mtime then name, new/ and cur/ but never tmp/, keys, delete, a file over
 * MH_MAIL_MAX skipped and counted, symlinks skipped), the password reader
 * (file and environment, the refusals), URL errors, a connection refused
 * on 127.0.0.1, and the two IMAP answer parsers on Dovecot-shaped answers.
 * The IMAP transport itself runs against a real Dovecot in
 * tests/lab/lab_collect.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/collect.h"
#include "mailhole/common.h"
#include "mailhole/mail.h"

/* ---- a Maildir under a temp dir -------------------------------------------- */

struct tmpmd {
	char root[256]; /* the temp dir */
	char md[300];   /* root/Maildir */
};

static void rm_rf(const char *path)
{
	char cmd[600];

	/* only ever our own mkdtemp directory under /tmp */
	assert_true(strncmp(path, "/tmp/mh-test-collect.", 21) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void put(const struct tmpmd *t, const char *sub, const char *name, const char *text,
                time_t mtime, long nsec)
{
	char p[600];
	struct timespec ts[2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s/%s", t->md, sub, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	ts[0].tv_sec = ts[1].tv_sec = mtime;
	ts[0].tv_nsec = ts[1].tv_nsec = nsec;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static int md_setup(void **state)
{
	struct tmpmd *t = calloc(1, sizeof(*t));
	char p[400];

	assert_non_null(t);
	snprintf(t->root, sizeof(t->root), "/tmp/mh-test-collect.XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->md, sizeof(t->md), "%s/Maildir", t->root);
	assert_int_equal(mkdir(t->md, 0700), 0);
	snprintf(p, sizeof(p), "%s/new", t->md);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/cur", t->md);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/tmp", t->md);
	assert_int_equal(mkdir(p, 0700), 0);
	*state = t;
	return 0;
}

static int md_teardown(void **state)
{
	struct tmpmd *t = *state;

	rm_rf(t->root);
	free(t);
	return 0;
}

/* What the callback saw. */
struct seen {
	unsigned n;
	char keys[16][128];
	char first[16][64]; /* the first line of each message */
	uint64_t uids[16];
	size_t lens[16];
	int stop_at; /* return -7 for this index (0-based); -1 never */
	struct mh_collector *c;
	const char *delete_in_cb; /* key to delete from inside the callback */
};

static int record(void *arg, const char *key, uint64_t uid, const char *msg, size_t len)
{
	struct seen *s = arg;
	size_t fl = strcspn(msg, "\n");

	if (s->stop_at >= 0 && (unsigned)s->stop_at == s->n)
		return -7;
	assert_true(s->n < 16);
	mh_strlcpy(s->keys[s->n], key, sizeof(s->keys[0]));
	if (fl >= sizeof(s->first[0]))
		fl = sizeof(s->first[0]) - 1;
	memcpy(s->first[s->n], msg, fl);
	s->first[s->n][fl] = '\0';
	assert_int_equal(msg[len], '\0'); /* NUL-terminated for convenience */
	s->uids[s->n] = uid;
	s->lens[s->n] = len;
	if (s->delete_in_cb && !strcmp(key, s->delete_in_cb)) {
		char err[MH_ERRLEN];
		assert_int_equal(mh_collect_delete(s->c, key, err, sizeof(err)), 0);
	}
	s->n++;
	return 0;
}

static struct mh_collector *open_md(const struct tmpmd *t)
{
	struct mh_collect_opts o = {0};
	struct mh_collector *c = NULL;
	char url[400], err[MH_ERRLEN] = "";

	snprintf(url, sizeof(url), "maildir:%s", t->md);
	o.url = url;
	if (mh_collect_open(&o, &c, err, sizeof(err)) != 0)
		fail_msg("open %s: %s", url, err);
	return c;
}

static void test_maildir_order(void **state)
{
	struct tmpmd *t = *state;
	struct seen s = {.stop_at = -1};
	unsigned skipped = 0;
	char err[MH_ERRLEN] = "";

	/* mtime decides; new/ and cur/ mixed; tmp/ and dot files never */
	put(t, "new", "1765000300.M3P1.host", "third\nX: 1\n\nbody\n", 1765000300, 0);
	put(t, "cur", "1765000100.M1P1.host:2,S", "first\n\nbody\n", 1765000100, 0);
	put(t, "new", "1765000200.M2P1.host", "second\n\nbody\n", 1765000200, 500);
	put(t, "cur", "1765000200.M2P0.host:2,", "second-a\n\n", 1765000200, 400);
	put(t, "tmp", "1765000000.M0P1.host", "in tmp\n\n", 1765000000, 0);
	put(t, "new", ".hidden", "dot file\n\n", 1765000000, 0);

	struct mh_collector *c = open_md(t);
	assert_int_equal(mh_collect_uidvalidity(c), 0);
	int n = mh_collect_each(c, 0, record, &s, &skipped, err, sizeof(err));
	if (n != 4)
		fail_msg("each: %d (%s)", n, err);
	assert_int_equal(s.n, 4);
	assert_int_equal(skipped, 0);
	assert_string_equal(s.keys[0], "1765000100.M1P1.host"); /* key: name up to ':' */
	assert_string_equal(s.first[0], "first");
	assert_string_equal(s.keys[1], "1765000200.M2P0.host"); /* same second, earlier ns */
	assert_string_equal(s.first[1], "second-a");
	assert_string_equal(s.keys[2], "1765000200.M2P1.host");
	assert_string_equal(s.keys[3], "1765000300.M3P1.host");
	assert_int_equal(s.lens[3], strlen("third\nX: 1\n\nbody\n"));
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(s.uids[i], 0);
	/* after_uid means nothing for a Maildir: the whole mailbox again */
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	assert_int_equal(mh_collect_each(c, 99, record, &s, NULL, err, sizeof(err)), 4);
	mh_collect_close(&c);
	assert_null(c);
}

static void test_maildir_same_mtime_by_name(void **state)
{
	struct tmpmd *t = *state;
	struct seen s = {.stop_at = -1};
	char err[MH_ERRLEN] = "";

	put(t, "new", "b.host", "b\n\n", 1765000000, 0);
	put(t, "new", "a.host", "a\n\n", 1765000000, 0);
	put(t, "cur", "c.host:2,RS", "c\n\n", 1765000000, 0);
	put(t, "new", "empty.host", "", 1764999999, 0); /* empty: handed over, len 0 */

	struct mh_collector *c = open_md(t);
	assert_int_equal(mh_collect_each(c, 0, record, &s, NULL, err, sizeof(err)), 4);
	assert_string_equal(s.keys[0], "empty.host");
	assert_int_equal(s.lens[0], 0);
	assert_string_equal(s.keys[1], "a.host");
	assert_string_equal(s.keys[2], "b.host");
	assert_string_equal(s.keys[3], "c.host");
	mh_collect_close(&c);
}

static void test_maildir_delete(void **state)
{
	struct tmpmd *t = *state;
	struct seen s = {.stop_at = -1};
	char err[MH_ERRLEN] = "", p[600];

	put(t, "new", "m1.host", "one\n\n", 1765000001, 0);
	put(t, "cur", "m2.host:2,S", "two\n\n", 1765000002, 0);
	put(t, "new", "m3.host", "three\n\n", 1765000003, 0);

	struct mh_collector *c = open_md(t);
	/* a key with flags in cur/; another deleted from inside the callback */
	assert_int_equal(mh_collect_delete(c, "m2.host", err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/cur/m2.host:2,S", t->md);
	assert_int_equal(access(p, F_OK), -1);
	s.c = c;
	s.delete_in_cb = "m1.host";
	assert_int_equal(mh_collect_each(c, 0, record, &s, NULL, err, sizeof(err)), 2);
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	assert_int_equal(mh_collect_each(c, 0, record, &s, NULL, err, sizeof(err)), 1);
	assert_string_equal(s.keys[0], "m3.host");

	/* gone, or not a key at all */
	assert_int_equal(mh_collect_delete(c, "m1.host", err, sizeof(err)), MH_EIO);
	assert_non_null(strstr(err, "no message m1.host"));
	assert_non_null(strstr(err, t->md));
	assert_int_equal(mh_collect_delete(c, "../new/m3.host", err, sizeof(err)), MH_EINVAL);
	assert_int_equal(mh_collect_delete(c, "", err, sizeof(err)), MH_EINVAL);
	assert_int_equal(mh_collect_delete(c, "m3.host:2,", err, sizeof(err)), MH_EINVAL);
	/* a prefix of a key is not that key */
	assert_int_equal(mh_collect_delete(c, "m3", err, sizeof(err)), MH_EIO);
	/* expunge means nothing for a Maildir */
	assert_int_equal(mh_collect_expunge(c, err, sizeof(err)), 0);
	mh_collect_close(&c);
}

static void test_maildir_oversize_and_odd(void **state)
{
	struct tmpmd *t = *state;
	struct seen s = {.stop_at = -1};
	unsigned skipped = 0;
	char err[MH_ERRLEN] = "", p[600], target[600];
	int fd;

	put(t, "new", "small1.host", "ok1\n\n", 1765000001, 0);
	/* one byte over the cap, sparse: costs nothing on disk */
	snprintf(p, sizeof(p), "%s/new/huge.host", t->md);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)MH_MAIL_MAX + 1), 0);
	close(fd);
	/* exactly the cap is fine */
	snprintf(p, sizeof(p), "%s/new/atcap.host", t->md);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)MH_MAIL_MAX), 0);
	close(fd);
	put(t, "new", "small2.host", "ok2\n\n", 1765000002, 0);
	/* a symlink to a message elsewhere: skipped, counted */
	snprintf(target, sizeof(target), "%s/outside", t->root);
	fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/cur/link.host:2,", t->md);
	assert_int_equal(symlink(target, p), 0);
	/* a directory inside new/ is ignored */
	snprintf(p, sizeof(p), "%s/new/subdir", t->md);
	assert_int_equal(mkdir(p, 0700), 0);

	struct mh_collector *c = open_md(t);
	int n = mh_collect_each(c, 0, record, &s, &skipped, err, sizeof(err));
	assert_int_equal(n, 3);
	assert_int_equal(skipped, 2); /* huge.host and the symlink */
	for (unsigned i = 0; i < s.n; i++) {
		assert_string_not_equal(s.keys[i], "huge.host");
		assert_string_not_equal(s.keys[i], "link.host");
		if (!strcmp(s.keys[i], "atcap.host"))
			assert_int_equal(s.lens[i], MH_MAIL_MAX);
	}
	/* nskipped may be NULL */
	memset(&s, 0, sizeof(s));
	s.stop_at = -1;
	assert_int_equal(mh_collect_each(c, 0, record, &s, NULL, err, sizeof(err)), 3);
	mh_collect_close(&c);
}

static void test_maildir_callback_stops(void **state)
{
	struct tmpmd *t = *state;
	struct seen s = {.stop_at = 1};
	char err[MH_ERRLEN] = "";

	put(t, "new", "x1.host", "1\n\n", 1765000001, 0);
	put(t, "new", "x2.host", "2\n\n", 1765000002, 0);
	put(t, "new", "x3.host", "3\n\n", 1765000003, 0);
	struct mh_collector *c = open_md(t);
	assert_int_equal(mh_collect_each(c, 0, record, &s, NULL, err, sizeof(err)), -7);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(err, "stopped at x2.host"));
	mh_collect_close(&c);
}

static void expect_open_error(const char *url, const char *user, const char *password, int code,
                              const char *needle)
{
	struct mh_collect_opts o = {
	    .url = url, .user = user, .password = password, .timeout_ms = 5000};
	struct mh_collector *c = (struct mh_collector *)&o; /* must be set to NULL */
	char err[MH_ERRLEN] = "";
	int rc = mh_collect_open(&o, &c, err, sizeof(err));

	if (rc != code)
		fail_msg("%s: rc %d, %d expected (%s)", url ? url : "(null)", rc, code, err);
	assert_null(c);
	if (!strstr(err, needle))
		fail_msg("%s: \"%s\" does not say \"%s\"", url ? url : "(null)", err, needle);
	assert_null(strchr(err, '\n'));
}

static void test_maildir_errors(void **state)
{
	struct tmpmd *t = *state;
	char url[600], p[400];

	snprintf(url, sizeof(url), "maildir:%s/nope", t->root);
	expect_open_error(url, NULL, NULL, MH_EIO, "nope: No such file or directory");
	snprintf(url, sizeof(url), "maildir:%s", t->root); /* a directory, not a Maildir */
	expect_open_error(url, NULL, NULL, MH_EIO, "not a Maildir: no new/ directory");
	snprintf(p, sizeof(p), "%s/plain", t->root);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(url, sizeof(url), "maildir:%s", p);
	expect_open_error(url, NULL, NULL, MH_EIO, "not a directory");
	expect_open_error("maildir:", NULL, NULL, MH_EINVAL, "no Maildir path");
}

/* ---- URLs ----------------------------------------------------------------- */

static void test_url_errors(void **state)
{
	(void)state;
	expect_open_error(NULL, NULL, NULL, MH_EINVAL, "no mailbox URL");
	expect_open_error("", NULL, NULL, MH_EINVAL, "no mailbox URL");
	expect_open_error("pop3://198.18.0.2/INBOX", "u", "p", MH_EINVAL,
	                  "pop3://198.18.0.2/INBOX: bad URL: imap://, imaps:// or maildir:");
	expect_open_error("/var/mail/audit", "u", "p", MH_EINVAL, "bad URL");
	expect_open_error("imap://198.18.0.2/INBOX", NULL, "p", MH_EINVAL, "needs a user");
	expect_open_error("imap://198.18.0.2/INBOX", "u", NULL, MH_EINVAL, "needs a password");
	expect_open_error("imap://", "u", "p", MH_EINVAL, "imap://: bad URL");
	expect_open_error("imap://198.18.0.2/INBOX?ALL", "u", "p", MH_EINVAL,
	                  "no query or fragment");
	expect_open_error("imap://198.18.0.2/INBOX;UID=3", "u", "p", MH_EINVAL,
	                  "no ';' parameters");
	expect_open_error("imap://198.18.0.2:99999/INBOX", "u", "p", MH_EINVAL, "bad URL");
	/* libcurl refuses a control character in the decoded path itself */
	expect_open_error("imap://198.18.0.2/IN%0ABOX", "u", "p", MH_EINVAL,
	                  "bad URL: bad mailbox path");
	expect_open_error("imap://198.18.0.2/%E2%82%AC", "u", "p", MH_EINVAL, "printable ASCII");
}

static void test_url_credentials_refused(void **state)
{
	struct mh_collect_opts o = {.url = "imaps://audit:hunter2@198.18.0.2/INBOX",
	                            .user = "audit",
	                            .password = "hunter2"};
	struct mh_collector *c = NULL;
	char err[MH_ERRLEN] = "";

	(void)state;
	assert_int_equal(mh_collect_open(&o, &c, err, sizeof(err)), MH_EINVAL);
	assert_null(strstr(err, "hunter2"));
	assert_non_null(strstr(err, "imaps://***@198.18.0.2/INBOX"));
	assert_non_null(strstr(err, "credentials in the URL are refused"));
	o.url = "imap://audit@198.18.0.2/INBOX";
	assert_int_equal(mh_collect_open(&o, &c, err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "credentials in the URL are refused"));
}

/* A port on 127.0.0.1 where nothing listens: bound, then closed. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_connection_refused(void **state)
{
	char url[128], needle[160];

	(void)state;
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d/INBOX", free_port());
	snprintf(needle, sizeof(needle), "%s: cannot connect: ", url);
	expect_open_error(url, "audit", "secret-pw", MH_EIO, needle);
}

/* A server that accepts and says nothing: the open ends at the timeout. */
static void test_connection_timeout(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[128];

	(void)state;
	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d/INBOX", ntohs(a.sin_port));

	struct mh_collect_opts o = {.url = url, .user = "u", .password = "p", .timeout_ms = 300};
	struct mh_collector *c = NULL;
	char err[MH_ERRLEN] = "";
	uint64_t t0 = mh_now_ms();
	assert_int_equal(mh_collect_open(&o, &c, err, sizeof(err)), MH_EIO);
	assert_true(mh_now_ms() - t0 < 5000);
	assert_non_null(strstr(err, "timed out after 300 ms"));
	close(fd);
}

/* ---- passwords ---------------------------------------------------------------- */

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_password_file(void **state)
{
	struct tmpmd *t = *state;
	char p[400], err[MH_ERRLEN] = "", *pw = NULL, big[1100];

	snprintf(p, sizeof(p), "%s/pass", t->root);
	write_file(p, "s3cret pw\nsecond line\n", 22, 0600);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "s3cret pw");
	free(pw);
	write_file(p, "crlf\r\n", 6, 0640); /* group-readable is fine */
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "crlf");
	free(pw);
	write_file(p, "no-newline", 10, 0400);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "no-newline");
	free(pw);

	/* refusals, each naming the file */
	write_file(p, "open\n", 5, 0644);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	assert_null(pw);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "readable by everyone (mode 0644)"));
	write_file(p, "\nlater\n", 7, 0600);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "empty password"));
	write_file(p, "", 0, 0600);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	write_file(p, "a\0b\n", 4, 0600);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "NUL"));
	memset(big, 'x', sizeof(big));
	write_file(p, big, sizeof(big), 0600);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "longer than 1023"));
	/* exactly 1023 bytes then a newline is fine */
	big[1023] = '\n';
	write_file(p, big, 1024, 0600);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), 0);
	assert_int_equal(strlen(pw), 1023);
	free(pw);

	snprintf(p, sizeof(p), "%s/missing", t->root);
	assert_int_equal(mh_collect_password(p, NULL, &pw, err, sizeof(err)), MH_EIO);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(mh_collect_password(t->root, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

static void test_password_env(void **state)
{
	char err[MH_ERRLEN] = "", *pw = NULL;

	(void)state;
	setenv("MH_TEST_COLLECT_PW", "from-env", 1);
	assert_int_equal(mh_collect_password(NULL, "MH_TEST_COLLECT_PW", &pw, err, sizeof(err)), 0);
	assert_string_equal(pw, "from-env");
	free(pw);
	setenv("MH_TEST_COLLECT_PW", "", 1);
	assert_int_equal(mh_collect_password(NULL, "MH_TEST_COLLECT_PW", &pw, err, sizeof(err)),
	                 MH_EINVAL);
	assert_non_null(strstr(err, "MH_TEST_COLLECT_PW"));
	assert_non_null(strstr(err, "empty"));
	unsetenv("MH_TEST_COLLECT_PW");
	assert_int_equal(mh_collect_password(NULL, "MH_TEST_COLLECT_PW", &pw, err, sizeof(err)),
	                 MH_EINVAL);
	assert_non_null(strstr(err, "MH_TEST_COLLECT_PW (password_env) is not set"));
	/* exactly one source */
	assert_int_equal(mh_collect_password(NULL, NULL, &pw, err, sizeof(err)), MH_EINVAL);
	assert_int_equal(mh_collect_password("/x", "Y", &pw, err, sizeof(err)), MH_EINVAL);
	assert_null(pw);
}

/* ---- the IMAP answer parsers --------------------------------------------------- */

static void test_parse_uidvalidity(void **state)
{
	/* Dovecot 2.3's answer to EXAMINE INBOX (as libcurl hands it over) */
	static const char examine[] = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\n"
	                              "* OK [PERMANENTFLAGS ()] Read-only mailbox.\n"
	                              "* 3 EXISTS\n"
	                              "* 0 RECENT\n"
	                              "* OK [UNSEEN 1] First unseen.\n"
	                              "* OK [UIDVALIDITY 1765000123] UIDs valid\n"
	                              "* OK [UIDNEXT 4] Predicted next UID\n"
	                              "* OK [HIGHESTMODSEQ 1] Highest\n";
	uint64_t v;

	(void)state;
	assert_int_equal(mh_imap_parse_uidvalidity(examine, strlen(examine), &v), 0);
	assert_int_equal(v, 1765000123);
	assert_int_equal(mh_imap_parse_uidvalidity("* ok [uidvalidity 7] x\r\n", 23, &v), 0);
	assert_int_equal(v, 7);
	/* CRLF, no final newline */
	assert_int_equal(mh_imap_parse_uidvalidity("* OK [UIDVALIDITY 4294967295]", 29, &v), 0);
	assert_int_equal(v, 4294967295u);
	/* absent, zero, too big, junk */
	assert_int_equal(mh_imap_parse_uidvalidity("* 3 EXISTS\n", 11, &v), MH_EPROTO);
	assert_int_equal(mh_imap_parse_uidvalidity("", 0, &v), MH_EPROTO);
	assert_int_equal(mh_imap_parse_uidvalidity("* OK [UIDVALIDITY 0]\n", 21, &v), MH_EPROTO);
	assert_int_equal(mh_imap_parse_uidvalidity("* OK [UIDVALIDITY 4294967296]\n", 30, &v),
	                 MH_EPROTO);
	assert_int_equal(mh_imap_parse_uidvalidity("* OK [UIDVALIDITY 12x]\n", 23, &v), MH_EPROTO);
	/* only where a server puts it: not in the text of another line */
	assert_int_equal(mh_imap_parse_uidvalidity("* OK hello [UIDVALIDITY 5]\n", 27, &v),
	                 MH_EPROTO);
	assert_int_equal(mh_imap_parse_uidvalidity("A1 OK [UIDVALIDITY 5]\n", 22, &v), MH_EPROTO);
	/* never past len */
	assert_int_equal(mh_imap_parse_uidvalidity("* OK [UIDVALIDITY 55]", 19, &v), MH_EPROTO);
}

static void test_parse_fetch_list(void **state)
{
	static const char dovecot[] = "* 1 FETCH (UID 1 RFC822.SIZE 135)\r\n"
	                              "* 2 FETCH (UID 2 RFC822.SIZE 140)\r\n"
	                              "* 3 FETCH (UID 7 RFC822.SIZE 64)\r\n";
	struct mh_imap_msg *m = NULL;
	size_t n = 0;
	char err[MH_ERRLEN] = "";

	(void)state;
	assert_int_equal(
	    mh_imap_parse_fetch_list(dovecot, strlen(dovecot), 0, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].uid, 1);
	assert_int_equal(m[0].size, 135);
	assert_int_equal(m[2].uid, 7);
	assert_int_equal(m[2].size, 64);
	free(m);

	/* after_uid filters (the "n:*" quirk answers the highest UID anyway) */
	assert_int_equal(
	    mh_imap_parse_fetch_list(dovecot, strlen(dovecot), 2, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(m[0].uid, 7);
	free(m);
	assert_int_equal(
	    mh_imap_parse_fetch_list(dovecot, strlen(dovecot), 7, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_null(m);

	/* out of order, items in any order, other items, unsolicited lines,
	 * a FETCH without UID, a UID twice */
	static const char mixed[] = "* 4 EXISTS\n"
	                            "* 3 FETCH (RFC822.SIZE 30 UID 30)\n"
	                            "* 1 FETCH (FLAGS (\\Seen \\Deleted) UID 10 RFC822.SIZE 10)\n"
	                            "* 2 FETCH (FLAGS (\\Seen))\n"
	                            "* 2 FETCH (UID 20 MODSEQ (12) RFC822.SIZE 20)\n"
	                            "* 1 FETCH (UID 10 FLAGS ())\n"
	                            "* 5 FETCH (UID 50 X-GM-LABELS (\"a b\" \"c\\\"d\"))\n"
	                            "* 1 RECENT\n"
	                            "* OK still here\n";
	assert_int_equal(
	    mh_imap_parse_fetch_list(mixed, strlen(mixed), 0, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(m[0].uid, 10);
	assert_int_equal(m[0].size, 10);
	assert_int_equal(m[1].uid, 20);
	assert_int_equal(m[1].size, 20);
	assert_int_equal(m[2].uid, 30);
	assert_int_equal(m[3].uid, 50);
	assert_true(m[3].size == UINT64_MAX); /* not said */
	free(m);

	/* nothing at all */
	assert_int_equal(mh_imap_parse_fetch_list("", 0, 0, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);

	/* broken FETCH lines: an error naming the line */
	static const char *const bad[] = {
	    "* 1 FETCH (UID 1 RFC822.SIZE 5)\n* 2 FETCH (UID x)\n",
	    "* 2 FETCH (UID 0)\n",
	    "* 2 FETCH (UID 4294967296)\n",
	    "* 2 FETCH (UID 5\n",
	    "* 2 FETCH UID 5\n",
	    "* 2 FETCH (UID 5) junk\n",
	    "* 2 FETCH (BODY[] {12}\n",
	    "* 2 FETCH (FLAGS (\\Seen UID 5)\n",
	    "* 2 FETCH (UID  5)\n",
	    "* 2 FETCH (X \"open)\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc =
		    mh_imap_parse_fetch_list(bad[i], strlen(bad[i]), 0, &m, &n, err, sizeof(err));
		if (rc != MH_EPROTO)
			fail_msg("bad[%zu]: rc %d, MH_EPROTO expected", i, rc);
		assert_null(m);
		assert_non_null(strstr(err, "IMAP FETCH answer line"));
	}
	assert_int_equal(
	    mh_imap_parse_fetch_list(bad[0], strlen(bad[0]), 0, &m, &n, err, sizeof(err)),
	    MH_EPROTO);
	assert_non_null(strstr(err, "line 2"));

	/* every prefix of a good answer: never reads past len, never crashes */
	for (size_t l = 0; l <= strlen(mixed); l++) {
		if (mh_imap_parse_fetch_list(mixed, l, 0, &m, &n, err, sizeof(err)) == 0)
			free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_maildir_order, md_setup, md_teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_same_mtime_by_name, md_setup, md_teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_delete, md_setup, md_teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_oversize_and_odd, md_setup, md_teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_callback_stops, md_setup, md_teardown),
	    cmocka_unit_test_setup_teardown(test_maildir_errors, md_setup, md_teardown),
	    cmocka_unit_test(test_url_errors),
	    cmocka_unit_test(test_url_credentials_refused),
	    cmocka_unit_test(test_connection_refused),
	    cmocka_unit_test(test_connection_timeout),
	    cmocka_unit_test_setup_teardown(test_password_file, md_setup, md_teardown),
	    cmocka_unit_test(test_password_env),
	    cmocka_unit_test(test_parse_uidvalidity),
	    cmocka_unit_test(test_parse_fetch_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
