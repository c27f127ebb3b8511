/*
 * collect.c -- the collector mailbox (include/mailhole/collect.h): where
 * probe messages and the bounces about them come back. Two kinds behind
 * one interface:
 *
 *   IMAP / IMAPS through libcurl. One easy handle per collector, so every
 *   request rides the one logged-in connection (libcurl keeps it and the
 *   selected mailbox between requests). open = EXAMINE (UIDVALIDITY);
 *   each = "UID FETCH after+1:* (UID RFC822.SIZE)" parsed by
 *   collect_imap.c, then one "imap://HOST/MBOX;UIDVALIDITY=v/;UID=n"
 *   fetch per message; delete = UID STORE +FLAGS.SILENT (\Deleted),
 *   expunged at close (or by mh_collect_expunge). The password goes to
 *   CURLOPT_PASSWORD only; nothing of what we send is ever logged, only
 *   the server's last tagged answer, to explain a failure.
 *
 *   Maildir: the regular files of new/ and cur/, oldest first.
 *
 * Every message is bounded by MH_MAIL_MAX; a larger one is skipped and
 * counted, never the end of a run.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/collect.h"
#include "mailhole/common.h"
#include "mailhole/mail.h"

#define COLLECT_TIMEOUT_MS 30000L
#define LIST_MAX           (64u << 20) /* the UID FETCH listing: ~40 bytes a message */
#define EXAMINE_MAX        (1u << 20)
#define LINE_MAX_SHOWN     200
#define PASSWORD_LINE_MAX  1023

enum collect_kind { COLLECT_IMAP, COLLECT_MAILDIR };

/* A body being received: grows up to `limit`, then the transfer is stopped. */
struct collect_buf {
	char *data;
	size_t len, cap, limit;
	int over; /* the limit was hit */
};

struct maildir_ent {
	char *path; /* DIR/new/NAME */
	char *key;  /* NAME up to ':' */
	struct timespec mtime;
	off_t size;
};

struct mh_collector {
	enum collect_kind kind;
	char shown[256]; /* the URL for messages: no credentials, printable */

	/* IMAP */
	CURL *curl;
	char *user;
	char *password;
	char *mbox_url;  /* "imap://HOST:PORT/MBOX;UIDVALIDITY=v" once open */
	char *root_url;  /* "imap://HOST:PORT/" */
	char *mbox_path; /* "MBOX" as in the URL (percent-encoded) */
	char *mailbox;   /* decoded name, for EXAMINE */
	uint64_t uidvalidity;
	long timeout_ms;
	uint64_t *deleted; /* UIDs marked \Deleted, not expunged yet */
	size_t ndeleted, capdeleted;
	struct collect_buf body;
	char errbuf[CURL_ERROR_SIZE];
	char last_line[LINE_MAX_SHOWN]; /* what the server said against us, tag cut */
	int last_tagged;                /* last_line is a tagged NO / BAD */

	/* Maildir */
	char *dir;
};

/* ---- small helpers -------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The URL as it may be shown: userinfo replaced by "***", printable. */
static void shown_url(char *dst, size_t size, const char *url)
{
	char tmp[512];
	const char *sep = strstr(url, "://");

	if (sep) {
		const char *auth = sep + 3;
		size_t alen = strcspn(auth, "/?#");
		const char *at = NULL;
		for (size_t i = 0; i < alen; i++)
			if (auth[i] == '@')
				at = auth + i;
		if (at) {
			snprintf(tmp, sizeof(tmp), "%.*s***%s", (int)(auth - url), url, at);
			mh_sanitize_line(dst, size, tmp, strlen(tmp));
			return;
		}
	}
	mh_sanitize_line(dst, size, url, strlen(url));
}

/* dst = a/b; MH_ELIMIT when it does not fit. */
static int path_join(char *dst, size_t size, const char *a, const char *b)
{
	int n = snprintf(dst, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? MH_ELIMIT : 0;
}

static int starts_with_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- IMAP ----------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct collect_buf *b = arg;
	size_t n = size * nmemb;

	if (n > b->limit - b->len || b->len > b->limit) {
		b->over = 1;
		return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *nd = realloc(b->data, nc);
		if (!nd)
			return 0;
		b->data = nd;
		b->cap = nc;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/*
 * libcurl hands every server response line to the header callback. We keep
 * what explains a failure: the last tagged NO / BAD ("A004 NO Mailbox
 * doesn't exist"), else the last "* BYE / NO / BAD". Not the OK of the
 * LOGOUT that follows a failure. Lines we send are never seen here (no
 * VERBOSE), so the password cannot leak through this.
 */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct mh_collector *c = arg;
	size_t n = size * nmemb, i = 0, e = n;
	int tagged = 1;

	if (n >= 2 && ptr[0] == '+' && ptr[1] == ' ')
		return n;
	if (n >= 2 && ptr[0] == '*' && ptr[1] == ' ') {
		tagged = 0;
		i = 2;
	} else {
		while (i < n && ptr[i] != ' ') /* the tag */
			i++;
		if (i < n)
			i++;
	}
	if (n - i < 3 || (strncasecmp(ptr + i, "NO", 2) && strncasecmp(ptr + i, "BAD", 3) &&
	                  (tagged || strncasecmp(ptr + i, "BYE", 3))))
		return n;
	if (!tagged && c->last_tagged)
		return n;
	while (e > i && (ptr[e - 1] == '\n' || ptr[e - 1] == '\r'))
		e--;
	mh_sanitize_line(c->last_line, sizeof(c->last_line), ptr + i, e - i);
	c->last_tagged = tagged;
	return n;
}

/* One request on the collector's handle: URL, custom command (NULL: a fetch). */
static CURLcode imap_do(struct mh_collector *c, const char *url, const char *custom, size_t limit,
                        size_t hint)
{
	c->body.len = 0;
	c->body.over = 0;
	c->body.limit = limit;
	if (c->body.data)
		c->body.data[0] = '\0';
	if (hint && hint < limit && hint + 1 > c->body.cap) {
		char *nd = realloc(c->body.data, hint + 1);
		if (nd) {
			c->body.data = nd;
			c->body.cap = hint + 1;
		}
	}
	c->errbuf[0] = '\0';
	c->last_line[0] = '\0';
	c->last_tagged = 0;
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, custom);
	return curl_easy_perform(c->curl);
}

/*
 * imap_do, once more on a new connection when the old one broke under the
 * request: a server drops a connection that idled while the caller waited
 * (mailhole probe waits for bounces between open and each), or says BYE
 * when the mailbox changed under the session (Dovecot: "IMAP session state
 * is inconsistent, please relogin"). The new session then tells what is
 * true now (a new UIDVALIDITY is an error of its own).
 */
static CURLcode imap_do_retry(struct mh_collector *c, const char *url, const char *custom,
                              size_t limit, size_t hint)
{
	CURLcode cc = imap_do(c, url, custom, limit, hint);

	if (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING) {
		mh_log_debug("collect: %s: connection lost (%s), once more", c->shown,
		             curl_easy_strerror(cc));
		curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 1L);
		cc = imap_do(c, url, custom, limit, hint);
		curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 0L);
	}
	return cc;
}

/* Whether a failure concerns the connection (then nothing else will work). */
static int transport_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_LOGIN_DENIED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_WEIRD_SERVER_REPLY:
		return 1;
	default:
		return 0;
	}
}

/* "URL: WHAT: DETAIL (server: LINE)" for a failed request. */
static int imap_fail(struct mh_collector *c, CURLcode cc, const char *what, char *err,
                     size_t errlen)
{
	const char *phrase = what;
	char detail[CURL_ERROR_SIZE + 64];
	char server[LINE_MAX_SHOWN + 32] = "";
	char login[160];
	int code = MH_EIO;

	switch (cc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		phrase = "bad URL";
		code = MH_EINVAL;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		phrase = "cannot resolve the host";
		break;
	case CURLE_COULDNT_CONNECT:
		phrase = "cannot connect";
		break;
	case CURLE_LOGIN_DENIED:
		snprintf(login, sizeof(login), "login as \"%.100s\" failed", c->user);
		phrase = login;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		phrase = "TLS failed";
		break;
	default:
		break;
	}
	if (cc == CURLE_OPERATION_TIMEDOUT)
		snprintf(detail, sizeof(detail), "timed out after %ld ms", c->timeout_ms);
	else if (c->errbuf[0])
		mh_sanitize_line(detail, sizeof(detail), c->errbuf, strlen(c->errbuf));
	else
		snprintf(detail, sizeof(detail), "%s", curl_easy_strerror(cc));
	if (c->last_line[0] && cc == CURLE_QUOTE_ERROR)
		snprintf(detail, sizeof(detail), "the server answered \"%s\"", c->last_line);
	else if (c->last_line[0])
		snprintf(server, sizeof(server), " (the server answered \"%s\")", c->last_line);
	return mh_err(err, errlen, code, "%s: %s: %s%s", c->shown, phrase, detail, server);
}

/* Mailbox name as an IMAP quoted string; printable ASCII only. */
static int quote_mailbox(const char *name, char *out, size_t size)
{
	size_t o = 0;

	if (o + 1 >= size)
		return MH_EINVAL;
	out[o++] = '"';
	for (const char *p = name; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch < 0x20 || ch > 0x7e)
			return MH_EINVAL;
		if (o + 3 >= size)
			return MH_EINVAL;
		if (ch == '"' || ch == '\\')
			out[o++] = '\\';
		out[o++] = (char)ch;
	}
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

/*
 * Splits and checks an imap[s]:// URL with libcurl's own URL parser:
 * no userinfo (credentials belong in password_file), no query or
 * fragment, no ";" parameters (we add UIDVALIDITY ourselves); an empty
 * path is INBOX.
 */
static int imap_parse_url(struct mh_collector *c, const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	CURLUcode uc;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *dpath = NULL, *part = NULL;
	int rc = MH_EINVAL;
	char quoted[512];

	if (!u)
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		mh_err(err, errlen, MH_EINVAL, "%s: bad URL: %s", c->shown, curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_OPTIONS, &part, 0) == CURLUE_OK) {
		mh_err(err, errlen, MH_EINVAL,
		       "%s: bad URL: credentials in the URL are refused (give the user and "
		       "password_file or password_env)",
		       c->shown);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		mh_err(err, errlen, MH_EINVAL, "%s: bad URL: no query or fragment expected",
		       c->shown);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
		mh_err(err, errlen, MH_EINVAL, "%s: bad URL: no host", c->shown);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &dpath, CURLU_URLDECODE) != CURLUE_OK) {
		mh_err(err, errlen, MH_EINVAL, "%s: bad URL: bad mailbox path", c->shown);
		goto out;
	}
	const char *p = path[0] == '/' ? path + 1 : path;
	const char *dp = dpath[0] == '/' ? dpath + 1 : dpath;
	size_t pl = strlen(p), dl = strlen(dp);
	while (pl > 0 && p[pl - 1] == '/')
		pl--;
	while (dl > 0 && dp[dl - 1] == '/')
		dl--;
	if (strchr(p, ';')) {
		mh_err(err, errlen, MH_EINVAL,
		       "%s: bad URL: no ';' parameters expected after the mailbox", c->shown);
		goto out;
	}
	if (pl == 0) {
		c->mbox_path = xstrdup("INBOX");
		c->mailbox = xstrdup("INBOX");
	} else {
		c->mbox_path = strndup(p, pl);
		c->mailbox = strndup(dp, dl);
	}
	if (!c->mbox_path || !c->mailbox) {
		rc = mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
		goto out;
	}
	if (quote_mailbox(c->mailbox, quoted, sizeof(quoted)) < 0) {
		mh_err(err, errlen, MH_EINVAL,
		       "%s: bad URL: the mailbox name must be printable ASCII (modified UTF-7)",
		       c->shown);
		goto out;
	}
	size_t n = strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) + 8;
	c->root_url = malloc(n);
	if (!c->root_url) {
		rc = mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
		goto out;
	}
	snprintf(c->root_url, n, "%s://%s%s%s/", scheme, host, port ? ":" : "", port ? port : "");
	rc = 0;
out:
	curl_free(part);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(dpath);
	curl_url_cleanup(u);
	return rc;
}

static int imap_open(struct mh_collector *c, const struct mh_collect_opts *o, char *err,
                     size_t errlen)
{
	char cmd[600], quoted[512];
	CURLcode cc;
	int rc;

	if (!o->user || !o->user[0])
		return mh_err(err, errlen, MH_EINVAL, "%s: an IMAP collector needs a user",
		              c->shown);
	if (!o->password)
		return mh_err(err, errlen, MH_EINVAL, "%s: an IMAP collector needs a password",
		              c->shown);
	rc = imap_parse_url(c, o->url, err, errlen);
	if (rc < 0)
		return rc;
	c->user = xstrdup(o->user);
	c->password = xstrdup(o->password);
	if (!c->user || !c->password)
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : COLLECT_TIMEOUT_MS;

	c->curl = curl_easy_init();
	if (!c->curl)
		return mh_err(err, errlen, MH_ENOMEM, "%s: curl_easy_init failed", c->shown);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "imap,imaps");
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, c->user);
	curl_easy_setopt(c->curl, CURLOPT_PASSWORD, c->password);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->body);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
	if (o->starttls)
		curl_easy_setopt(c->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, o->insecure ? 0L : 1L);
	curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, o->insecure ? 0L : 2L);

	/* EXAMINE on the server root: connects, logs in, and tells UIDVALIDITY */
	quote_mailbox(c->mailbox, quoted, sizeof(quoted));
	snprintf(cmd, sizeof(cmd), "EXAMINE %s", quoted);
	cc = imap_do(c, c->root_url, cmd, EXAMINE_MAX, 0);
	if (cc != CURLE_OK) {
		char what[600];
		if (cc == CURLE_QUOTE_ERROR) {
			snprintf(what, sizeof(what), "cannot open mailbox %s", quoted);
			return imap_fail(c, cc, what, err, errlen);
		}
		return imap_fail(c, cc, "cannot open the mailbox", err, errlen);
	}
	if (mh_imap_parse_uidvalidity(c->body.data ? c->body.data : "", c->body.len,
	                              &c->uidvalidity) < 0)
		return mh_err(err, errlen, MH_EIO,
		              "%s: the server sent no valid UIDVALIDITY for mailbox %s", c->shown,
		              quoted);
	size_t n = strlen(c->root_url) + strlen(c->mbox_path) + 40;
	c->mbox_url = malloc(n);
	if (!c->mbox_url)
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
	snprintf(c->mbox_url, n, "%s%s;UIDVALIDITY=%" PRIu64, c->root_url, c->mbox_path,
	         c->uidvalidity);
	mh_log_debug("collect: %s open, UIDVALIDITY %" PRIu64, c->shown, c->uidvalidity);
	return 0;
}

/* libcurl says so when ;UIDVALIDITY= no longer matches the mailbox. */
static int uidvalidity_changed(const struct mh_collector *c)
{
	return strstr(c->errbuf, "UIDVALIDITY") != NULL;
}

static int imap_each(struct mh_collector *c, uint64_t after_uid, mh_collect_cb cb, void *arg,
                     unsigned *nskipped, char *err, size_t errlen)
{
	struct mh_imap_msg *msgs = NULL;
	size_t nmsgs = 0;
	char cmd[96], url[1024], key[24];
	CURLcode cc;
	int rc, count = 0, timeouts = 0;

	if (after_uid >= 4294967295ull)
		return 0;
	snprintf(cmd, sizeof(cmd), "UID FETCH %" PRIu64 ":* (UID RFC822.SIZE)", after_uid + 1);
	cc = imap_do_retry(c, c->mbox_url, cmd, LIST_MAX, 0);
	if (cc != CURLE_OK) {
		if (c->body.over)
			return mh_err(err, errlen, MH_ELIMIT,
			              "%s: the message list is larger than %u bytes", c->shown,
			              LIST_MAX);
		if (uidvalidity_changed(c))
			return mh_err(err, errlen, MH_EIO,
			              "%s: UIDVALIDITY changed (was %" PRIu64
			              "): the mailbox was renumbered, the UIDs seen before mean "
			              "nothing now",
			              c->shown, c->uidvalidity);
		return imap_fail(c, cc, "cannot list the messages", err, errlen);
	}
	rc = mh_imap_parse_fetch_list(c->body.data ? c->body.data : "", c->body.len, after_uid,
	                              &msgs, &nmsgs, err, errlen);
	if (rc < 0) {
		char inner[MH_ERRLEN];
		mh_strlcpy(inner, err, sizeof(inner));
		return mh_err(err, errlen, rc, "%s: %s", c->shown, inner);
	}
	for (size_t i = 0; i < nmsgs; i++) {
		uint64_t uid = msgs[i].uid, size = msgs[i].size;

		if (size != UINT64_MAX && size > MH_MAIL_MAX) {
			mh_log_warn("%s: UID %" PRIu64 ": %" PRIu64
			            " bytes, larger than %u: skipped",
			            c->shown, uid, size, MH_MAIL_MAX);
			if (nskipped)
				(*nskipped)++;
			continue;
		}
		snprintf(url, sizeof(url), "%s/;UID=%" PRIu64, c->mbox_url, uid);
		cc =
		    imap_do_retry(c, url, NULL, MH_MAIL_MAX, size != UINT64_MAX ? (size_t)size : 0);
		if (cc != CURLE_OK) {
			/* a server that stopped answering: two timeouts in a row end the
			 * run instead of costing timeout_ms for every message left */
			timeouts = cc == CURLE_OPERATION_TIMEDOUT ? timeouts + 1 : 0;
			if (uidvalidity_changed(c) || transport_error(cc) || timeouts >= 2) {
				free(msgs);
				if (uidvalidity_changed(c))
					return mh_err(err, errlen, MH_EIO,
					              "%s: UIDVALIDITY changed (was %" PRIu64
					              ") while reading",
					              c->shown, c->uidvalidity);
				return imap_fail(c, cc, "cannot fetch", err, errlen);
			}
			char why[MH_ERRLEN];
			if (c->body.over)
				snprintf(why, sizeof(why), "larger than %u bytes", MH_MAIL_MAX);
			else
				imap_fail(c, cc, "fetch failed", why, sizeof(why));
			mh_log_warn("%s: UID %" PRIu64 ": skipped: %s", c->shown, uid, why);
			if (nskipped)
				(*nskipped)++;
			continue;
		}
		timeouts = 0;
		snprintf(key, sizeof(key), "%" PRIu64, uid);
		/* the callback may call mh_collect_delete, which reuses c->body:
		 * hand it a buffer of its own */
		char *msg = c->body.data;
		size_t len = c->body.len;
		c->body.data = NULL;
		c->body.cap = 0;
		c->body.len = 0;
		if (!msg) {
			msg = xstrdup("");
			if (!msg) {
				free(msgs);
				return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory",
				              c->shown);
			}
		}
		rc = cb(arg, key, uid, msg, len);
		/* keep the buffer for the next fetch */
		free(c->body.data);
		c->body.data = msg;
		c->body.cap = len + 1;
		if (rc < 0) {
			free(msgs);
			mh_err(err, errlen, rc, "%s: stopped at UID %" PRIu64, c->shown, uid);
			return rc;
		}
		count++;
	}
	free(msgs);
	return count;
}

static int imap_delete(struct mh_collector *c, const char *key, char *err, size_t errlen)
{
	uint64_t uid;
	char cmd[96];
	CURLcode cc;

	if (mh_parse_u64(key, 1, 4294967295ull, &uid) < 0) {
		char shown[64];
		mh_sanitize_line(shown, sizeof(shown), key, strlen(key));
		return mh_err(err, errlen, MH_EINVAL, "%s: \"%s\" is not a UID", c->shown, shown);
	}
	snprintf(cmd, sizeof(cmd), "UID STORE %" PRIu64 " +FLAGS.SILENT (\\Deleted)", uid);
	cc = imap_do_retry(c, c->mbox_url, cmd, EXAMINE_MAX, 0);
	if (cc != CURLE_OK) {
		char what[64];
		snprintf(what, sizeof(what), "cannot delete UID %" PRIu64, uid);
		return imap_fail(c, cc, what, err, errlen);
	}
	if (c->ndeleted == c->capdeleted) {
		size_t nc = c->capdeleted ? c->capdeleted * 2 : 32;
		uint64_t *nd = realloc(c->deleted, nc * sizeof(*nd));
		if (!nd)
			return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
		c->deleted = nd;
		c->capdeleted = nc;
	}
	c->deleted[c->ndeleted++] = uid;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int imap_expunge(struct mh_collector *c, char *err, size_t errlen)
{
	char cmd[1100];
	size_t i = 0;
	CURLcode cc;

	if (c->ndeleted == 0)
		return 0;
	qsort(c->deleted, c->ndeleted, sizeof(*c->deleted), cmp_u64);
	/* UID EXPUNGE (UIDPLUS, RFC 4315) of our UIDs only, as ranges, a few
	 * hundred bytes a command; a server without it gets a plain EXPUNGE */
	while (i < c->ndeleted) {
		size_t o = (size_t)snprintf(cmd, sizeof(cmd), "UID EXPUNGE ");
		int first = 1;
		while (i < c->ndeleted && o < 1000) {
			uint64_t a = c->deleted[i], b = a;
			while (i + 1 < c->ndeleted && c->deleted[i + 1] <= b + 1)
				b = c->deleted[++i];
			i++;
			if (a == b)
				o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s%" PRIu64,
				                      first ? "" : ",", a);
			else
				o += (size_t)snprintf(cmd + o, sizeof(cmd) - o,
				                      "%s%" PRIu64 ":%" PRIu64, first ? "" : ",", a,
				                      b);
			first = 0;
		}
		cc = imap_do(c, c->mbox_url, cmd, EXAMINE_MAX, 0);
		if (cc == CURLE_QUOTE_ERROR) {
			cc = imap_do(c, c->mbox_url, "EXPUNGE", EXAMINE_MAX, 0);
			if (cc == CURLE_OK)
				break;
		}
		if (cc != CURLE_OK)
			return imap_fail(c, cc, "cannot expunge", err, errlen);
	}
	c->ndeleted = 0;
	return 0;
}

/* ---- Maildir -------------------------------------------------------------- */

static int maildir_open(struct mh_collector *c, const char *path, char *err, size_t errlen)
{
	static const char *const subs[] = {"new", "cur"};
	char p[4096];
	struct stat st;

	if (!path[0])
		return mh_err(err, errlen, MH_EINVAL, "%s: bad URL: no Maildir path", c->shown);
	if (stat(path, &st) < 0)
		return mh_err(err, errlen, MH_EIO, "%s: %s", c->shown, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mh_err(err, errlen, MH_EIO, "%s: not a directory", c->shown);
	for (size_t i = 0; i < 2; i++) {
		if (path_join(p, sizeof(p), path, subs[i]) < 0)
			return mh_err(err, errlen, MH_EINVAL, "%s: path too long", c->shown);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			return mh_err(err, errlen, MH_EIO, "%s: not a Maildir: no %s/ directory",
			              c->shown, subs[i]);
		if (access(p, R_OK | X_OK) < 0)
			return mh_err(err, errlen, MH_EIO, "%s: %s/: %s", c->shown, subs[i],
			              strerror(errno));
	}
	c->dir = xstrdup(path);
	if (!c->dir)
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
	return 0;
}

static void maildir_ents_free(struct maildir_ent *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].key);
	}
	free(v);
}

static int cmp_ent(const void *a, const void *b)
{
	const struct maildir_ent *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* The messages of new/ and cur/; symlinks and other odd entries counted in *odd. */
static int maildir_list(struct mh_collector *c, struct maildir_ent **out, size_t *nout,
                        unsigned *odd, char *err, size_t errlen)
{
	static const char *const subs[] = {"new", "cur"};
	struct maildir_ent *v = NULL;
	size_t n = 0, cap = 0;
	char p[4096];

	*out = NULL;
	*nout = 0;
	for (size_t s = 0; s < 2; s++) {
		DIR *d = NULL;
		struct dirent *de;
		if (path_join(p, sizeof(p), c->dir, subs[s]) == 0)
			d = opendir(p);
		if (!d) {
			maildir_ents_free(v, n);
			return mh_err(err, errlen, MH_EIO, "%s: %s/: %s", c->shown, subs[s],
			              strerror(errno));
		}
		while ((de = readdir(d)) != NULL) {
			struct stat st;
			if (de->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue; /* gone since readdir: moved or deleted */
			if (S_ISDIR(st.st_mode))
				continue;
			size_t kl = strcspn(de->d_name, ":");
			if (!S_ISREG(st.st_mode) || kl == 0) {
				char shown[128];
				mh_sanitize_line(shown, sizeof(shown), de->d_name,
				                 strlen(de->d_name));
				mh_log_warn("%s: %s/%s: not a regular message file: skipped",
				            c->shown, subs[s], shown);
				(*odd)++;
				continue;
			}
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct maildir_ent *nv = realloc(v, nc * sizeof(*nv));
				if (!nv)
					goto nomem;
				v = nv;
				cap = nc;
			}
			size_t pl = strlen(p) + strlen(de->d_name) + 2;
			v[n].path = malloc(pl);
			v[n].key = strndup(de->d_name, kl);
			if (!v[n].path || !v[n].key) {
				free(v[n].path);
				free(v[n].key);
				goto nomem;
			}
			snprintf(v[n].path, pl, "%s/%s", p, de->d_name);
			v[n].mtime = st.st_mtim;
			v[n].size = st.st_size;
			n++;
			continue;
		nomem:
			closedir(d);
			maildir_ents_free(v, n);
			return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", c->shown);
		}
		closedir(d);
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_ent);
	*out = v;
	*nout = n;
	return 0;
}

/* Finds the file of key in new/ or cur/ (exactly KEY or KEY:...). */
static int maildir_find(struct mh_collector *c, const char *key, char *path, size_t size)
{
	static const char *const subs[] = {"new", "cur"};
	size_t kl = strlen(key);

	for (size_t s = 0; s < 2; s++) {
		char p[4096];
		DIR *d = NULL;
		struct dirent *de;
		if (path_join(p, sizeof(p), c->dir, subs[s]) == 0)
			d = opendir(p);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, key, kl) == 0 &&
			    (de->d_name[kl] == '\0' || de->d_name[kl] == ':')) {
				int rc = path_join(path, size, p, de->d_name);
				closedir(d);
				return rc;
			}
		}
		closedir(d);
	}
	return MH_EIO;
}

/*
 * Reads a message file of at most MH_MAIL_MAX bytes: 0, READ_GONE (no such
 * file any more) or a negative code with why set. O_NOFOLLOW: a symlink
 * swapped in after the listing is refused.
 */
#define READ_GONE 1
static int read_message(const char *path, char **out, size_t *len, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t n = 0, want;

	*out = NULL;
	*len = 0;
	if (fd < 0 && errno == ENOENT)
		return READ_GONE;
	if (fd < 0)
		return mh_err(why, whylen, MH_EIO, "%s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mh_err(why, whylen, MH_EIO, "not a regular file");
	}
	if ((uint64_t)st.st_size > MH_MAIL_MAX) {
		close(fd);
		return mh_err(why, whylen, MH_ELIMIT, "%jd bytes, larger than %u",
		              (intmax_t)st.st_size, MH_MAIL_MAX);
	}
	want = (size_t)st.st_size;
	buf = malloc(want + 1);
	if (!buf) {
		close(fd);
		return mh_err(why, whylen, MH_ENOMEM, "out of memory");
	}
	while (n < want) {
		ssize_t r = read(fd, buf + n, want - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(buf);
			return mh_err(why, whylen, MH_EIO, "%s", strerror(e));
		}
		if (r == 0)
			break; /* shortened meanwhile: what is there */
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int maildir_each(struct mh_collector *c, mh_collect_cb cb, void *arg, unsigned *nskipped,
                        char *err, size_t errlen)
{
	struct maildir_ent *v;
	size_t n;
	unsigned odd = 0;
	int rc, count = 0;

	rc = maildir_list(c, &v, &n, &odd, err, errlen);
	if (rc < 0)
		return rc;
	if (nskipped)
		*nskipped += odd;
	for (size_t i = 0; i < n; i++) {
		char *msg, why[MH_ERRLEN], path[4096];
		size_t len;

		if ((uint64_t)v[i].size > MH_MAIL_MAX) {
			mh_log_warn("%s: %s: %jd bytes, larger than %u: skipped", c->shown,
			            v[i].path, (intmax_t)v[i].size, MH_MAIL_MAX);
			if (nskipped)
				(*nskipped)++;
			continue;
		}
		rc = read_message(v[i].path, &msg, &len, why, sizeof(why));
		/* moved from new/ to cur/ (or flags renamed) by a reader meanwhile */
		if (rc == READ_GONE && maildir_find(c, v[i].key, path, sizeof(path)) == 0)
			rc = read_message(path, &msg, &len, why, sizeof(why));
		if (rc == READ_GONE)
			continue; /* deleted meanwhile: nothing to report on */
		if (rc < 0) {
			mh_log_warn("%s: %s: skipped: %s", c->shown, v[i].path, why);
			if (nskipped)
				(*nskipped)++;
			continue;
		}
		rc = cb(arg, v[i].key, 0, msg, len);
		free(msg);
		if (rc < 0) {
			char shown[128];
			mh_sanitize_line(shown, sizeof(shown), v[i].key, strlen(v[i].key));
			mh_err(err, errlen, rc, "%s: stopped at %s", c->shown, shown);
			maildir_ents_free(v, n);
			return rc;
		}
		count++;
	}
	maildir_ents_free(v, n);
	return count;
}

static int maildir_delete(struct mh_collector *c, const char *key, char *err, size_t errlen)
{
	char path[4096], shown[128];

	mh_sanitize_line(shown, sizeof(shown), key, strlen(key));
	if (!key[0] || strchr(key, '/') || strchr(key, ':') || key[0] == '.')
		return mh_err(err, errlen, MH_EINVAL, "%s: \"%s\" is not a Maildir message key",
		              c->shown, shown);
	if (maildir_find(c, key, path, sizeof(path)) < 0)
		return mh_err(err, errlen, MH_EIO, "%s: no message %s in new/ or cur/", c->shown,
		              shown);
	if (unlink(path) < 0)
		return mh_err(err, errlen, MH_EIO, "%s: %s: %s", c->shown, path, strerror(errno));
	return 0;
}

/* ---- the interface -------------------------------------------------------- */

int mh_collect_open(const struct mh_collect_opts *o, struct mh_collector **out, char *err,
                    size_t errlen)
{
	struct mh_collector *c;
	int rc;

	*out = NULL;
	if (!o || !o->url || !o->url[0])
		return mh_err(err, errlen, MH_EINVAL, "collector: no mailbox URL");
	c = calloc(1, sizeof(*c));
	if (!c)
		return mh_err(err, errlen, MH_ENOMEM, "collector: out of memory");
	shown_url(c->shown, sizeof(c->shown), o->url);
	if (starts_with_ci(o->url, "maildir:")) {
		c->kind = COLLECT_MAILDIR;
		rc = maildir_open(c, o->url + strlen("maildir:"), err, errlen);
	} else if (starts_with_ci(o->url, "imap://") || starts_with_ci(o->url, "imaps://")) {
		c->kind = COLLECT_IMAP;
		rc = imap_open(c, o, err, errlen);
	} else {
		rc = mh_err(err, errlen, MH_EINVAL,
		            "%s: bad URL: imap://, imaps:// or maildir: expected", c->shown);
	}
	if (rc < 0) {
		mh_collect_close(&c);
		return rc;
	}
	*out = c;
	return 0;
}

int mh_collect_expunge(struct mh_collector *c, char *err, size_t errlen)
{
	if (!c || c->kind != COLLECT_IMAP || !c->curl)
		return 0;
	return imap_expunge(c, err, errlen);
}

void mh_collect_close(struct mh_collector **cp)
{
	struct mh_collector *c = cp ? *cp : NULL;

	if (!c)
		return;
	if (c->curl) {
		char err[MH_ERRLEN];
		if (c->ndeleted && imap_expunge(c, err, sizeof(err)) < 0)
			mh_log_warn("%s", err);
		curl_easy_cleanup(c->curl); /* LOGOUT */
	}
	wipe_free(c->password);
	free(c->user);
	free(c->mbox_url);
	free(c->root_url);
	free(c->mbox_path);
	free(c->mailbox);
	free(c->deleted);
	free(c->body.data);
	free(c->dir);
	free(c);
	*cp = NULL;
}

uint64_t mh_collect_uidvalidity(const struct mh_collector *c)
{
	return c && c->kind == COLLECT_IMAP ? c->uidvalidity : 0;
}

int mh_collect_each(struct mh_collector *c, uint64_t after_uid, mh_collect_cb cb, void *arg,
                    unsigned *nskipped, char *err, size_t errlen)
{
	if (!c || !cb)
		return mh_err(err, errlen, MH_EINVAL, "collector: not open");
	if (c->kind == COLLECT_MAILDIR)
		return maildir_each(c, cb, arg, nskipped, err, errlen);
	return imap_each(c, after_uid, cb, arg, nskipped, err, errlen);
}

int mh_collect_delete(struct mh_collector *c, const char *key, char *err, size_t errlen)
{
	if (!c || !key)
		return mh_err(err, errlen, MH_EINVAL, "collector: not open");
	if (c->kind == COLLECT_MAILDIR)
		return maildir_delete(c, key, err, errlen);
	return imap_delete(c, key, err, errlen);
}

/* ---- credentials ---------------------------------------------------------- */

int mh_collect_password(const char *file, const char *env, char **out, char *err, size_t errlen)
{
	char buf[PASSWORD_LINE_MAX + 2];
	size_t n = 0, l;
	struct stat st;
	int fd;

	*out = NULL;
	if ((file == NULL) == (env == NULL))
		return mh_err(err, errlen, MH_EINVAL,
		              "collector: exactly one of password_file and password_env is needed");
	if (env) {
		const char *v = getenv(env);
		if (!v)
			return mh_err(err, errlen, MH_EINVAL,
			              "environment variable %s (password_env) is not set", env);
		if (!v[0])
			return mh_err(err, errlen, MH_EINVAL,
			              "environment variable %s (password_env) is empty", env);
		*out = xstrdup(v);
		return *out ? 0 : mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", env);
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mh_err(err, errlen, MH_EIO, "%s: %s", file, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mh_err(err, errlen, MH_EINVAL, "%s: not a regular file", file);
	}
	if (st.st_mode & S_IROTH) {
		close(fd);
		return mh_err(err, errlen, MH_EINVAL,
		              "%s: readable by everyone (mode %04o): refused; chmod o-r it", file,
		              (unsigned)(st.st_mode & 07777));
	}
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			return mh_err(err, errlen, MH_EIO, "%s: %s", file, strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n))
			break;
	}
	close(fd);
	char *nl = memchr(buf, '\n', n);
	l = nl ? (size_t)(nl - buf) : n;
	if (!nl && n > PASSWORD_LINE_MAX) {
		explicit_bzero(buf, sizeof(buf));
		return mh_err(err, errlen, MH_EINVAL, "%s: first line longer than %d bytes", file,
		              PASSWORD_LINE_MAX);
	}
	if (l > 0 && buf[l - 1] == '\r')
		l--;
	if (l == 0)
		return mh_err(err, errlen, MH_EINVAL, "%s: empty password (first line)", file);
	if (memchr(buf, '\0', l)) {
		explicit_bzero(buf, sizeof(buf));
		return mh_err(err, errlen, MH_EINVAL, "%s: NUL byte in the password", file);
	}
	*out = strndup(buf, l);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", file);
}
