/*
 * cmd_queue.c -- `mailhole queue FILE|-`: a relay's queue listing in, relay
 * black holes out (include/mailhole/cli.h, include/mailhole/queue.h).
 *
 * The listing (Postfix `postqueue -j`, Sendmail `mailq`, Exim `exim -bp`;
 * detected unless --format names it) is read by probes/queue.c and its
 * waiting recipients grouped by destination domain. A destination is a
 * fleet host when it is a host under the policy's "domain" (host-a.lab.test
 * under lab.test, not lab.test itself) or a name in --hosts. A fleet host
 * with recipients deferred because the connection was refused or timed out
 * (or, in Exim's listing, which gives no reason, waiting at all) is a
 * relay-queue-black-hole finding on a host record keyed by the address in
 * the delay reason ("host-a.lab.test[198.18.0.5]"), else by resolving the
 * name (getaddrinfo: /etc/hosts in labs); a host that has neither is left
 * out with a warning naming it.
 *
 * The document is the standard one: host records through the JSON writer
 * of report.h (to a temporary file), then read back with json-c and given
 * the "queue" section (top level: the listing and every destination;
 * hosts[].queue: that host's destinations) before it is written where -o
 * says. A broken line stops the reading: what was read before it is
 * reported (the document says "complete": false in "queue") and the exit
 * code is 2 with one line "mailhole: FILE line N: ...".
 */
#include <errno.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/common.h"
#include "mailhole/host.h"
#include "mailhole/mta.h"
#include "mailhole/policy.h"
#include "mailhole/queue.h"
#include "mailhole/render.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"
#include "mailhole/target.h"

#define QUEUE_INPUT_MAX (256u * 1024 * 1024) /* a listing larger than this is refused */
#define HOSTS_FILE_MAX  (16u * 1024 * 1024)

struct queue_config {
	const char *input;    /* path or "-" */
	int format;           /* enum mh_queue_format */
	const char *out_json; /* NULL: none; "-": stdout */
	const char *policy;
	const char *hosts;   /* --hosts FILE */
	const char *main_cf; /* --main-cf FILE */
	int64_t lifetime;    /* --queue-lifetime, -1 = MTA default */
	int64_t now;         /* --now, -1 = the clock */
	int fail_on;
	bool quiet;
	char command_line[2048];
};

static void queue_usage(FILE *f)
{
	fputs("usage: mailhole queue FILE|- [OPTIONS]\n"
	      "\n"
	      "A relay's queue listing -> mail deferred to fleet hosts (relay-queue-black-hole).\n"
	      "FILE is the output of `postqueue -j` (Postfix), `mailq` (Sendmail, -Ac too) or\n"
	      "`exim -bp` (Exim); '-' reads standard input. The format is detected unless\n"
	      "--format names it.\n"
	      "\n"
	      "  --format F             postfix-json, sendmail-mailq or exim\n"
	      "  --policy FILE          the fleet policy: its \"domain\" names the fleet\n"
	      "                         (hosts under it), severities, suppressions\n"
	      "  --hosts FILE           fleet host FQDNs, one a line (as mailhole probe takes)\n"
	      "  -o FILE                the JSON document ('-' = stdout, then no table)\n"
	      "  --queue-lifetime SECS  when the relay gives up (default: the MTA's: Postfix\n"
	      "                         and Sendmail 5 days, Exim's default retry rule 4 days)\n"
	      "  --main-cf FILE         the relay's Postfix main.cf: maximal_queue_lifetime and\n"
	      "                         delay_warning_time from it\n"
	      "  --now EPOCH            the time the listing was taken (default: now); Exim's\n"
	      "                         ages and Sendmail's dates are read against it\n"
	      "  --fail-on SEVERITY     exit 1 on findings at or above it (default high; none)\n"
	      "  --quiet                no table\n"
	      "\n"
	      "Exit: 0 nothing at or above --fail-on, 1 findings, 2 bad usage or a bad line\n"
	      "in the listing (what was read before it is still reported), 3 runtime failure.\n",
	      f);
}

/* 1: --help; 0: parsed; MH_EINVAL with err. */
static int queue_parse(struct queue_config *c, int argc, char **argv, char *err, size_t errlen)
{
	static const char *const valued[] = {"-o",      "--output",         "--format",
	                                     "--policy", "--hosts",         "--main-cf",
	                                     "--queue-lifetime", "--now",   "--fail-on",
	                                     NULL};
	int rc;

	mh_join_argv(c->command_line, sizeof(c->command_line), argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		char name[64];
		uint64_t n;
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		if ((rc = mh_opt_next(argc, argv, &i, valued, name, sizeof(name), &v, err,
		                      errlen)) < 0)
			return rc;
		if (rc == 0) {
			if (c->input)
				return mh_err(err, errlen, MH_EINVAL,
				              "'%s' (argument %d): one queue listing only", a, i);
			c->input = a;
			continue;
		}
		if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
			c->out_json = v;
		} else if (!strcmp(name, "--format")) {
			c->format = mh_queue_format_parse(v);
			if (c->format < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --format '%s' (argument %d): not one of "
				              "postfix-json, sendmail-mailq, exim",
				              v, i);
		} else if (!strcmp(name, "--policy")) {
			c->policy = v;
		} else if (!strcmp(name, "--hosts")) {
			c->hosts = v;
		} else if (!strcmp(name, "--main-cf")) {
			c->main_cf = v;
		} else if (!strcmp(name, "--queue-lifetime")) {
			if (mh_parse_u64(v, 1, 10ull * 365 * 86400, &n) < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --queue-lifetime '%s' (argument %d): not a "
				              "number of seconds (1 .. 10 years)",
				              v, i);
			c->lifetime = (int64_t)n;
		} else if (!strcmp(name, "--now")) {
			if (mh_parse_u64(v, 1, 1ull << 40, &n) < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --now '%s' (argument %d): not a UNIX time", v,
				              i);
			c->now = (int64_t)n;
		} else if (!strcmp(name, "--fail-on")) {
			c->fail_on = mh_fail_on_parse(v);
			if (c->fail_on < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --fail-on '%s' (argument %d): not one of "
				              "critical, high, medium, low, info, none",
				              v, i);
		} else if (!strcmp(name, "--quiet") || !strcmp(name, "-q")) {
			c->quiet = true;
		} else {
			return mh_err(
			    err, errlen, MH_EINVAL,
			    "option '%s' (argument %d): unknown; try mailhole queue --help", name,
			    i);
		}
	}
	if (!c->input)
		return mh_err(err, errlen, MH_EINVAL,
		              "queue: no listing given (a FILE, or '-' for standard input)");
	return 0;
}

/* Standard input, whole, capped. */
static int read_stdin(char **out, size_t *len, char *err, size_t errlen)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	for (;;) {
		size_t r;
		if (n == cap) {
			char *nb;
			if (cap >= QUEUE_INPUT_MAX) {
				free(buf);
				return mh_err(err, errlen, MH_ELIMIT, "stdin: larger than %u bytes",
				              QUEUE_INPUT_MAX);
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return mh_err(err, errlen, MH_ENOMEM, "out of memory");
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, stdin);
		n += r;
		if (r == 0) {
			if (ferror(stdin)) {
				int e = errno;
				free(buf);
				return mh_err(err, errlen, MH_EIO, "stdin: %s", strerror(e));
			}
			break;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* The fleet's host names from --hosts: lower case, no trailing dot, sorted. */
struct name_list {
	char **v;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int load_hosts(const char *path, struct name_list *l, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, pos = 0, cap = 0;
	unsigned lineno = 0;
	int rc = mh_read_file(path, HOSTS_FILE_MAX, &buf, &len, err, errlen);

	if (rc < 0)
		return rc;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		char *name;
		pos += n + (nl ? 1 : 0);
		lineno++;
		while (n && (line[0] == ' ' || line[0] == '\t')) {
			line++;
			n--;
		}
		while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			n--;
		if (!n || line[0] == '#')
			continue;
		while (n > 1 && line[n - 1] == '.')
			n--;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)line[i];
			if (!(ch == '-' || ch == '.' || ch == '_' || (ch >= '0' && ch <= '9') ||
			      ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'))) {
				char shown[80];
				mh_sanitize_line(shown, sizeof(shown), line, n);
				rc = mh_err(
				    err, errlen, MH_EINVAL,
				    "%s line %u: '%s' is not a host name (FQDNs, one a line)", path,
				    lineno, shown);
				goto fail;
			}
		}
		if (n > 253) {
			rc = mh_err(err, errlen, MH_EINVAL, "%s line %u: host name longer than 253",
			            path, lineno);
			goto fail;
		}
		if (l->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nv = realloc(l->v, nc * sizeof(*nv));
			if (!nv)
				goto nomem;
			l->v = nv;
			cap = nc;
		}
		name = malloc(n + 1);
		if (!name)
			goto nomem;
		for (size_t i = 0; i < n; i++)
			name[i] =
			    (char)((line[i] >= 'A' && line[i] <= 'Z') ? line[i] | 0x20 : line[i]);
		name[n] = '\0';
		l->v[l->n++] = name;
	}
	free(buf);
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	return 0;
nomem:
	rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
fail:
	free(buf);
	names_free(l);
	return rc;
}

static bool in_hosts(const struct name_list *l, const char *domain)
{
	return l->n && bsearch(&domain, l->v, l->n, sizeof(*l->v), cmp_str) != NULL;
}

/*
 * maximal_queue_lifetime and delay_warning_time from a Postfix main.cf,
 * read by the Postfix reader (probes/mta_postfix.c) as Postfix reads it: the
 * last definition wins, $name expands as postconf does, and an unset one is
 * Postfix's default (5d, 0h).
 */
static int read_main_cf(const char *path, struct mh_queue_lifetime *lt, char *err, size_t errlen)
{
	struct mh_mta_config *mc = NULL;
	char *buf = NULL;
	size_t len = 0;
	int64_t v;
	int rc;

	rc = mh_read_file(path, 1024 * 1024, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	mc = malloc(sizeof(*mc));
	if (!mc) {
		rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
		goto out;
	}
	mh_mta_config_init(mc);
	rc = mh_postfix_main_parse(buf, len, path, "localhost", mc, err, errlen);
	if (rc < 0)
		goto out;
	for (unsigned i = 0; i < mc->nsettings; i++) {
		const char *val = mc->settings[i].value;
		if (!strcmp(mc->settings[i].where, "default"))
			continue; /* not in this main.cf: the MTA's default stays as it is */
		if (!strcmp(mc->settings[i].key, "maximal_queue_lifetime") && val[0]) {
			if (mh_queue_postfix_time(val, 'd', &v) < 0) {
				rc = mh_err(err, errlen, MH_EINVAL,
				            "%s: maximal_queue_lifetime = %.60s: not a time", path,
				            val);
				goto out;
			}
			lt->lifetime_s = v;
			lt->lifetime_source = "main.cf maximal_queue_lifetime";
		} else if (!strcmp(mc->settings[i].key, "delay_warning_time") && val[0]) {
			if (mh_queue_postfix_time(val, 'h', &v) < 0) {
				rc =
				    mh_err(err, errlen, MH_EINVAL,
				           "%s: delay_warning_time = %.60s: not a time", path, val);
				goto out;
			}
			lt->warn_s = v;
			lt->warn_source = v ? "main.cf delay_warning_time"
			                    : "main.cf delay_warning_time (0: no warning)";
		}
	}
	rc = 0;
out:
	free(mc);
	free(buf);
	return rc;
}

static void rfc3339(int64_t t, char *buf, size_t size)
{
	if (mh_rfc3339(t, buf, size) < 0)
		mh_strlcpy(buf, "?", size);
}

/* "4d 21h", "2h 5m", "12m", "30s" */
static void span(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, size, "%lldd %lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, size, "%lldh %lldm", (long long)(s / 3600),
		         (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, size, "%llds", (long long)s);
}

/* What a destination becomes in the report. */
struct dest_view {
	const struct mh_queue_dest *d;
	bool fleet;
	bool black_hole; /* refused / timed out (or Exim: waiting) */
	bool have_addr;
	struct mh_addr addr;
	const char *addr_from; /* "delay reason", "resolved", NULL */
	struct mh_host *host;  /* the record it went into, or NULL */
	bool excluded;         /* a finding, but the policy excludes the host */
	char evidence[256];
};

static unsigned black_hole_count(const struct mh_queue_dest *d)
{
	return d->by_reason[MH_QREASON_REFUSED] + d->by_reason[MH_QREASON_TIMEOUT] +
	       d->by_reason[MH_QREASON_UNKNOWN];
}

static const char *product_of(enum mh_queue_format f)
{
	switch (f) {
	case MH_QUEUE_POSTFIX_JSON:
		return "postfix";
	case MH_QUEUE_SENDMAIL_MAILQ:
		return "sendmail";
	case MH_QUEUE_EXIM:
		return "exim";
	case MH_QUEUE_AUTO:
		break;
	}
	return NULL;
}

/* snprintf for text that may be cut at the buffer's end (evidence is one bounded line). */
static void put_text(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_text(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

static void make_evidence(struct dest_view *v, const struct mh_queue *q,
                          const struct mh_queue_lifetime *lt, int64_t now)
{
	const struct mh_queue_dest *d = v->d;
	char since[32], age[32], gives[32], left[32], classes[96] = "", warn[96];
	size_t cl = 0;

	for (int c = MH_QREASON_REFUSED; c < MH_QREASON_COUNT; c++)
		if (d->by_reason[c] && cl < sizeof(classes))
			cl += (size_t)snprintf(classes + cl, sizeof(classes) - cl, "%s%u %s",
			                       cl ? ", " : "", d->by_reason[c],
			                       mh_queue_reason_name((enum mh_queue_reason)c));
	if (lt->warn_s == 0)
		snprintf(warn, sizeof(warn), "no delay warning to senders (%s)",
		         q->format == MH_QUEUE_POSTFIX_JSON ? "delay_warning_time = 0" : "off");
	else if (lt->warn_s > 0) {
		span(lt->warn_s, age, sizeof(age));
		snprintf(warn, sizeof(warn), "senders warned after %s", age);
	} else
		warn[0] = '\0';
	if (d->oldest >= 0) {
		rfc3339(d->oldest, since, sizeof(since));
		span(now - d->oldest, age, sizeof(age));
		rfc3339(d->oldest + lt->lifetime_s, gives, sizeof(gives));
		span(d->oldest + lt->lifetime_s - now, left, sizeof(left));
		put_text(v->evidence, sizeof(v->evidence),
		         "%u recipient%s in %u message%s (%s), oldest %s (%s old); %s gives up "
		         "%s (in %s); %s",
		         d->recipients, d->recipients == 1 ? "" : "s", d->messages,
		         d->messages == 1 ? "" : "s", classes, since, age,
		         product_of(q->format) ? product_of(q->format) : "the relay", gives, left,
		         warn);
	} else {
		put_text(v->evidence, sizeof(v->evidence),
		         "%u recipient%s in %u message%s (%s); %s", d->recipients,
		         d->recipients == 1 ? "" : "s", d->messages, d->messages == 1 ? "" : "s",
		         classes, warn);
	}
}

/* Address of a name (first IPv4, else the first); false when none. */
static bool resolve(const char *name, struct mh_addr *out, char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *pick = NULL;
	int e = getaddrinfo(name, NULL, &hints, &res);

	if (e != 0) {
		mh_strlcpy(why, gai_strerror(e), whylen);
		return false;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (!pick || (ai->ai_family == AF_INET && pick->ai_family != AF_INET))
			pick = ai;
	e = pick ? mh_addr_from_sockaddr(pick->ai_addr, out) : -1;
	freeaddrinfo(res);
	if (e < 0) {
		mh_strlcpy(why, "no usable address", whylen);
		return false;
	}
	return true;
}

static struct json_object *jstr(const char *s)
{
	return s ? mh_json_string(s, strlen(s)) : NULL;
}

static struct json_object *dest_json(const struct dest_view *v, const struct mh_queue_lifetime *lt,
                                     int64_t now)
{
	const struct mh_queue_dest *d = v->d;
	struct json_object *o = json_object_new_object(), *r = json_object_new_object();
	char buf[MH_ADDR_STRLEN + 32];

	json_object_object_add(o, "domain", jstr(d->domain));
	json_object_object_add(o, "fleet", json_object_new_boolean(v->fleet));
	if (v->have_addr)
		mh_addr_format(&v->addr, buf, sizeof(buf));
	json_object_object_add(o, "addr", v->have_addr ? jstr(buf) : NULL);
	json_object_object_add(o, "addr_from", jstr(v->addr_from));
	json_object_object_add(o, "messages", json_object_new_int64(d->messages));
	json_object_object_add(o, "recipients", json_object_new_int64(d->recipients));
	for (int c = MH_QREASON_REFUSED; c < MH_QREASON_COUNT; c++)
		if (d->by_reason[c])
			json_object_object_add(r, mh_queue_reason_name((enum mh_queue_reason)c),
			                       json_object_new_int64(d->by_reason[c]));
	json_object_object_add(o, "reasons", r);
	json_object_object_add(o, "reason_class", jstr(mh_queue_reason_name(d->why)));
	json_object_object_add(o, "reason", jstr(d->reason));
	if (d->oldest >= 0) {
		rfc3339(d->oldest, buf, sizeof(buf));
		json_object_object_add(o, "oldest_arrival", jstr(buf));
		json_object_object_add(o, "oldest_age_s", json_object_new_int64(now - d->oldest));
		rfc3339(d->oldest + lt->lifetime_s, buf, sizeof(buf));
		json_object_object_add(o, "gives_up_at", jstr(buf));
		json_object_object_add(o, "gives_up_in_s",
		                       json_object_new_int64(d->oldest + lt->lifetime_s - now));
	} else {
		json_object_object_add(o, "oldest_arrival", NULL);
		json_object_object_add(o, "oldest_age_s", NULL);
		json_object_object_add(o, "gives_up_at", NULL);
		json_object_object_add(o, "gives_up_in_s", NULL);
	}
	json_object_object_add(o, "finding", v->host ? jstr("relay-queue-black-hole") : NULL);
	if (v->excluded)
		json_object_object_add(o, "excluded", json_object_new_boolean(true));
	return o;
}

/*
 * The "queue" section (docs/schema.md): the listing, the relay's lifetime
 * and warning, and every destination.
 */
static struct json_object *queue_json(const struct queue_config *c, const struct mh_queue *q,
                                      const struct dest_view *views, size_t nv,
                                      const struct mh_queue_lifetime *lt, int64_t now,
                                      const char *parse_error)
{
	struct json_object *o = json_object_new_object(), *l = json_object_new_object();
	struct json_object *dests = json_object_new_array();
	uint64_t rcpts = 0, waiting = 0;
	char buf[32];

	for (size_t i = 0; q && i < q->nmsgs; i++) {
		rcpts += q->msgs[i].nrcpts;
		for (size_t k = 0; k < q->msgs[i].nrcpts; k++)
			waiting += !q->msgs[i].rcpts[k].delivered &&
			           q->msgs[i].rcpts[k].why != MH_QREASON_NONE;
	}
	json_object_object_add(o, "source", jstr(strcmp(c->input, "-") ? c->input : "stdin"));
	json_object_object_add(o, "format", jstr(mh_queue_format_name(q->format)));
	json_object_object_add(o, "format_detected", json_object_new_boolean(q->detected));
	json_object_object_add(o, "client_queue", json_object_new_boolean(q->client_queue));
	rfc3339(now, buf, sizeof(buf));
	json_object_object_add(o, "taken", jstr(buf));
	json_object_object_add(o, "complete", json_object_new_boolean(parse_error == NULL));
	json_object_object_add(o, "error", jstr(parse_error));
	json_object_object_add(o, "messages", json_object_new_uint64(q->nmsgs));
	json_object_object_add(o, "recipients", json_object_new_uint64(rcpts));
	json_object_object_add(o, "waiting", json_object_new_uint64(waiting));
	json_object_object_add(l, "seconds", json_object_new_int64(lt->lifetime_s));
	json_object_object_add(l, "source", jstr(lt->lifetime_source));
	json_object_object_add(l, "warn_after_s",
	                       lt->warn_s >= 0 ? json_object_new_int64(lt->warn_s) : NULL);
	json_object_object_add(l, "warn_source", jstr(lt->warn_source));
	json_object_object_add(l, "warns",
	                       lt->warn_s >= 0 ? json_object_new_boolean(lt->warn_s > 0) : NULL);
	json_object_object_add(o, "lifetime", l);
	for (size_t i = 0; i < nv; i++)
		json_object_array_add(dests, dest_json(&views[i], lt, now));
	json_object_object_add(o, "destinations", dests);
	return o;
}

/* The host records (findings) in views, deduplicated by address. */
struct host_set {
	struct mh_host **h;
	const char ***names; /* per host: NULL-terminated, the strings borrowed from views */
	size_t n;
};

static void host_set_free(struct host_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		mh_host_free(&s->h[i]);
		free(s->names[i]);
	}
	free(s->h);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

static int add_finding(struct host_set *s, struct dest_view *v, const char *product, size_t nv)
{
	const struct mh_rule *rule = mh_rule_find("relay-queue-black-hole");
	struct mh_host *h = NULL;
	size_t i, k;

	for (i = 0; i < s->n && !h; i++)
		if (mh_addr_cmp(&s->h[i]->addr, &v->addr) == 0)
			h = s->h[i];
	if (!h) {
		struct mh_host **nh = realloc(s->h, (s->n + 1) * sizeof(*nh));
		const char ***nn;
		if (!nh)
			return MH_ENOMEM;
		s->h = nh;
		nn = realloc(s->names, (s->n + 1) * sizeof(*nn));
		if (!nn)
			return MH_ENOMEM;
		s->names = nn;
		/* room for every destination's name plus the NULL */
		s->names[s->n] = calloc(nv + 1, sizeof(**nn));
		h = mh_host_new(&v->addr);
		if (!h || !s->names[s->n]) {
			mh_host_free(&h);
			free(s->names[s->n]);
			return MH_ENOMEM;
		}
		h->names = s->names[s->n];
		s->h[s->n++] = h;
		i = s->n;
	}
	for (k = 0; s->names[i - 1][k]; k++)
		;
	s->names[i - 1][k] = v->d->domain;
	if (rule && h->nfindings < MH_MAX_FINDINGS) {
		struct mh_finding *f = &h->findings[h->nfindings++];
		memset(f, 0, sizeof(*f));
		f->rule = rule;
		f->severity = (int)rule->severity;
		put_text(f->evidence, sizeof(f->evidence), "%s: %s", v->d->domain, v->evidence);
		f->remediation = mh_rule_remediation(rule, product);
	}
	v->host = h;
	return 0;
}

static void print_table(const struct mh_queue *q, const struct dest_view *v, size_t nv,
                        const struct mh_queue_lifetime *lt, int64_t now)
{
	char age[32], shown[80];

	printf("queue: %s (%s%s), %zu message%s\n", mh_queue_format_name(q->format),
	       q->detected ? "detected" : "--format", q->client_queue ? ", MSP client queue" : "",
	       q->nmsgs, q->nmsgs == 1 ? "" : "s");
	span(lt->lifetime_s, age, sizeof(age));
	printf("gives up after %s (%s); %s\n", age, lt->lifetime_source,
	       lt->warn_s == 0 ? "warns no one" : "warns senders of delays");
	if (!nv) {
		printf("no recipient waits\n");
		return;
	}
	printf("%-40s %5s %5s  %-18s %-9s %s\n", "destination", "rcpts", "msgs", "reason", "oldest",
	       "");
	for (size_t i = 0; i < nv; i++) {
		const struct mh_queue_dest *d = v[i].d;
		mh_sanitize_line(shown, sizeof(shown), d->domain, strlen(d->domain));
		if (d->oldest >= 0)
			span(now - d->oldest, age, sizeof(age));
		else
			mh_strlcpy(age, "-", sizeof(age));
		printf("%-40s %5u %5u  %-18s %-9s %s\n", shown[0] ? shown : "(no domain)",
		       d->recipients, d->messages, mh_queue_reason_name(d->why), age,
		       v[i].host ? "relay-queue-black-hole" : (v[i].fleet ? "fleet" : ""));
	}
}

/* The document: host records through the writer, then the queue section added. */
static int write_document(const struct queue_config *c, struct mh_run_meta *meta,
                          const struct host_set *hs, struct json_object *qsec,
                          const struct dest_view *views, size_t nv,
                          const struct mh_queue_lifetime *lt, int64_t now, char *err, size_t errlen)
{
	char tmp[4096];
	void *wctx = NULL;
	struct json_object *doc = NULL, *hosts;
	const char *text;
	int fd, rc;

	mh_strlcpy(tmp, "/tmp/mailhole-queue-XXXXXX", sizeof(tmp));
	fd = mkstemp(tmp);
	if (fd < 0)
		return mh_err(err, errlen, MH_EIO, "temporary document: %s", strerror(errno));
	close(fd);
	rc = mh_writer_json.open(&wctx, tmp, err, errlen);
	for (size_t i = 0; rc == 0 && i < hs->n; i++)
		rc = mh_writer_json.host(wctx, hs->h[i], err, errlen);
	if (wctx) {
		char e2[MH_ERRLEN];
		int rc2;
		mh_rfc3339_now(meta->finished, sizeof(meta->finished));
		rc2 = mh_writer_json.close(wctx, meta, e2, sizeof(e2));
		if (rc == 0 && rc2 < 0)
			rc = mh_err(err, errlen, rc2, "%s", e2);
	}
	if (rc == 0)
		rc = mh_doc_load(tmp, &doc, err, errlen);
	unlink(tmp);
	if (rc < 0)
		return rc;
	hosts = mh_doc_array(doc, "hosts");
	for (size_t i = 0; hosts && i < json_object_array_length(hosts); i++) {
		struct json_object *ho = json_object_array_get_idx(hosts, i);
		struct json_object *hq = json_object_new_array();
		for (size_t k = 0; k < nv; k++)
			if (views[k].host && i < hs->n && views[k].host == hs->h[i])
				json_object_array_add(hq, dest_json(&views[k], lt, now));
		json_object_object_add(ho, "queue", hq);
	}
	json_object_object_add(doc, "queue", json_object_get(qsec));
	text =
	    json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                            JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!strcmp(c->out_json, "-")) {
		rc = printf("%s\n", text) < 0 || fflush(stdout) != 0
		         ? mh_err(err, errlen, MH_EIO, "output '-': write failed")
		         : 0;
	} else {
		size_t len = strlen(text);
		char *withnl = malloc(len + 2);
		if (!withnl) {
			rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
		} else {
			memcpy(withnl, text, len);
			withnl[len] = '\n';
			rc = mh_write_file_atomic(c->out_json, withnl, len + 1, err, errlen);
			free(withnl);
		}
	}
	json_object_put(doc);
	return rc;
}

/*
 * The policy's "exclude" (addresses, CIDR, ranges, names; names resolved
 * as every exclude is): host records it covers are dropped, their
 * destinations marked "excluded". 0, or the error of a bad exclude.
 */
static int apply_excludes(const struct mh_policy *p, struct host_set *hs, struct dest_view *v,
                          size_t nv, char *err, size_t errlen)
{
	struct mh_targets *t = NULL;
	char a[MH_ADDR_STRLEN];
	size_t keep = 0;
	uint64_t n;
	int rc;

	if (!p || !hs->n)
		return 0;
	if ((rc = mh_targets_new(&t, true)) < 0)
		return mh_err(err, errlen, rc, "out of memory");
	for (size_t i = 0; i < hs->n && rc == 0; i++) {
		mh_addr_format(&hs->h[i]->addr, a, sizeof(a));
		rc = mh_targets_add(t, a, "queue", err, errlen);
	}
	if (rc == 0)
		rc = mh_policy_add_excludes(p, t, err, errlen);
	if (rc == 0)
		rc = mh_targets_finalize(t, err, errlen);
	if (rc < 0) {
		mh_targets_free(&t);
		return rc;
	}
	n = mh_targets_count(t);
	for (size_t i = 0; i < hs->n; i++) {
		bool in = false;
		for (uint64_t k = 0; k < n && !in; k++) {
			struct mh_addr x;
			mh_targets_get(t, k, &x);
			in = mh_addr_cmp(&x, &hs->h[i]->addr) == 0;
		}
		if (in) {
			hs->h[keep] = hs->h[i];
			hs->names[keep++] = hs->names[i];
			continue;
		}
		for (size_t k = 0; k < nv; k++)
			if (v[k].host == hs->h[i]) {
				v[k].host = NULL;
				v[k].excluded = true;
			}
		mh_host_free(&hs->h[i]);
		free(hs->names[i]);
	}
	hs->n = keep;
	mh_targets_free(&t);
	return 0;
}

int mh_cmd_queue(int argc, char **argv)
{
	struct queue_config c = {.fail_on = MH_SEV_HIGH, .lifetime = -1, .now = -1};
	struct mh_run_meta meta = {.command = "queue"};
	struct mh_policy *policy = NULL;
	struct mh_queue *q = NULL;
	struct mh_queue_dest *dests = NULL;
	struct dest_view *views = NULL;
	struct host_set hs = {0};
	struct name_list fleet = {0};
	struct mh_queue_lifetime lt;
	struct json_object *qsec = NULL;
	char err[MH_ERRLEN] = "", perr[MH_ERRLEN] = "", today[16];
	char *buf = NULL;
	size_t len = 0, nd = 0;
	const char *domain;
	uint64_t t0 = mh_now_ms();
	unsigned failing = 0;
	int64_t now;
	int rc, code = MH_EXIT_OK;
	bool parse_failed = false;

	rc = queue_parse(&c, argc, argv, err, sizeof(err));
	if (rc == 1) {
		queue_usage(stdout);
		return MH_EXIT_OK;
	}
	if (rc < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		return MH_EXIT_USAGE;
	}
	meta.command_line = c.command_line;
	mh_rfc3339_now(meta.started, sizeof(meta.started));
	mh_today(today, sizeof(today));
	now = c.now >= 0 ? c.now : (int64_t)time(NULL);
	if (c.policy && mh_policy_load(c.policy, &policy, err, sizeof(err)) < 0)
		goto usage;
	/* a bad output path is bad usage, found before any work */
	if (mh_output_check(c.out_json, err, sizeof(err)) < 0)
		goto usage;
	if (c.hosts && load_hosts(c.hosts, &fleet, err, sizeof(err)) < 0)
		goto usage;
	if (!strcmp(c.input, "-"))
		rc = read_stdin(&buf, &len, err, sizeof(err));
	else
		rc = mh_read_file(c.input, QUEUE_INPUT_MAX, &buf, &len, err, sizeof(err));
	if (rc < 0)
		goto usage;

	rc = mh_queue_parse(buf, len, (enum mh_queue_format)c.format, c.input, now, &q, perr,
	                    sizeof(perr));
	if (rc == MH_ENOMEM || !q) {
		if (rc == MH_ENOMEM) {
			mh_log_error("out of memory");
			goto runtime;
		}
		mh_strlcpy(err, perr, sizeof(err));
		goto usage;
	}
	if (rc < 0) {
		/* kept: what was read before the bad line is still reported */
		parse_failed = true;
		if (rc == MH_ENOMEM) {
			mh_log_error("out of memory");
			goto runtime;
		}
	}
	mh_queue_lifetime_default(q->format, &lt);
	if (c.main_cf) {
		if (read_main_cf(c.main_cf, &lt, err, sizeof(err)) < 0)
			goto usage;
		if (q->format != MH_QUEUE_POSTFIX_JSON)
			mh_log_warn("--main-cf %s: a Postfix file, but the listing is %s",
			            c.main_cf, mh_queue_format_name(q->format));
	}
	if (c.lifetime > 0) {
		lt.lifetime_s = c.lifetime;
		lt.lifetime_source = "--queue-lifetime";
	}
	if (mh_queue_group(q, &dests, &nd) < 0) {
		mh_log_error("out of memory");
		goto runtime;
	}
	views = calloc(nd ? nd : 1, sizeof(*views));
	if (!views) {
		mh_log_error("out of memory");
		goto runtime;
	}
	/* warnings only about a listing read whole: a broken one gets its one line */
	if (parse_failed || nd == 0)
		;
	else if (!policy && !c.hosts)
		mh_log_warn("no --policy domain and no --hosts: no destination is known as a fleet "
		            "host, so nothing can be a finding");
	else if (!c.hosts && !mh_policy_domain(policy))
		mh_log_warn("the policy names no \"domain\" and no --hosts is given: no "
		            "destination is known as a fleet host");
	domain = mh_policy_domain(policy);
	for (size_t i = 0; i < nd; i++) {
		struct dest_view *v = &views[i];
		char why[128];
		v->d = &dests[i];
		v->fleet = mh_queue_host_under(dests[i].domain, domain) ||
		           in_hosts(&fleet, dests[i].domain);
		v->black_hole = v->fleet && black_hole_count(&dests[i]) > 0;
		if (dests[i].have_addr) {
			v->addr = dests[i].addr;
			v->have_addr = true;
			v->addr_from = "delay reason";
		}
		if (!v->black_hole)
			continue;
		if (!v->have_addr) {
			if (resolve(dests[i].domain, &v->addr, why, sizeof(why))) {
				v->have_addr = true;
				v->addr_from = "resolved";
			} else {
				char shown[300];
				mh_sanitize_line(shown, sizeof(shown), dests[i].domain,
				                 strlen(dests[i].domain));
				mh_log_warn(
				    "%s: left out of the host records: no address in the delay "
				    "reason and the name does not resolve (%s)",
				    shown, why);
				continue;
			}
		}
		make_evidence(v, q, &lt, now);
		if (add_finding(&hs, v, product_of(q->format), nd) < 0) {
			mh_log_error("out of memory");
			goto runtime;
		}
	}
	if (apply_excludes(policy, &hs, views, nd, err, sizeof(err)) < 0)
		goto usage;
	for (size_t i = 0; i < hs.n; i++) {
		struct mh_host *h = hs.h[i];
		h->mail_server = mh_policy_is_mail_server(policy, &h->addr, h->names);
		mh_policy_apply(h, policy, today);
		for (unsigned k = 0; k < h->nfindings; k++)
			if (!h->findings[k].suppressed && (int)h->findings[k].severity <= c.fail_on)
				failing++;
	}
	qsec = queue_json(&c, q, views, nd, &lt, now, parse_failed ? perr : NULL);
	if (!qsec) {
		mh_log_error("out of memory");
		goto runtime;
	}
	if (!c.quiet && !(c.out_json && !strcmp(c.out_json, "-"))) {
		print_table(q, views, nd, &lt, now);
		fflush(stdout);
	}
	if (c.out_json) {
		meta.duration_s = (double)(mh_now_ms() - t0) / 1000.0;
		meta.complete = !parse_failed;
		if (write_document(&c, &meta, &hs, qsec, views, nd, &lt, now, err, sizeof(err)) <
		    0) {
			mh_log_error("%s", err);
			goto runtime;
		}
	}
	if (parse_failed) {
		fprintf(stderr, "mailhole: %s\n", perr);
		code = MH_EXIT_USAGE;
	} else {
		code = failing ? MH_EXIT_FINDINGS : MH_EXIT_OK;
	}
	goto out;
usage:
	fprintf(stderr, "mailhole: %s\n", err);
	code = MH_EXIT_USAGE;
	goto out;
runtime:
	code = MH_EXIT_RUNTIME;
out:
	json_object_put(qsec);
	host_set_free(&hs);
	free(views);
	mh_queue_dests_free(&dests, nd);
	mh_queue_free(&q);
	names_free(&fleet);
	mh_policy_free(&policy);
	free(buf);
	return code;
}
