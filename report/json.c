/*
 * json.c -- the JSON document (schema "mailhole/1", CONTRACT.md) and the
 * JSONL stream of host records, both through json-c.
 *
 * The document writer keeps the host records as json-c objects (hosts with
 * an open port: O(findings), not O(targets)) and writes the whole document
 * at close, atomically, so an interrupted run still leaves a valid file
 * marked "complete": false. The JSONL writer prints each host on its own
 * line as soon as it is finished and flushes, so a consumer can follow it.
 */
#include "mailhole/report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/common.h"

#include "mailhole/local.h"
#include "mailhole/probe.h"
#include "mailhole/rules.h"

struct json_object *mh_json_string(const char *s, size_t len)
{
	/* worst case: every byte becomes U+FFFD (3 bytes) */
	size_t cap = len * 3 + 1;
	char stackbuf[1024];
	char *buf = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
	struct json_object *o;

	if (!buf)
		return NULL;
	size_t n = mh_utf8_clean(buf, cap, s, len);
	o = json_object_new_string_len(buf, (int)n);
	if (buf != stackbuf)
		free(buf);
	return o;
}

static struct json_object *jstr(const char *s)
{
	return s ? mh_json_string(s, strlen(s)) : NULL;
}

/* A double with a fixed number of decimals in the output. */
static struct json_object *jms(double v)
{
	char buf[32];

	if (v < 0)
		return NULL;
	snprintf(buf, sizeof(buf), "%.3f", v);
	return json_object_new_double_s(v, buf);
}

/* "tls": null when STARTTLS was not tried; the facts or {"error": ...}. */
static struct json_object *tls_to_json(const struct mh_smtp_result *r)
{
	const struct mh_tls_facts *f = &r->tls;
	struct json_object *o, *c, *sans;
	char err[MH_SMTP_DETAIL_MAX + 64];

	if (!r->tls_attempted)
		return NULL;
	o = json_object_new_object();
	if (r->tls_error && r->tls_detail[0])
		snprintf(err, sizeof(err), "%s: %s", r->tls_error, r->tls_detail);
	else
		snprintf(err, sizeof(err), "%s", r->tls_error ? r->tls_error : "");
	json_object_object_add(o, "version", r->tls_done && f->version[0] ? jstr(f->version) : NULL);
	json_object_object_add(o, "cipher", r->tls_done && f->cipher[0] ? jstr(f->cipher) : NULL);
	json_object_object_add(o, "error", r->tls_error ? jstr(err) : NULL);
	json_object_object_add(o, "implicit", json_object_new_boolean(r->tls_implicit));
	if (!r->tls_done || !f->have_cert) {
		json_object_object_add(o, "cert", NULL);
		return o;
	}
	c = json_object_new_object();
	sans = json_object_new_array();
	json_object_object_add(c, "subject", jstr(f->subject));
	json_object_object_add(c, "issuer", jstr(f->issuer));
	for (unsigned i = 0; i < f->nsans && i < MH_TLS_SANS_MAX; i++)
		json_object_array_add(sans, jstr(f->sans[i]));
	json_object_object_add(c, "sans", sans);
	json_object_object_add(c, "not_before", jstr(f->not_before));
	json_object_object_add(c, "not_after", jstr(f->not_after));
	json_object_object_add(c, "days_left", json_object_new_int64(f->days_left));
	json_object_object_add(c, "self_signed", json_object_new_boolean(f->self_signed));
	json_object_object_add(c, "verified", json_object_new_boolean(f->verified));
	json_object_object_add(c, "verify_error",
			       f->verify_checked && !f->verified ? jstr(f->verify_error) : NULL);
	json_object_object_add(c, "name_match", json_object_new_boolean(f->name_match));
	json_object_object_add(c, "sha256", jstr(f->sha256));
	json_object_object_add(o, "cert", c);
	return o;
}

/* "tag: detail", or "tag", or NULL. */
static struct json_object *jerr(const char *tag, const char *detail)
{
	char buf[MH_SMTP_DETAIL_MAX + 64];

	if (!tag)
		return NULL;
	if (detail && detail[0])
		snprintf(buf, sizeof(buf), "%s: %s", tag, detail);
	else
		snprintf(buf, sizeof(buf), "%s", tag);
	return jstr(buf);
}

static struct json_object *jcode(int code)
{
	return code ? json_object_new_int(code) : NULL;
}

/* "vrfy_check": the questions and answers behind "vrfy" / "expn"; null when not asked. */
static struct json_object *vrfy_to_json(const struct mh_smtp_result *r)
{
	static const char *const verbs[MH_VRFY_Q_COUNT] = { "VRFY", "VRFY", "EXPN", "EXPN" };
	struct json_object *o, *a;

	if (!r->vrfy_tested)
		return NULL;
	o = json_object_new_object();
	a = json_object_new_array();
	json_object_object_add(o, "tls", json_object_new_boolean(r->vrfy_tls));
	json_object_object_add(o, "bogus", jstr(r->vrfy_bogus));
	for (unsigned q = 0; q < MH_VRFY_Q_COUNT; q++) {
		struct json_object *e;
		char cmd[48];
		if (!r->vrfy_codes[q])
			continue;
		e = json_object_new_object();
		snprintf(cmd, sizeof(cmd), "%s %s", verbs[q], q % 2 ? r->vrfy_bogus : "root");
		json_object_object_add(e, "command", jstr(cmd));
		json_object_object_add(e, "code", json_object_new_int(r->vrfy_codes[q]));
		json_object_object_add(e, "reply", jstr(r->vrfy_replies[q]));
		json_object_array_add(a, e);
	}
	json_object_object_add(o, "answers", a);
	json_object_object_add(o, "error", jerr(r->vrfy_error, r->vrfy_detail));
	return o;
}

/* "relay": the open-relay test; null when not run. */
static struct json_object *relay_to_json(const struct mh_smtp_result *r)
{
	struct json_object *o, *acc, *pairs, *first = NULL, *data = NULL;

	if (!r->relay_tested)
		return NULL;
	o = json_object_new_object();
	acc = json_object_new_array();
	pairs = json_object_new_array();
	for (unsigned i = 0; i < r->relay_nvariants && i < MH_RELAY_VARIANTS_MAX; i++) {
		struct json_object *p = json_object_new_object();
		json_object_object_add(p, "name", jstr(r->relay_names[i]));
		json_object_object_add(p, "mail", jcode(r->relay_mail_codes[i]));
		json_object_object_add(p, "rcpt", jcode(r->relay_rcpt_codes[i]));
		json_object_array_add(pairs, p);
		if (r->relay_accepted & (1u << i))
			json_object_array_add(acc, jstr(r->relay_names[i]));
	}
	if (r->relay_accepted) {
		first = json_object_new_object();
		json_object_object_add(first, "mail_from", jstr(r->relay_mail_from));
		json_object_object_add(first, "rcpt_to", jstr(r->relay_rcpt_to));
		json_object_object_add(first, "reply", jstr(r->relay_reply));
	}
	if (r->relay_data_tried) {
		data = json_object_new_object();
		json_object_object_add(data, "pair",
				       r->relay_data_variant < MH_RELAY_VARIANTS_MAX
					       ? jstr(r->relay_names[r->relay_data_variant])
					       : NULL);
		json_object_object_add(data, "tag", jstr(r->relay_tag));
		json_object_object_add(data, "code", jcode(r->relay_data_code));
		json_object_object_add(data, "end_code", jcode(r->relay_data_end_code));
		json_object_object_add(data, "reply",
				       r->relay_data_reply[0] ? jstr(r->relay_data_reply) : NULL);
		json_object_object_add(data, "accepted",
				       json_object_new_boolean(r->relay_data_end_code / 100 == 2));
	}
	json_object_object_add(o, "domain", jstr(r->relay_domain));
	json_object_object_add(o, "tls", json_object_new_boolean(r->relay_tls));
	json_object_object_add(o, "variants", json_object_new_int((int)r->relay_nvariants));
	json_object_object_add(o, "tested", json_object_new_int((int)r->relay_ntried));
	json_object_object_add(o, "accepted", acc);
	json_object_object_add(o, "pairs", pairs);
	json_object_object_add(o, "first_accepted", first);
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "error", jerr(r->relay_error, r->relay_detail));
	return o;
}

static struct json_object *smtp_to_json(const struct mh_smtp_result *r, const struct mh_mta *mta)
{
	struct json_object *o = json_object_new_object();
	struct json_object *m = json_object_new_object();

	json_object_object_add(o, "banner", r->code || r->banner[0] ? jstr(r->banner) : NULL);
	json_object_object_add(o, "code", r->code ? json_object_new_int(r->code) : NULL);
	json_object_object_add(m, "product", jstr(mta->product));
	json_object_object_add(m, "version", mta->version[0] ? jstr(mta->version) : NULL);
	json_object_object_add(o, "mta", m);
	if (r->ehlo_code) {
		struct json_object *e = json_object_new_object();
		struct json_object *caps = json_object_new_array();
		json_object_object_add(e, "code", json_object_new_int(r->ehlo_code));
		json_object_object_add(e, "helo", json_object_new_boolean(r->helo));
		json_object_object_add(e, "name", jstr(r->ehlo_name));
		for (unsigned i = 0; i < r->ncaps && i < MH_SMTP_CAPS_MAX; i++)
			json_object_array_add(caps, jstr(r->caps[i]));
		json_object_object_add(e, "capabilities", caps);
		json_object_object_add(o, "ehlo", e);
	} else {
		json_object_object_add(o, "ehlo", NULL);
	}
	json_object_object_add(o, "tls", tls_to_json(r));
	if (r->ehlo2_code) {
		struct json_object *e = json_object_new_object();
		struct json_object *caps = json_object_new_array();
		json_object_object_add(e, "code", json_object_new_int(r->ehlo2_code));
		for (unsigned i = 0; i < r->ncaps2 && i < MH_SMTP_CAPS_MAX; i++)
			json_object_array_add(caps, jstr(r->caps2[i]));
		json_object_object_add(e, "capabilities", caps);
		json_object_object_add(o, "ehlo_tls", e);
	} else {
		json_object_object_add(o, "ehlo_tls", NULL);
	}
	/* "discloses" | "ambiguous" | "disabled" | null (not asked, or no usable answer) */
	json_object_object_add(o, "vrfy", r->vrfy_tested ? jstr(r->vrfy) : NULL);
	json_object_object_add(o, "expn", r->vrfy_tested ? jstr(r->expn) : NULL);
	json_object_object_add(o, "vrfy_check", vrfy_to_json(r));
	json_object_object_add(o, "relay", relay_to_json(r));
	json_object_object_add(o, "error", jstr(r->error));
	json_object_object_add(o, "error_detail",
			       r->error && r->detail[0] ? jstr(r->detail) : NULL);
	return o;
}

/*
 * The host's findings that count (suppressed = false), or those a policy
 * suppresses (suppressed = true, each with the policy's reason).
 */
static struct json_object *findings_to_json(const struct mh_host *h, bool suppressed)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < h->nfindings; i++) {
		const struct mh_finding *f = &h->findings[i];
		if (mh_finding_counts(f) == suppressed)
			continue;
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "id", jstr(f->rule->id));
		json_object_object_add(o, "severity", jstr(mh_severity_name(f->severity)));
		json_object_object_add(o, "title", jstr(f->rule->title));
		json_object_object_add(o, "evidence", jstr(f->evidence));
		json_object_object_add(o, "remediation", jstr(f->remediation));
		if (f->suppressed)
			json_object_object_add(o, "reason", jstr(f->suppressed));
		if (f->expired)
			json_object_object_add(o, "suppression_expired", jstr(f->expired));
		json_object_array_add(a, o);
	}
	return a;
}

/* One "25": value per SMTP port of a table row. */
static struct json_object *cells_json(const struct mh_local_addr *r, bool bound)
{
	struct json_object *o = json_object_new_object();

	for (int p = 0; p < MH_LOCAL_NPORTS; p++) {
		char key[8];
		snprintf(key, sizeof(key), "%u", mh_local_ports[p]);
		json_object_object_add(o, key, bound ? json_object_new_boolean(r->bound[p])
						     : jstr(mh_cell_name(r->cell[p])));
	}
	return o;
}

/* A tri-state as true / false / null. */
static struct json_object *jtri(enum mh_tri t)
{
	return t == MH_TRI_UNKNOWN ? NULL : json_object_new_boolean(t == MH_TRI_YES);
}

/* "local.mta" (docs/schema.md): the MTA's configuration as it is in force. */
static struct json_object *mta_to_json(const struct mh_mta_config *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *mq = json_object_new_object();
	struct json_object *set = json_object_new_array();
	struct json_object *notes = json_object_new_array();

	json_object_object_add(o, "product", c->product ? jstr(c->product) : NULL);
	json_object_object_add(o, "config", c->config[0] ? jstr(c->config) : NULL);
	json_object_object_add(o, "running", json_object_new_boolean(c->running));
	json_object_object_add(o, "pid", c->pid > 0 ? json_object_new_int(c->pid) : NULL);
	json_object_object_add(o, "smtp_listener", jtri(c->smtp_listener));
	json_object_object_add(o, "listen", c->listen[0] ? jstr(c->listen) : NULL);
	json_object_object_add(o, "relayhost", c->relayhost[0] ? jstr(c->relayhost) : NULL);
	json_object_object_add(o, "local_delivery", json_object_new_boolean(c->local_delivery));
	json_object_object_add(mq, "known", json_object_new_boolean(c->masq.known));
	json_object_object_add(mq, "domain",
			       c->masq.known && c->masq.domain[0] ? jstr(c->masq.domain) : NULL);
	json_object_object_add(mq, "envelope", jtri(c->masq.envelope));
	json_object_object_add(mq, "recipients", jtri(c->masq.recipients));
	json_object_object_add(mq, "always_add_domain", jtri(c->masq.always_add_domain));
	json_object_object_add(o, "masquerade", mq);
	for (unsigned i = 0; i < c->nsettings && i < MH_MTA_SETTINGS_MAX; i++) {
		struct json_object *so = json_object_new_object();
		json_object_object_add(so, "key", jstr(c->settings[i].key));
		json_object_object_add(so, "value", jstr(c->settings[i].value));
		json_object_object_add(so, "where", jstr(c->settings[i].where));
		json_object_array_add(set, so);
	}
	json_object_object_add(o, "settings", set);
	for (unsigned i = 0; i < c->nnotes && i < MH_MTA_NOTES_MAX; i++)
		json_object_array_add(notes, jstr(c->notes[i]));
	json_object_object_add(o, "notes", notes);
	json_object_object_add(o, "mc_cf_mismatch", json_object_new_boolean(c->mc_cf_mismatch));
	return o;
}

/* The names of the MH_QR_* bits of a runner or a queue, as an array. */
static struct json_object *covers_json(unsigned covers)
{
	static const char *const names[] = { "sendmail-mqueue", "sendmail-clientmqueue", "postfix",
					     "exim", "opensmtpd" };
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (covers & (1u << i))
			json_object_array_add(a, jstr(names[i]));
	return a;
}

/* "local.queue" (docs/schema.md): the local queues, what waits, since when. */
static struct json_object *queues_json(const struct mh_local_queues *q)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < q->nq && i < MH_QUEUES_MAX; i++) {
		const struct mh_local_queue *e = &q->q[i];
		struct json_object *o = json_object_new_object();
		char when[32] = "";
		if (e->oldest)
			mh_rfc3339((int64_t)e->oldest, when, sizeof(when));
		json_object_object_add(o, "name", jstr(e->name));
		json_object_object_add(o, "path", mh_json_string(e->path, strlen(e->path)));
		json_object_object_add(o, "seen", json_object_new_boolean(e->seen));
		json_object_object_add(o, "unseen", e->seen ? NULL : jstr(e->unseen));
		json_object_object_add(o, "count", e->seen ? json_object_new_int64(e->count) : NULL);
		json_object_object_add(o, "count_capped", json_object_new_boolean(e->count_capped));
		json_object_object_add(o, "oldest", when[0] ? jstr(when) : NULL);
		json_object_object_add(o, "oldest_age_s",
				       when[0] ? json_object_new_int64(e->oldest_age_s) : NULL);
		json_object_object_add(o, "covered", json_object_new_boolean(e->covered));
		json_object_object_add(o, "stuck", json_object_new_boolean(e->stuck));
		json_object_object_add(o, "why", e->stuck ? jstr(e->why) : NULL);
		json_object_array_add(a, o);
	}
	return a;
}

/* "local.queue_runner" (docs/schema.md): who runs the queues; Sendmail's MSP. */
static struct json_object *runners_json(const struct mh_local_queues *q)
{
	struct json_object *o = json_object_new_object();
	struct json_object *a = json_object_new_array();

	for (unsigned i = 0; i < q->nr && i < MH_RUNNERS_MAX; i++) {
		const struct mh_queue_runner *r = &q->r[i];
		struct json_object *ro = json_object_new_object();
		json_object_object_add(ro, "kind", jstr(r->kind));
		json_object_object_add(ro, "covers", covers_json(r->covers));
		json_object_object_add(ro, "active", json_object_new_boolean(r->active));
		json_object_object_add(ro, "what", mh_json_string(r->what, strlen(r->what)));
		json_object_object_add(ro, "where", mh_json_string(r->where, strlen(r->where)));
		json_object_array_add(a, ro);
	}
	json_object_object_add(o, "found", json_object_new_boolean(q->needs && !q->missing));
	json_object_object_add(o, "needs", covers_json(q->needs));
	json_object_object_add(o, "missing", covers_json(q->missing));
	json_object_object_add(o, "unsure", covers_json(q->unsure));
	json_object_object_add(o, "processes_seen", json_object_new_boolean(q->processes_seen));
	json_object_object_add(o, "runners", a);
	if (q->msp_host[0]) {
		struct json_object *m = json_object_new_object();
		json_object_object_add(m, "host", mh_json_string(q->msp_host, strlen(q->msp_host)));
		json_object_object_add(m, "port", json_object_new_int(q->msp_port));
		json_object_object_add(m, "where", jstr(q->msp_where));
		json_object_object_add(m, "loopback", json_object_new_boolean(q->msp_loopback));
		json_object_object_add(m, "listening", jtri(q->msp_listening));
		json_object_object_add(o, "msp", m);
	} else {
		json_object_object_add(o, "msp", NULL);
	}
	return o;
}

/* The "local" object of CONTRACT.md (docs/schema.md, hosts[].local). */
static struct json_object *local_to_json(const struct mh_local *l)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ifs = json_object_new_array();
	struct json_object *lis = json_object_new_array();
	struct json_object *unseen = json_object_new_array();
	char addr[MH_ADDR_STRLEN];

	for (size_t i = 0; i < l->naddrs; i++) {
		const struct mh_local_addr *r = &l->addrs[i];
		struct json_object *io = json_object_new_object();
		mh_addr_format(&r->addr, addr, sizeof(addr));
		json_object_object_add(io, "name", mh_json_string(r->ifname, strlen(r->ifname)));
		json_object_object_add(io, "addr", jstr(addr));
		json_object_object_add(io, "loopback", json_object_new_boolean(r->loopback));
		json_object_object_add(io, "ports", cells_json(r, false));
		json_object_object_add(io, "bound", cells_json(r, true));
		json_object_array_add(ifs, io);
	}
	for (size_t i = 0; i < l->nlisteners; i++) {
		const struct mh_listener *li = &l->listeners[i];
		struct json_object *lo = json_object_new_object();
		mh_addr_format(&li->addr, addr, sizeof(addr));
		json_object_object_add(lo, "addr", jstr(addr));
		json_object_object_add(lo, "port", json_object_new_int(li->port));
		json_object_object_add(lo, "process", jstr(li->process));
		json_object_object_add(lo, "pid", li->pid > 0 ? json_object_new_int(li->pid) : NULL);
		json_object_object_add(lo, "exe", jstr(li->exe));
		json_object_object_add(lo, "uid", json_object_new_int64(li->uid));
		json_object_object_add(lo, "inode", json_object_new_uint64(li->inode));
		if (li->nholders > 1) {
			struct json_object *hs = json_object_new_array();
			for (unsigned k = 0; k < li->nholders && k < MH_HOLDERS_MAX; k++)
				json_object_array_add(hs, json_object_new_int(li->holders[k]));
			json_object_object_add(lo, "holders", hs);
		}
		json_object_array_add(lis, lo);
	}
	for (unsigned i = 0; i < l->nunseen && i < MH_LOCAL_UNSEEN_MAX; i++)
		json_object_array_add(unseen, jstr(l->unseen[i]));
	json_object_object_add(o, "interfaces", ifs);
	json_object_object_add(o, "listeners", lis);
	json_object_object_add(o, "exposure", jstr(mh_exposure_name(l->exposure)));
	json_object_object_add(o, "partial", json_object_new_boolean(l->partial));
	json_object_object_add(o, "partial_evidence",
			       l->partial ? jstr(l->partial_evidence) : NULL);
	json_object_object_add(o, "listeners_agree", json_object_new_boolean(l->agree));
	json_object_object_add(o, "unseen", unseen);
	json_object_object_add(o, "mta", l->mta ? mta_to_json(l->mta) : NULL);
	json_object_object_add(o, "aliases", json_object_new_boolean(l->aliases));
	json_object_object_add(o, "queue", l->queues ? queues_json(l->queues) : NULL);
	json_object_object_add(o, "queue_runner", l->queues ? runners_json(l->queues) : NULL);
	return o;
}

/* "" -> null, else the string */
static struct json_object *jopt(const char *s)
{
	return s && s[0] ? jstr(s) : NULL;
}

static struct json_object *jtime(int64_t t)
{
	char buf[32];
	if (t <= 0 || mh_rfc3339(t, buf, sizeof(buf)) < 0)
		return NULL;
	return jstr(buf);
}

/* CONTRACT.md's "probes": one object a probe, its verdict and the evidence that decided. */
static struct json_object *probes_to_json(const struct mh_probe_host *ph)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < ph->n; i++) {
		const struct mh_probe *p = ph->v[i];
		struct json_object *o = json_object_new_object(), *ev = json_object_new_object();
		json_object_object_add(o, "kind", jstr(p->kind));
		if (p->variant[0])
			json_object_object_add(o, "variant", jstr(p->variant));
		json_object_object_add(o, "tag", jstr(p->tag));
		json_object_object_add(o, "rcpt", jstr(p->rcpt));
		json_object_object_add(o, "mail_from", jopt(p->mail_from));
		json_object_object_add(o, "verdict", jstr(mh_verdict_name(p->verdict)));
		json_object_object_add(ev, "decided_by", jopt(p->ev_source));
		json_object_object_add(ev, "sent", jtime(p->sent));
		json_object_object_add(ev, "decided", jtime(p->decided));
		json_object_object_add(ev, "dsn_requested", json_object_new_boolean(p->dsn));
		json_object_object_add(ev, "submit_code",
				       p->submit_code ? json_object_new_int(p->submit_code) : NULL);
		json_object_object_add(ev, "submit_reply", jopt(p->submit_reply));
		json_object_object_add(ev, "message", jopt(p->ev_key));
		json_object_object_add(ev, "collected", jtime(p->ev_time));
		json_object_object_add(ev, "action", jopt(p->ev_action));
		json_object_object_add(ev, "status", jopt(p->ev_status));
		json_object_object_add(ev, "diagnostic", jopt(p->ev_diagnostic));
		json_object_object_add(ev, "reporting_mta", jopt(p->ev_reporting_mta));
		json_object_object_add(ev, "remote_mta", jopt(p->ev_remote_mta));
		json_object_object_add(ev, "return_path", jopt(p->ev_return_path));
		json_object_object_add(ev, "from", jopt(p->ev_from));
		json_object_object_add(ev, "sender", jopt(p->ev_sender_class));
		json_object_object_add(ev, "from_class", jopt(p->ev_from_class));
		json_object_object_add(ev, "received_first_hop", jopt(p->ev_received));
		json_object_object_add(ev, "received_count",
				       json_object_new_int64(p->ev_nreceived));
		json_object_object_add(ev, "delay_notices", json_object_new_int64(p->ndelays));
		json_object_object_add(ev, "messages", json_object_new_int64(p->nmessages));
		json_object_object_add(o, "evidence", ev);
		json_object_array_add(a, o);
	}
	return a;
}

struct json_object *mh_host_to_json(const struct mh_host *h)
{
	struct json_object *o = json_object_new_object();
	struct json_object *names = json_object_new_array();
	struct json_object *ports = json_object_new_array();
	char addr[MH_ADDR_STRLEN];

	if (!o || !names || !ports) {
		json_object_put(o);
		json_object_put(names);
		json_object_put(ports);
		return NULL;
	}
	mh_addr_format(&h->addr, addr, sizeof(addr));
	json_object_object_add(o, "addr", jstr(addr));
	for (const char *const *n = h->names; n && *n; n++)
		json_object_array_add(names, jstr(*n));
	json_object_object_add(o, "names", names);
	json_object_object_add(o, "role", jstr(h->mail_server ? "mail-server" : "client"));
	json_object_object_add(o, "exposure", jstr(mh_exposure_name(mh_host_exposure(h))));
	for (unsigned i = 0; i < h->nports; i++) {
		const struct mh_port *p = &h->ports[i];
		struct json_object *po = json_object_new_object();
		json_object_object_add(po, "port", json_object_new_int(p->port));
		json_object_object_add(po, "state", jstr(mh_port_state_name(p->state)));
		json_object_object_add(po, "rtt_ms", jms(p->rtt_ms));
		json_object_object_add(po, "smtp", p->smtp ? smtp_to_json(p->smtp, &p->mta) : NULL);
		if (p->note)
			json_object_object_add(po, "note", jstr(p->note));
		json_object_array_add(ports, po);
	}
	json_object_object_add(o, "ports", ports);
	if (h->local)
		json_object_object_add(o, "local", local_to_json(h->local));
	if (h->probes)
		json_object_object_add(o, "probes", probes_to_json(h->probes));
	json_object_object_add(o, "findings", findings_to_json(h, false));
	json_object_object_add(o, "suppressed", findings_to_json(h, true));
	return o;
}

int mh_output_check(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	const char *slash;
	size_t dl;

	if (!path || !strcmp(path, "-"))
		return 0;
	slash = strrchr(path, '/');
	dl = slash ? (size_t)(slash - path) : 0;
	if (dl >= sizeof(dir))
		return mh_err(err, errlen, MH_EINVAL, "output '%s': path too long", path);
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	if (access(slash ? (dl ? dir : "/") : ".", W_OK | X_OK) < 0)
		return mh_err(err, errlen, MH_EINVAL, "output '%s': folder not writable: %s", path,
			      strerror(errno));
	return 0;
}

int mh_write_file_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, n;
	size_t off = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return mh_err(err, errlen, MH_EINVAL, "output '%s': path too long", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		return mh_err(err, errlen, MH_EIO, "output '%s': %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	/* mkstemp makes 0600; a report is meant to be read */
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	n = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return mh_err(err, errlen, MH_EIO, "output '%s': %s", path, strerror(n));
}

/* ---- the document writer ----------------------------------------------- */

/*
 * Host records are spilled, one compact line each, to an unlinked temporary
 * file as they come, so memory does not grow with the number of hosts
 * (json-c spends about 9 KiB on one host's tree). At close the "hosts" array
 * is a json-c object whose serializer reads the spill back, re-parses each
 * record with json_tokener and prints it at its place in the document: the
 * document holds one host's tree at a time.
 */
struct doc_ctx {
	char *path;
	FILE *spill;
	uint64_t nhosts;
	uint64_t open_ports;
	uint64_t findings[MH_SEV_COUNT];
	int serialize_error;
};

static int doc_open(void **ctx, const char *path, char *err, size_t errlen)
{
	struct doc_ctx *c = calloc(1, sizeof(*c));

	if (!c || !(c->path = strdup(path))) {
		free(c);
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	}
	c->spill = tmpfile();
	if (!c->spill) {
		int e = errno;
		free(c->path);
		free(c);
		return mh_err(err, errlen, MH_EIO, "temporary file for '%s': %s", path,
			      strerror(e));
	}
	*ctx = c;
	return 0;
}

/*
 * Writes h as one compact JSON line to f (flushed when `flush`). 0,
 * MH_ENOMEM, or MH_EIO with errno from the failed write.
 */
static int put_host_line(FILE *f, const struct mh_host *h, bool flush)
{
	struct json_object *o = mh_host_to_json(h);
	int rc = 0;

	if (!o)
		return MH_ENOMEM;
	if (fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE),
		  f) == EOF ||
	    fputc('\n', f) == EOF || (flush && fflush(f) == EOF))
		rc = MH_EIO;
	json_object_put(o);
	return rc;
}

static int doc_host(void *ctx, const struct mh_host *h, char *err, size_t errlen)
{
	struct doc_ctx *c = ctx;
	int rc = put_host_line(c->spill, h, false);

	if (rc == MH_ENOMEM)
		return mh_err(err, errlen, rc, "out of memory");
	if (rc)
		return mh_err(err, errlen, rc, "temporary file for '%s': %s", c->path,
			      strerror(errno));
	c->nhosts++;
	for (unsigned i = 0; i < h->nports; i++)
		if (h->ports[i].state == MH_PORT_OPEN)
			c->open_ports++;
	for (unsigned i = 0; i < h->nfindings; i++)
		if ((unsigned)h->findings[i].severity < MH_SEV_COUNT &&
		    mh_finding_counts(&h->findings[i]))
			c->findings[h->findings[i].severity]++;
	return 0;
}

/* Appends s with every newline followed by `level` indentation steps. */
static void append_indented(struct printbuf *pb, const char *s, int level, int flags)
{
	const char *nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		printbuf_memappend(pb, s, (int)(nl - s + 1));
		if (flags & JSON_C_TO_STRING_PRETTY)
			printbuf_memset(pb, -1, ' ', level * 2);
		s = nl + 1;
	}
	printbuf_memappend(pb, s, (int)strlen(s));
}

/* json-c serializer of the "hosts" array: the spilled records, in order. */
static int hosts_serialize(struct json_object *jso, struct printbuf *pb, int level, int flags)
{
	struct doc_ctx *c = json_object_get_userdata(jso);
	bool pretty = flags & JSON_C_TO_STRING_PRETTY;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t i = 0;

	printbuf_memappend(pb, "[", 1);
	rewind(c->spill);
	while ((n = getline(&line, &cap, c->spill)) > 0) {
		struct json_object *h = json_tokener_parse(line);
		if (!h) {
			c->serialize_error = MH_EIO;
			break;
		}
		if (i++)
			printbuf_memappend(pb, ",", 1);
		if (pretty) {
			printbuf_memappend(pb, "\n", 1);
			printbuf_memset(pb, -1, ' ', (level + 1) * 2);
		} else if (flags & JSON_C_TO_STRING_SPACED) {
			printbuf_memappend(pb, " ", 1);
		}
		append_indented(pb, json_object_to_json_string_ext(h, flags), level + 1, flags);
		json_object_put(h);
	}
	free(line);
	if (ferror(c->spill))
		c->serialize_error = MH_EIO;
	if (pretty && i) {
		printbuf_memappend(pb, "\n", 1);
		printbuf_memset(pb, -1, ' ', level * 2);
	} else if ((flags & JSON_C_TO_STRING_SPACED) && i) {
		printbuf_memappend(pb, " ", 1);
	}
	printbuf_memappend(pb, "]", 1);
	return 0;
}

static struct json_object *scan_meta_json(const struct mh_run_meta *m)
{
	struct json_object *s = json_object_new_object();

	json_object_object_add(s, "tool", jstr("mailhole"));
	json_object_object_add(s, "tool_version", jstr(MH_VERSION));
	json_object_object_add(s, "command", jstr(m->command));
	json_object_object_add(s, "command_line", jstr(m->command_line));
	json_object_object_add(s, "started", jstr(m->started));
	json_object_object_add(s, "finished", jstr(m->finished));
	json_object_object_add(s, "duration_s", jms(m->duration_s));
	json_object_object_add(s, "complete", json_object_new_boolean(m->complete));
	if (m->scan) {
		const struct mh_scan_opts *o = m->scan;
		struct json_object *ports = json_object_new_array();
		char shard[48];
		for (unsigned i = 0; i < o->nports; i++)
			json_object_array_add(ports, json_object_new_int(o->ports[i]));
		json_object_object_add(s, "ports", ports);
		json_object_object_add(s, "seed", json_object_new_uint64(o->seed));
		snprintf(shard, sizeof(shard), "%llu/%llu", (unsigned long long)o->shard_k,
			 (unsigned long long)o->shard_n);
		json_object_object_add(s, "shard", jstr(shard));
		json_object_object_add(s, "threads", json_object_new_int((int)o->threads));
		json_object_object_add(s, "concurrency", json_object_new_int((int)o->concurrency));
		json_object_object_add(s, "rate", json_object_new_uint64(o->rate));
		json_object_object_add(s, "timeout_ms", json_object_new_int((int)o->timeout_ms));
		json_object_object_add(s, "session_timeout_ms",
				       json_object_new_int((int)o->session_ms));
		json_object_object_add(s, "retries", json_object_new_int((int)o->retries));
		json_object_object_add(s, "ehlo_name", jstr(o->ehlo_name));
		json_object_object_add(s, "all_hosts", json_object_new_boolean(o->all_hosts));
		/* which checks ran, and the deadline they made (for compliance records) */
		json_object_object_add(s, "starttls", json_object_new_boolean(o->starttls));
		json_object_object_add(s, "vrfy", json_object_new_boolean(o->vrfy));
		json_object_object_add(s, "relay_test",
				       o->relay_domain ? jstr(o->relay_domain) : NULL);
		json_object_object_add(s, "relay_test_data",
				       json_object_new_boolean(o->relay_domain && o->relay_data));
		json_object_object_add(s, "session_deadline_ms",
				       json_object_new_uint64(mh_scan_session_ms(o)));
	}
	if (m->stats) {
		const struct mh_scan_stats *st = m->stats;
		json_object_object_add(s, "targets", json_object_new_uint64(st->targets));
		json_object_object_add(s, "hosts_done", json_object_new_uint64(st->hosts_done));
		json_object_object_add(s, "probes", json_object_new_uint64(st->probes));
	}
	return s;
}

static struct json_object *summary_json(const struct doc_ctx *c, const struct mh_run_meta *m)
{
	struct json_object *s = json_object_new_object();
	struct json_object *f = json_object_new_object();

	json_object_object_add(s, "hosts", json_object_new_uint64(c->nhosts));
	json_object_object_add(s, "open_ports", json_object_new_uint64(c->open_ports));
	for (int i = 0; i < MH_SEV_COUNT; i++)
		json_object_object_add(f, mh_severity_name(i), json_object_new_uint64(c->findings[i]));
	json_object_object_add(s, "findings", f);
	if (m->stats) {
		struct json_object *ps = json_object_new_object();
		json_object_object_add(ps, "open", json_object_new_uint64(m->stats->open));
		json_object_object_add(ps, "closed", json_object_new_uint64(m->stats->closed));
		json_object_object_add(ps, "filtered", json_object_new_uint64(m->stats->filtered));
		json_object_object_add(s, "port_states", ps);
		json_object_object_add(s, "smtp_errors",
				       json_object_new_uint64(m->stats->smtp_errors));
	}
	return s;
}

static int doc_close(void *ctx, const struct mh_run_meta *m, char *err, size_t errlen)
{
	struct doc_ctx *c = ctx;
	struct json_object *doc = json_object_new_object();
	struct json_object *hosts = json_object_new_array();
	const char *text;
	size_t len;
	int rc;

	json_object_object_add(doc, "schema", jstr("mailhole/1"));
	json_object_object_add(doc, "scan", scan_meta_json(m));
	json_object_object_add(doc, "summary", summary_json(c, m));
	json_object_set_serializer(hosts, hosts_serialize, c, NULL);
	json_object_object_add(doc, "hosts", hosts);
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_SPACED |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	if (c->serialize_error) {
		rc = mh_err(err, errlen, MH_EIO, "output '%s': temporary host records unreadable",
			    c->path);
	} else if (strcmp(c->path, "-") == 0) {
		rc = fwrite(text, 1, len, stdout) == len && fputc('\n', stdout) != EOF ? 0 : MH_EIO;
		fflush(stdout);
		if (rc)
			mh_err(err, errlen, rc, "output '-': write failed");
	} else {
		/* the document ends with a newline, like any text file */
		char *withnl = malloc(len + 2);
		if (!withnl) {
			rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
		} else {
			memcpy(withnl, text, len);
			withnl[len] = '\n';
			rc = mh_write_file_atomic(c->path, withnl, len + 1, err, errlen);
			free(withnl);
		}
	}
	json_object_put(doc);
	fclose(c->spill);
	free(c->path);
	free(c);
	return rc;
}

const struct mh_writer_ops mh_writer_json = {
	.name = "json",
	.open = doc_open,
	.host = doc_host,
	.close = doc_close,
};

/* ---- the JSONL stream ---------------------------------------------------- */

struct jsonl_ctx {
	FILE *f;
	bool is_stdout;
	char *path;
};

static int jsonl_open(void **ctx, const char *path, char *err, size_t errlen)
{
	struct jsonl_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	if (strcmp(path, "-") == 0) {
		c->f = stdout;
		c->is_stdout = true;
	} else {
		c->f = fopen(path, "we");
	}
	if (!c->f) {
		int e = errno;
		free(c);
		return mh_err(err, errlen, MH_EIO, "output '%s': %s", path, strerror(e));
	}
	c->path = strdup(path);
	*ctx = c;
	return 0;
}

static int jsonl_host(void *ctx, const struct mh_host *h, char *err, size_t errlen)
{
	struct jsonl_ctx *c = ctx;
	int rc = put_host_line(c->f, h, true);

	if (rc == MH_ENOMEM)
		return mh_err(err, errlen, rc, "out of memory");
	if (rc)
		return mh_err(err, errlen, rc, "output '%s': %s", c->path ? c->path : "-",
			      strerror(errno));
	return 0;
}

static int jsonl_close(void *ctx, const struct mh_run_meta *m, char *err, size_t errlen)
{
	struct jsonl_ctx *c = ctx;
	int rc = 0;

	(void)m;
	if (!c->is_stdout && fclose(c->f) != 0)
		rc = mh_err(err, errlen, MH_EIO, "output '%s': %s", c->path, strerror(errno));
	free(c->path);
	free(c);
	return rc;
}

const struct mh_writer_ops mh_writer_jsonl = {
	.name = "jsonl",
	.open = jsonl_open,
	.host = jsonl_host,
	.close = jsonl_close,
};

static const struct mh_writer_ops *const writers[] = { &mh_writer_json, &mh_writer_jsonl };

const struct mh_writer_ops *mh_writer_find(const char *name)
{
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (strcmp(writers[i]->name, name) == 0)
			return writers[i];
	return NULL;
}
