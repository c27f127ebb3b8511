/*
 * test_targets.c -- addresses and the target set (scanner/addr.c,
 * scanner/targets.c): every spec form, every bad form with its exact message,
 * the public-address policy, merging, excludes, target files, host names, and
 * index -> address against a brute-force model.
 *
 * No test may cause DNS traffic. This program defines getaddrinfo() and
 * freeaddrinfo() itself (a definition in the executable wins over libc's at
 * link time): "localhost" goes to the real resolver, answered from
 * /etc/hosts; names under ".test" (RFC 6761) come from a table here; every
 * other name is "not found". The calls are counted, so the tests also check
 * that numeric specs never reach the resolver.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/target.h"

/* ---- the resolver of this program ---- */

static unsigned resolver_calls;

struct fake_name {
	const char *name;
	int error;            /* EAI_* to return, or 0 */
	const char *addrs[4]; /* numeric answers, NULL-terminated */
};

static const struct fake_name fake_names[] = {
    {"mail.test", 0, {"198.18.0.5", "198.18.0.5", "fd00::5", NULL}},
    {"mx.test", 0, {"198.18.0.5", "10.1.2.3", NULL}},
    {"public.test", 0, {"198.18.0.9", "8.8.8.8", NULL}},
    {"ll.test", 0, {"fe80::7", NULL}},
    {"excl.test", 0, {"198.18.0.6", "fd00::6", NULL}},
    {"fail.test", EAI_AGAIN, {NULL}},
};

/* One allocation per answer, so freeaddrinfo() below frees both kinds alike. */
struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_storage ss;
};

static struct addrinfo *fake_node(const struct sockaddr *sa, socklen_t len)
{
	struct fake_ai *n = calloc(1, sizeof(*n));

	assert_non_null(n);
	memcpy(&n->ss, sa, len);
	n->ai.ai_family = sa->sa_family;
	n->ai.ai_socktype = SOCK_STREAM;
	n->ai.ai_protocol = IPPROTO_TCP;
	n->ai.ai_addrlen = len;
	n->ai.ai_addr = (struct sockaddr *)&n->ss;
	return &n->ai;
}

void freeaddrinfo(struct addrinfo *ai)
{
	while (ai) {
		struct addrinfo *next = ai->ai_next;

		free(ai); /* ai is the first member of its struct fake_ai */
		ai = next;
	}
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	struct addrinfo *head = NULL, **tail = &head;

	resolver_calls++;
	*res = NULL;
	if (node && strcmp(node, "localhost") == 0) {
		int (*real)(const char *, const char *, const struct addrinfo *,
		            struct addrinfo **);
		void (*real_free)(struct addrinfo *);
		struct addrinfo *got = NULL;
		int rc;

		*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
		*(void **)&real_free = dlsym(RTLD_NEXT, "freeaddrinfo");
		assert_non_null(real);
		assert_non_null(real_free);
		rc = real(node, service, hints, &got);
		if (rc != 0)
			return rc;
		for (struct addrinfo *a = got; a; a = a->ai_next) {
			*tail = fake_node(a->ai_addr, a->ai_addrlen);
			tail = &(*tail)->ai_next;
		}
		real_free(got);
		*res = head;
		return 0;
	}
	for (size_t i = 0; node && i < sizeof(fake_names) / sizeof(fake_names[0]); i++) {
		const struct fake_name *f = &fake_names[i];

		if (strcmp(node, f->name) != 0)
			continue;
		if (f->error)
			return f->error;
		for (size_t k = 0; f->addrs[k]; k++) {
			struct mh_addr a;
			struct sockaddr_storage ss;
			socklen_t len;

			assert_int_equal(mh_addr_parse(f->addrs[k], &a), 0);
			len = mh_addr_to_sockaddr(&a, 0, &ss);
			*tail = fake_node((struct sockaddr *)&ss, len);
			tail = &(*tail)->ai_next;
		}
		*res = head;
		return 0;
	}
	return EAI_NONAME;
}

/* ---- helpers ---- */

static char err[MH_ERRLEN];

static struct mh_targets *new_set(bool allow_public)
{
	struct mh_targets *t = NULL;

	assert_int_equal(mh_targets_new(&t, allow_public), 0);
	assert_non_null(t);
	return t;
}

static void add_ok(struct mh_targets *t, const char *spec)
{
	err[0] = '\0';
	if (mh_targets_add(t, spec, "argument 1", err, sizeof(err)) != 0)
		fail_msg("adding '%s' failed: %s", spec, err);
}

static void exclude_ok(struct mh_targets *t, const char *spec)
{
	err[0] = '\0';
	if (mh_targets_exclude(t, spec, "exclude 1", err, sizeof(err)) != 0)
		fail_msg("excluding '%s' failed: %s", spec, err);
}

static void finalize_ok(struct mh_targets *t)
{
	if (mh_targets_finalize(t, err, sizeof(err)) != 0)
		fail_msg("finalize failed: %s", err);
}

/* The text of address index of t. */
static const char *get_str(const struct mh_targets *t, uint64_t index)
{
	static char buf[MH_ADDR_STRLEN];
	struct mh_addr a;

	mh_targets_get(t, index, &a);
	mh_addr_format(&a, buf, sizeof(buf));
	return buf;
}

/* Adds spec to a fresh set and checks the code and the whole message. */
static void add_fails(bool allow_public, const char *spec, int code, const char *msg)
{
	struct mh_targets *t = new_set(allow_public);
	int rc;

	err[0] = '\0';
	rc = mh_targets_add(t, spec, "argument 1", err, sizeof(err));
	if (rc != code)
		fail_msg("'%s': got %d (%s), want %d", spec, rc, err, code);
	assert_string_equal(err, msg);
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 0);
	mh_targets_free(&t);
}

static char *write_temp(const char *content, size_t len)
{
	char *path = strdup("/tmp/mh-test-targets-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

static void remove_temp(char *path)
{
	unlink(path);
	free(path);
}

#define PUBLIC_TAIL                                                                                \
	"; mailhole scans only loopback, RFC 1918, RFC 6598, link-local, ULA and 198.18.0.0/15 "   \
	"unless --allow-public is given"
#define GARBAGE_TAIL ": not an address, range, CIDR or resolvable name"

/* ---- addresses ---- */

static void test_addr_parse_format(void **state)
{
	static const char *good[] = {
	    "198.18.0.1", "0.0.0.0",         "255.255.255.255", "2001:db8::1", "::1",
	    "::",         "::ffff:10.0.0.1", "fd00::abcd",      "fe80::1"};
	static const char *bad[] = {"",
	                            "1.2.3",
	                            "1.2.3.4.5",
	                            "999.1.2.3",
	                            "01.2.3.4",
	                            "1.2.3.4%lo",
	                            "2001:db8::1%lo",
	                            "fe80::1%",
	                            "fe80::1%0",
	                            "fe80::1%nosuchif0",
	                            "fe80::1%4294967296",
	                            " 1.2.3.4",
	                            "1.2.3.4 ",
	                            "[::1]",
	                            "::1/128",
	                            "1:2:3:4:5:6:7:8:9",
	                            "localhost",
	                            "fe80::1%lo%lo",
	                            "%lo"};
	char buf[MH_ADDR_STRLEN], want[MH_ADDR_STRLEN];
	struct mh_addr a;
	unsigned lo = if_nametoindex("lo");

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(mh_addr_parse(good[i], &a), 0);
		mh_addr_format(&a, buf, sizeof(buf));
		assert_string_equal(buf, good[i]);
		assert_int_equal(a.scope_id, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (mh_addr_parse(bad[i], &a) != MH_EINVAL)
			fail_msg("mh_addr_parse accepted '%s'", bad[i]);
	assert_int_equal(mh_addr_parse(NULL, &a), MH_EINVAL);

	/* IPv4 fills bytes[0..3] and leaves the rest 0. */
	assert_int_equal(mh_addr_parse("198.18.0.1", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.bytes[0], 198);
	assert_int_equal(a.bytes[3], 1);
	for (int i = 4; i < 16; i++)
		assert_int_equal(a.bytes[i], 0);

	/* Canonical output. */
	assert_int_equal(mh_addr_parse("2001:DB8:0:0::0:1", &a), 0);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1");

	/* Link-local with a scope, by name and by number. */
	assert_true(lo > 0);
	assert_int_equal(mh_addr_parse("fe80::1%lo", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.scope_id, lo);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fe80::1%lo");
	snprintf(want, sizeof(want), "fe80::1%%%u", lo);
	assert_int_equal(mh_addr_parse(want, &a), 0);
	assert_int_equal(a.scope_id, lo);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fe80::1%lo");
	/* An index with no interface prints as a number. */
	assert_int_equal(mh_addr_parse("fe80::9%4000000000", &a), 0);
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "fe80::9%4000000000");

	/* Short buffers truncate; bad families print "?". */
	assert_int_equal(mh_addr_parse("198.18.0.1", &a), 0);
	mh_addr_format(&a, buf, 5);
	assert_string_equal(buf, "198.");
	memset(&a, 0, sizeof(a));
	mh_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "?");
	mh_addr_format(&a, buf, 0); /* nothing written, no crash */
}

static void test_addr_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un sun;
	struct mh_addr a, b;
	socklen_t len;

	(void)state;
	assert_int_equal(mh_addr_parse("198.18.0.1", &a), 0);
	len = mh_addr_to_sockaddr(&a, 25, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 25);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc6120001u);
	assert_int_equal(mh_addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(mh_addr_cmp(&a, &b), 0);

	assert_int_equal(mh_addr_parse("fe80::1%7", &a), 0);
	len = mh_addr_to_sockaddr(&a, 587, &ss);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 587);
	assert_int_equal(sin6->sin6_scope_id, 7);
	assert_int_equal(mh_addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(mh_addr_cmp(&a, &b), 0);
	assert_int_equal(b.scope_id, 7);

	/* A scope on a global address means nothing and is dropped. */
	assert_int_equal(mh_addr_parse("2001:db8::1", &a), 0);
	mh_addr_to_sockaddr(&a, 25, &ss);
	sin6->sin6_scope_id = 3;
	assert_int_equal(mh_addr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(b.scope_id, 0);
	assert_int_equal(mh_addr_cmp(&a, &b), 0);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(mh_addr_from_sockaddr((struct sockaddr *)&sun, &b), MH_EINVAL);
	memset(&a, 0, sizeof(a));
	assert_int_equal(mh_addr_to_sockaddr(&a, 25, &ss), 0);
}

static void test_addr_cmp(void **state)
{
	static const char *ordered[] = {"0.0.0.0",         "1.2.3.4", "10.0.0.1",  "10.0.0.2",
	                                "255.255.255.255", "::",      "::1",       "::ffff:1.2.3.4",
	                                "fd00::1",         "fe80::1", "fe80::1%1", "fe80::1%2",
	                                "fe80::2%1",       "ffff::"};
	struct mh_addr a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(ordered) / sizeof(ordered[0]); i++) {
		assert_int_equal(mh_addr_parse(ordered[i], &a), 0);
		assert_int_equal(mh_addr_cmp(&a, &a), 0);
		for (size_t j = i + 1; j < sizeof(ordered) / sizeof(ordered[0]); j++) {
			assert_int_equal(mh_addr_parse(ordered[j], &b), 0);
			assert_int_equal(mh_addr_cmp(&a, &b), -1);
			assert_int_equal(mh_addr_cmp(&b, &a), 1);
		}
	}
}

static bool nonpublic(const char *s)
{
	struct mh_addr a;

	if (mh_addr_parse(s, &a) != 0)
		fail_msg("bad test address '%s'", s);
	return mh_addr_is_nonpublic(&a);
}

static bool loopback(const char *s)
{
	struct mh_addr a;

	if (mh_addr_parse(s, &a) != 0)
		fail_msg("bad test address '%s'", s);
	return mh_addr_is_loopback(&a);
}

static void test_addr_classes(void **state)
{
	/* Each non-public block with the addresses just outside it. */
	static const char *edges[][4] = {
	    {"9.255.255.255", "10.0.0.0", "10.255.255.255", "11.0.0.0"},
	    {"100.63.255.255", "100.64.0.0", "100.127.255.255", "100.128.0.0"},
	    {"126.255.255.255", "127.0.0.0", "127.255.255.255", "128.0.0.0"},
	    {"169.253.255.255", "169.254.0.0", "169.254.255.255", "169.255.0.0"},
	    {"172.15.255.255", "172.16.0.0", "172.31.255.255", "172.32.0.0"},
	    {"192.167.255.255", "192.168.0.0", "192.168.255.255", "192.169.0.0"},
	    {"198.17.255.255", "198.18.0.0", "198.19.255.255", "198.20.0.0"},
	    {"::ffff:9.255.255.255", "::ffff:10.0.0.0", "::ffff:10.255.255.255", "::ffff:11.0.0.0"},
	    {"::ffff:198.17.255.255", "::ffff:198.18.0.0", "::ffff:198.19.255.255",
	     "::ffff:198.20.0.0"},
	    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	     "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::"},
	    {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	     "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::"},
	    {"::", "::1", "::1", "::2"},
	};
	struct mh_targets *t;

	(void)state;
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		assert_false(nonpublic(edges[i][0]));
		assert_true(nonpublic(edges[i][1]));
		assert_true(nonpublic(edges[i][2]));
		assert_false(nonpublic(edges[i][3]));
	}
	assert_false(nonpublic("8.8.8.8"));
	assert_false(nonpublic("0.0.0.0"));
	assert_false(nonpublic("2001:db8::1"));
	assert_false(nonpublic("::ffff:8.8.8.8"));

	assert_true(loopback("127.0.0.1"));
	assert_true(loopback("127.255.255.255"));
	assert_true(loopback("::1"));
	assert_true(loopback("::ffff:127.0.0.1"));
	assert_false(loopback("128.0.0.1"));
	assert_false(loopback("::2"));
	assert_false(loopback("::ffff:10.0.0.1"));
	assert_false(loopback("::127.0.0.1")); /* v4-compatible, not v4-mapped */

	/*
	 * targets.c judges whole blocks with its own table; it must agree with
	 * mh_addr_is_nonpublic() at every edge, single addresses and /31s alike.
	 */
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		for (int k = 0; k < 4; k++) {
			const char *s = edges[i][k];
			int rc;

			if (strncmp(s, "fe8", 3) == 0 || strncmp(s, "feb", 3) == 0)
				continue; /* link-local needs a scope as a target */
			t = new_set(false);
			rc = mh_targets_add(t, s, "edge", err, sizeof(err));
			assert_int_equal(rc, nonpublic(s) ? 0 : MH_EPUBLIC);
			mh_targets_free(&t);
		}
		char range[128];
		t = new_set(false);
		snprintf(range, sizeof(range), "%s-%s", edges[i][0], edges[i][1]);
		if (strncmp(edges[i][0], "fe7", 3) != 0)
			assert_int_equal(mh_targets_add(t, range, "edge", err, sizeof(err)),
			                 MH_EPUBLIC);
		snprintf(range, sizeof(range), "%s-%s", edges[i][2], edges[i][3]);
		if (strncmp(edges[i][2], "feb", 3) != 0)
			assert_int_equal(mh_targets_add(t, range, "edge", err, sizeof(err)),
			                 MH_EPUBLIC);
		mh_targets_free(&t);
	}
}

/* ---- the target set ---- */

static void test_forms(void **state)
{
	struct mh_targets *t = new_set(false);

	(void)state;
	add_ok(t, "198.18.0.1");              /* 1 */
	add_ok(t, "198.18.1.7/24");           /* 256, host bits masked */
	add_ok(t, "198.18.2.9/32");           /* 1 */
	add_ok(t, "198.18.3.0-198.18.4.255"); /* 512 */
	add_ok(t, "198.18.5.10-20");          /* 11 */
	add_ok(t, "198.18.6.5-5");            /* 1 */
	add_ok(t, "  10.9.9.9\t");            /* 1, blanks around */
	add_ok(t, "fd00::1");                 /* 1 */
	add_ok(t, "fd00::1:0/120");           /* 256 */
	add_ok(t, "fd00::2:0-fd00::2:f");     /* 16 */
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 1 + 256 + 1 + 512 + 11 + 1 + 1 + 1 + 256 + 16);
	assert_string_equal(get_str(t, 0), "10.9.9.9");
	assert_string_equal(get_str(t, 1), "198.18.0.1");
	assert_string_equal(get_str(t, 2), "198.18.1.0");
	assert_string_equal(get_str(t, 257), "198.18.1.255");
	assert_string_equal(get_str(t, 258), "198.18.2.9");
	assert_string_equal(get_str(t, 259), "198.18.3.0");
	assert_string_equal(get_str(t, 770), "198.18.4.255");
	assert_string_equal(get_str(t, 771), "198.18.5.10");
	assert_string_equal(get_str(t, 781), "198.18.5.20");
	assert_string_equal(get_str(t, 782), "198.18.6.5");
	assert_string_equal(get_str(t, 783), "fd00::1");
	assert_string_equal(get_str(t, 784), "fd00::1:0");
	assert_string_equal(get_str(t, 1039), "fd00::1:ff");
	assert_string_equal(get_str(t, 1040), "fd00::2:0");
	assert_string_equal(get_str(t, 1055), "fd00::2:f");
	/* Past the end: family 0. */
	struct mh_addr a;
	mh_targets_get(t, 1056, &a);
	assert_int_equal(a.family, 0);
	mh_targets_free(&t);
	assert_null(t);
	mh_targets_free(&t);
	mh_targets_free(NULL);
}

static void test_whole_space(void **state)
{
	struct mh_targets *t = new_set(true);

	(void)state;
	add_ok(t, "0.0.0.0/0");
	add_ok(t, "8.8.8.8"); /* inside, merged */
	add_ok(t, "fd00::/104");
	add_ok(t, "2001:db8::5-2001:db8::6");
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), (1ull << 32) + (1ull << 24) + 2);
	assert_string_equal(get_str(t, 0), "0.0.0.0");
	assert_string_equal(get_str(t, 0x08080808), "8.8.8.8");
	assert_string_equal(get_str(t, (1ull << 32) - 1), "255.255.255.255");
	assert_string_equal(get_str(t, 1ull << 32), "2001:db8::5");
	assert_string_equal(get_str(t, (1ull << 32) + 1), "2001:db8::6");
	assert_string_equal(get_str(t, (1ull << 32) + 2), "fd00::");
	assert_string_equal(get_str(t, (1ull << 32) + 1 + (1ull << 24)), "fd00::ff:ffff");
	mh_targets_free(&t);

	/* The top of both spaces: merging must not wrap. */
	t = new_set(true);
	add_ok(t, "255.255.255.254/31");
	add_ok(t, "255.255.255.255");
	add_ok(t, "255.255.255.250-255.255.255.253");
	add_ok(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120");
	add_ok(t,
	       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	add_ok(t, "::/104");
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 6 + 256 + (1ull << 24));
	assert_string_equal(get_str(t, 5), "255.255.255.255");
	assert_string_equal(get_str(t, 6), "::");
	assert_string_equal(get_str(t, 6 + (1ull << 24) + 255),
	                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	mh_targets_free(&t);
}

static void test_bad_forms(void **state)
{
	static const struct {
		const char *spec;
		int code;
		const char *msg; /* after "target 'SPEC' (argument 1)" */
	} cases[] = {
	    {"999.1.2.3", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4.5", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4/33", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4/", MH_EINVAL, GARBAGE_TAIL},
	    {"/24", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4/x", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4/-1", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4/+8", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4/24/8", MH_EINVAL, GARBAGE_TAIL},
	    {"fd00::/129", MH_EINVAL, GARBAGE_TAIL},
	    {"198.18.0.1-256", MH_EINVAL, GARBAGE_TAIL},
	    {"198.18.0.1-", MH_EINVAL, GARBAGE_TAIL},
	    {"198.18.0.1-1.2", MH_EINVAL, GARBAGE_TAIL},
	    {"198.18.0.1-abc", MH_EINVAL, GARBAGE_TAIL},
	    {"-198.18.0.1", MH_EINVAL, GARBAGE_TAIL},
	    {"198.18.0.1--198.18.0.2", MH_EINVAL, GARBAGE_TAIL},
	    {"fd00::1-ff", MH_EINVAL, GARBAGE_TAIL},
	    {"1.2.3.4 5.6.7.8", MH_EINVAL, GARBAGE_TAIL},
	    {"fe80::1%nosuchif0", MH_EINVAL, GARBAGE_TAIL},
	    {"mail_server", MH_EINVAL, GARBAGE_TAIL},
	    {"nosuch.test", MH_EINVAL, GARBAGE_TAIL},
	    {"198.18.0.20-198.18.0.1", MH_EINVAL, ": range end before start"},
	    {"198.18.0.20-5", MH_EINVAL, ": range end before start"},
	    {"fd00::9-fd00::1", MH_EINVAL, ": range end before start"},
	    {"198.18.0.1-fd00::1", MH_EINVAL, ": range mixes IPv4 and IPv6"},
	    {"fe80::1%1-fe80::2%2", MH_EINVAL, ": range ends are on different interfaces"},
	    {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff%1-fec0::1", MH_EINVAL,
	     ": an interface is only for IPv6 link-local addresses (fe80::/10)"},
	    {"fe80::1", MH_EINVAL,
	     ": IPv6 link-local address needs an interface, as in fe80::1%eth0"},
	    {"fe80::/120", MH_EINVAL,
	     ": IPv6 link-local address needs an interface, as in fe80::1%eth0"},
	    {"2001:db8::/64", MH_ELIMIT,
	     ": IPv6 block of 2^64 addresses exceeds the limit of 2^24 (a /104)"},
	    {"fd00::/103", MH_ELIMIT,
	     ": IPv6 block of 2^25 addresses exceeds the limit of 2^24 (a /104)"},
	    {"::/0", MH_ELIMIT,
	     ": IPv6 block of 2^128 addresses exceeds the limit of 2^24 (a /104)"},
	    {"fd00::1-fd00::1:0:0", MH_ELIMIT,
	     ": IPv6 range of 4294967296 addresses exceeds the limit of 2^24 (a /104)"},
	    {"fd00::-fd00::100:0", MH_ELIMIT,
	     ": IPv6 range of 16777217 addresses exceeds the limit of 2^24 (a /104)"},
	    {"::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", MH_ELIMIT,
	     ": IPv6 range of more than 2^64 addresses exceeds the limit of 2^24 (a /104)"},
	    {"", MH_EINVAL, ": empty target"},
	    {" \t\r ", MH_EINVAL, ": empty target"},
	};
	char want[MH_ERRLEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i].spec;
		size_t a = 0, b = strlen(s);

		/* The message quotes the spec without its surrounding blanks. */
		while (a < b && strchr(" \t\r", s[a]))
			a++;
		snprintf(want, sizeof(want), "target '%.*s' (argument 1)%s", (int)(b - a), s + a,
		         cases[i].msg);
		add_fails(true, s, cases[i].code, want);
	}

	/* The brief's exact examples. */
	add_fails(
	    false, "999.1.2.3", MH_EINVAL,
	    "target '999.1.2.3' (argument 1): not an address, range, CIDR or resolvable name");
	add_fails(false, "2001:db8::/64", MH_ELIMIT,
	          "target '2001:db8::/64' (argument 1): IPv6 block of 2^64 addresses exceeds the "
	          "limit of 2^24 (a /104)");

	/* Control characters are not echoed; long specs are refused and shortened. */
	add_fails(true, "1.2.3.4\x01", MH_EINVAL, "target '1.2.3.4?' (argument 1)" GARBAGE_TAIL);
	char longspec[2000];
	memset(longspec, '1', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	struct mh_targets *t = new_set(true);
	assert_int_equal(mh_targets_add(t, longspec, "argument 1", err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "...' (argument 1): longer than 1024 characters"));
	assert_true(strlen(err) < 300);

	/* A failing resolver says why. */
	assert_int_equal(mh_targets_add(t, "fail.test", "argument 1", err, sizeof(err)), MH_EINVAL);
	assert_non_null(strstr(err, "target 'fail.test' (argument 1)" GARBAGE_TAIL " ("));

	/* A tiny error buffer is still terminated; NULL is allowed. */
	char tiny[8];
	assert_int_equal(mh_targets_add(t, "999.1.2.3", "argument 1", tiny, sizeof(tiny)),
	                 MH_EINVAL);
	assert_string_equal(tiny, "target ");
	assert_int_equal(mh_targets_add(t, "999.1.2.3", "argument 1", NULL, 0), MH_EINVAL);
	mh_targets_free(&t);
}

static void test_public(void **state)
{
	static const char *refused[] = {"8.8.8.8",
	                                "0.0.0.0",
	                                "198.18.0.0/14",
	                                "10.0.0.0/7",
	                                "100.64.0.0/9",
	                                "10.255.255.255-11.0.0.0",
	                                "198.19.255.250-198.20.0.1",
	                                "2001:db8::1",
	                                "::ffff:8.8.8.8",
	                                "::ffff:9.255.0.0/112",
	                                "::2"};
	static const char *accepted[] = {"127.0.0.1",
	                                 "127.0.0.0/8",
	                                 "::1",
	                                 "10.0.0.0/8",
	                                 "172.16.0.0/12",
	                                 "192.168.0.0/16",
	                                 "100.64.0.0/10",
	                                 "169.254.0.0/16",
	                                 "198.18.0.0/15",
	                                 "fc00::/104",
	                                 "fdff:ffff:ffff:ffff:ffff:ffff:ff00:0/104",
	                                 "fe80::1%lo",
	                                 "fe80::%lo/104",
	                                 "::ffff:10.0.0.0/104",
	                                 "::ffff:198.19.0.0-::ffff:198.19.255.255"};
	char want[MH_ERRLEN];

	(void)state;
	add_fails(false, "8.8.8.8", MH_EPUBLIC,
	          "target '8.8.8.8' (argument 1): public address; mailhole scans only loopback, "
	          "RFC 1918, RFC 6598, link-local, ULA and 198.18.0.0/15 unless --allow-public is "
	          "given");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(want, sizeof(want), "target '%s' (argument 1): public address" PUBLIC_TAIL,
		         refused[i]);
		add_fails(false, refused[i], MH_EPUBLIC, want);
	}
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		struct mh_targets *t = new_set(false);

		add_ok(t, accepted[i]);
		mh_targets_free(&t);
	}
	/* The scope goes on the address ("fe80::%lo/104"), not after the length. */
	add_fails(false, "fe80::/104%lo", MH_EINVAL,
	          "target 'fe80::/104%lo' (argument 1)" GARBAGE_TAIL);
	/* With --allow-public everything goes. */
	struct mh_targets *t = new_set(true);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		add_ok(t, refused[i]);
	finalize_ok(t);
	assert_true(mh_targets_count(t) > (1ull << 25));
	mh_targets_free(&t);
}

static void test_merge(void **state)
{
	struct mh_targets *t = new_set(false);

	(void)state;
	add_ok(t, "198.18.0.1");
	add_ok(t, "198.18.0.1");
	add_ok(t, "198.18.0.0/30");
	add_ok(t, "198.18.0.2-198.18.0.10");
	add_ok(t, "198.18.0.11"); /* adjacent */
	add_ok(t, "198.18.0.200-210");
	add_ok(t, "198.18.0.205-198.18.0.207"); /* inside */
	add_ok(t, "fd00::1");
	add_ok(t, "fd00::0-fd00::1");
	add_ok(t, "fd00::2");
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 12 + 11 + 3);
	assert_string_equal(get_str(t, 0), "198.18.0.0");
	assert_string_equal(get_str(t, 11), "198.18.0.11");
	assert_string_equal(get_str(t, 12), "198.18.0.200");
	assert_string_equal(get_str(t, 22), "198.18.0.210");
	assert_string_equal(get_str(t, 23), "fd00::");
	assert_string_equal(get_str(t, 25), "fd00::2");
	/* Finalize twice is harmless; adding after it is refused. */
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 26);
	assert_int_equal(mh_targets_add(t, "198.18.9.9", "argument 1", err, sizeof(err)),
	                 MH_EINVAL);
	assert_string_equal(err, "target set already finalized");
	assert_int_equal(mh_targets_exclude(t, "198.18.9.9", "argument 1", err, sizeof(err)),
	                 MH_EINVAL);
	mh_targets_free(&t);

	/* Nothing counts before finalize; an empty set is fine. */
	t = new_set(false);
	add_ok(t, "198.18.0.1");
	assert_int_equal(mh_targets_count(t), 0);
	mh_targets_free(&t);
	t = new_set(false);
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 0);
	mh_targets_free(&t);
}

static void test_excludes(void **state)
{
	struct mh_targets *t = new_set(false);
	unsigned lo = if_nametoindex("lo");
	char spec[64];

	(void)state;
	add_ok(t, "10.0.0.0/24");
	exclude_ok(t, "10.0.0.128/25");
	exclude_ok(t, "10.0.0.0");
	exclude_ok(t, "10.0.0.127");
	add_ok(t, "10.1.0.0/24");
	exclude_ok(t, "10.1.0.100-10.1.0.109"); /* splits a range */
	add_ok(t, "10.2.0.0/24");
	add_ok(t, "10.2.2.0/24");
	exclude_ok(t, "10.2.0.250-10.2.2.5"); /* spans two ranges and a gap */
	add_ok(t, "10.3.0.0/24");
	exclude_ok(t, "10.3.0.0/16");   /* covers it */
	exclude_ok(t, "8.8.8.8");       /* public excludes are fine */
	exclude_ok(t, "2001:db8::/32"); /* and have no size limit */
	add_ok(t, "fd00::/120");
	exclude_ok(t, "fd00::10-fd00::1f");
	snprintf(spec, sizeof(spec), "fe80::1%%%u-fe80::10%%%u", lo, lo);
	add_ok(t, spec);
	exclude_ok(t, "fe80::5");            /* no scope: every interface */
	exclude_ok(t, "fe80::6%lo");         /* that interface */
	exclude_ok(t, "fe80::7%4000000000"); /* another one: no effect */
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 126 + 246 + 250 + 250 + 240 + 14);
	assert_string_equal(get_str(t, 0), "10.0.0.1");
	assert_string_equal(get_str(t, 125), "10.0.0.126");
	assert_string_equal(get_str(t, 126), "10.1.0.0");
	assert_string_equal(get_str(t, 226), "10.1.0.110");
	assert_string_equal(get_str(t, 372), "10.2.0.0");
	assert_string_equal(get_str(t, 621), "10.2.0.249");
	assert_string_equal(get_str(t, 622), "10.2.2.6");
	assert_string_equal(get_str(t, 871), "10.2.2.255");
	assert_string_equal(get_str(t, 872), "fd00::");
	assert_string_equal(get_str(t, 888), "fd00::20");
	assert_string_equal(get_str(t, 1112), "fe80::1%lo");
	assert_string_equal(get_str(t, 1116), "fe80::7%lo");
	assert_string_equal(get_str(t, 1125), "fe80::10%lo");
	mh_targets_free(&t);

	/* Everything excluded. */
	t = new_set(false);
	add_ok(t, "198.18.0.0/15");
	add_ok(t, "fd00::/104");
	exclude_ok(t, "0.0.0.0/0");
	exclude_ok(t, "::/0");
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 0);
	mh_targets_free(&t);

	/* Only excludes. */
	t = new_set(false);
	exclude_ok(t, "10.0.0.1");
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 0);
	mh_targets_free(&t);

	/* Bad excludes fail with the same messages. */
	t = new_set(false);
	assert_int_equal(mh_targets_exclude(t, "10.0.0.9-10.0.0.1", "exclude 2", err, sizeof(err)),
	                 MH_EINVAL);
	assert_string_equal(err, "target '10.0.0.9-10.0.0.1' (exclude 2): range end before start");
	assert_int_equal(mh_targets_exclude(t, "fe80::%1/9", "exclude 3", err, sizeof(err)),
	                 MH_EINVAL);
	assert_string_equal(err, "target 'fe80::%1/9' (exclude 3): an interface is only for IPv6 "
	                         "link-local addresses (fe80::/10)");
	mh_targets_free(&t);
}

static void test_exclude_file(void **state)
{
	static const char text[] = "# keep the gateway out\n198.18.0.1\n198.18.0.200-255\r\n\n";
	char *path = write_temp(text, sizeof(text) - 1);
	struct mh_targets *t = new_set(false);

	(void)state;
	add_ok(t, "198.18.0.0/24");
	assert_int_equal(mh_targets_add_file(t, path, true, err, sizeof(err)), 0);
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 256 - 1 - 56);
	assert_string_equal(get_str(t, 0), "198.18.0.0");
	assert_string_equal(get_str(t, 1), "198.18.0.2");
	assert_string_equal(get_str(t, 198), "198.18.0.199");
	mh_targets_free(&t);
	remove_temp(path);

	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, "/nonexistent/mh-excl", true, err, sizeof(err)),
	                 MH_EIO);
	assert_string_equal(err, "exclude file '/nonexistent/mh-excl': No such file or directory");
	mh_targets_free(&t);
}

static void test_file(void **state)
{
	static const char text[] = "# lab hosts\r\n"
	                           "198.18.0.1\r\n"
	                           "\r\n"
	                           "   198.18.0.2   # with a comment\n"
	                           "\t198.18.0.10-12\n"
	                           "#198.18.0.99\n"
	                           "   # indented comment\n"
	                           "fd00::1#no space before the comment\n"
	                           "198.18.0.1\n"   /* duplicate */
	                           "198.18.1.0/30"; /* no final newline */
	char *path = write_temp(text, sizeof(text) - 1);
	struct mh_targets *t = new_set(false);

	(void)state;
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), 0);
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 1 + 1 + 3 + 4 + 1);
	assert_string_equal(get_str(t, 9), "fd00::1");
	mh_targets_free(&t);
	remove_temp(path);

	/* An empty file and a file of comments add nothing. */
	path = write_temp("", 0);
	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), 0);
	remove_temp(path);
	path = write_temp("#\n\n   \n", 7);
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), 0);
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 0);
	mh_targets_free(&t);
	remove_temp(path);
}

static void test_file_errors(void **state)
{
	char want[MH_ERRLEN];
	char *path;
	struct mh_targets *t;
	char *big;

	(void)state;
	/* A bad line names PATH:LINE. */
	path = write_temp("198.18.0.1\n\n# x\n999.1.2.3\n198.18.0.2\n", 37);
	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), MH_EINVAL);
	snprintf(want, sizeof(want), "target '999.1.2.3' (%s:4)" GARBAGE_TAIL, path);
	assert_string_equal(err, want);
	mh_targets_free(&t);
	remove_temp(path);

	/* A public address in a file. */
	path = write_temp("198.18.0.1\n8.8.8.0/24 # oops\n", 29);
	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), MH_EPUBLIC);
	snprintf(want, sizeof(want), "target '8.8.8.0/24' (%s:2): public address" PUBLIC_TAIL,
	         path);
	assert_string_equal(err, want);
	mh_targets_free(&t);
	remove_temp(path);

	/* Missing, and a directory. */
	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, "/nonexistent/mh-hosts", false, err, sizeof(err)),
	                 MH_EIO);
	assert_string_equal(err, "target file '/nonexistent/mh-hosts': No such file or directory");
	assert_int_equal(mh_targets_add_file(t, "/tmp", false, err, sizeof(err)), MH_EIO);
	assert_string_equal(err, "target file '/tmp': Is a directory");
	mh_targets_free(&t);

	/* Lines up to 4096 bytes are fine, a longer one is refused. */
	big = malloc(3 * 4200);
	assert_non_null(big);
	memset(big, ' ', 3 * 4200);
	memcpy(big, "198.18.0.1", 10);
	big[4096] = '\n';
	memcpy(big + 4097, "198.18.0.2", 10);
	big[4097 + 4097] = '\n';
	path = write_temp(big, 4097 + 4098);
	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), MH_ELIMIT);
	snprintf(want, sizeof(want), "target file '%s:2': line longer than 4096 bytes", path);
	assert_string_equal(err, want);
	mh_targets_free(&t);
	remove_temp(path);
	free(big);

	/* A NUL byte. */
	path = write_temp("198.18.0.1\n198.18\0.0.2\n", 24);
	t = new_set(false);
	assert_int_equal(mh_targets_add_file(t, path, false, err, sizeof(err)), MH_EINVAL);
	snprintf(want, sizeof(want), "target file '%s:2': NUL byte in line", path);
	assert_string_equal(err, want);
	mh_targets_free(&t);
	remove_temp(path);
}

static void test_file_stdin(void **state)
{
	char *path = write_temp("198.18.0.1\n198.18.0.3\nbad-\n", 27);
	struct mh_targets *t = new_set(false);
	int saved = dup(0), fd;

	(void)state;
	assert_true(saved >= 0);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(dup2(fd, 0), 0);
	close(fd);
	assert_int_equal(mh_targets_add_file(t, "-", false, err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "target 'bad-' (stdin:3)" GARBAGE_TAIL);
	assert_int_equal(dup2(saved, 0), 0);
	close(saved);
	clearerr(stdin);
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 2);
	mh_targets_free(&t);
	remove_temp(path);
}

static void assert_names(const struct mh_targets *t, const char *addr, const char *const *want)
{
	const char *const *got;
	struct mh_addr a;
	size_t i;

	assert_int_equal(mh_addr_parse(addr, &a), 0);
	got = mh_targets_names(t, &a);
	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	for (i = 0; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_names(void **state)
{
	static const char *const mail_mx[] = {"mail.test", "mx.test", NULL};
	static const char *const mail[] = {"mail.test", NULL};
	static const char *const mx[] = {"mx.test", NULL};
	struct mh_targets *t = new_set(false);
	unsigned before = resolver_calls;

	(void)state;
	add_ok(t, "mail.test");
	add_ok(t, "mx.test");
	add_ok(t, "mail.test"); /* twice: no duplicate names */
	add_ok(t, "198.18.0.6");
	add_ok(t, "fd00::6");
	exclude_ok(t, "excl.test");
	assert_int_equal(resolver_calls - before, 4);

	/* A name with a public address adds nothing at all and names the address. */
	assert_int_equal(mh_targets_add(t, "public.test", "hosts:3", err, sizeof(err)), MH_EPUBLIC);
	assert_string_equal(err,
	                    "target 'public.test' (hosts:3): public address 8.8.8.8" PUBLIC_TAIL);
	assert_int_equal(mh_targets_add(t, "ll.test", "hosts:4", err, sizeof(err)), MH_EINVAL);
	assert_string_equal(err, "target 'll.test' (hosts:4): IPv6 link-local address fe80::7 "
	                         "needs an interface, as in fe80::1%eth0");
	finalize_ok(t);
	/* 198.18.0.5, 10.1.2.3, fd00::5; 198.18.0.6 and fd00::6 excluded by name. */
	assert_int_equal(mh_targets_count(t), 3);
	assert_string_equal(get_str(t, 0), "10.1.2.3");
	assert_string_equal(get_str(t, 1), "198.18.0.5");
	assert_string_equal(get_str(t, 2), "fd00::5");
	assert_names(t, "198.18.0.5", mail_mx);
	assert_names(t, "fd00::5", mail);
	assert_names(t, "10.1.2.3", mx);
	assert_names(t, "198.18.0.6", NULL);
	assert_names(t, "198.18.0.9", NULL); /* public.test was refused whole */
	assert_names(t, "1.2.3.4", NULL);
	mh_targets_free(&t);

	/* With --allow-public the public name is taken. */
	t = new_set(true);
	add_ok(t, "public.test");
	finalize_ok(t);
	assert_int_equal(mh_targets_count(t), 2);
	assert_string_equal(get_str(t, 0), "8.8.8.8");
	mh_targets_free(&t);
}

/* The real resolver, for the one name it answers from /etc/hosts. */
static void test_localhost(void **state)
{
	static const char *const want[] = {"localhost", NULL};
	struct mh_targets *t = new_set(false);
	char buf[MH_ADDR_STRLEN];

	(void)state;
	add_ok(t, "localhost");
	finalize_ok(t);
	assert_true(mh_targets_count(t) >= 1 && mh_targets_count(t) <= 2);
	for (uint64_t i = 0; i < mh_targets_count(t); i++) {
		struct mh_addr a;

		mh_targets_get(t, i, &a);
		assert_true(mh_addr_is_loopback(&a));
		mh_addr_format(&a, buf, sizeof(buf));
		assert_names(t, buf, want);
	}
	mh_targets_free(&t);
}

/* Numeric specs, good or bad, never reach the resolver. */
static void test_no_dns_for_numbers(void **state)
{
	static const char *specs[] = {
	    "198.18.0.1",
	    "999.1.2.3",
	    "1.2.3.4/33",
	    "198.18.0.1-abc",
	    "fd00::1",
	    "dead::beef",
	    "dead::/x",
	    "fe80::1%nosuchif0",
	    "fe80::1%lo-x",
	    "1.2.3",
	    "-1",
	    "1.2.3.4-5-6",
	    "::ffff:1.2.3.4",
	    "fd00::1-fd00::2",
	    "a:b",
	    "1.2.3.4 x",
	    "a b",
	    "name_with_underscore",
	    "x/24",
	    "cafe::-cafe::1",
	};
	struct mh_targets *t = new_set(true);
	unsigned before = resolver_calls;

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++)
		mh_targets_add(t, specs[i], "argument 1", err, sizeof(err));
	assert_int_equal(resolver_calls, before);
	/* Host-name-like specs do ask (the test resolver answers "not found"). */
	assert_int_equal(mh_targets_add(t, "cafe", "argument 1", err, sizeof(err)), MH_EINVAL);
	assert_int_equal(mh_targets_add(t, "mail-1.lab", "argument 1", err, sizeof(err)),
	                 MH_EINVAL);
	assert_int_equal(resolver_calls, before + 2);
	mh_targets_free(&t);
}

/* Index -> address against a bitmap model, over many scattered ranges. */
static void test_get_model(void **state)
{
	uint8_t *in = calloc(65536, 1);
	struct mh_targets *t = new_set(false);
	uint64_t x = 12345, count = 0, idx = 0;
	char spec[64];

	(void)state;
	assert_non_null(in);
	for (int i = 0; i < 3000; i++) {
		uint32_t lo, len;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		lo = (uint32_t)(x >> 48);
		len = (uint32_t)(x >> 20) % 40;
		if (lo + len > 65535)
			len = 65535 - lo;
		if (i % 5 == 4) {
			snprintf(spec, sizeof(spec), "10.7.%u.%u-10.7.%u.%u", lo >> 8, lo & 255,
			         (lo + len) >> 8, (lo + len) & 255);
			exclude_ok(t, spec);
			for (uint32_t k = lo; k <= lo + len; k++)
				in[k] |= 2;
		} else {
			snprintf(spec, sizeof(spec), "10.7.%u.%u-10.7.%u.%u", lo >> 8, lo & 255,
			         (lo + len) >> 8, (lo + len) & 255);
			add_ok(t, spec);
			for (uint32_t k = lo; k <= lo + len; k++)
				in[k] |= 1;
		}
	}
	finalize_ok(t);
	for (uint32_t k = 0; k < 65536; k++)
		count += in[k] == 1;
	assert_int_equal(mh_targets_count(t), count);
	for (uint32_t k = 0; k < 65536; k++) {
		struct mh_addr a;

		if (in[k] != 1)
			continue;
		mh_targets_get(t, idx++, &a);
		assert_int_equal(a.family, AF_INET);
		assert_int_equal(a.bytes[0], 10);
		assert_int_equal(a.bytes[1], 7);
		assert_int_equal(a.bytes[2] << 8 | a.bytes[3], k);
	}
	free(in);
	mh_targets_free(&t);
}

/* 1,000,000 separate ranges are the limit; memory is per range, not per address. */
static void test_limit(void **state)
{
	struct mh_targets *t = new_set(false);
	char spec[32];

	(void)state;
	for (uint32_t i = 0; i < 1000000; i++) {
		snprintf(spec, sizeof(spec), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255,
		         i & 255);
		if (mh_targets_add(t, spec, "argument 1", err, sizeof(err)) != 0)
			fail_msg("add %u: %s", i, err);
	}
	assert_int_equal(mh_targets_add(t, "10.200.0.0/16", "hosts:1000001", err, sizeof(err)),
	                 MH_ELIMIT);
	assert_string_equal(err, "target '10.200.0.0/16' (hosts:1000001): more than 1000000 "
	                         "targets (addresses, blocks and ranges)");
	finalize_ok(t);
	/* Consecutive addresses merge into one range. */
	assert_int_equal(mh_targets_count(t), 1000000);
	assert_string_equal(get_str(t, 999999), "10.15.66.63");
	mh_targets_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_parse_format),
	    cmocka_unit_test(test_addr_sockaddr),
	    cmocka_unit_test(test_addr_cmp),
	    cmocka_unit_test(test_addr_classes),
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_whole_space),
	    cmocka_unit_test(test_bad_forms),
	    cmocka_unit_test(test_public),
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_excludes),
	    cmocka_unit_test(test_exclude_file),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_file_errors),
	    cmocka_unit_test(test_file_stdin),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_localhost),
	    cmocka_unit_test(test_no_dns_for_numbers),
	    cmocka_unit_test(test_get_model),
	    cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
