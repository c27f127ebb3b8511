/*
 * probe_smtp.h -- the pure parts of the intrusive SMTP checks: reading the
 * answers to VRFY / EXPN, and the MAIL FROM / RCPT TO pairs of the
 * open-relay test. No I/O: the session sends, reads and records; these
 * functions only decide what to send and what an answer means.
 */
#ifndef MAILHOLE_PROBE_SMTP_H
#define MAILHOLE_PROBE_SMTP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * VRFY / EXPN. The session asks about a name that exists on every Unix host
 * ("VRFY root") and one that cannot exist (mh_vrfy_bogus_name()); only a
 * difference between the two answers proves disclosure. A server that
 * answers 252 ("cannot verify, will accept") or 250 (catch-all) to both
 * says nothing; 4xx (421 too many errors, 450 busy) and 530 (authenticate
 * or STARTTLS first) mean the question went unanswered, not "disabled".
 */
enum mh_vrfy_answer {
	MH_VRFY_DISCLOSES,   /* the answers tell users apart: vrfy-enabled / expn-enabled */
	MH_VRFY_AMBIGUOUS,   /* answered, but the same for both names (252/252, 250/250) */
	MH_VRFY_DISABLED,    /* refused: 500/502/504, or 5xx "disabled", "not allowed",
				"administrative prohibition" */
	MH_VRFY_UNAVAILABLE, /* no usable answer (0, 4xx, 530, 503, 501...): not tested */
};

/*
 * Classifies the two answers (code 0 = none, text may be NULL; the text is
 * the reply as received, code included or not). Decision, in order:
 *  1. known answer 500/502/504, or 5xx whose text says the command is
 *     disabled / not implemented / prohibited / not allowed: DISABLED;
 *  2. known answer not 250/251/252 and not a 55x: UNAVAILABLE (0, 4xx,
 *     530, 503, 501...);
 *  3. known any other 55x (553, 550 "user unknown" for root...): AMBIGUOUS
 *     (the command answers, but the name asked about gave nothing away);
 *  4. bogus answer 0, 4xx (other than a 450 "user unknown") or 530:
 *     UNAVAILABLE;
 *  5. known 250/251 and bogus anything else but 250/251: DISCLOSES;
 *     known 252 and bogus a 55x/450 "user unknown": DISCLOSES (Postfix
 *     with VRFY on: "252 2.0.0 root" / "550 5.1.1 ... User unknown");
 *  6. otherwise AMBIGUOUS (252/252, 250/250, 252/550 "prohibited").
 * The same function reads EXPN answers.
 */
enum mh_vrfy_answer mh_vrfy_classify(int code_known_user, const char *text_known,
				     int code_bogus_user, const char *text_bogus);

/* JSON value: "discloses", "ambiguous", "disabled"; NULL for UNAVAILABLE. */
const char *mh_vrfy_answer_name(enum mh_vrfy_answer a);

/*
 * The name that cannot exist, from a seed the session picks (e.g. the scan
 * seed and the target's index): "mhnx" + 12 lowercase letters and digits,
 * 16 characters + NUL. buf must hold at least 17 bytes.
 */
void mh_vrfy_bogus_name(unsigned long long seed, char *buf, size_t size);

/*
 * Open-relay test, after nmap's smtp-open-relay: 16 MAIL FROM / RCPT TO
 * pairs, each to be sent as "MAIL FROM:" mail_from CRLF, "RCPT TO:" rcpt_to
 * CRLF, then RSET before the next. Both are complete paths with the angle
 * brackets ("<>", "<relaytest@[192.0.2.1]>").
 *
 * Every recipient routes to test_domain or is a syntactic trick aimed at it
 * (percent hack, quoted local part, double @, source route, bang path) via
 * the server itself (server_name or [ip]); no other domain ever appears.
 * Senders use own_domain, server_name, the [ip] literal, or are null.
 *
 * The pairs, in this order (T test_domain, O own_domain, S server_name,
 * I the address literal "[192.0.2.1]" / "[IPv6:2001:db8::1]"):
 *   null-sender          <>               <relaytest@T>
 *   own-domain-sender    <relaytest@O>    <relaytest@T>      (only with O)
 *   server-name-sender   <relaytest@S>    <relaytest@T>      (only with S)
 *   ip-literal-sender    <relaytest@I>    <relaytest@T>
 *   then with the sender <relaytest@I>:
 *   percent-hack-ip      <relaytest%T@I>
 *   percent-hack-name    <relaytest%T@S>                     (only with S)
 *   quoted-at            <"relaytest@T">
 *   quoted-percent       <"relaytest%T">
 *   double-at-ip         <relaytest@T@I>
 *   quoted-at-ip         <"relaytest@T"@I>
 *   double-at-name       <relaytest@T@S>                     (only with S)
 *   source-route-ip      <@I:relaytest@T>
 *   source-route-name    <@S:relaytest@T>                    (only with S)
 *   bang-path            <T!relaytest>
 *   bang-path-ip         <T!relaytest@I>
 *   bang-path-name       <T!relaytest@S>                     (only with S)
 *
 * test_domain: a host name of at least two labels (letters, digits,
 * hyphens; no label starting or ending with a hyphen; the last label not
 * all digits; at most 253 characters, no trailing dot). own_domain and
 * server_name: NULL or "" to leave their pairs out, else the same syntax
 * (one label allowed). server_ip: an IPv4 or IPv6 address in text form.
 * Anything else (and so any CR, LF, space, '<', '>', '"', '@'...) is
 * refused: MH_EINVAL with err, nothing written. A pair longer than the
 * fields: MH_ELIMIT. Fewer than the pairs slots (max): MH_ELIMIT.
 * Returns the number of pairs written (10 to 16).
 * The session should pass the server's EHLO name only when
 * mh_relay_domain_valid(name, false) says so, and NULL otherwise.
 */
#define MH_RELAY_VARIANTS_MAX 16
#define MH_RELAY_PATH_MAX 320

struct mh_relay_variant {
	char mail_from[MH_RELAY_PATH_MAX]; /* "<...>" or "<>" */
	char rcpt_to[MH_RELAY_PATH_MAX];   /* "<...>" */
	const char *name;                  /* static: "null-sender", "bang-path-ip", ... */
};

int mh_relay_variants(const char *test_domain, const char *server_name, const char *server_ip,
		      const char *own_domain, struct mh_relay_variant *out, size_t max, char *err,
		      size_t errlen);

/*
 * Whether name is a host name as above (need_dot: at least two labels).
 * Returns true / false.
 */
bool mh_relay_domain_valid(const char *name, bool need_dot);

#endif
