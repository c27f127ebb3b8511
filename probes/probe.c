/*
 * probe.c -- probe state and verdicts (include/mailhole/probe.h).
 *
 * The state file is JSON through json-c; each probe's fields are listed
 * once in a table (probe_fields) that both the reader and the writer walk,
 * so a field can never be written and forgotten on reading.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/mail.h"
#include "mailhole/probe.h"
#include "mailhole/report.h"

static const char *const verdict_names[] = {
	[MH_VERDICT_PENDING] = "pending",       [MH_VERDICT_DELIVERED] = "delivered",
	[MH_VERDICT_DELIVERED_HQ] = "delivered-host-qualified",
	[MH_VERDICT_BOUNCED] = "bounced",       [MH_VERDICT_DELAYED] = "delayed",
	[MH_VERDICT_BLACK_HOLE] = "black-hole",
};

const char *mh_verdict_name(enum mh_verdict v)
{
	return (unsigned)v <= MH_VERDICT_BLACK_HOLE ? verdict_names[v] : "pending";
}

int mh_verdict_parse(const char *s)
{
	for (int i = 0; i <= MH_VERDICT_BLACK_HOLE; i++)
		if (s && !strcmp(s, verdict_names[i]))
			return i;
	return -1;
}

bool mh_verdict_terminal(enum mh_verdict v)
{
	return v == MH_VERDICT_DELIVERED || v == MH_VERDICT_DELIVERED_HQ ||
	       v == MH_VERDICT_BOUNCED;
}

void mh_probe_state_init(struct mh_probe_state *s)
{
	memset(s, 0, sizeof(*s));
}

void mh_probe_state_free(struct mh_probe_state *s)
{
	free(s->v);
	free(s->ix_tag);
	free(s->ix_key);
	memset(s, 0, sizeof(*s));
}

/* FNV-1a, optionally case-folded; parts separated by a 0 byte. */
static uint64_t hash_add(uint64_t h, const char *str, bool fold)
{
	for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
		unsigned char x = *c;
		if (fold && x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		h = (h ^ x) * 1099511628211ull;
	}
	return (h ^ 0) * 1099511628211ull;
}

static uint64_t tag_hash(const char *tag)
{
	return hash_add(14695981039346656037ull, tag, false);
}

static uint64_t key_hash(const char *kind, const char *variant, const char *rcpt)
{
	return hash_add(hash_add(hash_add(14695981039346656037ull, kind, false), variant, false),
			rcpt, true);
}

static bool key_equal(const struct mh_probe *p, const char *kind, const char *variant,
		      const char *rcpt)
{
	return !strcmp(p->kind, kind) && !strcmp(p->variant, variant) && !strcasecmp(p->rcpt, rcpt);
}

/* Puts v[i] into both indexes (the key only if no probe holds it yet). */
static void index_put(struct mh_probe_state *s, size_t i)
{
	const struct mh_probe *p = &s->v[i];
	size_t mask = s->ix_cap - 1, k;

	for (k = tag_hash(p->tag) & mask; s->ix_tag[k]; k = (k + 1) & mask)
		;
	s->ix_tag[k] = i + 1;
	for (k = key_hash(p->kind, p->variant, p->rcpt) & mask; s->ix_key[k]; k = (k + 1) & mask)
		if (key_equal(&s->v[s->ix_key[k] - 1], p->kind, p->variant, p->rcpt))
			return;
	s->ix_key[k] = i + 1;
}

/* Room for n probes at a load of at most one half. 0 or MH_ENOMEM. */
static int index_reserve(struct mh_probe_state *s, size_t n)
{
	size_t cap = 64, *t, *k;

	if (n * 2 <= s->ix_cap)
		return 0;
	while (cap < n * 2)
		cap *= 2;
	t = calloc(cap, sizeof(*t));
	k = calloc(cap, sizeof(*k));
	if (!t || !k) {
		free(t);
		free(k);
		return MH_ENOMEM;
	}
	free(s->ix_tag);
	free(s->ix_key);
	s->ix_tag = t;
	s->ix_key = k;
	s->ix_cap = cap;
	for (size_t i = 0; i < s->n; i++)
		index_put(s, i);
	return 0;
}

void mh_probe_new_tag(char *buf, size_t size)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[16];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* no getrandom: time and pid, still unique enough per run */
			uint64_t x = mh_now_ns() ^ ((uint64_t)getpid() << 32);
			for (size_t i = got; i < sizeof(r); i++, x = x * 6364136223846793005ull + 1)
				r[i] = (unsigned char)(x >> 33);
			break;
		}
		got += (size_t)n;
	}
	if (size < 19) {
		if (size)
			buf[0] = '\0';
		return;
	}
	buf[0] = 'm';
	buf[1] = 'h';
	for (size_t i = 0; i < sizeof(r); i++)
		buf[2 + i] = al[r[i] % 36];
	buf[18] = '\0';
}

int mh_probe_verp(const char *collector, const char *tag, char *out, size_t size)
{
	const char *at = collector ? strrchr(collector, '@') : NULL;
	int n;

	if (!at || at == collector || !at[1])
		return MH_EINVAL;
	n = snprintf(out, size, "%.*s+%s%s", (int)(at - collector), collector, tag, at);
	return n < 0 || (size_t)n >= size ? MH_ELIMIT : 0;
}

struct mh_probe *mh_probe_find(struct mh_probe_state *s, const char *kind, const char *variant,
			       const char *rcpt)
{
	size_t mask = s->ix_cap - 1;

	variant = variant ? variant : "";
	if (!s->ix_cap || !kind || !rcpt)
		return NULL;
	for (size_t k = key_hash(kind, variant, rcpt) & mask; s->ix_key[k]; k = (k + 1) & mask)
		if (key_equal(&s->v[s->ix_key[k] - 1], kind, variant, rcpt))
			return &s->v[s->ix_key[k] - 1];
	return NULL;
}

struct mh_probe *mh_probe_by_tag(struct mh_probe_state *s, const char *tag)
{
	size_t mask = s->ix_cap - 1;

	if (!s->ix_cap || !tag || !tag[0])
		return NULL;
	for (size_t k = tag_hash(tag) & mask; s->ix_tag[k]; k = (k + 1) & mask)
		if (!strcmp(s->v[s->ix_tag[k] - 1].tag, tag))
			return &s->v[s->ix_tag[k] - 1];
	return NULL;
}

struct mh_probe *mh_probe_add_tagged(struct mh_probe_state *s, const char *kind,
				     const char *variant, const char *host, const char *rcpt,
				     const char *mail_from, const char *tag)
{
	struct mh_probe *p;

	if (!tag || !mh_tag_valid(tag, strlen(tag)) || mh_probe_by_tag(s, tag))
		return NULL;
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct mh_probe *nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		s->v = nv;
		s->cap = nc;
	}
	if (index_reserve(s, s->n + 1) < 0)
		return NULL;
	p = &s->v[s->n];
	memset(p, 0, sizeof(*p));
	mh_strlcpy(p->kind, kind, sizeof(p->kind));
	mh_strlcpy(p->variant, variant ? variant : "", sizeof(p->variant));
	mh_strlcpy(p->host, host ? host : "", sizeof(p->host));
	mh_strlcpy(p->rcpt, rcpt, sizeof(p->rcpt));
	mh_strlcpy(p->mail_from, mail_from ? mail_from : "", sizeof(p->mail_from));
	mh_strlcpy(p->tag, tag, sizeof(p->tag));
	index_put(s, s->n++);
	return p;
}

struct mh_probe *mh_probe_add(struct mh_probe_state *s, const char *kind, const char *variant,
			      const char *host, const char *rcpt, const char *mail_from)
{
	char tag[MH_TAG_MAX + 1];

	do
		mh_probe_new_tag(tag, sizeof(tag));
	while (mh_probe_by_tag(s, tag)); /* 36^16: never, in practice */
	return mh_probe_add_tagged(s, kind, variant, host, rcpt, mail_from, tag);
}

static void set_verdict(struct mh_probe *p, enum mh_verdict v, const char *source, int64_t now)
{
	if (p->verdict != v)
		p->decided = now;
	p->verdict = v;
	mh_strlcpy(p->ev_source, source, sizeof(p->ev_source));
}

void mh_probe_submitted(struct mh_probe *p, int code, const char *reply, bool dsn, int64_t now)
{
	p->submit_code = code;
	mh_strlcpy(p->submit_reply, reply ? reply : "", sizeof(p->submit_reply));
	p->dsn = dsn;
	p->sent = now;
	if (code >= 500 && code < 600) {
		set_verdict(p, MH_VERDICT_BOUNCED, "smtp", now);
		mh_strlcpy(p->ev_diagnostic, p->submit_reply, sizeof(p->ev_diagnostic));
		snprintf(p->ev_status, sizeof(p->ev_status), "%d", code);
	}
}

bool mh_diagnostic_is_connect_failure(const char *t)
{
	static const char *const pats[] = {
		"connection refused", "refused to talk", "connection timed out",
		"timed out while", "timeout", "no route to host", "network is unreachable",
		"host is unreachable", "connection reset", "lost connection with",
		"connect to ", "host not found", "deferred: connection",
	};
	if (!t || !*t)
		return false;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
		if (strcasestr(t, pats[i]))
			return true;
	return false;
}

bool mh_diagnostic_is_host_answer(const char *t)
{
	const char *p = t;

	if (!t || !*t)
		return false;
	if (strcasestr(t, " said:") || strcasestr(t, "error from remote mail server"))
		return true; /* Postfix "host X[ip] said: 451 ...", Exim's SMTP error */
	while (*p == ' ' || *p == '\t')
		p++;
	if (!strncasecmp(p, "smtp;", 5)) /* Sendmail "SMTP; 451 4.7.1 ..." */
		for (p += 5; *p == ' '; p++)
			;
	return p[0] == '4' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	       (p[3] == ' ' || p[3] == '-');
}

/* The per-recipient block that is about this probe (by recipient), or the first. */
static const struct mh_dsn_rcpt *dsn_block(const struct mh_mail *m, const struct mh_probe *p)
{
	for (unsigned i = 0; i < m->nrcpts; i++)
		if (!strcasecmp(m->rcpts[i].final_recipient, p->rcpt) ||
		    !strcasecmp(m->rcpts[i].original_recipient, p->rcpt))
			return &m->rcpts[i];
	return m->nrcpts ? &m->rcpts[0] : NULL;
}

struct mh_probe *mh_probe_apply_mail(struct mh_probe_state *s, const struct mh_mail *m,
				     const char *key, int64_t now)
{
	struct mh_probe *p = mh_probe_by_tag(s, m->tag);
	const char *domain = s->domain[0] ? s->domain : NULL;

	if (!p)
		return NULL;
	p->nmessages++;
	if (m->kind == MH_MAIL_MESSAGE) {
		/* the probe itself arrived */
		enum mh_sender_class env, from;
		const char *host = p->host[0] ? p->host : NULL;
		env = m->has_return_path ? mh_sender_classify(m->return_path, domain, host)
					 : MH_SENDER_UNKNOWN;
		from = m->from[0] ? mh_sender_classify(m->from, domain, host) : MH_SENDER_UNKNOWN;
		if (mh_verdict_terminal(p->verdict) && p->verdict != MH_VERDICT_BOUNCED &&
		    !strcmp(p->ev_source, "message"))
			return p; /* a second copy */
		mh_strlcpy(p->ev_key, key ? key : "", sizeof(p->ev_key));
		p->ev_time = now;
		mh_strlcpy(p->ev_return_path, m->return_path, sizeof(p->ev_return_path));
		mh_strlcpy(p->ev_from, m->from, sizeof(p->ev_from));
		mh_strlcpy(p->ev_sender_class, mh_sender_class_name(env),
			   sizeof(p->ev_sender_class));
		mh_strlcpy(p->ev_from_class, mh_sender_class_name(from), sizeof(p->ev_from_class));
		p->ev_nreceived = m->nreceived;
		if (m->nreceived) {
			unsigned last = m->nreceived < MH_MAIL_RECEIVED_MAX ? m->nreceived
									    : MH_MAIL_RECEIVED_MAX;
			mh_strlcpy(p->ev_received, m->received[last - 1], sizeof(p->ev_received));
		}
		if (env == MH_SENDER_HOST_QUALIFIED || from == MH_SENDER_HOST_QUALIFIED ||
		    env == MH_SENDER_UNQUALIFIED)
			set_verdict(p, MH_VERDICT_DELIVERED_HQ, "message", now);
		else
			set_verdict(p, MH_VERDICT_DELIVERED, "message", now);
		return p;
	}
	/* a DSN or a bounce */
	const struct mh_dsn_rcpt *b = dsn_block(m, p);
	const char *action = b ? b->action : "";
	enum mh_verdict v;

	if (m->kind == MH_MAIL_DSN && b &&
	    (!strcmp(action, "delivered") || !strcmp(action, "relayed") ||
	     !strcmp(action, "expanded")))
		v = MH_VERDICT_DELIVERED;
	else if (!strcmp(action, "delayed"))
		v = MH_VERDICT_DELAYED;
	else if (!strcmp(action, "failed") || m->kind == MH_MAIL_BOUNCE ||
		 (b && b->status[0] == '5'))
		v = MH_VERDICT_BOUNCED;
	else if (b && b->status[0] == '4')
		v = MH_VERDICT_DELAYED;
	else
		v = MH_VERDICT_BOUNCED;

	if (v == MH_VERDICT_DELAYED)
		p->ndelays++;
	/* verdicts only get firmer */
	if (mh_verdict_terminal(p->verdict))
		return p;
	mh_strlcpy(p->ev_key, key ? key : "", sizeof(p->ev_key));
	p->ev_time = now;
	mh_strlcpy(p->ev_reporting_mta, m->reporting_mta, sizeof(p->ev_reporting_mta));
	if (b) {
		mh_strlcpy(p->ev_action, b->action, sizeof(p->ev_action));
		mh_strlcpy(p->ev_status, b->status, sizeof(p->ev_status));
		mh_strlcpy(p->ev_diagnostic, b->diagnostic[0] ? b->diagnostic : m->excerpt,
			   sizeof(p->ev_diagnostic));
		mh_strlcpy(p->ev_remote_mta, b->remote_mta, sizeof(p->ev_remote_mta));
	} else {
		mh_strlcpy(p->ev_action, m->kind == MH_MAIL_BOUNCE ? "failed" : "",
			   sizeof(p->ev_action));
		mh_strlcpy(p->ev_diagnostic, m->excerpt, sizeof(p->ev_diagnostic));
	}
	/* a DSN about the probe tells nothing of the sender's form: keep what arrived */
	set_verdict(p, v, m->kind == MH_MAIL_DSN ? "dsn" : "bounce", now);
	return p;
}

unsigned mh_probe_finalize(struct mh_probe_state *s, int64_t now)
{
	unsigned changed = 0;

	if (!s->deadline || now < s->deadline)
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		struct mh_probe *p = &s->v[i];
		if (!p->sent)
			continue;
		if (p->verdict == MH_VERDICT_PENDING) {
			set_verdict(p, MH_VERDICT_BLACK_HOLE, "deadline", now);
			changed++;
		} else if (p->verdict == MH_VERDICT_DELAYED &&
			   (mh_diagnostic_is_connect_failure(p->ev_diagnostic) ||
			    !mh_diagnostic_is_host_answer(p->ev_diagnostic))) {
			/* the relay still holds it: the host takes no connection, or the
			   notice does not say the host answered (Exim's delay DSN has no
			   Diagnostic-Code at all) */
			/* keep the DSN as evidence; the deadline decided */
			p->verdict = MH_VERDICT_BLACK_HOLE;
			p->decided = now;
			changed++;
		}
	}
	return changed;
}

void mh_probe_counts(const struct mh_probe_state *s, unsigned *out)
{
	memset(out, 0, sizeof(*out) * (MH_VERDICT_BLACK_HOLE + 1));
	for (size_t i = 0; i < s->n; i++)
		out[s->v[i].verdict]++;
}

/* ---- the state file ---- */

enum ftype { F_STR, F_I64, F_INT, F_UINT, F_BOOL, F_VERDICT };
struct field {
	const char *name;
	size_t off, size;
	enum ftype type;
};
#define S(f) {#f, offsetof(struct mh_probe, f), sizeof(((struct mh_probe *)0)->f), F_STR}
#define I64(f) {#f, offsetof(struct mh_probe, f), 0, F_I64}
static const struct field probe_fields[] = {
	S(kind),
	S(variant),
	S(tag),
	S(host),
	S(rcpt),
	S(mail_from),
	I64(sent),
	{"submit_code", offsetof(struct mh_probe, submit_code), 0, F_INT},
	S(submit_reply),
	{"dsn", offsetof(struct mh_probe, dsn), 0, F_BOOL},
	{"verdict", offsetof(struct mh_probe, verdict), 0, F_VERDICT},
	I64(decided),
	S(ev_source),
	S(ev_key),
	I64(ev_time),
	S(ev_action),
	S(ev_status),
	S(ev_diagnostic),
	S(ev_reporting_mta),
	S(ev_remote_mta),
	S(ev_return_path),
	S(ev_from),
	S(ev_sender_class),
	S(ev_from_class),
	S(ev_received),
	{"ev_nreceived", offsetof(struct mh_probe, ev_nreceived), 0, F_UINT},
	{"ndelays", offsetof(struct mh_probe, ndelays), 0, F_UINT},
	{"nmessages", offsetof(struct mh_probe, nmessages), 0, F_UINT},
};
#undef S
#undef I64
#define NFIELDS (sizeof(probe_fields) / sizeof(probe_fields[0]))

static json_object *probe_to_json(const struct mh_probe *p)
{
	json_object *o = json_object_new_object();
	const char *base = (const char *)p;

	for (size_t i = 0; o && i < NFIELDS; i++) {
		const struct field *f = &probe_fields[i];
		const void *v = base + f->off;
		json_object *x = NULL;
		switch (f->type) {
		case F_STR:
			x = mh_json_string(v, strnlen(v, f->size));
			break;
		case F_I64:
			x = json_object_new_int64(*(const int64_t *)v);
			break;
		case F_INT:
			x = json_object_new_int(*(const int *)v);
			break;
		case F_UINT:
			x = json_object_new_int64(*(const unsigned *)v);
			break;
		case F_BOOL:
			x = json_object_new_boolean(*(const bool *)v);
			break;
		case F_VERDICT:
			x = json_object_new_string(mh_verdict_name(*(const enum mh_verdict *)v));
			break;
		}
		json_object_object_add(o, f->name, x);
	}
	return o;
}

static int probe_from_json(json_object *o, struct mh_probe *p, const char *path, size_t idx,
			   char *err, size_t errlen)
{
	char *base = (char *)p;

	memset(p, 0, sizeof(*p));
	if (!json_object_is_type(o, json_type_object))
		return mh_err(err, errlen, MH_EINVAL, "%s: .probes[%zu]: not an object", path, idx);
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &probe_fields[i];
		json_object *x;
		void *v = base + f->off;
		if (!json_object_object_get_ex(o, f->name, &x) || !x)
			continue;
		switch (f->type) {
		case F_STR:
			if (!json_object_is_type(x, json_type_string))
				goto bad;
			mh_strlcpy(v, json_object_get_string(x), f->size);
			break;
		case F_I64:
			if (!json_object_is_type(x, json_type_int))
				goto bad;
			*(int64_t *)v = json_object_get_int64(x);
			break;
		case F_INT:
		case F_UINT:
			if (!json_object_is_type(x, json_type_int))
				goto bad;
			if (f->type == F_INT)
				*(int *)v = json_object_get_int(x);
			else
				*(unsigned *)v = (unsigned)json_object_get_int64(x);
			break;
		case F_BOOL:
			if (!json_object_is_type(x, json_type_boolean))
				goto bad;
			*(bool *)v = json_object_get_boolean(x);
			break;
		case F_VERDICT: {
			int vd = json_object_is_type(x, json_type_string)
					 ? mh_verdict_parse(json_object_get_string(x))
					 : -1;
			if (vd < 0)
				goto bad;
			*(enum mh_verdict *)v = (enum mh_verdict)vd;
			break;
		}
		}
		continue;
bad:
		return mh_err(err, errlen, MH_EINVAL, "%s: .probes[%zu].%s: wrong type or value",
			      path, idx, f->name);
	}
	if (!mh_tag_valid(p->tag, strlen(p->tag)))
		return mh_err(err, errlen, MH_EINVAL, "%s: .probes[%zu].tag: not a mailhole tag",
			      path, idx);
	return 0;
}

#define STATE_SCHEMA "mailhole-probe-state/1"

/*
 * The journal: PATH.journal, one JSON object a line {"tag", "sent", "code",
 * "dsn", "reply"} appended (O_APPEND, one write) right after each probe is
 * handed to the relay, so that a run that dies between two state saves
 * still knows what it sent. A state save folds it in and removes it; a load
 * applies it.
 */
static void journal_path(const char *path, char *buf, size_t size)
{
	snprintf(buf, size, "%s.journal", path);
}

int mh_probe_journal_append(const char *path, const struct mh_probe *p, char *err,
			    size_t errlen)
{
	char jp[4200];
	json_object *o = json_object_new_object();
	const char *text;
	int fd, rc = 0;
	size_t len;
	char *line;

	if (!o)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	journal_path(path, jp, sizeof(jp));
	json_object_object_add(o, "tag", json_object_new_string(p->tag));
	json_object_object_add(o, "sent", json_object_new_int64(p->sent));
	json_object_object_add(o, "code", json_object_new_int(p->submit_code));
	json_object_object_add(o, "dsn", json_object_new_boolean(p->dsn));
	json_object_object_add(o, "reply", mh_json_string(p->submit_reply, strlen(p->submit_reply)));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	line = malloc(len + 2);
	if (!line) {
		json_object_put(o);
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	}
	memcpy(line, text, len);
	line[len++] = '\n';
	fd = open(jp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, len) != (ssize_t)len)
		rc = mh_err(err, errlen, MH_EIO, "%s: %s", jp, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(line);
	json_object_put(o);
	return rc;
}

/* One whole JSON value from text[0..len), or NULL. */
static json_object *parse_json(const char *text, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = NULL;

	if (!tok || len > (64u << 20))
		goto out;
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset < (int)len) {
		json_object_put(o);
		o = NULL;
	}
out:
	if (tok)
		json_tokener_free(tok);
	return o;
}

/* Applies PATH.journal (if any) to s: what was sent after the last save. */
static int journal_apply(const char *path, struct mh_probe_state *s, char *err, size_t errlen)
{
	char jp[4200], *buf = NULL;
	size_t len = 0, pos = 0;
	unsigned lineno = 0;
	struct stat st;
	int rc;

	journal_path(path, jp, sizeof(jp));
	if (stat(jp, &st) < 0 && errno == ENOENT)
		return 0;
	if ((rc = mh_read_file(jp, 64u << 20, &buf, &len, err, errlen)) < 0)
		return rc == MH_ENOMEM ? rc : MH_EINVAL;
	while (pos < len) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		json_object *o, *x;
		struct mh_probe *p;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (!nl)
			break; /* a line cut by a crash: the probe it was about is the one at risk */
		o = parse_json(l, n);
		if (!o || !json_object_object_get_ex(o, "tag", &x) ||
		    !json_object_is_type(x, json_type_string)) {
			json_object_put(o);
			free(buf);
			return mh_err(err, errlen, MH_EINVAL, "%s line %u: not a journal entry", jp,
				      lineno);
		}
		p = mh_probe_by_tag(s, json_object_get_string(x));
		if (p && !p->sent) {
			int64_t sent = json_object_object_get_ex(o, "sent", &x) ? json_object_get_int64(x)
										: 0;
			int code = json_object_object_get_ex(o, "code", &x) ? json_object_get_int(x) : 0;
			bool dsn = json_object_object_get_ex(o, "dsn", &x) && json_object_get_boolean(x);
			const char *reply = json_object_object_get_ex(o, "reply", &x) &&
							    json_object_is_type(x, json_type_string)
						    ? json_object_get_string(x)
						    : "";
			mh_probe_submitted(p, code, reply, dsn, sent > 0 ? sent : 1);
			if (code / 100 == 4)
				p->sent = 0; /* as the run itself did: try again */
		}
		json_object_put(o);
	}
	free(buf);
	return 0;
}

int mh_probe_state_save(const char *path, const struct mh_probe_state *s, char *err,
			size_t errlen)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	const char *text;
	int rc;

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	}
	json_object_object_add(o, "schema", json_object_new_string(STATE_SCHEMA));
	json_object_object_add(o, "relay", mh_json_string(s->relay, strlen(s->relay)));
	json_object_object_add(o, "collector", mh_json_string(s->collector, strlen(s->collector)));
	json_object_object_add(o, "collector_address",
			       mh_json_string(s->collector_address, strlen(s->collector_address)));
	json_object_object_add(o, "domain", mh_json_string(s->domain, strlen(s->domain)));
	json_object_object_add(o, "created", json_object_new_int64(s->created));
	json_object_object_add(o, "deadline", json_object_new_int64(s->deadline));
	json_object_object_add(o, "uidvalidity", json_object_new_int64((int64_t)s->uidvalidity));
	json_object_object_add(o, "last_uid", json_object_new_int64((int64_t)s->last_uid));
	json_object_object_add(o, "bad_messages", json_object_new_int64(s->bad_messages));
	json_object_object_add(o, "unmatched", json_object_new_int64(s->unmatched));
	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(a, probe_to_json(&s->v[i]));
	json_object_object_add(o, "probes", a);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	rc = mh_write_file_atomic(path, text, strlen(text), err, errlen);
	json_object_put(o);
	if (rc == 0) {
		char jp[4200];
		journal_path(path, jp, sizeof(jp));
		unlink(jp); /* folded in */
	}
	return rc;
}

static int get_str(json_object *o, const char *key, char *dst, size_t size, const char *path,
		   char *err, size_t errlen)
{
	json_object *x;
	if (!json_object_object_get_ex(o, key, &x) || !x)
		return 0;
	if (!json_object_is_type(x, json_type_string))
		return mh_err(err, errlen, MH_EINVAL, "%s: .%s: not a string", path, key);
	mh_strlcpy(dst, json_object_get_string(x), size);
	return 0;
}

static int get_i64(json_object *o, const char *key, int64_t *dst, const char *path, char *err,
		   size_t errlen)
{
	json_object *x;
	if (!json_object_object_get_ex(o, key, &x) || !x)
		return 0;
	if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0)
		return mh_err(err, errlen, MH_EINVAL, "%s: .%s: not a number >= 0", path, key);
	*dst = json_object_get_int64(x);
	return 0;
}

int mh_probe_state_load(const char *path, struct mh_probe_state *s, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (stat(path, &st) < 0 && errno == ENOENT)
		return 0; /* a first run (a journal needs a state: it names planned probes) */
	if ((rc = mh_read_file(path, 64u << 20, &buf, &len, err, errlen)) < 0)
		return rc == MH_ENOMEM ? rc : MH_EINVAL;
	rc = mh_probe_state_parse(buf, len, path, s, err, errlen);
	free(buf);
	if (rc == 0)
		rc = journal_apply(path, s, err, errlen);
	return rc;
}

int mh_probe_state_parse(const char *buf, size_t len, const char *path, struct mh_probe_state *s,
			 char *err, size_t errlen)
{
	json_object *o = parse_json(buf, len), *a;
	int64_t v;
	int rc = 0;

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return mh_err(err, errlen, MH_EINVAL, "%s: not a mailhole probe state (JSON)", path);
	}
	{
		json_object *sc;
		if (!json_object_object_get_ex(o, "schema", &sc) ||
		    !json_object_is_type(sc, json_type_string) ||
		    strcmp(json_object_get_string(sc), STATE_SCHEMA)) {
			json_object_put(o);
			return mh_err(err, errlen, MH_EINVAL, "%s: .schema: not \"%s\"", path,
				      STATE_SCHEMA);
		}
	}
	if ((rc = get_str(o, "relay", s->relay, sizeof(s->relay), path, err, errlen)) < 0 ||
	    (rc = get_str(o, "collector", s->collector, sizeof(s->collector), path, err,
			  errlen)) < 0 ||
	    (rc = get_str(o, "collector_address", s->collector_address,
			  sizeof(s->collector_address), path, err, errlen)) < 0 ||
	    (rc = get_str(o, "domain", s->domain, sizeof(s->domain), path, err, errlen)) < 0 ||
	    (rc = get_i64(o, "created", &s->created, path, err, errlen)) < 0 ||
	    (rc = get_i64(o, "deadline", &s->deadline, path, err, errlen)) < 0)
		goto out;
	v = 0;
	if ((rc = get_i64(o, "uidvalidity", &v, path, err, errlen)) < 0)
		goto out;
	s->uidvalidity = (uint64_t)v;
	v = 0;
	if ((rc = get_i64(o, "last_uid", &v, path, err, errlen)) < 0)
		goto out;
	s->last_uid = (uint64_t)v;
	v = 0;
	if ((rc = get_i64(o, "bad_messages", &v, path, err, errlen)) < 0)
		goto out;
	s->bad_messages = (unsigned)v;
	v = 0;
	if ((rc = get_i64(o, "unmatched", &v, path, err, errlen)) < 0)
		goto out;
	s->unmatched = (unsigned)v;
	if (json_object_object_get_ex(o, "probes", &a) && a) {
		if (!json_object_is_type(a, json_type_array)) {
			rc = mh_err(err, errlen, MH_EINVAL, "%s: .probes: not an array", path);
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct mh_probe tmp, *p;
			if ((rc = probe_from_json(json_object_array_get_idx(a, i), &tmp, path, i,
						  err, errlen)) < 0)
				goto out;
			if (mh_probe_by_tag(s, tmp.tag)) {
				rc = mh_err(err, errlen, MH_EINVAL,
					    "%s: .probes[%zu].tag: repeated", path, i);
				goto out;
			}
			p = mh_probe_add_tagged(s, tmp.kind, tmp.variant, tmp.host, tmp.rcpt,
						tmp.mail_from, tmp.tag);
			if (!p) {
				rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
				goto out;
			}
			*p = tmp; /* the same tag, kind, variant and rcpt: the index stands */
		}
	}
out:
	json_object_put(o);
	return rc;
}
