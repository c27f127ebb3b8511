/*
 * submit.c -- probe submission to the relay (include/mailhole/submit.h).
 *
 * Blocking, one connection, poll() before every read and write so that no
 * step waits longer than timeout_ms. Replies go through the scanner's reply
 * reader (scanner/smtp_reader.c); OpenSSL for STARTTLS and smtps.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/smtp.h"
#include "mailhole/submit.h"

struct mh_submit {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	long timeout_ms;
	bool dsn, tls, broken;
	struct mh_smtp_reader rd;
	char in[4096];
	size_t inlen, inoff;
	char host[256];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = ev};
		int64_t left = deadline - now_ms();
		int rc;
		if (left <= 0)
			return 0;
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Writes all of buf (through TLS when on). 0 or MH_EIO. */
static int put(struct mh_submit *s, const char *buf, size_t len, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + s->timeout_ms;
	size_t off = 0;

	while (off < len) {
		ssize_t n;
		if (s->ssl) {
			int r = SSL_write(s->ssl, buf + off, (int)(len - off > 65536 ? 65536
										   : len - off));
			if (r > 0) {
				off += (size_t)r;
				continue;
			}
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				if (wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					    deadline) <= 0)
					goto timeout;
				continue;
			}
			s->broken = true;
			return mh_err(err, errlen, MH_EIO, "relay %s: TLS write failed", s->host);
		}
		n = send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s->fd, POLLOUT, deadline) <= 0)
				goto timeout;
			continue;
		}
		s->broken = true;
		return mh_err(err, errlen, MH_EIO, "relay %s: write: %s", s->host,
			      strerror(errno));
	}
	return 0;
timeout:
	s->broken = true;
	return mh_err(err, errlen, MH_EIO, "relay %s: write timed out", s->host);
}

/* Reads one complete reply into s->rd.reply. 0 or MH_EIO / MH_EPROTO. */
static int get_reply(struct mh_submit *s, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + s->timeout_ms;

	mh_smtp_reader_init(&s->rd);
	for (;;) {
		if (s->inoff < s->inlen) {
			size_t used = 0;
			int rc = mh_smtp_reader_feed(&s->rd, s->in + s->inoff, s->inlen - s->inoff,
						     &used);
			s->inoff += used;
			if (rc == 1)
				return 0;
			if (rc < 0) {
				s->broken = true;
				return mh_err(err, errlen, MH_EPROTO, "relay %s: bad reply (%s)",
					      s->host, s->rd.error ? s->rd.error : "?");
			}
			if (s->inoff < s->inlen)
				continue;
		}
		s->inoff = s->inlen = 0;
		ssize_t n;
		if (s->ssl) {
			int r = SSL_read(s->ssl, s->in, sizeof(s->in));
			if (r > 0) {
				s->inlen = (size_t)r;
				continue;
			}
			int e = SSL_get_error(s->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				int w = wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
						deadline);
				if (w <= 0)
					goto timeout;
				continue;
			}
			s->broken = true;
			return mh_err(err, errlen, MH_EIO, "relay %s: connection closed (TLS)",
				      s->host);
		}
		n = recv(s->fd, s->in, sizeof(s->in), 0);
		if (n > 0) {
			s->inlen = (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(s->fd, POLLIN, deadline) <= 0)
				goto timeout;
			continue;
		}
		s->broken = true;
		return mh_err(err, errlen, MH_EIO, "relay %s: connection %s", s->host,
			      n == 0 ? "closed" : strerror(errno));
	}
timeout:
	s->broken = true;
	return mh_err(err, errlen, MH_EIO, "relay %s: no reply within %ld ms", s->host,
		      s->timeout_ms);
}

/* The reply as one sanitized line ("250 2.0.0 Ok"). */
static void reply_line(const struct mh_submit *s, char *buf, size_t size)
{
	const struct mh_smtp_reply *r = &s->rd.reply;
	size_t n = 0;
	/* the last line carries the outcome; join lines with " / " when several */
	char tmp[MH_SMTP_REPLY_MAX];
	for (unsigned i = 0; i < r->nlines && n + 4 < sizeof(tmp); i++) {
		const char *l = r->text + r->line_off[i];
		size_t ll = strcspn(l, "\n");
		if (i)
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, " / ");
		if (n + ll >= sizeof(tmp))
			ll = sizeof(tmp) - n - 1;
		memcpy(tmp + n, l, ll);
		n += ll;
		tmp[n] = '\0';
	}
	mh_sanitize_line(buf, size, tmp, n);
}

/* Sends a command line (CRLF added) and reads its reply. */
static int command(struct mh_submit *s, const char *line, char *err, size_t errlen)
{
	char buf[1100];
	int n = snprintf(buf, sizeof(buf), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return mh_err(err, errlen, MH_EINVAL, "command too long");
	if (put(s, buf, (size_t)n, err, errlen) < 0)
		return MH_EIO;
	return get_reply(s, err, errlen);
}

static int parse_url(const char *url, char *host, size_t hsize, char *port, size_t psize,
		     bool *implicit)
{
	const char *p, *end;
	size_t n;

	if (!strncmp(url, "smtp://", 7)) {
		p = url + 7;
		*implicit = false;
		mh_strlcpy(port, "25", psize);
	} else if (!strncmp(url, "smtps://", 8)) {
		p = url + 8;
		*implicit = true;
		mh_strlcpy(port, "465", psize);
	} else {
		return MH_EINVAL;
	}
	if (strchr(p, '@'))
		return MH_EINVAL; /* credentials never go in the url */
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return MH_EINVAL;
		n = (size_t)(end - p - 1);
		if (!n || n >= hsize)
			return MH_EINVAL;
		memcpy(host, p + 1, n);
		host[n] = '\0';
		p = end + 1;
	} else {
		n = strcspn(p, ":/");
		if (!n || n >= hsize)
			return MH_EINVAL;
		memcpy(host, p, n);
		host[n] = '\0';
		p += n;
	}
	if (*p == ':') {
		uint64_t v;
		char tmp[8];
		n = strcspn(p + 1, "/");
		if (!n || n >= sizeof(tmp))
			return MH_EINVAL;
		memcpy(tmp, p + 1, n);
		tmp[n] = '\0';
		if (mh_parse_u64(tmp, 1, 65535, &v) < 0)
			return MH_EINVAL;
		mh_strlcpy(port, tmp, psize);
		p += 1 + n;
	}
	if (*p && strcmp(p, "/"))
		return MH_EINVAL;
	for (const char *c = host; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '/' || *c == '?' || *c == '#')
			return MH_EINVAL;
	return 0;
}

static int tls_start(struct mh_submit *s, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + s->timeout_ms;

	s->ctx = SSL_CTX_new(TLS_client_method());
	if (!s->ctx)
		return mh_err(err, errlen, MH_EIO, "relay %s: TLS context", s->host);
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
	s->ssl = SSL_new(s->ctx);
	if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
		return mh_err(err, errlen, MH_EIO, "relay %s: TLS session", s->host);
	SSL_set_tlsext_host_name(s->ssl, s->host);
	for (;;) {
		int r = SSL_connect(s->ssl), e;
		if (r == 1)
			break;
		e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
				    deadline) <= 0)
				return mh_err(err, errlen, MH_EPROTO,
					      "relay %s: TLS handshake timed out", s->host);
			continue;
		}
		char why[160];
		ERR_error_string_n(ERR_get_error(), why, sizeof(why));
		return mh_err(err, errlen, MH_EPROTO, "relay %s: TLS handshake failed: %s",
			      s->host, why);
	}
	s->tls = true;
	s->inlen = s->inoff = 0;
	return 0;
}

static int ehlo(struct mh_submit *s, const char *name, bool *starttls, char *err,
		size_t errlen)
{
	char line[300], r[256];
	int rc;

	snprintf(line, sizeof(line), "EHLO %s", name);
	if ((rc = command(s, line, err, errlen)) < 0)
		return rc;
	if (s->rd.reply.code != 250) {
		reply_line(s, r, sizeof(r));
		return mh_err(err, errlen, MH_EPROTO, "relay %s: EHLO refused: %s", s->host, r);
	}
	s->dsn = false;
	*starttls = false;
	for (unsigned i = 1; i < s->rd.reply.nlines; i++) {
		const char *l = s->rd.reply.text + s->rd.reply.line_off[i] + 4;
		uint32_t bit = mh_smtp_ext_bit(l);
		if (bit == MH_EXT_DSN)
			s->dsn = true;
		if (bit == MH_EXT_STARTTLS)
			*starttls = true;
	}
	return 0;
}

/* AUTH PLAIN with base64 of "\0user\0password". */
static int auth_plain(struct mh_submit *s, const char *user, const char *pass, char *err,
		      size_t errlen)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char raw[600];
	char line[900], r[256];
	size_t ul = strlen(user), pl = strlen(pass), n = 0, o;
	int rc;

	if (ul + pl + 2 > sizeof(raw))
		return mh_err(err, errlen, MH_EINVAL, "relay credentials too long");
	raw[n++] = 0;
	memcpy(raw + n, user, ul);
	n += ul;
	raw[n++] = 0;
	memcpy(raw + n, pass, pl);
	n += pl;
	o = (size_t)snprintf(line, sizeof(line), "AUTH PLAIN ");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) |
			     (i + 2 < n ? raw[i + 2] : 0);
		line[o++] = b64[v >> 18 & 63];
		line[o++] = b64[v >> 12 & 63];
		line[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		line[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	line[o] = '\0';
	rc = command(s, line, err, errlen);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(line, sizeof(line));
	if (rc < 0)
		return rc;
	if (s->rd.reply.code != 235) {
		reply_line(s, r, sizeof(r));
		return mh_err(err, errlen, MH_EPROTO, "relay %s: AUTH refused: %s", s->host, r);
	}
	return 0;
}

int mh_submit_open(const struct mh_submit_opts *o, struct mh_submit **out, char *err,
		   size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	struct mh_submit *s;
	char port[8], helo[256], r[256];
	bool implicit, starttls;
	int rc, gai;

	*out = NULL;
	if (!o->url)
		return mh_err(err, errlen, MH_EINVAL, "no relay (the policy's \"relay\")");
	s = calloc(1, sizeof(*s));
	if (!s)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	s->fd = -1;
	s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
	if (parse_url(o->url, s->host, sizeof(s->host), port, sizeof(port), &implicit) < 0) {
		free(s);
		return mh_err(err, errlen, MH_EINVAL,
			      "relay '%.200s': not smtp://HOST[:PORT] or smtps://HOST[:PORT]",
			      o->url);
	}
	gai = getaddrinfo(s->host, port, &hints, &res);
	if (gai != 0) {
		rc = mh_err(err, errlen, MH_EIO, "relay %s: %s", s->host, gai_strerror(gai));
		free(s);
		return rc;
	}
	rc = MH_EIO;
	mh_err(err, errlen, MH_EIO, "relay %s port %s: cannot connect", s->host, port);
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			mh_err(err, errlen, MH_EIO, "relay %s port %s: %s", s->host, port,
			       strerror(errno));
			close(fd);
			continue;
		}
		if (wait_fd(fd, POLLOUT, now_ms() + s->timeout_ms) <= 0) {
			mh_err(err, errlen, MH_EIO, "relay %s port %s: connect timed out", s->host,
			       port);
			close(fd);
			continue;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			mh_err(err, errlen, MH_EIO, "relay %s port %s: %s", s->host, port,
			       strerror(soerr));
			close(fd);
			continue;
		}
		s->fd = fd;
		break;
	}
	freeaddrinfo(res);
	if (s->fd < 0) {
		free(s);
		return rc;
	}
	if (implicit && (rc = tls_start(s, err, errlen)) < 0)
		goto fail;
	if ((rc = get_reply(s, err, errlen)) < 0)
		goto fail;
	if (s->rd.reply.code != 220) {
		reply_line(s, r, sizeof(r));
		rc = mh_err(err, errlen, MH_EPROTO, "relay %s: greeting refused: %s", s->host, r);
		goto fail;
	}
	if (o->helo)
		mh_strlcpy(helo, o->helo, sizeof(helo));
	else if (gethostname(helo, sizeof(helo) - 1) != 0 || !helo[0])
		mh_strlcpy(helo, "mailhole.invalid", sizeof(helo));
	helo[sizeof(helo) - 1] = '\0';
	for (char *c = helo; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 127)
			*c = '-';
	if ((rc = ehlo(s, helo, &starttls, err, errlen)) < 0)
		goto fail;
	if (!s->tls && starttls) {
		if ((rc = command(s, "STARTTLS", err, errlen)) < 0)
			goto fail;
		if (s->rd.reply.code == 220) {
			if ((rc = tls_start(s, err, errlen)) < 0)
				goto fail;
			if ((rc = ehlo(s, helo, &starttls, err, errlen)) < 0)
				goto fail;
		}
	}
	if (o->require_tls && !s->tls) {
		rc = mh_err(err, errlen, MH_EPROTO, "relay %s: no TLS (STARTTLS not offered)",
			    s->host);
		goto fail;
	}
	if (o->user && o->password && (rc = auth_plain(s, o->user, o->password, err, errlen)) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	mh_submit_close(&s);
	return rc;
}

bool mh_submit_has_dsn(const struct mh_submit *s)
{
	return s && s->dsn;
}

bool mh_submit_tls(const struct mh_submit *s)
{
	return s && s->tls;
}

bool mh_submit_path_ok(const char *addr, bool allow_bare)
{
	size_t n = 0, at = 0;
	const char *atp = NULL;

	if (!addr)
		return false;
	for (const char *c = addr; *c; c++, n++) {
		unsigned char u = (unsigned char)*c;
		if (u <= ' ' || u == 127 || u == '<' || u == '>')
			return false;
		if (u == '@') {
			at++;
			atp = c;
		}
	}
	if (n == 0 || n > 254 || at > 1)
		return false;
	if (!at)
		return allow_bare;
	return atp != addr && atp[1] != '\0';
}

/* xtext (RFC 3461) of s into buf. */
static void xtext(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	for (; *s && o + 4 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 33 || c > 126 || c == '+' || c == '=')
			o += (size_t)snprintf(buf + o, size - o, "+%02X", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
}

int mh_submit_send(struct mh_submit *s, const char *from, const char *rcpt, const char *envid,
		   const char *msg, size_t len, struct mh_submit_result *r, char *err,
		   size_t errlen)
{
	char line[1100], x1[700], x2[120];
	char *data = NULL;
	size_t dn = 0, cap;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!s || s->broken)
		return mh_err(err, errlen, MH_EIO, "relay connection not usable");
	if (!mh_submit_path_ok(from, true) && from[0])
		return mh_err(err, errlen, MH_EINVAL, "sender '%.100s': not a usable address",
			      from);
	if (!mh_submit_path_ok(rcpt, false))
		return mh_err(err, errlen, MH_EINVAL, "recipient '%.100s': not a usable address",
			      rcpt);
	r->dsn = s->dsn;
	if (s->dsn && envid) {
		xtext(envid, x2, sizeof(x2));
		snprintf(line, sizeof(line), "MAIL FROM:<%s> RET=HDRS ENVID=%s", from, x2);
	} else if (s->dsn) {
		snprintf(line, sizeof(line), "MAIL FROM:<%s> RET=HDRS", from);
	} else {
		snprintf(line, sizeof(line), "MAIL FROM:<%s>", from);
	}
	r->stage = "MAIL";
	if ((rc = command(s, line, err, errlen)) < 0)
		return rc;
	if (s->rd.reply.code / 100 != 2)
		goto refused;
	if (s->dsn) {
		xtext(rcpt, x1, sizeof(x1));
		snprintf(line, sizeof(line),
			 "RCPT TO:<%s> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;%s", rcpt, x1);
	} else {
		snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpt);
	}
	r->stage = "RCPT";
	if ((rc = command(s, line, err, errlen)) < 0)
		return rc;
	if (s->rd.reply.code / 100 != 2)
		goto refused;
	r->stage = "DATA";
	if ((rc = command(s, "DATA", err, errlen)) < 0)
		return rc;
	if (s->rd.reply.code != 354)
		goto refused;
	/* CRLF line ends, dot-stuffing, the final dot */
	cap = len * 2 + 8;
	data = malloc(cap);
	if (!data) {
		s->broken = true;
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	}
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		char c = msg[i];
		if (bol && c == '.')
			data[dn++] = '.';
		if (c == '\n') {
			if (!(i > 0 && msg[i - 1] == '\r'))
				data[dn++] = '\r';
			data[dn++] = '\n';
			bol = true;
			continue;
		}
		data[dn++] = c;
		bol = false;
	}
	if (!bol) {
		data[dn++] = '\r';
		data[dn++] = '\n';
	}
	memcpy(data + dn, ".\r\n", 3);
	dn += 3;
	rc = put(s, data, dn, err, errlen);
	free(data);
	if (rc < 0)
		return rc;
	r->stage = "end of data";
	if ((rc = get_reply(s, err, errlen)) < 0)
		return rc;
	r->code = s->rd.reply.code;
	reply_line(s, r->reply, sizeof(r->reply));
	return 0;
refused:
	r->code = s->rd.reply.code;
	reply_line(s, r->reply, sizeof(r->reply));
	/* leave the transaction so that the next message starts clean */
	if (command(s, "RSET", err, errlen) < 0)
		return 0; /* the result stands; the connection is marked broken */
	return 0;
}

void mh_submit_close(struct mh_submit **sp)
{
	struct mh_submit *s = sp ? *sp : NULL;
	char err[64];

	if (!s)
		return;
	if (s->fd >= 0 && !s->broken) {
		long t = s->timeout_ms;
		s->timeout_ms = t < 2000 ? t : 2000;
		(void)command(s, "QUIT", err, sizeof(err));
	}
	if (s->ssl) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	*sp = NULL;
}
