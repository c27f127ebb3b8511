/*
 * fuzz_postfix_main_cf.c -- libFuzzer target for Postfix's main.cf reader
 * (probes/mta_postfix.c, mh_postfix_main_parse).
 *
 * The input is the text of a main.cf. Then:
 *   refused:  the message is one non-empty line that starts with the file's
 *             name and a line number ("main.cf:N:");
 *   accepted: the reading is sane (a known masquerade, tri-states in range,
 *             every string terminated, settings within their maximum), and
 *             the same text reads again to the same answer.
 * Nothing is read from or written to the file system.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mh_mta_config a, b;
	char err[MH_ERRLEN], err2[MH_ERRLEN];
	int rc, rc2;

	mh_mta_config_init(&a);
	err[0] = '\0';
	rc = mh_postfix_main_parse((const char *)data, size, "main.cf", "host-a.lab.test", &a, err,
	                           sizeof(err));
	if (rc < 0) {
		if (strncmp(err, "main.cf", 7) != 0 || strchr(err, '\n'))
			abort();
	} else {
		if (rc != 0 || !a.masq.known || a.nsettings > MH_MTA_SETTINGS_MAX ||
		    a.nnotes > MH_MTA_NOTES_MAX)
			abort();
		check_tri(a.masq.envelope);
		check_tri(a.masq.recipients);
		check_tri(a.masq.always_add_domain);
		if (!memchr(a.masq.domain, '\0', sizeof(a.masq.domain)) ||
		    !memchr(a.listen, '\0', sizeof(a.listen)) ||
		    !memchr(a.relayhost, '\0', sizeof(a.relayhost)))
			abort();
	}
	mh_mta_config_init(&b);
	err2[0] = '\0';
	rc2 = mh_postfix_main_parse((const char *)data, size, "main.cf", "host-a.lab.test", &b,
	                            err2, sizeof(err2));
	if (rc2 != rc || strcmp(err, err2) != 0 || strcmp(a.masq.domain, b.masq.domain) != 0 ||
	    a.nsettings != b.nsettings)
		abort();
	return 0;
}
