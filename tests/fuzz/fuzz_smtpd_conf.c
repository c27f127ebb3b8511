/*
 * fuzz_smtpd_conf.c -- libFuzzer target for OpenSMTPD's smtpd.conf reader
 * (probes/mta_opensmtpd.c, mh_opensmtpd_parse).
 *
 * The input is the text of an smtpd.conf; the first line, when it starts
 * with "mailname:", is /etc/mailname instead. Then:
 *   refused:  the message is one non-empty line that starts with the file's
 *             name ("smtpd.conf:N: ..." or "out of memory");
 *   accepted: the reading is sane (a known masquerade, tri-states in range,
 *             every string terminated, counts within their maxima), and
 *             the same text reads again to the same answer.
 * Includes are noted, never read: nothing touches the file system.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/mta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tri(enum mh_tri t)
{
	if (t != MH_TRI_UNKNOWN && t != MH_TRI_NO && t != MH_TRI_YES)
		abort();
}

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mh_mta_config a, b;
	char err[MH_ERRLEN], err2[MH_ERRLEN], mailname[64] = "";
	const char *text = (const char *)data;
	size_t len = size;
	int rc, rc2;

	if (size > 9 && !memcmp(data, "mailname:", 9)) {
		const char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - text) - 9 : size - 9;
		if (n >= sizeof(mailname))
			n = sizeof(mailname) - 1;
		memcpy(mailname, text + 9, n);
		mailname[n] = '\0';
		if (strlen(mailname) != n)
			return 0; /* a NUL inside: not what a file's first line gives */
		text = nl ? nl + 1 : text + size;
		len = size - (size_t)(text - (const char *)data);
	}
	mh_mta_config_init(&a);
	err[0] = '\0';
	rc = mh_opensmtpd_parse(text, len, "smtpd.conf", "host-o.lab.test", mailname, &a, err,
	                        sizeof(err));
	if (rc < 0) {
		if ((strncmp(err, "smtpd.conf:", 11) != 0 && strcmp(err, "out of memory") != 0) ||
		    strchr(err, '\n'))
			abort();
	} else {
		if (rc != 0 || !a.masq.known || a.nsettings > MH_MTA_SETTINGS_MAX ||
		    a.nnotes > MH_MTA_NOTES_MAX || strcmp(a.product, "opensmtpd") != 0)
			abort();
		check_tri(a.masq.envelope);
		check_tri(a.masq.recipients);
		check_tri(a.masq.always_add_domain);
		check_tri(a.smtp_listener);
		check_str(a.masq.domain, sizeof(a.masq.domain));
		check_str(a.listen, sizeof(a.listen));
		check_str(a.relayhost, sizeof(a.relayhost));
		for (unsigned i = 0; i < a.nsettings; i++) {
			check_str(a.settings[i].key, sizeof(a.settings[i].key));
			check_str(a.settings[i].value, sizeof(a.settings[i].value));
			check_str(a.settings[i].where, sizeof(a.settings[i].where));
		}
		for (unsigned i = 0; i < a.nnotes; i++)
			check_str(a.notes[i], sizeof(a.notes[i]));
	}
	mh_mta_config_init(&b);
	err2[0] = '\0';
	rc2 = mh_opensmtpd_parse(text, len, "smtpd.conf", "host-o.lab.test", mailname, &b, err2,
	                         sizeof(err2));
	if (rc2 != rc || strcmp(err, err2) != 0 || strcmp(a.masq.domain, b.masq.domain) != 0 ||
	    strcmp(a.listen, b.listen) != 0 || strcmp(a.relayhost, b.relayhost) != 0 ||
	    a.nsettings != b.nsettings || a.nnotes != b.nnotes)
		abort();
	return 0;
}
