/*
 * mta_postfix.c -- Postfix's main.cf and master.cf, read as Postfix reads
 * them (include/mailhole/mta.h).
 *
 * main.cf: a logical line starts with non-whitespace text; a line that
 * starts with whitespace continues it; blank lines and lines whose first
 * non-whitespace character is '#' are ignored (they do not end a logical
 * line). Each logical line is "name = value"; the last definition of a name
 * wins. Values are expanded as postconf does: $name, ${name}, $(name),
 * ${name?text} (text when name is non-empty), ${name:text} (text when it is
 * empty) and $$, recursively with a depth cap so that a loop is an error,
 * never a hang. Parameters nobody set take Postfix's built-in defaults for
 * the few that decide where mail goes and how bare addresses are qualified.
 *
 * master.cf: the service lines (service type private unpriv chroot wakeup
 * maxproc command); "smtp inet" (or "ADDR:smtp inet", "25 inet") means an
 * SMTP listener; submission (587) and smtps (465) are noted as settings.
 *
 * Limits: 1 MiB per file, 64 KiB per logical line, 16 levels of expansion,
 * 64 KiB per expanded value. Bytes that no text file holds (NUL and other
 * control characters) are an error naming FILE:LINE.
 */
#include "mailhole/mta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailhole/common.h"

#define PF_FILE_MAX   (1024 * 1024)
#define PF_LINE_MAX   (64 * 1024)
#define PF_DEPTH_MAX  16
#define PF_EXPAND_MAX (64 * 1024)

/* One definition from main.cf (the last one of its name). */
struct pf_param {
	char name[64];
	char *value; /* owned, raw (unexpanded) */
	unsigned line;
};

struct pf_main {
	struct pf_param *v;
	size_t n, cap;
	const char *file; /* for messages */
	const char *hostname;
	char mydomain_default[256];
};

/* Postfix's built-in defaults for the parameters that matter here. */
static const struct {
	const char *name, *value;
} pf_defaults[] = {
    {"myorigin", "$myhostname"},
    {"inet_interfaces", "all"},
    {"inet_protocols", "all"},
    {"masquerade_domains", ""},
    {"masquerade_classes", "envelope_sender, header_sender, header_recipient"},
    {"masquerade_exceptions", ""},
    {"append_at_myorigin", "yes"},
    {"append_dot_mydomain", "no"},
    {"relayhost", ""},
    {"mydestination", "$myhostname, localhost.$mydomain, localhost"},
    {"alias_maps", "hash:/etc/aliases"},
    {"mail_name", "Postfix"},
    {"multi_instance_directories", ""},
    {"queue_directory", "/var/spool/postfix"},
    {"maximal_queue_lifetime", "5d"},
    {"delay_warning_time", "0h"},
};

static void pf_main_free(struct pf_main *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].value);
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

static struct pf_param *pf_find(const struct pf_main *m, const char *name, size_t nlen)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->v[i].name) == nlen && !memcmp(m->v[i].name, name, nlen))
			return &m->v[i];
	return NULL;
}

/* The raw value of name: main.cf's last definition, else the default; NULL if neither. */
static const char *pf_raw(const struct pf_main *m, const char *name, size_t nlen, unsigned *line)
{
	const struct pf_param *p = pf_find(m, name, nlen);

	*line = 0;
	if (p) {
		*line = p->line;
		return p->value;
	}
	if (nlen == 10 && !memcmp(name, "myhostname", 10))
		return m->hostname;
	if (nlen == 8 && !memcmp(name, "mydomain", 8))
		return m->mydomain_default;
	for (size_t i = 0; i < sizeof(pf_defaults) / sizeof(pf_defaults[0]); i++)
		if (strlen(pf_defaults[i].name) == nlen && !memcmp(pf_defaults[i].name, name, nlen))
			return pf_defaults[i].value;
	return NULL;
}

/* A growable output buffer of expansion, capped at PF_EXPAND_MAX. */
struct pf_buf {
	char *s;
	size_t n, cap;
	bool over;
};

static int pf_put(struct pf_buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > PF_EXPAND_MAX) {
		b->over = true;
		return MH_ELIMIT;
	}
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p)
			return MH_ENOMEM;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
	return 0;
}

static bool pf_namech(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static int pf_expand(const struct pf_main *m, const char *s, size_t len, unsigned depth,
                     unsigned line, struct pf_buf *b, char *err, size_t errlen);

/* Expands the value of parameter name into b (nothing when it is unknown). */
static int pf_expand_name(const struct pf_main *m, const char *name, size_t nlen, unsigned depth,
                          unsigned line, struct pf_buf *b, char *err, size_t errlen)
{
	unsigned pline;
	const char *raw = pf_raw(m, name, nlen, &pline);

	if (!raw)
		return 0;
	if (depth + 1 > PF_DEPTH_MAX)
		return mh_err(err, errlen, MH_EINVAL,
		              "%s:%u: $%.*s: expansion nested more than %d levels deep "
		              "(a $name loop?)",
		              m->file, line, (int)(nlen > 60 ? 60 : nlen), name, PF_DEPTH_MAX);
	return pf_expand(m, raw, strlen(raw), depth + 1, pline ? pline : line, b, err, errlen);
}

static int pf_expand(const struct pf_main *m, const char *s, size_t len, unsigned depth,
                     unsigned line, struct pf_buf *b, char *err, size_t errlen)
{
	size_t i = 0;
	int rc;

	while (i < len) {
		const char *dollar = memchr(s + i, '$', len - i);
		size_t lit = dollar ? (size_t)(dollar - (s + i)) : len - i;
		if (lit && (rc = pf_put(b, s + i, lit)) < 0)
			goto fail;
		i += lit;
		if (i >= len)
			break;
		i++; /* the '$' */
		if (i < len && s[i] == '$') {
			if ((rc = pf_put(b, "$", 1)) < 0)
				goto fail;
			i++;
		} else if (i < len && (s[i] == '{' || s[i] == '(')) {
			char close = s[i] == '{' ? '}' : ')';
			size_t start = ++i, nend, level = 1, end;
			while (i < len && pf_namech(s[i]))
				i++;
			nend = i;
			/* find the matching close, nesting allowed in the text part */
			for (end = i; end < len; end++) {
				if (s[end] == (close == '}' ? '{' : '('))
					level++;
				else if (s[end] == close && --level == 0)
					break;
			}
			if (end >= len || nend == start)
				return mh_err(err, errlen, MH_EINVAL,
				              "%s:%u: bad ${...} or $(...) expression", m->file,
				              line);
			if (nend == end) {
				rc = pf_expand_name(m, s + start, nend - start, depth, line, b, err,
				                    errlen);
			} else if (s[nend] == '?' || s[nend] == ':') {
				struct pf_buf v = {0};
				bool nonempty;
				rc = pf_expand_name(m, s + start, nend - start, depth, line, &v,
				                    err, errlen);
				nonempty = v.n > 0;
				free(v.s);
				if (rc < 0)
					return rc;
				if ((s[nend] == '?') == nonempty) {
					if (depth + 1 > PF_DEPTH_MAX)
						return mh_err(err, errlen, MH_EINVAL,
						              "%s:%u: expansion nested too deep",
						              m->file, line);
					rc = pf_expand(m, s + nend + 1, end - nend - 1, depth + 1,
					               line, b, err, errlen);
				}
			} else {
				return mh_err(err, errlen, MH_EINVAL,
				              "%s:%u: bad character in ${...} expression", m->file,
				              line);
			}
			if (rc < 0)
				return rc;
			i = end + 1;
		} else {
			size_t start = i;
			while (i < len && pf_namech(s[i]))
				i++;
			if (i == start) {
				if ((rc = pf_put(b, "$", 1)) < 0)
					goto fail;
				continue;
			}
			rc = pf_expand_name(m, s + start, i - start, depth, line, b, err, errlen);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
fail:
	if (rc == MH_ELIMIT)
		return mh_err(err, errlen, MH_ELIMIT, "%s:%u: expanded value longer than %d bytes",
		              m->file, line, PF_EXPAND_MAX);
	return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", m->file);
}

/*
 * The expanded value of name into out (truncated to size), where it was set
 * into where ("main.cf:12" or "default"). 0 or negative (err set).
 */
static int pf_value(const struct pf_main *m, const char *name, char *out, size_t size, char *where,
                    size_t wsize, char *err, size_t errlen)
{
	struct pf_buf b = {0};
	unsigned line;
	const char *raw = pf_raw(m, name, strlen(name), &line);
	int rc = 0;

	out[0] = '\0';
	if (where) {
		if (line)
			snprintf(where, wsize, "%s:%u", m->file, line);
		else
			mh_strlcpy(where, "default", wsize);
	}
	if (!raw)
		return 0;
	rc = pf_expand(m, raw, strlen(raw), 0, line, &b, err, errlen);
	if (rc == 0 && b.s)
		mh_strlcpy(out, b.s, size);
	free(b.s);
	return rc;
}

/* Trims whitespace at both ends of s[0..*len) in place; returns the new start. */
static const char *pf_trim(const char *s, size_t *len)
{
	while (*len && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

/* Records one logical line "name = value" (first physical line lineno). */
static int pf_define(struct pf_main *m, const char *s, size_t len, unsigned lineno, char *err,
                     size_t errlen)
{
	const char *eq = memchr(s, '=', len), *name, *val;
	size_t nlen, vlen;
	struct pf_param *p;
	char *copy;

	if (!eq)
		return mh_err(err, errlen, MH_EINVAL, "%s:%u: missing '=' after parameter name",
		              m->file, lineno);
	nlen = (size_t)(eq - s);
	name = pf_trim(s, &nlen);
	vlen = len - (size_t)(eq + 1 - s);
	val = pf_trim(eq + 1, &vlen);
	if (nlen == 0)
		return mh_err(err, errlen, MH_EINVAL, "%s:%u: missing parameter name before '='",
		              m->file, lineno);
	for (size_t i = 0; i < nlen; i++)
		if (!pf_namech(name[i]) && name[i] != '-' && name[i] != '/' && name[i] != '.')
			return mh_err(err, errlen, MH_EINVAL,
			              "%s:%u: bad parameter name (whitespace or a special "
			              "character in it)",
			              m->file, lineno);
	if (nlen >= sizeof(m->v[0].name))
		return mh_err(err, errlen, MH_EINVAL, "%s:%u: parameter name too long", m->file,
		              lineno);
	copy = malloc(vlen + 1);
	if (!copy)
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", m->file);
	memcpy(copy, val, vlen);
	copy[vlen] = '\0';
	p = pf_find(m, name, nlen);
	if (p) { /* the last definition wins */
		free(p->value);
		p->value = copy;
		p->line = lineno;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 32;
		struct pf_param *v = realloc(m->v, cap * sizeof(*v));
		if (!v) {
			free(copy);
			return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", m->file);
		}
		m->v = v;
		m->cap = cap;
	}
	p = &m->v[m->n++];
	memcpy(p->name, name, nlen);
	p->name[nlen] = '\0';
	p->value = copy;
	p->line = lineno;
	return 0;
}

/*
 * Splits buf into logical lines and defines each. A physical line may end
 * in LF or CRLF. Refuses control characters other than tab (binary data).
 */
static int pf_parse_lines(struct pf_main *m, const char *buf, size_t len, char *err, size_t errlen)
{
	char *logical = malloc(PF_LINE_MAX + 1);
	size_t llen = 0, pos = 0;
	unsigned lineno = 0, lstart = 0;
	bool have = false;
	int rc = 0;

	if (!logical)
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", m->file);
	while (pos < len && rc == 0) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t plen = nl ? (size_t)(nl - line) : len - pos, t;
		pos += plen + (nl ? 1 : 0);
		lineno++;
		if (plen && line[plen - 1] == '\r')
			plen--;
		for (size_t i = 0; i < plen; i++) {
			unsigned char c = (unsigned char)line[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				rc = mh_err(err, errlen, MH_EINVAL,
				            "%s:%u: binary data (byte 0x%02x at column %zu): not a "
				            "Postfix configuration file",
				            m->file, lineno, c, i + 1);
				break;
			}
		}
		if (rc < 0)
			break;
		t = plen;
		{
			const char *tr = pf_trim(line, &t);
			if (t == 0 || tr[0] == '#')
				continue; /* blank or comment: ignored, ends nothing */
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (!have) {
				rc = mh_err(err, errlen, MH_EINVAL,
				            "%s:%u: a continuation line (starting with whitespace) "
				            "with no parameter before it",
				            m->file, lineno);
				break;
			}
			if (llen + 1 + plen > PF_LINE_MAX) {
				rc = mh_err(err, errlen, MH_ELIMIT,
				            "%s:%u: logical line longer than %d bytes", m->file,
				            lstart, PF_LINE_MAX);
				break;
			}
			logical[llen++] = ' ';
			memcpy(logical + llen, line, plen);
			llen += plen;
			continue;
		}
		if (have && (rc = pf_define(m, logical, llen, lstart, err, errlen)) < 0)
			break;
		if (plen > PF_LINE_MAX) {
			rc = mh_err(err, errlen, MH_ELIMIT, "%s:%u: line longer than %d bytes",
			            m->file, lineno, PF_LINE_MAX);
			break;
		}
		memcpy(logical, line, plen);
		llen = plen;
		lstart = lineno;
		have = true;
	}
	if (rc == 0 && have)
		rc = pf_define(m, logical, llen, lstart, err, errlen);
	free(logical);
	return rc;
}

/* Is word (comma/space separated) in list? */
static bool pf_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; *p;) {
		size_t n;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		n = strcspn(p, " ,\t");
		if (n == wl && !strncasecmp(p, word, wl))
			return true;
		p += n;
	}
	return false;
}

/*
 * The first entry of masquerade_domains that covers origin (equal to it or
 * a parent of it) and is not an exclusion ("!host.example.com"), into out.
 */
static bool pf_in_domain(const char *host, const char *dom);
static void pf_masq_domain(const char *list, const char *origin, char *out, size_t size)
{
	out[0] = '\0';
	for (const char *p = list; *p;) {
		size_t n;
		char dom[256];
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		n = strcspn(p, " ,\t");
		if (n && p[0] != '!' && n < sizeof(dom)) {
			memcpy(dom, p, n);
			dom[n] = '\0';
			if (pf_in_domain(origin, dom)) {
				mh_strlcpy(out, dom, size);
				return;
			}
		}
		p += n;
	}
}

/* Does host equal dom or end in ".dom" (case-insensitive)? */
static bool pf_in_domain(const char *host, const char *dom)
{
	size_t hl = strlen(host), dl = strlen(dom);

	if (!dl)
		return false;
	if (hl == dl)
		return !strcasecmp(host, dom);
	return hl > dl && host[hl - dl - 1] == '.' && !strcasecmp(host + hl - dl, dom);
}

int mh_postfix_main_parse(const char *buf, size_t len, const char *name, const char *hostname,
                          struct mh_mta_config *out, char *err, size_t errlen)
{
	static const char *const shown[] = {
	    "myhostname",
	    "mydomain",
	    "myorigin",
	    "masquerade_domains",
	    "masquerade_classes",
	    "masquerade_exceptions",
	    "append_at_myorigin",
	    "inet_interfaces",
	    "inet_protocols",
	    "relayhost",
	    "mydestination",
	    "alias_maps",
	    "multi_instance_directories",
	    "queue_directory",
	    "maximal_queue_lifetime",
	    "delay_warning_time",
	};
	struct pf_main m = {.file = name ? name : "main.cf", .hostname = hostname ? hostname : ""};
	char v[MH_MTA_VALUE_MAX], where[128], myhostname[256], myorigin[256], masq[256];
	char classes[MH_MTA_VALUE_MAX], dest[MH_MTA_VALUE_MAX];
	const char *dot;
	int rc;

	dot = strchr(m.hostname, '.');
	mh_strlcpy(m.mydomain_default, dot && dot[1] ? dot + 1 : "localdomain",
	           sizeof(m.mydomain_default));
	if (!out->product)
		out->product = "postfix";
	rc = pf_parse_lines(&m, buf, len, err, errlen);
	if (rc < 0)
		goto done;
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		if ((rc = pf_value(&m, shown[i], v, sizeof(v), where, sizeof(where), err, errlen)) <
		    0)
			goto done;
		if (!strcmp(shown[i], "multi_instance_directories") && !v[0])
			continue;
		mh_mta_setting_add(out, shown[i], v, where);
	}
	if ((rc = pf_value(&m, "myhostname", myhostname, sizeof(myhostname), NULL, 0, err,
	                   errlen)) < 0 ||
	    (rc = pf_value(&m, "myorigin", myorigin, sizeof(myorigin), NULL, 0, err, errlen)) < 0 ||
	    (rc = pf_value(&m, "masquerade_domains", v, sizeof(v), NULL, 0, err, errlen)) < 0 ||
	    (rc = pf_value(&m, "masquerade_classes", classes, sizeof(classes), NULL, 0, err,
	                   errlen)) < 0 ||
	    (rc = pf_value(&m, "mydestination", dest, sizeof(dest), NULL, 0, err, errlen)) < 0)
		goto done;
	/* masquerade_domains applies to addresses in (a subdomain of) a domain */
	pf_masq_domain(v, myorigin, masq, sizeof(masq));
	if (v[0] && !masq[0])
		mh_mta_note(out, "masquerade_domains = %.100s does not cover myorigin = %.100s", v,
		            myorigin);
	out->masq.known = true;
	if (masq[0]) {
		mh_strlcpy(out->masq.domain, masq, sizeof(out->masq.domain));
		out->masq.envelope =
		    pf_list_has(classes, "envelope_sender") ? MH_TRI_YES : MH_TRI_NO;
		out->masq.recipients =
		    pf_list_has(classes, "envelope_recipient") ? MH_TRI_YES : MH_TRI_NO;
	} else if (strcasecmp(myorigin, myhostname) != 0 && myorigin[0]) {
		/* bare names are qualified with myorigin: envelope and headers alike */
		mh_strlcpy(out->masq.domain, myorigin, sizeof(out->masq.domain));
		out->masq.envelope = MH_TRI_YES;
		out->masq.recipients = MH_TRI_YES;
	} else {
		out->masq.domain[0] = '\0';
		out->masq.envelope = MH_TRI_NO;
		out->masq.recipients = MH_TRI_NO;
	}
	if ((rc = pf_value(&m, "append_at_myorigin", v, sizeof(v), NULL, 0, err, errlen)) < 0)
		goto done;
	out->masq.always_add_domain = !strcasecmp(v, "no") ? MH_TRI_NO : MH_TRI_YES;
	if ((rc = pf_value(&m, "inet_interfaces", out->listen, sizeof(out->listen), NULL, 0, err,
	                   errlen)) < 0 ||
	    (rc = pf_value(&m, "relayhost", out->relayhost, sizeof(out->relayhost), NULL, 0, err,
	                   errlen)) < 0)
		goto done;
	{
		size_t dl = strlen(dest);
		pf_trim(dest, &dl);
		out->local_delivery = dl > 0 && strspn(dest, " ,\t") < strlen(dest);
	}
done:
	pf_main_free(&m);
	return rc;
}


/* Reads master.cf: smtp_listener, and notes of submission / smtps services. */
static int pf_master(const char *path, struct mh_mta_config *out, char *err, size_t errlen)
{
	char *buf, where[128];
	size_t len, pos = 0;
	unsigned lineno = 0;
	bool smtp = false;
	int rc = mh_read_file(path, PF_FILE_MAX, &buf, &len, err, errlen);

	if (rc < 0)
		return rc;
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t plen = nl ? (size_t)(nl - line) : len - pos, f1, f2, t = plen;
		const char *svc, *typ, *tr;
		char port[64];
		pos += plen + (nl ? 1 : 0);
		lineno++;
		if (memchr(line, '\0', plen)) {
			free(buf);
			return mh_err(err, errlen, MH_EINVAL, "%s:%u: binary data", path, lineno);
		}
		tr = pf_trim(line, &t);
		if (!t || tr[0] == '#' || line[0] == ' ' || line[0] == '\t')
			continue; /* blank, comment, or continuation (-o options) */
		svc = line;
		f1 = strcspn(svc, " \t\r\n");
		if (f1 >= plen)
			continue;
		typ = svc + f1;
		while (*typ == ' ' || *typ == '\t')
			typ++;
		f2 = strcspn(typ, " \t\r\n");
		if (f2 != 4 || strncmp(typ, "inet", 4) != 0)
			continue;
		/* "smtp", "127.0.0.1:smtp", "[::1]:25": the part after the last ':' */
		{
			const char *colon = NULL;
			for (size_t i = 0; i < f1; i++)
				if (svc[i] == ':')
					colon = svc + i;
			const char *ps = colon ? colon + 1 : svc;
			size_t pl = f1 - (size_t)(ps - svc);
			if (pl >= sizeof(port))
				continue;
			memcpy(port, ps, pl);
			port[pl] = '\0';
		}
		snprintf(where, sizeof(where), "master.cf:%u", lineno);
		if (!strcmp(port, "smtp") || !strcmp(port, "25")) {
			smtp = true;
			mh_mta_setting_add(out, "master.cf smtp", "inet (port 25)", where);
		} else if (!strcmp(port, "submission") || !strcmp(port, "587")) {
			mh_mta_setting_add(out, "master.cf submission", "inet (port 587)", where);
		} else if (!strcmp(port, "smtps") || !strcmp(port, "submissions") ||
		           !strcmp(port, "465")) {
			mh_mta_setting_add(out, "master.cf smtps", "inet (port 465)", where);
		}
	}
	free(buf);
	out->smtp_listener = smtp ? MH_TRI_YES : MH_TRI_NO;
	return 0;
}

int mh_postfix_read(const char *config_dir, const char *hostname, struct mh_mta_config *out,
                    char *err, size_t errlen)
{
	char path[PATH_MAX], e2[MH_ERRLEN];
	char *buf;
	size_t len;
	int rc;

	out->product = "postfix";
	if (snprintf(path, sizeof(path), "%s/main.cf", config_dir) >= (int)sizeof(path))
		return mh_err(err, errlen, MH_EINVAL, "%s: path too long", config_dir);
	mh_strlcpy(out->config, path, sizeof(out->config));
	rc = mh_read_file(path, PF_FILE_MAX, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = mh_postfix_main_parse(buf, len, "main.cf", hostname, out, e2, sizeof(e2));
	free(buf);
	if (rc < 0)
		return mh_err(err, errlen, rc, "%s/%s", config_dir, e2);
	if (snprintf(path, sizeof(path), "%s/master.cf", config_dir) >= (int)sizeof(path))
		return mh_err(err, errlen, MH_EINVAL, "%s: path too long", config_dir);
	rc = pf_master(path, out, e2, sizeof(e2));
	if (rc == MH_EIO) {
		mh_mta_note(out, "%s", e2); /* main.cf alone still says how mail leaves */
		return 0;
	}
	if (rc < 0)
		return mh_err(err, errlen, rc, "%s", e2);
	return 0;
}
