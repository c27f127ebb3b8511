/*
 * rules.h -- the rule table and the classifier: evidence in a host record
 * (plus, later, policy) in, findings out. One table holds every rule's ID,
 * default severity, title, rationale and remediation per MTA; writers only
 * read the findings it produces.
 */
#ifndef MAILHOLE_RULES_H
#define MAILHOLE_RULES_H

#include <stdbool.h>
#include <stdio.h>

#include "mailhole/host.h"

enum mh_severity { MH_SEV_CRITICAL, MH_SEV_HIGH, MH_SEV_MEDIUM, MH_SEV_LOW, MH_SEV_INFO,
		   MH_SEV_COUNT };
const char *mh_severity_name(enum mh_severity s);
/* "critical".."info"; -1 when unknown. */
int mh_severity_parse(const char *s);
/* A --fail-on value: a severity, or "none" (MH_SEV_COUNT: never fail on findings); -1. */
int mh_fail_on_parse(const char *s);

struct mh_rule {
	const char *id;                /* CONTRACT.md rule ID, e.g. "exposed-smtp" */
	enum mh_severity severity;     /* default severity */
	const char *title;             /* one line */
	const char *rationale;         /* why it matters */
	const char *fix_postfix;       /* remediation for each MTA (NULL: use fix_generic) */
	const char *fix_sendmail;
	const char *fix_exim;
	const char *fix_opensmtpd;
	const char *fix_generic;
};

/* The table, and its length. */
extern const struct mh_rule mh_rules[];
extern const unsigned mh_nrules;
const struct mh_rule *mh_rule_find(const char *id);
/* The remediation for an MTA product ("postfix", "sendmail", "exim", "opensmtpd", or NULL). */
const char *mh_rule_remediation(const struct mh_rule *r, const char *product);

/*
 * Adds to h->findings what the sweep's evidence fires: exposed-smtp and
 * mta-version-disclosed (one finding per rule and host, the evidence naming
 * the ports). Idempotent.
 */
void mh_classify(struct mh_host *h);

struct mh_policy;
/*
 * Applies a policy (may be NULL: then nothing) to a host's findings after
 * mh_classify: severity overrides, and suppressions in force as of today
 * ("YYYY-MM-DD", UTC) mark the finding suppressed (it stays in the record,
 * in "suppressed", and no longer counts); an expired one is noted on the
 * finding, which counts again. The policy must outlive the host.
 */
void mh_policy_apply(struct mh_host *h, const struct mh_policy *p, const char *today);
/* Writes the rule catalogue (docs/rules.md) from the table, as Markdown. */
void mh_rules_markdown(FILE *f);

/* Today's date as "YYYY-MM-DD" (UTC) into buf (>= 11 bytes). */
void mh_today(char *buf, size_t size);

#endif
