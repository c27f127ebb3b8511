/*
 * fuzz_smtp_session.c -- libFuzzer target for the SMTP session
 * (scanner/smtp_session.c) and the fingerprint of what it records
 * (scanner/fingerprint.c), fed arbitrary server bytes.
 *
 * Input: byte 0 picks the end (bits 0-2: none, EOF, reset, state timeout,
 * whole-session timeout) and the most the "engine" sends per write (bits
 * 3-7: 0 = all pending); byte 1 modulo 16 is a count k and the next k bytes
 * are chunk lengths (each + 1, in turn); the rest is what the server sends.
 *
 * The session runs twice: the stream whole with every write complete, then
 * in the fuzzer's cuts with short writes. Both must never crash, must end
 * in the same state with the same record (the excerpt of a reader error
 * quotes what followed in the same read, so it alone may differ), and the
 * record must be consistent: strings NUL-terminated in their arrays, known
 * error tags, a printable detail, codes in range, a complete record when
 * there is no error, what we sent a well-formed sequence of our commands,
 * a fingerprint that is NULL or a known product with a digits-and-dots
 * version.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/smtp.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define NAME "scanner.example.net"

struct run {
	struct mh_smtp_session s;
	struct mh_smtp_result res;
	char sent[4096];
	size_t sentlen;
};

static struct run a, b;

static const char *const tags[] = {
    "banner-timeout",       "ehlo-timeout",       "helo-timeout",       "session-timeout",
    "closed-before-banner", "closed-during-ehlo", "closed-during-helo", "connection-reset",
    "greeting-refused",     "ehlo-refused",       "bad-reply-code",     "reply-code-mismatch",
    "line-too-long",        "reply-too-long",     "too-many-lines",     "binary-in-reply",
};

static const char *const products[] = {
    "postfix", "sendmail", "exim",   "opensmtpd",   "exchange", "haraka",
    "courier", "mdaemon",  "domino", "communigate", "iis-smtp",
};

static bool reader_tag(const char *e)
{
	for (size_t i = 10; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (strcmp(e, tags[i]) == 0)
			return true;
	return false;
}

static void send_some(struct run *r, size_t max)
{
	size_t n;
	const char *p = mh_smtp_session_pending(&r->s, &n);

	CHECK(n <= sizeof(r->s.out));
	if (max && n > max)
		n = max;
	CHECK(r->sentlen + n < sizeof(r->sent));
	memcpy(r->sent + r->sentlen, p, n);
	r->sentlen += n;
	r->sent[r->sentlen] = '\0';
	mh_smtp_session_sent(&r->s, n);
}

static void play(struct run *r, const uint8_t *in, size_t len, const uint8_t *lens, size_t nlens,
                 size_t max_write, unsigned end)
{
	size_t pos = 0, li = 0;

	memset(r->sent, 0, sizeof(r->sent));
	r->sentlen = 0;
	mh_smtp_session_init(&r->s, &r->res, NAME);
	while (pos < len) {
		size_t chunk = nlens ? (size_t)lens[li++ % nlens] + 1 : len - pos;
		int done;

		if (chunk > len - pos)
			chunk = len - pos;
		done = mh_smtp_session_input(&r->s, (const char *)in + pos, chunk);
		CHECK(done == (r->s.state == MH_SMTP_DONE));
		send_some(r, max_write);
		pos += chunk;
	}
	switch (end) {
	case 1:
	case 2:
		mh_smtp_session_eof(&r->s, end == 2);
		CHECK(r->s.state == MH_SMTP_DONE);
		break;
	case 3:
	case 4:
		mh_smtp_session_timeout(&r->s, end == 4);
		CHECK(r->s.state == MH_SMTP_DONE);
		break;
	default:
		break;
	}
	/* Whatever is still pending goes out in full. */
	for (;;) {
		size_t n;

		mh_smtp_session_pending(&r->s, &n);
		if (n == 0)
			break;
		send_some(r, max_write);
	}
}

static void check_str(const char *s, size_t size)
{
	CHECK(memchr(s, '\0', size) != NULL);
}

static void check_record(const struct run *r)
{
	const struct mh_smtp_result *res = &r->res;
	const char *e = res->error;
	struct mh_mta mta;
	bool known = false;

	CHECK(r->s.state <= MH_SMTP_DONE);
	CHECK(strcmp(mh_smtp_state_name(r->s.state), "UNKNOWN") != 0);
	check_str(res->banner, sizeof(res->banner));
	check_str(res->ehlo_name, sizeof(res->ehlo_name));
	check_str(res->detail, sizeof(res->detail));
	for (const char *p = res->detail; *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
	CHECK(res->ncaps <= MH_SMTP_CAPS_MAX);
	for (unsigned i = 0; i < res->ncaps; i++) {
		check_str(res->caps[i], MH_SMTP_CAP_LEN);
		CHECK(res->caps[i][0] != '\0');
	}
	CHECK(res->code == 0 || (res->code >= 200 && res->code <= 599));
	CHECK(res->ehlo_code == 0 || (res->ehlo_code >= 200 && res->ehlo_code <= 599));
	CHECK(res->code != 0 || (res->banner[0] == '\0' && res->ehlo_code == 0));
	CHECK(res->ehlo_code != 0 || res->ncaps == 0);
	if (e) {
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			known |= strcmp(e, tags[i]) == 0;
		CHECK(known);
	} else {
		CHECK(res->detail[0] == '\0');
	}
	/* Finished without an error: the record is complete. */
	if (r->s.state == MH_SMTP_DONE && !e)
		CHECK(res->code / 100 == 2 && res->ehlo_code / 100 == 2);

	/* What we sent: EHLO, then maybe HELO, then maybe QUIT; or QUIT alone. */
	{
		const char *p = r->sent;

		if (strncmp(p, "EHLO " NAME "\r\n", sizeof("EHLO " NAME "\r\n") - 1) == 0)
			p += sizeof("EHLO " NAME "\r\n") - 1;
		if (strncmp(p, "HELO " NAME "\r\n", sizeof("HELO " NAME "\r\n") - 1) == 0) {
			CHECK(p != r->sent);
			p += sizeof("HELO " NAME "\r\n") - 1;
		}
		if (strcmp(p, "QUIT\r\n") == 0)
			p += 6;
		CHECK(*p == '\0');
		CHECK(res->helo == (strstr(r->sent, "HELO") != NULL));
	}

	mh_fingerprint(res, &mta);
	if (mta.product) {
		known = false;
		for (size_t i = 0; i < sizeof(products) / sizeof(products[0]); i++)
			known |= strcmp(mta.product, products[i]) == 0;
		CHECK(known);
	}
	check_str(mta.version, sizeof(mta.version));
	for (const char *p = mta.version; *p; p++)
		CHECK((*p >= '0' && *p <= '9') || *p == '.' ||
		      (p[1] == '\0' && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))));
	CHECK(mta.version[0] == '\0' || mta.product != NULL);
}

static void same(const struct run *x, const struct run *y)
{
	CHECK(x->s.state == y->s.state);
	CHECK(strcmp(x->sent, y->sent) == 0);
	CHECK(x->res.code == y->res.code);
	CHECK(strcmp(x->res.banner, y->res.banner) == 0);
	CHECK(x->res.ehlo_code == y->res.ehlo_code);
	CHECK(x->res.helo == y->res.helo);
	CHECK(strcmp(x->res.ehlo_name, y->res.ehlo_name) == 0);
	CHECK(x->res.ncaps == y->res.ncaps);
	for (unsigned i = 0; i < x->res.ncaps; i++)
		CHECK(strcmp(x->res.caps[i], y->res.caps[i]) == 0);
	CHECK(x->res.ext == y->res.ext);
	CHECK(x->res.error == y->res.error);
	if (x->res.error && !reader_tag(x->res.error))
		CHECK(strcmp(x->res.detail, y->res.detail) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned end, max_write;
	size_t nlens;

	if (size < 2)
		return 0;
	end = data[0] & 7;
	max_write = data[0] >> 3;
	nlens = data[1] % 16;
	if (size < 2 + nlens)
		return 0;
	const uint8_t *lens = data + 2, *in = data + 2 + nlens;
	size_t len = size - 2 - nlens;

	play(&a, in, len, NULL, 0, 0, end);
	check_record(&a);
	play(&b, in, len, lens, nlens, max_write, end);
	check_record(&b);
	same(&a, &b);
	return 0;
}
