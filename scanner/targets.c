/*
 * targets.c -- the target set (include/mailhole/target.h): specs in, sorted
 * disjoint ranges out, index -> address by binary search.
 *
 * Every spec becomes one or more inclusive ranges: IPv4 as (lo, hi) uint32,
 * IPv6 as (lo, hi) unsigned __int128 plus the interface of a link-local
 * scope. A /8 is one range, never 16 million entries, so memory follows the
 * number of specs, not the number of addresses. finalize() sorts and merges
 * the ranges, subtracts the excludes (sorted and merged the same way), and
 * stores for each range the number of addresses before it: mh_targets_get()
 * is then a binary search over those prefix counts, and the set is read-only
 * and shared by every worker thread.
 *
 * Numeric specs never reach the resolver: inet_pton decides what is an
 * address, and a spec goes to getaddrinfo() only when it looks like a host
 * name (letters, digits, '-' and '.', at least one letter). The names are
 * kept per address in a sorted array searched by mh_targets_names().
 *
 * Order of the finalized set: IPv4 first, then IPv6 grouped by scope (the
 * addresses without one first, then each interface), each group in numeric
 * order. Without link-local scopes that is plain numeric order.
 */
#include "mailhole/target.h"
#include "mailhole/common.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* Ranges one list (targets or excludes) may hold before merging. */
#define MAX_RANGES 1000000u
/* (address, host name) pairs remembered. */
#define MAX_NAME_PAIRS 1000000u
/* Longest spec, after trimming; a host name is at most 253 bytes plus a dot. */
#define SPEC_MAX     1024
#define NAME_MAX_LEN 254
/* Longest line of a targets file, end of line excluded. */
#define FILE_LINE_MAX 4096
/* How much of a bad spec a message quotes. */
#define SPEC_SHOWN 160

#define U128_MAX (~(u128)0)
/* fe80::/10 */
#define LL_LO ((u128)0xfe80 << 112)
#define LL_HI (LL_LO | (U128_MAX >> 10))

struct range4 {
	uint32_t lo, hi;
};

struct range6 {
	u128 lo, hi;
	uint32_t scope; /* interface of a link-local range, else 0 */
};

/* A list of ranges; unsorted while specs are added. */
struct rangeset {
	struct range4 *v4;
	size_t n4, cap4;
	struct range6 *v6;
	size_t n6, cap6;
};

/* An address a host name resolved to; name is owned by mh_targets.names. */
struct name_pair {
	struct mh_addr addr;
	const char *name;
};

/* After finalize: the names of addr are lists[first], ... up to a NULL. */
struct name_entry {
	struct mh_addr addr;
	size_t first;
};

struct mh_targets {
	bool allow_public;
	bool finalized;
	struct rangeset in; /* targets; sorted, merged, excludes removed at finalize */
	struct rangeset ex; /* excludes; freed at finalize */
	uint64_t *before4;  /* after finalize: addresses before in.v4[i] */
	uint64_t *before6;  /* after finalize: addresses (IPv4 included) before in.v6[i] */
	uint64_t count4;    /* IPv4 addresses */
	uint64_t count;     /* all addresses */
	char **names;       /* every host name given as a target, owned */
	size_t nnames, capnames;
	struct name_pair *pairs; /* until finalize */
	size_t npairs, cappairs;
	struct name_entry *entries; /* after finalize, sorted by address */
	size_t nentries;
	const char **lists; /* NULL-terminated lists of names, pointers into names */
};

/* What the message about one spec needs. */
struct spec_ctx {
	const char *shown;  /* the spec, sanitized and shortened for messages */
	const char *origin; /* "argument 2", "hosts.txt:14" */
	bool exclude;
	char *err;
	size_t errlen;
};

/*
 * The blocks mh_addr_is_nonpublic() accepts, as ranges, to judge a whole
 * block or range at once. They are CIDR blocks, disjoint and not adjacent,
 * so a range is non-public exactly when it lies inside one of them.
 */
static const struct range4 nonpublic4[] = {
    {0x0a000000u, 0x0affffffu}, /* 10.0.0.0/8 */
    {0x64400000u, 0x647fffffu}, /* 100.64.0.0/10 */
    {0x7f000000u, 0x7fffffffu}, /* 127.0.0.0/8 */
    {0xa9fe0000u, 0xa9feffffu}, /* 169.254.0.0/16 */
    {0xac100000u, 0xac1fffffu}, /* 172.16.0.0/12 */
    {0xc0a80000u, 0xc0a8ffffu}, /* 192.168.0.0/16 */
    {0xc6120000u, 0xc613ffffu}, /* 198.18.0.0/15 */
};

__attribute__((format(printf, 3, 4))) static int spec_err(const struct spec_ctx *c, int code,
                                                          const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || c->errlen == 0)
		return code;
	n = snprintf(c->err, c->errlen, "target '%s' (%s): ", c->shown, c->origin);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int garbage(const struct spec_ctx *c)
{
	return spec_err(c, MH_EINVAL, "not an address, range, CIDR or resolvable name");
}

static int public_err(const struct spec_ctx *c, const char *addr)
{
	return spec_err(c, MH_EPUBLIC,
	                "public address%s%s; mailhole scans only loopback, RFC 1918, RFC 6598, "
	                "link-local, ULA and 198.18.0.0/15 unless --allow-public is given",
	                addr ? " " : "", addr ? addr : "");
}

static uint32_t load32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void store32(uint32_t x, uint8_t *b)
{
	b[0] = (uint8_t)(x >> 24);
	b[1] = (uint8_t)(x >> 16);
	b[2] = (uint8_t)(x >> 8);
	b[3] = (uint8_t)x;
}

static u128 load128(const uint8_t *b)
{
	u128 x = 0;

	for (int i = 0; i < 16; i++)
		x = x << 8 | b[i];
	return x;
}

static void store128(u128 x, uint8_t *b)
{
	for (int i = 15; i >= 0; i--) {
		b[i] = (uint8_t)x;
		x >>= 8;
	}
}

static bool range4_nonpublic(uint32_t lo, uint32_t hi)
{
	for (size_t i = 0; i < sizeof(nonpublic4) / sizeof(nonpublic4[0]); i++)
		if (lo >= nonpublic4[i].lo && hi <= nonpublic4[i].hi)
			return true;
	return false;
}

static bool range6_nonpublic(u128 lo, u128 hi)
{
	if (lo == 1 && hi == 1) /* ::1 */
		return true;
	if ((lo >> 121) == 0x7e && (hi >> 121) == 0x7e) /* fc00::/7 */
		return true;
	if (lo >= LL_LO && hi <= LL_HI) /* fe80::/10 */
		return true;
	/* ::ffff:0:0/96 is judged by the IPv4 address it carries. */
	if ((lo >> 32) == 0xffff && (hi >> 32) == 0xffff)
		return range4_nonpublic((uint32_t)lo, (uint32_t)hi);
	return false;
}

/*
 * Grows *arrp (an array of elem-byte items, *cap of them) to hold need.
 * need is bounded by the MAX_ limits, so the products cannot overflow.
 */
static int reserve(void *arrp, size_t *cap, size_t need, size_t elem)
{
	void *arr, *p;
	size_t ncap;

	if (need <= *cap)
		return 0;
	memcpy(&arr, arrp, sizeof(arr));
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(arr, ncap * elem);
	if (!p)
		return MH_ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = ncap;
	return 0;
}

static void format4(uint32_t x, char *buf, size_t size)
{
	struct mh_addr a = {.family = AF_INET};

	store32(x, a.bytes);
	mh_addr_format(&a, buf, size);
}

/* A spec after parsing: one range of one family. */
struct parsed {
	int family;
	struct range4 r4;
	struct range6 r6;
};

static void parsed_single(struct parsed *p, const struct mh_addr *a)
{
	p->family = a->family;
	if (a->family == AF_INET) {
		p->r4.lo = p->r4.hi = load32(a->bytes);
	} else {
		p->r6.lo = p->r6.hi = load128(a->bytes);
		p->r6.scope = a->scope_id;
	}
}

/*
 * An interface only means something on link-local addresses (mh_addr_parse
 * refuses it elsewhere), so a block or range that has one stays inside
 * fe80::/10. 1 when r is fine, else the message.
 */
static int check_scope(const struct spec_ctx *c, const struct range6 *r)
{
	if (r->scope != 0 && (r->lo < LL_LO || r->hi > LL_HI))
		return spec_err(c, MH_EINVAL,
		                "an interface is only for IPv6 link-local addresses (fe80::/10)");
	return 1;
}

/* "ADDR/LEN". 1 when parsed, else a negative code with the message. */
static int parse_cidr(const struct spec_ctx *c, const char *s, const char *slash, struct parsed *p)
{
	char buf[MH_ADDR_STRLEN + 16];
	size_t len = (size_t)(slash - s);
	struct mh_addr a;
	uint64_t plen;
	unsigned hostbits;

	if (len == 0 || len >= sizeof(buf))
		return garbage(c);
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (mh_addr_parse(buf, &a) < 0 ||
	    mh_parse_u64(slash + 1, 0, a.family == AF_INET ? 32 : 128, &plen) < 0)
		return garbage(c);
	p->family = a.family;
	if (a.family == AF_INET) {
		/* Host bits set ("198.18.0.7/24") are masked off, as nmap does. */
		hostbits = 32 - (unsigned)plen;
		uint32_t hostmask = hostbits == 32 ? UINT32_MAX : ((uint32_t)1 << hostbits) - 1;
		p->r4.lo = load32(a.bytes) & ~hostmask;
		p->r4.hi = p->r4.lo | hostmask;
		return 1;
	}
	hostbits = 128 - (unsigned)plen;
	if (!c->exclude && hostbits > MH_TARGET_V6_MAX_BITS)
		return spec_err(c, MH_ELIMIT,
		                "IPv6 block of 2^%u addresses exceeds the limit of 2^%d (a /%d)",
		                hostbits, MH_TARGET_V6_MAX_BITS, 128 - MH_TARGET_V6_MAX_BITS);
	u128 hostmask = hostbits == 128 ? U128_MAX : ((u128)1 << hostbits) - 1;
	p->r6.lo = load128(a.bytes) & ~hostmask;
	p->r6.hi = p->r6.lo | hostmask;
	p->r6.scope = a.scope_id;
	return check_scope(c, &p->r6);
}

/*
 * The end of a range whose start a parsed: an address of the same family,
 * or for IPv4 a last octet ("198.18.0.1-20"). 1 when parsed, 0 when `end`
 * is neither, else a negative code with the message.
 */
static int parse_range_end(const struct spec_ctx *c, const struct mh_addr *a, const char *end,
                           struct parsed *p)
{
	struct mh_addr b;
	uint64_t octet;

	if (mh_addr_parse(end, &b) == 0) {
		if (b.family != a->family)
			return spec_err(c, MH_EINVAL, "range mixes IPv4 and IPv6");
		if (b.scope_id != 0 && b.scope_id != a->scope_id)
			return spec_err(c, MH_EINVAL, "range ends are on different interfaces");
	} else if (a->family == AF_INET && strlen(end) <= 3 &&
	           mh_parse_u64(end, 0, 255, &octet) == 0) {
		b = *a;
		b.bytes[3] = (uint8_t)octet;
	} else {
		return 0;
	}
	p->family = a->family;
	if (a->family == AF_INET) {
		p->r4.lo = load32(a->bytes);
		p->r4.hi = load32(b.bytes);
		if (p->r4.hi < p->r4.lo)
			return spec_err(c, MH_EINVAL, "range end before start");
		return 1;
	}
	p->r6.lo = load128(a->bytes);
	p->r6.hi = load128(b.bytes);
	p->r6.scope = a->scope_id;
	if (p->r6.hi < p->r6.lo)
		return spec_err(c, MH_EINVAL, "range end before start");
	u128 span = p->r6.hi - p->r6.lo; /* size - 1 */
	if (!c->exclude && span >= ((u128)1 << MH_TARGET_V6_MAX_BITS)) {
		char size[32];

		if (span < UINT64_MAX)
			snprintf(size, sizeof(size), "%llu", (unsigned long long)span + 1);
		else
			mh_strlcpy(size, "more than 2^64", sizeof(size));
		return spec_err(c, MH_ELIMIT,
		                "IPv6 range of %s addresses exceeds the limit of 2^%d (a /%d)",
		                size, MH_TARGET_V6_MAX_BITS, 128 - MH_TARGET_V6_MAX_BITS);
	}
	return check_scope(c, &p->r6);
}

/*
 * An address, a CIDR block or a range. 1 when s is one of them (*p set), 0
 * when it is none and may be a host name, else a negative code with the
 * message (a malformed block or range is never tried as a name).
 */
static int parse_numeric(const struct spec_ctx *c, const char *s, struct parsed *p)
{
	char left[MH_ADDR_STRLEN + 16];
	struct mh_addr a;
	const char *slash, *dash;
	bool range_like = false;
	int rc;

	if (mh_addr_parse(s, &a) == 0) {
		parsed_single(p, &a);
		return 1;
	}
	/* A '/' is never part of a host name nor of an interface name. */
	slash = strrchr(s, '/');
	if (slash)
		return parse_cidr(c, s, slash, p);
	/* Every '-' is tried, since an interface name may hold one. */
	for (dash = strchr(s, '-'); dash; dash = strchr(dash + 1, '-')) {
		size_t len = (size_t)(dash - s);

		if (len == 0 || len >= sizeof(left))
			continue;
		memcpy(left, s, len);
		left[len] = '\0';
		if (mh_addr_parse(left, &a) < 0)
			continue;
		range_like = true;
		rc = parse_range_end(c, &a, dash + 1, p);
		if (rc != 0)
			return rc;
	}
	return range_like ? garbage(c) : 0;
}

/* Letters, digits, '-' and '.', with at least one letter: worth asking the resolver. */
static bool looks_like_name(const char *s)
{
	bool letter = false;
	size_t len = 0;

	for (; *s; s++, len++) {
		char ch = *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
			letter = true;
		else if (!(ch >= '0' && ch <= '9') && ch != '-' && ch != '.')
			return false;
	}
	return letter && len <= NAME_MAX_LEN;
}

/* Checks a target range (not an exclude) against the policy of the set. */
static int check4(const struct mh_targets *t, const struct spec_ctx *c, uint32_t lo, uint32_t hi,
                  bool name)
{
	char buf[MH_ADDR_STRLEN];

	if (t->allow_public || range4_nonpublic(lo, hi))
		return 0;
	if (name)
		format4(lo, buf, sizeof(buf));
	return public_err(c, name ? buf : NULL);
}

static int check6(const struct mh_targets *t, const struct spec_ctx *c, const struct range6 *r,
                  bool name)
{
	char buf[MH_ADDR_STRLEN];
	struct mh_addr a = {.family = AF_INET6, .scope_id = r->scope};

	store128(r->lo, a.bytes);
	mh_addr_format(&a, buf, sizeof(buf));
	/* connect() to a link-local address fails without an interface. */
	if (r->scope == 0 && r->lo <= LL_HI && r->hi >= LL_LO)
		return spec_err(
		    c, MH_EINVAL,
		    "IPv6 link-local address%s%s needs an interface, as in fe80::1%%eth0",
		    name ? " " : "", name ? buf : "");
	if (t->allow_public || range6_nonpublic(r->lo, r->hi))
		return 0;
	return public_err(c, name ? buf : NULL);
}

static int limit_err(const struct spec_ctx *c)
{
	return spec_err(c, MH_ELIMIT, "more than %u %s (addresses, blocks and ranges)", MAX_RANGES,
	                c->exclude ? "excludes" : "targets");
}

static int nomem(const struct spec_ctx *c)
{
	return spec_err(c, MH_ENOMEM, "out of memory");
}

/* Adds one numeric spec, already parsed, to the targets or the excludes. */
static int add_parsed(struct mh_targets *t, const struct spec_ctx *c, const struct parsed *p)
{
	struct rangeset *set = c->exclude ? &t->ex : &t->in;
	int rc;

	if (!c->exclude) {
		rc = p->family == AF_INET ? check4(t, c, p->r4.lo, p->r4.hi, false)
		                          : check6(t, c, &p->r6, false);
		if (rc < 0)
			return rc;
	}
	if (set->n4 + set->n6 >= MAX_RANGES)
		return limit_err(c);
	if (p->family == AF_INET) {
		if (reserve(&set->v4, &set->cap4, set->n4 + 1, sizeof(*set->v4)) < 0)
			return nomem(c);
		set->v4[set->n4++] = p->r4;
	} else {
		if (reserve(&set->v6, &set->cap6, set->n6 + 1, sizeof(*set->v6)) < 0)
			return nomem(c);
		set->v6[set->n6++] = p->r6;
	}
	return 0;
}

/*
 * Resolves a host name and adds every A and AAAA address it has, all or
 * none. A target name is remembered for its addresses; an exclude name is
 * only resolved.
 */
static int add_name(struct mh_targets *t, const struct spec_ctx *c, const char *name)
{
	struct rangeset *set = c->exclude ? &t->ex : &t->in;
	struct addrinfo hints, *res = NULL, *ai;
	size_t k4 = 0, k6 = 0;
	char *copy = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM; /* one answer per address, not one per socket type */
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		/* Not found is the plain message; a failing resolver says why. */
		if (rc == EAI_AGAIN || rc == EAI_FAIL || rc == EAI_SYSTEM || rc == EAI_MEMORY)
			return spec_err(c, MH_EINVAL,
			                "not an address, range, CIDR or resolvable name (%s)",
			                gai_strerror(rc));
		return garbage(c);
	}
	/* First pass: check every address, count them. */
	for (ai = res; ai; ai = ai->ai_next) {
		struct mh_addr a;
		struct parsed p;

		if (!ai->ai_addr || mh_addr_from_sockaddr(ai->ai_addr, &a) < 0)
			continue;
		parsed_single(&p, &a);
		if (a.family == AF_INET)
			k4++;
		else
			k6++;
		if (c->exclude)
			continue;
		rc = a.family == AF_INET ? check4(t, c, p.r4.lo, p.r4.hi, true)
		                         : check6(t, c, &p.r6, true);
		if (rc < 0)
			goto out;
	}
	if (k4 + k6 == 0) {
		rc = garbage(c);
		goto out;
	}
	if (set->n4 + set->n6 + k4 + k6 > MAX_RANGES) {
		rc = limit_err(c);
		goto out;
	}
	if (!c->exclude && t->npairs + k4 + k6 > MAX_NAME_PAIRS) {
		rc = spec_err(c, MH_ELIMIT, "more than %u addresses of host names", MAX_NAME_PAIRS);
		goto out;
	}
	/* Reserve everything before adding anything, so a failure adds nothing. */
	rc = MH_ENOMEM;
	if (reserve(&set->v4, &set->cap4, set->n4 + k4, sizeof(*set->v4)) < 0 ||
	    reserve(&set->v6, &set->cap6, set->n6 + k6, sizeof(*set->v6)) < 0)
		goto nomem;
	if (!c->exclude) {
		if (reserve(&t->pairs, &t->cappairs, t->npairs + k4 + k6, sizeof(*t->pairs)) < 0 ||
		    reserve(&t->names, &t->capnames, t->nnames + 1, sizeof(*t->names)) < 0)
			goto nomem;
		copy = strdup(name);
		if (!copy)
			goto nomem;
		t->names[t->nnames++] = copy;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		struct mh_addr a;
		struct parsed p;

		if (!ai->ai_addr || mh_addr_from_sockaddr(ai->ai_addr, &a) < 0)
			continue;
		parsed_single(&p, &a);
		if (a.family == AF_INET)
			set->v4[set->n4++] = p.r4;
		else
			set->v6[set->n6++] = p.r6;
		if (!c->exclude) {
			t->pairs[t->npairs].addr = a;
			t->pairs[t->npairs].name = copy;
			t->npairs++;
		}
	}
	rc = 0;
	goto out;
nomem:
	rc = nomem(c);
out:
	freeaddrinfo(res);
	return rc;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

/* Adds (or excludes) one spec; surrounding white space is ignored. */
static int add_spec(struct mh_targets *t, const char *spec, const char *origin, bool exclude,
                    char *err, size_t errlen)
{
	char buf[SPEC_MAX + 1];
	char shown[SPEC_SHOWN];
	struct spec_ctx c = {
	    .shown = shown,
	    .origin = origin ? origin : "target",
	    .exclude = exclude,
	    .err = err,
	    .errlen = errlen,
	};
	struct parsed p;
	size_t len;
	int rc;

	if (!t || !spec)
		return mh_err(err, errlen, MH_EINVAL, "no target set or spec");
	if (t->finalized)
		return mh_err(err, errlen, MH_EINVAL, "target set already finalized");
	while (is_space(*spec))
		spec++;
	len = strlen(spec);
	while (len > 0 && is_space(spec[len - 1]))
		len--;
	mh_sanitize_line(shown, sizeof(shown), spec, len);
	if (len == 0)
		return spec_err(&c, MH_EINVAL, "empty target");
	if (len > SPEC_MAX)
		return spec_err(&c, MH_EINVAL, "longer than %d characters", SPEC_MAX);
	memcpy(buf, spec, len);
	buf[len] = '\0';

	rc = parse_numeric(&c, buf, &p);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return add_parsed(t, &c, &p);
	if (!looks_like_name(buf))
		return garbage(&c);
	return add_name(t, &c, buf);
}

int mh_targets_new(struct mh_targets **out, bool allow_public)
{
	struct mh_targets *t;

	if (!out)
		return MH_EINVAL;
	t = calloc(1, sizeof(*t));
	*out = t;
	if (!t)
		return MH_ENOMEM;
	t->allow_public = allow_public;
	return 0;
}

static void rangeset_free(struct rangeset *s)
{
	free(s->v4);
	free(s->v6);
	memset(s, 0, sizeof(*s));
}

void mh_targets_free(struct mh_targets **tp)
{
	struct mh_targets *t;

	if (!tp || !*tp)
		return;
	t = *tp;
	rangeset_free(&t->in);
	rangeset_free(&t->ex);
	free(t->before4);
	free(t->before6);
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i]);
	free(t->names);
	free(t->pairs);
	free(t->entries);
	free(t->lists);
	free(t);
	*tp = NULL;
}

int mh_targets_add(struct mh_targets *t, const char *spec, const char *origin, char *err,
                   size_t errlen)
{
	return add_spec(t, spec, origin, false, err, errlen);
}

int mh_targets_exclude(struct mh_targets *t, const char *spec, const char *origin, char *err,
                       size_t errlen)
{
	return add_spec(t, spec, origin, true, err, errlen);
}

/*
 * Reads one line of f into line (FILE_LINE_MAX + 1 bytes) without its end of
 * line. 1 for a line, 0 at end of file, MH_ELIMIT when the line is longer
 * than FILE_LINE_MAX, MH_EINVAL when it holds a NUL byte, MH_EIO on a read
 * error (errno set).
 */
static int read_line(FILE *f, char *line, size_t *lenp)
{
	size_t len = 0;
	bool nul = false;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (len == FILE_LINE_MAX)
			return MH_ELIMIT;
		if (ch == '\0')
			nul = true;
		line[len++] = (char)ch;
	}
	if (ch == EOF && ferror(f))
		return MH_EIO;
	if (ch == EOF && len == 0)
		return 0;
	line[len] = '\0';
	*lenp = len;
	return nul ? MH_EINVAL : 1;
}

int mh_targets_add_file(struct mh_targets *t, const char *path, bool exclude, char *err,
                        size_t errlen)
{
	const char *kind = exclude ? "exclude file" : "target file";
	bool is_stdin = path && strcmp(path, "-") == 0;
	const char *shown = is_stdin ? "stdin" : path;
	char line[FILE_LINE_MAX + 1];
	char origin[512];
	unsigned long lineno = 0;
	size_t len;
	FILE *f;
	int rc;

	if (!t || !path)
		return mh_err(err, errlen, MH_EINVAL, "no target set or file");
	if (t->finalized)
		return mh_err(err, errlen, MH_EINVAL, "target set already finalized");
	f = is_stdin ? stdin : fopen(path, "re");
	if (!f)
		return mh_err(err, errlen, MH_EIO, "%s '%s': %s", kind, path, strerror(errno));
	for (;;) {
		errno = 0;
		rc = read_line(f, line, &len);
		if (rc == 0)
			break;
		lineno++;
		if (rc == MH_EIO) {
			rc = mh_err(err, errlen, MH_EIO, "%s '%s': %s", kind, shown,
			            strerror(errno ? errno : EIO));
			break;
		}
		if (rc == MH_ELIMIT) {
			rc =
			    mh_err(err, errlen, MH_ELIMIT, "%s '%s:%lu': line longer than %d bytes",
			           kind, shown, lineno, FILE_LINE_MAX);
			break;
		}
		if (rc == MH_EINVAL) {
			rc = mh_err(err, errlen, MH_EINVAL, "%s '%s:%lu': NUL byte in line", kind,
			            shown, lineno);
			break;
		}
		char *hash = memchr(line, '#', len);
		if (hash)
			*hash = '\0';
		snprintf(origin, sizeof(origin), "%s:%lu", shown, lineno);
		/* add_spec trims; a line of only blanks or a comment is skipped here. */
		const char *s = line;
		while (is_space(*s))
			s++;
		if (*s == '\0')
			continue;
		rc = add_spec(t, s, origin, exclude, err, errlen);
		if (rc < 0)
			break;
	}
	if (is_stdin)
		clearerr(stdin);
	else
		fclose(f);
	return rc < 0 ? rc : 0;
}

static int cmp_range4(const void *a, const void *b)
{
	const struct range4 *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

static int cmp_range6(const void *a, const void *b)
{
	const struct range6 *x = a, *y = b;

	if (x->scope != y->scope)
		return x->scope < y->scope ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

/* Sorts and merges overlapping and adjacent ranges in place; returns the new count. */
static size_t merge4(struct range4 *r, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range4);
	for (size_t i = 1; i < n; i++) {
		if ((uint64_t)r[i].lo <= (uint64_t)r[o].hi + 1) {
			if (r[i].hi > r[o].hi)
				r[o].hi = r[i].hi;
		} else {
			r[++o] = r[i];
		}
	}
	return o + 1;
}

static size_t merge6(struct range6 *r, size_t n)
{
	size_t o = 0;

	if (n == 0)
		return 0;
	qsort(r, n, sizeof(*r), cmp_range6);
	for (size_t i = 1; i < n; i++) {
		if (r[i].scope == r[o].scope && (r[o].hi == U128_MAX || r[i].lo <= r[o].hi + 1)) {
			if (r[i].hi > r[o].hi)
				r[o].hi = r[i].hi;
		} else {
			r[++o] = r[i];
		}
	}
	return o + 1;
}

/*
 * out = t minus x, both sorted and merged (so is out). out has room for
 * nt + nx ranges: each exclude splits at most one target range in two.
 */
static size_t subtract4(const struct range4 *t, size_t nt, const struct range4 *x, size_t nx,
                        struct range4 *out)
{
	size_t j = 0, o = 0;

	for (size_t i = 0; i < nt; i++) {
		uint32_t lo = t[i].lo, hi = t[i].hi;
		bool alive = true;

		while (j < nx && x[j].hi < lo)
			j++;
		for (size_t k = j; k < nx && x[k].lo <= hi; k++) {
			if (x[k].lo > lo)
				out[o++] = (struct range4){lo, x[k].lo - 1};
			if (x[k].hi >= hi) {
				alive = false;
				break;
			}
			lo = x[k].hi + 1;
		}
		if (alive)
			out[o++] = (struct range4){lo, hi};
	}
	return o;
}

/* The same for one scope of IPv6; out has room for nt + nx. */
static size_t subtract6(const struct range6 *t, size_t nt, const struct range6 *x, size_t nx,
                        struct range6 *out)
{
	size_t j = 0, o = 0;

	for (size_t i = 0; i < nt; i++) {
		u128 lo = t[i].lo, hi = t[i].hi;
		bool alive = true;

		while (j < nx && x[j].hi < lo)
			j++;
		for (size_t k = j; k < nx && x[k].lo <= hi; k++) {
			if (x[k].lo > lo)
				out[o++] = (struct range6){lo, x[k].lo - 1, t[i].scope};
			if (x[k].hi >= hi) {
				alive = false;
				break;
			}
			lo = x[k].hi + 1;
		}
		if (alive)
			out[o++] = (struct range6){lo, hi, t[i].scope};
	}
	return o;
}

static int finalize_v4(struct mh_targets *t)
{
	struct rangeset *in = &t->in, *ex = &t->ex;
	struct range4 *out;
	uint64_t acc = 0;

	in->n4 = merge4(in->v4, in->n4);
	ex->n4 = merge4(ex->v4, ex->n4);
	if (ex->n4 > 0 && in->n4 > 0) {
		out = malloc((in->n4 + ex->n4) * sizeof(*out));
		if (!out)
			return MH_ENOMEM;
		in->n4 = subtract4(in->v4, in->n4, ex->v4, ex->n4, out);
		free(in->v4);
		in->v4 = out;
		in->cap4 = in->n4 + ex->n4;
	}
	free(t->before4);
	t->before4 = malloc((in->n4 + 1) * sizeof(*t->before4));
	if (!t->before4)
		return MH_ENOMEM;
	for (size_t i = 0; i < in->n4; i++) {
		t->before4[i] = acc;
		acc += (uint64_t)in->v4[i].hi - in->v4[i].lo + 1;
	}
	t->count4 = acc;
	return 0;
}

/*
 * IPv6 targets are grouped by scope. An exclude without a scope removes the
 * address on every interface; one with a scope only on that interface.
 */
static int finalize_v6(struct mh_targets *t)
{
	struct rangeset *in = &t->in, *ex = &t->ex;
	struct range6 *out = NULL, *xs = NULL;
	size_t nx0 = 0, o = 0, capout, capxs = 0;
	u128 acc = t->count4;
	int rc = MH_ENOMEM;

	in->n6 = merge6(in->v6, in->n6);
	ex->n6 = merge6(ex->v6, ex->n6);
	while (nx0 < ex->n6 && ex->v6[nx0].scope == 0)
		nx0++;
	if (ex->n6 > 0 && in->n6 > 0) {
		/* Each target group may be split by its own excludes and by all of scope 0. */
		capout = in->n6 + ex->n6;
		out = malloc(capout * sizeof(*out));
		if (!out)
			goto fail;
		for (size_t i = 0; i < in->n6;) {
			uint32_t scope = in->v6[i].scope;
			size_t end = i, xa = 0, xn = 0;
			const struct range6 *x = ex->v6;

			while (end < in->n6 && in->v6[end].scope == scope)
				end++;
			if (scope == 0) {
				xn = nx0;
			} else {
				while (xa < ex->n6 && ex->v6[xa].scope < scope)
					xa++;
				while (xa + xn < ex->n6 && ex->v6[xa + xn].scope == scope)
					xn++;
				if (nx0 > 0) {
					/* This interface's excludes plus the unscoped ones. */
					if (reserve(&xs, &capxs, nx0 + xn, sizeof(*xs)) < 0)
						goto fail;
					memcpy(xs, ex->v6, nx0 * sizeof(*xs));
					memcpy(xs + nx0, ex->v6 + xa, xn * sizeof(*xs));
					for (size_t k = 0; k < nx0; k++)
						xs[k].scope = scope;
					xn = merge6(xs, nx0 + xn);
					x = xs;
				} else {
					x = ex->v6 + xa;
				}
			}
			if (reserve(&out, &capout, o + (end - i) + xn, sizeof(*out)) < 0)
				goto fail;
			o += subtract6(in->v6 + i, end - i, x, xn, out + o);
			i = end;
		}
		free(in->v6);
		in->v6 = out;
		in->n6 = o;
		in->cap6 = capout;
		out = NULL;
	}
	free(t->before6);
	t->before6 = malloc((in->n6 + 1) * sizeof(*t->before6));
	if (!t->before6)
		goto fail;
	for (size_t i = 0; i < in->n6; i++) {
		t->before6[i] = (uint64_t)acc;
		acc += in->v6[i].hi - in->v6[i].lo + 1;
		/* Cannot happen within MAX_RANGES ranges of 2^24, but never wrap. */
		if (acc > UINT64_MAX) {
			rc = MH_ELIMIT;
			goto fail;
		}
	}
	t->count = (uint64_t)acc;
	rc = 0;
fail:
	free(out);
	free(xs);
	return rc;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct name_pair *x = a, *y = b;
	int c = mh_addr_cmp(&x->addr, &y->addr);

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* Groups the (address, name) pairs into sorted entries with NULL-terminated lists. */
static int finalize_names(struct mh_targets *t)
{
	size_t n = 0, nent = 0, l = 0;

	if (t->npairs == 0)
		return 0;
	qsort(t->pairs, t->npairs, sizeof(*t->pairs), cmp_pair);
	for (size_t i = 0; i < t->npairs; i++) {
		if (n > 0 && cmp_pair(&t->pairs[n - 1], &t->pairs[i]) == 0)
			continue;
		if (n == 0 || mh_addr_cmp(&t->pairs[n - 1].addr, &t->pairs[i].addr) != 0)
			nent++;
		t->pairs[n++] = t->pairs[i];
	}
	t->entries = malloc(nent * sizeof(*t->entries));
	t->lists = malloc((n + nent) * sizeof(*t->lists));
	if (!t->entries || !t->lists)
		return MH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || mh_addr_cmp(&t->pairs[i - 1].addr, &t->pairs[i].addr) != 0) {
			if (i > 0)
				t->lists[l++] = NULL;
			t->entries[t->nentries].addr = t->pairs[i].addr;
			t->entries[t->nentries].first = l;
			t->nentries++;
		}
		t->lists[l++] = t->pairs[i].name;
	}
	t->lists[l] = NULL;
	free(t->pairs);
	t->pairs = NULL;
	t->npairs = t->cappairs = 0;
	return 0;
}

int mh_targets_finalize(struct mh_targets *t, char *err, size_t errlen)
{
	int rc;

	if (!t)
		return mh_err(err, errlen, MH_EINVAL, "no target set");
	if (t->finalized)
		return 0;
	rc = finalize_v4(t);
	if (rc == 0)
		rc = finalize_v6(t);
	if (rc == 0)
		rc = finalize_names(t);
	if (rc == MH_ENOMEM)
		return mh_err(err, errlen, rc, "out of memory finalizing the target set");
	if (rc < 0)
		return mh_err(err, errlen, rc, "target set too large");
	rangeset_free(&t->ex);
	t->finalized = true;
	return 0;
}

uint64_t mh_targets_count(const struct mh_targets *t)
{
	return t && t->finalized ? t->count : 0;
}

/* The last i in [0, n) with before[i] <= index; before[0] is the smallest. */
static size_t find_range(const uint64_t *before, size_t n, uint64_t index)
{
	size_t lo = 0, hi = n; /* answer in [lo, hi) */

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (before[mid] <= index)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void mh_targets_get(const struct mh_targets *t, uint64_t index, struct mh_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!t || !t->finalized || index >= t->count)
		return; /* family 0: no such address */
	if (index < t->count4) {
		size_t i = find_range(t->before4, t->in.n4, index);

		out->family = AF_INET;
		store32(t->in.v4[i].lo + (uint32_t)(index - t->before4[i]), out->bytes);
		return;
	}
	size_t i = find_range(t->before6, t->in.n6, index);

	out->family = AF_INET6;
	out->scope_id = t->in.v6[i].scope;
	store128(t->in.v6[i].lo + (index - t->before6[i]), out->bytes);
}

const char *const *mh_targets_names(const struct mh_targets *t, const struct mh_addr *a)
{
	size_t lo = 0, hi;

	if (!t || !a || !t->finalized)
		return NULL;
	hi = t->nentries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = mh_addr_cmp(&t->entries[mid].addr, a);

		if (c == 0)
			return t->lists + t->entries[mid].first;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
