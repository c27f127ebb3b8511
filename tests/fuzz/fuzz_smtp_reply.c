/*
 * fuzz_smtp_reply.c -- libFuzzer target for the SMTP reply reader
 * (scanner/smtp_reader.c).
 *
 * Input: byte 0 modulo 16 is a count k, the next k bytes are chunk lengths
 * (each + 1, used in turn), the rest is the server's stream. The stream is
 * read three times: whole, in the fuzzer's cuts, and one byte at a time.
 * The three must give the same replies in the same order, the same error
 * and the same number of bytes consumed: the parser may not depend on how
 * the network cut the stream. Every reply is checked on the way: code in
 * 200..599, 1..MH_SMTP_LINES_MAX lines each starting with that code, every
 * line but the last a continuation, the text NUL-terminated at len, no
 * control byte but '\n' and TAB, offsets consistent.
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

struct outcome {
	uint64_t hash; /* over every reply, in order */
	size_t nreplies;
	int rc;
	const char *error;
	size_t consumed;
	size_t linelen; /* what an unfinished line holds at the end */
};

static void check_reply(const struct mh_smtp_reply *rep)
{
	CHECK(rep->code >= 200 && rep->code <= 599);
	CHECK(rep->nlines >= 1 && rep->nlines <= MH_SMTP_LINES_MAX);
	CHECK(rep->len < MH_SMTP_REPLY_MAX);
	CHECK(rep->text[rep->len] == '\0');
	CHECK(rep->line_off[0] == 0);
	for (size_t i = 0; i < rep->len; i++) {
		unsigned char c = (unsigned char)rep->text[i];

		CHECK(c == '\n' || c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	for (unsigned i = 0; i < rep->nlines; i++) {
		size_t off = rep->line_off[i];
		size_t end = i + 1 < rep->nlines ? (size_t)rep->line_off[i + 1] - 1 : rep->len;
		const char *l = rep->text + off;

		CHECK(off + 3 <= rep->len);
		CHECK(end >= off + 3 && end - off <= MH_SMTP_LINE_MAX);
		CHECK((l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') == rep->code);
		if (i > 0)
			CHECK(rep->text[off - 1] == '\n');
		if (i + 1 < rep->nlines)
			CHECK(end - off >= 4 && l[3] == '-');
		else
			CHECK(end - off == 3 || l[3] == ' ');
		CHECK(memchr(l, '\n', end - off) == NULL);
	}
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static struct mh_smtp_reader rd;

/* Reads the stream in chunks: lens[i % nlens] + 1, or 1 when nlens is 0. */
static void run(const uint8_t *in, size_t len, const uint8_t *lens, size_t nlens, bool whole,
                struct outcome *o)
{
	size_t pos = 0, li = 0;

	memset(o, 0, sizeof(*o));
	o->hash = 0xcbf29ce484222325ull;
	mh_smtp_reader_init(&rd);
	while (pos < len && o->rc >= 0) {
		size_t chunk = whole ? len - pos : nlens ? (size_t)lens[li++ % nlens] + 1 : 1;

		if (chunk > len - pos)
			chunk = len - pos;
		for (size_t off = 0; off < chunk;) {
			size_t used = 0;
			int rc = mh_smtp_reader_feed(&rd, (const char *)in + pos + off, chunk - off,
			                             &used);

			CHECK(used <= chunk - off);
			off += used;
			o->consumed += used;
			if (rc == 1) {
				CHECK(rd.done);
				check_reply(&rd.reply);
				o->hash = fnv(o->hash, &rd.reply.code, sizeof(rd.reply.code));
				o->hash = fnv(o->hash, rd.reply.text, rd.reply.len + 1);
				o->nreplies++;
				continue;
			}
			CHECK(rc == 0 || rc == MH_EPROTO || rc == MH_ELIMIT);
			o->rc = rc;
			if (rc < 0) {
				CHECK(rd.error != NULL);
				CHECK(used >= 1);
				break;
			}
			CHECK(rd.error == NULL && off == chunk);
			CHECK(rd.linelen <= MH_SMTP_LINE_MAX + 1);
		}
		pos += chunk;
	}
	o->error = rd.error;
	o->linelen = rd.error ? 0 : rd.linelen;
	if (rd.error) {
		/* Sticky, and the code matches the kind of error. */
		size_t used = 7;
		int again = mh_smtp_reader_feed(&rd, "220 x\r\n", 7, &used);
		bool limit = strcmp(rd.error, "line-too-long") == 0 ||
		             strcmp(rd.error, "reply-too-long") == 0 ||
		             strcmp(rd.error, "too-many-lines") == 0;

		CHECK(again == o->rc && used == 0);
		CHECK(o->rc == (limit ? MH_ELIMIT : MH_EPROTO));
		CHECK(limit || strcmp(rd.error, "bad-reply-code") == 0 ||
		      strcmp(rd.error, "reply-code-mismatch") == 0 ||
		      strcmp(rd.error, "binary-in-reply") == 0);
	}
}

static void same(const struct outcome *a, const struct outcome *b)
{
	CHECK(a->hash == b->hash);
	CHECK(a->nreplies == b->nreplies);
	CHECK(a->rc == b->rc);
	CHECK(a->error == b->error);
	CHECK(a->consumed == b->consumed);
	CHECK(a->linelen == b->linelen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, cut, bytes;
	size_t nlens;

	if (size < 1)
		return 0;
	nlens = data[0] % 16;
	if (size < 1 + nlens)
		return 0;
	const uint8_t *lens = data + 1, *in = data + 1 + nlens;
	size_t len = size - 1 - nlens;

	run(in, len, NULL, 0, true, &whole);
	run(in, len, lens, nlens, false, &cut);
	same(&whole, &cut);
	run(in, len, NULL, 0, false, &bytes);
	same(&whole, &bytes);
	return 0;
}
