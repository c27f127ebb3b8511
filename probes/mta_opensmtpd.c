/*
 * mta_opensmtpd.c -- OpenSMTPD's smtpd.conf, read as smtpd's parse.y reads
 * it (include/mailhole/mta.h).
 *
 * The lexer: a backslash at the end of a line continues it (a comment too:
 * "the comment is effective until the end of the entire block"); '#'
 * outside quotes starts a comment; "double quotes" group words (\" inside);
 * { } , = ! < > are tokens of their own; $name outside quotes is replaced by
 * the macro's text, which is read again (so a macro may hold several words
 * or other macros; a loop is an error). "name = value" defines a macro.
 * `include "PATH"` reads another file (under --root), 8 levels at most.
 *
 * What decides where mail goes:
 *   listen on IFACE [inet4|inet6] [port P] [tls|smtps|tls-require] ...
 *        an SMTP listener ("socket" is the local enqueuer's Unix socket,
 *        always there: not a listener). IFACE is an interface, a group
 *        (all, egress), an address or a name (localhost). The port is 25,
 *        465 with smtps. No "listen on" line: smtpd accepts mail only from
 *        the local enqueuer.
 *   action NAME relay [host URL] [mail-from ADDR] ...  /  action NAME maildir|mbox|mda|lmtp|...
 *   match [!] for any|local|domain ... action NAME    (first match wins)
 * The relay that outgoing mail takes is the action of the first match that
 * is not "for local" and names a relay action; its "host" is the relayhost
 * ("" = direct MX delivery). Local delivery happens when a match leads to a
 * local method.
 *
 * Masquerading: smtpd qualifies bare addresses (sender and recipients, on
 * the envelope) with its server name: /etc/mailname when it exists, else
 * the host's name. A relay action's "mail-from @DOMAIN" rewrites the
 * envelope sender's domain of what it relays. Headers are left alone.
 *
 * Limits: 1 MiB per file, 64 KiB per logical line, 512 tokens per line, 16
 * levels of macro expansion and 16384 expansions in all, 8 of include. A NUL
 * or other control byte is an error naming FILE:LINE; so are an unterminated
 * quote, an undefined macro, and a "listen on" or "action" line that smtpd
 * would refuse.
 */
#include "mailhole/mta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailhole/common.h"

#define OS_FILE_MAX       (1024 * 1024)
#define OS_LINE_MAX       (64 * 1024)
#define OS_TOKENS_MAX     512
#define OS_MACRO_DEPTH    16
#define OS_INCLUDE_MAX    8
#define OS_MACROS_MAX     64
#define OS_ACTIONS_MAX    32
#define OS_LISTENS_MAX    16
#define OS_MATCHES_MAX    64
#define OS_EXPANSIONS_MAX 16384 /* in all: empty macros nested 16 deep cost no tokens */

struct os_tok {
	char *s;
	bool quoted;
};

struct os_macro {
	char name[64];
	char *value; /* owned */
};

enum os_method { OS_M_RELAY, OS_M_LOCAL };

struct os_action {
	char name[64];
	enum os_method method;
	char host[256];
	char mail_from[256];
	char where[128];
};

struct os_listen {
	char iface[128];
	char family[8];
	unsigned port;
	const char *tls; /* NULL, "starttls", "starttls-required", "smtps" */
	char where[128];
};

struct os_match {
	char action[64];
	bool outgoing; /* not "for local" */
	char where[128];
};

struct os_ctx {
	const char *root; /* include paths under it; NULL: includes are not followed */
	bool follow;
	unsigned depth;
	struct os_macro macros[OS_MACROS_MAX];
	unsigned nmacros;
	struct os_action actions[OS_ACTIONS_MAX];
	unsigned nactions;
	struct os_listen listens[OS_LISTENS_MAX];
	unsigned nlistens;
	bool listen_lines; /* a "listen on" line, counted or not */
	struct os_match matches[OS_MATCHES_MAX];
	unsigned nmatches;
	struct mh_mta_config *out;
	/* the line being read */
	const char *file;
	unsigned line;
	char *arena; /* token text of the current line */
	size_t arena_len, arena_cap;
	struct os_tok toks[OS_TOKENS_MAX];
	unsigned ntoks;
	unsigned nexpand; /* macro expansions so far, all files (OS_EXPANSIONS_MAX) */
};

static const char *os_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void os_where(struct os_ctx *x, char *dst, size_t size)
{
	snprintf(dst, size, "%s:%u", os_base(x->file), x->line);
}

static int os_fail(struct os_ctx *x, char *err, size_t errlen, int code, const char *what)
{
	return mh_err(err, errlen, code, "%s:%u: %s", x->file, x->line, what);
}

static struct os_macro *os_macro_find(struct os_ctx *x, const char *name, size_t len)
{
	for (unsigned i = 0; i < x->nmacros; i++)
		if (strlen(x->macros[i].name) == len && !memcmp(x->macros[i].name, name, len))
			return &x->macros[i];
	return NULL;
}

static bool os_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Appends one token of len bytes to the line's token list. */
static int os_push(struct os_ctx *x, const char *s, size_t len, bool quoted, char *err,
                   size_t errlen)
{
	if (x->ntoks >= OS_TOKENS_MAX)
		return os_fail(x, err, errlen, MH_ELIMIT, "more than 512 words on one line");
	if (x->arena_len + len + 1 > x->arena_cap)
		return os_fail(x, err, errlen, MH_ELIMIT,
		               "line longer than 65536 bytes once "
		               "macros are expanded");
	memcpy(x->arena + x->arena_len, s, len);
	x->arena[x->arena_len + len] = '\0';
	x->toks[x->ntoks].s = x->arena + x->arena_len;
	x->toks[x->ntoks].quoted = quoted;
	x->ntoks++;
	x->arena_len += len + 1;
	return 0;
}

/*
 * Splits text (no comment, no newline) into tokens, replacing $name by the
 * macro's text read again. depth counts the expansions in progress.
 */
static int os_split(struct os_ctx *x, const char *s, size_t len, unsigned depth, char *err,
                    size_t errlen)
{
	size_t i = 0;
	int rc;

	if (depth > OS_MACRO_DEPTH)
		return os_fail(x, err, errlen, MH_EINVAL,
		               "macros nested more than 16 deep (a loop?)");
	while (i < len) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r') {
			i++;
		} else if (c == '"') {
			/* a quoted word: \" and \\ are the quote and the backslash */
			char *buf = malloc(len - i + 1);
			size_t n = 0;
			bool closed = false;
			if (!buf)
				return mh_err(err, errlen, MH_ENOMEM, "out of memory");
			for (i++; i < len; i++) {
				if (s[i] == '\\' && i + 1 < len &&
				    (s[i + 1] == '"' || s[i + 1] == '\\'))
					buf[n++] = s[++i];
				else if (s[i] == '"') {
					closed = true;
					i++;
					break;
				} else
					buf[n++] = s[i];
			}
			rc = closed ? os_push(x, buf, n, true, err, errlen)
			            : os_fail(x, err, errlen, MH_EINVAL, "unterminated quote");
			free(buf);
			if (rc < 0)
				return rc;
		} else if (strchr("{},=!<>", c)) {
			if ((rc = os_push(x, s + i, 1, false, err, errlen)) < 0)
				return rc;
			i++;
		} else if (c == '$' && i + 1 < len && os_ident(s[i + 1])) {
			size_t n = 1;
			struct os_macro *m;
			char what[160];
			while (i + n < len && os_ident(s[i + n]))
				n++;
			if (++x->nexpand > OS_EXPANSIONS_MAX)
				return os_fail(x, err, errlen, MH_ELIMIT,
				               "more than 16384 macro expansions");
			m = os_macro_find(x, s + i + 1, n - 1);
			if (!m) {
				snprintf(what, sizeof(what), "macro '%.*s' is not defined",
				         (int)(n - 1 < 100 ? n - 1 : 100), s + i + 1);
				return os_fail(x, err, errlen, MH_EINVAL, what);
			}
			rc = os_split(x, m->value, strlen(m->value), depth + 1, err, errlen);
			if (rc < 0)
				return rc;
			i += n;
		} else {
			size_t n = 0;
			while (i + n < len && !strchr(" \t\r\"{},=!<>", s[i + n]))
				n++;
			if ((rc = os_push(x, s + i, n, false, err, errlen)) < 0)
				return rc;
			i += n;
		}
	}
	return 0;
}

/* Token k as text; "" past the end. */
static const char *os_tok(const struct os_ctx *x, unsigned k)
{
	return k < x->ntoks ? x->toks[k].s : "";
}

static bool os_is(const struct os_ctx *x, unsigned k, const char *word)
{
	return k < x->ntoks && !x->toks[k].quoted && !strcmp(x->toks[k].s, word);
}

/* The tokens from k on, joined by spaces (quoted words quoted), into buf. */
static void os_join(const struct os_ctx *x, unsigned k, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; k < x->ntoks && off + 1 < size; k++) {
		int n = snprintf(buf + off, size - off, "%s%s%s%s", off ? " " : "",
		                 x->toks[k].quoted ? "\"" : "", x->toks[k].s,
		                 x->toks[k].quoted ? "\"" : "");
		if (n < 0)
			break;
		off += (size_t)n;
		if (off >= size)
			off = size - 1;
	}
}

/* "< name >" as one word at k: returns the index after it. */
static unsigned os_skip_table(const struct os_ctx *x, unsigned k)
{
	if (os_is(x, k, "<"))
		return os_is(x, k + 2, ">") ? k + 3 : k + 2;
	return k + 1;
}

static int os_port(const char *s, unsigned *port)
{
	uint64_t n;

	if (!strcmp(s, "smtp"))
		*port = 25;
	else if (!strcmp(s, "smtps") || !strcmp(s, "submissions"))
		*port = 465;
	else if (!strcmp(s, "submission"))
		*port = 587;
	else if (mh_parse_u64(s, 1, 65535, &n) == 0)
		*port = (unsigned)n;
	else
		return -1;
	return 0;
}

static int os_listen(struct os_ctx *x, char *err, size_t errlen)
{
	struct os_listen li;
	char what[200];
	unsigned k = 2;
	bool port_set = false;

	memset(&li, 0, sizeof(li));
	x->listen_lines = true;
	if (x->ntoks < 3)
		return os_fail(x, err, errlen, MH_EINVAL, "listen on: no interface");
	if (os_is(x, 2, "socket"))
		return 0; /* the local enqueuer's socket: always there, not SMTP */
	mh_sanitize_line(li.iface, sizeof(li.iface), os_tok(x, 2), strlen(os_tok(x, 2)));
	for (k = 3; k < x->ntoks; k++) {
		const char *t = os_tok(x, k);
		if (os_is(x, k, "inet4") || os_is(x, k, "inet6")) {
			mh_strlcpy(li.family, t, sizeof(li.family));
		} else if (os_is(x, k, "port")) {
			if (k + 1 < x->ntoks && os_port(os_tok(x, k + 1), &li.port) == 0) {
				port_set = true;
				k++;
			} else if (k + 1 < x->ntoks && x->toks[k + 1].s[0] >= '0' &&
			           x->toks[k + 1].s[0] <= '9') {
				snprintf(what, sizeof(what), "listen on: bad port '%.60s'",
				         os_tok(x, k + 1));
				return os_fail(x, err, errlen, MH_EINVAL, what);
			}
		} else if (os_is(x, k, "smtps")) {
			li.tls = "smtps";
		} else if (os_is(x, k, "tls")) {
			li.tls = "starttls";
		} else if (os_is(x, k, "tls-require")) {
			li.tls = "starttls-required";
			if (os_is(x, k + 1, "verify"))
				k++;
		} else if (os_is(x, k, "auth") || os_is(x, k, "auth-optional")) {
			if (os_is(x, k + 1, "<"))
				k = os_skip_table(x, k + 1) - 1;
		} else if (os_is(x, k, "hostname") || os_is(x, k, "pki") || os_is(x, k, "ca") ||
		           os_is(x, k, "filter") || os_is(x, k, "tag")) {
			k++;
		} else if (os_is(x, k, "hostnames") || os_is(x, k, "senders")) {
			k = os_skip_table(x, k + 1) - 1;
			if (os_is(x, k + 1, "masquerade"))
				k++;
		}
	}
	if (!port_set)
		li.port = li.tls && !strcmp(li.tls, "smtps") ? 465 : 25;
	os_where(x, li.where, sizeof(li.where));
	if (x->nlistens < OS_LISTENS_MAX)
		x->listens[x->nlistens++] = li;
	return 0;
}

static int os_action(struct os_ctx *x, char *err, size_t errlen)
{
	static const char *const local_methods[] = {"maildir",     "mbox",         "mda", "lmtp",
	                                            "expand-only", "forward-only", NULL};
	struct os_action a;
	const char *m = os_tok(x, 2);

	memset(&a, 0, sizeof(a));
	if (x->ntoks < 3)
		return os_fail(x, err, errlen, MH_EINVAL, "action: needs a name and a method");
	mh_sanitize_line(a.name, sizeof(a.name), os_tok(x, 1), strlen(os_tok(x, 1)));
	if (!strcmp(m, "relay")) {
		a.method = OS_M_RELAY;
	} else {
		bool known = false;
		for (const char *const *p = local_methods; *p; p++)
			known |= !strcmp(m, *p);
		if (!known) {
			char what[160];
			snprintf(what, sizeof(what), "action %.40s: unknown method '%.40s'", a.name,
			         m);
			return os_fail(x, err, errlen, MH_EINVAL, what);
		}
		a.method = OS_M_LOCAL;
	}
	for (unsigned k = 3; k < x->ntoks; k++) {
		if (a.method == OS_M_RELAY && os_is(x, k, "host") && k + 1 < x->ntoks) {
			mh_sanitize_line(a.host, sizeof(a.host), os_tok(x, k + 1),
			                 strlen(os_tok(x, k + 1)));
			k++;
		} else if (a.method == OS_M_RELAY && os_is(x, k, "mail-from") && k + 1 < x->ntoks) {
			mh_sanitize_line(a.mail_from, sizeof(a.mail_from), os_tok(x, k + 1),
			                 strlen(os_tok(x, k + 1)));
			k++;
		}
	}
	os_where(x, a.where, sizeof(a.where));
	for (unsigned i = 0; i < x->nactions; i++)
		if (!strcmp(x->actions[i].name, a.name)) {
			char what[160];
			snprintf(what, sizeof(what), "action '%.60s' defined twice", a.name);
			return os_fail(x, err, errlen, MH_EINVAL, what);
		}
	if (x->nactions < OS_ACTIONS_MAX)
		x->actions[x->nactions++] = a;
	return 0;
}

static int os_match(struct os_ctx *x)
{
	struct os_match m;
	bool neg = false, have_action = false;

	memset(&m, 0, sizeof(m));
	for (unsigned k = 1; k < x->ntoks; k++) {
		if (os_is(x, k, "!")) {
			neg = true;
			continue;
		}
		if (os_is(x, k, "for")) {
			bool local = os_is(x, k + 1, "local");
			m.outgoing = neg ? local : !local;
		} else if (os_is(x, k, "action") && k + 1 < x->ntoks) {
			mh_sanitize_line(m.action, sizeof(m.action), os_tok(x, k + 1),
			                 strlen(os_tok(x, k + 1)));
			have_action = true;
			k++;
		}
		neg = false;
	}
	if (!have_action)
		return 0; /* "match ... reject" */
	os_where(x, m.where, sizeof(m.where));
	if (x->nmatches < OS_MATCHES_MAX)
		x->matches[x->nmatches++] = m;
	return 0;
}

static int os_parse_buf(struct os_ctx *x, const char *buf, size_t len, const char *name, char *err,
                        size_t errlen);

static int os_include(struct os_ctx *x, char *err, size_t errlen)
{
	char path[PATH_MAX], *buf = NULL, where[128];
	const char *saved_file = x->file;
	unsigned saved_line = x->line, saved_ntoks = x->ntoks;
	size_t len = 0, saved_arena = x->arena_len;
	const char *inc = os_tok(x, 1);
	int rc;

	if (x->ntoks < 2)
		return os_fail(x, err, errlen, MH_EINVAL, "include: no file named");
	os_where(x, where, sizeof(where));
	mh_mta_setting_add(x->out, "include", inc, where);
	if (!x->follow) {
		mh_mta_note(x->out, "%s: include %s not read", where, inc);
		return 0;
	}
	if (x->depth >= OS_INCLUDE_MAX)
		return os_fail(x, err, errlen, MH_ELIMIT, "include: more than 8 levels");
	if (snprintf(path, sizeof(path), "%s%s", x->root ? x->root : "", inc) >= (int)sizeof(path))
		return os_fail(x, err, errlen, MH_ELIMIT, "include: path too long");
	rc = mh_read_file(path, OS_FILE_MAX, &buf, &len, err, errlen);
	if (rc < 0) {
		char e[MH_ERRLEN];
		mh_strlcpy(e, err, sizeof(e));
		return mh_err(err, errlen, rc, "%s:%u: include: %s", x->file, x->line, e);
	}
	x->depth++;
	/* The included file reuses the arena after this line's tokens. */
	x->arena += saved_arena;
	x->arena_cap -= saved_arena;
	x->arena_len = 0;
	rc = os_parse_buf(x, buf, len, path, err, errlen);
	x->arena -= saved_arena;
	x->arena_cap += saved_arena;
	x->arena_len = saved_arena;
	x->ntoks = saved_ntoks;
	x->depth--;
	x->file = saved_file;
	x->line = saved_line;
	free(buf);
	return rc;
}

/* One logical line, comment removed: its tokens, then the directive. */
static int os_line(struct os_ctx *x, const char *s, size_t len, char *err, size_t errlen)
{
	int rc;

	x->ntoks = 0;
	x->arena_len = 0;
	rc = os_split(x, s, len, 0, err, errlen);
	if (rc < 0 || x->ntoks == 0)
		return rc;
	/* "name = value": a macro, its value expanded now (as parse.y does) */
	if (x->ntoks >= 2 && os_is(x, 1, "=") && !x->toks[0].quoted) {
		struct os_macro *m;
		char val[OS_LINE_MAX < 4096 ? OS_LINE_MAX : 4096];
		for (const char *p = x->toks[0].s; *p; p++)
			if (!os_ident(*p))
				return os_fail(x, err, errlen, MH_EINVAL, "bad macro name");
		os_join(x, 2, val, sizeof(val));
		/* quoted words lose their quotes in the value */
		if (x->ntoks == 3)
			mh_strlcpy(val, x->toks[2].s, sizeof(val));
		m = os_macro_find(x, x->toks[0].s, strlen(x->toks[0].s));
		if (!m) {
			if (x->nmacros >= OS_MACROS_MAX)
				return os_fail(x, err, errlen, MH_ELIMIT, "more than 64 macros");
			m = &x->macros[x->nmacros++];
			mh_strlcpy(m->name, x->toks[0].s, sizeof(m->name));
		}
		free(m->value);
		m->value = strdup(val);
		if (!m->value)
			return mh_err(err, errlen, MH_ENOMEM, "out of memory");
		return 0;
	}
	if (x->toks[0].quoted)
		return 0;
	if (os_is(x, 0, "listen") && os_is(x, 1, "on"))
		return os_listen(x, err, errlen);
	if (os_is(x, 0, "listen"))
		return os_fail(x, err, errlen, MH_EINVAL, "listen: 'on' expected");
	if (os_is(x, 0, "action"))
		return os_action(x, err, errlen);
	if (os_is(x, 0, "match"))
		return os_match(x);
	if (os_is(x, 0, "include"))
		return os_include(x, err, errlen);
	return 0; /* everything else does not decide where mail goes */
}

static int os_parse_buf(struct os_ctx *x, const char *buf, size_t len, const char *name, char *err,
                        size_t errlen)
{
	char *logical = malloc(OS_LINE_MAX + 1);
	size_t pos = 0, llen = 0;
	unsigned lineno = 0, lstart = 0;
	bool cont = false;
	int rc = 0;

	if (!logical)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	x->file = name;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t plen = nl ? (size_t)(nl - line) : len - pos;
		pos += plen + (nl ? 1 : 0);
		lineno++;
		for (size_t i = 0; i < plen; i++) {
			unsigned char c = (unsigned char)line[i];
			if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
				rc = mh_err(err, errlen, MH_EINVAL,
				            "%s:%u: binary data (byte 0x%02x at column %zu)", name,
				            lineno, c, i + 1);
				goto out;
			}
		}
		if (plen && line[plen - 1] == '\r')
			plen--;
		if (!cont) {
			llen = 0;
			lstart = lineno;
		}
		if (llen + plen > OS_LINE_MAX) {
			rc = mh_err(err, errlen, MH_ELIMIT, "%s:%u: line longer than %d bytes",
			            name, lstart, OS_LINE_MAX);
			goto out;
		}
		memcpy(logical + llen, line, plen);
		llen += plen;
		if (llen && logical[llen - 1] == '\\') {
			logical[llen - 1] = ' ';
			cont = true;
			if (pos < len)
				continue;
		}
		cont = false;
		/* the comment: '#' outside quotes, to the end */
		{
			bool q = false;
			for (size_t i = 0; i < llen; i++) {
				if (logical[i] == '\\' && q && i + 1 < llen)
					i++;
				else if (logical[i] == '"')
					q = !q;
				else if (logical[i] == '#' && !q) {
					llen = i;
					break;
				}
			}
		}
		x->file = name;
		x->line = lstart;
		rc = os_line(x, logical, llen, err, errlen);
		if (rc < 0)
			goto out;
	}
out:
	free(logical);
	return rc;
}

static const char *os_scope(const char *iface)
{
	if (!strcmp(iface, "localhost") || !strcmp(iface, "lo") || !strcmp(iface, "lo0") ||
	    !strncmp(iface, "127.", 4) || !strcmp(iface, "::1"))
		return "loopback";
	if (!strcmp(iface, "all") || !strcmp(iface, "0.0.0.0") || !strcmp(iface, "::") ||
	    !strcmp(iface, "*"))
		return "all";
	return "specific";
}

static const struct os_action *os_action_find(const struct os_ctx *x, const char *name)
{
	for (unsigned i = 0; i < x->nactions; i++)
		if (!strcmp(x->actions[i].name, name))
			return &x->actions[i];
	return NULL;
}

/* From what was read to the model of mta.h. */
static void os_apply(struct os_ctx *x, const char *hostname, const char *mailname)
{
	struct mh_mta_config *c = x->out;
	const struct os_action *relay = NULL;
	const char *server = mailname && mailname[0] ? mailname : (hostname ? hostname : "");
	char item[200];
	bool loopback_only = true;

	c->listen[0] = '\0';
	for (unsigned i = 0; i < x->nlistens; i++) {
		const struct os_listen *li = &x->listens[i];
		size_t off = strlen(c->listen);
		snprintf(item, sizeof(item), "%s%s:%u%s%s%s%s", off ? ", " : "", li->iface,
		         li->port, li->family[0] ? " " : "", li->family, li->tls ? " " : "",
		         li->tls ? li->tls : "");
		if (off < sizeof(c->listen))
			mh_strlcpy(c->listen + off, item, sizeof(c->listen) - off);
		snprintf(item, sizeof(item), "%s port %u%s%s (%s)", li->iface, li->port,
		         li->tls ? " " : "", li->tls ? li->tls : "", os_scope(li->iface));
		mh_mta_setting_add(c, "listen on", item, li->where);
		if (strcmp(os_scope(li->iface), "loopback") != 0)
			loopback_only = false;
		/* seen in the lab: Debian 12's smtpd 6.8 stops with "invalid virtual
		 * ip or interface: all", although the shipped file suggests it */
		if (!strcmp(li->iface, "all") || !strcmp(li->iface, "egress"))
			mh_mta_note(c,
			            "%s: listen on %s: an OpenBSD interface group; OpenSMTPD "
			            "6.8 on Linux refuses it",
			            li->where, li->iface);
	}
	if (x->nlistens) {
		c->smtp_listener = MH_TRI_YES;
		if (!loopback_only)
			mh_mta_note(c, "listens beyond loopback: %s", c->listen);
	} else {
		c->smtp_listener = MH_TRI_NO;
		mh_strlcpy(c->listen, x->listen_lines ? "socket" : "", sizeof(c->listen));
	}

	c->local_delivery = false;
	for (unsigned i = 0; i < x->nmatches; i++) {
		const struct os_match *m = &x->matches[i];
		const struct os_action *a = os_action_find(x, m->action);
		if (!a) {
			mh_mta_note(c,
			            "%s: match names action '%s', which is not defined (smtpd "
			            "refuses this file)",
			            m->where, m->action);
			continue;
		}
		if (a->method == OS_M_LOCAL)
			c->local_delivery = true;
		if (a->method == OS_M_RELAY && m->outgoing && !relay)
			relay = a;
	}
	if (relay) {
		char key[96], val[MH_MTA_VALUE_MAX];
		snprintf(val, sizeof(val), "relay%s%.200s%s%.200s", relay->host[0] ? " host " : "",
		         relay->host, relay->mail_from[0] ? " mail-from " : "", relay->mail_from);
		snprintf(key, sizeof(key), "action %.50s", relay->name);
		mh_mta_setting_add(c, key, val, relay->where);
		mh_strlcpy(c->relayhost, relay->host, sizeof(c->relayhost));
	}

	if (mailname && mailname[0])
		mh_mta_setting_add(c, "mailname", mailname, "mailname:1");
	c->masq.known = true;
	c->masq.always_add_domain = MH_TRI_YES; /* the enqueuer qualifies every bare address */
	if (relay && relay->mail_from[0] && strchr(relay->mail_from, '@') &&
	    strchr(relay->mail_from, '@')[1]) {
		const char *at = strchr(relay->mail_from, '@');
		mh_strlcpy(c->masq.domain, at + 1, sizeof(c->masq.domain));
		c->masq.envelope = MH_TRI_YES;
		c->masq.recipients = MH_TRI_NO;
		if (at != relay->mail_from)
			mh_mta_note(c,
			            "%s: mail-from %s replaces every relayed sender, not only "
			            "its domain",
			            relay->where, relay->mail_from);
	} else if (server[0] && strcasecmp(server, hostname ? hostname : "") != 0) {
		mh_strlcpy(c->masq.domain, server, sizeof(c->masq.domain));
		c->masq.envelope = MH_TRI_YES;
		c->masq.recipients = MH_TRI_YES;
	} else {
		c->masq.domain[0] = '\0';
		c->masq.envelope = MH_TRI_NO;
		c->masq.recipients = MH_TRI_NO;
	}
}

static void os_free(struct os_ctx *x)
{
	for (unsigned i = 0; i < x->nmacros; i++)
		free(x->macros[i].value);
	free(x->arena);
	free(x);
}

static int os_run(const char *buf, size_t len, const char *name, const char *root, bool follow,
                  const char *hostname, const char *mailname, struct mh_mta_config *out, char *err,
                  size_t errlen)
{
	struct os_ctx *x = calloc(1, sizeof(*x));
	int rc;

	out->product = "opensmtpd";
	mh_strlcpy(out->config, name, sizeof(out->config));
	if (!x)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	/* token text of a line and of every include level under it */
	x->arena_cap = (size_t)(OS_INCLUDE_MAX + 1) * (OS_LINE_MAX + OS_TOKENS_MAX + 16);
	x->arena = malloc(x->arena_cap);
	if (!x->arena) {
		os_free(x);
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	}
	x->root = root;
	x->follow = follow;
	x->out = out;
	rc = os_parse_buf(x, buf, len, name, err, errlen);
	if (rc == 0)
		os_apply(x, hostname, mailname);
	os_free(x);
	return rc;
}

int mh_opensmtpd_parse(const char *buf, size_t len, const char *name, const char *hostname,
                       const char *mailname, struct mh_mta_config *out, char *err, size_t errlen)
{
	return os_run(buf, len, name, NULL, false, hostname, mailname, out, err, errlen);
}

int mh_opensmtpd_read(const char *conf_path, const char *root, const char *hostname,
                      struct mh_mta_config *out, char *err, size_t errlen)
{
	char path[PATH_MAX], mailname[256] = "", *buf = NULL, *mn = NULL;
	size_t len = 0, mlen = 0;
	int rc;

	out->product = "opensmtpd";
	mh_strlcpy(out->config, conf_path, sizeof(out->config));
	rc = mh_read_file(conf_path, OS_FILE_MAX, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/etc/mailname", root ? root : "");
	if (mh_read_file(path, 4096, &mn, &mlen, NULL, 0) == 0) {
		size_t t = strcspn(mn, "\r\n");
		const char *s = mn;
		while (t && (*s == ' ' || *s == '\t')) {
			s++;
			t--;
		}
		while (t && (s[t - 1] == ' ' || s[t - 1] == '\t'))
			t--;
		mh_sanitize_line(mailname, sizeof(mailname), s, t);
		free(mn);
	}
	rc = os_run(buf, len, conf_path, root ? root : "", true, hostname, mailname, out, err,
	            errlen);
	free(buf);
	return rc;
}
