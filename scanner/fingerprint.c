/*
 * fingerprint.c -- which MTA product (and version) answered, from the
 * greeting and the EHLO reply of a session (include/mailhole/smtp.h).
 *
 * One table, read top to bottom, first match wins. Each row names where to
 * look (the greeting, the first line of the EHLO reply, or the keyword of a
 * capability line), a phrase matched without case as whole words, and
 * whether a version follows the phrase. Rows that give a version come
 * first; rows that only name the product (EHLO keywords) after them.
 *
 * Only text a product really sends by default is in the table. Where the
 * stock greeting says nothing distinctive (qmail and netqmail say
 * "220 host ESMTP", Courier's default is the same) the product is named
 * only by what its EHLO reply carries, or not at all: unknown stays NULL,
 * never guessed. The greeting's first word is its host name and is never
 * matched, so a host called "exim" running Postfix stays Postfix.
 */
#include "mailhole/smtp.h"

#include <string.h>

enum fp_where {
	FP_BANNER,    /* the greeting, all lines */
	FP_EHLO_NAME, /* the text of the EHLO reply's first line */
	FP_CAP,       /* the keyword of an EHLO capability line, whole */
};

enum fp_version {
	FP_NOVER,  /* the product does not say its version there */
	FP_VERNEXT /* "<phrase>[ /(]<digits and dots>" */
};

struct fp_rule {
	const char *product;
	enum fp_where where;
	const char *phrase;
	enum fp_version version;
	const char *also; /* FP_CAP only: a second keyword that must be offered too */
};

static const struct fp_rule rules[] = {
    /* "ESMTP Postfix", "ESMTP Postfix (Debian/GNU)", "ESMTP Postfix (3.7.6)" */
    {"postfix", FP_BANNER, "Postfix", FP_VERNEXT, NULL},
    /* "ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; <date>; (No UCE/UBE) ..." */
    {"sendmail", FP_BANNER, "Sendmail", FP_VERNEXT, NULL},
    /* "ESMTP Exim 4.96 <date>", "ESMTP Exim 4.94.2 #2 <date>" */
    {"exim", FP_BANNER, "Exim", FP_VERNEXT, NULL},
    /* "ESMTP OpenSMTPD" */
    {"opensmtpd", FP_BANNER, "OpenSMTPD", FP_VERNEXT, NULL},
    /* "ESMTP Haraka 2.8.25 ready", 3.x: "ESMTP Haraka/3.0.3 ready", "ESMTP Haraka ready" */
    {"haraka", FP_BANNER, "Haraka", FP_VERNEXT, NULL},
    /* Exchange 2007 and later, Exchange Online: "Microsoft ESMTP MAIL Service ready at <date>" */
    {"exchange", FP_BANNER, "Microsoft ESMTP MAIL Service ready at", FP_NOVER, NULL},
    /* Exchange 5.5: "Microsoft Exchange Internet Mail Service 5.5.2653.13 ready" */
    {"exchange", FP_BANNER, "Microsoft Exchange Internet Mail Service", FP_VERNEXT, NULL},
    /* "ESMTP MDaemon 21.0.3; <date>" */
    {"mdaemon", FP_BANNER, "MDaemon", FP_VERNEXT, NULL},
    /* "ESMTP Service (Lotus Domino Release 8.5.3FP6) ready at", also IBM / HCL Domino */
    {"domino", FP_BANNER, "Domino Release", FP_VERNEXT, NULL},
    /* "ESMTP CommuniGate Pro 6.3.2 is glad to see you!" */
    {"communigate", FP_BANNER, "CommuniGate Pro", FP_VERNEXT, NULL},

    /* "<host> Hello <client> [<ip>], Haraka is at your service." */
    {"haraka", FP_EHLO_NAME, "Haraka is at your service", FP_NOVER, NULL},

    /*
     * Extensions only Exchange offers: XEXCH50 and X-LINK2STATE (2000,
     * 2003), X-ANONYMOUSTLS (2007 on), XRDST (2013 on). Not X-EXPS: the
     * bare IIS SMTP service may offer it too.
     */
    {"exchange", FP_CAP, "X-ANONYMOUSTLS", FP_NOVER, NULL},
    {"exchange", FP_CAP, "XEXCH50", FP_NOVER, NULL},
    {"exchange", FP_CAP, "X-LINK2STATE", FP_NOVER, NULL},
    {"exchange", FP_CAP, "XRDST", FP_NOVER, NULL},
    /* Courier's esmtpd always offers its VERP extension under its own name. */
    {"courier", FP_CAP, "XVERP=Courier", FP_NOVER, NULL},
    {"courier", FP_CAP, "XCOURIEREXTENSIONS", FP_NOVER, NULL},
    /* Exim's early pipelining (draft-harris-early-pipe), 4.92 on. */
    {"exim", FP_CAP, "PIPECONNECT", FP_NOVER, NULL},
    {"exim", FP_CAP, "X_PIPE_CONNECT", FP_NOVER, NULL},
    /* Sendmail offers VERB and DELIVERBY together; neither alone is enough. */
    {"sendmail", FP_CAP, "DELIVERBY", FP_NOVER, "VERB"},

    /*
     * Windows' own SMTP service (IIS), which Exchange 2000/2003 also ran
     * on: after the Exchange keywords, so that those win.
     * "Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready at <date>"
     */
    {"iis-smtp", FP_BANNER, "Microsoft ESMTP MAIL Service, Version:", FP_VERNEXT, NULL},
};

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Characters that continue a word or a host name. */
static bool word_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_' || c >= 0x80;
}

/* Whether a word ends before s[i]: a sentence's final dot ends it too. */
static bool word_ends(const char *s, size_t i, size_t n)
{
	if (i >= n || !word_char((unsigned char)s[i]))
		return true;
	return s[i] == '.' && (i + 1 >= n || !word_char((unsigned char)s[i + 1]));
}

/*
 * Finds phrase in s[from, n) as whole words, without case. Returns the
 * offset just past the match, or 0 when absent.
 */
static size_t find_phrase(const char *s, size_t from, size_t n, const char *phrase)
{
	size_t pn = strlen(phrase);

	for (size_t i = from; i + pn <= n; i++) {
		size_t j = 0;

		if (i > 0 && word_char((unsigned char)s[i - 1]) &&
		    word_char((unsigned char)*phrase))
			continue;
		while (j < pn && lower((unsigned char)s[i + j]) == lower((unsigned char)phrase[j]))
			j++;
		if (j < pn)
			continue;
		if (word_char((unsigned char)phrase[pn - 1]) && !word_ends(s, i + pn, n))
			continue;
		return i + pn;
	}
	return 0;
}

/* Where matching starts in a greeting: after "DDD-" and the host name. */
static size_t skip_host(const char *s, size_t n)
{
	size_t i = n < 4 ? n : 4;

	while (i < n && s[i] == ' ')
		i++;
	while (i < n && s[i] != ' ' && s[i] != '\n')
		i++;
	return i;
}

/* In an EHLO first line (code already stripped): after the host name. */
static size_t skip_name(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] != ' ')
		i++;
	return i;
}

/*
 * The version right after a phrase: past a few separators (" ", "/", "(")
 * digits and dots, at least one dot, trailing dots dropped, and one letter
 * when it ends the token ("8.14.4a"). "" when there is none.
 */
static void take_version(const char *s, size_t n, size_t at, char *out, size_t size)
{
	size_t i = at, k = 0, skipped = 0;

	out[0] = '\0';
	while (i < n && skipped < 3 && (s[i] == ' ' || s[i] == '/' || s[i] == '('))
		i++, skipped++;
	/* k + 2 < size: room for a trailing letter and the NUL. */
	while (i < n && k + 2 < size && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
		if (k == 0 && s[i] == '.')
			return;
		out[k++] = s[i++];
	}
	while (k > 0 && out[k - 1] == '.')
		k--;
	if (!memchr(out, '.', k)) {
		out[0] = '\0';
		return;
	}
	if (i < n && s[i - 1] != '.' &&
	    ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) &&
	    (i + 1 >= n || !word_char((unsigned char)s[i + 1])))
		out[k++] = s[i];
	out[k] = '\0';
}

/* The keyword of a capability line, whole ("X-EXPS GSSAPI NTLM" -> X-EXPS). */
static bool cap_is(const char *cap, const char *kw)
{
	size_t i = 0;

	while (kw[i] && lower((unsigned char)cap[i]) == lower((unsigned char)kw[i]))
		i++;
	return kw[i] == '\0' && (cap[i] == '\0' || cap[i] == ' ' || cap[i] == '\t');
}

static bool has_cap(const struct mh_smtp_result *res, const char *kw)
{
	unsigned n = res->ncaps < MH_SMTP_CAPS_MAX ? res->ncaps : MH_SMTP_CAPS_MAX;

	for (unsigned i = 0; i < n; i++)
		if (cap_is(res->caps[i], kw))
			return true;
	return false;
}

void mh_fingerprint(const struct mh_smtp_result *res, struct mh_mta *out)
{
	size_t bn = strnlen(res->banner, sizeof(res->banner));
	size_t en = strnlen(res->ehlo_name, sizeof(res->ehlo_name));
	size_t bstart = skip_host(res->banner, bn), estart = skip_name(res->ehlo_name, en);

	out->product = NULL;
	out->version[0] = '\0';
	for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		const struct fp_rule *rule = &rules[r];
		const char *s = NULL;
		size_t n = 0, at = 0;

		switch (rule->where) {
		case FP_BANNER:
			s = res->banner, n = bn;
			at = find_phrase(s, bstart, n, rule->phrase);
			break;
		case FP_EHLO_NAME:
			s = res->ehlo_name, n = en;
			at = find_phrase(s, estart, n, rule->phrase);
			break;
		case FP_CAP:
			if (has_cap(res, rule->phrase) && (!rule->also || has_cap(res, rule->also)))
				at = 1;
			break;
		}
		if (at == 0)
			continue;
		out->product = rule->product;
		if (rule->version == FP_VERNEXT && s)
			take_version(s, n, at, out->version, sizeof(out->version));
		return;
	}
}
