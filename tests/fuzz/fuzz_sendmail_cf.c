/*
 * fuzz_sendmail_cf.c -- libFuzzer target for the Sendmail reader
 * (probes/mta_sendmail.c) over buffers, as mh_sendmail_read() gives them.
 *
 * The first byte picks what the rest is: 0 a .cf, 1 an .mc, 2 a .cf and an
 * .mc, 3 a .cf, a submit.cf and an .mc; parts are split at "\n%%\n". Then:
 *   refused:  the message is one terminated line that starts with the name
 *             of one of the files;
 *   accepted: counts are within their maxima, every string is terminated,
 *             tri-states are in range, and a second parse of the same input
 *             gives the same answer (no hidden state).
 * Messages are also produced into a 16-byte buffer, to exercise truncation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/mta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t split(const char *s, size_t len, size_t *next)
{
	const char *p = memmem(s, len, "\n%%\n", 4);

	if (!p) {
		*next = len;
		return len;
	}
	*next = (size_t)(p - s) + 4;
	return (size_t)(p - s);
}

static void check_str(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

static void check(const struct mh_mta_config *c)
{
	if (c->nsettings > MH_MTA_SETTINGS_MAX || c->nnotes > MH_MTA_NOTES_MAX)
		abort();
	check_str(c->listen, sizeof(c->listen));
	check_str(c->relayhost, sizeof(c->relayhost));
	check_str(c->masq.domain, sizeof(c->masq.domain));
	for (unsigned i = 0; i < c->nsettings; i++) {
		check_str(c->settings[i].key, sizeof(c->settings[i].key));
		check_str(c->settings[i].value, sizeof(c->settings[i].value));
		check_str(c->settings[i].where, sizeof(c->settings[i].where));
	}
	for (unsigned i = 0; i < c->nnotes; i++)
		check_str(c->notes[i], sizeof(c->notes[i]));
	if (c->masq.envelope < MH_TRI_UNKNOWN || c->masq.envelope > MH_TRI_YES ||
	    c->masq.recipients < MH_TRI_UNKNOWN || c->masq.recipients > MH_TRI_YES ||
	    c->smtp_listener < MH_TRI_UNKNOWN || c->smtp_listener > MH_TRI_YES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mh_mta_config c1, c2;
	struct mh_sendmail_src src[3] = {
		{ NULL, 0, "/etc/mail/sendmail.cf" },
		{ NULL, 0, "/etc/mail/submit.cf" },
		{ NULL, 0, "/etc/mail/sendmail.mc" },
	};
	struct mh_sendmail_src *cf = NULL, *submit = NULL, *mc = NULL;
	const char *s;
	size_t len, n, next;
	char err[256], small[16];
	int mode, rc1, rc2;

	if (size < 1)
		return 0;
	mode = data[0] & 3;
	s = (const char *)data + 1;
	len = size - 1;
	if (mode == 1) {
		mc = &src[2];
		mc->data = s;
		mc->len = len;
	} else {
		cf = &src[0];
		n = split(s, len, &next);
		cf->data = s;
		cf->len = n;
		s += next;
		len -= next;
		if (mode == 3) {
			submit = &src[1];
			n = split(s, len, &next);
			submit->data = s;
			submit->len = n;
			s += next;
			len -= next;
		}
		if (mode >= 2) {
			mc = &src[2];
			mc->data = s;
			mc->len = len;
		}
	}
	mh_mta_config_init(&c1);
	err[0] = '\0';
	rc1 = mh_sendmail_parse(cf, submit, mc, &c1, err, sizeof(err));
	if (rc1 < 0) {
		if (strncmp(err, "/etc/mail/", 10) || strchr(err, '\n') || !err[10])
			abort();
	} else {
		check(&c1);
	}
	mh_mta_config_init(&c2);
	rc2 = mh_sendmail_parse(cf, submit, mc, &c2, small, sizeof(small));
	if (rc1 != rc2)
		abort();
	if (rc1 < 0) {
		check_str(small, sizeof(small));
	} else if (memcmp(&c1, &c2, sizeof(c1)) != 0) {
		abort();
	}
	return 0;
}
