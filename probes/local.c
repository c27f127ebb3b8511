/*
 * local.c -- the interface x port table of `mailhole local` and its
 * judgement (include/mailhole/local.h).
 *
 * Every address of every interface that is up, plus 127.0.0.1 and ::1,
 * times 25, 465 and 587: one non-blocking connect() per cell, all started
 * at once and collected under one poll() with a short timeout. Every
 * destination is an address of this host, so nothing leaves it and no
 * packet crosses a wire; no SMTP is spoken, the connection is closed as
 * soon as it is up. This is deliberately not the sweep engine: a few dozen
 * cells, one thread, done in milliseconds.
 *
 * The judgement (exposure, partial exposure) is a pure function of the
 * table, so tests feed it synthetic tables; the listeners from /proc are
 * laid over the same cells (`bound`) as a cross-check.
 */
#include "mailhole/local.h"

#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/engine.h"

const uint16_t mh_local_ports[MH_LOCAL_NPORTS] = { 25, 465, 587 };

int mh_local_port_index(uint16_t port)
{
	for (int i = 0; i < MH_LOCAL_NPORTS; i++)
		if (mh_local_ports[i] == port)
			return i;
	return -1;
}

const char *mh_cell_name(enum mh_cell c)
{
	switch (c) {
	case MH_CELL_CLOSED:
		return "closed";
	case MH_CELL_LISTENING:
		return "listening";
	case MH_CELL_FILTERED:
		return "filtered";
	}
	return "unknown";
}

void mh_local_free(struct mh_local **lp)
{
	if (!lp || !*lp)
		return;
	free((*lp)->addrs);
	free((*lp)->listeners);
	free((*lp)->mta);
	free((*lp)->queues);
	free(*lp);
	*lp = NULL;
}

void mh_local_note(struct mh_local *l, const char *fmt, ...)
{
	va_list ap;

	if (l->nunseen >= MH_LOCAL_UNSEEN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(l->unseen[l->nunseen], sizeof(l->unseen[0]), fmt, ap);
	va_end(ap);
	l->nunseen++;
}

/* ---- the judgement ------------------------------------------------------ */

static void fmt_row(const struct mh_local_addr *r, char *buf, size_t size)
{
	char a[MH_ADDR_STRLEN];

	mh_addr_format(&r->addr, a, sizeof(a));
	snprintf(buf, size, "%s (%s)", a, r->ifname);
}

void mh_local_judge(struct mh_local *l)
{
	bool any_lo = false, any_ext = false;

	l->partial = false;
	l->partial_evidence[0] = '\0';
	l->agree = true;
	for (size_t i = 0; i < l->naddrs; i++) {
		struct mh_local_addr *r = &l->addrs[i];
		r->loopback = mh_addr_is_loopback(&r->addr);
		for (int p = 0; p < MH_LOCAL_NPORTS; p++) {
			bool listening = r->cell[p] == MH_CELL_LISTENING;
			r->bound[p] = false;
			for (size_t k = 0; k < l->nlisteners && !r->bound[p]; k++)
				r->bound[p] = mh_listener_covers(&l->listeners[k], &r->addr,
								  mh_local_ports[p]);
			if (r->bound[p] != listening)
				l->agree = false;
			if (listening && r->loopback)
				any_lo = true;
			else if (listening)
				any_ext = true;
		}
	}
	l->exposure = any_ext ? MH_EXPOSURE_EXPOSED
			      : any_lo ? MH_EXPOSURE_LOOPBACK : MH_EXPOSURE_NONE;

	/*
	 * Partial: per port and per family, among the non-loopback addresses,
	 * one listens and another does not. Per family, so that a daemon run
	 * for IPv4 only (Postfix's inet_protocols = ipv4) on a host that also
	 * has IPv6 addresses is not called partial: every address it could
	 * serve, it serves.
	 */
	for (int p = 0; p < MH_LOCAL_NPORTS && !l->partial; p++) {
		static const int fams[2] = { AF_INET, AF_INET6 };
		for (int f = 0; f < 2 && !l->partial; f++) {
			const struct mh_local_addr *yes = NULL, *no = NULL;
			for (size_t i = 0; i < l->naddrs; i++) {
				const struct mh_local_addr *r = &l->addrs[i];
				if (r->loopback || r->addr.family != fams[f])
					continue;
				if (r->cell[p] == MH_CELL_LISTENING) {
					if (!yes)
						yes = r;
				} else if (!no) {
					no = r;
				}
			}
			if (yes && no) {
				char a[MH_ADDR_STRLEN + IF_NAMESIZE + 4];
				char b[MH_ADDR_STRLEN + IF_NAMESIZE + 4];
				fmt_row(yes, a, sizeof(a));
				fmt_row(no, b, sizeof(b));
				l->partial = true;
				snprintf(l->partial_evidence, sizeof(l->partial_evidence),
					 "%u/tcp listening on %s, %s on %s", mh_local_ports[p], a,
					 mh_cell_name(no->cell[p]), b);
			}
		}
	}
}

/* ---- the rows ----------------------------------------------------------- */

static int push_row(struct mh_local *l, size_t *cap, const char *ifname,
		    const struct mh_addr *a)
{
	struct mh_local_addr *r;

	for (size_t i = 0; i < l->naddrs; i++)
		if (mh_addr_cmp(&l->addrs[i].addr, a) == 0)
			return 0; /* one row per address (and scope) */
	if (l->naddrs == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		if (nc > 1000000)
			return MH_ELIMIT;
		r = realloc(l->addrs, nc * sizeof(*r));
		if (!r)
			return MH_ENOMEM;
		l->addrs = r;
		*cap = nc;
	}
	r = &l->addrs[l->naddrs++];
	memset(r, 0, sizeof(*r));
	mh_strlcpy(r->ifname, ifname, sizeof(r->ifname));
	r->addr = *a;
	r->loopback = mh_addr_is_loopback(a);
	for (int p = 0; p < MH_LOCAL_NPORTS; p++)
		r->cell[p] = MH_CELL_CLOSED;
	return 0;
}

/*
 * Whether PROC_ROOT/net/if_inet6 marks the address tentative (0x40) or
 * failed (0x08) by duplicate address detection: connecting to it would
 * leave the host (neighbour solicitation) or wait for nothing.
 * Lines: "fe800000000000000000000000000001 02 40 20 80 eth0".
 */
static bool v6_unusable(const char *text, const struct mh_addr *a)
{
	char hex[33];
	const char *p = text;

	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", a->bytes[i]);
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		if (strncmp(p, hex, 32) == 0 && p[32] == ' ') {
			/* ifindex, prefix length, scope, flags */
			unsigned long f[4];
			const char *q = p + 33;
			int k;
			for (k = 0; k < 4; k++) {
				char *e;
				errno = 0;
				f[k] = strtoul(q, &e, 16);
				if (e == q || errno)
					break;
				q = e;
			}
			if (k == 4 && (a->scope_id == 0 || f[0] == a->scope_id))
				return (f[3] & 0x48) != 0;
		}
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

int mh_local_addrs(struct mh_local *l, const char *proc_root, char *err, size_t errlen)
{
	struct ifaddrs *ifa = NULL;
	struct mh_addr lo4, lo6;
	size_t cap = l->naddrs;
	char path[PATH_MAX];
	char *if6 = NULL;
	size_t if6len;
	int rc = 0, eno = 0;

	if (getifaddrs(&ifa) < 0)
		return mh_err(err, errlen, MH_EIO, "interfaces (getifaddrs): %s",
			      strerror(errno));
	snprintf(path, sizeof(path), "%s/net/if_inet6", proc_root);
	if (mh_local_read_file(path, &if6, &if6len, &eno) < 0)
		if6 = NULL;
	for (struct ifaddrs *i = ifa; i && rc == 0; i = i->ifa_next) {
		struct mh_addr a;
		char text[MH_ADDR_STRLEN];
		if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) ||
		    mh_addr_from_sockaddr(i->ifa_addr, &a) < 0)
			continue;
		if (a.family == AF_INET6 && if6 && v6_unusable(if6, &a)) {
			mh_addr_format(&a, text, sizeof(text));
			mh_local_note(l, "%s on %s: not tested (IPv6 duplicate address detection "
					 "not done)", text, i->ifa_name);
			continue;
		}
		rc = push_row(l, &cap, i->ifa_name, &a);
	}
	freeifaddrs(ifa);
	mh_addr_parse("127.0.0.1", &lo4);
	mh_addr_parse("::1", &lo6);
	if (rc == 0)
		rc = push_row(l, &cap, "lo", &lo4);
	if (rc == 0 && (!if6 || !v6_unusable(if6, &lo6)))
		rc = push_row(l, &cap, "lo", &lo6);
	/*
	 * A daemon bound to another loopback address (127.0.0.2, or its
	 * v4-mapped form) answers on no interface address: give it a row of its
	 * own, so that the table sees it (loopback-only, not "none").
	 */
	for (size_t i = 0; rc == 0 && i < l->nlisteners; i++) {
		struct mh_addr a = l->listeners[i].addr;
		if (!mh_addr_is_loopback(&a))
			continue;
		if (a.family == AF_INET6 && a.bytes[12] == 127 && a.bytes[0] == 0) {
			uint8_t v4[4];
			memcpy(v4, a.bytes + 12, 4);
			memset(&a, 0, sizeof(a));
			a.family = AF_INET;
			memcpy(a.bytes, v4, 4);
		}
		rc = push_row(l, &cap, "lo", &a);
	}
	free(if6);
	if (rc < 0)
		return mh_err(err, errlen, rc, "interfaces: %s",
			      rc == MH_ELIMIT ? "too many addresses" : "out of memory");
	return 0;
}

/* ---- the probe ---------------------------------------------------------- */

/* What a failed connect() says about a cell. */
static enum mh_cell cell_of_errno(int e)
{
	switch (e) {
	case ETIMEDOUT:
	case EHOSTUNREACH:
		return MH_CELL_FILTERED;
	default:
		/* refused; or nothing can listen there (no IPv6, address gone) */
		return MH_CELL_CLOSED;
	}
}

static void probe_batch(struct mh_local_addr *a, size_t first, size_t ncells, struct pollfd *pfd,
			unsigned timeout_ms)
{
	uint64_t deadline = mh_now_ms() + timeout_ms;
	size_t pending = 0;

	for (size_t c = 0; c < ncells; c++) {
		struct mh_local_addr *r = &a[(first + c) / MH_LOCAL_NPORTS];
		int p = (int)((first + c) % MH_LOCAL_NPORTS);
		struct sockaddr_storage ss;
		socklen_t sl = mh_addr_to_sockaddr(&r->addr, mh_local_ports[p], &ss);
		int fd = socket(r->addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		pfd[c].fd = -1;
		pfd[c].events = POLLOUT;
		pfd[c].revents = 0;
		if (fd < 0) {
			r->cell[p] = MH_CELL_CLOSED; /* e.g. EAFNOSUPPORT: no IPv6 */
			continue;
		}
		if (connect(fd, (struct sockaddr *)&ss, sl) == 0) {
			r->cell[p] = MH_CELL_LISTENING;
			close(fd);
		} else if (errno == EINPROGRESS) {
			r->cell[p] = MH_CELL_FILTERED; /* until it answers */
			pfd[c].fd = fd;
			pending++;
		} else {
			r->cell[p] = cell_of_errno(errno);
			close(fd);
		}
	}
	while (pending > 0) {
		uint64_t now = mh_now_ms();
		int n;
		if (now >= deadline)
			break;
		n = poll(pfd, ncells, (int)(deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t c = 0; c < ncells; c++) {
			struct mh_local_addr *r = &a[(first + c) / MH_LOCAL_NPORTS];
			int p = (int)((first + c) % MH_LOCAL_NPORTS);
			int soerr = 0;
			socklen_t len = sizeof(soerr);
			if (pfd[c].fd < 0 || !pfd[c].revents)
				continue;
			if (getsockopt(pfd[c].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
				soerr = errno;
			r->cell[p] = soerr == 0 ? MH_CELL_LISTENING : cell_of_errno(soerr);
			close(pfd[c].fd);
			pfd[c].fd = -1;
			pending--;
		}
	}
	for (size_t c = 0; c < ncells; c++)
		if (pfd[c].fd >= 0)
			close(pfd[c].fd); /* still FILTERED: no answer in time */
}

int mh_local_probe(struct mh_local_addr *a, size_t n, unsigned timeout_ms, char *err,
		   size_t errlen)
{
	size_t total = n * MH_LOCAL_NPORTS, batch;
	uint64_t nofile = mh_raise_nofile();
	struct pollfd *pfd;

	if (total == 0)
		return 0;
	/* leave room for what the process has open (stdio, /proc, output) */
	batch = nofile > 96 ? (size_t)(nofile - 64) : 32;
	if (batch > total)
		batch = total;
	pfd = calloc(batch, sizeof(*pfd));
	if (!pfd)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	for (size_t first = 0; first < total; first += batch)
		probe_batch(a, first, total - first < batch ? total - first : batch, pfd,
			    timeout_ms);
	free(pfd);
	return 0;
}

/* ---- everything --------------------------------------------------------- */

/* Keeps the listeners on the SMTP ports, in a new array owned by l. */
static int keep_smtp_listeners(struct mh_local *l, const struct mh_listeners *all)
{
	size_t n = 0;

	for (size_t i = 0; i < all->n; i++)
		n += mh_local_port_index(all->v[i].port) >= 0;
	if (n == 0)
		return 0;
	l->listeners = calloc(n, sizeof(*l->listeners));
	if (!l->listeners)
		return MH_ENOMEM;
	for (size_t i = 0; i < all->n; i++)
		if (mh_local_port_index(all->v[i].port) >= 0)
			l->listeners[l->nlisteners++] = all->v[i];
	return 0;
}

int mh_local_gather(const struct mh_local_opts *o, struct mh_local **out, char *err,
		    size_t errlen)
{
	const char *root = o && o->proc_root ? o->proc_root : "/proc";
	unsigned timeout = o && o->timeout_ms ? o->timeout_ms : 300;
	struct mh_listeners all = { 0 };
	struct mh_owner_stats st;
	struct mh_local *l;
	char e2[MH_ERRLEN];
	int rc;

	*out = NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");

	/* Listeners and owners first: the probes below make daemons fork. */
	rc = mh_listeners_read(root, &all, e2, sizeof(e2));
	if (rc == MH_ENOMEM)
		goto nomem;
	if (rc < 0)
		mh_local_note(l, "listening sockets: %s", e2);
	else if (keep_smtp_listeners(l, &all) < 0)
		goto nomem;
	mh_listeners_free(&all);
	if (l->nlisteners) {
		rc = mh_listeners_owners(root, l->listeners, l->nlisteners, &st, e2, sizeof(e2));
		if (rc < 0)
			mh_local_note(l, "owners of listening sockets: %s", e2);
		else if (st.unowned && st.denied_fd)
			mh_local_note(l, "owner of %u listening socket%s: the file descriptors "
					 "of %u other processes are not readable without root",
				      st.unowned, st.unowned == 1 ? "" : "s", st.denied_fd);
		else if (st.unowned)
			mh_local_note(l, "owner of %u listening socket%s: held by no visible "
					 "process (/proc mounted with hidepid, or another PID "
					 "namespace)",
				      st.unowned, st.unowned == 1 ? "" : "s");
		if (rc == 0 && st.denied_exe)
			mh_local_note(l, "executable of %u owning process%s: /proc/PID/exe not "
					 "readable without root",
				      st.denied_exe, st.denied_exe == 1 ? "" : "es");
	}

	rc = mh_local_addrs(l, root, err, errlen);
	if (rc < 0)
		goto fail;
	rc = mh_local_probe(l->addrs, l->naddrs, timeout, err, errlen);
	if (rc < 0)
		goto fail;
	mh_local_judge(l);
	*out = l;
	return 0;
nomem:
	rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
fail:
	mh_listeners_free(&all);
	mh_local_free(&l);
	return rc;
}

void mh_local_primary(const struct mh_local *l, const char *proc_root, struct mh_addr *out)
{
	char path[PATH_MAX], ifname[IF_NAMESIZE] = "";
	char *buf = NULL;
	size_t len;
	int eno;

	snprintf(path, sizeof(path), "%s/net/route", proc_root ? proc_root : "/proc");
	if (mh_local_read_file(path, &buf, &len, &eno) == 0) {
		if (mh_proc_net_route_default(buf, len, ifname, sizeof(ifname)) < 0)
			ifname[0] = '\0';
		free(buf);
	}
	if (ifname[0])
		for (size_t i = 0; i < l->naddrs; i++)
			if (!strcmp(l->addrs[i].ifname, ifname) &&
			    l->addrs[i].addr.family == AF_INET && !l->addrs[i].loopback) {
				*out = l->addrs[i].addr;
				return;
			}
	/* pass 0: IPv4 not link-local; 1: IPv6 not link-local; 2: anything */
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < l->naddrs; i++) {
			const struct mh_addr *a = &l->addrs[i].addr;
			bool ll = (a->family == AF_INET && a->bytes[0] == 169 && a->bytes[1] == 254) ||
				  (a->family == AF_INET6 && a->bytes[0] == 0xfe &&
				   (a->bytes[1] & 0xc0) == 0x80);
			if (l->addrs[i].loopback)
				continue;
			if ((pass == 0 && (a->family != AF_INET || ll)) ||
			    (pass == 1 && (a->family != AF_INET6 || ll)))
				continue;
			*out = *a;
			return;
		}
	}
	mh_addr_parse("127.0.0.1", out);
}
