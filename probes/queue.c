/*
 * queue.c -- the relay queue readers of include/mailhole/queue.h: Postfix
 * `postqueue -j` (json-c, one object a line), Sendmail `mailq` and Exim
 * `exim -bp` (text), into one model of messages and recipients; then the
 * recipients that wait, grouped by destination domain with the class of
 * their delay reason.
 *
 * Each reader walks the listing line by line (a line is capped at
 * MH_QUEUE_LINE_MAX, a NUL byte is an error) and appends to the queue as
 * it goes, so that on a bad line the caller still holds every message read
 * before it. The text formats are column layouts for people: tokens are
 * split on blanks, and a line is recognised by its shape, never by its
 * column offsets (long queue ids push the columns right).
 */
#include "mailhole/queue.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mailhole/common.h"

const char *mh_queue_format_name(enum mh_queue_format f)
{
	switch (f) {
	case MH_QUEUE_POSTFIX_JSON:
		return "postfix-json";
	case MH_QUEUE_SENDMAIL_MAILQ:
		return "sendmail-mailq";
	case MH_QUEUE_EXIM:
		return "exim";
	case MH_QUEUE_AUTO:
		break;
	}
	return "auto";
}

int mh_queue_format_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "postfix-json"))
		return MH_QUEUE_POSTFIX_JSON;
	if (!strcmp(s, "sendmail-mailq"))
		return MH_QUEUE_SENDMAIL_MAILQ;
	if (!strcmp(s, "exim"))
		return MH_QUEUE_EXIM;
	if (!strcmp(s, "auto"))
		return MH_QUEUE_AUTO;
	return -1;
}

const char *mh_queue_reason_name(enum mh_queue_reason r)
{
	static const char *const names[MH_QREASON_COUNT] = {
	    [MH_QREASON_NONE] = "none",
	    [MH_QREASON_REFUSED] = "connection-refused",
	    [MH_QREASON_TIMEOUT] = "timed-out",
	    [MH_QREASON_NOROUTE] = "no-route",
	    [MH_QREASON_NOTFOUND] = "host-not-found",
	    [MH_QREASON_OTHER] = "other",
	    [MH_QREASON_UNKNOWN] = "unknown",
	};
	return (unsigned)r < MH_QREASON_COUNT ? names[r] : "other";
}

/* Is needle (ASCII, lower case) in s[0..len), case-insensitively? */
static bool has(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (!strncasecmp(s + i, needle, n))
			return true;
	return false;
}

enum mh_queue_reason mh_queue_classify(const char *reason, size_t len)
{
	if (!reason || !len)
		return MH_QREASON_NONE;
	/*
	 * Name service first: "Name server timeout" is a DNS failure, not a
	 * connection that timed out.
	 */
	if (has(reason, len, "not found") || has(reason, len, "name server") ||
	    has(reason, len, "lookup fail") || has(reason, len, "host unknown") ||
	    has(reason, len, "unknown host") || has(reason, len, "name or service not known") ||
	    has(reason, len, "no such host") || has(reason, len, "host map: lookup") ||
	    has(reason, len, "temporary failure in name resolution"))
		return MH_QREASON_NOTFOUND;
	if (has(reason, len, "connection refused"))
		return MH_QREASON_REFUSED;
	if (has(reason, len, "timed out") || has(reason, len, "timeout"))
		return MH_QREASON_TIMEOUT;
	if (has(reason, len, "no route to host") || has(reason, len, "network is unreachable") ||
	    has(reason, len, "host is unreachable") || has(reason, len, "no route"))
		return MH_QREASON_NOROUTE;
	return MH_QREASON_OTHER;
}

int mh_queue_reason_addr(const char *reason, size_t len, struct mh_addr *out)
{
	for (size_t i = 0; reason && i < len; i++) {
		const char *end;
		char buf[80];
		size_t n;
		if (reason[i] != '[')
			continue;
		end = memchr(reason + i + 1, ']', len - i - 1);
		if (!end)
			return MH_EINVAL;
		n = (size_t)(end - (reason + i + 1));
		if (n > 0 && n < sizeof(buf)) {
			const char *p = reason + i + 1;
			/* Sendmail and Exim write IPv6 literals as [IPv6:...] */
			if (n > 5 && !strncasecmp(p, "IPv6:", 5)) {
				p += 5;
				n -= 5;
			}
			memcpy(buf, p, n);
			buf[n] = '\0';
			if (mh_addr_parse(buf, out) == 0)
				return 0;
		}
		i = (size_t)(end - reason);
	}
	return MH_EINVAL;
}

bool mh_queue_host_under(const char *domain, const char *fleet_domain)
{
	size_t dl, fl;

	if (!domain || !fleet_domain)
		return false;
	dl = strlen(domain);
	fl = strlen(fleet_domain);
	while (fl && fleet_domain[fl - 1] == '.')
		fl--;
	while (dl && domain[dl - 1] == '.')
		dl--;
	if (!fl || dl <= fl + 1)
		return false;
	return domain[dl - fl - 1] == '.' && !strncasecmp(domain + dl - fl, fleet_domain, fl);
}

void mh_queue_lifetime_default(enum mh_queue_format f, struct mh_queue_lifetime *out)
{
	switch (f) {
	case MH_QUEUE_SENDMAIL_MAILQ:
		out->lifetime_s = 5 * 86400;
		out->lifetime_source = "sendmail default Timeout.queuereturn (5d)";
		out->warn_s = 4 * 3600;
		out->warn_source = "sendmail default Timeout.queuewarn (4h)";
		return;
	case MH_QUEUE_EXIM:
		out->lifetime_s = 4 * 86400;
		out->lifetime_source = "exim default retry rule (F,2h,15m; G,16h,1h,1.5; F,4d,6h)";
		out->warn_s = 24 * 3600;
		out->warn_source = "exim default delay_warning (24h)";
		return;
	case MH_QUEUE_POSTFIX_JSON:
	case MH_QUEUE_AUTO:
		break;
	}
	out->lifetime_s = 5 * 86400;
	out->lifetime_source = "postfix default maximal_queue_lifetime (5d)";
	out->warn_s = 0;
	out->warn_source = "postfix default delay_warning_time (0: no warning)";
}

int mh_queue_postfix_time(const char *s, char unit, int64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, n;
	char u;

	if (!s)
		return MH_EINVAL;
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n || !isdigit((unsigned char)s[0]))
		return MH_EINVAL;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > 100000000ull)
			return MH_EINVAL;
	}
	if (i == n)
		u = unit;
	else if (i + 1 == n)
		u = (char)tolower((unsigned char)s[i]);
	else
		return MH_EINVAL;
	switch (u) {
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	case 'w':
		v *= 7 * 86400;
		break;
	default:
		return MH_EINVAL;
	}
	*out = (int64_t)v;
	return 0;
}

/* ---- the model ------------------------------------------------------------ */

static void msg_clear(struct mh_queue_msg *m)
{
	for (size_t i = 0; i < m->nrcpts; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].domain);
		free(m->rcpts[i].reason);
	}
	free(m->rcpts);
	free(m->id);
	free(m->queue);
	free(m->sender);
}

void mh_queue_free(struct mh_queue **q)
{
	if (!q || !*q)
		return;
	for (size_t i = 0; i < (*q)->nmsgs; i++)
		msg_clear(&(*q)->msgs[i]);
	free((*q)->msgs);
	free(*q);
	*q = NULL;
}

/* A bounded copy of untrusted bytes (NUL-free by construction of the readers). */
static char *dupn(const char *s, size_t n)
{
	char *d;

	if (n > MH_QUEUE_FIELD_MAX)
		n = MH_QUEUE_FIELD_MAX;
	d = malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

/* s without one pair of enclosing angle brackets. */
static void unangle(const char **s, size_t *n)
{
	if (*n >= 2 && (*s)[0] == '<' && (*s)[*n - 1] == '>') {
		(*s)++;
		*n -= 2;
	}
}

struct qparse {
	struct mh_queue *q;
	size_t cap;
	const char *name;
	unsigned line;
	char *err;
	size_t errlen;
	int64_t now;
	const char *queue_name; /* Sendmail: the queue the header named */
};

static int perr(struct qparse *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int perr(struct qparse *p, int code, const char *fmt, ...)
{
	char what[MH_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return mh_err(p->err, p->errlen, code, "%s line %u: %s", p->name, p->line, what);
}

/* A new message at the end of the queue; NULL on ENOMEM / the cap (err set). */
static struct mh_queue_msg *msg_new(struct qparse *p, int *rc)
{
	struct mh_queue *q = p->q;
	struct mh_queue_msg *m;

	if (q->nmsgs >= MH_QUEUE_MSGS_MAX) {
		*rc = perr(p, MH_ELIMIT, "more than %u messages", MH_QUEUE_MSGS_MAX);
		return NULL;
	}
	if (q->nmsgs == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 16;
		struct mh_queue_msg *nm = realloc(q->msgs, nc * sizeof(*nm));
		if (!nm) {
			*rc = mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
			return NULL;
		}
		q->msgs = nm;
		p->cap = nc;
	}
	m = &q->msgs[q->nmsgs++];
	memset(m, 0, sizeof(*m));
	m->arrival = -1;
	m->line = p->line;
	return m;
}

/* Appends a recipient (address copied, domain derived, reason copied or NULL). */
static int rcpt_add(struct qparse *p, struct mh_queue_msg *m, const char *addr, size_t alen,
                    const char *reason, size_t rlen, bool delivered)
{
	struct mh_queue_rcpt *r, *nr;
	const char *at;
	size_t dl;

	if (m->nrcpts >= MH_QUEUE_RCPTS_MAX)
		return perr(p, MH_ELIMIT, "more than %u recipients in message %s",
		            MH_QUEUE_RCPTS_MAX, m->id ? m->id : "?");
	/* capacity: 4, then doubled whenever the count reaches a power of two */
	if (m->nrcpts == 0 || (m->nrcpts >= 4 && (m->nrcpts & (m->nrcpts - 1)) == 0)) {
		size_t nc = m->nrcpts ? m->nrcpts * 2 : 4;
		nr = realloc(m->rcpts, nc * sizeof(*nr));
		if (!nr)
			return mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
		m->rcpts = nr;
	}
	r = &m->rcpts[m->nrcpts];
	memset(r, 0, sizeof(*r));
	unangle(&addr, &alen);
	r->address = dupn(addr, alen);
	at = r->address ? strrchr(r->address, '@') : NULL;
	dl = at ? strlen(at + 1) : 0;
	while (dl && at[dl] == '.')
		dl--;
	r->domain = dupn(at ? at + 1 : "", dl);
	if (r->domain)
		for (char *c = r->domain; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	if (reason && rlen)
		r->reason = dupn(reason, rlen);
	if (!r->address || !r->domain || (reason && rlen && !r->reason)) {
		free(r->address);
		free(r->domain);
		free(r->reason);
		return mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
	}
	r->why = mh_queue_classify(reason, reason ? rlen : 0);
	r->delivered = delivered;
	m->nrcpts++;
	return 0;
}

/* ---- Postfix: postqueue -j ------------------------------------------------ */

/* obj.key as a string: 1 found, 0 absent/null, MH_EINVAL wrong type (err set). */
static int jget_str(struct qparse *p, struct json_object *o, const char *key, const char *where,
                    const char **s, size_t *len)
{
	struct json_object *v;

	*s = NULL;
	*len = 0;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return perr(p, MH_EINVAL, "%s\"%s\" is not a string", where, key);
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return 1;
}

static int jget_int(struct qparse *p, struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return perr(p, MH_EINVAL, "\"%s\" is not an integer", key);
	*out = json_object_get_int64(v);
	if (*out < 0)
		return perr(p, MH_EINVAL, "\"%s\" is negative", key);
	return 1;
}

/* Removes the last message (one whose line turned out bad). */
static void drop_last(struct mh_queue *q)
{
	if (q->nmsgs)
		msg_clear(&q->msgs[--q->nmsgs]);
}

static int postfix_line(struct qparse *p, const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new_ex(32);
	struct json_object *o = NULL, *rc_arr;
	struct mh_queue_msg *m = NULL;
	const char *s;
	size_t sl;
	int64_t v;
	int rc = 0;

	if (!tok)
		return mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		rc = perr(p, MH_EINVAL, "not a JSON object (%s at byte %zu)",
		          e == json_tokener_continue ? "truncated" : json_tokener_error_desc(e),
		          json_tokener_get_parse_end(tok) + 1);
		goto out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		rc = perr(p, MH_EINVAL, "not a JSON object (postqueue -j prints one a line)");
		goto out;
	}
	if (json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok);
		while (end < len && (line[end] == ' ' || line[end] == '\t' || line[end] == '\r'))
			end++;
		if (end < len) {
			rc = perr(p, MH_EINVAL, "text after the JSON object (byte %zu)", end + 1);
			goto out;
		}
	}
	if ((rc = jget_str(p, o, "queue_id", "", &s, &sl)) < 0)
		goto out;
	if (rc == 0 || sl == 0) {
		rc = perr(p, MH_EINVAL, "no \"queue_id\"");
		goto out;
	}
	if (!(m = msg_new(p, &rc)))
		goto out;
	if (!(m->id = dupn(s, sl))) {
		rc = mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = jget_str(p, o, "queue_name", "", &s, &sl)) < 0)
		goto out;
	m->queue = dupn(s ? s : "", sl);
	if ((rc = jget_str(p, o, "sender", "", &s, &sl)) < 0)
		goto out;
	m->sender = dupn(s ? s : "", sl);
	if (!m->queue || !m->sender) {
		rc = mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = jget_int(p, o, "arrival_time", &v)) < 0)
		goto out;
	if (rc)
		m->arrival = v;
	if ((rc = jget_int(p, o, "message_size", &v)) < 0)
		goto out;
	if (rc)
		m->size = (uint64_t)v;
	rc = 0;
	if (!json_object_object_get_ex(o, "recipients", &rc_arr) || !rc_arr) {
		rc = perr(p, MH_EINVAL, "no \"recipients\" array");
		goto out;
	}
	if (!json_object_is_type(rc_arr, json_type_array)) {
		rc = perr(p, MH_EINVAL, "\"recipients\" is not an array");
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(rc_arr); i++) {
		struct json_object *r = json_object_array_get_idx(rc_arr, i);
		const char *a, *why;
		size_t al, wl;
		char where[48];
		snprintf(where, sizeof(where), "recipients[%zu]: ", i);
		if (!r || !json_object_is_type(r, json_type_object)) {
			rc = perr(p, MH_EINVAL, "recipients[%zu] is not an object", i);
			goto out;
		}
		if ((rc = jget_str(p, r, "address", where, &a, &al)) < 0)
			goto out;
		if (rc == 0) {
			rc = perr(p, MH_EINVAL, "recipients[%zu] has no \"address\"", i);
			goto out;
		}
		if ((rc = jget_str(p, r, "delay_reason", where, &why, &wl)) < 0 ||
		    (rc = rcpt_add(p, m, a, al, why, wl, false)) < 0)
			goto out;
	}
	rc = 0;
out:
	/* one line is one message: a bad line leaves no half of one behind */
	if (rc < 0 && m)
		drop_last(p->q);
	json_object_put(o);
	json_tokener_free(tok);
	return rc;
}

/* ---- Sendmail: mailq ------------------------------------------------------ */

/* The next blank-separated token of s[*pos..len) (advances *pos). */
static bool token(const char *s, size_t len, size_t *pos, const char **t, size_t *tl)
{
	size_t i = *pos;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= len)
		return false;
	*t = s + i;
	while (i < len && s[i] != ' ' && s[i] != '\t')
		i++;
	*tl = (size_t)(s + i - *t);
	*pos = i;
	return true;
}

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* s[0..n) trimmed of blanks (and a CR) at both ends. */
static const char *trim(const char *s, size_t *n)
{
	while (*n && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		(*n)--;
	}
	while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t' || s[*n - 1] == '\r'))
		(*n)--;
	return s;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);
	return n >= pl && !memcmp(s, prefix, pl);
}

static bool ends(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);
	return n >= sl && !memcmp(s + n - sl, suffix, sl);
}

/* "Tue Dec  8 04:27" (its four tokens) as UNIX time, the year from now. */
static int64_t sendmail_date(const char *const t[4], const size_t tl[4], int64_t now)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm;
	time_t tnow = (time_t)now, v;
	int mon = -1, day, hh, mm;

	if (tl[1] != 3 || tl[2] < 1 || tl[2] > 2 || tl[3] != 5 || t[3][2] != ':')
		return -1;
	for (int i = 0; i < 12; i++)
		if (!strncmp(months + 3 * i, t[1], 3))
			mon = i;
	if (mon < 0 || !all_digits(t[2], tl[2]) || !all_digits(t[3], 2) || !all_digits(t[3] + 3, 2))
		return -1;
	day = t[2][0] - '0';
	if (tl[2] == 2)
		day = day * 10 + t[2][1] - '0';
	hh = (t[3][0] - '0') * 10 + t[3][1] - '0';
	mm = (t[3][3] - '0') * 10 + t[3][4] - '0';
	if (day < 1 || day > 31 || hh > 23 || mm > 59)
		return -1;
	localtime_r(&tnow, &tm);
	tm.tm_mon = mon;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = 0;
	tm.tm_isdst = -1;
	v = mktime(&tm);
	/* no year in the listing: a date more than a day ahead is last year's */
	if (v != (time_t)-1 && (int64_t)v > now + 86400) {
		tm.tm_year--;
		tm.tm_isdst = -1;
		v = mktime(&tm);
	}
	return v == (time_t)-1 ? -1 : (int64_t)v;
}

struct sm_state {
	struct mh_queue_msg *cur;
	const char *reason; /* of cur: the "(...)" line, in the input buffer */
	size_t rlen;
	bool msp_section;
};

static int sendmail_line(struct qparse *p, struct sm_state *st, const char *line, size_t len)
{
	size_t n = len, pos = 0;
	const char *t = trim(line, &n);
	const char *tok[8];
	size_t tl[8];
	struct mh_queue_msg *m;
	int rc = 0;

	if (!n)
		return 0;
	if (starts(t, n, "MSP Queue status")) {
		st->msp_section = true;
		p->q->client_queue = true;
		st->cur = NULL;
		return 0;
	}
	if (starts(t, n, "MTA Queue status")) {
		st->msp_section = false;
		st->cur = NULL;
		return 0;
	}
	if (starts(t, n, "-----Q-ID-----") || starts(t, n, "Total requests:") ||
	    starts(t, n, "Total Requests:"))
		return 0;
	/* a quarantined entry's reason ("  QUARANTINE: ..."): not a recipient */
	if (st->cur && (line[0] == ' ' || line[0] == '\t') && starts(t, n, "QUARANTINE:"))
		return 0;
	/* the queue folder: "/var/spool/mqueue (4 requests)", "... is empty" */
	if (t[0] == '/' &&
	    (ends(t, n, " request)") || ends(t, n, " requests)") || ends(t, n, " is empty"))) {
		const char *sp = memchr(t, ' ', n), *base = t;
		size_t bl = sp ? (size_t)(sp - t) : n;
		for (size_t i = 0; i < bl; i++)
			if (t[i] == '/' && i + 1 < bl)
				base = t + i + 1;
		bl = (size_t)(t + bl - base);
		p->queue_name = NULL;
		st->cur = NULL;
		if (bl >= 12 && !memcmp(base, "clientmqueue", 12))
			p->q->client_queue = true;
		/* remembered by its kind, not its path: the path is the relay's business */
		p->queue_name = st->msp_section || (bl >= 12 && !memcmp(base, "clientmqueue", 12))
		                    ? "clientmqueue"
		                    : "mqueue";
		return 0;
	}
	if (line[0] != ' ' && line[0] != '\t') {
		/* "ID[*X-] SIZE Www Mmm dd hh:mm SENDER" */
		int k = 0;
		const char *sender;
		size_t sl;
		while (k < 7 && token(t, n, &pos, &tok[k], &tl[k]))
			k++;
		if (k < 7 || !all_digits(tok[1], tl[1]) || tl[1] > 18) {
			if (starts(t, n, "Mail queue is empty") || starts(t, n, "-Queue ID-"))
				return perr(p, MH_EINVAL,
				            "Postfix's text listing (postqueue -p / mailq): give "
				            "mailhole the output of postqueue -j");
			return perr(p, MH_EINVAL,
			            "not a queue entry (\"ID SIZE DATE SENDER\" expected)");
		}
		m = msg_new(p, &rc);
		if (!m)
			return rc;
		while (tl[0] > 1 && strchr("*X-", tok[0][tl[0] - 1]))
			tl[0]--;
		m->id = dupn(tok[0], tl[0]);
		m->size = strtoull(tok[1], NULL, 10);
		m->arrival = sendmail_date(tok + 2, tl + 2, p->now);
		if (m->arrival < 0)
			return perr(p, MH_EINVAL, "bad queue time \"%.*s %.*s %.*s %.*s\"",
			            (int)(tl[2] > 8 ? 8 : tl[2]), tok[2],
			            (int)(tl[3] > 8 ? 8 : tl[3]), tok[3],
			            (int)(tl[4] > 8 ? 8 : tl[4]), tok[4],
			            (int)(tl[5] > 8 ? 8 : tl[5]), tok[5]);
		/* the sender is the rest of the line */
		sender = tok[6];
		sl = (size_t)(t + n - sender);
		sender = trim(sender, &sl);
		unangle(&sender, &sl);
		m->sender = dupn(sender, sl);
		{
			const char *qn = p->queue_name
			                     ? p->queue_name
			                     : (st->msp_section ? "clientmqueue" : "mqueue");
			m->queue = dupn(qn, strlen(qn));
		}
		if (!m->id || !m->sender || !m->queue)
			return mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
		if (st->msp_section)
			p->q->client_queue = true;
		st->cur = m;
		st->reason = NULL;
		st->rlen = 0;
		return 0;
	}
	if (!st->cur)
		return perr(p, MH_EINVAL, "a recipient or status line before any queue entry");
	if (t[0] == '(' && t[n - 1] == ')') {
		/* the status of the entry: "(Deferred: Connection refused by host-a.)" */
		const char *r = t + 1;
		size_t rl = n - 2;
		r = trim(r, &rl);
		if (st->cur->nrcpts == 0 && !st->reason) {
			st->reason = r;
			st->rlen = rl;
		}
		return 0;
	}
	/* a recipient, possibly followed by "(...)" details in verbose listings */
	{
		const char *a;
		size_t al;
		pos = 0;
		if (!token(t, n, &pos, &a, &al))
			return 0;
		return rcpt_add(p, st->cur, a, al, st->reason, st->rlen, false);
	}
}

/* ---- Exim: exim -bp ------------------------------------------------------- */

/* Exim's age "25m", "2h", "3d", " 0m" in seconds; -1 when not one. */
static int64_t exim_age(const char *s, size_t n)
{
	int64_t v = 0;

	if (n < 2 || n > 12 || !all_digits(s, n - 1))
		return -1;
	for (size_t i = 0; i + 1 < n; i++)
		v = v * 10 + (s[i] - '0');
	switch (s[n - 1]) {
	case 's':
		return v;
	case 'm':
		return v * 60;
	case 'h':
		return v * 3600;
	case 'd':
		return v * 86400;
	case 'w':
		return v * 7 * 86400;
	}
	return -1;
}

/* "316", "2.9K", "1.2M", "3G" in bytes; false when not a size. */
static bool exim_size(const char *s, size_t n, uint64_t *out)
{
	double v = 0, scale = 1, frac = 0.1;
	bool dot = false, digit = false;
	size_t i = 0;

	for (; i < n; i++) {
		if (isdigit((unsigned char)s[i])) {
			digit = true;
			if (dot) {
				v += frac * (s[i] - '0');
				frac /= 10;
			} else if (v < 1e15) {
				v = v * 10 + (s[i] - '0');
			}
		} else if (s[i] == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (!digit)
		return false;
	if (i + 1 == n) {
		switch (s[i]) {
		case 'K':
			scale = 1024;
			break;
		case 'M':
			scale = 1024.0 * 1024;
			break;
		case 'G':
			scale = 1024.0 * 1024 * 1024;
			break;
		default:
			return false;
		}
	} else if (i != n) {
		return false;
	}
	*out = (uint64_t)(v * scale);
	return true;
}

/* An Exim message id: letters, digits and '-' (4.96: 6-6-2; 4.97+: longer). */
static bool exim_id(const char *s, size_t n)
{
	unsigned dashes = 0;

	if (n < 16 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			dashes++;
		else if (!isalnum((unsigned char)s[i]))
			return false;
	}
	return dashes == 2;
}

/* Does the line look like an Exim message line ("AGE SIZE ID <sender>")? */
static bool exim_message_line(const char *t, size_t n)
{
	const char *a, *b, *c, *d;
	size_t al, bl, cl, dl, pos = 0;
	uint64_t sz;

	return token(t, n, &pos, &a, &al) && token(t, n, &pos, &b, &bl) &&
	       token(t, n, &pos, &c, &cl) && token(t, n, &pos, &d, &dl) && exim_age(a, al) >= 0 &&
	       exim_size(b, bl, &sz) && exim_id(c, cl) && d[0] == '<';
}

static int exim_line(struct qparse *p, struct mh_queue_msg **cur, const char *line, size_t len)
{
	size_t n = len, pos = 0;
	const char *t = trim(line, &n);
	int rc = 0;

	if (!n) {
		*cur = NULL;
		return 0;
	}
	/*
	 * Exim right-aligns the age (" 0m   340 ID <sender>"): a message line
	 * is known by its shape; recipients are indented further.
	 */
	if (exim_message_line(t, n)) {
		const char *a, *b, *c, *d;
		size_t al, bl, cl, dl;
		struct mh_queue_msg *m;
		int64_t age;
		token(t, n, &pos, &a, &al);
		token(t, n, &pos, &b, &bl);
		token(t, n, &pos, &c, &cl);
		token(t, n, &pos, &d, &dl);
		if (!(m = msg_new(p, &rc)))
			return rc;
		age = exim_age(a, al);
		m->arrival = p->now - age;
		exim_size(b, bl, &m->size);
		m->id = dupn(c, cl);
		/* the sender runs to its '>' ("<>" is the null sender) */
		{
			const char *gt = memchr(d, '>', (size_t)(t + n - d));
			size_t sl = gt ? (size_t)(gt - d + 1) : dl;
			const char *s = d;
			unangle(&s, &sl);
			m->sender = dupn(s, sl);
		}
		m->queue = dupn(has(t, n, "*** frozen ***") ? "frozen" : "input",
		                has(t, n, "*** frozen ***") ? 6 : 5);
		if (!m->id || !m->sender || !m->queue)
			return mh_err(p->err, p->errlen, MH_ENOMEM, "out of memory");
		*cur = m;
		return 0;
	}
	if (line[0] != ' ' && line[0] != '\t')
		return perr(p, MH_EINVAL, "not a queue entry (\"AGE SIZE ID <SENDER>\" expected)");
	if (!*cur)
		return perr(p, MH_EINVAL, "a recipient line before any queue entry");
	{
		bool delivered = false;
		const char *a;
		size_t al;
		if (n > 2 && t[0] == 'D' && (t[1] == ' ' || t[1] == '\t')) {
			delivered = true;
			t += 2;
			n -= 2;
		} else if (n > 3 && t[0] == '+' && t[1] == 'D' && (t[2] == ' ' || t[2] == '\t')) {
			delivered = true;
			t += 3;
			n -= 3;
		}
		if (!token(t, n, &pos, &a, &al))
			return 0;
		rc = rcpt_add(p, *cur, a, al, NULL, 0, delivered);
		if (rc == 0 && !delivered)
			(*cur)->rcpts[(*cur)->nrcpts - 1].why = MH_QREASON_UNKNOWN;
		return rc;
	}
}

/*
 * Sendmail shows one status per message, about the first destination that
 * failed ("Deferred: Connection refused by host-a.lab.test."). A recipient
 * at another domain of the same message that the status does not name only
 * waits: its class is MH_QREASON_UNKNOWN, not the other host's.
 */
static void sendmail_fixup(struct mh_queue *q)
{
	for (size_t i = 0; i < q->nmsgs; i++) {
		struct mh_queue_msg *m = &q->msgs[i];
		for (size_t k = 0; k < m->nrcpts; k++) {
			struct mh_queue_rcpt *r = &m->rcpts[k];
			bool other = false;
			if (!r->reason || !r->domain[0] ||
			    has(r->reason, strlen(r->reason), r->domain))
				continue;
			for (size_t j = 0; j < m->nrcpts && !other; j++)
				other = m->rcpts[j].domain[0] &&
				        has(r->reason, strlen(r->reason), m->rcpts[j].domain);
			if (other)
				r->why = MH_QREASON_UNKNOWN;
		}
	}
}

/* ---- detection and the line loop ----------------------------------------- */

enum mh_queue_format mh_queue_detect(const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		const char *t;
		pos += n + (nl ? 1 : 0);
		t = trim(line, &n);
		if (!n)
			continue;
		if (t[0] == '{')
			return MH_QUEUE_POSTFIX_JSON;
		if (starts(t, n, "MSP Queue status") || starts(t, n, "MTA Queue status") ||
		    starts(t, n, "-----Q-ID-----") ||
		    (t[0] == '/' && (ends(t, n, " request)") || ends(t, n, " requests)") ||
		                     ends(t, n, " is empty"))))
			return MH_QUEUE_SENDMAIL_MAILQ;
		if (exim_message_line(t, n))
			return MH_QUEUE_EXIM;
		return MH_QUEUE_AUTO;
	}
	return MH_QUEUE_POSTFIX_JSON;
}

int mh_queue_parse(const char *buf, size_t len, enum mh_queue_format fmt, const char *name,
                   int64_t now, struct mh_queue **out, char *err, size_t errlen)
{
	struct qparse p = {.name = name, .err = err, .errlen = errlen, .now = now};
	struct sm_state sm = {0};
	struct mh_queue_msg *ex_cur = NULL;
	size_t pos = 0;
	int rc = 0;

	*out = NULL;
	if (!p.name || !strcmp(p.name, "-"))
		p.name = "stdin";
	p.q = calloc(1, sizeof(*p.q));
	if (!p.q)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	if (fmt == MH_QUEUE_AUTO) {
		fmt = mh_queue_detect(buf, len);
		p.q->detected = true;
		if (fmt == MH_QUEUE_AUTO) {
			size_t n = 0, skip = 0;
			while (skip < len && (buf[skip] == '\n' || buf[skip] == ' ' ||
			                      buf[skip] == '\t' || buf[skip] == '\r'))
				if (buf[skip++] == '\n')
					p.line++;
			while (skip + n < len && buf[skip + n] != '\n')
				n++;
			p.line++;
			free(p.q);
			if (starts(buf + skip, n, "Mail queue is empty") ||
			    starts(buf + skip, n, "-Queue ID-"))
				return perr(&p, MH_EINVAL,
				            "Postfix's text listing (postqueue -p / mailq): give "
				            "mailhole the output of postqueue -j");
			return perr(&p, MH_EINVAL,
			            "not a queue listing mailhole knows (postqueue -j, Sendmail "
			            "mailq, exim -bp); name it with --format");
		}
	}
	p.q->format = fmt;
	*out = p.q;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		p.line++;
		p.q->lines = p.line;
		if (n > MH_QUEUE_LINE_MAX) {
			rc = perr(&p, MH_ELIMIT, "line longer than %d bytes", MH_QUEUE_LINE_MAX);
			break;
		}
		if (memchr(line, '\0', n)) {
			rc = perr(&p, MH_EINVAL, "a NUL byte (not a text listing)");
			break;
		}
		if (fmt == MH_QUEUE_POSTFIX_JSON) {
			size_t tn = n;
			trim(line, &tn);
			if (tn)
				rc = postfix_line(&p, line, n);
		} else if (fmt == MH_QUEUE_SENDMAIL_MAILQ) {
			rc = sendmail_line(&p, &sm, line, n);
		} else {
			rc = exim_line(&p, &ex_cur, line, n);
		}
		if (rc < 0) {
			/* a text entry whose own line was bad is not kept half-read */
			struct mh_queue_msg *last = p.q->nmsgs ? &p.q->msgs[p.q->nmsgs - 1] : NULL;
			if (last && (!last->id || !last->queue || !last->sender))
				drop_last(p.q);
			break;
		}
	}
	if (fmt == MH_QUEUE_SENDMAIL_MAILQ)
		sendmail_fixup(p.q);
	return rc < 0 ? rc : 0;
}

/* ---- grouping --------------------------------------------------------------- */

void mh_queue_dests_free(struct mh_queue_dest **d, size_t n)
{
	if (!d || !*d)
		return;
	for (size_t i = 0; i < n; i++) {
		free((*d)[i].domain);
		free((*d)[i].reason);
	}
	free(*d);
	*d = NULL;
}

static int dest_cmp(const void *a, const void *b)
{
	const struct mh_queue_dest *x = a, *y = b;

	if (x->recipients != y->recipients)
		return x->recipients > y->recipients ? -1 : 1;
	return strcmp(x->domain, y->domain);
}

static bool waiting(const struct mh_queue_rcpt *r)
{
	return !r->delivered && r->why != MH_QREASON_NONE;
}

int mh_queue_group(const struct mh_queue *q, struct mh_queue_dest **out, size_t *n)
{
	struct mh_queue_dest *d = NULL;
	size_t nd = 0, cap = 0;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < q->nmsgs; i++) {
		const struct mh_queue_msg *m = &q->msgs[i];
		for (size_t k = 0; k < m->nrcpts; k++) {
			const struct mh_queue_rcpt *r = &m->rcpts[k];
			struct mh_queue_dest *e = NULL;
			bool seen = false;
			if (!waiting(r))
				continue;
			for (size_t j = 0; j < nd && !e; j++)
				if (!strcmp(d[j].domain, r->domain))
					e = &d[j];
			if (!e) {
				if (nd == cap) {
					size_t nc = cap ? cap * 2 : 8;
					struct mh_queue_dest *nn = realloc(d, nc * sizeof(*nn));
					if (!nn)
						goto nomem;
					d = nn;
					cap = nc;
				}
				e = &d[nd];
				memset(e, 0, sizeof(*e));
				e->oldest = -1;
				e->domain = strdup(r->domain);
				if (!e->domain)
					goto nomem;
				nd++;
			}
			/* one message counts once per destination */
			for (size_t j = 0; j < k && !seen; j++)
				seen =
				    waiting(&m->rcpts[j]) && !strcmp(m->rcpts[j].domain, r->domain);
			if (!seen)
				e->messages++;
			e->recipients++;
			e->by_reason[r->why]++;
			if (r->reason && !e->have_addr &&
			    mh_queue_reason_addr(r->reason, strlen(r->reason), &e->addr) == 0)
				e->have_addr = true;
			if (m->arrival >= 0 && (e->oldest < 0 || m->arrival < e->oldest)) {
				e->oldest = m->arrival;
				if (r->reason) {
					free(e->reason);
					e->reason = strdup(r->reason);
					if (!e->reason)
						goto nomem;
				}
			} else if (!e->reason && r->reason) {
				e->reason = strdup(r->reason);
				if (!e->reason)
					goto nomem;
			}
		}
	}
	for (size_t j = 0; j < nd; j++) {
		unsigned best = 0;
		d[j].why = MH_QREASON_NONE;
		for (int c = MH_QREASON_REFUSED; c < MH_QREASON_COUNT; c++)
			if (d[j].by_reason[c] > best) {
				best = d[j].by_reason[c];
				d[j].why = (enum mh_queue_reason)c;
			}
	}
	if (nd > 1)
		qsort(d, nd, sizeof(*d), dest_cmp);
	*out = d;
	*n = nd;
	return 0;
nomem:
	mh_queue_dests_free(&d, nd);
	return MH_ENOMEM;
}
