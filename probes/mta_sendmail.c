/*
 * mta_sendmail.c -- what a Sendmail configuration really does (mta.h).
 *
 * The .cf is what runs; the .mc is what somebody meant. We read the .cf for
 * the facts (DM, DS, DH, Dj, class E, every O DaemonPortOptions, the mailers)
 * and recognise the masquerading features by the rules m4 leaves behind, not
 * by the "$Id: feature.m4" comments, which a site can suppress (VERSIONID):
 *
 *   masquerade_envelope  ruleset MasqEnv (94) hands the address to MasqHdr (93);
 *                        without the feature it only qualifies with $j.
 *   allmasquerade        ruleset HdrToL calls MasqHdr, or an SMTP mailer has a
 *                        header recipient ruleset (R=EnvToSMTP/HdrFromSMTP,
 *                        R=MasqSMTP/MasqRelay); both are absent without it.
 *   always_add_domain    ruleset AddDomain qualifies bare names with *LOCAL*;
 *                        without it the ruleset is empty.
 *   nullclient           the "nullclient.m4" comment, or a mail hub (DH) equal to
 *                        the smart host (DS) with no AliasFile option.
 *
 * The .mc is read as m4 would see it: `quotes' nest, # and dnl comments, a
 * macro's arguments may span lines. What the .mc asks and the .cf lacks is a
 * note each ("sendmail.mc:31 MASQUERADE_AS(`lab.test') but sendmail.cf has no
 * DM") and sets mc_cf_mismatch. From submit.cf only the MSP's D{MTAHost}.
 *
 * Limits: 4 MiB per file, 64 KiB per line; a NUL or control byte is refused
 * as binary data. Errors name FILE:LINE. Nothing here runs a program.
 */
#include "mailhole/mta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailhole/common.h"

#define SM_FILE_MAX (4u * 1024u * 1024u)
#define SM_LINE_MAX (64u * 1024u)
#define SM_DAEMONS_MAX 8
#define SM_MC_DAEMONS_MAX 8
#define SM_ARGS_MAX 4
#define SM_ARG_MAX 512

struct sm_daemon {
	char name[64];
	char port[64];
	char addr[128];
	char family[16];
	unsigned line;
};

/* What the .cf says. */
struct sm_cf {
	char dm[256];
	char ds[256];
	char dh[256];
	char mtahost[256];
	unsigned mtahost_line;
	char queue_dir[256];     /* O QueueDirectory= */
	unsigned queue_dir_line;
	char relay_port[16];     /* the relay mailer's "A=TCP $h PORT" (the MSP's port) */
	unsigned relay_port_line;
	bool in_relay;           /* reading the continuation of "Mrelay," */
	bool has_dm;
	unsigned dm_line;
	unsigned ndaemons;
	struct sm_daemon daemons[SM_DAEMONS_MAX];
	bool has_daemon_opts;
	bool masq_env, allmasq, always_add, nullclient_comment, alias_file, mlocal;
	unsigned masq_env_line, allmasq_line, always_add_line;
};

enum sm_feature {
	SM_F_ALLMASQ,
	SM_F_MASQ_ENV,
	SM_F_ALWAYS_ADD,
	SM_F_NULLCLIENT,
	SM_F_MSP,
	SM_F_NO_DEFAULT_MSA,
	SM_F_COUNT
};

static const char *const sm_feature_names[SM_F_COUNT] = {
	"allmasquerade", "masquerade_envelope", "always_add_domain",
	"nullclient",    "msp",                 "no_default_msa",
};

/* What the .mc asks for (line 0 = not asked). */
struct sm_mc {
	char masq_as[256];
	unsigned masq_as_line;
	unsigned feature_line[SM_F_COUNT];
	char smart_host[256];
	unsigned smart_host_line;
	unsigned ndaemons;
	struct sm_daemon daemons[SM_MC_DAEMONS_MAX];
};

static const char *sm_base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void sm_where(char *dst, size_t size, const char *name, unsigned line)
{
	snprintf(dst, size, "%s:%u", sm_base(name), line);
}

/* Copies [s, s+len) without surrounding spaces and tabs into dst. */
static void sm_copy_trim(char *dst, size_t size, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static bool sm_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(s, p, n) == 0;
}

static bool sm_contains(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

/*
 * Walks the lines of a buffer: checks binary bytes and line length, strips
 * a trailing CR. Returns 1 with a line, 0 at the end, MH_EINVAL on bad input.
 */
struct sm_lines {
	const char *buf;
	size_t len;
	size_t pos;
	unsigned lineno;
	const char *name;
};

static int sm_next_line(struct sm_lines *it, const char **line, size_t *len, char *err,
			size_t errlen)
{
	const char *s, *nl;
	size_t n, i;

	if (it->pos >= it->len)
		return 0;
	s = it->buf + it->pos;
	nl = memchr(s, '\n', it->len - it->pos);
	n = nl ? (size_t)(nl - s) : it->len - it->pos;
	it->pos += n + (nl ? 1 : 0);
	it->lineno++;
	if (n > SM_LINE_MAX)
		return mh_err(err, errlen, MH_ELIMIT, "%s:%u: line longer than %u bytes", it->name,
			      it->lineno, SM_LINE_MAX);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 && c != '\t' && c != '\f')
			return mh_err(err, errlen, MH_EINVAL,
				      "%s:%u: binary data (byte 0x%02x), not a configuration",
				      it->name, it->lineno, c);
	}
	*line = s;
	*len = n;
	return 1;
}

/* Parses "Family=inet, Name=MTA-v4, Port=smtp, Addr=127.0.0.1" into d. */
static void sm_daemon_parse(struct sm_daemon *d, const char *s, size_t len, unsigned line)
{
	size_t i = 0;

	memset(d, 0, sizeof(*d));
	d->line = line;
	while (i < len) {
		size_t start = i, eq = (size_t)-1, klen;
		const char *k;
		char key[32];
		char *dst = NULL;
		size_t dsize = 0;

		while (i < len && s[i] != ',') {
			if (s[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (eq != (size_t)-1) {
			k = s + start;
			klen = eq - start;
			sm_copy_trim(key, sizeof(key), k, klen);
			if (!strcasecmp(key, "Name") || !strcasecmp(key, "N")) {
				dst = d->name;
				dsize = sizeof(d->name);
			} else if (!strcasecmp(key, "Port") || !strcasecmp(key, "P")) {
				dst = d->port;
				dsize = sizeof(d->port);
			} else if (!strcasecmp(key, "Addr") || !strcasecmp(key, "A")) {
				dst = d->addr;
				dsize = sizeof(d->addr);
			} else if (!strcasecmp(key, "Family") || !strcasecmp(key, "F")) {
				dst = d->family;
				dsize = sizeof(d->family);
			}
			if (dst)
				sm_copy_trim(dst, dsize, s + eq + 1, i - eq - 1);
		}
		if (i < len)
			i++;
	}
}

static bool sm_daemon_is_msa(const struct sm_daemon *d)
{
	return !strcasecmp(d->name, "MSA") || !strcmp(d->port, "587") ||
	       !strcasecmp(d->port, "submission");
}

static bool sm_daemon_is_mta(const struct sm_daemon *d)
{
	if (sm_daemon_is_msa(d))
		return false;
	return !strncasecmp(d->name, "MTA", 3) || d->port[0] == '\0' ||
	       !strcasecmp(d->port, "smtp") || !strcmp(d->port, "25");
}

static const char *sm_daemon_addr(const struct sm_daemon *d)
{
	if (d->addr[0])
		return d->addr;
	return !strcasecmp(d->family, "inet6") ? "::" : "0.0.0.0";
}

/* The ruleset a rule belongs to: "S<name>[=<num>]" or "S<num>". */
struct sm_ruleset {
	char name[64];
	char num[16];
};

static void sm_ruleset_set(struct sm_ruleset *rs, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	size_t nlen = eq ? (size_t)(eq - s) : len;

	rs->num[0] = '\0';
	sm_copy_trim(rs->name, sizeof(rs->name), s, nlen);
	if (eq)
		sm_copy_trim(rs->num, sizeof(rs->num), eq + 1, len - nlen - 1);
	else if (rs->name[0] >= '0' && rs->name[0] <= '9')
		mh_strlcpy(rs->num, rs->name, sizeof(rs->num));
}

static bool sm_ruleset_is(const struct sm_ruleset *rs, const char *name, const char *num)
{
	return !strcmp(rs->name, name) || (num && !strcmp(rs->num, num));
}

/* An SMTP-family mailer line with a header recipient ruleset (allmasquerade). */
static bool sm_mailer_masq_rcpt(const char *s, size_t len)
{
	static const char *const smtp[] = { "Msmtp,", "Mesmtp,", "Msmtp8,", "Mdsmtp,", "Mrelay," };
	const char *r, *end;
	size_t i;
	bool is_smtp = false;

	for (i = 0; i < sizeof(smtp) / sizeof(smtp[0]); i++)
		if (sm_prefix(s, len, smtp[i]))
			is_smtp = true;
	if (!is_smtp)
		return false;
	r = memmem(s, len, "R=", 2);
	if (!r)
		return false;
	end = s + len;
	for (r += 2; r < end && *r != ',' && *r != ' ' && *r != '\t'; r++)
		if (*r == '/')
			return r + 1 < end && *(r + 1) != ',' && *(r + 1) != ' ';
	return false;
}

static void sm_add(struct mh_mta_config *out, const char *key, const char *value,
		   const char *name, unsigned line)
{
	char where[128];

	sm_where(where, sizeof(where), name, line);
	mh_mta_setting_add(out, key, value, where);
}

static int sm_parse_cf(const char *buf, size_t len, const char *name, bool record,
		       struct sm_cf *cf, struct mh_mta_config *out, char *err, size_t errlen)
{
	struct sm_lines it = { buf, len, 0, 0, name };
	struct sm_ruleset rs = { "", "" };
	const char *l;
	size_t n;
	int rc;
	char val[MH_MTA_VALUE_MAX];

	memset(cf, 0, sizeof(*cf));
	while ((rc = sm_next_line(&it, &l, &n, err, errlen)) > 0) {
		unsigned ln = it.lineno;

		if (n == 0)
			continue;
		if (l[0] == '#') {
			if (sm_contains(l, n, "nullclient.m4"))
				cf->nullclient_comment = true;
			continue;
		}
		if (cf->in_relay && (l[0] == ' ' || l[0] == '\t')) {
			const char *a = memmem(l, n, "A=TCP $h", 8);
			if (a) {
				size_t k = (size_t)(a - l) + 8, d = 0;
				while (k < n && (l[k] == ' ' || l[k] == '\t'))
					k++;
				while (k + d < n && l[k + d] >= '0' && l[k + d] <= '9' && d < 6)
					d++;
				snprintf(cf->relay_port, sizeof(cf->relay_port), "%.*s", (int)d,
					 l + k);
				cf->relay_port_line = ln;
			}
			continue;
		}
		cf->in_relay = sm_prefix(l, n, "Mrelay,");
		if (l[0] == 'S') {
			sm_ruleset_set(&rs, l + 1, n - 1);
		} else if (l[0] == 'R') {
			bool masqhdr = sm_contains(l, n, "$>MasqHdr") || sm_contains(l, n, "$>93");

			if (masqhdr && sm_ruleset_is(&rs, "MasqEnv", "94") && !cf->masq_env) {
				cf->masq_env = true;
				cf->masq_env_line = ln;
			}
			if (masqhdr && sm_ruleset_is(&rs, "HdrToL", NULL) && !cf->allmasq) {
				cf->allmasq = true;
				cf->allmasq_line = ln;
			}
			if (sm_ruleset_is(&rs, "AddDomain", NULL) && sm_contains(l, n, "*LOCAL*") &&
			    !cf->always_add) {
				cf->always_add = true;
				cf->always_add_line = ln;
			}
		} else if (l[0] == 'M') {
			rs.name[0] = rs.num[0] = '\0';
			if (sm_prefix(l, n, "Mlocal,"))
				cf->mlocal = true;
			if (sm_mailer_masq_rcpt(l, n) && !cf->allmasq) {
				cf->allmasq = true;
				cf->allmasq_line = ln;
			}
		} else if (sm_prefix(l, n, "DM")) {
			sm_copy_trim(cf->dm, sizeof(cf->dm), l + 2, n - 2);
			cf->has_dm = true;
			cf->dm_line = ln;
			if (record)
				sm_add(out, "DM", cf->dm, name, ln);
		} else if (sm_prefix(l, n, "DS")) {
			sm_copy_trim(cf->ds, sizeof(cf->ds), l + 2, n - 2);
			if (record)
				sm_add(out, "DS", cf->ds, name, ln);
		} else if (sm_prefix(l, n, "DH")) {
			sm_copy_trim(cf->dh, sizeof(cf->dh), l + 2, n - 2);
			if (record && cf->dh[0])
				sm_add(out, "DH", cf->dh, name, ln);
		} else if (sm_prefix(l, n, "Dj")) {
			sm_copy_trim(val, sizeof(val), l + 2, n - 2);
			if (record)
				sm_add(out, "Dj", val, name, ln);
		} else if (sm_prefix(l, n, "D{MTAHost}")) {
			sm_copy_trim(cf->mtahost, sizeof(cf->mtahost), l + 10, n - 10);
			cf->mtahost_line = ln;
		} else if (sm_prefix(l, n, "C{E}") || sm_prefix(l, n, "CE")) {
			size_t skip = l[1] == '{' ? 4 : 2;

			sm_copy_trim(val, sizeof(val), l + skip, n - skip);
			if (record)
				sm_add(out, "C{E}", val, name, ln);
		} else if (sm_prefix(l, n, "O AliasFile=")) {
			cf->alias_file = true;
		} else if (sm_prefix(l, n, "O QueueDirectory=")) {
			size_t skip = strlen("O QueueDirectory=");

			sm_copy_trim(cf->queue_dir, sizeof(cf->queue_dir), l + skip, n - skip);
			cf->queue_dir_line = ln;
			if (record)
				sm_add(out, "QueueDirectory", cf->queue_dir, name, ln);
		} else if (sm_prefix(l, n, "O DaemonPortOptions=")) {
			size_t skip = strlen("O DaemonPortOptions=");

			cf->has_daemon_opts = true;
			sm_copy_trim(val, sizeof(val), l + skip, n - skip);
			if (record)
				sm_add(out, "DaemonPortOptions", val, name, ln);
			if (cf->ndaemons < SM_DAEMONS_MAX)
				sm_daemon_parse(&cf->daemons[cf->ndaemons++], l + skip, n - skip,
						ln);
		}
	}
	return rc;
}

/*
 * The .mc, as m4 reads it. A tiny scanner: `quoted text' at the top level is
 * not expanded, # starts a comment to the end of the line, dnl eats up to and
 * including the newline, NAME( starts a call whose arguments are split at
 * top-level commas and lose one level of quotes.
 */
struct sm_call {
	char name[32];
	unsigned line;
	unsigned nargs;
	char args[SM_ARGS_MAX][SM_ARG_MAX];
};

static bool sm_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool sm_ident_char(char c)
{
	return sm_ident_start(c) || (c >= '0' && c <= '9');
}

/* Reads the arguments from s[*pos] (just after '('). Returns 0 or MH_EINVAL. */
static int sm_mc_args(const char *s, size_t len, size_t *pos, unsigned *line,
		      struct sm_call *call)
{
	size_t i = *pos, alen = 0;
	int paren = 1, quote = 0;
	bool leading = true;
	char *arg;

	call->nargs = 1;
	arg = call->args[0];
	arg[0] = '\0';
	for (; i < len; i++) {
		char c = s[i];
		bool keep = true;

		if (c == '\n')
			(*line)++;
		if (quote == 0) {
			if (leading && (c == ' ' || c == '\t' || c == '\n'))
				continue;
			if (c == '`') {
				quote = 1;
				keep = false;
			} else if (c == '(') {
				paren++;
			} else if (c == ')') {
				if (--paren == 0) {
					*pos = i + 1;
					return 0;
				}
			} else if (c == ',' && paren == 1) {
				if (call->nargs < SM_ARGS_MAX) {
					arg = call->args[call->nargs++];
				} else {
					arg = NULL;
				}
				alen = 0;
				if (arg)
					arg[0] = '\0';
				leading = true;
				continue;
			}
		} else if (c == '`') {
			quote++;
		} else if (c == '\'') {
			if (--quote == 0)
				keep = false;
		}
		leading = false;
		if (keep && arg && alen + 1 < SM_ARG_MAX) {
			arg[alen++] = c;
			arg[alen] = '\0';
		}
	}
	return MH_EINVAL;
}

static void sm_trim_inplace(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		s[--n] = '\0';
	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')
		i++;
	memmove(s, s + i, n - i + 1);
}

static void sm_mc_call(const struct sm_call *call, const char *name, struct sm_mc *mc,
		       struct mh_mta_config *out)
{
	char val[2 * SM_ARG_MAX + 2];
	unsigned f;

	if (!strcmp(call->name, "MASQUERADE_AS")) {
		mh_strlcpy(mc->masq_as, call->args[0], sizeof(mc->masq_as));
		mc->masq_as_line = call->line;
		sm_add(out, "MASQUERADE_AS", call->args[0], name, call->line);
	} else if (!strcmp(call->name, "FEATURE")) {
		for (f = 0; f < SM_F_COUNT; f++) {
			if (strcmp(call->args[0], sm_feature_names[f]))
				continue;
			mc->feature_line[f] = call->line;
			snprintf(val, sizeof(val), "%s%s%s", call->args[0],
				 call->nargs > 1 ? " " : "", call->nargs > 1 ? call->args[1] : "");
			sm_add(out, "FEATURE", val, name, call->line);
		}
	} else if (!strcmp(call->name, "DAEMON_OPTIONS")) {
		if (mc->ndaemons < SM_MC_DAEMONS_MAX)
			sm_daemon_parse(&mc->daemons[mc->ndaemons++], call->args[0],
					strlen(call->args[0]), call->line);
		sm_add(out, "DAEMON_OPTIONS", call->args[0], name, call->line);
	} else if (!strcmp(call->name, "define") && call->nargs > 1 &&
		   !strcmp(call->args[0], "SMART_HOST")) {
		mh_strlcpy(mc->smart_host, call->args[1], sizeof(mc->smart_host));
		mc->smart_host_line = call->line;
		sm_add(out, "SMART_HOST", call->args[1], name, call->line);
	} else if (!strcmp(call->name, "EXPOSED_USER")) {
		sm_add(out, "EXPOSED_USER", call->args[0], name, call->line);
	}
}

static int sm_parse_mc(const char *buf, size_t len, const char *name, struct sm_mc *mc,
		       struct mh_mta_config *out, char *err, size_t errlen)
{
	struct sm_lines it = { buf, len, 0, 0, name };
	struct sm_call call;
	const char *l;
	size_t n, i = 0;
	unsigned line = 1;
	int rc;

	memset(mc, 0, sizeof(*mc));
	/* First pass: the line checks (binary data, line length). */
	while ((rc = sm_next_line(&it, &l, &n, err, errlen)) > 0)
		;
	if (rc < 0)
		return rc;
	while (i < len) {
		char c = buf[i];

		if (c == '\n') {
			line++;
			i++;
		} else if (c == '#') {
			while (i < len && buf[i] != '\n')
				i++;
		} else if (c == '`') {
			int quote = 1;

			for (i++; i < len && quote > 0; i++) {
				if (buf[i] == '`')
					quote++;
				else if (buf[i] == '\'')
					quote--;
				else if (buf[i] == '\n')
					line++;
			}
		} else if (sm_ident_start(c)) {
			size_t start = i, nlen;

			while (i < len && sm_ident_char(buf[i]))
				i++;
			nlen = i - start;
			if (nlen == 3 && !memcmp(buf + start, "dnl", 3)) {
				while (i < len && buf[i] != '\n')
					i++;
				if (i < len) {
					i++;
					line++;
				}
				continue;
			}
			if (i >= len || buf[i] != '(')
				continue;
			memset(&call, 0, sizeof(call));
			sm_copy_trim(call.name, sizeof(call.name), buf + start, nlen);
			call.line = line;
			i++;
			if (sm_mc_args(buf, len, &i, &line, &call) < 0)
				return mh_err(err, errlen, MH_EINVAL,
					      "%s:%u: %s( is never closed", name, call.line,
					      call.name);
			for (unsigned a = 0; a < call.nargs && a < SM_ARGS_MAX; a++)
				sm_trim_inplace(call.args[a]);
			sm_mc_call(&call, name, mc, out);
		} else {
			i++;
		}
	}
	return 0;
}

/* Fills out's summary from the .cf. */
static void sm_apply_cf(const struct sm_cf *cf, const char *name, struct mh_mta_config *out)
{
	unsigned i;
	bool mta = false;
	size_t used = 0;
	bool nullclient;

	nullclient = cf->nullclient_comment ||
		     (cf->dh[0] && !strcmp(cf->dh, cf->ds) && !cf->alias_file);
	mh_strlcpy(out->relayhost, cf->ds, sizeof(out->relayhost));
	out->local_delivery = cf->mlocal && !nullclient;
	mh_strlcpy(out->masq.domain, cf->dm, sizeof(out->masq.domain));
	out->masq.known = true;
	out->masq.envelope = cf->masq_env ? MH_TRI_YES : MH_TRI_NO;
	out->masq.recipients = cf->allmasq ? MH_TRI_YES : MH_TRI_NO;
	out->masq.always_add_domain = cf->always_add ? MH_TRI_YES : MH_TRI_NO;
	if (cf->masq_env)
		sm_add(out, "masquerade_envelope", "YES", name, cf->masq_env_line);
	if (cf->allmasq)
		sm_add(out, "allmasquerade", "YES", name, cf->allmasq_line);
	if (cf->always_add)
		sm_add(out, "always_add_domain", "YES", name, cf->always_add_line);
	if (nullclient)
		mh_mta_setting_add(out, "nullclient", "YES", sm_base(name));

	out->listen[0] = '\0';
	for (i = 0; i < cf->ndaemons; i++) {
		const struct sm_daemon *d = &cf->daemons[i];
		const char *a = sm_daemon_addr(d);
		int w;

		if (sm_daemon_is_msa(d) && !d->addr[0])
			mh_mta_note(out, "%s:%u MSA on 587 listens on all addresses "
				    "(no FEATURE(`no_default_msa'))", sm_base(name), d->line);
		if (!sm_daemon_is_mta(d))
			continue;
		mta = true;
		if (strstr(out->listen, a))
			continue;
		w = snprintf(out->listen + used, sizeof(out->listen) - used, "%s%s",
			     used ? "," : "", a);
		if (w > 0 && (size_t)w < sizeof(out->listen) - used)
			used += (size_t)w;
	}
	if (!cf->has_daemon_opts) {
		/* sendmail -bd without DaemonPortOptions listens on *:25 */
		mta = true;
		mh_strlcpy(out->listen, "0.0.0.0", sizeof(out->listen));
	}
	out->smtp_listener = mta ? MH_TRI_YES : MH_TRI_NO;
}

static void sm_mismatch(struct mh_mta_config *out, const char *mcname, unsigned line,
			const char *what, const char *cfname, const char *detail)
{
	out->mc_cf_mismatch = true;
	mh_mta_note(out, "%s:%u %s but %s %s", sm_base(mcname), line, what, sm_base(cfname),
		    detail);
}

static void sm_compare(const struct sm_mc *mc, const char *mcname, const struct sm_cf *cf,
		       const char *cfname, struct mh_mta_config *out)
{
	char what[2 * SM_ARG_MAX], detail[2 * SM_ARG_MAX];
	bool cf_flag[SM_F_COUNT] = { 0 };
	static const char *const lacks[SM_F_COUNT] = {
		"does not masquerade recipients", "does not masquerade the envelope",
		"does not always add the domain", "is not a nullclient",
		"", "still has an MSA daemon",
	};
	unsigned f, i, j;

	if (mc->masq_as_line && strcasecmp(mc->masq_as, cf->dm)) {
		snprintf(what, sizeof(what), "MASQUERADE_AS(`%s')", mc->masq_as);
		if (cf->dm[0])
			snprintf(detail, sizeof(detail), "has DM%s", cf->dm);
		else
			mh_strlcpy(detail, "has no DM", sizeof(detail));
		sm_mismatch(out, mcname, mc->masq_as_line, what, cfname, detail);
	}
	cf_flag[SM_F_ALLMASQ] = cf->allmasq;
	cf_flag[SM_F_MASQ_ENV] = cf->masq_env;
	cf_flag[SM_F_ALWAYS_ADD] = cf->always_add;
	cf_flag[SM_F_NULLCLIENT] = cf->nullclient_comment ||
				   (cf->dh[0] && !strcmp(cf->dh, cf->ds) && !cf->alias_file);
	cf_flag[SM_F_MSP] = true;
	cf_flag[SM_F_NO_DEFAULT_MSA] = true;
	for (i = 0; i < cf->ndaemons; i++)
		if (!strcasecmp(cf->daemons[i].name, "MSA"))
			cf_flag[SM_F_NO_DEFAULT_MSA] = false;
	for (f = 0; f < SM_F_COUNT; f++) {
		if (!mc->feature_line[f] || cf_flag[f])
			continue;
		snprintf(what, sizeof(what), "FEATURE(`%s')", sm_feature_names[f]);
		sm_mismatch(out, mcname, mc->feature_line[f], what, cfname, lacks[f]);
	}
	if (mc->smart_host_line && strcasecmp(mc->smart_host, cf->ds)) {
		snprintf(what, sizeof(what), "SMART_HOST `%s'", mc->smart_host);
		snprintf(detail, sizeof(detail), "has DS%s", cf->ds);
		sm_mismatch(out, mcname, mc->smart_host_line, what, cfname, detail);
	}
	for (i = 0; i < mc->ndaemons; i++) {
		const struct sm_daemon *m = &mc->daemons[i];
		const struct sm_daemon *same = NULL;
		bool found = false;

		for (j = 0; j < cf->ndaemons; j++) {
			const struct sm_daemon *d = &cf->daemons[j];

			if (m->name[0] && strcasecmp(m->name, d->name))
				continue;
			same = d;
			if (!strcmp(sm_daemon_addr(m), sm_daemon_addr(d)))
				found = true;
		}
		if (found)
			continue;
		snprintf(what, sizeof(what), "DAEMON_OPTIONS Addr=%s%s%s", sm_daemon_addr(m),
			 m->name[0] ? " Name=" : "", m->name);
		if (same)
			snprintf(detail, sizeof(detail), "has Addr=%s", sm_daemon_addr(same));
		else
			mh_strlcpy(detail, "has no such daemon", sizeof(detail));
		sm_mismatch(out, mcname, m->line, what, cfname, detail);
	}
}

int mh_sendmail_parse(const struct mh_sendmail_src *cf, const struct mh_sendmail_src *submit,
		      const struct mh_sendmail_src *mc, struct mh_mta_config *out, char *err,
		      size_t errlen)
{
	struct sm_cf *cfs = NULL, *subs = NULL;
	struct sm_mc *mcs = NULL;
	int rc = 0;

	out->product = "sendmail";
	cfs = calloc(1, sizeof(*cfs));
	subs = calloc(1, sizeof(*subs));
	mcs = calloc(1, sizeof(*mcs));
	if (!cfs || !subs || !mcs) {
		rc = mh_err(err, errlen, MH_ENOMEM, "out of memory");
		goto out;
	}
	if (cf) {
		mh_strlcpy(out->config, cf->name, sizeof(out->config));
		rc = sm_parse_cf(cf->data, cf->len, cf->name, true, cfs, out, err, errlen);
		if (rc < 0)
			goto out;
		sm_apply_cf(cfs, cf->name, out);
	}
	if (submit) {
		rc = sm_parse_cf(submit->data, submit->len, submit->name, false, subs, out, err,
				 errlen);
		if (rc < 0)
			goto out;
		if (subs->mtahost_line)
			sm_add(out, "submit.cf MTAHost", subs->mtahost, submit->name,
			       subs->mtahost_line);
		else
			mh_mta_setting_add(out, "submit.cf MTAHost", "[localhost]",
					   "(msp default)");
		if (subs->relay_port_line && subs->relay_port[0])
			sm_add(out, "submit.cf MTAPort", subs->relay_port, submit->name,
			       subs->relay_port_line);
		if (subs->queue_dir_line)
			sm_add(out, "submit.cf QueueDirectory", subs->queue_dir, submit->name,
			       subs->queue_dir_line);
	}
	if (mc) {
		rc = sm_parse_mc(mc->data, mc->len, mc->name, mcs, out, err, errlen);
		if (rc < 0)
			goto out;
		if (cf)
			sm_compare(mcs, mc->name, cfs, cf->name, out);
	}
	rc = 0;
out:
	free(cfs);
	free(subs);
	free(mcs);
	return rc;
}

/* Reads a whole file (at most SM_FILE_MAX bytes) into a new buffer. */
static int sm_load(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return mh_err(err, errlen, MH_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return mh_err(err, errlen, MH_EINVAL, "%s: not a regular file", path);
	}
	if (st.st_size > (off_t)SM_FILE_MAX) {
		close(fd);
		return mh_err(err, errlen, MH_ELIMIT, "%s: larger than %u bytes", path,
			      SM_FILE_MAX);
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		close(fd);
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, *buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			free(*buf);
			*buf = NULL;
			return mh_err(err, errlen, MH_EIO, "%s: %s", path, strerror(e));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	(*buf)[got] = '\0';
	*len = got;
	return 0;
}

int mh_sendmail_read(const char *cf_path, const char *submit_cf_path, const char *mc_path,
		     struct mh_mta_config *out, char *err, size_t errlen)
{
	const char *paths[3] = { cf_path, submit_cf_path, mc_path };
	struct mh_sendmail_src src[3];
	char *bufs[3] = { NULL, NULL, NULL };
	int rc = 0, i;

	for (i = 0; i < 3; i++) {
		size_t len = 0;

		if (!paths[i])
			continue;
		rc = sm_load(paths[i], &bufs[i], &len, err, errlen);
		if (rc < 0)
			goto out;
		src[i].data = bufs[i];
		src[i].len = len;
		src[i].name = paths[i];
	}
	rc = mh_sendmail_parse(cf_path ? &src[0] : NULL, submit_cf_path ? &src[1] : NULL,
			       mc_path ? &src[2] : NULL, out, err, errlen);
out:
	for (i = 0; i < 3; i++)
		free(bufs[i]);
	return rc;
}
