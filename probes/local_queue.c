/*
 * local_queue.c -- the outgoing path when no daemon listens
 * (include/mailhole/local.h).
 *
 * The seed's advice for a host that receives no mail is "no daemon, flush
 * the queue from cron". That advice has two ways to fail silently, and this
 * file looks for both:
 *
 *  - nothing runs the queue: no queue-runner process (Sendmail's "Queue
 *    runner@..." title, a sendmail -q, Postfix's master, exim -q, smtpd),
 *    no cron entry (/etc/crontab, /etc/cron.d, the cron.hourly..monthly
 *    scripts, users' crontabs when readable), no systemd timer whose service
 *    runs one of the commands of mh_queue_command(). Mail that cannot go at
 *    once then waits forever;
 *  - the queue fills: Sendmail's submission program (submit.cf) hands every
 *    message to the MTA at D{MTAHost}, by default 127.0.0.1:25; where nothing
 *    listens there, every message waits in the client queue. What waits in
 *    each local queue, and since when (the oldest file's mtime), is counted.
 *
 * Processes are looked at only on a live host (in this network namespace,
 * as the listeners are); with --root only files under the root are, and a
 * service enabled at boot stands in for its daemon. Nothing is changed,
 * nothing is run. Queue folders are mostly root's or the MTA's: without the
 * rights a queue is listed as not seen, never an error.
 */
#include "mailhole/local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/common.h"

#define QF_FILE_MAX  (1024 * 1024)
#define QF_DIR_FILES 512 /* files read from one cron or unit folder */
#define QF_DEPTH     3

static void q_note(struct mh_local_queues *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void q_note(struct mh_local_queues *q, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (q->nnotes >= sizeof(q->notes) / sizeof(q->notes[0]))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mh_sanitize_line(q->notes[q->nnotes++], sizeof(q->notes[0]), buf, strlen(buf));
}

/* ---- commands that run a queue ---- */

static const char *q_base(const char *s)
{
	const char *b = strrchr(s, '/');
	return b ? b + 1 : s;
}

#define QC_WORDS 64

/* One command of a line: its words (quotes dropped). */
static unsigned q_segment(const char *const *w, unsigned n)
{
	unsigned covers = 0;

	if (!n || !strcmp(w[0], "test") || !strcmp(w[0], "[") || !strcmp(w[0], "[["))
		return 0;
	for (unsigned i = 0; i < n; i++) {
		const char *b = q_base(w[i]);
		bool q = false, ac = false, flag = false;
		for (unsigned k = i + 1; k < n; k++) {
			q |= !strncmp(w[k], "-q", 2); /* -q, -q15m, -qp, -qf ... */
			ac |= !strcmp(w[k], "-Ac");
		}
		if (!strcmp(b, "sendmail") || !strcmp(b, "sendmail-mta") ||
		    !strcmp(b, "sendmail-msp")) {
			for (unsigned k = i + 1; k < n; k++) {
				if (!strcmp(w[k], "cron-msp"))
					covers |= MH_QR_CLIENT;
				if (!strcmp(w[k], "cron-mta"))
					covers |= MH_QR_MQUEUE;
			}
			if (q)
				covers |=
				    ac ? MH_QR_CLIENT : (MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM);
		} else if (!strcmp(b, "runq")) {
			covers |= MH_QR_MQUEUE | MH_QR_POSTFIX | MH_QR_EXIM;
		} else if (!strcmp(b, "postqueue")) {
			for (unsigned k = i + 1; k < n; k++)
				flag |= !strcmp(w[k], "-f");
			if (flag)
				covers |= MH_QR_POSTFIX;
		} else if (!strcmp(b, "postfix")) {
			for (unsigned k = i + 1; k < n; k++)
				flag |= !strcmp(w[k], "flush");
			if (flag)
				covers |= MH_QR_POSTFIX;
		} else if (!strcmp(b, "exim") || !strcmp(b, "exim4")) {
			if (q)
				covers |= MH_QR_EXIM;
		} else if (!strcmp(b, "smtpctl")) {
			for (unsigned k = i + 1; k < n; k++)
				flag |= !strcmp(w[k], "schedule");
			if (flag)
				covers |= MH_QR_OPENSMTPD;
		} else {
			continue;
		}
		break; /* the first MTA command of the segment decides */
	}
	return covers;
}

unsigned mh_queue_command(const char *line, size_t len)
{
	char buf[1024], *words[QC_WORDS];
	unsigned covers = 0, n = 0;
	size_t i = 0, o = 0;

	if (len >= sizeof(buf))
		len = sizeof(buf) - 1; /* a command is near the start of its line */
	while (i <= len) {
		char c = i < len ? line[i] : '\0';
		if (c == '\0' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '#' ||
		    c == '(' || c == ')' || c == '`') {
			/* end of a command (its words are terminated already) */
			covers |= q_segment((const char *const *)words, n);
			n = 0;
			o = 0;
			if (c == '#' || c == '\0' || c == '\n')
				break;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\r' || c == '$') {
			i++;
			continue;
		}
		/* a word */
		if (n < QC_WORDS && o + 1 < sizeof(buf)) {
			words[n++] = buf + o;
			while (i < len && o + 1 < sizeof(buf) &&
			       !strchr(" \t\r\n;&|#()`\"'$", line[i]))
				buf[o++] = line[i++];
			buf[o++] = '\0';
		} else {
			i++;
		}
		while (i < len && !strchr(" \t\r\n;&|#()`\"'$", line[i]))
			i++;
	}
	return covers;
}

/* ---- runners ---- */

static void q_runner(struct mh_local_queues *q, const char *kind, unsigned covers, bool active,
                     const char *what, size_t wlen, const char *where)
{
	struct mh_queue_runner *r;
	char w[200];

	mh_sanitize_line(w, sizeof(w), what, wlen);
	for (unsigned i = 0; i < q->nr; i++)
		if (!strcmp(q->r[i].kind, kind) && q->r[i].covers == covers &&
		    (!strcmp(q->r[i].what, w) || !strcmp(kind, "daemon")))
			return; /* the same runner again (a daemon's children) */
	if (q->nr >= MH_RUNNERS_MAX)
		return;
	r = &q->r[q->nr++];
	mh_strlcpy(r->kind, kind, sizeof(r->kind));
	r->covers = covers;
	r->active = active;
	mh_strlcpy(r->what, w, sizeof(r->what));
	mh_sanitize_line(r->where, sizeof(r->where), where, strlen(where));
}

static void q_under(const char *root, const char *path, char *out, size_t size)
{
	snprintf(out, size, "%s%s", root ? root : "", path);
}

/* Reads PATH (under root) and adds a runner per line that runs a queue. */
static void q_cron_file(struct mh_local_queues *q, const char *root, const char *path,
                        const char *kind)
{
	char full[PATH_MAX], where[160], *buf = NULL;
	size_t len = 0, pos = 0;
	unsigned lineno = 0;

	q_under(root, path, full, sizeof(full));
	if (mh_read_file(full, QF_FILE_MAX, &buf, &len, NULL, 0) < 0) {
		if (errno == EACCES)
			q_note(q, "%s: not readable (root needed)", path);
		return;
	}
	while (pos < len) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		unsigned covers;
		pos += n + (nl ? 1 : 0);
		lineno++;
		while (n && (*l == ' ' || *l == '\t')) {
			l++;
			n--;
		}
		if (!n || *l == '#')
			continue;
		covers = mh_queue_command(l, n);
		if (covers) {
			snprintf(where, sizeof(where), "%.140s:%u", path, lineno);
			q_runner(q, kind, covers, true, l, n, where);
		}
	}
	free(buf);
}

/* Every file of a folder (under root), names without '.' or '~' as cron reads them. */
static void q_cron_dir(struct mh_local_queues *q, const char *root, const char *dir, bool dotted_ok)
{
	char full[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	unsigned nfiles = 0;
	DIR *d;

	q_under(root, dir, full, sizeof(full));
	d = opendir(full);
	if (!d) {
		if (errno == EACCES)
			q_note(q, "%s: not readable (root needed)", dir);
		return;
	}
	while ((e = readdir(d)) != NULL && nfiles < QF_DIR_FILES) {
		if (e->d_name[0] == '.' || (!dotted_ok && strchr(e->d_name, '.')) ||
		    e->d_name[strlen(e->d_name) - 1] == '~')
			continue;
		nfiles++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		q_cron_file(q, root, path, "cron");
	}
	closedir(d);
}

static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system",
                                        "/lib/systemd/system", "/usr/lib/systemd/system"};

/* Whether /etc/systemd/system/X.wants/NAME exists for some X (under root). */
static bool q_unit_enabled(const char *root, const char *name)
{
	char full[PATH_MAX], link[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *d;

	q_under(root, "/etc/systemd/system", full, sizeof(full));
	d = opendir(full);
	if (!d)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		struct stat st;
		if (n < 6 || strcmp(e->d_name + n - 6, ".wants") != 0)
			continue;
		if (snprintf(link, sizeof(link), "%s/%s/%s", full, e->d_name, name) >=
		    (int)sizeof(link))
			continue;
		found = lstat(link, &st) == 0;
	}
	closedir(d);
	return found;
}

/* The unit file NAME in the first unit folder that has it, into out (under root). */
static bool q_unit_find(const char *root, const char *name, char *out, size_t size, char *shown,
                        size_t shown_size)
{
	for (size_t i = 0; i < sizeof(unit_dirs) / sizeof(unit_dirs[0]); i++) {
		char rel[PATH_MAX];
		struct stat st;
		snprintf(rel, sizeof(rel), "%s/%.200s", unit_dirs[i], name);
		q_under(root, rel, out, size);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			mh_strlcpy(shown, rel, shown_size);
			return true;
		}
	}
	return false;
}

/*
 * The queues the "Key=" lines of a unit file (section-blind) run; the first
 * such line into first.
 */
static unsigned q_unit_exec(const char *path, const char *key, char *first, size_t size)
{
	char *buf = NULL;
	size_t len = 0, pos = 0, kl = strlen(key);
	unsigned covers = 0;

	if (mh_read_file(path, QF_FILE_MAX, &buf, &len, NULL, 0) < 0)
		return 0;
	while (pos < len) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n > kl && !strncmp(l, key, kl)) {
			unsigned c = mh_queue_command(l + kl, n - kl);
			if (c && !(covers & c) && first[0] == '\0')
				mh_sanitize_line(first, size, l + kl, n - kl);
			covers |= c;
		}
	}
	free(buf);
	return covers;
}

/* The Unit= of a timer file, or "" (then NAME.service). */
static void q_timer_unit(const char *path, char *unit, size_t size)
{
	char *buf = NULL;
	size_t len = 0, pos = 0;

	unit[0] = '\0';
	if (mh_read_file(path, QF_FILE_MAX, &buf, &len, NULL, 0) < 0)
		return;
	while (pos < len) {
		const char *l = buf + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n > 5 && !strncmp(l, "Unit=", 5)) {
			size_t t = n - 5;
			while (t && (l[5 + t - 1] == ' ' || l[5 + t - 1] == '\r'))
				t--;
			mh_sanitize_line(unit, size, l + 5, t);
		}
	}
	free(buf);
}

static void q_timers(struct mh_local_queues *q, const char *root)
{
	char seen[64][128];
	unsigned nseen = 0;

	for (size_t i = 0; i < sizeof(unit_dirs) / sizeof(unit_dirs[0]); i++) {
		char full[PATH_MAX];
		struct dirent *e;
		unsigned nfiles = 0;
		DIR *d;

		q_under(root, unit_dirs[i], full, sizeof(full));
		d = opendir(full);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL && nfiles < QF_DIR_FILES) {
			char tpath[PATH_MAX], unit[128], spath[PATH_MAX], shown[PATH_MAX];
			char first[200] = "", where[160];
			size_t n = strlen(e->d_name);
			bool dup = false, masked;
			unsigned covers;
			struct stat st;

			if (n < 7 || strcmp(e->d_name + n - 6, ".timer") != 0 || n >= 128)
				continue;
			nfiles++;
			for (unsigned k = 0; k < nseen; k++)
				dup |= !strcmp(seen[k], e->d_name);
			if (dup)
				continue;
			if (nseen < 64)
				mh_strlcpy(seen[nseen++], e->d_name, sizeof(seen[0]));
			if (snprintf(tpath, sizeof(tpath), "%s/%s", full, e->d_name) >=
			    (int)sizeof(tpath))
				continue;
			/* a unit linked to /dev/null is masked */
			masked = stat(tpath, &st) == 0 && !S_ISREG(st.st_mode);
			q_timer_unit(tpath, unit, sizeof(unit));
			if (!unit[0])
				snprintf(unit, sizeof(unit), "%.*s.service", (int)(n - 6),
				         e->d_name);
			if (!q_unit_find(root, unit, spath, sizeof(spath), shown, sizeof(shown)))
				continue;
			covers = q_unit_exec(spath, "ExecStart=", first, sizeof(first));
			if (!covers)
				continue;
			snprintf(where, sizeof(where), "%.60s -> %.90s", e->d_name, shown);
			q_runner(q, "timer", covers, !masked && q_unit_enabled(root, e->d_name),
			         first, strlen(first), where);
		}
		closedir(d);
	}
}

/* With no processes to look at: the MTA services enabled at boot. */
static void q_services(struct mh_local_queues *q, const char *root)
{
	static const struct {
		const char *name;
		unsigned covers;
	} svc[] = {
	    {"postfix", MH_QR_POSTFIX},
	    {"sendmail", MH_QR_MQUEUE | MH_QR_CLIENT}, /* Debian's runs both runners */
	    {"exim4", MH_QR_EXIM},
	    {"opensmtpd", MH_QR_OPENSMTPD},
	};
	for (size_t i = 0; i < sizeof(svc) / sizeof(svc[0]); i++) {
		char unit[64], where[160];
		snprintf(unit, sizeof(unit), "%s.service", svc[i].name);
		if (q_unit_enabled(root, unit)) {
			snprintf(where, sizeof(where), "/etc/systemd/system/*.wants/%s", unit);
			q_runner(q, "service", svc[i].covers, true, unit, strlen(unit), where);
		}
	}
}

/* ---- processes ---- */

static char *q_proc_file(const char *proc_root, const char *pid, const char *what, size_t *len)
{
	char path[PATH_MAX];
	char *buf = NULL;
	int eno;

	snprintf(path, sizeof(path), "%s/%s/%s", proc_root, pid, what);
	if (mh_local_read_file(path, &buf, len, &eno) < 0)
		return NULL;
	return buf;
}

static bool q_same_netns(const char *proc_root, const char *pid)
{
	char a[PATH_MAX], b[PATH_MAX], la[128], lb[128];
	ssize_t na, nb;

	snprintf(a, sizeof(a), "%s/self/ns/net", proc_root);
	snprintf(b, sizeof(b), "%s/%s/ns/net", proc_root, pid);
	na = readlink(a, la, sizeof(la) - 1);
	nb = readlink(b, lb, sizeof(lb) - 1);
	if (na < 0 || nb < 0)
		return true;
	return na == nb && !memcmp(la, lb, (size_t)na);
}

int mh_sendmail_pidfile_cmdline(const char *proc_root, const char *pid, char *out, size_t size)
{
	char dir[PATH_MAX];
	struct dirent *e;
	int rc = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/fd", proc_root, pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while (rc < 0 && (e = readdir(d)) != NULL) {
		char link[PATH_MAX], target[PATH_MAX], *buf = NULL;
		size_t len = 0, l1;
		ssize_t n;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(link, sizeof(link), "%s/%s", dir, e->d_name) >= (int)sizeof(link))
			continue;
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 5 || target[0] != '/')
			continue;
		target[n] = '\0';
		if (strcmp(target + n - 4, ".pid") != 0)
			continue;
		if (mh_read_file(target, 4096, &buf, &len, NULL, 0) < 0)
			continue;
		/* "PID\nCOMMAND LINE\n", the pid being this process's */
		l1 = strcspn(buf, "\n");
		if (l1 == strlen(pid) && !strncmp(buf, pid, l1) && buf[l1] == '\n') {
			const char *c = buf + l1 + 1;
			mh_sanitize_line(out, size, c, strcspn(c, "\r\n"));
			rc = 0;
		}
		free(buf);
	}
	closedir(d);
	return rc;
}

static void q_processes(struct mh_local_queues *q, const char *proc_root)
{
	DIR *d = opendir(proc_root);
	struct dirent *e;

	if (!d) {
		q_note(q, "%s: not readable: queue-runner processes not looked at", proc_root);
		return;
	}
	q->processes_seen = true;
	while ((e = readdir(d)) != NULL) {
		char *comm, *cmd, where[32];
		size_t clen = 0, cmdlen = 0;
		uint64_t pid;
		unsigned covers = 0;
		const char *kind = "process";

		if (mh_parse_u64(e->d_name, 1, 1u << 30, &pid) < 0)
			continue;
		comm = q_proc_file(proc_root, e->d_name, "comm", &clen);
		cmd = q_proc_file(proc_root, e->d_name, "cmdline", &cmdlen);
		if (!comm || !cmd || !cmdlen) {
			free(comm);
			free(cmd);
			continue;
		}
		comm[strcspn(comm, "\n")] = '\0';
		/* the arguments as one line (a process title has no NULs inside) */
		for (size_t i = 0; i + 1 < cmdlen; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		while (cmdlen && (cmd[cmdlen - 1] == '\0' || cmd[cmdlen - 1] == ' '))
			cmdlen--;
		cmd[cmdlen] = '\0';
		if (!strncmp(cmd, "sendmail:", 9) || !strncmp(cmd, "sm-mta:", 7) ||
		    !strncmp(cmd, "sm-msp-queue:", 13) || !strncmp(comm, "sendmail", 8)) {
			if (strstr(cmd, "Queue runner") || strstr(cmd, "Queue control") ||
			    strstr(cmd, "running queue"))
				covers = strstr(cmd, "mqueue-client") || strstr(cmd, "clientmqueue")
				             ? MH_QR_CLIENT
				             : MH_QR_MQUEUE;
			else if (strncmp(cmd, "sendmail:", 9) != 0 && !strstr(cmd, ": accepting"))
				covers =
				    mh_queue_command(cmd, cmdlen) & (MH_QR_MQUEUE | MH_QR_CLIENT);
			else if (strstr(cmd, "accepting connections")) {
				/* a daemon run with -bd -qTIME runs the queue itself; its title
				 * hides the arguments, its pid file has them */
				char line[200];
				bool here = q_same_netns(proc_root, e->d_name);
				if (mh_sendmail_pidfile_cmdline(proc_root, e->d_name, line,
				                                sizeof(line)) < 0) {
					/* not root: whether it has -q cannot be told */
					if (here) {
						q->unsure |= MH_QR_MQUEUE;
						q_note(q,
						       "sendmail daemon (pid %llu): its arguments "
						       "(pid file) not readable without root; "
						       "whether it runs the queue is not known",
						       (unsigned long long)pid);
					}
				} else if ((covers = mh_queue_command(line, strlen(line)) &
				                     (MH_QR_MQUEUE | MH_QR_CLIENT)) != 0) {
					snprintf(where, sizeof(where), "pid %llu",
					         (unsigned long long)pid);
					if (here)
						q_runner(q, "daemon", covers, true, line,
						         strlen(line), where);
					covers = 0;
				}
			}
		} else if (!strcmp(comm, "master") && strstr(cmd, "postfix")) {
			covers = MH_QR_POSTFIX;
			kind = "daemon";
		} else if (!strcmp(comm, "exim4") || !strcmp(comm, "exim")) {
			covers = mh_queue_command(cmd, cmdlen) & MH_QR_EXIM;
			kind = strstr(cmd, "-bd") ? "daemon" : "process";
		} else if (!strcmp(comm, "smtpd") && !strstr(cmd, "postfix") &&
		           (!strncmp(cmd, "smtpd:", 6) || strstr(cmd, "/sbin/smtpd") ||
		            !strcmp(cmd, "smtpd"))) {
			covers = MH_QR_OPENSMTPD;
			kind = "daemon";
		}
		if (covers && q_same_netns(proc_root, e->d_name)) {
			snprintf(where, sizeof(where), "pid %llu", (unsigned long long)pid);
			q_runner(q, kind, covers, true, cmd, cmdlen, where);
		}
		free(comm);
		free(cmd);
	}
	closedir(d);
}

/* ---- queues ---- */

static bool q_is_message(const struct mh_local_queue *q, const char *name)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return false;
	if (q->covers & (MH_QR_MQUEUE | MH_QR_CLIENT))
		return name[0] == 'q' && name[1] == 'f';
	if (q->covers & MH_QR_EXIM)
		return n > 2 && !strcmp(name + n - 2, "-H");
	return true; /* Postfix: every file is a queue file */
}

static void q_count_dir(struct mh_local_queue *q, int dfd, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int sub;
			if (depth + 1 >= QF_DEPTH)
				continue;
			sub = openat(dirfd(d), e->d_name,
			             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				q_count_dir(q, sub, depth + 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || !q_is_message(q, e->d_name))
			continue;
		if (q->count >= MH_QUEUE_COUNT_MAX) {
			q->count_capped = true;
			break;
		}
		q->count++;
		if (!q->oldest || st.st_mtime < q->oldest)
			q->oldest = st.st_mtime;
	}
	closedir(d);
}

void mh_local_queue_count(struct mh_local_queue *q, const char *dir, int64_t now)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	q->count = 0;
	q->oldest = 0;
	q->oldest_age_s = 0;
	if (fd < 0) {
		q->seen = false;
		snprintf(q->unseen, sizeof(q->unseen), "%s",
		         errno == EACCES || errno == EPERM ? "permission denied (root needed)"
		                                           : strerror(errno));
		return;
	}
	q->seen = true;
	q->unseen[0] = '\0';
	q_count_dir(q, fd, 0);
	if (q->oldest)
		q->oldest_age_s = now > q->oldest ? now - q->oldest : 0;
}

static const char *q_setting(const struct mh_mta_config *m, const char *key)
{
	for (unsigned i = 0; m && i < m->nsettings && i < MH_MTA_SETTINGS_MAX; i++)
		if (!strcmp(m->settings[i].key, key))
			return m->settings[i].value;
	return NULL;
}

static bool q_dir_exists(const char *root, const char *path)
{
	char full[PATH_MAX];
	struct stat st;

	q_under(root, path, full, sizeof(full));
	return stat(full, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds queue NAME at PATH (on the host) when its folder exists under root. */
static void q_queue(struct mh_local_queues *q, const char *root, const char *name, unsigned covers,
                    const char *path, int64_t now)
{
	struct mh_local_queue *e;
	char dir[PATH_MAX], full[PATH_MAX];
	const char *star;
	struct stat st;

	if (q->nq >= MH_QUEUES_MAX || !path || !path[0])
		return;
	/* "QueueDirectory=/var/spool/mqueue/q*": several queue folders, under the parent */
	mh_strlcpy(dir, path, sizeof(dir));
	star = strchr(dir, '*');
	if (star) {
		char *slash = strrchr(dir, '/');
		if (slash && slash > dir && slash < star)
			*slash = '\0';
	}
	q_under(root, dir, full, sizeof(full));
	if (stat(full, &st) < 0 && errno == ENOENT)
		return;
	e = &q->q[q->nq++];
	memset(e, 0, sizeof(*e));
	mh_strlcpy(e->name, name, sizeof(e->name));
	e->covers = covers;
	mh_sanitize_line(e->path, sizeof(e->path), dir, strlen(dir));
	mh_local_queue_count(e, full, now);
}

/* Where submit.cf sends, and whether the table says anything listens there. */
static void q_msp(struct mh_local_queues *q, const struct mh_mta_config *m,
                  const struct mh_local *l)
{
	const char *host = q_setting(m, "submit.cf MTAHost"),
	           *port = q_setting(m, "submit.cf MTAPort");
	char h[128];
	size_t n;
	uint64_t p = 25;
	int pi;

	q->msp_listening = MH_TRI_UNKNOWN;
	if (!host)
		return;
	for (unsigned i = 0; i < m->nsettings; i++)
		if (!strcmp(m->settings[i].key, "submit.cf MTAHost"))
			mh_strlcpy(q->msp_where, m->settings[i].where, sizeof(q->msp_where));
	mh_strlcpy(q->msp_host, host, sizeof(q->msp_host));
	if (port && mh_parse_u64(port, 1, 65535, &p) < 0)
		p = 25;
	q->msp_port = (uint16_t)p;
	/* "[127.0.0.1]", "[localhost]", "[IPv6:::1]" */
	mh_strlcpy(h, host[0] == '[' ? host + 1 : host, sizeof(h));
	n = strcspn(h, "]");
	h[n] = '\0';
	if (!strncmp(h, "IPv6:", 5))
		memmove(h, h + 5, strlen(h + 5) + 1);
	q->msp_loopback = !strncmp(h, "127.", 4) || !strcmp(h, "localhost") || !strcmp(h, "::1");
	if (!q->msp_loopback || !l || !l->naddrs || (pi = mh_local_port_index(q->msp_port)) < 0)
		return;
	q->msp_listening = MH_TRI_NO;
	for (size_t i = 0; i < l->naddrs; i++) {
		const struct mh_local_addr *r = &l->addrs[i];
		char a[MH_ADDR_STRLEN];
		bool match;
		if (!r->loopback)
			continue;
		mh_addr_format(&r->addr, a, sizeof(a));
		match = !strcmp(h, "localhost") ? (!strcmp(a, "127.0.0.1") || !strcmp(a, "::1"))
		                                : !strcmp(a, h);
		if (match && r->cell[pi] == MH_CELL_LISTENING)
			q->msp_listening = MH_TRI_YES;
	}
	/* an address the table has no row for (127.0.0.2): not known */
	if (q->msp_listening == MH_TRI_NO && strcmp(h, "localhost") != 0 &&
	    strcmp(h, "127.0.0.1") != 0 && strcmp(h, "::1") != 0)
		q->msp_listening = MH_TRI_UNKNOWN;
}

static const char *q_cover_name(unsigned bit)
{
	switch (bit) {
	case MH_QR_MQUEUE:
		return "Sendmail's MTA queue (sendmail -q)";
	case MH_QR_CLIENT:
		return "Sendmail's MSP queue (sendmail -Ac -q)";
	case MH_QR_POSTFIX:
		return "Postfix's queue (master, or postqueue -f)";
	case MH_QR_EXIM:
		return "Exim's queue (exim -q)";
	default:
		return "OpenSMTPD's queue (smtpd)";
	}
}

void mh_local_queues_judge(struct mh_local_queues *q, const char *product)
{
	unsigned covered = 0;

	for (unsigned i = 0; i < q->nr; i++)
		if (q->r[i].active)
			covered |= q->r[i].covers;
	q->needs = 0;
	if (product && !strcmp(product, "sendmail")) {
		q->needs = MH_QR_MQUEUE;
		for (unsigned i = 0; i < q->nq; i++)
			if (q->q[i].covers == MH_QR_CLIENT)
				q->needs |= MH_QR_CLIENT;
		if (q->msp_host[0])
			q->needs |= MH_QR_CLIENT;
	} else if (product && !strcmp(product, "postfix")) {
		q->needs = MH_QR_POSTFIX;
	} else if (product && !strcmp(product, "exim")) {
		q->needs = MH_QR_EXIM;
	} else if (product && !strcmp(product, "opensmtpd")) {
		q->needs = MH_QR_OPENSMTPD;
	}
	q->missing = q->needs & ~covered & ~q->unsure;
	q->missing_why[0] = '\0';
	if (q->missing) {
		size_t off = 0;
		for (unsigned bit = 1; bit <= MH_QR_OPENSMTPD; bit <<= 1) {
			if (!(q->missing & bit) || off + 1 >= sizeof(q->missing_why))
				continue;
			off += (size_t)snprintf(q->missing_why + off, sizeof(q->missing_why) - off,
			                        "%s%s", off ? ", " : "nothing runs ",
			                        q_cover_name(bit));
		}
		if (off + 1 < sizeof(q->missing_why))
			snprintf(q->missing_why + off, sizeof(q->missing_why) - off, ": %s",
			         q->processes_seen ? "no queue-runner process, cron entry or "
			                             "enabled systemd timer"
			                           : "no cron entry, enabled systemd timer or "
			                             "enabled service (processes not looked at)");
	}
	for (unsigned i = 0; i < q->nq; i++) {
		struct mh_local_queue *e = &q->q[i];
		e->covered = (e->covers & covered) != 0;
		e->stuck = false;
		e->why[0] = '\0';
		if (!e->seen || !e->count)
			continue;
		if (!e->covered && (e->covers & q->unsure) &&
		    e->oldest_age_s < MH_QUEUE_STUCK_AGE_S)
			continue; /* maybe run by a daemon whose arguments were not seen */
		if (e->covers == MH_QR_CLIENT && q->msp_loopback && q->msp_listening == MH_TRI_NO) {
			e->stuck = true;
			snprintf(e->why, sizeof(e->why),
			         "submit.cf sends to %.60s port %u (%.50s), where nothing listens",
			         q->msp_host, q->msp_port, q->msp_where);
		} else if (!e->covered) {
			e->stuck = true;
			snprintf(e->why, sizeof(e->why), "nothing runs this queue");
		} else if (e->oldest_age_s >= MH_QUEUE_STUCK_AGE_S) {
			e->stuck = true;
			snprintf(e->why, sizeof(e->why),
			         "the oldest message has waited %lld s (a runner exists, delivery "
			         "keeps failing)",
			         (long long)e->oldest_age_s);
		}
	}
}

int mh_local_queues_gather(const struct mh_queue_opts *o, const struct mh_mta_config *mta,
                           const struct mh_local *l, struct mh_local_queues *out)
{
	const char *root = o->root && o->root[0] ? o->root : NULL;
	const char *product = mta ? mta->product : NULL;
	static const char *const cron_dirs[] = {"/etc/cron.hourly", "/etc/cron.daily",
	                                        "/etc/cron.weekly", "/etc/cron.monthly"};

	memset(out, 0, sizeof(*out));
	out->msp_listening = MH_TRI_UNKNOWN;
	if (o->proc_root)
		q_processes(out, o->proc_root);
	q_cron_file(out, root, "/etc/crontab", "cron");
	q_cron_dir(out, root, "/etc/cron.d", false);
	for (size_t i = 0; i < sizeof(cron_dirs) / sizeof(cron_dirs[0]); i++)
		q_cron_dir(out, root, cron_dirs[i], false);
	q_cron_dir(out, root, "/var/spool/cron/crontabs", true);
	q_timers(out, root);
	if (!o->proc_root)
		q_services(out, root);

	if (product && !strcmp(product, "sendmail")) {
		const char *mq = q_setting(mta, "QueueDirectory");
		const char *cq = q_setting(mta, "submit.cf QueueDirectory");
		q_queue(out, root, "sendmail-mqueue", MH_QR_MQUEUE, mq ? mq : "/var/spool/mqueue",
		        o->now);
		if (!cq)
			cq = q_dir_exists(root, "/var/spool/mqueue-client")
			         ? "/var/spool/mqueue-client"
			         : "/var/spool/clientmqueue";
		q_queue(out, root, "sendmail-clientmqueue", MH_QR_CLIENT, cq, o->now);
		q_msp(out, mta, l);
	} else if (product && !strcmp(product, "postfix")) {
		static const char *const pq[] = {"maildrop", "incoming", "active", "deferred"};
		const char *qd = q_setting(mta, "queue_directory");
		for (size_t i = 0; i < sizeof(pq) / sizeof(pq[0]); i++) {
			char path[PATH_MAX], name[24];
			snprintf(path, sizeof(path), "%.3000s/%s", qd ? qd : "/var/spool/postfix",
			         pq[i]);
			snprintf(name, sizeof(name), "postfix-%s", pq[i]);
			q_queue(out, root, name, MH_QR_POSTFIX, path, o->now);
		}
	} else if (product && !strcmp(product, "exim")) {
		q_queue(out, root, "exim-input", MH_QR_EXIM,
		        q_dir_exists(root, "/var/spool/exim4/input") ? "/var/spool/exim4/input"
		                                                     : "/var/spool/exim/input",
		        o->now);
	}
	mh_local_queues_judge(out, product);
	return 0;
}
