/*
 * policy.h -- the policy file (CONTRACT.md, "The policy file"): which hosts
 * are mail servers, the masquerade domain, the relay, the collector
 * mailbox, the relay test domain, severity overrides, excludes and
 * suppressions. Parsed once with json-c, then read-only (shared by threads).
 *
 * Every error names the file, the JSON path and what is wrong, on one line:
 *   "policy.json: .mail_servers[3]: not an address, CIDR or name"
 *   "policy.json: .severty: unknown key"
 * Unknown keys are errors, so a typo never silently disables a check.
 */
#ifndef MAILHOLE_POLICY_H
#define MAILHOLE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "mailhole/target.h"

struct mh_policy;

/* The collector mailbox (CONTRACT.md). Strings borrowed from the policy; NULL when absent. */
struct mh_policy_collector {
	const char *address;       /* audit@example.com */
	const char *url;           /* imap://host/INBOX, imaps://..., maildir:/path */
	const char *user;
	const char *password_file; /* never the password itself */
	const char *password_env;
};

/* Loads and validates path. 0, or MH_EINVAL / MH_EIO with err set (one line). */
int mh_policy_load(const char *path, struct mh_policy **out, char *err, size_t errlen);
/* Frees and NULLs. Safe on NULL. */
void mh_policy_free(struct mh_policy **p);

/* Strings borrowed from the policy; NULL when absent. */
const char *mh_policy_domain(const struct mh_policy *p);
const char *mh_policy_relay(const struct mh_policy *p);
const char *mh_policy_relay_test_domain(const struct mh_policy *p);
const struct mh_policy_collector *mh_policy_collector(const struct mh_policy *p);

/*
 * Is the host (its address, or one of its names, case-insensitively) named
 * a mail server? mail_servers holds addresses, CIDR blocks and names. p may
 * be NULL (then false).
 */
bool mh_policy_is_mail_server(const struct mh_policy *p, const struct mh_addr *a,
			      const char *const *names);

/* The severity of a rule after the policy's override (enum mh_severity), or def. p may be NULL. */
int mh_policy_severity(const struct mh_policy *p, const char *rule_id, int def);

/*
 * A suppression for rule_id on this host (address, CIDR or name match), as
 * of `today` ("YYYY-MM-DD"). Returns its reason when one is in force. When
 * only expired ones match, returns NULL and sets *expired_until to the
 * newest expiry date (so the report can say "suppression expired on ...").
 * p may be NULL.
 */
const char *mh_policy_suppression(const struct mh_policy *p, const char *rule_id,
				  const struct mh_addr *a, const char *const *names,
				  const char *today, const char **expired_until);

/* Adds the policy's excludes to a target set (origin "PATH: .exclude[i]"). */
int mh_policy_add_excludes(const struct mh_policy *p, struct mh_targets *t, char *err,
			   size_t errlen);

#endif
