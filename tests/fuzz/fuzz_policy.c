/*
 * fuzz_policy.c -- libFuzzer target for the policy file (report/policy.c).
 *
 * The input is the text of a policy, given to mh_policy_parse() (the same
 * path mh_policy_load() takes after reading the file). Then:
 *   refused:  the policy pointer is NULL and the message is one non-empty,
 *             terminated line that starts with the file's name;
 *   accepted: every lookup runs over it (mail servers, severities of every
 *             rule, suppressions) for addresses and names derived from the
 *             input and for fixed ones, results are checked for sanity
 *             (severities in range, an expired date only without a reason in
 *             force, dates that look like dates), the excludes are applied to
 *             a target set, and the same text parses again to the same answers.
 * Messages are also produced into a small buffer, to exercise truncation.
 *
 * No DNS, ever: exclude names reach mh_targets_exclude(), which resolves
 * them, so this program defines getaddrinfo() and freeaddrinfo() (a
 * definition in the executable wins over libc's and over the sanitizer's
 * interceptor): every name is "not found".
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/policy.h"
#include "mailhole/rules.h"
#include "mailhole/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	(void)node;
	(void)service;
	(void)hints;
	*res = NULL;
	return EAI_NONAME;
}

void freeaddrinfo(struct addrinfo *ai)
{
	(void)ai;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_policy: invariant broken: %s\n", what);
		abort();
	}
}

static void check_message(const char *err, size_t size)
{
	const char *nul = memchr(err, '\0', size);

	check(nul != NULL, "message terminated");
	check(strchr(err, '\n') == NULL, "message on one line");
}

static bool is_date(const char *s)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	return true;
}

static const char *const days[] = {"0001-01-01", "2025-06-30", "2026-01-31",
                                   "2026-02-01", "2027-03-31", "9999-12-31"};

/* A fingerprint of every answer over p, to compare two parses of one text. */
static uint64_t probe(const struct mh_policy *p, const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {
	    "198.18.0.2", "198.18.0.40", "198.18.1.7", "10.0.0.1", "::ffff:198.18.0.2",
	    "fd00::1",    "fe80::1%1",   "::1",        "0.0.0.0",  "255.255.255.255"};
	static const char *const names1[] = {"mx1.example.com", "MX2.Example.COM.", NULL};
	static const char *const names2[] = {"legacy.example.com", "a", "", NULL};
	const char *const *namesets[] = {NULL, names1, names2};
	uint64_t h = 1469598103934665603ull;
	struct mh_addr addrs[20];
	size_t naddrs = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check(mh_addr_parse(fixed[i], &addrs[naddrs++]) == 0, "fixed address");
	/* Addresses from the input bytes, so that its own ranges get hit now and then. */
	for (size_t i = 0; i + 4 <= size && naddrs < 20; i += 1 + size / 8) {
		struct mh_addr a = {.family = AF_INET};

		memcpy(a.bytes, data + i, 4);
		addrs[naddrs++] = a;
	}
	for (size_t i = 0; i < naddrs; i++) {
		for (size_t k = 0; k < 3; k++) {
			h = (h ^ mh_policy_is_mail_server(p, &addrs[i], namesets[k])) *
			    1099511628211ull;
			for (unsigned r = 0; r < mh_nrules; r++) {
				for (size_t d = 0; d < sizeof(days) / sizeof(days[0]); d++) {
					const char *exp = "x";
					const char *why =
					    mh_policy_suppression(p, mh_rules[r].id, &addrs[i],
					                          namesets[k], days[d], &exp);

					check(!why || !exp, "reason and expiry at once");
					check(!exp || (is_date(exp) && strcmp(exp, days[d]) < 0),
					      "expiry is a past date");
					check(!why || why[0] != '\0', "empty reason");
					h = (h ^ (why ? strlen(why) : 0)) * 1099511628211ull;
					h = (h ^ (exp ? (uint64_t)exp[9] : 1)) * 1099511628211ull;
				}
			}
		}
	}
	check(!mh_policy_is_mail_server(p, NULL, NULL), "nothing is a mail server");
	for (unsigned r = 0; r < mh_nrules; r++) {
		int s = mh_policy_severity(p, mh_rules[r].id, 77);

		check(s == 77 || (s >= 0 && s < MH_SEV_COUNT), "severity in range");
		h = (h ^ (uint64_t)s) * 1099511628211ull;
	}
	check(mh_policy_severity(p, "no-such-rule", 77) == 77, "unknown rule keeps its default");
	return h;
}

static void use(const struct mh_policy *p)
{
	const struct mh_policy_collector *col = mh_policy_collector(p);
	struct mh_targets *t = NULL;
	char err[MH_ERRLEN];

	if (mh_policy_domain(p))
		check(strlen(mh_policy_domain(p)) <= 253, "domain length");
	if (mh_policy_relay(p))
		check(strncmp(mh_policy_relay(p), "smtp", 4) == 0, "relay scheme");
	if (col) {
		check(col->address && strchr(col->address, '@'), "collector address");
		check(col->url != NULL, "collector url");
		check(!(col->password_file && col->password_env), "one password source");
	}
	check(mh_targets_new(&t, false) == 0, "targets");
	check(mh_targets_add(t, "198.18.0.0/24", "fuzz", err, sizeof(err)) == 0, "add");
	err[0] = '\0';
	/* Names are "not found" here; numeric excludes were validated at load and must pass. */
	if (mh_policy_add_excludes(p, t, err, sizeof(err)) < 0)
		check(strstr(err, "resolvable name") != NULL, "only a name exclude fails");
	check_message(err, sizeof(err));
	check(mh_targets_finalize(t, err, sizeof(err)) == 0, "finalize");
	check(mh_targets_count(t) <= 256, "excludes only remove");
	mh_targets_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_policy *p = NULL, *q = NULL;
	char err[MH_ERRLEN], small[24];
	int rc, rc2;

	memset(err, 'x', sizeof(err));
	rc = mh_policy_parse((const char *)data, size, "fuzz.json", &p, err, sizeof(err));
	check_message(err, sizeof(err));
	if (rc < 0) {
		check(p == NULL, "refused policy is NULL");
		check(strncmp(err, "fuzz.json: ", 11) == 0 && err[11] != '\0',
		      "message names file");
	} else {
		check(rc == 0 && p != NULL, "accepted policy");
		check(err[0] == '\0', "no message on success");
	}

	/* Same text again, with a message buffer too small for most messages. */
	memset(small, 'x', sizeof(small));
	rc2 = mh_policy_parse((const char *)data, size, "fuzz.json", &q, small, sizeof(small));
	check_message(small, sizeof(small));
	check(rc == rc2, "same answer twice");
	if (rc < 0) {
		check(strncmp(err, small, strlen(small)) == 0, "cut message is a prefix");
		return 0;
	}
	check(probe(p, data, size) == probe(q, data, size), "same lookups twice");
	use(p);
	mh_policy_free(&p);
	mh_policy_free(&q);
	check(p == NULL && q == NULL, "free NULLs");
	return 0;
}
