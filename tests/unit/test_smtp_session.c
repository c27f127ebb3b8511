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
	char sent[4096]; /* the client side, as sent */
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
	static char buf[MH_SMTP_LINE_MAX + 1];
	size_t n;
	const char *p = mh_smtp_session_pending(&t->s, &n);

	assert_true(n <= MH_SMTP_LINE_MAX);
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

/* Plays a server transcript in a cut, sending after each piece. */
static void play(struct t *t, const char *in, size_t len, enum cut cut, uint32_t seed)
{
	size_t pos = 0;

	while (pos < len) {
		size_t chunk = cut == CUT_WHOLE   ? len - pos
		               : cut == CUT_BYTES ? 1
		                                  : 1 + rng_next(&seed) % 19;

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

static void assert_same(const struct t *a, const struct t *b)
{
	assert_int_equal(a->s.state, b->s.state);
	assert_string_equal(a->sent, b->sent);
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
}

/* Plays a transcript whole, then in other cuts; returns the whole run. */
static struct t *play_all(const char *in, enum end end)
{
	struct t *whole = t_new(NAME);

	play(whole, in, strlen(in), CUT_WHOLE, 0);
	finish(whole, end);
	for (uint32_t seed = 0; seed < 10; seed++) {
		struct t *o = t_new(NAME);

		play(o, in, strlen(in), seed == 0 ? CUT_BYTES : CUT_RANDOM,
		     0x2545f491u * (seed + 1));
		finish(o, end);
		assert_same(whole, o);
		free(o);
	}
	return whole;
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

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(mh_smtp_state_name(MH_SMTP_BANNER), "BANNER");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_EHLO), "EHLO");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_HELO), "HELO");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_QUIT), "QUIT");
	assert_string_equal(mh_smtp_state_name(MH_SMTP_DONE), "DONE");
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
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_ext_bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
