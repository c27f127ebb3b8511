/*
 * main.c -- the mailhole program: command-line parsing into a config that is
 * const from then on, signal handling, and the commands.
 *
 * Only this file exits. Every input error ends here as one line on stderr,
 * "mailhole: <what> (<where>): <why>", and exit code 2.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/common.h"
#include "mailhole/engine.h"
#include "mailhole/policy.h"
#include "mailhole/probe_smtp.h"
#include "mailhole/render.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"
#include "mailhole/target.h"

static atomic_int stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/*
	 * Repeated signals change nothing: the stop is bounded (a second at
	 * most for connections in flight), and supervisors such as timeout(1)
	 * deliver the same signal twice (to the child and to its group).
	 */
	sa.sa_flags = 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Everything the command line says; const once parsed. */
struct mh_config {
	const char *command;
	struct mh_scan_opts scan;
	struct mh_targets *targets;
	const char *out_json;
	const char *out_jsonl;
	const char *out_html;
	struct mh_policy *policy; /* NULL without --policy */
	char today[16];           /* for suppressions' expiry */
	bool quiet;
	bool seed_given;
	int fail_on; /* enum mh_severity; MH_SEV_COUNT = none */
	char command_line[2048];
};

static void usage(FILE *f)
{
	fputs("usage: mailhole [COMMAND] [OPTIONS]\n"
	      "\n"
	      "commands:\n"
	      "  audit (default)    sweep this host's own addresses and loopback on 25, 465, 587\n"
	      "  scan TARGETS...    sweep addresses, CIDR blocks, ranges, names\n"
	      "  local              this host from inside: interfaces x ports, listeners\n"
	      "  queue FILE|-       a relay's queue listing: mail deferred to fleet hosts\n"
	      "  probe [send|collect]  tagged probes through the relay, verdicts from the\n"
	      "                     collector mailbox (mailhole probe --help)\n"
	      "  report IN.json...  merge documents; render --html, --junit, --sarif, --text\n"
	      "  diff OLD NEW       new, fixed and unchanged findings; exit 1 on new ones\n"
	      "\n"
	      "scan options:\n"
	      "  -p PORTS              ports, e.g. 25 or 25,465,587 (default 25)\n"
	      "  -o FILE               the JSON document (atomic write; '-' = stdout)\n"
	      "  --jsonl FILE|-        host records as they finish, one a line\n"
	      "  -iL FILE              targets from a file ('#' comments; '-' = stdin)\n"
	      "  --exclude SPEC        leave out an address, CIDR, range or name (repeatable)\n"
	      "  --exclude-file FILE   leave out every spec of a file\n"
	      "  --threads N           worker threads (default: cores)\n"
	      "  --concurrency N       connections in flight (default 2048)\n"
	      "  --rate N              new connections a second, 0 = unlimited (default 20000)\n"
	      "  --timeout MS          connect timeout and per-reply deadline (default 1000)\n"
	      "  --session-timeout MS  deadline of a whole SMTP session (default 10000; --vrfy\n"
	      "                        adds 15000, --relay-test 60000, its DATA 15000 more)\n"
	      "  --retries N           connect retries after a timeout (default 1)\n"
	      "  --ehlo-name NAME      the name sent in EHLO (default mailhole.invalid)\n"
	      "  --shard K/N           take shard K of N (needs --seed)\n"
	      "  --seed N              order of the sweep (default: random, recorded)\n"
	      "  --allow-public        allow addresses outside private and lab space\n"
	      "  --all                 report hosts with no open port too\n"
	      "  --policy FILE         mail servers, severities, excludes, suppressions (JSON)\n"
	      "  --html FILE           the HTML report (self-contained)\n"
	      "  --no-smtp             record port states only, hold no SMTP session\n"
	      "  --no-starttls         do not try STARTTLS where EHLO offers it\n"
	      "  --vrfy                ask VRFY / EXPN about root and a name that cannot exist\n"
	      "  --relay-test          try 16 open-relay tricks toward the policy's\n"
	      "                        relay_test_domain (MAIL, RCPT, RSET; never DATA)\n"
	      "  --relay-test-data     and send a tagged message through the first accepted one\n"
	      "  --fail-on SEVERITY    exit 1 on findings at or above it (default high)\n"
	      "  --quiet               no progress line\n"
	      "  -v, --verbose         more messages on stderr\n"
	      "  --version, -h --help\n",
	      f);
}

/* Parses a port list: "25", "25,465,587", "25-27". */
static int parse_ports(const char *s, struct mh_scan_opts *o, char *err, size_t errlen)
{
	char buf[256];
	char *save = NULL;

	if (mh_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
		return mh_err(err, errlen, MH_EINVAL, "-p '%s': too long", s);
	o->nports = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t lo, hi;
		char *dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (mh_parse_u64(tok, 1, 65535, &lo) < 0 ||
		    (dash && mh_parse_u64(dash + 1, 1, 65535, &hi) < 0))
			return mh_err(err, errlen, MH_EINVAL, "-p '%s': not a port list", s);
		if (!dash)
			hi = lo;
		if (hi < lo)
			return mh_err(err, errlen, MH_EINVAL, "-p '%s': range end before start", s);
		for (uint64_t p = lo; p <= hi; p++) {
			bool dup = false;
			for (unsigned i = 0; i < o->nports; i++)
				dup |= o->ports[i] == p;
			if (dup)
				continue;
			if (o->nports == MH_MAX_PORTS)
				return mh_err(err, errlen, MH_EINVAL,
					      "-p '%s': at most %d ports a sweep", s, MH_MAX_PORTS);
			o->ports[o->nports++] = (uint16_t)p;
		}
	}
	if (o->nports == 0)
		return mh_err(err, errlen, MH_EINVAL, "-p '%s': no port given", s);
	return 0;
}

static void join_argv(struct mh_config *c, int argc, char **argv)
{
	size_t off = 0;

	c->command_line[0] = '\0';
	for (int i = 0; i < argc && off + 1 < sizeof(c->command_line); i++) {
		int n = snprintf(c->command_line + off, sizeof(c->command_line) - off, "%s%s",
				 i ? " " : "", argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* The option's value: "--opt VALUE" or "--opt=VALUE". NULL (and err) when missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *eq, char *err,
			     size_t errlen)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc) {
		mh_err(err, errlen, MH_EINVAL, "option '%s' (argument %d): needs a value",
		       argv[*i], *i);
		return NULL;
	}
	return argv[++*i];
}

static int number_opt(const char *name, const char *v, uint64_t min, uint64_t max, uint64_t *out,
		      char *err, size_t errlen)
{
	if (mh_parse_u64(v, min, max, out) < 0)
		return mh_err(err, errlen, MH_EINVAL, "option %s '%s': not a number in %llu..%llu",
			      name, v, (unsigned long long)min, (unsigned long long)max);
	return 0;
}

/*
 * Parses the options of scan and audit. Positional arguments are targets
 * (refused for audit). `first` is the index of the first argument after the
 * command word; positions in messages count from there (argument 1).
 */
static int parse_args(struct mh_config *c, int argc, char **argv, int first, char *err,
		      size_t errlen)
{
	bool allow_public = false, relay_data = false;
	int rc, relay_pos = 0;
	char relay_opt[32] = "";

	/* allow_public must be known before any target is added */
	for (int i = first; i < argc; i++)
		if (strcmp(argv[i], "--allow-public") == 0)
			allow_public = true;
	if (strcmp(c->command, "audit") == 0)
		allow_public = true; /* the host's own addresses, whatever they are */
	rc = mh_targets_new(&c->targets, allow_public);
	if (rc < 0)
		return mh_err(err, errlen, rc, "out of memory");

	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v, *eq = NULL;
		char name[64];
		int pos = i - first + 1;
		uint64_t n;

		if (a[0] != '-' || strcmp(a, "-") == 0) {
			char origin[32];
			if (strcmp(c->command, "scan") != 0)
				return mh_err(err, errlen, MH_EINVAL,
					      "argument %d '%s': %s takes no targets", pos, a,
					      c->command);
			snprintf(origin, sizeof(origin), "argument %d", pos);
			rc = mh_targets_add(c->targets, a, origin, err, errlen);
			if (rc < 0)
				return rc;
			continue;
		}
		if (a[1] == '-' && (eq = strchr(a, '=')) != NULL) {
			size_t l = (size_t)(eq - a) < sizeof(name) - 1 ? (size_t)(eq - a)
								       : sizeof(name) - 1;
			memcpy(name, a, l);
			name[l] = '\0';
		} else {
			mh_strlcpy(name, a, sizeof(name));
		}
#define VALUE()                                                                            \
	do {                                                                               \
		v = opt_value(argc, argv, &i, eq, err, errlen);                            \
		if (!v)                                                                    \
			return MH_EINVAL;                                                  \
	} while (0)
		if (!strcmp(name, "-p") || !strcmp(name, "--ports")) {
			VALUE();
			if ((rc = parse_ports(v, &c->scan, err, errlen)) < 0)
				return rc;
		} else if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
			VALUE();
			c->out_json = v;
		} else if (!strcmp(name, "--jsonl")) {
			VALUE();
			c->out_jsonl = v;
		} else if (!strcmp(name, "-iL")) {
			VALUE();
			if ((rc = mh_targets_add_file(c->targets, v, false, err, errlen)) < 0)
				return rc;
		} else if (!strcmp(name, "--exclude")) {
			char origin[48];
			VALUE();
			snprintf(origin, sizeof(origin), "--exclude, argument %d", pos);
			if ((rc = mh_targets_exclude(c->targets, v, origin, err, errlen)) < 0)
				return rc;
		} else if (!strcmp(name, "--exclude-file") || !strcmp(name, "--excludefile")) {
			VALUE();
			if ((rc = mh_targets_add_file(c->targets, v, true, err, errlen)) < 0)
				return rc;
		} else if (!strcmp(name, "--threads")) {
			VALUE();
			if ((rc = number_opt(name, v, 1, 256, &n, err, errlen)) < 0)
				return rc;
			c->scan.threads = (unsigned)n;
		} else if (!strcmp(name, "--concurrency")) {
			VALUE();
			if ((rc = number_opt(name, v, 1, 1000000, &n, err, errlen)) < 0)
				return rc;
			c->scan.concurrency = (unsigned)n;
		} else if (!strcmp(name, "--rate")) {
			VALUE();
			if ((rc = number_opt(name, v, 0, 100000000, &n, err, errlen)) < 0)
				return rc;
			c->scan.rate = n;
		} else if (!strcmp(name, "--timeout")) {
			VALUE();
			if ((rc = number_opt(name, v, 1, 600000, &n, err, errlen)) < 0)
				return rc;
			c->scan.timeout_ms = (unsigned)n;
		} else if (!strcmp(name, "--session-timeout")) {
			VALUE();
			if ((rc = number_opt(name, v, 1, 600000, &n, err, errlen)) < 0)
				return rc;
			c->scan.session_ms = (unsigned)n;
		} else if (!strcmp(name, "--retries")) {
			VALUE();
			if ((rc = number_opt(name, v, 0, 10, &n, err, errlen)) < 0)
				return rc;
			c->scan.retries = (unsigned)n;
		} else if (!strcmp(name, "--ehlo-name")) {
			VALUE();
			if (!*v || strlen(v) > 255 || strpbrk(v, " \t\r\n"))
				return mh_err(err, errlen, MH_EINVAL,
					      "option --ehlo-name '%s': not a host name", v);
			c->scan.ehlo_name = v;
		} else if (!strcmp(name, "--shard")) {
			VALUE();
			if (mh_shard_parse(v, &c->scan.shard_k, &c->scan.shard_n) < 0)
				return mh_err(err, errlen, MH_EINVAL,
					      "option --shard '%s': not K/N with 1 <= K <= N", v);
		} else if (!strcmp(name, "--seed")) {
			VALUE();
			if ((rc = number_opt(name, v, 0, UINT64_MAX, &c->scan.seed, err, errlen)) <
			    0)
				return rc;
			c->seed_given = true;
		} else if (!strcmp(name, "--fail-on")) {
			VALUE();
			if ((c->fail_on = mh_fail_on_parse(v)) < 0)
				return mh_err(err, errlen, MH_EINVAL,
					      "option --fail-on '%s': not one of critical, high, "
					      "medium, low, info, none",
					      v);
		} else if (!strcmp(name, "--allow-public")) {
			/* handled above */
		} else if (!strcmp(name, "--all")) {
			c->scan.all_hosts = true;
		} else if (!strcmp(name, "--no-smtp")) {
			c->scan.smtp = false;
		} else if (!strcmp(name, "--no-starttls")) {
			c->scan.starttls = false;
		} else if (!strcmp(name, "--quiet") || !strcmp(name, "-q")) {
			c->quiet = true;
		} else if (!strcmp(name, "-v") || !strcmp(name, "--verbose")) {
			mh_log_set_level(MH_LOG_DEBUG);
		} else if (!strcmp(name, "--html")) {
			VALUE();
			c->out_html = v;
		} else if (!strcmp(name, "--policy")) {
			VALUE();
			mh_policy_free(&c->policy);
			if ((rc = mh_policy_load(v, &c->policy, err, errlen)) < 0)
				return rc;
		} else if (!strcmp(name, "--vrfy")) {
			c->scan.vrfy = true;
		} else if (!strcmp(name, "--relay-test") || !strcmp(name, "--relay-test-data")) {
			/* the domain comes from the policy, checked once all options are read */
			relay_pos = pos;
			mh_strlcpy(relay_opt, name, sizeof(relay_opt));
			relay_data |= !strcmp(name, "--relay-test-data");
		} else if (!strcmp(name, "--syn")) {
			return mh_err(err, errlen, MH_EINVAL,
				      "option %s (argument %d): not available in mailhole %s yet",
				      name, pos, MH_VERSION);
		} else {
			return mh_err(err, errlen, MH_EINVAL, "option '%s' (argument %d): unknown",
				      a, pos);
		}
#undef VALUE
	}
	if (relay_pos) {
		/* The open-relay test goes only toward the domain the policy names. */
		const char *d = mh_policy_relay_test_domain(c->policy);
		const char *own = mh_policy_domain(c->policy);
		if (!d)
			return mh_err(err, errlen, MH_EINVAL,
				      "option %s (argument %d): needs a policy with a "
				      "relay_test_domain (--policy FILE)",
				      relay_opt, relay_pos);
		if (!mh_relay_domain_valid(d, true))
			return mh_err(err, errlen, MH_EINVAL,
				      "option %s (argument %d): the policy's relay_test_domain '%s' "
				      "is not a host name of two labels or more",
				      relay_opt, relay_pos, d);
		c->scan.relay_domain = d;
		c->scan.own_domain = own && mh_relay_domain_valid(own, false) ? own : NULL;
		c->scan.relay_data = relay_data;
	}
	if (c->policy && (rc = mh_policy_add_excludes(c->policy, c->targets, err, errlen)) < 0)
		return rc;
	if (c->scan.shard_n > 1 && !c->seed_given)
		return mh_err(err, errlen, MH_EINVAL,
			      "option --shard: needs --seed, so that every shard walks the same "
			      "order");
	return 0;
}

/* Adds this host's own addresses (interfaces that are up) and loopback. */
static int add_own_addresses(struct mh_targets *t, char *err, size_t errlen)
{
	struct ifaddrs *ifa = NULL;
	int rc;

	rc = mh_targets_add(t, "127.0.0.1", "loopback", err, errlen);
	if (rc == 0)
		rc = mh_targets_add(t, "::1", "loopback", err, errlen);
	if (rc < 0)
		return rc;
	if (getifaddrs(&ifa) < 0)
		return mh_err(err, errlen, MH_EIO, "interfaces: %s", strerror(errno));
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		struct mh_addr a;
		char text[MH_ADDR_STRLEN], origin[64];
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
		    mh_addr_from_sockaddr(i->ifa_addr, &a) < 0)
			continue;
		mh_addr_format(&a, text, sizeof(text));
		snprintf(origin, sizeof(origin), "interface %s", i->ifa_name);
		rc = mh_targets_add(t, text, origin, err, errlen);
		if (rc < 0)
			break;
	}
	freeifaddrs(ifa);
	return rc;
}

struct run_ctx {
	const struct mh_config *c;
	const struct mh_writer_ops *ops[3];
	void *wctx[3];
	unsigned nwriters;
	int werr;
	char err[MH_ERRLEN];
	bool progress;
	uint64_t total;
	uint64_t failing; /* findings at or above --fail-on */
	bool text;        /* a line per host on stdout (audit) */
};

/* "127.0.0.1  25/tcp closed  465/tcp closed  587/tcp open (postfix)" */
static void print_host_line(const struct mh_host *h)
{
	char addr[MH_ADDR_STRLEN], line[512], safe[64];
	size_t off;

	mh_addr_format(&h->addr, addr, sizeof(addr));
	off = (size_t)snprintf(line, sizeof(line), "  %-28s %-13s", addr,
			       mh_exposure_name(mh_host_exposure(h)));
	for (unsigned i = 0; i < h->nports && off < sizeof(line); i++) {
		const struct mh_port *p = &h->ports[i];
		int n = snprintf(line + off, sizeof(line) - off, "  %u/tcp %s", p->port,
				 mh_port_state_name(p->state));
		if (n < 0)
			break;
		off += (size_t)n;
		if (p->smtp && p->mta.product && off < sizeof(line)) {
			mh_sanitize_line(safe, sizeof(safe), p->mta.product, strlen(p->mta.product));
			n = snprintf(line + off, sizeof(line) - off, " (%s)", safe);
			if (n > 0)
				off += (size_t)n;
		}
	}
	puts(line);
}

static void on_host(struct mh_host **h, void *ctx)
{
	struct run_ctx *r = ctx;

	(*h)->mail_server = mh_policy_is_mail_server(r->c->policy, &(*h)->addr, (*h)->names);
	mh_classify(*h);
	mh_policy_apply(*h, r->c->policy, r->c->today);
	if (r->text)
		print_host_line(*h);
	for (unsigned i = 0; i < (*h)->nfindings; i++)
		if (mh_finding_counts(&(*h)->findings[i]) &&
		    (*h)->findings[i].severity <= r->c->fail_on)
			r->failing++;
	for (unsigned i = 0; i < r->nwriters; i++) {
		if (r->wctx[i] && r->ops[i]->host(r->wctx[i], *h, r->err, sizeof(r->err)) < 0) {
			/* keep going with the other writers; report at the end */
			mh_log_error("%s", r->err);
			r->werr = MH_EIO;
		}
	}
}

static void on_progress(const struct mh_scan_stats *st, uint64_t elapsed_ms, void *ctx)
{
	struct run_ctx *r = ctx;
	double secs = (double)elapsed_ms / 1000.0;
	double rate = secs > 0 ? (double)st->hosts_done / secs : 0;
	double left = rate > 0 ? (double)(r->total - st->hosts_done) / rate : 0;

	if (!r->progress)
		return;
	fprintf(stderr, "\rmailhole: %llu/%llu hosts (%.1f%%), %llu open, %.0f hosts/s, ETA %.0fs   ",
		(unsigned long long)st->hosts_done, (unsigned long long)r->total,
		r->total ? 100.0 * (double)st->hosts_done / (double)r->total : 100.0,
		(unsigned long long)st->open, rate, left);
}

static int run_sweep(struct mh_config *c)
{
	struct run_ctx r = { .c = c };
	struct mh_scan_stats stats;
	struct mh_run_meta meta = { .command = c->command, .command_line = c->command_line };
	char err[MH_ERRLEN];
	uint64_t t0 = mh_now_ms(), nofile;
	int rc;

	rc = mh_targets_finalize(c->targets, err, sizeof(err));
	if (rc < 0) {
		mh_log_error("%s", err);
		return MH_EXIT_USAGE;
	}
	if (mh_targets_count(c->targets) == 0) {
		mh_log_error("no targets (give addresses, CIDR blocks, ranges, names or -iL FILE)");
		return MH_EXIT_USAGE;
	}
	c->scan.targets = c->targets;
	nofile = mh_raise_nofile();
	if (c->scan.concurrency + 64 > nofile) {
		unsigned fit = nofile > 128 ? (unsigned)(nofile - 64) : 64;
		mh_log_warn("concurrency %u lowered to %u to fit the open-files limit (%llu)",
			    c->scan.concurrency, fit, (unsigned long long)nofile);
		c->scan.concurrency = fit;
	}
	if (!c->seed_given) {
		if (getrandom(&c->scan.seed, sizeof(c->scan.seed), 0) != sizeof(c->scan.seed))
			c->scan.seed = mh_now_ns();
		/* within 2^53, so jq and JavaScript read the recorded seed back exactly */
		c->scan.seed &= (1ull << 53) - 1;
	}
	if (!c->out_json && !c->out_jsonl && !c->out_html)
		c->out_json = "-";
	/* The HTML is rendered from the document: a file, or a temporary one. */
	char html_src[4096] = "";
	bool html_tmp = false;
	if (c->out_html) {
		if (c->out_json && strcmp(c->out_json, "-") != 0 &&
		    mh_strlcpy(html_src, c->out_json, sizeof(html_src)) >= sizeof(html_src))
			html_src[0] = '\0';
		if (!html_src[0]) {
			int fd;
			mh_strlcpy(html_src, "/tmp/mailhole-doc-XXXXXX", sizeof(html_src));
			fd = mkstemp(html_src);
			if (fd < 0) {
				mh_log_error("temporary document for --html: %s", strerror(errno));
				return MH_EXIT_RUNTIME;
			}
			close(fd);
			html_tmp = true;
			r.ops[r.nwriters] = &mh_writer_json;
			if (mh_writer_json.open(&r.wctx[r.nwriters], html_src, err, sizeof(err)) < 0) {
				mh_log_error("%s", err);
				unlink(html_src);
				return MH_EXIT_RUNTIME;
			}
			r.nwriters++;
		}
	}
	if (c->out_json) {
		r.ops[r.nwriters] = &mh_writer_json;
		if (mh_writer_json.open(&r.wctx[r.nwriters], c->out_json, err, sizeof(err)) < 0) {
			mh_log_error("%s", err);
			return MH_EXIT_USAGE;
		}
		r.nwriters++;
	}
	if (c->out_jsonl) {
		r.ops[r.nwriters] = &mh_writer_jsonl;
		if (mh_writer_jsonl.open(&r.wctx[r.nwriters], c->out_jsonl, err, sizeof(err)) <
		    0) {
			mh_log_error("%s", err);
			if (r.nwriters)
				r.ops[0]->close(r.wctx[0], &meta, err, sizeof(err));
			return MH_EXIT_USAGE;
		}
		r.nwriters++;
	}
	r.total = mh_targets_count(c->targets);
	r.text = !c->quiet && !strcmp(c->command, "audit");
	if (r.text)
		printf("mailhole audit: this host's addresses and loopback, ports 25, 465, 587\n");
	r.progress = !c->quiet && isatty(STDERR_FILENO);
	mh_rfc3339_now(meta.started, sizeof(meta.started));
	install_signals();

	rc = mh_scan_run(&c->scan, on_host, on_progress, &r, &stop_requested, &stats, err,
			 sizeof(err));
	if (r.progress)
		fputc('\n', stderr);
	mh_rfc3339_now(meta.finished, sizeof(meta.finished));
	meta.duration_s = (double)(mh_now_ms() - t0) / 1000.0;
	meta.complete = rc == 0 && stats.complete;
	meta.scan = &c->scan;
	meta.stats = &stats;
	if (rc < 0)
		mh_log_error("sweep failed: %s", err);
	if (atomic_load(&stop_requested))
		mh_log_warn("interrupted: writing what was found (complete: false)");
	/* Whatever happened, write what was found. */
	for (unsigned i = 0; i < r.nwriters; i++) {
		if (r.ops[i]->close(r.wctx[i], &meta, err, sizeof(err)) < 0) {
			mh_log_error("%s", err);
			r.werr = MH_EIO;
		}
	}
	if (c->out_html && !r.werr) {
		struct json_object *doc = NULL;
		if (mh_doc_load(html_src, &doc, err, sizeof(err)) < 0 ||
		    mh_render_html(doc, NULL, c->out_html, err, sizeof(err)) < 0) {
			mh_log_error("%s", err);
			r.werr = MH_EIO;
		}
		json_object_put(doc);
	}
	if (html_tmp)
		unlink(html_src);
	if (rc < 0 || r.werr)
		return MH_EXIT_RUNTIME;
	return r.failing ? MH_EXIT_FINDINGS : MH_EXIT_OK;
}

/*
 * `mailhole audit` (and bare `mailhole`): `local` plus the sweep of this
 * host's own addresses, merged by address into one document. The local
 * audit and the sweep each write a document to a private temporary folder;
 * `mailhole report` merges them into the final JSON and HTML and decides
 * the exit code. A local audit that fails is a warning: the sweep stands.
 */
static int run_audit(struct mh_config *c, int argc, char **argv, int first)
{
	char dir[] = "/tmp/mailhole-audit-XXXXXX", local_json[64], sweep_json[64];
	const char *policy = NULL, *final_json = c->out_json, *final_html = c->out_html;
	const char *fail_on = c->fail_on >= MH_SEV_COUNT ? "none" : mh_severity_name(c->fail_on);
	char *largv[12], *rargv[12];
	int la = 0, ra = 0, code, lcode;

	for (int i = first; i < argc; i++) {
		if (!strcmp(argv[i], "--policy") && i + 1 < argc)
			policy = argv[i + 1];
		else if (!strncmp(argv[i], "--policy=", 9))
			policy = argv[i] + 9;
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "mailhole: audit: temporary folder: %s\n", strerror(errno));
		return MH_EXIT_RUNTIME;
	}
	snprintf(local_json, sizeof(local_json), "%s/local.json", dir);
	snprintf(sweep_json, sizeof(sweep_json), "%s/sweep.json", dir);

	largv[la++] = (char *)"local";
	largv[la++] = (char *)"-o";
	largv[la++] = local_json;
	largv[la++] = (char *)"--quiet";
	largv[la++] = (char *)"--fail-on";
	largv[la++] = (char *)"none";
	if (policy) {
		largv[la++] = (char *)"--policy";
		largv[la++] = (char *)policy;
	}
	largv[la] = NULL;
	lcode = mh_cmd_local(la, largv);
	if (lcode > MH_EXIT_FINDINGS)
		fprintf(stderr, "mailhole: audit: the local audit failed (exit %d); the sweep goes "
				"on\n",
			lcode);

	c->out_json = sweep_json;
	c->out_html = NULL;
	code = run_sweep(c);
	fflush(stdout);
	if (code > MH_EXIT_FINDINGS) {
		unlink(local_json);
		unlink(sweep_json);
		rmdir(dir);
		return code;
	}
	rargv[ra++] = (char *)"report";
	if (lcode <= MH_EXIT_FINDINGS)
		rargv[ra++] = local_json;
	rargv[ra++] = sweep_json;
	rargv[ra++] = (char *)"-o";
	rargv[ra++] = (char *)final_json;
	if (final_html) {
		rargv[ra++] = (char *)"--html";
		rargv[ra++] = (char *)final_html;
	}
	rargv[ra++] = (char *)"--fail-on";
	rargv[ra++] = (char *)fail_on;
	rargv[ra] = NULL;
	code = mh_cmd_report(ra, rargv);
	unlink(local_json);
	unlink(sweep_json);
	rmdir(dir);
	if (code <= MH_EXIT_FINDINGS && !c->quiet)
		fprintf(stderr, "mailhole: report written to %s%s%s\n", final_json,
			final_html ? " and " : "", final_html ? final_html : "");
	return code;
}

int main(int argc, char **argv)
{
	struct mh_config c;
	char err[MH_ERRLEN] = "";
	int first = 1, rc, code;

	memset(&c, 0, sizeof(c));
	mh_scan_opts_defaults(&c.scan);
	c.fail_on = MH_SEV_HIGH;
	join_argv(&c, argc, argv);
	mh_today(c.today, sizeof(c.today));

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
			 !strcmp(argv[1], "help"))) {
		usage(stdout);
		return MH_EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("mailhole %s\n", MH_VERSION);
		return MH_EXIT_OK;
	}
	if (argc > 1 && argv[1][0] != '-') {
		c.command = argv[1];
		first = 2;
	} else {
		c.command = "audit";
	}
	if (!strcmp(c.command, "scan")) {
		rc = parse_args(&c, argc, argv, first, err, sizeof(err));
	} else if (!strcmp(c.command, "audit")) {
		c.scan.ports[0] = 25;
		c.scan.ports[1] = 465;
		c.scan.ports[2] = 587;
		c.scan.nports = 3;
		c.scan.all_hosts = true;
		c.out_json = "mailhole-report.json";
		c.out_html = "mailhole-report.html";
		rc = parse_args(&c, argc, argv, first, err, sizeof(err));
		if (rc == 0)
			rc = add_own_addresses(c.targets, err, sizeof(err));
	} else if (!strcmp(c.command, "rules")) {
		mh_rules_markdown(stdout);
		return MH_EXIT_OK;
	} else if (!strcmp(c.command, "report")) {
		return mh_cmd_report(argc - 1, argv + 1);
	} else if (!strcmp(c.command, "diff")) {
		return mh_cmd_diff(argc - 1, argv + 1);
	} else if (!strcmp(c.command, "local")) {
		return mh_cmd_local(argc - 1, argv + 1);
	} else if (!strcmp(c.command, "probe")) {
		return mh_cmd_probe(argc - 1, argv + 1);
	} else if (!strcmp(c.command, "queue")) {
		return mh_cmd_queue(argc - 1, argv + 1);
	} else if (!strcmp(c.command, "watch")) {
		fprintf(stderr, "mailhole: command '%s' (argument 1): not available in mailhole %s "
				"yet\n",
			c.command, MH_VERSION);
		return MH_EXIT_USAGE;
	} else {
		fprintf(stderr, "mailhole: command '%s' (argument 1): unknown; try mailhole --help\n",
			c.command);
		return MH_EXIT_USAGE;
	}
	if (rc < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		mh_targets_free(&c.targets);
		mh_policy_free(&c.policy);
		return MH_EXIT_USAGE;
	}
	if (!strcmp(c.command, "audit"))
		code = run_audit(&c, argc, argv, first);
	else
		code = run_sweep(&c);
	fflush(stdout);
	mh_targets_free(&c.targets);
	mh_policy_free(&c.policy);
	return code;
}
