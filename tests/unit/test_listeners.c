/*
 * test_listeners.c -- the /proc/net/tcp{,6} parser (fixtures of both byte
 * orders, v4-mapped and wildcard addresses, CRLF, malformed and very long
 * lines, every truncation of a real file), the owner scan over a fixture
 * /proc tree, the default route, and which listener covers which address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/local.h"

#define PARSE MH_FIXTURES "/proc/parse/"
#define TREE MH_FIXTURES "/proc/tree"

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	int eno = 0;

	assert_int_equal(mh_local_read_file(path, &buf, len, &eno), 0);
	return buf;
}

static void fmt(const struct mh_listener *li, char *buf, size_t size)
{
	char a[MH_ADDR_STRLEN];

	mh_addr_format(&li->addr, a, sizeof(a));
	snprintf(buf, size, "%s %u", a, li->port);
}

/* The LISTEN sockets of the tcp fixtures, in file order. */
static const char *const want4[] = { "0.0.0.0 25", "127.0.0.1 587", "198.18.0.13 465",
				     "0.0.0.0 22" };
static const uint64_t want4_inode[] = { 1001, 1002, 1007, 1003 };
static const char *const want6[] = { ":: 25", "::ffff:127.0.0.1 465", "fd00::2 587",
				     "fe80::fc:ff:fe00:1 25" };

static void check_file(const char *name, int family, int order, const char *const *want,
		       size_t nwant)
{
	struct mh_listeners l = { 0 };
	char path[512], err[MH_ERRLEN], got[128];
	size_t len, nbad = 99;
	char *buf;
	int n;

	snprintf(path, sizeof(path), PARSE "%s", name);
	buf = slurp(path, &len);
	n = mh_proc_net_tcp_parse(buf, len, family, order, &l, &nbad, err, sizeof(err));
	assert_int_equal(n, (int)nwant);
	assert_int_equal(nbad, 0);
	assert_int_equal(l.n, nwant);
	for (size_t i = 0; i < nwant; i++) {
		fmt(&l.v[i], got, sizeof(got));
		assert_string_equal(got, want[i]);
		assert_int_equal(l.v[i].pid, -1);
		assert_string_equal(l.v[i].process, "unknown");
		assert_string_equal(l.v[i].exe, "unknown");
	}
	free(buf);
	mh_listeners_free(&l);
}

static void test_tcp_le(void **state)
{
	(void)state;
	check_file("tcp-le", AF_INET, __ORDER_LITTLE_ENDIAN__, want4, 4);
	check_file("tcp-le", AF_UNSPEC, __ORDER_LITTLE_ENDIAN__, want4, 4);
	check_file("tcp-crlf", AF_INET, __ORDER_LITTLE_ENDIAN__, want4, 4);
}

static void test_tcp_be(void **state)
{
	(void)state;
	check_file("tcp-be", AF_INET, __ORDER_BIG_ENDIAN__, want4, 4);
	check_file("tcp6-be", AF_INET6, __ORDER_BIG_ENDIAN__, want6, 4);
}

static void test_tcp6_le(void **state)
{
	(void)state;
	check_file("tcp6-le", AF_INET6, __ORDER_LITTLE_ENDIAN__, want6, 4);
}

/* 0 means this machine's order: the fixture of its own order decodes right. */
static void test_native_order(void **state)
{
	(void)state;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	check_file("tcp-le", AF_INET, 0, want4, 4);
	check_file("tcp6-le", AF_INET6, 0, want6, 4);
#else
	check_file("tcp-be", AF_INET, 0, want4, 4);
	check_file("tcp6-be", AF_INET6, 0, want6, 4);
#endif
}

static void test_uid_inode(void **state)
{
	struct mh_listeners l = { 0 };
	size_t len;
	char *buf = slurp(PARSE "tcp-le", &len);

	(void)state;
	assert_int_equal(mh_proc_net_tcp_parse(buf, len, AF_INET, __ORDER_LITTLE_ENDIAN__, &l,
					       NULL, NULL, 0),
			 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(l.v[i].inode, want4_inode[i]);
	assert_int_equal(l.v[2].uid, 108);
	assert_int_equal(l.v[0].uid, 0);
	free(buf);
	mh_listeners_free(&l);
}

static void test_header_only_and_empty(void **state)
{
	struct mh_listeners l = { 0 };
	char err[MH_ERRLEN];
	size_t len, nbad = 7;
	char *buf = slurp(PARSE "tcp-header-only", &len);

	(void)state;
	assert_int_equal(mh_proc_net_tcp_parse(buf, len, AF_INET, 0, &l, &nbad, err, sizeof(err)),
			 0);
	assert_int_equal(nbad, 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(mh_proc_net_tcp_parse("", 0, AF_INET, 0, &l, &nbad, err, sizeof(err)), 0);
	assert_int_equal(mh_proc_net_tcp_parse("\n\r\n  \n", 6, AF_INET, 0, &l, &nbad, err,
					       sizeof(err)),
			 0);
	assert_int_equal(nbad, 0);
	free(buf);
	mh_listeners_free(&l);
}

static void test_malformed(void **state)
{
	struct mh_listeners l = { 0 };
	char err[MH_ERRLEN], got[128];
	size_t len, nbad = 0;
	char *buf = slurp(PARSE "tcp-malformed", &len);

	(void)state;
	assert_int_equal(mh_proc_net_tcp_parse(buf, len, AF_INET, __ORDER_LITTLE_ENDIAN__, &l,
					       &nbad, err, sizeof(err)),
			 2);
	assert_int_equal(nbad, 6);
	/* the first bad line is named: line 3 has 4 fields */
	assert_non_null(strstr(err, "line 3:"));
	assert_non_null(strstr(err, "fewer than 10 fields"));
	fmt(&l.v[0], got, sizeof(got));
	assert_string_equal(got, "0.0.0.0 25");
	fmt(&l.v[1], got, sizeof(got));
	assert_string_equal(got, "127.0.0.1 465");
	free(buf);
	mh_listeners_free(&l);
}

/* A tcp6 line in the tcp file (and the other way round) is malformed. */
static void test_family_mismatch(void **state)
{
	struct mh_listeners l = { 0 };
	char err[MH_ERRLEN];
	size_t len, nbad = 0;
	char *buf = slurp(PARSE "tcp6-le", &len);

	(void)state;
	assert_int_equal(mh_proc_net_tcp_parse(buf, len, AF_INET, 0, &l, &nbad, err, sizeof(err)),
			 0);
	assert_int_equal(nbad, 5);
	assert_non_null(strstr(err, "IPv4"));
	free(buf);
	buf = slurp(PARSE "tcp-le", &len);
	assert_int_equal(mh_proc_net_tcp_parse(buf, len, AF_INET6, 0, &l, &nbad, err, sizeof(err)),
			 0);
	assert_int_equal(nbad, 6);
	free(buf);
	mh_listeners_free(&l);
}

/* A line of 1 MiB (no newline, then a good line): skipped, nothing read past the end. */
static void test_long_line(void **state)
{
	const char *good = "   0: 00000000:0019 00000000:0000 0A 00000000:00000000 00:00000000 "
			   "00000000     0        0 42 1 0000000000000000 100 0 0 10 0\n";
	size_t big = 1u << 20, glen = strlen(good);
	char *buf = malloc(big + glen);
	struct mh_listeners l = { 0 };
	size_t nbad = 0;

	(void)state;
	assert_non_null(buf);
	memset(buf, 'A', big - 1);
	buf[big - 1] = '\n';
	memcpy(buf + big, good, glen);
	assert_int_equal(mh_proc_net_tcp_parse(buf, big + glen, AF_INET, 0, &l, &nbad, NULL, 0),
			 1);
	assert_int_equal(nbad, 1);
	assert_int_equal(l.v[0].inode, 42);
	/* a long line of valid-looking fields, extra fields past the tenth */
	memcpy(buf, good, glen - 1);
	memset(buf + glen - 1, ' ', big - glen);
	buf[big - 1] = '\n';
	assert_int_equal(mh_proc_net_tcp_parse(buf, big, AF_INET, 0, &l, &nbad, NULL, 0), 1);
	assert_int_equal(nbad, 0);
	free(buf);
	mh_listeners_free(&l);
}

/*
 * Every prefix of a real file parses without reading past its end (the
 * sanitizers watch a copy of exactly that length) and yields at most the
 * listeners of the whole file.
 */
static void test_truncations(void **state)
{
	const char *names[] = { "tcp-le", "tcp6-le", "tcp-crlf" };

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		char path[512];
		size_t len;
		char *whole;
		snprintf(path, sizeof(path), PARSE "%s", names[f]);
		whole = slurp(path, &len);
		for (size_t cut = 0; cut <= len; cut++) {
			struct mh_listeners l = { 0 };
			char *part = malloc(cut ? cut : 1);
			int n;
			assert_non_null(part);
			memcpy(part, whole, cut);
			n = mh_proc_net_tcp_parse(part, cut, AF_UNSPEC, __ORDER_LITTLE_ENDIAN__, &l,
						  NULL, NULL, 0);
			assert_true(n >= 0 && n <= 4);
			free(part);
			mh_listeners_free(&l);
		}
		free(whole);
	}
}

static const struct mh_listener *by_inode(const struct mh_listeners *l, uint64_t inode)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].inode == inode)
			return &l->v[i];
	fail_msg("no listener with inode %llu", (unsigned long long)inode);
	return NULL;
}

static void test_read_and_owners(void **state)
{
	struct mh_listeners l = { 0 };
	struct mh_owner_stats st;
	const struct mh_listener *li;
	char err[MH_ERRLEN];

	(void)state;
	assert_int_equal(mh_listeners_read(TREE, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 8);
	assert_int_equal(mh_listeners_owners(TREE, l.v, l.n, &st, err, sizeof(err)), 0);
	assert_int_equal(st.procs, 5); /* 90, 100, 250, 300, 400; not "abc" */
	assert_int_equal(st.denied_fd, 0);
	/* 1001 is held by master and by the smtpd it passed it to: master owns it */
	li = by_inode(&l, 1001);
	assert_int_equal(li->pid, 100);
	assert_string_equal(li->process, "master");
	assert_string_equal(li->exe, "/usr/lib/postfix/sbin/master");
	assert_int_equal(li->nholders, 2);
	li = by_inode(&l, 1004);
	assert_int_equal(li->pid, 100);
	assert_int_equal(li->nholders, 1);
	/* exe unreadable (here: not a link): unknown, the rest known */
	li = by_inode(&l, 1002);
	assert_int_equal(li->pid, 300);
	assert_string_equal(li->process, "sendmail-mta");
	assert_string_equal(li->exe, "unknown");
	/* nobody holds these */
	for (uint64_t ino = 1005; ino <= 1008; ino++) {
		li = by_inode(&l, ino);
		assert_int_equal(li->pid, -1);
		assert_string_equal(li->process, "unknown");
	}
	assert_int_equal(st.unowned, 5); /* 1003, 1005, 1006, 1007, 1008 */
	mh_listeners_free(&l);
}

static void test_missing_proc(void **state)
{
	struct mh_listeners l = { 0 };
	struct mh_listener one = { .inode = 1, .pid = -1 };
	struct mh_owner_stats st;
	char err[MH_ERRLEN];

	(void)state;
	assert_int_equal(mh_listeners_read(MH_FIXTURES "/proc/nonexistent", &l, err, sizeof(err)),
			 MH_EIO);
	assert_non_null(strstr(err, "net/tcp"));
	assert_int_equal(mh_listeners_owners(MH_FIXTURES "/proc/nonexistent", &one, 1, &st, err,
					     sizeof(err)),
			 MH_EIO);
	assert_int_equal(st.unowned, 1);
	assert_int_equal(one.pid, -1);
	/* tcp present, tcp6 absent (IPv6 off): fine */
	assert_int_equal(mh_listeners_read(MH_FIXTURES "/proc/v4only", &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 4);
	mh_listeners_free(&l);
}

static void test_route(void **state)
{
	char ifname[IF_NAMESIZE];
	size_t len;
	char *buf = slurp(TREE "/net/route", &len);
	const char *none = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
			   "eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

	(void)state;
	/* eth1 (metric 200), eth0 (100), eth9 (metric 1 but not up): eth0 */
	assert_int_equal(mh_proc_net_route_default(buf, len, ifname, sizeof(ifname)), 0);
	assert_string_equal(ifname, "eth0");
	assert_int_equal(mh_proc_net_route_default(none, strlen(none), ifname, sizeof(ifname)),
			 MH_EINVAL);
	assert_int_equal(mh_proc_net_route_default("", 0, ifname, sizeof(ifname)), MH_EINVAL);
	free(buf);
}

static struct mh_listener listener(const char *addr, uint16_t port)
{
	struct mh_listener li;

	memset(&li, 0, sizeof(li));
	assert_int_equal(mh_addr_parse(addr, &li.addr), 0);
	li.port = port;
	return li;
}

static bool covers(const char *laddr, uint16_t lport, const char *addr, uint16_t port)
{
	struct mh_listener li = listener(laddr, lport);
	struct mh_addr a;

	assert_int_equal(mh_addr_parse(addr, &a), 0);
	return mh_listener_covers(&li, &a, port);
}

static void test_covers(void **state)
{
	(void)state;
	assert_true(covers("0.0.0.0", 25, "198.18.0.13", 25));
	assert_true(covers("0.0.0.0", 25, "127.0.0.1", 25));
	assert_false(covers("0.0.0.0", 25, "198.18.0.13", 587));
	assert_false(covers("0.0.0.0", 25, "fd00::2", 25));
	assert_true(covers("127.0.0.1", 25, "127.0.0.1", 25));
	assert_false(covers("127.0.0.1", 25, "198.18.0.13", 25));
	assert_true(covers("::", 25, "fd00::2", 25));
	assert_true(covers("::", 25, "198.18.0.13", 25)); /* dual stack */
	assert_true(covers("::ffff:127.0.0.1", 465, "127.0.0.1", 465));
	assert_false(covers("::ffff:127.0.0.1", 465, "198.18.0.13", 465));
	assert_false(covers("::1", 25, "127.0.0.1", 25));
	assert_true(covers("fe80::1", 25, "fe80::1%1", 25));
	assert_false(covers("fd00::2", 587, "fd00::3", 587));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_le),
		cmocka_unit_test(test_tcp_be),
		cmocka_unit_test(test_tcp6_le),
		cmocka_unit_test(test_native_order),
		cmocka_unit_test(test_uid_inode),
		cmocka_unit_test(test_header_only_and_empty),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_family_mismatch),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_read_and_owners),
		cmocka_unit_test(test_missing_proc),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_covers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
