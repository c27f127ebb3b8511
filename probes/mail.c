/*
 * mail.c -- one stored message in, facts out (include/mailhole/mail.h): the
 * RFC 5322 header section, the MIME tree as far as a DSN needs it, RFC 3464
 * delivery-status blocks, the returned headers, the common non-standard
 * bounces, and the probe's tag wherever it survived.
 *
 * The reading is a set of cursors over the caller's buffer: nothing is
 * copied except the few leaves that must be decoded (base64 or
 * quoted-printable), and every scan stops at the end of its slice, so no
 * byte past buf[len) is ever read. Header fields, MIME part headers and the
 * delivery-status blocks share one field reader (they have the same
 * syntax: "Name: value", folded continuation lines, a blank line ends).
 *
 * What is an error and what is a warning: a buffer that does not start
 * with a header section (binary, NULs among the headers, no field at all)
 * is MH_EINVAL; a size past MH_MAIL_MAX or a single field past 1 MiB is
 * MH_ELIMIT. Everything below the header section (MIME boundaries that
 * never come, a truncated part, junk in a body) is read as far as it goes
 * and said in `warning`.
 *
 * The pieces shared with mail_text.c (decoding, addresses, dates, tags) are
 * declared in mail_int.h.
 */
#include "mailhole/mail.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail_int.h"
#include "mailhole/common.h"

#define ML_FIELD_MAX  (1024u * 1024u) /* one header field, folded lines included */
#define ML_DEPTH_MAX  8               /* nested multiparts followed */
#define ML_PARTS_MAX  256             /* parts per multipart looked at */
#define ML_UNFOLD_MAX 8192            /* a field's value kept for address parsing */

/* ---- the field reader ---- */

/* A slice of the buffer. */
struct ml_cur {
	const char *p, *end;
	unsigned line; /* line number of p (1-based), for messages */
};

struct ml_field {
	const char *name;
	size_t nlen;
	const char *val; /* raw, folded, up to the end of its last line (no line end) */
	size_t vlen;
	unsigned line;
};

enum ml_next {
	ML_FIELD,   /* a field was read */
	ML_BLANK,   /* the blank line that ends the section (consumed) */
	ML_END,     /* the end of the slice */
	ML_NOTHDR,  /* a line that is not a field (not consumed) */
	ML_BINARY,  /* a NUL among the fields */
	ML_TOOLONG, /* a field longer than ML_FIELD_MAX */
};

/* The end of the line at p (the LF, or end), and where the next starts. */
static const char *ml_eol(const char *p, const char *end, const char **next)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));

	if (!lf) {
		*next = end;
		return end;
	}
	*next = lf + 1;
	return lf;
}

/* Strips one trailing CR from [p, e). */
static const char *ml_rtrim_cr(const char *p, const char *e)
{
	if (e > p && e[-1] == '\r')
		e--;
	return e;
}

static bool ml_is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static enum ml_next ml_field_next(struct ml_cur *c, struct ml_field *f)
{
	const char *p = c->p, *next, *e, *q;

	f->line = c->line;
	if (p >= c->end)
		return ML_END;
	e = ml_rtrim_cr(p, ml_eol(p, c->end, &next));
	if (e == p) {
		c->p = next;
		c->line++;
		return ML_BLANK;
	}
	/* name: ftext, optionally followed by whitespace (obsolete syntax) before ':' */
	q = p;
	while (q < e && ml_is_ftext((unsigned char)*q))
		q++;
	f->name = p;
	f->nlen = (size_t)(q - p);
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	if (f->nlen == 0 || q >= e || *q != ':') {
		if (memchr(p, '\0', (size_t)(e - p)))
			return ML_BINARY;
		return ML_NOTHDR;
	}
	q++;
	f->val = q;
	f->line = c->line;
	c->line++;
	/* continuation lines */
	while (next < c->end && (*next == ' ' || *next == '\t')) {
		const char *n2;
		e = ml_rtrim_cr(next, ml_eol(next, c->end, &n2));
		next = n2;
		c->line++;
		if ((size_t)(e - f->val) > ML_FIELD_MAX)
			return ML_TOOLONG;
	}
	f->vlen = (size_t)(e - f->val);
	if (f->vlen > ML_FIELD_MAX)
		return ML_TOOLONG;
	if (memchr(p, '\0', (size_t)(e - p)))
		return ML_BINARY;
	c->p = next;
	return ML_FIELD;
}

static bool ml_name_is(const struct ml_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->nlen == n && strncasecmp(f->name, name, n) == 0;
}

/* ---- warnings ---- */

static void ml_warn(struct mh_mail *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ml_warn(struct mh_mail *m, const char *fmt, ...)
{
	char raw[256], one[256];
	size_t have = strlen(m->warning);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* pieces of the message (a boundary) are untrusted: ASCII only, so cuts are safe */
	mh_sanitize_line(one, sizeof(one), raw, strlen(raw));
	if (strstr(m->warning, one))
		return;
	if (have > 0 && have + 2 < sizeof(m->warning)) {
		m->warning[have++] = ';';
		m->warning[have++] = ' ';
		m->warning[have] = '\0';
	}
	if (have + 1 < sizeof(m->warning))
		mh_strlcpy(m->warning + have, one, sizeof(m->warning) - have);
}

/* ---- content types ---- */

struct ml_ctype {
	char type[64];     /* "multipart/report", lowercase; "" when absent */
	char boundary[80]; /* "" when absent (RFC 2046: at most 70) */
	char report_type[40];
	char charset[40];
	bool has_boundary;
};

enum ml_cte { ML_CTE_IDENTITY, ML_CTE_BASE64, ML_CTE_QP, ML_CTE_UNKNOWN };

static void ml_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Parses a Content-Type value: type/subtype, then ;-separated parameters
 * with token or quoted-string values (comments skipped).
 */
static void ml_ctype_parse(const char *v, size_t n, struct ml_ctype *ct)
{
	char buf[2048];
	size_t i = 0, o;
	size_t len;

	memset(ct, 0, sizeof(*ct));
	len = mh_mail_uncomment(v, n, buf, sizeof(buf));
	while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	o = 0;
	while (i < len && buf[i] != ';' && buf[i] != ' ' && buf[i] != '\t') {
		if (o + 1 < sizeof(ct->type))
			ct->type[o++] = buf[i];
		i++;
	}
	ct->type[o] = '\0';
	ml_lower(ct->type);
	if (!strchr(ct->type, '/'))
		ct->type[0] = '\0';
	while (i < len) {
		char name[40], val[128];
		size_t no = 0, vo = 0;

		while (i < len && buf[i] != ';')
			i++;
		if (i >= len)
			break;
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		while (i < len && buf[i] != '=' && buf[i] != ';' && buf[i] != ' ' && buf[i] != '\t') {
			if (no + 1 < sizeof(name))
				name[no++] = buf[i];
			i++;
		}
		name[no] = '\0';
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i >= len || buf[i] != '=')
			continue;
		i++;
		while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
			i++;
		if (i < len && buf[i] == '"') {
			i++;
			while (i < len && buf[i] != '"') {
				if (buf[i] == '\\' && i + 1 < len)
					i++;
				if (vo + 1 < sizeof(val))
					val[vo++] = buf[i];
				i++;
			}
			if (i < len)
				i++;
		} else {
			while (i < len && buf[i] != ';' && buf[i] != ' ' && buf[i] != '\t') {
				if (vo + 1 < sizeof(val))
					val[vo++] = buf[i];
				i++;
			}
		}
		val[vo] = '\0';
		if (!strcasecmp(name, "boundary") && !ct->has_boundary && vo > 0) {
			mh_strlcpy(ct->boundary, val, sizeof(ct->boundary));
			ct->has_boundary = true;
		} else if (!strcasecmp(name, "report-type")) {
			mh_strlcpy(ct->report_type, val, sizeof(ct->report_type));
			ml_lower(ct->report_type);
		} else if (!strcasecmp(name, "charset")) {
			mh_strlcpy(ct->charset, val, sizeof(ct->charset));
			ml_lower(ct->charset);
		}
	}
}

static enum ml_cte ml_cte_parse(const char *v, size_t n)
{
	char buf[64];
	size_t len = mh_mail_uncomment(v, n, buf, sizeof(buf)), i = 0, o = 0;
	char tok[32];

	while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	while (i < len && buf[i] != ' ' && buf[i] != '\t' && o + 1 < sizeof(tok))
		tok[o++] = buf[i++];
	tok[o] = '\0';
	if (o == 0 || !strcasecmp(tok, "7bit") || !strcasecmp(tok, "8bit") ||
	    !strcasecmp(tok, "binary"))
		return ML_CTE_IDENTITY;
	if (!strcasecmp(tok, "base64"))
		return ML_CTE_BASE64;
	if (!strcasecmp(tok, "quoted-printable"))
		return ML_CTE_QP;
	return ML_CTE_UNKNOWN;
}

/* ---- the parse state ---- */

struct ml_leaf {
	const char *p; /* the body of the part (raw) */
	size_t len;
	enum ml_cte cte;
	char charset[40];
	bool found;
};

struct ml_state {
	struct mh_mail *m;
	char *err;
	size_t errlen;
	struct ml_leaf status;   /* message/delivery-status */
	struct ml_leaf returned; /* text/rfc822-headers, message/rfc822 */
	struct ml_leaf text;     /* the first text/plain */
	bool report;             /* top-level multipart/report; report-type=delivery-status */
	char returned_tag[MH_TAG_MAX + 1];
	char verp_tag[MH_TAG_MAX + 1];
	char from_raw[MH_MAIL_TEXT_MAX]; /* the From value, display name kept */
	unsigned parts;
};

/* Copies an unfolded, decoded, cleaned field value into dst. */
static void ml_text_value(const struct ml_field *f, char *dst, size_t size, bool decode)
{
	char tmp[ML_UNFOLD_MAX];
	size_t n = mh_mail_unfold(f->val, f->vlen, tmp, sizeof(tmp));

	mh_mail_clean(tmp, n, dst, size, decode);
}

/* The first address of a field into dst (size); returns whether one was there. */
static bool ml_addr_value(const struct ml_field *f, char *dst, size_t size)
{
	char tmp[ML_UNFOLD_MAX], addr[ML_UNFOLD_MAX];
	size_t n = mh_mail_unfold(f->val, f->vlen, tmp, sizeof(tmp));
	bool found = mh_mail_first_addr(tmp, n, addr, sizeof(addr));

	mh_mail_clean(addr, strlen(addr), dst, size, false);
	return found;
}

/* The tag of a VERP address (the local part after '+'), into tag. */
static bool ml_verp_tag(const char *addr, char *tag, size_t size)
{
	const char *plus = strchr(addr, '+');
	const char *at = strrchr(addr, '@');

	if (!plus || (at && at < plus))
		return false;
	return mh_tag_find(plus + 1, at ? (size_t)(at - plus - 1) : strlen(plus + 1), tag, size);
}

/* ---- top-level headers ---- */

struct ml_top {
	struct ml_ctype ct;
	enum ml_cte cte;
	bool has_ct;
	char xtag[MH_TAG_MAX + 1];
	char x_original_to[MH_MAIL_ADDR_MAX];
};

static void ml_top_field(struct ml_state *s, struct ml_top *t, const struct ml_field *f)
{
	struct mh_mail *m = s->m;

	if (ml_name_is(f, "Received")) {
		if (m->nreceived < MH_MAIL_RECEIVED_MAX)
			ml_text_value(f, m->received[m->nreceived], sizeof(m->received[0]), false);
		m->nreceived++;
	} else if (ml_name_is(f, "Return-Path")) {
		if (!m->has_return_path) {
			ml_addr_value(f, m->return_path, sizeof(m->return_path));
			m->has_return_path = true;
		}
	} else if (ml_name_is(f, "From")) {
		if (!m->from[0]) {
			ml_addr_value(f, m->from, sizeof(m->from));
			ml_text_value(f, s->from_raw, sizeof(s->from_raw), true);
		}
	} else if (ml_name_is(f, "Sender")) {
		if (!m->sender[0])
			ml_addr_value(f, m->sender, sizeof(m->sender));
	} else if (ml_name_is(f, "To")) {
		if (!m->to[0])
			ml_addr_value(f, m->to, sizeof(m->to));
	} else if (ml_name_is(f, "Delivered-To")) {
		if (!m->delivered_to[0])
			ml_addr_value(f, m->delivered_to, sizeof(m->delivered_to));
	} else if (ml_name_is(f, "X-Original-To")) {
		if (!t->x_original_to[0])
			ml_addr_value(f, t->x_original_to, sizeof(t->x_original_to));
	} else if (ml_name_is(f, "Message-ID")) {
		if (!m->message_id[0])
			ml_addr_value(f, m->message_id, sizeof(m->message_id));
	} else if (ml_name_is(f, "Subject")) {
		if (!m->subject[0])
			ml_text_value(f, m->subject, sizeof(m->subject), true);
	} else if (ml_name_is(f, "Date")) {
		if (!m->date[0]) {
			ml_text_value(f, m->date, sizeof(m->date), false);
			m->date_t = mh_mail_parse_date(m->date, strlen(m->date));
		}
	} else if (ml_name_is(f, "X-Mailhole-Tag")) {
		if (!t->xtag[0])
			mh_tag_find(f->val, f->vlen, t->xtag, sizeof(t->xtag));
	} else if (ml_name_is(f, "Content-Type")) {
		if (!t->has_ct) {
			ml_ctype_parse(f->val, f->vlen, &t->ct);
			t->has_ct = true;
		}
	} else if (ml_name_is(f, "Content-Transfer-Encoding")) {
		t->cte = ml_cte_parse(f->val, f->vlen);
	}
}

/* ---- MIME ---- */

static void ml_leaf_set(struct ml_leaf *l, const char *p, size_t len, enum ml_cte cte,
			const char *charset)
{
	if (l->found)
		return;
	l->p = p;
	l->len = len;
	l->cte = cte;
	mh_strlcpy(l->charset, charset, sizeof(l->charset));
	l->found = true;
}

static void ml_walk(struct ml_state *s, const char *body, size_t len, const struct ml_ctype *ct,
		    enum ml_cte cte, unsigned depth);

/* A line that is "--BOUNDARY" (close: "--BOUNDARY--"), transport padding allowed. */
static int ml_delim(const char *p, const char *e, const char *b, size_t blen)
{
	const char *q;
	int close = 0;

	if ((size_t)(e - p) < blen + 2 || p[0] != '-' || p[1] != '-' || memcmp(p + 2, b, blen) != 0)
		return 0;
	q = p + 2 + blen;
	if (e - q >= 2 && q[0] == '-' && q[1] == '-') {
		close = 1;
		q += 2;
	}
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	if (q != e)
		return 0;
	return close ? 2 : 1;
}

/* Guesses a boundary: the first line of the body that looks like a delimiter. */
static bool ml_guess_boundary(const char *body, size_t len, char *b, size_t size)
{
	const char *p = body, *end = body + len, *next, *e;

	while (p < end) {
		e = ml_rtrim_cr(p, ml_eol(p, end, &next));
		if (e - p > 3 && p[0] == '-' && p[1] == '-' && (size_t)(e - p - 2) < size &&
		    e - p - 2 <= 70) {
			const char *q;
			for (q = p + 2; q < e; q++)
				if (*q == ' ' || (unsigned char)*q < 33 || (unsigned char)*q > 126)
					break;
			if (q == e) {
				size_t n = (size_t)(e - p - 2);
				/* a close delimiter seen first: drop its trailing "--" */
				if (n > 2 && e[-1] == '-' && e[-2] == '-')
					n -= 2;
				memcpy(b, p + 2, n);
				b[n] = '\0';
				return true;
			}
		}
		p = next;
	}
	return false;
}

static void ml_part(struct ml_state *s, const char *p, size_t len, unsigned depth)
{
	struct ml_cur c = {p, p + len, 1};
	struct ml_field f;
	struct ml_ctype ct;
	enum ml_cte cte = ML_CTE_IDENTITY;
	bool has_ct = false;
	enum ml_next r;

	memset(&ct, 0, sizeof(ct));
	s->parts++;
	for (;;) {
		r = ml_field_next(&c, &f);
		if (r == ML_FIELD) {
			if (ml_name_is(&f, "Content-Type") && !has_ct) {
				ml_ctype_parse(f.val, f.vlen, &ct);
				has_ct = true;
			} else if (ml_name_is(&f, "Content-Transfer-Encoding")) {
				cte = ml_cte_parse(f.val, f.vlen);
			}
			continue;
		}
		if (r == ML_TOOLONG) {
			ml_warn(s->m, "a MIME part header longer than 1 MiB");
			return;
		}
		if (r == ML_BINARY) {
			ml_warn(s->m, "binary junk in a MIME part header");
			return;
		}
		if (r == ML_NOTHDR && c.p == p) {
			/* no part header at all: the part is body only (RFC 2046 allows it) */
		} else if (r == ML_NOTHDR) {
			ml_warn(s->m, "a MIME part header ends without a blank line");
		}
		break;
	}
	if (!has_ct)
		mh_strlcpy(ct.type, "text/plain", sizeof(ct.type));
	ml_walk(s, c.p, (size_t)(c.end - c.p), &ct, cte, depth);
}

static void ml_multipart(struct ml_state *s, const char *body, size_t len,
			 const struct ml_ctype *ct, unsigned depth)
{
	char b[80];
	size_t blen;
	const char *p = body, *end = body + len, *next, *e, *start = NULL;
	bool closed = false, any = false;
	unsigned n = 0;

	if (depth >= ML_DEPTH_MAX) {
		ml_warn(s->m, "MIME nesting deeper than %d levels not followed", ML_DEPTH_MAX);
		return;
	}
	if (ct->has_boundary) {
		mh_strlcpy(b, ct->boundary, sizeof(b));
	} else if (ml_guess_boundary(body, len, b, sizeof(b))) {
		ml_warn(s->m, "%s without a boundary parameter (guessed from the body)", ct->type);
	} else {
		ml_warn(s->m, "%s without a boundary parameter", ct->type);
		return;
	}
	blen = strlen(b);
	while (p < end) {
		int d;
		e = ml_rtrim_cr(p, ml_eol(p, end, &next));
		d = ml_delim(p, e, b, blen);
		if (d) {
			if (start && n < ML_PARTS_MAX) {
				/* the line end before the delimiter belongs to it */
				const char *pe = p;
				if (pe > start && pe[-1] == '\n')
					pe--;
				if (pe > start && pe[-1] == '\r')
					pe--;
				ml_part(s, start, (size_t)(pe - start), depth + 1);
				n++;
			}
			any = true;
			if (d == 2) {
				closed = true;
				start = NULL;
				break;
			}
			start = next;
		}
		p = next;
	}
	if (!any) {
		ml_warn(s->m, "MIME boundary \"%.60s\" never found (truncated or damaged)", b);
		return;
	}
	if (!closed) {
		ml_warn(s->m, "missing final MIME boundary (truncated?)");
		if (start && start < end && n < ML_PARTS_MAX)
			ml_part(s, start, (size_t)(end - start), depth + 1);
	}
	if (n >= ML_PARTS_MAX)
		ml_warn(s->m, "more than %d MIME parts: the rest not read", ML_PARTS_MAX);
}

static void ml_walk(struct ml_state *s, const char *body, size_t len, const struct ml_ctype *ct,
		    enum ml_cte cte, unsigned depth)
{
	const char *t = ct->type;

	if (!strncmp(t, "multipart/", 10)) {
		ml_multipart(s, body, len, ct, depth);
	} else if (!strcmp(t, "message/delivery-status") ||
		   !strcmp(t, "message/global-delivery-status")) {
		ml_leaf_set(&s->status, body, len, cte, ct->charset);
	} else if (!strcmp(t, "text/rfc822-headers") || !strcmp(t, "message/rfc822") ||
		   !strcmp(t, "message/global") || !strcmp(t, "message/global-headers")) {
		ml_leaf_set(&s->returned, body, len, cte, ct->charset);
	} else if (!strcmp(t, "text/plain") || !t[0]) {
		ml_leaf_set(&s->text, body, len, cte, ct->charset);
	}
}

/* Decodes a leaf into a malloc'd buffer (*out, *outlen), or borrows it. */
static int ml_leaf_decode(struct ml_state *s, const struct ml_leaf *l, char **out, size_t *outlen,
			  const char **p)
{
	*out = NULL;
	if (l->cte == ML_CTE_BASE64 || l->cte == ML_CTE_QP) {
		char *d = malloc(l->len + 1);
		if (!d)
			return mh_err(s->err, s->errlen, MH_ENOMEM, "out of memory decoding a part");
		*outlen = l->cte == ML_CTE_BASE64 ? mh_mail_base64_decode(l->p, l->len, d)
						  : mh_mail_qp_decode(l->p, l->len, d);
		d[*outlen] = '\0';
		*out = d;
		*p = d;
		return 0;
	}
	if (l->cte == ML_CTE_UNKNOWN)
		ml_warn(s->m, "unknown Content-Transfer-Encoding (read as is)");
	*p = l->p;
	*outlen = l->len;
	return 0;
}

/* ---- RFC 3464 ---- */

/* Strips "type;" (rfc822;, dns;, smtp;) from a value: an atom before ';'. */
static const char *ml_strip_type(const char *v)
{
	const char *semi = strchr(v, ';');
	const char *q;

	if (!semi)
		return v;
	for (q = v; q < semi; q++)
		if (*q == ' ' || *q == '@' || *q == '<' || *q == '"')
			return v;
	for (q = semi + 1; *q == ' ' || *q == '\t'; q++)
		;
	return q;
}

static void ml_dsn_value(const struct ml_field *f, char *dst, size_t size, bool addr)
{
	char tmp[ML_UNFOLD_MAX], clean[ML_UNFOLD_MAX];
	const char *v;

	mh_mail_clean(tmp, mh_mail_unfold(f->val, f->vlen, tmp, sizeof(tmp)), clean, sizeof(clean),
		      false);
	v = ml_strip_type(clean);
	if (addr && *v == '<') {
		char a[ML_UNFOLD_MAX];
		mh_mail_first_addr(v, strlen(v), a, sizeof(a));
		mh_utf8_clean(dst, size, a, strlen(a)); /* cut at a character */
		return;
	}
	mh_utf8_clean(dst, size, v, strlen(v));
}

/* The first token of a value, lowercased or not. */
static void ml_first_token(const struct ml_field *f, char *dst, size_t size, bool lower)
{
	char tmp[256];
	size_t n = mh_mail_unfold(f->val, f->vlen, tmp, sizeof(tmp)), i = 0, o = 0;

	while (i < n && (tmp[i] == ' ' || tmp[i] == '\t'))
		i++;
	while (i < n && tmp[i] != ' ' && tmp[i] != '\t' && tmp[i] != '(' && tmp[i] != ';' &&
	       (unsigned char)tmp[i] > 32 && (unsigned char)tmp[i] < 127 && o + 1 < size)
		dst[o++] = tmp[i++];
	dst[o] = '\0';
	if (lower)
		ml_lower(dst);
}

static void ml_dsn_parse(struct ml_state *s, const char *p, size_t len)
{
	struct mh_mail *m = s->m;
	struct ml_cur c = {p, p + len, 1};
	struct ml_field f;
	enum ml_next r;
	unsigned block = 0, fields = 0, extra = 0;
	struct mh_dsn_rcpt *rc = NULL;

	for (;;) {
		r = ml_field_next(&c, &f);
		if (r == ML_END)
			break;
		if (r == ML_BLANK) {
			if (fields > 0) {
				block++;
				fields = 0;
				rc = NULL;
			}
			continue;
		}
		if (r == ML_NOTHDR) {
			/* not a field: skip the line (junk inside the status part) */
			const char *next;
			ml_eol(c.p, c.end, &next);
			c.p = next;
			c.line++;
			ml_warn(m, "a line of the delivery-status part is not a field");
			continue;
		}
		if (r != ML_FIELD) {
			ml_warn(m, "the delivery-status part is damaged (%s)",
				r == ML_BINARY ? "NUL bytes" : "a field longer than 1 MiB");
			break;
		}
		fields++;
		if (block == 0) {
			if (ml_name_is(&f, "Reporting-MTA"))
				ml_dsn_value(&f, m->reporting_mta, sizeof(m->reporting_mta), false);
			else if (ml_name_is(&f, "Original-Envelope-Id"))
				ml_dsn_value(&f, m->original_envelope_id,
					     sizeof(m->original_envelope_id), false);
			else if (ml_name_is(&f, "Arrival-Date"))
				ml_dsn_value(&f, m->arrival_date, sizeof(m->arrival_date), false);
			else if (ml_name_is(&f, "Final-Recipient") || ml_name_is(&f, "Action") ||
				 ml_name_is(&f, "Status")) {
				/* no per-message block at all: this already is a recipient */
				block = 1;
			}
			if (block == 0)
				continue;
		}
		if (!rc) {
			if (m->nrcpts >= MH_DSN_RCPTS_MAX) {
				extra++;
				continue;
			}
			rc = &m->rcpts[m->nrcpts++];
		}
		if (ml_name_is(&f, "Final-Recipient"))
			ml_dsn_value(&f, rc->final_recipient, sizeof(rc->final_recipient), true);
		else if (ml_name_is(&f, "Original-Recipient"))
			ml_dsn_value(&f, rc->original_recipient, sizeof(rc->original_recipient), true);
		else if (ml_name_is(&f, "Action"))
			ml_first_token(&f, rc->action, sizeof(rc->action), true);
		else if (ml_name_is(&f, "Status"))
			ml_first_token(&f, rc->status, sizeof(rc->status), false);
		else if (ml_name_is(&f, "Diagnostic-Code"))
			ml_dsn_value(&f, rc->diagnostic, sizeof(rc->diagnostic), false);
		else if (ml_name_is(&f, "Remote-MTA"))
			ml_dsn_value(&f, rc->remote_mta, sizeof(rc->remote_mta), false);
		else if (ml_name_is(&f, "Will-Retry-Until"))
			ml_dsn_value(&f, rc->will_retry_until, sizeof(rc->will_retry_until), false);
	}
	if (extra)
		ml_warn(m, "more than %d recipients in the DSN: the rest not kept", MH_DSN_RCPTS_MAX);
	if (m->nrcpts == 0)
		ml_warn(m, "the delivery-status part has no recipient block");
}

/* The returned message's headers. */
static void ml_returned_parse(struct ml_state *s, const char *p, size_t len)
{
	struct mh_mail *m = s->m;
	struct ml_cur c = {p, p + len, 1};
	struct ml_field f;
	enum ml_next r;
	char mid_tag[MH_TAG_MAX + 1] = "";

	/* an mbox From line in front of the returned message (some MTAs) */
	if (len > 5 && !memcmp(p, "From ", 5)) {
		const char *next;
		ml_eol(p, p + len, &next);
		c.p = next;
	}
	while ((r = ml_field_next(&c, &f)) == ML_FIELD) {
		if (ml_name_is(&f, "Message-ID")) {
			if (!m->returned_message_id[0])
				ml_addr_value(&f, m->returned_message_id,
					      sizeof(m->returned_message_id));
		} else if (ml_name_is(&f, "From")) {
			if (!m->returned_from[0])
				ml_addr_value(&f, m->returned_from, sizeof(m->returned_from));
		} else if (ml_name_is(&f, "To")) {
			if (!m->returned_to[0])
				ml_addr_value(&f, m->returned_to, sizeof(m->returned_to));
		} else if (ml_name_is(&f, "X-Mailhole-Tag")) {
			if (!s->returned_tag[0])
				mh_tag_find(f.val, f.vlen, s->returned_tag, sizeof(s->returned_tag));
		}
	}
	if (r == ML_BINARY || r == ML_TOOLONG)
		ml_warn(m, "the returned headers are damaged");
	if (!s->returned_tag[0] &&
	    mh_tag_find(m->returned_message_id, strlen(m->returned_message_id), mid_tag,
			sizeof(mid_tag)))
		mh_strlcpy(s->returned_tag, mid_tag, sizeof(s->returned_tag));
	if (!s->returned_tag[0]) {
		/* the envelope sender (Return-Path) of the returned message, VERP */
		mh_strlcpy(mid_tag, "", sizeof(mid_tag));
		if (ml_verp_tag(m->returned_from, mid_tag, sizeof(mid_tag)))
			mh_strlcpy(s->returned_tag, mid_tag, sizeof(s->returned_tag));
	}
}

/* ---- non-standard bounces ---- */

static bool ml_bounce_sender(const struct ml_state *s)
{
	const struct mh_mail *m = s->m;
	char local[128];
	const char *at = strchr(m->from, '@');
	size_t n = at ? (size_t)(at - m->from) : strlen(m->from);

	if (m->has_return_path && !m->return_path[0])
		return true;
	if (n >= sizeof(local))
		n = sizeof(local) - 1;
	memcpy(local, m->from, n);
	local[n] = '\0';
	if (!strcasecmp(local, "MAILER-DAEMON") || !strcasecmp(local, "postmaster") ||
	    !strcasecmp(local, "mailer_daemon") || !strcasecmp(local, "Mail Delivery System"))
		return true;
	return strcasestr(s->from_raw, "Mail Delivery") != NULL;
}

static const char *const ml_failure_words[] = {
    "undeliver",          "could not be delivered", "couldn't be delivered",
    "delivery failed",    "delivery has failed",    "failed permanently",
    "unable to deliver",  "not be delivered",       "returned to sender",
    "user unknown",       "delivery to the following", "permanent error",
    "delivery status notification", "delayed", "has not yet been delivered",
    "will be retried",    "still being retried",    "temporary failure",
    "failure notice",     "mailbox unavailable",    "no such user",
    "rejected",           "not delivered",
};

/* The first letters of those words: a quick no for every other byte. */
static const bool ml_failure_first[256] = {
    ['u'] = true, ['c'] = true, ['d'] = true, ['f'] = true, ['n'] = true, ['r'] = true,
    ['p'] = true, ['h'] = true, ['w'] = true, ['s'] = true, ['t'] = true, ['m'] = true,
};

/*
 * Whether p[0..n) holds a failure / delay word (case-insensitive). One pass
 * over a lowercased copy comparing each word where its first letter stands:
 * strcasestr per word was a third of the reader's time.
 */
static bool ml_failure_line(const char *p, size_t n)
{
	char tmp[512];
	size_t i, k;

	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	for (i = 0; i < n; i++)
		tmp[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] - 'A' + 'a') : p[i];
	for (i = 0; i < n; i++) {
		if (!ml_failure_first[(unsigned char)tmp[i]] || (i > 0 && tmp[i - 1] >= 'a' &&
								 tmp[i - 1] <= 'z'))
			continue; /* words start at a word boundary */
		for (k = 0; k < sizeof(ml_failure_words) / sizeof(ml_failure_words[0]); k++) {
			const char *w = ml_failure_words[k];
			size_t wl;
			if (tmp[i] != w[0])
				continue;
			wl = strlen(w);
			if (wl <= n - i && memcmp(tmp + i, w, wl) == 0)
				return true;
		}
	}
	return false;
}

/* A line that says nothing: blank, decoration, the MIME preamble notice. */
static bool ml_boilerplate(const char *p, size_t n)
{
	size_t i, alnum = 0;

	for (i = 0; i < n; i++)
		if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9'))
			alnum++;
	if (alnum < 3)
		return true;
	if (n >= 9 && (!strncasecmp(p, "This is a MIME", 14 <= n ? 14 : n) ||
		       !strncasecmp(p, "This is a multi-part", 20 <= n ? 20 : n)))
		return true;
	return false;
}

/*
 * The excerpt: from the first line holding a failure word (else the first
 * meaningful line), up to 4 meaningful lines, joined by spaces.
 */
static bool ml_excerpt(struct mh_mail *m, const char *text, size_t len, const char *charset)
{
	const char *p = text, *end = text + len, *next, *e, *start = NULL;
	const char *first = NULL;
	char buf[MH_MAIL_TEXT_MAX * 2];
	size_t o = 0;
	unsigned lines = 0, scanned = 0;
	bool failure = false;

	for (p = text; p < end && scanned < 200; p = next, scanned++) {
		const char *n2, *e2;
		char win[512];
		size_t w;
		e = ml_rtrim_cr(p, ml_eol(p, end, &next));
		if (ml_boilerplate(p, (size_t)(e - p)))
			continue;
		if (!first)
			first = p;
		/* the line and the next one: a phrase may be wrapped */
		w = (size_t)(e - p) < sizeof(win) / 2 ? (size_t)(e - p) : sizeof(win) / 2;
		memcpy(win, p, w);
		if (next < end) {
			size_t w2;
			e2 = ml_rtrim_cr(next, ml_eol(next, end, &n2));
			w2 = (size_t)(e2 - next) < sizeof(win) / 2 - 1 ? (size_t)(e2 - next)
									: sizeof(win) / 2 - 1;
			win[w++] = ' ';
			memcpy(win + w, next, w2);
			w += w2;
		}
		if (ml_failure_line(win, w)) {
			start = p;
			failure = true;
			break;
		}
	}
	if (!start)
		start = first;
	if (!start)
		return false;
	for (p = start; p < end && lines < 4 && o + 2 < sizeof(buf); p = next) {
		e = ml_rtrim_cr(p, ml_eol(p, end, &next));
		if (ml_boilerplate(p, (size_t)(e - p))) {
			if (lines > 0 && e == p)
				break; /* a blank line ends the paragraph */
			continue;
		}
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (o > 0)
			buf[o++] = ' ';
		while (p < e && o + 1 < sizeof(buf))
			buf[o++] = *p++;
		lines++;
	}
	buf[o] = '\0';
	mh_mail_clean_charset(buf, o, charset, m->excerpt, sizeof(m->excerpt));
	return failure;
}

/* An enhanced status code ("5.1.1") in the text, for a bounce's recipient. */
static bool ml_text_status(const char *p, size_t len, char *dst, size_t size)
{
	size_t i;

	for (i = 0; i + 5 <= len; i++) {
		size_t j = i + 2, a = 0, b = 0;
		if ((p[i] != '4' && p[i] != '5') || p[i + 1] != '.')
			continue;
		if (i > 0 && ((p[i - 1] >= '0' && p[i - 1] <= '9') || p[i - 1] == '.'))
			continue;
		while (j < len && p[j] >= '0' && p[j] <= '9' && a < 3) {
			j++;
			a++;
		}
		if (a == 0 || j >= len || p[j] != '.')
			continue;
		j++;
		while (j < len && p[j] >= '0' && p[j] <= '9' && b < 3) {
			j++;
			b++;
		}
		if (b == 0 || (j < len && ((p[j] >= '0' && p[j] <= '9') || p[j] == '.')))
			continue;
		if (j - i + 1 > size)
			return false;
		memcpy(dst, p + i, j - i);
		dst[j - i] = '\0';
		return true;
	}
	return false;
}

/*
 * DSN-like fields written into a bounce's text ("Status: 5.1.1",
 * "Final-Recipient: ..."): the per-message ones into m, the others into
 * the first recipient.
 */
static void ml_bounce_fields(struct mh_mail *m, const char *p, size_t len)
{
	struct ml_cur c = {p, p + len, 1};
	struct ml_field f;
	struct mh_dsn_rcpt *rc = &m->rcpts[0];
	bool any;

	while (c.p < c.end) {
		enum ml_next r = ml_field_next(&c, &f);
		if (r == ML_FIELD) {
			if (ml_name_is(&f, "Reporting-MTA") && !m->reporting_mta[0])
				ml_dsn_value(&f, m->reporting_mta, sizeof(m->reporting_mta), false);
			else if (ml_name_is(&f, "Original-Envelope-Id") && !m->original_envelope_id[0])
				ml_dsn_value(&f, m->original_envelope_id,
					     sizeof(m->original_envelope_id), false);
			else if (ml_name_is(&f, "Final-Recipient") && !rc->final_recipient[0])
				ml_dsn_value(&f, rc->final_recipient, sizeof(rc->final_recipient), true);
			else if (ml_name_is(&f, "Action") && !rc->action[0])
				ml_first_token(&f, rc->action, sizeof(rc->action), true);
			else if (ml_name_is(&f, "Status") && !rc->status[0])
				ml_first_token(&f, rc->status, sizeof(rc->status), false);
			else if (ml_name_is(&f, "Diagnostic-Code") && !rc->diagnostic[0])
				ml_dsn_value(&f, rc->diagnostic, sizeof(rc->diagnostic), false);
			else if (ml_name_is(&f, "Remote-MTA") && !rc->remote_mta[0])
				ml_dsn_value(&f, rc->remote_mta, sizeof(rc->remote_mta), false);
			continue;
		}
		if (r == ML_BLANK)
			continue;
		if (r == ML_END)
			break;
		/* not a field (or damaged): the next line */
		{
			const char *next;
			ml_eol(c.p, c.end, &next);
			c.p = next;
			c.line++;
		}
	}
	any = rc->final_recipient[0] || rc->action[0] || rc->status[0] || rc->diagnostic[0];
	if (any && m->nrcpts == 0)
		m->nrcpts = 1;
	if (rc->action[0] && strcmp(rc->action, "failed") && strcmp(rc->action, "delayed") &&
	    strcmp(rc->action, "delivered") && strcmp(rc->action, "relayed") &&
	    strcmp(rc->action, "expanded"))
		rc->action[0] = '\0';
}

/*
 * The "<rcpt@domain>: reason" paragraph that Postfix, qmail and many
 * gateways write in a text bounce, and Sendmail's transcript line
 * "<rcpt@domain>... reason": the recipient and the reason (indented
 * continuation lines joined). With want set, only that recipient's line
 * (case-insensitive); the address goes to addr when addr is not NULL.
 */
static bool ml_angle_rcpt_line(const char *p, size_t len, const char *want, char *addr,
			       size_t addrsize, char *diag, size_t diagsize)
{
	const char *end = p + len, *next, *e;

	for (; p < end; p = next) {
		const char *gt, *at, *q;
		char buf[MH_MAIL_TEXT_MAX * 2];
		size_t o = 0, skip;

		e = ml_rtrim_cr(p, ml_eol(p, end, &next));
		if (e - p < 5 || *p != '<')
			continue;
		gt = memchr(p, '>', (size_t)(e - p));
		if (!gt || gt + 1 >= e)
			continue;
		if (gt[1] == ':')
			skip = 2;
		else if (e - gt >= 4 && !memcmp(gt + 1, "...", 3))
			skip = 4;
		else
			continue;
		at = memchr(p, '@', (size_t)(gt - p));
		if (!at || (size_t)(gt - p - 1) >= MH_MAIL_ADDR_MAX)
			continue;
		if (want && (strlen(want) != (size_t)(gt - p - 1) ||
			     strncasecmp(p + 1, want, (size_t)(gt - p - 1)) != 0))
			continue;
		if (addr)
			mh_mail_clean(p + 1, (size_t)(gt - p - 1), addr, addrsize, false);
		for (q = gt + skip; q < e && o + 1 < sizeof(buf); q++)
			buf[o++] = *q;
		/* continuation: the indented lines that follow */
		while (next < end && (*next == ' ' || *next == '\t')) {
			const char *n2;
			e = ml_rtrim_cr(next, ml_eol(next, end, &n2));
			if (o + 1 < sizeof(buf))
				buf[o++] = ' ';
			for (q = next; q < e && o + 1 < sizeof(buf); q++)
				buf[o++] = *q;
			next = n2;
		}
		mh_mail_clean(buf, o, diag, diagsize, false);
		return true;
	}
	return false;
}

static size_t ml_indent(const char *p, const char *e)
{
	size_t n = 0;

	while (p + n < e && (p[n] == ' ' || p[n] == '\t'))
		n++;
	return n;
}

/*
 * Exim's way (and many others'): the recipient alone on an indented line,
 * the reason on the more indented lines below it:
 *     root@down-x.lab.test
 *       retry timeout exceeded
 * With want set, the line must hold that address (bare or in <>); without,
 * the first such block is taken, and its address written to addr. The
 * reason goes into diag. true when found.
 */
static bool ml_text_rcpt_block(const char *text, size_t len, const char *want, char *addr,
			       size_t addrsize, char *diag, size_t diagsize)
{
	const char *p = text, *end = text + len, *next, *e;

	for (; p < end; p = next) {
		const char *a, *b, *n2, *e2;
		size_t ind, wl, o = 0;
		char buf[MH_MAIL_TEXT_MAX * 2];

		e = ml_rtrim_cr(p, ml_eol(p, end, &next));
		ind = ml_indent(p, e);
		if (ind == 0 || next >= end)
			continue;
		a = p + ind;
		b = e;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b - a >= 2 && *a == '<' && b[-1] == '>') {
			a++;
			b--;
		}
		if (b <= a || memchr(a, ' ', (size_t)(b - a)) || !memchr(a, '@', (size_t)(b - a)))
			continue;
		if (want) {
			wl = strlen(want);
			if ((size_t)(b - a) != wl || strncasecmp(a, want, wl) != 0)
				continue;
		}
		e2 = ml_rtrim_cr(next, ml_eol(next, end, &n2));
		if (ml_indent(next, e2) <= ind || ml_indent(next, e2) == (size_t)(e2 - next))
			continue;
		if (addr)
			mh_mail_clean(a, (size_t)(b - a), addr, addrsize, false);
		while (next < end) {
			e2 = ml_rtrim_cr(next, ml_eol(next, end, &n2));
			if (ml_indent(next, e2) <= ind || ml_indent(next, e2) == (size_t)(e2 - next))
				break;
			if (o > 0 && o + 1 < sizeof(buf))
				buf[o++] = ' ';
			for (const char *q = next; q < e2 && o + 1 < sizeof(buf); q++)
				buf[o++] = *q;
			next = n2;
		}
		mh_mail_clean(buf, o, diag, diagsize, false);
		return true;
	}
	return false;
}

/* ---- the tag ---- */

static void ml_tag_set(struct mh_mail *m, const char *tag, const char *source)
{
	if (m->tag[0] || !tag[0])
		return;
	mh_strlcpy(m->tag, tag, sizeof(m->tag));
	mh_strlcpy(m->tag_source, source, sizeof(m->tag_source));
}

static void ml_find_verp(struct ml_state *s, const struct ml_top *t)
{
	const char *cands[3] = {s->m->to, s->m->delivered_to, t->x_original_to};
	unsigned i;

	for (i = 0; i < 3 && !s->verp_tag[0]; i++)
		ml_verp_tag(cands[i], s->verp_tag, sizeof(s->verp_tag));
}

/* ---- the entry point ---- */

int mh_mail_parse(const char *buf, size_t len, struct mh_mail *out, char *err, size_t errlen)
{
	struct ml_state s;
	struct ml_top t;
	struct ml_cur c;
	struct ml_field f;
	enum ml_next r;
	unsigned nfields = 0;
	int rc = 0;
	char *dec = NULL;
	const char *body;
	size_t bodylen;

	if (!out)
		return mh_err(err, errlen, MH_EINVAL, "no result buffer");
	memset(out, 0, sizeof(*out));
	if (!buf || len == 0)
		return mh_err(err, errlen, MH_EINVAL, "empty message");
	if (len > MH_MAIL_MAX)
		return mh_err(err, errlen, MH_ELIMIT, "message of %zu bytes, larger than %u", len,
			      MH_MAIL_MAX);
	memset(&s, 0, sizeof(s));
	memset(&t, 0, sizeof(t));
	s.m = out;
	s.err = err;
	s.errlen = errlen;
	c.p = buf;
	c.end = buf + len;
	c.line = 1;
	/* the mbox "From " line of a stored message */
	if (len >= 5 && !memcmp(buf, "From ", 5)) {
		const char *next;
		ml_eol(buf, c.end, &next);
		c.p = next;
		c.line = 2;
	}
	for (;;) {
		r = ml_field_next(&c, &f);
		if (r == ML_FIELD) {
			nfields++;
			ml_top_field(&s, &t, &f);
			continue;
		}
		if (r == ML_TOOLONG)
			return mh_err(err, errlen, MH_ELIMIT,
				      "line %u: header field longer than 1 MiB", f.line);
		if (r == ML_BINARY)
			return mh_err(err, errlen, MH_EINVAL,
				      "line %u: NUL bytes in the header section (binary, not a message)",
				      f.line);
		if (nfields == 0) {
			if (r == ML_BLANK)
				return mh_err(err, errlen, MH_EINVAL,
					      "line %u: no header section (a blank line first)",
					      c.line - 1);
			if (r == ML_END)
				return mh_err(err, errlen, MH_EINVAL, "no header section (no field)");
			return mh_err(err, errlen, MH_EINVAL,
				      "line %u: not a header field (not a message)", c.line);
		}
		if (r == ML_NOTHDR)
			ml_warn(out, "line %u: the header section ends without a blank line", c.line);
		break;
	}
	body = c.p;
	bodylen = (size_t)(c.end - c.p);

	/* the MIME tree */
	if (!t.has_ct)
		mh_strlcpy(t.ct.type, "text/plain", sizeof(t.ct.type));
	if (!strcmp(t.ct.type, "multipart/report") &&
	    (!strcmp(t.ct.report_type, "delivery-status") ||
	     !strcmp(t.ct.report_type, "global-delivery-status")))
		s.report = true;
	ml_walk(&s, body, bodylen, &t.ct, t.cte, 0);

	if (s.status.found) {
		const char *p;
		size_t n;
		out->kind = MH_MAIL_DSN;
		if (!s.report)
			ml_warn(out, "a delivery-status part outside multipart/report; "
				     "report-type=delivery-status");
		rc = ml_leaf_decode(&s, &s.status, &dec, &n, &p);
		if (rc < 0)
			return rc;
		ml_dsn_parse(&s, p, n);
		free(dec);
		dec = NULL;
	} else if (s.report) {
		out->kind = MH_MAIL_DSN;
		ml_warn(out, "multipart/report without a message/delivery-status part");
	}
	if (s.returned.found && out->kind == MH_MAIL_DSN) {
		const char *p;
		size_t n;
		rc = ml_leaf_decode(&s, &s.returned, &dec, &n, &p);
		if (rc < 0)
			return rc;
		ml_returned_parse(&s, p, n);
		free(dec);
		dec = NULL;
	}
	if (s.text.found) {
		const char *p;
		size_t n;
		bool failure;
		rc = ml_leaf_decode(&s, &s.text, &dec, &n, &p);
		if (rc < 0)
			return rc;
		failure = ml_excerpt(out, p, n, s.text.charset);
		if (out->kind == MH_MAIL_DSN) {
			/* a recipient without Diagnostic-Code: the reason the text gives */
			for (unsigned i = 0; i < out->nrcpts; i++) {
				struct mh_dsn_rcpt *rr = &out->rcpts[i];
				if (!rr->diagnostic[0] && rr->final_recipient[0] &&
				    !ml_angle_rcpt_line(p, n, rr->final_recipient, NULL, 0,
							rr->diagnostic, sizeof(rr->diagnostic)))
					ml_text_rcpt_block(p, n, rr->final_recipient, NULL, 0,
							   rr->diagnostic, sizeof(rr->diagnostic));
			}
		}
		if (out->kind == MH_MAIL_MESSAGE && failure && ml_bounce_sender(&s)) {
			out->kind = MH_MAIL_BOUNCE;
			if (s.returned.found) {
				const char *rp;
				size_t rn;
				char *rdec = NULL;
				rc = ml_leaf_decode(&s, &s.returned, &rdec, &rn, &rp);
				if (rc < 0) {
					free(dec);
					return rc;
				}
				ml_returned_parse(&s, rp, rn);
				free(rdec);
			}
			ml_bounce_fields(out, p, n);
			if (!out->rcpts[0].final_recipient[0] &&
			    ml_angle_rcpt_line(p, n, NULL, out->rcpts[0].final_recipient,
					       sizeof(out->rcpts[0].final_recipient),
					       out->rcpts[0].diagnostic,
					       sizeof(out->rcpts[0].diagnostic)) &&
			    out->nrcpts == 0)
				out->nrcpts = 1;
			if (!out->rcpts[0].final_recipient[0] &&
			    ml_text_rcpt_block(p, n, NULL, out->rcpts[0].final_recipient,
					       sizeof(out->rcpts[0].final_recipient),
					       out->rcpts[0].diagnostic,
					       sizeof(out->rcpts[0].diagnostic)) &&
			    out->nrcpts == 0)
				out->nrcpts = 1;
			if (out->nrcpts == 0 || !out->rcpts[0].status[0]) {
				char st[16];
				if (ml_text_status(p, n, st, sizeof(st))) {
					if (out->nrcpts == 0)
						out->nrcpts = 1;
					mh_strlcpy(out->rcpts[0].status, st,
						   sizeof(out->rcpts[0].status));
				}
			}
			if (out->nrcpts > 0 && !out->rcpts[0].action[0]) {
				/* a warning says so; a permanent status never is one */
				bool delay = out->rcpts[0].status[0] != '5' &&
					     (strcasestr(out->excerpt, "delay") ||
					      strcasestr(out->excerpt, "retried") ||
					      strcasestr(out->excerpt, "not yet been delivered") ||
					      strcasestr(out->excerpt, "warning"));
				mh_strlcpy(out->rcpts[0].action, delay ? "delayed" : "failed",
					   sizeof(out->rcpts[0].action));
			}
		}
		free(dec);
		dec = NULL;
	}
	if (out->kind == MH_MAIL_MESSAGE)
		out->excerpt[0] = '\0';

	/* the tag, in the order mail.h gives */
	ml_find_verp(&s, &t);
	if (out->kind == MH_MAIL_MESSAGE) {
		char mt[MH_TAG_MAX + 1] = "";
		ml_tag_set(out, t.xtag, "header");
		if (mh_tag_find(out->message_id, strlen(out->message_id), mt, sizeof(mt)))
			ml_tag_set(out, mt, "message-id");
		ml_tag_set(out, s.verp_tag, "verp");
	} else {
		char et[MH_TAG_MAX + 1] = "", tt[MH_TAG_MAX + 1] = "";
		if (mh_tag_find(out->original_envelope_id, strlen(out->original_envelope_id), et,
				sizeof(et)))
			ml_tag_set(out, et, "envid");
		ml_tag_set(out, s.returned_tag, "returned-headers");
		ml_tag_set(out, s.verp_tag, "verp");
		if (!out->tag[0] && mh_tag_find(body, bodylen, tt, sizeof(tt)))
			ml_tag_set(out, tt, "text");
	}
	return 0;
}

const char *mh_mail_kind_name(enum mh_mail_kind k)
{
	switch (k) {
	case MH_MAIL_MESSAGE:
		return "message";
	case MH_MAIL_DSN:
		return "dsn";
	case MH_MAIL_BOUNCE:
		return "bounce";
	}
	return "message";
}
