/*
 * badsmtp.c -- misbehaving SMTP servers for the integration labs.
 *
 *   mh-badsmtp [-P PIDFILE] -l ADDR:PORT=MODE [-l ADDR:PORT=MODE ...]
 *
 * ADDR is an IPv4 address or a bracketed IPv6 one ("[::1]:2525=slow").
 * One process serves every listener, a detached thread per connection.
 * The pid file is written (atomically) once every listener is bound, and
 * removed again on SIGTERM / SIGINT, which end the process with status 0.
 * One line per connection is logged on stderr.
 *
 * Modes:
 *   slow      "220 slow.lab.test ESMTP\r\n", one byte a second, then a
 *             plain command loop (EHLO/HELO 250, QUIT 221)
 *   endless   "220 " and then 'A' without end and without LF, throttled
 *             to 64 KiB/s, until the peer goes away
 *   binary    NULs, control characters and high bytes, again and again
 *   silent    accepts, never sends, never closes (until the peer does)
 *   reset     accepts and closes at once with SO_LINGER {1,0}: an RST
 *   bytewise  a valid multi-line greeting and a valid multi-line EHLO reply
 *             with 3 capabilities, each sent one byte at a time, ~2 ms
 *             apart; QUIT is answered with 221 and the connection closed
 *   greet421  "421 busy.lab.test Service not available\r\n", then close
 *   greet554  "554 no.lab.test No SMTP service here\r\n", 503 to every
 *             command but QUIT, 221 to QUIT
 *   ehlo500   valid greeting, 500 to EHLO, 250 to HELO, 221 to QUIT
 *   tlsjunk   offers STARTTLS (and AUTH, in clear), answers it with 220, then
 *             sends cleartext junk instead of a ServerHello and closes
 *   tlsstall  the same, but after the 220 it never sends a byte again
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS 64
#define CMD_LINE_MAX 1024
#define IDLE_TIMEOUT_MS 60000 /* a command loop gives up on a silent peer */

enum mode {
	M_SLOW,
	M_ENDLESS,
	M_BINARY,
	M_SILENT,
	M_RESET,
	M_BYTEWISE,
	M_GREET421,
	M_GREET554,
	M_EHLO500,
	M_TLSJUNK,
	M_TLSSTALL,
};

static const char *const mode_names[] = {
	[M_SLOW] = "slow",         [M_ENDLESS] = "endless",   [M_BINARY] = "binary",
	[M_SILENT] = "silent",     [M_RESET] = "reset",       [M_BYTEWISE] = "bytewise",
	[M_GREET421] = "greet421", [M_GREET554] = "greet554", [M_EHLO500] = "ehlo500",
	[M_TLSJUNK] = "tlsjunk",   [M_TLSSTALL] = "tlsstall",
};
#define NMODES (sizeof mode_names / sizeof mode_names[0])

struct listener {
	int fd;
	enum mode mode;
	char spec[128]; /* as given, for the log */
};

struct conn {
	int fd;
	enum mode mode;
	char peer[INET6_ADDRSTRLEN + 8];
	/* command reader */
	char buf[CMD_LINE_MAX];
	size_t len;
	bool overlong; /* dropping the rest of an overlong line */
};

static const char *progname = "mh-badsmtp";

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	n = snprintf(line, sizeof line, "%s[%ld]: ", progname, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line: threads do not interleave */
	size_t l = strlen(line);
	if (l + 1 < sizeof line) {
		line[l++] = '\n';
	} else {
		line[sizeof line - 2] = '\n';
		l = sizeof line - 1;
	}
	ssize_t w = write(STDERR_FILENO, line, l);
	(void)w;
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [-P PIDFILE] -l ADDR:PORT=MODE [-l ADDR:PORT=MODE ...]\n"
			"  ADDR: IPv4 or [IPv6]; MODE: slow endless binary silent reset "
			"bytewise greet421 greet554 ehlo500\n",
		progname);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Sends everything; false when the peer is gone. */
static bool send_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

/* Sends s one byte at a time, gap_ms between bytes. */
static bool send_slowly(int fd, const char *s, long gap_ms)
{
	for (; *s; s++) {
		if (!send_all(fd, s, 1))
			return false;
		if (s[1])
			sleep_ms(gap_ms);
	}
	return true;
}

/* Whether the peer has closed (or reset): a non-blocking peek. Discards input. */
static bool peer_gone(int fd)
{
	char junk[512];

	for (;;) {
		ssize_t n = recv(fd, junk, sizeof junk, MSG_DONTWAIT);
		if (n > 0)
			continue;
		if (n == 0)
			return true;
		if (errno == EINTR)
			continue;
		return !(errno == EAGAIN || errno == EWOULDBLOCK);
	}
}

/*
 * Reads one command line (CRLF or LF) into out, NUL-terminated and without
 * the line end. Returns 1 with a line, 0 on EOF / error / idle timeout. An
 * overlong line is dropped and read as an empty line.
 */
static int read_cmd(struct conn *c, char *out, size_t outsz)
{
	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		if (lf) {
			size_t l = (size_t)(lf - c->buf);
			size_t keep = l;
			if (keep > 0 && c->buf[keep - 1] == '\r')
				keep--;
			if (keep >= outsz || c->overlong)
				keep = 0;
			memcpy(out, c->buf, keep);
			out[keep] = '\0';
			memmove(c->buf, lf + 1, c->len - l - 1);
			c->len -= l + 1;
			c->overlong = false;
			return 1;
		}
		if (c->len == sizeof c->buf) { /* no LF in a full buffer: drop it */
			c->len = 0;
			c->overlong = true;
		}
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, IDLE_TIMEOUT_MS);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return 0;
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		c->len += (size_t)n;
	}
}

/* Whether line starts with the command word cmd (case-insensitive). */
static bool is_cmd(const char *line, const char *cmd)
{
	size_t l = strlen(cmd);

	return strncasecmp(line, cmd, l) == 0 && (line[l] == '\0' || line[l] == ' ');
}

/*
 * A plain command loop after the greeting. ehlo/helo: the replies (NULL:
 * 502). other: the reply to anything else. gap_ms > 0 sends each reply one
 * byte at a time.
 */
static void command_loop(struct conn *c, const char *name, const char *ehlo, const char *helo,
			 const char *other, long gap_ms)
{
	char line[CMD_LINE_MAX];
	char bye[160];

	snprintf(bye, sizeof bye, "221 2.0.0 %s closing connection\r\n", name);
	while (read_cmd(c, line, sizeof line)) {
		const char *reply = other;
		bool quit = false;

		if (is_cmd(line, "QUIT")) {
			reply = bye;
			quit = true;
		} else if (is_cmd(line, "EHLO")) {
			reply = ehlo ? ehlo : other;
		} else if (is_cmd(line, "HELO")) {
			reply = helo ? helo : other;
		} else if (is_cmd(line, "NOOP") || is_cmd(line, "RSET")) {
			reply = "250 2.0.0 OK\r\n";
		}
		bool ok = gap_ms > 0 ? send_slowly(c->fd, reply, gap_ms) : send_str(c->fd, reply);
		if (!ok || quit)
			return;
	}
}

static void serve_slow(struct conn *c)
{
	if (!send_slowly(c->fd, "220 slow.lab.test ESMTP\r\n", 1000))
		return;
	command_loop(c, "slow.lab.test", "250 slow.lab.test\r\n", "250 slow.lab.test\r\n",
		     "502 5.5.2 Error: command not recognized\r\n", 0);
}

static void serve_endless(struct conn *c)
{
	/* 64 KiB/s: 4 KiB every 62.5 ms */
	char chunk[4096];

	memset(chunk, 'A', sizeof chunk);
	if (!send_str(c->fd, "220 "))
		return;
	for (;;) {
		if (peer_gone(c->fd))
			return;
		if (!send_all(c->fd, chunk, sizeof chunk))
			return;
		sleep_ms(62);
	}
}

static void serve_binary(struct conn *c)
{
	static const unsigned char junk[] = {
		0x16, 0x03, 0x01, 0x00, 0x2a, 0x00, 0x00, 0xff, 0xfe, 0x1b, '[', '2', 'J',  0x07,
		0x08, 0x7f, 0x00, '\r', 0x01, 0x02, 0x03, 0x04, 0x80, 0x9c, 0xc3, 0x28, 0x00, '\n',
		'2',  '2',  '0',  0x00, ' ',  'x',  0x0c, 0x0b, 0x1f, 0x00, 0xef, 0xbb, 0xbf, 0x00,
		'\r', '\n', 0x00, 0x00, 0x00, 0x00, 0x05, 0x06, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
	};

	for (;;) {
		if (peer_gone(c->fd))
			return;
		if (!send_all(c->fd, junk, sizeof junk))
			return;
		sleep_ms(50);
	}
}

static void serve_silent(struct conn *c)
{
	char junk[512];

	/* never send; read (and drop) until the peer goes away */
	for (;;) {
		ssize_t n = recv(c->fd, junk, sizeof junk, 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		return;
	}
}

static void serve_reset(struct conn *c)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};

	if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
		logmsg("%s: SO_LINGER: %s", c->peer, strerror(errno));
	/* conn_thread closes: with linger {1,0} that close sends the RST */
}

static void serve_bytewise(struct conn *c)
{
	if (!send_slowly(c->fd, "220-bytewise.lab.test ESMTP\r\n220 hello\r\n", 2))
		return;
	command_loop(c, "bytewise.lab.test",
		     "250-bytewise.lab.test greets you\r\n"
		     "250-PIPELINING\r\n"
		     "250-SIZE 10240000\r\n"
		     "250 8BITMIME\r\n",
		     "250 bytewise.lab.test\r\n", "502 5.5.2 Error: command not recognized\r\n", 2);
}

static void serve_greet421(struct conn *c)
{
	char junk[512];

	if (!send_str(c->fd, "421 busy.lab.test Service not available\r\n"))
		return;
	/* Close our side, then let the peer close first (for at most 5 s), so
	   that a QUIT it still sends does not turn our close into an RST. */
	shutdown(c->fd, SHUT_WR);
	for (int i = 0; i < 50; i++) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		int pr = poll(&pfd, 1, 100);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return;
		if (pr == 0)
			continue;
		if (recv(c->fd, junk, sizeof junk, 0) <= 0)
			return;
	}
}

static void serve_greet554(struct conn *c)
{
	if (!send_str(c->fd, "554 no.lab.test No SMTP service here\r\n"))
		return;
	command_loop(c, "no.lab.test", NULL, NULL, "503 5.5.1 Error: no SMTP service here\r\n", 0);
}

static void serve_ehlo500(struct conn *c)
{
	if (!send_str(c->fd, "220 ehlo500.lab.test ESMTP\r\n"))
		return;
	command_loop(c, "ehlo500.lab.test", "500 5.5.2 Error: command not recognized\r\n",
		     "250 ehlo500.lab.test\r\n", "502 5.5.2 Error: command not recognized\r\n", 0);
}

/* A server that offers STARTTLS and then cannot do TLS (junk or silence). */
static void serve_badtls(struct conn *c, bool stall)
{
	char line[CMD_LINE_MAX];

	if (!send_str(c->fd, "220 badtls.lab.test ESMTP\r\n"))
		return;
	while (read_cmd(c, line, sizeof line)) {
		const char *reply = "502 5.5.2 Error: command not recognized\r\n";

		if (is_cmd(line, "QUIT")) {
			send_str(c->fd, "221 2.0.0 bye\r\n");
			return;
		} else if (is_cmd(line, "EHLO")) {
			reply = "250-badtls.lab.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n";
		} else if (is_cmd(line, "STARTTLS")) {
			if (!send_str(c->fd, "220 2.0.0 Ready to start TLS\r\n"))
				return;
			if (stall) {
				serve_silent(c);
				return;
			}
			sleep_ms(100); /* let the ClientHello arrive first */
			send_str(c->fd, "this is not TLS at all\r\n");
			sleep_ms(100);
			return;
		}
		if (!send_str(c->fd, reply))
			return;
	}
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	switch (c->mode) {
	case M_SLOW:
		serve_slow(c);
		break;
	case M_ENDLESS:
		serve_endless(c);
		break;
	case M_BINARY:
		serve_binary(c);
		break;
	case M_SILENT:
		serve_silent(c);
		break;
	case M_RESET:
		serve_reset(c);
		break;
	case M_BYTEWISE:
		serve_bytewise(c);
		break;
	case M_GREET421:
		serve_greet421(c);
		break;
	case M_GREET554:
		serve_greet554(c);
		break;
	case M_EHLO500:
		serve_ehlo500(c);
		break;
	case M_TLSJUNK:
		serve_badtls(c, false);
		break;
	case M_TLSSTALL:
		serve_badtls(c, true);
		break;
	}
	close(c->fd);
	logmsg("%s: %s done", c->peer, mode_names[c->mode]);
	free(c);
	return NULL;
}

static bool parse_mode(const char *s, enum mode *out)
{
	for (size_t i = 0; i < NMODES; i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum mode)i;
			return true;
		}
	}
	return false;
}

static bool parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

/* Parses and binds ADDR:PORT=MODE; returns false with a message on stderr. */
static bool open_listener(const char *spec, struct listener *l)
{
	char buf[128];
	struct sockaddr_storage ss;
	socklen_t sslen;
	char *eq, *colon, *host, *port;
	uint16_t portnum;
	int one = 1;

	if (strlen(spec) >= sizeof buf) {
		fprintf(stderr, "%s: listener '%s': too long\n", progname, spec);
		return false;
	}
	memcpy(buf, spec, strlen(spec) + 1);
	snprintf(l->spec, sizeof l->spec, "%s", spec);
	eq = strrchr(buf, '=');
	if (!eq || !parse_mode(eq + 1, &l->mode)) {
		fprintf(stderr, "%s: listener '%s': expected ADDR:PORT=MODE with a known MODE\n",
			progname, spec);
		return false;
	}
	*eq = '\0';
	memset(&ss, 0, sizeof ss);
	if (buf[0] == '[') {
		char *rb = strchr(buf, ']');
		if (!rb || rb[1] != ':') {
			fprintf(stderr, "%s: listener '%s': expected [IPv6]:PORT\n", progname, spec);
			return false;
		}
		*rb = '\0';
		host = buf + 1;
		port = rb + 2;
	} else {
		colon = strrchr(buf, ':');
		if (!colon) {
			fprintf(stderr, "%s: listener '%s': no port\n", progname, spec);
			return false;
		}
		*colon = '\0';
		host = buf;
		port = colon + 1;
	}
	if (!parse_port(port, &portnum)) {
		fprintf(stderr, "%s: listener '%s': bad port '%s'\n", progname, spec, port);
		return false;
	}
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (buf[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(portnum);
		sslen = sizeof *sin;
	} else if (buf[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(portnum);
		sslen = sizeof *sin6;
	} else {
		fprintf(stderr, "%s: listener '%s': bad address '%s'\n", progname, spec, host);
		return false;
	}
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0) {
		fprintf(stderr, "%s: listener '%s': socket: %s\n", progname, spec, strerror(errno));
		return false;
	}
	setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(l->fd, (struct sockaddr *)&ss, sslen) < 0 || listen(l->fd, 128) < 0) {
		fprintf(stderr, "%s: listener '%s': %s\n", progname, spec, strerror(errno));
		close(l->fd);
		return false;
	}
	return true;
}

static bool write_pidfile(const char *path)
{
	char tmp[4096], line[32];
	int fd, n;

	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		fprintf(stderr, "%s: pid file path too long\n", progname);
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, tmp, strerror(errno));
		return false;
	}
	n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
	if (write(fd, line, (size_t)n) != n || close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "%s: %s: %s\n", progname, path, strerror(errno));
		unlink(tmp);
		return false;
	}
	return true;
}

static void accept_one(struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof ss;
	int fd = accept4(l->fd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	int one = 1;

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			logmsg("accept on %s: %s", l->spec, strerror(errno));
			sleep_ms(100);
		}
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
		port = ntohs(sin->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
		port = ntohs(sin6->sin6_port);
	}
	/* every byte its own segment in bytewise / slow mode */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	c->mode = l->mode;
	snprintf(c->peer, sizeof c->peer, "%s:%u", host, port);
	logmsg("%s: connection on %s", c->peer, l->spec);

	pthread_attr_t attr;
	pthread_t tid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	int err = pthread_create(&tid, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (err) {
		logmsg("%s: pthread_create: %s", c->peer, strerror(err));
		close(fd);
		free(c);
	}
}

int main(int argc, char **argv)
{
	static struct listener ls[MAX_LISTENERS];
	size_t nls = 0;
	const char *pidfile = NULL;
	sigset_t mask;
	int sfd, opt;

	while ((opt = getopt(argc, argv, "P:l:h")) != -1) {
		switch (opt) {
		case 'P':
			pidfile = optarg;
			break;
		case 'l':
			if (nls == MAX_LISTENERS) {
				fprintf(stderr, "%s: at most %d listeners\n", progname, MAX_LISTENERS);
				return 2;
			}
			if (!open_listener(optarg, &ls[nls]))
				return 2;
			nls++;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc || nls == 0) {
		usage();
		return 2;
	}

	/* Signals: SIGTERM/SIGINT/SIGHUP through a signalfd in the main loop,
	   blocked in every thread (threads inherit the mask). */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
		fprintf(stderr, "%s: pthread_sigmask failed\n", progname);
		return 3;
	}
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "%s: signalfd: %s\n", progname, strerror(errno));
		return 3;
	}

	if (pidfile && !write_pidfile(pidfile))
		return 3;
	logmsg("ready, %zu listener(s)", nls);

	struct pollfd pfds[MAX_LISTENERS + 1];
	for (size_t i = 0; i < nls; i++)
		pfds[i] = (struct pollfd){.fd = ls[i].fd, .events = POLLIN};
	pfds[nls] = (struct pollfd){.fd = sfd, .events = POLLIN};

	for (;;) {
		int n = poll(pfds, nls + 1, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			logmsg("poll: %s", strerror(errno));
			break;
		}
		if (pfds[nls].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				logmsg("signal %u, exiting", si.ssi_signo);
				break;
			}
		}
		for (size_t i = 0; i < nls; i++)
			if (pfds[i].revents & POLLIN)
				accept_one(&ls[i]);
	}
	for (size_t i = 0; i < nls; i++)
		close(ls[i].fd);
	if (pidfile)
		unlink(pidfile);
	/* Connection threads are detached; exit() ends them with the process. */
	return 0;
}
