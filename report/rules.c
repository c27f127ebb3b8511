/*
 * rules.c -- the rule table of CONTRACT.md and the classifier.
 *
 * The table is the single source of rule IDs, severities, titles and
 * remediation text. The classifier reads only the host model; an evidence
 * source that is not gathered yet (local audit, probes, queues) simply
 * never fires its rules.
 */
#include "mailhole/rules.h"

#include <time.h>

#include "mailhole/policy.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "mailhole/common.h"
#include "mailhole/local.h"
#include "mailhole/probe.h"

static const char *const sev_names[MH_SEV_COUNT] = { "critical", "high", "medium", "low",
						     "info" };

const char *mh_severity_name(enum mh_severity s)
{
	return (unsigned)s < MH_SEV_COUNT ? sev_names[s] : "unknown";
}

int mh_severity_parse(const char *s)
{
	for (int i = 0; i < MH_SEV_COUNT; i++)
		if (strcmp(s, sev_names[i]) == 0)
			return i;
	return -1;
}

int mh_fail_on_parse(const char *s)
{
	return s && !strcmp(s, "none") ? MH_SEV_COUNT : mh_severity_parse(s);
}

const struct mh_rule mh_rules[] = {
	{
		.id = "exposed-smtp",
		.severity = MH_SEV_HIGH,
		.title = "SMTP answers on a non-loopback address of a host that is not a mail "
			 "server",
		.rationale = "A daemon listening on 25/tcp (or 465/587) of a machine that "
			     "receives no mail is attack surface for nothing. Outgoing mail "
			     "needs no listener: submit through the local queue and flush it "
			     "from cron, or bind the daemon to loopback.",
		.fix_postfix = "main.cf: inet_interfaces = loopback-only (then postfix reload), "
			       "or comment out the 'smtp inet' line of master.cf to run no "
			       "listener at all.",
		.fix_sendmail = "sendmail.mc: DAEMON_OPTIONS(`Port=smtp,Addr=127.0.0.1, "
				"Name=MTA')dnl and FEATURE(`no_default_msa')dnl, then rebuild "
				"sendmail.cf (make -C /etc/mail) and restart; or run no daemon "
				"and flush the queue from cron (sendmail -q).",
		.fix_exim = "update-exim4.conf.conf: dc_local_interfaces='127.0.0.1 ; ::1' "
			    "(then update-exim4.conf); plain exim: local_interfaces = <; "
			    "127.0.0.1 ; ::1",
		.fix_opensmtpd = "smtpd.conf: listen on localhost (not 'listen on all', an interface "
				 "or an address), or no 'listen on' line at all: the local enqueuer "
				 "still queues outgoing mail through smtpd's socket; then restart "
				 "smtpd.",
		.fix_generic = "Bind the MTA to 127.0.0.1 and ::1 only, or stop its daemon and "
			       "flush the queue from cron.",
	},
	{
		.id = "loopback-only",
		.severity = MH_SEV_LOW,
		.title = "The MTA daemon listens on loopback only",
		.rationale = "No remote exposure, but a listening daemon running as root is a "
			     "local privilege-escalation path; a host that delivers nothing "
			     "locally needs no daemon.",
		.fix_postfix = "If nothing is delivered locally, comment out the 'smtp inet' "
			       "line of master.cf (pickup and qmgr still relay outgoing mail).",
		.fix_sendmail = "If nothing is delivered locally, run no daemon (no -bd) and "
				"flush the queue from cron: sendmail -q and sendmail -Ac -q.",
		.fix_exim = "If nothing is delivered locally, run exim without -bd and run the "
			    "queue from cron (exim -q).",
		.fix_opensmtpd = "If nothing is delivered locally, remove the 'listen on' lines of "
				 "smtpd.conf: smtpd still takes mail from the local enqueuer "
				 "(/var/run/smtpd.sock) and runs its own queue.",
		.fix_generic = "Run no daemon where nothing is delivered locally; flush the "
			       "queue from cron.",
	},
	{
		.id = "partial-exposure",
		.severity = MH_SEV_MEDIUM,
		.title = "The MTA listens on some of the host's interfaces and not on others",
		.rationale = "Usually an accident of configuration (a daemon bound to one "
			     "address, an MSA on 587 bound to all): whatever was meant, part "
			     "of it is exposed.",
		.fix_postfix = "Set inet_interfaces to exactly what is meant (loopback-only), "
			       "and check master.cf for 'submission inet' and 'smtps inet'.",
		.fix_sendmail = "Check every DAEMON_OPTIONS line and the default MSA on 587 "
				"(FEATURE(`no_default_msa')).",
		.fix_exim = "Set local_interfaces / dc_local_interfaces to exactly what is "
			    "meant.",
		.fix_opensmtpd = "Check every 'listen on' line of smtpd.conf (interface, address, "
				 "port, smtps / tls): list exactly what is meant.",
		.fix_generic = "Bind every listener to the addresses that are meant.",
	},
	{
		.id = "host-qualified-sender",
		.severity = MH_SEV_HIGH,
		.title = "Outgoing senders are qualified with the host's FQDN instead of the "
			 "masquerade domain",
		.rationale = "Replies and bounces to user@host.example.com go back to a host "
			     "that accepts no mail, wait in the relay's queue and expire "
			     "unseen: a mail black hole.",
		.fix_postfix = "main.cf: myorigin = $mydomain (or the masquerade domain), "
			       "masquerade_domains = example.com",
		.fix_sendmail = "sendmail.mc: MASQUERADE_AS(`example.com')dnl "
				"FEATURE(`allmasquerade')dnl FEATURE(`masquerade_envelope')dnl "
				"FEATURE(`always_add_domain')dnl, then rebuild sendmail.cf and "
				"submit.cf.",
		.fix_exim = "qualify_domain = example.com (Debian: dc_readhost='example.com', "
			    "dc_hide_mailname='true').",
		.fix_opensmtpd = "Put the mail domain in /etc/mailname (smtpd qualifies bare "
				 "addresses with it), or add mail-from \"@example.com\" to the relay "
				 "action of smtpd.conf; restart smtpd.",
		.fix_generic = "Masquerade: qualify bare addresses with the mail domain.",
	},
	{
		.id = "envelope-not-masqueraded",
		.severity = MH_SEV_MEDIUM,
		.title = "Header sender masqueraded, envelope sender not",
		.rationale = "Bounces follow the envelope sender: they go to the host's FQDN "
			     "and are lost.",
		.fix_postfix = "main.cf: masquerade_classes = envelope_sender, header_sender, "
			       "header_recipient (the default); check masquerade_exceptions.",
		.fix_sendmail = "sendmail.mc: FEATURE(`masquerade_envelope')dnl, then rebuild "
				"sendmail.cf and submit.cf.",
		.fix_exim = "qualify_domain applies to the envelope too: check rewrite rules "
			    "that touch only headers.",
		.fix_opensmtpd = "smtpd.conf: mail-from \"@example.com\" on the relay action "
				 "rewrites the envelope sender's domain.",
		.fix_generic = "Masquerade the envelope sender as well as the headers.",
	},
	{
		.id = "bare-recipient-black-hole",
		.severity = MH_SEV_HIGH,
		.title = "A bare recipient is qualified to a host FQDN that accepts no mail",
		.rationale = "Mail to root becomes root@host.example.com; the relay tries to "
			     "deliver it to a host that does not listen and it never arrives.",
		.fix_postfix = "main.cf: myorigin = $mydomain; alias root to a real mailbox at "
			       "the relay.",
		.fix_sendmail = "sendmail.mc: MASQUERADE_AS and FEATURE(`allmasquerade')dnl so "
				"recipients are masqueraded too.",
		.fix_exim = "qualify_recipient = example.com",
		.fix_generic = "Qualify bare recipients with the mail domain, where an alias "
			       "leads to a real mailbox.",
	},
	{
		.id = "relay-queue-black-hole",
		.severity = MH_SEV_HIGH,
		.title = "The relay's queue holds mail deferred to a fleet host",
		.rationale = "Mail addressed to host FQDNs waits until the MTA gives up, days "
			     "later, often with nobody warned: the host refuses or drops "
			     "connections on 25/tcp, so every message, reply and bounce "
			     "addressed to it is lost.",
		.fix_postfix = "On the hosts that produce these addresses: `myorigin = "
			       "example.com` (or `masquerade_domains = example.com`). On the "
			       "relay: `postqueue -p` to see the entries, `postsuper -r ID` to "
			       "requeue them once fixed or `postsuper -d ID` to drop them, and "
			       "`delay_warning_time = 4h` so that senders hear of delays.",
		.fix_sendmail = "On the hosts: `MASQUERADE_AS(`example.com')`, "
				"`FEATURE(`allmasquerade')`, `FEATURE(`masquerade_envelope')` "
				"in sendmail.mc, then rebuild sendmail.cf. On the relay: `mailq` "
				"to see the entries, `sendmail -qR host-a.example.com` to retry "
				"once fixed.",
		.fix_exim = "On the hosts: `qualify_domain = example.com` (Debian: "
			    "`dc_readhost='example.com'`, `dc_hide_mailname='true'`). On the "
			    "relay: `exim -bp` to see the entries, `exim -M ID` to retry once "
			    "fixed or `exim -Mrm ID` to remove.",
		.fix_generic = "Fix masquerading on the hosts that produce these addresses; "
			       "deliver or return what is queued.",
	},
	{
		.id = "local-aliases-unused",
		.severity = MH_SEV_MEDIUM,
		.title = "Local aliases exist but nothing does local delivery",
		.rationale = "Entries in /etc/aliases are never expanded on a host that relays "
			     "everything: mail to root goes where the relay sends it.",
		.fix_generic = "Move the aliases to the relay (or the domain's alias table).",
	},
	{
		.id = "open-relay",
		.severity = MH_SEV_CRITICAL,
		.title = "The server relays mail to a foreign domain",
		.rationale = "Anyone can send mail through it. Found by the open-relay test "
			     "(--relay-test: MAIL FROM / RCPT TO pairs toward the policy's "
			     "relay_test_domain only, RSET between them); the evidence names the "
			     "pairs the server accepted. With --relay-test-data a tagged message "
			     "went through the first of them: its arrival at the test domain "
			     "proves the relaying.",
		.fix_postfix = "main.cf: smtpd_relay_restrictions = permit_mynetworks, "
			       "permit_sasl_authenticated, reject_unauth_destination; check "
			       "mynetworks.",
		.fix_sendmail = "Remove FEATURE(`promiscuous_relay') and broad relay-domains / "
				"access entries.",
		.fix_exim = "Restrict relay_from_hosts and the acl_check_rcpt relay rules.",
		.fix_generic = "Relay only for authenticated users and your own networks.",
	},
	{
		.id = "vrfy-enabled",
		.severity = MH_SEV_LOW,
		.title = "VRFY discloses users",
		.rationale = "User enumeration for spam and password guessing. Fires only "
			     "when VRFY root and VRFY of a name that cannot exist get different "
			     "answers (--vrfy): a server that answers 252 to everything "
			     "discloses nothing.",
		.fix_postfix = "main.cf: disable_vrfy_command = yes",
		.fix_sendmail = "sendmail.mc: define(`confPRIVACY_FLAGS', "
				"`authwarnings,novrfy,noexpn')dnl",
		.fix_exim = "Leave acl_smtp_vrfy unset (VRFY refused).",
		.fix_generic = "Disable VRFY.",
	},
	{
		.id = "expn-enabled",
		.severity = MH_SEV_LOW,
		.title = "EXPN discloses users and aliases",
		.rationale = "Alias and list expansion for spam and password guessing. Fires "
			     "only when EXPN root and EXPN of a name that cannot exist get "
			     "different answers (--vrfy).",
		.fix_sendmail = "sendmail.mc: define(`confPRIVACY_FLAGS', "
				"`authwarnings,novrfy,noexpn')dnl",
		.fix_exim = "Leave acl_smtp_expn unset (EXPN refused).",
		.fix_generic = "Disable EXPN.",
	},
	{
		.id = "no-starttls",
		.severity = MH_SEV_LOW,
		.title = "A mail server offers no STARTTLS",
		.rationale = "Mail to and from it crosses the network in clear text.",
		.fix_postfix = "main.cf: smtpd_tls_cert_file, smtpd_tls_key_file, "
			       "smtpd_tls_security_level = may",
		.fix_sendmail = "sendmail.mc: define(`confSERVER_CERT', ...) and "
				"define(`confSERVER_KEY', ...)",
		.fix_exim = "tls_advertise_hosts = * with tls_certificate and tls_privatekey",
		.fix_generic = "Offer STARTTLS with a valid certificate.",
	},
	{
		.id = "cert-expired",
		.severity = MH_SEV_MEDIUM,
		.title = "The certificate is past its not-after date",
		.rationale = "Verifying clients refuse it; others learn to ignore errors.",
		.fix_generic = "Renew the certificate.",
	},
	{
		.id = "cert-expiring",
		.severity = MH_SEV_LOW,
		.title = "The certificate expires within 30 days",
		.rationale = "It will soon be refused by verifying clients.",
		.fix_generic = "Renew the certificate, ideally automatically.",
	},
	{
		.id = "cert-name-mismatch",
		.severity = MH_SEV_LOW,
		.title = "No name of the certificate matches the host",
		.rationale = "Verifying clients (DANE, MTA-STS) refuse it.",
		.fix_generic = "Issue the certificate for the host's name.",
	},
	{
		.id = "weak-tls",
		.severity = MH_SEV_MEDIUM,
		.title = "The best protocol the server agrees to is below TLS 1.2",
		.rationale = "TLS 1.0 and 1.1 are deprecated (RFC 8996).",
		.fix_postfix = "main.cf: smtpd_tls_protocols = >=TLSv1.2",
		.fix_generic = "Allow TLS 1.2 and 1.3 only.",
	},
	{
		.id = "auth-before-tls",
		.severity = MH_SEV_MEDIUM,
		.title = "AUTH is offered on the cleartext connection",
		.rationale = "Passwords can cross the network in clear text.",
		.fix_postfix = "main.cf: smtpd_tls_auth_only = yes",
		.fix_sendmail = "sendmail.mc: define(`confAUTH_OPTIONS', `A p')dnl",
		.fix_exim = "auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}",
		.fix_generic = "Offer AUTH only after STARTTLS.",
	},
	{
		.id = "mta-version-disclosed",
		.severity = MH_SEV_INFO,
		.title = "The banner gives the MTA's version",
		.rationale = "It tells an attacker which vulnerabilities to try.",
		.fix_postfix = "main.cf: smtpd_banner = $myhostname ESMTP",
		.fix_sendmail = "sendmail.mc: define(`confSMTP_LOGIN_MSG', `$j')dnl",
		.fix_exim = "smtp_banner = $smtp_active_hostname ESMTP",
		.fix_generic = "Remove the version from the greeting.",
	},
	{
		.id = "no-queue-runner",
		.severity = MH_SEV_MEDIUM,
		.title = "No daemon, and nothing flushes the local queue",
		.rationale = "Mail that cannot go at once waits forever.",
		.fix_sendmail = "A cron entry: */15 * * * * sendmail -q; sendmail -Ac -q",
		.fix_opensmtpd = "Run smtpd (it runs its own queue), with no 'listen on' line if "
				 "nothing is delivered locally.",
		.fix_generic = "Run the queue from cron or a systemd timer.",
	},
	{
		.id = "local-queue-stuck",
		.severity = MH_SEV_HIGH,
		.title = "Mail waits in a local queue",
		.rationale = "For example Sendmail's clientmqueue when the MSP points at a "
			     "127.0.0.1 where nothing listens: every message waits forever.",
		.fix_sendmail = "submit.mc: FEATURE(`msp', `[relay.example.com]')dnl, or run "
				"a loopback daemon; then flush with sendmail -Ac -q.",
		.fix_opensmtpd = "Check the relay action's host in smtpd.conf; smtpctl show queue, "
				 "then smtpctl schedule all.",
		.fix_generic = "Point the submission path at something that listens; flush the "
			       "queue.",
	},
	{
		.id = "mc-cf-mismatch",
		.severity = MH_SEV_MEDIUM,
		.title = "sendmail.mc asks for something sendmail.cf does not have",
		.rationale = "The .mc was edited and never rebuilt: what runs is not what was "
			     "configured.",
		.fix_sendmail = "Rebuild: make -C /etc/mail (or m4 sendmail.mc > sendmail.cf), "
				"then restart sendmail.",
		.fix_generic = "Rebuild sendmail.cf from sendmail.mc.",
	},
};

const unsigned mh_nrules = sizeof(mh_rules) / sizeof(mh_rules[0]);

const struct mh_rule *mh_rule_find(const char *id)
{
	for (unsigned i = 0; i < mh_nrules; i++)
		if (strcmp(mh_rules[i].id, id) == 0)
			return &mh_rules[i];
	return NULL;
}

const char *mh_rule_remediation(const struct mh_rule *r, const char *product)
{
	const char *fix = NULL;

	if (product && strcmp(product, "postfix") == 0)
		fix = r->fix_postfix;
	else if (product && strcmp(product, "sendmail") == 0)
		fix = r->fix_sendmail;
	else if (product && strcmp(product, "exim") == 0)
		fix = r->fix_exim;
	else if (product && strcmp(product, "opensmtpd") == 0)
		fix = r->fix_opensmtpd;
	return fix ? fix : r->fix_generic;
}

static bool has_finding(const struct mh_host *h, const struct mh_rule *r)
{
	for (unsigned i = 0; i < h->nfindings; i++)
		if (h->findings[i].rule == r)
			return true;
	return false;
}

static struct mh_finding *add_finding(struct mh_host *h, const char *id, const char *product)
{
	const struct mh_rule *r = mh_rule_find(id);
	struct mh_finding *f;

	if (!r || has_finding(h, r) || h->nfindings == MH_MAX_FINDINGS)
		return NULL;
	f = &h->findings[h->nfindings++];
	f->rule = r;
	f->severity = (int)r->severity;
	f->remediation = mh_rule_remediation(r, product);
	f->evidence[0] = '\0';
	return f;
}

/* Appends ", 25/tcp" style text to buf. */
static void append(char *buf, size_t size, const char *text)
{
	size_t l = strlen(buf);

	if (l < size)
		snprintf(buf + l, size - l, "%s%s", l ? ", " : "", text);
}

/* The MTA behind the local listeners, from the owning process's name. */
static const char *local_product(const struct mh_local *l)
{
	for (size_t i = 0; i < l->nlisteners; i++) {
		const char *p = l->listeners[i].process;
		if (!strcmp(p, "smtpd")) {
			/* Postfix's smtpd and OpenSMTPD's daemon share the name */
			if (strstr(l->listeners[i].exe, "postfix"))
				return "postfix";
			if (!strcmp(l->listeners[i].exe, "/usr/sbin/smtpd") ||
			    (l->mta && l->mta->product && !strcmp(l->mta->product, "opensmtpd")))
				return "opensmtpd";
			return "postfix";
		}
		if (!strcmp(p, "master"))
			return "postfix";
		if (!strncmp(p, "sendmail", 8))
			return "sendmail";
		if (!strncmp(p, "exim", 4))
			return "exim";
	}
	return l->mta ? l->mta->product : NULL;
}

/* "198.18.0.13:25, [fe80::1%eth0]:587, ..." for the cells that listen. */
static void local_cells(const struct mh_local *l, bool loopback, char *buf, size_t size)
{
	char a[MH_ADDR_STRLEN], item[MH_ADDR_STRLEN + 16];
	unsigned more = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->naddrs; i++) {
		const struct mh_local_addr *r = &l->addrs[i];
		if (r->loopback != loopback)
			continue;
		mh_addr_format(&r->addr, a, sizeof(a));
		for (int p = 0; p < MH_LOCAL_NPORTS; p++) {
			if (r->cell[p] != MH_CELL_LISTENING)
				continue;
			if (r->addr.family == AF_INET6)
				snprintf(item, sizeof(item), "[%s]:%u", a, mh_local_ports[p]);
			else
				snprintf(item, sizeof(item), "%s:%u", a, mh_local_ports[p]);
			/* keep room for the count of what did not fit */
			if (strlen(buf) + strlen(item) + 2 < size - 24)
				append(buf, size, item);
			else
				more++;
		}
	}
	if (more) {
		snprintf(item, sizeof(item), "and %u more", more);
		append(buf, size, item);
	}
}

/* "key = value (where)" of the first of keys the reading recorded, into buf. */
static bool mta_setting(const struct mh_mta_config *c, const char *const *keys, char *buf,
			size_t size)
{
	for (const char *const *k = keys; *k; k++)
		for (unsigned i = 0; i < c->nsettings && i < MH_MTA_SETTINGS_MAX; i++)
			if (!strcmp(c->settings[i].key, *k)) {
				snprintf(buf, size, "%s = %s (%s)", c->settings[i].key,
					 c->settings[i].value[0] ? c->settings[i].value : "(empty)",
					 c->settings[i].where);
				return true;
			}
	buf[0] = '\0';
	return false;
}

/*
 * The rules of the MTA's configuration (h->local->mta): host-qualified-sender,
 * envelope-not-masqueraded, local-aliases-unused and mc-cf-mismatch. The
 * evidence names the settings and where they are set.
 */
static void classify_mta(struct mh_host *h)
{
	static const char *const origin_keys[] = { "myorigin", "MASQUERADE_AS", "DM",
						   "qualify_domain", "mailname", "dc_readhost",
						   "myhostname", "primary_hostname", NULL };
	static const char *const relay_keys[] = { "relayhost", "SMART_HOST", "DS",
						  "dc_smarthost", NULL };
	const struct mh_local *l = h->local;
	const struct mh_mta_config *c = l->mta;
	const char *product = c ? c->product : NULL;
	struct mh_finding *f;
	char a[200], b[200];

	if (!c || !product)
		return;
	if (c->masq.known && !c->masq.domain[0]) {
		bool no_mail = l->exposure == MH_EXPOSURE_NONE ||
			       l->exposure == MH_EXPOSURE_LOOPBACK || c->smtp_listener == MH_TRI_NO;
		if ((c->relayhost[0] || no_mail) &&
		    (f = add_finding(h, "host-qualified-sender", product)) != NULL) {
			if (!mta_setting(c, origin_keys, a, sizeof(a)))
				mh_strlcpy(a, "bare addresses are qualified with the host name",
					   sizeof(a));
			if (c->relayhost[0]) {
				if (!mta_setting(c, relay_keys, b, sizeof(b)))
					snprintf(b, sizeof(b), "relay %.150s", c->relayhost);
			} else if (c->smtp_listener == MH_TRI_NO)
				mh_strlcpy(b, "no SMTP listener configured", sizeof(b));
			else
				snprintf(b, sizeof(b), "the host accepts no mail (exposure %s)",
					 mh_exposure_name(l->exposure));
			snprintf(f->evidence, sizeof(f->evidence), "%.120s; %s%.100s", a,
				 !strcmp(product, "postfix") ? "no masquerade_domains; " : "", b);
		}
	}
	if (c->masq.known && c->masq.domain[0] && c->masq.envelope == MH_TRI_NO &&
	    (f = add_finding(h, "envelope-not-masqueraded", product)) != NULL) {
		static const char *const class_keys[] = { "masquerade_classes", NULL };
		mta_setting(c, class_keys, a, sizeof(a));
		snprintf(f->evidence, sizeof(f->evidence),
			 "headers masqueraded to %.60s, the envelope sender not%s%.140s",
			 c->masq.domain,
			 a[0] ? ": " : "", a);
	}
	if (l->aliases && !c->local_delivery &&
	    (f = add_finding(h, "local-aliases-unused", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence),
			 "aliases defined (%s) but %s does no local delivery", l->aliases_where,
			 product);
	if (c->mc_cf_mismatch && (f = add_finding(h, "mc-cf-mismatch", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%s",
			 c->nnotes ? c->notes[0] : "the .mc asks for what the .cf lacks");
}

/*
 * Where Sendmail's configuration has the default MSA (a DaemonPortOptions
 * with Name=MSA on port 587 and no Addr=, which m4 adds unless
 * FEATURE(no_default_msa)) and 587 is open on a non-loopback address: the
 * setting's "where"; else NULL.
 */
static const char *default_msa(const struct mh_local *l)
{
	const struct mh_mta_config *c = l->mta;
	int pi = mh_local_port_index(587);
	bool open587 = false;

	if (!c || !c->product || strcmp(c->product, "sendmail") != 0 || pi < 0)
		return NULL;
	for (size_t i = 0; i < l->naddrs; i++)
		open587 |= !l->addrs[i].loopback && l->addrs[i].cell[pi] == MH_CELL_LISTENING;
	if (!open587)
		return NULL;
	for (unsigned i = 0; i < c->nsettings && i < MH_MTA_SETTINGS_MAX; i++) {
		const char *v = c->settings[i].value;
		if (!strcmp(c->settings[i].key, "DaemonPortOptions") && strstr(v, "Name=MSA") &&
		    strstr(v, "Port=587") && !strstr(v, "Addr="))
			return c->settings[i].where;
	}
	return NULL;
}

/*
 * The rules of the local view (h->local, `mailhole local`): exposed-smtp,
 * loopback-only and partial-exposure from the interface x port table, the
 * evidence naming the address:port cells that listen.
 */
static void classify_local(struct mh_host *h)
{
	const struct mh_local *l = h->local;
	const char *product = local_product(l);
	struct mh_finding *f;
	char cells[200];

	if (l->exposure == MH_EXPOSURE_EXPOSED && !h->mail_server) {
		f = add_finding(h, "exposed-smtp", product);
		if (f) {
			const char *msa = default_msa(l);
			/* with the MSA's line to add, fewer cells (their count is kept) */
			local_cells(l, false, cells, msa ? 130 : sizeof(cells));
			snprintf(f->evidence, sizeof(f->evidence), "listening: %s", cells);
			if (msa) {
				size_t n = strlen(f->evidence);
				snprintf(f->evidence + n, sizeof(f->evidence) - n,
					 "; 587 is Sendmail's default MSA (%.60s, no "
					 "FEATURE(no_default_msa))",
					 msa);
			}
		}
	}
	if (l->exposure == MH_EXPOSURE_LOOPBACK) {
		f = add_finding(h, "loopback-only", product);
		if (f) {
			local_cells(l, true, cells, sizeof(cells));
			snprintf(f->evidence, sizeof(f->evidence), "listening on loopback only: %s",
				 cells);
		}
	}
	if (l->partial) {
		f = add_finding(h, "partial-exposure", product);
		if (f)
			snprintf(f->evidence, sizeof(f->evidence), "%s", l->partial_evidence);
	}
}

/*
 * The rules of the outgoing path (h->local->queues, probes/local_queue.c):
 * no-queue-runner when the MTA found needs a queue run that nothing runs,
 * local-queue-stuck for the first queue judged stuck (the others counted).
 */
static void classify_queues(struct mh_host *h)
{
	const struct mh_local *l = h->local;
	const struct mh_local_queues *q = l->queues;
	const char *product = l->mta ? l->mta->product : NULL;
	const struct mh_local_queue *first = NULL;
	unsigned more = 0;
	struct mh_finding *f;

	if (!q)
		return;
	if (q->missing && (f = add_finding(h, "no-queue-runner", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%s", q->missing_why);
	for (unsigned i = 0; i < q->nq && i < MH_QUEUES_MAX; i++) {
		if (!q->q[i].stuck)
			continue;
		if (!first)
			first = &q->q[i];
		else
			more++;
	}
	if (first && (f = add_finding(h, "local-queue-stuck", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence),
			 "%.60s: %u message%s%s, oldest %lld s; %.100s%s", first->path,
			 first->count, first->count == 1 ? "" : "s",
			 first->count_capped ? " or more" : "", (long long)first->oldest_age_s,
			 first->why, more ? " (and other queues)" : "");
}

/*
 * The STARTTLS rules of one port's session: no-starttls (mail servers
 * only), auth-before-tls, and from a handshake weak-tls, cert-expired,
 * cert-expiring (< 30 days) and cert-name-mismatch (only when the host has
 * a name to match). The first port that fires a rule gives its evidence.
 */
static void classify_tls(struct mh_host *h, const struct mh_port *p, const char *product)
{
	const struct mh_smtp_result *r = p->smtp;
	const struct mh_tls_facts *t = &r->tls;
	struct mh_finding *f;
	bool ehlo_ok = r->ehlo_code / 100 == 2;

	if (ehlo_ok && h->mail_server && !(r->ext & MH_EXT_STARTTLS) &&
	    (f = add_finding(h, "no-starttls", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: %s without STARTTLS",
			 p->port, r->helo ? "HELO" : "EHLO");
	if (ehlo_ok && (r->ext & MH_EXT_STARTTLS) && (r->ext & MH_EXT_AUTH) &&
	    (f = add_finding(h, "auth-before-tls", product)) != NULL) {
		const char *auth = "AUTH";
		for (unsigned i = 0; i < r->ncaps && i < MH_SMTP_CAPS_MAX; i++)
			if (mh_smtp_ext_bit(r->caps[i]) == MH_EXT_AUTH) {
				auth = r->caps[i];
				break;
			}
		snprintf(f->evidence, sizeof(f->evidence),
			 "%u/tcp: the cleartext EHLO offers %.120s", p->port, auth);
	}
	if (!r->tls_done)
		return;
	if (t->proto > 0 && t->proto < TLS1_2_VERSION &&
	    (f = add_finding(h, "weak-tls", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: %s (%s)", p->port,
			 t->version[0] ? t->version : "?", t->cipher);
	if (!t->have_cert)
		return;
	if (t->expired && (f = add_finding(h, "cert-expired", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: not after %s (%lld days ago)",
			 p->port, t->not_after, -(long long)t->days_left);
	else if (!t->expired && t->days_left < 30 &&
		 (f = add_finding(h, "cert-expiring", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: not after %s (%lld days left)",
			 p->port, t->not_after, (long long)t->days_left);
	if (h->names && h->names[0] && !t->name_match &&
	    (f = add_finding(h, "cert-name-mismatch", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: %.80s not in the SANs (%s%.80s)",
			 p->port, h->names[0], t->nsans ? "first: " : "none",
			 t->nsans ? t->sans[0] : "");
}

/*
 * The probes' verdicts (mailhole probe): a black hole for a bare recipient,
 * and the sender forms that host-submission probes showed. A verdict is
 * about an address; the finding weighs whether the host really produces it:
 * full severity where it does not masquerade or where that is unknown, low
 * where it masquerades (only mail addressed by hand, or replies to old mail,
 * would be lost). The evidence says which knowledge decided.
 */
static void classify_probes(struct mh_host *h)
{
	const struct mh_probe_host *ph = h->probes;
	char tags[160] = "", item[96];
	unsigned nbh = 0;
	struct mh_finding *f;

	for (size_t i = 0; i < ph->n; i++) {
		const struct mh_probe *p = ph->v[i];
		if (!strcmp(p->kind, "bare-recipient") && p->verdict == MH_VERDICT_BLACK_HOLE) {
			nbh++;
			snprintf(item, sizeof(item), "%.60s (%.20s)", p->rcpt, p->tag);
			append(tags, sizeof(tags), item);
		}
	}
	if (nbh && (f = add_finding(h, "bare-recipient-black-hole", NULL)) != NULL) {
		const char *weigh = ph->masquerades == 1   ? "the host masquerades"
				    : ph->masquerades == 0 ? "the host does not masquerade"
							   : "whether the host masquerades is "
							     "unknown";
		if (ph->masquerades == 1)
			f->severity = MH_SEV_LOW;
		char ev[512];
		snprintf(ev, sizeof(ev), "%s (%.100s); %u probe(s) lost: %s", weigh,
			 ph->masq_source[0] ? ph->masq_source : "no local evidence", nbh, tags);
		mh_strlcpy(f->evidence, ev, sizeof(f->evidence)); /* cut if it must be */
	}
	for (size_t i = 0; i < ph->n; i++) {
		const struct mh_probe *p = ph->v[i];
		bool env_hq, from_hq;
		if (strcmp(p->kind, "host-submission") || strcmp(p->ev_source, "message"))
			continue;
		env_hq = !strcmp(p->ev_sender_class, "host-qualified") ||
			 !strcmp(p->ev_sender_class, "unqualified");
		from_hq = !strcmp(p->ev_from_class, "host-qualified") ||
			  !strcmp(p->ev_from_class, "unqualified");
		if (env_hq && !from_hq && p->ev_from[0] &&
		    (f = add_finding(h, "envelope-not-masqueraded", NULL)) != NULL)
			snprintf(f->evidence, sizeof(f->evidence),
				 "probe %.20s arrived with Return-Path <%.80s>, From %.80s",
				 p->tag, p->ev_return_path, p->ev_from);
		if ((env_hq || from_hq) &&
		    (f = add_finding(h, "host-qualified-sender", NULL)) != NULL)
			snprintf(f->evidence, sizeof(f->evidence),
				 "probe %.20s arrived with Return-Path <%.80s>, From %.80s",
				 p->tag, p->ev_return_path, p->ev_from[0] ? p->ev_from : "-");
	}
}

/*
 * The intrusive checks of one port's session: vrfy-enabled and
 * expn-enabled only when the answers disclose (smtp.h, probe_smtp.h), and
 * open-relay when any pair of the relay test was accepted, its evidence
 * naming the pairs (and the message's fate with --relay-test-data).
 */
static void classify_smtp_checks(struct mh_host *h, const struct mh_port *p, const char *product)
{
	const struct mh_smtp_result *r = p->smtp;
	struct mh_finding *f;

	if (r->vrfy && !strcmp(r->vrfy, "discloses") &&
	    (f = add_finding(h, "vrfy-enabled", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: VRFY root: %.80s; VRFY %s: %.80s",
			 p->port, r->vrfy_replies[MH_VRFY_Q_VRFY_ROOT], r->vrfy_bogus,
			 r->vrfy_replies[MH_VRFY_Q_VRFY_BOGUS]);
	if (r->expn && !strcmp(r->expn, "discloses") &&
	    (f = add_finding(h, "expn-enabled", product)) != NULL)
		snprintf(f->evidence, sizeof(f->evidence), "%u/tcp: EXPN root: %.80s; EXPN %s: %.80s",
			 p->port, r->vrfy_replies[MH_VRFY_Q_EXPN_ROOT], r->vrfy_bogus,
			 r->vrfy_replies[MH_VRFY_Q_EXPN_BOGUS]);
	if (r->relay_accepted && (f = add_finding(h, "open-relay", product)) != NULL) {
		char names[120] = "", more[24], data[120] = "";
		unsigned n = 0, shown = 0;
		for (unsigned i = 0; i < r->relay_nvariants && i < MH_RELAY_VARIANTS_MAX; i++) {
			if (!(r->relay_accepted & (1u << i)) || !r->relay_names[i])
				continue;
			n++;
			/* in order: once one does not fit, the rest are counted */
			if (shown == n - 1 &&
			    strlen(names) + strlen(r->relay_names[i]) + 2 < sizeof(names) - 16) {
				append(names, sizeof(names), r->relay_names[i]);
				shown++;
			}
		}
		if (shown < n) {
			snprintf(more, sizeof(more), "%u more", n - shown);
			append(names, sizeof(names), more);
		}
		if (r->relay_data_tried)
			snprintf(data, sizeof(data), "; message %.8s: %.70s",
				 r->relay_data_end_code / 100 == 2 ? "accepted" : "refused",
				 r->relay_data_reply);
		char ev[512];
		snprintf(ev, sizeof(ev), "%u/tcp accepted %u of %u pairs toward %.60s (%s)%s",
			 p->port, n, r->relay_ntried, r->relay_domain, names, data);
		mh_strlcpy(f->evidence, ev, sizeof(f->evidence)); /* cut if it must be */
	}
}

void mh_classify(struct mh_host *h)
{
	char open_ports[128] = "", versions[128] = "", item[96];
	const char *product = NULL;
	bool loopback = mh_addr_is_loopback(&h->addr);
	struct mh_finding *f;

	/* first-hand evidence (probes) before configuration evidence: one finding per rule */
	if (h->probes)
		classify_probes(h);
	if (h->local) {
		classify_local(h);
		classify_mta(h);
		classify_queues(h);
	}
	for (unsigned i = 0; i < h->nports; i++) {
		const struct mh_port *p = &h->ports[i];
		if (p->state != MH_PORT_OPEN)
			continue;
		snprintf(item, sizeof(item), "%u/tcp", p->port);
		append(open_ports, sizeof(open_ports), item);
		if (p->smtp && p->mta.product) {
			product = p->mta.product;
			if (p->mta.version[0]) {
				snprintf(item, sizeof(item), "%u/tcp: %s %s", p->port,
					 p->mta.product, p->mta.version);
				append(versions, sizeof(versions), item);
			}
		}
	}
	if (!open_ports[0])
		return;
	if (!loopback && !h->mail_server) {
		f = add_finding(h, "exposed-smtp", product);
		if (f)
			snprintf(f->evidence, sizeof(f->evidence), "open: %s", open_ports);
	}
	for (unsigned i = 0; i < h->nports; i++)
		if (h->ports[i].state == MH_PORT_OPEN && h->ports[i].smtp) {
			classify_tls(h, &h->ports[i], product);
			classify_smtp_checks(h, &h->ports[i], product);
		}
	/*
	 * loopback-only is a judgement over all of a host's addresses: the
	 * local audit makes it, not one address of a sweep.
	 */
	if (versions[0]) {
		f = add_finding(h, "mta-version-disclosed", product);
		if (f)
			snprintf(f->evidence, sizeof(f->evidence), "%s", versions);
	}
}

void mh_today(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	if (strftime(buf, size, "%Y-%m-%d", &tm) == 0 && size > 0)
		buf[0] = '\0';
}

void mh_policy_apply(struct mh_host *h, const struct mh_policy *p, const char *today)
{
	if (!p)
		return;
	for (unsigned i = 0; i < h->nfindings; i++) {
		struct mh_finding *f = &h->findings[i];
		const char *expired = NULL;
		/* the classifier's severity (it may have weighed the evidence) unless overridden */
		f->severity = mh_policy_severity(p, f->rule->id, f->severity);
		f->suppressed = mh_policy_suppression(p, f->rule->id, &h->addr, h->names, today,
						      &expired);
		f->expired = f->suppressed ? NULL : expired;
	}
}

void mh_rules_markdown(FILE *f)
{
	static const char *const fixes[][2] = { { "Postfix", "postfix" },
						{ "Sendmail", "sendmail" },
						{ "Exim", "exim" },
						{ "OpenSMTPD", "opensmtpd" } };

	fputs("# Rule catalogue\n\n"
	      "Generated from the rule table (`report/rules.c`) by `mailhole rules`; a test\n"
	      "checks that this file is what the table says. Severities are the defaults: a\n"
	      "policy's `severity` object overrides them per rule.\n\n"
	      "| id | severity | title |\n|---|---|---|\n",
	      f);
	for (unsigned i = 0; i < mh_nrules; i++)
		fprintf(f, "| [`%s`](#%s) | %s | %s |\n", mh_rules[i].id, mh_rules[i].id,
			mh_severity_name(mh_rules[i].severity), mh_rules[i].title);
	for (unsigned i = 0; i < mh_nrules; i++) {
		const struct mh_rule *r = &mh_rules[i];
		fprintf(f, "\n## %s\n\n**%s** — %s\n\n%s\n\nRemediation:\n\n", r->id,
			mh_severity_name(r->severity), r->title, r->rationale);
		for (unsigned k = 0; k < sizeof(fixes) / sizeof(fixes[0]); k++) {
			const char *fix = mh_rule_remediation(r, fixes[k][1]);
			if (fix != r->fix_generic)
				fprintf(f, "- %s: %s\n", fixes[k][0], fix);
		}
		fprintf(f, "- Any MTA: %s\n", r->fix_generic);
	}
}
