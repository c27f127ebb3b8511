/*
 * target.h -- what to scan: addresses, the target set, and the order.
 *
 * A target set is built from specs (addresses, CIDR blocks, ranges, host
 * names, files of them), minus excludes, then finalized: sorted, merged
 * (duplicates and overlaps removed), excludes subtracted. A finalized set is
 * read-only and is shared by every worker thread; it maps an index in
 * [0, count) to an address in O(log ranges), so nothing is ever allocated
 * per target.
 *
 * The order of a sweep is a pseudo-random permutation of [0, count): the
 * multiplicative group of integers modulo a prime p > count, walked by a
 * generator g (as zmap does), values above count skipped. Its state is two
 * integers. A slice (shard) takes every nslices-th step of the walk starting
 * at step `slice`, so slices are disjoint and their union is the whole set,
 * the same for the same seed on any machine.
 */
#ifndef MAILHOLE_TARGET_H
#define MAILHOLE_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One IPv4 or IPv6 address. */
struct mh_addr {
	uint8_t family;    /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; IPv4 uses bytes[0..3], the rest is 0 */
	uint32_t scope_id; /* IPv6 link-local interface index, else 0 */
};

/* Longest text mh_addr_format() writes, NUL included ("fe80::1%ifname"). */
#define MH_ADDR_STRLEN 64

/* Parses one literal address ("198.18.0.1", "2001:db8::1", "fe80::1%eth0"). 0 or MH_EINVAL. */
int mh_addr_parse(const char *s, struct mh_addr *out);
/* Writes the canonical text of a (inet_ntop, plus %scope for link-local). */
void mh_addr_format(const struct mh_addr *a, char *buf, size_t size);
/* Fills a sockaddr for a and port; returns the length to pass to connect(). */
socklen_t mh_addr_to_sockaddr(const struct mh_addr *a, uint16_t port,
			      struct sockaddr_storage *ss);
/* From a sockaddr_in / sockaddr_in6. 0 or MH_EINVAL (other families). */
int mh_addr_from_sockaddr(const struct sockaddr *sa, struct mh_addr *out);
/* -1, 0, 1 in numeric order, IPv4 before IPv6. */
int mh_addr_cmp(const struct mh_addr *a, const struct mh_addr *b);
/* 127.0.0.0/8, ::1, and v4-mapped ::ffff:127.0.0.0/104. */
bool mh_addr_is_loopback(const struct mh_addr *a);
/*
 * True for the space mailhole scans without --allow-public: loopback,
 * RFC 1918, RFC 6598 (100.64/10), link-local (169.254/16, fe80::/10),
 * ULA (fc00::/7) and the benchmarking range 198.18.0.0/15. A v4-mapped
 * ::ffff:a.b.c.d is judged by its IPv4 address. 0.0.0.0/8, multicast and
 * broadcast count as public.
 */
bool mh_addr_is_nonpublic(const struct mh_addr *a);

/* Largest IPv6 block accepted in one spec: a /104, 2^24 addresses. */
#define MH_TARGET_V6_MAX_BITS 24

struct mh_targets;

/*
 * Creates an empty set. allow_public: accept addresses for which
 * mh_addr_is_nonpublic() is false (otherwise adding one is an error).
 */
int mh_targets_new(struct mh_targets **out, bool allow_public);
/* Frees the set and NULLs the pointer. Safe on NULL. */
void mh_targets_free(struct mh_targets **t);

/*
 * Adds one spec: an address, a CIDR block (v4 /0-/32, v6 up to
 * MH_TARGET_V6_MAX_BITS host bits), a range ("198.18.0.1-198.18.3.255",
 * "198.18.0.1-20", "2001:db8::1-2001:db8::ff") or a host name (every A and
 * AAAA record; the name is remembered for those addresses). `origin` says
 * where the spec came from for messages: "argument 2", "hosts.txt:14".
 * On error, err holds e.g. "target '999.1.2.3' (argument 2): not an
 * address, range, CIDR or resolvable name".
 */
int mh_targets_add(struct mh_targets *t, const char *spec, const char *origin, char *err,
		   size_t errlen);
/* The same forms, removed from the set at finalize time (names are resolved now). */
int mh_targets_exclude(struct mh_targets *t, const char *spec, const char *origin, char *err,
		       size_t errlen);
/*
 * Reads a file of specs: one a line, '#' starts a comment, blank lines and
 * surrounding white space ignored; origin of each is "PATH:LINE". When
 * exclude is true the specs are excludes. "-" reads standard input. On a
 * bad line, the lines before it stay added.
 */
int mh_targets_add_file(struct mh_targets *t, const char *path, bool exclude, char *err,
			size_t errlen);
/* Sorts, merges, subtracts excludes. The set is read-only afterwards. */
int mh_targets_finalize(struct mh_targets *t, char *err, size_t errlen);
/* Number of distinct addresses (after finalize). */
uint64_t mh_targets_count(const struct mh_targets *t);
/*
 * The index-th address, index < count (else family 0): numeric order, except
 * that link-local IPv6 addresses with an interface come after the others,
 * grouped by interface (the same fe80 address on two links is two hosts).
 * Thread-safe after finalize.
 */
void mh_targets_get(const struct mh_targets *t, uint64_t index, struct mh_addr *out);
/*
 * Host names that resolved to a (given as targets), as a NULL-terminated
 * array borrowed from the set, or NULL when there are none.
 */
const char *const *mh_targets_names(const struct mh_targets *t, const struct mh_addr *a);

/* The permutation of [0, n). Plain data: copy it freely. */
struct mh_perm {
	uint64_t n;     /* size of the set */
	uint64_t prime; /* smallest prime > n (at least 3) */
	uint64_t gen;   /* a generator of the multiplicative group mod prime */
	uint64_t first; /* first element of the walk, in [1, prime) */
};

/*
 * Sets up the permutation of [0, n) for seed. n may be 0 (empty walk);
 * MH_ELIMIT when n >= 2^64 - 59 (no prime above it fits).
 */
int mh_perm_init(struct mh_perm *p, uint64_t n, uint64_t seed);

/* A walk over one slice of a permutation. */
struct mh_perm_iter {
	struct mh_perm perm;
	uint64_t cur;       /* current group element */
	uint64_t step;      /* gen^nslices mod prime */
	uint64_t remaining; /* steps of the cycle left in this slice */
};

/* Starts slice `slice` (0-based) of nslices over p; empty when slice >= nslices. */
void mh_perm_iter_init(struct mh_perm_iter *it, const struct mh_perm *p, uint64_t slice,
		       uint64_t nslices);
/* Next index of the slice; false when the slice is exhausted. */
bool mh_perm_next(struct mh_perm_iter *it, uint64_t *index);

/*
 * The slice a worker takes: shard k of n (1-based, as --shard K/N), thread t
 * of nthreads. Slice (k-1) + n*t of n*nthreads: the union over threads is
 * exactly shard k whatever the thread count.
 */
void mh_shard_slice(uint64_t k, uint64_t n, uint64_t t, uint64_t nthreads, uint64_t *slice,
		    uint64_t *nslices);

/* Parses "K/N" (1 <= K <= N <= 65536). 0 or MH_EINVAL. */
int mh_shard_parse(const char *s, uint64_t *k, uint64_t *n);

#endif
