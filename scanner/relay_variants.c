/*
 * relay_variants.c -- the MAIL FROM / RCPT TO pairs of the open-relay test
 * (include/mailhole/probe_smtp.h).
 *
 * The set follows nmap's smtp-open-relay: a plain foreign recipient from a
 * null, local-looking and address-literal sender, then the old tricks that
 * fooled relay checks which only looked at the text after the last '@'
 * (percent hack, quoted local part, double '@', RFC 821 source route, UUCP
 * bang path), each aimed at the test domain through the server itself.
 *
 * Because this sends mail toward a real domain, the inputs are held to
 * plain host-name syntax: the test domain must be one the policy names, and
 * nothing can smuggle a CR/LF, a space, a '<' or an extra '@' into a
 * command line. Every recipient names test_domain; the only other names in
 * any path are own_domain, server_name and the server's address literal.
 */
#include "mailhole/probe_smtp.h"

#include "mailhole/common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define LOCAL "relaytest"

bool mh_relay_domain_valid(const char *name, bool need_dot)
{
	size_t len, label = 0, labels = 0;
	bool last_all_digits = true;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = name[i];

		if (c == '.' || c == '\0') {
			/* Empty label, or a hyphen at either end of one. */
			if (label == 0 || label > 63 || name[i - 1] == '-')
				return false;
			labels++;
			if (c == '.')
				last_all_digits = true;
			label = 0;
			continue;
		}
		if (c == '-') {
			if (label == 0)
				return false;
		} else if (c >= '0' && c <= '9') {
			/* digits keep last_all_digits as it is */
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			last_all_digits = false;
		} else {
			return false;
		}
		if (c == '-')
			last_all_digits = false;
		label++;
	}
	/* "192.0.2.1" is not a host name; neither is a top-level "123". */
	if (last_all_digits)
		return false;
	return !need_dot || labels >= 2;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC 5321 4.1.3). */
static bool ip_literal(const char *ip, char *buf, size_t size)
{
	unsigned char bin[16];
	char text[INET6_ADDRSTRLEN];
	int n;

	if (ip == NULL)
		return false;
	if (inet_pton(AF_INET, ip, bin) == 1) {
		if (inet_ntop(AF_INET, bin, text, sizeof(text)) == NULL)
			return false;
		n = snprintf(buf, size, "[%s]", text);
	} else if (inet_pton(AF_INET6, ip, bin) == 1) {
		if (inet_ntop(AF_INET6, bin, text, sizeof(text)) == NULL)
			return false;
		n = snprintf(buf, size, "[IPv6:%s]", text);
	} else {
		return false;
	}
	return n > 0 && (size_t)n < size;
}

/*
 * One pair: the sender and recipient built from a pattern where 'T', 'O',
 * 'S' and 'I' stand for the test domain, own domain, server name and
 * address literal, 'L' for the local part; every other character is itself.
 */
struct names {
	const char *t, *o, *s, *i;
};

static int expand(const char *pattern, const struct names *nm, char *dst, size_t size)
{
	size_t o = 0;

	for (const char *p = pattern; *p != '\0'; p++) {
		const char *part;
		char one[2] = {*p, '\0'};
		size_t n;

		switch (*p) {
		case 'T':
			part = nm->t;
			break;
		case 'O':
			part = nm->o;
			break;
		case 'S':
			part = nm->s;
			break;
		case 'I':
			part = nm->i;
			break;
		case 'L':
			part = LOCAL;
			break;
		default:
			part = one;
			break;
		}
		n = strlen(part);
		if (o + n >= size)
			return MH_ELIMIT;
		memcpy(dst + o, part, n);
		o += n;
	}
	dst[o] = '\0';
	return 0;
}

enum need { NEED_NONE, NEED_OWN, NEED_SERVER };

static const struct {
	const char *name;
	const char *from; /* pattern, see expand() */
	const char *to;
	enum need need;
} pairs[] = {
    {"null-sender", "<>", "<L@T>", NEED_NONE},
    {"own-domain-sender", "<L@O>", "<L@T>", NEED_OWN},
    {"server-name-sender", "<L@S>", "<L@T>", NEED_SERVER},
    {"ip-literal-sender", "<L@I>", "<L@T>", NEED_NONE},
    {"percent-hack-ip", "<L@I>", "<L%T@I>", NEED_NONE},
    {"percent-hack-name", "<L@I>", "<L%T@S>", NEED_SERVER},
    {"quoted-at", "<L@I>", "<\"L@T\">", NEED_NONE},
    {"quoted-percent", "<L@I>", "<\"L%T\">", NEED_NONE},
    {"double-at-ip", "<L@I>", "<L@T@I>", NEED_NONE},
    {"quoted-at-ip", "<L@I>", "<\"L@T\"@I>", NEED_NONE},
    {"double-at-name", "<L@I>", "<L@T@S>", NEED_SERVER},
    {"source-route-ip", "<L@I>", "<@I:L@T>", NEED_NONE},
    {"source-route-name", "<L@I>", "<@S:L@T>", NEED_SERVER},
    {"bang-path", "<L@I>", "<T!L>", NEED_NONE},
    {"bang-path-ip", "<L@I>", "<T!L@I>", NEED_NONE},
    {"bang-path-name", "<L@I>", "<T!L@S>", NEED_SERVER},
};

int mh_relay_variants(const char *test_domain, const char *server_name, const char *server_ip,
		      const char *own_domain, struct mh_relay_variant *out, size_t max, char *err,
		      size_t errlen)
{
	char lit[INET6_ADDRSTRLEN + 8];
	struct names nm;
	bool have_own = own_domain != NULL && own_domain[0] != '\0';
	bool have_server = server_name != NULL && server_name[0] != '\0';
	size_t n = 0, want = 0;
	int rc;

	if (test_domain == NULL || test_domain[0] == '\0')
		return mh_err(err, errlen, MH_EINVAL, "relay test: no test domain");
	if (!mh_relay_domain_valid(test_domain, true))
		return mh_err(err, errlen, MH_EINVAL,
			      "relay test: test domain is not a host name (letters, digits, "
			      "hyphens, dots; two labels at least)");
	if (have_own && !mh_relay_domain_valid(own_domain, false))
		return mh_err(err, errlen, MH_EINVAL, "relay test: own domain is not a host name");
	if (have_server && !mh_relay_domain_valid(server_name, false))
		return mh_err(err, errlen, MH_EINVAL,
			      "relay test: server name is not a host name");
	if (!ip_literal(server_ip, lit, sizeof(lit)))
		return mh_err(err, errlen, MH_EINVAL, "relay test: server address is not an IP");

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if ((pairs[i].need == NEED_OWN && !have_own) ||
		    (pairs[i].need == NEED_SERVER && !have_server))
			continue;
		want++;
	}
	if (out == NULL || max < want)
		return mh_err(err, errlen, MH_ELIMIT, "relay test: room for %zu pairs, %zu needed",
			      out == NULL ? (size_t)0 : max, want);

	nm.t = test_domain;
	nm.o = have_own ? own_domain : "";
	nm.s = have_server ? server_name : "";
	nm.i = lit;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct mh_relay_variant *v = &out[n];

		if ((pairs[i].need == NEED_OWN && !have_own) ||
		    (pairs[i].need == NEED_SERVER && !have_server))
			continue;
		rc = expand(pairs[i].from, &nm, v->mail_from, sizeof(v->mail_from));
		if (rc == 0)
			rc = expand(pairs[i].to, &nm, v->rcpt_to, sizeof(v->rcpt_to));
		if (rc < 0) {
			memset(out, 0, (n + 1) * sizeof(*out));
			return mh_err(err, errlen, MH_ELIMIT,
				      "relay test: %s path longer than %d bytes", pairs[i].name,
				      MH_RELAY_PATH_MAX - 1);
		}
		v->name = pairs[i].name;
		n++;
	}
	return (int)n;
}
