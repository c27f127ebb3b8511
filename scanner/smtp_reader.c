/*
 * smtp_reader.c -- the SMTP reply reader (include/mailhole/smtp.h).
 *
 * A push parser in the manner of masscan's banner parsers: the engine hands
 * it whatever the network delivered, down to one byte at a time, and it
 * yields whole replies ("250-PIPELINING" ... "250 CHUNKING"). Every decision
 * is taken on one byte with the state left by the bytes before it, so the
 * outcome never depends on how the stream was cut.
 *
 * Like OpenSMTPD's smtp_client.c it trusts nothing: a line must start with
 * a code [2-5][0-9][0-9] followed by ' ', '-' or the end of the line, all
 * lines of a reply carry the same code, text is refused when it holds NUL,
 * a C0 control other than TAB, DEL or a bare CR (8-bit and UTF-8 text is
 * kept), and every buffer has a cap checked as the bytes arrive: a server
 * sending an endless line fails as soon as the cap is passed, not at a LF
 * that may never come.
 *
 * The current line is assembled in r->line (it stays there after an error,
 * so the caller can quote the offending input) and appended to
 * r->reply.text at its LF. Plain text after the code is copied in runs;
 * only the code, the separator and special bytes go through step().
 */
#include "mailhole/smtp.h"

#include "mailhole/common.h"

#include <string.h>

static const char tag_bad_code[] = "bad-reply-code";
static const char tag_mismatch[] = "reply-code-mismatch";
static const char tag_line_long[] = "line-too-long";
static const char tag_reply_long[] = "reply-too-long";
static const char tag_many_lines[] = "too-many-lines";
static const char tag_binary[] = "binary-in-reply";

/* What a byte is to the reader. Everything not listed is text (0). */
enum { C_TEXT = 0, C_LF, C_CR, C_BIN };

static const unsigned char byte_class[256] = {
    [0x00 ... 0x08] = C_BIN, ['\n'] = C_LF,           [0x0b ... 0x0c] = C_BIN,
    ['\r'] = C_CR,           [0x0e ... 0x1f] = C_BIN, [0x7f] = C_BIN,
};

static int fail(struct mh_smtp_reader *r, const char *tag)
{
	r->error = tag;
	/* Limits are MH_ELIMIT, everything else a broken protocol. */
	if (tag == tag_line_long || tag == tag_reply_long || tag == tag_many_lines)
		return MH_ELIMIT;
	return MH_EPROTO;
}

/* Keeps the offending byte in the line so that an excerpt shows it. */
static int fail_at(struct mh_smtp_reader *r, unsigned char c, const char *tag)
{
	if (r->linelen < sizeof(r->line))
		r->line[r->linelen++] = (char)c;
	return fail(r, tag);
}

static void start_reply(struct mh_smtp_reader *r)
{
	r->reply.code = 0;
	r->reply.nlines = 0;
	r->reply.len = 0;
	r->reply.text[0] = '\0';
	r->linelen = 0;
	r->done = false;
}

void mh_smtp_reader_init(struct mh_smtp_reader *r)
{
	start_reply(r);
	r->error = NULL;
}

/*
 * How many more bytes the current line may take before the reply text
 * (lines joined by '\n', plus its NUL) would pass MH_SMTP_REPLY_MAX.
 */
static size_t reply_room(const struct mh_smtp_reader *r)
{
	size_t used = r->reply.len + (r->reply.nlines > 0 ? 1 : 0) + r->linelen;

	return used >= MH_SMTP_REPLY_MAX - 1 ? 0 : MH_SMTP_REPLY_MAX - 1 - used;
}

/* A LF ended the line in r->line: append it to the reply. */
static int end_line(struct mh_smtp_reader *r)
{
	struct mh_smtp_reply *rep = &r->reply;
	size_t n = r->linelen, off;
	bool more;

	if (n < 3)
		return fail(r, tag_bad_code); /* "", "2", "25": no whole code */
	more = n > 3 && r->line[3] == '-';
	off = rep->len;
	if (rep->nlines > 0)
		rep->text[off++] = '\n';
	/* reply_room() was checked for every byte, so this fits. */
	memcpy(rep->text + off, r->line, n);
	rep->len = off + n;
	rep->text[rep->len] = '\0';
	rep->line_off[rep->nlines++] = (uint16_t)off;
	if (!more) {
		r->linelen = 0;
		r->done = true;
		return 1;
	}
	/* A continuation after the last line we may keep: fail now, not later. */
	if (rep->nlines == MH_SMTP_LINES_MAX)
		return fail(r, tag_many_lines);
	r->linelen = 0;
	return 0;
}

/* One byte the fast path did not take: code, separator, CR, LF, binary, caps. */
static int step(struct mh_smtp_reader *r, unsigned char c)
{
	size_t n = r->linelen;
	unsigned cls = byte_class[c];

	if (n > 0 && r->line[n - 1] == '\r') {
		if (c != '\n')
			return fail_at(r, c, tag_binary); /* a bare CR */
		r->linelen = n - 1;
		return end_line(r);
	}
	if (cls == C_LF)
		return end_line(r);
	if (cls == C_BIN)
		return fail_at(r, c, tag_binary);
	if (n < 3) {
		unsigned char lo = n == 0 ? '2' : '0', hi = n == 0 ? '5' : '9';

		if (c < lo || c > hi)
			return fail_at(r, c, tag_bad_code);
		if (n == 2) {
			int code = (r->line[0] - '0') * 100 + (r->line[1] - '0') * 10 + (c - '0');

			if (r->reply.nlines == 0)
				r->reply.code = code;
			else if (code != r->reply.code)
				return fail_at(r, c, tag_mismatch);
		}
	} else if (n == 3 && c != ' ' && c != '-' && c != '\r') {
		return fail_at(r, c, tag_bad_code);
	}
	/* A CR is not counted: it is dropped by the LF that must follow it. */
	if (cls != C_CR) {
		if (n >= MH_SMTP_LINE_MAX)
			return fail_at(r, c, tag_line_long);
		if (reply_room(r) == 0)
			return fail_at(r, c, tag_reply_long);
	}
	r->line[r->linelen++] = (char)c;
	return 0;
}

int mh_smtp_reader_feed(struct mh_smtp_reader *r, const char *buf, size_t len, size_t *used)
{
	size_t i = 0;
	int rc = 0;

	if (r->error) {
		if (used)
			*used = 0;
		return fail(r, r->error);
	}
	if (r->done)
		start_reply(r);
	while (i < len) {
		size_t n = r->linelen;

		/* Fast path: a run of plain text after "DDD-", within both caps. */
		if (n > 3 && r->line[n - 1] != '\r') {
			size_t room = MH_SMTP_LINE_MAX - n, rr = reply_room(r), j = i, end;

			if (rr < room)
				room = rr;
			end = len - i < room ? len : i + room;
			while (j < end && byte_class[(unsigned char)buf[j]] == C_TEXT)
				j++;
			if (j > i) {
				memcpy(r->line + n, buf + i, j - i);
				r->linelen = n + (j - i);
				i = j;
				continue;
			}
		}
		rc = step(r, (unsigned char)buf[i++]);
		if (rc != 0)
			break;
	}
	if (used)
		*used = i;
	return rc;
}
