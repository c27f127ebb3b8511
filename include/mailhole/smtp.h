/*
 * smtp.h -- the client side of an SMTP conversation, without any I/O.
 *
 * Three layers, each usable alone:
 *  - the reply reader: a push parser fed any segmentation of the server's
 *    bytes (down to one at a time) that yields whole replies (multi-line
 *    "250-..." / "250 ..."), with a cap on each line and each reply, and
 *    that refuses bad codes, NULs and other binary, mismatched codes;
 *  - the session: a state machine (shape of curl's lib/smtp.c) that reads
 *    the greeting, sends EHLO (HELO when EHLO is refused), reads the
 *    capabilities, optionally runs STARTTLS and EHLO again, then, when
 *    asked for, VRFY / EXPN and the open-relay test (probe_smtp.h decides
 *    what to send and what the answers mean), and sends QUIT. The engine
 *    feeds it bytes, sends what it asks to send, and tells it about EOF
 *    and deadlines;
 *  - the fingerprint: which MTA product and version, from greeting and EHLO,
 *    table-driven; unknown stays NULL, never guessed.
 *
 * Failures of a server are data in its struct mh_smtp_result (`error`),
 * never errors of the engine.
 */
#ifndef MAILHOLE_SMTP_H
#define MAILHOLE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mailhole/probe_smtp.h"
#include "mailhole/tls.h"

#define MH_SMTP_LINE_MAX 1000  /* one reply line, CRLF excluded (RFC 5321: 512) */
#define MH_SMTP_REPLY_MAX 8192 /* a whole reply, lines joined by '\n' */
#define MH_SMTP_LINES_MAX 100  /* lines in one reply */

/* A complete reply. */
struct mh_smtp_reply {
	int code;                             /* 200..599 */
	unsigned nlines;                      /* >= 1 */
	size_t len;                           /* strlen(text) */
	char text[MH_SMTP_REPLY_MAX];         /* lines as received ("250-SIZE 1000"), CR LF
						 stripped, joined by '\n', NUL-terminated */
	uint16_t line_off[MH_SMTP_LINES_MAX]; /* offset of each line in text */
};

/* The push parser. Zero-initialize or call mh_smtp_reader_init(). */
struct mh_smtp_reader {
	struct mh_smtp_reply reply;   /* being assembled; complete after feed() > 0 */
	char line[MH_SMTP_LINE_MAX + 2];
	size_t linelen;
	bool done;                    /* reply complete: the next feed starts a new one */
	const char *error;            /* static text after feed() < 0, e.g. "bad-reply-code" */
};

void mh_smtp_reader_init(struct mh_smtp_reader *r);
/*
 * Feeds len bytes. Returns 1 when a reply is complete (r->reply; *used
 * says how many bytes of buf were consumed, the rest belongs to the next
 * reply), 0 when all bytes were consumed and more are needed, or a negative
 * MH_EPROTO / MH_ELIMIT with r->error set to one of: "bad-reply-code",
 * "reply-code-mismatch", "line-too-long", "reply-too-long",
 * "too-many-lines", "binary-in-reply". A line ends at LF (CR before it is
 * dropped; a bare CR inside a line is binary).
 */
int mh_smtp_reader_feed(struct mh_smtp_reader *r, const char *buf, size_t len, size_t *used);

/* Known ESMTP extensions as a bitmask (the raw lines are kept too). */
enum {
	MH_EXT_PIPELINING = 1u << 0,
	MH_EXT_SIZE = 1u << 1,
	MH_EXT_STARTTLS = 1u << 2,
	MH_EXT_AUTH = 1u << 3,
	MH_EXT_8BITMIME = 1u << 4,
	MH_EXT_DSN = 1u << 5,
	MH_EXT_ENHANCEDSTATUSCODES = 1u << 6,
	MH_EXT_SMTPUTF8 = 1u << 7,
	MH_EXT_CHUNKING = 1u << 8,
	MH_EXT_VRFY = 1u << 9,
	MH_EXT_ETRN = 1u << 10,
	MH_EXT_BINARYMIME = 1u << 11,
};
/* Bit for one capability line ("SIZE 10240000" -> MH_EXT_SIZE), 0 if unknown. */
uint32_t mh_smtp_ext_bit(const char *capline);

#define MH_SMTP_BANNER_MAX 1024 /* greeting kept, all lines joined by '\n' */
#define MH_SMTP_CAPS_MAX 64     /* capability lines kept */
#define MH_SMTP_CAP_LEN 128     /* each, truncated */
#define MH_SMTP_DETAIL_MAX 160  /* error detail */
#define MH_SMTP_PROBE_TEXT 160  /* a VRFY / EXPN / relay reply kept: its first line */
#define MH_SMTP_TAG_MAX 48      /* the tag of the relay test's message, NUL included */
#define MH_SMTP_OUT_MAX 2048    /* commands (or the relay test's message) waiting to go */

/* The VRFY / EXPN questions, in the order asked (mh_smtp_result.vrfy_codes). */
enum { MH_VRFY_Q_VRFY_ROOT, MH_VRFY_Q_VRFY_BOGUS, MH_VRFY_Q_EXPN_ROOT, MH_VRFY_Q_EXPN_BOGUS,
       MH_VRFY_Q_COUNT };

/* What one SMTP session found. Fixed size: no allocation. */
struct mh_smtp_result {
	int code;                                        /* greeting code, 0 = none */
	char banner[MH_SMTP_BANNER_MAX];                 /* greeting text as received */
	int ehlo_code;                                   /* final EHLO (or HELO) code, 0 = none */
	bool helo;                                       /* EHLO refused, HELO used */
	char ehlo_name[MH_SMTP_CAP_LEN];                 /* first line of the EHLO reply, after
							    the code (the server's name and greeting) */
	unsigned ncaps;                                  /* capability lines kept */
	char caps[MH_SMTP_CAPS_MAX][MH_SMTP_CAP_LEN];    /* "PIPELINING", "SIZE 10240000" */
	uint32_t ext;                                    /* MH_EXT_* bits */
	const char *error;                               /* NULL, or a static tag (below) */
	char detail[MH_SMTP_DETAIL_MAX];                 /* more about error, sanitized */
	/* STARTTLS (appended; all zero when not attempted). */
	bool tls_attempted;                              /* STARTTLS was sent */
	bool tls_done;                                   /* the handshake succeeded: tls filled */
	const char *tls_error;                           /* NULL, or a static tag (below) */
	char tls_detail[MH_SMTP_DETAIL_MAX];             /* more about tls_error */
	struct mh_tls_facts tls;                         /* valid when tls_done */
	int ehlo2_code;                                  /* EHLO over TLS, 0 = none */
	unsigned ncaps2;
	char caps2[MH_SMTP_CAPS_MAX][MH_SMTP_CAP_LEN];
	uint32_t ext2;
	bool tls_implicit;                               /* TLS from the first byte (465) */
	/*
	 * VRFY / EXPN (appended; all zero when not asked). Asked after the last
	 * EHLO: over TLS when STARTTLS succeeded (vrfy_tls).
	 */
	bool vrfy_tested;                                /* VRFY root was sent */
	bool vrfy_tls;
	char vrfy_bogus[17];                             /* the name that cannot exist */
	int vrfy_codes[MH_VRFY_Q_COUNT];                 /* answers, 0 = not asked / none */
	char vrfy_replies[MH_VRFY_Q_COUNT][MH_SMTP_PROBE_TEXT]; /* first lines, sanitized */
	const char *vrfy;                                /* mh_vrfy_answer_name(): "discloses",
							    "ambiguous", "disabled", or NULL */
	const char *expn;                                /* the same for EXPN */
	const char *vrfy_error;                          /* NULL, or a static tag (below) */
	char vrfy_detail[MH_SMTP_DETAIL_MAX];
	/*
	 * The open-relay test (appended; all zero when not run): the pairs of
	 * mh_relay_variants(), each MAIL FROM, RCPT TO, then RSET before the next.
	 */
	bool relay_tested;                               /* the test started */
	char relay_domain[254];                          /* toward this domain */
	bool relay_tls;                                  /* run over TLS */
	unsigned relay_nvariants;                        /* pairs generated */
	unsigned relay_ntried;                           /* pairs whose RCPT TO was answered */
	uint32_t relay_accepted;                         /* bit i: pair i's RCPT TO got a 2xx */
	const char *relay_names[MH_RELAY_VARIANTS_MAX];  /* static names of the pairs */
	int relay_mail_codes[MH_RELAY_VARIANTS_MAX];     /* answers to MAIL FROM, 0 = none */
	int relay_rcpt_codes[MH_RELAY_VARIANTS_MAX];     /* answers to RCPT TO, 0 = not sent */
	char relay_mail_from[MH_RELAY_PATH_MAX];         /* the first accepted pair's paths */
	char relay_rcpt_to[MH_RELAY_PATH_MAX];
	char relay_reply[MH_SMTP_PROBE_TEXT];            /* its RCPT TO answer, sanitized */
	/* --relay-test-data: a tagged message through the first accepted pair. */
	bool relay_data_tried;                           /* DATA was sent */
	unsigned relay_data_variant;                     /* index of that pair */
	int relay_data_code;                             /* answer to DATA (354 = go on) */
	int relay_data_end_code;                         /* answer after the message (250 =
							    accepted for delivery), 0 = none */
	char relay_data_reply[MH_SMTP_PROBE_TEXT];       /* the last of those answers */
	char relay_tag[MH_SMTP_TAG_MAX];                 /* the message's tag */
	const char *relay_error;                         /* NULL, or a static tag (below) */
	char relay_detail[MH_SMTP_DETAIL_MAX];
};

/*
 * Error tags set in mh_smtp_result.error:
 *   "banner-timeout", "ehlo-timeout", "helo-timeout",
 *   "session-timeout"     the whole-session deadline passed,
 *   "closed-before-banner", "closed-during-ehlo", "closed-during-helo",
 *   "connection-reset", "greeting-refused" (a non-2xx greeting: 421, 554...),
 *   "ehlo-refused" (EHLO and HELO both refused),
 *   and the reader's tags ("bad-reply-code", "line-too-long", ...).
 * Once QUIT is sent the record is complete: an unanswered, late or
 * malformed reply to QUIT leaves `error` as it is. Any 5xx to EHLO falls
 * back to HELO; a 4xx (or 3xx) to EHLO is "ehlo-refused". At DONE some
 * output may still be pending: the engine closes without sending it.
 *
 * STARTTLS (when enabled with mh_smtp_session_set_starttls and the EHLO
 * lists it): its outcome goes to tls_error, never to error (the cleartext
 * record is complete by then):
 *   "starttls-refused" (any non-2xx; QUIT follows in clear),
 *   "tls-handshake-failed" (tls_detail: the OpenSSL reason), "tls-timeout",
 *   "starttls-timeout", "closed-during-starttls", "ehlo-tls-timeout",
 *   "closed-during-ehlo-tls", "ehlo-tls-refused", reader tags.
 *
 * VRFY / EXPN and the open-relay test (mh_smtp_session_set_probes) run
 * after the last successful EHLO/HELO (over TLS when STARTTLS succeeded,
 * in clear when it was not offered, disabled or refused; not at all when
 * the handshake or the EHLO over TLS failed), VRFY first, then the relay
 * test, then QUIT. Their failures go to vrfy_error / relay_error, never to
 * error (the record is complete by then):
 *   "vrfy-timeout", "closed-during-vrfy", "relay-timeout",
 *   "closed-during-relay", "session-timeout", "connection-reset",
 *   "server-closing" (a 421: the server hangs up; the rest is skipped),
 *   "reply-before-command" (a reply came while our command had not all
 *   left: the server is out of step; the rest is skipped),
 *   "relay-variants" (relay_detail: why no pair could be made), reader tags.
 */

enum mh_smtp_state {
	MH_SMTP_BANNER, /* waiting for the greeting */
	MH_SMTP_EHLO,   /* EHLO sent */
	MH_SMTP_HELO,   /* HELO sent after EHLO was refused */
	MH_SMTP_QUIT,   /* QUIT sent */
	MH_SMTP_DONE,   /* finished (successfully or not); close the connection */
	MH_SMTP_STARTTLS,      /* STARTTLS sent */
	MH_SMTP_TLS_HANDSHAKE, /* 220 to STARTTLS: the engine runs the handshake and
				  then calls mh_smtp_session_tls_done() */
	MH_SMTP_EHLO2,         /* EHLO sent over TLS */
	MH_SMTP_VRFY,          /* VRFY or EXPN sent (session step says which) */
	MH_SMTP_MAIL,          /* relay test: MAIL FROM sent */
	MH_SMTP_RCPT,          /* relay test: RCPT TO sent */
	MH_SMTP_RSET,          /* relay test: RSET sent */
	MH_SMTP_DATA,          /* relay test: DATA sent */
	MH_SMTP_DATA_END,      /* relay test: the message and its "." sent */
};
const char *mh_smtp_state_name(enum mh_smtp_state s);

/*
 * The intrusive checks a session may run (all off when zeroed). The strings
 * are borrowed for the session's life, except tag, which is copied.
 */
struct mh_smtp_probes {
	bool vrfy;                    /* VRFY / EXPN root and a name that cannot exist */
	unsigned long long vrfy_seed; /* picks that name (mh_vrfy_bogus_name) */
	const char *relay_domain;     /* the open-relay test toward this domain; NULL = none.
					 Two labels at least (mh_relay_domain_valid) */
	const char *own_domain;       /* the own-domain sender's domain, or NULL */
	bool relay_data;              /* DATA and a tagged message through the first
					 accepted pair (never without it) */
	const char *tag;              /* that message's tag ("mh" + [a-z0-9]{8,40}) */
};

/* One session. Lives in the engine's connection slot. */
struct mh_smtp_session {
	enum mh_smtp_state state;
	struct mh_smtp_reader rd;
	struct mh_smtp_result *res; /* borrowed: filled as the session goes */
	const char *ehlo_name;      /* borrowed */
	char out[MH_SMTP_OUT_MAX];  /* bytes to send */
	size_t outlen, outoff;
	bool starttls;              /* try STARTTLS when offered (default false) */
	/* appended: the intrusive checks */
	unsigned nreplies;          /* complete replies judged so far (the engine re-arms
				       the reply deadline on each) */
	struct mh_smtp_probes probes; /* copied by set_probes; tag points at tagbuf */
	char tagbuf[MH_SMTP_TAG_MAX];
	char server_ip[64];         /* the target's address, for the [ip] literals */
	bool probes_done;           /* the checks ran (or were skipped): QUIT next */
	unsigned step;              /* VRFY: the question (MH_VRFY_Q_*); relay: the pair */
};

/* Starts a session: state BANNER, nothing to send. res is zeroed. */
void mh_smtp_session_init(struct mh_smtp_session *s, struct mh_smtp_result *res,
			  const char *ehlo_name);
/*
 * Feeds bytes from the server. Returns 0 to go on (check pending output), 1
 * when the session is DONE. Any bytes after a reply that the client has not
 * yet answered are kept for the next state (pipelining-safe).
 */
int mh_smtp_session_input(struct mh_smtp_session *s, const char *buf, size_t len);
/* Pending output: pointer and length (0 when nothing to send). */
const char *mh_smtp_session_pending(const struct mh_smtp_session *s, size_t *len);
/* n bytes of the pending output were sent. */
void mh_smtp_session_sent(struct mh_smtp_session *s, size_t n);
/* Enables (or not) STARTTLS after an EHLO that offers it. Call after init. */
void mh_smtp_session_set_starttls(struct mh_smtp_session *s, bool on);
/*
 * The engine's handshake in state TLS_HANDSHAKE ended: ok -> EHLO over TLS
 * (state EHLO2; the reader starts afresh), else tls_error
 * "tls-handshake-failed" with reason (may be NULL) and DONE (no QUIT).
 */
void mh_smtp_session_tls_done(struct mh_smtp_session *s, bool ok, const char *reason);
/*
 * Implicit TLS (port 465): call right after init. The session starts in
 * TLS_HANDSHAKE; after mh_smtp_session_tls_done(s, true, ...) it waits for
 * the greeting and goes on as usual (EHLO, QUIT) over TLS, its EHLO in
 * caps (no STARTTLS, no second EHLO).
 */
void mh_smtp_session_implicit_tls(struct mh_smtp_session *s);
/*
 * Enables the intrusive checks (call after init, before any input). p is
 * copied; server_ip (the target's address as text) is copied too. A tag
 * that is not "mh" + 8..40 of [a-z0-9] turns relay_data off.
 */
void mh_smtp_session_set_probes(struct mh_smtp_session *s, const struct mh_smtp_probes *p,
				const char *server_ip);
/*
 * True while the session waits for the answer to an intrusive command
 * (VRFY, EXPN, MAIL, RCPT, RSET, DATA): servers delay such answers on
 * purpose (Postfix sleeps smtpd_error_sleep_time, 1 s, before each reply
 * once a client has made smtpd_soft_error_limit errors), so the engine gives
 * them a longer reply deadline.
 */
bool mh_smtp_session_probing(const struct mh_smtp_session *s);
/* The server closed (reset = connection reset). Session becomes DONE. */
void mh_smtp_session_eof(struct mh_smtp_session *s, bool reset);
/* The current state's deadline passed (whole = the whole-session deadline). DONE. */
void mh_smtp_session_timeout(struct mh_smtp_session *s, bool whole);

/* The MTA behind a greeting and EHLO reply. */
struct mh_mta {
	const char *product; /* "postfix", "sendmail", "exim", "opensmtpd", "exchange",
				"qmail", "courier", "haraka", ... or NULL: unknown */
	char version[32];    /* "8.17.1", or "" when the server does not say */
};
/* Fingerprints from a result (banner, ehlo_name, caps). */
void mh_fingerprint(const struct mh_smtp_result *res, struct mh_mta *out);

#endif
