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
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/common.h"
#include "mailhole/local.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

struct local_config {
	const char *out_json; /* NULL: no document; "-": standard output */
	int fail_on;          /* enum mh_severity; MH_SEV_COUNT = none */
	bool quiet;
	unsigned timeout_ms;
	char command_line[2048];
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
	      "  --fail-on SEVERITY   exit 1 on findings at or above it (default high; none)\n"
	      "  --timeout MS         how long a connection may take to answer (default 300)\n"
	      "  --quiet              no table on stdout\n"
	      "  -v, --verbose        more messages on stderr\n",
	      f);
}

static int local_parse(struct local_config *c, int argc, char **argv, char *err, size_t errlen)
{
	size_t off = 0;

	/* "mailhole local ..." as typed, for the document's scan.command_line */
	c->command_line[0] = '\0';
	for (int i = 0; i < argc && off + 1 < sizeof(c->command_line); i++) {
		int n = snprintf(c->command_line + off, sizeof(c->command_line) - off, "%s%s",
				 i ? " " : "mailhole ", argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = NULL, *v = NULL;
		char name[64];

		if (a[0] != '-' || !strcmp(a, "-"))
			return mh_err(err, errlen, MH_EINVAL,
				      "argument %d '%s': local takes no targets", i, a);
		if (a[1] == '-' && (eq = strchr(a, '=')) != NULL) {
			size_t l = (size_t)(eq - a) < sizeof(name) - 1 ? (size_t)(eq - a)
								       : sizeof(name) - 1;
			memcpy(name, a, l);
			name[l] = '\0';
		} else {
			mh_strlcpy(name, a, sizeof(name));
		}
		bool takes = !strcmp(name, "-o") || !strcmp(name, "--output") ||
			     !strcmp(name, "--fail-on") || !strcmp(name, "--timeout");
		if (takes) {
			if (eq) {
				v = eq + 1;
			} else if (i + 1 < argc) {
				v = argv[++i];
			} else {
				return mh_err(err, errlen, MH_EINVAL,
					      "option '%s' (argument %d): needs a value", a, i);
			}
		} else if (eq) {
			return mh_err(err, errlen, MH_EINVAL,
				      "option '%s' (argument %d): takes no value", name, i);
		}
		if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
			if (!*v)
				return mh_err(err, errlen, MH_EINVAL,
					      "option %s (argument %d): empty file name", name, i);
			c->out_json = v;
		} else if (!strcmp(name, "--fail-on")) {
			c->fail_on = !strcmp(v, "none") ? MH_SEV_COUNT : mh_severity_parse(v);
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
		} else if (!strcmp(name, "--root") || !strcmp(name, "--config") ||
			   !strcmp(name, "--probe") || !strcmp(name, "--html") ||
			   !strcmp(name, "--policy")) {
			return mh_err(err, errlen, MH_EINVAL,
				      "option %s (argument %d): not available in this version yet "
				      "(mailhole %s)",
				      name, i, MH_VERSION);
		} else if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
			return 1;
		} else {
			return mh_err(err, errlen, MH_EINVAL, "option '%s' (argument %d): unknown",
				      a, i);
		}
	}
	return 0;
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

int mh_cmd_local(int argc, char **argv)
{
	struct local_config c = { .fail_on = MH_SEV_HIGH, .timeout_ms = 300 };
	struct mh_local_opts lo = { .proc_root = "/proc" };
	struct mh_run_meta meta = { .command = "local" };
	struct mh_host *h = NULL;
	struct mh_local *l = NULL;
	struct mh_addr primary;
	char err[MH_ERRLEN] = "", hostname[256] = "";
	const char *names[2] = { NULL, NULL };
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
	mh_rfc3339_now(meta.started, sizeof(meta.started));
	/* A bad output path is bad usage, found before any work. */
	if (c.out_json && strcmp(c.out_json, "-") != 0) {
		char dir[4096];
		const char *slash = strrchr(c.out_json, '/');
		size_t dl = slash ? (size_t)(slash - c.out_json) : 0;
		if (dl >= sizeof(dir)) {
			fprintf(stderr, "mailhole: output '%s': path too long\n", c.out_json);
			return MH_EXIT_USAGE;
		}
		memcpy(dir, c.out_json, dl);
		dir[dl] = '\0';
		if (access(slash ? (dl ? dir : "/") : ".", W_OK | X_OK) < 0) {
			fprintf(stderr, "mailhole: output '%s': folder not writable: %s\n",
				c.out_json, strerror(errno));
			return MH_EXIT_USAGE;
		}
	}
	if (c.out_json && mh_writer_json.open(&wctx, c.out_json, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		return MH_EXIT_USAGE;
	}

	lo.timeout_ms = c.timeout_ms;
	rc = mh_local_gather(&lo, &l, err, sizeof(err));
	if (rc < 0) {
		mh_log_error("%s", err);
		goto runtime;
	}
	if (geteuid() != 0) {
		bool said = false;
		for (unsigned i = 0; i < l->nunseen; i++)
			said |= strstr(l->unseen[i], "root") != NULL;
		if (!said)
			mh_local_note(l, "not run as root: the owners of other users' listening "
					 "sockets would be unknown");
	}
	mh_local_primary(l, lo.proc_root, &primary);
	h = mh_host_new(&primary);
	if (!h) {
		mh_log_error("out of memory");
		goto runtime;
	}
	h->local = l;
	l = NULL;
	/* The host's own name; no DNS, so a short name stays short. */
	if (gethostname(hostname, sizeof(hostname) - 1) == 0 && hostname[0]) {
		names[0] = hostname;
		h->names = names;
	} else {
		hostname[0] = '\0';
	}
	mh_classify(h);
	for (unsigned i = 0; i < h->nfindings; i++)
		if (h->findings[i].severity <= c.fail_on)
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
	mh_host_free(&h);
	return failing ? MH_EXIT_FINDINGS : MH_EXIT_OK;
runtime:
	if (wctx) {
		mh_rfc3339_now(meta.finished, sizeof(meta.finished));
		mh_writer_json.close(wctx, &meta, err, sizeof(err));
	}
	mh_local_free(&l);
	mh_host_free(&h);
	return MH_EXIT_RUNTIME;
}
