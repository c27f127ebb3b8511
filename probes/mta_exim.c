/*
 * mta_exim.c -- Exim's configuration: Debian's update-exim4.conf.conf and
 * the main section of exim.conf / exim4.conf (include/mailhole/mta.h).
 *
 * update-exim4.conf.conf is a shell fragment of dc_key='value' lines (the
 * quotes may be single, double or absent). What it decides:
 *   dc_eximconfig_configtype  internet | smarthost | satellite | local | none
 *   dc_local_interfaces       where the daemon listens ("" = everywhere)
 *   dc_smarthost              where outgoing mail goes (smarthost, satellite)
 *   dc_readhost + dc_hide_mailname='true'
 *                             sender addresses rewritten to dc_readhost
 *                             (envelope From included: Debian's "Ffrs" rewrite)
 *   dc_other_hostnames        domains delivered locally
 * Without hiding, Debian qualifies bare addresses with /etc/mailname (the
 * "mailname" file two levels above update-exim4.conf.conf), else the host
 * name.
 *
 * exim.conf: "name = value" lines of the main section, before the first
 * "begin" line; comments (#), a trailing backslash continues a line; macro
 * definitions (NAME = ..., upper case) and .ifdef-style directives are
 * skipped. qualify_domain defaults to primary_hostname, which defaults to the
 * host name; qualify_recipient defaults to qualify_domain.
 *
 * Limits: 1 MiB per file, 64 KiB per logical line; a NUL or other control
 * byte is an error naming FILE:LINE.
 */
#include "mailhole/mta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailhole/common.h"

#define EX_FILE_MAX (1024 * 1024)
#define EX_LINE_MAX (64 * 1024)


static const char *ex_trim(const char *s, size_t *len)
{
	while (*len && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r'))
		(*len)--;
	return s;
}

/* A value that was found, and where. */
struct ex_val {
	char v[MH_MTA_VALUE_MAX];
	char where[128];
	bool set;
};

static void ex_set(struct ex_val *x, const char *v, size_t vl, const char *file, unsigned line)
{
	mh_sanitize_line(x->v, sizeof(x->v), v, vl);
	snprintf(x->where, sizeof(x->where), "%s:%u", file, line);
	x->set = true;
}

static const char *ex_base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Checks one physical line for bytes no text file holds. */
static int ex_binary(const char *line, size_t len, const char *path, unsigned lineno, char *err,
                     size_t errlen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return mh_err(err, errlen, MH_EINVAL,
			              "%s:%u: binary data (byte 0x%02x at column %zu)", path,
			              lineno, c, i + 1);
	}
	return 0;
}

enum { DC_TYPE, DC_IFACES, DC_READHOST, DC_SMARTHOST, DC_HIDE, DC_OTHER, DC_N };
static const char *const dc_keys[DC_N] = {
    "dc_eximconfig_configtype", "dc_local_interfaces", "dc_readhost", "dc_smarthost",
    "dc_hide_mailname",         "dc_other_hostnames",
};

static int ex_debconf(const char *path, struct ex_val *dc, char *err, size_t errlen)
{
	char *buf;
	size_t len, pos = 0;
	unsigned lineno = 0;
	int rc = mh_read_file(path, EX_FILE_MAX, &buf, &len, err, errlen);

	if (rc < 0)
		return rc;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *s, *eq;
		size_t plen = nl ? (size_t)(nl - line) : len - pos, t, kl, vl;
		pos += plen + (nl ? 1 : 0);
		lineno++;
		if ((rc = ex_binary(line, plen, path, lineno, err, errlen)) < 0)
			break;
		if (plen > EX_LINE_MAX) {
			rc = mh_err(err, errlen, MH_ELIMIT, "%s:%u: line longer than %d bytes",
			            path, lineno, EX_LINE_MAX);
			break;
		}
		t = plen;
		s = ex_trim(line, &t);
		if (!t || s[0] == '#')
			continue;
		eq = memchr(s, '=', t);
		if (!eq)
			continue; /* not an assignment: the scripts ignore it too */
		kl = (size_t)(eq - s);
		vl = t - kl - 1;
		eq++;
		if (vl >= 2 && (eq[0] == '\'' || eq[0] == '"') && eq[vl - 1] == eq[0]) {
			eq++;
			vl -= 2;
		}
		for (int k = 0; k < DC_N; k++)
			if (strlen(dc_keys[k]) == kl && !memcmp(s, dc_keys[k], kl))
				ex_set(&dc[k], eq, vl, ex_base(path), lineno);
	}
	free(buf);
	return rc;
}

enum { EX_PRIMARY, EX_QUALIFY, EX_QRCPT, EX_IFACES, EX_PORTS, EX_N };
static const char *const ex_keys[EX_N] = {
    "primary_hostname", "qualify_domain",    "qualify_recipient",
    "local_interfaces", "daemon_smtp_ports",
};

static int ex_conf(const char *path, struct ex_val *ex, char *err, size_t errlen)
{
	char *buf, *logical;
	size_t len, pos = 0, llen = 0;
	unsigned lineno = 0, lstart = 0;
	bool cont = false;
	int rc = mh_read_file(path, EX_FILE_MAX, &buf, &len, err, errlen);

	if (rc < 0)
		return rc;
	logical = malloc(EX_LINE_MAX + 1);
	if (!logical) {
		free(buf);
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", path);
	}
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos), *s, *eq;
		size_t plen = nl ? (size_t)(nl - line) : len - pos, t, kl, vl;
		pos += plen + (nl ? 1 : 0);
		lineno++;
		if ((rc = ex_binary(line, plen, path, lineno, err, errlen)) < 0)
			break;
		t = plen;
		s = ex_trim(line, &t);
		if (!cont) {
			if (!t || s[0] == '#')
				continue;
			llen = 0;
			lstart = lineno;
		}
		if (llen + t > EX_LINE_MAX) {
			rc = mh_err(err, errlen, MH_ELIMIT, "%s:%u: line longer than %d bytes",
			            path, lstart, EX_LINE_MAX);
			break;
		}
		memcpy(logical + llen, s, t);
		llen += t;
		if (llen && logical[llen - 1] == '\\') {
			llen--;
			cont = true;
			continue;
		}
		cont = false;
		logical[llen] = '\0';
		s = logical;
		t = llen;
		if (t >= 5 && !strncmp(s, "begin", 5) && (t == 5 || s[5] == ' ' || s[5] == '\t'))
			break; /* the end of the main section */
		if (s[0] == '.' || (s[0] >= 'A' && s[0] <= 'Z'))
			continue; /* a directive or a macro definition */
		eq = memchr(s, '=', t);
		if (!eq)
			continue; /* a boolean option ("no_..."), nothing we need */
		kl = (size_t)(eq - s);
		s = ex_trim(s, &kl);
		vl = t - (size_t)(eq + 1 - logical);
		eq = ex_trim(eq + 1, &vl);
		for (int k = 0; k < EX_N; k++)
			if (strlen(ex_keys[k]) == kl && !memcmp(s, ex_keys[k], kl))
				ex_set(&ex[k], eq, vl, ex_base(path), lstart);
	}
	free(logical);
	free(buf);
	return rc;
}

/* /etc/mailname for DEBCONF = /etc/exim4/update-exim4.conf.conf: "" when absent. */
static void ex_mailname(const char *debconf, char *out, size_t size)
{
	char path[PATH_MAX], *buf = NULL;
	const char *s1 = strrchr(debconf, '/');
	size_t dl, len, t;
	const char *s;

	out[0] = '\0';
	if (!s1)
		return;
	dl = (size_t)(s1 - debconf);
	while (dl && debconf[dl - 1] != '/')
		dl--; /* the parent of the exim4 folder */
	if (dl + 9 >= sizeof(path))
		return;
	memcpy(path, debconf, dl);
	mh_strlcpy(path + dl, "mailname", sizeof(path) - dl);
	if (mh_read_file(path, EX_FILE_MAX, &buf, &len, out, size) < 0) {
		out[0] = '\0';
		return;
	}
	t = strcspn(buf, "\n");
	s = ex_trim(buf, &t);
	mh_sanitize_line(out, size, s, t);
	free(buf);
}

int mh_exim_read(const char *conf_path, const char *debconf_path, const char *hostname,
                 struct mh_mta_config *out, char *err, size_t errlen)
{
	struct ex_val dc[DC_N], ex[EX_N];
	char primary[256], qualify[256];
	int rc;

	memset(dc, 0, sizeof(dc));
	memset(ex, 0, sizeof(ex));
	out->product = "exim";
	if (!conf_path && !debconf_path)
		return mh_err(err, errlen, MH_EINVAL, "exim: no configuration file given");
	mh_strlcpy(out->config, conf_path ? conf_path : debconf_path, sizeof(out->config));
	if (conf_path && (rc = ex_conf(conf_path, ex, err, errlen)) < 0)
		return rc;
	if (debconf_path && (rc = ex_debconf(debconf_path, dc, err, errlen)) < 0)
		return rc;
	for (int k = 0; k < EX_N; k++)
		if (ex[k].set)
			mh_mta_setting_add(out, ex_keys[k], ex[k].v, ex[k].where);
	for (int k = 0; k < DC_N; k++)
		if (dc[k].set)
			mh_mta_setting_add(out, dc_keys[k], dc[k].v, dc[k].where);

	mh_strlcpy(primary, ex[EX_PRIMARY].set ? ex[EX_PRIMARY].v : (hostname ? hostname : ""),
	           sizeof(primary));
	mh_strlcpy(qualify, ex[EX_QUALIFY].set ? ex[EX_QUALIFY].v : primary, sizeof(qualify));
	out->masq.known = true;
	out->masq.always_add_domain = MH_TRI_YES; /* Exim qualifies every bare address */
	out->smtp_listener = MH_TRI_YES;          /* daemon_smtp_ports defaults to smtp */
	out->local_delivery = true;
	mh_strlcpy(out->listen, "all", sizeof(out->listen));
	if (ex[EX_IFACES].set)
		mh_strlcpy(out->listen, ex[EX_IFACES].v, sizeof(out->listen));
	if (ex[EX_PORTS].set && !ex[EX_PORTS].v[0])
		out->smtp_listener = MH_TRI_NO;

	if (debconf_path) {
		const char *type = dc[DC_TYPE].v;
		bool hide = dc[DC_HIDE].set && !strcasecmp(dc[DC_HIDE].v, "true");
		char mailname[256];
		if (dc[DC_IFACES].set)
			mh_strlcpy(out->listen, dc[DC_IFACES].v[0] ? dc[DC_IFACES].v : "all",
			           sizeof(out->listen));
		if ((!strcmp(type, "smarthost") || !strcmp(type, "satellite")) &&
		    dc[DC_SMARTHOST].set)
			mh_strlcpy(out->relayhost, dc[DC_SMARTHOST].v, sizeof(out->relayhost));
		if (!strcmp(type, "satellite"))
			out->local_delivery = false; /* "no local mail" */
		if (!strcmp(type, "none"))
			out->smtp_listener = MH_TRI_UNKNOWN;
		ex_mailname(debconf_path, mailname, sizeof(mailname));
		if (mailname[0] && !ex[EX_QUALIFY].set) {
			mh_strlcpy(qualify, mailname, sizeof(qualify));
			mh_mta_setting_add(out, "mailname", mailname, "mailname:1");
		}
		if (hide && dc[DC_READHOST].v[0]) {
			mh_strlcpy(out->masq.domain, dc[DC_READHOST].v, sizeof(out->masq.domain));
			out->masq.envelope = MH_TRI_YES;
			out->masq.recipients = MH_TRI_NO;
			return 0;
		}
		if (dc[DC_READHOST].v[0] && !hide)
			mh_mta_note(out,
			            "dc_readhost = %s is not used: dc_hide_mailname is not "
			            "'true'",
			            dc[DC_READHOST].v);
	}
	if (strchr(qualify, '$') ||
	    (qualify[0] >= 'A' && qualify[0] <= 'Z' &&
	     strspn(qualify, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") == strlen(qualify))) {
		/* an expansion or a macro: not resolved here */
		mh_mta_note(out, "qualify_domain = %s is not resolved", qualify);
		out->masq.known = false;
		return 0;
	}
	if (qualify[0] && strcasecmp(qualify, hostname ? hostname : "") != 0) {
		mh_strlcpy(out->masq.domain, qualify, sizeof(out->masq.domain));
		out->masq.envelope = MH_TRI_YES; /* qualify_domain qualifies the envelope too */
	} else {
		out->masq.domain[0] = '\0';
		out->masq.envelope = MH_TRI_NO;
	}
	{
		const char *qr = ex[EX_QRCPT].set ? ex[EX_QRCPT].v : qualify;
		out->masq.recipients =
		    qr[0] && strcasecmp(qr, hostname ? hostname : "") != 0 ? MH_TRI_YES : MH_TRI_NO;
	}
	return 0;
}
