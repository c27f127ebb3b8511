/*
 * fuzz_targets.c -- libFuzzer target for the target set (scanner/targets.c,
 * scanner/addr.c) and the permutation walked over it (scanner/perm.c).
 *
 * The first byte of an input picks the mode:
 *   bit 0 clear: the rest is split into lines; each goes to mh_targets_add(),
 *                or to mh_targets_exclude() when it starts with '!';
 *   bit 0 set:   the rest is a targets file read by mh_targets_add_file()
 *                (through a memfd), which exercises the line reader: long
 *                lines, NUL bytes, CR, comments; bit 2 makes it an exclude
 *                file over a fixed set;
 *   bit 1:       --allow-public.
 * The printable '0'..'7' make readable seeds. Then the set is finalized and
 * its invariants are checked: indices map to strictly increasing addresses,
 * each prints and parses back to itself, is non-public unless allowed, names
 * lists are sorted and NULL-terminated, and a permutation over the set in
 * two slices visits every index exactly once.
 *
 * No DNS, ever. This program defines getaddrinfo() and freeaddrinfo() (a
 * definition in the executable wins over libc's and over the sanitizer's
 * interceptor): names ending in ".fuzz" resolve to addresses derived from a
 * hash of the name, every other name is "not found". LLVMFuzzerInitialize()
 * checks that this resolver is the one in use before any input runs.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/target.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long resolver_calls;

struct fake_ai {
	struct addrinfo ai;
	struct sockaddr_storage ss;
};

void freeaddrinfo(struct addrinfo *ai)
{
	while (ai) {
		struct addrinfo *next = ai->ai_next;

		free(ai); /* first member of its struct fake_ai */
		ai = next;
	}
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
	struct addrinfo *head = NULL, **tail = &head;
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t len;

	(void)service;
	(void)hints;
	resolver_calls++;
	*res = NULL;
	if (!node)
		return EAI_NONAME;
	len = strlen(node);
	if (len < 5 || strcmp(node + len - 5, ".fuzz") != 0)
		return EAI_NONAME;
	for (const char *p = node; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	if ((h & 15) == 0)
		return EAI_AGAIN;
	for (unsigned i = 0, n = 1 + (h >> 4) % 3; i < n; i++, h >>= 8) {
		struct fake_ai *f = calloc(1, sizeof(*f));
		struct mh_addr a = {0};

		if (!f)
			abort();
		switch ((h >> 8) % 5) {
		case 0: /* 198.18.0.x */
		case 1:
			a.family = AF_INET;
			a.bytes[0] = 198, a.bytes[1] = 18, a.bytes[3] = (uint8_t)(h >> 16);
			break;
		case 2: /* public 8.8.8.x */
			a.family = AF_INET;
			a.bytes[0] = a.bytes[1] = a.bytes[2] = 8, a.bytes[3] = (uint8_t)(h >> 16);
			break;
		case 3: /* fd00::x */
			a.family = AF_INET6;
			a.bytes[0] = 0xfd, a.bytes[15] = (uint8_t)(h >> 16);
			break;
		default: /* fe80::x without a scope: refused as a target */
			a.family = AF_INET6;
			a.bytes[0] = 0xfe, a.bytes[1] = 0x80, a.bytes[15] = (uint8_t)(h >> 16);
			break;
		}
		f->ai.ai_addrlen = mh_addr_to_sockaddr(&a, 0, &f->ss);
		f->ai.ai_family = a.family;
		f->ai.ai_socktype = SOCK_STREAM;
		f->ai.ai_addr = (struct sockaddr *)&f->ss;
		*tail = &f->ai;
		tail = &f->ai.ai_next;
	}
	*res = head;
	return 0;
}

static int memfd = -1;
static char memfd_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mh_targets *t = NULL;
	char err[MH_ERRLEN];

	(void)argc;
	(void)argv;
	/*
	 * The resolver above must be the one targets.c calls. The probe name is
	 * "localhost" so that even the real resolver would answer it from
	 * /etc/hosts, without a packet.
	 */
	if (mh_targets_new(&t, true) < 0)
		abort();
	mh_targets_add(t, "localhost", "init", err, sizeof(err));
	mh_targets_free(&t);
	if (resolver_calls != 1) {
		fprintf(stderr, "fuzz_targets: the test resolver is not in use; refusing to run\n");
		abort();
	}
	memfd = memfd_create("fuzz_targets", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return 0;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_targets: invariant broken: %s\n", what);
		abort();
	}
}

/* Address index of t: valid, printable, parses back, allowed. */
static void check_index(const struct mh_targets *t, uint64_t i, bool allow_public,
                        struct mh_addr *a)
{
	char buf[MH_ADDR_STRLEN];
	struct mh_addr back;
	const char *const *names;

	mh_targets_get(t, i, a);
	check(a->family == AF_INET || a->family == AF_INET6, "family");
	mh_addr_format(a, buf, sizeof(buf));
	check(mh_addr_parse(buf, &back) == 0, "format parses back");
	check(mh_addr_cmp(a, &back) == 0, "format round trip");
	check(allow_public || mh_addr_is_nonpublic(a), "public address without --allow-public");
	names = mh_targets_names(t, a);
	if (names) {
		check(names[0] != NULL, "empty names list");
		for (size_t k = 1; names[k]; k++)
			check(strcmp(names[k - 1], names[k]) < 0, "names sorted and distinct");
	}
}

/* The order of a finalized set: IPv4, then IPv6 by scope, then numeric. */
static int set_order(const struct mh_addr *a, const struct mh_addr *b)
{
	if (a->family == AF_INET6 && b->family == AF_INET6 && a->scope_id != b->scope_id)
		return a->scope_id < b->scope_id ? -1 : 1;
	return mh_addr_cmp(a, b);
}

static void check_set(const struct mh_targets *t, bool allow_public, uint64_t seed)
{
	uint64_t n = mh_targets_count(t);
	struct mh_addr a, b;

	if (n == 0) {
		mh_targets_get(t, 0, &a);
		check(a.family == 0, "get past the end");
		return;
	}
	/* Ordered: exhaustively for small sets, else around sampled indices. */
	for (uint64_t k = 0, step = n <= 4096 ? 1 : n / 4096; k < n; k += step) {
		check_index(t, k, allow_public, &a);
		if (k + 1 < n) {
			check_index(t, k + 1, allow_public, &b);
			check(set_order(&a, &b) < 0, "strictly increasing");
		}
	}
	check_index(t, n - 1, allow_public, &a);
	mh_targets_get(t, n, &a);
	check(a.family == 0, "get past the end");

	/* The permutation over the set, in two slices: every index once. */
	if (n <= (1u << 16)) {
		uint8_t *seen = calloc(n, 1);
		struct mh_perm p;
		uint64_t idx, total = 0;

		check(seen != NULL, "calloc");
		check(mh_perm_init(&p, n, seed) == 0, "perm init");
		for (uint64_t s = 0; s < 2; s++) {
			struct mh_perm_iter it;

			mh_perm_iter_init(&it, &p, s, 2);
			while (mh_perm_next(&it, &idx)) {
				check(idx < n && !seen[idx], "perm index once");
				seen[idx] = 1;
				total++;
			}
		}
		check(total == n, "perm complete");
		free(seen);
	}
}

/* Feeds each line as a spec; "!spec" excludes. */
static void run_lines(struct mh_targets *t, const uint8_t *data, size_t size)
{
	char line[4200];
	char err[MH_ERRLEN];

	while (size > 0) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t len = nl ? (size_t)(nl - data) : size;

		if (len < sizeof(line)) {
			memcpy(line, data, len);
			line[len] = '\0';
			err[0] = '\0';
			if (line[0] == '!')
				mh_targets_exclude(t, line + 1, "fuzz", err, sizeof(err));
			else
				mh_targets_add(t, line, "fuzz", err, sizeof(err));
			check(memchr(err, '\0', sizeof(err)) != NULL, "error terminated");
		}
		data += nl ? len + 1 : len;
		size -= nl ? len + 1 : len;
	}
}

static void run_file(struct mh_targets *t, const uint8_t *data, size_t size, bool exclude)
{
	char err[MH_ERRLEN];

	if (ftruncate(memfd, 0) < 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	if (exclude) {
		check(mh_targets_add(t, "198.18.0.0/20", "fixed", err, sizeof(err)) == 0, "fixed");
		check(mh_targets_add(t, "fd00::/112", "fixed", err, sizeof(err)) == 0, "fixed");
	}
	err[0] = '\0';
	mh_targets_add_file(t, memfd_path, exclude, err, sizeof(err));
	check(memchr(err, '\0', sizeof(err)) != NULL, "error terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_targets *t = NULL;
	char err[MH_ERRLEN];
	bool allow_public;
	uint64_t seed = 0;

	if (size < 1)
		return 0;
	allow_public = data[0] & 2;
	for (size_t i = 0; i < size && i < 8; i++)
		seed = seed << 8 | data[i];
	if (mh_targets_new(&t, allow_public) < 0)
		abort();
	if (data[0] & 1)
		run_file(t, data + 1, size - 1, data[0] & 4);
	else
		run_lines(t, data + 1, size - 1);
	check(mh_targets_finalize(t, err, sizeof(err)) == 0, "finalize");
	check_set(t, allow_public, seed);
	mh_targets_free(&t);
	check(t == NULL, "free NULLs");
	return 0;
}
