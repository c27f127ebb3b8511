/*
 * perm.c -- the order of a sweep (include/mailhole/target.h): a pseudo-random
 * permutation of [0, n) that costs two integers of state and one modular
 * multiplication per step, split into slices for shards and threads.
 *
 * As in zmap: p is the smallest prime above n, g a generator of the
 * multiplicative group Z_p^*, so x_i = first * g^i mod p for i in [0, p-1)
 * visits every element of [1, p) exactly once. Index x - 1 is emitted when it
 * is below n; the few values in [n, p-1) are skipped (primes are dense, so
 * they are at most a prime gap, under 1,600 for 64-bit numbers).
 *
 * Slice s of S takes the steps i = s, s+S, s+2S, ...: it starts at
 * first * g^s and multiplies by g^S. The slices partition the steps, so they
 * are disjoint and together cover [0, n). Shard k of N run by T threads takes
 * slices (k-1) + N*t, t in [0, T): all steps i = k-1 (mod N) whatever T is.
 *
 * Everything derives from the seed through splitmix64 and exact integer
 * arithmetic (no rand(), no time, no floating point), so the same seed gives
 * the same order on every machine; shards on different machines agree.
 */
#include "mailhole/target.h"
#include "mailhole/common.h"

#include <string.h>

typedef unsigned __int128 u128;

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	return (uint64_t)((u128)a * b % m);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
	uint64_t r = 1 % m;

	b %= m;
	while (e > 0) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

/* Miller-Rabin with the first 12 primes as bases: exact for every n < 2^64. */
static bool is_prime(uint64_t n)
{
	static const uint64_t bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
	uint64_t d = n - 1;
	unsigned s = 0;

	if (n < 2)
		return false;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		if (n % bases[i] == 0)
			return n == bases[i];
	while ((d & 1) == 0) {
		d >>= 1;
		s++;
	}
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		uint64_t x = powmod(bases[i], d, n);
		bool composite = true;

		if (x == 1 || x == n - 1)
			continue;
		for (unsigned r = 1; r < s; r++) {
			x = mulmod(x, x, n);
			if (x == n - 1) {
				composite = false;
				break;
			}
		}
		if (composite)
			return false;
	}
	return true;
}

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

/* x^2 + c mod n, without overflow when n is close to 2^64. */
static uint64_t f_rho(uint64_t x, uint64_t c, uint64_t n)
{
	return (uint64_t)(((u128)mulmod(x, x, n) + c) % n);
}

/*
 * Pollard's rho (Floyd's cycle finding) with f(x) = x^2 + c mod n, n odd,
 * composite. Returns a divisor of n, or n itself when this c failed.
 */
static uint64_t rho(uint64_t n, uint64_t c)
{
	uint64_t x = 2, y = 2, d = 1;

	while (d == 1) {
		x = f_rho(x, c, n);
		y = f_rho(f_rho(y, c, n), c, n);
		d = gcd(x > y ? x - y : y - x, n);
	}
	return d;
}

/* Distinct prime factors; a 64-bit number has at most 15. */
#define MAX_FACTORS 64

static void add_factor(uint64_t *fs, size_t *nf, uint64_t q)
{
	for (size_t i = 0; i < *nf; i++)
		if (fs[i] == q)
			return;
	if (*nf < MAX_FACTORS)
		fs[(*nf)++] = q;
}

/* n has no prime factor below 1000 here, so it is odd. */
static void factor_big(uint64_t n, uint64_t *fs, size_t *nf)
{
	uint64_t d = n;

	if (n == 1)
		return;
	if (is_prime(n)) {
		add_factor(fs, nf, n);
		return;
	}
	for (uint64_t c = 1; d == n; c++)
		d = rho(n, c % n);
	factor_big(d, fs, nf);
	factor_big(n / d, fs, nf);
}

/* The distinct prime factors of n >= 1 into fs; returns how many. */
static size_t factor(uint64_t n, uint64_t *fs)
{
	size_t nf = 0;

	for (uint64_t q = 2; q < 1000 && q * q <= n; q += q == 2 ? 1 : 2) {
		if (n % q == 0) {
			add_factor(fs, &nf, q);
			while (n % q == 0)
				n /= q;
		}
	}
	if (n > 1 && n < 1000 * 1000)
		add_factor(fs, &nf, n); /* no factor below 1000 and below 1000^2: prime */
	else
		factor_big(n, fs, &nf);
	return nf;
}

/* g generates Z_p^* when g^((p-1)/q) != 1 for every prime q dividing p-1. */
static bool is_generator(uint64_t g, uint64_t p, const uint64_t *fs, size_t nf)
{
	for (size_t i = 0; i < nf; i++)
		if (powmod(g, (p - 1) / fs[i], p) == 1)
			return false;
	return true;
}

int mh_perm_init(struct mh_perm *p, uint64_t n, uint64_t seed)
{
	uint64_t fs[MAX_FACTORS];
	uint64_t prime, gen = 0, first, state = seed;
	size_t nf;

	if (!p)
		return MH_EINVAL;
	/* The largest prime below 2^64 is 2^64 - 59. */
	if (n >= UINT64_MAX - 58)
		return MH_ELIMIT;
	prime = n < 3 ? 3 : n + 1;
	while (!is_prime(prime))
		prime++;
	nf = factor(prime - 1, fs);

	first = 1 + splitmix64(&state) % (prime - 1);
	if (prime == 3) {
		gen = 2; /* Z_3^* = {1, 2} */
	} else {
		/* Candidates in [2, p-2] from the seed; about one in four or more succeeds. */
		for (int tries = 0; tries < 1000 && gen == 0; tries++) {
			uint64_t g = 2 + splitmix64(&state) % (prime - 3);

			if (is_generator(g, prime, fs, nf))
				gen = g;
		}
		for (uint64_t g = 2; gen == 0; g++) /* never reached in practice */
			if (is_generator(g, prime, fs, nf))
				gen = g;
	}
	p->n = n;
	p->prime = prime;
	p->gen = gen;
	p->first = first;
	return 0;
}

void mh_perm_iter_init(struct mh_perm_iter *it, const struct mh_perm *p, uint64_t slice,
                       uint64_t nslices)
{
	uint64_t cycle;

	it->perm = *p;
	it->cur = 1;
	it->step = 1;
	it->remaining = 0;
	/* No slices, a slice out of range, or an uninitialized perm: an empty walk. */
	if (nslices == 0 || slice >= nslices || p->prime < 3)
		return;
	cycle = p->prime - 1; /* steps in the whole walk */
	if (slice >= cycle)
		return;
	it->remaining = (cycle - 1 - slice) / nslices + 1;
	it->cur = mulmod(p->first, powmod(p->gen, slice, p->prime), p->prime);
	it->step = powmod(p->gen, nslices, p->prime);
}

bool mh_perm_next(struct mh_perm_iter *it, uint64_t *index)
{
	const uint64_t n = it->perm.n, prime = it->perm.prime;

	while (it->remaining > 0) {
		uint64_t x = it->cur;

		it->remaining--;
		/* Below 2^32 both factors fit, so the product fits 64 bits. */
		if (prime <= UINT32_MAX)
			it->cur = x * it->step % prime;
		else
			it->cur = mulmod(x, it->step, prime);
		if (x - 1 < n) {
			*index = x - 1;
			return true;
		}
	}
	return false;
}

void mh_shard_slice(uint64_t k, uint64_t n, uint64_t t, uint64_t nthreads, uint64_t *slice,
                    uint64_t *nslices)
{
	*slice = (k - 1) + n * t;
	*nslices = n * nthreads;
}

/* Copies the decimal between s and end into buf for mh_parse_u64. */
static int parse_part(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *out)
{
	char buf[24];

	if (len == 0 || len >= sizeof(buf))
		return MH_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return mh_parse_u64(buf, min, max, out);
}

int mh_shard_parse(const char *s, uint64_t *k, uint64_t *n)
{
	const char *slash;
	uint64_t kk, nn;

	if (!s || !k || !n)
		return MH_EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return MH_EINVAL;
	if (parse_part(slash + 1, strlen(slash + 1), 1, 65536, &nn) < 0 ||
	    parse_part(s, (size_t)(slash - s), 1, nn, &kk) < 0)
		return MH_EINVAL;
	*k = kk;
	*n = nn;
	return 0;
}
