/*
 * mail.h -- reading what comes back to the collector mailbox: RFC 5322
 * messages (the probes that arrived) and delivery status notifications
 * (RFC 3464 multipart/report, and the common non-standard bounces).
 * No I/O: a message in, facts out (probes/mail.c).
 *
 * Every probe carries a tag (the same everywhere it is put):
 *   - the envelope sender  COLLECTOR_LOCAL+TAG@DOMAIN  (VERP style: even a
 *     bounce that is not RFC 3464 comes back to an address holding the tag),
 *   - the header           X-Mailhole-Tag: TAG
 *   - the Message-ID       <TAG@mailhole.invalid>
 *   - the DSN ENVID        TAG
 * A tag is "mh" followed by 8 to 40 characters of [a-z0-9] (so it survives
 * case folding, quoting and line wrapping, and cannot be confused with text).
 *
 * Strings in the results are NUL-terminated, one line (folding undone,
 * control characters removed), valid UTF-8 (encoded-words decoded where the
 * charset is UTF-8, US-ASCII or ISO-8859-1; others left as written),
 * truncated to their field size.
 */
#ifndef MAILHOLE_MAIL_H
#define MAILHOLE_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define MH_TAG_MIN 10       /* "mh" + 8 */
#define MH_TAG_MAX 42       /* "mh" + 40 */
#define MH_MAIL_ADDR_MAX 320
#define MH_MAIL_TEXT_MAX 512
#define MH_MAIL_RECEIVED_MAX 16 /* Received headers kept (top first) */
#define MH_DSN_RCPTS_MAX 16     /* per-recipient blocks kept */
#define MH_MAIL_MAX (64u << 20) /* larger messages are refused (MH_ELIMIT) */

/* Whether s[0..len) is a tag (exactly, in its canonical lowercase form). */
bool mh_tag_valid(const char *s, size_t len);
/*
 * Finds the first tag in text[0..len): a run "mh[a-z0-9]{8,40}" (case-
 * insensitive, copied in lowercase) bounded by characters that are not
 * [A-Za-z0-9]. Copies it into tag (>= MH_TAG_MAX + 1 bytes). true if found.
 */
bool mh_tag_find(const char *text, size_t len, char *tag, size_t size);

/* How a sender address is qualified, against the masquerade domain and the host's FQDN. */
enum mh_sender_class {
	MH_SENDER_UNKNOWN,        /* no address */
	MH_SENDER_MASQUERADED,    /* local@DOMAIN (or a domain under it that is not the host) */
	MH_SENDER_HOST_QUALIFIED, /* local@HOST_FQDN (or any host name that is not DOMAIN when
				     host_fqdn is NULL and the domain is longer than DOMAIN) */
	MH_SENDER_UNQUALIFIED,    /* a bare local part, no '@' */
	MH_SENDER_OTHER,          /* another domain altogether */
};
const char *mh_sender_class_name(enum mh_sender_class c); /* "masqueraded", ... "other" */
/*
 * Classifies addr ("<mary@host-a.lab.test>", "mary@lab.test", "mary", with
 * or without angle brackets, comments and display names already removed or
 * not). domain: the policy's masquerade domain; host_fqdn: the host's name,
 * or NULL when unknown. Case-insensitive; a trailing dot ignored.
 */
enum mh_sender_class mh_sender_classify(const char *addr, const char *domain,
					const char *host_fqdn);

/* One per-recipient block of a delivery-status part. */
struct mh_dsn_rcpt {
	char final_recipient[MH_MAIL_ADDR_MAX];    /* the address, "rfc822;" stripped */
	char original_recipient[MH_MAIL_ADDR_MAX];
	char action[32];                           /* failed, delayed, delivered, relayed,
						      expanded (lowercase) */
	char status[16];                           /* "5.1.1", "4.4.1" */
	char diagnostic[MH_MAIL_TEXT_MAX];         /* Diagnostic-Code, "smtp;" stripped */
	char remote_mta[MH_MAIL_ADDR_MAX];         /* "dns;" stripped */
	char will_retry_until[64];
};

enum mh_mail_kind {
	MH_MAIL_MESSAGE,     /* an ordinary message (a probe that arrived, or anything else) */
	MH_MAIL_DSN,         /* multipart/report; report-type=delivery-status */
	MH_MAIL_BOUNCE,      /* a non-standard bounce (null sender or MAILER-DAEMON / postmaster
				From, and a failure / delay text) */
};
const char *mh_mail_kind_name(enum mh_mail_kind k); /* "message", "dsn", "bounce" */

/* What one message tells. */
struct mh_mail {
	enum mh_mail_kind kind;
	char tag[MH_TAG_MAX + 1];        /* the probe's tag, "" when none found; for a DSN
					    or bounce, the tag of the probe it reports on
					    (ENVID, the returned headers, the VERP
					    recipient, the text: in that order) */
	char tag_source[24];             /* where the tag was found: "header", "message-id",
					    "envid", "returned-headers", "verp", "text" */
	/* Top-level headers. */
	char return_path[MH_MAIL_ADDR_MAX]; /* the address, brackets removed ("" for <>) */
	bool has_return_path;
	char from[MH_MAIL_ADDR_MAX];        /* the address of From (display name dropped) */
	char sender[MH_MAIL_ADDR_MAX];
	char to[MH_MAIL_ADDR_MAX];          /* the first address of To */
	char delivered_to[MH_MAIL_ADDR_MAX];
	char message_id[MH_MAIL_ADDR_MAX];  /* brackets removed */
	char subject[MH_MAIL_TEXT_MAX];     /* encoded-words decoded */
	char date[64];                      /* as written */
	time_t date_t;                      /* parsed RFC 5322 date, 0 when not parseable */
	unsigned nreceived;                 /* Received headers seen (all of them) */
	char received[MH_MAIL_RECEIVED_MAX][MH_MAIL_TEXT_MAX]; /* the first ones, unfolded */
	/* DSN (kind DSN; the per-message fields also filled, where found, for BOUNCE). */
	char reporting_mta[MH_MAIL_ADDR_MAX];
	char original_envelope_id[MH_MAIL_ADDR_MAX];
	char arrival_date[64];
	unsigned nrcpts;                    /* blocks kept */
	struct mh_dsn_rcpt rcpts[MH_DSN_RCPTS_MAX];
	/* The returned message's headers (text/rfc822-headers or message/rfc822), for a DSN. */
	char returned_message_id[MH_MAIL_ADDR_MAX];
	char returned_from[MH_MAIL_ADDR_MAX];
	char returned_to[MH_MAIL_ADDR_MAX];
	/* For a non-standard bounce: the first lines of the explanation, sanitized
	   (from the first line that names a failure or a delay, else the first
	   line that says something; up to 4 lines joined). Also filled for a DSN
	   from its human-readable part; "" for an ordinary message. For a bounce,
	   rcpts[0] is filled where the text allows: DSN-like "Status:" /
	   "Final-Recipient:" lines, the "<rcpt>: reason" paragraph (recipient and
	   diagnostic), the first enhanced status code in the text; the action is
	   then "delayed" when the excerpt speaks of a delay, a retry or a
	   warning (and the status is not 5.x.x), else "failed". */
	char excerpt[MH_MAIL_TEXT_MAX];
	/* Problems that did not stop the reading ("missing MIME boundary", ...). */
	char warning[MH_MAIL_TEXT_MAX];
};

/*
 * Where the tag is looked for: a MESSAGE: X-Mailhole-Tag, the Message-ID,
 * then the VERP address (To, Delivered-To, X-Original-To); a DSN or BOUNCE:
 * ENVID, the returned headers (X-Mailhole-Tag, Message-ID, the VERP From),
 * the VERP address, then anywhere in the body ("text").
 *
 * Parses one message (as stored: LF or CRLF line ends, possibly an mbox
 * "From " line first). Never reads past buf[len). Returns 0 and fills *out,
 * or a negative code with a one-line reason in err: MH_EINVAL (not a
 * message at all: no header section, binary junk where headers must be),
 * MH_ELIMIT (len > MH_MAIL_MAX, a header longer than 1 MiB). A damaged
 * MIME structure (truncated, missing boundary, 8-bit junk in a part) is
 * not an error: what could be read is returned and warning says what was
 * wrong.
 */
int mh_mail_parse(const char *buf, size_t len, struct mh_mail *out, char *err, size_t errlen);

#endif
