/*
 * engine.h -- the multithreaded connect sweep.
 *
 * N worker threads each own a disjoint slice of the target permutation,
 * their own epoll set and their own timer heap; each connection is a small
 * slot (socket, port, deadline) and an SMTP session is attached to it only
 * once the connection is up, so memory is O(concurrency), never O(targets).
 * A finished host is handed to one writer thread through a bounded queue;
 * the callback runs only in that thread, so writers need no locks.
 */
#ifndef MAILHOLE_ENGINE_H
#define MAILHOLE_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mailhole/host.h"
#include "mailhole/target.h"

struct mh_scan_opts {
	const struct mh_targets *targets; /* borrowed, finalized */
	uint16_t ports[MH_MAX_PORTS];
	unsigned nports;
	unsigned threads;       /* worker threads, >= 1 */
	unsigned concurrency;   /* connections in flight, all threads together */
	uint64_t rate;          /* new connections a second, all threads; 0 = unlimited */
	unsigned timeout_ms;    /* connect timeout, and the deadline of each SMTP reply */
	unsigned session_ms;    /* deadline of a whole SMTP session after connect */
	unsigned retries;       /* extra connect attempts after a timeout */
	uint64_t seed;
	uint64_t shard_k, shard_n; /* 1-based shard K of N */
	const char *ehlo_name;  /* borrowed */
	bool all_hosts;         /* report hosts with no open port too */
	bool smtp;              /* hold an SMTP session on open ports (else state only) */
	bool starttls;          /* STARTTLS where EHLO offers it (default true) */
	/* The intrusive checks (appended; all off by default). */
	bool vrfy;                /* VRFY / EXPN root and a name that cannot exist */
	const char *relay_domain; /* borrowed: the open-relay test toward this domain (the
				     policy's relay_test_domain, two labels at least); NULL = none */
	const char *own_domain;   /* borrowed: the policy's domain (own-domain sender), or NULL */
	bool relay_data;          /* DATA and a tagged message through the first accepted
				     pair (needs relay_domain) */
};

/* Defaults: ports {25}, threads = cores, concurrency 2048, rate 0... */
void mh_scan_opts_defaults(struct mh_scan_opts *o);

/*
 * Time the intrusive checks may add to a session, on top of session_ms.
 * Servers slow down clients that make errors, and these checks are made of
 * errors (a refused VRFY, sixteen refused relay recipients): Postfix by
 * default answers every command 1 s late once a client has made 10 errors
 * (smtpd_soft_error_limit, smtpd_error_sleep_time), which makes the relay
 * test against a closed Postfix take some 30 s. Each reply to these
 * commands may take MH_PROBE_REPLY_MS (or --timeout when longer).
 */
#define MH_VRFY_EXTRA_MS 15000u       /* 4 questions */
#define MH_RELAY_EXTRA_MS 60000u      /* 16 x MAIL, RCPT, RSET */
#define MH_RELAY_DATA_EXTRA_MS 15000u /* DATA, the message, its answer */
#define MH_PROBE_REPLY_MS 3000u
/*
 * The whole-session deadline (from connect) for these options: session_ms
 * plus the extras of the checks that are on. Every session, however its
 * server behaves, ends by then.
 */
uint64_t mh_scan_session_ms(const struct mh_scan_opts *o);

struct mh_scan_stats {
	uint64_t targets;   /* addresses in this shard's share (estimate before the end) */
	uint64_t hosts_done;
	uint64_t probes;    /* connect attempts */
	uint64_t open, closed, filtered;
	uint64_t smtp_errors;
	bool complete;      /* false when stopped early */
};

/*
 * Called in the writer thread for every finished host (only hosts with an
 * open port, unless all_hosts). Takes ownership of *h (set *h = NULL to keep
 * it; otherwise the engine frees it after the call).
 */
typedef void (*mh_host_cb)(struct mh_host **h, void *ctx);
/* Called about every 250 ms in the writer thread with the running totals. */
typedef void (*mh_progress_cb)(const struct mh_scan_stats *st, uint64_t elapsed_ms, void *ctx);

/*
 * Runs the sweep to its end, or until *stop becomes non-zero (then it stops
 * new connections, gives those in flight up to a second, and returns with
 * stats->complete = false). Returns 0, or a negative code with err set for
 * failures of the engine itself (thread creation, epoll).
 */
int mh_scan_run(const struct mh_scan_opts *o, mh_host_cb on_host, mh_progress_cb on_progress,
		void *ctx, const atomic_int *stop, struct mh_scan_stats *stats, char *err,
		size_t errlen);

/* Raises RLIMIT_NOFILE as far as allowed; returns the soft limit now in force. */
uint64_t mh_raise_nofile(void);

#endif
