/*
 * addr.c -- one IPv4 or IPv6 address (include/mailhole/target.h): parsing,
 * printing, sockaddr conversion, ordering, and the "non-public" test that
 * keeps mailhole on lab and internal networks unless --allow-public is given.
 *
 * Parsing is numeric only (inet_pton plus an optional "%scope" on IPv6
 * link-local addresses): nothing in this file ever touches DNS. A scope is
 * kept only on link-local addresses, where it names the interface; on any
 * other address it means nothing, so it is refused when parsing and dropped
 * when converting from a sockaddr, which keeps mh_addr_cmp() meaningful.
 */
#include "mailhole/target.h"
#include "mailhole/common.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* fe80::/10. */
static bool v6_is_linklocal(const uint8_t *b)
{
	return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

/* ::ffff:0:0/96, an IPv4 address carried in IPv6; its IPv4 part is b[12..15]. */
static bool v6_is_v4mapped(const uint8_t *b)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(b, prefix, sizeof(prefix)) == 0;
}

static bool v6_is_loopback(const uint8_t *b)
{
	static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	return memcmp(b, one, sizeof(one)) == 0;
}

/*
 * The IPv4 blocks mailhole scans without --allow-public. targets.c keeps the
 * same list as ranges to judge whole blocks; test_targets.c checks that the
 * two agree at every edge.
 */
static bool v4_is_nonpublic(const uint8_t *b)
{
	return b[0] == 10 ||                           /* RFC 1918 10/8 */
	       b[0] == 127 ||                          /* loopback 127/8 */
	       (b[0] == 100 && (b[1] & 0xc0) == 64) || /* RFC 6598 100.64/10 */
	       (b[0] == 169 && b[1] == 254) ||         /* link-local 169.254/16 */
	       (b[0] == 172 && (b[1] & 0xf0) == 16) || /* RFC 1918 172.16/12 */
	       (b[0] == 192 && b[1] == 168) ||         /* RFC 1918 192.168/16 */
	       (b[0] == 198 && (b[1] & 0xfe) == 18);   /* benchmarking 198.18/15 */
}

/*
 * Parses the interface part of "fe80::1%eth0" or "fe80::1%2" into an index.
 * A name must exist on this machine (if_nametoindex asks the kernel, not the
 * network); a number is taken as given.
 */
static int parse_scope(const char *s, uint32_t *out)
{
	uint64_t v;
	unsigned idx;

	if (!*s)
		return MH_EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		if (mh_parse_u64(s, 1, UINT32_MAX, &v) < 0)
			return MH_EINVAL;
		*out = (uint32_t)v;
		return 0;
	}
	if (strlen(s) >= IF_NAMESIZE)
		return MH_EINVAL;
	idx = if_nametoindex(s);
	if (idx == 0)
		return MH_EINVAL;
	*out = idx;
	return 0;
}

int mh_addr_parse(const char *s, struct mh_addr *out)
{
	char buf[INET6_ADDRSTRLEN];
	struct mh_addr a;
	const char *pct;
	size_t len;

	if (!s || !out)
		return MH_EINVAL;
	memset(&a, 0, sizeof(a));
	pct = strchr(s, '%');
	if (!pct) {
		if (inet_pton(AF_INET, s, a.bytes) == 1)
			a.family = AF_INET;
		else if (inet_pton(AF_INET6, s, a.bytes) == 1)
			a.family = AF_INET6;
		else
			return MH_EINVAL;
		*out = a;
		return 0;
	}
	/* "ADDR%SCOPE": only an IPv6 link-local address takes a scope. */
	len = (size_t)(pct - s);
	if (len >= sizeof(buf))
		return MH_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, a.bytes) != 1 || !v6_is_linklocal(a.bytes))
		return MH_EINVAL;
	if (parse_scope(pct + 1, &a.scope_id) < 0)
		return MH_EINVAL;
	a.family = AF_INET6;
	*out = a;
	return 0;
}

void mh_addr_format(const struct mh_addr *a, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN];
	char ifname[IF_NAMESIZE];

	if (!buf || size == 0)
		return;
	if (!a || (a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, a->bytes, text, sizeof(text))) {
		mh_strlcpy(buf, "?", size);
		return;
	}
	if (a->family == AF_INET6 && a->scope_id != 0 && v6_is_linklocal(a->bytes)) {
		/* The interface name when it still exists, else its number. */
		if (if_indextoname(a->scope_id, ifname))
			snprintf(buf, size, "%s%%%s", text, ifname);
		else
			snprintf(buf, size, "%s%%%u", text, (unsigned)a->scope_id);
		return;
	}
	mh_strlcpy(buf, text, size);
}

socklen_t mh_addr_to_sockaddr(const struct mh_addr *a, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		return (socklen_t)sizeof(*sin);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		sin6->sin6_scope_id = a->scope_id;
		return (socklen_t)sizeof(*sin6);
	}
	return 0;
}

int mh_addr_from_sockaddr(const struct sockaddr *sa, struct mh_addr *out)
{
	if (!sa || !out)
		return MH_EINVAL;
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		out->family = AF_INET;
		memcpy(out->bytes, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		out->family = AF_INET6;
		memcpy(out->bytes, &sin6->sin6_addr, 16);
		if (v6_is_linklocal(out->bytes))
			out->scope_id = sin6->sin6_scope_id;
		return 0;
	}
	return MH_EINVAL;
}

int mh_addr_cmp(const struct mh_addr *a, const struct mh_addr *b)
{
	int c;

	/* AF_INET (2) sorts before AF_INET6 (10). */
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->bytes, b->bytes, a->family == AF_INET ? 4 : 16);
	if (c != 0)
		return c < 0 ? -1 : 1;
	/* The same link-local address on two interfaces is two hosts. */
	if (a->scope_id != b->scope_id)
		return a->scope_id < b->scope_id ? -1 : 1;
	return 0;
}

bool mh_addr_is_loopback(const struct mh_addr *a)
{
	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	if (a->family == AF_INET6)
		return v6_is_loopback(a->bytes) ||
		       (v6_is_v4mapped(a->bytes) && a->bytes[12] == 127);
	return false;
}

bool mh_addr_is_nonpublic(const struct mh_addr *a)
{
	if (a->family == AF_INET)
		return v4_is_nonpublic(a->bytes);
	if (a->family != AF_INET6)
		return false;
	if (v6_is_v4mapped(a->bytes))
		return v4_is_nonpublic(a->bytes + 12);
	return v6_is_loopback(a->bytes) ||   /* ::1 */
	       v6_is_linklocal(a->bytes) ||  /* fe80::/10 */
	       (a->bytes[0] & 0xfe) == 0xfc; /* ULA fc00::/7 */
}
