/*
 * queue.h -- relay queue readers (probes/queue.c): what a relay holds and
 * why, read from the listing its MTA prints, and grouped by destination so
 * that mail deferred to a fleet host -- a black hole -- stands out.
 *
 * Three listings, as the MTAs print them (real captures in
 * tests/fixtures/queue/):
 *  - Postfix `postqueue -j`: one JSON object a line (queue_name, queue_id,
 *    arrival_time, message_size, sender, recipients[{address,
 *    delay_reason}]), read with json-c;
 *  - Sendmail `mailq` (`sendmail -bp`, also `mailq -Ac`, the MSP's client
 *    queue under "MSP Queue status"): a header, then per message a line
 *    "ID SIZE DATE <sender>", an optional "(status)" line such as
 *    "(Deferred: Connection refused by host-a.lab.test.)", then one
 *    recipient a line; "Total requests: N";
 *  - Exim `exim -bp`: per message "AGE SIZE ID <sender>" (plus
 *    "*** frozen ***"), then recipients, "D " before those already
 *    delivered, then a blank line. Exim prints no reason: its recipients'
 *    class is MH_QREASON_UNKNOWN.
 *
 * Ownership: mh_queue_parse() allocates the queue (the caller frees it with
 * mh_queue_free()); every string in it is owned by it. Text from the
 * listing is untrusted: it is kept as bytes (bounded) and made valid UTF-8
 * or sanitized by whoever prints it. Nothing here resolves names or opens
 * files: the caller reads the listing and matches destinations.
 */
#ifndef MAILHOLE_QUEUE_H
#define MAILHOLE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailhole/target.h"

/* Caps: a line of a listing, messages, recipients of one message. */
#define MH_QUEUE_LINE_MAX  (64 * 1024)
#define MH_QUEUE_MSGS_MAX  1000000u
#define MH_QUEUE_RCPTS_MAX 100000u
#define MH_QUEUE_FIELD_MAX 1024 /* an address, an id, a reason: longer is cut */

enum mh_queue_format {
	MH_QUEUE_AUTO = 0,       /* detected from the text (mh_queue_detect) */
	MH_QUEUE_POSTFIX_JSON,   /* "postfix-json" */
	MH_QUEUE_SENDMAIL_MAILQ, /* "sendmail-mailq" */
	MH_QUEUE_EXIM,           /* "exim" */
};
/* "postfix-json", "sendmail-mailq", "exim" ("auto" for MH_QUEUE_AUTO). */
const char *mh_queue_format_name(enum mh_queue_format f);
/* The format a --format word names; -1 when unknown. */
int mh_queue_format_parse(const char *s);

/*
 * The format of a listing from its first non-blank line: '{' = Postfix
 * JSON; a Sendmail header ("... (N requests)", "... is empty", "MSP Queue
 * status", "-----Q-ID-----") or "Mail queue is empty" = Sendmail; "AGE
 * SIZE ID <sender>" = Exim. An empty listing is Postfix JSON (postqueue -j
 * prints nothing for an empty queue). MH_QUEUE_AUTO when it cannot tell.
 */
enum mh_queue_format mh_queue_detect(const char *buf, size_t len);

/* Why a recipient waits, from its delay reason. */
enum mh_queue_reason {
	MH_QREASON_NONE = 0, /* not deferred (no reason: not tried yet, or active) */
	MH_QREASON_REFUSED,  /* "Connection refused" */
	MH_QREASON_TIMEOUT,  /* "Connection timed out", "timeout" */
	MH_QREASON_NOROUTE,  /* "No route to host", "Network is unreachable" */
	MH_QREASON_NOTFOUND, /* "Host or domain name not found", "host name lookup failure" */
	MH_QREASON_OTHER,    /* a reason of another kind (a 4xx reply, TLS, ...) */
	MH_QREASON_UNKNOWN,  /* waiting, but the listing gives no reason (Exim) */
	MH_QREASON_COUNT
};
/* "none", "connection-refused", "timed-out", "no-route", "host-not-found",
 * "other", "unknown". */
const char *mh_queue_reason_name(enum mh_queue_reason r);
/* The class of a reason text (len bytes); MH_QREASON_NONE for an empty one. */
enum mh_queue_reason mh_queue_classify(const char *reason, size_t len);

/*
 * The address in a reason such as "connect to host-a.lab.test[198.18.0.5]:25:
 * Connection refused": the first "[...]" that holds an IP address. 0 and
 * *out set, or MH_EINVAL when there is none.
 */
int mh_queue_reason_addr(const char *reason, size_t len, struct mh_addr *out);

struct mh_queue_rcpt {
	char *address;            /* owned, as listed (angle brackets removed) */
	char *domain;             /* owned, lower case, no trailing dot; "" when none */
	char *reason;             /* owned delay reason, or NULL */
	enum mh_queue_reason why; /* from reason; UNKNOWN for Exim's waiting recipients */
	bool delivered;           /* Exim's "D": done, no longer waiting */
};

struct mh_queue_msg {
	char *id;        /* owned queue id */
	char *queue;     /* owned: Postfix's queue_name ("deferred", "active", "hold",
	                    "incoming", "maildrop"); Sendmail: "mqueue" or "clientmqueue";
	                    Exim: "input" or "frozen" */
	int64_t arrival; /* UNIX time the message arrived, or -1 when unknown */
	uint64_t size;   /* bytes as listed */
	char *sender;    /* owned, angle brackets removed ("" = the null sender) */
	unsigned line;   /* line of the listing where the message starts */
	size_t nrcpts;
	struct mh_queue_rcpt *rcpts; /* owned */
};

struct mh_queue {
	enum mh_queue_format format;
	bool detected;     /* the format was detected, not given */
	bool client_queue; /* Sendmail's MSP queue ("MSP Queue status") */
	size_t nmsgs;
	struct mh_queue_msg *msgs; /* owned */
	unsigned lines;            /* lines read */
};

/*
 * Parses a listing (len bytes, need not be NUL-terminated) in format fmt
 * (MH_QUEUE_AUTO: detected). name stands for the input in messages ("-"
 * for standard input is shown as "stdin"). now (UNIX time) is the time the
 * listing was taken: Exim gives ages, not dates, and Sendmail's dates have
 * no year.
 *
 * *out is always set when the call gets that far (also on a parse error):
 * the messages read before the bad line (a message whose own line is bad is
 * not kept half-read), so that what was already found is kept; the caller
 * frees it. Returns 0, or MH_EINVAL with err "NAME line N:
 * what is wrong" (a line that is not JSON, a field of the wrong type, a
 * recipient line before any message...), MH_ELIMIT (a cap above) or
 * MH_ENOMEM; *out may be NULL only on MH_ENOMEM or an undetectable format.
 */
int mh_queue_parse(const char *buf, size_t len, enum mh_queue_format fmt, const char *name,
                   int64_t now, struct mh_queue **out, char *err, size_t errlen);
/* Frees q and all it owns; NULLs the pointer. Safe on NULL. */
void mh_queue_free(struct mh_queue **q);

/*
 * One destination domain with recipients waiting for it: what the
 * `mailhole queue` document lists, and what a finding is made of.
 */
struct mh_queue_dest {
	char *domain;        /* owned, lower case */
	unsigned messages;   /* messages with at least one waiting recipient here */
	unsigned recipients; /* waiting recipients */
	unsigned by_reason[MH_QREASON_COUNT];
	enum mh_queue_reason why; /* the class most recipients have (ties: the order
	                             of enum mh_queue_reason, refused first) */
	int64_t oldest;           /* earliest arrival among them, -1 when unknown */
	char *reason;             /* owned: the reason of the oldest recipient, or NULL */
	bool have_addr;           /* addr came from a reason ("[198.18.0.5]") */
	struct mh_addr addr;
};

/*
 * Groups the waiting recipients (not delivered, and with a reason or in a
 * listing that gives none) of q by domain, sorted by recipients (most
 * first), then domain. *out (owned by the caller, mh_queue_dests_free) has
 * *n entries. 0 or MH_ENOMEM.
 */
int mh_queue_group(const struct mh_queue *q, struct mh_queue_dest **out, size_t *n);
void mh_queue_dests_free(struct mh_queue_dest **d, size_t n);

/*
 * Is domain (no trailing dot, any case) a host under the fleet domain
 * fleet_domain: "host-a.lab.test" under "lab.test" yes, "lab.test" itself
 * and "xlab.test" no. False when either is NULL or empty.
 */
bool mh_queue_host_under(const char *domain, const char *fleet_domain);

/* When a relay gives up on a message, and whether it warns anyone. */
struct mh_queue_lifetime {
	int64_t lifetime_s;          /* seconds in the queue before the MTA returns it */
	const char *lifetime_source; /* static: "postfix default maximal_queue_lifetime
	                                (5d)", "--queue-lifetime", "main.cf", ... */
	int64_t warn_s;              /* delay warning after this many seconds; 0 = never;
	                                -1 unknown */
	const char *warn_source;     /* static, like lifetime_source */
};
/* The defaults of each MTA (Postfix 5d / no warning, Sendmail 5d / 4h, Exim 4d / 24h). */
void mh_queue_lifetime_default(enum mh_queue_format f, struct mh_queue_lifetime *out);

/*
 * A Postfix time value ("5d", "4h", "300s", "1w", "0", a bare number in
 * `unit`: 'd' for maximal_queue_lifetime, 'h' for delay_warning_time) in
 * seconds. 0 or MH_EINVAL.
 */
int mh_queue_postfix_time(const char *s, char unit, int64_t *out);

#endif
