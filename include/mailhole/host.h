/*
 * host.h -- the host model: every evidence source fills one of these, every
 * writer reads it (DESIGN.md, "Data flow").
 *
 * Ownership: a worker allocates a host, fills it, and hands it to the writer
 * queue (mh_host pointer passed and NULLed); writers borrow it; the writer
 * thread frees it once with mh_host_free().
 */
#ifndef MAILHOLE_HOST_H
#define MAILHOLE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "mailhole/smtp.h"
#include "mailhole/target.h"

#define MH_MAX_PORTS 16

struct mh_rule;
struct mh_local; /* local.h */
struct mh_probe_host; /* probe.h */

enum mh_port_state {
	MH_PORT_OPEN,     /* the connection was accepted */
	MH_PORT_CLOSED,   /* refused (RST) */
	MH_PORT_FILTERED, /* no answer within the timeout, or unreachable */
};
const char *mh_port_state_name(enum mh_port_state s);

enum mh_exposure { MH_EXPOSURE_NONE, MH_EXPOSURE_LOOPBACK, MH_EXPOSURE_EXPOSED,
		   MH_EXPOSURE_UNKNOWN };
const char *mh_exposure_name(enum mh_exposure e);

/* One port of a host. */
struct mh_port {
	uint16_t port;
	enum mh_port_state state;
	double rtt_ms;              /* connect round trip; < 0 when unknown */
	struct mh_smtp_result *smtp; /* owned; NULL when no SMTP session was held */
	struct mh_mta mta;          /* fingerprint when smtp != NULL */
	const char *note;           /* static: why no SMTP session was held, or NULL */
};

#define MH_MAX_FINDINGS 32

/* One rule that fired on a host (see rules.h). */
struct mh_finding {
	const struct mh_rule *rule; /* static table entry */
	int severity;               /* enum mh_severity, after policy overrides */
	char evidence[256];         /* what fired it, for people */
	const char *remediation;    /* static text for the MTA found */
	const char *suppressed;     /* the policy's reason when a suppression is in force
				       (borrowed from the policy), else NULL */
	const char *expired;        /* the newest expired suppression's date, else NULL */
};

/* Does this finding count (toward summaries and exit codes)? */
static inline int mh_finding_counts(const struct mh_finding *f)
{
	return f->suppressed == NULL;
}

struct mh_host {
	struct mh_addr addr;
	const char *const *names; /* borrowed from the target set, NULL-terminated, or NULL */
	bool mail_server;         /* the policy names it a mail server */
	unsigned nports;
	struct mh_port ports[MH_MAX_PORTS];
	unsigned nfindings;
	struct mh_finding findings[MH_MAX_FINDINGS];
	struct mh_local *local;   /* owned; the host seen from inside (mailhole local), or NULL */
	struct mh_probe_host *probes; /* owned (its probes borrowed from a probe state);
					 mailhole probe's evidence, or NULL */
};

/* Allocates a zeroed host for addr. NULL on allocation failure. */
struct mh_host *mh_host_new(const struct mh_addr *addr);
/* Frees h and what it owns; NULLs the pointer. Safe on NULL. */
void mh_host_free(struct mh_host **h);
/* Any port open? */
bool mh_host_any_open(const struct mh_host *h);
/*
 * Exposure from the local table when there is one (local.h), else from the
 * ports: open on a non-loopback address = exposed, etc.
 */
enum mh_exposure mh_host_exposure(const struct mh_host *h);

#endif
