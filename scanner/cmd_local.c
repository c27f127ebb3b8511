/*
 * cmd_local.c -- `mailhole local`: this host, from inside (include/mailhole/cli.h).
 *
 * Gathers the interface x port table and the listening sockets with their
 * owners (probes/local.c, probes/listeners.c), builds exactly one host
 * record -- the host itself, keyed by its primary address, its host name in
 * "names" -- classifies it, writes the JSON document through the writer ops
 * of report.h and prints a short table. It needs no root (it says what it
 * could not see without it), changes nothing on the host, sends no packet
 * beyond its own addresses and resolves no name.
 *
 * The MTA: the running daemon (Postfix's master, sendmail's "sendmail: MTA",
 * exim, OpenSMTPD's smtpd) found under /proc in this network namespace, then
 * its configuration (Postfix: MAIL_CONFIG from the master's environment,
 * else /etc/postfix; Exim: the daemon's -C, else Debian's /etc/exim4 files;
 * Sendmail: the daemon's -C, else /etc/mail/sendmail.cf; OpenSMTPD: the
 * daemon's -f, else /etc/smtpd.conf or /etc/mail/smtpd.conf), read by
 * probes/mta_*.c. With
 * --root DIR only configuration under DIR is read: no /proc, no connection,
 * exposure "unknown". --config PATH names the main configuration file.
 */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/common.h"
#include "mailhole/local.h"
#include "mailhole/mta.h"
#include "mailhole/policy.h"
#include "mailhole/probe.h"
#include "mailhole/render.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

struct local_config {
	const char *out_json; /* NULL: no document; "-": standard output */
	const char *out_html; /* NULL: none */
	const char *policy;   /* NULL: none */
	const char *root;     /* NULL: the live system */
	const char *config;   /* NULL: found from the daemon or the default paths */
	int fail_on;          /* enum mh_severity; MH_SEV_COUNT = none */
	bool quiet;
	unsigned timeout_ms;
	char command_line[2048];
	/* --probe: host-submission probes (probe.h) */
	bool probe;
	const char *state;    /* the probe state file */
	const char *sendmail; /* the mail command */
	long deadline_s;      /* how long to wait for the probes to come back */
};

static void local_usage(FILE *f)
{
	fputs("usage: mailhole local [OPTIONS]\n"
	      "\n"
	      "Where an MTA listens on this host: every address of every interface that is\n"
	      "up, plus 127.0.0.1 and ::1, on 25, 465 and 587, and the processes that own\n"
	      "the listening sockets. Needs no root; changes nothing.\n"
	      "\n"
	      "  -o FILE              the JSON document, one host record ('-' = stdout,\n"
	      "                       then no table is printed)\n"
	      "  --html FILE          the HTML report as well\n"
	      "  --policy FILE        the fleet policy (mail servers, severities, suppressions)\n"
	      "  --root DIR           read configuration under DIR only (no /proc, no\n"
	      "                       connection; exposure unknown)\n"
	      "  --config PATH        the MTA's main configuration file (main.cf: Postfix,\n"
	      "                       *exim*: Exim, *smtpd*.conf: OpenSMTPD, other *.cf:\n"
	      "                       Sendmail)\n"
	      "  --fail-on SEVERITY   exit 1 on findings at or above it (default high; none)\n"
	      "  --timeout MS         how long a connection may take to answer (default 300)\n"
	      "  --probe              send host-submission probes through this host's mail\n"
	      "                       command to the policy's collector, and read them back\n"
	      "  --state FILE         the probe state (default mailhole-probe-state.json)\n"
	      "  --sendmail PATH      the mail command (default /usr/sbin/sendmail)\n"
	      "  --deadline SECONDS   how long --probe waits for its probes (default 60)\n"
	      "  --quiet              no table on stdout\n"
	      "  -v, --verbose        more messages on stderr\n",
	      f);
}

static int local_parse(struct local_config *c, int argc, char **argv, char *err, size_t errlen)
{
	static const char *const valued[] = {"-o",       "--output", "--fail-on", "--timeout",
	                                     "--html",   "--policy", "--root",    "--config",
	                                     "--state",  "--sendmail", "--deadline", NULL};
	int rc;

	/* "mailhole local ..." as typed, for the document's scan.command_line */
	mh_join_argv(c->command_line, sizeof(c->command_line), argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		char name[64];

		if ((rc = mh_opt_next(argc, argv, &i, valued, name, sizeof(name), &v, err,
		                      errlen)) < 0)
			return rc;
		if (rc == 0)
			return mh_err(err, errlen, MH_EINVAL,
			              "argument %d '%s': local takes no targets", i, a);
		if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
			if (!*v)
				return mh_err(err, errlen, MH_EINVAL,
				              "option %s (argument %d): empty file name", name, i);
			c->out_json = v;
		} else if (!strcmp(name, "--fail-on")) {
			c->fail_on = mh_fail_on_parse(v);
			if (c->fail_on < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --fail-on '%s' (argument %d): not one of "
				              "critical, high, medium, low, info, none",
				              v, i);
		} else if (!strcmp(name, "--timeout")) {
			uint64_t n;
			if (mh_parse_u64(v, 1, 60000, &n) < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --timeout '%s' (argument %d): not a number "
				              "in 1..60000",
				              v, i);
			c->timeout_ms = (unsigned)n;
		} else if (!strcmp(name, "--quiet") || !strcmp(name, "-q")) {
			c->quiet = true;
		} else if (!strcmp(name, "-v") || !strcmp(name, "--verbose")) {
			mh_log_set_level(MH_LOG_DEBUG);
		} else if (!strcmp(name, "--html") || !strcmp(name, "--policy") ||
		           !strcmp(name, "--root") || !strcmp(name, "--config")) {
			if (!*v)
				return mh_err(err, errlen, MH_EINVAL,
				              "option %s (argument %d): empty path", name, i);
			if (!strcmp(name, "--html"))
				c->out_html = v;
			else if (!strcmp(name, "--policy"))
				c->policy = v;
			else if (!strcmp(name, "--root"))
				c->root = v;
			else
				c->config = v;
		} else if (!strcmp(name, "--probe")) {
			c->probe = true;
		} else if (!strcmp(name, "--state") || !strcmp(name, "--sendmail")) {
			if (!*v)
				return mh_err(err, errlen, MH_EINVAL,
				              "option %s (argument %d): empty path", name, i);
			if (!strcmp(name, "--state"))
				c->state = v;
			else
				c->sendmail = v;
		} else if (!strcmp(name, "--deadline")) {
			uint64_t n;
			if (mh_parse_u64(v, 1, 86400, &n) < 0)
				return mh_err(err, errlen, MH_EINVAL,
				              "option --deadline '%s' (argument %d): not a number "
				              "in 1..86400",
				              v, i);
			c->deadline_s = (long)n;
		} else if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
			return 1;
		} else {
			return mh_err(err, errlen, MH_EINVAL, "option '%s' (argument %d): unknown",
			              a, i);
		}
	}
	if (c->probe && c->root)
		return mh_err(err, errlen, MH_EINVAL,
		              "option --probe: not with --root (a tree cannot send mail)");
	if (c->probe && !c->policy)
		return mh_err(err, errlen, MH_EINVAL,
		              "option --probe: needs --policy FILE (the collector and domain)");
	return 0;
}

/*
 * --probe: the host-submission probes through this host's mail command,
 * then the collector read until they come back or the deadline passes; the
 * probes go into the host record (h->probes) before it is classified.
 * Failures to send or collect are warnings: the audit itself stands.
 */
static void local_probe(const struct local_config *c, struct mh_host *h,
                        const struct mh_policy *pol, const char *hostname)
{
	const struct mh_policy_collector *col = mh_policy_collector(pol);
	const char *state_path = c->state ? c->state : "mailhole-probe-state.json";
	struct mh_host_submit_opts o = {
		.sendmail = c->sendmail ? c->sendmail : "/usr/sbin/sendmail",
		.product = h->local && h->local->mta ? h->local->mta->product : NULL,
		.host = hostname,
		.collector = col ? col->address : NULL,
	};
	struct mh_probe_state *st = calloc(1, sizeof(*st));
	struct mh_probe_host *ph = calloc(1, sizeof(*ph));
	char err[MH_ERRLEN];
	int rc;

	if (!st || !ph)
		goto out;
	mh_probe_state_init(st);
	if (mh_probe_state_load(state_path, st, err, sizeof(err)) < 0) {
		mh_log_error("--probe: %s", err);
		goto out;
	}
	if (!st->created) {
		st->created = (int64_t)time(NULL);
		mh_strlcpy(st->collector, col && col->url ? col->url : "", sizeof(st->collector));
		mh_strlcpy(st->collector_address, o.collector ? o.collector : "",
		           sizeof(st->collector_address));
		mh_strlcpy(st->domain, mh_policy_domain(pol) ? mh_policy_domain(pol) : "",
		           sizeof(st->domain));
	}
	st->deadline = (int64_t)time(NULL) + (c->deadline_s > 0 ? c->deadline_s : 60);
	rc = mh_probe_host_submission(&o, st, err, sizeof(err));
	if (rc < 0)
		mh_log_error("--probe: %s", err);
	if (mh_probe_state_save(state_path, st, err, sizeof(err)) < 0)
		mh_log_error("--probe: %s", err);
	if (col && col->url) {
		for (;;) {
			bool firm = true;
			if (mh_probe_collect(pol, st, false, false, 30000, err, sizeof(err)) < 0) {
				mh_log_error("--probe: %s", err);
				break;
			}
			for (size_t i = 0; i < st->n; i++)
				if (!strcasecmp(st->v[i].host, hostname) && st->v[i].sent &&
				    !mh_verdict_terminal(st->v[i].verdict))
					firm = false;
			mh_probe_finalize(st, (int64_t)time(NULL));
			if (firm || (int64_t)time(NULL) >= st->deadline)
				break;
			sleep(2);
		}
		if (mh_probe_state_save(state_path, st, err, sizeof(err)) < 0)
			mh_log_error("--probe: %s", err);
	} else {
		mh_log_warn("--probe: the policy names no collector url; the probes stay pending "
		            "in %s (read them later with mailhole probe collect)",
		            state_path);
	}
	/* the record's probes: this host's, borrowed from the state (kept until exit) */
	mh_strlcpy(ph->fqdn, hostname, sizeof(ph->fqdn));
	ph->v = calloc(st->n ? st->n : 1, sizeof(*ph->v));
	if (!ph->v)
		goto out;
	for (size_t i = 0; i < st->n; i++)
		if (!strcasecmp(st->v[i].host, hostname))
			ph->v[ph->n++] = &st->v[i];
	ph->masquerades = -1;
	ph->owned = st; /* the record owns the state its probes live in */
	h->probes = ph;
	return;
out:
	if (st)
		mh_probe_state_free(st);
	free(st);
	free(ph);
}

/* Untrusted text (interface and process names) made printable for the table. */
static const char *safe(char *buf, size_t size, const char *s)
{
	mh_sanitize_line(buf, size, s, strlen(s));
	return buf;
}

static void print_table(const struct mh_host *h, const char *hostname)
{
	const struct mh_local *l = h->local;
	char addr[MH_ADDR_STRLEN], s1[64], s2[MH_EXE_MAX];

	mh_addr_format(&h->addr, addr, sizeof(addr));
	printf("mailhole local: %s (%s)\n", hostname[0] ? safe(s1, sizeof(s1), hostname) : "?",
	       addr);
	printf("  %-16s %-40s %-10s %-10s %-10s\n", "interface", "address", "25/tcp", "465/tcp",
	       "587/tcp");
	for (size_t i = 0; i < l->naddrs; i++) {
		const struct mh_local_addr *r = &l->addrs[i];
		mh_addr_format(&r->addr, addr, sizeof(addr));
		printf("  %-16s %-40s %-10s %-10s %-10s\n", safe(s1, sizeof(s1), r->ifname), addr,
		       mh_cell_name(r->cell[0]), mh_cell_name(r->cell[1]),
		       mh_cell_name(r->cell[2]));
	}
	printf("listeners on 25, 465, 587:%s\n", l->nlisteners ? "" : " none");
	for (size_t i = 0; i < l->nlisteners; i++) {
		const struct mh_listener *li = &l->listeners[i];
		char ap[MH_ADDR_STRLEN + 8], pid[24] = "pid ?";
		mh_addr_format(&li->addr, addr, sizeof(addr));
		if (li->addr.family == AF_INET6)
			snprintf(ap, sizeof(ap), "[%s]:%u", addr, li->port);
		else
			snprintf(ap, sizeof(ap), "%s:%u", addr, li->port);
		if (li->pid > 0)
			snprintf(pid, sizeof(pid), "pid %d", li->pid);
		printf("  %-30s %-16s %-11s %s\n", ap, safe(s1, sizeof(s1), li->process), pid,
		       safe(s2, sizeof(s2), li->exe));
	}
	printf("exposure: %s\n", mh_exposure_name(l->exposure));
	if (l->mta) {
		const struct mh_mta_config *m = l->mta;
		printf("mta: %s%s, config %s, masquerade %s\n", m->product ? m->product : "?",
		       m->running ? " (running)" : "", safe(s2, sizeof(s2), m->config),
		       !m->masq.known      ? "unknown"
		       : m->masq.domain[0] ? m->masq.domain
		                           : "none (the host's name)");
	}
	if (l->queues) {
		const struct mh_local_queues *q = l->queues;
		for (unsigned i = 0; i < q->nq; i++) {
			const struct mh_local_queue *e = &q->q[i];
			if (!e->seen)
				continue; /* said under "not seen" */
			printf("queue %s: %u message%s%s", safe(s2, sizeof(s2), e->path), e->count,
			       e->count == 1 ? "" : "s", e->count_capped ? " or more" : "");
			if (e->count)
				printf(", oldest %lld s", (long long)e->oldest_age_s);
			printf("%s\n", e->stuck ? " (stuck)" : "");
		}
		for (unsigned i = 0; i < q->nr; i++)
			if (q->r[i].active)
				printf("queue runner: %s, %s\n", q->r[i].kind,
				       safe(s2, sizeof(s2), q->r[i].where));
	}
	if (l->partial)
		printf("partial exposure: %s\n", l->partial_evidence);
	if (!l->agree)
		printf("note: the listening sockets do not explain every cell (a firewall, or "
		       "an IPV6_V6ONLY socket on ::)\n");
	if (h->nfindings)
		printf("findings:\n");
	for (unsigned i = 0; i < h->nfindings; i++)
		printf("  %-8s %-18s %s\n", mh_severity_name(h->findings[i].severity),
		       h->findings[i].rule->id, h->findings[i].evidence);
	for (unsigned i = 0; i < l->nunseen; i++)
		printf("not seen: %s\n", l->unseen[i]);
}

/* ---- the MTA: which daemon runs, which configuration is in force ---- */

/* The daemon found under /proc. */
struct mta_proc {
	const char *product; /* NULL: none found */
	int pid;
	bool owns_listener;         /* it owns one of the listening sockets */
	char mail_config[PATH_MAX]; /* Postfix: MAIL_CONFIG from its environment */
	char conf_arg[PATH_MAX];    /* Exim, Sendmail: the -C of its command line */
};

/* The NUL-separated args of PROC/PID/cmdline (or environ) into a malloc'd buffer. */
static char *proc_file(const char *proc_root, const char *pid, const char *what, size_t *len)
{
	char path[PATH_MAX];
	char *buf = NULL;
	int eno;

	if (snprintf(path, sizeof(path), "%s/%s/%s", proc_root, pid, what) >= (int)sizeof(path))
		return NULL;
	if (mh_local_read_file(path, &buf, len, &eno) < 0)
		return NULL;
	return buf;
}

/* "-C PATH" or "-CPATH" (opt "-C"; OpenSMTPD: "-f") among the args into out. */
static void find_conf_arg(const char *args, size_t len, const char *opt, char *out, size_t size)
{
	for (size_t i = 0; i < len; i += strlen(args + i) + 1) {
		const char *a = args + i;
		if (strncmp(a, opt, 2) != 0)
			continue;
		if (a[2])
			mh_strlcpy(out, a + 2, size);
		else if (i + 3 < len)
			mh_strlcpy(out, a + 3, size);
		return;
	}
}

static bool same_netns(const char *proc_root, const char *pid)
{
	char a[PATH_MAX], b[PATH_MAX], la[128], lb[128];
	ssize_t na, nb;

	snprintf(a, sizeof(a), "%s/self/ns/net", proc_root);
	snprintf(b, sizeof(b), "%s/%s/ns/net", proc_root, pid);
	na = readlink(a, la, sizeof(la) - 1);
	nb = readlink(b, lb, sizeof(lb) - 1);
	if (na < 0 || nb < 0)
		return true; /* cannot tell: do not exclude it */
	return na == nb && !memcmp(la, lb, (size_t)na);
}

/* A sendmail command line (not a title) that runs a daemon: "-bd" among its args. */
static bool sm_daemon_args(const char *args, size_t len)
{
	for (size_t i = 0; i < len; i += strlen(args + i) + 1)
		if (!strcmp(args + i, "-bd"))
			return true;
	return false;
}

/*
 * The -C of a Sendmail daemon whose title hides its arguments, from the
 * command line it wrote into its pid file (mh_sendmail_pidfile_cmdline).
 */
static void sendmail_pidfile_conf(const char *proc_root, const char *pid, char *out, size_t size)
{
	char line[PATH_MAX + 256];
	size_t n;

	if (mh_sendmail_pidfile_cmdline(proc_root, pid, line, sizeof(line)) < 0)
		return;
	n = strlen(line);
	for (size_t i = 0; i < n; i++)
		if (line[i] == ' ' || line[i] == '\t')
			line[i] = '\0';
	find_conf_arg(line, n + 1, "-C", out, size);
}

/*
 * Whether a process named "smtpd" is OpenSMTPD's, not Postfix's smtpd (which
 * master runs as "smtpd -n smtp -t inet ..."): by its executable when it can
 * be read, else by its command line ("/usr/sbin/smtpd ...", or the titles
 * its processes give themselves, "smtpd: queue").
 */
static bool opensmtpd_proc(const char *exe, const char *cmd, size_t cmdlen)
{
	if (exe[0])
		return !strstr(exe, "postfix") && strstr(exe, "smtpd") != NULL;
	if (!cmd || !cmdlen)
		return false;
	if (!strncmp(cmd, "smtpd:", 6) || strstr(cmd, "/sbin/smtpd"))
		return !strstr(cmd, "postfix");
	if (!strcmp(cmd, "smtpd")) {
		size_t n = strlen(cmd) + 1;
		return !(n < cmdlen && !strcmp(cmd + n, "-n")); /* Postfix: "-n smtp" */
	}
	return false;
}

/*
 * Looks for an MTA daemon in this network namespace: one that owns a
 * listening socket first, else the lowest pid.
 */
static void find_mta_proc(const char *proc_root, const struct mh_local *l, struct mta_proc *mp)
{
	DIR *d = opendir(proc_root);
	struct dirent *e;
	char smtpd_f[PATH_MAX] = "";

	memset(mp, 0, sizeof(*mp));
	mp->pid = -1;
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char *comm, *cmd, exe[PATH_MAX], path[PATH_MAX];
		const char *product = NULL;
		size_t clen = 0, cmdlen = 0;
		uint64_t pid;
		bool owns = false;
		ssize_t n;

		if (mh_parse_u64(e->d_name, 1, 1u << 30, &pid) < 0)
			continue;
		comm = proc_file(proc_root, e->d_name, "comm", &clen);
		if (!comm)
			continue;
		comm[strcspn(comm, "\n")] = '\0';
		cmd = proc_file(proc_root, e->d_name, "cmdline", &cmdlen);
		snprintf(path, sizeof(path), "%s/%s/exe", proc_root, e->d_name);
		n = readlink(path, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		if (!strcmp(comm, "master") &&
		    (strstr(exe, "postfix") || (cmd && strstr(cmd, "postfix"))))
			product = "postfix";
		else if (!strcmp(comm, "sendmail-mta") ||
		         (!strncmp(comm, "sendmail", 8) && cmd &&
		          (!strncmp(cmd, "sendmail: MTA", 13) ||
		           strstr(cmd, ": accepting connections") || sm_daemon_args(cmd, cmdlen))))
			product = "sendmail";
		else if (!strcmp(comm, "exim4") || !strcmp(comm, "exim"))
			product = "exim";
		else if (!strcmp(comm, "smtpd") && opensmtpd_proc(exe, cmd, cmdlen))
			product = "opensmtpd";
		/* OpenSMTPD's children rewrite their command line: keep the -f of any */
		if (product && !strcmp(product, "opensmtpd") && cmd && !smtpd_f[0])
			find_conf_arg(cmd, cmdlen, "-f", smtpd_f, sizeof(smtpd_f));
		if (product && same_netns(proc_root, e->d_name)) {
			for (size_t i = 0; i < l->nlisteners; i++)
				owns |= l->listeners[i].pid == (int)pid;
			if (!mp->product || (owns && !mp->owns_listener) ||
			    (owns == mp->owns_listener && (int)pid < mp->pid)) {
				mp->product = product;
				mp->pid = (int)pid;
				mp->owns_listener = owns;
				mp->mail_config[0] = mp->conf_arg[0] = '\0';
				if (cmd)
					find_conf_arg(cmd, cmdlen,
					              !strcmp(product, "opensmtpd") ? "-f" : "-C",
					              mp->conf_arg, sizeof(mp->conf_arg));
				if (!strcmp(product, "sendmail") && !mp->conf_arg[0])
					sendmail_pidfile_conf(proc_root, e->d_name, mp->conf_arg,
					                      sizeof(mp->conf_arg));
				if (!strcmp(product, "postfix")) {
					size_t elen = 0;
					char *env =
					    proc_file(proc_root, e->d_name, "environ", &elen);
					for (size_t i = 0; env && i < elen;
					     i += strlen(env + i) + 1)
						if (!strncmp(env + i, "MAIL_CONFIG=", 12))
							mh_strlcpy(mp->mail_config, env + i + 12,
							           sizeof(mp->mail_config));
					free(env);
				}
			}
		}
		free(comm);
		free(cmd);
	}
	closedir(d);
	if (mp->product && !strcmp(mp->product, "opensmtpd") && !mp->conf_arg[0])
		mh_strlcpy(mp->conf_arg, smtpd_f, sizeof(mp->conf_arg));
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* root + path into out ("" root: path itself). */
static void under(const char *root, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s%s", root ? root : "", path);
}

/* The product a --config path names: main.cf, *exim*, other *.cf. */
static const char *config_product(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (!strcmp(base, "main.cf"))
		return "postfix";
	if (strstr(base, "smtpd") && n > 5 && !strcmp(base + n - 5, ".conf"))
		return "opensmtpd";
	if (strstr(base, "exim"))
		return "exim";
	if (n > 3 && !strcmp(base + n - 3, ".cf"))
		return "sendmail";
	return NULL;
}

/* The folder of path into out. */
static void dir_of(const char *path, char *out, size_t size)
{
	const char *s = strrchr(path, '/');
	size_t n = s ? (size_t)(s - path) : 0;

	if (!s) {
		mh_strlcpy(out, ".", size);
		return;
	}
	if (n == 0)
		n = 1;
	if (n >= size)
		n = size - 1;
	memcpy(out, path, n);
	out[n] = '\0';
}

/*
 * OpenSMTPD's configuration under root: /etc/smtpd.conf (Debian and most
 * Linux packages), /etc/mail/smtpd.conf (OpenBSD), into path. 0 when one
 * exists; -1 otherwise, with path the first, when the daemon's binary
 * (/usr/sbin/smtpd) is there (so that "not read" is said); -2: no OpenSMTPD.
 */
static int opensmtpd_conf(const char *root, char *path, size_t size)
{
	char bin[PATH_MAX];

	under(root, "/etc/smtpd.conf", path, size);
	if (file_exists(path))
		return 0;
	under(root, "/etc/mail/smtpd.conf", path, size);
	if (file_exists(path))
		return 0;
	under(root, "/usr/sbin/smtpd", bin, sizeof(bin));
	under(root, "/etc/smtpd.conf", path, size);
	return file_exists(bin) ? -1 : -2;
}

/* Postfix's postmulti instances: each instance's masquerading, as notes. */
static void postfix_instances(struct mh_mta_config *c, const char *root, const char *hostname)
{
	const char *list = NULL;

	for (unsigned i = 0; i < c->nsettings; i++)
		if (!strcmp(c->settings[i].key, "multi_instance_directories"))
			list = c->settings[i].value;
	for (const char *p = list; p && *p;) {
		char dir[PATH_MAX], rdir[PATH_MAX], e[MH_ERRLEN];
		struct mh_mta_config *ic;
		size_t n;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		n = strcspn(p, " ,\t");
		if (!n)
			break;
		snprintf(dir, sizeof(dir), "%.*s", (int)(n < 1000 ? n : 1000), p);
		p += n;
		ic = malloc(sizeof(*ic));
		if (!ic)
			return;
		mh_mta_config_init(ic);
		under(root, dir, rdir, sizeof(rdir));
		if (mh_postfix_read(rdir, hostname, ic, e, sizeof(e)) < 0)
			mh_mta_note(c, "postmulti instance %s: %s", dir, e);
		else
			mh_mta_note(c, "postmulti instance %s: masquerade domain %s, relayhost %s",
			            dir, ic->masq.domain[0] ? ic->masq.domain : "(none)",
			            ic->relayhost[0] ? ic->relayhost : "(none)");
		free(ic);
	}
}

/* /etc/aliases under root: does it define anything? */
static void read_aliases(struct mh_local *l, const char *root)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0, pos = 0;
	unsigned lineno = 0;
	int eno;

	under(root, "/etc/aliases", path, sizeof(path));
	if (mh_local_read_file(path, &buf, &len, &eno) < 0)
		return;
	while (pos < len && len < (1u << 20)) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t plen = nl ? (size_t)(nl - line) : len - pos;
		pos += plen + (nl ? 1 : 0);
		lineno++;
		if (!plen || line[0] == '#' || line[0] == ' ' || line[0] == '\t')
			continue;
		if (memchr(line, ':', plen)) {
			l->aliases = true;
			snprintf(l->aliases_where, sizeof(l->aliases_where), "aliases:%u", lineno);
			break;
		}
	}
	free(buf);
}

/*
 * Finds and reads the MTA's configuration into l->mta (left NULL when no
 * MTA is found). Returns MH_EINVAL only for a --config that cannot be used
 * (err set); a configuration that cannot be read is a note.
 */
static int local_mta(const struct local_config *c, struct mh_local *l, const char *hostname,
                     char *err, size_t errlen)
{
	const char *root = c->root;
	struct mta_proc mp;
	struct mh_mta_config *m;
	const char *product = NULL;
	char path[PATH_MAX], path2[PATH_MAX], path3[PATH_MAX], e[MH_ERRLEN] = "";
	int rc = 0;

	memset(&mp, 0, sizeof(mp));
	mp.pid = -1;
	if (!root)
		find_mta_proc("/proc", l, &mp);
	if (c->config) {
		product = config_product(c->config);
		if (!product)
			return mh_err(err, errlen, MH_EINVAL,
			              "--config %s: cannot tell the MTA from the name (main.cf, "
			              "*exim*, *smtpd*.conf, *.cf)",
			              c->config);
		if (access(c->config, R_OK) < 0)
			return mh_err(err, errlen, MH_EINVAL, "--config %s: %s", c->config,
			              strerror(errno));
	} else if (mp.product) {
		product = mp.product;
	} else {
		under(root, "/etc/postfix/main.cf", path, sizeof(path));
		under(root, "/etc/mail/sendmail.cf", path2, sizeof(path2));
		under(root, "/etc/exim4/update-exim4.conf.conf", path3, sizeof(path3));
		if (file_exists(path))
			product = "postfix";
		else if (file_exists(path2))
			product = "sendmail";
		else if (file_exists(path3))
			product = "exim";
		else {
			under(root, "/etc/exim4/exim4.conf", path3, sizeof(path3));
			if (file_exists(path3))
				product = "exim";
		}
		if (!product && opensmtpd_conf(root, path, sizeof(path)) != -2)
			product = "opensmtpd";
	}
	if (!product)
		return 0;
	m = malloc(sizeof(*m));
	if (!m)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	mh_mta_config_init(m);
	m->product = product;
	if (mp.product && !strcmp(mp.product, product)) {
		m->running = true;
		m->pid = mp.pid;
	}
	if (!strcmp(product, "postfix")) {
		if (c->config)
			dir_of(c->config, path, sizeof(path));
		else if (mp.mail_config[0])
			mh_strlcpy(path, mp.mail_config, sizeof(path));
		else
			under(root, "/etc/postfix", path, sizeof(path));
		rc = mh_postfix_read(path, hostname, m, e, sizeof(e));
		if (rc == 0)
			postfix_instances(m, root, hostname);
	} else if (!strcmp(product, "opensmtpd")) {
		if (c->config)
			mh_strlcpy(path, c->config, sizeof(path));
		else if (mp.conf_arg[0])
			mh_strlcpy(path, mp.conf_arg, sizeof(path));
		else
			opensmtpd_conf(root, path, sizeof(path));
		rc = mh_opensmtpd_read(path, root, hostname, m, e, sizeof(e));
	} else if (!strcmp(product, "exim")) {
		const char *conf = NULL, *deb = NULL;
		if (c->config) {
			mh_strlcpy(path, c->config, sizeof(path));
			if (strstr(path, "update-exim4.conf"))
				deb = path;
			else
				conf = path;
		} else if (mp.conf_arg[0]) {
			mh_strlcpy(path, mp.conf_arg, sizeof(path));
			conf = path;
		} else {
			under(root, "/etc/exim4/update-exim4.conf.conf", path2, sizeof(path2));
			under(root, "/etc/exim4/exim4.conf", path, sizeof(path));
			deb = file_exists(path2) ? path2 : NULL;
			conf = file_exists(path) ? path : NULL;
			under(root, "/etc/exim4/exim4.conf.template", path3, sizeof(path3));
			if (!conf && file_exists(path3))
				mh_mta_note(m,
				            "%s exists (Debian's template; the dc_* settings "
				            "decide)",
				            path3);
			if (!conf && !deb) {
				under(root, "/etc/exim/exim.conf", path, sizeof(path));
				conf = path;
			}
		}
		rc = mh_exim_read(conf, deb, hostname, m, e, sizeof(e));
	} else {
		const char *submit = NULL, *mc = NULL;
		if (c->config)
			mh_strlcpy(path, c->config, sizeof(path));
		else if (mp.conf_arg[0])
			mh_strlcpy(path, mp.conf_arg, sizeof(path));
		else
			under(root, "/etc/mail/sendmail.cf", path, sizeof(path));
		dir_of(path, path2, sizeof(path2));
		mh_strlcpy(path3, path2, sizeof(path3));
		if (strlen(path2) + 12 < sizeof(path2)) {
			size_t n = strlen(path2);
			mh_strlcpy(path2 + n, "/submit.cf", sizeof(path2) - n);
			n = strlen(path3);
			mh_strlcpy(path3 + n, "/sendmail.mc", sizeof(path3) - n);
			submit = file_exists(path2) ? path2 : NULL;
			mc = file_exists(path3) ? path3 : NULL;
		}
		mh_strlcpy(m->config, path, sizeof(m->config));
		rc = mh_sendmail_read(path, submit, mc, m, e, sizeof(e));
		m->product = "sendmail";
	}
	if (m->running) {
		m->pid = mp.pid;
		m->running = true;
	}
	if (rc < 0) {
		if (c->config && rc == MH_EINVAL) {
			free(m);
			return mh_err(err, errlen, MH_EINVAL, "%s", e);
		}
		m->masq.known = false;
		mh_mta_note(m, "configuration not read: %s", e);
		mh_log_warn("%s configuration: %s", product, e);
	}
	l->mta = m;
	read_aliases(l, root);
	/* who runs the queues, what waits in them (probes/local_queue.c) */
	l->queues = calloc(1, sizeof(*l->queues));
	if (l->queues) {
		struct mh_queue_opts qo = {
		    .root = root, .proc_root = root ? NULL : "/proc", .now = (int64_t)time(NULL)};
		mh_local_queues_gather(&qo, m, l, l->queues);
		for (unsigned i = 0; i < l->queues->nnotes; i++)
			mh_local_note(l, "%s", l->queues->notes[i]);
		for (unsigned i = 0; i < l->queues->nq; i++)
			if (!l->queues->q[i].seen)
				mh_local_note(l, "queue %.150s: %s", l->queues->q[i].path,
				              l->queues->q[i].unseen);
	}
	return 0;
}

int mh_cmd_local(int argc, char **argv)
{
	struct local_config c = {.fail_on = MH_SEV_HIGH, .timeout_ms = 300};
	struct mh_local_opts lo = {.proc_root = "/proc"};
	struct mh_run_meta meta = {.command = "local"};
	struct mh_host *h = NULL;
	struct mh_local *l = NULL;
	struct mh_policy *policy = NULL;
	struct mh_addr primary;
	char today[16], html_src[4096] = "";
	bool html_tmp = false;
	void *hctx = NULL;
	char err[MH_ERRLEN] = "", hostname[256] = "";
	const char *names[2] = {NULL, NULL};
	uint64_t t0 = mh_now_ms();
	unsigned failing = 0;
	void *wctx = NULL;
	int rc;

	rc = local_parse(&c, argc, argv, err, sizeof(err));
	if (rc == 1) {
		local_usage(stdout);
		return MH_EXIT_OK;
	}
	if (rc < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		return MH_EXIT_USAGE;
	}
	meta.command_line = c.command_line;
	if (c.policy && mh_policy_load(c.policy, &policy, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		return MH_EXIT_USAGE;
	}
	if (c.root && access(c.root, R_OK | X_OK) < 0) {
		fprintf(stderr, "mailhole: --root %s: %s\n", c.root, strerror(errno));
		mh_policy_free(&policy);
		return MH_EXIT_USAGE;
	}
	mh_today(today, sizeof(today));
	mh_rfc3339_now(meta.started, sizeof(meta.started));
	/* A bad output path is bad usage, found before any work. */
	if (mh_output_check(c.out_json, err, sizeof(err)) < 0 ||
	    mh_output_check(c.out_html, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		mh_policy_free(&policy);
		return MH_EXIT_USAGE;
	}
	if (c.out_json && mh_writer_json.open(&wctx, c.out_json, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		mh_policy_free(&policy);
		return MH_EXIT_USAGE;
	}
	/* The HTML is rendered from the document: the -o file, or a temporary one. */
	if (c.out_html) {
		if (c.out_json && strcmp(c.out_json, "-") != 0) {
			mh_strlcpy(html_src, c.out_json, sizeof(html_src));
		} else {
			int fd;
			mh_strlcpy(html_src, "/tmp/mailhole-doc-XXXXXX", sizeof(html_src));
			fd = mkstemp(html_src);
			if (fd < 0) {
				mh_log_error("temporary document for --html: %s", strerror(errno));
				goto runtime;
			}
			close(fd);
			html_tmp = true;
			if (mh_writer_json.open(&hctx, html_src, err, sizeof(err)) < 0) {
				mh_log_error("%s", err);
				goto runtime;
			}
		}
	}
	/* The host's own name; no DNS, so a short name stays short. */
	if (gethostname(hostname, sizeof(hostname) - 1) != 0)
		hostname[0] = '\0';

	lo.timeout_ms = c.timeout_ms;
	if (c.root) {
		/* configuration only: no /proc, no connection */
		l = calloc(1, sizeof(*l));
		if (!l) {
			mh_log_error("out of memory");
			goto runtime;
		}
		l->exposure = MH_EXPOSURE_UNKNOWN;
		l->agree = true;
		mh_local_note(l,
		              "--root %s: configuration only; interfaces, listeners and "
		              "processes not looked at",
		              c.root);
	} else {
		rc = mh_local_gather(&lo, &l, err, sizeof(err));
		if (rc < 0) {
			mh_log_error("%s", err);
			goto runtime;
		}
	}
	rc = local_mta(&c, l, hostname, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		mh_local_free(&l);
		if (wctx) {
			mh_writer_json.close(wctx, &meta, err, sizeof(err));
			wctx = NULL;
		}
		if (hctx)
			mh_writer_json.close(hctx, &meta, err, sizeof(err));
		if (html_tmp)
			unlink(html_src);
		mh_policy_free(&policy);
		return rc == MH_EINVAL ? MH_EXIT_USAGE : MH_EXIT_RUNTIME;
	}
	if (!c.root && geteuid() != 0) {
		bool said = false;
		for (unsigned i = 0; i < l->nunseen; i++)
			said |= strstr(l->unseen[i], "root") != NULL;
		if (!said)
			mh_local_note(l, "not run as root: the owners of other users' listening "
			                 "sockets would be unknown");
	}
	if (c.root)
		mh_addr_parse("127.0.0.1", &primary);
	else
		mh_local_primary(l, lo.proc_root, &primary);
	h = mh_host_new(&primary);
	if (!h) {
		mh_log_error("out of memory");
		goto runtime;
	}
	h->local = l;
	l = NULL;
	if (hostname[0]) {
		names[0] = hostname;
		h->names = names;
	}
	h->mail_server = mh_policy_is_mail_server(policy, &h->addr, h->names);
	if (c.probe)
		local_probe(&c, h, policy, hostname);
	mh_classify(h);
	mh_policy_apply(h, policy, today);
	for (unsigned i = 0; i < h->nfindings; i++)
		if (!h->findings[i].suppressed && c.fail_on < MH_SEV_COUNT &&
		    (int)h->findings[i].severity <= c.fail_on)
			failing++;

	if (!c.quiet && !(c.out_json && !strcmp(c.out_json, "-")))
		print_table(h, hostname);
	fflush(stdout);
	if (wctx) {
		rc = mh_writer_json.host(wctx, h, err, sizeof(err));
		mh_rfc3339_now(meta.finished, sizeof(meta.finished));
		meta.duration_s = (double)(mh_now_ms() - t0) / 1000.0;
		meta.complete = rc == 0;
		if (rc < 0)
			mh_log_error("%s", err);
		if (mh_writer_json.close(wctx, &meta, err, sizeof(err)) < 0) {
			mh_log_error("%s", err);
			rc = MH_EIO;
		}
		wctx = NULL;
		if (rc < 0)
			goto runtime;
	}
	if (hctx) {
		if (!meta.finished[0]) {
			mh_rfc3339_now(meta.finished, sizeof(meta.finished));
			meta.duration_s = (double)(mh_now_ms() - t0) / 1000.0;
			meta.complete = true;
		}
		rc = mh_writer_json.host(hctx, h, err, sizeof(err));
		if (rc == 0)
			rc = mh_writer_json.close(hctx, &meta, err, sizeof(err));
		else
			mh_writer_json.close(hctx, &meta, err, sizeof(err));
		hctx = NULL;
		if (rc < 0) {
			mh_log_error("%s", err);
			goto runtime;
		}
	}
	if (c.out_html) {
		struct json_object *doc = NULL;
		if (mh_doc_load(html_src, &doc, err, sizeof(err)) < 0 ||
		    mh_render_html(doc, NULL, c.out_html, err, sizeof(err)) < 0) {
			json_object_put(doc);
			mh_log_error("%s", err);
			goto runtime;
		}
		json_object_put(doc);
	}
	if (html_tmp)
		unlink(html_src);
	mh_host_free(&h);
	mh_policy_free(&policy);
	return failing ? MH_EXIT_FINDINGS : MH_EXIT_OK;
runtime:
	if (wctx) {
		mh_rfc3339_now(meta.finished, sizeof(meta.finished));
		mh_writer_json.close(wctx, &meta, err, sizeof(err));
	}
	if (hctx)
		mh_writer_json.close(hctx, &meta, err, sizeof(err));
	if (html_tmp)
		unlink(html_src);
	mh_local_free(&l);
	mh_host_free(&h);
	mh_policy_free(&policy);
	return MH_EXIT_RUNTIME;
}
