/*
 * vrfy.c -- what the answers to VRFY / EXPN mean (include/mailhole/probe_smtp.h).
 *
 * The classic mistake (nmap's smtp-enum-users) is to read one answer: a 252
 * is taken for "user exists" though it means "cannot verify, will try to
 * deliver", and a 421 for a refusal though it only means "not now". Here
 * two names are asked about, one that exists everywhere and one that
 * cannot, and only a difference between the answers counts as disclosure.
 * The reply text is looked at only to tell "command disabled" from "user
 * unknown" within the same 5xx codes.
 */
#include "mailhole/probe_smtp.h"

#include <ctype.h>
#include <string.h>

/* Case-insensitive substring search (ASCII). */
static bool contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (hay == NULL)
		return false;
	for (; *hay != '\0'; hay++) {
		size_t i = 0;

		while (i < n && hay[i] != '\0' &&
		       tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

static bool contains_any(const char *text, const char *const *phrases)
{
	for (; *phrases != NULL; phrases++) {
		if (contains(text, *phrases))
			return true;
	}
	return false;
}

/* The command itself is switched off (any MTA's wording we know of). */
static bool says_disabled(const char *text)
{
	static const char *const phrases[] = {
	    "disabled",     "not implemented", "not recognized",  "unrecognized", "not allowed",
	    "prohibit",     "not permitted",   "not supported",   "do not allow", "command refused",
	    "unknown command", NULL,
	};

	return contains_any(text, phrases);
}

/* The address does not exist there. */
static bool says_unknown_user(const char *text)
{
	static const char *const phrases[] = {
	    "unknown",        "5.1.1",       "4.1.1",      "no such",           "not found",
	    "does not exist", "unrouteable", "unroutable", "invalid recipient",
	    "mailbox unavailable", NULL,
	};

	return contains_any(text, phrases);
}

static bool is_positive(int code)
{
	return code == 250 || code == 251;
}

enum mh_vrfy_answer mh_vrfy_classify(int code_known_user, const char *text_known,
				     int code_bogus_user, const char *text_bogus)
{
	int k = code_known_user, b = code_bogus_user;
	bool bogus_unknown;

	/* 1. The command is off: no need to look at the second answer. */
	if (k == 500 || k == 502 || k == 504)
		return MH_VRFY_DISABLED;
	if (k >= 500 && k <= 599 && k != 530 && says_disabled(text_known))
		return MH_VRFY_DISABLED;
	/* 2. Not an answer to the question (4xx, 530, 503, 501, none). */
	if (!is_positive(k) && k != 252 && !(k >= 550 && k <= 559))
		return MH_VRFY_UNAVAILABLE;
	/* 3. It answers, but the name we asked about gives nothing away. */
	if (k >= 550 && k <= 559)
		return MH_VRFY_AMBIGUOUS;
	/* 4. The second question went unanswered. */
	bogus_unknown = (b == 450 || (b >= 550 && b <= 559)) && says_unknown_user(text_bogus);
	if (b == 0 || b == 530 || (b >= 400 && b <= 499 && !bogus_unknown) || b < 200 ||
	    b > 599)
		return MH_VRFY_UNAVAILABLE;
	/* 5. A difference between the two answers is the disclosure. */
	if (is_positive(k) && !is_positive(b))
		return MH_VRFY_DISCLOSES;
	if (k == 252 && bogus_unknown)
		return MH_VRFY_DISCLOSES;
	/* 6. Same answer to both (252/252, 250/250) or nothing to compare. */
	return MH_VRFY_AMBIGUOUS;
}

const char *mh_vrfy_answer_name(enum mh_vrfy_answer a)
{
	switch (a) {
	case MH_VRFY_DISCLOSES:
		return "discloses";
	case MH_VRFY_AMBIGUOUS:
		return "ambiguous";
	case MH_VRFY_DISABLED:
		return "disabled";
	case MH_VRFY_UNAVAILABLE:
		break;
	}
	return NULL;
}

void mh_vrfy_bogus_name(unsigned long long seed, char *buf, size_t size)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	/* splitmix64: any seed, including 0, gives a well-mixed name. */
	unsigned long long z = seed + 0x9e3779b97f4a7c15ULL;
	char name[17] = "mhnx";

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	for (int i = 4; i < 16; i++) {
		name[i] = alnum[z % 36];
		z /= 36;
		if (z == 0)
			z = seed ^ 0x5bd1e995ULL ^ (unsigned long long)i;
	}
	name[16] = '\0';
	if (size == 0)
		return;
	if (size > sizeof(name))
		size = sizeof(name);
	memcpy(buf, name, size - 1);
	buf[size - 1] = '\0';
}
