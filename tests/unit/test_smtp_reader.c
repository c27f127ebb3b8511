/*
 * test_smtp_reader.c -- the SMTP reply reader (scanner/smtp_reader.c).
 *
 * Every transcript is fed whole, byte by byte and in random cuts, and the
 * three runs must agree on every reply, the error and where it was found:
 * the push parser may not depend on how the network cuts the stream.
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

/* What a whole run of the reader over one transcript gave. */
struct run {
	char log[65536]; /* "code nlines|text\n" per reply */
	size_t loglen;
	int rc;            /* last return: 0 (all consumed) or < 0 */
	const char *error; /* r->error at the end */
	size_t consumed;   /* bytes consumed, including the offending one */
	size_t partial;    /* bytes held in an unfinished line at the end */
};

enum cut { CUT_WHOLE, CUT_BYTES, CUT_RANDOM };

static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void log_reply(struct run *out, const struct mh_smtp_reply *rep)
{
	int n = snprintf(out->log + out->loglen, sizeof(out->log) - out->loglen, "%d %u|%s\n",
	                 rep->code, rep->nlines, rep->text);

	assert_true(n > 0 && (size_t)n < sizeof(out->log) - out->loglen);
	out->loglen += (size_t)n;
}

/* Checks what every complete reply must satisfy. */
static void check_reply(const struct mh_smtp_reply *rep)
{
	assert_in_range(rep->code, 200, 599);
	assert_in_range(rep->nlines, 1, MH_SMTP_LINES_MAX);
	assert_int_equal(strlen(rep->text), rep->len);
	assert_true(rep->len < MH_SMTP_REPLY_MAX);
	assert_int_equal(rep->line_off[0], 0);
	for (unsigned i = 0; i < rep->nlines; i++) {
		const char *l = rep->text + rep->line_off[i];
		char code[4];

		snprintf(code, sizeof(code), "%d", rep->code);
		assert_memory_equal(l, code, 3);
		if (i > 0)
			assert_int_equal(rep->text[rep->line_off[i] - 1], '\n');
		/* Every line but the last is a continuation. */
		if (i + 1 < rep->nlines)
			assert_int_equal(l[3], '-');
	}
}

static void run_reader(const char *in, size_t len, enum cut cut, uint32_t seed, struct run *out)
{
	struct mh_smtp_reader *r = calloc(1, sizeof(*r));
	size_t pos = 0;

	assert_non_null(r);
	memset(out, 0, sizeof(*out));
	mh_smtp_reader_init(r);
	while (pos < len && out->rc >= 0) {
		size_t chunk = cut == CUT_WHOLE   ? len - pos
		               : cut == CUT_BYTES ? 1
		                                  : 1 + rng_next(&seed) % 23;

		if (chunk > len - pos)
			chunk = len - pos;
		/* Hand the chunk over until the reader has taken all of it. */
		for (size_t off = 0; off < chunk;) {
			size_t used = 0;
			int rc = mh_smtp_reader_feed(r, in + pos + off, chunk - off, &used);

			assert_true(used <= chunk - off);
			off += used;
			out->consumed += used;
			if (rc == 1) {
				check_reply(&r->reply);
				log_reply(out, &r->reply);
				continue;
			}
			out->rc = rc;
			if (rc < 0)
				break;
			assert_int_equal(off, chunk);
		}
		pos += chunk;
	}
	out->error = r->error;
	out->partial = r->error ? 0 : r->linelen;
	free(r);
}

/* Runs all three ways, asserts they agree, returns the whole-feed run. */
static struct run *run_all(const char *in, size_t len)
{
	struct run *whole = malloc(sizeof(*whole)), *other = malloc(sizeof(*other));

	assert_non_null(whole);
	assert_non_null(other);
	run_reader(in, len, CUT_WHOLE, 0, whole);
	for (uint32_t seed = 0; seed < 12; seed++) {
		run_reader(in, len, seed == 0 ? CUT_BYTES : CUT_RANDOM, 0x9e3779b9u * seed, other);
		assert_int_equal(other->loglen, whole->loglen);
		assert_memory_equal(other->log, whole->log, whole->loglen);
		assert_int_equal(other->rc, whole->rc);
		assert_ptr_equal(other->error, whole->error);
		assert_int_equal(other->consumed, whole->consumed);
		assert_int_equal(other->partial, whole->partial);
	}
	free(other);
	return whole;
}

static struct run *run_str(const char *s)
{
	return run_all(s, strlen(s));
}

/* Expects replies (as logged) and no error. */
static void expect_ok(const char *in, const char *log)
{
	struct run *r = run_str(in);

	assert_null(r->error);
	assert_int_equal(r->rc, 0);
	assert_string_equal(r->log, log);
	free(r);
}

/* Expects an error tag after `consumed` bytes, with replies `log` before it. */
static void expect_err(const char *in, size_t len, const char *tag, int code, size_t consumed,
                       const char *log)
{
	struct run *r = run_all(in, len);

	assert_non_null(r->error);
	assert_string_equal(r->error, tag);
	assert_int_equal(r->rc, code);
	if (consumed != (size_t)-1)
		assert_int_equal(r->consumed, consumed);
	assert_string_equal(r->log, log);
	free(r);
}

static void expect_err_str(const char *in, const char *tag, int code, size_t consumed)
{
	expect_err(in, strlen(in), tag, code, consumed, "");
}

/* ---- well-formed replies ------------------------------------------------- */

static void test_single_line(void **state)
{
	(void)state;
	expect_ok("220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n",
	          "220 1|220 mx.example.net ESMTP Postfix (Debian/GNU)\n");
	/* A bare LF ends a line too. */
	expect_ok("220 mx ESMTP\n", "220 1|220 mx ESMTP\n");
}

static void test_multi_line(void **state)
{
	(void)state;
	expect_ok("250-mx.example.net\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n",
	          "250 4|250-mx.example.net\n250-PIPELINING\n250-SIZE 10240000\n250 CHUNKING\n");
	expect_ok("220-first\r\n220-\r\n220 last\r\n", "220 3|220-first\n220-\n220 last\n");
}

static void test_line_offsets(void **state)
{
	struct mh_smtp_reader *r = calloc(1, sizeof(*r));
	const char in[] = "250-a\r\n250-bc\r\n250 def\r\n";
	size_t used;

	(void)state;
	assert_non_null(r);
	mh_smtp_reader_init(r);
	assert_int_equal(mh_smtp_reader_feed(r, in, sizeof(in) - 1, &used), 1);
	assert_int_equal(used, sizeof(in) - 1);
	assert_int_equal(r->reply.code, 250);
	assert_int_equal(r->reply.nlines, 3);
	assert_string_equal(r->reply.text, "250-a\n250-bc\n250 def");
	assert_int_equal(r->reply.line_off[0], 0);
	assert_int_equal(r->reply.line_off[1], 6);
	assert_int_equal(r->reply.line_off[2], 13);
	assert_true(r->done);
	free(r);
}

static void test_code_only(void **state)
{
	(void)state;
	/* "220" alone and "220 " with empty text are whole replies. */
	expect_ok("220\r\n", "220 1|220\n");
	expect_ok("220 \r\n", "220 1|220 \n");
	expect_ok("599\n", "599 1|599\n");
	expect_ok("200 ok\n", "200 1|200 ok\n");
}

static void test_text_kept(void **state)
{
	(void)state;
	/* TAB, UTF-8 and other 8-bit bytes are text. */
	expect_ok("220 a\tb\r\n", "220 1|220 a\tb\n");
	expect_ok("220 caf\xc3\xa9 \xe2\x9c\x89\r\n", "220 1|220 caf\xc3\xa9 \xe2\x9c\x89\n");
	expect_ok("220 \xff\xfe latin-1 \xe9\r\n", "220 1|220 \xff\xfe latin-1 \xe9\n");
}

static void test_two_replies_one_buffer(void **state)
{
	struct mh_smtp_reader *r = calloc(1, sizeof(*r));
	const char in[] = "220 mx ESMTP\r\n250-mx\r\n250 SIZE\r\n";
	size_t used, off = 0;

	(void)state;
	assert_non_null(r);
	mh_smtp_reader_init(r);
	assert_int_equal(mh_smtp_reader_feed(r, in, sizeof(in) - 1, &used), 1);
	assert_int_equal(used, 14);
	assert_string_equal(r->reply.text, "220 mx ESMTP");
	off += used;
	/* The rest is the next reply; the old one is gone. */
	assert_int_equal(mh_smtp_reader_feed(r, in + off, sizeof(in) - 1 - off, &used), 1);
	assert_int_equal(off + used, sizeof(in) - 1);
	assert_int_equal(r->reply.code, 250);
	assert_int_equal(r->reply.nlines, 2);
	assert_string_equal(r->reply.text, "250-mx\n250 SIZE");
	/* And a new feed after a complete reply starts afresh. */
	assert_int_equal(mh_smtp_reader_feed(r, "221 ", 4, &used), 0);
	assert_int_equal(used, 4);
	assert_int_equal(r->reply.nlines, 0);
	assert_int_equal(mh_smtp_reader_feed(r, "Bye\r\n", 5, &used), 1);
	assert_string_equal(r->reply.text, "221 Bye");
	free(r);

	expect_ok("220 mx ESMTP\r\n250-mx\r\n250 SIZE\r\n221 Bye\r\n",
	          "220 1|220 mx ESMTP\n250 2|250-mx\n250 SIZE\n221 1|221 Bye\n");
}

static void test_incomplete(void **state)
{
	struct run *r;

	(void)state;
	r = run_str("250-mx\r\n250 SI");
	assert_null(r->error);
	assert_int_equal(r->rc, 0);
	assert_int_equal(r->loglen, 0);
	assert_int_equal(r->partial, 6);
	free(r);
	/* A CR waiting for its LF. */
	r = run_str("220 mx\r");
	assert_null(r->error);
	assert_int_equal(r->loglen, 0);
	free(r);
}

/* ---- refused input ------------------------------------------------------- */

static void test_bad_codes(void **state)
{
	(void)state;
	/* Found at the first byte that cannot be part of a code. */
	expect_err_str("2x0 hello\r\n", "bad-reply-code", MH_EPROTO, 2);
	expect_err_str("600 hello\r\n", "bad-reply-code", MH_EPROTO, 1);
	expect_err_str("100 hello\r\n", "bad-reply-code", MH_EPROTO, 1);
	expect_err_str("abc\r\n", "bad-reply-code", MH_EPROTO, 1);
	expect_err_str("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "bad-reply-code", MH_EPROTO, 1);
	expect_err_str("HTTP/1.1 400 Bad Request\r\n", "bad-reply-code", MH_EPROTO, 1);
	expect_err_str("2200 x\r\n", "bad-reply-code", MH_EPROTO, 4);
	expect_err_str("220x\r\n", "bad-reply-code", MH_EPROTO, 4);
	expect_err_str(" 220 x\r\n", "bad-reply-code", MH_EPROTO, 1);
	/* Too short to hold a code: found at the line's end. */
	expect_err_str("22\r\n", "bad-reply-code", MH_EPROTO, 3);
	expect_err_str("22\n", "bad-reply-code", MH_EPROTO, 3);
	expect_err_str("\r\n", "bad-reply-code", MH_EPROTO, 1);
	expect_err_str("\n", "bad-reply-code", MH_EPROTO, 1);
	/* A bad line in the middle of a reply. */
	expect_err_str("250-mx\r\n25O SIZE\r\n", "bad-reply-code", MH_EPROTO, 11);
}

static void test_code_mismatch(void **state)
{
	(void)state;
	/* Found at the third digit of the line that differs. */
	expect_err_str("250-mx\r\n251 SIZE\r\n", "reply-code-mismatch", MH_EPROTO, 11);
	expect_err_str("220-a\n220-b\n230 c\n", "reply-code-mismatch", MH_EPROTO, 15);
	/* Different codes in different replies are fine. */
	expect_ok("250 a\r\n251 b\r\n", "250 1|250 a\n251 1|251 b\n");
}

static void test_binary(void **state)
{
	static const char nul[] = "220 a\0b\r\n";

	(void)state;
	expect_err(nul, sizeof(nul) - 1, "binary-in-reply", MH_EPROTO, 6, "");
	expect_err_str("220 a\x01 b\r\n", "binary-in-reply", MH_EPROTO, 6);
	expect_err_str("220 \x1b[31mred\r\n", "binary-in-reply", MH_EPROTO, 5);
	expect_err_str("220 del\x7f\r\n", "binary-in-reply", MH_EPROTO, 8);
	/* A bare CR inside a line, and CR CR LF. */
	expect_err_str("220 a\rb\r\n", "binary-in-reply", MH_EPROTO, 7);
	expect_err_str("220 a\r\r\n", "binary-in-reply", MH_EPROTO, 7);
	/* A TLS record where a greeting should be. */
	expect_err_str("\x16\x03\x01\x02\x00\x01", "binary-in-reply", MH_EPROTO, 1);
	/* NUL at the start: binary rather than a bad code. */
	expect_err("\0\0\0", 3, "binary-in-reply", MH_EPROTO, 1, "");
	/* After a complete reply: that one still came out. */
	expect_err("220 ok\r\n250\0", 12, "binary-in-reply", MH_EPROTO, 12, "220 1|220 ok\n");
}

static char *repeat_line(const char *prefix, char fill, size_t total, const char *end)
{
	size_t pn = strlen(prefix), en = strlen(end);
	char *s = malloc(total + en + 1);

	assert_non_null(s);
	memcpy(s, prefix, pn);
	memset(s + pn, fill, total - pn);
	memcpy(s + total, end, en + 1);
	return s;
}

static void test_line_too_long(void **state)
{
	char *s, log[MH_SMTP_LINE_MAX + 16];

	(void)state;
	/* Exactly MH_SMTP_LINE_MAX bytes before CR LF: fine. */
	s = repeat_line("220 ", 'x', MH_SMTP_LINE_MAX, "\r\n");
	snprintf(log, sizeof(log), "220 1|%.*s\n", MH_SMTP_LINE_MAX, s);
	expect_ok(s, log);
	free(s);
	/* One more: refused at that byte, not at the LF. */
	s = repeat_line("220 ", 'x', MH_SMTP_LINE_MAX + 1, "\r\n");
	expect_err_str(s, "line-too-long", MH_ELIMIT, MH_SMTP_LINE_MAX + 1);
	free(s);
	/* An endless line without any LF fails as soon as the cap is passed. */
	s = repeat_line("220 ", 'y', 5000, "");
	expect_err_str(s, "line-too-long", MH_ELIMIT, MH_SMTP_LINE_MAX + 1);
	free(s);
	/* The CR of a full line does not count against the cap. */
	s = repeat_line("250-", 'z', MH_SMTP_LINE_MAX, "\r\n250 ok\r\n");
	{
		struct run *r = run_str(s);

		assert_null(r->error);
		assert_int_equal(r->rc, 0);
		free(r);
	}
	free(s);
}

static void test_reply_too_long(void **state)
{
	char *s = malloc(16384), *p;
	struct run *r;

	(void)state;
	assert_non_null(s);
	/* 8 lines of 1000 bytes (8007 with the '\n's), then a last one of 183: 8191. */
	p = s;
	for (int i = 0; i < 8; i++) {
		memcpy(p, "250-", 4);
		memset(p + 4, 'a' + i, 996);
		memcpy(p + 1000, "\r\n", 2);
		p += 1002;
	}
	memcpy(p, "250 ", 4);
	memset(p + 4, 'z', 179);
	memcpy(p + 183, "\r\n", 3);
	r = run_str(s);
	assert_null(r->error);
	assert_int_equal(r->loglen, strlen("250 9|\n") + MH_SMTP_REPLY_MAX - 1);
	free(r);
	/* One byte more does not fit with the NUL: refused at that byte. */
	memset(p + 4, 'z', 180);
	memcpy(p + 184, "\r\n", 3);
	expect_err_str(s, "reply-too-long", MH_ELIMIT, 8 * 1002 + 184);
	free(s);
}

static void test_too_many_lines(void **state)
{
	char *s = malloc(MH_SMTP_LINES_MAX * 8 + 64);
	size_t n = 0;
	struct run *r;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < MH_SMTP_LINES_MAX - 1; i++) {
		memcpy(s + n, "250-x\r\n", 7);
		n += 7;
	}
	memcpy(s + n, "250 y\r\n", 8);
	/* MH_SMTP_LINES_MAX lines: fine. */
	r = run_str(s);
	assert_null(r->error);
	assert_int_equal(r->rc, 0);
	free(r);
	/* A continuation on the last line we may keep: refused at its LF. */
	memcpy(s + n, "250-y\r\n250 z\r\n", 15);
	expect_err_str(s, "too-many-lines", MH_ELIMIT, n + 7);
	free(s);
}

static void test_error_is_sticky(void **state)
{
	struct mh_smtp_reader *r = calloc(1, sizeof(*r));
	size_t used = 99;

	(void)state;
	assert_non_null(r);
	mh_smtp_reader_init(r);
	assert_int_equal(mh_smtp_reader_feed(r, "SSH-2.0\r\n", 9, &used), MH_EPROTO);
	assert_int_equal(used, 1);
	assert_string_equal(r->error, "bad-reply-code");
	/* The offending byte stays in r->line for an excerpt. */
	assert_int_equal(r->linelen, 1);
	assert_int_equal(r->line[0], 'S');
	assert_int_equal(mh_smtp_reader_feed(r, "220 ok\r\n", 8, &used), MH_EPROTO);
	assert_int_equal(used, 0);
	/* used may be NULL. */
	assert_int_equal(mh_smtp_reader_feed(r, "220 ok\r\n", 8, NULL), MH_EPROTO);
	/* init clears it. */
	mh_smtp_reader_init(r);
	assert_int_equal(mh_smtp_reader_feed(r, "220 ok\r\n", 8, NULL), 1);
	free(r);
}

static void test_zero_initialized(void **state)
{
	struct mh_smtp_reader *r = calloc(1, sizeof(*r));
	size_t used;

	(void)state;
	assert_non_null(r);
	assert_int_equal(mh_smtp_reader_feed(r, "220 ok\r\n", 8, &used), 1);
	assert_string_equal(r->reply.text, "220 ok");
	assert_int_equal(mh_smtp_reader_feed(r, "", 0, &used), 0);
	assert_int_equal(used, 0);
	free(r);
}

/* Real transcripts: whole server side of a session, every cut agrees. */
static void test_transcripts_every_cut(void **state)
{
	static const char *const t[] = {
	    "220 mx.example.net ESMTP Postfix (Debian/GNU)\r\n250-mx.example.net\r\n"
	    "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
	    "250 CHUNKING\r\n221 2.0.0 Bye\r\n",
	    "220-mail.example.net ESMTP Exim 4.96 #2 Tue, 29 Nov 2022 14:33:54 +0000 \r\n"
	    "220-We do not authorize the use of this system to transport unsolicited, \r\n"
	    "220 and/or bulk e-mail.\r\n250-mail.example.net Hello [192.0.2.7]\r\n"
	    "250-SIZE 52428800\r\n250 HELP\r\n",
	    "554 5.7.1 mx.example.net: no SMTP service here\r\n221 Bye\r\n",
	    "220 a\r\n250-b\r\n250-c\n250 d\r\n221 e",
	    "220 ok\r\n250-x\r\n251 y\r\n",
	    "220 ok\r\n250 a\rb\r\n",
	    "421 4.3.2 Service not available\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		free(run_str(t[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_line),      cmocka_unit_test(test_multi_line),
	    cmocka_unit_test(test_line_offsets),     cmocka_unit_test(test_code_only),
	    cmocka_unit_test(test_text_kept),        cmocka_unit_test(test_two_replies_one_buffer),
	    cmocka_unit_test(test_incomplete),       cmocka_unit_test(test_bad_codes),
	    cmocka_unit_test(test_code_mismatch),    cmocka_unit_test(test_binary),
	    cmocka_unit_test(test_line_too_long),    cmocka_unit_test(test_reply_too_long),
	    cmocka_unit_test(test_too_many_lines),   cmocka_unit_test(test_error_is_sticky),
	    cmocka_unit_test(test_zero_initialized), cmocka_unit_test(test_transcripts_every_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
