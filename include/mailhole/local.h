/*
 * local.h -- `mailhole local`: this host seen from inside.
 *
 * Two views of the same question, "where does an MTA listen?", kept side by
 * side so that each checks the other:
 *
 *  - the table: every address of every interface that is up (IPv4, IPv6,
 *    link-local with its scope) plus 127.0.0.1 and ::1, times the SMTP ports
 *    25, 465 and 587, each cell filled by a non-blocking connect() from this
 *    host to itself (probes/local.c). No SMTP is spoken; nothing leaves the
 *    host (every destination is one of its own addresses);
 *  - the listeners: the LISTEN sockets of /proc/net/tcp and /proc/net/tcp6,
 *    each with its owning process found through the socket inodes under
 *    /proc/PID/fd, as `ss -ltnp` shows them (probes/listeners.c).
 *
 * From the table: the exposure (none, loopback-only, exposed) and the
 * partial exposure (a port that listens on some non-loopback addresses of a
 * family and not on others). Nothing here needs root: what could not be seen
 * without it is said in `unseen`, never an error.
 *
 * Every function that reads /proc takes a proc_root ("/proc" on a live
 * system) so that tests can point it at a fixture tree.
 */
#ifndef MAILHOLE_LOCAL_H
#define MAILHOLE_LOCAL_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailhole/host.h"
#include "mailhole/mta.h"
#include "mailhole/target.h"

/* The ports of the table and of the listeners kept: 25, 465, 587. */
#define MH_LOCAL_NPORTS 3
extern const uint16_t mh_local_ports[MH_LOCAL_NPORTS];
/* Index of port in mh_local_ports, or -1. */
int mh_local_port_index(uint16_t port);

/* One cell of the table. */
enum mh_cell {
	MH_CELL_CLOSED,    /* refused, or the address cannot be reached at all */
	MH_CELL_LISTENING, /* the connection was accepted */
	MH_CELL_FILTERED,  /* no answer within the timeout */
};
const char *mh_cell_name(enum mh_cell c);

/* One row of the table: an address of an interface. */
struct mh_local_addr {
	char ifname[IF_NAMESIZE];              /* "eth0"; "lo" for the added loopbacks */
	struct mh_addr addr;                   /* scope_id set for IPv6 link-local */
	bool loopback;                         /* mh_addr_is_loopback(&addr) */
	enum mh_cell cell[MH_LOCAL_NPORTS];    /* by mh_local_ports index */
	bool bound[MH_LOCAL_NPORTS];           /* a LISTEN socket covers addr:port */
};

/* One LISTEN socket. */
#define MH_PROC_NAME_MAX 64
#define MH_EXE_MAX 256
#define MH_HOLDERS_MAX 8
struct mh_listener {
	struct mh_addr addr;         /* as bound: 0.0.0.0, ::, ::ffff:a.b.c.d, 198.18.0.13 */
	uint16_t port;
	uint32_t uid;                /* the socket's owner (readable by anyone) */
	uint64_t inode;              /* the socket's inode; 0 = none (never owned) */
	int pid;                     /* the owning process, -1 when it could not be seen */
	char process[MH_PROC_NAME_MAX]; /* /proc/PID/comm, or "unknown" */
	char exe[MH_EXE_MAX];        /* /proc/PID/exe, or "unknown" */
	unsigned nholders;           /* processes holding the socket (Postfix: master, smtpd) */
	int holders[MH_HOLDERS_MAX]; /* their pids, the first nholders */
};

/* A growable array of listeners; zero-initialize, free with mh_listeners_free. */
struct mh_listeners {
	struct mh_listener *v;
	size_t n, cap;
};
void mh_listeners_free(struct mh_listeners *l);

/* Most LISTEN sockets one parse accepts (MH_ELIMIT beyond). */
#define MH_LISTENERS_MAX 1000000

/*
 * Parses the text of /proc/net/tcp (family AF_INET) or /proc/net/tcp6
 * (AF_INET6; AF_UNSPEC: guessed per line from the address length) and
 * appends every socket in state 0A (LISTEN) to out, owners unknown.
 *
 * Addresses: the kernel prints each 32-bit word of the address (network
 * byte order in memory) with %08X of the word read as a native integer, so
 * the text depends on the byte order of the machine that wrote it.
 * byte_order is __ORDER_LITTLE_ENDIAN__ or __ORDER_BIG_ENDIAN__, or 0 for
 * this machine's. Ports are printed in host order (%04X of ntohs).
 *
 * The header line, blank lines and a trailing CR are ignored. A malformed
 * line is skipped and counted in *nbad (may be NULL); err then describes the
 * first one ("line 3: ..."). Returns the number of listeners appended, or
 * MH_ENOMEM / MH_ELIMIT (err set). Borrows buf.
 */
int mh_proc_net_tcp_parse(const char *buf, size_t len, int family, int byte_order,
			  struct mh_listeners *out, size_t *nbad, char *err, size_t errlen);

/*
 * Reads PROC_ROOT/net/tcp and PROC_ROOT/net/tcp6 (absent when IPv6 is
 * off: not an error) into out. 0 or a negative code (err set).
 */
int mh_listeners_read(const char *proc_root, struct mh_listeners *out, char *err,
		      size_t errlen);

/* What the owner scan could not see. */
struct mh_owner_stats {
	unsigned procs;      /* processes looked at */
	unsigned denied_fd;  /* PROC_ROOT/PID/fd not readable (EACCES, EPERM) */
	unsigned denied_exe; /* PROC_ROOT/PID/exe not readable for an owner */
	unsigned unowned;    /* listeners left with no owner */
};

/*
 * Finds the processes that hold the sockets of v[0..n) by walking
 * PROC_ROOT/PID/fd/N (every PID) for links "socket:[INODE]", and fills pid, process
 * and exe. When several processes hold one socket (a daemon and the children
 * it passed it to), the owner is the one whose parent holds none of them
 * (PROC_ROOT/PID/stat), the lowest pid on a tie. What cannot be read stays
 * "unknown" and is counted in st; never an error for one process. Returns 0,
 * or MH_EIO when PROC_ROOT itself cannot be listed (err set).
 */
int mh_listeners_owners(const char *proc_root, struct mh_listener *v, size_t n,
			struct mh_owner_stats *st, char *err, size_t errlen);

/*
 * Whether listener li accepts connections to a:port: same port, and its
 * address is a's, or the wildcard of a's family, or the v4-mapped form of
 * a's IPv4 address, or :: for an IPv4 a (dual stack, Linux's default
 * net.ipv6.bindv6only = 0; /proc does not say whether one socket set
 * IPV6_V6ONLY).
 */
bool mh_listener_covers(const struct mh_listener *li, const struct mh_addr *a, uint16_t port);

/*
 * The interface of the default IPv4 route in the text of /proc/net/route
 * (the up route 0.0.0.0/0 with the lowest metric) into ifname. 0, or
 * MH_EINVAL when there is none.
 */
int mh_proc_net_route_default(const char *buf, size_t len, char *ifname, size_t size);

/*
 * Reads a whole file (made for /proc, whose files have no size) into a
 * malloc'd, NUL-terminated buffer (*out, the caller's), at most 256 MiB.
 * 0, MH_EIO (*eno = errno), MH_ENOMEM or MH_ELIMIT.
 */
int mh_local_read_file(const char *path, char **out, size_t *len, int *eno);

/*
 * ---- The outgoing path when no daemon listens (probes/local_queue.c) ----
 *
 * Who runs the local queues (a queue-runner process, the MTA's own daemon,
 * a cron entry, a systemd timer), what waits in them and since when, and
 * where Sendmail's submission program (submit.cf) sends what it queues.
 */

/* The queues a runner covers (a bit mask). */
enum {
	MH_QR_MQUEUE = 1 << 0,   /* Sendmail's MTA queue (/var/spool/mqueue) */
	MH_QR_CLIENT = 1 << 1,   /* Sendmail's MSP queue (clientmqueue, mqueue-client) */
	MH_QR_POSTFIX = 1 << 2,  /* Postfix's queues */
	MH_QR_EXIM = 1 << 3,     /* Exim's spool */
	MH_QR_OPENSMTPD = 1 << 4 /* OpenSMTPD's queue */
};

/* One thing that runs a queue. */
struct mh_queue_runner {
	char kind[16];     /* "process", "daemon", "cron", "timer", "service" */
	unsigned covers;   /* MH_QR_* */
	bool active;       /* counts (a timer or a service that is not enabled does not) */
	char what[200];    /* the process title, the cron command, the ExecStart= line */
	char where[160];   /* "pid 123", "/etc/cron.d/sendmail:4", "mailq.timer" */
};

/* One local queue. */
struct mh_local_queue {
	char name[24];          /* "sendmail-mqueue", "sendmail-clientmqueue",
				   "postfix-deferred", "postfix-active", "postfix-incoming",
				   "postfix-maildrop", "exim-input" */
	unsigned covers;        /* the MH_QR_* bit of this queue */
	char path[PATH_MAX];    /* as on the host (without --root) */
	bool seen;              /* it could be read (else `unseen` says why) */
	char unseen[96];
	unsigned count;         /* messages: Sendmail qf*, Exim *-H, Postfix queue files */
	bool count_capped;      /* counting stopped at MH_QUEUE_COUNT_MAX */
	int64_t oldest;         /* mtime of the oldest message (Unix time); 0: none */
	int64_t oldest_age_s;   /* now - oldest */
	bool covered;           /* an active runner covers it */
	bool stuck;             /* local-queue-stuck: see mh_local_queues_judge */
	char why[200];          /* why it is stuck */
};

#define MH_QUEUES_MAX 8
#define MH_RUNNERS_MAX 12
#define MH_QUEUE_COUNT_MAX 100000
/* Age from which a queued message counts as stuck even with a runner. */
#define MH_QUEUE_STUCK_AGE_S 3600

struct mh_local_queues {
	struct mh_local_queue q[MH_QUEUES_MAX];
	unsigned nq;
	struct mh_queue_runner r[MH_RUNNERS_MAX];
	unsigned nr;
	bool processes_seen;     /* /proc was looked at (not with --root) */
	unsigned needs;          /* MH_QR_* the MTA found needs run */
	unsigned missing;        /* of those, what no active runner covers (and is not
				    in unsure) */
	unsigned unsure;         /* MH_QR_* a process may run, which could not be
				    told (a Sendmail daemon's arguments, not root) */
	char missing_why[256];   /* no-queue-runner evidence */
	/* Sendmail's MSP: where submit.cf sends, and whether anything listens there */
	char msp_host[128];      /* "[127.0.0.1]"; "" = no submit.cf */
	uint16_t msp_port;
	char msp_where[128];
	bool msp_loopback;
	enum mh_tri msp_listening; /* from the table; UNKNOWN without it (--root) */
	unsigned nnotes;
	char notes[4][160];      /* what could not be read (crontabs without root) */
};

/*
 * Classifies one shell command line (a crontab line, an ExecStart=, a
 * script line): the MH_QR_* queues it runs. `sendmail -q...` (also
 * sendmail-mta, runq): Sendmail's MTA queue, Postfix's and Exim's (their
 * sendmail runs the queue too); with -Ac, or Debian's `sendmail cron-msp`:
 * the MSP queue; `postqueue -f`, `postfix flush`: Postfix; `exim -q...`,
 * `exim4 -q...`: Exim; `smtpctl schedule`: OpenSMTPD. A test (`test -x
 * /usr/sbin/sendmail`) runs nothing. 0: none.
 */
unsigned mh_queue_command(const char *line, size_t len);

/*
 * A Sendmail daemon's command line from its pid file (the daemon rewrites
 * its own argv into a title such as "sendmail: accepting connections",
 * but keeps the pid file open and writes "PID\nCOMMAND LINE" into it): the
 * open file of PROC_ROOT/PID/fd/ whose name ends in ".pid" and whose first
 * line is PID. Its second line into out (sanitized). 0, or -1 when there is
 * none or it cannot be read (not root).
 */
int mh_sendmail_pidfile_cmdline(const char *proc_root, const char *pid, char *out, size_t size);

struct mh_queue_opts {
	const char *root;      /* files under it; NULL or "" = / */
	const char *proc_root; /* processes from it ("/proc"); NULL = not looked at */
	int64_t now;           /* Unix time the ages are measured at */
};

/*
 * Gathers runners (processes in this network namespace, /etc/crontab,
 * /etc/cron.d/, the scripts of /etc/cron.{hourly,daily,weekly,monthly}/, readable
 * /var/spool/cron/crontabs/, systemd timers with their services, and with
 * no processes to look at, services enabled at boot), the queues of the MTA
 * mta names (paths from its settings: QueueDirectory, submit.cf
 * QueueDirectory, queue_directory) and submit.cf's host, then judges (with
 * l's table when l is not NULL). *out is the caller's. 0, or MH_ENOMEM.
 */
int mh_local_queues_gather(const struct mh_queue_opts *o, const struct mh_mta_config *mta,
			   const struct mh_local *l, struct mh_local_queues *out);

/*
 * Fills covered / stuck / why of every queue and needs / missing /
 * missing_why from the runners, the queues and the MSP: a queue is stuck
 * when it holds messages and either no active runner covers it, or its
 * oldest message is MH_QUEUE_STUCK_AGE_S old, or (the MSP queue) submit.cf
 * sends to a loopback address where nothing listens. Pure: tests feed it
 * synthetic records.
 */
void mh_local_queues_judge(struct mh_local_queues *q, const char *product);

/* Counts the messages of one queue folder (recursing 3 levels) into q. */
void mh_local_queue_count(struct mh_local_queue *q, const char *dir, int64_t now);

/* Most notes in mh_local.unseen. */
#define MH_LOCAL_UNSEEN_MAX 8
#define MH_LOCAL_NOTE_LEN 200

/* What `mailhole local` gathered; owned by a host (mh_host.local). */
struct mh_local {
	struct mh_local_addr *addrs;  /* the table, in interface order; owned */
	size_t naddrs;
	struct mh_listener *listeners; /* LISTEN sockets on 25, 465, 587; owned */
	size_t nlisteners;
	enum mh_exposure exposure;    /* from the table */
	bool partial;                 /* some non-loopback addresses listen, others not */
	char partial_evidence[256];   /* which port, which addresses */
	bool agree;                   /* the listeners explain every cell of the table */
	unsigned nunseen;
	char unseen[MH_LOCAL_UNSEEN_MAX][MH_LOCAL_NOTE_LEN]; /* what could not be seen */
	struct mh_mta_config *mta;    /* the MTA found and its configuration (mta.h);
					 owned, NULL when none was found */
	struct mh_local_queues *queues; /* runners, queues, MSP (local_queue.c); owned,
					   NULL when no MTA was found */
	bool aliases;                 /* /etc/aliases (under --root) has entries */
	char aliases_where[128];      /* "aliases:3" of the first entry */
};

/* Frees l and what it owns; NULLs the pointer. Safe on NULL. */
void mh_local_free(struct mh_local **l);
/* Adds a note to l->unseen (dropped when full). */
void mh_local_note(struct mh_local *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Fills l->exposure, l->partial (+ evidence), every cell's `bound` and
 * l->agree from the table and the listeners. Pure: tests feed it synthetic
 * tables.
 *   exposure: "exposed" when a non-loopback address listens on any of the
 *   ports, "loopback-only" when only loopback addresses do, else "none";
 *   partial: for some port and address family, among the non-loopback
 *   addresses, at least one listens and at least one does not.
 */
void mh_local_judge(struct mh_local *l);

/*
 * Rows of the table from getifaddrs(): interfaces that are up, their IPv4
 * and IPv6 addresses (link-local with scope), then 127.0.0.1 and ::1 when
 * not listed, then any other loopback address one of l->listeners is bound
 * to (127.0.0.2; ::ffff:127.0.0.2 as 127.0.0.2), on "lo". IPv6 addresses that PROC_ROOT/net/if_inet6 marks tentative or
 * failed (duplicate address detection) are left out with a note. Cells are
 * not probed. 0 or MH_EIO / MH_ENOMEM (err set).
 */
int mh_local_addrs(struct mh_local *l, const char *proc_root, char *err, size_t errlen);

/*
 * Fills every cell: one non-blocking connect() per cell, all at once under
 * one poll(), timeout_ms for all of them together (per batch when the cells
 * outnumber the open-files limit). 0 or MH_EIO (err set).
 */
int mh_local_probe(struct mh_local_addr *a, size_t n, unsigned timeout_ms, char *err,
		   size_t errlen);

struct mh_local_opts {
	const char *proc_root; /* NULL = "/proc" */
	unsigned timeout_ms;   /* per cell batch; 0 = 300 */
};

/*
 * Everything: listeners and their owners, the table, the judgement, and
 * notes on what was not seen (not root, /proc unreadable). *out is the
 * caller's (mh_local_free). 0, or a negative code (err set) when the
 * interfaces themselves cannot be listed.
 */
int mh_local_gather(const struct mh_local_opts *o, struct mh_local **out, char *err,
		    size_t errlen);

/*
 * The host's primary address: the first IPv4 address of the default
 * route's interface (PROC_ROOT/net/route; no packet is sent), else the
 * first non-loopback, non-link-local address of the table (IPv4 first),
 * else a link-local one, else 127.0.0.1.
 */
void mh_local_primary(const struct mh_local *l, const char *proc_root, struct mh_addr *out);

#endif
