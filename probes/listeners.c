/*
 * listeners.c -- the LISTEN sockets of this host and the processes that own
 * them, from /proc, the way `ss -ltnp` finds them (include/mailhole/local.h).
 *
 * /proc/net/tcp and /proc/net/tcp6 list every TCP socket of the network
 * namespace; their text is parsed by a pure function over a buffer, so the
 * fixtures of tests/fixtures/proc/ and the fuzzer feed it exactly what the
 * kernel would. The owners come from the other direction: every
 * /proc/PID/fd/N that is a link "socket:[INODE]" names a process holding
 * that socket. Without root, other users' fd folders are closed to us: the
 * owner is then "unknown" and the caller says so; nothing fails for it.
 */
#include "mailhole/local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/common.h"

/* Largest /proc text file read (a host with ~2 million sockets). */
#define PROC_FILE_MAX (256u << 20)

void mh_listeners_free(struct mh_listeners *l)
{
	if (!l)
		return;
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int listeners_push(struct mh_listeners *l, const struct mh_listener *li)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct mh_listener *v;
		if (l->n >= MH_LISTENERS_MAX)
			return MH_ELIMIT;
		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return MH_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *li;
	return 0;
}

/* ---- parsing /proc/net/tcp{,6} ----------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly n hex digits at s into *out (n <= 8). */
static bool hex_n(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	for (size_t i = 0; i < n; i++) {
		int d = hexval(s[i]);
		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return true;
}

/* A whole decimal token (no sign) into *out. */
static bool dec_tok(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * One word of an address as the kernel printed it: %08X of a __be32 read as
 * a native u32. On a little-endian machine "0100007F" is 127.0.0.1 (what
 * memcpy of the value, or htonl(ntohl-swapped) gives); on a big-endian one
 * the same address prints "7F000001".
 */
static void put_word(uint8_t *b, uint32_t v, int byte_order)
{
	if (byte_order == __ORDER_BIG_ENDIAN__) {
		b[0] = (uint8_t)(v >> 24);
		b[1] = (uint8_t)(v >> 16);
		b[2] = (uint8_t)(v >> 8);
		b[3] = (uint8_t)v;
	} else {
		b[0] = (uint8_t)v;
		b[1] = (uint8_t)(v >> 8);
		b[2] = (uint8_t)(v >> 16);
		b[3] = (uint8_t)(v >> 24);
	}
}

struct tok {
	const char *s;
	size_t n;
};

/* Splits [s, e) at blanks into at most max tokens; returns how many. */
static size_t split(const char *s, const char *e, struct tok *t, size_t max)
{
	size_t n = 0;

	while (s < e && n < max) {
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e)
			break;
		t[n].s = s;
		while (s < e && *s != ' ' && *s != '\t')
			s++;
		t[n].n = (size_t)(s - t[n].s);
		n++;
	}
	return n;
}

/* "HEX:PPPP" into a->bytes and *port. Returns NULL or what is wrong. */
static const char *parse_endpoint(const struct tok *t, int family, int byte_order,
				  struct mh_addr *a, uint16_t *port)
{
	size_t hexlen;
	uint32_t w, p;

	if (t->n == 8 + 5)
		hexlen = 8;
	else if (t->n == 32 + 5)
		hexlen = 32;
	else
		return "address is not HEX:PORT with 8 or 32 hex digits";
	if (family == AF_INET && hexlen != 8)
		return "not an IPv4 address (8 hex digits) in tcp";
	if (family == AF_INET6 && hexlen != 32)
		return "not an IPv6 address (32 hex digits) in tcp6";
	if (t->s[hexlen] != ':' || !hex_n(t->s + hexlen + 1, 4, &p))
		return "port is not 4 hex digits";
	memset(a, 0, sizeof(*a));
	a->family = hexlen == 8 ? AF_INET : AF_INET6;
	for (size_t i = 0; i < hexlen / 8; i++) {
		if (!hex_n(t->s + i * 8, 8, &w))
			return "address is not hex";
		put_word(a->bytes + i * 4, w, byte_order);
	}
	*port = (uint16_t)p;
	return NULL;
}

/*
 * One line: "sl: local remote st tx:rx tr:when retrnsmt uid timeout inode ...".
 * Returns 1 for a LISTEN socket (filled), 0 for another socket or a header,
 * or -1 with *why set for a malformed line.
 */
static int parse_line(const char *s, const char *e, int family, int byte_order,
		      struct mh_listener *li, const char **why)
{
	struct tok t[10];
	size_t n = split(s, e, t, 10);
	uint32_t st;
	uint64_t uid, inode;
	uint16_t rport;
	struct mh_addr remote;

	if (n == 0)
		return 0;
	if (t[0].n == 2 && memcmp(t[0].s, "sl", 2) == 0)
		return 0; /* the header */
	if (n < 10) {
		*why = "fewer than 10 fields";
		return -1;
	}
	if (t[0].n < 2 || t[0].s[t[0].n - 1] != ':') {
		*why = "first field is not 'N:'";
		return -1;
	}
	if ((*why = parse_endpoint(&t[1], family, byte_order, &li->addr, &li->port)) != NULL)
		return -1;
	if ((*why = parse_endpoint(&t[2], family, byte_order, &remote, &rport)) != NULL)
		return -1;
	if (remote.family != li->addr.family) {
		*why = "local and remote addresses of different families";
		return -1;
	}
	if (t[3].n != 2 || !hex_n(t[3].s, 2, &st)) {
		*why = "state is not 2 hex digits";
		return -1;
	}
	if (st != 0x0A)
		return 0;
	if (!dec_tok(t[7].s, t[7].n, &uid) || uid > UINT32_MAX) {
		*why = "uid is not a number";
		return -1;
	}
	if (!dec_tok(t[9].s, t[9].n, &inode)) {
		*why = "inode is not a number";
		return -1;
	}
	li->uid = (uint32_t)uid;
	li->inode = inode;
	li->pid = -1;
	li->nholders = 0;
	mh_strlcpy(li->process, "unknown", sizeof(li->process));
	mh_strlcpy(li->exe, "unknown", sizeof(li->exe));
	return 1;
}

int mh_proc_net_tcp_parse(const char *buf, size_t len, int family, int byte_order,
			  struct mh_listeners *out, size_t *nbad, char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;
	size_t lineno = 0, bad = 0;
	int added = 0, rc;

	if (byte_order == 0)
		byte_order = __BYTE_ORDER__;
	if (err && errlen)
		err[0] = '\0';
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		struct mh_listener li;
		const char *why = NULL;

		lineno++;
		if (e > p && e[-1] == '\r')
			e--;
		memset(&li, 0, sizeof(li));
		rc = parse_line(p, e, family, byte_order, &li, &why);
		if (rc < 0) {
			if (bad++ == 0)
				mh_err(err, errlen, MH_EINVAL, "line %zu: %s", lineno, why);
		} else if (rc > 0) {
			rc = listeners_push(out, &li);
			if (rc < 0)
				return mh_err(err, errlen, rc, "line %zu: %s", lineno,
					      rc == MH_ELIMIT ? "too many listening sockets"
							      : "out of memory");
			if (added < INT_MAX)
				added++;
		}
		p = nl ? nl + 1 : end;
	}
	if (nbad)
		*nbad = bad;
	return added;
}

int mh_local_read_file(const char *path, char **out, size_t *len, int *eno)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 16384, n = 0;
	char *buf;

	*out = NULL;
	*len = 0;
	if (fd < 0) {
		*eno = errno;
		return MH_EIO;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return MH_ENOMEM;
	}
	for (;;) {
		ssize_t r;
		if (n + 1 >= cap) {
			char *nb;
			if (cap >= PROC_FILE_MAX) {
				free(buf);
				close(fd);
				return MH_ELIMIT;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return MH_ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*eno = errno;
			free(buf);
			close(fd);
			return MH_EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int mh_listeners_read(const char *proc_root, struct mh_listeners *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int family;
		bool required;
	} files[] = { { "net/tcp", AF_INET, true }, { "net/tcp6", AF_INET6, false } };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[PATH_MAX], perr[MH_ERRLEN];
		char *buf;
		size_t len, nbad = 0;
		int rc, eno = 0;

		snprintf(path, sizeof(path), "%s/%s", proc_root, files[i].name);
		rc = mh_local_read_file(path, &buf, &len, &eno);
		if (rc == MH_EIO && !files[i].required && eno == ENOENT)
			continue; /* no IPv6 */
		if (rc < 0)
			return mh_err(err, errlen, rc, "%s: %s", path,
				      rc == MH_EIO	   ? strerror(eno)
				      : rc == MH_ELIMIT ? "too large"
							: "out of memory");
		rc = mh_proc_net_tcp_parse(buf, len, files[i].family, 0, out, &nbad, perr,
					   sizeof(perr));
		free(buf);
		if (rc < 0)
			return mh_err(err, errlen, rc, "%s: %s", path, perr);
		if (nbad)
			mh_log_warn("%s: %zu malformed lines skipped (%s)", path, nbad, perr);
	}
	return 0;
}

/* ---- owners ------------------------------------------------------------ */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* "socket:[12345]" -> 12345; 0 when the link is something else. */
static uint64_t socket_inode(const char *link)
{
	const char *p = link + 8, *q;
	uint64_t v;

	if (strncmp(link, "socket:[", 8) != 0 || !(q = strchr(p, ']')) || q[1] != '\0')
		return 0;
	return dec_tok(p, (size_t)(q - p), &v) ? v : 0;
}

/* The parent pid from PROC_ROOT/PID/stat ("pid (comm) S ppid ..."); -1 unknown. */
static int read_ppid(const char *proc_root, int pid)
{
	char path[PATH_MAX], buf[1024];
	const char *p, *q;
	uint64_t v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold ')' and spaces: the state follows the last ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -1;
	p += 4;
	q = p;
	while (*q >= '0' && *q <= '9')
		q++;
	if (!dec_tok(p, (size_t)(q - p), &v) || v > INT_MAX)
		return -1;
	return (int)v;
}

static void fill_owner(const char *proc_root, struct mh_listener *li, int pid,
		       struct mh_owner_stats *st)
{
	char path[PATH_MAX], buf[MH_EXE_MAX];
	ssize_t n;
	int fd;

	li->pid = pid;
	snprintf(path, sizeof(path), "%s/%d/comm", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			if (buf[0])
				mh_strlcpy(li->process, buf, sizeof(li->process));
		}
	}
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		mh_strlcpy(li->exe, buf, sizeof(li->exe));
	} else if (errno == EACCES || errno == EPERM) {
		st->denied_exe++;
	}
}

/* The holder whose parent is not a holder; the lowest pid on a tie. */
static int pick_owner(const char *proc_root, const struct mh_listener *li)
{
	int best = -1;

	for (unsigned i = 0; i < li->nholders; i++) {
		int pid = li->holders[i], ppid = read_ppid(proc_root, pid);
		bool parent_holds = false;
		for (unsigned j = 0; j < li->nholders; j++)
			parent_holds |= j != i && li->holders[j] == ppid;
		if (!parent_holds && (best < 0 || pid < best))
			best = pid;
	}
	if (best < 0) /* a cycle cannot happen; be safe anyway */
		for (unsigned i = 0; i < li->nholders; i++)
			if (best < 0 || li->holders[i] < best)
				best = li->holders[i];
	return best;
}

/* Records pid as a holder of every listener with this inode. */
static void add_holder(struct mh_listener *v, size_t n, uint64_t inode, int pid)
{
	for (size_t i = 0; i < n; i++) {
		struct mh_listener *li = &v[i];
		bool dup = false;
		if (li->inode != inode)
			continue;
		for (unsigned j = 0; j < li->nholders; j++)
			dup |= li->holders[j] == pid;
		if (!dup && li->nholders < MH_HOLDERS_MAX)
			li->holders[li->nholders++] = pid;
	}
}

static void scan_fds(const char *proc_root, int pid, struct mh_listener *v, size_t n,
		     struct mh_owner_stats *st)
{
	char path[PATH_MAX], link[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/fd", proc_root, pid);
	d = opendir(path);
	if (!d) {
		if (errno == EACCES || errno == EPERM)
			st->denied_fd++;
		return; /* ENOENT: the process is gone */
	}
	while ((de = readdir(d)) != NULL) {
		ssize_t l;
		uint64_t inode;
		if (de->d_name[0] == '.')
			continue;
		l = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = '\0';
		inode = socket_inode(link);
		if (inode)
			add_holder(v, n, inode, pid);
	}
	closedir(d);
}

int mh_listeners_owners(const char *proc_root, struct mh_listener *v, size_t n,
			struct mh_owner_stats *st, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;

	memset(st, 0, sizeof(*st));
	if (n == 0)
		return 0;
	d = opendir(proc_root);
	if (!d) {
		int e = errno;
		st->unowned = (unsigned)n;
		return mh_err(err, errlen, MH_EIO, "%s: %s", proc_root, strerror(e));
	}
	/*
	 * Every process is looked at (no early stop): a socket passed to
	 * children is held by several, and the owner is chosen among all.
	 */
	while ((de = readdir(d)) != NULL) {
		uint64_t pid;
		if (!all_digits(de->d_name) || !dec_tok(de->d_name, strlen(de->d_name), &pid) ||
		    pid == 0 || pid > INT_MAX)
			continue;
		st->procs++;
		scan_fds(proc_root, (int)pid, v, n, st);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		if (v[i].nholders == 0 || v[i].inode == 0) {
			st->unowned++;
			continue;
		}
		fill_owner(proc_root, &v[i], pick_owner(proc_root, &v[i]), st);
	}
	return 0;
}

bool mh_listener_covers(const struct mh_listener *li, const struct mh_addr *a, uint16_t port)
{
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (li->port != port)
		return false;
	if (li->addr.family == a->family) {
		size_t len = a->family == AF_INET ? 4 : 16;
		return memcmp(li->addr.bytes, zero, len) == 0 ||
		       memcmp(li->addr.bytes, a->bytes, len) == 0;
	}
	if (li->addr.family == AF_INET6 && a->family == AF_INET) {
		if (memcmp(li->addr.bytes, zero, 16) == 0)
			return true; /* :: is dual stack unless IPV6_V6ONLY */
		return memcmp(li->addr.bytes, mapped, 12) == 0 &&
		       memcmp(li->addr.bytes + 12, a->bytes, 4) == 0;
	}
	return false;
}

/* An interface name as /proc/net/route prints it: printable, no NUL. */
static bool ifname_ok(const struct tok *t, size_t size)
{
	if (t->n == 0 || t->n >= size || t->n >= IF_NAMESIZE)
		return false;
	for (size_t i = 0; i < t->n; i++)
		if ((unsigned char)t->s[i] <= 0x20 || (unsigned char)t->s[i] >= 0x7f ||
		    t->s[i] == '/')
			return false;
	return true;
}

int mh_proc_net_route_default(const char *buf, size_t len, char *ifname, size_t size)
{
	const char *p = buf, *end = buf + len;
	uint64_t best_metric = UINT64_MAX;
	bool found = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		struct tok t[8];
		uint32_t dest, flags, mask;
		uint64_t metric;

		if (e > p && e[-1] == '\r')
			e--;
		/* Iface Destination Gateway Flags RefCnt Use Metric Mask */
		if (split(p, e, t, 8) == 8 && t[1].n == 8 && hex_n(t[1].s, 8, &dest) &&
		    dest == 0 && t[3].n == 4 && hex_n(t[3].s, 4, &flags) && (flags & 1) &&
		    t[7].n == 8 && hex_n(t[7].s, 8, &mask) && mask == 0 &&
		    dec_tok(t[6].s, t[6].n, &metric) && metric < best_metric &&
		    ifname_ok(&t[0], size)) {
			memcpy(ifname, t[0].s, t[0].n);
			ifname[t[0].n] = '\0';
			best_metric = metric;
			found = true;
		}
		p = nl ? nl + 1 : end;
	}
	return found ? 0 : MH_EINVAL;
}
