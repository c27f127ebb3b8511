/*
 * engine.c -- the multithreaded connect sweep (include/mailhole/engine.h).
 *
 * Each worker thread owns:
 *   - a slice of the target permutation (mh_shard_slice), so no two threads
 *     ever share a target and no lock guards the order;
 *   - an epoll set and a binary heap of deadlines over its connection slots;
 *   - a fixed array of slots (one per connection in flight) and of jobs (one
 *     per host in flight), sized from --concurrency at start: memory is
 *     O(concurrency), and sweeping a /16 allocates nothing per target;
 *   - a pool of SMTP sessions, attached to a slot only once its connection
 *     is up (most targets of a sweep never answer);
 *   - a token bucket for its share of --rate.
 * A host whose ports are all resolved goes to the writer thread through a
 * bounded queue (only hosts with an open port, unless all_hosts), so a slow
 * writer slows the sweep instead of growing memory. The writer thread is the
 * only caller of the host callback, so writers need no locks.
 *
 * Port states: a connect that completes is open; ECONNREFUSED is closed (the
 * RST); no answer by --timeout (after --retries) or an ICMP unreachable is
 * filtered.
 *
 * Most targets of a sweep refuse. A socket whose connect was refused is
 * back in the CLOSE state and Linux lets it connect again (after one
 * connect() that answers ECONNABORTED), so it goes to a per-thread spare
 * list, still registered (edge-triggered) in the epoll set: the next target
 * costs two connect() calls instead of socket(), connect(), epoll_ctl() and
 * close(). Events carry the fd; fd2slot maps it back
 * to its slot (-1 while spare).
 */
#include "mailhole/engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mailhole/common.h"

/* The writer queue: a bounded ring of finished hosts. */
#define QUEUE_CAP 64
/* How long connections in flight may finish after a stop request. */
#define STOP_GRACE_MS 1000
/* Longest sleep in epoll_wait, so stop requests are seen promptly. */
#define MAX_WAIT_MS 100

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	struct mh_host *ring[QUEUE_CAP];
	unsigned head, count;
	unsigned producers; /* workers still running */
};

/* Per-thread counters, read by the writer thread for progress. */
struct counters {
	atomic_uint_fast64_t hosts_done, probes, open, closed, filtered, smtp_errors;
};

enum slot_state { SLOT_FREE, SLOT_CONNECTING, SLOT_SMTP };

struct job {
	struct mh_addr addr;
	unsigned pending; /* ports not yet resolved */
	struct mh_host *host; /* allocated on the first open port, or at the end for all_hosts */
	enum mh_port_state state[MH_MAX_PORTS];
	double rtt_ms[MH_MAX_PORTS];
	bool resolved[MH_MAX_PORTS];
	int next_free;
};

struct session_box {
	struct mh_smtp_session s;
	struct session_box *next_free;
};

struct slot {
	enum slot_state state;
	int fd;
	unsigned job;      /* index into jobs */
	unsigned portidx;  /* index into opts->ports */
	unsigned attempts; /* connect attempts so far */
	uint64_t started_ns; /* connect start */
	uint64_t deadline_ms;      /* current deadline (heap key) */
	uint64_t session_deadline; /* whole SMTP session deadline */
	unsigned heap_pos;
	struct session_box *box;   /* SMTP session, when state == SLOT_SMTP */
	struct mh_smtp_result *res; /* result being filled, owned until handed to the host */
	SSL *ssl;                  /* after STARTTLS: all session I/O goes through it */
	int next_free;
};

struct worker {
	const struct mh_scan_opts *o;
	struct queue *q;
	const atomic_int *stop;
	struct counters *ctr;
	unsigned id;
	pthread_t thread;
	int ep;
	struct mh_perm_iter it;
	bool exhausted;

	struct slot *slots;
	unsigned nslots, inflight;
	int free_slot;
	struct job *jobs;
	unsigned njobs;
	int free_job;
	unsigned *heap; /* slot indexes ordered by deadline_ms */
	unsigned heaplen;
	struct session_box *free_boxes;

	/* fd -> slot index, -1 when the fd is spare or not ours */
	int *fd2slot;
	size_t fd2slot_len;
	/* refused sockets ready to connect again, by family (0: IPv4, 1: IPv6) */
	int *spare[2];
	unsigned nspare[2];

	/* token bucket */
	double tokens, rate, burst;
	uint64_t last_refill_ns;

	/* STARTTLS: made on the first handshake of this thread */
	SSL_CTX *ssl_ctx;
	X509_STORE *store; /* trust anchors for the certificate facts */

	int error; /* an engine failure (not a target's) */
	char err[MH_ERRLEN];
};

/* ---- the deadline heap -------------------------------------------------- */

static void heap_swap(struct worker *w, unsigned a, unsigned b)
{
	unsigned sa = w->heap[a], sb = w->heap[b];

	w->heap[a] = sb;
	w->heap[b] = sa;
	w->slots[sb].heap_pos = a;
	w->slots[sa].heap_pos = b;
}

static void heap_up(struct worker *w, unsigned i)
{
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (w->slots[w->heap[p]].deadline_ms <= w->slots[w->heap[i]].deadline_ms)
			break;
		heap_swap(w, i, p);
		i = p;
	}
}

static void heap_down(struct worker *w, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i + 1, r = l + 1, m = i;
		if (l < w->heaplen &&
		    w->slots[w->heap[l]].deadline_ms < w->slots[w->heap[m]].deadline_ms)
			m = l;
		if (r < w->heaplen &&
		    w->slots[w->heap[r]].deadline_ms < w->slots[w->heap[m]].deadline_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(w, i, m);
		i = m;
	}
}

static void heap_push(struct worker *w, unsigned si)
{
	w->heap[w->heaplen] = si;
	w->slots[si].heap_pos = w->heaplen;
	w->heaplen++;
	heap_up(w, w->heaplen - 1);
}

static void heap_remove(struct worker *w, unsigned si)
{
	unsigned i = w->slots[si].heap_pos;

	w->heaplen--;
	if (i != w->heaplen) {
		heap_swap(w, i, w->heaplen);
		heap_down(w, i);
		heap_up(w, i);
	}
}

/* Changes a slot's deadline and restores the heap order. */
static void heap_update(struct worker *w, unsigned si, uint64_t deadline)
{
	uint64_t old = w->slots[si].deadline_ms;

	w->slots[si].deadline_ms = deadline;
	if (deadline < old)
		heap_up(w, w->slots[si].heap_pos);
	else
		heap_down(w, w->slots[si].heap_pos);
}

/* ---- the writer queue --------------------------------------------------- */

/* Takes *h (NULLs it). Blocks while the queue is full. */
static void queue_push(struct queue *q, struct mh_host **h)
{
	pthread_mutex_lock(&q->mu);
	while (q->count == QUEUE_CAP)
		pthread_cond_wait(&q->not_full, &q->mu);
	q->ring[(q->head + q->count) % QUEUE_CAP] = *h;
	q->count++;
	*h = NULL;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

static void queue_producer_done(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->producers--;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

/* ---- jobs and slots ----------------------------------------------------- */

static struct session_box *box_get(struct worker *w)
{
	struct session_box *b = w->free_boxes;

	if (b) {
		w->free_boxes = b->next_free;
		return b;
	}
	return malloc(sizeof(*b));
}

static void box_put(struct worker *w, struct session_box *b)
{
	b->next_free = w->free_boxes;
	w->free_boxes = b;
}

/* Records that fd belongs to slot si (-1: to no slot). False when out of memory. */
static bool fd_map(struct worker *w, int fd, int si)
{
	if ((size_t)fd >= w->fd2slot_len) {
		size_t n = w->fd2slot_len ? w->fd2slot_len : 1024;
		while (n <= (size_t)fd)
			n *= 2;
		int *m = realloc(w->fd2slot, n * sizeof(*m));
		if (!m)
			return false;
		for (size_t i = w->fd2slot_len; i < n; i++)
			m[i] = -1;
		w->fd2slot = m;
		w->fd2slot_len = n;
	}
	w->fd2slot[fd] = si;
	return true;
}

static int family_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

/* Closes a slot's fd, or keeps it as a spare when it may connect again. */
static void fd_retire(struct worker *w, struct slot *s, bool reusable)
{
	int fi = family_index(w->jobs[s->job].addr.family);

	if (s->fd < 0)
		return;
	fd_map(w, s->fd, -1);
	if (reusable && w->nspare[fi] < w->nslots)
		w->spare[fi][w->nspare[fi]++] = s->fd;
	else
		close(s->fd);
	s->fd = -1;
}

/* Builds the host record of a finished job and hands it to the writer. */
static void job_finish(struct worker *w, unsigned ji)
{
	const struct mh_scan_opts *o = w->o;
	struct job *j = &w->jobs[ji];
	bool any_open = false;

	for (unsigned p = 0; p < o->nports; p++)
		if (j->resolved[p] && j->state[p] == MH_PORT_OPEN)
			any_open = true;
	atomic_fetch_add_explicit(&w->ctr->hosts_done, 1, memory_order_relaxed);

	if (any_open || o->all_hosts) {
		if (!j->host)
			j->host = mh_host_new(&j->addr);
		if (j->host) {
			struct mh_host *h = j->host;
			unsigned n = 0;
			h->names = mh_targets_names(o->targets, &j->addr);
			for (unsigned p = 0; p < o->nports; p++) {
				struct mh_port *hp = &h->ports[p];
				if (!j->resolved[p])
					continue; /* abandoned at a stop: unknown, not reported */
				/* keep the smtp pointer the slot set at index p; compact below */
				hp->port = o->ports[p];
				hp->state = j->state[p];
				hp->rtt_ms = j->rtt_ms[p];
				n++;
			}
			/* Compact resolved ports to the front, keeping their order. */
			unsigned k = 0;
			for (unsigned p = 0; p < o->nports; p++) {
				if (!j->resolved[p]) {
					free(h->ports[p].smtp);
					h->ports[p].smtp = NULL;
					continue;
				}
				if (k != p) {
					h->ports[k] = h->ports[p];
					memset(&h->ports[p], 0, sizeof(h->ports[p]));
				}
				k++;
			}
			h->nports = n;
			queue_push(w->q, &j->host);
		} else {
			mh_log_error("out of memory for the record of a host");
		}
	}
	mh_host_free(&j->host);
	j->next_free = w->free_job;
	w->free_job = (int)ji;
}

/* Records a port's final state; finishes the job when it was the last. */
static void port_resolve(struct worker *w, struct slot *s, enum mh_port_state st, double rtt)
{
	struct job *j = &w->jobs[s->job];
	unsigned p = s->portidx;
	atomic_uint_fast64_t *c = st == MH_PORT_OPEN	 ? &w->ctr->open
				  : st == MH_PORT_CLOSED ? &w->ctr->closed
							 : &w->ctr->filtered;

	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
	j->state[p] = st;
	j->rtt_ms[p] = rtt;
	j->resolved[p] = true;
}

/* Makes sure the job has a host to attach an SMTP result to. */
static struct mh_host *job_host(struct worker *w, struct job *j)
{
	(void)w;
	if (!j->host)
		j->host = mh_host_new(&j->addr);
	return j->host;
}

/* Closes a slot's socket and frees the slot; finishes its job if complete. */
static void slot_release(struct worker *w, unsigned si, bool abort_conn)
{
	struct slot *s = &w->slots[si];
	struct job *j = &w->jobs[s->job];

	if (s->ssl) {
		SSL_free(s->ssl); /* no close_notify: the socket goes now */
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		if (abort_conn) {
			/* RST instead of FIN: no TIME_WAIT for connections we give up on. */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
		fd_retire(w, s, false);
	}
	if (s->box) {
		box_put(w, s->box);
		s->box = NULL;
	}
	if (s->res) {
		struct mh_host *h = job_host(w, j);
		if (h) {
			struct mh_port *hp = &h->ports[s->portidx];
			hp->smtp = s->res;
			mh_fingerprint(s->res, &hp->mta);
			if (s->res->error)
				atomic_fetch_add_explicit(&w->ctr->smtp_errors, 1,
							  memory_order_relaxed);
		} else {
			free(s->res);
		}
		s->res = NULL;
	}
	heap_remove(w, si);
	s->state = SLOT_FREE;
	s->next_free = w->free_slot;
	w->free_slot = (int)si;
	w->inflight--;
	if (--j->pending == 0)
		job_finish(w, s->job);
}

static int slot_connect(struct worker *w, unsigned si);

/* A connect attempt timed out or could not start: retry or call it filtered. */
static void slot_connect_failed(struct worker *w, unsigned si, bool retryable)
{
	struct slot *s = &w->slots[si];

	if (retryable && s->attempts <= w->o->retries) {
		fd_retire(w, s, false);
		slot_connect(w, si); /* resolves and releases the slot itself on failure */
		return;
	}
	port_resolve(w, s, MH_PORT_FILTERED, -1);
	slot_release(w, si, true);
}

/*
 * Starts (or restarts) the connection of a slot. Returns 0 when the slot is
 * in flight (or already resolved and released), -1 when it was released.
 */
static int slot_connect(struct worker *w, unsigned si)
{
	struct slot *s = &w->slots[si];
	struct job *j = &w->jobs[s->job];
	struct sockaddr_storage ss;
	socklen_t len = mh_addr_to_sockaddr(&j->addr, w->o->ports[s->portidx], &ss);
	int fi = family_index(ss.ss_family);
	bool spare = w->nspare[fi] > 0;
	int fd, rc;

	s->attempts++;
	atomic_fetch_add_explicit(&w->ctr->probes, 1, memory_order_relaxed);
	s->started_ns = mh_now_ns();
	heap_update(w, si, s->started_ns / 1000000u + w->o->timeout_ms);
	if (spare) {
		fd = w->spare[fi][--w->nspare[fi]];
	} else {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			mh_log_warn("socket: %s", strerror(errno));
			port_resolve(w, s, MH_PORT_FILTERED, -1);
			slot_release(w, si, false);
			return -1;
		}
	}
	s->fd = fd;
	if (!fd_map(w, fd, (int)si)) {
		mh_log_error("out of memory for the fd table");
		port_resolve(w, s, MH_PORT_FILTERED, -1);
		slot_release(w, si, true);
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&ss, len);
	/*
	 * A refused socket's first connect() only disconnects what is left of
	 * the old attempt (ECONNABORTED); the second one starts the new one.
	 */
	if (spare && rc < 0 && errno == ECONNABORTED)
		rc = connect(fd, (struct sockaddr *)&ss, len);
	if (rc == 0 || errno == EINPROGRESS) {
		/* edge-triggered while connecting: a spare socket stays registered */
		struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.u64 = (uint64_t)fd };
		if (!spare && epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			mh_log_warn("epoll_ctl: %s", strerror(errno));
			port_resolve(w, s, MH_PORT_FILTERED, -1);
			slot_release(w, si, true);
			return -1;
		}
		return 0;
	}
	if (errno == ECONNREFUSED) {
		port_resolve(w, s, MH_PORT_CLOSED, (double)(mh_now_ns() - s->started_ns) / 1e6);
		/* only a registered socket can be a spare */
		fd_retire(w, s, spare);
		slot_release(w, si, false);
		return -1;
	}
	/* unreachable, no route, no local port: nothing answered */
	port_resolve(w, s, MH_PORT_FILTERED, -1);
	slot_release(w, si, false);
	return -1;
}

/*
 * The socket or, after STARTTLS, the TLS layer. Both answer like recv() and
 * send(): -1 with errno EAGAIN when the layer waits for the socket, 0 at the
 * end of the stream; a TLS protocol failure reads as ECONNRESET.
 */
static ssize_t ssl_result(SSL *ssl, int n)
{
	int e = SSL_get_error(ssl, n);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (e != SSL_ERROR_SYSCALL || errno == 0 || errno == EAGAIN)
		errno = ECONNRESET;
	return -1;
}

static ssize_t slot_recv(struct slot *s, char *buf, size_t len)
{
	int n;

	if (!s->ssl)
		return recv(s->fd, buf, len, 0);
	ERR_clear_error();
	errno = 0;
	n = SSL_read(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return n > 0 ? n : ssl_result(s->ssl, n);
}

static ssize_t slot_send(struct slot *s, const char *buf, size_t len)
{
	int n;

	if (!s->ssl)
		return send(s->fd, buf, len, MSG_NOSIGNAL);
	ERR_clear_error();
	errno = 0;
	n = SSL_write(s->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	return n > 0 ? n : ssl_result(s->ssl, n);
}

/* Sends what the session has pending; arms EPOLLOUT when the socket is full. */
static int slot_flush(struct worker *w, unsigned si)
{
	struct slot *s = &w->slots[si];
	size_t len;
	const char *p;

	while ((p = mh_smtp_session_pending(&s->box->s, &len)) && len > 0) {
		ssize_t n = slot_send(s, p, len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT,
							  .data.u64 = (uint64_t)s->fd };
				epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev);
				return 0;
			}
			if (errno == EINTR)
				continue;
			mh_smtp_session_eof(&s->box->s, errno == ECONNRESET || errno == EPIPE);
			return 1;
		}
		mh_smtp_session_sent(&s->box->s, (size_t)n);
	}
	return 0;
}

/*
 * Arms the deadline of the session's current state (bounded by the
 * session's): --timeout for each reply, at least MH_PROBE_REPLY_MS for the
 * answers to the intrusive checks, which servers delay on purpose.
 */
static void slot_arm_state_deadline(struct worker *w, unsigned si)
{
	struct slot *s = &w->slots[si];
	uint64_t t = w->o->timeout_ms;
	uint64_t d;

	if (s->box && mh_smtp_session_probing(&s->box->s) && t < MH_PROBE_REPLY_MS)
		t = MH_PROBE_REPLY_MS;
	d = mh_now_ms() + t;

	if (d > s->session_deadline)
		d = s->session_deadline;
	heap_update(w, si, d);
}

static void slot_tls_start(struct worker *w, unsigned si);

/* splitmix64: the bogus VRFY name and the relay message's tag per target. */
static uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * The intrusive checks of a session: the bogus name and the tag are
 * derived from the scan's seed, the address and the port, so a run with
 * the same --seed asks the same questions and its messages can be told
 * apart by target.
 */
static void slot_set_probes(struct worker *w, struct slot *s, uint16_t port)
{
	const struct mh_scan_opts *o = w->o;
	const struct job *j = &w->jobs[s->job];
	struct mh_smtp_probes p = { .vrfy = o->vrfy, .relay_domain = o->relay_domain,
				    .own_domain = o->own_domain, .relay_data = o->relay_data };
	char ip[MH_ADDR_STRLEN], tag[MH_SMTP_TAG_MAX];
	uint64_t h = o->seed ^ ((uint64_t)port << 48);

	for (unsigned i = 0; i < sizeof(j->addr.bytes); i++)
		h = mix64(h ^ j->addr.bytes[i]);
	p.vrfy_seed = h;
	snprintf(tag, sizeof(tag), "mhrelay%016llx", (unsigned long long)mix64(h));
	p.tag = tag;
	/* the address literal of the relay pairs: no IPv6 zone */
	mh_addr_format(&j->addr, ip, sizeof(ip));
	ip[strcspn(ip, "%")] = '\0';
	mh_smtp_session_set_probes(&s->box->s, &p, ip);
}

/* The connection is up: open port; start the SMTP session if wanted. */
static void slot_connected(struct worker *w, unsigned si)
{
	struct slot *s = &w->slots[si];
	const struct mh_scan_opts *o = w->o;
	uint16_t port = o->ports[s->portidx];
	double rtt = (double)(mh_now_ns() - s->started_ns) / 1e6;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)s->fd };

	port_resolve(w, s, MH_PORT_OPEN, rtt);
	if (!o->smtp) {
		slot_release(w, si, true);
		return;
	}
	s->res = malloc(sizeof(*s->res));
	s->box = s->res ? box_get(w) : NULL;
	if (!s->box) {
		mh_log_error("out of memory for an SMTP session");
		slot_release(w, si, true);
		return;
	}
	mh_smtp_session_init(&s->box->s, s->res, o->ehlo_name);
	mh_smtp_session_set_starttls(&s->box->s, o->starttls);
	if (o->vrfy || o->relay_domain)
		slot_set_probes(w, s, port);
	s->state = SLOT_SMTP;
	s->session_deadline = mh_now_ms() + mh_scan_session_ms(o);
	epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev);
	slot_arm_state_deadline(w, si);
	/* 465 speaks TLS first: the handshake, then the usual session over it. */
	if (port == 465) {
		mh_smtp_session_implicit_tls(&s->box->s);
		slot_tls_start(w, si);
	}
}

/* Waits for the socket the way the TLS layer asks. */
static void slot_want(struct worker *w, struct slot *s, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0),
				  .data.u64 = (uint64_t)s->fd };
	epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev);
}

/* The certificate facts of an established session. */
static void slot_tls_facts(struct worker *w, struct slot *s)
{
	const struct job *j = &w->jobs[s->job];
	const char *const *names = mh_targets_names(w->o->targets, &j->addr);
	struct mh_tls_facts *f = &s->res->tls;
	char addr[MH_ADDR_STRLEN], err[MH_ERRLEN];
	const char *name = names && names[0] ? names[0] : NULL;
	X509 *peer;

	if (!name) {
		mh_addr_format(&j->addr, addr, sizeof(addr));
		name = addr;
	}
	memset(f, 0, sizeof(*f));
	mh_tls_facts_from_ssl(s->ssl, f);
	peer = SSL_get1_peer_certificate(s->ssl);
	if (peer) {
		if (mh_tls_facts_from_cert(peer, SSL_get_peer_cert_chain(s->ssl), w->store, name,
					   time(NULL), f, err, sizeof(err)) < 0)
			mh_log_debug("tls facts: %s", err);
		X509_free(peer);
	}
}

/* Drives SSL_connect one step further (the slot may be released). */
static void slot_tls_step(struct worker *w, unsigned si)
{
	struct slot *s = &w->slots[si];
	struct mh_smtp_session *ss = &s->box->s;
	unsigned long e;
	const char *reason;
	int rc, se;

	ERR_clear_error();
	errno = 0;
	rc = SSL_connect(s->ssl);
	if (rc == 1) {
		slot_tls_facts(w, s);
		mh_smtp_session_tls_done(ss, true, NULL);
		slot_want(w, s, false);
		if (slot_flush(w, si)) {
			slot_release(w, si, false);
			return;
		}
		slot_arm_state_deadline(w, si);
		return;
	}
	se = SSL_get_error(s->ssl, rc);
	if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
		slot_want(w, s, se == SSL_ERROR_WANT_WRITE);
		return;
	}
	e = ERR_peek_last_error();
	reason = e ? ERR_reason_error_string(e) : NULL;
	if (!reason)
		reason = se == SSL_ERROR_SYSCALL && errno ? strerror(errno)
			 : se == SSL_ERROR_SYSCALL	 ? "unexpected eof"
							 : "handshake failed";
	mh_smtp_session_tls_done(ss, false, reason);
	slot_release(w, si, true);
}

/* The thread's client context: no verification (facts only), TLS 1.0 up. */
static bool worker_tls_init(struct worker *w)
{
	if (w->ssl_ctx)
		return true;
	w->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!w->ssl_ctx)
		return false;
	SSL_CTX_set_verify(w->ssl_ctx, SSL_VERIFY_NONE, NULL);
	/* Weak servers must still complete a handshake, to be recorded as weak. */
	SSL_CTX_set_security_level(w->ssl_ctx, 0);
	SSL_CTX_set_min_proto_version(w->ssl_ctx, TLS1_VERSION);
	SSL_CTX_set_options(w->ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(w->ssl_ctx,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	w->store = X509_STORE_new();
	if (w->store && X509_STORE_set_default_paths(w->store) != 1)
		mh_log_warn("no default trust store: certificates are not verified");
	return true;
}

/* 220 to STARTTLS: the handshake starts (the slot may be released). */
static void slot_tls_start(struct worker *w, unsigned si)
{
	struct slot *s = &w->slots[si];
	const struct job *j = &w->jobs[s->job];
	const char *const *names = mh_targets_names(w->o->targets, &j->addr);

	if (!worker_tls_init(w) || !(s->ssl = SSL_new(w->ssl_ctx)) ||
	    SSL_set_fd(s->ssl, s->fd) != 1 ||
	    (names && names[0] && SSL_set_tlsext_host_name(s->ssl, names[0]) != 1)) {
		mh_smtp_session_tls_done(&s->box->s, false, "out of memory");
		slot_release(w, si, true);
		return;
	}
	SSL_set_connect_state(s->ssl);
	slot_arm_state_deadline(w, si);
	slot_tls_step(w, si);
}

/* Readable (or error) on an SMTP slot. */
static void slot_smtp_event(struct worker *w, unsigned si, uint32_t events)
{
	struct slot *s = &w->slots[si];
	struct mh_smtp_session *ss = &s->box->s;
	enum mh_smtp_state before = ss->state;
	unsigned replies = ss->nreplies;
	char buf[4096];
	int done = 0;

	if (s->ssl && ss->state == MH_SMTP_TLS_HANDSHAKE) {
		slot_tls_step(w, si);
		return;
	}

	if (events & EPOLLOUT) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)s->fd };
		epoll_ctl(w->ep, EPOLL_CTL_MOD, s->fd, &ev);
		done = slot_flush(w, si);
	}
	/* Bounded reads per event, so one chatty server cannot starve the rest. */
	for (int round = 0; !done && round < 16 && ss->state != MH_SMTP_TLS_HANDSHAKE &&
			    (events & (EPOLLIN | EPOLLERR | EPOLLHUP));
	     round++) {
		ssize_t n = slot_recv(s, buf, sizeof(buf));
		if (n > 0) {
			done = mh_smtp_session_input(ss, buf, (size_t)n);
			if (!done)
				done = slot_flush(w, si);
			if ((size_t)n < sizeof(buf) && !(s->ssl && SSL_pending(s->ssl) > 0))
				break;
			continue;
		}
		if (n == 0) {
			mh_smtp_session_eof(ss, false);
			done = 1;
			break;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		if (errno == EINTR)
			continue;
		mh_smtp_session_eof(ss, errno == ECONNRESET);
		done = 1;
	}
	if (done || ss->state == MH_SMTP_DONE) {
		slot_release(w, si, false);
		return;
	}
	if (ss->state == MH_SMTP_TLS_HANDSHAKE && !s->ssl) {
		slot_tls_start(w, si);
		return;
	}
	/* a new state, or a new reply in the same state (VRFY, VRFY, EXPN...) */
	if (ss->state != before || ss->nreplies != replies)
		slot_arm_state_deadline(w, si);
}

static void slot_connect_event(struct worker *w, unsigned si, uint32_t events)
{
	struct slot *s = &w->slots[si];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (!(events & (EPOLLERR | EPOLLHUP))) {
		slot_connected(w, si);
		return;
	}
	getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr == 0 && !(events & EPOLLHUP)) {
		slot_connected(w, si);
		return;
	}
	if (soerr == ECONNREFUSED) {
		port_resolve(w, s, MH_PORT_CLOSED, (double)(mh_now_ns() - s->started_ns) / 1e6);
		fd_retire(w, s, true); /* SO_ERROR read and cleared: it may connect again */
		slot_release(w, si, false);
		return;
	}
	/*
	 * Linux reports ECONNRESET / EPIPE (or a hang-up with no error) only
	 * after the handshake completed: the server accepted and then reset
	 * before we saw the connection up. The port is open; the session
	 * records the reset.
	 */
	if (soerr == ECONNRESET || soerr == EPIPE || soerr == 0) {
		slot_connected(w, si);
		/* read what arrived before the reset; recv then reports the reset */
		if (w->slots[si].state == SLOT_SMTP)
			slot_smtp_event(w, si, EPOLLIN | EPOLLERR);
		return;
	}
	/* EHOSTUNREACH, ENETUNREACH, ETIMEDOUT...: no answer from the host */
	slot_connect_failed(w, si, soerr == ETIMEDOUT);
}

static void slot_expired(struct worker *w, unsigned si, uint64_t now)
{
	struct slot *s = &w->slots[si];

	if (s->state == SLOT_CONNECTING) {
		slot_connect_failed(w, si, true);
		return;
	}
	mh_smtp_session_timeout(&s->box->s, now >= s->session_deadline);
	slot_release(w, si, true);
}

/* ---- launching ---------------------------------------------------------- */

/* Refills the token bucket; returns how many connections may start now. */
static uint64_t tokens_available(struct worker *w, uint64_t now_ns)
{
	if (w->rate <= 0)
		return UINT64_MAX;
	w->tokens += (double)(now_ns - w->last_refill_ns) * w->rate / 1e9;
	if (w->tokens > w->burst)
		w->tokens = w->burst;
	w->last_refill_ns = now_ns;
	return w->tokens >= 1 ? (uint64_t)w->tokens : 0;
}

/* Starts new hosts while slots, jobs and tokens allow. */
static void launch(struct worker *w)
{
	const struct mh_scan_opts *o = w->o;
	uint64_t avail;

	if (w->exhausted)
		return;
	avail = tokens_available(w, mh_now_ns());
	while (!w->exhausted && w->inflight + o->nports <= w->nslots && w->free_job >= 0 &&
	       avail >= o->nports) {
		uint64_t idx;
		if (!mh_perm_next(&w->it, &idx)) {
			w->exhausted = true;
			break;
		}
		unsigned ji = (unsigned)w->free_job;
		struct job *j = &w->jobs[ji];
		w->free_job = j->next_free;
		mh_targets_get(o->targets, idx, &j->addr);
		j->pending = o->nports;
		j->host = NULL;
		memset(j->resolved, 0, sizeof(j->resolved));
		for (unsigned p = 0; p < o->nports; p++) {
			unsigned si = (unsigned)w->free_slot;
			struct slot *s = &w->slots[si];
			w->free_slot = s->next_free;
			s->state = SLOT_CONNECTING;
			s->fd = -1;
			s->job = ji;
			s->portidx = p;
			s->attempts = 0;
			s->box = NULL;
			s->res = NULL;
			s->ssl = NULL;
			s->deadline_ms = UINT64_MAX;
			w->inflight++;
			heap_push(w, si);
			slot_connect(w, si);
		}
		if (w->rate > 0) {
			w->tokens -= o->nports;
			avail -= o->nports;
		}
	}
}

/* Gives up every connection in flight (after a stop request's grace period). */
static void abandon_all(struct worker *w)
{
	for (unsigned si = 0; si < w->nslots; si++) {
		struct slot *s = &w->slots[si];
		if (s->state == SLOT_FREE)
			continue;
		if (s->state == SLOT_SMTP)
			mh_smtp_session_timeout(&s->box->s, true);
		slot_release(w, si, true);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	uint64_t stop_deadline = 0;

	for (;;) {
		uint64_t now = mh_now_ms();
		int timeout = MAX_WAIT_MS;

		if (atomic_load_explicit(w->stop, memory_order_relaxed)) {
			if (!stop_deadline) {
				stop_deadline = now + STOP_GRACE_MS;
				w->exhausted = true;
			} else if (now >= stop_deadline) {
				abandon_all(w);
			}
		}
		launch(w);
		if (w->inflight == 0 && w->exhausted)
			break;
		if (w->heaplen > 0) {
			uint64_t d = w->slots[w->heap[0]].deadline_ms;
			timeout = d <= now ? 0 : (int)(d - now < MAX_WAIT_MS ? d - now : MAX_WAIT_MS);
		}
		if (!w->exhausted && w->rate > 0 && w->inflight + w->o->nports <= w->nslots)
			timeout = timeout > 1 ? 1 : timeout; /* waiting for tokens */
		int n = epoll_wait(w->ep, evs, 256, timeout);
		if (n < 0 && errno != EINTR) {
			w->error = MH_EIO;
			snprintf(w->err, sizeof(w->err), "epoll_wait: %s", strerror(errno));
			abandon_all(w);
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t fd = evs[i].data.u64;
			if (fd >= w->fd2slot_len || w->fd2slot[fd] < 0)
				continue; /* a spare socket: nothing in flight */
			unsigned si = (unsigned)w->fd2slot[fd];
			struct slot *s = &w->slots[si];
			if (s->state == SLOT_CONNECTING)
				slot_connect_event(w, si, evs[i].events);
			else if (s->state == SLOT_SMTP)
				slot_smtp_event(w, si, evs[i].events);
		}
		now = mh_now_ms();
		while (w->heaplen > 0 && w->slots[w->heap[0]].deadline_ms <= now)
			slot_expired(w, w->heap[0], now);
	}
	queue_producer_done(w->q);
	return NULL;
}

/* ---- set-up -------------------------------------------------------------- */

void mh_scan_opts_defaults(struct mh_scan_opts *o)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	memset(o, 0, sizeof(*o));
	o->ports[0] = 25;
	o->nports = 1;
	o->threads = cores > 0 ? (unsigned)cores : 1;
	o->concurrency = 2048;
	o->rate = 20000;
	o->timeout_ms = 1000;
	o->session_ms = 10000;
	o->retries = 1;
	o->shard_k = 1;
	o->shard_n = 1;
	o->ehlo_name = "mailhole.invalid";
	o->smtp = true;
	o->starttls = true;
}

uint64_t mh_scan_session_ms(const struct mh_scan_opts *o)
{
	uint64_t ms = o->session_ms;

	if (o->vrfy)
		ms += MH_VRFY_EXTRA_MS;
	if (o->relay_domain) {
		ms += MH_RELAY_EXTRA_MS;
		if (o->relay_data)
			ms += MH_RELAY_DATA_EXTRA_MS;
	}
	return ms;
}

uint64_t mh_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

static int worker_init(struct worker *w, const struct mh_scan_opts *o, const struct mh_perm *perm,
		       unsigned id, unsigned nslots)
{
	uint64_t slice, nslices;

	w->o = o;
	w->id = id;
	w->nslots = nslots;
	w->njobs = nslots; /* a job holds at least one slot */
	w->slots = calloc(nslots, sizeof(*w->slots));
	w->jobs = calloc(w->njobs, sizeof(*w->jobs));
	w->heap = calloc(nslots, sizeof(*w->heap));
	w->spare[0] = calloc(nslots, sizeof(int));
	w->spare[1] = calloc(nslots, sizeof(int));
	if (!w->slots || !w->jobs || !w->heap || !w->spare[0] || !w->spare[1])
		return MH_ENOMEM;
	for (unsigned i = 0; i < nslots; i++) {
		w->slots[i].fd = -1;
		w->slots[i].next_free = i + 1 < nslots ? (int)i + 1 : -1;
	}
	for (unsigned i = 0; i < w->njobs; i++)
		w->jobs[i].next_free = i + 1 < w->njobs ? (int)i + 1 : -1;
	w->free_slot = 0;
	w->free_job = 0;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (w->ep < 0)
		return MH_EIO;
	mh_shard_slice(o->shard_k, o->shard_n, id, o->threads, &slice, &nslices);
	mh_perm_iter_init(&w->it, perm, slice, nslices);
	if (o->rate > 0) {
		w->rate = (double)o->rate / o->threads;
		/* 10 ms worth of burst, at least one host's ports */
		w->burst = w->rate / 100 > o->nports ? w->rate / 100 : o->nports;
		w->tokens = o->nports;
		w->last_refill_ns = mh_now_ns();
	}
	return 0;
}

static void worker_destroy(struct worker *w)
{
	struct session_box *b;

	if (w->ep > 0)
		close(w->ep);
	for (int f = 0; f < 2; f++) {
		for (unsigned i = 0; i < w->nspare[f]; i++)
			close(w->spare[f][i]);
		free(w->spare[f]);
	}
	free(w->fd2slot);
	while ((b = w->free_boxes)) {
		w->free_boxes = b->next_free;
		free(b);
	}
	free(w->slots);
	free(w->jobs);
	free(w->heap);
	SSL_CTX_free(w->ssl_ctx);
	X509_STORE_free(w->store);
}

static void sum_counters(const struct counters *ctr, unsigned n, struct mh_scan_stats *st)
{
	st->hosts_done = st->probes = st->open = st->closed = st->filtered = 0;
	st->smtp_errors = 0;
	for (unsigned i = 0; i < n; i++) {
		st->hosts_done += atomic_load_explicit(&ctr[i].hosts_done, memory_order_relaxed);
		st->probes += atomic_load_explicit(&ctr[i].probes, memory_order_relaxed);
		st->open += atomic_load_explicit(&ctr[i].open, memory_order_relaxed);
		st->closed += atomic_load_explicit(&ctr[i].closed, memory_order_relaxed);
		st->filtered += atomic_load_explicit(&ctr[i].filtered, memory_order_relaxed);
		st->smtp_errors += atomic_load_explicit(&ctr[i].smtp_errors, memory_order_relaxed);
	}
}

int mh_scan_run(const struct mh_scan_opts *o, mh_host_cb on_host, mh_progress_cb on_progress,
		void *ctx, const atomic_int *stop, struct mh_scan_stats *stats, char *err,
		size_t errlen)
{
	struct queue q = { .producers = 0 };
	struct mh_perm perm;
	struct worker *ws = NULL;
	struct counters *ctr = NULL;
	unsigned nthreads = o->threads ? o->threads : 1;
	uint64_t total = mh_targets_count(o->targets);
	uint64_t start_ms = mh_now_ms(), last_progress = 0;
	unsigned per, started = 0;
	int rc = 0;

	memset(stats, 0, sizeof(*stats));
	/* this shard's share of the targets */
	stats->targets = total / o->shard_n + (total % o->shard_n >= o->shard_k ? 1 : 0);
	if (o->nports == 0 || o->nports > MH_MAX_PORTS)
		return mh_err(err, errlen, MH_EINVAL, "between 1 and %d ports", MH_MAX_PORTS);
	rc = mh_perm_init(&perm, total, o->seed);
	if (rc < 0)
		return mh_err(err, errlen, rc, "cannot set up the target order");
	per = o->concurrency / nthreads;
	if (per < o->nports)
		per = o->nports;

	ws = calloc(nthreads, sizeof(*ws));
	ctr = calloc(nthreads, sizeof(*ctr));
	if (!ws || !ctr) {
		rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.not_empty, NULL);
	pthread_cond_init(&q.not_full, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		ws[i].ep = -1;
		ws[i].q = &q;
		ws[i].stop = stop;
		ws[i].ctr = &ctr[i];
		rc = worker_init(&ws[i], o, &perm, i, per);
		if (rc < 0) {
			mh_err(err, errlen, rc, "cannot set up worker %u: %s", i, strerror(errno));
			goto out;
		}
	}
	q.producers = nthreads;
	for (; started < nthreads; started++) {
		if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0) {
			rc = mh_err(err, errlen, MH_EIO, "cannot start worker threads");
			/* the ones that did start finish normally; account for the rest */
			pthread_mutex_lock(&q.mu);
			q.producers -= nthreads - started;
			pthread_mutex_unlock(&q.mu);
			break;
		}
	}

	/* This thread is the writer: drain the queue until every worker is done. */
	pthread_mutex_lock(&q.mu);
	for (;;) {
		while (q.count > 0) {
			struct mh_host *h = q.ring[q.head];
			q.head = (q.head + 1) % QUEUE_CAP;
			q.count--;
			pthread_cond_signal(&q.not_full);
			pthread_mutex_unlock(&q.mu);
			on_host(&h, ctx);
			mh_host_free(&h);
			pthread_mutex_lock(&q.mu);
		}
		if (q.producers == 0)
			break;
		uint64_t now = mh_now_ms();
		if (on_progress && now - last_progress >= 250) {
			pthread_mutex_unlock(&q.mu);
			sum_counters(ctr, nthreads, stats);
			on_progress(stats, now - start_ms, ctx);
			last_progress = now;
			pthread_mutex_lock(&q.mu);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&q.not_empty, &q.mu, &ts);
	}
	pthread_mutex_unlock(&q.mu);
	for (unsigned i = 0; i < started; i++) {
		pthread_join(ws[i].thread, NULL);
		if (ws[i].error && rc == 0)
			rc = mh_err(err, errlen, ws[i].error, "%s", ws[i].err);
	}
	sum_counters(ctr, nthreads, stats);
	stats->complete = rc == 0 && started == nthreads && !atomic_load(stop);
	if (on_progress)
		on_progress(stats, mh_now_ms() - start_ms, ctx);
out:
	if (ws)
		for (unsigned i = 0; i < nthreads; i++)
			worker_destroy(&ws[i]);
	free(ws);
	free(ctr);
	return rc;
}
