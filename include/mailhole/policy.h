/*
 * policy.h -- the policy file (CONTRACT.md, "The policy file"): which hosts
 * are mail servers, the masquerade domain, the relay, the collector
 * mailbox, the relay test domain, severity overrides, excludes and
 * suppressions. Parsed once with json-c, then read-only (shared by threads).
 *
 * Every error names the file, the JSON path and what is wrong, on one line:
 *   "policy.json: .mail_servers[3]: not an address, CIDR or name"
 *   "policy.json: .severty: unknown key"
 * Unknown keys are errors, so a typo never silently disables a check; so
 * are repeated keys (json-c would keep only the last). The file is strict
 * JSON (no comments, no trailing commas), UTF-8, at most 4 MiB, arrays of at
 * most 100,000 entries; a syntax error gives the line and column:
 *   "policy.json: line 7, column 3: unexpected character"
 * Host names in the policy are never resolved: they are matched against the
 * names a host already has (exclude names are resolved by the target set,
 * as every exclude is, in mh_policy_add_excludes()).
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

/*
 * Loads and validates path; *out is the policy (owned by the caller) or NULL.
 * 0, or MH_EINVAL (bad policy), MH_EIO (cannot read) or MH_ENOMEM, with err
 * set (one line, "PATH: ...").
 */
int mh_policy_load(const char *path, struct mh_policy **out, char *err, size_t errlen);
/*
 * The same on text already in memory (len bytes, need not be NUL-terminated);
 * name stands for the file in messages and exclude origins (NULL: "policy").
 */
int mh_policy_parse(const char *text, size_t len, const char *name, struct mh_policy **out,
		    char *err, size_t errlen);
/* Frees and NULLs. Safe on NULL. */
void mh_policy_free(struct mh_policy **p);

/* Strings borrowed from the policy; NULL when absent (or p is NULL). */
const char *mh_policy_domain(const struct mh_policy *p);
const char *mh_policy_relay(const struct mh_policy *p);
const char *mh_policy_relay_test_domain(const struct mh_policy *p);
const struct mh_policy_collector *mh_policy_collector(const struct mh_policy *p);

/*
 * Is the host (its address, or one of its names, case-insensitively) named
 * a mail server? mail_servers holds addresses, CIDR blocks, ranges and names
 * (never resolved; compared without a trailing dot). An IPv4 address and its
 * v4-mapped IPv6 form are the same host. a and names may be NULL. p may be
 * NULL (then false). Binary searches; allocates nothing; thread-safe.
 */
bool mh_policy_is_mail_server(const struct mh_policy *p, const struct mh_addr *a,
			      const char *const *names);

/* The severity of a rule after the policy's override (enum mh_severity), or def. p may be NULL. */
int mh_policy_severity(const struct mh_policy *p, const char *rule_id, int def);

/*
 * A suppression for rule_id on this host (address, CIDR or name match), as
 * of `today` ("YYYY-MM-DD"). Returns its reason when one is in force. When
 * only expired ones match, returns NULL and sets *expired_until to the
 * newest expiry date (so the report can say "suppression expired on ..."),
 * else *expired_until is NULL. A suppression is in force through its
 * `until` day. When several are in force, the first in the file wins. a and
 * names may be NULL; p or today NULL: nothing is suppressed. Strings are
 * borrowed from the policy. expired_until may be NULL.
 */
const char *mh_policy_suppression(const struct mh_policy *p, const char *rule_id,
				  const struct mh_addr *a, const char *const *names,
				  const char *today, const char **expired_until);

/*
 * Adds the policy's excludes to a target set with mh_targets_exclude()
 * (origin "PATH: .exclude[i]"); names are resolved there. p may be NULL.
 */
int mh_policy_add_excludes(const struct mh_policy *p, struct mh_targets *t, char *err,
			   size_t errlen);

#endif
