/*
 * smtp_session.c -- the client side of one SMTP conversation, without I/O
 * (include/mailhole/smtp.h): greeting, EHLO (HELO when EHLO is refused),
 * capabilities, STARTTLS and EHLO again, then, when asked for, VRFY / EXPN
 * and the open-relay test, and QUIT.
 *
 * The shape is curl's lib/smtp.c: an enum of states with a names table,
 * set_state() as the only way to change state, a perform_<cmd>() that
 * queues a command and enters the state waiting for its answer, a
 * state_<state>_resp() that judges that answer, and one dispatcher. The
 * engine owns the socket: it feeds us what it reads, sends what
 * mh_smtp_session_pending() returns, and tells us about EOF and deadlines.
 *
 * Whatever the server does is data: a refusal, a close, a timeout or
 * garbage ends the session with a tag in res->error and a sanitized excerpt
 * in res->detail, never with an error of the engine. Nothing is allocated;
 * the session lives in the engine's connection slot.
 *
 * Bytes that follow a reply in the same read belong to the next state and
 * are parsed at once, before our next command has left: a server that
 * talks ahead (a greeting followed by junk, a pipelined EHLO answer) is
 * judged on exactly what it sent. Commands queue up in s->out, so nothing
 * we have to say is lost meanwhile.
 */
#include "mailhole/smtp.h"

#include "mailhole/common.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Used when the configured EHLO name could not go on the wire as it is. */
#define EHLO_FALLBACK "mailhole.invalid"
#define EHLO_NAME_MAX 255

/* EHLO and HELO with the longest name, then QUIT, can all be queued at once. */
_Static_assert(MH_SMTP_OUT_MAX >= 2 * (5 + EHLO_NAME_MAX + 2) + 6, "out[] too small");
/* The relay test's message (see queue_message) with the longest paths and tag. */
#define MESSAGE_MAX (700 + 3 * MH_RELAY_PATH_MAX + 4 * MH_SMTP_TAG_MAX + 64)
_Static_assert(MH_SMTP_OUT_MAX >= MESSAGE_MAX, "out[] too small for the relay message");

static const char *const state_names[] = {
    [MH_SMTP_BANNER] = "BANNER",
    [MH_SMTP_EHLO] = "EHLO",
    [MH_SMTP_HELO] = "HELO",
    [MH_SMTP_QUIT] = "QUIT",
    [MH_SMTP_DONE] = "DONE",
    [MH_SMTP_STARTTLS] = "STARTTLS",
    [MH_SMTP_TLS_HANDSHAKE] = "TLS_HANDSHAKE",
    [MH_SMTP_EHLO2] = "EHLO2",
    [MH_SMTP_VRFY] = "VRFY",
    [MH_SMTP_MAIL] = "MAIL",
    [MH_SMTP_RCPT] = "RCPT",
    [MH_SMTP_RSET] = "RSET",
    [MH_SMTP_DATA] = "DATA",
    [MH_SMTP_DATA_END] = "DATA_END",
};

const char *mh_smtp_state_name(enum mh_smtp_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "UNKNOWN";
	return state_names[s];
}

/* ---- ESMTP extensions ---------------------------------------------------- */

static const struct {
	const char *keyword;
	uint32_t bit;
} ext_table[] = {
    {"PIPELINING", MH_EXT_PIPELINING},
    {"SIZE", MH_EXT_SIZE},
    {"STARTTLS", MH_EXT_STARTTLS},
    {"AUTH", MH_EXT_AUTH},
    {"8BITMIME", MH_EXT_8BITMIME},
    {"DSN", MH_EXT_DSN},
    {"ENHANCEDSTATUSCODES", MH_EXT_ENHANCEDSTATUSCODES},
    {"SMTPUTF8", MH_EXT_SMTPUTF8},
    {"CHUNKING", MH_EXT_CHUNKING},
    {"VRFY", MH_EXT_VRFY},
    {"ETRN", MH_EXT_ETRN},
    {"BINARYMIME", MH_EXT_BINARYMIME},
};

static unsigned char ascii_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

/*
 * The keyword of a capability line of n bytes: up to a space, a TAB or '='
 * (old-style "AUTH=LOGIN PLAIN" counts as AUTH), compared without case.
 */
static uint32_t ext_bit_n(const char *p, size_t n)
{
	size_t k = 0;

	while (n > 0 && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (k < n && p[k] != ' ' && p[k] != '\t' && p[k] != '=')
		k++;
	for (size_t i = 0; i < sizeof(ext_table) / sizeof(ext_table[0]); i++) {
		const char *kw = ext_table[i].keyword;
		size_t j = 0;

		while (j < k && kw[j] && ascii_upper((unsigned char)p[j]) == (unsigned char)kw[j])
			j++;
		if (j == k && kw[j] == '\0')
			return ext_table[i].bit;
	}
	return 0;
}

uint32_t mh_smtp_ext_bit(const char *capline)
{
	return capline ? ext_bit_n(capline, strlen(capline)) : 0;
}

/* ---- small helpers ------------------------------------------------------- */

/*
 * Copies n bytes of reply text into dst (size bytes, NUL-terminated). When
 * it must cut, it cuts before a UTF-8 sequence rather than inside it. The
 * bytes are kept raw: the reader already refused NULs and controls.
 */
static void copy_text(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size) {
		size_t k = size - 1, back = 0;

		while (k > 0 && back < 3 && ((unsigned char)src[k] & 0xc0) == 0x80)
			k--, back++;
		n = ((unsigned char)src[k] & 0xc0) == 0x80 ? size - 1 : k;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Line i of a reply: its start and length. */
static const char *reply_line(const struct mh_smtp_reply *rep, unsigned i, size_t *n)
{
	size_t off = rep->line_off[i];
	size_t end = i + 1 < rep->nlines ? (size_t)rep->line_off[i + 1] - 1 : rep->len;

	*n = end - off;
	return rep->text + off;
}

/* The text of a reply line after "DDD-" / "DDD " ("" for a bare "DDD"). */
static const char *line_text(const char *line, size_t n, size_t *tn)
{
	*tn = n > 4 ? n - 4 : 0;
	return n > 4 ? line + 4 : line + n;
}

static bool ehlo_name_ok(const char *name)
{
	size_t n = 0;

	if (!name)
		return false;
	for (; name[n]; n++) {
		unsigned char c = (unsigned char)name[n];

		/* Printable ASCII without spaces: no CR/LF smuggling a command. */
		if (c <= 0x20 || c >= 0x7f || n >= EHLO_NAME_MAX)
			return false;
	}
	return n > 0;
}

/* ---- the state machine --------------------------------------------------- */

/* The only place that changes s->state. */
static void set_state(struct mh_smtp_session *s, enum mh_smtp_state next)
{
	if (s->state != next)
		mh_log_debug("smtp: %s -> %s", mh_smtp_state_name(s->state),
		             mh_smtp_state_name(next));
	s->state = next;
}

/* Appends "VERB[ arg]\r\n" to the output queue. */
static void queue_cmd(struct mh_smtp_session *s, const char *verb, const char *arg)
{
	size_t vn = strlen(verb), an = arg ? strlen(arg) : 0;
	size_t need = vn + (arg ? 1 + an : 0) + 2;

	if (s->outoff > 0) {
		memmove(s->out, s->out + s->outoff, s->outlen - s->outoff);
		s->outlen -= s->outoff;
		s->outoff = 0;
	}
	if (need > sizeof(s->out) - s->outlen)
		return; /* cannot happen: see the _Static_assert above */
	memcpy(s->out + s->outlen, verb, vn);
	s->outlen += vn;
	if (arg) {
		s->out[s->outlen++] = ' ';
		memcpy(s->out + s->outlen, arg, an);
		s->outlen += an;
	}
	memcpy(s->out + s->outlen, "\r\n", 2);
	s->outlen += 2;
}

/* error = tag, detail = prefix + the reply's first line, sanitized. */
static void fail_reply(struct mh_smtp_session *s, const char *tag, const char *prefix,
                       const struct mh_smtp_reply *rep)
{
	char line[MH_SMTP_DETAIL_MAX];
	size_t n;
	const char *p = reply_line(rep, 0, &n);

	mh_sanitize_line(line, sizeof(line), p, n);
	s->res->error = tag;
	snprintf(s->res->detail, sizeof(s->res->detail), "%s%s", prefix, line);
}

/*
 * error = tag, detail = prefix + the part of a reply received so far (its
 * first line), when the server stopped or stalled in the middle of one.
 */
static void fail_partial(struct mh_smtp_session *s, const char *tag, const char *prefix)
{
	const struct mh_smtp_reader *rd = &s->rd;
	char part[MH_SMTP_DETAIL_MAX] = "";
	const char *p = NULL;
	size_t n = 0;

	if (!rd->done && rd->reply.nlines > 0)
		p = reply_line(&rd->reply, 0, &n);
	else if (!rd->done && rd->linelen > 0)
		p = rd->line, n = rd->linelen;
	if (p)
		mh_sanitize_line(part, sizeof(part), p, n);
	s->res->error = tag;
	snprintf(s->res->detail, sizeof(s->res->detail), "%s%s%s", prefix,
	         *prefix && *part ? ": " : "", part);
}

/*
 * The reader refused the stream. The excerpt is the offending line: what
 * the reader holds of it, then, when the fault came before its end, what
 * follows in this read up to its LF.
 */
static void fail_reader(struct mh_smtp_session *s, const char *buf, size_t len, size_t used)
{
	const struct mh_smtp_reader *rd = &s->rd;
	char raw[MH_SMTP_DETAIL_MAX + 8];
	size_t n = rd->linelen < sizeof(raw) ? rd->linelen : sizeof(raw);

	memcpy(raw, rd->line, n);
	if (used == 0 || buf[used - 1] != '\n')
		for (size_t i = used; i < len && n < sizeof(raw) && buf[i] != '\n'; i++)
			raw[n++] = buf[i];
	if (n > 0 && raw[n - 1] == '\r')
		n--; /* the CR of its CR LF */
	/* A broken QUIT answer changes nothing: the record was complete. */
	if (s->state == MH_SMTP_STARTTLS || s->state == MH_SMTP_EHLO2) {
		s->res->tls_error = rd->error;
		mh_sanitize_line(s->res->tls_detail, sizeof(s->res->tls_detail), raw, n);
	} else if (s->state == MH_SMTP_VRFY) {
		s->res->vrfy_error = rd->error;
		mh_sanitize_line(s->res->vrfy_detail, sizeof(s->res->vrfy_detail), raw, n);
	} else if (mh_smtp_session_probing(s)) {
		s->res->relay_error = rd->error;
		mh_sanitize_line(s->res->relay_detail, sizeof(s->res->relay_detail), raw, n);
	} else if (s->state != MH_SMTP_QUIT) {
		s->res->error = rd->error;
		mh_sanitize_line(s->res->detail, sizeof(s->res->detail), raw, n);
	}
	set_state(s, MH_SMTP_DONE);
}

static void perform_ehlo(struct mh_smtp_session *s)
{
	queue_cmd(s, "EHLO", s->ehlo_name);
	set_state(s, MH_SMTP_EHLO);
}

static void perform_helo(struct mh_smtp_session *s)
{
	s->res->helo = true;
	queue_cmd(s, "HELO", s->ehlo_name);
	set_state(s, MH_SMTP_HELO);
}

static void perform_quit(struct mh_smtp_session *s)
{
	queue_cmd(s, "QUIT", NULL);
	set_state(s, MH_SMTP_QUIT);
}

static void perform_starttls(struct mh_smtp_session *s)
{
	s->res->tls_attempted = true;
	queue_cmd(s, "STARTTLS", NULL);
	set_state(s, MH_SMTP_STARTTLS);
}

/* ---- the intrusive checks: VRFY / EXPN, then the open-relay test -------- */

/* Appends len raw bytes (the relay test's message) to the output queue. */
static void queue_raw(struct mh_smtp_session *s, const char *p, size_t len)
{
	if (s->outoff > 0) {
		memmove(s->out, s->out + s->outoff, s->outlen - s->outoff);
		s->outlen -= s->outoff;
		s->outoff = 0;
	}
	if (len > sizeof(s->out) - s->outlen)
		return; /* cannot happen: see MESSAGE_MAX */
	memcpy(s->out + s->outlen, p, len);
	s->outlen += len;
}

/* The first line of a reply, sanitized, into dst. */
static void keep_line(char *dst, size_t size, const struct mh_smtp_reply *rep)
{
	size_t n;
	const char *p = reply_line(rep, 0, &n);

	mh_sanitize_line(dst, size, p, n);
}

static bool positive(int code)
{
	return code / 100 == 2;
}

static void probes_next(struct mh_smtp_session *s);

/*
 * A 421 to an intrusive command: the server is closing the connection
 * (Postfix after smtpd_hard_error_limit errors, a busy server). What was
 * answered stays; the rest of the checks is skipped; QUIT (which the server
 * may not read) ends the session.
 */
static void server_closing(struct mh_smtp_session *s, const struct mh_smtp_reply *rep,
                           bool relay)
{
	if (relay) {
		s->res->relay_error = "server-closing";
		keep_line(s->res->relay_detail, sizeof(s->res->relay_detail), rep);
	} else {
		s->res->vrfy_error = "server-closing";
		keep_line(s->res->vrfy_detail, sizeof(s->res->vrfy_detail), rep);
	}
	s->probes_done = true;
	perform_quit(s);
}

/* VRFY / EXPN question q: root for the first of each pair, the bogus name for the second. */
static void perform_vrfy(struct mh_smtp_session *s, unsigned q)
{
	struct mh_smtp_result *res = s->res;

	if (q == MH_VRFY_Q_VRFY_ROOT) {
		res->vrfy_tested = true;
		res->vrfy_tls = res->tls_done;
		mh_vrfy_bogus_name(s->probes.vrfy_seed, res->vrfy_bogus, sizeof(res->vrfy_bogus));
	}
	s->step = q;
	queue_cmd(s, q < MH_VRFY_Q_EXPN_ROOT ? "VRFY" : "EXPN",
	          q % 2 == 0 ? "root" : res->vrfy_bogus);
	set_state(s, MH_SMTP_VRFY);
}

/* The answer (known, bogus) of the pair starting at question q, classified. */
static const char *vrfy_verdict(const struct mh_smtp_result *res, unsigned q)
{
	return mh_vrfy_answer_name(mh_vrfy_classify(res->vrfy_codes[q], res->vrfy_replies[q],
	                                            res->vrfy_codes[q + 1],
	                                            res->vrfy_replies[q + 1]));
}

/*
 * The bogus name is asked about only when the answer about root could
 * disclose (250, 251, 252): a refusal, a 4xx or a 550 for root decides
 * alone (mh_vrfy_classify), and every extra error brings a tarpit nearer.
 */
static void state_vrfy_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	struct mh_smtp_result *res = s->res;
	unsigned q = s->step;
	bool ask_bogus = rep->code == 250 || rep->code == 251 || rep->code == 252;

	res->vrfy_codes[q] = rep->code;
	keep_line(res->vrfy_replies[q], sizeof(res->vrfy_replies[q]), rep);
	if (q % 2 == 0 && !ask_bogus) {
		/* decided by the answer about root alone */
		*(q == MH_VRFY_Q_VRFY_ROOT ? &res->vrfy : &res->expn) = vrfy_verdict(res, q);
	} else if (q % 2 == 1) {
		*(q == MH_VRFY_Q_VRFY_BOGUS ? &res->vrfy : &res->expn) = vrfy_verdict(res, q - 1);
	}
	if (rep->code == 421) {
		server_closing(s, rep, false);
		return;
	}
	if (q % 2 == 0 && ask_bogus)
		perform_vrfy(s, q + 1);
	else if (q < MH_VRFY_Q_EXPN_ROOT)
		perform_vrfy(s, MH_VRFY_Q_EXPN_ROOT);
	else
		probes_next(s);
}

/*
 * The server's own name for the server-name pairs: the first word of its
 * EHLO/HELO answer, when it is a plain host name (never anything that could
 * smuggle text into a path); else NULL.
 */
static const char *relay_server_name(const struct mh_smtp_result *res, char *buf, size_t size)
{
	size_t n = strcspn(res->ehlo_name, " \t");

	/* a name that filled ehlo_name[] may have been cut */
	if (n >= size || n + 1 >= sizeof(res->ehlo_name))
		return NULL;
	memcpy(buf, res->ehlo_name, n);
	buf[n] = '\0';
	return mh_relay_domain_valid(buf, false) ? buf : NULL;
}

/*
 * Pair i of the test. The pairs are made again for each command rather
 * than kept (16 x 640 bytes in every connection slot): the inputs do not
 * change during the test, so neither do the pairs.
 */
static int relay_pair(struct mh_smtp_session *s, unsigned i, struct mh_relay_variant *out,
                      char *err, size_t errlen)
{
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	char name[MH_SMTP_CAP_LEN];
	const char *own = s->probes.own_domain;
	int n = mh_relay_variants(s->probes.relay_domain, relay_server_name(s->res, name, sizeof(name)),
	                          s->server_ip, own && *own ? own : NULL, v, MH_RELAY_VARIANTS_MAX,
	                          err, errlen);

	if (n < 0)
		return n;
	if (i < (unsigned)n)
		*out = v[i];
	return n;
}

static void perform_mail(struct mh_smtp_session *s, unsigned i)
{
	struct mh_relay_variant v;
	char arg[MH_RELAY_PATH_MAX + 8], err[MH_ERRLEN];

	if (relay_pair(s, i, &v, err, sizeof(err)) <= (int)i) {
		s->probes_done = true; /* cannot happen: the pairs were made once already */
		perform_quit(s);
		return;
	}
	s->step = i;
	snprintf(arg, sizeof(arg), "FROM:%s", v.mail_from);
	queue_cmd(s, "MAIL", arg);
	set_state(s, MH_SMTP_MAIL);
}

static bool relay_start(struct mh_smtp_session *s)
{
	struct mh_smtp_result *res = s->res;
	struct mh_relay_variant v[MH_RELAY_VARIANTS_MAX];
	char name[MH_SMTP_CAP_LEN], err[MH_ERRLEN];
	const char *own = s->probes.own_domain;
	int n;

	res->relay_tested = true;
	res->relay_tls = res->tls_done;
	mh_strlcpy(res->relay_domain, s->probes.relay_domain, sizeof(res->relay_domain));
	n = mh_relay_variants(s->probes.relay_domain, relay_server_name(res, name, sizeof(name)),
	                      s->server_ip, own && *own ? own : NULL, v, MH_RELAY_VARIANTS_MAX, err,
	                      sizeof(err));
	if (n <= 0) {
		res->relay_error = "relay-variants";
		mh_sanitize_line(res->relay_detail, sizeof(res->relay_detail), err, strlen(err));
		return false;
	}
	res->relay_nvariants = (unsigned)n;
	for (int i = 0; i < n; i++)
		res->relay_names[i] = v[i].name;
	perform_mail(s, 0);
	return true;
}

/* Pair s->step is over: RSET before the next one, or the end of the test. */
static void relay_next(struct mh_smtp_session *s)
{
	if (s->step + 1 < s->res->relay_nvariants) {
		queue_cmd(s, "RSET", NULL);
		set_state(s, MH_SMTP_RSET);
		return;
	}
	probes_next(s);
}

static void state_mail_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	struct mh_relay_variant v;
	char arg[MH_RELAY_PATH_MAX + 8], err[MH_ERRLEN];

	s->res->relay_mail_codes[s->step] = rep->code;
	if (rep->code == 421) {
		server_closing(s, rep, true);
		return;
	}
	if (!positive(rep->code) || relay_pair(s, s->step, &v, err, sizeof(err)) <= (int)s->step) {
		relay_next(s);
		return;
	}
	snprintf(arg, sizeof(arg), "TO:%s", v.rcpt_to);
	queue_cmd(s, "RCPT", arg);
	set_state(s, MH_SMTP_RCPT);
}

static void state_rcpt_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	struct mh_smtp_result *res = s->res;
	struct mh_relay_variant v;
	char err[MH_ERRLEN];

	res->relay_rcpt_codes[s->step] = rep->code;
	res->relay_ntried++;
	if (rep->code == 421) {
		server_closing(s, rep, true);
		return;
	}
	if (!positive(rep->code)) {
		relay_next(s);
		return;
	}
	if (res->relay_accepted == 0 && relay_pair(s, s->step, &v, err, sizeof(err)) > (int)s->step) {
		mh_strlcpy(res->relay_mail_from, v.mail_from, sizeof(res->relay_mail_from));
		mh_strlcpy(res->relay_rcpt_to, v.rcpt_to, sizeof(res->relay_rcpt_to));
		keep_line(res->relay_reply, sizeof(res->relay_reply), rep);
	}
	res->relay_accepted |= 1u << s->step;
	if (s->probes.relay_data && !res->relay_data_tried) {
		res->relay_data_tried = true;
		res->relay_data_variant = s->step;
		queue_cmd(s, "DATA", NULL);
		set_state(s, MH_SMTP_DATA);
		return;
	}
	relay_next(s);
}

/*
 * The tagged message of --relay-test-data: the tag in the Message-ID, an
 * X-Mailhole-Tag header and the subject (as the probes carry it, mail.h),
 * so that it can be found where the test domain's mail arrives. Every
 * line is ours: paths are plain syntax (mh_relay_variants), the tag is
 * [a-z0-9], no line starts with a dot.
 */
static void queue_message(struct mh_smtp_session *s)
{
	const struct mh_smtp_result *res = s->res;
	const char *tag = s->probes.tag;
	char msg[MESSAGE_MAX], date[64];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		mh_strlcpy(date, "Thu, 01 Jan 1970 00:00:00 +0000", sizeof(date));
	n = snprintf(msg, sizeof(msg),
	             "Date: %s\r\n"
	             "From: mailhole relay test <relaytest@mailhole.invalid>\r\n"
	             "To: <relaytest@%s>\r\n"
	             "Subject: mailhole open-relay test %s\r\n"
	             "Message-ID: <%s@mailhole.invalid>\r\n"
	             "X-Mailhole-Tag: %s\r\n"
	             "\r\n"
	             "This message was sent by mailhole's open-relay test (--relay-test-data).\r\n"
	             "The server at %s accepted it for %s:\r\n"
	             "MAIL FROM:%s RCPT TO:%s (pair %s).\r\n"
	             "Its arrival proves that the server relays mail for anyone.\r\n"
	             "Tag: %s\r\n"
	             ".\r\n",
	             date, s->probes.relay_domain, tag, tag, tag, s->server_ip,
	             s->probes.relay_domain, res->relay_mail_from, res->relay_rcpt_to,
	             res->relay_names[res->relay_data_variant], tag);
	if (n > 0 && (size_t)n < sizeof(msg))
		queue_raw(s, msg, (size_t)n);
}

static void state_data_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	struct mh_smtp_result *res = s->res;

	res->relay_data_code = rep->code;
	keep_line(res->relay_data_reply, sizeof(res->relay_data_reply), rep);
	if (rep->code == 421) {
		server_closing(s, rep, true);
		return;
	}
	if (rep->code != 354) {
		relay_next(s);
		return;
	}
	queue_message(s);
	set_state(s, MH_SMTP_DATA_END);
}

static void state_data_end_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	struct mh_smtp_result *res = s->res;

	res->relay_data_end_code = rep->code;
	keep_line(res->relay_data_reply, sizeof(res->relay_data_reply), rep);
	if (rep->code == 421) {
		server_closing(s, rep, true);
		return;
	}
	relay_next(s);
}

/* RSET answered: the next pair (whatever RSET's answer; MAIL will tell). */
static void state_rset_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	if (rep->code == 421) {
		server_closing(s, rep, true);
		return;
	}
	perform_mail(s, s->step + 1);
}

/* A reply before our command left (see dispatch): the checks end, QUIT. */
static void talk_ahead(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	if (s->state == MH_SMTP_VRFY) {
		s->res->vrfy_error = "reply-before-command";
		keep_line(s->res->vrfy_detail, sizeof(s->res->vrfy_detail), rep);
	} else {
		s->res->relay_error = "reply-before-command";
		keep_line(s->res->relay_detail, sizeof(s->res->relay_detail), rep);
	}
	s->probes_done = true;
	perform_quit(s);
}

/*
 * After the last successful EHLO/HELO: VRFY / EXPN, then the relay test,
 * each once and only when asked for; then QUIT.
 */
static void probes_next(struct mh_smtp_session *s)
{
	const struct mh_smtp_result *res = s->res;

	if (!s->probes_done && s->probes.vrfy && !res->vrfy_tested) {
		perform_vrfy(s, MH_VRFY_Q_VRFY_ROOT);
		return;
	}
	if (!s->probes_done && s->probes.relay_domain && !res->relay_tested && relay_start(s))
		return;
	s->probes_done = true;
	perform_quit(s);
}

/* The greeting: 2xx goes on to EHLO; 421, 554... are recorded, then QUIT. */
static void state_banner_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	s->res->code = rep->code;
	copy_text(s->res->banner, sizeof(s->res->banner), rep->text, rep->len);
	if (rep->code / 100 == 2) {
		perform_ehlo(s);
		return;
	}
	fail_reply(s, "greeting-refused", "", rep);
	perform_quit(s);
}

/*
 * Records a 2xx EHLO/HELO answer: the first line's text is the server's name
 * and greeting; for EHLO the other lines are capabilities (kept up to
 * MH_SMTP_CAPS_MAX, each cut to MH_SMTP_CAP_LEN - 1; all count for ext).
 */
static void record_hello(struct mh_smtp_result *res, const struct mh_smtp_reply *rep, bool caps)
{
	unsigned *ncaps = &res->ncaps;
	char(*capv)[MH_SMTP_CAP_LEN] = res->caps;
	uint32_t *ext = &res->ext;
	bool second = res->tls_done && !res->tls_implicit;

	if (second) {
		ncaps = &res->ncaps2;
		capv = res->caps2;
		ext = &res->ext2;
	}
	for (unsigned i = 0; i < rep->nlines; i++) {
		size_t n, tn;
		const char *line = reply_line(rep, i, &n);
		const char *t = line_text(line, n, &tn);

		if (i == 0) {
			if (!second)
				copy_text(res->ehlo_name, sizeof(res->ehlo_name), t, tn);
			if (!caps)
				break;
			continue;
		}
		*ext |= ext_bit_n(t, tn);
		if (tn > 0 && *ncaps < MH_SMTP_CAPS_MAX)
			copy_text(capv[(*ncaps)++], MH_SMTP_CAP_LEN, t, tn);
	}
}

/* EHLO: 2xx is recorded; 5xx (500, 502, 504, 550...) tries HELO; 4xx gives up. */
static void state_ehlo_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	s->res->ehlo_code = rep->code;
	if (rep->code / 100 == 2) {
		record_hello(s->res, rep, true);
		if (s->starttls && !s->res->tls_done && (s->res->ext & MH_EXT_STARTTLS))
			perform_starttls(s);
		else
			probes_next(s);
	} else if (rep->code / 100 == 5) {
		perform_helo(s);
	} else {
		fail_reply(s, "ehlo-refused", "EHLO: ", rep);
		perform_quit(s);
	}
}

static void state_helo_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	char prefix[32];

	if (rep->code / 100 == 2) {
		s->res->ehlo_code = rep->code;
		record_hello(s->res, rep, false);
		probes_next(s);
		return;
	}
	/* ehlo_code still holds the EHLO refusal here. */
	snprintf(prefix, sizeof(prefix), "EHLO %d, HELO: ", s->res->ehlo_code);
	s->res->ehlo_code = rep->code;
	fail_reply(s, "ehlo-refused", prefix, rep);
	perform_quit(s);
}

/* tls_error = tag, tls_detail = the reply's first line, sanitized. */
static void tls_fail_reply(struct mh_smtp_session *s, const char *tag,
                           const struct mh_smtp_reply *rep)
{
	size_t n;
	const char *p = reply_line(rep, 0, &n);

	s->res->tls_error = tag;
	mh_sanitize_line(s->res->tls_detail, sizeof(s->res->tls_detail), p, n);
}

/*
 * STARTTLS: 220 hands over to the engine for the handshake; anything else is
 * "starttls-refused", and the session goes on in clear (the checks, QUIT).
 */
static void state_starttls_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	if (rep->code / 100 == 2) {
		set_state(s, MH_SMTP_TLS_HANDSHAKE);
		return;
	}
	tls_fail_reply(s, "starttls-refused", rep);
	probes_next(s);
}

/* EHLO over TLS: the second capability list, then the checks over TLS, QUIT. */
static void state_ehlo2_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	s->res->ehlo2_code = rep->code;
	if (rep->code / 100 == 2) {
		record_hello(s->res, rep, true);
		probes_next(s);
		return;
	}
	tls_fail_reply(s, "ehlo-tls-refused", rep);
	perform_quit(s);
}

/* Any answer to QUIT ends the session; what it says does not matter. */
static void state_quit_resp(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	(void)rep;
	set_state(s, MH_SMTP_DONE);
}

/* The dispatcher: a complete reply goes to the state that waits for it. */
static void dispatch(struct mh_smtp_session *s, const struct mh_smtp_reply *rep)
{
	s->nreplies++;
	/*
	 * During the checks we send one command and wait: a reply that comes
	 * while our command has not all left answers nothing we asked. Such a
	 * server is out of step (or tries to flood our output queue): the
	 * checks stop there.
	 */
	if (mh_smtp_session_probing(s) && s->outlen > s->outoff) {
		talk_ahead(s, rep);
		return;
	}
	switch (s->state) {
	case MH_SMTP_BANNER:
		state_banner_resp(s, rep);
		break;
	case MH_SMTP_EHLO:
		state_ehlo_resp(s, rep);
		break;
	case MH_SMTP_HELO:
		state_helo_resp(s, rep);
		break;
	case MH_SMTP_QUIT:
		state_quit_resp(s, rep);
		break;
	case MH_SMTP_STARTTLS:
		state_starttls_resp(s, rep);
		break;
	case MH_SMTP_EHLO2:
		state_ehlo2_resp(s, rep);
		break;
	case MH_SMTP_VRFY:
		state_vrfy_resp(s, rep);
		break;
	case MH_SMTP_MAIL:
		state_mail_resp(s, rep);
		break;
	case MH_SMTP_RCPT:
		state_rcpt_resp(s, rep);
		break;
	case MH_SMTP_RSET:
		state_rset_resp(s, rep);
		break;
	case MH_SMTP_DATA:
		state_data_resp(s, rep);
		break;
	case MH_SMTP_DATA_END:
		state_data_end_resp(s, rep);
		break;
	case MH_SMTP_TLS_HANDSHAKE: /* cannot happen: input stops before it */
	case MH_SMTP_DONE:
		break;
	}
}

/* ---- the interface ------------------------------------------------------- */

void mh_smtp_session_init(struct mh_smtp_session *s, struct mh_smtp_result *res,
                          const char *ehlo_name)
{
	memset(res, 0, sizeof(*res));
	s->state = MH_SMTP_BANNER; /* initial state, before any set_state() */
	mh_smtp_reader_init(&s->rd);
	s->res = res;
	s->ehlo_name = ehlo_name_ok(ehlo_name) ? ehlo_name : EHLO_FALLBACK;
	s->outlen = s->outoff = 0;
	s->starttls = false;
	s->nreplies = 0;
	memset(&s->probes, 0, sizeof(s->probes));
	s->tagbuf[0] = '\0';
	s->server_ip[0] = '\0';
	s->probes_done = false;
	s->step = 0;
}

/* "mh" + 8..40 of [a-z0-9] (mail.h's tag syntax, checked here without it). */
static bool tag_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;

	if (n < 10 || n > 42 || n >= MH_SMTP_TAG_MAX || t[0] != 'm' || t[1] != 'h')
		return false;
	for (size_t i = 2; i < n; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9')))
			return false;
	return true;
}

void mh_smtp_session_set_probes(struct mh_smtp_session *s, const struct mh_smtp_probes *p,
                                const char *server_ip)
{
	s->probes = *p;
	if (s->probes.relay_domain && !*s->probes.relay_domain)
		s->probes.relay_domain = NULL;
	if (s->probes.relay_data && tag_ok(p->tag)) {
		mh_strlcpy(s->tagbuf, p->tag, sizeof(s->tagbuf));
		s->probes.tag = s->tagbuf;
		mh_strlcpy(s->res->relay_tag, p->tag, sizeof(s->res->relay_tag));
	} else {
		s->probes.relay_data = false;
		s->probes.tag = NULL;
	}
	mh_strlcpy(s->server_ip, server_ip ? server_ip : "", sizeof(s->server_ip));
}

bool mh_smtp_session_probing(const struct mh_smtp_session *s)
{
	switch (s->state) {
	case MH_SMTP_VRFY:
	case MH_SMTP_MAIL:
	case MH_SMTP_RCPT:
	case MH_SMTP_RSET:
	case MH_SMTP_DATA:
	case MH_SMTP_DATA_END:
		return true;
	default:
		return false;
	}
}

void mh_smtp_session_set_starttls(struct mh_smtp_session *s, bool on)
{
	s->starttls = on;
}

void mh_smtp_session_tls_done(struct mh_smtp_session *s, bool ok, const char *reason)
{
	if (s->state != MH_SMTP_TLS_HANDSHAKE)
		return;
	if (!ok) {
		s->res->tls_error = "tls-handshake-failed";
		if (reason)
			mh_sanitize_line(s->res->tls_detail, sizeof(s->res->tls_detail), reason,
			                 strlen(reason));
		set_state(s, MH_SMTP_DONE);
		return;
	}
	s->res->tls_done = true;
	mh_smtp_reader_init(&s->rd);
	s->outlen = s->outoff = 0;
	if (s->res->tls_implicit) {
		set_state(s, MH_SMTP_BANNER);
		return;
	}
	queue_cmd(s, "EHLO", s->ehlo_name);
	set_state(s, MH_SMTP_EHLO2);
}

void mh_smtp_session_implicit_tls(struct mh_smtp_session *s)
{
	s->res->tls_attempted = true;
	s->res->tls_implicit = true;
	set_state(s, MH_SMTP_TLS_HANDSHAKE);
}

int mh_smtp_session_input(struct mh_smtp_session *s, const char *buf, size_t len)
{
	/*
	 * Nothing is read in TLS_HANDSHAKE: bytes after the 220 to STARTTLS
	 * (an injection attempt) are dropped, never judged as over TLS.
	 */
	while (s->state != MH_SMTP_DONE && s->state != MH_SMTP_TLS_HANDSHAKE && len > 0) {
		size_t used = 0;
		int rc = mh_smtp_reader_feed(&s->rd, buf, len, &used);

		if (rc < 0) {
			fail_reader(s, buf, len, used);
			break;
		}
		buf += used;
		len -= used;
		if (rc == 0)
			break;
		dispatch(s, &s->rd.reply);
	}
	return s->state == MH_SMTP_DONE;
}

const char *mh_smtp_session_pending(const struct mh_smtp_session *s, size_t *len)
{
	*len = s->outlen - s->outoff;
	return s->out + s->outoff;
}

void mh_smtp_session_sent(struct mh_smtp_session *s, size_t n)
{
	size_t left = s->outlen - s->outoff;

	s->outoff += n < left ? n : left;
	if (s->outoff == s->outlen)
		s->outlen = s->outoff = 0;
}

/* What the end of the stream and a state's own deadline mean while waiting. */
static const char *const eof_tags[] = {
    [MH_SMTP_BANNER] = "closed-before-banner",
    [MH_SMTP_EHLO] = "closed-during-ehlo",
    [MH_SMTP_HELO] = "closed-during-helo",
};
static const char *const timeout_tags[] = {
    [MH_SMTP_BANNER] = "banner-timeout",
    [MH_SMTP_EHLO] = "ehlo-timeout",
    [MH_SMTP_HELO] = "helo-timeout",
};

/*
 * Still waiting for the greeting or an EHLO/HELO answer? In QUIT (the
 * normal end, or a 421 server hanging up; QUIT left unanswered is harmless,
 * the record is complete) and in DONE, an EOF or a deadline records nothing.
 */
static bool waiting(const struct mh_smtp_session *s)
{
	return s->state == MH_SMTP_BANNER || s->state == MH_SMTP_EHLO || s->state == MH_SMTP_HELO;
}

/* error = tag, detail = "in STATE" and what came of a reply. */
static void fail_in_state(struct mh_smtp_session *s, const char *tag)
{
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "in %s", mh_smtp_state_name(s->state));
	fail_partial(s, tag, prefix);
}

/* The STARTTLS part of the session: its end is a tls_error, or nothing. */
static bool tls_phase(struct mh_smtp_session *s, const char *eof_tag, const char *timeout_tag,
                      bool is_eof)
{
	const char *tag = NULL;

	switch (s->state) {
	case MH_SMTP_STARTTLS:
		tag = is_eof ? "closed-during-starttls" : "starttls-timeout";
		break;
	case MH_SMTP_TLS_HANDSHAKE:
		tag = is_eof ? eof_tag : timeout_tag;
		break;
	case MH_SMTP_EHLO2:
		tag = is_eof ? "closed-during-ehlo-tls" : "ehlo-tls-timeout";
		break;
	default:
		return false;
	}
	s->res->tls_error = tag;
	set_state(s, MH_SMTP_DONE);
	return true;
}

/*
 * The intrusive checks: an EOF or a deadline there is the check's error
 * (vrfy_error / relay_error, with what came of a reply), never the
 * record's. What was answered before stays.
 */
static bool probe_phase(struct mh_smtp_session *s, bool is_eof, bool flag)
{
	bool relay = s->state != MH_SMTP_VRFY;
	const char *tag;
	char part[MH_SMTP_DETAIL_MAX] = "";
	const struct mh_smtp_reader *rd = &s->rd;
	const char *p = NULL;
	size_t n = 0;

	if (!mh_smtp_session_probing(s))
		return false;
	if (is_eof)
		tag = flag ? "connection-reset" : relay ? "closed-during-relay" : "closed-during-vrfy";
	else
		tag = flag ? "session-timeout" : relay ? "relay-timeout" : "vrfy-timeout";
	if (!rd->done && rd->reply.nlines > 0)
		p = reply_line(&rd->reply, 0, &n);
	else if (!rd->done && rd->linelen > 0)
		p = rd->line, n = rd->linelen;
	if (p)
		mh_sanitize_line(part, sizeof(part), p, n);
	if (relay) {
		s->res->relay_error = tag;
		snprintf(s->res->relay_detail, sizeof(s->res->relay_detail), "in %s%s%.120s",
		         mh_smtp_state_name(s->state), *part ? ": " : "", part);
	} else {
		s->res->vrfy_error = tag;
		snprintf(s->res->vrfy_detail, sizeof(s->res->vrfy_detail), "in %s %s%s%.120s",
		         s->step < MH_VRFY_Q_EXPN_ROOT ? "VRFY" : "EXPN",
		         s->step % 2 == 0 ? "root" : s->res->vrfy_bogus, *part ? ": " : "", part);
	}
	set_state(s, MH_SMTP_DONE);
	return true;
}

void mh_smtp_session_eof(struct mh_smtp_session *s, bool reset)
{
	if (tls_phase(s, "tls-handshake-failed", NULL, true))
		return;
	if (probe_phase(s, true, reset))
		return;
	if (waiting(s) && reset)
		fail_in_state(s, "connection-reset");
	else if (waiting(s))
		fail_partial(s, eof_tags[s->state], "");
	set_state(s, MH_SMTP_DONE);
}

void mh_smtp_session_timeout(struct mh_smtp_session *s, bool whole)
{
	if (tls_phase(s, NULL, "tls-timeout", false))
		return;
	if (probe_phase(s, false, whole))
		return;
	if (waiting(s) && whole)
		fail_in_state(s, "session-timeout");
	else if (waiting(s))
		fail_partial(s, timeout_tags[s->state], "");
	set_state(s, MH_SMTP_DONE);
}
