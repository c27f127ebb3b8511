/*
 * mail_text.c -- the text-level pieces of the message reader (mail.h,
 * mail_int.h): unfolding, comments, RFC 2047 encoded-words, addresses out of
 * address lists, RFC 5322 dates, base64 and quoted-printable, the probe tag,
 * and how a sender address is qualified.
 *
 * All of it works on (pointer, length) slices of untrusted text and writes
 * bounded, NUL-terminated results; nothing here allocates.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "mail_int.h"
#include "mailhole/common.h"
#include "mailhole/mail.h"

#define MT_TMP 8192

static bool mt_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char mt_lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool mt_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ---- unfolding, comments ---- */

size_t mh_mail_unfold(const char *v, size_t n, char *dst, size_t size)
{
	size_t i = 0, o = 0;

	if (size == 0)
		return 0;
	while (i < n && mt_ws(v[i]))
		i++;
	for (; i < n && o + 1 < size; i++) {
		if (v[i] == '\r' || v[i] == '\n')
			continue;
		dst[o++] = v[i];
	}
	while (o > 0 && mt_ws(dst[o - 1]))
		o--;
	dst[o] = '\0';
	return o;
}

size_t mh_mail_uncomment(const char *v, size_t n, char *dst, size_t size)
{
	size_t i, o = 0;
	unsigned depth = 0;
	bool inq = false;

	if (size == 0)
		return 0;
	for (i = 0; i < n && o + 1 < size; i++) {
		char c = v[i];
		if (c == '\r' || c == '\n')
			continue;
		if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				dst[o++] = ' ';
			continue;
		}
		if (inq) {
			dst[o++] = c;
			if (c == '\\' && i + 1 < n && o + 1 < size)
				dst[o++] = v[++i];
			else if (c == '"')
				inq = false;
			continue;
		}
		if (c == '"')
			inq = true;
		else if (c == '(') {
			depth = 1;
			continue;
		}
		dst[o++] = c;
	}
	dst[o] = '\0';
	return o;
}

/* ---- encoded-words ---- */

static int mt_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int mt_b64(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

size_t mh_mail_base64_decode(const char *src, size_t n, char *dst)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int v;
		if (src[i] == '=')
			break;
		v = mt_b64((unsigned char)src[i]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return o;
}

size_t mh_mail_qp_decode(const char *src, size_t n, char *dst)
{
	size_t i = 0, o = 0;

	while (i < n) {
		if (src[i] != '=') {
			dst[o++] = src[i++];
			continue;
		}
		/* soft line break: '=' then optional whitespace then the line end */
		{
			size_t j = i + 1;
			while (j < n && (src[j] == ' ' || src[j] == '\t'))
				j++;
			if (j < n && src[j] == '\r')
				j++;
			if (j < n && src[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j >= n) {
				i = n;
				continue;
			}
		}
		if (i + 2 < n && mt_hex(src[i + 1]) >= 0 && mt_hex(src[i + 2]) >= 0) {
			dst[o++] = (char)(mt_hex(src[i + 1]) * 16 + mt_hex(src[i + 2]));
			i += 3;
			continue;
		}
		dst[o++] = src[i++];
	}
	return o;
}

enum mt_cs { MT_CS_UTF8, MT_CS_LATIN1, MT_CS_OTHER };

static enum mt_cs mt_charset(const char *cs, size_t n)
{
	char b[40];
	size_t i;

	if (n >= sizeof(b))
		return MT_CS_OTHER;
	for (i = 0; i < n; i++)
		b[i] = mt_lc(cs[i]);
	b[n] = '\0';
	{
		char *star = strchr(b, '*'); /* RFC 2231 language */
		if (star)
			*star = '\0';
	}
	if (!strcmp(b, "utf-8") || !strcmp(b, "utf8") || !strcmp(b, "us-ascii") ||
	    !strcmp(b, "ascii") || !b[0])
		return MT_CS_UTF8;
	if (!strcmp(b, "iso-8859-1") || !strcmp(b, "iso8859-1") || !strcmp(b, "latin1") ||
	    !strcmp(b, "latin-1") || !strcmp(b, "l1") || !strcmp(b, "iso_8859-1"))
		return MT_CS_LATIN1;
	return MT_CS_OTHER;
}

/* Appends byte c in charset cs to dst as UTF-8. */
static void mt_put(char *dst, size_t size, size_t *o, unsigned char c, enum mt_cs cs)
{
	if (cs == MT_CS_LATIN1 && c >= 0x80) {
		if (*o + 2 < size) {
			dst[(*o)++] = (char)(0xc0 | (c >> 6));
			dst[(*o)++] = (char)(0x80 | (c & 0x3f));
		}
		return;
	}
	if (*o + 1 < size)
		dst[(*o)++] = (char)c;
}

/*
 * Tries an encoded-word at s[i..n): "=?charset?B|Q?text?=". On success
 * appends the decoded text and returns the index after it; else returns i.
 */
static size_t mt_eword(const char *s, size_t n, size_t i, char *dst, size_t size, size_t *o,
		       bool *raw)
{
	size_t cs0, cs1, t0, t1, j;
	char enc;
	enum mt_cs cs;

	if (i + 8 > n || s[i] != '=' || s[i + 1] != '?')
		return i;
	cs0 = i + 2;
	for (j = cs0; j < n && s[j] != '?' && !mt_ws(s[j]); j++)
		;
	if (j >= n || s[j] != '?' || j == cs0 || j + 3 >= n)
		return i;
	cs1 = j;
	enc = mt_lc(s[j + 1]);
	if ((enc != 'b' && enc != 'q') || s[j + 2] != '?')
		return i;
	t0 = j + 3;
	for (j = t0; j + 1 < n && !(s[j] == '?' && s[j + 1] == '=') && !mt_ws(s[j]); j++)
		;
	if (j + 1 >= n || s[j] != '?' || s[j + 1] != '=')
		return i;
	t1 = j;
	cs = mt_charset(s + cs0, cs1 - cs0);
	*raw = cs == MT_CS_OTHER;
	if (cs == MT_CS_OTHER) {
		/* left as written */
		for (j = i; j < t1 + 2 && *o + 1 < size; j++)
			dst[(*o)++] = s[j];
		return t1 + 2;
	}
	if (enc == 'b') {
		char tmp[MT_TMP];
		size_t got, x, te = t1;
		if (te - t0 > sizeof(tmp))
			te = t0 + sizeof(tmp);
		got = mh_mail_base64_decode(s + t0, te - t0, tmp);
		for (x = 0; x < got; x++)
			mt_put(dst, size, o, (unsigned char)tmp[x], cs);
	} else {
		for (j = t0; j < t1; j++) {
			if (s[j] == '_') {
				mt_put(dst, size, o, ' ', cs);
			} else if (s[j] == '=' && j + 2 < t1 && mt_hex(s[j + 1]) >= 0 &&
				   mt_hex(s[j + 2]) >= 0) {
				mt_put(dst, size, o,
				       (unsigned char)(mt_hex(s[j + 1]) * 16 + mt_hex(s[j + 2])), cs);
				j += 2;
			} else {
				mt_put(dst, size, o, (unsigned char)s[j], cs);
			}
		}
	}
	return t1 + 2;
}

/* Decodes the encoded-words of s[0..n) into dst; returns the length. */
static size_t mt_decode_words(const char *s, size_t n, char *dst, size_t size)
{
	size_t i = 0, o = 0;
	bool last_word = false;

	while (i < n && o + 1 < size) {
		size_t after;
		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?') {
			size_t o0 = o;
			bool raw = false;
			after = mt_eword(s, n, i, dst, size, &o, &raw);
			if (after != i) {
				i = after;
				last_word = !raw;
				continue;
			}
			o = o0;
		}
		if (last_word && mt_ws(s[i])) {
			/* whitespace between two encoded-words is dropped */
			size_t j = i;
			while (j < n && mt_ws(s[j]))
				j++;
			if (j + 1 < n && s[j] == '=' && s[j + 1] == '?') {
				size_t dummy = 0;
				char probe[4];
				bool raw = false;
				if (mt_eword(s, n, j, probe, 1, &dummy, &raw) != j && !raw) {
					i = j;
					continue;
				}
			}
		}
		last_word = false;
		dst[o++] = s[i++];
	}
	dst[o] = '\0';
	return o;
}

/* Drops control characters, collapses whitespace, trims, then UTF-8-cleans into dst. */
static void mt_finish(const char *s, size_t n, char *dst, size_t size)
{
	char tmp[MT_TMP];
	size_t i, o = 0;
	bool space = false;

	for (i = 0; i < n && o + 1 < sizeof(tmp); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			space = o > 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f)
			continue;
		if (space && o + 2 < sizeof(tmp))
			tmp[o++] = ' ';
		space = false;
		tmp[o++] = (char)c;
	}
	mh_utf8_clean(dst, size, tmp, o);
}

void mh_mail_clean(const char *src, size_t n, char *dst, size_t size, bool decode)
{
	char tmp[MT_TMP];

	if (size == 0)
		return;
	if (decode) {
		size_t m = mt_decode_words(src, n, tmp, sizeof(tmp));
		mt_finish(tmp, m, dst, size);
	} else {
		mt_finish(src, n, dst, size);
	}
}

void mh_mail_clean_charset(const char *src, size_t n, const char *charset, char *dst, size_t size)
{
	char tmp[MT_TMP];
	size_t i, o = 0;

	if (size == 0)
		return;
	if (charset && mt_charset(charset, strlen(charset)) == MT_CS_LATIN1) {
		for (i = 0; i < n && o + 3 < sizeof(tmp); i++)
			mt_put(tmp, sizeof(tmp), &o, (unsigned char)src[i], MT_CS_LATIN1);
		mt_finish(tmp, o, dst, size);
		return;
	}
	mt_finish(src, n, dst, size);
}

/* ---- addresses ---- */

static void mt_trim(const char **a, const char **b)
{
	while (*a < *b && mt_ws(**a))
		(*a)++;
	while (*b > *a && mt_ws((*b)[-1]))
		(*b)--;
}

/* Evaluates one list member [a, b): the address inside <>, or the bare one. */
static bool mt_member(const char *a, const char *b, char *dst, size_t size)
{
	const char *lt = NULL, *gt = NULL, *q;
	bool inq = false;
	size_t n;

	for (q = a; q < b; q++) {
		if (*q == '\\' && inq) {
			q++;
			continue;
		}
		if (*q == '"')
			inq = !inq;
		else if (!inq && *q == '<' && !lt)
			lt = q;
		else if (!inq && *q == '>' && lt && !gt)
			gt = q;
	}
	if (lt) {
		a = lt + 1;
		b = gt ? gt : b;
		mt_trim(&a, &b);
		/* source route: "@a,@b:user@x" */
		if (a < b && *a == '@') {
			const char *colon = memchr(a, ':', (size_t)(b - a));
			if (colon)
				a = colon + 1;
		}
		mt_trim(&a, &b);
	} else {
		mt_trim(&a, &b);
		if (a >= b)
			return false;
		/* "name user@x" without brackets: the token with '@' */
		{
			const char *at = memchr(a, '@', (size_t)(b - a));
			if (at && memchr(a, ' ', (size_t)(b - a))) {
				const char *s = at, *e = at;
				while (s > a && !mt_ws(s[-1]))
					s--;
				while (e < b && !mt_ws(*e))
					e++;
				a = s;
				b = e;
			}
		}
	}
	n = (size_t)(b - a);
	if (size == 0)
		return true;
	if (n >= size)
		n = size - 1;
	memcpy(dst, a, n);
	dst[n] = '\0';
	return true;
}

bool mh_mail_first_addr(const char *v, size_t n, char *dst, size_t size)
{
	char tmp[MT_TMP];
	size_t len = mh_mail_uncomment(v, n, tmp, sizeof(tmp)), i, start = 0;
	bool inq = false, inang = false, inlit = false;

	if (size)
		dst[0] = '\0';
	for (i = 0; i <= len; i++) {
		char c = i < len ? tmp[i] : ',';
		if (i < len && inq) {
			if (c == '\\')
				i++;
			else if (c == '"')
				inq = false;
			continue;
		}
		if (i < len && c == '"') {
			inq = true;
			continue;
		}
		if (i < len && inang) {
			if (c == '>')
				inang = false;
			continue;
		}
		if (i < len && inlit) {
			if (c == ']')
				inlit = false;
			continue;
		}
		if (c == '<') {
			inang = true;
		} else if (c == '[') {
			inlit = true;
		} else if (c == ':') {
			start = i + 1; /* a group's display name */
		} else if (c == ',' || c == ';' || i == len) {
			if (mt_member(tmp + start, tmp + (i < len ? i : len), dst, size))
				return true;
			start = i + 1;
		}
	}
	return false;
}

/* ---- dates ---- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's algorithm). */
static int64_t mt_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static const char *const mt_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
					"jul", "aug", "sep", "oct", "nov", "dec"};

/* Next token of s (separators: whitespace and ','), into tok. */
static bool mt_tok(const char *s, size_t n, size_t *i, char *tok, size_t size)
{
	size_t o = 0;

	while (*i < n && (mt_ws(s[*i]) || s[*i] == ','))
		(*i)++;
	if (*i >= n)
		return false;
	while (*i < n && !mt_ws(s[*i]) && s[*i] != ',') {
		if (o + 1 < size)
			tok[o++] = s[*i];
		(*i)++;
	}
	tok[o] = '\0';
	return true;
}

static bool mt_num(const char *t, unsigned maxdigits, long *out)
{
	long v = 0;
	unsigned k = 0;

	if (!*t)
		return false;
	for (; *t; t++, k++) {
		if (*t < '0' || *t > '9' || k >= maxdigits)
			return false;
		v = v * 10 + (*t - '0');
	}
	*out = v;
	return true;
}

static int mt_month(const char *t)
{
	int i;

	if (strlen(t) < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (!strncasecmp(t, mt_months[i], 3))
			return i + 1;
	return -1;
}

/* Zone offset in seconds east of UTC; false when t is no zone. */
static bool mt_zone(const char *t, long *off)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {{"UT", 0},   {"UTC", 0},  {"GMT", 0},  {"Z", 0},    {"EST", -5}, {"EDT", -4},
		     {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}};
	size_t i;
	long v;

	if ((t[0] == '+' || t[0] == '-') && strlen(t) == 5 && mt_num(t + 1, 4, &v)) {
		if (v % 100 >= 60 || v / 100 > 23)
			return false;
		*off = (v / 100 * 3600 + v % 100 * 60) * (t[0] == '-' ? -1 : 1);
		return true;
	}
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (!strcasecmp(t, zones[i].name)) {
			*off = zones[i].hours * 3600L;
			return true;
		}
	/* obsolete military zones: RFC 5322 says treat as -0000 */
	if (strlen(t) == 1 && ((t[0] >= 'A' && t[0] <= 'Z') || (t[0] >= 'a' && t[0] <= 'z')) &&
	    t[0] != 'J' && t[0] != 'j') {
		*off = 0;
		return true;
	}
	return false;
}

time_t mh_mail_parse_date(const char *v, size_t n)
{
	char buf[256], tok[64];
	size_t len = mh_mail_uncomment(v, n, buf, sizeof(buf)), i = 0;
	long day, year, hh, mm, ss = 0, off = 0;
	int month;
	char *c1, *c2;
	int64_t t;

	if (!mt_tok(buf, len, &i, tok, sizeof(tok)))
		return 0;
	if (((tok[0] >= 'A' && tok[0] <= 'Z') || (tok[0] >= 'a' && tok[0] <= 'z')) &&
	    !mt_tok(buf, len, &i, tok, sizeof(tok)))
		return 0; /* the day of the week */
	if (!mt_num(tok, 2, &day) || day < 1 || day > 31)
		return 0;
	if (!mt_tok(buf, len, &i, tok, sizeof(tok)) || (month = mt_month(tok)) < 0)
		return 0;
	if (!mt_tok(buf, len, &i, tok, sizeof(tok)) || !mt_num(tok, 4, &year))
		return 0;
	if (strlen(tok) == 2)
		year += year < 50 ? 2000 : 1900;
	else if (strlen(tok) == 3)
		year += 1900;
	if (year < 1970 || year > 9999)
		return 0;
	if (!mt_tok(buf, len, &i, tok, sizeof(tok)))
		return 0;
	c1 = strchr(tok, ':');
	if (!c1)
		return 0;
	*c1 = '\0';
	c2 = strchr(c1 + 1, ':');
	if (c2)
		*c2 = '\0';
	if (!mt_num(tok, 2, &hh) || !mt_num(c1 + 1, 2, &mm) || (c2 && !mt_num(c2 + 1, 2, &ss)))
		return 0;
	if (hh > 23 || mm > 59 || ss > 60)
		return 0;
	if (mt_tok(buf, len, &i, tok, sizeof(tok)) && !mt_zone(tok, &off))
		off = 0; /* an unknown zone: as -0000 */
	if (day > 28) {
		static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
		bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
		if (day > mdays[month - 1] || (month == 2 && day == 29 && !leap))
			return 0;
	}
	t = mt_days(year, (unsigned)month, (unsigned)day) * 86400 + hh * 3600 + mm * 60 + ss - off;
	if (t <= 0)
		return 0;
	if (sizeof(time_t) < 8 && t > INT32_MAX)
		return 0;
	return (time_t)t;
}

/* ---- tags ---- */

bool mh_tag_valid(const char *s, size_t len)
{
	size_t i;

	if (!s || len < MH_TAG_MIN || len > MH_TAG_MAX || s[0] != 'm' || s[1] != 'h')
		return false;
	for (i = 2; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

bool mh_tag_find(const char *text, size_t len, char *tag, size_t size)
{
	size_t i = 0;

	if (!text || !tag || size < MH_TAG_MAX + 1)
		return false;
	while (i < len) {
		size_t j;
		if (!mt_alnum((unsigned char)text[i])) {
			i++;
			continue;
		}
		/* an alphanumeric run [i, j) bounded by non-alphanumerics */
		for (j = i; j < len && mt_alnum((unsigned char)text[j]); j++)
			;
		if (j - i >= MH_TAG_MIN && j - i <= MH_TAG_MAX && mt_lc(text[i]) == 'm' &&
		    mt_lc(text[i + 1]) == 'h') {
			size_t k;
			for (k = 0; k < j - i; k++)
				tag[k] = mt_lc(text[i + k]);
			tag[j - i] = '\0';
			return true;
		}
		i = j;
	}
	return false;
}

/* ---- sender classes ---- */

const char *mh_sender_class_name(enum mh_sender_class c)
{
	switch (c) {
	case MH_SENDER_UNKNOWN:
		return "unknown";
	case MH_SENDER_MASQUERADED:
		return "masqueraded";
	case MH_SENDER_HOST_QUALIFIED:
		return "host-qualified";
	case MH_SENDER_UNQUALIFIED:
		return "unqualified";
	case MH_SENDER_OTHER:
		return "other";
	}
	return "unknown";
}

/* s[0..n) equals name, case-insensitively, a trailing dot on either ignored. */
static bool mt_dom_eq(const char *s, size_t n, const char *name)
{
	size_t m = strlen(name);

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (m > 0 && name[m - 1] == '.')
		m--;
	return n == m && n > 0 && strncasecmp(s, name, n) == 0;
}

/* s[0..n) is a name under domain ("x.DOMAIN"). */
static bool mt_dom_under(const char *s, size_t n, const char *domain)
{
	size_t m = strlen(domain);

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (m > 0 && domain[m - 1] == '.')
		m--;
	return m > 0 && n > m + 1 && s[n - m - 1] == '.' && strncasecmp(s + n - m, domain, m) == 0;
}

enum mh_sender_class mh_sender_classify(const char *addr, const char *domain,
					const char *host_fqdn)
{
	char a[MH_MAIL_ADDR_MAX];
	const char *at, *dom;
	size_t dlen;

	if (!addr || !mh_mail_first_addr(addr, strlen(addr), a, sizeof(a)) || !a[0])
		return MH_SENDER_UNKNOWN;
	at = strrchr(a, '@');
	if (!at)
		return MH_SENDER_UNQUALIFIED;
	dom = at + 1;
	dlen = strlen(dom);
	if (dlen == 0 || (dlen == 1 && dom[0] == '.'))
		return MH_SENDER_UNQUALIFIED;
	if (host_fqdn && host_fqdn[0] && mt_dom_eq(dom, dlen, host_fqdn))
		return MH_SENDER_HOST_QUALIFIED;
	if (domain && domain[0]) {
		if (mt_dom_eq(dom, dlen, domain))
			return MH_SENDER_MASQUERADED;
		if (mt_dom_under(dom, dlen, domain))
			return (host_fqdn && host_fqdn[0]) ? MH_SENDER_MASQUERADED
							   : MH_SENDER_HOST_QUALIFIED;
	}
	return MH_SENDER_OTHER;
}
