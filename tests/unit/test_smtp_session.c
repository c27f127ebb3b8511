/*
 * test_smtp_session.c -- the SMTP session state machine
 * (scanner/smtp_session.c), driven by server transcripts.
 *
 * A small "engine" here feeds the server's bytes in some cut, sends at once
 * whatever the session asks to send (appending it to a log of the client
 * side), and ends with EOF or a timeout. Each test checks what the session
 * asked to send at each step and what it recorded; every transcript is also
 * played whole, byte by byte and in random cuts, which must all agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mailhole/common.h"
#include "mailhole/smtp.h"

#define NAME "scanner.example.net"

struct t {
	struct mh_smtp_session s;
	struct mh_smtp_result res;
	char sent[16384]; /* the client side, as sent */
	size_t sentlen;
};

static struct t *t_new(const char *ehlo_name)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	mh_smtp_session_init(&t->s, &t->res, ehlo_name);
	return t;
}

/* What the session wants to send now, as a string. */
static const char *pending(struct t *t)
{
	static char buf[MH_SMTP_OUT_MAX + 1];
	size_t n;
	const char *p = mh_smtp_session_pending(&t->s, &n);

	assert_true(n <= MH_SMTP_OUT_MAX);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* Sends everything pending (the engine's write succeeded in full). */
static void flush(struct t *t)
{
	size_t n;
	const char *p = mh_smtp_session_pending(&t->s, &n);

	assert_true(t->sentlen + n < sizeof(t->sent));
	memcpy(t->sent + t->sentlen, p, n);
	t->sentlen += n;
	t->sent[t->sentlen] = '\0';
	mh_smtp_session_sent(&t->s, n);
	mh_smtp_session_pending(&t->s, &n);
	assert_int_equal(n, 0);
}

static int feed(struct t *t, const char *s)
{
	return mh_smtp_session_input(&t->s, s, strlen(s));
}

enum cut { CUT_WHOLE, CUT_BYTES, CUT_RANDOM };

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * Where the reply that starts at pos ends (after its last line's LF, or
 * len): a line "DDD " (or "DDD") ends a reply, "DDD-" goes on.
 */
static size_t reply_end(const char *in, size_t pos, size_t len)
{
	while (pos < len) {
		const char *lf = memchr(in + pos, '\n', len - pos);
		size_t end = lf ? (size_t)(lf - in) + 1 : len;
		bool more = end - pos > 4 && in[pos + 3] == '-';

		pos = end;
		if (!more)
			break;
	}
	return pos;
}

/*
 * Plays a server transcript in a cut, sending after each piece. With
 * aligned, no piece spans two replies (and "whole" means one reply at a
 * time): a real server answers a command only once it has it, and the
 * intrusive checks hold a server that answers ahead to be misbehaving.
 */
static void play_cut(struct t *t, const char *in, size_t len, enum cut cut, uint32_t seed,
                     bool aligned)
{
	size_t pos = 0;

	while (pos < len) {
		size_t chunk = cut == CUT_WHOLE   ? len - pos
		               : cut == CUT_BYTES ? 1
		                                  : 1 + rng_next(&seed) % 19;

		if (aligned && chunk > reply_end(in, pos, len) - pos)
			chunk = reply_end(in, pos, len) - pos;
		if (chunk > len - pos)
			chunk = len - pos;
		mh_smtp_session_input(&t->s, in + pos, chunk);
		flush(t);
		pos += chunk;
	}
}

enum end { END_NONE, END_EOF, END_RESET, END_TIMEOUT, END_WHOLE_TIMEOUT };

static void finish(struct t *t, enum end end)
{
	if (end == END_EOF || end == END_RESET)
		mh_smtp_session_eof(&t->s, end == END_RESET);
	else if (end == END_TIMEOUT || end == END_WHOLE_TIMEOUT)
		mh_smtp_session_timeout(&t->s, end == END_WHOLE_TIMEOUT);
}

static bool is_reader_tag(const char *e)
{
	return e && (strcmp(e, "bad-reply-code") == 0 || strcmp(e, "reply-code-mismatch") == 0 ||
	             strcmp(e, "line-too-long") == 0 || strcmp(e, "reply-too-long") == 0 ||
	             strcmp(e, "too-many-lines") == 0 || strcmp(e, "binary-in-reply") == 0);
}

/* The client side without the relay message's Date line (it may differ by a second). */
static void undated(const char *sent, char *out, size_t size)
{
	const char *d = strstr(sent, "\r\nDate: ");
	const char *e = d ? strstr(d + 2, "\r\n") : NULL;

	if (!d || !e) {
		snprintf(out, size, "%s", sent);
		return;
	}
	snprintf(out, size, "%.*s%s", (int)(d - sent), sent, e);
}

static void assert_same(const struct t *a, const struct t *b)
{
	static char sa[sizeof(a->sent)], sb[sizeof(b->sent)];

	assert_int_equal(a->s.state, b->s.state);
	undated(a->sent, sa, sizeof(sa));
	undated(b->sent, sb, sizeof(sb));
	if (strcmp(sa, sb) != 0) {
		size_t i = 0;
		while (sa[i] == sb[i])
			i++;
		print_error("client sides differ at byte %zu: \"%.60s\" vs \"%.60s\"\n", i,
		            sa + i, sb + i);
	}
	assert_string_equal(sa, sb);
	assert_int_equal(a->res.code, b->res.code);
	assert_string_equal(a->res.banner, b->res.banner);
	assert_int_equal(a->res.ehlo_code, b->res.ehlo_code);
	assert_int_equal(a->res.helo, b->res.helo);
	assert_string_equal(a->res.ehlo_name, b->res.ehlo_name);
	assert_int_equal(a->res.ncaps, b->res.ncaps);
	for (unsigned i = 0; i < a->res.ncaps; i++)
		assert_string_equal(a->res.caps[i], b->res.caps[i]);
	assert_int_equal(a->res.ext, b->res.ext);
	assert_ptr_equal(a->res.error, b->res.error);
	/* A reader's excerpt quotes what followed in the same read: it may differ. */
	if (!is_reader_tag(a->res.error))
		assert_string_equal(a->res.detail, b->res.detail);
	/* the intrusive checks */
	assert_int_equal(a->res.vrfy_tested, b->res.vrfy_tested);
	for (unsigned i = 0; i < MH_VRFY_Q_COUNT; i++) {
		assert_int_equal(a->res.vrfy_codes[i], b->res.vrfy_codes[i]);
		assert_string_equal(a->res.vrfy_replies[i], b->res.vrfy_replies[i]);
	}
	assert_ptr_equal(a->res.vrfy, b->res.vrfy);
	assert_ptr_equal(a->res.expn, b->res.expn);
	assert_ptr_equal(a->res.vrfy_error, b->res.vrfy_error);
	assert_int_equal(a->res.relay_tested, b->res.relay_tested);
	assert_int_equal(a->res.relay_nvariants, b->res.relay_nvariants);
	assert_int_equal(a->res.relay_ntried, b->res.relay_ntried);
	assert_int_equal(a->res.relay_accepted, b->res.relay_accepted);
	for (unsigned i = 0; i < MH_RELAY_VARIANTS_MAX; i++) {
		assert_int_equal(a->res.relay_mail_codes[i], b->res.relay_mail_codes[i]);
		assert_int_equal(a->res.relay_rcpt_codes[i], b->res.relay_rcpt_codes[i]);
	}
	assert_int_equal(a->res.relay_data_code, b->res.relay_data_code);
	assert_int_equal(a->res.relay_data_end_code, b->res.relay_data_end_code);
	assert_ptr_equal(a->res.relay_error, b->res.relay_error);
}

/* Plays a transcript whole, then in other cuts; returns the whole run. */
static struct t *play_all_with(const char *in, enum end end, void (*setup)(struct t *t))
{
	struct t *whole = t_new(NAME);

	if (setup)
		setup(whole);
	play_cut(whole, in, strlen(in), CUT_WHOLE, 0, setup != NULL);
	finish(whole, end);
	for (uint32_t seed = 0; seed < 10; seed++) {
		struct t *o = t_new(NAME);

		if (setup)
			setup(o);
		play_cut(o, in, strlen(in), seed == 0 ? CUT_BYTES : CUT_RANDOM,
		         0x2545f491u * (seed + 1), setup != NULL);
		finish(o, end);
		assert_same(whole, o);
		free(o);
	}
	return whole;
}

static struct t *play_all(const char *in, enum end end)
{
	return play_all_with(in, end, NULL);
}

#define POSTFIX_GREETING "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n"
#define POSTFIX_EHLO                                                                               \
	"250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"    \
	"250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"   \
	"250 CHUNKING\r\n"

/* ---- the normal path, step by step --------------------------------------- */

static void test_postfix_steps(void **state)
{
	struct t *t = t_new(NAME);
	size_t n;

	(void)state;
	assert_int_equal(t->s.state, MH_SMTP_BANNER);
	assert_string_equal(pending(t), "");
	/* A greeting in three pieces. */
	assert_int_equal(feed(t, "220 mx.example.net ES"), 0);
	assert_string_equal(pending(t), "");
	assert_int_equal(feed(t, "MTP Postfix (Debian/GNU)\r"), 0);
	assert_int_equal(t->s.state, MH_SMTP_BANNER);
	assert_int_equal(feed(t, "\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_EHLO);
	assert_string_equal(pending(t), "EHLO " NAME "\r\n");
	assert_int_equal(t->res.code, 220);
	assert_string_equal(t->res.banner, "220 mx.example.net ESMTP Postfix (Debian/GNU)");
	/* A short write: the rest stays pending. */
	mh_smtp_session_sent(&t->s, 5);
	assert_string_equal(pending(t), NAME "\r\n");
	mh_smtp_session_sent(&t->s, 1000); /* more than pending: clamped */
	mh_smtp_session_pending(&t->s, &n);
	assert_int_equal(n, 0);

	assert_int_equal(feed(t, POSTFIX_EHLO), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_int_equal(t->res.ehlo_code, 250);
	assert_false(t->res.helo);
	assert_string_equal(t->res.ehlo_name, "mx.example.net");
	assert_int_equal(t->res.ncaps, 10);
	assert_string_equal(t->res.caps[0], "PIPELINING");
	assert_string_equal(t->res.caps[1], "SIZE 10240000");
	assert_string_equal(t->res.caps[9], "CHUNKING");
	assert_int_equal(t->res.ext, MH_EXT_PIPELINING | MH_EXT_SIZE | MH_EXT_VRFY | MH_EXT_ETRN |
	                                 MH_EXT_STARTTLS | MH_EXT_ENHANCEDSTATUSCODES |
	                                 MH_EXT_8BITMIME | MH_EXT_DSN | MH_EXT_SMTPUTF8 |
	                                 MH_EXT_CHUNKING);
	flush(t);

	assert_int_equal(feed(t, "221 2.0.0 Bye\r\n"), 1);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_null(t->res.error);
	assert_string_equal(t->res.detail, "");
	/* EOF after DONE changes nothing; input after DONE is ignored. */
	mh_smtp_session_eof(&t->s, false);
	assert_null(t->res.error);
	assert_int_equal(feed(t, "554 what\r\n"), 1);
	assert_null(t->res.error);
	free(t);
}

static void test_postfix_every_cut(void **state)
{
	struct t *t;

	(void)state;
	t = play_all(POSTFIX_GREETING POSTFIX_EHLO "221 2.0.0 Bye\r\n", END_EOF);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(t->sent, "EHLO " NAME "\r\nQUIT\r\n");
	assert_null(t->res.error);
	assert_int_equal(t->res.ncaps, 10);
	free(t);
	/* The server closes right after 221 without us seeing EOF first: same. */
	t = play_all(POSTFIX_GREETING POSTFIX_EHLO, END_EOF);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_null(t->res.error);
	free(t);
}

static void test_multiline_greeting(void **state)
{
	struct t *t;

	(void)state;
	t = play_all("220-mail.example.net ESMTP Exim 4.96 #2 Tue, 29 Nov 2022 14:33:54 +0000 \r\n"
	             "220-We do not authorize the use of this system to transport unsolicited, \r\n"
	             "220 and/or bulk e-mail.\r\n"
	             "250-mail.example.net Hello [192.0.2.7]\r\n250-SIZE 52428800\r\n"
	             "250-8BITMIME\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
	             "221 mail.example.net closing connection\r\n",
	             END_EOF);
	assert_int_equal(t->res.code, 220);
	assert_string_equal(
	    t->res.banner,
	    "220-mail.example.net ESMTP Exim 4.96 #2 Tue, 29 Nov 2022 14:33:54 +0000 \n"
	    "220-We do not authorize the use of this system to transport unsolicited, \n"
	    "220 and/or bulk e-mail.");
	assert_string_equal(t->res.ehlo_name, "mail.example.net Hello [192.0.2.7]");
	assert_int_equal(t->res.ncaps, 5);
	assert_int_equal(t->res.ext,
	                 MH_EXT_SIZE | MH_EXT_8BITMIME | MH_EXT_PIPELINING | MH_EXT_AUTH);
	assert_null(t->res.error);
	free(t);
}

/* ---- refusals ------------------------------------------------------------ */

static void test_ehlo_refused_helo(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	assert_int_equal(feed(t, "220 old.example.net SMTP ready\r\n"), 0);
	flush(t);
	assert_int_equal(feed(t, "502 5.5.2 Error: command not recognized\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_HELO);
	assert_true(t->res.helo);
	assert_string_equal(pending(t), "HELO " NAME "\r\n");
	flush(t);
	assert_int_equal(feed(t, "250 old.example.net\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_int_equal(t->res.ehlo_code, 250);
	assert_string_equal(t->res.ehlo_name, "old.example.net");
	assert_int_equal(t->res.ncaps, 0);
	assert_int_equal(t->res.ext, 0);
	assert_null(t->res.error);
	flush(t);
	assert_string_equal(t->sent, "EHLO " NAME "\r\nHELO " NAME "\r\nQUIT\r\n");
	mh_smtp_session_eof(&t->s, false); /* no 221: fine */
	assert_null(t->res.error);
	free(t);

	/* Every 5xx falls back to HELO. */
	static const char *const codes[] = {"500", "502", "504", "550", "554"};
	for (size_t i = 0; i < 5; i++) {
		char greet[64];

		t = t_new(NAME);
		snprintf(greet, sizeof(greet), "220 x\r\n%s no\r\n250 x\r\n221 y\r\n", codes[i]);
		feed(t, greet);
		flush(t);
		assert_int_equal(t->s.state, MH_SMTP_DONE);
		assert_true(t->res.helo);
		assert_int_equal(t->res.ehlo_code, 250);
		assert_null(t->res.error);
		free(t);
	}
}

static void test_ehlo_and_helo_refused(void **state)
{
	struct t *t;

	(void)state;
	t = play_all("220 x ESMTP\r\n500 5.5.1 unrecognized\r\n550 5.7.1 go away\r\n221 bye\r\n",
	             END_EOF);
	assert_string_equal(t->sent, "EHLO " NAME "\r\nHELO " NAME "\r\nQUIT\r\n");
	assert_string_equal(t->res.error, "ehlo-refused");
	assert_string_equal(t->res.detail, "EHLO 500, HELO: 550 5.7.1 go away");
	assert_int_equal(t->res.ehlo_code, 550);
	assert_true(t->res.helo);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);
}

static void test_ehlo_4xx(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	feed(t, "220 x ESMTP\r\n");
	flush(t);
	assert_int_equal(feed(t, "421 4.3.2 Service shutting down\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_false(t->res.helo);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_string_equal(t->res.error, "ehlo-refused");
	assert_string_equal(t->res.detail, "EHLO: 421 4.3.2 Service shutting down");
	assert_int_equal(t->res.ehlo_code, 421);
	/* A 421 server closes without answering QUIT: the record stays. */
	mh_smtp_session_eof(&t->s, false);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(t->res.error, "ehlo-refused");
	free(t);
}

static void test_greeting_421(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	assert_int_equal(feed(t, "421 4.3.2 mx.example.net Service not available\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_int_equal(t->res.code, 421);
	assert_string_equal(t->res.banner, "421 4.3.2 mx.example.net Service not available");
	assert_string_equal(t->res.error, "greeting-refused");
	assert_string_equal(t->res.detail, "421 4.3.2 mx.example.net Service not available");
	assert_int_equal(t->res.ehlo_code, 0);
	/* It closes before we even sent QUIT: fine. */
	mh_smtp_session_eof(&t->s, false);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(t->res.error, "greeting-refused");
	free(t);
}

static void test_greeting_554(void **state)
{
	struct t *t;

	(void)state;
	t = play_all("554-mx.example.net no SMTP service here\r\n554 5.7.1 go away\r\n"
	             "221 2.0.0 Bye\r\n",
	             END_NONE);
	assert_string_equal(t->sent, "QUIT\r\n");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_int_equal(t->res.code, 554);
	assert_string_equal(t->res.banner,
	                    "554-mx.example.net no SMTP service here\n554 5.7.1 go away");
	assert_string_equal(t->res.error, "greeting-refused");
	assert_string_equal(t->res.detail, "554-mx.example.net no SMTP service here");
	free(t);
	/* Garbage after a refusal does not replace the refusal. */
	t = play_all("554 5.7.1 go away\r\n\x16\x03\x01", END_EOF);
	assert_string_equal(t->res.error, "greeting-refused");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);
}

/* ---- EOF and resets in each state ---------------------------------------- */

static void test_eof_each_state(void **state)
{
	struct t *t;

	(void)state;
	t = play_all("", END_EOF);
	assert_string_equal(t->res.error, "closed-before-banner");
	assert_string_equal(t->res.detail, "");
	assert_int_equal(t->res.code, 0);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);

	/* Part of a greeting is quoted. */
	t = play_all("220-mx.example.net ESMTP\r\n220-more", END_EOF);
	assert_string_equal(t->res.error, "closed-before-banner");
	assert_string_equal(t->res.detail, "220-mx.example.net ESMTP");
	assert_int_equal(t->res.code, 0);
	free(t);
	t = play_all("220 mx.exa", END_EOF);
	assert_string_equal(t->res.detail, "220 mx.exa");
	free(t);

	t = play_all("", END_RESET);
	assert_string_equal(t->res.error, "connection-reset");
	assert_string_equal(t->res.detail, "in BANNER");
	free(t);

	t = play_all(POSTFIX_GREETING, END_EOF);
	assert_string_equal(t->res.error, "closed-during-ehlo");
	assert_int_equal(t->res.code, 220);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);

	t = play_all(POSTFIX_GREETING "250-mx.example.net\r\n250-PIPE", END_RESET);
	assert_string_equal(t->res.error, "connection-reset");
	assert_string_equal(t->res.detail, "in EHLO: 250-mx.example.net");
	assert_int_equal(t->res.ehlo_code, 0);
	free(t);

	t = play_all("220 x\r\n502 no\r\n", END_EOF);
	assert_string_equal(t->res.error, "closed-during-helo");
	assert_true(t->res.helo);
	free(t);

	t = play_all("220 x\r\n502 no\r\n", END_RESET);
	assert_string_equal(t->res.error, "connection-reset");
	assert_string_equal(t->res.detail, "in HELO");
	free(t);

	/* In QUIT, EOF or reset is the normal end. */
	t = play_all(POSTFIX_GREETING POSTFIX_EHLO, END_RESET);
	assert_null(t->res.error);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);
}

/* ---- timeouts ------------------------------------------------------------ */

static void test_timeouts(void **state)
{
	struct t *t;

	(void)state;
	t = play_all("", END_TIMEOUT);
	assert_string_equal(t->res.error, "banner-timeout");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);

	/* A slow greeting: what came is quoted. */
	t = play_all("220-mx.example.net ESMTP\r\n220-slow", END_TIMEOUT);
	assert_string_equal(t->res.error, "banner-timeout");
	assert_string_equal(t->res.detail, "220-mx.example.net ESMTP");
	free(t);

	t = play_all(POSTFIX_GREETING, END_TIMEOUT);
	assert_string_equal(t->res.error, "ehlo-timeout");
	assert_int_equal(t->res.code, 220);
	free(t);

	t = play_all("220 x\r\n500 no\r\n", END_TIMEOUT);
	assert_string_equal(t->res.error, "helo-timeout");
	free(t);

	/* QUIT unanswered: harmless, the record is complete. */
	t = play_all(POSTFIX_GREETING POSTFIX_EHLO, END_TIMEOUT);
	assert_null(t->res.error);
	assert_int_equal(t->res.ncaps, 10);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);
	t = play_all(POSTFIX_GREETING POSTFIX_EHLO, END_WHOLE_TIMEOUT);
	assert_null(t->res.error);
	free(t);
	/* And a refusal recorded before QUIT stays. */
	t = play_all("421 busy\r\n", END_WHOLE_TIMEOUT);
	assert_string_equal(t->res.error, "greeting-refused");
	free(t);

	/* The whole-session deadline elsewhere. */
	t = play_all("", END_WHOLE_TIMEOUT);
	assert_string_equal(t->res.error, "session-timeout");
	assert_string_equal(t->res.detail, "in BANNER");
	free(t);
	t = play_all(POSTFIX_GREETING "250-mx.example.net\r\n", END_WHOLE_TIMEOUT);
	assert_string_equal(t->res.error, "session-timeout");
	assert_string_equal(t->res.detail, "in EHLO: 250-mx.example.net");
	free(t);

	/* After DONE, a timeout changes nothing. */
	t = play_all(POSTFIX_GREETING POSTFIX_EHLO "221 Bye\r\n", END_WHOLE_TIMEOUT);
	assert_null(t->res.error);
	mh_smtp_session_timeout(&t->s, false);
	assert_null(t->res.error);
	free(t);
}

/* ---- garbage ------------------------------------------------------------- */

static void test_garbage(void **state)
{
	struct t *t;

	(void)state;
	/* An SSH server on port 25: refused at the first byte, quoted in full. */
	t = t_new(NAME);
	assert_int_equal(feed(t, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), 1);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(t->res.error, "bad-reply-code");
	assert_string_equal(t->res.detail, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
	assert_int_equal(t->res.code, 0);
	assert_string_equal(pending(t), "");
	free(t);

	t = t_new(NAME);
	assert_int_equal(feed(t, "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n"), 1);
	assert_string_equal(t->res.error, "bad-reply-code");
	assert_string_equal(t->res.detail, "HTTP/1.1 400 Bad Request");
	free(t);

	/* A TLS server (port 465 scanned as 25): binary, sanitized. */
	t = t_new(NAME);
	assert_int_equal(mh_smtp_session_input(&t->s, "\x16\x03\x03\x00\x7a\x02", 6), 1);
	assert_string_equal(t->res.error, "binary-in-reply");
	assert_string_equal(t->res.detail, "????z?");
	free(t);

	/* NUL inside a greeting. */
	t = t_new(NAME);
	assert_int_equal(mh_smtp_session_input(&t->s, "220 a\0b\r\n", 9), 1);
	assert_string_equal(t->res.error, "binary-in-reply");
	assert_string_equal(t->res.detail, "220 a?b");
	assert_int_equal(t->res.code, 0);
	free(t);

	/* Every cut gives the same error. */
	t = play_all("220-ok\r\n221 mismatch\r\n", END_EOF);
	assert_string_equal(t->res.error, "reply-code-mismatch");
	assert_int_equal(t->res.code, 0);
	free(t);

	/* Faults found at a LF quote that line only, not the next one. */
	{
		char *s = malloc(1024), *p = s;

		assert_non_null(s);
		p += snprintf(p, 16, "220 ok\r\n");
		for (int i = 0; i < MH_SMTP_LINES_MAX; i++)
			p += snprintf(p, 16, "250-x%d\r\n", i % 10);
		snprintf(p, 32, "250 last\r\n");
		t = play_all(s, END_NONE);
		assert_string_equal(t->res.error, "too-many-lines");
		assert_string_equal(t->res.detail, "250-x9");
		assert_int_equal(t->res.ehlo_code, 0);
		free(t);
		free(s);
	}
	t = t_new(NAME);
	assert_int_equal(feed(t, "220 ok\r\n22\r\n250 next\r\n"), 1);
	assert_string_equal(t->res.error, "bad-reply-code");
	assert_string_equal(t->res.detail, "22");
	free(t);

	/* An endless greeting line: refused at the cap, excerpt cut with "...". */
	{
		char *s = malloc(5001);

		assert_non_null(s);
		memcpy(s, "220 ", 4);
		memset(s + 4, 'x', 4996);
		s[5000] = '\0';
		t = play_all(s, END_NONE);
		assert_string_equal(t->res.error, "line-too-long");
		assert_int_equal(t->s.state, MH_SMTP_DONE);
		assert_int_equal(strlen(t->res.detail), MH_SMTP_DETAIL_MAX - 1);
		assert_string_equal(t->res.detail + MH_SMTP_DETAIL_MAX - 4, "...");
		free(t);
		free(s);
	}
}

/* Bytes after a reply belong to the next state, whatever the cut. */
static void test_pipelined_server(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	/* Greeting and EHLO answer in one read, before EHLO has left. */
	assert_int_equal(feed(t, POSTFIX_GREETING POSTFIX_EHLO), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "EHLO " NAME "\r\nQUIT\r\n");
	assert_int_equal(t->res.ncaps, 10);
	mh_smtp_session_sent(&t->s, 7); /* "EHLO sc" */
	assert_string_equal(pending(t), "anner.example.net\r\nQUIT\r\n");
	assert_int_equal(feed(t, "221 Bye\r\n"), 1);
	free(t);

	/* Junk right after the greeting is judged as the answer to EHLO. */
	t = play_all("220 mx.example.net ESMTP\r\nxyzzy\r\n", END_EOF);
	assert_int_equal(t->res.code, 220);
	assert_string_equal(t->res.banner, "220 mx.example.net ESMTP");
	assert_string_equal(t->res.error, "bad-reply-code");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);

	/* The whole conversation in one read. */
	t = t_new(NAME);
	assert_int_equal(feed(t, "220 a\r\n502 b\r\n250 c\r\n221 d\r\n"), 1);
	assert_true(t->res.helo);
	assert_int_equal(t->res.ehlo_code, 250);
	assert_null(t->res.error);
	free(t);
}

/* ---- capabilities -------------------------------------------------------- */

static void test_capabilities(void **state)
{
	char *in = malloc(16384), *p = in;
	struct t *t;

	(void)state;
	assert_non_null(in);
	p += snprintf(p, 64, "220 x\r\n250-x.example Hello\r\n");
	p += snprintf(p, 64, "250-auth=LOGIN PLAIN\r\n"); /* old style, lower case */
	p += snprintf(p, 64, "250-\r\n");                 /* empty: not kept */
	p += snprintf(p, 64, "250-8bitmime\r\n");
	p += snprintf(p, 200, "250-X-LONG %0150d\r\n", 7); /* cut to MH_SMTP_CAP_LEN - 1 */
	for (int i = 0; i < 70; i++)
		p += snprintf(p, 64, "250-X-FILLER-%d\r\n", i);
	/* Past MH_SMTP_CAPS_MAX: not kept, still counted in ext. */
	p += snprintf(p, 64, "250-STARTTLS\r\n250 binarymime\r\n");
	t = play_all(in, END_NONE);
	assert_int_equal(t->res.ncaps, MH_SMTP_CAPS_MAX);
	assert_string_equal(t->res.ehlo_name, "x.example Hello");
	assert_string_equal(t->res.caps[0], "auth=LOGIN PLAIN");
	assert_string_equal(t->res.caps[1], "8bitmime");
	assert_int_equal(strlen(t->res.caps[2]), MH_SMTP_CAP_LEN - 1);
	assert_memory_equal(t->res.caps[2], "X-LONG 000", 10);
	assert_string_equal(t->res.caps[3], "X-FILLER-0");
	assert_int_equal(t->res.ext,
	                 MH_EXT_AUTH | MH_EXT_8BITMIME | MH_EXT_STARTTLS | MH_EXT_BINARYMIME);
	free(t);
	free(in);
}

static void test_banner_cut(void **state)
{
	char *in = malloc(4096), *p = in;
	struct t *t;

	(void)state;
	assert_non_null(in);
	/* 12 lines of ~100 bytes: over MH_SMTP_BANNER_MAX. */
	for (int i = 0; i < 12; i++)
		p += snprintf(
		    p, 200, "220-%03d %s\r\n", i,
		    "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 "
		    "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9 "
		    "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9");
	p += snprintf(p, 64, "220 end\r\n");
	t = play_all(in, END_NONE);
	assert_int_equal(t->res.code, 220);
	assert_true(strlen(t->res.banner) <= MH_SMTP_BANNER_MAX - 1);
	assert_true(strlen(t->res.banner) >= MH_SMTP_BANNER_MAX - 4);
	/* Never cut inside a UTF-8 sequence. */
	assert_int_not_equal((unsigned char)t->res.banner[strlen(t->res.banner) - 1], 0xc3);
	free(t);
	free(in);
}

/* ---- the EHLO name ------------------------------------------------------- */

static void check_name(const char *name, const char *expect)
{
	struct t *t = t_new(name);
	char want[600];

	feed(t, "220 x\r\n");
	snprintf(want, sizeof(want), "EHLO %s\r\n", expect);
	assert_string_equal(pending(t), want);
	feed(t, "500 no\r\n");
	snprintf(want, sizeof(want), "EHLO %s\r\nHELO %s\r\n", expect, expect);
	assert_string_equal(pending(t), want);
	free(t);
}

static void test_ehlo_name(void **state)
{
	char name[300];

	(void)state;
	check_name("scanner.example.net", "scanner.example.net");
	check_name("[192.0.2.1]", "[192.0.2.1]");
	check_name("evil\r\nMAIL FROM:<a@b>", "mailhole.invalid");
	check_name("a\nb", "mailhole.invalid");
	check_name("a b", "mailhole.invalid");
	check_name("", "mailhole.invalid");
	check_name(NULL, "mailhole.invalid");
	check_name("caf\xc3\xa9.example", "mailhole.invalid");
	memset(name, 'a', 255);
	name[255] = '\0';
	check_name(name, name);
	memset(name, 'a', 256);
	name[256] = '\0';
	check_name(name, "mailhole.invalid");
}

/* ---- small interfaces ---------------------------------------------------- */

/* ---- STARTTLS ------------------------------------------------------------- */

/* A session up to the 250 EHLO with STARTTLS enabled: STARTTLS is pending. */
static struct t *t_starttls(void)
{
	struct t *t = t_new(NAME);

	mh_smtp_session_set_starttls(&t->s, true);
	assert_int_equal(feed(t, "220 mx.example.net ESMTP Postfix\r\n"), 0);
	flush(t);
	assert_int_equal(feed(t, POSTFIX_EHLO), 0);
	assert_int_equal(t->s.state, MH_SMTP_STARTTLS);
	assert_string_equal(pending(t), "STARTTLS\r\n");
	assert_true(t->res.tls_attempted);
	flush(t);
	return t;
}

static void test_starttls_ok(void **state)
{
	struct t *t = t_starttls();

	(void)state;
	/* Bytes after the 220 are dropped (injection), never read as over TLS. */
	assert_int_equal(feed(t, "220 2.0.0 Ready to start TLS\r\n250 injected\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_TLS_HANDSHAKE);
	assert_string_equal(pending(t), "");
	assert_int_equal(feed(t, "\x16\x03\x03"), 0); /* ignored while handshaking */
	mh_smtp_session_tls_done(&t->s, true, NULL);
	assert_int_equal(t->s.state, MH_SMTP_EHLO2);
	assert_string_equal(pending(t), "EHLO " NAME "\r\n");
	flush(t);
	assert_int_equal(feed(t, "250-mx.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n"
	                         "250 CHUNKING\r\n"),
	                 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_int_equal(t->res.ehlo2_code, 250);
	assert_int_equal(t->res.ncaps2, 3);
	assert_string_equal(t->res.caps2[1], "AUTH PLAIN LOGIN");
	assert_int_equal(t->res.ext2, MH_EXT_PIPELINING | MH_EXT_AUTH | MH_EXT_CHUNKING);
	/* The cleartext record is untouched. */
	assert_int_equal(t->res.ncaps, 10);
	assert_string_equal(t->res.ehlo_name, "mx.example.net");
	flush(t);
	assert_int_equal(feed(t, "221 Bye\r\n"), 1);
	assert_null(t->res.error);
	assert_null(t->res.tls_error);
	assert_true(t->res.tls_done);
	free(t);
}

static void test_starttls_refused(void **state)
{
	struct t *t = t_starttls();

	(void)state;
	assert_int_equal(feed(t, "454 4.7.0 TLS not available\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_string_equal(t->res.tls_error, "starttls-refused");
	assert_string_equal(t->res.tls_detail, "454 4.7.0 TLS not available");
	assert_null(t->res.error);
	assert_false(t->res.tls_done);
	free(t);
}

static void test_starttls_handshake_failed(void **state)
{
	struct t *t = t_starttls();

	(void)state;
	assert_int_equal(feed(t, "220 go ahead\r\n"), 0);
	mh_smtp_session_tls_done(&t->s, false, "wrong version number");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(pending(t), ""); /* no QUIT over a broken layer */
	assert_string_equal(t->res.tls_error, "tls-handshake-failed");
	assert_string_equal(t->res.tls_detail, "wrong version number");
	assert_null(t->res.error);
	free(t);
}

static void test_starttls_timeouts(void **state)
{
	struct t *t;

	(void)state;
	/* Stall in the handshake. */
	t = t_starttls();
	assert_int_equal(feed(t, "220 go ahead\r\n"), 0);
	mh_smtp_session_timeout(&t->s, false);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(t->res.tls_error, "tls-timeout");
	assert_null(t->res.error);
	free(t);
	/* No answer to STARTTLS. */
	t = t_starttls();
	mh_smtp_session_timeout(&t->s, true);
	assert_string_equal(t->res.tls_error, "starttls-timeout");
	assert_null(t->res.error);
	free(t);
	/* Closed during the EHLO over TLS. */
	t = t_starttls();
	assert_int_equal(feed(t, "220 go ahead\r\n"), 0);
	mh_smtp_session_tls_done(&t->s, true, NULL);
	mh_smtp_session_eof(&t->s, true);
	assert_string_equal(t->res.tls_error, "closed-during-ehlo-tls");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);
	/* Garbage in answer to STARTTLS: a reader tag, as tls_error. */
	t = t_starttls();
	assert_int_equal(feed(t, "2x0 what\r\n"), 1);
	assert_true(is_reader_tag(t->res.tls_error));
	assert_null(t->res.error);
	free(t);
}

/* Implicit TLS (465): handshake first, then the usual session, no STARTTLS. */
static void test_implicit_tls(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	mh_smtp_session_set_starttls(&t->s, true);
	mh_smtp_session_implicit_tls(&t->s);
	assert_int_equal(t->s.state, MH_SMTP_TLS_HANDSHAKE);
	assert_string_equal(pending(t), "");
	mh_smtp_session_tls_done(&t->s, true, NULL);
	assert_int_equal(t->s.state, MH_SMTP_BANNER);
	assert_string_equal(pending(t), "");
	assert_int_equal(feed(t, "220 mx ESMTP\r\n"), 0);
	assert_string_equal(pending(t), "EHLO " NAME "\r\n");
	flush(t);
	assert_int_equal(feed(t, POSTFIX_EHLO), 0); /* lists STARTTLS: not sent again */
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_int_equal(t->res.ncaps, 10);
	assert_int_equal(t->res.ncaps2, 0);
	assert_true(t->res.tls_implicit && t->res.tls_done);
	free(t);
	/* a failed handshake: DONE, tls_error only */
	t = t_new(NAME);
	mh_smtp_session_implicit_tls(&t->s);
	mh_smtp_session_timeout(&t->s, false);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_string_equal(t->res.tls_error, "tls-timeout");
	free(t);
}

/* Disabled (the default), or not offered: straight to QUIT. */
static void test_starttls_not_tried(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	mh_smtp_session_set_starttls(&t->s, true);
	assert_int_equal(feed(t, "220 mx ESMTP\r\n"), 0);
	assert_int_equal(feed(t, "250-mx\r\n250 PIPELINING\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_false(t->res.tls_attempted);
	free(t);
	t = t_new(NAME);
	assert_int_equal(feed(t, "220 mx ESMTP\r\n"), 0);
	assert_int_equal(feed(t, POSTFIX_EHLO), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_false(t->res.tls_attempted);
	free(t);
}

/* ---- VRFY / EXPN ---------------------------------------------------------- */

#define SEED 42ull
#define TEST_DOMAIN "relay-test.example.net"
#define OWN_DOMAIN "example.com"
#define SERVER_IP "198.18.0.25"
#define TAG "mhrelay0123456789abcdef"

static char bogus[17];

static void setup_vrfy(struct t *t)
{
	struct mh_smtp_probes p = { .vrfy = true, .vrfy_seed = SEED };

	mh_smtp_session_set_probes(&t->s, &p, SERVER_IP);
}

static void setup_relay(struct t *t)
{
	struct mh_smtp_probes p = { .relay_domain = TEST_DOMAIN, .own_domain = OWN_DOMAIN };

	mh_smtp_session_set_probes(&t->s, &p, SERVER_IP);
}

static void setup_relay_data(struct t *t)
{
	struct mh_smtp_probes p = { .relay_domain = TEST_DOMAIN, .own_domain = OWN_DOMAIN,
	                            .relay_data = true, .tag = TAG };

	mh_smtp_session_set_probes(&t->s, &p, SERVER_IP);
}

static void setup_both(struct t *t)
{
	struct mh_smtp_probes p = { .vrfy = true, .vrfy_seed = SEED, .relay_domain = TEST_DOMAIN,
	                            .own_domain = OWN_DOMAIN };

	mh_smtp_session_set_probes(&t->s, &p, SERVER_IP);
}

/* The greeting and EHLO (no STARTTLS: the session does not try it here). */
#define HELLO POSTFIX_GREETING POSTFIX_EHLO

/*
 * Feeds text one reply at a time, sending what is pending before each (as
 * a server that waits for our commands); the answer to the last reply
 * stays pending. Returns what the last feed returned.
 */
static int step(struct t *t, const char *text)
{
	size_t len = strlen(text), pos = 0;
	int rc = 0;

	while (pos < len) {
		size_t end = reply_end(text, pos, len);

		flush(t);
		rc = mh_smtp_session_input(&t->s, text + pos, end - pos);
		pos = end;
	}
	return rc;
}

/* text with every "%s" replaced by the bogus name. */
static void with_bogus(const char *text, char *out, size_t size)
{
	size_t o = 0;

	mh_vrfy_bogus_name(SEED, bogus, sizeof(bogus));
	for (const char *p = text; *p && o + sizeof(bogus) < size;) {
		if (p[0] == '%' && p[1] == 's') {
			memcpy(out + o, bogus, strlen(bogus));
			o += strlen(bogus);
			p += 2;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
}

/* Plays HELLO + replies ("%s" stands for the bogus name). */
static struct t *vrfy_run(const char *replies, enum end end)
{
	char in[4096];

	with_bogus(replies, in, sizeof(in));
	return play_all_with(in, end, setup_vrfy);
}

static void expect_sent(const struct t *t, const char *text)
{
	char want[4096];

	with_bogus(text, want, sizeof(want));
	assert_string_equal(t->sent, want);
}

/* Postfix with VRFY on: 252 for root, 550 User unknown for the bogus name; EXPN unknown. */
static void test_vrfy_postfix_discloses(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "252 2.0.0 root\r\n"
	                   "550 5.1.1 <%s>: Recipient address rejected: User unknown in local "
	                   "recipient table\r\n"
	                   "502 5.5.2 Error: command not recognized\r\n221 2.0.0 Bye\r\n",
	             END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nVRFY %s\r\nEXPN root\r\nQUIT\r\n");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_true(t->res.vrfy_tested);
	assert_false(t->res.vrfy_tls);
	assert_string_equal(t->res.vrfy_bogus, bogus);
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_VRFY_ROOT], 252);
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_VRFY_BOGUS], 550);
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_EXPN_ROOT], 502);
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_EXPN_BOGUS], 0); /* not asked */
	assert_string_equal(t->res.vrfy_replies[MH_VRFY_Q_VRFY_ROOT], "252 2.0.0 root");
	assert_string_equal(t->res.vrfy, "discloses");
	assert_string_equal(t->res.expn, "disabled");
	assert_null(t->res.vrfy_error);
	assert_null(t->res.error);
	assert_false(t->res.relay_tested);
	free(t);
}

/* 250 for root, 550 for the bogus name (sendmail): discloses; EXPN the same. */
static void test_vrfy_250_550(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "250 2.1.5 <root@mx.example.net>\r\n550 5.1.1 %s... User unknown\r\n"
	                   "250 2.1.5 <root@mx.example.net>\r\n550 5.1.1 %s... User unknown\r\n"
	                   "221 Bye\r\n",
	             END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nVRFY %s\r\nEXPN root\r\nEXPN %s\r\nQUIT\r\n");
	assert_string_equal(t->res.vrfy, "discloses");
	assert_string_equal(t->res.expn, "discloses");
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_EXPN_BOGUS], 550);
	free(t);
}

/* 252 to everything (Exchange, many appliances) and 250 catch-all: ambiguous. */
static void test_vrfy_ambiguous(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "252 2.1.5 Cannot VRFY user, but will accept message\r\n"
	                   "252 2.1.5 Cannot VRFY user, but will accept message\r\n"
	                   "250 2.1.5 root\r\n250 2.1.5 %s\r\n221 Bye\r\n",
	             END_EOF);
	assert_string_equal(t->res.vrfy, "ambiguous");
	assert_string_equal(t->res.expn, "ambiguous");
	assert_null(t->res.vrfy_error);
	free(t);
	/* 550 for root too: the command answers but tells nothing. */
	t = vrfy_run(HELLO "550 5.1.1 root... User unknown\r\n502 EXPN disabled\r\n221 Bye\r\n",
	             END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nEXPN root\r\nQUIT\r\n");
	assert_string_equal(t->res.vrfy, "ambiguous");
	assert_string_equal(t->res.expn, "disabled");
	free(t);
}

/* disable_vrfy_command = yes: 502, and the bogus name is never asked. */
static void test_vrfy_disabled(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "502 5.5.1 VRFY command is disabled\r\n"
	                   "502 5.5.2 Error: command not recognized\r\n221 2.0.0 Bye\r\n",
	             END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nEXPN root\r\nQUIT\r\n");
	assert_string_equal(t->res.vrfy, "disabled");
	assert_string_equal(t->res.expn, "disabled");
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_VRFY_BOGUS], 0);
	free(t);
	/* 550 "administrative prohibition" (Exim without acl_smtp_vrfy): disabled. */
	t = vrfy_run(HELLO "550 Administrative prohibition\r\n550 Administrative prohibition\r\n"
	                   "221 Bye\r\n",
	             END_EOF);
	assert_string_equal(t->res.vrfy, "disabled");
	assert_string_equal(t->res.expn, "disabled");
	free(t);
}

/* 530 (STARTTLS or AUTH first) and 4xx: no answer to the question: null. */
static void test_vrfy_unavailable(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "530 5.7.0 Must issue a STARTTLS command first\r\n"
	                   "450 4.7.1 Try again later\r\n221 Bye\r\n",
	             END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nEXPN root\r\nQUIT\r\n");
	assert_true(t->res.vrfy_tested);
	assert_null(t->res.vrfy);
	assert_null(t->res.expn);
	assert_null(t->res.vrfy_error);
	free(t);
	/* 252 for root, then a 4xx for the bogus name: unanswered, not disclosure. */
	t = vrfy_run(HELLO "252 2.0.0 root\r\n451 4.3.0 temporary failure\r\n"
	                   "502 5.5.2 Error: command not recognized\r\n221 Bye\r\n",
	             END_EOF);
	assert_null(t->res.vrfy);
	assert_string_equal(t->res.expn, "disabled");
	free(t);
}

/* 421 (too many errors, shutting down): recorded, the rest skipped, QUIT. */
static void test_vrfy_421(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "421 4.7.0 mx.example.net Error: too many errors\r\n", END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nQUIT\r\n");
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_int_equal(t->res.vrfy_codes[MH_VRFY_Q_VRFY_ROOT], 421);
	assert_null(t->res.vrfy);
	assert_null(t->res.expn);
	assert_string_equal(t->res.vrfy_error, "server-closing");
	assert_string_equal(t->res.vrfy_detail, "421 4.7.0 mx.example.net Error: too many errors");
	assert_null(t->res.error);
	free(t);
	/* 421 to the bogus name after 252 for root: still nothing proven. */
	t = vrfy_run(HELLO "252 2.0.0 root\r\n421 4.7.0 closing\r\n", END_EOF);
	expect_sent(t, "EHLO " NAME "\r\nVRFY root\r\nVRFY %s\r\nQUIT\r\n");
	assert_null(t->res.vrfy);
	assert_string_equal(t->res.vrfy_error, "server-closing");
	free(t);
}

/* A close, a stall, garbage during the checks: vrfy_error, the record intact. */
static void test_vrfy_failures(void **state)
{
	struct t *t;

	(void)state;
	t = vrfy_run(HELLO "252 2.0.0 root\r\n", END_EOF);
	assert_string_equal(t->res.vrfy_error, "closed-during-vrfy");
	mh_vrfy_bogus_name(SEED, bogus, sizeof(bogus));
	assert_non_null(strstr(t->res.vrfy_detail, bogus));
	assert_null(t->res.vrfy);
	assert_null(t->res.error);
	assert_int_equal(t->res.ehlo_code, 250);
	free(t);
	t = vrfy_run(HELLO "252 2.0.0 root\r\n550 5.1.1 unknown\r\n", END_TIMEOUT);
	assert_string_equal(t->res.vrfy_error, "vrfy-timeout");
	assert_string_equal(t->res.vrfy, "discloses"); /* decided before the stall */
	assert_null(t->res.error);
	free(t);
	t = vrfy_run(HELLO "252 2.0.0 root\r\n550-5.1.1 unk", END_WHOLE_TIMEOUT);
	assert_string_equal(t->res.vrfy_error, "session-timeout");
	assert_null(t->res.vrfy);
	free(t);
	t = vrfy_run(HELLO "25x what\r\n", END_EOF);
	assert_true(is_reader_tag(t->res.vrfy_error));
	assert_null(t->res.error);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	free(t);
	t = vrfy_run(HELLO, END_RESET);
	assert_string_equal(t->res.vrfy_error, "connection-reset");
	assert_null(t->res.error);
	free(t);
}

/* After STARTTLS, the questions go over TLS (a server may answer only there). */
static void test_vrfy_over_tls(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	setup_vrfy(t);
	mh_smtp_session_set_starttls(&t->s, true);
	assert_int_equal(step(t, HELLO), 0);
	assert_string_equal(pending(t), "STARTTLS\r\n");
	flush(t);
	assert_int_equal(feed(t, "220 2.0.0 Ready to start TLS\r\n"), 0);
	mh_smtp_session_tls_done(&t->s, true, NULL);
	flush(t);
	assert_int_equal(feed(t, "250-mx.example.net\r\n250 PIPELINING\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_VRFY);
	assert_string_equal(pending(t), "VRFY root\r\n");
	assert_true(t->res.vrfy_tls);
	assert_true(mh_smtp_session_probing(&t->s));
	free(t);
	/* STARTTLS refused: the questions go in clear. */
	t = t_new(NAME);
	setup_vrfy(t);
	mh_smtp_session_set_starttls(&t->s, true);
	assert_int_equal(step(t, HELLO), 0);
	flush(t);
	assert_int_equal(feed(t, "454 4.7.0 TLS not available\r\n"), 0);
	assert_string_equal(pending(t), "VRFY root\r\n");
	assert_false(t->res.vrfy_tls);
	assert_string_equal(t->res.tls_error, "starttls-refused");
	free(t);
	/* HELO only (EHLO refused): the questions still follow. */
	t = t_new(NAME);
	setup_vrfy(t);
	assert_int_equal(step(t, "220 old ESMTP\r\n500 what\r\n250 old\r\n"), 0);
	assert_true(t->res.helo);
	assert_string_equal(pending(t), "VRFY root\r\n");
	assert_string_equal(t->sent, "EHLO " NAME "\r\nHELO " NAME "\r\n");
	free(t);
}

/* ---- the open-relay test ------------------------------------------------- */

/* The pairs the session sends for the default inputs (mh_relay_variants). */
static int pairs(const char *server_name, struct mh_relay_variant *v)
{
	char err[MH_ERRLEN];
	int n = mh_relay_variants(TEST_DOMAIN, server_name, SERVER_IP, OWN_DOMAIN, v,
	                          MH_RELAY_VARIANTS_MAX, err, sizeof(err));

	assert_true(n > 0);
	return n;
}

/* A server that refuses every pair: MAIL accepted, RCPT 554, RSET between. */
static void test_relay_closed(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	int n = pairs("mx.example.net", v);
	char in[8192], want[16384];
	size_t off, woff;
	struct t *t;

	(void)state;
	assert_int_equal(n, 16);
	off = (size_t)snprintf(in, sizeof(in), "%s", HELLO);
	woff = (size_t)snprintf(want, sizeof(want), "EHLO " NAME "\r\n");
	for (int i = 0; i < n; i++) {
		off += (size_t)snprintf(in + off, sizeof(in) - off,
		                        "250 2.1.0 Ok\r\n554 5.7.1 <x>: Relay access denied\r\n%s",
		                        i + 1 < n ? "250 2.0.0 Ok\r\n" : "221 2.0.0 Bye\r\n");
		woff += (size_t)snprintf(want + woff, sizeof(want) - woff,
		                         "MAIL FROM:%s\r\nRCPT TO:%s\r\n%s", v[i].mail_from, v[i].rcpt_to,
		                         i + 1 < n ? "RSET\r\n" : "QUIT\r\n");
	}
	t = play_all_with(in, END_EOF, setup_relay);
	assert_string_equal(t->sent, want);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_true(t->res.relay_tested);
	assert_false(t->res.relay_tls);
	assert_int_equal(t->res.relay_nvariants, 16);
	assert_int_equal(t->res.relay_ntried, 16);
	assert_int_equal(t->res.relay_accepted, 0);
	assert_string_equal(t->res.relay_names[0], "null-sender");
	assert_string_equal(t->res.relay_names[15], "bang-path-name");
	assert_int_equal(t->res.relay_mail_codes[3], 250);
	assert_int_equal(t->res.relay_rcpt_codes[15], 554);
	assert_null(t->res.relay_error);
	assert_null(t->res.error);
	assert_false(t->res.relay_data_tried);
	assert_null(strstr(t->sent, "DATA"));
	/* the server's name came from its EHLO answer, the sender of pair 2 */
	assert_string_equal(v[2].mail_from, "<relaytest@mx.example.net>");
	free(t);
}

/* An open relay: accepted pairs recorded; without --relay-test-data, never DATA. */
static void test_relay_open_no_data(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	int n = pairs("mx.example.net", v);
	char in[8192];
	size_t off;
	struct t *t;

	(void)state;
	off = (size_t)snprintf(in, sizeof(in), "%s", HELLO);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(in + off, sizeof(in) - off, "250 2.1.0 Ok\r\n%s250 2.0.0 Ok\r\n",
		                        i == 0 || i == 3 ? "250 2.1.5 Ok\r\n"
		                                         : "501 5.1.3 Bad recipient address syntax\r\n");
	t = play_all_with(in, END_EOF, setup_relay);
	assert_int_equal(t->res.relay_accepted, (1u << 0) | (1u << 3));
	assert_int_equal(t->res.relay_ntried, 16);
	assert_string_equal(t->res.relay_mail_from, "<>");
	assert_string_equal(t->res.relay_rcpt_to, "<relaytest@" TEST_DOMAIN ">");
	assert_string_equal(t->res.relay_reply, "250 2.1.5 Ok");
	assert_null(strstr(t->sent, "DATA"));
	assert_false(t->res.relay_data_tried);
	assert_non_null(strstr(t->sent, "RCPT TO:<relaytest@" TEST_DOMAIN ">\r\nRSET\r\n"));
	free(t);
}

/* --relay-test-data: DATA and the tagged message once, for the first accepted pair. */
static void test_relay_data(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	int n = pairs("mx.example.net", v);
	char in[8192];
	const char *msg, *end;
	size_t off;
	struct t *t;

	(void)state;
	off = (size_t)snprintf(in, sizeof(in), "%s", HELLO);
	/* pair 0 refused, pair 1 accepted: DATA; pair 2 accepted: no second DATA */
	off += (size_t)snprintf(in + off, sizeof(in) - off,
	                        "250 Ok\r\n554 denied\r\n250 Ok\r\n"
	                        "250 Ok\r\n250 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
	                        "250 2.0.0 Ok: queued as 4ABCD\r\n250 Ok\r\n"
	                        "250 Ok\r\n250 Ok\r\n250 Ok\r\n");
	for (int i = 3; i < n; i++)
		off += (size_t)snprintf(in + off, sizeof(in) - off, "250 Ok\r\n554 denied\r\n%s",
		                        i + 1 < n ? "250 Ok\r\n" : "221 Bye\r\n");
	t = play_all_with(in, END_EOF, setup_relay_data);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_int_equal(t->res.relay_accepted, (1u << 1) | (1u << 2));
	assert_true(t->res.relay_data_tried);
	assert_int_equal(t->res.relay_data_variant, 1);
	assert_int_equal(t->res.relay_data_code, 354);
	assert_int_equal(t->res.relay_data_end_code, 250);
	assert_string_equal(t->res.relay_data_reply, "250 2.0.0 Ok: queued as 4ABCD");
	assert_string_equal(t->res.relay_tag, TAG);
	assert_string_equal(t->res.relay_mail_from, v[1].mail_from);
	assert_null(t->res.relay_error);
	/* one DATA, right after pair 1's RCPT; the message carries the tag, ends with "." */
	msg = strstr(t->sent, "RCPT TO:<relaytest@" TEST_DOMAIN ">\r\nDATA\r\n");
	assert_non_null(msg);
	assert_ptr_equal(strstr(t->sent, "DATA\r\n"), strstr(msg, "DATA\r\n"));
	assert_null(strstr(strstr(msg, "DATA\r\n") + 6, "DATA\r\n"));
	assert_non_null(strstr(msg, "\r\nMessage-ID: <" TAG "@mailhole.invalid>\r\n"));
	assert_non_null(strstr(msg, "\r\nX-Mailhole-Tag: " TAG "\r\n"));
	assert_non_null(strstr(msg, "\r\nTo: <relaytest@" TEST_DOMAIN ">\r\n"));
	end = strstr(msg, "\r\n.\r\nRSET\r\n");
	assert_non_null(end);
	/* no line of the message starts with a dot, or is too long */
	for (const char *p = strstr(msg, "DATA\r\n") + 6; p < end; p = strstr(p, "\r\n") + 2) {
		assert_true(*p != '.');
		assert_true(strstr(p, "\r\n") - p < 998);
	}
	free(t);
}

/* DATA refused, or the message refused at its end: recorded, the test goes on. */
static void test_relay_data_refused(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	setup_relay_data(t);
	assert_int_equal(step(t, HELLO "250 Ok\r\n250 Ok\r\n"), 0);
	assert_string_equal(pending(t), "DATA\r\n");
	flush(t);
	assert_int_equal(feed(t, "554 5.5.1 Error: no valid recipients\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_RSET);
	assert_int_equal(t->res.relay_data_code, 554);
	assert_int_equal(t->res.relay_data_end_code, 0);
	assert_string_equal(t->res.relay_data_reply, "554 5.5.1 Error: no valid recipients");
	free(t);
	t = t_new(NAME);
	setup_relay_data(t);
	assert_int_equal(step(t, HELLO "250 Ok\r\n250 Ok\r\n354 go\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_DATA_END);
	flush(t);
	assert_int_equal(feed(t, "550 5.7.1 Message rejected\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_RSET);
	assert_int_equal(t->res.relay_data_end_code, 550);
	assert_string_equal(t->res.relay_data_reply, "550 5.7.1 Message rejected");
	free(t);
	/* a bad tag turns DATA off */
	t = t_new(NAME);
	{
		struct mh_smtp_probes p = { .relay_domain = TEST_DOMAIN, .relay_data = true,
		                            .tag = "mh\r\nRCPT TO:<x@y>" };
		mh_smtp_session_set_probes(&t->s, &p, SERVER_IP);
	}
	assert_int_equal(step(t, HELLO "250 Ok\r\n250 Ok\r\n"), 0);
	assert_string_equal(pending(t), "RSET\r\n");
	assert_null(strstr(t->sent, "DATA"));
	assert_string_equal(t->res.relay_tag, "");
	free(t);
}

/* MAIL refused: no RCPT for that pair, RSET, the next pair. */
static void test_relay_mail_refused(void **state)
{
	struct t *t = t_new(NAME);

	(void)state;
	setup_relay(t);
	assert_int_equal(step(t, HELLO "553 5.1.8 sender refused\r\n"), 0);
	assert_string_equal(pending(t), "RSET\r\n");
	assert_int_equal(t->res.relay_mail_codes[0], 553);
	assert_int_equal(t->res.relay_rcpt_codes[0], 0);
	assert_int_equal(t->res.relay_ntried, 0);
	flush(t);
	assert_int_equal(feed(t, "250 Ok\r\n"), 0);
	assert_string_equal(pending(t), "MAIL FROM:<relaytest@" OWN_DOMAIN ">\r\n");
	free(t);
}

/* 421 and failures in the middle: relay_error, what was answered stays. */
static void test_relay_failures(void **state)
{
	struct t *t;

	(void)state;
	t = t_new(NAME);
	setup_relay(t);
	assert_int_equal(step(t, HELLO "250 Ok\r\n554 denied\r\n250 Ok\r\n250 Ok\r\n"
	                               "421 4.7.0 mx Error: too many errors\r\n"),
	                 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(t->res.relay_error, "server-closing");
	assert_int_equal(t->res.relay_ntried, 2);
	assert_int_equal(t->res.relay_rcpt_codes[1], 421);
	assert_null(t->res.error);
	free(t);
	t = play_all_with(HELLO "250 Ok\r\n554 denied\r\n", END_TIMEOUT, setup_relay);
	assert_string_equal(t->res.relay_error, "relay-timeout");
	assert_string_equal(t->res.relay_detail, "in RSET");
	assert_int_equal(t->res.relay_ntried, 1);
	assert_null(t->res.error);
	free(t);
	t = play_all_with(HELLO "250 Ok\r\n554-denied\r\n", END_EOF, setup_relay);
	assert_string_equal(t->res.relay_error, "closed-during-relay");
	assert_string_equal(t->res.relay_detail, "in RCPT: 554-denied");
	free(t);
	t = play_all_with(HELLO "250 Ok\r\n\x01\x02\r\n", END_EOF, setup_relay);
	assert_true(is_reader_tag(t->res.relay_error));
	assert_null(t->res.error);
	free(t);
	t = play_all_with(HELLO, END_WHOLE_TIMEOUT, setup_relay);
	assert_string_equal(t->res.relay_error, "session-timeout");
	free(t);
}

/* What the server names itself is used only when it is a plain host name. */
static void test_relay_server_name(void **state)
{
	struct t *t;
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	int n = pairs(NULL, v);

	(void)state;
	t = t_new(NAME);
	setup_relay(t);
	assert_int_equal(step(t, "220 x ESMTP\r\n250-[198.18.0.25] hi <evil@x>\r\n250 SIZE\r\n"), 0);
	assert_int_equal(t->res.relay_nvariants, (unsigned)n);
	assert_int_equal(n, 11); /* no server-name pairs */
	assert_string_equal(pending(t), "MAIL FROM:<>\r\n");
	free(t);
	/* no usable address: no pairs at all, the test is recorded as failed */
	t = t_new(NAME);
	{
		struct mh_smtp_probes p = { .relay_domain = TEST_DOMAIN };
		mh_smtp_session_set_probes(&t->s, &p, "not-an-ip");
	}
	assert_int_equal(step(t, HELLO), 0);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_true(t->res.relay_tested);
	assert_string_equal(t->res.relay_error, "relay-variants");
	assert_int_equal(t->res.relay_nvariants, 0);
	free(t);
	/* a one-label test domain is refused the same way */
	t = t_new(NAME);
	{
		struct mh_smtp_probes p = { .relay_domain = "localhost" };
		mh_smtp_session_set_probes(&t->s, &p, SERVER_IP);
	}
	assert_int_equal(step(t, HELLO), 0);
	assert_string_equal(pending(t), "QUIT\r\n");
	assert_string_equal(t->res.relay_error, "relay-variants");
	free(t);
}

/* A server that answers before it has our command: the checks stop. */
static void test_probe_talk_ahead(void **state)
{
	struct t *t = t_new(NAME);
	size_t n;

	(void)state;
	setup_both(t);
	/* all at once: the 252 arrives while "EHLO", "VRFY root" have not left */
	assert_int_equal(feed(t, HELLO "252 2.0.0 root\r\n"), 0);
	assert_int_equal(t->s.state, MH_SMTP_QUIT);
	assert_string_equal(pending(t), "EHLO " NAME "\r\nVRFY root\r\nQUIT\r\n");
	assert_string_equal(t->res.vrfy_error, "reply-before-command");
	assert_string_equal(t->res.vrfy_detail, "252 2.0.0 root");
	assert_null(t->res.vrfy);
	assert_false(t->res.relay_tested);
	assert_null(t->res.error);
	free(t);
	/* a flood of replies cannot grow the output queue */
	t = t_new(NAME);
	setup_relay(t);
	assert_int_equal(step(t, HELLO), 0);
	flush(t);
	for (int i = 0; i < 200; i++)
		feed(t, "250 Ok\r\n");
	mh_smtp_session_pending(&t->s, &n);
	assert_true(n < 64);
	assert_string_equal(t->res.relay_error, "reply-before-command");
	assert_int_equal(t->res.relay_mail_codes[0], 250);
	assert_int_equal(t->res.relay_ntried, 0);
	free(t);
}

/* Both checks: VRFY first, then the relay test, then QUIT; every cut agrees. */
static void test_vrfy_then_relay(void **state)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	int n = pairs("mx.example.net", v);
	char in[8192];
	size_t off;
	struct t *t;

	(void)state;
	mh_vrfy_bogus_name(SEED, bogus, sizeof(bogus));
	off = (size_t)snprintf(in, sizeof(in), "%s502 5.5.1 VRFY command is disabled\r\n"
	                                       "502 5.5.2 Error: command not recognized\r\n",
	                       HELLO);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(in + off, sizeof(in) - off, "250 Ok\r\n554 denied\r\n%s",
		                        i + 1 < n ? "250 Ok\r\n" : "221 Bye\r\n");
	t = play_all_with(in, END_EOF, setup_both);
	assert_int_equal(strncmp(t->sent, "EHLO " NAME "\r\nVRFY root\r\nEXPN root\r\nMAIL FROM:<>\r\n",
	                         strlen("EHLO " NAME "\r\nVRFY root\r\nEXPN root\r\nMAIL FROM:<>\r\n")),
	                 0);
	assert_string_equal(t->res.vrfy, "disabled");
	assert_int_equal(t->res.relay_ntried, 16);
	assert_int_equal(t->s.state, MH_SMTP_DONE);
	assert_true(t->s.nreplies >= 2 + 2 + 16 * 3);
	free(t);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(mh_smtp_state_name(MH_SMTP_BANNER), "BANNER");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_EHLO), "EHLO");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_HELO), "HELO");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_QUIT), "QUIT");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_DONE), "DONE");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_VRFY), "VRFY");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_DATA_END), "DATA_END");
	assert_string_equal(mh_smtp_state_name((enum mh_smtp_state)42), "UNKNOWN");
	assert_string_equal(mh_smtp_state_name((enum mh_smtp_state) - 1), "UNKNOWN");
}

static void test_ext_bit(void **state)
{
	(void)state;
	assert_int_equal(mh_smtp_ext_bit("PIPELINING"), MH_EXT_PIPELINING);
	assert_int_equal(mh_smtp_ext_bit("SIZE 10240000"), MH_EXT_SIZE);
	assert_int_equal(mh_smtp_ext_bit("SIZE"), MH_EXT_SIZE);
	assert_int_equal(mh_smtp_ext_bit("starttls"), MH_EXT_STARTTLS);
	assert_int_equal(mh_smtp_ext_bit("AUTH PLAIN LOGIN"), MH_EXT_AUTH);
	assert_int_equal(mh_smtp_ext_bit("AUTH=LOGIN PLAIN"), MH_EXT_AUTH);
	assert_int_equal(mh_smtp_ext_bit("8BITMIME"), MH_EXT_8BITMIME);
	assert_int_equal(mh_smtp_ext_bit("DSN"), MH_EXT_DSN);
	assert_int_equal(mh_smtp_ext_bit("ENHANCEDSTATUSCODES"), MH_EXT_ENHANCEDSTATUSCODES);
	assert_int_equal(mh_smtp_ext_bit("SMTPUTF8"), MH_EXT_SMTPUTF8);
	assert_int_equal(mh_smtp_ext_bit("CHUNKING"), MH_EXT_CHUNKING);
	assert_int_equal(mh_smtp_ext_bit("VRFY"), MH_EXT_VRFY);
	assert_int_equal(mh_smtp_ext_bit("ETRN"), MH_EXT_ETRN);
	assert_int_equal(mh_smtp_ext_bit("BINARYMIME"), MH_EXT_BINARYMIME);
	assert_int_equal(mh_smtp_ext_bit(" PIPELINING"), MH_EXT_PIPELINING);
	assert_int_equal(mh_smtp_ext_bit("PIPELININGX"), 0);
	assert_int_equal(mh_smtp_ext_bit("PIPELININ"), 0);
	assert_int_equal(mh_smtp_ext_bit("SIZEX 1"), 0);
	assert_int_equal(mh_smtp_ext_bit("X-EXPS GSSAPI NTLM"), 0);
	assert_int_equal(mh_smtp_ext_bit("HELP"), 0);
	assert_int_equal(mh_smtp_ext_bit(""), 0);
	assert_int_equal(mh_smtp_ext_bit(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_postfix_steps),
	    cmocka_unit_test(test_postfix_every_cut),
	    cmocka_unit_test(test_multiline_greeting),
	    cmocka_unit_test(test_ehlo_refused_helo),
	    cmocka_unit_test(test_ehlo_and_helo_refused),
	    cmocka_unit_test(test_ehlo_4xx),
	    cmocka_unit_test(test_greeting_421),
	    cmocka_unit_test(test_greeting_554),
	    cmocka_unit_test(test_eof_each_state),
	    cmocka_unit_test(test_timeouts),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_pipelined_server),
	    cmocka_unit_test(test_capabilities),
	    cmocka_unit_test(test_banner_cut),
	    cmocka_unit_test(test_ehlo_name),
	    cmocka_unit_test(test_starttls_ok),
	    cmocka_unit_test(test_starttls_refused),
	    cmocka_unit_test(test_starttls_handshake_failed),
	    cmocka_unit_test(test_starttls_timeouts),
	    cmocka_unit_test(test_starttls_not_tried),
	    cmocka_unit_test(test_implicit_tls),
	    cmocka_unit_test(test_vrfy_postfix_discloses),
	    cmocka_unit_test(test_vrfy_250_550),
	    cmocka_unit_test(test_vrfy_ambiguous),
	    cmocka_unit_test(test_vrfy_disabled),
	    cmocka_unit_test(test_vrfy_unavailable),
	    cmocka_unit_test(test_vrfy_421),
	    cmocka_unit_test(test_vrfy_failures),
	    cmocka_unit_test(test_vrfy_over_tls),
	    cmocka_unit_test(test_relay_closed),
	    cmocka_unit_test(test_relay_open_no_data),
	    cmocka_unit_test(test_relay_data),
	    cmocka_unit_test(test_relay_data_refused),
	    cmocka_unit_test(test_relay_mail_refused),
	    cmocka_unit_test(test_relay_failures),
	    cmocka_unit_test(test_relay_server_name),
	    cmocka_unit_test(test_probe_talk_ahead),
	    cmocka_unit_test(test_vrfy_then_relay),
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_ext_bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
