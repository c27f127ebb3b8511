/*
 * probe_run.c -- the parts of probing that talk to the outside: reading the
 * collector mailbox into a probe state (mailhole probe, mailhole local
 * --probe) and submitting host-submission probes through this host's own
 * mail command (include/mailhole/probe.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/collect.h"
#include "mailhole/common.h"
#include "mailhole/mail.h"
#include "mailhole/policy.h"
#include "mailhole/probe.h"

/* ---- collecting (mailhole probe, mailhole local --probe) ---- */

struct collect_ctx {
	struct mh_probe_state *st;
	struct mh_collector *col;
	bool expunge;
	uint64_t max_uid;
	unsigned applied;
};

static int on_message(void *arg, const char *key, uint64_t uid, const char *msg, size_t len)
{
	struct collect_ctx *cx = arg;
	struct mh_mail *m = malloc(sizeof(*m));
	char err[MH_ERRLEN];
	struct mh_probe *p;

	if (uid > cx->max_uid)
		cx->max_uid = uid;
	if (!m)
		return MH_ENOMEM;
	if (mh_mail_parse(msg, len, m, err, sizeof(err)) < 0) {
		char k[80];
		mh_sanitize_line(k, sizeof(k), key, strlen(key));
		mh_log_warn("collector message %s: %s (skipped)", k, err);
		cx->st->bad_messages++;
		free(m);
		return 0;
	}
	p = mh_probe_apply_mail(cx->st, m, key, (int64_t)time(NULL));
	if (!p) {
		cx->st->unmatched++;
	} else {
		cx->applied++;
		if (cx->expunge && mh_collect_delete(cx->col, key, err, sizeof(err)) < 0)
			mh_log_warn("%s", err);
	}
	free(m);
	return 0;
}

int mh_probe_collect(const struct mh_policy *pol, struct mh_probe_state *st, bool expunge,
		     bool insecure, long timeout_ms, char *err, size_t errlen)
{
	const struct mh_policy_collector *col = mh_policy_collector(pol);
	struct mh_collect_opts o = {.url = col->url, .user = col->user,
				    .insecure = insecure, .timeout_ms = timeout_ms};
	struct collect_ctx cx = {.st = st, .expunge = expunge};
	char *pass = NULL;
	unsigned skipped = 0;
	int rc;

	if (!col || !col->url)
		return mh_err(err, errlen, MH_EINVAL, "the policy names no collector url");

	if (col->password_file || col->password_env) {
		if ((rc = mh_collect_password(col->password_file, col->password_env, &pass, err,
					      errlen)) < 0)
			return rc;
		o.password = pass;
	}
	rc = mh_collect_open(&o, &cx.col, err, errlen);
	if (pass) {
		memset(pass, 0, strlen(pass));
		free(pass);
	}
	if (rc < 0)
		return rc;
	if (mh_collect_uidvalidity(cx.col) != st->uidvalidity) {
		if (st->uidvalidity)
			mh_log_warn("collector %s: UIDVALIDITY changed; reading it all again",
				    col->url);
		st->uidvalidity = mh_collect_uidvalidity(cx.col);
		st->last_uid = 0;
	}
	cx.max_uid = st->last_uid;
	rc = mh_collect_each(cx.col, st->last_uid, on_message, &cx, &skipped, err, errlen);
	mh_collect_close(&cx.col);
	if (rc < 0)
		return rc;
	if (cx.max_uid > st->last_uid)
		st->last_uid = cx.max_uid;
	mh_log_info("collector: %d message(s), %u about our probes, %u skipped", rc, cx.applied,
		    skipped);
	return 0;
}


/* ---- host-submission probes: through this host's own mail command ---- */

/*
 * Runs argv[0] with msg on its standard input, no shell, at most timeout_ms;
 * its first line of output (stdout and stderr together) into out. Returns
 * the exit status (0..255), or -1 when it could not be run or was killed at
 * the timeout (out says which).
 */
static int run_mail_command(char *const argv[], const char *msg, size_t len, long timeout_ms,
			    char *out, size_t outsize)
{
	int in[2], ob[2], status = 0;
	pid_t pid;
	size_t off = 0, got = 0;
	char buf[512];
	uint64_t deadline = mh_now_ms() + (uint64_t)timeout_ms;
	bool in_open = true, out_open = true;

	out[0] = '\0';
	if (pipe2(in, O_CLOEXEC) < 0)
		return snprintf(out, outsize, "pipe: %s", strerror(errno)), -1;
	if (pipe2(ob, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return snprintf(out, outsize, "pipe: %s", strerror(errno)), -1;
	}
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(ob[0]);
		close(ob[1]);
		return snprintf(out, outsize, "fork: %s", strerror(errno)), -1;
	}
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(ob[1], 1);
		dup2(ob[1], 2);
		execv(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(ob[1]);
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);
	while (in_open || out_open) {
		struct pollfd p[2] = {{.fd = in_open ? in[1] : -1, .events = POLLOUT},
				      {.fd = out_open ? ob[0] : -1, .events = POLLIN}};
		uint64_t now = mh_now_ms();
		if (now >= deadline)
			break;
		if (poll(p, 2, (int)(deadline - now)) < 0 && errno != EINTR)
			break;
		if (in_open && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = off < len ? write(in[1], msg + off, len - off) : 0;
			if (n > 0)
				off += (size_t)n;
			if (off >= len || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(in[1]);
				in_open = false;
			}
		}
		if (out_open && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
			ssize_t n = read(ob[0], buf, sizeof(buf));
			if (n <= 0) {
				close(ob[0]);
				out_open = false;
			} else if (got == 0) {
				size_t l = strcspn(buf, "\n");
				mh_sanitize_line(out, outsize, buf, l < (size_t)n ? l : (size_t)n);
				got = 1;
			}
		}
	}
	if (in_open)
		close(in[1]);
	if (out_open)
		close(ob[0]);
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (mh_now_ms() >= deadline) {
			kill(pid, SIGKILL); /* our own child, by its pid */
			waitpid(pid, &status, 0);
			snprintf(out, outsize, "%s: no answer within %ld ms (killed)", argv[0],
				 timeout_ms);
			return -1;
		}
		usleep(10000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	snprintf(out, outsize, "%s: killed by signal %d", argv[0],
		 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

static struct mh_probe *find_host_probe(struct mh_probe_state *st, const char *variant,
					const char *host)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->v[i].kind, "host-submission") &&
		    !strcmp(st->v[i].variant, variant) && !strcasecmp(st->v[i].host, host))
			return &st->v[i];
	return NULL;
}

int mh_probe_host_submission(const struct mh_host_submit_opts *o, struct mh_probe_state *st,
			     char *err, size_t errlen)
{
	static const char *const variants[] = {"bare-sender", "bare-root"};
	const char *at = o->collector ? strrchr(o->collector, '@') : NULL;
	bool exim = o->product && !strcmp(o->product, "exim");
	unsigned sent = 0;

	if (!at || at == o->collector || !at[1])
		return mh_err(err, errlen, MH_EINVAL,
			      "the policy's collector address '%.100s' is not local@domain",
			      o->collector ? o->collector : "");
	if (access(o->sendmail, X_OK) < 0)
		return mh_err(err, errlen, MH_EIO, "mail command %s: %s", o->sendmail,
			      strerror(errno));
	for (size_t k = 0; k < 2; k++) {
		const char *variant = variants[k];
		char from[MH_MAIL_ADDR_MAX] = "", msg[2048], out[256];
		char *argv[16];
		int n = 0, rc;
		struct mh_probe *p = find_host_probe(st, variant, o->host);
		if (p && p->sent)
			continue; /* never twice */
		if (!p) {
			p = mh_probe_add(st, "host-submission", variant, o->host,
					 k == 0 ? o->collector : "root", "");
			if (!p)
				return mh_err(err, errlen, MH_ENOMEM, "out of memory");
		}
		if (k == 1 && mh_probe_verp(o->collector, p->tag, from, sizeof(from)) == 0)
			mh_strlcpy(p->mail_from, from, sizeof(p->mail_from));
		argv[n++] = (char *)o->sendmail;
		argv[n++] = (char *)"-oi";
		if (k == 1) {
			argv[n++] = (char *)"-f";
			argv[n++] = from;
		}
		if (!exim) { /* exim's -N means "do not deliver" */
			argv[n++] = (char *)"-N";
			argv[n++] = (char *)"success,failure,delay";
			argv[n++] = (char *)"-V";
			argv[n++] = p->tag;
		}
		argv[n++] = (char *)"--";
		argv[n++] = p->rcpt;
		argv[n] = NULL;
		/* no From: the host's MTA writes it, so that header masquerading shows too */
		int ml = snprintf(msg, sizeof(msg),
				  "To: %s\n"
				  "Subject: mailhole probe %s (host-submission %s from %s)\n"
				  "Message-ID: <%s@mailhole.invalid>\n"
				  "X-Mailhole-Tag: %s\n"
				  "X-Mailhole-Probe: host-submission %s %s\n"
				  "Auto-Submitted: auto-generated\n"
				  "\n"
				  "A mailhole probe submitted on %s through %s.\n"
				  "It shows how this host qualifies a bare %s.\n"
				  "\n"
				  "mailhole-tag: %s\n",
				  p->rcpt, p->tag, variant, o->host, p->tag, p->tag, variant,
				  o->host, o->host, o->sendmail,
				  k == 0 ? "sender" : "recipient (root)", p->tag);
		rc = run_mail_command(argv, msg, (size_t)ml, o->timeout_ms > 0 ? o->timeout_ms : 30000,
				      out, sizeof(out));
		if (rc == 0) {
			char r[300];
			snprintf(r, sizeof(r), "%s exited 0%s%s", o->sendmail, out[0] ? ": " : "",
				 out);
			mh_probe_submitted(p, 250, r, !exim, (int64_t)time(NULL));
			sent++;
		} else {
			char r[300];
			if (rc > 0)
				snprintf(r, sizeof(r), "%s exited %d%s%s", o->sendmail, rc,
					 out[0] ? ": " : "", out);
			else
				mh_strlcpy(r, out, sizeof(r));
			/* the host's own mail command refused it: the user is told, not lost */
			mh_probe_submitted(p, 554, r, !exim, (int64_t)time(NULL));
			mh_log_warn("host-submission probe %s: %s", p->tag, r);
		}
	}
	return (int)sent;
}
