/*
 * mta.c -- the parts of an MTA configuration reading that every reader
 * shares (include/mailhole/mta.h).
 */
#include "mailhole/mta.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mailhole/common.h"

void mh_mta_config_init(struct mh_mta_config *c)
{
	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->smtp_listener = MH_TRI_UNKNOWN;
	c->masq.envelope = MH_TRI_UNKNOWN;
	c->masq.recipients = MH_TRI_UNKNOWN;
	c->masq.always_add_domain = MH_TRI_UNKNOWN;
}

void mh_mta_setting_add(struct mh_mta_config *c, const char *key, const char *value,
			const char *where)
{
	struct mh_mta_setting *s;

	if (c->nsettings >= MH_MTA_SETTINGS_MAX)
		return;
	s = &c->settings[c->nsettings++];
	mh_sanitize_line(s->key, sizeof(s->key), key, strlen(key));
	mh_sanitize_line(s->value, sizeof(s->value), value, strlen(value));
	mh_sanitize_line(s->where, sizeof(s->where), where ? where : "", where ? strlen(where) : 0);
}

void mh_mta_note(struct mh_mta_config *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (c->nnotes >= MH_MTA_NOTES_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	mh_sanitize_line(c->notes[c->nnotes++], sizeof(c->notes[0]), buf, strlen(buf));
}
