/*
 * policy.c -- the policy file (include/mailhole/policy.h, CONTRACT.md "The
 * policy file"): read once with json-c, validated key by key, then copied
 * into plain C structures, so the per-host lookups of the classifier touch
 * no JSON, allocate nothing and take no lock.
 *
 * Reading. The file is capped at 4 MiB and parsed by json_tokener in strict
 * mode with UTF-8 validation (no comments, no trailing commas, nothing after
 * the value). A syntax error is reported at the line and column of the byte
 * the tokener stopped at. json-c keeps the last of two equal keys in one
 * object and drops the first without a word, so a duplicated "exclude"
 * would silently scan what someone meant to exclude; after parsing, a walk
 * over the text counts the keys of every object and compares them with what
 * json-c kept (see check_duplicates()).
 *
 * Validation. Every key is known or an error, every value has its type and
 * shape checked, and every message names the JSON path of what is wrong:
 *   "policy.json: .suppress[2].until: 2027-02-30 is not a calendar date"
 *
 * Hosts. mail_servers, suppress[].host and exclude hold addresses, CIDR
 * blocks, ranges (the forms of mh_targets_add) and host names. Names are
 * never resolved here: they are matched, case-insensitively and without a
 * trailing dot, against the names a host already has. The mail servers are
 * kept as sorted, merged IPv4 and IPv6 ranges and a sorted list of names,
 * so mh_policy_is_mail_server() is a few binary searches. An IPv4 address
 * and its v4-mapped IPv6 form (::ffff:a.b.c.d) are the same host.
 */
#include "mailhole/policy.h"
#include "mailhole/common.h"
#include "mailhole/rules.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned __int128 u128;

/* The largest policy file read, in bytes. */
#define POLICY_MAX_BYTES ((size_t)4 << 20)
/* The most entries one array may hold. */
#define POLICY_MAX_ENTRIES 100000u
/* Nesting json-c accepts; a valid policy is 3 deep (.suppress[0].rule). */
#define JSON_MAX_DEPTH 16
/* A JSON path in a message: ".suppress[99999].reason" with room for a long key. */
#define PATH_LEN 192
/* How much of a key or value a message quotes. */
#define SHOWN_LEN 64
/* A host name: 253 bytes, plus an optional trailing dot. */
#define HOSTNAME_MAX 253

#define U128_MAX (~(u128)0)
/* fe80::/10 */
#define LL_LO ((u128)0xfe80 << 112)
#define LL_HI (LL_LO | (U128_MAX >> 10))

struct range4 {
	uint32_t lo, hi;
};

struct range6 {
	u128 lo, hi;
	uint32_t scope; /* interface of a link-local range, else 0 (any interface) */
};

/* One host spec: an address, block or range of one family, or a name. */
struct spec {
	int family; /* AF_INET, AF_INET6, or 0 for a name */
	struct range4 r4;
	struct range6 r6;
	char *name; /* lowercase, no trailing dot; owned; only when family is 0 */
};

struct suppression {
	const char *rule; /* the rule table's ID (static storage) */
	struct spec host;
	char *reason;   /* owned */
	char until[11]; /* "YYYY-MM-DD" */
};

struct override {
	const char *rule; /* the rule table's ID (static storage) */
	int severity;     /* enum mh_severity */
};

/* The collector strings, owned; the public view points at them. */
struct collector_owned {
	char *address, *url, *user, *password_file, *password_env;
};

struct mh_policy {
	char *name; /* the PATH messages and exclude origins give */
	char *domain;
	char *relay;
	char *relay_test_domain;
	bool has_collector;
	struct collector_owned coll;
	struct mh_policy_collector collector; /* view of coll */

	/* mail_servers: sorted and merged ranges, sorted distinct names */
	struct range4 *ms4;
	size_t nms4;
	struct range6 *ms6; /* sorted by (scope, lo) */
	size_t nms6;
	char **msnames;
	size_t nmsnames;

	struct override *overrides;
	size_t noverrides;
	char **excludes; /* as written */
	size_t nexcludes;
	struct suppression *supp;
	size_t nsupp;
};

/* What the parser carries: the policy being built and where messages go. */
struct ctx {
	struct mh_policy *p;
	const char *name;
	char *err;
	size_t errlen;
	struct mh_targets *scratch; /* validates excludes the way mh_targets_exclude() will */
};

/* ---- messages ---- */

/* "NAME: PATH: what" (or "NAME: what" when path is NULL); returns code. */
__attribute__((format(printf, 4, 5))) static int fail(const struct ctx *c, int code,
                                                      const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->err || c->errlen == 0)
		return code;
	if (path)
		n = snprintf(c->err, c->errlen, "%s: %s: ", c->name, path);
	else
		n = snprintf(c->err, c->errlen, "%s: ", c->name);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int nomem(const struct ctx *c)
{
	return fail(c, MH_ENOMEM, NULL, "out of memory");
}

/* Untrusted text for a message: printable, no quotes, shortened. */
static void shown(char *dst, size_t size, const char *s)
{
	mh_sanitize_line(dst, size, s, strlen(s));
	for (char *q = dst; *q; q++)
		if (*q == '"' || *q == '\\')
			*q = '?';
}

static bool is_simple_key(const char *k)
{
	size_t n = 0;

	for (; *k; k++, n++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return false;
	return n > 0 && n <= SHOWN_LEN;
}

/* parent + ".key", or parent + "[\"odd key\"]" for a key that is not a plain word. */
static void path_key(char *dst, size_t size, const char *parent, const char *key)
{
	char buf[SHOWN_LEN + 4];

	if (is_simple_key(key)) {
		snprintf(dst, size, "%s.%s", parent, key);
		return;
	}
	shown(buf, sizeof(buf), key);
	snprintf(dst, size, "%s[\"%s\"]", *parent ? parent : ".", buf);
}

static void path_index(char *dst, size_t size, const char *parent, size_t i)
{
	snprintf(dst, size, "%s[%zu]", parent, i);
}

/* 1-based line and column (in characters, UTF-8 aware) of byte off of text. */
static void line_col(const char *text, size_t off, unsigned long *line, unsigned long *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (ch == '\n') {
			(*line)++;
			*col = 1;
		} else if ((ch & 0xc0) != 0x80) { /* not a UTF-8 continuation byte */
			(*col)++;
		}
	}
}

__attribute__((format(printf, 4, 5))) static int fail_at(const struct ctx *c, const char *text,
                                                         size_t off, const char *fmt, ...)
{
	unsigned long line, col;
	char what[256];
	va_list ap;

	line_col(text, off, &line, &col);
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(c, MH_EINVAL, NULL, "line %lu, column %lu: %s", line, col, what);
}

/* ---- JSON values ---- */

/*
 * A string value without NUL or control characters (they would break the
 * one-line reports the policy's strings end up in). 0 or the message.
 */
static int get_string(const struct ctx *c, const char *path, struct json_object *v,
                      const char **out)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return fail(c, MH_EINVAL, path, "expected a string");
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return fail(c, MH_EINVAL, path, "contains a NUL character");
	for (const char *q = s; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return fail(c, MH_EINVAL, path, "contains a control character");
	*out = s;
	return 0;
}

static int get_nonempty(const struct ctx *c, const char *path, struct json_object *v,
                        const char **out)
{
	int rc = get_string(c, path, v, out);

	if (rc < 0)
		return rc;
	for (const char *q = *out; *q; q++)
		if (*q != ' ')
			return 0;
	return fail(c, MH_EINVAL, path, "must not be empty");
}

static int get_array(const struct ctx *c, const char *path, struct json_object *v, size_t *n)
{
	if (!json_object_is_type(v, json_type_array))
		return fail(c, MH_EINVAL, path, "expected an array");
	*n = json_object_array_length(v);
	if (*n > POLICY_MAX_ENTRIES)
		return fail(c, MH_EINVAL, path, "more than %u entries", POLICY_MAX_ENTRIES);
	return 0;
}

static int dup_into(const struct ctx *c, char **dst, const char *s)
{
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : nomem(c);
}

/* ---- names, addresses, dates ---- */

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * A host or domain name: labels of 1-63 letters, digits and '-', not
 * starting or ending with '-', at most 253 bytes, at least one letter (so
 * that no address is taken for a name). A trailing dot only when
 * trailing_dot.
 */
static bool is_hostname(const char *s, bool trailing_dot)
{
	size_t len = strlen(s), label = 0;
	bool letter = false;

	if (trailing_dot && len > 1 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alpha(ch) && !is_digit(ch) && ch != '-')
			return false;
		if (ch == '-' && label == 0)
			return false;
		letter |= is_alpha(ch);
		if (++label > 63)
			return false;
	}
	return label > 0 && s[len - 1] != '-' && letter;
}

/* Copies a host name lowercased, without its trailing dot. false when it does not fit. */
static bool name_key(char *dst, size_t size, const char *s)
{
	size_t len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len >= size)
		return false;
	for (size_t i = 0; i < len; i++)
		dst[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	dst[len] = '\0';
	return true;
}

/* Is domain equal to, or under, parent (both without trailing dots)? */
static bool in_domain(const char *domain, const char *parent)
{
	size_t d = strlen(domain), p = strlen(parent);

	if (d < p || strcasecmp(domain + (d - p), parent) != 0)
		return false;
	return d == p || domain[d - p - 1] == '.';
}

static uint32_t load32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static u128 load128(const uint8_t *b)
{
	u128 x = 0;

	for (int i = 0; i < 16; i++)
		x = x << 8 | b[i];
	return x;
}

static void spec_single(struct spec *sp, const struct mh_addr *a)
{
	sp->family = a->family;
	if (a->family == AF_INET) {
		sp->r4.lo = sp->r4.hi = load32(a->bytes);
	} else {
		sp->r6.lo = sp->r6.hi = load128(a->bytes);
		sp->r6.scope = a->scope_id;
	}
}

/* "ADDR/LEN", host bits masked off as mh_targets_add does. false when it is not one. */
static bool parse_cidr(const char *s, const char *slash, struct spec *sp)
{
	char buf[MH_ADDR_STRLEN + 16];
	size_t len = (size_t)(slash - s);
	struct mh_addr a;
	uint64_t plen;
	unsigned hostbits;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (mh_addr_parse(buf, &a) < 0 ||
	    mh_parse_u64(slash + 1, 0, a.family == AF_INET ? 32 : 128, &plen) < 0)
		return false;
	sp->family = a.family;
	if (a.family == AF_INET) {
		hostbits = 32 - (unsigned)plen;
		uint32_t mask = hostbits == 32 ? UINT32_MAX : ((uint32_t)1 << hostbits) - 1;
		sp->r4.lo = load32(a.bytes) & ~mask;
		sp->r4.hi = sp->r4.lo | mask;
		return true;
	}
	hostbits = 128 - (unsigned)plen;
	u128 mask = hostbits == 128 ? U128_MAX : ((u128)1 << hostbits) - 1;
	sp->r6.lo = load128(a.bytes) & ~mask;
	sp->r6.hi = sp->r6.lo | mask;
	sp->r6.scope = a.scope_id;
	return true;
}

/*
 * The end of a range that starts at a: an address of its family, or for
 * IPv4 a last octet ("198.18.0.1-20"). 1 when parsed, 0 when end is
 * neither, else -1 with *why set.
 */
static int parse_range_end(const struct mh_addr *a, const char *end, struct spec *sp,
                           const char **why)
{
	struct mh_addr b;
	uint64_t octet;

	if (mh_addr_parse(end, &b) == 0) {
		if (b.family != a->family) {
			*why = "range mixes IPv4 and IPv6";
			return -1;
		}
		if (b.scope_id != 0 && b.scope_id != a->scope_id) {
			*why = "range ends are on different interfaces";
			return -1;
		}
	} else if (a->family == AF_INET && strlen(end) <= 3 &&
	           mh_parse_u64(end, 0, 255, &octet) == 0) {
		b = *a;
		b.bytes[3] = (uint8_t)octet;
	} else {
		return 0;
	}
	sp->family = a->family;
	if (a->family == AF_INET) {
		sp->r4.lo = load32(a->bytes);
		sp->r4.hi = load32(b.bytes);
		if (sp->r4.hi < sp->r4.lo) {
			*why = "range end before start";
			return -1;
		}
		return 1;
	}
	sp->r6.lo = load128(a->bytes);
	sp->r6.hi = load128(b.bytes);
	sp->r6.scope = a->scope_id;
	if (sp->r6.hi < sp->r6.lo) {
		*why = "range end before start";
		return -1;
	}
	return 1;
}

/*
 * A host spec: an address, CIDR block, range (as mh_targets_add reads them,
 * without the white space it trims) or a syntactically valid host name,
 * never resolved. Mirrors targets.c's parse_numeric() so that what passes
 * here is read the same way by mh_targets_exclude(): a spec with a '/', or
 * with a '-' after a leading address, is numeric or wrong, never a name.
 * 0 with *sp filled, or the message at path.
 */
static int parse_spec(const struct ctx *c, const char *path, const char *s, struct spec *sp)
{
	static const char garbage[] = "not an address, CIDR or name";
	char left[MH_ADDR_STRLEN + 16], key[HOSTNAME_MAX + 2];
	const char *why = NULL;
	struct mh_addr a;
	bool range_like = false;

	memset(sp, 0, sizeof(*sp));
	if (mh_addr_parse(s, &a) == 0) {
		spec_single(sp, &a);
		return 0;
	}
	if (strchr(s, '/')) {
		if (!parse_cidr(s, strrchr(s, '/'), sp))
			return fail(c, MH_EINVAL, path, "%s", garbage);
		goto numeric;
	}
	for (const char *dash = strchr(s, '-'); dash; dash = strchr(dash + 1, '-')) {
		size_t len = (size_t)(dash - s);
		int rc;

		if (len == 0 || len >= sizeof(left))
			continue;
		memcpy(left, s, len);
		left[len] = '\0';
		if (mh_addr_parse(left, &a) < 0)
			continue;
		range_like = true;
		rc = parse_range_end(&a, dash + 1, sp, &why);
		if (rc < 0)
			return fail(c, MH_EINVAL, path, "%s", why);
		if (rc == 1)
			goto numeric;
	}
	if (range_like || !is_hostname(s, true) || !name_key(key, sizeof(key), s))
		return fail(c, MH_EINVAL, path, "%s", garbage);
	sp->family = 0;
	sp->name = strdup(key);
	return sp->name ? 0 : nomem(c);
numeric:
	/* An interface means something only on link-local addresses. */
	if (sp->family == AF_INET6 && sp->r6.scope != 0 && (sp->r6.lo < LL_LO || sp->r6.hi > LL_HI))
		return fail(c, MH_EINVAL, path,
		            "an interface is only for IPv6 link-local addresses (fe80::/10)");
	return 0;
}

/* Does spec sp cover address a (v4 or v4-mapped v6 as one host), or one of names? */
static bool addr_in_range4(const struct range4 *r, uint32_t x)
{
	return x >= r->lo && x <= r->hi;
}

static bool addr_in_range6(const struct range6 *r, u128 x, uint32_t scope)
{
	return x >= r->lo && x <= r->hi && (r->scope == 0 || r->scope == scope);
}

/* The address as IPv4 (a itself, or the IPv4 part of ::ffff:a.b.c.d) and as IPv6. */
struct addr_forms {
	bool has4, has6;
	uint32_t v4;
	u128 v6;
	uint32_t scope;
};

static void addr_forms(const struct mh_addr *a, struct addr_forms *f)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(f, 0, sizeof(*f));
	if (!a)
		return;
	if (a->family == AF_INET) {
		f->has4 = f->has6 = true;
		f->v4 = load32(a->bytes);
		f->v6 = (u128)0xffff << 32 | f->v4;
	} else if (a->family == AF_INET6) {
		f->has6 = true;
		f->v6 = load128(a->bytes);
		f->scope = a->scope_id;
		if (memcmp(a->bytes, mapped, sizeof(mapped)) == 0) {
			f->has4 = true;
			f->v4 = load32(a->bytes + 12);
		}
	}
}

static bool names_has(const char *const *names, const char *key)
{
	char buf[HOSTNAME_MAX + 2];

	for (size_t i = 0; names && names[i]; i++)
		if (name_key(buf, sizeof(buf), names[i]) && strcmp(buf, key) == 0)
			return true;
	return false;
}

static bool spec_match(const struct spec *sp, const struct addr_forms *f, const char *const *names)
{
	switch (sp->family) {
	case AF_INET:
		return f->has4 && addr_in_range4(&sp->r4, f->v4);
	case AF_INET6:
		return f->has6 && addr_in_range6(&sp->r6, f->v6, f->scope);
	default:
		return names_has(names, sp->name);
	}
}

/* Days in month m (1-12) of year y. */
static unsigned month_days(unsigned y, unsigned m)
{
	static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* "YYYY-MM-DD", a real date. 0 or the message. */
static int check_date(const struct ctx *c, const char *path, const char *s)
{
	unsigned y = 0, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return fail(c, MH_EINVAL, path, "expected a date as YYYY-MM-DD");
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !is_digit(s[i]))
			return fail(c, MH_EINVAL, path, "expected a date as YYYY-MM-DD");
	for (int i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	if (y == 0 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
		return fail(c, MH_EINVAL, path, "%s is not a calendar date", s);
	return 0;
}

/* RFC 5322 atext, the characters of a dot-atom local part. */
static bool is_atext(char ch)
{
	return is_alpha(ch) || is_digit(ch) || (ch && strchr("!#$%&'*+-/=?^_`{|}~", ch));
}

/* local@domain: a dot-atom local part of at most 64 bytes, a host name as domain. */
static bool is_email(const char *s)
{
	const char *at = strchr(s, '@');
	size_t local;

	if (!at || strchr(at + 1, '@'))
		return false;
	local = (size_t)(at - s);
	if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *q = s; q < at; q++)
		if (!(is_atext(*q) || (*q == '.' && q[1] != '.')))
			return false;
	return is_hostname(at + 1, false);
}

/*
 * After a scheme: HOST[:PORT], HOST a host name, an IPv4 address or an
 * IPv6 address in brackets. *rest is what follows. false when malformed.
 */
static bool parse_authority(const char *s, const char **rest)
{
	char host[HOSTNAME_MAX + 2];
	struct mh_addr a;
	const char *end;
	size_t len;
	uint64_t port;

	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			return false;
		len = (size_t)(end - s - 1);
		if (len == 0 || len >= sizeof(host))
			return false;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		/* A zone would be written %25eth0 in a URL; not worth supporting. */
		if (strchr(host, '%') || mh_addr_parse(host, &a) < 0 || a.family != AF_INET6)
			return false;
		end++;
	} else {
		end = s + strcspn(s, ":/");
		len = (size_t)(end - s);
		if (len == 0 || len >= sizeof(host))
			return false;
		memcpy(host, s, len);
		host[len] = '\0';
		if (!is_hostname(host, false) &&
		    !(mh_addr_parse(host, &a) == 0 && a.family == AF_INET))
			return false;
	}
	if (*end == ':') {
		char digits[8];

		len = strcspn(end + 1, "/");
		if (len == 0 || len >= sizeof(digits))
			return false;
		memcpy(digits, end + 1, len);
		digits[len] = '\0';
		if (mh_parse_u64(digits, 1, 65535, &port) < 0)
			return false;
		end += 1 + len;
	}
	*rest = end;
	return true;
}

/* ---- the keys ---- */

static int parse_domain(struct ctx *c, const char *path, struct json_object *v)
{
	const char *s;
	int rc = get_string(c, path, v, &s);

	if (rc < 0)
		return rc;
	if (!is_hostname(s, false))
		return fail(c, MH_EINVAL, path, "not a domain name");
	return dup_into(c, &c->p->domain, s);
}

static int parse_relay_test_domain(struct ctx *c, const char *path, struct json_object *v)
{
	const char *s;
	int rc = get_string(c, path, v, &s);

	if (rc < 0)
		return rc;
	if (!is_hostname(s, false))
		return fail(c, MH_EINVAL, path, "not a domain name");
	return dup_into(c, &c->p->relay_test_domain, s);
}

static int parse_relay(struct ctx *c, const char *path, struct json_object *v)
{
	const char *s, *rest = "";
	bool ok = false;
	int rc = get_string(c, path, v, &s);

	if (rc < 0)
		return rc;
	if (strncmp(s, "smtp://", 7) == 0)
		ok = parse_authority(s + 7, &rest);
	else if (strncmp(s, "smtps://", 8) == 0)
		ok = parse_authority(s + 8, &rest);
	if (!ok || (strcmp(rest, "") != 0 && strcmp(rest, "/") != 0))
		return fail(c, MH_EINVAL, path,
		            "expected smtp://HOST[:PORT] or smtps://HOST[:PORT]");
	return dup_into(c, &c->p->relay, s);
}

/* Adds one spec to the mail servers; names and ranges are sorted at the end. */
static int add_mail_server(struct ctx *c, struct spec *sp)
{
	struct mh_policy *p = c->p;

	if (sp->family == AF_INET) {
		p->ms4[p->nms4++] = sp->r4;
	} else if (sp->family == AF_INET6) {
		p->ms6[p->nms6++] = sp->r6;
	} else {
		p->msnames[p->nmsnames++] = sp->name;
		sp->name = NULL;
	}
	return 0;
}

static int cmp_range4(const void *a, const void *b)
{
	const struct range4 *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_range6(const void *a, const void *b)
{
	const struct range6 *x = a, *y = b;

	if (x->scope != y->scope)
		return x->scope < y->scope ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t merge4(struct range4 *r, size_t n)
{
	size_t k = 0;

	qsort(r, n, sizeof(*r), cmp_range4);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && (r[k - 1].hi == UINT32_MAX || r[i].lo <= r[k - 1].hi + 1)) {
			if (r[i].hi > r[k - 1].hi)
				r[k - 1].hi = r[i].hi;
		} else {
			r[k++] = r[i];
		}
	}
	return k;
}

static size_t merge6(struct range6 *r, size_t n)
{
	size_t k = 0;

	qsort(r, n, sizeof(*r), cmp_range6);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && r[k - 1].scope == r[i].scope &&
		    (r[k - 1].hi == U128_MAX || r[i].lo <= r[k - 1].hi + 1)) {
			if (r[i].hi > r[k - 1].hi)
				r[k - 1].hi = r[i].hi;
		} else {
			r[k++] = r[i];
		}
	}
	return k;
}

/* Sorts the names and drops repeats. */
static size_t unique_names(char **v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(v[k - 1], v[i]) == 0)
			free(v[i]);
		else
			v[k++] = v[i];
	}
	return k;
}

static int parse_mail_servers(struct ctx *c, const char *path, struct json_object *v)
{
	struct mh_policy *p = c->p;
	char ipath[PATH_LEN];
	size_t n;
	int rc = get_array(c, path, v, &n);

	if (rc < 0)
		return rc;
	/* Each entry goes to one of the three lists: size each for all of them. */
	p->ms4 = calloc(n ? n : 1, sizeof(*p->ms4));
	p->ms6 = calloc(n ? n : 1, sizeof(*p->ms6));
	p->msnames = calloc(n ? n : 1, sizeof(*p->msnames));
	if (!p->ms4 || !p->ms6 || !p->msnames)
		return nomem(c);
	for (size_t i = 0; i < n; i++) {
		struct spec sp;
		const char *s;

		path_index(ipath, sizeof(ipath), path, i);
		rc = get_string(c, ipath, json_object_array_get_idx(v, i), &s);
		if (rc < 0)
			return rc;
		rc = parse_spec(c, ipath, s, &sp);
		if (rc < 0)
			return rc;
		add_mail_server(c, &sp);
	}
	p->nms4 = merge4(p->ms4, p->nms4);
	p->nms6 = merge6(p->ms6, p->nms6);
	p->nmsnames = unique_names(p->msnames, p->nmsnames);
	return 0;
}

static int parse_collector(struct ctx *c, const char *path, struct json_object *v)
{
	struct collector_owned *co = &c->p->coll;
	struct json_object_iterator it, end;
	char kpath[PATH_LEN];
	int rc;

	if (!json_object_is_type(v, json_type_object))
		return fail(c, MH_EINVAL, path, "expected an object");
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		const char *s;
		char **dst;

		path_key(kpath, sizeof(kpath), path, key);
		if (strcmp(key, "password") == 0)
			return fail(c, MH_EINVAL, kpath,
			            "passwords never go in the policy; use password_file or "
			            "password_env");
		if (strcmp(key, "address") == 0)
			dst = &co->address;
		else if (strcmp(key, "url") == 0)
			dst = &co->url;
		else if (strcmp(key, "user") == 0)
			dst = &co->user;
		else if (strcmp(key, "password_file") == 0)
			dst = &co->password_file;
		else if (strcmp(key, "password_env") == 0)
			dst = &co->password_env;
		else
			return fail(c, MH_EINVAL, kpath, "unknown key");
		rc = get_nonempty(c, kpath, val, &s);
		if (rc < 0)
			return rc;
		if (dst == &co->address && !is_email(s))
			return fail(c, MH_EINVAL, kpath,
			            "expected an e-mail address such as audit@example.com");
		if (dst == &co->url) {
			const char *rest = "";
			bool ok;

			if (strncmp(s, "imap://", 7) == 0)
				ok = parse_authority(s + 7, &rest);
			else if (strncmp(s, "imaps://", 8) == 0)
				ok = parse_authority(s + 8, &rest);
			else
				ok = strncmp(s, "maildir:/", 9) == 0 && s[9] != '\0';
			/* After the host: nothing, or a mailbox path without blanks. */
			if (!ok || (*rest != '\0' && *rest != '/') || strchr(rest, ' '))
				return fail(
				    c, MH_EINVAL, kpath,
				    "expected imap://HOST[:PORT]/MAILBOX, "
				    "imaps://HOST[:PORT]/MAILBOX or maildir:/ABSOLUTE/PATH");
		}
		if (dst == &co->password_env) {
			bool ok = is_alpha(s[0]) || s[0] == '_';

			for (const char *q = s; *q && ok; q++)
				ok = is_alpha(*q) || is_digit(*q) || *q == '_';
			if (!ok)
				return fail(c, MH_EINVAL, kpath,
				            "not an environment variable name");
		}
		rc = dup_into(c, dst, s);
		if (rc < 0)
			return rc;
	}
	if (co->password_file && co->password_env) {
		path_key(kpath, sizeof(kpath), path, "password_env");
		return fail(c, MH_EINVAL, kpath, "give password_file or password_env, not both");
	}
	for (int i = 0; i < 2; i++) {
		const char *key = i == 0 ? "address" : "url";

		if (!(i == 0 ? co->address : co->url)) {
			path_key(kpath, sizeof(kpath), path, key);
			return fail(c, MH_EINVAL, kpath, "required");
		}
	}
	c->p->has_collector = true;
	return 0;
}

static int parse_severity(struct ctx *c, const char *path, struct json_object *v)
{
	struct mh_policy *p = c->p;
	struct json_object_iterator it, end;
	char kpath[PATH_LEN], buf[SHOWN_LEN + 4];

	if (!json_object_is_type(v, json_type_object))
		return fail(c, MH_EINVAL, path, "expected an object");
	/* json-c keeps one value per key, so there is at most one override per rule. */
	p->overrides = calloc(mh_nrules ? mh_nrules : 1, sizeof(*p->overrides));
	if (!p->overrides)
		return nomem(c);
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		const struct mh_rule *r = mh_rule_find(key);
		const char *s;
		int sev, rc;

		path_key(kpath, sizeof(kpath), path, key);
		if (!r)
			return fail(c, MH_EINVAL, kpath, "unknown rule");
		rc = get_string(c, kpath, json_object_iter_peek_value(&it), &s);
		if (rc < 0)
			return rc;
		sev = mh_severity_parse(s);
		if (sev < 0) {
			shown(buf, sizeof(buf), s);
			return fail(c, MH_EINVAL, kpath,
			            "unknown severity \"%s\" (critical, high, medium, low or info)",
			            buf);
		}
		if (p->noverrides == mh_nrules) /* cannot happen: keys are distinct */
			return fail(c, MH_EINVAL, kpath, "too many overrides");
		p->overrides[p->noverrides].rule = r->id;
		p->overrides[p->noverrides].severity = sev;
		p->noverrides++;
	}
	return 0;
}

static int parse_exclude(struct ctx *c, const char *path, struct json_object *v)
{
	struct mh_policy *p = c->p;
	char ipath[PATH_LEN], terr[MH_ERRLEN];
	size_t n;
	int rc = get_array(c, path, v, &n);

	if (rc < 0)
		return rc;
	p->excludes = calloc(n ? n : 1, sizeof(*p->excludes));
	if (!p->excludes)
		return nomem(c);
	for (size_t i = 0; i < n; i++) {
		struct spec sp;
		const char *s;

		path_index(ipath, sizeof(ipath), path, i);
		rc = get_string(c, ipath, json_object_array_get_idx(v, i), &s);
		if (rc < 0)
			return rc;
		rc = parse_spec(c, ipath, s, &sp);
		free(sp.name);
		if (rc < 0)
			return rc;
		/*
		 * What parse_spec() reads as numeric, targets.c reads as numeric
		 * too, so this resolves nothing: it only makes sure that
		 * mh_policy_add_excludes() cannot fail on it later. Names are
		 * resolved then, as every exclude name is.
		 */
		if (sp.family != 0 &&
		    mh_targets_exclude(c->scratch, s, ipath, terr, sizeof(terr)) < 0)
			return fail(c, MH_EINVAL, ipath, "refused as an exclude: %s", terr);
		p->excludes[i] = strdup(s);
		if (!p->excludes[i])
			return nomem(c);
		p->nexcludes = i + 1;
	}
	return 0;
}

static int parse_one_suppression(struct ctx *c, const char *path, struct json_object *v,
                                 struct suppression *su)
{
	static const char *const required[] = {"rule", "host", "reason", "until"};
	struct json_object_iterator it, end;
	char kpath[PATH_LEN], buf[SHOWN_LEN + 4];
	bool seen[4] = {false, false, false, false};
	int rc;

	if (!json_object_is_type(v, json_type_object))
		return fail(c, MH_EINVAL, path, "expected an object");
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *val = json_object_iter_peek_value(&it);
		const struct mh_rule *r;
		const char *s;
		int k;

		path_key(kpath, sizeof(kpath), path, key);
		for (k = 0; k < 4; k++)
			if (strcmp(key, required[k]) == 0)
				break;
		if (k == 4)
			return fail(c, MH_EINVAL, kpath, "unknown key");
		rc = k == 2 ? get_nonempty(c, kpath, val, &s) : get_string(c, kpath, val, &s);
		if (rc < 0)
			return rc;
		switch (k) {
		case 0:
			r = mh_rule_find(s);
			if (!r) {
				shown(buf, sizeof(buf), s);
				return fail(c, MH_EINVAL, kpath, "unknown rule \"%s\"", buf);
			}
			su->rule = r->id;
			break;
		case 1:
			rc = parse_spec(c, kpath, s, &su->host);
			if (rc < 0)
				return rc;
			break;
		case 2:
			rc = dup_into(c, &su->reason, s);
			if (rc < 0)
				return rc;
			break;
		default:
			rc = check_date(c, kpath, s);
			if (rc < 0)
				return rc;
			mh_strlcpy(su->until, s, sizeof(su->until));
			break;
		}
		seen[k] = true;
	}
	for (int k = 0; k < 4; k++) {
		if (!seen[k]) {
			path_key(kpath, sizeof(kpath), path, required[k]);
			return fail(c, MH_EINVAL, kpath, "required");
		}
	}
	return 0;
}

static int parse_suppress(struct ctx *c, const char *path, struct json_object *v)
{
	struct mh_policy *p = c->p;
	char ipath[PATH_LEN];
	size_t n;
	int rc = get_array(c, path, v, &n);

	if (rc < 0)
		return rc;
	p->supp = calloc(n ? n : 1, sizeof(*p->supp));
	if (!p->supp)
		return nomem(c);
	for (size_t i = 0; i < n; i++) {
		path_index(ipath, sizeof(ipath), path, i);
		/* Counted first, so that a half-filled entry is freed with the policy. */
		p->nsupp = i + 1;
		rc = parse_one_suppression(c, ipath, json_object_array_get_idx(v, i), &p->supp[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static const struct {
	const char *key;
	int (*parse)(struct ctx *c, const char *path, struct json_object *v);
} top_keys[] = {
    {"domain", parse_domain},
    {"mail_servers", parse_mail_servers},
    {"relay", parse_relay},
    {"collector", parse_collector},
    {"relay_test_domain", parse_relay_test_domain},
    {"severity", parse_severity},
    {"exclude", parse_exclude},
    {"suppress", parse_suppress},
};

static int parse_root(struct ctx *c, struct json_object *root)
{
	struct json_object_iterator it, end;
	char kpath[PATH_LEN];
	struct mh_policy *p = c->p;
	int rc;

	if (!json_object_is_type(root, json_type_object))
		return fail(c, MH_EINVAL, ".", "expected an object");
	it = json_object_iter_begin(root);
	end = json_object_iter_end(root);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *key = json_object_iter_peek_name(&it);
		size_t k;

		path_key(kpath, sizeof(kpath), "", key);
		for (k = 0; k < sizeof(top_keys) / sizeof(top_keys[0]); k++)
			if (strcmp(key, top_keys[k].key) == 0)
				break;
		if (k == sizeof(top_keys) / sizeof(top_keys[0]))
			return fail(c, MH_EINVAL, kpath, "unknown key");
		rc = top_keys[k].parse(c, kpath, json_object_iter_peek_value(&it));
		if (rc < 0)
			return rc;
	}
	/* A server that takes mail for its own domain is not an open relay. */
	if (p->domain && p->relay_test_domain && in_domain(p->relay_test_domain, p->domain))
		return fail(c, MH_EINVAL, ".relay_test_domain",
		            "must be outside the policy's domain %s (servers accept mail for their "
		            "own domain)",
		            p->domain);
	return 0;
}

/* ---- syntax ---- */

/*
 * Skips a string starting at text[i] (a '"' or, which json-c also reads,
 * a '\''); returns the index after its closing quote. The text is valid
 * JSON, so the quote is there.
 */
static size_t skip_string(const char *text, size_t len, size_t i)
{
	char q = text[i++];

	while (i < len && text[i] != q)
		i += text[i] == '\\' ? 2 : 1;
	return i + 1;
}

/* The number of keys the object opening at text[open] holds in the text: its ':' at depth 1. */
static size_t count_keys(const char *text, size_t len, size_t open)
{
	size_t n = 0, depth = 0, i = open;

	while (i < len) {
		char ch = text[i];

		if (ch == '"' || ch == '\'') {
			i = skip_string(text, len, i);
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0)
				break;
		} else if (ch == ':' && depth == 1) {
			n++;
		}
		i++;
	}
	return n;
}

/* Walks the objects of the text in order, beside json-c's tree in pre-order. */
struct dup_walk {
	const struct ctx *c;
	const char *text;
	size_t len;
	size_t cursor; /* after the '{' of the last object visited */
};

/* A quoted string of the text, decoded by json-c; NULL on failure. */
static struct json_object *decode_string(const char *s, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, s, (int)len);
	json_tokener_free(tok);
	return o;
}

/* The first key of the object at text[open] that appears twice, decoded by json-c. */
static void find_duplicate(const struct dup_walk *w, size_t open, char *key, size_t size)
{
	struct json_object *seen = json_object_new_object();
	size_t depth = 0, i = open;
	bool want_key = false;

	mh_strlcpy(key, "?", size);
	while (seen && i < w->len) {
		char ch = w->text[i];

		if ((ch == '"' || ch == '\'') && depth == 1 && want_key) {
			size_t after = skip_string(w->text, w->len, i);
			struct json_object *k = decode_string(w->text + i, after - i);

			want_key = false;
			i = after;
			if (!json_object_is_type(k, json_type_string)) {
				json_object_put(k);
				continue;
			}
			if (json_object_object_get_ex(seen, json_object_get_string(k), NULL)) {
				mh_strlcpy(key, json_object_get_string(k), size);
				json_object_put(k);
				break;
			}
			json_object_object_add(seen, json_object_get_string(k), NULL);
			json_object_put(k);
			continue;
		}
		if (ch == '"' || ch == '\'') {
			i = skip_string(w->text, w->len, i);
			continue;
		}
		if (ch == '{' || ch == '[') {
			if (++depth == 1)
				want_key = true;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0)
				break;
		} else if (ch == ',' && depth == 1) {
			want_key = true;
		}
		i++;
	}
	json_object_put(seen);
}

static int walk_duplicates(struct dup_walk *w, struct json_object *v, const char *path,
                           unsigned depth)
{
	struct json_object_iterator it, end;
	char sub[PATH_LEN];
	size_t open;
	int rc;

	if (depth > JSON_MAX_DEPTH)
		return 0;
	if (json_object_is_type(v, json_type_array)) {
		for (size_t i = 0, n = json_object_array_length(v); i < n; i++) {
			path_index(sub, sizeof(sub), path, i);
			rc = walk_duplicates(w, json_object_array_get_idx(v, i), sub, depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (!json_object_is_type(v, json_type_object))
		return 0;
	open = w->cursor;
	while (open < w->len && w->text[open] != '{') {
		if (w->text[open] == '"' || w->text[open] == '\'')
			open = skip_string(w->text, w->len, open);
		else
			open++;
	}
	if (open >= w->len) /* cannot happen: every object of the tree is in the text */
		return 0;
	w->cursor = open + 1;
	if (count_keys(w->text, w->len, open) != (size_t)json_object_object_length(v)) {
		char key[SHOWN_LEN + 4], kpath[PATH_LEN];

		find_duplicate(w, open, key, sizeof(key));
		path_key(kpath, sizeof(kpath), path, key);
		return fail(w->c, MH_EINVAL, kpath, "duplicate key");
	}
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		path_key(sub, sizeof(sub), path, json_object_iter_peek_name(&it));
		rc = walk_duplicates(w, json_object_iter_peek_value(&it), sub, depth + 1);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * json-c keeps the last of two equal keys and drops the first. Every object
 * of the tree is visited in the order its '{' appears in the text (json-c
 * iterates keys in the order they were first seen), and its key count in
 * the text is compared with what json-c kept. Until the first object with a
 * repeated key, the two orders agree, so the mismatch is found at that
 * object.
 */
static int check_duplicates(const struct ctx *c, const char *text, size_t len,
                            struct json_object *root)
{
	struct dup_walk w = {.c = c, .text = text, .len = len, .cursor = 0};

	return walk_duplicates(&w, root, "", 0);
}

/*
 * A "\u0000" escape: json-c cuts keys at it, so {"domain\u0000x": ...}
 * would read as "domain". A backslash outside a string is a syntax error
 * anyway, so escapes are found by counting backslashes. The offset, or len.
 */
static size_t find_nul_escape(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		size_t run = 0;

		if (text[i] != '\\')
			continue;
		while (i + run < len && text[i + run] == '\\')
			run++;
		if (run % 2 == 1 && len - (i + run) >= 5 && text[i + run] == 'u' &&
		    memcmp(text + i + run + 1, "0000", 4) == 0)
			return i + run - 1;
		i += run - 1;
	}
	return len;
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Parses the text with json-c: the root, or NULL with the message. */
static struct json_object *parse_json(const struct ctx *c, const char *text, size_t len, int *rcp)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	const char *nul = memchr(text, '\0', len);
	size_t off, i;

	*rcp = MH_EINVAL;
	if (nul) {
		fail_at(c, text, (size_t)(nul - text), "NUL byte in the file");
		return NULL;
	}
	off = find_nul_escape(text, len);
	if (off < len) {
		fail_at(c, text, off, "\\u0000 (NUL) never belongs in a policy");
		return NULL;
	}
	for (i = 0; i < len && is_ws(text[i]); i++)
		;
	if (i == len) {
		fail(c, MH_EINVAL, NULL, "empty file; expected a JSON object");
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok) {
		*rcp = nomem(c);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	if (!root && jerr == json_tokener_continue) {
		/*
		 * A bare literal ("null", "12") is complete only when the tokener
		 * sees a terminating NUL; inside an object the input is cut short.
		 */
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		if (root || jerr == json_tokener_success) {
			off = len;
		} else {
			json_object_put(root);
			root = NULL;
			jerr = json_tokener_continue;
		}
	}
	if (!root && jerr == json_tokener_continue)
		fail_at(c, text, len, "unexpected end of file");
	else if (!root && jerr != json_tokener_success)
		fail_at(c, text, off, "%s", json_tokener_error_desc(jerr));
	else if (!root)
		fail(c, MH_EINVAL, ".", "expected an object");
	json_tokener_free(tok);
	if (!root)
		return NULL;
	/* Strict mode refuses trailing data; white space after the value is fine. */
	for (i = off; i < len && is_ws(text[i]); i++)
		;
	if (i < len) {
		fail_at(c, text, i, "unexpected data after the JSON value");
		json_object_put(root);
		return NULL;
	}
	*rcp = 0;
	return root;
}

/* ---- the interface ---- */

static void spec_free(struct spec *sp)
{
	free(sp->name);
	sp->name = NULL;
}

void mh_policy_free(struct mh_policy **pp)
{
	struct mh_policy *p;

	if (!pp || !*pp)
		return;
	p = *pp;
	free(p->name);
	free(p->domain);
	free(p->relay);
	free(p->relay_test_domain);
	free(p->coll.address);
	free(p->coll.url);
	free(p->coll.user);
	free(p->coll.password_file);
	free(p->coll.password_env);
	free(p->ms4);
	free(p->ms6);
	for (size_t i = 0; i < p->nmsnames; i++)
		free(p->msnames[i]);
	free(p->msnames);
	free(p->overrides);
	for (size_t i = 0; i < p->nexcludes; i++)
		free(p->excludes[i]);
	free(p->excludes);
	for (size_t i = 0; i < p->nsupp; i++) {
		spec_free(&p->supp[i].host);
		free(p->supp[i].reason);
	}
	free(p->supp);
	free(p);
	*pp = NULL;
}

int mh_policy_parse(const char *text, size_t len, const char *name, struct mh_policy **out,
                    char *err, size_t errlen)
{
	struct ctx c = {.name = name ? name : "policy", .err = err, .errlen = errlen};
	struct json_object *root = NULL;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return fail(&c, MH_EINVAL, NULL, "no policy to fill");
	*out = NULL;
	if (!text && len > 0)
		return fail(&c, MH_EINVAL, NULL, "no text");
	if (len > POLICY_MAX_BYTES)
		return fail(&c, MH_EINVAL, NULL, "larger than %zu MiB, the limit for a policy file",
		            POLICY_MAX_BYTES >> 20);
	c.p = calloc(1, sizeof(*c.p));
	if (!c.p || !(c.p->name = strdup(c.name))) {
		rc = nomem(&c);
		goto out;
	}
	if (mh_targets_new(&c.scratch, true) < 0) {
		rc = nomem(&c);
		goto out;
	}
	root = parse_json(&c, text ? text : "", len, &rc);
	if (!root)
		goto out;
	rc = check_duplicates(&c, text, len, root);
	if (rc < 0)
		goto out;
	rc = parse_root(&c, root);
	if (rc < 0)
		goto out;
	if (c.p->has_collector) {
		c.p->collector.address = c.p->coll.address;
		c.p->collector.url = c.p->coll.url;
		c.p->collector.user = c.p->coll.user;
		c.p->collector.password_file = c.p->coll.password_file;
		c.p->collector.password_env = c.p->coll.password_env;
	}
	*out = c.p;
	c.p = NULL;
	rc = 0;
out:
	json_object_put(root);
	mh_targets_free(&c.scratch);
	mh_policy_free(&c.p);
	return rc;
}

int mh_policy_load(const char *path, struct mh_policy **out, char *err, size_t errlen)
{
	struct ctx c = {.name = path ? path : "policy", .err = err, .errlen = errlen};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int fd, rc;

	if (out)
		*out = NULL;
	if (!path || !out)
		return fail(&c, MH_EINVAL, NULL, "no policy file");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(&c, MH_EIO, NULL, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = fail(&c, MH_EIO, NULL, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = fail(&c, MH_EIO, NULL, "cannot read: is a directory");
		goto out;
	}
	/* Read one byte past the limit, to tell a file at the limit from one above it. */
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nbuf;

			if (ncap > POLICY_MAX_BYTES + 1)
				ncap = POLICY_MAX_BYTES + 1;
			if (ncap == cap) {
				rc = fail(&c, MH_EINVAL, NULL,
				          "larger than %zu MiB, the limit for a policy file",
				          POLICY_MAX_BYTES >> 20);
				goto out;
			}
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				rc = nomem(&c);
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = fail(&c, MH_EIO, NULL, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	rc = mh_policy_parse(buf, len, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

const char *mh_policy_domain(const struct mh_policy *p)
{
	return p ? p->domain : NULL;
}

const char *mh_policy_relay(const struct mh_policy *p)
{
	return p ? p->relay : NULL;
}

const char *mh_policy_relay_test_domain(const struct mh_policy *p)
{
	return p ? p->relay_test_domain : NULL;
}

const struct mh_policy_collector *mh_policy_collector(const struct mh_policy *p)
{
	return p && p->has_collector ? &p->collector : NULL;
}

/* The last range whose start is <= x, by binary search; NULL when none. */
static const struct range4 *find4(const struct range4 *r, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n; /* answer is in [lo, hi) as "first start > x" */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].lo <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? &r[lo - 1] : NULL;
}

/* The last range with (scope, lo) <= (scope, x); NULL when none. */
static const struct range6 *find6(const struct range6 *r, size_t n, uint32_t scope, u128 x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r[mid].scope < scope || (r[mid].scope == scope && r[mid].lo <= x))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? &r[lo - 1] : NULL;
}

static bool name_listed(const struct mh_policy *p, const char *name)
{
	char key[HOSTNAME_MAX + 2];
	const char *k = key;

	if (p->nmsnames == 0 || !name_key(key, sizeof(key), name))
		return false;
	return bsearch(&k, p->msnames, p->nmsnames, sizeof(*p->msnames), cmp_str) != NULL;
}

bool mh_policy_is_mail_server(const struct mh_policy *p, const struct mh_addr *a,
                              const char *const *names)
{
	struct addr_forms f;

	if (!p)
		return false;
	addr_forms(a, &f);
	if (f.has4) {
		const struct range4 *r = find4(p->ms4, p->nms4, f.v4);

		if (r && addr_in_range4(r, f.v4))
			return true;
	}
	if (f.has6) {
		const struct range6 *r = find6(p->ms6, p->nms6, 0, f.v6);

		if (r && r->scope == 0 && addr_in_range6(r, f.v6, f.scope))
			return true;
		if (f.scope != 0) {
			r = find6(p->ms6, p->nms6, f.scope, f.v6);
			if (r && r->scope == f.scope && addr_in_range6(r, f.v6, f.scope))
				return true;
		}
	}
	for (size_t i = 0; names && names[i]; i++)
		if (name_listed(p, names[i]))
			return true;
	return false;
}

int mh_policy_severity(const struct mh_policy *p, const char *rule_id, int def)
{
	if (!p || !rule_id)
		return def;
	for (size_t i = 0; i < p->noverrides; i++)
		if (strcmp(p->overrides[i].rule, rule_id) == 0)
			return p->overrides[i].severity;
	return def;
}

const char *mh_policy_suppression(const struct mh_policy *p, const char *rule_id,
                                  const struct mh_addr *a, const char *const *names,
                                  const char *today, const char **expired_until)
{
	const char *expired = NULL;
	struct addr_forms f;

	if (expired_until)
		*expired_until = NULL;
	if (!p || !rule_id || !today)
		return NULL;
	addr_forms(a, &f);
	for (size_t i = 0; i < p->nsupp; i++) {
		const struct suppression *su = &p->supp[i];

		if (strcmp(su->rule, rule_id) != 0 || !spec_match(&su->host, &f, names))
			continue;
		/* "YYYY-MM-DD" strings compare as the dates do. */
		if (strcmp(today, su->until) <= 0)
			return su->reason;
		if (!expired || strcmp(su->until, expired) > 0)
			expired = su->until;
	}
	if (expired_until)
		*expired_until = expired;
	return NULL;
}

int mh_policy_add_excludes(const struct mh_policy *p, struct mh_targets *t, char *err,
                           size_t errlen)
{
	char origin[PATH_LEN + 64];
	int rc;

	if (!p)
		return 0;
	for (size_t i = 0; i < p->nexcludes; i++) {
		snprintf(origin, sizeof(origin), "%s: .exclude[%zu]", p->name, i);
		rc = mh_targets_exclude(t, p->excludes[i], origin, err, errlen);
		if (rc < 0)
			return rc;
	}
	return 0;
}
