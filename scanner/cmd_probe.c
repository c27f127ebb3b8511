/*
 * cmd_probe.c -- `mailhole probe [send|collect]` (include/mailhole/cli.h).
 *
 *   send     for each host FQDN of --hosts, plans the bare-recipient probes
 *            (root@FQDN, postmaster@FQDN) that are not in the state file
 *            yet, and submits those not sent to the policy's relay
 *            (probes/submit.c), the state saved after each one;
 *   collect  reads the collector mailbox past the last UID seen
 *            (probes/collect.c), parses each message (probes/mail.c), applies
 *            it to the probe its tag names (probes/probe.c), and at the
 *            deadline turns silence into black holes;
 *   (none)   both: sends, then collects every --poll seconds until every
 *            probe has a firm verdict or the deadline passes.
 * Then it writes the mailhole/1 document: one host record a host FQDN, with
 * its probes and the findings they fire (report/rules.c).
 *
 * Credentials never come from argv: the collector's password from the
 * policy's password_file / password_env, the relay's AUTH from
 * --relay-auth-file FILE ("user:password" on one line) or the environment
 * (MAILHOLE_RELAY_USER, MAILHOLE_RELAY_PASSWORD).
 */
#include <errno.h>
#include <json-c/json.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/collect.h"
#include "mailhole/common.h"
#include "mailhole/mail.h"
#include "mailhole/policy.h"
#include "mailhole/probe.h"
#include "mailhole/probe_smtp.h"
#include "mailhole/render.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"
#include "mailhole/submit.h"
#include "mailhole/target.h"

#define DEFAULT_STATE "mailhole-probe-state.json"

struct probe_config {
	const char *mode;       /* "both", "send", "collect" */
	const char *policy;
	const char *hosts;
	const char *out_json;
	const char *state;
	const char *relay_auth;
	const char *local_reports[32];
	unsigned nlocal;
	long deadline_s;        /* -1: not given */
	long poll_s;
	long timeout_ms;
	int fail_on;
	bool expunge, insecure, quiet;
	char command_line[2048];
};

static void probe_usage(FILE *f)
{
	fputs("usage: mailhole probe [send|collect] --policy FILE --hosts FILE [OPTIONS]\n"
	      "\n"
	      "Sends tagged probes to root@HOST and postmaster@HOST for each host FQDN\n"
	      "through the policy's relay, reads the collector mailbox for the probes,\n"
	      "DSNs and bounces that come back, and gives each probe a verdict.\n"
	      "\n"
	      "  send | collect       only that half (they may run minutes apart: the\n"
	      "                       state file remembers; nothing is ever sent twice)\n"
	      "  --policy FILE        relay, collector, domain (required)\n"
	      "  --hosts FILE         host FQDNs, one a line (# comments)\n"
	      "  --deadline SECONDS   silence after this long is a black hole (default 600)\n"
	      "  --poll SECONDS       how often to read the mailbox while waiting (default 5)\n"
	      "  --state FILE         the state file (default " DEFAULT_STATE ")\n"
	      "  -o FILE              the JSON document ('-' = stdout)\n"
	      "  --local-report FILE  a `mailhole local` document of a host: its masquerading\n"
	      "                       weighs the findings (repeatable)\n"
	      "  --relay-auth-file F  \"user:password\" for AUTH PLAIN at the relay (or the\n"
	      "                       environment: MAILHOLE_RELAY_USER, MAILHOLE_RELAY_PASSWORD)\n"
	      "  --expunge            delete processed probes and DSNs from the mailbox\n"
	      "  --insecure           imaps: do not verify the collector's certificate\n"
	      "  --timeout MS         per SMTP / IMAP step (default 30000)\n"
	      "  --fail-on SEVERITY   exit 1 on findings at or above it (default high; none)\n"
	      "  --quiet              no summary on stdout\n",
	      f);
}

static int probe_parse(struct probe_config *c, int argc, char **argv, char *err, size_t errlen)
{
	static const char *const valued[] = {"--policy",	  "--hosts",	"-o",
					     "--output",	  "--state",	"--deadline",
					     "--poll",		  "--timeout",	"--fail-on",
					     "--local-report", "--relay-auth-file", NULL};
	int i = 1, rc;

	mh_join_argv(c->command_line, sizeof(c->command_line), argc, argv);
	if (argc > 1 && (!strcmp(argv[1], "send") || !strcmp(argv[1], "collect"))) {
		c->mode = argv[1];
		i = 2;
	}
	for (; i < argc; i++) {
		const char *v = NULL;
		char name[64];

		if ((rc = mh_opt_next(argc, argv, &i, valued, name, sizeof(name), &v, err,
				      errlen)) < 0)
			return rc;
		if (rc == 0)
			return mh_err(err, errlen, MH_EINVAL,
				      "argument %d '%.100s': not an option (send and collect come "
				      "first)",
				      i, argv[i]);
		if (!strcmp(name, "--policy")) {
			c->policy = v;
		} else if (!strcmp(name, "--hosts")) {
			c->hosts = v;
		} else if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
			c->out_json = v;
		} else if (!strcmp(name, "--state")) {
			c->state = v;
		} else if (!strcmp(name, "--relay-auth-file")) {
			c->relay_auth = v;
		} else if (!strcmp(name, "--local-report")) {
			if (c->nlocal == sizeof(c->local_reports) / sizeof(c->local_reports[0]))
				return mh_err(err, errlen, MH_EINVAL,
					      "option --local-report (argument %d): at most %zu", i,
					      sizeof(c->local_reports) / sizeof(c->local_reports[0]));
			c->local_reports[c->nlocal++] = v;
		} else if (!strcmp(name, "--deadline") || !strcmp(name, "--poll") ||
			   !strcmp(name, "--timeout")) {
			uint64_t n;
			uint64_t max = !strcmp(name, "--timeout") ? 600000 : 30 * 86400;
			if (mh_parse_u64(v, 1, max, &n) < 0)
				return mh_err(err, errlen, MH_EINVAL,
					      "option %s '%.40s' (argument %d): not a number in "
					      "1..%llu",
					      name, v, i, (unsigned long long)max);
			if (!strcmp(name, "--deadline"))
				c->deadline_s = (long)n;
			else if (!strcmp(name, "--poll"))
				c->poll_s = (long)n;
			else
				c->timeout_ms = (long)n;
		} else if (!strcmp(name, "--fail-on")) {
			c->fail_on = mh_fail_on_parse(v);
			if (c->fail_on < 0)
				return mh_err(err, errlen, MH_EINVAL,
					      "option --fail-on '%.40s' (argument %d): not one of "
					      "critical, high, medium, low, info, none",
					      v, i);
		} else if (!strcmp(name, "--expunge")) {
			c->expunge = true;
		} else if (!strcmp(name, "--insecure")) {
			c->insecure = true;
		} else if (!strcmp(name, "--quiet") || !strcmp(name, "-q")) {
			c->quiet = true;
		} else if (!strcmp(name, "-v") || !strcmp(name, "--verbose")) {
			mh_log_set_level(MH_LOG_DEBUG);
		} else if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
			return 1;
		} else {
			return mh_err(err, errlen, MH_EINVAL, "option '%.100s' (argument %d): unknown",
				      argv[i], i);
		}
	}
	if (!c->policy)
		return mh_err(err, errlen, MH_EINVAL,
			      "probe needs --policy FILE (relay, collector and domain)");
	if (strcmp(c->mode, "collect") && !c->hosts)
		return mh_err(err, errlen, MH_EINVAL, "probe%s%s needs --hosts FILE",
			      strcmp(c->mode, "both") ? " " : "",
			      strcmp(c->mode, "both") ? c->mode : "");
	return 0;
}

/* ---- the hosts file ---- */

struct host_list {
	char (*v)[MH_PROBE_HOST_MAX];
	size_t n, cap;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static int read_hosts(const char *path, struct host_list *hl, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, pos = 0;
	unsigned lineno = 0;
	int rc;

	if ((rc = mh_read_file(path, 16u << 20, &buf, &len, err, errlen)) < 0)
		return rc == MH_ENOMEM ? rc : MH_EINVAL;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		char name[MH_PROBE_HOST_MAX];
		pos += n + (nl ? 1 : 0);
		lineno++;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		while (n && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (!n || *line == '#')
			continue;
		if (memchr(line, '\0', n) || n >= sizeof(name)) {
			free(buf);
			return mh_err(err, errlen, MH_EINVAL, "%s line %u: not a host name", path,
				      lineno);
		}
		memcpy(name, line, n);
		name[n] = '\0';
		if (name[n - 1] == '.')
			name[n - 1] = '\0';
		if (!mh_relay_domain_valid(name, true)) {
			char safe[80];
			mh_sanitize_line(safe, sizeof(safe), line, n);
			free(buf);
			return mh_err(err, errlen, MH_EINVAL,
				      "%s line %u: '%s' is not a host FQDN (at least two labels)",
				      path, lineno, safe);
		}
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (hl->n == hl->cap) {
			size_t nc = hl->cap ? hl->cap * 2 : 64;
			void *nv = realloc(hl->v, nc * sizeof(*hl->v));
			if (!nv) {
				free(buf);
				return mh_err(err, errlen, MH_ENOMEM, "out of memory");
			}
			hl->v = nv;
			hl->cap = nc;
		}
		mh_strlcpy(hl->v[hl->n++], name, MH_PROBE_HOST_MAX);
	}
	free(buf);
	if (!hl->n)
		return mh_err(err, errlen, MH_EINVAL, "%s: no host names", path);
	/* sorted, each name once */
	qsort(hl->v, hl->n, sizeof(*hl->v), cmp_name);
	size_t u = 1;
	for (size_t k = 1; k < hl->n; k++)
		if (strcmp(hl->v[k], hl->v[u - 1]))
			memmove(hl->v[u++], hl->v[k], MH_PROBE_HOST_MAX);
	hl->n = u;
	return 0;
}

/* ---- sending ---- */

static size_t build_message(char *buf, size_t size, const struct mh_probe *p, const char *from)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	int n = snprintf(buf, size,
			 "From: mailhole probe <%s>\n"
			 "To: <%s>\n"
			 "Subject: mailhole probe %s (%s %s)\n"
			 "Date: %s\n"
			 "Message-ID: <%s@mailhole.invalid>\n"
			 "X-Mailhole-Tag: %s\n"
			 "X-Mailhole-Probe: %s %s\n"
			 "MIME-Version: 1.0\n"
			 "Content-Type: text/plain; charset=us-ascii\n"
			 "Auto-Submitted: auto-generated\n"
			 "\n"
			 "This is a probe from mailhole, a mail black-hole auditor.\n"
			 "It checks whether mail addressed to %s reaches a mailbox.\n"
			 "If you read this, it did; no action is needed.\n"
			 "\n"
			 "mailhole-tag: %s\n",
			 from, p->rcpt, p->tag, p->kind, p->host, date, p->tag, p->tag, p->kind,
			 p->host, p->rcpt, p->tag);
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}

/* "user:password" from a file, or the environment. Both NULL when none. */
static int relay_credentials(const char *file, char **user, char **pass, char *err,
			     size_t errlen)
{
	*user = *pass = NULL;
	if (file) {
		char *buf = NULL, *colon, *nl;
		size_t len = 0;
		char e[MH_ERRLEN];
		if (mh_read_file(file, 4096, &buf, &len, e, sizeof(e)) < 0)
			return mh_err(err, errlen, MH_EINVAL, "--relay-auth-file: %s", e);
		nl = strpbrk(buf, "\r\n");
		if (nl)
			*nl = '\0';
		colon = strchr(buf, ':');
		if (!colon || colon == buf || !colon[1]) {
			free(buf);
			return mh_err(err, errlen, MH_EINVAL,
				      "--relay-auth-file %s line 1: not user:password", file);
		}
		*colon = '\0';
		*user = strdup(buf);
		*pass = strdup(colon + 1);
		memset(buf, 0, len);
		free(buf);
		return 0;
	}
	const char *u = getenv("MAILHOLE_RELAY_USER"), *pw = getenv("MAILHOLE_RELAY_PASSWORD");
	if (u && pw && *u) {
		*user = strdup(u);
		*pass = strdup(pw);
	}
	return 0;
}

static int do_send(const struct probe_config *c, const struct mh_policy *pol,
		   struct mh_probe_state *st, const struct host_list *hl, char *err,
		   size_t errlen)
{
	static const char *const locals[] = {"root", "postmaster"};
	const struct mh_policy_collector *col = mh_policy_collector(pol);
	struct mh_submit_opts so = {.url = mh_policy_relay(pol), .timeout_ms = c->timeout_ms};
	struct mh_submit *sub = NULL;
	char *user = NULL, *pass = NULL;
	unsigned sent = 0, refused = 0;
	int rc = 0;

	for (size_t i = 0; i < hl->n; i++)
		for (size_t k = 0; k < 2; k++) {
			char rcpt[MH_MAIL_ADDR_MAX];
			snprintf(rcpt, sizeof(rcpt), "%s@%s", locals[k], hl->v[i]);
			if (mh_probe_find(st, "bare-recipient", "", rcpt))
				continue;
			if (!mh_probe_add(st, "bare-recipient", "", hl->v[i], rcpt, ""))
				return mh_err(err, errlen, MH_ENOMEM, "out of memory");
		}
	if ((rc = relay_credentials(c->relay_auth, &user, &pass, err, errlen)) < 0)
		return rc;
	/* the plan (every tag) on disk before the first send; then a journal line a send */
	if (c->state && (rc = mh_probe_state_save(c->state, st, err, errlen)) < 0)
		return MH_EIO;
	so.user = user;
	so.password = pass;
	for (size_t i = 0; i < st->n; i++) {
		struct mh_probe *p = &st->v[i];
		struct mh_submit_result r;
		char from[MH_MAIL_ADDR_MAX], msg[4096];
		size_t len;

		if (p->sent || strcmp(p->kind, "bare-recipient"))
			continue;
		if (!sub) {
			if ((rc = mh_submit_open(&so, &sub, err, errlen)) < 0)
				break;
		}
		if (mh_probe_verp(col->address, p->tag, from, sizeof(from)) < 0) {
			rc = mh_err(err, errlen, MH_EINVAL, "%s: .collector.address: not local@domain",
				    c->policy);
			break;
		}
		mh_strlcpy(p->mail_from, from, sizeof(p->mail_from));
		len = build_message(msg, sizeof(msg), p, col->address);
		rc = mh_submit_send(sub, from, p->rcpt, p->tag, msg, len, &r, err, errlen);
		if (rc < 0) {
			mh_submit_close(&sub);
			break;
		}
		mh_probe_submitted(p, r.code, r.reply, r.dsn, (int64_t)time(NULL));
		if (r.code / 100 != 2) {
			refused++;
			if (r.code / 100 == 4)
				p->sent = 0; /* a temporary refusal: try again on the next run */
		} else {
			sent++;
		}
		mh_log_info("probe %s to %s: %d %s", p->tag, p->rcpt, r.code, r.reply);
		if (c->state && mh_probe_journal_append(c->state, p, err, errlen) < 0) {
			rc = MH_EIO;
			break;
		}
	}
	mh_submit_close(&sub);
	if (pass) {
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	free(user);
	if (!c->quiet && rc == 0)
		fprintf(stderr, "mailhole: probe: %u sent, %u refused by the relay\n", sent,
			refused);
	return rc;
}

/* ---- evidence of masquerading from `mailhole local` documents ---- */

static void weigh_host(const struct probe_config *c, struct json_object *const *docs,
		       struct mh_probe_host *ph)
{
	ph->masquerades = -1;
	mh_strlcpy(ph->masq_source, "unknown: no local report or host-submission probe",
		   sizeof(ph->masq_source));
	for (unsigned d = 0; d < c->nlocal; d++) {
		struct json_object *hosts = mh_doc_array(docs[d], "hosts");
		for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
			struct json_object *h = json_object_array_get_idx(hosts, i), *names, *loc,
					   *mta, *masq, *dom;
			bool match = false;
			names = mh_doc_array(h, "names");
			for (size_t k = 0; names && k < json_object_array_length(names); k++) {
				struct json_object *n = json_object_array_get_idx(names, k);
				if (json_object_is_type(n, json_type_string) &&
				    !strcasecmp(json_object_get_string(n), ph->fqdn))
					match = true;
			}
			if (!match || !json_object_object_get_ex(h, "local", &loc) ||
			    !json_object_object_get_ex(loc, "mta", &mta) ||
			    !json_object_object_get_ex(mta, "masquerade", &masq) ||
			    !json_object_is_type(masq, json_type_object))
				continue;
			json_object_object_get_ex(masq, "domain", &dom);
			ph->masquerades = dom && json_object_is_type(dom, json_type_string) &&
						  json_object_get_string_len(dom) > 0
					  ? 1
					  : 0;
			const char *base = strrchr(c->local_reports[d], '/');
			snprintf(ph->masq_source, sizeof(ph->masq_source),
				 "local report %.80s: masquerade domain %.80s",
				 base ? base + 1 : c->local_reports[d],
				 ph->masquerades ? json_object_get_string(dom) : "none");
		}
	}
	/* a host-submission probe of this host that arrived is first-hand evidence */
	for (size_t i = 0; i < ph->n; i++) {
		const struct mh_probe *p = ph->v[i];
		if (strcmp(p->kind, "host-submission") || strcmp(p->ev_source, "message"))
			continue;
		ph->masquerades = !strcmp(p->ev_sender_class, "masqueraded") ? 1 : 0;
		snprintf(ph->masq_source, sizeof(ph->masq_source),
			 "host-submission probe %s: envelope sender %.80s", p->tag,
			 p->ev_return_path);
	}
}

/* ---- the document ---- */

/* Probes by host name (case-insensitive), then in state order (stable). */
static int cmp_probe_host(const void *a, const void *b)
{
	const struct mh_probe *x = *(const struct mh_probe *const *)a;
	const struct mh_probe *y = *(const struct mh_probe *const *)b;
	int c = strcasecmp(x->host, y->host);
	return c ? c : (x < y ? -1 : x > y);
}

static int write_document(const struct probe_config *c, const struct mh_policy *pol,
			  struct mh_probe_state *st, struct mh_run_meta *meta, unsigned *failing)
{
	struct json_object *docs[32] = {NULL};
	void *wctx = NULL;
	char err[MH_ERRLEN], today[16];
	int rc = 0;
	const struct mh_probe **byhost = NULL;

	mh_today(today, sizeof(today));
	for (unsigned d = 0; d < c->nlocal; d++)
		if (mh_doc_load(c->local_reports[d], &docs[d], err, sizeof(err)) < 0) {
			fprintf(stderr, "mailhole: %s\n", err);
			rc = MH_EINVAL;
			goto out;
		}
	if (c->out_json && mh_writer_json.open(&wctx, c->out_json, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		rc = MH_EINVAL;
		goto out;
	}
	/* the probes in host order: one host record per run of the same host */
	byhost = malloc((st->n ? st->n : 1) * sizeof(*byhost));
	if (!byhost) {
		rc = MH_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < st->n; i++)
		byhost[i] = &st->v[i];
	qsort(byhost, st->n, sizeof(*byhost), cmp_probe_host);
	for (size_t i = 0, next; i < st->n; i = next) {
		const char *fqdn = byhost[i]->host;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
		struct mh_probe_host *ph;
		struct mh_host *h;
		struct mh_addr a;

		for (next = i + 1; next < st->n && !strcasecmp(byhost[next]->host, fqdn); next++)
			;
		if (!fqdn[0])
			continue;
		memset(&a, 0, sizeof(a));
		if (getaddrinfo(fqdn, NULL, &hints, &res) != 0 || !res) {
			mh_log_warn("host %s: name not resolvable; its probes stay in the state "
				    "file only",
				    fqdn);
			continue;
		}
		{
			char txt[MH_ADDR_STRLEN];
			if (getnameinfo(res->ai_addr, res->ai_addrlen, txt, sizeof(txt), NULL, 0,
					NI_NUMERICHOST) != 0 ||
			    mh_addr_parse(txt, &a) < 0) {
				freeaddrinfo(res);
				continue;
			}
		}
		freeaddrinfo(res);
		h = mh_host_new(&a);
		ph = calloc(1, sizeof(*ph));
		if (!h || !ph) {
			free(ph);
			mh_host_free(&h);
			rc = MH_ENOMEM;
			goto out;
		}
		mh_strlcpy(ph->fqdn, fqdn, sizeof(ph->fqdn));
		ph->names[0] = ph->fqdn;
		ph->v = calloc(next - i, sizeof(*ph->v));
		if (!ph->v) {
			free(ph);
			mh_host_free(&h);
			rc = MH_ENOMEM;
			goto out;
		}
		for (size_t k = i; k < next; k++)
			ph->v[ph->n++] = byhost[k];
		h->probes = ph;
		h->names = ph->names;
		h->mail_server = mh_policy_is_mail_server(pol, &h->addr, h->names);
		weigh_host(c, docs, ph);
		mh_classify(h);
		mh_policy_apply(h, pol, today);
		for (unsigned k = 0; k < h->nfindings; k++)
			if (!h->findings[k].suppressed && (int)h->findings[k].severity <= c->fail_on)
				(*failing)++;
		if (!c->quiet && !(c->out_json && !strcmp(c->out_json, "-"))) {
			for (size_t k = 0; k < ph->n; k++)
				printf("%-28s %-32s %-25s %s\n", fqdn, ph->v[k]->rcpt,
				       mh_verdict_name(ph->v[k]->verdict), ph->v[k]->tag);
			for (unsigned k = 0; k < h->nfindings; k++)
				printf("  %-8s %-26s %s\n", mh_severity_name(h->findings[k].severity),
				       h->findings[k].rule->id, h->findings[k].evidence);
		}
		if (wctx && mh_writer_json.host(wctx, h, err, sizeof(err)) < 0) {
			mh_log_error("%s", err);
			rc = MH_EIO;
		}
		mh_host_free(&h);
	}
	if (wctx) {
		mh_rfc3339_now(meta->finished, sizeof(meta->finished));
		meta->complete = rc == 0;
		if (mh_writer_json.close(wctx, meta, err, sizeof(err)) < 0) {
			mh_log_error("%s", err);
			rc = MH_EIO;
		}
	}
out:
	for (unsigned d = 0; d < c->nlocal; d++)
		json_object_put(docs[d]);
	free(byhost);
	return rc;
}

static bool all_firm(const struct mh_probe_state *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].sent && !mh_verdict_terminal(st->v[i].verdict) &&
		    st->v[i].verdict != MH_VERDICT_BLACK_HOLE)
			return false;
	return true;
}

int mh_cmd_probe(int argc, char **argv)
{
	struct probe_config c = {.mode = "both", .deadline_s = -1, .poll_s = 5,
				 .timeout_ms = 30000, .fail_on = MH_SEV_HIGH,
				 .state = DEFAULT_STATE};
	struct mh_run_meta meta = {.command = "probe"};
	struct mh_policy *pol = NULL;
	struct mh_probe_state st;
	struct host_list hl = {0};
	const struct mh_policy_collector *col;
	char err[MH_ERRLEN] = "";
	unsigned failing = 0;
	uint64_t t0 = mh_now_ms();
	int rc, code = MH_EXIT_OK;

	mh_probe_state_init(&st);
	rc = probe_parse(&c, argc, argv, err, sizeof(err));
	if (rc == 1) {
		probe_usage(stdout);
		return MH_EXIT_OK;
	}
	if (rc < 0)
		goto usage;
	meta.command_line = c.command_line;
	mh_rfc3339_now(meta.started, sizeof(meta.started));
	if ((rc = mh_policy_load(c.policy, &pol, err, sizeof(err))) < 0)
		goto usage;
	col = mh_policy_collector(pol);
	if (strcmp(c.mode, "collect") && !mh_policy_relay(pol)) {
		rc = mh_err(err, sizeof(err), MH_EINVAL, "%s: no \"relay\" to submit probes to",
			    c.policy);
		goto usage;
	}
	if (!col || !col->address || !col->url) {
		rc = mh_err(err, sizeof(err), MH_EINVAL,
			    "%s: .collector: needs \"address\" and \"url\"", c.policy);
		goto usage;
	}
	if (c.hosts && (rc = read_hosts(c.hosts, &hl, err, sizeof(err))) < 0)
		goto usage;
	/* a bad -o is bad usage, found before anything is sent */
	if ((rc = mh_output_check(c.out_json, err, sizeof(err))) < 0)
		goto usage;
	if ((rc = mh_probe_state_load(c.state, &st, err, sizeof(err))) < 0)
		goto usage;
	if (!st.created) {
		st.created = (int64_t)time(NULL);
		mh_strlcpy(st.relay, mh_policy_relay(pol) ? mh_policy_relay(pol) : "",
			   sizeof(st.relay));
		mh_strlcpy(st.collector, col->url, sizeof(st.collector));
		mh_strlcpy(st.collector_address, col->address, sizeof(st.collector_address));
		mh_strlcpy(st.domain, mh_policy_domain(pol) ? mh_policy_domain(pol) : "",
			   sizeof(st.domain));
	} else if (strcmp(st.collector, col->url)) {
		rc = mh_err(err, sizeof(err), MH_EINVAL,
			    "%s: made for collector %.120s, the policy names %.120s (use another "
			    "--state)",
			    c.state, st.collector, col->url);
		goto usage;
	}
	if (c.deadline_s > 0)
		st.deadline = st.created + c.deadline_s;
	else if (!st.deadline)
		st.deadline = st.created + 600;

	if (strcmp(c.mode, "collect")) {
		rc = do_send(&c, pol, &st, &hl, err, sizeof(err));
		if (rc == MH_EINVAL)
			goto usage;
		if (rc < 0) {
			fprintf(stderr, "mailhole: %s\n", err);
			code = MH_EXIT_RUNTIME;
		}
	}
	if (code == MH_EXIT_OK && strcmp(c.mode, "send")) {
		for (;;) {
			rc = mh_probe_collect(pol, &st, c.expunge, c.insecure, c.timeout_ms, err, sizeof(err));
			if (rc < 0) {
				fprintf(stderr, "mailhole: %s\n", err);
				code = rc == MH_EINVAL ? MH_EXIT_USAGE : MH_EXIT_RUNTIME;
				break;
			}
			mh_probe_finalize(&st, (int64_t)time(NULL));
			if (mh_probe_state_save(c.state, &st, err, sizeof(err)) < 0) {
				fprintf(stderr, "mailhole: %s\n", err);
				code = MH_EXIT_RUNTIME;
				break;
			}
			if (strcmp(c.mode, "both") || all_firm(&st) ||
			    (int64_t)time(NULL) >= st.deadline)
				break;
			int64_t left = st.deadline - (int64_t)time(NULL);
			sleep((unsigned)(left < c.poll_s ? left : c.poll_s));
		}
	}
	if (mh_probe_state_save(c.state, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
	}
	meta.duration_s = (double)(mh_now_ms() - t0) / 1000.0;
	/* `probe send` alone has verdicts to show only with -o (the relay's refusals) */
	rc = !strcmp(c.mode, "send") && !c.out_json ? 0
						     : write_document(&c, pol, &st, &meta, &failing);
	if (rc == MH_EINVAL && code == MH_EXIT_OK)
		code = MH_EXIT_USAGE;
	else if (rc < 0 && code == MH_EXIT_OK)
		code = MH_EXIT_RUNTIME;
	if (code == MH_EXIT_OK && failing && c.fail_on != MH_SEV_COUNT)
		code = MH_EXIT_FINDINGS;
	if (!c.quiet && st.bad_messages)
		fprintf(stderr, "mailhole: %u collected message(s) could not be read\n",
			st.bad_messages);
	mh_probe_state_free(&st);
	mh_policy_free(&pol);
	free(hl.v);
	return code;
usage:
	fprintf(stderr, "mailhole: %s\n", err);
	mh_probe_state_free(&st);
	mh_policy_free(&pol);
	free(hl.v);
	return MH_EXIT_USAGE;
}
