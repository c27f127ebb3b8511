/*
 * collect_imap.c -- the two IMAP answers the collector reads itself
 * (probes/collect.c hands libcurl everything else):
 *
 *   - the untagged lines of EXAMINE, for "* OK [UIDVALIDITY n]";
 *   - the untagged lines of "UID FETCH a:* (UID RFC822.SIZE)", one
 *     "* SEQ FETCH (UID n RFC822.SIZE s ...)" line per message: the list of
 *     messages to fetch, and the size of each before it is downloaded.
 *
 * Why FETCH and not "UID SEARCH": libcurl 7.88's response reader
 * (pingpong.c) clips a server line longer than half its buffer to 40 bytes
 * and says so only in verbose output, and SEARCH answers with every UID on
 * one line. A mailbox with a few thousand messages would be cut short
 * without an error. FETCH gives one short line per message.
 *
 * Both parsers take the whole answer (libcurl accumulates it), never read
 * past buf[len), and treat every byte as untrusted.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailhole/collect.h"
#include "mailhole/common.h"

#define UID_MAX 4294967295ull /* nz-number (RFC 3501) */

/* A line of buf: [*p, end of line) without CR LF; advances *p. */
static size_t next_line(const char *buf, size_t len, size_t *pos, const char **line)
{
	size_t start = *pos, end;
	const char *nl = memchr(buf + start, '\n', len - start);

	end = nl ? (size_t)(nl - buf) : len;
	*pos = nl ? end + 1 : len;
	*line = buf + start;
	if (end > start && buf[end - 1] == '\r')
		end--;
	return end - start;
}

/* Parses digits at s[*i..n) as a number <= max; advances *i. */
static int take_number(const char *s, size_t n, size_t *i, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		unsigned d = (unsigned)(s[*i] - '0');
		if (v > (max - d) / 10)
			return MH_EINVAL;
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start)
		return MH_EINVAL;
	*out = v;
	return 0;
}

/* Whether s[*i..n) starts with word (any case) followed by end, SP, '(' or ')'. */
static bool take_word(const char *s, size_t n, size_t *i, const char *word)
{
	size_t wl = strlen(word);

	if (n - *i < wl || strncasecmp(s + *i, word, wl) != 0)
		return false;
	if (*i + wl < n && s[*i + wl] != ' ' && s[*i + wl] != '(' && s[*i + wl] != ')' &&
	    s[*i + wl] != ']')
		return false;
	*i += wl;
	return true;
}

int mh_imap_parse_uidvalidity(const char *buf, size_t len, uint64_t *out)
{
	size_t pos = 0;
	int found = 0;

	*out = 0;
	while (pos < len) {
		const char *l;
		size_t n = next_line(buf, len, &pos, &l), i = 0;
		uint64_t v;

		/* "* OK [UIDVALIDITY 3857529045] UIDs valid" */
		if (n < 2 || l[0] != '*' || l[1] != ' ')
			continue;
		i = 2;
		if (!take_word(l, n, &i, "OK") || i >= n || l[i] != ' ')
			continue;
		i++;
		if (i >= n || l[i] != '[')
			continue;
		i++;
		if (!take_word(l, n, &i, "UIDVALIDITY") || i >= n || l[i] != ' ')
			continue;
		i++;
		if (take_number(l, n, &i, UID_MAX, &v) < 0 || v == 0 || i >= n || l[i] != ']') {
			*out = 0;
			return MH_EPROTO;
		}
		*out = v;
		found = 1;
	}
	return found ? 0 : MH_EPROTO;
}

/* Skips one FETCH item value at s[*i..n): atom, number, NIL, "quoted", (list). */
static int skip_value(const char *s, size_t n, size_t *i)
{
	unsigned depth = 0;

	if (*i >= n)
		return MH_EPROTO;
	do {
		if (*i >= n)
			return MH_EPROTO;
		char ch = s[*i];
		if (ch == '"') {
			(*i)++;
			while (*i < n && s[*i] != '"') {
				if (s[*i] == '\\')
					(*i)++;
				(*i)++;
			}
			if (*i >= n)
				return MH_EPROTO;
			(*i)++;
		} else if (ch == '(') {
			if (++depth > 64)
				return MH_EPROTO;
			(*i)++;
		} else if (ch == ')') {
			if (depth == 0)
				return MH_EPROTO; /* the end of the item list: no value */
			depth--;
			(*i)++;
		} else if (ch == '{') {
			return MH_EPROTO; /* a literal: never asked for */
		} else if (ch == ' ' && depth > 0) {
			(*i)++;
		} else if (ch == ' ') {
			return MH_EPROTO;
		} else {
			/* an atom or a number: up to SP or a parenthesis */
			while (*i < n && s[*i] != ' ' && s[*i] != '(' && s[*i] != ')' &&
			       s[*i] != '"')
				(*i)++;
		}
	} while (depth > 0);
	return 0;
}

/*
 * One "* SEQ FETCH (...)" line: 1 (and the UID and size) when it carries a UID,
 * 0 when the line is something else (EXISTS, an unsolicited FLAGS update
 * without UID), MH_EPROTO when it is a broken FETCH line.
 */
static int parse_fetch_line(const char *l, size_t n, uint64_t *uid, uint64_t *size)
{
	size_t i = 2;
	uint64_t seq, v;
	bool have_uid = false;

	*uid = 0;
	*size = UINT64_MAX;
	if (n < 2 || l[0] != '*' || l[1] != ' ')
		return 0;
	if (take_number(l, n, &i, UID_MAX, &seq) < 0 || i >= n || l[i] != ' ')
		return 0; /* "* OK ...", "* BYE ...": not a message line */
	i++;
	if (!take_word(l, n, &i, "FETCH"))
		return 0; /* "* 5 EXISTS", "* 3 EXPUNGE", "* 1 RECENT" */
	if (i + 1 >= n || l[i] != ' ' || l[i + 1] != '(')
		return MH_EPROTO;
	i += 2;
	for (;;) {
		if (i < n && l[i] == ')') {
			i++;
			break;
		}
		if (i >= n)
			return MH_EPROTO;
		if (take_word(l, n, &i, "UID")) {
			if (i >= n || l[i] != ' ')
				return MH_EPROTO;
			i++;
			if (take_number(l, n, &i, UID_MAX, &v) < 0 || v == 0)
				return MH_EPROTO;
			*uid = v;
			have_uid = true;
		} else if (take_word(l, n, &i, "RFC822.SIZE")) {
			if (i >= n || l[i] != ' ')
				return MH_EPROTO;
			i++;
			if (take_number(l, n, &i, UINT64_MAX - 1, &v) < 0)
				return MH_EPROTO;
			*size = v;
		} else {
			/* another item (FLAGS, MODSEQ, ...): name, SP, value */
			size_t s0 = i;
			while (i < n && l[i] != ' ' && l[i] != '(' && l[i] != ')' && l[i] != '[')
				i++;
			if (i < n && l[i] == '[') { /* BODY[...]: section spec */
				while (i < n && l[i] != ']')
					i++;
				if (i >= n)
					return MH_EPROTO;
				i++;
			}
			if (i == s0 || i >= n || l[i] != ' ')
				return MH_EPROTO;
			i++;
			if (skip_value(l, n, &i) < 0)
				return MH_EPROTO;
		}
		if (i < n && l[i] == ' ')
			i++;
		else if (i >= n || l[i] != ')')
			return MH_EPROTO;
	}
	if (i != n)
		return MH_EPROTO; /* junk after the closing parenthesis */
	return have_uid ? 1 : 0;
}

static int cmp_msg(const void *a, const void *b)
{
	const struct mh_imap_msg *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

int mh_imap_parse_fetch_list(const char *buf, size_t len, uint64_t after_uid,
                             struct mh_imap_msg **out, size_t *nout, char *err, size_t errlen)
{
	struct mh_imap_msg *v = NULL;
	size_t n = 0, cap = 0, pos = 0, lineno = 0, k, w;

	*out = NULL;
	*nout = 0;
	while (pos < len) {
		const char *l;
		size_t ll = next_line(buf, len, &pos, &l);
		uint64_t uid, size;
		int rc;

		lineno++;
		rc = parse_fetch_line(l, ll, &uid, &size);
		if (rc < 0) {
			char shown[120];
			mh_sanitize_line(shown, sizeof(shown), l, ll);
			free(v);
			return mh_err(err, errlen, MH_EPROTO,
			              "IMAP FETCH answer line %zu: not a FETCH response: \"%s\"",
			              lineno, shown);
		}
		/* "UID FETCH n:*" also answers the highest UID when it is < n */
		if (rc == 0 || uid <= after_uid)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct mh_imap_msg *nv = realloc(v, nc * sizeof(*nv));
			if (!nv) {
				free(v);
				return mh_err(err, errlen, MH_ENOMEM,
				              "IMAP FETCH answer: out of memory");
			}
			v = nv;
			cap = nc;
		}
		v[n].uid = uid;
		v[n].size = size;
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_msg);
	/* a UID twice (a FLAGS update beside the answer): keep one, with its size */
	for (k = 0, w = 0; k < n; k++) {
		if (w > 0 && v[w - 1].uid == v[k].uid) {
			if (v[w - 1].size == UINT64_MAX)
				v[w - 1].size = v[k].size;
			continue;
		}
		v[w++] = v[k];
	}
	if (w == 0) {
		free(v);
		v = NULL;
	}
	*out = v;
	*nout = w;
	return 0;
}
