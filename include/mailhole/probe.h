/*
 * probe.h -- tagged probes: proving where mail is lost (CONTRACT.md,
 * "probes", verdicts; issue 4).
 *
 * A probe is one message with a unique tag (mail.h says where the tag goes)
 * sent to an address the way a host makes it ("root@HOST-FQDN" for a bare
 * "root" on a host that does not masquerade). What comes back to the
 * collector mailbox -- the probe itself, a DSN, a non-standard bounce -- or
 * what the relay said at submission decides its verdict:
 *
 *   pending                   nothing yet, the deadline has not passed
 *   delivered                 the probe arrived, or a DSN says delivered / relayed
 *   delivered-host-qualified  it arrived, but its envelope sender (or From) carries
 *                             the host's FQDN instead of the masquerade domain
 *   bounced                   a 5xx at RCPT or DATA, a failed DSN, or a bounce:
 *                             the sender is told, so nothing is lost silently
 *   delayed                   a delay DSN; at the deadline only when the host
 *                             answered (greylisting, a 4xx of the host)
 *   black-hole                nothing came back by the deadline, or the relay
 *                             holds the message deferred because the host refuses or
 *                             does not answer connections (delay DSN with
 *                             "connection refused" / "timed out" at the deadline)
 *
 * Verdicts only get firmer: a terminal verdict (delivered*, bounced) is never
 * replaced by a delay or by the deadline.
 *
 * The state (probes/probe.c) is a JSON file written atomically after every
 * step, so that `mailhole probe send` and `mailhole probe collect` can run
 * minutes apart and a re-run never sends a probe twice.
 */
#ifndef MAILHOLE_PROBE_H
#define MAILHOLE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailhole/mail.h"

enum mh_verdict {
	MH_VERDICT_PENDING,
	MH_VERDICT_DELIVERED,
	MH_VERDICT_DELIVERED_HQ,
	MH_VERDICT_BOUNCED,
	MH_VERDICT_DELAYED,
	MH_VERDICT_BLACK_HOLE,
};
const char *mh_verdict_name(enum mh_verdict v);
int mh_verdict_parse(const char *s); /* -1 when unknown */
bool mh_verdict_terminal(enum mh_verdict v);

#define MH_PROBE_HOST_MAX 256

/* One probe and its evidence. */
struct mh_probe {
	char kind[24];                    /* "bare-recipient", "host-submission" */
	char variant[24];                 /* host-submission: "bare-sender", "bare-root" */
	char tag[MH_TAG_MAX + 1];
	char host[MH_PROBE_HOST_MAX];     /* the host FQDN the probe is about */
	char rcpt[MH_MAIL_ADDR_MAX];      /* envelope recipient */
	char mail_from[MH_MAIL_ADDR_MAX]; /* envelope sender ("" = the host's own, bare) */
	int64_t sent;                     /* unix time submitted; 0 = not yet */
	int submit_code;                  /* last reply to RCPT / DATA (0 = none) */
	char submit_reply[256];           /* sanitized */
	bool dsn;                         /* DSN parameters went with it */
	enum mh_verdict verdict;
	int64_t decided;                  /* when the verdict became what it is; 0 = pending */
	/* Evidence (the latest that decided). */
	char ev_source[16];               /* "smtp", "dsn", "bounce", "message", "deadline" */
	char ev_key[64];                  /* the mailbox message: IMAP UID or Maildir name */
	int64_t ev_time;                  /* when it was collected */
	char ev_action[32];
	char ev_status[16];
	char ev_diagnostic[MH_MAIL_TEXT_MAX];
	char ev_reporting_mta[MH_MAIL_ADDR_MAX];
	char ev_remote_mta[MH_MAIL_ADDR_MAX];
	char ev_return_path[MH_MAIL_ADDR_MAX];
	char ev_from[MH_MAIL_ADDR_MAX];
	char ev_sender_class[24];         /* mh_sender_class_name() of the envelope sender */
	char ev_from_class[24];           /* ... of From */
	char ev_received[MH_MAIL_TEXT_MAX]; /* the last Received line (the first hop) */
	unsigned ev_nreceived;
	unsigned ndelays;                 /* delay DSNs seen */
	unsigned nmessages;               /* collected messages about this probe */
};

/* The probes of one run, and where collection stands. */
struct mh_probe_state {
	char relay[512];
	char collector[512];              /* the collector's url (no credentials) */
	char collector_address[MH_MAIL_ADDR_MAX];
	char domain[256];
	int64_t created;
	int64_t deadline;                 /* unix time after which silence is a black hole */
	uint64_t uidvalidity;
	uint64_t last_uid;
	size_t n, cap;
	struct mh_probe *v;
	unsigned bad_messages;            /* collected messages that could not be parsed */
	unsigned unmatched;               /* collected messages with no tag of ours */
	/* Lookups by tag and by (kind, variant, rcpt): open-addressed hash
	   indexes into v (slot = index + 1, 0 empty), kept by mh_probe_add*. A
	   probe's tag, kind, variant and rcpt are not to be changed in place. */
	size_t *ix_tag, *ix_key, ix_cap;
};

void mh_probe_state_init(struct mh_probe_state *s);
void mh_probe_state_free(struct mh_probe_state *s);
/* Loads a state file; a missing file is an empty state (0). Bad file: MH_EINVAL, err names it. */
int mh_probe_state_load(const char *path, struct mh_probe_state *s, char *err, size_t errlen);
/* The same on text in memory; path names it in messages. Adds to s. */
int mh_probe_state_parse(const char *buf, size_t len, const char *path, struct mh_probe_state *s,
			 char *err, size_t errlen);
/*
 * Appends to PATH.journal what the relay said about one probe just sent
 * (cheap: one line); mh_probe_state_load applies the journal, and
 * mh_probe_state_save folds it in and removes it. A run saves the whole
 * state once its probes are planned and again at the end, and journals
 * each send in between: nothing sent is forgotten, whatever stops the run.
 */
int mh_probe_journal_append(const char *path, const struct mh_probe *p, char *err,
			    size_t errlen);
/* Writes it atomically (and removes PATH.journal). */
int mh_probe_state_save(const char *path, const struct mh_probe_state *s, char *err,
			size_t errlen);

/*
 * The collector's address with +TAG before its '@' (VERP): audit@example.com
 * -> audit+mh...@example.com. 0, MH_EINVAL (not local@domain) or MH_ELIMIT.
 */
int mh_probe_verp(const char *collector, const char *tag, char *out, size_t size);

/* A new random tag ("mh" + 16 of [a-z0-9]) into buf (>= MH_TAG_MAX + 1). */
void mh_probe_new_tag(char *buf, size_t size);

/*
 * The probe of this kind / variant to rcpt, or NULL. (A re-run finds the
 * probe it already planned, so nothing is sent twice.)
 */
struct mh_probe *mh_probe_find(struct mh_probe_state *s, const char *kind, const char *variant,
			       const char *rcpt);
struct mh_probe *mh_probe_by_tag(struct mh_probe_state *s, const char *tag);
/*
 * Adds a probe (tag made here, verdict pending, not sent). NULL when out of
 * memory. The pointer is valid until the next add.
 */
struct mh_probe *mh_probe_add(struct mh_probe_state *s, const char *kind, const char *variant,
			      const char *host, const char *rcpt, const char *mail_from);

/*
 * The same with a given tag (a state file's, a test's): NULL when the tag is
 * not a valid tag, is taken already, or out of memory.
 */
struct mh_probe *mh_probe_add_tagged(struct mh_probe_state *s, const char *kind,
				     const char *variant, const char *host, const char *rcpt,
				     const char *mail_from, const char *tag);

/*
 * What the relay said at submission: a 5xx to RCPT or DATA is an immediate
 * "bounced" (evidence "smtp"); 2xx records the time sent.
 */
void mh_probe_submitted(struct mh_probe *p, int code, const char *reply, bool dsn, int64_t now);

/*
 * Applies one parsed message from the collector to the probe its tag names
 * (if any: returns the probe, else NULL). domain: the masquerade domain.
 */
struct mh_probe *mh_probe_apply_mail(struct mh_probe_state *s, const struct mh_mail *m,
				     const char *key, int64_t now);

/*
 * Whether a delay / failure diagnostic says the host accepts no connection
 * (refused, timed out, no route, unreachable, lost connection at greeting).
 */
bool mh_diagnostic_is_connect_failure(const char *text);

/*
 * Whether a delay diagnostic is the host's own answer (a 4xx it gave:
 * Postfix "host X[ip] said: 451 ...", Exim "SMTP error from remote mail
 * server ...", Sendmail "SMTP; 451 ...", a bare "451 ...").
 */
bool mh_diagnostic_is_host_answer(const char *text);

/*
 * At or after the deadline: pending probes become black-hole (evidence
 * "deadline"), and so do delayed ones whose diagnostic is a connection
 * failure or is not the host's answer (the relay still holds them; only a
 * delay where the host answered, a greylisting 4xx say, stays "delayed").
 * Before it, nothing changes. Returns how many changed.
 */
unsigned mh_probe_finalize(struct mh_probe_state *s, int64_t now);

/* Counts by verdict (out[MH_VERDICT_BLACK_HOLE + 1]). */
void mh_probe_counts(const struct mh_probe_state *s, unsigned *out);

struct mh_policy;
/*
 * Reads the policy's collector mailbox past st->last_uid (probes/collect.c),
 * parses each message (mail.h) and applies it to the probe its tag names;
 * a message that cannot be read is counted in st->bad_messages with a
 * warning naming it, never the end of the run. UIDVALIDITY is checked (a
 * change reads the mailbox again). With expunge, processed messages are
 * deleted. 0, or a negative code (err names the mailbox and the cause).
 * (scanner/probe_run.c)
 */
int mh_probe_collect(const struct mh_policy *pol, struct mh_probe_state *st, bool expunge,
		     bool insecure, long timeout_ms, char *err, size_t errlen);

/*
 * host-submission probes (mailhole local --probe): two messages through
 * this host's own mail command, no shell, message on stdin:
 *   bare-sender  to the collector, the sender left to the host (no -f, no
 *                From: header), which shows how it qualifies a bare sender;
 *   bare-root    to a bare "root", envelope sender COLLECTOR+TAG, which
 *                shows where root's mail goes (and its DSNs come back).
 * Both with -N success,failure,delay -V TAG, except for Exim (whose -N means
 * "do not deliver"). A probe of the same variant and host already sent is
 * never sent again. Exit 0 of the command = submitted; anything else =
 * "bounced" (the user would be told). Returns the number sent, or a
 * negative code (no usable collector address, no mail command).
 */
struct mh_host_submit_opts {
	const char *sendmail;   /* the mail command, "/usr/sbin/sendmail" */
	const char *product;    /* the MTA found ("exim": no -N / -V), or NULL */
	const char *host;       /* this host's name (FQDN when it has one) */
	const char *collector;  /* the policy's collector address */
	long timeout_ms;        /* for each command; 0 = 30000 */
};
int mh_probe_host_submission(const struct mh_host_submit_opts *o, struct mh_probe_state *st,
			     char *err, size_t errlen);

/*
 * The probes of one host, as a host record carries them (host.h:
 * mh_host.probes), with what is known of the host's masquerading: it
 * weighs the findings (rules.c).
 */
struct mh_probe_host {
	char fqdn[MH_PROBE_HOST_MAX];
	const char *names[2];        /* {fqdn, NULL}: the record's names */
	int masquerades;             /* 1 yes, 0 no, -1 unknown */
	char masq_source[256];       /* which evidence decided ("local report X", "host-submission
					probe mh...", "unknown") */
	size_t n;
	const struct mh_probe **v;   /* borrowed from the state */
	struct mh_probe_state *owned; /* the state, when the record owns it (local --probe);
					 freed with the record, else NULL */
};

#endif
