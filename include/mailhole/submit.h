/*
 * submit.h -- submitting probes to the relay over SMTP, with DSN.
 *
 * Why not libcurl (which mailhole uses for the collector): Debian 12's
 * libcurl 7.88 cannot send the DSN parameters (NOTIFY=, RET=, ENVID=,
 * ORCPT=; curl gained them in 8.16), and without them a relay sends no
 * "delayed" notice and no success report. So submission is a small blocking
 * client over the scanner's own SMTP reply reader (smtp.h,
 * mh_smtp_reader_*), which already copes with every malformed reply the
 * sweep meets: one connection, EHLO, STARTTLS when offered (OpenSSL; the
 * certificate is recorded, not enforced, unless verify is asked for), AUTH
 * PLAIN when credentials are given, then any number of messages on the same
 * connection (RSET between), QUIT at close.
 */
#ifndef MAILHOLE_SUBMIT_H
#define MAILHOLE_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

struct mh_submit;

struct mh_submit_opts {
	const char *url;        /* "smtp://HOST[:PORT]" (STARTTLS when offered) or "smtps://..." */
	const char *helo;       /* EHLO name; NULL: this host's name */
	const char *user;       /* AUTH PLAIN; NULL: no AUTH */
	const char *password;
	bool require_tls;       /* refuse to go on without TLS */
	long timeout_ms;        /* per reply; 0 = 30000 */
};

/*
 * Connects and greets. 0, or MH_EINVAL (bad url), MH_EIO (cannot connect),
 * MH_EPROTO (greeting / EHLO / AUTH refused, TLS failed): err says which,
 * with the server's reply sanitized.
 */
int mh_submit_open(const struct mh_submit_opts *o, struct mh_submit **out, char *err,
		   size_t errlen);
/* Whether the relay advertised DSN (and STARTTLS was done). */
bool mh_submit_has_dsn(const struct mh_submit *s);
bool mh_submit_tls(const struct mh_submit *s);

/* The outcome of one message. */
struct mh_submit_result {
	int code;            /* the reply that decided: RCPT's when refused, else DATA's end */
	char reply[256];     /* that reply, sanitized, one line */
	const char *stage;   /* "MAIL", "RCPT", "DATA", "end of data" */
	bool dsn;            /* DSN parameters were sent */
};

/*
 * Sends one message: MAIL FROM:<from> [RET=HDRS ENVID=envid], RCPT
 * TO:<rcpt> [NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;rcpt], DATA, the
 * message (LF or CRLF lines; dot-stuffed here), ".". envid may be NULL.
 * DSN parameters only when the relay advertised DSN. A refusal (4xx/5xx)
 * is a result (0 returned, r->code set), not an error; an error is a lost
 * or broken connection (MH_EIO / MH_EPROTO): the session cannot be used
 * further.
 */
int mh_submit_send(struct mh_submit *s, const char *from, const char *rcpt, const char *envid,
		   const char *msg, size_t len, struct mh_submit_result *r, char *err,
		   size_t errlen);

/* QUIT and close. Safe on NULL. */
void mh_submit_close(struct mh_submit **s);

/*
 * Whether the text between angle brackets is a safe SMTP path: no CR, LF,
 * NUL, '<', '>', space or control character, at most 254 bytes, one '@'
 * with text on both sides (or no '@' when allow_bare).
 */
bool mh_submit_path_ok(const char *addr, bool allow_bare);

#endif
