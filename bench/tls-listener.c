/*
 * tls-listener.c -- a small SMTP server with real STARTTLS for the STARTTLS
 * benchmark (bench/starttls-bench.sh). One thread, epoll, non-blocking
 * OpenSSL: it answers on every local address of its namespace (a wildcard
 * socket; the bench makes a /22 local), so one process stands for a
 * thousand TLS-capable mail servers.
 *
 *   tls-listener -c CERT -k KEY [-p PORT] [-P PIDFILE]
 *
 * Dialogue: "220 mx-A-B-C-D.tlsbench.test ESMTP tlsbench", EHLO -> 250 with
 * PIPELINING, SIZE, STARTTLS (in clear only), 8BITMIME; HELO -> 250;
 * STARTTLS -> 220 and a TLS handshake; QUIT -> 221 and close; anything
 * else -> 502. Replies are small: a write that cannot go at once closes the
 * connection (this is a benchmark target, not a mail server). SIGTERM /
 * SIGINT end it cleanly (and remove the pid file). Bench use only: it
 * listens on whatever namespace it is started in.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum st { ST_PLAIN, ST_HANDSHAKE, ST_TLS };

struct conn {
	int fd;
	enum st st;
	SSL *ssl;
	char host[64];
	char in[1024];
	size_t inlen;
};

static volatile sig_atomic_t stop;
static SSL_CTX *ctx;
static int ep;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	free(c);
}

/* Sends a whole reply now, or fails (the caller closes). */
static int say(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->ssl)
		return SSL_write(c->ssl, s, (int)n) == (int)n ? 0 : -1;
	return send(c->fd, s, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* One command line; returns 1 to close, -1 on failure, 0 to go on. */
static int command(struct conn *c, char *line)
{
	char buf[512];

	if (!strncasecmp(line, "EHLO", 4)) {
		snprintf(buf, sizeof(buf),
			 "250-%s\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n%s250 8BITMIME\r\n",
			 c->host, c->st == ST_PLAIN ? "250-STARTTLS\r\n" : "");
		return say(c, buf);
	}
	if (!strncasecmp(line, "HELO", 4)) {
		snprintf(buf, sizeof(buf), "250 %s\r\n", c->host);
		return say(c, buf);
	}
	if (!strncasecmp(line, "QUIT", 4)) {
		say(c, "221 2.0.0 Bye\r\n");
		return 1;
	}
	if (!strncasecmp(line, "STARTTLS", 8) && c->st == ST_PLAIN) {
		if (say(c, "220 2.0.0 Ready to start TLS\r\n") < 0)
			return -1;
		c->ssl = SSL_new(ctx);
		if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
			return -1;
		SSL_set_accept_state(c->ssl);
		c->st = ST_HANDSHAKE;
		c->inlen = 0; /* anything sent after STARTTLS is dropped */
		return 2;
	}
	if (!strncasecmp(line, "NOOP", 4) || !strncasecmp(line, "RSET", 4))
		return say(c, "250 2.0.0 Ok\r\n");
	return say(c, "502 5.5.2 Error: command not recognized\r\n");
}

/* Runs the complete lines in c->in; returns < 0 or 1 to close. */
static int lines(struct conn *c)
{
	char *nl;

	while ((nl = memchr(c->in, '\n', c->inlen)) != NULL) {
		size_t n = (size_t)(nl - c->in) + 1;
		char line[1024];
		int rc;

		memcpy(line, c->in, n - 1);
		line[n - 1] = '\0';
		memmove(c->in, c->in + n, c->inlen - n);
		c->inlen -= n;
		rc = command(c, line);
		if (rc == 2)
			return 2;
		if (rc != 0)
			return rc;
	}
	if (c->inlen == sizeof(c->in))
		return -1; /* an endless line */
	return 0;
}

/* Readable: returns non-zero when the connection is to be closed. */
static int step(struct conn *c)
{
	for (;;) {
		int n, rc;

		if (c->st == ST_HANDSHAKE) {
			ERR_clear_error();
			rc = SSL_accept(c->ssl);
			if (rc == 1) {
				c->st = ST_TLS;
				continue;
			}
			rc = SSL_get_error(c->ssl, rc);
			return rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE ? 0 : 1;
		}
		if (c->st == ST_TLS) {
			ERR_clear_error();
			n = SSL_read(c->ssl, c->in + c->inlen, (int)(sizeof(c->in) - c->inlen));
			if (n <= 0) {
				rc = SSL_get_error(c->ssl, n);
				return rc == SSL_ERROR_WANT_READ ? 0 : 1;
			}
		} else {
			n = (int)recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
			if (n == 0)
				return 1;
			if (n < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
		}
		c->inlen += (size_t)n;
		rc = lines(c);
		if (rc == 2)
			continue; /* the handshake starts with what is already there */
		if (rc != 0)
			return 1;
	}
}

static void accept_all(int ls)
{
	for (;;) {
		struct sockaddr_in local;
		socklen_t sl = sizeof(local);
		unsigned char *b;
		struct epoll_event ev;
		struct conn *c;
		int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->st = ST_PLAIN;
		getsockname(fd, (struct sockaddr *)&local, &sl);
		b = (unsigned char *)&local.sin_addr;
		snprintf(c->host, sizeof(c->host), "mx-%u-%u-%u-%u.tlsbench.test", b[0], b[1], b[2],
			 b[3]);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			conn_close(c);
			continue;
		}
		char greet[128];
		snprintf(greet, sizeof(greet), "220 %s ESMTP tlsbench\r\n", c->host);
		if (say(c, greet) < 0)
			conn_close(c);
	}
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *pidfile = NULL;
	int port = 25, opt, ls, one = 1;
	struct sockaddr_in sa;
	struct epoll_event ev, evs[256];
	static struct conn listener_tag;

	while ((opt = getopt(argc, argv, "c:k:p:P:")) != -1) {
		switch (opt) {
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'p': port = (int)strtol(optarg, NULL, 10); break;
		case 'P': pidfile = optarg; break;
		default:
			fprintf(stderr, "usage: %s -c CERT -k KEY [-p PORT] [-P PIDFILE]\n", argv[0]);
			return 2;
		}
	}
	if (!cert || !key) {
		fprintf(stderr, "usage: %s -c CERT -k KEY [-p PORT] [-P PIDFILE]\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "tls-listener: cannot load %s / %s\n", cert, key);
		return 1;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4096) < 0) {
		perror("tls-listener: listen");
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = &listener_tag;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f) {
			perror("tls-listener: pid file");
			return 1;
		}
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 200);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == &listener_tag) {
				accept_all(ls);
				continue;
			}
			if (step(c) != 0)
				conn_close(c);
		}
	}
	if (pidfile)
		unlink(pidfile);
	return 0;
}
