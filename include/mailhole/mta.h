/*
 * mta.h -- what the installed MTA's configuration really does, read as the
 * MTA itself reads it (Postfix: last definition wins, $name expansion,
 * continuation lines; Sendmail: the .cf is what runs, the .mc is what was
 * meant; Exim: the main configuration, or Debian's update-exim4.conf.conf).
 *
 * Readers never change anything and never run the MTA's programs. Every
 * reader takes paths (the caller resolves them under --root), caps what it
 * reads (file size, line length, include depth), and reports a malformed
 * file as an error naming the file and the line, never a crash.
 */
#ifndef MAILHOLE_MTA_H
#define MAILHOLE_MTA_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* A tri-state: the configuration says yes, says no, or does not say. */
enum mh_tri { MH_TRI_UNKNOWN = -1, MH_TRI_NO = 0, MH_TRI_YES = 1 };

#define MH_MTA_VALUE_MAX 512
#define MH_MTA_SETTINGS_MAX 48
#define MH_MTA_NOTES_MAX 8

/* How bare addresses leave this host (CONTRACT.md local.mta.masquerade). */
struct mh_masquerade {
	char domain[256];            /* the domain bare addresses get; "" = the host's FQDN
					(i.e. not masqueraded) or unknown, see `known` */
	bool known;                  /* the configuration was read well enough to say */
	enum mh_tri envelope;        /* the envelope sender is masqueraded too */
	enum mh_tri recipients;      /* recipients are masqueraded (allmasquerade) */
	enum mh_tri always_add_domain; /* local addresses always qualified */
};

/* One configuration parameter as the MTA resolved it, shown in the report. */
struct mh_mta_setting {
	char key[64];                 /* "myorigin", "DM", "MASQUERADE_AS", "dc_readhost" */
	char value[MH_MTA_VALUE_MAX]; /* after expansion; sanitized, one line */
	char where[128];              /* "main.cf:14", "sendmail.mc:31" */
};

struct mh_mta_config {
	const char *product;          /* "postfix", "sendmail", "exim", "opensmtpd", or NULL */
	char config[PATH_MAX];        /* the main configuration file that is in force */
	bool running;                 /* a daemon of this MTA runs (from /proc) */
	int pid;                      /* its pid, or -1 */
	enum mh_tri smtp_listener;    /* the configuration runs an SMTP listener at all
					 (Postfix: "smtp inet" in master.cf; Sendmail: a
					 DaemonPortOptions; Exim: daemon ports) */
	char listen[MH_MTA_VALUE_MAX]; /* where it is configured to listen
					  (inet_interfaces, Addr=, local_interfaces) */
	char relayhost[256];          /* where outgoing mail goes ("" = direct delivery) */
	bool local_delivery;          /* the host delivers some mail locally
					 (mydestination, local mailer...) */
	struct mh_masquerade masq;
	unsigned nsettings;
	struct mh_mta_setting settings[MH_MTA_SETTINGS_MAX];
	bool mc_cf_mismatch;          /* Sendmail: the .mc asks for what the .cf lacks */
	unsigned nnotes;
	char notes[MH_MTA_NOTES_MAX][256]; /* e.g. what the .mc asks and the .cf lacks */
};

/* Zeroes c and sets every tri-state to UNKNOWN, pid to -1. */
void mh_mta_config_init(struct mh_mta_config *c);
/* Appends a setting (silently dropped past MH_MTA_SETTINGS_MAX). */
void mh_mta_setting_add(struct mh_mta_config *c, const char *key, const char *value,
			const char *where);
/* Appends a note (dropped past MH_MTA_NOTES_MAX). */
void mh_mta_note(struct mh_mta_config *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Postfix: reads CONFIG_DIR/main.cf and CONFIG_DIR/master.cf (probes/mta_postfix.c).
 * myhostname, mydomain, myorigin, masquerade_domains, masquerade_classes,
 * masquerade_exceptions, append_at_myorigin, inet_interfaces,
 * inet_protocols, relayhost, mydestination, alias_maps; "smtp inet" in
 * master.cf. hostname: the host's FQDN (Postfix's default myhostname).
 */
int mh_postfix_read(const char *config_dir, const char *hostname, struct mh_mta_config *out,
		    char *err, size_t errlen);

/*
 * The main.cf half of mh_postfix_read over text in memory (also the fuzz
 * target's entry point): name is the file name used in messages and in the
 * settings' "where" ("main.cf:12"). Fills everything but smtp_listener.
 * 0, or MH_EINVAL (malformed: "main.cf:LINE: ..."), MH_ELIMIT or MH_ENOMEM.
 */
int mh_postfix_main_parse(const char *buf, size_t len, const char *name, const char *hostname,
			  struct mh_mta_config *out, char *err, size_t errlen);

/*
 * Sendmail: reads the .cf that runs (and submit.cf when not NULL) and the
 * .mc when not NULL (probes/mta_sendmail.c). From the .cf: DM, DS,
 * O DaemonPortOptions (the default MSA on 587 included), the masquerading
 * rulesets and class {E}; from the .mc: MASQUERADE_AS, FEATURE(...)
 * (allmasquerade, masquerade_envelope, always_add_domain, nullclient, msp,
 * no_default_msa), DAEMON_OPTIONS, SMART_HOST, EXPOSED_USER; what the .mc
 * asks and the .cf lacks sets mc_cf_mismatch with a note per item.
 */
int mh_sendmail_read(const char *cf_path, const char *submit_cf_path, const char *mc_path,
		     struct mh_mta_config *out, char *err, size_t errlen);

/*
 * Exim: reads Debian's update-exim4.conf.conf (dc_* settings) when
 * debconf_path is not NULL, and/or a main configuration file (exim4.conf
 * or exim.conf: local_interfaces, daemon_smtp_ports, qualify_domain,
 * qualify_recipient, primary_hostname) when conf_path is not NULL
 * (probes/mta_exim.c).
 */
int mh_exim_read(const char *conf_path, const char *debconf_path, const char *hostname,
		 struct mh_mta_config *out, char *err, size_t errlen);

/*
 * Sendmail over buffers (what mh_sendmail_read() does after reading the
 * files; for the fuzzer). A NULL source is absent. name is the file's path,
 * used in errors ("FILE:LINE: ...") and, as its base name, in `where`.
 * data need not be NUL-terminated. mh_sendmail_read() does not call
 * mh_mta_config_init(): the caller does, once.
 */
struct mh_sendmail_src {
	const char *data;
	size_t len;
	const char *name;
};
int mh_sendmail_parse(const struct mh_sendmail_src *cf, const struct mh_sendmail_src *submit,
		      const struct mh_sendmail_src *mc, struct mh_mta_config *out, char *err,
		      size_t errlen);

/*
 * OpenSMTPD: reads smtpd.conf (probes/mta_opensmtpd.c): "listen on" lines
 * (interface, family, port, tls / smtps), "action NAME relay [host URL]
 * [mail-from ADDR]" and the local methods, "match ... action NAME" (which
 * action outgoing mail takes), macros and includes (read under root; NULL
 * or "" = /). The server name is ROOT/etc/mailname when it exists, else
 * hostname: bare addresses are qualified with it.
 */
int mh_opensmtpd_read(const char *conf_path, const char *root, const char *hostname,
		      struct mh_mta_config *out, char *err, size_t errlen);

/*
 * The same over text in memory (the fuzz target's entry point): name is
 * the file's path for messages ("NAME:LINE: ...") and `where`; includes are
 * noted, not read; mailname is /etc/mailname's first line or NULL. 0, or
 * MH_EINVAL / MH_ELIMIT / MH_ENOMEM (err set).
 */
int mh_opensmtpd_parse(const char *buf, size_t len, const char *name, const char *hostname,
		       const char *mailname, struct mh_mta_config *out, char *err,
		       size_t errlen);

#endif
